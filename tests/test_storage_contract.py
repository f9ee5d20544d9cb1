"""The storage contract: the same cases on every backend, through the `Storage` protocol
directly (not through `Registry`). A new backend passes this module before the registry suite.

SQLite runs everywhere; PostgreSQL runs when a server can be had (see ``pg_server``: skipped
with the reason outside CI, a failure under CI)."""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import pg_server
from antifake.epcis.event_id import hash_to_id
from antifake.epcis.kinds import CLAIM_DETAILS, REASON_DETAILS, EventKind
from antifake.errors import RegistryError
from antifake.gs1.canonical import canonical_gs1_uri
from antifake.storage import (
    SCHEMA_VERSION,
    BatchPart,
    EventRow,
    NodeState,
    Storage,
    Suspicion,
    TraceColumns,
    open_storage,
)

T = 1_790_000_000_000_000  # microseconds since the epoch (2026-09)


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Storage]:
    if request.param == "sqlite":
        url: str = str(tmp_path / "contract.db")
    else:
        url = pg_server.fresh_schema_url(pg_server.require_pg_url())
    s = open_storage(url, canonical=canonical_gs1_uri)
    try:
        yield s
    finally:
        s.close()
        if request.param == "postgresql":
            pg_server.drop_schema(url)


def h(text: str) -> bytes:
    return hashlib.sha256(text.encode()).digest()


def row(name: str, kind: EventKind, epcs: tuple[str, ...], t: int, **kw: object) -> EventRow:
    doc = {"type": "ObjectEvent", "action": "OBSERVE", "eventTime": str(t), "af:n": name}
    return EventRow(h(name), t, int(kind), doc, epcs, **kw)  # type: ignore[arg-type]


def test_is_a_storage_at_the_current_schema(store: Storage) -> None:
    assert isinstance(store, Storage)
    assert store.counts()["events"] == 0
    assert store.check()["ok"]
    cols = store.graph_columns()
    assert isinstance(cols, TraceColumns) and len(cols.ev_ids) == 0 and len(cols.epcs) == 0
    assert SCHEMA_VERSION >= 3


def test_writes_need_a_transaction_and_roll_back_whole(store: Storage) -> None:
    with pytest.raises(RegistryError):
        store.add_party("P1", "manufacturer", None, None, None)  # outside a transaction
    with pytest.raises(ZeroDivisionError), store.transaction():
        store.add_party("P1", "manufacturer", "VN-HN", 21.0, 105.8)
        store.insert_events([row("e1", EventKind.SCAN, ("urn:x:1",), T)])
        raise ZeroDivisionError  # anything raised inside: nothing of it is kept
    assert store.counts()["events"] == 0
    assert store.node_by_key("urn:x:1") is None
    with store.transaction():
        pid = store.add_party("P1", "manufacturer", "VN-HN", 21.0, 105.8)
    with store.transaction():
        assert store.party_ids(["P1", "P2"])["P1"] == pid  # unknown ones are created
    assert store.counts()["parties"] == 2


def test_events_are_idempotent_and_keep_their_order(store: Storage) -> None:
    rows = [row(f"e{i}", EventKind.SCAN, (f"urn:x:{i % 3}",), T + i, by="app:1",
                lat=10.0, lon=106.0) for i in range(5)]
    with store.transaction():
        first = store.insert_events(rows)
    assert [x.new for x in first] == [True] * 5
    with store.transaction():
        again = store.insert_events(rows[::-1] + rows[:1])  # repeated, and twice in one call
    assert not any(x.new for x in again)
    assert [x.event for x in again[:5]] == [x.event for x in first][::-1]
    assert store.counts()["events"] == 5
    with store.snapshot():
        exported = list(store.export_rows(None))
    assert [e[0] for e in exported] == [r.hash for r in rows]  # storage order
    assert exported[2][1]["af:n"] == "e2"
    got = store.event_rows([rows[3].hash, h("never stored"), rows[0].hash])
    assert set(got) == {rows[3].hash, rows[0].hash} and got[rows[3].hash][0]["af:n"] == "e3"
    node = store.node_by_key("urn:x:0")
    assert node is not None and store.node_epc(node) == "urn:x:0"
    last = store.last_event(node)
    assert last is not None and last[0] == rows[3].hash


def test_columns_snapshot(store: Storage) -> None:
    before = time.time_ns() // 1000
    with store.transaction():
        store.add_party("MFR", "manufacturer", "VN-HN", 21.03, 105.85)
        store.insert_events([
            row("agg", EventKind.AGGREGATE, ("urn:x:a",), T, parent="urn:x:case", by="MFR"),
            row("ship", EventKind.SHIP, ("urn:x:case",), T + 1, src="MFR", dst="DIST"),
            row("claim", EventKind.CLAIM, ("urn:x:a",), T + 2, lat=10.5, lon=106.5,
                detail=CLAIM_DETAILS["ok"]),
            row("gone", EventKind.DECOMMISSION, ("urn:x:a",), T + 3, by="MFR",
                detail=REASON_DETAILS["stolen"]),
        ])
    v = store.version()
    cols = store.graph_columns()
    assert cols.version == v
    assert cols.ev_ids.tolist() == [hash_to_id(h(n)) for n in ("agg", "ship", "claim", "gone")]
    assert cols.ev_kind.tolist() == [int(EventKind.AGGREGATE), int(EventKind.SHIP),
                                     int(EventKind.CLAIM), int(EventKind.DECOMMISSION)]
    assert cols.ev_detail.tolist() == [0, 0, CLAIM_DETAILS["ok"], REASON_DETAILS["stolen"]]
    parties = cols.parties.tolist()
    assert parties[cols.ev_src[1]] == "MFR" and parties[cols.ev_dst[1]] == "DIST"
    mfr = parties.index("MFR")
    assert cols.party_role[mfr] == "manufacturer" and cols.party_region[mfr] == "VN-HN"
    assert math.isclose(cols.party_lat[mfr], 21.03) and np.isnan(cols.party_lat[
        parties.index("DIST")])
    epcs = cols.epcs.tolist()
    assert epcs[cols.agg_parent[0]] == "urn:x:case" and cols.agg_parent[1] == -1
    assert cols.ev_lat[2] == 10.5 and np.isnan(cols.ev_lat[0])
    inc = {(int(e), epcs[n]) for e, n in zip(cols.inc_event, cols.inc_node, strict=True)}
    assert (0, "urn:x:a") in inc and (1, "urn:x:case") in inc
    assert set(cols.graph_arrays()) == set(TraceColumns.GRAPH_FIELDS)
    # record times: when the store wrote each event (its EPCIS recordTime), not its eventTime
    assert len(cols.ev_record) == 4 and cols.ev_record.dtype == np.int64
    after = time.time_ns() // 1000
    assert before <= int(cols.ev_record.min()) <= int(cols.ev_record.max()) <= after
    assert (cols.ev_time < before).all()
    assert set(cols.event_extras()) == {"ev_detail", "ev_record"}
    assert repr(cols).startswith("TraceColumns(") and "parties, 4 events, " in repr(cols)
    with store.transaction():
        store.insert_events([row("late", EventKind.SCAN, ("urn:x:a",), T + 9)])
    assert store.version() != v  # a new event: a new snapshot is due
    again = store.graph_columns()
    assert np.array_equal(again.ev_record[:4], cols.ev_record) and again.ev_record[4] >= \
        cols.ev_record[3]


def test_gs1_epcs_are_one_node_in_either_form(store: Storage) -> None:
    urn = "urn:epc:id:sscc:0614141.1234567890"
    dl = "https://id.gs1.org/00/106141412345678908"
    assert canonical_gs1_uri(urn) == dl
    with store.transaction():
        store.insert_events([row("a", EventKind.SCAN, (urn,), T)])
        store.insert_events([row("b", EventKind.SCAN, (dl,), T + 1)])
    node = store.node_by_key(urn)
    assert node is not None and store.node_by_key(dl) == node
    assert store.node_epc(node) == dl
    assert store.counts()["nodes"] == 1


def test_batches_and_stamps(store: Storage) -> None:
    epcs = [f"urn:antifake:test:7:{i}" for i in range(10)]
    serials = np.arange(100, 110, dtype=np.uint64)
    part = BatchPart("VN-TEST", 7, 3, 0, 10, b"\x01" * 32, owner="MFR", registered_us=T)
    with store.transaction():
        nodes = store.insert_batch(part, epcs, serials)
    assert len(nodes) == 10 and part.row is not None
    parts = store.batch_parts("VN-TEST", 7, 3)
    assert [(p.first_index, p.n, p.digest) for p in parts] == [(0, 10, b"\x01" * 32)]
    s = store.stamp_by_index("VN-TEST", 7, 3, 4)
    assert s is not None and s.epc == epcs[4] and s.serial == 104 and s.node == int(nodes[4])
    assert store.stamp_by_node(int(nodes[9])).index == 9  # type: ignore[union-attr]
    assert store.stamp_by_index("VN-TEST", 7, 3, 10) is None
    assert store.stamp_by_index("VN-TEST", 8, 3, 0) is None
    with pytest.raises(RegistryError), store.transaction():  # a stamp registered twice
        store.insert_batch(BatchPart("VN-TEST", 7, 4, 0, 1, b"\x02" * 32), epcs[:1],
                           serials[:1])
    assert store.counts()["stamps"] == 10


def test_lifecycle_state_and_suspicions(store: Storage) -> None:
    with store.transaction():
        store.insert_events([row("e", EventKind.SCAN, ("urn:x:1", "urn:x:2"), T)])
    n1, n2 = store.node_by_key("urn:x:1"), store.node_by_key("urn:x:2")
    assert n1 is not None and n2 is not None
    assert store.states([n1]) == {n1: NodeState(n1)}  # default: active, unclaimed
    with store.transaction():
        store.put_state(NodeState(n1, state=1, reason="stolen", since_us=T, claim=2,
                                  wrong_pins=5, attempts=6, claim_us=T))
    assert store.states([n1, n2])[n1] == NodeState(n1, 1, "stolen", T, 2, 5, 6, T)
    sus = Suspicion(n2, "impossible_travel", 0.9, T, '["x"]')
    with store.transaction():
        store.put_suspicions([sus])
    assert store.suspicions() == {n2: sus} and store.suspicions([n1]) == {}
    with store.transaction():
        assert store.clear_suspicions([n2]) == 1
    assert store.suspicions() == {}


def test_scan_summary_and_overlay_rows(store: Storage) -> None:
    """What the lookup service reads: a stamp's scans, and the stamps bulk verification
    must not call plain authentic (decommissioned, claimed, suspected)."""
    epcs = [f"urn:antifake:test:9:{i}" for i in range(5)]
    with store.transaction():
        nodes = [int(n) for n in store.insert_batch(
            BatchPart("VN-TEST", 9, 2, 0, 5, b"\x03" * 32, registered_us=T), epcs,
            np.arange(5, dtype=np.uint64))]
    n0 = nodes[0]
    assert store.scan_summary(n0, int(EventKind.SCAN)) == (0, None, None)
    ranged = {"type": "ObjectEvent", "action": "OBSERVE", "epcList": [epcs[0]], "af:n": "r"}
    with store.transaction():
        store.insert_events([
            row("s1", EventKind.SCAN, (epcs[0],), T + 5),
            row("s2", EventKind.SCAN, (epcs[0],), T + 9, lat=10.8, lon=106.7),
            EventRow(h("s3"), T + 1, int(EventKind.SCAN), ranged, (epcs[0],), nodes=np.array([n0]),
                     range_key="epcList"),  # stored as a one-node range
            row("s4", EventKind.SCAN, (epcs[1],), T),
            row("l1", EventKind.LIST, (epcs[0],), T),
        ])
    assert store.scan_summary(n0, int(EventKind.SCAN)) == (3, T + 1, (10.8, 106.7))
    assert store.scan_summary(nodes[1], int(EventKind.SCAN)) == (1, T, None)
    assert store.overlay_rows() == []
    with store.transaction():
        store.put_state(NodeState(nodes[1], claim=1, attempts=1, claim_us=T))
        store.put_state(NodeState(nodes[2], state=1, reason="recalled", since_us=T))
        store.put_state(NodeState(nodes[3], wrong_pins=2, attempts=2))  # nothing to show
        store.put_suspicions([Suspicion(nodes[4], "over_scanned", 0.8, T, "[]"),
                              Suspicion(nodes[2], "over_scanned", 0.7, T, "[]")])
    rows = sorted(tuple(r) for r in store.overlay_rows())
    assert rows == [(9, 2, 1, 0, None, 1, 0), (9, 2, 2, 1, "recalled", 0, 1),
                    (9, 2, 4, 0, None, 0, 1)]
