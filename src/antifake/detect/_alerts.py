"""Alerts and their evidence: the [`Alert`][antifake.detect.Alert] tuple, the reason a
record's aux bits spell out, and the ordering of a record's evidence events.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from antifake.detect._config import _KIND_ID, _REASON_NAME, ACT_ON_IT, KINDS, DetectError
from antifake.timeutil import from_micros, to_microseconds

if TYPE_CHECKING:
    from antifake.detect._data import TraceData


class _AlertFields(NamedTuple):
    kind: str
    codes: tuple[str, ...]
    score: float
    evidence: tuple[str, ...]
    first_us: int
    last_us: int
    reason: str


class Alert(_AlertFields):
    """One finding: ``kind`` (see [`KINDS`][antifake.detect.KINDS]), the EPCs it concerns, a
    score in [0, 1] (>= 0.5: act on it), the ids of the events that prove it (time order), when
    it was first seen (the event that made the rule fire) and last seen, and a short human
    ``reason``.

    An immutable named tuple ``(kind, codes, score, evidence, first_us, last_us, reason)``;
    ``first_seen``/``last_seen`` are the same times as aware UTC datetimes. The constructor
    also takes datetimes (or ISO 8601 strings) for the times."""

    __slots__ = ()

    def __new__(cls, kind: str, codes: Sequence[str], score: float, evidence: Sequence[str],
                first_seen: Any, last_seen: Any = None, reason: str = "") -> Alert:
        if kind not in _KIND_ID:
            raise DetectError(f"unknown alert kind {kind!r}")
        try:
            score = float(score)
            first = to_microseconds(first_seen)
            last = first if last_seen is None else to_microseconds(last_seen)
        except (TypeError, ValueError) as exc:
            raise DetectError(f"bad alert field: {exc}") from None
        if not 0.0 <= score <= 1.0:
            raise DetectError(f"alert score {score} outside [0, 1]")
        return tuple.__new__(cls, (kind, tuple(codes), score, tuple(evidence), int(first),
                                   int(last), str(reason)))

    def __repr__(self) -> str:
        codes = self.codes if len(self.codes) <= 3 else self.codes[:3] + ("...",)
        return (f"Alert(kind={self.kind!r}, codes={codes!r} ({len(self.codes)}), "
                f"score={self.score}, evidence={len(self.evidence)} events, "
                f"first_seen={self.first_seen.isoformat()}, reason={self.reason!r})")

    def __getnewargs__(self) -> tuple[Any, ...]:
        return tuple(self)

    @property
    def first_seen(self) -> datetime:
        return _dt(self.first_us)

    @property
    def last_seen(self) -> datetime:
        return _dt(self.last_us)

    @property
    def act(self) -> bool:
        """Score at or above [`ACT_ON_IT`][antifake.detect.ACT_ON_IT]."""
        return self.score >= ACT_ON_IT

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"kind": self.kind, "codes": list(self.codes), "score": self.score,
                "evidence": list(self.evidence), "first_seen": self.first_seen.isoformat(),
                "last_seen": self.last_seen.isoformat(), "reason": self.reason}


_new_alert = tuple.__new__


def _dt(us: int) -> datetime:
    return from_micros(us)


#: What each of the kernel's over_scanned bits (`X_*` in `_detect_types.pxi`) says.
_OVER_SCANNED: tuple[tuple[int, str], ...] = (
    (1, "distinct scanners far from its home"),
    (2, "more distinct scanners than one item has"),
    (4, "seen far from its home, back, and far again (two populations)"),
    (8, "scanned by a phone living far away before or between scans by phones living at its "
        "home (the owner kept it)"),
    (16, "scanned far from its home by a phone living at its home (a traveller: weak)"),
    (32, "scanned at home by phones living in two regions far apart, in turn (two populations "
         "of owners)"),
    (64, "scanned by more consumers' phones than a household has, one of them far from where "
         "it was sold"),
)


def _reason(kind: int, aux: int, data: TraceData, extra: str = "") -> str:
    k = KINDS[kind]
    if k == "impossible_travel":
        if aux & 4:
            return ("scanned far from its home by a phone living far away, too soon after or "
                    "before a scan by a phone living at its home for the trip (a copy)")
        if aux & 2:
            return ("scanned far from its home by one device and, too soon after or before "
                    "for a trip, by another device that gave no location")
        return "one device jumping impossibly far (weak)" if aux & 1 else \
            "scanned at two places too far apart for the time between"
    if k == "over_scanned":
        return " and ".join(text for bit, text in _OVER_SCANNED if aux & bit)
    if k == "diversion":
        if extra:
            return extra
        parts = []
        if aux & 1:
            parts.append(f"scanned outside its delivered regions by {aux >> 8} scanner(s)")
        if aux & 2:
            parts.append("sold outside its delivered regions")
        return "; ".join(parts)
    if k == "unauthorized_seller":
        names = [n for bit, n in ((1, "sold"), (2, "listed"), (4, "claimed by a business"))
                 if aux & bit]
        s = (" / ".join(names) + " by a party that never held it") if names else ""
        if aux & 8:
            s = (s + "; " if s else "") + "listed by a former holder (weak)"
        if aux & 16:
            s = (s + "; " if s else "") + ("sold or listed by a shop the recorded chain does "
                                           "not reach (a gap in the records: weak alone)")
        if aux & 32:
            s += (", after a phone living far from that shop had scanned it (its owner "
                  "elsewhere: the shop sold a copy)")
        if aux & 64:
            s += (", far from every region its recorded chain took it to (no plausible next "
                  "step of that chain)")
        return s
    if k == "inactive_stamp_activity":
        parts = []
        if aux & 63:
            name = _REASON_NAME.get(aux & 63, "unknown reason")
            parts.append(f"activity after decommissioning ({name})")
        elif not aux & 64:
            parts.append("activity after decommissioning (unknown reason)")
        if aux & 64:
            parts.append("activity after the stamp was claimed")
        return "; ".join(parts)
    if k == "out_of_order":
        names = [n for bit, n in ((1, "events before its commissioning"),
                                  (2, "never commissioned, packed into a known container"),
                                  (4, "back in the supply chain after a sale"),
                                  (8, "received before it was shipped"),
                                  (16, "packed or unpacked by a party outside its chain"))
                 if aux & bit]
        return "; ".join(names)
    if k == "claim_lockout":
        return f"{aux} wrong PINs" + ("" if aux >= 5 else " (no lock yet)")
    if k == "duplicate_listing":
        return f"listed by {aux} sellers"
    return ""


def _segments(off: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Positions ``off[i] .. off[i] + n[i] - 1`` of every segment, concatenated."""
    n = np.asarray(n, dtype=np.int64)
    if not len(n):
        return np.zeros(0, np.int64)
    out_start = np.cumsum(n) - n
    return np.arange(int(n.sum()), dtype=np.int64) + np.repeat(
        np.asarray(off, dtype=np.int64) - out_start, n)


def _sorted_evidence(recs: np.ndarray, ranks: np.ndarray, order: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Evidence of each record in rank order without repeats, as input indices; records'
    ``ev_off``/``ev_n`` rewritten to match."""
    recs = recs.copy()
    if not len(recs):
        return recs, np.zeros(0, np.int64)
    owner = np.repeat(np.arange(len(recs)), recs["ev_n"])
    pos = _segments(recs["ev_off"], recs["ev_n"])
    r = ranks[pos] if len(pos) else np.zeros(0, np.int32)
    o = np.lexsort((r, owner))
    owner, r = owner[o], r[o]
    keep = np.ones(len(r), dtype=bool)
    if len(r) > 1:
        keep[1:] = (owner[1:] != owner[:-1]) | (r[1:] != r[:-1])
    owner, r = owner[keep], r[keep]
    counts = np.bincount(owner, minlength=len(recs))
    recs["ev_n"] = counts
    recs["ev_off"] = np.cumsum(counts) - counts
    return recs, order[r].astype(np.int64)


def _changed(before: list[Alert], after: list[Alert]) -> list[Alert]:
    """Alerts of ``after`` not in ``before`` (kept alerts are the same objects: compared by
    identity first, by value only among the few rebuilt ones)."""
    old_ids = set(map(id, before))
    fresh = [a for a in after if id(a) not in old_ids]
    if not fresh:
        return []
    new_ids = set(map(id, after))
    gone = {a for a in before if id(a) not in new_ids}
    return [a for a in fresh if a not in gone]


@contextlib.contextmanager
def _gc_paused() -> Any:
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()
