"""The registry commands: ``register``, ``import-epcis``, ``export-epcis``, ``trace``,
``detect`` and ``check-listing``."""

from __future__ import annotations

import argparse
import contextlib
import csv
import os
from datetime import datetime
from typing import Any

import antifake as af
from antifake.cli._common import (
    DB_ENV,
    EXIT_FILE,
    EXIT_FOUND,
    EXIT_OK,
    SHOW_ROWS,
    AddParser,
    CLIError,
    Parents,
    _close,
    _emit_json,
    _iso,
    _need_file,
    _new_output,
    _note,
    _open_registry,
    _out,
    _Parser,
    _refuse_existing,
    _time_arg,
)
from antifake.epcis.events import event_kind


def _event_json(ev: Any) -> dict[str, Any]:
    if isinstance(ev, str):
        return {"event_id": ev}
    if isinstance(ev, int):
        return {"event": ev}
    d: dict[str, Any] = {}
    for k in ("event_id", "type", "action", "biz_step", "disposition", "time", "by", "source",
              "destination", "parent", "lat", "lon"):
        v = getattr(ev, k, None)
        if v is not None:
            d[k] = _iso(v)
    for k in ("epcs", "children"):
        v = getattr(ev, k, None)
        if v:
            d[k] = list(v)
    for k in ("reason", "listing"):
        v = getattr(ev, k, None)
        if v is not None and not callable(v):
            d[k] = v
    return d


def _event_summary(ev: af.Event) -> dict[str, Any]:
    """An event as the history listing shows it: id, time, kind, parties, location."""
    d: dict[str, Any] = {"event_id": ev.event_id, "time": _iso(ev.time),
                         "kind": event_kind(ev).name.lower()}
    for k in ("by", "source", "destination", "lat", "lon"):
        v = getattr(ev, k)
        if v is not None:
            d[k] = v
    return d


def _short_step(s: str | None) -> str:
    if not s:
        return "-"
    return s.rsplit("/", 1)[-1].rsplit(":", 1)[-1]


def cmd_register(args: argparse.Namespace) -> int:
    reg = _open_registry(args, "register", must_exist=False)
    try:
        p = _need_file(args.batch, "batch file")
        try:
            batch = af.Batch.load(p)
        except af.IssueError as e:
            raise CLIError(f"{e}", EXIT_FILE) from None
        if args.role:
            kw = {k: v for k, v in (("region", args.region), ("lat", args.lat),
                                    ("lon", args.lon)) if v is not None}
            reg.add_party(args.owner, role=args.role, **kw)
        at = _time_arg(args.at, "--at") or datetime.now().astimezone()
        out = reg.register(batch, owner=args.owner, at=at)
        res = {"db": args.db or os.environ.get(DB_ENV), "batch_id": batch.batch_id,
               "key_id": batch.key_id, "stamps": len(batch), "owner": args.owner,
               "at": _iso(at)}
        if isinstance(out, int):
            res["new"] = out
        if args.json:
            _emit_json(res)
        elif out == 0:
            _out(args, f"batch {batch.batch_id} (key {batch.key_id}) is registered already: "
                       "nothing new")
        else:
            _out(args, f"registered {len(batch):,} stamps of batch {batch.batch_id} (key "
                       f"{batch.key_id}) to {args.owner}")
    finally:
        _close(reg)
    return EXIT_OK


def cmd_import_epcis(args: argparse.Namespace) -> int:
    reg = _open_registry(args, "import-epcis", must_exist=False)
    total_new, files = 0, []
    try:
        for f in args.files:
            p = _need_file(f, "EPCIS file")
            res = reg.import_epcis(p)
            ids, new = res.event_ids, res.new
            total_new += new
            files.append({"file": str(p), "events": len(ids), "new": new})
            _out(args, f"{p}: {len(ids):,} events, {new:,} new")
    finally:
        _close(reg)
    if args.json:
        _emit_json({"files": files, "new": total_new})
    return EXIT_OK


def cmd_export_epcis(args: argparse.Namespace) -> int:
    _refuse_existing(args, args.out, "output file")
    reg = _open_registry(args, "export-epcis")
    try:
        since = _time_arg(args.since, "--since")
        try:
            out = reg.export_epcis(args.out, since=since, overwrite=bool(args.force))
        except FileExistsError:
            raise CLIError(f"{args.out} exists: pick another output file or add --force",
                           EXIT_FILE) from None
    finally:
        _close(reg)
    res: dict[str, Any] = {"file": args.out, "since": _iso(since)}
    if isinstance(out, int):
        res["events"] = out
    if args.json:
        _emit_json(res)
    else:
        _out(args, f"wrote {args.out}" + (f" ({out:,} events)" if isinstance(out, int) else ""))
    return EXIT_OK


def _resolve(reg: af.Registry, text: str) -> str:
    try:
        return reg.resolve(text)
    except af.UnknownStampError as e:
        hint = ("give the issuer's --pubkey (--key for stamp numbers) or the stamp's EPC"
                if "KEY" in str(e) or "UNVERIFIABLE" in str(e) else
                "is it registered? ('antifake register', 'antifake import-epcis')")
        raise CLIError(f"{e}: {hint}") from None


def cmd_trace(args: argparse.Namespace) -> int:
    reg = _open_registry(args, f"trace {args.trace_cmd}")
    try:
        g = reg.graph()
        if args.trace_cmd == "history":
            code = _resolve(reg, args.code)
            evs = [_event_summary(e) for e in reg.history(code)]
            res: dict[str, Any] = {"code": code, "events": evs}
            for name, fn in (("containers", g.containers), ("custody_chain", g.custody_chain),
                             ("custodian", g.custodian)):
                with contextlib.suppress(af.AntifakeError, LookupError):
                    res[name] = fn(code)
            if args.json:
                _emit_json(res)
                return EXIT_OK
            print(f"{code}: {len(evs)} events")
            for e in evs:
                where = e.get("by") or e.get("source") or ""
                if e.get("destination"):
                    where = f"{where} -> {e['destination']}"
                what = e.get("kind") or _short_step(e.get("biz_step")) or e.get("event_id")
                print(f"  {e.get('time', ''):<28} {what:<14} {where}")
            if res.get("containers"):
                print(f"  inside     : {' < '.join(res['containers'])}")
            if "custody_chain" in res:
                print(f"  custody    : {' -> '.join(res['custody_chain']) or '-'}")
            if "custodian" in res:
                print(f"  held by now: {res['custodian'] or 'nobody (sold or unknown)'}")
        elif args.trace_cmd == "contents":
            code = _resolve(reg, args.code)
            items = [str(x) for x in g.contents(code)]
            if args.json:
                _emit_json({"code": code, "contents": items})
                return EXIT_OK
            print(f"{code}: {len(items)} codes inside")
            for x in items:
                print(f"  {x}")
        else:  # recall
            if args.batch_id is None and args.via is None and args.key_id is None:
                raise CLIError("recall what? give --batch-id N (and/or --key-id, --via PARTY)")
            r = g.recall(batch_id=args.batch_id, via=args.via,
                         since=_time_arg(args.since, "--since"),
                         until=_time_arg(args.until, "--until"), key_id=args.key_id)
            codes, holders = list(r.codes.tolist()), list(r.custodians.tolist())
            by: dict[str, int] = {}
            for h in holders:
                by[h or "(sold / unknown)"] = by.get(h or "(sold / unknown)", 0) + 1
            if args.out:
                with _new_output(args, args.out, "--out") as f:
                    w = csv.writer(f)
                    w.writerow(["code", "custodian"])
                    w.writerows((c, h or "") for c, h in zip(codes, holders, strict=True))
            if args.json:
                _emit_json({"count": len(codes), "by_custodian": by,
                            "items": [{"code": c, "custodian": h}
                                      for c, h in zip(codes, holders, strict=True)]})
                return EXIT_OK
            print(f"{len(codes):,} items to recall")
            for h, k in sorted(by.items(), key=lambda kv: -kv[1]):
                print(f"  {h:<30} {k:>10,}")
            if args.out:
                _note(args, f"wrote {args.out}")
    finally:
        _close(reg)
    return EXIT_OK


def cmd_detect(args: argparse.Namespace) -> int:
    since = _time_arg(args.since, "--since")
    reg = _open_registry(args, "detect")
    flagged = None
    try:
        alerts = af.detect(reg, since=since) if since is not None else af.detect(reg)
        if args.flag:
            flagged = reg.flag_suspected(alerts, min_score=max(args.min_score, 0.5))
    finally:
        _close(reg)
    rows: list[dict[str, Any]] = []
    for a in alerts:
        if a.score < args.min_score:
            continue
        rows.append({"kind": a.kind, "score": round(float(a.score), 4), "codes": list(a.codes),
                     "reason": a.reason or "", "first_seen": _iso(a.first_seen),
                     "last_seen": _iso(a.last_seen), "evidence": list(a.evidence)})
    rows.sort(key=lambda r: -r["score"])
    code = EXIT_FOUND if rows else EXIT_OK
    if args.json:
        _emit_json({"alerts": rows, "count": len(rows), "min_score": args.min_score,
                    "flagged": flagged, "exit_code": code})
        return code
    if not rows:
        print(f"no alerts with score >= {args.min_score}")
    for r in rows[: None if args.all else SHOW_ROWS]:
        more = f" (+{len(r['codes']) - 1} more)" if len(r["codes"]) > 1 else ""
        first = r["codes"][0] if r["codes"] else "-"
        print(f"{r['score']:.2f}  {r['kind']:<24} {first}{more}")
        if r["reason"]:
            print(f"      {r['reason']}")
    if not args.all and len(rows) > SHOW_ROWS:
        print(f"... and {len(rows) - SHOW_ROWS:,} more: --all lists every alert, --json "
              "gives the evidence")
    if rows:
        print(f"{len(rows):,} alerts with score >= {args.min_score}")
    if flagged is not None:
        print(f"{flagged:,} stamps flagged as copied: the registry now verifies them as "
              "SUSPECTED_CLONE")
    return code


def cmd_check_listing(args: argparse.Namespace) -> int:
    reg = _open_registry(args, "check-listing")
    try:
        res = reg.check_listing(args.code, seller=args.seller)
    finally:
        _close(reg)
    ok, reasons = res.ok, list(res.reasons)
    code = EXIT_OK if ok else EXIT_FOUND
    if args.json:
        _emit_json({"code": args.code, "seller": args.seller, "ok": ok, "reasons": reasons,
                    "epc": res.epc, "custodian": res.custodian, "exit_code": code})
        return code
    print(("OK" if ok else "REFUSED") + f": {args.seller} listing {args.code}")
    for r in reasons:
        print(f"  - {r}")
    return code


def add_parsers(add: AddParser, parents: Parents) -> None:
    """Add this module's commands to the `antifake` parser."""
    common, ring, dbp = parents.common, parents.ring, parents.dbp
    s = add("register", "register an issued batch in the registry (commissioning events)",
            [dbp, ring])
    s.add_argument("--batch", required=True, help="batch .npz written by 'antifake issue'")
    s.add_argument("--owner", required=True, help="party id commissioning the stamps")
    s.add_argument("--role", default=None, help="add the owner as a party with this role")
    s.add_argument("--region", default=None)
    s.add_argument("--lat", type=float, default=None)
    s.add_argument("--lon", type=float, default=None)
    s.add_argument("--at", default=None, help="ISO 8601 time (default now)")
    s.set_defaults(func=cmd_register)

    s = add("import-epcis", "import EPCIS 2.0 JSON-LD documents into the registry", [dbp, ring])
    s.add_argument("files", nargs="+", help="EPCIS documents (.jsonld / .json)")
    s.set_defaults(func=cmd_import_epcis)

    s = add("export-epcis", "export registry events as an EPCIS 2.0 JSON-LD document",
            [dbp, ring])
    s.add_argument("out", help="output file (.jsonld)")
    s.add_argument("--since", default=None, help="only events at or after this ISO 8601 time")
    s.add_argument("--force", action="store_true", help="overwrite an existing output file")
    s.set_defaults(func=cmd_export_epcis)

    s = add("trace", "trace queries: history, contents, recall", [])
    tsub = s.add_subparsers(dest="trace_cmd", metavar="QUERY", parser_class=_Parser,
                            required=True)
    t = tsub.add_parser("history", help="a stamp's events (own and inherited from containers)",
                        parents=[common, dbp, ring])
    t.add_argument("code", help="EPC, QR URL, bare code or stamp number")
    t = tsub.add_parser("contents", help="codes inside a container now, all levels",
                        parents=[common, dbp, ring])
    t.add_argument("code", help="EPC, QR URL or bare code of the container")
    t = tsub.add_parser("recall", help="items of a batch (optionally via a party) and who "
                        "holds them", parents=[common, dbp, ring])
    t.add_argument("--batch-id", type=int, default=None)
    t.add_argument("--key-id", type=int, default=None)
    t.add_argument("--via", default=None, help="only items this party held")
    t.add_argument("--since", default=None, help="ISO 8601 (narrows --via)")
    t.add_argument("--until", default=None, help="ISO 8601 (narrows --via)")
    t.add_argument("--out", default=None, help="write code,custodian rows to this CSV")
    t.add_argument("--force", action="store_true", help="overwrite an existing --out file")
    s.set_defaults(func=cmd_trace)

    s = add("detect", "run clone / diversion detection over the registry", [dbp, ring])
    s.add_argument("--min-score", type=float, default=0.5,
                   help="report alerts at or above this score (default 0.5: act on it)")
    s.add_argument("--since", default=None,
                   help="only alerts with evidence at or after this ISO 8601 time")
    s.add_argument("--all", action="store_true", help="list every alert")
    s.add_argument("--flag", action="store_true",
                   help="record the copied codes (impossible_travel, over_scanned, "
                        "duplicate_listing alerts) so that verify says SUSPECTED_CLONE")
    s.set_defaults(func=cmd_detect)

    s = add("check-listing", "may this seller list this stamp? (records nothing)", [dbp, ring])
    s.add_argument("code", help="the listed stamp's code")
    s.add_argument("--seller", required=True, help="seller party id")
    s.set_defaults(func=cmd_check_listing)
