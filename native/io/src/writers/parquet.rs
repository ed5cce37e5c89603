//! Parquet output with the arrow-rs `parquet` crate: batches are encoded into the open row group
//! as they come, its columns in parallel on rayon's pool; a full row group is appended to the file
//! by a thread of its own while the next one is encoded. Row groups span several batches because
//! the footer keeps about 1.3 KB per column chunk in memory until the end: with a row group per
//! 13,824-row batch, 5M rows x 228 columns grew the writer by 107 MB.

use std::io::Write;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

use arrow_array::cast::AsArray;
use arrow_array::types::Float64Type;
use arrow_array::{Array, ArrayRef, Float64Array, RecordBatch};
use arrow_schema::{DataType, Field, SchemaRef};
use parquet::arrow::arrow_writer::{
    ArrowColumnChunk, ArrowColumnWriter, ArrowRowGroupWriterFactory, ArrowWriter,
    ArrowWriterOptions, compute_leaves,
};
use parquet::basic::{Compression as Codec, Encoding, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::ColumnPath;
use rayon::prelude::*;

use super::footer;
use crate::sink::{self, Sink};
use crate::{Compression, Error, FloatEncoding};

enum Message {
    RowGroup(Vec<ArrowColumnChunk>),
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
    /// The row group being filled, and its rows so far.
    open: Option<(Vec<ArrowColumnWriter>, usize)>,
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
            open: None,
            to_appender: Some(to_appender),
            appender: Some(appender),
            released: false,
        })
    }

    /// Encodes `batch` into the open row group, closing it once it has `row_group_rows` rows.
    /// `release`: the output may be let through now.
    pub fn write(&mut self, batch: &RecordBatch, release: bool) -> Result<(), Error> {
        let (mut writers, rows) = match self.open.take() {
            Some(open) => open,
            None => (self.factory.create_column_writers(self.row_groups)?, 0),
        };
        let fields = self.schema.fields();
        writers
            .par_iter_mut()
            .zip(batch.columns().par_iter())
            .zip(fields.par_iter())
            .try_for_each(|((writer, array), field)| match runs(array) {
                Some(pieces) => pieces
                    .iter()
                    .try_for_each(|piece| write_array(writer, field, piece)),
                None => write_array(writer, field, array),
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

    fn close_row_group(&mut self, writers: Vec<ArrowColumnWriter>) -> Result<(), Error> {
        let chunks = writers
            .into_par_iter()
            .map(ArrowColumnWriter::close)
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

/// A run must average this many rows for a column to be written run by run.
const RUN_ROWS: usize = 256;

/// A Float64 column with nulls in a few long runs (a grouped grid: each group's warm-up), as
/// pieces with no nulls and pieces of nulls only. arrow-rs writes a column with some nulls bit by
/// bit (its definition levels, then the indices of its values, one at a time: about 15% of a
/// grouped grid's samples), but a piece with none or only nulls as one run. The file's values,
/// nulls and statistics are the same. `None`: write the column whole.
fn runs(array: &ArrayRef) -> Option<Vec<ArrayRef>> {
    let nulls = array.logical_nulls()?;
    if nulls.null_count() == 0 || nulls.null_count() == nulls.len() {
        return None;
    }
    let floats = array.as_primitive_opt::<Float64Type>()?;
    // Given up on at the first run too many (an interleaved grid has thousands).
    let most = array.len() / (2 * RUN_ROWS);
    let mut valid = Vec::new();
    for run in nulls.valid_slices() {
        if valid.len() == most {
            return None;
        }
        valid.push(run);
    }
    let mut pieces = Vec::with_capacity(valid.len() * 2 + 1);
    let mut at = 0;
    for (start, end) in valid {
        if start > at {
            pieces.push(array.slice(at, start - at));
        }
        let values = floats.values().slice(start, end - start);
        pieces.push(Arc::new(Float64Array::new(values, None)) as ArrayRef);
        at = end;
    }
    if at < array.len() {
        pieces.push(array.slice(at, array.len() - at));
    }
    Some(pieces)
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
                    chunk.append_to_row_group(&mut group)?;
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
