"""What the page and API routes share: the service state, JSON and form bodies, errors."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import Response

from antifake.errors import AntifakeError
from antifake.service.apikeys import ApiKeys
from antifake.service.ratelimit import Limit, RateLimiter
from antifake.trust import Keyring
from antifake.verify import Status

_orjson: Any
try:
    import orjson as _orjson
except ImportError:  # pragma: no cover - orjson is part of the service extra
    _orjson = None

__all__ = ["ApiError", "Limits", "State", "json_response", "read_form", "read_json"]

#: statuses whose stamp passed the signature (or tag) check: its product data is true
TRUSTED = frozenset({Status.AUTHENTIC, Status.ALREADY_CLAIMED, Status.SUSPECTED_CLONE,
                     Status.DECOMMISSIONED, Status.RECALLED, Status.STOLEN})


class ApiError(Exception):
    """An answer with a 4xx status and ``{"error": {"code": ..., "message": ...}}``."""

    def __init__(self, status: int, code: str, message: str,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = headers or {}


@dataclass(frozen=True)
class Limits:
    """Rate limits and size limits of a service (each per process).

    ``client``: requests per client address (API and pages); ``bulk_codes``: codes per
    client through the bulk endpoints; ``pin``: claim attempts per stamp; ``report``:
    complaints per client. ``max_body``: bytes of a bulk request; ``max_form``: bytes of any
    other request; ``max_codes``: codes in one bulk request. ``None`` for a rate limit
    disables it."""

    client: Limit | None = Limit(burst=600, per_day=600 * 86400 / 10)  # 60/s sustained
    bulk_codes: Limit | None = Limit(burst=1_000_000, per_day=100_000 * 86400)
    pin: Limit | None = Limit(burst=5, per_day=10)
    report: Limit | None = Limit(burst=5, per_day=20)
    max_body: int = 32 * 1024 * 1024
    max_form: int = 64 * 1024
    max_codes: int = 100_000


@dataclass
class State:
    """Everything a request handler needs (``app.state.antifake``)."""

    registry: Any
    keyring: Keyring
    base: str  # without trailing slash
    base_path: str  # path of base, e.g. "/abc" ("" for the root)
    keys: ApiKeys
    limits: Limits
    scan_party: str
    proxy_headers: bool
    limiter: RateLimiter = field(default_factory=RateLimiter)
    overlay: Any = None  # antifake.service.overlay.Overlay when there is a registry

    def client(self, request: Request) -> str:
        """The client's address (the first X-Forwarded-For hop behind a trusted proxy)."""
        return self.forwarded_for(request.scope) or (
            request.client.host if request.client else "unknown")

    def forwarded_for(self, scope: Any) -> str | None:
        """The first X-Forwarded-For hop of a request, when proxy headers are trusted."""
        if not self.proxy_headers:
            return None
        for k, v in scope.get("headers", ()):
            if k == b"x-forwarded-for":
                return str(v.decode("latin-1").split(",")[0].strip()[:64]) or None
        return None

    def throttle(self, key: str, limit: Limit | None, cost: float = 1.0) -> None:
        """Raise a 429 `ApiError` when ``key``'s bucket is empty."""
        if limit is None:
            return
        wait = self.limiter.take(key, limit, cost)
        if wait > 0:
            retry = str(max(1, int(min(wait, 86400) + 0.999)))
            raise ApiError(429, "rate_limited", f"too many requests; retry in {retry} s",
                           {"Retry-After": retry})

    def need_registry(self) -> Any:
        if self.registry is None:
            raise ApiError(404, "no_registry", "this service has no registry")
        return self.registry


def dumps(obj: Any) -> bytes:
    if _orjson is not None:
        return bytes(_orjson.dumps(obj))
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def json_response(obj: Any, status: int = 200, headers: dict[str, str] | None = None
                  ) -> Response:
    return Response(dumps(obj), status_code=status, headers=headers,
                    media_type="application/json")


def error_response(exc: ApiError) -> Response:
    return json_response({"error": {"code": exc.code, "message": exc.message}}, exc.status,
                         exc.headers)


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused with 413 beyond ``limit`` bytes (before reading it all)."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise ApiError(400, "bad_request", "Content-Length is not a number")
        if int(declared) > limit:
            raise ApiError(413, "too_large", f"request body over {limit} bytes")
    chunks, n = [], 0
    async for chunk in request.stream():
        n += len(chunk)
        if n > limit:
            raise ApiError(413, "too_large", f"request body over {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def read_json_body(request: Request, limit: int) -> bytes:
    """The bytes of a JSON body (415 for another content type, 413 beyond ``limit``)."""
    ctype = request.headers.get("content-type", "application/json").split(";")[0].strip()
    if ctype not in ("application/json", ""):
        raise ApiError(415, "unsupported_media_type", "send application/json")
    return await read_body(request, limit)


async def read_json(request: Request, limit: int) -> Any:
    """A JSON object body (400 for anything else)."""
    return parse_json(await read_json_body(request, limit))


def parse_json(body: bytes) -> Any:
    """A JSON object from bytes (400 for anything else)."""
    try:
        data = _orjson.loads(body) if _orjson is not None else json.loads(body)
    except (ValueError, RecursionError):
        raise ApiError(400, "bad_json", "the body is not valid UTF-8 JSON") from None
    if not isinstance(data, dict):
        raise ApiError(400, "bad_json", "the body must be a JSON object")
    return data


async def read_form(request: Request, limit: int) -> dict[str, str]:
    """An ``application/x-www-form-urlencoded`` body (first value of each field)."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip()
    if ctype != "application/x-www-form-urlencoded":
        raise ApiError(415, "unsupported_media_type", "send an HTML form (urlencoded)")
    body = await read_body(request, limit)
    try:
        text = body.decode("utf-8")
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=False,
                          max_num_fields=20, errors="strict")
    except (UnicodeDecodeError, ValueError):
        raise ApiError(400, "bad_form", "the form is not valid UTF-8 form data") from None
    out: dict[str, str] = {}
    for k, v in pairs:
        out.setdefault(k, v)
    return out


def text_field(data: dict[str, Any], name: str, max_len: int, required: bool = True
               ) -> str | None:
    """A string field: 400 when missing (if required), not a string, too long or holding
    NUL or other control characters."""
    v = data.get(name)
    if v is None or v == "":
        if required:
            raise ApiError(400, "missing_field", f"field {name!r} is required")
        return None
    if not isinstance(v, str):
        raise ApiError(400, "bad_field", f"field {name!r} must be a string")
    if len(v) > max_len:
        raise ApiError(400, "bad_field", f"field {name!r} is over {max_len} characters")
    if any(ord(c) < 32 and c not in "\r\n\t" for c in v):
        raise ApiError(400, "bad_field", f"field {name!r} holds control characters")
    return v


def antifake_error(exc: AntifakeError) -> ApiError:
    """A 400 for an antifake exception raised by bad input (its message holds no secret)."""
    return ApiError(400, type(exc).__name__.lower(), str(exc)[:300])
