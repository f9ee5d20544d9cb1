"""antifake.service in process (httpx's ASGI transport): the consumer page in every form a phone
produces, its forms, the typed-number lookup, the JSON API, OpenAPI, API keys, rate limits and
hostile input (always a clear 4xx, never a 500)."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from urllib.parse import quote

import pytest

pytest.importorskip("starlette")
pytest.importorskip("httpx")

import antifake as af  # noqa: E402
from antifake.registry import MAX_WRONG_PINS  # noqa: E402
from antifake.service import ApiKeyStore, Limit, Limits, RateLimiter, create_app  # noqa: E402
from antifake.service.i18n import language  # noqa: E402
from antifake.service.places import nearest_place  # noqa: E402
from service_world import API_KEY, BASE, Client, World, forge, make_world  # noqa: E402


@pytest.fixture
def world(tmp_path: Path):
    w = make_world(tmp_path)
    yield w
    w.reg.close()


def _client(w: World, **kw) -> Client:
    kw.setdefault("api_keys", {"market": API_KEY})
    return Client(create_app(registry=w.reg, base=BASE, **kw))


@pytest.fixture
def client(world: World):
    c = _client(world)
    yield c
    c.close()


def status_of(html: str) -> str:
    m = re.search(r'<main[^>]*data-status="([A-Z_]+)"', html)
    assert m, html[:500]
    return m.group(1)


def lang_of(html: str) -> str:
    m = re.search(r'<html lang="(\w+)">', html)
    assert m
    return m.group(1)


def message_of(html: str) -> str:
    m = re.search(r'id="message">([^<]*)<', html)
    return m.group(1) if m else ""


# ---------------------------------------------------------------------------------------
# the consumer page
# ---------------------------------------------------------------------------------------
def test_page_every_form_a_phone_produces(world: World, client: Client) -> None:
    url, gurl = world.url(0), world.url(1, gs1=True)
    cases = [
        world.path(0),                                    # as printed
        world.path(0).upper(),                            # upper-cased QR (alphanumeric mode)
        "/abc/" + quote(url, safe=""),                    # the whole URL, URL-encoded
        "/abc/" + quote(url.split("/abc/")[1], safe=""),  # the code, URL-encoded
        world.path(1, gs1=True),                          # GS1 Digital Link with s=
        "/abc/" + world.plain.numbers()[0],               # a typed stamp number
    ]
    for path in cases:
        r = client.get(path)
        assert r.status_code == 200, path
        assert status_of(r.text) == "AUTHENTIC", path
        assert lang_of(r.text) == "vi"
    r = client.get(world.path(1, gs1=True))
    assert 'id="gtin">09521234543213<' in r.text
    assert 'id="lot">L23<' in r.text
    assert 'id="expiry">31/12/2027<' in r.text  # a date, not the AI 17 "271231"
    assert "Hàng chính hãng" in r.text
    assert gurl  # keep the name used


def test_page_verdicts(world: World, client: Client) -> None:
    assert status_of(client.get(world.path(1)).text) == "ALREADY_CLAIMED"
    assert status_of(client.get(world.path(2)).text) == "RECALLED"
    assert status_of(client.get(world.path(3)).text) == "DECOMMISSIONED"
    forged = forge(world.url(0))
    r = client.get(forged.removeprefix("https://xacthuc.example.vn"))
    assert status_of(r.text) == "BAD_SIGNATURE"
    assert "KHÔNG phải hàng chính hãng" in r.text
    assert 'id="claim-form"' not in r.text  # nothing to claim on a forged code
    r = client.get("/abc/HELLO")
    assert status_of(r.text) == "MALFORMED"


def test_page_never_shows_forged_product_data(world: World, client: Client) -> None:
    # a forged GS1 URL claiming another GTIN, lot and expiry
    g = world.url(0, gs1=True).replace("/01/09521234543213/10/L23/", "/01/09506000134352/10/FAKE7/")
    r = client.get(g.removeprefix("https://xacthuc.example.vn"))
    assert status_of(r.text) != "AUTHENTIC"
    for text in ("09506000134352", "FAKE7", 'id="gtin"', 'id="expiry"', 'id="lot"'):
        assert text not in r.text.split('href=')[0] + r.text.split("</header>")[1], text


def test_page_language(world: World, client: Client) -> None:
    p = world.path(0)
    assert lang_of(client.get(p).text) == "vi"
    r = client.get(p, headers={"Accept-Language": "en-US,en;q=0.9"})
    assert lang_of(r.text) == "en" and "Genuine" in r.text
    assert lang_of(client.get(p, headers={"Accept-Language": "vi,en;q=0.5"}).text) == "vi"
    r = client.get(p + "&lang=en" if "?" in p else p + "?lang=en")
    assert lang_of(r.text) == "en" and status_of(r.text) == "AUTHENTIC"
    r = client.get(world.path(1, gs1=True) + "&lang=en")  # lang beside the GS1 s= parameter
    assert status_of(r.text) == "AUTHENTIC" and 'id="expiry">2027-12-31<' in r.text
    assert language(None, "fr, de;q=0.5") == "vi"
    assert language("en", "vi") == "en"


def test_page_records_scans_without_cookies(world: World, client: Client) -> None:
    n0 = world.reg.scans(world.url(4))[0]
    r = client.get(world.path(4))
    assert "set-cookie" not in r.headers
    assert world.reg.scans(world.url(4))[0] == n0 + 1
    r = client.get(world.path(4))
    assert re.search(r'id="scans">[^<]*2 lần', r.text)
    # a forged code records nothing
    before = world.reg.stats()["events"]
    client.get(forge(world.url(4)).removeprefix("https://xacthuc.example.vn"))
    assert world.reg.stats()["events"] == before


def test_page_location_shared_with_consent(world: World, client: Client) -> None:
    r = client.post(world.path(5), data={"action": "locate", "lat": "21.0285", "lon": "105.8542"})
    assert r.status_code == 200 and message_of(r.text)
    n, first, lat, lon = world.reg.scans(world.url(5))
    assert n == 1 and (lat, lon) == (21.0, 105.9)  # rounded: coarse on purpose
    assert nearest_place(lat, lon) == "Hà Nội"
    r = client.get(world.path(5))
    assert "gần Hà Nội" in r.text
    r = client.post(world.path(5), data={"action": "locate", "lat": "nan", "lon": "1"})
    assert r.status_code == 400


def test_page_headers_and_no_external_assets(world: World, client: Client) -> None:
    r = client.get(world.path(0))
    csp = r.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp
    assert r.headers["x-content-type-options"] == "nosniff"
    assert 'name="viewport"' in r.text
    assert not re.search(r'(src|href)="(https?:)?//', r.text)  # nothing from elsewhere
    assert "style=" not in r.text and "<style" not in r.text  # CSP allows no inline style
    for m in re.finditer(r'<input id="([\w-]+)"', r.text):
        assert f'for="{m.group(1)}"' in r.text  # every visible input is labelled
    css = client.get("/static/antifake/af.css")
    assert css.status_code == 200 and "text/css" in css.headers["content-type"]
    assert client.get("/static/antifake/geo.js").status_code == 200


# ---------------------------------------------------------------------------------------
# forms
# ---------------------------------------------------------------------------------------
def test_claim_form(world: World, client: Client) -> None:
    p = world.path(6)
    r = client.post(p, data={"action": "claim", "pin": "X12-SX1-2DH"})
    assert r.status_code == 200
    assert "không đúng" in message_of(r.text) or "nhập sai" in message_of(r.text)
    r = client.post(p, data={"action": "claim", "pin": world.plain.pins()[6]})
    assert message_of(r.text).startswith("Xác nhận thành công")
    assert world.reg.status(world.url(6)).claim == "claimed"
    r = client.post(p, data={"action": "claim", "pin": world.plain.pins()[6]},
                    headers={"Accept-Language": "en"})
    assert "claimed before" in message_of(r.text)
    assert status_of(r.text) == "ALREADY_CLAIMED"


def _wrong_pin(w: World, i: int) -> str:
    good = w.plain.pins()[i]
    for j in range(20):
        cand = w.plain.pins()[(i + 1 + j) % len(w.plain)]
        if cand != good:
            return str(cand)
    raise AssertionError


def test_claim_lockout_and_pin_rate_limit(world: World) -> None:
    c = _client(world, limits=Limits(pin=Limit(burst=7, per_day=10)))
    p = world.path(7)
    bad = _wrong_pin(world, 7)
    for _ in range(MAX_WRONG_PINS):
        assert c.post(p, data={"action": "claim", "pin": bad}).status_code == 200
    r = c.post(p, data={"action": "claim", "pin": world.plain.pins()[7]})
    assert "khóa" in message_of(r.text)  # locked: even the right PIN is refused
    assert world.reg.status(world.url(7)).claim == "locked"
    c.post(p, data={"action": "claim", "pin": bad})
    r = c.post(p, data={"action": "claim", "pin": bad})  # 8th attempt: the bucket is empty
    assert r.status_code == 429 and "retry-after" in r.headers
    c.close()


def test_report_form_is_an_event(world: World, client: Client, tmp_path: Path) -> None:
    r = client.post(world.path(8), data={"action": "report", "text": "bought at a street stall",
                                         "contact": "0912 345 678"})
    assert r.status_code == 200 and message_of(r.text).startswith("Cảm ơn")
    out = tmp_path / "out.jsonld"
    world.reg.export_epcis(out)
    doc = out.read_text()
    assert "af:complaining" in doc and "bought at a street stall" in doc
    epc = world.reg.resolve(world.url(8))
    g = world.reg.graph()
    assert len(g.history_ids(epc)) >= 2  # commissioning + the complaint
    r = client.post(world.path(8), data={"action": "report", "text": ""})
    assert r.status_code == 400


def test_lookup_form(world: World, client: Client) -> None:
    assert client.get("/abc/").status_code == 200
    number = world.plain.numbers()[9]
    r = client.get("/abc/lookup", params={"number": number})
    assert r.status_code == 303 and r.headers["location"].startswith("/abc/")
    assert status_of(client.get(r.headers["location"]).text) == "AUTHENTIC"
    typo = number[:-1] + ("Z" if number[-1] != "Z" else "Y")
    r = client.get("/abc/lookup", params={"number": typo})
    assert r.status_code == 400 and "ký tự kiểm tra" in message_of(r.text)
    r = client.get("/lookup", params={"number": typo, "lang": "en"})
    assert "check character" in message_of(r.text)
    r = client.get("/abc/lookup", params={"number": "hello"})
    assert r.status_code == 400 and "không phải" in message_of(r.text)


# ---------------------------------------------------------------------------------------
# the JSON API
# ---------------------------------------------------------------------------------------
def test_api_verify(world: World, client: Client) -> None:
    r = client.get("/api/v1/verify", params={"code": world.url(2, gs1=True)})
    body = r.json()
    assert body["status"] == "AUTHENTIC" and body["stamp"]["gtin"] == "09521234543213"
    assert body["stamp"]["expiry"] == "2027-12-31"
    body = client.get("/api/v1/verify", params={"code": forge(world.url(0))}).json()
    assert body == {"status": "BAD_SIGNATURE", "reason": body["reason"], "stamp": None}
    assert client.get("/api/v1/verify", params={"code": world.url(1)}).json()["status"] \
        == "ALREADY_CLAIMED"
    codes = [world.url(0), world.url(1), world.url(2), world.url(3), forge(world.url(0)),
             "junk", world.url(0, gs1=True), world.plain.numbers()[0]]
    r = client.post("/api/v1/verify", json={"codes": codes})
    assert r.json() == {"statuses": ["AUTHENTIC", "ALREADY_CLAIMED", "RECALLED",
                                     "DECOMMISSIONED", "BAD_SIGNATURE", "MALFORMED",
                                     "AUTHENTIC", "AUTHENTIC"]}
    assert client.post("/api/v1/verify", json={"codes": []}).json() == {"statuses": []}


def test_api_bulk_overlay_follows_the_registry(world: World) -> None:
    c = _client(world, overlay_max_age=0.0)
    assert c.post("/api/v1/verify", json={"codes": [world.url(10)]}).json()["statuses"] \
        == ["AUTHENTIC"]
    world.reg.claim(world.url(10), world.plain.pins()[10])
    assert c.post("/api/v1/verify", json={"codes": [world.url(10)]}).json()["statuses"] \
        == ["ALREADY_CLAIMED"]
    c.close()


def test_api_status_claim_complaints(world: World, client: Client) -> None:
    body = client.get("/api/v1/status", params={"code": world.url(2)}).json()
    assert body["state"] == "decommissioned" and body["reason"] == "recalled"
    assert "wrong_pins" not in body
    r = client.get("/api/v1/status", params={"code": forge(world.url(0))})
    assert r.status_code == 404 and r.json()["error"]["code"] == "unknown_stamp"
    r = client.post("/api/v1/claim", json={"code": world.url(11), "pin": world.plain.pins()[11]})
    assert r.json()["ok"] is True and r.json()["claim"] == "claimed"
    r = client.post("/api/v1/claim", json={"code": world.url(11), "pin": world.plain.pins()[11]})
    assert r.json()["ok"] is False and r.json()["result"] == "already_claimed"
    r = client.post("/api/v1/complaints", json={"code": world.url(12), "text": "fake box"})
    assert r.status_code == 201 and r.json()["event_id"].startswith("ni:///sha-256;")
    r = client.post("/api/v1/complaints", json={"code": world.url(12)})
    assert r.status_code == 400 and r.json()["error"]["code"] == "missing_field"


def test_api_listings_need_a_key(world: World, tmp_path: Path) -> None:
    store = ApiKeyStore(str(tmp_path / "keys.db"))
    stored = store.create("inspector")
    c = _client(world, apikey_store=store)
    body = {"seller": "MFR-01", "codes": [world.url(0), world.url(1), forge(world.url(0))]}
    r = c.post("/api/v1/listings/check", json=body)
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"
    r = c.post("/api/v1/listings/check", json=body, headers={"Authorization": "Bearer nope"})
    assert r.status_code == 401
    for key in (API_KEY, stored):
        r = c.post("/api/v1/listings/check", json=body, headers={"Authorization": f"Bearer {key}"})
        assert r.status_code == 200
        out = r.json()
        assert out["ok"] == [True, False, False]
        assert out["reasons"][0] == [] and "claimed" in out["reasons"][1]
        assert out["reasons"][2] == ["unknown_code"]
    assert store.revoke("inspector")
    r = c.post("/api/v1/listings/check", json=body, headers={"Authorization": f"Bearer {stored}"})
    assert r.status_code == 401
    c.close()


def test_api_evidence_without_log(world: World, client: Client) -> None:
    r = client.get("/api/v1/checkpoint")
    assert r.status_code == 404 and r.json()["error"]["code"] == "no_log"
    r = client.get("/api/v1/evidence", params={"code": world.url(0)},
                   headers={"Authorization": f"Bearer {API_KEY}"})
    assert r.status_code == 404


def test_api_evidence_and_checkpoint_with_a_log(tmp_path: Path) -> None:
    """A registry that keeps a log serves its checkpoint and evidence bundles, which verify
    offline with the log's verifier key."""
    w = make_world(tmp_path)
    w.reg.close()
    lk = af.LogKey.generate(name="registry.example.vn/antifake")
    reg = af.Registry(w.db, keyring=w.ring, log_key=lk)
    c = Client(create_app(registry=reg, base=BASE, api_keys={"market": API_KEY}))
    try:
        r = c.get("/api/v1/checkpoint")
        assert r.status_code == 200 and r.text.startswith("registry.example.vn/antifake\n")
        r = c.get("/api/v1/evidence", params={"code": w.url(1)})
        assert r.status_code == 401  # evidence needs an API key
        r = c.get("/api/v1/evidence", params={"code": w.url(1)},
                  headers={"Authorization": f"Bearer {API_KEY}"})
        assert r.status_code == 200
        bundle = r.json()
        assert bundle["format"] == "antifake-evidence/1"
        assert af.verify_evidence(bundle, lk.vkey).ok
        r = c.get("/api/v1/evidence", params={"code": forge(w.url(1))},
                  headers={"Authorization": f"Bearer {API_KEY}"})
        assert 400 <= r.status_code < 500
    finally:
        c.close()
        reg.close()


def test_openapi_names_every_route(world: World, client: Client) -> None:
    from starlette.routing import Route

    from antifake.service import app as app_mod

    doc = client.get("/openapi.json").json()
    assert doc["openapi"].startswith("3.")
    app = create_app(registry=world.reg, base=BASE)
    for route in app.routes:
        if isinstance(route, Route) and route.path != "/{rest:path}" and route.path != "/":
            assert route.path in doc["paths"], route.path
            for m in route.methods or ():
                if m != "HEAD":
                    assert m.lower() in doc["paths"][route.path], (route.path, m)
    for path, method, _ in __import__("antifake.service.api", fromlist=["ROUTES"]).ROUTES:
        assert method.lower() in doc["paths"][path]
    assert app_mod.CSP


def test_keyring_only_service(world: World) -> None:
    c = Client(create_app(keyring=af.Keyring([world.key.public]), base=BASE))
    r = c.get(world.path(1))
    assert status_of(r.text) == "AUTHENTIC"  # no registry: the signature verdict only
    assert 'id="claim-form"' not in r.text
    assert c.get("/api/v1/status", params={"code": world.url(0)}).json()["error"]["code"] \
        == "no_registry"
    c.close()
    with pytest.raises(af.AntifakeError):
        create_app(base=BASE)
    reg2 = af.Registry(world.db, keyring=af.Keyring([world.key.public]))
    c = Client(create_app(registry=reg2, base=BASE))
    r = c.get(world.path(0))
    assert status_of(r.text) == "AUTHENTIC" and 'id="report-form"' in r.text
    assert 'id="claim-form"' not in r.text  # public keys cannot check PINs
    c.close()
    reg2.close()


# ---------------------------------------------------------------------------------------
# hostile input
# ---------------------------------------------------------------------------------------
def test_hostile_input(world: World, client: Client) -> None:
    big = b'{"codes": ["' + b"A" * (33 * 1024 * 1024) + b'"]}'
    js = {"content-type": "application/json"}
    form = {"content-type": "application/x-www-form-urlencoded"}
    page, forged = world.path(0), forge(world.url(0)).removeprefix("https://xacthuc.example.vn")
    v, claim, compl = "/api/v1/verify", "/api/v1/claim", "/api/v1/complaints"
    cases = [
        ("POST", v, {"content": big, "headers": js}, 413),
        ("POST", v, {"content": b"\xff\xfe{", "headers": js}, 400),
        ("POST", v, {"content": b"[" * 100_000, "headers": js}, 400),
        ("POST", v, {"content": b"x" * (10 * 1024 * 1024), "headers": js}, 400),
        ("POST", v, {"json": {"codes": ["x"] * 100_001}}, 413),
        ("POST", v, {"json": {"codes": [1, None]}}, 400),
        ("POST", v, {"json": {"codes": "abc"}}, 400),
        ("POST", v, {"json": [1, 2]}, 400),
        ("POST", v, {"content": b"codes=1", "headers": {"content-type": "text/plain"}}, 415),
        ("GET", v, {"params": {"code": "abc\x00def"}}, 400),
        ("GET", v, {"params": {"code": "A" * 5000}}, 400),
        ("GET", v, {}, 400),
        ("POST", claim, {"json": {"code": world.url(0), "pin": "\x00" * 9}}, 400),
        ("POST", claim, {"json": {"code": world.url(0), "pin": 123}}, 400),
        ("POST", compl, {"json": {"code": world.url(0), "text": "x" * 10_000}}, 400),
        ("POST", compl, {"content": b"x" * (10 * 1024 * 1024), "headers": js}, 413),
        ("POST", page, {"content": b"action=claim&pin=\xff\xfe", "headers": form}, 400),
        ("POST", page, {"content": b"x" * (10 * 1024 * 1024), "headers": form}, 413),
        ("POST", page, {"data": {"action": "explode"}}, 400),
        ("POST", page, {"data": {"action": "report", "text": "a\x00b"}}, 400),
        ("POST", forged, {"data": {"action": "claim", "pin": "1"}}, 400),
        ("GET", "/static/antifake/../../../../etc/passwd", {}, 404),
        ("GET", "/static/antifake/%2e%2e/%2e%2e/app.py", {}, 404),
        ("GET", "/abc/" + "A" * 5000, {}, 400),
        ("GET", "/abc/%00", {}, 400),
        ("DELETE", v, {}, 405),
        ("GET", "/nothing/here", {}, 404),
    ]
    for method, path, kw, want in cases:
        r = client.request(method, path, **kw)
        assert r.status_code == want, (method, path[:60], r.status_code, r.text[:200])
        assert "Traceback" not in r.text
        if path.startswith("/api/"):
            err = r.json()["error"]
            assert set(err) == {"code", "message"} and err["message"]
    # path traversal inside a code is just an unknown code
    r = client.get("/abc/..%2F..%2Fetc%2Fpasswd")
    assert r.status_code == 200 and status_of(r.text) == "MALFORMED"


def test_client_rate_limit(world: World) -> None:
    c = _client(world, limits=Limits(client=Limit(burst=3, per_day=1)))
    codes = [c.get("/api/v1/verify", params={"code": world.url(0)}).status_code
             for _ in range(5)]
    assert codes == [200, 200, 200, 429, 429]
    r = c.get("/api/v1/verify", params={"code": world.url(0)})
    assert r.json()["error"]["code"] == "rate_limited" and int(r.headers["retry-after"]) > 0
    before = world.reg.stats()["events"]
    r = c.get(world.path(0))  # page views share the client's bucket (each records a scan)
    assert r.status_code == 429 and 'data-status="ERROR"' in r.text
    assert world.reg.stats()["events"] == before
    c.close()


def test_token_bucket() -> None:
    now = [0.0]
    rl = RateLimiter(max_keys=2, clock=lambda: now[0])
    lim = Limit(burst=2, per_day=86400)  # 1 token per second
    assert rl.take("a", lim) == 0 and rl.take("a", lim) == 0
    assert rl.take("a", lim) == pytest.approx(1.0)
    now[0] = 1.0
    assert rl.take("a", lim) == 0
    rl.take("b", lim)
    rl.take("c", lim)  # evicts "a" (least recently used)
    assert len(rl._buckets) == 2


def test_apikey_store(tmp_path: Path) -> None:
    path = tmp_path / "k.db"
    store = ApiKeyStore(str(path))
    key = store.create("shop")
    assert key.startswith("afk_") and len(key) > 40
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert key.encode() not in path.read_bytes()  # only its hash is stored
    assert store.client(key) == "shop" and store.client(key + "x") is None
    with pytest.raises(af.AntifakeError):
        store.create("shop")
    assert store.revoke("shop") and store.client(key) is None
    assert store.create("shop") != key
    with pytest.raises(af.AntifakeError):
        store.create("bad\nname")
    store.close()


# ---------------------------------------------------------------------------------------
# the registry hooks the service reads, on both backends
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_registry_scans_and_overlay(backend: str, tmp_path: Path) -> None:
    import pg_server
    from antifake.epcis.events import Event
    from antifake.storage import Suspicion

    if backend == "sqlite":
        where: Path | str = tmp_path / "r.db"
    else:
        where = pg_server.fresh_schema_url(pg_server.require_pg_url())
    key = af.IssuerKey.generate("VN-QLTT-01")
    ring = af.Keyring()
    ring.add(key)
    batch = af.issue(key, 6)
    reg = af.Registry(where, keyring=ring)
    try:
        reg.add_party("MFR-01", role="manufacturer")
        reg.register(batch, owner="MFR-01")
        urls = batch.urls(BASE)
        assert reg.scans(urls[0]) == (0, None, None, None)
        reg.record(Event.scan(batch[0].epc, by="web", at="2027-01-01T00:00:00Z"))
        reg.record(Event.scan(batch[0].epc, by="web", at="2027-01-02T00:00:00Z", lat=10.8,
                              lon=106.7))
        reg.record(Event.scan(batch[1].epc, by="web", at="2027-01-03T00:00:00Z"))
        n, first, lat, lon = reg.scans(urls[0])
        assert n == 2 and first.isoformat().startswith("2027-01-01") and (lat, lon) == (10.8, 106.7)
        assert reg.scans(urls[1])[0] == 1
        reg.claim(urls[1], batch.pins()[1])
        reg.decommission([batch[2]], reason="recalled", by="MFR-01")
        reg.decommission([batch[3]], reason="sold", by="MFR-01")
        node = reg.storage.node_by_key(batch[4].epc)
        with reg.storage.transaction():
            reg.storage.put_suspicions([Suspicion(node, "impossible_travel", 0.9, 0, "[]")])
        rows = sorted(tuple(r) for r in reg.storage.overlay_rows())
        kid = key.key_id
        assert [(r[0], r[2]) for r in rows] == [(kid, 1), (kid, 2), (kid, 3), (kid, 4)]
        assert [r[6] for r in rows] == [0, 0, 0, 1]
        from antifake.service.overlay import Overlay

        res = af.verify_many(urls, ring)
        st = Overlay(reg, max_age=0).apply(res)
        assert [af.Status(s).name for s in st] == [
            "AUTHENTIC", "ALREADY_CLAIMED", "RECALLED", "DECOMMISSIONED", "SUSPECTED_CLONE",
            "AUTHENTIC"]
        assert [af.Status(s).name for s in st] == [reg.verify(u).status.name for u in urls]
    finally:
        reg.close()
        if backend != "sqlite":
            pg_server.drop_schema(str(where))
