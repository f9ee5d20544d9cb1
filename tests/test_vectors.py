"""Frozen format vectors (tests/vectors/stamps.json): the wire format must never drift."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import antifake as af
from antifake import codes as C
from conftest import fixed_key

VECTORS = json.loads((Path(__file__).parent / "vectors" / "stamps.json").read_text())
CASES = VECTORS["stamps"]


def _gs1(case: dict) -> C.GS1Attributes | None:
    return C.GS1Attributes(case["gtin"], case["lot"], case["expiry"]) if case["gtin"] else None


def test_fixed_key_matches_vectors() -> None:
    key = fixed_key()
    assert key.key_id == VECTORS["key_id"]
    assert key.public.public_key.hex() == VECTORS["public_key_hex"]


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"b{c['batch_id']}-i{c['index']}")
def test_vector_encodings(case: dict) -> None:
    key = fixed_key()
    body = C.pack_body(key.key_id, case["batch_id"], case["index"], int(case["serial"]))
    assert body.hex() == case["body_hex"]
    msg = C.signed_message(body, _gs1(case))
    assert msg.hex() == case["signed_message_hex"]
    sig = key.sign(msg)
    assert sig.hex() == case["signature_hex"]
    stamp = af.Stamp(key.issuer, key.key_id, case["batch_id"], case["index"],
                     int(case["serial"]), sig, _gs1(case))
    assert stamp.url(VECTORS["base"]) == case["url"]


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"b{c['batch_id']}-i{c['index']}")
def test_vectors_verify(case: dict) -> None:
    key = fixed_key()
    pub_ring = af.Keyring([key.public])
    v = af.verify(case["url"], pub_ring)
    assert v.status == af.Status.AUTHENTIC, v.reason
    assert (v.stamp.batch_id, v.stamp.index, v.stamp.serial) == (
        case["batch_id"], case["index"], int(case["serial"]))
    assert v.stamp.product == _gs1(case)
    secret_ring = af.Keyring([key])
    n = af.verify(case["number"], secret_ring)
    assert n.status == af.Status.AUTHENTIC, n.reason
    assert (n.stamp.batch_id, n.stamp.index) == (case["batch_id"], case["index"])
    assert af.verify_pin(case["url"], case["pin"], secret_ring).ok
    # bulk path agrees with the frozen vectors too
    res = af.verify_many([case["url"], case["number"]], secret_ring)
    assert res.status.tolist() == [0, 0]
