#!/usr/bin/env bash
# Prints the instructions per operation of noesis_cost_probe modes, counted by valgrind's
# callgrind. Instruction counts barely change with machine load, unlike wall-clock figures.
#
#   bench/instruction_counts.sh PROBE SMALL LARGE [MODE...]
#   bench/instruction_counts.sh build-perf/bench/noesis_cost_probe 10000 20000 publish-raw publish-library
#
# Each mode runs twice, with SMALL and LARGE operations. (total(LARGE) - total(SMALL)) /
# (LARGE - SMALL) cancels the fixed costs (server start, connect, setup). Without MODE, every
# mode except the object-* ones runs. Those count 128 KiB chunks and take minutes under
# callgrind, so name them with counts such as 40 and 80. The totals cover every thread of the probe, cnats's threads included, but not the
# nats-server child, which callgrind does not follow.
set -euo pipefail

if [[ $# -lt 3 ]]; then
  echo "usage: $0 PROBE SMALL LARGE [MODE...]" >&2
  exit 2
fi
probe=$1
small=$2
large=$3
shift 3
if ! [[ $small =~ ^[0-9]+$ && $large =~ ^[0-9]+$ && $large -gt $small ]]; then
  echo "$0: SMALL and LARGE must be whole numbers with LARGE > SMALL (got '$small' and '$large')" >&2
  exit 2
fi
if ! command -v valgrind >/dev/null; then
  echo "$0: valgrind not found; install the Debian package valgrind" >&2
  exit 1
fi
modes=("$@")
if [[ ${#modes[@]} -eq 0 ]]; then
  modes=(publish-raw publish-library receive-raw receive-batch receive-handler kv-get-raw kv-get-library
         kv-direct-get-library js-publish-raw js-publish-library)
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Prints the instructions callgrind counted for one run of `probe MODE COUNT`.
count_instructions() {
  local mode=$1 count=$2
  if ! valgrind --tool=callgrind --callgrind-out-file="$work/out" "$probe" "$mode" "$count" \
      >"$work/log" 2>&1; then
    echo "$0: '$probe $mode $count' failed; its output:" >&2
    cat "$work/log" >&2
    exit 1
  fi
  awk '/^totals:/ { print $2 }' "$work/out"
}

printf '%-18s %16s %16s %14s\n' mode "Ir($small)" "Ir($large)" "Ir/operation"
for mode in "${modes[@]}"; do
  low=$(count_instructions "$mode" "$small")
  high=$(count_instructions "$mode" "$large")
  per_operation=$(( (high - low) / (large - small) ))
  printf '%-18s %16s %16s %14s\n' "$mode" "$low" "$high" "$per_operation"
done
