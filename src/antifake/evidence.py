"""Evidence bundles: one stamp's story, provable offline.

`build_evidence(reg, code)` (also `reg.evidence(code)`) gathers, for one stamp, its verdict and
status now, every event of its history (and every event an alert about it cites) as full
EPCIS 2.0 JSON-LD, an RFC 9162 inclusion proof of each against one signed checkpoint of the
registry's transparency log, the checkpoint, the log's verifier key, the alerts naming the
stamp, and the claims and listings on record, into one JSON document
(`"format": "antifake-evidence/1"`). A signed statement (a note signed with the log key)
binds the SHA-256 of the rest of the bundle, so dropping, adding or reordering anything is
seen.

[`verify_evidence`][antifake.evidence.verify_evidence] checks a bundle with no registry: each
event's id recomputed from its JSON (the CBV 2.0 hash), each leaf, each proof, the checkpoint
and the statement, all against the verifier key the caller trusts (never the bundle's own).
The byte layouts are in the documentation page "Evidence".
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from antifake.detect import Alert
from antifake.epcis.event_hash import event_hash
from antifake.epcis.events import BIZ_CLAIMING, BIZ_LISTING, Event
from antifake.errors import (
    AntifakeError,
    EPCISError,
    LogError,
    RegistryError,
)
from antifake.log.merkle import leaf_hash, verify_inclusion
from antifake.log.note import NoteVerifier, open_checkpoint, open_note
from antifake.registry import Registry, _registry
from antifake.storage.tlog import event_documents
from antifake.timeutil import from_micros, parse_time, to_iso

__all__ = ["FORMAT", "Report", "build_evidence", "verify_evidence", "canonical_json",
           "statement_body"]

FORMAT = "antifake-evidence/1"
_STATEMENT_TAG = "antifake-evidence/1"
_MAX_EVENTS = 100_000


def canonical_json(obj: Any) -> bytes:
    """The bytes the statement's digest covers: JSON with sorted keys, no spaces, UTF-8."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def statement_body(epc: str, size: int, digest: bytes) -> str:
    """The signed statement's note text: it names the bundle format, the stamp, the checkpoint
    size and the SHA-256 of the bundle without its ``statement`` (canonical JSON)."""
    return (f"{_STATEMENT_TAG}\nsubject {epc}\ncheckpoint {size}\n"
            f"sha256 {base64.b64encode(digest).decode()}\n")


def _b64(h: bytes) -> str:
    return base64.b64encode(h).decode()


def _event_summary(doc: dict[str, Any], ctx: list[Any]) -> dict[str, Any]:
    try:
        e = Event.from_epcis(doc, ctx)
    except EPCISError:
        return {}
    out: dict[str, Any] = {"time": to_iso(e.time), "type": e.type, "action": e.action,
                           "biz_step": e.biz_step, "disposition": e.disposition}
    for k in ("by", "source", "destination", "lat", "lon"):
        v = getattr(e, k)
        if v is not None:
            out[k] = v
    if e.biz_step == BIZ_LISTING and e.listing:
        out["listing"] = e.listing
    if e.biz_step == BIZ_CLAIMING and e.claim_result:
        out["claim"] = e.claim_result
    return out


def build_evidence(reg: Registry, code: Any, *, alerts: Iterable[Alert] | None = None
                   ) -> dict[str, Any]:
    """The evidence bundle of one stamp (any form `reg.resolve` takes). ``alerts``: detection
    results to include (those naming the stamp); the suspicion on record is always included.
    Needs a registry opened with its log key."""
    log = reg.log
    if log.key is None:
        raise RegistryError("an evidence bundle is signed with the log key: open the registry "
                            "with log_key=")
    epc = reg.resolve(code)
    status = reg.status(code)
    verdict = None
    if isinstance(code, str) and not code.strip().lower().startswith("urn:"):
        v = reg.verify(code)
        verdict = {"status": v.status.name, "ok": v.ok, "reason": v.reason}
    history = reg.graph().history_ids(epc)
    named: list[dict[str, Any]] = []
    for a in alerts or ():
        if epc in a.codes:
            named.append(_alert_dict(a))
    sus = reg.storage.suspicions([reg._resolve(code).node])
    for s in sus.values():
        named.append({"kind": s.kind, "codes": [epc], "score": s.score,
                      "first_seen": to_iso(from_micros(s.since_us)), "last_seen": None,
                      "reason": "suspicion on record (flagged by detection)",
                      "evidence": list(json.loads(s.evidence))})
    ids = list(dict.fromkeys(history))
    roles = dict.fromkeys(ids, "history")
    for entry in named:
        for e in entry["evidence"]:
            if e not in roles:
                roles[e] = "alert"
                ids.append(e)
    note = log.checkpoint()
    cp = open_checkpoint(note, log.key.verifier)
    proofs = log.inclusion_proofs(ids, cp.size)
    docs = event_documents(reg.storage, ids)
    events: list[dict[str, Any]] = []
    claims: list[dict[str, Any]] = []
    listings: list[dict[str, Any]] = []
    for eid, p, (doc, ctx) in zip(ids, proofs, docs, strict=True):
        summ = _event_summary(doc, ctx)
        events.append({"id": eid, "role": roles[eid], "leaf_index": p.index,
                       "proof": [_b64(h) for h in p.hashes], "context": ctx, "event": doc,
                       "summary": summ})
        if "claim" in summ:
            claims.append({"event": eid, "time": summ["time"], "result": summ["claim"]})
        if "listing" in summ:
            listings.append({"event": eid, "time": summ["time"], "seller": summ.get("by"),
                             "listing": summ["listing"]})
    names = {x for ev in events for x in (ev["summary"].get(k) for k in
                                          ("by", "source", "destination")) if x}
    parties = {row[0]: {"role": row[1], "region": row[2], "lat": row[3], "lon": row[4]}
               for row in reg.storage.party_rows() if row[0] in names}  # type: ignore[attr-defined]
    st = {k: (to_iso(v) if isinstance(v, datetime) else v)
          for k, v in status.__dict__.items()}
    bundle: dict[str, Any] = {
        "format": FORMAT,
        "created": to_iso(datetime.now(UTC)),
        "subject": {"code": code if isinstance(code, str) else epc, "epc": epc,
                    "verdict": verdict, "status": st},
        "log": {"origin": cp.origin, "vkey": log.key.vkey, "checkpoint": note,
                "size": cp.size, "root": _b64(cp.root)},
        "events": events,
        "alerts": named,
        "claims": claims,
        "listings": listings,
        "parties": parties,
    }
    digest = hashlib.sha256(canonical_json(bundle)).digest()
    bundle["statement"] = log.key.sign_note(statement_body(epc, cp.size, digest))
    return bundle


def _alert_dict(a: Alert) -> dict[str, Any]:
    return {"kind": a.kind, "codes": list(a.codes), "score": float(a.score),
            "first_seen": to_iso(from_micros(a.first_us)),
            "last_seen": to_iso(from_micros(a.last_us)), "reason": a.reason,
            "evidence": list(a.evidence)}


@dataclass
class Report:
    """The outcome of [`verify_evidence`][antifake.evidence.verify_evidence]: ``ok`` when
    nothing failed; ``problems`` names each failure; ``events`` counts events proven."""

    ok: bool
    problems: list[str] = field(default_factory=list)
    events: int = 0
    checkpoint_size: int | None = None

    def __bool__(self) -> bool:
        return self.ok


def _decode_hash_list(v: Any) -> list[bytes] | None:
    if not isinstance(v, list) or len(v) > 70:
        return None
    out = []
    for x in v:
        if not isinstance(x, str):
            return None
        try:
            b = base64.b64decode(x, validate=True)
        except (binascii.Error, ValueError):
            return None
        out.append(b)
    return out


def verify_evidence(bundle: Any, vkey: str | NoteVerifier) -> Report:
    """Check an evidence bundle offline against the log's verifier key ``vkey`` (the key you
    trust, never the one the bundle carries): the checkpoint's signature, every event's id
    recomputed from its JSON, every leaf and inclusion proof, the time order of the history,
    and the signed statement over the whole bundle. Never raises for a bad bundle (a bad
    ``vkey`` raises [`LogError`][antifake.errors.LogError])."""
    verifier = vkey if isinstance(vkey, NoteVerifier) else NoteVerifier.from_vkey(vkey)
    problems: list[str] = []
    if isinstance(bundle, str | bytes):
        try:
            bundle = json.loads(bundle)
        except (ValueError, RecursionError) as exc:
            return Report(False, [f"the bundle is not JSON: {exc}"])
    if not isinstance(bundle, Mapping) or bundle.get("format") != FORMAT:
        return Report(False, [f"not an evidence bundle (format is not {FORMAT!r})"])
    log = bundle.get("log")
    if not isinstance(log, Mapping):
        return Report(False, ["the bundle has no log section"])
    if log.get("vkey") != verifier.vkey:
        problems.append("the bundle names another log key than the one given (it was ignored)")
    try:
        cp = open_checkpoint(log.get("checkpoint"), verifier)
    except LogError as exc:
        return Report(False, [*problems, f"checkpoint: {exc}"])
    if log.get("size") != cp.size or log.get("root") != _b64(cp.root):
        problems.append("the log section's size or root differ from the signed checkpoint")
    subject = bundle.get("subject")
    epc = subject.get("epc") if isinstance(subject, Mapping) else None
    events = bundle.get("events")
    if not isinstance(events, list) or len(events) > _MAX_EVENTS:
        return Report(False, [*problems, "the bundle's events are not a list"])
    proven = 0
    last_time = ""
    for k, ev in enumerate(events):
        where = f"event {k}"
        if not isinstance(ev, Mapping):
            problems.append(f"{where}: not an object")
            continue
        eid = ev.get("id")
        where = f"event {k} ({eid})" if isinstance(eid, str) else where
        try:
            got = event_hash(ev.get("event"), ev.get("context"))  # type: ignore[arg-type]
        except (AntifakeError, TypeError, ValueError, KeyError, RecursionError) as exc:
            problems.append(f"{where}: its JSON cannot be hashed ({type(exc).__name__}: "
                            f"{str(exc)[:120]})")
            continue
        if got != eid:
            problems.append(f"{where}: its JSON hashes to {got}, not to its id: a field was "
                            "changed")
            continue
        idx = ev.get("leaf_index")
        hashes = _decode_hash_list(ev.get("proof"))
        if isinstance(idx, bool) or not isinstance(idx, int) or hashes is None:
            problems.append(f"{where}: malformed inclusion proof")
            continue
        try:
            ok = verify_inclusion(leaf_hash(eid.encode()), idx, cp.size, hashes, cp.root)
        except AntifakeError:
            ok = False
        if not ok:
            problems.append(f"{where}: the inclusion proof at leaf {idx} does not verify "
                            f"against the checkpoint of size {cp.size}")
            continue
        if ev.get("role") == "history":
            t = ev.get("event", {}).get("eventTime", "") if isinstance(ev.get("event"),
                                                                        Mapping) else ""
            try:
                tn = to_iso(parse_time(t)) if t else ""
            except (AntifakeError, ValueError):
                tn = ""
            if tn and last_time and tn < last_time:
                problems.append(f"{where}: out of time order in the history (reordered)")
            last_time = max(last_time, tn)
        proven += 1
    # the signed statement over the rest of the bundle
    rest = {k: v for k, v in bundle.items() if k != "statement"}
    try:
        body = open_note(bundle.get("statement"), verifier)
        lines = body.split("\n")
        digest = hashlib.sha256(canonical_json(rest)).digest()
        want = statement_body(str(epc), cp.size, digest)
        if lines[0] != _STATEMENT_TAG:
            problems.append("statement: not an evidence statement")
        elif body != want:
            problems.append("statement: the bundle differs from what the log key signed "
                            "(an event, alert or field was added, dropped, reordered or "
                            "changed)")
    except LogError as exc:
        problems.append(f"statement: {exc}")
    except (TypeError, ValueError, RecursionError) as exc:
        problems.append(f"statement: the bundle cannot be serialised ({type(exc).__name__})")
    return Report(not problems, problems, proven, cp.size)


def _evidence_method(self: Registry, code: Any, *, alerts: Iterable[Alert] | None = None
                     ) -> dict[str, Any]:
    return build_evidence(self, code, alerts=alerts)


_registry.evidence_builder = _evidence_method
