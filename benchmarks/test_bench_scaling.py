"""Scaling benchmarks: Dask verification and scan-log detection on 1 and 2 workers, event
ingest from 1, 2 and 4 writer processes into SQLite and PostgreSQL, and the graph snapshot
load of both backends on the same data.

Run (full size: 10 M codes, 10 M scans; a PostgreSQL server is started with fsync on unless
``ANTIFAKE_PG_URL`` is set)::

    pytest benchmarks/test_bench_scaling.py -s -p no:randomly

Smoke (CI)::

    ANTIFAKE_BENCH_ITEMS=20000 pytest benchmarks/test_bench_scaling.py --benchmark-disable

``ANTIFAKE_BENCH_ITEMS`` (default 10,000,000) is the number of codes verified and of scans
examined; the ingest benchmark records ``ITEMS / 250`` events (at least 2,000, at most
40,000: every event is hashed, 0.04-0.07 ms each), and the snapshot benchmark stores a
simulated supply chain of ``ITEMS / 40`` items (at most 250,000: about 1 M events) in both
backends. Dask workers are processes with one thread each (``LocalCluster(n_workers=w,
processes=True, threads_per_worker=1)``); cluster start-up is not timed. A calibration
measures how much two processes of pure CPU work speed up on this machine (two vCPUs may
share one physical core). A table is printed at the end of the module.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
import antifake as af  # noqa: E402
import pg_server  # noqa: E402
from antifake.epcis.events import Event  # noqa: E402
from antifake.registry import Registry  # noqa: E402
from simrows import event_rows  # noqa: E402

N = int(os.environ.get("ANTIFAKE_BENCH_ITEMS", "10000000"))
N_INGEST = max(2_000, min(40_000, N // 250))
N_GRAPH = max(2_000, min(250_000, N // 40))
ROWS_PER_PART = max(5_000, min(500_000, N // 20))
T0 = datetime(2027, 1, 1, tzinfo=UTC)
RESULTS: dict[str, tuple[float, str]] = {}
RESULT_ALERTS: dict[str, int] = {}
NOTES: list[str] = []

pytest.importorskip("distributed")
pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")


def timed(benchmark, name: str, fn, unit: str = "", rounds: int = 1) -> float:
    holder: dict[str, float] = {}

    def wrapped():
        t = time.perf_counter()
        out = fn()
        holder["t"] = min(holder.get("t", 1e99), time.perf_counter() - t)
        return out

    benchmark.pedantic(wrapped, rounds=rounds, iterations=1)
    record(name, holder["t"], unit)
    return holder["t"]


def record(name: str, value: float, unit: str) -> None:
    RESULTS[name] = (value, unit)
    print(f"\n[scaling] {name}: {value:,.3f} {unit}", flush=True)


@pytest.fixture(scope="module", autouse=True)
def report():
    yield
    if not RESULTS:
        return
    print(f"\n\nscaling benchmarks (ANTIFAKE_BENCH_ITEMS={N:,}; {os.cpu_count()} CPUs)")
    width = max(len(k) for k in RESULTS)
    for name, (t, unit) in RESULTS.items():
        if unit.startswith(("x", "codes/s", "scans/s")):
            print(f"  {name:<{width}}  {t:11,.2f} {unit}")
        else:
            print(f"  {name:<{width}}  {t:11.3f} s  {unit}")
    for note in NOTES:
        print("  " + note)


_SPIN = "x = 0\nfor i in range({n}):\n    x = (x * 1103515245 + i) & 0xFFFFFFFF\n"


def _spin(copies: int, n: int) -> float:
    """Wall time of ``copies`` interpreter processes each doing ``n`` steps of arithmetic
    (started first, then released together through their stdin)."""
    import subprocess

    code = "import sys; sys.stdin.read(1)\n" + _SPIN.format(n=n)
    procs = [subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE)
             for _ in range(copies)]
    time.sleep(1.0)  # interpreters started
    t = time.perf_counter()
    for p in procs:
        assert p.stdin is not None
        p.stdin.write(b"x")
        p.stdin.close()
    for p in procs:
        assert p.wait(timeout=600) == 0
    return time.perf_counter() - t


def test_cpu_parallelism(benchmark) -> None:
    """Two processes of pure Python arithmetic vs one: the best speed-up this machine can
    give anything (1.0: the two vCPUs share one core; 2.0: two real cores)."""
    n = 5_000_000 if N >= 1_000_000 else 500_000
    one = min(_spin(1, n) for _ in range(2))
    two = min(_spin(2, n) for _ in range(2))
    benchmark.pedantic(lambda: None, rounds=1)
    record("calibration: 2 CPU-bound processes, speed-up", 2 * one / two, "x (ideal 2)")


# ---------------------------------------------------------------------------------------
# Dask: verification
# ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def codes_parquet(tmp_path_factory) -> tuple[Path, af.Keyring]:
    """N QR URLs (a signed batch of up to 1 M stamps, repeated) in Parquet files."""
    key = af.IssuerKey.generate("VN-QLTT-01")
    n_stamps = min(N, 1_000_000)
    t = time.perf_counter()
    batch = af.issue(key, n_stamps)
    urls = batch.urls(base="https://xacthuc.example.vn/abc")
    ring = af.Keyring([key.public])
    ring.add_manifest(batch.manifest)
    NOTES.append(f"issued {n_stamps:,} stamps for the codes in {time.perf_counter() - t:.1f} s")
    path = tmp_path_factory.mktemp("codes")
    arr = pa.array(urls.tolist(), type=pa.string())
    rng = np.random.default_rng(1)
    done = k = 0
    while done < N:
        m = min(ROWS_PER_PART, N - done)
        take = rng.integers(0, n_stamps, m)
        pq.write_table(pa.table({"code": arr.take(pa.array(take))}), path / f"part-{k:04d}.parquet")
        done += m
        k += 1
    return path, ring


def _cluster(workers: int):
    from distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=workers, processes=True, threads_per_worker=1,
                           dashboard_address=None, memory_limit="8GiB")
    client = Client(cluster)
    client.run(lambda: __import__("antifake.dask"))
    return cluster, client


@pytest.mark.parametrize("workers", [1, 2])
def test_verify_dask(benchmark, codes_parquet, workers: int) -> None:
    import dask.dataframe as dd

    from antifake.dask import verify_many_dask

    path, ring = codes_parquet
    cluster, client = _cluster(workers)
    try:
        def run() -> int:
            col = dd.read_parquet(path)["code"]
            return int((verify_many_dask(col, ring) == af.Status.AUTHENTIC).sum().compute())

        t = timed(benchmark, f"verify {N:,} codes, {workers} Dask worker(s)", run,
                  unit=f"{N / 1e6:.1f} M codes")
        assert run() == N
        record(f"  = codes/s with {workers} worker(s)", N / t, "codes/s")
    finally:
        client.close()
        cluster.close()
    _speedup("verify")


def _speedup(what: str) -> None:
    keys = [k for k in RESULTS if k.startswith(what) and "worker" in k]
    if len(keys) == 2:
        a, b = (RESULTS[k][0] for k in keys)
        record(f"  = {what} speed-up on 2 workers", a / b, "x")


# ---------------------------------------------------------------------------------------
# Dask: detection over a scan log
# ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def scans_parquet(tmp_path_factory) -> Path:
    """N scans of N / 5 codes by N / 20 phones around Vietnam's cities over 30 days; 0.2 %
    of the codes are cloned (also scanned in another city within the hour)."""
    import pyarrow.compute as pc

    from antifake.dask import write_scan_log

    path = tmp_path_factory.mktemp("scans")
    rng = np.random.default_rng(7)
    n_buckets = max(2, (N + ROWS_PER_PART - 1) // ROWS_PER_PART)
    n_codes, n_apps = max(1, N // 5), max(1, N // 20)
    cities = np.array([(21.03, 105.85), (10.77, 106.70), (16.05, 108.20), (20.86, 106.68)])
    done = k = 0
    while done < N:
        m = min(ROWS_PER_PART, N - done)
        code = rng.integers(0, n_codes, m)
        home = cities[code % len(cities)]
        clone = (code % 500) == 0
        city = np.where(clone & (rng.random(m) < 0.5), (code + 1) % len(cities),
                        code % len(cities))
        lat = cities[city, 0] + rng.normal(0, 0.02, m)
        lon = cities[city, 1] + rng.normal(0, 0.02, m)
        del home
        t = 1_800_000_000_000_000 + rng.integers(0, 30 * 86_400_000_000, m)
        t = np.where(clone, 1_800_000_000_000_000 + (code % 7) * 3_600_000_000
                     + rng.integers(0, 3_600_000_000, m), t)
        app = rng.integers(0, n_apps, m)
        rows = np.arange(done, done + m)
        table = pa.table({
            "code": pc.binary_join_element_wise("urn:antifake:bench:",
                                                pa.array(code).cast(pa.string()), ""),
            "time": pa.array(t, pa.int64()),
            "by": pc.binary_join_element_wise("app:", pa.array(app).cast(pa.string()), ""),
            "lat": pa.array(lat), "lon": pa.array(lon),
            "event_id": pc.binary_join_element_wise("scan:", pa.array(rows).cast(pa.string()),
                                                    ""),
        })
        pq.write_table(table, path / f"part-{k:04d}.parquet")
        write_scan_log(table.to_pandas(), path / "by-code", buckets=n_buckets, part=str(k))
        done += m
        k += 1
    return path


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("layout", ["shuffled", "by-code"])
def test_detect_dask(benchmark, scans_parquet, workers: int, layout: str) -> None:
    """``shuffled``: any Parquet log, shuffled by code; ``by-code``: a log written partitioned
    by code (write_scan_log), read one partition per bucket, no shuffle."""
    pytest.importorskip("antifake.detect")
    from antifake.dask import detect_scans_dask, read_scan_log

    cluster, client = _cluster(workers)
    try:
        out: dict[str, list] = {}

        def run() -> None:
            if layout == "shuffled":
                scans = read_scan_log(str(scans_parquet / "part-*.parquet"))
                out["alerts"] = detect_scans_dask(scans, client=client)
            else:
                scans = read_scan_log(scans_parquet / "by-code", by_code=True)
                out["alerts"] = detect_scans_dask(scans, client=client, partitioned_by_code=True)

        t = timed(benchmark, f"detect ({layout}) over {N:,} scans, {workers} Dask worker(s)", run,
                  unit=f"{N / 1e6:.1f} M scans")
        record(f"  = scans/s ({layout}), {workers} worker(s)", N / t, "scans/s")
        kinds = {a.kind for a in out["alerts"]}
        assert "impossible_travel" in kinds or N < 100_000
        RESULT_ALERTS[layout] = len(out["alerts"])
    finally:
        client.close()
        cluster.close()
    _speedup(f"detect ({layout})")
    if len(RESULT_ALERTS) == 2:
        assert RESULT_ALERTS["shuffled"] == RESULT_ALERTS["by-code"]


# ---------------------------------------------------------------------------------------
# many writers
# ---------------------------------------------------------------------------------------
def _ingest_events(w: int, writers: int) -> list[Event]:
    out = []
    for i in range(w, N_INGEST, writers):
        t = T0 + timedelta(seconds=i)
        if i % 20 == 0:  # writers share parties, not EPCs (independent sources)
            out.append(Event.aggregate(f"urn:antifake:ingest:case:{i // 20}",
                                       [f"urn:antifake:ingest:{i}:{j}" for j in range(3)],
                                       by=f"PACKER-{i % 5}", at=t))
        else:
            out.append(Event.scan(f"urn:antifake:ingest:{i}", by=f"app:{i % 500}", at=t,
                                  lat=10.0 + (i % 1000) / 1e3, lon=106.0))
    return out


def _ingest_writer(url: str, w: int, writers: int, barrier, results) -> None:  # noqa: ANN001
    reg = Registry(url)
    try:
        events = _ingest_events(w, writers)
        barrier.wait(120)
        t = time.perf_counter()
        for lo in range(0, len(events), 500):
            reg.record_many(events[lo: lo + 500])
        results.put((w, time.perf_counter(), t, None))
    except BaseException as exc:  # noqa: BLE001
        results.put((w, 0.0, 0.0, repr(exc)))
    finally:
        reg.close()


def _ingest(url: str, writers: int) -> float:
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(writers + 1)
    results = ctx.Queue()
    procs = [ctx.Process(target=_ingest_writer, args=(url, w, writers, barrier, results))
             for w in range(writers)]
    for p in procs:
        p.start()
    barrier.wait(300)
    t0 = time.perf_counter()
    out = _collect(results, procs, timeout=1800)
    errors = [o[3] for o in out if o[3]]
    assert not errors, errors
    return max(o[1] for o in out) - t0


def _collect(results, procs, timeout: float) -> list:  # noqa: ANN001
    """One result per process; fails at once when a process died without one."""
    import queue

    out: list = []
    end = time.monotonic() + timeout
    while len(out) < len(procs):
        try:
            out.append(results.get(timeout=2))
        except queue.Empty:
            dead = [p.exitcode for p in procs if p.exitcode not in (None, 0)]
            assert not dead, f"a writer process died (exit codes {dead})"
            assert time.monotonic() < end, "writers did not finish in time"
    for p in procs:
        p.join(60)
    return out


@pytest.fixture(scope="module")
def pg_base() -> str:
    return pg_server.require_pg_url(durable=True)


@pytest.mark.parametrize("writers", [1, 2, 4])
@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_ingest_writers(benchmark, tmp_path, backend: str, writers: int, request) -> None:
    if backend == "sqlite":
        url = str(tmp_path / "ingest.db")
    else:
        url = pg_server.fresh_schema_url(request.getfixturevalue("pg_base"))
    try:
        Registry(url).close() if backend == "sqlite" else _open_pg(url)
        holder = {}

        def run() -> None:
            holder["t"] = _ingest(url, writers)

        benchmark.pedantic(run, rounds=1, iterations=1)
        t = holder["t"]
        record(f"ingest {N_INGEST:,} events, {backend}, {writers} writer(s)", t,
               f"s: {N_INGEST / t:,.0f} events/s")
        with Registry(url) as reg:
            assert reg.stats()["events"] == N_INGEST
    finally:
        if backend != "sqlite":
            pg_server.drop_schema(url)


def _open_pg(url: str) -> None:
    Registry(url).close()


# ---------------------------------------------------------------------------------------
# graph snapshot: PostgreSQL vs SQLite on the same data
# ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def both_filled(tmp_path_factory, pg_base: str):
    """A simulated supply chain of N_GRAPH items stored through the storage layer of both
    backends (synthetic hashes, as benchmarks/test_bench_registry.py does)."""
    from antifake.research.sim import SupplyChain, simulate

    sim = simulate(SupplyChain(n_items=N_GRAPH, shuffle_events=False, seed=7))
    path = tmp_path_factory.mktemp("graph") / "graph.db"
    url = pg_server.fresh_schema_url(pg_base)
    regs = [Registry(path, synchronous="normal"), Registry(url, synchronous="normal")]
    for reg in regs:
        with reg.storage.transaction():
            for p in sim.parties.tolist():
                reg.storage.add_party(p, None, None, None, None)
    fill = [0.0, 0.0]
    for rows in event_rows(sim):
        for k, reg in enumerate(regs):
            t = time.perf_counter()
            with reg.storage.transaction():
                reg.storage.insert_events(rows)
            fill[k] += time.perf_counter() - t
    NOTES.append(f"snapshot data: {sim.n_nodes:,} nodes / {sim.n_events:,} events; stored in "
                 f"{fill[0]:.0f} s (SQLite) and {fill[1]:.0f} s (PostgreSQL, COPY)")
    for reg in regs:
        reg.close()
    yield path, url, sim.n_events
    pg_server.drop_schema(url)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_snapshot_load(benchmark, both_filled, backend: str) -> None:
    path, url, n_events = both_filled
    reg = Registry(path if backend == "sqlite" else url)
    try:
        cols: list = []

        def run() -> None:
            cols.clear()
            cols.append(reg.storage.graph_columns())

        timed(benchmark, f"graph_columns(), {backend}, {n_events:,} events", run,
              unit="snapshot", rounds=3)
        assert len(cols[0].ev_ids) == n_events
    finally:
        reg.close()
    keys = [k for k in RESULTS if k.startswith("graph_columns()")]
    if len(keys) == 2:
        record("  = PostgreSQL / SQLite snapshot load",
               RESULTS[keys[1]][0] / RESULTS[keys[0]][0], "x (target <= 2)")
