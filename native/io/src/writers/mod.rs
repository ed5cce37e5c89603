//! The three output formats behind one writer: made with a schema and a descriptor, fed one
//! record batch per chunk, finished once. Each batch may borrow the caller's memory: no writer
//! keeps a reference to it once `write` has returned.

mod arrow;
mod csv;
mod dataset;
mod footer;
mod parquet;

use std::fs::File;
use std::os::fd::RawFd;
use std::path::PathBuf;

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;

use crate::{Error, sink};
use trendflex_core::Extremes;

/// An output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Parquet,
    Csv,
    Arrow,
}

/// Parquet compression codecs offered (`lz4` is LZ4_RAW).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Compression {
    #[default]
    Lz4,
    Zstd,
    Snappy,
    None,
}

/// How Parquet stores float columns. PLAIN is what every reader opens (Spark 4.1's vectorized
/// reader refuses BYTE_STREAM_SPLIT); BYTE_STREAM_SPLIT makes noisy doubles compress better.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FloatEncoding {
    #[default]
    Plain,
    ByteStreamSplit,
}

#[derive(Debug, Clone)]
pub struct Options {
    pub format: Format,
    /// Parquet only.
    pub compression: Compression,
    /// Parquet only.
    pub float_encoding: FloatEncoding,
    /// CSV only.
    pub delimiter: u8,
    /// Hold all output back until a `write(.., release = true)` or `finish`.
    pub hold: bool,
    /// CSV and Arrow: every batch reaches the descriptor before the next (a live feed, as
    /// `--follow` writes it); otherwise output goes out in large pieces.
    pub flush: bool,
    /// The descriptor is a regular file: write it with `O_DIRECT` where the filesystem allows.
    pub direct: bool,
    /// Parquet's `created_by`.
    pub created_by: String,
    /// Parquet: rows per row group, in whole batches (0: a row group per batch).
    pub row_group_rows: usize,
    /// Parquet: write a hive-partitioned dataset into this directory instead of the descriptor.
    pub partition: Option<Partition>,
}

/// Where and by what a dataset is partitioned.
#[derive(Debug, Clone)]
pub struct Partition {
    /// An existing, empty directory.
    pub dir: PathBuf,
    /// Columns of the schema; their values name the folders.
    pub columns: Vec<String>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            format: Format::Parquet,
            compression: Compression::Lz4,
            float_encoding: FloatEncoding::Plain,
            delimiter: b',',
            hold: false,
            flush: false,
            direct: false,
            created_by: "trendflex".into(),
            row_group_rows: 0,
            partition: None,
        }
    }
}

/// What a finished writer wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    pub format: Format,
    pub rows: u64,
    pub bytes: u64,
    /// Files written: 1, or a dataset's.
    pub files: u64,
}

enum Inner {
    Parquet(Box<parquet::ParquetWriter>),
    Csv(Box<csv::CsvWriter>),
    Arrow(Box<arrow::ArrowWriter>),
    Dataset(Box<dataset::DatasetWriter>),
}

/// Writes record batches of `schema` to the descriptor `fd` in one format.
pub struct Writer {
    inner: Inner,
}

impl Writer {
    /// `fd` must stay open until the writer is finished or dropped; it is never closed here.
    /// The schema's metadata goes into Arrow output at once (Parquet takes its metadata at
    /// `finish`, when the row count is known).
    pub fn new(schema: SchemaRef, fd: RawFd, options: &Options) -> Result<Self, Error> {
        if let Some(p) = &options.partition {
            if options.format != Format::Parquet {
                return Err(Error::Input(
                    "a partitioned dataset is written as Parquet".into(),
                ));
            }
            let w = dataset::DatasetWriter::new(
                schema,
                &p.dir,
                &p.columns,
                options.compression,
                options.float_encoding,
                &options.created_by,
                options.row_group_rows,
            )?;
            return Ok(Writer {
                inner: Inner::Dataset(Box::new(w)),
            });
        }
        let bursts = options.format == Format::Parquet;
        let out = sink::sink(fd, options.hold, options.direct, bursts);
        let inner = match options.format {
            Format::Parquet => Inner::Parquet(Box::new(parquet::ParquetWriter::new(
                schema,
                options.compression,
                options.float_encoding,
                &options.created_by,
                options.row_group_rows,
                out,
            )?)),
            Format::Csv => Inner::Csv(Box::new(csv::CsvWriter::new(
                schema,
                options.delimiter,
                out,
                options.flush,
            )?)),
            Format::Arrow => Inner::Arrow(Box::new(arrow::ArrowWriter::new(
                schema,
                out,
                options.flush,
            )?)),
        };
        Ok(Writer { inner })
    }

    /// Writes `batch`; `release`: what was held back (and everything after) may go out now.
    pub fn write(&mut self, batch: &RecordBatch, release: bool) -> Result<(), Error> {
        self.write_with(batch, &[], release)
    }

    /// [`Writer::write`], given some Float64 columns' extremes over their valid values (by
    /// column, `None` or missing where not known): a Parquet file's statistics need not read
    /// those values again.
    pub fn write_with(
        &mut self,
        batch: &RecordBatch,
        extremes: &[Option<Extremes>],
        release: bool,
    ) -> Result<(), Error> {
        match &mut self.inner {
            Inner::Parquet(w) => w.write(batch, extremes, release),
            Inner::Csv(w) => w.write(batch, release),
            Inner::Arrow(w) => w.write(batch, release),
            Inner::Dataset(w) => w.write(batch),
        }
    }

    /// Ends the output (Parquet: the footer, with `metadata`) and lets everything out.
    pub fn finish(self, metadata: Vec<(String, String)>) -> Result<Summary, Error> {
        Ok(match self.inner {
            Inner::Parquet(w) => {
                let (rows, bytes) = w.finish(metadata)?;
                Summary {
                    format: Format::Parquet,
                    rows,
                    bytes,
                    files: 1,
                }
            }
            Inner::Csv(w) => {
                let (rows, bytes) = w.finish()?;
                Summary {
                    format: Format::Csv,
                    rows,
                    bytes,
                    files: 1,
                }
            }
            Inner::Arrow(w) => {
                let (rows, bytes) = w.finish()?;
                Summary {
                    format: Format::Arrow,
                    rows,
                    bytes,
                    files: 1,
                }
            }
            Inner::Dataset(w) => {
                let (rows, bytes, files) = w.finish(metadata)?;
                Summary {
                    format: Format::Parquet,
                    rows,
                    bytes,
                    files,
                }
            }
        })
    }
}

/// Checks a finished regular file against what its writer reported: its size, and for the
/// binary formats the row count a reader finds (Parquet: the footer; Arrow: the message
/// headers). A CSV is not read back: counting its records would mean reading gigabytes again
/// (and through the page cache it was written past); its size and the rows its writer counted
/// must do.
pub fn verify(file: &mut File, summary: &Summary) -> Result<(), Error> {
    let size = file.metadata()?.len();
    if size != summary.bytes {
        return Err(Error::Verify(format!(
            "it holds {size} bytes, {} were written",
            summary.bytes
        )));
    }
    let found = match summary.format {
        Format::Parquet => parquet::footer_rows(file)?,
        Format::Arrow => {
            use std::io::Seek;
            file.seek(std::io::SeekFrom::Start(0))?;
            arrow::stream_rows(std::io::BufReader::new(&*file))?
        }
        Format::Csv => return Ok(()),
    };
    if found != summary.rows {
        return Err(Error::Verify(format!(
            "it holds {found} rows, expected {}",
            summary.rows
        )));
    }
    Ok(())
}
