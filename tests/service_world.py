"""A small world for the lookup-service tests: keys, two batches, a registry on disk with a
claimed, a recalled and a sold stamp, and an ASGI client (httpx, in process)."""

from __future__ import annotations

import asyncio
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

import antifake as af

BASE = "https://xacthuc.example.vn/abc"
HOST = "https://xacthuc.example.vn"
API_KEY = "k-marketplace-0123456789abcdef"


@dataclass
class World:
    dir: Path
    key: af.IssuerKey
    ring: af.Keyring
    reg: af.Registry
    plain: af.Batch
    gs1: af.Batch
    db: Path
    key_file: Path
    pub_file: Path

    def url(self, i: int, gs1: bool = False) -> str:
        return str((self.gs1 if gs1 else self.plain).urls(BASE)[i])

    def path(self, i: int, gs1: bool = False) -> str:
        return self.url(i, gs1).removeprefix(HOST)


def forge(url: str) -> str:
    """The URL with one signature character changed."""
    i = len(url) - 40
    return url[:i] + ("0" if url[i] != "0" else "1") + url[i + 1:]


def make_world(d: Path) -> World:
    """plain[0..] genuine; plain[1] claimed; plain[2] recalled; plain[3] sold."""
    key = af.IssuerKey.generate("VN-QLTT-01")
    ring = af.Keyring()
    ring.add(key)
    plain = af.issue(key, 20)
    gs1 = af.issue(key, 5, product=af.Product(gtin="09521234543213", lot="L23",
                                              expiry="2027-12-31"))
    db = d / "stamps.db"
    reg = af.Registry(db, keyring=ring)
    reg.add_party("MFR-01", role="manufacturer", region="VN-HN", lat=21.03, lon=105.85)
    reg.register(plain, owner="MFR-01")
    reg.register(gs1, owner="MFR-01")
    assert reg.claim(plain.urls(BASE)[1], plain.pins()[1]).ok
    reg.decommission([plain[2]], reason="recalled", by="MFR-01")
    reg.decommission([plain[3]], reason="sold", by="MFR-01")
    key_file, pub_file = d / "issuer.key", d / "issuer.pub.json"
    key.save(key_file)
    pub_file.write_text(key.public.to_json())
    return World(d, key, ring, reg, plain, gs1, db, key_file, pub_file)


class Client:
    """A synchronous face of ``httpx.AsyncClient`` over ``httpx.ASGITransport``."""

    def __init__(self, app: Any) -> None:
        self._loop = asyncio.new_event_loop()
        self._c = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=HOST)

    def request(self, method: str, url: str, **kw: Any) -> httpx.Response:
        return self._loop.run_until_complete(self._c.request(method, url, **kw))

    def get(self, url: str, **kw: Any) -> httpx.Response:
        return self.request("GET", url, **kw)

    def post(self, url: str, **kw: Any) -> httpx.Response:
        return self.request("POST", url, **kw)

    def close(self) -> None:
        self._loop.run_until_complete(self._c.aclose())
        self._loop.close()


def env() -> dict[str, str]:
    """Environment for subprocesses importing the antifake under test."""
    e = dict(os.environ)
    e["PYTHONPATH"] = str(Path(af.__file__).resolve().parents[1]) + os.pathsep \
        + e.get("PYTHONPATH", "")
    return e


def stop_server(p: Any, timeout: float = 15) -> int | None:
    """Stop an ``antifake serve`` process (SIGTERM, then SIGKILL) and close its pipes; its
    exit status when it stopped on the signal."""
    p.terminate()
    try:
        return p.wait(timeout=timeout)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        p.stdout.close()
        p.stderr.close()


def antifake_cmd() -> list[str]:
    return [sys.executable, "-m", "antifake.cli"]
