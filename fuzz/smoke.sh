#!/usr/bin/env bash
# CI smoke: every harness for SECONDS (default 5) from its committed seed corpus, without the
# sanitizer build (see build_asan.sh for that). A crash, a Python internal error escaping a
# parser or a disagreement of the differential harness fails the run (exit != 0).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
secs="${1:-5}"
for h in text bulk_diff manifest keyfile epcis; do
  echo "fuzz smoke: $h ${secs}s"
  out="$("$here/run.sh" "$h" "$secs" 2>&1)" || { echo "$out" | tail -40; exit 1; }
  echo "$out" | grep -E "^#[0-9]+[[:space:]]+DONE" || true
done
