//! Streaming CSV reader for the price column: `csv_core` cuts the bytes into records (a record may
//! span any number of chunks), the header picks the columns, and parsed rows wait in a queue until
//! `take()` moves them into the caller's buffer. Keep columns are typed once, from the rows of the
//! first `take()`, and handed out in Arrow's memory layout. The parsing core (`Splitter`, `Parser`)
//! is plain Rust and tests without Node; `CsvReader` and `count_csv_file` are thin napi wrappers.

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

/// Bytes of text one keep column may hand out per `take`: Arrow's Utf8 offsets are `i32`.
const TEXT_LIMIT: usize = i32::MAX as usize;

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
    /// A keep value that does not fit its column.
    KeepValue {
        line: u64,
        column: String,
        text: String,
        problem: KeepProblem,
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
            CsvError::KeepValue {
                line,
                column,
                text,
                problem,
            } => {
                write!(f, "line {line}, column {column}: ")?;
                match problem {
                    KeepProblem::NotAnInteger => write!(
                        f,
                        "'{text}' is not an integer (the column was typed Int64 from its first rows)"
                    ),
                    KeepProblem::NotANumber => write!(
                        f,
                        "'{text}' is not a number (the column was typed Float64 from its first rows)"
                    ),
                    KeepProblem::NotFinite => write!(
                        f,
                        "'{text}' is not a finite number (the column was typed Float64 from its first rows)"
                    ),
                    KeepProblem::TooLong { bytes, limit } => write!(
                        f,
                        "a field of {bytes} bytes is too long for a text column ({limit} bytes at most)"
                    ),
                }
            }
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
#[cfg(test)]
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

/// Data records of a whole CSV file, read in 1 MiB pieces through the same splitter.
fn count_file_records(path: &str, delimiter: u8) -> std::io::Result<u64> {
    use std::io::Read;
    let mut file = std::fs::File::open(path)?;
    let mut buf = vec![0u8; 1 << 20];
    let mut splitter = Splitter::new(delimiter);
    let mut records = 0u64;
    let mut count = |_: Record<'_>| -> std::result::Result<(), std::convert::Infallible> {
        records += 1;
        Ok(())
    };
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        let _ = splitter.feed(&buf[..n], &mut count);
    }
    let _ = splitter.end(&mut count);
    Ok(records.saturating_sub(1))
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

/// Why a number field was refused, before the line and column are known.
enum NumberError {
    NotANumber,
    NotFinite,
}

/// Blank, or a marker the price column reads as a missing value.
fn is_missing(trimmed: &[u8]) -> bool {
    matches!(
        trimmed,
        b"" | b"NaN" | b"nan" | b"NA" | b"N/A" | b"null" | b"NULL"
    )
}

/// A price (or Float64 keep) field: blank or a missing-value marker is NaN; otherwise Rust's
/// correctly rounded `f64` parse, so a decimal in the file becomes the nearest double, as
/// everywhere else.
fn parse_number(field: &[u8]) -> std::result::Result<f64, NumberError> {
    let trimmed = field.trim_ascii();
    if is_missing(trimmed) {
        return Ok(f64::NAN);
    }
    let value = std::str::from_utf8(trimmed)
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .ok_or(NumberError::NotANumber)?;
    // `parse` also accepts other spellings of NaN ("NAN", "-nan"): still a missing value.
    if value.is_infinite() {
        return Err(NumberError::NotFinite);
    }
    Ok(value)
}

/// An Int64 keep field, trimmed: ASCII digits with an optional sign, in range. Exact, with no
/// detour through `f64`.
fn parse_integer(trimmed: &[u8]) -> Option<i64> {
    std::str::from_utf8(trimmed).ok()?.parse().ok()
}

/// Why a keep value does not fit its column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeepProblem {
    NotAnInteger,
    NotANumber,
    NotFinite,
    /// More text than one `take` can hand out (Arrow's string offsets are 32-bit).
    TooLong {
        bytes: usize,
        limit: usize,
    },
}

impl From<NumberError> for KeepProblem {
    fn from(e: NumberError) -> Self {
        match e {
            NumberError::NotANumber => KeepProblem::NotANumber,
            NumberError::NotFinite => KeepProblem::NotFinite,
        }
    }
}

fn keep_error(line: u64, column: &str, field: &[u8], problem: KeepProblem) -> CsvError {
    CsvError::KeepValue {
        line,
        column: column.to_string(),
        text: quoted(field),
        problem,
    }
}

/// The Arrow type of a keep column, decided once from the rows of the first `take` that returns
/// any, so every chunk of the file has the same schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeepType {
    Int64,
    Float64,
    Utf8,
}

impl KeepType {
    /// Int64 when every value that is not missing is an integer, else Float64 when every one is
    /// a number, else Utf8. With no value at all nothing says the column is numeric: Utf8.
    fn infer<'a>(values: impl Iterator<Item = &'a [u8]>) -> KeepType {
        let (mut any, mut integers) = (false, true);
        for value in values {
            let trimmed = value.trim_ascii();
            if is_missing(trimmed) {
                continue;
            }
            any = true;
            integers = integers && parse_integer(trimmed).is_some();
            if !integers && parse_number(trimmed).is_err() {
                return KeepType::Utf8;
            }
        }
        match (any, integers) {
            (false, _) => KeepType::Utf8,
            (true, true) => KeepType::Int64,
            (true, false) => KeepType::Float64,
        }
    }
}

/// The queue of one keep column: values are appended as records are parsed and taken from the
/// front. A refused record takes its values back out with `pop_back`.
trait KeepQueue {
    fn push(&mut self, field: &[u8], limit: usize) -> std::result::Result<(), KeepProblem>;
    fn pop_back(&mut self);
    fn truncate(&mut self, rows: usize);
}

/// Strings laid end to end (Arrow's Utf8 layout, offsets not yet rebased), always valid UTF-8.
#[derive(Default)]
struct TextQueue {
    /// The text from byte `base` of everything ever queued on.
    bytes: Vec<u8>,
    /// Where each value ends, counted from the first byte ever queued.
    ends: VecDeque<usize>,
    base: usize,
}

impl TextQueue {
    fn len(&self) -> usize {
        self.ends.len()
    }

    fn get(&self, i: usize) -> &[u8] {
        let start = if i == 0 { self.base } else { self.ends[i - 1] };
        &self.bytes[start - self.base..self.ends[i] - self.base]
    }

    fn push_text(&mut self, text: &[u8]) {
        self.bytes.extend_from_slice(text);
        self.ends.push_back(self.base + self.bytes.len());
    }

    /// How many values from the front hold at most `limit` bytes together.
    fn rows_within(&self, limit: usize) -> usize {
        self.ends.partition_point(|&end| end - self.base <= limit)
    }

    /// Moves `rows` values out as Arrow value offsets (`rows + 1`, from 0) and their bytes. The
    /// caller keeps their length within `TEXT_LIMIT` (see `Pending::rows_to_take`).
    fn take(&mut self, rows: usize) -> (Vec<i32>, Vec<u8>) {
        let mut offsets = Vec::with_capacity(rows + 1);
        offsets.push(0);
        let base = self.base;
        offsets.extend(self.ends.drain(..rows).map(|end| (end - base) as i32));
        let cut = offsets[rows] as usize;
        let bytes = self.bytes[..cut].to_vec();
        self.bytes.drain(..cut);
        self.base += cut;
        (offsets, bytes)
    }
}

/// Before the type is known: the field as text (invalid UTF-8 replaced, as everywhere in the
/// output), so that becoming Utf8 never makes a value longer.
impl KeepQueue for TextQueue {
    fn push(&mut self, field: &[u8], limit: usize) -> std::result::Result<(), KeepProblem> {
        let text = String::from_utf8_lossy(field);
        if text.len() > limit {
            return Err(KeepProblem::TooLong {
                bytes: text.len(),
                limit,
            });
        }
        self.push_text(text.as_bytes());
        Ok(())
    }

    fn pop_back(&mut self) {
        self.truncate(self.len().saturating_sub(1));
    }

    fn truncate(&mut self, rows: usize) {
        self.ends.truncate(rows);
        let end = self.ends.back().copied().unwrap_or(self.base);
        self.bytes.truncate(end - self.base);
    }
}

/// Values of a typed keep column. Missing values are 0 (or empty text) under a cleared
/// validity bit.
enum TypedValues {
    Int64(VecDeque<i64>),
    Float64(VecDeque<f64>),
    Utf8(TextQueue),
}

struct TypedQueue {
    valid: VecDeque<bool>,
    values: TypedValues,
}

impl TypedQueue {
    fn new(kind: KeepType) -> Self {
        let values = match kind {
            KeepType::Int64 => TypedValues::Int64(VecDeque::new()),
            KeepType::Float64 => TypedValues::Float64(VecDeque::new()),
            KeepType::Utf8 => TypedValues::Utf8(TextQueue::default()),
        };
        TypedQueue {
            valid: VecDeque::new(),
            values,
        }
    }

    /// Moves `rows` values out in Arrow's layout.
    fn take(&mut self, rows: usize) -> KeepData {
        // Arrow wants buffers padded to 8 bytes; the padding bits stay 0.
        let mut validity = vec![0u8; rows.div_ceil(64) * 8];
        let mut null_count = 0;
        for (i, valid) in self.valid.drain(..rows).enumerate() {
            validity[i / 8] |= u8::from(valid) << (i % 8);
            null_count += usize::from(!valid);
        }
        let values = match &mut self.values {
            TypedValues::Int64(v) => KeepValues::Int64(v.drain(..rows).collect()),
            TypedValues::Float64(v) => KeepValues::Float64(v.drain(..rows).collect()),
            TypedValues::Utf8(text) => {
                let (offsets, bytes) = text.take(rows);
                KeepValues::Utf8 { offsets, bytes }
            }
        };
        KeepData {
            validity,
            null_count,
            values,
        }
    }
}

impl KeepQueue for TypedQueue {
    fn push(&mut self, field: &[u8], limit: usize) -> std::result::Result<(), KeepProblem> {
        let valid = match &mut self.values {
            TypedValues::Int64(values) => {
                let trimmed = field.trim_ascii();
                let value = if is_missing(trimmed) {
                    None
                } else {
                    Some(parse_integer(trimmed).ok_or(KeepProblem::NotAnInteger)?)
                };
                values.push_back(value.unwrap_or(0));
                value.is_some()
            }
            TypedValues::Float64(values) => {
                let value = parse_number(field)?;
                values.push_back(if value.is_nan() { 0.0 } else { value });
                !value.is_nan()
            }
            TypedValues::Utf8(text) => {
                let blank = field.trim_ascii().is_empty();
                text.push(if blank { b"" } else { field }, limit)?;
                !blank
            }
        };
        self.valid.push_back(valid);
        Ok(())
    }

    fn pop_back(&mut self) {
        self.truncate(self.valid.len().saturating_sub(1));
    }

    fn truncate(&mut self, rows: usize) {
        self.valid.truncate(rows);
        match &mut self.values {
            TypedValues::Int64(v) => v.truncate(rows),
            TypedValues::Float64(v) => v.truncate(rows),
            TypedValues::Utf8(text) => text.truncate(rows),
        }
    }
}

/// The keep columns' queues: text until the first `take` with rows types them.
enum KeepQueues {
    Untyped(Vec<TextQueue>),
    Typed(Vec<TypedQueue>),
}

/// Pushes one record's keep fields, all or none.
fn push_keep<Q: KeepQueue>(
    queues: &mut [Q],
    record: &Record<'_>,
    schema: &Schema,
    limit: usize,
) -> std::result::Result<(), CsvError> {
    for (c, &i) in schema.keep.iter().enumerate() {
        let field = record.field(i);
        if let Err(problem) = queues[c].push(field, limit) {
            queues[..c].iter_mut().for_each(Q::pop_back);
            return Err(keep_error(record.line, &schema.header[i], field, problem));
        }
    }
    Ok(())
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
struct Pending {
    prices: VecDeque<f64>,
    lines: VecDeque<u64>,
    /// One queue per keep column.
    keep: KeepQueues,
    /// Text bytes one keep column may hand out per `take` (`TEXT_LIMIT`; smaller in tests).
    text_limit: usize,
}

impl Pending {
    fn new(keep_columns: usize) -> Self {
        Pending {
            prices: VecDeque::new(),
            lines: VecDeque::new(),
            keep: KeepQueues::Untyped((0..keep_columns).map(|_| TextQueue::default()).collect()),
            text_limit: TEXT_LIMIT,
        }
    }

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
        let price = parse_number(field).map_err(|e| {
            let (line, column, text) = (
                record.line,
                schema.header[schema.price].clone(),
                quoted(field),
            );
            match e {
                NumberError::NotANumber => CsvError::NotANumber { line, column, text },
                NumberError::NotFinite => CsvError::NotFinite { line, column, text },
            }
        })?;
        match &mut self.keep {
            KeepQueues::Untyped(queues) => push_keep(queues, record, schema, self.text_limit)?,
            KeepQueues::Typed(queues) => push_keep(queues, record, schema, self.text_limit)?,
        }
        self.prices.push_back(price);
        self.lines.push_back(record.line);
        Ok(())
    }

    /// How many of `wanted` rows one `take` hands out: no more than are queued, and no more than
    /// fit in Arrow's 32-bit string offsets. At least one when any is queued and wanted, since no
    /// single value is longer than `text_limit`.
    fn rows_to_take(&self, wanted: usize) -> usize {
        let rows = wanted.min(self.len());
        match &self.keep {
            KeepQueues::Untyped(queues) => queues
                .iter()
                .map(|q| q.rows_within(self.text_limit))
                .fold(rows, usize::min),
            KeepQueues::Typed(queues) => queues
                .iter()
                .filter_map(|q| match &q.values {
                    TypedValues::Utf8(text) => Some(text.rows_within(self.text_limit)),
                    _ => None,
                })
                .fold(rows, usize::min),
        }
    }

    /// Types the keep columns from their first `rows` values, then re-queues every waiting value
    /// in its column's type. A value that does not fit ends the queue: it and the rows after it
    /// are dropped and its error returned. The first `rows` always fit, so they stay.
    fn type_keep_columns(
        &mut self,
        rows: usize,
        schema: &Schema,
    ) -> std::result::Result<(), CsvError> {
        let KeepQueues::Untyped(texts) = &self.keep else {
            return Ok(());
        };
        let mut refused: Option<(usize, CsvError)> = None;
        let mut typed = Vec::with_capacity(texts.len());
        for (text, &column) in texts.iter().zip(&schema.keep) {
            let mut queue = TypedQueue::new(KeepType::infer((0..rows).map(|i| text.get(i))));
            for i in 0..text.len() {
                if let Err(problem) = queue.push(text.get(i), self.text_limit) {
                    // The earliest row wins; on one row, the first column, as `push` checks.
                    if refused.as_ref().is_none_or(|&(first, _)| i < first) {
                        let error =
                            keep_error(self.lines[i], &schema.header[column], text.get(i), problem);
                        refused = Some((i, error));
                    }
                    break;
                }
            }
            typed.push(queue);
        }
        self.keep = KeepQueues::Typed(typed);
        match refused {
            Some((row, error)) => {
                self.truncate(row);
                Err(error)
            }
            None => Ok(()),
        }
    }

    fn truncate(&mut self, rows: usize) {
        self.prices.truncate(rows);
        self.lines.truncate(rows);
        match &mut self.keep {
            KeepQueues::Untyped(queues) => queues.iter_mut().for_each(|q| q.truncate(rows)),
            KeepQueues::Typed(queues) => queues.iter_mut().for_each(|q| q.truncate(rows)),
        }
    }
}

/// One keep column of a `take`, in Arrow's layout.
#[derive(Debug, PartialEq)]
struct KeepData {
    /// Bit `i` (LSB first) set when row `i` has a value; padded to a multiple of 8 bytes.
    validity: Vec<u8>,
    null_count: usize,
    values: KeepValues,
}

#[derive(Debug, PartialEq)]
enum KeepValues {
    Int64(Vec<i64>),
    Float64(Vec<f64>),
    /// `offsets`: `rows + 1` Arrow value offsets into `bytes` (UTF-8).
    Utf8 {
        offsets: Vec<i32>,
        bytes: Vec<u8>,
    },
}

/// Rows moved out by `Parser::take`.
#[derive(Debug, PartialEq)]
struct Taken {
    rows: usize,
    /// One entry per keep column; none when no row was taken.
    keep: Vec<KeepData>,
    /// Line of the first row taken; 0 when none was.
    first_line: u64,
    /// Line of every row taken (blank lines and quoted newlines make them differ from
    /// `first_line + i`).
    lines: Vec<u64>,
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
    /// The error at the earliest bad row, returned again by every later `feed`/`end`, and by
    /// `take` once the rows before it are gone: the input position is lost.
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
            pending: Pending::new(keep.len()),
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

    /// Moves up to `prices.len()` rows out (fewer if a text keep column would pass Arrow's
    /// 32-bit offsets). The first call that moves rows types the keep columns; a waiting row that
    /// then does not fit its column becomes the failure, and only the rows before it stay.
    ///
    /// Rows queued before an error can still be taken; once none is left, the error is returned
    /// instead of an empty take, so a failure is never mistaken for the end of the input.
    fn take(&mut self, prices: &mut [f64]) -> std::result::Result<Taken, CsvError> {
        let rows = self.pending.rows_to_take(prices.len());
        if rows > 0
            && let Some(schema) = &self.schema
            && let Err(e) = self.pending.type_keep_columns(rows, schema)
        {
            // Queued rows all come before the failing record, so this one is earlier.
            self.failure = Some(e);
        }
        if self.pending.len() == 0 {
            self.check()?;
        }
        let first_line = self.pending.lines.front().copied().filter(|_| rows > 0);
        for (out, price) in prices.iter_mut().zip(self.pending.prices.drain(..rows)) {
            *out = price;
        }
        let lines: Vec<u64> = self.pending.lines.drain(..rows).collect();
        let keep = match &mut self.pending.keep {
            KeepQueues::Typed(queues) if rows > 0 => {
                queues.iter_mut().map(|q| q.take(rows)).collect()
            }
            _ => Vec::new(),
        };
        self.rows_taken += rows as u64;
        Ok(Taken {
            rows,
            keep,
            first_line: first_line.unwrap_or(0),
            lines,
        })
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

/// A count as JS gets it (a `u32`, saturating).
fn js_count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// One keep column of a `take()`, in Apache Arrow's memory layout: ready for `arrow.makeData`
/// without a JS value per row. The buffers are fresh for every take and belong to the caller.
#[napi(object, object_from_js = false)]
pub struct KeepColumnData {
    /// The column's type, decided from the rows of the first `take()` that returned any and
    /// held for the whole input: `'int64'` when every value there was an integer, `'float64'`
    /// when every value was a number, else `'utf8'`.
    #[napi(ts_type = "'int64' | 'float64' | 'utf8'")]
    pub kind: String,
    /// Arrow validity bitmap: bit `i` (least significant first) is 1 when row `i` has a value;
    /// `ceil(rows / 8)` bytes, padded with zeros to a multiple of 8. Missing values are blank
    /// fields, and in number columns also `NaN`, `nan`, `NA`, `N/A`, `null` and `NULL` (as for
    /// prices, so in `'float64'` columns any spelling of NaN).
    pub validity: Uint8Array,
    /// Rows without a value.
    pub null_count: u32,
    /// `kind` `'int64'`: `rows` values, exact (0 where missing).
    pub int64: Option<BigInt64Array>,
    /// `kind` `'float64'`: `rows` values, correctly rounded (0 where missing).
    pub float64: Option<Float64Array>,
    /// `kind` `'utf8'`: `rows + 1` Arrow value offsets into `bytes`, from 0 (missing = empty).
    pub offsets: Option<Int32Array>,
    /// `kind` `'utf8'`: the values' UTF-8 bytes, end to end (invalid input bytes become U+FFFD).
    pub bytes: Option<Uint8Array>,
}

impl From<KeepData> for KeepColumnData {
    fn from(data: KeepData) -> Self {
        let mut column = KeepColumnData {
            kind: String::new(),
            validity: Uint8Array::new(data.validity),
            null_count: js_count(data.null_count),
            int64: None,
            float64: None,
            offsets: None,
            bytes: None,
        };
        match data.values {
            KeepValues::Int64(values) => {
                column.kind = "int64".into();
                column.int64 = Some(BigInt64Array::new(values));
            }
            KeepValues::Float64(values) => {
                column.kind = "float64".into();
                column.float64 = Some(Float64Array::new(values));
            }
            KeepValues::Utf8 { offsets, bytes } => {
                column.kind = "utf8".into();
                column.offsets = Some(Int32Array::new(offsets));
                column.bytes = Some(Uint8Array::new(bytes));
            }
        }
        column
    }
}

/// Rows moved out of a `CsvReader` by `take()`.
#[napi(object, object_from_js = false)]
pub struct TakeResult {
    /// How many rows were taken: the first `rows` entries of `prices` were written.
    pub rows: u32,
    /// One column per keep column, in the order the columns were asked for, `rows` values each;
    /// empty when no row was taken.
    pub keep: Vec<KeepColumnData>,
    /// Input line number (1-based) of the first row taken; 0 when no row was taken.
    pub first_line: f64,
    /// Input line number (1-based) of every row taken.
    pub lines: Float64Array,
}

/// Reads a CSV price column from bytes that arrive in chunks of any size. The first record is the
/// header; blank lines are skipped; a UTF-8 BOM is ignored. Errors are `RangeError`s with
/// `code: 'ERR_CSV'` that name the line and column; after one, `feed` and `end` throw it again,
/// and `take` hands out the rows read before it, then throws it.
#[napi]
pub struct CsvReader {
    parser: Parser,
}

#[napi]
impl CsvReader {
    /// `column`: the price column (exact header match first, then a unique case-insensitive match).
    /// `keep`: columns copied through to the output (same matching), each typed from the rows of
    /// the first `take()` that returns any (see `KeepColumnData`).
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
    /// number. Once the keep columns are typed, their values are checked here too.
    #[napi]
    pub fn feed(&mut self, env: Env, bytes: &[u8]) -> Result<u32> {
        let rows = self
            .parser
            .feed(bytes)
            .map_err(|e| csv_error(&env, e.to_string()))?;
        Ok(js_count(rows))
    }

    /// Signals the end of the input: completes a last record that has no line terminator.
    /// Returns how many data rows are waiting for `take()`. Throws if the input had no header.
    #[napi]
    pub fn end(&mut self, env: Env) -> Result<u32> {
        let rows = self
            .parser
            .end()
            .map_err(|e| csv_error(&env, e.to_string()))?;
        Ok(js_count(rows))
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
    /// `prices` in place (missing = NaN), keep columns come back as Arrow buffers. Entries of
    /// `prices` past the rows taken are left as they were. May take fewer rows than asked when a
    /// text keep column would pass 2 GiB.
    ///
    /// The first take that returns rows types the keep columns; a row already read that does not
    /// fit its column's type is then an error at that row. Rows before an error can still be
    /// taken; when none is left, `take` throws the error instead of returning 0 rows.
    #[napi]
    pub fn take(&mut self, env: Env, mut prices: Float64ArraySlice) -> Result<TakeResult> {
        // SAFETY: `prices` is a live typed array for this synchronous call, and nothing else in
        // this call holds a reference to its bytes.
        let taken = self
            .parser
            .take(unsafe { prices.as_mut() })
            .map_err(|e| csv_error(&env, e.to_string()))?;
        Ok(TakeResult {
            rows: js_count(taken.rows),
            keep: taken.keep.into_iter().map(KeepColumnData::from).collect(),
            first_line: taken.first_line as f64,
            lines: Float64Array::new(taken.lines.iter().map(|&l| l as f64).collect()),
        })
    }
}

/// Counts the data records of a CSV file on the libuv thread pool (for the Parquet metadata and
/// progress totals, known before the file is streamed).
// Only the Node registration uses it, and that is compiled out of unit tests.
#[cfg_attr(test, allow(dead_code))]
pub struct CountFileTask {
    path: String,
    delimiter: u8,
}

#[napi]
impl Task for CountFileTask {
    type Output = u64;
    type JsValue = f64;

    fn compute(&mut self) -> Result<u64> {
        count_file_records(&self.path, self.delimiter)
            .map_err(|e| Error::from_reason(format!("{}: {e}", self.path)))
    }

    fn resolve(&mut self, _env: Env, records: u64) -> Result<f64> {
        Ok(records as f64)
    }
}

/// Data records (header excluded) of the CSV file at `path`, counted off the main thread with
/// the reader's own parser, so quoted newlines are counted right.
#[napi]
#[cfg_attr(test, allow(dead_code))]
pub fn count_csv_file(
    env: Env,
    path: String,
    delimiter: Option<String>,
) -> Result<AsyncTask<CountFileTask>> {
    let delimiter =
        parse_delimiter(delimiter.as_deref()).map_err(|e| csv_error(&env, e.to_string()))?;
    Ok(AsyncTask::new(CountFileTask { path, delimiter }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One keep value, decoded from the Arrow buffers by `decode`.
    #[derive(Debug, Clone, PartialEq)]
    enum Cell {
        Null,
        Int(i64),
        /// Bit pattern, so -0.0 differs from 0.0.
        Float(u64),
        Text(String),
    }

    fn texts(values: &[&str]) -> Vec<Cell> {
        values.iter().map(|v| Cell::Text(v.to_string())).collect()
    }

    fn ints(values: &[i64]) -> Vec<Cell> {
        values.iter().map(|&v| Cell::Int(v)).collect()
    }

    fn float(value: f64) -> Cell {
        Cell::Float(value.to_bits())
    }

    /// Everything a parse produced, to compare runs over different chunkings.
    #[derive(Debug, PartialEq)]
    struct Outcome {
        header: Option<Vec<String>>,
        /// Bit patterns, so NaN compares equal and -0.0 differs from 0.0.
        prices: Vec<u64>,
        /// Each keep column's type, once a take returned rows.
        types: Vec<KeepType>,
        keep: Vec<Vec<Cell>>,
        lines: Vec<u64>,
        /// What the reader finally reports: the error `take` gives once every row is out.
        error: Option<String>,
    }

    /// How `run_with` takes rows out: `first` rows by the first take (which types the keep
    /// columns), then `then` per take; `interleaved` takes after every feed, as the CLI does,
    /// instead of only after `end`.
    #[derive(Clone, Copy, Debug)]
    struct Takes {
        first: usize,
        then: usize,
        interleaved: bool,
    }

    /// Everything in one take, after the whole input.
    const ALL: Takes = Takes {
        first: usize::MAX,
        then: usize::MAX,
        interleaved: false,
    };

    /// Checks one taken column against the Arrow layout, written out from the spec rather than
    /// from the reader, and decodes it.
    fn decode(data: &KeepData, rows: usize) -> (KeepType, Vec<Cell>) {
        assert_eq!(data.validity.len(), rows.div_ceil(8).next_multiple_of(8));
        let bit = |i: usize| (data.validity[i / 8] >> (i % 8)) & 1 == 1;
        assert!(
            (rows..data.validity.len() * 8).all(|i| !bit(i)),
            "padding bits set"
        );
        assert_eq!(data.null_count, (0..rows).filter(|&i| !bit(i)).count());
        match &data.values {
            KeepValues::Int64(values) => {
                assert_eq!(values.len(), rows);
                let cells = (0..rows)
                    .map(|i| match bit(i) {
                        true => Cell::Int(values[i]),
                        false => {
                            assert_eq!(values[i], 0);
                            Cell::Null
                        }
                    })
                    .collect();
                (KeepType::Int64, cells)
            }
            KeepValues::Float64(values) => {
                assert_eq!(values.len(), rows);
                let cells = (0..rows)
                    .map(|i| match bit(i) {
                        true => {
                            assert!(values[i].is_finite());
                            float(values[i])
                        }
                        false => {
                            assert_eq!(values[i].to_bits(), 0);
                            Cell::Null
                        }
                    })
                    .collect();
                (KeepType::Float64, cells)
            }
            KeepValues::Utf8 { offsets, bytes } => {
                assert_eq!(offsets.len(), rows + 1);
                assert_eq!(offsets[0], 0);
                assert_eq!(offsets[rows] as usize, bytes.len());
                assert!(offsets.windows(2).all(|w| w[0] <= w[1]));
                let all = std::str::from_utf8(bytes).expect("valid UTF-8");
                let cells = (0..rows)
                    .map(|i| {
                        let value = &all[offsets[i] as usize..offsets[i + 1] as usize];
                        match bit(i) {
                            true => Cell::Text(value.to_string()),
                            false => {
                                assert_eq!(value, "");
                                Cell::Null
                            }
                        }
                    })
                    .collect();
                (KeepType::Utf8, cells)
            }
        }
    }

    /// Text queues hold exactly the bytes of their values.
    fn text_len(text: &TextQueue) -> usize {
        let end = text.ends.back().copied().unwrap_or(text.base);
        assert_eq!(
            text.bytes.len(),
            end - text.base,
            "bytes past the last value"
        );
        text.len()
    }

    /// Every queue holds one entry per waiting row.
    fn assert_aligned(parser: &Parser) {
        let pending = &parser.pending;
        let rows = pending.len();
        assert_eq!(pending.lines.len(), rows);
        let lengths: Vec<usize> = match &pending.keep {
            KeepQueues::Untyped(queues) => queues.iter().map(text_len).collect(),
            KeepQueues::Typed(queues) => queues
                .iter()
                .flat_map(|q| {
                    let values = match &q.values {
                        TypedValues::Int64(v) => v.len(),
                        TypedValues::Float64(v) => v.len(),
                        TypedValues::Utf8(text) => text_len(text),
                    };
                    [q.valid.len(), values]
                })
                .collect(),
        };
        assert!(
            lengths.iter().all(|&n| n == rows),
            "{lengths:?} for {rows} rows"
        );
    }

    /// One `take` of up to `wanted` rows into `out`; the rows' lines are read off the queue.
    fn take_into(
        parser: &mut Parser,
        wanted: usize,
        out: &mut Outcome,
    ) -> std::result::Result<usize, CsvError> {
        assert_aligned(parser);
        let lines: Vec<u64> = parser.pending.lines.iter().take(wanted).copied().collect();
        let mut prices = vec![f64::NAN; wanted.min(lines.len() + 1)];
        let taken = parser.take(&mut prices);
        assert_aligned(parser);
        let taken = taken?;
        let rows = taken.rows;
        assert!(rows <= lines.len());
        assert_eq!(
            taken.first_line,
            lines.first().copied().filter(|_| rows > 0).unwrap_or(0)
        );
        assert!(
            prices[rows..].iter().all(|p| p.is_nan()),
            "written past the rows taken"
        );
        out.prices
            .extend(prices[..rows].iter().map(|p| p.to_bits()));
        out.lines.extend(&lines[..rows]);
        if rows == 0 {
            assert!(taken.keep.is_empty());
            return Ok(0);
        }
        assert_eq!(taken.keep.len(), out.keep.len());
        for (c, data) in taken.keep.iter().enumerate() {
            let (kind, cells) = decode(data, rows);
            match out.types.get(c) {
                Some(&typed) => assert_eq!(kind, typed, "a column's type never changes"),
                None => out.types.push(kind),
            }
            out.keep[c].extend(cells);
        }
        Ok(rows)
    }

    /// Feeds `data` cut at `cuts` (sorted positions), ends, and takes the rows out as `takes`
    /// says, until the reader reports the end or its error.
    fn run_with(
        data: &[u8],
        column: &str,
        keep: &[&str],
        delimiter: Option<&str>,
        cuts: &[usize],
        takes: Takes,
    ) -> Outcome {
        let keep: Vec<String> = keep.iter().map(|s| s.to_string()).collect();
        let mut parser = Parser::new(column.into(), keep.clone(), delimiter).unwrap();
        let mut out = Outcome {
            header: None,
            prices: vec![],
            types: vec![],
            keep: vec![vec![]; keep.len()],
            lines: vec![],
            error: None,
        };
        let mut typed = false;
        // Takes the first `first` rows once they are there, then everything waiting.
        let mut drain = |parser: &mut Parser, out: &mut Outcome, ended: bool| {
            if !typed && (ended || parser.pending.len() >= takes.first) {
                typed = take_into(parser, takes.first, out).is_ok_and(|rows| rows > 0);
            }
            while typed && matches!(take_into(parser, takes.then, out), Ok(rows) if rows > 0) {}
        };
        let mut thrown = None;
        let mut start = 0;
        for &cut in cuts.iter().chain([&data.len()]) {
            if let Err(e) = parser.feed(&data[start..cut]) {
                thrown = Some(e);
                break;
            }
            start = cut;
            if takes.interleaved {
                drain(&mut parser, &mut out, false);
            }
        }
        if thrown.is_none() {
            thrown = parser.end().err();
        }
        drain(&mut parser, &mut out, true);
        out.header = parser.header().map(|s| s.header.clone());
        let last = take_into(&mut parser, 1, &mut out);
        assert!(matches!(last, Ok(0) | Err(_)), "rows left after the drain");
        let last = last.err();
        // `take` reports what `feed` or `end` threw, or a keep value of an earlier row that the
        // typing refused.
        if let Some(thrown) = &thrown {
            let last = last.as_ref().expect("a thrown error is reported by take");
            assert!(last == thrown || matches!(last, CsvError::KeepValue { .. }));
        }
        out.error = last.map(|e| e.to_string());
        out
    }

    fn run(
        data: &[u8],
        column: &str,
        keep: &[&str],
        delimiter: Option<&str>,
        cuts: &[usize],
    ) -> Outcome {
        run_with(data, column, keep, delimiter, cuts, ALL)
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
        assert_eq!(
            out.keep[0],
            texts(&["a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l"])
        );
    }

    /// A file with one keep column `k` holding `fields` (CSV text, quoted by the caller).
    fn keep_file(fields: &[&str]) -> String {
        let mut data = String::from("k,p\n");
        for (i, field) in fields.iter().enumerate() {
            data.push_str(&format!("{field},{i}\n"));
        }
        data
    }

    /// `fields` taken in one go: the type they give and the values.
    fn typed(fields: &[&str]) -> (KeepType, Vec<Cell>) {
        let out = whole(&keep_file(fields), "p", &["k"]);
        assert_eq!(out.error, None, "{fields:?}");
        assert_eq!(out.types.len(), 1, "{fields:?}");
        (
            out.types[0],
            out.keep.into_iter().next().unwrap_or_default(),
        )
    }

    #[test]
    fn integer_columns_are_int64_exactly() {
        use Cell::Null;
        assert_eq!(
            typed(&[
                "1",
                " -2 ",
                "+3",
                "",
                "NA",
                "null",
                "007",
                "-0",
                "\" 42\r\n\""
            ]),
            (
                KeepType::Int64,
                vec![
                    Cell::Int(1),
                    Cell::Int(-2),
                    Cell::Int(3),
                    Null,
                    Null,
                    Null,
                    Cell::Int(7),
                    Cell::Int(0),
                    Cell::Int(42)
                ]
            )
        );
        // The extremes, and integers past 2^53 that a double would round.
        assert_eq!(
            typed(&[
                "9223372036854775807",
                "-9223372036854775808",
                "9007199254740993",
                "1700000000000123457"
            ]),
            (
                KeepType::Int64,
                ints(&[
                    i64::MAX,
                    i64::MIN,
                    9_007_199_254_740_993,
                    1_700_000_000_000_123_457
                ])
            )
        );
    }

    #[test]
    fn number_columns_are_float64_correctly_rounded() {
        use Cell::Null;
        let fields = [
            "1", "2.5", "NaN", "nan", "N/A", "NULL", "NAN", "-nan", "-0", "1e3", ".5", "0.1", "",
        ];
        let (kind, cells) = typed(&fields);
        assert_eq!(kind, KeepType::Float64);
        let mut want = vec![float(1.0), float(2.5)];
        want.extend([Null, Null, Null, Null, Null, Null]);
        want.extend([float(-0.0), float(1e3), float(0.5), float(0.1), Null]);
        assert_eq!(cells, want);
        // One past the i64 range is no integer, but a number.
        assert_eq!(
            typed(&["9223372036854775808", "-9223372036854775809", "5e-324"]),
            (
                KeepType::Float64,
                vec![
                    float(9223372036854775808.0),
                    float(-9223372036854775809.0),
                    float(5e-324)
                ]
            )
        );
        assert_eq!(
            typed(&["1.7976931348623157e308", "0.30000000000000004"]).1,
            vec![float(f64::MAX), float(0.1 + 0.2)]
        );
    }

    #[test]
    fn anything_else_is_utf8_and_only_blanks_are_missing() {
        use Cell::Null;
        for fields in [
            &["1", "inf"][..],
            &["1", "abc"],
            &["0x10"],
            &["1_000"],
            &["1 2"],
            &["\u{0661}"],
            &["2024-01-01"],
        ] {
            assert_eq!(typed(fields), (KeepType::Utf8, texts(fields)), "{fields:?}");
        }
        assert_eq!(typed(&["\"1,5\""]), (KeepType::Utf8, texts(&["1,5"])));
        // Nothing says a column of missing values holds numbers; in text, "NA" is text.
        assert_eq!(
            typed(&["", " ", "\"\"", "\"\t\r\n\""]),
            (KeepType::Utf8, vec![Null; 4])
        );
        assert_eq!(
            typed(&["NA", "", "null", " a ", "  "]),
            (
                KeepType::Utf8,
                vec![
                    Cell::Text("NA".into()),
                    Null,
                    Cell::Text("null".into()),
                    Cell::Text(" a ".into()),
                    Null
                ]
            )
        );
    }

    #[test]
    fn text_is_utf8_with_byte_offsets() {
        let data = "k,p\né,1\n日本語,2\n\"😀, \"\"x\"\"\n\",3\n  ,4\n\" a \",5\n";
        let mut parser = Parser::new("p".into(), vec!["k".into()], None).unwrap();
        parser.feed(data.as_bytes()).unwrap();
        parser.end().unwrap();
        let taken = parser.take(&mut [0.0; 8]).unwrap();
        assert_eq!(taken.rows, 5);
        let column = &taken.keep[0];
        assert_eq!(
            column.values,
            KeepValues::Utf8 {
                offsets: vec![0, 2, 11, 21, 21, 24],
                bytes: "é日本語😀, \"x\"\n a ".as_bytes().to_vec(),
            }
        );
        assert_eq!(
            (column.validity.clone(), column.null_count),
            (vec![0b10111, 0, 0, 0, 0, 0, 0, 0], 1)
        );
        // Bytes that are not UTF-8 become U+FFFD, as in the header.
        assert_eq!(
            run(b"k,p\n\xFFa,1\nb\xC3,2\n", "p", &["k"], None, &[]).keep,
            vec![texts(&["\u{FFFD}a", "b\u{FFFD}"])]
        );
    }

    #[test]
    fn validity_bitmaps_over_many_rows() {
        for rows in [1, 2, 7, 8, 9, 63, 64, 65, 130] {
            let fields: Vec<String> = (0..rows)
                .map(|i| match i % 3 {
                    0 => String::new(),
                    _ => i.to_string(),
                })
                .collect();
            let fields: Vec<&str> = fields.iter().map(String::as_str).collect();
            let data = keep_file(&fields);
            // The first value is missing: the type comes from the rows after it.
            let first = rows.min(2);
            let want: Vec<Cell> = (0..rows)
                .map(|i| match i % 3 {
                    0 => Cell::Null,
                    _ => Cell::Int(i as i64),
                })
                .collect();
            for then in [1, 3, 8, 9, 64, 1000] {
                let takes = Takes {
                    first,
                    then,
                    interleaved: false,
                };
                let out = run_with(data.as_bytes(), "p", &["k"], None, &[], takes);
                let kind = if rows == 1 {
                    KeepType::Utf8
                } else {
                    KeepType::Int64
                };
                let want = match kind {
                    KeepType::Utf8 => vec![Cell::Null],
                    _ => want.clone(),
                };
                assert_eq!(
                    (out.types, out.keep),
                    (vec![kind], vec![want]),
                    "{rows} rows"
                );
            }
        }
    }

    #[test]
    fn the_first_take_types_the_column_for_the_whole_file() {
        let data = keep_file(&["1", "2", "", "3", "4.5", "6"]);
        let take = |first: usize| {
            let takes = Takes {
                first,
                then: 1,
                interleaved: false,
            };
            run_with(data.as_bytes(), "p", &["k"], None, &[], takes)
        };
        for first in 1..=4 {
            let out = take(first);
            assert_eq!(out.types, vec![KeepType::Int64]);
            assert_eq!(
                out.keep,
                vec![vec![Cell::Int(1), Cell::Int(2), Cell::Null, Cell::Int(3)]]
            );
            assert_eq!(
                out.error.as_deref(),
                Some(
                    "line 6, column k: '4.5' is not an integer (the column was typed Int64 from its first rows)"
                )
            );
        }
        for first in 5..=7 {
            let out = take(first);
            assert_eq!((out.types, out.error), (vec![KeepType::Float64], None));
            assert_eq!(out.keep[0][4], float(4.5));
        }
        let first_row = |fields: &[&str]| {
            let takes = Takes {
                first: 1,
                then: 1,
                interleaved: false,
            };
            run_with(keep_file(fields).as_bytes(), "p", &["k"], None, &[], takes)
        };
        assert_eq!(
            first_row(&["1.5", "2", " x "]).error.as_deref(),
            Some(
                "line 4, column k: ' x ' is not a number (the column was typed Float64 from its first rows)"
            )
        );
        assert_eq!(
            first_row(&["1.5", "-inf"]).error.as_deref(),
            Some(
                "line 3, column k: '-inf' is not a finite number (the column was typed Float64 from its first rows)"
            )
        );
        let long = "9".repeat(70) + "x";
        assert_eq!(
            first_row(&["1", &long]).error,
            Some(format!(
                "line 3, column k: '{}...' is not an integer (the column was typed Int64 from its first rows)",
                "9".repeat(60)
            ))
        );
        // Text never refuses a value; a first row with nothing in it makes the column text.
        let out = first_row(&["a", "1", "", "2.5"]);
        assert_eq!((out.types, out.error), (vec![KeepType::Utf8], None));
        let out = first_row(&["", "1"]);
        assert_eq!(
            (out.types, out.keep),
            (
                vec![KeepType::Utf8],
                vec![vec![Cell::Null, Cell::Text("1".into())]]
            )
        );
    }

    /// Integer keys with multi-line text beside them; a bad key on line 9, a bad price on line 10.
    const MISMATCH: &[u8] =
        b"k,p,n\n1,1,\"a\nb\"\n2,2,x\n\"3\",3,\"\r\n\"\n\n-4,4,y\n5x,5,z\n6,oops,w\n";

    #[test]
    fn keep_errors_do_not_depend_on_chunking_or_when_rows_are_taken() {
        let typed_from_first_rows = Outcome {
            header: Some(vec!["k".into(), "p".into(), "n".into()]),
            prices: bits(&[1.0, 2.0, 3.0, 4.0]),
            types: vec![KeepType::Int64, KeepType::Utf8],
            keep: vec![
                ints(&[1, 2, 3, -4]),
                vec![
                    Cell::Text("a\nb".into()),
                    Cell::Text("x".into()),
                    Cell::Null,
                    Cell::Text("y".into()),
                ],
            ],
            lines: vec![2, 4, 5, 8],
            error: Some(
                "line 9, column k: '5x' is not an integer (the column was typed Int64 from its first rows)"
                    .into(),
            ),
        };
        let typed_with_the_bad_key = Outcome {
            prices: bits(&[1.0, 2.0, 3.0, 4.0, 5.0]),
            types: vec![KeepType::Utf8, KeepType::Utf8],
            keep: vec![
                texts(&["1", "2", "3", "-4", "5x"]),
                vec![
                    Cell::Text("a\nb".into()),
                    Cell::Text("x".into()),
                    Cell::Null,
                    Cell::Text("y".into()),
                    Cell::Text("z".into()),
                ],
            ],
            lines: vec![2, 4, 5, 8, 9],
            error: Some("line 10, column p: 'oops' is not a number".into()),
            ..typed_from_first_rows
        };
        let typed_from_first_rows = Outcome {
            header: typed_with_the_bad_key.header.clone(),
            ..typed_from_first_rows
        };
        for first in 1..=6 {
            let expected = match first {
                1..=4 => &typed_from_first_rows,
                _ => &typed_with_the_bad_key,
            };
            for interleaved in [false, true] {
                for then in [1, 2, 100] {
                    let takes = Takes {
                        first,
                        then,
                        interleaved,
                    };
                    for a in 0..=MISMATCH.len() {
                        for b in (a..=MISMATCH.len()).step_by(7) {
                            assert_eq!(
                                &run_with(MISMATCH, "p", &["k", "n"], None, &[a, b], takes),
                                expected,
                                "{takes:?}, cuts {a}, {b}"
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn the_earliest_bad_row_is_reported_and_a_refused_record_leaves_nothing() {
        let first_row = Takes {
            first: 1,
            then: 1,
            interleaved: false,
        };
        let error = |data: &str| {
            run_with(data.as_bytes(), "p", &["a", "b"], None, &[], first_row)
                .error
                .expect("an error")
        };
        // Found when the waiting rows are typed: the earliest row, whichever column it is in.
        assert_eq!(
            error("a,b,p\n1,1,1\n2,2,2\n3,y,3\nx,4,4\n"),
            "line 4, column b: 'y' is not an integer (the column was typed Int64 from its first rows)"
        );
        // On one row, the first column, as when a record is read.
        assert_eq!(
            error("a,b,p\n1,1,1\nx,y,2\n"),
            "line 3, column a: 'x' is not an integer (the column was typed Int64 from its first rows)"
        );
        // Found as a record is read: the columns before the refused value give theirs back.
        let mut parser = Parser::new("p".into(), vec!["a".into(), "b".into()], None).unwrap();
        parser.feed(b"a,b,p\n1,2,1\n").unwrap();
        assert_eq!(parser.take(&mut [0.0]).unwrap().rows, 1);
        let e = parser.feed(b"3,4,2\n5,x,3\n").unwrap_err();
        assert_aligned(&parser);
        assert_eq!(
            e.to_string(),
            "line 4, column b: 'x' is not an integer (the column was typed Int64 from its first rows)"
        );
        let taken = parser.take(&mut [0.0; 4]).unwrap();
        assert_eq!(taken.rows, 1);
        let values: Vec<_> = taken.keep.iter().map(|k| &k.values).collect();
        assert_eq!(
            values,
            [&KeepValues::Int64(vec![3]), &KeepValues::Int64(vec![4])]
        );
        assert_eq!(parser.take(&mut [0.0; 4]).unwrap_err(), e);
        assert_eq!(parser.end().unwrap_err(), e);
    }

    #[test]
    fn takes_stop_short_of_the_text_limit() {
        let mut parser = Parser::new("p".into(), vec!["k".into()], None).unwrap();
        parser.pending.text_limit = 10;
        parser
            .feed(b"k,p\naaaa,1\nbbbb,2\ncccc,3\nddddddddd,4\n")
            .unwrap();
        let mut rows = vec![];
        loop {
            let taken = parser.take(&mut [0.0; 10]).unwrap();
            if taken.rows == 0 {
                break;
            }
            rows.push(taken.rows);
        }
        assert_eq!(rows, [2, 1, 1]);
        let e = parser.feed(b"eeeeeeeeeee,5\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "line 6, column k: a field of 11 bytes is too long for a text column (10 bytes at most)"
        );
        assert_eq!(parser.take(&mut [0.0; 10]).unwrap_err(), e);
        // Before the type is known, counted as the text it would become.
        let mut parser = Parser::new("p".into(), vec!["k".into()], None).unwrap();
        parser.pending.text_limit = 10;
        assert_eq!(
            parser
                .feed(b"k,p\nab,1\n\xFF\xFF\xFF\xFF,2\n")
                .unwrap_err()
                .to_string(),
            "line 3, column k: a field of 12 bytes is too long for a text column (10 bytes at most)"
        );
        assert_eq!(parser.take(&mut [0.0; 10]).unwrap().rows, 1);
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
            types: vec![KeepType::Utf8, KeepType::Utf8],
            keep: vec![
                texts(&[
                    "2024-01-01",
                    "2024-01-02",
                    "2024-01-03",
                    "2024-01-04",
                    "2024-01-05",
                ]),
                vec![
                    Cell::Text("plain".into()),
                    Cell::Text("two\r\nlines, \"quoted\"".into()),
                    Cell::Null,
                    Cell::Text("a\nb\nc".into()),
                    Cell::Text("last".into()),
                ],
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
        assert_eq!(
            (out.types, out.keep),
            (vec![KeepType::Int64], vec![ints(&[1])])
        );
        // A unique case-insensitive match, Unicode too.
        assert_eq!(
            whole("Ä,CLOSE\nx,3\n", "close", &["ä"]).keep,
            vec![texts(&["x"])]
        );
        for (data, column, keep, message) in [
            (
                "a,Close,CLOSE\n1,2,3\n",
                "close",
                &[][..],
                "column 'close' is ambiguous: it matches 'Close' (column 2), 'CLOSE' (column 3)",
            ),
            (
                "p,p\n1,2\n",
                "p",
                &[],
                "column 'p' is ambiguous: it matches 'p' (column 1), 'p' (column 2)",
            ),
            (
                "0,1,2,3,4,5\n",
                "close",
                &[],
                "column 'close' not found; available columns: 0, 1, 2, 3, 4, 5",
            ),
            (
                "p,a\n1,2\n",
                "p",
                &["a", "b"],
                "column 'b' not found; available columns: p, a",
            ),
        ] {
            assert_eq!(error(data, column, keep), message, "input {data:?}");
        }
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
        for (data, message) in [
            (
                "d,close\n1,2\n2,abc\n",
                "line 3, column close: 'abc' is not a number",
            ),
            (
                "close\ninf\n",
                "line 2, column close: 'inf' is not a finite number",
            ),
            (
                "close\n-Infinity\n",
                "line 2, column close: '-Infinity' is not a finite number",
            ),
            (
                "close\n1e999\n",
                "line 2, column close: '1e999' is not a finite number",
            ),
            (
                "close\n\"1,5\"\n",
                "line 2, column close: '1,5' is not a number",
            ),
            (
                "close\n\"1 2\"\n",
                "line 2, column close: '1 2' is not a number",
            ),
        ] {
            assert_eq!(error(data, "close", &[]), message, "input {data:?}");
        }
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
            assert_eq!(out.keep, vec![texts(&[&long, "y"])], "cut at {cut}");
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
        let taken = parser.take(&mut out).unwrap();
        assert_eq!(
            (taken.rows, taken.first_line, out[..2].to_vec()),
            (2, 2, vec![1.0, 2.0])
        );
        // Every row before the error is out: now `take` reports it, and keeps doing so.
        assert_eq!(parser.take(&mut out).unwrap_err(), first);
        assert_eq!(parser.take(&mut out).unwrap_err(), first);
        assert_eq!(parser.take(&mut []).unwrap_err(), first);
    }

    #[test]
    fn an_empty_take_before_the_error_is_not_an_error() {
        let mut parser = Parser::new("p".into(), vec![], None).unwrap();
        parser
            .feed(
                b"p
1
x
",
            )
            .unwrap_err();
        assert_eq!(parser.take(&mut []).unwrap().rows, 0);
        assert_eq!(parser.take(&mut [0.0; 2]).unwrap().rows, 1);
        assert!(parser.take(&mut []).is_err());
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
            let taken = parser.take(&mut buf).unwrap();
            assert_eq!(taken.rows, expected_rows);
            if taken.rows > 0 {
                let (kind, times) = decode(&taken.keep[0], taken.rows);
                assert_eq!(kind, KeepType::Utf8);
                for (r, (price, time)) in buf.iter().zip(times).enumerate() {
                    assert_eq!(*price, (seen + r) as f64);
                    assert_eq!(time, Cell::Text(format!("t{}", seen + r)));
                }
                assert_eq!(taken.first_line, seen as u64 + 2);
            }
            seen += taken.rows;
        }
        assert_eq!(parser.rows_taken, 1000);
        assert_eq!(parser.end().unwrap(), 0);
    }

    #[test]
    fn count_file_records_matches_the_buffer_count() {
        let text = "ts,close\n1,\"2\n\"\n\n3,4\r\n5,6";
        let path = std::env::temp_dir().join(format!("trendflex-count-{}.csv", std::process::id()));
        std::fs::write(&path, text).unwrap();
        let got = count_file_records(path.to_str().unwrap(), b',').unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(got, count_records(text.as_bytes(), b','));
        assert_eq!(got, 3);
        assert!(count_file_records("/nonexistent/file.csv", b',').is_err());
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
        let expected_times: i64 = (0..rows as i64)
            .map(|i| 1_700_000_000_000 + i * 60_000)
            .sum();
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
            let mut times = 0i64;
            let mut add = |parser: &mut Parser, prices: &mut [f64]| {
                let taken = parser.take(prices).unwrap();
                if let Some(KeepValues::Int64(values)) = taken.keep.first().map(|k| &k.values) {
                    times = times.wrapping_add(values.iter().sum());
                }
                taken.rows
            };
            for chunk in data.chunks(1 << 20) {
                parser.feed(chunk).unwrap();
                taken += add(&mut parser, &mut prices[taken..]);
            }
            parser.end().unwrap();
            taken += add(&mut parser, &mut prices[taken..]);
            let elapsed = start.elapsed();
            assert_eq!(taken, rows);
            if !keep.is_empty() {
                assert_eq!(times, expected_times, "the time column, typed Int64");
            }
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
