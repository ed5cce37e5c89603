//! Property tests: random series (with NaN runs), periods, chunkings, thread counts, kernels and
//! flavours all give the scalar one-shot bits of their flavour.

use crate::common::*;
use proptest::prelude::*;
use trendflex_core::{Flavor, Kernel, TrendflexBatchStream, TrendflexStream};

fn series() -> impl Strategy<Value = Vec<f64>> {
    (
        prop::collection::vec(-3.0f64..3.0, 3..600),
        0usize..20,
        prop::option::of((0usize..600, 1usize..5)),
    )
        .prop_map(|(steps, lead, gap)| {
            let mut p = 50.0;
            let mut x: Vec<f64> = steps
                .iter()
                .map(|d| {
                    p += d;
                    p
                })
                .collect();
            let lead = lead.min(x.len());
            x[..lead].fill(f64::NAN);
            if let Some((at, len)) = gap {
                let at = at % x.len();
                let end = (at + len).min(x.len());
                x[at..end].fill(f64::NAN);
            }
            x
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn chunked_single_equals_scalar(x in series(), period in 2usize..60, chunks in prop::collection::vec(1usize..90, 1..20), k in 0usize..3, f in 0usize..2) {
        let kernels = kernels();
        let kernel = kernels[k % kernels.len()];
        let flavor = Flavor::ALL[f];
        let mut want = vec![0.0; x.len()];
        let mut s = TrendflexStream::with_flavor(period, Kernel::Scalar, flavor).unwrap();
        s.push(&x, &mut want).unwrap();
        let mut got = vec![0.0; x.len()];
        let mut s = TrendflexStream::with_flavor(period, kernel, flavor).unwrap();
        let mut at = 0;
        for c in chunks.iter().cycle() {
            if at >= x.len() { break; }
            let end = (at + c).min(x.len());
            s.push(&x[at..end], &mut got[at..end]).unwrap();
            at = end;
        }
        prop_assert!((0..x.len()).all(|i| same(got[i], want[i])), "{kernel} {flavor} L={period}");
    }

    #[test]
    fn chunked_batch_equals_scalar(x in series(), periods in prop::collection::vec(2usize..70, 1..12), chunk in 1usize..200, threads in 0usize..4, k in 0usize..3, f in 0usize..2) {
        let kernels = kernels();
        let kernel = kernels[k % kernels.len()];
        let flavor = Flavor::ALL[f];
        let n = x.len();
        let mut b = TrendflexBatchStream::with_flavor(&periods, kernel, flavor, threads).unwrap();
        let mut got = vec![0.0; n * periods.len()];
        for (c, xs) in x.chunks(chunk).enumerate() {
            b.push_strided(xs, &mut got[c * chunk..], n).unwrap();
        }
        for (r, &p) in periods.iter().enumerate() {
            let mut want = vec![0.0; n];
            TrendflexStream::with_flavor(p, Kernel::Scalar, flavor).unwrap().push(&x, &mut want).unwrap();
            prop_assert!((0..n).all(|i| same(got[r * n + i], want[i])), "{kernel} {flavor} row {r} L={p}");
        }
    }
}
