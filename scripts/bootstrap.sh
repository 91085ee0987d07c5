#!/usr/bin/env bash
# Creates .venv and installs sprintboard with its dev dependencies; quick when nothing changed.
# The editable install uses editable_mode=strict (a link tree), the only mode in which mypy
# can see packages mapped with package-dir; the link tree lists files, so it is rebuilt when
# the set of package files or pyproject.toml changes.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
if [ ! -x .venv/bin/uv ]; then
  .venv/bin/pip install -q uv
fi
key=$( { sha256sum pyproject.toml
         find sprintboard board sprints agents a2a tools memory -type f \
              -not -path '*/__pycache__/*' -not -name '*.pyc' | LC_ALL=C sort; } | sha256sum | cut -d' ' -f1 )
if [ "$(cat .venv/.sprintboard-installed 2>/dev/null || true)" != "$key" ]; then
  echo "bootstrap: installing sprintboard into .venv" >&2
  # Bytecode compiled once here: many tests start `sprintboard` and Dask workers in fresh
  # processes, and where PYTHONDONTWRITEBYTECODE is set each one would compile every module.
  .venv/bin/uv pip install --python .venv/bin/python -q --compile-bytecode -e '.[dev,dask]' \
    -C editable_mode=strict
  .venv/bin/python -m compileall -q build/__editable__.* >/dev/null
  echo "$key" > .venv/.sprintboard-installed
fi
