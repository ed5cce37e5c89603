//! Running many periods over one series: the per-kernel units of work and how they are spread
//! over threads. Work is split over period groups; each group owns its rows of the output.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use rayon::prelude::*;

use crate::engine::LaneGroup;
use crate::extremes::Extremes;
use crate::params::PeriodParams;
use crate::scalar::ScalarState;
use crate::state::PeriodState;
use crate::{Error, Flavor, Kernel};

/// The state of every period of a batch, shaped for the kernel that runs it.
#[derive(Debug, Clone)]
pub(crate) enum Units {
    /// One scalar state per period (one row each).
    Scalar(Vec<ScalarState>),
    /// Groups of `kernel.lanes()` periods (that many rows each, the last group maybe fewer).
    Groups(Kernel, Vec<LaneGroup>),
}

impl Units {
    /// `kernel` must be resolved (not `Auto`) and available on this CPU.
    pub fn new(periods: &[usize], kernel: Kernel, flavor: Flavor) -> Self {
        Self::shaped(
            periods,
            kernel,
            flavor,
            |_, p| ScalarState::new(p),
            |_, ps, lanes| LaneGroup::new(ps, lanes),
        )
    }

    /// The units `kernel` runs `periods` in: a scalar state per period (`scalar(row, params)`),
    /// or a lane group per `kernel.lanes()` periods (`group(first row, params, lanes)`).
    fn shaped(
        periods: &[usize],
        kernel: Kernel,
        flavor: Flavor,
        scalar: impl Fn(usize, PeriodParams) -> ScalarState,
        group: impl Fn(usize, &[PeriodParams], usize) -> LaneGroup,
    ) -> Self {
        let params = PeriodParams::many(periods, flavor);
        match kernel {
            Kernel::Scalar | Kernel::Auto => Units::Scalar(
                params
                    .into_iter()
                    .enumerate()
                    .map(|(r, p)| scalar(r, p))
                    .collect(),
            ),
            Kernel::Avx2 | Kernel::Avx512 => {
                let lanes = kernel.lanes();
                Units::Groups(
                    kernel,
                    params
                        .chunks(lanes)
                        .enumerate()
                        .map(|(g, c)| group(g * lanes, c, lanes))
                        .collect(),
                )
            }
        }
    }

    /// Gives back the memory beyond the exact state (see `LaneGroup::compact`).
    pub fn compact(&mut self) {
        if let Units::Groups(_, groups) = self {
            groups.iter_mut().for_each(LaneGroup::compact);
        }
    }

    /// Sets the room of every lane group (see `LaneGroup::set_room`).
    pub fn set_room(&mut self, rows: usize) {
        if let Units::Groups(_, groups) = self {
            groups.iter_mut().for_each(|g| g.set_room(rows));
        }
    }

    /// Every period's canonical state, in row order.
    pub fn save(&self) -> Vec<PeriodState> {
        match self {
            Units::Scalar(states) => states.iter().map(ScalarState::save).collect(),
            Units::Groups(_, groups) => groups.iter().flat_map(LaneGroup::save).collect(),
        }
    }

    /// [`Units::new`] continuing from `states` (one per period) after `valid` valid prices, the
    /// last being `y_prev`.
    pub fn restore(
        periods: &[usize],
        kernel: Kernel,
        flavor: Flavor,
        valid: usize,
        y_prev: f64,
        states: &[PeriodState],
    ) -> Self {
        Self::shaped(
            periods,
            kernel,
            flavor,
            |r, p| ScalarState::restore(p, valid, y_prev, &states[r]),
            |r, ps, lanes| LaneGroup::restore(ps, lanes, valid, y_prev, &states[r..r + ps.len()]),
        )
    }

    /// Feeds `prices` to every period; row `r` writes `out[r * stride ..][.. prices.len()]`.
    /// With `take`, row `r`'s values `spans[r]` then go into `extremes[r]`, read as soon as a
    /// unit has written its rows, while they are still in the cache (a writer reading them
    /// later finds them in memory: 18% of the headline grid's samples).
    pub fn push(
        &mut self,
        exec: &Exec,
        prices: &[f64],
        out: &mut [f64],
        stride: usize,
        take: Option<Take<'_>>,
    ) {
        let (per, count) = match self {
            Units::Scalar(states) => (1, states.len()),
            Units::Groups(kernel, groups) => (kernel.lanes(), groups.len()),
        };
        // Each unit's share of the spans and extremes (its rows'), if any.
        let shares: Vec<Option<Take<'_>>> = match take {
            Some((spans, extremes)) => spans
                .chunks(per)
                .zip(extremes.chunks_mut(per))
                .map(Some)
                .collect(),
            None => (0..count).map(|_| None).collect(),
        };
        let read = |rows: &[f64], share: &mut Option<Take<'_>>| {
            if let Some((spans, extremes)) = share {
                for (k, (&(from, to), e)) in spans.iter().zip(extremes.iter_mut()).enumerate() {
                    e.add(&rows[k * stride + from..k * stride + to]);
                }
            }
        };
        match self {
            Units::Scalar(states) => {
                let mut units: Vec<_> = states.iter_mut().zip(shares).collect();
                exec.for_each_rows(&mut units, 1, out, stride, |(st, share), rows| {
                    st.run(prices, &mut rows[..prices.len()]);
                    read(rows, share);
                })
            }
            Units::Groups(kernel, groups) => {
                let kernel = *kernel;
                let mut units: Vec<_> = groups.iter_mut().zip(shares).collect();
                exec.for_each_rows(&mut units, per, out, stride, |(g, share), rows| {
                    run_group(kernel, g, prices, rows, stride);
                    read(rows, share);
                })
            }
        }
    }
}

/// A unit's share of [`Units::push`]'s `take`: its rows' spans and extremes.
pub(crate) type Take<'a> = (&'a [(usize, usize)], &'a mut [Extremes]);

/// One series' run for [`push_runs`]: its units, its prices, and the first column of the output
/// they are written to.
pub(crate) struct Run<'a> {
    pub units: &'a mut Units,
    pub prices: &'a [f64],
    pub first: usize,
}

/// One unit of one run, in [`push_runs`].
enum RunUnit<'a> {
    Scalar(&'a mut ScalarState),
    Group(Kernel, &'a mut LaneGroup),
}

/// The units of every run at one unit index (so the same rows of the output), with those rows'
/// bitmaps and null counts when marking.
type UnitRuns<'a> = (
    Vec<(RunUnit<'a>, &'a [f64], usize)>,
    Option<(&'a mut [u8], &'a mut [u32], &'a mut [Extremes])>,
);

/// Pushes several series' runs, each into its own columns of `out`: run `s`'s row `r`, output
/// `i` goes to `out[r * stride + first + i]`. The threads are handed the work once for all the
/// runs, each taking some units (rows of the output) and running them for every series; pushing
/// one series after another would fork and join once per series. Every series has the same
/// periods and kernel (so the same units); with `marks`, each output's validity is marked as
/// its unit writes it.
pub(crate) fn push_runs(
    exec: &Exec,
    runs: &mut [Run<'_>],
    out: &mut [f64],
    stride: usize,
    marks: Option<&mut Marks<'_>>,
) {
    let (per, count) = match runs.first().map(|r| &*r.units) {
        None => return,
        Some(Units::Scalar(states)) => (1, states.len()),
        Some(Units::Groups(kernel, groups)) => (kernel.lanes(), groups.len()),
    };
    // Every unit gets its rows, and every run fits in a row: a short `out` would silently leave
    // units out (the zips below stop at the shortest).
    assert!(
        out.len() + per * stride > count * per * stride
            && runs.iter().all(|r| r.first + r.prices.len() <= stride),
        "every run inside the output's rows"
    );
    if let Some(m) = &marks {
        assert!(
            m.nulls.len().div_ceil(per) == count
                && m.bits.len() >= m.nulls.len() * m.stride
                && runs
                    .iter()
                    .all(|r| (r.first + r.prices.len()).div_ceil(8) <= m.stride),
            "a bitmap per period, covering the outputs"
        );
    }
    let mut by_unit: Vec<UnitRuns<'_>> = (0..count)
        .map(|_| (Vec::with_capacity(runs.len()), None))
        .collect();
    for run in runs.iter_mut() {
        let (prices, first) = (run.prices, run.first);
        let units: Vec<RunUnit<'_>> = match &mut *run.units {
            Units::Scalar(states) => states.iter_mut().map(RunUnit::Scalar).collect(),
            Units::Groups(kernel, groups) => {
                let kernel = *kernel;
                groups
                    .iter_mut()
                    .map(|g| RunUnit::Group(kernel, g))
                    .collect()
            }
        };
        assert_eq!(units.len(), count, "every series has the same periods");
        for (slot, unit) in by_unit.iter_mut().zip(units) {
            slot.0.push((unit, prices, first));
        }
    }
    let bytes = marks.as_ref().map_or(0, |m| m.stride);
    if let Some(m) = marks {
        let (bits, nulls) = (m.bits.chunks_mut(per * bytes), m.nulls.chunks_mut(per));
        let extremes = m.extremes.chunks_mut(per);
        for (slot, ((bits, nulls), extremes)) in
            by_unit.iter_mut().zip(bits.zip(nulls).zip(extremes))
        {
            slot.1 = Some((bits, nulls, extremes));
        }
    }
    exec.for_each_rows(&mut by_unit, per, out, stride, |(units, marks), rows| {
        for (unit, prices, first) in units.iter_mut() {
            let (first, n) = (*first, prices.len());
            match unit {
                RunUnit::Scalar(st) => st.run(prices, &mut rows[first..first + n]),
                RunUnit::Group(kernel, g) => {
                    run_group(*kernel, g, prices, &mut rows[first..], stride)
                }
            }
            if let Some((bits, nulls, extremes)) = marks {
                let each = nulls
                    .iter_mut()
                    .zip(bits.chunks_mut(bytes))
                    .zip(extremes.iter_mut());
                for (j, ((nulls, bits), extremes)) in each.enumerate() {
                    let values = &rows[j * stride + first..][..n];
                    *nulls += mark(values, bits, first);
                    extremes.add_valid(values);
                }
            }
        }
    });
}

/// Validity bitmaps to fill while computing: bit `i` of period `r`'s bitmap
/// (`bits[r * stride..][..stride]`, Arrow's bit order, clear before) is set when output `i` is
/// not NaN, `nulls[r]` counts the NaNs, and `extremes[r]` takes the others (the values).
pub(crate) struct Marks<'a> {
    pub bits: &'a mut [u8],
    pub stride: usize,
    pub nulls: &'a mut [u32],
    pub extremes: &'a mut [Extremes],
}

/// Sets bit `at + i` of `bits` (clear before) for each value `i` of `values` that is not NaN;
/// returns how many were NaN. Whole bytes take eight compares at once (AVX2 where the CPU has
/// it).
pub(crate) fn mark(values: &[f64], bits: &mut [u8], at: usize) -> u32 {
    mark_with(values, bits, at, true)
}

/// [`mark`], with AVX2 only if `simd` (and the CPU has it).
fn mark_with(values: &[f64], bits: &mut [u8], at: usize, simd: bool) -> u32 {
    let (from, to) = (at, at + values.len());
    let mut nan = 0u32;
    let mut one = |c: usize, bits: &mut [u8]| {
        if values[c - at].is_nan() {
            nan += 1;
        } else {
            bits[c / 8] |= 1 << (c % 8);
        }
    };
    let head = from.next_multiple_of(8).min(to);
    for c in from..head {
        one(c, bits);
    }
    let whole = (to - head) / 8 * 8;
    let (bytes, eights) = (
        &mut bits[head / 8..(head + whole) / 8],
        &values[head - at..head - at + whole],
    );
    let valid = match simd && crate::dispatch::simd_marks() {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `simd_marks` said the CPU has AVX2 and POPCNT.
        true => unsafe { crate::x86::avx2::not_nan_bits(eights, bytes) },
        _ => not_nan_bits(eights, bytes),
    };
    for c in head + whole..to {
        one(c, bits);
    }
    nan + (whole as u32 - valid)
}

/// The portable [`crate::x86::avx2::not_nan_bits`].
fn not_nan_bits(values: &[f64], bits: &mut [u8]) -> u32 {
    let mut valid = 0;
    for (byte, eight) in bits.iter_mut().zip(values.chunks_exact(8)) {
        let mut b = 0u8;
        for (k, v) in eight.iter().enumerate() {
            b |= u8::from(!v.is_nan()) << k;
        }
        *byte = b;
        valid += b.count_ones();
    }
    valid
}

#[cfg(target_arch = "x86_64")]
fn run_group(kernel: Kernel, g: &mut LaneGroup, prices: &[f64], rows: &mut [f64], stride: usize) {
    match kernel {
        // SAFETY: `Units::new` only builds groups for a kernel that `dispatch::resolve` accepted,
        // which checked the CPU features; the group was built with that kernel's lane count.
        Kernel::Avx2 => unsafe { crate::x86::avx2::group(g, prices, rows, stride) },
        // SAFETY: as above, for AVX-512F.
        Kernel::Avx512 => unsafe { crate::x86::avx512::group(g, prices, rows, stride) },
        Kernel::Scalar | Kernel::Auto => unreachable!("scalar batches use Units::Scalar"),
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn run_group(_: Kernel, _: &mut LaneGroup, _: &[f64], _: &mut [f64], _: usize) {
    unreachable!("SIMD kernels are never resolved off x86_64")
}

/// Where batch work runs: on the calling thread, on rayon's global pool (all cores), or on a
/// pool of a chosen size (built once per size and kept).
#[derive(Clone)]
pub(crate) enum Exec {
    Sequential,
    Global,
    Pool(Arc<rayon::ThreadPool>),
}

impl Exec {
    /// `threads`: 0 = all cores, 1 = the calling thread, n = a pool of n threads.
    pub fn new(threads: usize) -> Result<Self, Error> {
        static POOLS: OnceLock<Mutex<HashMap<usize, Arc<rayon::ThreadPool>>>> = OnceLock::new();
        match threads {
            0 => Ok(Exec::Global),
            1 => Ok(Exec::Sequential),
            n => {
                let mut pools = POOLS
                    .get_or_init(Default::default)
                    .lock()
                    .unwrap_or_else(|e| e.into_inner());
                if let Some(p) = pools.get(&n) {
                    return Ok(Exec::Pool(p.clone()));
                }
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(n)
                    .thread_name(|i| format!("trendflex-{i}"))
                    .build()
                    .map_err(|e| Error::ThreadPool {
                        threads: n,
                        reason: e.to_string(),
                    })?;
                let pool = Arc::new(pool);
                pools.insert(n, pool.clone());
                Ok(Exec::Pool(pool))
            }
        }
    }

    /// Threads this executor uses.
    pub fn threads(&self) -> usize {
        match self {
            Exec::Sequential => 1,
            Exec::Global => rayon::current_num_threads(),
            Exec::Pool(p) => p.current_num_threads(),
        }
    }

    /// Calls `f(item)` for every item, in parallel on this executor's threads.
    pub fn for_each<T: Send>(&self, items: &mut [T], f: impl Fn(&mut T) + Sync + Send) {
        match self {
            Exec::Sequential => items.iter_mut().for_each(f),
            Exec::Global => items.par_iter_mut().for_each(f),
            Exec::Pool(pool) => pool.install(|| items.par_iter_mut().for_each(f)),
        }
    }

    /// Calls `f(unit, its rows)` for every unit, unit `u` owning rows
    /// `u * rows_per_unit ..` of `out` (row stride `stride`).
    fn for_each_rows<U: Send>(
        &self,
        units: &mut [U],
        rows_per_unit: usize,
        out: &mut [f64],
        stride: usize,
        f: impl Fn(&mut U, &mut [f64]) + Sync,
    ) {
        let span = rows_per_unit * stride;
        match self {
            Exec::Sequential => units
                .iter_mut()
                .zip(out.chunks_mut(span))
                .for_each(|(u, o)| f(u, o)),
            Exec::Global => units
                .par_iter_mut()
                .zip(out.par_chunks_mut(span))
                .for_each(|(u, o)| f(u, o)),
            Exec::Pool(pool) => pool.install(|| {
                units
                    .par_iter_mut()
                    .zip(out.par_chunks_mut(span))
                    .for_each(|(u, o)| f(u, o))
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::mark_with;

    /// Runs that start and end anywhere in a byte, pieced together, mark what one value at a
    /// time says, and count the NaNs (of any payload, quiet or signalling), portably and with
    /// AVX2 where the CPU has it. Infinities and -0.0 are values.
    #[test]
    fn marks_runs_that_start_and_end_anywhere() {
        let row: Vec<f64> = (0..203)
            .map(|i| match i % 11 {
                0 | 3 => f64::NAN,
                5 if i % 2 == 0 => -f64::NAN,
                6 => f64::from_bits(0x7FF0_0000_0000_0001), // signalling NaN
                7 => [f64::INFINITY, f64::NEG_INFINITY, -0.0][i % 3],
                _ => i as f64 - 5.0,
            })
            .collect();
        let paths = [false, crate::dispatch::simd_marks()];
        println!(
            "marks tested: portable{}",
            if paths[1] { ", avx2" } else { "" }
        );
        for simd in paths {
            for cuts in [
                vec![0, 203],
                vec![0, 3, 8, 9, 64, 70, 203],
                vec![0, 1, 2, 17, 200, 203],
            ] {
                let mut bits = vec![0u8; 32];
                let nan: u32 = cuts
                    .windows(2)
                    .map(|w| mark_with(&row[w[0]..w[1]], &mut bits, w[0], simd))
                    .sum();
                assert_eq!(nan as usize, row.iter().filter(|v| v.is_nan()).count());
                for i in 0..bits.len() * 8 {
                    let bit = bits[i / 8] >> (i % 8) & 1 == 1;
                    let want = i < row.len() && !row[i].is_nan();
                    assert_eq!(bit, want, "simd {simd}, cuts {cuts:?}, bit {i}");
                }
            }
        }
    }
}
