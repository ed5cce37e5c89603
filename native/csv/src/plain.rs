//! Cutting records with no quote in them: each line is a record as written, its fields found
//! between delimiters by one pass over the structural bytes ([`crate::scan`]: AVX2 where the
//! CPU has it, a portable loop otherwise). It gives what [`crate::split`] gives for the same bytes, line
//! numbers included, without csv_core's byte-by-byte state machine or its copy of every field.

use crate::error::CsvError;
use crate::scan::Structurals;
use crate::split::{Lines, Record};

/// Calls `on_record` for each record of `bytes`, which holds no `"`. Records end at `\n`, `\r\n`
/// or a lone `\r`; blank lines are skipped but counted. Without `last`, `bytes` ends at a record
/// end; with it, a last record without a line end is completed. Returns where the lines stand
/// after `bytes`. (Generic over `on_record`, unlike csv-core's path: a call per row, inlined.)
pub(crate) fn split<F>(
    bytes: &[u8],
    delimiter: u8,
    mut lines: Lines,
    last: bool,
    on_record: &mut F,
) -> Result<Lines, CsvError>
where
    F: FnMut(Record<'_>) -> Result<(), CsvError> + ?Sized,
{
    debug_assert!(memchr::memchr(b'"', bytes).is_none());
    // One pass over every delimiter and line end: where the record being read starts (just past
    // the last line end), and where each of its fields ends so far.
    let mut ends = Vec::with_capacity(16);
    let mut start = 0;
    for (at, is_delimiter) in Structurals::new(bytes, delimiter) {
        if is_delimiter {
            ends.push(at - start);
            continue;
        }
        if at > start {
            // A line end after text (a delimiter at least): a record. A line end right after
            // the last one is a blank line.
            ends.push(at - start);
            on_record(Record {
                line: lines.line,
                bytes: &bytes[start..at],
                ends: &ends,
                gap: 1,
            })?;
            ends.clear();
            lines.after_cr = false;
        }
        lines.end(bytes[at]);
        start = at + 1;
    }
    if start < bytes.len() {
        debug_assert!(last, "a block that does not end at a record end");
        ends.push(bytes.len() - start);
        on_record(Record {
            line: lines.line,
            bytes: &bytes[start..],
            ends: &ends,
            gap: 1,
        })?;
    }
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::split::{OnRecord, Splitter};

    type Records = Vec<(u64, Vec<Vec<u8>>)>;

    fn collect(f: impl FnOnce(&mut OnRecord<'_>) -> Result<Lines, CsvError>) -> (Records, Lines) {
        let mut out = Vec::new();
        let lines = f(&mut |r: Record<'_>| {
            out.push((r.line, (0..r.len()).map(|i| r.field(i).to_vec()).collect()));
            Ok(())
        })
        .unwrap();
        (out, lines)
    }

    #[test]
    fn lines_as_written_split_as_csv_core_splits_them() {
        let start = |after_cr| Lines { line: 5, after_cr };
        for input in [
            &b"a,b\n\n1,2\r\n\r\n3,\r4,5,6\n\n"[..],
            b"\n,\r\n x ,y\rlast",
            b"only",
            b"",
            b"\r\n\n\r",
        ] {
            for after_cr in [false, true] {
                let (want, want_lines) = collect(|cb| {
                    let mut s = Splitter::new(b',', start(after_cr));
                    s.feed(input, cb)?;
                    s.end(cb)?;
                    Ok(s.lines())
                });
                let (got, got_lines) = collect(|cb| split(input, b',', start(after_cr), true, cb));
                assert_eq!(got, want, "{:?}", String::from_utf8_lossy(input));
                assert_eq!(got_lines.line, want_lines.line);
            }
        }
    }
}
