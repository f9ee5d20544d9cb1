"""What detection reads: [`TraceData`][antifake.detect.TraceData] (event columns, the
graph snapshot, party metadata and regions), the sources it is built from, and events
appended to it.
"""

from __future__ import annotations

import math
import threading
import weakref
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

import numpy as np

import antifake.detect._detect as _detect
from antifake.detect._config import DetectConfig, DetectError
from antifake.epcis.columns import EventColumns
from antifake.epcis.events import event_detail, event_kind
from antifake.epcis.kinds import (
    EventKind,
)
from antifake.errors import UnknownStampError
from antifake.graph import TraceGraph
from antifake.storage.abc import TraceColumns
from antifake.timeutil import to_microseconds

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

    @property
    def party_role(self) -> Any: ...
    @property
    def party_region(self) -> Any: ...
    @property
    def party_lat(self) -> Any: ...
    @property
    def party_lon(self) -> Any: ...
    def arrays(self) -> dict[str, Any]: ...


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


#: The event kinds the kernels know (a complaint among them: no stamp activity). Any other
#: kind the vocabulary gains later reaches them as ``OTHER`` until they learn it.
RULE_KINDS = (EventKind.COMMISSION, EventKind.AGGREGATE, EventKind.DISAGGREGATE, EventKind.SHIP,
              EventKind.RECEIVE, EventKind.SELL, EventKind.SCAN, EventKind.LIST,
              EventKind.DECOMMISSION, EventKind.REACTIVATE, EventKind.CLAIM, EventKind.OTHER,
              EventKind.COMPLAINT)
_KIND_LUT = np.full(256, int(EventKind.OTHER), dtype=np.uint8)
_KIND_LUT[[int(k) for k in RULE_KINDS]] = [int(k) for k in RULE_KINDS]


def _rule_kinds(kind: np.ndarray) -> np.ndarray:
    """``kind`` with every kind the rules do not read mapped to ``OTHER``."""
    if not len(kind) or int(kind.max()) <= max(int(k) for k in RULE_KINDS):
        return kind
    return _KIND_LUT[kind]


#: Clock offsets larger than this (a week) are not corrected: a party's record times
#: are then not to be trusted.
MAX_CLOCK_OFFSET_US = 7 * 86_400 * 1_000_000
#: A clock behind is believed from this many recorded events of its party.
MIN_CLOCK_EVENTS = 3


def clock_offsets(ev_time: Any, ev_record: Any, ev_by: Any, n_parties: int) -> np.ndarray:
    """Each party's clock offset (microseconds to add to its event times), from when the
    registry recorded its events: ``recordTime - eventTime`` is the upload delay less the
    clock's error, so its smallest value over a party's events is minus the error (plus the
    shortest delay, seconds for a phone online). A clock ahead (a record before its event)
    is certain; a clock behind is taken when at least ``MIN_CLOCK_EVENTS`` events, and at
    least half of the party's recorded events, agree on it within ten minutes (else late
    uploads explain it as well: a batch uploaded at once agrees only on its last few events).
    0 for parties without record times, and for offsets beyond a week."""
    t = np.asarray(ev_time, dtype=np.int64)
    rec = np.asarray(ev_record, dtype=np.int64)
    by = np.asarray(ev_by, dtype=np.int64)
    ok = (rec > 0) & (by >= 0)
    off = np.full(n_parties, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(off, by[ok], rec[ok] - t[ok])
    off[(off == np.iinfo(np.int64).max) | (np.abs(off) > MAX_CLOCK_OFFSET_US)] = 0
    # a record before the event proves the clock ahead; a record after it may be a late
    # upload as well as a clock behind: believed only when several events agree (within
    # ten minutes: late uploads scatter by hours)
    agree = ok.copy()
    agree[ok] = (rec[ok] - t[ok]) - off[by[ok]] <= 600_000_000
    n = np.bincount(by[agree], minlength=n_parties)[:n_parties]
    n_rec = np.bincount(by[ok], minlength=n_parties)[:n_parties]
    off[(off > 0) & ((n < MIN_CLOCK_EVENTS) | (2 * n < n_rec))] = 0
    return off


def corrected_times(ev_time: Any, ev_by: Any, offsets: np.ndarray) -> np.ndarray:
    """Event times with each party's clock offset added (events of no party unchanged)."""
    t = np.asarray(ev_time, dtype=np.int64)
    by = np.asarray(ev_by, dtype=np.int64)
    return t + np.where(by >= 0, offsets[np.maximum(by, 0)], 0)


class TraceData(EventColumns):
    """Everything detection reads: the trace as columns
    ([`EventColumns`][antifake.epcis.columns.EventColumns], in input order, with event times
    corrected for each party's clock where record times tell it, ``ev_detail`` always given:
    claim results, decommissioning reasons, see
    [`CLAIM_DETAILS`][antifake.detect.CLAIM_DETAILS],
    [`REASON_DETAILS`][antifake.detect.REASON_DETAILS]), the
    [`TraceGraph`][antifake.graph.TraceGraph] built from them, and what is derived from party
    metadata (business tiers, regions). Build it with
    [`from_arrays`][antifake.detect.TraceData.from_arrays],
    [`from_simulation`][antifake.detect.TraceData.from_simulation] or
    [`from_registry`][antifake.detect.TraceData.from_registry]; it is read-only afterwards."""

    graph: TraceGraph
    node_item: np.ndarray
    party_business: np.ndarray
    party_region_id: np.ndarray
    clock_offsets_us: np.ndarray
    region_names: list[str]
    regions: dict[str, Any]
    region_radius_km: float
    _garrays: dict[str, np.ndarray]
    _kernels: dict[tuple[Any, ...], Any]
    _lock: threading.Lock
    _party_index: dict[str, int] | None
    _ev_index: dict[str, int] | None
    _derived: dict[str, Any]

    def __init__(self) -> None:
        raise TypeError("use TraceData.from_arrays / from_simulation / from_registry")

    @classmethod
    def from_arrays(cls, *, epcs: Any, parties: Any, ev_ids: Any, ev_time: Any, ev_kind: Any,
                    ev_by: Any, ev_src: Any, ev_dst: Any, ev_lat: Any, ev_lon: Any,
                    inc_event: Any, inc_node: Any, agg_parent: Any, node_key: Any,
                    node_batch: Any, ev_detail: Any = None, party_role: Any = None,
                    party_region: Any = None, party_lat: Any = None, party_lon: Any = None,
                    graph: TraceGraph | None = None,
                    region_radius_km: float = DetectConfig.region_radius_km,
                    ev_record: Any = None, phone_regions: Any = None) -> TraceData:
        """Columns as [`TraceGraph.from_arrays`][antifake.graph.TraceGraph.from_arrays] takes
        them, plus optional ``ev_detail`` (uint8 per event, 0: unknown) and party metadata
        (``None``: unknown). ``graph``: a snapshot already built from exactly these columns (else
        it is built here).

        ``ev_record``: when the registry recorded each event (EPCIS ``recordTime``,
        microseconds; 0 or less: unknown). With it, each party's clock offset is estimated
        (see [`clock_offsets`][antifake.detect.clock_offsets]) and its event times corrected
        before the graph is built, so a phone whose clock is hours off no longer hides a copy
        nor makes a traveller look impossibly fast; ``clock_offsets_us`` keeps the offsets.
        When a clock is corrected, the graph is built from the corrected times (a ``graph``
        given is used only when no clock needs correcting).

        ``phone_regions``: each party's home region id (into ``region_names``; -1 none), when
        known from more events than these (a partition of a larger log); else
        [`phone_regions`][antifake.detect.TraceData.phone_regions] computes them."""
        offsets = rec = None
        if ev_record is not None:
            n_par = len(np.asarray(parties, dtype=object))
            t0 = _col("ev_time", ev_time, len(np.asarray(ev_ids, dtype=object)), "iu")
            rec = _col("ev_record", ev_record, len(t0), "iu")
            by0 = _col("ev_by", ev_by, len(t0), "iu")
            offsets = clock_offsets(t0, rec, by0, n_par)
            if offsets.any():
                ev_time = corrected_times(t0, by0, offsets)
                graph = None
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
        if len(np.asarray(epcs, dtype=object)) != n_nodes or \
                len(np.asarray(parties, dtype=object)) != n_par or \
                len(np.asarray(ev_ids, dtype=object)) != n_ev:
            raise DetectError("the graph was not built from these columns")
        epcs, parties, ev_ids = graph.epcs, graph.parties, graph.event_ids
        ev_time = _col("ev_time", ev_time, n_ev, "iu").astype(np.int64, copy=False)
        ev_kind = _col("ev_kind", ev_kind, n_ev, "iu").astype(np.uint8, copy=False)
        ev_by = _col("ev_by", ev_by, n_ev, "iu").astype(np.int32, copy=False)
        ev_dst = _col("ev_dst", ev_dst, n_ev, "iu").astype(np.int32, copy=False)
        ev_src = _col("ev_src", ev_src, n_ev, "iu").astype(np.int32, copy=False)
        agg_parent = _col("agg_parent", agg_parent, n_ev, "iu").astype(np.int64, copy=False)
        ev_lat = _col("ev_lat", ev_lat, n_ev, "fiu").astype(np.float64, copy=False)
        ev_lon = _col("ev_lon", ev_lon, n_ev, "fiu").astype(np.float64, copy=False)
        inc_e = np.asarray(inc_event)
        inc_n = np.asarray(inc_node)
        if inc_e.ndim != 1 or inc_n.shape != inc_e.shape or \
                (len(inc_e) and (inc_e.dtype.kind not in "iu" or inc_n.dtype.kind not in "iu")):
            raise DetectError("inc_event and inc_node must be integer arrays of one length")
        inc_event = inc_e.astype(np.int64, copy=False)
        inc_node = inc_n.astype(np.int64, copy=False)
        if ev_detail is None:
            ev_detail = np.zeros(n_ev, dtype=np.uint8)
        else:
            ev_detail = _col("ev_detail", ev_detail, n_ev, "iu").astype(np.uint8, copy=False)
        nb = _col("node_batch", node_batch, n_nodes, "iu")
        node_batch = nb.astype(np.int64, copy=False)
        node_key = _col("node_key", node_key, n_nodes, "iu").astype(np.int32, copy=False)
        self.node_item = (nb >= 0).astype(np.uint8)
        # checks the graph does for its own build; a graph given from outside skips them
        for name, a, lo, hi in (("ev_by", ev_by, -1, n_par),
                                ("ev_dst", ev_dst, -1, n_par),
                                ("agg_parent", agg_parent, -1, n_nodes),
                                ("inc_event", inc_event, 0, n_ev),
                                ("inc_node", inc_node, 0, n_nodes)):
            if len(a) and (int(a.min()) < lo or int(a.max()) >= hi):
                raise DetectError(f"{name} holds ids outside [{lo}, {hi})")
        if n_ev and int(ev_kind.max()) > max(EventKind):
            raise DetectError("ev_kind holds an unknown event kind")

        def meta(name: str, a: Any, fill: Any, dtype: Any) -> np.ndarray:
            if a is None:
                return np.full(n_par, fill, dtype=dtype)
            arr = np.asarray(a, dtype=dtype)
            if arr.ndim != 1 or len(arr) != n_par:
                raise DetectError(f"{name} must have one entry per party ({n_par})")
            return arr

        try:
            party_role = meta("party_role", party_role, None, object)
            party_region = meta("party_region", party_region, None, object)
            party_lat = meta("party_lat", party_lat, np.nan, np.float64)
            party_lon = meta("party_lon", party_lon, np.nan, np.float64)
        except (TypeError, ValueError) as exc:
            if isinstance(exc, DetectError):
                raise
            raise DetectError(f"bad party metadata: {exc}") from None
        EventColumns.__init__(
            self, epcs, parties, ev_ids, ev_time, ev_kind, ev_by, ev_src, ev_dst, ev_lat,
            ev_lon, inc_event, inc_node, agg_parent, node_key, node_batch,
            party_role=party_role, party_region=party_region, party_lat=party_lat,
            party_lon=party_lon, ev_detail=ev_detail,
            ev_record=np.zeros(0, np.int64) if rec is None else rec.astype(np.int64))
        roles = party_role.tolist()
        self.party_business = np.fromiter((_tier(r) for r in roles), dtype=np.uint8,
                                          count=n_par)
        self.party_region_id, self.region_names = _region_ids(party_region)
        self.regions = _region_grid(self.party_region_id, party_lat, party_lon,
                                    float(region_radius_km))
        self.region_radius_km = float(region_radius_km)
        self._garrays = _graph_arrays(graph)
        self.clock_offsets_us = offsets if offsets is not None else np.zeros(n_par, np.int64)
        self._kernels = {}
        self._lock = threading.Lock()
        self._party_index = None
        self._ev_index = None
        self._derived = {}
        if phone_regions is not None:
            # phones' homes known from more scans than these (a partition of a larger log)
            ph = np.asarray(phone_regions)
            if ph.shape != (n_par,) or ph.dtype.kind not in "iu":
                raise DetectError(f"phone_regions must hold one region id per party ({n_par})")
            ph = ph.astype(np.int32)
            if len(ph) and (int(ph.min()) < -1 or int(ph.max()) >= len(self.region_names)):
                raise DetectError("phone_regions holds ids outside [-1, number of regions)")
            ph.flags.writeable = False
            self._derived["phones"] = ph
        return self

    @classmethod
    def from_simulation(cls, sim: SimulationLike, graph: TraceGraph | None = None) -> TraceData:
        """From a [`Simulation`][antifake.research.sim.Simulation] (or an attacked one, whose
        ``ev_detail`` and ``ev_record`` it takes; record times only without ``graph``, which
        was built from the event times as they are)."""
        try:
            cols = sim.arrays()
        except AttributeError:
            raise DetectError(f"not a Simulation: {type(sim).__name__}") from None
        n = len(cols["ev_time"])
        extras = {name: a for name in ("ev_detail", "ev_record")
                  if (a := getattr(sim, name, None)) is not None and len(a) == n}
        if graph is not None:
            extras.pop("ev_record", None)
        return cls.from_arrays(**cols, **extras, party_role=sim.party_role,
                               party_region=sim.party_region, party_lat=sim.party_lat,
                               party_lon=sim.party_lon, graph=graph)

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
                a: dict[str, np.ndarray | None] = dict(self._garrays)
                a.update(inc_event=self.inc_event, inc_node=self.inc_node,
                         ev_time=self.ev_time, ev_kind=_rule_kinds(self.ev_kind), ev_by=self.ev_by,
                         ev_dst=self.ev_dst, agg_parent=self.agg_parent, ev_lat=self.ev_lat,
                         ev_lon=self.ev_lon, ev_detail=self.ev_detail, node_item=self.node_item,
                         party_lat=self.party_lat, party_lon=self.party_lon,
                         party_region_id=self.party_region_id,
                         party_business=self.party_business, grid=self.regions["grid"],
                         party_home=self.phone_regions() if cfg["use_phones"] else None)
                centres = self.regions.get("centres")
                if centres is not None:
                    a.update(region_lat=centres[0], region_lon=centres[1])
                r = self.regions
                cfg.update(grid_nlat=r["grid_nlat"], grid_nlon=r["grid_nlon"],
                           grid_lat0=r["grid_lat0"], grid_lon0=r["grid_lon0"],
                           grid_inv=r["grid_inv"], have_regions=r["have_regions"])
                k = _detect.Kernel(a, cfg)
                self._kernels.clear()
                self._kernels[key] = k
            return k

    def phone_regions(self) -> np.ndarray:
        """Per party: the id of the region (into ``region_names``) where most of its located
        scans and claims are, -1 for businesses and for phones with none in a region: a
        consumer's phone's home. Computed once per snapshot (a native pass over the events)."""
        got = self._derived.get("phones")
        if got is None:
            r = self.regions
            got = _detect.phone_regions(
                np.ascontiguousarray(self.ev_kind, dtype=np.uint8),  # scans, claims: as is
                np.ascontiguousarray(self.ev_by, dtype=np.int32),
                np.ascontiguousarray(self.ev_lat, dtype=np.float64),
                np.ascontiguousarray(self.ev_lon, dtype=np.float64),
                np.ascontiguousarray(self.party_business, dtype=np.uint8),
                np.ascontiguousarray(r["grid"], dtype=np.int16),
                {k: r[k] for k in ("grid_nlat", "grid_nlon", "grid_lat0", "grid_lon0",
                                   "grid_inv")})
            got.flags.writeable = False
            self._derived["phones"] = got
        return got

    def pack_keys(self) -> np.ndarray:
        """Per node: the rank of the event that last packed it into a container (-1 none);
        computed once per snapshot."""
        got = self._derived.get("pack")
        if got is None:
            lk_ptr = self._garrays["lk_ptr"]
            packed = np.diff(lk_ptr) > 0
            got = np.full(self.n_nodes, -1, dtype=np.int64)
            got[packed] = self._garrays["lk_start"][lk_ptr[1:][packed] - 1]
            self._derived["pack"] = got
        return got

    def sales(self) -> tuple[np.ndarray, np.ndarray]:
        """Every recorded sale as (node, region id of the seller, else of where it happened;
        -1 unknown); computed once per snapshot."""
        got = self._derived.get("sales")
        if got is None:
            from antifake.detect._regions import regions_at

            rows = np.flatnonzero(self.ev_kind[self.inc_event] == int(EventKind.SELL))
            ev = self.inc_event[rows]
            by = self.ev_by[ev]
            reg = np.where(by >= 0, self.party_region_id[np.maximum(by, 0)], -1).astype(np.int64)
            where = regions_at(self.regions, self.ev_lat[ev], self.ev_lon[ev])
            got = (self.inc_node[rows], np.where(reg >= 0, reg, where))
            self._derived["sales"] = got
        return got

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
        hit = TraceData.from_arrays(**cols.graph_arrays(), **cols.event_extras(),
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
        p_by = party(e.by)
        shift = int(data.clock_offsets_us[p_by]) if 0 <= p_by < len(data.clock_offsets_us) \
            else 0  # the party's clock, as estimated from the snapshot
        rows["t"].append(to_microseconds(e.time) + shift)
        rows["kind"].append(int(k))
        rows["by"].append(p_by)
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
    new.clock_offsets_us = np.concatenate([data.clock_offsets_us,
                                           np.zeros(n_new_parties, np.int64)])
    return new


def _src_of(data: TraceData) -> np.ndarray:
    return data.ev_src
