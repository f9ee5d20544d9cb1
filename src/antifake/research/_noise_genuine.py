"""Noise on genuine codes for `antifake.research.attacks.inject`: business clocks and missed
reads before the attacks, then genuine claims, families, retail listings and honest
travellers after them (the order is part of the seed)."""

from __future__ import annotations

import numpy as np

from antifake.detect import (
    haversine_km,
)
from antifake.research._attack_types import (
    _D,
    _H,
    _INTENT_MISTYPED,
    _INTENT_OK,
    _INTENT_WRONG,
    _K,
    _S,
)
from antifake.research._injection import _REG_LAT, _REG_LON, _far_region, _Injection, _unit


def noise_before(s: _Injection) -> None:
    """Business clocks off, and scans, sales and retailer receipts never recorded."""
    sim, noise, rng, t, kind, by = s.sim, s.noise, s.rng, s.t, s.kind, s.by
    drop, role = s.drop, s.role
    if noise.skewed_parties > 0 and noise.clock_skew_s > 0:
        biz = np.flatnonzero(role != "app")
        skewed = biz[rng.random(len(biz)) < noise.skewed_parties]
        off = np.zeros(len(sim.parties), dtype=np.int64)
        off[skewed] = rng.integers(-int(noise.clock_skew_s * _S), int(noise.clock_skew_s * _S) + 1,
                                   size=len(skewed))
        shift = np.where(by >= 0, off[np.maximum(by, 0)], 0)
        t += shift
    missed: dict[str, np.ndarray] = {}
    for name, k_, p_ in (("missed_scan", _K.SCAN, noise.missed_scan),
                         ("missed_sale", _K.SELL, noise.missed_sale)):
        if p_ > 0:
            cand = np.flatnonzero(kind == k_)
            lost = cand[rng.random(len(cand)) < p_]
            drop[lost] = True
            missed[name] = lost
    if noise.missed_receipt > 0:
        cand = np.flatnonzero((kind == _K.RECEIVE) & (by >= 0)
                              & (role[np.maximum(by, 0)] == "retailer"))
        lost = cand[rng.random(len(cand)) < noise.missed_receipt]
        drop[lost] = True
        missed["missed_receipt"] = lost
    s.missed = missed


def noise_after(s: _Injection) -> None:
    """Genuine claims (some after a wrong PIN), families, retail listings, travellers; the
    genuine codes each noise touched."""
    sim, noise, rng, tr, n_i, n_nodes = s.sim, s.noise, s.rng, s.tr, s.n_i, s.n_nodes
    t, lat, lon, P, ev, new_epcs = s.t, s.lat, s.lon, s.P, s.ev, s.new_epcs
    scan_ev, scan_ptr, retailer, active = s.scan_ev, s.scan_ptr, s.retailer, s.active
    home_lat, home_lon = s.home_lat, s.home_lon
    shelf_t, used, truth_rows, missed = s.shelf_t, s.used, s.truth_rows, s.missed
    n_all_nodes = n_nodes + len(new_epcs)
    used_all = np.zeros(n_all_nodes, dtype=bool)
    used_all[:n_nodes] = used
    for nodes, _, _, _ in truth_rows:
        used_all[nodes] = True
    genuine = ~used_all[:n_i]
    noise_nodes: dict[str, np.ndarray] = {}
    for name, lost in missed.items():
        noise_nodes[name] = np.unique(sim.inc_node[np.isin(sim.inc_event, lost)])

    # ---------------------------------------------------------------- noise, part B
    n_scans = np.diff(scan_ptr)
    sold_g = tr.item_sold & genuine
    extra_loc: list[tuple[np.ndarray, np.ndarray]] = []  # (item, time) of new located events
    if noise.claims > 0:
        cl = np.flatnonzero(sold_g & (rng.random(n_i) < noise.claims))
        t_c = tr.item_sell_time[cl] + _unit(len(cl), _H, 7 * _D, rng)
        apps = s.owner_phones(cl)  # the buyer claims with their own phone
        c_lat = home_lat[cl] + rng.normal(0, 0.02, len(cl))
        c_lon = home_lon[cl] + rng.normal(0, 0.02, len(cl))
        typo = rng.random(len(cl)) < noise.claim_typos
        tt = np.flatnonzero(typo)
        n_typo = 1 + rng.integers(0, 2, len(tt))
        ti = np.repeat(tt, n_typo)
        intent = np.where(rng.random(len(ti)) < 0.5, _INTENT_MISTYPED, _INTENT_WRONG)
        ev.add(t_c[ti] - _unit(len(ti), 30 * _S, 600 * _S, rng), _K.CLAIM, apps[ti],
               lat=c_lat[ti], lon=c_lon[ti], intent=intent, inc_node=cl[ti])
        ev.add(t_c, _K.CLAIM, apps, lat=c_lat, lon=c_lon, intent=_INTENT_OK, inc_node=cl)
        extra_loc.append((cl, t_c))
        extra_loc.append((cl[ti], t_c[ti]))
        noise_nodes["claim"] = cl
        noise_nodes["claim_typo"] = cl[tt]
    if noise.family > 0:
        fam = np.flatnonzero(sold_g & (n_scans > 0) & (rng.random(n_i) < noise.family))
        k = len(fam)
        pool = P.apps(max(1, min(2000, k // 4 + 1)))
        fam_app = pool[rng.integers(0, len(pool), k)]
        first_ev = scan_ev[scan_ptr[fam]]
        f_lat, f_lon, f_t = lat[first_ev], lon[first_ev], sim.ev_time[first_ev]
        m_ = 2 + rng.integers(0, 4, k)
        fi = np.repeat(np.arange(k), m_)
        ts = f_t[fi] + _unit(len(fi), _H, 10 * _D, rng)
        # mostly from the owner's phone; a family member's own phone otherwise
        by_f = np.where(rng.random(len(fi)) < 0.7, s.owner_phones(fam[fi]), fam_app[fi])
        ev.add(ts, _K.SCAN, by_f, lat=f_lat[fi] + rng.normal(0, 0.002, len(fi)),
               lon=f_lon[fi] + rng.normal(0, 0.002, len(fi)), inc_node=fam[fi])
        extra_loc.append((fam[fi], ts))
        noise_nodes["family"] = fam
    if noise.retail_listings > 0:
        shelf = np.flatnonzero(active & ~tr.item_sold & genuine & (shelf_t >= 0)
                               & (rng.random(n_i) < noise.retail_listings))
        twice = rng.random(len(shelf)) < 0.2
        rows = np.concatenate([shelf, shelf[twice]])
        ev.add(shelf_t[rows] + _unit(len(rows), _H, 10 * _D, rng), _K.LIST, retailer[rows],
               inc_node=rows)
        noise_nodes["retail_listing"] = shelf
    if noise.traveller > 0:
        tv = np.flatnonzero(sold_g & (n_scans > 0) & (rng.random(n_i) < noise.traveller))
        k = len(tv)
        reg = _far_region(rng, home_lat[tv], home_lon[tv], 150.0)
        d_lat = _REG_LAT[reg] + rng.normal(0, 0.05, k)
        d_lon = _REG_LON[reg] + rng.normal(0, 0.05, k)
        dist = haversine_km(home_lat[tv], home_lon[tv], d_lat, d_lon)
        travel = ((dist / 300.0) * _H + 2 * _H).astype(np.int64)
        # located events of these items so far (time order): sale, scans, claims, family
        rows_i = [np.repeat(tv, n_scans[tv])]
        rows_t = [sim.ev_time[np.concatenate([scan_ev[scan_ptr[i]: scan_ptr[i + 1]]
                                             for i in tv.tolist()])] if k else
                  np.zeros(0, np.int64)]
        rows_i.append(tv)
        rows_t.append(tr.item_sell_time[tv])
        for a_i, a_t in extra_loc:
            sel = np.isin(a_i, tv)
            rows_i.append(a_i[sel])
            rows_t.append(a_t[sel])
        ri = np.concatenate(rows_i)
        rt = np.concatenate(rows_t)
        o = np.lexsort((rt, ri))
        ri, rt = ri[o], rt[o]
        pos = np.searchsorted(ri, tv)
        end = np.searchsorted(ri, tv, side="right")
        when = np.empty(k, dtype=np.int64)
        for j in range(k):
            ts = rt[pos[j]: end[j]]
            need = 2 * travel[j]
            gaps = np.diff(ts)
            g = int(np.argmax(gaps)) if len(gaps) else -1
            if g >= 0 and gaps[g] >= need + 2 * _H:
                when[j] = ts[g] + gaps[g] // 2
            else:
                when[j] = ts[-1] + travel[j] + int(rng.integers(_D, 5 * _D))
        two = rng.random(k) < 0.3
        apps = s.owner_phones(tv)  # the traveller takes their phone along
        ti = np.concatenate([np.arange(k), np.flatnonzero(two)])
        dt = np.concatenate([np.zeros(k, np.int64), _unit(int(two.sum()), 600 * _S, _H, rng)])
        ev.add(when[ti] + dt, _K.SCAN, apps[ti], lat=d_lat[ti] + rng.normal(0, 0.002, len(ti)),
               lon=d_lon[ti] + rng.normal(0, 0.002, len(ti)), inc_node=tv[ti])
        noise_nodes["traveller"] = tv
    if noise.skewed_parties > 0 and noise.clock_skew_s > 0:
        noise_nodes["clock_skew"] = np.unique(sim.inc_node[np.isin(
            sim.inc_event, np.flatnonzero(t != sim.ev_time))])
    s.noise_nodes = noise_nodes
