//! The one error type of trendflex-io. Messages say what failed; the caller adds where (the
//! user's path), since only it knows the name the user gave.

use std::fmt;
use std::io;

/// Why writing or checking an output failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The operating system refused a write (no space, I/O error, a closed pipe, ...).
    Io(io::Error),
    /// The Parquet encoder refused the data.
    Parquet(String),
    /// Arrow refused the data (an IPC encoding error, a buffer that does not fit its type).
    Arrow(String),
    /// The columns handed over do not match the schema the writer was made with.
    Schema(String),
    /// The finished file does not hold what was written.
    Verify(String),
    /// The input is not what it should be; the message says what and where.
    Input(String),
}

impl Error {
    /// The OS error number behind an `Io` error (`ENOSPC`, `EPIPE`, ...), if any.
    pub fn os_error(&self) -> Option<i32> {
        match self {
            Error::Io(e) => e.raw_os_error(),
            _ => None,
        }
    }

    /// True when the reader of a pipe went away (`| head`): not a failure of ours.
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, Error::Io(e) if e.kind() == io::ErrorKind::BrokenPipe)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io(e) => write!(f, "{}", io_message(e)),
            Error::Parquet(m) => write!(f, "Parquet encoder: {m}"),
            Error::Arrow(m) => write!(f, "Arrow: {m}"),
            Error::Schema(m) => write!(f, "{m}"),
            Error::Verify(m) => write!(f, "the file written does not check out: {m}"),
            Error::Input(m) => write!(f, "{m}"),
        }
    }
}

/// The OS message without Rust's " (os error 28)" suffix, lower-cased like the rest of ours.
fn io_message(e: &io::Error) -> String {
    let text = e.to_string();
    let text = match text.find(" (os error") {
        Some(at) => text[..at].to_string(),
        None => text,
    };
    let mut chars = text.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => text,
    }
}

impl std::error::Error for Error {}

/// The message of a thread that panicked (a bug), from its payload: "`who` panicked: why".
pub(crate) fn panicked(who: &str, payload: Box<dyn std::any::Any + Send>) -> String {
    let why = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "no message".into());
    format!("{who} panicked: {why}")
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        Error::Io(e)
    }
}

impl From<parquet::errors::ParquetError> for Error {
    fn from(e: parquet::errors::ParquetError) -> Self {
        // The encoder wraps the sink's own failures: keep them as OS errors.
        match e {
            parquet::errors::ParquetError::External(inner) => match inner.downcast::<io::Error>() {
                Ok(io) => Error::Io(*io),
                Err(other) => Error::Parquet(other.to_string()),
            },
            other => Error::Parquet(other.to_string()),
        }
    }
}

impl From<arrow_schema::ArrowError> for Error {
    fn from(e: arrow_schema::ArrowError) -> Self {
        match e {
            arrow_schema::ArrowError::IoError(_, io) => Error::Io(io),
            other => Error::Arrow(other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_thread_that_panicked_is_named_with_its_message() {
        let formatted = std::thread::spawn(|| panic!("row {} of {}", 3, 7))
            .join()
            .unwrap_err();
        assert_eq!(
            super::panicked("the file writer", formatted),
            "the file writer panicked: row 3 of 7"
        );
        let literal = std::thread::spawn(|| panic!("plain")).join().unwrap_err();
        assert_eq!(
            super::panicked("the writing thread", literal),
            "the writing thread panicked: plain"
        );
    }
}
