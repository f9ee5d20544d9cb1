"""Attacks and noise on top of a simulated supply chain, with ground truth.

[`inject`][antifake.research.attacks.inject] takes an
[`Simulation`][antifake.research.sim.Simulation] (a
genuine chain) and returns an [`AttackedSimulation`][antifake.research.attacks.AttackedSimulation]:
the same
columns with attack events added (and some genuine events changed or lost), per-event details (claim
results, decommissioning reasons), the ground truth of every attacked code (which attack, from when)
and of the noise laid on genuine codes. [`evaluate`][antifake.research.attacks.evaluate] scores a
list of
alerts against that truth: precision, recall and time-to-detection per attack and per rule.

Attacks ([`AttackMix`][antifake.research.attacks.AttackMix]; counts scale with the number of items):

``clone``
    a genuine stamp (sold, or on a shelf) photocopied onto fakes sold in another region: each
    fake is bought by someone else, who scans it (and sometimes tries to claim it, getting
    "already claimed" when the genuine buyer claimed first, else a wrong PIN).
``stolen``
    a pallet stolen from a distributor (or in transit), decommissioned as stolen by its holder;
    some of its items resurface later: listed by a fence, scanned by buyers anywhere.
``diversion``
    grey market: cases received by a retailer leave for another region, where consumers buy and
    scan them (the retailer records the sales at home, or records nothing); and a pallet held
    by a distributor sold off to another region.
``counterfeit_listing``
    marketplace shops listing codes they never received (copied from photos), some codes by
    several shops.
``unauthorized_sale``
    shops recording retail sales of copied codes they never received.
``brute_force``
    an attacker trying PINs on codes until the claim locks (a few give up after 3-4).
``repack``
    a carrier opens cases of a pallet in transit, takes genuine items out and packs fakes
    (never commissioned) in; the receiver sometimes records the receipt before the shipment.

Noise on genuine codes ([`Noise`][antifake.research.attacks.Noise]): missed reads (scans, sales,
retailer
receipts lost), late uploads (events delivered long after they happened: rows moved to the end),
clock skew (a business's clock off by minutes), families scanning an item a few times at
home, travellers scanning once far from home, genuine claims (some after a mistyped or wrong
PIN), retailers listing their own stock online (some twice).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from antifake.detect import (
    ACT_ON_IT,
    CLAIM_DETAILS,
    KINDS,
    REASON_DETAILS,
    Alert,
    haversine_km,
)
from antifake.epcis.kinds import NO_PARTY, EventKind
from antifake.errors import AntifakeError
from antifake.research.sim import HELD, REGIONS, TRANSIT, Simulation

__all__ = [
    "ATTACKS",
    "CATEGORIES",
    "AttackMix",
    "AttackTruth",
    "AttackedSimulation",
    "Evaluation",
    "Noise",
    "evaluate",
    "inject",
]

#: Attack names, in ground-truth order.
ATTACKS = ("clone", "stolen", "diversion", "counterfeit_listing", "unauthorized_sale",
           "brute_force", "repack")
#: What the issue's targets call them, and the rules meant to catch them.
CATEGORIES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "copied codes": (("clone",), ("impossible_travel", "over_scanned")),
    "diversion": (("diversion",), ("diversion",)),
    "unauthorised sellers": (("counterfeit_listing", "unauthorized_sale"),
                             ("unauthorized_seller", "duplicate_listing")),
    "stolen goods": (("stolen",), ("inactive_stamp_activity",)),
    "PIN brute force": (("brute_force",), ("claim_lockout",)),
    "repacked fakes": (("repack",), ("out_of_order",)),
}

_S = 1_000_000
_H = 3600 * _S
_D = 24 * _H
_K = EventKind
_INTENT_OK, _INTENT_WRONG, _INTENT_MISTYPED = 1, 2, 3


class AttackError(AntifakeError, ValueError):
    """Bad attack or noise parameters."""


def _frac(name: str, v: float) -> None:
    if isinstance(v, bool) or not isinstance(v, int | float) or not 0.0 <= v <= 1.0:
        raise AttackError(f"{name} must be a fraction in [0, 1], not {v!r}")


def _count(name: str, v: int) -> None:
    if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < 0:
        raise AttackError(f"{name} must be an integer >= 0, not {v!r}")


@dataclass(frozen=True)
class AttackMix:
    """How much of each attack (fractions of items or cases; counts of pallets)."""

    clone_fraction: float = 0.001  # items whose code is copied
    clone_copies: float = 6.0  # mean fakes per copied code (at least 3)
    clone_scan_p: float = 0.85  # a fake is scanned by its buyer
    clone_claim_p: float = 0.3  # a scanned fake is claimed
    clone_min_km: float = 150.0  # fakes are sold at least this far from the genuine one
    stolen_pallets: int = 1
    stolen_resurface: float = 0.3  # stolen items seen again
    diverted_case_fraction: float = 0.0016  # delivered cases diverted
    diverted_pallets: int = 1  # held pallets sold off to another region
    diverted_pallet_scan_p: float = 0.4
    listing_fraction: float = 0.001  # codes listed by counterfeit shops
    listing_shops: int = 5
    listing_duplicate_p: float = 0.2  # a listed code listed by 2-3 shops
    unauthorized_sale_fraction: float = 0.0003  # copied codes sold by a shop that never had them
    unauthorized_shops: int = 3
    brute_force_fraction: float = 0.0002
    brute_force_give_up_p: float = 0.1  # stops after 3-4 wrong PINs (no lock)
    repacked_pallets: int = 1
    repack_cases: int = 3
    repack_items: int = 10
    repack_backdated_p: float = 0.5

    def __post_init__(self) -> None:
        for f in ("clone_fraction", "clone_scan_p", "clone_claim_p", "stolen_resurface",
                  "diverted_case_fraction", "diverted_pallet_scan_p", "listing_fraction",
                  "listing_duplicate_p", "unauthorized_sale_fraction", "brute_force_fraction",
                  "brute_force_give_up_p", "repack_backdated_p"):
            _frac(f, getattr(self, f))
        for f in ("stolen_pallets", "diverted_pallets", "listing_shops", "unauthorized_shops",
                  "repacked_pallets", "repack_cases", "repack_items"):
            _count(f, getattr(self, f))
        if not self.clone_copies >= 3 or not self.clone_min_km >= 0:
            raise AttackError("clone_copies >= 3 and clone_min_km >= 0 required")

    @classmethod
    def none(cls) -> AttackMix:
        """No attack at all."""
        zero = {f: 0 for f in ("stolen_pallets", "diverted_pallets", "repacked_pallets")}
        return cls(clone_fraction=0.0, diverted_case_fraction=0.0, listing_fraction=0.0,
                   unauthorized_sale_fraction=0.0, brute_force_fraction=0.0, **zero)

    def only(self, *attacks: str) -> AttackMix:
        """This mix with every attack but ``attacks`` switched off."""
        bad = [a for a in attacks if a not in ATTACKS]
        if bad:
            raise AttackError(f"unknown attacks {bad}")
        off: dict[str, Any] = {}
        if "clone" not in attacks:
            off["clone_fraction"] = 0.0
        if "stolen" not in attacks:
            off["stolen_pallets"] = 0
        if "diversion" not in attacks:
            off.update(diverted_case_fraction=0.0, diverted_pallets=0)
        if "counterfeit_listing" not in attacks:
            off["listing_fraction"] = 0.0
        if "unauthorized_sale" not in attacks:
            off["unauthorized_sale_fraction"] = 0.0
        if "brute_force" not in attacks:
            off["brute_force_fraction"] = 0.0
        if "repack" not in attacks:
            off["repacked_pallets"] = 0
        return replace(self, **off)


@dataclass(frozen=True)
class Noise:
    """Realistic noise on genuine codes (fractions)."""

    missed_scan: float = 0.02  # consumer scans lost
    missed_sale: float = 0.005  # retail sales never recorded
    missed_receipt: float = 0.005  # retailer receipts never recorded
    late_upload: float = 0.01  # events delivered long after (rows moved to the end)
    skewed_parties: float = 0.1  # businesses whose clock is off ...
    clock_skew_s: float = 300.0  # ... by up to this much
    family: float = 0.05  # scanned items a family scans 2-5 more times at home
    traveller: float = 0.01  # scanned items scanned once or twice far from home
    claims: float = 0.1  # sold items claimed by their buyer
    claim_typos: float = 0.1  # of those, after one or two mistyped or wrong PINs
    retail_listings: float = 0.005  # unsold items listed online by the retailer holding them

    def __post_init__(self) -> None:
        for f in ("missed_scan", "missed_sale", "missed_receipt", "late_upload",
                  "skewed_parties", "family", "traveller", "claims", "claim_typos",
                  "retail_listings"):
            _frac(f, getattr(self, f))
        if not 0 <= self.clock_skew_s <= 86_400:
            raise AttackError("clock_skew_s must lie in [0, 86400]")

    @classmethod
    def none(cls) -> Noise:
        return cls(0, 0, 0, 0, 0, 0.0, 0, 0, 0, 0, 0)

    def scaled(self, factor: float) -> Noise:
        """Every rate times ``factor`` (capped at 1), skew times ``factor``."""
        vals = {f: min(1.0, getattr(self, f) * factor) for f in (
            "missed_scan", "missed_sale", "missed_receipt", "late_upload", "skewed_parties",
            "family", "traveller", "claims", "claim_typos", "retail_listings")}
        return replace(self, clock_skew_s=min(86_400.0, self.clock_skew_s * factor), **vals)


@dataclass
class AttackTruth:
    """Every attacked code: node index, EPC, attack name, start (microseconds: the first
    event of the attack on that code) and whether any event reveals it (``observable``: a
    stolen item never seen again is attacked but leaves no trace)."""

    nodes: np.ndarray
    codes: np.ndarray
    attack: np.ndarray
    start: np.ndarray
    observable: np.ndarray

    def codes_of(self, *attacks: str) -> set[str]:
        m = np.isin(self.attack, attacks)
        return set(self.codes[m].tolist())

    def counts(self) -> dict[str, int]:
        return {a: int(np.count_nonzero(self.attack == a)) for a in ATTACKS}


@dataclass
class AttackedSimulation(Simulation):
    """A [`Simulation`][antifake.research.sim.Simulation] with attacks and noise: also
    ``ev_detail`` (claim
    results and decommissioning reasons,
    [`antifake.detect.CLAIM_DETAILS`][antifake.detect.CLAIM_DETAILS]), ``attacks``
    ([`AttackTruth`][antifake.research.attacks.AttackTruth]) and ``noise`` (node indices of genuine
    codes by
    noise kind). ``late_from``: rows from here on are late uploads (their times are earlier)."""

    ev_detail: np.ndarray = field(default_factory=lambda: np.zeros(0, np.uint8))
    attacks: AttackTruth | None = field(default=None, repr=False)
    noise: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    late_from: int = 0
    mix: AttackMix | None = None
    #: Rows before this are the genuine chain's (kept) events, rows from it on were added by
    #: attacks and noise (before any late upload moved rows to the end).
    added_from: int = 0
    noise_model: Noise | None = None

    def prefix(self, n_events: int) -> AttackedSimulation:
        """The simulation as a registry saw it after its first ``n_events`` rows (nodes and
        parties kept): for incremental detection."""
        n = int(n_events)
        if not 0 <= n <= self.n_events:
            raise AttackError(f"prefix: 0 <= n_events <= {self.n_events}")
        keep = self.inc_event < n
        return replace(self, ev_ids=self.ev_ids[:n], ev_time=self.ev_time[:n],
                       ev_kind=self.ev_kind[:n], ev_by=self.ev_by[:n], ev_src=self.ev_src[:n],
                       ev_dst=self.ev_dst[:n], ev_lat=self.ev_lat[:n], ev_lon=self.ev_lon[:n],
                       agg_parent=self.agg_parent[:n], ev_detail=self.ev_detail[:n],
                       inc_event=self.inc_event[keep], inc_node=self.inc_node[keep])


# ----------------------------------------------------------------------------------------
# building blocks
# ----------------------------------------------------------------------------------------
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


_REG_LAT = np.array([r[1] for r in REGIONS])
_REG_LON = np.array([r[2] for r in REGIONS])




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


# ----------------------------------------------------------------------------------------
# inject
# ----------------------------------------------------------------------------------------
def inject(sim: Simulation, mix: AttackMix | None = None, noise: Noise | None = None,
           seed: int = 0) -> AttackedSimulation:
    """Attacks and noise on ``sim`` (not modified); the same inputs and seed give the same
    result."""
    if not isinstance(sim, Simulation):
        raise AttackError(f"inject takes a Simulation, not {type(sim).__name__}")
    if isinstance(sim, AttackedSimulation):
        raise AttackError("inject takes a genuine simulation (this one is attacked already)")
    mix = AttackMix() if mix is None else mix
    noise = Noise() if noise is None else noise
    if not isinstance(mix, AttackMix) or not isinstance(noise, Noise):
        raise AttackError("mix must be an AttackMix and noise a Noise")
    rng = np.random.default_rng([int(seed), 0xA77AC])
    tr = sim.truth
    n_i, n_e, n_nodes = sim.n_items, sim.n_events, sim.n_nodes
    t = sim.ev_time.copy()
    lat = sim.ev_lat.copy()
    lon = sim.ev_lon.copy()
    kind = sim.ev_kind
    by = sim.ev_by
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

    def mark(nodes: np.ndarray, attack: str, start: np.ndarray, observable: Any) -> None:
        nodes = np.asarray(nodes, dtype=np.int64)
        used[nodes[nodes < n_nodes]] = True
        truth_rows.append((nodes, attack, np.broadcast_to(np.asarray(start, np.int64),
                                                          nodes.shape).copy(),
                           np.broadcast_to(np.asarray(observable, bool), nodes.shape).copy()))

    def pick(mask: np.ndarray, k: int) -> np.ndarray:
        idx = np.flatnonzero(mask & ~used[: len(mask)])
        k = min(k, len(idx))
        return np.sort(rng.choice(idx, size=k, replace=False)) if k else idx[:0]

    def n_of(frac: float, total: int, minimum: int = 1) -> int:
        if frac <= 0:
            return 0
        return max(minimum, int(round(frac * total)))

    # ---------------------------------------------------------------- noise, part A
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

    # ---------------------------------------------------------------- clones
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
                   _K.CLAIM, P.apps(len(gc)), lat=g_lat, lon=g_lon, intent=_INTENT_OK,
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

    # ---------------------------------------------------------------- stolen pallets
    held_pallets = np.flatnonzero(tr.pallet_state == HELD)
    transit_pallets = np.flatnonzero(tr.pallet_state == TRANSIT)
    pallet_used = np.zeros(len(tr.pallet_nodes), dtype=bool)

    def take_pallets(pool: np.ndarray, k: int) -> np.ndarray:
        free = pool[~pallet_used[pool]]
        k = min(k, len(free))
        got = np.sort(rng.choice(free, size=k, replace=False)) if k else free[:0]
        pallet_used[got] = True
        return got

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

    # ---------------------------------------------------------------- diversion
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
            # scans move to the other region; the sales stay recorded at home, or vanish
            for it in items.tolist():
                evs = scan_ev[scan_ptr[it]: scan_ptr[it + 1]]
                if len(evs):
                    hl = _REG_LAT[reg_c] + rng.normal(0, 0.08)
                    hn = _REG_LON[reg_c] + rng.normal(0, 0.08)
                    lat[evs] = hl + rng.normal(0, 0.002, len(evs))
                    lon[evs] = hn + rng.normal(0, 0.002, len(evs))
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

    # ---------------------------------------------------------------- counterfeit listings
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

    # ---------------------------------------------------------------- PIN brute force
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

    # ---------------------------------------------------------------- repacked pallets
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
        apps = P.apps(len(cl))
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
        ev.add(ts, _K.SCAN, fam_app[fi], lat=f_lat[fi] + rng.normal(0, 0.002, len(fi)),
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
        apps = P.apps(k)
        ti = np.concatenate([np.arange(k), np.flatnonzero(two)])
        dt = np.concatenate([np.zeros(k, np.int64), _unit(int(two.sum()), 600 * _S, _H, rng)])
        ev.add(when[ti] + dt, _K.SCAN, apps[ti], lat=d_lat[ti] + rng.normal(0, 0.002, len(ti)),
               lon=d_lon[ti] + rng.normal(0, 0.002, len(ti)), inc_node=tv[ti])
        noise_nodes["traveller"] = tv
    if noise.skewed_parties > 0 and noise.clock_skew_s > 0:
        noise_nodes["clock_skew"] = np.unique(sim.inc_node[np.isin(
            sim.inc_event, np.flatnonzero(t != sim.ev_time))])

    # ---------------------------------------------------------------- assemble
    keep = np.flatnonzero(~drop)
    new_ids = np.full(n_e, -1, dtype=np.int64)
    new_ids[keep] = np.arange(len(keep))
    n_keep = len(keep)
    a_inc_e, a_inc_n = ev.incidence()
    remap_new = n_keep - n_e  # new events: base index n_e -> n_keep
    g_rows = ~drop[sim.inc_event]
    inc_event = np.concatenate([new_ids[sim.inc_event[g_rows]], a_inc_e + remap_new])
    inc_node = np.concatenate([sim.inc_node[g_rows], a_inc_n])
    ev_time = np.concatenate([t[keep], ev.column("time", np.int64)])
    ev_kind = np.concatenate([kind[keep], ev.column("kind", np.uint8)])
    ev_by = np.concatenate([by[keep], ev.column("by", np.int32)])
    ev_src = np.concatenate([sim.ev_src[keep], ev.column("src", np.int32)])
    ev_dst = np.concatenate([sim.ev_dst[keep], ev.column("dst", np.int32)])
    ev_lat = np.concatenate([lat[keep], ev.column("lat", np.float64)])
    ev_lon = np.concatenate([lon[keep], ev.column("lon", np.float64)])
    agg_parent = np.concatenate([sim.agg_parent[keep], ev.column("parent", np.int64)])
    ev_detail = np.concatenate([np.zeros(n_keep, np.uint8), ev.column("detail", np.uint8)])
    intent = np.concatenate([np.zeros(n_keep, np.uint8), ev.column("intent", np.uint8)])
    n_ev = len(ev_time)
    ev_detail = _claim_results(ev_kind, ev_time, intent, ev_detail, inc_event, inc_node, n_ev)
    ids = rng.integers(0, 2**63, size=ev.n, dtype=np.uint64)
    ev_ids = np.concatenate([sim.ev_ids[keep],
                             np.array([f"sim:{int(h):016x}" for h in ids.tolist()], dtype=object)])
    # late uploads: some events arrive long after they happened (rows moved to the end)
    late_from = n_ev
    if noise.late_upload > 0 and n_ev:
        late = np.flatnonzero(rng.random(n_ev) < noise.late_upload)
        perm = np.concatenate([np.setdiff1d(np.arange(n_ev), late, assume_unique=True), late])
        late_from = n_ev - len(late)
        inv = np.empty(n_ev, dtype=np.int64)
        inv[perm] = np.arange(n_ev)
        ev_time, ev_kind, ev_by, ev_src, ev_dst = (ev_time[perm], ev_kind[perm], ev_by[perm],
                                                   ev_src[perm], ev_dst[perm])
        ev_lat, ev_lon, agg_parent = ev_lat[perm], ev_lon[perm], agg_parent[perm]
        ev_detail, ev_ids = ev_detail[perm], ev_ids[perm]
        inc_event = inv[inc_event]
        o = np.argsort(inc_event, kind="stable")
        inc_event, inc_node = inc_event[o], inc_node[o]
        noise_nodes["late_upload"] = np.unique(inc_node[inc_event >= late_from])
    epcs = np.concatenate([sim.epcs, np.array(new_epcs, dtype=object)]) if new_epcs else \
        sim.epcs
    node_key = np.concatenate([sim.node_key, np.full(len(new_epcs), -1, np.int32)])
    node_batch = np.concatenate([sim.node_batch, np.full(len(new_epcs), -1, np.int64)])

    def obj(a: list[Any]) -> np.ndarray:
        out = np.empty(len(a), dtype=object)
        out[:] = a
        return out

    parties = np.concatenate([sim.parties, obj(P.names)])
    party_role = np.concatenate([sim.party_role, obj(P.role)])
    party_region = np.concatenate([sim.party_region, obj(P.region)])
    party_lat = np.concatenate([sim.party_lat, np.array(P.lat, dtype=np.float64)])
    party_lon = np.concatenate([sim.party_lon, np.array(P.lon, dtype=np.float64)])
    if truth_rows:
        t_nodes = np.concatenate([r[0] for r in truth_rows])
        t_attack = np.concatenate([np.full(len(r[0]), r[1], dtype=object) for r in truth_rows])
        t_start = np.concatenate([r[2] for r in truth_rows])
        t_obs = np.concatenate([r[3] for r in truth_rows])
    else:
        t_nodes, t_attack = np.zeros(0, np.int64), np.zeros(0, object)
        t_start, t_obs = np.zeros(0, np.int64), np.zeros(0, bool)
    truth = AttackTruth(t_nodes, epcs[t_nodes], t_attack, t_start, t_obs)
    for name in list(noise_nodes):
        noise_nodes[name] = np.setdiff1d(noise_nodes[name], t_nodes)
    return AttackedSimulation(
        params=sim.params, seed=sim.seed, epcs=epcs, parties=parties, ev_ids=ev_ids,
        ev_time=ev_time, ev_kind=ev_kind, ev_by=ev_by, ev_src=ev_src, ev_dst=ev_dst,
        ev_lat=ev_lat, ev_lon=ev_lon, inc_event=inc_event, inc_node=inc_node,
        agg_parent=agg_parent, node_key=node_key, node_batch=node_batch,
        party_role=party_role, party_region=party_region, party_lat=party_lat,
        party_lon=party_lon, truth=sim.truth, ev_detail=ev_detail, attacks=truth,
        noise=noise_nodes, late_from=late_from, mix=mix, noise_model=noise,
        added_from=n_keep)


def _claim_results(kind: np.ndarray, time: np.ndarray, intent: np.ndarray, detail: np.ndarray,
                   inc_event: np.ndarray, inc_node: np.ndarray, n_ev: int) -> np.ndarray:
    """What a registry records for each claim attempt (per code, in time order): the first
    correct PIN wins, later attempts are "already_claimed", 5 wrong PINs lock."""
    detail = detail.copy()
    is_claim = kind[inc_event] == _K.CLAIM
    ce, cn = inc_event[is_claim], inc_node[is_claim]
    if not len(ce):
        return detail
    o = np.lexsort((ce, time[ce], cn))
    ce, cn = ce[o], cn[o]
    state: dict[int, list[int]] = {}
    for e, n in zip(ce.tolist(), cn.tolist(), strict=True):
        s = state.setdefault(n, [0, 0])  # [claimed/locked flag, wrong pins]
        want = int(intent[e])
        if s[0] == 1:
            res = "already_claimed"
        elif s[0] == 2:
            res = "locked"
        elif want == _INTENT_MISTYPED:
            res = "mistyped"
        elif want == _INTENT_OK:
            res = "ok"
            s[0] = 1
        else:
            res = "wrong_pin"
            s[1] += 1
            if s[1] >= 5:
                s[0] = 2
        detail[e] = CLAIM_DETAILS[res]
    return detail


# ----------------------------------------------------------------------------------------
# evaluation
# ----------------------------------------------------------------------------------------
@dataclass
class Evaluation:
    """Precision, recall and time to detection (hours) of alerts against the truth."""

    per_attack: dict[str, dict[str, Any]]
    per_rule: dict[str, dict[str, Any]]
    per_category: dict[str, dict[str, Any]]
    false_positives: dict[str, int]  # genuine codes with act-on-it alerts, by noise kind

    def table(self) -> str:
        """The results as Markdown tables."""
        lines = ["| target | codes | precision | recall | TTD median h | TTD p90 h |",
                 "|---|---:|---:|---:|---:|---:|"]
        for name, r in self.per_category.items():
            lines.append(f"| {name} | {r['codes']} | {_f(r['precision'])} | {_f(r['recall'])}"
                         f" | {_f(r['ttd_median_h'], 1)} | {_f(r['ttd_p90_h'], 1)} |")
        lines += ["", "| attack | codes | observable | recall (any rule) | recall observable |"
                  " TTD median h | caught by |", "|---|---:|---:|---:|---:|---:|---|"]
        for name, r in self.per_attack.items():
            by = ", ".join(f"{k} {v:.2f}" for k, v in r["by_rule"].items() if v >= 0.01)
            lines.append(f"| {name} | {r['codes']} | {r['observable']} | {_f(r['recall'])} | "
                         f"{_f(r['recall_observable'])} | {_f(r['ttd_median_h'], 1)} | {by} |")
        lines += ["", "| rule | flagged codes | precision | false positives | weak alerts |",
                  "|---|---:|---:|---:|---:|"]
        for name, r in self.per_rule.items():
            lines.append(f"| {name} | {r['flagged']} | {_f(r['precision'])} | {r['fp']} | "
                         f"{r['weak']} |")
        return "\n".join(lines)


def _f(x: float | None, digits: int = 3) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def evaluate(alerts: Sequence[Alert], attacked: AttackedSimulation, *,
             act: float = ACT_ON_IT) -> Evaluation:
    """Score ``alerts`` against ``attacked.attacks``: a code is *flagged* by a rule when an
    alert of that kind with score >= ``act`` names it. Precision counts a flagged code as
    right when it is attacked (by any attack); recall is over the codes of an attack;
    time to detection is the earliest act-on-it alert's ``first_seen`` minus the attack's
    start on that code."""
    truth = attacked.attacks
    if truth is None:
        raise AttackError("evaluate needs an AttackedSimulation (with ground truth)")
    attacked_codes = dict(zip(truth.codes.tolist(), truth.attack.tolist(), strict=True))
    start = dict(zip(truth.codes.tolist(), truth.start.tolist(), strict=True))
    flagged: dict[str, set[str]] = {k: set() for k in KINDS}
    weak: dict[str, int] = dict.fromkeys(KINDS, 0)
    first: dict[str, float] = {}
    first_by_rule: dict[tuple[str, str], float] = {}
    for a in alerts:
        if a.score < act:
            weak[a.kind] += 1
            continue
        fs = a.first_seen.timestamp() * 1e6
        for c in a.codes:
            flagged[a.kind].add(c)
            if fs < first.get(c, math.inf):
                first[c] = fs
            if fs < first_by_rule.get((a.kind, c), math.inf):
                first_by_rule[(a.kind, c)] = fs
    any_flag = set().union(*flagged.values())
    noise_of: dict[str, list[str]] = {}
    for name, nodes in attacked.noise.items():
        for c in attacked.epcs[nodes].tolist():
            noise_of.setdefault(c, []).append(name)
    per_rule = {}
    for k in KINDS:
        f = flagged[k]
        tp = sum(1 for c in f if c in attacked_codes)
        per_rule[k] = {"flagged": len(f), "precision": tp / len(f) if f else math.nan,
                       "fp": len(f) - tp, "weak": weak[k]}
    fps: dict[str, int] = {}
    for c in any_flag:
        if c not in attacked_codes:
            for n in noise_of.get(c, ["(no noise)"]):
                fps[n] = fps.get(n, 0) + 1

    def ttd(codes: list[str], rules: Sequence[str] | None) -> tuple[float, float]:
        vals = []
        for c in codes:
            if rules is None:
                f = first.get(c)
            else:
                f = min((first_by_rule.get((r, c), math.inf) for r in rules), default=math.inf)
                f = None if f == math.inf else f
            if f is not None:
                vals.append(max(0.0, (f - start[c]) / _H))
        if not vals:
            return math.nan, math.nan
        return float(np.median(vals)), float(np.percentile(vals, 90))

    per_attack = {}
    for att in ATTACKS:
        m = truth.attack == att
        codes = truth.codes[m].tolist()
        obs = truth.codes[m & truth.observable].tolist()
        hit = [c for c in codes if c in any_flag]
        med, p90 = ttd(codes, None)
        per_attack[att] = {
            "codes": len(codes), "observable": len(obs),
            "recall": len(hit) / len(codes) if codes else math.nan,
            "recall_observable": (sum(1 for c in obs if c in any_flag) / len(obs)
                                  if obs else math.nan),
            "ttd_median_h": med, "ttd_p90_h": p90,
            "by_rule": {k: (sum(1 for c in codes if c in flagged[k]) / len(codes)
                            if codes else 0.0) for k in KINDS},
        }
    per_cat = {}
    for name, (atts, rules) in CATEGORIES.items():
        codes = truth.codes[np.isin(truth.attack, atts)].tolist()
        f = set().union(*(flagged[r] for r in rules))
        tp = sum(1 for c in f if c in attacked_codes)
        strict = sum(1 for c in f if attacked_codes.get(c) in atts)
        med, p90 = ttd(codes, rules)
        per_cat[name] = {
            "codes": len(codes), "flagged": len(f),
            "precision": tp / len(f) if f else math.nan,
            "precision_strict": strict / len(f) if f else math.nan,
            "recall": (sum(1 for c in codes if c in f) / len(codes)) if codes else math.nan,
            "ttd_median_h": med, "ttd_p90_h": p90, "attacks": atts, "rules": rules,
        }
    return Evaluation(per_attack, per_rule, per_cat, fps)
