"""The fields of EPCIS events: the vocabulary constants, their checks, and the reading of
each typed field from JSON with an error that names the path."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any, NamedTuple
from urllib.parse import quote, unquote

from antifake.epcis.cbv import (
    AF_NS,
    BIZ_STEPS,
    BIZ_TRANSACTION_TYPES,
    DISPOSITIONS,
    SOURCE_DEST_TYPES,
    STANDARD_PREFIXES,
    _words,
)
from antifake.errors import EPCISError
from antifake.timeutil import parse_timestamp

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
BIZ_COMPLAINING = "af:complaining"  # a consumer's report of a suspected fake
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
