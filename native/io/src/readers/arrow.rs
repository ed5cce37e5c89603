//! Arrow IPC in: a stream (what `-f arrow` writes, what pyarrow and polars write to a pipe; it
//! starts with the continuation marker ff ff ff ff) or a file (it starts with ARROW1), so that
//! trendflex can sit in the middle of an Arrow pipeline. Batches are read one at a time.

use std::fs::File;
use std::io::{BufReader, Read};

use arrow_ipc::reader::{FileReader, StreamReader};

use super::batches::{BatchSource, Columns};
use super::{Error, SourceOptions};

/// The first bytes of an IPC stream (the continuation marker of its schema message).
pub const STREAM: &[u8] = &[0xff, 0xff, 0xff, 0xff];
/// The first bytes of an IPC file.
pub const FILE: &[u8] = b"ARRO";

fn unreadable(e: arrow_schema::ArrowError) -> Error {
    Error::Input(format!("not a readable Arrow IPC stream ({e})"))
}

/// An IPC stream from any reader.
pub fn open_stream(
    from: impl Read + Send + 'static,
    o: &SourceOptions,
) -> Result<BatchSource, Error> {
    let reader =
        StreamReader::try_new(BufReader::with_capacity(1 << 20, from), None).map_err(unreadable)?;
    let columns = Columns::plan(&reader.schema(), o)?;
    Ok(BatchSource::new(Box::new(reader), columns, true))
}

/// An IPC file (random access, but read front to back here like a stream).
pub fn open_file(file: File, o: &SourceOptions) -> Result<BatchSource, Error> {
    let reader = FileReader::try_new(BufReader::with_capacity(1 << 20, file), None)
        .map_err(|e| Error::Input(format!("not a readable Arrow IPC file ({e})")))?;
    let columns = Columns::plan(&reader.schema(), o)?;
    Ok(BatchSource::new(Box::new(reader), columns, true))
}
