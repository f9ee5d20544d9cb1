"""The registry's rules as functions and constants: lifecycle (decommissioning reasons, the
undo window, reactivation), claims (wrong PINs, claim events), party identifiers, commissioning
events of a batch."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from antifake.epcis.event_hash import (
    AF_NS,
    prehash_string,
)
from antifake.epcis.event_id import hash_to_id, id_to_hash
from antifake.epcis.events import BIZ_CLAIMING, Event
from antifake.epcis.kinds import EventKind, reason_of_disposition
from antifake.errors import (
    FormatError,
    GS1Error,
    LifecycleError,
    RegistryError,
)
from antifake.gs1.canonical import canonical_gs1_uri
from antifake.storage import (
    EventRow,
    NodeState,
    Storage,
)
from antifake.timeutil import from_micros, parse_time, to_iso
from antifake.verify import Status

#: Reasons a stamp may be decommissioned for.
REASONS = ("sold", "exported", "destroyed", "recalled", "stolen", "sample")
#: Decommissions that can never be undone.
NEVER_REACTIVATED = frozenset({"recalled", "stolen", "destroyed"})
#: How long a decommission may be undone (EU FMD: 10 days).
UNDO_WINDOW = timedelta(days=10)
#: Wrong PINs after which a stamp's claim is locked.
MAX_WRONG_PINS = 5
#: Detection alert kinds that mean copies of a code are in circulation (see flag_suspected).
CLONE_KINDS = frozenset({"impossible_travel", "over_scanned", "duplicate_listing"})
#: EPCs per commissioning event written by ``register`` (no event is huge).
COMMISSION_CHUNK = 10_000

_DEFAULT_NS = {"af": AF_NS}
_ACTIVE, _DECOMMISSIONED = 0, 1
_UNCLAIMED, _CLAIMED, _LOCKED = 0, 1, 2
_CLAIM_NAMES = ("unclaimed", "claimed", "locked")
_KEY_OK = (Status.AUTHENTIC, Status.KEY_REVOKED, Status.KEY_EXPIRED)
_INACTIVE_STATUS = {"recalled": Status.RECALLED, "stolen": Status.STOLEN}


def _recorder(by: str | None, what: str) -> str:
    """The party recording a lifecycle step: required (``by=``) for those that need one."""
    if not isinstance(by, str) or not by:
        raise RegistryError(f"{what} needs by=, the party id that records it")
    return by


def _claim_event(epc: str, *, by: str | None, at: datetime, result: str, attempt: int,
                 lat: float | None, lon: float | None) -> Event:
    # Event.claim knows ok / wrong_pin / locked only, and two identical attempts in one
    # millisecond must stay two events: af:attempt numbers them.
    return Event(type="ObjectEvent", action="OBSERVE", time=at, epcs=(epc,),
                 biz_step=BIZ_CLAIMING, by=by, lat=lat, lon=lon,
                 extensions={"af:claim": result, "af:attempt": attempt})


def _merge_contexts(contexts: dict[int, dict[str, str]], literal: set[str]
                    ) -> tuple[dict[str, str], dict[int | None, list[tuple[str, str]]]]:
    """One prefix map for events read with different ones: a prefix bound to two IRIs, or
    written literally by some event, is renamed (``example`` -> ``example2``) in the events
    that declare it. Returns the map and the renames per context id (None: the default)."""
    every: list[tuple[int | None, dict[str, str]]] = [(None, dict(_DEFAULT_NS))]
    every += sorted(contexts.items())
    taken = {p for _, ns in every for p in ns} | literal
    merged: dict[str, str] = {}
    alias: dict[tuple[str, str], str] = {}
    renames: dict[int | None, list[tuple[str, str]]] = {}
    for cid, ns in every:
        for prefix, iri in ns.items():
            if prefix not in literal and merged.setdefault(prefix, iri) == iri:
                continue
            fresh = alias.get((prefix, iri))
            if fresh is None:
                k = 2
                while f"{prefix}{k}" in taken:
                    k += 1
                fresh = f"{prefix}{k}"
                taken.add(fresh)
                alias[(prefix, iri)] = fresh
                merged[fresh] = iri
            renames.setdefault(cid, []).append((prefix, fresh))
    return merged, renames


def _time(at: Any) -> datetime:
    return datetime.now(UTC) if at is None else parse_time(at)


def _dt(us: int | None) -> datetime | None:
    return None if us is None else from_micros(us)


def _canonical(epc: str) -> str | None:
    """The canonical GS1 Digital Link of an EPC URN or Digital Link (None: not GS1)."""
    if epc.startswith(("urn:epc:", "http://", "https://")):
        try:
            return canonical_gs1_uri(epc)
        except (FormatError, ValueError):
            return None
    return None


def _check_reactivation(s: NodeState, t_us: int, epc: str) -> None:
    if s.reason in NEVER_REACTIVATED:
        raise LifecycleError(f"{epc} was decommissioned as {s.reason}: that can never be undone")
    since = s.since_us or 0
    if t_us < since:
        raise LifecycleError(f"{epc}: reactivation at {to_iso(from_micros(t_us))} is before its "
                             f"decommissioning at {to_iso(from_micros(since))}")
    if t_us - since > UNDO_WINDOW // timedelta(microseconds=1):
        raise LifecycleError(f"{epc}: the 10-day undo window of its decommissioning "
                             f"({s.reason}, {to_iso(from_micros(since))}) has passed")


def _effect(e: Event, r: EventRow, s: NodeState, node: int, store: Storage) -> bool:
    """Apply one lifecycle or claim event to a node's state; True when it changed."""
    t = r.time_us
    if r.kind == EventKind.DECOMMISSION:
        if s.since_us is not None and t < s.since_us:
            return False  # older than the current state: history
        reason = e.reason or reason_of_disposition(e.disposition) or "unknown"
        s.state, s.reason, s.since_us = _DECOMMISSIONED, reason, t
        return True
    if r.kind == EventKind.REACTIVATE:
        if s.state != _DECOMMISSIONED or (s.since_us is not None and t < s.since_us):
            return False
        _check_reactivation(s, t, store.node_epc(node))
        s.state, s.reason, s.since_us = _ACTIVE, None, t
        return True
    # a claim attempt
    s.attempts += 1
    result = e.claim_result
    if s.claim == _UNCLAIMED and s.state == _ACTIVE:
        if result == "ok":
            s.claim, s.claim_us = _CLAIMED, t
        elif result == "wrong_pin":
            s.wrong_pins += 1
            if s.wrong_pins >= MAX_WRONG_PINS:
                s.claim = _LOCKED
    return True


def _party_keys(gln: str | None, locations: Iterable[str]) -> list[tuple[str, str]]:
    """``(gln_key, kind)`` of a party's PGLN and SGLN locations, validated."""
    out: list[tuple[str, str]] = []
    if gln is not None:
        out.append((_gln_of(gln, "gln=", "417:", "a party GLN: give urn:epc:id:pgln:..., "
                            "https://id.gs1.org/417/{gln} or the 13 digits"), "pgln"))
    if isinstance(locations, str):
        locations = [locations]
    for loc in locations:
        out.append((_gln_of(loc, "location ", "414:", "an SGLN: give urn:epc:id:sgln:... or "
                            "https://id.gs1.org/414/{gln}"), "sgln"))
    return out


def _gln_of(value: str, label: str, prefix: str, want: str) -> str:
    """The `gln_key` of ``value``, which must start with ``prefix`` (a PGLN or an SGLN)."""
    from antifake.gs1 import gln_key

    try:
        key = gln_key(value)
    except GS1Error as exc:
        raise RegistryError(f"{label}{value!r:.60}: {exc}") from None
    if key is None or not key.startswith(prefix):
        raise RegistryError(f"{label}{value!r:.60} is not {want}")
    return key


def _commission_hashes(chunks: list[list[str]], owner: str, at: datetime
                       ) -> tuple[dict[str, Any], list[bytes]]:
    """The EPCIS template and CBV 2.0 hashes of ``Event.commission(chunk, by=owner, at=at)``
    for every chunk, without building an Event per chunk.

    The canonical pre-hash string of such an event is ``head + sorted("epc=" + e) + tail``
    for EPCs that are canonical already (a batch's EPCs are: a canonical Digital Link or an
    ``urn:antifake:`` URI, all of one form). This is checked, for the batch's first and last
    EPC, against ``event_hash`` itself; anything unexpected takes the slow path. (The general
    hash costs about 50 us per EPC: a minute for 1 M stamps.)"""
    a, b = chunks[0][0], chunks[-1][-1]
    one = Event.commission([a], by=owner, at=at)
    template = one.to_epcis()
    ctx = [dict(one.namespaces)]
    marker = "epcListepc=" + a
    pre = prehash_string(template, ctx)
    i = pre.find(marker)
    fast = i >= 0 and pre.find(marker, i + 1) < 0
    if fast:
        head, tail = pre[: i + len("epcList")], pre[i + len(marker):]

        def digest(chunk: list[str]) -> bytes:
            body = "".join(sorted(["epc=" + e for e in chunk]))
            return hashlib.sha256((head + body + tail).encode("utf-8")).digest()

        pair = [a, b] if a != b else [a]
        two = Event.commission(pair, by=owner, at=at)
        fast = hash_to_id(digest(pair)) == two.event_id
    if not fast:
        return template, [id_to_hash(Event.commission(c, by=owner, at=at).event_id)
                          for c in chunks]
    return template, [digest(c) for c in chunks]
