//! What the test files share: the reader driven over an input cut into pieces, as a source
//! would feed it, and a seeded generator. (Each file uses a part; the rest is unused there.)
#![allow(dead_code)]

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
                out.lines.extend(t.lines.iter());
                out.keep.push(t.keep);
            }
            Err(e) => {
                out.error = Some(e);
                return out;
            }
        }
    }
}

/// splitmix64: a seeded generator, enough for test inputs.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    pub fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}
