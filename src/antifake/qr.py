"""QR images of stamps: render with segno (PNG, SVG), read back with zxing-cpp.

Rendering
---------
A plain stamp URL (or bare code, or stamp number) is upper-cased before encoding: every
character of ``HTTPS://HOST/PATH/CODE`` is then in the QR *alphanumeric* set (``0-9 A-Z space
$ % * + - . / :``), 5.5 bits a character instead of the 8 of byte mode, so the symbol is two
versions smaller. Readers accept the upper-cased URL as it is (the code is case-insensitive
Crockford base32, scheme and host are case-insensitive). Any other text is encoded exactly as
given: a GS1 Digital Link URL has ``?``, ``=`` and ``&`` (not alphanumeric) and its lot may be
lower case, so it goes in byte mode; a foreign URL's path may be case-sensitive.

Symbol versions measured with segno 1.6 ([`qr_info`][antifake.qr.qr_info]):

==============================================  =====  =====  =====  =====
payload                                          L      M      Q      H
==============================================  =====  =====  =====  =====
plain URL, 160 chars, upper-cased (alnum)        6      **7**  9      10
the same URL left in lower case (byte)           8      9      11     13
GS1 URL, 202 chars (byte)                        9      10     12     15
GS1 URL, 219 chars, longest lot (byte)           9      11     13     15
==============================================  =====  =====  =====  =====

So the QR of a 160-character stamp URL at level M is **version 7: 45 x 45 modules** (53 with
the 4-module quiet zone).

Error correction defaults to level **M** (about 15 % of the codewords recoverable). Stamps are
scratched, scuffed in transport, wrapped round curved bottles and photographed under glare, and
the scratch-off PIN sits right next to the code: level L (7 %) fails on the first scratch. Levels
Q (25 %) and H (30 %) buy more margin at the cost of a bigger symbol (version 9 or 10 for the
same URL): at a fixed printed size their modules are smaller, which cheap phone cameras resolve
worse than they tolerate a scratch. M is the balance for a label of 12-20 mm; pass ``error="Q"``
or ``"H"`` for harsh environments when the label can grow. segno may still *raise* the level when
the chosen version has spare room for it (``boost_error``), which costs nothing.

Reading
-------
[`read_qr`][antifake.qr.read_qr] decodes every QR code in an image (a path, encoded image bytes, a
PIL image or a numpy array) with ``zxingcpp.read_barcodes`` and raises
[`QRReadError`][antifake.qr.QRReadError], an [`antifake.FormatError`][antifake.errors.FormatError],
with a one-line hint when it finds none. SVG files are not rasterised (that would need another
dependency): export a PNG or photograph the label.

Dependencies: ``segno`` (rendering), ``zxing-cpp`` and ``Pillow`` (reading); imported lazily so
that ``import antifake`` never needs them.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from antifake.errors import FormatError

if TYPE_CHECKING:
    from antifake.issue import Batch

__all__ = [
    "DEFAULT_ERROR",
    "QRInfo",
    "QRReadError",
    "make_qr",
    "png_from_matrix",
    "qr_matrix",
    "svg_from_matrix",
    "svg_path",
    "qr_info",
    "qr_payload",
    "read_qr",
    "render",
    "stamp_qr",
    "write_qr_files",
]

DEFAULT_ERROR = "M"
DEFAULT_SCALE = 4
DEFAULT_BORDER = 4
KINDS = ("png", "svg")
ALPHANUMERIC = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:")
MAX_IMAGE_BYTES = 50 << 20


class QRReadError(FormatError):
    """An image could not be read or holds no readable QR code."""


@dataclass(frozen=True, slots=True)
class QRInfo:
    """What segno chose for a payload: ``version`` (1-40), ``mode`` ("alphanumeric", "byte"),
    ``error`` level actually used, and ``modules`` per side without the quiet zone."""

    payload: str
    version: int
    mode: str
    error: str
    modules: int


def _segno() -> Any:
    try:
        import segno
    except ImportError:
        raise ImportError("QR images need segno: pip install 'antifake[cli]' "
                          "(or pip install segno)") from None
    return segno


def _check_error(error: str) -> str:
    e = str(error).upper() if error is not None else ""
    if e not in ("L", "M", "Q", "H"):
        raise ValueError(f"QR error correction level must be L, M, Q or H, not {error!r}")
    return e


def qr_payload(text: str, uppercase: bool = True) -> str:
    """The text put in the symbol: a plain stamp URL, bare code or stamp number upper-cased
    when that makes every character QR alphanumeric; any other text (a GS1 URL, a foreign
    URL whose path may be case-sensitive) unchanged."""
    if not isinstance(text, str) or not text:
        raise FormatError("a QR payload must be a non-empty string")
    if uppercase:
        up = text.upper()
        if ALPHANUMERIC.issuperset(up) and _is_stamp_text(text):
            return up
    return text


def _is_stamp_text(text: str) -> bool:
    from antifake import codes as C

    try:
        return C.parse(text).kind in ("code", "number")
    except (C.ParseFailure, FormatError):
        return False


def make_qr(text: str, *, error: str = DEFAULT_ERROR, uppercase: bool = True) -> Any:
    """A ``segno.QRCode`` for ``text`` (see [`qr_payload`][antifake.qr.qr_payload]) at error level
    ``error``."""
    segno = _segno()
    return segno.make_qr(qr_payload(text, uppercase), error=_check_error(error))


def qr_info(text: str, *, error: str = DEFAULT_ERROR, uppercase: bool = True) -> QRInfo:
    """Version, mode and size segno picks for ``text``."""
    payload = qr_payload(text, uppercase)
    q = make_qr(text, error=error, uppercase=uppercase)
    return QRInfo(payload, int(q.version), str(q.mode), str(q.error),
                  int(q.symbol_size(scale=1, border=0)[0]))


def render(text: str, kind: str = "png", path: str | os.PathLike[str] | None = None, *,
           error: str = DEFAULT_ERROR, scale: int = DEFAULT_SCALE, border: int = DEFAULT_BORDER,
           uppercase: bool = True) -> bytes | str | Path:
    """Render ``text`` as a QR image.

    ``kind`` is "png" or "svg"; ``scale`` is pixels (PNG) or user units (SVG) per module and
    ``border`` the quiet zone in modules (4 is the standard's minimum). Returns the PNG bytes
    or the SVG text, or, when ``path`` is given, writes the file and returns its path.
    """
    if kind not in KINDS:
        raise ValueError(f"QR image kind must be one of {', '.join(KINDS)}, not {kind!r}")
    if not isinstance(scale, int) or scale < 1 or not isinstance(border, int) or border < 0:
        raise ValueError("scale must be a positive integer and border a non-negative one")
    q = make_qr(text, error=error, uppercase=uppercase)
    if path is not None:
        p = Path(path)
        q.save(str(p), kind=kind, scale=scale, border=border)
        return p
    buf = io.BytesIO()
    q.save(buf, kind=kind, scale=scale, border=border)
    data = buf.getvalue()
    return data.decode("utf-8") if kind == "svg" else data


def stamp_qr(batch: Batch, i: int, base: str, kind: str = "png",
             path: str | os.PathLike[str] | None = None, *, error: str = DEFAULT_ERROR,
             scale: int = DEFAULT_SCALE, border: int = DEFAULT_BORDER) -> bytes | str | Path:
    """The QR image of stamp ``i`` (row number) of ``batch`` with resolver ``base``: PNG bytes,
    SVG text, or the path written."""
    return render(batch[i].url(base), kind, path, error=error, scale=scale, border=border)


# ---------------------------------------------------------------------------------------
# the fast path for many images: zxing-cpp's native encoder gives the module matrix (about
# 1 ms a symbol, against segno's 15-30 ms in pure Python); PNG (1 bit per pixel) and SVG are
# written here from the matrix
# ---------------------------------------------------------------------------------------
def _zxing() -> Any:
    try:
        import zxingcpp
    except ImportError:
        return None
    return zxingcpp if hasattr(zxingcpp, "create_barcode") else None


def qr_matrix(text: str, *, error: str = DEFAULT_ERROR, uppercase: bool = True) -> Any:
    """The QR symbol of ``text`` as a square numpy bool array (True: dark module), without
    the quiet zone. Uses zxing-cpp's encoder when it is installed, else segno."""
    import numpy as np

    payload = qr_payload(text, uppercase)
    level = _check_error(error)
    zx = _zxing()
    if zx is not None:
        bc = zx.create_barcode(payload, zx.BarcodeFormat.QRCode, ec_level=level)
        img = np.asarray(bc.to_image(scale=1, add_quiet_zones=False))
        return img < 128
    q = make_qr(text, error=level, uppercase=uppercase)
    return np.array([[bool(v) for v in row] for row in q.matrix], dtype=bool)


def _png_chunk(tag: bytes, data: bytes) -> bytes:
    import struct
    import zlib

    return (struct.pack(">I", len(data)) + tag + data
            + struct.pack(">I", zlib.crc32(data, zlib.crc32(tag))))


def png_from_matrix(dark: Any, scale: int = DEFAULT_SCALE, border: int = DEFAULT_BORDER
                    ) -> bytes:
    """A 1-bit grayscale PNG of a module matrix (``scale`` pixels a module, ``border``
    modules of quiet zone)."""
    import struct
    import zlib

    import numpy as np

    n = dark.shape[0] + 2 * border
    m = np.zeros((n, n), dtype=bool)
    m[border:n - border, border:n - border] = dark
    row = np.packbits(~np.repeat(m, scale, axis=1), axis=1)  # 1 bits are white
    raw = np.empty((n, row.shape[1] + 1), dtype=np.uint8)
    raw[:, 0] = 0  # filter type None
    raw[:, 1:] = row
    side = n * scale
    return (b"\x89PNG\r\n\x1a\n"
            + _png_chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0))
            + _png_chunk(b"IDAT", zlib.compress(np.repeat(raw, scale, axis=0).tobytes(), 6))
            + _png_chunk(b"IEND", b""))


def svg_path(dark: Any, x0: float = 0.0, y0: float = 0.0, module: float = 1.0) -> str:
    """SVG path data drawing the dark modules of a matrix (one rectangle per horizontal run)
    with its top-left corner at ``(x0, y0)``, ``module`` units a module."""
    import numpy as np

    parts = []
    for y, row in enumerate(dark):
        edges = np.flatnonzero(np.diff(np.concatenate(([0], row.view(np.int8), [0]))))
        for a, b in zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True):
            parts.append(f"M{x0 + a * module:g} {y0 + y * module:g}h{(b - a) * module:g}"
                         f"v{module:g}h{-(b - a) * module:g}z")
    return "".join(parts)


def svg_from_matrix(dark: Any, scale: int = DEFAULT_SCALE, border: int = DEFAULT_BORDER
                    ) -> str:
    """A standalone SVG of a module matrix."""
    side = (dark.shape[0] + 2 * border) * scale
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{side}" height="{side}" '
            f'viewBox="0 0 {side} {side}"><rect width="100%" height="100%" fill="#fff"/>'
            f'<path fill="#000" d="{svg_path(dark, border * scale, border * scale, scale)}"/>'
            "</svg>\n")


def _write_chunk(job: tuple[Sequence[str], Sequence[str], str, str, int, int]) -> int:
    texts, paths, kind, error, scale, border = job
    if _zxing() is None:
        for text, path in zip(texts, paths, strict=True):
            render(text, kind, path, error=error, scale=scale, border=border)
        return len(texts)
    for text, path in zip(texts, paths, strict=True):
        dark = qr_matrix(text, error=error)
        if kind == "png":
            Path(path).write_bytes(png_from_matrix(dark, scale, border))
        else:
            Path(path).write_text(svg_from_matrix(dark, scale, border), encoding="utf-8")
    return len(texts)


def write_qr_files(texts: Sequence[str], paths: Sequence[str | os.PathLike[str]],
                   kind: str = "png", *, error: str = DEFAULT_ERROR, scale: int = DEFAULT_SCALE,
                   border: int = DEFAULT_BORDER, jobs: int | None = None,
                   progress: Callable[[int], None] | None = None) -> int:
    """Write one QR image per text to the matching path, over ``jobs`` processes (default:
    every core; small lists stay in this process). ``progress(k)`` is called as ``k`` more
    files are done. Returns the number written."""
    if len(texts) != len(paths):
        raise ValueError("texts and paths must align")
    if kind not in KINDS:
        raise ValueError(f"QR image kind must be one of {', '.join(KINDS)}, not {kind!r}")
    _check_error(error)
    if _zxing() is None:
        _segno()
    n = len(texts)
    if n == 0:
        return 0
    jobs = max(1, jobs if jobs is not None else (os.cpu_count() or 1))
    step = 64
    chunks = [([str(t) for t in texts[a:a + step]], [str(p) for p in paths[a:a + step]], kind,
               error, scale, border) for a in range(0, n, step)]
    if jobs == 1 or n < 256:
        for c in chunks:
            k = _write_chunk(c)
            if progress:
                progress(k)
        return n
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=jobs) as ex:
        for k in ex.map(_write_chunk, chunks):
            if progress:
                progress(k)
    return n


# ---------------------------------------------------------------------------------------
# reading
# ---------------------------------------------------------------------------------------
def _image(source: Any) -> tuple[Any, str]:
    """A grayscale PIL image (or the caller's numpy array) and a name for messages."""
    try:
        import numpy as np
        from PIL import Image, UnidentifiedImageError
    except ImportError:
        raise ImportError("reading QR images needs Pillow: pip install 'antifake[cli]' "
                          "(or pip install Pillow zxing-cpp)") from None
    if isinstance(source, np.ndarray):
        if source.dtype != np.uint8 or source.ndim not in (2, 3):
            raise QRReadError("a QR image array must be uint8, grayscale (h, w) or BGR "
                              "(h, w, 3)")
        return source, "array"
    if isinstance(source, Image.Image):
        img, name = source, "image"
    else:
        if isinstance(source, bytes | bytearray | memoryview):
            data, name = bytes(source), "image bytes"
        elif isinstance(source, str | os.PathLike):
            p = Path(source)
            name = str(p)
            if p.suffix.lower() in (".svg", ".svgz"):
                raise QRReadError(f"{name}: SVG files are not read; export the QR code as PNG "
                                  "or photograph the label")
            if p.stat().st_size > MAX_IMAGE_BYTES:
                raise QRReadError(f"{name}: image is over {MAX_IMAGE_BYTES >> 20} MB; "
                                  "crop or shrink the photo")
            data = p.read_bytes()
        else:
            raise TypeError("read_qr takes a path, image bytes, a PIL image or a numpy array, "
                            f"not {type(source).__name__}")
        if data.lstrip()[:5] in (b"<?xml", b"<svg "):
            raise QRReadError(f"{name}: SVG is not read; export the QR code as PNG or "
                              "photograph the label")
        try:
            img = Image.open(io.BytesIO(data))
            img.load()
        except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
            raise QRReadError(f"{name}: not a readable image (PNG, JPEG, ...): is the file "
                              "damaged?") from None
    try:
        if img.mode not in ("L", "RGB"):
            img = img.convert("L")
    except (OSError, ValueError):
        raise QRReadError(f"{name}: damaged image data") from None
    return img, name


def read_qr(source: Any) -> list[str]:
    """Texts of every QR code found in ``source`` (a path, encoded image bytes, a PIL image or
    a numpy array), in the order zxing-cpp reports them.

    Raises [`QRReadError`][antifake.qr.QRReadError] when the image cannot be read or holds no
    readable QR code.
    """
    try:
        import zxingcpp
    except ImportError:
        raise ImportError("reading QR images needs zxing-cpp: pip install 'antifake[cli]' "
                          "(or pip install zxing-cpp Pillow)") from None
    img, name = _image(source)
    opts: dict[str, Any] = {"formats": zxingcpp.BarcodeFormat.QRCode,
                            "text_mode": zxingcpp.TextMode.Plain}
    try:
        try:
            found = zxingcpp.read_barcodes(img, **opts, return_errors=True)
        except TypeError:  # zxing-cpp before 2.3: no return_errors, only valid symbols
            found = zxingcpp.read_barcodes(img, **opts)
    except (ValueError, TypeError, RuntimeError) as exc:
        raise QRReadError(f"{name}: the QR reader refused the image ({exc})") from None
    texts = [b.text for b in found if b.valid and b.text]
    if texts:
        return texts
    if found:
        raise QRReadError(f"{name}: a QR code was seen but could not be decoded (damaged or "
                          "scratched?); retake the photo or type the stamp number")
    raise QRReadError(f"{name}: no QR code found; photograph the code flat, in focus, filling "
                      "most of the frame")
