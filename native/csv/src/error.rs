//! Why the reader refused its input. Every message says what was wrong and where (a line of the
//! input, or a byte offset where there are no lines to speak of), and never prints input bytes
//! raw: whatever comes from the file is escaped first ([`crate::text`]).

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CsvError {
    /// The input ended before a header (or, without one, before any record).
    Empty,
    /// Bytes that text does not contain: a NUL, or a sequence that is not UTF-8.
    NotText {
        offset: u64,
        what: &'static str,
    },
    /// A quoted field that is still open at the end of the input.
    UnclosedQuote {
        line: u64,
    },
    /// A record with another number of fields than the header.
    FieldCount {
        line: u64,
        found: usize,
        expected: usize,
    },
    Column(crate::columns::MatchError),
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
    /// A keep value that does not fit the type its column was given.
    KeepValue {
        line: u64,
        column: String,
        text: String,
        kind: crate::keep::KeepType,
        declared: bool,
        sample: usize,
    },
    /// A text keep field longer than one chunk can carry (Arrow's offsets are 32-bit).
    FieldTooLong {
        line: u64,
        column: String,
        bytes: usize,
    },
}

impl CsvError {
    /// The error of a block whose lines were counted from 0, on the input's lines: `base` is the
    /// line the block starts on.
    pub(crate) fn lines_after(mut self, base: u64) -> CsvError {
        match &mut self {
            CsvError::UnclosedQuote { line }
            | CsvError::FieldCount { line, .. }
            | CsvError::NotANumber { line, .. }
            | CsvError::NotFinite { line, .. }
            | CsvError::KeepValue { line, .. }
            | CsvError::FieldTooLong { line, .. } => *line += base,
            CsvError::Empty | CsvError::NotText { .. } | CsvError::Column(_) => {}
        }
        self
    }
}

impl fmt::Display for CsvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CsvError::Empty => write!(f, "empty input: there is no header line"),
            CsvError::NotText { offset, what } => write!(
                f,
                "does not look like delimited text: {what} at byte {offset} (give CSV, TSV, \
                 their .gz or .zst, or Parquet)"
            ),
            CsvError::UnclosedQuote { line } => write!(
                f,
                "line {line}: a quoted field starts here and is never closed (a '\"' is missing)"
            ),
            CsvError::FieldCount {
                line,
                found,
                expected,
            } => write!(
                f,
                "line {line}: {found} field{} where the header has {expected} (is the delimiter right? see --delimiter)",
                if *found == 1 { "" } else { "s" }
            ),
            CsvError::Column(e) => {
                write!(f, "{e}")?;
                // A header read as one column that holds another delimiter: a ';' file read
                // with ',' (or a tab-separated file with a '.csv' name).
                if let crate::columns::MatchError::NotFound { available, .. } = e
                    && let [only] = &available[..]
                    && only.contains([',', ';', '\t', '|'])
                {
                    write!(f, " (one column: is the delimiter right? see --delimiter)")?;
                }
                Ok(())
            }
            CsvError::NotANumber { line, column, text } => {
                write!(f, "line {line}, column {column}: '{text}' is not a number")
            }
            CsvError::NotFinite { line, column, text } => {
                write!(
                    f,
                    "line {line}, column {column}: '{text}' is not a finite number"
                )
            }
            CsvError::KeepValue {
                line,
                column,
                text,
                kind,
                declared,
                sample,
            } => {
                let name = kind.name();
                write!(
                    f,
                    "line {line}, column {column}: '{text}' is not {}",
                    kind.article()
                )?;
                if *declared {
                    write!(
                        f,
                        " (declared --keep {column}:{name}); declare another type, e.g. --keep {column}:text"
                    )
                } else {
                    write!(
                        f,
                        ", but the column was typed {name} from its first {sample} rows; declare its \
                         type (--keep {column}:{}) or write CSV, which keeps fields as written",
                        kind.wider().name()
                    )
                }
            }
            CsvError::FieldTooLong {
                line,
                column,
                bytes,
            } => write!(
                f,
                "line {line}, column {column}: a field of {bytes} bytes is longer than text columns allow"
            ),
        }
    }
}

impl std::error::Error for CsvError {}
