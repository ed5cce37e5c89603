//! A model-based fuzz of the reader. Each case is a CSV text generated from a model (records of
//! quoted and unquoted fields holding delimiters, doubled quotes, CR, LF and multi-byte text; LF,
//! CRLF or lone-CR line ends; blank lines; a BOM; no final newline), with at most one defect
//! injected (a ragged record, a price that is not a number, a quote left open to the end, a byte
//! that is not text). The model knows the records, the line each starts on and the error; the
//! `csv` crate, reading the same bytes, must agree with the model on every record of the valid
//! cases. The reader then reads the bytes in random pieces with random take sizes, parsing blocks
//! of random sizes on a random number of threads, and must give exactly the model's rows, lines
//! and error, and never panic.
//!
//! `TRENDFLEX_FUZZ_CASES` (default 100,000) and `TRENDFLEX_FUZZ_SEED` choose the run; a failure
//! names the seed of its case.

mod common;

use common::{Rng, Run, run};
use trendflex_csv::{CsvError, Keep, KeepColumn, KeepValues, Options};

/// Prices as written, and the value the reader must give (NaN: missing).
const PRICES: &[(&str, f64)] = &[
    ("1", 1.0),
    ("-2.5", -2.5),
    ("100.25", 100.25),
    ("1e3", 1000.0),
    (" 7 ", 7.0),
    ("0.1", 0.1),
    ("", f64::NAN),
    ("NaN", f64::NAN),
    ("NA", f64::NAN),
];

/// Characters of text fields: the structural ones often.
const TEXT: &[&str] = &[
    "a", "b", "1", " ", ",", "\"", "\n", "\r", "\t", "é", "€", ";",
];

const ENDS: &[&str] = &["\n", "\r\n", "\r"];

#[derive(Debug)]
enum Defect {
    None,
    /// The record at this index has one field too many or too few.
    Ragged(usize),
    /// The price of the record at this index is not a number.
    NotANumber(usize),
    /// The record at this index, the last, opens a quoted field that never closes.
    OpenQuote(usize),
    /// A byte that is not text at this offset of the input.
    NotText,
}

struct Case {
    bytes: Vec<u8>,
    /// Per data record, in order: price, text fields (the non-price columns), line.
    records: Vec<(f64, Vec<Vec<u8>>, u64)>,
    /// The error the reader must end with, if any; `records` then holds only the rows before it.
    error: Option<CsvError>,
    /// For a byte that is not text: the rows taken are some prefix of `records`.
    prefix_only: bool,
    columns: usize,
    price_at: usize,
}

/// A field as CSV: quoted (quotes doubled) when it must be, or by chance.
fn field(rng: &mut Rng, text: &str, out: &mut Vec<u8>) {
    let must = text.contains([',', '"', '\n', '\r']);
    if must || rng.chance(15) {
        out.push(b'"');
        out.extend_from_slice(text.replace('"', "\"\"").as_bytes());
        out.push(b'"');
    } else {
        out.extend_from_slice(text.as_bytes());
    }
}

fn text(rng: &mut Rng) -> String {
    let n = rng.below(7);
    let mut s: String = (0..n).map(|_| *rng.pick(TEXT)).collect();
    if rng.chance(1) {
        s.push_str(&"x".repeat(10_000)); // a huge field
    }
    s
}

/// Lines as a reader counts them: each LF, CRLF or lone CR ends one. Written apart from the
/// reader's own counting, on purpose.
fn line_after(bytes: &[u8]) -> u64 {
    let mut line = 1;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\r' => {
                line += 1;
                if bytes.get(i + 1) == Some(&b'\n') {
                    i += 1;
                }
            }
            b'\n' => line += 1,
            _ => {}
        }
        i += 1;
    }
    line
}

fn generate(seed: u64) -> Case {
    let mut rng = Rng(seed);
    let columns = 2 + rng.below(3);
    let price_at = rng.below(columns);
    let count = rng.below(8);
    let defect = match (count, rng.below(10)) {
        (0, _) | (_, 0..=4) => Defect::None,
        (_, 5) => Defect::Ragged(rng.below(count)),
        (_, 6) => Defect::NotANumber(rng.below(count)),
        (_, 7 | 8) => Defect::OpenQuote(count - 1),
        _ => Defect::NotText,
    };
    let mut bytes = Vec::new();
    if rng.chance(10) {
        bytes.extend_from_slice(b"\xEF\xBB\xBF");
    }
    let bom = bytes.len();
    let names: Vec<String> = (0..columns)
        .map(|c| {
            if c == price_at {
                "close".into()
            } else {
                format!("t{c}")
            }
        })
        .collect();
    for (c, name) in names.iter().enumerate() {
        if c > 0 {
            bytes.push(b',');
        }
        field(&mut rng, name, &mut bytes);
    }
    let mut records = Vec::new();
    let mut error = None;
    for r in 0..count {
        bytes.extend_from_slice(rng.pick(ENDS).as_bytes());
        while rng.chance(10) {
            bytes.extend_from_slice(rng.pick(ENDS).as_bytes()); // blank lines
        }
        let line = line_after(&bytes[bom..]);
        let fields = match defect {
            Defect::Ragged(at) if at == r => {
                if rng.chance(50) {
                    columns + 1
                } else {
                    columns - 1
                }
            }
            _ => columns,
        };
        let (mut price, mut texts) = (f64::NAN, Vec::new());
        let start = bytes.len();
        for c in 0..fields {
            if c > 0 {
                bytes.push(b',');
            }
            if let Defect::OpenQuote(at) = defect
                && at == r
                && c == fields - 1
            {
                // A quote that opens and never closes: everything to the end is inside it,
                // doubled quotes, delimiters and line ends included.
                let opened = line_after(&bytes[bom..]);
                bytes.push(b'"');
                for _ in 0..rng.below(12) {
                    let piece = *rng.pick(&["x", ",", "\"\"", "\n", "\r\n", "\r", "c,4"]);
                    bytes.extend_from_slice(piece.as_bytes());
                }
                error = Some(CsvError::UnclosedQuote { line: opened });
                break;
            }
            if c == price_at {
                let (written, value) = match defect {
                    Defect::NotANumber(at) if at == r => ("abc", f64::NAN),
                    _ => *rng.pick(PRICES),
                };
                price = value;
                field(&mut rng, written, &mut bytes);
                if written == "abc" {
                    error = Some(CsvError::NotANumber {
                        line,
                        column: "close".into(),
                        text: "abc".into(),
                    });
                }
            } else {
                let t = text(&mut rng);
                field(&mut rng, &t, &mut bytes);
                texts.push(t.into_bytes());
            }
        }
        if bytes.len() == start {
            bytes.extend_from_slice(b"\"\""); // one empty field, not a blank line
        }
        if fields != columns {
            error = Some(CsvError::FieldCount {
                line,
                found: fields,
                expected: columns,
            });
        }
        if error.is_some() {
            break;
        }
        records.push((price, texts, line));
    }
    if error.is_none() && rng.chance(70) {
        bytes.extend_from_slice(rng.pick(ENDS).as_bytes());
    }
    let mut prefix_only = false;
    if let Defect::NotText = defect {
        let at = rng.below(bytes.len() + 1);
        let bad = *rng.pick(&[0xFFu8, 0x00, 0xC3]);
        // 0xC3 before a continuation byte may make a valid character: no defect then.
        if !(bad == 0xC3 && bytes.get(at).is_some_and(|b| (0x80..0xC0).contains(b))) {
            bytes.insert(at, bad);
            // A NUL is found wherever it is; a broken sequence where it starts (std's reading).
            error = Some(if bad == 0 {
                CsvError::NotText {
                    offset: at as u64,
                    what: "a NUL byte",
                }
            } else {
                let offset =
                    std::str::from_utf8(&bytes).map_or_else(|e| e.valid_up_to(), |_| bytes.len());
                CsvError::NotText {
                    offset: offset as u64,
                    what: "a byte sequence that is not UTF-8",
                }
            });
            prefix_only = true;
        }
    }
    Case {
        bytes,
        records,
        error,
        prefix_only,
        columns,
        price_at,
    }
}

/// The valid cases' records as the `csv` crate reads them: (price text, other fields).
fn oracle(bytes: &[u8]) -> Vec<Vec<Vec<u8>>> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(bytes);
    reader
        .byte_records()
        .map(|r| {
            r.expect("the csv crate reads a valid case")
                .iter()
                .map(<[u8]>::to_vec)
                .collect()
        })
        .collect()
}

/// The reader's rows over `case`, fed in random pieces with random take sizes: prices, lines,
/// each row's text fields, and the error that ended the input.
fn read(case: &Case, rng: &mut Rng) -> (Run, Vec<Vec<Vec<u8>>>) {
    let keep = (0..case.columns)
        .filter(|&c| c != case.price_at)
        .map(|c| Keep {
            name: format!("t{c}"),
            kind: None,
        })
        .collect();
    // Blocks as small as one byte, parsed on up to 4 threads at once.
    let options = Options {
        keep,
        keep_as_text: true,
        threads: 1 + rng.below(4),
        block_bytes: *rng.pick(&[1, 2, 5, 16, 1 << 20]),
        overlap: rng.chance(80),
        ..Options::default()
    };
    let piece = *rng.pick(&[1, 2, 3, 7, 64, usize::MAX]);
    let take = *rng.pick(&[1, 3, 1000]);
    let got = run(
        &case.bytes,
        options,
        piece.min(case.bytes.len().max(1)),
        take,
    );
    // Every case has a text column besides the price, so each take's first column counts its rows.
    let mut texts = Vec::new();
    for columns in &got.keep {
        let text = |k: &KeepColumn, i: usize| match &k.values {
            KeepValues::Text { offsets, bytes } => {
                bytes[offsets[i] as usize..offsets[i + 1] as usize].to_vec()
            }
            other => panic!("not text: {other:?}"),
        };
        let rows = match &columns[0].values {
            KeepValues::Text { offsets, .. } => offsets.len() - 1,
            other => panic!("not text: {other:?}"),
        };
        texts.extend((0..rows).map(|i| columns.iter().map(|k| text(k, i)).collect::<Vec<_>>()));
    }
    (got, texts)
}

fn same(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

#[test]
fn generated_csv_reads_as_the_model_and_the_csv_crate_say_whatever_the_pieces() {
    let cases: u64 = std::env::var("TRENDFLEX_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let base: u64 = std::env::var("TRENDFLEX_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x7F_2026);
    let (mut with_errors, mut oracle_checked) = (0u64, 0u64);
    for i in 0..cases {
        let seed = base.wrapping_add(i);
        let case = generate(seed);
        let ctx = || format!("seed {seed}: {:?}", String::from_utf8_lossy(&case.bytes));
        if case.error.is_none() {
            // The model's records are what an independent parser reads.
            let want = oracle(&case.bytes);
            assert_eq!(want.len(), case.records.len(), "{}", ctx());
            for (row, (price, texts, _)) in want.iter().zip(&case.records) {
                let others: Vec<Vec<u8>> = row
                    .iter()
                    .enumerate()
                    .filter(|&(c, _)| c != case.price_at)
                    .map(|(_, f)| f.to_vec())
                    .collect();
                assert_eq!(&others, texts, "{}", ctx());
                let text = String::from_utf8(row[case.price_at].to_vec()).unwrap();
                let parsed = match text.trim() {
                    "" | "NaN" | "NA" => f64::NAN,
                    t => t.parse::<f64>().unwrap(),
                };
                assert!(same(parsed, *price), "{}: price {text:?}", ctx());
            }
            oracle_checked += 1;
        } else {
            with_errors += 1;
        }
        let mut rng = Rng(seed ^ 0xA5A5);
        let (got, got_texts) = read(&case, &mut rng);
        assert_eq!(got.error, case.error, "{}", ctx());
        let n = if case.prefix_only {
            got.prices.len().min(case.records.len())
        } else {
            case.records.len()
        };
        assert_eq!(got.prices.len(), n, "{}", ctx());
        for (k, (price, texts, line)) in case.records[..n].iter().enumerate() {
            assert!(same(got.prices[k], *price), "{}: row {k}", ctx());
            assert_eq!(got.lines[k], *line, "{}: row {k}", ctx());
            assert_eq!(&got_texts[k], texts, "{}: row {k}", ctx());
        }
    }
    println!(
        "fuzz: {cases} cases from seed {base}: {oracle_checked} valid ones also read by the csv crate, {with_errors} with a defect; no disagreement, no panic"
    );
}
