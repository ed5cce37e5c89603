"""The routes a quant would take instead of trendflex, and the independent checks of our outputs.
Run by bench/run.mjs in bench/.venv (scripts/bench-env.sh): vector-ta from PyPI computes, polars or
pyarrow read and write. Each route does the same job as the trendflex command it is timed against.

  python bench/peers.py <route> IN OUT
  python bench/peers.py check-parquet|check-arrow|check-csv OUT IN PERIOD [PERIOD ...]
  python bench/peers.py check-groups OUT IN [PERIOD ...]
  python bench/peers.py make-input ROWS CSV [PARQUET]
  python bench/peers.py make-ohlc ROWS CSV
"""
import sys

import numpy as np


def vt_batch(close):
    import vector_ta
    r = vector_ta.trendflex_batch(close, (5, 231, 1))
    return r["values"], [int(p) for p in r["periods"]]


def polars_batch_frame(src):
    import polars as pl
    df = pl.read_csv(src, columns=["timestamp", "close"])
    values, periods = vt_batch(df["close"].to_numpy())
    return pl.DataFrame({"timestamp": df["timestamp"], **{f"trendflex_{p}": values[i] for i, p in enumerate(periods)}})


def batch_polars_parquet(src, dst):
    polars_batch_frame(src).write_parquet(dst, compression="lz4")


def batch_polars_csv(src, dst):
    polars_batch_frame(src).write_csv(dst)


def batch_pyarrow_parquet(src, dst):
    import pyarrow as pa, pyarrow.csv as csv, pyarrow.parquet as pq
    t = csv.read_csv(src, convert_options=csv.ConvertOptions(include_columns=["timestamp", "close"]))
    values, periods = vt_batch(t.column("close").to_numpy())
    cols = {"timestamp": t.column("timestamp"), **{f"trendflex_{p}": pa.array(values[i]) for i, p in enumerate(periods)}}
    pq.write_table(pa.table(cols), dst, compression="lz4")


def compute_pyarrow_parquet(src, dst):
    import pyarrow as pa, pyarrow.csv as csv, pyarrow.parquet as pq, vector_ta
    t = csv.read_csv(src, convert_options=csv.ConvertOptions(include_columns=["timestamp", "close"]))
    tf = vector_ta.trendflex(t.column("close").to_numpy(), 20)
    pq.write_table(pa.table({"timestamp": t.column("timestamp"), "trendflex_20": pa.array(tf, from_pandas=True)}), dst, compression="lz4")


def compute_polars_arrow(src, dst):
    """polars reads the two columns, vector-ta computes, polars writes an Arrow IPC stream: the
    peer of `trendflex compute -p 20 --keep timestamp -f arrow`."""
    import polars as pl, vector_ta
    df = pl.read_csv(src, columns=["timestamp", "close"])
    tf = vector_ta.trendflex(df["close"].to_numpy(), 20)
    with open(dst, "wb") as f:
        pl.DataFrame({"timestamp": df["timestamp"], "trendflex_20": tf}).write_ipc_stream(f)


def read_polars(src, runs="1"):
    """polars `read_csv` of a price and an int64 column, timed in the process, `runs` times:
    prints rows and seconds of each (the peer of the native reader alone)."""
    import time, polars as pl
    for _ in range(int(runs)):
        t = time.perf_counter()
        df = pl.read_csv(src, columns=["timestamp", "close"])
        s = time.perf_counter() - t
        assert df.schema["timestamp"] == pl.Int64 and df.schema["close"] == pl.Float64
        print(f"{df.height} rows, {s:.3f} s")


def closes(src):
    if src.endswith(".parquet"):
        import pyarrow.parquet as pq
        return pq.read_table(src, columns=["close"]).column("close").to_numpy()
    import pyarrow.csv as csv
    return csv.read_csv(src, convert_options=csv.ConvertOptions(include_columns=["close"])).column("close").to_numpy()


def compare(name, got, close, period):
    """`got` (nulls as NaN) against vector-ta's own trendflex, bit for bit."""
    import vector_ta
    want = vector_ta.trendflex(close, period)
    same = (got.view(np.int64) == want.view(np.int64)) | (np.isnan(got) & np.isnan(want))
    if not same.all():
        i = int(np.argmin(same))
        sys.exit(f"{name}: trendflex_{period}[{i}] = {got[i]!r}, vector-ta says {want[i]!r}")


def check(kind, out, src, periods):
    import pyarrow as pa, pyarrow.compute as pc
    close = closes(src)
    if kind == "check-parquet":
        import pyarrow.parquet as pq
        f = pq.ParquetFile(out)
        if f.metadata.num_rows != len(close):
            sys.exit(f"{out}: {f.metadata.num_rows} rows, the input has {len(close)}")
        col = lambda n: f.read(columns=[n]).column(n)
    elif kind == "check-arrow":
        t = pa.ipc.open_stream(pa.OSFile(out)).read_all()
        col = lambda n: t.column(n)
    else:
        import polars as pl
        d = pl.read_csv(out, columns=[f"trendflex_{p}" for p in periods], schema_overrides={f"trendflex_{p}": pl.Float64 for p in periods})
        col = lambda n: pa.chunked_array([d[n].to_arrow()])
    for p in periods:
        c = col(f"trendflex_{p}")
        if len(c) != len(close):
            sys.exit(f"{out}: {len(c)} rows, the input has {len(close)}")
        compare(out, pc.fill_null(c, float("nan")).to_numpy(), close, p)
    print("ok")


def make_input(rows, csv_path, parquet_path=None):
    """A seeded random walk at 4-decimal prices with a millisecond timestamp, as CSV (and Parquet)."""
    import pyarrow as pa, pyarrow.csv as csv, pyarrow.parquet as pq
    rng = np.random.default_rng(7)
    close = np.round(100 + np.cumsum(rng.random(rows) - 0.5), 4)
    ts = 1_700_000_000_000 + np.arange(rows, dtype=np.int64) * 60_000
    t = pa.table({"timestamp": ts, "close": close})
    csv.write_csv(t, csv_path, csv.WriteOptions(quoting_style="none"))
    if parquet_path:
        pq.write_table(t, parquet_path, row_group_size=1 << 17)


def make_ohlc(rows, csv_path):
    """A seeded random walk as bars: timestamp (ms), open and close (full precision, as a computed
    series is written) and volume; about 56 bytes a row."""
    import pyarrow as pa, pyarrow.csv as csv
    rng = np.random.default_rng(11)
    close = 100 + np.cumsum(rng.random(rows) - 0.5)
    open_ = close + (rng.random(rows) - 0.5) / 10
    ts = 1_700_000_000_000 + np.arange(rows, dtype=np.int64) * 60_000
    volume = rng.integers(100, 1_000_000, rows)
    t = pa.table({"timestamp": ts, "open": open_, "close": close, "volume": volume})
    csv.write_csv(t, csv_path, csv.WriteOptions(quoting_style="none"))


def make_wide(gigabytes, path):
    """A Parquet file past 4 GiB: many uncompressed noise columns, the price last, row groups of
    131,072 rows, written a row group at a time (memory stays small)."""
    import pyarrow as pa, pyarrow.parquet as pq
    columns, group = 120, 1 << 17
    rows = int(gigabytes * 1e9 / (8 * (columns + 1)))
    rows -= rows % group
    rng = np.random.default_rng(3)
    names = [f"noise_{i}" for i in range(columns)] + ["close"]
    schema = pa.schema([(n, pa.float64()) for n in names])
    price = 100.0
    with pq.ParquetWriter(path, schema, compression="none", use_dictionary=False, write_statistics=False) as w:
        for start in range(0, rows, group):
            noise = rng.random((columns, group))
            steps = np.cumsum(rng.random(group) - 0.5) + price
            price = float(steps[-1])
            w.write_table(pa.table([*noise, np.round(steps, 4)], schema=schema), row_group_size=group)
    print(rows)


def make_groups(symbols, rows, path, layout):
    """A long table: `symbols` symbols of `rows` rows each (timestamp, close), stacked (symbol
    after symbol) or interleaved (sorted by time)."""
    import pyarrow as pa, pyarrow.csv as csv
    rng = np.random.default_rng(5)
    close = np.round(100 + np.cumsum(rng.random((symbols, rows)) - 0.5, axis=1), 4)
    sym = np.array([f"S{i:04d}" for i in range(symbols)])
    ts = 1_700_000_000_000 + np.arange(rows, dtype=np.int64) * 60_000
    if layout == "stacked":
        t = pa.table({"symbol": np.repeat(sym, rows), "timestamp": np.tile(ts, symbols), "close": close.reshape(-1)})
    else:
        t = pa.table({"symbol": np.tile(sym, rows), "timestamp": np.repeat(ts, symbols), "close": close.T.reshape(-1)})
    csv.write_csv(t, path, csv.WriteOptions(quoting_style="none"))


def compute_pandas_groups(src, dst):
    """pandas: read, groupby(symbol).close.transform over vector-ta's trendflex, write the same
    Parquet (symbol, timestamp, trendflex_20; nulls where there is no value)."""
    import pandas as pd, vector_ta
    d = pd.read_csv(src)
    d["trendflex_20"] = d.groupby("symbol", sort=False)["close"].transform(lambda x: vector_ta.trendflex(x.to_numpy(), 20))
    d[["symbol", "timestamp", "trendflex_20"]].to_parquet(dst, compression="lz4", index=False)


def check_groups(out, src, *periods):
    """Our grouped Parquet against vector-ta run on every symbol alone, bit for bit: period 20, or
    the periods given (a symbol too short for a period must be all null there)."""
    import pandas as pd, pyarrow.parquet as pq, vector_ta
    d = pd.read_csv(src)
    table = pq.read_table(out)
    for p in [int(x) for x in periods] or [20]:
        got = table.column(f"trendflex_{p}").to_numpy(zero_copy_only=False)

        def alone(x, p=p):
            x = x.to_numpy()
            return vector_ta.trendflex(x, p) if len(x) > p else np.full(len(x), np.nan)

        want = d.groupby("symbol", sort=False)["close"].transform(alone).to_numpy()
        same = (got.view(np.int64) == want.view(np.int64)) | (np.isnan(got) & np.isnan(want))
        if not same.all():
            i = int(np.argmin(same))
            sys.exit(f"{out}: row {i}, period {p}: {got[i]!r} but vector-ta per symbol gives {want[i]!r}")


ROUTES = {
    "batch-polars-parquet": batch_polars_parquet,
    "batch-pyarrow-parquet": batch_pyarrow_parquet,
    "batch-polars-csv": batch_polars_csv,
    "compute-pyarrow-parquet": compute_pyarrow_parquet,
    "compute-pandas-groups": compute_pandas_groups,
    "compute-polars-arrow": compute_polars_arrow,
    "read-polars": read_polars,
}

if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd in ROUTES:
        ROUTES[cmd](*args)
    elif cmd == "check-groups":
        check_groups(*args)
    elif cmd.startswith("check-"):
        check(cmd, args[0], args[1], [int(p) for p in args[2:]])
    elif cmd == "make-input":
        make_input(int(args[0]), *args[1:])
    elif cmd == "make-ohlc":
        make_ohlc(int(args[0]), args[1])
    elif cmd == "make-groups":
        make_groups(int(args[0]), int(args[1]), args[2], args[3])
    elif cmd == "make-wide":
        make_wide(float(args[0]), args[1])
    else:
        sys.exit(f"unknown command {cmd}")
