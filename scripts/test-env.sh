#!/usr/bin/env bash
# Sets up what the tests need beyond npm: a Python venv with the independent readers and peers
# the tests check against (pyarrow for Parquet and Arrow IPC, polars and pandas for how CSV is
# read, vector-ta for the reference numbers, and the duckdb CLI for the README's examples). Idempotent; quick when already done.
set -euo pipefail
cd "$(dirname "$0")/.."
PACKAGES=(pyarrow==26.0.1 polars==2.1.0 pandas==3.1.1 vector-ta==0.2.8 duckdb-cli==1.5.6 cargo-zigbuild==0.24.1)
STAMP=.venv/trendflex-test-env
if [ "$(cat "$STAMP" 2>/dev/null)" != "${PACKAGES[*]}" ]; then
  python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check "${PACKAGES[@]}"
  echo "${PACKAGES[*]}" > "$STAMP"
fi
