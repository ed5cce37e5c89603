//! What both test files need: the reader driven over an input cut into pieces, as a source
//! would feed it.

use trendflex_csv::{CsvError, CsvReader, KeepColumn, Options};

/// Feeds `input` in pieces of `piece` bytes, taking `take` rows at a time; returns every price,
/// every line, the keep columns of each take, and the error that ended it, if any.
pub struct Run {
    pub prices: Vec<f64>,
    pub lines: Vec<u64>,
    pub keep: Vec<Vec<KeepColumn>>,
    pub error: Option<CsvError>,
}

pub fn run(input: impl AsRef<[u8]>, options: Options, piece: usize, take: usize) -> Run {
    let mut r = CsvReader::new(options);
    let mut out = Run {
        prices: Vec::new(),
        lines: Vec::new(),
        keep: Vec::new(),
        error: None,
    };
    let mut buf = vec![0.0; take];
    let mut pieces = input.as_ref().chunks(piece);
    loop {
        while r.ready() < take && !r.done() {
            match pieces.next() {
                Some(p) => r.feed(p),
                None => r.end(),
            }
        }
        match r.take(&mut buf) {
            Ok(t) if t.rows == 0 => return out,
            Ok(t) => {
                out.prices.extend_from_slice(&buf[..t.rows]);
                out.lines.extend(t.lines);
                out.keep.push(t.keep);
            }
            Err(e) => {
                out.error = Some(e);
                return out;
            }
        }
    }
}
