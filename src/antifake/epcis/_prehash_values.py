"""Step 5 of the CBV 2.0 pre-hash string: normalised timestamps, numbers, legacy CBV URNs and
GS1 identifiers."""

from __future__ import annotations

import functools
import math
import re
from datetime import UTC, datetime, timedelta

from antifake.epcis.cbv import _CBV
from antifake.gs1.canonical import canonical_gs1_uri
from antifake.timeutil import parse_timestamp

# --------------------------------------------------------------------------------------------
# Step 5: value normalisation

_LEGACY_CBV = (
    ("urn:epcglobal:cbv:bizstep:", _CBV + "BizStep-"),
    ("urn:epcglobal:cbv:disp:", _CBV + "Disp-"),
    ("urn:epcglobal:cbv:btt:", _CBV + "BTT-"),
    ("urn:epcglobal:cbv:sdt:", _CBV + "SDT-"),
    ("urn:epcglobal:cbv:er:", _CBV + "ER-"),
)


@functools.lru_cache(maxsize=1 << 16)
def _canonize(text: str) -> str:
    if "urn:epcglobal:cbv:" in text:
        for old, new in _LEGACY_CBV:
            text = text.replace(old, new)
    text = _numeric(text)
    canonical = canonical_gs1_uri(text)
    return canonical if canonical else text


def _numeric(text: str) -> str:
    first = text[:1]
    if not (first.isdigit() or first in "+-.iInN"):
        return text  # cannot be a number (float() would also accept what this lets through)
    try:
        number = float(text)
    except ValueError:
        return text
    if math.isinf(number) or math.isnan(number):
        return text
    if number == int(number):
        return str(int(number))
    return str(number)


# The usual spelling of a timestamp (what antifake writes): minute, second, fraction, zone.
_PLAIN_TIMESTAMP = re.compile(
    r"([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}):([0-5][0-9])(?:\.([0-9]+))?"
    r"(Z|[+-][0-9]{2}:[0-9]{2})"
)


@functools.lru_cache(maxsize=4096)
def _utc_minute(minute: str, zone: str) -> str | None:
    """``YYYY-MM-DDTHH:MM`` at UTC offset ``zone`` (``Z`` or ``+hh:mm``) as the same minute in
    UTC; ``None`` if it is no valid time or falls out of range."""
    offset = 0
    if zone != "Z":
        hours, minutes = int(zone[1:3]), int(zone[4:6])
        if hours > 23 or minutes > 59:
            return None
        offset = hours * 60 + minutes
        if zone[0] == "-":
            offset = -offset
    try:
        dt = datetime(int(minute[:4]), int(minute[5:7]), int(minute[8:10]), int(minute[11:13]),
                      int(minute[14:16]))
        if offset:
            dt -= timedelta(minutes=offset)
    except (ValueError, OverflowError):
        return None
    return f"{dt.year:04d}-{dt.month:02d}-{dt.day:02d}T{dt.hour:02d}:{dt.minute:02d}"


def _fast_timestamp_text(text: str) -> str:
    """``_timestamp_text(text)``, quicker for timestamps spelled as antifake writes them."""
    plain = _PLAIN_TIMESTAMP.fullmatch(text)
    if plain is not None:
        # The offset is whole minutes: only the minute changes, unless the rounding of the
        # fraction carries into it (left to the general path).
        minute, second, fraction, zone = plain.groups()
        utc = _utc_minute(minute, zone)
        if utc is not None:
            if fraction is not None and len(fraction) == 3:
                return utc + ":" + second + "." + fraction + "Z"
            millis = round(int(fraction[:6].ljust(6, "0")), -3) // 1000 if fraction else 0
            if millis < 1000:
                return f"{utc}:{second}.{millis:03d}Z"
    return _timestamp_text(text)


def _timestamp_text(text: str) -> str:
    """A timestamp as the hash writes it (``utc_millis``), or ``text`` if it is none."""
    dt = parse_timestamp(text)
    if dt is None:
        return text
    return utc_millis(dt) or text


def utc_millis(dt: datetime) -> str | None:
    """A timezone-aware datetime as the hash writes it: UTC, milliseconds (sub-millisecond
    digits rounded half to even), ``Z``; ``None`` if out of range."""
    try:
        dt = dt.astimezone(UTC)
        millis = round(dt.microsecond, -3)
        dt = dt.replace(microsecond=0) + timedelta(microseconds=millis)
    except OverflowError:
        return None
    return (
        f"{dt.year:04d}-{dt.month:02d}-{dt.day:02d}T{dt.hour:02d}:{dt.minute:02d}:"
        f"{dt.second:02d}.{dt.microsecond // 1000:03d}Z"
    )
