//! One job below the binding: read -> compute -> encode -> write, each stage on a thread of its
//! own, chunk after chunk, until the input ends. Nothing of a chunk goes through the caller:
//! prices, keep columns and results stay here, in buffers allocated once (two price buffers,
//! two result slots), so memory is bounded by two chunks whatever the input's length.
//!
//! The stages overlap: while the kernel computes chunk `k`, the reader reads chunk `k + 1` and
//! the writer encodes chunk `k - 1`. The caller keeps what is not about chunks: the options, the
//! metadata of the finished output, messages, progress (read from [`Progress`] as it likes).

use std::collections::HashMap;
use std::os::fd::RawFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};
use std::thread::Scope;
use std::time::{Duration, Instant};

use arrow_array::{ArrayRef, Float64Array, RecordBatch};
use arrow_buffer::{BooleanBuffer, Buffer, NullBuffer, ScalarBuffer};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use trendflex_core::{self as core, Extremes, Series};
use trendflex_csv::LineNumbers;

use crate::readers::{Chunk, Source, reads_cancelled};
use crate::{Error, Options, Writer};

/// What a job computes and where it writes.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The periods, in the order of the result columns.
    pub periods: Vec<usize>,
    /// The result columns' names, one per period.
    pub result_names: Vec<String>,
    /// The keep columns' names in the output, in the order the source hands them out.
    pub keep_names: Vec<String>,
    /// Rows per chunk.
    pub chunk_rows: usize,
    /// Rows a chunk may grow to when the step asks for longer chunks ([`Step::longer_chunks`]);
    /// `chunk_rows` keeps them as they are.
    pub most_chunk_rows: usize,
    /// The output schema's metadata (Arrow output writes it first; Parquet takes its metadata
    /// when it is finished).
    pub metadata: HashMap<String, String>,
    pub writer: Options,
    /// The output descriptor; it must stay open until the writer is finished or dropped.
    pub fd: RawFd,
    /// The output cannot be taken back (a pipe): hold it until no period can fail for lack of
    /// data any more, so that such a failure leaves nothing half-written downstream.
    pub hold_until_settled: bool,
    /// A signal stops the job at its next chunk. (A live feed instead ends as at the end of its
    /// input: the reader hands out the rows it holds.)
    pub stop_on_signal: bool,
}

/// The rows of one chunk, as a step computes them.
pub struct Rows<'a> {
    /// The prices (a step may change them: `--gaps ffill` per group).
    pub prices: &'a mut [f64],
    /// The keep columns.
    pub keep: &'a [ArrayRef],
    /// CSV: the input line of each row (empty for the other formats).
    pub lines: &'a LineNumbers,
    /// Input row of the first row.
    pub first_row: u64,
    /// Row of the first valid price, and of the first gap under `--gaps propagate` (as the
    /// reader applied `--gaps` to the whole input).
    pub first_valid: Option<u64>,
    pub first_gap: Option<u64>,
}

/// What computes the chunks of a job: one series ([`One`]), or every group of a table
/// (`Groups`, in the grouped module).
pub trait Step: Send {
    /// Computes one chunk into `out` (one row of `prices.len()` values per period) and the
    /// validity of each period into `validity` (`stride` bytes per period; resized here when a
    /// chunk has nulls); returns each period's null count. It may also give each period's
    /// extremes over its valid values (cleared before), which the Parquet writer then need not
    /// read the values again for.
    fn push(
        &mut self,
        rows: Rows<'_>,
        out: &mut [f64],
        validity: &mut Vec<u8>,
        stride: usize,
        extremes: &mut Vec<Extremes>,
    ) -> Result<Vec<usize>, Failure>;

    /// True once no output can be taken back: nothing left to fail for lack of data after
    /// `rows` rows.
    fn settled(&self, rows: u64) -> bool;

    /// Asked after each chunk: true when twice as many rows per chunk would take much less time
    /// (a grid over the groups of an interleaved table). Chunks then grow, once, up to
    /// [`Plan::most_chunk_rows`].
    fn longer_chunks(&self) -> bool {
        false
    }

    /// True when a chunk's outputs are written a few values to each row at a time (the groups
    /// of a table, one after another): its results then go in huge pages (see
    /// [`results_buffer`]).
    fn scatters(&self) -> bool {
        false
    }
}

/// One series: the price column as a whole, computed by one stream of every period.
pub struct One {
    pub series: Series,
    periods: Vec<usize>,
    valid: Valid,
}

impl One {
    pub fn new(series: Series, periods: &[usize]) -> Self {
        One {
            series,
            periods: periods.to_vec(),
            valid: Valid {
                first_valid: None,
                first_gap: None,
            },
        }
    }
}

impl Step for One {
    fn push(
        &mut self,
        rows: Rows<'_>,
        out: &mut [f64],
        validity: &mut Vec<u8>,
        stride: usize,
        extremes: &mut Vec<Extremes>,
    ) -> Result<Vec<usize>, Failure> {
        let n = rows.prices.len();
        self.valid = Valid {
            first_valid: rows.first_valid,
            first_gap: rows.first_gap,
        };
        let spans: Vec<(usize, usize)> = self
            .periods
            .iter()
            .map(|&p| self.valid.rows(p, rows.first_row, n))
            .collect();
        extremes.resize(self.periods.len(), Extremes::new());
        self.series
            .push_extremes(rows.prices, out, &spans, extremes)
            .map_err(Failure::Compute)?;
        if spans.iter().any(|&s| s != (0, n)) {
            validity.resize(stride * self.periods.len(), 0);
            for (r, &(from, to)) in spans.iter().enumerate() {
                fill_validity(&mut validity[r * stride..][..stride], n, from, to);
            }
        }
        Ok(spans.iter().map(|&(from, to)| n - (to - from)).collect())
    }

    fn settled(&self, rows: u64) -> bool {
        let longest = self.periods.iter().copied().max().unwrap_or(0);
        self.valid.settled(rows, longest)
    }
}

/// How far the job is, for a progress display on another thread; and how to stop it.
#[derive(Debug, Default)]
pub struct Progress {
    /// Set from any thread: the job stops at its next chunk ([`Failure::Stopped`]).
    pub stop: AtomicBool,
    pub rows_read: AtomicU64,
    /// Bytes of the input read (compressed bytes for .gz and .zst; 0 for Parquet).
    pub bytes_read: AtomicU64,
    pub rows_computed: AtomicU64,
    pub rows_written: AtomicU64,
}

/// Where the job's own thread waited and worked.
#[derive(Debug, Default, Clone, Copy)]
pub struct Timings {
    /// Waiting for the reader.
    pub read_wait: Duration,
    pub compute: Duration,
    /// Waiting for the writer to hand a result slot back.
    pub write_wait: Duration,
}

/// Why a job failed, by stage: the caller names the input or the output in the message.
#[derive(Debug)]
pub enum Failure {
    Input(Error),
    Compute(core::Error),
    Output(Error),
    /// A `--resume` state that does not fit the job, or is damaged.
    State(crate::state::StateError),
    /// Stopped by [`Progress::stop`], or by a signal ([`crate::readers::cancel_reads`]).
    Stopped,
}

/// A job that read its input to the end: the writer is left to finish (with the metadata only
/// the caller can make), the series to its whole-series checks.
pub struct Done<S> {
    pub step: S,
    pub writer: Writer,
    pub rows: u64,
    pub timings: Timings,
}

/// One chunk as the reader hands it over, with the buffer its prices are in.
struct Read {
    prices: Vec<f64>,
    chunk: Chunk,
    first_valid: Option<u64>,
    first_gap: Option<u64>,
}

/// The results of one chunk: one row of values per period, and validity bitmaps (made only
/// once a chunk has nulls), `stride` bytes per period.
struct Slot {
    values: Vec<f64>,
    validity: Vec<u8>,
}

/// Per column of a chunk's batch: its extremes, where the step gave them.
type ColumnExtremes = Vec<Option<Extremes>>;

/// A slot lent to the writer as Arrow buffers; it comes back when the writer is done with it.
struct Lent {
    values: Buffer,
    validity: Buffer,
}

impl Lent {
    /// The slot's memory again, once no array points into it; fresh memory if one still does.
    fn reclaim(self, values_len: usize, room: usize, huge: bool) -> Slot {
        Slot {
            values: self
                .values
                .into_vec()
                .unwrap_or_else(|_| results_buffer(values_len, room, huge)),
            validity: self.validity.into_vec().unwrap_or_default(),
        }
    }
}

/// One chunk for the writer thread.
struct Write {
    batch: RecordBatch,
    extremes: ColumnExtremes,
    release: bool,
    lent: Lent,
}

/// A chunk's results: `len` zeros, with room for `room` values (the most a chunk may take:
/// memory the system only provides once written, so a chunk that grows grows in place, never
/// holding both sizes), in huge pages where the system offers them for the asking (transparent
/// huge pages in `madvise` mode): a period's row of a default chunk is 108 KB from the next, so
/// the outputs of one input row are each on a page of their own, and an interleaved grid's
/// groups write a few values to each row, one group after another (2,000 interleaved groups x
/// 1,000 rows: 0.97 of the time, from fewer misses of the address translation cache). Only
/// where `huge`: the one-series grid, whose kernels write each row in turn, took 1.06 of the
/// time in huge pages.
fn results_buffer(len: usize, room: usize, huge: bool) -> Vec<f64> {
    let mut values = Vec::with_capacity(room.max(len));
    #[cfg(target_os = "linux")]
    if huge {
        // SAFETY: `sysconf` only reads a constant of the system.
        let page = usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).unwrap_or(4096);
        let start = values.as_ptr() as usize;
        let end = start + values.capacity() * std::mem::size_of::<f64>();
        let (from, to) = (start.next_multiple_of(page), end / page * page);
        if to > from {
            // SAFETY: advice on whole pages inside this vector's own allocation, before any is
            // written; it changes no byte of it, and a refusal leaves ordinary pages.
            unsafe { libc::madvise(from as *mut libc::c_void, to - from, libc::MADV_HUGEPAGE) };
        }
    }
    values.resize(len, 0.0);
    values
}

/// Bytes of one period's validity bitmap for `rows` rows: whole 64-bit words, as Arrow pads them.
fn bitmap_bytes(rows: usize) -> usize {
    rows.div_ceil(64) * 8
}

/// Sets bits `[from, to)` of `bitmap` and clears the rest of its first `len` bits (LSB first,
/// 1 = valid), filling whole bytes where it can.
fn fill_validity(bitmap: &mut [u8], len: usize, from: usize, to: usize) {
    bitmap[..len.div_ceil(8)].fill(0);
    let (first_full, last_full) = (from.div_ceil(8), to / 8);
    if first_full < last_full {
        bitmap[first_full..last_full].fill(0xff);
        for i in (from..first_full * 8).chain(last_full * 8..to) {
            bitmap[i / 8] |= 1 << (i % 8);
        }
    } else {
        for i in from..to {
            bitmap[i / 8] |= 1 << (i % 8);
        }
    }
}

/// Where a period has values: after its warm-up from the first valid price, and before a
/// propagated gap. The rest is null.
#[derive(Debug, Clone, Copy)]
struct Valid {
    first_valid: Option<u64>,
    first_gap: Option<u64>,
}

impl Valid {
    /// Rows `[from, to)` of a chunk of `n` rows starting at input row `first_row` where `period`
    /// has a value.
    fn rows(&self, period: usize, first_row: u64, n: usize) -> (usize, usize) {
        let inside = |row: u64| row.saturating_sub(first_row).min(n as u64) as usize;
        let from = self.first_valid.map_or(n, |v| inside(v + period as u64));
        let to = self.first_gap.map_or(n, inside).max(from);
        (from, to)
    }

    /// True once `rows` rows run more than `period` past the first valid price: from then on
    /// no period can fail for lack of data (the core counts the same way).
    fn settled(&self, rows: u64, period: usize) -> bool {
        self.first_valid
            .is_some_and(|v| rows.saturating_sub(v) > period as u64)
    }
}

/// The output schema: the keep columns with the types they came with, then one nullable
/// Float64 column per period.
fn schema(plan: &Plan, keep_types: &[DataType]) -> SchemaRef {
    let fields = plan
        .keep_names
        .iter()
        .zip(keep_types)
        .map(|(name, t)| Field::new(name, t.clone(), true))
        .chain(
            plan.result_names
                .iter()
                .map(|name| Field::new(name, DataType::Float64, true)),
        )
        .collect::<Vec<_>>();
    Arc::new(Schema::new_with_metadata(fields, plan.metadata.clone()))
}

/// One chunk's record batch over the slot's memory (no copy): the keep columns, then a Float64
/// column per period, with `nulls[r]` nulls in period `r` (its validity in the slot's bitmaps).
fn batch(
    schema: &SchemaRef,
    keep: Vec<ArrayRef>,
    slot: Slot,
    nulls: &[usize],
    n: usize,
    stride: usize,
) -> Result<(RecordBatch, Lent), Error> {
    let values = Buffer::from_vec(slot.values);
    let validity = Buffer::from_vec(slot.validity);
    let results = nulls.iter().enumerate().map(|(r, &count)| {
        let nulls = (count > 0)
            .then(|| NullBuffer::new(BooleanBuffer::new(validity.clone(), r * stride * 8, n)));
        let column = ScalarBuffer::<f64>::new(values.clone(), r * n, n);
        Arc::new(Float64Array::new(column, nulls)) as ArrayRef
    });
    let columns: Vec<ArrayRef> = keep.into_iter().chain(results).collect();
    let batch = RecordBatch::try_new(schema.clone(), columns)?;
    Ok((batch, Lent { values, validity }))
}

/// The reader's thread: fills the price buffers it is given, in turn, until the input ends
/// (a chunk of 0 rows), fails, or nobody takes its chunks any more.
fn read_loop(
    mut source: Source,
    free: Receiver<Vec<f64>>,
    out: SyncSender<Result<Read, Error>>,
    progress: &Progress,
) {
    while let Ok(mut prices) = free.recv() {
        let read = source.next(&mut prices).map(|chunk| {
            let (first_valid, first_gap) = source.gaps();
            progress.rows_read.store(source.rows(), Ordering::Relaxed);
            progress
                .bytes_read
                .store(source.bytes_read(), Ordering::Relaxed);
            Read {
                prices,
                chunk,
                first_valid,
                first_gap,
            }
        });
        let last = !matches!(&read, Ok(r) if r.chunk.rows > 0);
        if out.send(read).is_err() || last {
            return;
        }
    }
}

/// The writer's thread: writes each chunk, hands its slot back, and finally the writer itself
/// (its first error ends the loop and goes back in the slot's place).
fn write_loop(
    mut writer: Writer,
    chunks: Receiver<Write>,
    back: Sender<Result<Lent, Error>>,
    progress: &Progress,
) -> Writer {
    for Write {
        batch,
        extremes,
        release,
        lent,
    } in chunks
    {
        let rows = batch.num_rows() as u64;
        let written = writer.write_with(&batch, &extremes, release);
        drop(batch);
        let failed = written.is_err();
        if !failed {
            progress.rows_written.fetch_add(rows, Ordering::Relaxed);
        }
        if back.send(written.map(|()| lent)).is_err() || failed {
            break;
        }
    }
    writer
}

/// The writer thread and its channels, once the first chunk has said the schema.
struct Writing<'scope> {
    to: SyncSender<Write>,
    back: Receiver<Result<Lent, Error>>,
    thread: std::thread::ScopedJoinHandle<'scope, Writer>,
    in_flight: usize,
}

impl Writing<'_> {
    /// The slot of the oldest chunk in flight, once it is written.
    fn wait(&mut self) -> Result<Lent, Failure> {
        self.in_flight -= 1;
        written(&self.back)
    }

    /// Waits for every chunk in flight, then the writer.
    fn end(self) -> Result<Writer, Failure> {
        let Writing {
            to,
            back,
            thread,
            in_flight,
        } = self;
        drop(to);
        let failure = (0..in_flight).filter_map(|_| written(&back).err()).next();
        let writer = thread
            .join()
            .map_err(|_| Failure::Output(Error::Input("the writer thread panicked".into())))?;
        failure.map_or(Ok(writer), Err)
    }
}

/// What the writer thread says of the oldest chunk in flight.
fn written(back: &Receiver<Result<Lent, Error>>) -> Result<Lent, Failure> {
    match back.recv() {
        Ok(result) => result.map_err(Failure::Output),
        Err(_) => Err(Failure::Output(Error::Input(
            "the writer thread stopped without saying why".into(),
        ))),
    }
}

/// Runs the job: reads `source` to its end through `step` into a writer of `plan`'s output.
/// On success the writer is left unfinished (see [`Done`]); on failure everything started is
/// stopped and dropped (the caller discards the output).
pub fn run<S: Step>(
    source: Source,
    step: S,
    plan: &Plan,
    progress: &Progress,
) -> Result<Done<S>, Failure> {
    let empty_types = source
        .keep_types()
        .unwrap_or_else(|| vec![DataType::Utf8; plan.keep_names.len()]);
    std::thread::scope(|scope| {
        let (free, free_rx) = mpsc::channel::<Vec<f64>>();
        let (read_tx, reads) = mpsc::sync_channel::<Result<Read, Error>>(1);
        for _ in 0..2 {
            // Never fails: the receiver is alive until the reader's thread starts.
            let _ = free.send(vec![0.0; plan.chunk_rows]);
        }
        scope.spawn(move || read_loop(source, free_rx, read_tx, progress));
        let result = compute_loop(scope, step, plan, progress, &free, &reads, &empty_types);
        // Drop the channels before the scope joins the reader, so that it stops if it is not done.
        drop((free, reads));
        result
    })
}

fn stopped(plan: &Plan, progress: &Progress) -> bool {
    progress.stop.load(Ordering::Relaxed) || (plan.stop_on_signal && reads_cancelled())
}

fn compute_loop<'scope, S: Step>(
    scope: &'scope Scope<'scope, '_>,
    mut step: S,
    plan: &'scope Plan,
    progress: &'scope Progress,
    free: &Sender<Vec<f64>>,
    reads: &Receiver<Result<Read, Error>>,
    empty_types: &[DataType],
) -> Result<Done<S>, Failure> {
    let p = plan.periods.len();
    let mut chunk_rows = plan.chunk_rows;
    let room = plan.most_chunk_rows.max(chunk_rows) * p;
    // Two result slots: the kernel fills one while the writer encodes the other.
    let mut fresh = 2usize;
    let mut schema: Option<SchemaRef> = None;
    let mut writing: Option<Writing<'scope>> = None;
    let mut timings = Timings::default();
    let mut rows = 0u64;
    loop {
        if stopped(plan, progress) {
            return Err(Failure::Stopped);
        }
        let waited = Instant::now();
        let mut read = reads
            .recv()
            .map_err(|_| Failure::Input(Error::Input("the reader thread stopped".into())))?
            .map_err(Failure::Input)?;
        timings.read_wait += waited.elapsed();
        let n = read.chunk.rows;
        if n == 0 {
            break;
        }
        let mut slot = match fresh {
            1.. => {
                fresh -= 1;
                Slot {
                    values: results_buffer(n * p, room, step.scatters()),
                    validity: Vec::new(),
                }
            }
            0 => {
                let waited = Instant::now();
                let w = writing.as_mut().expect("slots are lent only to the writer");
                let lent = w.wait()?;
                timings.write_wait += waited.elapsed();
                lent.reclaim(n * p, room, step.scatters())
            }
        };
        if slot.values.len() < n * p {
            // The chunks grew: this slot grows with them (once), in its room.
            slot.values.resize(n * p, 0.0);
        }
        let stride = bitmap_bytes(n);
        let computing = Instant::now();
        let mut extremes = Vec::new();
        let nulls = step.push(
            Rows {
                prices: &mut read.prices[..n],
                keep: &read.chunk.keep,
                lines: &read.chunk.lines,
                first_row: rows,
                first_valid: read.first_valid,
                first_gap: read.first_gap,
            },
            &mut slot.values[..n * p],
            &mut slot.validity,
            stride,
            &mut extremes,
        )?;
        timings.compute += computing.elapsed();
        if chunk_rows < plan.most_chunk_rows && step.longer_chunks() {
            chunk_rows = plan.most_chunk_rows;
        }
        // The reader fills the buffer it is given: its length is the next chunk's rows.
        read.prices.resize(chunk_rows, 0.0);
        let _ = free.send(read.prices); // the reader may have stopped at the end: nothing lost
        let schema = schema.get_or_insert_with(|| {
            let types: Vec<DataType> = read
                .chunk
                .keep
                .iter()
                .map(|a| a.data_type().clone())
                .collect();
            self::schema(plan, &types)
        });
        // The keep columns have none.
        let extremes: ColumnExtremes = (0..read.chunk.keep.len())
            .map(|_| None)
            .chain(extremes.into_iter().map(Some))
            .collect();
        let (batch, lent) =
            batch(schema, read.chunk.keep, slot, &nulls, n, stride).map_err(Failure::Output)?;
        rows += n as u64;
        progress.rows_computed.store(rows, Ordering::Relaxed);
        if writing.is_none() {
            writing = Some(start_writer(scope, schema.clone(), plan, progress)?);
        }
        let w = writing.as_mut().expect("started above");
        let release = !plan.hold_until_settled || step.settled(rows);
        if w.to
            .send(Write {
                batch,
                extremes,
                release,
                lent,
            })
            .is_err()
        {
            // The writer stopped on an error: it is waiting in the channel back.
            return Err(w.wait().err().unwrap_or(Failure::Output(Error::Input(
                "the writer thread stopped".into(),
            ))));
        }
        w.in_flight += 1;
    }
    let writer = match writing {
        Some(w) => w.end()?,
        None => {
            // No rows: an output of the schema alone (keep columns typed when the input says).
            let schema = self::schema(plan, empty_types);
            Writer::new(schema, plan.fd, &plan.writer).map_err(Failure::Output)?
        }
    };
    Ok(Done {
        step,
        writer,
        rows,
        timings,
    })
}

fn start_writer<'scope>(
    scope: &'scope Scope<'scope, '_>,
    schema: SchemaRef,
    plan: &'scope Plan,
    progress: &'scope Progress,
) -> Result<Writing<'scope>, Failure> {
    let writer = Writer::new(schema, plan.fd, &plan.writer).map_err(Failure::Output)?;
    let (to, chunks) = mpsc::sync_channel::<Write>(1);
    let (back_tx, back) = mpsc::channel();
    let thread = scope.spawn(move || write_loop(writer, chunks, back_tx, progress));
    Ok(Writing {
        to,
        back,
        thread,
        in_flight: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validity_bits_cover_exactly_the_span() {
        for len in [1, 7, 8, 9, 63, 64, 65, 200] {
            for from in 0..=len.min(20) {
                for to in [from, from + 1, len / 2, len] {
                    if to < from || to > len {
                        continue;
                    }
                    let mut bitmap = vec![0xAAu8; bitmap_bytes(len)];
                    fill_validity(&mut bitmap, len, from, to);
                    for i in 0..len {
                        let set = bitmap[i / 8] >> (i % 8) & 1 == 1;
                        assert_eq!(
                            set,
                            (from..to).contains(&i),
                            "len {len} [{from}, {to}) bit {i}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn a_period_has_values_after_its_warm_up_and_before_a_propagated_gap() {
        let none = Valid {
            first_valid: None,
            first_gap: None,
        };
        assert_eq!(
            none.rows(5, 0, 10),
            (10, 10),
            "no valid price yet: all null"
        );
        let v = Valid {
            first_valid: Some(3),
            first_gap: Some(25),
        };
        assert_eq!(v.rows(5, 0, 10), (8, 10));
        assert_eq!(v.rows(5, 10, 10), (0, 10));
        assert_eq!(v.rows(5, 20, 10), (0, 5));
        assert_eq!(v.rows(5, 30, 10), (0, 0));
        assert!(!v.settled(8, 5) && v.settled(9, 5));
    }
}
