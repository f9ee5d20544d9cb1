"""GS1 element strings in HRI form, ``(01)...(21)...``."""

from __future__ import annotations

from datetime import date

from antifake.errors import GS1Error
from antifake.gs1._text import _HRI_AI, MAX_URI_LENGTH, _show
from antifake.gs1.ai import _ai_label, _put_ai
from antifake.gs1.dates import expiry_to_ai17
from antifake.gs1.gtin import validate_gtin, validate_lot, validate_serial

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
        _put_ai(out, ai, value)
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
