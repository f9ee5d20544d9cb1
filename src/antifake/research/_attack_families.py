"""The built-in attack families of `antifake.research.attacks.inject`, each a function of the
injection state: it adds events and marks the codes it attacks. They run in the order of
``FAMILIES`` (the order is part of the seed)."""

from __future__ import annotations

import numpy as np

from antifake.detect import (
    REASON_DETAILS,
)
from antifake.research._attack_types import _D, _H, _INTENT_OK, _INTENT_WRONG, _K, _S
from antifake.research._injection import _REG_LAT, _REG_LON, _far_region, _Injection, _unit
from antifake.research.sim import HELD, REGIONS


def _clones(s: _Injection) -> None:
    """Genuine codes photocopied onto fakes sold and scanned in another region."""
    sim, mix, rng, tr, n_i = s.sim, s.mix, s.rng, s.tr, s.n_i
    P, ev, active, home_lat, home_lon = s.P, s.ev, s.active, s.home_lat, s.home_lon
    shelf_t = s.shelf_t
    mark, pick, n_of = s.mark, s.pick, s.n_of
    n_clone = n_of(mix.clone_fraction, n_i)
    if n_clone:
        src_sold = pick(tr.item_sold, int(round(0.8 * n_clone)))
        src_shelf = pick(active & ~tr.item_sold, n_clone - len(src_sold))
        codes = np.concatenate([src_sold, src_shelf])
        k = len(codes)
        sold = tr.item_sold[codes]
        base_t = np.where(sold, tr.item_sell_time[codes], shelf_t[codes])
        base_t = np.where(base_t < 0, sim.ev_time.min(), base_t)
        t0 = base_t + _unit(k, 1 * _D, 60 * _D, rng)
        reg = _far_region(rng, home_lat[codes], home_lon[codes], mix.clone_min_km)
        spot_lat = _REG_LAT[reg] + rng.normal(0, 0.05, k)
        spot_lon = _REG_LON[reg] + rng.normal(0, 0.05, k)
        copies = 3 + rng.poisson(mix.clone_copies - 3, k)
        # the genuine buyer claims first in some cases
        gclaim = sold & (rng.random(k) < 0.3)
        gc = np.flatnonzero(gclaim)
        if len(gc):
            g_lat = home_lat[codes[gc]] + rng.normal(0, 0.02, len(gc))
            g_lon = home_lon[codes[gc]] + rng.normal(0, 0.02, len(gc))
            ev.add(tr.item_sell_time[codes[gc]] + _unit(len(gc), _H, 3 * _D, rng),
                   _K.CLAIM, s.owner_phones(codes[gc]), lat=g_lat, lon=g_lon, intent=_INTENT_OK,
                   inc_node=codes[gc])
        fk_code = np.repeat(np.arange(k), copies)
        n_f = len(fk_code)
        scanned = rng.random(n_f) < mix.clone_scan_p  # a fake nobody scans leaves no trace
        fk_code, n_f = fk_code[scanned], int(scanned.sum())
        f_app = P.apps(n_f)
        f_lat = spot_lat[fk_code] + rng.normal(0, 0.03, n_f)
        f_lon = spot_lon[fk_code] + rng.normal(0, 0.03, n_f)
        f_t = t0[fk_code] + _unit(n_f, 0, 45 * _D, rng)
        n_sc = 1 + rng.integers(0, 3, n_f)
        s_f = np.repeat(np.arange(n_f), n_sc)
        first = np.r_[True, s_f[1:] != s_f[:-1]] if len(s_f) else np.zeros(0, bool)
        s_t = f_t[s_f] + np.where(first, 0, _unit(len(s_f), 60 * _S, 5 * _D, rng))
        ev.add(s_t, _K.SCAN, f_app[s_f], lat=f_lat[s_f] + rng.normal(0, 0.002, len(s_f)),
               lon=f_lon[s_f] + rng.normal(0, 0.002, len(s_f)), inc_node=codes[fk_code[s_f]])
        cl = np.flatnonzero(rng.random(n_f) < mix.clone_claim_p)
        ev.add(f_t[cl] + _unit(len(cl), 60 * _S, _H, rng), _K.CLAIM, f_app[cl],
               lat=f_lat[cl], lon=f_lon[cl], intent=_INTENT_WRONG, inc_node=codes[fk_code[cl]])
        start = np.full(k, np.iinfo(np.int64).max)
        np.minimum.at(start, fk_code[s_f], s_t)
        seen = start < np.iinfo(np.int64).max
        start = np.where(seen, start, t0)
        mark(codes, "clone", start, seen)


def _stolen(s: _Injection) -> None:
    """Pallets stolen from a holder (or in transit), decommissioned as stolen; some of their
    items resurface."""
    mix, rng, tr, P = s.mix, s.rng, s.tr, s.P
    ev, p_lat, p_lon, recv_t = s.ev, s.p_lat, s.p_lon, s.recv_t
    ship_t, held_pallets = s.ship_t, s.held_pallets
    transit_pallets = s.transit_pallets
    mark, take_pallets = s.mark, s.take_pallets
    fence = -1
    pool = held_pallets if len(held_pallets) >= mix.stolen_pallets + mix.diverted_pallets \
        else np.concatenate([held_pallets, transit_pallets])
    for pi in take_pallets(pool, mix.stolen_pallets):
        pnode = tr.pallet_nodes[pi]
        items = np.flatnonzero(tr.item_pallet == pnode)
        cases = np.unique(tr.item_case[items])
        if tr.pallet_state[pi] == HELD:
            holder = int(tr.item_distributor[items[0]])
            t_theft = recv_t[pnode] + int(rng.integers(_H, 10 * _D))
        else:
            holder = int(tr.item_manufacturer[items[0]])
            t_theft = ship_t[pnode] + int(rng.integers(_H, _D))
        t_rep = t_theft + int(rng.integers(_H, 2 * _D))
        nodes = np.concatenate([items, cases, [pnode]])
        ev.add([t_rep], _K.DECOMMISSION, holder, lat=p_lat[holder], lon=p_lon[holder],
               detail=REASON_DETAILS["stolen"], inc_local=np.zeros(len(nodes), np.int64),
               inc_node=nodes)
        if fence < 0:
            fence = P.add("SHOP-S01", "marketplace", "VN-SG", 10.77, 106.70)
        back = rng.random(len(items)) < mix.stolen_resurface
        ri = items[back]
        k = len(ri)
        t_back = t_rep + _unit(k, _D, 60 * _D, rng)
        listed = rng.random(k) < 0.6
        scanned = (rng.random(k) < 0.7) | ~listed
        ev.add(t_back[listed], _K.LIST, fence, inc_node=ri[listed])
        sreg = rng.integers(0, len(REGIONS), int(scanned.sum()))
        ts = t_back[scanned] + _unit(int(scanned.sum()), _H, 10 * _D, rng)
        ev.add(ts, _K.SCAN, P.apps(int(scanned.sum())),
               lat=_REG_LAT[sreg] + rng.normal(0, 0.1, len(sreg)),
               lon=_REG_LON[sreg] + rng.normal(0, 0.1, len(sreg)), inc_node=ri[scanned])
        first_back = np.where(listed, t_back, np.iinfo(np.int64).max)
        first_back[scanned] = np.minimum(first_back[scanned], ts)
        start = np.full(len(items), t_rep, dtype=np.int64)
        start[back] = first_back
        mark(items, "stolen", start, back)


def _diversion(s: _Injection) -> None:
    """Delivered cases and held pallets that leave for another region (grey market)."""
    mix, rng, tr, n_i, lat, lon = s.mix, s.rng, s.tr, s.n_i, s.lat, s.lon
    drop, P, ev, p_lat, p_lon, recv_t = s.drop, s.P, s.ev, s.p_lat, s.p_lon, s.recv_t
    scan_ev, scan_ptr, sell_ev, retailer = s.scan_ev, s.scan_ptr, s.sell_ev, s.retailer
    active, shelf_t = s.active, s.shelf_t
    used, held_pallets = s.used, s.held_pallets
    mark, n_of, take_pallets = s.mark, s.n_of, s.take_pallets
    n_dc = n_of(mix.diverted_case_fraction, len(tr.case_nodes))
    if n_dc:
        final = tr.item_final_case
        ok_item = active & (shelf_t >= 0) & ~used[:n_i]
        case_ids, inv = np.unique(final[active], return_inverse=True)
        bad = np.zeros(len(case_ids), dtype=bool)
        np.logical_or.at(bad, inv, ~ok_item[active])
        choices = case_ids[~bad]
        n_dc = min(n_dc, len(choices))
        dcases = np.sort(rng.choice(choices, size=n_dc, replace=False)) if n_dc else choices[:0]
        for c in dcases.tolist():
            items = np.flatnonzero(final == c)
            r = int(retailer[items[0]])
            reg_c = int(_far_region(rng, np.array([p_lat[r]]), np.array([p_lon[r]]), 150.0)[0])
            t_div = int(shelf_t[items[0]]) + _H
            # scans move to the other region, by buyers who live there (their own phones);
            # the sales stay recorded at home, or vanish
            for it in items.tolist():
                evs = scan_ev[scan_ptr[it]: scan_ptr[it + 1]]
                if len(evs):
                    hl = _REG_LAT[reg_c] + rng.normal(0, 0.08)
                    hn = _REG_LON[reg_c] + rng.normal(0, 0.08)
                    lat[evs] = hl + rng.normal(0, 0.002, len(evs))
                    lon[evs] = hn + rng.normal(0, 0.002, len(evs))
                    s.by[evs] = P.apps(1)[0]
            if rng.random() < 0.5:
                se = sell_ev[items]
                drop[se[se >= 0]] = True
            mark(items, "diversion", np.full(len(items), t_div), True)
    for pi in take_pallets(held_pallets, mix.diverted_pallets):
        pnode = tr.pallet_nodes[pi]
        items = np.flatnonzero(tr.item_pallet == pnode)
        items = items[~used[items]]
        d = int(tr.item_distributor[items[0]])
        reg_p = int(_far_region(rng, np.array([p_lat[d]]), np.array([p_lon[d]]), 150.0)[0])
        t_div = recv_t[pnode] + int(rng.integers(_D, 5 * _D))
        sc = items[rng.random(len(items)) < mix.diverted_pallet_scan_p]
        ns = 1 + rng.integers(0, 2, len(sc))
        s_item = np.repeat(sc, ns)
        apps = np.repeat(P.apps(len(sc)), ns)
        hl = np.repeat(_REG_LAT[reg_p] + rng.normal(0, 0.08, len(sc)), ns)
        hn = np.repeat(_REG_LON[reg_p] + rng.normal(0, 0.08, len(sc)), ns)
        ev.add(t_div + _unit(len(s_item), 3 * _D, 60 * _D, rng), _K.SCAN, apps,
               lat=hl + rng.normal(0, 0.002, len(s_item)),
               lon=hn + rng.normal(0, 0.002, len(s_item)), inc_node=s_item)
        mark(items, "diversion", np.full(len(items), t_div), np.isin(items, sc))


def _counterfeit_listings(s: _Injection) -> None:
    """Marketplace shops listing codes they never received."""
    mix, rng, n_i, P, ev, public_t = s.mix, s.rng, s.n_i, s.P, s.ev, s.public_t
    mark, pick, n_of = s.mark, s.pick, s.n_of
    n_l = n_of(mix.listing_fraction, n_i)
    if n_l and mix.listing_shops:
        shops = np.array([P.add(f"SHOP-F{j + 1:02d}", "marketplace",
                                REGIONS[j % len(REGIONS)][0], REGIONS[j % len(REGIONS)][1],
                                REGIONS[j % len(REGIONS)][2])
                          for j in range(mix.listing_shops)], dtype=np.int32)
        codes = pick(np.ones(n_i, dtype=bool), n_l)
        k = len(codes)
        n_sellers = np.where(rng.random(k) < mix.listing_duplicate_p,
                             2 + rng.integers(0, 2, k), 1)
        n_sellers = np.minimum(n_sellers, len(shops))
        rows_code = np.repeat(np.arange(k), n_sellers)
        seller = np.concatenate([rng.choice(shops, size=s, replace=False)
                                 for s in n_sellers.tolist()]) if k else np.zeros(0, np.int32)
        t_l = public_t[codes[rows_code]] + _unit(len(rows_code), _H, 60 * _D, rng)
        ev.add(t_l, _K.LIST, seller, inc_node=codes[rows_code])
        start = np.full(k, np.iinfo(np.int64).max)
        np.minimum.at(start, rows_code, t_l)
        mark(codes, "counterfeit_listing", start, True)


def _unauthorized_sales(s: _Injection) -> None:
    """Shops recording sales of copied codes they never received."""
    mix, rng, n_i, P = s.mix, s.rng, s.n_i, s.P
    ev, p_lat, p_lon, role = s.ev, s.p_lat, s.p_lon, s.role
    retailer, public_t = s.retailer, s.public_t
    mark, pick, n_of = s.mark, s.pick, s.n_of
    n_u = n_of(mix.unauthorized_sale_fraction, n_i)
    rets = np.flatnonzero(role == "retailer")
    if n_u and mix.unauthorized_shops and len(rets):
        shops = rng.choice(rets, size=min(mix.unauthorized_shops, len(rets)), replace=False)
        codes = pick(np.ones(n_i, dtype=bool), n_u)
        k = len(codes)
        sh = shops[rng.integers(0, len(shops), k)]
        same = retailer[codes] == sh  # a shop selling its own stock is no attack: move
        sh[same] = shops[(np.searchsorted(shops, sh[same]) + 1) % len(shops)] \
            if len(shops) > 1 else sh[same]
        t_s = public_t[codes] + _unit(k, _H, 60 * _D, rng)
        ev.add(t_s, _K.SELL, sh, lat=p_lat[sh], lon=p_lon[sh], inc_node=codes)
        bs = np.flatnonzero(rng.random(k) < 0.5)
        ev.add(t_s[bs] + _unit(len(bs), 60 * _S, 10 * _D, rng), _K.SCAN, P.apps(len(bs)),
               lat=p_lat[sh[bs]] + rng.normal(0, 0.03, len(bs)),
               lon=p_lon[sh[bs]] + rng.normal(0, 0.03, len(bs)), inc_node=codes[bs])
        mark(codes, "unauthorized_sale", t_s, True)


def _brute_force(s: _Injection) -> None:
    """PIN guessing on codes until the claim locks (a few give up)."""
    mix, rng, n_i, P, ev, public_t = s.mix, s.rng, s.n_i, s.P, s.ev, s.public_t
    mark, pick, n_of = s.mark, s.pick, s.n_of
    n_b = n_of(mix.brute_force_fraction, n_i)
    if n_b:
        attackers = P.apps(3)
        codes = pick(np.ones(n_i, dtype=bool), n_b)
        k = len(codes)
        give_up = rng.random(k) < mix.brute_force_give_up_p
        n_wrong = np.where(give_up, 3 + rng.integers(0, 2, k), 5)
        n_locked = np.where(give_up, 0, 1 + rng.integers(0, 3, k))
        n_try = n_wrong + n_locked
        who = attackers[rng.integers(0, len(attackers), k)]
        t_b = public_t[codes] + _unit(k, _H, 60 * _D, rng)
        rc = np.repeat(np.arange(k), n_try)
        step = _unit(len(rc), 10 * _S, 60 * _S, rng)
        first = np.r_[True, rc[1:] != rc[:-1]] if len(rc) else np.zeros(0, bool)
        step[first] = 0
        # cumulative offsets inside each code's run
        csum = np.cumsum(step)
        base = np.repeat(csum[first] - step[first], n_try)
        ev.add(t_b[rc] + (csum - base), _K.CLAIM, who[rc], intent=_INTENT_WRONG,
               inc_node=codes[rc])
        mark(codes, "brute_force", t_b, True)


def _repack(s: _Injection) -> None:
    """Genuine items taken out of cases in transit and fakes packed in."""
    mix, rng, tr, n_nodes = s.mix, s.rng, s.tr, s.n_nodes
    P, ev, p_lat, p_lon, new_epcs = s.P, s.ev, s.p_lat, s.p_lon, s.new_epcs
    ship_t, ship_dst, used, transit_pallets = s.ship_t, s.ship_dst, s.used, s.transit_pallets
    mark, take_pallets = s.mark, s.take_pallets
    carrier = -1
    fake_key = tr.manufacturer_key
    for pi in take_pallets(transit_pallets, mix.repacked_pallets):
        if carrier < 0:
            carrier = P.add("CARRIER-01", "carrier")
        pnode = int(tr.pallet_nodes[pi])
        items = np.flatnonzero(tr.item_pallet == pnode)
        items = items[~used[items]]
        cases = np.unique(tr.item_case[items])
        cases = np.sort(rng.choice(cases, size=min(mix.repack_cases, len(cases)), replace=False))
        t1 = ship_t[pnode] + int(rng.integers(2 * _H, 20 * _H))
        dest = int(ship_dst[pnode])
        for c in cases.tolist():
            in_case = items[tr.item_case[items] == c]
            took = np.sort(rng.choice(in_case, size=min(mix.repack_items, len(in_case)),
                                      replace=False))
            ev.add([t1], _K.DISAGGREGATE, carrier, parent=c,
                   inc_local=np.zeros(len(took), np.int64), inc_node=took)
            key_id = int(fake_key[int(tr.item_manufacturer[took[0]])]) if len(took) else 0
            fakes = n_nodes + len(new_epcs) + np.arange(len(took))
            for _ in range(len(took)):
                serial = int(rng.integers(10**7, 10**8))
                new_epcs.append(f"urn:antifake:sim:{key_id:03d}.{999999:06d}.{serial:08d}")
            ev.add([t1 + 60 * _S], _K.AGGREGATE, carrier, parent=c,
                   inc_local=np.zeros(len(took), np.int64), inc_node=fakes)
            mark(took, "repack", t1, True)
            mark(fakes, "repack", t1 + 60 * _S, True)
            mark(np.array([c]), "repack", t1, True)
        if rng.random() < mix.repack_backdated_p:
            t2 = ship_t[pnode] - int(rng.integers(_H, _D))
            mark(np.array([pnode]), "repack", t2, True)
        else:
            t2 = t1 + int(rng.integers(3 * _H, _D))
        ev.add([t2], _K.RECEIVE, dest, dst=dest, lat=p_lat[dest], lon=p_lon[dest],
               inc_node=[pnode])


#: The families in the order they run.
FAMILIES = (_clones, _stolen, _diversion, _counterfeit_listings, _unauthorized_sales,
            _brute_force, _repack)
