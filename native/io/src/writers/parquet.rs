//! Parquet output with the arrow-rs `parquet` crate: batches are encoded into the open row group
//! as they come, its columns in parallel on rayon's pool; a full row group is appended to the file
//! by a thread of its own while the next one is encoded. Row groups span several batches because
//! the footer keeps about 1.3 KB per column chunk in memory until the end: with a row group per
//! 13,824-row batch, 5M rows x 228 columns grew the writer by 107 MB.
//!
//! Float64 columns (every result) skip arrow-rs's Arrow layer: it lists the index of every
//! non-null value and gathers the values into a new vector on every write, and a grouped grid,
//! whose nulls come in a run per group, made hundreds of thousands of small writes, each with
//! a handful of allocations. Here a column's runs go to the typed column writer as slices of
//! the batch, with their definition levels from a constant. The values, nulls, encodings and
//! statistics are those the Arrow layer writes; pages may end at other rows. Their statistics
//! are kept here, four values at a time, rather than by arrow-rs, one value at a time (18% of
//! the headline grid's samples).

use std::io::Write;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

use arrow_array::cast::AsArray;
use arrow_array::types::Float64Type;
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, SchemaRef};
use bytes::Bytes;
use parquet::arrow::arrow_writer::{
    ArrowColumnChunk, ArrowColumnWriter, ArrowRowGroupWriterFactory, ArrowWriter,
    ArrowWriterOptions, compute_leaves,
};
use parquet::basic::{Compression as Codec, Encoding, Type as Physical, ZstdLevel};
use parquet::column::page::{CompressedPage, PageWriteSpec, PageWriter};
use parquet::column::writer::{
    ColumnCloseResult, ColumnWriter, ColumnWriterImpl, get_column_writer,
};
use parquet::data_type::DoubleType;
use parquet::file::metadata::{ColumnChunkMetaData, KeyValue, LevelHistogram};
use parquet::file::properties::{EnabledStatistics, WriterProperties, WriterPropertiesPtr};
use parquet::file::reader::{ChunkReader, Length};
use parquet::file::statistics::{Statistics, ValueStatistics};
use parquet::file::writer::{SerializedFileWriter, SerializedPageWriter, TrackedWrite};
use parquet::schema::types::{ColumnDescPtr, ColumnPath};
use rayon::prelude::*;
use trendflex_core::Extremes;

use super::footer;
use crate::sink::{self, Sink};
use crate::{Compression, Error, FloatEncoding};

enum Message {
    RowGroup(Vec<Chunk>),
    /// Let what the sink holds back through.
    Open,
    Finish(Vec<KeyValue>),
}

/// What the appending thread hands back: rows and bytes written, or the first failure.
type Appended = Result<(u64, u64), Error>;

pub struct ParquetWriter {
    schema: SchemaRef,
    factory: ArrowRowGroupWriterFactory,
    row_groups: usize,
    /// Rows a row group gets before it is closed (it may end up a batch larger); 0: one per batch.
    row_group_rows: usize,
    /// Per column: the Float64 leaf to write through `Floats`, or none (the Arrow layer).
    floats: Vec<Option<ColumnDescPtr>>,
    /// The file's properties with statistics off: `Floats` keeps them itself.
    float_props: WriterPropertiesPtr,
    /// The row group being filled, and its rows so far.
    open: Option<(Vec<Column>, usize)>,
    to_appender: Option<SyncSender<Message>>,
    appender: Option<JoinHandle<Appended>>,
    /// The output was let through (once is enough: the sink stays open).
    released: bool,
}

fn codec(c: Compression) -> Codec {
    match c {
        Compression::Lz4 => Codec::LZ4_RAW,
        // Level 1: the measured trade-off is size for a little time; higher levels cost far more.
        Compression::Zstd => Codec::ZSTD(ZstdLevel::default()),
        Compression::Snappy => Codec::SNAPPY,
        Compression::None => Codec::UNCOMPRESSED,
    }
}

/// Floats get PLAIN, or BYTE_STREAM_SPLIT if asked (noisy doubles compress better so, but Spark
/// 4.1's default reader cannot open it), and no dictionary; text keeps the dictionary (symbols
/// repeat); other columns are plain.
pub(super) fn properties(
    schema: &SchemaRef,
    compression: Compression,
    floats: FloatEncoding,
    created_by: &str,
) -> WriterProperties {
    let mut b = WriterProperties::builder()
        .set_compression(codec(compression))
        .set_dictionary_enabled(false)
        .set_max_row_group_row_count(None)
        // Fewer, larger mini-batches inside the column writers: less per-call overhead.
        .set_write_batch_size(8192)
        // Min/max per column chunk, not per page: a chunk of results is one or two pages, so a
        // page index would repeat the chunk statistics, in memory until the footer is written.
        .set_statistics_enabled(EnabledStatistics::Chunk)
        .set_offset_index_disabled(true)
        .set_created_by(created_by.to_string());
    for field in schema.fields() {
        let path = ColumnPath::from(field.name().as_str());
        match field.data_type() {
            DataType::Float64 | DataType::Float32 if floats == FloatEncoding::ByteStreamSplit => {
                b = b.set_column_encoding(path, Encoding::BYTE_STREAM_SPLIT);
            }
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Binary | DataType::LargeBinary => {
                b = b.set_column_dictionary_enabled(path, true);
            }
            _ => {}
        }
    }
    b.build()
}

impl ParquetWriter {
    pub fn new(
        schema: SchemaRef,
        compression: Compression,
        float_encoding: FloatEncoding,
        created_by: &str,
        row_group_rows: usize,
        out: Sink,
    ) -> Result<Self, Error> {
        let options = ArrowWriterOptions::new().with_properties(properties(
            &schema,
            compression,
            float_encoding,
            created_by,
        ));
        // Through ArrowWriter so the footer carries the ARROW:schema readers use for types.
        let (file, factory) = ArrowWriter::try_new_with_options(out, schema.clone(), options)?
            .into_serialized_writer()?;
        let leaves = file.schema_descr().columns();
        let floats = match leaves.len() == schema.fields().len() {
            true => schema
                .fields()
                .iter()
                .zip(leaves)
                .map(|(field, leaf)| {
                    (field.data_type() == &DataType::Float64
                        && leaf.physical_type() == Physical::DOUBLE
                        && leaf.max_rep_level() == 0)
                        .then(|| leaf.clone())
                })
                .collect(),
            // A nested column has several leaves: everything through the Arrow layer.
            false => vec![None; schema.fields().len()],
        };
        let float_props = Arc::new(
            file.properties()
                .as_ref()
                .clone()
                .into_builder()
                .set_statistics_enabled(EnabledStatistics::None)
                .build(),
        );
        // No queue: a row group is handed over when the appender is done with the last, so at
        // most two are held (one appended, one encoded), whatever the disk's speed.
        let (to_appender, from_writer) = sync_channel(0);
        let appender = std::thread::Builder::new()
            .name("trendflex-parquet".into())
            .spawn(move || append(file, from_writer))?;
        Ok(ParquetWriter {
            schema,
            factory,
            row_groups: 0,
            row_group_rows,
            floats,
            float_props,
            open: None,
            to_appender: Some(to_appender),
            appender: Some(appender),
            released: false,
        })
    }

    /// Encodes `batch` into the open row group, closing it once it has `row_group_rows` rows.
    /// `extremes`: those of some Float64 columns' valid values, by column (see
    /// [`crate::Writer::write_with`]). `release`: the output may be let through now.
    pub fn write(
        &mut self,
        batch: &RecordBatch,
        extremes: &[Option<Extremes>],
        release: bool,
    ) -> Result<(), Error> {
        let (mut writers, rows) = match self.open.take() {
            Some(open) => open,
            None => (self.open_columns(batch)?, 0),
        };
        let fields = self.schema.fields();
        writers
            .par_iter_mut()
            .zip(batch.columns().par_iter())
            .zip(fields.par_iter())
            .enumerate()
            .try_for_each(|(c, ((writer, array), field))| match writer {
                Column::Floats(floats) => floats.write(array, extremes.get(c).copied().flatten()),
                Column::Arrow(writer) => write_array(writer, field, array),
            })?;
        let rows = rows + batch.num_rows();
        if rows >= self.row_group_rows {
            self.close_row_group(writers)?;
        } else {
            self.open = Some((writers, rows));
        }
        // Once: every message waits its turn behind a row group being appended, and a write that
        // sent one per batch waited for the disk.
        if release && !self.released {
            self.send(Message::Open)?;
            self.released = true;
        }
        Ok(())
    }

    /// The columns of a new row group, whose first batch is `batch`: a Float64 column with its
    /// nulls in a few long runs goes through `Floats`; one with many short runs (an interleaved
    /// grid) through the Arrow layer, whose bit-by-bit levels cost less there.
    fn open_columns(&self, batch: &RecordBatch) -> Result<Vec<Column>, Error> {
        let arrow = self.factory.create_column_writers(self.row_groups)?;
        arrow
            .into_iter()
            .zip(&self.floats)
            .zip(batch.columns())
            .map(|((writer, floats), array)| match floats {
                Some(leaf) if long_runs(array).is_some() => {
                    Floats::new(leaf.clone(), self.float_props.clone()).map(Column::Floats)
                }
                _ => Ok(Column::Arrow(Box::new(writer))),
            })
            .collect()
    }

    fn close_row_group(&mut self, writers: Vec<Column>) -> Result<(), Error> {
        let chunks = writers
            .into_par_iter()
            .map(Column::close)
            .collect::<Result<Vec<_>, _>>()?;
        self.row_groups += 1;
        self.send(Message::RowGroup(chunks))
    }

    /// Writes the footer with `key_value` metadata; returns rows and bytes written.
    pub fn finish(mut self, key_value: Vec<(String, String)>) -> Result<(u64, u64), Error> {
        if let Some((writers, _)) = self.open.take() {
            self.close_row_group(writers)?;
        }
        let kv = key_value
            .into_iter()
            .map(|(k, v)| KeyValue::new(k, v))
            .collect();
        self.send(Message::Finish(kv))?;
        self.to_appender = None;
        self.join()
    }

    fn send(&mut self, message: Message) -> Result<(), Error> {
        let sent = match &self.to_appender {
            Some(tx) => tx.send(message).is_ok(),
            None => false,
        };
        if sent {
            return Ok(());
        }
        // The appender stopped: it failed, and its error is the one to report.
        self.to_appender = None;
        match self.join() {
            Err(e) => Err(e),
            Ok(_) => Err(Error::Parquet("the file writer stopped early".into())),
        }
    }

    fn join(&mut self) -> Appended {
        match self.appender.take() {
            Some(handle) => handle.join().unwrap_or_else(|p| {
                Err(Error::Parquet(crate::error::panicked("the file writer", p)))
            }),
            None => Err(Error::Parquet("the file writer already finished".into())),
        }
    }
}

fn write_array(
    writer: &mut ArrowColumnWriter,
    field: &Field,
    array: &ArrayRef,
) -> Result<(), Error> {
    for leaf in compute_leaves(field, array)? {
        writer.write(&leaf)?;
    }
    Ok(())
}

/// A run must average this many rows for a column's runs to be written one by one; below, the
/// valid values are gathered into one slice first.
const RUN_ROWS: usize = 256;

/// The valid runs of `array`'s rows, if its nulls come in a few long runs (or there are none);
/// `None` if they are too many.
fn long_runs(array: &ArrayRef) -> Option<Vec<(usize, usize)>> {
    let Some(nulls) = array.logical_nulls() else {
        return Some(vec![(0, array.len())]);
    };
    let most = (array.len() / (2 * RUN_ROWS)).max(1);
    let runs: Vec<(usize, usize)> = nulls.valid_slices().take(most + 1).collect();
    (runs.len() <= most).then_some(runs)
}

/// Definition levels handed to the column writer: a value (1) or a null (0), in runs of at
/// most `LEVELS`.
const LEVELS: usize = 8192;
static VALUE: [i16; LEVELS] = [1; LEVELS];
static NULL: [i16; LEVELS] = [0; LEVELS];

/// A row group's column, written through the Arrow layer or, for Float64, straight to the
/// typed column writer.
enum Column {
    Arrow(Box<ArrowColumnWriter>),
    Floats(Box<Floats>),
}

/// A closed column chunk, ready to append.
enum Chunk {
    Arrow(ArrowColumnChunk),
    Floats(Parts, ColumnCloseResult),
}

impl Column {
    fn close(self) -> Result<Chunk, Error> {
        match self {
            Column::Arrow(writer) => Ok(Chunk::Arrow(writer.close()?)),
            Column::Floats(floats) => floats.close(),
        }
    }
}

/// A Float64 column chunk: the typed column writer (statistics off), its pages kept in memory
/// until the row group is appended, and the chunk's statistics.
struct Floats {
    writer: ColumnWriterImpl<'static, DoubleType>,
    pages: Arc<Mutex<PageList>>,
    /// The leaf has definition levels (a nullable column).
    levels: bool,
    extremes: Extremes,
    nulls: u64,
}

impl Floats {
    fn new(leaf: ColumnDescPtr, props: WriterPropertiesPtr) -> Result<Box<Self>, Error> {
        let pages = Arc::new(Mutex::new(PageList::default()));
        let levels = leaf.max_def_level() > 0;
        let page_writer = Box::new(Pages(pages.clone()));
        match get_column_writer(leaf, props, page_writer) {
            ColumnWriter::DoubleColumnWriter(writer) => Ok(Box::new(Floats {
                writer,
                pages,
                levels,
                extremes: Extremes::new(),
                nulls: 0,
            })),
            _ => Err(Error::Parquet(
                "a Float64 column without a DOUBLE column writer".into(),
            )),
        }
    }

    /// Appends `array`'s rows: each run of values as a slice of the array, each run of nulls
    /// as levels only; a column of many short runs (an interleaved grid) gathered first.
    /// `given`: the extremes of its valid values, if known; else they are read here.
    fn write(&mut self, array: &ArrayRef, given: Option<Extremes>) -> Result<(), Error> {
        if let Some(given) = given {
            self.extremes.merge(&given);
        }
        let scan = given.is_none();
        let Some(floats) = array.as_primitive_opt::<Float64Type>() else {
            return Err(Error::Parquet(format!(
                "a Float64 column holds {}",
                array.data_type()
            )));
        };
        let values = floats.values();
        let nulls = match floats.logical_nulls() {
            Some(nulls) if nulls.null_count() > 0 => nulls,
            _ => return self.values(values, scan),
        };
        if !self.levels {
            return Err(Error::Parquet(
                "nulls in a column that cannot hold them".into(),
            ));
        }
        let Some(runs) = long_runs(array) else {
            return GATHERED.with(|g| {
                let mut g = g.borrow_mut();
                let (kept, levels) = &mut *g;
                kept.clear();
                levels.clear();
                for (start, end) in nulls.valid_slices() {
                    levels.resize(start, 0);
                    levels.resize(end, 1);
                    kept.extend_from_slice(&values[start..end]);
                }
                levels.resize(values.len(), 0);
                self.writer.write_batch(kept, Some(levels), None)?;
                if scan {
                    self.extremes.add(kept);
                }
                self.nulls += (values.len() - kept.len()) as u64;
                Ok(())
            });
        };
        let mut at = 0;
        for (start, end) in runs {
            self.nulls(start - at)?;
            self.values(&values[start..end], scan)?;
            at = end;
        }
        self.nulls(values.len() - at)
    }

    /// Appends `values`, read for the chunk's extremes if `scan`.
    fn values(&mut self, values: &[f64], scan: bool) -> Result<(), Error> {
        if scan {
            self.extremes.add(values);
        }
        for piece in values.chunks(LEVELS) {
            let levels = self.levels.then(|| &VALUE[..piece.len()]);
            self.writer.write_batch(piece, levels, None)?;
        }
        Ok(())
    }

    fn nulls(&mut self, mut n: usize) -> Result<(), Error> {
        self.nulls += n as u64;
        while n > 0 {
            let k = n.min(LEVELS);
            self.writer.write_batch(&[], Some(&NULL[..k]), None)?;
            n -= k;
        }
        Ok(())
    }

    fn close(self: Box<Self>) -> Result<Chunk, Error> {
        let Floats {
            writer,
            pages,
            extremes,
            nulls,
            ..
        } = *self;
        let mut close = writer.close()?;
        close.metadata = with_statistics(close.metadata, &extremes, nulls)?;
        // The column writer, and with it the page writer's handle, is gone: the pages are ours.
        let pages = match Arc::try_unwrap(pages) {
            Ok(pages) => pages.into_inner().unwrap_or_else(PoisonError::into_inner),
            Err(shared) => {
                std::mem::take(&mut *shared.lock().unwrap_or_else(PoisonError::into_inner))
            }
        };
        Ok(Chunk::Floats(
            Parts {
                parts: Mutex::new(pages.parts.into()),
                len: pages.len,
            },
            close,
        ))
    }
}

/// `chunk` with the statistics arrow-rs writes for a DOUBLE column chunk at
/// `EnabledStatistics::Chunk`: min, max, nulls and NaN count, and the definition level histogram
/// of a nullable column. `nulls` of the chunk's levels (its `num_values`) are nulls.
fn with_statistics(
    chunk: ColumnChunkMetaData,
    extremes: &Extremes,
    nulls: u64,
) -> Result<ColumnChunkMetaData, Error> {
    let descr = chunk.column_descr_ptr();
    let values = chunk.num_values() as u64 - nulls;
    let (min, max) = extremes.range().unzip();
    let statistics = ValueStatistics::new(min, max, None, Some(nulls), false)
        .with_nan_count(extremes.nans())
        .with_backwards_compatible_min_max(descr.sort_order().is_signed());
    let defined = descr.max_def_level();
    let levels = LevelHistogram::try_new(defined).map(|mut h| {
        h.increment_by(0, nulls as i64);
        h.increment_by(defined, values as i64);
        h
    });
    Ok(chunk
        .into_builder()
        .set_statistics(Statistics::Double(statistics))
        .set_definition_level_histogram(levels)
        .build()?)
}

thread_local! {
    /// A column's valid values and its definition levels, gathered (reused by each worker).
    static GATHERED: std::cell::RefCell<(Vec<f64>, Vec<i16>)> = Default::default();
}

/// The pages of one column chunk as the column writer closes them: each page's header, and its
/// compressed buffer itself (shared, not copied).
#[derive(Default)]
struct PageList {
    parts: Vec<Bytes>,
    len: u64,
}

struct Pages(Arc<Mutex<PageList>>);

impl PageWriter for Pages {
    fn write_page(&mut self, page: CompressedPage) -> parquet::errors::Result<PageWriteSpec> {
        let mut list = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let mut split = Split {
            data: page.compressed_page().buffer().clone(),
            parts: Vec::with_capacity(2),
            small: Vec::new(),
        };
        let mut sink = TrackedWrite::new(&mut split);
        let mut spec = SerializedPageWriter::new(&mut sink).write_page(page)?;
        sink.flush()?;
        drop(sink);
        split.end();
        // Offsets within the chunk: this page starts where the last one ended.
        spec.offset += list.len;
        list.len += split.parts.iter().map(|p| p.len() as u64).sum::<u64>();
        list.parts.append(&mut split.parts);
        Ok(spec)
    }

    fn close(&mut self) -> parquet::errors::Result<()> {
        Ok(())
    }
}

/// What the page serializer writes, kept as parts: the page's own buffer, when it comes in one
/// write, is kept by reference; everything else (the header) is copied.
struct Split {
    data: Bytes,
    parts: Vec<Bytes>,
    small: Vec<u8>,
}

impl Split {
    fn end(&mut self) {
        if !self.small.is_empty() {
            self.parts
                .push(Bytes::from(std::mem::take(&mut self.small)));
        }
    }
}

impl Write for Split {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if !buf.is_empty() && std::ptr::eq(buf, &self.data[..]) {
            self.end();
            self.parts.push(self.data.clone());
        } else {
            self.small.extend_from_slice(buf);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A closed column chunk's parts, read once as the row group appends it.
struct Parts {
    parts: Mutex<std::collections::VecDeque<Bytes>>,
    len: u64,
}

impl Length for Parts {
    fn len(&self) -> u64 {
        self.len
    }
}

/// Reads the parts in order.
struct PartsReader(std::collections::VecDeque<Bytes>);

impl std::io::Read for PartsReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while let Some(front) = self.0.front_mut() {
            if front.is_empty() {
                self.0.pop_front();
                continue;
            }
            let n = buf.len().min(front.len());
            buf[..n].copy_from_slice(&front[..n]);
            bytes::Buf::advance(front, n);
            return Ok(n);
        }
        Ok(0)
    }
}

impl ChunkReader for Parts {
    type T = PartsReader;

    fn get_read(&self, start: u64) -> parquet::errors::Result<PartsReader> {
        let mut parts =
            std::mem::take(&mut *self.parts.lock().unwrap_or_else(PoisonError::into_inner));
        let mut skip = start;
        while skip > 0 {
            let Some(front) = parts.front_mut() else {
                break;
            };
            let n = skip.min(front.len() as u64);
            bytes::Buf::advance(front, n as usize);
            skip -= n;
            if front.is_empty() {
                parts.pop_front();
            }
        }
        Ok(PartsReader(parts))
    }

    fn get_bytes(&self, start: u64, length: usize) -> parquet::errors::Result<Bytes> {
        let mut out = Vec::with_capacity(length);
        std::io::Read::read_to_end(
            &mut std::io::Read::take(self.get_read(start)?, length as u64),
            &mut out,
        )?;
        Ok(Bytes::from(out))
    }
}

impl Drop for ParquetWriter {
    fn drop(&mut self) {
        // Abandoned (an error elsewhere): let the appender drain and stop; the caller discards
        // the output.
        self.to_appender = None;
        if let Some(handle) = self.appender.take() {
            let _ = handle.join();
        }
    }
}

fn append(mut file: SerializedFileWriter<Sink>, messages: Receiver<Message>) -> Appended {
    let mut rows = 0u64;
    for message in messages {
        match message {
            Message::RowGroup(chunks) => {
                let mut group = file.next_row_group()?;
                for chunk in chunks {
                    match chunk {
                        Chunk::Arrow(chunk) => chunk.append_to_row_group(&mut group)?,
                        Chunk::Floats(pages, close) => group.append_column(&pages, close)?,
                    }
                }
                rows += group.close()?.num_rows() as u64;
            }
            Message::Open => sink::open(file.inner_mut())?,
            Message::Finish(kv) => {
                for entry in kv {
                    file.append_key_value_metadata(entry);
                }
                // The footer (and what little is still buffered before it) is caught on its way
                // out, its float column orders rewritten, then let through.
                file.inner_mut().capture();
                let mut out = file.into_inner()?;
                let mut tail = out.take_captured();
                footer::use_type_defined_float_order(&mut tail);
                out.write_all(&tail)?;
                return Ok((rows, sink::close(out)?));
            }
        }
    }
    // The writer was dropped without finishing: nothing more to do.
    Ok((rows, 0))
}

/// Rows recorded in the footer of the Parquet file `file`.
pub fn footer_rows(file: &std::fs::File) -> Result<u64, Error> {
    let metadata = parquet::file::metadata::ParquetMetaDataReader::new().parse_and_finish(file)?;
    Ok(metadata.file_metadata().num_rows() as u64)
}
