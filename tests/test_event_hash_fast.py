"""The fast path of the CBV 2.0 event hash against the general algorithm.

``prehash_string`` writes flat events (those of the registry's shapes) without building the
element tree (``_flat_prehash``), and normalises timestamps spelled as antifake writes them
without ``datetime`` parsing (``_fast_timestamp_text``). Both must give exactly what the
general algorithm gives: ``_reference_prehash_string`` (the element tree alone, with the
general timestamp parser) is that algorithm, unchanged. Checked on every conformance event
and on generated events of the shapes the registry produces and of shapes near them.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, reject, settings
from hypothesis import strategies as st

from antifake.epcis._prehash_flat import _flat_prehash
from antifake.epcis._prehash_values import _fast_timestamp_text, _timestamp_text
from antifake.epcis.event_hash import (
    AF_NS,
    _reference_prehash_string,
    _without_ignored,
    document_events,
    event_hash,
    hash_prehash,
    namespaces_from_context,
    prehash_string,
)
from antifake.epcis.events import Event, Quantity, _fast_prehash
from antifake.errors import EPCISError
from conformance import conformance_dir

DOCS = sorted(conformance_dir().glob("*/*.jsonld"))


def _events(path: Path) -> list[tuple[Any, Any, list[str]]]:
    try:
        events, context, ignore = document_events(json.loads(path.read_text("utf-8")))
    except Exception:  # noqa: BLE001 - not an EPCIS document: nothing to compare
        return []
    return [(e, context, ignore) for e in events]


def _same(event: Any, context: Any = None, ignore: Any = ()) -> str | None:
    """Assert that the fast path (when it applies) and ``prehash_string`` agree with the
    reference; return what the fast path wrote (``None``: the event is not flat)."""
    reference = _reference_prehash_string(event, context, ignore_fields=ignore)
    ns = namespaces_from_context(context)
    flat = _flat_prehash(_without_ignored(event, ns, ignore), ns)
    if flat is not None:
        assert flat == reference
    assert prehash_string(event, context, ignore_fields=ignore) == reference
    return flat


# ------------------------------------------------------------------------------------------
# The conformance events


@pytest.mark.skipif(not DOCS, reason="conformance data not found (see the conformance tests)")
def test_conformance_events_fast_equals_reference() -> None:
    flat = total = 0
    for path in DOCS:
        for event, context, ignore in _events(path):
            total += 1
            flat += _same(event, context, ignore) is not None
    assert total >= 90
    assert flat >= 40  # the fast path serves the plain examples


# ------------------------------------------------------------------------------------------
# Timestamps


DIGITS = st.text("0123456789", min_size=1, max_size=9)


@st.composite
def plain_timestamps(draw: st.DrawFn) -> str:
    """Timestamps spelled as antifake writes them, valid or not (days 00-39, hours 00-29,
    minutes and seconds 00-69, offsets up to 29:69, 1-9 fraction digits, years 0000-9999)."""
    y = draw(st.sampled_from(["0000", "0001", "1970", "2024", "2027", "9999"])
             | st.from_regex(r"[0-9]{4}", fullmatch=True))
    parts = [draw(st.from_regex(p, fullmatch=True)) for p in (
        r"(0[0-9]|1[0-3])", r"[0-3][0-9]", r"[0-2][0-9]", r"[0-6][0-9]", r"[0-6][0-9]")]
    mo, d, h, mi, s = parts
    fraction = draw(st.none() | DIGITS | st.sampled_from(["9995", "9996", "999500", "0005"]))
    zone = draw(st.sampled_from(["Z", "+00:00", "-00:00", "+07:00", "-05:30", "+14:00",
                                 "-12:00", "+23:59", "+24:00", "-00:60"])
                | st.from_regex(r"[+-][0-2][0-9]:[0-6][0-9]", fullmatch=True))
    text = f"{y}-{mo}-{d}T{h}:{mi}:{s}"
    if fraction is not None:
        text += "." + fraction
    return text + zone


@settings(max_examples=1000, deadline=None)
@given(plain_timestamps())
@example("9999-12-31T23:59:59.9996Z")  # rounds up past the last representable time
@example("0001-01-01T00:00:00.000+01:00")  # before the first one in UTC
@example("2024-02-29T23:59:59.9995-00:30")  # carries into the next day (ties to even: up)
@example("2023-02-29T10:00:00.000Z")  # no such day
@example("2024-05-01T10:00:00.0005+07:00")  # ties to even: down
def test_fast_timestamp_equals_general(text: str) -> None:
    assert _fast_timestamp_text(text) == _timestamp_text(text)


@settings(max_examples=500, deadline=None)
@given(st.text(min_size=0, max_size=40))
@example("2024-05-01T10:00:00+07:00")
@example("2024-05-01t10:00:00z")
@example("20240501T100000Z")
@example("2024-05-01T10:00:00.000 +07:00")
@example("2024-05-01T10:00:00\u0661Z")
def test_fast_timestamp_equals_general_on_any_text(text: str) -> None:
    assert _fast_timestamp_text(text) == _timestamp_text(text)


# ------------------------------------------------------------------------------------------
# Generated flat events (the registry's shapes) and shapes near them


VOCAB_WORDS = ["shipping", "receiving", "in_transit", "in_progress", "retail_sold", "po",
               "owning_party", "possessing_party", "location", "inspecting", "active",
               "destroyed", "Temperature", "x", "ObjectEvent"]
EPC = st.one_of(
    st.integers(0, 10**6).map(lambda n: f"urn:epc:id:sgtin:0614141.107346.{n}"),
    st.integers(0, 10**9).map(lambda n: f"urn:epc:id:sscc:0614141.{n:010d}"),
    st.integers(0, 99).map(lambda n: f"urn:epc:class:lgtin:4012345.012345.L{n}"),
    st.text("ABCxyz019-._", min_size=1, max_size=12).map(
        lambda s: f"https://id.gs1.org/01/09506000134352/21/{s}"),
    st.text("ABC19", min_size=1, max_size=6).map(
        lambda s: f"https://example.com/gtin/9780345418913/10/L1/21/{s}?x=1"),
    st.integers(0, 500).map(lambda n: f"urn:antifake:bench:0:{n}"),
    st.sampled_from(["urn:epc:id:sgtin:4012345.011111.1001", "urn:epc:id:sgln:0614141.12345.0",
                     "https://ref.gs1.org/cbv/BizStep-shipping", "cbv:Disp-active",
                     "ex:thing", "gs1:Temperature", " urn:x:padded ", "", "in_transit",
                     "ex:", "urn:epc:idpat:sgtin:4012345.012345.*", "12.50", "1e3"]),
    st.text(min_size=0, max_size=10),
)
PARTY = st.one_of(
    st.sampled_from(["MFR-01", "DIST-07", "app:4f2a", "shipping", "gs1:Temperature",
                     "urn:epc:id:sgln:0614141.12345.0", "consumer 7"]),
    st.text(min_size=1, max_size=10).filter(lambda s: s.isprintable()),
).map(lambda p: p if ":" in p else "urn:antifake:party:" + p.replace(" ", "%20"))
WORD = st.one_of(
    st.sampled_from(VOCAB_WORDS + ["af:listing", "af:claiming", "cbv:BizStep-packing",
                                   "https://ref.gs1.org/cbv/Disp-active", "custom_step",
                                   "urn:epcglobal:cbv:bizstep:picking", "ex:step", " po "]),
    st.text(min_size=0, max_size=8),
)
OFFSETS = st.sampled_from([timedelta(0), timedelta(hours=7), timedelta(hours=-5, minutes=-30),
                           timedelta(hours=14), timedelta(hours=-12), timedelta(hours=1,
                                                                                seconds=30)])
TIMES = st.builds(
    lambda dt, off: dt.replace(tzinfo=timezone(off)),
    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)), OFFSETS)


def _iso(dt: datetime, style: int) -> str:
    if style == 0:
        return dt.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    if style == 1:
        return dt.isoformat()
    if style == 2:
        return dt.isoformat(timespec="seconds")
    return dt.strftime("%Y%m%dT%H%M%S") + "Z"


TIME_TEXT = st.one_of(
    st.builds(_iso, TIMES, st.integers(0, 3)),
    plain_timestamps(),
    st.sampled_from(["2024-05-01T10:00:00", "not a time", "", " 2024-05-01T10:00:00Z "]),
)
NUMBER = st.one_of(st.integers(-10**20, 10**20), st.floats(allow_nan=True, allow_infinity=True))
SCALAR = st.one_of(WORD, EPC, NUMBER, st.booleans(), st.none())
CONTEXTS = st.sampled_from([
    None,
    [{"af": AF_NS}],
    ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld",
     {"ex": "https://example.com/ns/", "af": AF_NS}],
    [{"ex": "https://ref.gs1.org/cbv/", "cbv": "https://example.com/cbv#"}],
    {"urn": "https://gs1.org/voc/", "af": {"@id": AF_NS}},
    [{"ex": "https://example.com/ns/"}, {"ex": "https://example.org/other/"}],
])
EXTENSION_KEYS = st.one_of(
    st.sampled_from(["af:lat", "af:lon", "af:reason", "af:claim", "af:listing", "af:attempt",
                     "ex:note", "ex:fooList", "undeclared:x", "myField", "quantity",
                     "inputEPC", "source", "persistentDisposition", "errorDeclaration",
                     "@id", "@xmlns:x", "comment", "rdfs:comment", "#text", "ilmd"]),
    st.text("abcxyz:L", min_size=1, max_size=8),
)


@st.composite
def flat_events(draw: st.DrawFn) -> dict[str, Any]:
    """EPCIS events as the registry writes them, and variations: every standard field the
    fast path knows, in any key order, with odd values here and there."""
    kind = draw(st.sampled_from(["ObjectEvent", "AggregationEvent", "TransactionEvent",
                                 "TransformationEvent", "AssociationEvent"])
                | st.sampled_from(["quantity", "inputEPC", "shipping", "epcList"]))
    d: dict[str, Any] = {"type": kind, "eventTime": draw(TIME_TEXT)}
    if draw(st.booleans()):
        d["eventTimeZoneOffset"] = draw(st.sampled_from(["+00:00", "+07:00", "-05:30", ""]))
    epcs = st.lists(EPC, max_size=5)
    for name in draw(st.sets(st.sampled_from(["epcList", "childEPCs", "inputEPCList",
                                              "outputEPCList"]), max_size=2)):
        d[name] = draw(epcs)
    leaves = {"parentID": EPC, "action": st.sampled_from(["ADD", "OBSERVE", "DELETE", " "]),
              "bizStep": WORD, "disposition": WORD, "transformationID": EPC,
              "certificationInfo": EPC, "eventID": EPC, "recordTime": TIME_TEXT}
    for name, strategy in leaves.items():
        if draw(st.booleans()):
            d[name] = draw(strategy)
    for name in ("readPoint", "bizLocation"):
        if draw(st.booleans()):
            d[name] = {"id": draw(PARTY | EPC)}
    for name, value_key in (("bizTransactionList", "bizTransaction"), ("sourceList", "source"),
                            ("destinationList", "destination")):
        if draw(st.booleans()):
            entries = []
            for _ in range(draw(st.integers(0, 3))):
                entry: dict[str, Any] = {}
                if draw(st.booleans()):
                    entry["type"] = draw(WORD)
                entry[value_key] = draw(PARTY | EPC)
                if draw(st.booleans()):
                    entry = dict(reversed(entry.items()))
                entries.append(entry)
            d[name] = entries
    for name in draw(st.sets(st.sampled_from(["quantityList", "childQuantityList",
                                              "inputQuantityList", "outputQuantityList"]),
                             max_size=2)):
        d[name] = draw(st.lists(st.fixed_dictionaries(
            {"epcClass": EPC},
            optional={"quantity": st.integers(0, 100) | st.floats(0, 1e3) | WORD,
                      "uom": st.sampled_from(["KGM", "EA", " "])}), max_size=3))
    for key in draw(st.lists(EXTENSION_KEYS, max_size=4)):
        d[key] = draw(SCALAR)
    if draw(st.booleans()):
        items = list(d.items())
        draw(st.randoms(use_true_random=False)).shuffle(items)
        d = dict(items)
    return d


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(flat_events(), CONTEXTS, st.lists(st.sampled_from(
    ["eventTime", "af:lat", "ex:note", "bizStep", "sourceList", "recordTime"]), max_size=2))
def test_flat_events_fast_equals_reference(event: dict[str, Any], context: Any,
                                           ignore: list[str]) -> None:
    _same(event, context, ignore)


def test_registry_shapes_take_the_fast_path() -> None:
    t = datetime(2027, 1, 1, 12, 30, tzinfo=timezone(timedelta(hours=7)))
    events = [
        Event.commission(["urn:epc:id:sgtin:0614141.107346.1", "urn:antifake:x:2"], by="MFR",
                         at=t),
        Event.aggregate("urn:epc:id:sscc:0614141.1234567890", ["urn:antifake:x:1"], by="P",
                        at=t),
        Event.disaggregate("urn:epc:id:sscc:0614141.1234567890", by="P", at=t),
        Event.ship(["urn:antifake:x:1"], source="MFR", destination="DIST 7", at=t),
        Event.receive(["urn:antifake:x:1"], by="DIST", source="MFR", at=t),
        Event.sell(["urn:antifake:x:1"], by="RET", at=t),
        Event.scan("urn:antifake:x:1", by="app:4f2a", at=t, lat=10.77, lon=106.7),
        Event.list("urn:antifake:x:1", seller="S", at=t, listing="https://m.example/1"),
        Event.decommission(["urn:antifake:x:1"], reason="stolen", by="MFR", at=t),
        Event.reactivate("urn:antifake:x:1", by="MFR", at=t),
        Event.claim("urn:antifake:x:1", by="c", at=t, ok=False, lat=1.0, lon=-0.0),
        Event(type="TransformationEvent", action=None, time=t, inputs=["urn:antifake:x:1"],
              outputs=["urn:antifake:x:3"], biz_transactions=[("po", "urn:x:po:1"),
                                                               (None, "urn:x:inv:2")],
              biz_location="urn:epc:id:sgln:0614141.12345.0"),
        Event(type="ObjectEvent", action="ADD", time=t,
              quantities=[Quantity("urn:epc:class:lgtin:4012345.012345.L1", 5.0, "KGM")]),
    ]
    for ev in events:
        d = ev.to_epcis()
        assert _same(d, [dict(ev.namespaces)]) is not None, d
        assert _fast_prehash(ev) is not None


# ------------------------------------------------------------------------------------------
# Events built with the Event model


@st.composite
def model_events(draw: st.DrawFn) -> Event:
    kind = draw(st.sampled_from(["ObjectEvent", "AggregationEvent", "TransactionEvent",
                                 "TransformationEvent", "AssociationEvent"]))
    time = draw(TIMES.filter(lambda t: 1 < t.year < 9999))
    kw: dict[str, Any] = {"type": kind, "time": time}
    if time.utcoffset() % timedelta(minutes=1):
        kw["tz_offset"] = "+01:00"  # Event cannot say a sub-minute offset itself
    kw["action"] = None if kind == "TransformationEvent" else draw(
        st.sampled_from(["ADD", "OBSERVE", "DELETE"]))
    ids = st.lists(EPC.filter(lambda s: re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*:[!-~]*", s)
                              is not None), max_size=4)
    if kind in ("ObjectEvent", "TransactionEvent"):
        kw["epcs"] = draw(ids)
    elif kind == "TransformationEvent":
        kw["inputs"], kw["outputs"] = draw(ids), draw(ids)
    else:
        kw["children"] = draw(ids)
    words = WORD.filter(bool)
    parties = st.sampled_from(["MFR-01", "app:4f2a", "shipping", "in_transit", "x y"])
    for name, strategy in (("biz_step", words), ("disposition", words), ("by", parties),
                           ("source", parties), ("destination", parties),
                           ("lat", st.floats(-90, 90)), ("lon", st.floats(-180, 180))):
        if draw(st.booleans()):
            kw[name] = draw(strategy)
    if draw(st.booleans()):
        kw["biz_transactions"] = draw(st.lists(st.tuples(st.none() | words, parties),
                                               min_size=1, max_size=3))
    if kind != "TransformationEvent" and draw(st.booleans()):
        kw["quantities"] = draw(st.lists(st.builds(
            Quantity, st.sampled_from(["urn:epc:class:lgtin:4012345.012345.L1", "ex:c"]),
            st.none() | st.integers(0, 100) | st.floats(0, 1e3),
            st.none() | st.sampled_from(["KGM", "EA"])), min_size=1, max_size=2))
    if draw(st.booleans()):
        kw["extensions"] = draw(st.dictionaries(
            st.sampled_from(["af:reason", "af:claim", "af:listing", "af:attempt", "ex:n"]),
            SCALAR.filter(lambda v: not (isinstance(v, float) and v != v or v in (
                float("inf"), float("-inf")))), max_size=3))
    if draw(st.booleans()):
        kw["namespaces"] = {"af": AF_NS, "ex": "https://ref.gs1.org/cbv/Disp-"}
    try:
        return Event(**kw)
    except EPCISError:  # a value the model refuses (a NUL character, a lone surrogate)
        reject()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(model_events())
def test_event_id_equals_reference(ev: Event) -> None:
    reference = _reference_prehash_string(ev.to_epcis(), [dict(ev.namespaces)])
    assert _fast_prehash(ev) in (None, reference)
    assert ev.event_id == hash_prehash(reference)


def test_sub_minute_utc_offset() -> None:
    """An offset with seconds is written as such; the reference leaves such a timestamp
    as written (the earlier fast path converted it to UTC)."""
    t = datetime(2027, 1, 1, tzinfo=timezone(timedelta(hours=1, seconds=30)))
    ev = Event(type="ObjectEvent", action="OBSERVE", time=t, tz_offset="+01:00",
               epcs=["urn:x:1"])
    reference = _reference_prehash_string(ev.to_epcis(), [dict(ev.namespaces)])
    assert "eventTime=2027-01-01T00:00:00.000+01:00:30" in reference
    assert ev.event_id == hash_prehash(reference)


def test_caches_do_not_leak_between_contexts() -> None:
    """The same event under two contexts: the vocabulary table and the memo of written
    values are per context."""
    d = {"type": "ObjectEvent", "eventTime": "2027-01-01T00:00:00Z", "bizStep": "ex:shipping",
         "disposition": "ex:x", "readPoint": {"id": "ex:rp"}}
    seen = set()
    for ns in ("https://example.com/a/", "https://example.com/b/", "https://ref.gs1.org/cbv/"):
        for _ in range(2):
            h = event_hash(d, [{"ex": ns}])
            assert _same(d, [{"ex": ns}]) is not None
        seen.add(h)
    assert len(seen) == 3
    when = datetime(2027, 1, 1, tzinfo=UTC)
    assert Event.scan("urn:x:1", by="a", at=when).event_id == event_hash(
        Event.scan("urn:x:1", by="a", at=when).to_epcis())


@pytest.mark.parametrize("field", ["parentID", "certificationInfo", "transformationID",
                                   "eventID", "epcList", "readPoint", "bizTransactionList",
                                   "sourceList", "quantityList", "bizStep", "disposition"])
@pytest.mark.parametrize("iri", ["https://ref.gs1.org/cbv/Disp-odd_word", "cbv:Disp-odd_word",
                                 "ex:Disp-odd_word"])
def test_step_1_sources(field: str, iri: str) -> None:
    """A bare word elsewhere in the event is expanded when exactly one vocabulary- or
    IRI-typed value of the event ends with it, wherever that value is."""
    value: Any = {
        "epcList": [iri], "readPoint": {"id": iri},
        "bizTransactionList": [{"type": "po", "bizTransaction": iri}],
        "sourceList": [{"source": iri}], "quantityList": [{"epcClass": iri}],
    }.get(field, iri)
    d = {"type": "ObjectEvent", "eventTime": "2027-01-01T00:00:00.000Z", field: value,
         "childEPCs": ["odd_word"], "ex:note": "odd_word"}
    context = [{"ex": "https://gs1.org/voc/"}]
    assert _same(d, context) is not None
    # The word in childEPCs and in ex:note, and the value itself unless it is the eventID.
    expanded = _reference_prehash_string(d, context).count("Disp-odd_word")
    assert expanded == (2 if field == "eventID" else 3)
