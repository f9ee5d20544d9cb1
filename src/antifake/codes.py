"""Stamp layout and its text forms: QR URL, bare code, GS1 Digital Link URL, stamp number, PIN.

Byte-by-byte description with test vectors: ``docs/format.md``. In short:

* **body** (16 bytes, big-endian): ``key_id u16 | batch_id u24 | index u24 | serial u64``.
* **signed message**: ``b"antifake.stamp" | version u8 | flags u8 | body`` (32 bytes), followed
  for GS1 stamps (flags = 1) by ``gtin (14 ASCII) | expiry YYMMDD (6 ASCII or 6 zero bytes) |
  len(lot) u8 | lot``. Ed25519 signs it.
* **code** (129 characters): the version as one Crockford base32 symbol, then
  ``base32(body | signature)`` (80 bytes = 128 symbols, no padding). ``base/CODE`` is the QR URL:
  a 30-character base leaves exactly 129 symbols in 160 characters.
* **GS1 URL**: ``base/01/{gtin}[/10/{lot}]/21/{serial: 13 symbols}?[17={YYMMDD}&]s={tail}`` where
  ``tail`` is the version symbol then ``base32(key_id | batch | index | signature)`` (72 bytes,
  116 symbols, 4 zero pad bits).
* **stamp number** (20 symbols, shown as 4 groups of 5): 95 bits ``version u2 | short key id u5
  | batch u24 | index u24 | tag u40`` then a Luhn mod 32 check symbol. The tag is keyed BLAKE3
  over ``b"N" | version | key_id u16 | batch u24 | index u24``.
* **PIN** (9 symbols, shown as 3 groups of 3): 40 bits of keyed BLAKE3 over
  ``b"P" | version | key_id u16 | batch u24 | index u24`` with a separate key, then a check symbol.

This module is the reference implementation in pure Python and the one statement of the layout:
``antifake._core`` runs the same layout over arrays (the native builders take the constants from
here) and is cross-checked against it in the tests. [`parse_many`][antifake.codes.parse_many]
decodes many texts at once into [`Columns`][antifake.codes.Columns];
[`signed_messages`][antifake.codes.signed_messages] and
[`tag_messages`][antifake.codes.tag_messages] are the bulk counterparts of
[`signed_message`][antifake.codes.signed_message] and [`tag_message`][antifake.codes.tag_message].
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import unquote

import numpy as np
import numpy.typing as npt

from antifake import _core
from antifake.errors import FormatError

__all__ = [
    "ALPHABET",
    "FORMAT_VERSION",
    "NUMBER_VERSION",
    "SIGN_CONTEXT",
    "CODE_LEN",
    "NUMBER_LEN",
    "PIN_LEN",
    "MAX_KEY_ID",
    "MAX_BATCH_ID",
    "MAX_INDEX",
    "GS1Attributes",
    "Parsed",
    "Columns",
    "parse_many",
    "signed_messages",
    "tag_messages",
    "pack_bodies",
    "b32encode",
    "b32decode",
    "check_symbol",
    "has_valid_check",
    "pack_body",
    "unpack_body",
    "signed_message",
    "encode_code",
    "encode_gs1_url",
    "tag_message",
    "pin_message",
    "encode_number",
    "format_number",
    "encode_pin",
    "format_pin",
    "normalize_symbols",
    "parse",
    "short_key_id",
]

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
FORMAT_VERSION = 1
NUMBER_VERSION = 1
SIGN_CONTEXT = b"antifake.stamp"
TAG_DOMAIN = b"N"  # first byte of a stamp number's tag message
PIN_DOMAIN = b"P"  # first byte of a PIN's message

CODE_LEN = 129  # version symbol + 128 symbols of body|signature
GS1_TAIL_LEN = 117  # version symbol + 116 symbols of key_id|batch|index|signature
SERIAL_LEN = 13  # 64-bit serial in 13 symbols (top pad bit zero)
NUMBER_LEN = 20  # 19 data symbols + check
PIN_LEN = 9  # 8 data symbols + check
TAG_BYTES = 5
PIN_BYTES = 5
MAX_KEY_ID = 0xFFFF
MAX_BATCH_ID = 0xFFFFFF
MAX_INDEX = 0xFFFFFF
MAX_INPUT = 4096  # longer inputs are rejected before any parsing work

_DECODE = {c: i for i, c in enumerate(ALPHABET)}
_DECODE.update({c.lower(): i for c, i in list(_DECODE.items())})
_DECODE.update({"I": 1, "i": 1, "L": 1, "l": 1, "O": 0, "o": 0})
_SEPARATORS = str.maketrans("", "", " -\t\r\n._")


def b32encode(data: bytes, nsym: int | None = None) -> str:
    """Crockford base32 of ``data`` read as one big-endian integer, in ``nsym`` symbols.

    With ``nsym`` None the minimum number of symbols for ``8*len(data)`` bits is used and the
    value is left-aligned (pad bits at the end are zero), like RFC 4648 without ``=``.
    """
    nbits = 8 * len(data)
    value = int.from_bytes(data, "big")
    if nsym is None:
        nsym = -(-nbits // 5)
        value <<= 5 * nsym - nbits
    elif value >> (5 * nsym):
        raise FormatError(f"{nbits}-bit value does not fit in {nsym} symbols")
    return "".join(ALPHABET[(value >> (5 * (nsym - 1 - i))) & 31] for i in range(nsym))


def b32decode(text: str, nbytes: int, *, left_aligned: bool = True) -> bytes:
    """Inverse of [`b32encode`][antifake.codes.b32encode]; non-zero pad bits are a
    [`FormatError`][antifake.errors.FormatError]."""
    value = 0
    for ch in text:
        v = _DECODE.get(ch)
        if v is None:
            raise FormatError(f"{ch!r} is not a base32 symbol")
        value = (value << 5) | v
    pad = 5 * len(text) - 8 * nbytes
    if pad < 0:
        raise FormatError("too few symbols")
    if left_aligned:
        if value & ((1 << pad) - 1):
            raise FormatError("non-zero padding bits")
        value >>= pad
    elif value >> (8 * nbytes):
        raise FormatError("value out of range")
    return value.to_bytes(nbytes, "big")


def _luhn_sum(values: list[int], start_factor: int) -> int:
    factor = start_factor
    total = 0
    for v in reversed(values):
        addend = factor * v
        total += addend // 32 + addend % 32
        factor = 3 - factor
    return total


def check_symbol(symbols: str) -> str:
    """Luhn mod 32 check symbol over Crockford symbols (detects every single substitution)."""
    values = [_DECODE[c] for c in symbols]
    return ALPHABET[(32 - _luhn_sum(values, 2) % 32) % 32]


def has_valid_check(symbols: str) -> bool:
    """True when the last symbol is the Luhn mod 32 check of the others."""
    values = [_DECODE[c] for c in symbols]
    return _luhn_sum(values, 1) % 32 == 0


def _check_ranges(key_id: int, batch_id: int, index: int) -> None:
    if not 0 <= key_id <= MAX_KEY_ID:
        raise FormatError(f"key_id {key_id} out of range 0..{MAX_KEY_ID}")
    if not 0 <= batch_id <= MAX_BATCH_ID:
        raise FormatError(f"batch_id {batch_id} out of range 0..{MAX_BATCH_ID}")
    if not 0 <= index <= MAX_INDEX:
        raise FormatError(f"index {index} out of range 0..{MAX_INDEX}")


def pack_body(key_id: int, batch_id: int, index: int, serial: int) -> bytes:
    """The 16-byte stamp body."""
    _check_ranges(key_id, batch_id, index)
    if not 0 <= serial < 1 << 64:
        raise FormatError("serial must be a 64-bit unsigned integer")
    return (
        key_id.to_bytes(2, "big")
        + batch_id.to_bytes(3, "big")
        + index.to_bytes(3, "big")
        + serial.to_bytes(8, "big")
    )


def unpack_body(body: bytes) -> tuple[int, int, int, int]:
    """(key_id, batch_id, index, serial) of a 16-byte body."""
    if len(body) != 16:
        raise FormatError("a stamp body is 16 bytes")
    return (
        int.from_bytes(body[0:2], "big"),
        int.from_bytes(body[2:5], "big"),
        int.from_bytes(body[5:8], "big"),
        int.from_bytes(body[8:16], "big"),
    )


@dataclass(frozen=True, slots=True, init=False)
class GS1Attributes:
    """GS1 product attributes carried (and signed) in a Digital Link stamp URL.

    `expiry` is a `datetime.date` (AI 17 day ``00``, "end of the month", reads as the month's
    last day); `expiry_ai17` keeps the exact ``YYMMDD`` text that is printed and signed. The
    constructor takes the expiry as a `datetime.date`, an ISO ``"YYYY-MM-DD"``/``"YYYY-MM"``
    string or the AI 17 text.
    """

    gtin: str  # 14 digits, check digit valid
    lot: str | None
    expiry_ai17: str | None

    def __init__(self, gtin: str, lot: str | None = None,
                 expiry: date | str | None = None) -> None:
        if expiry is not None and not (isinstance(expiry, str) and len(expiry) == 6
                                       and expiry.isascii() and expiry.isdigit()):
            from antifake.gs1 import expiry_to_ai17

            expiry = expiry_to_ai17(expiry)
        object.__setattr__(self, "gtin", gtin)
        object.__setattr__(self, "lot", lot)
        object.__setattr__(self, "expiry_ai17", expiry)

    @property
    def expiry(self) -> date | None:
        """The expiry date, or None."""
        if self.expiry_ai17 is None:
            return None
        from antifake.gs1 import ai17_to_date

        return ai17_to_date(self.expiry_ai17)

    def __repr__(self) -> str:
        return f"GS1Attributes(gtin={self.gtin!r}, lot={self.lot!r}, expiry={self.expiry!r})"

    def to_json(self) -> dict[str, str | None]:
        """A JSON-ready dict: ``gtin``, ``lot`` and ``expiry`` as ISO 8601 (``YYYY-MM-DD``)."""
        exp = self.expiry
        return {"gtin": self.gtin, "lot": self.lot,
                "expiry": exp.isoformat() if exp is not None else None}

    def signed_suffix(self) -> bytes:
        lot = (self.lot or "").encode("ascii")
        expiry = self.expiry_ai17.encode("ascii") if self.expiry_ai17 else bytes(6)
        return self.gtin.encode("ascii") + expiry + bytes([len(lot)]) + lot

    @classmethod
    def from_signed_suffix(cls, suffix: bytes) -> GS1Attributes:
        """Inverse of [`signed_suffix`][antifake.codes.GS1Attributes.signed_suffix]."""
        if len(suffix) < 21 or len(suffix) != 21 + suffix[20]:
            raise FormatError("a signed GS1 suffix is gtin | expiry | len(lot) | lot")
        lot = suffix[21:].decode("ascii")
        expiry = None if suffix[14:20] == bytes(6) else suffix[14:20].decode("ascii")
        return cls(suffix[:14].decode("ascii"), lot or None, expiry)


def signed_message(body: bytes, gs1: GS1Attributes | None = None) -> bytes:
    """What Ed25519 signs for a stamp: domain, version, flags, body (and GS1 attributes)."""
    flags = 1 if gs1 is not None else 0
    head = SIGN_CONTEXT + bytes([FORMAT_VERSION, flags]) + body
    return head + gs1.signed_suffix() if gs1 is not None else head


def encode_code(body: bytes, signature: bytes) -> str:
    """The 129-symbol code of a plain stamp."""
    if len(body) != 16 or len(signature) != 64:
        raise FormatError("body is 16 bytes and signature 64 bytes")
    return ALPHABET[FORMAT_VERSION] + b32encode(body + signature)


def encode_gs1_url(base: str, body: bytes, signature: bytes, gs1: GS1Attributes) -> str:
    """The Digital Link form of a GS1 stamp URL."""
    from antifake.gs1 import build_digital_link

    serial = int.from_bytes(body[8:16], "big")
    tail = ALPHABET[FORMAT_VERSION] + b32encode(body[0:8] + signature)
    serial_text = b32encode(serial.to_bytes(8, "big"), SERIAL_LEN)
    return build_digital_link(
        base, gs1.gtin, lot=gs1.lot, serial=serial_text, expiry=gs1.expiry_ai17, extra={"s": tail}
    )


def short_key_id(key_id: int) -> int:
    """The 5-bit key id carried in stamp numbers."""
    return key_id & 31


def tag_message(key_id: int, batch_id: int, index: int) -> bytes:
    """The 10 bytes that the stamp-number tag authenticates."""
    return TAG_DOMAIN + bytes([NUMBER_VERSION]) + pack_body(key_id, batch_id, index, 0)[:8]


def pin_message(key_id: int, batch_id: int, index: int) -> bytes:
    """The 10 bytes from which a stamp's PIN is derived."""
    return PIN_DOMAIN + bytes([NUMBER_VERSION]) + pack_body(key_id, batch_id, index, 0)[:8]


def encode_number(key_id: int, batch_id: int, index: int, tag: bytes) -> str:
    """The 20-symbol stamp number (no separators)."""
    _check_ranges(key_id, batch_id, index)
    if len(tag) != TAG_BYTES:
        raise FormatError("a number tag is 5 bytes")
    value = (
        (NUMBER_VERSION << 93)
        | (short_key_id(key_id) << 88)
        | (batch_id << 64)
        | (index << 40)
        | int.from_bytes(tag, "big")
    )
    data = "".join(ALPHABET[(value >> (5 * (18 - i))) & 31] for i in range(19))
    return data + check_symbol(data)


def format_number(number: str) -> str:
    """Groups of five symbols joined by dashes (23 characters)."""
    return "-".join(number[i : i + 5] for i in range(0, len(number), 5))


def encode_pin(pin_bytes: bytes) -> str:
    """The 9-symbol PIN (no separators) from 5 derived bytes."""
    if len(pin_bytes) != PIN_BYTES:
        raise FormatError("a PIN carries 5 bytes")
    data = b32encode(pin_bytes)
    return data + check_symbol(data)


def format_pin(pin: str) -> str:
    """Groups of three symbols joined by dashes (11 characters)."""
    return "-".join(pin[i : i + 3] for i in range(0, len(pin), 3))


def normalize_symbols(text: str) -> str:
    """Drop separators people and scanners add; fold case and Crockford's I/L/O aliases.

    Raises [`FormatError`][antifake.errors.FormatError] for a character that is not a Crockford
    symbol.
    """
    out = []
    for ch in text.translate(_SEPARATORS):
        v = _DECODE.get(ch)
        if v is None:
            raise FormatError(f"{ch!r} is not a stamp symbol")
        out.append(ALPHABET[v])
    return "".join(out)


@dataclass(frozen=True, slots=True)
class Parsed:
    """What a text form carries, before any key is consulted.

    ``kind`` is ``"code"`` (QR URL or bare code), ``"gs1"`` (Digital Link URL) or
    ``"number"`` (stamp number). For numbers ``serial`` and ``signature`` are None, ``key_id``
    holds the 5-bit short key id and ``tag`` the 5-byte tag.
    """

    kind: str
    version: int
    key_id: int
    batch_id: int
    index: int
    serial: int | None = None
    signature: bytes | None = None
    tag: bytes | None = None
    gs1: GS1Attributes | None = None

    @property
    def body(self) -> bytes:
        return pack_body(self.key_id, self.batch_id, self.index, self.serial or 0)


class ParseFailure(FormatError):
    """A text is not a stamp; ``status`` names the verdict (MALFORMED or BAD_CHECK_CHARACTER)."""

    def __init__(self, status: str, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


_URL_RE = re.compile(r"^(?:[a-z][a-z0-9+.-]*://)?[^/?#]*(/[^?#]*)?(\?[^#]*)?(#.*)?$", re.I)


def _to_text(data: str | bytes | bytearray | memoryview) -> str:
    if isinstance(data, str):
        text = data
    elif isinstance(data, bytes | bytearray | memoryview):
        if len(data) > MAX_INPUT:
            raise ParseFailure("MALFORMED", f"input of {len(data)} bytes is too long")
        try:
            text = bytes(data).decode("utf-8")
        except UnicodeDecodeError:
            raise ParseFailure("MALFORMED", "input is not UTF-8 text") from None
    else:
        raise ParseFailure("MALFORMED", f"expected str or bytes, got {type(data).__name__}")
    if len(text) > MAX_INPUT:
        raise ParseFailure("MALFORMED", f"input of {len(text)} characters is too long")
    if "\x00" in text:
        raise ParseFailure("MALFORMED", "input contains a NUL character")
    return text.strip()


def _decode_code(symbols: str) -> Parsed:
    version = _DECODE[symbols[0]]
    if version != FORMAT_VERSION:
        raise ParseFailure("MALFORMED", f"unknown stamp format version {version}")
    raw = b32decode(symbols[1:], 80)
    key_id, batch_id, index, serial = unpack_body(raw[:16])
    return Parsed("code", version, key_id, batch_id, index, serial, raw[16:])


def _decode_number(symbols: str) -> Parsed:
    if not has_valid_check(symbols):
        raise ParseFailure(
            "BAD_CHECK_CHARACTER", "the check character does not match: a typo in the number?"
        )
    value = 0
    for ch in symbols[:19]:
        value = (value << 5) | _DECODE[ch]
    version = value >> 93
    if version != NUMBER_VERSION:
        raise ParseFailure("MALFORMED", f"unknown stamp number version {version}")
    return Parsed(
        "number",
        version,
        (value >> 88) & 31,
        (value >> 64) & MAX_BATCH_ID,
        (value >> 40) & MAX_INDEX,
        tag=(value & ((1 << 40) - 1)).to_bytes(5, "big"),
    )


def _parse_gs1(text: str) -> Parsed:
    from antifake.gs1 import parse_digital_link

    # the base URL is the resolver's and is not signed: judge only the Digital Link path
    start = text.find("/01/")
    gtin_at = text.lower().find("/gtin/")
    if gtin_at >= 0 and (start < 0 or gtin_at < start):
        start = gtin_at
    if start >= 0:
        path = text[start:].partition("?")[0].partition("#")[0]
        segs = [x for x in path.split("/") if x]
        # the path is (AI, value) pairs from the first "/01/": a second primary key (a decoy
        # "/01/<gtin>/10/<lot>/" before the genuine path) would be shown but not signed
        if any(unquote(a).lower() in ("01", "gtin") for a in segs[2::2]):
            raise ParseFailure("MALFORMED", "the GS1 stamp URL names a GTIN (AI 01) twice")
    if "?" in text and "#" not in text:
        text = text.rstrip("&")  # an empty trailing parameter ("...&s=...&", "&&") is nothing
    link = parse_digital_link("https://resolver.invalid" + text[start:] if start >= 0 else text)
    query = text.partition("?")[2].partition("#")[0]
    if sum(1 for part in re.split("[&;]", query) if unquote(part.split("=", 1)[0]) in "sS") > 1:
        raise ParseFailure("MALFORMED", "the GS1 stamp URL carries more than one s= code")
    tail = link.query.get("s", link.query.get("S"))
    if tail is None or link.serial is None:
        raise ParseFailure("MALFORMED", "a GS1 stamp URL needs a serial (AI 21) and an s= code")
    try:
        tail = normalize_symbols(tail)
        serial_sym = normalize_symbols(link.serial)
    except FormatError as exc:
        raise ParseFailure("MALFORMED", str(exc)) from None
    if len(tail) != GS1_TAIL_LEN or len(serial_sym) != SERIAL_LEN:
        raise ParseFailure("MALFORMED", "the GS1 stamp URL's serial or s= code has a wrong length")
    version = _DECODE[tail[0]]
    if version != FORMAT_VERSION:
        raise ParseFailure("MALFORMED", f"unknown stamp format version {version}")
    try:
        raw = b32decode(tail[1:], 72)
        serial = int.from_bytes(b32decode(serial_sym, 8, left_aligned=False), "big")
    except FormatError as exc:
        raise ParseFailure("MALFORMED", str(exc)) from None
    key_id, batch_id, index, _ = unpack_body(raw[:8] + bytes(8))
    if link.gtin is None:
        raise ParseFailure("MALFORMED", "a GS1 stamp URL needs a GTIN (AI 01)")
    gs1 = GS1Attributes(link.gtin, link.lot, link.expiry)
    return Parsed("gs1", version, key_id, batch_id, index, serial, raw[8:], gs1=gs1)


def parse(data: str | bytes | bytearray | memoryview) -> Parsed:
    """Parse any text form of a stamp: QR URL (with or without scheme), bare code, GS1 Digital
    Link URL, or stamp number. Raises `ParseFailure` with a status and a reason."""
    text = _to_text(data)
    if not text:
        raise ParseFailure("MALFORMED", "empty input")
    if "/" in text:
        m = _URL_RE.match(text)
        if m is None:
            raise ParseFailure("MALFORMED", "not a URL")
        path = unquote(m.group(1) or "")
        segments = [s for s in path.split("/") if s]
        if "01" in segments[:-1] or "gtin" in [s.lower() for s in segments[:-1]]:
            try:
                return _parse_gs1(text)
            except ParseFailure:
                raise
            except FormatError as exc:
                raise ParseFailure("MALFORMED", f"bad GS1 Digital Link: {exc}") from None
        if not segments:
            raise ParseFailure("MALFORMED", "the URL carries no stamp code")
        text = segments[-1]
    try:
        symbols = normalize_symbols(text)
    except FormatError as exc:
        raise ParseFailure("MALFORMED", str(exc)) from None
    if len(symbols) == CODE_LEN:
        try:
            return _decode_code(symbols)
        except ParseFailure:
            raise
        except FormatError as exc:
            raise ParseFailure("MALFORMED", str(exc)) from None
    if len(symbols) == NUMBER_LEN:
        return _decode_number(symbols)
    raise ParseFailure(
        "MALFORMED",
        f"{len(symbols)} symbols: a stamp code has {CODE_LEN} and a stamp number {NUMBER_LEN}",
    )


# ---------------------------------------------------------------------------------------
# many texts at once: the same layout, decoded natively into columns
# ---------------------------------------------------------------------------------------
FORM_SLOW = _core.K_SLOW  # needs `parse` (odd shapes, non-ASCII, long, unusual GS1 layouts)
FORM_CODE = _core.K_CODE  # QR URL or bare code
FORM_NUMBER = _core.K_NUMBER
FORM_MALFORMED = _core.K_MALFORMED
FORM_BAD_CHECK = _core.K_BADCHECK
FORM_GS1 = _core.K_GS1  # GS1 Digital Link URL


@dataclass(frozen=True)
class Columns:
    """What many texts carry, one row per text (the bulk counterpart of
    [`Parsed`][antifake.codes.Parsed]).

    ``form`` holds a ``FORM_*`` value. For codes and GS1 URLs ``key_id`` is the full key id,
    for numbers the 5-bit short id (and ``tag`` the 5-byte tag); rows of other forms hold -1
    in ``key_id``, ``batch_id`` and ``index``. ``gs1`` holds the signed GS1 suffix
    ([`GS1Attributes.signed_suffix`][antifake.codes.GS1Attributes.signed_suffix]) in its first
    ``gs1_len`` bytes (0 for plain codes). Rows of form ``FORM_SLOW`` need
    [`parse`][antifake.codes.parse].
    """

    form: npt.NDArray[np.uint8]
    version: npt.NDArray[np.uint8]
    key_id: npt.NDArray[np.int32]
    batch_id: npt.NDArray[np.int64]
    index: npt.NDArray[np.int64]
    serial: npt.NDArray[np.uint64]
    signature: npt.NDArray[np.uint8]
    tag: npt.NDArray[np.uint8]
    gs1: npt.NDArray[np.uint8]
    gs1_len: npt.NDArray[np.uint8]

    def __len__(self) -> int:
        return int(self.form.shape[0])

    def take(self, rows: npt.NDArray[np.intp]) -> Columns:
        """The given rows (a copy)."""
        return Columns(self.form[rows], self.version[rows], self.key_id[rows],
                       self.batch_id[rows], self.index[rows], self.serial[rows],
                       self.signature[rows], self.tag[rows], self.gs1[rows], self.gs1_len[rows])

    def attributes(self, i: int) -> GS1Attributes | None:
        """Row ``i``'s GS1 attributes (None for a plain code)."""
        n = int(self.gs1_len[i])
        return GS1Attributes.from_signed_suffix(self.gs1[i, :n].tobytes()) if n else None

    def parsed(self, i: int) -> Parsed:
        """Row ``i`` of a code or GS1 URL as a [`Parsed`][antifake.codes.Parsed]."""
        gs1 = self.attributes(i)
        return Parsed("gs1" if gs1 is not None else "code", int(self.version[i]),
                      int(self.key_id[i]), int(self.batch_id[i]), int(self.index[i]),
                      int(self.serial[i]), self.signature[i].tobytes(), gs1=gs1)


def parse_many(texts: Sequence[Any] | npt.NDArray[Any], threads: int | None = None) -> Columns:
    """Classify and decode many texts natively (GIL released, no Python object per row).

    Same forms and fields as [`parse`][antifake.codes.parse] for every row it decodes; rows it
    leaves as ``FORM_SLOW`` need the single-text parser.
    """
    return Columns(*_core.parse_columns(texts, threads))


def signed_messages(cols: Columns) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.int32]]:
    """The messages Ed25519 signs for code and GS1 rows, built natively as
    [`signed_message`][antifake.codes.signed_message] builds one: ``(msgs, lengths)``, row
    ``i`` being ``msgs[i, :lengths[i]]``."""
    return _core.signed_messages(SIGN_CONTEXT, FORMAT_VERSION, cols.key_id, cols.batch_id,
                                 cols.index, cols.serial, cols.gs1, cols.gs1_len)


def pack_bodies(cols: Columns) -> npt.NDArray[np.uint8]:
    """(n, 16) stamp bodies of code and GS1 rows, as [`pack_body`][antifake.codes.pack_body]."""
    return _core.pack_bodies(cols.key_id, cols.batch_id, cols.index, cols.serial)


def tag_messages(key_id: npt.NDArray[np.int32], batch_id: npt.NDArray[np.int64],
                 index: npt.NDArray[np.int64], domain: bytes = TAG_DOMAIN
                 ) -> npt.NDArray[np.uint8]:
    """(n, 10) messages as [`tag_message`][antifake.codes.tag_message] (or, with
    ``domain=PIN_DOMAIN``, [`pin_message`][antifake.codes.pin_message]) builds one, natively."""
    return _core.tag_messages(domain[0], NUMBER_VERSION, np.ascontiguousarray(key_id, np.int32),
                              np.ascontiguousarray(batch_id, np.int64),
                              np.ascontiguousarray(index, np.int64))
