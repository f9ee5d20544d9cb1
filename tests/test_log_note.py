"""Log keys, signed notes and checkpoints: Go's sumdb/note vector, round trips, bad input.

The PeterNeumann key, text and signature are the example of the documentation and tests of
golang.org/x/mod/sumdb/note (BSD-3-Clause): an independent implementation's output that ours
must reproduce byte for byte.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import stat

import nacl.signing
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import antifake as af
from antifake.log import note as N

GO_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_TEXT = ("If you think cryptography is the answer to your problem,\n"
           "then you don't know what your problem is.\n")
GO_NOTE = GO_TEXT + ("\n\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1"
                     "FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n")


def _go_key() -> af.LogKey:
    raw = base64.b64decode(GO_SKEY.split("+", 4)[4])
    assert raw[0] == 1
    return af.LogKey("PeterNeumann", raw[1:])


def test_go_sumdb_note_vector() -> None:
    key = _go_key()
    assert key.vkey == GO_VKEY
    assert key.key_id == 0xC74F20A3
    assert key.sign_note(GO_TEXT) == GO_NOTE
    assert N.open_note(GO_NOTE, GO_VKEY) == GO_TEXT
    with pytest.raises(af.LogError, match="invalid"):
        N.open_note(GO_NOTE.replace("cryptography", "cryptographY"), GO_VKEY)


def test_key_id_and_vkey_from_the_format_definition() -> None:
    seed = bytes(range(32))
    pub = bytes(nacl.signing.SigningKey(seed).verify_key)
    name = "registry.example.vn/antifake"
    kid = hashlib.sha256(name.encode() + b"\x0a\x01" + pub).digest()[:4]
    lk = af.LogKey(name, seed)
    assert lk.key_id.to_bytes(4, "big") == kid
    b64 = base64.b64encode(b"\x01" + pub).decode()
    assert lk.vkey == f"{name}+{kid.hex()}+{b64}"
    assert N.NoteVerifier.from_vkey(lk.vkey) == lk.verifier


def test_checkpoint_round_trip_and_byte_layout() -> None:
    lk = af.LogKey("example.org/log", bytes(32))
    root = hashlib.sha256(b"x").digest()
    body = N.format_checkpoint("example.org/log", 12345, root)
    assert body == f"example.org/log\n12345\n{base64.b64encode(root).decode()}\n"
    note = lk.sign_note(body)
    head, sig = note.split("\n\n")
    assert head + "\n" == body
    assert sig.startswith("\u2014 example.org/log ") and sig.endswith("\n")
    blob = base64.b64decode(sig.split(" ")[2])
    assert blob[:4] == lk.key_id.to_bytes(4, "big") and len(blob) == 68
    nacl.signing.VerifyKey(lk.public_key).verify(body.encode(), blob[4:])
    cp = N.open_checkpoint(note, lk.vkey, origin="example.org/log")
    assert (cp.origin, cp.size, cp.root, cp.extensions) == ("example.org/log", 12345, root, ())
    with pytest.raises(af.LogError, match="origin"):
        N.open_checkpoint(note, lk.vkey, origin="other")


def test_forged_or_foreign_checkpoints_are_refused() -> None:
    lk = af.LogKey.generate("example.org/log")
    other = af.LogKey.generate("example.org/log")
    note = lk.sign_note(N.format_checkpoint("example.org/log", 3, bytes(32)))
    with pytest.raises(af.LogError, match="no signature"):
        N.open_checkpoint(note, other.vkey)
    forged = note.replace("\n3\n", "\n4\n")
    with pytest.raises(af.LogError, match="invalid"):
        N.open_checkpoint(forged, lk.vkey)
    # a second, unknown signer's line is ignored; ours still counts
    cosigned = note + other.sign_note("x\n").split("\n\n")[1].replace(
        "example.org/log", "witness.example")
    assert N.open_checkpoint(cosigned, lk.vkey).size == 3


@pytest.mark.parametrize("text", [
    "", "no blank line\n", "a\n\n", "a\n\n\u2014 n AAAA\n", "a\n\n- n AAAAAAAA\n",
    "a\n\n\u2014 n !!!!\n", "a\n\n\u2014 n\n", "a\x01\n\n\u2014 n AAAAAAAA\n",
    "\n\n\u2014 n AAAAAAAA\n", "a\n\n\u2014 n AAAAAAAA", b"bytes", None, 5,
    "x" * (2 << 20),
])
def test_malformed_notes_raise_log_error(text) -> None:
    with pytest.raises(af.LogError):
        N.open_note(text, GO_VKEY)


@pytest.mark.parametrize("vkey", [
    "", "a+b", "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
    "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10T",
    "PeterNeumann+c74f20a3+Apc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW=",
    "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
    "+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "x+zzzzzzzz+AA==", None, b"k",
])
def test_malformed_vkeys_raise_log_error(vkey) -> None:
    with pytest.raises(af.LogError):
        N.NoteVerifier.from_vkey(vkey)


@pytest.mark.parametrize("body", [
    "o\n-1\nAAAA\n", "o\n01\n" + base64.b64encode(bytes(32)).decode() + "\n",
    "o\n1\n" + base64.b64encode(bytes(31)).decode() + "\n", "o\n1\n", "o\n1\n!!!\n",
    "o\n99999999999999999999999\n" + base64.b64encode(bytes(32)).decode() + "\n",
])
def test_malformed_checkpoints(body) -> None:
    with pytest.raises(af.LogError):
        N.parse_checkpoint(body)


def test_log_key_file_round_trip(tmp_path) -> None:
    lk = af.LogKey.generate("registry.example.vn/antifake")
    p = tmp_path / "log.key"
    lk.save(p)
    assert stat.S_IMODE(os.stat(p).st_mode) == 0o600
    assert af.LogKey.load(p).vkey == lk.vkey
    sealed = tmp_path / "sealed.key"
    lk.save(sealed, passphrase=b"pw", kdf="interactive")
    assert af.LogKey.load(sealed, passphrase=b"pw").vkey == lk.vkey
    with pytest.raises(af.WrongPassphrase):
        af.LogKey.load(sealed, passphrase=b"nope")
    with pytest.raises(af.WrongPassphrase):
        af.LogKey.load(sealed)
    text = p.read_text().replace(lk.name, "registry.example.vn/other")
    p.write_text(text)
    with pytest.raises(af.KeyFileError):
        af.LogKey.load(p)
    issuer = tmp_path / "issuer.key"
    af.IssuerKey.generate("VN-QLTT-01").save(issuer)
    with pytest.raises(af.KeyFileError):
        af.LogKey.load(issuer)
    assert "secret=<hidden>" in repr(lk) and lk.public_key.hex() not in repr(lk)


def test_bad_log_key_arguments() -> None:
    with pytest.raises(af.InvalidKey):
        af.LogKey.generate("has space")
    with pytest.raises(af.InvalidKey):
        af.LogKey.generate("a+b")
    with pytest.raises(af.InvalidKey):
        af.LogKey("n", b"short")
    with pytest.raises(af.LogError):
        af.LogKey.generate("n").sign_note("no newline")



_TEXT = st.text(alphabet=st.sampled_from("ab+/=\n\u2014 0123456789\x00é"), max_size=300)


@settings(max_examples=300, deadline=None)
@given(_TEXT, _TEXT)
def test_hostile_notes_and_vkeys_never_crash(note: str, vkey: str) -> None:
    for args in ((note, GO_VKEY), (GO_NOTE[:40] + note, GO_VKEY), (note, vkey)):
        with contextlib.suppress(af.LogError):
            N.open_note(*args)
    with contextlib.suppress(af.LogError):
        N.parse_checkpoint(note)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=40), st.integers(-5, 1 << 70), st.integers(-5, 1 << 70),
       st.lists(st.binary(min_size=30, max_size=33), max_size=70), st.binary(max_size=40))
def test_hostile_proofs_never_crash(leaf, index, size, hashes, root) -> None:
    assert af.log.verify_inclusion(leaf, index, size, hashes, root) in (True, False)
    assert af.log.verify_consistency(index, leaf, size, root, hashes) in (True, False)
