//! `--partition-by`: a hive-partitioned Parquet dataset (`dir/symbol=AAPL/part-0.parquet`), as
//! DuckDB's `read_parquet(..., hive_partitioning = true)`, pyarrow datasets and polars read it.
//! The partition columns name the folders and are left out of the files, as Hive does. Rows
//! of a batch go to their partition's file: a run of rows as a slice (no copy), scattered rows
//! gathered. Files stay open while their partition keeps coming (at most `max_open`; the least
//! recently used is finished first and a later run of it starts `part-1`), and buffered row
//! groups are bounded in bytes across all of them.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{RecordBatch, UInt32Array};
use arrow_cast::display::array_value_to_string;
use arrow_row::{RowConverter, SortField};
use arrow_schema::{Schema, SchemaRef};
use arrow_select::take::take_record_batch;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_writer::ArrowWriterOptions;
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;

use super::parquet::{footer_rows, properties};
use crate::{Compression, Error, FloatEncoding};

/// Bytes of encoded, not yet written row groups across all open files before the largest is
/// flushed as a row group.
const BUFFERED_BYTES: usize = 256 << 20;

/// Hive's name for a null partition value.
const NULL_PARTITION: &str = "__HIVE_DEFAULT_PARTITION__";

struct Part {
    writer: ArrowWriter<BufWriter<File>>,
    path: PathBuf,
    used: u64,
}

pub struct DatasetWriter {
    dir: PathBuf,
    /// Partition columns, and the others (what the files hold), by index in the batches.
    keys: Vec<usize>,
    values: Vec<usize>,
    file_schema: SchemaRef,
    properties: WriterProperties,
    row_group_rows: usize,
    converter: RowConverter,
    /// A partition's encoded key -> its folder, relative to `dir`.
    folders: HashMap<Box<[u8]>, String>,
    open: HashMap<String, Part>,
    /// Files started per folder.
    started: HashMap<String, usize>,
    max_open: usize,
    tick: u64,
    /// Written into every file's footer (the final one into files finished at the end).
    metadata: Vec<KeyValue>,
    /// Finished files and the rows their writer reported.
    finished: Vec<(PathBuf, u64)>,
    rows: u64,
}

/// A folder name part: `%` and what paths, globs and Hive reserve are %-encoded as Hive does.
fn escape(value: &str) -> String {
    let mut s = String::with_capacity(value.len());
    for c in value.chars() {
        if c.is_control() || "\"#%'*/:=?\\\x7f{[]^".contains(c) {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                s.push_str(&format!("%{b:02X}"));
            }
        } else {
            s.push(c);
        }
    }
    if s.is_empty() {
        NULL_PARTITION.into()
    } else {
        s
    }
}

impl DatasetWriter {
    /// Writes into the existing, empty directory `dir`. `partition_by`: column names of `schema`.
    pub fn new(
        schema: SchemaRef,
        dir: &Path,
        partition_by: &[String],
        compression: Compression,
        float_encoding: FloatEncoding,
        created_by: &str,
        row_group_rows: usize,
    ) -> Result<Self, Error> {
        let keys = partition_by
            .iter()
            .map(|k| {
                schema.index_of(k).map_err(|_| {
                    Error::Input(format!("--partition-by {k}: the output has no column {k}"))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let values: Vec<usize> = (0..schema.fields().len())
            .filter(|i| !keys.contains(i))
            .collect();
        let file_schema = Arc::new(Schema::new(
            values
                .iter()
                .map(|&i| schema.field(i).clone())
                .collect::<Vec<_>>(),
        ));
        let converter = RowConverter::new(
            keys.iter()
                .map(|&i| SortField::new(schema.field(i).data_type().clone()))
                .collect(),
        )?;
        let metadata = schema
            .metadata()
            .iter()
            .map(|(k, v)| KeyValue::new(k.clone(), v.clone()))
            .collect();
        Ok(DatasetWriter {
            dir: dir.to_path_buf(),
            properties: properties(&file_schema, compression, float_encoding, created_by),
            file_schema,
            keys,
            values,
            row_group_rows: row_group_rows.max(1),
            converter,
            folders: HashMap::new(),
            open: HashMap::new(),
            started: HashMap::new(),
            // Each open file keeps a column writer per column: fewer files open for wide output.
            max_open: (1 << 16) / (schema.fields().len() + 8),
            tick: 0,
            metadata,
            finished: Vec::new(),
            rows: 0,
        })
        .map(|mut w| {
            w.max_open = w.max_open.clamp(16, 512);
            w
        })
    }

    fn folder(&mut self, batch: &RecordBatch, row: usize, key: &[u8]) -> Result<String, Error> {
        if let Some(f) = self.folders.get(key) {
            return Ok(f.clone());
        }
        let schema = batch.schema();
        let parts = self
            .keys
            .iter()
            .map(|&k| {
                let column = batch.column(k);
                let value = if column.is_null(row) {
                    NULL_PARTITION.into()
                } else {
                    escape(&array_value_to_string(column, row)?)
                };
                Ok(format!("{}={value}", escape(schema.field(k).name())))
            })
            .collect::<Result<Vec<_>, Error>>()?;
        let folder = parts.join("/");
        self.folders.insert(key.into(), folder.clone());
        Ok(folder)
    }

    /// Splits `batch` by partition and appends each part to its partition's file.
    pub fn write(&mut self, batch: &RecordBatch) -> Result<(), Error> {
        let n = batch.num_rows();
        if n == 0 {
            return Ok(());
        }
        let keys: Vec<_> = self.keys.iter().map(|&k| batch.column(k).clone()).collect();
        let rows = self.converter.convert_columns(&keys)?;
        // Runs of equal keys, gathered per folder in order of first appearance.
        let mut order: Vec<String> = Vec::new();
        let mut runs: HashMap<String, Vec<(usize, usize)>> = HashMap::new();
        let mut start = 0;
        for i in 1..=n {
            if i < n && rows.row(i) == rows.row(start) {
                continue;
            }
            let folder = self.folder(batch, start, rows.row(start).as_ref())?;
            let list = runs.entry(folder.clone()).or_insert_with(|| {
                order.push(folder);
                Vec::new()
            });
            list.push((start, i - start));
            start = i;
        }
        let values = batch.project(&self.values)?;
        for folder in order {
            let list = &runs[&folder];
            let part = match list.as_slice() {
                [(at, len)] => values.slice(*at, *len),
                _ => {
                    let indices: UInt32Array = list
                        .iter()
                        .flat_map(|&(at, len)| (at as u32)..((at + len) as u32))
                        .collect();
                    take_record_batch(&values, &indices)?
                }
            };
            self.append(&folder, &part)?;
        }
        self.rows += n as u64;
        self.bound_memory()
    }

    fn append(&mut self, folder: &str, batch: &RecordBatch) -> Result<(), Error> {
        self.tick += 1;
        if !self.open.contains_key(folder) {
            if self.open.len() >= self.max_open {
                let oldest = self
                    .open
                    .iter()
                    .min_by_key(|(_, p)| p.used)
                    .map(|(f, _)| f.clone())
                    .expect("files are open");
                self.close(&oldest, self.metadata.clone())?;
            }
            let n = self.started.entry(folder.to_string()).or_insert(0);
            let path = self.dir.join(folder).join(format!("part-{n}.parquet"));
            *n += 1;
            fs::create_dir_all(path.parent().expect("a folder"))?;
            let file = File::create_new(&path)?;
            let options = ArrowWriterOptions::new().with_properties(self.properties.clone());
            let writer = ArrowWriter::try_new_with_options(
                BufWriter::with_capacity(1 << 20, file),
                self.file_schema.clone(),
                options,
            )?;
            self.open.insert(
                folder.to_string(),
                Part {
                    writer,
                    path,
                    used: 0,
                },
            );
        }
        let part = self.open.get_mut(folder).expect("opened above");
        part.used = self.tick;
        part.writer.write(batch)?;
        if part.writer.in_progress_rows() >= self.row_group_rows {
            part.writer.flush()?;
        }
        Ok(())
    }

    /// Flushes the largest buffered row groups while all together exceed the budget.
    fn bound_memory(&mut self) -> Result<(), Error> {
        loop {
            let total: usize = self
                .open
                .values()
                .map(|p| p.writer.in_progress_size())
                .sum();
            if total <= BUFFERED_BYTES {
                return Ok(());
            }
            let largest = self
                .open
                .values_mut()
                .max_by_key(|p| p.writer.in_progress_size())
                .expect("buffered bytes mean an open file");
            largest.writer.flush()?;
        }
    }

    fn close(&mut self, folder: &str, metadata: Vec<KeyValue>) -> Result<(), Error> {
        let Some(mut part) = self.open.remove(folder) else {
            return Ok(());
        };
        for kv in metadata {
            part.writer.append_key_value_metadata(kv);
        }
        let written = part.writer.close()?;
        // The same footer as a single file's: float statistics every reader uses.
        super::footer::use_type_defined_float_order_in(&part.path)?;
        self.finished
            .push((part.path, written.file_metadata().num_rows() as u64));
        Ok(())
    }

    /// Finishes every file (`metadata` in their footers), then reads every footer back: the rows
    /// found must be the rows written. Returns rows, bytes and files.
    pub fn finish(mut self, metadata: Vec<(String, String)>) -> Result<(u64, u64, u64), Error> {
        let kv: Vec<KeyValue> = metadata
            .into_iter()
            .map(|(k, v)| KeyValue::new(k, v))
            .collect();
        let mut folders: Vec<String> = self.open.keys().cloned().collect();
        folders.sort();
        for folder in folders {
            self.close(&folder, kv.clone())?;
        }
        let (mut rows, mut bytes) = (0u64, 0u64);
        for (path, written) in &self.finished {
            let file = File::open(path)?;
            bytes += file.metadata()?.len();
            let found = footer_rows(&file)?;
            if found != *written {
                return Err(Error::Verify(format!(
                    "{} holds {found} rows, {written} were written",
                    path.display()
                )));
            }
            rows += found;
        }
        if rows != self.rows {
            return Err(Error::Verify(format!(
                "the dataset holds {rows} rows, {} were written",
                self.rows
            )));
        }
        Ok((rows, bytes, self.finished.len() as u64))
    }
}
