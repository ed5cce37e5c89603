//! The job pipeline end to end, from a CSV file to a Parquet (or CSV) file, read back with the
//! arrow-rs Parquet reader: values equal to the core's one-shot scalar computation over the whole
//! series (checked against the definition's oracle in trendflex-core's tests), for any chunk
//! size, one period or many, with leading missing prices and a short last chunk; nulls exactly
//! where a period has no value; input and output errors as error values, by stage; stopping.

use std::fs::File;
use std::io::Write as _;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::sync::atomic::Ordering;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type};
use arrow_array::{Array, RecordBatch};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use trendflex_core::{Flavor, Kernel, Series};
use trendflex_io::pipeline::{Failure, One, Plan, Progress, run};
use trendflex_io::readers::{GapMode, Input, Keep, Source, SourceOptions};
use trendflex_io::{Format, Options};

use crate::assert_same_statistics;

/// `rows` prices (the first `missing` of them empty) as a CSV of `ts,close`.
fn csv_input(dir: &Path, rows: usize, missing: usize) -> (std::path::PathBuf, Vec<f64>) {
    let path = dir.join("prices.csv");
    let mut f = std::io::BufWriter::new(File::create(&path).unwrap());
    writeln!(f, "ts,close").unwrap();
    let mut prices = Vec::new();
    for i in 0..rows {
        let p = 100.0 + (i as f64 / 9.0).sin() * 5.0 + (i % 7) as f64 * 0.25;
        if i < missing {
            writeln!(f, "{i},").unwrap();
            prices.push(f64::NAN);
        } else {
            writeln!(f, "{i},{p}").unwrap();
            prices.push(p);
        }
    }
    f.flush().unwrap();
    (path, prices)
}

fn source(path: &Path, chunk_rows: usize) -> Source {
    let o = SourceOptions {
        price: "close".into(),
        keep: vec![Keep {
            name: "ts".into(),
            kind: None,
        }],
        delimiter: None,
        header: true,
        keep_as_text: false,
        gaps: GapMode::Error,
        follow: false,
    };
    Source::open(&Input::Path(path.into()), &o, chunk_rows).unwrap()
}

fn plan(periods: &[usize], chunk_rows: usize, format: Format, fd: i32) -> Plan {
    Plan {
        periods: periods.to_vec(),
        result_names: periods.iter().map(|p| format!("trendflex_{p}")).collect(),
        keep_names: vec!["ts".into()],
        chunk_rows,
        most_chunk_rows: chunk_rows,
        metadata: Default::default(),
        writer: Options {
            format,
            row_group_rows: 3 * chunk_rows,
            ..Options::default()
        },
        fd,
        hold_until_settled: false,
        stop_on_signal: true,
    }
}

fn series(periods: &[usize]) -> One {
    One::new(
        Series::new(periods, Kernel::Auto, Flavor::VectorTa, 0, None).unwrap(),
        periods,
    )
}

/// Runs the job into `out` and finishes it; the rows it reports.
fn job(input: &Path, out: &File, periods: &[usize], chunk: usize) -> Result<u64, Failure> {
    let progress = Progress::default();
    let p = plan(periods, chunk, Format::Parquet, out.as_raw_fd());
    let done = run(source(input, chunk), series(periods), &p, &progress)?;
    assert_eq!(progress.rows_written.load(Ordering::Relaxed), done.rows);
    done.step.series.finish().map_err(Failure::Compute)?;
    done.writer.finish(Vec::new()).map_err(Failure::Output)?;
    Ok(done.rows)
}

fn read_back(path: &Path) -> Vec<RecordBatch> {
    ParquetRecordBatchReaderBuilder::try_new(File::open(path).unwrap())
        .unwrap()
        .build()
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[test]
fn any_chunk_size_gives_the_one_shot_values_with_nulls_where_a_period_has_none() {
    let dir = tempfile::tempdir().unwrap();
    let (input, prices) = csv_input(dir.path(), 1000, 3);
    for periods in [vec![5], vec![5, 9, 20, 64]] {
        let mut expected = vec![0.0; prices.len() * periods.len()];
        trendflex_core::trendflex_batch_into(&prices, &periods, Kernel::Scalar, 1, &mut expected)
            .unwrap();
        for chunk in [1, 7, 64, 333, 1000, 4096] {
            let path = dir.path().join("out.parquet");
            let out = File::create(&path).unwrap();
            assert_eq!(job(&input, &out, &periods, chunk).unwrap(), 1000);
            let batches = read_back(&path);
            let mut row = 0;
            for b in &batches {
                let ts = b.column(0).as_primitive::<Int64Type>();
                for (r, &period) in periods.iter().enumerate() {
                    let got = b.column(1 + r).as_primitive::<Float64Type>();
                    for i in 0..b.num_rows() {
                        let t = row + i;
                        assert_eq!(ts.value(i), t as i64);
                        let want = expected[r * prices.len() + t];
                        let has_value = t >= 3 + period;
                        assert_eq!(
                            got.is_valid(i),
                            has_value,
                            "period {period} row {t} chunk {chunk}"
                        );
                        if has_value {
                            assert_eq!(
                                got.value(i).to_bits(),
                                want.to_bits(),
                                "period {period} row {t} chunk {chunk}"
                            );
                        }
                    }
                }
                row += b.num_rows();
            }
            assert_eq!(row, 1000, "chunk {chunk}");
        }
    }
}

/// The statistics of every column chunk of `path` (min, max, nulls, NaN count, definition
/// levels) are those arrow-rs's own writer computes for the same rows in the same row groups.
fn assert_statistics_as_arrow_rs_computes(path: &Path, what: &str) {
    let builder = ParquetRecordBatchReaderBuilder::try_new(File::open(path).unwrap()).unwrap();
    let ours = builder.metadata().clone();
    let schema = builder.schema().clone();
    let batches: Vec<RecordBatch> = builder.build().unwrap().map(Result::unwrap).collect();
    let all = arrow_select::concat::concat_batches(&schema, &batches).unwrap();
    let props = parquet::file::properties::WriterProperties::builder()
        .set_statistics_enabled(parquet::file::properties::EnabledStatistics::Chunk)
        .build();
    let mut theirs = ArrowWriter::try_new(Vec::new(), schema, Some(props)).unwrap();
    let mut at = 0;
    for g in ours.row_groups() {
        let rows = g.num_rows() as usize;
        theirs.write(&all.slice(at, rows)).unwrap();
        theirs.flush().unwrap();
        at += rows;
    }
    let theirs =
        ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(theirs.into_inner().unwrap()))
            .unwrap()
            .metadata()
            .clone();
    assert_eq!(ours.num_row_groups(), theirs.num_row_groups(), "{what}");
    for (g, (a, b)) in ours
        .row_groups()
        .iter()
        .zip(theirs.row_groups())
        .enumerate()
    {
        for (c, (x, y)) in a.columns().iter().zip(b.columns()).enumerate() {
            assert_same_statistics(x, y, &format!("{what}: row group {g}, column {c}"));
        }
    }
}

/// A job's Parquet statistics, taken from each chunk's results as they are computed (one
/// period, or lane groups and their remainder), are those of the values written.
#[test]
fn a_jobs_statistics_are_those_of_the_values_written() {
    let dir = tempfile::tempdir().unwrap();
    let (input, _) = csv_input(dir.path(), 3000, 3);
    let many: Vec<usize> = (5..=31).collect();
    for periods in [vec![20], many] {
        for chunk in [7, 500, 4096] {
            let path = dir.path().join("out.parquet");
            let out = File::create(&path).unwrap();
            job(&input, &out, &periods, chunk).unwrap();
            let what = format!("{} periods, chunks of {chunk}", periods.len());
            assert_statistics_as_arrow_rs_computes(&path, &what);
        }
    }
}

#[test]
fn no_rows_give_an_output_of_the_schema_alone() {
    let dir = tempfile::tempdir().unwrap();
    let (input, _) = csv_input(dir.path(), 0, 0);
    let path = dir.path().join("out.parquet");
    let out = File::create(&path).unwrap();
    let progress = Progress::default();
    let p = plan(&[5], 16, Format::Parquet, out.as_raw_fd());
    let done = run(source(&input, 16), series(&[5]), &p, &progress).unwrap();
    assert_eq!(done.rows, 0);
    assert!(
        done.step.series.finish().is_err(),
        "an empty series fails the whole-series checks"
    );
    done.writer.finish(Vec::new()).unwrap();
    let reader = ParquetRecordBatchReaderBuilder::try_new(File::open(&path).unwrap()).unwrap();
    let names: Vec<_> = reader
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    assert_eq!(names, ["ts", "trendflex_5"]);
}

#[test]
fn too_few_prices_for_a_period_is_the_whole_series_check() {
    let dir = tempfile::tempdir().unwrap();
    let (input, _) = csv_input(dir.path(), 30, 0);
    let out = File::create(dir.path().join("out.parquet")).unwrap();
    match job(&input, &out, &[5, 40], 8) {
        Err(Failure::Compute(e)) => assert!(e.to_string().contains("40"), "{e}"),
        other => panic!(
            "expected the core's error, got {:?}",
            other.map_err(|e| format!("{e:?}"))
        ),
    }
}

#[test]
fn a_bad_price_mid_input_is_an_input_error_naming_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let (input, _) = csv_input(dir.path(), 500, 0);
    let text = std::fs::read_to_string(&input).unwrap();
    // Line 1 is the header: the price of row 300 is on line 302.
    let broken: Vec<String> = text
        .lines()
        .enumerate()
        .map(|(i, l)| {
            if i == 301 {
                "300,abc".into()
            } else {
                l.to_string()
            }
        })
        .collect();
    std::fs::write(&input, broken.join("\n") + "\n").unwrap();
    let out = File::create(dir.path().join("out.parquet")).unwrap();
    match job(&input, &out, &[5], 64) {
        Err(Failure::Input(e)) => assert!(e.to_string().contains("line 302"), "{e}"),
        other => panic!(
            "expected an input error, got {:?}",
            other.map_err(|e| format!("{e:?}"))
        ),
    }
}

#[test]
fn a_write_that_fails_mid_job_is_an_output_error() {
    let dir = tempfile::tempdir().unwrap();
    let (input, _) = csv_input(dir.path(), 200_000, 0);
    // Every write to /dev/full fails with ENOSPC.
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let periods: Vec<usize> = (5..40).collect();
    let progress = Progress::default();
    let p = plan(&periods, 4096, Format::Csv, full.as_raw_fd());
    match run(source(&input, 4096), series(&periods), &p, &progress) {
        Err(Failure::Output(e)) => assert_eq!(e.os_error(), Some(libc_enospc()), "{e}"),
        Err(other) => panic!("expected an output error, got {other:?}"),
        Ok(done) => panic!("the job wrote {} rows to /dev/full", done.rows),
    }
    let written = progress.rows_written.load(Ordering::Relaxed);
    assert!(
        written < 200_000,
        "it stopped at the failure, {written} rows in"
    );
}

fn libc_enospc() -> i32 {
    28 // ENOSPC on Linux
}

#[test]
fn a_stopped_job_says_so_and_reads_no_further() {
    let dir = tempfile::tempdir().unwrap();
    let (input, _) = csv_input(dir.path(), 10_000, 0);
    let out = File::create(dir.path().join("out.parquet")).unwrap();
    let progress = Progress::default();
    progress.stop.store(true, Ordering::Relaxed);
    let p = plan(&[5], 100, Format::Parquet, out.as_raw_fd());
    assert!(matches!(
        run(source(&input, 100), series(&[5]), &p, &progress),
        Err(Failure::Stopped)
    ));
    let read = progress.rows_read.load(Ordering::Relaxed);
    assert!(read <= 200, "at most the two chunks read ahead: {read}");
}

/// `rows` rows of `sym,close`, the symbols taking turns (interleaved) or one after another
/// (stacked); each symbol's prices, in order.
fn grouped_input(
    dir: &Path,
    groups: usize,
    rows: usize,
    interleaved: bool,
) -> (std::path::PathBuf, Vec<Vec<f64>>) {
    let path = dir.join("groups.csv");
    let mut f = std::io::BufWriter::new(File::create(&path).unwrap());
    writeln!(f, "sym,close").unwrap();
    let mut prices = vec![Vec::new(); groups];
    for i in 0..rows {
        let g = if interleaved {
            i % groups
        } else {
            i * groups / rows
        };
        let p = 50.0 * (g + 1) as f64 + (i as f64 / (5.0 + g as f64)).cos() * 3.0;
        writeln!(f, "S{g},{p}").unwrap();
        prices[g].push(p);
    }
    f.flush().unwrap();
    (path, prices)
}

/// Runs `groups` groups of `rows` rows in all through a grouped job in chunks of `chunk` rows
/// (growing up to `most`), checks every group's values against the group alone (the scalar
/// kernel), bit for bit, and its statistics; returns the rows of the output's row groups (of
/// three chunks' rows or a chunk more).
fn check_groups(
    dir: &Path,
    groups: usize,
    rows: usize,
    interleaved: bool,
    chunk: usize,
    most: usize,
) -> Vec<i64> {
    use trendflex_io::grouped::{Groups, GroupsPlan};
    let periods = [5usize, 12, 40];
    let (input, prices) = grouped_input(dir, groups, rows, interleaved);
    let expected: Vec<Vec<f64>> = prices
        .iter()
        .map(|p| {
            let mut out = vec![0.0; p.len() * periods.len()];
            trendflex_core::trendflex_batch_into(p, &periods, Kernel::Scalar, 1, &mut out).unwrap();
            out
        })
        .collect();
    let path = dir.join("out.parquet");
    let out = File::create(&path).unwrap();
    let o = SourceOptions {
        price: "close".into(),
        keep: vec![Keep {
            name: "sym".into(),
            kind: None,
        }],
        delimiter: None,
        header: true,
        keep_as_text: false,
        gaps: GapMode::Keep,
        follow: false,
    };
    let source = Source::open(&Input::Path(input.clone()), &o, chunk).unwrap();
    let step = Groups::new(GroupsPlan {
        periods: periods.to_vec(),
        kernel: Kernel::Auto,
        flavor: Flavor::VectorTa,
        threads: 0,
        gaps: GapMode::Error,
        keys: vec!["sym".into()],
        kept: Vec::new(),
        column: "close".into(),
        resume: None,
        strict: false,
        lines: true,
    })
    .unwrap();
    let mut p = plan(&periods, chunk, Format::Parquet, out.as_raw_fd());
    p.keep_names = vec!["sym".into()];
    p.most_chunk_rows = most;
    let done = run(source, step, &p, &Progress::default()).unwrap();
    assert_eq!((done.rows, done.step.groups()), (rows as u64, groups));
    assert!(done.step.finish().is_empty());
    done.writer.finish(Vec::new()).unwrap();
    let mut seen = vec![0usize; groups];
    for b in read_back(&path) {
        let sym = b.column(0).as_string::<i32>();
        for i in 0..b.num_rows() {
            let g: usize = sym.value(i)[1..].parse().unwrap();
            let t = seen[g];
            for (r, &period) in periods.iter().enumerate() {
                let got = b.column(1 + r).as_primitive::<Float64Type>();
                let want = expected[g][r * prices[g].len() + t];
                let what = format!(
                    "group {g} row {t} period {period} chunk {chunk} (up to {most}) interleaved {interleaved}"
                );
                assert_eq!(got.is_valid(i), t >= period, "{what}");
                if t >= period {
                    assert_eq!(got.value(i).to_bits(), want.to_bits(), "{what}");
                }
            }
            seen[g] += 1;
        }
    }
    assert_eq!(seen, prices.iter().map(Vec::len).collect::<Vec<_>>());
    let what =
        format!("{groups} groups, chunks of {chunk} (up to {most}), interleaved {interleaved}");
    assert_statistics_as_arrow_rs_computes(&path, &what);
    let footer = ParquetRecordBatchReaderBuilder::try_new(File::open(&path).unwrap()).unwrap();
    footer
        .metadata()
        .row_groups()
        .iter()
        .map(|g| g.num_rows())
        .collect()
}

#[test]
fn every_group_gets_its_own_series_whatever_the_chunks_and_the_order() {
    let dir = tempfile::tempdir().unwrap();
    for interleaved in [true, false] {
        for chunk in [1, 50, 299, 4096] {
            check_groups(dir.path(), 3, 900, interleaved, chunk, chunk);
        }
    }
}

/// Interleaved groups with several rows each per chunk ask for longer chunks: after the first
/// chunk, chunks take the most rows allowed, and every value stays that of the group alone. A
/// stacked table, and interleaved groups of about a row each per chunk, keep their chunks.
#[test]
fn chunks_grow_for_the_groups_of_an_interleaved_table() {
    let dir = tempfile::tempdir().unwrap();
    // 40 groups, 7.5 rows each per chunk of 300: 300 and 300 (the reader had both buffers
    // already), then 600 at a time, in row groups of at least 900 rows.
    let grown = check_groups(dir.path(), 40, 4000, true, 300, 600);
    assert_eq!(
        grown,
        [1200, 1200, 1200, 400],
        "interleaved, 7.5 rows per group and chunk"
    );
    let kept = [900, 900, 900, 900, 400];
    assert_eq!(
        check_groups(dir.path(), 40, 4000, false, 300, 600),
        kept,
        "stacked"
    );
    // 100 groups, 3 rows each per chunk.
    let kept = check_groups(dir.path(), 100, 6000, true, 300, 600);
    assert_eq!(
        kept,
        [900, 900, 900, 900, 900, 900, 600],
        "100 interleaved groups"
    );
}
