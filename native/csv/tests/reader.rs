//! The reader end to end: whatever the pieces the bytes come in and whatever the take sizes, the
//! same rows, types and errors, each error naming its line.

mod common;

use common::run;
use trendflex_csv::{CsvReader, Keep, KeepColumn, KeepType, KeepValues, Options};

fn keep(name: &str) -> Keep {
    Keep {
        name: name.into(),
        kind: None,
    }
}

fn int64s(columns: &[Vec<KeepColumn>], c: usize) -> Vec<Option<i64>> {
    columns
        .iter()
        .flat_map(|take| {
            let col = &take[c];
            let KeepValues::Int64(v) = &col.values else {
                panic!("{:?} is not int64", col.kind)
            };
            v.iter()
                .enumerate()
                .map(|(i, &x)| (col.validity[i / 8] >> (i % 8) & 1 == 1).then_some(x))
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn pieces_and_take_sizes_change_nothing() {
    let mut text = String::from("ts,Close,note\n");
    for i in 0..500 {
        text.push_str(&format!(
            "{},{}.{},\"n{i}\"\n",
            1000 + i,
            100 + i % 7,
            i % 10
        ));
        if i % 97 == 0 {
            text.push('\n'); // blank lines move the line numbers
        }
    }
    let options = || Options {
        keep: vec![keep("ts"), keep("note")],
        ..Options::default()
    };
    let want = run(&text, options(), text.len(), 10_000);
    assert_eq!(want.prices.len(), 500);
    assert_eq!(want.prices[3], 103.3);
    assert_eq!(want.lines[..3], [2, 4, 5]);
    assert!(want.error.is_none());
    for (piece, take) in [(1, 7), (13, 64), (4096, 1), (100, 499)] {
        let got = run(&text, options(), piece, take);
        assert_eq!(
            got.prices, want.prices,
            "pieces of {piece}, takes of {take}"
        );
        assert_eq!(got.lines, want.lines);
        assert_eq!(int64s(&got.keep, 0), int64s(&want.keep, 0));
        assert!(got.keep.iter().all(|t| t[1].kind == KeepType::Text));
    }
}

#[test]
fn keep_types_come_from_a_fixed_sample_whatever_the_take_size() {
    // Integers for 300 rows, then a fraction: with a sample of 250 rows the column is int64 and
    // row 301 does not fit, for every take size, piece size and block size (blocks read after
    // the sample parse straight to int64, on other threads); the rows before it are all taken
    // first.
    let mut text = String::from("v,close\n");
    for i in 0..400 {
        text.push_str(&format!(
            "{},1\n",
            if i == 300 {
                "1.5".to_string()
            } else {
                i.to_string()
            }
        ));
    }
    for (take, piece, threads, block_bytes) in [
        (1, 4096, 1, usize::MAX),
        (64, 4096, 1, usize::MAX),
        (1000, 4096, 1, usize::MAX),
        (64, 16, 2, 64),
        (1000, text.len(), 4, 32),
        (7, 512, 3, 1),
    ] {
        let options = Options {
            keep: vec![keep("v")],
            sample_rows: 250,
            threads,
            block_bytes,
            ..Options::default()
        };
        let r = run(&text, options, piece, take);
        assert_eq!(r.prices.len(), 300, "take {take}, blocks of {block_bytes}");
        let want: Vec<Option<i64>> = (0..300).map(Some).collect();
        assert_eq!(int64s(&r.keep, 0), want);
        let e = r.error.unwrap().to_string();
        assert_eq!(
            e,
            "line 302, column v: '1.5' is not an integer, but the column was typed int64 from its first 250 rows; \
             declare its type (--keep v:float64) or write CSV, which keeps fields as written"
        );
    }
    // A sample that sees the fraction makes the column float64, and everything fits.
    let r = run(
        &text,
        Options {
            keep: vec![keep("v")],
            sample_rows: 1000,
            ..Options::default()
        },
        64,
        64,
    );
    assert!(r.error.is_none() && r.keep.iter().all(|t| t[0].kind == KeepType::Float64));
    // Declared, or as text for CSV output: no sample needed, nothing refused.
    let declared = Keep {
        name: "v".into(),
        kind: Some(KeepType::Float64),
    };
    assert!(
        run(
            &text,
            Options {
                keep: vec![declared],
                sample_rows: 10,
                ..Options::default()
            },
            64,
            64
        )
        .error
        .is_none()
    );
    let text_out = run(
        &text,
        Options {
            keep: vec![keep("v")],
            keep_as_text: true,
            sample_rows: 10,
            ..Options::default()
        },
        64,
        64,
    );
    assert!(text_out.error.is_none());
    let KeepValues::Text { bytes, .. } = &text_out.keep[300 / 64][0].values else {
        panic!()
    };
    assert!(
        String::from_utf8_lossy(bytes).contains("2991.5301"),
        "the fields as written"
    );
}

#[test]
fn without_a_header_columns_are_positions() {
    let options = Options {
        header: false,
        price: "2".into(),
        keep: vec![keep("1")],
        ..Options::default()
    };
    let r = run(
        "10;1.5\n11;2.5\n",
        Options {
            delimiter: b';',
            ..options
        },
        3,
        10,
    );
    assert_eq!(r.prices, [1.5, 2.5]);
    assert_eq!(int64s(&r.keep, 0), [Some(10), Some(11)]);
    assert_eq!(r.lines, [1, 2]);
    let bad = run(
        "10,1.5\n",
        Options {
            header: false,
            price: "close".into(),
            ..Options::default()
        },
        3,
        10,
    );
    assert_eq!(
        bad.error.unwrap().to_string(),
        "column 'close': without a header, columns are numbers from 1 to 2"
    );
}

#[test]
fn errors_name_their_line_and_what_was_wrong() {
    let cases: &[(&str, &str)] = &[
        (
            "ts,close\n1,100\n2,abc\n",
            "line 3, column close: 'abc' is not a number",
        ),
        (
            "ts,close\n1,100\n2,1e999\n",
            "line 3, column close: '1e999' is not a finite number",
        ),
        (
            "ts,close\n1,100\n2,101,x\n",
            "line 3: 3 fields where the header has 2 (is the delimiter right? see --delimiter)",
        ),
        (
            "ts,close\n1,100\n2\n",
            "line 3: 1 field where the header has 2 (is the delimiter right? see --delimiter)",
        ),
        (
            "ts;close\n1;100\n",
            "column 'close' not found; available columns: ts;close (one column: is the delimiter right? see --delimiter)",
        ),
        (
            "ts,close\n1,\"100\n2,3\n",
            "line 2: a quoted field starts here and is never closed (a '\"' is missing)",
        ),
        ("", "empty input: there is no header line"),
        ("\n\n", "empty input: there is no header line"),
        (
            "ts,close\n1,\u{1b}[31mred\n",
            "line 2, column close: '\\u{1b}[31mred' is not a number",
        ),
    ];
    for (input, message) in cases {
        for piece in [1, 5, 1000] {
            let r = run(input, Options::default(), piece, 10);
            assert_eq!(
                r.error.as_ref().map(|e| e.to_string()).as_deref(),
                Some(*message),
                "{input:?} in pieces of {piece}"
            );
        }
    }
    let r = run("ts,close\n1,100\n2,101\n3,x\n", Options::default(), 4, 10);
    assert_eq!(
        r.prices,
        [100.0, 101.0],
        "the rows before an error are taken first"
    );
}

/// Found by a differential fuzz against Python's `csv` module: each of these once crashed the
/// process, lost a record, named the wrong line or emptied a kept field.
#[test]
fn an_error_before_any_row_is_an_error_with_keep_columns_too() {
    let options = || Options {
        keep: vec![keep("id")],
        ..Options::default()
    };
    for piece in [1, 4, 1000] {
        let r = run("id,close\na,abc\nb,2\n", options(), piece, 10);
        assert_eq!(
            r.error.map(|e| e.to_string()).as_deref(),
            Some("line 2, column close: 'abc' is not a number"),
            "pieces of {piece}"
        );
        assert!(r.prices.is_empty());
        let r = run("id,close\n", options(), piece, 10);
        assert!(
            r.error.is_none() && r.prices.is_empty(),
            "a header alone is no rows"
        );
        let r = run("id,close\na,1\nb,x\n", options(), piece, 10);
        assert_eq!(r.prices, [1.0]);
        assert_eq!(
            r.error.map(|e| e.to_string()).as_deref(),
            Some("line 3, column close: 'x' is not a number")
        );
    }
}

#[test]
fn a_doubled_quote_inside_a_quoted_field_keeps_it_open() {
    let options = || Options {
        price: "close".into(),
        keep: vec![keep("id")],
        ..Options::default()
    };
    for piece in [1, 2, 7, 1000] {
        let r = run("close,id\n1,a\n2,b\n3,\"x\"\"\nc,4\n", options(), piece, 10);
        assert_eq!(
            r.error.map(|e| e.to_string()).as_deref(),
            Some("line 4: a quoted field starts here and is never closed (a '\"' is missing)"),
            "pieces of {piece}: the last record must not swallow the line after it"
        );
        let r = run("id,close\na,1\nb,2\n\"a\"\"b\n\",3", options(), piece, 10);
        assert!(r.error.is_none(), "pieces of {piece}: {:?}", r.error);
        assert_eq!(r.prices, [1.0, 2.0, 3.0]);
        assert_eq!(r.lines, [2, 3, 4]);
    }
}

#[test]
fn a_lone_carriage_return_ends_a_line_as_it_ends_a_record() {
    for piece in [1, 3, 1000] {
        let r = run("ts,close\r1,1\r\r2,x\r", Options::default(), piece, 10);
        assert_eq!(r.prices, [1.0]);
        assert_eq!(r.lines, [2]);
        assert_eq!(
            r.error.map(|e| e.to_string()).as_deref(),
            Some("line 4, column close: 'x' is not a number"),
            "pieces of {piece}"
        );
        let r = run(
            "ts,close\r\n1,1\r\n\"a\rb\",2\n3,\"\r\n",
            Options::default(),
            piece,
            10,
        );
        assert_eq!(r.lines, [2, 3]);
        assert_eq!(
            r.error.map(|e| e.to_string()).as_deref(),
            Some("line 5: a quoted field starts here and is never closed (a '\"' is missing)"),
            "pieces of {piece}"
        );
    }
}

#[test]
fn kept_text_is_kept_as_written_whitespace_too() {
    let options = Options {
        keep: vec![keep("id")],
        keep_as_text: true,
        ..Options::default()
    };
    let r = run(
        "id,close\n\" \",1\n\"\t\",2\n\"\n\",3\n,4\n",
        options,
        1,
        10,
    );
    assert!(r.error.is_none());
    let col = &r.keep[0][0];
    let KeepValues::Text { offsets, bytes } = &col.values else {
        panic!("not text")
    };
    assert_eq!(bytes, b" \t\n");
    assert_eq!(offsets, &[0, 1, 2, 3, 3]);
    assert_eq!(
        (col.validity[0], col.null_count),
        (0b0111, 1),
        "only the empty field is missing"
    );
}

/// Every row's text keep fields, joined.
fn texts(r: &common::Run) -> Vec<String> {
    let mut rows = Vec::new();
    for take in &r.keep {
        let columns: Vec<(&Vec<i32>, &Vec<u8>)> = take
            .iter()
            .map(|k| match &k.values {
                KeepValues::Text { offsets, bytes } => (offsets, bytes),
                other => panic!("not text: {other:?}"),
            })
            .collect();
        for i in 0..columns[0].0.len() - 1 {
            let fields: Vec<&str> = columns
                .iter()
                .map(|(o, b)| std::str::from_utf8(&b[o[i] as usize..o[i + 1] as usize]).unwrap())
                .collect();
            rows.push(fields.join("|"));
        }
    }
    rows
}

#[test]
fn blocks_on_threads_give_what_one_pass_gives_errors_included() {
    // Thousands of records: quoted ones with line ends and delimiters inside, CRLF and lone CR,
    // blank lines; then the same with a bad price far in (a block parsed on another thread).
    let mut text = String::from("\u{FEFF}ts,close,note\r\n");
    for i in 0..3000 {
        let end = ["\n", "\r\n", "\r"][i % 3];
        let note = if i % 5 == 0 {
            format!("\"a,{i}\r\nb \"\"q\"\"\"")
        } else {
            format!("n{i}")
        };
        text.push_str(&format!(
            "{},{}.{},{note}{end}",
            1000 + i,
            100 + i % 7,
            i % 10
        ));
        if i % 101 == 0 {
            text.push_str("\n\r\n");
        }
    }
    let bad = text.replacen("\n2501,", "\n2501,x", 1);
    for input in [&text, &bad] {
        let options = |threads, block_bytes| Options {
            keep: vec![keep("ts"), keep("note")],
            keep_as_text: true,
            threads,
            block_bytes,
            ..Options::default()
        };
        let want = run(input, options(1, usize::MAX), input.len(), 100_000);
        for (threads, block, piece) in [
            (2, 64, input.len()),
            (4, 1, 4096),
            (3, 1000, 777),
            (2, 7, 1),
        ] {
            let got = run(input, options(threads, block), piece, 1000);
            let what = format!("{threads} threads, blocks of {block}, pieces of {piece}");
            assert_eq!(got.prices, want.prices, "{what}");
            assert_eq!(got.lines, want.lines, "{what}");
            assert_eq!(got.error, want.error, "{what}");
            assert_eq!(texts(&got), texts(&want), "{what}");
        }
        if std::ptr::eq(input, &bad) {
            // Record 1501's line, counted apart: the text before it with its line ends made
            // `\n` (as Python's universal newlines do), then counted.
            let line = 1829;
            assert_eq!(
                want.error.as_ref().map(|e| e.to_string()),
                Some(format!(
                    "line {line}, column close: 'x103.1' is not a number"
                ))
            );
            assert_eq!(want.prices.len(), 1501);
        } else {
            assert_eq!(want.prices.len(), 3000);
        }
    }
}

#[test]
fn a_block_parsed_before_the_types_were_decided_is_typed_when_it_lands() {
    // The sample (100 rows) is complete, and the types decided at the first take, while later
    // pieces are still being parsed as text on other threads; row 391's fraction is in one of
    // those, and is the same error as anywhere else.
    let mut text = String::from("v,close\n");
    for i in 0..400 {
        let v = if i == 390 {
            "1.5".to_string()
        } else {
            i.to_string()
        };
        text.push_str(&format!("{v},1\n"));
    }
    for piece in [text.len() / 8, text.len() / 20, 97] {
        let options = Options {
            keep: vec![keep("v")],
            sample_rows: 100,
            threads: 2,
            block_bytes: 16,
            ..Options::default()
        };
        let r = run(&text, options, piece, 10);
        assert_eq!(r.prices.len(), 390, "pieces of {piece}");
        let want: Vec<Option<i64>> = (0..390).map(Some).collect();
        assert_eq!(int64s(&r.keep, 0), want);
        assert!(r.error.unwrap().to_string().starts_with(
            "line 392, column v: '1.5' is not an integer, but the column was typed int64"
        ));
    }
}

#[test]
fn no_row_after_an_error_is_handed_out_even_when_reading_stops_early() {
    // A bad price in one piece while the next pieces are parsed on other threads; then the
    // reading stops (as a signal stops it: `catch_up`). The rows before the bad one come out,
    // then the error, and not one row after it.
    let mut text = String::from("ts,close\n");
    for i in 0..4000 {
        text.push_str(&format!("{i},{}\n", 100 + i % 7));
    }
    let bad = text.replacen("\n1500,", "\n1500,x", 1);
    for piece in [512, 1000, 4096] {
        let mut r = CsvReader::new(Options {
            threads: 2,
            block_bytes: 64,
            ..Options::default()
        });
        for p in bad.as_bytes().chunks(piece) {
            if r.done() {
                break;
            }
            r.feed(p);
        }
        r.catch_up();
        let (mut rows, mut buf) = (Vec::new(), vec![0.0; 300]);
        let error = loop {
            match r.take(&mut buf) {
                Ok(t) if t.rows == 0 => break None,
                Ok(t) => rows.extend_from_slice(&buf[..t.rows]),
                Err(e) => break Some(e.to_string()),
            }
        };
        let want: Vec<f64> = (0..1500).map(|i| f64::from(100 + i % 7)).collect();
        assert_eq!(rows.len(), want.len(), "pieces of {piece}");
        assert!(rows == want, "pieces of {piece}: other rows");
        assert_eq!(
            error.as_deref(),
            Some("line 1502, column close: 'x102' is not a number"),
            "pieces of {piece}"
        );
    }
}
