"""QR images: segno renders plain stamps in alphanumeric mode at the expected version, zxing-cpp
reads them back, and what it reads verifies; damaged or foreign images give a clear error."""

from __future__ import annotations

import io

import numpy as np
import pytest

import antifake as af
from conftest import BASE

segno = pytest.importorskip("segno")
pytest.importorskip("zxingcpp")
Image = pytest.importorskip("PIL.Image")
ImageDraw = pytest.importorskip("PIL.ImageDraw")

from antifake import qr  # noqa: E402

GS1 = af.Product(gtin="09521234543213", lot="L23", expiry="2027-12-31")


@pytest.fixture
def service(key: af.IssuerKey) -> tuple[af.Keyring, af.Batch, af.Batch]:
    plain = af.issue(key, 8)
    gs1 = af.issue(key, 8, product=GS1)
    ring = af.Keyring([key.public])
    ring.add_manifest(plain.manifest)
    ring.add_manifest(gs1.manifest)
    return ring, plain, gs1


def _gray(png: bytes) -> Image.Image:
    return Image.open(io.BytesIO(png)).convert("L")


def test_plain_url_is_alphanumeric_version_7_at_m(service) -> None:
    _, plain, _ = service
    url = plain.urls(BASE)[0]
    assert len(url) == 160
    info = qr.qr_info(url)
    assert info.payload == url.upper()
    assert info.mode == "alphanumeric"
    assert (info.version, info.error, info.modules) == (7, "M", 45)
    # left in lower case it would need byte mode and two more versions
    lower = qr.qr_info(url, uppercase=False)
    assert lower.mode == "byte" and lower.version == 9
    # the other levels, as documented
    assert [qr.qr_info(url, error=e).version for e in "LQH"] == [6, 9, 10]


def test_gs1_url_keeps_its_case_in_byte_mode(key: af.IssuerKey) -> None:
    b = af.issue(key, 2, product=af.Product(gtin="09521234543213", lot="ab-12"))
    url = b.urls(BASE)[0]
    info = qr.qr_info(url)
    assert info.payload == url and info.mode == "byte"  # '?', '=', '&' are not alphanumeric


@pytest.mark.parametrize("which", ["plain", "gs1"])
@pytest.mark.parametrize("kind", ["png", "svg"])
def test_render_read_verify(service, which: str, kind: str, tmp_path) -> None:
    ring, plain, gs1 = service
    batch = plain if which == "plain" else gs1
    for i in (0, 5):
        out = qr.stamp_qr(batch, i, BASE, kind=kind)
        if kind == "svg":
            assert isinstance(out, str) and "<svg" in out
            path = qr.stamp_qr(batch, i, BASE, kind="svg", path=tmp_path / f"{i}.svg")
            assert path.read_text() == out
            with pytest.raises(qr.QRReadError, match="SVG"):
                qr.read_qr(path)
            continue
        assert isinstance(out, bytes) and out[:8] == b"\x89PNG\r\n\x1a\n"
        texts = qr.read_qr(out)
        assert len(texts) == 1
        text = texts[0]
        if which == "plain":
            assert text == batch.urls(BASE)[i].upper()
        else:
            assert text == batch.urls(BASE)[i]
        v = af.verify(text, ring)
        assert v.status == af.Status.AUTHENTIC, v.reason
        assert v.stamp.index == i and v.stamp.batch_id == batch.batch_id
        # every input form zxing accepts: path, PIL image, numpy array
        p = tmp_path / f"{which}{i}.png"
        assert qr.stamp_qr(batch, i, BASE, path=p) == p
        assert qr.read_qr(p) == texts
        assert qr.read_qr(str(p)) == texts
        assert qr.read_qr(_gray(out)) == texts
        assert qr.read_qr(np.asarray(_gray(out))) == texts


def test_level_m_survives_a_scratch(service) -> None:
    ring, plain, _ = service
    img = _gray(qr.stamp_qr(plain, 1, BASE, scale=6))
    w, h = img.size
    d = ImageDraw.Draw(img)
    d.line([(w * 0.2, h * 0.45), (w * 0.8, h * 0.55)], fill=255, width=7)  # a scratch
    [text] = qr.read_qr(img)
    assert af.verify(text, ring).ok


def test_damaged_and_foreign_images_give_clear_errors(service, tmp_path) -> None:
    _, plain, _ = service
    img = _gray(qr.stamp_qr(plain, 2, BASE))
    w, h = img.size
    wiped = img.copy()
    ImageDraw.Draw(wiped).rectangle([w * 0.25, h * 0.3, w * 0.8, h * 0.7], fill=255)
    with pytest.raises(qr.QRReadError, match="could not be decoded|no QR code"):
        qr.read_qr(wiped)
    corner = img.copy()
    ImageDraw.Draw(corner).rectangle([0, 0, w // 2, h // 2], fill=255)
    with pytest.raises(qr.QRReadError, match="could not be decoded|no QR code"):
        qr.read_qr(corner)
    with pytest.raises(qr.QRReadError, match="no QR code"):
        qr.read_qr(Image.new("L", (300, 300), 255))
    with pytest.raises(qr.QRReadError, match="not a readable image"):
        qr.read_qr(b"\x89PNG\r\n\x1a\n truncated")
    text_file = tmp_path / "notes.png"
    text_file.write_text("hello")
    with pytest.raises(qr.QRReadError, match="not a readable image"):
        qr.read_qr(text_file)
    with pytest.raises(FileNotFoundError):
        qr.read_qr(tmp_path / "missing.png")
    # the error is an antifake error, catchable as FormatError
    assert issubclass(qr.QRReadError, af.FormatError)


def test_other_qr_code_reads_but_does_not_verify(service) -> None:
    ring, _, _ = service
    png = qr.render("https://example.com/not-a-stamp")
    [text] = qr.read_qr(png)
    assert text == "https://example.com/not-a-stamp"  # not a stamp: its case is kept
    assert af.verify(text, ring).status == af.Status.MALFORMED


def test_forged_stamp_qr_is_rejected(service) -> None:
    ring, plain, _ = service
    url = plain.urls(BASE)[3]
    forged = url[:-20] + ("0" if url[-20] != "0" else "1") + url[-19:]
    [text] = qr.read_qr(qr.render(forged))
    assert af.verify(text, ring).status == af.Status.BAD_SIGNATURE


def test_options_are_checked() -> None:
    with pytest.raises(ValueError, match="L, M, Q or H"):
        qr.render("X", error="Z")
    with pytest.raises(ValueError, match="png, svg"):
        qr.render("X", kind="gif")
    with pytest.raises(af.FormatError):
        qr.render("")
    big = _gray(qr.render("HELLO", scale=10, border=4))
    assert big.size == ((21 + 8) * 10,) * 2
    assert qr.qr_info("HELLO", error="L").error in "LMQH"


def test_write_qr_files(service, tmp_path) -> None:
    _, plain, _ = service
    urls = plain.urls(BASE).tolist()
    paths = [tmp_path / f"s{i}.png" for i in range(len(urls))]
    seen = []
    assert qr.write_qr_files(urls, paths, "png", jobs=1, progress=seen.append) == len(urls)
    assert sum(seen) == len(urls)
    assert qr.read_qr(paths[4]) == [urls[4].upper()]


def test_stamp_qr_kinds_and_paths(service, tmp_path) -> None:
    """``qr.stamp_qr(batch, i, base, kind, path)``: PNG bytes, SVG text, or a file."""
    _, plain, gs1 = service
    png = qr.stamp_qr(plain, 3, BASE)
    assert isinstance(png, bytes) and png.startswith(b"\x89PNG")
    assert [t.upper() for t in qr.read_qr(png)] == [plain.urls(BASE)[3].upper()]
    svg = qr.stamp_qr(gs1, 1, BASE, kind="svg")
    assert isinstance(svg, str) and "<svg" in svg
    p = qr.stamp_qr(gs1, 2, BASE, path=tmp_path / "s.png")
    assert qr.read_qr(p) == [gs1.urls(BASE)[2]]
