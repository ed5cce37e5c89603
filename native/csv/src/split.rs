//! Cutting records with quotes in them, identically however the bytes are fed: `csv_core` does the
//! splitting and unescaping; around it, this skips blank lines while counting them (so every
//! record knows the line it starts on), and follows quoting as csv_core does, to name the line of
//! a quoted field the input ends inside. A line ends at `\n`, `\r\n` or a lone `\r`, as records
//! do (and as Python's `csv` counts). Text without quotes takes the faster way in [`crate::plain`].

use csv_core::{ReadRecordResult, Reader, ReaderBuilder};

use crate::error::CsvError;

/// One complete record: its fields' bytes, each followed by `gap` bytes (0 when csv_core laid the
/// unescaped fields end to end, 1 for a delimiter in a line taken as written), and where each
/// field ends.
pub struct Record<'a> {
    /// The line the record starts on.
    pub line: u64,
    pub(crate) bytes: &'a [u8],
    pub(crate) ends: &'a [usize],
    pub(crate) gap: usize,
}

impl Record<'_> {
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn field(&self, i: usize) -> &[u8] {
        let start = if i == 0 {
            0
        } else {
            self.ends[i - 1] + self.gap
        };
        &self.bytes[start..self.ends[i]]
    }
}

pub struct Splitter {
    reader: Reader,
    delimiter: u8,
    /// The record being read: unescaped bytes and field ends, valid up to the `_len`s.
    bytes: Vec<u8>,
    bytes_len: usize,
    ends: Vec<usize>,
    ends_len: usize,
    /// Whether `csv_core` is inside a record (has seen a byte that is not a line terminator).
    in_record: bool,
    /// The line of the next unread byte.
    lines: Lines,
    record_line: u64,
    /// Where the current field stands as to quoting, followed as csv_core follows it.
    quoting: Quoting,
    /// The line the quoted field being read opened on.
    quote_line: u64,
}

/// Line numbers: a line ends at `\n`, `\r\n` or a lone `\r`, the terminators csv_core ends
/// records at, so every record starts on a line of its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Lines {
    pub line: u64,
    /// The last byte counted was a `\r`: a `\n` right after it ends no new line.
    pub after_cr: bool,
}

impl Lines {
    /// Counts the line ends in `bytes`.
    pub fn advance(&mut self, bytes: &[u8]) {
        for at in memchr::memchr2_iter(b'\n', b'\r', bytes) {
            if at > 0 && bytes[at - 1] != b'\r' {
                self.after_cr = false;
            }
            self.end(bytes[at]);
        }
        if let Some(&last) = bytes.last() {
            self.after_cr = last == b'\r';
        }
    }

    /// Counts the line end `b` (`\n` or `\r`) right after the last byte counted: a `\n` just
    /// after a `\r` ends no new line.
    #[inline]
    pub fn end(&mut self, b: u8) {
        if b == b'\r' || !self.after_cr {
            self.line += 1;
        }
        self.after_cr = b == b'\r';
    }
}

/// csv_core's view of quoting (RFC 4180: a quote opens a field only at its start, `""` inside a
/// quoted field is a quote), reduced to what tells whether the input ended inside quotes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Quoting {
    /// At the start of a field: a quote here opens it.
    FieldStart,
    /// Inside an unquoted field (or after a quoted one closed): quotes are characters.
    Unquoted,
    Quoted,
    /// A quote inside a quoted field: it closes the field unless another quote follows.
    QuoteInQuoted,
}

impl Quoting {
    /// The state after an unquoted byte `b`.
    pub fn after_unquoted(b: u8, delimiter: u8) -> Quoting {
        if b == delimiter || b == b'\n' || b == b'\r' {
            Quoting::FieldStart
        } else {
            Quoting::Unquoted
        }
    }

    /// The state after byte `b`.
    pub fn next(self, b: u8, delimiter: u8) -> Quoting {
        match (self, b) {
            (Quoting::FieldStart, b'"') => Quoting::Quoted,
            (Quoting::Quoted, b'"') => Quoting::QuoteInQuoted,
            (Quoting::Quoted, _) => Quoting::Quoted,
            (Quoting::QuoteInQuoted, b'"') => Quoting::Quoted,
            (_, b) => Quoting::after_unquoted(b, delimiter),
        }
    }
}

/// Callback for each record, which may refuse it (stopping the split).
pub type OnRecord<'f> = dyn FnMut(Record<'_>) -> Result<(), CsvError> + 'f;

impl Splitter {
    /// A splitter at the start of a record, on the line `lines` says.
    pub fn new(delimiter: u8, lines: Lines) -> Self {
        Splitter {
            reader: ReaderBuilder::new().delimiter(delimiter).build(),
            delimiter,
            bytes: vec![0; 4096],
            bytes_len: 0,
            ends: vec![0; 64],
            ends_len: 0,
            in_record: false,
            lines,
            record_line: lines.line,
            quoting: Quoting::FieldStart,
            quote_line: lines.line,
        }
    }

    /// The line of the next byte.
    pub fn lines(&self) -> Lines {
        self.lines
    }

    /// Reads `input`, calling `on_record` for each record it completes.
    pub fn feed(&mut self, input: &[u8], on_record: &mut OnRecord<'_>) -> Result<(), CsvError> {
        self.split(input, on_record)
    }

    /// Ends the input: a last record without a line terminator is completed.
    pub fn end(&mut self, on_record: &mut OnRecord<'_>) -> Result<(), CsvError> {
        if self.quoting == Quoting::Quoted {
            return Err(CsvError::UnclosedQuote {
                line: self.quote_line,
            });
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

    fn split(&mut self, mut input: &[u8], on_record: &mut OnRecord<'_>) -> Result<(), CsvError> {
        // Quotes are followed byte by byte only where there are any: most price files have none.
        let quotes = matches!(self.quoting, Quoting::Quoted | Quoting::QuoteInQuoted)
            || memchr::memchr(b'"', input).is_some();
        // Never pass csv_core an empty slice here: to it that means end of input.
        while !input.is_empty() {
            if !self.in_record {
                // csv_core would skip these blank lines too; skipping them here tells us the line
                // the record starts on.
                let start = input
                    .iter()
                    .position(|&b| b != b'\n' && b != b'\r')
                    .unwrap_or(input.len());
                self.lines.advance(&input[..start]);
                input = &input[start..];
                if input.is_empty() {
                    break;
                }
                self.in_record = true;
                self.record_line = self.lines.line;
                self.quoting = Quoting::FieldStart;
            }
            let (result, read) = self.read(input);
            let consumed = &input[..read];
            if quotes {
                self.follow_quotes(consumed);
            } else {
                self.lines.advance(consumed);
                if let Some(&last) = consumed.last() {
                    self.quoting = self.after_unquoted(last);
                }
            }
            input = &input[read..];
            if result == ReadRecordResult::Record {
                self.emit(on_record)?;
            }
        }
        Ok(())
    }

    fn after_unquoted(&self, b: u8) -> Quoting {
        Quoting::after_unquoted(b, self.delimiter)
    }

    /// Follows `consumed` byte by byte through csv_core's quoting rules, counting lines, to know
    /// whether the input is inside a quoted field and on which line that field opened.
    fn follow_quotes(&mut self, consumed: &[u8]) {
        for &b in consumed {
            if self.quoting == Quoting::FieldStart && b == b'"' {
                self.quote_line = self.lines.line;
            }
            self.quoting = self.quoting.next(b, self.delimiter);
            if b == b'\n' || b == b'\r' {
                self.lines.end(b);
            } else {
                self.lines.after_cr = false;
            }
        }
    }

    /// One csv_core step; grows whichever buffer it reports full, so the caller simply retries.
    fn read(&mut self, input: &[u8]) -> (ReadRecordResult, usize) {
        let (result, read, written, ended) = self.reader.read_record(
            input,
            &mut self.bytes[self.bytes_len..],
            &mut self.ends[self.ends_len..],
        );
        self.bytes_len += written;
        self.ends_len += ended;
        match result {
            ReadRecordResult::OutputFull => self.bytes.resize(self.bytes.len() * 2, 0),
            ReadRecordResult::OutputEndsFull => self.ends.resize(self.ends.len() * 2, 0),
            _ => {}
        }
        (result, read)
    }

    fn emit(&mut self, on_record: &mut OnRecord<'_>) -> Result<(), CsvError> {
        let record = Record {
            line: self.record_line,
            bytes: &self.bytes[..self.bytes_len],
            ends: &self.ends[..self.ends_len],
            gap: 0,
        };
        let result = on_record(record);
        self.bytes_len = 0;
        self.ends_len = 0;
        self.in_record = false;
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every record as (line, fields), splitting `input` into pieces of `piece` bytes.
    fn records(input: &[u8], piece: usize) -> Result<Vec<(u64, Vec<String>)>, CsvError> {
        let mut s = Splitter::new(
            b',',
            Lines {
                line: 1,
                after_cr: false,
            },
        );
        let mut out = Vec::new();
        let mut take = |r: Record<'_>| {
            out.push((
                r.line,
                (0..r.len())
                    .map(|i| String::from_utf8_lossy(r.field(i)).into_owned())
                    .collect(),
            ));
            Ok(())
        };
        for chunk in input.chunks(piece.max(1)) {
            s.feed(chunk, &mut take)?;
        }
        s.end(&mut take)?;
        Ok(out)
    }

    #[test]
    fn records_and_lines_do_not_depend_on_how_the_input_is_cut() {
        let input = "a,b\n\n\"two\nlines\",2\r\n\nx,\"q\"\"q\"\nlast,é".as_bytes();
        let want = records(input, input.len()).unwrap();
        assert_eq!(
            want,
            vec![
                (1, vec!["a".into(), "b".into()]),
                (3, vec!["two\nlines".into(), "2".into()]),
                (6, vec!["x".into(), "q\"q".into()]),
                (7, vec!["last".into(), "é".into()]),
            ]
        );
        for piece in 1..input.len() {
            assert_eq!(records(input, piece).unwrap(), want, "pieces of {piece}");
        }
    }

    #[test]
    fn a_quote_left_open_is_named_by_the_line_it_opens_on() {
        for piece in [1, 2, 50] {
            let e = records(b"a,b\n1,2\n3,\"open\n4,5\n6,7\n", piece).unwrap_err();
            assert_eq!(e, CsvError::UnclosedQuote { line: 3 }, "pieces of {piece}");
        }
        assert!(records(b"a,b\n1,\"x\"\"y\"\n2,\"z\"", 1).is_ok());
        assert!(
            records(b"a,b\n1,5\"\n2,3\n", 1).is_ok(),
            "a quote inside a field is a character"
        );
    }
}
