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
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any

from antifake.epcis._fields import (
    _CHECKED_KEYS,
    _CONTROL,
    _DEFAULT_NAMESPACES,
    _IMMUTABLE,
    _TZ_OFFSET,
    ACTIONS,
    BIZ_CLAIMING,
    BIZ_COMPLAINING,
    BIZ_LISTING,
    BIZ_REACTIVATING,
    CLAIM_RESULTS,
    DECOMMISSION_DISPOSITIONS,
    EVENT_TYPES,
    MAX_ID_LENGTH,
    MAX_QUANTITY,
    PARTY_PREFIX,
    Quantity,
    _coordinate,
    _epc_of,
    _epcs_of,
    _format_offset,
    _format_time,
    _json_equal,
    _party,
    _read_fields,
    _short,
    _time_of,
    _who,
    check_json,
    party_id,
    party_uri,
)
from antifake.epcis._prehash_flat import _flat_prehash
from antifake.epcis.cbv import (
    AF_NS,
    namespaces_from_context,
)
from antifake.epcis.event_hash import event_hash, hash_prehash
from antifake.epcis.kinds import EventKind, detail_code, reason_of_disposition
from antifake.errors import EPCISError

__all__ = [
    "MAX_ID_LENGTH",
    "ACTIONS",
    "check_json",
    "AF_NS",
    "BIZ_CLAIMING",
    "BIZ_COMPLAINING",
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
    BIZ_COMPLAINING: EventKind.COMPLAINT,
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
# The pre-hash string of an event, straight from its fields


def _fast_prehash(ev: Event) -> str | None:
    """``prehash_string(ev.to_epcis(), [dict(ev.namespaces)])`` by the fast path for flat
    events (all those the constructors make), without copying the extensions; ``None`` for
    other events."""
    d = ev._generated()
    d.update(ev.extensions)
    return _flat_prehash(d, ev.namespaces)
