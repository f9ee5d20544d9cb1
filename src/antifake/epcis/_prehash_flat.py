"""The pre-hash string of flat events written directly, without the element tree (the fast
path; it gives the same string as the tree for every event it accepts)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from antifake.epcis._prehash_tree import _ID_FIELDS, _suffix_index, _vocab_iri
from antifake.epcis._prehash_values import _canonize, _fast_timestamp_text
from antifake.epcis.cbv import (
    _IGNORED_TOP_LEVEL,
    _PAIR_LISTS,
    _SKIPPED_KEYS,
    _UNSORTED_NAMES,
    _VOCAB,
    _VOCAB_PREFIXES,
    ORDER,
    STANDARD_PREFIXES,
    _expand_key,
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
        if value is True or value is False or value is None:
            return str(value)  # as the reference writes them: True, False, None
        return str(value).strip()

    def leaf(self, name: str, value: Any) -> str:
        """An element of the ordered part: ``name=value``, or nothing if the value is empty."""
        return self._written(self.leaves, name, value, "")

    def element(self, name: str, value: Any) -> str:
        """An element of the remaining part: ``name=value``, or the name alone."""
        return self._written(self.free, name, value, name)

    def _written(self, memo: dict[tuple[str, str], str], name: str, value: Any,
                 empty: str) -> str:
        """``name=value`` with the value normalised (step 5), or ``empty`` for an empty value;
        remembered in ``memo`` for string values."""
        key = (name, value)
        if type(value) is str:
            out = memo.get(key)
            if out is not None:
                return out
        text = self.text(value)
        out = name + "=" + _canonize(text) if text else empty
        if type(value) is str:
            if len(memo) >= _MEMO_SIZE:
                memo.clear()
            memo[key] = out
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
