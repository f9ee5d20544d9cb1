"""Issuance and verification: every status, every single-character change, bulk == single."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

import antifake as af
from antifake import codes as C
from antifake.issue import random_serials
from conftest import BASE, FakeClock

S = af.Status
OTHER = {c: C.ALPHABET[(C.ALPHABET.index(c) + 7) % 32] for c in C.ALPHABET}


def _code_part(url: str) -> tuple[str, str]:
    head, _, code = url.rpartition("/")
    return head + "/", code


def test_issue_shapes(key: af.IssuerKey) -> None:
    b = af.issue(key, 100)
    assert len(b) == 100 and b.serials.dtype == np.uint64 and b.signatures.shape == (100, 64)
    assert b.key_id == key.key_id and b.batch_id == 0
    assert af.issue(key, 1).batch_id == 1 and key.next_batch == 2  # allocated in order
    urls, numbers, pins = b.urls(BASE), b.numbers(), b.pins()
    assert urls.dtype == object and isinstance(urls[0], str)
    assert all(len(u) == 160 for u in urls)
    assert all(len(n) == 23 for n in numbers) and all(len(p) == 11 for p in pins)
    assert len(set(numbers)) == 100 and len(set(pins)) > 95
    stamp = b[3]
    assert stamp.url(BASE) == urls[3] and stamp.number == numbers[3]
    assert stamp.epc == f"urn:antifake:stamp:VN-QLTT-01:{key.key_id}:0:3"
    assert b.epcs()[3] == stamp.epc
    with pytest.raises(IndexError):
        b[100]


def test_issue_rejects_bad_requests(key: af.IssuerKey) -> None:
    for n in (0, -1, 1 << 24 + 1, 2.5, "10"):
        with pytest.raises(af.IssueError):
            af.issue(key, n)  # type: ignore[arg-type]
    with pytest.raises(af.InvalidKey):
        af.issue(key.public, 1)  # type: ignore[arg-type]
    with pytest.raises(af.IssueError):
        af.issue(key, 1, batch_id=1 << 24)


def test_serials_unique_over_a_million(key: af.IssuerKey) -> None:
    s = random_serials(1_000_000)
    assert np.unique(s).size == 1_000_000
    b = af.issue(key, 1_000_000)
    assert np.unique(b.serials).size == 1_000_000
    # uniformity smoke test: every bit is set in roughly half the serials
    bits = np.unpackbits(b.serials[:100_000].view(np.uint8)).reshape(100_000, 64).mean(axis=0)
    assert np.all(np.abs(bits - 0.5) < 0.01)


def test_every_single_change_of_a_url_is_rejected(batch: af.Batch, ring: af.Keyring) -> None:
    url = batch.urls(BASE)[5]
    head, code = _code_part(url)
    assert af.verify(url, ring).ok
    texts = []
    for pos in range(len(code)):
        for sym in C.ALPHABET:
            if sym != code[pos]:
                texts.append(head + code[:pos] + sym + code[pos + 1:])
    res = af.verify_many(texts, ring)
    assert not res.ok.any()
    counts = res.counts()
    assert set(counts) <= {"BAD_SIGNATURE", "UNKNOWN_KEY", "MALFORMED"}
    # also the exact single-text path, on a sample of positions
    for t in texts[:: 97]:
        assert af.verify(t, ring).status == S(res.status[texts.index(t)])


def test_every_single_change_of_a_number_is_a_check_error(batch: af.Batch,
                                                          issuer_ring: af.Keyring) -> None:
    number = batch.numbers(grouped=False)[9]
    assert af.verify(number, issuer_ring).ok
    texts = [number[:p] + s + number[p + 1:] for p in range(len(number)) for s in C.ALPHABET
             if s != number[p]]
    res = af.verify_many(texts, issuer_ring)
    assert res.counts() == {"BAD_CHECK_CHARACTER": len(texts)}
    assert af.verify(texts[0], issuer_ring).status == S.BAD_CHECK_CHARACTER


def test_every_single_change_of_a_pin_is_a_check_error(batch: af.Batch,
                                                       issuer_ring: af.Keyring) -> None:
    url = batch.urls(BASE)[2]
    pin = batch.pins(grouped=False)[2]
    assert af.verify_pin(url, pin, issuer_ring).ok
    assert af.verify_pin(url, C.format_pin(pin).lower(), issuer_ring).ok
    for p in range(len(pin)):
        for s in C.ALPHABET:
            if s != pin[p]:
                v = af.verify_pin(url, pin[:p] + s + pin[p + 1:], issuer_ring)
                assert v.status == S.BAD_CHECK_CHARACTER
    other_pin = batch.pins(grouped=False)[3]
    assert af.verify_pin(url, other_pin, issuer_ring).status == S.BAD_TAG
    assert af.verify_pin(url, "123", issuer_ring).status == S.MALFORMED
    assert af.verify_pin(url, pin, af.Keyring([issuer_ring.states()[0].public])
                         ).status == S.UNVERIFIABLE


def test_forged_number_with_valid_check_is_bad_tag(batch: af.Batch,
                                                   issuer_ring: af.Keyring) -> None:
    key = issuer_ring.states()[0].secret
    forged = C.encode_number(key.key_id, batch.batch_id, 3, b"\x00\x01\x02\x03\x04")
    assert af.verify(forged, issuer_ring).status == S.BAD_TAG
    assert af.verify_many([forged], issuer_ring).status[0] == S.BAD_TAG


def test_tolerated_scanner_and_human_variants(batch: af.Batch, ring: af.Keyring,
                                              issuer_ring: af.Keyring) -> None:
    url = batch.urls(BASE)[1]
    head, code = _code_part(url)
    number = batch.numbers()[1]
    variants = [url.upper(), url.lower(), url.removeprefix("https://"), code, code.lower(),
                f"  {url}\n", head.replace("https", "http") + code,
                code.replace("1", "l").replace("0", "O")]
    for v in variants:
        assert af.verify(v, ring).ok, v
    assert af.verify_many(variants, ring).ok.all()
    for v in [number, number.lower(), number.replace("-", ""), number.replace("-", " "),
              number.replace("1", "I").replace("0", "o"), number.encode()]:
        assert af.verify(v, issuer_ring).ok, v


def test_unknown_key_and_unverifiable(batch: af.Batch, key: af.IssuerKey) -> None:
    url, number = batch.urls(BASE)[0], batch.numbers()[0]
    stranger = af.IssuerKey.generate("XX", key_id=(key.key_id + 1) % 65536)
    empty = af.Keyring([stranger.public])
    assert af.verify(url, empty).status == S.UNKNOWN_KEY
    assert af.verify(number, empty).status in (S.UNKNOWN_KEY, S.UNVERIFIABLE)
    assert af.verify(number, af.Keyring()).status == S.UNKNOWN_KEY
    assert af.verify(number, af.Keyring([key.public])).status == S.UNVERIFIABLE


def test_same_key_id_other_issuer_is_bad_signature(batch: af.Batch, key: af.IssuerKey) -> None:
    impostor = af.IssuerKey.generate("XX", key_id=key.key_id)
    assert af.verify(batch.urls(BASE)[0], af.Keyring([impostor.public])).status == \
        S.BAD_SIGNATURE
    both = af.Keyring([impostor.public, key.public])
    assert af.verify(batch.urls(BASE)[0], both).ok
    assert af.verify_many(batch.urls(BASE)[:4], both).ok.all()


def test_manifest_membership_and_not_issued(key: af.IssuerKey) -> None:
    b = af.issue(key, 10)
    ring = af.Keyring([key.public])
    ring.add_manifest(b.manifest)
    urls = b.urls(BASE)
    assert af.verify_many(urls, ring).ok.all()
    # a stamp signed by the key but outside the batch's manifest (index past the end)
    body = C.pack_body(key.key_id, b.batch_id, 10, 12345)
    rogue = f"{BASE}/{C.encode_code(body, key.sign(C.signed_message(body)))}"
    assert af.verify(rogue, ring).status == S.NOT_ISSUED
    assert af.verify_many([rogue], ring).status[0] == S.NOT_ISSUED
    # same index, other serial: signed but not what the manifest holds
    body2 = C.pack_body(key.key_id, b.batch_id, 4, 999)
    rogue2 = f"{BASE}/{C.encode_code(body2, key.sign(C.signed_message(body2)))}"
    assert af.verify(rogue2, ring).status == S.NOT_ISSUED
    # without the manifest the same codes are merely signed
    assert af.verify(rogue, af.Keyring([key.public])).ok
    number_ring = af.Keyring([key])
    number_ring.add_manifest(b.manifest)
    tag_key = key.tag_key()
    import blake3

    n10 = C.encode_number(key.key_id, b.batch_id, 10,
                          blake3.blake3(C.tag_message(key.key_id, b.batch_id, 10),
                                        key=tag_key).digest(5))
    assert af.verify(n10, number_ring).status == S.NOT_ISSUED
    assert af.verify_many([n10], number_ring).status[0] == S.NOT_ISSUED


def test_tampered_manifest_is_refused(key: af.IssuerKey, tmp_path) -> None:
    b = af.issue(key, 20)
    path = tmp_path / "m.afm"
    b.manifest.save(path)
    m = af.Manifest.load(path, verify_with=key.public)
    assert np.array_equal(m.fingerprints, b.manifest.fingerprints)
    data = bytearray(path.read_bytes())
    for pos in (9, 14, 40, len(data) - 100, len(data) - 1):
        bad = bytearray(data)
        bad[pos] ^= 0x10
        path.write_bytes(bytes(bad))
        with pytest.raises(af.ManifestError):
            m2 = af.Manifest.load(path, verify_with=key.public)
            af.Keyring([key.public]).add_manifest(m2)
    with pytest.raises(af.ManifestError):
        af.Manifest.from_bytes(bytes(data[:30]))
    other = af.IssuerKey.generate("VN-QLTT-01", key_id=key.key_id)
    with pytest.raises(af.ManifestError):
        af.Keyring([other.public]).add_manifest(b.manifest)


def test_revocation_respects_manifest_dates() -> None:
    t0 = datetime(2026, 3, 1, tzinfo=UTC)
    key = af.IssuerKey.generate("VN-A", valid_from=t0, valid_until=t0 + timedelta(days=365))
    early = af.issue(key, 5, at=t0 + timedelta(days=10))
    late = af.issue(key, 5, at=t0 + timedelta(days=40))
    clock = FakeClock(t0 + timedelta(days=11))  # when this verifier receives the manifests
    ring = af.Keyring([key], clock=clock)
    ring.add_manifest(early.manifest)
    clock.t = t0 + timedelta(days=41)
    ring.add_manifest(late.manifest)
    ring.revoke(key.key_id, at=t0 + timedelta(days=20))
    texts = [early.urls(BASE)[0], late.urls(BASE)[0], early.numbers()[1], late.numbers()[1]]
    want = [S.AUTHENTIC, S.KEY_REVOKED, S.AUTHENTIC, S.KEY_REVOKED]
    assert [af.verify(t, ring).status for t in texts] == want
    assert af.verify_many(texts, ring).status.tolist() == [int(s) for s in want]
    # no manifest held: the verifier cannot date the stamp, so a revoked key's stamps fail
    bare = af.Keyring([key.public])
    bare.revoke(key.key_id, at=t0 + timedelta(days=20))
    assert af.verify(early.urls(BASE)[0], bare).status == S.KEY_REVOKED


def test_expired_key_reported_from_manifest_date() -> None:
    t0 = datetime(2026, 3, 1, tzinfo=UTC)
    key = af.IssuerKey.generate("VN-A", valid_from=t0, valid_until=t0 + timedelta(days=30))
    ok = af.issue(key, 3, at=t0 + timedelta(days=1))
    # a batch dated outside the window (a compromised key used later, with its date forged)
    rogue_batch = af.issue(key, 3, at=t0 + timedelta(days=2))
    from antifake.manifest import Manifest

    late_manifest = Manifest.build(key, rogue_batch.batch_id, t0 + timedelta(days=60),
                                   None, rogue_batch.manifest.fingerprints)
    ring = af.Keyring([key.public], clock=FakeClock(t0 + timedelta(days=2)))
    ring.add_manifest(ok.manifest)
    ring.add_manifest(late_manifest)
    assert af.verify(ok.urls(BASE)[0], ring).ok
    assert af.verify(rogue_batch.urls(BASE)[0], ring).status == S.KEY_EXPIRED
    assert af.verify_many([rogue_batch.urls(BASE)[0]], ring).status[0] == S.KEY_EXPIRED
    # stamps outlive keys: verified today, long after valid_until, still authentic
    assert not key.public.valid_at(datetime.now(UTC))


def test_gs1_stamps(key: af.IssuerKey) -> None:
    product = af.Product(gtin="09521234543213", lot="L23", expiry="2027-12-31")
    b = af.issue(key, 8, product=product)
    urls = b.urls(BASE)
    assert all(len(u) <= 220 for u in urls)
    assert urls[0].startswith(BASE + "/01/09521234543213/10/L23/21/")
    assert "17=271231" in urls[0]
    ring = af.Keyring([key.public])
    v = af.verify(urls[0], ring)
    assert v.ok and v.stamp.product == af.GS1Attributes("09521234543213", "L23", "271231")
    assert v.stamp.epc.startswith("https://id.gs1.org/01/09521234543213/21/")
    assert b[0].epc == v.stamp.epc == b.epcs()[0]
    # tampering with a signed attribute is caught
    for bad in (urls[0].replace("/10/L23/", "/10/L24/"), urls[0].replace("17=271231", "17=281231"),
                urls[0].replace("09521234543213", "09521234543220")):
        assert af.verify(bad, ring).status in (S.BAD_SIGNATURE, S.MALFORMED), bad
    # the code without its attributes does not pass either
    plain = f"{BASE}/{C.encode_code(b[0].body, b[0].signature)}"
    assert af.verify(plain, ring).status == S.BAD_SIGNATURE
    ring.add_manifest(b.manifest)
    assert af.verify(urls[0], ring).ok
    assert af.verify(plain, ring).status == S.BAD_SIGNATURE
    assert af.verify_many(list(urls) + [plain], ring).status.tolist() == [0] * 8 + [4]
    # tolerated variants of the Digital Link
    assert af.verify(urls[0].replace("https://", ""), ring).ok
    assert af.verify(urls[0].upper().replace("?17=", "?17=").replace("&S=", "&s="), ring).ok


def test_bulk_equals_single_for_every_status() -> None:
    t0 = datetime(2026, 3, 1, tzinfo=UTC)
    key = af.IssuerKey.generate("VN-A", valid_from=t0, valid_until=t0 + timedelta(days=365))
    b1 = af.issue(key, 6, at=t0 + timedelta(days=1))
    b2 = af.issue(key, 6, at=t0 + timedelta(days=50))
    stranger = af.IssuerKey.generate("VN-B", key_id=(key.key_id + 3) % 65536)
    sb = af.issue(stranger, 2, at=stranger.public.valid_from + timedelta(seconds=1))
    clock = FakeClock(t0 + timedelta(days=2))
    ring = af.Keyring([key], clock=clock)
    ring.add_manifest(b1.manifest)
    clock.t = t0 + timedelta(days=51)
    ring.add_manifest(b2.manifest)
    ring.revoke(key.key_id, at=t0 + timedelta(days=30))
    u1, u2 = b1.urls(BASE), b2.urls(BASE)
    n1 = b1.numbers()
    bad_sig = u1[2][:-1] + OTHER[u1[2][-1]]
    texts = [u1[0], u2[0], n1[1], b2.numbers()[1], bad_sig, n1[2][:-1] + OTHER[n1[2][-1]],
             sb.urls(BASE)[0], "", "garbage", "x" * 5000, "\x00", b"\xff\xfe", u1[3].encode(),
             "https://example.com/", C.encode_number(key.key_id, 0, 1, b"\x00" * 5),
             np.bytes_(u1[4].encode())]
    single = [af.verify(t, ring).status for t in texts]
    bulk = af.verify_many(texts, ring).status.tolist()
    assert bulk == [int(s) for s in single]
    assert set(single) >= {S.AUTHENTIC, S.KEY_REVOKED, S.BAD_SIGNATURE, S.BAD_CHECK_CHARACTER,
                           S.UNKNOWN_KEY, S.MALFORMED, S.BAD_TAG}
    arr = np.array([t for t in texts if isinstance(t, str) and len(t) < 200], dtype=object)
    assert af.verify_many(arr, ring).status.tolist() == [
        int(af.verify(t, ring).status) for t in arr]
    sarr = np.array([u.encode() for u in u1], dtype="S")
    assert af.verify_many(sarr, ring).status.tolist() == [0] * 6


def test_threads_give_identical_results(key: af.IssuerKey) -> None:
    b = af.issue(key, 3000, threads=2)
    ring = af.Keyring([key])
    one = af.verify_many(b.urls(BASE, threads=1), ring, threads=1)
    two = af.verify_many(b.urls(BASE, threads=2), ring, threads=2)
    assert np.array_equal(one.status, two.status) and one.ok.all()
    assert np.array_equal(b.numbers(threads=1), b.numbers(threads=2))
    assert np.array_equal(b.pins(threads=1), b.pins(threads=2))


def test_batch_save_load(key: af.IssuerKey, tmp_path) -> None:
    b = af.issue(key, 50, product=af.Product(gtin="4006381333931"))
    path = tmp_path / "batch.npz"
    b.save(path)
    loaded = af.Batch.load(path, key=key)
    assert np.array_equal(loaded.urls(BASE), b.urls(BASE))
    assert np.array_equal(loaded.numbers(), b.numbers())
    public_only = af.Batch.load(path)
    with pytest.raises(af.InvalidKey):
        public_only.pins()
    other = af.IssuerKey.generate("VN-QLTT-01")
    with pytest.raises(af.InvalidKey):
        af.Batch.load(path, key=other)
    with np.load(path) as z:
        parts = dict(z)
    parts["serials"] = parts["serials"].copy()
    parts["serials"][0] ^= 1
    np.savez(path, **parts)
    with pytest.raises(af.IssueError):
        af.Batch.load(path)
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(af.IssueError):
        af.Batch.load(tmp_path / "junk.npz")


def test_issue_iter_matches_one_batch(key: af.IssuerKey) -> None:
    stream = af.issue_iter(key, 2500, chunk_size=1000)
    chunks = list(stream)
    assert [len(c) for c in chunks] == [1000, 1000, 500]
    assert stream.manifest is not None and stream.manifest.count == 2500
    ring = af.Keyring([key])
    ring.add_manifest(stream.manifest)
    urls = np.concatenate([c.urls(BASE) for c in chunks])
    numbers = np.concatenate([c.numbers() for c in chunks])
    assert af.verify_many(urls, ring).ok.all()
    assert af.verify_many(numbers, ring).ok.all()
    assert af.verify(urls[1500], ring).stamp.index == 1500
    assert chunks[1][0].number == numbers[1000]
    serials = np.concatenate([c.serials for c in chunks])
    assert np.unique(serials).size == 2500


@pytest.mark.parametrize("issuer", ["A", "AB", "ABC"])
def test_manifest_of_a_very_short_issuer_name_round_trips(issuer: str, tmp_path) -> None:
    key = af.IssuerKey.generate(issuer)
    batch = af.issue(key, 4)
    data = batch.manifest.to_bytes()
    assert int.from_bytes(data[8:12], "big") == 20 + len(issuer) + 1  # no product: flags only
    m = af.Manifest.from_bytes(data, verify_with=key.public)
    assert m.issuer == issuer and m.count == 4 and m.to_bytes() == data
    batch.manifest.save(tmp_path / "m.afm")
    ring = af.Keyring([key.public])
    ring.add_manifest(af.Manifest.load(tmp_path / "m.afm", verify_with=key.public))
    assert af.verify_many(batch.urls(BASE), ring).counts() == {"AUTHENTIC": 4}


def test_manifest_header_minimum_is_an_empty_issuer_name() -> None:
    from antifake.manifest import MIN_HEADER, Manifest

    with pytest.raises(af.InvalidKey):  # keys need a name of 1-64 characters
        af.IssuerKey.generate("")
    key = af.IssuerKey.generate("A")
    fps = af.issue(key, 2).manifest.fingerprints
    # the format itself allows an empty name: the shortest header, 21 bytes
    m = Manifest(key.key_id, 7, "", datetime(2026, 1, 1, tzinfo=UTC), None, fps, bytes(64))
    data = m.to_bytes()
    assert MIN_HEADER == 21 and int.from_bytes(data[8:12], "big") == 21
    back = Manifest.from_bytes(data)
    assert back.issuer == "" and back.batch_id == 7 and back.to_bytes() == data
    assert not back.verify_signature(key.public)
    short = data[:8] + (20).to_bytes(4, "big") + data[12:32]  # header without the flags byte
    with pytest.raises(af.ManifestError, match="truncated"):
        Manifest.from_bytes(short)
