"""Who holds goods after an event, read the way EPCIS 2.0 and CBV 2.0 say it.

An EPCIS event names parties in three places: its ``readPoint`` (where it was recorded), and
its ``sourceList`` / ``destinationList`` entries, each typed with a CBV 2.0 source/destination
type: ``owning_party`` (who owns the goods), ``possessing_party`` (who holds them) or
``location`` (where they are; often an SGLN). Custody is possession, so
[`custody_parties`][antifake.epcis.parties.custody_parties] takes, for each list, its
``possessing_party``, else its ``owning_party``, else its ``location``; a receiving event gives
custody to its destination when it has one, and falls back to its read point only when nothing
better is given.

Parties with GS1 identifiers (a PGLN, and SGLN locations) are one party however an event spells
them: [`PartyAliases`][antifake.epcis.parties.PartyAliases] maps every identifier a party has
registered to the party's id, so that an event naming ``urn:epc:id:sgln:0614141.00002.0`` counts
for the party that owns that location.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from antifake.epcis.events import Event, party_id
from antifake.epcis.kinds import EventKind
from antifake.errors import GS1Error
from antifake.gs1 import gln_key

__all__ = ["CUSTODY_PREFERENCE", "list_parties", "custody_parties", "PartyAliases"]

#: Source/destination types in the order custody prefers them.
CUSTODY_PREFERENCE = ("possessing_party", "owning_party", "location")

_SDT_FORMS = {
    t: t for t in CUSTODY_PREFERENCE
} | {f"cbv:SDT-{t}": t for t in CUSTODY_PREFERENCE} | {
    f"https://ref.gs1.org/cbv/SDT-{t}": t for t in CUSTODY_PREFERENCE} | {
    f"urn:epcglobal:cbv:sdt:{t}": t for t in CUSTODY_PREFERENCE}


def list_parties(event: Event, which: str) -> list[tuple[str, str]]:
    """``(type, party id)`` pairs of an event's ``"source"`` or ``"destination"`` list, as
    written (types shortened to their CBV names: ``owning_party``, ...)."""
    key = "sourceList" if which == "source" else "destinationList"
    raw = event.extensions.get(key)
    if isinstance(raw, list):
        out = []
        for entry in raw:
            if isinstance(entry, Mapping) and isinstance(entry.get(which), str):
                kind = entry.get("type")
                kind = _SDT_FORMS.get(kind, kind) if isinstance(kind, str) else ""
                out.append((kind, party_id(entry[which])))
        return out
    value = getattr(event, which)
    return [("owning_party", value)] if value is not None else []


def _pick(pairs: list[tuple[str, str]]) -> str | None:
    for kind in CUSTODY_PREFERENCE:
        for k, party in pairs:
            if k == kind:
                return party
    return pairs[0][1] if pairs else None


def custody_parties(event: Event, kind: int) -> tuple[str | None, str | None, str | None]:
    """``(by, source, destination)`` for the trace graph: the source and destination that
    custody follows (possessing party, else owning party, else location), and ``by``: for a
    receiving event the destination when there is one, else the read point."""
    src = _pick(list_parties(event, "source"))
    dst = _pick(list_parties(event, "destination"))
    by = event.by
    if kind == EventKind.RECEIVE and dst is not None:
        by = dst
    return by, src, dst


def _key(name: str) -> str | None:
    try:
        return gln_key(name)
    except GS1Error:
        return None


class PartyAliases:
    """Party ids by GS1 identifier (``gln_key`` -> party id), from a registry's master data."""

    def __init__(self, by_key: Mapping[str, str]) -> None:
        self._by_key = dict(by_key)

    def __bool__(self) -> bool:
        return bool(self._by_key)

    def resolve(self, name: str) -> str:
        """The party id an identifier stands for (itself when no party claims it)."""
        if not self._by_key:
            return name
        key = _key(name)
        if key is None:
            return name
        return self._by_key.get(key, name)

    def fold(self, names: Sequence[str]) -> tuple[list[str], np.ndarray, list[int]] | None:
        """Fold the parties ``names`` (row order of a snapshot) into the parties their
        identifiers belong to: ``(new names, remap, rows)`` where ``remap[old row]`` is the new
        row (``remap[-1]`` is -1, so -1 stays -1) and ``rows[new row]`` the old row whose
        metadata it keeps (the party's own row when it has one); None when nothing folds."""
        target = [self.resolve(n) for n in names]
        if target == list(names):
            return None
        index: dict[str, int] = {}
        source: dict[str, int] = {}
        for i, (n, t) in enumerate(zip(names, target, strict=True)):
            index.setdefault(t, len(index))
            if n == t or t not in source:
                source[t] = i
        new = list(index)
        remap = np.array([index[t] for t in target] + [-1], dtype=np.int32)
        return new, remap, [source[t] for t in new]
