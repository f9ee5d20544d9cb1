"""The one clock: ISO 8601 text and timezone-aware datetimes in, UTC microseconds and ISO 8601
out. Every module that reads or writes a time goes through here."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import numpy as np

from antifake.errors import FormatError

__all__ = ["from_micros", "parse_time", "parse_timestamp", "to_iso", "to_micros",
           "to_microseconds"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def parse_time(value: datetime | str) -> datetime:
    """A timezone-aware datetime from a datetime or an ISO 8601 string (``Z`` allowed).

    Naive datetimes are refused: stamps cross time zones and a guess would be wrong.
    """
    if isinstance(value, str):
        if len(value) > 64:
            raise FormatError("timestamp text is too long")
        parsed = parse_timestamp(value.strip(), naive_as_utc=False)
        if parsed is None:
            raise FormatError(f"not an ISO 8601 timestamp: {value!r}")
        value = parsed
    if not isinstance(value, datetime):
        raise FormatError(f"expected a datetime or ISO 8601 string, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise FormatError("timestamps must carry a time zone (e.g. 2026-11-29T10:00:00+07:00)")
    return value


def to_iso(t: datetime) -> str:
    """ISO 8601 in UTC with a ``Z``."""
    return t.astimezone(UTC).isoformat().replace("+00:00", "Z")


def to_micros(t: datetime | str) -> int:
    """Microseconds since the Unix epoch."""
    delta = parse_time(t) - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(us: int) -> datetime:
    """Inverse of `to_micros` (UTC); [`FormatError`][antifake.errors.FormatError] outside the
    years 1-9999 that a datetime holds."""
    try:
        return _EPOCH + timedelta(microseconds=int(us))
    except OverflowError:
        raise FormatError(f"timestamp {us} µs is out of range") from None


_TIMESTAMP = re.compile(
    r"(?P<y>\d{4})-?(?P<mo>\d{2})-?(?P<d>\d{2})"
    r"(?:[Tt ](?P<h>\d{2})(?::?(?P<mi>\d{2})(?::?(?P<s>\d{2})(?:[.,](?P<f>\d+))?)?)?)?"
    r"\s*(?P<tz>[Zz]|[+-]\d{2}(?::?\d{2})?)?"
)


def parse_timestamp(text: str, *, naive_as_utc: bool = True) -> datetime | None:
    """Parse an ISO 8601 date-time (``2020-03-04T11:00:30.123+01:00``), or return ``None``.

    Fractional seconds beyond microseconds are truncated. Without a UTC offset the result is
    UTC when ``naive_as_utc`` is true, else naive.
    """
    m = _TIMESTAMP.fullmatch(text)
    if m is None:
        return None
    frac = (m["f"] or "")[:6].ljust(6, "0")
    try:
        dt = datetime(
            int(m["y"]), int(m["mo"]), int(m["d"]), int(m["h"] or 0), int(m["mi"] or 0),
            int(m["s"] or 0), int(frac),
        )
    except ValueError:
        return None
    tz = m["tz"]
    if tz is None:
        return dt.replace(tzinfo=UTC) if naive_as_utc else dt
    if tz in "Zz":
        return dt.replace(tzinfo=UTC)
    digits = tz[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:4] or 0)
    if hours > 23 or minutes > 59:
        return None
    offset = timedelta(hours=hours, minutes=minutes)
    return dt.replace(tzinfo=timezone(-offset if tz[0] == "-" else offset))


def to_microseconds(at: Any) -> int:
    """Microseconds since the Unix epoch (UTC) of a timezone-aware ``datetime``, an ISO 8601
    string with an offset (``Z`` allowed), a ``numpy.datetime64`` or an integer (taken as
    microseconds already). Datetimes and strings go through
    `to_micros`; this adds the array-friendly forms."""
    if isinstance(at, bool):
        raise TypeError("a time cannot be a bool")
    if isinstance(at, (int, np.integer)):
        return int(at)
    if isinstance(at, np.datetime64):
        if np.isnat(at):
            raise FormatError("time is NaT")
        return int(at.astype("datetime64[us]").astype(np.int64))
    if isinstance(at, str):
        return to_micros(at.strip())
    if isinstance(at, datetime):
        return to_micros(at)
    raise TypeError(f"cannot read a time from {type(at).__name__}")
