"""Label sheets for printers: QR codes (and stamp numbers) laid out on pages, as PDF or SVG.

[`write_sheet`][antifake.labels.write_sheet] places one label per stamp in a grid on A4 or US
Letter pages: the QR symbol (vector, one rectangle per run of dark modules, so it prints sharp
at any resolution) with its quiet zone, and the stamp number under it when one is given. A PDF
holds every page (written page by page, so a long run does not sit in memory); an SVG file
holds one page, so a run of several pages is written as ``NAME-0001.svg``, ``NAME-0002.svg``...
No dependency beyond zxing-cpp or segno (for the symbols) and zlib.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from xml.sax.saxutils import escape

from antifake.qr import DEFAULT_ERROR, qr_matrix, svg_path

__all__ = ["PAGES", "SheetLayout", "write_sheet"]

MM = 72 / 25.4  # PDF points per millimetre
#: Page sizes in millimetres (width, height).
PAGES = {"a4": (210.0, 297.0), "letter": (215.9, 279.4)}
QUIET = 4  # modules of quiet zone around every symbol


@dataclass(frozen=True, slots=True)
class SheetLayout:
    """A grid of labels: ``size_mm`` is the QR symbol's side with its quiet zone, ``gap_mm``
    the space between labels, ``margin_mm`` the page margin; the number (when given) is
    printed under the symbol in ``text_mm`` high characters."""

    page: str = "a4"
    size_mm: float = 20.0
    gap_mm: float = 3.0
    margin_mm: float = 10.0
    text_mm: float = 2.2

    def grid(self, with_text: bool) -> tuple[int, int]:
        """Labels per row and rows per page."""
        if self.page not in PAGES:
            raise ValueError(f"page must be one of {', '.join(PAGES)}, not {self.page!r}")
        w, h = PAGES[self.page]
        cell_h = self.size_mm + (self.text_mm * 1.6 if with_text else 0.0)
        cols = int((w - 2 * self.margin_mm + self.gap_mm) // (self.size_mm + self.gap_mm))
        rows = int((h - 2 * self.margin_mm + self.gap_mm) // (cell_h + self.gap_mm))
        if cols < 1 or rows < 1:
            raise ValueError(f"a {self.size_mm:g} mm label does not fit on a {self.page} page "
                             f"with {self.margin_mm:g} mm margins")
        return cols, rows

    def place(self, k: int, with_text: bool) -> tuple[float, float]:
        """Top-left corner (mm from the page's top-left) of the ``k``-th label of a page."""
        cols, _ = self.grid(with_text)
        cell_h = self.size_mm + (self.text_mm * 1.6 if with_text else 0.0)
        return (self.margin_mm + (k % cols) * (self.size_mm + self.gap_mm),
                self.margin_mm + (k // cols) * (cell_h + self.gap_mm))


def _pdf_text(s: str) -> str:
    return s.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


class _PDF:
    """A minimal PDF 1.4 writer: pages of vector paths and Helvetica text, Flate-compressed."""

    def __init__(self, f: IO[bytes], page_mm: tuple[float, float]) -> None:
        self.f = f
        self.offsets: list[int] = []
        self.pages: list[int] = []
        self.w, self.h = page_mm[0] * MM, page_mm[1] * MM
        f.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
        self._obj(1, b"<< /Type /Catalog /Pages 2 0 R >>")  # 2: the page tree, written last
        self._obj(3, b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")

    def _obj(self, num: int, body: bytes) -> None:
        while len(self.offsets) < num:
            self.offsets.append(0)
        self.offsets[num - 1] = self.f.tell()
        self.f.write(f"{num} 0 obj\n".encode() + body + b"\nendobj\n")

    def page(self, content: str) -> None:
        data = zlib.compress(content.encode("latin-1"), 6)
        n = len(self.offsets)
        self._obj(n + 1, f"<< /Length {len(data)} /Filter /FlateDecode >>\nstream\n".encode()
                  + data + b"\nendstream")
        self._obj(n + 2, (f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {self.w:.2f} "
                          f"{self.h:.2f}] /Resources << /Font << /F1 3 0 R >> >> "
                          f"/Contents {n + 1} 0 R >>").encode())
        self.pages.append(n + 2)

    def close(self) -> None:
        kids = " ".join(f"{p} 0 R" for p in self.pages)
        self._obj(2, f"<< /Type /Pages /Kids [{kids}] /Count {len(self.pages)} >>".encode())
        xref = self.f.tell()
        self.f.write(f"xref\n0 {len(self.offsets) + 1}\n0000000000 65535 f \n".encode())
        for off in self.offsets:
            self.f.write(f"{off:010d} 00000 n \n".encode())
        self.f.write(f"trailer\n<< /Size {len(self.offsets) + 1} /Root 1 0 R >>\n"
                     f"startxref\n{xref}\n%%EOF\n".encode())


def _pdf_label(dark: Any, x_mm: float, y_mm: float, lay: SheetLayout, page_h: float,
               number: str | None) -> str:
    n = dark.shape[0] + 2 * QUIET
    mod = lay.size_mm * MM / n
    x0 = x_mm * MM + QUIET * mod
    top = page_h - (y_mm * MM + QUIET * mod)
    out = []
    import numpy as np

    for y, row in enumerate(dark):
        edges = np.flatnonzero(np.diff(np.concatenate(([0], row.view(np.int8), [0]))))
        yy = top - (y + 1) * mod
        for a, b in zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True):
            out.append(f"{x0 + a * mod:.2f} {yy:.2f} {(b - a) * mod:.2f} {mod:.2f} re")
    out.append("f")
    if number:
        size = lay.text_mm * MM
        ty = page_h - (y_mm + lay.size_mm + lay.text_mm * 1.1) * MM
        width = 0.56 * size * len(number)  # Helvetica's digits and capitals, near enough
        tx = x_mm * MM + (lay.size_mm * MM - width) / 2
        out.append(f"BT /F1 {size:.2f} Tf {tx:.2f} {ty:.2f} Td ({_pdf_text(number)}) Tj ET")
    return "\n".join(out)


def _svg_label(dark: Any, x_mm: float, y_mm: float, lay: SheetLayout,
               number: str | None) -> str:
    n = dark.shape[0] + 2 * QUIET
    mod = lay.size_mm / n
    d = svg_path(dark, x_mm + QUIET * mod, y_mm + QUIET * mod, mod)
    out = f'<path d="{d}"/>'
    if number:
        out += (f'<text x="{x_mm + lay.size_mm / 2:g}" y="{y_mm + lay.size_mm + lay.text_mm:g}"'
                f' font-size="{lay.text_mm:g}" text-anchor="middle" '
                f'font-family="Helvetica, Arial, sans-serif">{escape(number)}</text>')
    return out


def write_sheet(path: str | os.PathLike[str], texts: Sequence[str],
                numbers: Sequence[str] | None = None, *, layout: SheetLayout | None = None,
                error: str = DEFAULT_ERROR, progress: Callable[[int], None] | None = None
                ) -> list[Path]:
    """Lay the QR codes of ``texts`` (with ``numbers`` under them, when given) out on pages;
    ``path`` ending in ``.pdf`` gives one PDF, ``.svg`` one SVG per page. Returns the files
    written. ``progress(k)`` is called as ``k`` more labels are placed."""
    lay = layout or SheetLayout()
    p = Path(path)
    kind = p.suffix.lower()
    if kind not in (".pdf", ".svg"):
        raise ValueError(f"a label sheet is .pdf or .svg, not {p.name!r}")
    if numbers is not None and len(numbers) != len(texts):
        raise ValueError("texts and numbers must align")
    with_text = numbers is not None
    cols, rows = lay.grid(with_text)
    per_page = cols * rows
    pages = [range(a, min(a + per_page, len(texts))) for a in range(0, len(texts), per_page)]
    w_mm, h_mm = PAGES[lay.page]
    written: list[Path] = []

    def labels(page: Iterable[int], pdf: bool) -> Iterable[str]:
        for k, i in enumerate(page):
            x, y = lay.place(k, with_text)
            dark = qr_matrix(texts[i], error=error)
            num = numbers[i] if numbers is not None else None
            yield (_pdf_label(dark, x, y, lay, h_mm * MM, num) if pdf
                   else _svg_label(dark, x, y, lay, num))

    if kind == ".pdf":
        tmp = p.with_name(p.name + ".part")
        with open(tmp, "wb") as f:
            pdf = _PDF(f, (w_mm, h_mm))
            for page in pages:
                pdf.page("\n".join(labels(page, True)))
                if progress:
                    progress(len(page))
            pdf.close()
        os.replace(tmp, p)
        return [p]
    for j, page in enumerate(pages):
        out = p if len(pages) == 1 else p.with_name(f"{p.stem}-{j + 1:04d}{p.suffix}")
        body = "".join(labels(page, False))
        out.write_text(f'<svg xmlns="http://www.w3.org/2000/svg" width="{w_mm:g}mm" '
                       f'height="{h_mm:g}mm" viewBox="0 0 {w_mm:g} {h_mm:g}">'
                       f'<rect width="100%" height="100%" fill="#fff"/><g fill="#000">{body}'
                       "</g></svg>\n", encoding="utf-8")
        written.append(out)
        if progress:
            progress(len(page))
    return written
