"""QR image benchmark: PNG files for a print run with ``antifake.qr.write_qr_files`` (zxing-cpp's
native encoder, one worker process per core), beside the loop a user would write with segno
(``segno.make_qr(url).save(path, scale=4)``, timed on a sample and scaled).

``ANTIFAKE_BENCH_ITEMS`` / 10 images (default 100,000; CI smoke-runs a small value with
``--benchmark-disable``). Target on this 2-core machine: 100,000 PNGs in <= 120 s. The machine
is shared, so the table also gives the CPU time the work took (this process and its workers):
CPU seconds / 2 cores is the wall time on an idle machine.

    python -m pytest benchmarks/test_bench_qr.py -q -s
"""

from __future__ import annotations

import os
import resource
import shutil
import time
from pathlib import Path

import pytest

import antifake as af
from antifake import qr
from reporting import print_uncaptured

pytest.importorskip("zxingcpp")
segno = pytest.importorskip("segno")

N = int(os.environ.get("ANTIFAKE_BENCH_ITEMS", "1000000"))
IMAGES = max(200, min(100_000, N // 10))
N_BASE = max(20, min(200, IMAGES // 20))
TARGET_100K_S = 120.0
BASE = "https://xacthuc.example.vn/abc"
RESULTS: dict[str, float] = {}


def _cpu() -> float:
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


@pytest.fixture(scope="module")
def urls() -> list[str]:
    key = af.IssuerKey.generate(issuer="BENCH")
    return af.issue(key, IMAGES).urls(BASE).tolist()


@pytest.fixture(scope="module", autouse=True)
def report(request):
    yield

    def show() -> None:
        if "fast" not in RESULTS or "segno" not in RESULTS:
            return
        wall, cpu, base = RESULTS["fast"], RESULTS["fast_cpu"], RESULTS["segno"]
        per_100k = wall / IMAGES * 100_000
        idle_100k = cpu / 2 / IMAGES * 100_000
        print(f"\nQR PNG files, {IMAGES:,} images, {os.cpu_count()} cores "
              f"(load {os.getloadavg()[0]:.1f})")
        print("| case | time | rate | baseline (segno loop) | ratio | target |")
        print("|---|---|---|---|---|---|")
        print(f"| write_qr_files, 2 workers | {wall:.2f} s wall, {cpu:.2f} s CPU | "
              f"{IMAGES / wall:,.0f}/s | {1 / base:,.0f}/s | {base * IMAGES / wall:.0f}x | "
              f"100,000 in <= {TARGET_100K_S:.0f} s: {per_100k:.0f} s at this load, "
              f"{idle_100k:.0f} s on 2 idle cores |")
    print_uncaptured(request, show)


def test_segno_loop(tmp_path: Path, urls: list[str]) -> None:
    t = time.perf_counter()
    for i, u in enumerate(urls[:N_BASE]):
        segno.make_qr(u.upper(), error="M").save(str(tmp_path / f"{i}.png"), scale=4)
    RESULTS["segno"] = (time.perf_counter() - t) / N_BASE


def test_write_qr_files(benchmark, tmp_path: Path, urls: list[str]) -> None:
    paths = [str(tmp_path / f"s-{i:08d}.png") for i in range(len(urls))]

    def run() -> None:
        c0, t0 = _cpu(), time.perf_counter()
        assert qr.write_qr_files(urls, paths, "png", jobs=2) == len(urls)
        RESULTS["fast"], RESULTS["fast_cpu"] = time.perf_counter() - t0, _cpu() - c0

    benchmark.pedantic(run, rounds=1, iterations=1)
    if "fast" not in RESULTS:  # --benchmark-disable still runs it once
        run()
    for i in (0, len(urls) // 2, len(urls) - 1):  # the files are real images of the URLs
        assert qr.read_qr(paths[i]) == [qr.qr_payload(urls[i])]
    shutil.rmtree(tmp_path, ignore_errors=True)
