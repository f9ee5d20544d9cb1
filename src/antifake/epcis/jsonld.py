"""EPCIS 2.0 JSON-LD documents: reading (with validation) and writing.

``parse_document`` reads an ``EPCISDocument`` (``epcisBody.eventList``) or an
``EPCISQueryDocument`` (``epcisBody.queryResults.resultsBody.eventList``) from bytes, text, a
parsed ``dict`` or a file path, and returns its events as [`Event`][antifake.epcis.events.Event]
objects whose ``event_id`` is the CBV 2.0 hash of the event as written. Anything malformed
raises ``EPCISError`` whose ``path`` is the JSON path of the fault
(``$.epcisBody.eventList[3].eventTime``); invalid JSON reports its line and column (also as the
error's ``line`` and ``column`` attributes). Documents over ``MAX_DOCUMENT_BYTES`` (100 MB) or
nested deeper than ``MAX_DEPTH`` are refused.

``document(events)`` and ``dumps(events)`` write an ``EPCISDocument`` whose ``@context`` is the
EPCIS 2.0 context plus the ``af`` namespace (and the prefixes of events read from other
documents); each event gets its ``eventID`` (its hash) unless it has one. Reading what
``dumps`` wrote gives events with the same ids.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from antifake.epcis.event_hash import (
    AF_NS,
    EPCIS_CONTEXT_URL,
    event_hash,
    ignore_fields_of,
    namespaces_from_context,
)
from antifake.epcis.events import Event, check_json
from antifake.errors import EPCISError

__all__ = [
    "MAX_DEPTH",
    "MAX_DOCUMENT_BYTES",
    "EPCISDocument",
    "document",
    "dumps",
    "parse_document",
]

MAX_DOCUMENT_BYTES = 100 * 1024 * 1024
MAX_DEPTH = 64
DOCUMENT_TYPES = ("EPCISDocument", "EPCISQueryDocument")


@dataclass(slots=True)
class EPCISDocument:
    """A parsed EPCIS 2.0 document."""

    #: The ``@context`` as written (``None`` if absent).
    context: Any
    #: The events, validated, in document order.
    events: list[Event]
    #: The events as written (JSON objects), in document order.
    raw_events: list[dict[str, Any]]
    #: ``"EPCISDocument"`` or ``"EPCISQueryDocument"``.
    type: str = "EPCISDocument"
    #: Field names that the document's ``ignoreFields`` leaves out of the event hashes.
    ignore_fields: tuple[str, ...] = ()
    #: The document's other top-level fields (``creationDate``, ``epcisHeader``, ...).
    header: dict[str, Any] = field(default_factory=dict)

    @property
    def event_ids(self) -> list[str]:
        """The events' CBV 2.0 hashes, in document order."""
        return [e.event_id for e in self.events]


def _error_from_json(e: json.JSONDecodeError) -> EPCISError:
    err = EPCISError(f"invalid JSON: {e.msg} at line {e.lineno} column {e.colno}", "$")
    err.line = e.lineno  # type: ignore[attr-defined]
    err.column = e.colno  # type: ignore[attr-defined]
    return err


def _reject_constant(name: str) -> Any:
    raise EPCISError(f"invalid JSON: {name} is not a JSON number", "$")


def _loads(text: str) -> Any:
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except EPCISError:
        raise
    except json.JSONDecodeError as e:
        raise _error_from_json(e) from None
    except RecursionError:
        raise EPCISError(f"invalid JSON: nested deeper than {MAX_DEPTH} levels", "$") from None
    except ValueError as e:  # e.g. integers with too many digits
        raise EPCISError(f"invalid JSON: {e}", "$") from None


def _decode(data: bytes) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise EPCISError(f"not UTF-8 text (byte {e.start})", "$") from None


def _read_file(path: Path, max_bytes: int) -> bytes:
    try:
        with open(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            if size > max_bytes:
                raise EPCISError(f"document larger than {max_bytes} bytes", "$")
            data = fh.read(max_bytes + 1)
    except OSError as e:
        raise EPCISError(f"cannot read {os.fspath(path)!r}: {e.strerror or e}", "$") from None
    if len(data) > max_bytes:
        raise EPCISError(f"document larger than {max_bytes} bytes", "$")
    return data


def _as_document(data: Any, max_bytes: int) -> tuple[Any, bool]:
    """The parsed JSON value of ``data`` and whether it is a fresh object (not the caller's)."""
    if isinstance(data, Mapping):
        return data, False
    if isinstance(data, os.PathLike):
        data = _read_file(Path(data), max_bytes)
    if isinstance(data, (bytes, bytearray, memoryview)):
        data = bytes(data)
        if len(data) > max_bytes:
            raise EPCISError(f"document larger than {max_bytes} bytes", "$")
        return _loads(_decode(data)), True
    if isinstance(data, str):
        if len(data) > max_bytes:
            raise EPCISError(f"document larger than {max_bytes} bytes", "$")
        # a str is the document's text, never a path (a path is a PathLike): whether a
        # string is read as a file must not depend on which files happen to exist
        try:
            return _loads(data), True
        except EPCISError as exc:
            head = data.lstrip()[:1]
            if data.strip() and head not in ("{", "[", '"') and len(data) < 4096 \
                    and "\n" not in data:  # looks like a path: say how to pass one
                raise EPCISError(f"{exc.detail}; a str is read as the document's JSON text, "
                                 "pass a file path as a pathlib.Path (os.PathLike)",
                                 exc.path) from None
            raise
    raise EPCISError(
        f"expected bytes, str, a dict or a path, not {type(data).__name__}", "$"
    )


def _events_location(doc: Mapping[str, Any]) -> tuple[Any, str, list[Any]]:
    """``(event list, its JSON path, the objects that may carry ignoreFields)``."""
    kind = doc.get("type")
    body = doc.get("epcisBody")
    if "epcisBody" not in doc:
        raise EPCISError("missing epcisBody", "$.epcisBody")
    if not isinstance(body, Mapping):
        raise EPCISError("epcisBody must be an object", "$.epcisBody")
    if kind == "EPCISQueryDocument":
        where = "$.epcisBody.queryResults"
        results = body.get("queryResults")
        if not isinstance(results, Mapping):
            raise EPCISError("missing queryResults object", where)
        rbody = results.get("resultsBody")
        if not isinstance(rbody, Mapping):
            raise EPCISError("missing resultsBody object", where + ".resultsBody")
        where += ".resultsBody.eventList"
        if "eventList" not in rbody:
            raise EPCISError("missing eventList", where)
        return rbody["eventList"], where, [doc, body, results, rbody]
    if "eventList" not in body:
        raise EPCISError("missing eventList", "$.epcisBody.eventList")
    return body["eventList"], "$.epcisBody.eventList", [doc, body]


def _plain(value: Any) -> Any:
    """A copy of checked JSON made of plain dicts and lists."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _check_context(context: Any) -> None:
    if isinstance(context, str):
        return
    entries = context if isinstance(context, list) else [context]
    for i, entry in enumerate(entries):
        where = f"$['@context'][{i}]" if isinstance(context, list) else "$['@context']"
        if not isinstance(entry, (str, Mapping)):
            raise EPCISError("a context entry must be a URL or an object", where)


def parse_document(
    data: bytes | str | Mapping[str, Any] | os.PathLike[str],
    *,
    max_bytes: int = MAX_DOCUMENT_BYTES,
    max_depth: int = MAX_DEPTH,
) -> EPCISDocument:
    """Read and validate an EPCIS 2.0 JSON-LD document (``EPCISDocument`` or
    ``EPCISQueryDocument``).

    ``data`` is the document's bytes or text (a ``str`` is always text), its parsed ``dict``,
    or the path of a file as an ``os.PathLike`` (``pathlib.Path``). Raises ``EPCISError``
    with the JSON path of the first fault.
    """
    doc, fresh = _as_document(data, max_bytes)
    if not isinstance(doc, Mapping):
        raise EPCISError("an EPCIS document must be a JSON object", "$")
    check_json(doc, "$", max_depth)
    if not fresh:
        doc = _plain(doc)
    kind = doc.get("type")
    if "type" not in doc:
        raise EPCISError("missing type (EPCISDocument or EPCISQueryDocument)", "$.type")
    if kind not in DOCUMENT_TYPES:
        raise EPCISError(f"unknown document type {kind!r}", "$.type")
    context = doc.get("@context")
    if context is not None:
        _check_context(context)
    events, where, levels = _events_location(doc)
    if not isinstance(events, list):
        raise EPCISError("eventList must be a list", where)
    ignore = tuple(ignore_fields_of(*levels))
    parsed = [
        Event.from_epcis(e, context, path=f"{where}[{i}]", ignore_fields=ignore, owned=True)
        for i, e in enumerate(events)
    ]
    header = {k: v for k, v in doc.items() if k not in ("@context", "type", "epcisBody")}
    return EPCISDocument(context=context, events=parsed, raw_events=list(events), type=kind,
                         ignore_fields=ignore, header=header)


# --------------------------------------------------------------------------------------------
# Writing


def _rename_prefix(value: Any, old: str, new: str) -> Any:
    """Rewrite CURIEs ``old:x`` as ``new:x`` in keys and string values."""
    head = old + ":"
    if isinstance(value, str):
        return new + ":" + value[len(head):] if value.startswith(head) else value
    if isinstance(value, list):
        return [_rename_prefix(v, old, new) for v in value]
    if isinstance(value, Mapping):
        return {
            (new + ":" + k[len(head):] if k.startswith(head) else k): _rename_prefix(v, old, new)
            for k, v in value.items()
        }
    return value


def _creation_date(value: Any) -> str:
    if value is None:
        value = datetime.now(UTC)
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise EPCISError("creation_date must be timezone-aware", "$.creationDate")
        text = value.isoformat(timespec="milliseconds")
        return text[:-6] + "Z" if text.endswith("+00:00") else text
    if isinstance(value, str):
        return value
    raise EPCISError("creation_date must be a datetime or a string", "$.creationDate")


def document(
    events: Iterable[Event],
    context: Any = None,
    *,
    creation_date: datetime | str | None = None,
    event_ids: bool = True,
) -> dict[str, Any]:
    """An EPCIS 2.0 JSON-LD ``EPCISDocument`` (a ``dict``) holding ``events``.

    Its ``@context`` is the EPCIS 2.0 context and an object declaring ``af`` and the other
    prefixes the events use (``context`` may add prefixes: a context object or list). Events
    read from documents that bound a prefix differently get it renamed. Each event carries its
    ``eventID`` (its CBV 2.0 hash) unless it has one or ``event_ids`` is false.
    """
    merged: dict[str, str] = {"af": AF_NS}
    if context is not None:
        for prefix, iri in namespaces_from_context(context).items():
            if prefix != "af" or iri == AF_NS:
                merged.setdefault(prefix, iri)
    items: list[tuple[int, Event, dict[str, Any], bool]] = []
    for i, event in enumerate(events):
        if not isinstance(event, Event):
            raise EPCISError(f"expected an Event, not {type(event).__name__}",
                             f"$.epcisBody.eventList[{i}]")
        body = event.to_epcis()
        same = True
        for prefix, iri in event.namespaces.items():
            if merged.setdefault(prefix, iri) != iri:
                fresh = prefix
                n = 2
                while fresh in merged or fresh in event.namespaces:
                    fresh = f"{prefix}{n}"
                    n += 1
                merged[fresh] = iri
                body = _rename_prefix(body, prefix, fresh)
                same = False
        items.append((i, event, body, same))
    ctx: list[Any] = [EPCIS_CONTEXT_URL, dict(merged)]
    out_events = []
    for i, event, body, same in items:
        eid = event.event_id
        checked = same and dict(event.namespaces) == merged
        if not checked and event_hash(body, ctx) != eid:
            raise EPCISError(
                "this event cannot share a document with the others: its hash depends on "
                "a prefix they bind differently",
                f"$.epcisBody.eventList[{i}]",
            )
        if event_ids and "eventID" not in body:
            body = {"type": body.pop("type"), "eventID": eid, **body}
        out_events.append(body)
    return {
        "@context": ctx,
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": _creation_date(creation_date),
        "epcisBody": {"eventList": out_events},
    }


def dumps(
    events: Iterable[Event],
    context: Any = None,
    *,
    indent: int | None = None,
    creation_date: datetime | str | None = None,
) -> str:
    """``document(events, context)`` as JSON text."""
    doc = document(events, context, creation_date=creation_date)
    try:
        return json.dumps(doc, ensure_ascii=False, indent=indent, allow_nan=False)
    except ValueError as e:
        raise EPCISError(f"cannot write as JSON: {e}", "$") from None
