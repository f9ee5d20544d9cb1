"""The injection state shared by the attack families and the noise of
`antifake.research.attacks.inject`: the simulation's per-node facts, the events added so far, the
codes taken and the ground truth."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from antifake.detect import (
    haversine_km,
)
from antifake.epcis.kinds import NO_PARTY, EventKind
from antifake.research._attack_types import (
    _D,
    _K,
    AttackMix,
    Noise,
)
from antifake.research.sim import HELD, REGION_LAT, REGION_LON, TRANSIT, Simulation


class _Ev:
    """New events as column blocks, with incidence rows local to each block."""

    def __init__(self, base: int) -> None:
        self.base = base
        self.blocks: list[dict[str, np.ndarray]] = []
        self.inc: list[tuple[np.ndarray, np.ndarray]] = []
        self.n = 0

    def add(self, t: Any, kind: EventKind, by: Any, *, src: Any = NO_PARTY, dst: Any = NO_PARTY,
            parent: Any = -1, lat: Any = np.nan, lon: Any = np.nan, detail: Any = 0,
            intent: Any = 0, inc_local: Any = None, inc_node: Any = None) -> np.ndarray:
        t = np.asarray(t, dtype=np.int64).ravel()
        k = len(t)
        if k == 0:
            return np.zeros(0, np.int64)

        def col(v: Any, dtype: Any) -> np.ndarray:
            return np.broadcast_to(np.asarray(v, dtype=dtype), (k,)).copy()

        self.blocks.append({
            "time": t, "kind": col(int(kind), np.uint8), "by": col(by, np.int32),
            "src": col(src, np.int32), "dst": col(dst, np.int32),
            "parent": col(parent, np.int64), "lat": col(lat, np.float64),
            "lon": col(lon, np.float64), "detail": col(detail, np.uint8),
            "intent": col(intent, np.uint8),
        })
        if inc_local is None:  # one node per event
            inc_local = np.arange(k)
        if inc_node is not None and len(np.atleast_1d(inc_node)):
            self.inc.append((np.asarray(inc_local, dtype=np.int64) + self.base + self.n,
                             np.asarray(inc_node, dtype=np.int64)))
        ids = self.base + self.n + np.arange(k)
        self.n += k
        return ids

    def column(self, name: str, dtype: Any) -> np.ndarray:
        if not self.blocks:
            return np.zeros(0, dtype)
        return np.concatenate([b[name] for b in self.blocks]).astype(dtype, copy=False)

    def incidence(self) -> tuple[np.ndarray, np.ndarray]:
        if not self.inc:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        return (np.concatenate([a for a, _ in self.inc]),
                np.concatenate([b for _, b in self.inc]))


class _Parties:
    """New parties appended to the simulation's."""

    def __init__(self, sim: Simulation, rng: np.random.Generator) -> None:
        self.base = len(sim.parties)
        self.rng = rng
        self.names: list[str] = []
        self.role: list[str] = []
        self.region: list[str] = []
        self.lat: list[float] = []
        self.lon: list[float] = []
        self.taken = set(sim.parties.tolist())

    def add(self, name: str, role: str, region: str = "", lat: float = math.nan,
            lon: float = math.nan) -> int:
        while name in self.taken:
            name = name + "x"
        self.taken.add(name)
        self.names.append(name)
        self.role.append(role)
        self.region.append(region)
        self.lat.append(lat)
        self.lon.append(lon)
        return self.base + len(self.names) - 1

    def apps(self, k: int) -> np.ndarray:
        """``k`` new consumer app installs."""
        hexes = self.rng.integers(0, 2**40, size=k, dtype=np.uint64)
        return np.array([self.add(f"app:{int(h):010x}", "app") for h in hexes], dtype=np.int32)


_REG_LAT, _REG_LON = REGION_LAT, REGION_LON




def _far_region(rng: np.random.Generator, lat: np.ndarray, lon: np.ndarray,
                min_km: float) -> np.ndarray:
    """A random region (index into REGIONS) whose centre is at least ``min_km`` from each
    point (the farthest one when none is)."""
    d = haversine_km(np.asarray(lat)[:, None], np.asarray(lon)[:, None], _REG_LAT[None, :],
                     _REG_LON[None, :])
    ok = d >= min_km
    ok[~ok.any(axis=1), :] = False
    none = ~ok.any(axis=1)
    w = rng.random(d.shape) * ok
    pick = np.argmax(w, axis=1)
    pick[none] = np.argmax(d[none], axis=1)
    return pick


def _unit(n: int, lo: float, hi: float, rng: np.random.Generator) -> np.ndarray:
    return rng.integers(int(lo), int(hi) + 1, size=n, dtype=np.int64)


class _Injection:
    """What the attack families and the noise share while ``inject`` runs."""

    missed: dict[str, np.ndarray]
    noise_nodes: dict[str, np.ndarray]

    def __init__(self, sim: Simulation, mix: AttackMix, noise: Noise, seed: int) -> None:
        rng = np.random.default_rng([int(seed), 0xA77AC])
        tr = sim.truth
        n_i, n_e, n_nodes = sim.n_items, sim.n_events, sim.n_nodes
        t = sim.ev_time.copy()
        lat = sim.ev_lat.copy()
        lon = sim.ev_lon.copy()
        kind = sim.ev_kind
        by = sim.ev_by.copy()
        drop = np.zeros(n_e, dtype=bool)
        P = _Parties(sim, rng)
        ev = _Ev(n_e)
        p_lat, p_lon = sim.party_lat, sim.party_lon
        role = sim.party_role
        # fakes and other new nodes
        new_epcs: list[str] = []

        # -- per-node facts from the genuine events
        row_kind = kind[sim.inc_event]
        recv_t = np.full(n_nodes, -1, dtype=np.int64)
        m = row_kind == _K.RECEIVE
        np.maximum.at(recv_t, sim.inc_node[m], sim.ev_time[sim.inc_event[m]])
        ship_t = np.full(n_nodes, -1, dtype=np.int64)
        ship_dst = np.full(n_nodes, -1, dtype=np.int32)
        m = row_kind == _K.SHIP
        ship_t[sim.inc_node[m]] = sim.ev_time[sim.inc_event[m]]
        ship_dst[sim.inc_node[m]] = sim.ev_dst[sim.inc_event[m]]
        scan_rows = np.flatnonzero(row_kind == _K.SCAN)
        scan_item, scan_ev = sim.inc_node[scan_rows], sim.inc_event[scan_rows]
        o = np.argsort(scan_item, kind="stable")
        scan_item, scan_ev = scan_item[o], scan_ev[o]
        scan_ptr = np.searchsorted(scan_item, np.arange(n_i + 1))
        sell_rows = np.flatnonzero(row_kind == _K.SELL)
        sell_ev = np.full(n_i, -1, dtype=np.int64)
        sell_ev[sim.inc_node[sell_rows]] = sim.inc_event[sell_rows]
        retailer = tr.item_retailer
        active = retailer >= 0
        home_lat = np.where(active, p_lat[np.maximum(retailer, 0)], np.nan)
        home_lon = np.where(active, p_lon[np.maximum(retailer, 0)], np.nan)
        held_by = np.where(tr.item_state == HELD, tr.item_distributor,
                           np.where(tr.item_state == TRANSIT, tr.item_manufacturer, retailer))
        home_lat = np.where(active, home_lat, p_lat[held_by])
        home_lon = np.where(active, home_lon, p_lon[held_by])
        shelf_t = recv_t[tr.item_final_case]  # the final case's receipt (-1 if none)
        comm_t = np.full(n_nodes, -1, dtype=np.int64)
        m = row_kind == _K.COMMISSION
        comm_t[sim.inc_node[m]] = sim.ev_time[sim.inc_event[m]]
        # when a code is out in the open (sold, on a shelf, else a week after it was made):
        # copies, listings and PIN guesses come after that
        public_t = np.where(tr.item_sold, tr.item_sell_time,
                            np.where(shelf_t >= 0, shelf_t, comm_t[:n_i] + 7 * _D))
        used = np.zeros(n_nodes, dtype=bool)
        truth_rows: list[tuple[np.ndarray, str, np.ndarray, np.ndarray]] = []
        held_pallets = np.flatnonzero(tr.pallet_state == HELD)
        transit_pallets = np.flatnonzero(tr.pallet_state == TRANSIT)
        pallet_used = np.zeros(len(tr.pallet_nodes), dtype=bool)
        self.seed = int(seed)
        self.sim = sim
        self.mix = mix
        self.noise = noise
        self.rng = rng
        self.tr = tr
        self.n_i = n_i
        self.n_e = n_e
        self.n_nodes = n_nodes
        self.t = t
        self.lat = lat
        self.lon = lon
        self.kind = kind
        self.by = by
        self.drop = drop
        self.P = P
        self.ev = ev
        self.p_lat = p_lat
        self.p_lon = p_lon
        self.role = role
        self.new_epcs = new_epcs
        self.recv_t = recv_t
        self.ship_t = ship_t
        self.ship_dst = ship_dst
        self.scan_item = scan_item
        self.scan_ev = scan_ev
        self.scan_ptr = scan_ptr
        self.sell_ev = sell_ev
        self.retailer = retailer
        self.active = active
        self.home_lat = home_lat
        self.home_lon = home_lon
        self.held_by = held_by
        self.shelf_t = shelf_t
        self.comm_t = comm_t
        self.public_t = public_t
        self.used = used
        self.truth_rows = truth_rows
        self.held_pallets = held_pallets
        self.transit_pallets = transit_pallets
        self.pallet_used = pallet_used
        self.missed = {}
        self.noise_nodes = {}

    def owner_phones(self, items: np.ndarray) -> np.ndarray:
        """The phone owning each item (party index): its buyer's; a new phone for an item
        whose simulation has no owner on record (unsold, or no phones)."""
        items = np.asarray(items, dtype=np.int64)
        own = self.tr.item_owner
        got = own[items] if len(own) == self.n_i else np.full(len(items), -1, np.int32)
        missing = np.flatnonzero(got < 0)
        if len(missing):
            uniq, inv = np.unique(items[missing], return_inverse=True)
            got = got.copy()
            got[missing] = self.P.apps(len(uniq))[inv]
        return got.astype(np.int32)

    def mark(self, nodes: np.ndarray, attack: str, start: Any, observable: Any) -> None:
        """Ground truth: ``nodes`` attacked by ``attack`` from ``start``."""
        nodes = np.asarray(nodes, dtype=np.int64)
        self.used[nodes[nodes < self.n_nodes]] = True
        self.truth_rows.append((nodes, attack, np.broadcast_to(np.asarray(start, np.int64),
                                                               nodes.shape).copy(),
                                np.broadcast_to(np.asarray(observable, bool), nodes.shape).copy()))

    def pick(self, mask: np.ndarray, k: int) -> np.ndarray:
        """``k`` random codes of ``mask`` no attack has taken (sorted)."""
        idx = np.flatnonzero(mask & ~self.used[: len(mask)])
        k = min(k, len(idx))
        return np.sort(self.rng.choice(idx, size=k, replace=False)) if k else idx[:0]

    @staticmethod
    def n_of(frac: float, total: int, minimum: int = 1) -> int:
        """How many of ``total`` a fraction makes (at least ``minimum`` when above 0)."""
        if frac <= 0:
            return 0
        return max(minimum, int(round(frac * total)))

    def take_pallets(self, pool: np.ndarray, k: int) -> np.ndarray:
        """``k`` random pallets of ``pool`` not taken yet (sorted)."""
        free = pool[~self.pallet_used[pool]]
        k = min(k, len(free))
        got = np.sort(self.rng.choice(free, size=k, replace=False)) if k else free[:0]
        self.pallet_used[got] = True
        return got
