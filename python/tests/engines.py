"""trendflex_arrow in Spark and Ray Data, run for real on this machine; test/engines.test.js drives it.

    python engines.py table DIR         the test tables, into DIR
    python engines.py unit DIR          trendflex_batches and output_schema on their own
    python engines.py spark DIR         Spark local[2]: both jobs, the failing row, reading our Parquet
    python engines.py ray DIR           Ray local: both jobs, the failing row

Each engine is started once. Every check prints one JSON line on stdout, {"check", "ok",
"detail", "seconds"}, and the script goes on to the next: the Node test asserts on each. Timings
go to stderr. The reference outputs (DIR/ref-*.arrow) are direct runs of the CLI, which the Node
test makes before it runs this; the executable is $TRENDFLEX_BIN.
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc as ipc
import pyarrow.parquet as pq

SEED = 19
SYMBOLS = 250
ROWS = 1_000_000
PARTITIONS = 4

# The two jobs of issue 19, each run by both engines and compared with one direct run.
JOBS = {
    "compute": ["compute", "--group-by", "symbol", "-p", "20", "--keep", "ts"],
    "batch": ["batch", "--group-by", "symbol", "--periods", "10,20,50", "--keep", "ts"],
}
# A missing close in the middle of one symbol: under the default --gaps error, a task error.
BAD_SYMBOL = "S013"


def log(*what):
    print(*what, file=sys.stderr, flush=True)


def report(check, ok, detail="", seconds=None):
    print(json.dumps({"check": check, "ok": bool(ok), "detail": detail, "seconds": seconds}), flush=True)


def run_check(check, fn):
    """Runs one check: fn returns a detail string, or raises (an assertion or any error)."""
    start = time.perf_counter()
    try:
        detail = fn()
        seconds = round(time.perf_counter() - start, 2)
        report(check, True, detail or "", seconds)
        log(f"{check}: ok in {seconds} s{': ' + detail if detail else ''}")
    except BaseException as e:  # noqa: BLE001 - every failure is reported, the next check runs
        seconds = round(time.perf_counter() - start, 2)
        text = "".join(traceback.format_exception_only(type(e), e)).strip()
        text = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("at "))  # Java frames
        report(check, False, text[-4000:], seconds)
        log(f"{check}: FAILED in {seconds} s: {text[-2000:]}")
        if isinstance(e, KeyboardInterrupt):
            raise


# --- the tables -------------------------------------------------------------------------------


def walks(symbols, lengths, rng):
    """Per symbol: minute timestamps from a random start, and a random walk of closes."""
    sym, ts, close = [], [], []
    for s, n in zip(symbols, lengths):
        start = 1_700_000_000_000 + int(rng.integers(0, 1_000)) * 60_000
        sym.append(np.full(n, s, dtype=object))
        ts.append(start + np.arange(n, dtype=np.int64) * 60_000)
        close.append(100 * np.exp(np.cumsum(rng.normal(0, 0.01, n))))
    return np.concatenate(sym), np.concatenate(ts), np.concatenate(close)


def table_of(sym, ts, close, order, null_at=None):
    close = pa.array(close[order], pa.float64())
    if null_at is not None:  # a null (not a NaN) at that position
        mask = np.zeros(len(close), dtype=bool)
        mask[null_at] = True
        close = pa.array(close.to_numpy(), pa.float64(), mask=mask)
    return pa.table({"symbol": pa.array(sym[order], pa.string()), "ts": pa.array(ts[order], pa.int64()), "close": close})


def write_stream(table, path):
    with ipc.new_stream(path, table.schema) as w:
        w.write_table(table, max_chunksize=65_536)


def make_tables(out):
    """shuffled.parquet (rows in random order: the engines' input) and table.arrow (the same rows
    in time order, symbols interleaved: the direct run's input); small.arrow for the Parquet
    reading checks; bad-nan.parquet and bad-null.parquet, one missing close mid-symbol."""
    rng = np.random.default_rng(SEED)
    symbols = [f"S{i:03d}" for i in range(SYMBOLS)]
    lengths = rng.integers(2_000, 6_000, SYMBOLS)
    lengths[-1] += max(0, ROWS - int(lengths.sum()))
    sym, ts, close = walks(symbols, lengths, rng)
    n = len(sym)
    shuffled = rng.permutation(n)
    pq.write_table(table_of(sym, ts, close, shuffled), os.path.join(out, "shuffled.parquet"))
    by_time = np.lexsort((rng.random(n), ts))  # time order, ties (same minute) in random order
    write_stream(table_of(sym, ts, close, by_time), os.path.join(out, "table.arrow"))

    small = [f"S{i:03d}" for i in range(20)]
    sym, ts, close = walks(small, rng.integers(200, 400, len(small)), rng)
    write_stream(table_of(sym, ts, close, np.lexsort((sym, ts))), os.path.join(out, "small.arrow"))
    # The bad tables: shuffled; one close missing in the middle of BAD_SYMBOL.
    sym, ts, close = walks(small, np.full(len(small), 600), rng)
    middle = np.flatnonzero(sym == BAD_SYMBOL)[300]
    order = rng.permutation(len(sym))
    at = int(np.flatnonzero(order == middle)[0])
    close_nan = close.copy()
    close_nan[middle] = np.nan
    pq.write_table(table_of(sym, ts, close_nan, order), os.path.join(out, "bad-nan.parquet"))
    pq.write_table(table_of(sym, ts, close, order, null_at=at), os.path.join(out, "bad-null.parquet"))
    log(f"tables: {n} rows, {SYMBOLS} symbols, into {out}")
    print(json.dumps({"rows": n, "symbols": SYMBOLS}))


# --- comparing --------------------------------------------------------------------------------


def read_stream(path):
    with pa.OSFile(path) as f:
        return ipc.open_stream(f).read_all()


def by_symbol_ts(table):
    return table.sort_by([("symbol", "ascending"), ("ts", "ascending")])


def assert_same(got, want, what):
    """Same columns, rows and values, bit for bit (nulls in the same places), once both are sorted
    by (symbol, ts); text columns may be utf8 or large_utf8."""
    assert got.column_names == want.column_names, f"{what}: columns {got.column_names}, want {want.column_names}"
    assert got.num_rows == want.num_rows, f"{what}: {got.num_rows} rows, want {want.num_rows}"
    got, want = by_symbol_ts(got), by_symbol_ts(want)
    for name in want.column_names:
        g, w = got.column(name).combine_chunks(), want.column(name).combine_chunks()
        if pa.types.is_large_string(g.type) and pa.types.is_string(w.type):
            g = g.cast(pa.string())
        assert g.type == w.type, f"{what}: column {name} is {g.type}, want {w.type}"
        assert g.null_count == w.null_count, f"{what}: column {name} has {g.null_count} nulls, want {w.null_count}"
        assert pc.all(pc.equal(g.is_null(), w.is_null())).as_py() is not False, f"{what}: column {name}: nulls differ"
        if pa.types.is_floating(w.type):  # compare the bits: NaN == NaN, -0.0 != 0.0
            g = pc.fill_null(g, 0.0).view(pa.int64())
            w = pc.fill_null(w, 0.0).view(pa.int64())
        differ = pc.invert(pc.fill_null(pc.equal(g, w), True))
        if pc.any(differ).as_py():
            i = pc.index(differ, True).as_py()
            row = {n: got.column(n)[i].as_py() for n in ("symbol", "ts") if n in got.column_names}
            raise AssertionError(f"{what}: column {name} differs at {row}: got {g[i]}, want {w[i]}")
    return f"{want.num_rows} rows, {len(want.column_names)} columns identical"


def task_error(e):
    """An engine's error for a failed job, which must carry trendflex's own (the Node test checks
    the words against a direct run's)."""
    text = f"{type(e).__name__}: {e}"
    assert "TrendflexError" in text and "trendflex exited with code 1" in text, text
    return text


# --- the package on its own -------------------------------------------------------------------


def unit_checks(out):
    import trendflex_arrow as tfa

    small = read_stream(os.path.join(out, "small.arrow"))
    args = JOBS["batch"]

    def piped():
        got = pa.Table.from_batches(tfa.trendflex_batches(small.to_batches(max_chunksize=100), args))
        return assert_same(got, read_stream(os.path.join(out, "ref-small-batch.arrow")), "piped in 100-row batches")

    def no_batches():
        assert list(tfa.trendflex_batches(iter(()), args, bin="/nonexistent")) == [], "nothing run, nothing yielded"
        return "no batches and no schema: nothing run"

    def not_found():
        try:
            list(tfa.trendflex_batches(small.to_batches(), args, bin="/nonexistent/trendflex"))
        except tfa.TrendflexNotFoundError as e:
            assert "/nonexistent/trendflex" in str(e) and f"pid {os.getpid()}" in str(e), str(e)
            return str(e)
        raise AssertionError("no TrendflexNotFoundError")

    def failure():
        try:
            list(tfa.trendflex_batches(small.to_batches(), ["compute", "--group-by", "symbol", "-p", "100000"] + ["--strict"]))
        except tfa.TrendflexError as e:
            assert e.returncode == 1 and "trendflex: " in str(e), (e.returncode, str(e))
            return f"exit {e.returncode}: {str(e).splitlines()[0]}"
        raise AssertionError("no TrendflexError")

    def early_close():
        gen = tfa.trendflex_batches(small.to_batches(max_chunksize=10), ["compute", "--group-by", "symbol", "--chunk-rows", "16"])
        next(gen)
        gen.close()  # trendflex is killed, the threads end
        return "closed after the first batch"

    def input_error():
        def broken():
            yield small.to_batches()[0]
            raise KeyError("upstream failed")

        try:
            list(tfa.trendflex_batches(broken(), args))
        except KeyError as e:
            return f"re-raised: {e!r}"
        raise AssertionError("the input's error was not re-raised")

    def schema_of_empty():  # needs the CLI's empty-Arrow-input answer (exit 0, no rows)
        schema = tfa.output_schema(small.schema, args)
        want = read_stream(os.path.join(out, "ref-small-batch.arrow")).schema
        assert schema.remove_metadata() == want.remove_metadata(), f"{schema} != {want}"
        got = list(tfa.trendflex_batches(iter(()), args, schema=small.schema))
        assert sum(b.num_rows for b in got) == 0
        return str(schema.names)

    for name, fn in [("piped", piped), ("no batches", no_batches), ("not found", not_found), ("failure", failure),
                     ("early close", early_close), ("input error", input_error), ("output_schema", schema_of_empty)]:
        run_check(f"unit: {name}", fn)


# --- Spark ------------------------------------------------------------------------------------


def spark_checks(out):
    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    from pyspark.sql import SparkSession

    import trendflex_arrow as tfa

    start = time.perf_counter()
    spark = (
        SparkSession.builder.master("local[2]")
        .appName("trendflex-engines")
        .config("spark.driver.memory", "4g")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", str(PARTITIONS))
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    log(f"spark: started in {time.perf_counter() - start:.1f} s (pyspark {spark.version})")
    df = spark.read.parquet(os.path.join(out, "shuffled.parquet"))

    def job(name):
        def check():
            result = tfa.spark_map(df, JOBS[name], key="symbol", order_by="ts", partitions=PARTITIONS)
            assert result.rdd.getNumPartitions() == PARTITIONS
            got = result.toArrow()
            return assert_same(got, read_stream(os.path.join(out, f"ref-{name}.arrow")), f"spark {name}")

        return check

    def failing():
        bad = spark.read.parquet(os.path.join(out, "bad-nan.parquet"))
        try:
            tfa.spark_map(bad, JOBS["compute"], key="symbol", order_by="ts", partitions=PARTITIONS).toArrow()
        except Exception as e:  # noqa: BLE001 - Spark's own exception type, whatever it is
            return task_error(e)
        raise AssertionError("the job succeeded")

    def read_ours(path, **kw):
        def check():
            got = spark.read.parquet(os.path.join(out, path)).toArrow()
            want = pq.read_table(os.path.join(out, path), **kw)
            want = want.select(got.column_names)  # a dataset's partition column comes last in both
            if pa.types.is_dictionary(want.schema.field("symbol").type):
                want = want.set_column(want.schema.get_field_index("symbol"), "symbol", want.column("symbol").cast(pa.string()))
            return assert_same(got, want, f"spark.read.parquet({path})")

        return check

    for name in JOBS:
        run_check(f"spark: {name}", job(name))
    run_check("spark: failing row", failing)
    run_check("spark: read batch parquet", read_ours("grid.parquet"))
    run_check("spark: read partition-by dataset", read_ours("ds", partitioning="hive"))
    spark.stop()


# --- Ray --------------------------------------------------------------------------------------


def ray_checks(out):
    import ray

    import trendflex_arrow as tfa

    start = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR", log_to_driver=False)
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    ctx.print_on_execution_start = False
    log(f"ray: started in {time.perf_counter() - start:.1f} s (ray {ray.__version__})")
    start = time.perf_counter()
    ds = ray.data.read_parquet(os.path.join(out, "shuffled.parquet")).materialize()  # read once
    log(f"ray: read shuffled.parquet in {time.perf_counter() - start:.1f} s")

    def collect(result):
        return pa.concat_tables(ray.get(result.to_arrow_refs()))

    def job(name):
        def check():
            result = tfa.ray_map(ds, JOBS[name], key="symbol", order_by="ts", partitions=PARTITIONS).materialize()
            assert result.num_blocks() >= PARTITIONS, result.num_blocks()
            return assert_same(collect(result), read_stream(os.path.join(out, f"ref-{name}.arrow")), f"ray {name}") + \
                f", {result.num_blocks()} blocks"

        return check

    def failing():
        bad = ray.data.from_arrow(pq.read_table(os.path.join(out, "bad-null.parquet")))
        try:
            tfa.ray_map(bad, JOBS["compute"], key="symbol", order_by="ts", partitions=PARTITIONS).materialize()
        except Exception as e:  # noqa: BLE001 - Ray's own exception type, whatever it is
            return task_error(e)
        raise AssertionError("the job succeeded")

    for name in JOBS:
        run_check(f"ray: {name}", job(name))
    run_check("ray: failing row", failing)
    start = time.perf_counter()
    ray.shutdown()
    log(f"ray: stopped in {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    what, out = sys.argv[1], sys.argv[2]
    {"table": make_tables, "unit": unit_checks, "spark": spark_checks, "ray": ray_checks}[what](out)
