"""The Application Identifier table: formats, names and Digital Link short names."""

from __future__ import annotations

from datetime import date

from antifake.errors import GS1Error
from antifake.gs1._text import _check_cset, _check_digits, _is_digits, _show
from antifake.gs1.dates import _yymmdd_to_date
from antifake.gs1.gtin import _check_key, validate_gtin

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


def _named_ai(name: str, what: str) -> str | None:
    """The AI a parameter ``name`` stands for (its number or Digital Link short name), or None
    for any other name; a numeric name that is no AI is refused."""
    ai = _resolve_ai(name)
    if ai is None and _is_digits(name):
        raise GS1Error(f"{what} {name!r} is numeric but not a 2- to 4-digit AI")
    return ai


def _put_ai(ais: dict[str, str], ai: str, value: str) -> None:
    """Validate ``value`` for ``ai`` and store it in ``ais``; the same AI twice must agree."""
    if not value:
        raise GS1Error(f"{_ai_label(ai)} has an empty value")
    v = _validate_ai(ai, value)
    old = ais.get(ai)
    if old is not None and old != v:
        raise GS1Error(f"{_ai_label(ai)} is given twice with different values {old!r} and {v!r}")
    ais[ai] = v
