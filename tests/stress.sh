#!/usr/bin/env bash
# Flake hunt: run the whole suite N times, each in a fresh clone of HEAD, optionally with both
# cores kept busy, several suites side by side, and the test order shuffled. A test that fails
# even once is a bug to fix at its cause (a wait for the state it needs), never with a longer
# sleep or a retry.
#
#   tests/stress.sh [--runs N] [--parallel P] [--load] [--shuffle] [--keep]
#
# --parallel P  P suites at once (default 1: one after another); each its own clone and .venv
# --load        both cores kept busy for every run, start to end: with --parallel 1, two CPU
#               hogs run beside the suite; with several suites at once, the hogs run whenever
#               fewer than three suites are left (three suites alone keep two cores saturated)
# --shuffle     pytest-random-order shuffles tests within each module (seed printed in the log)
# Results: one line per run on stdout ("run 3/10 1a2b3c4 load=yes parallel=1 shuffle=no: PASS
# 1053 passed in 612 s"), a load-average summary per batch; each run's full log stays in the
# scratch directory printed at the start (kept with --keep).
set -uo pipefail
runs=10 parallel=1 load=no shuffle=no keep=no
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs=$2; shift ;;
    --parallel) parallel=$2; shift ;;
    --load) load=yes ;;
    --shuffle) shuffle=yes ;;
    --keep) keep=yes ;;
    *) echo "usage: $0 [--runs N] [--parallel P] [--load] [--shuffle] [--keep]" >&2; exit 2 ;;
  esac
  shift
done
repo=$(cd "$(dirname "$0")/.." && pwd)
scratch=$(mktemp -d "${TMPDIR:-/tmp}/store-agent-stress.XXXXXX")
echo "stress: $runs run(s) of $(git -C "$repo" rev-parse --short HEAD), $parallel at a time, logs in $scratch"
# The specs beside the checkout, as in CI: the test holding docs/cli.md to ../shared/cli.md runs.
[ -d "$repo/../shared" ] && ln -s "$(cd "$repo/../shared" && pwd)" "$scratch/shared"
hogs=()
start_hogs() {
  [ ${#hogs[@]} -eq 0 ] || return 0
  for _ in 1 2; do (while :; do :; done) & hogs+=($!); done
}
stop_hogs() { [ ${#hogs[@]} -eq 0 ] || kill "${hogs[@]}" 2>/dev/null; hogs=(); }
trap 'stop_hogs; [ "$keep" = yes ] || rm -rf "$scratch"' EXIT

run_one() {  # run_one I: a fresh clone, ./install.sh --test, one result line
  local i=$1 clone="$scratch/clone-$1" start rc summary verdict extra=()
  git clone -q "$repo" "$clone"
  [ "$shuffle" = yes ] && extra+=(--random-order)
  start=$(date +%s)
  (cd "$clone" && ./install.sh --test "${extra[@]}") >"$scratch/run-$i.log" 2>&1
  rc=$?
  summary=$(grep -E '^=+ .*(passed|failed).* =+$' "$scratch/run-$i.log" | tail -1 | tr -d '=')
  if [ $rc -eq 0 ]; then verdict=PASS; else verdict=FAIL; fi
  echo "run $i/$runs $(git -C "$clone" rev-parse --short HEAD) load=$load parallel=$parallel" \
       "shuffle=$shuffle: $verdict${summary:+ $summary} ($(( $(date +%s) - start )) s)"
  [ $rc -eq 0 ] || grep -E '^(FAILED|ERROR) ' "$scratch/run-$i.log" | sed 's/^/    /'
  rm -rf "$clone"
  return $rc
}

failed=0 i=0
while [ $i -lt "$runs" ]; do
  batch=()
  while [ ${#batch[@]} -lt "$parallel" ] && [ $i -lt "$runs" ]; do
    i=$((i + 1))
    run_one $i & batch+=($!)
  done
  loads=()
  while :; do  # watch the batch: keep the cores busy as promised, sample the load average
    running=0
    for pid in "${batch[@]}"; do kill -0 "$pid" 2>/dev/null && running=$((running + 1)); done
    [ $running -gt 0 ] || break
    if [ "$load" = yes ] && [ $running -lt 3 ]; then start_hogs; fi
    loads+=("$(cut -d' ' -f1 /proc/loadavg)")
    sleep 5
  done
  stop_hogs
  for pid in "${batch[@]}"; do wait "$pid" || failed=$((failed + 1)); done
  printf '%s\n' "${loads[@]}" | sort -n | awk '{a[NR]=$1} END {if (NR) printf "  load average (1 min) over the batch: min %s, median %s, max %s\n", a[1], a[int((NR+1)/2)], a[NR]}'
done
echo "stress: $failed of $runs run(s) failed"
[ $failed -eq 0 ]
