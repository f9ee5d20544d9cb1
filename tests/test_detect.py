"""Tests of detection (antifake.detect) and attack injection (antifake.research.attacks).

* hand-built chains where each rule fires exactly on the attacked codes, with the evidence
  event ids expected, and noise that must not raise act-on-it alerts;
* the screen kernel is exact (no rule fires on a node it did not pick), incremental == full;
* a real registry (claims and decommissioning reasons read from stored events), listings;
* precision and recall on a small seeded simulation with every attack;
* bad inputs: antifake errors, never a crash.
"""

from __future__ import annotations

import math
import pickle
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

import antifake as af
from antifake.detect import (
    ACT_ON_IT,
    CLAIM_DETAILS,
    KINDS,
    LISTING_FLAGS,
    REASON_DETAILS,
    Alert,
    DetectConfig,
    DetectError,
    Detector,
    TraceData,
    check_listing,
    check_listings,
    clock_offsets,
    corrected_times,
    detect,
    listing_reasons,
)
from antifake.epcis.kinds import EventKind as K
from antifake.errors import AntifakeError
from antifake.research.attacks import AttackMix, Noise, evaluate, inject
from antifake.research.sim import SupplyChain, simulate

T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
SG = (10.77, 106.70)  # Ho Chi Minh City
HN = (21.03, 105.85)  # Hanoi, 1,140 km north
DN = (16.05, 108.20)  # Da Nang


def us(hours: float) -> int:
    return int((T0 + timedelta(hours=hours)).timestamp() * 1_000_000)


# ---------------------------------------------------------------------------------------
# a builder for hand-written chains
# ---------------------------------------------------------------------------------------
PARTIES = [
    ("MFR", "manufacturer", "VN-HN", *HN),
    ("DIST-SG", "distributor", "VN-SG", 10.80, 106.65),
    ("RET-SG", "retailer", "VN-SG", *SG),
    ("RET-HN", "retailer", "VN-HN", 21.00, 105.80),
    ("RET-DN", "retailer", "VN-DN", *DN),
    ("SHOP-1", "marketplace", "VN-HN", *HN),
    ("SHOP-2", "marketplace", "VN-SG", *SG),
    ("CARRIER", "carrier", None, None, None),
]


class Chain:
    """Items i0.., cases c0.., events by name; ``data()`` builds a TraceData."""

    def __init__(self, n_items: int = 6, n_cases: int = 2, extra_nodes: int = 0) -> None:
        self.nodes = [(f"urn:test:i{i}", 0) for i in range(n_items)]
        self.nodes += [(f"urn:test:c{i}", -1) for i in range(n_cases)]
        self.nodes += [(f"urn:test:x{i}", -1) for i in range(extra_nodes)]
        self.parties = list(PARTIES)
        self.events: list[dict] = []

    def party(self, name: str | None) -> int:
        if name is None:
            return -1
        names = [p[0] for p in self.parties]
        if name not in names:
            self.parties.append((name, "app", None, None, None))
            names.append(name)
        return names.index(name)

    def node(self, name: str) -> int:
        return [n[0] for n in self.nodes].index(f"urn:test:{name}")

    def ev(self, name: str, hours: float, kind: K, rows=(), by=None, src=None, dst=None,
           parent=None, at=None, detail=0):
        self.events.append(dict(name=name, t=us(hours), kind=int(kind), rows=list(rows),
                                by=by, src=src, dst=dst, parent=parent, at=at, detail=detail))

    def supply(self, items=("i0", "i1", "i2", "i3", "i4", "i5"), case="c0", to="RET-SG",
               hours=0.0, prefix=""):
        """The genuine story: commissioned by MFR, packed, shipped via DIST-SG to ``to``,
        unpacked there."""
        h = hours
        for it in items:
            self.ev(f"{prefix}com-{it}", h, K.COMMISSION, [it], by="MFR", at=HN)
        self.ev(f"{prefix}com-{case}", h, K.COMMISSION, [case], by="MFR", at=HN)
        self.ev(f"{prefix}pack-{case}", h + 1, K.AGGREGATE, items, by="MFR", parent=case, at=HN)
        self.ev(f"{prefix}ship1-{case}", h + 2, K.SHIP, [case], by="MFR", src="MFR",
                dst="DIST-SG", at=HN)
        self.ev(f"{prefix}recv1-{case}", h + 30, K.RECEIVE, [case], by="DIST-SG", dst="DIST-SG")
        self.ev(f"{prefix}ship2-{case}", h + 40, K.SHIP, [case], by="DIST-SG", src="DIST-SG",
                dst=to)
        self.ev(f"{prefix}recv2-{case}", h + 50, K.RECEIVE, [case], by=to, dst=to)
        self.ev(f"{prefix}open-{case}", h + 51, K.DISAGGREGATE, [], by=to, parent=case)

    def data(self, order=None, record=None) -> TraceData:
        """``record``: event name -> hours when the registry recorded it (the others: at
        their event time); None: no record times."""
        evs = self.events if order is None else [self.events[i] for i in order]
        for e in evs:  # register parties first
            for k in ("by", "src", "dst"):
                self.party(e[k])
        inc_e, inc_n = [], []
        for i, e in enumerate(evs):
            for r in e["rows"]:
                inc_e.append(i)
                inc_n.append(self.node(r))
        nan = float("nan")
        return TraceData.from_arrays(
            epcs=np.array([n[0] for n in self.nodes], dtype=object),
            parties=np.array([p[0] for p in self.parties], dtype=object),
            ev_ids=np.array([e["name"] for e in evs], dtype=object),
            ev_time=np.array([e["t"] for e in evs], dtype=np.int64),
            ev_kind=np.array([e["kind"] for e in evs], dtype=np.uint8),
            ev_by=np.array([self.party(e["by"]) for e in evs], dtype=np.int32),
            ev_src=np.array([self.party(e["src"]) for e in evs], dtype=np.int32),
            ev_dst=np.array([self.party(e["dst"]) for e in evs], dtype=np.int32),
            ev_lat=np.array([e["at"][0] if e["at"] else nan for e in evs]),
            ev_lon=np.array([e["at"][1] if e["at"] else nan for e in evs]),
            inc_event=np.array(inc_e, dtype=np.int64), inc_node=np.array(inc_n, dtype=np.int64),
            agg_parent=np.array([self.node(e["parent"]) if e["parent"] else -1 for e in evs],
                                dtype=np.int64),
            node_key=np.zeros(len(self.nodes), dtype=np.int32),
            node_batch=np.array([n[1] for n in self.nodes], dtype=np.int64),
            ev_detail=np.array([e["detail"] for e in evs], dtype=np.uint8),
            party_role=[p[1] for p in self.parties], party_region=[p[2] for p in self.parties],
            party_lat=[nan if p[3] is None else p[3] for p in self.parties],
            party_lon=[nan if p[4] is None else p[4] for p in self.parties],
            ev_record=None if record is None else np.array(
                [us(record[e["name"]]) if e["name"] in record else e["t"] for e in evs],
                dtype=np.int64))


def act(alerts, kind=None):
    return [a for a in alerts if a.score >= ACT_ON_IT and (kind is None or a.kind == kind)]


def codes(alerts):
    return sorted(c.removeprefix("urn:test:") for a in alerts for c in a.codes)


def check_exact(data: TraceData, config: DetectConfig | None = None) -> list[Alert]:
    """detect(), plus: the screen is exact and every run (threads, repeat) agrees."""
    alerts = detect(data, config=config)
    assert detect(data, config=config) == alerts
    cfg = config or DetectConfig()
    k = data.kernel(cfg)
    cand, obs, key = k.screen(1)
    recs, _, key_a, obs_a = k.analyse(np.arange(data.n_nodes, dtype=np.int32))
    assert set(recs["node"].tolist()) <= set(np.flatnonzero(cand).tolist())
    assert np.array_equal(key_a, key) and np.array_equal(obs_a, obs)
    for a in alerts:
        assert 0.0 <= a.score <= 1.0 and a.kind in KINDS and a.codes and a.evidence
        assert a.first_us <= a.last_us
    return alerts


def sold_and_scanned(c: Chain, item="i0", sell_h=60.0):
    c.ev(f"sell-{item}", sell_h, K.SELL, [item], by="RET-SG", at=SG)
    c.ev(f"scan-home-{item}", sell_h + 1, K.SCAN, [item], by="app:owner", at=(10.78, 106.71))


# ---------------------------------------------------------------------------------------
# the rules, one by one
# ---------------------------------------------------------------------------------------
def test_genuine_chain_is_quiet() -> None:
    c = Chain()
    c.supply()
    for i in range(4):
        sold_and_scanned(c, f"i{i}", 60 + i)
    c.ev("list-own", 55, K.LIST, ["i5"], by="RET-SG")  # a retailer listing its own stock
    c.ev("relist-own", 56, K.LIST, ["i5"], by="RET-SG")
    assert check_exact(c.data()) == []


def test_impossible_travel_two_devices_acts_one_device_is_weak() -> None:
    c = Chain()
    c.supply()
    sold_and_scanned(c, "i0")
    c.ev("scan-hn", 61.5, K.SCAN, ["i0"], by="app:other", at=HN)  # 1,140 km in 30 minutes
    sold_and_scanned(c, "i1")
    c.ev("scan-hn-same", 61.5, K.SCAN, ["i1"], by="app:owner", at=HN)
    alerts = check_exact(c.data())
    travel = [a for a in alerts if a.kind == "impossible_travel"]
    assert codes(act(travel)) == ["i0"]
    strong = act(travel)[0]
    assert strong.evidence == ("scan-home-i0", "scan-hn")
    assert strong.first_seen == T0 + timedelta(hours=61.5)
    weak = [a for a in travel if a.codes == ("urn:test:i1",)]
    assert len(weak) == 1 and weak[0].score < ACT_ON_IT


def test_clock_skew_within_tolerance_is_not_impossible_travel() -> None:
    # two scans 93 km apart (Hanoi, Hai Phong), 90 minutes apart on skewed phones: a door-to-
    # door trip takes 1.5 h + (93 - 2 x 5 km) / 800 km/h = 1.6 h, which the 15 minutes of
    # clock tolerance cover (1.75 h); with no tolerance the scans are too close
    c = Chain()
    c.supply(to="RET-HN")
    c.ev("sell", 60, K.SELL, ["i0"], by="RET-HN", at=(21.00, 105.80))
    c.ev("scan-a", 70, K.SCAN, ["i0"], by="app:a", at=(21.00, 105.80))
    c.ev("scan-b", 71.5, K.SCAN, ["i0"], by="app:b", at=(20.86, 106.68))
    data = c.data()
    assert act(check_exact(data), "impossible_travel") == []
    strict = DetectConfig(clock_skew_s=0)
    assert codes(act(check_exact(data, strict), "impossible_travel")) == ["i0"]


def test_complaints_are_no_stamp_activity() -> None:
    # a consumer's complaint on a stolen stamp, and before a stamp's commissioning: nothing
    c = Chain()
    c.supply()
    c.ev("stolen", 55, K.DECOMMISSION, ["i0"], by="RET-SG", detail=REASON_DETAILS["stolen"])
    c.ev("complaint-after", 70, K.COMPLAINT, ["i0"], by="app:someone", at=HN)
    c.ev("complaint-before", -5, K.COMPLAINT, ["i1"], by="app:someone")
    assert act(check_exact(c.data())) == []
    c.ev("scan-after", 71, K.SCAN, ["i0"], by="app:someone", at=HN)
    assert codes(act(check_exact(c.data()), "inactive_stamp_activity")) == ["i0"]


def test_kinds_the_kernels_do_not_know_reach_them_as_other() -> None:
    from antifake.detect._data import RULE_KINDS, _rule_kinds

    assert set(RULE_KINDS) == set(K)  # every kind of today's vocabulary is known
    later = max(int(k) for k in K) + 1  # one the vocabulary may gain
    got = _rule_kinds(np.array([K.SCAN, later, K.COMPLAINT], dtype=np.uint8))
    assert got.tolist() == [K.SCAN, K.OTHER, K.COMPLAINT]


def test_clock_offsets_from_record_times() -> None:
    h = 3_600_000_000
    t = np.array([10, 20, 30, 10, 20, 30, 50, 5], dtype=np.int64) * h
    # party 0: clock 2 h ahead (recorded before the event: certain); party 1: 1 h behind,
    # three events agree; party 2: one event recorded 3 h late (behind, or a late upload:
    # not corrected); party 3: no record time
    rec = np.array([8, 18, 28, 11, 21, 31, 53, 0], dtype=np.int64) * h
    by = np.array([0, 0, 0, 1, 1, 1, 2, 3], dtype=np.int32)
    off = clock_offsets(t, rec, by, 5)
    assert off.tolist() == [-2 * h, h, 0, 0, 0]
    assert (corrected_times(t, by, off) // h).tolist() == [8, 18, 28, 11, 21, 31, 50, 5]


def test_a_batch_upload_is_not_a_clock_behind() -> None:
    # a shop's system uploads its day (one event every 5 minutes, 8:00-17:55) at 18:00 in one
    # batch: its last events agree on a 5-10 minute delay, most do not: no correction. The
    # same shop with a clock 1 h behind and every event uploaded at once: corrected.
    m = 60_000_000
    t = np.arange(8 * 60, 18 * 60, 5, dtype=np.int64) * m
    batch = np.full(len(t), 18 * 60 * m, dtype=np.int64)
    by = np.zeros(len(t), dtype=np.int32)
    assert clock_offsets(t, batch, by, 1).tolist() == [0]
    assert clock_offsets(t, t + 60 * m + 20_000_000, by, 1).tolist() == [60 * m + 20_000_000]
    # three late events in a row agree, but they are a quarter of the party's records
    few = np.concatenate([t[:9], t[9:12]])
    rec = np.concatenate([t[:9] + 300 * m + np.arange(9) * 40 * m, t[9:12] + 90 * m])
    assert clock_offsets(few, rec, by[:12], 1).tolist() == [0]


def test_record_times_undo_a_phone_clock_that_hides_a_copy() -> None:
    # a copy scanned in Hanoi 90 minutes after the owner's scan in Saigon (a 2.9 h trip), on a
    # phone whose clock is 2 h ahead: it says 3.5 h after. The registry recorded the scan
    # 90 minutes after the owner's: with record times, the copy is impossible travel.
    c = Chain()
    c.supply()
    sold_and_scanned(c, "i0")
    c.ev("copy", 61 + 3.5, K.SCAN, ["i0"], by="app:copy", at=HN)
    # (without phones: the phone rule allows a phone's clock off by hours and would catch it)
    no_phones = DetectConfig(use_phones=False)
    assert act(check_exact(c.data(), no_phones), "impossible_travel") == []
    data = c.data(record={"copy": 61 + 1.5})
    assert data.clock_offsets_us[data.party_index("app:copy")] == -2 * 3_600_000_000
    travel = act(check_exact(data), "impossible_travel")
    assert codes(travel) == ["i0"] and travel[0].evidence == ("scan-home-i0", "copy")
    assert len(data.ev_record) == len(c.events)
    # a graph given is kept when no clock needs correcting, rebuilt from the corrected times
    # when one does
    plain = c.data()
    same = TraceData.from_arrays(**plain.graph_arrays(), graph=plain.graph,
                                 ev_record=np.zeros(len(c.events), np.int64))
    assert same.graph is plain.graph and not same.clock_offsets_us.any()
    moved = TraceData.from_arrays(**plain.graph_arrays(), graph=plain.graph,
                                  ev_record=data.ev_record, **plain.party_meta())
    assert moved.graph is not plain.graph
    assert np.array_equal(moved.ev_time, data.ev_time)
    assert codes(act(check_exact(moved), "impossible_travel")) == ["i0"]


def test_a_far_scan_and_a_scan_without_location_by_another_device() -> None:
    # sold in Saigon; the owner scans with no location; 40 minutes later another phone scans
    # it in Hanoi: the owner was at home, the other phone holds a copy (weighed below a
    # located pair). The same device, or hours apart: nothing to act on.
    c = Chain()
    c.supply()
    for it in ("i0", "i1", "i2"):
        c.ev(f"sell-{it}", 52, K.SELL, [it], by="RET-SG", at=SG)
    c.ev("owner-i0", 61, K.SCAN, ["i0"], by="app:owner0")
    c.ev("copy-i0", 61 + 40 / 60, K.SCAN, ["i0"], by="app:copy", at=HN)
    c.ev("owner-i1", 61, K.SCAN, ["i1"], by="app:owner1")
    c.ev("trip-i1", 61 + 40 / 60, K.SCAN, ["i1"], by="app:owner1", at=HN)
    c.ev("owner-i2", 61, K.SCAN, ["i2"], by="app:owner2")
    c.ev("trip-i2", 61 + 8, K.SCAN, ["i2"], by="app:friend", at=HN)
    alerts = check_exact(c.data())
    travel = act(alerts, "impossible_travel")
    assert codes(travel) == ["i0"]
    assert travel[0].evidence == ("owner-i0", "copy-i0") and travel[0].score < 0.6
    assert "no location" in travel[0].reason


def test_over_scanned_far_scanners_act_traveller_is_weak() -> None:
    c = Chain()
    c.supply()
    sold_and_scanned(c, "i0")
    for j, h in enumerate((200, 300, 400)):  # three phones in Hanoi, days apart: copies
        c.ev(f"fake-{j}", h, K.SCAN, ["i0"], by=f"app:fake{j}", at=(21.0 + j / 100, 105.8))
    sold_and_scanned(c, "i1")
    c.ev("trip", 500, K.SCAN, ["i1"], by="app:owner", at=DN)  # the owner on holiday
    c.ev("trip2", 500.5, K.SCAN, ["i1"], by="app:owner", at=DN)
    sold_and_scanned(c, "i2")
    for j in range(4):  # a family scanning at home
        c.ev(f"family-{j}", 70 + 10 * j, K.SCAN, ["i2"], by="app:mum", at=(10.781, 106.711))
    alerts = check_exact(c.data())
    over = [a for a in alerts if a.kind == "over_scanned"]
    assert codes(act(over)) == ["i0"]
    assert act(over)[0].evidence == ("fake-0", "fake-1", "fake-2")
    assert act(over)[0].first_seen == T0 + timedelta(hours=300)  # the second far scanner
    assert codes(act(alerts)) == ["i0"]  # the traveller and the family: no act-on-it alert
    trip = [a for a in alerts if a.codes == ("urn:test:i1",)]
    assert trip and all(a.score < ACT_ON_IT for a in trip)


def test_many_scanners_at_home_act() -> None:
    c = Chain()
    c.supply()
    sold_and_scanned(c, "i0")
    for j in range(15):
        c.ev(f"s{j}", 70 + j, K.SCAN, ["i0"], by=f"app:{j}", at=(10.78, 106.71))
    alerts = check_exact(c.data(), DetectConfig(max_scanners=12))
    assert codes(act(alerts, "over_scanned")) == ["i0"]


def test_diversion_of_a_case_names_every_item() -> None:
    c = Chain(n_items=10, n_cases=2)
    c.supply(items=("i0", "i1", "i2", "i3", "i4"), case="c0")
    c.supply(items=("i5", "i6", "i7", "i8", "i9"), case="c1", prefix="b-")
    # case c0 went to Hanoi instead: 4 of its 5 items scanned there, by their buyers
    for j, it in enumerate(("i0", "i1", "i2", "i3")):
        c.ev(f"out-{it}", 100 + j, K.SCAN, [it], by=f"app:hn{j}", at=(21.0 + j / 50, 105.8))
    # case c1 stays home; one traveller
    for j, it in enumerate(("i5", "i6", "i7")):
        c.ev(f"sell-{it}", 60, K.SELL, [it], by="RET-SG", at=SG)
        c.ev(f"home-{it}", 70, K.SCAN, [it], by=f"app:sg{j}", at=SG)
    c.ev("trip-i5", 300, K.SCAN, ["i5"], by="app:sg0", at=DN)
    alerts = check_exact(c.data())
    div = act(alerts, "diversion")
    assert len(div) == 1
    assert codes(div) == ["i0", "i1", "i2", "i3", "i4"]  # the unscanned item i4 too
    assert div[0].evidence == ("recv2-c0", "out-i0", "out-i1", "out-i2", "out-i3")
    assert div[0].first_seen == T0 + timedelta(hours=102)  # the third item outside
    assert "i5" not in codes(act(alerts))


def test_diversion_needs_enough_items() -> None:
    c = Chain()
    c.supply()
    for j, it in enumerate(("i0", "i1")):  # two items only: below diversion_min_items
        c.ev(f"out-{it}", 100 + j, K.SCAN, [it], by=f"app:hn{j}", at=HN)
    assert act(check_exact(c.data()), "diversion") == []
    assert codes(act(check_exact(c.data(), DetectConfig(diversion_min_items=2)),
                     "diversion")) == ["i0", "i1", "i2", "i3", "i4", "i5"]


def test_diversion_by_case_when_the_delivery_was_never_recorded() -> None:
    # c0 left its maker in Hanoi for Da Nang with no shipment or receipt recorded (its
    # custody stops at the maker): 4 of its 5 items scanned in Da Nang are found by their case.
    # c1 was shipped to RET-HN (its receipt lost): scans in Hanoi are where it was sent.
    c = Chain(n_items=10, n_cases=2)
    c.supply(items=("i0", "i1", "i2", "i3", "i4"), case="c0")
    c.supply(items=("i5", "i6", "i7", "i8", "i9"), case="c1", to="RET-HN", prefix="b-")
    lost = ("ship1-c0", "recv1-c0", "ship2-c0", "recv2-c0", "open-c0", "b-recv2-c1",
            "b-open-c1")
    c.events = [e for e in c.events if e["name"] not in lost]
    for j, it in enumerate(("i0", "i1", "i2", "i3")):
        c.ev(f"out-{it}", 100 + j, K.SCAN, [it], by=f"app:dn{j}", at=(16.05 + j / 50, 108.2))
    for j, it in enumerate(("i5", "i6", "i7", "i8")):
        c.ev(f"hn-{it}", 100 + j, K.SCAN, [it], by=f"app:hb{j}", at=(21.0 + j / 50, 105.8))
    alerts = check_exact(c.data())
    div = act(alerts, "diversion")
    assert len(div) == 1 and codes(div) == ["i0", "i1", "i2", "i3", "i4"]
    assert div[0].evidence[0] == "pack-c0" and "packed together" in div[0].reason
    assert not {"i5", "i6", "i7", "i8", "i9"} & set(codes(act(alerts)))
    assert act(check_exact(c.data(), DetectConfig(diversion_pack_fraction=1.5)),
               "diversion") == []


def test_diversion_near_the_maker_after_its_shipment_elsewhere() -> None:
    # c0's shipment from the maker in Hanoi to DIST-SG was recorded, its receipt and every
    # step after it lost, and its items are scanned in Hanoi, near the maker: custody still
    # names the maker, but the goods had left for Saigon. c1, shipped to RET-HN (Hanoi), is
    # scanned where it was sent; c2, with no shipment on record, may have gone anywhere.
    c = Chain(n_items=15, n_cases=3)
    groups = (("i0", "i1", "i2", "i3", "i4"), ("i5", "i6", "i7", "i8", "i9"),
              ("i10", "i11", "i12", "i13", "i14"))
    c.supply(items=groups[0], case="c0")
    c.supply(items=groups[1], case="c1", to="RET-HN", prefix="b-")
    c.supply(items=groups[2], case="c2", prefix="c-")
    lost = ("recv1-c0", "ship2-c0", "recv2-c0", "open-c0",
            "b-ship1-c1", "b-recv1-c1", "b-ship2-c1", "b-recv2-c1", "b-open-c1",
            "c-ship1-c2", "c-recv1-c2", "c-ship2-c2", "c-recv2-c2", "c-open-c2")
    c.events = [e for e in c.events if e["name"] not in lost]
    c.ev("b-ship-c1", 2, K.SHIP, ["c1"], by="MFR", src="MFR", dst="RET-HN", at=HN)
    for g, items in enumerate(groups):
        for j, it in enumerate(items[:4]):
            c.ev(f"hn-{it}", 100 + j, K.SCAN, [it], by=f"app:h{g}{j}",
                 at=(21.0 + j / 50, 105.83))
    alerts = check_exact(c.data())
    div = act(alerts, "diversion")
    assert codes(div) == sorted(groups[0])
    assert "hn-i0" in div[0].evidence
    assert not (set(groups[1]) | set(groups[2])) & set(codes(act(alerts)))


def test_a_case_sold_and_scanned_in_one_region_is_no_diversion() -> None:
    # c0's delivery to Da Nang went unrecorded (custody stops at the maker in Hanoi); two of
    # its items were sold there on record, four scanned there: one region, no diversion
    c = Chain(n_items=6, n_cases=1)
    c.supply(items=("i0", "i1", "i2", "i3", "i4", "i5"), case="c0", to="RET-DN")
    lost = ("ship1-c0", "recv1-c0", "ship2-c0", "recv2-c0", "open-c0")
    c.events = [e for e in c.events if e["name"] not in lost]
    for it in ("i0", "i1"):
        c.ev(f"sell-{it}", 90, K.SELL, [it], by="RET-DN", at=DN)
    for j, it in enumerate(("i0", "i2", "i3", "i4")):
        c.ev(f"dn-{it}", 100 + j, K.SCAN, [it], by=f"app:dn{j}", at=(16.05 + j / 50, 108.2))
    assert act(check_exact(c.data()), "diversion") == []


def test_a_gap_sale_beyond_the_reach_of_the_recorded_chain() -> None:
    # c0 reached DIST-SG (Saigon) on record; its shipment to a shop was lost. RET-SG selling
    # i1 is a plausible next step (weak); RET-DN, 600 km away in Da Nang, selling i0 is not.
    c = Chain()
    c.supply()
    c.events = [e for e in c.events if e["name"] not in ("ship2-c0", "recv2-c0", "open-c0")]
    c.ev("sell-dn", 80, K.SELL, ["i0"], by="RET-DN", at=DN)
    c.ev("sell-sg", 80, K.SELL, ["i1"], by="RET-SG", at=SG)
    alerts = check_exact(c.data())
    u = act(alerts, "unauthorized_seller")
    assert codes(u) == ["i0"] and "far from every region" in u[0].reason
    assert u[0].evidence == ("sell-dn",)
    weak = [a for a in alerts if a.kind == "unauthorized_seller" and "i1" in codes([a])]
    assert weak and weak[0].score < ACT_ON_IT
    # a distributor serving the whole country: a wide reach makes both plausible
    assert act(check_exact(c.data(), DetectConfig(gap_reach_km=2000)),
               "unauthorized_seller") == []
    # custody that never left its maker (who serves anywhere): weak, wherever the shop is
    c2 = Chain()
    c2.supply()
    c2.events = [e for e in c2.events if e["name"].startswith(("com-", "pack-"))]
    c2.ev("sell-dn", 80, K.SELL, ["i0"], by="RET-DN", at=DN)
    assert act(check_exact(c2.data()), "unauthorized_seller") == []


def test_unauthorized_seller_and_missed_receipt() -> None:
    c = Chain()
    c.supply(items=("i0", "i1", "i2"), case="c0")
    # a retail sale in Da Nang of a code RET-DN never had; a marketplace listing
    c.ev("sell-dn", 80, K.SELL, ["i0"], by="RET-DN", at=DN)
    c.ev("list-shop", 90, K.LIST, ["i1"], by="SHOP-1")
    # the chain of c1 lost its retailer receipt: the shipment to RET-HN authorises the sale
    c.supply(items=("i3", "i4", "i5"), case="c1", to="RET-HN", prefix="b-")
    c.events = [e for e in c.events if e["name"] not in ("b-recv2-c1", "b-open-c1")]
    c.ev("sell-hn", 80, K.SELL, ["i3"], by="RET-HN", at=(21.00, 105.80))
    alerts = check_exact(c.data())
    un = act(alerts, "unauthorized_seller")
    assert codes(un) == ["i0", "i1"]
    by_code = {a.codes[0]: a for a in un}
    assert by_code["urn:test:i0"].evidence == ("sell-dn",)
    assert by_code["urn:test:i1"].evidence == ("list-shop",)
    assert by_code["urn:test:i0"].score > by_code["urn:test:i1"].score  # a sale beats a listing
    assert "i3" not in codes(act(alerts))
    # the sale in Da Nang is also outside the regions the chain delivered to (Saigon)
    assert codes(act(alerts, "diversion")) == ["i0"]


def test_duplicate_listing() -> None:
    c = Chain()
    c.supply()
    c.ev("l1", 60, K.LIST, ["i0"], by="SHOP-1")
    c.ev("l2", 70, K.LIST, ["i0"], by="SHOP-2")
    c.ev("l3", 80, K.LIST, ["i0"], by="SHOP-1")  # the same seller again
    c.ev("own", 60, K.LIST, ["i1"], by="RET-SG")
    c.ev("own2", 61, K.LIST, ["i1"], by="RET-SG")
    alerts = check_exact(c.data())
    dup = act(alerts, "duplicate_listing")
    assert codes(dup) == ["i0"] and dup[0].evidence == ("l1", "l2")
    assert dup[0].first_seen == T0 + timedelta(hours=70)
    assert "i1" not in codes(act(alerts))


def test_inactive_stamp_activity_by_reason() -> None:
    c = Chain()
    c.supply()
    stolen, recalled = REASON_DETAILS["stolen"], REASON_DETAILS["recalled"]
    c.ev("theft", 55, K.DECOMMISSION, ["i0", "i1"], by="RET-SG", detail=stolen)
    c.ev("seen", 90, K.SCAN, ["i0"], by="app:x", at=SG)
    c.ev("recall", 55, K.DECOMMISSION, ["i2", "i3"], by="MFR", detail=recalled)
    c.ev("sold-recalled", 90, K.SELL, ["i2"], by="RET-SG", at=SG)
    # i3: bought before the recall, scanned at home afterwards: not an act-on-it alert
    c.ev("sold-early", 52, K.SELL, ["i3"], by="RET-SG", at=SG)
    c.ev("home-scan", 90, K.SCAN, ["i3"], by="app:y", at=SG)
    # i4: claimed, then someone else claims it
    c.ev("claim-ok", 60, K.CLAIM, ["i4"], by="app:buyer", at=SG, detail=CLAIM_DETAILS["ok"])
    c.ev("claim-again", 90, K.CLAIM, ["i4"], by="app:copy", at=HN,
         detail=CLAIM_DETAILS["already_claimed"])
    alerts = check_exact(c.data())
    ina = act(alerts, "inactive_stamp_activity")
    assert codes(ina) == ["i0", "i2", "i4"]
    by_code = {a.codes[0]: a for a in ina}
    assert by_code["urn:test:i0"].evidence == ("theft", "seen")
    assert "stolen" in by_code["urn:test:i0"].reason
    assert by_code["urn:test:i2"].evidence == ("recall", "sold-recalled")
    assert by_code["urn:test:i4"].evidence == ("claim-again",)


def test_claim_lockout_and_typos() -> None:
    c = Chain()
    c.supply()
    wrong, locked, ok = (CLAIM_DETAILS[k] for k in ("wrong_pin", "locked", "ok"))
    for j in range(5):
        c.ev(f"bf{j}", 100 + j / 60, K.CLAIM, ["i0"], by="app:bf", detail=wrong)
    c.ev("bf5", 100.2, K.CLAIM, ["i0"], by="app:bf", detail=locked)
    for j in range(2):  # a buyer mistyping twice, then right
        c.ev(f"typo{j}", 80 + j / 60, K.CLAIM, ["i1"], by="app:me", at=SG, detail=wrong)
    c.ev("right", 80.1, K.CLAIM, ["i1"], by="app:me", at=SG, detail=ok)
    alerts = check_exact(c.data())
    lock = act(alerts, "claim_lockout")
    assert codes(lock) == ["i0"]
    assert lock[0].evidence == ("bf0", "bf1", "bf2", "bf3", "bf4", "bf5")
    assert lock[0].first_seen == T0 + timedelta(hours=100 + 4 / 60)
    assert codes(act(alerts)) == ["i0"]


def test_out_of_order_cases() -> None:
    c = Chain(n_items=6, n_cases=2, extra_nodes=2)
    c.supply(items=("i0", "i1", "i2"), case="c0")
    # c1: received by the distributor a day before it was shipped
    for it in ("i3", "i4", "i5"):
        c.ev(f"com-{it}", 0, K.COMMISSION, [it], by="MFR", at=HN)
    c.ev("com-c1", 0, K.COMMISSION, ["c1"], by="MFR", at=HN)
    c.ev("pack-c1", 1, K.AGGREGATE, ["i3", "i4", "i5"], by="MFR", parent="c1")
    c.ev("early-recv", 10, K.RECEIVE, ["c1"], by="DIST-SG", dst="DIST-SG")
    c.ev("late-ship", 34, K.SHIP, ["c1"], by="MFR", src="MFR", dst="DIST-SG")
    # fakes never commissioned, packed into c0 by a carrier outside the chain
    c.ev("swap-out", 20, K.DISAGGREGATE, ["i2"], by="CARRIER", parent="c0")
    c.ev("swap-in", 20.1, K.AGGREGATE, ["x0", "x1"], by="CARRIER", parent="c0")
    # i0: sold, then received again by a business
    c.ev("sell-i0", 60, K.SELL, ["i0"], by="RET-SG", at=SG)
    c.ev("back-i0", 80, K.RECEIVE, ["i0"], by="RET-SG", dst="RET-SG")
    alerts = check_exact(c.data())
    ooo = {a.codes[0].removeprefix("urn:test:"): a for a in act(alerts, "out_of_order")}
    assert sorted(ooo) == ["c0", "c1", "i0", "i2", "x0", "x1"]
    assert ooo["c1"].evidence == ("early-recv", "late-ship")
    assert "received before" in ooo["c1"].reason
    assert ooo["x0"].evidence == ("swap-in",) and "never commissioned" in ooo["x0"].reason
    assert ooo["i2"].evidence == ("swap-out",) and "outside" in ooo["i2"].reason
    assert ooo["i0"].evidence == ("sell-i0", "back-i0")


def test_late_upload_and_event_order_do_not_matter() -> None:
    c = Chain()
    c.supply()
    sold_and_scanned(c, "i0")
    c.ev("fake-a", 200, K.SCAN, ["i0"], by="app:f1", at=HN)
    c.ev("fake-b", 210, K.SCAN, ["i0"], by="app:f2", at=HN)
    a = check_exact(c.data())
    rng = np.random.default_rng(1)
    for _ in range(3):
        b = check_exact(c.data(order=rng.permutation(len(c.events))))
        assert b == a
    # a sale uploaded late (its row last, its time early) changes nothing either
    c.ev("late-sale", 60.5, K.SELL, ["i1"], by="RET-SG", at=SG)
    assert act(check_exact(c.data())) == act(a)


def test_kinds_and_min_score_config() -> None:
    c = Chain()
    c.supply()
    sold_and_scanned(c, "i0")
    c.ev("scan-hn", 61.5, K.SCAN, ["i0"], by="app:other", at=HN)
    c.ev("trip", 500, K.SCAN, ["i1"], by="app:x", at=DN)
    only = detect(c.data(), config=DetectConfig(kinds={"over_scanned"}))
    assert only and {a.kind for a in only} == {"over_scanned"}
    strong = detect(c.data(), config=DetectConfig(min_score=0.5))
    assert strong and all(a.score >= 0.5 for a in strong)
    # ranked by score
    everything = detect(c.data())
    assert [a.score for a in everything] == sorted((a.score for a in everything), reverse=True)
    assert detect(c.data(), since=T0 + timedelta(hours=400)) == \
        [a for a in everything if a.last_seen >= T0 + timedelta(hours=400)]


# ---------------------------------------------------------------------------------------
# whole simulations: screen exactness, incremental == full, precision and recall
# ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def attacked():
    sim = simulate(SupplyChain(n_items=30_000, items_per_case=20, cases_per_pallet=10,
                               n_retailers=60, n_apps=200, transit_fraction=0.05,
                               held_fraction=0.05), seed=7)
    mix = AttackMix(clone_fraction=0.003, diverted_case_fraction=0.01, listing_fraction=0.003,
                    unauthorized_sale_fraction=0.002, brute_force_fraction=0.001,
                    repacked_pallets=2)
    return inject(sim, mix, Noise(), seed=7)


def test_injection_is_deterministic_and_consistent(attacked) -> None:
    sim = simulate(SupplyChain(n_items=2000, items_per_case=20, cases_per_pallet=10,
                               n_retailers=20, n_apps=50, held_fraction=0.2,
                               transit_fraction=0.2), seed=1)
    a = inject(sim, seed=3)
    b = inject(sim, seed=3)
    assert np.array_equal(a.ev_ids, b.ev_ids) and np.array_equal(a.ev_time, b.ev_time)
    assert a.attacks is not None and len(a.attacks.codes)
    counts = attacked.attacks.counts()
    assert all(counts[k] > 0 for k in counts), counts
    # every truth code is a node; starts are times; the graph builds
    assert set(attacked.attacks.codes.tolist()) <= set(attacked.epcs.tolist())
    assert attacked.graph().n_events == attacked.n_events
    assert (attacked.ev_detail[attacked.ev_kind == K.CLAIM] > 0).all()
    # attacks and noise never share a code
    noise_nodes = set().union(*(set(v.tolist()) for v in attacked.noise.values()))
    assert not noise_nodes & set(attacked.attacks.nodes.tolist())


def test_screen_is_exact_on_a_simulation(attacked) -> None:
    data = TraceData.from_simulation(attacked)
    k = data.kernel(DetectConfig())
    cand, obs, key = k.screen(1)
    cand2, obs2, key2 = k.screen(2)
    assert np.array_equal(cand, cand2) and np.array_equal(obs, obs2) and np.array_equal(key, key2)
    assert np.array_equal(k.keys(), key)
    recs, _, key_a, obs_a = k.analyse(np.arange(data.n_nodes, dtype=np.int32))
    fired = set(recs["node"].tolist())
    assert fired and fired <= set(np.flatnonzero(cand).tolist())
    assert np.array_equal(key_a, key) and np.array_equal(obs_a, obs)
    assert cand.sum() < 0.2 * data.n_nodes  # the screen does screen


def test_precision_recall_on_a_small_simulation(attacked) -> None:
    alerts = detect(TraceData.from_simulation(attacked))
    ev = evaluate(alerts, attacked)
    for name in ("copied codes", "diversion", "unauthorised sellers"):
        r = ev.per_category[name]
        # sales by shops of codes whose recorded custody stops at a wholesaler (unsold stock:
        # no owner's phone to tell) are weak by design (a gap in the records)
        low = 0.93 if name == "unauthorised sellers" else 0.95
        assert r["precision"] >= 0.95 and r["recall"] >= low, (name, r)
    for name in ("PIN brute force", "repacked fakes"):
        r = ev.per_category[name]
        assert r["precision"] >= 0.9 and r["recall"] >= 0.8, (name, r)
    assert ev.per_attack["stolen"]["recall_observable"] >= 0.95
    assert sum(ev.false_positives.values()) <= 3, ev.false_positives
    for a in alerts:
        assert 0.0 <= a.score <= 1.0
    assert "| copied codes |" in ev.table()


def test_noise_alone_raises_nothing_to_act_on() -> None:
    sim = simulate(SupplyChain(n_items=20_000, items_per_case=20, n_retailers=50, n_apps=200),
                   seed=11)
    noisy = inject(sim, AttackMix.none(), Noise().scaled(3.0), seed=11)
    assert len(noisy.attacks.codes) == 0
    alerts = detect(noisy)
    assert len(act(alerts)) <= 2, act(alerts)[:5]
    assert len(alerts) > 50  # travellers and families leave weak signals


def test_incremental_equals_full(attacked) -> None:
    full = detect(TraceData.from_simulation(attacked))
    det = Detector()
    n = attacked.n_events
    cuts = [n // 3, attacked.late_from, n - 7, n]
    for cut in cuts:
        det.update(TraceData.from_simulation(attacked.prefix(cut)))
        assert det.stats["events"] == cut
    assert det.stats["mode"] == "incremental"
    assert det.stats["examined"] < attacked.n_nodes // 10  # the last step: 7 events
    assert det.alerts == full


def test_incremental_with_event_objects() -> None:
    c = Chain()
    c.supply()
    sold_and_scanned(c, "i0")
    det = Detector()
    det.run(c.data())
    assert act(det.alerts) == []
    new = [af.Event.scan("urn:test:i0", by="app:f1", at=T0 + timedelta(hours=200),
                         lat=HN[0], lon=HN[1]),
           af.Event.scan("urn:test:i0", by="app:f2", at=T0 + timedelta(hours=210),
                         lat=HN[0] + 0.01, lon=HN[1]),
           af.Event.list("urn:test:new-code", seller="SHOP-9", at=T0 + timedelta(hours=5),
                         listing="https://shop.example/1")]
    changed = det.update(new)
    assert det.stats["mode"] == "incremental" and det.stats["examined"] <= 3
    # the far scanners; the listing of a code nobody ever held
    assert {(a.kind, a.codes[0]) for a in act(changed)} == {
        ("over_scanned", "urn:test:i0"), ("unauthorized_seller", "urn:test:new-code")}
    assert det.update(new) == []  # the same events again: no-op
    # equal to a full run over the same snapshot
    assert det.alerts == detect(det._state.data)


# ---------------------------------------------------------------------------------------
# a real registry, and marketplace listings
# ---------------------------------------------------------------------------------------
@pytest.fixture
def registry():
    from antifake.registry import Registry

    key = af.IssuerKey.generate("VN-QLTT-01")
    batch = af.issue(key, 12)
    reg = Registry(":memory:", keyring=af.Keyring([key]))
    reg.add_party("MFR-01", role="manufacturer", region="VN-HN", lat=HN[0], lon=HN[1])
    reg.add_party("RET-03", role="retailer", region="VN-SG", lat=SG[0], lon=SG[1])
    reg.add_party("SHOP-42", role="marketplace", region="VN-HN", lat=21.0, lon=105.8)
    reg.register(batch, owner="MFR-01", at=T0)
    yield reg, batch, key
    reg.close()


def at(h: float) -> datetime:
    return T0 + timedelta(hours=h)


def test_registry_detection(registry) -> None:
    reg, batch, _ = registry
    s = batch[0]
    reg.record(af.Event.ship([s, batch[1]], source="MFR-01", destination="RET-03", at=at(10)))
    reg.record(af.Event.receive([s, batch[1]], by="RET-03", at=at(30)))
    reg.record(af.Event.sell([s], by="RET-03", at=at(40)))
    reg.claim(s, batch.pins()[0], at=at(41), lat=SG[0], lon=SG[1], by="app:buyer")
    reg.record(af.Event.scan(s, by="app:copy1", at=at(100), lat=HN[0], lon=HN[1]))
    reg.record(af.Event.scan(s, by="app:copy2", at=at(120), lat=HN[0] + 0.02, lon=HN[1]))
    copy_claim = reg.claim(s, batch.pins()[0], at=at(121), lat=HN[0], lon=HN[1], by="app:copy2")
    assert copy_claim.result == "already_claimed"
    reg.record(af.Event.list(batch[2], seller="SHOP-42", at=at(50), listing="https://s/1"))
    reg.decommission([batch[3]], reason="stolen", by="MFR-01", at=at(5))
    reg.record(af.Event.scan(batch[3], by="app:fence", at=at(70), lat=DN[0], lon=DN[1]))
    for i in range(6):
        reg.claim(batch[4], batch.pins()[5], at=at(80 + i))
    alerts = detect(reg)
    found = {(a.kind, a.codes[0]) for a in act(alerts)}
    assert ("over_scanned", s.epc) in found
    assert ("inactive_stamp_activity", s.epc) in found  # claimed, then claimed again
    assert ("unauthorized_seller", batch[2].epc) in found
    assert ("inactive_stamp_activity", batch[3].epc) in found
    assert ("claim_lockout", batch[4].epc) in found
    lock = [a for a in alerts if a.kind == "claim_lockout"][0]
    assert len(lock.evidence) == 6 and all(e.startswith("ni:///sha-256;") for e in lock.evidence)
    assert not any(a.codes[0] == batch[1].epc for a in act(alerts))
    # cached while nothing changes; a new event is seen
    assert detect(reg) == alerts
    reg.record(af.Event.list(batch[1], seller="SHOP-42", at=at(60), listing="https://s/2"))
    assert ("unauthorized_seller", batch[1].epc) in {(a.kind, a.codes[0]) for a in detect(reg)}


def test_check_listing_on_a_registry(registry) -> None:
    reg, batch, key = registry
    base = "https://xacthuc.example.vn"
    s = batch[6]
    ok = check_listing(reg, s.url(base), "MFR-01")
    assert ok and ok.reasons == [] and ok.custodian == "MFR-01" and ok.epc == s.epc
    bad = check_listing(reg, s.url(base), "SHOP-42")
    assert not bad and "custodian is MFR-01" in bad.reasons[0] and "never held" in bad.reasons[0]
    n = reg.stats()["events"]
    reg.record(af.Event.ship([s], source="MFR-01", destination="RET-03", at=at(1)))
    assert check_listing(reg, s, "MFR-01").ok  # in transit: the source holds it
    reg.record(af.Event.receive([s], by="RET-03", at=at(2)))
    assert check_listing(reg, s.number, "RET-03").ok
    former = check_listing(reg, s, "MFR-01")
    assert not former and former.flags == LISTING_FLAGS["not_custodian"]
    reg.claim(s, batch.pins()[6], at=at(3))
    claimed = check_listing(reg, s, "RET-03")
    assert not claimed and "claimed" in claimed.reasons[0]
    reg.decommission([batch[7]], reason="stolen", by="MFR-01", at=at(3))
    assert "decommissioned (stolen)" in check_listing(reg, batch[7], "MFR-01").reasons[0]
    forged = check_listing(reg, af.issue(key, 1)[0].url(base), "MFR-01")
    assert not forged and forged.flags == LISTING_FLAGS["unknown_code"]
    assert reg.stats()["events"] == n + 4  # ship, receive, claim, decommission: no more
    # listed elsewhere already
    reg.record(af.Event.list(batch[8], seller="SHOP-42", at=at(4), listing="https://s/3"))
    dup = check_listing(reg, batch[8], "MFR-01")
    assert not dup and dup.flags == LISTING_FLAGS["listed_by_others"]


def test_check_listings_bulk_matches_single(registry) -> None:
    reg, batch, _ = registry
    reg.record(af.Event.ship([batch[0]], source="MFR-01", destination="RET-03", at=at(1)))
    reg.record(af.Event.receive([batch[0]], by="RET-03", at=at(2)))
    reg.record(af.Event.sell([batch[0]], by="RET-03", at=at(3)))
    reg.decommission([batch[1]], reason="recalled", by="MFR-01", at=at(3))
    codes_ = [batch[i] for i in range(4)] + ["urn:antifake:nothing"]
    sellers = ["RET-03", "MFR-01", "MFR-01", "SHOP-42", "MFR-01"]
    res = check_listings(reg, codes_, sellers)
    for i, (c, s) in enumerate(zip(codes_, sellers, strict=True)):
        one = check_listing(reg, c, s)
        assert bool(res.ok[i]) == one.ok and int(res.flags[i]) == one.flags
    assert listing_reasons(int(res.flags[0])) == ["not_custodian", "sold"]
    assert listing_reasons(int(res.flags[1]), int(res.reason[1])) == ["decommissioned (recalled)"]
    assert res.ok.tolist() == [False, False, True, False, False]


def test_check_listing_on_trace_data() -> None:
    c = Chain()
    c.supply()
    c.ev("list-x", 60, K.LIST, ["i1"], by="SHOP-1")
    data = c.data()
    assert check_listing(data, "urn:test:i0", "RET-SG").ok
    r = check_listing(data, "urn:test:i1", "RET-SG")
    assert not r.ok and r.flags == LISTING_FLAGS["listed_by_others"]
    assert check_listing(data, "urn:test:nope", "RET-SG").flags == LISTING_FLAGS["unknown_code"]
    assert check_listing(data, "urn:test:i0", "SHOP-9").flags == LISTING_FLAGS["not_in_chain"]


# ---------------------------------------------------------------------------------------
# bad inputs: antifake errors, never a crash
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("source", [None, 42, "stamps.db", object(), [1, 2], b"x"])
def test_bad_sources(source) -> None:
    with pytest.raises(DetectError):
        detect(source)
    with pytest.raises(AntifakeError):
        Detector().update(source)


def test_a_bare_graph_is_refused_with_advice() -> None:
    c = Chain()
    c.supply()
    with pytest.raises(DetectError, match="TraceData"):
        detect(c.data().graph)


@pytest.mark.parametrize("kw", [
    {"travel_km": -1}, {"travel_kmh": 0}, {"far_scanners": 0}, {"max_scanners": 1.5},
    {"diversion_min_fraction": 2.0}, {"max_evidence": 1}, {"min_score": math.nan},
    {"kinds": {"nope"}}, {"kinds": "over_scanned"}, {"threads": 0}, {"far_km": "50"},
    {"clock_skew_s": True},
])
def test_bad_config(kw) -> None:
    with pytest.raises(DetectError):
        DetectConfig(**kw)


def test_bad_columns() -> None:
    c = Chain()
    c.supply()
    good = c.data()
    base = dict(epcs=good.epcs, parties=good.parties, ev_ids=good.ev_ids, ev_time=good.ev_time,
                ev_kind=good.ev_kind, ev_by=good.ev_by, ev_src=good.ev_src, ev_dst=good.ev_dst,
                ev_lat=good.ev_lat, ev_lon=good.ev_lon, inc_event=good.inc_event,
                inc_node=good.inc_node, agg_parent=good.agg_parent,
                node_key=np.zeros(good.n_nodes, np.int32),
                node_batch=np.zeros(good.n_nodes, np.int64))
    for bad in ({"ev_time": good.ev_time[:-1]}, {"ev_by": good.ev_by + 100},
                {"inc_node": good.inc_node + 1000}, {"ev_kind": good.ev_kind + 50},
                {"ev_lat": np.array(["x"] * good.n_events)}, {"ev_detail": np.zeros(3)},
                {"party_lat": [1.0]}, {"inc_event": good.inc_event[:-1]},
                {"graph": "not a graph"}):
        with pytest.raises(DetectError):
            TraceData.from_arrays(**{**base, **bad})
    # a graph built from other columns
    other = Chain(n_items=3, n_cases=1)
    other.supply(items=("i0", "i1", "i2"))
    with pytest.raises(DetectError):
        TraceData.from_arrays(**base, graph=other.data().graph)
    # strange but valid values: no crash
    weird = dict(base, ev_lat=np.full(good.n_events, np.inf), ev_lon=np.full(good.n_events, 1e9))
    assert isinstance(detect(TraceData.from_arrays(**weird)), list)


def test_bad_listing_inputs() -> None:
    c = Chain()
    c.supply()
    data = c.data()
    with pytest.raises(DetectError):
        check_listing(data, "urn:test:i0", "")
    with pytest.raises(DetectError):
        check_listing(data, "urn:test:i0", None)  # type: ignore[arg-type]
    with pytest.raises(DetectError):
        check_listings(data, ["urn:test:i0"], ["a", "b"])
    assert not check_listing(data, 12345, "RET-SG").ok  # type: ignore[arg-type]
    assert check_listings(data, [], []).ok.shape == (0,)


def test_alert_value_object() -> None:
    a = Alert("over_scanned", ["urn:x"], 0.7, ["e1", "e2"], T0, "2025-03-02T00:00:00Z", "why")
    assert a.first_seen == T0 and a.last_seen == datetime(2025, 3, 2, tzinfo=UTC)
    assert a.act and a.codes == ("urn:x",) and pickle.loads(pickle.dumps(a)) == a
    assert a.to_dict()["first_seen"].startswith("2025-03-01T08:00:00")
    with pytest.raises(AttributeError):
        a.score = 1.0  # type: ignore[misc]
    for bad in (("nope", [], 0.5, [], T0), ("diversion", [], 1.5, [], T0),
                ("diversion", [], 0.5, [], "yesterday"), ("diversion", [], 0.5, [], None)):
        with pytest.raises(DetectError):
            Alert(*bad)


def test_empty_and_tiny_inputs() -> None:
    c = Chain(n_items=1, n_cases=0)
    c.ev("com", 0, K.COMMISSION, ["i0"], by="MFR", at=HN)
    assert detect(c.data()) == []
    c2 = Chain(n_items=1, n_cases=0)
    assert detect(c2.data()) == []  # no events at all
    sim = simulate(SupplyChain(n_items=0), seed=1)
    assert detect(sim) == []
