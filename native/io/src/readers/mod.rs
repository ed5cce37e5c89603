//! The inputs: CSV/TSV (plain, gzip or zstd) and Parquet, from a file or stdin, behind one
//! source that hands out chunks of prices (with `--gaps` applied) and keep columns as Arrow
//! arrays. What a file holds is told by its first bytes; its name only suggests the delimiter.

mod bytes;
mod csv;
mod parquet;

use std::fs::File;
use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arrow_array::ArrayRef;
use arrow_schema::DataType;
pub use trendflex_core::gaps::GapMode;
pub use trendflex_csv::{Keep, KeepType};

use crate::Error;
use bytes::{PARQUET, Peeked};
use trendflex_core::gaps::Gaps;

/// Where the input comes from.
#[derive(Debug, Clone)]
pub enum Input {
    Path(PathBuf),
    Stdin,
}

#[derive(Debug, Clone)]
pub struct SourceOptions {
    pub price: String,
    pub keep: Vec<Keep>,
    /// Default: tab for `.tsv`/`.tab` names, else a comma.
    pub delimiter: Option<u8>,
    pub header: bool,
    /// Keep CSV fields as text exactly as written (when the output is CSV).
    pub keep_as_text: bool,
    pub gaps: GapMode,
}

/// One chunk: `rows` prices were written into the caller's buffer.
pub struct Chunk {
    pub rows: usize,
    pub keep: Vec<ArrayRef>,
    /// CSV: the input line of every row (empty for Parquet, whose rows are their own numbers).
    pub lines: Vec<u64>,
}

enum Kind {
    Csv(Box<csv::CsvSource>),
    Parquet(Box<parquet::ParquetSource>),
}

/// What is known about an input once it is open.
#[derive(Debug, Clone)]
pub struct SourceInfo {
    /// `csv` or `parquet`.
    pub format: &'static str,
    /// The matched price column.
    pub column: String,
    /// The matched keep columns.
    pub keep: Vec<String>,
    /// Parquet: rows in the file.
    pub total_rows: Option<u64>,
    /// The size of the input file, when it is one (compressed size for .gz and .zst).
    pub input_bytes: Option<u64>,
}

pub struct Source {
    kind: Kind,
    gaps: Gaps,
    rows: u64,
    read: Arc<AtomicU64>,
    pub info: SourceInfo,
}

fn tab_by_name(path: &std::path::Path) -> bool {
    let name = path.to_string_lossy().to_ascii_lowercase();
    [".tsv", ".tab"].iter().any(|ext| {
        name.ends_with(ext)
            || [".gz", ".zst", ".zstd"]
                .iter()
                .any(|z| name.ends_with(&format!("{ext}{z}")))
    })
}

impl Source {
    /// Opens the input and reads as far as its columns (CSV header, Parquet footer).
    /// `chunk_rows`: the rows of the chunks that will be asked for.
    pub fn open(
        input: &Input,
        options: &SourceOptions,
        chunk_rows: usize,
    ) -> Result<Source, Error> {
        let read = Arc::new(AtomicU64::new(0));
        let (raw, size, tab): (Box<dyn Read + Send>, Option<u64>, bool) = match input {
            Input::Stdin => (bytes::stdin(), None, false),
            Input::Path(p) => {
                let f = File::open(p)?;
                let meta = f.metadata()?;
                if meta.is_dir() {
                    return Err(Error::Input("is a directory, not a price file".into()));
                }
                (
                    bytes::file(f),
                    meta.is_file().then_some(meta.len()),
                    tab_by_name(p),
                )
            }
        };
        let peeked = Peeked::new(raw, 4)?;
        if let Input::Path(p) = input {
            named_as_read(p, peeked.head())?;
        }
        if peeked.head().starts_with(PARQUET) {
            let file = match input {
                Input::Path(p) => File::open(p)?,
                // The footer is at the end: stdin is spooled to an unnamed temporary file first
                // (memory stays bounded, and nothing is left behind even on a crash).
                Input::Stdin => spool(peeked)?,
            };
            let source = parquet::ParquetSource::open(file, options, chunk_rows)?;
            let info = SourceInfo {
                format: "parquet",
                column: source.column.clone(),
                keep: source.keep_names.clone(),
                total_rows: Some(source.total_rows),
                input_bytes: size,
            };
            return Ok(Source {
                kind: Kind::Parquet(Box::new(source)),
                gaps: Gaps::new(options.gaps),
                rows: 0,
                read,
                info,
            });
        }
        let delimiter = options.delimiter.unwrap_or(if tab { b'\t' } else { b',' });
        let text = bytes::unpacked(peeked, read.clone())?;
        let source = csv::CsvSource::open(text, delimiter, options)?;
        let info = SourceInfo {
            format: "csv",
            column: source.column(),
            keep: source.keep(),
            total_rows: None,
            input_bytes: size,
        };
        Ok(Source {
            kind: Kind::Csv(Box::new(source)),
            gaps: Gaps::new(options.gaps),
            rows: 0,
            read,
            info,
        })
    }

    /// Keep column types, when known before the first chunk (Parquet).
    pub fn keep_types(&self) -> Option<Vec<DataType>> {
        match &self.kind {
            Kind::Parquet(p) => Some(p.keep_types.clone()),
            Kind::Csv(_) => None,
        }
    }

    /// Bytes of the input read so far (before decompression).
    pub fn bytes_read(&self) -> u64 {
        match &self.kind {
            Kind::Csv(_) => self.read.load(Ordering::Relaxed),
            Kind::Parquet(_) => 0,
        }
    }

    /// Rows handed out so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Row of the first valid price, and of the first gap under `--gaps propagate`.
    pub fn gaps(&self) -> (Option<u64>, Option<u64>) {
        (self.gaps.first_valid, self.gaps.first_gap)
    }

    /// The next chunk of up to `prices.len()` rows, with `--gaps` applied; 0 rows at the end.
    pub fn next(&mut self, prices: &mut [f64]) -> Result<Chunk, Error> {
        let chunk = match &mut self.kind {
            Kind::Csv(s) => s.next(prices)?,
            Kind::Parquet(s) => s.next(prices)?,
        };
        let first = self.rows;
        if let Err(i) = self.gaps.apply(&mut prices[..chunk.rows], first) {
            let at = match &self.kind {
                Kind::Csv(s) => format!("line {}", s.lines[i]),
                Kind::Parquet(_) => format!("row {}", first + i as u64 + 1),
            };
            return Err(Error::Input(format!(
                "{at}: missing price after the first valid one (--gaps error); use --gaps ffill to carry the last price forward, or --gaps propagate"
            )));
        }
        self.rows += chunk.rows as u64;
        let mut chunk = chunk;
        if let Kind::Csv(s) = &mut self.kind {
            chunk.lines = std::mem::take(&mut s.lines);
        }
        Ok(chunk)
    }
}

/// A name that promises a format the bytes do not have is an error rather than a guess.
fn named_as_read(path: &std::path::Path, head: &[u8]) -> Result<(), Error> {
    let name = path.to_string_lossy().to_ascii_lowercase();
    let promised: Option<(&[u8], &str)> = if name.ends_with(".parquet") || name.ends_with(".pq") {
        Some((PARQUET, "a Parquet file (it does not start with PAR1)"))
    } else if name.ends_with(".gz") {
        Some((bytes::GZIP, "gzip data (it does not start with 1f 8b)"))
    } else if name.ends_with(".zst") || name.ends_with(".zstd") {
        Some((
            bytes::ZSTD,
            "zstd data (it does not start with 28 b5 2f fd)",
        ))
    } else {
        None
    };
    match promised {
        Some((magic, what)) if !head.starts_with(magic) => Err(Error::Input(format!("not {what}"))),
        _ => Ok(()),
    }
}

fn spool(mut from: impl Read) -> Result<File, Error> {
    let mut file = tempfile::tempfile()?;
    std::io::copy(&mut from, &mut file)?;
    Ok(file)
}
