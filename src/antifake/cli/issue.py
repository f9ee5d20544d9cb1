"""``antifake issue`` (print files, manifest, batch file, QR images) and ``antifake verify``."""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import os
import sys
import time
from pathlib import Path
from typing import IO, Any

import antifake as af
from antifake.cli._common import (
    CODE_COLUMNS,
    EXIT_FILE,
    EXIT_FOUND,
    EXIT_OK,
    EXIT_USAGE,
    REASONS_LIMIT,
    SHOW_ROWS,
    AddParser,
    CLIError,
    Parents,
    _close,
    _emit_json,
    _keyring,
    _load_key,
    _need_file,
    _new_output,
    _note,
    _open_private,
    _open_registry,
    _out,
    _pin,
    _progress,
    _refuse_existing,
)


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


def add_parsers(add: AddParser, parents: Parents) -> None:
    """Add this module's commands to the `antifake` parser."""
    pw, ring, threads = parents.pw, parents.ring, parents.threads
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
