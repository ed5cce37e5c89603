//! Every row of the error table, for single, batch and the streams, and nothing written on error.

use crate::common;
use trendflex_core::*;

fn single_err(prices: &[f64], period: usize) -> Error {
    let mut out = vec![7.0; prices.len()];
    let e = trendflex_into(prices, period, Kernel::Scalar, &mut out).unwrap_err();
    assert!(out.iter().all(|&v| v == 7.0), "output written despite {e}");
    e
}

fn batch_err(prices: &[f64], periods: &[usize]) -> Error {
    let mut out = vec![7.0; prices.len() * periods.len()];
    let e = trendflex_batch_into(prices, periods, Kernel::Auto, 0, &mut out).unwrap_err();
    assert!(out.iter().all(|&v| v == 7.0), "output written despite {e}");
    e
}

#[test]
fn single_errors() {
    assert_eq!(single_err(&[], 20), Error::EmptyInput);
    assert_eq!(
        single_err(&[1.0, 2.0, 3.0], 1),
        Error::PeriodTooSmall { period: 1 }
    );
    assert_eq!(
        single_err(&[1.0, 2.0, 3.0], 0),
        Error::PeriodTooSmall { period: 0 }
    );
    assert_eq!(single_err(&[f64::NAN; 5], 2), Error::NoValidPrices);
    // m <= L: 3 valid prices cannot feed period 3; 4 can.
    assert_eq!(
        single_err(&[f64::NAN, 1.0, 2.0, 3.0], 3),
        Error::NotEnoughData {
            period: 3,
            valid: 3
        }
    );
    let mut out = [0.0; 5];
    trendflex_into(&[f64::NAN, 1.0, 2.0, 3.0, 4.0], 3, Kernel::Scalar, &mut out).unwrap();
    assert_eq!(
        trendflex_into(&[1.0, 2.0, 3.0], 2, Kernel::Scalar, &mut [0.0; 2]).unwrap_err(),
        Error::OutputLength {
            expected: 3,
            actual: 2
        }
    );
}

#[test]
fn batch_errors_name_the_first_failing_period() {
    let x = [1.0, 2.0, 3.0, 4.0, 5.0];
    assert_eq!(batch_err(&[], &[2]), Error::EmptyInput);
    assert_eq!(batch_err(&x, &[]), Error::EmptyPeriods);
    assert_eq!(
        batch_err(&x, &[2, 1, 0]),
        Error::PeriodTooSmall { period: 1 }
    );
    assert_eq!(batch_err(&[f64::NAN; 5], &[2]), Error::NoValidPrices);
    assert_eq!(
        batch_err(&x, &[2, 6, 5]),
        Error::NotEnoughData {
            period: 6,
            valid: 5
        }
    );
    assert_eq!(
        trendflex_batch_into(&x, &[2, 3], Kernel::Scalar, 1, &mut [0.0; 9]).unwrap_err(),
        Error::OutputLength {
            expected: 10,
            actual: 9
        }
    );
}

#[test]
fn streams_report_data_errors_at_finish() {
    let mut s = TrendflexStream::new(3, Kernel::Scalar).unwrap();
    assert_eq!(s.finish().unwrap_err(), Error::EmptyInput);
    s.push(&[f64::NAN, f64::NAN], &mut [0.0; 2]).unwrap();
    assert_eq!(s.finish().unwrap_err(), Error::NoValidPrices);
    s.push(&[1.0, 2.0, 3.0], &mut [0.0; 3]).unwrap();
    assert_eq!(
        s.finish().unwrap_err(),
        Error::NotEnoughData {
            period: 3,
            valid: 3
        }
    );
    s.push(&[4.0], &mut [0.0; 1]).unwrap();
    s.finish().unwrap();
    assert_eq!(
        s.push(&[1.0], &mut []).unwrap_err(),
        Error::OutputLength {
            expected: 1,
            actual: 0
        }
    );

    assert_eq!(
        TrendflexStream::new(1, Kernel::Auto).unwrap_err(),
        Error::PeriodTooSmall { period: 1 }
    );
    assert_eq!(
        TrendflexBatchStream::new(&[], Kernel::Auto, 0).err(),
        Some(Error::EmptyPeriods)
    );
    let mut b = TrendflexBatchStream::new(&[2, 4, 3], Kernel::Auto, 1).unwrap();
    b.push(&[1.0, 2.0, 3.0, 4.0], &mut [0.0; 12]).unwrap();
    assert_eq!(
        b.finish().unwrap_err(),
        Error::NotEnoughData {
            period: 4,
            valid: 4
        }
    );
    assert!(matches!(
        b.push(&[1.0], &mut [0.0; 2]),
        Err(Error::OutputLength {
            expected: 3,
            actual: 2
        })
    ));
}

#[test]
fn messages_say_what_to_do() {
    let cases = [
        (Error::EmptyInput, "empty input"),
        (
            Error::PeriodTooSmall { period: 1 },
            "period must be at least 2, got 1",
        ),
        (Error::NoValidPrices, "no valid prices"),
        (
            Error::NotEnoughData {
                period: 20,
                valid: 7,
            },
            "period 20 needs at least 21 valid prices, input has 7",
        ),
        (
            Error::OutputLength {
                expected: 10,
                actual: 9,
            },
            "holds 9 values, expected exactly 10",
        ),
        (Error::EmptyPeriods, "give at least one period"),
    ];
    for (e, text) in cases {
        assert!(e.to_string().contains(text), "{e}");
    }
}

#[test]
fn explicit_kernels_the_cpu_lacks_are_refused_with_the_feature() {
    for k in [Kernel::Avx2, Kernel::Avx512] {
        if let Some(f) = missing_feature(k) {
            let e = TrendflexStream::new(20, k).unwrap_err();
            assert_eq!(
                e,
                Error::KernelUnavailable {
                    kernel: k,
                    missing: f
                }
            );
            assert!(e.to_string().contains(f));
        }
    }
}

#[test]
fn huge_periods_are_refused_without_allocating_for_them() {
    // A ring or history sized by the period up front would try to allocate tens of gigabytes.
    let x = [1.0, 2.0, 3.0, 4.0, 5.0];
    let mut out = [0.0; 5];
    let huge = 4_000_000_000;
    assert_eq!(
        trendflex_into(&x, huge, Kernel::Auto, &mut out),
        Err(Error::NotEnoughData {
            period: huge,
            valid: 5
        })
    );
    let mut big = vec![0.0; 10];
    assert_eq!(
        trendflex_batch_into(&x, &[2, huge], Kernel::Auto, 0, &mut big),
        Err(Error::NotEnoughData {
            period: huge,
            valid: 5
        })
    );
    for kernel in common::kernels() {
        let mut s = TrendflexStream::new(huge, kernel).unwrap();
        s.push(&x, &mut out).unwrap();
        assert_eq!(
            s.finish(),
            Err(Error::NotEnoughData {
                period: huge,
                valid: 5
            })
        );
        let mut b = TrendflexBatchStream::new(&[3, huge], kernel, 1).unwrap();
        b.push(&x, &mut big).unwrap();
        assert_eq!(
            b.finish(),
            Err(Error::NotEnoughData {
                period: huge,
                valid: 5
            })
        );
    }
}
