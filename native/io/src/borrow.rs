//! Arrow arrays over memory the caller owns (JavaScript typed arrays, a kernel's output buffer),
//! so results reach the encoders without a copy. A [`Loan`] hands out the buffers and, when it
//! ends, proves that none of them is still referenced.

use std::ptr::NonNull;
use std::sync::Arc;

use arrow_array::{ArrayRef, RecordBatch, make_array};
use arrow_buffer::{BooleanBuffer, Buffer, NullBuffer};
use arrow_data::ArrayDataBuilder;
use arrow_schema::{DataType, SchemaRef};

use crate::Error;

/// The owner every borrowed buffer points back to; it frees nothing.
#[derive(Debug)]
struct Lender;

/// A scope in which arrays may point into borrowed memory.
///
/// Dropping the loan checks that every buffer it handed out has been dropped too; if one is
/// still alive (an array kept past the write that borrowed it) the process aborts, because that
/// array would soon point at memory its owner is free to reuse.
#[derive(Debug)]
pub struct Loan {
    lender: Arc<Lender>,
}

impl Default for Loan {
    fn default() -> Self {
        Self::new()
    }
}

impl Loan {
    pub fn new() -> Self {
        Loan {
            lender: Arc::new(Lender),
        }
    }

    /// An Arrow buffer over `bytes`, without copying.
    ///
    /// # Safety
    /// `bytes` must stay valid and unmodified until this loan is dropped. (The loan guarantees
    /// the other half: no buffer it made outlives it.)
    pub unsafe fn buffer(&self, bytes: &[u8]) -> Buffer {
        let ptr = NonNull::new(bytes.as_ptr().cast_mut()).unwrap_or(NonNull::dangling());
        // SAFETY: `ptr` is valid for `bytes.len()` bytes for as long as the loan lives (the
        // caller's promise), and `Drop for Loan` aborts if this buffer outlives the loan.
        unsafe { Buffer::from_custom_allocation(ptr, bytes.len(), self.lender.clone()) }
    }
}

impl Drop for Loan {
    fn drop(&mut self) {
        if Arc::strong_count(&self.lender) != 1 {
            eprintln!(
                "trendflex: internal error: an Arrow buffer outlived the memory it borrows; aborting"
            );
            std::process::abort();
        }
    }
}

/// One column as raw Arrow buffers, in the layout of the schema field it is for.
#[derive(Debug, Clone, Copy, Default)]
pub struct ColumnBytes<'a> {
    /// Fixed-width values (`rows * width` bytes), or the bytes of a string column.
    pub values: &'a [u8],
    /// Validity bitmap (bit `offset + i`, least significant first, 1 = present); `None` when
    /// every row has a value.
    pub validity: Option<&'a [u8]>,
    /// Bit position of row 0 in `validity`.
    pub validity_offset: usize,
    /// Boolean columns: bit position of row 0 in `values`.
    pub values_offset: usize,
    /// String columns: `rows + 1` little-endian `i32` offsets into `values`.
    pub offsets: Option<&'a [u8]>,
}

/// A record batch of `rows` rows over borrowed buffers. Every buffer is checked against the
/// schema (lengths, alignment, offsets, UTF-8) before any encoder sees it.
///
/// # Safety
/// Every slice in `columns` must stay valid and unmodified until `loan` is dropped.
pub unsafe fn borrowed_batch(
    loan: &Loan,
    schema: &SchemaRef,
    columns: &[ColumnBytes<'_>],
    rows: usize,
) -> Result<RecordBatch, Error> {
    if columns.len() != schema.fields().len() {
        return Err(Error::Schema(format!(
            "{} columns given for a schema of {}",
            columns.len(),
            schema.fields().len()
        )));
    }
    let arrays = schema
        .fields()
        .iter()
        .zip(columns)
        .map(|(field, c)| {
            // SAFETY: forwarded from this function's contract.
            unsafe { borrowed_array(loan, field.name(), field.data_type(), c, rows) }
        })
        .collect::<Result<Vec<_>, _>>()?;
    RecordBatch::try_new(schema.clone(), arrays).map_err(Error::from)
}

/// # Safety
/// As [`borrowed_batch`].
unsafe fn borrowed_array(
    loan: &Loan,
    name: &str,
    data_type: &DataType,
    c: &ColumnBytes<'_>,
    rows: usize,
) -> Result<ArrayRef, Error> {
    let nulls = match c.validity {
        None => None,
        Some(bits) => {
            if bits.len() * 8 < c.validity_offset + rows {
                return Err(Error::Schema(format!(
                    "column {name}: validity bitmap of {} bytes is too short for {rows} rows",
                    bits.len()
                )));
            }
            // SAFETY: forwarded from this function's contract.
            let buffer = unsafe { loan.buffer(bits) };
            Some(NullBuffer::new(BooleanBuffer::new(
                buffer,
                c.validity_offset,
                rows,
            )))
        }
    };
    // SAFETY: forwarded from this function's contract.
    let values = unsafe { loan.buffer(c.values) };
    let mut builder = ArrayDataBuilder::new(data_type.clone())
        .len(rows)
        .nulls(nulls);
    builder = match (data_type, c.offsets) {
        (DataType::Utf8 | DataType::Binary, Some(offsets)) => {
            // SAFETY: forwarded from this function's contract.
            builder
                .add_buffer(unsafe { loan.buffer(offsets) })
                .add_buffer(values)
        }
        (DataType::Utf8 | DataType::Binary, None) => {
            return Err(Error::Schema(format!(
                "column {name}: text without offsets"
            )));
        }
        (DataType::Boolean, _) => builder.offset(c.values_offset).add_buffer(values),
        _ => builder.add_buffer(values),
    };
    // `build` validates lengths, alignment, offsets and UTF-8: bad input is an error, never UB.
    let data = builder
        .build()
        .map_err(|e| Error::Schema(format!("column {name} ({data_type}): {e}")))?;
    Ok(make_array(data))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{Array, BooleanArray, Float64Array, Int64Array, StringArray};
    use arrow_schema::{Field, Schema};

    fn bytes_of<T>(v: &[T]) -> &[u8] {
        // SAFETY: viewing initialised plain values as bytes.
        unsafe { std::slice::from_raw_parts(v.as_ptr().cast(), std::mem::size_of_val(v)) }
    }

    #[test]
    fn builds_arrays_over_the_callers_memory() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("f", DataType::Float64, true),
            Field::new("i", DataType::Int64, true),
            Field::new("s", DataType::Utf8, true),
        ]));
        let f = [1.5, f64::NAN, 3.0];
        let i = [7i64, 8, 9];
        let offsets = [0i32, 1, 1, 4];
        let validity = [0b0000_1010u8]; // rows start at bit 1: present, absent, present
        let loan = Loan::new();
        // SAFETY: every slice lives until the end of the test, after the loan.
        let batch = unsafe {
            borrowed_batch(
                &loan,
                &schema,
                &[
                    ColumnBytes {
                        values: bytes_of(&f),
                        validity: Some(&validity),
                        validity_offset: 1,
                        ..Default::default()
                    },
                    ColumnBytes {
                        values: bytes_of(&i),
                        ..Default::default()
                    },
                    ColumnBytes {
                        values: b"abcd",
                        offsets: Some(bytes_of(&offsets)),
                        ..Default::default()
                    },
                ],
                3,
            )
        }
        .unwrap();
        let fa = batch
            .column(0)
            .as_any()
            .downcast_ref::<Float64Array>()
            .unwrap();
        assert_eq!(fa.values().as_ptr(), f.as_ptr(), "no copy");
        assert!(fa.is_valid(0) && fa.is_null(1) && fa.is_valid(2));
        let ia = batch
            .column(1)
            .as_any()
            .downcast_ref::<Int64Array>()
            .unwrap();
        assert_eq!(ia.values(), &[7, 8, 9]);
        let sa = batch
            .column(2)
            .as_any()
            .downcast_ref::<StringArray>()
            .unwrap();
        assert_eq!((sa.value(0), sa.value(1), sa.value(2)), ("a", "", "bcd"));
        drop(batch);
    }

    #[test]
    fn booleans_keep_their_bit_offset() {
        let schema = Arc::new(Schema::new(vec![Field::new("b", DataType::Boolean, true)]));
        let bits = [0b0000_0110u8];
        let loan = Loan::new();
        // SAFETY: `bits` outlives the loan.
        let batch = unsafe {
            borrowed_batch(
                &loan,
                &schema,
                &[ColumnBytes {
                    values: &bits,
                    values_offset: 1,
                    ..Default::default()
                }],
                3,
            )
        }
        .unwrap();
        let b = batch
            .column(0)
            .as_any()
            .downcast_ref::<BooleanArray>()
            .unwrap();
        assert_eq!(
            b.iter().collect::<Vec<_>>(),
            [Some(true), Some(true), Some(false)]
        );
    }

    #[test]
    fn refuses_buffers_that_do_not_fit() {
        let schema = Arc::new(Schema::new(vec![Field::new("f", DataType::Float64, true)]));
        let f = [1.0, 2.0];
        let loan = Loan::new();
        // SAFETY: as above.
        let e = unsafe {
            borrowed_batch(
                &loan,
                &schema,
                &[ColumnBytes {
                    values: bytes_of(&f),
                    ..Default::default()
                }],
                3,
            )
        }
        .unwrap_err();
        assert!(e.to_string().contains("column f"), "{e}");
        let bad_utf8 = Arc::new(Schema::new(vec![Field::new("s", DataType::Utf8, true)]));
        let offsets = [0i32, 2];
        // SAFETY: as above.
        let e = unsafe {
            borrowed_batch(
                &loan,
                &bad_utf8,
                &[ColumnBytes {
                    values: b"\xff\xfe",
                    offsets: Some(bytes_of(&offsets)),
                    ..Default::default()
                }],
                1,
            )
        }
        .unwrap_err();
        assert!(e.to_string().contains("column s"), "{e}");
    }
}
