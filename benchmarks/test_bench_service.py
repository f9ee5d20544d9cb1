"""Lookup-service load benchmark: a real `antifake serve` process on loopback and a real HTTP
client, beside `stdlib_verify_service.py` (what a user writes with the standard library's
threaded `http.server`; it was examples/verify_service.py) measured in the same run on the same
registry.

Measured:

- single-code verifications per second (GET ``/api/v1/verify?code=``, 32 keep-alive
  connections, many requests in flight) with p50 / p99 latency. The three servers (ours with 1
  and 2 workers, the stdlib one) run side by side and are measured in turn, ROUNDS times over:
  each rate is the median of its rounds, so a burst of load from elsewhere on the machine
  does not decide a ratio;
- codes per second through the bulk endpoint (POST ``/api/v1/verify`` with up to 100,000
  codes a request, ``{"codes": [...]}`` -> ``{"statuses": [...]}``): BULK_CONNS connections
  at once, each sending BULK_ROUNDS requests back to back; a round's rate is all codes
  answered over its wall time (sustained, not the best request), the rate printed the
  median of ROUNDS rounds (the best beside it); every answer is checked against the codes
  sent.

Both servers answer from the same registry (registered stamps, claimed state) with per-client
rate limits off.

Run (full size: 200,000 stamps registered, 100,000 codes per bulk request)::

    pytest benchmarks/test_bench_service.py -s

Smoke (CI)::

    ANTIFAKE_BENCH_ITEMS=20000 pytest benchmarks/test_bench_service.py --benchmark-disable

The clients run in this process, so they share the machine's 2 cores with the servers: for
single codes a small asyncio HTTP/1.1 client on raw sockets (httpx's own per-request cost would
cap the numbers first), for bulk requests the standard library's `http.client`, one thread a
connection (a 16 MB body goes out in one ``sendall``).
"""

from __future__ import annotations

import asyncio
import http.client
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("uvicorn")

import antifake as af  # noqa: E402
from reporting import print_uncaptured  # noqa: E402

N_ITEMS = int(os.environ.get("ANTIFAKE_BENCH_ITEMS", "200000"))
N_SINGLE = max(500, min(6_000, N_ITEMS // 20))  # single-code requests per server and round
N_BULK = min(100_000, N_ITEMS)  # codes per bulk request
BULK_ROUNDS = 3  # bulk requests per connection and round
BULK_CONNS = 2  # connections sending bulk requests at once
ROUNDS = 3
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


def _bulk(host: str, port: int, body: bytes, rounds: int, conns: int
          ) -> tuple[float, list[bytes]]:
    """``conns`` connections (the standard library's `http.client`, one thread each: the body
    goes out in one ``sendall``) each sending ``rounds`` bulk requests back to back: (wall
    seconds, the answers)."""
    answers: list[bytes] = []
    errors: list[BaseException] = []

    def one() -> None:
        c = http.client.HTTPConnection(host, port, timeout=300)
        try:
            for _ in range(rounds):
                c.request("POST", "/api/v1/verify", body=body,
                          headers={"Content-Type": "application/json"})
                r = c.getresponse()
                out = r.read()
                assert r.status == 200, out[:200]
                answers.append(out)
        except BaseException as e:  # noqa: BLE001 - re-raised in the caller's thread
            errors.append(e)
        finally:
            c.close()

    threads = [threading.Thread(target=one) for _ in range(conns)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    secs = time.perf_counter() - t0
    if errors:
        raise errors[0]
    return secs, answers


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
    bulk_idx = rng.integers(0, len(urls), N_BULK)
    bulk_codes = [str(urls[i]) for i in bulk_idx]
    import json

    body = json.dumps({"codes": bulk_codes}).encode()
    claimed = set(range(0, min(N_ITEMS, 200), 2))
    want = ["ALREADY_CLAIMED" if int(i) in claimed else "AUTHENTIC" for i in bulk_idx]
    out: dict[str, float] = {}

    def ours(workers: int) -> list[str]:
        return [sys.executable, "-m", "antifake.cli", "serve", "--db", "stamps.db", "--pubkey",
                "issuer.pub.json", "--manifest", "batch.manifest", "--base", BASE, "--port",
                "0", "--client-rate", "0", "--workers", str(workers)]

    baseline = str(Path(__file__).with_name("stdlib_verify_service.py"))
    theirs = [sys.executable, baseline, "--pubkey", "issuer.pub.json", "--manifest",
              "batch.manifest", "--db", "stamps.db", "--port", "0", "--quiet"]
    names = {"ours1": "antifake serve --workers 1", "ours2": "antifake serve --workers 2",
             "theirs": "stdlib http.server service"}

    def run() -> None:
        procs: dict[str, tuple[subprocess.Popen, str, int]] = {}
        try:
            procs["ours1"] = _start(ours(1), d)
            procs["ours2"] = _start(ours(2), d)
            procs["theirs"] = _start(theirs, d)
            paths = {"ours1": ours_paths, "ours2": ours_paths, "theirs": theirs_paths}
            for k, (_, host, port) in procs.items():  # warm up
                asyncio.run(_single_load(host, port, paths[k][:200]))
            rates: dict[str, list[float]] = {k: [] for k in procs}
            lats: dict[str, list[np.ndarray]] = {k: [] for k in procs}
            for _ in range(ROUNDS):  # in turn, so that the ratios share the machine's load
                for k, (_, host, port) in procs.items():
                    secs, lat = asyncio.run(_single_load(host, port, paths[k]))
                    rates[k].append(len(paths[k]) / secs)
                    lats[k].append(lat)
            for k in procs:
                mid = int(np.argsort(rates[k])[len(rates[k]) // 2])
                out[k] = _report(f"{names[k]}: single verifications (median of {ROUNDS})",
                                 len(paths[k]), len(paths[k]) / rates[k][mid], lats[k][mid])
            for w in (1, 2):
                _, host, port = procs[f"ours{w}"]
                _bulk(host, port, body, 1, 1)  # warm up
                bulk_rates = []
                for _ in range(ROUNDS):
                    secs, answers = _bulk(host, port, body, BULK_ROUNDS, BULK_CONNS)
                    for a in answers:
                        assert json.loads(a)["statuses"] == want
                    bulk_rates.append(N_BULK * len(answers) / secs)
                bulk_rates.sort()
                out[f"bulk{w}"] = _report(
                    f"{names[f'ours{w}']}: bulk codes (median of {ROUNDS})",
                    N_BULK, N_BULK / bulk_rates[len(bulk_rates) // 2])
                RESULTS[f"{names[f'ours{w}']}: bulk codes (best of {ROUNDS})"] = \
                    f"{bulk_rates[-1]:,.0f}/s"
        finally:
            for p, _, _ in procs.values():
                _stop(p)

    benchmark.pedantic(run, rounds=1, iterations=1)
    for w in (1, 2):
        ratio = out[f"ours{w}"] / out["theirs"]
        RESULTS[f"ratio single, --workers {w} / stdlib service"] = f"{ratio:.1f}x"
    RESULTS["ratio bulk codes/s (higher median) / stdlib requests/s"] = \
        f"{max(out['bulk1'], out['bulk2']) / out['theirs']:.0f}x"
    benchmark.extra_info.update(out)

    def show() -> None:
        print(f"\nlookup service on loopback ({N_SINGLE:,} single requests a round over "
              f"{CONNS} connections; {N_ITEMS:,} registered stamps)")
        for k, v in RESULTS.items():
            print(f"  {k:66s} {v}")

    print_uncaptured(request, show)
