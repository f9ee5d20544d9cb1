"""GS1 identifiers: GTIN check digits, Digital Link URIs, element strings and EPC URIs.

This module is the bridge between antifake stamps and the GS1 system. It is plain Python (it is
off the hot path) and every parser in it accepts any ``str`` (most also ``bytes``) and either
returns a result or raises [`GS1Error`][antifake.errors.GS1Error] with a reason: never another
exception, whatever the input.

Standards implemented (section numbers as in the current issues):

* **GS1 General Specifications** -- section 3 (definitions of Application Identifiers 00, 01,
  10, 17, 21 and the other AIs listed in ``_AI_SPEC``), section 7.9 (the standard mod-10 check
  digit: weights 3 and 1 alternating from the right), section 7.11 (AI encodable character set
  82, "CSET 82", and character set 39 used by AI 8010), section 7.12 (determination of the
  century of a two-digit year, and day ``00`` meaning the last day of the month).
* **GS1 Digital Link URI Syntax 1.x** -- path ``/{primary key}/{value}`` followed by the key
  qualifiers in their fixed order (``/01/{gtin}[/22/{cpv}][/10/{lot}][/21/{serial}]``), data
  attributes in the query string, the 1.x short names (``gtin``, ``lot``, ``ser``, ``exp``, ...),
  ``&`` or ``;`` as query separators, and percent-encoding of every character outside the RFC
  3986 unreserved set in AI values.
* **EPC Tag Data Standard (TDS) 2.x** -- EPC pure identity URIs (``urn:epc:id:sgtin:...`` and the
  other GS1-key schemes), the EPC class URI ``urn:epc:class:lgtin``, their percent-escapes
  (``" % & / < > ?`` and, for CPI, ``#``), and their correspondence with GS1 keys.
* **EPCIS 2.0 / CBV 2.0** -- the canonical GS1 Digital Link form of an EPC
  (``https://id.gs1.org/...``, finest identification level only, no query string) used in
  EPCIS 2.0 documents and as input to the CBV 2.0 event hash.
  [`canonical_gs1_uri`][antifake.gs1.canonical.canonical_gs1_uri] (`antifake.gs1.canonical`) is
  the canonicaliser the event hash and the registry use: lenient, as GS1's reference is.
  [`epc_to_digital_link`][antifake.gs1.epc_to_digital_link] validates strictly (with an error
  naming the fault) and gives the same URI, including the reference's percent-encoding, which
  leaves the RFC 3986 sub-delimiters ``'``, ``;`` and ``=`` literal.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from urllib.parse import quote, unquote_to_bytes

from antifake.errors import GS1Error
from antifake.gs1.canonical import canonical_gs1_uri, check_digit

__all__ = [
    "CANONICAL_BASE",
    "MAX_URI_LENGTH",
    "DigitalLink",
    "gtin_check_digit",
    "validate_gtin",
    "validate_lot",
    "validate_serial",
    "expiry_to_ai17",
    "ai17_to_date",
    "build_digital_link",
    "parse_digital_link",
    "sgtin_digital_link",
    "sgtin_urn",
    "parse_sgtin_urn",
    "canonical_gs1_uri",
    "epc_to_digital_link",
    "gln_key",
    "is_epc_uri",
    "element_string",
    "parse_element_string",
]

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


# --------------------------------------------------------------------------- GTIN


def gtin_check_digit(body: str) -> str:
    """Return the GS1 mod-10 check digit of ``body`` (General Specifications 7.9).

    ``body`` is the key without its check digit: 7, 11, 12 or 13 digits for a GTIN, and up to
    17 digits for the other GS1 keys that use the same algorithm (GLN, SSCC, GSIN, GSRN).
    """
    if not isinstance(body, str):
        raise GS1Error(f"check digit body must be a str, not {type(body).__name__}")
    _check_digits(body, "check digit body", 1, 17)
    return check_digit(body)


def _check_key(value: str, what: str, length: int) -> str:
    """Validate a fixed-length numeric GS1 key with a trailing mod-10 check digit."""
    _check_digits(value, what, length, length)
    expected = gtin_check_digit(value[:-1])
    if value[-1] != expected:
        raise GS1Error(
            f"{what} {value} has a wrong check digit: expected {expected}, got {value[-1]}"
        )
    return value


def validate_gtin(s: str) -> str:
    """Validate a GTIN-8, -12, -13 or -14 and return its 14-digit form (left-padded with 0).

    Raises [`GS1Error`][antifake.errors.GS1Error] naming the fault: a character that is not an ASCII
    digit (and where), a length other than 8, 12, 13 or 14, or a wrong check digit (and which digit
    was expected).
    """
    if not isinstance(s, str):
        raise GS1Error(f"GTIN must be a str, not {type(s).__name__}")
    if not s:
        raise GS1Error("GTIN is empty")
    m = _NOT_DIGIT.search(s)
    if m:
        raise GS1Error(
            f"GTIN must contain only digits 0-9: found {m.group()!r} at position {m.start() + 1}"
        )
    if len(s) not in (8, 12, 13, 14):
        raise GS1Error(f"GTIN must have 8, 12, 13 or 14 digits, got {len(s)}")
    expected = gtin_check_digit(s[:-1])
    if s[-1] != expected:
        raise GS1Error(f"GTIN {s} has a wrong check digit: expected {expected}, got {s[-1]}")
    return s.zfill(14)


def validate_lot(s: str) -> str:
    """Validate a batch/lot number (AI 10: 1 to 20 characters of CSET 82) and return it."""
    if not isinstance(s, str):
        raise GS1Error(f"lot must be a str, not {type(s).__name__}")
    _check_cset(s, "lot (AI 10)", 1, 20)
    return s


def validate_serial(s: str) -> str:
    """Validate a serial number (AI 21: 1 to 20 characters of CSET 82) and return it."""
    if not isinstance(s, str):
        raise GS1Error(f"serial must be a str, not {type(s).__name__}")
    _check_cset(s, "serial (AI 21)", 1, 20)
    return s


# --------------------------------------------------------------------------- dates (AI 17)


def _today(today: date | None) -> date:
    if today is None:
        return date.today()
    if isinstance(today, datetime):
        return today.date()
    if isinstance(today, date):
        return today
    raise GS1Error(f"today must be a date, not {type(today).__name__}")


def _century_year(yy: int, today: date) -> int:
    """Four-digit year of two-digit ``yy`` per General Specifications 7.12.

    With ``cur`` the current year's last two digits: ``yy - cur`` in 51..99 means the previous
    century, in -99..-50 the next century, otherwise the current one; so two-digit years cover
    the 49 years before and the 50 years after the current year.
    """
    century = today.year - today.year % 100
    diff = yy - today.year % 100
    if diff >= 51:
        century -= 100
    elif diff <= -50:
        century += 100
    return century + yy


def _yymmdd_to_date(s: str, what: str, today: date) -> date:
    if not isinstance(s, str):
        raise GS1Error(f"{what} must be a str, not {type(s).__name__}")
    if len(s) != 6 or not _is_digits(s):
        raise GS1Error(f"{what} must be 6 digits YYMMDD, got {_show(s)}")
    yy, mm, dd = int(s[:2]), int(s[2:4]), int(s[4:])
    if not 1 <= mm <= 12:
        raise GS1Error(f"{what} {s} has month {s[2:4]}, which is not 01 to 12")
    year = _century_year(yy, today)
    last = calendar.monthrange(year, mm)[1]
    if dd == 0:
        dd = last
    elif dd > last:
        raise GS1Error(f"{what} {s} has day {s[4:]}, but {year}-{mm:02d} has {last} days")
    return date(year, mm, dd)


def ai17_to_date(s: str, *, today: date | None = None) -> date:
    """Decode an AI 17 expiry date ``YYMMDD`` into a `datetime.date`.

    Day ``00`` means the last day of the month. The century follows General Specifications
    7.12, relative to ``today`` (default: the current date): years run from 49 years before to
    50 years after it.
    """
    return _yymmdd_to_date(s, "expiry date (AI 17)", _today(today))


_ISO_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_ISO_MONTH = re.compile(r"([0-9]{4})-([0-9]{2})")


def expiry_to_ai17(value: date | str, *, today: date | None = None) -> str:
    """Encode an expiry date as AI 17 ``YYMMDD``.

    ``value`` is a `datetime.date` (or ``datetime``), an ISO ``"YYYY-MM-DD"`` string, a
    ``"YYYY-MM"`` string (encoded with day ``00``: the end of that month) or an already encoded
    ``"YYMMDD"`` string (validated and returned). A date whose year falls outside the two-digit
    window of General Specifications 7.12 (relative to ``today``) is refused, since it would
    decode to another century.
    """
    ref = _today(today)
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, date):
        s = f"{value.year % 100:02d}{value.month:02d}{value.day:02d}"
        if _yymmdd_to_date(s, "expiry date", ref) != value:
            raise GS1Error(_window_message(value.year, ref))
        return s
    if not isinstance(value, str):
        raise GS1Error(f"expiry must be a date or a str, not {type(value).__name__}")
    if len(value) == 6 and _is_digits(value):
        _yymmdd_to_date(value, "expiry date (AI 17)", ref)
        return value
    m = _ISO_DATE.fullmatch(value)
    if m:
        try:
            d = date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        except ValueError as exc:
            raise GS1Error(f"expiry {value!r} is not a valid date: {exc}") from None
        return expiry_to_ai17(d, today=ref)
    m = _ISO_MONTH.fullmatch(value)
    if m:
        year, month = int(m.group(1)), int(m.group(2))
        if not 1 <= month <= 12:
            raise GS1Error(f"expiry {value!r} has month {m.group(2)}, which is not 01 to 12")
        s = f"{year % 100:02d}{month:02d}00"
        if _yymmdd_to_date(s, "expiry date", ref).year != year:
            raise GS1Error(_window_message(year, ref))
        return s
    raise GS1Error(
        f"expiry must be a date, 'YYYY-MM-DD', 'YYYY-MM' or 'YYMMDD', got {_show(value)}"
    )


def _window_message(year: int, ref: date) -> str:
    lo = _century_year((ref.year + 51) % 100, ref)
    return (
        f"expiry year {year} cannot be written as a two-digit AI 17 year: in {ref.year} they "
        f"cover {lo} to {lo + 99} (GS1 General Specifications 7.12)"
    )


# --------------------------------------------------------------------------- AI table

# kind, then parameters:
#   gtin              GTIN-8/12/13/14 with check digit, normalised to 14 digits
#   key n             exactly n digits, the last a mod-10 check digit
#   n lo hi           lo..hi digits
#   date              YYMMDD (day 00 allowed)
#   x lo hi           lo..hi characters of CSET 82
#   y lo hi           lo..hi characters of CSET 39
#   keyx n lo hi      n digits with check digit, then lo..hi characters of CSET 82
#   keyn n lo hi      n digits with check digit, then lo..hi digits
#   itip              GTIN-14 with check digit, then 2 + 2 digits (piece, total)
#   uic               1 digit then 3 characters of CSET 82
_AI_SPEC: dict[str, tuple[str, ...]] = {
    "00": ("key", "18"),
    "01": ("gtin",),
    "02": ("key", "14"),
    "10": ("x", "1", "20"),
    "11": ("date",),
    "12": ("date",),
    "13": ("date",),
    "15": ("date",),
    "16": ("date",),
    "17": ("date",),
    "20": ("n", "2", "2"),
    "21": ("x", "1", "20"),
    "22": ("x", "1", "20"),
    "235": ("x", "1", "28"),
    "253": ("keyx", "13", "0", "17"),
    "254": ("x", "1", "20"),
    "255": ("keyn", "13", "0", "12"),
    "30": ("n", "1", "8"),
    "37": ("n", "1", "8"),
    "401": ("x", "1", "30"),
    "402": ("key", "17"),
    "410": ("key", "13"),
    "411": ("key", "13"),
    "412": ("key", "13"),
    "413": ("key", "13"),
    "414": ("key", "13"),
    "415": ("key", "13"),
    "416": ("key", "13"),
    "417": ("key", "13"),
    "7003": ("n", "10", "10"),
    "7040": ("uic",),
    "8003": ("keyx", "14", "0", "16"),
    "8004": ("x", "1", "30"),
    "8006": ("itip",),
    "8010": ("y", "1", "30"),
    "8011": ("n", "1", "12"),
    "8013": ("x", "1", "30"),
    "8017": ("key", "18"),
    "8018": ("key", "18"),
    "8019": ("n", "1", "10"),
    "8020": ("x", "1", "25"),
}
_AI_GENERIC = ("x", "1", "90")  # any other AI: at most 90 characters of CSET 82

_AI_NAMES = {
    "00": "SSCC",
    "01": "GTIN",
    "10": "lot",
    "17": "expiry date",
    "21": "serial",
    "22": "consumer product variant",
    "235": "third-party serial extension",
    "253": "GDTI",
    "254": "GLN extension",
    "255": "GCN",
    "401": "GINC",
    "402": "GSIN",
    "414": "GLN",
    "417": "party GLN",
    "8003": "GRAI",
    "8004": "GIAI",
    "8006": "ITIP",
    "8010": "CPID",
    "8011": "CPID serial",
    "8013": "GMN",
    "8017": "GSRN-P",
    "8018": "GSRN",
    "8019": "SRIN",
}

# GS1 Digital Link 1.x short names (path keys, qualifiers and the two query attributes).
_SHORT_NAMES = {
    "gtin": "01",
    "itip": "8006",
    "gmn": "8013",
    "cpid": "8010",
    "gln": "414",
    "party": "417",
    "gsrnp": "8017",
    "gsrn": "8018",
    "gcn": "255",
    "sscc": "00",
    "gdti": "253",
    "ginc": "401",
    "gsin": "402",
    "grai": "8003",
    "giai": "8004",
    "cpv": "22",
    "lot": "10",
    "ser": "21",
    "cpsn": "8011",
    "glnx": "254",
    "refno": "8020",
    "srin": "8019",
    "exp": "17",
    "expdt": "7003",
}

# Primary keys of a Digital Link path and the allowed orders of their key qualifiers.
_PRIMARY: dict[str, tuple[tuple[str, ...], ...]] = {
    "01": (("22", "10", "21"), ("235",)),
    "8006": (("22", "10", "21"),),
    "8013": ((),),
    "8010": (("8011",),),
    "414": (("254",), ("7040",)),
    "417": (("7040",),),
    "8017": (("8019",),),
    "8018": (("8019",),),
    "255": ((),),
    "00": ((),),
    "253": ((),),
    "401": ((),),
    "402": ((),),
    "8003": ((),),
    "8004": (("7040",),),
}
_QUALIFIERS = frozenset(q for orders in _PRIMARY.values() for t in orders for q in t)


def _ai_label(ai: str) -> str:
    name = _AI_NAMES.get(ai)
    return f"{name} (AI {ai})" if name else f"AI {ai}"


def _validate_ai(ai: str, value: str) -> str:
    """Validate ``value`` for ``ai`` and return its normalised form (GTINs padded to 14)."""
    spec = _AI_SPEC.get(ai, _AI_GENERIC)
    kind, args = spec[0], [int(a) for a in spec[1:]]
    what = _ai_label(ai)
    if kind == "gtin":
        return validate_gtin(value)
    if kind == "key":
        return _check_key(value, what, args[0])
    if kind == "n":
        _check_digits(value, what, args[0], args[1])
    elif kind == "date":
        _yymmdd_to_date(value, what, date.today())
    elif kind == "x":
        _check_cset(value, what, args[0], args[1])
    elif kind == "y":
        _check_cset(value, what, args[0], args[1], cset="39")
    elif kind in ("keyx", "keyn"):
        n = args[0]
        if len(value) < n:
            raise GS1Error(f"{what} must start with {n} digits, got {_show(value)}")
        _check_key(value[:n], what, n)
        if ai == "8003" and value[0] != "0":
            raise GS1Error(f"{what} must start with the filler digit 0, got {value[0]!r}")
        rest = value[n:]
        if kind == "keyx":
            _check_cset(rest, f"{what} serial component", args[1], args[2])
        else:
            _check_digits(rest, f"{what} serial component", args[1], args[2])
    elif kind == "itip":
        _check_digits(value, what, 18, 18)
        _check_key(value[:14], f"{what} GTIN", 14)
    elif kind == "uic":
        _check_cset(value, what, 4, 4)
        _check_digits(value[0], f"{what} first character", 1, 1)
    return value


def _resolve_ai(name: str) -> str | None:
    """AI code for a path segment or query key: numeric AI, short name, or None."""
    if 2 <= len(name) <= 4 and _is_digits(name):
        return name
    return _SHORT_NAMES.get(name.lower())


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


# --------------------------------------------------------------------------- URL structure

_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*)://")
_OTHER_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):(?![0-9]{1,5}(?:[/?]|$))")
_HOST = re.compile(r"([a-z0-9_\-]+(?:\.[a-z0-9_\-]+)*\.?|\[[0-9a-f:.]+\])(?::([0-9]{1,5}))?")
_PATH_CHARS = re.compile(r"[A-Za-z0-9\-._~!$&'()*+,;=:@/%]*")


def _split_url(s: str, *, require_scheme: bool) -> tuple[str, str, str, str | None]:
    """Split into (scheme, normalised authority, path, query or None); drops any fragment."""
    s = s.split("#", 1)[0]
    m = _SCHEME.match(s)
    if m:
        scheme = m.group(1).lower()
        if scheme not in ("http", "https"):
            raise GS1Error(f"unsupported URI scheme {m.group(1)!r}: expected http or https")
        rest = s[m.end() :]
    elif require_scheme:
        raise GS1Error(f"base must start with https:// or http://, got {_show(s)}")
    elif s.startswith("//"):
        scheme, rest = "https", s[2:]
    else:
        m2 = _OTHER_SCHEME.match(s)
        if m2 and m2.group(1).lower() in ("http", "https"):
            raise GS1Error(f"malformed URI: expected '://' after {m2.group(1)!r}")
        if m2:
            raise GS1Error(f"unsupported URI scheme {m2.group(1)!r}: expected http or https")
        scheme, rest = "https", s
    cut = len(rest)
    for sep in "/?":
        i = rest.find(sep)
        if i != -1:
            cut = min(cut, i)
    authority, remainder = rest[:cut], rest[cut:]
    path, qmark, query = remainder.partition("?")
    return scheme, _normalise_host(authority), path, (query if qmark else None)


def _normalise_host(authority: str) -> str:
    if not authority:
        raise GS1Error("URI has no host")
    if "@" in authority:
        raise GS1Error("user information ('@') is not allowed before the host of a Digital Link")
    host = authority.lower()
    m = _HOST.fullmatch(host)
    if not m:
        raise GS1Error(f"invalid host {_show(authority)}")
    if m.group(2) is not None and not 0 < int(m.group(2)) <= 65535:
        raise GS1Error(f"invalid port {m.group(2)}")
    return host


def _normalise_base(base: str) -> str:
    """Validate a resolver base ``scheme://host[/prefix]``; lower-case scheme and host."""
    if not isinstance(base, str):
        raise GS1Error(f"base must be a str, not {type(base).__name__}")
    if len(base) > MAX_URI_LENGTH:
        raise GS1Error(f"base is {len(base)} characters long; the limit is {MAX_URI_LENGTH}")
    if "#" in base or "?" in base:
        raise GS1Error("base must not contain a query string or a fragment")
    scheme, host, path, _ = _split_url(base, require_scheme=True)
    path = path.rstrip("/")
    if not _PATH_CHARS.fullmatch(path):
        raise GS1Error(f"base path {_show(path)} contains characters that must be percent-encoded")
    m = _BAD_PERCENT.search(path)
    if m:
        raise GS1Error(f"bad percent-escape {path[m.start() : m.start() + 3]!r} in base")
    if "//" in path:
        raise GS1Error("base path contains an empty segment ('//')")
    return f"{scheme}://{host}{path}"


# --------------------------------------------------------------------------- Digital Link


@dataclass(frozen=True)
class DigitalLink:
    """A parsed GS1 Digital Link URI.

    Attributes:
        base: scheme, host and any path prefix before the primary key, without a trailing
            slash (``"https://id.gs1.org"``); the scheme and host are lower-cased and a URI
            given without a scheme gets ``https``.
        gtin: the 14-digit GTIN when the primary key is AI 01, else ``None``.
        lot: AI 10, decoded, or ``None``.
        serial: AI 21, decoded, or ``None``.
        expiry: AI 17 as written (``"YYMMDD"``, day may be ``00``), or ``None``.
        ai: every AI in the URI, decoded and validated (GTINs padded to 14 digits): the primary
            key first, then its key qualifiers, then the data attributes of the query string.
        query: the query parameters that are not AIs (decoded; first occurrence wins).

    The dictionaries are meant to be read, not mutated.
    """

    base: str
    gtin: str | None
    lot: str | None = None
    serial: str | None = None
    expiry: str | None = None
    ai: dict[str, str] = field(default_factory=dict)
    query: dict[str, str] = field(default_factory=dict)

    def __hash__(self) -> int:
        return hash((self.base, tuple(self.ai.items()), tuple(self.query.items())))

    @property
    def primary(self) -> str:
        """The AI of the primary key (``"01"`` for a GTIN, ``"00"`` for an SSCC, ...)."""
        primary = next(iter(self.ai), None)
        if primary not in _PRIMARY:
            raise GS1Error("this DigitalLink has no GS1 primary key as its first AI")
        return primary

    @property
    def expiry_date(self) -> date | None:
        """The expiry (AI 17) as a `datetime.date` (day ``00``: the month's last day), or
        None; `expiry` keeps the text as written in the URL."""
        return None if self.expiry is None else ai17_to_date(self.expiry)

    def uri(self, base: str | None = None) -> str:
        """This Digital Link in canonical DL form: short names replaced by AIs, key qualifiers
        in the path in their standard order, data attributes then other parameters in the
        query, values percent-encoded. ``base`` replaces `base` when given."""
        b = self.base if base is None else _normalise_base(base)
        primary = self.primary
        path_ais = [primary] + _ordered_qualifiers(primary, self.ai)
        path = "".join(f"/{a}/{_dl_encode(self.ai[a])}" for a in path_ais)
        params = [(a, v) for a, v in self.ai.items() if a not in path_ais]
        params += list(self.query.items())
        query = "&".join(f"{_dl_encode(k)}={_dl_encode(v)}" for k, v in params)
        return b + path + (f"?{query}" if query else "")


def _ordered_qualifiers(primary: str, ais: Mapping[str, str]) -> list[str]:
    for order in _PRIMARY[primary]:
        present = [q for q in order if q in ais]
        if present:
            return present
    return []


def build_digital_link(
    base: str,
    gtin: str,
    *,
    lot: str | None = None,
    serial: str | None = None,
    expiry: date | str | None = None,
    extra: Mapping[str, str] | None = None,
) -> str:
    """Build a GS1 Digital Link URI ``{base}/01/{gtin14}[/10/{lot}][/21/{serial}]?17=...``.

    ``base`` is ``http(s)://host[/prefix]`` (a trailing slash is dropped; scheme and host are
    lower-cased). The query string holds ``17=YYMMDD`` (``expiry`` as accepted by
    [`expiry_to_ai17`][antifake.gs1.expiry_to_ai17]) and then the ``extra`` parameters in their
    given order: numeric keys (or DL short names) are GS1 AIs and are validated, other keys are free
    parameters. AIs 01, 10, 21, 17 and the GTIN key qualifiers (22, 235) cannot be passed in
    ``extra``. Values are percent-encoded outside the RFC 3986 unreserved set. Raises
    [`GS1Error`][antifake.errors.GS1Error].
    """
    b = _normalise_base(base)
    parts = [b, "/01/", validate_gtin(gtin)]
    if lot is not None:
        parts += ["/10/", _dl_encode(validate_lot(lot))]
    if serial is not None:
        parts += ["/21/", _dl_encode(validate_serial(serial))]
    params: list[tuple[str, str]] = []
    if expiry is not None:
        params.append(("17", expiry_to_ai17(expiry)))
    if extra is not None:
        if not isinstance(extra, Mapping):
            raise GS1Error(f"extra must be a mapping, not {type(extra).__name__}")
        seen: set[str] = set()
        for key, value in extra.items():
            key = _check_text(key, "extra parameter name")
            value = _check_text(value, f"extra parameter {key!r}")
            if not key:
                raise GS1Error("extra parameter names must not be empty")
            ai = _resolve_ai(key)
            if ai is None and _is_digits(key):
                raise GS1Error(f"extra parameter {key!r} is numeric but not a 2- to 4-digit AI")
            if ai is not None:
                if ai in ("01", "10", "21", "17", "22", "235"):
                    raise GS1Error(
                        f"AI {ai} cannot be passed in extra: use the gtin, lot, serial and "
                        f"expiry arguments (key qualifiers 22 and 235 are not supported)"
                    )
                if ai in seen:
                    raise GS1Error(f"AI {ai} is given twice in extra")
                seen.add(ai)
                key, value = ai, _validate_ai(ai, value)
            elif key in seen:
                raise GS1Error(f"extra parameter {key!r} is given twice")
            seen.add(key)
            params.append((key, value))
    if params:
        parts.append("?" + "&".join(f"{_dl_encode(k)}={_dl_encode(v)}" for k, v in params))
    uri = "".join(parts)
    if len(uri) > MAX_URI_LENGTH:
        raise GS1Error(
            f"Digital Link would be {len(uri)} characters; the limit is {MAX_URI_LENGTH}"
        )
    return uri


def _find_primary(segs: list[str]) -> int:
    """Index of the primary key in decoded path segments, walking key/value pairs from the
    right (values sit at odd offsets from the end, so a value can never pass for a key)."""
    j = len(segs) - 2
    while j >= 0:
        ai = _resolve_ai(segs[j])
        if ai in _PRIMARY:
            return j
        if ai not in _QUALIFIERS:
            break
        j -= 2
    # Diagnose the failure as precisely as possible.
    if j >= 0:
        k = j - 2
        while k >= 0 and _resolve_ai(segs[k]) not in _PRIMARY:
            k -= 2
        ai = _resolve_ai(segs[j])
        if k >= 0 and ai is not None:
            raise GS1Error(
                f"AI {ai} cannot appear in the path after primary key {_resolve_ai(segs[k])}: "
                "only key qualifiers go in the path, data attributes go in the query string"
            )
    if any(_resolve_ai(x) in _PRIMARY for x in segs):
        raise GS1Error(
            "malformed Digital Link path: expected /{primary key}/{value} followed by "
            "/{qualifier}/{value} pairs"
        )
    raise GS1Error("no GS1 primary key (such as /01/{gtin}) in the Digital Link path")


def _check_qualifier_order(primary: str, quals: list[str]) -> None:
    orders = _PRIMARY[primary]
    allowed = {q for t in orders for q in t}
    seen: set[str] = set()
    for q in quals:
        if q not in allowed:
            raise GS1Error(f"AI {q} is not a key qualifier of primary key {primary}")
        if q in seen:
            raise GS1Error(f"key qualifier AI {q} appears twice in the path")
        seen.add(q)
    for order in orders:
        if set(quals) <= set(order):
            pos = [order.index(q) for q in quals]
            for a, b, pa, pb in zip(quals, quals[1:], pos, pos[1:], strict=False):
                if pa > pb:
                    raise GS1Error(
                        f"key qualifiers out of order: AI {b} must come before AI {a} "
                        f"(order after {primary}: {', '.join(order)})"
                    )
            return
    raise GS1Error(f"key qualifiers {', '.join(quals)} cannot be combined after {primary}")


def _parse_dl(text: str) -> DigitalLink:
    scheme, host, path, query = _split_url(text, require_scheme=False)
    raw_segs = path.split("/")[1:] if path else []
    if raw_segs and raw_segs[-1] == "":
        raw_segs.pop()  # one trailing slash
    if "" in raw_segs:
        raise GS1Error("Digital Link path contains an empty segment ('//')")
    segs = [_pct_decode(x, "path") for x in raw_segs]
    p = _find_primary(segs)
    primary = _resolve_ai(segs[p])
    assert primary is not None
    ais: dict[str, str] = {}

    def add(ai: str, value: str) -> None:
        if not value:
            raise GS1Error(f"{_ai_label(ai)} has an empty value")
        v = _validate_ai(ai, value)
        old = ais.get(ai)
        if old is not None and old != v:
            raise GS1Error(
                f"{_ai_label(ai)} is given twice with different values {old!r} and {v!r}"
            )
        ais[ai] = v

    quals = [_resolve_ai(segs[i]) or "" for i in range(p + 2, len(segs), 2)]
    _check_qualifier_order(primary, quals)
    add(primary, segs[p + 1])
    for i, q in zip(range(p + 2, len(segs), 2), quals, strict=True):
        add(q, segs[i + 1])

    params: dict[str, str] = {}
    if query:
        for part in re.split("[&;]", query):
            if not part:
                continue
            rk, _, rv = part.partition("=")
            k = _pct_decode(rk, "query string")
            v = _pct_decode(rv, "query string")
            if not k:
                raise GS1Error("query string has a parameter with an empty name")
            ai = _resolve_ai(k)
            if ai is None and _is_digits(k):
                raise GS1Error(f"query parameter {k!r} is numeric but not a 2- to 4-digit AI")
            if ai is not None:
                add(ai, v)
            else:
                _check_text(k, "query parameter name")
                _check_text(v, f"query parameter {k!r}")
                params.setdefault(k, v)

    # AIs 10/21 (etc.) may come in the query: together with the path they must still form a
    # valid qualifier combination for the primary key.
    allowed = {q for t in _PRIMARY[primary] for q in t}
    present = {a for a in ais if a in allowed}
    if present and not any(present <= set(t) for t in _PRIMARY[primary]):
        raise GS1Error(
            f"key qualifiers {', '.join(sorted(present))} cannot be combined after {primary}"
        )

    prefix = "/".join(raw_segs[:p])
    base = f"{scheme}://{host}" + (f"/{prefix}" if prefix else "")
    return DigitalLink(
        base=base,
        gtin=ais["01"] if primary == "01" else None,
        lot=ais.get("10"),
        serial=ais.get("21"),
        expiry=ais.get("17"),
        ai=ais,
        query=params,
    )


def parse_digital_link(uri: str | bytes) -> DigitalLink:
    """Parse a GS1 Digital Link URI into a [`DigitalLink`][antifake.gs1.DigitalLink].

    Tolerates what scanners and people produce: no scheme (``id.gs1.org/01/...``), upper-case
    scheme, host, short names and percent-escapes, GTIN-8/12/13 in the path (padded to 14),
    the DL 1.x short names (``/gtin/``, ``/lot/``, ``/ser/``, ``?exp=`` and the others), AIs 10
    and 21 in the query string, query parameters in any order separated by ``&`` or ``;``,
    a trailing slash, a fragment, surrounding whitespace, and ``bytes`` (UTF-8). Primary keys:
    GTIN (01) and every other GS1 key of the DL standard (00, 414, 417, 8003, 8004, ...).

    Raises [`GS1Error`][antifake.errors.GS1Error], and only that, for any ``str`` or ``bytes`` that
    is not a valid Digital Link: over [`MAX_URI_LENGTH`][antifake.gs1.MAX_URI_LENGTH] characters,
    NUL or control characters, a scheme other than http(s), user information before the host, no
    primary key, a bad check digit, key qualifiers out of order (21 before 10), the same AI twice
    with different values, an AI value outside its character set or length (non-ASCII included), bad
    percent-escapes.
    """
    return _parse_dl(_coerce_text(uri, "Digital Link URI"))


# --------------------------------------------------------------------------- EPC URIs

_URN_PREFIX = re.compile(r"urn:epc:([a-z]+):([a-z0-9+\-]+):", re.IGNORECASE | re.ASCII)
_URN_LITERAL = frozenset(
    "!'()*+,-.:;=_0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
)
_URN_ESCAPES = {'"': "%22", "%": "%25", "&": "%26", "/": "%2F", "<": "%3C", ">": "%3E", "?": "%3F"}
_HEX = frozenset("0123456789abcdefABCDEF")


def _urn_encode(s: str) -> str:
    """TDS escaping of a CSET 82 component: ``" % & / < > ?`` become ``%HH``."""
    return "".join(_URN_ESCAPES.get(c, c) for c in s)


def _urn_component(
    comp: str, what: str, lo: int, hi: int, cset: str = "82", literal: frozenset[str] = _URN_LITERAL
) -> str:
    """Decode a TDS component: literal characters plus ``%HH`` escapes; validate the result."""
    out: list[str] = []
    i = 0
    while i < len(comp):
        c = comp[i]
        if c == "%":
            h = comp[i + 1 : i + 3]
            if len(h) != 2 or not set(h) <= _HEX:
                raise GS1Error(f"bad percent-escape {comp[i : i + 3]!r} in {what}")
            out.append(chr(int(h, 16)))
            i += 3
            continue
        if c not in literal:
            raise GS1Error(f"{what} contains {c!r}, which must be percent-encoded in an EPC URI")
        out.append(c)
        i += 1
    value = "".join(out)
    _check_cset(value, what, lo, hi, cset)
    return value


def _cp_ref(cp: str, ref: str, total: int, what: str) -> str:
    """Validate a GS1 Company Prefix (6-12 digits) and a reference completing it to ``total``
    digits; return ``cp + ref``."""
    if not 6 <= len(cp) <= 12 or not _is_digits(cp):
        raise GS1Error(f"GS1 Company Prefix must be 6 to 12 digits, got {_show(cp)}")
    n = total - len(cp)
    if len(ref) != n or (ref and not _is_digits(ref)):
        raise GS1Error(
            f"{what} must be {n} digits with a {len(cp)}-digit company prefix, got {_show(ref)}"
        )
    return cp + ref


def _with_check(body: str) -> str:
    return body + gtin_check_digit(body)


def _split(rest: str, n: int, scheme: str) -> list[str]:
    parts = rest.split(".", n - 1)
    if len(parts) != n:
        raise GS1Error(f"an EPC URI of scheme {scheme} has {n} dot-separated parts")
    return parts


def _urn_gtin(cp: str, iir: str) -> str:
    _cp_ref(cp, iir, 13, "indicator digit and item reference")
    return _with_check(iir[0] + cp + iir[1:])


def _epc_sgtin(r: str) -> list[tuple[str, str]]:
    cp, iir, ser = _split(r, 3, "sgtin")
    return [("01", _urn_gtin(cp, iir)), ("21", _urn_component(ser, "serial", 1, 20))]


def _epc_sscc(r: str) -> list[tuple[str, str]]:
    cp, sr = _split(r, 2, "sscc")
    _cp_ref(cp, sr, 17, "extension digit and serial reference")
    return [("00", _with_check(sr[0] + cp + sr[1:]))]


def _epc_sgln(r: str) -> list[tuple[str, str]]:
    cp, lr, ext = _split(r, 3, "sgln")
    pairs = [("414", _with_check(_cp_ref(cp, lr, 12, "location reference")))]
    ext = _urn_component(ext, "GLN extension", 1, 20)
    if ext != "0":
        pairs.append(("254", ext))
    return pairs


def _epc_grai(r: str) -> list[tuple[str, str]]:
    cp, at, ser = _split(r, 3, "grai")
    body = _with_check("0" + _cp_ref(cp, at, 12, "asset type"))
    return [("8003", body + _urn_component(ser, "GRAI serial", 1, 16))]


def _epc_giai(r: str) -> list[tuple[str, str]]:
    cp, iar = _split(r, 2, "giai")
    _cp_ref(cp, "", len(cp), "")
    value = cp + _urn_component(iar, "individual asset reference", 1, 30 - len(cp))
    return [("8004", value)]


def _epc_gsrn(ai: str) -> Callable[[str], list[tuple[str, str]]]:
    def conv(r: str) -> list[tuple[str, str]]:
        cp, sr = _split(r, 2, "gsrn")
        return [(ai, _with_check(_cp_ref(cp, sr, 17, "service reference")))]

    return conv


def _epc_gdti(r: str) -> list[tuple[str, str]]:
    cp, dt, ser = _split(r, 3, "gdti")
    body = _with_check(_cp_ref(cp, dt, 12, "document type"))
    return [("253", body + _urn_component(ser, "GDTI serial", 1, 17))]


_CPI_LITERAL = frozenset("-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")


def _epc_cpi(r: str) -> list[tuple[str, str]]:
    cp, ref, ser = _split(r, 3, "cpi")
    _cp_ref(cp, "", len(cp), "")
    ref = _urn_component(ref, "component/part reference", 1, 30 - len(cp), "39", _CPI_LITERAL)
    _check_digits(ser, "CPI serial", 1, 12)
    return [("8010", cp + ref), ("8011", ser)]


def _epc_sgcn(r: str) -> list[tuple[str, str]]:
    cp, ct, ser = _split(r, 3, "sgcn")
    body = _with_check(_cp_ref(cp, ct, 12, "coupon reference"))
    _check_digits(ser, "SGCN serial", 1, 12)
    return [("255", body + ser)]


def _epc_ginc(r: str) -> list[tuple[str, str]]:
    cp, ref = _split(r, 2, "ginc")
    _cp_ref(cp, "", len(cp), "")
    return [("401", cp + _urn_component(ref, "consignment reference", 1, 30 - len(cp)))]


def _epc_gsin(r: str) -> list[tuple[str, str]]:
    cp, sr = _split(r, 2, "gsin")
    return [("402", _with_check(_cp_ref(cp, sr, 16, "shipper reference")))]


def _epc_itip(r: str) -> list[tuple[str, str]]:
    cp, iir, piece, total, ser = _split(r, 5, "itip")
    _check_digits(piece, "ITIP piece number", 2, 2)
    _check_digits(total, "ITIP total count", 2, 2)
    gtin = _urn_gtin(cp, iir)
    return [("8006", gtin + piece + total), ("21", _urn_component(ser, "serial", 1, 20))]


def _epc_upui(r: str) -> list[tuple[str, str]]:
    cp, iir, tpx = _split(r, 3, "upui")
    return [("01", _urn_gtin(cp, iir)), ("235", _urn_component(tpx, "TPX", 1, 28))]


def _epc_pgln(r: str) -> list[tuple[str, str]]:
    cp, pr = _split(r, 2, "pgln")
    return [("417", _with_check(_cp_ref(cp, pr, 12, "party reference")))]


def _epc_lgtin(r: str) -> list[tuple[str, str]]:
    cp, iir, lot = _split(r, 3, "lgtin")
    return [("01", _urn_gtin(cp, iir)), ("10", _urn_component(lot, "lot", 1, 20))]


_EPC_ID: dict[str, Callable[[str], list[tuple[str, str]]]] = {
    "sgtin": _epc_sgtin,
    "sscc": _epc_sscc,
    "sgln": _epc_sgln,
    "grai": _epc_grai,
    "giai": _epc_giai,
    "gsrn": _epc_gsrn("8018"),
    "gsrnp": _epc_gsrn("8017"),
    "gdti": _epc_gdti,
    "cpi": _epc_cpi,
    "sgcn": _epc_sgcn,
    "ginc": _epc_ginc,
    "gsin": _epc_gsin,
    "itip": _epc_itip,
    "upui": _epc_upui,
    "pgln": _epc_pgln,
}
_EPC_CLASS: dict[str, Callable[[str], list[tuple[str, str]]]] = {"lgtin": _epc_lgtin}


def _parse_epc_urn(s: str) -> list[tuple[str, str]]:
    m = _URN_PREFIX.match(s)
    if not m:
        raise GS1Error(f"not an EPC URI (expected urn:epc:id:{{scheme}}:...): {_show(s)}")
    level, scheme, rest = m.group(1).lower(), m.group(2).lower(), s[m.end() :]
    if level == "id" and scheme in _EPC_ID:
        return _EPC_ID[scheme](rest)
    if level == "class" and scheme in _EPC_CLASS:
        return _EPC_CLASS[scheme](rest)
    if level == "idpat":
        raise GS1Error("EPC pattern URIs (urn:epc:idpat:...) denote sets, not one identifier")
    if level in ("tag", "raw"):
        raise GS1Error(f"EPC {level} URIs are not supported: use the pure identity URI")
    raise GS1Error(f"EPC scheme urn:epc:{level}:{scheme} has no GS1 Digital Link equivalent")


def _epc_pairs_from_dl(dl: DigitalLink) -> list[tuple[str, str]]:
    """Key and qualifiers of the finest identification level (no CPV, no lot when a serial is
    present), as EPCIS canonicalisation keeps them."""
    primary = dl.primary
    quals = _ordered_qualifiers(primary, dl.ai)
    if primary in ("01", "8006"):
        quals = [q for q in quals if q != "22"]
        if "21" in quals:
            quals = [q for q in quals if q != "10"]
    return [(primary, dl.ai[primary])] + [(q, dl.ai[q]) for q in quals]


def _epc_pairs(epc: object) -> list[tuple[str, str]]:
    s = _coerce_text(epc, "EPC URI")
    if s[:4].lower() == "urn:":
        return _parse_epc_urn(s)
    return _epc_pairs_from_dl(_parse_dl(s))


def _epc_uri(pairs: list[tuple[str, str]]) -> str:
    return CANONICAL_BASE + "".join(f"/{ai}/{_epc_encode(v)}" for ai, v in pairs)


def epc_to_digital_link(epc: str | bytes) -> str:
    """Normalise an EPC identifier to its canonical GS1 Digital Link URI ``https://id.gs1.org/...``.

    Accepts an EPC pure identity URI (TDS schemes sgtin, sscc, sgln, grai, giai, gsrn, gsrnp,
    gdti, cpi, sgcn, ginc, gsin, itip, upui, pgln), the EPC class URI ``urn:epc:class:lgtin``,
    or a Digital Link URI on any host (parsed as
    [`parse_digital_link`][antifake.gs1.parse_digital_link] does). The result has the primary key
    and only the key qualifiers of the finest level (a CPV is dropped, and a lot when a serial is
    present), no query string; e.g. SSCC ``/00/{18 digits}``, SGLN ``/414/{13
    digits}[/254/{extension}]`` (extension ``0`` means none). Percent-encoding as the CBV 2.0
    event-hash reference: outside the unreserved set except ``'``, ``;``, ``=``.
    """
    return _epc_uri(_epc_pairs(epc))


def _is_instance(pairs: list[tuple[str, str]]) -> bool:
    ais = dict(pairs)
    primary = pairs[0][0]
    if primary in ("01", "8006"):
        return "21" in ais or "235" in ais
    if primary == "8010":
        return "8011" in ais
    if primary == "8013":
        return False
    if primary in ("253", "255"):
        return len(ais[primary]) > 13
    if primary == "8003":
        return len(ais[primary]) > 14
    return True


def gln_key(identifier: object) -> str | None:
    """The GS1 key of a party or location identifier, or None when it is neither.

    A PGLN (``urn:epc:id:pgln:...``, ``https://id.gs1.org/417/{gln}``, or a bare 13-digit GLN)
    gives ``"417:{gln}"``; an SGLN location (``urn:epc:id:sgln:...`` or ``.../414/{gln}[/254/
    {extension}]``) gives ``"414:{gln}"`` or ``"414:{gln}/254:{extension}"`` (extension ``0``
    means none, as in EPC Tag Data Standard 2.0). Two spellings of one identifier give one key.
    Raises [`GS1Error`][antifake.errors.GS1Error] for a GLN-shaped identifier that is invalid (a
    wrong check digit, say).
    """
    if not isinstance(identifier, str) or not identifier:
        return None
    if len(identifier) == 13 and _is_digits(identifier):
        return "417:" + _check_key(identifier, "GLN", 13)
    low = identifier[:20].lower()
    if low.startswith(("urn:epc:id:pgln:", "urn:epc:id:sgln:")):
        pairs = _parse_epc_urn(identifier)
    elif "://" in low and ("/414/" in identifier or "/417/" in identifier):
        pairs = _epc_pairs_from_dl(_parse_dl(identifier))
        if pairs[0][0] not in ("414", "417"):
            return None
    else:
        return None
    return "/".join(f"{ai}:{v}" for ai, v in pairs)


def is_epc_uri(s: object) -> bool:
    """True when ``s`` identifies one object: a valid EPC pure identity URI, or a Digital Link
    URI whose key is instance-level (GTIN or ITIP with a serial, SSCC, GLN, GRAI with serial,
    GIAI, ...). False for anything else, including class-level identifiers (a GTIN alone, a
    GTIN with a lot, ``urn:epc:class:lgtin``). Never raises."""
    try:
        return _is_instance(_epc_pairs(s))
    except GS1Error:
        return False


def sgtin_digital_link(gtin: str, serial: str) -> str:
    """Canonical Digital Link URI of an SGTIN, ``https://id.gs1.org/01/{gtin14}/21/{serial}``,
    as EPCIS 2.0 uses (same encoding as
    [`epc_to_digital_link`][antifake.gs1.epc_to_digital_link])."""
    return _epc_uri([("01", validate_gtin(gtin)), ("21", validate_serial(serial))])


def sgtin_urn(gtin: str, serial: str, company_prefix_length: int) -> str:
    """EPC pure identity URI ``urn:epc:id:sgtin:{company prefix}.{indicator+item ref}.{serial}``.

    The GS1 Company Prefix is the ``company_prefix_length`` (6 to 12) digits after the
    GTIN-14's indicator digit; the serial is escaped as TDS requires (``" % & / < > ?``).
    """
    g = validate_gtin(gtin)
    validate_serial(serial)
    if type(company_prefix_length) is not int:
        raise GS1Error(
            f"company_prefix_length must be an int, not {type(company_prefix_length).__name__}"
        )
    if not 6 <= company_prefix_length <= 12:
        raise GS1Error(f"company_prefix_length must be 6 to 12, got {company_prefix_length}")
    cp = g[1 : 1 + company_prefix_length]
    iir = g[0] + g[1 + company_prefix_length : 13]
    return f"urn:epc:id:sgtin:{cp}.{iir}.{_urn_encode(serial)}"


def parse_sgtin_urn(urn: str | bytes) -> tuple[str, str]:
    """Parse ``urn:epc:id:sgtin:...`` into ``(gtin14, serial)`` (serial unescaped)."""
    s = _coerce_text(urn, "SGTIN URI")
    m = _URN_PREFIX.match(s)
    if not m or m.group(1).lower() != "id" or m.group(2).lower() != "sgtin":
        raise GS1Error(f"not an SGTIN EPC URI (urn:epc:id:sgtin:...): {_show(s)}")
    pairs = _epc_sgtin(s[m.end() :])
    return pairs[0][1], pairs[1][1]


# --------------------------------------------------------------------------- element strings


def element_string(
    gtin: str,
    lot: str | None = None,
    expiry: date | str | None = None,
    serial: str | None = None,
) -> str:
    """Human-readable element string ``(01)gtin14(17)YYMMDD(10)lot(21)serial``.

    Fixed-length AIs come first and the serial last, as GS1 recommends. A lot or serial that
    itself contains ``(NN)`` is refused: the printed text would be ambiguous.
    """
    parts = [("01", validate_gtin(gtin))]
    if expiry is not None:
        parts.append(("17", expiry_to_ai17(expiry)))
    if lot is not None:
        parts.append(("10", validate_lot(lot)))
    if serial is not None:
        parts.append(("21", validate_serial(serial)))
    for ai, v in parts[1:]:
        if _HRI_AI.search(v):
            raise GS1Error(
                f"{_ai_label(ai)} {v!r} contains an '(AI)' sequence: the element string "
                "would be ambiguous"
            )
    return "".join(f"({ai}){v}" for ai, v in parts)


def parse_element_string(s: str | bytes) -> dict[str, str]:
    """Parse a bracketed element string ``(01)...(17)...(10)...(21)...`` into ``{AI: value}``.

    Values are validated against their AI (GTIN check digit and 14 digits for 01, a valid
    date for 17, CSET 82 and length for 10 and 21, ...); whitespace around an ``(AI)`` is
    ignored, whitespace inside a value is an error. The same AI twice with different values
    is an error. Raises [`GS1Error`][antifake.errors.GS1Error], and only that, for any ``str`` or
    ``bytes``.
    """
    text = _coerce_text_hri(s)
    pieces = _HRI_AI.split(text)
    if pieces[0].strip() or len(pieces) < 3:
        raise GS1Error(f"element string must start with '(AI)': {_show(text)}")
    out: dict[str, str] = {}
    for ai, raw in zip(pieces[1::2], pieces[2::2], strict=True):
        value = raw.strip()
        if not value:
            raise GS1Error(f"{_ai_label(ai)} has an empty value")
        if ai == "01" and len(value) != 14:
            raise GS1Error(
                f"GTIN (AI 01) in an element string must have 14 digits, got {len(value)}"
            )
        v = _validate_ai(ai, value)
        old = out.get(ai)
        if old is not None and old != v:
            raise GS1Error(
                f"{_ai_label(ai)} is given twice with different values {old!r} and {v!r}"
            )
        out[ai] = v
    return out


def _coerce_text_hri(s: object) -> str:
    """Like _coerce_text, but spaces inside are allowed (HRI is often printed with them)."""
    if isinstance(s, (bytes, bytearray, memoryview)):
        raw = bytes(s)
        if len(raw) > 4 * MAX_URI_LENGTH:
            raise GS1Error(
                f"element string is {len(raw)} bytes long; the limit is {MAX_URI_LENGTH}"
            )
        try:
            s = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise GS1Error(f"element string is not valid ASCII or UTF-8: {exc.reason}") from None
    if not isinstance(s, str):
        raise GS1Error(f"element string must be str or bytes, not {type(s).__name__}")
    if len(s) > MAX_URI_LENGTH:
        raise GS1Error(f"element string is {len(s)} characters long; the limit is {MAX_URI_LENGTH}")
    if "\x00" in s:
        raise GS1Error("element string contains a NUL character")
    return s.strip().strip("\ufeff")
