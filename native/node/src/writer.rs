//! napi glue for trendflex-io's writers: a `NativeWriter` made with a schema and a file
//! descriptor, fed chunks as Arrow buffers borrowed from JS typed arrays (never copied), encoding
//! on the libuv thread pool.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use arrow_schema::{Field, Schema, SchemaRef};
use napi::bindgen_prelude::*;
use napi_derive::napi;
use trendflex_io::{
    ColumnBytes, Compression, FloatEncoding, Format, Loan, Options, Partition, Summary, Writer,
};

use crate::errors::{Failure, catch_panics, range_error, take_state};
use crate::types::data_type;

/// One output column: its name and type (`float64`, `int64`, `utf8`, `bool`, `date32`,
/// `timestamp[ms]`, `timestamp[us, UTC]`, `time64[ns]`, `duration[s]`, `decimal128(10, 2)`, ...).
#[napi(object)]
pub struct WriterField {
    pub name: String,
    #[napi(js_name = "type")]
    pub data_type: String,
}

#[napi(object)]
pub struct WriterOptions {
    /// `parquet`, `csv` or `arrow` (an Arrow IPC stream).
    pub format: String,
    /// Parquet: `lz4` (LZ4_RAW, the default), `zstd`, `snappy` or `none`.
    pub compression: Option<String>,
    /// Parquet: how float columns are stored, `plain` (the default, which every reader opens) or
    /// `byte-stream-split` (smaller with compression; Spark 4.1's default reader cannot open it).
    pub float_encoding: Option<String>,
    /// CSV: one ASCII character, default `,`.
    pub delimiter: Option<String>,
    /// Hold all output back until a write with `release` (or `finish`).
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

/// One column of a chunk in Arrow's memory layout, as byte views of JS typed arrays.
#[napi(object)]
pub struct ColumnBuffers {
    pub values: Uint8Array,
    pub validity: Option<Uint8Array>,
    /// Bit of row 0 in `validity` (Arrow JS keeps bitmaps whole when it slices).
    pub validity_offset: Option<u32>,
    /// `bool` columns: bit of row 0 in `values`.
    pub values_offset: Option<u32>,
    /// `utf8`/`binary` columns: `rows + 1` int32 offsets into `values`.
    pub offsets: Option<Uint8Array>,
}

impl ColumnBuffers {
    /// The column as the byte views trendflex-io borrows a batch from.
    pub fn bytes(&self) -> ColumnBytes<'_> {
        ColumnBytes {
            values: &self.values,
            validity: self.validity.as_deref(),
            validity_offset: self.validity_offset.unwrap_or(0) as usize,
            values_offset: self.values_offset.unwrap_or(0) as usize,
            offsets: self.offsets.as_deref(),
        }
    }
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
    let delimiter = match o.delimiter.as_deref().unwrap_or(",").as_bytes() {
        [d] if d.is_ascii() && !matches!(d, b'"' | b'\n' | b'\r') => *d,
        _ => return Err(bad("the delimiter must be one ASCII character".into())),
    };
    Ok(Options {
        format,
        compression,
        float_encoding,
        delimiter,
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

/// Writes chunks of a fixed schema to a file descriptor the caller opened and closes, in one
/// format. One call at a time: await each `writeAsync` before the next, then `finishAsync` once.
#[napi]
pub struct NativeWriter {
    state: Arc<Mutex<Option<Writer>>>,
    schema: SchemaRef,
    name: String,
}

impl NativeWriter {
    fn take(&self, env: &Env) -> Result<Writer> {
        take_state(
            env,
            &self.state,
            "the writer is busy with an earlier call, finished or aborted",
        )
    }
}

#[napi]
impl NativeWriter {
    /// `fd` must stay open until `finishAsync` settles or `abort` returns. Parquet and CSV write
    /// their header at once, Arrow its schema (held back with `hold`).
    #[napi(catch_unwind, constructor)]
    pub fn new(
        env: Env,
        fd: i32,
        fields: Vec<WriterField>,
        options: WriterOptions,
    ) -> Result<Self> {
        let opts = self::options(&env, &options)?;
        let fields = fields
            .iter()
            .map(|f| {
                data_type(&f.data_type)
                    .map(|t| Field::new(&f.name, t, true))
                    .ok_or_else(|| {
                        range_error(
                            &env,
                            "ERR_OUTPUT_SCHEMA",
                            format!(
                                "column {}: type '{}' cannot be written",
                                f.name, f.data_type
                            ),
                        )
                    })
            })
            .collect::<Result<Vec<_>>>()?;
        let metadata = options.metadata.clone().unwrap_or_default();
        let schema = Arc::new(Schema::new_with_metadata(fields, metadata));
        let mut failure = Failure::default();
        let writer = Writer::new(schema.clone(), fd, &opts)
            .map_err(|e| failure.output(&options.name, e))
            .map_err(|e| failure.reject(&env, e))?;
        Ok(NativeWriter {
            state: Arc::new(Mutex::new(Some(writer))),
            schema,
            name: options.name,
        })
    }

    /// Encodes one chunk of `rows` rows on the thread pool; `release`: output held back so far
    /// may go out. Leave the arrays alone until the promise settles.
    #[napi(catch_unwind, ts_return_type = "Promise<void>")]
    pub fn write_async(
        &self,
        env: Env,
        columns: Vec<ColumnBuffers>,
        rows: u32,
        release: bool,
    ) -> Result<AsyncTask<WriteTask>> {
        if columns.len() != self.schema.fields().len() {
            return Err(range_error(
                &env,
                "ERR_OUTPUT_SCHEMA",
                format!(
                    "{} columns given, the writer has {}",
                    columns.len(),
                    self.schema.fields().len()
                ),
            ));
        }
        let writer = self.take(&env)?;
        Ok(AsyncTask::new(WriteTask {
            home: self.state.clone(),
            writer: Some(writer),
            schema: self.schema.clone(),
            name: self.name.clone(),
            columns,
            rows: rows as usize,
            release,
            failure: Failure::default(),
        }))
    }

    /// Ends the output (Parquet: the footer with `metadata`) and lets everything out.
    #[napi(catch_unwind, ts_return_type = "Promise<WriteSummary>")]
    pub fn finish_async(
        &self,
        env: Env,
        metadata: HashMap<String, String>,
    ) -> Result<AsyncTask<FinishTask>> {
        let writer = self.take(&env)?;
        Ok(AsyncTask::new(FinishTask::new(
            writer,
            self.name.clone(),
            metadata,
        )))
    }

    /// Stops without finishing (waits for encoding threads); the caller discards the output.
    #[napi(catch_unwind)]
    pub fn abort(&self) {
        drop(self.state.lock().unwrap_or_else(|e| e.into_inner()).take());
    }
}

pub struct WriteTask {
    home: Arc<Mutex<Option<Writer>>>,
    writer: Option<Writer>,
    schema: SchemaRef,
    name: String,
    columns: Vec<ColumnBuffers>,
    rows: usize,
    release: bool,
    failure: Failure,
}

#[napi]
impl Task for WriteTask {
    type Output = ();
    type JsValue = ();

    fn compute(&mut self) -> Result<()> {
        catch_panics(|| {
            crate::errors::failpoint("write");
            let bytes: Vec<ColumnBytes<'_>> =
                self.columns.iter().map(ColumnBuffers::bytes).collect();
            let writer = self
                .writer
                .as_mut()
                .expect("a write task carries the writer");
            let loan = Loan::new();
            // SAFETY: the task holds references to every typed array, so their memory stays alive
            // until it settles, which is after `loan` is dropped at the end of this block; the JS API
            // documents that the arrays are not modified until then.
            let result =
                unsafe { trendflex_io::borrowed_batch(&loan, &self.schema, &bytes, self.rows) }
                    .and_then(|batch| writer.write(&batch, self.release));
            drop(loan);
            result.map_err(|e| self.failure.output(&self.name, e))
        })
    }

    fn resolve(&mut self, _env: Env, _: ()) -> Result<()> {
        Ok(())
    }

    fn reject(&mut self, env: Env, err: Error) -> Result<()> {
        Err(self.failure.reject(&env, err))
    }
}

impl Drop for WriteTask {
    fn drop(&mut self) {
        // Handed back also after a failure: `abort` then drops it and stops its threads.
        if let Some(writer) = self.writer.take() {
            *self.home.lock().unwrap_or_else(|e| e.into_inner()) = Some(writer);
        }
    }
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
