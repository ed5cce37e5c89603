//! Streaming CSV reader for trendflex, without Node and without I/O: bytes go in, in pieces of
//! any size; out come a price column (f64, NaN where missing) and the `--keep` columns in Arrow's
//! layout, typed from a fixed sample or as declared. Every refusal names its line.
//!
//! Concerns, one module each: [`split`] cuts records (csv-core), [`columns`] finds columns by
//! name or position (also for Parquet inputs), [`number`] parses fields, [`keep`] types and lays
//! out keep columns.

pub mod columns;
mod error;
mod keep;
pub mod number;
mod split;

pub use columns::{MatchError, match_column, match_position};
pub use error::{CsvError, escape};
pub use keep::{KeepColumn, KeepType, KeepValues};

use keep::{Fields, convert};
use number::NumberError;
use split::{Record, Splitter};

/// Rows a keep column's type is decided from, unless it is declared.
pub const SAMPLE_ROWS: usize = 100_000;

/// Text bytes one keep column may hand out per take: Arrow's Utf8 offsets are `i32`.
const TEXT_LIMIT: usize = i32::MAX as usize;

/// A column to copy through to the output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keep {
    /// A header name, or without a header a 1-based position.
    pub name: String,
    /// Declared with `--keep NAME:TYPE`; otherwise decided from the sample.
    pub kind: Option<KeepType>,
}

#[derive(Debug, Clone)]
pub struct Options {
    pub delimiter: u8,
    /// The first record names the columns; without one, columns are positions `1`, `2`, ...
    pub header: bool,
    pub price: String,
    pub keep: Vec<Keep>,
    /// Every keep column is text exactly as written (for CSV output, which needs no types).
    pub keep_as_text: bool,
    pub sample_rows: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            delimiter: b',',
            header: true,
            price: "close".into(),
            keep: Vec::new(),
            keep_as_text: false,
            sample_rows: SAMPLE_ROWS,
        }
    }
}

/// What the header (or the first record) resolved to.
#[derive(Debug, Clone)]
pub struct Header {
    /// Column names: the header's, or `1`, `2`, ... without one.
    pub names: Vec<String>,
    pub price: usize,
    pub keep: Vec<usize>,
}

/// Rows moved out by [`CsvReader::take`].
#[derive(Debug, Clone, PartialEq)]
pub struct Taken {
    pub rows: usize,
    /// One per keep column; empty when no row was taken.
    pub keep: Vec<KeepColumn>,
    /// The input line of every row taken.
    pub lines: Vec<u64>,
}

pub struct CsvReader {
    splitter: Splitter,
    options: Options,
    header: Option<Header>,
    /// Fields a record must have (the header's count, or the first record's).
    fields: usize,
    prices: Vec<f64>,
    lines: Vec<u64>,
    keep: Vec<Fields>,
    types: Option<Vec<KeepType>>,
    ended: bool,
    /// The error at the earliest bad row: every row before it can still be taken, then it is
    /// returned (by `feed` and `end` at once).
    failure: Option<CsvError>,
}

impl CsvReader {
    pub fn new(options: Options) -> Self {
        CsvReader {
            splitter: Splitter::new(options.delimiter),
            keep: options.keep.iter().map(|_| Fields::default()).collect(),
            options,
            header: None,
            fields: 0,
            prices: Vec::new(),
            lines: Vec::new(),
            types: None,
            ended: false,
            failure: None,
        }
    }

    pub fn header(&self) -> Option<&Header> {
        self.header.as_ref()
    }

    /// The keep columns' types, once decided.
    pub fn keep_types(&self) -> Option<&[KeepType]> {
        self.types.as_deref()
    }

    /// Whether the input has ended or failed: nothing more will come in.
    pub fn done(&self) -> bool {
        self.ended || self.failure.is_some()
    }

    /// Parses every record `bytes` completes. Errors stop the reading; rows before them stay
    /// takeable (see [`CsvReader::take`]).
    pub fn feed(&mut self, bytes: &[u8]) {
        if self.done() {
            return;
        }
        let result = self.splitter.feed(bytes, &mut |r| {
            accept(
                r,
                &self.options,
                &mut self.header,
                &mut self.fields,
                &mut self.prices,
                &mut self.lines,
                &mut self.keep,
            )
        });
        self.settle(result);
    }

    /// Ends the input (completing a last record without a line terminator).
    pub fn end(&mut self) {
        if self.done() {
            return;
        }
        self.ended = true;
        let mut result = self.splitter.end(&mut |r| {
            accept(
                r,
                &self.options,
                &mut self.header,
                &mut self.fields,
                &mut self.prices,
                &mut self.lines,
                &mut self.keep,
            )
        });
        if result.is_ok() && self.header.is_none() {
            result = Err(CsvError::Empty);
        }
        self.settle(result);
    }

    fn settle(&mut self, result: Result<(), CsvError>) {
        if let Err(e) = result {
            self.failure = Some(e);
        }
    }

    /// Rows a take can hand out now: keep columns need their sample (or the end) first.
    pub fn ready(&self) -> usize {
        let waiting = self.prices.len();
        let sampled = self.types.is_some()
            || self.done()
            || waiting >= self.options.sample_rows
            || self.keep.is_empty();
        if sampled { waiting } else { 0 }
    }

    /// The error the input stopped at, once no row before it is left.
    pub fn error(&self) -> Option<&CsvError> {
        self.failure.as_ref().filter(|_| self.prices.is_empty())
    }

    /// Moves up to `prices.len()` of the [`ready`](CsvReader::ready) rows out: prices in place,
    /// keep columns in Arrow's layout. A keep value that does not fit its type stops the take
    /// before it and becomes the error; once no row is left before an error, it is returned.
    pub fn take(&mut self, prices: &mut [f64]) -> Result<Taken, CsvError> {
        let mut rows = prices.len().min(self.ready());
        if rows > 0 && self.types.is_none() {
            self.types = Some(self.decide_types());
        }
        for f in &self.keep {
            rows = rows.min(f.rows_within(TEXT_LIMIT));
        }
        if rows == 0 && !prices.is_empty() && !self.prices.is_empty() && self.ready() > 0 {
            // A single text field past 2 GiB: it can never be handed out.
            let (c, column) = self
                .keep
                .iter()
                .enumerate()
                .find(|(_, f)| f.rows_within(TEXT_LIMIT) == 0)
                .map(|(c, _)| (c, self.keep_name(c)))
                .unwrap_or((0, String::new()));
            return Err(CsvError::FieldTooLong {
                line: self.lines[0],
                column,
                bytes: self.keep[c].get(0).len(),
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
                    lines: Vec::new(),
                }),
            };
        }
        let types = self.types.clone().unwrap_or_default();
        let mut keep = Vec::with_capacity(self.keep.len());
        for (c, fields) in self.keep.iter().enumerate() {
            match convert(fields, rows, types[c]) {
                Ok(column) => keep.push(column),
                Err((row, _)) => {
                    // Rows before the misfit go out; it becomes the (earliest) failure.
                    let declared = self.options.keep[c].kind.is_some();
                    self.failure = Some(CsvError::KeepValue {
                        line: self.lines[row],
                        column: self.keep_name(c),
                        text: escape(fields.get(row)),
                        kind: types[c],
                        declared,
                        sample: self.options.sample_rows,
                    });
                    self.truncate(row);
                    return self.take(&mut prices[..row]);
                }
            }
        }
        prices[..rows].copy_from_slice(&self.prices[..rows]);
        self.prices.drain(..rows);
        let lines = self.lines.drain(..rows).collect();
        self.keep.iter_mut().for_each(|f| f.drain(rows));
        Ok(Taken { rows, keep, lines })
    }

    fn keep_name(&self, c: usize) -> String {
        match &self.header {
            Some(h) => h.names[h.keep[c]].clone(),
            None => self.options.keep[c].name.clone(),
        }
    }

    fn decide_types(&self) -> Vec<KeepType> {
        let sample = self.prices.len().min(self.options.sample_rows);
        self.options
            .keep
            .iter()
            .zip(&self.keep)
            .map(|(k, fields)| match (k.kind, self.options.keep_as_text) {
                (Some(kind), _) => kind,
                (None, true) => KeepType::Text,
                (None, false) => KeepType::infer((0..sample).map(|i| fields.get(i))),
            })
            .collect()
    }

    fn truncate(&mut self, rows: usize) {
        self.prices.truncate(rows);
        self.lines.truncate(rows);
        for f in &mut self.keep {
            while f.len() > rows {
                f.pop();
            }
        }
    }
}

/// The first record is the header (or, without one, fixes the field count and is data); every
/// later one is a data row, queued only once all of it has been checked.
fn accept(
    record: Record<'_>,
    options: &Options,
    header: &mut Option<Header>,
    fields: &mut usize,
    prices: &mut Vec<f64>,
    lines: &mut Vec<u64>,
    keep: &mut [Fields],
) -> Result<(), CsvError> {
    let Some(h) = header else {
        *fields = record.len();
        let names: Vec<String> = if options.header {
            (0..record.len())
                .map(|i| String::from_utf8_lossy(record.field(i)).into_owned())
                .collect()
        } else {
            (1..=record.len()).map(|i| i.to_string()).collect()
        };
        let find = |wanted: &str| {
            if options.header {
                match_column(&names, wanted)
            } else {
                match_position(names.len(), wanted)
            }
        };
        let price = find(&options.price).map_err(CsvError::Column)?;
        let keep_at = options
            .keep
            .iter()
            .map(|k| find(&k.name))
            .collect::<Result<Vec<_>, _>>()
            .map_err(CsvError::Column)?;
        *header = Some(Header {
            names,
            price,
            keep: keep_at,
        });
        return if options.header {
            Ok(())
        } else {
            accept(record, options, header, fields, prices, lines, keep)
        };
    };
    if record.len() != *fields {
        return Err(CsvError::FieldCount {
            line: record.line,
            found: record.len(),
            expected: *fields,
        });
    }
    let field = record.field(h.price);
    let price = number::parse_number(field).map_err(|e| {
        let (line, column, text) = (record.line, h.names[h.price].clone(), escape(field));
        match e {
            NumberError::NotANumber => CsvError::NotANumber { line, column, text },
            NumberError::NotFinite => CsvError::NotFinite { line, column, text },
        }
    })?;
    for (f, &i) in keep.iter_mut().zip(&h.keep) {
        f.push(record.field(i));
    }
    prices.push(price);
    lines.push(record.line);
    Ok(())
}
