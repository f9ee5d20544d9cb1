"""Registry benchmarks: register 1 M stamps, ingest events with ``record_many``, build the trace
graph snapshot from the store; each beside the baseline a user would write with plain
``sqlite3``.

Run (full size: 1 M stamps; 1 M items / ~4 M events for the graph)::

    pytest benchmarks/test_bench_registry.py -s --benchmark-columns=median,mean,rounds

Smoke (CI)::

    ANTIFAKE_BENCH_ITEMS=5000 pytest benchmarks/test_bench_registry.py --benchmark-disable

``ANTIFAKE_BENCH_ITEMS`` (default 1,000,000) sizes every part: the batch registered, the
events ingested (``ANTIFAKE_BENCH_ITEMS / 50``, at least 500 and at most 20,000: every event is
hashed, about 0.04-0.07 ms each, in both the registry and the baseline), and the supply chain
whose events fill the store for ``graph()``. The graph store is filled through the storage
layer with the simulation's columns (synthetic hashes, no EPCIS JSON), because hashing 4 M
events would take longer than everything else here; ``graph()`` reads exactly what the
registry writes for real events. A table is printed at the end of the module.
"""

from __future__ import annotations

import gc
import itertools
import json
import os
import sqlite3
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

import antifake as af
from antifake.epcis.events import Event
from antifake.registry import Registry
from antifake.research.sim import SupplyChain, simulate
from simrows import event_rows

N_ITEMS = int(os.environ.get("ANTIFAKE_BENCH_ITEMS", "1000000"))
N_EVENTS = max(500, min(20_000, N_ITEMS // 50))
N_COMMIT_BASELINE = min(N_EVENTS, 2_000)  # a commit per event: fsyncs dominate
T0 = datetime(2027, 1, 1, tzinfo=UTC)
RESULTS: dict[str, tuple[float, str]] = {}  # name -> (seconds, what one "op" is)
NOTES: list[str] = []


def timed(benchmark, name: str, fn, setup=None, rounds: int = 3, unit: str = "") -> float:
    """Run ``fn`` under pytest-benchmark (``setup`` before each round, untimed); keep the
    median. With ``--benchmark-disable`` the function runs once and is timed by hand."""
    holder: dict[str, float] = {}

    def wrapped(*args):
        t = time.perf_counter()
        out = fn(*args)
        holder["t"] = time.perf_counter() - t
        return out

    def prepare():
        gc.collect()
        return ((setup(),), {}) if setup else ((), {})

    benchmark.pedantic(wrapped, setup=prepare, rounds=rounds, iterations=1)
    stats = getattr(benchmark, "stats", None)
    med = stats.stats.median if stats is not None and getattr(stats, "stats", None) else \
        holder["t"]
    RESULTS[name] = (med, unit)
    return med


def fresh_db(tmp: Path, name: str) -> Path:
    for suffix in ("", "-wal", "-shm"):
        p = Path(f"{tmp / name}{suffix}")
        if p.exists():
            p.unlink()
    return tmp / name


# ---------------------------------------------------------------------------------------
# register
# ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def big_batch() -> af.Batch:
    key = af.IssuerKey.generate("VN-BENCH-01")
    t = time.perf_counter()
    b = af.issue(key, N_ITEMS, product=af.Product(gtin="09521234543213", lot="L23"), at=T0)
    NOTES.append(f"af.issue of {N_ITEMS:,} stamps (setup): {time.perf_counter() - t:.1f} s")
    return b


def test_register(benchmark, big_batch: af.Batch, tmp_path: Path) -> None:
    def setup():
        reg = Registry(fresh_db(tmp_path, "register.db"))
        reg.add_party("MFR-01", role="manufacturer")
        return reg

    def run(reg: Registry) -> None:
        assert reg.register(big_batch, owner="MFR-01", at=T0) == N_ITEMS
        reg.close()

    s = timed(benchmark, "register (stamps)", run, setup, rounds=3, unit="stamp")
    benchmark.extra_info["stamps_per_s"] = N_ITEMS / s
    with Registry(tmp_path / "register.db") as reg:
        assert reg.stats()["stamps"] == N_ITEMS and reg.check()["ok"]
        t = time.perf_counter()
        assert reg.register(big_batch, owner="MFR-01", at=T0) == 0
        NOTES.append(f"register the same batch again (no-op): {time.perf_counter() - t:.2f} s")


def test_register_baseline_plain_sqlite(benchmark, big_batch: af.Batch, tmp_path: Path) -> None:
    """What a user writes: a stamps table with a unique EPC, one executemany."""
    def setup():
        db = sqlite3.connect(fresh_db(tmp_path, "plain.db"))
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("CREATE TABLE stamps(epc TEXT PRIMARY KEY, key_id INTEGER, batch_id INTEGER, "
                   "idx INTEGER, serial INTEGER, state TEXT)")
        return db

    def run(db: sqlite3.Connection) -> None:
        epcs = big_batch.epcs().tolist()
        sers = big_batch.serials.view(np.int64).tolist()
        k, b = big_batch.key_id, big_batch.batch_id
        db.executemany("INSERT INTO stamps VALUES (?, ?, ?, ?, ?, 'active')",
                       zip(epcs, itertools.repeat(k), itertools.repeat(b), range(len(epcs)),
                           sers, strict=False))
        db.commit()
        db.close()

    timed(benchmark, "register baseline: plain sqlite3 executemany (stamps)", run, setup,
          rounds=3, unit="stamp")


# ---------------------------------------------------------------------------------------
# record_many
# ---------------------------------------------------------------------------------------
def make_events(seed: int) -> list[Event]:
    """A mix of a supply chain's events (fresh objects: their hashes are not cached)."""
    out: list[Event] = []
    for i in range(N_EVENTS):
        item = f"urn:antifake:bench:{seed}:{i // 4}"
        t = T0 + timedelta(seconds=i)
        k = i % 4
        if k == 0:
            out.append(Event.ship([item], source="MFR-01", destination="DIST-07", at=t))
        elif k == 1:
            out.append(Event.receive([item], by="DIST-07", at=t))
        elif k == 2:
            out.append(Event.sell([item], by="RET-03", at=t))
        else:
            out.append(Event.scan(item, by=f"app:{i % 997}", at=t, lat=10.77, lon=106.70))
    return out


def test_record_many(benchmark, tmp_path: Path) -> None:
    seeds = itertools.count()

    def setup():
        reg = Registry(fresh_db(tmp_path, "events.db"))
        return reg, make_events(next(seeds))

    def run(arg) -> None:
        reg, events = arg
        assert reg.record_many(events).new == N_EVENTS
        reg.close()

    s = timed(benchmark, "record_many (events)", run, setup, rounds=3, unit="event")
    benchmark.extra_info["events_per_s"] = N_EVENTS / s
    evs = make_events(10_000)
    t = time.perf_counter()
    for e in evs:
        _ = e.event_id
    RESULTS["of which: Event.event_id (CBV 2.0 hash)"] = (time.perf_counter() - t, "event")


def test_record_baseline_commit_per_event(benchmark, tmp_path: Path) -> None:
    """What a user writes first: insert each event with its JSON as it arrives, commit."""
    seeds = itertools.count(100)

    def setup():
        db = sqlite3.connect(fresh_db(tmp_path, "plain-events.db"))
        db.execute("CREATE TABLE events(id TEXT PRIMARY KEY, doc TEXT)")
        db.commit()
        return db, make_events(next(seeds))[:N_COMMIT_BASELINE]

    def run(arg) -> None:
        db, events = arg
        for e in events:
            db.execute("INSERT OR IGNORE INTO events VALUES (?, ?)",
                       (e.event_id, json.dumps(e.to_epcis())))
            db.commit()
        db.close()

    timed(benchmark, f"record baseline: sqlite3 insert + commit per event "
                     f"({N_COMMIT_BASELINE:,} events)", run, setup, rounds=3, unit="event")


def test_record_baseline_one_transaction(benchmark, tmp_path: Path) -> None:
    """The best plain version: one transaction, no graph columns, no lifecycle, no parties."""
    seeds = itertools.count(200)

    def setup():
        db = sqlite3.connect(fresh_db(tmp_path, "plain-events2.db"))
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("CREATE TABLE events(id TEXT PRIMARY KEY, doc TEXT)")
        db.commit()
        return db, make_events(next(seeds))

    def run(arg) -> None:
        db, events = arg
        db.executemany("INSERT OR IGNORE INTO events VALUES (?, ?)",
                       [(e.event_id, json.dumps(e.to_epcis())) for e in events])
        db.commit()
        db.close()

    timed(benchmark, "record baseline: sqlite3 executemany, one transaction (events)", run,
          setup, rounds=3, unit="event")


# ---------------------------------------------------------------------------------------
# graph()
# ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int, int]:
    """A registry file holding a simulated supply chain of ``N_ITEMS`` items."""
    sim = simulate(SupplyChain(n_items=N_ITEMS, shuffle_events=False, seed=7))
    path = tmp_path_factory.mktemp("graph") / "graph.db"
    t = time.perf_counter()
    reg = Registry(path, synchronous="normal")
    store = reg.storage
    with store.transaction():
        for p in sim.parties.tolist():
            store.add_party(p, None, None, None, None)
    for rows in event_rows(sim):
        with store.transaction():
            store.insert_events(rows)
    n_events = sim.n_events
    NOTES.append(f"graph store filled with {sim.n_nodes:,} nodes / {n_events:,} events "
                 f"(setup): {time.perf_counter() - t:.0f} s, "
                 f"{path.stat().st_size / 2**20:.0f} MB")
    reg.close()
    return path, sim.n_nodes, n_events


def test_graph(benchmark, filled: tuple[Path, int, int]) -> None:
    path, n_nodes, n_events = filled
    reg = Registry(path)
    try:
        g = None

        def run() -> None:
            nonlocal g
            g = reg.graph()

        timed(benchmark, f"graph() at {n_nodes:,} nodes / {n_events:,} events", run,
              rounds=3, unit="snapshot")
        assert g is not None and g.n_events == n_events and g.n_nodes == n_nodes
        t = time.perf_counter()
        cols = reg.storage.graph_columns()
        RESULTS["of which: reading the columns from SQLite"] = (time.perf_counter() - t,
                                                                "snapshot")
        del cols
        benchmark.extra_info["graph_memory_mb"] = g.stats()["memory_bytes"] / 2**20
    finally:
        reg.close()


def test_graph_baseline_fetchall(benchmark, filled: tuple[Path, int, int]) -> None:
    """What a user writes: read the integer columns of the events and incidence tables with
    fetchall into numpy (the graph build itself not included)."""
    path, _, n_events = filled

    def run() -> None:
        db = sqlite3.connect(path)
        ev = np.array(db.execute("SELECT time_us, kind, coalesce(by_party, 0), "
                                 "coalesce(src, 0), coalesce(dst, 0), coalesce(parent, 0) "
                                 "FROM events ORDER BY id").fetchall(), dtype=np.int64)
        inc = np.array(db.execute("SELECT event, node FROM incidence").fetchall(),
                       dtype=np.int64)
        assert len(ev) == n_events and len(inc)
        db.close()

    timed(benchmark, "graph baseline: fetchall of the event and incidence tables", run,
          rounds=1, unit="snapshot")


# ---------------------------------------------------------------------------------------
def test_zz_summary() -> None:
    """The table of this run (printed with ``-s``)."""
    print(f"\nregistry benchmarks, ANTIFAKE_BENCH_ITEMS={N_ITEMS:,} "
          f"({os.cpu_count()} cores, SQLite {sqlite3.sqlite_version})")
    counts = {"stamp": N_ITEMS, "event": N_EVENTS, "snapshot": 1}
    for name, (sec, unit) in RESULTS.items():
        n = counts.get(unit, 1)
        if "per event" in name:
            n = N_COMMIT_BASELINE
        rate = f"{n / sec:>14,.0f} {unit}s/s" if unit != "snapshot" else ""
        print(f"  {name:<72} {sec:9.3f} s {rate}")
    for note in NOTES:
        print(f"  note: {note}")
