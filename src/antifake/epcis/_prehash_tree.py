"""Steps 1 to 4 of the CBV 2.0 pre-hash string through the EPCIS element tree: vocabulary
expansion, the tree, and the string written from it (the reference path, for any event)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from antifake.epcis._prehash_values import _canonize, _timestamp_text
from antifake.epcis.cbv import (
    _PAIR_LISTS,
    _SKIPPED_KEYS,
    _UNSORTED_NAMES,
    _VOCAB,
    _VOCAB_PREFIXES,
    STANDARD_PREFIXES,
    _expand_key,
    _expand_value,
    _words,
)
from antifake.errors import EPCISError

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
        if value is True or value is False or value is None:
            return str(value)  # as the reference writes them: True, False, None
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
