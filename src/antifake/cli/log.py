"""``antifake evidence`` (a stamp's evidence bundle and report) and ``antifake log`` (the
registry's transparency log: keygen, checkpoint, watch)."""

from __future__ import annotations

import argparse
import base64
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import antifake as af
from antifake._atomic import atomic_file
from antifake.cli._common import (
    EXIT_FILE,
    EXIT_FOUND,
    EXIT_OK,
    EXIT_USAGE,
    AddParser,
    CLIError,
    Parents,
    _db_path,
    _emit_json,
    _key_file_info,
    _keyring,
    _need_file,
    _passphrase,
)
from antifake.log.merkle import verify_consistency
from antifake.log.note import NoteVerifier, open_checkpoint

WATCH_FORMAT = "antifake-log-watch/1"


def _vkey(text: str) -> NoteVerifier:
    """A verifier key given as the string itself or as a file holding it."""
    p = Path(text)
    if len(text) < 4096 and p.is_file():
        text = p.read_text(encoding="utf-8").strip().splitlines()[0] if p.stat().st_size else ""
    try:
        return NoteVerifier.from_vkey(text.strip())
    except af.LogError as e:
        raise CLIError(f"--vkey: {e}", EXIT_USAGE) from None


def _load_log_key(args: argparse.Namespace, required: bool = True) -> af.LogKey | None:
    path = getattr(args, "log_key", None)
    if not path:
        if required:
            raise CLIError("give --log-key FILE (the log key written by 'antifake log keygen')")
        return None
    p = _need_file(path, "log key file")
    info = _key_file_info(p)
    pw = _passphrase(args, f"log key file {p}") if "sealed" in info else None
    try:
        return af.LogKey.load(p, passphrase=pw)
    except af.KeyFileError as e:
        raise CLIError(str(e), EXIT_FILE) from None


def _open(args: argparse.Namespace, key: af.LogKey | None) -> Any:
    db = _db_path(args, must_exist=True)
    try:
        return af.Registry(db, keyring=_keyring(args, required=False), log_key=key)
    except (OSError, af.RegistryError) as e:
        raise CLIError(f"cannot open registry {db}: {e}", EXIT_FILE) from None


def _write_text(path: Path, text: str) -> None:
    try:
        with atomic_file(path, "w", encoding="utf-8") as f:
            f.write(text)
    except OSError as e:
        raise CLIError(f"cannot write {path}: {e.strerror}", EXIT_FILE) from None


def cmd_log_keygen(args: argparse.Namespace) -> int:
    out = Path(args.out)
    if out.exists() and not args.force:
        raise CLIError(f"{out} exists: choose another -o or add --force", EXIT_FILE)
    try:
        key = af.LogKey.generate(args.name)
    except af.InvalidKey as e:
        raise CLIError(f"--name: {e}") from None
    pw = None if args.no_passphrase else _passphrase(args, f"new log key {out}", confirm=True)
    key.save(out, passphrase=pw, kdf=args.kdf)
    vk = Path(args.vkey_out) if args.vkey_out else out.with_suffix(".vkey")
    _write_text(vk, key.vkey + "\n")
    if args.json:
        _emit_json({"key_file": str(out), "vkey_file": str(vk), "vkey": key.vkey})
    else:
        print(f"log key written to {out} ({'sealed' if pw else 'NOT sealed'}); publish the "
              f"verifier key ({vk}):\n{key.vkey}")
    return EXIT_OK


def cmd_log_checkpoint(args: argparse.Namespace) -> int:
    key = _load_log_key(args)
    reg = _open(args, key)
    try:
        note = reg.log.checkpoint()
    finally:
        reg.close()
    if args.out:
        _write_text(Path(args.out), note)
    if args.json:
        _emit_json({"checkpoint": note})
    else:
        print(note, end="")
    return EXIT_OK


def _load_state(path: Path, vk: NoteVerifier) -> dict[str, Any]:
    if not path.exists():
        return {"format": WATCH_FORMAT, "vkey": vk.vkey, "checkpoints": [], "conflicts": []}
    try:
        st = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise CLIError(f"state file {path} is unreadable: {e}", EXIT_FILE) from None
    if not isinstance(st, dict) or st.get("format") != WATCH_FORMAT:
        raise CLIError(f"{path} is not an 'antifake log watch' state file", EXIT_FILE)
    if st.get("vkey") != vk.vkey:
        raise CLIError(f"{path} watches another log key ({st.get('vkey')})", EXIT_FILE)
    return st


def cmd_log_watch(args: argparse.Namespace) -> int:
    """Prove the newest checkpoint consistent with the last one seen, and remember it."""
    vk = _vkey(args.vkey)
    state_path = Path(args.state)
    st = _load_state(state_path, vk)
    if args.checkpoint:
        note = _need_file(args.checkpoint, "checkpoint file").read_text(encoding="utf-8")
        reg = _open(args, None) if (args.db or os.environ.get("ANTIFAKE_DB")) else None
    else:
        key = _load_log_key(args)
        reg = _open(args, key)
        note = reg.log.checkpoint()
    try:
        try:
            cp = open_checkpoint(note, vk)
        except af.LogError as e:
            raise CLIError(f"checkpoint refused: {e}", EXIT_FOUND) from None
        seen = st["checkpoints"]
        last = seen[-1] if seen else None
        ok, why = True, "first checkpoint recorded"
        if last is not None:
            r1 = base64.b64decode(last["root"])
            if cp.origin != last["origin"]:
                ok, why = False, f"origin changed from {last['origin']!r} to {cp.origin!r}"
            elif cp.size < last["size"]:
                ok, why = False, f"the tree shrank from {last['size']} to {cp.size} leaves"
            else:
                if reg is None and args.proof is None:
                    raise CLIError("a consistency proof is needed: give --db or --proof FILE")
                if args.proof:
                    proof = [base64.b64decode(h) for h in json.loads(
                        _need_file(args.proof, "proof file").read_text(encoding="utf-8"))]
                else:
                    assert reg is not None
                    proof = reg.log.consistency_proof(last["size"], cp.size).hashes
                ok = verify_consistency(last["size"], r1, cp.size, cp.root, proof)
                why = (f"consistent with the checkpoint of size {last['size']}" if ok else
                       f"NOT consistent with the checkpoint of size {last['size']}: "
                       "history was rewritten")
    finally:
        if reg is not None:
            reg.close()
    entry = {"origin": cp.origin, "size": cp.size, "root": base64.b64encode(cp.root).decode(),
             "note": note, "seen": datetime.now(UTC).isoformat()}
    if ok:
        if not seen or seen[-1]["size"] != cp.size or seen[-1]["root"] != entry["root"]:
            seen.append(entry)
    else:
        st["conflicts"].append({**entry, "reason": why})
    _write_text(state_path, json.dumps(st, indent=1) + "\n")
    code = EXIT_OK if ok else EXIT_FOUND
    if args.json:
        _emit_json({"ok": ok, "size": cp.size, "reason": why, "exit_code": code})
    else:
        print(("OK" if ok else "ALERT") + f": size {cp.size}: {why}")
    return code


def cmd_evidence(args: argparse.Namespace) -> int:
    target = args.target
    if target and target[0] == "verify":
        if len(target) != 2:
            raise CLIError("usage: antifake evidence verify BUNDLE.json --vkey VKEY")
        return _evidence_verify(args, Path(target[1]))
    if len(target) != 1:
        raise CLIError("give one stamp code (or: antifake evidence verify BUNDLE.json)")
    return _evidence_make(args, target[0])


def _evidence_make(args: argparse.Namespace, code: str) -> int:
    from antifake.report import render_html

    key = _load_log_key(args)
    out = Path(args.out or "report.html")
    bundle_path = Path(args.bundle) if args.bundle else out.with_suffix(".json")
    reg = _open(args, key)
    try:
        alerts = af.detect(reg) if args.detect else None
        try:
            bundle = reg.evidence(code, alerts=alerts)
        except af.UnknownStampError as e:
            raise CLIError(f"{code}: {e}") from None
    finally:
        reg.close()
    assert key is not None
    rep = af.verify_evidence(bundle, key.vkey)
    _write_text(bundle_path, json.dumps(bundle, ensure_ascii=False, indent=1) + "\n")
    _write_text(out, render_html(bundle, rep, lang=args.lang))
    if args.json:
        _emit_json({"report": str(out), "bundle": str(bundle_path), "ok": rep.ok,
                    "events": rep.events, "problems": rep.problems})
    else:
        n = len(bundle["events"])
        print(f"{n} event{'' if n == 1 else 's'} proven against checkpoint "
              f"{bundle['log']['size']}; bundle {bundle_path}, report {out}")
    return EXIT_OK if rep.ok else EXIT_FOUND


def _evidence_verify(args: argparse.Namespace, path: Path) -> int:
    if not args.vkey:
        raise CLIError("give --vkey (the log's verifier key, from a source you trust)")
    vk = _vkey(args.vkey)
    p = _need_file(path, "bundle")
    rep = af.verify_evidence(p.read_bytes(), vk)
    code = EXIT_OK if rep.ok else EXIT_FOUND
    if args.out:
        from antifake.report import render_html

        try:
            bundle = json.loads(p.read_bytes())
        except ValueError:
            bundle = {}
        _write_text(Path(args.out), render_html(bundle if isinstance(bundle, dict) else {},
                                                rep, lang=args.lang))
    if args.json:
        _emit_json({"ok": rep.ok, "events": rep.events, "checkpoint_size": rep.checkpoint_size,
                    "problems": rep.problems, "exit_code": code})
    else:
        if rep.ok:
            print(f"OK: {rep.events} event{'' if rep.events == 1 else 's'} proven in the log "
                  f"of size {rep.checkpoint_size}, "
                  "checkpoint and statement signed by the given key")
        else:
            print("REFUSED:")
            for pr in rep.problems:
                print(f"  - {pr}")
    return code


def add_parsers(add: AddParser, parents: Parents) -> None:
    """Add ``evidence`` and ``log`` to the ``antifake`` parser (``add`` makes a subcommand)."""
    common, dbp, ring, pw = parents.common, parents.dbp, parents.ring, parents.pw
    s = add("evidence", "a stamp's evidence bundle and HTML report, or 'evidence verify "
            "BUNDLE.json --vkey KEY'", [dbp, ring])
    s.add_argument("target", nargs="+", metavar="CODE",
                   help="the stamp's code; or: verify BUNDLE.json")
    s.add_argument("--log-key", metavar="FILE", help="the registry's log key file")
    s.add_argument("-o", "--out", default=None,
                   help="HTML report (default report.html; with 'verify', only when given); "
                        "the bundle goes beside it (.json)")
    s.add_argument("--bundle", default=None, help="bundle file (default: OUT with .json)")
    s.add_argument("--lang", default="vi", choices=("vi", "en"), help="report language")
    s.add_argument("--detect", action="store_true",
                   help="also run detection and include the alerts naming the stamp")
    s.add_argument("--vkey", default=None, help="verify: the log's verifier key (or a file)")
    s.set_defaults(func=cmd_evidence)

    s = add("log", "the registry's transparency log: keygen, checkpoint, watch", [])
    lsub = s.add_subparsers(dest="log_cmd", metavar="ACTION", required=True,
                            parser_class=type(s))
    t = lsub.add_parser("keygen", help="generate a log key and its verifier key string",
                        parents=[common, pw])
    t.add_argument("--name", required=True, help="key name / log origin, e.g. "
                   "registry.example.vn/antifake")
    t.add_argument("-o", "--out", default="log.key", help="key file (default log.key)")
    t.add_argument("--vkey-out", default=None, help="verifier key file (default KEY.vkey)")
    t.add_argument("--kdf", default="moderate", choices=("interactive", "moderate", "sensitive"))
    t.add_argument("--no-passphrase", action="store_true", help="write the key unsealed")
    t.add_argument("--force", action="store_true")
    t.set_defaults(func=cmd_log_keygen)
    t = lsub.add_parser("checkpoint", help="print the registry's signed checkpoint",
                        parents=[common, dbp, pw])
    t.add_argument("--log-key", metavar="FILE", required=True)
    t.add_argument("-o", "--out", default=None, help="also write it to this file")
    t.set_defaults(func=cmd_log_checkpoint)
    t = lsub.add_parser("watch", help="prove the newest checkpoint consistent with the last "
                        "one seen (state file)", parents=[common, dbp, pw])
    t.add_argument("--vkey", required=True, help="the log's verifier key (or a file)")
    t.add_argument("--state", required=True, help="state file of the checkpoints seen")
    t.add_argument("--checkpoint", default=None, help="the new signed checkpoint (a file); "
                   "default: sign the registry's current one with --log-key")
    t.add_argument("--log-key", metavar="FILE", default=None)
    t.add_argument("--proof", default=None, help="consistency proof file (JSON list of "
                   "base64 hashes) instead of asking the registry")
    t.set_defaults(func=cmd_log_watch)
