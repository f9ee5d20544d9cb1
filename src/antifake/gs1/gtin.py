"""GTIN check digits and the validation of GTINs, lots and serials."""

from __future__ import annotations

from antifake.errors import GS1Error
from antifake.gs1._text import _NOT_DIGIT, _check_cset, _check_digits
from antifake.gs1.canonical import check_digit

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
