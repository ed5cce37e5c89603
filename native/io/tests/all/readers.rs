//! The readers end to end, from files: CSV plain, gzip and zstd give the same rows; Parquet
//! prices of any numeric type become f64, keep columns keep their types (dictionaries decoded),
//! chunks cross row groups; `--gaps` is applied with the line or row named.

use std::io::Write;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Int64Type, TimestampMillisecondType};
use arrow_array::{
    ArrayRef, Decimal128Array, DictionaryArray, Float64Array, Int32Array, RecordBatch, StringArray,
    TimestampMillisecondArray,
};
use arrow_schema::DataType;
use trendflex_io::readers::{GapMode, Input, Keep, Source, SourceOptions};

fn options(price: &str, keep: &[&str]) -> SourceOptions {
    SourceOptions {
        price: price.into(),
        keep: keep
            .iter()
            .map(|k| Keep {
                name: k.to_string(),
                kind: None,
            })
            .collect(),
        delimiter: None,
        header: true,
        keep_as_text: false,
        gaps: GapMode::Error,
        follow: false,
    }
}

/// Every price and every chunk's keep columns, reading `chunk` rows at a time.
fn read_all(
    path: &std::path::Path,
    o: &SourceOptions,
    chunk: usize,
) -> Result<(Vec<f64>, Vec<Vec<ArrayRef>>), String> {
    let mut s = Source::open(&Input::Path(path.into()), o, chunk).map_err(|e| e.to_string())?;
    let (mut prices, mut keep) = (Vec::new(), Vec::new());
    let mut buf = vec![0.0; chunk];
    loop {
        let c = s.next(&mut buf).map_err(|e| e.to_string())?;
        if c.rows == 0 {
            return Ok((prices, keep));
        }
        prices.extend_from_slice(&buf[..c.rows]);
        keep.push(c.keep);
    }
}

#[test]
fn csv_plain_gzip_and_zstd_read_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("ts\tclose\n");
    for i in 0..3000 {
        text.push_str(&format!(
            "{}\t{}\n",
            1_700_000_000_000i64 + i * 60_000,
            100.0 + (i as f64 * 0.1).sin()
        ));
    }
    let plain = dir.path().join("p.tsv");
    std::fs::write(&plain, &text).unwrap();
    let gz = dir.path().join("p.tsv.gz");
    let mut e = flate2::write::GzEncoder::new(
        std::fs::File::create(&gz).unwrap(),
        flate2::Compression::fast(),
    );
    e.write_all(text.as_bytes()).unwrap();
    e.finish().unwrap();
    let zst = dir.path().join("p.tsv.zst");
    std::fs::write(&zst, zstd::encode_all(text.as_bytes(), 1).unwrap()).unwrap();
    let o = options("close", &["ts"]);
    let want = read_all(&plain, &o, 700).unwrap();
    assert_eq!(want.0.len(), 3000);
    assert_eq!(want.0[1].to_bits(), (100.0 + 0.1f64.sin()).to_bits());
    for p in [&gz, &zst] {
        let got = read_all(p, &o, 1000).unwrap();
        assert_eq!(got.0, want.0, "{}", p.display());
        let ts: Vec<i64> = got
            .1
            .iter()
            .flat_map(|k| k[0].as_primitive::<Int64Type>().values().to_vec())
            .collect();
        assert_eq!(ts[2999], 1_700_000_000_000 + 2999 * 60_000);
    }
}

#[test]
fn parquet_prices_of_any_numeric_type_and_keep_columns_with_their_types() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.parquet");
    let n = 1000;
    let ts =
        TimestampMillisecondArray::from_iter_values((0..n).map(|i| 1_700_000_000_000 + i * 60_000))
            .with_timezone("UTC");
    let price = Decimal128Array::from_iter_values((0..n).map(|i| 10_000 + i as i128))
        .with_precision_and_scale(10, 2)
        .unwrap();
    let sym: DictionaryArray<arrow_array::types::Int32Type> = (0..n)
        .map(|i| if i % 2 == 0 { "BTC" } else { "ETH" })
        .collect();
    let volume = Int32Array::from_iter((0..n).map(|i| (i % 7 != 0).then_some(i as i32)));
    let columns: Vec<ArrayRef> = vec![
        Arc::new(ts),
        Arc::new(price),
        Arc::new(sym),
        Arc::new(volume),
    ];
    let batch =
        RecordBatch::try_from_iter(["ts", "price", "sym", "volume"].into_iter().zip(columns))
            .unwrap();
    let props = parquet::file::properties::WriterProperties::builder()
        .set_max_row_group_row_count(Some(300))
        .build();
    let mut w = parquet::arrow::ArrowWriter::try_new(
        std::fs::File::create(&path).unwrap(),
        batch.schema(),
        Some(props),
    )
    .unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();

    let o = options("PRICE", &["ts", "sym", "volume"]);
    let s = Source::open(&Input::Path(path.clone()), &o, 128).unwrap();
    assert_eq!(s.info.format, "parquet");
    assert_eq!(s.info.total_rows, Some(1000));
    assert_eq!(s.info.column, "price");
    assert_eq!(
        s.keep_types().unwrap(),
        vec![
            DataType::Timestamp(arrow_schema::TimeUnit::Millisecond, Some("UTC".into())),
            DataType::Utf8,
            DataType::Int32
        ]
    );
    let (prices, keep) = read_all(&path, &o, 128).unwrap();
    assert_eq!(prices.len(), 1000);
    assert_eq!(prices[0], 100.0);
    assert_eq!(prices[999], 109.99);
    assert!(
        keep.iter().all(|k| k[0].len() <= 128),
        "chunks of 128 across row groups of 300"
    );
    let ts: Vec<i64> = keep
        .iter()
        .flat_map(|k| {
            k[0].as_primitive::<TimestampMillisecondType>()
                .values()
                .to_vec()
        })
        .collect();
    assert_eq!(ts[500], 1_700_000_000_000 + 500 * 60_000);
    let sym: Vec<String> = keep
        .iter()
        .flat_map(|k| {
            k[1].as_any()
                .downcast_ref::<StringArray>()
                .unwrap()
                .iter()
                .map(|s| s.unwrap().to_string())
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(&sym[..3], ["BTC", "ETH", "BTC"]);
    let nulls: usize = keep.iter().map(|k| k[2].null_count()).sum();
    assert_eq!(nulls, (0..1000).filter(|i| i % 7 == 0).count());
    // A column that cannot be a price.
    let e = read_all(&path, &options("sym", &[]), 10).unwrap_err();
    assert_eq!(
        e,
        "column sym has type Dictionary(Int32, Utf8), not a number"
    );
}

#[test]
fn gaps_name_their_line_or_row_and_propagate_or_fill() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("g.csv");
    std::fs::write(&csv, "close\n\n1\n2\n\"\"\n4\n").unwrap();
    let e = read_all(&csv, &options("close", &[]), 2).unwrap_err();
    assert!(
        e.starts_with("line 5: missing price after the first valid one"),
        "{e}"
    );
    let mut o = options("close", &[]);
    o.gaps = GapMode::Ffill;
    assert_eq!(read_all(&csv, &o, 2).unwrap().0, [1.0, 2.0, 2.0, 4.0]);

    let pq = dir.path().join("g.parquet");
    let prices = Float64Array::from(vec![Some(1.0), None, Some(3.0)]);
    let batch = RecordBatch::try_from_iter([("close", Arc::new(prices) as ArrayRef)]).unwrap();
    let mut w = parquet::arrow::ArrowWriter::try_new(
        std::fs::File::create(&pq).unwrap(),
        batch.schema(),
        None,
    )
    .unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
    let e = read_all(&pq, &options("close", &[]), 8).unwrap_err();
    assert!(e.starts_with("row 2: missing price"), "{e}");
}

#[test]
fn a_name_that_promises_another_format_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    for (name, says) in [
        ("x.parquet", "not a Parquet file"),
        ("x.csv.gz", "not gzip data"),
        ("x.csv.zst", "not zstd data"),
    ] {
        let p = dir.path().join(name);
        std::fs::write(&p, "close\n1\n").unwrap();
        let e = read_all(&p, &options("close", &[]), 8).unwrap_err();
        assert!(e.starts_with(says), "{name}: {e}");
    }
}

/// `--follow`: from a FIFO fed a row at a time, each row is handed out as soon as its line is
/// complete, while the writer still waits (a chunk is not held until it is full), and its keep
/// column is typed from the first row, not from a 100,000-row sample.
#[test]
fn following_a_feed_hands_out_each_row_once_its_line_is_complete() {
    use std::io::Write;
    use std::sync::mpsc::channel;
    use std::time::Duration;

    let dir = std::env::temp_dir().join(format!("trendflex-follow-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let fifo = dir.join("feed");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path; failure is a return value.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let (ack, acked) = channel::<()>();
    let path = fifo.clone();
    let writer = std::thread::spawn(move || {
        let mut f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        for line in ["ts,close\n7,1.5\n", "8,2.5\n"] {
            f.write_all(line.as_bytes()).unwrap();
            // Without follow, the reader would wait for more rows: time out, then go on.
            let _ = acked.recv_timeout(Duration::from_secs(10));
        }
        // Half a line is not a row yet.
        f.write_all(b"9,").unwrap();
        std::thread::sleep(Duration::from_millis(100));
        f.write_all(b"3.5\n").unwrap();
    });
    let mut o = options("close", &["ts"]);
    o.follow = true;
    let mut source = Source::open(&Input::Path(fifo.clone()), &o, 1000).unwrap();
    let mut prices = vec![0.0; 1000];
    let mut got = Vec::new();
    loop {
        let chunk = source.next(&mut prices).unwrap();
        if chunk.rows == 0 {
            break;
        }
        let ts = chunk.keep[0]
            .as_any()
            .downcast_ref::<arrow_array::Int64Array>()
            .expect("typed int64 at once");
        got.push((
            chunk.rows,
            ts.values().to_vec(),
            prices[..chunk.rows].to_vec(),
        ));
        let _ = ack.send(());
    }
    writer.join().unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(
        got,
        vec![
            (1, vec![7], vec![1.5]),
            (1, vec![8], vec![2.5]),
            (1, vec![9], vec![3.5])
        ],
        "one chunk per row, each before the next was written"
    );
}
