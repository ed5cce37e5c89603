//! Many series in one table: every row carries a group id, and every group gets its own
//! TrendFlex (its own first valid price, warm-up, gaps and errors), bit-identical to running that
//! group alone. Per chunk, rows are gathered by group (a stable counting sort, so each group's
//! prices stay in order), and the groups' segments go through their own streams in parallel.
//!
//! A long run of one group (a stacked table: groups one after another) runs on the job's kernel
//! straight into the chunk's rows when it is one run of them (else into a segment of results,
//! scattered back to the rows' places), and leaves the group as its saved state. A few rows of
//! a group (an interleaved table: rows sorted by time across groups) go through its
//! [`LazySeries`], which writes straight to the rows' places and holds only the periods that
//! have started. Memory is one small state per group plus the chunk.

use crate::batch::{self, Exec, Marks, Run, mark};
use crate::extremes::Extremes;
use crate::gaps::{GapMode, Gaps};
use crate::lazy::LazySeries;
use crate::{Error, Flavor, Kernel, Series, dispatch, params};

/// A group's stream. A group that comes a few rows at a time (an interleaved table) is a
/// [`LazySeries`]: its periods start as their first outputs come due. One that comes as a long
/// run (a stacked table) runs on the job's kernel, and is then kept as its saved state, a few KB
/// where a live stream of many periods holds hundreds, until the group comes again.
enum Stream {
    Lazy(LazySeries),
    Live(Series),
    /// The saved state, and the whole-series checks as they stood when it was saved.
    Dormant(Vec<u8>, Result<(), Error>),
    /// Every price of a group whose whole history was one long run shorter than its longest
    /// period, and the checks: the stream is rebuilt from them, and they take fewer bytes than
    /// its saved state (800 against about 6,300 for 100 rows of `5:231`).
    Prices(Vec<f64>, Result<(), Error>),
}

struct Group {
    stream: Stream,
    gaps: Gaps,
    /// Rows of this group seen so far.
    rows: u64,
}

impl Group {
    /// Its lazy series, if that is what its stream is.
    fn lazy(&self) -> Option<&LazySeries> {
        match &self.stream {
            Stream::Lazy(lazy) => Some(lazy),
            _ => None,
        }
    }
}

/// A group that cannot give every period a value: why (its first failing check).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupReport {
    pub group: u32,
    pub error: Error,
}

/// Why a push failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupError {
    /// A missing price after the group's first valid one, under `GapMode::Error`: the group and
    /// the row of the chunk (the earliest such row of the chunk).
    Gap { group: u32, row: usize },
}

/// One group's share of a chunk, while it is computed.
struct Work<'a> {
    group: Option<Group>,
    id: u32,
    /// Where the segment starts among the gathered rows.
    start: usize,
    prices: &'a mut [f64],
    /// The chunk rows the prices came from, in order.
    rows: &'a [u32],
    out: &'a mut [f64],
    gap: Option<usize>,
    /// The outputs went straight to the chunk's rows, not to `out`.
    direct: bool,
    /// The segment is one run of the chunk's rows, computed straight into them after the
    /// parallel pass.
    strided: bool,
}

impl Work<'_> {
    /// The group's lazy series, if that is what it is.
    fn lazy(&self) -> Option<&LazySeries> {
        self.group.as_ref().and_then(Group::lazy)
    }

    /// The group's lazy series when its rows of the chunk go through it (fewer than
    /// [`DORMANT_AFTER`]), written straight to their places.
    fn lazily(&self) -> Option<&LazySeries> {
        self.lazy().filter(|_| self.prices.len() < DORMANT_AFTER)
    }
}

/// The chunk's output (row-major, a row of `stride` values per period), shared by the groups
/// computed in parallel: each writes only the columns of its own rows, which no other group has.
#[derive(Clone, Copy)]
struct Columns {
    ptr: *mut f64,
    stride: usize,
    len: usize,
}

// SAFETY: `Columns` is a pointer into one `&mut [f64]` that outlives every use (the parallel
// loop of one `push`); threads write through it only at disjoint indices (see `set`).
unsafe impl Send for Columns {}
// SAFETY: as for `Send`: no two threads ever touch the same index.
unsafe impl Sync for Columns {}

impl Columns {
    fn new(out: &mut [f64], stride: usize) -> Self {
        Columns {
            ptr: out.as_mut_ptr(),
            stride,
            len: out.len(),
        }
    }

    /// Writes row `row`, column `col`.
    ///
    /// # Safety
    /// No other thread may read or write column `col` while the `Columns` is in use: the caller
    /// owns that chunk row. Out-of-range indices panic.
    #[inline(always)]
    unsafe fn set(&self, row: usize, col: usize, v: f64) {
        let at = row * self.stride + col;
        assert!(
            col < self.stride && at < self.len,
            "inside the chunk's output"
        );
        // SAFETY: `at` is inside the slice `ptr` came from (checked above), which is borrowed
        // mutably for as long as `self` is used; the caller owns column `col`.
        unsafe { *self.ptr.add(at) = v };
    }
}

/// One output row's validity bits, its count of missing values, and its values' extremes.
type RowMarks<'a> = (&'a mut [u8], &'a mut u32, &'a mut Extremes);

const NONE: u32 = u32::MAX;

/// Groups a thread computes one after another, each fetching the next one's state.
const GROUP_RUN: usize = 16;

/// Rows per lazy group and chunk, on average, from which longer chunks are asked for (see
/// [`GroupedStream::wants_longer_chunks`]).
const LONGER_CHUNK_ROWS: usize = 4;

/// Chunks of fewer rows are computed on the calling thread.
const SMALL_CHUNK: usize = 256;

/// A group's run of at least this many rows in a chunk leaves it dormant. (Waking costs about
/// what 64 rows of 227 periods cost to compute; 20,000 stacked groups of 100 rows stayed live
/// with 256 and took 3.8 GB.)
const DORMANT_AFTER: usize = 64;

/// Rows of room a live group's kernels keep past their longest period, for a group that came as
/// a long run and then comes a few rows at a time: a group fed a few rows a chunk held 1.2 MB for
/// 227 periods with the default 512, about 0.4 MB with 16, and ran faster.
const GROUP_ROOM: usize = 16;

/// Writes NaN over the whole chunk (on `exec`, the chunk's threads) in the rows of the periods
/// that no group computed lazily straight into its rows in this chunk has started (from the
/// returned one on in start order; none, if that is not worth it), so that those groups write
/// only their values: one pass along each such row, rather than one store per row, period and
/// group (an interleaved chunk of groups younger than their longest periods: most of `5:231` for
/// groups of 100 rows).
fn fill_unstarted(
    work: &[Work<'_>],
    start_order: &[usize],
    exec: &Exec,
    out: &mut [f64],
    n: usize,
) -> usize {
    let p = start_order.len();
    let (mut first, mut stores) = (p, 0);
    for w in work {
        if let Some(lazy) = w.lazily() {
            first = first.min(lazy.started());
            stores += w.prices.len() * (p - lazy.started());
        }
    }
    // A NaN put costs a few times what a value of a sequential fill does.
    if first == p || 4 * stores < (p - first) * n {
        return p;
    }
    let mut unstarted = vec![false; p];
    for &r in &start_order[first..] {
        unstarted[r] = true;
    }
    let mut rows: Vec<&mut [f64]> = out
        .chunks_mut(n.max(1))
        .zip(&unstarted)
        .filter_map(|(row, &fill)| fill.then_some(row))
        .collect();
    exec.for_each(&mut rows, |row| row.fill(f64::NAN));
    first
}

/// A group's rows of a chunk are one run of the chunk's rows (they are increasing, so the last
/// is as far from the first as the length says), long, of many periods: computed straight into
/// the chunk's rows.
fn strided(rows: &[u32], periods: usize) -> bool {
    let len = rows.len();
    periods > 1 && len >= DORMANT_AFTER && rows[len - 1] as usize == rows[0] as usize + len - 1
}

/// A group's live stream, small: see [`GROUP_ROOM`].
fn group_series(
    periods: &[usize],
    kernel: Kernel,
    flavor: Flavor,
    state: Option<&[u8]>,
) -> Result<Series, Error> {
    let mut series = Series::new(periods, kernel, flavor, 1, state)?;
    if let Series::Many(s) = &mut series {
        s.set_room(GROUP_ROOM);
    }
    Ok(series)
}

/// A group's live stream after `prices`, its whole history.
fn replayed(prices: &[f64], periods: &[usize], kernel: Kernel, flavor: Flavor) -> Series {
    let mut series =
        group_series(periods, kernel, flavor, None).expect("the job's periods were checked");
    let mut out = vec![0.0; periods.len() * prices.len()];
    // Lengths match by construction, so the stream cannot refuse.
    let _ = series.push(prices, &mut out);
    series
}

/// After a long run, a group (a stacked table's) is likely done for a while: it keeps its saved
/// state only, as thousands of groups may wait at once. Groups that come a few rows at a time
/// (interleaved) stay lazy or live, or every chunk would save and restore them.
fn settle(g: &mut Group, prices: &[f64], longest: usize) {
    if prices.len() < DORMANT_AFTER {
        return;
    }
    let series = g.stream.live();
    let checked = series.finish();
    g.stream = if g.rows == prices.len() as u64 && prices.len() <= longest {
        Stream::Prices(prices.to_vec(), checked)
    } else {
        Stream::Dormant(series.save_state(), checked)
    };
}

impl Stream {
    /// The live stream, restored first if the group was dormant or lazy.
    fn wake(&mut self, periods: &[usize], kernel: Kernel, flavor: Flavor) -> &mut Series {
        // Saved by a stream of these very periods and flavour: it restores.
        let restored = |saved: &[u8]| {
            group_series(periods, kernel, flavor, Some(saved))
                .expect("a group's own state restores")
        };
        let series = match &*self {
            Stream::Live(_) => return self.live(),
            Stream::Dormant(saved, _) => restored(saved),
            Stream::Lazy(lazy) => restored(&lazy.save_state()),
            Stream::Prices(prices, _) => replayed(prices, periods, kernel, flavor),
        };
        *self = Stream::Live(series);
        self.live()
    }

    /// The stream of a live group.
    fn live(&mut self) -> &mut Series {
        match self {
            Stream::Live(series) => series,
            _ => unreachable!("woken above"),
        }
    }

    fn finish(&self) -> Result<(), Error> {
        match self {
            Stream::Lazy(lazy) => lazy.finish(),
            Stream::Live(series) => series.finish(),
            Stream::Dormant(_, checked) | Stream::Prices(_, checked) => checked.clone(),
        }
    }
}

pub struct GroupedStream {
    periods: Vec<usize>,
    kernel: Kernel,
    flavor: Flavor,
    gap_mode: GapMode,
    exec: Exec,
    /// A new group's stream, cloned for each (its periods' coefficients computed once): for a
    /// group that starts with a long run, and for one that starts a few rows at a time.
    fresh: Series,
    fresh_lazy: LazySeries,
    groups: Vec<Option<Group>>,
    // Scratch, reused chunk after chunk.
    local: Vec<u32>,
    present: Vec<u32>,
    starts: Vec<usize>,
    order: Vec<u32>,
    gathered: Vec<f64>,
    results: Vec<f64>,
    last_chunk: LastChunk,
}

/// How the last chunk's rows went: to how many groups computed lazily, straight to their rows.
#[derive(Debug, Clone, Copy, Default)]
struct LastChunk {
    rows: usize,
    lazy_rows: usize,
    lazy_groups: usize,
}

impl GroupedStream {
    /// `periods` in row order; `gaps` applies within each group; groups are computed in parallel
    /// on `threads` threads (0 = all cores). Default flavour.
    pub fn new(
        periods: &[usize],
        kernel: Kernel,
        gaps: GapMode,
        threads: usize,
    ) -> Result<Self, Error> {
        Self::with_flavor(periods, kernel, Flavor::VectorTa, gaps, threads)
    }

    /// [`GroupedStream::new`] in the given flavour.
    pub fn with_flavor(
        periods: &[usize],
        kernel: Kernel,
        flavor: Flavor,
        gaps: GapMode,
        threads: usize,
    ) -> Result<Self, Error> {
        params::check_periods(periods)?;
        let kernel = dispatch::resolve(kernel)?;
        Ok(GroupedStream {
            periods: periods.to_vec(),
            fresh: group_series(periods, kernel, flavor, None)?,
            fresh_lazy: LazySeries::new(periods, flavor, kernel),
            kernel,
            flavor,
            gap_mode: gaps,
            exec: Exec::new(threads)?,
            groups: Vec::new(),
            local: Vec::new(),
            present: Vec::new(),
            starts: Vec::new(),
            order: Vec::new(),
            gathered: Vec::new(),
            results: Vec::new(),
            last_chunk: LastChunk::default(),
        })
    }

    /// The concrete kernel.
    pub fn kernel(&self) -> Kernel {
        self.kernel
    }

    /// The flavour computed.
    pub fn flavor(&self) -> Flavor {
        self.flavor
    }

    /// True when the last chunk went mostly to the groups of an interleaved table, each with
    /// several rows (at least [`LONGER_CHUNK_ROWS`] on average): each group's state (up to about
    /// 213 KB for `5:231`) is fetched from memory once per chunk and shared by its rows there, so
    /// chunks twice as long fetch it half as often, for the memory of longer chunks' results.
    /// (Thousands of groups with about a row each per chunk hold more state than that memory
    /// would save time.)
    pub fn wants_longer_chunks(&self) -> bool {
        let c = self.last_chunk;
        c.rows >= SMALL_CHUNK
            && 4 * c.lazy_rows >= 3 * c.rows
            && c.lazy_rows >= LONGER_CHUNK_ROWS * c.lazy_groups
    }

    /// Groups seen so far.
    pub fn groups(&self) -> usize {
        self.groups.iter().filter(|g| g.is_some()).count()
    }

    /// A group whose first rows are a run of `rows`.
    fn new_group(&self, rows: usize) -> Group {
        Group {
            stream: if rows >= DORMANT_AFTER {
                Stream::Live(self.fresh.clone())
            } else {
                Stream::Lazy(self.fresh_lazy.clone())
            },
            gaps: Gaps::new(self.gap_mode),
            rows: 0,
        }
    }

    /// Everything group `id` needs to continue later, bit for bit (`None` for a group never
    /// seen): its rows, its gap policy's state, and its stream's saved state. See
    /// [`GroupedStream::restore_group`].
    pub fn save_group(&self, id: u32) -> Option<Vec<u8>> {
        let g = self.groups.get(id as usize)?.as_ref()?;
        let mut b = Vec::new();
        b.extend_from_slice(&g.rows.to_le_bytes());
        let flags =
            u8::from(g.gaps.first_valid.is_some()) | u8::from(g.gaps.first_gap.is_some()) << 1;
        b.push(flags);
        b.extend_from_slice(&g.gaps.first_valid.unwrap_or(0).to_le_bytes());
        b.extend_from_slice(&g.gaps.first_gap.unwrap_or(0).to_le_bytes());
        b.extend_from_slice(&g.gaps.last().to_le_bytes());
        match &g.stream {
            Stream::Lazy(s) => b.extend_from_slice(&s.save_state()),
            Stream::Live(s) => b.extend_from_slice(&s.save_state()),
            Stream::Dormant(saved, _) => b.extend_from_slice(saved),
            Stream::Prices(prices, _) => b.extend_from_slice(
                &replayed(prices, &self.periods, self.kernel, self.flavor).save_state(),
            ),
        }
        Some(b)
    }

    /// Group `id` continues from what [`GroupedStream::save_group`] gave (by a stream of the same
    /// periods and flavour; any kernel).
    pub fn restore_group(&mut self, id: u32, bytes: &[u8]) -> Result<(), Error> {
        let corrupt = || {
            Error::State(crate::StateError::Corrupt {
                reason: format!("group {id} ends early"),
            })
        };
        let (head, series) = bytes.split_at_checked(33).ok_or_else(corrupt)?;
        let u64_at = |at: usize| u64::from_le_bytes(head[at..at + 8].try_into().expect("8 bytes"));
        let (rows, flags) = (u64_at(0), head[8]);
        let first_valid = (flags & 1 != 0).then(|| u64_at(9));
        let first_gap = (flags & 2 != 0).then(|| u64_at(17));
        let last = f64::from_bits(u64_at(25));
        let series = group_series(&self.periods, self.kernel, self.flavor, Some(series))?;
        let g = id as usize;
        if g >= self.groups.len() {
            self.groups.resize_with(g + 1, || None);
            self.local.resize(g + 1, NONE);
        }
        self.groups[g] = Some(Group {
            stream: Stream::Live(series),
            gaps: Gaps::restored(self.gap_mode, first_valid, first_gap, last),
            rows,
        });
        Ok(())
    }

    /// Feeds a chunk: row `i` has price `prices[i]` and belongs to group `ids[i]` (any ids; a
    /// new one starts a group). `out` is row-major, `periods.len()` rows of `prices.len()`.
    /// `prices` may be changed (`GapMode::Ffill` fills them).
    pub fn push(
        &mut self,
        ids: &[u32],
        prices: &mut [f64],
        out: &mut [f64],
    ) -> Result<(), GroupError> {
        self.push_inner(ids, prices, out, None)
    }

    /// [`GroupedStream::push`], and the outputs' validity: bit `i` of period `r`'s bitmap
    /// (`validity[r * stride..][..stride]`, Arrow's bit order) is set when output `i` has a value
    /// (is not NaN); padding bits are clear. Returns each period's count of missing outputs.
    /// Period `r`'s values (its outputs that are not NaN) also go into `extremes[r]`. A stacked
    /// group's outputs are marked by the kernels' threads as they write them, while they are in
    /// cache (a pass over the chunk afterwards read 25 MB a chunk again at 5:231).
    pub fn push_marked(
        &mut self,
        ids: &[u32],
        prices: &mut [f64],
        out: &mut [f64],
        validity: &mut [u8],
        stride: usize,
        extremes: &mut [Extremes],
    ) -> Result<Vec<u32>, GroupError> {
        let p = self.periods.len();
        assert_eq!(extremes.len(), p, "extremes per period");
        assert!(
            stride * 8 >= prices.len() && validity.len() >= p * stride,
            "a bitmap of the chunk's rows per period"
        );
        validity[..p * stride].fill(0);
        let mut nulls = vec![0u32; p];
        self.push_inner(
            ids,
            prices,
            out,
            Some(Marks {
                bits: &mut validity[..p * stride],
                stride,
                nulls: &mut nulls,
                extremes,
            }),
        )?;
        Ok(nulls)
    }

    fn push_inner(
        &mut self,
        ids: &[u32],
        prices: &mut [f64],
        out: &mut [f64],
        mut marks: Option<Marks<'_>>,
    ) -> Result<(), GroupError> {
        let n = prices.len();
        let p = self.periods.len();
        assert_eq!(ids.len(), n, "one group id per price");
        assert_eq!(out.len(), p * n, "periods x prices outputs");
        // Count each group's rows, in order of first appearance.
        self.present.clear();
        self.starts.clear();
        for &id in ids {
            let g = id as usize;
            if g >= self.local.len() {
                self.local.resize(g + 1, NONE);
                self.groups.resize_with(g + 1, || None);
            }
            if self.local[g] == NONE {
                self.local[g] = self.present.len() as u32;
                self.present.push(id);
                self.starts.push(0);
            }
            self.starts[self.local[g] as usize] += 1;
        }
        // Counts to starts, then a stable placement of every row.
        let mut at = 0;
        for s in &mut self.starts {
            let count = *s;
            *s = at;
            at += count;
        }
        let mut cursor = self.starts.clone();
        self.order.resize(n, 0);
        self.gathered.resize(n, 0.0);
        for (i, &id) in ids.iter().enumerate() {
            let l = self.local[id as usize] as usize;
            self.order[cursor[l]] = i as u32;
            self.gathered[cursor[l]] = prices[i];
            cursor[l] += 1;
        }
        for (l, &id) in self.present.iter().enumerate() {
            if self.groups[id as usize].is_none() {
                self.groups[id as usize] = Some(self.new_group(cursor[l] - self.starts[l]));
            }
        }
        // Each group's segment of prices and of results, disjoint, computed in parallel.
        let mut work = Vec::with_capacity(self.present.len());
        let mut prices_left = &mut self.gathered[..];
        for (l, &id) in self.present.iter().enumerate() {
            let (start, len) = (self.starts[l], cursor[l] - self.starts[l]);
            let (seg, rest) = prices_left.split_at_mut(len);
            prices_left = rest;
            let rows = &self.order[start..start + len];
            work.push(Work {
                group: self.groups[id as usize].take(),
                id,
                start,
                prices: seg,
                rows,
                out: &mut [],
                gap: None,
                direct: false,
                strided: strided(rows, p),
            });
        }
        // Only a live group's few rows are computed into a segment of results: when there is
        // none (every group lazy, as in an interleaved table), the results are not even
        // allocated.
        let mut last = LastChunk {
            rows: n,
            ..LastChunk::default()
        };
        let mut segments = false;
        for w in &work {
            if w.lazily().is_some() {
                last.lazy_rows += w.prices.len();
                last.lazy_groups += 1;
            } else if !w.strided {
                segments = true;
            }
        }
        self.last_chunk = last;
        self.results.resize(if segments { p * n } else { 0 }, 0.0);
        if segments {
            let mut out_left = &mut self.results[..];
            for w in &mut work {
                let (res, rest) = std::mem::take(&mut out_left).split_at_mut(p * w.prices.len());
                w.out = res;
                out_left = rest;
            }
        }
        // A small chunk (a live feed's few rows) is done on this thread: handing it to the
        // pool and waiting for it costs more than the work, and adds wake-up jitter.
        let exec = if n < SMALL_CHUNK {
            &Exec::Sequential
        } else {
            &self.exec
        };
        let filled = fill_unstarted(&work, self.fresh_lazy.start_order(), exec, out, n);
        let columns = Columns::new(out, n);
        let (periods, kernel, flavor) = (&self.periods[..], self.kernel, self.flavor);
        let longest = periods.iter().copied().max().unwrap_or(0);
        let push_group = |w: &mut Work<'_>| {
            let g = w.group.as_mut().expect("every present group has a state");
            if let Err(at) = g.gaps.apply(w.prices, g.rows) {
                w.gap = Some(at);
                return;
            }
            g.rows += w.prices.len() as u64;
            if let Stream::Lazy(lazy) = &mut g.stream
                && w.prices.len() < DORMANT_AFTER
            {
                // Written straight to their places: a group's segment copied to the rows
                // afterwards (the rows of all groups, a period at a time) read each row's
                // values from thousands of places, each a miss (2,000 interleaved groups:
                // 0.91 of the time without it).
                let rows = w.rows;
                lazy.push(w.prices, filled, |r, c, v| {
                    // SAFETY: chunk row `rows[c]` belongs to this group alone (the counting sort
                    // gives every row to one segment).
                    unsafe { columns.set(r, rows[c] as usize, v) }
                });
                w.direct = true;
                return;
            }
            let series = g.stream.wake(periods, kernel, flavor);
            if w.strided {
                // Computed below, straight into the chunk's rows.
                return;
            }
            // Lengths match by construction, so the streams cannot refuse.
            let _ = series.push(w.prices, w.out);
            settle(g, w.prices, longest);
        };
        // Groups in runs of a few, each run on one thread in order: while one group computes,
        // the next one's windows are fetched, and the arrays of the one after (2,000
        // interleaved groups hold about 430 MB, far more than the caches, and each comes back
        // after all the others; where a window's head is is itself in the state).
        let mut lots: Vec<&mut [Work<'_>]> = work.chunks_mut(GROUP_RUN).collect();
        exec.for_each(&mut lots, |run| {
            run.iter()
                .take(2)
                .filter_map(|w| w.lazy())
                .for_each(LazySeries::prefetch_arrays);
            for k in 0..run.len() {
                if let Some(next) = run.get(k + 2).and_then(Work::lazy) {
                    next.prefetch_arrays();
                }
                if let Some(next) = run.get(k + 1).and_then(Work::lazy) {
                    next.prefetch_windows(run[k + 1].prices.len());
                }
                push_group(&mut run[k]);
            }
        });
        // A group's run that is one run of the chunk's rows, of many periods (a stacked table's
        // groups): written straight into the chunk's rows, rather than into a segment that is
        // then copied back (3.6 GB of copies for 2,000 groups x 1,000 rows of `5:231`). All the
        // chunk's such runs go to the threads at once, each thread running its periods for every
        // group (a hand-over per group cost a thread wake-up per group).
        let mut marked: Vec<(usize, usize)> = Vec::new();
        let mut runs = Vec::new();
        for w in work.iter_mut().filter(|w| w.strided && w.gap.is_none()) {
            let g = w.group.as_mut().expect("every present group has a state");
            if let Stream::Live(Series::Many(series)) = &mut g.stream {
                // The run ends inside the chunk's rows, by construction.
                let first = self.order[w.start] as usize;
                if marks.is_some() {
                    marked.push((first, first + w.prices.len()));
                }
                runs.push(Run {
                    units: series.lend_units(w.prices),
                    prices: w.prices,
                    first,
                });
            }
        }
        batch::push_runs(exec, &mut runs, out, n, marks.as_mut());
        drop(runs);
        exec.for_each(&mut work, |w| {
            if w.strided && w.gap.is_none() {
                let g = w.group.as_mut().expect("every present group has a state");
                settle(g, w.prices, longest);
            }
        });
        let mut gap: Option<GroupError> = None;
        // The segments to scatter: those not written straight to their rows.
        let mut spans: Vec<(usize, usize)> = Vec::new();
        for w in work {
            if !w.direct && !w.strided {
                spans.push((w.start, w.start + w.prices.len()));
            }
            if let Some(at) = w.gap {
                let row = self.order[w.start + at] as usize;
                if gap
                    .as_ref()
                    .is_none_or(|GroupError::Gap { row: r, .. }| row < *r)
                {
                    gap = Some(GroupError::Gap { group: w.id, row });
                }
            }
            self.groups[w.id as usize] = w.group;
        }
        for &id in &self.present {
            self.local[id as usize] = NONE;
        }
        if let Some(e) = gap {
            return Err(e);
        }
        // The columns to mark: all but the stacked groups' runs, marked already.
        let rest = marks
            .as_ref()
            .filter(|_| marked.iter().map(|(f, t)| t - f).sum::<usize>() < n)
            .map(|_| {
                marked.sort_unstable();
                let mut rest = Vec::with_capacity(marked.len() + 1);
                let mut at = 0;
                for &(from, to) in &marked {
                    if from > at {
                        rest.push((at, from));
                    }
                    at = to;
                }
                if at < n {
                    rest.push((at, n));
                }
                rest
            });
        if spans.is_empty() && rest.is_none() {
            return Ok(());
        }
        // One pass over the output rows, each copied from its segments and then marked while
        // it is still in the cache (a row of a default chunk is 108 KB).
        let rows = out.chunks_mut(n.max(1)).take(self.periods.len());
        let mut rows: Vec<(usize, &mut [f64], Option<RowMarks>)> = match (marks, &rest) {
            (Some(m), Some(_)) => rows
                .zip(m.bits.chunks_mut(m.stride).zip(m.nulls.iter_mut()))
                .zip(m.extremes.iter_mut())
                .enumerate()
                .map(|(r, ((row, (bits, nulls)), e))| (r, row, Some((bits, nulls, e))))
                .collect(),
            _ => rows.enumerate().map(|(r, row)| (r, row, None)).collect(),
        };
        exec.for_each(&mut rows, |(r, row, marks)| {
            self.scatter(&spans, *r, row);
            if let (Some((bits, nulls, extremes)), Some(rest)) = (marks, &rest) {
                for &(from, to) in rest {
                    **nulls += mark(&row[from..to], bits, from);
                    extremes.add_valid(&row[from..to]);
                }
            }
        });
        Ok(())
    }

    /// Copies period `r`'s values of the segments `spans` (of the gathered rows) from the
    /// results to its output row.
    fn scatter(&self, spans: &[(usize, usize)], r: usize, row: &mut [f64]) {
        let p = self.periods.len();
        for &(s, e) in spans {
            let seg = &self.results[p * s + r * (e - s)..p * s + (r + 1) * (e - s)];
            // A segment's rows are in increasing order: if its last is as far from its first
            // as its length says, they are one run of the chunk (a stacked table).
            let first = self.order[s] as usize;
            if self.order[e - 1] as usize == first + (e - s - 1) {
                row[first..first + seg.len()].copy_from_slice(seg);
                continue;
            }
            for (k, &v) in seg.iter().enumerate() {
                row[self.order[s + k] as usize] = v;
            }
        }
    }

    /// The groups that cannot give every period a value, each with its first failing check
    /// (too few valid prices, or none). Their outputs are missing where there is no value.
    pub fn finish(&self) -> Vec<GroupReport> {
        self.groups
            .iter()
            .enumerate()
            .filter_map(|(id, g)| {
                g.as_ref()?.stream.finish().err().map(|error| GroupReport {
                    group: id as u32,
                    error,
                })
            })
            .collect()
    }
}
