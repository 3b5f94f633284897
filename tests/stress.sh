#!/usr/bin/env bash
# Flake hunt: run the whole suite N times in a row, each in a fresh clone of HEAD, optionally with
# both cores kept busy and the test order shuffled. A test that fails even once is a bug to fix
# at its cause (a wait for the state it needs), never with a longer sleep or a retry.
#
#   tests/stress.sh [--runs N] [--load] [--shuffle] [--keep]
#
# --load     two CPU hogs (one per core) run beside the suite for the whole run
# --shuffle  pytest-random-order shuffles tests within each module (seed printed in the log)
# Results: one line per run on stdout ("run 3/10 load=yes shuffle=no: PASS 560 passed in 612 s");
# each run's full log stays in the scratch directory printed at the start.
set -uo pipefail
runs=10 load=no shuffle=no keep=no
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs=$2; shift ;;
    --load) load=yes ;;
    --shuffle) shuffle=yes ;;
    --keep) keep=yes ;;
    *) echo "usage: $0 [--runs N] [--load] [--shuffle] [--keep]" >&2; exit 2 ;;
  esac
  shift
done
repo=$(cd "$(dirname "$0")/.." && pwd)
scratch=$(mktemp -d "${TMPDIR:-/tmp}/store-agent-stress.XXXXXX")
echo "stress: $runs run(s) of $(git -C "$repo" rev-parse --short HEAD), logs in $scratch"
hogs=()
stop_hogs() { [ ${#hogs[@]} -eq 0 ] || kill "${hogs[@]}" 2>/dev/null; hogs=(); }
trap 'stop_hogs; [ "$keep" = yes ] || rm -rf "$scratch"' EXIT
failed=0
for i in $(seq 1 "$runs"); do
  clone="$scratch/clone-$i"
  git clone -q "$repo" "$clone"
  commit=$(git -C "$clone" rev-parse --short HEAD)
  extra=()
  [ "$shuffle" = yes ] && extra+=(--random-order)
  if [ "$load" = yes ]; then
    for _ in 1 2; do (while :; do :; done) & hogs+=($!); done
  fi
  start=$(date +%s)
  (cd "$clone" && ./install.sh --test "${extra[@]}") >"$scratch/run-$i.log" 2>&1
  rc=$?
  stop_hogs
  summary=$(grep -E '^=+ .*(passed|failed).* =+$' "$scratch/run-$i.log" | tail -1 | tr -d '=')
  if [ $rc -eq 0 ]; then verdict=PASS; else verdict=FAIL; failed=$((failed + 1)); fi
  echo "run $i/$runs $commit load=$load shuffle=$shuffle: $verdict${summary:+ $summary} ($(( $(date +%s) - start )) s)"
  [ $rc -eq 0 ] || grep -E '^(FAILED|ERROR) ' "$scratch/run-$i.log" | sed 's/^/    /'
  rm -rf "$clone"
done
echo "stress: $failed of $runs run(s) failed"
[ $failed -eq 0 ]
