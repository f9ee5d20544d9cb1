"""Honest noise about phones for `antifake.research.field.field_simulation`, with ground truth:
items handed over to someone else (whose later scans use a new phone, maybe in another city)
and scans of an owner's item by someone else's phone nearby (a borrowed phone).

Both run after the attacks and before the field noise (missed reads, clocks, GPS), on genuine
codes only, so that a detector that treats "another phone" as proof of a copy pays for it.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from antifake.detect import haversine_km
from antifake.epcis.kinds import EventKind
from antifake.research._attack_types import AttackedSimulation
from antifake.research._injection import _far_region
from antifake.research.sim import REGION_LAT, REGION_LON

__all__ = ["phone_noise"]

_S = 1_000_000
_H = 3600 * _S
_D = 24 * _H
_K = EventKind
_REG_LAT, _REG_LON = REGION_LAT, REGION_LON


def _new_phones(rng: np.random.Generator, taken: set[str], k: int) -> list[str]:
    names = []
    for h in rng.integers(0, 2**40, size=k, dtype=np.uint64).tolist():
        name = f"app:{int(h):010x}"
        while name in taken:
            name += "x"
        taken.add(name)
        names.append(name)
    return names


def _owner_rows(asim: AttackedSimulation, ev_by: np.ndarray | None, owner: np.ndarray,
                genuine: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(event, item) of the scans and claims each genuine item's owner made with its own
    phone (``ev_by``: who made each event; None: the scans and claims of any phone), sorted
    by item and time."""
    n_i = asim.n_items
    e, n = asim.inc_event, asim.inc_node
    m = n < n_i
    e, n = e[m], n[m]
    k = asim.ev_kind[e]
    m = ((k == _K.SCAN) | (k == _K.CLAIM)) & genuine[n]
    e, n = e[m], n[m]
    if ev_by is not None:
        m = ev_by[e] == owner[n]
        e, n = e[m], n[m]
    o = np.lexsort((asim.ev_time[e], n))
    return e[o], n[o]


def phone_noise(asim: AttackedSimulation, handover: float, borrowed: float,
                rng: np.random.Generator) -> tuple[AttackedSimulation, np.ndarray, np.ndarray]:
    """``asim`` with handovers and borrowed phones on its genuine owned items; also the items
    handed over and those scanned from a borrowed phone (node ids, sorted)."""
    tr = asim.truth
    n_i = asim.n_items
    owner = tr.item_owner
    none = np.zeros(0, np.int64)
    if len(owner) != n_i or (handover <= 0 and borrowed <= 0):
        return asim, none, none
    assert asim.attacks is not None
    genuine = (owner >= 0) & tr.item_sold
    genuine[asim.attacks.nodes[asim.attacks.nodes < n_i]] = False
    by = asim.ev_by.copy()
    t = asim.ev_time.copy()
    rec = (asim.ev_record if len(asim.ev_record) == len(t) else asim.ev_time).copy()
    lat, lon = asim.ev_lat.copy(), asim.ev_lon.copy()
    taken = set(asim.parties.tolist())
    names: list[str] = []
    base = len(asim.parties)
    handed = none
    if handover > 0:
        ev, item = _owner_rows(asim, asim.ev_by, owner, genuine)
        items, start, cnt = np.unique(item, return_index=True, return_counts=True)
        pick = rng.random(len(items)) < handover
        items, start, cnt = items[pick], start[pick], cnt[pick]
        k = len(items)
        # the handover comes before one of the owner's events: that one and the later ones
        # are the new owner's, from a new phone
        j = (rng.random(k) * cnt).astype(np.int64)
        new_phone = base + np.arange(k, dtype=np.int32)
        names += _new_phones(rng, taken, k)
        far = rng.random(k) < 0.5  # the new owner lives in another city
        r = np.maximum(tr.item_retailer[items], 0)
        h_lat, h_lon = asim.party_lat[r], asim.party_lon[r]
        reg = _far_region(rng, h_lat, h_lon, 150.0)
        c_lat = _REG_LAT[reg] + rng.normal(0, 0.05, k)
        c_lon = _REG_LON[reg] + rng.normal(0, 0.05, k)
        dist = haversine_km(h_lat, h_lon, c_lat, c_lon)
        # the item travels to them: door to door at most 300 km/h plus two hours, then a
        # while before they scan it
        trip = ((dist / 300.0) * _H + 2 * _H).astype(np.int64) + \
            rng.integers(_H, 3 * _D, k)
        # every consumer scan and claim of the item from the handover on (the owner's and
        # their family's) is the new household's, from the new phone
        h_time = asim.ev_time[ev[start + j]]
        slot = np.full(n_i, -1, dtype=np.int64)
        slot[items] = np.arange(k)
        ce, ci = _owner_rows(asim, None, owner, genuine)
        mine = slot[ci] >= 0
        ce, ci = ce[mine], ci[mine]
        row = slot[ci]
        after = asim.ev_time[ce] >= h_time[row]
        moved, rows = ce[after], row[after]
        # the last event before the handover (else the sale), and the first after it
        prev = tr.item_sell_time[items].copy()
        np.maximum.at(prev, row[~after], asim.ev_time[ce[~after]])
        by[moved] = new_phone[rows]
        fr = far[rows]
        mv = moved[fr]
        lat[mv] = np.where(np.isnan(lat[mv]), np.nan,
                           c_lat[rows[fr]] + rng.normal(0, 0.02, len(mv)))
        lon[mv] = np.where(np.isnan(lon[mv]), np.nan,
                           c_lon[rows[fr]] + rng.normal(0, 0.02, len(mv)))
        # far: the new household's first event comes after the trip from the last of the old
        shift = np.where(far, np.maximum(0, prev + trip - h_time), 0)
        t[moved] += shift[rows]
        rec[moved] += shift[rows]
        handed = items.astype(np.int64)
    lent = none
    if borrowed > 0:
        ev, item = _owner_rows(asim, by, owner, genuine)
        is_scan = asim.ev_kind[ev] == _K.SCAN
        ev, item = ev[is_scan], item[is_scan]
        sel = rng.random(len(ev)) < borrowed
        ev, item = ev[sel], item[sel]
        # someone nearby: a phone living in the owner's region, else a new one
        preg = tr.phone_region
        own_reg = preg[owner[item]] if len(preg) else np.full(len(item), -1)
        phones = np.flatnonzero(preg >= 0) if len(preg) else none
        p_reg = preg[phones] if len(phones) else none
        order = np.argsort(p_reg, kind="stable")
        phones, p_reg = phones[order], p_reg[order]
        lo = np.searchsorted(p_reg, own_reg)
        hi = np.searchsorted(p_reg, own_reg, side="right")
        cnt = hi - lo
        other = phones[np.minimum(lo + (rng.random(len(ev)) * cnt).astype(np.int64),
                                  max(len(phones) - 1, 0))] if len(phones) else \
            np.full(len(ev), -1)
        fresh = (cnt < 2) | (other == owner[item]) | (own_reg < 0)
        nf = int(fresh.sum())
        other = other.astype(np.int32)
        other[fresh] = base + len(names) + np.arange(nf, dtype=np.int32)
        names += _new_phones(rng, taken, nf)
        by[ev] = other
        lent = np.unique(item).astype(np.int64)
    if not names and not len(handed) and not len(lent):
        return asim, handed, lent
    obj = np.empty(len(names), dtype=object)
    obj[:] = names
    role = np.empty(len(names), dtype=object)
    role[:] = "app"
    blank = np.empty(len(names), dtype=object)
    blank[:] = ""
    noise = dict(asim.noise)
    noise["handover"] = handed
    noise["borrowed_phone"] = lent
    out = replace(asim, ev_by=by, ev_time=t, ev_record=rec, ev_lat=lat, ev_lon=lon,
                  parties=np.concatenate([asim.parties, obj]),
                  party_role=np.concatenate([asim.party_role, role]),
                  party_region=np.concatenate([asim.party_region, blank]),
                  party_lat=np.concatenate([asim.party_lat, np.full(len(names), np.nan)]),
                  party_lon=np.concatenate([asim.party_lon, np.full(len(names), np.nan)]),
                  noise=noise)
    return out, handed, lent
