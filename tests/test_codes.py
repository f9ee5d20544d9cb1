"""Text forms: base32, check symbols, numbers, PINs, parsing tolerance; native vs reference."""

from __future__ import annotations

import secrets

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from antifake import _core
from antifake import codes as C
from antifake.errors import FormatError


@given(st.binary(min_size=0, max_size=96))
def test_b32_round_trip(data: bytes) -> None:
    text = C.b32encode(data)
    assert len(text) == -(-8 * len(data) // 5)
    assert set(text) <= set(C.ALPHABET)
    assert C.b32decode(text, len(data)) == data
    assert C.b32decode(text.lower(), len(data)) == data


def test_b32_rejects_nonzero_padding_and_bad_symbols() -> None:
    assert C.b32decode("00", 1) == b"\x00"
    with pytest.raises(FormatError):
        C.b32decode("01", 1)  # 10 bits for 8: the 2 pad bits must be zero
    with pytest.raises(FormatError):
        C.b32decode("U0", 1)  # U is not a Crockford symbol


def test_crockford_aliases_fold() -> None:
    assert C.normalize_symbols("iLo-O 1") == "11001"
    with pytest.raises(FormatError):
        C.normalize_symbols("ABU")


@given(st.text(alphabet=C.ALPHABET, min_size=1, max_size=30))
def test_luhn_mod32_detects_every_single_substitution(data: str) -> None:
    full = data + C.check_symbol(data)
    assert C.has_valid_check(full)
    for pos in range(len(full)):
        for sym in C.ALPHABET:
            if sym != full[pos]:
                assert not C.has_valid_check(full[:pos] + sym + full[pos + 1:])


def test_luhn_detects_most_adjacent_transpositions() -> None:
    # Luhn mod N misses only the transposition of the two symbols whose values sum to N-1
    data = "0123456789ABCDEFGHJKMNPQRS"
    full = data + C.check_symbol(data)
    missed = 0
    for i in range(len(full) - 1):
        if full[i] != full[i + 1]:
            swapped = full[:i] + full[i + 1] + full[i] + full[i + 2:]
            missed += C.has_valid_check(swapped)
    assert missed <= 1


@given(st.integers(0, C.MAX_KEY_ID), st.integers(0, C.MAX_BATCH_ID), st.integers(0, C.MAX_INDEX),
       st.binary(min_size=5, max_size=5))
def test_number_round_trip(key_id: int, batch_id: int, index: int, tag: bytes) -> None:
    number = C.encode_number(key_id, batch_id, index, tag)
    assert len(number) == C.NUMBER_LEN
    shown = C.format_number(number)
    assert len(shown) <= 24 and shown.count("-") == 3
    p = C.parse(shown)
    assert (p.kind, p.key_id, p.batch_id, p.index, p.tag) == (
        "number", key_id & 31, batch_id, index, tag)
    assert C.parse(shown.lower().replace("-", " ")) == p


@given(st.integers(0, C.MAX_KEY_ID), st.integers(0, C.MAX_BATCH_ID), st.integers(0, C.MAX_INDEX),
       st.integers(0, (1 << 64) - 1), st.binary(min_size=64, max_size=64))
def test_code_round_trip(key_id: int, batch_id: int, index: int, serial: int, sig: bytes) -> None:
    body = C.pack_body(key_id, batch_id, index, serial)
    code = C.encode_code(body, sig)
    assert len(code) == C.CODE_LEN
    for text in (code, code.lower(), f"https://x.example/{code}", f"x.example/{code}",
                 f"  HTTPS://X.EXAMPLE/{code}\n"):
        p = C.parse(text)
        assert (p.kind, p.key_id, p.batch_id, p.index, p.serial, p.signature) == (
            "code", key_id, batch_id, index, serial, sig)


def test_url_fits_sizes_and_qr_alphanumeric() -> None:
    body = C.pack_body(0xFFFF, C.MAX_BATCH_ID, C.MAX_INDEX, (1 << 64) - 1)
    url = "https://xacthuc.example.vn/abc/" + C.encode_code(body, b"\xff" * 64)
    assert len(url) == 160
    qr_alnum = set("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:")
    assert set(url.upper()) <= qr_alnum


def test_native_encoders_match_reference() -> None:
    n = 300
    serials = np.frombuffer(secrets.token_bytes(8 * n), dtype=np.uint64)
    sigs = np.frombuffer(secrets.token_bytes(64 * n), dtype=np.uint8).reshape(n, 64)
    bodies = _core.make_bodies(0x4F2A, 77, 1000, serials)
    codes = _core.encode_codes(bodies, sigs, C.FORMAT_VERSION, threads=2)
    tags = np.frombuffer(secrets.token_bytes(5 * n), dtype=np.uint8).reshape(n, 5)
    numbers = _core.encode_numbers(C.NUMBER_VERSION, 0x4F2A, 77, 1000, tags, True, threads=2)
    pins = _core.encode_pins(tags, True, threads=2)
    for i in range(n):
        body = C.pack_body(0x4F2A, 77, 1000 + i, int(serials[i]))
        assert bodies[i].tobytes() == body
        assert codes[i].decode() == C.encode_code(body, sigs[i].tobytes())
        assert numbers[i].decode() == C.format_number(
            C.encode_number(0x4F2A, 77, 1000 + i, tags[i].tobytes()))
        assert pins[i].decode() == C.format_pin(C.encode_pin(tags[i].tobytes()))


def test_native_parser_matches_reference() -> None:
    n = 200
    rows = []
    for _ in range(n):
        body = C.pack_body(secrets.randbelow(1 << 16), secrets.randbelow(1 << 24),
                           secrets.randbelow(1 << 24), secrets.randbelow(1 << 64))
        rows.append(C.encode_code(body, secrets.token_bytes(64)))
        rows.append(C.format_number(C.encode_number(secrets.randbelow(1 << 16),
                                                    secrets.randbelow(1 << 24),
                                                    secrets.randbelow(1 << 24),
                                                    secrets.token_bytes(5))))
    kind, version, raw, _, _ = _core.parse_texts(rows, threads=2)
    for i, text in enumerate(rows):
        p = C.parse(text)
        if p.kind == "code":
            assert kind[i] == _core.K_CODE
            assert raw[i].tobytes() == p.body + p.signature
        else:
            assert kind[i] == _core.K_NUMBER
            assert version[i] == p.version


def test_native_parser_rejects_garbage_rows() -> None:
    texts = ["", "   ", "x" * 300, "abc\x00def", "ÄÖÜ", "/", "12345", "U" * 129, 42, None]
    kind = _core.parse_texts(texts)[0]
    assert kind[0] == _core.K_MALFORMED and kind[1] == _core.K_MALFORMED
    assert kind[3] == _core.K_MALFORMED and kind[7] == _core.K_MALFORMED
    assert kind[6] == _core.K_MALFORMED
    # too long, non-ASCII, odd URL, non-text: left to the exact Python path
    assert kind[2] == kind[4] == kind[5] == kind[8] == kind[9] == _core.K_SLOW


def test_kernel_border_checks() -> None:
    with pytest.raises(ValueError):
        _core.make_bodies(1 << 16, 0, 0, np.zeros(1, dtype=np.uint64))
    with pytest.raises(ValueError):
        _core.make_bodies(1, 0, (1 << 24) - 1, np.zeros(2, dtype=np.uint64))
    with pytest.raises(ValueError):
        _core.encode_codes(np.zeros((2, 15), np.uint8), np.zeros((2, 64), np.uint8), 1)
    with pytest.raises(ValueError):
        _core.keyed_tags(b"short", np.zeros((1, 10), np.uint8), 5)
    with pytest.raises(ValueError):
        _core.ed25519_sign_many(b"x" * 63, b"", np.zeros((1, 16), np.uint8))
    with pytest.raises(ValueError):
        _core.ed25519_verify_many(np.zeros((1, 32), np.uint8), np.array([5], np.int32),
                                  np.zeros((1, 32), np.uint8), np.array([32], np.int32),
                                  np.zeros((1, 64), np.uint8))


def test_native_gs1_parser_matches_reference() -> None:
    rows, want = [], []
    for lot, exp in [("L23", "271231"), (None, "260100"), ("A-1_b.c", None), (None, None),
                     ("Z" * 20, "991231")]:
        gs1 = C.GS1Attributes("09521234543213", lot, exp)
        body = C.pack_body(secrets.randbelow(1 << 16), secrets.randbelow(1 << 24),
                           secrets.randbelow(1 << 24), secrets.randbelow(1 << 64))
        sig = secrets.token_bytes(64)
        url = C.encode_gs1_url("https://x.example/s", body, sig, gs1)
        rows += [url, url.replace("https://", "").upper().replace("L23", "L23")]
        want += [(body + sig, gs1.signed_suffix())] * 2
        if exp:  # parameters in the other order
            head, _, query = url.partition("?")
            a, b = query.split("&")
            rows.append(f"{head}?{b}&{a}")
            want.append((body + sig, gs1.signed_suffix()))
    kind, version, raw, suffix, suffix_len = _core.parse_texts(rows)
    for i, (text, (rawwant, sxwant)) in enumerate(zip(rows, want)):
        p = C.parse(text)
        assert p.kind == "gs1"
        assert kind[i] == _core.K_GS1, text
        assert version[i] == C.FORMAT_VERSION
        assert raw[i].tobytes() == rawwant
        if text.isupper():  # upper-casing changes a lower-case lot: still parsed, not equal
            continue
        assert suffix[i, : suffix_len[i]].tobytes() == sxwant


def test_native_gs1_parser_defers_odd_layouts() -> None:
    gs1 = C.GS1Attributes("09521234543213", "L1", "271231")
    body = C.pack_body(1, 2, 3, 4)
    url = C.encode_gs1_url("https://x.example", body, b"\x01" * 64, gs1)
    odd = [url + "&x=1", url.replace("/10/L1", "/10/L%31"), url + "#frag",
           url.replace("09521234543213", "09521234543214"), url.replace("&", ";"),
           url.replace("?17=271231&", "?17=271231&17=271231&"), url.replace("/21/", "/21//"),
           url.replace("s=1", "s=U")]
    kind = _core.parse_texts(odd)[0]
    assert (kind == _core.K_SLOW).all()


def test_parse_texts_accepts_every_container() -> None:
    body = C.pack_body(1, 2, 3, 4)
    code = C.encode_code(body, bytes(64))
    for container in ([code], (code,), np.array([code], dtype=object),
                      np.array([code.encode()], dtype="S"), [code.encode()], [bytearray(b"x")]):
        kind, _, raw, _, _ = _core.parse_texts(container)
        if isinstance(container, list) and isinstance(container[0], bytearray):
            assert kind[0] == _core.K_SLOW
        else:
            assert kind[0] == _core.K_CODE and raw[0, :16].tobytes() == body
    wide = np.array([code.encode() + b"\x00" * 10, b"x" * 300], dtype="S310")
    kind = _core.parse_texts(wide)[0]
    assert kind.tolist() == [_core.K_CODE, _core.K_SLOW]
