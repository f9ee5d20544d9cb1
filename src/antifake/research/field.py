"""Field noise and copy attacks with ground truth, and a registry of pluggable attacks.

[`field_simulation`][antifake.research.field.field_simulation] builds a supply chain
([`antifake.research.sim.simulate`][antifake.research.sim.simulate]), lays the attacks of
[`antifake.research.attacks.inject`][antifake.research.attacks.inject] on it (clones, stolen
goods, diversion, counterfeit listings, sales outside the chain, PIN guessing, repacked fakes),
then the registered attacks (``fast_copy``, ``slow_copy``, ``crowd_copy`` and any a user registers),
then the field noise of [`FieldNoise`][antifake.research.field.FieldNoise] on everything:
missed reads of scans and of supply-chain events, phone clocks off by up to hours, GPS noise,
scans with no location, honest travellers. The same parameters and seed give the same arrays.

A new attack is a function ``fn(ctx, rate)`` that adds events through the
[`AttackContext`][antifake.research.field.AttackContext] and marks the codes it attacks;
[`register_attack`][antifake.research.field.register_attack] makes it available by name. The
detector is never told about it: it is scored on the ground truth alone.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

from antifake.detect import haversine_km
from antifake.epcis.kinds import NO_PARTY, EventKind
from antifake.research._noise_phones import phone_noise
from antifake.research.attacks import (
    AttackedSimulation,
    AttackError,
    AttackMix,
    AttackTruth,
    Noise,
    inject,
)
from antifake.research.sim import REGION_LAT, REGION_LON, REGIONS, SupplyChain, simulate

__all__ = [
    "ATTACK_PLUGINS",
    "DEFAULT_COPIES",
    "AttackContext",
    "AttackPlugin",
    "FieldNoise",
    "FieldSimulation",
    "field_simulation",
    "min_travel_hours",
    "register_attack",
    "unregister_attack",
]

_S = 1_000_000
_MIN = 60 * _S
_H = 3600 * _S
_D = 24 * _H
_K = EventKind
_REG_LAT, _REG_LON = REGION_LAT, REGION_LON
_KM_PER_DEG = 111.195


def min_travel_hours(distance_km: Any, overhead_h: float = 2.0, speed_kmh: float = 800.0
                     ) -> np.ndarray:
    """The shortest door-to-door trip: ``overhead_h`` (to the airport or station, check-in,
    waiting, from the arrival to the door) plus the distance at ``speed_kmh``; 0 for
    distances under 1 km."""
    d = np.asarray(distance_km, dtype=np.float64)
    return np.where(d < 1.0, 0.0, overhead_h + d / speed_kmh)


# ----------------------------------------------------------------------------------------
# parameters
# ----------------------------------------------------------------------------------------
def _frac(name: str, v: float) -> None:
    if isinstance(v, bool) or not isinstance(v, int | float) or not 0.0 <= v <= 1.0:
        raise AttackError(f"{name} must be a fraction in [0, 1], not {v!r}")


@dataclass(frozen=True)
class FieldNoise:
    """What field data does to a trace (fractions in [0, 1]; times in seconds; km)."""

    #: Consumer scans never recorded.
    missed_read: float = 0.3
    #: Supply-chain events never recorded (shipments, receipts, unpacking, retail sales);
    #: None: the same as ``missed_read``.
    missed_chain: float | None = None
    #: Phones whose clock is off ...
    skewed_phones: float = 0.3
    #: ... by up to this much (uniform in [-phone_skew_s, phone_skew_s]).
    phone_skew_s: float = 7200.0
    #: Businesses whose clock is off ...
    skewed_businesses: float = 0.1
    #: ... by up to this much.
    business_skew_s: float = 900.0
    #: GPS error of a phone's location (standard deviation per axis, km).
    gps_km: float = 3.0
    #: Consumer scans and claims recorded without a location.
    no_location: float = 0.1
    #: Scanned items whose owner travels and scans them once or twice in another city,
    #: after a door-to-door trip of at least ``min_travel_hours``.
    traveller: float = 0.02
    #: Families scanning an item a few more times at home.
    family: float = 0.05
    #: Sold items claimed by their buyer.
    claims: float = 0.1
    #: Phone events uploaded late (the phone offline): recorded 1 hour to 3 days after they
    #: happened; the others are recorded within ``upload_delay_s`` (exponential mean).
    offline_uploads: float = 0.2
    #: Mean delay between an event and its record (seconds), phones online and businesses.
    upload_delay_s: float = 30.0
    #: Owned items given or sold on to someone else: the owner's later scans are the new
    #: owner's, from a new phone, in another city half of the time (after the trip there).
    #: Listed in ``FieldSimulation.handovers``; not an attack.
    handover: float = 0.02
    #: Scans of an owner's item from someone else's phone nearby (a phone living in the
    #: owner's region).
    borrowed_phone: float = 0.01

    def __post_init__(self) -> None:
        for f in ("missed_read", "skewed_phones", "skewed_businesses", "no_location",
                  "traveller", "family", "claims", "offline_uploads", "handover",
                  "borrowed_phone"):
            _frac(f, getattr(self, f))
        if self.missed_chain is not None:
            _frac("missed_chain", self.missed_chain)
        for f, hi in (("phone_skew_s", 7 * 86_400.0), ("business_skew_s", 86_400.0),
                      ("gps_km", 1000.0), ("upload_delay_s", 86_400.0)):
            v = getattr(self, f)
            if isinstance(v, bool) or not isinstance(v, int | float) or not 0 <= v <= hi:
                raise AttackError(f"{f} must lie in [0, {hi:g}], not {v!r}")

    @property
    def chain_missed(self) -> float:
        return self.missed_read if self.missed_chain is None else self.missed_chain

    @classmethod
    def clean(cls) -> FieldNoise:
        """Every read recorded, clocks right, exact locations, nobody travels."""
        return cls(missed_read=0.0, missed_chain=0.0, skewed_phones=0.0, phone_skew_s=0.0,
                   skewed_businesses=0.0, business_skew_s=0.0, gps_km=0.0, no_location=0.0,
                   traveller=0.0, family=0.0, claims=0.0, offline_uploads=0.0,
                   upload_delay_s=0.0, handover=0.0, borrowed_phone=0.0)


# ----------------------------------------------------------------------------------------
# pluggable attacks
# ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class AttackPlugin:
    """A registered attack: ``fn(ctx, rate)`` and what it does, in a sentence."""

    name: str
    fn: Callable[[AttackContext, float], None]
    description: str = ""


#: Registered attacks by name (see [`register_attack`][antifake.research.field.register_attack]).
ATTACK_PLUGINS: dict[str, AttackPlugin] = {}


def register_attack(name: str, fn: Callable[[AttackContext, float], None], *,
                    description: str = "", replace_existing: bool = False) -> AttackPlugin:
    """Make the attack ``fn(ctx, rate)`` available to
    [`field_simulation`][antifake.research.field.field_simulation] as ``name``: ``rate`` is the
    share of items it should attack; it adds events with ``ctx.add_scans`` /
    ``ctx.add_events`` and tells the truth with ``ctx.mark``."""
    if not isinstance(name, str) or not name.isidentifier():
        raise AttackError(f"attack name must be an identifier, not {name!r}")
    if not callable(fn):
        raise AttackError("attack must be callable as fn(ctx, rate)")
    if name in ATTACK_PLUGINS and not replace_existing:
        raise AttackError(f"attack {name!r} is registered already")
    plugin = AttackPlugin(name, fn, description)
    ATTACK_PLUGINS[name] = plugin
    return plugin


def unregister_attack(name: str) -> None:
    """Forget a registered attack."""
    if ATTACK_PLUGINS.pop(name, None) is None:
        raise AttackError(f"no attack {name!r} is registered")


class AttackContext:
    """What an attack sees of the simulation, and how it adds events and tells the truth.

    ``rng`` is the attack's own seeded generator; times are microseconds since the epoch."""

    def __init__(self, asim: AttackedSimulation, rng: np.random.Generator) -> None:
        self.sim = asim
        self.rng = rng
        tr = asim.truth
        self.n_items = asim.n_items
        self.item_sold = tr.item_sold
        self.item_sell_time = tr.item_sell_time
        self.item_retailer = tr.item_retailer
        #: Per item: the party index of the phone that owns it (-1: none on record).
        self.item_owner = tr.item_owner if len(tr.item_owner) == self.n_items else \
            np.full(self.n_items, -1, np.int32)
        r = np.maximum(tr.item_retailer, 0)
        self.home_lat = np.where(tr.item_retailer >= 0, asim.party_lat[r], np.nan)
        self.home_lon = np.where(tr.item_retailer >= 0, asim.party_lon[r], np.nan)
        used = np.zeros(asim.n_nodes, dtype=bool)
        if asim.attacks is not None:
            used[asim.attacks.nodes[asim.attacks.nodes < asim.n_nodes]] = True
        self.used = used
        # genuine consumer scans (located), grouped by item, time order
        rows = np.flatnonzero((asim.ev_kind[asim.inc_event] == _K.SCAN)
                              & (asim.inc_node < self.n_items))
        e, n = asim.inc_event[rows], asim.inc_node[rows]
        keep = ~used[n]
        e, n = e[keep], n[keep]
        o = np.lexsort((asim.ev_time[e], n))
        self._scan_ev, self._scan_item = e[o], n[o]
        self._scan_ptr = np.searchsorted(self._scan_item, np.arange(self.n_items + 1))
        self.blocks: list[dict[str, np.ndarray]] = []
        self.parties: list[str] = []
        self.party_role: list[str] = []
        self.truth: list[tuple[np.ndarray, str, np.ndarray]] = []
        self._taken = set(asim.parties.tolist())

    # -- reading
    def scan_count(self) -> np.ndarray:
        """Genuine consumer scans per item."""
        return np.diff(self._scan_ptr)

    def scans_of(self, item: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(times, lat, lon) of an item's genuine consumer scans, in time order."""
        ev = self._scan_ev[self._scan_ptr[item]: self._scan_ptr[item + 1]]
        return self.sim.ev_time[ev], self.sim.ev_lat[ev], self.sim.ev_lon[ev]

    def pick(self, mask: np.ndarray, k: int) -> np.ndarray:
        """``k`` random items of ``mask`` no attack has taken yet (sorted)."""
        idx = np.flatnonzero(mask[: self.n_items] & ~self.used[: self.n_items])
        k = min(int(k), len(idx))
        got = np.sort(self.rng.choice(idx, size=k, replace=False)) if k else idx[:0]
        self.used[got] = True
        return got

    def city(self, lat: np.ndarray, lon: np.ndarray, min_km: float, max_km: float = 1e9
             ) -> np.ndarray:
        """A random region (index into ``antifake.research.sim.REGIONS``) whose centre lies between
        ``min_km`` and ``max_km`` of each point (the nearest beyond ``min_km``, else the
        farthest, when none does)."""
        d = haversine_km(np.asarray(lat)[:, None], np.asarray(lon)[:, None], _REG_LAT[None, :],
                         _REG_LON[None, :])
        ok = (d >= min_km) & (d <= max_km)
        w = self.rng.random(d.shape) + 1.0
        pick = np.argmax(w * ok, axis=1)
        beyond = np.where(d >= min_km, d, np.inf)
        fallback = np.where(np.isfinite(beyond).any(axis=1), np.argmin(beyond, axis=1),
                            np.argmax(d, axis=1))
        return np.where(ok.any(axis=1), pick, fallback)

    @staticmethod
    def region_centre(region: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return _REG_LAT[region], _REG_LON[region]

    def owner_phone(self, item: int) -> int:
        """The phone that owns ``item`` (party index): the owner's genuine scans are from
        it, a copy's are not. An item with no owner on record gets a new phone (kept)."""
        p = int(self.item_owner[int(item)])
        if p < 0:
            p = int(self.phones(1)[0])
            if not self.item_owner.flags.writeable or \
                    self.item_owner is self.sim.truth.item_owner:
                self.item_owner = self.item_owner.copy()
            self.item_owner[int(item)] = p
        return p

    # -- writing
    def phones(self, k: int) -> np.ndarray:
        """``k`` new consumer phones (party indices)."""
        base = len(self.sim.parties) + len(self.parties)
        hexes = self.rng.integers(0, 2**40, size=k, dtype=np.uint64)
        for h in hexes.tolist():
            name = f"app:{int(h):010x}"
            while name in self._taken:
                name += "x"
            self._taken.add(name)
            self.parties.append(name)
            self.party_role.append("app")
        return base + np.arange(k, dtype=np.int32)

    def add_events(self, kind: EventKind, items: Any, times: Any, by: Any, lat: Any = np.nan,
                   lon: Any = np.nan) -> None:
        """One event per row naming one item."""
        items = np.asarray(items, dtype=np.int64).ravel()
        k = len(items)
        if not k:
            return

        def col(v: Any, dtype: Any) -> np.ndarray:
            return np.broadcast_to(np.asarray(v, dtype=dtype), (k,)).copy()

        self.blocks.append({"node": items, "time": col(times, np.int64),
                            "kind": col(int(kind), np.uint8), "by": col(by, np.int32),
                            "lat": col(lat, np.float64), "lon": col(lon, np.float64)})

    def add_scans(self, items: Any, times: Any, phones: Any, lat: Any, lon: Any) -> None:
        """Consumer scans (one item each)."""
        self.add_events(_K.SCAN, items, times, phones, lat, lon)

    def mark(self, items: Any, attack: str, start: Any) -> None:
        """Ground truth: ``items`` are attacked by ``attack`` from ``start`` on."""
        items = np.asarray(items, dtype=np.int64).ravel()
        self.used[items] = True
        self.truth.append((items, attack, np.broadcast_to(
            np.asarray(start, dtype=np.int64), items.shape).copy()))


# ----------------------------------------------------------------------------------------
# the built-in copy attacks
# ----------------------------------------------------------------------------------------
def _owner_scan_pick(ctx: AttackContext, k: int) -> tuple[np.ndarray, np.ndarray]:
    """``k`` sold items with a genuine scan, and one of their scans (event time) each."""
    items = ctx.pick(ctx.item_sold & (ctx.scan_count() > 0), k)
    when = np.empty(len(items), dtype=np.int64)
    for j, it in enumerate(items.tolist()):
        ts, _, _ = ctx.scans_of(it)
        when[j] = ts[int(ctx.rng.integers(0, len(ts)))]
    return items, when


def fast_copy(ctx: AttackContext, rate: float) -> None:
    """A copy scanned in a city 600-1,100 km away 20-90 minutes after the owner's scan (one
    or two scans by the copy's buyer within the hour)."""
    k = int(round(rate * ctx.n_items))
    if k <= 0:
        return
    items, t_owner = _owner_scan_pick(ctx, max(1, k))
    k = len(items)
    reg = ctx.city(ctx.home_lat[items], ctx.home_lon[items], 600.0, 1100.0)
    c_lat, c_lon = ctx.region_centre(reg)
    c_lat = c_lat + ctx.rng.normal(0, 0.05, k)
    c_lon = c_lon + ctx.rng.normal(0, 0.05, k)
    t1 = t_owner + ctx.rng.integers(20 * _MIN, 90 * _MIN + 1, k)
    phones = ctx.phones(k)
    two = ctx.rng.random(k) < 0.5
    rows = np.concatenate([np.arange(k), np.flatnonzero(two)])
    dt = np.concatenate([np.zeros(k, np.int64),
                         ctx.rng.integers(5 * _MIN, 60 * _MIN, int(two.sum()))])
    ctx.add_scans(items[rows], t1[rows] + dt, phones[rows],
                  c_lat[rows] + ctx.rng.normal(0, 0.005, len(rows)),
                  c_lon[rows] + ctx.rng.normal(0, 0.005, len(rows)))
    ctx.mark(items, "fast_copy", t1)


def slow_copy(ctx: AttackContext, rate: float) -> None:
    """Copies sold in a city 300+ km away, scanned by two or three buyers over weeks while
    the owner keeps scanning at home: the two populations interleave, but no two scans are
    closer in time than a trip between them takes (plus a day)."""
    k = int(round(rate * ctx.n_items))
    if k <= 0:
        return
    items, _ = _owner_scan_pick(ctx, max(1, k))
    rng = ctx.rng
    reg = ctx.city(ctx.home_lat[items], ctx.home_lon[items], 300.0)
    c_lat0, c_lon0 = ctx.region_centre(reg)
    start = np.empty(len(items), dtype=np.int64)
    for j, it in enumerate(items.tolist()):
        ts, _, _ = ctx.scans_of(it)
        h_lat, h_lon = ctx.home_lat[it], ctx.home_lon[it]
        c_lat = c_lat0[j] + rng.normal(0, 0.05)
        c_lon = c_lon0[j] + rng.normal(0, 0.05)
        gap = int((min_travel_hours(haversine_km(h_lat, h_lon, c_lat, c_lon)) + 24.0) * _H)
        # the owner's scans over the weeks: the genuine ones plus 2-3 more at home
        t0 = int(ts[0])
        n_home = 2 + int(rng.integers(0, 2))
        home_t = np.sort(t0 + rng.integers(3 * _D, 60 * _D, n_home))
        home_t = home_t[np.diff(np.r_[t0, home_t]) > 0]
        owner = ctx.owner_phone(it)
        ctx.add_scans(np.full(len(home_t), it), home_t, owner,
                      h_lat + rng.normal(0, 0.02, len(home_t)),
                      h_lon + rng.normal(0, 0.02, len(home_t)))
        all_home = np.sort(np.concatenate([ts, home_t]))
        # copy scans: between home scans, at least `gap` from each
        n_buyers = 2 + int(rng.integers(0, 2))
        buyers = ctx.phones(n_buyers)
        c_times: list[int] = []
        c_by: list[int] = []
        for b in buyers.tolist():
            for _ in range(2 + int(rng.integers(0, 2))):
                for _try in range(20):
                    t = t0 + int(rng.integers(_D, 75 * _D))
                    near = np.abs(all_home - t).min() if len(all_home) else gap
                    if near >= gap:
                        c_times.append(t)
                        c_by.append(b)
                        break
        if not c_times:  # no slot found: one copy scan well after the owner's last scan
            c_times.append(int(all_home[-1]) + gap + _D)
            c_by.append(int(buyers[0]))
        ct = np.array(c_times, dtype=np.int64)
        ctx.add_scans(np.full(len(ct), it), ct, np.array(c_by, np.int32),
                      c_lat + rng.normal(0, 0.01, len(ct)), c_lon + rng.normal(0, 0.01, len(ct)))
        start[j] = ct.min()
    ctx.mark(items, "slow_copy", start)


def crowd_copy(ctx: AttackContext, rate: float) -> None:
    """One code printed on a run of 20-80 fakes sold in two to four cities: each fake's
    buyer scans it once or twice over a month."""
    k = int(round(rate * ctx.n_items))
    if k <= 0:
        return
    items, t_owner = _owner_scan_pick(ctx, max(1, k))
    rng = ctx.rng
    start = np.empty(len(items), dtype=np.int64)
    for j, it in enumerate(items.tolist()):
        n_fake = 20 + int(rng.integers(0, 61))
        n_city = 2 + int(rng.integers(0, 3))
        regs = rng.choice(len(REGIONS), size=n_city, replace=False)
        where = regs[rng.integers(0, n_city, n_fake)]
        phones = ctx.phones(n_fake)
        t_f = t_owner[j] + rng.integers(_D, 30 * _D, n_fake)
        n_sc = 1 + rng.integers(0, 2, n_fake)
        r = np.repeat(np.arange(n_fake), n_sc)
        t = t_f[r] + np.where(np.r_[True, r[1:] != r[:-1]], 0,
                              rng.integers(_H, 5 * _D, len(r)))
        ctx.add_scans(np.full(len(r), it), t, phones[r],
                      _REG_LAT[where[r]] + rng.normal(0, 0.08, len(r)),
                      _REG_LON[where[r]] + rng.normal(0, 0.08, len(r)))
        start[j] = t.min()
    ctx.mark(items, "crowd_copy", start)


register_attack("fast_copy", fast_copy, description=fast_copy.__doc__ or "")
register_attack("slow_copy", slow_copy, description=slow_copy.__doc__ or "")
register_attack("crowd_copy", crowd_copy, description=crowd_copy.__doc__ or "")

#: The default rates of the registered copy attacks (share of items).
DEFAULT_COPIES: dict[str, float] = {"fast_copy": 0.002, "slow_copy": 0.002, "crowd_copy": 0.0005}


# ----------------------------------------------------------------------------------------
# the simulation
# ----------------------------------------------------------------------------------------
@dataclass
class FieldSimulation:
    """A noisy attacked simulation: ``data`` (an
    [`AttackedSimulation`][antifake.research.attacks.AttackedSimulation]: columns for detection,
    ground truth of every attacked code with ``observable`` recomputed after the missed reads)
    and the parameters that made it."""

    data: AttackedSimulation
    chain: SupplyChain
    mix: AttackMix
    copies: dict[str, float]
    noise: FieldNoise
    seed: int
    travellers: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0, np.int64))
    #: Genuine items handed over to a new owner with a new phone (``FieldNoise.handover``).
    handovers: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0, np.int64))

    def params(self) -> dict[str, Any]:
        """Every parameter, JSON-ready."""
        return {"chain": asdict(self.chain), "mix": asdict(self.mix), "copies": self.copies,
                "noise": asdict(self.noise), "seed": self.seed}


def _append(asim: AttackedSimulation, ctx: AttackContext) -> AttackedSimulation:
    """``asim`` plus the attack events and parties of ``ctx``."""
    n_e = asim.n_events
    if ctx.blocks:
        cols = {k: np.concatenate([b[k] for b in ctx.blocks]) for k in ctx.blocks[0]}
    else:
        cols = {"node": np.zeros(0, np.int64), "time": np.zeros(0, np.int64),
                "kind": np.zeros(0, np.uint8), "by": np.zeros(0, np.int32),
                "lat": np.zeros(0), "lon": np.zeros(0)}
    k = len(cols["node"])
    ids = ctx.rng.integers(0, 2**63, size=k, dtype=np.uint64)
    new_ids = np.empty(k, dtype=object)
    new_ids[:] = [f"sim:{int(h):016x}" for h in ids.tolist()]
    names = np.empty(len(ctx.parties), dtype=object)
    names[:] = ctx.parties
    roles = np.empty(len(ctx.parties), dtype=object)
    roles[:] = ctx.party_role
    blank = np.empty(len(ctx.parties), dtype=object)
    blank[:] = ""
    none = np.full(k, NO_PARTY, np.int32)
    old = asim.attacks
    assert old is not None
    t_nodes = [old.nodes] + [r[0] for r in ctx.truth]
    t_attack = [old.attack] + [np.full(len(r[0]), r[1], dtype=object) for r in ctx.truth]
    t_start = [old.start] + [r[2] for r in ctx.truth]
    t_obs = [old.observable] + [np.ones(len(r[0]), bool) for r in ctx.truth]
    nodes = np.concatenate(t_nodes)
    truth = AttackTruth(nodes, asim.epcs[nodes], np.concatenate(t_attack),
                        np.concatenate(t_start), np.concatenate(t_obs))
    return replace(
        asim, parties=np.concatenate([asim.parties, names]),
        party_role=np.concatenate([asim.party_role, roles]),
        party_region=np.concatenate([asim.party_region, blank]),
        party_lat=np.concatenate([asim.party_lat, np.full(len(names), np.nan)]),
        party_lon=np.concatenate([asim.party_lon, np.full(len(names), np.nan)]),
        ev_ids=np.concatenate([asim.ev_ids, new_ids]),
        ev_time=np.concatenate([asim.ev_time, cols["time"]]),
        ev_kind=np.concatenate([asim.ev_kind, cols["kind"]]),
        ev_by=np.concatenate([asim.ev_by, cols["by"]]),
        ev_src=np.concatenate([asim.ev_src, none]), ev_dst=np.concatenate([asim.ev_dst, none]),
        ev_lat=np.concatenate([asim.ev_lat, cols["lat"]]),
        ev_lon=np.concatenate([asim.ev_lon, cols["lon"]]),
        agg_parent=np.concatenate([asim.agg_parent, np.full(k, -1, np.int64)]),
        ev_detail=np.concatenate([asim.ev_detail, np.zeros(k, np.uint8)]),
        ev_record=np.concatenate([_record_of(asim), cols["time"]]),
        inc_event=np.concatenate([asim.inc_event, n_e + np.arange(k, dtype=np.int64)]),
        inc_node=np.concatenate([asim.inc_node, cols["node"]]),
        late_from=n_e + k, attacks=truth)


_CHAIN_KINDS = (_K.SHIP, _K.RECEIVE, _K.DISAGGREGATE, _K.SELL)


def _record_of(asim: AttackedSimulation) -> np.ndarray:
    """The record times of ``asim`` (its event times when it has none)."""
    return asim.ev_record if len(asim.ev_record) == asim.n_events else asim.ev_time


def _noisy(asim: AttackedSimulation, noise: FieldNoise, rng: np.random.Generator,
           seed: int = 0) -> AttackedSimulation:
    """Missed reads, phone clock skew, GPS noise and missing locations on ``asim``."""
    n_e = asim.n_events
    kind = asim.ev_kind
    role = asim.party_role
    by = asim.ev_by
    is_app = np.zeros(n_e, dtype=bool)
    has_by = by >= 0
    is_app[has_by] = role[by[has_by]] == "app"
    is_app |= (kind == _K.SCAN) & ~has_by
    genuine_chain = np.isin(kind, _CHAIN_KINDS) & (np.arange(n_e) < asim.added_from)
    u = rng.random(n_e)
    drop = ((kind == _K.SCAN) & (u < noise.missed_read)) | \
        (genuine_chain & (u < noise.chain_missed))
    # phone clocks shift what the phone says (eventTime); the registry records an event when
    # it arrives (recordTime): the true time plus the upload delay
    t = asim.ev_time.copy()
    rec = _record_of(asim).copy()
    if noise.upload_delay_s > 0 or noise.offline_uploads > 0:
        rng_up = np.random.default_rng([int(seed), 0x2EC1])
        rec += (rng_up.exponential(noise.upload_delay_s * _S, n_e)).astype(np.int64)
        off_line = is_app & (rng_up.random(n_e) < noise.offline_uploads)
        rec[off_line] += rng_up.integers(_H, 3 * _D, int(off_line.sum()))
    n_p = len(asim.parties)
    off = np.zeros(n_p, dtype=np.int64)
    phones = np.flatnonzero(role == "app")
    if noise.skewed_phones > 0 and noise.phone_skew_s > 0:
        sk = phones[rng.random(len(phones)) < noise.skewed_phones]
        s = int(noise.phone_skew_s * _S)
        off[sk] = rng.integers(-s, s + 1, len(sk))
    t[has_by] += off[by[has_by]]
    # GPS noise and missing locations on phones' events
    lat, lon = asim.ev_lat.copy(), asim.ev_lon.copy()
    located = is_app & ~np.isnan(lat)
    m = int(located.sum())
    if noise.gps_km > 0 and m:
        lat[located] += rng.normal(0, noise.gps_km / _KM_PER_DEG, m)
        lon[located] += rng.normal(0, noise.gps_km / _KM_PER_DEG, m) / \
            np.cos(np.radians(lat[located]))
    if noise.no_location > 0:
        lost = located & (rng.random(n_e) < noise.no_location)
        lat[lost] = np.nan
        lon[lost] = np.nan
    keep = np.flatnonzero(~drop)
    new_of = np.full(n_e, -1, dtype=np.int64)
    new_of[keep] = np.arange(len(keep))
    rows = ~drop[asim.inc_event]
    inc_event = new_of[asim.inc_event[rows]]
    inc_node = asim.inc_node[rows]
    # observability after the losses: an attacked code keeps a trace when an event the
    # attacks added (not a decommissioning) survives, or (diversion) a scan after its start
    truth = asim.attacks
    assert truth is not None
    ev_added = np.arange(n_e) >= asim.added_from
    surv = ~drop & ev_added & (kind != _K.DECOMMISSION)
    r_all = np.flatnonzero(surv[asim.inc_event])
    traced = np.zeros(asim.n_nodes, dtype=bool)
    traced[asim.inc_node[r_all]] = True
    obs = truth.observable & traced[truth.nodes]
    div = truth.attack == "diversion"
    if div.any():
        sc = np.flatnonzero((kind[asim.inc_event] == _K.SCAN) & ~drop[asim.inc_event])
        last = np.full(asim.n_nodes, -1, dtype=np.int64)
        np.maximum.at(last, asim.inc_node[sc], asim.ev_time[asim.inc_event[sc]])
        obs[div] = truth.observable[div] & (last[truth.nodes[div]] >= truth.start[div])
    fixed = AttackTruth(truth.nodes, truth.codes, truth.attack, truth.start, obs)
    late_from = int(np.count_nonzero(keep < asim.late_from))
    return replace(
        asim, ev_ids=asim.ev_ids[keep], ev_time=t[keep], ev_kind=kind[keep], ev_by=by[keep],
        ev_src=asim.ev_src[keep], ev_dst=asim.ev_dst[keep], ev_lat=lat[keep],
        ev_lon=lon[keep], agg_parent=asim.agg_parent[keep], ev_detail=asim.ev_detail[keep],
        ev_record=rec[keep],
        inc_event=inc_event, inc_node=inc_node, attacks=fixed, late_from=late_from,
        added_from=int(np.count_nonzero(keep < asim.added_from)))


def field_simulation(chain: SupplyChain | None = None, *, mix: AttackMix | None = None,
                     copies: Mapping[str, float] | None = None, noise: FieldNoise | None = None,
                     seed: int = 0) -> FieldSimulation:
    """A supply chain with attacks and field noise, and its ground truth.

    ``mix``: the attacks of `antifake.research.attacks` (default `AttackMix()`); ``copies``:
    registered attacks by name and rate (share of items; default
    [`DEFAULT_COPIES`][antifake.research.field.DEFAULT_COPIES]); ``noise``: default
    `FieldNoise()` (30 % missed reads, phone clocks off by up to two hours, 3 km GPS noise,
    10 % of scans without location, 2 % of owners travelling)."""
    chain = SupplyChain(n_items=20_000, n_retailers=40, n_apps=200) if chain is None else chain
    mix = AttackMix() if mix is None else mix
    copies = dict(DEFAULT_COPIES if copies is None else copies)
    noise = FieldNoise() if noise is None else noise
    unknown = sorted(set(copies) - set(ATTACK_PLUGINS))
    if unknown:
        raise AttackError(f"unknown attacks {unknown}; registered: {sorted(ATTACK_PLUGINS)}")
    for name, rate in copies.items():
        _frac(f"copies[{name!r}]", rate)
    sim = simulate(chain, seed=seed)
    base = Noise(missed_scan=0.0, missed_sale=0.0, missed_receipt=0.0, late_upload=0.0,
                 skewed_parties=noise.skewed_businesses, clock_skew_s=noise.business_skew_s,
                 family=noise.family, traveller=noise.traveller, claims=noise.claims,
                 claim_typos=0.1, retail_listings=0.005)
    asim = inject(sim, mix, base, seed=seed)
    del sim
    for j, (name, rate) in enumerate(sorted(copies.items())):
        if rate <= 0:
            continue
        ctx = AttackContext(asim, np.random.default_rng([int(seed), 0xC0B1, j]))
        ATTACK_PLUGINS[name].fn(ctx, float(rate))
        asim = _append(asim, ctx)
    asim, handovers, _ = phone_noise(asim, noise.handover, noise.borrowed_phone,
                                     np.random.default_rng([int(seed), 0x0A4E]))
    asim = _noisy(asim, noise, np.random.default_rng([int(seed), 0xF1E1D]), seed)
    assert asim.attacks is not None
    travellers = np.setdiff1d(asim.noise.get("traveller", np.zeros(0, np.int64)),
                              asim.attacks.nodes)
    return FieldSimulation(asim, chain, mix, copies, noise, int(seed), travellers,
                           handovers)
