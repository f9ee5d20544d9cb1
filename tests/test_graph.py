"""Tests of the trace graph (antifake.graph) and the supply-chain simulator (part 1).

Three layers:
* a hand-written chain with exact expected answers (repack, unpack-all, in transit, a sold
  item staying in its case, custody at past times, ties broken by input order);
* property tests comparing every query with a pure-Python reference that replays the events
  in time order (small chains from ``antifake.research.sim`` and fully random event streams);
* bad inputs: errors, never a crash.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from antifake.epcis.kinds import EventKind as K
from antifake.errors import AntifakeError, FormatError, UnknownStampError
from antifake.graph import Recall, TraceGraph, UnknownPartyError, _graph, to_microseconds
from antifake.research.sim import DELIVERED, HELD, TRANSIT, SupplyChain, describe, simulate

T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def us(hours: float) -> int:
    return to_microseconds(at(hours))


# ---------------------------------------------------------------------------------------
# a tiny builder for hand-written chains
# ---------------------------------------------------------------------------------------
class Chain:
    def __init__(self, nodes, parties):
        self.nodes = list(nodes)  # (epc, key, batch)
        self.parties = list(parties)
        self.events = []  # dict(name, t, kind, by, src, dst, parent, rows)

    def ev(self, name, hours, kind, rows=(), by=None, src=None, dst=None, parent=None):
        self.events.append(dict(name=name, t=us(hours), kind=int(kind), by=by, src=src,
                                dst=dst, parent=parent, rows=list(rows)))

    def arrays(self, order=None):
        evs = self.events if order is None else [self.events[i] for i in order]
        nid = {n[0]: i for i, n in enumerate(self.nodes)}
        pid = {p: i for i, p in enumerate(self.parties)}
        P = lambda x: -1 if x is None else pid[x]  # noqa: E731
        inc_e, inc_n = [], []
        # rows not in event order (events backwards), the order inside an event kept
        for i in reversed(range(len(evs))):
            for r in evs[i]["rows"]:
                inc_e.append(i)
                inc_n.append(nid[r])
        return dict(
            epcs=np.array([n[0] for n in self.nodes], dtype=object),
            parties=np.array(self.parties, dtype=object),
            ev_ids=np.array([e["name"] for e in evs], dtype=object),
            ev_time=np.array([e["t"] for e in evs], dtype=np.int64),
            ev_kind=np.array([e["kind"] for e in evs], dtype=np.uint8),
            ev_by=np.array([P(e["by"]) for e in evs], dtype=np.int32),
            ev_src=np.array([P(e["src"]) for e in evs], dtype=np.int32),
            ev_dst=np.array([P(e["dst"]) for e in evs], dtype=np.int32),
            ev_lat=np.full(len(evs), np.nan),
            ev_lon=np.full(len(evs), np.nan),
            inc_event=np.array(inc_e, dtype=np.int64),
            inc_node=np.array(inc_n, dtype=np.int64),
            agg_parent=np.array([-1 if e["parent"] is None else nid[e["parent"]] for e in evs],
                                dtype=np.int64),
            node_key=np.array([n[1] for n in self.nodes], dtype=np.int32),
            node_batch=np.array([n[2] for n in self.nodes], dtype=np.int64),
        )


def hand_chain() -> Chain:
    nodes = [("i1", 1, 7), ("i2", 1, 7), ("i3", 1, 7), ("i4", 1, 8), ("i5", 2, 7),
             ("i6", 2, 7), ("c1", -1, -1), ("c2", -1, -1), ("c3", -1, -1), ("p1", -1, -1),
             ("p2", -1, -1)]
    ch = Chain(nodes, ["M", "D", "R", "R2"])
    ch.ev("e0", 0, K.COMMISSION, [n[0] for n in nodes], by="M")
    ch.ev("e1", 1, K.AGGREGATE, ["i1", "i2"], by="M", parent="c1")
    ch.ev("e2", 1, K.AGGREGATE, ["i3"], by="M", parent="c2")
    ch.ev("e3", 2, K.AGGREGATE, ["c1", "c2"], by="M", parent="p1")
    ch.ev("e4", 3, K.SHIP, ["p1"], by="M", src="M", dst="D")
    ch.ev("e5", 4, K.SCAN, ["p1"])  # observed in transit
    ch.ev("e6", 5, K.RECEIVE, ["p1"], by="D", src="M")
    ch.ev("e7", 6, K.DISAGGREGATE, [], by="D", parent="p1")  # unpack all
    ch.ev("e8", 7, K.DISAGGREGATE, ["i2"], by="D", parent="c1")  # take i2 out of c1 ...
    ch.ev("e9", 7, K.AGGREGATE, ["i2"], by="D", parent="c2")  # ... and repack it (same time)
    ch.ev("e10", 8, K.SHIP, ["c2"], by="D", src="D", dst="R")
    ch.ev("e11", 9, K.RECEIVE, ["c2"], by="R", src="D")
    ch.ev("e12", 10, K.SELL, ["i3"], by="R")  # sold, stays in c2
    ch.ev("e13", 11, K.SCAN, ["i3"])
    ch.ev("e14", 12, K.SHIP, ["c1"], by="D", src="D", dst="R2")
    ch.ev("e15", 13, K.RECEIVE, ["c1"], by="R2", src="D")
    ch.ev("e16", 14, K.DISAGGREGATE, [], by="R2", parent="c1")
    ch.ev("e17", 15, K.SELL, ["i1"], by="R2")
    ch.ev("e18", 16, K.SCAN, ["c2"], by="R")
    # a second pallet, packed and in transit
    ch.ev("e19", 1, K.AGGREGATE, ["i5", "i6"], by="M", parent="c3")
    ch.ev("e20", 2, K.AGGREGATE, ["c3"], by="M", parent="p2")
    ch.ev("e21", 3, K.SHIP, ["p2"], by="M", src="M", dst="D")
    return ch


# a shuffled input order that keeps e8 before e9 (tied in time) and e1 before e2
HAND_ORDER = [21, 17, 3, 0, 12, 5, 8, 19, 1, 9, 14, 2, 6, 20, 10, 4, 18, 11, 13, 7, 16, 15]


@pytest.fixture(scope="module")
def hand() -> TraceGraph:
    return TraceGraph.from_arrays(**hand_chain().arrays(HAND_ORDER))


def names(*ids):
    return [f"e{i}" for i in ids]


class TestHandChain:
    def test_shape(self, hand):
        s = hand.stats()
        assert (s["nodes"], s["items"], s["events"], s["parties"]) == (11, 6, 22, 4)
        assert len(hand) == 11 and "i1" in hand and "zz" not in hand

    def test_history(self, hand):
        assert hand.history_ids("i1") == names(0, 1, 3, 4, 5, 6, 7, 8, 14, 15, 16, 17)
        assert hand.history_ids("i2") == names(0, 1, 3, 4, 5, 6, 7, 8, 9, 10, 11, 18)
        assert hand.history_ids("i3") == names(0, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13, 18)
        assert hand.history_ids("i4") == names(0)
        assert hand.history_ids("i5") == names(0, 19, 20, 21)
        assert hand.history_ids("c1") == names(0, 1, 3, 4, 5, 6, 7, 8, 14, 15, 16)
        assert hand.history_ids("p1") == names(0, 3, 4, 5, 6, 7)
        h = hand.history("i3")
        assert h.dtype == np.int64
        assert [hand.event_ids[i] for i in h] == hand.history_ids("i3")

    def test_contents_and_containers(self, hand):
        assert list(hand.contents("p1")) == []  # unpacked: an opened container holds nothing
        assert list(hand.contents("c2")) == ["i2", "i3"]  # the sold i3 stays in its case
        assert list(hand.contents("c1")) == []
        assert list(hand.contents("p2")) == ["c3", "i5", "i6"]
        assert list(hand.contents("i1")) == []
        assert hand.containers("i3") == ["c2"]
        assert hand.containers("i2") == ["c2"]  # repacked
        assert hand.containers("i5") == ["c3", "p2"]
        assert hand.containers("i1") == []
        assert isinstance(hand.contents("p2"), np.ndarray)

    def test_custodian_now(self, hand):
        expect = {"i1": None, "i2": "R", "i3": None, "i4": "M", "i5": "M", "i6": "M",
                  "c1": "R2", "c2": "R", "c3": "M", "p1": "D", "p2": "M"}
        assert {n: hand.custodian(n) for n in expect} == expect

    def test_custodian_in_the_past(self, hand):
        assert hand.custodian("i1", at(-1)) is None  # before its commissioning
        assert hand.custodian("i1", at(0)) == "M"
        assert hand.custodian("i1", at(3.5)) == "M"  # in transit: still the source
        assert hand.custodian("i1", at(5)) == "D"  # received (at the exact time)
        assert hand.custodian("i1", at(5) - timedelta(microseconds=1)) == "M"
        assert hand.custodian("i1", at(12.5)) == "D"  # shipped to R2, not received yet
        assert hand.custodian("i1", at(13)) == "R2"
        assert hand.custodian("i1", at(15)) is None  # sold
        assert hand.custodian("i3", at(9.5)) == "R"
        assert hand.custodian("i3", at(10)) is None
        assert hand.custodian("i2", at(100)) == "R"
        # ISO strings, other offsets, integers (microseconds)
        assert hand.custodian("i1", "2025-03-01T13:30:00Z") == "D"
        assert hand.custodian("i1", "2025-03-01T20:30:00+07:00") == "D"
        assert hand.custodian("i1", us(13)) == "R2"

    def test_custody_chain(self, hand):
        assert hand.custody_chain("i1") == ["M", "D", "R2"]
        assert hand.custody_chain("i2") == ["M", "D", "R"]
        assert hand.custody_chain("i3") == ["M", "D", "R"]
        assert hand.custody_chain("i5") == ["M"]
        assert hand.in_chain("i1", "R2") and hand.in_chain("i1", "D")
        assert not hand.in_chain("i2", "R2")
        assert not hand.in_chain("i2", "no such party")

    def test_recall(self, hand):
        r = hand.recall(batch_id=7)
        assert isinstance(r, Recall)
        assert list(r.codes) == ["i1", "i2", "i3", "i5", "i6"]
        assert list(r.custodians) == [None, "R", None, "M", "M"]
        assert list(hand.recall(batch_id=7, key_id=1).codes) == ["i1", "i2", "i3"]
        assert list(hand.recall(key_id=2).codes) == ["i5", "i6"]
        assert list(hand.recall(batch_id=99).codes) == []
        r = hand.recall(via="R2")
        assert list(r.codes) == ["i1"] and list(r.custodians) == [None]
        assert list(hand.recall(via="D").codes) == ["i1", "i2", "i3"]
        # i1's spell at D is [5 h, 13 h] (closed): it meets a window starting at 13 h
        assert list(hand.recall(via="D", since=at(13)).codes) == ["i1"]
        assert list(hand.recall(via="D", since=at(13.1)).codes) == []
        assert list(hand.recall(via="D", until=at(4.9)).codes) == []
        assert list(hand.recall(via="D", until=at(5)).codes) == ["i1", "i2", "i3"]
        # ordered by (batch, node): batch 7 (i5, i6) before batch 8 (i4)
        assert list(hand.recall(via="M", since=at(5.5)).codes) == ["i5", "i6", "i4"]
        assert list(hand.recall(batch_id=7, via="R", since=at(9), until=at(9)).codes) == \
            ["i2", "i3"]
        with pytest.raises(UnknownPartyError):
            hand.recall(via="nobody")
        with pytest.raises(ValueError):
            hand.recall(via="D", since=at(5), until=at(4))
        with pytest.raises(TypeError):
            hand.recall(batch_id="7")
        assert list(hand.recall(batch_id=2**70).codes) == []
        assert list(hand.recall(key_id=-(2**40)).codes) == []

    def test_unknown_and_bad_codes(self, hand):
        for bad in ["nope", "", "i1 ", "x" * 100_000, "\x00", "é"]:
            with pytest.raises(UnknownStampError):
                hand.history(bad)
        for bad in [None, 3, b"i1", 1.5, ["i1"]]:
            with pytest.raises(UnknownStampError):
                hand.custodian(bad)
        with pytest.raises(LookupError):
            hand.contents("nope")
        with pytest.raises(AntifakeError):
            hand.containers("nope")

    def test_stamp_like_objects(self, hand):
        class Stamp:
            epc = "i3"

        assert hand.containers(Stamp()) == ["c2"]

    def test_bad_times(self, hand):
        with pytest.raises(FormatError):
            hand.custodian("i1", datetime(2025, 3, 1))  # naive
        with pytest.raises(FormatError):
            hand.custodian("i1", "2025-03-01T10:00:00")  # no offset
        with pytest.raises(FormatError):
            hand.custodian("i1", "yesterday")
        with pytest.raises(FormatError):
            hand.custodian("i1", "9" * 10_000)
        with pytest.raises(TypeError):
            hand.custodian("i1", True)
        with pytest.raises(TypeError):
            hand.custodian("i1", 1.5)
        assert hand.custodian("i1", np.datetime64("2025-03-01T13:30:00", "us")) == "D"

    def test_immutable(self, hand):
        with pytest.raises(AttributeError):
            hand._t = None
        with pytest.raises(ValueError):
            hand.epcs[0] = "x"
        with pytest.raises(ValueError):
            hand._own_rank[0] = 0
        with pytest.raises(TypeError):
            TraceGraph()

    def test_inputs_left_alone(self):
        a = good_arrays()
        before = {k: v.copy() for k, v in a.items()}
        TraceGraph.from_arrays(**a)
        for k, v in a.items():
            assert v.flags.writeable, k
            assert np.array_equal(v, before[k], equal_nan=v.dtype.kind == "f"), k

    def test_far_times(self, hand):
        assert hand.custodian("i1", 2**70) is None  # beyond int64: after everything (sold)
        assert hand.custodian("i2", 2**70) == "R"
        assert hand.custodian("i2", -(2**70)) is None
        assert hand.custodian("i2", "9999-12-31T23:59:59+00:00") == "R"
        assert hand.custodian("i2", "0001-01-01T00:00:00+00:00") is None

    def test_input_order_independent(self):
        ch = hand_chain()
        g1 = TraceGraph.from_arrays(**ch.arrays())
        g2 = TraceGraph.from_arrays(**ch.arrays(HAND_ORDER))
        for n in ["i1", "i2", "i3", "i5", "c1", "c2", "p1", "p2"]:
            assert g1.history_ids(n) == g2.history_ids(n)
            assert g1.custody_chain(n) == g2.custody_chain(n)
            assert list(g1.contents(n)) == list(g2.contents(n))


def test_ties_are_broken_by_input_order():
    def graph(first_sell):
        ch = Chain([("a", 1, 1)], ["X", "Y"])
        ch.ev("c", 0, K.COMMISSION, ["a"], by="X")
        if first_sell:
            ch.ev("s", 1, K.SELL, ["a"], by="Y")
            ch.ev("r", 1, K.RECEIVE, ["a"], by="Y")
        else:
            ch.ev("r", 1, K.RECEIVE, ["a"], by="Y")
            ch.ev("s", 1, K.SELL, ["a"], by="Y")
        return TraceGraph.from_arrays(**ch.arrays())

    g = graph(first_sell=False)
    assert g.custodian("a") is None and g.custodian("a", at(1)) is None
    assert g.history_ids("a") == ["c", "r", "s"]
    g = graph(first_sell=True)
    assert g.custodian("a") == "Y" and g.custodian("a", at(1)) == "Y"
    assert g.history_ids("a") == ["c", "s", "r"]


def test_moves_cycles_and_self_aggregation():
    ch = Chain([("a", -1, -1), ("b", -1, -1), ("c", -1, -1), ("x", 1, 1)], ["P"])
    ch.ev("e0", 0, K.AGGREGATE, ["x"], by="P", parent="a")
    ch.ev("e1", 1, K.AGGREGATE, ["a"], by="P", parent="b")
    ch.ev("e2", 2, K.AGGREGATE, ["b"], by="P", parent="a")  # cycle: ignored
    ch.ev("e3", 2, K.AGGREGATE, ["b"], by="P", parent="b")  # itself: ignored
    ch.ev("e4", 3, K.SCAN, ["a"])
    ch.ev("e5", 4, K.AGGREGATE, ["x"], by="P", parent="c")  # moved without unpacking
    ch.ev("e6", 5, K.SCAN, ["a"])  # a's event after x left: not in x's history
    ch.ev("e7", 6, K.SCAN, ["b"])
    ch.ev("e8", 7, K.DISAGGREGATE, ["x"], by="P", parent="a")  # x is not in a: no-op
    ch.ev("e9", 8, K.COMMISSION, ["c"], by="P")
    g = TraceGraph.from_arrays(**ch.arrays())
    assert g.containers("x") == ["c"]
    assert g.containers("a") == ["b"]
    assert g.containers("b") == []
    assert list(g.contents("b")) == ["a"]
    # e2 and e3 are b's and a's own events (refused, but recorded) while x was in a in b
    assert g.history_ids("x") == ["e0", "e1", "e2", "e3", "e4", "e5", "e8", "e9"]
    assert g.history_ids("b") == ["e1", "e2", "e3", "e7"]
    assert g.custodian("x") == "P" and g.custodian("a") is None
    assert g.stats()["stays"] == 3


def test_empty_graph():
    g = TraceGraph.from_arrays([], [], [], [], [], [], [], [], [], [], [], [], [], [], [])
    assert g.stats()["nodes"] == 0 and len(g.recall().codes) == 0
    with pytest.raises(UnknownStampError):
        g.history("a")
    ch = Chain([("a", 1, 1)], ["P"])
    g = TraceGraph.from_arrays(**ch.arrays())  # no events
    assert g.history_ids("a") == [] and g.custodian("a") is None
    assert g.custodian("a", at(1)) is None and g.custody_chain("a") == []
    assert list(g.recall(via="P").codes) == [] and list(g.recall().codes) == ["a"]


# ---------------------------------------------------------------------------------------
# bad inputs
# ---------------------------------------------------------------------------------------
def good_arrays():
    return hand_chain().arrays(HAND_ORDER)


def mutated(**changes):
    a = good_arrays()
    a.update(changes)
    return a


@pytest.mark.parametrize("name", ["ev_time", "ev_kind", "ev_by", "ev_src", "ev_dst", "ev_lat",
                                  "ev_lon", "agg_parent", "node_key", "node_batch",
                                  "inc_event", "inc_node", "ev_ids", "epcs"])
def test_mismatched_lengths(name):
    a = good_arrays()
    a[name] = a[name][:-1]
    with pytest.raises(ValueError):
        TraceGraph.from_arrays(**a)


@pytest.mark.parametrize("name,value", [
    ("inc_event", 22), ("inc_event", -1), ("inc_node", 11), ("inc_node", -1),
    ("agg_parent", 11), ("agg_parent", -2), ("ev_by", 4), ("ev_by", -2), ("ev_src", 99),
    ("ev_dst", -5), ("ev_kind", max(K) + 1), ("ev_kind", 255), ("node_key", 2**31),
])
def test_out_of_range_ids(name, value):
    a = good_arrays()
    col = a[name].astype(np.int64)
    col[3] = value
    a[name] = col
    with pytest.raises(ValueError):
        TraceGraph.from_arrays(**a)


def test_bad_types_and_shapes():
    a = good_arrays()
    with pytest.raises(ValueError):
        TraceGraph.from_arrays(**mutated(ev_by=a["ev_by"].astype(float)))
    with pytest.raises(ValueError):
        TraceGraph.from_arrays(**mutated(inc_node=a["inc_node"].astype(bool)))
    with pytest.raises(ValueError):
        TraceGraph.from_arrays(**mutated(ev_time=a["ev_time"].reshape(2, -1)))
    with pytest.raises(ValueError):
        TraceGraph.from_arrays(**mutated(ev_lat=np.array(["x"] * 22)))
    with pytest.raises(ValueError):
        TraceGraph.from_arrays(**mutated(epcs=np.array([a["epcs"]])))
    with pytest.raises(ValueError):
        TraceGraph.from_arrays(**mutated(ev_time=np.full(22, np.datetime64("NaT", "us"))))
    # datetime64 times are accepted
    g = TraceGraph.from_arrays(**mutated(ev_time=a["ev_time"].astype("datetime64[us]")))
    assert g.custodian("i1", at(13)) == "R2"
    # uint64 ids beyond int64
    with pytest.raises(ValueError):
        TraceGraph.from_arrays(**mutated(inc_node=np.full(len(a["inc_node"]), 2**63,
                                                          dtype=np.uint64)))


def test_non_string_epcs_refused():
    a = good_arrays()
    epcs = a["epcs"].copy()
    epcs[2] = 17
    with pytest.raises(ValueError, match="str"):
        TraceGraph.from_arrays(**mutated(epcs=epcs))
    epcs[2] = None
    with pytest.raises(ValueError, match="str"):
        TraceGraph.from_arrays(**mutated(epcs=epcs))
    parties = a["parties"].copy()
    parties[1] = ["D"]
    with pytest.raises(ValueError, match="str"):
        TraceGraph.from_arrays(**mutated(parties=parties))


def test_duplicates_refused():
    a = good_arrays()
    epcs = a["epcs"].copy()
    epcs[4] = epcs[0]
    with pytest.raises(ValueError, match="more than once"):
        TraceGraph.from_arrays(**mutated(epcs=epcs))
    parties = a["parties"].copy()
    parties[1] = parties[0]
    with pytest.raises(ValueError, match="duplicate"):
        TraceGraph.from_arrays(**mutated(parties=parties))


def test_kernels_check_their_border():
    g = TraceGraph.from_arrays(**good_arrays())
    for bad in [-1, 11, 2**40]:
        with pytest.raises((IndexError, OverflowError)):
            g._k.history(bad)
        with pytest.raises((IndexError, OverflowError)):
            g._k.custodian_at(bad, 0)
        with pytest.raises((IndexError, OverflowError)):
            g._k.containers(bad)
    with pytest.raises(IndexError):
        g._k.held_by(np.array([0, 11], dtype=np.int32), 0, 0, 5)
    with pytest.raises(IndexError):
        _graph.group_by(np.array([0, 3], dtype=np.int32), 3, np.zeros(2, np.int32))
    with pytest.raises(ValueError):
        _graph.group_by(np.array([0, 1], dtype=np.int32), 3, np.zeros(3, np.int32))
    ptr = np.array([0, 1, 2], dtype=np.int64)
    with pytest.raises(IndexError):
        _graph.replay(np.zeros(2, np.uint8), np.full(2, -1, np.int32), np.zeros(2, np.int32),
                      ptr, np.array([0, 5], np.int32), 3, 2)
    with pytest.raises(ValueError):
        _graph.replay(np.zeros(2, np.uint8), np.full(2, -1, np.int32), np.zeros(2, np.int32),
                      np.array([0, 3, 2]), np.array([0, 1], np.int32), 3, 2)
    with pytest.raises(IndexError):
        _graph.own_events(np.zeros(2, np.uint8), ptr, np.array([0, 1], np.int32),
                          np.array([-1, 7], np.int32), 3)
    with pytest.raises(IndexError):
        _graph.prepare_events(np.array([0, 2], np.int32), np.zeros(2, np.int64),
                              np.zeros(2, np.uint8), np.zeros(2, np.int32),
                              np.zeros(2, np.int32), np.zeros(2, np.int32),
                              np.zeros(2, np.int64))
    with pytest.raises(IndexError):
        _graph.incidence_by_rank(np.zeros(2, np.int32), np.array([0, 2]), np.array([0, 0]))
    with pytest.raises(ValueError):
        _graph.preorder_forest(np.array([1, 0], np.int32), np.array([0, 1, 2]),
                               np.array([1, 0], np.int32))  # a cycle is not a forest
    with pytest.raises(ValueError):
        _graph.Kernels(*[np.zeros(0, np.int64)] * 13, np.zeros(0, dtype=object),
                       np.zeros(0, np.int64))
    assert g._k.node_of(b"i1") == -1 and g._k.node_of(None) == -1
    assert g._k.node_of("i1") == 0 and g._k.node_of("zz") == -1


@given(st.lists(st.integers(-(2**62), 2**62), max_size=300))
@settings(max_examples=60, deadline=None)
def test_radix_argsort_is_a_stable_argsort(keys):
    k = np.array(keys, dtype=np.int64)
    assert np.array_equal(_graph.radix_argsort(k), np.argsort(k, kind="stable"))


def test_radix_argsort_extremes():
    k = np.array([2**63 - 1, -(2**63), 0, -1, 2**63 - 1, -(2**63), 5] * 50, dtype=np.int64)
    assert np.array_equal(_graph.radix_argsort(k), np.argsort(k, kind="stable"))
    k = np.arange(1000, dtype=np.int64)
    assert np.array_equal(_graph.radix_argsort(k), np.arange(1000))


# ---------------------------------------------------------------------------------------
# the pure-Python reference: replay the events in (time, input index) order
# ---------------------------------------------------------------------------------------
NO_CHANGE = -2


class Reference:
    """The semantics, stated directly: an event reaches its own nodes and everything inside
    them (before or after its own containment change); custody follows the reached events."""

    def __init__(self, a):
        self.epcs = list(a["epcs"])
        self.parties = list(a["parties"])
        self.ev_ids = list(a["ev_ids"])
        t = [int(x) for x in a["ev_time"]]
        kind, by, src, dst = (list(map(int, a[k])) for k in ("ev_kind", "ev_by", "ev_src",
                                                             "ev_dst"))
        par = list(map(int, a["agg_parent"]))
        self.key = list(map(int, a["node_key"]))
        self.batch = list(map(int, a["node_batch"]))
        n = len(self.epcs)
        rows = defaultdict(list)
        for e, x in zip(a["inc_event"], a["inc_node"]):
            rows[int(e)].append(int(x))
        order = sorted(range(len(t)), key=lambda e: (t[e], e))
        self.times = [t[e] for e in order]
        parent = [-1] * n
        children = defaultdict(set)

        def below(xs):
            seen, todo = set(), list(xs)
            while todo:
                y = todo.pop()
                if y not in seen:
                    seen.add(y)
                    todo.extend(children[y])
            return seen

        def ancestors_or_self(x):
            out = set()
            while x != -1:
                out.add(x)
                x = parent[x]
            return out

        self.hist = [[] for _ in range(n)]
        self.cust = [-1] * n
        self.log = [[] for _ in range(n)]  # (rank, party) at each change
        for rank, e in enumerate(order):
            p = par[e]
            own = rows[e] + ([p] if p >= 0 else [])
            before = below(own)
            if kind[e] == K.AGGREGATE and p >= 0:
                for c in rows[e]:
                    if c == p or parent[c] == p or c in ancestors_or_self(p):
                        continue
                    if parent[c] != -1:
                        children[parent[c]].discard(c)
                    parent[c] = p
                    children[p].add(c)
            elif kind[e] == K.DISAGGREGATE and p >= 0:
                for c in (rows[e] if rows[e] else list(children[p])):
                    if parent[c] == p:
                        children[p].discard(c)
                        parent[c] = -1
            after = below(own)
            for x in before | after:
                self.hist[x].append(e)
            v = NO_CHANGE
            if kind[e] == K.COMMISSION:
                v = by[e]
            elif kind[e] == K.SHIP:
                v = src[e] if src[e] >= 0 else by[e]
                v = NO_CHANGE if v < 0 else v
            elif kind[e] == K.RECEIVE:
                v = by[e] if by[e] >= 0 else dst[e]
                v = NO_CHANGE if v < 0 else v
            elif kind[e] == K.SELL:
                v = -1
            if v != NO_CHANGE:
                for x in after:
                    if self.cust[x] != v:
                        self.cust[x] = v
                        self.log[x].append((rank, v))
        self.parent = parent
        self.children = children

    def party(self, p):
        return None if p < 0 else self.parties[p]

    def history_ids(self, x):
        return [self.ev_ids[e] for e in self.hist[x]]

    def contents(self, x):
        out = []

        def walk(y):
            for c in sorted(self.children[y]):
                out.append(self.epcs[c])
                walk(c)

        walk(x)
        return out

    def containers(self, x):
        out = []
        x = self.parent[x]
        while x != -1:
            out.append(self.epcs[x])
            x = self.parent[x]
        return out

    def custodian(self, x, t=None):
        if t is None:
            return self.party(self.cust[x])
        last = sum(1 for s in self.times if s <= t) - 1
        v = -1
        for rank, p in self.log[x]:
            if rank <= last:
                v = p
        return self.party(v)

    def chain(self, x):
        out = []
        for _, p in self.log[x]:
            if p >= 0 and (not out or out[-1] != p):
                out.append(p)
        return [self.parties[p] for p in out]

    def recall(self, batch_id=None, via=None, since=None, until=None, key_id=None):
        items = [x for x in range(len(self.epcs)) if self.batch[x] >= 0]
        items.sort(key=lambda x: (self.batch[x], x))
        out = []
        for x in items:
            if batch_id is not None and self.batch[x] != batch_id:
                continue
            if key_id is not None and self.key[x] != key_id:
                continue
            if via is not None:
                pid = self.parties.index(via)
                lo = -np.inf if since is None else since
                hi = np.inf if until is None else until
                log = self.log[x]
                ok = False
                for k, (rank, p) in enumerate(log):
                    start = self.times[rank]
                    end = self.times[log[k + 1][0]] if k + 1 < len(log) else np.inf
                    if p == pid and start <= hi and end >= lo:
                        ok = True
                if not ok:
                    continue
            out.append(x)
        return [self.epcs[x] for x in out], [self.party(self.cust[x]) for x in out]


def compare(a, g=None):
    g = g if g is not None else TraceGraph.from_arrays(**a)
    ref = Reference(a)
    times = sorted(set(ref.times))
    probes = sorted({t + d for t in times for d in (-1, 0, 1)} | {-(2**40), 2**40})
    for x, epc in enumerate(ref.epcs):
        assert g.history_ids(epc) == ref.history_ids(x), epc
        assert list(g.contents(epc)) == ref.contents(x), epc
        assert g.containers(epc) == ref.containers(x), epc
        assert g.custodian(epc) == ref.custodian(x), epc
        for t in probes:
            assert g.custodian(epc, t) == ref.custodian(x, t), (epc, t)
        assert g.custody_chain(epc) == ref.chain(x), epc
        for party in ref.parties:
            assert g.in_chain(epc, party) == (party in ref.chain(x))
    batches = sorted({b for b in ref.batch if b >= 0}) + [None, 10**6]
    keys = sorted(set(ref.key)) + [None]
    windows = [(None, None)] + [(times[i], times[j]) for i, j in
                                [(0, -1), (len(times) // 3, len(times) // 2), (-1, -1),
                                 (len(times) // 2, len(times) // 2)] if times]
    for b in batches[:4] + [None]:
        for k in keys[:2] + [None]:
            for via in [None] + ref.parties[:4]:
                for since, until in windows if via is not None else [(None, None)]:
                    got = g.recall(batch_id=b, via=via, since=since, until=until, key_id=k)
                    codes, custs = ref.recall(b, via, since, until, k)
                    assert list(got.codes) == codes, (b, k, via, since, until)
                    assert list(got.custodians) == custs
    return ref


def test_reference_agrees_on_the_hand_chain(hand):
    compare(hand_chain().arrays(HAND_ORDER), hand)


chains = st.builds(
    SupplyChain,
    n_items=st.integers(0, 60),
    items_per_case=st.integers(1, 6),
    cases_per_pallet=st.integers(1, 4),
    n_manufacturers=st.integers(1, 3),
    n_distributors=st.integers(1, 3),
    n_retailers=st.integers(1, 4),
    n_apps=st.integers(0, 3),
    scans_per_item=st.floats(0, 3),
    sold_fraction=st.floats(0, 1),
    transit_fraction=st.floats(0, 0.5),
    held_fraction=st.floats(0, 0.5),
    repack_fraction=st.floats(0, 1),
    open_fraction=st.floats(0, 1),
    explicit_unpack_fraction=st.floats(0, 1),
    batch_size=st.integers(1, 30),
    days=st.floats(0.01, 30),
    shuffle_events=st.booleans(),
    seed=st.integers(0, 2**32),
)


@given(chains)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_simulated_chains_match_the_reference(params):
    sim = simulate(params)
    compare(sim.arrays(), sim.graph())


@st.composite
def random_streams(draw):
    """Arbitrary event streams: any kind, any nodes, tied times, cycles, moves, junk."""
    n = draw(st.integers(1, 10))
    n_p = draw(st.integers(1, 4))
    n_e = draw(st.integers(0, 40))
    node = st.integers(0, n - 1)
    party = st.integers(-1, n_p - 1)
    evs = []
    for _ in range(n_e):
        kind = draw(st.sampled_from([K.COMMISSION, K.AGGREGATE, K.AGGREGATE, K.DISAGGREGATE,
                                     K.DISAGGREGATE, K.SHIP, K.RECEIVE, K.SELL, K.SCAN,
                                     K.DECOMMISSION, K.OTHER]))
        rows = draw(st.lists(node, max_size=4))
        parent = draw(node) if kind in (K.AGGREGATE, K.DISAGGREGATE) and draw(
            st.integers(0, 9)) else draw(st.sampled_from([-1, -1, -1, 0]))
        evs.append((draw(st.integers(0, 12)), int(kind), draw(party), draw(party),
                    draw(party), parent, rows))
    # rows grouped by event in any event order; the order inside an event is kept
    ev_order = draw(st.permutations(range(n_e)))
    inc = [(i, x) for i in ev_order for x in evs[i][6]]
    return dict(
        epcs=np.array([f"n{i}" for i in range(n)], dtype=object),
        parties=np.array([f"P{i}" for i in range(n_p)], dtype=object),
        ev_ids=np.array([f"e{i}" for i in range(n_e)], dtype=object),
        ev_time=np.array([e[0] for e in evs], dtype=np.int64),
        ev_kind=np.array([e[1] for e in evs], dtype=np.uint8),
        ev_by=np.array([e[2] for e in evs], dtype=np.int32),
        ev_src=np.array([e[3] for e in evs], dtype=np.int32),
        ev_dst=np.array([e[4] for e in evs], dtype=np.int32),
        ev_lat=np.zeros(n_e),
        ev_lon=np.zeros(n_e),
        inc_event=np.array([r[0] for r in inc], dtype=np.int64),
        inc_node=np.array([r[1] for r in inc], dtype=np.int64),
        agg_parent=np.array([e[5] for e in evs], dtype=np.int64),
        node_key=np.array([draw(st.integers(-1, 2)) for _ in range(n)], dtype=np.int32),
        node_batch=np.array([draw(st.integers(-1, 3)) for _ in range(n)], dtype=np.int64),
    )


@given(random_streams())
@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_random_streams_match_the_reference(a):
    compare(a)


# ---------------------------------------------------------------------------------------
# the simulator against its own ground truth
# ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def sim():
    return simulate(SupplyChain(n_items=20_000, items_per_case=20, cases_per_pallet=10,
                                n_retailers=40, n_apps=50, repack_fraction=0.05,
                                held_fraction=0.05, transit_fraction=0.05), seed=11)


def test_sim_is_deterministic():
    p = SupplyChain(n_items=500, items_per_case=8, cases_per_pallet=3, n_retailers=6)
    a, b = simulate(p, seed=5), simulate(p, seed=5)
    for name, col in a.arrays().items():
        assert np.array_equal(col, b.arrays()[name]), name
    c = simulate(p, seed=6)
    assert not np.array_equal(a.ev_time, c.ev_time)
    assert simulate(SupplyChain(n_items=500, seed=5)).ev_ids[0] == \
        simulate(SupplyChain(n_items=500), seed=5).ev_ids[0]


def test_sim_shape(sim):
    d = describe(sim)
    kinds = d["events_by_kind"]
    t = sim.truth
    n_sold = int(t.item_sold.sum())
    assert kinds["SELL"] == n_sold
    assert kinds["SCAN"] == int(t.item_scans.sum())
    assert kinds["COMMISSION"] == sim.n_nodes
    assert t.case_repacked.sum() > 0 and (t.pallet_state == HELD).sum() > 0
    assert (t.pallet_state == TRANSIT).sum() > 0
    assert 0.6 < n_sold / sim.n_items < 0.85
    assert len(set(sim.epcs.tolist())) == sim.n_nodes
    assert len(set(sim.ev_ids.tolist())) == sim.n_events
    assert not np.all(np.diff(sim.ev_time) >= 0)  # shuffled
    roles = set(sim.party_role.tolist())
    assert roles == {"manufacturer", "distributor", "retailer", "app"}
    scans = sim.ev_kind == K.SCAN
    assert np.all(sim.party_role[sim.ev_by[scans]] == "app")
    # scans happen near the retailer that sold the item
    ev_item = np.full(sim.n_events, -1)
    ev_item[sim.inc_event] = sim.inc_node
    ret = t.item_retailer[ev_item[scans]]
    dist = np.hypot(sim.ev_lat[scans] - sim.party_lat[ret], sim.ev_lon[scans] - sim.party_lon[ret])
    assert np.median(dist) < 0.1


def recall_order(sim, idx):
    """Item indices in the order recall() returns them: by (batch, node)."""
    return idx[np.lexsort((idx, sim.node_batch[idx]))]


def test_graph_matches_sim_truth(sim):
    g = sim.graph()
    t = sim.truth
    items = recall_order(sim, np.arange(sim.n_items))
    r = g.recall()
    assert list(r.codes) == list(sim.epcs[items])
    cust = t.custodian_now()[items]
    exp = np.array([None if p < 0 else sim.parties[p] for p in cust], dtype=object)
    assert np.array_equal(r.custodians, exp)
    rng = np.random.default_rng(0)
    for i in rng.choice(sim.n_items, 300, replace=False).tolist():
        epc = sim.epcs[i]
        state = t.item_state[i]
        want = []
        if state in (HELD, TRANSIT):
            want = [sim.epcs[t.item_case[i]], sim.epcs[t.item_pallet[i]]]
        elif not t.item_opened[i]:
            want = [sim.epcs[t.item_final_case[i]]]
        assert g.containers(epc) == want
        chain = g.custody_chain(epc)
        assert chain[0] == sim.parties[t.item_manufacturer[i]]
        if state != TRANSIT:
            assert chain[1] == sim.parties[t.item_distributor[i]]
        if t.item_retailer[i] >= 0:
            assert chain[2:] == [sim.parties[t.item_retailer[i]]]
            assert g.in_chain(epc, sim.parties[t.item_retailer[i]])
        kinds = sim.ev_kind[g.history(epc)]
        assert kinds[0] == K.COMMISSION
        assert (kinds == K.SHIP).sum() == (2 if state == DELIVERED else 1)
        assert (kinds == K.SELL).sum() == int(t.item_sold[i])
        assert (kinds == K.SCAN).sum() == t.item_scans[i]
        if t.item_sold[i]:
            assert g.custodian(epc, int(t.item_sell_time[i]) - 1) == \
                sim.parties[t.item_retailer[i]]
            assert g.custodian(epc, int(t.item_sell_time[i])) is None
    # a repacked case is empty at the distributor; its items came in the fresh case
    rep = np.flatnonzero(t.case_repacked)
    for c in rep[:20]:
        assert list(g.contents(sim.epcs[t.case_nodes[c]])) == []
    # pallets: full while held or in transit, empty once unpacked
    for k, pnode in enumerate(t.pallet_nodes[:50]):
        inside = g.contents(sim.epcs[pnode])
        if t.pallet_state[k] == DELIVERED:
            assert len(inside) == 0
        else:
            items = np.flatnonzero(t.item_pallet == pnode)
            assert set(sim.epcs[items]) <= set(inside.tolist())


def test_recall_via_distributor_matches_truth(sim):
    g = sim.graph()
    t = sim.truth
    d = int(np.bincount(t.item_distributor).argmax())
    got = g.recall(via=sim.parties[d])
    # every item whose pallet reached d (received), in any batch
    want = (t.item_distributor == d) & (t.item_state != TRANSIT)
    assert list(got.codes) == list(sim.epcs[recall_order(sim, np.flatnonzero(want))])
    b = int(sim.node_batch[0])
    k = int(sim.node_key[0])
    got = g.recall(batch_id=b, key_id=k, via=sim.parties[d])
    mask = want & (sim.node_batch[: sim.n_items] == b) & (sim.node_key[: sim.n_items] == k)
    assert list(got.codes) == list(sim.epcs[recall_order(sim, np.flatnonzero(mask))])


def test_sim_parameters_are_checked():
    for bad in [dict(n_items=-1), dict(items_per_case=0), dict(sold_fraction=1.5),
                dict(n_retailers=0), dict(held_fraction=0.6, transit_fraction=0.6),
                dict(days=0), dict(n_items=1.5)]:
        with pytest.raises(ValueError):
            SupplyChain(**bad)
    sim = simulate(SupplyChain(n_items=0))
    assert sim.n_items == 0 and sim.graph().stats()["items"] == 0


def test_to_microseconds_is_to_micros_plus_array_forms() -> None:
    from antifake.timeutil import to_micros

    for t in (T0, T0 + timedelta(microseconds=7), datetime(1969, 12, 31, 23, 59, 59, 999999,
                                                            tzinfo=UTC)):
        assert to_microseconds(t) == to_micros(t) == to_microseconds(t.isoformat())
        assert to_microseconds(np.datetime64(t.replace(tzinfo=None), "us")) == to_micros(t)
    assert to_microseconds(" 2025-03-01T08:00:00Z ") == to_micros(T0)
    assert to_microseconds(np.int64(5)) == 5
    for bad in (True, 1.5, None):
        with pytest.raises(TypeError):
            to_microseconds(bad)
    for bad in ("yesterday", datetime(2025, 3, 1), np.datetime64("NaT", "us")):
        with pytest.raises(FormatError):
            to_microseconds(bad)
