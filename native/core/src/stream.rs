//! Streaming forms of the single and batch computations: state objects fed the prices chunk by
//! chunk, writing each chunk's outputs into a caller buffer. Chunked output equals one-shot
//! output bit for bit for any chunk sizes; memory is bounded by the periods, not the series.

use crate::batch::{Exec, Take, Units};
use crate::extremes::Extremes;
use crate::params::{self, PeriodParams};
use crate::scalar::ScalarState;
use crate::state::{Kind, SeriesState};
use crate::{Error, Flavor, Kernel, dispatch};

/// Counts what the error table needs to know about everything pushed so far, and keeps the last
/// prices a saved state needs (see `state`).
#[derive(Debug, Clone, Default)]
struct Seen {
    total: usize,
    /// Prices from the first valid one on (`m` of the definition).
    valid: usize,
    /// The last `min(valid, keep)` of those prices.
    tail: Vec<f64>,
    /// The longest period.
    keep: usize,
}

impl Seen {
    fn new(keep: usize) -> Self {
        Seen {
            keep,
            ..Seen::default()
        }
    }

    fn add(&mut self, prices: &[f64]) {
        self.total += prices.len();
        let y = if self.valid > 0 {
            prices
        } else {
            &prices[prices.len() - params::valid_len(prices)..]
        };
        self.valid += y.len();
        let y = &y[y.len().saturating_sub(self.keep)..];
        let drop = (self.tail.len() + y.len()).saturating_sub(self.keep);
        self.tail.drain(..drop);
        self.tail.extend_from_slice(y);
    }

    fn restore(st: &SeriesState, keep: usize) -> Result<Self, Error> {
        let size = |n: u64| {
            usize::try_from(n).map_err(|_| {
                Error::State(crate::StateError::Corrupt {
                    reason: format!("{n} prices do not fit this machine"),
                })
            })
        };
        Ok(Seen {
            total: size(st.total)?,
            valid: size(st.valid)?,
            tail: st.tail.clone(),
            keep,
        })
    }
}

/// TrendFlex of one period over a series that arrives in chunks.
///
/// ```
/// use trendflex_core::{Kernel, TrendflexStream};
/// let prices: Vec<f64> = (0..100).map(|i| 100.0 + (i as f64 * 0.3).sin()).collect();
/// let mut stream = TrendflexStream::new(20, Kernel::Auto).unwrap();
/// let mut out = vec![0.0; prices.len()];
/// for (p, o) in prices.chunks(7).zip(out.chunks_mut(7)) {
///     stream.push(p, o).unwrap();
/// }
/// stream.finish().unwrap();
/// assert!(out[19].is_nan() && out[20].abs() == 5.0);
/// ```
#[derive(Debug, Clone)]
pub struct TrendflexStream {
    state: ScalarState,
    kernel: Kernel,
    seen: Seen,
}

impl TrendflexStream {
    /// A stream for `period` (at least 2) run by `kernel` (`Auto` is resolved now), in the
    /// default flavour.
    pub fn new(period: usize, kernel: Kernel) -> Result<Self, Error> {
        Self::with_flavor(period, kernel, Flavor::VectorTa)
    }

    /// [`TrendflexStream::new`] in the given flavour.
    pub fn with_flavor(period: usize, kernel: Kernel, flavor: Flavor) -> Result<Self, Error> {
        params::check_period(period)?;
        let kernel = dispatch::resolve(kernel)?;
        Ok(TrendflexStream {
            state: ScalarState::new(PeriodParams::new(period, flavor)),
            kernel,
            seen: Seen::new(period),
        })
    }

    /// The concrete kernel computing this stream.
    pub fn kernel(&self) -> Kernel {
        self.kernel
    }

    /// The period.
    pub fn period(&self) -> usize {
        self.state.p.period
    }

    /// The flavour computed.
    pub fn flavor(&self) -> Flavor {
        self.state.p.flavor
    }

    /// Feeds the next chunk; `out` (same length) receives its outputs, NaN where missing.
    pub fn push(&mut self, prices: &[f64], out: &mut [f64]) -> Result<(), Error> {
        if out.len() != prices.len() {
            return Err(Error::OutputLength {
                expected: prices.len(),
                actual: out.len(),
            });
        }
        self.seen.add(prices);
        run_single(self.kernel, &mut self.state, prices, out);
        Ok(())
    }

    /// Checks the whole series pushed so far against the error table (empty input, no valid
    /// prices, too few valid prices); call it after the last chunk.
    pub fn finish(&self) -> Result<(), Error> {
        params::check_data(self.seen.total, self.seen.valid, &[self.period()])
    }

    /// Everything needed to continue this stream later, bit for bit, with any kernel: see
    /// [`TrendflexStream::resume`]. Versioned and checksummed bytes.
    pub fn save_state(&self) -> Vec<u8> {
        SeriesState {
            kind: Kind::Single,
            flavor: self.flavor(),
            periods: vec![self.period()],
            total: self.seen.total as u64,
            valid: self.seen.valid as u64,
            tail: self.seen.tail.clone(),
            states: vec![self.state.save()],
        }
        .to_bytes()
    }

    /// A stream continuing where the one that saved `state` stopped: pushing the rest of the
    /// series gives, bit for bit, what one stream over the whole series gives for those rows.
    /// `state` must have been saved by a stream of the same period and flavour (else
    /// [`Error::State`] says what differs); any kernel may resume any kernel's state.
    pub fn resume(
        period: usize,
        kernel: Kernel,
        flavor: Flavor,
        state: &[u8],
    ) -> Result<Self, Error> {
        let mut stream = Self::with_flavor(period, kernel, flavor)?;
        let st = SeriesState::from_bytes(state)?;
        st.check(Kind::Single, &[period], flavor)?;
        stream.seen = Seen::restore(&st, period)?;
        stream.state = ScalarState::restore(
            stream.state.p,
            stream.seen.valid,
            st.y_prev(),
            &st.states[0],
        );
        Ok(stream)
    }
}

pub(crate) fn run_single(kernel: Kernel, st: &mut ScalarState, prices: &[f64], out: &mut [f64]) {
    match kernel {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `kernel` came from `dispatch::resolve`, which checked AVX2 and FMA.
        Kernel::Avx2 => unsafe { crate::x86::avx2::single(st, prices, out) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `kernel` came from `dispatch::resolve`, which checked AVX-512F.
        Kernel::Avx512 => unsafe { crate::x86::avx512::single(st, prices, out) },
        _ => st.run(prices, out),
    }
}

/// TrendFlex of many periods over a series that arrives in chunks: the streaming form of
/// [`crate::trendflex_batch_into`].
#[derive(Clone)]
pub struct TrendflexBatchStream {
    periods: Vec<usize>,
    kernel: Kernel,
    flavor: Flavor,
    exec: Exec,
    units: Units,
    seen: Seen,
}

impl TrendflexBatchStream {
    /// A stream for `periods` (each at least 2, any order, duplicates allowed) run by `kernel` on
    /// `threads` threads (0 = all cores), in the default flavour.
    pub fn new(periods: &[usize], kernel: Kernel, threads: usize) -> Result<Self, Error> {
        Self::with_flavor(periods, kernel, Flavor::VectorTa, threads)
    }

    /// [`TrendflexBatchStream::new`] in the given flavour.
    pub fn with_flavor(
        periods: &[usize],
        kernel: Kernel,
        flavor: Flavor,
        threads: usize,
    ) -> Result<Self, Error> {
        params::check_periods(periods)?;
        let kernel = dispatch::resolve(kernel)?;
        Ok(TrendflexBatchStream {
            periods: periods.to_vec(),
            kernel,
            flavor,
            exec: Exec::new(threads)?,
            units: Units::new(periods, kernel, flavor),
            seen: Seen::new(periods.iter().copied().max().unwrap_or(0)),
        })
    }

    /// The periods, in row order.
    pub fn periods(&self) -> &[usize] {
        &self.periods
    }

    /// The concrete kernel computing this stream.
    pub fn kernel(&self) -> Kernel {
        self.kernel
    }

    /// The flavour computed.
    pub fn flavor(&self) -> Flavor {
        self.flavor
    }

    /// Worker threads used per chunk.
    pub fn threads(&self) -> usize {
        self.exec.threads()
    }

    /// Feeds the next chunk; `out` is row-major, `periods().len()` rows of `prices.len()`.
    pub fn push(&mut self, prices: &[f64], out: &mut [f64]) -> Result<(), Error> {
        self.push_rows(prices, out, None)
    }

    /// [`TrendflexBatchStream::push`], with [`crate::batch::Units::push`]'s `take`.
    fn push_rows(
        &mut self,
        prices: &[f64],
        out: &mut [f64],
        take: Option<Take<'_>>,
    ) -> Result<(), Error> {
        let expected = self.periods.len() * prices.len();
        if out.len() != expected {
            return Err(Error::OutputLength {
                expected,
                actual: out.len(),
            });
        }
        self.push_taking(prices, out, prices.len(), take)
    }

    /// Feeds the next chunk; row `r` is written to `out[r * row_stride ..][.. prices.len()]`,
    /// so chunks can land side by side in one big row-major matrix. `out` must reach the end of
    /// the last row: `(rows - 1) * row_stride + prices.len()` values at least.
    pub fn push_strided(
        &mut self,
        prices: &[f64],
        out: &mut [f64],
        row_stride: usize,
    ) -> Result<(), Error> {
        self.push_taking(prices, out, row_stride, None)
    }

    /// [`TrendflexBatchStream::push_strided`], with [`crate::batch::Units::push`]'s `take`.
    fn push_taking(
        &mut self,
        prices: &[f64],
        out: &mut [f64],
        row_stride: usize,
        take: Option<Take<'_>>,
    ) -> Result<(), Error> {
        let rows = self.periods.len();
        let needed = (rows - 1) * row_stride + prices.len();
        if row_stride < prices.len() || out.len() < needed {
            return Err(Error::OutputLength {
                expected: needed.max(rows * prices.len()),
                actual: out.len(),
            });
        }
        if prices.is_empty() {
            return Ok(());
        }
        self.seen.add(prices);
        self.units
            .push(&self.exec, prices, &mut out[..needed], row_stride, take);
        Ok(())
    }

    /// [`TrendflexBatchStream::push`], and row `r`'s values `spans[r]` into `extremes[r]` while
    /// they are still in the cache (see [`Extremes`]).
    pub fn push_extremes(
        &mut self,
        prices: &[f64],
        out: &mut [f64],
        spans: &[(usize, usize)],
        extremes: &mut [Extremes],
    ) -> Result<(), Error> {
        let (rows, n) = (self.periods.len(), prices.len());
        assert!(
            spans.len() == rows
                && extremes.len() == rows
                && spans.iter().all(|&(f, t)| f <= t && t <= n),
            "a span and extremes per period, inside the chunk"
        );
        self.push_rows(prices, out, Some((spans, extremes)))
    }

    /// Counts `prices` as pushed and lends the units that compute them, for
    /// [`crate::batch::push_runs`], which pushes many streams' runs with one hand-over to the
    /// threads.
    pub(crate) fn lend_units(&mut self, prices: &[f64]) -> &mut Units {
        self.seen.add(prices);
        &mut self.units
    }

    /// Checks the whole series pushed so far against the error table, naming the first period
    /// (in row order) that has too few valid prices.
    pub fn finish(&self) -> Result<(), Error> {
        params::check_data(self.seen.total, self.seen.valid, &self.periods)
    }

    /// Gives back the memory the kernels keep beyond the exact state (room they write ahead
    /// into), for a stream that will wait between pushes: one of many groups. The next push
    /// takes it again. Results are unchanged.
    pub fn compact(&mut self) {
        self.units.compact();
    }

    /// Keeps at most `rows` prices of room in the kernels' history beyond what the longest
    /// period looks back at (default 512): for a stream fed a few prices at a time that must
    /// stay small, one of thousands of groups. Less room means more frequent shifts of the
    /// history. Results are unchanged.
    pub fn set_room(&mut self, rows: usize) {
        self.units.set_room(rows);
    }

    /// Everything needed to continue this stream later, bit for bit, with any kernel and thread
    /// count: see [`TrendflexBatchStream::resume`].
    pub fn save_state(&self) -> Vec<u8> {
        SeriesState {
            kind: Kind::Batch,
            flavor: self.flavor,
            periods: self.periods.clone(),
            total: self.seen.total as u64,
            valid: self.seen.valid as u64,
            tail: self.seen.tail.clone(),
            states: self.units.save(),
        }
        .to_bytes()
    }

    /// [`TrendflexStream::resume`] for a batch: `state` must have been saved by a batch stream
    /// of the same periods, in the same order, and flavour.
    pub fn resume(
        periods: &[usize],
        kernel: Kernel,
        flavor: Flavor,
        threads: usize,
        state: &[u8],
    ) -> Result<Self, Error> {
        let mut stream = Self::with_flavor(periods, kernel, flavor, threads)?;
        let st = SeriesState::from_bytes(state)?;
        st.check(Kind::Batch, periods, flavor)?;
        stream.seen = Seen::restore(&st, stream.seen.keep)?;
        stream.units = Units::restore(
            periods,
            stream.kernel,
            flavor,
            stream.seen.valid,
            st.y_prev(),
            &st.states,
        );
        Ok(stream)
    }
}

/// A stream of one period (the single-series kernels) or of many (the batch kernels), as a job
/// computes it: the same calls either way, output row-major per chunk.
#[derive(Clone)]
pub enum Series {
    One(TrendflexStream),
    Many(TrendflexBatchStream),
}

impl Series {
    /// One period runs the single-series path; several run the batch path on `threads` threads
    /// (0: every core). `state`: bytes a stream of the same periods and flavour saved.
    pub fn new(
        periods: &[usize],
        kernel: Kernel,
        flavor: Flavor,
        threads: usize,
        state: Option<&[u8]>,
    ) -> Result<Self, Error> {
        Ok(match (periods, state) {
            ([period], None) => Series::One(TrendflexStream::with_flavor(*period, kernel, flavor)?),
            ([period], Some(bytes)) => {
                Series::One(TrendflexStream::resume(*period, kernel, flavor, bytes)?)
            }
            (_, None) => Series::Many(TrendflexBatchStream::with_flavor(
                periods, kernel, flavor, threads,
            )?),
            (_, Some(bytes)) => Series::Many(TrendflexBatchStream::resume(
                periods, kernel, flavor, threads, bytes,
            )?),
        })
    }

    /// The concrete kernel.
    pub fn kernel(&self) -> Kernel {
        match self {
            Series::One(s) => s.kernel(),
            Series::Many(s) => s.kernel(),
        }
    }

    pub fn flavor(&self) -> Flavor {
        match self {
            Series::One(s) => s.flavor(),
            Series::Many(s) => s.flavor(),
        }
    }

    /// Worker threads per chunk (1 for one period).
    pub fn threads(&self) -> usize {
        match self {
            Series::One(_) => 1,
            Series::Many(s) => s.threads(),
        }
    }

    /// Feeds the next chunk; `out` holds one row of `prices.len()` values per period.
    pub fn push(&mut self, prices: &[f64], out: &mut [f64]) -> Result<(), Error> {
        match self {
            Series::One(s) => s.push(prices, out),
            Series::Many(s) => s.push(prices, out),
        }
    }

    /// [`Series::push`], and each period's values `spans[r]` into `extremes[r]` while they are
    /// still in the cache (see [`Extremes`]).
    pub fn push_extremes(
        &mut self,
        prices: &[f64],
        out: &mut [f64],
        spans: &[(usize, usize)],
        extremes: &mut [Extremes],
    ) -> Result<(), Error> {
        match self {
            Series::One(s) => {
                s.push(prices, out)?;
                let ([(from, to)], [e]) = (spans, extremes) else {
                    panic!("one span and one extremes for one period");
                };
                e.add(&out[*from..*to]);
                Ok(())
            }
            Series::Many(s) => s.push_extremes(prices, out, spans, extremes),
        }
    }

    /// The whole-series checks of the error table.
    pub fn finish(&self) -> Result<(), Error> {
        match self {
            Series::One(s) => s.finish(),
            Series::Many(s) => s.finish(),
        }
    }

    pub fn save_state(&self) -> Vec<u8> {
        match self {
            Series::One(s) => s.save_state(),
            Series::Many(s) => s.save_state(),
        }
    }
}
