"""Transparency-log benchmarks, each beside the baseline a user would write.

* tree building over ``ANTIFAKE_BENCH_ITEMS`` leaves (default 10,000,000): the native SHA-256
  node kernel vs a Python ``hashlib.sha256`` loop over the same node hashes (one core);
* ``record_many`` with the log on vs off (same events, fresh SQLite files);
* inclusion and consistency proof generation from a stored tree of ``ANTIFAKE_BENCH_ITEMS``
  leaves, each in its own read transaction, p50 and p99 over random proofs: the proof path
  (kept upper levels, one leaf tile read, native planning and hashing) beside the generic
  path (`antifake.log.merkle` over `RegistryLog.nodes`); on SQLite, and on PostgreSQL when a
  server can be had (``ANTIFAKE_PG_URL``, or a local one started by ``tests/pg_server.py``);
* the stored tree's bytes per leaf;
* an evidence bundle for a stamp with 20 events.

Run (full size; the module times by hand, beside pytest-benchmark)::

    pytest benchmarks/test_bench_log.py -s

Smoke (CI: ``--benchmark-disable`` runs it at 20,000 leaves)::

    pytest benchmarks/test_bench_log.py --benchmark-disable
"""

from __future__ import annotations

import gc
import hashlib
import os
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

import antifake as af
import antifake._core
from antifake.epcis.events import Event
from antifake.log import merkle as M
from antifake.log._native import hash_pairs_py
from antifake.registry import Registry
from antifake.storage import SQLiteStorage, open_storage
from antifake.storage.abc import Storage
from antifake.storage.tlog import RegistryLog
from reporting import print_uncaptured

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
import pg_server  # noqa: E402

N_LEAVES = int(os.environ.get("ANTIFAKE_BENCH_ITEMS", "10000000"))
N_EVENTS = max(500, min(5_000, N_LEAVES // 2_000))
N_PROOFS = 2000       # the proof path: p50 / p99 over this many random proofs
N_PROOFS_OLD = 300    # the generic path (slower)
T0 = datetime(2027, 1, 1, tzinfo=UTC)
RESULTS: dict[str, tuple[float, str]] = {}
NOTES: list[str] = []


def best_of(fn, rounds: int = 3) -> float:
    best = float("inf")
    for _ in range(rounds):
        gc.collect()
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


@pytest.fixture(scope="module")
def leaves() -> bytes:
    return np.random.default_rng(9).bytes(32 * N_LEAVES)


def _python_tree(leaf_hashes: bytes) -> bytes:
    """What a user writes: a hashlib loop, level by level, over the same node hashes."""
    level = leaf_hashes
    sha = hashlib.sha256
    while len(level) >= 64:
        even = len(level) // 64 * 64
        nxt = b"".join(sha(b"\x01" + level[i:i + 64]).digest() for i in range(0, even, 64))
        level = nxt
    return level


def test_tree_native_vs_hashlib(leaves: bytes) -> None:
    t_native = best_of(lambda: M.MemoryTree(leaves), rounds=2)
    t_py = best_of(lambda: _python_tree(leaves), rounds=1)
    # same node hashes: the tree's top complete node equals the Python loop's last level
    tree = M.MemoryTree(leaves)
    top = max(lv for lv in range(len(tree.levels)) if tree.levels[lv])
    py_top = _python_tree(bytes(tree.levels[0][: 32 << top]))
    assert bytes(tree.levels[top][:32]) == py_top
    RESULTS["tree build, native SHA-256 (leaves)"] = (t_native, "leaf")
    RESULTS["tree build baseline, hashlib loop (leaves)"] = (t_py, "leaf")
    NOTES.append(f"tree build: native is {t_py / t_native:.1f}x the hashlib loop")
    if N_LEAVES >= 1_000_000:
        assert t_py / t_native >= 3.0


def _events(k: int, n: int) -> list[Event]:
    return [Event.scan(f"urn:antifake:bench:{k}:{j}", by=f"app:{j % 97}",
                       at=T0 + timedelta(seconds=j), lat=10.0 + j % 7, lon=106.0)
            for j in range(n)]


def test_record_many_log_on_vs_off(tmp_path: Path) -> None:
    lk = af.LogKey.generate("bench.example/log")
    batches = [_events(k, N_EVENTS) for k in range(8)]
    for b in batches:
        for e in b:
            _ = e.event_id  # hash once, outside the timings (both sides alike)
    times: dict[bool, list[float]] = {True: [], False: []}
    for r in range(4):  # alternate, so both see the same machine load; keep the best
        for on in ((True, False) if r % 2 else (False, True)):
            db = tmp_path / f"r{r}{on}.db"
            reg = Registry(db, log_key=lk if on else None)
            reg.record_many(batches[2 * r])  # a non-empty log/file first
            t = time.perf_counter()
            reg.record_many(batches[2 * r + 1])
            times[on].append(time.perf_counter() - t)
            if on:
                assert reg.log.size() == 2 * N_EVENTS
            reg.close()
    on, off = min(times[True]), min(times[False])
    RESULTS["record_many, log on (events)"] = (on, "event")
    RESULTS["record_many, log off (events)"] = (off, "event")
    NOTES.append(f"record_many: log on costs {100 * (on / off - 1):+.1f}% "
                 f"({N_EVENTS:,} events per call)")


def _fill(store: Storage, leaves: bytes) -> RegistryLog:
    """A log of the synthetic leaves in `store` (tiles only, written as appends do)."""
    log = RegistryLog(store)
    log.create()
    step = 1 << 20
    for lo in range(0, N_LEAVES, step):
        with store.transaction():
            size = log._lock_size()
            log._write_nodes(size, leaves[32 * lo: 32 * min(N_LEAVES, lo + step)])
            store._x("UPDATE log_head SET size = ? WHERE id = 1", (min(N_LEAVES, lo + step),))
            log._tiles.clear()
    return log


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory, leaves: bytes) -> tuple[RegistryLog, Path]:
    """A SQLite store holding a log of ``N_LEAVES`` leaves (tiles only: synthetic leaves)."""
    path = tmp_path_factory.mktemp("log") / "log.db"
    t = time.perf_counter()
    log = _fill(SQLiteStorage(path, synchronous="normal"), leaves)
    NOTES.append(f"stored tree of {N_LEAVES:,} leaves written in "
                 f"{time.perf_counter() - t:.1f} s (setup, SQLite)")
    return log, path


def _per_call(log: RegistryLog, calls: list[tuple[str, int, int]]) -> tuple[list[float], list]:
    """Each proof timed alone (the public call: its own reads; the generic path in a read
    transaction); the proofs' hashes."""
    store = log._store
    times, out = [], []
    gc.collect()
    gc.disable()
    try:
        for how, a, n in calls:
            t = time.perf_counter()
            if how == "incl":  # the public calls, as a user makes them
                p = log.inclusion_proof_at(a, n)
            elif how == "cons":
                p = log.consistency_proof(a, n)
            else:
                with store.snapshot():
                    if how == "incl-old":
                        p = M.inclusion_proof(log, a, n)
                    else:
                        p = M.consistency_proof(log, a, n)
            times.append(time.perf_counter() - t)
            out.append(p.hashes)
    finally:
        gc.enable()
    return times, out


def _pct(times: list[float], q: float) -> float:
    s = sorted(times)
    return s[min(len(s) - 1, int(q * len(s)))]


def _measure_proofs(log: RegistryLog, leaves: bytes, backend: str) -> None:
    n = N_LEAVES
    with log._store.snapshot():
        root = log.root(n)
    rng = random.Random(3)
    idx = [rng.randrange(n) for _ in range(N_PROOFS)]
    sizes = [rng.randrange(1, n) for _ in range(N_PROOFS)]
    t = time.perf_counter()
    _per_call(log, [("incl", 0, n)])  # the first proof loads the upper levels (once)
    mb = sum(map(len, log._upper)) / 1e6
    NOTES.append(f"{backend}: first proof (loads levels 8 and up, {mb:.1f} MB) "
                 f"{1e3 * (time.perf_counter() - t):.1f} ms")
    empty = []
    for _ in range(500):  # the floor: a read transaction that reads nothing
        t = time.perf_counter()
        with log._store.snapshot():
            pass
        empty.append(time.perf_counter() - t)
    NOTES.append(f"{backend}: an empty read transaction (BEGIN .. COMMIT) p50 "
                 f"{_pct(empty, .5) * 1e6:.0f} us, inside every proof above")
    for kind in ("incl", "cons"):
        args = idx if kind == "incl" else sizes
        k = N_PROOFS_OLD
        # the two paths alternate (same machine load), then the proof path alone
        calls = [(how, a, n) for a in args[:k] for how in (kind, kind + "-old")]
        calls += [(kind, a, n) for a in args[k:]]
        ts, hs = _per_call(log, calls)
        new_t = ts[0:2 * k:2] + ts[2 * k:]
        new_h = hs[0:2 * k:2] + hs[2 * k:]
        old_t, old_h = ts[1:2 * k:2], hs[1:2 * k:2]
        assert new_h[:k] == old_h  # byte-identical to the generic path
        for a, h in list(zip(args, new_h, strict=True))[:50]:
            if kind == "incl":
                assert M.verify_inclusion(leaves[32 * a: 32 * a + 32], a, n, h, root)
            else:
                with log._store.snapshot():
                    assert M.verify_consistency(a, log.root(a), n, root, h)
        name = "inclusion" if kind == "incl" else "consistency"
        for label, ts in (("proof path", new_t), ("generic path", old_t)):
            RESULTS[f"{backend} {name} p50, {label}"] = (_pct(ts, 0.5), "proof")
            RESULTS[f"{backend} {name} p99, {label}"] = (_pct(ts, 0.99), "proof")
        NOTES.append(f"{backend} proofs at {n:,} leaves: {name} p50 {_pct(new_t, .5) * 1e6:.0f} us"
                     f" / p99 {_pct(new_t, .99) * 1e6:.0f} us ({len(new_t)} proofs); generic path"
                     f" p50 {_pct(old_t, .5) * 1e6:.0f} us / p99 {_pct(old_t, .99) * 1e6:.0f} us "
                     f"({len(old_t)}): {_pct(old_t, .5) / _pct(new_t, .5):.1f}x at p50")


def test_proofs_at_size(stored: tuple[RegistryLog, Path], leaves: bytes) -> None:
    log, _ = stored
    _measure_proofs(RegistryLog(log._store), leaves, "SQLite")  # a fresh log: cold caches


def test_proofs_at_size_postgresql(leaves: bytes) -> None:
    url = pg_server.fresh_schema_url(pg_server.require_pg_url(durable=True))
    store = open_storage(url)
    try:
        t = time.perf_counter()
        _fill(store, leaves)
        NOTES.append(f"stored tree of {N_LEAVES:,} leaves written in "
                     f"{time.perf_counter() - t:.1f} s (setup, PostgreSQL)")
        _measure_proofs(RegistryLog(store), leaves, "PostgreSQL")
    finally:
        store.close()
        pg_server.drop_schema(url)


def test_bytes_per_leaf(stored: tuple[RegistryLog, Path]) -> None:
    log, path = stored
    rows = log._store._x("SELECT sum(length(data)), count(*) FROM log_nodes").fetchone()
    payload = int(rows[0]) / N_LEAVES
    try:
        pages = log._store._x("SELECT sum(pgsize) FROM dbstat WHERE name LIKE 'log_%' "
                              "OR name LIKE 'sqlite_autoindex_log_%'").fetchone()[0]
        on_disk = int(pages) / N_LEAVES
    except Exception:  # SQLite built without dbstat: the whole file
        on_disk = path.stat().st_size / N_LEAVES
    NOTES.append(f"tree storage: {payload:.1f} bytes/leaf of hashes, {on_disk:.1f} bytes/leaf "
                 "on disk (pages)")
    RESULTS["tree storage on disk (bytes per leaf)"] = (on_disk, "byte")
    assert on_disk <= 70 or N_LEAVES < 100_000  # small trees: per-tile overhead dominates


def test_evidence_bundle_20_events(tmp_path: Path) -> None:
    key = af.IssuerKey.generate("VN-BENCH-01")
    lk = af.LogKey.generate("bench.example/log")
    batch = af.issue(key, 100, at=T0)
    reg = Registry(tmp_path / "ev.db", keyring=af.Keyring([key]), log_key=lk)
    reg.register(batch, owner="MFR-01", at=T0)
    reg.record_many(_events(1, N_EVENTS))  # other traffic in the log
    epc = batch[0].epc
    reg.record_many([Event.scan(epc, by=f"app:{j}", at=T0 + timedelta(hours=j), lat=10.0,
                                lon=106.0) for j in range(19)])
    b = reg.evidence(epc)
    assert len(b["events"]) == 20
    t = best_of(lambda: reg.evidence(epc), rounds=5)
    tv = best_of(lambda: af.verify_evidence(b, lk.vkey), rounds=5)
    assert af.verify_evidence(b, lk.vkey).ok
    RESULTS["evidence bundle, 20 events (bundle)"] = (t, "bundle")
    RESULTS["verify_evidence, 20 events (bundle)"] = (tv, "bundle")
    reg.close()


def test_zz_summary(request: pytest.FixtureRequest) -> None:
    def show() -> None:
        print(f"\nlog benchmarks, ANTIFAKE_BENCH_ITEMS={N_LEAVES:,} ({os.cpu_count()} cores, "
              f"SHA-256 kernel {af._core.sha256_level()})")
        for name, (v, unit) in RESULTS.items():
            if unit == "byte":
                print(f"  {name:<52} {v:10.1f} bytes")
            elif unit in ("proof", "bundle"):
                print(f"  {name:<52} {v * 1e6:10.0f} us")
            else:
                n = N_LEAVES if unit == "leaf" else N_EVENTS
                print(f"  {name:<52} {v:10.3f} s {n / v:14,.0f} {unit}s/s")
        for note in NOTES:
            print(f"  note: {note}")
    print_uncaptured(request, show)


def test_python_pairs_helper_agrees() -> None:
    d = random.Random(1).randbytes(64 * 10)
    assert bytes(M.hash_pairs(d)) == hash_pairs_py(d)
