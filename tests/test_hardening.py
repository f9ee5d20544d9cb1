"""Regression tests of the attack review's Low findings and of the fuzzing campaign's finds:
every crafted input gets a typed antifake error or a verdict, never a Python internal error."""

from __future__ import annotations

import json
import os
import struct
from datetime import UTC, datetime
from pathlib import Path

import nacl.pwhash
import numpy as np
import pytest

import antifake as af
from antifake import _atomic
from antifake.epcis.event_hash import event_hash
from antifake.epcis.jsonld import parse_document
from conftest import BASE

S = af.Status
EVENT = {"type": "ObjectEvent", "eventTime": "2026-01-01T00:00:00Z",
         "eventTimeZoneOffset": "+00:00", "action": "OBSERVE", "epcList": [],
         "quantityList": [{"epcClass": "urn:epc:class:lgtin:4012345.012345.998877",
                           "quantity": 1}]}


def doc_text(events: list) -> str:
    return json.dumps({"type": "EPCISDocument", "schemaVersion": "2.0",
                       "epcisBody": {"eventList": events}})


def test_huge_numbers_in_events() -> None:
    reg = af.Registry(":memory:")
    for digits in (400, 6000):
        text = doc_text([EVENT]).replace('"quantity": 1', '"quantity": 1' + "0" * digits)
        with pytest.raises(af.EPCISError):
            reg.import_epcis(text)
    # the same numbers in a parsed document and in the event hash
    ev = json.loads(json.dumps(EVENT))
    ev["quantityList"][0]["quantity"] = 10**400
    doc = json.loads(doc_text([]))
    doc["epcisBody"]["eventList"] = [ev]
    with pytest.raises(af.EPCISError):
        reg.import_epcis(doc)
    ev["quantityList"][0]["quantity"] = 1
    ev["af:big"] = 10**6000
    with pytest.raises(af.EPCISError):
        parse_document(doc)
    with pytest.raises(af.EPCISError):
        event_hash(ev)


def test_manifest_issued_at_out_of_range() -> None:
    key = af.IssuerKey.generate("VN-A")
    data = bytearray(af.issue(key, 2).manifest.to_bytes())
    data[12 + 11:12 + 19] = struct.pack(">q", 2**63 - 1)  # issued_at of the header
    with pytest.raises(af.ManifestError):
        af.Manifest.from_bytes(bytes(data))
    data[12 + 11:12 + 19] = struct.pack(">q", -(2**63))
    with pytest.raises(af.ManifestError):
        af.Manifest.from_bytes(bytes(data))


def test_manifest_from_any_buffer() -> None:
    key = af.IssuerKey.generate("VN-A")
    raw = af.issue(key, 2).manifest.to_bytes()
    for buf in (memoryview(raw), bytearray(raw)):
        assert af.Manifest.from_bytes(buf).to_bytes() == raw
    for bad in ("text", 42, None, memoryview(b"AFMANIF1")):
        with pytest.raises(af.ManifestError):
            af.Manifest.from_bytes(bad)


def test_nested_brackets_in_key_files(tmp_path: Path) -> None:
    for depth in (20_000, 100_000):
        text = "[" * depth + "]" * depth
        p = tmp_path / "k.key"
        p.write_text(text)
        with pytest.raises(af.KeyFileError):
            af.IssuerKey.load(p)
        with pytest.raises(af.InvalidKey):
            af.IssuerPublicKey.from_json(text)
        with pytest.raises(af.KeyringError):
            af.Keyring.from_bytes(text.encode())


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_bounded_reads() -> None:
    with pytest.raises(af.KeyFileError, match="too large"):
        af.IssuerKey.load("/dev/zero")
    with pytest.raises(af.ManifestError):
        af.Manifest.load("/dev/zero")
    with pytest.raises(af.KeyringError, match="too large"):
        af.Keyring.load("/dev/zero")
    with pytest.raises(ValueError):
        _atomic.read_capped("/dev/zero", 1 << 20)


def test_manifest_load_reads_what_the_header_announces(tmp_path: Path) -> None:
    key = af.IssuerKey.generate("VN-A")
    m = af.issue(key, 3).manifest
    p = tmp_path / "m.afm"
    p.write_bytes(m.to_bytes() + b"\x00" * 100)  # trailing junk: refused, not ignored
    with pytest.raises(af.ManifestError):
        af.Manifest.load(p)
    p.write_bytes(m.to_bytes())
    assert af.Manifest.load(p, verify_with=key.public).to_bytes() == m.to_bytes()


def _sealed_with(tmp_path: Path, ops: object, mem: object) -> Path:
    key = af.IssuerKey.generate("VN-A")
    p = tmp_path / "sealed.key"
    key.save(p, b"pw", kdf="interactive")
    d = json.loads(p.read_text())
    d["sealed"]["opslimit"], d["sealed"]["memlimit"] = ops, mem
    p.write_text(json.dumps(d))
    return p


def test_absurd_argon2_parameters_refused_before_running(tmp_path: Path) -> None:
    import time

    for ops, mem in ((2, 2**32), (2**20, nacl.pwhash.argon2id.MEMLIMIT_INTERACTIVE),
                     (2, 2**40), ("2", 2**26), (True, 2**26), (2.0, 2**26), (0, 2**26),
                     (2, 10**5000 if False else 2**70)):
        p = _sealed_with(tmp_path, ops, mem)
        t = time.perf_counter()
        with pytest.raises(af.KeyFileError, match="KDF"):
            af.IssuerKey.load(p, b"pw")
        assert time.perf_counter() - t < 0.5


def test_length_caps_on_epcs_and_party_ids() -> None:
    reg = af.Registry(":memory:")
    with pytest.raises(af.RegistryError):
        reg.add_party("p" * 50_000_000)
    ev = json.loads(json.dumps(EVENT))
    ev["epcList"] = ["urn:epc:id:sgtin:0614141.107346." + "1" * 50_000_000]
    with pytest.raises(af.EPCISError):
        reg.import_epcis(json.loads(doc_text([ev])))
    t = datetime(2026, 1, 1, tzinfo=UTC)
    with pytest.raises(af.EPCISError):
        af.Event.commission(["urn:epc:id:sgtin:0614141.107346." + "1" * 5000], by="p", at=t)
    with pytest.raises(af.EPCISError):
        af.Event.commission(["urn:epc:id:sgtin:0614141.107346.1"], by="p" * 5000, at=t)
    reg.add_party("p" * 2048)  # the limit itself is fine


def test_import_takes_paths_only_as_pathlike(tmp_path: Path) -> None:
    reg = af.Registry(":memory:")
    e = af.Event.commission(["urn:epc:id:sgtin:0614141.107346.1"], by="p",
                            at=datetime(2026, 1, 1, tzinfo=UTC))
    p = tmp_path / "doc.jsonld"
    p.write_text(doc_text([e.to_epcis()]))
    assert reg.import_epcis(p).new == 1  # a Path is a path
    assert reg.import_epcis(p.read_text()).new == 0  # a str is JSON text
    for s in (str(p), "/etc/passwd", "doc.jsonld", ""):
        with pytest.raises(af.EPCISError):
            reg.import_epcis(s)


def test_sqlite_url_options_honoured_or_refused(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    reg = af.Registry(f"sqlite:///{db}?synchronous=normal&timeout=3")
    store = reg.storage
    assert store._timeout == 3.0
    assert store._db.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    reg.close()
    for bad in ("synchronous=bogus", "timeout=x", "timeout=-1", "timeout=1e300", "cache=1",
                "timeout"):
        with pytest.raises(af.RegistryError):
            af.Registry(f"sqlite:///{db}?{bad}")


def test_gs1_url_text_forms() -> None:
    key = af.IssuerKey.generate("VN-A")
    ring = af.Keyring([key.public])
    b = af.issue(key, 2, product=af.Product(gtin="09521234543213", lot="L1",
                                            expiry="2027-12-31"))
    url = str(b.urls(BASE)[0])
    genuine = [url + "&", url + "&&", url]
    assert [af.verify(u, ring).status for u in genuine] == [S.AUTHENTIC] * 3
    assert af.verify_many(genuine, ring).status.tolist() == [S.AUTHENTIC] * 3
    tail = url[len(BASE):]
    decoys = [BASE + "/01/09521234543213/10/DECOY" + tail,
              BASE + "/01/09521234543220/10/X/21/Y" + tail,
              BASE + "/gtin/09521234543213/10/DECOY" + tail]
    assert [af.verify(u, ring).status for u in decoys] == [S.MALFORMED] * 3
    assert af.verify_many(decoys, ring).status.tolist() == [S.MALFORMED] * 3
    # a lot that reads "01" is a value, not a second primary key
    b2 = af.issue(key, 1, product=af.Product(gtin="09521234543213", lot="01"))
    u2 = str(b2.urls(BASE)[0])
    assert "/10/01/" in u2
    assert af.verify(u2, ring).ok and af.verify_many([u2], ring).ok.all()


def test_bulk_agrees_with_single_on_fuzz_finds() -> None:
    """Inputs the differential fuzz harness found where the native parser and the reference
    disagreed: an "S" row with a NUL inside, and a number in a URL's host."""
    key = af.IssuerKey.generate("VN-A")
    ring = af.Keyring([key])
    b = af.issue(key, 3)
    num = str(b.numbers(grouped=False)[0])
    rows = [num.encode() + b"\x00tail", num.encode() + b"\x00", f"https://{num}".encode(),
            f"https://{num[:4]}.{num[4:]}".encode(), f"s{num[:3]}://{num}".encode(),
            f"x/{num}".encode()]
    sarr = np.array(rows, dtype="S")
    single = [int(af.verify(bytes(r), ring).status) for r in sarr]
    assert single == [S.MALFORMED, S.AUTHENTIC, S.MALFORMED, S.MALFORMED, S.MALFORMED,
                      S.AUTHENTIC]
    assert af.verify_many(sarr, ring).status.tolist() == single
    assert af.verify_many([bytes(r) for r in sarr], ring).status.tolist() == single
    assert af.verify_many([bytes(r).decode() for r in sarr], ring).status.tolist() == single


def test_bulk_gs1_row_with_a_bad_expiry_is_malformed_like_single() -> None:
    """Found by the differential fuzz harness: a batch made only of GS1 rows skipped the
    exact re-check of failing rows, so an AI 17 with month 56 read BAD_SIGNATURE in bulk."""
    key = af.IssuerKey.generate("VN-A")
    ring = af.Keyring([key.public])
    b = af.issue(key, 2, product=af.Product(gtin="09521234543213", lot="L1",
                                            expiry="2027-12-31"))
    url = str(b.urls(BASE)[0])
    bad = url.replace("17=271231", "17=135615")
    assert af.verify(bad, ring).status == S.MALFORMED
    for rows in ([bad], [bad, url], [bad, "garbage"]):
        assert af.verify_many(rows, ring).status.tolist() == [
            int(af.verify(r, ring).status) for r in rows]
