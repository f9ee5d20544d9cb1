"""The consumer pages: the stamp page at ``<path of base>/<code>``, its claim, report and
location forms, and the typed stamp-number lookup (server-rendered, no cookies, no JS needed).
"""

from __future__ import annotations

import asyncio
import math
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from antifake import codes as C
from antifake.epcis.events import Event
from antifake.errors import AntifakeError, UnknownStampError
from antifake.service._common import TRUSTED, ApiError, State, read_form, text_field
from antifake.service.complaints import record_complaint
from antifake.service.i18n import STRINGS, language, verdict
from antifake.service.places import nearest_place
from antifake.verify import Status, Verdict, verify

__all__ = ["page_for_path", "home", "lookup", "render"]

_env = Environment(loader=PackageLoader("antifake.service", "templates"),
                   autoescape=select_autoescape(default=True, default_for_string=True),
                   trim_blocks=True, lstrip_blocks=True)
_UI_PARAMS = ("lang",)
MAX_CODE = 2048


STATIC = "/static/antifake"


def render(name: str, request: Request, http_status: int = 200, **ctx: Any) -> HTMLResponse:
    """A template rendered with the static-file prefix of this app."""
    static = request.scope.get("root_path", "") + STATIC
    html = _env.get_template(name).render(static=static, **ctx)
    return HTMLResponse(html, status_code=http_status)


def _lang(request: Request) -> str:
    return language(request.query_params.get("lang"), request.headers.get("accept-language"))


def _ago(t: datetime, now: datetime, lang: str) -> str:
    s = max(0.0, (now - t).total_seconds())
    units = ((86400, "ngày", "day"), (3600, "giờ", "hour"), (60, "phút", "minute"))
    for size, vi, en in units:
        if s >= size:
            n = int(s // size)
            return f"{n} {vi} trước" if lang == "vi" else f"{n} {en}{'s' if n > 1 else ''} ago"
    return "vừa xong" if lang == "vi" else "just now"


def _code_text(state: State, rest: str, query: str) -> str:
    """The text a phone opened: the base's origin + path (+ the query without UI params)."""
    kept = [p for p in query.split("&") if p and p.split("=", 1)[0] not in _UI_PARAMS]
    q = ("?" + "&".join(kept)) if kept else ""
    if "://" in rest:  # the whole QR URL, URL-encoded into the path
        return rest + q
    u = urlsplit(state.base)
    return f"{u.scheme}://{u.netloc}{state.base_path}/{rest}{q}"


def _view(state: State, text: str) -> Verdict:
    reg = state.registry
    return reg.verify(text) if reg is not None else verify(text, state.keyring)


def _stamp_info(state: State, v: Verdict, lang: str) -> dict[str, Any] | None:
    """Product and issuer data, only from a stamp whose signature (or tag) verified."""
    s = v.stamp
    if s is None or v.status not in TRUSTED:
        return None
    out: dict[str, Any] = {"issuer": s.issuer, "batch": f"{s.key_id}/{s.batch_id}"}
    if s.product is not None:
        out["gtin"] = s.product.gtin
        out["lot"] = s.product.lot
        if s.product.expiry_ai17:
            try:
                d = s.product.expiry  # a datetime.date
            except AntifakeError:
                d = None
            if d is not None:
                out["expiry"] = d.strftime("%d/%m/%Y") if lang == "vi" else d.isoformat()
            else:
                out["expiry"] = s.product.expiry_ai17
    return out


def _record_scan(state: State, epc: str, lat: float | None, lon: float | None) -> None:
    state.registry.record(Event.scan(epc, by=state.scan_party, at=datetime.now(UTC),
                                     lat=lat, lon=lon))


def _scans(state: State, epc: str, lang: str) -> str | None:
    s = STRINGS[lang]
    n, first, lat, lon = state.registry.scans(epc)
    if n <= 1 or first is None:
        return s["scans_none"]
    place = nearest_place(lat, lon)
    where = s["where"].format(place=place) if place else ""
    return s["scans"].format(n=n, when=_ago(first, datetime.now(UTC), lang), where=where)


def _epc(state: State, v: Verdict) -> str | None:
    if state.registry is None or v.stamp is None or v.status not in TRUSTED:
        return None
    try:
        return str(state.registry.resolve(v.stamp))
    except UnknownStampError:
        return None


def _checks_pins(state: State, v: Verdict) -> bool:
    """Whether the keyring holds the secret key that checks this stamp's PIN."""
    s = v.stamp
    return s is not None and state.keyring.by_short_id(C.short_key_id(s.key_id)) is not None


def _coord(form: dict[str, str], name: str, bound: float) -> float | None:
    raw = form.get(name, "")
    try:
        x = float(raw)
    except ValueError:
        return None
    if not math.isfinite(x) or abs(x) > bound:
        return None
    return round(x, 1)  # about 10 km: coarse on purpose


async def page_for_path(request: Request, state: State, rest: str) -> Response:
    """GET shows the stamp (and records a scan); POST runs the claim / report / locate form."""
    if len(rest) > MAX_CODE or "\x00" in rest:
        raise ApiError(400, "bad_code", "not a stamp code")
    state.throttle(f"ip:{state.client(request)}", state.limits.client)  # views record scans
    lang = _lang(request)
    text = _code_text(state, rest, request.url.query)
    v = await asyncio.to_thread(_view, state, text)
    epc = await asyncio.to_thread(_epc, state, v)
    message: tuple[str, str] | None = None  # (tone, text)
    claimed = False
    s = STRINGS[lang]
    if request.method == "POST":
        form = await read_form(request, state.limits.max_form)
        action = form.get("action")
        if epc is None:
            raise ApiError(400, "not_a_stamp", "forms need a stamp this registry holds")
        if action == "claim":
            pin = text_field(form, "pin", 64) or ""
            state.throttle(f"pin:{epc}", state.limits.pin)
            res = await asyncio.to_thread(state.registry.claim, epc, pin,
                                          by=state.scan_party)
            message = _claim_message(res, lang)
            claimed = bool(res.ok)
            if not res.ok:  # a successful claim keeps the page's verdict: the buyer's own
                v = await asyncio.to_thread(_view, state, text)
        elif action == "report":
            state.throttle(f"report:{state.client(request)}", state.limits.report)
            body = text_field(form, "text", 2000) or ""
            contact = text_field(form, "contact", 200, required=False)
            await asyncio.to_thread(record_complaint, state, epc, body, contact)
            message = ("good", s["report_done"])
        elif action == "locate":
            lat, lon = _coord(form, "lat", 90.0), _coord(form, "lon", 180.0)
            if lat is None or lon is None:
                raise ApiError(400, "bad_location", "lat and lon must be numbers")
            await asyncio.to_thread(_record_scan, state, epc, lat, lon)
            message = ("good", s["location_done"])
        else:
            raise ApiError(400, "bad_form", "unknown form action")
    elif epc is not None:
        await asyncio.to_thread(_record_scan, state, epc, None, None)
    scans = await asyncio.to_thread(_scans, state, epc, lang) if epc is not None else None
    tone, headline, advice = verdict(v.status, lang)
    other = "en" if lang == "vi" else "vi"
    return render("stamp.html", request, lang=lang, s=s, status=v.status.name, tone=tone,
                  headline=headline, advice=advice, info=_stamp_info(state, v, lang),
                  scans=scans, message=message, can_report=epc is not None,
                  can_claim=epc is not None and v.status == Status.AUTHENTIC and not claimed
                  and _checks_pins(state, v),
                  action=request.url.path + ("?" + request.url.query
                                             if request.url.query else ""),
                  other_lang=other, other_url=_with_lang(request, other),
                  lookup_url=_home_url(state))


def _with_lang(request: Request, lang: str) -> str:
    kept = [p for p in request.url.query.split("&") if p and not p.startswith("lang=")]
    return request.url.path + "?" + "&".join([*kept, f"lang={lang}"])


def _home_url(state: State) -> str:
    return (state.base_path or "") + "/"


def _claim_message(res: Any, lang: str) -> tuple[str, str]:
    s = STRINGS[lang]
    r = res.result
    if r == "ok":
        return "good", s["claim_ok"]
    if r == "wrong_pin":
        return ("bad", s["claim_wrong"].format(left=res.attempts_left) if res.attempts_left
                else s["claim_locked"])
    key = {"locked": "claim_locked", "mistyped": "claim_mistyped",
           "already_claimed": "claim_already", "inactive": "claim_inactive"}.get(r,
                                                                                "claim_refused")
    return ("warn" if r == "mistyped" else "bad"), s[key]


async def home(request: Request, state: State) -> Response:
    """The start page: what to do, and the typed-number lookup form."""
    lang = _lang(request)
    return render("home.html", request, lang=lang, s=STRINGS[lang], error=None, number="",
                  other_lang="en" if lang == "vi" else "vi",
                  other_url=_with_lang(request, "en" if lang == "vi" else "vi"),
                  action=_home_url(state) + "lookup")


async def lookup(request: Request, state: State) -> Response:
    """``?number=``: a well-formed number goes to its stamp page; a typo is explained."""
    lang = _lang(request)
    s = STRINGS[lang]
    number = request.query_params.get("number", "")
    other = "en" if lang == "vi" else "vi"
    err = None
    if len(number) > 100 or "\x00" in number:
        err = s["malformed"]
    else:
        try:
            sym = C.normalize_symbols(number)
            if len(sym) != C.NUMBER_LEN:
                err = s["malformed"]
            elif not C.has_valid_check(sym):
                err = s["typo"]
        except AntifakeError:
            err = s["malformed"]
    if err is None:
        target = f"{state.base_path}/{quote(number.strip(), safe='')}"
        if lang != "vi":
            target += f"?lang={lang}"
        return RedirectResponse(target, status_code=303)
    return render("home.html", request, http_status=400, lang=lang, s=s, error=err, number=number,
                  other_lang=other, other_url=_with_lang(request, other),
                  action=_home_url(state) + "lookup")


