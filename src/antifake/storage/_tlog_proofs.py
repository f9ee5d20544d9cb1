"""The stored log's proof path: RFC 9162 inclusion and consistency proofs from the kept upper
levels and one small read per proof, planned and hashed by the native core (`_tlog.pxi`).

A log keeps the complete nodes of levels 8 and up in memory, read once and extended by the
tiles other writers add: a committed node never changes, so what is kept stays a prefix of
every later tree and is never wrong, only short. A proof reads the 16 leaf hashes of its leaf's
group and the 16 level-4 nodes of its leaf tile (1 KB, one statement) and hashes the 29 nodes
it needs; the levels of the partial leaf tile at the tree's right edge are kept. Inside a
write transaction (uncommitted nodes are never kept), in a core without the kernels, or when a
stored node disagrees, the path stands aside and `antifake.log.merkle`'s generic one answers.
"""

from __future__ import annotations

from antifake.log._native import tlog_proof as _tlog_proof
from antifake.log._native import tlog_tile_levels as _tlog_tile_levels
from antifake.log.merkle import HASH_SIZE
from antifake.storage.abc import Storage
from antifake.storage.sqlite import SQLiteStorage

__all__ = ["ProofPath", "TILE"]

#: Hashes per stored tile.
TILE = 256
_TILE_BYTES = TILE * HASH_SIZE
#: Levels 0-7 of a proof lie inside one tile of leaf hashes; levels from 8 up are kept.
_LOW_LEVELS = 8
#: The level stored among the low ones (16 nodes a leaf tile), so that a proof hashes 29
#: nodes of a leaf tile rather than 255.
_MID = 4
#: Leaf tiles whose levels 0-8 the proof path keeps (16 KB each).
_LEAF_LEVELS_MAX = 64


def _is_sqlite(store: Storage) -> bool:
    return isinstance(store, SQLiteStorage)


class ProofPath:
    """The proof path of [`RegistryLog`][antifake.storage.tlog.RegistryLog] (a mixin)."""

    _store: Storage
    _upper: list[bytearray]
    _upper_n: int
    _leaf_levels: dict[int, tuple[bytearray, int]]

    def _has_mid(self) -> bool:
        """Whether the log stores level 4 (the log decides)."""
        raise NotImplementedError

    def _proof_hashes(self, kind: int, a: int, n: int) -> list[bytes] | None:
        """The hashes of an inclusion (`kind` 0: leaf `a`) or consistency (1: size `a`)
        proof in the tree of `n` leaves, from the kept upper levels and the levels of at most
        two leaf tiles (the one at the proof's leaf, the partial one at the tree's right
        edge); None when this path cannot serve (inside a write, a core without the kernels,
        a node missing: the generic path then answers or reports the damage)."""
        if _tlog_proof is None or getattr(self._store, "_tx", None) == "write":
            return None
        if n > self._upper_n and not self._load_upper(n):
            return None
        leaf = a if kind == 0 else a - 1
        t1 = leaf // TILE
        t2 = (n - 1) // TILE if n % TILE else -1
        g1 = -1
        if t2 == t1:
            t2 = -1
        if (t1 + 1) * TILE <= n and self._has_mid():  # a full tile, level 4 stored
            g1 = leaf % TILE >> _MID
            got = self._group_levels(t1, g1)
            if got is None:
                return None
            lv = [got] if t2 < 0 else [got, *(self._tile_levels([t2], n) or [])]
        else:
            lv = self._tile_levels([t1] if t2 < 0 else [t1, t2], n) or []
        if len(lv) != (1 if t2 < 0 else 2):
            return None
        l1, c1 = lv[0]
        l2, c2 = lv[1] if t2 >= 0 else (None, 0)
        out = _tlog_proof(kind, a, n, self._upper, t1, l1, c1, g1, t2, l2, c2, -1)
        if out is None:
            return None
        return [out[k: k + HASH_SIZE] for k in range(0, len(out), HASH_SIZE)]

    def _group_levels(self, t: int, group: int) -> tuple[bytearray, int] | None:
        """Levels of full leaf tile `t` for a proof at a leaf of `group`: the group's 16 leaf
        hashes and the tile's 16 level-4 nodes (1 KB, one statement), 29 node hashes."""
        levels_of = _tlog_tile_levels
        if levels_of is None:
            return None
        cut = ("substr(data, ?, 512)" if _is_sqlite(self._store)
               else "substring(data from ? for 512)")
        rows = self._store._x(  # type: ignore[attr-defined]
            f"SELECT 0, {cut} FROM log_nodes WHERE level = 0 AND tile = ? UNION ALL "  # noqa: S608
            f"SELECT 1, {cut} FROM log_nodes WHERE level = ? AND tile = ?",
            (group * 512 + 1, t, (t & 15) * 512 + 1, _MID, t >> 4)).fetchall()
        got = {int(r[0]): bytes(r[1]) for r in rows}
        leaves, mid = got.get(0, b""), got.get(1, b"")
        if len(leaves) != 16 * HASH_SIZE or len(mid) != 16 * HASH_SIZE:
            return None
        try:
            return levels_of(leaves, mid, group), TILE
        except ValueError:  # a stored level-4 node disagrees (`check` reports it): the
            return None     # generic path, which hashes from the leaves, answers

    def _tile_levels(self, tiles: list[int], n: int) -> list[tuple[bytearray, int]] | None:
        """Levels 0-8 above leaf tiles (one statement for the ones not kept), each with the
        number of leaves it was hashed from; None when a tile is short of the tree's `n`."""
        kept = self._leaf_levels
        levels_of = _tlog_tile_levels
        if levels_of is None:
            return None
        got: dict[int, tuple[bytearray, int]] = {}
        miss = []
        for t in tiles:
            hit = kept.get(t)
            if hit is not None and hit[1] >= min(TILE, n - t * TILE):
                got[t] = hit
            else:
                miss.append(t)
        if miss:
            q = ",".join("?" * len(miss))
            rows = self._store._x(f"SELECT tile, data FROM log_nodes WHERE level = 0 AND "  # type: ignore[attr-defined]  # noqa: S608
                                  f"tile IN ({q})", miss).fetchall()
            for t, data in rows:
                leaves = bytes(data)
                if len(leaves) % HASH_SIZE or len(leaves) > _TILE_BYTES:
                    return None
                if len(kept) >= _LEAF_LEVELS_MAX:
                    kept.pop(next(iter(kept)))
                kept[int(t)] = got[int(t)] = (levels_of(leaves),
                                              len(leaves) // HASH_SIZE)
        out = []
        for t in tiles:
            hit = got.get(t)
            if hit is None or hit[1] < min(TILE, n - t * TILE):
                return None
            out.append(hit)
        return out

    def _load_upper(self, n: int) -> bool:
        """Extend the kept levels 8 and up to every complete node of the tree of `n` leaves
        (reading only the tiles not kept yet, the partial last one of each level again).
        Called outside writes, so only committed nodes are kept: the tree only grows, and a
        committed node never changes, so what is kept stays valid when others append."""
        up = self._upper
        parts, args = [], []
        level = _LOW_LEVELS
        while n >> level:
            k = level - _LOW_LEVELS
            if k == len(up):
                up.append(bytearray())
            have = len(up[k]) // HASH_SIZE
            need = n >> level
            if have < need:
                parts.append("SELECT level, tile, data FROM log_nodes WHERE level = ? AND "
                             "tile >= ? AND tile <= ?")
                args += [level, have // TILE, (need - 1) // TILE]
            level += 1
        if parts:
            rows = self._store._x(" UNION ALL ".join(parts), args).fetchall()  # type: ignore[attr-defined]
            for lvl, t, data in sorted((int(r[0]), int(r[1]), bytes(r[2])) for r in rows):
                buf = up[lvl - _LOW_LEVELS]
                if len(buf) > t * _TILE_BYTES:  # the partial tile kept before: read again
                    del buf[t * _TILE_BYTES:]
                if len(buf) != t * _TILE_BYTES:  # a gap (damaged): the generic path reports
                    return False
                buf += data[: _TILE_BYTES]
        level = _LOW_LEVELS
        while n >> level:
            if len(up[level - _LOW_LEVELS]) < (n >> level) * HASH_SIZE:
                return False
            level += 1
        self._upper_n = n
        return True
