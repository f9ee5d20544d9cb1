"""Catch fakes in the trace: copied codes, diversion, unauthorised sellers and more.

[`detect`][antifake.detect.detect] runs every rule over a snapshot of the trace and returns
[`Alert`][antifake.detect.Alert] objects ranked by score;
[`Detector`][antifake.detect.Detector] keeps state so that
[`Detector.update`][antifake.detect.Detector.update] re-examines only the codes that new
events touch, with the same result as a full run.
[`check_listing`][antifake.detect.check_listing] and
[`check_listings`][antifake.detect.check_listings] answer a marketplace's question: may this
seller list this code?

Rules (``Alert.kind``), each tuned by a field of
[`DetectConfig`][antifake.detect.DetectConfig]:

``impossible_travel``
    two consecutive located observations of one code (scans, claims, sales) more than
    ``travel_km`` apart and closer in time (widened by ``clock_skew_s``) than a door-to-door
    trip: ``travel_overhead_h`` plus the distance (less ``location_km`` at each end) at
    ``travel_kmh``. Two devices: act on it; one device jumping: weak (a GPS glitch).
``over_scanned``
    more distinct scanners than one item plausibly has: ``far_scanners`` or more distinct
    scanners more than ``far_km`` from the item's *home* (where it was sold; else where its
    holder is, or its first consumer observation when that holder is a maker or wholesaler),
    observations far from home, back, and far again (two populations of owners), or
    ``max_scanners`` distinct scanners in all. One far scanner is a traveller: weak.
``diversion``
    scans or sales outside the regions its custody chain delivered to. A *delivery group*
    (the items a holder received in one event: a case, a pallet) is diverted when at least
    ``diversion_min_items`` of its items, and ``diversion_min_fraction`` of those observed,
    are seen outside: the alert names every item of the group. A lone item seen outside is
    weak (a traveller, or a clone: see ``over_scanned``); a sale outside by a party off the
    chain acts.
``unauthorized_seller``
    sold, listed, or claimed by a business, by a party that never held the item and was
    not the destination of a shipment of it. A listing by a former holder is weak, and so is
    a sale by a shop when the recorded custody stops at a maker or wholesaler (a gap in the
    records) unless a second shop sells the code too.
``inactive_stamp_activity``
    activity on a decommissioned stamp (by reason: anything on a stolen one; sale, listing or
    shipping of a recalled or destroyed one; a sale or listing of one decommissioned as sold,
    exported ...) or on a claimed one (another claim attempt, a sale, a listing).
``out_of_order``
    events before the stamp's commissioning, an uncommissioned item packed into a known
    container, custody after a sale to a consumer (sold before received), a receipt before
    its shipment, packing or unpacking by a party outside the chain.
``claim_lockout``
    ``max_wrong_pins`` wrong PINs (the registry locks the claim); 3 or more without a lock:
    weak.
``duplicate_listing``
    one code listed by several sellers.

Scores lie in [0, 1]; 0.5 and above means "act on it"
([`ACT_ON_IT`][antifake.detect.ACT_ON_IT]), below is a weak signal kept for context. Alerts
are deduplicated per code and kind (a code appears in at most one alert of each kind) and ranked by
score. Evidence lists event ids in (time, input) order, at most ``max_evidence`` per alert.

How it runs (1 M items, 2 M scans: about 0.3-0.4 s on 2 cores once the snapshot has been
screened before, 0.4-0.6 s the first time; see ``docs/detection.md`` and
``benchmarks/test_bench_detect.py``): a ``nogil`` *screen* kernel marks the few nodes any rule
could fire on. It reads the custody segments in node order and the incidence rows, which it
radix-partitions once per snapshot into buckets of 8,192 nodes so that a bucket's node state
stays in cache while its rows stream past. The *analyse* kernel then runs every rule on those
candidates (about 3.5 % of the nodes) from the snapshot's CSR arrays. No Python object exists
per event; the alert objects are built in one C loop.

Inputs: a [`Registry`][antifake.registry.Registry], an
[`Simulation`][antifake.research.sim.Simulation] (or
[`AttackedSimulation`][antifake.research.attacks.AttackedSimulation]), or a
[`TraceData`][antifake.detect.TraceData] (event columns, a
[`TraceGraph`][antifake.graph.TraceGraph] and party metadata). The graph snapshot keeps no
event kinds, parties or coordinates, so a bare ``TraceGraph`` is not enough.
"""

from __future__ import annotations

import contextlib
import gc
import math
import threading
import weakref
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, NamedTuple, Protocol, runtime_checkable

import numpy as np

from antifake.detect import _detect
from antifake.epcis.events import event_detail, event_kind
from antifake.epcis.kinds import (
    ALERT_KINDS,
    CLAIM_DETAILS,
    LISTING_FLAGS,
    OTHER_REASON,
    REASON_DETAILS,
    EventKind,
)
from antifake.errors import AntifakeError, UnknownStampError
from antifake.graph import TraceGraph
from antifake.storage.abc import TraceColumns
from antifake.timeutil import from_micros, to_microseconds

__all__ = [
    "ACT_ON_IT",
    "KINDS",
    "Alert",
    "DetectConfig",
    "DetectError",
    "Detector",
    "ListingCheck",
    "ListingChecks",
    "LISTING_FLAGS",
    "Source",
    "SimulationLike",
    "TraceData",
    "TraceSource",
    "CLAIM_DETAILS",
    "REASON_DETAILS",
    "check_listing",
    "haversine_km",
    "check_listings",
    "detect",
    "listing_reasons",
]

#: Scores at or above this mean "act on it".
ACT_ON_IT = 0.5
#: Alert kinds, in kernel order.
KINDS = ALERT_KINDS
_KIND_ID = {k: i for i, k in enumerate(KINDS)}
_A_DIVERSION = _KIND_ID["diversion"]
_REASON_NAME = {v: k for k, v in REASON_DETAILS.items()} | {OTHER_REASON: "other"}
_CONSUMER_ROLES = frozenset({"", "app", "consumer", "user", "phone", "anonymous"})
#: Businesses that pass goods on (a shop's act after them may follow unrecorded steps) ...
_UPSTREAM_ROLES = frozenset({"manufacturer", "maker", "brand", "issuer", "distributor",
                             "wholesaler", "importer", "warehouse", "packer"})
#: ... and shops.
_SHOP_ROLES = frozenset({"retailer", "shop", "store", "pharmacy", "dealer"})


def _tier(role: Any) -> int:
    """0 a consumer or unknown, 1 a business, 2 a maker or wholesaler, 3 a shop."""
    if not isinstance(role, str):
        return 0
    r = role.strip().lower()
    if r in _CONSUMER_ROLES:
        return 0
    return 2 if r in _UPSTREAM_ROLES else 3 if r in _SHOP_ROLES else 1


class DetectError(AntifakeError, ValueError):
    """Detection was given something it cannot use (a bad source, column or setting)."""


@runtime_checkable
class TraceSource(Protocol):
    """What detection reads from a registry (`af.Registry` is one): its snapshot as typed
    columns and as a graph (both cached by the store's version), how it names a code, and the
    codes it has flagged as copied."""

    def columns(self) -> TraceColumns: ...
    def graph(self) -> TraceGraph: ...
    def resolve(self, code: Any) -> str: ...
    def suspected(self) -> dict[str, tuple[str, float, datetime]]: ...
    def is_suspected(self, epc: str) -> bool: ...


@runtime_checkable
class SimulationLike(Protocol):
    """A simulated supply chain (`antifake.research.sim.Simulation`): its columns and its
    parties' metadata."""

    party_role: Any
    party_region: Any
    party_lat: Any
    party_lon: Any

    def arrays(self) -> dict[str, Any]: ...


# ----------------------------------------------------------------------------------------
# configuration and results
# ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DetectConfig:
    """Thresholds of every rule (see the module documentation)."""

    #: impossible_travel: two observations farther apart than this ...
    travel_km: float = 50.0
    #: ... closer in time than a door-to-door trip: ``travel_overhead_h`` (getting to and
    #: from the airport or station, waiting) plus the distance at ``travel_kmh``.
    travel_kmh: float = 800.0
    #: The fixed part of a door-to-door trip, hours.
    travel_overhead_h: float = 1.5
    #: How far a reported location may be from the truth (GPS, cell towers), km: taken off
    #: each end of a distance.
    location_km: float = 5.0
    #: Clocks may disagree by this much: added to travel times, and the slack of order checks.
    clock_skew_s: float = 900.0
    #: over_scanned / diversion: an observation this far from the item's home is "far".
    far_km: float = 50.0
    #: over_scanned: this many distinct far scanners act.
    far_scanners: int = 2
    #: over_scanned: this many distinct scanners in all act ...
    max_scanners: int = 15
    #: ... and this many are a weak signal (None: 70% of max_scanners).
    weak_scanners: int | None = None
    #: Regions: a point farther than this from every region's centre is outside all of them.
    region_radius_km: float = 300.0
    #: diversion: a delivery group is diverted when this many of its items ...
    diversion_min_items: int = 3
    #: ... and this share of its observed items are seen outside its regions.
    diversion_min_fraction: float = 0.3
    #: claim_lockout: wrong PINs that lock a claim (the registry's MAX_WRONG_PINS).
    max_wrong_pins: int = 5
    #: Event ids kept as evidence per alert.
    max_evidence: int = 16
    #: Alerts below this score are dropped (0: keep every weak signal).
    min_score: float = 0.0
    #: Rules to run.
    kinds: frozenset[str] = field(default_factory=lambda: frozenset(KINDS))
    #: Threads for the screening pass.
    threads: int = 2

    def __post_init__(self) -> None:
        def num(name: str, lo: float, hi: float = math.inf, integer: bool = False) -> None:
            v = getattr(self, name)
            ok = isinstance(v, int | float | np.integer | np.floating) and not isinstance(v, bool)
            if ok and integer:
                ok = float(v) == int(v)
            if not ok or not lo <= float(v) <= hi:
                what = "an integer" if integer else "a number"
                raise DetectError(f"DetectConfig.{name} must be {what} in [{lo:g}, {hi:g}], "
                                  f"not {v!r}")

        num("travel_km", 0.001, 40_000)
        num("travel_kmh", 1.0, 1e7)
        num("travel_overhead_h", 0.0, 48.0)
        num("location_km", 0.0, 1000.0)
        num("clock_skew_s", 0, 86_400 * 30)
        num("far_km", 0.001, 40_000)
        num("far_scanners", 1, 1000, True)
        num("max_scanners", 1, 60_000, True)
        if self.weak_scanners is not None:
            num("weak_scanners", 1, 60_000, True)
        num("region_radius_km", 1.0, 40_000)
        num("diversion_min_items", 1, 1_000_000, True)
        num("diversion_min_fraction", 0.0, 1.0)
        num("max_wrong_pins", 1, 1000, True)
        num("max_evidence", 2, 4096, True)
        num("min_score", 0.0, 1.0)
        num("threads", 1, 64, True)
        kinds = self.kinds
        if isinstance(kinds, str) or not isinstance(kinds, Iterable):
            raise DetectError("DetectConfig.kinds must be a set of alert kinds")
        kinds = frozenset(kinds)
        bad = sorted(str(k) for k in kinds if k not in _KIND_ID)
        if bad:
            raise DetectError(f"unknown alert kinds {bad}; expected some of {', '.join(KINDS)}")
        object.__setattr__(self, "kinds", kinds)

    @property
    def weak_scanner_count(self) -> int:
        if self.weak_scanners is not None:
            return int(min(self.weak_scanners, self.max_scanners))
        return max(1, math.ceil(0.7 * self.max_scanners))

    def _kernel_cfg(self) -> dict[str, Any]:
        return {
            "far_km": float(self.far_km), "travel_km": float(self.travel_km),
            "travel_kmh": float(self.travel_kmh),
            "travel_overhead_h": float(self.travel_overhead_h),
            "location_km": float(self.location_km),
            "skew_us": int(round(float(self.clock_skew_s) * 1e6)),
            "max_scanners": int(self.max_scanners), "weak_scanners": self.weak_scanner_count,
            "far_scanners": int(self.far_scanners), "max_wrong": int(self.max_wrong_pins),
            "max_ev": int(self.max_evidence),
            "kinds_mask": sum(1 << _KIND_ID[k] for k in self.kinds),
        }


class _AlertFields(NamedTuple):
    kind: str
    codes: tuple[str, ...]
    score: float
    evidence: tuple[str, ...]
    first_us: int
    last_us: int
    reason: str


class Alert(_AlertFields):
    """One finding: ``kind`` (see [`KINDS`][antifake.detect.KINDS]), the EPCs it concerns, a
    score in [0, 1] (>= 0.5: act on it), the ids of the events that prove it (time order), when
    it was first seen (the event that made the rule fire) and last seen, and a short human
    ``reason``.

    An immutable named tuple ``(kind, codes, score, evidence, first_us, last_us, reason)``;
    ``first_seen``/``last_seen`` are the same times as aware UTC datetimes. The constructor
    also takes datetimes (or ISO 8601 strings) for the times."""

    __slots__ = ()

    def __new__(cls, kind: str, codes: Sequence[str], score: float, evidence: Sequence[str],
                first_seen: Any, last_seen: Any = None, reason: str = "") -> Alert:
        if kind not in _KIND_ID:
            raise DetectError(f"unknown alert kind {kind!r}")
        try:
            score = float(score)
            first = to_microseconds(first_seen)
            last = first if last_seen is None else to_microseconds(last_seen)
        except (TypeError, ValueError) as exc:
            raise DetectError(f"bad alert field: {exc}") from None
        if not 0.0 <= score <= 1.0:
            raise DetectError(f"alert score {score} outside [0, 1]")
        return tuple.__new__(cls, (kind, tuple(codes), score, tuple(evidence), int(first),
                                   int(last), str(reason)))

    def __repr__(self) -> str:
        codes = self.codes if len(self.codes) <= 3 else self.codes[:3] + ("...",)
        return (f"Alert(kind={self.kind!r}, codes={codes!r} ({len(self.codes)}), "
                f"score={self.score}, evidence={len(self.evidence)} events, "
                f"first_seen={self.first_seen.isoformat()}, reason={self.reason!r})")

    def __getnewargs__(self) -> tuple[Any, ...]:
        return tuple(self)

    @property
    def first_seen(self) -> datetime:
        return _dt(self.first_us)

    @property
    def last_seen(self) -> datetime:
        return _dt(self.last_us)

    @property
    def act(self) -> bool:
        """Score at or above [`ACT_ON_IT`][antifake.detect.ACT_ON_IT]."""
        return self.score >= ACT_ON_IT

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"kind": self.kind, "codes": list(self.codes), "score": self.score,
                "evidence": list(self.evidence), "first_seen": self.first_seen.isoformat(),
                "last_seen": self.last_seen.isoformat(), "reason": self.reason}


_new_alert = tuple.__new__


# ----------------------------------------------------------------------------------------
# the input: event columns, graph snapshot, party metadata
# ----------------------------------------------------------------------------------------
_GRAPH_ARRAYS = ("order", "t", "own_ptr", "own_rank", "seg_ptr", "seg_start", "seg_party",
                 "lk_ptr", "lk_parent", "lk_start", "lk_end", "cust_now")


def _graph_arrays(g: TraceGraph) -> dict[str, np.ndarray]:
    """The snapshot's CSR arrays (a public accessor when the graph has one)."""
    getter = getattr(g, "detection_arrays", None)
    if callable(getter):
        return dict(getter())
    try:
        return {name: getattr(g, "_" + name) for name in _GRAPH_ARRAYS}
    except AttributeError as exc:  # pragma: no cover - a graph of another layout
        raise DetectError(f"this TraceGraph does not expose its arrays: {exc}") from None


def _col(name: str, a: Any, n: int, kind: str) -> np.ndarray:
    arr = np.asarray(a)
    if arr.ndim != 1 or len(arr) != n:
        raise DetectError(f"{name} must be one-dimensional with {n} rows, not {arr.shape}")
    if n and arr.dtype.kind not in kind:
        raise DetectError(f"{name} has dtype {arr.dtype}")
    return arr


def _region_ids(regions: np.ndarray) -> tuple[np.ndarray, list[str]]:
    names = sorted({r for r in regions.tolist() if isinstance(r, str) and r})
    idx = {r: i for i, r in enumerate(names)}
    ids = np.fromiter((idx.get(r, -1) if isinstance(r, str) else -1 for r in regions.tolist()),
                      dtype=np.int32, count=len(regions))
    return ids, names


def haversine_km(lat1: Any, lon1: Any, lat2: Any, lon2: Any) -> np.ndarray:
    """Great-circle distance in km (mean Earth radius 6371.0088 km), elementwise."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    a = (np.sin((p2 - p1) / 2) ** 2
         + np.cos(p1) * np.cos(p2) * np.sin((np.radians(lon2) - np.radians(lon1)) / 2) ** 2)
    return 2 * 6371.0088 * np.arcsin(np.sqrt(np.minimum(a, 1.0)))


def _region_grid(region_id: np.ndarray, lat: np.ndarray, lon: np.ndarray,
                 radius_km: float) -> dict[str, Any]:
    """A lat/lon grid of region ids: each cell gets the region whose centre (mean of its
    parties' coordinates) is nearest, or -1 beyond ``radius_km`` of every centre."""
    ok = (region_id >= 0) & np.isfinite(lat) & np.isfinite(lon) & (np.abs(lat) <= 90) \
        & (np.abs(lon) <= 180)
    empty = {"grid": np.zeros(0, np.int16), "grid_nlat": 0, "grid_nlon": 0, "grid_lat0": 0.0,
             "grid_lon0": 0.0, "grid_inv": 1.0, "have_regions": False, "centres": None}
    if not ok.any():
        return empty
    rid = region_id[ok]
    n_reg = int(region_id.max()) + 1
    cnt = np.bincount(rid, minlength=n_reg)
    with np.errstate(invalid="ignore"):
        c_lat = np.bincount(rid, weights=lat[ok], minlength=n_reg) / cnt
        c_lon = np.bincount(rid, weights=lon[ok], minlength=n_reg) / cnt
    have = cnt > 0
    margin = radius_km / 111.0 + 0.5
    lat0 = max(-90.0, float(np.min(c_lat[have])) - margin)
    lat1 = min(90.0, float(np.max(c_lat[have])) + margin)
    widest = math.cos(math.radians(min(89.0, max(abs(lat0), abs(lat1)))))
    lon_margin = margin / max(0.05, widest)
    lon0 = max(-180.0, float(np.min(c_lon[have])) - lon_margin)
    lon1 = min(180.0, float(np.max(c_lon[have])) + lon_margin)
    step = 0.05
    while ((lat1 - lat0) / step) * ((lon1 - lon0) / step) > 2_000_000:
        step *= 2
    nlat = max(1, int(math.ceil((lat1 - lat0) / step)))
    nlon = max(1, int(math.ceil((lon1 - lon0) / step)))
    cl = lat0 + (np.arange(nlat) + 0.5) * step
    cn = lon0 + (np.arange(nlon) + 0.5) * step
    grid = np.full((nlat, nlon), -1, dtype=np.int16)
    best = np.full((nlat, nlon), np.inf)
    glat, glon = np.meshgrid(cl, cn, indexing="ij")
    for r in np.flatnonzero(have):
        d = haversine_km(glat, glon, c_lat[r], c_lon[r])
        closer = (d < best) & (d <= radius_km)
        grid[closer] = r
        best = np.minimum(best, d)
    return {"grid": grid.ravel(), "grid_nlat": nlat, "grid_nlon": nlon, "grid_lat0": lat0,
            "grid_lon0": lon0, "grid_inv": 1.0 / step, "have_regions": True,
            "centres": (c_lat, c_lon)}


class TraceData:
    """Everything detection reads: the event columns (input order), the incidence rows, the
    [`TraceGraph`][antifake.graph.TraceGraph] built from them, per-event details (claim
    results, decommissioning reasons: see [`CLAIM_DETAILS`][antifake.detect.CLAIM_DETAILS],
    [`REASON_DETAILS`][antifake.detect.REASON_DETAILS]) and party metadata (role, region,
    coordinates). Build it with [`from_arrays`][antifake.detect.TraceData.from_arrays],
    [`from_simulation`][antifake.detect.TraceData.from_simulation] or
    [`from_registry`][antifake.detect.TraceData.from_registry]; it is read-only afterwards."""

    graph: TraceGraph
    epcs: np.ndarray
    parties: np.ndarray
    ev_ids: np.ndarray
    ev_time: np.ndarray
    ev_kind: np.ndarray
    ev_by: np.ndarray
    ev_src: np.ndarray
    ev_dst: np.ndarray
    ev_lat: np.ndarray
    ev_lon: np.ndarray
    ev_detail: np.ndarray
    agg_parent: np.ndarray
    inc_event: np.ndarray
    inc_node: np.ndarray
    node_key: np.ndarray
    node_batch: np.ndarray
    node_item: np.ndarray
    party_role: np.ndarray
    party_region: np.ndarray
    party_lat: np.ndarray
    party_lon: np.ndarray
    party_business: np.ndarray
    party_region_id: np.ndarray
    region_names: list[str]
    regions: dict[str, Any]
    region_radius_km: float
    _garrays: dict[str, np.ndarray]
    _kernels: dict[tuple[Any, ...], Any]
    _lock: threading.Lock
    _party_index: dict[str, int] | None
    _ev_index: dict[str, int] | None

    def __init__(self) -> None:
        raise TypeError("use TraceData.from_arrays / from_simulation / from_registry")

    @classmethod
    def from_arrays(cls, *, epcs: Any, parties: Any, ev_ids: Any, ev_time: Any, ev_kind: Any,
                    ev_by: Any, ev_src: Any, ev_dst: Any, ev_lat: Any, ev_lon: Any,
                    inc_event: Any, inc_node: Any, agg_parent: Any, node_key: Any,
                    node_batch: Any, ev_detail: Any = None, party_role: Any = None,
                    party_region: Any = None, party_lat: Any = None, party_lon: Any = None,
                    graph: TraceGraph | None = None,
                    region_radius_km: float = DetectConfig.region_radius_km) -> TraceData:
        """Columns as [`TraceGraph.from_arrays`][antifake.graph.TraceGraph.from_arrays] takes
        them, plus optional ``ev_detail`` (uint8 per event, 0: unknown) and party metadata
        (``None``: unknown). ``graph``: a snapshot already built from exactly these columns (else
        it is built here)."""
        cols = {"epcs": epcs, "parties": parties, "ev_ids": ev_ids, "ev_time": ev_time,
                "ev_kind": ev_kind, "ev_by": ev_by, "ev_src": ev_src, "ev_dst": ev_dst,
                "ev_lat": ev_lat, "ev_lon": ev_lon, "inc_event": inc_event,
                "inc_node": inc_node, "agg_parent": agg_parent, "node_key": node_key,
                "node_batch": node_batch}
        if graph is None:
            try:
                graph = TraceGraph.from_arrays(**cols)
            except (ValueError, TypeError, IndexError) as exc:
                raise DetectError(f"bad trace columns: {exc}") from None
        elif not isinstance(graph, TraceGraph):
            raise DetectError(f"graph must be a TraceGraph, not {type(graph).__name__}")
        self = object.__new__(cls)
        self.graph = graph
        n_ev, n_nodes, n_par = graph.n_events, graph.n_nodes, len(graph.parties)
        self.epcs = graph.epcs
        self.parties = graph.parties
        self.ev_ids = graph.event_ids
        if len(np.asarray(epcs, dtype=object)) != n_nodes or \
                len(np.asarray(parties, dtype=object)) != n_par or \
                len(np.asarray(ev_ids, dtype=object)) != n_ev:
            raise DetectError("the graph was not built from these columns")
        self.ev_time = _col("ev_time", ev_time, n_ev, "iu").astype(np.int64, copy=False)
        self.ev_kind = _col("ev_kind", ev_kind, n_ev, "iu").astype(np.uint8, copy=False)
        self.ev_by = _col("ev_by", ev_by, n_ev, "iu").astype(np.int32, copy=False)
        self.ev_dst = _col("ev_dst", ev_dst, n_ev, "iu").astype(np.int32, copy=False)
        self.ev_src = _col("ev_src", ev_src, n_ev, "iu").astype(np.int32, copy=False)
        self.agg_parent = _col("agg_parent", agg_parent, n_ev, "iu").astype(np.int64,
                                                                           copy=False)
        self.ev_lat = _col("ev_lat", ev_lat, n_ev, "fiu").astype(np.float64, copy=False)
        self.ev_lon = _col("ev_lon", ev_lon, n_ev, "fiu").astype(np.float64, copy=False)
        inc_e = np.asarray(inc_event)
        inc_n = np.asarray(inc_node)
        if inc_e.ndim != 1 or inc_n.shape != inc_e.shape or \
                (len(inc_e) and (inc_e.dtype.kind not in "iu" or inc_n.dtype.kind not in "iu")):
            raise DetectError("inc_event and inc_node must be integer arrays of one length")
        self.inc_event = inc_e.astype(np.int64, copy=False)
        self.inc_node = inc_n.astype(np.int64, copy=False)
        if ev_detail is None:
            self.ev_detail = np.zeros(n_ev, dtype=np.uint8)
        else:
            self.ev_detail = _col("ev_detail", ev_detail, n_ev, "iu").astype(np.uint8,
                                                                             copy=False)
        nb = _col("node_batch", node_batch, n_nodes, "iu")
        self.node_batch = nb.astype(np.int64, copy=False)
        self.node_key = _col("node_key", node_key, n_nodes, "iu").astype(np.int32, copy=False)
        self.node_item = (nb >= 0).astype(np.uint8)
        # checks the graph does for its own build; a graph given from outside skips them
        for name, a, lo, hi in (("ev_by", self.ev_by, -1, n_par),
                                ("ev_dst", self.ev_dst, -1, n_par),
                                ("agg_parent", self.agg_parent, -1, n_nodes),
                                ("inc_event", self.inc_event, 0, n_ev),
                                ("inc_node", self.inc_node, 0, n_nodes)):
            if len(a) and (int(a.min()) < lo or int(a.max()) >= hi):
                raise DetectError(f"{name} holds ids outside [{lo}, {hi})")
        if n_ev and int(self.ev_kind.max()) > max(EventKind):
            raise DetectError("ev_kind holds an unknown event kind")

        def meta(name: str, a: Any, fill: Any, dtype: Any) -> np.ndarray:
            if a is None:
                return np.full(n_par, fill, dtype=dtype)
            arr = np.asarray(a, dtype=dtype)
            if arr.ndim != 1 or len(arr) != n_par:
                raise DetectError(f"{name} must have one entry per party ({n_par})")
            return arr

        try:
            self.party_role = meta("party_role", party_role, None, object)
            self.party_region = meta("party_region", party_region, None, object)
            self.party_lat = meta("party_lat", party_lat, np.nan, np.float64)
            self.party_lon = meta("party_lon", party_lon, np.nan, np.float64)
        except (TypeError, ValueError) as exc:
            if isinstance(exc, DetectError):
                raise
            raise DetectError(f"bad party metadata: {exc}") from None
        roles = self.party_role.tolist()
        self.party_business = np.fromiter((_tier(r) for r in roles), dtype=np.uint8,
                                          count=n_par)
        self.party_region_id, self.region_names = _region_ids(self.party_region)
        self.regions = _region_grid(self.party_region_id, self.party_lat, self.party_lon,
                                    float(region_radius_km))
        self.region_radius_km = float(region_radius_km)
        self._garrays = _graph_arrays(graph)
        self._kernels = {}
        self._lock = threading.Lock()
        self._party_index = None
        self._ev_index = None
        return self

    @classmethod
    def from_simulation(cls, sim: SimulationLike, graph: TraceGraph | None = None) -> TraceData:
        """From an [`Simulation`][antifake.research.sim.Simulation] (or an attacked one, whose
        ``ev_detail`` it takes)."""
        try:
            cols = sim.arrays()
        except AttributeError:
            raise DetectError(f"not a Simulation: {type(sim).__name__}") from None
        return cls.from_arrays(**cols, ev_detail=getattr(sim, "ev_detail", None),
                               party_role=sim.party_role, party_region=sim.party_region,
                               party_lat=sim.party_lat, party_lon=sim.party_lon, graph=graph)

    @classmethod
    def from_registry(cls, reg: Any) -> TraceData:
        """From a [`Registry`][antifake.registry.Registry]: its columns, parties and the
        claim results and decommissioning reasons of its events (cached while the registry
        does not change)."""
        return _registry_data(reg)

    # -- helpers -----------------------------------------------------------------------------
    @property
    def n_events(self) -> int:
        return len(self.ev_ids)

    @property
    def n_nodes(self) -> int:
        return len(self.epcs)

    def party_index(self, party: Any) -> int:
        """Index of a party id (-1 unknown)."""
        if self._party_index is None:
            self._party_index = {p: i for i, p in enumerate(self.parties.tolist())}
        return self._party_index.get(party, -1) if isinstance(party, str) else -1

    def kernel(self, config: DetectConfig) -> Any:
        cfg = config._kernel_cfg()
        key = tuple(sorted(cfg.items()))
        with self._lock:
            k = self._kernels.get(key)
            if k is None:
                a = dict(self._garrays)
                a.update(inc_event=self.inc_event, inc_node=self.inc_node,
                         ev_time=self.ev_time, ev_kind=self.ev_kind, ev_by=self.ev_by,
                         ev_dst=self.ev_dst, agg_parent=self.agg_parent, ev_lat=self.ev_lat,
                         ev_lon=self.ev_lon, ev_detail=self.ev_detail, node_item=self.node_item,
                         party_lat=self.party_lat, party_lon=self.party_lon,
                         party_region_id=self.party_region_id,
                         party_business=self.party_business, grid=self.regions["grid"])
                r = self.regions
                cfg.update(grid_nlat=r["grid_nlat"], grid_nlon=r["grid_nlon"],
                           grid_lat0=r["grid_lat0"], grid_lon0=r["grid_lon0"],
                           grid_inv=r["grid_inv"], have_regions=r["have_regions"])
                k = _detect.Kernel(a, cfg)
                self._kernels.clear()
                self._kernels[key] = k
            return k

    def same_parties(self, other: TraceData) -> bool:
        """Whether ``other`` (a newer snapshot) has the parties of this one, with the same
        metadata, and only new parties that carry none (consumers): then earlier results
        stand."""
        n = len(self.parties)
        if len(other.parties) < n or not np.array_equal(other.parties[:n], self.parties):
            return False
        for a, b in ((self.party_role, other.party_role), (self.party_region, other.party_region)):
            if a.tolist() != b[:n].tolist():
                return False
        for a, b in ((self.party_lat, other.party_lat), (self.party_lon, other.party_lon)):
            if not np.array_equal(a, b[:n], equal_nan=True):
                return False
        extra = slice(n, None)
        return not (other.party_business[extra].any()
                    or (other.party_region_id[extra] >= 0).any()
                    or np.isfinite(other.party_lat[extra]).any())


#: What detection and the listing checks run over.
Source = TraceSource | SimulationLike | TraceData | TraceGraph


# -- registries -----------------------------------------------------------------------------
_COLS_CACHE: weakref.WeakKeyDictionary[TraceColumns, TraceData] = weakref.WeakKeyDictionary()
_COLS_LOCK = threading.Lock()


def _registry_data(source: TraceSource) -> TraceData:
    """The detection view of a registry's snapshot (one per snapshot: a registry shares its
    columns between calls until the store changes)."""
    cols = source.columns()
    with _COLS_LOCK:
        hit = _COLS_CACHE.get(cols)
    if hit is None:
        hit = TraceData.from_arrays(**cols.graph_arrays(), ev_detail=cols.ev_detail,
                                    **cols.party_meta(), graph=source.graph())
        with _COLS_LOCK:
            _COLS_CACHE[cols] = hit
    return hit


def _as_data(source: Source) -> TraceData:
    if isinstance(source, TraceData):
        return source
    if isinstance(source, TraceGraph):
        raise DetectError("a TraceGraph keeps no event kinds, parties or coordinates: pass "
                          "TraceData.from_arrays(..., graph=g) with the columns and party "
                          "metadata, a Registry or a Simulation")
    if isinstance(source, TraceSource):
        return _registry_data(source)
    if isinstance(source, SimulationLike):
        return TraceData.from_simulation(source)
    raise DetectError(f"cannot detect over {type(source).__name__}: give a Registry, a "
                      "Simulation or a TraceData")


# ----------------------------------------------------------------------------------------
# detection
# ----------------------------------------------------------------------------------------
def _dt(us: int) -> datetime:
    return from_micros(us)


def _reason(kind: int, aux: int, data: TraceData, extra: str = "") -> str:
    k = KINDS[kind]
    if k == "impossible_travel":
        return "one device jumping impossibly far (weak)" if aux & 1 else \
            "scanned at two places too far apart for the time between"
    if k == "over_scanned":
        parts = []
        if aux & 1:
            parts.append("distinct scanners far from its home")
        if aux & 2:
            parts.append("more distinct scanners than one item has")
        if aux & 4:
            parts.append("seen far from its home, back, and far again (two populations)")
        return " and ".join(parts)
    if k == "diversion":
        if extra:
            return extra
        parts = []
        if aux & 1:
            parts.append(f"scanned outside its delivered regions by {aux >> 8} scanner(s)")
        if aux & 2:
            parts.append("sold outside its delivered regions")
        return "; ".join(parts)
    if k == "unauthorized_seller":
        names = [n for bit, n in ((1, "sold"), (2, "listed"), (4, "claimed by a business"))
                 if aux & bit]
        s = (" / ".join(names) + " by a party that never held it") if names else ""
        if aux & 8:
            s = (s + "; " if s else "") + "listed by a former holder (weak)"
        if aux & 16:
            s = (s + "; " if s else "") + ("sold or listed by a shop the recorded chain does "
                                           "not reach (a gap in the records: weak alone)")
        return s
    if k == "inactive_stamp_activity":
        parts = []
        if aux & 63:
            name = _REASON_NAME.get(aux & 63, "unknown reason")
            parts.append(f"activity after decommissioning ({name})")
        elif not aux & 64:
            parts.append("activity after decommissioning (unknown reason)")
        if aux & 64:
            parts.append("activity after the stamp was claimed")
        return "; ".join(parts)
    if k == "out_of_order":
        names = [n for bit, n in ((1, "events before its commissioning"),
                                  (2, "never commissioned, packed into a known container"),
                                  (4, "back in the supply chain after a sale"),
                                  (8, "received before it was shipped"),
                                  (16, "packed or unpacked by a party outside its chain"))
                 if aux & bit]
        return "; ".join(names)
    if k == "claim_lockout":
        return f"{aux} wrong PINs" + ("" if aux >= 5 else " (no lock yet)")
    if k == "duplicate_listing":
        return f"listed by {aux} sellers"
    return ""


@dataclass
class _State:
    """What a detector keeps between runs (all aligned to one snapshot's ids)."""

    data: TraceData
    key: np.ndarray  # per node: delivery group (rank of an event in this snapshot), -1 none
    observed: np.ndarray  # per node: has a located scan or claim
    recs: np.ndarray  # per-node records (REC_DTYPE); ev_off/ev_n index `ev`
    ev: np.ndarray  # evidence: input event indices
    objs: np.ndarray | None = None  # the Alert of each record, once built (object array)


def _segments(off: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Positions ``off[i] .. off[i] + n[i] - 1`` of every segment, concatenated."""
    n = np.asarray(n, dtype=np.int64)
    if not len(n):
        return np.zeros(0, np.int64)
    out_start = np.cumsum(n) - n
    return np.arange(int(n.sum()), dtype=np.int64) + np.repeat(
        np.asarray(off, dtype=np.int64) - out_start, n)


def _sorted_evidence(recs: np.ndarray, ranks: np.ndarray, order: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Evidence of each record in rank order without repeats, as input indices; records'
    ``ev_off``/``ev_n`` rewritten to match."""
    recs = recs.copy()
    if not len(recs):
        return recs, np.zeros(0, np.int64)
    owner = np.repeat(np.arange(len(recs)), recs["ev_n"])
    pos = _segments(recs["ev_off"], recs["ev_n"])
    r = ranks[pos] if len(pos) else np.zeros(0, np.int32)
    o = np.lexsort((r, owner))
    owner, r = owner[o], r[o]
    keep = np.ones(len(r), dtype=bool)
    if len(r) > 1:
        keep[1:] = (owner[1:] != owner[:-1]) | (r[1:] != r[:-1])
    owner, r = owner[keep], r[keep]
    counts = np.bincount(owner, minlength=len(recs))
    recs["ev_n"] = counts
    recs["ev_off"] = np.cumsum(counts) - counts
    return recs, order[r].astype(np.int64)


class Detector:
    """Detection with memory: [`run`][antifake.detect.Detector.run] examines a whole snapshot;
    [`update`][antifake.detect.Detector.update] a newer
    snapshot of the same registry (its first events the same), re-examining only the codes
    its new events touch (and what they contain), with the result a full run would give.

    ``detector.alerts`` is the current list (ranked); ``update`` returns the alerts that are
    new or changed since the previous run."""

    def __init__(self, config: DetectConfig | None = None) -> None:
        if config is None:
            config = DetectConfig()
        if not isinstance(config, DetectConfig):
            raise DetectError(f"config must be a DetectConfig, not {type(config).__name__}")
        self.config = config
        self._state: _State | None = None
        self.alerts: list[Alert] = []
        self.stats: dict[str, Any] = {}

    # -- runs ------------------------------------------------------------------------------
    def run(self, source: Source) -> list[Alert]:
        """Examine everything in ``source`` (Registry, Simulation or TraceData)."""
        import time

        t0 = time.perf_counter()
        data = _as_data(source)
        k = data.kernel(self.config)
        t1 = time.perf_counter()
        cand, observed, key = k.screen(self.config.threads)
        t2 = time.perf_counter()
        nodes = np.flatnonzero(cand).astype(np.int32)
        recs, ranks, _, _ = k.analyse(nodes)
        t3 = time.perf_counter()
        recs, ev = _sorted_evidence(recs, ranks, data._garrays["order"])
        self._state = _State(data, key, observed, recs, ev)
        old = self.alerts
        self.alerts = self._alerts()
        t4 = time.perf_counter()
        self.stats = {"mode": "full", "nodes": data.n_nodes, "events": data.n_events,
                      "candidates": int(len(nodes)), "records": int(len(recs)),
                      "alerts": len(self.alerts), "seconds": t4 - t0,
                      "steps": {"prepare": t1 - t0, "screen": t2 - t1, "analyse": t3 - t2,
                                "alerts": t4 - t3}}
        del old
        return self.alerts

    def update(self, source: Source) -> list[Alert]:
        """Examine what is new in ``source`` (a newer snapshot: Registry, Simulation,
        TraceData; or a sequence of [`Event`][antifake.epcis.events.Event] to append to the
        last snapshot). Returns the alerts that are new or changed; `alerts` holds all
        of them. The first call (or a snapshot whose earlier events or parties differ) runs
        in full."""
        import time

        t0 = time.perf_counter()
        st = self._state
        if st is not None and _is_event_list(source):
            data = _append_events(st.data, source)
        elif _is_event_list(source):
            raise DetectError("update(events) needs an earlier run to append to")
        else:
            data = _as_data(source)
        before = self.alerts
        if st is None or not _extends(st.data, data):
            return _changed(before, self.run(data))
        prev = st.data
        n_prev_ev, n_prev_nodes = prev.n_events, prev.n_nodes
        k = data.kernel(self.config)
        nodes = _affected(data, n_prev_ev, n_prev_nodes)
        recs, ranks, _, obs_new = k.analyse(nodes)
        recs, ev = _sorted_evidence(recs, ranks, data._garrays["order"])
        # patch the per-node arrays and records (delivery groups are ranks of this
        # snapshot: read again from its custody segments, no event is touched)
        key = k.keys()
        observed = np.zeros(data.n_nodes, dtype=bool)
        observed[:n_prev_nodes] = st.observed
        observed[nodes] = obs_new
        hit = np.zeros(data.n_nodes, dtype=bool)
        hit[nodes] = True
        keep = ~hit[st.recs["node"]]
        old_objs = st.objs[keep] if st.objs is not None else np.full(int(keep.sum()), None)
        old_recs = st.recs[keep]
        old_pos = _segments(old_recs["ev_off"], old_recs["ev_n"])
        old_ev = st.ev[old_pos] if len(old_pos) else np.zeros(0, np.int64)
        old_recs = old_recs.copy()
        old_recs["ev_off"] = np.cumsum(old_recs["ev_n"]) - old_recs["ev_n"]
        recs = recs.copy()
        recs["ev_off"] += len(old_ev)
        all_recs = np.concatenate([old_recs, recs])
        o = np.lexsort((all_recs["kind"], all_recs["node"]))
        all_ev = np.concatenate([old_ev, ev])
        all_recs = all_recs[o]
        objs = np.concatenate([old_objs, np.full(len(recs), None, dtype=object)])[o]
        self._state = _State(data, key, observed, all_recs, all_ev, objs)
        self.alerts = self._alerts()
        self.stats = {"mode": "incremental", "nodes": data.n_nodes, "events": data.n_events,
                      "new_events": data.n_events - n_prev_ev, "examined": int(len(nodes)),
                      "records": int(len(all_recs)), "alerts": len(self.alerts),
                      "seconds": time.perf_counter() - t0}
        return _changed(before, self.alerts)

    # -- alerts ----------------------------------------------------------------------------
    def _alerts(self) -> list[Alert]:
        # tens of thousands of small tuples: the cyclic collector would walk the snapshot's
        # multi-million-element object arrays (EPCs, event ids) again and again meanwhile
        with _gc_paused():
            return self._build_alerts()

    def _build_alerts(self) -> list[Alert]:
        st = self._state
        assert st is not None
        cfg = self.config
        data = st.data
        recs, ev = st.recs, st.ev
        epcs, ev_ids = data.epcs, data.ev_ids
        if st.objs is None:
            st.objs = np.full(len(recs), None, dtype=object)
        # the Alert of each record not built yet (an update builds only its nodes' ones)
        todo = np.flatnonzero(st.objs == None)  # noqa: E711 (element-wise)
        if len(todo):
            r = recs[todo]
            kinds = r["kind"].tolist()
            auxs = r["aux"].tolist()
            why: dict[tuple[int, int], str] = {}
            for kd, ax in set(zip(kinds, auxs, strict=True)):
                why[(kd, ax)] = _reason(kd, ax, data)
            lo = r["ev_off"]
            pos = _segments(lo, r["ev_n"])
            names = tuple(ev_ids[ev[pos]].tolist()) if len(pos) else ()
            ends = np.cumsum(r["ev_n"].astype(np.int64))
            starts = ends - r["ev_n"]
            built = np.empty(len(todo), dtype=object)
            built[:] = _detect.make_alerts(
                Alert, [KINDS[kd] for kd in kinds], epcs[r["node"]].tolist(),
                np.round(r["score"].astype(np.float64), 4).tolist(), names,
                np.ascontiguousarray(starts, dtype=np.int64),
                np.ascontiguousarray(ends, dtype=np.int64), r["first"].tolist(),
                r["last"].tolist(), [why[ka] for ka in zip(kinds, auxs, strict=True)])
            st.objs[todo] = built
        groups = _diversion_groups(st, cfg) if "diversion" in cfg.kinds else []
        grouped = np.zeros(data.n_nodes, dtype=bool)
        for g in groups:
            grouped[g["nodes"]] = True
        drop = (recs["kind"] == _A_DIVERSION) & grouped[recs["node"]]
        sel = np.flatnonzero(~drop & (recs["score"] >= np.float32(cfg.min_score)))
        groups = [g for g in groups if g["score"] >= cfg.min_score]
        r = recs[sel]
        # rank: score (4 decimals) down, first seen, kind, node (of the first code)
        key = np.empty((len(sel) + len(groups), 4), dtype=np.float64)
        key[: len(sel), 0] = -np.round(r["score"].astype(np.float64), 4)
        key[: len(sel), 1] = r["first"]
        key[: len(sel), 2] = r["kind"]
        key[: len(sel), 3] = r["node"]
        for i, g in enumerate(groups):
            key[len(sel) + i] = (-g["score"], g["first"], _A_DIVERSION, int(g["nodes"][0]))
        order = np.lexsort((key[:, 3], key[:, 2], key[:, 1], key[:, 0]))
        objs = np.empty(len(key), dtype=object)
        objs[: len(sel)] = st.objs[sel]
        new, cls = _new_alert, Alert
        for i, g in enumerate(groups):
            objs[len(sel) + i] = new(cls, (
                "diversion", tuple(epcs[g["nodes"]].tolist()), g["score"],
                tuple(ev_ids[g["evidence"]].tolist()), g["first"], g["last"], g["reason"]))
        return objs[order].tolist()


def _changed(before: list[Alert], after: list[Alert]) -> list[Alert]:
    """Alerts of ``after`` not in ``before`` (kept alerts are the same objects: compared by
    identity first, by value only among the few rebuilt ones)."""
    old_ids = set(map(id, before))
    fresh = [a for a in after if id(a) not in old_ids]
    if not fresh:
        return []
    new_ids = set(map(id, after))
    gone = {a for a in before if id(a) not in new_ids}
    return [a for a in fresh if a not in gone]


@contextlib.contextmanager
def _gc_paused() -> Any:
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _diversion_groups(st: _State, cfg: DetectConfig) -> list[dict[str, Any]]:
    """Delivery groups (items one holder received in one event) seen outside their regions:
    at least ``diversion_min_items`` items and ``diversion_min_fraction`` of those observed."""
    data = st.data
    recs = st.recs
    div = recs[recs["kind"] == _A_DIVERSION]
    if not len(div):
        return []
    key = st.key
    out_nodes = div["node"]
    gk = key[out_nodes]
    valid = gk >= 0
    cand_keys = np.unique(gk[valid])
    if not len(cand_keys):
        return []
    # groups with enough items outside, before looking at their members
    ok_keys, counts = np.unique(gk[valid], return_counts=True)
    cand_keys = ok_keys[counts >= cfg.diversion_min_items]
    if not len(cand_keys):
        return []
    table = np.zeros(data.n_events + 1, dtype=bool)  # by rank; the last slot: no group
    table[cand_keys] = True
    member = table[np.where(key >= 0, key, data.n_events)]
    member &= data.node_item.astype(bool) | st.observed
    members = np.flatnonzero(member)
    mk = key[members]
    o = np.lexsort((members, mk))
    members, mk = members[o], mk[o]
    uniq, start, size = np.unique(mk, return_index=True, return_counts=True)
    is_out = np.zeros(data.n_nodes, dtype=bool)
    is_out[out_nodes] = True
    n_out = np.add.reduceat(is_out[members].astype(np.int64), start)
    n_obs = np.add.reduceat(st.observed[members].astype(np.int64), start)
    good = (n_out >= cfg.diversion_min_items) & \
        (n_out >= cfg.diversion_min_fraction * np.maximum(n_obs, n_out))
    if not good.any():
        return []
    div_pos = np.full(data.n_nodes, -1, dtype=np.int64)
    div_pos[out_nodes] = np.arange(len(out_nodes))
    groups = []
    for gi in np.flatnonzero(good).tolist():
        g_nodes = members[start[gi]: start[gi] + size[gi]]
        outs = div_pos[g_nodes[is_out[g_nodes]]]
        firsts = np.sort(div["first"][outs])
        first = int(firsts[cfg.diversion_min_items - 1])
        last = int(div["last"][outs].max())
        ev_all = np.unique(st.ev[_segments(div["ev_off"][outs], div["ev_n"][outs])])
        ev_all = ev_all[np.lexsort((ev_all, data.ev_time[ev_all]))]  # (time, input) order
        kept = ev_all[: cfg.max_evidence - 1]
        delivery = int(data._garrays["order"][int(uniq[gi])])
        evidence = np.concatenate([[delivery], kept]).astype(np.int64)
        n_o, n_b = int(n_out[gi]), int(n_obs[gi])
        score = round(min(0.95, 0.6 + 0.05 * (n_o - cfg.diversion_min_items)), 4)
        by = int(data.ev_by[delivery])
        holder = data.parties[by] if by >= 0 else "its holder"
        reason = (f"{n_o} of {len(g_nodes)} items delivered together to {holder} seen "
                  f"outside its regions ({n_b} observed)")
        if by >= 0 and data.party_business[by] == 2 and n_o < 0.6 * max(n_b, n_o):
            # a wholesaler's delivery, partly seen outside: its goods went on to several
            # shops by steps not recorded, so only the items seen outside are named
            g_nodes = g_nodes[is_out[g_nodes]]
            reason += "; a wholesaler's delivery: the items seen outside"
        groups.append({
            "nodes": g_nodes, "score": score, "first": first, "last": last,
            "evidence": evidence, "reason": reason,
        })
    return groups


def _extends(old: TraceData, new: TraceData) -> bool:
    """Whether ``new`` is ``old`` plus appended events, nodes and metadata-free parties."""
    if new is old:
        return True
    n_ev, n_nodes = old.n_events, old.n_nodes
    if new.n_events < n_ev or new.n_nodes < n_nodes:
        return False
    if n_ev and (new.ev_ids[0] != old.ev_ids[0] or new.ev_ids[n_ev - 1] != old.ev_ids[n_ev - 1]):
        return False
    if n_nodes and (new.epcs[0] != old.epcs[0] or new.epcs[n_nodes - 1] != old.epcs[n_nodes - 1]):
        return False
    if abs(new.region_radius_km - old.region_radius_km) > 0:
        return False
    return old.same_parties(new)


def _affected(data: TraceData, n_prev_ev: int, n_prev_nodes: int) -> np.ndarray:
    """Nodes whose results may change: those new events name (rows or aggregation parent),
    new nodes, and everything ever packed inside them (their custody and containers)."""
    n = data.n_nodes
    hit = np.zeros(n, dtype=bool)
    hit[n_prev_nodes:] = True
    new_rows = data.inc_event >= n_prev_ev
    hit[data.inc_node[new_rows]] = True
    par = data.agg_parent[n_prev_ev:]
    hit[par[par >= 0]] = True
    g = data._garrays
    lk_ptr, lk_parent = g["lk_ptr"], g["lk_parent"]
    if len(lk_parent):
        child = np.repeat(np.arange(n, dtype=np.int64), np.diff(lk_ptr))
        frontier = hit.copy()
        for _ in range(64):
            add = child[frontier[lk_parent]]
            add = add[~hit[add]]
            if not len(add):
                break
            hit[add] = True
            frontier[:] = False
            frontier[add] = True
    return np.flatnonzero(hit).astype(np.int32)


def _is_event_list(x: Any) -> bool:
    from antifake.epcis.events import Event

    if isinstance(x, Event):
        return True
    return isinstance(x, list | tuple) and all(isinstance(e, Event) for e in x) and len(x) > 0


def _append_events(data: TraceData, events: Any) -> TraceData:
    """A new TraceData: ``data`` plus ``events`` (Event objects; ones already present are
    skipped), new EPCs and parties appended."""
    from antifake.epcis.events import Event

    evs = [events] if isinstance(events, Event) else list(events)
    known = data._ev_index
    if known is None:
        known = {eid: i for i, eid in enumerate(data.ev_ids.tolist())}
    epcs = data.epcs.tolist()
    parties = data.parties.tolist()
    node_of: dict[str, int] = {}
    party_of: dict[str, int] = {}

    def node(epc: str) -> int:
        j = node_of.get(epc)
        if j is None:
            try:
                j = data.graph.node_id(epc)
            except UnknownStampError:
                j = len(epcs)
                epcs.append(epc)
            node_of[epc] = j
        return j

    def party(p: str | None) -> int:
        if p is None:
            return -1
        j = party_of.get(p)
        if j is None:
            j = data.party_index(p)
            if j < 0:
                j = len(parties)
                parties.append(p)
            party_of[p] = j
        return j

    rows: dict[str, list[Any]] = {k: [] for k in ("id", "t", "kind", "by", "src", "dst", "lat",
                                                  "lon", "parent", "detail")}
    inc_e: list[int] = []
    inc_n: list[int] = []
    base = data.n_events
    for e in evs:
        eid = e.event_id
        if eid in known:
            continue
        i = base + len(rows["id"])
        known[eid] = i
        k = event_kind(e)
        rows["id"].append(eid)
        rows["t"].append(to_microseconds(e.time))
        rows["kind"].append(int(k))
        rows["by"].append(party(e.by))
        rows["src"].append(party(e.source))
        rows["dst"].append(party(e.destination))
        rows["lat"].append(np.nan if e.lat is None else e.lat)
        rows["lon"].append(np.nan if e.lon is None else e.lon)
        rows["parent"].append(node(e.parent) if e.parent is not None else -1)
        rows["detail"].append(event_detail(e))
        for epc in dict.fromkeys(e.epcs):
            inc_e.append(i)
            inc_n.append(node(epc))
    n_new_nodes = len(epcs) - data.n_nodes
    n_new_parties = len(parties) - len(data.parties)
    node_key = np.concatenate([data.node_key, np.full(n_new_nodes, -1, np.int32)])
    node_batch = np.concatenate([data.node_batch, np.full(n_new_nodes, -1, np.int64)])

    def cat(a: np.ndarray, b: list[Any], dtype: Any) -> np.ndarray:
        return np.concatenate([a, np.asarray(b, dtype=dtype)])

    def obj(a: list[Any]) -> np.ndarray:
        out = np.empty(len(a), dtype=object)
        out[:] = a
        return out

    new = TraceData.from_arrays(
        epcs=obj(epcs), parties=obj(parties),
        ev_ids=np.concatenate([data.ev_ids, obj(rows["id"])]),
        ev_time=cat(data.ev_time, rows["t"], np.int64),
        ev_kind=cat(data.ev_kind, rows["kind"], np.uint8),
        ev_by=cat(data.ev_by, rows["by"], np.int32),
        ev_src=cat(_src_of(data), rows["src"], np.int32),
        ev_dst=cat(data.ev_dst, rows["dst"], np.int32),
        ev_lat=cat(data.ev_lat, rows["lat"], np.float64),
        ev_lon=cat(data.ev_lon, rows["lon"], np.float64),
        inc_event=cat(data.inc_event, inc_e, np.int64),
        inc_node=cat(data.inc_node, inc_n, np.int64),
        agg_parent=cat(data.agg_parent, rows["parent"], np.int64),
        node_key=node_key, node_batch=node_batch,
        ev_detail=cat(data.ev_detail, rows["detail"], np.uint8),
        party_role=np.concatenate([data.party_role, np.full(n_new_parties, None, object)]),
        party_region=np.concatenate([data.party_region, np.full(n_new_parties, None, object)]),
        party_lat=np.concatenate([data.party_lat, np.full(n_new_parties, np.nan)]),
        party_lon=np.concatenate([data.party_lon, np.full(n_new_parties, np.nan)]),
        region_radius_km=data.region_radius_km)
    new._ev_index = known
    return new


def _src_of(data: TraceData) -> np.ndarray:
    return data.ev_src


def detect(source: Source, *, since: Any = None, config: DetectConfig | None = None
           ) -> list[Alert]:
    """Every alert in ``source`` (a Registry, a Simulation or a TraceData), ranked by score.

    ``since`` (a time: aware ``datetime``, ISO 8601 string or microseconds) keeps the
    alerts with evidence at or after it (``last_seen >= since``)."""
    det = Detector(config)
    alerts = det.run(source)
    if since is not None:
        try:
            t = to_microseconds(since)
        except (TypeError, ValueError) as exc:
            raise DetectError(f"since: {exc}") from None
        alerts = [a for a in alerts if a.last_us >= t]
    return alerts


# ----------------------------------------------------------------------------------------
# marketplace listings
# ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ListingCheck:
    """May ``seller`` list this code? ``ok`` when the code is genuine and registered, active,
    unclaimed, held by the seller now, and listed by no other seller; else ``reasons``."""

    ok: bool
    reasons: list[str]
    epc: str | None
    custodian: str | None
    flags: int = 0

    def __bool__(self) -> bool:
        return self.ok


class ListingChecks(NamedTuple):
    """Bulk results, aligned with the input: ``ok`` (bool), ``flags`` (uint16 bits of
    [`LISTING_FLAGS`][antifake.detect.LISTING_FLAGS]), ``reason`` (decommissioning detail
    code, 0 none)."""

    ok: np.ndarray
    flags: np.ndarray
    reason: np.ndarray


def listing_reasons(flags: int, reason: int = 0) -> list[str]:
    """Names of the bits set in a ``ListingChecks.flags`` value."""
    out = [name for name, bit in LISTING_FLAGS.items() if flags & bit]
    if flags & LISTING_FLAGS["decommissioned"] and reason:
        out[out.index("decommissioned")] = f"decommissioned ({_REASON_NAME.get(reason, 'other')})"
    return out


def _resolve(source: Source, data: TraceData, code: Any) -> tuple[int, str | None, str | None]:
    """(node, epc, why unknown) of a code."""
    if isinstance(source, TraceSource):
        try:
            epc = source.resolve(code)
        except UnknownStampError as exc:
            return -1, None, str(exc)
        except AntifakeError as exc:
            return -1, None, str(exc)
    else:
        found = code if isinstance(code, str) else getattr(code, "epc", None)
        if not isinstance(found, str):
            return -1, None, f"not a code: {type(code).__name__}"
        epc = found
    try:
        return data.graph.node_id(epc), epc, None
    except UnknownStampError as exc:
        return -1, epc, str(exc)


def check_listings(source: Source, codes: Sequence[Any], sellers: Sequence[str] | str
                   ) -> ListingChecks:
    """Check many listings at once (``sellers``: one per code, or one for all). Codes a
    Registry cannot resolve (forged, unknown) get ``unknown_code``."""
    data = _as_data(source)
    codes = list(codes)
    if isinstance(sellers, str):
        sellers = [sellers] * len(codes)
    sellers = list(sellers)
    if len(sellers) != len(codes):
        raise DetectError(f"{len(codes)} codes but {len(sellers)} sellers")
    nodes = np.fromiter((_resolve(source, data, c)[0] for c in codes), dtype=np.int32,
                        count=len(codes))
    sel = np.fromiter((data.party_index(s) for s in sellers), dtype=np.int32,
                      count=len(sellers))
    k = data.kernel(DetectConfig())
    flags, reason = _detect.listing_flags(k, nodes, sel, data._garrays["cust_now"])
    flags[_suspected(source, data, nodes)] |= LISTING_FLAGS["suspected_clone"]
    return ListingChecks(flags == 0, flags, reason)


def _suspected_one(source: Source, epc: str | None) -> bool:
    """Whether a registry source has flagged ``epc`` as copied (one indexed lookup)."""
    return epc is not None and isinstance(source, TraceSource) and source.is_suspected(epc)


def _suspected(source: Source, data: TraceData, nodes: np.ndarray) -> np.ndarray:
    """Which graph nodes a registry source has flagged as copied (Registry.flag_suspected)."""
    if not isinstance(source, TraceSource):
        return np.zeros(len(nodes), dtype=bool)
    ids = []
    for epc in source.suspected():
        with contextlib.suppress(UnknownStampError):
            ids.append(data.graph.node_id(epc))
    return np.isin(nodes, np.array(ids, dtype=np.int64)) & (nodes >= 0)


def check_listing(source: Source, code: Any, seller: str) -> ListingCheck:
    """Whether ``seller`` may list ``code`` (see
    [`ListingCheck`][antifake.detect.ListingCheck]); records nothing."""
    if not isinstance(seller, str) or not seller:
        raise DetectError("seller must be a party id")
    data = _as_data(source)
    node, epc, why = _resolve(source, data, code)
    if node < 0:
        return ListingCheck(False, [f"unknown or forged code: {why}"], epc, None,
                            LISTING_FLAGS["unknown_code"])
    p = data.party_index(seller)
    k = data.kernel(DetectConfig())
    flags, reason = _detect.listing_flags(k, np.array([node], np.int32),
                                          np.array([p], np.int32), data._garrays["cust_now"])
    f, rsn = int(flags[0]), int(reason[0])
    if _suspected_one(source, epc):
        f |= LISTING_FLAGS["suspected_clone"]
    holder = data.graph.custodian(epc)
    reasons = []
    if f & LISTING_FLAGS["decommissioned"]:
        reasons.append(f"the stamp is decommissioned ({_REASON_NAME.get(rsn, 'reason unknown')})")
    if f & LISTING_FLAGS["claimed"]:
        reasons.append("the stamp was claimed by a buyer")
    if f & (LISTING_FLAGS["not_custodian"] | LISTING_FLAGS["not_in_chain"]):
        who = holder or ("nobody: it was sold to a consumer" if f & LISTING_FLAGS["sold"]
                         else "nobody (unknown)")
        never = " and never held it" if f & LISTING_FLAGS["not_in_chain"] else ""
        reasons.append(f"{seller} does not hold this stamp{never}: its custodian is {who}")
    if f & LISTING_FLAGS["listed_by_others"]:
        reasons.append("the code is listed by other sellers too")
    if f & LISTING_FLAGS["suspected_clone"]:
        reasons.append("copies of this code are in circulation (flagged by detection)")
    return ListingCheck(f == 0, reasons, epc, holder, f)


def _config_fields() -> list[str]:  # for docs and the CLI
    return [f.name for f in fields(DetectConfig)]
