"""Character sets, limits and text helpers shared by the GS1 parsers."""

from __future__ import annotations

import re
from urllib.parse import quote, unquote_to_bytes

from antifake.errors import GS1Error

#: Host of canonical GS1 Digital Link URIs (EPCIS 2.0, CBV 2.0 event hash).
CANONICAL_BASE = "https://id.gs1.org"
#: Longest URI, EPC URI or element string the parsers accept, in characters.
MAX_URI_LENGTH = 2048

# --------------------------------------------------------------------------- character sets

_CSET82_CHARS = (
    "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"
)
_NOT_CSET82 = re.compile(r"[^!\"%&'()*+,\-./0-9:;<=>?A-Z_a-z]")
_NOT_CSET39 = re.compile(r"[^#\-/0-9A-Z]")
_NOT_DIGIT = re.compile(r"[^0-9]")
_DIGITS = re.compile(r"[0-9]+")
# C0/C1 controls, DEL and any Unicode whitespace: never part of an identifier or a URI.
_CONTROL_OR_SPACE = re.compile(r"[\s\x00-\x1f\x7f-\x9f]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_BAD_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
_HRI_AI = re.compile(r"\(([0-9]{2,4})\)")

assert len(_CSET82_CHARS) == 82


def _show(s: str, limit: int = 48) -> str:
    """repr() of ``s``, shortened so error messages stay readable for huge inputs."""
    return repr(s) if len(s) <= limit else repr(s[:limit]) + "..."


def _is_digits(s: str) -> bool:
    return _DIGITS.fullmatch(s) is not None


def _check_digits(value: str, what: str, lo: int, hi: int) -> None:
    if not lo <= len(value) <= hi:
        want = f"{lo}" if lo == hi else f"{lo} to {hi}"
        raise GS1Error(f"{what} must have {want} digits, got {len(value)}")
    m = _NOT_DIGIT.search(value)
    if m:
        raise GS1Error(
            f"{what} must contain only digits 0-9: found {m.group()!r} at position {m.start() + 1}"
        )


def _check_cset(value: str, what: str, lo: int, hi: int, cset: str = "82") -> None:
    """Raise unless ``value`` has ``lo``..``hi`` characters of GS1 CSET 82 (or CSET 39)."""
    if not lo <= len(value) <= hi:
        want = f"{lo}" if lo == hi else f"{lo} to {hi}"
        raise GS1Error(f"{what} must have {want} characters, got {len(value)}")
    m = (_NOT_CSET82 if cset == "82" else _NOT_CSET39).search(value)
    if m:
        c = m.group()
        kind = "a non-ASCII character" if ord(c) > 0x7F else "a character"
        raise GS1Error(
            f"{what} contains {kind} {c!r} at position {m.start() + 1}, outside the GS1 AI "
            f"encodable character set {cset}"
        )


# --------------------------------------------------------------------------- text helpers


def _coerce_text(value: object, what: str) -> str:
    """str/bytes -> str, refusing huge, NUL-bearing, undecodable or surrogate-bearing input."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        raw = bytes(value)
        if len(raw) > 4 * MAX_URI_LENGTH:
            raise GS1Error(f"{what} is {len(raw)} bytes long; the limit is {MAX_URI_LENGTH}")
        try:
            s = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise GS1Error(f"{what} is not valid ASCII or UTF-8: {exc.reason}") from None
    elif isinstance(value, str):
        s = value
    else:
        raise GS1Error(f"{what} must be str or bytes, not {type(value).__name__}")
    if len(s) > MAX_URI_LENGTH:
        raise GS1Error(f"{what} is {len(s)} characters long; the limit is {MAX_URI_LENGTH}")
    if "\x00" in s:
        raise GS1Error(f"{what} contains a NUL character")
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        raise GS1Error(f"{what} contains a lone surrogate (not valid Unicode text)") from None
    s = s.strip().strip("\ufeff").strip()
    if not s:
        raise GS1Error(f"{what} is empty")
    m = _CONTROL_OR_SPACE.search(s)
    if m:
        raise GS1Error(
            f"{what} contains a control or space character {m.group()!r} at position "
            f"{m.start() + 1}"
        )
    return s


def _check_text(s: object, what: str) -> str:
    """A free-text query key or value: str, valid Unicode, no controls."""
    if not isinstance(s, str):
        raise GS1Error(f"{what} must be a str, not {type(s).__name__}")
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        raise GS1Error(f"{what} contains a lone surrogate (not valid Unicode text)") from None
    m = _CONTROL.search(s)
    if m:
        raise GS1Error(f"{what} contains a control character {m.group()!r}")
    return s


def _pct_decode(s: str, what: str) -> str:
    """Decode RFC 3986 percent-escapes (either case) as UTF-8; reject malformed ones."""
    if "%" not in s:
        return s
    m = _BAD_PERCENT.search(s)
    if m:
        raise GS1Error(f"bad percent-escape {s[m.start() : m.start() + 3]!r} in {what}")
    try:
        return unquote_to_bytes(s).decode("utf-8")
    except UnicodeDecodeError:
        raise GS1Error(f"percent-escapes in {what} do not decode as UTF-8") from None


def _dl_encode(s: str) -> str:
    """Digital Link percent-encoding: everything outside the RFC 3986 unreserved set."""
    return quote(s, safe="")


def _epc_encode(s: str) -> str:
    """Canonical-EPC percent-encoding, as the CBV 2.0 event-hash reference does it.

    Same as `_dl_encode` except that ``'``, ``;`` and ``=`` (RFC 3986 sub-delimiters,
    legal in a path segment) stay literal.
    """
    return quote(s, safe="';=")
