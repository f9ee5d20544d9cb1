"""The EPCIS 2.0 event model of antifake's trace graph.

An [`Event`][antifake.epcis.events.Event] is one EPCIS 2.0 event (ObjectEvent, AggregationEvent,
TransactionEvent, TransformationEvent or AssociationEvent) with typed fields for what antifake's
registry uses, and ``extensions`` for everything else, so that ``to_epcis()`` gives back an event
with the same CBV 2.0 canonical event hash as the one it was read from. Its identity, ``event_id``,
is that hash (``ni:///sha-256;...?ver=CBV2.0``): recording the same event twice is a no-op, and two
events are equal when their ids are.

Mapping between the fields and EPCIS 2.0 JSON-LD
-------------------------------------------------
- ``type``, ``action`` (``None`` for TransformationEvent), ``time`` (``eventTime``, a
  timezone-aware ``datetime``) and ``tz_offset`` (``eventTimeZoneOffset``, ``"+07:00"``).
- ``epcs``: the EPCs the event is about: ``epcList`` (Object/Transaction), ``childEPCs``
  (Aggregation/Association, also in ``children``) or ``inputEPCList`` + ``outputEPCList``
  (Transformation, also in ``inputs`` and ``outputs``). ``parent`` is ``parentID``.
- ``biz_step`` and ``disposition``: CBV 2.0 values by their short names (``"shipping"``,
  ``"in_transit"``); full CBV URIs, ``cbv:`` CURIEs and legacy ``urn:epcglobal:cbv:`` URNs are
  accepted and shortened. Other values are kept as written; antifake's own business steps are
  ``af:`` CURIEs (below).
- ``by``, the party that recorded the event, is the ``readPoint`` id: party ``X`` is written
  ``urn:antifake:party:X`` (percent-encoded), while an id that is already a URI (``app:4f2a``,
  ``urn:epc:id:sgln:...``) is kept as it is (``party_uri``). Reading, ``by`` is the read point
  with the ``urn:antifake:party:`` prefix removed (``party_id``); events from other systems
  thus have their read point (often an SGLN) as ``by``. ``read_point`` (not an argument) is
  the URI written. ``biz_location`` is the ``bizLocation`` id, as written.
- ``source`` and ``destination``: parties, written as ``sourceList`` / ``destinationList``
  entries of type ``owning_party`` (same party URIs as ``by``). Reading, the ``owning_party``
  entry is taken (else ``possessing_party``, else the first); lists that say more than one
  entry are kept whole in ``extensions``.
- ``biz_transactions``: ``(type or None, id)`` pairs of ``bizTransactionList``.
- ``quantities``: [`Quantity`][antifake.epcis.events.Quantity] entries of ``quantityList``
  (Object/Transaction), ``childQuantityList`` (Aggregation/Association) or ``inputQuantityList`` +
  ``outputQuantityList`` (Transformation; these two stay in ``extensions`` too).
- ``lat``, ``lon``: user extension fields ``af:lat`` and ``af:lon`` in the antifake namespace
  ``af`` = ``https://antifake.dev/ns/epcis#`` (decimal degrees, WGS 84).
- Other antifake extension fields: ``af:listing`` (the listing URL of a marketplace listing),
  ``af:reason`` (why a stamp was decommissioned) and ``af:claim`` (``"ok"``, ``"wrong_pin"`` or
  ``"locked"``); read them through ``listing``, ``reason`` and ``claim_result``.
- ``extensions``: every other field as written (user extensions, ``ilmd``,
  ``sensorElementList``, ``persistentDisposition``, ``certificationInfo``, ``eventID``,
  ``recordTime``, ...), and any standard field that the typed fields cannot say exactly.
- ``namespaces``: the ``prefix -> IRI`` map of the ``@context`` the event was read with (the
  CURIEs of extension fields mean what it says); ``{"af": AF_NS}`` by default.

The constructors record antifake's life-cycle steps with CBV 2.0 values:

============================ ================= ========= ================== ==============
constructor                  type              action    bizStep            disposition
============================ ================= ========= ================== ==============
``commission``               ObjectEvent       ADD       commissioning      active
``aggregate``                AggregationEvent  ADD       packing            in_progress
``disaggregate``             AggregationEvent  DELETE    unpacking          (none)
``ship``                     ObjectEvent       OBSERVE   shipping           in_transit
``receive``                  ObjectEvent       OBSERVE   receiving          in_progress
``sell``                     ObjectEvent       OBSERVE   retail_selling     retail_sold
``scan``                     ObjectEvent       OBSERVE   inspecting         (none)
``list``                     ObjectEvent       OBSERVE   ``af:listing``     (none)
``decommission``             ObjectEvent       DELETE    decommissioning    by reason
``reactivate``               ObjectEvent       OBSERVE   ``af:reactivating`` active
``claim``                    ObjectEvent       OBSERVE   ``af:claiming``    (none)
============================ ================= ========= ================== ==============

CBV has no business step for a marketplace listing, a consumer's claim or the undoing of a
decommissioning, so these use antifake's vocabulary (``af:listing`` is
``https://antifake.dev/ns/epcis#listing``). ``ship`` records the source as ``by``; ``receive``
records the receiver as ``by`` and as the destination. Decommissioning reasons map to CBV
dispositions as in ``DECOMMISSION_DISPOSITIONS``: sold -> retail_sold, destroyed -> destroyed,
recalled -> recalled, stolen -> stolen, expired -> expired, damaged -> damaged, dispensed ->
dispensed, exported and sample (no CBV equivalent) -> inactive; the reason itself is kept in
``af:reason``.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any, NamedTuple
from urllib.parse import quote, unquote

from antifake.epcis._prehash_flat import _flat_prehash
from antifake.epcis.cbv import (
    AF_NS,
    BIZ_STEPS,
    BIZ_TRANSACTION_TYPES,
    DISPOSITIONS,
    SOURCE_DEST_TYPES,
    STANDARD_PREFIXES,
    _words,
    namespaces_from_context,
)
from antifake.epcis.event_hash import event_hash, hash_prehash
from antifake.epcis.kinds import EventKind, detail_code, reason_of_disposition
from antifake.errors import EPCISError
from antifake.timeutil import parse_timestamp

__all__ = [
    "ACTIONS",
    "check_json",
    "AF_NS",
    "BIZ_CLAIMING",
    "BIZ_LISTING",
    "BIZ_REACTIVATING",
    "CLAIM_RESULTS",
    "DECOMMISSION_DISPOSITIONS",
    "EVENT_TYPES",
    "PARTY_PREFIX",
    "Event",
    "Quantity",
    "party_id",
    "party_uri",
]

EVENT_TYPES = (
    "ObjectEvent",
    "AggregationEvent",
    "TransactionEvent",
    "TransformationEvent",
    "AssociationEvent",
)
ACTIONS = ("ADD", "OBSERVE", "DELETE")
PARTY_PREFIX = "urn:antifake:party:"
#: Longest EPC URI or party id accepted (GS1 EPC URIs are well under 300 characters).
MAX_ID_LENGTH = 2048
#: Largest magnitude of a JSON integer in an event (Python refuses to print integers of more
#: than 4300 digits; the hash prints every number).
MAX_JSON_INT = 10**300
#: Largest magnitude of a quantity.
MAX_QUANTITY = 10**300
BIZ_LISTING = "af:listing"
BIZ_CLAIMING = "af:claiming"
BIZ_REACTIVATING = "af:reactivating"
CLAIM_RESULTS = ("ok", "wrong_pin", "locked")
DECOMMISSION_DISPOSITIONS: Mapping[str, str] = MappingProxyType(
    {
        "sold": "retail_sold",
        "exported": "inactive",
        "destroyed": "destroyed",
        "recalled": "recalled",
        "stolen": "stolen",
        "sample": "inactive",
        "expired": "expired",
        "damaged": "damaged",
        "dispensed": "dispensed",
    }
)

_DEFAULT_NAMESPACES: Mapping[str, str] = MappingProxyType({"af": AF_NS})
_CBV = "https://ref.gs1.org/cbv/"
_LEGACY = "urn:epcglobal:cbv:"
_VOCAB_KINDS = {
    "BizStep": (BIZ_STEPS, "bizstep"),
    "Disp": (DISPOSITIONS, "disp"),
    "BTT": (BIZ_TRANSACTION_TYPES, "btt"),
    "SDT": (SOURCE_DEST_TYPES, "sdt"),
}
_URI_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")
_TZ_OFFSET = re.compile(r"[+-](?:0\d|1[0-4]):[0-5]\d")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_PARTY_SAFE = "-._~!$&'()*+,;=@"
_SOURCE_PREFERENCE = ("owning_party", "possessing_party")
_CHECKED_KEYS = frozenset(
    _words(
    """type eventTime eventTimeZoneOffset action epcList childEPCs inputEPCList outputEPCList
    parentID bizStep disposition readPoint bizLocation bizTransactionList sourceList
    destinationList quantityList childQuantityList inputQuantityList outputQuantityList
    eventID transformationID recordTime certificationInfo persistentDisposition
    errorDeclaration ilmd sensorElementList af:lat af:lon"""
    )
)


class Quantity(NamedTuple):
    """A ``quantityList`` entry: an EPC class and an optional quantity and unit."""

    epc_class: str
    quantity: float | None = None
    uom: str | None = None


# --------------------------------------------------------------------------------------------
# Helpers


def party_uri(party: str) -> str:
    """The URI for a party id: ``urn:antifake:party:<id>``, or the id if it is a URI."""
    uri = _PARTY_URIS.get(party)
    if uri is None:
        uri = party if _URI_SCHEME.match(party) else PARTY_PREFIX + quote(party, safe=_PARTY_SAFE)
        if len(_PARTY_URIS) >= 4096:
            _PARTY_URIS.clear()
        _PARTY_URIS[party] = uri
    return uri


_IMMUTABLE = frozenset({str, int, float, bool, type(None)})
_PARTY_URIS: dict[str, str] = {}  # party id -> URI, for the parties met lately


def party_id(uri: str) -> str:
    """The party id of a party URI (inverse of [`party_uri`][antifake.epcis.events.party_uri])."""
    if uri.startswith(PARTY_PREFIX):
        return unquote(uri[len(PARTY_PREFIX):])
    return uri


def _path(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
        return f"{path}.{key}"
    return f"{path}['" + key.replace("\\", "\\\\").replace("'", "\\'") + "']"


def _short(value: str, kind: str, ns: Mapping[str, str]) -> str:
    """A CBV value's short name when it is a standard CBV term; antifake's own terms as
    ``af:`` CURIEs; anything else unchanged."""
    terms, legacy = _VOCAB_KINDS[kind]
    if value in terms:
        return value
    full = value
    prefix, sep, local = value.partition(":")
    if sep and not local.startswith("//"):
        if prefix in ns:
            full = ns[prefix] + local
        elif prefix in STANDARD_PREFIXES:
            full = STANDARD_PREFIXES[prefix] + local
    for base in (f"{_CBV}{kind}-", f"{_LEGACY}{legacy}:"):
        if full.startswith(base) and full[len(base):] in terms:
            return full[len(base):]
    if full.startswith(AF_NS) and ns.get("af") == AF_NS and full != value:
        return "af:" + full[len(AF_NS):]
    if value.startswith(AF_NS) and ns.get("af") == AF_NS:
        return "af:" + value[len(AF_NS):]
    return value


def _json_equal(a: Any, b: Any) -> bool:
    """Equality of JSON values that tells ``1`` from ``1.0`` from ``True``."""
    if type(a) is not type(b):
        both_lists = isinstance(a, (list, tuple)) and isinstance(b, (list, tuple))
        both_maps = isinstance(a, Mapping) and isinstance(b, Mapping)
        if not (both_lists or both_maps):
            return False
    if isinstance(a, Mapping):
        return a.keys() == b.keys() and all(_json_equal(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_json_equal(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def _check_string(value: str, path: str) -> None:
    if "\x00" in value:
        raise EPCISError("NUL character in string", path)
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise EPCISError("lone surrogate in string (not valid Unicode)", path) from None


def check_json(value: Any, path: str = "$", max_depth: int = 100) -> None:
    """Check that ``value`` is plain JSON (objects with string keys, arrays, strings, finite
    numbers, booleans, null) nested at most ``max_depth`` deep, with no NUL characters or lone
    surrogates in strings; raise ``EPCISError`` naming the first fault."""
    stack: list[tuple[Any, str, int]] = [(value, path, 0)]
    while stack:
        item, where, depth = stack.pop()
        if isinstance(item, str):
            _check_string(item, where)
        elif isinstance(item, bool) or item is None:
            continue
        elif isinstance(item, int):
            if not -MAX_JSON_INT <= item <= MAX_JSON_INT:
                raise EPCISError("integer too large (more than 300 digits)", where)
        elif isinstance(item, float):
            if not math.isfinite(item):
                raise EPCISError("numbers must be finite", where)
        elif isinstance(item, Mapping):
            if depth >= max_depth:
                raise EPCISError(f"nested deeper than {max_depth} levels", where)
            for key, sub in item.items():
                if not isinstance(key, str):
                    raise EPCISError("object keys must be strings", where)
                _check_string(key, where)
                stack.append((sub, _path(where, key), depth + 1))
        elif isinstance(item, (list, tuple)):
            if depth >= max_depth:
                raise EPCISError(f"nested deeper than {max_depth} levels", where)
            for i, sub in enumerate(item):
                stack.append((sub, _path(where, i), depth + 1))
        else:
            raise EPCISError(f"not a JSON value: {type(item).__name__}", where)


def _epc_of(value: Any, path: str) -> str:
    """An EPC URI from a string or an object with an ``epc`` attribute (a Stamp)."""
    if not isinstance(value, str):
        value = getattr(value, "epc", None)
        if not isinstance(value, str):
            raise EPCISError("expected an EPC URI string or an object with .epc", path)
    if len(value) > MAX_ID_LENGTH:
        raise EPCISError(f"EPC URI of {len(value)} characters (at most {MAX_ID_LENGTH})", path)
    if not value or not _URI_SCHEME.match(value) or _CONTROL.search(value) or " " in value:
        raise EPCISError(f"not an EPC URI: {value!r:.200}", path)
    return value


def _epcs_of(values: Any, path: str) -> tuple[str, ...]:
    if values is None:
        return ()
    if isinstance(values, str) or hasattr(values, "epc"):
        return (_epc_of(values, _path(path, 0)),)
    if not isinstance(values, Iterable):
        raise EPCISError("expected EPC URIs", path)
    return tuple(_epc_of(v, _path(path, i)) for i, v in enumerate(values))


def _party(value: Any, path: str) -> str:
    if isinstance(value, str) and len(value) > MAX_ID_LENGTH:
        raise EPCISError(f"party id of {len(value)} characters (at most {MAX_ID_LENGTH})", path)
    if not isinstance(value, str) or not value or _CONTROL.search(value):
        raise EPCISError(f"not a party id: {value!r:.200}", path)
    return value


def _who(party: Any) -> str:
    """The recording party of a constructor (required)."""
    return _party(party, "$.readPoint.id")


def _format_offset(offset: timedelta) -> str:
    seconds = int(offset.total_seconds())
    if offset.microseconds or seconds % 60:
        raise EPCISError("UTC offsets must be whole minutes", "$.eventTimeZoneOffset")
    sign = "-" if seconds < 0 else "+"
    minutes = abs(seconds) // 60
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def _time_of(at: Any, path: str = "$.eventTime") -> datetime:
    if isinstance(at, str):
        parsed = parse_timestamp(at.strip(), naive_as_utc=False)
        if parsed is None:
            raise EPCISError(f"not an ISO 8601 date-time: {at!r}", path)
        at = parsed
    if not isinstance(at, datetime):
        raise EPCISError("expected a timezone-aware datetime or an ISO 8601 string", path)
    if at.tzinfo is None or at.utcoffset() is None:
        raise EPCISError("naive datetime: a time zone (UTC offset) is required", path)
    return at


def _format_time(time: datetime) -> str:
    spec = "milliseconds" if time.microsecond % 1000 == 0 else "microseconds"
    text = time.isoformat(timespec=spec)
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _coordinate(value: Any, name: str, limit: float) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise EPCISError(f"{name} must be a number", f"$['af:{name}']")
    if not math.isfinite(value) or abs(value) > limit:
        raise EPCISError(f"{name} must lie in [-{limit:g}, {limit:g}]", f"$['af:{name}']")
    return value


# --------------------------------------------------------------------------------------------
# The event


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class Event:
    """One EPCIS 2.0 event; see the module documentation for the field mapping.

    Build events with the constructors (``Event.commission`` ...) or read them with
    ``Event.from_epcis``; ``Event(...)`` itself validates and normalises its fields.
    """

    type: str
    action: str | None
    time: datetime
    tz_offset: str | None = None
    epcs: tuple[str, ...] = ()
    parent: str | None = None
    children: tuple[str, ...] = ()
    inputs: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()
    biz_step: str | None = None
    disposition: str | None = None
    biz_location: str | None = None
    source: str | None = None
    destination: str | None = None
    by: str | None = None
    lat: float | None = None
    lon: float | None = None
    biz_transactions: tuple[tuple[str | None, str], ...] = ()
    quantities: tuple[Quantity, ...] = ()
    extensions: Mapping[str, Any] = field(default_factory=dict)
    namespaces: Mapping[str, str] = field(default_factory=lambda: _DEFAULT_NAMESPACES)
    #: The ``readPoint`` id: ``party_uri(by)`` (derived from ``by``).
    read_point: str | None = field(default=None, init=False)
    _id: str | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        put = object.__setattr__
        if self.type not in EVENT_TYPES:
            raise EPCISError(f"unknown event type {self.type!r}", "$.type")
        if self.type == "TransformationEvent":
            if self.action is not None:
                raise EPCISError("a TransformationEvent has no action", "$.action")
        elif self.action not in ACTIONS:
            raise EPCISError(f"action must be one of {', '.join(ACTIONS)}", "$.action")
        time = _time_of(self.time)
        put(self, "time", time)
        offset = self.tz_offset
        if offset is None:
            offset = _format_offset(time.utcoffset() or timedelta(0))
        if not isinstance(offset, str) or not _TZ_OFFSET.fullmatch(offset):
            raise EPCISError(f"not a UTC offset (+hh:mm): {offset!r}", "$.eventTimeZoneOffset")
        put(self, "tz_offset", offset)

        ns = self.namespaces
        if not isinstance(ns, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in ns.items()
        ):
            raise EPCISError("namespaces must map prefixes to IRIs", "$['@context']")
        epcs = _epcs_of(self.epcs, "$.epcList")
        children = _epcs_of(self.children, "$.childEPCs")
        inputs = _epcs_of(self.inputs, "$.inputEPCList")
        outputs = _epcs_of(self.outputs, "$.outputEPCList")
        if self.type in ("AggregationEvent", "AssociationEvent"):
            if epcs and children and epcs != children:
                raise EPCISError("epcs and children differ", "$.childEPCs")
            children = children or epcs
            epcs = children
            if inputs or outputs:
                raise EPCISError(f"a {self.type} has no inputs or outputs", "$.inputEPCList")
        elif self.type == "TransformationEvent":
            if epcs and epcs != inputs + outputs:
                raise EPCISError("epcs of a TransformationEvent are its inputs and outputs",
                                 "$.inputEPCList")
            epcs = inputs + outputs
            if children:
                raise EPCISError("a TransformationEvent has no children", "$.childEPCs")
        elif children or inputs or outputs:
            raise EPCISError(f"a {self.type} has no children, inputs or outputs", "$.childEPCs")
        put(self, "epcs", epcs)
        put(self, "children", children)
        put(self, "inputs", inputs)
        put(self, "outputs", outputs)
        if self.parent is not None:
            put(self, "parent", _epc_of(self.parent, "$.parentID"))
        if self.type == "TransformationEvent" and self.parent is not None:
            raise EPCISError("a TransformationEvent has no parent", "$.parentID")

        for name, kind, where in (("biz_step", "BizStep", "$.bizStep"),
                                  ("disposition", "Disp", "$.disposition")):
            value = getattr(self, name)
            if value is not None:
                if not isinstance(value, str) or not value:
                    raise EPCISError(f"{name} must be a non-empty string", where)
                put(self, name, _short(value, kind, ns))

        if self.by is not None:
            read_point = party_uri(_party(self.by, "$.readPoint.id"))
            put(self, "read_point", read_point)
            put(self, "by", party_id(read_point))
        if self.biz_location is not None:
            put(self, "biz_location", _party(self.biz_location, "$.bizLocation.id"))
        for name, where in (("source", "$.sourceList"), ("destination", "$.destinationList")):
            value = getattr(self, name)
            if value is not None:
                put(self, name, party_id(party_uri(_party(value, where))))

        lat = _coordinate(self.lat, "lat", 90.0)
        lon = _coordinate(self.lon, "lon", 180.0)
        put(self, "lat", lat)
        put(self, "lon", lon)
        if (lat is not None or lon is not None) and ns.get("af") != AF_NS:
            if "af" in ns:
                raise EPCISError("the af prefix is bound to another namespace", "$['@context']")
            ns = {**ns, "af": AF_NS}
        put(self, "namespaces", MappingProxyType(dict(ns)))

        transactions = []
        for i, entry in enumerate(self.biz_transactions or ()):
            where = f"$.bizTransactionList[{i}]"
            if not isinstance(entry, (tuple, list)) or len(entry) != 2:
                raise EPCISError("expected a (type, id) pair", where)
            btt, ident = entry
            if btt is not None and (not isinstance(btt, str) or not btt):
                raise EPCISError("type must be a string or None", where + ".type")
            if not isinstance(ident, str) or not ident:
                raise EPCISError("bizTransaction must be a non-empty string",
                                 where + ".bizTransaction")
            transactions.append((None if btt is None else _short(btt, "BTT", ns), ident))
        put(self, "biz_transactions", tuple(transactions))

        quantities = []
        for i, q in enumerate(self.quantities or ()):
            where = f"$.quantityList[{i}]"
            if isinstance(q, str):
                q = Quantity(q)
            elif not isinstance(q, Quantity):
                if not isinstance(q, (tuple, list)) or not 1 <= len(q) <= 3:
                    raise EPCISError("expected a Quantity(epc_class, quantity, uom)", where)
                q = Quantity(*q)
            if not isinstance(q.epc_class, str) or not q.epc_class:
                raise EPCISError("epcClass must be a non-empty string", where + ".epcClass")
            if q.quantity is not None and (
                isinstance(q.quantity, bool)
                or not isinstance(q.quantity, (int, float))
                or (isinstance(q.quantity, int) and abs(q.quantity) > MAX_QUANTITY)
                or not math.isfinite(q.quantity)
            ):
                raise EPCISError(f"quantity must be a finite number of magnitude at most "
                                 f"{MAX_QUANTITY:.0e}", where + ".quantity")
            if q.uom is not None and (not isinstance(q.uom, str) or not q.uom):
                raise EPCISError("uom must be a non-empty string", where + ".uom")
            quantities.append(q)
        put(self, "quantities", tuple(quantities))

        if not isinstance(self.extensions, Mapping):
            raise EPCISError("extensions must be a mapping of field names to JSON", "$")
        extensions = copy.deepcopy(dict(self.extensions))
        check_json(extensions)
        put(self, "extensions", MappingProxyType(extensions))
        if any(k in _CHECKED_KEYS for k in extensions):
            # Extensions that stand for standard fields must still make a valid event.
            _read_fields(self.to_epcis(), self.namespaces, "$")

    # ----------------------------------------------------------------------------------------
    # Identity

    @property
    def event_id(self) -> str:
        """The CBV 2.0 canonical event hash of ``to_epcis()`` (cached)."""
        eid = self._id
        if eid is None:
            prehash = _fast_prehash(self)
            if prehash is None:
                eid = event_hash(self.to_epcis(), [dict(self.namespaces)])
            else:
                eid = hash_prehash(prehash)
            object.__setattr__(self, "_id", eid)
        return eid

    def __reduce__(self) -> tuple[Any, ...]:
        state = {
            f.name: dict(v) if isinstance(v := getattr(self, f.name), MappingProxyType) else v
            for f in dataclasses.fields(self)
        }
        return (_restore_event, (state,))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Event):
            return NotImplemented
        return self.event_id == other.event_id

    def __hash__(self) -> int:
        return hash(self.event_id)

    # ----------------------------------------------------------------------------------------
    # Convenience views of antifake extension fields

    def _af(self, name: str) -> Any:
        if self.namespaces.get("af") != AF_NS:
            return None
        return self.extensions.get("af:" + name)

    @property
    def listing(self) -> str | None:
        """The ``af:listing`` URL of a marketplace listing event."""
        value = self._af("listing")
        return value if isinstance(value, str) else None

    @property
    def reason(self) -> str | None:
        """The ``af:reason`` of a decommissioning event."""
        value = self._af("reason")
        return value if isinstance(value, str) else None

    @property
    def claim_result(self) -> str | None:
        """The ``af:claim`` of a claim event: ``"ok"``, ``"wrong_pin"`` or ``"locked"``."""
        value = self._af("claim")
        return value if isinstance(value, str) else None

    # ----------------------------------------------------------------------------------------
    # EPCIS 2.0 JSON-LD

    def _generated(self) -> dict[str, Any]:
        """The EPCIS fields that the typed fields say."""
        d: dict[str, Any] = {
            "type": self.type,
            "eventTime": _format_time(self.time),
            "eventTimeZoneOffset": self.tz_offset,
        }
        if self.type in ("ObjectEvent", "TransactionEvent"):
            if self.parent is not None:
                d["parentID"] = self.parent
            if self.epcs:
                d["epcList"] = list(self.epcs)
        elif self.type == "TransformationEvent":
            if self.inputs:
                d["inputEPCList"] = list(self.inputs)
            if self.outputs:
                d["outputEPCList"] = list(self.outputs)
        else:
            if self.parent is not None:
                d["parentID"] = self.parent
            if self.children:
                d["childEPCs"] = list(self.children)
        if self.quantities and self.type != "TransformationEvent":
            key = "quantityList" if self.type in ("ObjectEvent", "TransactionEvent") else (
                "childQuantityList")
            entries = []
            for q in self.quantities:
                entry: dict[str, Any] = {"epcClass": q.epc_class}
                if q.quantity is not None:
                    entry["quantity"] = q.quantity
                if q.uom is not None:
                    entry["uom"] = q.uom
                entries.append(entry)
            d[key] = entries
        if self.action is not None:
            d["action"] = self.action
        if self.biz_step is not None:
            d["bizStep"] = self.biz_step
        if self.disposition is not None:
            d["disposition"] = self.disposition
        if self.read_point is not None:
            d["readPoint"] = {"id": self.read_point}
        if self.biz_location is not None:
            d["bizLocation"] = {"id": self.biz_location}
        if self.biz_transactions:
            d["bizTransactionList"] = [
                {"bizTransaction": ident} if kind is None
                else {"type": kind, "bizTransaction": ident}
                for kind, ident in self.biz_transactions
            ]
        if self.source is not None:
            d["sourceList"] = [{"type": "owning_party", "source": party_uri(self.source)}]
        if self.destination is not None:
            d["destinationList"] = [
                {"type": "owning_party", "destination": party_uri(self.destination)}
            ]
        if self.lat is not None:
            d["af:lat"] = self.lat
        if self.lon is not None:
            d["af:lon"] = self.lon
        return d

    def to_epcis(self) -> dict[str, Any]:
        """This event as an EPCIS 2.0 JSON-LD event (a new ``dict``; CURIEs in it refer to
        ``namespaces``)."""
        d = self._generated()
        for key, value in self.extensions.items():
            d[key] = value if type(value) in _IMMUTABLE else copy.deepcopy(value)
        return d

    def _epcis_and_id(self) -> tuple[dict[str, Any], str]:
        """``(to_epcis(), event_id)``: the id, if not known yet, hashed from that dict."""
        d = self.to_epcis()
        eid = self._id
        if eid is None:
            prehash = _flat_prehash(d, self.namespaces)
            eid = hash_prehash(prehash) if prehash is not None else event_hash(
                d, [dict(self.namespaces)])
            object.__setattr__(self, "_id", eid)
        return d, eid

    @classmethod
    def from_epcis(
        cls,
        d: Mapping[str, Any],
        context: Any = None,
        *,
        path: str = "$",
        ignore_fields: Iterable[str] = (),
        owned: bool = False,
    ) -> Event:
        """Read and validate an EPCIS 2.0 JSON-LD event.

        ``context`` is the ``@context`` of its document (``None``: EPCIS 2.0 plus ``af``).
        ``path`` is the JSON path of the event, used in error messages; ``ignore_fields`` are
        top-level fields to drop (a document's ``ignoreFields``). Raises ``EPCISError`` naming
        the JSON path of the first fault. The event keeps what its typed fields do not say in
        ``extensions``, so that ``event_id`` is the hash of ``d`` itself and ``to_epcis()``
        hashes the same. ``owned=True`` (used by ``parse_document``) skips the check and the
        copy of a ``d`` already checked and not shared.
        """
        if not isinstance(d, Mapping):
            raise EPCISError("an event must be a JSON object", path)
        if not owned:
            check_json(d, path)
            d = copy.deepcopy(dict(d))
        ns = namespaces_from_context(context)
        ignored = {f for f in ignore_fields if isinstance(f, str)}
        raw = {k: v for k, v in d.items() if k not in ignored} if ignored else dict(d)
        fields = _read_fields(raw, ns, path)
        try:
            event = cls(**fields, namespaces=ns)
        except EPCISError as e:
            raise EPCISError(e.detail, path + e.path[1:]) from None
        generated = event._generated()
        extensions: dict[str, Any] = {}
        soft: dict[str, Any] = {}
        for key, value in raw.items():
            if key in generated and _json_equal(generated[key], value):
                continue
            if key in ("eventTime", "bizStep", "disposition") and key in generated:
                soft[key] = value
            elif key != "eventID":
                extensions[key] = value
        object.__setattr__(event, "extensions", MappingProxyType(extensions))
        # The hash ignores eventID, so the event as written hashes as generated + extensions
        # unless a "soft" field (same meaning, other spelling) is involved.
        prehash = None if soft else _fast_prehash(event)
        raw_id = hash_prehash(prehash) if prehash is not None else event_hash(raw, [dict(ns)])
        if soft and event_hash(event.to_epcis(), [dict(ns)]) != raw_id:
            extensions.update(soft)
        declared = raw.get("eventID")
        if declared is not None and declared != raw_id:
            extensions["eventID"] = declared
        object.__setattr__(event, "_id", raw_id)
        return event

    # ----------------------------------------------------------------------------------------
    # Constructors of antifake's life-cycle events

    @classmethod
    def commission(cls, epcs: Any, *, by: str, at: Any) -> Event:
        """Stamps issued and applied: ObjectEvent ADD, commissioning, active."""
        return cls(type="ObjectEvent", action="ADD", time=at, epcs=epcs,
                   biz_step="commissioning", disposition="active", by=_who(by))

    @classmethod
    def aggregate(cls, parent: Any, children: Any, *, by: str, at: Any) -> Event:
        """Children packed into a container: AggregationEvent ADD, packing, in_progress."""
        kids = _epcs_of(children, "$.childEPCs")
        if not kids:
            raise EPCISError("aggregate needs at least one child", "$.childEPCs")
        return cls(type="AggregationEvent", action="ADD", time=at,
                   parent=_epc_of(parent, "$.parentID"), children=kids,
                   biz_step="packing", disposition="in_progress", by=_who(by))

    @classmethod
    def disaggregate(cls, parent: Any, children: Any = None, *, by: str, at: Any) -> Event:
        """Children unpacked from a container (``children`` None or empty: all of them):
        AggregationEvent DELETE, unpacking."""
        return cls(type="AggregationEvent", action="DELETE", time=at,
                   parent=_epc_of(parent, "$.parentID"),
                   children=_epcs_of(children, "$.childEPCs"), biz_step="unpacking", by=_who(by))

    @classmethod
    def ship(cls, epcs: Any, *, source: str, destination: str, at: Any) -> Event:
        """Goods leave ``source`` for ``destination``: ObjectEvent OBSERVE, shipping,
        in_transit, recorded by the source."""
        return cls(type="ObjectEvent", action="OBSERVE", time=at, epcs=epcs,
                   biz_step="shipping", disposition="in_transit",
                   by=_party(source, "$.sourceList"), source=source,
                   destination=_party(destination, "$.destinationList"))

    @classmethod
    def receive(cls, epcs: Any, *, by: str, at: Any, source: str | None = None) -> Event:
        """Goods arrive at ``by`` (also the destination): ObjectEvent OBSERVE, receiving,
        in_progress."""
        return cls(type="ObjectEvent", action="OBSERVE", time=at, epcs=epcs,
                   biz_step="receiving", disposition="in_progress",
                   by=_who(by), source=source, destination=by)

    @classmethod
    def sell(cls, epcs: Any, *, by: str, at: Any) -> Event:
        """Sold to a consumer: ObjectEvent OBSERVE, retail_selling, retail_sold."""
        return cls(type="ObjectEvent", action="OBSERVE", time=at, epcs=epcs,
                   biz_step="retail_selling", disposition="retail_sold", by=_who(by))

    @classmethod
    def scan(cls, epc: Any, *, by: str, at: Any, lat: float | None = None,
             lon: float | None = None) -> Event:
        """A verification scan (by an app, a phone, an inspector): ObjectEvent OBSERVE,
        inspecting, no change of disposition; position in ``af:lat``/``af:lon``."""
        return cls(type="ObjectEvent", action="OBSERVE", time=at,
                   epcs=(_epc_of(epc, "$.epcList[0]"),), biz_step="inspecting", by=_who(by),
                   lat=lat, lon=lon)

    @classmethod
    def decommission(cls, epcs: Any, *, reason: str, by: str, at: Any) -> Event:
        """Taken out of circulation: ObjectEvent DELETE, decommissioning, disposition by
        reason (``DECOMMISSION_DISPOSITIONS``), the reason in ``af:reason``."""
        if reason not in DECOMMISSION_DISPOSITIONS:
            raise EPCISError(
                f"unknown decommissioning reason {reason!r}; expected one of "
                + ", ".join(DECOMMISSION_DISPOSITIONS),
                "$['af:reason']",
            )
        return cls(type="ObjectEvent", action="DELETE", time=at, epcs=epcs,
                   biz_step="decommissioning", disposition=DECOMMISSION_DISPOSITIONS[reason],
                   by=_who(by), extensions={"af:reason": reason})

    @classmethod
    def reactivate(cls, epc: Any, *, by: str, at: Any) -> Event:
        """A decommissioning undone: ObjectEvent OBSERVE, ``af:reactivating``, active."""
        return cls(type="ObjectEvent", action="OBSERVE", time=at,
                   epcs=(_epc_of(epc, "$.epcList[0]"),), biz_step=BIZ_REACTIVATING,
                   disposition="active", by=_who(by))

    @classmethod
    def claim(cls, epc: Any, *, by: str, at: Any, ok: bool | str,
              lat: float | None = None, lon: float | None = None) -> Event:
        """A consumer's claim of a stamp with its PIN: ObjectEvent OBSERVE, ``af:claiming``,
        ``af:claim`` = ``"ok"`` (``ok=True``), ``"wrong_pin"`` (``ok=False``) or ``"locked"``
        (``ok="locked"``: refused because of earlier wrong PINs)."""
        if isinstance(ok, bool):
            result = "ok" if ok else "wrong_pin"
        elif ok in CLAIM_RESULTS:
            result = ok
        else:
            raise EPCISError(f"claim result must be a bool or one of {', '.join(CLAIM_RESULTS)}",
                             "$['af:claim']")
        return cls(type="ObjectEvent", action="OBSERVE", time=at,
                   epcs=(_epc_of(epc, "$.epcList[0]"),), biz_step=BIZ_CLAIMING, by=_who(by),
                   lat=lat, lon=lon, extensions={"af:claim": result})

    @classmethod
    def list(cls, epc: Any, *, seller: str, at: Any, listing: str) -> Event:
        """A marketplace listing by ``seller``: ObjectEvent OBSERVE, ``af:listing``, the
        listing URL in ``af:listing``."""
        if not isinstance(listing, str) or not listing or _CONTROL.search(listing):
            raise EPCISError("listing must be a URL string", "$['af:listing']")
        return cls(type="ObjectEvent", action="OBSERVE", time=at,
                   epcs=(_epc_of(epc, "$.epcList[0]"),), biz_step=BIZ_LISTING,
                   by=_who(seller),
                   extensions={"af:listing": listing})



def event_kind(e: Event) -> EventKind:
    """The `EventKind` of an event, from its type, action and bizStep."""
    step = e.biz_step
    if e.type == "AggregationEvent" and e.parent is not None:
        if e.action == "ADD":
            return EventKind.AGGREGATE
        if e.action == "DELETE":
            return EventKind.DISAGGREGATE
    if step == "commissioning" and e.action == "ADD":
        return EventKind.COMMISSION
    if step == "decommissioning":
        return EventKind.DECOMMISSION
    return _STEP_KINDS.get(step or "", EventKind.OTHER)


_STEP_KINDS = {
    "shipping": EventKind.SHIP,
    "receiving": EventKind.RECEIVE,
    "retail_selling": EventKind.SELL,
    "inspecting": EventKind.SCAN,
    BIZ_LISTING: EventKind.LIST,
    BIZ_REACTIVATING: EventKind.REACTIVATE,
    BIZ_CLAIMING: EventKind.CLAIM,
}


def event_detail(e: Event) -> int:
    """The detail code of an event: its claim result or decommissioning reason (0: none).
    Computed when an event is written, so readers never parse stored JSON for it."""
    k = event_kind(e)
    if k == EventKind.CLAIM:
        return detail_code(e.claim_result or "", None)
    if k == EventKind.DECOMMISSION:
        return detail_code(None, e.reason or reason_of_disposition(e.disposition))
    return 0


def _restore_event(state: dict[str, Any]) -> Event:
    """Unpickle an Event (its fields were checked when it was built)."""
    event = object.__new__(Event)
    for name, value in state.items():
        if name in ("extensions", "namespaces"):
            value = MappingProxyType(copy.deepcopy(value))
        object.__setattr__(event, name, value)
    return event


# --------------------------------------------------------------------------------------------
# Reading the typed fields of an EPCIS event


def _need(raw: Mapping[str, Any], key: str, path: str) -> Any:
    if key not in raw:
        raise EPCISError(f"missing {key}", _path(path, key))
    return raw[key]


def _text(value: Any, path: str, what: str = "a non-empty string") -> str:
    if not isinstance(value, str) or not value:
        raise EPCISError(f"expected {what}", path)
    return value


def _text_list(value: Any, path: str) -> list[str]:
    if isinstance(value, str):  # JSON-LD: a set of one may be written without brackets
        return [_text(value, path)]
    if not isinstance(value, list):
        raise EPCISError("expected a list of strings", path)
    return [_text(v, _path(path, i)) for i, v in enumerate(value)]


def _obj(value: Any, path: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise EPCISError("expected an object", path)
    return value


def _obj_list(value: Any, path: str) -> list[Mapping[str, Any]]:
    if isinstance(value, Mapping):  # JSON-LD: a set of one may be written without brackets
        return [value]
    if not isinstance(value, list):
        raise EPCISError("expected a list of objects", path)
    return [_obj(v, _path(path, i)) for i, v in enumerate(value)]


def _timestamp(value: Any, path: str) -> datetime:
    if not isinstance(value, str):
        raise EPCISError("expected an ISO 8601 date-time string", path)
    parsed = parse_timestamp(value, naive_as_utc=False)
    if parsed is None:
        raise EPCISError(f"not an ISO 8601 date-time: {value[:40]!r}", path)
    if parsed.tzinfo is None:
        raise EPCISError("date-time without a UTC offset", path)
    return parsed


def _quantities(value: Any, path: str) -> list[Quantity]:
    out = []
    for i, entry in enumerate(_obj_list(value, path)):
        where = _path(path, i)
        epc_class = _text(_need(entry, "epcClass", where), _path(where, "epcClass"))
        quantity = entry.get("quantity")
        if quantity is not None and (
            isinstance(quantity, bool) or not isinstance(quantity, (int, float))
        ):
            raise EPCISError("expected a number", _path(where, "quantity"))
        uom = entry.get("uom")
        if uom is not None:
            _text(uom, _path(where, "uom"))
        out.append(Quantity(epc_class, quantity, uom))
    return out


def _party_entry(value: Any, key: str, path: str, ns: Mapping[str, str]) -> str | None:
    """The party of a source/destination list: its owning party, else its possessing party,
    else its first entry."""
    entries = _obj_list(value, path)
    found: dict[str, str] = {}
    for i, entry in enumerate(entries):
        where = _path(path, i)
        kind = _short(_text(_need(entry, "type", where), _path(where, "type")), "SDT", ns)
        party = _text(_need(entry, key, where), _path(where, key))
        found.setdefault(kind, party)
        found.setdefault("", party)
    for kind in _SOURCE_PREFERENCE:
        if kind in found:
            return party_id(found[kind])
    return party_id(found[""]) if found else None


def _read_fields(raw: Mapping[str, Any], ns: Mapping[str, str], path: str) -> dict[str, Any]:
    """The typed fields of an EPCIS 2.0 event, validating the standard fields' types."""
    p = lambda key: _path(path, key)  # noqa: E731
    kind = _need(raw, "type", path)
    if kind not in EVENT_TYPES:
        raise EPCISError(f"unknown event type {kind!r}", p("type"))
    f: dict[str, Any] = {"type": kind}
    f["time"] = _timestamp(_need(raw, "eventTime", path), p("eventTime"))
    offset = _need(raw, "eventTimeZoneOffset", path)
    if not isinstance(offset, str) or not _TZ_OFFSET.fullmatch(offset):
        raise EPCISError("expected a UTC offset like +01:00", p("eventTimeZoneOffset"))
    f["tz_offset"] = offset
    if kind == "TransformationEvent":
        if "action" in raw:
            raise EPCISError("a TransformationEvent has no action", p("action"))
        f["action"] = None
    else:
        action = _need(raw, "action", path)
        if action not in ACTIONS:
            raise EPCISError(f"action must be one of {', '.join(ACTIONS)}", p("action"))
        f["action"] = action

    lists = {}
    for key in ("epcList", "childEPCs", "inputEPCList", "outputEPCList"):
        if key in raw:
            value = raw[key]
            if isinstance(value, str):
                lists[key] = [_epc_of(value, p(key))]
            else:
                lists[key] = [_epc_of(_text(v, _path(p(key), i)), _path(p(key), i))
                              for i, v in enumerate(_text_list(value, p(key)))]
    if kind in ("ObjectEvent", "TransactionEvent"):
        f["epcs"] = tuple(lists.get("epcList", ()))
    elif kind == "TransformationEvent":
        f["inputs"] = tuple(lists.get("inputEPCList", ()))
        f["outputs"] = tuple(lists.get("outputEPCList", ()))
    else:
        f["children"] = tuple(lists.get("childEPCs", ()))
    if "parentID" in raw:
        parent = _text(raw["parentID"], p("parentID"))
        if kind != "TransformationEvent":
            f["parent"] = parent
    for key, name in (("bizStep", "biz_step"), ("disposition", "disposition")):
        if key in raw:
            f[name] = _text(raw[key], p(key))
    for key, name in (("readPoint", "by"), ("bizLocation", "biz_location")):
        if key in raw:
            obj = _obj(raw[key], p(key))
            f[name] = _text(_need(obj, "id", p(key)), _path(p(key), "id"))
    if "by" in f:
        f["by"] = party_id(f["by"])
    if "bizTransactionList" in raw:
        where = p("bizTransactionList")
        pairs = []
        for i, entry in enumerate(_obj_list(raw["bizTransactionList"], where)):
            w = _path(where, i)
            ident = _text(_need(entry, "bizTransaction", w), _path(w, "bizTransaction"))
            btt = entry.get("type")
            if btt is not None:
                _text(btt, _path(w, "type"))
            pairs.append((btt, ident))
        f["biz_transactions"] = tuple(pairs)
    for key, name, entry_key in (("sourceList", "source", "source"),
                                 ("destinationList", "destination", "destination")):
        if key in raw:
            f[name] = _party_entry(raw[key], entry_key, p(key), ns)
    quantity_keys = {
        "ObjectEvent": ("quantityList",),
        "TransactionEvent": ("quantityList",),
        "AggregationEvent": ("childQuantityList",),
        "AssociationEvent": ("childQuantityList",),
        "TransformationEvent": ("inputQuantityList", "outputQuantityList"),
    }[kind]
    quantities: list[Quantity] = []
    for key in ("quantityList", "childQuantityList", "inputQuantityList", "outputQuantityList"):
        if key in raw:
            found = _quantities(raw[key], p(key))
            if key in quantity_keys:
                quantities.extend(found)
    f["quantities"] = tuple(quantities)
    if ns.get("af") == AF_NS:
        for key, name in (("af:lat", "lat"), ("af:lon", "lon")):
            if key in raw:
                f[name] = raw[key]

    # Types of the other standard fields.
    for key in ("eventID", "transformationID"):
        if key in raw:
            _text(raw[key], p(key))
    if "recordTime" in raw:
        _timestamp(raw["recordTime"], p("recordTime"))
    if "certificationInfo" in raw:
        value = raw["certificationInfo"]
        if isinstance(value, list):
            _text_list(value, p("certificationInfo"))
        else:
            _text(value, p("certificationInfo"))
    if "persistentDisposition" in raw:
        obj = _obj(raw["persistentDisposition"], p("persistentDisposition"))
        for key in ("set", "unset"):
            if key in obj:
                _text_list(obj[key], _path(p("persistentDisposition"), key))
    if "errorDeclaration" in raw:
        obj = _obj(raw["errorDeclaration"], p("errorDeclaration"))
        where = p("errorDeclaration")
        _timestamp(_need(obj, "declarationTime", where), _path(where, "declarationTime"))
        if "correctiveEventIDs" in obj:
            _text_list(obj["correctiveEventIDs"], _path(where, "correctiveEventIDs"))
    if "ilmd" in raw:
        _obj(raw["ilmd"], p("ilmd"))
    if "sensorElementList" in raw:
        where = p("sensorElementList")
        for i, element in enumerate(_obj_list(raw["sensorElementList"], where)):
            w = _path(where, i)
            if "sensorMetadata" in element:
                _obj(element["sensorMetadata"], _path(w, "sensorMetadata"))
            if "sensorReport" in element:
                _obj_list(element["sensorReport"], _path(w, "sensorReport"))
    return f


# --------------------------------------------------------------------------------------------
# The pre-hash string of an event, straight from its fields


def _fast_prehash(ev: Event) -> str | None:
    """``prehash_string(ev.to_epcis(), [dict(ev.namespaces)])`` by the fast path for flat
    events (all those the constructors make), without copying the extensions; ``None`` for
    other events."""
    d = ev._generated()
    d.update(ev.extensions)
    return _flat_prehash(d, ev.namespaces)
