"""The vector (AVX2) and scalar levels of the code encoder and of the bulk parser.

Every level the CPU has must give bit-identical results (all five arrays of parse_texts, also
against the generic row parser without the fast path; the "S129" codes of encode_codes), and
all must agree with the pure-Python reference in
``antifake.codes`` on random and hostile inputs: every single-character change of a code and of
a URL, lower case, Crockford aliases, wrong lengths around the 32-byte load boundaries,
non-ASCII, NUL, separators. Rows that end at an inaccessible page catch any over-read.
"""

from __future__ import annotations

import ctypes
import mmap
import secrets
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from antifake import _core
from antifake import codes as C

LEVEL_NAMES = ("scalar", "avx2")
BASE = "https://xacthuc.example.vn/abc"


def _available_levels() -> list[str]:
    before = _core.b32_simd_level()
    top = _core.b32_set_simd_level("avx2")
    _core.b32_set_simd_level(before)
    return list(LEVEL_NAMES[: LEVEL_NAMES.index(top) + 1])


LEVELS = _available_levels()


@pytest.fixture(params=LEVELS)
def level(request):
    """Run the test at one level, restoring the default afterwards."""
    before = _core.b32_simd_level()
    assert _core.b32_set_simd_level(request.param) == request.param
    yield request.param
    _core.b32_set_simd_level(before)


def at_every_level(fn):
    """fn() at each available level; returns the list of results (default level restored)."""
    before = _core.b32_simd_level()
    try:
        out = []
        for lvl in LEVELS:
            assert _core.b32_set_simd_level(lvl) == lvl
            out.append(fn())
        return out
    finally:
        _core.b32_set_simd_level(before)


def parse_same(texts, threads=1):
    """parse_texts at every level, and the generic row parser alone (no fast path); asserts
    the five arrays are identical and returns them."""
    results = at_every_level(lambda: _core.parse_texts(texts, threads))
    results.append(_core._parse_texts_generic(texts, threads))
    first = results[0]
    for other in results[1:]:
        for a, b in zip(first, other, strict=True):
            np.testing.assert_array_equal(a, b)
    return first


def random_code() -> tuple[bytes, bytes, str]:
    body = secrets.token_bytes(16)
    sig = secrets.token_bytes(64)
    return body, sig, C.encode_code(body, sig)


def check_against_reference(texts, result) -> None:
    """Each native verdict is the reference parser's (K_SLOW rows are the reference's job)."""
    kind, version, raw, suffix, suffix_len = result
    for i, text in enumerate(texts):
        k = int(kind[i])
        if k == _core.K_SLOW:
            continue
        try:
            p = C.parse(text)
            ref = p.kind
        except C.ParseFailure as exc:
            p, ref = None, exc.status
        if k == _core.K_MALFORMED:
            assert ref == "MALFORMED", (text, ref)
        elif k == _core.K_BADCHECK:
            assert ref == "BAD_CHECK_CHARACTER", (text, ref)
        elif k == _core.K_CODE:
            if version[i] != C.FORMAT_VERSION:
                assert ref == "MALFORMED", (text, ref)
            else:
                assert ref == "code", (text, ref)
                assert raw[i].tobytes() == p.body + p.signature, text
        elif k == _core.K_NUMBER:
            if version[i] != C.NUMBER_VERSION:
                assert ref == "MALFORMED", (text, ref)
            else:
                assert ref == "number", (text, ref)
                value = int.from_bytes(raw[i, :12].tobytes(), "big") >> 1
                assert (value >> 88) & 31 == p.key_id
                assert (value >> 64) & C.MAX_BATCH_ID == p.batch_id
                assert (value >> 40) & C.MAX_INDEX == p.index
                assert (value & ((1 << 40) - 1)).to_bytes(5, "big") == p.tag
        elif k == _core.K_GS1:
            assert ref == "gs1", (text, ref)
            assert raw[i].tobytes() == p.body + p.signature
            assert suffix[i, : suffix_len[i]].tobytes() == p.gs1.signed_suffix()
        else:  # pragma: no cover
            raise AssertionError(f"unknown kind {k}")


# ---- encoding ---------------------------------------------------------------------------


def test_levels_are_reported_and_clamped() -> None:
    assert _core.b32_simd_level() in LEVEL_NAMES
    with pytest.raises(ValueError):
        _core.b32_set_simd_level("avx512")
    before = _core.b32_simd_level()
    try:
        assert _core.b32_set_simd_level("scalar") == "scalar"
        assert _core.b32_simd_level() == "scalar"
    finally:
        _core.b32_set_simd_level(before)


@pytest.mark.parametrize("n", [1, 2, 3, 31, 32, 33, 1000])
def test_encode_codes_matches_reference(level, n) -> None:
    rng = np.random.default_rng(n)
    bodies = rng.integers(0, 256, (n, 16), dtype=np.uint8)
    sigs = rng.integers(0, 256, (n, 64), dtype=np.uint8)
    # extremes: all zero, all ones, single bits set
    bodies[0] = 0
    sigs[0] = 0
    if n > 1:
        bodies[1] = 255
        sigs[1] = 255
    for version in (0, 1, 17, 31):
        out = _core.encode_codes(bodies, sigs, version, threads=2)
        assert out.dtype == np.dtype("S129")
        for i in range(min(n, 64)):
            want = C.ALPHABET[version] + C.b32encode(bodies[i].tobytes() + sigs[i].tobytes())
            assert out[i].decode() == want


def test_encode_single_bits_match_reference(level) -> None:
    raw = np.zeros((640, 80), dtype=np.uint8)
    for bit in range(640):
        raw[bit, bit // 8] = 0x80 >> (bit % 8)
    bodies, sigs = np.ascontiguousarray(raw[:, :16]), np.ascontiguousarray(raw[:, 16:])
    out = _core.encode_codes(bodies, sigs, 1)
    for bit in range(640):
        assert out[bit].decode() == C.encode_code(bodies[bit].tobytes(), sigs[bit].tobytes())


def test_encode_levels_agree_on_many_rows() -> None:
    rng = np.random.default_rng(11)
    bodies = rng.integers(0, 256, (20_011, 16), dtype=np.uint8)
    sigs = rng.integers(0, 256, (20_011, 64), dtype=np.uint8)
    results = at_every_level(lambda: _core.encode_codes(bodies, sigs, 1, threads=3))
    for other in results[1:]:
        np.testing.assert_array_equal(results[0], other)
    texts = _core.to_str_array(results[0])
    kind, version, raw, _, _ = parse_same(texts, threads=2)
    assert (kind == _core.K_CODE).all() and (version == 1).all()
    np.testing.assert_array_equal(raw[:, :16], bodies)
    np.testing.assert_array_equal(raw[:, 16:], sigs)


@given(st.binary(min_size=16, max_size=16), st.binary(min_size=64, max_size=64),
       st.integers(0, 31))
def test_encode_round_trip_property(body: bytes, sig: bytes, version: int) -> None:
    bodies = np.frombuffer(body, dtype=np.uint8).reshape(1, 16)
    sigs = np.frombuffer(sig, dtype=np.uint8).reshape(1, 64)
    outs = at_every_level(lambda: _core.encode_codes(bodies, sigs, version))
    want = C.ALPHABET[version] + C.b32encode(body + sig)
    assert all(o[0].decode() == want for o in outs)
    kind, ver, raw, _, _ = parse_same([want, want.lower(), BASE + "/" + want])
    assert (kind == _core.K_CODE).all() and (ver == version).all()
    assert all(raw[i].tobytes() == body + sig for i in range(3))


# ---- parsing: canonical and near-canonical forms ------------------------------------------


def test_canonical_forms_decode() -> None:
    rows, want = [], []
    for _ in range(50):
        body, sig, code = random_code()
        for text in (code, code.lower(), BASE + "/" + code, "xacthuc.example.vn/abc/" + code,
                     "/" + code, "a/" + code, " " + code, code + "\n", code.encode(),
                     (BASE + "/" + code).encode()):
            rows.append(text)
            want.append(body + sig)
    result = parse_same(rows, threads=2)
    kind, version, raw, _, _ = result
    assert (kind == _core.K_CODE).all() and (version == 1).all()
    assert [r.tobytes() for r in raw] == want
    check_against_reference(rows, result)


def test_crockford_aliases_decode_like_their_symbols() -> None:
    body, sig, code = random_code()
    # force every aliased symbol to appear: '0' -> O/o, '1' -> I/i/L/l
    code = code[0] + "01" * 8 + code[17:]
    body_sig = C.b32decode(code[1:], 80)
    variants = [code]
    for src, dst in (("0", "O"), ("0", "o"), ("1", "I"), ("1", "i"), ("1", "L"), ("1", "l")):
        variants.append(code[0] + code[1:].replace(src, dst))
    variants += [v.lower() for v in variants] + [BASE + "/" + v for v in variants]
    result = parse_same(variants)
    assert (result[0] == _core.K_CODE).all()
    assert all(r.tobytes() == body_sig for r in result[2])
    check_against_reference(variants, result)


def _hostile_chars() -> list[str]:
    chars = [chr(c) for c in range(128)]
    return chars + ["\u00e9", "\u00a0", "\u0130", "\u212a", "\uff10", "\U0001f600"]


def test_every_single_character_change_of_a_code() -> None:
    _, _, code = random_code()
    rows = []
    for pos in range(len(code)):
        for ch in _hostile_chars():
            rows.append(code[:pos] + ch + code[pos + 1 :])
    result = parse_same(rows, threads=2)
    check_against_reference(rows, result)
    # also as bytes (non-ASCII as UTF-8) and in an "S" array
    as_bytes = [r.encode("utf-8") for r in rows]
    b_result = parse_same(as_bytes)
    for a, b in zip(result, b_result, strict=True):
        np.testing.assert_array_equal(a[: len(rows)], b)
    # an "S" array ends a row at its first NUL: compare the rows without one
    keep = np.array([b"\x00" not in r for r in as_bytes])
    s_result = parse_same(np.array(as_bytes, dtype=object)[keep].astype("S"))
    for a, b in zip(b_result, s_result, strict=True):
        np.testing.assert_array_equal(a[keep], b)


def test_every_single_character_change_of_a_url() -> None:
    _, _, code = random_code()
    url = BASE + "/" + code
    rows = []
    for pos in range(len(url)):
        for ch in _hostile_chars():
            rows.append(url[:pos] + ch + url[pos + 1 :])
    result = parse_same(rows, threads=2)
    check_against_reference(rows, result)


def test_insertions_and_deletions() -> None:
    _, _, code = random_code()
    rows = []
    for text in (code, BASE + "/" + code):
        for pos in range(len(text) + 1):
            rows.append(text[:pos] + text[pos + 1 :])
            for ch in ("0", "Z", "u", "-", " ", "/", "?", "\x00", "#", "%", "\u00e9"):
                rows.append(text[:pos] + ch + text[pos:])
    result = parse_same(rows, threads=2)
    check_against_reference(rows, result)


@pytest.mark.parametrize("threads", [1, 2])
def test_lengths_around_the_load_boundaries(threads) -> None:
    """Every length from 0 to 300 of bare symbols and of URLs ending in symbols."""
    _, _, code = random_code()
    long_sym = (code * 3)[:300]
    rows = []
    for ln in range(301):
        rows.append(long_sym[:ln])
        rows.append((BASE + "/" + long_sym)[:ln])
        rows.append(("x" * max(0, ln - 130) + "/" + code)[-ln:] if ln else "")
        prefix = "p" * max(0, ln - 130)
        rows.append(prefix + "/" + code)  # URLs of every length up to 300
    result = parse_same(rows, threads=threads)
    check_against_reference(rows, result)
    kind = result[0]
    for i, text in enumerate(rows):
        if len(text) >= 256:
            assert kind[i] == _core.K_SLOW  # the native parser leaves long rows to Python


def test_url_prefixes_that_leave_the_fast_path() -> None:
    body, sig, code = random_code()
    prefixes = ["https://x.example/01/", "https://x.example/a/01/", "x/01/", "/01/",
                "https://x.example/a?b=/", "https://x.example/#/", "https://x.example/%41/",
                "https://x.example/a;b/", "https://x.ex\x00ample/", "https://x.example//",
                "https://x.example/gtin/", "\t https://x.example/", "https://x.example/ 01/",
                "https://x.example/001/", "https://x.example/01x/", "http://01/",
                "https://x.example/\u00e9/"]
    rows = [p + code for p in prefixes] + [p + code.lower() for p in prefixes]
    rows += [p.encode("utf-8") + code.encode() for p in prefixes]
    result = parse_same(rows)
    check_against_reference([r if isinstance(r, str) else r.decode("utf-8") for r in rows],
                            result)


def test_separators_case_and_numbers_mixed() -> None:
    rows = []
    for _ in range(30):
        body, sig, code = random_code()
        rows += [code, "-".join(code[i : i + 5] for i in range(0, len(code), 5)),
                 code[:64] + " " + code[64:], code.swapcase(), BASE + "/" + code + "/",
                 BASE + "/" + code + "?x=1", BASE + "/" + code + "#f"]
        number = C.format_number(C.encode_number(secrets.randbelow(1 << 16),
                                                 secrets.randbelow(1 << 24),
                                                 secrets.randbelow(1 << 24),
                                                 secrets.token_bytes(5)))
        rows += [number, number.lower(), number.replace("-", " "), number[:-1] + "U",
                 number[:-1] + ("0" if number[-1] != "0" else "1")]
    result = parse_same(rows, threads=2)
    check_against_reference(rows, result)


_HOSTILE = st.sampled_from(_hostile_chars() + ["0", "1", "O", "I", "L", "U", "u", "/", "?"])


@st.composite
def mutated_codes(draw):
    body = draw(st.binary(min_size=16, max_size=16))
    sig = draw(st.binary(min_size=64, max_size=64))
    text = C.encode_code(body, sig)
    if draw(st.booleans()):
        text = draw(st.sampled_from(["", "/", "a/", BASE + "/", "HTTPS://X.EXAMPLE/"])) + text
    if draw(st.booleans()):
        text = text.lower()
    for _ in range(draw(st.integers(0, 3))):
        op = draw(st.sampled_from(["sub", "ins", "del", "cut"]))
        pos = draw(st.integers(0, len(text)))
        if op == "sub" and pos < len(text):
            text = text[:pos] + draw(_HOSTILE) + text[pos + 1 :]
        elif op == "ins":
            text = text[:pos] + draw(_HOSTILE) + text[pos:]
        elif op == "del":
            text = text[:pos] + text[pos + 1 :]
        else:
            text = text[:pos]
    return text


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(mutated_codes(), min_size=1, max_size=20))
def test_mutated_codes_property(texts) -> None:
    result = parse_same(texts)
    check_against_reference(texts, result)
    result_b = parse_same([t.encode("utf-8") for t in texts])
    for a, b in zip(result, result_b, strict=True):
        np.testing.assert_array_equal(a, b)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(alphabet=st.sampled_from("0123456789abcdefghijklmnopqrstuvwxyz"
                                                 "ABCDEFGHIJKLMNOPQRSTUVWXYZ-/ ._?\x00\t"),
                        min_size=100, max_size=200), min_size=1, max_size=10))
def test_random_symbol_soup_property(texts) -> None:
    result = parse_same(texts)
    check_against_reference(texts, result)


# ---- no over-read --------------------------------------------------------------------------


def _guarded(nbytes: int):
    """A writable buffer of nbytes ending exactly at an inaccessible page (or None)."""
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(None, use_errno=True)
    page = mmap.PAGESIZE
    pages = (nbytes + page - 1) // page + 1
    buf = mmap.mmap(-1, pages * page, prot=mmap.PROT_READ | mmap.PROT_WRITE)
    base = ctypes.addressof(ctypes.c_char.from_buffer(buf))
    libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    if libc.mprotect(base + (pages - 1) * page, page, 0) != 0:
        return None
    return buf, (pages - 1) * page - nbytes


@pytest.mark.parametrize("width", [129, 130, 159, 160, 161, 192, 255])
def test_parse_never_reads_past_the_rows(level, width) -> None:
    """An "S" array whose last row ends at an unmapped page: an over-read would crash."""
    for n in (1, 3, 17):
        g = _guarded(n * width)
        if g is None:
            pytest.skip("needs Linux mprotect")
        buf, start = g
        arr = np.frombuffer(buf, dtype=f"S{width}", count=n, offset=start)
        rows = []
        for _ in range(n):
            body, sig, code = random_code()
            text = ("p" * (width - 130) + "/" + code) if width > 129 else code
            rows.append((body + sig, text.encode()))
        view = np.frombuffer(buf, dtype=np.uint8, count=n * width, offset=start)
        view[:] = np.frombuffer(b"".join(t for _, t in rows), dtype=np.uint8)
        kind, version, raw, _, _ = _core.parse_texts(arr)
        assert (kind == _core.K_CODE).all()
        assert [r.tobytes() for r in raw] == [w for w, _ in rows]
        del arr, view


def test_encode_never_reads_past_the_inputs(level) -> None:
    for n in (1, 2, 5):
        gb, gs = _guarded(n * 16), _guarded(n * 64)
        if gb is None or gs is None:
            pytest.skip("needs Linux mprotect")
        bodies = np.frombuffer(gb[0], dtype=np.uint8, count=n * 16, offset=gb[1]).reshape(n, 16)
        sigs = np.frombuffer(gs[0], dtype=np.uint8, count=n * 64, offset=gs[1]).reshape(n, 64)
        bodies[:] = np.arange(n * 16, dtype=np.uint8).reshape(n, 16)
        sigs[:] = np.arange(n * 64, dtype=np.uint8).reshape(n, 64)
        out = _core.encode_codes(bodies, sigs, 1)
        for i in range(n):
            assert out[i].decode() == C.encode_code(bodies[i].tobytes(), sigs[i].tobytes())
        del bodies, sigs


# ---- containers ----------------------------------------------------------------------------


class _Seq:
    """A sequence that is neither a list, a tuple nor an array."""

    def __init__(self, items):
        self.items = items

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        return self.items[i]


def test_every_container_gives_the_same_rows_and_keeps_references() -> None:
    _, _, code = random_code()
    number = C.format_number(C.encode_number(1, 2, 3, b"\x01\x02\x03\x04\x05"))
    items = [code, BASE + "/" + code, code.encode(), number, "", "x" * 300, None, 42,
             bytearray(b"x"), "\u00e9" + code, code.lower()] * 50
    probe = items[0]
    before = sys.getrefcount(probe)
    want = parse_same(np.array(items, dtype=object), threads=2)
    spaced = np.empty(2 * len(items), dtype=object)
    for i, x in enumerate(items):
        spaced[2 * i] = x
    for container in (items, tuple(items), _Seq(items), spaced[::2]):
        got = parse_same(container, threads=2)
        for a, b in zip(want, got, strict=True):
            np.testing.assert_array_equal(a, b)
    del container, spaced
    assert sys.getrefcount(probe) == before  # the list copy released its references
    strs = [x for x in items if isinstance(x, str)]
    check_against_reference(strs, parse_same(strs))


def test_url_prefix_marks_at_every_position() -> None:
    """Each character the vector prefix check looks for, at every position of prefixes whose
    length crosses the 32-byte blocks (the check reads the prefix 32 bytes at a time)."""
    _, _, code = random_code()
    rows = []
    for plen in (1, 2, 5, 6, 30, 31, 32, 33, 34, 63, 64, 65, 66, 95, 96, 97, 120, 125, 126):
        prefix = "h" * (plen - 1) + "/"
        for pos in range(plen):
            for mark in ("?", "#", "%", ";", "\x00", "\u00e9", "/", "/01/", "/gtin/", "/GtIn/",
                         "/01", "/gti", "//"):
                p = (prefix[:pos] + mark + prefix[pos:])
                rows.append(p + code)
                rows.append(p.encode("utf-8") + code.encode())
    result = parse_same(rows)
    check_against_reference([r if isinstance(r, str) else r.decode("utf-8") for r in rows],
                            result)


# ---- to_str_array ----------------------------------------------------------------------------


def _old_to_str_array(arr, prefix=""):
    out = np.empty(arr.shape[0], dtype=object)
    for i in range(arr.shape[0]):
        out[i] = prefix + arr[i].decode("ascii")
    return out


@pytest.mark.parametrize("prefix", ["", "https://xacthuc.example.vn/abc/", "\u00e9/"])
def test_to_str_array_matches_the_python_expression(prefix) -> None:
    rows = [b"", b"A", b"ABC\x00", b"A\x00B", b"\x00\x00", b"x" * 129, b"\x01\x7f", b" - "]
    arr = np.array(rows, dtype="S129")
    got = _core.to_str_array(arr, prefix)
    want = _old_to_str_array(arr, prefix)
    assert got.dtype == object and got.tolist() == want.tolist()
    assert all(type(x) is str for x in got)
    assert _core.to_str_array(arr[::2], prefix).tolist() == want[::2].tolist()
    assert _core.to_str_array(np.array([], dtype="S5"), prefix).shape == (0,)


def test_to_str_array_rejects_non_ascii_rows_as_before() -> None:
    arr = np.array([b"abc", b"\xc3\xa9"], dtype="S4")
    with pytest.raises(UnicodeDecodeError):
        _core.to_str_array(arr, "p/")
    with pytest.raises(TypeError):
        _core.to_str_array(np.array([b"abc"], dtype="S4"), b"bytes prefix")
