"""A simulated supply chain as storage rows, for benchmarks that fill a registry fast.

The rows carry synthetic event hashes (SHA-256 of the simulation's event ids) and minimal
documents: they exercise the storage layer and the graph columns, not event hashing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import numpy as np

from antifake.storage import EventRow


def event_rows(sim: Any, step: int = 200_000) -> Iterator[list[EventRow]]:
    """The simulation's events as `EventRow` lists of at most ``step`` rows, in event order."""
    epcs, parties = sim.epcs, sim.parties
    order = np.argsort(sim.inc_event, kind="stable")
    inc_e, inc_n = sim.inc_event[order], sim.inc_node[order]
    ptr = np.searchsorted(inc_e, np.arange(sim.n_events + 1))
    for lo in range(0, sim.n_events, step):
        rows = []
        for e in range(lo, min(lo + step, sim.n_events)):
            nodes = inc_n[ptr[e]: ptr[e + 1]]
            parent = int(sim.agg_parent[e])
            by, src, dst = int(sim.ev_by[e]), int(sim.ev_src[e]), int(sim.ev_dst[e])
            lat, lon = float(sim.ev_lat[e]), float(sim.ev_lon[e])
            rows.append(EventRow(
                hashlib.sha256(sim.ev_ids[e].encode()).digest(), int(sim.ev_time[e]),
                int(sim.ev_kind[e]), {"type": "ObjectEvent", "sim": sim.ev_ids[e]},
                epcs[nodes].tolist(), epcs[parent] if parent >= 0 else None,
                parties[by] if by >= 0 else None, parties[src] if src >= 0 else None,
                parties[dst] if dst >= 0 else None,
                None if lat != lat else lat, None if lon != lon else lon))
        yield rows
