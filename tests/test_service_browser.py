"""A real browser (Debian's headless Chromium, driven by Playwright; no browser download) on
a real `antifake serve` process: the page of a genuine, a forged and a claimed stamp, the
claim, report and location forms; screenshots for the docs.

Skips when Chromium or the ``playwright`` package is missing, except under ``CI=true`` where
it fails. ``ANTIFAKE_SCREENSHOTS=docs/images/service`` refreshes the documentation's images
(default: the test's temporary folder)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from service_world import BASE, antifake_cmd, env, forge, make_world, stop_server

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _need_browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        sync_playwright = None
    if CHROMIUM is None or sync_playwright is None:
        why = "Chromium (apt-get install chromium)" if CHROMIUM is None else \
            "the playwright package (pip install playwright)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"the browser test needs {why}")
        pytest.skip(f"needs {why}")
    return sync_playwright


@pytest.fixture
def server(tmp_path: Path):
    w = make_world(tmp_path)
    w.reg.close()
    p = subprocess.Popen([*antifake_cmd(), "serve", "--db", str(w.db), "--key", str(w.key_file),
                          "--base", BASE, "--port", "0"], env=env(), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
    line = p.stdout.readline().strip()
    assert line.startswith("listening on http://127.0.0.1:"), (line, p.stderr.read())
    yield w, line.removeprefix("listening on ")
    stop_server(p)


def test_consumer_pages_in_chromium(server, tmp_path: Path) -> None:
    sync_playwright = _need_browser()
    w, root = server
    shots = Path(os.environ.get("ANTIFAKE_SCREENSHOTS") or tmp_path / "shots")
    shots.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:  # Playwright gives the browser a fresh temporary profile
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        ctx = browser.new_context(viewport={"width": 390, "height": 844},
                                  device_scale_factor=1, locale="vi-VN",
                                  geolocation={"latitude": 21.0285, "longitude": 105.8542},
                                  permissions=["geolocation"])
        page = ctx.new_page()
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

        def open_(path: str, name: str) -> str:
            page.goto(root + path)
            page.screenshot(path=str(shots / f"{name}.png"), full_page=True)
            return page.locator("main").get_attribute("data-status") or ""

        # genuine (GS1, with product data)
        assert open_(w.path(0, gs1=True), "genuine") == "AUTHENTIC"
        assert page.locator("html").get_attribute("lang") == "vi"
        assert page.locator("h1").inner_text() == "Hàng chính hãng"
        assert page.locator("#gtin").inner_text() == "09521234543213"
        assert page.locator("#expiry").inner_text() == "31/12/2027"
        assert page.locator("#locate").is_visible()  # the script ran (CSP allows our own)
        # forged
        assert open_(forge(w.url(2, gs1=True)).removeprefix("https://xacthuc.example.vn"),
                     "forged") == "BAD_SIGNATURE"
        assert "KHÔNG" in page.locator("h1").inner_text()
        assert page.locator("#gtin").count() == 0 and page.locator("#claim-form").count() == 0
        # claimed (stamp 1 was claimed when the world was made)
        assert open_(w.path(1), "claimed") == "ALREADY_CLAIMED"
        # claim a fresh stamp through the form
        page.goto(root + w.path(16))
        page.get_by_label("Mã PIN (dưới lớp cào)").fill(str(w.plain.pins()[16]))
        page.locator("#claim-form button").click()
        page.wait_for_load_state()
        assert page.locator("#message").inner_text().startswith("Xác nhận thành công")
        page.screenshot(path=str(shots / "claim-ok.png"), full_page=True)
        # report a suspected fake, in English
        page.goto(root + w.path(17) + "?lang=en")
        assert page.locator("html").get_attribute("lang") == "en"
        page.get_by_label("What happened (where you bought it, price, anything odd)").fill(
            "Sold at half price at a market stall")
        page.locator("#report-form button").click()
        page.wait_for_load_state()
        assert page.locator("#message").inner_text().startswith("Thank you")
        page.screenshot(path=str(shots / "report-en.png"), full_page=True)
        # share the approximate location (consent given to the browser)
        page.goto(root + w.path(18))
        page.locator("#locate-form button").click()
        page.wait_for_url(re.compile(".*"))
        page.wait_for_selector("#message")
        page.goto(root + w.path(18))
        assert "Hà Nội" in page.locator("#scans").inner_text()
        # the typed-number lookup with a typo
        page.goto(root + "/abc/")
        number = str(w.plain.numbers()[0])
        page.get_by_label("Số tem").fill(number[:-1] + ("Z" if number[-1] != "Z" else "Y"))
        page.locator("form button").click()
        page.wait_for_selector("#message")
        assert "ký tự kiểm tra" in page.locator("#message").inner_text()
        page.screenshot(path=str(shots / "lookup-typo.png"), full_page=True)
        browser.close()
    assert not [e for e in errors if "Content Security Policy" in e], errors
    for name in ("genuine", "forged", "claimed", "claim-ok", "report-en", "lookup-typo"):
        assert (shots / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
