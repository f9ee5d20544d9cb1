"""Synthetic supply chains: seeded, vectorised, with ground truth (tests, benchmarks, research).

[`simulate`][antifake.research.sim.simulate] turns a
[`SupplyChain`][antifake.research.sim.SupplyChain] (parameters)
and a seed into a [`Simulation`][antifake.research.sim.Simulation]: the column arrays that
`antifake.TraceGraph.from_arrays` takes, party metadata (role, region, coordinates) and the
ground truth of every item's route. Everything is generated with numpy, without a Python object per
event, so 1 M items (about 4 M events) take a few seconds.

The story of every item::

    manufacturer  commission item, case and pallet; pack items -> case -> pallet; ship pallet
    distributor   receive pallet; unpack it (unpack-all); repack some cases into fresh cases;
                  ship each case to a retailer of its region
    retailer      receive case; open most cases (listing the children or unpack-all);
                  sell items (a sold item of an unopened case stays in its case)
    consumer      buy items with their phone (one of the retailer's region: owners keep
                  their phone) and scan them with it, near the retailer

Causally ordered steps are at least a second apart, while events that do not depend on each
other often share a timestamp (the items of a case are commissioned in the same second), so
``shuffle_events`` may reorder the rows freely without changing what they mean.

Later parts add attacks (clones, diversion, grey-market listings) on top of the same
[`Simulation`][antifake.research.sim.Simulation]; ``Simulation.truth`` keeps what really happened.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from antifake.epcis.columns import EventColumns
from antifake.epcis.kinds import NO_PARTY, EventKind

if TYPE_CHECKING:
    from antifake.graph import TraceGraph

__all__ = ["SupplyChain", "Simulation", "GroundTruth", "simulate", "describe", "REGIONS",
           "REGION_LAT", "REGION_LON", "DELIVERED", "HELD", "TRANSIT"]

#: Regions parties live in: code, latitude, longitude of the centre.
REGIONS: tuple[tuple[str, float, float], ...] = (
    ("VN-HN", 21.03, 105.85),
    ("VN-SG", 10.77, 106.70),
    ("VN-DN", 16.05, 108.20),
    ("VN-HP", 20.86, 106.68),
    ("VN-CT", 10.03, 105.78),
    ("VN-KH", 12.24, 109.19),
    ("VN-TTH", 16.46, 107.59),
    ("VN-NA", 18.67, 105.68),
)

#: Centres of `REGIONS` (latitude, longitude in degrees) as arrays.
REGION_LAT: np.ndarray = np.array([r[1] for r in REGIONS])
REGION_LON: np.ndarray = np.array([r[2] for r in REGIONS])

#: Pallet states at the end of a simulation.
DELIVERED, HELD, TRANSIT = 0, 1, 2

_SEC = 1_000_000  # microseconds
_DAY = 86_400
_DEFAULT_START = int(datetime(2025, 1, 1, tzinfo=UTC).timestamp()) * _SEC


@dataclass(frozen=True)
class SupplyChain:
    """Parameters of a synthetic supply chain (all counts; fractions in [0, 1])."""

    n_items: int = 1_000_000
    items_per_case: int = 40
    cases_per_pallet: int = 50
    n_manufacturers: int = 5
    n_distributors: int = 20
    n_retailers: int = 500
    n_apps: int = 1000  # consumer phones (app installs): each sold item's owner is one of
    # its shop's region and scans it; 0: scans carry no party
    scans_per_item: float = 2.0  # mean consumer scans per item, all on sold items (a sold
    # item gets scans_per_item / sold_fraction on average, at most 20 x scans_per_item)
    sold_fraction: float = 0.8
    transit_fraction: float = 0.01  # pallets shipped but not received yet (in transit)
    held_fraction: float = 0.02  # pallets received but still packed at the distributor
    repack_fraction: float = 0.01  # cases the distributor unpacks and packs into a new case
    open_fraction: float = 0.9  # cases the retailer unpacks (others: sold from the case)
    explicit_unpack_fraction: float = 0.5  # unpacks listing their children, not "all"
    batch_size: int = 10_000  # items per batch; batch ids count from 0 per issuer key
    days: float = 180.0  # production spread
    start_us: int = _DEFAULT_START  # first production time, microseconds since the epoch
    shuffle_events: bool = True  # rows out of time order, as a registry may deliver them
    seed: int = 0

    def __post_init__(self) -> None:
        ints = {
            "n_items": 0, "items_per_case": 1, "cases_per_pallet": 1, "n_manufacturers": 1,
            "n_distributors": 1, "n_retailers": 1, "n_apps": 0, "batch_size": 1,
        }
        for name, low in ints.items():
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < low:
                raise ValueError(f"SupplyChain.{name} must be an integer >= {low}, not {v!r}")
        if self.n_items >= 2**31 // 2:
            raise ValueError("SupplyChain.n_items too large")
        for name in ("sold_fraction", "transit_fraction", "held_fraction", "repack_fraction",
                     "open_fraction", "explicit_unpack_fraction"):
            v = getattr(self, name)
            if not 0.0 <= v <= 1.0:
                raise ValueError(f"SupplyChain.{name} must lie in [0, 1], not {v!r}")
        if self.transit_fraction + self.held_fraction > 1.0:
            raise ValueError("SupplyChain: transit_fraction + held_fraction > 1")
        if not self.scans_per_item >= 0 or not self.days > 0:
            raise ValueError("SupplyChain: scans_per_item >= 0 and days > 0 required")


@dataclass
class GroundTruth:
    """What really happened, per item (index = item node id), per case and per pallet.

    Party columns hold party indices; times are microseconds (-1: never).
    """

    item_manufacturer: np.ndarray
    item_distributor: np.ndarray  # where its pallet was shipped
    item_retailer: np.ndarray  # -1 while its pallet is held or in transit
    item_state: np.ndarray  # its pallet's state: DELIVERED (unpacked), HELD or TRANSIT
    item_case: np.ndarray  # node id of the case it was packed into first
    item_final_case: np.ndarray  # node id of the case it reached the retailer in
    item_pallet: np.ndarray  # node id
    item_sold: np.ndarray  # bool
    item_sell_time: np.ndarray
    item_opened: np.ndarray  # bool: its case was unpacked at the retailer
    item_scans: np.ndarray  # number of consumer scans
    case_nodes: np.ndarray  # node ids of the original cases
    case_repacked: np.ndarray  # bool per original case
    pallet_nodes: np.ndarray
    pallet_state: np.ndarray  # DELIVERED, HELD (still packed at the distributor), TRANSIT
    repack_nodes: np.ndarray  # node ids of the fresh cases made by repacking
    manufacturer_key: np.ndarray  # issuer key id per manufacturer
    #: Per item: the party index of the phone that owns it (its buyer's), -1 unsold or no
    #: phones. Owners keep their phone: their scans are from it.
    item_owner: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    #: Per party: the region (index into ``REGIONS``) a phone lives in, -1 for businesses.
    phone_region: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))

    def custodian_now(self) -> np.ndarray:
        """Party index holding each item now (-1: sold to a consumer)."""
        cust = np.where(self.item_sold, NO_PARTY, self.item_retailer)
        cust = np.where(self.item_state == HELD, self.item_distributor, cust)
        cust = np.where(self.item_state == TRANSIT, self.item_manufacturer, cust)
        return cust.astype(np.int32)


@dataclass(frozen=True, eq=False, repr=False)
class Simulation(EventColumns):
    """A simulated supply chain: its trace as columns
    ([`EventColumns`][antifake.epcis.columns.EventColumns]; party roles are "manufacturer",
    "distributor", "retailer", "app", regions "" for apps), its parameters and ground truth."""

    params: SupplyChain
    seed: int
    truth: GroundTruth = field(repr=False)

    @property
    def n_items(self) -> int:
        return self.params.n_items

    @property
    def n_nodes(self) -> int:
        return len(self.epcs)

    @property
    def n_events(self) -> int:
        return len(self.ev_ids)

    def arrays(self) -> dict[str, np.ndarray]:
        """The keyword arguments of `TraceGraph.from_arrays` (as `graph_arrays`)."""
        return self.graph_arrays()

    def graph(self) -> TraceGraph:
        """A `TraceGraph` snapshot of this simulation."""
        from antifake.graph import TraceGraph

        return TraceGraph.from_arrays(**self.arrays())

    def parties_with_role(self, role: str) -> np.ndarray:
        """Party indices of one role."""
        return np.flatnonzero(self.party_role == role)


# ---------------------------------------------------------------------------------------
# text columns without a Python loop
# ---------------------------------------------------------------------------------------
_HEX4 = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)[
    (np.arange(65536)[:, None] >> np.array([12, 8, 4, 0])) & 15]
_DEC4 = np.frombuffer(b"0123456789", dtype=np.uint8)[
    (np.arange(10000)[:, None] // np.array([1000, 100, 10, 1])) % 10]


def _digits(values: np.ndarray, width: int, base: int) -> np.ndarray:
    """(n, width) ASCII digits of non-negative integers, zero-padded (base 10 or 16)."""
    x = np.asarray(values).astype(np.uint64)
    chunks = -(-width // 4)
    out = np.empty((len(x), chunks * 4), dtype=np.uint8)
    for c in range(chunks - 1, -1, -1):
        if base == 16:
            idx = (x & np.uint64(0xFFFF)).astype(np.intp)
            x = x >> np.uint64(16)
            out[:, 4 * c: 4 * c + 4] = _HEX4[idx]
        else:
            idx = (x % np.uint64(10000)).astype(np.intp)
            x = x // np.uint64(10000)
            out[:, 4 * c: 4 * c + 4] = _DEC4[idx]
    return out[:, chunks * 4 - width:]


def _texts(parts: list[bytes | tuple[np.ndarray, int, int]], n: int) -> np.ndarray:
    """Object array of ``n`` ASCII strings made of constant ``bytes`` parts and numeric parts
    ``(values, width, base)`` (zero-padded, base 10 or 16)."""
    width = sum(len(p) if isinstance(p, bytes) else p[1] for p in parts)
    m = np.empty((n, width + 1), dtype=np.uint8)
    col = 0
    for p in parts:
        if isinstance(p, bytes):
            m[:, col: col + len(p)] = np.frombuffer(p, dtype=np.uint8)
            col += len(p)
        else:
            values, w, base = p
            m[:, col: col + w] = _digits(values, w, base)
            col += w
    m[:, width] = 10
    out = np.empty(n, dtype=object)
    if n:
        out[:] = m.tobytes().decode("ascii").split("\n")[:n]
    return out


class _Events:
    """Accumulates blocks of events (columns) and their incidence rows."""

    def __init__(self) -> None:
        self.blocks: list[dict[str, np.ndarray]] = []
        self.inc: list[tuple[np.ndarray, np.ndarray]] = []
        self.n = 0

    def add(self, time: np.ndarray, kind: EventKind, by: Any, *, src: Any = NO_PARTY,
            dst: Any = NO_PARTY, parent: Any = -1, lat: Any = np.nan, lon: Any = np.nan,
            inc_local: np.ndarray | None = None, inc_node: np.ndarray | None = None) -> None:
        k = len(time)
        if k == 0:
            return

        def col(v: Any, dtype: Any) -> np.ndarray:
            return np.broadcast_to(np.asarray(v, dtype=dtype), (k,))

        self.blocks.append({
            "time": np.asarray(time, dtype=np.int64),
            "kind": col(int(kind), np.uint8),
            "by": col(by, np.int32), "src": col(src, np.int32), "dst": col(dst, np.int32),
            "parent": col(parent, np.int64),
            "lat": col(lat, np.float64), "lon": col(lon, np.float64),
        })
        if inc_local is not None and inc_node is not None and len(inc_local):
            self.inc.append((np.asarray(inc_local, dtype=np.int64) + self.n,
                             np.asarray(inc_node, dtype=np.int64)))
        self.n += k

    def column(self, name: str) -> np.ndarray:
        return np.concatenate([b[name] for b in self.blocks]) if self.blocks else \
            np.empty(0, dtype={"time": np.int64, "kind": np.uint8, "parent": np.int64,
                               "lat": np.float64, "lon": np.float64}.get(name, np.int32))


def _unique_draw(rng: np.random.Generator, high: int, k: int) -> np.ndarray:
    """``k`` distinct random integers in [0, high) (uint64): drawn, the repeats drawn again
    (the same draws as one ``integers`` call when nothing repeats)."""
    x = rng.integers(0, high, k, dtype=np.uint64)
    while k:
        _, first = np.unique(x, return_index=True)
        if len(first) == k:
            break
        dup = np.setdiff1d(np.arange(k), first)
        x[dup] = rng.integers(0, high, len(dup), dtype=np.uint64)
    return x


def _split(total: int, parts: int) -> np.ndarray:
    base, extra = divmod(total, parts)
    return np.array([base + (i < extra) for i in range(parts)], dtype=np.int64)


def _ragged(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For groups of sizes ``counts``: (group of each element, index inside its group)."""
    group = np.repeat(np.arange(len(counts)), counts)
    starts = np.cumsum(counts) - counts
    return group, np.arange(len(group)) - np.repeat(starts, counts)


# ---------------------------------------------------------------------------------------
# the generator
# ---------------------------------------------------------------------------------------
def simulate(params: SupplyChain | None = None, seed: int | None = None) -> Simulation:
    """Generate a supply chain; the same parameters and seed give the same arrays.

    ``seed`` overrides ``params.seed`` when given.
    """
    p = params if params is not None else SupplyChain()
    if seed is None:
        seed = p.seed
    rng = np.random.default_rng(seed)
    n_i, ipc, cpp = p.n_items, p.items_per_case, p.cases_per_pallet
    n_m, n_d, n_r, n_a = p.n_manufacturers, p.n_distributors, p.n_retailers, p.n_apps

    def secs(lo: float, hi: float, k: int) -> np.ndarray:
        return rng.integers(int(lo), int(hi) + 1, size=k, dtype=np.int64)

    # -- parties: manufacturers, distributors, retailers, apps
    n_reg = len(REGIONS)
    reg_lat = np.array([r[1] for r in REGIONS])
    reg_lon = np.array([r[2] for r in REGIONS])
    m_reg = rng.integers(0, n_reg, n_m)
    d_reg = (np.arange(n_d) + rng.integers(0, n_reg)) % n_reg
    r_reg = rng.integers(0, n_reg, n_r)
    site_reg = np.concatenate([m_reg, d_reg, r_reg])
    n_site = n_m + n_d + n_r
    jitter = np.concatenate([np.full(n_m + n_d, 0.1), np.full(n_r, 0.3)])
    site_lat = reg_lat[site_reg] + rng.uniform(-1, 1, n_site) * jitter
    site_lon = reg_lon[site_reg] + rng.uniform(-1, 1, n_site) * jitter
    mfr = np.arange(n_m, dtype=np.int32)
    dist = n_m + np.arange(n_d, dtype=np.int32)
    ret = n_m + n_d + np.arange(n_r, dtype=np.int32)
    app = n_site + np.arange(n_a, dtype=np.int32)
    parties = np.concatenate([
        _texts([b"MFR-", (np.arange(1, n_m + 1), 2, 10)], n_m),
        _texts([b"DIST-", (np.arange(1, n_d + 1), 3, 10)], n_d),
        _texts([b"RET-", (np.arange(1, n_r + 1), 5, 10)], n_r),
        _texts([b"app:", (_unique_draw(rng, 2**32, n_a), 8, 16)], n_a),
    ])
    party_role = np.array(["manufacturer"] * n_m + ["distributor"] * n_d
                          + ["retailer"] * n_r + ["app"] * n_a, dtype=object)
    codes = np.array([r[0] for r in REGIONS] + [""], dtype=object)
    party_region = codes[np.concatenate([site_reg, np.full(n_a, n_reg)])]
    party_lat = np.concatenate([site_lat, np.full(n_a, np.nan)])
    party_lon = np.concatenate([site_lon, np.full(n_a, np.nan)])
    manufacturer_key = np.arange(1, n_m + 1, dtype=np.int32)

    # -- items, cases, pallets (contiguous per manufacturer)
    m_items = _split(n_i, n_m)
    item_m, item_local = _ragged(m_items)
    m_cases = -(-m_items // ipc)
    case_m, case_local = _ragged(m_cases)
    n_c = len(case_m)
    m_pallets = -(-m_cases // cpp)
    pallet_m, _ = _ragged(m_pallets)
    n_p = len(pallet_m)
    case_off = np.cumsum(m_cases) - m_cases
    pallet_off = np.cumsum(m_pallets) - m_pallets
    item_case = (case_off[item_m] + item_local // ipc).astype(np.int64)  # case index
    case_pallet = (pallet_off[case_m] + case_local // cpp).astype(np.int64)  # pallet index
    case_slot = case_local % cpp
    case_node = n_i + np.arange(n_c, dtype=np.int64)
    pallet_node = n_i + n_c + np.arange(n_p, dtype=np.int64)

    # -- production and the manufacturer -> distributor leg (seconds)
    t0 = p.start_us // _SEC
    pallet_t = t0 + secs(0, p.days * _DAY, n_p)
    case_t = pallet_t[case_pallet] + 60 * case_slot
    item_t = case_t[item_case]
    case_pack_t = case_t + 30
    pallet_pack_t = pallet_t + 60 * cpp + 600
    ship_p = pallet_pack_t + secs(2 * 3600, 2 * _DAY, n_p)
    recv_p = ship_p + secs(6 * 3600, 3 * _DAY, n_p)
    unpack_p = recv_p + secs(3600, 12 * 3600, n_p)
    pallet_dist = dist[rng.integers(0, n_d, n_p)]
    u = rng.random(n_p)
    pallet_state = np.where(u < p.transit_fraction, TRANSIT,
                            np.where(u < p.transit_fraction + p.held_fraction, HELD,
                                     DELIVERED)).astype(np.int8)
    case_active = pallet_state[case_pallet] == DELIVERED  # goes on to a retailer
    item_active = case_active[item_case]

    # -- repacking at the distributor
    case_repacked = (rng.random(n_c) < p.repack_fraction) & case_active
    rep = np.flatnonzero(case_repacked)
    n_rep = len(rep)
    rep_node = n_i + n_c + n_p + np.arange(n_rep, dtype=np.int64)
    rep_unpack_t = unpack_p[case_pallet[rep]] + secs(3600, _DAY, n_rep)
    case_ship_node = case_node.copy()
    case_ship_node[rep] = rep_node
    case_ready_t = unpack_p[case_pallet].copy()
    case_ready_t[rep] = rep_unpack_t + 120

    # -- distributor -> retailer of its region (any retailer if the region has none)
    case_dist = pallet_dist[case_pallet]
    case_reg = site_reg[case_dist]
    r_order = np.argsort(r_reg, kind="stable")
    r_count = np.bincount(r_reg, minlength=n_reg)
    r_start = np.cumsum(r_count) - r_count
    u = rng.random(n_c)
    cnt = r_count[case_reg]
    local_pick = r_order[np.minimum(r_start[case_reg] + (u * cnt).astype(np.int64),
                                    n_r - 1)]
    any_pick = rng.integers(0, n_r, n_c)
    case_ret = ret[np.where(cnt > 0, local_pick, any_pick)]
    ship_c = case_ready_t + secs(_DAY, 10 * _DAY, n_c)
    recv_c = ship_c + secs(2 * 3600, 2 * _DAY, n_c)
    case_open = (rng.random(n_c) < p.open_fraction) & case_active
    open_t = recv_c + secs(600, _DAY, n_c)
    case_explicit = rng.random(n_c) < p.explicit_unpack_fraction

    # -- sales and consumer scans
    item_sold = (rng.random(n_i) < p.sold_fraction) & item_active
    shelf_t = np.where(case_open, open_t, recv_c)[item_case]
    sell_t = shelf_t + secs(3600, 60 * _DAY, n_i)
    lam = p.scans_per_item / max(p.sold_fraction, 0.05)
    n_scans = rng.poisson(lam, n_i) * item_sold
    scan_item = np.repeat(np.arange(n_i, dtype=np.int64), n_scans)
    n_sc = len(scan_item)
    scan_t = sell_t[scan_item] + secs(60, 90 * _DAY, n_sc)
    item_ret = case_ret[item_case]
    scan_lat = site_lat[item_ret[scan_item]] + rng.normal(0.0, 0.05, n_sc)
    scan_lon = site_lon[item_ret[scan_item]] + rng.normal(0.0, 0.05, n_sc)
    # owners keep their phone: every phone lives in a region (that of a random shop, so
    # phones follow the shops), and a sold item's buyer is a phone of its shop's region
    # (any phone when the region has none); the owner's scans are from that phone
    phone_reg = r_reg[rng.integers(0, n_r, n_a)] if n_a else np.zeros(0, np.int64)
    item_owner = np.full(n_i, NO_PARTY, dtype=np.int32)
    if n_a:
        ph_order = np.argsort(phone_reg, kind="stable")
        ph_count = np.bincount(phone_reg, minlength=n_reg)
        ph_start = np.cumsum(ph_count) - ph_count
        sold_i = np.flatnonzero(item_sold)
        s_reg = site_reg[item_ret[sold_i]]
        cnt_s = ph_count[s_reg]
        local = ph_order[np.minimum(ph_start[s_reg] + (rng.random(len(sold_i)) * cnt_s)
                                    .astype(np.int64), n_a - 1)]
        anyp = rng.integers(0, n_a, len(sold_i))
        item_owner[sold_i] = app[np.where(cnt_s > 0, local, anyp)]
    scan_by = item_owner[scan_item] if n_a else np.full(n_sc, NO_PARTY, np.int32)

    # -- events
    ev = _Events()
    S = _SEC
    m_of_case = mfr[case_m]
    m_of_pallet = mfr[pallet_m]
    items = np.arange(n_i, dtype=np.int64)
    ar_c = np.arange(n_c)
    ar_p = np.arange(n_p)
    K = EventKind
    # manufacturer
    ev.add(item_t * S, K.COMMISSION, mfr[item_m], lat=site_lat[mfr[item_m]],
           lon=site_lon[mfr[item_m]], inc_local=items, inc_node=items)
    ev.add(case_t * S, K.COMMISSION, m_of_case, lat=site_lat[m_of_case],
           lon=site_lon[m_of_case], inc_local=ar_c, inc_node=case_node)
    ev.add(pallet_t * S, K.COMMISSION, m_of_pallet, lat=site_lat[m_of_pallet],
           lon=site_lon[m_of_pallet], inc_local=ar_p, inc_node=pallet_node)
    ev.add(case_pack_t * S, K.AGGREGATE, m_of_case, parent=case_node,
           lat=site_lat[m_of_case], lon=site_lon[m_of_case], inc_local=item_case,
           inc_node=items)
    ev.add(pallet_pack_t * S, K.AGGREGATE, m_of_pallet, parent=pallet_node,
           lat=site_lat[m_of_pallet], lon=site_lon[m_of_pallet], inc_local=case_pallet,
           inc_node=case_node)
    ev.add(ship_p * S, K.SHIP, m_of_pallet, src=m_of_pallet, dst=pallet_dist,
           lat=site_lat[m_of_pallet], lon=site_lon[m_of_pallet], inc_local=ar_p,
           inc_node=pallet_node)
    # distributor
    rp = np.flatnonzero(pallet_state != TRANSIT)
    ev.add(recv_p[rp] * S, K.RECEIVE, pallet_dist[rp], src=m_of_pallet[rp],
           dst=pallet_dist[rp], lat=site_lat[pallet_dist[rp]], lon=site_lon[pallet_dist[rp]],
           inc_local=np.arange(len(rp)), inc_node=pallet_node[rp])
    up = np.flatnonzero(pallet_state == DELIVERED)
    ev.add(unpack_p[up] * S, K.DISAGGREGATE, pallet_dist[up], parent=pallet_node[up],
           lat=site_lat[pallet_dist[up]], lon=site_lon[pallet_dist[up]])
    rd = case_dist[rep]
    ev.add(rep_unpack_t * S, K.DISAGGREGATE, rd, parent=case_node[rep],
           lat=site_lat[rd], lon=site_lon[rd])
    ev.add((rep_unpack_t + 60) * S, K.COMMISSION, rd, lat=site_lat[rd], lon=site_lon[rd],
           inc_local=np.arange(n_rep), inc_node=rep_node)
    rep_pos = np.full(n_c, -1, dtype=np.int64)
    rep_pos[rep] = np.arange(n_rep)
    in_rep = case_repacked[item_case]
    ev.add((rep_unpack_t + 120) * S, K.AGGREGATE, rd, parent=rep_node, lat=site_lat[rd],
           lon=site_lon[rd], inc_local=rep_pos[item_case[in_rep]], inc_node=items[in_rep])
    act = np.flatnonzero(case_active)
    ar_a = np.arange(len(act))
    cd, cr = case_dist[act], case_ret[act]
    ev.add(ship_c[act] * S, K.SHIP, cd, src=cd, dst=cr, lat=site_lat[cd], lon=site_lon[cd],
           inc_local=ar_a, inc_node=case_ship_node[act])
    # retailer
    ev.add(recv_c[act] * S, K.RECEIVE, cr, src=cd, dst=cr, lat=site_lat[cr],
           lon=site_lon[cr], inc_local=ar_a, inc_node=case_ship_node[act])
    op = np.flatnonzero(case_open)
    op_pos = np.full(n_c, -1, dtype=np.int64)
    op_pos[op] = np.arange(len(op))
    listed = (case_open & case_explicit)[item_case]
    ev.add(open_t[op] * S, K.DISAGGREGATE, case_ret[op], parent=case_ship_node[op],
           lat=site_lat[case_ret[op]], lon=site_lon[case_ret[op]],
           inc_local=op_pos[item_case[listed]], inc_node=items[listed])
    sold = np.flatnonzero(item_sold)
    ev.add(sell_t[sold] * S, K.SELL, item_ret[sold], lat=site_lat[item_ret[sold]],
           lon=site_lon[item_ret[sold]], inc_local=np.arange(len(sold)), inc_node=sold)
    # consumers
    ev.add(scan_t * S + rng.integers(0, S, n_sc), K.SCAN, scan_by, lat=scan_lat,
           lon=scan_lon, inc_local=np.arange(n_sc), inc_node=scan_item)

    n_e = ev.n
    ev_time = ev.column("time")
    ev_kind = ev.column("kind")
    ev_by = ev.column("by")
    ev_src = ev.column("src")
    ev_dst = ev.column("dst")
    ev_lat = ev.column("lat")
    ev_lon = ev.column("lon")
    agg_parent = ev.column("parent")
    inc_event = np.concatenate([a for a, _ in ev.inc]) if ev.inc else np.empty(0, np.int64)
    inc_node = np.concatenate([b for _, b in ev.inc]) if ev.inc else np.empty(0, np.int64)
    del ev
    if p.shuffle_events and n_e:
        perm = rng.permutation(n_e)
        ev_time, ev_kind, ev_by, ev_src, ev_dst = (ev_time[perm], ev_kind[perm],
                                                   ev_by[perm], ev_src[perm], ev_dst[perm])
        ev_lat, ev_lon, agg_parent = ev_lat[perm], ev_lon[perm], agg_parent[perm]
        # incidence rows grouped by the new event index, as a store would return them: move
        # whole groups of rows (grouped by the old index already)
        if len(inc_event) > 1 and np.any(inc_event[1:] < inc_event[:-1]):
            o = np.argsort(inc_event, kind="stable")
            inc_event, inc_node = inc_event[o], inc_node[o]
        counts = np.bincount(inc_event, minlength=n_e)
        starts = np.cumsum(counts) - counts
        grp, k = _ragged(counts[perm])
        rows = starts[perm][grp] + k
        inc_event, inc_node = grp, inc_node[rows]
        del counts, starts, grp, k, rows
    ev_ids = _texts([b"sim:", (rng.integers(0, 2**63, n_e, dtype=np.uint64), 16, 16)], n_e)

    # -- nodes: names, keys, batches
    item_key = manufacturer_key[item_m]
    item_batch = (item_local // p.batch_size).astype(np.int64)
    serial_in_batch = item_local % p.batch_size
    epcs = np.concatenate([
        _texts([b"urn:antifake:sim:", (item_key, 3, 10), b".", (item_batch, 6, 10), b".",
                (serial_in_batch, 8, 10)], n_i),
        _texts([b"urn:epc:id:sscc:0614141.", (np.arange(n_c + n_p + n_rep), 10, 10)],
               n_c + n_p + n_rep),
    ])
    n_nodes = len(epcs)
    node_key = np.full(n_nodes, -1, dtype=np.int32)
    node_key[:n_i] = item_key
    node_batch = np.full(n_nodes, -1, dtype=np.int64)
    node_batch[:n_i] = item_batch

    final_case = case_ship_node[item_case]
    truth = GroundTruth(
        item_manufacturer=mfr[item_m],
        item_distributor=case_dist[item_case].astype(np.int32),
        item_retailer=np.where(item_active, item_ret, NO_PARTY).astype(np.int32),
        item_state=pallet_state[case_pallet[item_case]],
        item_case=case_node[item_case],
        item_final_case=final_case,
        item_pallet=pallet_node[case_pallet[item_case]],
        item_sold=item_sold,
        item_sell_time=np.where(item_sold, sell_t * S, -1),
        item_opened=case_open[item_case],
        item_scans=n_scans.astype(np.int32),
        case_nodes=case_node,
        case_repacked=case_repacked,
        pallet_nodes=pallet_node,
        pallet_state=pallet_state,
        repack_nodes=rep_node,
        manufacturer_key=manufacturer_key,
        item_owner=item_owner,
        phone_region=np.concatenate([np.full(n_site, -1, np.int32),
                                     phone_reg.astype(np.int32)]),
    )
    return Simulation(
        params=p, seed=int(seed), epcs=epcs, parties=parties, ev_ids=ev_ids,
        ev_time=ev_time, ev_kind=ev_kind, ev_by=ev_by, ev_src=ev_src, ev_dst=ev_dst,
        ev_lat=ev_lat, ev_lon=ev_lon, inc_event=inc_event, inc_node=inc_node,
        agg_parent=agg_parent, node_key=node_key, node_batch=node_batch,
        party_role=party_role, party_region=party_region, party_lat=party_lat,
        party_lon=party_lon, truth=truth,
    )


def describe(sim: Simulation) -> dict[str, Any]:
    """Counts of a simulation (parameters, nodes, events by kind, incidences)."""
    kinds = np.bincount(sim.ev_kind, minlength=len(EventKind))
    return {
        "params": asdict(sim.params),
        "nodes": sim.n_nodes,
        "events": sim.n_events,
        "incidences": len(sim.inc_event),
        "parties": len(sim.parties),
        "events_by_kind": {k.name: int(kinds[k]) for k in EventKind},
    }
