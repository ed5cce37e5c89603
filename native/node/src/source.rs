//! napi glue for trendflex-io's readers: an input opened on the thread pool (stdin may take its
//! time, and Ctrl-C must work meanwhile), then handed to a job (`NativeJob`), which reads it.

use std::sync::{Arc, Mutex};

use napi::bindgen_prelude::*;
use napi_derive::napi;
use trendflex_io::readers::{
    GapMode, Input, InputFile, Keep, KeepType, Source, SourceInfo, SourceOptions,
};

use crate::errors::{Failure, catch_panics, range_error, take_state};

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
    /// A live feed: hand out rows as soon as they are complete (`--follow`).
    pub follow: Option<bool>,
    /// The input as the user named it, for messages ("" when `files` name themselves).
    pub name: String,
    /// Several inputs, read one after another as one table (then `path` is ignored).
    pub files: Option<Vec<InputFileSpec>>,
}

fn parse_options(env: &Env, o: &OpenOptions) -> Result<SourceOptions> {
    let bad = |m: String| range_error(env, "ERR_INPUT_OPTIONS", m);
    // The one place the delimiter's rule lives (the CLI only spells a tab `\t`).
    let delimiter = match o.delimiter.as_deref() {
        None => None,
        Some(text) => match text.as_bytes() {
            [d] if !matches!(d, b'"' | b'\n' | b'\r') => Some(*d),
            _ => {
                return Err(range_error(
                    env,
                    "ERR_DELIMITER",
                    format!(
                        "'{}' is not one single-byte character other than '\"', CR and LF (use ',', ';', '|', or \\t for a tab)",
                        trendflex_csv::escape(text.as_bytes())
                    ),
                ));
            }
        },
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

/// An open input, for a `NativeJob` to take and read.
#[napi]
pub struct NativeSource {
    state: Arc<Mutex<Option<Source>>>,
    info: SourceInfo,
    name: String,
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
}

impl NativeSource {
    /// Hands the input over to a job, which reads it from then on; `name`: the input as the
    /// user named it, for messages.
    pub(crate) fn take(&self, env: &Env) -> Result<(Source, String)> {
        let source = take_state(env, &self.state, "the source was already given to a job")?;
        Ok((source, self.name.clone()))
    }
}

#[cfg_attr(test, allow(dead_code))]
pub struct OpenTask {
    files: Vec<InputFile>,
    options: SourceOptions,
    chunk_rows: usize,
    name: String,
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
        Ok(NativeSource {
            info: source.info.clone(),
            state: Arc::new(Mutex::new(Some(source))),
            name: self.name.clone(),
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
        failure: Failure::default(),
    }))
}

/// Ends every wait for input (stdin, a FIFO, a socket), now and later: waiting reads return as
/// at the end of the input. Called on Ctrl-C, so that the exit does not wait for a worker thread
/// blocked on a feed that sends nothing.
#[napi(catch_unwind)]
#[cfg_attr(test, allow(dead_code))]
pub fn cancel_reads() {
    trendflex_io::readers::cancel_reads();
}
