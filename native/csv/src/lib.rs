//! Streaming CSV reader for trendflex, without Node and without I/O: bytes go in, in pieces of
//! any size; out come a price column (f64, NaN where missing) and the `--keep` columns in Arrow's
//! layout, typed from a fixed sample or as declared. Every refusal names its line.
//!
//! This file holds the reader: bytes in, blocks out to threads, rows taken in order. Concerns,
//! one module each: [`options`] says what is read; [`cut`] finds where the complete records read
//! so far end (and where they can be cut into blocks for other threads); [`block`] parses one
//! block of whole records on any thread, through [`plain`] (no quotes: lines as written, found by
//! [`scan`]) or [`split`] (csv-core), into rows; [`columns`] finds columns by name or position
//! (also for Parquet inputs), [`number`] parses fields, [`keep`] types and lays out keep columns;
//! [`error`] says why an input was refused, quoting it through [`text`].

mod block;
pub mod columns;
mod cut;
mod error;
mod keep;
mod line_numbers;
pub mod number;
mod options;
mod plain;
mod scan;
mod split;
mod text;

pub use block::Header;
pub use columns::{MatchError, match_column, match_position};
pub use error::CsvError;
pub use keep::{KeepColumn, KeepType, KeepValues};
pub use line_numbers::LineNumbers;
pub use options::{BLOCK_BYTES, Keep, Options, SAMPLE_ROWS};
pub use text::escape;

use block::{Rows, Shape, Start};
use cut::Cutter;
use split::Lines;

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// A seeded generator (an LCG) for the unit tests' inputs.
#[cfg(test)]
pub(crate) fn test_rng(mut seed: u64) -> impl FnMut() -> usize {
    move || {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) as usize
    }
}

/// Pieces parsed at once: the next is launched before the last has landed, so that no core
/// waits while one block of a piece is still being parsed (or while its rows are queued).
const FLIGHTS: usize = 2;

/// Text bytes one keep column may hand out per take: Arrow's Utf8 offsets are `i32`.
const TEXT_LIMIT: usize = i32::MAX as usize;

/// Rows moved out by [`CsvReader::take`].
#[derive(Debug, Clone, PartialEq)]
pub struct Taken {
    pub rows: usize,
    /// One per keep column; empty when no row was taken.
    pub keep: Vec<KeepColumn>,
    /// The input line of every row taken.
    pub lines: LineNumbers,
}

/// Blocks of one piece being parsed on threads of their own: each gives its rows (lines counted
/// from 0) and where its lines stand after it, or its error.
struct Flight {
    parts: Vec<Part>,
    bytes: std::sync::Arc<Vec<u8>>,
}

type Parsed = (Rows, Result<Lines, CsvError>);

enum Part {
    Running(std::thread::JoinHandle<Parsed>),
    /// Parsed on the calling thread: the system would not start another.
    Done(Box<Parsed>),
}

impl Part {
    fn finish(self) -> Parsed {
        match self {
            Part::Running(h) => h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)),
            Part::Done(parsed) => *parsed,
        }
    }
}

/// One block of a piece: what a thread needs to parse it on its own.
struct Job {
    bytes: std::sync::Arc<Vec<u8>>,
    block: std::ops::Range<usize>,
    start: Start,
    options: Options,
    shape: Shape,
    /// About how many rows the block holds (from the bytes per row so far; 0 before any).
    rows_hint: usize,
}

impl Job {
    fn run(mut self) -> Parsed {
        let mut rows = Rows::new(self.options.keep.len(), self.shape.types.as_deref());
        rows.reserve(self.rows_hint);
        let parsed = block::parse(
            &self.bytes[self.block],
            self.start,
            false,
            &self.options,
            &mut self.shape,
            &mut rows,
        );
        (rows, parsed)
    }
}

pub struct CsvReader {
    options: Options,
    /// Bytes read and not parsed yet, from a record start: `pending[..filled]`.
    pending: Vec<u8>,
    filled: usize,
    /// Whether the first bytes were looked at for a UTF-8 BOM (and dropped if they were one).
    bom_decided: bool,
    cutter: Cutter,
    /// Where `pending` starts in the input: its byte offset, and the lines before it (while a
    /// piece is in flight, the lines before that piece: its own are added when it lands).
    start: Start,
    /// The header once known, and the field count every record must have.
    shape: Shape,
    rows: Rows,
    threads: usize,
    /// The blocks of the last pieces (at most [`FLIGHTS`], oldest first), parsed on their threads
    /// while the next piece is read.
    flights: std::collections::VecDeque<Flight>,
    /// A buffer back from a landed flight, for the bytes read next.
    spare: Vec<u8>,
    ended: bool,
    /// The error at the earliest bad row: every row before it can still be taken, then it is
    /// returned (by `feed` and `end` at once).
    failure: Option<CsvError>,
    /// Bytes and rows of the pieces landed so far, for sizing a block's rows before it is parsed
    /// (growing them as they fill would copy each row several times over).
    landed_bytes: u64,
    landed_rows: u64,
}

impl CsvReader {
    pub fn new(options: Options) -> Self {
        let threads = match options.threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        };
        CsvReader {
            rows: Rows::new(options.keep.len(), None),
            cutter: Cutter::new(options.delimiter, (options.block_bytes / 4).max(1)),
            options,
            pending: Vec::new(),
            filled: 0,
            bom_decided: false,
            start: Start {
                offset: 0,
                lines: Lines {
                    line: 1,
                    after_cr: false,
                },
            },
            shape: Shape {
                header: None,
                fields: 0,
                types: None,
            },
            threads,
            flights: std::collections::VecDeque::new(),
            spare: Vec::new(),
            ended: false,
            failure: None,
            landed_bytes: 0,
            landed_rows: 0,
        }
    }

    pub fn header(&self) -> Option<&Header> {
        self.shape.header.as_ref()
    }

    /// The keep columns' types, once decided.
    pub fn keep_types(&self) -> Option<&[KeepType]> {
        self.shape.types.as_deref()
    }

    /// Whether the input has ended or failed: nothing more will come in.
    pub fn done(&self) -> bool {
        self.ended || self.failure.is_some()
    }

    /// Parses every record `bytes` completes. Errors stop the reading; rows before them stay
    /// takeable (see [`CsvReader::take`]).
    pub fn feed(&mut self, bytes: &[u8]) {
        self.space(bytes.len()).copy_from_slice(bytes);
        self.commit(bytes.len());
    }

    /// Room for `n` more bytes of input, to read into before [`CsvReader::commit`] (which saves
    /// the copy [`CsvReader::feed`] makes).
    pub fn space(&mut self, n: usize) -> &mut [u8] {
        if self.pending.len() < self.filled + n {
            self.pending.resize(self.filled + n, 0);
        }
        &mut self.pending[self.filled..self.filled + n]
    }

    /// Parses every record the first `n` bytes of [`CsvReader::space`] complete.
    pub fn commit(&mut self, n: usize) {
        self.filled += n;
        if self.done() || !self.drop_bom(false) {
            return;
        }
        let end = self.cutter.scan(&self.pending[..self.filled]);
        if end > 0 {
            let result = self.parse(end);
            self.settle(result);
        }
    }

    /// Ends the input (completing a last record without a line terminator).
    pub fn end(&mut self) {
        if self.done() {
            return;
        }
        self.ended = true;
        self.drop_bom(true);
        if let Err(e) = self.land_all() {
            self.failure = Some(e);
            return;
        }
        let result = block::parse(
            &self.pending[..self.filled],
            self.start,
            true,
            &self.options,
            &mut self.shape,
            &mut self.rows,
        )
        .and_then(|_| {
            self.shape
                .header
                .as_ref()
                .map(|_| ())
                .ok_or(CsvError::Empty)
        });
        self.filled = 0;
        self.settle(result);
    }

    /// Drops a UTF-8 BOM from the start of the input once the first bytes tell (or the input
    /// ends); false while they cannot tell yet.
    fn drop_bom(&mut self, ended: bool) -> bool {
        if self.bom_decided {
            return true;
        }
        let head = &self.pending[..self.filled];
        if !ended && head.len() < BOM.len() && BOM.starts_with(head) {
            return false;
        }
        if head.starts_with(BOM) {
            self.pending.copy_within(BOM.len()..self.filled, 0);
            self.filled -= BOM.len();
            self.start.offset = BOM.len() as u64;
        }
        self.bom_decided = true;
        true
    }

    /// Parses the records of `pending[..end]` (whole records), after the rows of the piece in
    /// flight: on this thread when they are few, else in blocks on as many threads as are
    /// allowed and worth it, in flight while the next piece is read.
    fn parse(&mut self, mut end: usize) -> Result<(), CsvError> {
        if self.shape.header.is_none() {
            self.land_all()?;
            block::check_head(&self.pending[..self.filled], self.start.offset)?;
            // The first record alone, on this thread: the blocks need the header, and quotes
            // around its names (as pyarrow writes them) must not send the rows after it through
            // csv-core.
            let first = cut::first_record_end(&self.pending[..end], self.options.delimiter);
            self.parse_here(first)?;
            end -= first;
        }
        let parts = self
            .threads
            .min(end / self.options.block_bytes.max(1))
            .max(1);
        match (end, parts) {
            (0, _) => Ok(()),
            (_, 1) => {
                self.land_all()?;
                self.parse_here(end)
            }
            _ => {
                if self.flights.len() >= FLIGHTS {
                    self.land()?;
                }
                self.launch(end, parts);
                match self.options.overlap {
                    true => Ok(()),
                    false => self.land_all(),
                }
            }
        }
    }

    /// Queues the rows of the piece still being parsed, for a reader that stops reading before
    /// the input ends (the rows read are all takeable then).
    pub fn catch_up(&mut self) {
        let result = self.land_all();
        self.settle(result);
    }

    /// Lands every piece in flight, in order.
    fn land_all(&mut self) -> Result<(), CsvError> {
        while !self.flights.is_empty() {
            self.land()?;
        }
        Ok(())
    }

    /// Waits for the oldest piece in flight, if any, and queues its rows (in file order, on the
    /// input's lines, parsed to the keep types if those were decided meanwhile). On an error, the
    /// pieces after it are dropped: their rows come after the error.
    fn land(&mut self) -> Result<(), CsvError> {
        let Some(flight) = self.flights.pop_front() else {
            return Ok(());
        };
        self.landed_bytes += flight.bytes.len() as u64;
        let mut lines = self.start.lines;
        let mut result = Ok(());
        for part in flight.parts {
            let (mut more, parsed) = part.finish();
            if result.is_err() {
                continue;
            }
            let base = lines.line;
            // Types decided while the block was in flight: its text is parsed to them now.
            if let Some(types) = &self.shape.types
                && let Err(e) = retype(&mut more, types, base, &self.options, self.header())
            {
                result = Err(e);
            }
            self.landed_rows += more.prices.len() as u64;
            self.rows.append(more, base);
            match parsed {
                _ if result.is_err() => {}
                Ok(after) => {
                    lines = Lines {
                        line: base + after.line,
                        after_cr: after.after_cr,
                    }
                }
                Err(e) => result = Err(e.lines_after(base)),
            }
        }
        self.start.lines = lines;
        if let Ok(bytes) = std::sync::Arc::try_unwrap(flight.bytes) {
            self.spare = bytes;
        }
        if result.is_err() {
            self.flights.clear();
        }
        result
    }

    /// Sends `pending[..end]` (whole records) off as `parts` blocks on threads of their own; the
    /// bytes after it stay pending.
    fn launch(&mut self, end: usize, parts: usize) {
        let cuts = self.cutter.blocks(end, parts);
        let rest = self.filled - end;
        let mut next = std::mem::take(&mut self.spare);
        if next.len() < rest {
            next.resize(rest, 0);
        }
        next[..rest].copy_from_slice(&self.pending[end..self.filled]);
        let mut bytes = std::mem::replace(&mut self.pending, next);
        bytes.truncate(end);
        let bytes = std::sync::Arc::new(bytes);
        // Whether a `\r` came just before these bytes: the last piece's last byte, or as the lines
        // stand once every piece has landed.
        let after_cr = match self.flights.back() {
            Some(f) => f.bytes.last() == Some(&b'\r'),
            None => self.start.lines.after_cr,
        };
        let mut from = 0;
        let parts = cuts
            .iter()
            .map(|&to| {
                let start = Start {
                    offset: self.start.offset + from as u64,
                    lines: Lines {
                        line: 0,
                        after_cr: match from {
                            0 => after_cr,
                            _ => bytes[from - 1] == b'\r',
                        },
                    },
                };
                let block = from..to;
                from = to;
                // A sixteenth more than the rows so far predict, so that a block a little denser
                // than the average still fits.
                let rows_hint = match self.landed_bytes {
                    0 => 0,
                    b => (block.len() as u64 * self.landed_rows / b * 17 / 16) as usize,
                };
                let job = |bytes| Job {
                    bytes,
                    block: block.clone(),
                    start,
                    options: self.options.clone(),
                    shape: self.shape.clone(),
                    rows_hint,
                };
                // A thread the system will not start (limits, memory) is not worth failing the
                // read for: that block is parsed here.
                let spawned = std::thread::Builder::new().spawn({
                    let job = job(bytes.clone());
                    move || job.run()
                });
                match spawned {
                    Ok(handle) => Part::Running(handle),
                    Err(_) => Part::Done(Box::new(job(bytes.clone()).run())),
                }
            })
            .collect();
        self.flights.push_back(Flight { parts, bytes });
        self.filled = rest;
        self.cutter.consume(end);
        self.start.offset += end as u64;
    }

    /// Parses `pending[..end]` (whole records) on this thread, then drops it.
    fn parse_here(&mut self, end: usize) -> Result<(), CsvError> {
        let lines = block::parse(
            &self.pending[..end],
            self.start,
            false,
            &self.options,
            &mut self.shape,
            &mut self.rows,
        )?;
        self.pending.copy_within(end..self.filled, 0);
        self.filled -= end;
        self.cutter.consume(end);
        self.start = Start {
            offset: self.start.offset + end as u64,
            lines,
        };
        Ok(())
    }

    fn settle(&mut self, result: Result<(), CsvError>) {
        if let Err(e) = result {
            self.failure = Some(e);
        }
    }

    /// Rows a take can hand out now: keep columns need their sample (or the end) first.
    pub fn ready(&self) -> usize {
        let waiting = self.rows.prices.len();
        let sampled = self.shape.types.is_some()
            || self.done()
            || waiting >= self.options.sample_rows
            || self.options.keep.is_empty();
        if sampled { waiting } else { 0 }
    }

    /// The error the input stopped at, once no row before it is left.
    pub fn error(&self) -> Option<&CsvError> {
        self.failure
            .as_ref()
            .filter(|_| self.rows.prices.is_empty())
    }

    /// Moves up to `prices.len()` of the [`ready`](CsvReader::ready) rows out: prices in place,
    /// keep columns in Arrow's layout. A keep value that does not fit its type stops the rows
    /// before it and becomes the error; once no row is left before an error, it is returned.
    pub fn take(&mut self, prices: &mut [f64]) -> Result<Taken, CsvError> {
        let mut rows = prices.len().min(self.ready());
        if rows > 0 && self.shape.types.is_none() {
            self.decide_types();
            rows = rows.min(self.ready());
        }
        for q in &self.rows.keep {
            rows = rows.min(q.rows_within(TEXT_LIMIT));
        }
        if rows == 0 && !prices.is_empty() && self.ready() > 0 {
            // A single text field past 2 GiB: it can never be handed out.
            let (c, column) = self
                .rows
                .keep
                .iter()
                .enumerate()
                .find(|(_, q)| q.rows_within(TEXT_LIMIT) == 0)
                .map(|(c, _)| (c, keep_name(&self.options, self.header(), c)))
                .unwrap_or((0, String::new()));
            return Err(CsvError::FieldTooLong {
                line: self.rows.lines.get(0),
                column,
                bytes: self.rows.keep[c].text(0).map_or(0, <[u8]>::len),
            });
        }
        if rows == 0 {
            // Nothing to hand out: the input has ended (or failed) with no row waiting, or its
            // rows wait for the sample. Keep types may still be undecided here.
            return match self.error() {
                Some(e) => Err(e.clone()),
                None => Ok(Taken {
                    rows: 0,
                    keep: Vec::new(),
                    lines: LineNumbers::default(),
                }),
            };
        }
        let keep = self.rows.keep.iter_mut().map(|q| q.take(rows)).collect();
        prices[..rows].copy_from_slice(&self.rows.prices[..rows]);
        self.rows.prices.drain(..rows);
        let lines = self.rows.lines.take_front(rows);
        Ok(Taken { rows, keep, lines })
    }

    /// Types each keep column (declared, or from the sample) and parses the rows waiting to it;
    /// later blocks parse to it as they go. A row that does not fit becomes the (earliest)
    /// failure, and the rows from it on are dropped.
    fn decide_types(&mut self) {
        let sample = self.rows.prices.len().min(self.options.sample_rows);
        let types: Vec<KeepType> = self
            .options
            .keep
            .iter()
            .zip(&self.rows.keep)
            .map(|(k, q)| match (k.kind, self.options.keep_as_text) {
                (Some(kind), _) => kind,
                (None, true) => KeepType::Text,
                (None, false) => {
                    KeepType::infer((0..sample).map(|i| q.text(i).unwrap_or_default()))
                }
            })
            .collect();
        let header = self.shape.header.as_ref();
        if let Err(e) = retype(&mut self.rows, &types, 0, &self.options, header) {
            self.failure = Some(e);
        }
        self.shape.types = Some(types);
    }
}

/// Parses the text keep columns of `rows` to `types` (a typed column stays as it is). A field
/// that does not fit ends `rows` there and is the error, on the input's line: `base` plus the
/// row's own (the earliest misfit of all columns, since each cuts the rows shorter).
fn retype(
    rows: &mut Rows,
    types: &[KeepType],
    base: u64,
    options: &Options,
    header: Option<&Header>,
) -> Result<(), CsvError> {
    let mut result = Ok(());
    for (c, &kind) in types.iter().enumerate() {
        while let Err(row) = rows.keep[c].decide(kind) {
            result = Err(CsvError::KeepValue {
                line: base + rows.lines.get(row),
                column: keep_name(options, header, c),
                text: escape(rows.keep[c].text(row).unwrap_or_default()),
                kind,
                declared: options.keep[c].kind.is_some(),
                sample: options.sample_rows,
            });
            rows.truncate(row);
        }
    }
    result
}

/// The name of keep column `c`: the header's, or as asked before there is one.
fn keep_name(options: &Options, header: Option<&Header>, c: usize) -> String {
    match header {
        Some(h) => h.names[h.keep[c]].clone(),
        None => options.keep[c].name.clone(),
    }
}
