#!/usr/bin/env bash
# Build antifake's Cython extensions with AddressSanitizer and UndefinedBehaviorSanitizer for
# fuzzing, in a separate tree (fuzz/.build-asan/lib), never touching the normal build.
# Use it with: ASAN=1 fuzz/run.sh NAME SECONDS   (run.sh preloads libasan/libubsan).
# gcc has no libFuzzer-compatible coverage for C, so the fuzzers' guidance comes from the
# Python code; the sanitizers catch any out-of-bounds read/write or UB in the kernels.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$here/.."
py="${PYTHON:-$root/.venv/bin/python}"
out="$here/.build-asan"
rm -rf "$out"
mkdir -p "$out/tree"
cp -r "$root/setup.py" "$root/pyproject.toml" "$out/tree/"
cp -r "$root/src" "$out/tree/src"
find "$out/tree/src" \( -name '*.so' -o -name '*.c' \) -delete
cd "$out/tree"
CFLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined -g -O1" \
LDFLAGS="-fsanitize=address,undefined" \
  nice -n 10 "$py" setup.py -q build_ext --inplace -j 2 >/dev/null
mv "$out/tree/src" "$out/lib"
rm -rf "$out/tree"
echo "ASan/UBSan build in $out/lib"
