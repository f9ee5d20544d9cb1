"""The `Registry` class: the rules of the registry over a store (see the package
documentation)."""

from __future__ import annotations

import contextlib
import json
import os
import struct
import threading
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import blake3
import numpy as np

from antifake import codes as C
from antifake._atomic import atomic_file
from antifake.detect import Alert, ListingCheck, check_listing
from antifake.epcis.event_hash import (
    EPCIS_CONTEXT_URL,
    event_hash,
)
from antifake.epcis.event_id import hash_to_id, id_to_hash
from antifake.epcis.events import MAX_ID_LENGTH, Event, event_detail, event_kind
from antifake.epcis.jsonld import _rename_prefix, parse_document
from antifake.epcis.kinds import EventKind
from antifake.epcis.parties import custody_parties
from antifake.errors import (
    EPCISError,
    GS1Error,
    LifecycleError,
    RegistryError,
    UnknownStampError,
)
from antifake.graph import TraceGraph
from antifake.issue import Batch, Stamp
from antifake.log.note import LogKey
from antifake.registry._results import ClaimResult, ImportResult, StampStatus, _Resolved
from antifake.registry._rules import (
    _CLAIM_NAMES,
    _CLAIMED,
    _DECOMMISSIONED,
    _DEFAULT_NS,
    _INACTIVE_STATUS,
    _KEY_OK,
    _LOCKED,
    CLONE_KINDS,
    COMMISSION_CHUNK,
    MAX_WRONG_PINS,
    REASONS,
    _canonical,
    _check_reactivation,
    _claim_event,
    _commission_hashes,
    _dt,
    _effect,
    _merge_contexts,
    _party_keys,
    _recorder,
    _time,
)
from antifake.storage import (
    BatchPart,
    EventRow,
    Inserted,
    NodeState,
    Storage,
    Suspicion,
    TraceColumns,
    open_storage,
)
from antifake.storage.tlog import RegistryLog, open_log
from antifake.timeutil import from_micros, parse_time, to_iso, to_micros
from antifake.trust import Keyring
from antifake.verify import Status, Verdict, parse_pin, verify, verify_pin

#: Set by `antifake.evidence` (a layer above this one) when imported: builds `evidence`.
evidence_builder: Callable[..., dict[str, Any]] | None = None


class Registry:
    """Stamps, parties and events in a transactional store (SQLite by default).

    ``Registry("stamps.db", keyring=ring)``: a path, ``":memory:"`` or ``sqlite:///path``
    (``?synchronous=normal`` trades power-loss durability of the last commits for speed; see
    `antifake.storage.sqlite`). The keyring (with the issuer's secret key) lets the
    registry resolve stamp numbers and check PINs; without one it still resolves EPCs and
    ``Stamp`` objects. Safe to share between threads; several processes may open one file.
    """

    def __init__(self, path_or_url: str | os.PathLike[str], keyring: Keyring | None = None, *,
                 timeout: float | None = None, synchronous: str | None = None,
                 log_key: LogKey | None = None) -> None:
        if keyring is not None and not isinstance(keyring, Keyring):
            raise RegistryError(f"keyring must be an antifake Keyring, not "
                                f"{type(keyring).__name__}")
        self.keyring = keyring if keyring is not None else Keyring()
        # unset options are left to the URL's (``sqlite:///x.db?timeout=5``), else defaults
        opts: dict[str, Any] = {"canonical": _canonical}
        if timeout is not None:
            opts["timeout"] = timeout
        if synchronous is not None:
            opts["synchronous"] = synchronous
        self._store: Storage = open_storage(path_or_url, **opts)
        self._closed = False
        self._graph_cache: tuple[TraceColumns, TraceGraph] | None = None
        self._graph_lock = threading.Lock()
        self._log = open_log(self._store, log_key)  # the transparency log, if it keeps one

    def __repr__(self) -> str:
        return f"Registry({self._store.url!r})"

    def __enter__(self) -> Registry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the store (idempotent)."""
        if not self._closed:
            self._closed = True
            self._store.close()

    @property
    def log(self) -> RegistryLog:
        """The transparency log of every stored event (`antifake.storage.tlog`); a registry
        keeps one once it has been opened with ``log_key=``."""
        if self._log is None:
            raise RegistryError("this registry keeps no transparency log: open it with "
                                "log_key=af.LogKey...")
        return self._log

    @property
    def keeps_log(self) -> bool:
        """Whether this registry keeps a transparency log (opened with ``log_key=``)."""
        return self._log is not None

    def evidence(self, code: Any, *, alerts: Iterable[Alert] | None = None) -> dict[str, Any]:
        """The evidence bundle of one stamp (`antifake.evidence`): its verdict and status,
        every event of its history as EPCIS 2.0 JSON-LD with an inclusion proof against one
        signed checkpoint, the alerts naming it (``alerts`` and the suspicion on record), its
        claims and listings; `af.verify_evidence` checks it offline. Needs ``log_key=``."""
        if evidence_builder is None:
            raise RegistryError("evidence bundles need antifake.evidence (import antifake)")
        return evidence_builder(self, code, alerts=alerts)

    def _write(self) -> contextlib.AbstractContextManager[None]:
        """A write transaction (that also appends the new events to the log)."""
        return self._log.writing() if self._log is not None else self._store.transaction()

    def _insert_events(self, rows: list[EventRow]) -> list[Inserted]:
        ins = self._store.insert_events(rows)
        if self._log is not None:
            self._log.stage(rows, ins)
        return ins

    @property
    def storage(self) -> Storage:
        """The storage backend (for tools and tests)."""
        return self._store

    # -- parties ---------------------------------------------------------------------------
    def add_party(self, id: str, role: str | None = None, region: str | None = None,  # noqa: A002
                  lat: float | None = None, lon: float | None = None, *,
                  gln: str | None = None, locations: Iterable[str] = (),
                  trusted_for_claims: bool | None = None) -> None:
        """Add a party, or update the attributes given of an existing one.

        ``gln`` is the party's GS1 Party GLN (``urn:epc:id:pgln:...``, a Digital Link
        ``.../417/{gln}`` or the 13 digits) and ``locations`` its SGLN locations
        (``urn:epc:id:sgln:...`` or ``.../414/{gln}[/254/{ext}]``): events that name any of them
        (read point, source or destination) count for this party, in the trace graph and in
        listing checks, whenever they were recorded. An identifier can belong to one party only.

        ``trusted_for_claims=True``: claim events this party records or that are imported in
        its name change claim states (a second verification service of the issuer that checks
        PINs itself); ``False`` withdraws that trust; ``None`` leaves it as it is. Claim events
        of any other party are stored as events but change no claim state: a claim is made
        by this registry's PIN check ([`claim`][antifake.registry.Registry.claim]) or
        by a party trusted for claims."""
        if trusted_for_claims is not None and not isinstance(trusted_for_claims, bool):
            raise RegistryError("trusted_for_claims must be True, False or None")
        if isinstance(id, str) and len(id) > MAX_ID_LENGTH:
            raise RegistryError(f"a party id has at most {MAX_ID_LENGTH} characters, not "
                                f"{len(id)}")
        if not isinstance(id, str) or not id or any(ord(c) < 32 for c in id):
            raise RegistryError(f"a party id is a non-empty string, not {id!r:.200}")
        for name, v in (("role", role), ("region", region)):
            if v is not None and not isinstance(v, str):
                raise RegistryError(f"{name} must be a string")
        for name, x, lim in (("lat", lat, 90.0), ("lon", lon, 180.0)):
            if x is not None and (isinstance(x, bool) or not isinstance(x, int | float)
                                  or not -lim <= float(x) <= lim):
                raise RegistryError(f"{name} must be a number in [-{lim:g}, {lim:g}]")
        keys = _party_keys(gln, locations)
        with self._store.transaction():
            pid = self._store.add_party(id, role, region,
                                        None if lat is None else float(lat),
                                        None if lon is None else float(lon))
            if keys:
                self._store.set_party_glns(pid, keys)
            if trusted_for_claims is not None:
                self._store.set_claim_party(id, trusted_for_claims)
        with self._graph_lock:  # party metadata is part of the snapshot
            self._graph_cache = None

    def party(self, identifier: str) -> str:
        """The party id an identifier stands for: a PGLN or SGLN some party registered
        (``add_party(gln=..., locations=...)``) gives that party's id; anything else is
        returned as it is."""
        from antifake.gs1 import gln_key

        try:
            key = gln_key(identifier)
        except GS1Error:
            return identifier
        found = self._store.party_for_gln(key) if key is not None else None
        return identifier if found is None else found

    def claim_parties(self) -> frozenset[str]:
        """The parties trusted for claims (see
        [`add_party`][antifake.registry.Registry.add_party])."""
        return self._store.claim_parties()

    # -- stamps ----------------------------------------------------------------------------
    def register(self, batch: Batch, owner: str | None = None,
                 at: datetime | str | None = None) -> int:
        """Store every stamp of ``batch`` and commissioning events covering them (ObjectEvent
        ADD commissioning by ``owner`` at ``at`` (default now), ``COMMISSION_CHUNK`` EPCs per
        event). ``owner`` is required: the party that holds the stamps first.

        Returns the number of stamps stored: 0 when this batch is registered already. A
        different batch with the same issuer, key id and batch id (overlapping indices) is a
        [`RegistryError`][antifake.errors.RegistryError]. A chunk of ``issue_iter`` registers as its
        index range.
        """
        if not isinstance(batch, Batch):
            raise RegistryError(f"register takes an antifake Batch, not {type(batch).__name__}")
        if not isinstance(owner, str) or not owner:
            raise RegistryError("register needs owner=, the party id that commissions the "
                                "stamps (and holds them first)")
        t = _time(at)
        n = len(batch)
        first = int(batch.index_offset)
        prod = batch.product
        digest = blake3.blake3(
            b"antifake.registry.batch\x01" + batch.issuer.encode() + b"\x00"
            + struct.pack(">HIII", batch.key_id, batch.batch_id, first, n)
            + (prod.signed_suffix() if prod else b"")
            + np.ascontiguousarray(batch.serials, dtype="<u8").tobytes()).digest()
        part = BatchPart(batch.issuer, batch.key_id, batch.batch_id, first, n, digest,
                         owner=owner, gtin=prod.gtin if prod else None,
                         lot=prod.lot if prod else None, expiry=prod.expiry_ai17 if prod else None,
                         registered_us=to_micros(datetime.now(UTC)))
        if self._same_batch(part):
            return 0
        epcs = batch.epcs().tolist()
        chunks = [epcs[i: i + COMMISSION_CHUNK] for i in range(0, n, COMMISSION_CHUNK)]
        template, hashes = _commission_hashes(chunks, owner, t)
        t_us = to_micros(t)
        with self._write():
            if self._same_batch(part):
                return 0
            nodes = self._store.insert_batch(part, epcs, batch.serials)
            rows = []
            for k, (chunk, h) in enumerate(zip(chunks, hashes, strict=True)):
                doc = dict(template)
                doc["epcList"] = chunk
                lo = k * COMMISSION_CHUNK
                rows.append(EventRow(h, t_us, EventKind.COMMISSION, doc, chunk, by=owner,
                                     nodes=nodes[lo: lo + len(chunk)], range_key="epcList"))
            self._insert_events(rows)
        return n

    def _same_batch(self, part: BatchPart) -> bool:
        """True when ``part`` is registered already; RegistryError when a different batch
        holds any of its indices."""
        for p in self._store.batch_parts(part.issuer, part.key_id, part.batch_id):
            if p.first_index == part.first_index and p.n == part.n and p.digest == part.digest:
                return True
            if p.first_index < part.first_index + part.n and part.first_index < p.first_index + p.n:
                raise RegistryError(
                    f"batch {part.batch_id} of key {part.key_id} ({part.issuer}) is already "
                    "registered with different stamps")
        return False

    # -- events ----------------------------------------------------------------------------
    def record(self, event: Event | Mapping[str, Any]) -> str:
        """Store one event (an [`Event`][antifake.epcis.events.Event] or an EPCIS JSON-LD event
        dict); returns its id. Recording an event that is already stored changes nothing."""
        return self.record_many([event]).event_ids[0]

    def record_many(self, events: Iterable[Event | Mapping[str, Any]]) -> ImportResult:
        """Store events in one transaction: all of them or, if any is invalid or breaks a
        lifecycle rule, none."""
        evs = []
        for i, e in enumerate(events):
            if isinstance(e, Mapping):
                e = Event.from_epcis(e, path=f"$[{i}]")
            elif not isinstance(e, Event):
                raise EPCISError(f"expected an Event, not {type(e).__name__}", f"$[{i}]")
            evs.append(e)
        return self._store_events(evs)

    def _store_events(self, evs: list[Event], trust_claims: bool = False) -> ImportResult:
        rows = [self._row(e) for e in evs]  # hashing before taking the write lock
        with self._write():
            ins = self._insert_events(rows)
            self._apply(evs, rows, ins, pin_checked=trust_claims)
        return ImportResult([e.event_id for e in evs], sum(1 for i in ins if i.new))

    def _row(self, e: Event) -> EventRow:
        ns = dict(e.namespaces)
        doc, eid = e._epcis_and_id()  # one dict for both
        kind = event_kind(e)
        by, src, dst = custody_parties(e, kind)
        return EventRow(id_to_hash(eid), to_micros(e.time), kind, doc,
                        e.epcs, e.parent, by, src, dst, e.lat, e.lon,
                        None if ns == _DEFAULT_NS else ns, detail=event_detail(e))

    def _apply(self, evs: list[Event], rows: list[EventRow], ins: list[Inserted],
               pin_checked: bool = False) -> None:
        """Lifecycle and claim effects of the new events, in order (inside the transaction).
        A claim event changes a claim state only when this registry checked its PIN
        (``pin_checked``) or its party is trusted for claims."""
        cache: dict[int, NodeState] = {}
        trusted: frozenset[str] | None = None
        for e, r, i in zip(evs, rows, ins, strict=True):
            if not i.new or r.kind not in (EventKind.DECOMMISSION, EventKind.REACTIVATE,
                                           EventKind.CLAIM):
                continue
            if r.kind == EventKind.CLAIM and not pin_checked:
                if trusted is None:
                    trusted = self._store.claim_parties()
                if r.by is None or r.by not in trusted:
                    continue  # stored as an event, no effect on the claim state
            nodes = i.nodes or []
            missing = [n for n in nodes if n not in cache]
            if missing:
                cache.update(self._store.states(missing))
            for node in nodes:
                s = cache[node]
                if _effect(e, r, s, node, self._store):
                    self._store.put_state(s)

    def import_epcis(self, path_or_data: Any, *, trust_claims: bool = False) -> ImportResult:
        """Import an EPCIS 2.0 JSON-LD document (a path as ``os.PathLike``, bytes, text as
        ``str``, or a parsed dict).

        The whole document is validated first (a fault raises
        [`EPCISError`][antifake.errors.EPCISError] with its JSON path and stores nothing), then its
        events are stored in one transaction, including events about EPCs and parties this registry
        has never seen. Claim events change claim states only when their party is trusted for
        claims (see [`add_party`][antifake.registry.Registry.add_party]), or for every
        claim event with ``trust_claims=True``: for a document whose claims were checked by a
        registry you trust as yourself (your own export, a backup)."""
        doc = parse_document(path_or_data)
        return self._store_events(doc.events, trust_claims=bool(trust_claims))

    def export_epcis(self, path: str | os.PathLike[str], since: datetime | str | None = None,
                     *, overwrite: bool = True) -> int:
        """Write the stored events (with ``eventTime >= since``) as one EPCIS 2.0 JSON-LD
        document, in the order they were recorded; returns how many. Importing it into
        another registry gives the same event ids. The file is replaced atomically;
        ``overwrite=False`` raises ``FileExistsError`` instead when ``path`` exists."""
        since_us = None if since is None else to_micros(parse_time(since))
        count = 0
        with atomic_file(path, "w", prefix=".export-", suffix=".jsonld.part", encoding="utf-8",
                         overwrite=overwrite) as out, \
                self._store.snapshot():
            ctx, renames, extra = self._export_context(since_us)
            head = {"@context": ctx, "type": "EPCISDocument", "schemaVersion": "2.0",
                    "creationDate": to_iso(datetime.now(UTC))}
            out.write(json.dumps(head, ensure_ascii=False)[:-1])
            out.write(', "epcisBody": {"eventList": [\n')
            for h, body, cid in self._store.export_rows(since_us):
                eid = hash_to_id(h)
                for old, new in renames.get(cid, ()):
                    body = _rename_prefix(body, old, new)
                if "eventID" not in body:
                    body = {"type": body.get("type"), "eventID": eid, **body}
                text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
                if (cid in renames or any(f'"{p}:' in text for p in extra[cid])) \
                        and event_hash(body, ctx) != eid:
                    raise RegistryError(
                        f"event {eid} cannot be exported with the others: its hash "
                        "depends on a prefix they bind differently")
                out.write(",\n" if count else "")
                out.write(text)
                count += 1
            out.write("\n]}}\n")
        return count

    def _export_context(self, since_us: int | None) -> tuple[
            list[Any], dict[int | None, list[tuple[str, str]]], dict[int | None, list[str]]]:
        """The document's @context, the prefix renames per stored context, and per context
        the prefixes the document declares that its events did not (their JSON is checked
        for them before writing)."""
        contexts = self._store.contexts()
        # a prefix that some event writes literally (its context does not declare it) must
        # not be declared by the document: events that declare it get it renamed
        literal = set()
        for p in {p for ns in contexts.values() for p in ns} | set(_DEFAULT_NS):
            without: list[int | None] = [cid for cid, ns in contexts.items() if p not in ns]
            without += [] if p in _DEFAULT_NS else [None]
            if without and self._store.uses_text(f'"{p}:', without, since_us):
                literal.add(p)
        merged, renames = _merge_contexts(contexts, literal)
        extra: dict[int | None, list[str]] = {}
        for cid, ns in [(None, _DEFAULT_NS), *contexts.items()]:
            moved = dict(renames.get(cid, []))
            have = {p for p in ns if p not in moved} | set(moved.values())
            extra[cid] = [p for p in merged if p not in have]
        return [EPCIS_CONTEXT_URL, merged], renames, extra

    # -- codes -----------------------------------------------------------------------------
    def resolve(self, code: Any) -> str:
        """The EPC of the stamp (or EPC) ``code`` names, as the registry stores it.

        ``code``: any text form [`antifake.verify`][antifake.verify.verify] takes (QR URL, bare
        code, GS1 URL, stamp number: verified with the keyring first), a
        [`Stamp`][antifake.issue.Stamp], or an EPC URI (``urn:...``, ``https://id.gs1.org/...``).
        Stamp numbers carry no serial and resolve through (key id, batch, index). Raises
        [`UnknownStampError`][antifake.errors.UnknownStampError] for a code the registry does not
        hold, and for a forged or invalid code (with the verdict's reason)."""
        return self._resolve(code).epc

    def _resolve(self, code: Any) -> _Resolved:
        if isinstance(code, Stamp):
            return self._resolve_stamp(code)
        if isinstance(code, bytes | bytearray | memoryview):
            try:
                code = bytes(code).decode("utf-8")
            except UnicodeDecodeError:
                raise UnknownStampError("MALFORMED: input is not UTF-8 text") from None
        if not isinstance(code, str):
            raise UnknownStampError(f"expected a code, a Stamp or an EPC URI, not "
                                    f"{type(code).__name__}")
        text = code.strip()
        if text[:4].lower() == "urn:":
            return self._resolve_epc(text)
        try:
            C.parse(text)
        except C.ParseFailure as f:
            if text[:7].lower() in ("http://", "https:/"):
                try:
                    return self._resolve_epc(text)
                except UnknownStampError:
                    pass
            raise UnknownStampError(f"{f.status}: {f.reason}") from None
        v = verify(text, self.keyring)
        if v.stamp is None or v.status not in _KEY_OK:
            raise UnknownStampError(f"{v.status.name}: {v.reason}")
        return self._resolve_stamp(v.stamp)

    def _resolve_stamp(self, s: Stamp) -> _Resolved:
        row = self._store.stamp_by_index(s.issuer, s.key_id, s.batch_id, s.index)
        if row is None:
            raise UnknownStampError(f"stamp {s.index} of batch {s.batch_id} (key {s.key_id}, "
                                    f"{s.issuer}) is not registered")
        if s.serial is not None and row.serial is not None and s.serial != row.serial:
            raise UnknownStampError(f"stamp {s.index} of batch {s.batch_id} (key {s.key_id}) "
                                    "is registered with another serial")
        return _Resolved(row.node, row.epc, row)

    def _resolve_epc(self, epc: str) -> _Resolved:
        node = self._store.node_by_key(epc)
        if node is None:
            raise UnknownStampError(f"unknown EPC {epc[:120]!r}")
        return _Resolved(node, self._store.node_epc(node), self._store.stamp_by_node(node))

    def scans(self, code: Any) -> tuple[int, datetime | None, float | None, float | None]:
        """How often the stamp ``code`` was scanned (inspecting events naming it): ``(count,
        time of the first scan, lat, lon of the first scan that shared a position)``, None
        where unknown."""
        r = self._resolve(code)
        n, first_us, where = self._store.scan_summary(r.node, int(EventKind.SCAN))
        lat, lon = where if where is not None else (None, None)
        return n, _dt(first_us), lat, lon

    # -- lifecycle -------------------------------------------------------------------------
    def status(self, code: Any) -> StampStatus:
        """Lifecycle state, claim state and last event of a stamp (or any stored EPC)."""
        r = self._resolve(code)
        s = self._store.states([r.node])[r.node]
        last = self._store.last_event(r.node)
        return StampStatus(
            epc=r.epc, state="decommissioned" if s.state == _DECOMMISSIONED else "active",
            reason=s.reason if s.state == _DECOMMISSIONED else None, since=_dt(s.since_us),
            claim=_CLAIM_NAMES[s.claim], wrong_pins=s.wrong_pins, attempts=s.attempts,
            claimed_at=_dt(s.claim_us),
            last_event_id=hash_to_id(last[0]) if last else None,
            last_event_time=_dt(last[1]) if last else None, registered=r.stamp is not None,
            suspected=sus.kind if (sus := self._store.suspicions([r.node]).get(r.node))
            else None)

    def decommission(self, codes: Any, reason: str, by: str | None = None,
                     at: datetime | str | None = None) -> list[str]:
        """Decommission stamps (one code or an iterable of codes) for ``reason``; one event
        per ``COMMISSION_CHUNK`` stamps, all in one transaction, recorded by the party ``by``
        (required). Returns the event ids. [`LifecycleError`][antifake.errors.LifecycleError]
        (nothing changed) for an unknown reason or a stamp that is decommissioned already."""
        if reason not in REASONS:
            raise LifecycleError(f"unknown decommissioning reason {reason!r}; expected one of "
                                 + ", ".join(REASONS))
        items = [codes] if isinstance(codes, str | bytes | Stamp) else list(codes)
        if not items:
            return []
        by = _recorder(by, "decommission")
        resolved = {r.node: r for r in map(self._resolve, items)}
        epcs = [r.epc for r in resolved.values()]
        t = _time(at)
        events = [Event.decommission(epcs[i: i + COMMISSION_CHUNK], reason=reason, by=by, at=t)
                  for i in range(0, len(epcs), COMMISSION_CHUNK)]
        rows = [self._row(e) for e in events]
        with self._write():
            states = self._store.states(list(resolved))
            done = [n for n, s in states.items() if s.state == _DECOMMISSIONED]
            if done:
                s = states[done[0]]
                raise LifecycleError(
                    f"{len(done)} of these stamps are decommissioned already, e.g. "
                    f"{resolved[done[0]].epc} ({s.reason} since "
                    f"{to_iso(from_micros(s.since_us or 0))}); nothing changed")
            ins = self._insert_events(rows)
            self._apply(events, rows, ins)
        return [e.event_id for e in events]

    def reactivate(self, code: Any, by: str | None = None,
                   at: datetime | str | None = None) -> str:
        """Undo a decommission within ``UNDO_WINDOW`` (10 days), never one for ``recalled``,
        ``stolen`` or ``destroyed``: [`LifecycleError`][antifake.errors.LifecycleError] with the
        reason otherwise. ``by``, the party that records it, is required. Returns the reactivation
        event's id."""
        by = _recorder(by, "reactivate")
        r = self._resolve(code)
        t = _time(at)
        event = Event.reactivate(r.epc, by=by, at=t)
        row = self._row(event)
        with self._write():
            s = self._store.states([r.node])[r.node]
            if s.state != _DECOMMISSIONED:
                raise LifecycleError(f"{r.epc} is active: there is nothing to reactivate")
            _check_reactivation(s, to_micros(t), r.epc)
            ins = self._insert_events([row])
            self._apply([event], [row], ins)
        return event.event_id

    # -- claims ----------------------------------------------------------------------------
    def claim(self, code: Any, pin: str | bytes, at: datetime | str | None = None,
              lat: float | None = None, lon: float | None = None,
              by: str | None = None) -> ClaimResult:
        """A buyer's claim of a stamp with its scratch-off PIN (see the module documentation).
        Needs the issuer's secret key in the keyring
        ([`RegistryError`][antifake.errors.RegistryError] otherwise)."""
        r = self._resolve(code)
        if r.stamp is None:
            raise UnknownStampError(f"{r.epc} is not a registered stamp: nothing to claim")
        st = self.keyring.by_short_id(C.short_key_id(r.stamp.key_id))
        if st is None or st.secret is None or st.public.key_id != r.stamp.key_id \
                or st.public.issuer != r.stamp.issuer:
            raise RegistryError("claims need the issuer's secret key in the registry's keyring")
        t = _time(at)
        try:
            parse_pin(pin)
            typo: C.ParseFailure | None = None
        except C.ParseFailure as f:
            typo = f
        key_id, batch_id, index = r.stamp.key_id, r.stamp.batch_id, r.stamp.index
        tag = blake3.blake3(C.tag_message(key_id, batch_id, index),
                            key=st.secret.tag_key()).digest(C.TAG_BYTES)
        number = C.encode_number(key_id, batch_id, index, tag)
        with self._write():
            s = self._store.states([r.node])[r.node]
            if s.state == _DECOMMISSIONED:
                result, status = "inactive", _INACTIVE_STATUS.get(s.reason or "",
                                                                  Status.DECOMMISSIONED)
                reason = f"the stamp was decommissioned ({s.reason}): it cannot be claimed"
            elif s.claim == _CLAIMED:
                result, status = "already_claimed", Status.ALREADY_CLAIMED
                reason = (f"already claimed on {to_iso(from_micros(s.claim_us or 0))}: if you "
                          "just bought this product, it may be a copy")
            elif s.claim == _LOCKED:
                result, status = "locked", Status.UNVERIFIABLE
                reason = (f"claim locked after {MAX_WRONG_PINS} wrong PINs: the PIN is no "
                          "longer checked; contact the issuer")
            elif typo is not None:
                result, status = "mistyped", Status[typo.status]
                reason = f"{typo.reason}: check the PIN and try again (not counted)"
            else:
                v = verify_pin(number, pin, self.keyring)
                if v.status == Status.AUTHENTIC:
                    result, status, reason = "ok", Status.AUTHENTIC, "claimed: the PIN matches"
                elif v.status == Status.BAD_TAG:
                    left = MAX_WRONG_PINS - s.wrong_pins - 1
                    result, status = "wrong_pin", Status.BAD_TAG
                    reason = (f"wrong PIN; {left} attempts left" if left > 0 else
                              f"wrong PIN; the claim is now locked after {MAX_WRONG_PINS}")
                else:
                    result, status, reason = "refused", v.status, v.reason
            event = _claim_event(r.epc, by=by, at=t, result=result, attempt=s.attempts + 1,
                                 lat=lat, lon=lon)
            row = self._row(event)
            ins = self._insert_events([row])
            self._apply([event], [row], ins, pin_checked=True)
            after = self._store.states([r.node])[r.node]
        return ClaimResult(
            ok=result == "ok", result=result, status=status, reason=reason, epc=r.epc,
            claim=_CLAIM_NAMES[after.claim], wrong_pins=after.wrong_pins,
            attempts_left=0 if after.claim else max(0, MAX_WRONG_PINS - after.wrong_pins),
            event_id=event.event_id, claimed_at=_dt(after.claim_us))

    # -- verification ----------------------------------------------------------------------
    def verify(self, text: str | bytes) -> Verdict:
        """[`antifake.verify`][antifake.verify.verify] combined with the registry: an authentic
        stamp that is decommissioned is DECOMMISSIONED, RECALLED or STOLEN; one already claimed
        is ALREADY_CLAIMED. An authentic stamp the registry does not hold keeps its verdict (its
        reason says so)."""
        v = verify(text, self.keyring)
        if not v.ok or v.stamp is None:
            return v
        s0 = v.stamp
        row = self._store.stamp_by_index(s0.issuer, s0.key_id, s0.batch_id, s0.index)
        if row is None:
            return Verdict(v.status, v.reason + "; not registered in this registry", s0)
        if s0.serial is not None and row.serial is not None and row.serial != s0.serial:
            return Verdict(Status.NOT_ISSUED, "validly signed but not the registered stamp", s0)
        s = self._store.states([row.node])[row.node]
        if s.state == _DECOMMISSIONED:
            status = _INACTIVE_STATUS.get(s.reason or "", Status.DECOMMISSIONED)
            when = to_iso(from_micros(s.since_us or 0))
            return Verdict(status, f"genuine stamp, but decommissioned ({s.reason}) on {when}: "
                                   "it should not be on sale", s0)
        if s.claim == _CLAIMED:
            when = to_iso(from_micros(s.claim_us or 0))
            return Verdict(Status.ALREADY_CLAIMED, f"genuine stamp, already claimed on {when}: "
                                                   "if you just bought this product, it may be "
                                                   "a copy", s0)
        sus = self._store.suspicions([row.node]).get(row.node)
        if sus is not None:
            when = to_iso(from_micros(sus.since_us))
            return Verdict(Status.SUSPECTED_CLONE,
                           f"genuine code, but copies of it are in circulation ({sus.kind}, "
                           f"score {sus.score:.2f}, since {when}): this item may be one of them",
                           s0)
        return v

    def flag_suspected(self, alerts: Iterable[Alert], min_score: float = 0.5) -> int:
        """Remember the stamps detection found copied, so that `verify` answers
        ``SUSPECTED_CLONE`` for them (and `status` names the alert kind).

        Takes the codes of every alert of a kind in `CLONE_KINDS` scoring at least
        ``min_score`` (default 0.5, "act on it"); codes this registry does not hold are
        skipped. A stamp keeps its strongest alert. One transaction. Returns how many
        stamps the alerts named (flagged now or before)."""

        if isinstance(min_score, bool) or not isinstance(min_score, int | float) \
                or not 0.0 <= min_score <= 1.0:
            raise RegistryError(f"min_score must be a number in [0, 1], not {min_score!r}")
        best: dict[int, Suspicion] = {}
        for a in alerts:
            if not isinstance(a, Alert):
                raise RegistryError(f"expected detection alerts (antifake.Alert), not "
                                    f"{type(a).__name__}")
            if a.kind not in CLONE_KINDS or not a.score >= min_score:
                continue
            evidence = json.dumps(list(a.evidence))
            for epc in a.codes:
                node = self._store.node_by_key(epc)
                if node is None:
                    continue
                old = best.get(node)
                if old is None or a.score > old.score:
                    best[node] = Suspicion(node, a.kind, float(a.score), int(a.first_us),
                                           evidence)
        if best:
            with self._store.transaction():
                self._store.put_suspicions(list(best.values()))
        return len(best)

    def suspected(self) -> dict[str, tuple[str, float, datetime]]:
        """Every flagged stamp: ``{epc: (alert kind, score, first evidence time)}``."""
        return {self._store.node_epc(n): (s.kind, s.score, from_micros(s.since_us))
                for n, s in self._store.suspicions().items()}

    def is_suspected(self, code: Any) -> bool:
        """Whether the stamp is flagged as copied (one indexed lookup)."""
        try:
            node = self._resolve(code).node
        except UnknownStampError:
            return False
        return bool(self._store.suspicions([node]))

    def clear_suspected(self, codes: Any) -> int:
        """Forget suspicions (an inspector resolved the case): one code or an iterable of
        codes, in any form `resolve` takes. Returns how many were cleared."""
        items = [codes] if isinstance(codes, str | bytes | Stamp) else list(codes)
        nodes = [self._resolve(c).node for c in items]
        with self._store.transaction():
            return self._store.clear_suspicions(nodes)

    # -- marketplace -----------------------------------------------------------------------
    def check_listing(self, code: Any, seller: str) -> ListingCheck:
        """Whether ``seller`` may list the stamp ``code``: it must be authentic, active (not
        decommissioned), not claimed by a buyer, held by ``seller`` now (the trace graph's
        custodian) and not listed by other sellers. Records nothing. Returns
        [`antifake.detect.ListingCheck`][antifake.detect.ListingCheck] (``ok``,
        ``reasons``, ``epc``, ``custodian``, ``flags``)."""
        if not isinstance(seller, str) or not seller:
            raise RegistryError("seller must be a party id")
        return check_listing(self, code, self.party(seller))

    def _snapshot(self) -> tuple[TraceColumns, TraceGraph]:
        """The columns and graph of the store now, read again only when events or nodes were
        added since the last ones (snapshots never change, so callers share them)."""
        version = self._store.version()
        with self._graph_lock:
            if self._graph_cache is None or self._graph_cache[0].version != version:
                cols = self._store.graph_columns()
                self._graph_cache = (cols, TraceGraph.from_arrays(**cols.graph_arrays()))
            return self._graph_cache

    # -- snapshot, history and counts ------------------------------------------------------
    def columns(self) -> TraceColumns:
        """Everything stored as one typed snapshot of columns
        ([`TraceColumns`][antifake.storage.abc.TraceColumns]): what detection and the graph
        read; shared between calls until the store changes."""
        return self._snapshot()[0]

    def graph(self) -> TraceGraph:
        """An immutable [`TraceGraph`][antifake.graph.TraceGraph] snapshot of everything
        stored (shared between calls until the store changes: snapshots never change)."""
        return self._snapshot()[1]

    def events(self, ids: Iterable[str]) -> list[Event]:
        """The stored events with these CBV 2.0 event ids, in the order given, as
        [`Event`][antifake.epcis.events.Event]s. An id that is not stored raises
        `RegistryError` naming it."""
        wanted = [id_to_hash(i) for i in ids]
        rows = self._store.event_rows(wanted)
        contexts = self._store.contexts()
        out = []
        for h in wanted:
            hit = rows.get(h)
            if hit is None:
                raise RegistryError(f"no event {hash_to_id(h)} in this registry")
            doc, cid = hit
            ns = contexts.get(cid) if cid is not None else None
            out.append(Event.from_epcis(doc, [EPCIS_CONTEXT_URL, ns] if ns else None,
                                        owned=True))
        return out

    def history(self, code: Any) -> list[Event]:
        """The stamp's events in time order: its own and those of each container it was in,
        at every level, while it was inside (``code``: any form `resolve` takes)."""
        return self.events(self.graph().history_ids(self.resolve(code)))

    def stats(self) -> dict[str, int]:
        """Counts: ``events``, ``stamps``, ``parties`` (and ``nodes``, ``batches``)."""
        return self._store.counts()

    def check(self) -> dict[str, Any]:
        """Consistency of the store (``{"ok": bool, "problems": [...], ...}``)."""
        return self._store.check()
