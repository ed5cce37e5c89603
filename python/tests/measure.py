"""What one engine partition costs in trendflex: start-up, and throughput through the pipe.

    TRENDFLEX_BIN=/path/to/bin/run.js python measure.py DIR [RUNS]

DIR gets the 1M-row table of engines.py (made if missing). Printed, with medians:
- start-up: bare node, `trendflex --version`, and spawn to first output batch through
  trendflex_batches for a tiny partition (10 rows);
- throughput, alternated A B A B so that drift hits both alike: compute --group-by symbol -p 20
  -f arrow with an Arrow IPC stream on stdin (A, the engines' path, by the shell: file to stdin,
  stdout to /dev/null; and A2, through trendflex_batches, pyarrow writing and reading), against
  the same job from a Parquet file to a Parquet file (B). Wall seconds and peak RSS (/usr/bin/time).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time

import pyarrow as pa
import pyarrow.ipc as ipc
import pyarrow.parquet as pq

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import engines  # noqa: E402 - the test table

import trendflex_arrow as tfa  # noqa: E402

ARGS = ["compute", "--group-by", "symbol", "-p", "20"]


def timed(argv, stdin=None):
    """Wall seconds and peak RSS (MB) of one run, by /usr/bin/time."""
    r = subprocess.run(["/usr/bin/time", "-f", "%e %M", *argv], stdin=stdin, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, text=True, check=False)
    last = r.stderr.strip().splitlines()[-1]
    if r.returncode != 0:
        raise RuntimeError(f"{argv}: exit {r.returncode}: {r.stderr}")
    wall, rss = last.split()
    return float(wall), int(rss) / 1024


def median(xs):
    return statistics.median(xs)


def main(out, runs):
    os.makedirs(out, exist_ok=True)
    if not os.path.exists(os.path.join(out, "table.arrow")):
        engines.make_tables(out)
    node_bin = tfa._command()
    arrow = os.path.join(out, "table.arrow")
    parquet = os.path.join(out, "table.parquet")
    with pa.OSFile(arrow) as f:
        table = ipc.open_stream(f).read_all()
    if not os.path.exists(parquet):
        pq.write_table(table, parquet)
    print(f"table: {table.num_rows} rows, {os.path.getsize(arrow) / 1e6:.1f} MB Arrow, "
          f"{os.path.getsize(parquet) / 1e6:.1f} MB Parquet; command {' '.join(node_bin)}")

    # Start-up.
    bare = [timed(["node", "-e", "0"])[0] for _ in range(runs)]
    version = [timed([*node_bin, "--version"])[0] for _ in range(runs)]
    tiny = table.slice(0, 10).combine_chunks().to_batches()
    first = []
    for _ in range(runs):
        start = time.perf_counter()
        gen = tfa.trendflex_batches(tiny, ["compute", "--group-by", "symbol", "-p", "2"])
        next(gen)
        first.append(time.perf_counter() - start)
        gen.close()
    print(f"start-up, median of {runs}: bare node {median(bare):.2f} s; trendflex --version {median(version):.2f} s; "
          f"spawn to first batch (10 rows, trendflex_batches) {median(first):.2f} s")

    # Throughput, alternated.
    a, a2, b = [], [], []
    out_parquet = os.path.join(out, "measure-out.parquet")
    for i in range(runs):
        with open(arrow, "rb") as f:
            a.append(timed([*node_bin, *ARGS, "-f", "arrow"], stdin=f))
        start = time.perf_counter()
        rows = sum(batch.num_rows for batch in tfa.trendflex_batches(table.to_batches(max_chunksize=10_000), ARGS))
        a2.append(time.perf_counter() - start)
        assert rows == table.num_rows
        b.append(timed([*node_bin, ARGS[0], parquet, *ARGS[1:], "-o", out_parquet]))
        print(f"  run {i + 1}: A {a[-1][0]:.2f} s {a[-1][1]:.0f} MB | A2 {a2[-1]:.2f} s | B {b[-1][0]:.2f} s {b[-1][1]:.0f} MB", flush=True)
    ma, mb, ma2 = median([x[0] for x in a]), median([x[0] for x in b]), median(a2)
    n = table.num_rows
    print(f"A  Arrow stdin -> Arrow stdout (shell):        median {ma:.2f} s, {n / ma / 1e6:.2f} M rows/s, "
          f"peak RSS {median([x[1] for x in a]):.0f} MB")
    print(f"A2 Arrow through trendflex_batches (Python):   median {ma2:.2f} s, {n / ma2 / 1e6:.2f} M rows/s")
    print(f"B  Parquet file -> Parquet file:               median {mb:.2f} s, {n / mb / 1e6:.2f} M rows/s, "
          f"peak RSS {median([x[1] for x in b]):.0f} MB")
    print(f"ratio B/A {mb / ma:.2f}, B/A2 {mb / ma2:.2f}")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 5)
