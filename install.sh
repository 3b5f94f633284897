#!/usr/bin/env bash
# store-agent installer.
#   ./install.sh --test   create/update ./.venv with the dev extras and run every test
#   ./install.sh --demo   run the demo on the embedded reference OMS
# Store-PC mode (sudo ./install.sh) is documented in docs/install.md once it exists.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"
venv="$here/.venv"
python="${PYTHON:-python3}"

say()  { printf '\033[1m==> %s\033[0m\n' "$*"; }
fail() { printf 'install.sh: %s\n' "$*" >&2; exit 1; }

usage() {
  sed -n '2,5p' "$0" | sed 's/^# \{0,1\}//'
}

need_python() {
  command -v "$python" >/dev/null 2>&1 || fail "python3 is missing: install it (Debian: apt-get install python3)"
  "$python" - <<'PY' || fail "Python 3.11 or newer is needed (found $("$python" --version 2>&1))"
import sys
sys.exit(0 if sys.version_info >= (3, 11) else 1)
PY
  "$python" -c 'import venv, ensurepip' 2>/dev/null \
    || fail "the Python venv module is missing: install it (Debian: apt-get install python3-venv)"
  "$python" -c 'import sqlite3' 2>/dev/null \
    || fail "Python's sqlite3 module is missing (Debian: apt-get install libsqlite3-0, then rebuild Python)"
}

make_venv() {
  need_python
  if [ ! -x "$venv/bin/python" ]; then
    say "creating virtual environment $venv"
    "$python" -m venv "$venv" || fail "could not create $venv (Debian: apt-get install python3-venv)"
  fi
  say "installing store-agent and its ${1:-runtime} dependencies into $venv"
  "$venv/bin/python" -m pip install --quiet --upgrade pip >/dev/null 2>&1 || true
  # Editable, so tests and the demo run the code in this checkout.
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -e ".${2:-}" \
    2> >(grep -v -e 'is ignored: it is neither a file nor a directory' >&2) \
    || fail "pip could not install the dependencies (see the messages above)"
}

run_tests() {
  make_venv "development" "[dev]"
  local rc=0
  say "ruff check"
  "$venv/bin/ruff" check . || rc=1
  say "import contract (lint-imports)"
  "$venv/bin/lint-imports" || rc=1
  say "pytest"
  "$venv/bin/python" -m pytest -p no:cacheprovider "$@" || rc=$?
  if [ "$rc" -eq 0 ]; then say "all checks passed"; else say "checks FAILED (exit $rc)"; fi
  return "$rc"
}

run_demo() {
  make_venv "runtime" ""
  say "starting the demo (Ctrl-C stops it and everything it started)"
  exec "$venv/bin/store-agent" demo --dir "$here/.demo" "$@"
}

case "${1:-}" in
  --test) shift; run_tests "$@" ;;
  --demo) shift; run_demo "$@" ;;
  -h|--help) usage ;;
  "") fail "store-PC mode is not built yet; use --demo or --test (see README.md)" ;;
  *) usage >&2; fail "unknown option: $1" ;;
esac
