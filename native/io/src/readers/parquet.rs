//! Parquet in, with the arrow-rs `parquet` crate: only the columns needed, row group by row
//! group (memory is bounded by one row group of those columns, whatever the file's size).

use std::fs::File;

use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use super::batches::{BatchSource, Columns};
use super::{Error, SourceOptions};

/// Opens a Parquet file; `chunk_rows`: rows per chunk handed out. Also returns its row count.
pub fn open(file: File, o: &SourceOptions, chunk_rows: usize) -> Result<(BatchSource, u64), Error> {
    let unreadable = |e: parquet::errors::ParquetError| {
        Error::Input(format!("not a readable Parquet file ({e})"))
    };
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(unreadable)?;
    let columns = Columns::plan(builder.schema(), o)?;
    let total_rows = builder.metadata().file_metadata().num_rows().max(0) as u64;
    let mask = ProjectionMask::roots(builder.parquet_schema(), columns.wanted.iter().copied());
    let batches = builder
        .with_projection(mask)
        .with_batch_size(chunk_rows.max(1))
        .build()
        .map_err(unreadable)?;
    Ok((
        BatchSource::new(Box::new(batches), columns, false),
        total_rows,
    ))
}
