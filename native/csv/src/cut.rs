//! Where the complete records of the bytes read so far end, found exactly before they are parsed,
//! so that parsing can be cut into blocks that start at a record (on any thread) and give what one
//! pass would. Text without quotes ends a record at every line end (`memchr`, SIMD); up to the
//! last quote, the scan follows csv_core's quoting byte by byte ([`Quoting`]): a line end ends a
//! record unless it is inside a quoted field.

use crate::split::Quoting;

pub(crate) struct Cutter {
    delimiter: u8,
    /// Bytes scanned so far, and the quoting state after them.
    scanned: usize,
    quoting: Quoting,
    /// Just past the last record end found (0: none yet).
    end: usize,
    /// Record ends spaced at least `stride` bytes apart, where blocks may be cut.
    marks: Vec<usize>,
    stride: usize,
}

impl Cutter {
    pub fn new(delimiter: u8, stride: usize) -> Self {
        Cutter {
            delimiter,
            scanned: 0,
            quoting: Quoting::FieldStart,
            end: 0,
            marks: Vec::new(),
            stride: stride.max(1),
        }
    }

    /// Scans what `bytes` holds past the last scan (`bytes` starts at a record start and only
    /// grows between calls, until [`Cutter::consume`]). Returns where its complete records end.
    pub fn scan(&mut self, bytes: &[u8]) -> usize {
        let from = self.scanned;
        if from == bytes.len() {
            return self.end;
        }
        // Byte by byte as far as the last quote; after it no quote is left to change the state,
        // and the record ends are found by searching. A quoted header, as pyarrow writes it,
        // sends only its own bytes down the slow path, not the whole first piece read.
        let at = match memchr::memrchr(b'"', &bytes[from..]) {
            Some(q) => {
                self.follow_quotes(&bytes[..from + q + 1], from);
                from + q + 1
            }
            None => from,
        };
        // Inside a quoted field that no later quote closes: no record ends here. Otherwise, what
        // follows is outside quotes (after a closing quote, its next byte acts as unquoted).
        if self.quoting != Quoting::Quoted && at < bytes.len() {
            self.unquoted(bytes, at);
        }
        self.scanned = bytes.len();
        self.end
    }

    /// Follows the quoting of `bytes[from..]` byte by byte, noting every record end.
    fn follow_quotes(&mut self, bytes: &[u8], from: usize) {
        for (i, &b) in bytes[from..].iter().enumerate() {
            if (b == b'\n' || b == b'\r') && self.quoting != Quoting::Quoted {
                let end = from + i + 1;
                if end >= self.last_mark() + self.stride {
                    self.marks.push(end);
                }
                self.end = end;
            }
            self.quoting = self.quoting.next(b, self.delimiter);
        }
    }

    /// Notes the record ends of `bytes[from..]` (not empty), which holds no quote and starts
    /// outside quotes (or just after a quote inside a quoted field, which then closed it): every
    /// line end is one.
    fn unquoted(&mut self, bytes: &[u8], from: usize) {
        let rest = &bytes[from..];
        if let Some(i) = memchr::memrchr2(b'\n', b'\r', rest) {
            let end = from + i + 1;
            // Marks: the first line end at or after each stride.
            let mut at = (self.last_mark() + self.stride).max(from);
            while at < end {
                match memchr::memchr2(b'\n', b'\r', &bytes[at..end]) {
                    Some(j) => {
                        self.marks.push(at + j + 1);
                        at += j + 1 + self.stride;
                    }
                    None => break,
                }
            }
            self.end = end;
        }
        self.quoting = Quoting::after_unquoted(bytes[bytes.len() - 1], self.delimiter);
    }

    fn last_mark(&self) -> usize {
        self.marks.last().copied().unwrap_or(0)
    }

    /// Up to `parts` blocks of about equal size covering `..end`: the record ends they stop at.
    pub fn blocks(&self, end: usize, parts: usize) -> Vec<usize> {
        let mut cuts = Vec::with_capacity(parts);
        for k in 1..parts {
            let target = end * k / parts;
            let i = self.marks.partition_point(|&m| m < target);
            match self.marks.get(i) {
                Some(&m) if m < end && m > cuts.last().copied().unwrap_or(0) => cuts.push(m),
                _ => {}
            }
        }
        cuts.push(end);
        cuts
    }

    /// The first `n` bytes (up to a record end) were parsed and dropped.
    pub fn consume(&mut self, n: usize) {
        debug_assert!(n <= self.end);
        self.scanned -= n;
        self.end -= n;
        self.marks.retain(|&m| m > n);
        self.marks.iter_mut().for_each(|m| *m -= n);
    }
}

/// Just past the end of the first record of `bytes` (blank lines before it included), or the
/// length of `bytes` when it has no complete record.
pub(crate) fn first_record_end(bytes: &[u8], delimiter: u8) -> usize {
    let start = bytes
        .iter()
        .position(|&b| b != b'\n' && b != b'\r')
        .unwrap_or(bytes.len());
    let mut quoting = Quoting::FieldStart;
    for (i, &b) in bytes.iter().enumerate().skip(start) {
        if (b == b'\n' || b == b'\r') && quoting != Quoting::Quoted {
            return i + 1;
        }
        quoting = quoting.next(b, delimiter);
    }
    bytes.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Record ends as the splitter finds them, by a naive follow of every byte.
    fn record_ends(bytes: &[u8]) -> Vec<usize> {
        let mut q = Quoting::FieldStart;
        let mut out = Vec::new();
        for (i, &b) in bytes.iter().enumerate() {
            if (b == b'\n' || b == b'\r') && q != Quoting::Quoted {
                out.push(i + 1);
            }
            q = q.next(b, b',');
        }
        out
    }

    #[test]
    fn the_cut_is_the_last_record_end_however_the_bytes_arrive() {
        let input = b"a,b\n\"x\ny\",1\r\n2,\"q\"\"\n\"\n3,4\"5\n\"open\n,6";
        let ends = record_ends(input);
        for piece in 1..input.len() {
            let mut c = Cutter::new(b',', 1);
            for n in (piece..input.len()).step_by(piece).chain([input.len()]) {
                let want = ends.iter().rev().find(|&&e| e <= n).copied().unwrap_or(0);
                assert_eq!(c.scan(&input[..n]), want, "pieces of {piece}, at {n}");
            }
            for &m in &c.marks {
                assert!(ends.contains(&m), "mark {m} is a record end");
            }
        }
    }

    #[test]
    fn random_texts_cut_where_a_byte_by_byte_follow_of_the_quotes_cuts_them() {
        let mut seed = 0xC0FFEEu64;
        let mut next = |n: usize| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) as usize % n
        };
        for case in 0..20_000 {
            // Mostly plain text, quotes rare or dense, so that pieces start in every state.
            let quotes = [0, 2, 30][case % 3];
            let len = next(120);
            let input: Vec<u8> = (0..len)
                .map(|_| match next(100) {
                    k if k < quotes => b'"',
                    k if k < quotes + 15 => b',',
                    k if k < quotes + 25 => b'\n',
                    k if k < quotes + 30 => b'\r',
                    _ => b'a',
                })
                .collect();
            let ends = record_ends(&input);
            let stride = 1 + next(8);
            let mut c = Cutter::new(b',', stride);
            let mut n = 0;
            while n < input.len() {
                n = (n + 1 + next(40)).min(input.len());
                let want = ends.iter().rev().find(|&&e| e <= n).copied().unwrap_or(0);
                assert_eq!(
                    c.scan(&input[..n]),
                    want,
                    "{:?} at {n}",
                    String::from_utf8_lossy(&input)
                );
            }
            for pair in c.marks.windows(2) {
                assert!(
                    pair[1] >= pair[0] + stride,
                    "marks {pair:?} closer than {stride}"
                );
            }
            assert!(
                c.marks.iter().all(|m| ends.contains(m)),
                "marks are record ends"
            );
        }
    }

    #[test]
    fn the_first_record_ends_after_blank_lines_and_quoted_line_ends() {
        assert_eq!(first_record_end(b"\r\n\n\"a\nb\",c\r\n1,2\n", b','), 11);
        assert_eq!(first_record_end(b"a,b", b','), 3);
        assert_eq!(first_record_end(b"\n\n", b','), 2);
    }

    #[test]
    fn blocks_stop_at_record_ends_and_consume_shifts_them() {
        let input = b"1,2\n3,4\n5,6\n7,8\n9,10\n";
        let mut c = Cutter::new(b',', 4);
        let end = c.scan(input);
        assert_eq!(end, input.len());
        let cuts = c.blocks(end, 3);
        assert_eq!(cuts.last(), Some(&end));
        assert!(cuts.len() == 3 && cuts.windows(2).all(|w| w[0] < w[1]));
        assert!(cuts.iter().all(|&m| input[m - 1] == b'\n'));
        c.consume(8);
        assert_eq!(c.scan(&input[8..]), input.len() - 8);
        assert!(c.marks.iter().all(|&m| input[8 + m - 1] == b'\n'));
    }
}
