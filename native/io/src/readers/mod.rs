//! The inputs: CSV/TSV (plain, gzip or zstd) and Parquet, from a file or stdin, behind one
//! source that hands out chunks of prices (with `--gaps` applied) and keep columns as Arrow
//! arrays. What a file holds is told by its first bytes; its name only suggests the delimiter.

mod arrow;
mod batches;
mod bytes;
mod csv;
mod parquet;

use std::collections::VecDeque;
use std::fs::File;
use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arrow_array::{ArrayRef, StringArray};
use arrow_cast::cast;
use arrow_schema::DataType;
pub use bytes::{cancel_reads, is_cancelled, reads_cancelled};
pub use trendflex_core::gaps::GapMode;
use trendflex_csv::LineNumbers;
pub use trendflex_csv::{Keep, KeepType};

use crate::Error;
use batches::BatchSource;
use bytes::{PARQUET, Peeked};
use trendflex_core::gaps::Gaps;

/// Where the input comes from.
#[derive(Debug, Clone)]
pub enum Input {
    Path(PathBuf),
    Stdin,
}

/// One of several inputs read as one table, in order.
#[derive(Debug, Clone)]
pub struct InputFile {
    pub input: Input,
    /// The file as the user named it, for messages.
    pub name: String,
    /// Columns with one value for the whole file (a hive partition's `key=value`, or the file's
    /// name): a keep column of that name is this value on every row, not read from the file.
    pub constants: Vec<(String, String)>,
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
    /// A live feed: a chunk is handed out as soon as a row is complete, not when it is full,
    /// and CSV keep columns are typed from the first rows that arrive.
    pub follow: bool,
}

/// One chunk: `rows` prices were written into the caller's buffer.
pub struct Chunk {
    pub rows: usize,
    pub keep: Vec<ArrayRef>,
    /// CSV: the input line of every row (empty for Parquet, whose rows are their own numbers).
    pub lines: LineNumbers,
}

enum Kind {
    Csv(Box<csv::CsvSource>),
    Batches(Box<BatchSource>),
}

impl Kind {
    fn next(&mut self, prices: &mut [f64]) -> Result<Chunk, Error> {
        match self {
            Kind::Csv(s) => s.next(prices),
            Kind::Batches(s) => s.next(prices),
        }
    }
}

/// What is known about an input once it is open.
#[derive(Debug, Clone)]
pub struct SourceInfo {
    /// `csv`, `parquet` or `arrow` (of the first input, when there are several).
    pub format: &'static str,
    /// The matched price column.
    pub column: String,
    /// The matched keep columns.
    pub keep: Vec<String>,
    /// Parquet: rows in the file.
    pub total_rows: Option<u64>,
    /// The size of the input file(s), when they are files (compressed size for .gz and .zst).
    pub input_bytes: Option<u64>,
}

/// Where a keep column comes from: the file's `n`-th read keep column, or a constant.
#[derive(Debug, Clone)]
enum KeepFrom {
    File(usize),
    Constant(usize),
}

/// One open input file.
struct Opened {
    kind: Kind,
    format: &'static str,
    column: String,
    keep: Vec<String>,
    total_rows: Option<u64>,
    keep_types: Option<Vec<DataType>>,
    size: Option<u64>,
}

/// The input: one file or stdin, or several files read one after another as one table.
pub struct Source {
    kind: Kind,
    gaps: Gaps,
    rows: u64,
    /// Rows handed out before the current input began.
    file_start: u64,
    /// Bytes read of the current text input; `done_bytes`: sizes of the inputs finished.
    read: Arc<AtomicU64>,
    done_bytes: u64,
    size: Option<u64>,
    pub info: SourceInfo,
    current: InputFile,
    rest: VecDeque<InputFile>,
    /// Options for the files: only the keep columns they hold, typed once the first chunk is.
    options: SourceOptions,
    chunk_rows: usize,
    from: Vec<KeepFrom>,
    /// The keep columns' types, as the first input gave them; later inputs are cast to them.
    types: Option<Vec<DataType>>,
    first_name: String,
    many: bool,
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

/// Opens one input and reads as far as its columns (CSV header, Parquet footer, Arrow schema).
fn open_one(
    input: &Input,
    options: &SourceOptions,
    chunk_rows: usize,
    read: &Arc<AtomicU64>,
) -> Result<Opened, Error> {
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
    let head = peeked.head();
    let batches = |kind: BatchSource, format, total_rows| {
        let c = &kind.columns;
        Opened {
            format,
            column: c.column.clone(),
            keep: c.keep_names.clone(),
            keep_types: Some(c.keep_types.clone()),
            total_rows,
            size,
            kind: Kind::Batches(Box::new(kind)),
        }
    };
    // Parquet and Arrow IPC files are read from a file (the Parquet footer is at the end):
    // stdin is spooled to an unnamed temporary file first (memory stays bounded, and nothing
    // is left behind even on a crash).
    let file = |peeked: Peeked<_>| -> Result<File, Error> {
        match input {
            Input::Path(p) => Ok(File::open(p)?),
            Input::Stdin => spool(peeked),
        }
    };
    if head.starts_with(PARQUET) {
        let (source, rows) = parquet::open(file(peeked)?, options, chunk_rows)?;
        return Ok(batches(source, "parquet", Some(rows)));
    }
    if head.starts_with(arrow::FILE) {
        return Ok(batches(
            arrow::open_file(file(peeked)?, options)?,
            "arrow",
            None,
        ));
    }
    if head.starts_with(arrow::STREAM) {
        return Ok(batches(arrow::open_stream(peeked, options)?, "arrow", None));
    }
    let delimiter = options.delimiter.unwrap_or(if tab { b'\t' } else { b',' });
    read.store(0, Ordering::Relaxed);
    let text = bytes::unpacked(peeked, read.clone())?;
    let source = csv::CsvSource::open(text, delimiter, options)?;
    Ok(Opened {
        format: "csv",
        column: source.column(),
        keep: source.keep(),
        total_rows: None,
        keep_types: None,
        size,
        kind: Kind::Csv(Box::new(source)),
    })
}

/// A keep type a text input can be told to read a column as.
fn declared(t: &DataType) -> Option<KeepType> {
    match t {
        DataType::Int64 => Some(KeepType::Int64),
        DataType::Float64 => Some(KeepType::Float64),
        DataType::Utf8 => Some(KeepType::Text),
        _ => None,
    }
}

impl Source {
    /// Opens the input and reads as far as its columns (CSV header, Parquet footer).
    /// `chunk_rows`: the rows of the chunks that will be asked for.
    pub fn open(
        input: &Input,
        options: &SourceOptions,
        chunk_rows: usize,
    ) -> Result<Source, Error> {
        let file = InputFile {
            input: input.clone(),
            name: String::new(),
            constants: Vec::new(),
        };
        Self::open_many(vec![file], options, chunk_rows)
    }

    /// Opens several inputs as one table: their rows one after another, in the order given.
    /// Every input must hold the price and keep columns (matched by name in each); keep columns
    /// take the types the first input gives them. Only the first is opened now.
    pub fn open_many(
        files: Vec<InputFile>,
        options: &SourceOptions,
        chunk_rows: usize,
    ) -> Result<Source, Error> {
        let mut rest: VecDeque<InputFile> = files.into();
        let current = rest
            .pop_front()
            .ok_or_else(|| Error::Input("no input".into()))?;
        let many = !rest.is_empty();
        let mut file_keep = Vec::new();
        let from: Vec<KeepFrom> = options
            .keep
            .iter()
            .map(
                |k| match current.constants.iter().position(|(c, _)| *c == k.name) {
                    Some(i) => KeepFrom::Constant(i),
                    None => {
                        file_keep.push(k.clone());
                        KeepFrom::File(file_keep.len() - 1)
                    }
                },
            )
            .collect();
        let options = SourceOptions {
            keep: file_keep,
            ..options.clone()
        };
        let read = Arc::new(AtomicU64::new(0));
        let named = |f: &InputFile, e: Error| if many { in_file(&f.name, e) } else { e };
        let opened = open_one(&current.input, &options, chunk_rows, &read)
            .map_err(|e| named(&current, e))?;
        // The total size, for progress, when every input is a regular file.
        let mut size = opened.size;
        for f in &rest {
            size = match (&f.input, size) {
                (Input::Path(p), Some(s)) => std::fs::metadata(p)
                    .ok()
                    .filter(|m| m.is_file())
                    .map(|m| s + m.len()),
                _ => None,
            };
        }
        let keep = from
            .iter()
            .map(|f| match f {
                KeepFrom::File(i) => opened.keep[*i].clone(),
                KeepFrom::Constant(i) => current.constants[*i].0.clone(),
            })
            .collect();
        let types = opened.keep_types.clone();
        let info = SourceInfo {
            format: opened.format,
            column: opened.column,
            keep,
            total_rows: if many { None } else { opened.total_rows },
            input_bytes: size,
        };
        Ok(Source {
            kind: opened.kind,
            gaps: Gaps::new(options.gaps),
            rows: 0,
            file_start: 0,
            read,
            done_bytes: 0,
            size: opened.size,
            info,
            first_name: current.name.clone(),
            current,
            rest,
            options,
            chunk_rows,
            from,
            types,
            many,
        })
    }

    /// Keep column types, when known before the first chunk (Parquet, Arrow).
    pub fn keep_types(&self) -> Option<Vec<DataType>> {
        let types = self.types.as_ref()?;
        Some(
            self.from
                .iter()
                .map(|f| match f {
                    KeepFrom::File(i) => types[*i].clone(),
                    KeepFrom::Constant(_) => DataType::Utf8,
                })
                .collect(),
        )
    }

    /// Bytes of the input read so far (before decompression; whole files for finished ones).
    pub fn bytes_read(&self) -> u64 {
        self.done_bytes
            + match &self.kind {
                Kind::Csv(_) => self.read.load(Ordering::Relaxed),
                Kind::Batches(_) => 0,
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

    fn named(&self, e: Error) -> Error {
        if self.many {
            in_file(&self.current.name, e)
        } else {
            e
        }
    }

    /// Moves on to the next input; false when there is none.
    fn advance(&mut self) -> Result<bool, Error> {
        let Some(next) = self.rest.pop_front() else {
            return Ok(false);
        };
        self.done_bytes += self.size.unwrap_or(0);
        self.file_start = self.rows;
        self.current = next;
        if next_constants_differ(&self.current, &self.from) {
            return Err(self.named(Error::Input(
                "its partition columns differ from the first input's".into(),
            )));
        }
        if let Some(types) = &self.types {
            for (k, t) in self.options.keep.iter_mut().zip(types) {
                k.kind = k.kind.or(declared(t));
            }
        }
        let opened = open_one(
            &self.current.input,
            &self.options,
            self.chunk_rows,
            &self.read,
        )
        .map_err(|e| self.named(e))?;
        self.kind = opened.kind;
        self.size = opened.size;
        Ok(true)
    }

    /// The next chunk of up to `prices.len()` rows, with `--gaps` applied; 0 rows at the end.
    pub fn next(&mut self, prices: &mut [f64]) -> Result<Chunk, Error> {
        let mut chunk = loop {
            let chunk = self.kind.next(prices).map_err(|e| self.named(e))?;
            if chunk.rows > 0 || !self.advance()? {
                break chunk;
            }
        };
        if chunk.rows == 0 {
            return Ok(chunk);
        }
        self.conform(&mut chunk)?;
        let first = self.rows;
        if let Err(i) = self.gaps.apply(&mut prices[..chunk.rows], first) {
            let at = match &self.kind {
                Kind::Csv(s) => format!("line {}", s.lines.get(i)),
                Kind::Batches(_) => format!("row {}", first - self.file_start + i as u64 + 1),
            };
            return Err(self.named(missing_price(&at, "")));
        }
        self.rows += chunk.rows as u64;
        if let Kind::Csv(s) = &mut self.kind {
            chunk.lines = std::mem::take(&mut s.lines);
        }
        Ok(chunk)
    }

    /// Casts a later input's keep columns to the first input's types, and adds the constants.
    fn conform(&mut self, chunk: &mut Chunk) -> Result<(), Error> {
        if self.types.is_none() {
            self.types = Some(chunk.keep.iter().map(|a| a.data_type().clone()).collect());
        }
        let types = self.types.clone().unwrap_or_default();
        for (i, (a, t)) in chunk.keep.iter_mut().zip(types.iter()).enumerate() {
            if a.data_type() != t {
                *a = cast(a, t).map_err(|e| {
                    in_file(
                        &self.current.name,
                        Error::Input(format!(
                            "column {} cannot be read as {t}, its type in {} ({e})",
                            self.info_keep_name(i),
                            self.first_name
                        )),
                    )
                })?;
            }
        }
        if self.from.iter().all(|f| matches!(f, KeepFrom::File(_))) {
            return Ok(());
        }
        let mut file_keep = std::mem::take(&mut chunk.keep)
            .into_iter()
            .map(Some)
            .collect::<Vec<_>>();
        let rows = chunk.rows;
        chunk.keep = self
            .from
            .iter()
            .map(|f| match f {
                KeepFrom::File(i) => file_keep[*i].take().expect("each file column once"),
                KeepFrom::Constant(i) => {
                    let value = self.current.constants[*i].1.as_str();
                    Arc::new(StringArray::from_iter_values(std::iter::repeat_n(
                        value, rows,
                    ))) as ArrayRef
                }
            })
            .collect();
        Ok(())
    }

    fn info_keep_name(&self, file_index: usize) -> String {
        self.from
            .iter()
            .zip(&self.info.keep)
            .find(|(f, _)| matches!(f, KeepFrom::File(i) if *i == file_index))
            .map_or_else(String::new, |(_, n)| n.clone())
    }
}

/// True when a later input lacks a constant column the first one gave.
fn next_constants_differ(file: &InputFile, from: &[KeepFrom]) -> bool {
    from.iter()
        .any(|f| matches!(f, KeepFrom::Constant(i) if *i >= file.constants.len()))
}

/// A missing price under `--gaps error`, at `at` (its line or row), in `group` ("" when the
/// input is one series).
pub(crate) fn missing_price(at: &str, group: &str) -> Error {
    Error::Input(match group {
        "" => format!(
            "{at}: missing price after the first valid one (--gaps error); use --gaps ffill to carry the last price forward, or --gaps propagate"
        ),
        group => format!(
            "{group}: {at}: missing price after the group's first valid one (--gaps error); use --gaps ffill to carry its last price forward, or --gaps propagate"
        ),
    })
}

/// An error about one of several inputs: its name first.
fn in_file(name: &str, e: Error) -> Error {
    Error::Input(format!("{name}: {e}"))
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
