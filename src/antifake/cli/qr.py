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

import csv
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from antifake.errors import FormatError

__all__ = ["ProgressLines", "read_print_file", "make_images"]

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
