#!/usr/bin/env bash
# Sets up what the tests need beyond npm: a Python venv with pyarrow, the independent Parquet
# reader the CLI tests check our files with. Idempotent; quick when already done.
set -euo pipefail
cd "$(dirname "$0")/.."
PYARROW_VERSION=26.0.1
if ! .venv/bin/python -c "import pyarrow, sys; sys.exit(pyarrow.__version__ != '$PYARROW_VERSION')" 2>/dev/null; then
  python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check "pyarrow==$PYARROW_VERSION"
fi
