#!/usr/bin/env bash
# Run one harness: fuzz/run.sh NAME SECONDS [extra libFuzzer flags]
# NAME is text, bulk_diff, manifest, keyfile or epcis. New inputs go to fuzz/.work/NAME (not
# committed); crashes to fuzz/.work/crashes/. PYTHON picks the interpreter (default: the
# worktree's .venv, or python3). With ASAN=1 the ASan/UBSan build of build_asan.sh is used.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
name="$1"; secs="${2:-10}"; shift 2 || true
py="${PYTHON:-}"
if [ -z "$py" ]; then
  if [ -x "$here/../.venv/bin/python" ]; then py="$here/../.venv/bin/python"; else py=python3; fi
fi
work="$here/.work/$name"; crashes="$here/.work/crashes"
mkdir -p "$work" "$crashes"
if [ "${ASAN:-0}" = 1 ]; then
  export PYTHONPATH="$here/.build-asan/lib${PYTHONPATH:+:$PYTHONPATH}"
  export LD_PRELOAD="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libubsan.so)"
  export ASAN_OPTIONS="detect_leaks=0:allocator_may_return_null=1:${ASAN_OPTIONS:-}"
  export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:${UBSAN_OPTIONS:-}"
fi
cd "$here"
exec "$py" "fuzz_$name.py" "$work" "corpus/$name" -max_total_time="$secs" \
  -artifact_prefix="$crashes/$name-" -max_len=8192 -timeout=20 -rss_limit_mb=3072 \
  -print_final_stats=1 "$@"
