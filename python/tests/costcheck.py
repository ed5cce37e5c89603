"""The README's cost model, checked against a real Spark run at a scaled-down size.

    TRENDFLEX_BIN=/path/to/bin/run.js python costcheck.py DIR [SYMBOLS ROWS_PER_SYMBOL PARTITIONS]

Defaults: 40 symbols x 50,000 rows (2M rows) in 4 partitions, `batch --group-by symbol
--periods 5:231 --keep ts`, the README's job. Printed:

1. The model's inputs, measured on the CLI alone (an Arrow IPC stream on stdin, -f arrow to
   /dev/null, /usr/bin/time): CPU seconds (user + sys) and rows per core-second for one
   partition's rows, and the CPU of a start-up (10 rows). Medians of RUNS.
2. The model's prediction for the whole job: trendflex CPU = rows / (rows per core-second) +
   partitions x start-up CPU.
3. The same job through `spark_map` on `local[2]`, written to Spark's `noop` sink (every row
   computed and moved into the JVM, nothing stored): wall seconds, and the CPU of every trendflex
   process Spark started, read from /usr/bin/time around each (TRENDFLEX_BIN is wrapped).
   Predicted against measured trendflex CPU is the check; the wall clock shows what the engine
   adds on top.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc
import pyarrow.parquet as pq

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import engines  # noqa: E402 - the table generator

import trendflex_arrow as tfa  # noqa: E402

ARGS = ["batch", "--group-by", "symbol", "--periods", "5:231", "--keep", "ts"]
RUNS = 3


def cpu_of(argv, stdin_path):
    """(wall, user + sys CPU, peak RSS MB) of one run, by /usr/bin/time."""
    with open(stdin_path, "rb") as f:
        r = subprocess.run(["/usr/bin/time", "-f", "%e %U %S %M", *argv, "-f", "arrow", "-o", "/dev/null"],
                           stdin=f, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=False)
    if r.returncode != 0:
        raise RuntimeError(f"{argv}: exit {r.returncode}: {r.stderr}")
    wall, user, system, rss = r.stderr.strip().splitlines()[-1].split()
    return float(wall), float(user) + float(system), int(rss) / 1024


def main(out, symbols, rows, partitions):
    os.makedirs(out, exist_ok=True)
    node_bin = tfa._command()
    rng = np.random.default_rng(7)
    names = [f"S{i:03d}" for i in range(symbols)]
    sym, ts, close = engines.walks(names, np.full(symbols, rows), rng)
    n = len(sym)
    shuffled = os.path.join(out, "cost-shuffled.parquet")
    pq.write_table(engines.table_of(sym, ts, close, rng.permutation(n)), shuffled)

    # 1. The model's inputs: one partition's rows (its symbols stacked, each in time order), and
    # a start-up.
    per = symbols // partitions
    part = os.path.join(out, "cost-partition.arrow")
    one = np.flatnonzero(np.isin(sym, names[:per]))
    engines.write_stream(engines.table_of(sym, ts, close, one), part)
    tiny = os.path.join(out, "cost-tiny.arrow")
    engines.write_stream(engines.table_of(sym, ts, close, one[:10]), tiny)
    runs = [cpu_of([*node_bin, *ARGS], part) for _ in range(RUNS)]
    starts = [cpu_of([*node_bin, *ARGS], tiny) for _ in range(RUNS)]
    part_cpu = statistics.median(r[1] for r in runs)
    start_cpu = statistics.median(r[1] for r in starts)
    per_core = len(one) / (part_cpu - start_cpu)
    print(f"machine: {os.cpu_count()} cores; command: {' '.join(node_bin)} {' '.join(ARGS)} -f arrow")
    print(f"1. one partition ({per} symbols x {rows} rows = {len(one):,} rows), CLI alone, median of {RUNS}: "
          f"wall {statistics.median(r[0] for r in runs):.2f} s, CPU {part_cpu:.2f} s, peak RSS "
          f"{statistics.median(r[2] for r in runs):.0f} MB; start-up (10 rows) CPU {start_cpu:.2f} s, wall "
          f"{statistics.median(r[0] for r in starts):.2f} s; so {per_core:,.0f} rows per core-second")

    # 2. The prediction.
    predicted = n / per_core + partitions * start_cpu
    print(f"2. model for {n:,} rows in {partitions} partitions: trendflex CPU = {n:,} / {per_core:,.0f} + "
          f"{partitions} x {start_cpu:.2f} = {predicted:.1f} s; on 2 cores at least {predicted / 2:.1f} s wall")

    # 3. Spark, with every trendflex process timed.
    log = os.path.join(out, "cost-times.log")
    wrapper = os.path.join(out, "cost-trendflex.sh")
    with open(wrapper, "w") as f:
        f.write("#!/bin/sh\nexec /usr/bin/time -a -o " + log + ' -f "%e %U %S %M" '
                + " ".join(node_bin) + ' "$@"\n')
    os.chmod(wrapper, 0o755)
    os.environ["TRENDFLEX_BIN"] = wrapper
    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    from pyspark.sql import SparkSession

    spark = (SparkSession.builder.master("local[2]").appName("trendflex-costcheck")
             .config("spark.driver.memory", "4g").config("spark.ui.enabled", "false")
             .config("spark.ui.showConsoleProgress", "false").getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    df = spark.read.parquet(shuffled)
    job = tfa.spark_map(df, ARGS, key="symbol", order_by="ts", partitions=partitions)
    if os.path.exists(log):
        os.remove(log)  # the driver's output_schema call: not part of the job
    start = time.perf_counter()
    job.write.format("noop").mode("overwrite").save()
    wall = time.perf_counter() - start
    spark.stop()
    with open(log) as f:
        procs = [line.split() for line in f if line.strip() and line.split()[0][0].isdigit()]
    measured = sum(float(p[1]) + float(p[2]) for p in procs)
    print(f"3. Spark local[2], {partitions} partitions, noop sink: wall {wall:.1f} s; {len(procs)} trendflex "
          f"processes, CPU {measured:.1f} s (peak RSS {max(int(p[3]) for p in procs) / 1024:.0f} MB); "
          f"measured / predicted CPU = {measured / predicted:.2f}; trendflex CPU / 2 cores is "
          f"{measured / 2 / wall:.0%} of the wall clock, the rest is Spark moving "
          f"{n * 227 * 8 / 1e9:.1f} GB of results")


if __name__ == "__main__":
    a = sys.argv[1:]
    main(a[0], *(int(x) for x in a[1:4])) if len(a) >= 4 else main(a[0], 40, 50_000, 4)
