"""The Event model: constructors, mapping to EPCIS 2.0, identity (the CBV 2.0 hash)."""

from __future__ import annotations

import copy
import dataclasses
import json
import pickle
import random
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from antifake.epcis.event_hash import AF_NS, event_hash, prehash_string
from antifake.epcis.events import (
    BIZ_CLAIMING,
    BIZ_LISTING,
    BIZ_REACTIVATING,
    DECOMMISSION_DISPOSITIONS,
    Event,
    Quantity,
    _fast_prehash,
    party_id,
    party_uri,
)
from antifake.epcis.jsonld import dumps, parse_document
from antifake.errors import AntifakeError, EPCISError

T = "2024-05-01T10:00:00+07:00"
ITEM = "urn:epc:id:sgtin:4012345.011111.1001"
ITEM2 = "urn:epc:id:sgtin:4012345.011111.1002"
CASE = "urn:epc:id:sscc:4012345.0000000333"
TZ7 = timezone(timedelta(hours=7))


class FakeStamp:
    def __init__(self, epc: str) -> None:
        self.epc = epc


# ------------------------------------------------------------------------------------------
# Constructors


def test_commission() -> None:
    ev = Event.commission([ITEM, ITEM2], by="MFR-01", at=T)
    assert (ev.type, ev.action, ev.biz_step, ev.disposition) == (
        "ObjectEvent", "ADD", "commissioning", "active")
    assert ev.epcs == (ITEM, ITEM2)
    assert ev.by == "MFR-01"
    assert ev.read_point == "urn:antifake:party:MFR-01"
    assert ev.time == datetime(2024, 5, 1, 10, tzinfo=TZ7)
    assert ev.tz_offset == "+07:00"
    d = ev.to_epcis()
    assert d["readPoint"] == {"id": "urn:antifake:party:MFR-01"}
    assert d["eventTime"] == "2024-05-01T10:00:00.000+07:00"
    assert d["eventTimeZoneOffset"] == "+07:00"
    assert d["epcList"] == [ITEM, ITEM2]


def test_aggregate_and_disaggregate() -> None:
    agg = Event.aggregate(CASE, [ITEM, FakeStamp(ITEM2)], by="MFR-01", at=T)
    assert (agg.type, agg.action, agg.biz_step, agg.disposition) == (
        "AggregationEvent", "ADD", "packing", "in_progress")
    assert agg.parent == CASE
    assert agg.children == agg.epcs == (ITEM, ITEM2)
    assert agg.to_epcis()["childEPCs"] == [ITEM, ITEM2]
    assert agg.to_epcis()["parentID"] == CASE

    everything = Event.disaggregate(CASE, by="DIST-07", at=T)
    assert (everything.type, everything.action, everything.biz_step) == (
        "AggregationEvent", "DELETE", "unpacking")
    assert everything.children == () and everything.disposition is None
    assert "childEPCs" not in everything.to_epcis()
    some = Event.disaggregate(FakeStamp(CASE), [ITEM], by="DIST-07", at=T)
    assert some.children == (ITEM,) and some.parent == CASE
    assert some.event_id != everything.event_id
    with pytest.raises(EPCISError):
        Event.aggregate(CASE, [], by="MFR-01", at=T)


def test_ship_receive_sell() -> None:
    ship = Event.ship([CASE], source="MFR-01", destination="DIST-07", at=T)
    assert (ship.action, ship.biz_step, ship.disposition) == ("OBSERVE", "shipping", "in_transit")
    assert (ship.by, ship.source, ship.destination) == ("MFR-01", "MFR-01", "DIST-07")
    d = ship.to_epcis()
    assert d["sourceList"] == [{"type": "owning_party", "source": "urn:antifake:party:MFR-01"}]
    assert d["destinationList"] == [
        {"type": "owning_party", "destination": "urn:antifake:party:DIST-07"}]

    rec = Event.receive([CASE], by="DIST-07", at=T)
    assert (rec.biz_step, rec.disposition, rec.by) == ("receiving", "in_progress", "DIST-07")
    assert rec.destination == "DIST-07" and rec.source is None
    rec2 = Event.receive([CASE], by="DIST-07", at=T, source="MFR-01")
    assert rec2.source == "MFR-01" and rec2.event_id != rec.event_id

    sale = Event.sell([ITEM], by="RET-03", at=T)
    assert (sale.action, sale.biz_step, sale.disposition) == (
        "OBSERVE", "retail_selling", "retail_sold")


def test_scan_identity() -> None:
    a = Event.scan(ITEM, by="app:4f2a", at=T, lat=10.77, lon=106.70)
    assert (a.action, a.biz_step, a.disposition) == ("OBSERVE", "inspecting", None)
    assert a.epcs == (ITEM,) and a.by == "app:4f2a" and a.read_point == "app:4f2a"
    assert (a.lat, a.lon) == (10.77, 106.70)
    d = a.to_epcis()
    assert d["af:lat"] == 10.77 and d["af:lon"] == 106.70
    # Same call, same id; another phone or another place at the same instant: other ids.
    assert Event.scan(ITEM, by="app:4f2a", at=T, lat=10.77, lon=106.70).event_id == a.event_id
    others = {
        Event.scan(ITEM, by="app:9999", at=T, lat=10.77, lon=106.70).event_id,
        Event.scan(ITEM, by="app:4f2a", at=T, lat=10.78, lon=106.70).event_id,
        Event.scan(ITEM, by="app:4f2a", at=T, lat=10.77, lon=106.71).event_id,
        Event.scan(ITEM, by="app:4f2a", at=T).event_id,
        Event.scan(ITEM2, by="app:4f2a", at=T, lat=10.77, lon=106.70).event_id,
        Event.scan(ITEM, by="app:4f2a", at="2024-05-01T10:00:00.001+07:00", lat=10.77,
                   lon=106.70).event_id,
    }
    assert a.event_id not in others and len(others) == 6


def test_list_decommission_reactivate_claim() -> None:
    listing = Event.list(ITEM, seller="SHOP-42", at=T, listing="https://shop.example/p/991")
    assert listing.biz_step == BIZ_LISTING and listing.by == "SHOP-42"
    assert listing.listing == "https://shop.example/p/991"
    assert listing.to_epcis()["af:listing"] == "https://shop.example/p/991"
    other = Event.list(ITEM, seller="SHOP-42", at=T, listing="https://shop.example/p/992")
    assert other.event_id != listing.event_id

    for reason, disposition in DECOMMISSION_DISPOSITIONS.items():
        ev = Event.decommission([ITEM], reason=reason, by="RET-03", at=T)
        assert (ev.action, ev.biz_step, ev.disposition) == (
            "DELETE", "decommissioning", disposition)
        assert ev.reason == reason
    assert DECOMMISSION_DISPOSITIONS["destroyed"] == "destroyed"
    assert DECOMMISSION_DISPOSITIONS["sold"] == "retail_sold"
    with pytest.raises(EPCISError):
        Event.decommission([ITEM], reason="lost in space", by="RET-03", at=T)
    exported = Event.decommission([ITEM], reason="exported", by="RET-03", at=T)
    sample = Event.decommission([ITEM], reason="sample", by="RET-03", at=T)
    assert exported.event_id != sample.event_id

    again = Event.reactivate(ITEM, by="RET-03", at=T)
    assert (again.biz_step, again.disposition) == (BIZ_REACTIVATING, "active")

    ok = Event.claim(ITEM, by="app:4f2a", at=T, ok=True, lat=10.77, lon=106.7)
    bad = Event.claim(ITEM, by="app:4f2a", at=T, ok=False)
    locked = Event.claim(ITEM, by="app:4f2a", at=T, ok="locked")
    assert (ok.claim_result, bad.claim_result, locked.claim_result) == (
        "ok", "wrong_pin", "locked")
    assert ok.biz_step == BIZ_CLAIMING and ok.to_epcis()["af:claim"] == "ok"
    assert len({ok.event_id, bad.event_id, locked.event_id}) == 3
    with pytest.raises(EPCISError):
        Event.claim(ITEM, by="app:4f2a", at=T, ok="maybe")


def test_time_handling() -> None:
    naive = datetime(2024, 5, 1, 10, 0)
    with pytest.raises(EPCISError) as info:
        Event.scan(ITEM, by="x", at=naive)
    assert isinstance(info.value, ValueError) and isinstance(info.value, AntifakeError)
    with pytest.raises(EPCISError):
        Event.scan(ITEM, by="x", at="2024-05-01T10:00:00")
    with pytest.raises(EPCISError):
        Event.scan(ITEM, by="x", at="yesterday")
    with pytest.raises(EPCISError):
        Event.scan(ITEM, by="x", at=1714532400)
    aware = datetime(2024, 5, 1, 3, 0, tzinfo=UTC)
    a = Event.scan(ITEM, by="x", at=aware)
    b = Event.scan(ITEM, by="x", at="2024-05-01T03:00:00Z")
    assert a.event_id == b.event_id and a.tz_offset == "+00:00"
    c = Event.scan(ITEM, by="x", at=datetime(2024, 5, 1, 10, 0, 0, 123456, tzinfo=TZ7))
    assert c.to_epcis()["eventTime"] == "2024-05-01T10:00:00.123456+07:00"
    assert Event.from_epcis(c.to_epcis()).time == c.time


def test_bad_arguments_raise_antifake_errors() -> None:
    for call in (
        lambda: Event.commission([42], by="MFR", at=T),
        lambda: Event.commission(["not a uri"], by="MFR", at=T),
        lambda: Event.commission([ITEM], by="", at=T),
        lambda: Event.commission([ITEM], by=None, at=T),  # type: ignore[arg-type]
        lambda: Event.scan(ITEM, by="x", at=T, lat=91.0),
        lambda: Event.scan(ITEM, by="x", at=T, lon=float("nan")),
        lambda: Event.scan(ITEM, by="x", at=T, lat=True),  # type: ignore[arg-type]
        lambda: Event.scan(object(), by="x", at=T),
        lambda: Event.list(ITEM, seller="S", at=T, listing=""),
        lambda: Event(type="Nope", action="ADD", time=T),
        lambda: Event(type="ObjectEvent", action="MAYBE", time=T),
        lambda: Event(type="TransformationEvent", action="ADD", time=T),
        lambda: Event(type="ObjectEvent", action="ADD", time=T, tz_offset="7"),
        lambda: Event(type="ObjectEvent", action="ADD", time=T, children=[ITEM]),
        lambda: Event(type="ObjectEvent", action="ADD", time=T, extensions={"x": object()}),
        lambda: Event(type="ObjectEvent", action="ADD", time=T, extensions={"eventTime": 5}),
        lambda: Event(type="ObjectEvent", action="ADD", time=T, by="a\nb"),
    ):
        with pytest.raises(EPCISError):
            call()


def test_party_uris() -> None:
    assert party_uri("MFR-01") == "urn:antifake:party:MFR-01"
    assert party_uri("app:4f2a") == "app:4f2a"
    assert party_uri("urn:epc:id:pgln:4012345.00000") == "urn:epc:id:pgln:4012345.00000"
    for pid in ("MFR-01", "a b", "Cửa hàng 7", "x%41", "50/50"):
        assert party_id(party_uri(pid)) == pid
    ev = Event.commission([ITEM], by="Cửa hàng 7", at=T)
    assert ev.by == "Cửa hàng 7"
    assert Event.from_epcis(ev.to_epcis()).by == "Cửa hàng 7"


def test_cbv_values_are_shortened() -> None:
    long = Event(type="ObjectEvent", action="OBSERVE", time=T, epcs=[ITEM],
                 biz_step="https://ref.gs1.org/cbv/BizStep-shipping",
                 disposition="urn:epcglobal:cbv:disp:in_transit")
    assert (long.biz_step, long.disposition) == ("shipping", "in_transit")
    curie = Event(type="ObjectEvent", action="OBSERVE", time=T, epcs=[ITEM],
                  biz_step="cbv:BizStep-shipping", disposition="cbv:Disp-in_transit")
    assert curie.event_id == long.event_id
    private = Event(type="ObjectEvent", action="OBSERVE", time=T, epcs=[ITEM],
                    biz_step="https://example.com/steps/polishing")
    assert private.biz_step == "https://example.com/steps/polishing"


def test_events_are_frozen_and_compare_by_id() -> None:
    a = Event.scan(ITEM, by="x", at=T)
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.by = "y"  # type: ignore[misc]
    b = Event.from_epcis(a.to_epcis())
    assert a == b and hash(a) == hash(b) and len({a, b}) == 1
    c = dataclasses.replace(a, by="y")
    assert c.by == "y" and c.read_point == "urn:antifake:party:y" and c != a
    d = dataclasses.replace(a, biz_step="receiving")
    assert d.to_epcis()["bizStep"] == "receiving" and d.event_id != a.event_id


def test_pickle_and_copy() -> None:
    a = Event.from_epcis(GS1_EVENT, GS1_CONTEXT)
    for b in (pickle.loads(pickle.dumps(a)), copy.deepcopy(a), copy.copy(a)):
        assert b == a and b.extensions == a.extensions and b.namespaces == a.namespaces
        assert b.to_epcis() == a.to_epcis()


def test_to_epcis_returns_a_copy() -> None:
    a = Event.list(ITEM, seller="S", at=T, listing="https://x.example/1")
    d = a.to_epcis()
    d["af:listing"] = "tampered"
    d["epcList"].append(ITEM2)
    assert a.to_epcis()["af:listing"] == "https://x.example/1"
    assert a.epcs == (ITEM,)


def test_event_hash_default_context_matches_event_id() -> None:
    ev = Event.scan(ITEM, by="app:1", at=T, lat=1.5, lon=2.5)
    assert event_hash(ev.to_epcis()) == ev.event_id
    # With a context that does not declare af, af:lat is an unexpanded name: another hash.
    assert event_hash(ev.to_epcis(), ["https://ref.gs1.org/standards/epcis/2.0.0/"
                                      "epcis-context.jsonld"]) != ev.event_id
    assert event_hash(ev.to_epcis(), [{"af": AF_NS}]) == ev.event_id


# ------------------------------------------------------------------------------------------
# Reading EPCIS events

GS1_EVENT = {
    "type": "ObjectEvent",
    "eventTime": "2005-04-04T20:33:31.116-06:00",
    "eventTimeZoneOffset": "-06:00",
    "epcList": ["urn:epc:id:sgtin:0614141.107346.2018"],
    "action": "OBSERVE",
    "bizStep": "https://ref.gs1.org/cbv/BizStep-receiving",
    "disposition": "in_progress",
    "readPoint": {"id": "urn:epc:id:sgln:0012345.11111.400"},
    "bizLocation": {"id": "urn:epc:id:sgln:0012345.11111.0"},
    "bizTransactionList": [
        {"type": "po", "bizTransaction": "http://transaction.acme.com/po/12345678"},
        {"type": "desadv", "bizTransaction": "urn:epcglobal:cbv:bt:0614141073467:1152"},
    ],
    "sourceList": [
        {"type": "possessing_party", "source": "urn:epc:id:pgln:0614141.00000"},
        {"type": "owning_party", "source": "urn:antifake:party:MFR-01"},
    ],
    "quantityList": [{"epcClass": "urn:epc:class:lgtin:4012345.012345.998877",
                      "quantity": 200, "uom": "KGM"}],
    "example:myField": "Example of a vendor/user extension",
    "ilmd": {"example:bestBefore": "2025-01-01"},
}
GS1_CONTEXT = ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld",
               {"example": "http://ns.example.com/epcis/"}]


def test_from_epcis_fields() -> None:
    ev = Event.from_epcis(GS1_EVENT, GS1_CONTEXT)
    assert ev.type == "ObjectEvent" and ev.action == "OBSERVE"
    assert ev.time == datetime(2005, 4, 4, 20, 33, 31, 116000, tzinfo=timezone(-timedelta(hours=6)))
    assert ev.tz_offset == "-06:00"
    assert ev.biz_step == "receiving" and ev.disposition == "in_progress"
    assert ev.read_point == "urn:epc:id:sgln:0012345.11111.400" == ev.by
    assert ev.biz_location == "urn:epc:id:sgln:0012345.11111.0"
    assert ev.source == "MFR-01"
    assert ev.biz_transactions == (
        ("po", "http://transaction.acme.com/po/12345678"),
        ("desadv", "urn:epcglobal:cbv:bt:0614141073467:1152"),
    )
    assert ev.quantities == (Quantity("urn:epc:class:lgtin:4012345.012345.998877", 200, "KGM"),)
    assert set(ev.extensions) == {"example:myField", "ilmd", "sourceList"}
    assert ev.namespaces["example"] == "http://ns.example.com/epcis/"
    assert ev.event_id == event_hash(GS1_EVENT, GS1_CONTEXT)
    assert Event.from_epcis(ev.to_epcis(), GS1_CONTEXT).event_id == ev.event_id


def test_from_epcis_does_not_share_state() -> None:
    d = copy.deepcopy(GS1_EVENT)
    ev = Event.from_epcis(d, GS1_CONTEXT)
    before = ev.event_id
    d["ilmd"]["example:bestBefore"] = "2099-01-01"
    assert ev.to_epcis()["ilmd"] == {"example:bestBefore": "2025-01-01"}
    assert Event.from_epcis(ev.to_epcis(), GS1_CONTEXT).event_id == before


def test_from_epcis_errors_have_paths() -> None:
    cases = [
        ([], "$"),
        ({**GS1_EVENT, "type": "Blob"}, "$.type"),
        ({k: v for k, v in GS1_EVENT.items() if k != "eventTime"}, "$.eventTime"),
        ({**GS1_EVENT, "eventTime": "2005-04-04T20:33:31"}, "$.eventTime"),
        ({**GS1_EVENT, "eventTime": "2005-13-04T20:33:31Z"}, "$.eventTime"),
        ({**GS1_EVENT, "eventTimeZoneOffset": "-6"}, "$.eventTimeZoneOffset"),
        ({**GS1_EVENT, "action": "SHOUT"}, "$.action"),
        ({**GS1_EVENT, "epcList": [GS1_EVENT["epcList"][0], 7]}, "$.epcList[1]"),
        ({**GS1_EVENT, "epcList": ["has space in it"]}, "$.epcList[0]"),
        ({**GS1_EVENT, "readPoint": "urn:x"}, "$.readPoint"),
        ({**GS1_EVENT, "readPoint": {"idx": "urn:x"}}, "$.readPoint.id"),
        ({**GS1_EVENT, "bizTransactionList": [{"type": "po"}]},
         "$.bizTransactionList[0].bizTransaction"),
        ({**GS1_EVENT, "sourceList": [{"source": "urn:x:y"}]}, "$.sourceList[0].type"),
        ({**GS1_EVENT, "quantityList": [{"epcClass": "urn:x", "quantity": "3"}]},
         "$.quantityList[0].quantity"),
        ({**GS1_EVENT, "example:myField": "a\x00b"}, "$['example:myField']"),
        ({**GS1_EVENT, "ilmd": {"x": "\ud800"}}, "$.ilmd.x"),
        ({**GS1_EVENT, "ilmd": [1]}, "$.ilmd"),
        ({**GS1_EVENT, "sensorElementList": [{"sensorReport": [3]}]},
         "$.sensorElementList[0].sensorReport[0]"),
    ]
    for bad, path in cases:
        with pytest.raises(EPCISError) as info:
            Event.from_epcis(bad, GS1_CONTEXT)
        assert info.value.path == path, (bad, info.value)
    with pytest.raises(EPCISError) as info:
        Event.from_epcis({**GS1_EVENT, "action": None}, GS1_CONTEXT, path="$.e[3]")
    assert info.value.path == "$.e[3].action"
    # af:lat is checked where af is antifake's namespace (the default context), not elsewhere.
    with pytest.raises(EPCISError) as info:
        Event.from_epcis({**GS1_EVENT, "af:lat": 123.0})
    assert info.value.path == "$['af:lat']"
    assert Event.from_epcis({**GS1_EVENT, "af:lat": 123.0}, GS1_CONTEXT).lat is None


# ------------------------------------------------------------------------------------------
# Hash invariance and sensitivity

RICH = {
    "type": "ObjectEvent",
    "eventTime": "2024-05-01T10:00:00.250+07:00",
    "eventTimeZoneOffset": "+07:00",
    "epcList": [ITEM, ITEM2, "urn:epc:id:sgtin:4012345.011111.1003"],
    "action": "OBSERVE",
    "bizStep": "shipping",
    "disposition": "in_transit",
    "readPoint": {"id": "urn:antifake:party:MFR-01"},
    "bizLocation": {"id": "urn:epc:id:sgln:4012345.00011.0"},
    "bizTransactionList": [{"type": "po", "bizTransaction": "urn:epc:id:gdti:4012345.11111.1"}],
    "sourceList": [{"type": "owning_party", "source": "urn:antifake:party:MFR-01"}],
    "destinationList": [{"type": "owning_party", "destination": "urn:antifake:party:DIST-07"}],
    "quantityList": [{"epcClass": "urn:epc:class:lgtin:4012345.012345.L1", "quantity": 5.5,
                      "uom": "KGM"}],
    "af:lat": 10.77,
    "af:lon": 106.7,
    "af:reason": "transfer",
}


def _shuffled(value: object, rng: random.Random) -> object:
    if isinstance(value, dict):
        items = list(value.items())
        rng.shuffle(items)
        return {k: _shuffled(v, rng) for k, v in items}
    if isinstance(value, list):
        return [_shuffled(v, rng) for v in value]
    return value


def test_hash_invariance() -> None:
    base = event_hash(RICH)
    rng = random.Random(7)
    for _ in range(20):
        assert event_hash(_shuffled(RICH, rng)) == base
    same = copy.deepcopy(RICH)
    same["epcList"].reverse()
    assert event_hash(same) == base
    same["eventTime"] = "2024-05-01T03:00:00.250Z"  # the same instant
    assert event_hash(same) == base
    same["eventTime"] = "2024-05-01T04:30:00.2500001+01:30"
    assert event_hash(same) == base
    same["epcList"][same["epcList"].index(ITEM)] = (
        "https://id.gs1.org/01/04012345111118/21/1001")  # its Digital Link
    assert event_hash(same) == base
    same["bizStep"] = "https://ref.gs1.org/cbv/BizStep-shipping"
    same["disposition"] = "urn:epcglobal:cbv:disp:in_transit"
    assert event_hash(same) == base
    same["af:lat"] = 10.770
    same["eventID"] = "urn:uuid:6f0c0b1e-0000-4000-8000-000000000000"
    same["recordTime"] = "2030-01-01T00:00:00Z"
    assert event_hash(same) == base
    renamed = {("antifake:" + k[3:] if k.startswith("af:") else k): v for k, v in RICH.items()}
    assert event_hash(renamed, [{"antifake": AF_NS}]) == base


def _mutations() -> list[tuple[str, dict]]:
    out = []

    def mutate(name: str, fn) -> None:  # noqa: ANN001
        d = copy.deepcopy(RICH)
        fn(d)
        out.append((name, d))

    mutate("eventTime", lambda d: d.update(eventTime="2024-05-01T10:00:00.251+07:00"))
    mutate("tz", lambda d: d.update(eventTimeZoneOffset="+08:00"))
    mutate("epc", lambda d: d["epcList"].__setitem__(0, "urn:epc:id:sgtin:4012345.011111.9"))
    mutate("epc-removed", lambda d: d["epcList"].pop())
    mutate("action", lambda d: d.update(action="ADD"))
    mutate("bizStep", lambda d: d.update(bizStep="receiving"))
    mutate("disposition", lambda d: d.update(disposition="in_progress"))
    mutate("disposition-removed", lambda d: d.pop("disposition"))
    mutate("readPoint", lambda d: d.update(readPoint={"id": "urn:antifake:party:MFR-02"}))
    mutate("bizLocation", lambda d: d.update(bizLocation={"id": "urn:epc:id:sgln:4012345.00012.0"}))
    mutate("bizTransaction", lambda d: d["bizTransactionList"][0].update(type="inv"))
    mutate("source", lambda d: d["sourceList"][0].update(source="urn:antifake:party:X"))
    mutate("destination", lambda d: d["destinationList"][0].update(
        destination="urn:antifake:party:Y"))
    mutate("destination-type", lambda d: d["destinationList"][0].update(type="location"))
    mutate("quantity", lambda d: d["quantityList"][0].update(quantity=5.6))
    mutate("uom", lambda d: d["quantityList"][0].update(uom="GRM"))
    mutate("lat", lambda d: d.update({"af:lat": 10.771}))
    mutate("lon", lambda d: d.update({"af:lon": -106.7}))
    mutate("reason", lambda d: d.update({"af:reason": "gift"}))
    mutate("new-extension", lambda d: d.update({"af:note": "x"}))
    mutate("type", lambda d: d.update(type="TransactionEvent"))
    return out


def test_hash_changes_with_every_field() -> None:
    base = event_hash(RICH)
    seen = {base}
    for name, mutated in _mutations():
        h = event_hash(mutated)
        assert h not in seen, name
        seen.add(h)


# ------------------------------------------------------------------------------------------
# Properties

EPC = st.one_of(
    st.integers(0, 10**6).map(lambda n: f"urn:epc:id:sgtin:4012345.011111.{n}"),
    st.integers(0, 10**5).map(lambda n: f"urn:epc:id:sscc:4012345.{n:010d}"),
    st.text("ABCxyz019-._", min_size=1, max_size=12).map(
        lambda s: f"https://id.gs1.org/01/09506000134352/21/{s}"),
    st.text("abc:/019", min_size=1, max_size=10).map(lambda s: f"urn:x:{s}"),
)
PARTY = st.one_of(
    st.text(min_size=1, max_size=12).filter(lambda s: s.isprintable()),
    st.sampled_from(["MFR-01", "app:4f2a", "shipping", "gs1:Temperature", "in_transit"]),
)
WORD = st.one_of(
    st.sampled_from(["shipping", "receiving", "in_transit", "po", "owning_party",
                     "af:listing", "cbv:BizStep-packing", "https://ref.gs1.org/cbv/Disp-active",
                     "urn:epcglobal:cbv:bizstep:picking", "custom_step"]),
    st.text(min_size=1, max_size=8).filter(lambda s: s.strip() == s and s.isprintable()),
)
TIME = st.datetimes(
    min_value=datetime(1990, 1, 1), max_value=datetime(2090, 1, 1),
    timezones=st.sampled_from([UTC, TZ7, timezone(timedelta(hours=-5, minutes=-30))]),
)
SCALAR = st.one_of(WORD, st.integers(-10**6, 10**6), st.floats(-1e6, 1e6), st.booleans(),
                   st.none())


@st.composite
def events(draw: st.DrawFn) -> Event:
    kind = draw(st.sampled_from(["ObjectEvent", "AggregationEvent", "TransactionEvent",
                                 "TransformationEvent", "AssociationEvent"]))
    kw: dict = {"type": kind, "time": draw(TIME)}
    kw["action"] = None if kind == "TransformationEvent" else draw(
        st.sampled_from(["ADD", "OBSERVE", "DELETE"]))
    epcs = st.lists(EPC, max_size=4)
    if kind in ("ObjectEvent", "TransactionEvent"):
        kw["epcs"] = draw(epcs)
    elif kind == "TransformationEvent":
        kw["inputs"], kw["outputs"] = draw(epcs), draw(epcs)
    else:
        kw["children"] = draw(epcs)
    if kind != "TransformationEvent" and draw(st.booleans()):
        kw["parent"] = draw(EPC)
    for name, strategy in (("biz_step", WORD), ("disposition", WORD), ("by", PARTY),
                           ("biz_location", EPC), ("source", PARTY), ("destination", PARTY),
                           ("lat", st.floats(-90, 90)), ("lon", st.floats(-180, 180))):
        if draw(st.booleans()):
            kw[name] = draw(strategy)
    if draw(st.booleans()):
        kw["biz_transactions"] = draw(st.lists(st.tuples(st.none() | WORD, EPC), min_size=1,
                                               max_size=3))
    if kind != "TransformationEvent" and draw(st.booleans()):
        kw["quantities"] = draw(st.lists(st.builds(
            Quantity, EPC, st.none() | st.integers(0, 100) | st.floats(0, 1e3),
            st.none() | st.sampled_from(["KGM", "EA"])), min_size=1, max_size=2))
    if draw(st.booleans()):
        kw["extensions"] = draw(st.dictionaries(
            st.sampled_from(["af:reason", "af:claim", "af:listing", "af:note"]), SCALAR,
            max_size=3))
    return Event(**kw)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events())
def test_property_round_trip_keeps_event_id(ev: Event) -> None:
    d = ev.to_epcis()
    json.dumps(d, allow_nan=False)
    back = Event.from_epcis(json.loads(json.dumps(d)))
    assert back.event_id == ev.event_id
    assert back.time == ev.time and back.epcs == ev.epcs and back.by == ev.by
    assert back.biz_step == ev.biz_step and back.disposition == ev.disposition
    assert (back.source, back.destination, back.lat, back.lon) == (
        ev.source, ev.destination, ev.lat, ev.lon)
    again = parse_document(dumps([ev, ev]))
    assert again.event_ids == [ev.event_id, ev.event_id]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events())
def test_property_fast_prehash_equals_reference_algorithm(ev: Event) -> None:
    fast = _fast_prehash(ev)
    assert fast is not None
    assert fast == prehash_string(ev.to_epcis(), [dict(ev.namespaces)])


@settings(max_examples=200, deadline=None)
@given(events(), st.randoms(use_true_random=False))
def test_property_key_order_and_list_order_do_not_matter(ev: Event, rng: random.Random) -> None:
    d = ev.to_epcis()
    shuffled = _shuffled(d, rng)
    for key in ("epcList", "childEPCs", "inputEPCList", "outputEPCList", "bizTransactionList"):
        if key in shuffled:
            rng.shuffle(shuffled[key])
    assert event_hash(shuffled) == ev.event_id
