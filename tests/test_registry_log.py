"""The registry's transparency log on both backends: every stored event is a leaf, in storage
order, in the same transaction; proofs and checkpoints verify with the public key only."""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import antifake as af
import pg_server
from antifake.epcis.event_id import id_to_hash
from antifake.epcis.events import Event
from antifake.log import merkle as M
from antifake.log.note import open_checkpoint
from antifake.registry import Registry
from antifake.storage.tlog import TILE, event_leaf_hash

T0 = datetime(2027, 3, 1, 8, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def db(backend: str, tmp_path: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield str(tmp_path / "stamps.db")
        return
    url = pg_server.fresh_schema_url(pg_server.require_pg_url())
    yield url
    pg_server.drop_schema(url)


@pytest.fixture
def lk() -> af.LogKey:
    return af.LogKey.generate("registry.example.vn/antifake")


def scans(k: int, n: int, start: int = 0) -> list[Event]:
    return [Event.scan(f"urn:antifake:t:{k}:{j}", by=f"app:{k}", at=T0 + timedelta(seconds=j),
                       lat=10.7, lon=106.7) for j in range(start, start + n)]


def leaf_of(event_id: str) -> bytes:
    return M.leaf_hash(event_id.encode())


def test_events_are_leaves_in_storage_order(db: str, lk: af.LogKey) -> None:
    key = af.IssuerKey.generate("VN-QLTT-01")
    batch = af.issue(key, 20, at=T0)
    reg = Registry(db, keyring=af.Keyring([key]), log_key=lk)
    reg.add_party("MFR-01", role="manufacturer")
    reg.register(batch, owner="MFR-01", at=T0)
    evs = scans(1, 600)
    res = reg.record_many(evs)
    one = reg.record(scans(2, 1)[0])
    assert reg.record_many(evs).new == 0  # re-imported: nothing appended
    ids = [e.event_id for e in evs] + [one]
    n = reg.log.size()
    assert n == reg.stats()["events"] == 1 + 600 + 1
    assert not reg.log.check()
    cp = open_checkpoint(reg.log.checkpoint(), lk.vkey, origin=lk.name)
    assert cp.size == n
    tree = M.MemoryTree()
    indexes = reg.log.leaf_indexes(ids)
    assert indexes == list(range(n - len(ids), n))  # one commissioning event came first
    for eid, i in zip(ids, indexes, strict=True):
        p = reg.log.inclusion_proof(eid, n)
        assert (p.index, p.size) == (i, n)
        assert af.log.verify_inclusion(leaf_of(eid), i, n, p.hashes, cp.root)
        assert not af.log.verify_inclusion(leaf_of(eid), i ^ 1, n, p.hashes, cp.root)
    assert res.event_ids == [e.event_id for e in evs]
    # the stored tree equals a tree built in memory from the leaves
    tree.append_hashes(b"".join(reg.log.nodes([(0, i) for i in range(n)])))
    assert tree.root() == cp.root
    assert reg.log.nodes([(0, indexes[0])])[0] == event_leaf_hash(id_to_hash(ids[0]))
    reg.close()


def test_consistency_between_checkpoints(db: str, lk: af.LogKey) -> None:
    reg = Registry(db, log_key=lk)
    sizes, roots = [0], [M.EMPTY_ROOT]
    for k in range(1, 8):
        reg.record_many(scans(k, k * 37 + (TILE if k == 5 else 0)))
        cp = open_checkpoint(reg.log.checkpoint(), lk.vkey)
        sizes.append(cp.size)
        roots.append(cp.root)
    for a in range(len(sizes)):
        for b in range(a, len(sizes)):
            q = reg.log.consistency_proof(sizes[a], sizes[b])
            assert af.log.verify_consistency(sizes[a], roots[a], sizes[b], roots[b], q.hashes)
            if 0 < sizes[a] < sizes[b]:
                assert not af.log.verify_consistency(sizes[a], roots[b], sizes[b], roots[b],
                                                     q.hashes)
    assert reg.log.root(sizes[3]) == roots[3]
    with pytest.raises(af.RegistryError):
        reg.log.consistency_proof(sizes[-1] + 1)
    with pytest.raises(af.RegistryError):
        reg.log.inclusion_proof("ni:///sha-256;" + "0" * 64 + "?ver=CBV2.0")
    with pytest.raises(af.RegistryError):
        reg.log.inclusion_proof("not an id")
    reg.close()


def test_existing_registry_is_backfilled_and_keeps_logging_without_the_key(db: str,
                                                                          lk: af.LogKey) -> None:
    reg = Registry(db)
    with pytest.raises(af.RegistryError, match="no transparency log"):
        reg.log.size()
    evs = scans(1, 300)
    reg.record_many(evs)
    reg.close()
    reg = Registry(db, log_key=lk)
    assert reg.log.size() == 300 and not reg.log.check()
    reg.close()
    reg = Registry(db)  # no key: still appends, cannot sign
    reg.record_many(scans(2, 5))
    assert reg.log.size() == 305 and not reg.log.check()
    with pytest.raises(af.RegistryError, match="log key"):
        reg.log.checkpoint()
    reg.close()


def test_failed_transaction_appends_nothing(db: str, lk: af.LogKey) -> None:
    reg = Registry(db, log_key=lk)
    reg.record_many(scans(1, 10))
    bad = [*scans(2, 5), {"type": "ObjectEvent"}]
    with pytest.raises(af.EPCISError):
        reg.record_many(bad)
    item = "urn:antifake:t:1:0"
    reg.decommission([item], reason="destroyed", by="RET", at=T0 + timedelta(days=1))
    with pytest.raises(af.LifecycleError):
        reg.reactivate(item, by="RET", at=T0 + timedelta(days=30))
    assert reg.log.size() == 11 == reg.stats()["events"]
    assert not reg.log.check()
    reg.close()


def _writer(db: str, k: int, rounds: int) -> None:
    reg = Registry(db)
    for r in range(rounds):
        reg.record_many(scans(k, 40, start=r * 40))
        reg.record(Event.scan(f"urn:antifake:shared:{r}", by="app:x", at=T0, lat=1.0, lon=2.0))
    reg.close()


def test_racing_writers_get_one_order_and_no_gaps(db: str, lk: af.LogKey) -> None:
    Registry(db, log_key=lk).close()
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(db, k, 6)) for k in range(3)]
    for p in procs:
        p.start()
    threads = [threading.Thread(target=_writer, args=(db, 10 + k, 4)) for k in range(2)]
    for t in threads:
        t.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    for t in threads:
        t.join()
    reg = Registry(db, log_key=lk)
    assert reg.log.size() == reg.stats()["events"] == 5 * 0 + 3 * 6 * 40 + 2 * 4 * 40 + 6
    assert not reg.log.check()
    reg.close()


def test_event_leaf_hash_is_the_leaf_of_the_event_id() -> None:
    import os

    from antifake.epcis.event_id import hash_to_id

    for _ in range(20):
        h = os.urandom(32)
        assert event_leaf_hash(h) == M.leaf_hash(hash_to_id(h).encode())
