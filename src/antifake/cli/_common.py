"""Helpers shared by the command modules: output and JSON, errors and exit codes, key
files and keyrings, the registry, time and code arguments, progress bars."""

from __future__ import annotations

import argparse
import contextlib
import getpass
import json
import os
import re
import sys
from collections.abc import Callable, Iterator
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any, NamedTuple, NoReturn

import antifake as af
from antifake._atomic import create_new, read_capped

EXIT_OK = 0
EXIT_FOUND = 1  # not authentic / alerts / listing refused
EXIT_USAGE = 2
EXIT_FILE = 3
EXIT_BUG = 4
PASSPHRASE_ENV = "ANTIFAKE_PASSPHRASE"  # noqa: S105 (a variable name)
DB_ENV = "ANTIFAKE_DB"
CODE_COLUMNS = ("code", "url", "qr_url", "qr", "number", "stamp_number", "stamp")
SHOW_ROWS = 20  # text output lists at most this many rows unless --all
REASONS_LIMIT = 1000  # per-row reasons of file rows are computed for at most this many rows


class CLIError(Exception):
    """A failure the user can fix: one line of what to do, and an exit code."""

    def __init__(self, message: str, code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.code = code


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of exiting, so --json gets a JSON error too; no
    abbreviated options (``--passphrase`` must not pass for ``--passphrase-file``)."""

    def __init__(self, *a: Any, **kw: Any) -> None:
        kw.setdefault("allow_abbrev", False)
        super().__init__(*a, **kw)

    def error(self, message: str) -> NoReturn:
        m = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)", message)
        if m:
            import difflib

            choices = re.findall(r"'?([\w-]+)'?", m.group(2))
            near = difflib.get_close_matches(m.group(1), choices, n=1, cutoff=0.6)
            hint = f"; did you mean '{near[0]}'?" if near else ""
            what = "command" if self.prog == "antifake" else "choice"
            message = f"unknown {what} '{m.group(1)}'{hint}"
        raise CLIError(f"{message} (see '{self.prog} --help')", EXIT_USAGE)


#: What `antifake.cli` hands each command module to add a subcommand:
#: ``add(name, help, parents=(), **kw)`` returns the new subparser.
AddParser = Callable[..., _Parser]


class Parents(NamedTuple):
    """The option groups subcommands share (argparse parent parsers)."""

    common: _Parser  # --json, --debug, --quiet
    pw: _Parser  # --passphrase-file
    ring: _Parser  # trusted keys: --pubkey, --key, --manifest (and --passphrase-file)
    dbp: _Parser  # --db
    threads: _Parser  # --threads


def _out(args: argparse.Namespace, text: str = "") -> None:
    """A human line on stdout (suppressed under --json)."""
    if not getattr(args, "json", False):
        print(text)


def _note(args: argparse.Namespace, text: str) -> None:
    """A human line on stderr (suppressed under --json)."""
    if not getattr(args, "json", False):
        print(text, file=sys.stderr)


def _emit_json(obj: Any) -> None:
    print(json.dumps(obj, indent=1, default=_json_default, ensure_ascii=False))


def _json_default(o: Any) -> Any:
    if isinstance(o, datetime | date):  # ISO 8601
        return o.isoformat()
    if isinstance(o, Path):
        return str(o)
    if hasattr(o, "tolist"):
        return o.tolist()
    if isinstance(o, set | frozenset | tuple):
        return list(o)
    if hasattr(o, "name") and hasattr(o, "value"):  # enums
        return o.name
    return str(o)


def _iso(t: Any) -> Any:
    return t.isoformat() if isinstance(t, datetime) else t


@contextlib.contextmanager
def _progress(args: argparse.Namespace, total: int, desc: str, unit: str = "stamp",
              position: int = 0) -> Iterator[Callable[[int], None]]:
    """A tqdm bar on stderr for work over a second; silent when stderr is not a terminal,
    under --json, with --quiet, or without tqdm."""
    enabled = (sys.stderr.isatty() and not getattr(args, "json", False)
               and not getattr(args, "quiet", False) and total > 0)
    bar = None
    if enabled:
        try:
            from tqdm import tqdm

            bar = tqdm(total=total, desc=desc, unit=unit, unit_scale=True, leave=False,
                       position=position, file=sys.stderr, mininterval=0.5, delay=1.0)
        except ImportError:
            bar = None
    try:
        yield (bar.update if bar is not None else (lambda k: None))
    finally:
        if bar is not None:
            bar.close()


def _open_private(path: Path, text: bool = True) -> IO[Any]:
    """Create ``path`` new with mode 0600 (print files hold PINs): a stale file of a crashed run
    is removed first (unlink never follows a link), then ``O_EXCL|O_NOFOLLOW`` refuses any
    file or symbolic link planted at that name meanwhile."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    try:
        if text:
            return create_new(path, "w", private=True, newline="", encoding="utf-8")
        return create_new(path, "wb", private=True)
    except FileExistsError:
        raise CLIError(f"{path} appeared while it was being created: refusing to write it",
                       EXIT_FILE) from None


def _new_output(args: argparse.Namespace, path: str | os.PathLike[str], what: str,
                private: bool = False) -> IO[Any]:
    """A text file to write, refused when it exists and ``--force`` was not given (a symbolic
    link at that name is never followed)."""
    p = Path(path)
    force = bool(getattr(args, "force", False))
    try:
        return create_new(p, "w", private=private, force=force, newline="", encoding="utf-8")
    except FileExistsError:
        raise CLIError(f"{p} exists: pick another {what} or add --force", EXIT_FILE) from None
    except OSError as exc:
        raise CLIError(f"cannot write {p}: {exc.strerror}", EXIT_FILE) from None


def _refuse_existing(args: argparse.Namespace, path: str | os.PathLike[str], what: str) -> None:
    if not getattr(args, "force", False) and os.path.lexists(path):
        raise CLIError(f"{path} exists: pick another {what} or add --force", EXIT_FILE)


def _need_file(path: str | os.PathLike[str], what: str) -> Path:
    p = Path(path)
    if not p.is_file():
        raise CLIError(f"{what} {p} not found: check the path", EXIT_FILE)
    return p


def _passphrase(args: argparse.Namespace, purpose: str, confirm: bool = False) -> bytes:
    pf = getattr(args, "passphrase_file", None)
    if pf:
        p = _need_file(pf, "passphrase file")
        data = p.read_bytes()
        data = data.splitlines()[0] if data.strip() else b""
        if not data:
            raise CLIError(f"passphrase file {p} is empty: put the passphrase on its first line")
        return data
    env = os.environ.get(PASSPHRASE_ENV)
    if env:
        return env.encode()
    if not sys.stdin.isatty():
        raise CLIError(f"{purpose} needs a passphrase: use --passphrase-file FILE or set "
                       f"{PASSPHRASE_ENV} (no terminal to ask on)")
    first = getpass.getpass(f"passphrase for {purpose}: ").encode()
    if not first:
        raise CLIError("the passphrase may not be empty")
    if confirm and getpass.getpass("repeat the passphrase: ").encode() != first:
        raise CLIError("the passphrases differ: run the command again")
    return first


def _pin(args: argparse.Namespace) -> str | None:
    """The PIN to check: ``--pin-file`` (``-`` for stdin), ``--ask-pin`` (terminal prompt, or
    stdin's first line), or the deprecated ``--pin VALUE`` (visible to other users in the
    process list and kept in shell history: warned about)."""
    given = [o for o in ("pin", "pin_file", "ask_pin") if getattr(args, o, None)]
    if len(given) > 1:
        raise CLIError("give the PIN one way: --pin-file FILE or --ask-pin")
    if getattr(args, "pin", None):
        print("warning: --pin VALUE puts the PIN in the process list and shell history; use "
              "--pin-file FILE or --ask-pin", file=sys.stderr)
        return str(args.pin)
    if getattr(args, "pin_file", None):
        if args.pin_file == "-":
            line = sys.stdin.readline(256)
        else:
            p = _need_file(args.pin_file, "PIN file")
            try:
                line = read_capped(p, 4096).decode("utf-8", "replace")
            except ValueError:
                raise CLIError(f"PIN file {p} is too large", EXIT_FILE) from None
        pin = line.strip().splitlines()[0] if line.strip() else ""
        if not pin:
            raise CLIError("the PIN file is empty: put the PIN on its first line")
        return pin
    if getattr(args, "ask_pin", False):
        if sys.stdin.isatty():
            return getpass.getpass("scratch-off PIN: ").strip()
        return sys.stdin.readline(256).strip()
    return None


def _key_file_info(path: Path) -> dict[str, Any]:
    try:
        d = json.loads(path.read_bytes())
    except ValueError:
        raise CLIError(f"{path} is not an antifake key file (not JSON)", EXIT_FILE) from None
    if not isinstance(d, dict):
        raise CLIError(f"{path} is not an antifake key file", EXIT_FILE)
    return d


def _kdf_name(info: dict[str, Any]) -> str:
    """The named KDF strength a sealed key file was written with (to re-seal it alike)."""
    import nacl.pwhash

    s = info.get("sealed") or {}
    a = nacl.pwhash.argon2id
    for name, ops, mem in (("interactive", a.OPSLIMIT_INTERACTIVE, a.MEMLIMIT_INTERACTIVE),
                           ("moderate", a.OPSLIMIT_MODERATE, a.MEMLIMIT_MODERATE),
                           ("sensitive", a.OPSLIMIT_SENSITIVE, a.MEMLIMIT_SENSITIVE)):
        if s.get("opslimit") == ops and s.get("memlimit") == mem:
            return name
    return "moderate"


class _LoadedKey:
    def __init__(self, key: af.IssuerKey, path: Path, passphrase: bytes | None, kdf: str):
        self.key, self.path, self.passphrase, self.kdf = key, path, passphrase, kdf

    def save(self) -> None:
        if self.passphrase is None:
            self.key.save(self.path)
        else:
            self.key.save(self.path, passphrase=self.passphrase, kdf=self.kdf)


def _load_key(args: argparse.Namespace, path: str | os.PathLike[str]) -> _LoadedKey:
    p = _need_file(path, "key file")
    info = _key_file_info(p)
    if info.get("format") == "antifake-issuer-public-key":
        raise CLIError(f"{p} is a public key: this needs the issuer's secret key file",
                       EXIT_FILE)
    sealed = "sealed" in info
    pw = _passphrase(args, f"key file {p}") if sealed else None
    try:
        key = af.IssuerKey.load(p, passphrase=pw)
    except af.WrongPassphrase as e:
        raise CLIError(f"{e}: check --passphrase-file or ${PASSPHRASE_ENV}", EXIT_FILE) from None
    except af.KeyFileError as e:
        raise CLIError(f"{e}", EXIT_FILE) from None
    return _LoadedKey(key, p, pw, _kdf_name(info))


def _load_public(path: str | os.PathLike[str]) -> af.IssuerPublicKey:
    p = _need_file(path, "public key file")
    try:
        return af.IssuerPublicKey.from_json(p.read_bytes())
    except af.InvalidKey as e:
        raise CLIError(f"{p}: {e} (expected the .pub.json written by 'antifake keygen')",
                       EXIT_FILE) from None


def _load_manifest(path: str | os.PathLike[str]) -> af.Manifest:
    p = _need_file(path, "manifest file")
    try:
        return af.Manifest.load(p)
    except af.AntifakeError as e:
        raise CLIError(f"{p}: {e}", EXIT_FILE) from None


def _keyring(args: argparse.Namespace, required: bool = True) -> af.Keyring:
    """The keyring of a command: ``--keyring FILE`` (keys, manifests and revocations kept
    between runs) plus the ``--pubkey``, ``--key`` and ``--manifest`` files given."""
    path = getattr(args, "keyring", None)
    ring = af.Keyring.load(_need_file(path, "keyring file")) if path else af.Keyring()
    for f in getattr(args, "pubkey", None) or []:
        ring.add(_load_public(f))
    for f in getattr(args, "key", None) or []:
        ring.add(_load_key(args, f).key)
    if required and len(ring) == 0:
        raise CLIError("no trusted key: give --pubkey ISSUER.pub.json (or --key ISSUER.key "
                       "to check stamp numbers and PINs, or --keyring FILE)")
    _add_manifests(ring, getattr(args, "manifest", None) or [])
    return ring


def _add_manifests(ring: af.Keyring, files: list[str]) -> None:
    """Hold these manifest files in ``ring`` (their issuer's key must be trusted already)."""
    for f in files:
        m = _load_manifest(f)
        try:
            ring.add_manifest(m)
        except af.ManifestError as e:
            raise CLIError(f"{f}: {e}; give the issuer's --pubkey first", EXIT_FILE) from None


def _db_path(args: argparse.Namespace, must_exist: bool) -> str:
    db = args.db or os.environ.get(DB_ENV)
    if not db:
        raise CLIError(f"which registry? give --db FILE (or set {DB_ENV})")
    if must_exist and "://" not in db and not Path(db).exists():
        raise CLIError(f"registry database {db} not found: check --db, or create it with "
                       "'antifake register' / 'antifake import-epcis'", EXIT_FILE)
    return db


def _open_registry(args: argparse.Namespace, command: str, must_exist: bool = True,
                   ring: af.Keyring | None = None) -> af.Registry:
    db = _db_path(args, must_exist)
    if ring is None:
        ring = _keyring(args, required=False)
    try:
        return af.Registry(db, keyring=ring)
    except (OSError, af.RegistryError) as e:
        raise CLIError(f"cannot open registry {db}: {e}", EXIT_FILE) from None
    except Exception as e:
        import sqlite3

        if isinstance(e, sqlite3.Error):
            raise CLIError(f"cannot open registry {db}: {e} (not a registry database?)",
                           EXIT_FILE) from None
        raise


def _close(reg: af.Registry) -> None:
    reg.close()


def _time_arg(text: str | None, what: str) -> datetime | None:
    if text is None:
        return None
    from antifake.timeutil import parse_time

    try:
        return parse_time(text)
    except af.FormatError as e:
        raise CLIError(f"{what}: {e}") from None


def _code_arg(text: str, ring: af.Keyring | None) -> str:
    """An EPC for graph queries: EPCs pass through; a scanned code becomes its stamp's EPC
    when the keyring can read it; anything else goes to the registry as typed."""
    t = text.strip()
    if t.startswith("urn:") or t.lower().startswith("https://id.gs1.org/"):
        return t
    if ring is not None and len(ring):
        v = af.verify(t, ring)
        if v.stamp is not None and (v.stamp.serial is not None or v.stamp.product is None):
            return v.stamp.epc
    return t
