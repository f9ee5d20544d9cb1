"""Packed columns: the event and incidence rows kept as numpy blobs beside the tables, how
chunks of them are merged, and the graph snapshot's arrays built from them."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from antifake.epcis.event_id import hash_ids
from antifake.epcis.parties import PartyAliases
from antifake.errors import RegistryError
from antifake.storage.abc import EV_DTYPE, INC_DTYPE, TraceColumns


def _names(dtype: np.dtype) -> tuple[str, ...]:
    """The field names of a structured dtype."""
    if dtype.names is None:
        raise TypeError(f"{dtype} is not a structured dtype")
    return dtype.names


def _pack(rec: np.ndarray) -> bytes:
    """A structured array as column-major bytes: every field's values, one field after the
    other (so that reading a column is one contiguous copy)."""
    return b"".join(np.ascontiguousarray(rec[name]).tobytes() for name in _names(rec.dtype))


def _unpack(blob: bytes, dtype: np.dtype, n: int) -> dict[str, np.ndarray]:
    """Inverse of `_pack`: read-only views of each field."""
    out: dict[str, np.ndarray] = {}
    off = 0
    for name in _names(dtype):
        ft = dtype[name]
        out[name] = np.frombuffer(blob, dtype=ft, count=n, offset=off)
        off += ft.itemsize * n
    if off != len(blob):
        raise RegistryError("column store chunk of the wrong size (run Registry.check())")
    return out


def _concat(parts: list[dict[str, np.ndarray]], dtype: np.dtype) -> bytes:
    return b"".join(np.concatenate([p[name] for p in parts]).tobytes()
                    for name in _names(dtype))


def _merge_from(tail: Sequence[Sequence[Any]], size: int, cap: int) -> int | None:
    """The id of the first trailing chunk to merge with a new chunk of ``size`` rows: chunks
    ``(id, rows)``, newest first, are taken while each is at most twice what has been gathered
    and the whole stays within ``cap`` rows (chunks stay few and geometric in size)."""
    start = None
    acc = size
    for cid, csize in tail:
        if csize <= 2 * acc and csize + acc <= cap:
            start = int(cid)
            acc += int(csize)
        else:
            break
    return start


def _merged(old: Sequence[Sequence[Any]], ev: np.ndarray, inc: np.ndarray
            ) -> tuple[bytes, bytes]:
    """The packed blobs of chunks ``(n_events, n_inc, events, inc)`` followed by ``ev``,
    ``inc``."""
    ev_b = _concat([_unpack(bytes(o[2]), EV_DTYPE, int(o[0])) for o in old]
                   + [{f: ev[f] for f in _names(EV_DTYPE)}], EV_DTYPE)
    inc_b = _concat([_unpack(bytes(o[3]), INC_DTYPE, int(o[1])) for o in old]
                    + [{f: inc[f] for f in _names(INC_DTYPE)}], INC_DTYPE)
    return ev_b, inc_b


def _id_map(ids: np.ndarray) -> tuple[bool, np.ndarray]:
    """Whether database ids ``ids`` (ascending) are exactly 1..n, and the ids themselves."""
    n = len(ids)
    dense = n == 0 or (int(ids[0]) == 1 and int(ids[-1]) == n)
    return dense, ids


def _to_index(values: np.ndarray, dense: bool, ids: np.ndarray, what: str) -> np.ndarray:
    """Map database ids to 0-based positions in ``ids`` (-1, none, stays -1)."""
    v = np.asarray(values, dtype=np.int64)
    if dense:
        out = v - 1
        out[v < 0] = -1
        if len(v) and int(out.max(initial=-1)) >= len(ids):
            raise RegistryError(f"column store names an unknown {what} row")
        return out
    if not len(ids):
        if np.any(v >= 0):
            raise RegistryError(f"column store names an unknown {what} row")
        return np.full(len(v), -1, dtype=np.int64)
    pos = np.searchsorted(ids, v)
    ok = (pos < len(ids)) & (ids[np.minimum(pos, len(ids) - 1)] == v)
    if np.any(~ok & (v >= 0)):
        raise RegistryError(f"column store names an unknown {what} row")
    return np.where(v >= 0, pos, -1).astype(np.int64)


def _graph_arrays(version: tuple[int, ...], epcs: np.ndarray, node_ids: np.ndarray,
                  prow: Sequence[Any], ev: dict[str, np.ndarray], inc: dict[str, np.ndarray],
                  batches: Sequence[Any], exceptions: Sequence[Any], details: Sequence[Any]
                  ) -> TraceColumns:
    """The snapshot from what a backend read: nodes (ids ascending, their EPCs), party rows
    (id, name, role, region, lat, lon), the packed event and incidence columns, the batches,
    the stamp-node exceptions and the (event id, detail code) of events that have one.
    Events are put in id order (concurrent PostgreSQL writers may commit chunks out of order;
    incidences follow their events)."""
    party_ids = np.array([r[0] for r in prow], dtype=np.int64)
    parties = np.empty(len(prow), dtype=object)
    parties[:] = [r[1] for r in prow]
    ev_db = ev["event"]
    if len(ev_db) > 1 and not np.all(ev_db[1:] > ev_db[:-1]):
        o = np.argsort(ev_db, kind="stable")
        ev = {f: a[o] for f, a in ev.items()}
        ev_db = ev["event"]
        if not np.all(ev_db[1:] > ev_db[:-1]):
            raise RegistryError("column store holds an event twice (run Registry.check())")
        oi = np.argsort(inc["event"], kind="stable")
        inc = {f: a[oi] for f, a in inc.items()}
    ev_dense, _ = _id_map(ev_db)
    node_dense, _ = _id_map(node_ids)
    party_dense, _ = _id_map(party_ids)
    node_key = np.full(len(node_ids), -1, dtype=np.int32)
    node_batch = np.full(len(node_ids), -1, dtype=np.int64)
    for _, key_id, batch_id, first_node, n in batches:
        ids = np.arange(first_node, first_node + n, dtype=np.int64)
        if node_dense:
            pos = ids - 1
            pos = pos[pos < len(node_ids)]
        else:
            p = np.searchsorted(node_ids, ids)
            ok = p < len(node_ids)
            ok[ok] = node_ids[p[ok]] == ids[ok]
            pos = p[ok]
        node_key[pos] = key_id
        node_batch[pos] = batch_id
    for node, key_id, batch_id in exceptions:
        p = _to_index(np.array([node]), node_dense, node_ids, "node")[0]
        node_key[p] = key_id
        node_batch[p] = batch_id
    hashes = ev.pop("hash").view(np.uint8).reshape(-1, 32)
    ev_detail = np.zeros(len(ev_db), dtype=np.uint8)
    if len(details):
        d_ids = np.fromiter((r[0] for r in details), dtype=np.int64, count=len(details))
        d_val = np.fromiter((r[1] for r in details), dtype=np.uint8, count=len(details))
        pos = np.searchsorted(ev_db, d_ids)
        ok = pos < len(ev_db)
        ok[ok] = ev_db[pos[ok]] == d_ids[ok]  # rows newer than the columns read are skipped
        ev_detail[pos[ok]] = d_val[ok]
    return TraceColumns(
        version=version,
        epcs=epcs,
        parties=parties,
        party_role=_objects([r[2] for r in prow]),
        party_region=_objects([r[3] for r in prow]),
        party_lat=np.array([np.nan if r[4] is None else r[4] for r in prow], dtype=np.float64),
        party_lon=np.array([np.nan if r[5] is None else r[5] for r in prow], dtype=np.float64),
        ev_ids=hash_ids(hashes),
        ev_time=ev["time"],
        ev_record=ev["recorded"],
        ev_kind=ev["kind"],
        ev_by=_to_index(ev["by"], party_dense, party_ids, "party").astype(np.int32),
        ev_src=_to_index(ev["src"], party_dense, party_ids, "party").astype(np.int32),
        ev_dst=_to_index(ev["dst"], party_dense, party_ids, "party").astype(np.int32),
        ev_lat=ev["lat"],
        ev_lon=ev["lon"],
        ev_detail=ev_detail,
        inc_event=_to_index(inc["event"], ev_dense, ev_db, "event"),
        inc_node=_to_index(inc["node"], node_dense, node_ids, "node"),
        agg_parent=_to_index(ev["parent"], node_dense, node_ids, "node"),
        node_key=node_key,
        node_batch=node_batch,
    )


def _objects(values: list[Any]) -> np.ndarray:
    """A 1-d object array of ``values`` (strings or ``None``)."""
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def fold_parties(cols: TraceColumns, glns: Mapping[str, str]) -> TraceColumns:
    """``cols`` with every party that is a GS1 identifier (PGLN, SGLN) of a registered party
    folded into that party (``glns``: `gln_key` -> party id, from ``party_glns``)."""
    folded = PartyAliases(glns).fold([str(p) for p in cols.parties.tolist()])
    if folded is None:
        return cols
    names, remap, rows = folded
    parties = np.empty(len(names), dtype=object)
    parties[:] = names
    pick = np.array(rows, dtype=np.int64)
    return dataclasses.replace(
        cols, parties=parties,
        party_role=cols.party_role[pick], party_region=cols.party_region[pick],
        party_lat=cols.party_lat[pick], party_lon=cols.party_lon[pick],
        ev_by=remap[cols.ev_by.astype(np.int64)], ev_src=remap[cols.ev_src.astype(np.int64)],
        ev_dst=remap[cols.ev_dst.astype(np.int64)])
