"""The literature baseline: a deterministic impossible-travel / duplicate-read rule.

Trace-based clone detection in the RFID literature (Lehtonen, Michahelles and Fleisch 2009;
Zanetti, Capkun and Juels, NDSS 2013) starts from one deterministic check: a genuine tag cannot
be in two places at once, so two reads of one identifier that no physical move can explain
expose a copy. As reproduced here, on the same data as antifake's detector, a code is flagged
when either holds:

1. **impossible travel**: two consecutive located reads of the code (consumer scans, claims,
   retail sales; in time order) lie more than ``travel_km`` apart and imply a speed above
   ``max_kmh`` (distance over the time between them, no allowance for clock error, location
   error, or the time a trip takes door to door);
2. **duplicate reads**: the code was read by ``max_readers`` or more distinct devices.

There is no score: a code is flagged (1.0) or not. Missing reads are not modelled, as in the
papers' base rule.
"""

from __future__ import annotations

import numpy as np

from antifake.epcis.kinds import EventKind
from antifake.research.attacks import AttackedSimulation

__all__ = ["baseline_scores"]

_LOCATED = (EventKind.SCAN, EventKind.CLAIM, EventKind.SELL)


def baseline_scores(sim: AttackedSimulation, *, travel_km: float = 50.0,
                    max_kmh: float = 900.0, max_readers: int = 15) -> np.ndarray:
    """Per graph node: 1.0 when the baseline rule flags it, else -1.0."""
    kind = sim.ev_kind[sim.inc_event]
    rows = np.flatnonzero(np.isin(kind, [int(k) for k in _LOCATED]))
    e, n = sim.inc_event[rows], sim.inc_node[rows]
    out = np.full(sim.n_nodes, -1.0)
    # duplicate reads: distinct devices per code (scans and claims)
    dev = (kind[rows] != EventKind.SELL) & (sim.ev_by[e] >= 0)
    pairs = np.unique(np.stack([n[dev], sim.ev_by[e[dev]].astype(np.int64)]), axis=1)
    if pairs.size:
        cnt = np.bincount(pairs[0], minlength=sim.n_nodes)
        out[cnt >= max_readers] = 1.0
    # impossible travel between consecutive located reads
    lat, lon = sim.ev_lat[e], sim.ev_lon[e]
    ok = ~np.isnan(lat) & ~np.isnan(lon)
    e, n, lat, lon = e[ok], n[ok], lat[ok], lon[ok]
    t = sim.ev_time[e]
    o = np.lexsort((t, n))
    n, t, lat, lon = n[o], t[o], lat[o], lon[o]
    same = n[1:] == n[:-1]
    p1, p2 = np.radians(lat[:-1]), np.radians(lat[1:])
    a = (np.sin((p2 - p1) / 2) ** 2
         + np.cos(p1) * np.cos(p2) * np.sin((np.radians(lon[1:]) - np.radians(lon[:-1])) / 2) ** 2)
    d = 2 * 6371.0088 * np.arcsin(np.sqrt(np.minimum(a, 1.0)))
    hours = np.diff(t) / 3.6e9
    with np.errstate(divide="ignore", invalid="ignore"):
        fast = same & (d > travel_km) & ((hours <= 0) | (d / hours > max_kmh))
    out[n[1:][fast]] = 1.0
    return out
