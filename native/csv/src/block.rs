//! One block of whole records, parsed on its own so that blocks can be parsed on any thread: the
//! block knows its byte offset and whether a `\r` came just before it; its lines are counted from
//! a base the caller gives (or from 0, to be shifted once the lines before it are known).

use crate::columns::{match_column, match_position};
use crate::error::CsvError;
use crate::keep::{KeepType, Queue};
use crate::line_numbers::LineNumbers;
use crate::number::{self, NumberError};
use crate::options::Options;
use crate::plain;
use crate::scan;
use crate::split::{Lines, Record, Splitter};
use crate::text::escape;

/// Parsed rows waiting to be taken: prices, the line of each, and each keep column's fields.
#[derive(Debug, Default)]
pub(crate) struct Rows {
    pub prices: Vec<f64>,
    pub lines: LineNumbers,
    pub keep: Vec<Queue>,
}

impl Rows {
    /// Rows of `keep` keep columns, of these types (text while undecided).
    pub fn new(keep: usize, types: Option<&[KeepType]>) -> Self {
        Rows {
            keep: (0..keep).map(|c| Queue::new(types.map(|t| t[c]))).collect(),
            ..Rows::default()
        }
    }

    /// Room for `rows` more rows without growing.
    pub fn reserve(&mut self, rows: usize) {
        self.prices.reserve(rows);
        self.keep.iter_mut().for_each(|q| q.reserve(rows));
    }

    /// Keeps the first `rows`.
    pub fn truncate(&mut self, rows: usize) {
        self.prices.truncate(rows);
        self.lines.truncate(rows);
        self.keep.iter_mut().for_each(|q| q.truncate(rows));
    }

    /// Moves `other`'s rows to the end, their lines moved down by `base`.
    pub fn append(&mut self, other: Rows, base: u64) {
        self.prices.extend_from_slice(&other.prices);
        self.lines.append(&other.lines, base);
        for (q, o) in self.keep.iter_mut().zip(&other.keep) {
            q.append(o);
        }
    }
}

/// Where a block starts: its byte offset in the input, and the line count before it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Start {
    pub offset: u64,
    pub lines: Lines,
}

/// What the block's records are checked against: the header once known, the field count, and
/// the keep columns' types once decided.
#[derive(Clone, Debug)]
pub(crate) struct Shape {
    pub header: Option<Header>,
    pub fields: usize,
    pub types: Option<Vec<KeepType>>,
}

/// Parses the records of `bytes` into `rows` (the first may be the header, when `shape` has none
/// yet). Without `last`, `bytes` ends at a record end. Returns where the lines stand after it;
/// rows before an error stay in `rows`.
pub(crate) fn parse(
    bytes: &[u8],
    start: Start,
    last: bool,
    options: &Options,
    shape: &mut Shape,
    rows: &mut Rows,
) -> Result<Lines, CsvError> {
    // Most blocks are ASCII with no NUL and no quote, told in one pass; any other is checked as
    // text, then split as lines if it still holds no quote.
    let unquoted = scan::plain_ascii(bytes) || {
        check_text(bytes, start.offset)?;
        memchr::memchr(b'"', bytes).is_none()
    };
    let mut on_record = |r: Record<'_>| accept(r, options, shape, rows);
    if unquoted {
        return plain::split(bytes, options.delimiter, start.lines, last, &mut on_record);
    }
    let mut splitter = Splitter::new(options.delimiter, start.lines);
    splitter.feed(bytes, &mut on_record)?;
    if last {
        splitter.end(&mut on_record)?;
    }
    Ok(splitter.lines())
}

/// Text has no NUL and is UTF-8 (a block never ends inside a character: it ends at a line end or
/// at the end of the input). `offset` is where `bytes` starts in the input.
pub(crate) fn check_text(bytes: &[u8], offset: u64) -> Result<(), CsvError> {
    check(bytes, offset, false)
}

/// As [`check_text`], for bytes that may stop inside a character (the first bytes read, looked
/// at before the header is: a binary file is refused as such, not for the columns it lacks).
pub(crate) fn check_head(bytes: &[u8], offset: u64) -> Result<(), CsvError> {
    check(bytes, offset, true)
}

fn check(bytes: &[u8], offset: u64, cut: bool) -> Result<(), CsvError> {
    let not_text = |at: usize, what| {
        Err(CsvError::NotText {
            offset: offset + at as u64,
            what,
        })
    };
    if let Some(nul) = memchr::memchr(0, bytes) {
        return not_text(nul, "a NUL byte");
    }
    match std::str::from_utf8(bytes) {
        // A character cut by the end of what was read so far is completed by the next bytes.
        Err(e) if cut && e.error_len().is_none() => Ok(()),
        Err(e) => not_text(e.valid_up_to(), "a byte sequence that is not UTF-8"),
        Ok(_) => Ok(()),
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

/// The first record is the header (or, without one, fixes the field count and is data); every
/// later one is a data row, queued only once all of it has been checked.
fn accept(
    record: Record<'_>,
    options: &Options,
    shape: &mut Shape,
    rows: &mut Rows,
) -> Result<(), CsvError> {
    let Some(h) = &shape.header else {
        shape.fields = record.len();
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
        shape.header = Some(Header {
            names,
            price,
            keep: keep_at,
        });
        return if options.header {
            Ok(())
        } else {
            accept(record, options, shape, rows)
        };
    };
    if record.len() != shape.fields {
        return Err(CsvError::FieldCount {
            line: record.line,
            found: record.len(),
            expected: shape.fields,
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
    for (c, &i) in h.keep.iter().enumerate() {
        let field = record.field(i);
        if rows.keep[c].push(field).is_err() {
            // Not one field of a refused row stays queued.
            rows.keep[..c].iter_mut().for_each(Queue::pop);
            let kind = rows.keep[c].kind();
            return Err(CsvError::KeepValue {
                line: record.line,
                column: h.names[i].clone(),
                text: escape(field),
                kind,
                declared: options.keep[c].kind.is_some(),
                sample: options.sample_rows,
            });
        }
    }
    rows.prices.push(price);
    rows.lines.push(record.line);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_and_non_utf8_input_is_refused_with_its_offset() {
        let bad = |bytes: &[u8], offset| check_text(bytes, offset).unwrap_err();
        assert_eq!(
            bad(b"a,b\n1,\x002\n", 100),
            CsvError::NotText {
                offset: 106,
                what: "a NUL byte"
            }
        );
        assert_eq!(
            bad(b"a,b\n1,caf\xe9\n", 0),
            CsvError::NotText {
                offset: 9,
                what: "a byte sequence that is not UTF-8"
            }
        );
        assert_eq!(
            bad(b"a,b\n1,\xc3", 0),
            CsvError::NotText {
                offset: 6,
                what: "a byte sequence that is not UTF-8"
            }
        );
        assert!(
            check_text(b"\x1f\x8b\x08\x00\x00\x00", 0).is_err(),
            "gzip that was not decompressed"
        );
        assert!(check_text("a,é\n".as_bytes(), 0).is_ok());
        assert!(
            check_head(b"a,b\n1,\xc3", 0).is_ok(),
            "a character the next bytes complete"
        );
        assert!(check_head(b"a,b\n1,\xc3(", 0).is_err());
        assert!(check_head(b"ts\n\x00", 0).is_err());
    }
}
