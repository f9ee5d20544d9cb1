"""The CBV 2.0 canonical event hash of EPCIS 2.0 events (GS1 CBV 2.0, section 8.9).

``event_hash(event, context)`` returns ``"ni:///sha-256;<hex>?ver=CBV2.0"``: the SHA-256 of the
event's canonical *pre-hash string* (``prehash_string``), which depends only on what the event
says, not on how it is written (JSON key order, list order, time zone of the timestamps, CURIE
prefixes, EPC URN versus GS1 Digital Link, ...). It is the event's identity in antifake: two
submissions of the same event get the same id.

The behaviour follows the reference implementation of the algorithm (GS1's
epcis-event-hash-generator), checked against its published examples (see
``tests/test_event_hash_conformance.py``). The pre-hash string is built as follows.

1. Vocabulary values written as bare words (``"shipping"``, ``"in_transit"``, ``"po"``,
   ``"owning_party"``, ``"Temperature"``, ``"ALARM_CONDITION"``, ``"latitude"``...) are expanded
   as the EPCIS 2.0 JSON-LD context expands them (``https://ref.gs1.org/cbv/BizStep-shipping``,
   ``https://gs1.org/voc/Temperature``...). As in the reference, any other string value of the
   event that equals the last segment of one of the event's expanded vocabulary values is
   expanded the same way.
2. Keys ``prefix:name`` whose prefix is declared in the document's ``@context`` become
   ``{namespace}name``; string values ``prefix:rest`` become ``namespace`` + ``rest``.
3. The JSON tree becomes the EPCIS XML model (``epcList`` holds ``epc`` elements,
   ``quantityList`` holds ``quantityElement``\\ s, ``inputEPCList`` holds ``epc``...).
4. ``eventType=<type>`` is followed by the standard fields in the CBV order (``ORDER``): each
   as ``name=value``, nested ones as ``name`` followed by their children, repeated elements
   sorted; user extensions inside a standard element follow that element's fields. Then every
   remaining top-level field (``bizTransactionList``, ``sourceList``, ``destinationList``,
   ``ilmd``, user extensions, ...) is appended, sorted, recursively. ``eventID``,
   ``recordTime``, ``errorDeclaration`` and ``type`` take no part; nor do comments.
5. Values are normalised: timestamps (fields named ``*time*``) to UTC with millisecond
   precision (``2020-03-04T10:00:30.000Z``; sub-millisecond digits are rounded, ties to even),
   numbers to their shortest form (``452.0`` -> ``452``), legacy CBV URNs
   (``urn:epcglobal:cbv:bizstep:...``) to GS1 web URIs, and EPC URNs (``urn:epc:id:sgtin:...``,
   ``urn:epc:class:lgtin:...``, ``urn:epc:idpat:...``) and GS1 Digital Link URIs on any domain to
   the constrained canonical Digital Link ``https://id.gs1.org/...`` (finest identification
   level only: a serial drops the lot; no query string, no CPV); see ``canonical_gs1_uri``.

Speed: the steps above build an element tree per event. Flat events (standard fields with
string values, EPC and quantity lists, readPoint/bizLocation ids, bizTransaction, source and
destination entries, scalar user extensions: all the events antifake's constructors make) are
written directly instead, with the vocabulary table and the strings of repeated values cached
per context; the result is the same string (``tests/test_event_hash_fast.py`` compares the two
on the conformance events and on generated ones). Everything else goes through the tree.

Where the reference implementation fails or depends on the JSON key order, this module does the
natural thing instead: a ``bizTransaction``/``source``/``destination`` entry is written type
first whatever its key order, an entry without a type or with extra fields is hashed in full
(the reference drops the event or the extra fields), a timestamp that rounds up to the next
second carries over, infinite numbers are kept as written, a timestamp without a UTC offset is
taken as UTC (the reference uses the machine's zone), a dict ``@context`` declares its prefixes,
and EPC URNs with a 12-digit company prefix follow the TDS (``urn:epc:id:grai:123456789012..5``).
Vocabulary expansion (step 1) looks at the event alone, not at its sibling events in a
document, so that an event's hash never depends on the document that carries it.
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from typing import Any

from antifake.epcis._prehash_flat import _flat_prehash
from antifake.epcis._prehash_tree import (
    _Converter,
    _correct,
    _generic,
    _Node,
    _ordered,
    _strings,
    _suffix_index,
    _vocabulary_values,
)
from antifake.epcis.cbv import (
    _IGNORED_TOP_LEVEL,
    AF_NS,
    DEFAULT_CONTEXT,
    EPCIS_CONTEXT_URL,
    ORDER,
    _expand_key,
    namespaces_from_context,
)
from antifake.epcis.event_id import hash_to_id
from antifake.errors import EPCISError
from antifake.gs1.canonical import canonical_gs1_uri

__all__ = [
    "AF_NS",
    "EPCIS_CONTEXT_URL",
    "DEFAULT_CONTEXT",
    "ORDER",
    "canonical_gs1_uri",
    "document_event_hashes",
    "document_events",
    "event_hash",
    "hash_prehash",
    "ignore_fields_of",
    "namespaces_from_context",
    "prehash_string",
]

# --------------------------------------------------------------------------------------------
# Public API

_MAX_DEPTH = 200


def _without_ignored(
    event: Mapping[str, Any], ns: Mapping[str, str], ignore_fields: Iterable[str]
) -> Mapping[str, Any]:
    if not isinstance(event, Mapping):
        raise EPCISError("an event must be a JSON object", "$")
    ignored = set()
    for name in ignore_fields:
        if isinstance(name, str):
            ignored.add(name)
            ignored.add(_expand_key(name, ns))
    if ignored:
        event = {k: v for k, v in event.items()
                 if not (k in ignored or (isinstance(k, str) and _expand_key(k, ns) in ignored))}
    return event


def _event_tree(
    event: Mapping[str, Any], ns: Mapping[str, str], ignore_fields: Iterable[str]
) -> _Node:
    event = _without_ignored(event, ns, ignore_fields)
    index = _suffix_index(_vocabulary_values(event, ns))
    tree = _Converter(ns, index, _MAX_DEPTH).convert(event)
    return _correct(tree)


def _tree_prehash(event: Mapping[str, Any], ns: Mapping[str, str]) -> str:
    """The pre-hash string by the general algorithm: the element tree (steps 1-3), then its
    ordered and remaining parts (step 4)."""
    tree = _event_tree(event, ns, ())
    head = "eventType=" + tree.name + _ordered(tree.children, ORDER)
    rest = [c for c in tree.children if c.name not in _IGNORED_TOP_LEVEL]
    return head + _generic(rest)


def _reference_prehash_string(
    event: Mapping[str, Any], context: Any = None, *, ignore_fields: Iterable[str] = ()
) -> str:
    """``prehash_string`` by the general algorithm alone, without the fast path for flat
    events (the reference the fast path is tested against)."""
    ns = namespaces_from_context(context)
    return _tree_prehash(_without_ignored(event, ns, ignore_fields), ns)


def _prehash(event: Mapping[str, Any], ns: Mapping[str, str]) -> str:
    """The pre-hash string of an event (its ignored fields removed already) under ``ns``."""
    flat = _flat_prehash(event, ns)
    return flat if flat is not None else _tree_prehash(event, ns)


def prehash_string(
    event: Mapping[str, Any], context: Any = None, *, ignore_fields: Iterable[str] = ()
) -> str:
    """The canonical pre-hash string of an EPCIS 2.0 JSON-LD event (a ``dict``).

    ``context`` is the ``@context`` of the document carrying the event (``None``: antifake's
    default, EPCIS 2.0 plus the ``af`` prefix). ``ignore_fields`` names top-level fields to
    leave out (a document's ``ignoreFields``). Raises ``EPCISError`` for what is not a JSON
    object.
    """
    ns = namespaces_from_context(context)
    try:
        return _prehash(_without_ignored(event, ns, ignore_fields), ns)
    except EPCISError:
        raise
    except ValueError as exc:  # e.g. an integer of more than 4300 digits cannot be printed
        raise EPCISError(f"the event cannot be hashed: {exc}"[:200], "$") from None


def hash_prehash(prehash: str) -> str:
    """The ``ni:`` URI of the SHA-256 of a pre-hash string."""
    return hash_to_id(hashlib.sha256(prehash.encode("utf-8", "surrogatepass")).digest())


def event_hash(
    event: Mapping[str, Any], context: Any = None, *, ignore_fields: Iterable[str] = ()
) -> str:
    """The CBV 2.0 canonical event hash ``"ni:///sha-256;<hex>?ver=CBV2.0"`` of an EPCIS 2.0
    JSON-LD event; ``context`` is the document's ``@context`` (see ``prehash_string``)."""
    return hash_prehash(prehash_string(event, context, ignore_fields=ignore_fields))


def ignore_fields_of(*levels: Any) -> list[str]:
    """The field names listed by ``ignoreFields`` entries (any prefix) of the given objects
    (the document, its ``epcisBody``, ``queryResults`` and ``resultsBody``)."""
    out: list[str] = []
    for level in levels:
        if not isinstance(level, Mapping):
            continue
        for key, value in level.items():
            if isinstance(key, str) and (key == "ignoreFields" or key.endswith(":ignoreFields")):
                out.extend(_strings(value))
    return out


def document_events(document: Mapping[str, Any]) -> tuple[list[Any], Any, list[str]]:
    """``(events, context, ignore_fields)`` of an EPCIS (query) document, unvalidated.

    Raises ``EPCISError`` when the document has no event list.
    """
    if not isinstance(document, Mapping):
        raise EPCISError("an EPCIS document must be a JSON object", "$")
    body = document.get("epcisBody")
    if not isinstance(body, Mapping):
        raise EPCISError("missing epcisBody", "$.epcisBody")
    results = rbody = None
    if "queryResults" in body:
        results = body["queryResults"]
        rbody = results.get("resultsBody") if isinstance(results, Mapping) else None
        events = rbody.get("eventList") if isinstance(rbody, Mapping) else None
        path = "$.epcisBody.queryResults.resultsBody.eventList"
    elif "event" in body and "eventList" not in body:
        events, path = [body["event"]], "$.epcisBody.event"
    else:
        events, path = body.get("eventList"), "$.epcisBody.eventList"
    if not isinstance(events, list):
        raise EPCISError("missing event list", path)
    return events, document.get("@context"), ignore_fields_of(document, body, results, rbody)


def document_event_hashes(document: Mapping[str, Any]) -> list[str]:
    """The event hashes of all events of an EPCIS (query) document, in document order."""
    events, context, ignore = document_events(document)
    return [event_hash(e, context, ignore_fields=ignore) for e in events]
