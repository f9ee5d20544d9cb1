"""EPCIS 2.0 JSON-LD documents: GS1's examples, validation with JSON paths, writing."""

from __future__ import annotations

import contextlib
import copy
import json
import os
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from antifake.epcis.event_hash import AF_NS, EPCIS_CONTEXT_URL, event_hash
from antifake.epcis.events import Event
from antifake.epcis.jsonld import (
    MAX_DOCUMENT_BYTES,
    EPCISDocument,
    document,
    dumps,
    parse_document,
)
from antifake.errors import EPCISError
from conformance import conformance_dir

EXAMPLES_DIR = conformance_dir() / "epcis-examples"
EXAMPLES = sorted(EXAMPLES_DIR.glob("*.jsonld")) if EXAMPLES_DIR.is_dir() else []
NI = re.compile(r"ni:///sha-256;[0-9a-f]{64}\?ver=CBV2\.0")
T = "2024-05-01T10:00:00+07:00"
ITEM = "urn:epc:id:sgtin:4012345.011111.1001"


def _require_data() -> None:
    if not EXAMPLES_DIR.is_dir():
        message = f"conformance data not found at {EXAMPLES_DIR} (set ANTIFAKE_CONFORMANCE)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


def test_examples_present() -> None:
    _require_data()
    assert len(EXAMPLES) >= 40


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_gs1_example_parses_and_round_trips(path: Path) -> None:
    _require_data()
    doc = parse_document(path)
    assert isinstance(doc, EPCISDocument)
    assert doc.events and len(doc.events) == len(doc.raw_events)
    for event, raw in zip(doc.events, doc.raw_events, strict=True):
        assert NI.fullmatch(event.event_id)
        assert event.event_id == event_hash(raw, doc.context, ignore_fields=doc.ignore_fields)
        again = Event.from_epcis(event.to_epcis(), doc.context)
        assert again.event_id == event.event_id
        assert again.type == event.type and again.epcs == event.epcs
    # Written again as one document and read back: the same ids.
    assert parse_document(dumps(doc.events)).event_ids == doc.event_ids


def test_input_forms(tmp_path: Path) -> None:
    events = [Event.scan(ITEM, by="app:1", at=T, lat=1.0, lon=2.0),
              Event.commission([ITEM], by="MFR-01", at=T)]
    text = dumps(events)
    ids = [e.event_id for e in events]
    f = tmp_path / "events.jsonld"
    f.write_text(text, encoding="utf-8")
    assert parse_document(text).event_ids == ids
    assert parse_document(text.encode()).event_ids == ids
    assert parse_document(b"\xef\xbb\xbf" + text.encode()).event_ids == ids
    assert parse_document(bytearray(text.encode())).event_ids == ids
    assert parse_document(json.loads(text)).event_ids == ids
    assert parse_document(f).event_ids == ids
    with pytest.raises(EPCISError, match="pathlib.Path"):  # a str is text, never a path
        parse_document(str(f))
    with pytest.raises(EPCISError):
        parse_document(tmp_path / "missing.jsonld")
    with pytest.raises(EPCISError):
        parse_document(12)  # type: ignore[arg-type]


def test_query_document_and_ignore_fields() -> None:
    event = Event.scan(ITEM, by="app:1", at=T).to_epcis()
    event["repo:hash"] = "whatever"
    query = {
        "@context": [EPCIS_CONTEXT_URL, {"repo": "https://repo.example/"}],
        "type": "EPCISQueryDocument",
        "schemaVersion": "2.0",
        "creationDate": "2024-05-01T00:00:00Z",
        "epcisBody": {"queryResults": {
            "queryName": "SimpleEventQuery",
            "repo:ignoreFields": ["repo:hash"],
            "resultsBody": {"eventList": [event]},
        }},
    }
    parsed = parse_document(query)
    assert parsed.type == "EPCISQueryDocument"
    assert parsed.ignore_fields == ("repo:hash",)
    assert parsed.event_ids == [Event.scan(ITEM, by="app:1", at=T).event_id]
    assert "repo:hash" not in parsed.events[0].extensions
    # Not a query document: no queryResults.
    bad = copy.deepcopy(query)
    bad["epcisBody"] = {"eventList": []}
    with pytest.raises(EPCISError) as info:
        parse_document(bad)
    assert info.value.path == "$.epcisBody.queryResults"


def test_document_shape() -> None:
    events = [Event.ship([ITEM], source="MFR-01", destination="DIST-07", at=T)]
    doc = document(events, creation_date="2024-05-01T00:00:00Z")
    assert doc["@context"] == [EPCIS_CONTEXT_URL, {"af": AF_NS}]
    assert doc["type"] == "EPCISDocument" and doc["schemaVersion"] == "2.0"
    assert doc["creationDate"] == "2024-05-01T00:00:00Z"
    (written,) = doc["epcisBody"]["eventList"]
    assert written["eventID"] == events[0].event_id
    assert written["type"] == "ObjectEvent"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", document([])["creationDate"])
    text = dumps(events, indent=2)
    assert json.loads(text) == {**doc, "creationDate": json.loads(text)["creationDate"]}
    with pytest.raises(EPCISError):
        document([written])  # type: ignore[list-item]


def test_documents_mixing_contexts() -> None:
    mine = Event.scan(ITEM, by="app:1", at=T, lat=3.0, lon=4.0)
    raw = {
        "type": "ObjectEvent", "eventTime": T, "eventTimeZoneOffset": "+07:00",
        "epcList": [ITEM], "action": "OBSERVE", "ex:note": "hello", "ex:ref": "ex:thing",
    }
    a = Event.from_epcis(raw, [EPCIS_CONTEXT_URL, {"ex": "https://a.example/"}])
    b = Event.from_epcis(raw, [EPCIS_CONTEXT_URL, {"ex": "https://b.example/"}])
    assert len({mine.event_id, a.event_id, b.event_id}) == 3
    text = dumps([mine, a, b])
    ctx = json.loads(text)["@context"][1]
    assert ctx["af"] == AF_NS and "https://a.example/" in ctx.values()
    assert "https://b.example/" in ctx.values()
    assert parse_document(text).event_ids == [mine.event_id, a.event_id, b.event_id]


def _doc(*events: dict) -> dict:
    return {
        "@context": [EPCIS_CONTEXT_URL, {"af": AF_NS}],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2024-05-01T00:00:00Z",
        "epcisBody": {"eventList": list(events)},
    }


GOOD = Event.scan(ITEM, by="app:1", at=T, lat=10.0, lon=20.0).to_epcis()


def _with(**changes: object) -> dict:
    event = copy.deepcopy(GOOD)
    for key, value in changes.items():
        key = key.replace("__", ":")
        if value is None:
            event.pop(key, None)
        else:
            event[key] = value
    return _doc(GOOD, event)


E1 = "$.epcisBody.eventList[1]"
DEEP: object = 1
for _ in range(70):
    DEEP = [DEEP]


@pytest.mark.parametrize(
    ("data", "path", "message"),
    [
        ("[]", "$", "object"),
        ('"hello"', "$", "object"),
        ("{", "$", "line 1 column 2"),
        ('{"a": 1,\n "b": }', "$", "line 2 column 7"),
        ("", "$", "invalid JSON"),
        ('{"a": NaN}', "$", "NaN"),
        (b'{"a": "\xff"}', "$", "UTF-8"),
        (b'{"a": "x\x00y"}', "$", "invalid JSON"),
        ("[" * 100_000 + "]" * 100_000, "$", "nest"),
        ({}, "$.type", "missing type"),
        ({**_doc(), "type": "EPCISThing"}, "$.type", "unknown document type"),
        ({k: v for k, v in _doc().items() if k != "epcisBody"}, "$.epcisBody", "missing"),
        ({**_doc(), "epcisBody": []}, "$.epcisBody", "object"),
        ({**_doc(), "epcisBody": {}}, "$.epcisBody.eventList", "missing eventList"),
        ({**_doc(), "epcisBody": {"eventList": {}}}, "$.epcisBody.eventList", "list"),
        ({**_doc(), "@context": 5}, "$['@context']", "context"),
        ({**_doc(), "@context": [EPCIS_CONTEXT_URL, 5]}, "$['@context'][1]", "context"),
        (_doc(GOOD, "event"), E1, "object"),
        (_with(type="Thing"), E1 + ".type", "unknown event type"),
        (_with(type=None), E1 + ".type", "missing type"),
        (_with(eventTime=None), E1 + ".eventTime", "missing eventTime"),
        (_with(eventTime="yesterday"), E1 + ".eventTime", "ISO 8601"),
        (_with(eventTime="2024-05-01T10:00:00"), E1 + ".eventTime", "offset"),
        (_with(eventTime="2024-02-30T10:00:00Z"), E1 + ".eventTime", "ISO 8601"),
        (_with(eventTime=20240501), E1 + ".eventTime", "string"),
        (_with(eventTimeZoneOffset=None), E1 + ".eventTimeZoneOffset", "missing"),
        (_with(eventTimeZoneOffset="+7"), E1 + ".eventTimeZoneOffset", "offset"),
        (_with(action=None), E1 + ".action", "missing action"),
        (_with(action="observe"), E1 + ".action", "action"),
        (_with(epcList="x y"), E1 + ".epcList", "EPC"),
        (_with(epcList=[ITEM, 3]), E1 + ".epcList[1]", "string"),
        (_with(epcList=[ITEM, ""]), E1 + ".epcList[1]", "string"),
        (_with(epcList=[{"id": ITEM}]), E1 + ".epcList[0]", "string"),
        (_with(bizStep=7), E1 + ".bizStep", "string"),
        (_with(readPoint="app:1"), E1 + ".readPoint", "object"),
        (_with(readPoint={"id": 1}), E1 + ".readPoint.id", "string"),
        (_with(bizTransactionList=[{"type": "po"}]), E1 + ".bizTransactionList[0].bizTransaction",
         "missing"),
        (_with(sourceList=[{"type": "owning_party", "source": 5}]), E1 + ".sourceList[0].source",
         "string"),
        (_with(quantityList=[{"epcClass": ITEM, "quantity": True}]),
         E1 + ".quantityList[0].quantity", "number"),
        (_with(af__lat="10"), E1 + "['af:lat']", "number"),
        (_with(af__lon=181), E1 + "['af:lon']", "180"),
        (_with(af__note="nul\x00here"), E1 + "['af:note']", "NUL"),
        (_with(af__note="\udc80"), E1 + "['af:note']", "surrogate"),
        (_with(recordTime="soon"), E1 + ".recordTime", "ISO 8601"),
        (_with(errorDeclaration={"reason": "incorrect_data"}),
         E1 + ".errorDeclaration.declarationTime", "missing"),
        (_with(persistentDisposition={"set": "recalled", "unset": [1]}),
         E1 + ".persistentDisposition.unset[0]", "string"),
        (_with(af__deep=DEEP), E1 + "['af:deep']" + "[0]" * 60, "nested deeper"),
    ],
)
def test_malformed_documents(data: object, path: str, message: str) -> None:
    with pytest.raises(EPCISError) as info:
        parse_document(data)  # type: ignore[arg-type]
    assert info.value.path == path, info.value
    assert message.lower() in str(info.value).lower(), info.value


def test_json_errors_carry_line_and_column() -> None:
    with pytest.raises(EPCISError) as info:
        parse_document('{\n  "type": "EPCISDocument",\n  "epcisBody": {\n')
    assert info.value.line == 4  # type: ignore[attr-defined]
    assert info.value.column >= 1  # type: ignore[attr-defined]


def test_truncations_of_a_valid_document_are_refused() -> None:
    text = dumps([Event.ship([ITEM], source="A", destination="B", at=T)], indent=1)
    for cut in range(0, len(text) - 1, 7):
        with pytest.raises(EPCISError):
            parse_document(text[:cut])


def test_size_limit() -> None:
    small = dumps([Event.scan(ITEM, by="a", at=T)]).encode()
    with pytest.raises(EPCISError, match="larger"):
        parse_document(small, max_bytes=len(small) - 1)
    assert parse_document(small, max_bytes=len(small)).events
    huge = b" " * (MAX_DOCUMENT_BYTES + 1)
    with pytest.raises(EPCISError, match="larger"):
        parse_document(huge)


def test_unicode_is_kept() -> None:
    ev = Event.list(ITEM, seller="Cửa hàng Đà Nẵng", at=T, listing="https://shop.vn/sản-phẩm/1")
    parsed = parse_document(dumps([ev]).encode("utf-8")).events[0]
    assert parsed.by == "Cửa hàng Đà Nẵng" and parsed.listing == "https://shop.vn/sản-phẩm/1"
    assert parsed.event_id == ev.event_id


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.binary(max_size=300), st.text(max_size=300)))
def test_arbitrary_input_raises_only_epcis_errors(data: bytes | str) -> None:
    with contextlib.suppress(EPCISError):
        parse_document(data)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                               max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(sorted(GOOD)), JSON)
def test_arbitrary_field_values_raise_only_epcis_errors(key: str, value: object) -> None:
    event = copy.deepcopy(GOOD)
    event[key] = value
    try:
        parsed = parse_document(_doc(event))
    except EPCISError as e:
        assert e.path.startswith("$.epcisBody.eventList[0]")
    else:
        assert parsed.events[0].event_id == event_hash(event)
