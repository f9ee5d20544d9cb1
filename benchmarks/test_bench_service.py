"""Lookup-service load benchmark: a real `antifake serve` process on loopback and a real HTTP
client, beside `stdlib_verify_service.py` (what a user writes with the standard library's
threaded `http.server`; it was examples/verify_service.py) measured in the same run on the same
registry.

Measured: single-code verifications per second (GET ``/api/v1/verify?code=``, keep-alive
connections, many in flight) with p50 / p99 latency; codes per second through the bulk endpoint
(POST ``/api/v1/verify`` with up to 100,000 codes). Both servers answer from the same registry
(registered stamps, claimed / decommissioned state) with per-client rate limits off.

Run (full size: 200,000 stamps registered, 100,000 codes per bulk request)::

    pytest benchmarks/test_bench_service.py -s

Smoke (CI)::

    ANTIFAKE_BENCH_ITEMS=20000 pytest benchmarks/test_bench_service.py --benchmark-disable

The client is a small asyncio HTTP/1.1 client on raw sockets (in this process, so it shares
the machine's 2 cores with the server; httpx's own per-request cost would cap the numbers
first).
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("uvicorn")

import antifake as af  # noqa: E402
from reporting import print_uncaptured  # noqa: E402

N_ITEMS = int(os.environ.get("ANTIFAKE_BENCH_ITEMS", "200000"))
N_SINGLE = max(500, min(20_000, N_ITEMS // 10))  # single-code requests per server
N_BULK = min(100_000, N_ITEMS)  # codes per bulk request
CONNS = 32
BASE = "https://xacthuc.example.vn/abc"
ROOT = Path(__file__).resolve().parents[1]
RESULTS: dict[str, str] = {}


def _env() -> dict[str, str]:
    e = dict(os.environ)
    e["PYTHONPATH"] = str(Path(af.__file__).resolve().parents[1]) + os.pathsep \
        + e.get("PYTHONPATH", "")
    return e


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    d = tmp_path_factory.mktemp("svc")
    key = af.IssuerKey.generate("VN-BENCH-01")
    batch = af.issue(key, N_ITEMS)
    ring = af.Keyring()
    ring.add(key)
    with af.Registry(d / "stamps.db", keyring=ring) as reg:
        reg.add_party("MFR-01", role="manufacturer")
        reg.register(batch, owner="MFR-01")
        pins = batch.pins()
        for i in range(0, min(N_ITEMS, 200), 2):  # some claimed stamps: the registry matters
            reg.claim(batch.urls(BASE)[i], pins[i])
    (d / "issuer.pub.json").write_text(key.public.to_json())
    batch.manifest.save(d / "batch.manifest")
    urls = batch.urls(BASE)
    return d, urls


def _start(cmd: list[str], cwd: Path) -> tuple[subprocess.Popen, str, int]:
    p = subprocess.Popen(cmd, cwd=cwd, env=_env(), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
    line = p.stdout.readline().strip()
    m = re.fullmatch(r"listening on http://([\d.]+):(\d+)/?", line)
    assert m, (line, p.stderr.read() if p.poll() is not None else "")
    return p, m.group(1), int(m.group(2))


def _stop(p: subprocess.Popen) -> None:
    p.terminate()
    try:
        p.wait(timeout=15)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
    p.stdout.close()
    p.stderr.close()


async def _read_response(r: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await r.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    m = re.search(rb"(?i)content-length: *(\d+)", head)
    body = await r.readexactly(int(m.group(1))) if m else b""
    return status, body


async def _single_load(host: str, port: int, paths: list[str]) -> tuple[float, np.ndarray]:
    """Every path once over CONNS keep-alive connections; (seconds, latencies in s)."""
    lat = np.empty(len(paths))
    nxt = iter(range(len(paths)))

    async def worker() -> None:
        r, w = await asyncio.open_connection(host, port)
        for i in nxt:
            t = time.perf_counter()
            w.write(f"GET {paths[i]} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
            status, body = await _read_response(r)
            lat[i] = time.perf_counter() - t
            assert status == 200, body[:200]
        w.close()

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONNS)))
    return time.perf_counter() - t0, lat


async def _bulk(host: str, port: int, body: bytes, rounds: int) -> tuple[float, bytes]:
    r, w = await asyncio.open_connection(host, port)
    best, last = float("inf"), b""
    for _ in range(rounds):
        t = time.perf_counter()
        w.write(f"POST /api/v1/verify HTTP/1.1\r\nHost: {host}\r\nContent-Type: "
                f"application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body)
        status, last = await _read_response(r)
        best = min(best, time.perf_counter() - t)
        assert status == 200, last[:200]
    w.close()
    return best, last


def _report(name: str, n: int, secs: float, lat: np.ndarray | None = None) -> float:
    rate = n / secs
    extra = ""
    if lat is not None:
        extra = (f", p50 {np.percentile(lat, 50) * 1e3:.2f} ms, "
                 f"p99 {np.percentile(lat, 99) * 1e3:.2f} ms")
    RESULTS[name] = f"{rate:,.0f}/s{extra}"
    return rate


def test_service_load(benchmark, world, request) -> None:
    d, urls = world
    rng = np.random.default_rng(1)
    pick = rng.integers(0, len(urls), N_SINGLE)
    from urllib.parse import quote

    ours_paths = [f"/api/v1/verify?code={quote(str(urls[i]), safe='')}" for i in pick]
    theirs_paths = [f"/v/{quote(str(urls[i]), safe='')}" for i in pick]
    bulk_codes = [str(u) for u in urls[rng.integers(0, len(urls), N_BULK)]]
    import json

    body = json.dumps({"codes": bulk_codes}).encode()
    out: dict[str, float] = {}

    def run() -> None:
        for workers in (1, 2):
            p, host, port = _start([sys.executable, "-m", "antifake.cli", "serve", "--db",
                                    "stamps.db", "--pubkey", "issuer.pub.json", "--manifest",
                                    "batch.manifest", "--base", BASE, "--port", "0",
                                    "--client-rate", "0", "--workers", str(workers)], d)
            try:
                asyncio.run(_single_load(host, port, ours_paths[:200]))  # warm up
                secs, lat = asyncio.run(_single_load(host, port, ours_paths))
                out[f"ours{workers}"] = _report(
                    f"antifake serve --workers {workers}: single verifications",
                    len(ours_paths), secs, lat)
                secs, resp = asyncio.run(_bulk(host, port, body, rounds=3))
                statuses = json.loads(resp)["statuses"]
                assert len(statuses) == N_BULK and statuses.count("AUTHENTIC") > N_BULK // 2
                out[f"bulk{workers}"] = _report(
                    f"antifake serve --workers {workers}: bulk codes ({N_BULK:,} per request)",
                    N_BULK, secs)
            finally:
                _stop(p)
        baseline = str(Path(__file__).with_name("stdlib_verify_service.py"))
        p, host, port = _start([sys.executable, baseline,
                                "--pubkey", "issuer.pub.json", "--manifest", "batch.manifest",
                                "--db", "stamps.db", "--port", "0", "--quiet"], d)
        try:
            asyncio.run(_single_load(host, port, theirs_paths[:200]))
            secs, lat = asyncio.run(_single_load(host, port, theirs_paths))
            out["theirs"] = _report("stdlib http.server service: single verifications",
                                    len(theirs_paths), secs, lat)
        finally:
            _stop(p)

    benchmark.pedantic(run, rounds=1, iterations=1)
    for w in (1, 2):
        ratio = out[f"ours{w}"] / out["theirs"]
        RESULTS[f"ratio single, --workers {w} / stdlib service"] = f"{ratio:.1f}x"
    RESULTS["ratio bulk codes/s (best) / stdlib requests/s"] = \
        f"{max(out['bulk1'], out['bulk2']) / out['theirs']:.0f}x"
    benchmark.extra_info.update(out)

    def show() -> None:
        print(f"\nlookup service on loopback ({N_SINGLE:,} single requests over {CONNS} "
              f"connections; {N_ITEMS:,} registered stamps)")
        for k, v in RESULTS.items():
            print(f"  {k:55s} {v}")

    print_uncaptured(request, show)
