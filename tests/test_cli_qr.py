"""``antifake qr``: images and label sheets for an existing print file or batch; the native
encoder's images decode back with zxing-cpp; progress lines when piped."""

from __future__ import annotations

import csv
import io
import json
import random
from pathlib import Path

import pytest

import antifake as af
from antifake import cli, qr
from antifake.cli.qr import ProgressLines

zxingcpp = pytest.importorskip("zxingcpp")
Image = pytest.importorskip("PIL.Image")
BASE = "https://xacthuc.example.vn/abc"


@pytest.fixture(scope="module")
def printed(tmp_path_factory):
    d = tmp_path_factory.mktemp("qr")
    key = af.IssuerKey.generate(issuer="VN-T")
    rows = []
    for product in (None, af.Product(gtin="09521234543213", lot="l-23", expiry="2027-12")):
        b = af.issue(key, 90, product=product)
        rows.append((b, b.urls(BASE).tolist(), b.numbers().tolist()))
        b.save(d / f"b{b.batch_id}.npz")
    b, urls, numbers = rows[0]
    with open(d / "print.csv", "w", newline="") as f:  # as a spreadsheet may save it
        w = csv.writer(f, delimiter=";")
        w.writerow(["index", "url", "number", "pin"])
        for i, (u, n) in enumerate(zip(urls, numbers, strict=True)):
            w.writerow([i, u, n, "XXX-XXX-XXX"])
    return d, rows


def _read(path: Path) -> str:
    return zxingcpp.read_barcodes(Image.open(path))[0].text


def test_images_from_a_print_file_decode_back(printed, tmp_path, capsys) -> None:
    d, rows = printed
    urls = rows[0][1]
    code = cli.main(["qr", str(d / "print.csv"), "--out-dir", str(tmp_path / "img"),
                     "--jobs", "2", "--json"])
    res = json.loads(capsys.readouterr().out)
    assert code == 0 and res["images"] == len(urls) == 90
    files = sorted((tmp_path / "img").glob("*.png"))
    assert [f.name for f in files[:2]] == ["print-00000000.png", "print-00000001.png"]
    for i in random.Random(7).sample(range(len(urls)), 12):
        assert _read(files[i]) == qr.qr_payload(urls[i])
        assert af.verify(_read(files[i]), af.Keyring([])).status == af.Status.UNKNOWN_KEY


def test_gs1_batch_svg_and_png(printed, tmp_path, capsys) -> None:
    d, rows = printed
    b, urls, _ = rows[1]
    assert cli.main(["qr", str(d / f"b{b.batch_id}.npz"), "--base", BASE, "--out-dir",
                     str(tmp_path / "png"), "-q"]) == 0
    png = sorted((tmp_path / "png").glob("*.png"))
    assert len(png) == 90 and _read(png[5]) == urls[5]  # a GS1 URL keeps its case
    assert cli.main(["qr", str(d / f"b{b.batch_id}.npz"), "--base", BASE, "--out-dir",
                     str(tmp_path / "svg"), "--format", "svg", "-q"]) == 0
    svg = (tmp_path / "svg" / f"b{b.batch_id}-00000005.svg").read_text()
    assert svg.startswith("<svg") and 'fill="#000"' in svg
    capsys.readouterr()


def test_native_matrix_matches_the_symbol_segno_makes(printed) -> None:
    pytest.importorskip("segno")
    urls = printed[1][0][1]
    dark = qr.qr_matrix(urls[0])
    assert dark.shape == (45, 45)  # version 7 at level M, as segno picks (see qr module)
    png = qr.png_from_matrix(dark, scale=3, border=4)
    img = Image.open(io.BytesIO(png))
    assert img.size == (159, 159) and img.mode == "1"
    assert zxingcpp.read_barcodes(img)[0].text == qr.qr_payload(urls[0])


def test_label_sheets(printed, tmp_path, capsys) -> None:
    d, rows = printed
    urls, numbers = rows[0][1], rows[0][2]
    assert cli.main(["qr", str(d / "print.csv"), "--sheet", str(tmp_path / "s.svg")]) == 0
    out = capsys.readouterr().out
    pages = sorted(tmp_path.glob("s-*.svg"))
    assert len(pages) == 2 and "and 1 more pages" in out
    assert numbers[0] in pages[0].read_text()
    assert cli.main(["qr", str(d / "print.csv"), "--sheet", str(tmp_path / "s.pdf"),
                     "--label-mm", "25", "-q"]) == 0
    pdfium = pytest.importorskip("pypdfium2")
    pdf = pdfium.PdfDocument(str(tmp_path / "s.pdf"))
    found = []
    for page in pdf:
        found += [r.text for r in zxingcpp.read_barcodes(page.render(scale=4).to_pil())]
        assert numbers[len(found) - 1] in page.get_textpage().get_text_range()
    assert sorted(found) == sorted(qr.qr_payload(u) for u in urls)
    code = cli.main(["qr", str(d / "print.csv"), "--sheet", str(tmp_path / "s.pdf"),
                     "--label-mm", "400"])
    assert code == 2 and "does not fit" in capsys.readouterr().err


def test_progress_lines_when_piped(printed, tmp_path) -> None:
    buf = io.StringIO()
    p = ProgressLines(1000, "images", buf, every=0.0)
    p(250)
    p(750)
    p.close()
    lines = buf.getvalue().splitlines()
    assert lines[0].startswith("qr: 250/1,000 images (25%)") and "/s" in lines[0]
    assert lines[-1].startswith("qr: 1,000/1,000 images (100%)")


def test_errors(printed, tmp_path, capsys) -> None:
    d, _ = printed
    assert cli.main(["qr", str(d / "print.csv")]) == 2
    assert "--out-dir" in capsys.readouterr().err
    assert cli.main(["qr", str(tmp_path / "nope.csv"), "--out-dir", "x"]) == 3
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n")
    assert cli.main(["qr", str(tmp_path / "bad.csv"), "--out-dir", str(tmp_path)]) == 2
    assert "no url column" in capsys.readouterr().err
    assert cli.main(["qr", str(d / "b0.npz"), "--out-dir", str(tmp_path)]) == 2
    assert "--base" in capsys.readouterr().err
