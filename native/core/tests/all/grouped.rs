//! Many series in one table: every group, stacked or interleaved, computed in any chunks on any
//! kernel in any flavour, equals that group run alone, bit for bit; gaps and short groups stay
//! within their group.

use crate::common::{kernels, random_walk, same};
use trendflex_core::gaps::GapMode;
use trendflex_core::{
    Error, Extremes, Flavor, GroupError, GroupedStream, Kernel, trendflex_batch_into_with_flavor,
    trendflex_into_with_flavor,
};

fn same_bits(a: &[f64], b: &[f64]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same(*x, *y))
}

/// Groups of different lengths (one shorter than the longest period), each a random walk, some
/// with leading missing prices; as (group, price) rows, stacked or interleaved.
fn table(interleaved: bool) -> Vec<(u32, f64)> {
    let lens = [300usize, 57, 1, 240, 120];
    let mut series: Vec<Vec<f64>> = lens
        .iter()
        .enumerate()
        .map(|(g, &n)| random_walk(n, 100 + g as u64))
        .collect();
    series[1][..9].fill(f64::NAN);
    series[3][..3].fill(f64::NAN);
    let mut rows = Vec::new();
    if interleaved {
        let longest = *lens.iter().max().unwrap();
        // `t` is a time step indexing every group's series, not one slice's position.
        #[allow(clippy::needless_range_loop)]
        for t in 0..longest {
            // Not a fixed rotation: group order changes from step to step.
            let mut gs: Vec<usize> = (0..lens.len()).collect();
            gs.rotate_left(t % lens.len());
            for g in gs.into_iter().filter(|&g| t < lens[g]) {
                rows.push((g as u32 * 7 + 3, series[g][t]));
            }
        }
    } else {
        for (g, s) in series.iter().enumerate() {
            rows.extend(s.iter().map(|&x| (g as u32 * 7 + 3, x)));
        }
    }
    rows
}

/// Runs `rows` through a grouped stream in chunks of `chunk`; returns the outputs (row-major).
fn grouped(
    rows: &[(u32, f64)],
    periods: &[usize],
    kernel: Kernel,
    chunk: usize,
    gaps: GapMode,
    flavor: Flavor,
) -> (Vec<f64>, GroupedStream) {
    let n = rows.len();
    let mut s = GroupedStream::with_flavor(periods, kernel, flavor, gaps, 0).unwrap();
    assert_eq!(s.flavor(), flavor);
    let mut out = vec![0.0; periods.len() * n];
    for start in (0..n).step_by(chunk) {
        let end = (start + chunk).min(n);
        let ids: Vec<u32> = rows[start..end].iter().map(|r| r.0).collect();
        let mut prices: Vec<f64> = rows[start..end].iter().map(|r| r.1).collect();
        let mut chunk_out = vec![0.0; periods.len() * (end - start)];
        // Every chunk's validity, against the NaN-ness of its outputs (checked themselves
        // against each group run alone); bitmaps start dirty, as a reused buffer does.
        let stride = (end - start).div_ceil(64) * 8;
        let mut bits = vec![0x5au8; periods.len() * stride];
        let mut extremes = vec![Extremes::new(); periods.len()];
        let nulls = s
            .push_marked(
                &ids,
                &mut prices,
                &mut chunk_out,
                &mut bits,
                stride,
                &mut extremes,
            )
            .unwrap();
        for (r, row) in chunk_out.chunks(end - start).enumerate() {
            let nan = row.iter().filter(|v| v.is_nan()).count();
            assert_eq!(nulls[r] as usize, nan, "period row {r}: missing outputs");
            // The values' extremes (a NaN output is missing, not a value), by total order.
            let values = || row.iter().copied().filter(|v| !v.is_nan());
            let want = values().min_by(f64::total_cmp).map(|lo| {
                let hi = values().max_by(f64::total_cmp).unwrap();
                (lo.to_bits(), hi.to_bits())
            });
            let got = extremes[r]
                .range()
                .map(|(lo, hi)| (lo.to_bits(), hi.to_bits()));
            assert_eq!(got, want, "period row {r}: extremes");
            assert_eq!(
                extremes[r].nans(),
                want.map(|_| 0),
                "period row {r}: NaN values"
            );
            for i in 0..stride * 8 {
                let bit = bits[r * stride + i / 8] >> (i % 8) & 1 == 1;
                assert_eq!(
                    bit,
                    i < row.len() && !row[i].is_nan(),
                    "period row {r}, bit {i}"
                );
            }
        }
        for r in 0..periods.len() {
            out[r * n + start..r * n + end]
                .copy_from_slice(&chunk_out[r * (end - start)..(r + 1) * (end - start)]);
        }
    }
    (out, s)
}

/// Every group's rows of `out` (row-major, `periods` rows) equal the group run alone.
fn check_alone(rows: &[(u32, f64)], periods: &[usize], flavor: Flavor, out: &[f64], what: &str) {
    let n = rows.len();
    let mut ids: Vec<u32> = rows.iter().map(|r| r.0).collect();
    ids.sort_unstable();
    ids.dedup();
    for id in ids {
        let at: Vec<usize> = (0..n).filter(|&i| rows[i].0 == id).collect();
        let x: Vec<f64> = at.iter().map(|&i| rows[i].1).collect();
        for (r, &p) in periods.iter().enumerate() {
            let mut alone = vec![f64::NAN; x.len()];
            // A group too short for the period has no value at all, as the one-shot function
            // would refuse it.
            let _ = trendflex_into_with_flavor(&x, p, Kernel::Scalar, flavor, &mut alone);
            let got: Vec<f64> = at.iter().map(|&i| out[r * n + i]).collect();
            assert!(same_bits(&got, &alone), "{what}: group {id}, period {p}");
        }
    }
}

#[test]
fn every_group_equals_itself_run_alone_stacked_or_interleaved_in_any_chunks() {
    let periods = [2usize, 5, 20, 21, 64, 231];
    for interleaved in [false, true] {
        let rows = table(interleaved);
        for (kernel, flavor) in kernels()
            .into_iter()
            .flat_map(|k| Flavor::ALL.map(|f| (k, f)))
        {
            for chunk in [1usize, 7, 100, rows.len()] {
                let (out, s) = grouped(&rows, &periods, kernel, chunk, GapMode::Error, flavor);
                check_alone(
                    &rows,
                    &periods,
                    flavor,
                    &out,
                    &format!("{kernel} {flavor} interleaved={interleaved} chunk={chunk}"),
                );
                assert_eq!(s.groups(), 5);
            }
            let (single, _) = grouped(&rows, &[20], kernel, 33, GapMode::Error, flavor);
            check_alone(
                &rows,
                &[20],
                flavor,
                &single,
                &format!("{kernel} {flavor} single period"),
            );
        }
    }
}

#[test]
fn short_groups_are_reported_not_refused() {
    let rows = table(true);
    let (_, s) = grouped(
        &rows,
        &[5, 231],
        Kernel::Auto,
        50,
        GapMode::Error,
        Flavor::VectorTa,
    );
    let reports = s.finish();
    let short: Vec<(u32, Error)> = reports.into_iter().map(|r| (r.group, r.error)).collect();
    assert_eq!(
        short,
        vec![
            (
                10,
                Error::NotEnoughData {
                    period: 231,
                    valid: 48
                }
            ),
            (
                17,
                Error::NotEnoughData {
                    period: 5,
                    valid: 1
                }
            ),
            (
                31,
                Error::NotEnoughData {
                    period: 231,
                    valid: 120
                }
            ),
        ]
    );
}

#[test]
fn gaps_stay_within_their_group() {
    let mut rows = table(true);
    // A gap in group 24 only (its 100th row).
    let at = (0..rows.len())
        .filter(|&i| rows[i].0 == 24)
        .nth(100)
        .unwrap();
    rows[at].1 = f64::NAN;
    let mut s = GroupedStream::new(&[20], Kernel::Auto, GapMode::Error, 0).unwrap();
    let ids: Vec<u32> = rows.iter().map(|r| r.0).collect();
    let mut prices: Vec<f64> = rows.iter().map(|r| r.1).collect();
    let mut out = vec![0.0; rows.len()];
    let e = s.push(&ids, &mut prices, &mut out).unwrap_err();
    assert_eq!(e, GroupError::Gap { group: 24, row: at });

    // ffill fills from the group's own last price; propagate leaves only that group missing.
    for (mode, fill) in [(GapMode::Ffill, true), (GapMode::Propagate, false)] {
        let (out, _) = grouped(&rows, &[20], Kernel::Auto, 64, mode, Flavor::Ehlers);
        let mut fixed = rows.clone();
        if fill {
            let before = (0..at).rev().find(|&i| rows[i].0 == 24).unwrap();
            fixed[at].1 = rows[before].1;
        }
        check_alone(&fixed, &[20], Flavor::Ehlers, &out, &format!("{mode:?}"));
    }
}

#[test]
fn a_batch_of_one_group_is_the_plain_batch() {
    let x = random_walk(500, 9);
    let periods: Vec<usize> = (5..=231).collect();
    let rows: Vec<(u32, f64)> = x.iter().map(|&v| (0, v)).collect();
    for flavor in Flavor::ALL {
        let (out, _) = grouped(&rows, &periods, Kernel::Auto, 128, GapMode::Error, flavor);
        let mut want = vec![0.0; periods.len() * x.len()];
        trendflex_batch_into_with_flavor(&x, &periods, Kernel::Scalar, flavor, 1, &mut want)
            .unwrap();
        assert!(same_bits(&out, &want), "{flavor}");
    }
}

/// A group whose long run leaves it dormant (kept as its saved state, or as its prices) continues
/// bit for bit when it comes back, in the same chunk or a later one, on every kernel.
#[test]
fn a_group_that_comes_back_after_a_long_run_continues_bit_for_bit() {
    let periods = [2usize, 5, 20, 64, 231];
    let a = random_walk(1000, 41);
    let b = random_walk(700, 42);
    // Its first run is shorter than the longest period: kept as its prices.
    let c = random_walk(400, 43);
    let mut rows = Vec::new();
    for (id, series, from, to) in [
        (1u32, &a, 0, 300),
        (2, &b, 0, 50),
        (3, &c, 0, 150),
        (1, &a, 300, 700),
        (2, &b, 50, 700),
        (3, &c, 150, 400),
        (1, &a, 700, 1000),
    ] {
        rows.extend(series[from..to].iter().map(|&x| (id, x)));
    }
    for kernel in kernels() {
        for chunk in [290usize, 1000, rows.len()] {
            let (out, s) = grouped(
                &rows,
                &periods,
                kernel,
                chunk,
                GapMode::Error,
                Flavor::VectorTa,
            );
            check_alone(
                &rows,
                &periods,
                Flavor::VectorTa,
                &out,
                &format!("{kernel} chunk={chunk}"),
            );
            assert!(s.finish().is_empty(), "both groups have every period");
            let saved = s.save_group(1).unwrap();
            assert!(
                saved.len() < 64 << 10,
                "a dormant group is its saved state: {} bytes",
                saved.len()
            );
        }
    }
}

/// Runs of every length, short (the group's periods start one by one as their outputs come due)
/// and long (the job's kernel takes over mid-warm-up or later), over periods in no order, some
/// sharing a smoother (19 and 20, 99 and 100, 231 and 232 by default) and one twice, equal each
/// group run alone, in both flavours.
#[test]
fn groups_in_runs_of_any_length_switch_engines_bit_for_bit() {
    let periods = [231usize, 2, 20, 100, 3, 19, 20, 64, 99, 232];
    let series: Vec<Vec<f64>> = (0..4).map(|g| random_walk(900, 60 + g)).collect();
    let mut at = [0usize; 4];
    let mut rows = Vec::new();
    // Run lengths cycle through 1..=97 with a step that visits short and long ones in turn.
    let mut len = 1;
    while at.iter().any(|&a| a < 900) {
        for g in 0..4 {
            let take = len.min(900 - at[g]);
            rows.extend(
                series[g][at[g]..at[g] + take]
                    .iter()
                    .map(|&x| (g as u32, x)),
            );
            at[g] += take;
            len = (len * 37 + 11) % 97 + 1;
        }
    }
    for (kernel, flavor) in kernels()
        .into_iter()
        .flat_map(|k| Flavor::ALL.map(|f| (k, f)))
    {
        for chunk in [13usize, 250, rows.len()] {
            let (out, s) = grouped(&rows, &periods, kernel, chunk, GapMode::Error, flavor);
            let what = format!("{kernel} {flavor} chunk={chunk}");
            check_alone(&rows, &periods, flavor, &out, &what);
            assert!(s.finish().is_empty());
        }
    }
}

/// A group kept as its prices saves the state its stream would have saved: restored into another
/// stream, it continues bit for bit.
#[test]
fn a_group_kept_as_its_prices_saves_and_restores_bit_for_bit() {
    let periods = [2usize, 5, 20, 64, 231];
    let x = random_walk(400, 44);
    let first: Vec<(u32, f64)> = x[..150].iter().map(|&v| (3, v)).collect();
    let rest: Vec<(u32, f64)> = x[150..].iter().map(|&v| (3, v)).collect();
    for kernel in kernels() {
        let (head, s) = grouped(
            &first,
            &periods,
            kernel,
            first.len(),
            GapMode::Error,
            Flavor::VectorTa,
        );
        let saved = s.save_group(3).unwrap();
        let mut t = GroupedStream::new(&periods, kernel, GapMode::Error, 0).unwrap();
        t.restore_group(3, &saved).unwrap();
        let mut prices: Vec<f64> = rest.iter().map(|r| r.1).collect();
        let mut tail = vec![0.0; periods.len() * rest.len()];
        t.push(&vec![3; rest.len()], &mut prices, &mut tail)
            .unwrap();
        let mut out = Vec::new();
        for r in 0..periods.len() {
            out.extend_from_slice(&head[r * first.len()..(r + 1) * first.len()]);
            out.extend_from_slice(&tail[r * rest.len()..(r + 1) * rest.len()]);
        }
        let all: Vec<(u32, f64)> = x.iter().map(|&v| (3, v)).collect();
        check_alone(&all, &periods, Flavor::VectorTa, &out, &format!("{kernel}"));
    }
}
