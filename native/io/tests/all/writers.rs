//! Each writer round-tripped through an independent arrow-rs reader (Parquet, IPC) or a plain
//! CSV parse: values bit for bit, nulls where the validity says, metadata, row groups, and the
//! hold-back gate.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::fd::AsRawFd;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type};
use arrow_array::{Array, ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::{Compression as Codec, Encoding};
use trendflex_io::{Compression, FloatEncoding, Format, Options, Summary, Writer, verify};

use crate::assert_same_statistics;

fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("ts", DataType::Int64, true),
        Field::new("sym", DataType::Utf8, true),
        Field::new("trendflex_5", DataType::Float64, true),
        Field::new("trendflex_20", DataType::Float64, true),
    ]))
}

/// Three batches: warm-up nulls in the first, odd values (negative zero, tiny, huge) later.
fn batches() -> Vec<RecordBatch> {
    let mut out = Vec::new();
    let mut row = 0i64;
    for len in [30usize, 25, 7] {
        let ts = Int64Array::from_iter_values(
            (row..row + len as i64).map(|i| 1_700_000_000_000 + i * 60_000),
        );
        let sym = StringArray::from_iter((0..len).map(|i| match i % 4 {
            0 => Some("BTC".to_string()),
            1 => Some("ETH, spot".to_string()),
            2 => None,
            _ => Some("say \"hi\"\nnow".to_string()),
        }));
        let value = |p: i64, i: i64| -> Option<f64> {
            let r = row + i;
            (r >= p).then(|| match r % 5 {
                0 => -0.0,
                1 => 1e-300,
                2 => -5.0,
                3 => 1.0 / 3.0,
                _ => (r as f64).sin() * 1e10,
            })
        };
        let t5 = Float64Array::from_iter((0..len as i64).map(|i| value(5, i)));
        let t20 = Float64Array::from_iter((0..len as i64).map(|i| value(20, i)));
        let columns: Vec<ArrayRef> = vec![Arc::new(ts), Arc::new(sym), Arc::new(t5), Arc::new(t20)];
        out.push(RecordBatch::try_new(schema(), columns).unwrap());
        row += len as i64;
    }
    out
}

fn write_all(format: Format, compression: Compression, hold: bool) -> (File, Summary) {
    write_floats(format, compression, hold, FloatEncoding::default())
}

fn write_floats(
    format: Format,
    compression: Compression,
    hold: bool,
    float_encoding: FloatEncoding,
) -> (File, Summary) {
    // In the crate's directory: a real filesystem, where O_DIRECT is taken.
    let mut file = tempfile::tempfile_in(env!("CARGO_MANIFEST_DIR")).unwrap();
    let direct = true;
    let options = Options {
        format,
        compression,
        float_encoding,
        hold,
        direct,
        ..Options::default()
    };
    let mut writer = Writer::new(schema(), file.as_raw_fd(), &options).unwrap();
    for b in batches() {
        writer.write(&b, false).unwrap();
    }
    let summary = writer
        .finish(vec![("trendflex".into(), "{\"rows\":62}".into())])
        .unwrap();
    assert_eq!(summary.rows, 62);
    verify(&mut file, &summary).unwrap();
    file.seek(SeekFrom::Start(0)).unwrap();
    (file, summary)
}

/// `batches` written to a temporary file with `options` (each let through if `release`),
/// finished and verified; the file is rewound.
fn written(schema: SchemaRef, batches: &[RecordBatch], options: &Options, release: bool) -> File {
    let mut file = tempfile::tempfile().unwrap();
    let mut writer = Writer::new(schema, file.as_raw_fd(), options).unwrap();
    for b in batches {
        writer.write(b, release).unwrap();
    }
    let summary = writer.finish(vec![]).unwrap();
    verify(&mut file, &summary).unwrap();
    file.seek(SeekFrom::Start(0)).unwrap();
    file
}

/// Batches of `sizes` rows of `schema`'s Float64 columns: column `c` of batch `b` holds
/// `cell(c, b, i, t)` in its row `i`, row `t` of the whole table.
fn float_batches(
    schema: &SchemaRef,
    sizes: &[usize],
    cell: impl Fn(usize, usize, usize, usize) -> Option<f64>,
) -> Vec<RecordBatch> {
    let mut at = 0;
    sizes
        .iter()
        .enumerate()
        .map(|(b, &n)| {
            let columns: Vec<ArrayRef> = (0..schema.fields().len())
                .map(|c| {
                    Arc::new(Float64Array::from_iter(
                        (0..n).map(|i| cell(c, b, i, at + i)),
                    )) as ArrayRef
                })
                .collect();
            at += n;
            RecordBatch::try_new(schema.clone(), columns).unwrap()
        })
        .collect()
}

fn concat(batches: &[RecordBatch]) -> RecordBatch {
    arrow_select::concat::concat_batches(&batches[0].schema(), batches).unwrap()
}

fn assert_same(got: &RecordBatch, want: &RecordBatch) {
    assert_eq!(got.num_rows(), want.num_rows());
    assert_eq!(
        got.column(0).as_primitive::<Int64Type>(),
        want.column(0).as_primitive::<Int64Type>()
    );
    assert_eq!(
        got.column(1).as_string::<i32>(),
        want.column(1).as_string::<i32>()
    );
    for c in 2..4 {
        let (g, w) = (
            got.column(c).as_primitive::<Float64Type>(),
            want.column(c).as_primitive::<Float64Type>(),
        );
        assert_eq!(g.nulls(), w.nulls(), "column {c} validity");
        for i in 0..g.len() {
            if w.is_valid(i) {
                assert_eq!(
                    g.value(i).to_bits(),
                    w.value(i).to_bits(),
                    "column {c} row {i}"
                );
            }
        }
    }
}

#[test]
fn parquet_round_trips_with_metadata_one_row_group_per_batch() {
    for compression in [
        Compression::Lz4,
        Compression::Zstd,
        Compression::Snappy,
        Compression::None,
    ] {
        // Floats PLAIN by default (every reader opens it), BYTE_STREAM_SPLIT when asked.
        let floats = match compression {
            Compression::Lz4 | Compression::Zstd => FloatEncoding::Plain,
            _ => FloatEncoding::ByteStreamSplit,
        };
        let (file, _) = write_floats(Format::Parquet, compression, false, floats);
        let builder = ParquetRecordBatchReaderBuilder::try_new(file).unwrap();
        let meta = builder.metadata().clone();
        let groups: Vec<i64> = meta.row_groups().iter().map(|g| g.num_rows()).collect();
        assert_eq!(groups, vec![30, 25, 7], "one row group per batch");
        let kv = meta.file_metadata().key_value_metadata().unwrap();
        let value = |k: &str| kv.iter().find(|e| e.key == k).and_then(|e| e.value.clone());
        assert_eq!(value("trendflex").as_deref(), Some("{\"rows\":62}"));
        assert!(
            value("ARROW:schema").is_some(),
            "the Arrow schema travels with the file"
        );
        let col = meta.row_group(0).column(2);
        assert_eq!(
            col.compression(),
            match compression {
                Compression::Lz4 => Codec::LZ4_RAW,
                Compression::Zstd => Codec::ZSTD(Default::default()),
                Compression::Snappy => Codec::SNAPPY,
                Compression::None => Codec::UNCOMPRESSED,
            }
        );
        assert_eq!(
            col.encodings().any(|e| e == Encoding::BYTE_STREAM_SPLIT),
            floats == FloatEncoding::ByteStreamSplit,
            "floats are split only when asked: {floats:?}"
        );
        assert!(
            col.statistics()
                .is_some_and(|s| s.min_bytes_opt().is_some()),
            "statistics on"
        );
        let orders = meta.file_metadata().column_orders().unwrap();
        assert!(
            orders
                .iter()
                .all(|o| matches!(o, parquet::basic::ColumnOrder::TYPE_DEFINED_ORDER(_))),
            "every reader knows the type-defined order: {orders:?}"
        );
        let got: Vec<RecordBatch> = builder.build().unwrap().map(Result::unwrap).collect();
        assert_same(&concat(&got), &concat(&batches()));
    }
}

/// A grouped grid's columns: each group's first rows null (its warm-up), in long runs that the
/// writer hands to arrow-rs piece by piece, and a column whose nulls are too scattered for that.
/// Values, nulls and statistics read back as written, whichever way they were written.
#[test]
fn parquet_columns_with_long_null_runs_read_back_exactly() {
    let n = 6000usize;
    let value = |i: usize| ((i as f64) * 0.37).sin() * 1e3 + i as f64 * 1e-3;
    // Groups of 1,000 rows, the first `warm` of each null; the last group cut short, null to the
    // end.
    let runs = |warm: usize| {
        Float64Array::from_iter((0..n).map(|i| {
            let at = i % 1000;
            (at >= warm && i < 5500).then(|| match i {
                777 => f64::NAN,
                1234 => -0.0,
                _ => value(i),
            })
        }))
    };
    let scattered = Float64Array::from_iter((0..n).map(|i| (i % 3 != 0).then(|| value(i))));
    // A column that starts valid: its first null run comes after values.
    let late =
        Float64Array::from_iter((0..n).map(|i| (!(2000..2400).contains(&i)).then(|| value(i))));
    let schema = Arc::new(Schema::new(vec![
        Field::new("a", DataType::Float64, true),
        Field::new("b", DataType::Float64, true),
        Field::new("c", DataType::Float64, true),
    ]));
    let columns: Vec<ArrayRef> = vec![Arc::new(runs(230)), Arc::new(scattered), Arc::new(late)];
    let batch = RecordBatch::try_new(schema.clone(), columns).unwrap();
    let file = written(
        schema,
        std::slice::from_ref(&batch),
        &Options::default(),
        false,
    );
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).unwrap();
    let meta = builder.metadata().clone();
    let got: Vec<RecordBatch> = builder.build().unwrap().map(Result::unwrap).collect();
    let got = concat(&got);
    for c in 0..3 {
        let (g, w) = (
            got.column(c).as_primitive::<Float64Type>(),
            batch.column(c).as_primitive::<Float64Type>(),
        );
        assert_eq!(g.nulls(), w.nulls(), "column {c} validity");
        for i in (0..n).filter(|&i| w.is_valid(i)) {
            assert_eq!(
                g.value(i).to_bits(),
                w.value(i).to_bits(),
                "column {c} row {i}"
            );
        }
        // Statistics from the data itself: nulls counted, NaN left out of min and max.
        let stats = meta.row_group(0).column(c).statistics().unwrap();
        assert_eq!(
            stats.null_count_opt(),
            Some(w.null_count() as u64),
            "column {c} nulls"
        );
        let present = || w.iter().flatten().filter(|v| !v.is_nan());
        let (lo, hi) = (
            present().fold(f64::INFINITY, f64::min),
            present().fold(f64::NEG_INFINITY, f64::max),
        );
        let bytes = |b: Option<&[u8]>| f64::from_le_bytes(b.unwrap().try_into().unwrap());
        assert_eq!(bytes(stats.min_bytes_opt()), lo, "column {c} min");
        assert_eq!(bytes(stats.max_bytes_opt()), hi, "column {c} max");
    }
}

#[test]
fn parquet_float_columns_read_back_whatever_their_nulls_do_from_batch_to_batch() {
    // One row group of four batches. Each column's first batch decides how it is written (its
    // runs one by one when it has a few long ones, else through the Arrow layer); later batches
    // change the pattern: long runs then scattered nulls, scattered then long runs, all null,
    // none null, and runs of values and of nulls longer than a level slice (8,192) and than a
    // page (1 MiB of values).
    let sizes = [3000usize, 200_000, 40, 9000];
    let value = |i: usize| ((i as f64) * 0.61).cos() * 1e4 + i as f64;
    type Rule = fn(usize, usize) -> bool;
    let rules: [Rule; 5] = [
        // batch b, row i: has a value?
        |b, i| {
            if b % 2 == 0 {
                i % 1000 >= 300
            } else {
                i % 3 != 1
            }
        },
        |b, i| {
            if b % 2 == 0 {
                i % 3 != 1
            } else {
                i % 1000 >= 300
            }
        },
        |b, _| b == 1 || b == 3,
        |b, i| b != 2 || i < 5,
        |_, i| i < 10 || (1000..2000).contains(&i) || i >= 150_000,
    ];
    let fields: Vec<Field> = (0..rules.len())
        .map(|c| Field::new(format!("c{c}"), DataType::Float64, true))
        .collect();
    let schema = Arc::new(Schema::new(fields));
    let batches = float_batches(&schema, &sizes, |c, b, i, t| {
        rules[c](b, i).then(|| value(t))
    });
    let options = Options {
        row_group_rows: usize::MAX,
        ..Options::default()
    };
    let file = written(schema, &batches, &options, false);
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).unwrap();
    assert_eq!(builder.metadata().num_row_groups(), 1);
    let got: Vec<RecordBatch> = builder.build().unwrap().map(Result::unwrap).collect();
    let (got, want) = (concat(&got), concat(&batches));
    for c in 0..rules.len() {
        let (g, w) = (
            got.column(c).as_primitive::<Float64Type>(),
            want.column(c).as_primitive::<Float64Type>(),
        );
        assert_eq!(g.len(), w.len(), "column {c} rows");
        assert_eq!(g.nulls(), w.nulls(), "column {c} validity");
        for i in (0..w.len()).filter(|&i| w.is_valid(i)) {
            assert_eq!(
                g.value(i).to_bits(),
                w.value(i).to_bits(),
                "column {c} row {i}"
            );
        }
    }
}

/// The statistics of every Float64 column chunk (min, max, nulls, NaN count, the definition
/// level histogram) are those arrow-rs's own writer computes from the same batches: signed
/// zeros, NaN among numbers, only NaN, only nulls, a column that cannot be null, and columns
/// written run by run, gathered, or through the Arrow layer.
#[test]
fn parquet_float_statistics_are_those_arrow_rs_computes() {
    let sizes = [5000usize, 3000, 64];
    let value = |i: usize| ((i as f64) * 0.29).sin() * 10.0;
    type Rule = fn(usize, usize, f64) -> Option<f64>;
    let rules: [(Rule, bool); 8] = [
        // batch b, row i, a number: the value, or a null. Long null runs: written run by run.
        (|_, i, v| (i % 1000 >= 200).then_some(v), true),
        // Scattered nulls: through the Arrow layer.
        (|_, i, v| (i % 3 != 0).then_some(v), true),
        (
            |b, i, _| Some(if (i + b) % 2 == 0 { 0.0 } else { -0.0 }),
            true,
        ),
        (
            |_, i, v| match i % 7 {
                0 => Some(f64::from_bits(0x7ff8_0000_0000_0003)),
                1 => Some(-f64::NAN),
                _ => Some(v),
            },
            true,
        ),
        // Only NaN, of several payloads and both signs.
        (
            |b, i, _| {
                (i % 1000 >= 200).then_some(match (b + i) % 3 {
                    0 => f64::NAN,
                    1 => f64::from_bits(0xfff0_0000_0000_0009),
                    _ => f64::from_bits(0x7ff0_0000_0000_0002),
                })
            },
            true,
        ),
        (|_, _, _| None, true),
        (|_, _, v| Some(v), false),
        // Long runs, then a batch of scattered nulls: gathered.
        (
            |b, i, v| (if b == 1 { i % 3 != 0 } else { i % 1000 >= 200 }).then_some(v),
            true,
        ),
    ];
    let fields: Vec<Field> = rules
        .iter()
        .enumerate()
        .map(|(c, (_, nullable))| Field::new(format!("c{c}"), DataType::Float64, *nullable))
        .collect();
    let schema = Arc::new(Schema::new(fields));
    let batches = float_batches(&schema, &sizes, |c, b, i, t| rules[c].0(b, i, value(t)));
    let options = Options {
        row_group_rows: usize::MAX,
        ..Options::default()
    };
    let ours = ParquetRecordBatchReaderBuilder::try_new(written(
        schema.clone(),
        &batches,
        &options,
        false,
    ))
    .unwrap()
    .metadata()
    .clone();
    let props = parquet::file::properties::WriterProperties::builder()
        .set_statistics_enabled(parquet::file::properties::EnabledStatistics::Chunk)
        .build();
    let mut theirs = parquet::arrow::ArrowWriter::try_new(Vec::new(), schema, Some(props)).unwrap();
    for b in &batches {
        theirs.write(b).unwrap();
    }
    let theirs = theirs.into_inner().unwrap();
    let theirs = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(theirs))
        .unwrap()
        .metadata()
        .clone();
    assert_eq!(ours.num_row_groups(), 1);
    for c in 0..rules.len() {
        let (got, want) = (ours.row_group(0).column(c), theirs.row_group(0).column(c));
        assert_same_statistics(got, want, &format!("column {c}"));
    }
}

#[test]
fn parquet_row_groups_gather_whole_batches() {
    let options = Options {
        row_group_rows: 50,
        ..Options::default()
    };
    let file = written(schema(), &batches(), &options, false);
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).unwrap();
    let groups: Vec<i64> = builder
        .metadata()
        .row_groups()
        .iter()
        .map(|g| g.num_rows())
        .collect();
    assert_eq!(
        groups,
        vec![55, 7],
        "30 + 25 reach 50; the last batch closes the last group"
    );
    let got: Vec<RecordBatch> = builder.build().unwrap().map(Result::unwrap).collect();
    assert_same(&concat(&got), &concat(&batches()));
}

#[test]
fn arrow_stream_round_trips_with_nulls_and_counts_its_rows() {
    let (file, summary) = write_all(Format::Arrow, Compression::Lz4, false);
    let reader = arrow_ipc::reader::StreamReader::try_new(file, None).unwrap();
    let got: Vec<RecordBatch> = reader.map(Result::unwrap).collect();
    assert_eq!(got.len(), 3, "one message per batch");
    assert_same(&concat(&got), &concat(&batches()));
    assert_eq!(summary.format, Format::Arrow);
}

#[test]
fn csv_prints_floats_readers_keep_as_floats_and_quotes_text() {
    let (mut file, summary) = write_all(Format::Csv, Compression::Lz4, false);
    let mut text = String::new();
    file.read_to_string(&mut text).unwrap();
    assert!(text.starts_with("ts,sym,trendflex_5,trendflex_20\n"));
    let mut reader = csv::ReaderBuilder::new().from_reader(text.as_bytes());
    let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(records.len(), 62);
    assert_eq!(summary.bytes, text.len() as u64);
    let want = batches();
    let mut row = 0;
    for b in &want {
        for i in 0..b.num_rows() {
            let r = &records[row];
            assert_eq!(
                r[0].parse::<i64>().unwrap(),
                b.column(0).as_primitive::<Int64Type>().value(i)
            );
            let sym = b.column(1).as_string::<i32>();
            assert_eq!(&r[1], if sym.is_valid(i) { sym.value(i) } else { "" });
            for c in 2..4 {
                let a = b.column(c).as_primitive::<Float64Type>();
                if a.is_null(i) {
                    assert_eq!(&r[c], "", "row {row} column {c} is missing");
                } else {
                    assert!(
                        r[c].contains('.') || r[c].contains('e'),
                        "{} reads as a float",
                        &r[c]
                    );
                    assert_eq!(r[c].parse::<f64>().unwrap().to_bits(), a.value(i).to_bits());
                }
            }
            row += 1;
        }
    }
}

#[test]
fn a_one_column_csv_writes_missing_rows_as_empty_quotes() {
    let schema = Arc::new(Schema::new(vec![Field::new(
        "trendflex_2",
        DataType::Float64,
        true,
    )]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![Arc::new(Float64Array::from(vec![None, None, Some(5.0), Some(-0.25)])) as ArrayRef],
    )
    .unwrap();
    let options = Options {
        format: Format::Csv,
        ..Options::default()
    };
    let mut file = written(schema, &[batch], &options, true);
    let mut text = String::new();
    file.read_to_string(&mut text).unwrap();
    assert_eq!(text, "trendflex_2\n\"\"\n\"\"\n5.0\n-0.25\n");
}

#[test]
fn held_output_reaches_the_descriptor_only_once_released() {
    let mut file = tempfile::tempfile().unwrap();
    for format in [Format::Parquet, Format::Csv, Format::Arrow] {
        file.set_len(0).unwrap();
        file.seek(SeekFrom::Start(0)).unwrap();
        let options = Options {
            format,
            hold: true,
            ..Options::default()
        };
        let mut writer = Writer::new(schema(), file.as_raw_fd(), &options).unwrap();
        let all = batches();
        writer.write(&all[0], false).unwrap();
        writer.write(&all[1], false).unwrap();
        // Parquet's encoded row groups are appended by a thread: give it time to misbehave.
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert_eq!(
            file.metadata().unwrap().len(),
            0,
            "{format:?}: nothing before release"
        );
        drop(writer);
        assert_eq!(
            file.metadata().unwrap().len(),
            0,
            "{format:?}: nothing when abandoned"
        );

        let mut writer = Writer::new(schema(), file.as_raw_fd(), &options).unwrap();
        writer.write(&all[0], false).unwrap();
        writer.write(&all[1], true).unwrap();
        writer.write(&all[2], false).unwrap();
        let summary = writer.finish(vec![]).unwrap();
        verify(&mut file, &summary).unwrap();
    }
}

#[test]
fn verify_catches_a_file_that_is_not_what_was_written() {
    for format in [Format::Parquet, Format::Csv, Format::Arrow] {
        let (mut file, summary) = write_all(format, Compression::None, false);
        let wrong_rows = Summary {
            rows: summary.rows + 1,
            ..summary
        };
        if format != Format::Csv {
            assert!(
                verify(&mut file, &wrong_rows).is_err(),
                "{format:?}: row count"
            );
        }
        file.set_len(summary.bytes - 3).unwrap();
        let e = verify(&mut file, &summary).unwrap_err().to_string();
        assert!(e.contains("bytes"), "{format:?}: {e}");
    }
}

#[test]
fn write_errors_are_os_errors() {
    let full = File::options().write(true).open("/dev/full").unwrap();
    let options = Options {
        format: Format::Csv,
        ..Options::default()
    };
    let mut writer = Writer::new(schema(), full.as_raw_fd(), &options).unwrap();
    let mut result = Ok(());
    for b in batches() {
        result = result.and_then(|_| writer.write(&b, true));
    }
    let e = result
        .and_then(|_| writer.finish(vec![]).map(|_| ()))
        .unwrap_err();
    assert_eq!(e.os_error(), Some(libc_enospc()), "{e}");
    assert_eq!(e.to_string(), "no space left on device");
}

fn libc_enospc() -> i32 {
    28
}

/// `--partition-by`: a folder per value, the partition column left out of the files, every row
/// in its partition's file in order, and each file's footer as a single file's: statistics on,
/// float column orders type-defined (which every reader uses to skip row groups).
#[test]
fn a_dataset_holds_every_row_in_its_folder_with_single_file_footers() {
    let dir = tempfile::tempdir_in(env!("CARGO_MANIFEST_DIR")).unwrap();
    let options = Options {
        format: Format::Parquet,
        partition: Some(trendflex_io::Partition {
            dir: dir.path().to_path_buf(),
            columns: vec!["sym".into()],
        }),
        ..Options::default()
    };
    let mut writer = Writer::new(schema(), -1, &options).unwrap();
    for b in batches() {
        writer.write(&b, true).unwrap();
    }
    let summary = writer
        .finish(vec![("trendflex".into(), "{}".into())])
        .unwrap();
    assert_eq!(summary.rows, 62);
    let all = concat(&batches());
    let sym = all.column(1).as_string::<i32>();
    let mut folders: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    folders.sort();
    assert_eq!(
        folders,
        [
            "sym=BTC",
            "sym=ETH, spot",
            "sym=__HIVE_DEFAULT_PARTITION__",
            "sym=say %22hi%22%0Anow"
        ]
    );
    let mut total = 0;
    for folder in folders {
        let value = folder.strip_prefix("sym=").unwrap();
        let want: Vec<usize> = (0..all.num_rows())
            .filter(|&i| match value {
                "__HIVE_DEFAULT_PARTITION__" => sym.is_null(i),
                v => sym.is_valid(i) && sym.value(i).replace('\n', "%0A").replace('"', "%22") == v,
            })
            .collect();
        let file = File::open(dir.path().join(&folder).join("part-0.parquet")).unwrap();
        let builder = ParquetRecordBatchReaderBuilder::try_new(file).unwrap();
        let meta = builder.metadata().clone();
        let orders = meta.file_metadata().column_orders().unwrap();
        assert!(
            orders
                .iter()
                .all(|o| matches!(o, parquet::basic::ColumnOrder::TYPE_DEFINED_ORDER(_))),
            "{folder}: {orders:?}"
        );
        for g in meta.row_groups() {
            for c in 1..g.num_columns() {
                assert!(
                    g.column(c)
                        .statistics()
                        .is_some_and(|s| s.min_bytes_opt().is_some()
                            || s.null_count_opt() == Some(g.num_rows() as u64)),
                    "{folder}: column {c} statistics"
                );
            }
        }
        let got = concat(
            &builder
                .build()
                .unwrap()
                .map(Result::unwrap)
                .collect::<Vec<_>>(),
        );
        assert_eq!(
            got.schema()
                .fields()
                .iter()
                .map(|f| f.name().as_str())
                .collect::<Vec<_>>(),
            ["ts", "trendflex_5", "trendflex_20"],
            "the partition column is the folder"
        );
        let indices = arrow_array::UInt32Array::from_iter_values(want.iter().map(|&i| i as u32));
        let rows = arrow_select::take::take_record_batch(&all, &indices)
            .unwrap()
            .project(&[0, 2, 3])
            .unwrap();
        assert_eq!(
            got.column(0).as_primitive::<Int64Type>(),
            rows.column(0).as_primitive::<Int64Type>(),
            "{folder}: ts"
        );
        for c in 1..3 {
            let (g, w) = (
                got.column(c).as_primitive::<Float64Type>(),
                rows.column(c).as_primitive::<Float64Type>(),
            );
            assert_eq!(g.nulls(), w.nulls(), "{folder}: column {c} nulls");
            let bits = |a: &Float64Array| {
                a.values()
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| a.is_valid(*i))
                    .map(|(_, v)| v.to_bits())
                    .collect::<Vec<_>>()
            };
            assert_eq!(bits(g), bits(w), "{folder}: column {c} bit for bit");
        }
        total += got.num_rows();
    }
    assert_eq!(total, 62);
}
