//! What a reader is asked for: the price column, the keep columns and how to read the text.

use crate::keep::KeepType;

/// Rows a keep column's type is decided from, unless it is declared.
pub const SAMPLE_ROWS: usize = 100_000;

/// Bytes of complete records below which parsing stays on the calling thread: a block for
/// another thread is at least this long.
pub const BLOCK_BYTES: usize = 1 << 20;

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
    /// Threads parsing blocks of records at once (the calling one included); 0: one per core.
    pub threads: usize,
    /// The smallest block handed to a thread of its own.
    pub block_bytes: usize,
    /// Blocks are parsed while the next bytes are read; without it, every record fed is queued
    /// before `feed` returns (for a live feed, whose next bytes may be a while coming).
    pub overlap: bool,
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
            threads: 0,
            block_bytes: BLOCK_BYTES,
            overlap: true,
        }
    }
}
