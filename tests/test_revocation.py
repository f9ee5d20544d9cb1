"""Revocation and expiry are properties of what the keyring held, not date comparisons.

A key thief can date a manifest as they like; the keyring judges a manifest on when it first
saw it (its own clock), persists that with the keyring file, and accepts a manifest after a
revocation only with a proof of earlier existence checked against a key it trusts."""

from __future__ import annotations

import struct
from datetime import UTC, datetime, timedelta
from pathlib import Path

import nacl.signing
import pytest

import antifake as af
from antifake.manifest import Manifest
from antifake.timeutil import from_micros, to_micros
from conftest import BASE, FakeClock

S = af.Status
T0 = datetime(2026, 3, 1, tzinfo=UTC)


def day(n: float) -> datetime:
    return T0 + timedelta(days=n)


def statuses(texts: list[str], ring: af.Keyring) -> list[int]:
    """Single and bulk verdicts, asserted equal row by row."""
    single = [int(af.verify(t, ring).status) for t in texts]
    assert af.verify_many(texts, ring).status.tolist() == single
    assert af.verify_many(texts, ring, threads=1).status.tolist() == single
    return single


def texts_of(b: af.Batch) -> list[str]:
    return [b.urls(BASE)[0], b.numbers()[1], b.urls(BASE)[2]]


@pytest.fixture
def setup() -> tuple[af.IssuerKey, af.Batch, af.Keyring, FakeClock]:
    key = af.IssuerKey.generate("VN-A", valid_from=T0, valid_until=day(1000))
    genuine = af.issue(key, 6, at=day(10))
    clock = FakeClock(day(11))
    ring = af.Keyring([key], clock=clock)
    ring.add_manifest(genuine.manifest)
    return key, genuine, ring, clock


def test_thief_backdated_batch_after_revocation_never_authentic(setup) -> None:
    key, genuine, ring, clock = setup
    clock.t = day(100)
    ring.revoke(key.key_id)  # at the keyring's clock: day 100
    stolen = af.issue(key, 5, at=day(20))  # dated well before the revocation
    with pytest.raises(af.UnprovenManifest):
        ring.add_manifest(stolen.manifest)
    with pytest.raises(af.ManifestError):  # the typed error is a ManifestError too
        ring.add_manifest(stolen.manifest)
    assert statuses(texts_of(stolen), ring) == [S.KEY_REVOKED] * 3
    assert statuses(texts_of(genuine), ring) == [S.AUTHENTIC] * 3


def test_backdated_revocation_covers_manifests_seen_after_it(setup) -> None:
    key, genuine, ring, clock = setup
    clock.t = day(50)
    later = af.issue(key, 3, at=day(15))  # dated before R, but first seen on day 50
    ring.add_manifest(later.manifest)
    ring.revoke(key.key_id, at=day(30))
    assert statuses(texts_of(later), ring) == [S.KEY_REVOKED] * 3
    assert statuses(texts_of(genuine), ring) == [S.AUTHENTIC] * 3
    # a manifest dated after R stays revoked even when seen before R (the date is a claim
    # of the key holder; both must be before R)
    # another short id than key's: a keyring refuses two keys whose stamp numbers clash
    key2 = af.IssuerKey.generate("VN-B", key_id=(key.key_id + 1) % 65536, valid_from=T0,
                                 valid_until=day(1000))
    clock.t = day(5)
    ring.add(key2)
    future = af.issue(key2, 2, at=day(40))
    ring.add_manifest(future.manifest)
    ring.revoke(key2.key_id, at=day(30))
    assert statuses([future.urls(BASE)[0]], ring) == [S.KEY_REVOKED]


def test_manifest_for_a_held_batch_is_refused_unless_identical(setup) -> None:
    key, genuine, ring, clock = setup
    ring.add_manifest(genuine.manifest)  # the same object again: nothing happens
    ring.add_manifest(Manifest.from_bytes(genuine.manifest.to_bytes()))  # identical bytes
    v = ring.version
    # the thief re-issues the same batch id with 5 more stamps
    rogue = af.issue(key, 11, at=day(12), batch_id=genuine.batch_id)
    with pytest.raises(af.ManifestConflict):
        ring.add_manifest(rogue.manifest)
    assert ring.version == v
    st = ring.states()[0]
    assert st.manifests[genuine.batch_id] is genuine.manifest
    assert statuses(texts_of(genuine), ring) == [S.AUTHENTIC] * 3
    extra = [rogue.urls(BASE)[i] for i in (6, 8, 10)]
    assert statuses(extra, ring) == [S.NOT_ISSUED] * 3


def test_expired_key_judged_on_first_seen(setup) -> None:
    key = af.IssuerKey.generate("VN-C", valid_from=T0, valid_until=day(30))
    clock = FakeClock(day(5))
    ring = af.Keyring([key.public], clock=clock)
    early = af.issue(key, 3, at=day(2))
    ring.add_manifest(early.manifest)
    clock.t = day(40)  # the key is past valid_until
    late = af.issue(key, 3, at=day(20))  # dated inside the window
    with pytest.raises(af.UnprovenManifest):
        ring.add_manifest(late.manifest)
    # stamps outlive keys: the batch held in time still verifies
    assert statuses([early.urls(BASE)[0], early.urls(BASE)[1]], ring) == [S.AUTHENTIC] * 2
    # a manifest put into the state by hand has no first-seen time: never authentic
    ring.states()[0].manifests[late.batch_id] = late.manifest
    ring.version += 1
    assert statuses([late.urls(BASE)[0]], ring) == [S.KEY_EXPIRED]
    # a window shortened later: a manifest first seen after the new end is expired
    from dataclasses import replace

    clock.t = day(6)
    key2 = af.IssuerKey.generate("VN-D", key_id=(key.key_id + 1) % 65536, valid_from=T0,
                                 valid_until=day(300))
    ring.add(key2.public)
    b = af.issue(key2, 2, at=day(3))
    ring.add_manifest(b.manifest)
    ring.add(replace(key2.public, valid_until=day(5)))
    assert statuses([b.urls(BASE)[0]], ring) == [S.KEY_EXPIRED]


# -- proofs of existence: a fake transparency log built from real Ed25519 signatures ------
LOG_CONTEXT = b"antifake-test-log checkpoint v1"


class FakeLog:
    """Signs checkpoints ``context | time (µs) | manifest root``: what an inclusion proof at a
    signed checkpoint reduces to for a single manifest."""

    def __init__(self) -> None:
        self._key = nacl.signing.SigningKey.generate()
        self.public = bytes(self._key.verify_key)

    def proof(self, m: Manifest, at: datetime) -> tuple[int, bytes]:
        t = to_micros(at)
        return t, self._key.sign(LOG_CONTEXT + struct.pack(">q", t) + m.root()).signature


def log_verifier(log_public: bytes):
    def verify(m: Manifest, proof: tuple[int, bytes]) -> datetime:
        t, sig = proof
        nacl.signing.VerifyKey(log_public).verify(
            LOG_CONTEXT + struct.pack(">q", t) + m.root(), sig)
        return from_micros(t)
    return verify


def test_manifest_after_revocation_accepted_with_a_valid_proof() -> None:
    key = af.IssuerKey.generate("VN-A", valid_from=T0, valid_until=day(1000))
    log, other_log = FakeLog(), FakeLog()
    clock = FakeClock(day(100))
    ring = af.Keyring([key.public], clock=clock, existence_verifier=log_verifier(log.public))
    ring.revoke(key.key_id, at=day(60))
    genuine = af.issue(key, 4, at=day(20))
    stolen = af.issue(key, 4, at=day(21))
    late = af.issue(key, 4, at=day(22))
    with pytest.raises(af.UnprovenManifest):
        ring.add_manifest(genuine.manifest)  # no proof
    with pytest.raises(af.UnprovenManifest):  # signed by a log this keyring does not trust
        ring.add_manifest(stolen.manifest, proof=other_log.proof(stolen.manifest, day(22)))
    with pytest.raises(af.UnprovenManifest):  # a real proof, but of another manifest
        ring.add_manifest(stolen.manifest, proof=log.proof(genuine.manifest, day(22)))
    with pytest.raises(af.UnprovenManifest):  # logged only after the revocation
        ring.add_manifest(late.manifest, proof=log.proof(late.manifest, day(70)))
    with pytest.raises(af.UnprovenManifest):  # garbage proof
        ring.add_manifest(stolen.manifest, proof="nonsense")
    ring.add_manifest(genuine.manifest, proof=log.proof(genuine.manifest, day(23)))
    assert ring.states()[0].first_seen[genuine.batch_id] == day(23)
    assert statuses(texts_of(genuine)[::2], ring) == [S.AUTHENTIC] * 2
    assert statuses(texts_of(stolen)[::2] + texts_of(late)[::2], ring) == [S.KEY_REVOKED] * 4
    # a keyring without a verifier ignores proofs
    bare = af.Keyring([key.public], clock=clock)
    bare.revoke(key.key_id, at=day(60))
    with pytest.raises(af.UnprovenManifest):
        bare.add_manifest(genuine.manifest, proof=log.proof(genuine.manifest, day(23)))


# -- the keyring file --------------------------------------------------------------------
def test_keyring_file_keeps_first_seen_and_revocation(setup, tmp_path: Path) -> None:
    key, genuine, ring, clock = setup
    clock.t = day(100)
    ring.revoke(key.key_id, at=day(90))
    path = tmp_path / "verifier.keyring"
    ring.save(path)
    assert path.stat().st_mode & 0o777 == 0o600
    assert b"secret" not in path.read_bytes()
    later = FakeClock(day(500))
    back = af.Keyring.load(path, clock=later)
    st = back.states()[0]
    assert st.revoked_at == day(90) and st.first_seen == {genuine.batch_id: day(11)}
    assert st.secret is None  # secrets are never in a keyring file
    back.add(key)  # the issuer's service adds its secret key again
    assert statuses(texts_of(genuine), back) == [S.AUTHENTIC] * 3
    stolen = af.issue(key, 2, at=day(30))
    with pytest.raises(af.UnprovenManifest):
        back.add_manifest(stolen.manifest)
    # a keyring rebuilt from scratch after the revocation holds nothing from before it
    fresh = af.Keyring([key], clock=later)
    fresh.revoke(key.key_id, at=day(90))
    with pytest.raises(af.UnprovenManifest):
        fresh.add_manifest(genuine.manifest)
    assert af.Keyring.from_bytes(back.to_bytes()).to_bytes() == back.to_bytes()


def test_keyring_file_refuses_bad_input(setup, tmp_path: Path) -> None:
    key, genuine, ring, clock = setup
    good = ring.to_bytes()
    import json

    d = json.loads(good)
    bad_sig = json.loads(good)
    raw = bytearray(genuine.manifest.to_bytes())
    raw[-1] ^= 1
    import base64

    bad_sig["keys"][0]["manifests"][0]["manifest"] = base64.b64encode(bytes(raw)).decode()
    dup = json.loads(good)
    dup["keys"][0]["manifests"] *= 2
    cases = [b"", b"{", b"[" * 50000, b"{}", json.dumps({**d, "version": 2}).encode(),
             json.dumps(bad_sig).encode(), json.dumps(dup).encode(),
             json.dumps({**d, "keys": [{"public": 1}]}).encode(),
             json.dumps({**d, "keys": [{**d["keys"][0], "revoked_at": "yesterday"}]}).encode()]
    for data in cases:
        with pytest.raises(af.KeyringError):
            af.Keyring.from_bytes(data)
    with pytest.raises(af.KeyringError):
        af.Keyring.load(tmp_path / "missing")
