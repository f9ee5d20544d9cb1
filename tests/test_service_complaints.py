"""Complaints are their own event kind: stored with `EventKind.COMPLAINT`, valid EPCIS
JSON-LD that round-trips with a computable CBV event hash, never taken by detection for
activity of the stamp (a report about a stolen, recalled or claimed stamp raises no alert),
and shown in the stamp's history and evidence bundle."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import antifake as af
from antifake.detect import detect
from antifake.epcis.event_hash import event_hash
from antifake.epcis.events import BIZ_COMPLAINING, Event, event_kind
from antifake.epcis.kinds import EventKind
from antifake.registry import Registry
from antifake.service.complaints import complaint_event

BASE = "https://xacthuc.example.vn/abc"
T0 = datetime(2026, 5, 1, tzinfo=UTC)


def test_complaint_event_kind_and_json_ld() -> None:
    e = complaint_event("urn:antifake:stamp:X:1:0:0", "fake, bought at a stall", "0912",
                        "consumer-web", at=T0)
    assert e.biz_step == BIZ_COMPLAINING == "af:complaining"
    assert event_kind(e) == EventKind.COMPLAINT != EventKind.OTHER
    doc = e.to_epcis()
    assert doc["type"] == "ObjectEvent" and doc["action"] == "OBSERVE"
    assert doc["af:complaint"] == "fake, bought at a stall" and doc["af:contact"] == "0912"
    back = Event.from_epcis(doc)
    assert back == e and event_kind(back) == EventKind.COMPLAINT
    h = event_hash(doc)
    assert h.startswith("ni:///sha-256;") and h == event_hash(back.to_epcis())
    # the text is part of what the hash covers
    other = complaint_event(e.epcs[0], "another text", "0912", "consumer-web", at=T0)
    assert event_hash(other.to_epcis()) != h


@pytest.fixture()
def reg(tmp_path: Path):
    key = af.IssuerKey.generate("VN-COMPLAIN-01", valid_from=T0 - timedelta(days=60))
    lk = af.LogKey.generate("registry.example.vn/antifake")
    r = Registry(tmp_path / "r.db", keyring=af.Keyring([key]), log_key=lk)
    r.vkey = lk.vkey  # type: ignore[attr-defined]
    r.add_party("MFR-01", role="manufacturer", region="VN-HN", lat=21.03, lon=105.85)
    r.add_party("consumer-web", role="consumer")
    batch = af.issue(key, 6, at=T0 - timedelta(days=30))
    r.register(batch, owner="MFR-01", at=T0 - timedelta(days=30))
    r.batch = batch  # type: ignore[attr-defined]
    yield r
    r.close()


def _inactive(alerts: list[af.Alert], epc: str) -> list[af.Alert]:
    return [a for a in alerts if a.kind == "inactive_stamp_activity" and epc in a.codes]


@pytest.mark.parametrize("reason", ["stolen", "recalled", "destroyed", "sold"])
def test_a_complaint_is_not_activity_of_the_stamp(reg, reason: str) -> None:
    batch = reg.batch
    urls = batch.urls(BASE)
    epc = reg.resolve(urls[0])
    reg.decommission([batch[0]], reason=reason, by="MFR-01", at=T0)
    before = _inactive(detect(reg), epc)
    ids = [reg.record(complaint_event(epc, f"report {i}", None, "consumer-web",
                                      at=T0 + timedelta(days=1 + i))) for i in range(3)]
    after = _inactive(detect(reg), epc)
    assert [(a.score, a.evidence) for a in after] == [(a.score, a.evidence) for a in before]
    assert not any(i in a.evidence for a in after for i in ids)
    # a scan of the same stamp is activity: the same detector does see that
    reg.record(Event.scan(epc, by="consumer-web", at=T0 + timedelta(days=5),
                          lat=10.78, lon=106.7))
    if reason in ("stolen", "recalled", "destroyed"):
        assert _inactive(detect(reg), epc) != before
    # the complaints are stored with their own kind and are in the history and evidence
    hist = reg.history(epc)
    assert [event_kind(e) for e in hist if e.event_id in ids] == [EventKind.COMPLAINT] * 3
    bundle = reg.evidence(urls[0])
    texts = [ev.get("event", ev).get("af:complaint") if isinstance(ev, dict) else None
             for ev in bundle["events"]]
    assert {"report 0", "report 1", "report 2"} <= {t for t in texts if t}
    assert af.verify_evidence(bundle, reg.vkey).ok


def test_a_complaint_round_trips_through_export_and_import(reg, tmp_path: Path) -> None:
    batch = reg.batch
    epc = reg.resolve(batch.urls(BASE)[2])
    eid = reg.record(complaint_event(epc, "no hologram", "0912", "consumer-web",
                                     at=T0 + timedelta(days=1)))
    out = tmp_path / "all.jsonld"
    reg.export_epcis(out)
    other = Registry(tmp_path / "other.db", keyring=reg.keyring)
    try:
        other.import_epcis(out)
        [back] = other.events([eid])  # the same event id (CBV event hash) in both
        assert back.extensions["af:complaint"] == "no hologram"
        assert event_kind(back) == EventKind.COMPLAINT
        assert event_hash(back.to_epcis()) == event_hash(reg.events([eid])[0].to_epcis())
    finally:
        other.close()


def test_a_complaint_on_a_claimed_stamp_raises_no_alert(reg) -> None:
    batch = reg.batch
    url = batch.urls(BASE)[1]
    epc = reg.resolve(url)
    assert reg.claim(url, batch.pins()[1], at=T0).ok
    base = _inactive(detect(reg), epc)
    reg.record(complaint_event(epc, "the seal was broken", "x@example.vn", "consumer-web",
                               at=T0 + timedelta(days=2)))
    assert _inactive(detect(reg), epc) == base
    assert not [a for a in detect(reg) if epc in a.codes and a.kind != "claim_lockout"
                and a not in base]
