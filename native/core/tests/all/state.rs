//! Saved state: a stream saved at any row and resumed (by any kernel, in any flavour, in chunks of
//! any size) gives for the rest of the series exactly what one scalar run over all of it gives
//! (the scalar kernel is checked against the definition's oracle in `definition`); bytes that are
//! not such a state are refused, never a panic.

use crate::common::*;
use trendflex_core::{Error, Flavor, Kernel, StateError, TrendflexBatchStream, TrendflexStream};

/// A walk with leading NaNs and an interior NaN run (every later output NaN: the state carries
/// that too).
fn series(n: usize, seed: u64, gap: bool) -> Vec<f64> {
    let mut x = random_walk(n, seed);
    x[..5].fill(f64::NAN);
    if gap {
        x[n * 3 / 4..n * 3 / 4 + 2].fill(f64::NAN);
    }
    x
}

/// Feeds `x` cut at `cuts` (row positions) into streams of `kernels[k]` in turn, each resumed from
/// the last one's saved state, in chunks of `chunk`.
fn batch_in_pieces(
    x: &[f64],
    periods: &[usize],
    flavor: Flavor,
    cuts: &[usize],
    kernels: &[trendflex_core::Kernel],
    chunk: usize,
    threads: usize,
) -> Vec<Vec<f64>> {
    let mut rows = vec![Vec::with_capacity(x.len()); periods.len()];
    let mut saved: Option<Vec<u8>> = None;
    let mut bounds = vec![0];
    bounds.extend_from_slice(cuts);
    bounds.push(x.len());
    for (piece, w) in bounds.windows(2).enumerate() {
        let kernel = kernels[piece % kernels.len()];
        let mut s = match &saved {
            None => TrendflexBatchStream::with_flavor(periods, kernel, flavor, threads).unwrap(),
            Some(b) => TrendflexBatchStream::resume(periods, kernel, flavor, threads, b).unwrap(),
        };
        for part in x[w[0]..w[1]].chunks(chunk.max(1)) {
            let mut out = vec![0.0; part.len() * periods.len()];
            s.push(part, &mut out).unwrap();
            for (r, row) in rows.iter_mut().enumerate() {
                row.extend_from_slice(&out[r * part.len()..][..part.len()]);
            }
        }
        saved = Some(s.save_state());
    }
    rows
}

#[test]
fn batch_resumed_anywhere_equals_one_run_for_every_kernel_and_flavour() {
    let periods = [2, 3, 5, 8, 9, 20, 21, 33, 64, 100, 101];
    let kernels = kernels();
    let mut rng = Rng::new(17);
    for flavor in Flavor::ALL {
        for gap in [false, true] {
            let x = series(900, 3 + gap as u64, gap);
            let want: Vec<Vec<f64>> = periods
                .iter()
                .map(|&p| single_in(flavor, &x, p, Kernel::Scalar))
                .collect();
            // Cuts: inside the leading NaNs, inside every warm-up, right at a period's edge, around
            // the engine's vector blocks, after the gap; and random ones, 3-way too.
            let mut cutsets: Vec<Vec<usize>> =
                [0, 1, 3, 5, 6, 7, 9, 25, 26, 106, 107, 300, 512, 700, 899]
                    .iter()
                    .map(|&c| vec![c])
                    .collect();
            for _ in 0..12 {
                let mut c = vec![
                    1 + (rng.next_u64() % 898) as usize,
                    1 + (rng.next_u64() % 898) as usize,
                ];
                c.sort();
                cutsets.push(c);
            }
            for cuts in &cutsets {
                for (i, &kernel) in kernels.iter().enumerate() {
                    // Each piece by another kernel than the last: a state made by one, resumed by the next.
                    let order: Vec<_> = kernels
                        .iter()
                        .cycle()
                        .skip(i)
                        .take(kernels.len())
                        .copied()
                        .collect();
                    let chunk = [1, 7, 64, 1000][i % 4];
                    let got = batch_in_pieces(&x, &periods, flavor, cuts, &order, chunk, 1 + i % 2);
                    for (r, &p) in periods.iter().enumerate() {
                        assert_same(
                            &got[r],
                            &want[r],
                            &format!(
                                "{flavor} gap={gap} L={p} cuts={cuts:?} first kernel {kernel}"
                            ),
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn single_resumed_anywhere_equals_one_run() {
    for flavor in Flavor::ALL {
        let x = series(500, 9, true);
        for period in [2, 7, 20, 64] {
            let want = single_in(flavor, &x, period, Kernel::Scalar);
            for cut in [
                0,
                3,
                5,
                6,
                period + 4,
                period + 5,
                period + 6,
                250,
                374,
                376,
                499,
                500,
            ] {
                for (k1, k2) in kernels().into_iter().zip(kernels().into_iter().rev()) {
                    let mut a = TrendflexStream::with_flavor(period, k1, flavor).unwrap();
                    let mut got = vec![0.0; x.len()];
                    a.push(&x[..cut], &mut got[..cut]).unwrap();
                    let mut b =
                        TrendflexStream::resume(period, k2, flavor, &a.save_state()).unwrap();
                    for (p, o) in x[cut..].chunks(9).zip(got[cut..].chunks_mut(9)) {
                        b.push(p, o).unwrap();
                    }
                    b.finish().unwrap();
                    assert_same(
                        &got,
                        &want,
                        &format!("{flavor} L={period} cut={cut} {k1}->{k2}"),
                    );
                }
            }
        }
    }
}

#[test]
fn finish_counts_the_rows_before_the_save_too() {
    // 3 valid prices, then 2 more after a resume: period 4 has 5 > 4 valid prices, so it is fine;
    // period 5 is not, and the error counts all five.
    let x = [1.0, 2.0, 3.0, 4.0, 5.0];
    for (period, ok) in [(4, true), (5, false)] {
        let mut a = TrendflexStream::new(period, trendflex_core::Kernel::Scalar).unwrap();
        a.push(&x[..3], &mut [0.0; 3]).unwrap();
        let mut b = TrendflexStream::resume(
            period,
            trendflex_core::Kernel::Auto,
            Flavor::VectorTa,
            &a.save_state(),
        )
        .unwrap();
        b.push(&x[3..], &mut [0.0; 2]).unwrap();
        assert_eq!(b.finish().is_ok(), ok, "L={period}");
        if !ok {
            assert_eq!(b.finish(), Err(Error::NotEnoughData { period, valid: 5 }));
        }
    }
}

fn saved_batch(periods: &[usize], flavor: Flavor, n: usize) -> Vec<u8> {
    let x = random_walk(n, 5);
    let mut s = TrendflexBatchStream::with_flavor(periods, trendflex_core::Kernel::Auto, flavor, 1)
        .unwrap();
    s.push(&x, &mut vec![0.0; n * periods.len()]).unwrap();
    s.save_state()
}

#[test]
fn a_state_holds_what_exactness_needs_and_no_more() {
    // 5:231: the last 231 prices; the first two smoothed values of each smoother's window (114
    // smoothers: 2k-1 and 2k share one); W and MS per period; the periods; a fixed header and CRC.
    let grid: Vec<usize> = (5..=231).collect();
    let exact = |smoothers: usize, kept: usize| {
        8 + 4 + 4 + 4 + 227 * 4 + 16 + 4 + kept * 8 + smoothers * 16 + 227 * 16 + 4
    };
    let size = saved_batch(&grid, Flavor::VectorTa, 2000).len();
    println!("state of 5:231 after 2,000 prices: {size} bytes (vectorta)");
    assert_eq!(size, exact(114, 231));
    let ehlers = saved_batch(&grid, Flavor::Ehlers, 2000).len();
    println!("state of 5:231 after 2,000 prices: {ehlers} bytes (ehlers)");
    assert_eq!(
        ehlers,
        exact(227, 231),
        "ehlers: every period its own smoother"
    );
    // In warm-up, only the prices seen so far.
    assert_eq!(
        saved_batch(&grid, Flavor::VectorTa, 10).len(),
        exact(114, 10)
    );
}

#[test]
fn bytes_that_are_not_this_streams_state_are_refused() {
    let periods = [5, 10, 20];
    let good = saved_batch(&periods, Flavor::VectorTa, 300);
    let resume = |b: &[u8], periods: &[usize], flavor: Flavor| {
        TrendflexBatchStream::resume(periods, trendflex_core::Kernel::Auto, flavor, 1, b)
            .map(|_| ())
    };
    assert_eq!(resume(&good, &periods, Flavor::VectorTa), Ok(()));

    let mismatch = |r: Result<(), Error>, what: &str| match r {
        Err(Error::State(StateError::Mismatch { what: w, .. })) => assert_eq!(w, what),
        other => panic!("{what}: {other:?}"),
    };
    mismatch(resume(&good, &[5, 10, 21], Flavor::VectorTa), "periods");
    mismatch(resume(&good, &[10, 5, 20], Flavor::VectorTa), "periods");
    mismatch(resume(&good, &periods, Flavor::Ehlers), "flavour");
    let single = TrendflexStream::resume(5, trendflex_core::Kernel::Auto, Flavor::VectorTa, &good);
    mismatch(single.map(|_| ()), "kind");
    let msg = resume(&good, &[5, 10, 21], Flavor::VectorTa)
        .unwrap_err()
        .to_string();
    assert_eq!(msg, "the state was made with periods 5,10,20, not 5,10,21");

    // Cut short anywhere, any single byte changed, junk, another version: refused, no panic.
    for len in 0..good.len() {
        assert!(
            resume(&good[..len], &periods, Flavor::VectorTa).is_err(),
            "cut at {len}"
        );
    }
    for at in 0..good.len() {
        let mut b = good.clone();
        b[at] ^= 0x41;
        assert!(
            resume(&b, &periods, Flavor::VectorTa).is_err(),
            "byte {at} changed"
        );
    }
    match resume(b"ts,close\n1,2\n", &periods, Flavor::VectorTa) {
        Err(Error::State(StateError::Foreign { .. })) => {}
        other => panic!("{other:?}"),
    }
    let mut v2 = good.clone();
    v2[8] = 2;
    match resume(&v2, &periods, Flavor::VectorTa) {
        Err(Error::State(StateError::Foreign { reason })) => {
            assert!(reason.contains("version 2"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
    let mut rng = Rng::new(99);
    for _ in 0..2000 {
        let n = (rng.next_u64() % 200) as usize;
        let junk: Vec<u8> = b"TFXSTATE\x01\x00\x00\x00"
            .iter()
            .copied()
            .chain((0..n).map(|_| rng.next_u64() as u8))
            .collect();
        assert!(resume(&junk, &periods, Flavor::VectorTa).is_err());
    }
}

/// A grouped table cut anywhere and continued from every group's saved state gives, bit for bit,
/// what one run gives for the rows after the cut: interleaved groups, leading NaNs, gaps under
/// each mode (error mode has none), a group that appears only after the cut, both flavours.
#[test]
fn grouped_resumed_anywhere_equals_one_run() {
    use trendflex_core::GroupedStream;
    use trendflex_core::gaps::GapMode;
    let periods = [3, 8, 20];
    let n = 1500;
    let mut rng = Rng::new(5);
    let ids: Vec<u32> = (0..n)
        .map(|i| {
            if i < 900 {
                (rng.next_u64() % 4) as u32
            } else {
                (rng.next_u64() % 5) as u32
            }
        })
        .collect();
    let walk = random_walk(n, 21);
    for mode in [GapMode::Error, GapMode::Propagate, GapMode::Ffill] {
        let mut prices = walk.clone();
        prices[..6].fill(f64::NAN);
        if mode != GapMode::Error {
            for at in [300, 301, 777, 1200] {
                prices[at] = f64::NAN;
            }
        }
        for flavor in Flavor::ALL {
            let whole = |kernel| {
                let mut s = GroupedStream::with_flavor(&periods, kernel, flavor, mode, 1).unwrap();
                let mut out = vec![0.0; periods.len() * n];
                s.push(&ids, &mut prices.clone(), &mut out).unwrap();
                out
            };
            let want = whole(Kernel::Scalar);
            for (i, cut) in [1, 5, 20, 40, 299, 300, 301, 899, 1100, 1499]
                .into_iter()
                .enumerate()
            {
                let kernels = kernels();
                let (k1, k2) = (kernels[i % kernels.len()], kernels[(i + 1) % kernels.len()]);
                let mut a = GroupedStream::with_flavor(&periods, k1, flavor, mode, 2).unwrap();
                let mut head = vec![0.0; periods.len() * cut];
                a.push(&ids[..cut], &mut prices[..cut].to_vec(), &mut head)
                    .unwrap();
                let mut b = GroupedStream::with_flavor(&periods, k2, flavor, mode, 1).unwrap();
                for id in 0..5 {
                    if let Some(saved) = a.save_group(id) {
                        b.restore_group(id, &saved).unwrap();
                    }
                }
                let m = n - cut;
                let mut tail = vec![0.0; periods.len() * m];
                b.push(&ids[cut..], &mut prices[cut..].to_vec(), &mut tail)
                    .unwrap();
                for r in 0..periods.len() {
                    let got: Vec<f64> = head[r * cut..][..cut]
                        .iter()
                        .chain(&tail[r * m..][..m])
                        .copied()
                        .collect();
                    assert_same(
                        &got,
                        &want[r * n..][..n],
                        &format!("{mode:?} {flavor} L={} cut={cut} {k1}->{k2}", periods[r]),
                    );
                }
                assert!(
                    b.finish().is_empty(),
                    "every group has its history: {:?}",
                    b.finish()
                );
            }
        }
    }
}

/// Compacting a batch stream between pushes (what a group of many does after a long run) gives
/// back memory and changes no result, with every kernel, inside warm-up and after.
#[test]
fn compacting_between_pushes_changes_nothing() {
    let periods: Vec<usize> = (5..=60).collect();
    let x = series(1400, 12, true);
    let want: Vec<Vec<f64>> = periods
        .iter()
        .map(|&p| single_in(Flavor::VectorTa, &x, p, Kernel::Scalar))
        .collect();
    for kernel in kernels() {
        let mut s = TrendflexBatchStream::new(&periods, kernel, 1).unwrap();
        let mut rows = vec![Vec::new(); periods.len()];
        for piece in [&x[..3], &x[3..40], &x[40..700], &x[700..701], &x[701..]] {
            let mut out = vec![0.0; piece.len() * periods.len()];
            s.push(piece, &mut out).unwrap();
            s.compact();
            for (r, row) in rows.iter_mut().enumerate() {
                row.extend_from_slice(&out[r * piece.len()..][..piece.len()]);
            }
        }
        for (r, &p) in periods.iter().enumerate() {
            assert_same(&rows[r], &want[r], &format!("{kernel} L={p}"));
        }
    }
}

/// Bytes changed anywhere with the checksum made right again (as a buggy or hostile writer
/// would): refused or resumed, and a resumed stream computes on, never a panic.
#[test]
fn changed_bytes_with_a_valid_checksum_never_panic() {
    let periods = [2, 5, 9, 20, 64];
    let mut rng = Rng::new(31);
    for (n, flavor) in [
        (3, Flavor::VectorTa),
        (30, Flavor::Ehlers),
        (300, Flavor::VectorTa),
    ] {
        let good = saved_batch(&periods, flavor, n);
        for _ in 0..4000 {
            let mut b = good.clone();
            let body = b.len() - 4;
            for _ in 0..1 + rng.next_u64() % 3 {
                let at = (rng.next_u64() as usize) % body;
                b[at] = rng.next_u64() as u8;
            }
            b.truncate(body);
            let b = trendflex_core::framing::seal(b);
            for kernel in kernels() {
                if let Ok(mut s) = TrendflexBatchStream::resume(&periods, kernel, flavor, 1, &b) {
                    let x = random_walk(40, 3);
                    s.push(&x, &mut vec![0.0; 40 * periods.len()]).unwrap();
                    let _ = s.finish();
                }
            }
        }
    }
}
