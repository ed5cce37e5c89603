//! Arrow IPC stream output (`-f arrow`): the record batches as they are, nulls included, in the
//! streaming format that `pyarrow.ipc.open_stream` and `polars.read_ipc_stream` read from a pipe.

use arrow_array::RecordBatch;
use arrow_ipc::writer::StreamWriter;
use arrow_schema::SchemaRef;

use crate::Error;
use crate::sink::{self, Sink};

pub struct ArrowWriter {
    out: StreamWriter<Sink>,
    rows: u64,
    /// Every batch goes out to the descriptor at once (a live feed).
    flush: bool,
}

impl ArrowWriter {
    /// Writes the schema message (with its metadata) at once.
    pub fn new(schema: SchemaRef, out: Sink, flush: bool) -> Result<Self, Error> {
        Ok(ArrowWriter {
            out: StreamWriter::try_new(out, &schema)?,
            rows: 0,
            flush,
        })
    }

    pub fn write(&mut self, batch: &RecordBatch, release: bool) -> Result<(), Error> {
        self.out.write(batch)?;
        self.rows += batch.num_rows() as u64;
        if release {
            sink::open(self.out.get_mut())?;
        }
        if self.flush {
            self.out.flush()?;
        }
        Ok(())
    }

    /// Writes the end-of-stream marker; returns rows and bytes written.
    pub fn finish(mut self) -> Result<(u64, u64), Error> {
        self.out.finish()?;
        let bytes = sink::close(self.out.into_inner()?)?;
        Ok((self.rows, bytes))
    }
}

/// Rows in the Arrow IPC stream `bytes` reads, counted from the message headers (bodies are
/// skipped, not read).
pub fn stream_rows(mut file: impl std::io::Read + std::io::Seek) -> Result<u64, Error> {
    use std::io::SeekFrom;
    let bad = |what: &str| Error::Verify(format!("not an Arrow IPC stream: {what}"));
    let mut rows = 0u64;
    let mut word = [0u8; 4];
    loop {
        file.read_exact(&mut word)
            .map_err(|_| bad("it ends without its end marker"))?;
        let mut len = i32::from_le_bytes(word);
        if len == -1 {
            file.read_exact(&mut word)
                .map_err(|_| bad("a truncated message length"))?;
            len = i32::from_le_bytes(word);
        }
        if len == 0 {
            return Ok(rows);
        }
        if len < 0 {
            return Err(bad("a negative message length"));
        }
        let mut meta = vec![0u8; len as usize];
        file.read_exact(&mut meta)
            .map_err(|_| bad("a truncated message"))?;
        let message = arrow_ipc::root_as_message(&meta).map_err(|e| bad(&e.to_string()))?;
        if let Some(batch) = message.header_as_record_batch() {
            rows += batch.length() as u64;
        }
        file.seek(SeekFrom::Current(message.bodyLength()))?;
    }
}
