//! Every kernel this CPU runs, bit for bit against scalar, in every flavour: single and batch,
//! every length around lane widths and the engine's block, NaN runs, extreme magnitudes, every
//! period edge, threads, and chunked streaming against one-shot.

use crate::common::*;
use trendflex_core::{
    Extremes, Flavor, Kernel, Series, TrendflexBatchStream, TrendflexStream,
    trendflex_batch_into_with_flavor,
};

/// Inputs that reach the tails, alignments and special values.
fn shapes(n: usize, seed: u64) -> Vec<(&'static str, Vec<f64>)> {
    let walk = random_walk(n, seed);
    let mut leading = walk.clone();
    leading[..n.min(13)].fill(f64::NAN);
    let mut interior = walk.clone();
    if n > 40 {
        interior[n / 2..n / 2 + 3].fill(f64::NAN);
    }
    vec![
        ("walk", walk.clone()),
        ("leading NaN", leading),
        ("interior NaN run", interior),
        ("constant", vec![3.25; n]),
        ("1e300", walk.iter().map(|v| v * 1e298).collect()),
        ("1e-300", walk.iter().map(|v| v * 1e-302).collect()),
        (
            "alternating",
            (0..n)
                .map(|i| if i % 2 == 0 { 1.0 } else { -1.0 })
                .collect(),
        ),
    ]
}

fn try_single(x: &[f64], period: usize, kernel: Kernel, flavor: Flavor) -> Option<Vec<f64>> {
    let mut out = vec![0.0; x.len()];
    trendflex_core::trendflex_into_with_flavor(x, period, kernel, flavor, &mut out)
        .ok()
        .map(|_| out)
}

#[test]
fn single_every_kernel_equals_scalar_over_lengths_and_periods() {
    let lengths: Vec<usize> = (0..=80)
        .chain([127, 128, 129, 511, 512, 513, 1023, 1024, 1025, 1537, 10_007])
        .collect();
    let mut checked = 0;
    for (kernel, flavor) in kernels_and_flavours() {
        for &n in &lengths {
            for (name, x) in shapes(n, n as u64) {
                for period in [
                    2,
                    3,
                    4,
                    5,
                    7,
                    8,
                    9,
                    16,
                    20,
                    33,
                    n.saturating_sub(14),
                    n.saturating_sub(1),
                ] {
                    let want = try_single(&x, period, Kernel::Scalar, flavor);
                    let got = try_single(&x, period, kernel, flavor);
                    let what = format!("{kernel} {flavor} {name} n={n} L={period}");
                    match (&got, &want) {
                        (Some(g), Some(w)) => {
                            assert_same(g, w, &what);
                            checked += 1;
                        }
                        (None, None) => {}
                        _ => panic!("{what}: error mismatch"),
                    }
                }
            }
        }
    }
    assert!(checked > 2000, "only {checked} comparisons ran");
}

/// Every kernel this CPU runs, each in every flavour.
fn kernels_and_flavours() -> Vec<(Kernel, Flavor)> {
    kernels()
        .into_iter()
        .flat_map(|k| Flavor::ALL.map(|f| (k, f)))
        .collect()
}

fn batch(x: &[f64], periods: &[usize], kernel: Kernel, flavor: Flavor, threads: usize) -> Vec<f64> {
    let mut out = vec![0.0; x.len() * periods.len()];
    trendflex_batch_into_with_flavor(x, periods, kernel, flavor, threads, &mut out).unwrap();
    out
}

#[test]
fn batch_rows_equal_scalar_single_runs_on_the_whole_grid() {
    let grid: Vec<usize> = (5..=231).collect();
    for (kernel, flavor) in kernels_and_flavours() {
        for (name, x) in shapes(1500, 77) {
            let got = batch(&x, &grid, kernel, flavor, 0);
            for (r, &p) in grid.iter().enumerate() {
                let want = single_in(flavor, &x, p, Kernel::Scalar);
                assert_same(
                    &got[r * x.len()..][..x.len()],
                    &want,
                    &format!("{kernel} {flavor} batch {name} row {r} (L={p})"),
                );
            }
        }
    }
}

#[test]
fn batch_edge_shapes_every_kernel() {
    // Period lists that leave partial lane groups, repeat, go out of order, reach m - 1.
    let lists: [&[usize]; 7] = [
        &[2],
        &[2, 3],
        &[3, 2, 9],
        &[20, 20, 20, 20, 20],
        &[5, 6, 7, 8, 9, 10, 11, 12, 13],
        &[60, 2, 59, 3, 4],
        &[2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18],
    ];
    for (kernel, flavor) in kernels_and_flavours() {
        for n in [19, 20, 21, 61, 64, 65, 511, 512, 513, 1030] {
            for (name, x) in shapes(n, n as u64 + 1000) {
                let mut lists: Vec<Vec<usize>> = lists.iter().map(|l| l.to_vec()).collect();
                lists.push(vec![n - 1, 2, n - 2]);
                for periods in lists {
                    if periods.iter().any(|&p| p + 14 >= n) && name == "leading NaN" {
                        continue; // not enough valid prices; errors are tested elsewhere
                    }
                    if periods.iter().any(|&p| p >= n) {
                        continue;
                    }
                    let got = batch(&x, &periods, kernel, flavor, 1);
                    for (r, &p) in periods.iter().enumerate() {
                        let want = single_in(flavor, &x, p, Kernel::Scalar);
                        assert_same(
                            &got[r * n..][..n],
                            &want,
                            &format!("{kernel} {flavor} {name} n={n} periods={periods:?} row {r}"),
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn thread_counts_do_not_change_a_bit() {
    let x = random_walk(3000, 11);
    let grid: Vec<usize> = (5..=64).collect();
    for (kernel, flavor) in kernels_and_flavours() {
        let one = batch(&x, &grid, kernel, flavor, 1);
        for threads in [0, 2, 3, 5] {
            assert_same(
                &batch(&x, &grid, kernel, flavor, threads),
                &one,
                &format!("{kernel} {flavor} threads={threads}"),
            );
        }
    }
}

#[test]
fn streaming_equals_one_shot_for_any_chunking() {
    let mut x = random_walk(2100, 12);
    x[..5].fill(f64::NAN);
    let grid = [2, 5, 20, 21, 100, 231];
    for (kernel, flavor) in kernels_and_flavours() {
        let want_batch = batch(&x, &grid, kernel, flavor, 0);
        for chunk in [1, 2, 3, 7, 64, 511, 512, 513, 2100] {
            for &p in &grid {
                let want = single_in(flavor, &x, p, Kernel::Scalar);
                let mut s = TrendflexStream::with_flavor(p, kernel, flavor).unwrap();
                let mut got = vec![0.0; x.len()];
                for (xs, os) in x.chunks(chunk).zip(got.chunks_mut(chunk)) {
                    s.push(xs, os).unwrap();
                }
                s.finish().unwrap();
                assert_same(
                    &got,
                    &want,
                    &format!("{kernel} {flavor} stream L={p} chunk={chunk}"),
                );
            }
            let mut b = TrendflexBatchStream::with_flavor(&grid, kernel, flavor, 2).unwrap();
            let mut got = vec![0.0; want_batch.len()];
            let mut buf = vec![0.0; grid.len() * chunk];
            for (c, xs) in x.chunks(chunk).enumerate() {
                let out = &mut buf[..grid.len() * xs.len()];
                b.push(xs, out).unwrap();
                for r in 0..grid.len() {
                    got[r * x.len() + c * chunk..][..xs.len()]
                        .copy_from_slice(&out[r * xs.len()..][..xs.len()]);
                }
            }
            b.finish().unwrap();
            assert_same(
                &got,
                &want_batch,
                &format!("{kernel} {flavor} batch stream chunk={chunk}"),
            );
        }
    }
}

/// Extremes taken as each kernel writes a chunk equal those read from the chunk afterwards, by
/// total order over each period's span (NaN included in the spans: an interior NaN run).
#[test]
fn extremes_taken_while_computing_equal_those_of_the_rows_written() {
    let periods: Vec<usize> = (5..=30).collect();
    let key = |e: &Extremes| (e.range().map(|(a, b)| (a.to_bits(), b.to_bits())), e.nans());
    for kernel in kernels() {
        for (name, x) in shapes(700, 11) {
            for threads in [1, 2] {
                let mut s = Series::new(&periods, kernel, Flavor::VectorTa, threads, None).unwrap();
                for (c, chunk) in x.chunks(250).enumerate() {
                    let n = chunk.len();
                    // Spans of every kind: whole, empty, a head cut, a tail cut.
                    let spans: Vec<(usize, usize)> = (0..periods.len())
                        .map(|r| match (r + c) % 4 {
                            0 => (0, n),
                            1 => (n / 2, n / 2),
                            2 => (n / 3, n),
                            _ => (0, n - n / 4),
                        })
                        .collect();
                    let mut out = vec![0.0; n * periods.len()];
                    let mut got = vec![Extremes::new(); periods.len()];
                    s.push_extremes(chunk, &mut out, &spans, &mut got).unwrap();
                    for (r, &(from, to)) in spans.iter().enumerate() {
                        // By total order over the numbers (or over the NaN, if only NaN).
                        let span = &out[r * n + from..r * n + to];
                        let real: Vec<f64> = span.iter().copied().filter(|v| !v.is_nan()).collect();
                        let over = if real.is_empty() { span } else { &real[..] };
                        let range = over.iter().copied().min_by(f64::total_cmp).map(|lo| {
                            let hi = over.iter().copied().max_by(f64::total_cmp).unwrap();
                            (lo.to_bits(), hi.to_bits())
                        });
                        let nans = (!span.is_empty()).then_some((span.len() - real.len()) as u64);
                        assert_eq!(
                            key(&got[r]),
                            (range, nans),
                            "{kernel:?} {name} threads {threads} chunk {c} period {}",
                            periods[r]
                        );
                    }
                }
            }
        }
    }
}
