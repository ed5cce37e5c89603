//! napi glue for trendflex-io's readers: an input opened on the thread pool (stdin may take its
//! time, and Ctrl-C must work meanwhile), then read chunk by chunk there, prices straight into a
//! caller's Float64Array, keep columns handed over as Arrow buffers.

use std::sync::{Arc, Mutex};

use arrow_array::{Array, ArrayRef, BooleanArray};
use arrow_buffer::BooleanBuffer;
use arrow_schema::DataType;
use napi::bindgen_prelude::*;
use napi_derive::napi;
use trendflex_io::readers::{
    GapMode, Input, InputFile, Keep, KeepType, Source, SourceInfo, SourceOptions,
};

use crate::errors::{Failure, catch_panics, range_error, take_state};
use crate::types::type_name;

/// A column to keep: its name (or, without a header, its 1-based position) and, if declared,
/// its type (`int64`, `float64` or `text`).
#[napi(object)]
pub struct KeepSpec {
    pub name: String,
    #[napi(js_name = "type")]
    pub kind: Option<String>,
}

/// A column with one value for a whole input file (a hive partition's `key=value`).
#[napi(object)]
pub struct ConstantColumn {
    pub name: String,
    pub value: String,
}

/// One of several input files read as one table.
#[napi(object)]
pub struct InputFileSpec {
    pub path: String,
    /// The file as the user named it, for messages.
    pub name: String,
    pub constants: Vec<ConstantColumn>,
}

#[napi(object)]
pub struct OpenOptions {
    pub column: String,
    pub keep: Vec<KeepSpec>,
    /// One byte; default tab for `.tsv`/`.tab` names, else a comma.
    pub delimiter: Option<String>,
    pub header: bool,
    /// Keep CSV fields as text exactly as written (the output is CSV).
    pub keep_as_text: bool,
    /// `error`, `propagate` or `ffill`.
    pub gaps: String,
    /// Rows of the chunks that will be read.
    pub chunk_rows: u32,
    /// Hand out the input line of every row (CSV), for messages about single rows.
    pub lines: Option<bool>,
    /// A live feed: hand out rows as soon as they are complete (`--follow`).
    pub follow: Option<bool>,
    /// The input as the user named it, for messages ("" when `files` name themselves).
    pub name: String,
    /// Several inputs, read one after another as one table (then `path` is ignored).
    pub files: Option<Vec<InputFileSpec>>,
}

/// One keep column of a chunk in Arrow's layout (offset 0, fresh buffers the caller owns).
#[napi(object, object_from_js = false)]
pub struct KeepBuffers {
    /// See `WriterField.type`.
    #[napi(js_name = "type")]
    pub data_type: String,
    pub length: u32,
    pub null_count: u32,
    pub values: Uint8Array,
    pub validity: Option<Uint8Array>,
    /// Text and binary: `length + 1` offsets into `values`, from 0.
    pub offsets: Option<Int32Array>,
}

#[napi(object, object_from_js = false)]
pub struct ReadResult {
    /// Rows read into `prices` (0 at the end of the input).
    pub rows: u32,
    pub keep: Vec<KeepBuffers>,
    /// Row of the first valid price, once there is one.
    pub first_valid: Option<f64>,
    /// Row of the first missing price after it (`--gaps propagate`).
    pub first_gap: Option<f64>,
    /// Bytes of the input read so far (compressed bytes for .gz and .zst; 0 for Parquet).
    pub bytes_read: f64,
    /// CSV, when asked for: the input line of every row.
    pub lines: Option<Float64Array>,
}

fn parse_options(env: &Env, o: &OpenOptions) -> Result<SourceOptions> {
    let bad = |m: String| range_error(env, "ERR_INPUT_OPTIONS", m);
    let delimiter = match o.delimiter.as_deref().map(str::as_bytes) {
        None => None,
        Some([d]) if !matches!(d, b'"' | b'\n' | b'\r') => Some(*d),
        Some(_) => {
            return Err(bad(
                "the delimiter must be one byte other than '\"', CR and LF".into(),
            ));
        }
    };
    let gaps = o.gaps.parse::<GapMode>().map_err(bad)?;
    let keep = o
        .keep
        .iter()
        .map(|k| {
            let kind = match &k.kind {
                None => None,
                Some(t) => Some(
                    KeepType::parse(t).ok_or_else(|| bad(format!("unknown keep type '{t}'")))?,
                ),
            };
            Ok(Keep {
                name: k.name.clone(),
                kind,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(SourceOptions {
        price: o.column.clone(),
        keep,
        delimiter,
        header: o.header,
        keep_as_text: o.keep_as_text,
        gaps,
        follow: o.follow.unwrap_or(false),
    })
}

/// An open input. Read it with `readAsync`, one call at a time.
#[napi]
pub struct NativeSource {
    state: Arc<Mutex<Option<Source>>>,
    info: SourceInfo,
    keep_types: Option<Vec<String>>,
    name: String,
    lines: bool,
}

#[napi]
impl NativeSource {
    /// `csv` or `parquet`.
    #[napi(getter)]
    pub fn format(&self) -> String {
        self.info.format.into()
    }

    /// The header name the price column matched.
    #[napi(getter)]
    pub fn column(&self) -> String {
        self.info.column.clone()
    }

    /// The header names the keep columns matched, in the order asked for.
    #[napi(getter)]
    pub fn keep(&self) -> Vec<String> {
        self.info.keep.clone()
    }

    /// The keep columns' types when known before reading (Parquet); CSV decides them from a
    /// sample, with the first chunk.
    #[napi(getter)]
    pub fn keep_types(&self) -> Option<Vec<String>> {
        self.keep_types.clone()
    }

    /// Rows in the input, when its format says (Parquet).
    #[napi(getter)]
    pub fn total_rows(&self) -> Option<f64> {
        self.info.total_rows.map(|r| r as f64)
    }

    /// The input file's size in bytes, when it is a file.
    #[napi(getter)]
    pub fn input_bytes(&self) -> Option<f64> {
        self.info.input_bytes.map(|b| b as f64)
    }

    /// Reads the next chunk into `prices` (up to its length) on the thread pool. Leave `prices`
    /// alone until the promise settles.
    #[napi(catch_unwind, ts_return_type = "Promise<ReadResult>")]
    pub fn read_async(&self, env: Env, prices: Float64Array) -> Result<AsyncTask<ReadTask>> {
        let source = take_state(
            &env,
            &self.state,
            "the source is busy with an earlier readAsync; await it first",
        )?;
        Ok(AsyncTask::new(ReadTask {
            home: self.state.clone(),
            source: Some(source),
            prices,
            name: self.name.clone(),
            lines: self.lines,
            failure: Failure::default(),
        }))
    }
}

impl NativeSource {
    /// Hands the input over to a job, which reads it from then on; `name`: the input as the
    /// user named it, for messages.
    pub(crate) fn take(&self, env: &Env) -> Result<(Source, String)> {
        let source = take_state(
            env,
            &self.state,
            "the source is busy with a readAsync, or already given to a job",
        )?;
        Ok((source, self.name.clone()))
    }
}

#[cfg_attr(test, allow(dead_code))]
pub struct OpenTask {
    files: Vec<InputFile>,
    options: SourceOptions,
    chunk_rows: usize,
    name: String,
    lines: bool,
    failure: Failure,
}

#[napi]
impl Task for OpenTask {
    type Output = Source;
    type JsValue = NativeSource;

    fn compute(&mut self) -> Result<Source> {
        catch_panics(|| {
            Source::open_many(
                std::mem::take(&mut self.files),
                &self.options,
                self.chunk_rows,
            )
            .map_err(|e| self.failure.input(&self.name, e))
        })
    }

    fn resolve(&mut self, _env: Env, source: Source) -> Result<NativeSource> {
        let keep_types = source.keep_types().map(|types| {
            types
                .iter()
                .map(|t| type_name(t).unwrap_or_else(|| t.to_string()))
                .collect()
        });
        Ok(NativeSource {
            info: source.info.clone(),
            keep_types,
            state: Arc::new(Mutex::new(Some(source))),
            name: self.name.clone(),
            lines: self.lines,
        })
    }

    fn reject(&mut self, env: Env, err: Error) -> Result<NativeSource> {
        Err(self.failure.reject(&env, err))
    }
}

/// Opens `path` (`null`: stdin) on the thread pool, reading as far as its columns.
#[napi(catch_unwind, ts_return_type = "Promise<NativeSource>")]
#[cfg_attr(test, allow(dead_code))]
pub fn open_source(
    env: Env,
    path: Option<String>,
    options: OpenOptions,
) -> Result<AsyncTask<OpenTask>> {
    let parsed = parse_options(&env, &options)?;
    let files = match &options.files {
        Some(files) => files
            .iter()
            .map(|f| InputFile {
                input: Input::Path(f.path.clone().into()),
                name: f.name.clone(),
                constants: f
                    .constants
                    .iter()
                    .map(|c| (c.name.clone(), c.value.clone()))
                    .collect(),
            })
            .collect(),
        None => vec![InputFile {
            input: path.map_or(Input::Stdin, |p| Input::Path(p.into())),
            name: options.name.clone(),
            constants: Vec::new(),
        }],
    };
    Ok(AsyncTask::new(OpenTask {
        files,
        options: parsed,
        chunk_rows: options.chunk_rows.max(1) as usize,
        name: options.name,
        lines: options.lines.unwrap_or(false),
        failure: Failure::default(),
    }))
}

pub struct ReadTask {
    home: Arc<Mutex<Option<Source>>>,
    source: Option<Source>,
    prices: Float64Array,
    name: String,
    lines: bool,
    failure: Failure,
}

/// What a read hands back before it becomes JS values.
pub struct Read {
    rows: usize,
    keep: Vec<ArrayRef>,
    gaps: (Option<u64>, Option<u64>),
    bytes_read: u64,
    lines: Vec<u64>,
}

#[napi]
impl Task for ReadTask {
    type Output = Read;
    type JsValue = ReadResult;

    fn compute(&mut self) -> Result<Read> {
        catch_panics(|| {
            let source = self
                .source
                .as_mut()
                .expect("a read task carries the source");
            // SAFETY: the task holds a reference to `prices`, keeping it alive until it settles; the
            // JS side does not touch it meanwhile (documented on `readAsync`).
            let prices = unsafe { self.prices.as_mut() };
            let chunk = source
                .next(prices)
                .map_err(|e| self.failure.input(&self.name, e))?;
            let lines = if self.lines { chunk.lines } else { Vec::new() };
            Ok(Read {
                rows: chunk.rows,
                keep: chunk.keep,
                gaps: source.gaps(),
                bytes_read: source.bytes_read(),
                lines,
            })
        })
    }

    fn resolve(&mut self, _env: Env, read: Read) -> Result<ReadResult> {
        Ok(ReadResult {
            rows: read.rows as u32,
            keep: read.keep.iter().map(keep_buffers).collect(),
            first_valid: read.gaps.0.map(|r| r as f64),
            first_gap: read.gaps.1.map(|r| r as f64),
            bytes_read: read.bytes_read as f64,
            lines: (!read.lines.is_empty())
                .then(|| Float64Array::new(read.lines.iter().map(|&l| l as f64).collect())),
        })
    }

    fn reject(&mut self, env: Env, err: Error) -> Result<ReadResult> {
        Err(self.failure.reject(&env, err))
    }
}

impl Drop for ReadTask {
    fn drop(&mut self) {
        if let Some(source) = self.source.take() {
            *self.home.lock().unwrap_or_else(|e| e.into_inner()) = Some(source);
        }
    }
}

/// An array's buffers, copied out from its offset: what JS gets is exactly `length` rows.
fn keep_buffers(a: &ArrayRef) -> KeepBuffers {
    let data = a.to_data();
    let (offset, len) = (data.offset(), data.len());
    let validity = a
        .nulls()
        .filter(|n| n.null_count() > 0)
        .map(|n| Uint8Array::new(n.inner().sliced().to_vec()));
    let (values, offsets) = match a.data_type() {
        DataType::Utf8 | DataType::Binary => {
            let all: &[i32] = data.buffers()[0].typed_data();
            let o = &all[offset..=offset + len];
            let (start, end) = (o[0] as usize, o[len] as usize);
            let rebased: Vec<i32> = o.iter().map(|x| x - o[0]).collect();
            (
                data.buffers()[1].as_slice()[start..end].to_vec(),
                Some(Int32Array::new(rebased)),
            )
        }
        DataType::Boolean => {
            let b = a
                .as_any()
                .downcast_ref::<BooleanArray>()
                .expect("a boolean array");
            let bits: BooleanBuffer = b.values().iter().collect();
            (bits.sliced().to_vec(), None)
        }
        t => {
            let width = t.primitive_width().unwrap_or(1);
            (
                data.buffers()[0].as_slice()[offset * width..(offset + len) * width].to_vec(),
                None,
            )
        }
    };
    KeepBuffers {
        data_type: type_name(a.data_type()).unwrap_or_else(|| a.data_type().to_string()),
        length: len as u32,
        null_count: a.null_count() as u32,
        values: Uint8Array::new(values),
        validity,
        offsets,
    }
}

/// Ends every wait for input (stdin, a FIFO, a socket), now and later: waiting reads return as
/// at the end of the input. Called on Ctrl-C, so that the exit does not wait for a worker thread
/// blocked on a feed that sends nothing.
#[napi(catch_unwind)]
#[cfg_attr(test, allow(dead_code))]
pub fn cancel_reads() {
    trendflex_io::readers::cancel_reads();
}
