//! parquet-rs 60 declares every float column's statistics under the IEEE 754 total order that
//! Parquet added in 2025, and readers that predate it (pyarrow 26 among them) then ignore those
//! min/max values altogether: no row group can be skipped on a trendflex column. The values it
//! computes skip NaN, so they are just as valid under the type-defined order every reader knows
//! (-0.0 and +0.0 compare equal there). The footer's column orders are rewritten to it in place,
//! byte for byte the same length, and the result is decoded again before it is used.

use parquet::basic::ColumnOrder;
use parquet::file::metadata::{ParquetMetaData, ParquetMetaDataReader};

/// Thrift compact bytes of one `ColumnOrder` union: field `id` holding an empty struct.
const fn order(id: u8) -> [u8; 3] {
    [(id << 4) | 0x0C, 0, 0]
}
const TYPE_DEFINED: [u8; 3] = order(1);
const IEEE_754: [u8; 3] = order(2);

/// The compact header of a list of `n` structs.
fn list_header(n: usize) -> Vec<u8> {
    if n < 15 {
        return vec![((n as u8) << 4) | 0x0C];
    }
    let mut h = vec![0xFC];
    let mut v = n;
    loop {
        let byte = (v & 0x7F) as u8;
        v >>= 7;
        if v == 0 {
            h.push(byte);
            return h;
        }
        h.push(byte | 0x80);
    }
}

/// Where the `leaves` column orders start in the Thrift `metadata`, if exactly one run fits.
fn find_orders(metadata: &[u8], leaves: usize) -> Option<usize> {
    let header = list_header(leaves);
    let span = header.len() + 3 * leaves;
    let fits = |at: usize| {
        metadata[at..].starts_with(&header)
            && metadata[at + header.len()..at + span]
                .chunks(3)
                .all(|c| matches!(c, [0x1C | 0x2C | 0x3C, 0, 0]))
    };
    let mut found = (0..=metadata.len().checked_sub(span)?)
        .rev()
        .filter(|&at| fits(at));
    let at = found.next()?;
    found.next().is_none().then_some(at + header.len())
}

fn same_file(a: &ParquetMetaData, b: &ParquetMetaData) -> bool {
    a.num_row_groups() == b.num_row_groups()
        && a.file_metadata().num_rows() == b.file_metadata().num_rows()
        && a.file_metadata().schema_descr().num_columns()
            == b.file_metadata().schema_descr().num_columns()
}

/// Rewrites the float column orders of the Parquet footer at the end of `tail` (which ends with
/// the metadata, its length and `PAR1`). Returns whether it did; on any doubt `tail` is left as
/// it was.
pub fn use_type_defined_float_order(tail: &mut [u8]) -> bool {
    let Some(len_at) = tail.len().checked_sub(8) else {
        return false;
    };
    let len = u32::from_le_bytes(tail[len_at..len_at + 4].try_into().unwrap()) as usize;
    let Some(start) = len_at.checked_sub(len) else {
        return false;
    };
    let metadata = &mut tail[start..len_at];
    let Ok(before) = ParquetMetaDataReader::decode_metadata(metadata) else {
        return false;
    };
    let leaves = before.file_metadata().schema_descr().num_columns();
    let Some(at) = find_orders(metadata, leaves) else {
        return false;
    };
    let original = metadata.to_vec();
    for c in metadata[at..at + 3 * leaves].chunks_mut(3) {
        if c == IEEE_754 {
            c.copy_from_slice(&TYPE_DEFINED);
        }
    }
    let checked = ParquetMetaDataReader::decode_metadata(metadata)
        .ok()
        .filter(|after| {
            let (old, new) = (
                before.file_metadata().column_orders(),
                after.file_metadata().column_orders(),
            );
            same_file(&before, after)
                && old.zip(new).is_some_and(|(old, new)| {
                    old.len() == new.len()
                        && old.iter().zip(new).all(|(o, n)| match o {
                            ColumnOrder::IEEE_754_TOTAL_ORDER => {
                                matches!(n, ColumnOrder::TYPE_DEFINED_ORDER(_))
                            }
                            _ => o == n,
                        })
                })
        });
    if checked.is_none() {
        metadata.copy_from_slice(&original);
        return false;
    }
    true
}

/// [`use_type_defined_float_order`] on a finished file, its footer rewritten in place (the same
/// length): for files another writer finished (a dataset's). Returns whether it rewrote it.
pub fn use_type_defined_float_order_in(path: &std::path::Path) -> std::io::Result<bool> {
    use std::io::{Read, Seek, SeekFrom, Write};
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)?;
    let size = file.metadata()?.len();
    let mut end = [0u8; 8];
    if size < 12 {
        return Ok(false);
    }
    file.seek(SeekFrom::Start(size - 8))?;
    file.read_exact(&mut end)?;
    let len = u32::from_le_bytes(end[..4].try_into().expect("4 bytes")) as u64;
    if &end[4..] != b"PAR1" || len + 12 > size {
        return Ok(false);
    }
    let start = size - 8 - len;
    let mut tail = vec![0u8; (len + 8) as usize];
    file.seek(SeekFrom::Start(start))?;
    file.read_exact(&mut tail)?;
    if !use_type_defined_float_order(&mut tail) {
        return Ok(false);
    }
    file.seek(SeekFrom::Start(start))?;
    file.write_all(&tail)?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_headers_are_thrift_compact() {
        assert_eq!(list_header(3), vec![0x3C]);
        assert_eq!(list_header(14), vec![0xEC]);
        assert_eq!(list_header(15), vec![0xFC, 15]);
        assert_eq!(list_header(228), vec![0xFC, 0xE4, 0x01]);
    }

    #[test]
    fn a_footer_that_is_not_one_is_left_alone() {
        let mut junk = b"0123456789abcdefPAR1".to_vec();
        let copy = junk.clone();
        assert!(!use_type_defined_float_order(&mut junk));
        assert_eq!(junk, copy);
    }
}
