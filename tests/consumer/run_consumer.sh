#!/usr/bin/env bash
# Builds and runs one consumer project of tests/consumer, as ctest's packaging tests do.
#   run_consumer.sh find_package CMAKE WORK_DIR BUILD_TREE [CONFIGURE_ARGS...]
#     installs BUILD_TREE into WORK_DIR/prefix, then builds find_package/ against that prefix
#   run_consumer.sh subdirectory CMAKE WORK_DIR SOURCE_TREE [CONFIGURE_ARGS...]
#     builds subdirectory/ with add_subdirectory(SOURCE_TREE) in WORK_DIR/build
# CONFIGURE_ARGS (generator, compilers, flags) are passed to the consumer's configure step.
set -euo pipefail

if [[ $# -lt 4 ]]; then
  echo "usage: $0 find_package|subdirectory CMAKE WORK_DIR TREE [CONFIGURE_ARGS...]" >&2
  exit 2
fi
mode="$1" cmake="$2" work="$3" tree="$4"
shift 4
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

case "$mode" in
  find_package)
    # A fresh prefix and consumer build each run, so nothing from an earlier install is used.
    rm -rf "$work"
    mkdir -p "$work"
    "$cmake" --install "$tree" --prefix "$work/prefix" >"$work/install.log"
    "$cmake" --no-warn-unused-cli -S "$here/find_package" -B "$work/build" -DCMAKE_PREFIX_PATH="$work/prefix" "$@"
    ;;
  subdirectory)
    # The build directory is kept between runs, so only changed library sources recompile.
    "$cmake" --no-warn-unused-cli -S "$here/subdirectory" -B "$work/build" -DNOESIS_SHIP_SOURCE_DIR="$tree" "$@"
    ;;
  *)
    echo "$0: invalid mode '$mode': use find_package or subdirectory" >&2
    exit 2
    ;;
esac

"$cmake" --build "$work/build" -j 2
"$work/build/consumer"
