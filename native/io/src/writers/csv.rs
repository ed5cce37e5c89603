//! CSV output: floats in the shortest form that reads back to the same f64 (`ryu`), always with
//! a decimal point or an exponent (`5.0`, `1e-7`) so that readers infer a float column; a missing
//! value is an empty field, and a one-column row with nothing in it is `""`, which no reader
//! skips as a blank line. Rows are formatted in parallel by blocks and written in order by a
//! thread of their own while the next chunk is formatted.

use std::io::Write as _;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type, UInt8Type, UInt16Type,
    UInt32Type, UInt64Type,
};
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_buffer::NullBuffer;
use arrow_cast::display::{ArrayFormatter, FormatOptions};
use arrow_schema::{DataType, SchemaRef};
use rayon::prelude::*;

use crate::Error;
use crate::sink::Sink;
use crate::spool::Spool;

/// Rows formatted per block: enough to amortise a task, small enough to spread over threads.
const BLOCK_ROWS: usize = 2048;

pub struct CsvWriter {
    out: Spool,
    delimiter: u8,
    columns: usize,
    rows: u64,
    /// Every batch goes out to the descriptor at once (a live feed).
    flush: bool,
}

impl CsvWriter {
    /// Writes the header line (held back like everything else while the sink's gate is shut).
    pub fn new(schema: SchemaRef, delimiter: u8, out: Sink, flush: bool) -> Result<Self, Error> {
        let mut header = Vec::new();
        for (i, field) in schema.fields().iter().enumerate() {
            if i > 0 {
                header.push(delimiter);
            }
            text_field(&mut header, field.name().as_bytes(), delimiter);
        }
        if schema.fields().len() == 1 && header.is_empty() {
            header.extend_from_slice(b"\"\"");
        }
        header.push(b'\n');
        let mut out = Spool::new(out)?;
        out.write(header)?;
        Ok(CsvWriter {
            out,
            delimiter,
            columns: schema.fields().len(),
            rows: 0,
            flush,
        })
    }

    /// Formats `batch` in parallel by blocks of rows and hands the blocks, in order, to the
    /// writing thread: this returns while they are still being written.
    pub fn write(&mut self, batch: &RecordBatch, release: bool) -> Result<(), Error> {
        let rows = batch.num_rows();
        let mut blocks: Vec<Vec<u8>> = (0..rows.div_ceil(BLOCK_ROWS))
            .map(|_| self.out.buffer())
            .collect();
        let (delimiter, lone) = (self.delimiter, self.columns == 1);
        let format = |(b, buf): (usize, &mut Vec<u8>)| {
            // Per block: a formatter of some types is not shareable between threads.
            let cells = batch
                .columns()
                .iter()
                .map(Column::new)
                .collect::<Result<Vec<_>, _>>()?;
            let start = b * BLOCK_ROWS;
            for row in start..(start + BLOCK_ROWS).min(rows) {
                let line = buf.len();
                for (c, column) in cells.iter().enumerate() {
                    if c > 0 {
                        buf.push(delimiter);
                    }
                    column.format(row, buf, delimiter);
                }
                if lone && buf.len() == line {
                    buf.extend_from_slice(b"\"\"");
                }
                buf.push(b'\n');
            }
            Ok::<_, Error>(())
        };
        if blocks.len() == 1 {
            // One block (a live feed's few rows): here, not through the pool, which would cost
            // a hand-off and its wake-up.
            format((0, &mut blocks[0]))?;
        } else {
            blocks.par_iter_mut().enumerate().try_for_each(format)?;
        }
        for buf in blocks {
            self.out.write(buf)?;
        }
        self.rows += rows as u64;
        if release {
            self.out.open()?;
        }
        if self.flush {
            self.out.flush()?;
        }
        Ok(())
    }

    /// Rows and bytes written.
    pub fn finish(self) -> Result<(u64, u64), Error> {
        let bytes = self.out.finish()?;
        Ok((self.rows, bytes))
    }
}

/// Prints an integer cell of any width.
type IntCell<'a> = Box<dyn Fn(usize, &mut Vec<u8>) + 'a>;

/// One column, ready to print any of its rows.
enum Column<'a> {
    F64(&'a [f64], Option<&'a NullBuffer>),
    F32(&'a arrow_array::Float32Array),
    Int(IntCell<'a>),
    Text(&'a arrow_array::StringArray),
    Other(ArrayFormatter<'a>, &'a ArrayRef),
}

/// Prints integers of any width through one path.
macro_rules! int_column {
    ($array:expr, $t:ty) => {{
        let a = $array.as_primitive::<$t>();
        Column::Int(Box::new(move |row, out: &mut Vec<u8>| {
            if a.is_valid(row) {
                out.extend_from_slice(itoa::Buffer::new().format(a.value(row)).as_bytes());
            }
        }))
    }};
}

impl<'a> Column<'a> {
    fn new(array: &'a ArrayRef) -> Result<Self, Error> {
        Ok(match array.data_type() {
            DataType::Float64 => {
                let a = array.as_primitive::<Float64Type>();
                Column::F64(a.values(), a.nulls())
            }
            DataType::Float32 => Column::F32(array.as_primitive::<Float32Type>()),
            DataType::Int64 => int_column!(array, Int64Type),
            DataType::Int32 => int_column!(array, Int32Type),
            DataType::Int16 => int_column!(array, Int16Type),
            DataType::Int8 => int_column!(array, Int8Type),
            DataType::UInt64 => int_column!(array, UInt64Type),
            DataType::UInt32 => int_column!(array, UInt32Type),
            DataType::UInt16 => int_column!(array, UInt16Type),
            DataType::UInt8 => int_column!(array, UInt8Type),
            DataType::Utf8 => Column::Text(array.as_string::<i32>()),
            _ => Column::Other(
                ArrayFormatter::try_new(array.as_ref(), &FormatOptions::default())?,
                array,
            ),
        })
    }

    /// Appends row `row`'s field.
    #[inline]
    fn format(&self, row: usize, out: &mut Vec<u8>, delimiter: u8) {
        match self {
            Column::F64(values, nulls) => {
                if nulls.is_none_or(|n| n.is_valid(row)) {
                    float(out, values[row]);
                }
            }
            Column::F32(a) => {
                if a.is_valid(row) {
                    float(out, a.value(row) as f64);
                }
            }
            Column::Int(f) => f(row, out),
            Column::Text(a) => {
                if a.is_valid(row) {
                    text_field(out, a.value(row).as_bytes(), delimiter);
                }
            }
            Column::Other(f, a) => {
                if a.is_null(row) {
                    return;
                }
                // Printed in place; moved into quotes in the rare case it needs them.
                let start = out.len();
                let _ = write!(out, "{}", f.value(row));
                if needs_quotes(&out[start..], delimiter) {
                    let text = out.split_off(start);
                    text_field(out, &text, delimiter);
                }
            }
        }
    }
}

/// The shortest text that reads back to `v`; `ryu` always gives it a decimal point (`5.0`) or an
/// exponent (`1e-7`). Printed straight into `out`: this runs once per value of a grid.
#[inline]
fn float(out: &mut Vec<u8>, v: f64) {
    if !v.is_finite() {
        out.extend_from_slice(ryu::Buffer::new().format(v).as_bytes());
        return;
    }
    out.reserve(24);
    let len = out.len();
    // SAFETY: `v` is finite, as `format64` requires, and `reserve` left at least the 24 bytes it
    // may write past `len`; `set_len` then covers exactly the bytes it wrote.
    unsafe {
        let n = ryu::raw::format64(v, out.as_mut_ptr().add(len));
        out.set_len(len + n);
    }
}

fn needs_quotes(text: &[u8], delimiter: u8) -> bool {
    text.iter()
        .any(|&b| b == delimiter || b == b'"' || b == b'\n' || b == b'\r')
        || text.first().is_some_and(u8::is_ascii_whitespace)
        || text.last().is_some_and(u8::is_ascii_whitespace)
}

/// A text field, quoted (RFC 4180) when it holds the delimiter, a quote or a line break, or
/// starts or ends with whitespace a reader might trim.
fn text_field(out: &mut Vec<u8>, text: &[u8], delimiter: u8) {
    if !needs_quotes(text, delimiter) {
        out.extend_from_slice(text);
        return;
    }
    out.push(b'"');
    for &b in text {
        if b == b'"' {
            out.push(b'"');
        }
        out.push(b);
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_always_read_back_as_floats_and_exactly() {
        for (v, text) in [
            (5.0, "5.0"),
            (-5.0, "-5.0"),
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (0.1, "0.1"),
            (1e-7, "1e-7"),
            (1e300, "1e300"),
            (-0.19724678008015128, "-0.19724678008015128"),
        ] {
            let mut out = Vec::new();
            float(&mut out, v);
            let s = String::from_utf8(out).unwrap();
            assert_eq!(s, text);
            assert_eq!(s.parse::<f64>().unwrap().to_bits(), v.to_bits());
        }
    }

    #[test]
    fn text_is_quoted_only_when_it_must_be() {
        let cases: [(&str, &str); 8] = [
            ("BTC", "BTC"),
            ("ETH, spot", "\"ETH, spot\""),
            ("say \"hi\"", "\"say \"\"hi\"\"\""),
            ("two\nlines", "\"two\nlines\""),
            (" padded", "\" padded\""),
            ("\t", "\"\t\""),
            ("tab\t", "\"tab\t\""),
            ("", ""),
        ];
        for (text, want) in cases {
            let mut out = Vec::new();
            text_field(&mut out, text.as_bytes(), b',');
            assert_eq!(String::from_utf8(out).unwrap(), want, "{text}");
        }
    }
}
