"""``antifake qr``: QR images and label sheets for an existing print file or batch.

Input: a print file written by ``antifake issue`` (CSV, or Parquet with pyarrow: columns
``index``, ``url`` and, when present, ``number``), or a batch file (``.npz``) with ``--base``.
Output: one image per stamp in ``--out-dir`` (``{stem}-{index:08d}.png`` or ``.svg``, the
names ``antifake issue --qr-dir`` uses), and/or a label sheet (``--sheet labels.pdf`` or
``.svg``). Images are made by the native encoder in worker processes (one per core).

Progress goes to stderr: a bar on a terminal, and when stderr is a pipe or a file a line every
few seconds (``qr: 40,000/100,000 images (40%), 2,150/s, 28 s left``).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import antifake as af
from antifake.cli._common import (
    EXIT_FILE,
    EXIT_OK,
    AddParser,
    CLIError,
    Parents,
    _emit_json,
    _need_file,
    _out,
    _progress,
)
from antifake.errors import FormatError

__all__ = ["ProgressLines", "read_print_file", "make_images", "cmd_qr", "add_parsers"]

PROGRESS_EVERY = 5.0  # seconds between progress lines when stderr is not a terminal


class ProgressLines:
    """Progress for pipes and log files: a line every ``every`` seconds and one at the end."""

    def __init__(self, total: int, what: str, stream: IO[str] | None = None,
                 every: float = PROGRESS_EVERY) -> None:
        self.total, self.what, self.every = total, what, every
        self.stream = stream if stream is not None else sys.stderr
        self.done = 0
        self.t0 = self.last = time.monotonic()

    def __call__(self, k: int) -> None:
        self.done += k
        now = time.monotonic()
        if now - self.last >= self.every:
            self.last = now
            self._line(now)

    def _line(self, now: float) -> None:
        rate = self.done / max(now - self.t0, 1e-9)
        left = (self.total - self.done) / rate if rate > 0 else 0.0
        pct = 100 * self.done // max(self.total, 1)
        print(f"qr: {self.done:,}/{self.total:,} {self.what} ({pct}%), {rate:,.0f}/s, "
              f"{left:.0f} s left", file=self.stream, flush=True)

    def close(self) -> None:
        """The final line (only when some lines were printed or it took long enough)."""
        if self.done and time.monotonic() - self.t0 >= self.every:
            self._line(time.monotonic())


def read_print_file(path: Path, delimiter: str | None = None
                    ) -> tuple[list[int], list[str], list[str] | None]:
    """``(indexes, urls, numbers or None)`` of a print file (CSV or Parquet)."""
    if path.suffix.lower() == ".parquet":
        try:
            import pyarrow.parquet as pq
        except ImportError:
            raise FormatError(f"{path}: reading Parquet needs pyarrow (pip install "
                              "'antifake[cli]'); or give the CSV print file") from None
        table = pq.read_table(path)
        cols = {c.lower(): c for c in table.column_names}
        if "url" not in cols:
            raise FormatError(f"{path}: no url column (columns: {', '.join(cols)})")
        urls = [str(u) for u in table.column(cols["url"]).to_pylist()]
        idx = ([int(i) for i in table.column(cols["index"]).to_pylist()] if "index" in cols
               else list(range(len(urls))))
        nums = ([str(n) for n in table.column(cols["number"]).to_pylist()]
                if "number" in cols else None)
        return idx, urls, nums
    with open(path, newline="", encoding="utf-8-sig") as f:
        head = f.readline()
        f.seek(0)
        if delimiter is None:
            counts = {d: head.count(d) for d in (",", ";", "\t")}
            delimiter = max(counts, key=lambda d: counts[d]) if any(counts.values()) else ","
        reader = csv.DictReader(f, delimiter=delimiter)
        names = {(n or "").strip().lower(): n for n in (reader.fieldnames or [])}
        if "url" not in names:
            raise FormatError(f"{path}: no url column in the header (found: "
                              f"{', '.join(names) or 'nothing'}); is it a print file of "
                              "'antifake issue'? (--delimiter if it is not comma-separated)")
        idx, urls, nums = [], [], []
        for line, row in enumerate(reader, start=2):
            url = (row.get(names["url"]) or "").strip()
            if not url:
                raise FormatError(f"{path}:{line}: empty url")
            urls.append(url)
            raw = (row.get(names["index"]) or "").strip() if "index" in names else ""
            try:
                idx.append(int(raw) if raw else len(idx))
            except ValueError:
                raise FormatError(f"{path}:{line}: index {raw!r:.20} is not a number") from None
            if "number" in names:
                nums.append((row.get(names["number"]) or "").strip())
    return idx, urls, (nums if "number" in names else None)


def make_images(urls: list[str], idx: list[int], out_dir: Path, stem: str, kind: str, *,
                error: str, scale: int, border: int, jobs: int | None,
                progress: Callable[[int], None]) -> int:
    """Write one image per URL to ``out_dir`` (``{stem}-{index:08d}.{kind}``)."""
    from antifake.qr import write_qr_files

    out_dir.mkdir(parents=True, exist_ok=True)
    names = [os.fspath(out_dir / f"{stem}-{i:08d}.{kind}") for i in idx]
    return write_qr_files(urls, names, kind, error=error, scale=scale, border=border,
                          jobs=jobs, progress=progress)


def source_stem(path: Path) -> str:
    """Image names start with the print file's stem (``batch-4242-0``)."""
    return path.stem


def batch_urls(path: Path, base: str) -> tuple[list[int], list[str], Any]:
    """``(indexes, urls, batch)`` of a batch file (no numbers: those need the secret key)."""
    from antifake.issue import Batch

    batch = Batch.load(path)
    urls = batch.urls(base).tolist()
    return list(range(batch.index_offset, batch.index_offset + len(batch))), urls, batch


# ---------------------------------------------------------------------------------------
# the command
# ---------------------------------------------------------------------------------------
@contextlib.contextmanager
def _qr_progress(args: argparse.Namespace, total: int, what: str
                 ) -> Iterator[Callable[[int], None]]:
    """A bar on a terminal; a line every few seconds when stderr is a pipe or a file."""
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
    from antifake.labels import SheetLayout, write_sheet

    src = _need_file(args.source, "print file or batch")
    if not (args.out_dir or args.sheet):
        raise CLIError("where to? give --out-dir DIR for image files and/or --sheet FILE.pdf|"
                       ".svg for label sheets")
    if src.suffix.lower() == ".npz":
        if not args.base:
            raise CLIError("a batch file needs --base URL (the resolver the QR codes point to)")
        try:
            idx, urls, _ = batch_urls(src, args.base)
        except af.IssueError as e:
            raise CLIError(str(e), EXIT_FILE) from None
        numbers = None
    else:
        if args.base:
            raise CLIError("--base goes with a batch file: a print file has its URLs")
        idx, urls, numbers = read_print_file(src, args.delimiter)
    t0 = time.perf_counter()
    res: dict[str, Any] = {"source": str(src), "stamps": len(urls), "images": 0,
                           "out_dir": args.out_dir, "sheets": []}
    if args.out_dir:
        with _qr_progress(args, len(urls), "images") as tick:
            res["images"] = make_images(
                urls, idx, Path(args.out_dir), source_stem(src), args.format,
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


def add_parsers(add: AddParser, parents: Parents) -> None:
    """Add ``qr`` to the ``antifake`` parser."""
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
