"""``antifake record``: the everyday supply-chain events from arguments or a CSV file.

Each kind maps to one [`Event`][antifake.epcis.events.Event] constructor (``ship``,
``receive``, ``sell``, ``aggregate``, ``disaggregate``, ``scan``). From a CSV file every row is
one event of that kind; its columns are named like the options (``codes``, ``by``, ``from``,
``to``, ``parent``, ``children``, ``at``, ``lat``, ``lon``; ``code`` is accepted for
``codes``, ``source``/``destination`` for ``from``/``to``), several codes in one cell are
separated by spaces or ``|``, and an option given on the command line fills a column the file
lacks. Every event is built and checked before any is stored, and all are stored in one
transaction (``Registry.record_many``): a bad row stores nothing and names its line.
"""

from __future__ import annotations

import argparse
import csv
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import antifake as af
from antifake.cli._common import (
    EXIT_OK,
    AddParser,
    CLIError,
    Parents,
    _close,
    _emit_json,
    _need_file,
    _open_registry,
    _out,
    _Parser,
    _time_arg,
)
from antifake.epcis.events import Event
from antifake.errors import AntifakeError, FormatError

__all__ = ["KINDS", "RecordError", "build_event", "read_rows", "events_from_rows", "describe",
           "cmd_record", "add_parsers"]

#: Kinds of ``antifake record`` and the fields each needs (and may take).
KINDS: Mapping[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "ship": (("codes", "from", "to"), ("at",)),
    "receive": (("codes", "by"), ("at", "from")),
    "sell": (("codes", "by"), ("at",)),
    "aggregate": (("parent", "children", "by"), ("at",)),
    "disaggregate": (("parent", "by"), ("at", "children")),
    "scan": (("codes", "by"), ("at", "lat", "lon")),
}
_ALIASES = {"code": "codes", "source": "from", "destination": "to", "child": "children"}
_SPLIT = re.compile(r"[\s|]+")


class RecordError(FormatError):
    """A record request or CSV row that does not make an event; ``where`` names the row."""


def _codes(value: Any) -> list[str]:
    if value is None:
        return []
    items = [value] if isinstance(value, str) else list(value)
    return [c for item in items for c in _SPLIT.split(item.strip()) if c]


def _float(value: Any, what: str) -> float | None:
    if value is None or value == "":
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        raise RecordError(f"{what} must be a number, not {value!r:.40}") from None


def build_event(kind: str, fields: Mapping[str, Any], resolve: Callable[[str], str],
                now: datetime) -> Event:
    """One event of ``kind`` from ``fields`` (names as in `KINDS`); codes go through
    ``resolve`` (scanned text to EPC). Raises `RecordError` naming what is missing or wrong."""
    if kind not in KINDS:
        raise RecordError(f"unknown event kind {kind!r}: expected one of {', '.join(KINDS)}")
    need, _ = KINDS[kind]
    f = {_ALIASES.get(k, k): v for k, v in fields.items() if v not in (None, "", [])}
    missing = [n for n in need if n not in f]
    if missing:
        flags = ", ".join("--" + m if m not in ("codes", "parent", "children") else m
                          for m in missing)
        raise RecordError(f"{kind} needs {flags} (as arguments, or columns of --csv FILE)")
    at = f.get("at") or now
    codes = [resolve(c) for c in _codes(f.get("codes"))]
    children = [resolve(c) for c in _codes(f.get("children"))]
    parent = resolve(_codes(f["parent"])[0]) if "parent" in f else None
    if kind == "ship":
        return Event.ship(codes, source=f["from"], destination=f["to"], at=at)
    if kind == "receive":
        return Event.receive(codes, by=f["by"], at=at, source=f.get("from"))
    if kind == "sell":
        return Event.sell(codes, by=f["by"], at=at)
    if kind == "aggregate":
        return Event.aggregate(parent, children, by=f["by"], at=at)
    if kind == "disaggregate":
        return Event.disaggregate(parent, children or None, by=f["by"], at=at)
    if len(codes) != 1:
        raise RecordError(f"a scan is of one code, got {len(codes)}")
    return Event.scan(codes[0], by=f["by"], at=at, lat=_float(f.get("lat"), "lat"),
                      lon=_float(f.get("lon"), "lon"))


def read_rows(path: str | Path, delimiter: str | None = None) -> list[tuple[int, dict[str, str]]]:
    """``(line number, row)`` of a CSV file with a header; the delimiter is sniffed among
    ``, ; tab |`` unless given. Column names are matched case-insensitively."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise RecordError(f"{p}: not UTF-8 text") from None
    if delimiter is None:
        head = text.splitlines()[0] if text else ""
        counts = {d: head.count(d) for d in (",", ";", "\t", "|")}
        delimiter = max(counts, key=lambda d: counts[d]) if any(counts.values()) else ","
    if len(delimiter) != 1:
        raise RecordError(f"--delimiter must be one character, not {delimiter!r}")
    reader = csv.DictReader(text.splitlines(), delimiter=delimiter)
    if not reader.fieldnames:
        raise RecordError(f"{p}: empty file (a header row is needed)")
    known = {n for need, opt in KINDS.values() for n in need + opt} | set(_ALIASES)
    names = [(n or "").strip().lower() for n in reader.fieldnames]
    unknown = [n for n in names if n not in known]
    if unknown:
        raise RecordError(f"{p}: unknown column {unknown[0]!r}: columns are "
                          f"{', '.join(sorted(known))} (is the delimiter right? --delimiter)")
    rows = []
    for i, raw in enumerate(reader, start=2):
        if None in raw:
            raise RecordError(f"{p}:{i}: more cells than header columns")
        row = {n.strip().lower(): (v or "").strip() for n, v in raw.items() if n is not None}
        if any(row.values()):
            rows.append((i, row))
    return rows


def events_from_rows(kind: str, rows: Iterable[tuple[str, Mapping[str, Any]]],
                     defaults: Mapping[str, Any], resolve: Callable[[str], str],
                     now: datetime, parse_time: Callable[[str], datetime]) -> list[Event]:
    """Events of ``kind``, one per ``(where, row)``; a row's empty cells take ``defaults``.
    The first fault raises `RecordError` prefixed with its ``where``."""
    out = []
    for where, row in rows:
        merged = {k: v for k, v in defaults.items() if v not in (None, "", [])}
        merged.update({_ALIASES.get(k, k): v for k, v in row.items() if v not in (None, "")})
        try:
            if isinstance(merged.get("at"), str):
                merged["at"] = parse_time(merged["at"])
            out.append(build_event(kind, merged, resolve, now))
        except AntifakeError as exc:
            raise RecordError(f"{where}: {exc}") from None
    return out


def describe(events: Sequence[Event]) -> str:
    """A line a person reads: how many events of which steps, about how many codes."""
    n = sum(len(e.epcs) + (1 if e.parent else 0) for e in events)
    steps = sorted({(e.biz_step or "").rpartition(":")[2] for e in events})
    return f"{len(events)} event{'s' if len(events) != 1 else ''} ({', '.join(steps)}) " \
           f"about {n} code{'s' if n != 1 else ''}"


# ---------------------------------------------------------------------------------------
# the command
# ---------------------------------------------------------------------------------------
def cmd_record(args: argparse.Namespace) -> int:
    from antifake.timeutil import parse_time

    kind = args.record_kind
    positional = list(args.codes or [])
    defaults: dict[str, Any] = {"by": args.by, "from": getattr(args, "from_", None),
                                "to": args.to, "lat": args.lat, "lon": args.lon,
                                "at": _time_arg(args.at, "--at")}
    if kind in ("aggregate", "disaggregate") and positional:
        defaults["parent"], defaults["children"] = positional[0], positional[1:]
    else:
        defaults["codes"] = positional
    if args.csv is None and args.delimiter is not None:
        raise CLIError("--delimiter goes with --csv FILE")
    reg = _open_registry(args, "record")
    try:
        def resolve(text: str) -> str:
            t = text.strip()
            if t.startswith("urn:") or t.lower().startswith("https://id.gs1.org/"):
                return t
            try:
                return reg.resolve(t)
            except af.UnknownStampError as e:
                raise RecordError(f"{t[:40]}: {e}") from None

        now = datetime.now().astimezone()
        if args.csv is not None:
            path = _need_file(args.csv, "CSV file")
            rows = [(f"{path}:{i}", row) for i, row in read_rows(path, args.delimiter)]
            if not rows:
                raise CLIError(f"{path}: no rows to record")
        else:
            rows = [("arguments", {})]
        events = events_from_rows(kind, rows, defaults, resolve, now, parse_time)
        ids = reg.record_many(events)
        new = getattr(ids, "new", None)
        res = {"kind": kind, "events": len(events),
               "event_ids": [e.event_id for e in events], "new": new}
        if args.json:
            _emit_json(res)
        else:
            _out(args, f"recorded {describe(events)}"
                       + (f"; {len(events) - new} already recorded" if new is not None
                          and new < len(events) else ""))
    finally:
        _close(reg)
    return EXIT_OK


def add_parsers(add: AddParser, parents: Parents) -> None:
    """Add ``record`` and its kinds to the ``antifake`` parser."""
    common, dbp, ring = parents.common, parents.dbp, parents.ring
    s = add("record", "record ship, receive, sell, aggregate, disaggregate or scan events "
            "(from arguments or a CSV file)", [])
    rsub = s.add_subparsers(dest="record_kind", metavar="KIND", parser_class=_Parser,
                            required=True)
    helps = {
        "ship": ("goods leave --from for --to (custody stays with --from until received)",
                 "codes shipped (EPCs, QR URLs, codes or stamp numbers)"),
        "receive": ("goods arrive at --by", "codes received"),
        "sell": ("sold to a consumer by --by", "codes sold"),
        "aggregate": ("pack CHILD codes into PARENT (a case or pallet)", "PARENT CHILD..."),
        "disaggregate": ("unpack PARENT (all of it, or the CHILD codes given)",
                         "PARENT [CHILD...]"),
        "scan": ("a verification scan of one code by --by (an app, an inspector)", "the code"),
    }
    for kind, (text, codes_help) in helps.items():
        t = rsub.add_parser(kind, help=text, description=text, parents=[common, dbp, ring])
        t.add_argument("codes", nargs="*", metavar="CODE", help=codes_help)
        if kind == "ship" or kind == "receive":
            t.add_argument("--from", dest="from_", default=None, metavar="PARTY",
                           help="source party id (or its PGLN)")
        else:
            t.set_defaults(from_=None)
        if kind == "ship":
            t.add_argument("--to", default=None, metavar="PARTY", help="destination party id")
            t.set_defaults(by=None)
        else:
            t.add_argument("--by", default=None, metavar="PARTY",
                           help="party id recording it (or its PGLN / SGLN)")
            t.set_defaults(to=None)
        if kind == "scan":
            t.add_argument("--lat", type=float, default=None)
            t.add_argument("--lon", type=float, default=None)
        else:
            t.set_defaults(lat=None, lon=None)
        t.add_argument("--at", default=None, help="ISO 8601 time (default now)")
        t.add_argument("--csv", default=None, metavar="FILE",
                       help="one event per row; columns named like the options (codes, by, "
                            "from, to, parent, children, at, lat, lon)")
        t.add_argument("--delimiter", default=None, metavar="CHAR",
                       help="CSV delimiter (default: sniffed among , ; tab |)")
    s.set_defaults(func=cmd_record)
