"""`create_app`: the lookup service as an ASGI application (Starlette)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs, unquote_plus, urlsplit

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from antifake.errors import AntifakeError
from antifake.issue import check_base_url
from antifake.service._common import ApiError, Limits, State, error_response, json_response
from antifake.service.api import ROUTES, one_code, verdict_json
from antifake.service.apikeys import ApiKeys, ApiKeyStore
from antifake.service.i18n import STRINGS, language
from antifake.service.openapi import openapi
from antifake.service.overlay import Overlay
from antifake.service.pages import STATIC, home, lookup, page_for_path, render
from antifake.trust import Keyring

__all__ = ["create_app", "CSP"]

log = logging.getLogger("antifake.service")

#: Content-Security-Policy of every answer: nothing from elsewhere, no inline code or style
CSP = ("default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; "
       "form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"permissions-policy", b"geolocation=(self), camera=(), microphone=()"),
    (b"cross-origin-opener-policy", b"same-origin"),
]


class _SecurityHeaders:
    """Adds the security headers (and ``Cache-Control: no-store`` unless static)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = scope.get("path", "").startswith(STATIC)

        async def send_with(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += _HEADERS
                if not static:
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with)


#: the headers of a fast single-code answer (the security headers included: it skips them)
_FAST_HEADERS = [(b"content-type", b"application/json"), *_HEADERS,
                 (b"cache-control", b"no-store")]


def _query_code(query: bytes) -> str | None:
    """The ``code`` parameter of a query string as `urllib.parse.parse_qs` reads it (the
    usual ``code=...`` alone read directly); ``ValueError`` / ``UnicodeDecodeError`` for a
    query it refuses."""
    if query.startswith(b"code=") and b"&" not in query and b";" not in query:
        return unquote_plus(query[5:].decode("latin-1"), errors="strict")
    q = parse_qs(query.decode("latin-1"), max_num_fields=10, errors="strict")
    return q.get("code", [None])[0]


class _FastVerify:
    """``GET /api/v1/verify`` without the router and the other middleware: the hot
    single-code path of apps and scanners (outermost, so it adds the security headers
    itself). Only a successful answer is made here; anything else (a bad code, a rate
    limit) goes through the full application, which answers it the same way as always."""

    def __init__(self, app: ASGIApp, state: State) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != "/api/v1/verify" \
                or scope["method"] != "GET":
            await self.app(scope, receive, send)
            return
        st = self.state
        try:
            code = one_code(_query_code(scope["query_string"]))
            if st.limits.client is not None:
                host = st.forwarded_for(scope) or (scope.get("client") or ("unknown",))[0]
                st.throttle(f"ip:{host}", st.limits.client)
        except (ApiError, UnicodeDecodeError, ValueError):
            await self.app(scope, receive, send)
            return
        body = verdict_json(st, code)
        await send({"type": "http.response.start", "status": 200,
                    "headers": [*_FAST_HEADERS, (b"content-length", b"%d" % len(body))]})
        await send({"type": "http.response.body", "body": body})


def _is_api(path: str) -> bool:
    return path.startswith(("/api/", "/openapi.json", "/healthz"))


def create_app(registry: Any = None, keyring: Keyring | None = None,
               base: str = "https://xacthuc.example.vn/abc",
               api_keys: Mapping[str, str] | None = None, *,
               apikey_store: ApiKeyStore | str | None = None, limits: Limits | None = None,
               scan_party: str = "consumer-web", proxy_headers: bool = False,
               overlay_max_age: float = 1.0) -> Starlette:
    """The lookup service for stamps whose QR URLs start with ``base``.

    ``registry``: an [`antifake.Registry`][antifake.registry.Registry] (None: verdicts
    from the keyring alone; no scans, claims, status or listing checks). ``keyring``: the
    trusted keys (default: the registry's). ``api_keys``: ``{client name: key}`` accepted on
    the marketplace and inspector endpoints, besides the keys of ``apikey_store`` (a path or
    an [`ApiKeyStore`][antifake.service.apikeys.ApiKeyStore], filled by ``antifake apikey
    create``). ``limits``: rate and size limits ([`Limits`][antifake.service.Limits]).
    ``scan_party``: the party id recorded on consumer scans, claims and complaints.
    ``proxy_headers``: take the client address from ``X-Forwarded-For`` (only behind a proxy
    that sets it). ``overlay_max_age``: seconds the bulk endpoint may answer from a cached
    copy of the registry's decommissioned / claimed / suspected stamps."""
    if keyring is None:
        keyring = getattr(registry, "keyring", None)
    if not isinstance(keyring, Keyring):
        raise AntifakeError("create_app needs keyring= (an antifake Keyring) or a registry")
    base = check_base_url(base)
    base_path = urlsplit(base).path.rstrip("/")
    store = ApiKeyStore(apikey_store) if isinstance(apikey_store, str) else apikey_store
    state = State(registry=registry, keyring=keyring, base=base, base_path=base_path,
                  keys=ApiKeys(api_keys, store), limits=limits or Limits(),
                  scan_party=scan_party, proxy_headers=proxy_headers,
                  overlay=Overlay(registry, overlay_max_age) if registry is not None else None)

    def bind(fn: Any) -> Any:
        async def endpoint(request: Request) -> Response:
            return await fn(request, state)
        endpoint.__name__ = fn.__name__
        endpoint.__doc__ = fn.__doc__
        return endpoint

    doc = openapi()

    async def openapi_json(request: Request) -> Response:
        return json_response(doc)

    async def catch_all(request: Request) -> Response:
        path = request.url.path
        prefix = base_path + "/"
        if path.lower() in (prefix + "lookup", "/lookup") and request.method == "GET":
            return await lookup(request, state)
        if path.lower().startswith(prefix.lower()) and len(path) > len(prefix):
            return await page_for_path(request, state, path[len(prefix):])
        if path in (prefix, "/") and request.method == "GET":
            return await home(request, state)
        raise ApiError(404, "not_found", "no such page")

    routes: list[Any] = [Route("/openapi.json", openapi_json, methods=["GET"])]
    by_path: dict[str, dict[str, Any]] = {}
    for path, method, fn in ROUTES:
        by_path.setdefault(path, {})[method] = bind(fn)
    for path, handlers in by_path.items():
        routes.append(Route(path, _dispatch(handlers), methods=list(handlers)))
    routes.append(Mount(STATIC, StaticFiles(packages=[("antifake.service", "static")])))
    routes.append(Route("/lookup", catch_all, methods=["GET"]))
    routes.append(Route("/", catch_all, methods=["GET"]))
    routes.append(Route("/{rest:path}", catch_all, methods=["GET", "POST"]))

    async def on_api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        if _is_api(request.url.path):
            return error_response(exc)
        lang = language(request.query_params.get("lang"),
                        request.headers.get("accept-language"))
        s = STRINGS[lang]
        title = s["slow_down"] if exc.status == 429 else (
            s["not_found"] if exc.status == 404 else exc.message)
        resp = render("error.html", request, http_status=exc.status, lang=lang, s=s,
                            title=title, message=exc.message, other_lang=lang,
                            other_url=request.url.path, lookup_url=base_path + "/")
        resp.headers.update(exc.headers)
        return resp

    async def on_http_error(request: Request, exc: Exception) -> Response:
        code = getattr(exc, "status_code", 400)
        detail = str(getattr(exc, "detail", "bad request"))[:200]
        name = {404: "not_found", 405: "method_not_allowed"}.get(code, "bad_request")
        return await on_api_error(request, ApiError(code, name, detail))

    async def on_antifake_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, AntifakeError)
        return await on_api_error(request, ApiError(400, type(exc).__name__.lower(),
                                                    str(exc)[:300]))

    async def on_crash(request: Request, exc: Exception) -> Response:
        log.error("internal error on %s %s: %s", request.method, request.url.path,
                  type(exc).__name__)
        return error_response(ApiError(500, "internal", "internal error"))

    from starlette.exceptions import HTTPException

    app = Starlette(routes=routes, exception_handlers={
        ApiError: on_api_error, HTTPException: on_http_error,
        AntifakeError: on_antifake_error, Exception: on_crash})
    app.state.antifake = state
    app.add_middleware(_SecurityHeaders)
    app.add_middleware(_FastVerify, state=state)  # outermost (the last added)
    return app


def _dispatch(handlers: dict[str, Any]) -> Any:
    if len(handlers) == 1:
        return next(iter(handlers.values()))

    async def endpoint(request: Request) -> Response:
        return await handlers[request.method](request)
    return endpoint
