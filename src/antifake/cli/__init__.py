"""The ``antifake`` command: keys, issuance, print files, QR images, verification, trace.

Run ``antifake --help`` or ``antifake COMMAND --help``. Every command takes ``--json`` (one JSON
document on stdout, also for errors) and ``--debug`` (tracebacks instead of one-line errors).

Exit codes (also in ``antifake --help``):

====  ===================================================================================
0     ok: every code authentic, no alert at or above ``--min-score``, listing accepted
1     some codes are not authentic, alerts were found, or the listing was refused
2     usage or input error: bad arguments, unreadable input data (an image with no QR code,
      a CSV without the column), a refused request, a command not available yet
3     key or file error: key file missing, corrupted or sealed with another passphrase;
      public key, manifest, batch or database file unreadable or invalid; output not writable
4     internal error: a bug; rerun with ``--debug`` and report the traceback
====  ===================================================================================

Passphrases of sealed key files are read from ``--passphrase-file FILE``, else from the
environment variable ``ANTIFAKE_PASSPHRASE``, else asked for on the terminal; never from the
command line. No command prints a secret: PINs go only to the print file (mode 0600).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import csv
import functools
import getpass
import io
import json
import os
import re
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import IO, Any, NoReturn

import antifake as af
from antifake._atomic import atomic_file, create_new, read_capped
from antifake.epcis.events import event_kind
from antifake.log.merkle import verify_consistency
from antifake.log.note import NoteVerifier, open_checkpoint

__all__ = ["main", "CLIError", "EXIT_OK", "EXIT_FOUND", "EXIT_USAGE", "EXIT_FILE", "EXIT_BUG"]

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

EPILOG = """\
exit codes:
  0  ok: every code authentic, no alert found, listing accepted
  1  some codes not authentic, alerts found, or listing refused
  2  usage or input error (bad arguments or input data; command not available yet)
  3  key or file error (key file, passphrase, public key, manifest, batch, database, output)
  4  internal error (a bug: rerun with --debug and report it)

passphrases: --passphrase-file FILE, else $ANTIFAKE_PASSPHRASE, else a terminal prompt.
first steps:
  antifake keygen --issuer VN-QLTT-01 -o issuer.key
  antifake issue --key issuer.key -n 1000 --base https://verify.example.vn/s --out-dir out
  antifake verify --pubkey issuer.pub.json --manifest out/batch-*.manifest --file codes.txt
"""


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


# ---------------------------------------------------------------------------------------
# small helpers
# ---------------------------------------------------------------------------------------
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


# ---------------------------------------------------------------------------------------
# passphrases and keys
# ---------------------------------------------------------------------------------------
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
    ring = af.Keyring()
    for f in getattr(args, "pubkey", None) or []:
        ring.add(_load_public(f))
    for f in getattr(args, "key", None) or []:
        ring.add(_load_key(args, f).key)
    if required and len(ring) == 0:
        raise CLIError("no trusted key: give --pubkey ISSUER.pub.json (or --key ISSUER.key "
                       "to check stamp numbers and PINs)")
    for f in getattr(args, "manifest", None) or []:
        m = _load_manifest(f)
        try:
            ring.add_manifest(m)
        except af.ManifestError as e:
            raise CLIError(f"{f}: {e}; give the issuer's --pubkey first", EXIT_FILE) from None
    return ring


# ---------------------------------------------------------------------------------------
# keygen, pubkey
# ---------------------------------------------------------------------------------------
def cmd_keygen(args: argparse.Namespace) -> int:
    out = Path(args.out)
    pub_out = Path(args.pub_out) if args.pub_out else out.with_name(out.stem + ".pub.json")
    if out.exists() and not args.force:
        raise CLIError(f"{out} exists: losing a key file is not undoable; pick another -o or "
                       "add --force", EXIT_FILE)
    _refuse_existing(args, pub_out, "--pub-out")
    if not out.parent.is_dir():
        raise CLIError(f"directory {out.parent} does not exist", EXIT_FILE)
    key = af.IssuerKey.generate(args.issuer, key_id=args.key_id, valid_from=args.valid_from,
                                valid_until=args.valid_until)
    pw = None if args.no_passphrase else _passphrase(args, f"new key file {out}", confirm=True)
    key.save(out, passphrase=pw, kdf=args.kdf)
    with _new_output(args, pub_out, "--pub-out") as f:
        f.write(key.public.to_json() + "\n")
    pub = key.public
    res = {"key_file": str(out), "public_file": str(pub_out), "issuer": pub.issuer,
           "key_id": pub.key_id, "fingerprint": pub.fingerprint, "sealed": pw is not None,
           "valid_from": _iso(pub.valid_from), "valid_until": _iso(pub.valid_until)}
    if args.json:
        _emit_json(res)
        return EXIT_OK
    _out(args, f"key {pub.key_id} of issuer {pub.issuer} (fingerprint {pub.fingerprint})")
    _out(args, f"  secret key : {out} (mode 0600, "
               f"{'sealed with the passphrase' if pw else 'NOT sealed'})")
    _out(args, f"  public key : {pub_out} (give this to verifiers)")
    _out(args, f"  valid      : {_iso(pub.valid_from)} .. {_iso(pub.valid_until)}")
    if pw is None:
        _note(args, "warning: the key file is not sealed; keep it offline or re-create it "
                    "with a passphrase")
    return EXIT_OK


def cmd_pubkey(args: argparse.Namespace) -> int:
    p = _need_file(args.keyfile, "key file")
    info = _key_file_info(p)
    if info.get("format") == "antifake-issuer-public-key":
        pub = _load_public(p)
    else:
        pub = _load_key(args, p).key.public
    text = pub.to_json()
    if args.out:
        with _new_output(args, args.out, "-o") as f:
            f.write(text + "\n")
        _note(args, f"wrote {args.out}")
    if args.json:
        _emit_json(pub.to_dict())
    elif not args.out:
        print(text)
    return EXIT_OK


# ---------------------------------------------------------------------------------------
# issue
# ---------------------------------------------------------------------------------------
class _PrintFiles:
    """The printer's files (index, url, number, pin per stamp), written chunk by chunk to
    ``NAME.part`` files of mode 0600 (they hold the PINs) and renamed into place only when
    complete. Parquet and CSV through pyarrow when it is installed (CSV also without)."""

    COLUMNS = ("index", "url", "number", "pin")

    def __init__(self, paths: dict[str, Path], csv_quoting: bool = False) -> None:
        self.paths = paths
        self.tmp = {k: p.with_name(p.name + ".part") for k, p in paths.items()}
        self.csv_quoting = csv_quoting
        self.files: dict[str, IO[Any]] = {}
        self.writers: dict[str, Any] = {}
        self.py_csv: set[str] = set()  # kinds written by the csv module (no pyarrow)

    def __enter__(self) -> _PrintFiles:
        try:
            return self._open()
        except BaseException as e:
            self.__exit__(type(e), e, None)
            raise

    def _open(self) -> _PrintFiles:
        try:
            import pyarrow as pa
            import pyarrow.csv as pacsv
            import pyarrow.parquet as pq
        except ImportError:
            pa = None
        if pa is not None:
            self.pa = pa
            self.schema = pa.schema([("index", pa.int64()), ("url", pa.string()),
                                     ("number", pa.string()), ("pin", pa.string())])
        for kind, tmp in self.tmp.items():
            f = self.files[kind] = _open_private(tmp, text=False)
            if kind == "parquet":
                self.writers[kind] = pq.ParquetWriter(f, self.schema, compression="zstd")
                continue
            f.write((",".join(self.COLUMNS) + "\n").encode())
            if pa is not None:
                opts = pacsv.WriteOptions(include_header=False,
                                          quoting_style="needed" if self.csv_quoting else "none")
                self.writers[kind] = pacsv.CSVWriter(f, self.schema, write_options=opts)
            else:
                text = self.files[kind] = io.TextIOWrapper(f, encoding="utf-8", newline="")
                self.writers[kind] = csv.writer(text)
                self.py_csv.add(kind)
        return self

    def write(self, idx: Any, urls: Any, numbers: Any, pins: Any) -> None:
        table = None
        for kind, w in self.writers.items():
            if kind in self.py_csv:
                w.writerows(zip(idx.tolist(), urls.tolist(), numbers.tolist(), pins.tolist(),
                                strict=True))
                continue
            if table is None:
                table = self.pa.table({"index": idx, "url": urls, "number": numbers,
                                       "pin": pins}, schema=self.schema)
            w.write_table(table)

    def __exit__(self, exc_type: Any, *exc: Any) -> None:
        try:
            for kind, w in self.writers.items():
                if kind not in self.py_csv:
                    w.close()
            for f in self.files.values():
                f.close()
            if exc_type is None:
                for kind, tmp in self.tmp.items():
                    os.replace(tmp, self.paths[kind])
        finally:
            for tmp in self.tmp.values():
                with contextlib.suppress(OSError):
                    tmp.unlink()


def cmd_issue(args: argparse.Namespace) -> int:
    import numpy as np

    if args.format is None:  # both when pyarrow is installed; a plain install writes CSV
        try:
            import pyarrow  # noqa: F401

            args.format = "parquet,csv"
        except ImportError:
            args.format = "csv"
            _note(args, "pyarrow is not installed: writing the CSV print file only "
                        "(pip install 'antifake[cli]' adds Parquet)")
    formats = {f.strip().lower() for f in args.format.split(",") if f.strip()}
    bad = formats - {"parquet", "csv"}
    if bad or not formats:
        raise CLIError(f"--format takes parquet and/or csv, not {','.join(sorted(bad)) or '-'}")
    if (args.lot or args.expiry) and not args.gtin:
        raise CLIError("--lot and --expiry are GS1 attributes: give --gtin too")
    if args.count < 1:
        raise CLIError("-n/--count must be at least 1")
    from antifake.issue import check_base_url

    base = check_base_url(args.base)  # FormatError -> exit 2
    product = af.Product(gtin=args.gtin, lot=args.lot, expiry=args.expiry) if args.gtin else None
    if product is not None:
        product.to_gs1()  # validate before allocating a batch id
    if args.qr_dir:
        from antifake import qr as _qr

        _qr._check_error(args.qr_error)
        if _qr._zxing() is None:
            _qr._segno()
        if args.qr_scale < 1:
            raise CLIError("--qr-scale is pixels per module: at least 1")
    if "parquet" in formats:
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise CLIError("Parquet print files need pyarrow: pip install 'antifake[cli]', "
                           "or pass --format csv") from None
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)

    lk = _load_key(args, args.key)
    key = lk.key
    stream = af.issue_iter(key, args.count, chunk_size=args.chunk_size, product=product,
                           batch_id=args.batch_id, threads=args.threads)
    bid = stream.batch_id
    stem = args.name or f"batch-{key.key_id}-{bid}"
    paths = {"manifest": out_dir / f"{stem}.manifest", "batch": out_dir / f"{stem}.npz"}
    if "parquet" in formats:
        paths["parquet"] = out_dir / f"{stem}.parquet"
    if "csv" in formats:
        paths["csv"] = out_dir / f"{stem}.csv"
    clash = [str(p) for p in paths.values() if p.exists()]
    if clash and not args.force:
        raise CLIError(f"{clash[0]} exists: pick another --out-dir/--name or add --force",
                       EXIT_FILE)
    qr_dir = Path(args.qr_dir) if args.qr_dir else None
    if qr_dir is not None:
        qr_dir.mkdir(parents=True, exist_ok=True)
    if args.batch_id is None:
        lk.save()  # the key file remembers the batch id is taken before anything is printed

    t0 = time.perf_counter()
    serials, sigs = [], []
    n_qr = 0
    with _PrintFiles({k: p for k, p in paths.items() if k in ("parquet", "csv")},
                     csv_quoting=any(c in base for c in ',"\r\n')) as pf, \
            _progress(args, args.count, "issuing") as tick, \
            _progress(args, args.count if qr_dir else 0, "QR images", "img", 1) as qtick:
        for chunk in stream:
            first = chunk.index_offset
            idx = np.arange(first, first + len(chunk), dtype=np.int64)
            urls = chunk.urls(base, args.threads)
            pf.write(idx, urls, chunk.numbers(threads=args.threads),
                     chunk.pins(threads=args.threads))
            serials.append(chunk.serials)
            sigs.append(chunk.signatures)
            tick(len(chunk))
            if qr_dir is not None:
                from antifake import qr as _qr

                names = [qr_dir / f"{stem}-{i:08d}.{args.qr_format}" for i in idx.tolist()]
                n_qr += _qr.write_qr_files(urls.tolist(), names, args.qr_format,
                                           error=args.qr_error, scale=args.qr_scale,
                                           jobs=args.jobs, progress=qtick)
    manifest = stream.manifest
    assert manifest is not None
    manifest.save(paths["manifest"])
    batch = af.Batch(issuer=key.issuer, key_id=key.key_id, batch_id=bid,
                     serials=np.concatenate(serials), signatures=np.concatenate(sigs),
                     product=stream.product, issued_at=stream.issued_at, manifest=manifest)
    batch.save(paths["batch"])
    dt = time.perf_counter() - t0
    sp = stream.product
    res = {"issuer": key.issuer, "key_id": key.key_id, "batch_id": bid, "count": args.count,
           "base": base, "product": None if sp is None else {
               "gtin": sp.gtin, "lot": sp.lot, "expiry": sp.expiry},
           "files": {k: str(p) for k, p in paths.items()},
           "qr_dir": str(qr_dir) if qr_dir else None, "qr_images": n_qr,
           "seconds": round(dt, 3)}
    if args.json:
        _emit_json(res)
        return EXIT_OK
    _out(args, f"issued batch {bid} of key {key.key_id} ({key.issuer}): {args.count:,} stamps "
               f"in {dt:.2f} s")
    for k in ("parquet", "csv"):
        if k in paths:
            _out(args, f"  {'print file (' + k + ')':<17}: {paths[k]} (index, url, number, "
                       "pin; 0600: holds the secret PINs)")
    _out(args, f"  manifest         : {paths['manifest']} (give to verifiers)")
    _out(args, f"  batch            : {paths['batch']} (for 'antifake register')")
    if qr_dir:
        _out(args, f"  QR images        : {n_qr:,} {args.qr_format.upper()} files in {qr_dir}")
    return EXIT_OK


# ---------------------------------------------------------------------------------------
# verify
# ---------------------------------------------------------------------------------------
def _read_codes_file(path: str, column: str | None) -> tuple[list[str], list[str]]:
    """(texts, sources) from a text file (one code a line) or a CSV column."""
    if path == "-":
        text, name = sys.stdin.read(), "stdin"
    else:
        p = _need_file(path, "codes file")
        try:
            text = p.read_text(encoding="utf-8-sig")
        except UnicodeDecodeError:
            raise CLIError(f"{p} is not UTF-8 text: give one code a line or a CSV") from None
        name = p.name
    is_csv = column is not None or name.lower().endswith(".csv")
    texts: list[str] = []
    sources: list[str] = []
    if not is_csv:
        for i, line in enumerate(text.splitlines(), 1):
            if line.strip():
                texts.append(line.strip())
                sources.append(f"{name}:{i}")
        return texts, sources
    rows = csv.reader(text.splitlines())
    header = next(rows, None)
    if header is None:
        raise CLIError(f"{name} is empty")
    names = [h.strip().lower() for h in header]
    if column is not None:
        if column.strip().lower() in names:
            col = names.index(column.strip().lower())
        elif column.isdigit() and 1 <= int(column) <= len(names):
            col = int(column) - 1
        else:
            raise CLIError(f"{name} has no column {column!r} (columns: {', '.join(header)})")
    else:
        hits = [names.index(c) for c in CODE_COLUMNS if c in names]
        if not hits:
            raise CLIError(f"{name}: say which column holds the codes with --column NAME "
                           f"(columns: {', '.join(header)})")
        col = hits[0]
    for i, row in enumerate(rows, 2):
        if col < len(row) and row[col].strip():
            texts.append(row[col].strip())
            sources.append(f"{name}:{i}")
    return texts, sources


def _stamp_json(stamp: af.Stamp | None) -> dict[str, Any] | None:
    if stamp is None:
        return None
    d: dict[str, Any] = {"issuer": stamp.issuer, "key_id": stamp.key_id,
                         "batch_id": stamp.batch_id, "index": stamp.index}
    if stamp.serial is not None or stamp.product is None:
        d["epc"] = stamp.epc
    if stamp.product is not None:
        d["gtin"], d["lot"], d["expiry"] = (stamp.product.gtin, stamp.product.lot,
                                            stamp.product.expiry)
    return d


def cmd_verify(args: argparse.Namespace) -> int:
    if not (args.codes or args.file or args.image):
        raise CLIError("nothing to verify: give codes, --file FILE or --image FILE")
    pin = _pin(args)
    if pin is not None and len(args.codes) + len(args.image or []) != 1:
        raise CLIError("a PIN checks one stamp: give exactly one code or image")
    args.pin_value = pin
    if args.out:
        _refuse_existing(args, args.out, "--out")
    ring = _keyring(args)
    reg = _open_registry(args, "verify --db", ring=ring) if args.db else None
    try:
        return _verify(args, ring, reg)
    finally:
        if reg is not None:
            _close(reg)


def _verify(args: argparse.Namespace, ring: af.Keyring, reg: Any) -> int:
    rows: list[dict[str, Any]] = []
    errors: list[dict[str, str]] = []

    def check(text: str) -> af.Verdict:
        if args.pin_value is not None:
            return af.verify_pin(text, args.pin_value, ring)
        return reg.verify(text) if reg is not None else af.verify(text, ring)

    def one(text: str, source: str) -> None:
        v = check(text)
        rows.append({"source": source, "input": text, "status": v.status.name, "ok": v.ok,
                     "reason": v.reason, "stamp": _stamp_json(v.stamp)})

    for c in args.codes:
        one(c, "argument")
    for img in args.image or []:
        from antifake import qr as _qr

        try:
            texts = _qr.read_qr(_need_file(img, "image"))
        except _qr.QRReadError as e:
            errors.append({"source": img, "error": str(e)})
            continue
        for t in texts:
            one(t, img)
    if args.file and reg is not None:  # registry statuses: one lookup per code
        texts, sources = _read_codes_file(args.file, args.column)
        for t, s in zip(texts, sources, strict=True):
            one(t, s)
    elif args.file:
        texts, sources = _read_codes_file(args.file, args.column)
        res = af.verify_many(texts, ring, threads=args.threads)
        status = res.status
        bad = [i for i in range(len(texts)) if status[i] != af.Status.AUTHENTIC]
        reasons = ({i: af.verify(texts[i], ring).reason for i in bad}
                   if len(bad) <= REASONS_LIMIT else {})
        names = [s.name for s in af.Status]
        for i, (t, s) in enumerate(zip(texts, sources, strict=True)):
            st = int(status[i])
            rows.append({"source": s, "input": t, "status": names[st], "ok": st == 0,
                         "reason": reasons.get(i)})
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    all_ok = all(r["ok"] for r in rows)
    code = EXIT_FOUND if not all_ok else (EXIT_USAGE if errors or not rows else EXIT_OK)

    if args.out:
        with _new_output(args, args.out, "--out") as f:
            w = csv.writer(f)
            w.writerow(["source", "input", "status", "ok", "reason"])
            for r in rows:
                w.writerow([r["source"], r["input"], r["status"], int(r["ok"]),
                            r["reason"] or ""])
    if args.json:
        _emit_json({"ok": all_ok and not errors and bool(rows), "total": len(rows),
                    "counts": counts, "results": rows, "errors": errors, "exit_code": code})
        return code
    shown = rows if (args.all or len(rows) <= SHOW_ROWS) else [r for r in rows if not r["ok"]]
    for r in shown[:SHOW_ROWS] if not args.all else shown:
        where = "" if r["source"] == "argument" else f"{r['source']}: "
        reason = f"  ({r['reason']})" if r["reason"] else ""
        text = r["input"] if len(r["input"]) <= 72 else r["input"][:69] + "..."
        print(f"{r['status']:<20} {where}{text}{reason}")
    if not args.all and len(shown) > SHOW_ROWS:
        print(f"... and {len(shown) - SHOW_ROWS:,} more not authentic: --all lists every row, "
              "--out FILE writes them as CSV")
    for err in errors:
        print(f"{'UNREADABLE':<20} {err['error']}", file=sys.stderr)
    if len(rows) > 1 or args.file:
        summary = ", ".join(f"{k} {v:,}" for k, v in sorted(counts.items(),
                                                            key=lambda kv: -kv[1]))
        print(f"{len(rows):,} codes: {summary or 'none'}")
    if args.out:
        _note(args, f"wrote {args.out}")
    return code


# ---------------------------------------------------------------------------------------
# registry, trace, detection (their modules may land later)
# ---------------------------------------------------------------------------------------
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


# ---------------------------------------------------------------------------------------
# serve, apikey
# ---------------------------------------------------------------------------------------
def _apikey_path(args: argparse.Namespace) -> str:
    from antifake.service.apikeys import default_path

    if args.apikeys:
        return str(args.apikeys)
    db = _db_path(args, must_exist=False)
    path = default_path(db)
    if path is None:
        raise CLIError(f"a database URL keeps no API key file: give --apikeys FILE ({db[:40]})")
    return path


def cmd_serve(args: argparse.Namespace) -> int:
    from antifake.service import Limit, Limits, create_app
    from antifake.service.apikeys import ApiKeyStore, default_path
    from antifake.service.serve import serve

    if not args.client_rate >= 0:
        raise CLIError("--client-rate must be a number >= 0")
    limits = Limits(client=None, bulk_codes=None) if args.client_rate == 0 else \
        Limits(client=Limit(burst=10 * args.client_rate, per_day=86400 * args.client_rate))

    ring = _keyring(args)
    if args.db:  # open it once here: a clear error before any worker starts
        _close(_open_registry(args, "serve", ring=ring))
    if args.workers < 1:
        raise CLIError("--workers must be at least 1")
    keys_path = args.apikeys or (default_path(args.db) if args.db else None)

    def make_app() -> Any:
        reg = _open_registry(args, "serve", ring=ring) if args.db else None
        store = ApiKeyStore(keys_path) if keys_path and Path(keys_path).exists() else None
        return create_app(registry=reg, keyring=ring, base=args.base, apikey_store=store,
                          proxy_headers=args.proxy_headers, limits=limits)

    serve(make_app, args.host, args.port, workers=args.workers,
          log_level="info" if args.debug else "warning")
    return EXIT_OK


def cmd_apikey(args: argparse.Namespace) -> int:
    from antifake.service.apikeys import ApiKeyStore

    store = ApiKeyStore(_apikey_path(args))
    try:
        if args.apikey_cmd == "create":
            key = store.create(args.name)
            if args.json:
                _emit_json({"name": args.name, "key": key, "file": str(store.path)})
            else:
                print(key)
                print(f"API key of {args.name} (stored hashed in {store.path}; shown once)",
                      file=sys.stderr)
        elif args.apikey_cmd == "revoke":
            if not store.revoke(args.name):
                raise CLIError(f"no active API key named {args.name!r}")
            _out(args, f"revoked the API key of {args.name}")
        else:
            rows = store.names()
            if args.json:
                _emit_json({"keys": [{"name": n, "created_at": c, "revoked_at": r}
                                     for n, c, r in rows]})
            for n, c, r in rows:
                if not args.json:
                    print(f"{n}\t{c}\t{'revoked ' + r if r else 'active'}")
    finally:
        store.close()
    return EXIT_OK


# ---------------------------------------------------------------------------------------
# bench
# ---------------------------------------------------------------------------------------
# ---------------------------------------------------------------------------------------
# record: the everyday events without EPCIS JSON (the rules live in antifake.cli.record)
# ---------------------------------------------------------------------------------------
def cmd_record(args: argparse.Namespace) -> int:
    from antifake.cli import record as R
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
                raise R.RecordError(f"{t[:40]}: {e}") from None

        now = datetime.now().astimezone()
        if args.csv is not None:
            path = _need_file(args.csv, "CSV file")
            rows = [(f"{path}:{i}", row) for i, row in R.read_rows(path, args.delimiter)]
            if not rows:
                raise CLIError(f"{path}: no rows to record")
        else:
            rows = [("arguments", {})]
        events = R.events_from_rows(kind, rows, defaults, resolve, now, parse_time)
        ids = reg.record_many(events)
        new = getattr(ids, "new", None)
        res = {"kind": kind, "events": len(events),
               "event_ids": [e.event_id for e in events], "new": new}
        if args.json:
            _emit_json(res)
        else:
            _out(args, f"recorded {R.describe(events)}"
                       + (f"; {len(events) - new} already recorded" if new is not None
                          and new < len(events) else ""))
    finally:
        _close(reg)
    return EXIT_OK


def _add_record_parser(add: Callable[..., _Parser], common: _Parser,
                       dbp: _Parser, ring: _Parser) -> None:
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


# ---------------------------------------------------------------------------------------
# qr: images and label sheets for an existing print file or batch (antifake.cli.qr)
# ---------------------------------------------------------------------------------------
@contextlib.contextmanager
def _qr_progress(args: argparse.Namespace, total: int, what: str
                 ) -> Iterator[Callable[[int], None]]:
    """A bar on a terminal; a line every few seconds when stderr is a pipe or a file."""
    from antifake.cli.qr import ProgressLines

    if getattr(args, "quiet", False) or getattr(args, "json", False) or total <= 0:
        yield lambda k: None
    elif sys.stderr.isatty():
        with _progress(args, total, what, "img") as tick:
            yield tick
    else:
        lines = ProgressLines(total, what)
        yield lines
        lines.close()


def cmd_qr(args: argparse.Namespace) -> int:
    from antifake.cli import qr as cli_qr
    from antifake.labels import SheetLayout, write_sheet

    src = _need_file(args.source, "print file or batch")
    if not (args.out_dir or args.sheet):
        raise CLIError("where to? give --out-dir DIR for image files and/or --sheet FILE.pdf|"
                       ".svg for label sheets")
    if src.suffix.lower() == ".npz":
        if not args.base:
            raise CLIError("a batch file needs --base URL (the resolver the QR codes point to)")
        try:
            idx, urls, _ = cli_qr.batch_urls(src, args.base)
        except af.IssueError as e:
            raise CLIError(str(e), EXIT_FILE) from None
        numbers = None
    else:
        if args.base:
            raise CLIError("--base goes with a batch file: a print file has its URLs")
        idx, urls, numbers = cli_qr.read_print_file(src, args.delimiter)
    t0 = time.perf_counter()
    res: dict[str, Any] = {"source": str(src), "stamps": len(urls), "images": 0,
                           "out_dir": args.out_dir, "sheets": []}
    if args.out_dir:
        with _qr_progress(args, len(urls), "images") as tick:
            res["images"] = cli_qr.make_images(
                urls, idx, Path(args.out_dir), cli_qr.source_stem(src), args.format,
                error=args.error, scale=args.scale, border=args.border, jobs=args.jobs,
                progress=tick)
    if args.sheet:
        layout = SheetLayout(page=args.page, size_mm=args.label_mm)
        try:
            layout.grid(numbers is not None)
        except ValueError as e:
            raise CLIError(str(e)) from None
        with _qr_progress(args, len(urls), "labels") as tick:
            files = write_sheet(args.sheet, urls, numbers if not args.no_numbers else None,
                                layout=layout, error=args.error, progress=tick)
        res["sheets"] = [str(f) for f in files]
    res["seconds"] = round(time.perf_counter() - t0, 3)
    if args.json:
        _emit_json(res)
        return EXIT_OK
    if args.out_dir:
        _out(args, f"{res['images']:,} {args.format.upper()} images in {args.out_dir}")
    if res["sheets"]:
        first = res["sheets"][0]
        more = f" (and {len(res['sheets']) - 1} more pages)" if len(res["sheets"]) > 1 else ""
        _out(args, f"label sheet: {first}{more}")
    _out(args, f"{len(urls):,} stamps in {res['seconds']:.1f} s")
    return EXIT_OK


def _add_qr_parser(add: Callable[..., _Parser]) -> None:
    s = add("qr", "QR images (PNG, SVG) and label sheets (PDF, SVG) for a print file or batch")
    s.add_argument("source", help="print file of 'antifake issue' (.csv, .parquet) or a batch "
                                  "file (.npz, with --base)")
    s.add_argument("--out-dir", default=None, help="write one image per stamp here")
    s.add_argument("--format", default="png", choices=("png", "svg"), help="image format")
    s.add_argument("--sheet", default=None, metavar="FILE",
                   help="label sheets: FILE.pdf (all pages) or FILE.svg (a file per page)")
    s.add_argument("--page", default="a4", choices=("a4", "letter"), help="sheet page size")
    s.add_argument("--label-mm", type=float, default=20.0,
                   help="side of a QR label with its quiet zone, in mm (default 20)")
    s.add_argument("--no-numbers", action="store_true",
                   help="no stamp number under the QR on sheets")
    s.add_argument("--base", default=None, help="resolver base URL (batch files only)")
    s.add_argument("--error", default="M", choices=("L", "M", "Q", "H"),
                   help="error correction level (default M)")
    s.add_argument("--scale", type=int, default=4, help="pixels per module (PNG; default 4)")
    s.add_argument("--border", type=int, default=4, help="quiet zone in modules (default 4)")
    s.add_argument("--jobs", type=int, default=None,
                   help="worker processes (default: one per core)")
    s.add_argument("--delimiter", default=None, metavar="CHAR",
                   help="CSV delimiter of the print file (default: sniffed)")
    s.set_defaults(func=cmd_qr)


def _timed(fn: Callable[[], Any], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def cmd_bench(args: argparse.Namespace) -> int:
    import antifake._core as _core

    n = args.count
    if n < 100:
        raise CLIError("-n must be at least 100")
    cores = os.cpu_count() or 1
    thread_opts = [1] if cores == 1 or args.threads == 1 else [1, args.threads or cores]
    key = af.IssuerKey.generate("BENCH", key_id=1)
    base = "https://xacthuc.example.vn/abc"
    batch = af.issue(key, n)
    urls = batch.urls(base)
    numbers = batch.numbers()
    pub_ring = af.Keyring([key.public])
    man_ring = af.Keyring([key.public])
    man_ring.add_manifest(batch.manifest)
    sec_ring = af.Keyring([key])
    sec_ring.add_manifest(batch.manifest)
    cases: list[tuple[str, Callable[[int], Any], int]] = [
        ("issue (Ed25519 sign)", lambda t: af.issue(key, n, batch_id=0, threads=t), 1),
        ("verify QR (signature)", lambda t: af.verify_many(urls, pub_ring, threads=t), 1),
        ("verify QR (manifest)", lambda t: af.verify_many(urls, man_ring, threads=t), 3),
        ("verify numbers (tags)", lambda t: af.verify_many(numbers, sec_ring, threads=t), 3),
        ("stamp numbers (tags)", lambda t: batch.numbers(threads=t), 3),
        ("parse QR URLs", lambda t: _core.parse_texts(urls, t), 3),
    ]
    rows = []
    with _progress(args, len(cases) * len(thread_opts), "bench", "case") as tick:
        for name, fn, rep in cases:
            row: dict[str, Any] = {"operation": name, "n": n}
            for t in thread_opts:
                dt = _timed(functools.partial(fn, t), rep)
                row[f"per_s_{t}t"] = round(n / dt) if dt > 0 else None
                tick(1)
            rows.append(row)
    if args.json:
        _emit_json({"cores": cores, "threads": thread_opts, "n": n, "rows": rows})
        return EXIT_OK
    heads = ["operation", "n"] + [f"/s, {t} thread{'s' if t > 1 else ''}" for t in thread_opts]
    table = [[r["operation"], f"{n:,}"] + [f"{r[f'per_s_{t}t']:,}" for t in thread_opts]
             for r in rows]
    widths = [max(len(h), *(len(x[i]) for x in table)) for i, h in enumerate(heads)]
    print(f"antifake {af.__version__} on {cores} cores ({n:,} stamps per case, best of runs)")
    print("  ".join(h.ljust(w) if i == 0 else h.rjust(w)
                    for i, (h, w) in enumerate(zip(heads, widths, strict=True))))
    print("  ".join("-" * w for w in widths))
    for x in table:
        print("  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                        for i, (c, w) in enumerate(zip(x, widths, strict=True))))
    return EXIT_OK


# ---------------------------------------------------------------------------------------
# demo
# ---------------------------------------------------------------------------------------
def cmd_research(args: argparse.Namespace) -> int:
    from antifake.research.cli import run_command

    return run_command(args)


def cmd_demo(args: argparse.Namespace, extra: list[str]) -> int:
    from antifake import demo

    if not args.json:
        return int(demo.main(extra) or 0)
    p = _Parser(prog="antifake demo", add_help=False)
    p.add_argument("--out", default=None)
    p.add_argument("-n", type=int, default=10_000)
    a = p.parse_args(extra)
    counts = demo.run(a.out, a.n, out=lambda s: print(s, file=sys.stderr))
    _emit_json({"out": a.out, "n": a.n, "counts": counts})
    return EXIT_OK


# ---------------------------------------------------------------------------------------
# evidence and the transparency log
# ---------------------------------------------------------------------------------------
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


# -- log --------------------------------------------------------------------------------
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


# -- evidence -----------------------------------------------------------------------------
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
    out = Path(args.out)
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


def _add_log_commands(add: Callable[..., argparse.ArgumentParser],
                      common: argparse.ArgumentParser, dbp: argparse.ArgumentParser,
                      ring: argparse.ArgumentParser, pw: argparse.ArgumentParser) -> None:
    """Add ``evidence`` and ``log`` to the ``antifake`` parser (``add`` makes a subcommand)."""
    s = add("evidence", "a stamp's evidence bundle and HTML report, or 'evidence verify "
            "BUNDLE.json --vkey KEY'", [dbp, ring])
    s.add_argument("target", nargs="+", metavar="CODE",
                   help="the stamp's code; or: verify BUNDLE.json")
    s.add_argument("--log-key", metavar="FILE", help="the registry's log key file")
    s.add_argument("-o", "--out", default="report.html",
                   help="HTML report (default report.html); the bundle goes beside it (.json)")
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


# ---------------------------------------------------------------------------------------
# the parser
# ---------------------------------------------------------------------------------------
def _parser() -> _Parser:
    common = _Parser(add_help=False)
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                        help="one JSON document on stdout (errors too)")
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="show tracebacks instead of one-line errors")
    common.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS,
                        help="no progress bars")

    pw = _Parser(add_help=False)
    pw.add_argument("--passphrase-file", metavar="FILE",
                    help=f"first line is the key file's passphrase (else ${PASSPHRASE_ENV}, "
                         "else a prompt)")

    ring = _Parser(add_help=False, parents=[pw])
    g = ring.add_argument_group("trusted keys")
    g.add_argument("--pubkey", action="append", metavar="FILE",
                   help="issuer public key (.pub.json); repeatable")
    g.add_argument("--key", action="append", metavar="FILE",
                   help="issuer secret key file: also checks stamp numbers and PINs; repeatable")
    g.add_argument("--manifest", action="append", metavar="FILE",
                   help="batch manifest: confirms membership (NOT_ISSUED otherwise); repeatable")

    dbp = _Parser(add_help=False)
    dbp.add_argument("--db", metavar="FILE", default=None,
                     help=f"registry database (default ${DB_ENV})")

    threads = _Parser(add_help=False)
    threads.add_argument("--threads", type=int, default=None, metavar="N",
                         help="native threads (default: every core)")

    p = _Parser(prog="antifake", description="Anti-counterfeit electronic stamps: keys, "
                "issuance, QR images, verification and trace.", epilog=EPILOG,
                formatter_class=argparse.RawDescriptionHelpFormatter, parents=[])
    p.add_argument("--json", action="store_true", default=False,
                   help="one JSON document on stdout (errors too)")
    p.add_argument("--debug", action="store_true", default=False,
                   help="show tracebacks instead of one-line errors")
    p.add_argument("-q", "--quiet", action="store_true", default=False, help="no progress bars")
    p.add_argument("--version", action="version", version=f"antifake {af.__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    def add(name: str, help_: str, parents: Sequence[argparse.ArgumentParser] = (),
            **kw: Any) -> _Parser:
        sp: _Parser = sub.add_parser(name, help=help_, description=help_,
                                     parents=[common, *parents], **kw)  # type: ignore[list-item]
        return sp

    s = add("keygen", "generate an issuer key (sealed key file + public key JSON)", [pw])
    s.add_argument("--issuer", required=True, help="issuer id, e.g. VN-QLTT-01")
    s.add_argument("--key-id", type=int, default=None, help="16-bit key id (default random)")
    s.add_argument("-o", "--out", default="issuer.key", help="key file (default issuer.key)")
    s.add_argument("--pub-out", default=None,
                   help="public key file (default: KEYFILE's stem + .pub.json)")
    s.add_argument("--valid-from", default=None, help="ISO 8601 time (default now)")
    s.add_argument("--valid-until", default=None, help="ISO 8601 time (default +3 years)")
    s.add_argument("--kdf", default="moderate", choices=("interactive", "moderate", "sensitive"),
                   help="Argon2id strength for sealing (default moderate)")
    s.add_argument("--no-passphrase", action="store_true",
                   help="write the key file unsealed (not recommended)")
    s.add_argument("--force", action="store_true", help="overwrite an existing key file")
    s.set_defaults(func=cmd_keygen)

    s = add("pubkey", "print the public key JSON of a key file", [pw])
    s.add_argument("keyfile", help="issuer key file (or a .pub.json to pretty-print)")
    s.add_argument("-o", "--out", default=None, help="write it to a file as well")
    s.add_argument("--force", action="store_true", help="overwrite an existing output file")
    s.set_defaults(func=cmd_pubkey)

    s = add("issue", "issue a batch: print file (Parquet, CSV), manifest, batch file, QR images",
            [pw, threads])
    s.add_argument("--key", required=True, metavar="FILE", help="issuer secret key file")
    s.add_argument("-n", "--count", type=int, required=True, help="stamps in the batch")
    s.add_argument("--base", required=True,
                   help="resolver base URL printed in every QR, e.g. https://verify.example.vn/s")
    s.add_argument("--gtin", default=None, help="GS1 GTIN (makes GS1 Digital Link URLs)")
    s.add_argument("--lot", default=None, help="GS1 lot / batch number (AI 10)")
    s.add_argument("--expiry", default=None, help="expiry date YYYY-MM-DD (AI 17)")
    s.add_argument("--out-dir", default=".", help="where the files go (default .)")
    s.add_argument("--name", default=None, help="file name stem (default batch-KEYID-BATCHID)")
    s.add_argument("--format", default=None,
                   help="print file formats: parquet,csv (default both; csv alone without "
                        "pyarrow)")
    s.add_argument("--qr-dir", default=None, help="also write one QR image per stamp here")
    s.add_argument("--qr-format", default="png", choices=("png", "svg"))
    s.add_argument("--qr-error", default="M", choices=("L", "M", "Q", "H"),
                   help="QR error correction (default M: survives scratches, stays small)")
    s.add_argument("--qr-scale", type=int, default=4, help="pixels per module (default 4)")
    s.add_argument("--jobs", type=int, default=None,
                   help="processes writing QR images (default: every core)")
    s.add_argument("--batch-id", type=int, default=None,
                   help="batch id (default: the key's next one)")
    s.add_argument("--chunk-size", type=int, default=100_000,
                   help="stamps issued per chunk (bounds memory; default 100000)")
    s.add_argument("--force", action="store_true", help="overwrite existing output files")
    s.set_defaults(func=cmd_issue)

    s = add("verify", "verify codes (URLs, bare codes, stamp numbers) or QR images",
            [ring, threads])
    s.add_argument("--db", metavar="FILE", default=None,
                   help="also ask this registry: decommissioned, recalled, stolen, claimed")
    s.add_argument("codes", nargs="*", help="codes to verify")
    s.add_argument("--file", default=None,
                   help="codes file: one a line, or a CSV ('-' reads stdin)")
    s.add_argument("--column", default=None, help="CSV column holding the codes (name or 1-based)")
    s.add_argument("--image", action="append", metavar="FILE", help="QR image (PNG, JPEG, ...)")
    s.add_argument("--ask-pin", action="store_true",
                   help="check a scratch-off PIN (needs --key): asked on the terminal, or the "
                        "first line of stdin when it is not a terminal")
    s.add_argument("--pin-file", default=None, metavar="FILE",
                   help="check the scratch-off PIN on the first line of FILE ('-': stdin)")
    s.add_argument("--pin", default=None, help=argparse.SUPPRESS)  # deprecated: in argv
    s.add_argument("--out", default=None, help="write every row's verdict to this CSV")
    s.add_argument("--force", action="store_true", help="overwrite an existing --out file")
    s.add_argument("--all", action="store_true", help="list every row, not only failures")
    s.set_defaults(func=cmd_verify)

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

    s = add("serve", "run the lookup service (consumer page + JSON API; needs antifake[service])",
            [ring])
    s.add_argument("--db", metavar="PATH_OR_URL", default=None,
                   help="registry (SQLite path or postgresql:// URL); without it, verdicts only")
    s.add_argument("--base", required=True,
                   help="the base URL printed in the QR codes, e.g. https://xacthuc.example.vn/abc")
    s.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    s.add_argument("--port", type=int, default=8080, help="port (0: a free one; default 8080)")
    s.add_argument("--apikeys", metavar="FILE", default=None,
                   help="API key file (default: the registry path + .apikeys)")
    s.add_argument("--proxy-headers", action="store_true",
                   help="client address from X-Forwarded-For (only behind your own proxy)")
    s.add_argument("--workers", type=int, default=1, metavar="N",
                   help="worker processes sharing the port (default 1)")
    s.add_argument("--client-rate", type=float, default=60.0, metavar="N",
                   help="requests per second per client, bursts of 10 s (default 60; 0: no "
                        "per-client limits, e.g. behind a proxy that limits; PIN limits stay)")
    s.set_defaults(func=cmd_serve)

    s = add("apikey", "API keys for the marketplace and inspector endpoints", [])
    asub = s.add_subparsers(dest="apikey_cmd", metavar="ACTION", parser_class=_Parser,
                            required=True)
    for name, help_ in (("create", "create a key for client NAME and print it once"),
                        ("revoke", "revoke the key of client NAME"),
                        ("list", "list clients and key states")):
        t = asub.add_parser(name, help=help_, parents=[common, dbp])
        if name != "list":
            t.add_argument("name", metavar="NAME", help="client name, e.g. shopee-vn")
        t.add_argument("--apikeys", metavar="FILE", default=None,
                       help="API key file (default: the registry path + .apikeys)")
    s.set_defaults(func=cmd_apikey)
    _add_log_commands(add, common, dbp, ring, pw)
    _add_record_parser(add, common, dbp, ring)
    _add_qr_parser(add)

    s = add("bench", "measure sign / verify / tag / parse throughput on this machine",
            [threads])
    s.add_argument("-n", "--count", type=int, default=10_000, help="stamps per case")
    s.set_defaults(func=cmd_bench)

    add("demo", "end-to-end demo: issue, print, verify, reject forgeries "
        "(options: --out DIR, -n N)", add_help=False)

    from antifake.research.cli import add_arguments as research_arguments

    s = add("research", "regenerate the research figures and tables: research run --out DIR "
            "[--scale N] [--seed S]")
    research_arguments(s)
    s.set_defaults(func=cmd_research)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; returns the exit code (see the module documentation)."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    want_json = "--json" in args_list
    debug = "--debug" in args_list
    try:
        parser = _parser()
        args, extra = parser.parse_known_args(args_list)
        if args.command is None:  # bare `antifake`: what it can do, and a usage exit code
            parser.print_help(sys.stderr)
            return EXIT_USAGE
        if args.command == "demo":
            return cmd_demo(args, [a for a in extra if a not in ("--json", "--debug")])
        if extra:
            raise CLIError(f"unrecognized arguments: {' '.join(extra)} "
                           f"(see 'antifake {args.command} --help')")
        return int(args.func(args))
    except SystemExit as e:  # --help, --version
        return int(e.code or 0) if isinstance(e.code, int) or e.code is None else EXIT_USAGE
    except KeyboardInterrupt:
        print("antifake: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `antifake ... | head`: the reader left, nothing more to say
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except Exception as e:
        if debug:
            raise
        code, msg = _classify(e)
        print(f"antifake: error: {msg}", file=sys.stderr)
        if want_json:
            _emit_json({"error": msg, "exit_code": code})
        return code


def _classify(e: BaseException) -> tuple[int, str]:
    """Exit code and one line for an exception (never a secret: antifake's messages hold
    none, and only filenames are taken from OS errors)."""
    if isinstance(e, CLIError):
        return e.code, str(e)
    if isinstance(e, af.WrongPassphrase):
        return EXIT_FILE, f"{e}: check --passphrase-file or ${PASSPHRASE_ENV}"
    if isinstance(e, af.InvalidKey | af.ManifestError):
        return EXIT_FILE, str(e)
    if isinstance(e, OSError):
        name = e.filename if e.filename is not None else ""
        what = e.strerror or type(e).__name__
        return EXIT_FILE, f"{name}: {what}" if name else what
    if isinstance(e, af.AntifakeError):  # FormatError, IssueError, EPCISError, RegistryError
        return EXIT_USAGE, str(e)
    if isinstance(e, ImportError):
        hint = ("" if "pip install" in str(e)
                else " (install the extras: pip install 'antifake[cli]')")
        return EXIT_USAGE, f"{e}{hint}"
    if isinstance(e, ValueError):
        return EXIT_USAGE, str(e)
    return EXIT_BUG, (f"internal error ({type(e).__name__}: {str(e)[:200]}); rerun with --debug "
                      "and report it")


if __name__ == "__main__":
    raise SystemExit(main())
