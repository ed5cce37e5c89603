//! napi glue for trendflex-io's writers: the options a job writes with, the end of its output
//! (finish, then a check of the file written), and the file operations of the CLI's sinks.

use napi::bindgen_prelude::*;
use napi_derive::napi;
use std::collections::HashMap;
use trendflex_io::{Compression, FloatEncoding, Format, Options, Partition, Summary, Writer};

use crate::errors::{Failure, catch_panics, range_error};

#[napi(object)]
pub struct WriterOptions {
    /// `parquet`, `csv` or `arrow` (an Arrow IPC stream).
    pub format: String,
    /// Parquet: `lz4` (LZ4_RAW, the default), `zstd`, `snappy` or `none`.
    pub compression: Option<String>,
    /// Parquet: how float columns are stored, `plain` (the default, which every reader opens) or
    /// `byte-stream-split` (smaller with compression; Spark 4.1's default reader cannot open it).
    pub float_encoding: Option<String>,
    /// Hold all output back until the job releases it (or it is finished).
    pub hold: Option<bool>,
    /// CSV and Arrow: each write reaches the descriptor before the next (a live feed).
    pub flush: Option<bool>,
    /// `fd` is a regular file: write it with O_DIRECT where the filesystem allows.
    pub direct: Option<bool>,
    /// Parquet's `created_by`.
    pub created_by: Option<String>,
    /// Parquet: rows per row group, in whole chunks (0 or absent: a row group per chunk).
    pub row_group_rows: Option<u32>,
    /// Arrow: schema metadata (Parquet takes its metadata at `finish`).
    pub metadata: Option<HashMap<String, String>>,
    /// The output as the user named it, for messages (a path, or "stdout").
    pub name: String,
    /// Parquet: write a hive-partitioned dataset into this existing, empty directory, with
    /// folders named by the `partitionBy` columns (`fd` is then not used).
    pub partition_dir: Option<String>,
    pub partition_by: Option<Vec<String>>,
}

/// What a finished writer wrote.
#[napi(object)]
pub struct WriteSummary {
    pub rows: f64,
    pub bytes: f64,
    pub format: String,
    /// Files written: 1, or a partitioned dataset's.
    pub files: f64,
}

pub(crate) fn options(env: &Env, o: &WriterOptions) -> Result<Options> {
    let bad = |what: String| range_error(env, "ERR_WRITER_OPTIONS", what);
    let format = match o.format.as_str() {
        "parquet" => Format::Parquet,
        "csv" => Format::Csv,
        "arrow" => Format::Arrow,
        other => return Err(bad(format!("unknown output format '{other}'"))),
    };
    let compression = match o.compression.as_deref().unwrap_or("lz4") {
        "lz4" => Compression::Lz4,
        "zstd" => Compression::Zstd,
        "snappy" => Compression::Snappy,
        "none" => Compression::None,
        other => return Err(bad(format!("unknown compression '{other}'"))),
    };
    let float_encoding = match o.float_encoding.as_deref().unwrap_or("plain") {
        "plain" => FloatEncoding::Plain,
        "byte-stream-split" => FloatEncoding::ByteStreamSplit,
        other => return Err(bad(format!("unknown float encoding '{other}'"))),
    };
    Ok(Options {
        format,
        compression,
        float_encoding,
        delimiter: b',',
        hold: o.hold.unwrap_or(false),
        flush: o.flush.unwrap_or(false),
        direct: o.direct.unwrap_or(false),
        created_by: o.created_by.clone().unwrap_or_else(|| "trendflex".into()),
        row_group_rows: o.row_group_rows.unwrap_or(0) as usize,
        partition: match (&o.partition_dir, &o.partition_by) {
            (Some(dir), Some(columns)) if !columns.is_empty() => Some(Partition {
                dir: dir.into(),
                columns: columns.clone(),
            }),
            _ => None,
        },
    })
}

pub struct FinishTask {
    writer: Option<Writer>,
    name: String,
    metadata: Vec<(String, String)>,
    failure: Failure,
}

impl FinishTask {
    /// Finishes `writer` (Parquet: the footer with `metadata`); `name`: the output as the user
    /// named it, for messages.
    pub(crate) fn new(writer: Writer, name: String, metadata: HashMap<String, String>) -> Self {
        let mut metadata: Vec<(String, String)> = metadata.into_iter().collect();
        metadata.sort();
        FinishTask {
            writer: Some(writer),
            name,
            metadata,
            failure: Failure::default(),
        }
    }
}

#[napi]
impl Task for FinishTask {
    type Output = Summary;
    type JsValue = WriteSummary;

    fn compute(&mut self) -> Result<Summary> {
        catch_panics(|| {
            let writer = self
                .writer
                .take()
                .expect("a finish task carries the writer");
            writer
                .finish(std::mem::take(&mut self.metadata))
                .map_err(|e| self.failure.output(&self.name, e))
        })
    }

    fn resolve(&mut self, _env: Env, s: Summary) -> Result<WriteSummary> {
        Ok(summary_to_js(&s))
    }

    fn reject(&mut self, env: Env, err: Error) -> Result<WriteSummary> {
        Err(self.failure.reject(&env, err))
    }
}

fn format_name(f: Format) -> &'static str {
    match f {
        Format::Parquet => "parquet",
        Format::Csv => "csv",
        Format::Arrow => "arrow",
    }
}

fn summary_to_js(s: &Summary) -> WriteSummary {
    WriteSummary {
        rows: s.rows as f64,
        bytes: s.bytes as f64,
        format: format_name(s.format).into(),
        files: s.files as f64,
    }
}

/// Checks a finished file (open at `fd`) against what its writer reported: size and row count
/// as a reader finds them, on the thread pool.
#[cfg_attr(test, allow(dead_code))]
pub struct VerifyTask {
    fd: i32,
    summary: Summary,
    name: String,
    failure: Failure,
}

#[napi]
impl Task for VerifyTask {
    type Output = ();
    type JsValue = ();

    fn compute(&mut self) -> Result<()> {
        catch_panics(|| {
            use std::os::fd::FromRawFd;
            // SAFETY: the caller keeps `fd` open until the task settles; ManuallyDrop keeps this
            // `File` from closing a descriptor it does not own.
            let mut file =
                std::mem::ManuallyDrop::new(unsafe { std::fs::File::from_raw_fd(self.fd) });
            trendflex_io::verify(&mut file, &self.summary)
                .map_err(|e| self.failure.output(&self.name, e))
        })
    }

    fn resolve(&mut self, _env: Env, _: ()) -> Result<()> {
        Ok(())
    }

    fn reject(&mut self, env: Env, err: Error) -> Result<()> {
        Err(self.failure.reject(&env, err))
    }
}

/// Verifies the finished file open at `fd` against `summary` (see `VerifyTask`).
#[napi(catch_unwind, ts_return_type = "Promise<void>")]
#[cfg_attr(test, allow(dead_code))]
pub fn verify_output(
    env: Env,
    fd: i32,
    summary: WriteSummary,
    name: String,
) -> Result<AsyncTask<VerifyTask>> {
    let format = match summary.format.as_str() {
        "parquet" => Format::Parquet,
        "csv" => Format::Csv,
        "arrow" => Format::Arrow,
        other => {
            return Err(range_error(
                &env,
                "ERR_WRITER_OPTIONS",
                format!("unknown format '{other}'"),
            ));
        }
    };
    Ok(AsyncTask::new(VerifyTask {
        fd,
        summary: Summary {
            format,
            rows: summary.rows as u64,
            bytes: summary.bytes as u64,
            files: summary.files as u64,
        },
        name,
        failure: Failure::default(),
    }))
}

/// Moves the finished temporary file `temp` over `target` atomically (see trendflex-io's
/// `replace`). `name`: the output as the user named it, for the message.
#[napi(catch_unwind)]
#[cfg_attr(test, allow(dead_code))]
pub fn replace_file(env: Env, temp: String, target: String, name: String) -> Result<()> {
    let mut failure = Failure::default();
    trendflex_io::replace(temp.as_ref(), target.as_ref())
        .map_err(|e| failure.output(&name, trendflex_io::Error::Io(e)))
        .map_err(|e| failure.reject(&env, e))
}

/// Whether `--state` may replace the existing file `path`: empty, or a trendflex state (see
/// trendflex-io's `state::replaceable`). `name`: the flag and path as the user gave them.
#[napi(catch_unwind)]
#[cfg_attr(test, allow(dead_code))]
pub fn replaceable_state(env: Env, path: String, name: String) -> Result<bool> {
    let mut failure = Failure::default();
    trendflex_io::state::replaceable(path.as_ref())
        .map_err(|e| failure.output(&name, trendflex_io::Error::Io(e)))
        .map_err(|e| failure.reject(&env, e))
}
