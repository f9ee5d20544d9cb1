"""The bulk endpoint's native JSON reader (`verify_json_codes`, `_core.scan_codes_json`) and
answer (`_core.statuses_json`) against orjson and `verify_many`: whatever body the native
scanner accepts, orjson reads the same codes from it and `verify_many` gives the same rows;
what it refuses, the caller reads with orjson."""

from __future__ import annotations

import json

import numpy as np
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import antifake as af
from antifake import _core
from antifake.verify import Status, verify_json_codes, verify_many

BASE = "https://xacthuc.example.vn/abc"
NAMES = tuple(s.name.encode() for s in Status)


@pytest.fixture(scope="module")
def world() -> tuple[af.Keyring, list[str]]:
    key = af.IssuerKey.generate("JSONSCAN")
    batch = af.issue(key, 8)
    ring = af.Keyring()
    ring.add(key)
    other = af.issue(af.IssuerKey.generate("JSONSCAN-2"), 2)  # a key the ring lacks
    urls = [str(u) for u in batch.urls(BASE)]
    texts = urls + [str(u) for u in other.urls(BASE)] + [str(n) for n in batch.numbers()]
    texts += [urls[0][:-1] + ("A" if urls[0][-1] != "A" else "B"),  # a forged signature
              urls[1].lower(), urls[2].upper(), urls[3].removeprefix("https://"),
              " " + urls[4] + " ", "", "x", "HTTPS://" + urls[5][8:], urls[6] + "/" * 300]
    return ring, texts


def _codes_of(body: bytes, max_codes: int = 1000) -> list[str] | None:
    """The codes the native scanner finds in ``body`` (None: it refused the body)."""
    got = _core.scan_codes_json(body, max_codes)
    if got is None:
        return None
    off, lens = got
    return [body[int(a):int(a) + int(n)].decode("ascii") for a, n in zip(off, lens, strict=True)]


def _orjson_codes(body: bytes) -> list[str] | None:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("codes"), list):
        return None
    return data["codes"]


def _same_result(a: af.VerifyResult, b: af.VerifyResult) -> None:
    for name in ("status", "key_id", "batch_id", "index"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)


def test_plain_bodies_are_read_natively(world) -> None:
    ring, texts = world
    for body in (orjson.dumps({"codes": texts}), json.dumps({"codes": texts}).encode(),
                 json.dumps({"codes": texts}, indent=2).encode(),
                 b' \r\n\t{ "codes" :\n[ ' + b" , ".join(json.dumps(t).encode()
                                                         for t in texts) + b" ] }\n"):
        assert _codes_of(body) == texts
        res = verify_json_codes(body, ring, 1000)
        assert res is not None
        _same_result(res, verify_many(texts, ring))
        for i, t in enumerate(texts):  # and each row is what verify says of that text
            assert res.status[i] == af.verify(t, ring).status, t
    assert verify_json_codes(b'{"codes":[]}', ring, 10) is not None
    assert len(verify_json_codes(b'{"codes": [ ] }', ring, 10)) == 0


@pytest.mark.parametrize("body", [
    b'{"codes":["a\\u0041"]}',  # an escape
    b'{"codes":["\xc3\xa9"]}',  # non-ASCII (valid UTF-8)
    b'{"codes":["\xff"]}',  # invalid UTF-8
    b'{"codes":["a\x01"]}',  # a raw control byte (invalid JSON)
    b'{"codes":["a\x00"]}',
    b'{"codes":["a"],"x":1}',  # another key
    b'{"x":1,"codes":["a"]}',
    b'{"codes":["a",]}',  # trailing comma (invalid JSON)
    b'{"codes":["a"]',  # truncated
    b'{"codes":["a"]}}',
    b'{"codes":["a" "b"]}',
    b'{"codes":[1]}',  # not a string
    b'{"codes":"a"}',
    b'["a"]',
    b'',
    b'{"codes\\u0000":["a"]}',
    b'{"codes":["a"]}\x00',
    b'\xef\xbb\xbf{"codes":["a"]}',  # a BOM
])
def test_anything_else_is_left_to_the_json_parser(world, body: bytes) -> None:
    ring, _ = world
    assert _core.scan_codes_json(body, 10) is None
    assert verify_json_codes(body, ring, 10) is None


def test_too_many_codes_is_left_to_the_caller(world) -> None:
    ring, texts = world
    body = orjson.dumps({"codes": texts[:5]})
    assert verify_json_codes(body, ring, 5) is not None
    assert verify_json_codes(body, ring, 4) is None
    assert verify_json_codes(b'{"codes":[]}', ring, 0) is not None
    assert verify_json_codes(body, ring, 2**60) is not None  # no allocation of max_codes rows
    assert _codes_of(b'{"codes":["","",""]}', 3) == ["", "", ""]
    assert _codes_of(b'{"codes":["","",""]}', 2) is None
    assert _codes_of(b'{"codes":[""]}', 1) == [""]
    with pytest.raises(ValueError):
        _core.scan_codes_json(body, -1)


def test_on_count_comes_before_any_verification(world) -> None:
    ring, texts = world
    body = orjson.dumps({"codes": texts[:7]})
    seen: list[int] = []

    class Refused(Exception):
        pass

    def refuse(n: int) -> None:
        seen.append(n)
        raise Refused

    with pytest.raises(Refused):
        verify_json_codes(body, ring, 100, on_count=refuse)
    assert seen == [7]
    res = verify_json_codes(body, ring, 100, on_count=seen.append)
    assert res is not None and len(res) == 7 and seen == [7, 7]


def test_parse_spans_checks_its_spans() -> None:
    body = b'{"codes":["abc"]}'
    off, lens = _core.scan_codes_json(body, 10)
    assert body[int(off[0]):int(off[0]) + int(lens[0])] == b"abc"
    assert len(_core.parse_spans(body, off, lens)[0]) == 1
    for o, n in ((-1, 1), (0, -1), (len(body), 1), (len(body) - 1, 2), (2**62, 2**30)):
        with pytest.raises(ValueError):
            _core.parse_spans(body, np.array([o], np.int64), np.array([n], np.int32))
    with pytest.raises(ValueError):
        _core.parse_spans(body, np.zeros(2, np.int64), np.zeros(1, np.int32))
    assert len(_core.parse_spans(body, np.array([len(body)], np.int64),
                                 np.zeros(1, np.int32))[0]) == 1  # an empty span at the end


_text = st.one_of(st.text(max_size=12),
                  st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126),
                          max_size=40),
                  st.sampled_from(["\\", '"', "\x00", "é", "\u2028", "\ud7ff"]))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(codes=st.lists(_text, max_size=8), indent=st.sampled_from([None, 0, 1, 2]),
       ascii_only=st.booleans(), extra=st.booleans())
def test_scanner_agrees_with_orjson(codes: list[str], indent, ascii_only: bool,
                                    extra: bool) -> None:
    data: dict[str, object] = {"codes": codes}
    if extra:
        data["seller"] = "s"
    body = json.dumps(data, indent=indent, ensure_ascii=ascii_only).encode()
    got = _codes_of(body)
    assert _orjson_codes(body) == codes
    if got is not None:
        assert got == codes
    plain = not extra and all(all(32 <= ord(c) < 127 and c not in '\\"' for c in t)
                              for t in codes)
    assert (got is not None) == plain  # the plain form is always read natively


@settings(max_examples=400, deadline=None)
@given(codes=st.lists(st.text(alphabet="ab\"\\ ,[]{}:", max_size=4), max_size=4),
       cut=st.integers(0, 200), byte=st.integers(0, 255), op=st.sampled_from("dir"))
def test_damaged_bodies_never_disagree(codes: list[str], cut: int, byte: int, op: str) -> None:
    """A body with one byte deleted, inserted or replaced: when the scanner still accepts it,
    orjson reads exactly the same codes from it."""
    body = bytearray(json.dumps({"codes": codes}).encode())
    at = cut % (len(body) + 1)
    if op == "d" and at < len(body):
        del body[at]
    elif op == "i":
        body.insert(at, byte)
    elif at < len(body):
        body[at] = byte
    got = _codes_of(bytes(body))
    if got is not None:
        assert _orjson_codes(bytes(body)) == got


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_verify_json_codes_equals_verify_many(world, data) -> None:
    ring, texts = world
    pick = data.draw(st.lists(st.sampled_from(texts), max_size=30))
    body = orjson.dumps({"codes": pick})
    res = verify_json_codes(body, ring, 100)
    assert res is not None
    _same_result(res, verify_many(pick, ring))


def test_statuses_json() -> None:
    rng = np.random.default_rng(3)
    for n in (0, 1, 2, 1000):
        st_ = rng.integers(0, len(Status), n).astype(np.uint8)
        out = _core.statuses_json(st_, NAMES)
        assert orjson.loads(out) == {"statuses": [Status(int(s)).name for s in st_]}
    with pytest.raises(ValueError):
        _core.statuses_json(np.array([len(NAMES)], np.uint8), NAMES)
    for bad in (b'a"b', b'"', b"a\\b", b"a\nb", b"\x7f", "\u00e9".encode()):
        with pytest.raises(ValueError, match="printable ASCII"):
            _core.statuses_json(np.zeros(1, np.uint8), (bad,))
    with pytest.raises(ValueError):
        _core.statuses_json(np.zeros(1, np.uint8), ())


def _parse_or_failure(text: str) -> object:
    from antifake import codes as C

    try:
        return C.parse(text)
    except C.ParseFailure as f:
        return (f.status, f.reason)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_single_text_native_parse_equals_codes_parse(world, data) -> None:
    """`verify`'s parse (native for the usual forms) gives what `codes.parse` gives, for
    genuine texts and for texts with a symbol changed, dropped, doubled or case-flipped."""
    from antifake import codes as C
    from antifake.verify import _parse

    _, texts = world
    t = data.draw(st.sampled_from(texts))
    if t and data.draw(st.booleans()):
        i = data.draw(st.integers(0, len(t) - 1))
        op = data.draw(st.sampled_from("rdxc"))
        ch = data.draw(st.sampled_from("0OoIil1LU-_ /%é\x00zZ"))
        t = {"r": t[:i] + ch + t[i + 1:], "d": t[:i] + t[i + 1:], "x": t[:i] + t[i] + t[i:],
             "c": t[:i] + t[i].swapcase() + t[i + 1:]}[op]
    want = _parse_or_failure(t)
    try:
        got: object = _parse(t)
    except C.ParseFailure as f:
        got = (f.status, f.reason)
    assert got == want, t
    assert _parse(t.encode()) == want if isinstance(want, C.Parsed) else True
