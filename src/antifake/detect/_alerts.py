"""Alerts and their evidence: the [`Alert`][antifake.detect.Alert] tuple, the reason a
record's aux bits spell out (`antifake.detect._aux`), and the ordering of a record's evidence
events.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from antifake.detect._aux import AUX_BITS
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


_TEXT = {name: text for name, _, _, text in AUX_BITS}
_BITS: dict[str, tuple[tuple[str, int], ...]] = {}
for _name, _kind, _bit, _ in AUX_BITS:
    _BITS[_kind] = _BITS.get(_kind, ()) + ((_name, _bit),)
_REASON_CODE = 63  # inactive_stamp_activity: the low bits hold the decommissioning reason


def _reason(kind: int, aux: int, data: TraceData, extra: str = "") -> str:
    k = KINDS[kind]
    on = [name for name, bit in _BITS.get(k, ()) if aux & bit]
    if k == "impossible_travel":
        for name in ("X_PHONES", "X_UNLOCATED", "X_SAME_SCANNER"):
            if name in on:
                return _TEXT[name]
        return "scanned at two places too far apart for the time between"
    if k == "over_scanned":
        return " and ".join(_TEXT[n] for n in on)
    if k == "out_of_order":
        return "; ".join(_TEXT[n] for n in on)
    if k == "diversion":
        return extra or "; ".join(_TEXT[n].format(n=aux >> 8) for n in on)
    if k == "unauthorized_seller":
        acts = [_TEXT[n] for n in ("X_U_SELL", "X_U_LIST", "X_U_CLAIM") if n in on]
        s = (" / ".join(acts) + " by a party that never held it") if acts else ""
        for n in ("X_U_FORMER", "X_U_GAP"):
            if n in on:
                s = (s + "; " if s else "") + _TEXT[n]
        for n in ("X_U_PHONE", "X_U_REACH", "X_U_UNPACKED"):
            if n in on:
                s += _TEXT[n]
        return s
    if k == "inactive_stamp_activity":
        parts = []
        if aux & _REASON_CODE:
            name = _REASON_NAME.get(aux & _REASON_CODE, "unknown reason")
            parts.append(f"activity after decommissioning ({name})")
        elif not on:
            parts.append("activity after decommissioning (unknown reason)")
        parts += [_TEXT[n] for n in on]
        return "; ".join(parts)
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
