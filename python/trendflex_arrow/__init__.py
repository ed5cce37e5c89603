"""Arrow record batches through the ``trendflex`` command, and the same in Spark and Ray Data.

``trendflex_batches`` pipes batches through one ``trendflex ... -f arrow`` process: its stdin is an
Arrow IPC stream written by a feeder thread (so that neither pipe fills while the other waits),
the batches it writes are yielded as they arrive, and its stderr is kept by another thread and
raised, on a non-zero exit, as a ``TrendflexError`` carrying trendflex's own message.

``spark_map`` and ``ray_map`` shard a long table by its group column(s) so that every partition
holds whole groups in time order, and run one trendflex process per partition.

The executable is the ``bin`` argument, else ``$TRENDFLEX_BIN``, else ``trendflex`` on PATH; a
path ending in ``.js`` (a checkout's ``bin/run.js``) is run with ``node``. It is looked up where
the function runs: on an engine, on each worker.
"""

from __future__ import annotations

import itertools
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import threading
from typing import Iterable, Iterator, List, Optional, Sequence, Union

import pyarrow as pa
import pyarrow.ipc

__all__ = [
    "TrendflexError",
    "TrendflexNotFoundError",
    "trendflex_batches",
    "output_schema",
    "spark_map",
    "ray_map",
]

Batches = Iterable[Union[pa.RecordBatch, pa.Table]]
Names = Union[str, Sequence[str], None]

# What of trendflex's stderr a TrendflexError keeps: its last lines (the message is one line).
_MESSAGE_LINES = 20


def _where() -> str:
    """Which machine and process: an engine's error surfaces far from where it happened."""
    return f"host {socket.gethostname()}, pid {os.getpid()}"


class TrendflexError(RuntimeError):
    """trendflex exited non-zero (or died): ``returncode``, its ``stderr``, the ``command`` run.

    ``str()`` holds trendflex's own message line(s), so an engine's task error shows them.
    """

    def __init__(self, message: str, returncode: Optional[int] = None, stderr: str = "", command: Sequence[str] = ()):
        super().__init__(message)
        self.returncode = returncode
        self.stderr = stderr
        self.command = list(command)

    def __reduce__(self):
        # Engines pickle a worker's exception to the driver: keep every field.
        return (type(self), (self.args[0], self.returncode, self.stderr, self.command))


class TrendflexNotFoundError(FileNotFoundError):
    """No trendflex executable (or no node for a .js one) where the function ran."""


def _command(bin: Union[str, os.PathLike, None] = None) -> List[str]:
    """The argv prefix that runs trendflex: ``bin``, else $TRENDFLEX_BIN, else trendflex on PATH."""
    if bin is not None:
        wanted, source = os.fspath(bin), "the bin argument"
    elif os.environ.get("TRENDFLEX_BIN"):
        wanted, source = os.environ["TRENDFLEX_BIN"], "TRENDFLEX_BIN"
    else:
        wanted, source = "trendflex", "the default"
    # A bare name is looked up on PATH; anything with a slash is a path.
    path = shutil.which(wanted) if os.sep not in wanted else (wanted if os.path.isfile(wanted) else None)
    if path is None:
        searched = f" on PATH={os.environ.get('PATH', '')!r}" if os.sep not in wanted else ""
        raise TrendflexNotFoundError(
            f"trendflex executable not found on {_where()}: looked for {wanted!r} ({source}){searched}; "
            "install trendflex there, or set TRENDFLEX_BIN (or pass bin=) to its path"
        )
    path = os.path.abspath(path)
    if path.endswith(".js"):
        node = shutil.which("node")
        if node is None:
            raise TrendflexNotFoundError(
                f"node not found on PATH on {_where()}: it is needed to run {path} ({source})"
            )
        return [node, path]
    if not os.access(path, os.X_OK):
        raise TrendflexNotFoundError(f"{path} ({source}) is not executable on {_where()}")
    return [path]


def _option(args: Sequence[str], *names: str) -> Iterator[str]:
    """Values of an option given as ``--name V``, ``--name=V`` (or ``-x V``), before any ``--``."""
    for i, a in enumerate(args):
        if a == "--":
            return
        for n in names:
            if a == n and i + 1 < len(args):
                yield args[i + 1]
            elif a.startswith(n + "="):
                yield a[len(n) + 1 :]


def _stream_args(args: Sequence[str]) -> List[str]:
    """trendflex's arguments for a run that reads stdin and writes an Arrow stream to stdout."""
    if isinstance(args, (str, bytes)):
        raise TypeError(f"args is a list of arguments, e.g. ['compute', '-p', '20'], not the string {args!r}")
    args = [os.fspath(a) if isinstance(a, os.PathLike) else str(a) for a in args]
    formats = list(_option(args, "-f", "--format"))
    if any(f != "arrow" for f in formats):
        raise ValueError(f"trendflex's output here is an Arrow stream: drop -f {formats[0]}")
    if any(o != "-" for o in _option(args, "-o", "--output")):
        raise ValueError("trendflex's output here is its stdout: drop -o/--output")
    if list(_option(args, "--partition-by")):
        raise ValueError("--partition-by writes a directory, not a stream: drop it")
    return args if formats else [*args, "-f", "arrow"]


def _names(value: Names) -> List[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


class _Run:
    """One trendflex process: a thread feeds its stdin, another keeps its stderr."""

    def __init__(self, command: List[str], schema: pa.Schema, batches: Iterator):
        self.command = command
        self.schema: Optional[pa.Schema] = None  # the output's, once read
        self.stderr = b""
        self.input_error: Optional[BaseException] = None  # raised by the batches we were given
        self.pipe_error: Optional[BaseException] = None  # trendflex stopped reading
        self.proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.feeder = threading.Thread(target=self._feed, args=(schema, batches), name="trendflex-stdin", daemon=True)
        self.drainer = threading.Thread(target=self._drain, name="trendflex-stderr", daemon=True)
        self.feeder.start()
        self.drainer.start()

    def _feed(self, schema: pa.Schema, batches: Iterator) -> None:
        sink = self.proc.stdin
        try:
            writer = pa.ipc.new_stream(sink, schema)
            for b in batches:
                if isinstance(b, pa.Table):
                    writer.write_table(b)
                else:
                    writer.write_batch(b)
            writer.close()
        except OSError as e:  # a closed pipe: trendflex's exit code and stderr tell why
            self.pipe_error = e
        except BaseException as e:  # the input itself failed (or did not fit the schema)
            if self.proc.poll() is not None:
                self.pipe_error = e
            else:
                self.input_error = e
                self.proc.kill()
        finally:
            try:
                sink.close()
            except OSError:
                pass

    def _drain(self) -> None:
        self.stderr = self.proc.stderr.read()

    def batches(self) -> Iterator[pa.RecordBatch]:
        try:
            reader = pa.ipc.open_stream(self.proc.stdout)
            self.schema = reader.schema
            for batch in reader:
                yield batch
        except (pa.ArrowException, OSError) as e:
            # trendflex failed before or while writing: its exit code and message come first.
            self._finish(cause=e)
            raise
        self._finish()

    def _finish(self, cause: Optional[BaseException] = None) -> None:
        code = self.proc.wait()
        self.drainer.join()
        self.feeder.join()
        if self.input_error is not None:
            raise self.input_error
        text = self.stderr.decode("utf-8", "replace")
        if code != 0:  # trendflex's message explains; what the reader saw of it would not
            raise TrendflexError(self._message(code, text), code, text, self.command) from None
        if cause is None and self.pipe_error is not None:
            raise TrendflexError(
                f"trendflex exited 0 on {_where()} before reading all its input ({self.pipe_error})",
                code, text, self.command,
            )
        if text.strip():  # warnings (a group too short for a period): into the worker's log
            sys.stderr.write(text if text.endswith("\n") else text + "\n")

    def _message(self, code: int, text: str) -> str:
        lines = [line for line in text.splitlines() if line.strip()][-_MESSAGE_LINES:]
        if code < 0:
            try:
                how = f"was killed by {signal.Signals(-code).name}"
            except ValueError:
                how = f"was killed by signal {-code}"
        else:
            how = f"exited with code {code}"
        said = "\n".join(lines) if lines else "(nothing on stderr)"
        return f"trendflex {how} on {_where()}: {said}\n  command: {shlex.join(self.command)}"

    def close(self) -> None:
        """Stops trendflex if it still runs (the consumer stopped early or failed)."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.proc.stdout.close()
        self.drainer.join(timeout=5)
        # The feeder may be blocked in the input iterator; it is a daemon thread.
        self.feeder.join(timeout=5)


def trendflex_batches(
    batches: Batches,
    args: Sequence[str],
    *,
    bin: Union[str, os.PathLike, None] = None,
    schema: Optional[pa.Schema] = None,
) -> Iterator[pa.RecordBatch]:
    """Pipes Arrow record batches (or tables) through ``trendflex ARGS -f arrow``; yields its output.

    ``args`` are trendflex's, without the output: e.g. ``["compute", "--group-by", "symbol",
    "-p", "20", "--keep", "ts"]``. The input is stdin, the output an Arrow stream on stdout (``-f
    arrow`` is added; ``-o`` and ``--partition-by`` are refused). Batches are yielded as trendflex
    writes them. A non-zero exit raises ``TrendflexError`` with trendflex's message and exit code;
    an exception from ``batches`` is re-raised as it is. Closing the generator early stops
    trendflex.

    With no batches at all (an engine's empty partition) trendflex still needs the input's schema:
    pass ``schema=``; without it nothing is run and nothing yielded. When there are batches, their
    own schema is sent.
    """
    it = iter(batches)
    first = next(it, None)
    if first is None and schema is None:
        return
    command = [*_command(bin), *_stream_args(args)]
    if first is None:
        run = _Run(command, schema, iter(()))
    else:
        run = _Run(command, first.schema, itertools.chain([first], it))
    try:
        yield from run.batches()
    finally:
        run.close()


def output_schema(input_schema: pa.Schema, args: Sequence[str], *, bin: Union[str, os.PathLike, None] = None) -> pa.Schema:
    """The Arrow schema trendflex writes for input of ``input_schema``, as trendflex itself says.

    trendflex is sent an Arrow IPC stream of that schema and no rows, and answers a stream of no
    rows whose schema is the output's (with its ``trendflex`` metadata).
    """
    run = _Run([*_command(bin), *_stream_args(args)], input_schema, iter(()))
    try:
        for _ in run.batches():
            pass
    finally:
        run.close()
    return run.schema


def _check_grouped(args: Sequence[str], keys: List[str]) -> None:
    """A partition holds many groups: without --group-by trendflex would compute them as one series."""
    if not keys:
        raise ValueError("key: name the column(s) whose values are the series (e.g. key='symbol')")
    grouped = {c.strip() for v in _option([str(a) for a in args], "--group-by") for c in v.split(",")}
    missing = [k for k in keys if k not in grouped]
    if missing:
        raise ValueError(
            f"args must include --group-by {','.join(keys)}: each partition holds several values of "
            f"{', '.join(missing)}, which trendflex would otherwise compute as one series"
        )


def _ship_by_value(cloudpickle) -> None:
    """The function sent to workers travels by value: workers need pyarrow, not this package."""
    cloudpickle.register_pickle_by_value(sys.modules[__name__])


def _spark_to_arrow(schema, large: bool, timezone: Optional[str]) -> pa.Schema:
    """The Arrow schema of a Spark schema, as mapInArrow hands it over."""
    from pyspark.sql.pandas.types import to_arrow_schema

    try:  # pyspark 4.3 and later
        return to_arrow_schema(schema, timezone=timezone, prefers_large_types=large)
    except TypeError:  # pyspark 4.0 to 4.2: timestamps in UTC
        return to_arrow_schema(schema, prefers_large_types=large)


def _spark_function(args: List[str], bin, target: pa.Schema):
    def trendflex_partition(batches):
        for batch in trendflex_batches(batches, args, bin=bin):
            # Spark checks types exactly: trendflex writes text as utf8 whatever came in, and its
            # schema carries metadata; give Spark what it was declared.
            yield batch.replace_schema_metadata(None).cast(target)

    return trendflex_partition


def spark_map(
    df,
    args: Sequence[str],
    *,
    key: Names,
    order_by: Names = None,
    partitions: Optional[int] = None,
    bin: Union[str, os.PathLike, None] = None,
):
    """trendflex over a Spark DataFrame: one process per partition, through ``mapInArrow``.

    ``df.repartition(partitions, *key).sortWithinPartitions(*key, *order_by)``, so that every
    partition holds whole groups, each in time order; ``args`` must group by ``key`` (``--group-by
    symbol``). ``order_by`` is the column(s) that order a group's rows (a timestamp): without it
    rows reach trendflex in whatever order the shuffle leaves them. ``partitions=None`` leaves the
    number to Spark (``spark.sql.shuffle.partitions``). The output schema is asked of trendflex on
    the driver (``output_schema``), so the driver needs the executable too.
    """
    from pyspark import cloudpickle
    from pyspark.sql.pandas.types import from_arrow_schema

    keys, order = _names(key), _names(order_by)
    _check_grouped(args, keys)
    args = _stream_args(args)
    spark = df.sparkSession
    large = str(spark.conf.get("spark.sql.execution.arrow.useLargeVarTypes", "false")).lower() == "true"
    timezone = spark.conf.get("spark.sql.session.timeZone", None)
    arrow_in = _spark_to_arrow(df.schema, large, timezone)
    # A timestamp without a time zone is TimestampNTZ, as Spark sent it.
    declared = from_arrow_schema(output_schema(arrow_in, args, bin=bin), prefer_timestamp_ntz=True)
    target = _spark_to_arrow(declared, large, timezone)
    _ship_by_value(cloudpickle)
    parts = df.repartition(partitions, *keys) if partitions else df.repartition(*keys)
    return parts.sortWithinPartitions(*keys, *order).mapInArrow(_spark_function(args, bin, target), declared)


def _ray_function(args: List[str], bin, order: List[str]):
    def trendflex_block(table: pa.Table):
        if order and table.num_rows:
            table = table.sort_by([(c, "ascending") for c in order])
        for batch in trendflex_batches(table.to_batches(), args, bin=bin):
            # Blocks' schemas are unified: trendflex's metadata differs from run to run.
            yield pa.Table.from_batches([batch.replace_schema_metadata(None)])

    return trendflex_block


def ray_map(
    ds,
    args: Sequence[str],
    *,
    key: Names,
    order_by: Names = None,
    partitions: Optional[int] = None,
    bin: Union[str, os.PathLike, None] = None,
):
    """trendflex over a Ray Dataset: one process per block, through ``map_batches``.

    ``ds.repartition(partitions, keys=key, sort=True)`` hash-partitions whole groups into blocks;
    each block is sorted by ``key`` and ``order_by`` (Ray sorts by the keys only) and piped
    whole (``batch_size=None``) through trendflex. ``args`` must group by ``key``.
    ``partitions=None`` is the cluster's CPU count.
    """
    import ray
    from ray import cloudpickle

    keys, order = _names(key), _names(order_by)
    _check_grouped(args, keys)
    args = _stream_args(args)
    if partitions is None:
        cpus = ray.cluster_resources().get("CPU") if ray.is_initialized() else os.cpu_count()
        partitions = max(1, int(cpus or 1))
    _ship_by_value(cloudpickle)
    fn = _ray_function(args, bin, keys + order if order else [])
    return ds.repartition(partitions, keys=keys, sort=True).map_batches(fn, batch_size=None, batch_format="pyarrow")
