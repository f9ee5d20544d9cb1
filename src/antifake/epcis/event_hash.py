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

import functools
import hashlib
import math
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from antifake.epcis.event_id import hash_to_id
from antifake.errors import EPCISError
from antifake.gs1.canonical import canonical_gs1_uri
from antifake.timeutil import parse_timestamp

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

EPCIS_CONTEXT_URL = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
AF_NS = "https://antifake.dev/ns/epcis#"
#: The ``@context`` antifake writes, and the one assumed when none is given.
DEFAULT_CONTEXT: tuple[Any, ...] = (EPCIS_CONTEXT_URL, {"af": AF_NS})

_CBV = "https://ref.gs1.org/cbv/"
_GS1 = "https://gs1.org/voc/"


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


#: Prefixes declared by the EPCIS 2.0 JSON-LD context itself.
STANDARD_PREFIXES: dict[str, str] = {
    "epcis": "https://ref.gs1.org/epcis/",
    "cbv": _CBV,
    "cbvmda": "urn:epcglobal:cbv:mda:",
    "gs1": _GS1,
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "owl": "http://www.w3.org/2002/07/owl#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    "dcterms": "http://purl.org/dc/terms/",
}

# The CBV 2.0 / GS1 Web Vocabulary terms that the EPCIS 2.0 context lets events write as bare
# words: (IRI prefix, terms).
BIZ_STEPS = frozenset(
    _words(
        """accepting arriving assembling collecting commissioning consigning
        creating_class_instance cycle_counting decommissioning departing destroying
        disassembling dispensing encoding entering_exiting holding inspecting installing
        killing loading other packing picking receiving removing repackaging repairing
        replacing reserving retail_selling sampling sensor_reporting shipping
        staging_outbound stock_taking stocking storing transporting unloading unpacking
        void_shipping"""
    )
)
DISPOSITIONS = frozenset(
    _words(
        """active available completeness_inferred completeness_verified conformant
        container_closed container_open damaged destroyed dispensed disposed encoded
        expired in_progress in_transit inactive mismatch_class mismatch_instance
        mismatch_quantity needs_replacement no_pedigree_match non_conformant
        non_sellable_other partially_dispensed recalled reserved retail_sold returned
        sellable_accessible sellable_not_accessible stolen unavailable unknown"""
    )
)
SOURCE_DEST_TYPES = frozenset({"location", "owning_party", "possessing_party"})
BIZ_TRANSACTION_TYPES = frozenset(
    _words(
        """bol cert desadv inv pedigree po poc prodorder recadv rma testprd testres upevt"""
    )
)
MEASUREMENT_TYPES = frozenset(
    _words(
        """AbsoluteHumidity AbsorbedDose AbsorbedDoseRate Acceleration Altitude
        AmountOfSubstance AmountOfSubstancePerUnitVolume Angle AngularAcceleration
        AngularMomentum AngularVelocity Area Capacitance Conductance Conductivity Count
        Density Dimensionless DoseEquivalent DoseEquivalentRate DynamicViscosity
        ElectricCharge ElectricCurrent ElectricCurrentDensity ElectricFieldStrength
        Energy Exposure Force Frequency Illuminance Inductance Irradiance
        KinematicViscosity Length LinearMomentum Luminance LuminousFlux
        LuminousIntensity MagneticFlux MagneticFluxDensity MagneticVectorPotential Mass
        MassConcentration MassFlowRate MassPerAreaTime MemoryCapacity MolalityOfSolute
        MolarEnergy MolarMass MolarVolume Power Pressure RadiantFlux RadiantIntensity
        Radioactivity RelativeHumidity Resistance Resistivity SolidAngle SpecificVolume
        Speed SurfaceDensity SurfaceTension Temperature Time Torque Voltage Volume
        VolumeFlowRate VolumeFraction VolumetricFlux Wavenumber"""
    )
)
SENSOR_ALARM_TYPES = frozenset({"ALARM_CONDITION", "ERROR_CONDITION"})
COMPONENTS = frozenset(
    _words(
        """altitude axial_distance azimuth easting elevation_angle height latitude
        longitude northing polar_angle spherical_radius x y z"""
    )
)
ERROR_REASONS = frozenset({"did_not_occur", "incorrect_data"})

_VOCAB: dict[str, tuple[str, frozenset[str]]] = {
    "BizStep": (_CBV + "BizStep-", BIZ_STEPS),
    "Disp": (_CBV + "Disp-", DISPOSITIONS),
    "SDT": (_CBV + "SDT-", SOURCE_DEST_TYPES),
    "BTT": (_CBV + "BTT-", BIZ_TRANSACTION_TYPES),
    "Measurement": (_GS1, MEASUREMENT_TYPES),
    "Alarm": (_GS1, SENSOR_ALARM_TYPES),
    "Comp": (_CBV + "Comp-", COMPONENTS),
    "ER": (_CBV + "ER-", ERROR_REASONS),
}

#: Fields (and sub-fields) hashed in this order, before the remaining ones. Each entry is
#: ``(name, sub-order or None)``; names are those of the EPCIS XML model.
_SENSOR_METADATA = tuple((n, None) for n in _words(
    """time startTime endTime deviceID deviceMetadata rawData dataProcessingMethod bizRules"""))
_SENSOR_REPORT = tuple((n, None) for n in _words(
    """type exception deviceID deviceMetadata rawData dataProcessingMethod time microorganism
    chemicalSubstance value component stringValue booleanValue hexBinaryValue uriValue
    minValue maxValue meanValue sDev percRank percValue uom coordinateReferenceSystem"""))
_QUANTITY = (("quantityElement", (("epcClass", None), ("quantity", None), ("uom", None))),)
_EPC = (("epc", None),)
ORDER: tuple[tuple[str, Any], ...] = (
    ("eventTime", None),
    ("eventTimeZoneOffset", None),
    ("certificationInfo", None),
    ("parentID", None),
    ("epcList", _EPC),
    ("inputEPCList", _EPC),
    ("childEPCs", _EPC),
    ("quantityList", _QUANTITY),
    ("childQuantityList", _QUANTITY),
    ("inputQuantityList", _QUANTITY),
    ("outputEPCList", _EPC),
    ("outputQuantityList", _QUANTITY),
    ("action", None),
    ("transformationID", None),
    ("bizStep", None),
    ("disposition", None),
    ("persistentDisposition", (("set", None), ("unset", None))),
    ("readPoint", (("id", None),)),
    ("bizLocation", (("id", None),)),
    # bizTransactionList, sourceList and destinationList come with the remaining fields.
    ("sensorElementList", (("sensorElement", (
        ("sensorMetadata", _SENSOR_METADATA),
        ("sensorReport", _SENSOR_REPORT),
    )),)),
)

_IGNORED_TOP_LEVEL = frozenset({"recordTime", "eventID", "type", "errorDeclaration"})
_SKIPPED_KEYS = frozenset({"#text", "rdfs:comment", "comment"})
_PAIR_LISTS = {"bizTransactionList": "bizTransaction", "sourceList": "source",
               "destinationList": "destination"}
_UNSORTED_NAMES = frozenset(_PAIR_LISTS.values())
_VOCAB_PREFIXES = ("https://ref.gs1.org/cbv", "https://gs1.org/voc")


# --------------------------------------------------------------------------------------------
# Context and namespaces


def namespaces_from_context(context: Any = None) -> dict[str, str]:
    """The ``prefix -> namespace IRI`` map that a document's ``@context`` declares.

    ``None`` means antifake's default context (EPCIS 2.0 plus ``af``). Context URLs declare
    nothing here (the EPCIS context's own prefixes are known separately); objects declare their
    string-valued entries (and ``{"@id": ...}`` term definitions).
    """
    if context is None:
        context = DEFAULT_CONTEXT
    entries: Iterable[Any]
    if isinstance(context, Mapping):
        entries = (context,)
    elif isinstance(context, (list, tuple)):
        entries = context
    else:
        entries = ()
    out: dict[str, str] = {}
    for entry in entries:
        if not isinstance(entry, Mapping):
            continue
        for key, value in entry.items():
            if not isinstance(key, str):
                continue
            if isinstance(value, str):
                out[key] = value
            elif isinstance(value, Mapping) and isinstance(value.get("@id"), str):
                out[key] = value["@id"]
    return out


def _expand_key(key: str, ns: Mapping[str, str]) -> str:
    prefix, sep, local = key.partition(":")
    if sep and prefix in ns:
        return "{" + ns[prefix] + "}" + local
    return key


def _expand_value(value: str, ns: Mapping[str, str]) -> str:
    prefix, sep, local = value.partition(":")
    if sep and prefix in ns:
        return ns[prefix] + local
    return value


# --------------------------------------------------------------------------------------------
# Step 1: vocabulary expansion


def _vocab_iri(value: str, kind: str | None, ns: Mapping[str, str]) -> str:
    """What JSON-LD expansion makes of a vocabulary- or IRI-typed value."""
    if kind is not None:
        base, terms = _VOCAB[kind]
        if value in terms:
            return base + value
        if value in ns:
            return ns[value]
        if value in STANDARD_PREFIXES:
            return STANDARD_PREFIXES[value]
    prefix, sep, local = value.partition(":")
    if sep and not local.startswith("//"):
        if prefix in ns:
            return ns[prefix] + local
        if prefix in STANDARD_PREFIXES:
            return STANDARD_PREFIXES[prefix] + local
    return value


_ID_FIELDS = frozenset(
    _words(
        """certificationInfo transformationID epcList parentID childEPCs inputEPCList
        outputEPCList eventID"""
    )
)
_SENSOR_ID_FIELDS = frozenset(
    _words(
        """deviceID deviceMetadata rawData dataProcessingMethod bizRules
        coordinateReferenceSystem microorganism chemicalSubstance uriValue"""
    )
)


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, (list, tuple)):
        for v in value:
            if isinstance(v, str):
                yield v


def _vocabulary_values(event: Mapping[str, Any], ns: Mapping[str, str]) -> set[str]:
    """The expanded IRIs of the event's vocabulary- and IRI-typed values under the CBV/GS1
    vocabulary namespaces (what the reference collects from the JSON-LD expansion)."""
    found: list[tuple[str, str | None]] = []
    add = found.append
    for key, value in event.items():
        if key == "bizStep":
            found.extend((s, "BizStep") for s in _strings(value))
        elif key == "disposition":
            found.extend((s, "Disp") for s in _strings(value))
        elif key in _ID_FIELDS:
            found.extend((s, None) for s in _strings(value))
        elif key in ("readPoint", "bizLocation") and isinstance(value, Mapping):
            found.extend((s, None) for s in _strings(value.get("id")))
        elif key == "persistentDisposition" and isinstance(value, Mapping):
            for sub in ("set", "unset"):
                found.extend((s, "Disp") for s in _strings(value.get(sub)))
        elif key in _PAIR_LISTS and isinstance(value, list):
            kind = "BTT" if key == "bizTransactionList" else "SDT"
            for entry in value:
                if isinstance(entry, Mapping):
                    found.extend((s, kind) for s in _strings(entry.get("type")))
                    found.extend((s, None) for s in _strings(entry.get(_PAIR_LISTS[key])))
        elif key in ("quantityList", "childQuantityList", "inputQuantityList",
                     "outputQuantityList") and isinstance(value, list):
            for entry in value:
                if isinstance(entry, Mapping):
                    found.extend((s, None) for s in _strings(entry.get("epcClass")))
        elif key == "errorDeclaration" and isinstance(value, Mapping):
            found.extend((s, "ER") for s in _strings(value.get("reason")))
            found.extend((s, None) for s in _strings(value.get("correctiveEventIDs")))
        elif key == "sensorElementList" and isinstance(value, list):
            for element in value:
                if not isinstance(element, Mapping):
                    continue
                meta = element.get("sensorMetadata")
                parts = [meta] if isinstance(meta, Mapping) else []
                reports = element.get("sensorReport")
                if isinstance(reports, Mapping):
                    reports = [reports]
                for i, part in enumerate(parts + list(reports or ())):
                    if not isinstance(part, Mapping):
                        continue
                    is_report = i >= len(parts)
                    for k, v in part.items():
                        if k in _SENSOR_ID_FIELDS:
                            found.extend((s, None) for s in _strings(v))
                        elif is_report and k == "type":
                            found.extend((s, "Measurement") for s in _strings(v))
                        elif is_report and k == "exception":
                            found.extend((s, "Alarm") for s in _strings(v))
                        elif is_report and k == "component":
                            found.extend((s, "Comp") for s in _strings(v))
    del add
    out: set[str] = set()
    for value, vocab_kind in found:
        iri = _vocab_iri(value, vocab_kind, ns)
        if iri.startswith(_VOCAB_PREFIXES):
            out.add(iri)
    return out


def _suffix_index(iris: set[str]) -> dict[str, set[str]]:
    """Map every segment after a ``-`` or ``/`` of each IRI to the IRIs that end with it."""
    index: dict[str, set[str]] = {}
    for iri in iris:
        for i, ch in enumerate(iri):
            if ch in "-/":
                index.setdefault(iri[i + 1:], set()).add(iri)
    return index


# --------------------------------------------------------------------------------------------
# Steps 2 and 3: the element tree


class _Node:
    """An element of the XML-like model: a name, a text value and child elements."""

    __slots__ = ("name", "text", "children")

    def __init__(self, name: str, text: str = "", children: list[Any] | None = None) -> None:
        self.name = name
        self.text = text
        self.children: list[Any] = children if children is not None else []

    def key(self) -> tuple[Any, ...]:
        return (self.name, self.text, [c.key() for c in self.children])


class _Pair:
    """A bizTransaction/source/destination entry: its type, its value and any extra fields."""

    __slots__ = ("nodes",)

    def __init__(self, nodes: list[_Node]) -> None:
        self.nodes = nodes


class _Converter:
    def __init__(self, ns: Mapping[str, str], index: dict[str, set[str]], depth: int) -> None:
        self.ns = ns
        self.index = index
        self.max_depth = depth
        self.trail: list[str | int] = []

    def fail(self, message: str) -> EPCISError:
        path = "$"
        for step in self.trail:
            path = f"{path}[{step}]" if isinstance(step, int) else _join(path, step)
        return EPCISError(message, path)

    def bare(self, value: str) -> str:
        """Step 1: a bare vocabulary word becomes the IRI it stands for."""
        matches = self.index.get(value)
        if matches is not None and len(matches) == 1:
            return next(iter(matches))
        return value

    def scalar(self, value: Any) -> str:
        if isinstance(value, str):
            matches = self.index.get(value)
            if matches is not None and len(matches) == 1:
                value = next(iter(matches))
            if ":" in value:
                return _expand_value(value, self.ns)
            return value
        if value is True:
            return "True"
        if value is False:
            return "False"
        if value is None:
            return "None"
        if isinstance(value, (int, float)):
            return str(value)
        raise self.fail(f"not a JSON value: {type(value).__name__}")

    def convert(self, value: Any, depth: int = 0) -> _Node:
        if type(value) is str:
            return _Node("", self.scalar(value))
        if depth > self.max_depth:
            raise self.fail("nesting too deep")
        trail = self.trail
        if isinstance(value, (list, tuple)):
            node = _Node("")
            children = node.children
            trail.append(0)
            for i, item in enumerate(value):
                trail[-1] = i
                children.append(self.convert(item, depth + 1))
            trail.pop()
            if len(children) > 1:
                children.sort(key=_Node.key)
            return node
        if isinstance(value, Mapping):
            name = value.get("type", "")
            node = _Node(self.bare(name) if isinstance(name, str) else self.scalar(name))
            text = value.get("#text")
            if isinstance(text, str):
                node.text = self.bare(text)
            children = node.children
            ns = self.ns
            trail.append("")
            for key, item in value.items():
                if not isinstance(key, str):
                    raise self.fail("object keys must be strings")
                if key in _SKIPPED_KEYS or key.startswith("@xmlns"):
                    continue
                trail[-1] = key
                child = self.convert(item, depth + 1)
                name = _expand_key(key, ns) if ":" in key else key
                if isinstance(item, (list, tuple)):
                    for element in child.children:
                        element.name = name
                        children.append(element)
                else:
                    child.name = name
                    children.append(child)
            trail.pop()
            if len(children) > 1 and not any(k in value for k in _UNSORTED_NAMES):
                children.sort(key=_Node.key)
            return node
        return _Node("", self.scalar(value))


def _join(path: str, key: str) -> str:
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
        return f"{path}.{key}"
    return f"{path}[{_quote(key)}]"


def _quote(key: str) -> str:
    return "'" + key.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _correct(node: _Node) -> _Node:
    """Reshape the JSON tree into the EPCIS XML model (recursively)."""
    children = node.children
    if not children:
        if node.name in ("inputEPC", "outputEPC"):
            node.name = "epc"
        elif node.name in ("inputQuantity", "outputQuantity", "childQuantity"):
            node.name = "quantityElement"
        return node
    lists: dict[str, list[_Node]] = {}
    rest: list[Any] = []
    for child in children:
        if child.name.endswith("List"):
            lists.setdefault(child.name, []).append(
                _Node(child.name[:-4], child.text, child.children))
        else:
            rest.append(child)
    grouped: list[Any] = []
    for list_name, elements in lists.items():
        if list_name in _PAIR_LISTS:
            grouped.append(_Node(list_name, "", [_pair(e) for e in elements]))
        else:
            grouped.append(_Node(list_name, "", elements))
    epcs = [c for c in rest if c.name == "childEPCs"]
    rest = [c for c in rest if c.name != "childEPCs"] + grouped
    if epcs:
        rest.append(_Node("childEPCs", "", [_Node("epc", c.text) for c in epcs]))
    out: list[Any] = []
    for child in rest:
        if isinstance(child, _Node) and child.name in _PAIR_LISTS:
            out.append(child)
        else:
            out.append(_correct(child))
    node.children = out
    if node.name in ("inputEPC", "outputEPC"):
        node.name = "epc"
    elif node.name in ("inputQuantity", "outputQuantity", "childQuantity") or (
        node.name == "quantity" and node.children
    ):
        node.name = "quantityElement"
    return node


def _pair(element: _Node) -> _Pair:
    value_name = element.name
    if not element.children:
        return _Pair([_Node(value_name, element.text)])
    types = [c for c in element.children if c.name == "type"]
    values = [c for c in element.children if c.name == value_name]
    extras = [c for c in element.children if c.name not in ("type", value_name)]
    extras.sort(key=_Node.key)
    return _Pair(types + values + extras)


# --------------------------------------------------------------------------------------------
# Step 4: the pre-hash string


def _take_user_extensions(children: list[Any]) -> list[Any]:
    if len(children) <= 1:
        return []
    for child in children:
        if "eventTime" in child.name or "action" in child.name:
            return []
    ext = [c for c in children if "{" in c.name and "/}" in c.name]
    if ext:
        keep = [c for c in children if not ("{" in c.name and "/}" in c.name)]
        children[:] = keep
    return ext


def _ordered(children: list[Any], order: tuple[tuple[str, Any], ...]) -> str:
    extensions = _take_user_extensions(children)
    groups: dict[str, list[_Node]] = {}
    for child in children:
        groups.setdefault(child.name, []).append(child)
    out: list[str] = []
    done: set[int] = set()
    for name, sub_order in order:
        group = groups.get(name)
        if group is None:
            continue
        parts: list[str] = []
        for child in group:
            text = _element_string(child, sub_order)
            if text:
                parts.append(text)
            if not child.children:
                done.add(id(child))
        parts.sort()
        out.extend(parts)
    if done:
        children[:] = [c for c in children if id(c) not in done]
    if extensions:
        out.append(_generic(extensions))
    return "".join(out)


def _element_string(node: _Node, sub_order: Any) -> str:
    nested = _ordered(node.children, sub_order) if sub_order else ""
    text = ""
    if node.text:
        value = node.text.strip()
        lname = node.name.lower()
        if "time" in lname and "offset" not in lname:
            value = _timestamp_text(value)
        else:
            value = _canonize(value)
        if value:
            text = "=" + value
    if text or nested:
        return node.name + text + nested
    return ""


def _generic(children: list[Any]) -> str:
    parts: list[str] = []
    for child in children:
        if isinstance(child, _Pair):
            parts.append("".join(_node_string(n) for n in child.nodes))
        else:
            parts.append(_node_string(child))
    if len(children) > 1 and not any(
        isinstance(c, _Node) and c.name in _UNSORTED_NAMES for c in children
    ):
        parts.sort()
    return "".join(parts)


def _node_string(node: _Node) -> str:
    value = node.text.strip()
    if value:
        value = "=" + _canonize(value)
    return node.name + value + _generic(node.children)


# --------------------------------------------------------------------------------------------
# Step 5: value normalisation

_LEGACY_CBV = (
    ("urn:epcglobal:cbv:bizstep:", _CBV + "BizStep-"),
    ("urn:epcglobal:cbv:disp:", _CBV + "Disp-"),
    ("urn:epcglobal:cbv:btt:", _CBV + "BTT-"),
    ("urn:epcglobal:cbv:sdt:", _CBV + "SDT-"),
    ("urn:epcglobal:cbv:er:", _CBV + "ER-"),
)


@functools.lru_cache(maxsize=1 << 16)
def _canonize(text: str) -> str:
    if "urn:epcglobal:cbv:" in text:
        for old, new in _LEGACY_CBV:
            text = text.replace(old, new)
    text = _numeric(text)
    canonical = canonical_gs1_uri(text)
    return canonical if canonical else text


def _numeric(text: str) -> str:
    first = text[:1]
    if not (first.isdigit() or first in "+-.iInN"):
        return text  # cannot be a number (float() would also accept what this lets through)
    try:
        number = float(text)
    except ValueError:
        return text
    if math.isinf(number) or math.isnan(number):
        return text
    if number == int(number):
        return str(int(number))
    return str(number)


# The usual spelling of a timestamp (what antifake writes): minute, second, fraction, zone.
_PLAIN_TIMESTAMP = re.compile(
    r"([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}):([0-5][0-9])(?:\.([0-9]+))?"
    r"(Z|[+-][0-9]{2}:[0-9]{2})"
)


@functools.lru_cache(maxsize=4096)
def _utc_minute(minute: str, zone: str) -> str | None:
    """``YYYY-MM-DDTHH:MM`` at UTC offset ``zone`` (``Z`` or ``+hh:mm``) as the same minute in
    UTC; ``None`` if it is no valid time or falls out of range."""
    offset = 0
    if zone != "Z":
        hours, minutes = int(zone[1:3]), int(zone[4:6])
        if hours > 23 or minutes > 59:
            return None
        offset = hours * 60 + minutes
        if zone[0] == "-":
            offset = -offset
    try:
        dt = datetime(int(minute[:4]), int(minute[5:7]), int(minute[8:10]), int(minute[11:13]),
                      int(minute[14:16]))
        if offset:
            dt -= timedelta(minutes=offset)
    except (ValueError, OverflowError):
        return None
    return f"{dt.year:04d}-{dt.month:02d}-{dt.day:02d}T{dt.hour:02d}:{dt.minute:02d}"


def _fast_timestamp_text(text: str) -> str:
    """``_timestamp_text(text)``, quicker for timestamps spelled as antifake writes them."""
    plain = _PLAIN_TIMESTAMP.fullmatch(text)
    if plain is not None:
        # The offset is whole minutes: only the minute changes, unless the rounding of the
        # fraction carries into it (left to the general path).
        minute, second, fraction, zone = plain.groups()
        utc = _utc_minute(minute, zone)
        if utc is not None:
            if fraction is not None and len(fraction) == 3:
                return utc + ":" + second + "." + fraction + "Z"
            millis = round(int(fraction[:6].ljust(6, "0")), -3) // 1000 if fraction else 0
            if millis < 1000:
                return f"{utc}:{second}.{millis:03d}Z"
    return _timestamp_text(text)


def _timestamp_text(text: str) -> str:
    """A timestamp as the hash writes it (``utc_millis``), or ``text`` if it is none."""
    dt = parse_timestamp(text)
    if dt is None:
        return text
    return utc_millis(dt) or text


def utc_millis(dt: datetime) -> str | None:
    """A timezone-aware datetime as the hash writes it: UTC, milliseconds (sub-millisecond
    digits rounded half to even), ``Z``; ``None`` if out of range."""
    try:
        dt = dt.astimezone(UTC)
        millis = round(dt.microsecond, -3)
        dt = dt.replace(microsecond=0) + timedelta(microseconds=millis)
    except OverflowError:
        return None
    return (
        f"{dt.year:04d}-{dt.month:02d}-{dt.day:02d}T{dt.hour:02d}:{dt.minute:02d}:"
        f"{dt.second:02d}.{dt.microsecond // 1000:03d}Z"
    )


# --------------------------------------------------------------------------------------------
# The fast path: flat events without the element tree
#
# Most events (all those antifake's constructors make) are flat: standard fields with string
# values, EPC lists, quantity lists, readPoint / bizLocation ids, bizTransaction / source /
# destination lists of {type, value} entries, and scalar user extensions. For these the steps
# above reduce to a few string operations per value, done here directly: the same vocabulary
# expansion (step 1, one suffix table per set of vocabulary IRIs, cached), the same key and
# value expansion (step 2) and the same normalisation (step 5), written in the order step 4
# gives. Anything else (nested extensions, sensor data, persistentDisposition, ilmd, error
# declarations, values of other types, names the tree treats specially) is left to the tree:
# ``_flat_prehash`` returns ``None``. ``tests/test_event_hash_fast.py`` holds the two to the
# same strings.

_TIME, _LEAF, _EPCS, _QUANTITIES, _ID, _PAIRS, _DROPPED, _SKIPPED = range(8)
_FLAT_FIELDS: dict[str, int] = {
    "eventTime": _TIME,
    **dict.fromkeys(("eventTimeZoneOffset", "certificationInfo", "parentID", "action",
                     "transformationID", "bizStep", "disposition"), _LEAF),
    **dict.fromkeys(("epcList", "inputEPCList", "childEPCs", "outputEPCList"), _EPCS),
    **dict.fromkeys(("quantityList", "childQuantityList", "inputQuantityList",
                     "outputQuantityList"), _QUANTITIES),
    "readPoint": _ID,
    "bizLocation": _ID,
    **dict.fromkeys(_PAIR_LISTS, _PAIRS),
    "eventID": _DROPPED,
    "recordTime": _DROPPED,
    **dict.fromkeys(_SKIPPED_KEYS, _SKIPPED),
}
# The ordered part of a flat event: its fields of ORDER, in that order.
_FLAT_ORDER = tuple(name for name, _ in ORDER if name in _FLAT_FIELDS)
# Names that the tree gives a meaning of their own (sorting, grouping, renaming, ordering):
# an extension named so is left to the tree.
_RENAMED = frozenset({"inputEPC", "outputEPC", "inputQuantity", "outputQuantity",
                      "childQuantity", "quantity"})  # see _correct
_TREE_NAMES = frozenset({name for name, _ in ORDER} | _IGNORED_TOP_LEVEL | _UNSORTED_NAMES
                        | (_RENAMED - {"quantity"}))
_QUANTITY_FIELDS = ("epcClass", "quantity", "uom")
_SCALARS = frozenset({str, int, float, bool, type(None)})
_MEMO_SIZE = 4096
# (kind, term) -> IRI of the standard vocabulary terms, whatever the context.
_TERM_IRIS = {(kind, term): base + term for kind, (base, terms) in _VOCAB.items()
              for term in terms}


class _Table:
    """What the fast path needs for one context and one set of vocabulary IRIs: the
    namespaces, the bare words that step 1 expands (the segments after a ``-`` or ``/`` that
    belong to exactly one of the IRIs, as in ``_suffix_index``), and the elements already
    written for repeated string values (``leaves``: ordered part, ``free``: remaining part)."""

    __slots__ = ("ns", "words", "leaves", "free")

    def __init__(self, ns: dict[str, str], iris: frozenset[str]) -> None:
        self.ns = ns
        self.words = {word: next(iter(matches))
                      for word, matches in _suffix_index(set(iris)).items()
                      if len(matches) == 1}
        self.leaves: dict[tuple[str, str], str] = {}
        self.free: dict[tuple[str, str], str] = {}

    def text(self, value: Any) -> str:
        """A scalar as the element tree holds it (steps 1 and 2), stripped."""
        if type(value) is str:
            if self.words:
                value = self.words.get(value, value)
            if ":" in value:
                prefix, _, local = value.partition(":")
                if prefix in self.ns:
                    value = self.ns[prefix] + local
            return value.strip()
        if value is True:
            return "True"
        if value is False:
            return "False"
        if value is None:
            return "None"
        return str(value).strip()

    def leaf(self, name: str, value: Any) -> str:
        """An element of the ordered part: ``name=value``, or nothing if the value is empty."""
        key = (name, value)
        if type(value) is str:
            out = self.leaves.get(key)
            if out is not None:
                return out
        text = self.text(value)
        if text:
            text = _canonize(text)
        out = name + "=" + text if text else ""
        if type(value) is str:
            if len(self.leaves) >= _MEMO_SIZE:
                self.leaves.clear()
            self.leaves[key] = out
        return out

    def element(self, name: str, value: Any) -> str:
        """An element of the remaining part: ``name=value``, or the name alone."""
        key = (name, value)
        if type(value) is str:
            out = self.free.get(key)
            if out is not None:
                return out
        text = self.text(value)
        out = name + "=" + _canonize(text) if text else name
        if type(value) is str:
            if len(self.free) >= _MEMO_SIZE:
                self.free.clear()
            self.free[key] = out
        return out

    def epcs(self, values: list[str]) -> str:
        """The sorted ``epc=...`` elements of an EPC list (``leaf`` without the memo: EPCs
        seldom repeat)."""
        words, ns = self.words, self.ns
        out = []
        for value in values:
            if words:
                value = words.get(value, value)
            if ":" in value:
                prefix, _, local = value.partition(":")
                if prefix in ns:
                    value = ns[prefix] + local
            value = value.strip()
            if value:
                value = _canonize(value)
                if value:
                    out.append("epc=" + value)
        out.sort()
        return "".join(out)


_TABLES: dict[tuple[Any, ...], _Table] = {}


def _table(ns: Mapping[str, str], iris: frozenset[str]) -> _Table:
    key = (*ns.items(), iris)
    table = _TABLES.get(key)
    if table is None:
        if len(_TABLES) >= 256:
            _TABLES.clear()
        table = _TABLES[key] = _Table(dict(ns), iris)
    return table


def _flat_prehash(event: Mapping[str, Any], ns: Mapping[str, str]) -> str | None:
    """The pre-hash string of a flat event (ignored fields removed already), or ``None`` when
    the event is not flat and needs the element tree."""
    etype = event.get("type")
    if type(etype) is not str or type(event.get("eventTime")) is not str or etype in _RENAMED:
        return None
    # Check the shape, and collect the vocabulary IRIs of step 1 on the way: those of the
    # vocabulary-typed values, and the IRI-typed values under the CBV/GS1 namespaces (what
    # _vocabulary_values collects from a flat event).
    fields: dict[str, Any] = {}
    extensions: list[tuple[str, Any]] = []
    typed: list[tuple[str, str]] = []
    untyped: list[str] = []
    for key, value in event.items():
        kind = _FLAT_FIELDS.get(key)
        if kind is None:
            if key == "type":
                continue
            if type(key) is not str or type(value) not in _SCALARS:
                return None
            if key[:1] == "@":
                if key.startswith("@xmlns"):
                    continue
                return None
            name = _expand_key(key, ns) if ":" in key else key
            if name in _TREE_NAMES or name.endswith("List"):
                return None
            extensions.append((name, value))
        elif kind in (_LEAF, _TIME):
            if type(value) is not str:
                return None
            fields[key] = value
            if key == "bizStep":
                typed.append((value, "BizStep"))
            elif key == "disposition":
                typed.append((value, "Disp"))
            elif key in _ID_FIELDS:
                untyped.append(value)
        elif kind == _EPCS:
            if type(value) is not list:
                return None
            for item in value:
                if type(item) is not str:
                    return None
                if ":" in item:
                    untyped.append(item)
            fields[key] = value
        elif kind == _ID:
            if type(value) is not dict or len(value) != 1 or type(value.get("id")) is not str:
                return None
            fields[key] = value["id"]
            untyped.append(value["id"])
        elif kind == _PAIRS:
            if type(value) is not list:
                return None
            value_key = _PAIR_LISTS[key]
            type_kind = "BTT" if key == "bizTransactionList" else "SDT"
            for entry in value:
                if type(entry) is not dict or not entry:
                    return None
                for k, v in entry.items():
                    if type(v) is not str:
                        return None
                    if k == "type":
                        typed.append((v, type_kind))
                    elif k == value_key:
                        untyped.append(v)
                    else:
                        return None
            fields[key] = value
        elif kind == _QUANTITIES:
            if type(value) is not list:
                return None
            for entry in value:
                if type(entry) is not dict or not entry:
                    return None
                for k, v in entry.items():
                    if k not in _QUANTITY_FIELDS or v is None or type(v) not in _SCALARS:
                        return None
                epc_class = entry.get("epcClass")
                if type(epc_class) is str:
                    untyped.append(epc_class)
            fields[key] = value
        elif kind == _DROPPED:
            if type(value) is not str:
                return None
            if key == "eventID":
                untyped.append(value)
        # _SKIPPED: comments take no part, not even in step 1.

    vocab = []
    for value, vocab_kind in typed:
        iri = _TERM_IRIS.get((vocab_kind, value)) or _vocab_iri(value, vocab_kind, ns)
        if iri.startswith(_VOCAB_PREFIXES):
            vocab.append(iri)
    for value in untyped:
        # _vocab_iri changes CURIEs whose prefix is declared; other values are IRIs already.
        if value.startswith(_VOCAB_PREFIXES):
            vocab.append(value)
        elif ":" in value:
            prefix = value.partition(":")[0]
            if prefix in ns or prefix in STANDARD_PREFIXES:
                iri = _vocab_iri(value, None, ns)
                if iri.startswith(_VOCAB_PREFIXES):
                    vocab.append(iri)
    table = _table(ns, frozenset(vocab))
    words = table.words
    leaf = table.leaf

    out = ["eventType=", words.get(etype, etype) if words else etype]
    add = out.append
    for name in _FLAT_ORDER:
        value = fields.get(name)
        if value is None:
            continue
        kind = _FLAT_FIELDS[name]
        if kind == _LEAF:
            add(leaf(name, value))
        elif kind == _TIME:
            stamp = table.text(value)
            if stamp:
                add("eventTime=" + _fast_timestamp_text(stamp))
        elif kind == _EPCS:
            epcs = table.epcs(value)
            if epcs:
                add(name)
                add(epcs)
        elif kind == _QUANTITIES:
            elements = []
            for entry in value:
                parts = "".join([leaf(k, entry[k]) for k in _QUANTITY_FIELDS if k in entry])
                if parts:
                    elements.append("quantityElement" + parts)
            if elements:
                elements.sort()
                add(name)
                add("".join(elements))
        else:  # _ID
            inner = leaf("id", value)
            if inner:
                add(name)
                add(inner)
    element = table.element
    rest = [element(name, value) for name, value in extensions]
    for name, value_key in _PAIR_LISTS.items():
        entries = fields.get(name)
        if entries:
            pairs = [
                (element("type", entry["type"]) if "type" in entry else "")
                + (element(value_key, entry[value_key]) if value_key in entry else "")
                for entry in entries
            ]
            pairs.sort()
            rest.append(name + "".join(pairs))
    if rest:
        rest.sort()
        out += rest
    return "".join(out)


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
