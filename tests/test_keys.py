"""Keys, key files (permissions, sealing, tampering) and keyrings."""

from __future__ import annotations

import json
import logging
import os
import stat
from datetime import UTC, datetime, timedelta

import pytest

import antifake as af
from antifake import codes as C
from conftest import FakeClock


def _secret_hexes(key: af.IssuerKey) -> list[str]:
    sk = key.secret_key_bytes()
    return [sk[:32].hex(), key.tag_key().hex(), key.pin_key().hex()]


def test_generate_is_random_and_valid_now(key: af.IssuerKey) -> None:
    other = af.IssuerKey.generate("VN-QLTT-01")
    assert key.public.public_key != other.public.public_key
    assert key.public.valid_at(datetime.now(UTC))
    assert key.tag_key() != key.pin_key()


def test_repr_and_errors_hide_secrets(key: af.IssuerKey, caplog: pytest.LogCaptureFixture
                                      ) -> None:
    text = repr(key) + str(key.public) + repr(af.Keyring([key]))
    for h in _secret_hexes(key):
        assert h not in text and h[:16] not in text
    with pytest.raises(TypeError):
        import pickle

        pickle.dumps(key)
    caplog.set_level(logging.DEBUG)
    logging.getLogger("antifake").info("%r", key)
    assert all(h not in caplog.text for h in _secret_hexes(key))


def test_bad_issuer_and_key_id() -> None:
    for bad in ["", "has space", "ü", "x" * 65, "-lead"]:
        with pytest.raises(af.InvalidKey):
            af.IssuerKey.generate(bad)
    with pytest.raises(af.InvalidKey):
        af.IssuerKey.generate("A", key_id=1 << 16)
    with pytest.raises(af.InvalidKey):
        af.IssuerKey.generate("A", valid_from="2027-01-01T00:00:00Z",
                              valid_until="2026-01-01T00:00:00Z")


def test_public_json_round_trip(key: af.IssuerKey) -> None:
    pub = af.IssuerPublicKey.from_json(key.public.to_json())
    assert pub == key.public
    for h in _secret_hexes(key):
        assert h not in key.public.to_json()
    for bad in ["", "{}", "[1]", '{"format": "antifake-issuer-public-key", "version": 1}',
                key.public.to_json().replace('"version": 1', '"version": 9'), "\x00"]:
        with pytest.raises(af.InvalidKey):
            af.IssuerPublicKey.from_json(bad)


def test_plain_key_file_is_0600_and_round_trips(key: af.IssuerKey, tmp_path) -> None:
    path = tmp_path / "issuer.key"
    key.next_batch = 7
    key.save(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    loaded = af.IssuerKey.load(path)
    assert loaded.public == key.public and loaded.next_batch == 7
    assert loaded.secret_key_bytes() == key.secret_key_bytes()
    assert loaded.tag_key() == key.tag_key()


def test_sealed_key_file(key: af.IssuerKey, tmp_path) -> None:
    path = tmp_path / "issuer.key"
    key.save(path, passphrase=b"correct horse", kdf="interactive")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    raw = path.read_text()
    for h in _secret_hexes(key):
        assert h not in raw
    assert "secret" not in json.loads(raw)
    loaded = af.IssuerKey.load(path, passphrase=b"correct horse")
    assert loaded.secret_key_bytes() == key.secret_key_bytes()
    with pytest.raises(af.WrongPassphrase):
        af.IssuerKey.load(path, passphrase=b"wrong horse")
    with pytest.raises(af.WrongPassphrase):
        af.IssuerKey.load(path)


@pytest.mark.parametrize("sealed", [False, True])
def test_tampered_or_corrupted_key_file_is_refused(key: af.IssuerKey, tmp_path,
                                                   sealed: bool) -> None:
    path = tmp_path / "k.key"
    pw = b"pw" if sealed else None
    key.save(path, passphrase=pw, kdf="interactive")
    good = json.loads(path.read_text())
    edits = {
        "valid_until": "2099-01-01T00:00:00Z",
        "next_batch": 0 if good["next_batch"] else 5,
        "issuer": "EVIL",
        "key_id": (good["key_id"] + 1) % 65536,
    }
    for field, value in edits.items():
        d = dict(good)
        d[field] = value
        path.write_text(json.dumps(d))
        with pytest.raises(af.KeyFileError):
            af.IssuerKey.load(path, passphrase=pw)
    for garbage in [b"", b"\x00" * 10, b"{not json", path.read_bytes()[:40], b"[]"]:
        path.write_bytes(garbage)
        with pytest.raises(af.KeyFileError):
            af.IssuerKey.load(path, passphrase=pw)
    with pytest.raises(af.KeyFileError):
        af.IssuerKey.load(tmp_path / "missing.key")


def test_keyring_refuses_clashing_short_ids() -> None:
    a = af.IssuerKey.generate("VN-A", key_id=0x0021)
    b = af.IssuerKey.generate("VN-B", key_id=0x0041)  # same low 5 bits as 0x21
    assert C.short_key_id(a.key_id) == C.short_key_id(b.key_id)
    ring = af.Keyring([a])
    with pytest.raises(af.KeyringError):
        ring.add(b)
    ring.add(b.public)  # a public key alone is fine: it never verifies numbers
    assert len(ring) == 2


def test_keyring_refuses_two_keys_of_one_issuer_with_one_id() -> None:
    a = af.IssuerKey.generate("VN-A", key_id=5)
    b = af.IssuerKey.generate("VN-A", key_id=5)
    ring = af.Keyring([a.public])
    with pytest.raises(af.KeyringError):
        ring.add(b.public)
    ring.add(a)  # the same key again, now with its secret
    assert ring.by_short_id(5).secret is a


def test_revoke_unknown_key() -> None:
    with pytest.raises(af.KeyringError):
        af.Keyring().revoke(3)


def test_a_revocation_is_never_weakened() -> None:
    key = af.IssuerKey.generate("VN-A", key_id=4)
    ring = af.Keyring([key.public])
    t = datetime(2026, 6, 1, tzinfo=UTC)
    ring.revoke(4, at=t)
    v = ring.version
    ring.revoke(4, at=t + timedelta(days=30))  # later: ignored, the key stays revoked from t
    assert ring.states()[0].revoked_at == t and ring.version == v
    ring.revoke(4, at=t - timedelta(days=2))  # earlier: takes effect
    assert ring.states()[0].revoked_at == t - timedelta(days=2) and ring.version == v + 1


def test_key_cannot_issue_outside_window() -> None:
    start = datetime.now(UTC) + timedelta(days=1)
    future = af.IssuerKey.generate("VN-A", valid_from=start, valid_until=start + timedelta(1))
    with pytest.raises(af.IssueError):
        af.issue(future, 1)
    af.issue(future, 1, at=start + timedelta(hours=1))


def test_keyring_re_add_takes_the_new_window_but_keeps_the_revocation() -> None:
    from dataclasses import replace

    t0 = datetime(2026, 3, 1, tzinfo=UTC)
    key = af.IssuerKey.generate("VN-A", key_id=9, valid_from=t0,
                                valid_until=t0 + timedelta(days=365))
    early = af.issue(key, 3, at=t0 + timedelta(days=10))
    late = af.issue(key, 3, at=t0 + timedelta(days=200))
    clock = FakeClock(t0 + timedelta(days=11))
    ring = af.Keyring([key.public], clock=clock)
    ring.add_manifest(early.manifest)
    clock.t = t0 + timedelta(days=201)
    ring.add_manifest(late.manifest)
    texts = [early.urls("https://x.example")[0], late.urls("https://x.example")[0]]
    S = af.Status
    assert af.verify_many(texts, ring).status.tolist() == [S.AUTHENTIC] * 2

    # the issuer retires the key early and republishes it: the shorter window takes effect
    shortened = replace(key.public, valid_until=t0 + timedelta(days=100))
    ring.add(shortened)
    assert len(ring) == 1 and ring.states()[0].public.valid_until == shortened.valid_until
    want = [S.AUTHENTIC, S.KEY_EXPIRED]
    assert [af.verify(t, ring).status for t in texts] == want
    assert af.verify_many(texts, ring).status.tolist() == [int(s) for s in want]
    assert set(ring.states()[0].manifests) == {early.batch_id, late.batch_id}

    # adding the secret key (with its older, longer window) is newer information too
    ring.add(key)
    assert ring.states()[0].public.valid_until == key.public.valid_until
    assert ring.by_short_id(C.short_key_id(9)) is not None
    ring.add(shortened)  # the public half again: the secret stays
    assert ring.states()[0].secret is key

    # a revocation survives any re-add: neither cleared nor moved later
    revoked_at = t0 + timedelta(days=5)
    ring.revoke(9, at=revoked_at)
    ring.add(replace(key.public, valid_until=t0 + timedelta(days=3000)))
    ring.add(key)
    assert ring.states()[0].revoked_at == revoked_at
    assert af.verify_many(texts, ring).status.tolist() == [S.KEY_REVOKED] * 2

    # the same public key under another issuer name is refused, and changes nothing
    with pytest.raises(af.KeyringError):
        ring.add(replace(key.public, issuer="VN-B"))
    assert ring.states()[0].public.issuer == "VN-A" and len(ring) == 1
