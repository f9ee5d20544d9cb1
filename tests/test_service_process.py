"""A real `antifake serve` process on a loopback port: every endpoint over HTTP, keys created
with `antifake apikey create`, and hostile bytes straight on the socket."""

from __future__ import annotations

import re
import socket
import subprocess
from pathlib import Path

import pytest

pytest.importorskip("uvicorn")
httpx = pytest.importorskip("httpx")

from service_world import (  # noqa: E402
    BASE,
    antifake_cmd,
    env,
    forge,
    make_world,
    stop_server,
)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    d: Path = tmp_path_factory.mktemp("serve")
    w = make_world(d)
    w.reg.close()
    made = subprocess.run([*antifake_cmd(), "apikey", "create", "market", "--db", str(w.db)],
                          env=env(), capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip()
    assert key.startswith("afk_") and "shown once" in made.stderr
    assert key not in (d / "stamps.db.apikeys").read_bytes().decode("latin-1")
    p = subprocess.Popen([*antifake_cmd(), "serve", "--db", str(w.db), "--key", str(w.key_file),
                          "--base", BASE, "--host", "127.0.0.1", "--port", "0"],
                         env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         stdin=subprocess.DEVNULL)
    line = p.stdout.readline().strip()
    assert re.fullmatch(r"listening on http://127\.0\.0\.1:\d+", line), (line, p.stderr.read())
    root = line.removeprefix("listening on ")
    yield w, root, key
    stop_server(p)


def test_every_endpoint_over_http(server) -> None:
    w, root, key = server
    with httpx.Client(base_url=root, timeout=30) as c:
        r = c.get(w.path(0))
        assert r.status_code == 200 and 'data-status="AUTHENTIC"' in r.text
        assert "content-security-policy" in r.headers and "server" not in r.headers
        r = c.get(w.path(1, gs1=True), headers={"Accept-Language": "en"})
        assert '<html lang="en">' in r.text and 'id="expiry">2027-12-31<' in r.text
        assert 'data-status="ALREADY_CLAIMED"' in c.get(w.path(1)).text
        r = c.post(w.path(13), data={"action": "claim", "pin": w.plain.pins()[13]})
        assert "Xác nhận thành công" in r.text
        r = c.post(w.path(13), data={"action": "report", "text": "two of these on one shelf"})
        assert r.status_code == 200
        assert c.get("/abc/lookup", params={"number": w.plain.numbers()[0]}).status_code == 303
        assert c.get("/api/v1/verify", params={"code": w.url(0)}).json()["status"] == "AUTHENTIC"
        r = c.post("/api/v1/verify", json={"codes": [w.url(0), w.url(13), forge(w.url(0))]})
        assert r.json()["statuses"][0] == "AUTHENTIC" and r.json()["statuses"][2] == "BAD_SIGNATURE"
        assert c.get("/api/v1/status", params={"code": w.url(13)}).json()["claim"] == "claimed"
        r = c.post("/api/v1/claim", json={"code": w.url(14), "pin": w.plain.pins()[14]})
        assert r.json()["ok"] is True
        r = c.post("/api/v1/complaints", json={"code": w.url(15), "text": "odd print"})
        assert r.status_code == 201
        body = {"seller": "MFR-01", "codes": [w.url(0), w.url(14)]}
        assert c.post("/api/v1/listings/check", json=body).status_code == 401
        r = c.post("/api/v1/listings/check", json=body, headers={"Authorization": f"Bearer {key}"})
        assert r.json()["ok"] == [True, False]
        assert c.get("/api/v1/checkpoint").status_code == 404
        r = c.get("/api/v1/evidence", params={"code": w.url(0)},
                  headers={"Authorization": f"Bearer {key}"})
        assert r.status_code == 404
        assert c.get("/healthz").json() == {"ok": True}
        doc = c.get("/openapi.json").json()
        assert "/api/v1/listings/check" in doc["paths"]
        assert c.get("/static/antifake/af.css").status_code == 200


def _raw(root: str, data: bytes) -> bytes:
    """Send raw bytes (the server may answer and close before it has read them all)."""
    host, port = root.removeprefix("http://").split(":")
    out = b""
    with socket.create_connection((host, int(port)), timeout=30) as s:
        try:
            for i in range(0, len(data), 1 << 16):
                s.sendall(data[i: i + (1 << 16)])
        except (BrokenPipeError, ConnectionResetError):
            pass
        try:
            while chunk := s.recv(65536):
                out += chunk
        except ConnectionResetError:
            pass
    return out


def test_hostile_bytes_on_the_socket(server) -> None:
    _, root, _ = server
    status = lambda raw: int(raw.split(b" ", 2)[1])  # noqa: E731
    # invalid UTF-8 and NUL in the path, percent-encoded and raw
    for path in (b"/abc/%ff%fe%00", b"/abc/\xff\xfe", b"/api/v1/verify?code=%ff%00",
                 b"/static/antifake/..%2f..%2f..%2fetc%2fpasswd", b"/../../etc/passwd"):
        out = _raw(root, b"GET " + path + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert 400 <= status(out) < 500 or (status(out) == 200 and b"data-status=" in out), \
            (path, out[:200])
        assert b"Traceback" not in out
    # a 10 MB body, declared
    big = b"A" * (10 * 1024 * 1024)
    out = _raw(root, b"POST /api/v1/complaints HTTP/1.1\r\nHost: x\r\nContent-Type: "
               b"application/json\r\nContent-Length: " + str(len(big)).encode()
               + b"\r\nConnection: close\r\n\r\n" + big)
    assert status(out) == 413
    # a 40 MB bulk body sent chunked (no Content-Length)
    chunk = b"B" * (1024 * 1024)
    body = b"".join(b"%x\r\n" % len(chunk) + chunk + b"\r\n" for _ in range(40)) + b"0\r\n\r\n"
    out = _raw(root, b"POST /api/v1/verify HTTP/1.1\r\nHost: x\r\nContent-Type: "
               b"application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
               + body)
    assert status(out) == 413
    # a huge header line: refused or ignored, never a crash
    out = _raw(root, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Big: "
               + b"h" * 200_000 + b"\r\n\r\n")
    assert out == b"" or status(out) < 500
    # the server is still up
    with httpx.Client(base_url=root, timeout=30) as c:
        assert c.get("/healthz").status_code == 200


def test_serve_workers_share_one_port(tmp_path: Path) -> None:
    w = make_world(tmp_path)
    w.reg.close()
    p = subprocess.Popen([*antifake_cmd(), "serve", "--db", str(w.db), "--key", str(w.key_file),
                          "--base", BASE, "--port", "0", "--workers", "2", "--client-rate", "0"],
                         env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         stdin=subprocess.DEVNULL)
    try:
        line = p.stdout.readline().strip()
        assert line.startswith("listening on http://127.0.0.1:"), (line, p.stderr.read())
        root = line.removeprefix("listening on ")
        with httpx.Client(base_url=root, timeout=30) as c:
            for _ in range(20):  # new connections land on either worker
                c.headers["Connection"] = "close"
                assert c.get("/api/v1/verify", params={"code": w.url(0)}).json()["status"] \
                    == "AUTHENTIC"
            r = c.post("/api/v1/claim", json={"code": w.url(9), "pin": w.plain.pins()[9]})
            assert r.json()["ok"] is True
            r = c.post("/api/v1/claim", json={"code": w.url(9), "pin": w.plain.pins()[9]})
            assert r.json()["result"] == "already_claimed"  # one registry behind both workers
        p.terminate()
        assert p.wait(timeout=20) == 0
        assert "Traceback" not in p.stderr.read()
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        p.stdout.close()
        p.stderr.close()
