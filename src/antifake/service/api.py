"""The JSON API under ``/api/v1``: verify (one code or up to 100,000 at once), stamp status,
claim, marketplace listing checks, complaints, and the evidence log when the registry keeps one.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from antifake._core import statuses_json
from antifake.errors import AntifakeError, UnknownStampError
from antifake.service._common import (
    TRUSTED,
    ApiError,
    State,
    antifake_error,
    dumps,
    json_response,
    parse_json,
    read_json,
    read_json_body,
    text_field,
)
from antifake.service.complaints import record_complaint
from antifake.verify import Status, Verdict, verify, verify_json_codes, verify_many

__all__ = ["ROUTES"]

MAX_CODE = 2048
_NAMES = tuple(s.name.encode() for s in Status)


def _iso(t: datetime | None) -> str | None:
    return None if t is None else t.isoformat()


def stamp_json(v: Verdict) -> dict[str, Any] | None:
    """The stamp of a verdict; product data only when its signature (or tag) verified."""
    s = v.stamp
    if s is None or v.status not in TRUSTED:
        return None
    out: dict[str, Any] = {"issuer": s.issuer, "key_id": s.key_id, "batch_id": s.batch_id,
                           "index": s.index, "epc": s.epc, "gtin": None, "lot": None,
                           "expiry": None}
    if s.product is not None:
        out["gtin"], out["lot"] = s.product.gtin, s.product.lot
        try:
            exp = s.product.expiry  # a datetime.date
        except AntifakeError:
            exp = None
        out["expiry"] = exp.isoformat() if exp is not None else None
    return out


def one_code(value: Any, name: str = "code") -> str:
    if not isinstance(value, str) or not value:
        raise ApiError(400, "missing_field", f"{name!r} must be a non-empty string")
    if len(value) > MAX_CODE:
        raise ApiError(400, "bad_field", f"{name!r} is over {MAX_CODE} characters")
    if "\x00" in value:
        raise ApiError(400, "bad_field", f"{name!r} holds a NUL character")
    return value


def _codes(state: State, data: dict[str, Any]) -> list[str]:
    codes = data.get("codes")
    if not isinstance(codes, list):
        raise ApiError(400, "missing_field", "'codes' must be an array of strings")
    if len(codes) > state.limits.max_codes:
        raise ApiError(413, "too_many_codes",
                       f"{len(codes)} codes; at most {state.limits.max_codes} per request")
    if not all(type(c) is str for c in codes):
        raise ApiError(400, "bad_field", "'codes' must hold strings only")
    return codes


def _verdict(state: State, code: str) -> Verdict:
    reg = state.registry
    return reg.verify(code) if reg is not None else verify(code, state.keyring)


async def verify_get(request: Request, state: State) -> Response:
    """GET /api/v1/verify?code=..."""
    state.throttle(f"ip:{state.client(request)}", state.limits.client)
    code = one_code(request.query_params.get("code"))
    return Response(verdict_json(state, code), media_type="application/json")


def verdict_json(state: State, code: str) -> bytes:
    """The JSON answer of ``GET /api/v1/verify`` for one code (computed inline: a signature
    check and a few indexed reads take microseconds)."""
    v = _verdict(state, code)
    return dumps({"status": v.status.name, "reason": v.reason, "stamp": stamp_json(v)})


def _bulk(state: State, client: str, body: bytes) -> bytes:
    """The answer of the bulk endpoint: the codes read in place when the body is plain JSON
    (the usual case), else through the JSON parser; statuses joined natively."""
    ring = state.registry.keyring if state.registry is not None else state.keyring

    def take(n: int) -> None:  # before any code is verified
        state.throttle(f"bulk:{client}", state.limits.bulk_codes, max(1, n))

    res = verify_json_codes(body, ring, state.limits.max_codes, on_count=take)
    if res is None:  # escapes, non-ASCII, other keys, bad JSON, too many codes
        codes = _codes(state, parse_json(body))
        take(len(codes))
        res = verify_many(codes, ring)
    status = state.overlay.apply(res, ring) if state.overlay is not None else res.status
    return statuses_json(status, _NAMES)


async def verify_post(request: Request, state: State) -> Response:
    """POST /api/v1/verify {"codes": [...]}: statuses in input order."""
    client = state.client(request)
    state.throttle(f"ip:{client}", state.limits.client)
    body = await read_json_body(request, state.limits.max_body)
    out = await asyncio.to_thread(_bulk, state, client, body)
    return Response(out, media_type="application/json")


def _status(state: State, code: str) -> dict[str, Any]:
    reg = state.need_registry()
    try:
        st = reg.status(code)
    except UnknownStampError as e:
        raise ApiError(404, "unknown_stamp", str(e)[:300]) from None
    return {"epc": st.epc, "state": st.state, "reason": st.reason, "since": _iso(st.since),
            "claim": st.claim, "claimed_at": _iso(st.claimed_at),
            "registered": st.registered, "suspected": st.suspected,
            "last_event_id": st.last_event_id,
            "last_event_time": _iso(st.last_event_time)}


async def status_get(request: Request, state: State) -> Response:
    """GET /api/v1/status?code=...: lifecycle and claim state (no secrets, no PIN counts)."""
    state.throttle(f"ip:{state.client(request)}", state.limits.client)
    code = one_code(request.query_params.get("code"))
    return json_response(await asyncio.to_thread(_status, state, code))


def _claim(state: State, code: str, pin: str) -> dict[str, Any]:
    reg = state.need_registry()
    try:
        epc = reg.resolve(code)
    except UnknownStampError as e:
        raise ApiError(404, "unknown_stamp", str(e)[:300]) from None
    state.throttle(f"pin:{epc}", state.limits.pin)
    try:
        r = reg.claim(epc, pin, by=state.scan_party)
    except AntifakeError as e:
        raise antifake_error(e) from None
    return {"ok": r.ok, "result": r.result, "status": r.status.name, "reason": r.reason,
            "claim": r.claim, "attempts_left": r.attempts_left,
            "claimed_at": _iso(r.claimed_at), "event_id": r.event_id}


async def claim_post(request: Request, state: State) -> Response:
    """POST /api/v1/claim {"code": ..., "pin": ...}: first correct PIN wins."""
    state.throttle(f"ip:{state.client(request)}", state.limits.client)
    data = await read_json(request, state.limits.max_form)
    code = one_code(data.get("code"))
    pin = text_field(data, "pin", 64) or ""
    return json_response(await asyncio.to_thread(_claim, state, code, pin))


def _api_client(request: Request, state: State) -> str:
    auth = request.headers.get("authorization", "")
    scheme, _, key = auth.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise ApiError(401, "unauthorized", "this endpoint needs 'Authorization: Bearer <key>'",
                       {"WWW-Authenticate": "Bearer"})
    name = state.keys.client(key.strip()) if state.keys else None
    if name is None:
        raise ApiError(401, "unauthorized", "unknown or revoked API key",
                       {"WWW-Authenticate": "Bearer"})
    return name


def _listings(state: State, seller: str, codes: list[str]) -> dict[str, Any]:
    from antifake.detect import check_listings, listing_reasons

    reg = state.need_registry()
    if not codes:
        return {"ok": [], "reasons": []}
    try:
        res = check_listings(reg, codes, seller)
    except AntifakeError as e:
        raise antifake_error(e) from None
    flags, reason = res.flags.tolist(), res.reason.tolist()
    return {"ok": res.ok.tolist(),
            "reasons": [listing_reasons(f, r) if f else []
                        for f, r in zip(flags, reason, strict=True)]}


async def listings_post(request: Request, state: State) -> Response:
    """POST /api/v1/listings/check {"seller": ..., "codes": [...]} (API key)."""
    client = _api_client(request, state)
    state.throttle(f"key:{client}", state.limits.client)
    data = await read_json(request, state.limits.max_body)
    seller = text_field(data, "seller", 200) or ""
    codes = _codes(state, data)
    state.throttle(f"bulk:{client}", state.limits.bulk_codes, max(1, len(codes)))
    return json_response(await asyncio.to_thread(_listings, state, seller, codes))


def _complaint(state: State, code: str, text: str, contact: str | None) -> dict[str, Any]:
    reg = state.need_registry()
    try:
        epc = reg.resolve(code)
    except UnknownStampError as e:
        raise ApiError(404, "unknown_stamp", str(e)[:300]) from None
    return {"event_id": record_complaint(state, epc, text, contact), "epc": epc}


async def complaints_post(request: Request, state: State) -> Response:
    """POST /api/v1/complaints {"code", "text", "contact"?}: stored as an event."""
    client = state.client(request)
    state.throttle(f"report:{client}", state.limits.report)
    data = await read_json(request, state.limits.max_form)
    code = one_code(data.get("code"))
    text = text_field(data, "text", 2000) or ""
    contact = text_field(data, "contact", 200, required=False)
    out = await asyncio.to_thread(_complaint, state, code, text, contact)
    return json_response(out, 201)


def _log(state: State) -> Any:
    reg = state.need_registry()
    if not reg.keeps_log:
        raise ApiError(404, "no_log", "this registry keeps no transparency log")
    return reg, reg.log


async def evidence_get(request: Request, state: State) -> Response:
    """GET /api/v1/evidence?code=... (API key): the stamp's evidence bundle."""
    client = _api_client(request, state)
    state.throttle(f"key:{client}", state.limits.client)
    code = one_code(request.query_params.get("code"))

    def run() -> Any:
        reg, _ = _log(state)
        try:
            return reg.evidence(code)
        except UnknownStampError as e:
            raise ApiError(404, "unknown_stamp", str(e)[:300]) from None

    return json_response(await asyncio.to_thread(run))


async def checkpoint_get(request: Request, state: State) -> Response:
    """GET /api/v1/checkpoint: the latest signed checkpoint (text/plain)."""
    state.throttle(f"ip:{state.client(request)}", state.limits.client)
    _, log = _log(state)
    text = await asyncio.to_thread(log.checkpoint)
    return Response(str(text), media_type="text/plain; charset=utf-8")


async def health_get(request: Request, state: State) -> Response:
    """GET /healthz."""
    return json_response({"ok": True})


#: (path, method, handler, summary): the API routes, also read by the OpenAPI document
ROUTES = (
    ("/api/v1/verify", "GET", verify_get),
    ("/api/v1/verify", "POST", verify_post),
    ("/api/v1/status", "GET", status_get),
    ("/api/v1/claim", "POST", claim_post),
    ("/api/v1/listings/check", "POST", listings_post),
    ("/api/v1/complaints", "POST", complaints_post),
    ("/api/v1/evidence", "GET", evidence_get),
    ("/api/v1/checkpoint", "GET", checkpoint_get),
    ("/healthz", "GET", health_get),
)
