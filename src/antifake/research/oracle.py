"""How much recall the recorded data allows: copies whose recorded events look exactly like an
honest pattern.

A copy scanned by one phone far from the item's home, with no scan of the item at home close
enough in time for the trip (before it) and none after it, leaves what an honest item handed
over to someone in another city leaves (`antifake.research.field.FieldNoise.handover`): the
owner's scans, then, a trip later, one new phone far away. No detector can flag it without
flagging those honest items too, whatever it knows.
[`ambiguous_codes`][antifake.research.oracle.ambiguous_codes] lists such attacked codes from
the ground truth and the recorded events;
[`recall_bounds`][antifake.research.oracle.recall_bounds] turns them into the recall no detector
can exceed on that data (overall and per attack kind), printed beside recall in the research
tables.

What counts (per copied code, on the recorded events, with the simulation's truth of which
phone owns the item and where it was sold):

- *far events*: scans and claims by phones other than the owner's, located farther than
  ``far_km`` from the item's home (family and borrowed phones scan at home);
- *home events*: scans and claims by the owner's phone not located far from home (with no
  location too), scans and claims of other phones located near home, and those with no
  location by any phone but the far one;
- the code is **ambiguous** when its far events come from exactly one phone, and no home
  event lies after the first far event less the door-to-door trip time (``overhead_h`` plus
  the distance at ``speed_kmh``: an honest new owner scans only once the item has arrived),
  times corrected for each party's clock as record times allow
  ([`antifake.detect.clock_offsets`][antifake.detect.clock_offsets]);
- or when no recorded event places it far from home (the copies' scans all lost or without
  a location) and at most ``household`` phones scanned it: an owner, a family member and a
  borrowed phone leave the same.

Diverted goods ([`hidden_diversion`][antifake.research.oracle.hidden_diversion]) are out of
reach when every recorded scan of them lies near a party their recorded events name (a held
pallet sold off near its maker, its shipment and receipt lost).

The bound is that of a detector that flags no honest pattern. One that flags the handover
pattern anyway flags the genuine codes that leave it too:
[`honest_lookalikes`][antifake.research.oracle.honest_lookalikes] lists them (with the
default noise, about ten for each ambiguous copy).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from antifake.detect import clock_offsets, corrected_times, haversine_km
from antifake.epcis.kinds import EventKind
from antifake.research.attacks import AttackedSimulation

__all__ = ["COPY_ATTACKS", "ambiguous_codes", "hidden_diversion", "honest_lookalikes",
           "recall_bounds"]

#: The attack kinds whose recorded events are copies' scans (others: bound 1).
COPY_ATTACKS: tuple[str, ...] = ("clone", "fast_copy", "slow_copy", "crowd_copy")

_H = 3_600_000_000


def _data(sim: Any) -> AttackedSimulation:
    data = getattr(sim, "data", sim)  # a FieldSimulation or an AttackedSimulation
    if not isinstance(data, AttackedSimulation) or data.attacks is None:
        raise ValueError("the oracle needs an attacked simulation (with ground truth)")
    return data


def _corrected_times(d: AttackedSimulation) -> np.ndarray:
    if len(d.ev_record) != len(d.ev_time):
        return d.ev_time
    off = clock_offsets(d.ev_time, d.ev_record, d.ev_by, len(d.parties))
    return corrected_times(d.ev_time, d.ev_by, off)


def _homes(d: AttackedSimulation, items: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where each item really lives: its shop, else whoever holds it (truth)."""
    tr = d.truth
    holder = np.where(tr.item_retailer[items] >= 0, tr.item_retailer[items],
                      tr.item_distributor[items])
    return d.party_lat[holder], d.party_lon[holder]


def _honest_patterns(d: AttackedSimulation, nodes: np.ndarray, far_km: float, overhead_h: float,
                     speed_kmh: float, household: int) -> tuple[np.ndarray, np.ndarray]:
    """Of ``nodes`` (sorted, unique), those whose recorded events are a handover to another
    city and those that are a household's of at most ``household`` phones (0: not looked
    for; see the module documentation)."""
    none = np.zeros(0, np.int64)
    if not len(nodes):
        return none, none
    n_i = d.n_items
    owner = d.truth.item_owner
    if len(owner) != n_i:
        owner = np.full(n_i, -1, np.int32)
    # the recorded scans and claims of these codes, by code and time
    rows = np.flatnonzero(np.isin(d.inc_node, nodes))
    ev, nd = d.inc_event[rows], d.inc_node[rows]
    k = d.ev_kind[ev]
    keep = (k == EventKind.SCAN) | (k == EventKind.CLAIM)
    ev, nd = ev[keep], nd[keep]
    o = np.lexsort((d.ev_time[ev], nd))
    ev, nd = ev[o], nd[o]
    h_lat, h_lon = _homes(d, nd)
    lat, lon = d.ev_lat[ev], d.ev_lon[ev]
    located = np.isfinite(lat) & np.isfinite(lon)
    dist = np.where(located, haversine_km(h_lat, h_lon, np.where(located, lat, 0.0),
                                 np.where(located, lon, 0.0)), np.nan)
    by = d.ev_by[ev]
    mine = by == owner[nd]
    far = located & (dist > far_km) & ~mine
    home = (mine & ~(located & (dist > far_km))) | (~mine & located & (dist <= far_km))
    trip = np.where(far, (overhead_h + np.nan_to_num(dist) / speed_kmh) * _H, 0.0)
    # times as a registry can know them: each party's clock corrected from record times
    when = _corrected_times(d)[ev]
    handed, household_ = [], []
    seen = np.unique(nd)
    bounds = np.searchsorted(nd, seen)
    ends = np.searchsorted(nd, seen, side="right")
    for n, lo, hi in zip(seen.tolist(), bounds.tolist(), ends.tolist(), strict=True):
        f = np.flatnonzero(far[lo:hi]) + lo
        if not len(f):
            # nothing recorded places it far from home: a household's scans (the owner, a
            # family member, a borrowed phone) look the same, unless too many phones
            if household > 0 and len(np.unique(by[lo:hi])) <= household:
                household_.append(n)
            continue
        if len(np.unique(by[f])) != 1:
            continue
        first = f[0]
        # at home too: scans with no location by any phone but the far one (a household's;
        # after an honest handover every scan is the new owner's)
        h = np.flatnonzero(home[lo:hi] | (~located[lo:hi] & (by[lo:hi] != by[first]))) + lo
        if len(h) and when[h].max() > when[first] - trip[first]:
            continue
        handed.append(n)
    return np.array(handed, dtype=np.int64), np.array(household_, dtype=np.int64)


def ambiguous_codes(sim: Any, attacks: Iterable[str] = COPY_ATTACKS, *, far_km: float = 50.0,
                    overhead_h: float = 1.5, speed_kmh: float = 800.0, household: int = 3
                    ) -> np.ndarray:
    """Node ids (sorted) of the observable codes of ``attacks`` whose recorded events are an
    honest pattern (see the module documentation). ``sim``: a `FieldSimulation` or an
    `AttackedSimulation` (whose truth knows each item's owner phone)."""
    d = _data(sim)
    t = d.attacks
    assert t is not None
    sel = np.isin(t.attack, list(attacks)) & t.observable & (t.nodes < d.n_items)
    handed, household_ = _honest_patterns(d, np.unique(t.nodes[sel]), far_km, overhead_h,
                                          speed_kmh, household)
    return np.union1d(handed, household_).astype(np.int64)


def honest_lookalikes(sim: Any, *, far_km: float = 50.0, overhead_h: float = 1.5,
                      speed_kmh: float = 800.0) -> np.ndarray:
    """Node ids (sorted) of genuine sold codes, touched by no attack, whose recorded events
    are the handover pattern that makes a copy ambiguous: one phone far from home, nothing
    at home after it less the trip. A rule flagging the ambiguous copies flags these too."""
    d = _data(sim)
    t = d.attacks
    assert t is not None
    tr = d.truth
    owned = (tr.item_owner >= 0) & tr.item_sold if len(tr.item_owner) == d.n_items else \
        np.zeros(d.n_items, dtype=bool)
    owned[t.nodes[t.nodes < d.n_items]] = False
    handed, _ = _honest_patterns(d, np.flatnonzero(owned).astype(np.int64), far_km,
                                 overhead_h, speed_kmh, 0)
    return handed


def hidden_diversion(sim: Any, region_km: float = 50.0) -> np.ndarray:
    """Node ids (sorted) of observable diverted items whose recorded located scans all lie
    within ``region_km`` of a party its recorded events (or its containers') name, the maker
    only when no one else is named: goods sold where the records say they were (the records
    of their way out lost) look the same."""
    d = _data(sim)
    t = d.attacks
    assert t is not None
    n_i = d.n_items
    nodes = np.unique(t.nodes[(t.attack == "diversion") & t.observable & (t.nodes < n_i)])
    if not len(nodes):
        return nodes.astype(np.int64)
    tr = d.truth
    # each item and its containers (truth): the parties their recorded events name
    own = np.stack([nodes, tr.item_case[nodes], tr.item_final_case[nodes],
                    tr.item_pallet[nodes]], axis=1)
    rows = np.flatnonzero(np.isin(d.inc_node, own))
    ev, nd = d.inc_event[rows], d.inc_node[rows]
    kind = d.ev_kind[ev]
    by = d.ev_by[ev]
    busy = (kind != EventKind.SCAN) & (kind != EventKind.CLAIM) & (by >= 0)
    holders: dict[int, set[int]] = {}
    makers: dict[int, set[int]] = {}
    for n_, p, k in zip(nd[busy].tolist(), by[busy].tolist(), kind[busy].tolist(),
                        strict=True):
        holders.setdefault(n_, set()).add(p)
        if k == EventKind.COMMISSION:
            makers.setdefault(n_, set()).add(p)
    dst = d.ev_dst[ev]
    for n_, p in zip(nd[dst >= 0].tolist(), dst[dst >= 0].tolist(), strict=True):
        holders.setdefault(n_, set()).add(p)
    scans = (kind == EventKind.SCAN) | (kind == EventKind.CLAIM)
    out = []
    for i, n in enumerate(nodes.tolist()):
        ps: set[int] = set()
        mk: set[int] = set()
        for c in own[i].tolist():
            ps |= holders.get(c, set())
            mk |= makers.get(c, set())
        if ps - mk:  # the maker counts only when no one else is on record
            ps -= mk
        plist = np.array(sorted(ps), dtype=np.int64)
        m = scans & (nd == n)
        lat, lon = d.ev_lat[ev[m]], d.ev_lon[ev[m]]
        ok = np.isfinite(lat) & np.isfinite(lon)
        if not ok.any() or not len(plist):
            continue
        near = haversine_km(lat[ok][:, None], lon[ok][:, None], d.party_lat[plist][None, :],
                   d.party_lon[plist][None, :]) <= region_km
        if near.any(axis=1).all():
            out.append(n)
    return np.array(out, dtype=np.int64)


def recall_bounds(sim: Any, attacks: Iterable[str] = COPY_ATTACKS, **kw: Any
                  ) -> dict[str, Any]:
    """The recall no detector can exceed on ``sim``'s recorded data: overall (over every
    observable attacked code, as `antifake.research.metrics.score_table` counts recall) and
    per attack kind; also the ambiguous codes' counts. Keywords: those of
    [`ambiguous_codes`][antifake.research.oracle.ambiguous_codes]."""
    d = _data(sim)
    t = d.attacks
    assert t is not None
    attacks = tuple(attacks)
    amb = np.zeros(d.n_nodes, dtype=bool)
    amb[ambiguous_codes(d, attacks, **kw)] = True
    attacks = (*attacks, "diversion")
    amb[hidden_diversion(d)] = True
    # a code is out of reach when it is ambiguous under every attack on it
    obs_nodes = np.unique(t.nodes[t.observable])
    reach = np.zeros(d.n_nodes, dtype=bool)
    copy = np.isin(t.attack, list(attacks))
    reach[t.nodes[t.observable & ~copy]] = True
    reach[t.nodes[t.observable & copy & ~amb[t.nodes]]] = True
    n_obs = len(obs_nodes)
    out: dict[str, Any] = {
        "observable": n_obs, "ambiguous": int(np.count_nonzero(~reach[obs_nodes])),
        "recall_bound": float(reach[obs_nodes].mean()) if n_obs else math.nan,
    }
    per: dict[str, dict[str, Any]] = {}
    for name in sorted(set(t.attack.tolist())):
        o = np.unique(t.nodes[(t.attack == name) & t.observable])
        a = int(np.count_nonzero(amb[o])) if name in set(attacks) else 0
        per[name] = {"observable": len(o), "ambiguous": a,
                     "recall_bound": (1.0 - a / len(o)) if len(o) else math.nan}
    out["per_attack"] = per
    return out
