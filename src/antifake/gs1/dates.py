"""Dates of AI 17 (YYMMDD): the century rule and day 00."""

from __future__ import annotations

import calendar
import re
from datetime import date, datetime

from antifake.errors import GS1Error
from antifake.gs1._text import _is_digits, _show

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
