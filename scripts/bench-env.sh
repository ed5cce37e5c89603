#!/usr/bin/env bash
# The benchmarks' own venv: the peers trendflex is timed against (vector-ta from PyPI, with polars
# and pyarrow to read and write) and the readers that check every output before timing.
set -euo pipefail
cd "$(dirname "$0")/.."
PACKAGES=(vector-ta==0.2.8 polars==2.1.0 pyarrow==26.0.1 pandas==3.1.1 numpy)
STAMP=bench/.venv/trendflex-bench-env
if [ "$(cat "$STAMP" 2>/dev/null)" != "${PACKAGES[*]}" ]; then
  python3 -m venv bench/.venv
  bench/.venv/bin/pip install --quiet --disable-pip-version-check "${PACKAGES[@]}"
  echo "${PACKAGES[*]}" > "$STAMP"
fi
