//! Streaming CSV reader for the price column: `csv_core` cuts the bytes into records (a record may
//! span any number of chunks), the header picks the columns, and parsed rows wait in a queue until
//! `take()` moves them into the caller's buffer. The parsing core (`Splitter`, `Parser`) is plain
//! Rust and tests without Node; `CsvReader` and `count_csv_records` are thin napi wrappers.

use std::collections::VecDeque;
use std::fmt;

use csv_core::{ReadRecordResult, Reader, ReaderBuilder};
use napi::bindgen_prelude::*;
use napi_derive::napi;

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Column names listed in a "not found" message before it is cut short.
const LISTED_COLUMNS: usize = 50;

/// Characters of a bad field quoted in an error message before it is cut short.
const QUOTED_CHARS: usize = 60;

/// Why the reader refused the input. Every message says what was wrong and where.
#[derive(Debug, Clone, PartialEq, Eq)]
enum CsvError {
    Delimiter {
        given: String,
    },
    EmptyInput,
    ColumnNotFound {
        name: String,
        available: Vec<String>,
    },
    /// `matches`: 1-based column positions with their header names.
    AmbiguousColumn {
        name: String,
        matches: Vec<(usize, String)>,
    },
    TooFewFields {
        line: u64,
        expected: usize,
        found: usize,
    },
    NotANumber {
        line: u64,
        column: String,
        text: String,
    },
    NotFinite {
        line: u64,
        column: String,
        text: String,
    },
    FeedAfterEnd,
}

impl fmt::Display for CsvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CsvError::Delimiter { given } => write!(
                f,
                "delimiter must be one ASCII character other than '\"', CR and LF, got {given:?}"
            ),
            CsvError::EmptyInput => write!(f, "empty input: there is no header record"),
            CsvError::ColumnNotFound { name, available } => {
                write!(f, "column '{name}' not found; available columns: ")?;
                for (i, column) in available.iter().take(LISTED_COLUMNS).enumerate() {
                    let sep = if i == 0 { "" } else { ", " };
                    write!(f, "{sep}{column}")?;
                }
                if available.len() > LISTED_COLUMNS {
                    write!(f, ", ...")?;
                }
                Ok(())
            }
            CsvError::AmbiguousColumn { name, matches } => {
                write!(f, "column '{name}' is ambiguous: it matches ")?;
                for (i, (position, column)) in matches.iter().enumerate() {
                    let sep = if i == 0 { "" } else { ", " };
                    write!(f, "{sep}'{column}' (column {position})")?;
                }
                Ok(())
            }
            CsvError::TooFewFields {
                line,
                expected,
                found,
            } => write!(
                f,
                "line {line}: expected at least {expected} fields, found {found}"
            ),
            CsvError::NotANumber { line, column, text } => {
                write!(f, "line {line}, column {column}: '{text}' is not a number")
            }
            CsvError::NotFinite { line, column, text } => write!(
                f,
                "line {line}, column {column}: '{text}' is not a finite number"
            ),
            CsvError::FeedAfterEnd => write!(f, "feed() after end(): the input already ended"),
        }
    }
}

/// One complete record: unescaped field bytes laid end to end, and where each field ends.
struct Record<'a> {
    /// The line the record starts on (1-based).
    line: u64,
    bytes: &'a [u8],
    ends: &'a [usize],
}

impl Record<'_> {
    fn len(&self) -> usize {
        self.ends.len()
    }

    fn field(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.bytes[start..self.ends[i]]
    }
}

/// Cuts a byte stream into records, identically however the stream is chunked.
///
/// `csv_core` keeps the state inside a record between calls; this keeps the record's bytes. Two
/// things it would do chunk-dependently are done here instead: it strips a BOM only when all three
/// bytes arrive in its first call, and it skips blank lines without saying on which line the next
/// record starts.
struct Splitter {
    reader: Reader,
    /// The first bytes of the stream while they could still be a UTF-8 BOM; `None` once decided.
    head: Option<Vec<u8>>,
    /// The record being read: unescaped bytes and field ends, valid up to the `_len`s.
    bytes: Vec<u8>,
    bytes_len: usize,
    ends: Vec<usize>,
    ends_len: usize,
    /// Whether `csv_core` is inside a record (has seen a byte that is not a line terminator).
    in_record: bool,
    /// The line of the next unread byte.
    line: u64,
    record_line: u64,
}

impl Splitter {
    fn new(delimiter: u8) -> Self {
        Splitter {
            reader: ReaderBuilder::new().delimiter(delimiter).build(),
            head: Some(Vec::with_capacity(BOM.len())),
            bytes: vec![0; 4096],
            bytes_len: 0,
            ends: vec![0; 64],
            ends_len: 0,
            in_record: false,
            line: 1,
            record_line: 1,
        }
    }

    /// Reads `input`, calling `on_record` for each record it completes. Stops at the first error
    /// `on_record` returns (the rest of `input` is not read).
    fn feed<E>(
        &mut self,
        mut input: &[u8],
        on_record: &mut impl FnMut(Record<'_>) -> std::result::Result<(), E>,
    ) -> std::result::Result<(), E> {
        if let Some(head) = &mut self.head {
            let wanted = (BOM.len() - head.len()).min(input.len());
            head.extend_from_slice(&input[..wanted]);
            input = &input[wanted..];
            if head.len() < BOM.len() && BOM.starts_with(head) {
                return Ok(());
            }
            let head = self.head.take().unwrap_or_default();
            if head != BOM {
                self.split(&head, on_record)?;
            }
        }
        self.split(input, on_record)
    }

    /// Ends the input: a last record without a line terminator is completed.
    fn end<E>(
        &mut self,
        on_record: &mut impl FnMut(Record<'_>) -> std::result::Result<(), E>,
    ) -> std::result::Result<(), E> {
        // A stream shorter than a BOM that looked like the start of one is data after all.
        if let Some(head) = self.head.take() {
            self.split(&head, on_record)?;
        }
        while self.in_record {
            // An empty input tells csv_core the data ended; it then completes the open record.
            match self.read(&[]).0 {
                ReadRecordResult::Record => self.emit(on_record)?,
                ReadRecordResult::End => self.in_record = false,
                _ => {}
            }
        }
        Ok(())
    }

    fn split<E>(
        &mut self,
        mut input: &[u8],
        on_record: &mut impl FnMut(Record<'_>) -> std::result::Result<(), E>,
    ) -> std::result::Result<(), E> {
        // Never pass csv_core an empty slice here: to it that means end of input.
        while !input.is_empty() {
            if !self.in_record {
                // csv_core would skip these blank lines too; skipping them here tells us the line
                // the record starts on.
                let start = input
                    .iter()
                    .position(|&b| b != b'\n' && b != b'\r')
                    .unwrap_or(input.len());
                self.line += count_newlines(&input[..start]);
                input = &input[start..];
                if input.is_empty() {
                    break;
                }
                self.in_record = true;
                self.record_line = self.line;
            }
            let (result, read) = self.read(input);
            input = &input[read..];
            if result == ReadRecordResult::Record {
                self.emit(on_record)?;
            }
        }
        Ok(())
    }

    /// One csv_core step; grows whichever buffer it reports full, so the caller simply retries.
    fn read(&mut self, input: &[u8]) -> (ReadRecordResult, usize) {
        let line_before = self.reader.line();
        let (result, read, written, ended) = self.reader.read_record(
            input,
            &mut self.bytes[self.bytes_len..],
            &mut self.ends[self.ends_len..],
        );
        // csv_core counts every '\n' it consumes, inside quoted fields too.
        self.line += self.reader.line() - line_before;
        self.bytes_len += written;
        self.ends_len += ended;
        match result {
            ReadRecordResult::OutputFull => self.bytes.resize(self.bytes.len() * 2, 0),
            ReadRecordResult::OutputEndsFull => self.ends.resize(self.ends.len() * 2, 0),
            _ => {}
        }
        (result, read)
    }

    fn emit<E>(
        &mut self,
        on_record: &mut impl FnMut(Record<'_>) -> std::result::Result<(), E>,
    ) -> std::result::Result<(), E> {
        let record = Record {
            line: self.record_line,
            bytes: &self.bytes[..self.bytes_len],
            ends: &self.ends[..self.ends_len],
        };
        let result = on_record(record);
        self.bytes_len = 0;
        self.ends_len = 0;
        self.in_record = false;
        result
    }
}

fn count_newlines(bytes: &[u8]) -> u64 {
    bytes.iter().filter(|&&b| b == b'\n').count() as u64
}

fn parse_delimiter(delimiter: Option<&str>) -> std::result::Result<u8, CsvError> {
    match delimiter.map(str::as_bytes) {
        None => Ok(b','),
        Some(&[b]) if b.is_ascii() && !matches!(b, b'"' | b'\r' | b'\n') => Ok(b),
        Some(_) => Err(CsvError::Delimiter {
            given: delimiter.unwrap_or_default().to_string(),
        }),
    }
}

/// Data records in a whole CSV buffer (the header excluded), split exactly as `Parser` splits.
fn count_records(bytes: &[u8], delimiter: u8) -> u64 {
    let mut splitter = Splitter::new(delimiter);
    let mut records = 0u64;
    let mut count = |_: Record<'_>| -> std::result::Result<(), std::convert::Infallible> {
        records += 1;
        Ok(())
    };
    let _ = splitter.feed(bytes, &mut count);
    let _ = splitter.end(&mut count);
    records.saturating_sub(1)
}

/// Header text: lossy UTF-8, as the rest of the pipeline wants strings.
fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A field quoted in an error: cut short so a runaway field cannot flood the terminal.
fn quoted(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    match text.char_indices().nth(QUOTED_CHARS) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text.into_owned(),
    }
}

/// Exact name first; failing that, a name equal ignoring case. Refuses to guess between several.
fn find_column(header: &[String], name: &str) -> std::result::Result<usize, CsvError> {
    let ambiguous = |positions: Vec<usize>| CsvError::AmbiguousColumn {
        name: name.to_string(),
        matches: positions
            .into_iter()
            .map(|i| (i + 1, header[i].clone()))
            .collect(),
    };
    let exact: Vec<usize> = (0..header.len()).filter(|&i| header[i] == name).collect();
    match exact.len() {
        1 => return Ok(exact[0]),
        0 => {}
        _ => return Err(ambiguous(exact)),
    }
    let folded = name.to_lowercase();
    let loose: Vec<usize> = (0..header.len())
        .filter(|&i| header[i].to_lowercase() == folded)
        .collect();
    match loose.len() {
        1 => Ok(loose[0]),
        0 => Err(CsvError::ColumnNotFound {
            name: name.to_string(),
            available: header.to_vec(),
        }),
        _ => Err(ambiguous(loose)),
    }
}

/// Why a price field was refused, before the line and column are known.
enum PriceError {
    NotANumber,
    NotFinite,
}

/// A price field: blank or a missing-value marker is NaN; otherwise Rust's correctly rounded
/// `f64` parse, so a decimal in the file becomes the nearest double, as everywhere else.
fn parse_price(field: &[u8]) -> std::result::Result<f64, PriceError> {
    let trimmed = field.trim_ascii();
    if matches!(
        trimmed,
        b"" | b"NaN" | b"nan" | b"NA" | b"N/A" | b"null" | b"NULL"
    ) {
        return Ok(f64::NAN);
    }
    let value = std::str::from_utf8(trimmed)
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .ok_or(PriceError::NotANumber)?;
    // `parse` also accepts other spellings of NaN ("NAN", "-nan"): still a missing value.
    if value.is_infinite() {
        return Err(PriceError::NotFinite);
    }
    Ok(value)
}

/// What the header resolved to.
struct Schema {
    header: Vec<String>,
    price: usize,
    keep: Vec<usize>,
    /// Fields a data record needs to reach every column used.
    min_fields: usize,
}

impl Schema {
    fn from_header(
        record: &Record<'_>,
        column: &str,
        keep: &[String],
    ) -> std::result::Result<Self, CsvError> {
        let mut header: Vec<String> = (0..record.len()).map(|i| text(record.field(i))).collect();
        // Normally stripped from the bytes already; this catches a second BOM.
        if let Some(first) = header.first_mut()
            && let Some(rest) = first.strip_prefix('\u{FEFF}')
        {
            *first = rest.to_string();
        }
        let price = find_column(&header, column)?;
        let keep = keep
            .iter()
            .map(|name| find_column(&header, name))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let min_fields = keep.iter().copied().chain([price]).max().unwrap_or(price) + 1;
        Ok(Schema {
            header,
            price,
            keep,
            min_fields,
        })
    }
}

/// Parsed rows waiting for `take`, in input order. Deques, so taking from the front is cheap.
#[derive(Default)]
struct Pending {
    prices: VecDeque<f64>,
    lines: VecDeque<u64>,
    /// One queue per keep column.
    keep: Vec<VecDeque<String>>,
}

impl Pending {
    fn len(&self) -> usize {
        self.prices.len()
    }

    /// Queues one data record; checks everything first, so a refused record leaves no trace.
    fn push(&mut self, record: &Record<'_>, schema: &Schema) -> std::result::Result<(), CsvError> {
        if record.len() < schema.min_fields {
            return Err(CsvError::TooFewFields {
                line: record.line,
                expected: schema.min_fields,
                found: record.len(),
            });
        }
        let field = record.field(schema.price);
        let price = parse_price(field).map_err(|e| {
            let (line, column, text) = (
                record.line,
                schema.header[schema.price].clone(),
                quoted(field),
            );
            match e {
                PriceError::NotANumber => CsvError::NotANumber { line, column, text },
                PriceError::NotFinite => CsvError::NotFinite { line, column, text },
            }
        })?;
        self.prices.push_back(price);
        self.lines.push_back(record.line);
        for (queue, &i) in self.keep.iter_mut().zip(&schema.keep) {
            queue.push_back(text(record.field(i)));
        }
        Ok(())
    }
}

/// Rows moved out by `Parser::take`.
#[derive(Debug, PartialEq)]
struct Taken {
    rows: usize,
    keep: Vec<Vec<String>>,
    /// Line of the first row taken; 0 when none was.
    first_line: u64,
}

/// The whole reader without Node: split, resolve the header, parse, queue.
struct Parser {
    splitter: Splitter,
    column: String,
    keep: Vec<String>,
    schema: Option<Schema>,
    pending: Pending,
    rows_taken: u64,
    ended: bool,
    /// The first error, returned again by every later `feed`/`end`: the input position is lost.
    failure: Option<CsvError>,
}

impl Parser {
    fn new(
        column: String,
        keep: Vec<String>,
        delimiter: Option<&str>,
    ) -> std::result::Result<Self, CsvError> {
        let delimiter = parse_delimiter(delimiter)?;
        Ok(Parser {
            splitter: Splitter::new(delimiter),
            pending: Pending {
                keep: vec![VecDeque::new(); keep.len()],
                ..Pending::default()
            },
            column,
            keep,
            schema: None,
            rows_taken: 0,
            ended: false,
            failure: None,
        })
    }

    fn feed(&mut self, bytes: &[u8]) -> std::result::Result<usize, CsvError> {
        self.check()?;
        if self.ended {
            return Err(CsvError::FeedAfterEnd);
        }
        let Parser {
            splitter,
            column,
            keep,
            schema,
            pending,
            ..
        } = self;
        let result = splitter.feed(bytes, &mut |record| {
            accept(record, column, keep, schema, pending)
        });
        self.settle(result)
    }

    fn end(&mut self) -> std::result::Result<usize, CsvError> {
        self.check()?;
        if self.ended {
            return Ok(self.pending.len());
        }
        self.ended = true;
        let Parser {
            splitter,
            column,
            keep,
            schema,
            pending,
            ..
        } = self;
        let mut result = splitter.end(&mut |record| accept(record, column, keep, schema, pending));
        if result.is_ok() && schema.is_none() {
            result = Err(CsvError::EmptyInput);
        }
        self.settle(result)
    }

    fn check(&self) -> std::result::Result<(), CsvError> {
        match &self.failure {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }

    fn settle(
        &mut self,
        result: std::result::Result<(), CsvError>,
    ) -> std::result::Result<usize, CsvError> {
        if let Err(e) = &result {
            self.failure = Some(e.clone());
        }
        result.map(|()| self.pending.len())
    }

    /// Moves up to `prices.len()` rows out; rows queued before an error can still be taken.
    fn take(&mut self, prices: &mut [f64]) -> Taken {
        let rows = prices.len().min(self.pending.len());
        let first_line = self.pending.lines.front().copied().filter(|_| rows > 0);
        for (out, price) in prices.iter_mut().zip(self.pending.prices.drain(..rows)) {
            *out = price;
        }
        self.pending.lines.drain(..rows);
        let keep = self
            .pending
            .keep
            .iter_mut()
            .map(|queue| queue.drain(..rows).collect())
            .collect();
        self.rows_taken += rows as u64;
        Taken {
            rows,
            keep,
            first_line: first_line.unwrap_or(0),
        }
    }

    fn header(&self) -> Option<&Schema> {
        self.schema.as_ref()
    }
}

/// The first record is the header; every later one is a data row.
fn accept(
    record: Record<'_>,
    column: &str,
    keep: &[String],
    schema: &mut Option<Schema>,
    pending: &mut Pending,
) -> std::result::Result<(), CsvError> {
    match schema {
        Some(schema) => pending.push(&record, schema),
        None => {
            *schema = Some(Schema::from_header(&record, column, keep)?);
            Ok(())
        }
    }
}

/// Every refusal is a JS `RangeError` with `code: 'ERR_CSV'`.
fn csv_error(env: &Env, message: String) -> Error {
    let js = JsRangeError::from(Error::new("ERR_CSV", message)).into_unknown(*env);
    Error::from_unknown_without_coercion(js)
}

fn pending_count(rows: usize) -> u32 {
    u32::try_from(rows).unwrap_or(u32::MAX)
}

/// Rows moved out of a `CsvReader` by `take()`.
#[napi(object)]
pub struct TakeResult {
    /// How many rows were taken: the first `rows` entries of `prices` were written.
    pub rows: u32,
    /// One array per keep column, in the order the columns were asked for, `rows` strings each.
    pub keep: Vec<Vec<String>>,
    /// Input line number (1-based) of the first row taken; 0 when no row was taken.
    pub first_line: f64,
}

/// Reads a CSV price column from bytes that arrive in chunks of any size. The first record is the
/// header; blank lines are skipped; a UTF-8 BOM is ignored. Errors are `RangeError`s with
/// `code: 'ERR_CSV'` that name the line and column; after one, `feed` and `end` throw it again.
#[napi]
pub struct CsvReader {
    parser: Parser,
}

#[napi]
impl CsvReader {
    /// `column`: the price column (exact header match first, then a unique case-insensitive match).
    /// `keep`: columns copied through to the output as strings (same matching).
    /// `delimiter`: one ASCII character, default `","`.
    #[napi(constructor)]
    pub fn new(
        env: Env,
        column: String,
        keep: Vec<String>,
        delimiter: Option<String>,
    ) -> Result<Self> {
        let parser = Parser::new(column, keep, delimiter.as_deref())
            .map_err(|e| csv_error(&env, e.to_string()))?;
        Ok(CsvReader { parser })
    }

    /// Parses every complete record in `bytes` (a record may continue in the next call) and
    /// returns how many data rows are waiting for `take()`. Prices are checked here: empty, `NaN`,
    /// `nan`, `NA`, `N/A`, `null` and `NULL` are missing (NaN); anything else must be a finite
    /// number.
    #[napi]
    pub fn feed(&mut self, env: Env, bytes: &[u8]) -> Result<u32> {
        let rows = self
            .parser
            .feed(bytes)
            .map_err(|e| csv_error(&env, e.to_string()))?;
        Ok(pending_count(rows))
    }

    /// Signals the end of the input: completes a last record that has no line terminator.
    /// Returns how many data rows are waiting for `take()`. Throws if the input had no header.
    #[napi]
    pub fn end(&mut self, env: Env) -> Result<u32> {
        let rows = self
            .parser
            .end()
            .map_err(|e| csv_error(&env, e.to_string()))?;
        Ok(pending_count(rows))
    }

    /// The header names as read (`null` until the header record has been read).
    #[napi(getter)]
    pub fn header(&self) -> Option<Vec<String>> {
        self.parser.header().map(|s| s.header.clone())
    }

    /// The header name the price column matched (`null` until the header record has been read).
    #[napi(getter)]
    pub fn column(&self) -> Option<String> {
        self.parser.header().map(|s| s.header[s.price].clone())
    }

    /// The header names the keep columns matched, in `keep` order (`null` until the header).
    #[napi(getter)]
    pub fn keep_columns(&self) -> Option<Vec<String>> {
        self.parser
            .header()
            .map(|s| s.keep.iter().map(|&i| s.header[i].clone()).collect())
    }

    /// Data rows handed out so far by `take()`.
    #[napi(getter)]
    pub fn rows_taken(&self) -> f64 {
        self.parser.rows_taken as f64
    }

    /// Moves up to `prices.length` waiting rows out, in input order: prices are written into
    /// `prices` in place (missing = NaN), keep columns come back as arrays of strings. Entries of
    /// `prices` past the rows taken are left as they were. Rows read before an error can still
    /// be taken.
    #[napi]
    pub fn take(&mut self, mut prices: Float64ArraySlice) -> TakeResult {
        // SAFETY: `prices` is a live typed array for this synchronous call, and nothing else in
        // this call holds a reference to its bytes.
        let taken = self.parser.take(unsafe { prices.as_mut() });
        TakeResult {
            rows: taken.rows as u32,
            keep: taken.keep,
            first_line: taken.first_line as f64,
        }
    }
}

/// Counts the data records (header excluded) of a whole CSV buffer, split exactly as `CsvReader`
/// splits them (blank lines skipped, quoted newlines inside one record), without converting any
/// field. `delimiter`: one ASCII character, default `","`.
#[napi]
// Only the Node registration calls it, and that is compiled out of unit tests.
#[cfg_attr(test, allow(dead_code))]
pub fn count_csv_records(env: Env, bytes: &[u8], delimiter: Option<String>) -> Result<f64> {
    let delimiter =
        parse_delimiter(delimiter.as_deref()).map_err(|e| csv_error(&env, e.to_string()))?;
    Ok(count_records(bytes, delimiter) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Everything a parse produced, to compare runs over different chunkings.
    #[derive(Debug, PartialEq)]
    struct Outcome {
        header: Option<Vec<String>>,
        /// Bit patterns, so NaN compares equal and -0.0 differs from 0.0.
        prices: Vec<u64>,
        keep: Vec<Vec<String>>,
        lines: Vec<u64>,
        error: Option<String>,
    }

    /// Feeds `data` cut at `cuts` (sorted positions), ends, and takes every row one at a time
    /// (so each row's line is seen).
    fn run(
        data: &[u8],
        column: &str,
        keep: &[&str],
        delimiter: Option<&str>,
        cuts: &[usize],
    ) -> Outcome {
        let keep: Vec<String> = keep.iter().map(|s| s.to_string()).collect();
        let mut parser = Parser::new(column.into(), keep.clone(), delimiter).unwrap();
        let mut error = None;
        let mut start = 0;
        for &cut in cuts.iter().chain([&data.len()]) {
            if let Err(e) = parser.feed(&data[start..cut]) {
                error = Some(e.to_string());
                break;
            }
            start = cut;
        }
        if error.is_none() {
            error = parser.end().err().map(|e| e.to_string());
        }
        let mut outcome = Outcome {
            header: parser.header().map(|s| s.header.clone()),
            prices: vec![],
            keep: vec![vec![]; keep.len()],
            lines: vec![],
            error,
        };
        let mut one = [0.0];
        loop {
            let taken = parser.take(&mut one);
            if taken.rows == 0 {
                assert_eq!(taken.first_line, 0);
                break;
            }
            outcome.prices.push(one[0].to_bits());
            outcome.lines.push(taken.first_line);
            for (all, mut got) in outcome.keep.iter_mut().zip(taken.keep) {
                all.append(&mut got);
            }
        }
        outcome
    }

    fn whole(data: &str, column: &str, keep: &[&str]) -> Outcome {
        run(data.as_bytes(), column, keep, None, &[])
    }

    fn error(data: &str, column: &str, keep: &[&str]) -> String {
        whole(data, column, keep).error.expect("an error")
    }

    fn bits(values: &[f64]) -> Vec<u64> {
        values.iter().map(|v| v.to_bits()).collect()
    }

    /// A deterministic generator for split points, so failures replay.
    struct Lcg(u64);
    impl Lcg {
        fn below(&mut self, n: usize) -> usize {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((self.0 >> 33) % n as u64) as usize
        }
    }

    #[test]
    fn prices_are_bit_exact_parses() {
        let fields = [
            "0.1",
            "1e-3",
            "-5",
            "  42 ",
            "3.141592653589793",
            "1.7976931348623157e308",
            "5e-324",
            "-0",
            "+7.25",
            ".5",
            "1.",
            "0.30000000000000004",
            "123456789012345678901234567890",
        ];
        let mut data = String::from("p\n");
        for f in fields {
            data.push_str(&format!("\"{f}\"\n"));
        }
        let expected: Vec<f64> = fields.iter().map(|f| f.trim().parse().unwrap()).collect();
        let out = whole(&data, "p", &[]);
        assert_eq!(out.error, None);
        assert_eq!(out.prices, bits(&expected));
    }

    #[test]
    fn missing_values_are_nan() {
        let data = "d,p\na,\nb,NaN\nc,nan\nd,NA\ne,N/A\nf,null\ng,NULL\nh,  \ni,NAN\nj,-nan\nk,\"\"\nl,2\n";
        let out = whole(data, "p", &["d"]);
        assert_eq!(out.error, None);
        assert_eq!(out.prices.len(), 12);
        assert!(out.prices[..11].iter().all(|&b| f64::from_bits(b).is_nan()));
        assert_eq!(f64::from_bits(out.prices[11]), 2.0);
        assert_eq!(out.keep[0].join(""), "abcdefghijkl");
    }

    /// A file with everything that can straddle a chunk boundary.
    const TRICKY: &[u8] = b"\xEF\xBB\xBFDate,\"Close\",note\r\n\
        2024-01-01,1.5,\"plain\"\r\n\
        \r\n\
        2024-01-02,\" 2.25 \",\"two\r\nlines, \"\"quoted\"\"\"\r\n\
        2024-01-03,,\"\"\n\
        \n\n\
        2024-01-04,1e3,\"a\nb\nc\"\n\
        2024-01-05,-0.5,last";

    fn tricky_expected() -> Outcome {
        Outcome {
            header: Some(vec!["Date".into(), "Close".into(), "note".into()]),
            prices: bits(&[1.5, 2.25, f64::NAN, 1e3, -0.5]),
            keep: vec![
                vec![
                    "2024-01-01",
                    "2024-01-02",
                    "2024-01-03",
                    "2024-01-04",
                    "2024-01-05",
                ]
                .into_iter()
                .map(String::from)
                .collect(),
                vec!["plain", "two\r\nlines, \"quoted\"", "", "a\nb\nc", "last"]
                    .into_iter()
                    .map(String::from)
                    .collect(),
            ],
            lines: vec![2, 4, 6, 9, 12],
            error: None,
        }
    }

    #[test]
    fn tricky_file_whole() {
        assert_eq!(
            run(TRICKY, "close", &["date", "note"], None, &[]),
            tricky_expected()
        );
    }

    #[test]
    fn every_single_split_gives_the_same_result() {
        let expected = tricky_expected();
        for cut in 0..=TRICKY.len() {
            assert_eq!(
                run(TRICKY, "close", &["date", "note"], None, &[cut]),
                expected,
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn every_pair_of_splits_gives_the_same_result() {
        let expected = tricky_expected();
        for a in 0..=TRICKY.len() {
            for b in a..=TRICKY.len() {
                assert_eq!(
                    run(TRICKY, "close", &["date", "note"], None, &[a, b]),
                    expected,
                    "cuts {a}, {b}"
                );
            }
        }
    }

    #[test]
    fn byte_at_a_time_and_random_chunkings() {
        let expected = tricky_expected();
        let every: Vec<usize> = (0..=TRICKY.len()).collect();
        assert_eq!(
            run(TRICKY, "close", &["date", "note"], None, &every),
            expected
        );
        let mut rng = Lcg(0x5eed);
        for _ in 0..500 {
            let mut cuts: Vec<usize> = (0..rng.below(12))
                .map(|_| rng.below(TRICKY.len() + 1))
                .collect();
            cuts.sort_unstable();
            assert_eq!(
                run(TRICKY, "close", &["date", "note"], None, &cuts),
                expected,
                "cuts {cuts:?}"
            );
        }
    }

    #[test]
    fn errors_do_not_depend_on_chunking() {
        let data = b"a,b\n1,2\n\"x\ny\",3\n4,oops\n5,6\n";
        let expected = run(data, "b", &["a"], None, &[]);
        assert_eq!(
            expected.error.as_deref(),
            Some("line 5, column b: 'oops' is not a number")
        );
        assert_eq!(expected.lines, vec![2, 3]);
        for cut in 0..=data.len() {
            assert_eq!(
                run(data, "b", &["a"], None, &[cut]),
                expected,
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn bom_split_before_a_quoted_header() {
        let data = b"\xEF\xBB\xBF\"p\"\n1\n";
        for cut in 0..=data.len() {
            let out = run(data, "p", &[], None, &[cut]);
            assert_eq!(out.header, Some(vec!["p".to_string()]), "cut at {cut}");
            assert_eq!(out.prices, bits(&[1.0]));
        }
    }

    #[test]
    fn a_second_bom_is_stripped_from_the_header_too() {
        let out = run(b"\xEF\xBB\xBF\xEF\xBB\xBFp\n1\n", "p", &[], None, &[]);
        assert_eq!(out.header, Some(vec!["p".to_string()]));
    }

    #[test]
    fn input_shorter_than_a_bom() {
        assert_eq!(
            run(b"\xEF\xBB", "p", &[], None, &[1]).error.as_deref(),
            Some("column 'p' not found; available columns: \u{FFFD}")
        );
        assert_eq!(whole("p", "p", &[]).header, Some(vec!["p".to_string()]));
    }

    #[test]
    fn blank_lines_and_trailing_newlines() {
        for data in [
            "p\n1\n2",
            "p\n1\n2\n",
            "p\n1\n2\n\n",
            "p\r\n1\r\n2\r\n\r\n",
            "\n\np\n1\n\n\n2\n\n",
        ] {
            let out = whole(data, "p", &[]);
            assert_eq!(out.error, None, "{data:?}");
            assert_eq!(out.prices, bits(&[1.0, 2.0]), "{data:?}");
            assert_eq!(count_records(data.as_bytes(), b','), 2, "{data:?}");
        }
        assert_eq!(whole("\n\np\n1\n\n\n2\n\n", "p", &[]).lines, vec![4, 7]);
    }

    #[test]
    fn header_only_has_no_rows_and_empty_input_is_an_error() {
        let out = whole("a,p\n", "p", &[]);
        assert_eq!((out.error, out.prices.len()), (None, 0));
        assert_eq!(
            error("", "p", &[]),
            "empty input: there is no header record"
        );
        assert_eq!(
            error("\n\r\n", "p", &[]),
            "empty input: there is no header record"
        );
    }

    #[test]
    fn column_matching() {
        // Exact wins over a case-insensitive match.
        let out = whole("close,Close\n1,2\n", "Close", &["close"]);
        assert_eq!(out.prices, bits(&[2.0]));
        assert_eq!(out.keep, vec![vec!["1".to_string()]]);
        // A unique case-insensitive match, Unicode too.
        assert_eq!(
            whole("Ä,CLOSE\nx,3\n", "close", &["ä"]).keep,
            vec![vec!["x".to_string()]]
        );
        assert_eq!(
            error("a,Close,CLOSE\n1,2,3\n", "close", &[]),
            "column 'close' is ambiguous: it matches 'Close' (column 2), 'CLOSE' (column 3)"
        );
        assert_eq!(
            error("p,p\n1,2\n", "p", &[]),
            "column 'p' is ambiguous: it matches 'p' (column 1), 'p' (column 2)"
        );
        assert_eq!(
            error("0,1,2,3,4,5\n", "close", &[]),
            "column 'close' not found; available columns: 0, 1, 2, 3, 4, 5"
        );
        assert_eq!(
            error("p,a\n1,2\n", "p", &["a", "b"]),
            "column 'b' not found; available columns: p, a"
        );
        let wide: Vec<String> = (0..60).map(|i| format!("c{i}")).collect();
        let listed: Vec<&str> = wide[..50].iter().map(String::as_str).collect();
        assert_eq!(
            error(&wide.join(","), "close", &[]),
            format!(
                "column 'close' not found; available columns: {}, ...",
                listed.join(", ")
            )
        );
    }

    #[test]
    fn resolved_names_and_tab_delimiter() {
        let mut parser = Parser::new("CLOSE".into(), vec!["DATE".into()], Some("\t")).unwrap();
        assert!(parser.header().is_none());
        parser.feed(b"date\tclose\n2024\t1\n").unwrap();
        let schema = parser.header().unwrap();
        assert_eq!((schema.price, &schema.keep[..]), (1, &[0][..]));
        assert_eq!(schema.header, ["date", "close"]);
    }

    #[test]
    fn value_errors() {
        assert_eq!(
            error("d,close\n1,2\n2,abc\n", "close", &[]),
            "line 3, column close: 'abc' is not a number"
        );
        assert_eq!(
            error("close\ninf\n", "close", &[]),
            "line 2, column close: 'inf' is not a finite number"
        );
        assert_eq!(
            error("close\n-Infinity\n", "close", &[]),
            "line 2, column close: '-Infinity' is not a finite number"
        );
        assert_eq!(
            error("close\n1e999\n", "close", &[]),
            "line 2, column close: '1e999' is not a finite number"
        );
        assert_eq!(
            error("close\n\"1,5\"\n", "close", &[]),
            "line 2, column close: '1,5' is not a number"
        );
        assert_eq!(
            error("close\n\"1 2\"\n", "close", &[]),
            "line 2, column close: '1 2' is not a number"
        );
        assert_eq!(
            run(b"close\n\xFF\n", "close", &[], None, &[])
                .error
                .as_deref(),
            Some("line 2, column close: '\u{FFFD}' is not a number")
        );
        let long = "9".repeat(70) + "x";
        assert_eq!(
            error(&format!("close\n{long}\n"), "close", &[]),
            format!(
                "line 2, column close: '{}...' is not a number",
                "9".repeat(60)
            )
        );
    }

    #[test]
    fn too_few_fields() {
        assert_eq!(
            error("a,b,c,d,e,f,g\n1,2,3,4,5,6,7\n\n\n\n1,2\n", "c", &["g"]),
            "line 6: expected at least 7 fields, found 2"
        );
        // Records may be ragged as long as they reach the columns used.
        let out = whole("a,p,z\n1,2\n3,4,5,6\n", "p", &["a"]);
        assert_eq!((out.error, out.prices), (None, bits(&[2.0, 4.0])));
    }

    #[test]
    fn wide_and_long_records_grow_the_buffers() {
        // Field counts around the initial `ends` size and its doublings, ending with and without
        // a newline (the end-of-input path needs one more `ends` slot of its own).
        for fields in [63, 64, 65, 66, 127, 128, 129, 130] {
            for newline in ["", "\n"] {
                let header: Vec<String> = (0..fields).map(|i| format!("c{i}")).collect();
                let row: Vec<String> = (0..fields).map(|i| i.to_string()).collect();
                let data = format!("{}\n{}{newline}", header.join(","), row.join(","));
                let last = format!("c{}", fields - 1);
                let out = whole(&data, &last, &["c0"]);
                assert_eq!(out.error, None, "{fields} fields");
                assert_eq!(out.prices, bits(&[(fields - 1) as f64]), "{fields} fields");
            }
        }
        // A field far longer than the initial byte buffer, cut at a few places.
        let long = "x".repeat(100_000);
        let data = format!("p,n\n1,\"{long}\"\n2,y\n");
        for cut in [0, 5, 4096, 50_000, data.len() - 1] {
            let out = run(data.as_bytes(), "p", &["n"], None, &[cut]);
            assert_eq!(
                out.keep,
                vec![vec![long.clone(), "y".to_string()]],
                "cut at {cut}"
            );
            assert_eq!(out.lines, vec![2, 3]);
        }
    }

    #[test]
    fn line_numbers_count_quoted_newlines() {
        let out = whole("p,n\n1,\"a\n\nb\"\n2,x\n3,\"\n\"\n4,y\n", "p", &["n"]);
        assert_eq!(out.lines, vec![2, 5, 6, 8]);
    }

    #[test]
    fn delimiter_errors() {
        for bad in ["", ";;", "\"", "\n", "\r", "é"] {
            let e = Parser::new("p".into(), vec![], Some(bad))
                .err()
                .expect(bad)
                .to_string();
            assert_eq!(
                e,
                format!(
                    "delimiter must be one ASCII character other than '\"', CR and LF, got {bad:?}"
                )
            );
        }
        assert!(Parser::new("p".into(), vec![], Some(";")).is_ok());
    }

    #[test]
    fn errors_are_sticky_and_earlier_rows_can_be_taken() {
        let mut parser = Parser::new("p".into(), vec![], None).unwrap();
        assert_eq!(parser.feed(b"p\n1\n2\n").unwrap(), 2);
        let first = parser.feed(b"x\n3\n").unwrap_err();
        assert_eq!(first.to_string(), "line 4, column p: 'x' is not a number");
        assert_eq!(parser.feed(b"4\n").unwrap_err(), first);
        assert_eq!(parser.end().unwrap_err(), first);
        let mut out = [0.0; 4];
        let taken = parser.take(&mut out);
        assert_eq!(
            (taken.rows, taken.first_line, out[..2].to_vec()),
            (2, 2, vec![1.0, 2.0])
        );
    }

    #[test]
    fn end_twice_and_feed_after_end() {
        let mut parser = Parser::new("p".into(), vec![], None).unwrap();
        parser.feed(b"p\n1").unwrap();
        assert_eq!(parser.end().unwrap(), 1);
        assert_eq!(parser.end().unwrap(), 1);
        assert_eq!(parser.feed(b"2\n").unwrap_err(), CsvError::FeedAfterEnd);
        // Misuse, not bad data: the reader still works.
        assert_eq!(parser.end().unwrap(), 1);
    }

    #[test]
    fn take_in_batches() {
        let mut data = String::from("t,p\n");
        for i in 0..1000 {
            data.push_str(&format!("t{i},{i}\n"));
        }
        let mut parser = Parser::new("p".into(), vec!["t".into()], None).unwrap();
        assert_eq!(parser.feed(data.as_bytes()).unwrap(), 1000);
        let mut buf = [f64::NAN; 300];
        let mut seen = 0;
        for expected_rows in [300, 300, 300, 100, 0] {
            let taken = parser.take(&mut buf);
            assert_eq!(taken.rows, expected_rows);
            for (r, (price, time)) in buf.iter().zip(&taken.keep[0]).enumerate() {
                assert_eq!(*price, (seen + r) as f64);
                assert_eq!(*time, format!("t{}", seen + r));
            }
            if taken.rows > 0 {
                assert_eq!(taken.first_line, seen as u64 + 2);
            }
            seen += taken.rows;
        }
        assert_eq!(parser.rows_taken, 1000);
        assert_eq!(parser.end().unwrap(), 0);
    }

    #[test]
    fn count_matches_rows_parsed() {
        let mut rng = Lcg(42);
        let pieces: [&[u8]; 8] = [b"1", b",", b"\n", b"\r\n", b"\"", b"\"\"", b"2.5", b"\r"];
        for _ in 0..2000 {
            let mut data = b"a,b\n".to_vec();
            for _ in 0..rng.below(30) {
                data.extend_from_slice(pieces[rng.below(pieces.len())]);
            }
            // Column `a` only: every record reaches it and parses or is reported.
            let out = run(&data, "a", &[], None, &[]);
            if out.error.is_none() {
                assert_eq!(
                    count_records(&data, b',') as usize,
                    out.prices.len(),
                    "{data:?}"
                );
            }
            let cut = rng.below(data.len() + 1);
            assert_eq!(
                run(&data, "a", &[], None, &[cut]),
                out,
                "{data:?} cut at {cut}"
            );
        }
        assert_eq!(count_records(TRICKY, b','), 5);
        assert_eq!(count_records(b"", b','), 0);
        assert_eq!(count_records(b"a;b\n1;2\n", b';'), 1);
    }

    /// 1M rows x 6 numeric columns fed in 1 MiB slices; prints the time, never fails on it.
    #[test]
    fn timing_one_million_rows() {
        if cfg!(debug_assertions) {
            eprintln!("timing_one_million_rows: skipped, timings need --release");
            return;
        }
        let rows = 1_000_000;
        let mut data = String::from("time,open,high,low,close,volume\n");
        let mut expected_sum = 0.0;
        for i in 0..rows {
            let close = 100.0 + (i % 977) as f64 * 0.01;
            expected_sum += close;
            data.push_str(&format!(
                "{},{:.4},{:.4},{:.4},{:.4},{}\n",
                1_700_000_000_000u64 + i as u64 * 60_000,
                close - 0.5,
                close + 1.0,
                close - 1.0,
                close,
                1_000_000 + i % 5000 * 37
            ));
        }
        let data = data.into_bytes();
        for keep in [vec![], vec!["time".to_string()]] {
            let start = std::time::Instant::now();
            let mut parser = Parser::new("close".into(), keep.clone(), None).unwrap();
            let mut prices = vec![0.0; rows];
            let mut taken = 0;
            for chunk in data.chunks(1 << 20) {
                parser.feed(chunk).unwrap();
                taken += parser.take(&mut prices[taken..]).rows;
            }
            parser.end().unwrap();
            taken += parser.take(&mut prices[taken..]).rows;
            let elapsed = start.elapsed();
            assert_eq!(taken, rows);
            let sum: f64 = prices.iter().sum();
            assert!((sum - expected_sum).abs() < 1e-6 * expected_sum);
            eprintln!(
                "timing_one_million_rows: {:.1} MB, keep {keep:?}: {:.1} ms ({:.0} MB/s)",
                data.len() as f64 / 1e6,
                elapsed.as_secs_f64() * 1e3,
                data.len() as f64 / 1e6 / elapsed.as_secs_f64()
            );
        }
        let start = std::time::Instant::now();
        assert_eq!(count_records(&data, b','), rows as u64);
        eprintln!(
            "timing_one_million_rows: count_records {:.1} ms",
            start.elapsed().as_secs_f64() * 1e3
        );
    }
}
