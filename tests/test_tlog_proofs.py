"""The stored log's proof path (kept upper levels, one leaf tile per proof, native planning
and hashing) against a plain RFC 9162 reference written from the RFC's recursive definitions,
against the generic path, and with the verifiers; on SQLite and PostgreSQL, with appends from
another connection or process between proofs (kept levels must never give a wrong proof)."""

from __future__ import annotations

import hashlib
import multiprocessing
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import antifake as af
import pg_server
from antifake import _core
from antifake.epcis.event_id import id_to_hash
from antifake.epcis.events import Event
from antifake.errors import RegistryError
from antifake.log import merkle as M
from antifake.registry import Registry
from antifake.storage import SQLiteStorage, open_storage
from antifake.storage.abc import Storage
from antifake.storage.tlog import TILE, RegistryLog, event_leaf_hash

T0 = datetime(2027, 5, 1, 8, 0, tzinfo=UTC)
# appends of these sizes: partial tiles, exact tiles, tile-crossing and multi-tile batches
APPENDS = [1, 1, 2, 5, 247, 256, 300, 1000, 3, 4097, 129, 2]


class Reference:
    """RFC 9162 section 2.1: MTH, PATH and SUBPROOF, literally (recursive, memoised)."""

    def __init__(self, leaves: list[bytes]) -> None:
        self.leaves = leaves
        self.memo: dict[tuple[int, int], bytes] = {}

    @staticmethod
    def _k(n: int) -> int:
        k = 1
        while k * 2 < n:
            k *= 2
        return k

    def mth(self, lo: int, hi: int) -> bytes:
        if hi - lo == 1:
            return self.leaves[lo]
        got = self.memo.get((lo, hi))
        if got is None:
            k = self._k(hi - lo)
            got = hashlib.sha256(b"\x01" + self.mth(lo, lo + k) + self.mth(lo + k, hi)).digest()
            self.memo[(lo, hi)] = got
        return got

    def path(self, m: int, lo: int, hi: int) -> list[bytes]:
        if hi - lo == 1:
            return []
        k = self._k(hi - lo)
        if m < k:
            return self.path(m, lo, lo + k) + [self.mth(lo + k, hi)]
        return self.path(m - k, lo + k, hi) + [self.mth(lo, lo + k)]

    def subproof(self, m: int, lo: int, hi: int, b: bool) -> list[bytes]:
        n = hi - lo
        if m == n:
            return [] if b else [self.mth(lo, hi)]
        k = self._k(n)
        if m <= k:
            return self.subproof(m, lo, lo + k, b) + [self.mth(lo + k, hi)]
        return self.subproof(m - k, lo + k, hi, False) + [self.mth(lo, lo + k)]

    def inclusion(self, i: int, n: int) -> list[bytes]:
        return self.path(i, 0, n)

    def consistency(self, m: int, n: int) -> list[bytes]:
        return [] if m in (0, n) else self.subproof(m, 0, n, True)

    def root(self, n: int) -> bytes:
        return self.mth(0, n) if n else M.EMPTY_ROOT


def append(log: RegistryLog, leaves: bytes) -> None:
    """Append leaf hashes to a stored log as a registry's write does (tiles and head)."""
    store = log._store
    with store.transaction():
        size = log._lock_size()
        log._write_nodes(size, leaves)
        store._x("UPDATE log_head SET size = ? WHERE id = 1", (size + len(leaves) // 32,))
        log._tiles.clear()


def open_twice(backend: str, tmp: Path) -> Iterator[tuple[Storage, Storage]]:
    if backend == "sqlite":
        a, b = SQLiteStorage(tmp / "log.db"), SQLiteStorage(tmp / "log.db")
        yield a, b
        a.close()
        b.close()
        return
    url = pg_server.fresh_schema_url(pg_server.require_pg_url())
    a = open_storage(url)
    b = open_storage(url)
    yield a, b
    a.close()
    b.close()
    pg_server.drop_schema(url)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def built(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[tuple[RegistryLog, RegistryLog, Reference]]:
    """A stored log built by `APPENDS` (through a second connection), the log that proves
    (its own connection) and the reference over the same leaves."""
    gen = open_twice(str(request.param), tmp_path_factory.mktemp("tree"))
    reader_store, writer_store = next(gen)
    writer = RegistryLog(writer_store)
    writer.create()
    rng = random.Random(5)
    leaves: list[bytes] = []
    for k in APPENDS:
        new = [rng.randbytes(32) for _ in range(k)]
        append(writer, b"".join(new))
        leaves += new
    yield RegistryLog(reader_store), writer, Reference(leaves)
    next(gen, None)


def _incl(log: RegistryLog, i: int, n: int) -> tuple[list[bytes], list[bytes]]:
    """The proof path's hashes and the generic path's, in one read transaction."""
    with log._store.snapshot():
        fast = log._proof_hashes(0, i, n)
        slow = M.inclusion_proof(log, i, n).hashes
    assert fast is not None, "the proof path must serve a read outside a write"
    return fast, slow


def _cons(log: RegistryLog, m: int, n: int) -> tuple[list[bytes], list[bytes]]:
    with log._store.snapshot():
        fast = log._proof_hashes(1, m, n)
        slow = M.consistency_proof(log, m, n).hashes
    assert fast is not None
    return fast, slow


def _edge_pairs(total: int) -> list[tuple[int, int]]:
    """(a, n) pairs at the edges: size 1, index = size - 1, sizes at and beside tile ends."""
    sizes = {1, 2, 3, total, total - 1}
    for t in (1, 2, 3, 16):
        sizes |= {t * TILE - 1, t * TILE, t * TILE + 1}
    out = []
    for n in sorted(s for s in sizes if 1 <= s <= total):
        out += [(0, n), (n - 1, n), (n // 2, n), (max(0, n - TILE), n)]
    return out


def test_inclusion_at_the_edges(built: tuple[RegistryLog, RegistryLog, Reference]) -> None:
    log, _, ref = built
    for i, n in _edge_pairs(len(ref.leaves)):
        fast, slow = _incl(log, i, n)
        assert fast == slow == ref.inclusion(i, n), (i, n)
        assert M.verify_inclusion(ref.leaves[i], i, n, fast, ref.root(n))


def test_consistency_at_the_edges(built: tuple[RegistryLog, RegistryLog, Reference]) -> None:
    log, _, ref = built
    total = len(ref.leaves)
    pairs = [(m, n) for _, n in _edge_pairs(total) for m in (1, n - 1, n // 2, TILE, 2 * TILE)
             if 0 < m < n]
    for m, n in pairs:
        fast, slow = _cons(log, m, n)
        assert fast == slow == ref.consistency(m, n), (m, n)
        assert M.verify_consistency(m, ref.root(m), n, ref.root(n), fast)


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_inclusion_property(built: tuple[RegistryLog, RegistryLog, Reference],
                            data: st.DataObject) -> None:
    log, _, ref = built
    n = data.draw(st.integers(1, len(ref.leaves)), label="size")
    i = data.draw(st.integers(0, n - 1), label="index")
    fast, slow = _incl(log, i, n)
    assert fast == slow == ref.inclusion(i, n)
    assert M.verify_inclusion(ref.leaves[i], i, n, fast, ref.root(n))
    # a proof for another leaf or size does not verify
    if n > 1:
        j = (i + 1) % n
        assert not M.verify_inclusion(ref.leaves[j], i, n, fast, ref.root(n))


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_consistency_property(built: tuple[RegistryLog, RegistryLog, Reference],
                              data: st.DataObject) -> None:
    log, _, ref = built
    n = data.draw(st.integers(2, len(ref.leaves)), label="size2")
    m = data.draw(st.integers(1, n - 1), label="size1")
    fast, slow = _cons(log, m, n)
    assert fast == slow == ref.consistency(m, n)
    assert M.verify_consistency(m, ref.root(m), n, ref.root(n), fast)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_appends_from_another_connection_between_proofs(backend: str, tmp_path: Path) -> None:
    """The prover keeps levels and leaf tiles from earlier proofs; a second connection
    appends (inside the kept edge tile, across tiles, many tiles); every later proof, at the
    new size and at old ones, is the reference's."""
    gen = open_twice(backend, tmp_path)
    a, b = next(gen)
    try:
        writer = RegistryLog(b)
        writer.create()
        prover = RegistryLog(a)
        rng = random.Random(11)
        leaves: list[bytes] = []
        for k in [3, 1, 250, 2, 1, 5, 300, 256, 7, 40, 4000, 1, 130, 126, 1]:
            new = [rng.randbytes(32) for _ in range(k)]
            append(writer, b"".join(new))
            leaves += new
            ref = Reference(leaves)
            n = len(leaves)
            assert prover.size() == n
            picks = {n - 1, 0, rng.randrange(n), max(0, n - k)}
            for i in picks:
                p = prover.inclusion_proof_at(i)
                assert (p.index, p.size, p.hashes) == (i, n, ref.inclusion(i, n))
                assert M.verify_inclusion(leaves[i], i, n, p.hashes, ref.root(n))
                old = rng.randrange(i + 1, n + 1)  # an older tree
                assert prover.inclusion_proof_at(i, old).hashes == ref.inclusion(i, old)
            for m in {1, n - 1, max(1, n - k), rng.randrange(1, n + 1)}:
                if 0 < m <= n:
                    q = prover.consistency_proof(m)
                    assert q.hashes == ref.consistency(m, n), (m, n)
                    assert M.verify_consistency(m, ref.root(m), n, ref.root(n), q.hashes)
            assert prover.root() == ref.root(n)
    finally:
        next(gen, None)


def _record(db: str, k: int, n: int) -> None:
    reg = Registry(db)
    reg.record_many([Event.scan(f"urn:antifake:p:{k}:{j}", by="app:p",
                                at=T0 + timedelta(seconds=j), lat=10.7, lon=106.7)
                     for j in range(n)])
    reg.close()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_registry_proofs_after_another_process_appends(backend: str, tmp_path: Path) -> None:
    """A registry proves events, another process records more, the same registry object
    proves old and new events in the new tree, and every proof verifies against its
    checkpoint."""
    if backend == "sqlite":
        db = str(tmp_path / "stamps.db")
    else:
        db = pg_server.fresh_schema_url(pg_server.require_pg_url())
    lk = af.LogKey.generate("registry.example.vn/antifake")
    reg = Registry(db, log_key=lk)
    try:
        first = [Event.scan(f"urn:antifake:a:{j}", by="app:a", at=T0, lat=1.0, lon=2.0)
                 for j in range(300)]
        reg.record_many(first)
        n1 = reg.log.size()
        p = reg.log.inclusion_proof(first[-1].event_id)
        ctx = multiprocessing.get_context("spawn")
        for k, count in enumerate([1, 200, 57]):
            proc = ctx.Process(target=_record, args=(db, k, count))
            proc.start()
            proc.join(120)
            assert proc.exitcode == 0
        cp = reg.log.tree_head()
        assert cp.size == n1 + 258
        for e in (first[0], first[-1], first[137]):
            q = reg.log.inclusion_proof(e.event_id)
            leaf = event_leaf_hash(id_to_hash(e.event_id))
            assert leaf == M.leaf_hash(e.event_id.encode())
            assert M.verify_inclusion(leaf, q.index, cp.size, q.hashes, cp.root)
        old = reg.log.inclusion_proof(first[-1].event_id, n1)
        assert old.hashes == p.hashes
        c = reg.log.consistency_proof(n1)
        assert M.verify_consistency(n1, reg.log.root(n1), cp.size, cp.root, c.hashes)
        assert not reg.log.check()
    finally:
        reg.close()
        if backend != "sqlite":
            pg_server.drop_schema(db)


def test_inclusion_proof_at_refuses_bad_input(tmp_path: Path) -> None:
    store = SQLiteStorage(tmp_path / "x.db")
    log = RegistryLog(store)
    log.create()
    append(log, random.Random(1).randbytes(32 * 10))
    bad: list[Any] = [-1, 10, 2**70, True, 1.0, "3", None]
    for i in bad:
        with pytest.raises(RegistryError):
            log.inclusion_proof_at(i)
    with pytest.raises(RegistryError):
        log.inclusion_proof_at(3, 3)
    with pytest.raises(RegistryError):
        log.inclusion_proof_at(0, 11)
    assert log.inclusion_proof_at(0, 1).hashes == []
    store.close()


def test_inside_a_write_the_generic_path_answers(tmp_path: Path) -> None:
    """Uncommitted nodes are never kept: inside a write the proof path stands aside."""
    store = SQLiteStorage(tmp_path / "x.db")
    log = RegistryLog(store)
    log.create()
    leaves = [random.Random(2).randbytes(32) for _ in range(600)]
    append(log, b"".join(leaves))
    ref = Reference(leaves)
    with store.transaction():
        assert log._proof_hashes(0, 5, 600) is None
        assert log._inclusion(5, 600).hashes == ref.inclusion(5, 600)
    assert log._upper == [] and not log._leaf_levels
    store.close()


def test_a_size_seen_inside_a_rolled_back_write_is_not_remembered(tmp_path: Path) -> None:
    """Proofs skip reading the head for a size no larger than one seen committed; a size seen
    inside a write that then rolls back must not count."""
    store = SQLiteStorage(tmp_path / "x.db")
    log = RegistryLog(store)
    log.create()
    leaves = random.Random(4).randbytes(32 * 40)
    append(log, leaves[: 32 * 20])
    assert log.inclusion_proof_at(3, 20).size == 20  # head 20 seen committed
    with pytest.raises(RuntimeError), store.transaction():
        size = log._lock_size()
        log._write_nodes(size, leaves[32 * 20:])
        store._x("UPDATE log_head SET size = 40 WHERE id = 1")
        assert log.inclusion_proof_at(30, 40).size == 40  # its own write, uncommitted
        raise RuntimeError("roll back")
    log._tiles.clear()
    with pytest.raises(RegistryError, match="0..20"):
        log.inclusion_proof_at(3, 40)
    with pytest.raises(RegistryError, match="0..20"):
        log.consistency_proof(10, 40)
    assert log.consistency_proof(10, 20).hashes == Reference(
        [leaves[32 * k: 32 * k + 32] for k in range(20)]).consistency(10, 20)
    store.close()


def test_a_missing_tile_is_reported_not_guessed(tmp_path: Path) -> None:
    store = SQLiteStorage(tmp_path / "x.db")
    log = RegistryLog(store)
    log.create()
    append(log, random.Random(3).randbytes(32 * 700))
    with store.transaction():
        store._x("DELETE FROM log_nodes WHERE level = 0 AND tile = 1")  # type: ignore[attr-defined]
    fresh = RegistryLog(store)
    with pytest.raises(RegistryError, match="damaged"):
        fresh.inclusion_proof_at(300)
    with store.transaction():
        store._x("UPDATE log_nodes SET data = ? WHERE level = 0 AND tile = 0",  # type: ignore[attr-defined]
                 (b"\x00" * 100,))
    with pytest.raises(RegistryError, match="damaged"):
        RegistryLog(store).inclusion_proof_at(3)
    store.close()


def test_native_kernels_check_their_input() -> None:
    lv = _core.tlog_tile_levels(b"\x01" * 32 * 256)
    assert len(lv) == 511 * 32
    for bad in (b"\x00" * 33, b"\x00" * 32 * 257):
        with pytest.raises(ValueError):
            _core.tlog_tile_levels(bad)
    assert bytes(_core.tlog_tile_levels(b"")) == bytes(511 * 32)
    # level 1 of the tile is the node hash of each pair, level 8 its root
    leaves = random.Random(4).randbytes(32 * 256)
    lv = bytes(_core.tlog_tile_levels(leaves))
    assert lv[256 * 32: 257 * 32] == M.node_hash(leaves[:32], leaves[32:64])
    assert lv[510 * 32:] == M.MemoryTree(leaves).root()
    # a group's 16 leaves with the tile's stored level 4: the same levels where filled
    tree = M.MemoryTree(leaves)
    mid = bytes(tree.levels[4])
    part = bytes(_core.tlog_tile_levels(leaves[32 * 16 * 5: 32 * 16 * 6], mid, 5))
    for level, first, count in ((0, 80, 16), (1, 40, 8), (3, 10, 2), (4, 0, 16), (5, 0, 8),
                                (7, 0, 2), (8, 0, 1)):
        base = 512 - (512 >> level)
        assert (part[32 * (base + first): 32 * (base + first + count)]
                == lv[32 * (base + first): 32 * (base + first + count)]), level
    for bad_args in ((leaves[:32 * 16], mid, 16), (leaves[:32 * 15], mid, 0),
                     (leaves[:32 * 16], mid[:32 * 15], 0), (leaves, mid, 0)):
        with pytest.raises(ValueError):
            _core.tlog_tile_levels(*bad_args)
    with pytest.raises(ValueError, match="level-4"):
        _core.tlog_tile_levels(leaves[:32 * 16], mid, 1)  # group 0's leaves, said to be 1
    with pytest.raises(ValueError):
        _core.tlog_proof(2, 0, 5, [], -1, None, 0, -1, -1, None, 0, -1)
    with pytest.raises(ValueError):
        _core.tlog_proof(0, 5, 5, [], -1, None, 0, -1, -1, None, 0, -1)
    with pytest.raises(ValueError):
        _core.tlog_proof(1, 0, 5, [], -1, None, 0, -1, -1, None, 0, -1)
    with pytest.raises(ValueError):
        _core.tlog_proof(0, 0, 5, [], 0, b"\x00" * 64, 5, -1, -1, None, 0, -1)
    with pytest.raises(TypeError):
        _core.tlog_proof(0, 0, 300, [b"\x00" * 32], 0, lv, 256, -1, -1, None, 0, -1)
    # a node the buffers lack: None, never a guess from zeroed slots
    assert _core.tlog_proof(0, 0, 5, [], -1, None, 0, -1, -1, None, 0, -1) is None
    short = _core.tlog_tile_levels(leaves[: 32 * 3])
    assert _core.tlog_proof(0, 0, 5, [], 0, short, 3, -1, -1, None, 0, -1) is None
    full = _core.tlog_tile_levels(leaves[: 32 * 5])
    got = _core.tlog_proof(0, 0, 5, [], 0, full, 5, -1, -1, None, 0, -1)
    ref = Reference([leaves[32 * j: 32 * j + 32] for j in range(5)])
    assert [got[k: k + 32] for k in range(0, len(got), 32)] == ref.inclusion(0, 5)


def test_a_log_without_level_4_keeps_its_layout_and_proves(tmp_path: Path) -> None:
    """A log begun before level 4 was stored (no level-4 tiles past 15 leaves) keeps that
    layout when appended to, and its proofs (whole leaf tiles hashed) are the reference's."""
    store = SQLiteStorage(tmp_path / "old.db")
    old = RegistryLog(store)
    old.create()
    old._mid = False  # what an earlier version wrote
    rng = random.Random(8)
    leaves = [rng.randbytes(32) for _ in range(700)]
    append(old, b"".join(leaves[:600]))
    assert not store._x("SELECT count(*) FROM log_nodes WHERE level = 4").fetchone()[0]  # type: ignore[attr-defined]
    now = RegistryLog(store)
    append(now, b"".join(leaves[600:]))  # this version appends in the old layout
    assert now._mid is False
    assert not store._x("SELECT count(*) FROM log_nodes WHERE level = 4").fetchone()[0]  # type: ignore[attr-defined]
    ref = Reference(leaves)
    prover = RegistryLog(store)
    for i, n in [(0, 700), (5, 600), (255, 256), (300, 700), (699, 700), (17, 512)]:
        fast, slow = _incl(prover, i, n)
        assert fast == slow == ref.inclusion(i, n)
    for m, n in [(1, 700), (300, 700), (256, 512), (17, 699)]:
        fast, slow = _cons(prover, m, n)
        assert fast == slow == ref.consistency(m, n)
    store.close()


def test_a_damaged_level_4_tile_never_gives_a_wrong_proof(tmp_path: Path) -> None:
    store = SQLiteStorage(tmp_path / "x.db")
    log = RegistryLog(store)
    log.create()
    leaves = [random.Random(9).randbytes(32) for _ in range(1000)]
    append(log, b"".join(leaves))
    assert log._mid is True
    data = bytearray(store._x("SELECT data FROM log_nodes WHERE level = 4 AND tile = 0"  # type: ignore[attr-defined]
                              ).fetchone()[0])
    data[32 * 17] ^= 1  # node 17 of level 4: leaves 272..287, in tile 1
    with store.transaction():
        store._x("UPDATE log_nodes SET data = ? WHERE level = 4 AND tile = 0", (bytes(data),))  # type: ignore[attr-defined]
    ref = Reference(leaves)
    prover = RegistryLog(store)
    for i in (272, 280, 287):  # the group of the damaged node: hashed, compared, refused
        with store.snapshot():
            assert prover._proof_hashes(0, i, 1000) is None
        assert prover.inclusion_proof_at(i, 1000).hashes == ref.inclusion(i, 1000)
    # another group of the same tile uses the damaged node as a sibling: the proof does not
    # verify (as with a damaged leaf tile); `check` names the damage (next test)
    p = prover.inclusion_proof_at(300, 1000)
    assert not M.verify_inclusion(leaves[300], 300, 1000, p.hashes, ref.root(1000))
    store.close()


def test_check_compares_every_stored_tile(tmp_path: Path) -> None:
    db = tmp_path / "stamps.db"
    reg = Registry(db, log_key=af.LogKey.generate("registry.example.vn/antifake"))
    reg.record_many([Event.scan(f"urn:antifake:c:{j}", by="app:c", at=T0, lat=1.0, lon=2.0)
                     for j in range(600)])
    assert reg.log.check() == []
    reg.close()
    store = SQLiteStorage(db)
    for level, tile in ((4, 0), (0, 1), (8, 0)):
        data = bytearray(store._x("SELECT data FROM log_nodes WHERE level = ? AND tile = ?",  # type: ignore[attr-defined]
                                  (level, tile)).fetchone()[0])
        data[0] ^= 1
        with store.transaction():
            store._x("UPDATE log_nodes SET data = ? WHERE level = ? AND tile = ?",  # type: ignore[attr-defined]
                     (bytes(data), level, tile))
        problems = RegistryLog(store).check()
        assert any(f"level {level}" in p for p in problems), problems
        data[0] ^= 1
        with store.transaction():
            store._x("UPDATE log_nodes SET data = ? WHERE level = ? AND tile = ?",  # type: ignore[attr-defined]
                     (bytes(data), level, tile))
    assert RegistryLog(store).check() == []
    store.close()
