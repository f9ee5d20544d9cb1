"""The CBV 2.0 event hash against the reference implementation's published examples.

Every ``.jsonld`` of ``shared/conformance/epcis-event-hash`` must hash, event by event and in
document order, exactly to the lines of its ``.hashes`` file. The directory is found beside the
repository (``../shared/conformance``) or through ``ANTIFAKE_CONFORMANCE``; without it the tests
fail under CI and are skipped elsewhere.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from antifake.epcis.event_hash import (
    canonical_gs1_uri,
    document_event_hashes,
    document_events,
    event_hash,
    prehash_string,
)
from antifake.epcis.jsonld import parse_document
from conformance import conformance_dir

CONFORMANCE = conformance_dir()
HASH_DIR = CONFORMANCE / "epcis-event-hash"
FILES = sorted(HASH_DIR.glob("*.jsonld")) if HASH_DIR.is_dir() else []
# Upstream, these .prehashes files are stale: they do not hash to their .hashes (see README).
STALE_PREHASHES = {
    "epcisDocWithAllGS1Keys",
    "epcisDocWithCustomSchemaInContext",
    "epcisDocWithDefaultSchemaInContext",
}


def _require_data() -> None:
    if not HASH_DIR.is_dir():
        message = f"conformance data not found at {HASH_DIR} (set ANTIFAKE_CONFORMANCE)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


def _expected(path: Path) -> list[str]:
    return path.with_suffix(".hashes").read_text(encoding="utf-8").split()


def test_conformance_data_present() -> None:
    _require_data()
    assert len(FILES) == 22, [f.name for f in FILES]
    total = sum(len(_expected(f)) for f in FILES)
    assert total >= 41


@pytest.mark.parametrize("path", FILES, ids=[f.stem for f in FILES])
def test_hashes_match_reference(path: Path) -> None:
    _require_data()
    expected = _expected(path)
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert document_event_hashes(doc) == expected


@pytest.mark.parametrize("path", FILES, ids=[f.stem for f in FILES])
def test_parse_document_event_ids_match_reference(path: Path) -> None:
    _require_data()
    parsed = parse_document(path)
    assert parsed.event_ids == _expected(path)
    # And the events rebuilt from their fields hash the same.
    for event in parsed.events:
        assert event_hash(event.to_epcis(), [dict(event.namespaces)]) == event.event_id


@pytest.mark.parametrize(
    "path",
    [f for f in FILES if f.stem not in STALE_PREHASHES and f.with_suffix(".prehashes").exists()],
    ids=lambda f: f.stem,
)
def test_prehash_strings_match_reference(path: Path) -> None:
    _require_data()
    expected = [
        line for line in path.with_suffix(".prehashes").read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    doc = json.loads(path.read_text(encoding="utf-8"))
    events, context, ignore = document_events(doc)
    got = [prehash_string(e, context, ignore_fields=ignore) for e in events]
    assert got == expected
    for prehash, digest in zip(got, _expected(path), strict=True):
        sha = hashlib.sha256(prehash.encode("utf-8")).hexdigest()
        assert digest == f"ni:///sha-256;{sha}?ver=CBV2.0"


def test_ignore_fields_are_left_out() -> None:
    _require_data()
    doc = json.loads((HASH_DIR / "epcisDocHavingEventWithIgnoreFields.jsonld").read_text())
    first, second = document_event_hashes(doc)
    assert first == second
    del doc["repository-x:ignoreFields"]
    first, second = document_event_hashes(doc)
    assert first != second


def test_stale_prehashes_really_are_stale() -> None:
    """Guard for the README's note: if upstream fixes them, test them too."""
    _require_data()
    for stem in sorted(STALE_PREHASHES):
        lines = (HASH_DIR / f"{stem}.prehashes").read_text(encoding="utf-8").splitlines()
        digests = [
            f"ni:///sha-256;{hashlib.sha256(x.encode()).hexdigest()}?ver=CBV2.0" for x in lines
            if x.strip()
        ]
        assert digests != _expected(HASH_DIR / f"{stem}.jsonld")


@pytest.mark.parametrize(
    ("uri", "canonical"),
    [
        ("urn:epc:id:sgtin:4012345.011111.9876", "https://id.gs1.org/01/04012345111118/21/9876"),
        ("urn:epc:id:sscc:4012345.0000000333", "https://id.gs1.org/00/040123450000003338"),
        ("urn:epc:id:sgln:4012345.00011.0", "https://id.gs1.org/414/4012345000115"),
        ("urn:epc:id:sgln:4012345.00011.987", "https://id.gs1.org/414/4012345000115/254/987"),
        ("urn:epc:id:pgln:999999999999.", "https://id.gs1.org/417/9999999999994"),
        ("urn:epc:id:gdti:987659999999..9", "https://id.gs1.org/253/98765999999929"),
        ("urn:epc:id:grai:4012345.66666.87", "https://id.gs1.org/8003/0401234566666387"),
        ("urn:epc:id:grai:123456789012..5", "https://id.gs1.org/8003/012345678901285"),
        ("urn:epc:class:lgtin:4012345.012345.Lot987",
         "https://id.gs1.org/01/04012345123456/10/Lot987"),
        ("urn:epc:idpat:sgtin:4054739.099914.*", "https://id.gs1.org/01/04054739999148"),
        ("urn:epc:id:sgtin:0614141.812345.6789%2F%26!(",
         "https://id.gs1.org/01/80614141123458/21/6789%2F%26%21%28"),
        ("https://id.gs1.de/01/04012345999990/21/XYZ-1234",
         "https://id.gs1.org/01/04012345999990/21/XYZ-1234"),
        ("https://example.com/gtin/9780345418913/10/L1/21/765tz?abc=1",
         "https://id.gs1.org/01/09780345418913/21/765tz"),
        ("https://example.com/01/09780345418913/22/cpv/21/1", "https://id.gs1.org/01/09780345418913/21/1"),
        ("urn:epc:id:sgtin:4012345.011111", None),
        ("urn:epc:id:sgtin:4012345.01111.1", None),
        ("https://example.com/about", None),
        ("urn:antifake:party:MFR-01", None),
        ("shipping", None),
    ],
)
def test_canonical_gs1_uri(uri: str, canonical: str | None) -> None:
    assert canonical_gs1_uri(uri) == canonical
