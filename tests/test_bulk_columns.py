"""The stamp layout over arrays: `codes.parse_many` columns, the native signed / tag message
builders and the number-tag kernel, each against its one-row definition in `codes`; and
`verify_many` equal to `verify` row by row for every form and every status."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import blake3
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import antifake as af
from antifake import _core
from antifake import codes as C

BASE = "https://xacthuc.example.vn/abc"  # 30 characters, as in the other suites

S = af.Status
T0 = datetime(2026, 3, 1, tzinfo=UTC)


def _expect_row(cols: C.Columns, i: int, text: str | bytes) -> None:
    """Row i of the columns says what `codes.parse` says about `text`."""
    form = int(cols.form[i])
    if form == C.FORM_SLOW:
        return  # the single-text parser decides; verify_many compares verdicts
    try:
        p = C.parse(text)
    except C.ParseFailure as f:
        want = C.FORM_BAD_CHECK if f.status == "BAD_CHECK_CHARACTER" else None
        if want is not None:
            assert form == want, text
        else:
            # a version the parser refuses is still decoded by the kernel (verdict: MALFORMED)
            assert form in (C.FORM_MALFORMED, C.FORM_CODE, C.FORM_GS1, C.FORM_NUMBER), text
            if form != C.FORM_MALFORMED:
                assert cols.version[i] != (C.NUMBER_VERSION if form == C.FORM_NUMBER
                                           else C.FORMAT_VERSION), text
        return
    assert form == {"code": C.FORM_CODE, "gs1": C.FORM_GS1, "number": C.FORM_NUMBER}[p.kind]
    assert (int(cols.version[i]), int(cols.key_id[i]), int(cols.batch_id[i]),
            int(cols.index[i])) == (p.version, p.key_id, p.batch_id, p.index), text
    if p.kind == "number":
        assert cols.tag[i].tobytes() == p.tag
        return
    assert int(cols.serial[i]) == p.serial and cols.signature[i].tobytes() == p.signature
    assert cols.attributes(i) == p.gs1
    assert cols.parsed(i) == p
    msgs, lens = C.signed_messages(cols.take(np.array([i])))
    assert msgs[0, :lens[0]].tobytes() == C.signed_message(p.body, p.gs1)
    assert C.pack_bodies(cols.take(np.array([i])))[0].tobytes() == p.body


@pytest.fixture(scope="module")
def stamps() -> dict[str, list[str]]:
    key = af.IssuerKey.generate("COLS")
    plain = af.issue(key, 6)
    full = af.issue(key, 4, product=af.Product(gtin="09521234543213", lot="L-23.x_",
                                               expiry="2027-12-31"))
    bare = af.issue(key, 3, product=af.Product(gtin="09521234543213"))
    return {"url": plain.urls(BASE).tolist(),
            "code": [c.decode() for c in plain.codes().tolist()],
            "gs1": full.urls(BASE).tolist() + bare.urls(BASE).tolist(),
            "number": plain.numbers().tolist(),
            "number_plain": plain.numbers(grouped=False).tolist()}


def _bad_check(number: str) -> str:
    """The number with another check symbol (a mistyped last character)."""
    return number[:-1] + ("Z" if number[-1] != "Z" else "Y")


def _variants(t: str) -> list[str]:
    return [t, t.lower(), t.upper(), "  " + t + "\n", t.replace("-", ""),
            t.replace("1", "I").replace("0", "O"), t.replace("1", "l").replace("0", "o")]


def test_columns_equal_parse_for_every_form(stamps) -> None:
    texts: list[str | bytes] = []
    for form in stamps.values():
        for t in form:
            texts += _variants(t)
    texts += ["", "garbage", "https://example.com/", "\x00", "x" * 300,
              C.encode_number(5, 1, 2, b"abcde"), _bad_check(stamps["number"][0]),
              stamps["url"][0].encode(), "0" + stamps["code"][0][1:], "2" + stamps["code"][0][1:]]
    for threads in (1, 2):
        cols = C.parse_many(texts, threads)
        assert len(cols) == len(texts)
        for i, t in enumerate(texts):
            _expect_row(cols, i, t)
    cols = C.parse_many(texts)
    forms = set(cols.form.tolist())
    assert {C.FORM_CODE, C.FORM_GS1, C.FORM_NUMBER, C.FORM_MALFORMED, C.FORM_BAD_CHECK} <= forms
    # rows that are not stamps hold -1 and zeros
    bad = cols.form == C.FORM_MALFORMED
    assert (cols.key_id[bad] == -1).all() and (cols.serial[bad] == 0).all()


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_columns_equal_parse_on_mutated_texts(stamps, data) -> None:
    pool = [t for form in stamps.values() for t in form]
    texts = []
    for _ in range(data.draw(st.integers(1, 12))):
        t = data.draw(st.sampled_from(pool))
        pos = data.draw(st.integers(0, len(t)))
        ch = data.draw(st.sampled_from("0O1IlL-_ ./?&=#%zZuU\x00é"))
        op = data.draw(st.sampled_from(["ins", "rep", "del", "none", "case"]))
        if op == "ins":
            t = t[:pos] + ch + t[pos:]
        elif op == "rep":
            t = t[:pos] + ch + t[pos + 1:]
        elif op == "del":
            t = t[:pos] + t[pos + 1:]
        elif op == "case":
            t = t.swapcase()
        texts.append(t)
    cols = C.parse_many(texts)
    for i, t in enumerate(texts):
        _expect_row(cols, i, t)


@given(k=st.lists(st.integers(0, 0xFFFF), min_size=1, max_size=20), data=st.data())
@settings(max_examples=50, deadline=None)
def test_message_builders_equal_their_single_definition(k, data) -> None:
    n = len(k)
    b = data.draw(st.lists(st.integers(0, 0xFFFFFF), min_size=n, max_size=n))
    i = data.draw(st.lists(st.integers(0, 0xFFFFFF), min_size=n, max_size=n))
    s = data.draw(st.lists(st.integers(0, 2**64 - 1), min_size=n, max_size=n))
    ka, ba, ia = (np.array(k, np.int32), np.array(b, np.int64), np.array(i, np.int64))
    tags = C.tag_messages(ka, ba, ia)
    pins = C.tag_messages(ka, ba, ia, domain=C.PIN_DOMAIN)
    for r in range(n):
        assert tags[r].tobytes() == C.tag_message(k[r], b[r], i[r])
        assert pins[r].tobytes() == C.pin_message(k[r], b[r], i[r])
    gs1 = [None, C.GS1Attributes("09521234543213"), C.GS1Attributes("09521234543213", "A" * 20,
                                                                      "271231")]
    sx = np.zeros((n, _core.SUFFIX_MAX), np.uint8)
    sl = np.zeros(n, np.uint8)
    picks = [gs1[r % 3] for r in range(n)]
    for r, g in enumerate(picks):
        if g is not None:
            raw = g.signed_suffix()
            sx[r, :len(raw)] = np.frombuffer(raw, np.uint8)
            sl[r] = len(raw)
            assert C.GS1Attributes.from_signed_suffix(raw) == g
    cols = C.Columns(np.full(n, C.FORM_CODE, np.uint8), np.ones(n, np.uint8), ka, ba, ia,
                     np.array(s, np.uint64), np.zeros((n, 64), np.uint8),
                     np.zeros((n, 5), np.uint8), sx, sl)
    msgs, lens = C.signed_messages(cols)
    bodies = C.pack_bodies(cols)
    for r in range(n):
        body = C.pack_body(k[r], b[r], i[r], s[r])
        assert bodies[r].tobytes() == body
        assert msgs[r, :lens[r]].tobytes() == C.signed_message(body, picks[r])
        assert not msgs[r, lens[r]:].any()


def test_message_builders_refuse_out_of_range() -> None:
    one = np.ones(1, np.int64)
    with pytest.raises(ValueError):
        C.tag_messages(np.array([0x10000], np.int32), one, one)
    with pytest.raises(ValueError):
        C.tag_messages(np.array([1], np.int32), np.array([-1], np.int64), one)
    with pytest.raises(ValueError):
        _core.pack_bodies(np.array([1], np.int32), one, np.array([1 << 24], np.int64),
                          np.zeros(1, np.uint64))
    with pytest.raises(ValueError):
        _core.tag_messages(ord("N"), 1, np.zeros(2, np.int32), one, one)


@pytest.mark.parametrize("threads", [1, 2])
def test_number_tag_kernel_equals_blake3(threads: int) -> None:
    rng = np.random.default_rng(7)
    n = 40_000
    keys = rng.integers(0, 256, (32, 32), dtype=np.uint8)
    full = np.array([s + 32 * (s % 5) if s % 4 else -1 for s in range(32)], np.int32)
    short = rng.integers(-1, 32, n).astype(np.int32)
    short[:20000] = 9  # a long run of one key, then a mixture
    batch = rng.integers(0, 1 << 24, n).astype(np.int64)
    index = rng.integers(0, 1 << 24, n).astype(np.int64)
    batch[5] = 1 << 24  # out of range: never a match
    want_tag = np.zeros((n, 5), np.uint8)
    for r in range(n):
        s = short[r]
        if s >= 0 and full[s] >= 0 and batch[r] < 1 << 24:
            want_tag[r] = np.frombuffer(blake3.blake3(
                C.tag_message(int(full[s]), int(batch[r]), int(index[r])),
                key=keys[s].tobytes()).digest(5), np.uint8)
    tag = want_tag.copy()
    flip = rng.random(n) < 0.3
    tag[flip, 2] ^= 0x10
    ok = _core.number_tags_ok(keys, full, ord("N"), C.NUMBER_VERSION, short, batch, index, tag,
                              threads)
    valid = np.array([s >= 0 and full[s] >= 0 for s in short]) & (batch < 1 << 24)
    assert (ok == (valid & ~flip)).all()
    assert ok.sum() > 10_000


# ---------------------------------------------------------------------------------------
# verify_many == verify, every form, every status
# ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def world() -> tuple[af.Keyring, list[str]]:
    key = af.IssuerKey.generate("VN-A", valid_from=T0, valid_until=T0 + timedelta(days=365))
    other = af.IssuerKey.generate("VN-B", key_id=(key.key_id + 1) % 65536,
                                  valid_from=T0, valid_until=T0 + timedelta(days=365))
    stranger = af.IssuerKey.generate("VN-C", key_id=(key.key_id + 2) % 65536)
    prod = af.Product(gtin="09521234543213", lot="LOT7", expiry="2027-12-31")
    b1 = af.issue(key, 5, at=T0 + timedelta(days=1))
    b2 = af.issue(key, 5, at=T0 + timedelta(days=50))
    g1 = af.issue(key, 5, at=T0 + timedelta(days=2), product=prod)
    g2 = af.issue(key, 3, at=T0 + timedelta(days=3), product=af.Product(gtin="09521234543213"))
    o1 = af.issue(other, 4, at=T0 + timedelta(days=4))
    s1 = af.issue(stranger, 2, at=stranger.public.valid_from + timedelta(seconds=1))
    ring = af.Keyring([key, other.public])
    ring.add_manifest(b1.manifest)
    ring.add_manifest(b2.manifest)
    ring.add_manifest(g1.manifest)
    short = af.issue(key, 2, at=T0 + timedelta(days=5))
    ring.add_manifest(short.manifest)  # held before the revocation (a later one needs proof)
    ring.revoke(key.key_id, at=T0 + timedelta(days=30))
    beyond = af.issue(key, 4, at=T0 + timedelta(days=5), batch_id=short.batch_id)
    texts = (b1.urls(BASE).tolist() + b2.urls(BASE).tolist() + g1.urls(BASE).tolist()
             + g2.urls(BASE).tolist() + o1.urls(BASE).tolist() + s1.urls(BASE).tolist()
             + b1.numbers().tolist() + b2.numbers(grouped=False).tolist()
             + g1.numbers().tolist() + o1.numbers().tolist()
             + beyond.numbers().tolist() + beyond.urls(BASE).tolist()
             + [c.decode() for c in b2.codes().tolist()])
    return ring, texts


def _mutate(t: str, data) -> str:
    op = data.draw(st.sampled_from(["none", "none", "rep", "case", "conf", "sep", "del"]))
    pos = data.draw(st.integers(0, max(0, len(t) - 1)))
    if op == "rep":
        ch = t[pos]
        new = data.draw(st.sampled_from(C.ALPHABET))
        return t[:pos] + (new if new != ch else "Z") + t[pos + 1:]
    if op == "case":
        return t.lower()
    if op == "conf":
        return t.replace("1", "l").replace("0", "O")
    if op == "sep":
        return t[:pos] + " " + t[pos:]
    if op == "del":
        return t[:pos] + t[pos + 1:]
    return t


def test_bulk_equals_single_every_form_every_status(world) -> None:
    ring, texts = world
    single = [af.verify(t, ring) for t in texts]
    for threads in (1, 2):
        res = af.verify_many(texts, ring, threads=threads)
        assert res.status.tolist() == [int(v.status) for v in single]
        for i, v in enumerate(single):
            if v.status in (S.AUTHENTIC, S.KEY_REVOKED, S.KEY_EXPIRED) and v.stamp is not None:
                assert (int(res.key_id[i]), int(res.batch_id[i]), int(res.index[i])) == (
                    v.stamp.key_id, v.stamp.batch_id, v.stamp.index)
    seen = {v.status for v in single}
    assert {S.AUTHENTIC, S.KEY_REVOKED, S.UNKNOWN_KEY, S.UNVERIFIABLE, S.NOT_ISSUED} <= seen


@settings(max_examples=80, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_bulk_equals_single_on_mutations(world, data) -> None:
    ring, texts = world
    picked = data.draw(st.lists(st.sampled_from(texts), min_size=1, max_size=16))
    rows = [_mutate(t, data) for t in picked]
    want = [int(af.verify(t, ring).status) for t in rows]
    assert af.verify_many(rows, ring).status.tolist() == want
    assert af.verify_many(np.array(rows, dtype=object), ring).status.tolist() == want


def test_fused_columns_equal_raw_parse_then_decode(stamps) -> None:
    """parse_columns (one pass) == parse_texts followed by decode_columns, on every row."""
    texts = [v for form in stamps.values() for t in form for v in _variants(t)]
    texts += ["", "garbage", "\x00", "x" * 300, b"\xff", stamps["number"][0][:-1]]
    kind, version, raw, sx, sl = _core.parse_texts(texts)
    decoded = _core.decode_columns(kind, raw)
    fused = _core.parse_columns(texts)
    for a, b in zip((kind, version, *decoded, sx, sl), fused, strict=True):
        assert a.dtype == b.dtype and (a == b).all()
