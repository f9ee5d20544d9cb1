"""Timestamps: timezone-aware datetimes in, UTC microseconds and ISO 8601 out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from antifake.errors import FormatError

__all__ = ["parse_time", "to_iso", "to_micros", "from_micros"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def parse_time(value: datetime | str) -> datetime:
    """A timezone-aware datetime from a datetime or an ISO 8601 string (``Z`` allowed).

    Naive datetimes are refused: stamps cross time zones and a guess would be wrong.
    """
    if isinstance(value, str):
        if len(value) > 64:
            raise FormatError("timestamp text is too long")
        try:
            value = datetime.fromisoformat(value.strip().replace("z", "Z"))
        except ValueError:
            raise FormatError(f"not an ISO 8601 timestamp: {value!r}") from None
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
    """Inverse of `to_micros` (UTC)."""
    return _EPOCH + timedelta(microseconds=int(us))
