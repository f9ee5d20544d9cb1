"""The canonical GS1 Digital Link URI of an EPC identifier: EPC URIs (pure identity, class and
pattern URIs) and Digital Link URIs on any host, mapped to ``https://id.gs1.org/...`` at the
finest identification level (a serial drops the lot; no query string, no CPV), as the CBV 2.0
event hash and GS1's reference implementation of it define them.

This is the one canonicaliser: the event hash, the registry's node keys and
[`epc_to_digital_link`][antifake.gs1.epc_to_digital_link] all use it. Lenient by design (the hash
must accept what GS1's reference accepts): anything it does not recognise gives ``None``.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["canonical_gs1_uri", "check_digit"]



def check_digit(digits: str) -> str:
    """The GS1 mod-10 check digit of a string of ASCII digits (General Specifications 7.9);
    no validation: callers hold digits already checked."""
    total = 0
    for i, c in enumerate(reversed(digits)):
        total += (ord(c) - 48) * (3 if i % 2 == 0 else 1)
    return str(-total % 10)


_DL_ESCAPES = str.maketrans(
    {"!": "%21", "(": "%28", ")": "%29", "*": "%2A", "+": "%2B", ",": "%2C", ":": "%3A"}
)


def _dl_escape(text: str) -> str:
    return text.translate(_DL_ESCAPES)


# One character of a GS1 alphanumeric EPC component (TDS "GS3A3"), and of a CPI component.
_A = (
    r"(?:%(?:2[125-9A-Fa-f]|3[0-9A-Fa-f]|4[1-9A-Fa-f]|5[0-9AaFf]|6[1-9A-Fa-f]|7[0-9Aa])"
    r"|[!')(*+,.0-9:;=A-Za-z_-])"
)
_CPI = r"(?:%(?:2[3dfDF]|3[0-9]|4[1-9A-Fa-f]|5[0-9Aa])|[0-9A-Z-])"


_UNIT_PATTERNS: dict[tuple[str, int, int], re.Pattern[str]] = {}


def _units(pattern: str, text: str, lo: int, hi: int) -> bool:
    """Whether ``text`` is ``lo`` to ``hi`` units of ``pattern``."""
    compiled = _UNIT_PATTERNS.get((pattern, lo, hi))
    if compiled is None:
        compiled = _UNIT_PATTERNS[pattern, lo, hi] = re.compile(f"{pattern}{{{lo},{hi}}}")
    return compiled.fullmatch(text) is not None


def _split_key(body: str, total: int) -> tuple[str, str] | None:
    """``gcp.ref`` with a 6-12 digit company prefix and ``total`` digits in all."""
    gcp, sep, ref = body.partition(".")
    if (
        not sep
        or not 6 <= len(gcp) <= 12
        or not gcp.isdigit()
        or not gcp.isascii()
        or len(gcp) + len(ref) != total
        or (ref and not (ref.isdigit() and ref.isascii()))
    ):
        return None
    return gcp, ref


def _gtin(gcp: str, item: str) -> str:
    raw = item[:1] + gcp + item[1:]
    return raw + check_digit(raw)


def _with_cd(digits: str) -> str:
    return digits + check_digit(digits)


def _epc_uri(uri: str) -> str | None:
    for scheme in _EPC_SCHEMES:
        if uri.startswith(scheme):
            return _EPC_SCHEMES[scheme](uri[len(scheme):])
    return None


def _fields(body: str, count: int) -> list[str] | None:
    parts = body.split(".", count - 1)
    return parts if len(parts) == count else None


def _sgtin(body: str) -> str | None:
    parts = _fields(body, 3)
    if not parts or not (key := _split_key(parts[0] + "." + parts[1], 13)) or not key[1]:
        return None
    if not _units(_A, parts[2], 1, 20):
        return None
    return f"01/{_gtin(*key)}/21/{_dl_escape(parts[2])}"


def _sscc(body: str) -> str | None:
    key = _split_key(body, 17)
    if not key or not key[1]:
        return None
    gcp, ref = key
    return "00/" + _with_cd(ref[0] + gcp + ref[1:])


def _sgln(body: str) -> str | None:
    parts = _fields(body, 3)
    if not parts or not (key := _split_key(parts[0] + "." + parts[1], 12)):
        return None
    if not _units(_A, parts[2], 1, 20):
        return None
    gln = _with_cd(key[0] + key[1])
    return f"414/{gln}" if parts[2] == "0" else f"414/{gln}/254/{_dl_escape(parts[2])}"


def _grai(body: str) -> str | None:
    parts = _fields(body, 3)
    if not parts or not (key := _split_key(parts[0] + "." + parts[1], 12)):
        return None
    if not _units(_A, parts[2], 1, 16):
        return None
    return "8003/" + _with_cd("0" + key[0] + key[1]) + _dl_escape(parts[2])


def _giai(body: str) -> str | None:
    gcp, sep, ref = body.partition(".")
    if not sep or not (6 <= len(gcp) <= 12 and gcp.isdigit() and gcp.isascii()):
        return None
    if not _units(_A, ref, 1, 30 - len(gcp)):
        return None
    return "8004/" + gcp + _dl_escape(ref)


def _service(ai: str, total: int) -> Any:
    def convert(body: str) -> str | None:
        key = _split_key(body, total)
        if not key or not key[1]:
            return None
        return ai + "/" + _with_cd(key[0] + key[1])

    return convert


def _gdti(body: str) -> str | None:
    parts = _fields(body, 3)
    if not parts or not (key := _split_key(parts[0] + "." + parts[1], 12)):
        return None
    # With a 12-digit company prefix the serial has 1-20 characters, otherwise 0-19 (as in
    # the reference implementation).
    lo, hi = (1, 20) if len(key[0]) == 12 else (0, 19)
    if not (parts[2] == "" and lo == 0) and not _units(_A, parts[2], lo, hi):
        return None
    return "253/" + _with_cd(key[0] + key[1]) + _dl_escape(parts[2])


def _cpi(body: str) -> str | None:
    parts = _fields(body, 2)
    if not parts:
        return None
    gcp = parts[0]
    cpref, sep, serial = parts[1].rpartition(".")
    if not sep or not (6 <= len(gcp) <= 12 and gcp.isdigit() and gcp.isascii()):
        return None
    if not _units(_CPI, cpref, 1, 30 - len(gcp)):
        return None
    if not (1 <= len(serial) <= 12 and serial.isdigit() and serial.isascii()):
        return None
    return f"8010/{_dl_escape(gcp + cpref)}/8011/{serial}"


def _sgcn(body: str) -> str | None:
    parts = _fields(body, 3)
    if not parts or not (key := _split_key(parts[0] + "." + parts[1], 12)):
        return None
    serial = parts[2]
    if not (1 <= len(serial) <= 12 and serial.isdigit() and serial.isascii()):
        return None
    return "255/" + _with_cd(key[0] + key[1]) + serial


def _ginc(body: str) -> str | None:
    gcp, sep, ref = body.partition(".")
    if not sep or not (6 <= len(gcp) <= 12 and gcp.isdigit() and gcp.isascii()):
        return None
    if not _units(_A, ref, 1, 30 - len(gcp)):
        return None
    return "401/" + gcp + _dl_escape(ref)


def _itip(body: str) -> str | None:
    parts = _fields(body, 5)
    if not parts or not (key := _split_key(parts[0] + "." + parts[1], 13)) or not key[1]:
        return None
    piece, total, serial = parts[2], parts[3], parts[4]
    if not (re.fullmatch(r"[0-9]{2}", piece) and re.fullmatch(r"[0-9]{2}", total)):
        return None
    if not _units(_A, serial, 1, 20):
        return None
    return f"8006/{_gtin(*key)}{piece}{total}/21/{_dl_escape(serial)}"


def _upui(body: str) -> str | None:
    parts = _fields(body, 3)
    if not parts or not (key := _split_key(parts[0] + "." + parts[1], 13)) or not key[1]:
        return None
    if not _units(_A, parts[2], 1, 28):
        return None
    return f"01/{_gtin(*key)}/235/{_dl_escape(parts[2])}"


def _pgln(body: str) -> str | None:
    key = _split_key(body, 12)
    return "417/" + _with_cd(key[0] + key[1]) if key else None


def _lgtin(body: str) -> str | None:
    parts = _fields(body, 3)
    if not parts or not (key := _split_key(parts[0] + "." + parts[1], 13)) or not key[1]:
        return None
    if not _units(_A, parts[2], 1, 20):
        return None
    return f"01/{_gtin(*key)}/10/{_dl_escape(parts[2])}"


def _pattern(total: int, build: Any, *, extra: int = 0) -> Any:
    """An EPC pattern URI ``gcp.ref[.x.y].*`` naming a class: ``build(gcp, ref, extras)``."""

    def convert(body: str) -> str | None:
        parts = body.split(".")
        if len(parts) != 3 + extra or parts[-1] != "*":
            return None
        key = _split_key(parts[0] + "." + parts[1], total)
        if not key:
            return None
        return build(key[0], key[1], parts[2:-1])

    return convert


def _idpat_cpi(body: str) -> str | None:
    gcp, sep, rest = body.partition(".")
    cpref, sep2, star = rest.rpartition(".")
    if not (sep and sep2 and star == "*"):
        return None
    if not (6 <= len(gcp) <= 12 and gcp.isdigit() and gcp.isascii()):
        return None
    if not _units(_CPI, cpref, 1, 30 - len(gcp)):
        return None
    return "8010/" + _dl_escape(gcp + cpref)


def _idpat_itip(gcp: str, ref: str, extras: list[str]) -> str | None:
    if not ref or not all(re.fullmatch(r"[0-9]{2}", x) for x in extras):
        return None
    return "8006/" + _gtin(gcp, ref) + "".join(extras)


_EPC_SCHEMES: dict[str, Any] = {
    "urn:epc:id:sgtin:": _sgtin,
    "urn:epc:id:sscc:": _sscc,
    "urn:epc:id:sgln:": _sgln,
    "urn:epc:id:grai:": _grai,
    "urn:epc:id:giai:": _giai,
    "urn:epc:id:gsrnp:": _service("8017", 17),
    "urn:epc:id:gsrn:": _service("8018", 17),
    "urn:epc:id:gdti:": _gdti,
    "urn:epc:id:cpi:": _cpi,
    "urn:epc:id:sgcn:": _sgcn,
    "urn:epc:id:ginc:": _ginc,
    "urn:epc:id:gsin:": _service("402", 16),
    "urn:epc:id:itip:": _itip,
    "urn:epc:id:upui:": _upui,
    "urn:epc:id:pgln:": _pgln,
    "urn:epc:class:lgtin:": _lgtin,
    "urn:epc:idpat:sgtin:": _pattern(13, lambda g, r, x: "01/" + _gtin(g, r) if r else None),
    "urn:epc:idpat:grai:": _pattern(12, lambda g, r, x: "8003/" + _with_cd("0" + g + r)),
    "urn:epc:idpat:gdti:": _pattern(12, lambda g, r, x: "253/" + _with_cd(g + r)),
    "urn:epc:idpat:sgcn:": _pattern(12, lambda g, r, x: "255/" + _with_cd(g + r)),
    "urn:epc:idpat:cpi:": _idpat_cpi,
    "urn:epc:idpat:itip:": _pattern(13, _idpat_itip, extra=2),
    "urn:epc:idpat:upui:": _pattern(13, lambda g, r, x: "01/" + _gtin(g, r) if r else None),
}

_DL_KEY_NAMES = (
    "01|gtin|8006|itip|8010|cpid|414|gln|417|party|8017|gsrnp|8018|gsrn|255|gcn|00|sscc|253|"
    "gdti|401|ginc|402|gsin|8003|grai|8004|giai"
)
_DL_LIKE = re.compile(rf"https?:[^?#]*/(?:{_DL_KEY_NAMES})/\d{{4}}[^/]")
_DL_SHORT_NAMES = (
    ("/gtin/", "/01/"), ("/itip/", "/8006/"), ("/cpid/", "/8010/"), ("/gln/", "/414/"),
    ("/party/", "/417/"), ("/gsrnp/", "/8017/"), ("/gsrn/", "/8018/"), ("/gcn/", "/255/"),
    ("/sscc/", "/00/"), ("/gdti/", "/253/"), ("/ginc/", "/401/"), ("/gsin/", "/402/"),
    ("/grai/", "/8003/"), ("/giai/", "/8004/"), ("/cpv/", "/22/"), ("/lot/", "/10/"),
    ("/ser/", "/21/"),
)
_DL_HOST = "https://id.gs1.org"
_DL_CANONICAL = re.compile(
    r"https://id\.gs1\.org/(?:01|8006|8010|414|417|8017|8018|255|00|253|401|402|8003|8004)"
    r"/\d{4}[^/]"
)
_DL_PRIMARY_KEYS = ("00", "01", "253", "255", "401", "402", "414", "417", "8003", "8004",
                    "8006", "8010", "8017", "8018")
# Characters allowed in the constrained Digital Link's alphanumeric values.
_V = r"[\x22\x27\x2D\x2E\x30-\x39\x3B-\x3F\x41-\x5A\x5F\x61-\x7A]"
_GTIN_LIKE = r"https://id\.gs1\.org/(?:8006/\d{18}|01/\d{14})"
_DL_CPV_LAST = re.compile(rf"{_GTIN_LIKE}/22/{_V}{{0,20}}")
_DL_CPV_MID = re.compile(rf"{_GTIN_LIKE}/22/(?:{_V}|/){{0,20}}")
_DL_LOT_AND_SERIAL = re.compile(rf"{_GTIN_LIKE}/10/{_V}{{0,20}}/21/{_V}{{0,20}}")
_DL_VALID = re.compile(
    r"https://id\.gs1\.org/(?:"
    + "|".join(
        (
            r"00/\d{18}",
            rf"01/\d{{14}}(?:/21/{_V}{{0,20}}|/10/{_V}{{0,20}}|/235/{_V}{{0,28}})?",
            rf"253/\d{{13}}{_V}{{0,17}}",
            r"255/\d{13}\d{0,12}",
            rf"401/{_V}{{0,30}}",
            r"402/\d{17}",
            rf"414/\d{{13}}(?:/254/{_V}{{0,20}})?",
            r"417/\d{13}",
            rf"8003/\d{{14}}{_V}{{0,16}}",
            rf"8004/{_V}{{0,30}}",
            rf"8006/\d{{18}}(?:/21/{_V}{{0,20}}|/10/{_V}{{0,20}})?",
            r"8010/[\x23\x2D\x2F\x30-\x39\x41-\x5A]{0,30}(?:/8011/\d{0,12})?",
            r"8017/\d{18}",
            r"8018/\d{18}",
        )
    )
    + ")"
)


def _digital_link(uri: str) -> str | None:
    if not _DL_LIKE.match(uri):
        return None
    uri = uri.split("?", 1)[0]
    for short, ai in _DL_SHORT_NAMES:
        if short in uri:
            uri = uri.replace(short, ai)
    if not _DL_CANONICAL.match(uri):
        for ai in _DL_PRIMARY_KEYS:
            at = uri.find(f"/{ai}/")
            if at != -1:
                uri = _DL_HOST + uri[at:]
                break
    if not re.match(r"https://id\.gs1\.org/01/\d{14}", uri):
        for digits, pad in ((13, "0"), (12, "00"), (8, "000000")):
            if re.match(rf"https://id\.gs1\.org/01/\d{{{digits}}}", uri):
                uri = uri.replace("/01/", "/01/" + pad)
                break
    cpv = uri.find("/22/")
    if cpv != -1:
        tail = uri[cpv + 4:]
        if _DL_CPV_LAST.fullmatch(uri):
            uri = uri[:cpv]
        elif _DL_CPV_MID.fullmatch(uri):
            uri = uri[:cpv] + tail[tail.find("/"):]
    if _DL_LOT_AND_SERIAL.fullmatch(uri):
        lot = uri.find("/10/")
        tail = uri[lot + 4:]
        uri = uri[:lot] + tail[tail.find("/"):]
    return uri if _DL_VALID.fullmatch(uri) else None


def canonical_gs1_uri(uri: str) -> str | None:
    """The constrained canonical GS1 Digital Link URI for an EPC URI, EPC class URI, EPC
    pattern URI or GS1 Digital Link URI (any domain), or ``None`` if ``uri`` is none of these.

    >>> canonical_gs1_uri("urn:epc:id:sgtin:4012345.011111.9876")
    'https://id.gs1.org/01/04012345111118/21/9876'
    >>> canonical_gs1_uri("https://example.com/gtin/9780345418913/10/L1/21/765?x=1")
    'https://id.gs1.org/01/09780345418913/21/765'
    """
    if not isinstance(uri, str) or "." not in uri:
        return None
    if uri.startswith("urn:epc:"):
        path = _epc_uri(uri)
        return _DL_HOST + "/" + path if path else None
    if uri.startswith("http"):
        return _digital_link(uri)
    return None
