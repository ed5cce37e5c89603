//! Delimited text in, through trendflex-csv: bytes are read in large pieces (decompressed on the
//! way) and fed to the parser until a chunk's rows are ready.

use std::io::Read;
use std::sync::Arc;

use arrow_array::{ArrayRef, Float64Array, Int64Array, StringArray};
use arrow_buffer::{BooleanBuffer, Buffer, NullBuffer, OffsetBuffer, ScalarBuffer};
use trendflex_csv::{CsvReader, KeepColumn, KeepValues, LineNumbers, Options, Taken};

use super::{Chunk, Error, SourceOptions};

/// Bytes read from the input per piece.
const PIECE: usize = 4 << 20;

pub struct CsvSource {
    input: Box<dyn Read + Send>,
    reader: CsvReader,
    pub lines: LineNumbers,
    /// A live feed: hand out rows as soon as they are complete.
    follow: bool,
    /// Reading was stopped by a signal: what is ready is handed out, then nothing.
    cancelled: bool,
}

impl CsvSource {
    /// Reads until the header is known (or the input fails or ends).
    pub fn open(
        input: Box<dyn Read + Send>,
        delimiter: u8,
        o: &SourceOptions,
    ) -> Result<Self, Error> {
        let options = Options {
            delimiter,
            header: o.header,
            price: o.price.clone(),
            keep: o.keep.clone(),
            keep_as_text: o.keep_as_text,
            // A live feed cannot wait for 100,000 rows to type its keep columns.
            sample_rows: if o.follow {
                1
            } else {
                Options::default().sample_rows
            },
            // Nor keep rows in flight while it waits for the next line.
            overlap: !o.follow,
            ..Options::default()
        };
        let mut s = CsvSource {
            input,
            reader: CsvReader::new(options),
            lines: LineNumbers::default(),
            follow: o.follow,
            cancelled: false,
        };
        while s.reader.header().is_none() && !s.reader.done() && !s.cancelled {
            s.pump()?;
        }
        if let Some(e) = s.reader.error().filter(|_| s.reader.header().is_none()) {
            return Err(Error::Input(e.to_string()));
        }
        Ok(s)
    }

    pub fn column(&self) -> String {
        self.reader
            .header()
            .map(|h| h.names[h.price].clone())
            .unwrap_or_default()
    }

    pub fn keep(&self) -> Vec<String> {
        self.reader
            .header()
            .map(|h| h.keep.iter().map(|&i| h.names[i].clone()).collect())
            .unwrap_or_default()
    }

    fn pump(&mut self) -> Result<(), Error> {
        let n = loop {
            // Read straight into the parser's buffer: no copy between.
            match self.input.read(self.reader.space(PIECE)) {
                Ok(n) => break n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                // Stopped by a signal: the rows read stay takeable; a line half read is dropped.
                Err(e) if super::bytes::is_cancelled(&e) => {
                    self.cancelled = true;
                    self.reader.catch_up();
                    return Ok(());
                }
                Err(e) => return Err(read_error(e)),
            }
        };
        if n == 0 {
            self.reader.end();
        } else {
            self.reader.commit(n);
        }
        Ok(())
    }

    /// The next chunk of up to `prices.len()` rows (following a live feed: of the rows complete
    /// after the first read that completes one); their lines are left in `self.lines`.
    pub fn next(&mut self, prices: &mut [f64]) -> Result<Chunk, Error> {
        let want = if self.follow { 1 } else { prices.len() };
        while self.reader.ready() < want && !self.reader.done() && !self.cancelled {
            self.pump()?;
        }
        let Taken { rows, keep, lines } = self
            .reader
            .take(prices)
            .map_err(|e| Error::Input(e.to_string()))?;
        self.lines = lines;
        Ok(Chunk {
            rows,
            keep: keep.into_iter().map(keep_array).collect(),
            lines: LineNumbers::default(),
        })
    }
}

fn read_error(e: std::io::Error) -> Error {
    // flate2 and zstd report corrupt data as InvalidInput/InvalidData/Other with their message.
    match e.kind() {
        std::io::ErrorKind::InvalidInput
        | std::io::ErrorKind::InvalidData
        | std::io::ErrorKind::UnexpectedEof
        | std::io::ErrorKind::Other => {
            Error::Input(format!("the compressed data is corrupt or cut short ({e})"))
        }
        _ => Error::Io(e),
    }
}

fn keep_array(c: KeepColumn) -> ArrayRef {
    let rows = match &c.values {
        KeepValues::Int64(v) => v.len(),
        KeepValues::Float64(v) => v.len(),
        KeepValues::Text { offsets, .. } => offsets.len() - 1,
    };
    let nulls = (c.null_count > 0)
        .then(|| NullBuffer::new(BooleanBuffer::new(Buffer::from_vec(c.validity), 0, rows)));
    match c.values {
        KeepValues::Int64(v) => Arc::new(Int64Array::new(ScalarBuffer::from(v), nulls)),
        KeepValues::Float64(v) => Arc::new(Float64Array::new(ScalarBuffer::from(v), nulls)),
        KeepValues::Text { offsets, bytes } => {
            // `new` checks the offsets and the UTF-8 (which the reader checked when it read them).
            Arc::new(StringArray::new(
                OffsetBuffer::new(ScalarBuffer::from(offsets)),
                Buffer::from_vec(bytes),
                nulls,
            ))
        }
    }
}
