"""The data steps of schema upgrades (what a migration's DDL cannot do alone), shared by the
SQL backends: each takes the backend's ``?``-placeholder executor and runs inside the
migration's transaction."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from antifake.epcis.kinds import EventKind, doc_detail
from antifake.storage._packed import _pack, _unpack
from antifake.storage.abc import EV_DTYPE

#: How a backend runs one statement: ``x(sql, args)`` returns a cursor.
Execute = Callable[..., Any]

#: Packed event rows before schema 5 (no ``recorded``).
EV_DTYPE_V4 = np.dtype([(name, EV_DTYPE[name]) for name in EV_DTYPE.names or ()
                        if name != "recorded"])


def backfill_details(x: Execute) -> None:
    """Schema 3: the detail codes of events stored before it (computed once, from the stored
    JSON; every event written since carries its code)."""
    for eid, doc in x("SELECT id, doc FROM events WHERE kind IN (?, ?)",
                      (int(EventKind.CLAIM), int(EventKind.DECOMMISSION))).fetchall():
        d = doc_detail(doc)
        if d:
            x("UPDATE events SET detail = ? WHERE id = ?", (d, int(eid)))


def add_record_times(x: Execute) -> None:
    """Schema 5: the packed event rows gain each event's record time (from the events table,
    where it has always been kept)."""
    for cid, first, last, n, blob in x(
            "SELECT id, first_event, last_event, n_events, events FROM columns ORDER BY id"
    ).fetchall():
        old = _unpack(bytes(blob), EV_DTYPE_V4, int(n))
        rows = x("SELECT id, recorded_us FROM events WHERE id >= ? AND id <= ? ORDER BY id",
                 (int(first), int(last))).fetchall()
        ids = np.array([r[0] for r in rows], dtype=np.int64)
        rec = np.array([r[1] for r in rows], dtype=np.int64)
        new = np.empty(int(n), dtype=EV_DTYPE)
        for name in EV_DTYPE_V4.names or ():
            new[name] = old[name]
        pos = np.searchsorted(ids, old["event"])
        pos = np.minimum(pos, max(len(ids) - 1, 0))
        found = (ids[pos] == old["event"]) if len(ids) else np.zeros(int(n), dtype=bool)
        new["recorded"] = np.where(found, rec[pos] if len(ids) else 0, 0)
        x("UPDATE columns SET events = ? WHERE id = ?", (_pack(new), int(cid)))


#: What runs after the DDL of a schema version, when an existing store is upgraded.
DATA_STEPS: dict[int, Callable[[Execute], None]] = {3: backfill_details, 5: add_record_times}
