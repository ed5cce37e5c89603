//! The scalar kernel against the definition: a naive oracle and VectorTA's parity vectors; the
//! `ehlers` flavour against its own oracle (Ehlers' EasyLanguage lines) and parity vector.

use crate::common::*;
use trendflex_core::{Flavor, Kernel, trendflex_batch_into_with_flavor, trendflex_into};

#[test]
fn scalar_matches_the_naive_oracle_on_random_walks() {
    for (seed, n) in [(1, 300), (2, 1000), (3, 5000)] {
        let x = random_walk(n, seed);
        for period in [2, 3, 4, 5, 10, 20, 21, 50, 99, n / 2, n - 1] {
            let got = single(&x, period, Kernel::Scalar);
            let want = oracle(&x, period);
            for i in 0..n {
                assert_eq!(
                    got[i].is_nan(),
                    want[i].is_nan(),
                    "seed {seed} L={period} i={i}"
                );
                if !want[i].is_nan() {
                    assert!(
                        (got[i] - want[i]).abs() <= 1e-9,
                        "seed {seed} L={period} i={i}: {} vs {}",
                        got[i],
                        want[i]
                    );
                }
            }
        }
    }
}

#[test]
fn scalar_matches_the_oracle_with_leading_nans() {
    let mut x = random_walk(400, 9);
    x[..37].fill(f64::NAN);
    for period in [2, 7, 20, 362] {
        let got = single(&x, period, Kernel::Scalar);
        let want = oracle(&x, period);
        assert!(
            got[..37 + period].iter().all(|v| v.is_nan()),
            "L={period}: warm-up is missing"
        );
        for i in 37 + period..400 {
            assert!((got[i] - want[i]).abs() <= 1e-9, "L={period} i={i}");
        }
    }
}

#[test]
fn first_output_is_plus_or_minus_five_or_zero() {
    // At i = L, MS = 0.04 * mysum^2 (one rounding), so mysum / sqrt(MS) is +-5 up to rounding
    // (the fixture's period 20 gives -4.999999999999999; the parity file's gives exactly -5).
    for seed in 1..50 {
        let x = random_walk(100, seed);
        let got = single(&x, 10, Kernel::Scalar);
        assert!(
            (got[10].abs() - 5.0).abs() <= 4.0 * f64::EPSILON * 5.0,
            "seed {seed}: {}",
            got[10]
        );
    }
    // Constant prices: the smoother settles, mysum = 0, MS = 0, output exactly 0 (not NaN).
    let flat = vec![42.0; 60];
    let got = single(&flat, 10, Kernel::Scalar);
    assert!(
        got[10..].iter().all(|&v| v == 0.0 && v.is_sign_positive()),
        "{:?}",
        &got[10..]
    );
}

#[test]
fn interior_nan_poisons_everything_after_it() {
    let mut x = random_walk(200, 5);
    x[120] = f64::NAN;
    let got = single(&x, 20, Kernel::Scalar);
    assert!(got[20..120].iter().all(|v| v.is_finite()));
    assert!(got[120..].iter().all(|v| v.is_nan()));
}

#[test]
fn parity_vectors_of_vectorta() {
    let close = parity_closes();
    assert_eq!(close.len(), 15_577);
    let mut out = vec![0.0; close.len()];
    trendflex_into(&close, 20, Kernel::Scalar, &mut out).unwrap();
    assert!(
        out[..20].iter().all(|v| v.is_nan()),
        "indices 0..19 must be missing"
    );
    assert_eq!(out[20], -5.0, "index 20");
    let want = [
        -0.19724678008015128,
        -0.1238001236481444,
        -0.10515389737087717,
        -0.1149541079904878,
        -0.16006869484450567,
    ];
    for (i, w) in want.iter().enumerate() {
        let got = out[15_572 + i];
        assert!(
            (got - w).abs() < 1e-12,
            "index {}: {got} vs {w}",
            15_572 + i
        );
    }
}

/// Largest `|got - want|` and `|got - want| / |want|` where `want` has a value; missing where
/// `want` is missing.
#[track_caller]
fn compare(got: &[f64], want: &[f64], what: &str) -> (f64, f64) {
    let (mut abs, mut rel) = (0.0f64, 0.0f64);
    for i in 0..want.len() {
        assert_eq!(
            got[i].is_nan(),
            want[i].is_nan(),
            "{what} i={i}: {} vs {}",
            got[i],
            want[i]
        );
        if !want[i].is_nan() {
            let d = (got[i] - want[i]).abs();
            abs = abs.max(d);
            if want[i] != 0.0 {
                rel = rel.max(d / want[i].abs());
            }
            assert!(
                d <= 1e-9 * want[i].abs().max(1.0),
                "{what} i={i}: {} vs {}",
                got[i],
                want[i]
            );
        }
    }
    (abs, rel)
}

#[test]
fn ehlers_scalar_matches_the_easylanguage_oracle_for_periods_2_to_256() {
    let (mut abs, mut rel) = (0.0f64, 0.0f64);
    for (seed, n) in [(21, 700), (22, 1500)] {
        let mut x = random_walk(n, seed);
        if seed == 22 {
            x[..11].fill(f64::NAN);
        }
        for period in 2..=256 {
            let got = single_in(Flavor::Ehlers, &x, period, Kernel::Scalar);
            let (a, r) = compare(
                &got,
                &ehlers_oracle(&x, period),
                &format!("seed {seed} L={period}"),
            );
            (abs, rel) = (abs.max(a), rel.max(r));
        }
    }
    eprintln!("ehlers scalar vs oracle, periods 2..=256: max abs {abs:.2e}, max rel {rel:.2e}");
}

#[test]
fn ehlers_parity_vector_on_every_kernel() {
    let x = ehlers_parity_input();
    let want = [
        (20, 5.0),
        (21, 2.59437514463),
        (30, -1.92136551753),
        (100, 1.20958726714),
        (250, -1.33902612346),
        (499, 0.807053922186),
    ];
    let oracle = ehlers_oracle(&x, 20);
    for kernel in kernels() {
        let mut batch = vec![0.0; 3 * x.len()];
        trendflex_batch_into_with_flavor(&x, &[7, 20, 21], kernel, Flavor::Ehlers, 0, &mut batch)
            .unwrap();
        let single = single_in(Flavor::Ehlers, &x, 20, kernel);
        for got in [&single[..], &batch[x.len()..2 * x.len()]] {
            assert!(got[..20].iter().all(|v| v.is_nan()), "{kernel}: warm-up");
            for &(i, w) in &want {
                assert!(
                    ((got[i] - w) / w).abs() <= 1e-9,
                    "{kernel} index {i}: {} vs {w}",
                    got[i]
                );
                assert!(((oracle[i] - w) / w).abs() <= 1e-9, "oracle index {i}");
            }
        }
    }
}

#[test]
fn ehlers_first_output_is_plus_or_minus_five_and_gaps_poison() {
    for seed in 1..50 {
        let x = random_walk(100, seed);
        let got = single_in(Flavor::Ehlers, &x, 10, Kernel::Scalar);
        assert!(got[..10].iter().all(|v| v.is_nan()));
        assert!(
            (got[10].abs() - 5.0).abs() <= 4.0 * f64::EPSILON * 5.0,
            "seed {seed}: {}",
            got[10]
        );
    }
    let mut x = random_walk(200, 5);
    x[120] = f64::NAN;
    let got = single_in(Flavor::Ehlers, &x, 20, Kernel::Scalar);
    assert!(got[20..120].iter().all(|v| v.is_finite()));
    assert!(got[120..].iter().all(|v| v.is_nan()));
}

#[test]
fn flavours_differ_for_odd_periods_and_nearly_agree_late_for_even_ones() {
    let x = random_walk(3000, 8);
    for (period, far) in [(20, false), (21, true), (5, true), (64, false)] {
        let a = single_in(Flavor::VectorTa, &x, period, Kernel::Scalar);
        let b = single_in(Flavor::Ehlers, &x, period, Kernel::Scalar);
        let late = (2000..3000)
            .map(|i| (a[i] - b[i]).abs())
            .fold(0.0, f64::max);
        // Even L differ only by 3.14159 against pi (~1e-6 here); odd L by a whole smoother.
        assert_eq!(late > 1e-4, far, "L={period}: late difference {late:e}");
        assert!(far || late < 1e-5, "L={period}: late difference {late:e}");
    }
}
