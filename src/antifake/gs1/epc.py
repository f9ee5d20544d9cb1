"""EPC pure identity URIs (TDS 2.x) and their canonical Digital Link."""

from __future__ import annotations

import re
from collections.abc import Callable

from antifake.errors import GS1Error
from antifake.gs1._text import (
    CANONICAL_BASE,
    _check_cset,
    _check_digits,
    _coerce_text,
    _epc_encode,
    _is_digits,
    _show,
)
from antifake.gs1.digital_link import DigitalLink, _ordered_qualifiers, _parse_dl
from antifake.gs1.gtin import _check_key, gtin_check_digit, validate_gtin, validate_serial

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
