#!/usr/bin/env bash
# A long fuzzing campaign: the harnesses one after the other (one fuzzer process at a time,
# nice -n 10), ROUNDS rounds of SLOT seconds each (a harness stopped by a crash is restarted
# until its slot is used up). Each run imports a fresh snapshot of src/ (so rebuilding the
# extensions in place does not pull a library from under a running fuzzer). Log:
# fuzz/.work/campaign.log; crashes: fuzz/.work/crashes/.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
rounds="${ROUNDS:-3}"; slot="${SLOT:-240}"
harnesses="${HARNESSES:-text bulk_diff manifest keyfile epcis}"
log="$here/.work/campaign.log"
mkdir -p "$here/.work"
for r in $(seq 1 "$rounds"); do
  for h in $harnesses; do
    snap="$here/.work/snapshot"
    rm -rf "$snap"; mkdir -p "$snap"; cp -r "$here/../src/antifake" "$snap/"
    end=$(( $(date +%s) + slot ))
    while [ "$(date +%s)" -lt "$end" ]; do
      left=$(( end - $(date +%s) ))
      [ "$left" -lt 5 ] && break
      echo "== round $r $h ${left}s $(date -u +%H:%M:%S)" >> "$log"
      PYTHONPATH="$snap" nice -n 10 "$here/run.sh" "$h" "$left" 2>&1 \
        | grep -E "^#[0-9]+ +(DONE|INITED)|stat::|Error|error|Traceback|==[0-9]+==|crash-|timeout-|oom-" >> "$log"
    done
  done
done
echo "== campaign done $(date -u +%H:%M:%S)" >> "$log"
