"""The bulk endpoint answers, for every code, what the single endpoint answers: a mixed set of
genuine, claimed, recalled, sold, suspected, forged, unknown-key, never-issued and
never-registered codes, stamp numbers and odd texts, in plain and escaped JSON, with and
without the batches' manifests in the keyring."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import orjson
import pytest

import antifake as af
from antifake.detect import Alert
from antifake.service import Limits, create_app
from service_world import BASE, Client, forge

S = af.Status


def _world(d: Path, manifests: bool) -> tuple[af.Registry, list[str]]:
    key = af.IssuerKey.generate("VN-PARITY-01")
    other = af.IssuerKey.generate("VN-PARITY-02")  # not trusted
    ring = af.Keyring()
    ring.add(key)
    plain = af.issue(key, 12)
    gs1 = af.issue(key, 4, product=af.Product(gtin="09521234543213", lot="L1",
                                              expiry="2027-12-31"))
    unregistered = af.issue(key, 3)  # validly signed, never registered
    twin = af.issue(key, 3, batch_id=plain.manifest.batch_id)  # same numbers, other serials
    beyond = af.issue(key, 15, batch_id=plain.manifest.batch_id)  # indexes past the batch
    if manifests:
        ring.add_manifest(plain.manifest)
        ring.add_manifest(gs1.manifest)
    reg = af.Registry(d / "stamps.db", keyring=ring)
    reg.add_party("MFR-01", role="manufacturer")
    reg.register(plain, owner="MFR-01")
    reg.register(gs1, owner="MFR-01")
    urls = [str(u) for u in plain.urls(BASE)]
    assert reg.claim(urls[1], plain.pins()[1]).ok
    reg.decommission([plain[2]], reason="recalled", by="MFR-01")
    reg.decommission([plain[3]], reason="sold", by="MFR-01")
    reg.decommission([plain[4]], reason="stolen", by="MFR-01")
    reg.decommission([plain[5]], reason="destroyed", by="MFR-01")
    epc6 = reg.resolve(urls[6])
    reg.flag_suspected([Alert("over_scanned", [epc6], 0.9, ["e1"], "2026-01-01T00:00:00Z")])
    codes = urls + [str(u) for u in gs1.urls(BASE)]
    codes += [str(u) for u in unregistered.urls(BASE)] + [str(u) for u in twin.urls(BASE)]
    codes += [str(beyond.urls(BASE)[14])]
    codes += [str(u) for u in af.issue(other, 2).urls(BASE)]
    codes += [forge(urls[0]), forge(urls[1]), urls[0].lower(), urls[1].upper(),
              urls[2].removeprefix("https://"), " " + urls[7] + " ", "", "x", "é" + urls[0],
              urls[0] + "/" * 300, "\\" + urls[0], str(plain.numbers()[0])]
    return reg, codes


@pytest.mark.parametrize("manifests", [True, False])
def test_bulk_equals_single_on_a_mixed_set(tmp_path: Path, manifests: bool) -> None:
    reg, codes = _world(tmp_path, manifests)
    c = Client(create_app(registry=reg, limits=Limits(client=None, bulk_codes=None),
                          overlay_max_age=0.0))
    try:
        single = []
        for code in codes:
            r = c.get("/api/v1/verify", params={"code": code}) if code else None
            single.append(r.json()["status"] if r is not None else None)
        seen = {s for s in single if s}
        want = {"AUTHENTIC", "ALREADY_CLAIMED", "RECALLED", "STOLEN", "DECOMMISSIONED",
                "SUSPECTED_CLONE", "NOT_ISSUED", "UNKNOWN_KEY", "BAD_SIGNATURE", "MALFORMED"}
        assert want <= seen, want - seen
        for body in (orjson.dumps({"codes": codes}),  # plain JSON: read natively
                     orjson.dumps({"codes": codes, "x": 1}),  # read by orjson
                     orjson.dumps({"codes": codes}).replace(b'"https:', b'"\\u0068ttps:')):
            r = c.post("/api/v1/verify", content=body,
                       headers={"content-type": "application/json"})
            assert r.status_code == 200, r.text
            bulk = r.json()["statuses"]
            assert len(bulk) == len(codes)
            for code, s, b in zip(codes, single, bulk, strict=True):
                if s is not None:  # (the single endpoint refuses an empty code)
                    assert b == s, (code, s, b)
                else:
                    assert b == "MALFORMED"
        # the consumer page says the same as the single endpoint for the NOT_ISSUED ones
        ni = [code for code, s in zip(codes, single, strict=True) if s == "NOT_ISSUED"]
        assert ni
        for code in ni[:2]:
            r = c.get("/api/v1/verify?code=" + quote(code, safe=""))
            assert r.json()["status"] == "NOT_ISSUED"
    finally:
        c.close()
        reg.close()


def test_serve_keeps_freed_memory_on_glibc() -> None:
    """`antifake serve` has glibc keep freed large blocks (no page faults per bulk request)."""
    import platform
    import sys

    from antifake.service.serve import _keep_freed_memory

    if not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc":
        pytest.skip("glibc only")
    assert _keep_freed_memory() is True


def test_bulk_code_rate_limit_on_both_paths(tmp_path: Path) -> None:
    """The per-client budget of bulk codes is taken before any code is verified, on the
    native path and on the JSON-parser path alike."""
    from antifake.service import Limit

    reg, codes = _world(tmp_path, True)
    app = create_app(registry=reg, limits=Limits(client=None,
                                                 bulk_codes=Limit(burst=10, per_day=1)))
    c = Client(app)
    try:
        plain = orjson.dumps({"codes": codes[:6]})
        other = orjson.dumps({"codes": codes[:6], "x": 1})  # read by orjson
        post = [c.post("/api/v1/verify", content=b,
                       headers={"content-type": "application/json"}) for b in (plain, other)]
        assert [r.status_code for r in post] == [200, 429]
        assert post[1].json()["error"]["code"] == "rate_limited"
        assert "retry-after" in post[1].headers
        r = c.post("/api/v1/verify", content=orjson.dumps({"codes": codes[:4]}),
                   headers={"content-type": "application/json"})
        assert r.status_code == 200 and len(r.json()["statuses"]) == 4  # 6 + 4 = the burst
        r = c.post("/api/v1/verify", content=plain, headers={"content-type": "application/json"})
        assert r.status_code == 429
    finally:
        c.close()
        reg.close()
