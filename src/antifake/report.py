"""A single-file HTML report of an evidence bundle, readable offline (Vietnamese or English).

`render_html(bundle, verification)` draws the verdict, the stamp's timeline (who held it,
where, when; scans, listings and claims marked), a map of the scan and party locations (an
inline SVG plotted from the coordinates: no tiles, no scripts, no network), the alerts with
their evidence and the proof status. Every text from the bundle is HTML-escaped.
"""

from __future__ import annotations

import html
import math
from typing import Any

from antifake.evidence import Report

__all__ = ["render_html", "LANGS"]

LANGS = ("vi", "en")

_T: dict[str, dict[str, str]] = {
    "title": {"en": "Evidence report", "vi": "Báo cáo bằng chứng"},
    "stamp": {"en": "Stamp", "vi": "Tem"},
    "verdict": {"en": "Verdict", "vi": "Kết luận"},
    "status": {"en": "Status now", "vi": "Trạng thái hiện tại"},
    "timeline": {"en": "Timeline", "vi": "Dòng thời gian"},
    "time": {"en": "Time", "vi": "Thời gian"},
    "what": {"en": "What", "vi": "Sự kiện"},
    "who": {"en": "Who", "vi": "Ai"},
    "where": {"en": "Where", "vi": "Ở đâu"},
    "map": {"en": "Map of scans and parties", "vi": "Bản đồ lượt quét và các bên"},
    "nomap": {"en": "No coordinates on record.", "vi": "Không có tọa độ nào được ghi nhận."},
    "alerts": {"en": "Alerts", "vi": "Cảnh báo"},
    "noalerts": {"en": "No alert names this stamp.", "vi": "Không có cảnh báo nào về tem này."},
    "evidence": {"en": "evidence events", "vi": "sự kiện làm bằng chứng"},
    "proof": {"en": "Proof status", "vi": "Tình trạng chứng minh"},
    "proof_ok": {"en": "VERIFIED: every event is in the registry's transparency log, whose "
                       "checkpoint is signed by the log key",
                 "vi": "ĐÃ XÁC MINH: mọi sự kiện đều nằm trong nhật ký minh bạch của cơ sở dữ "
                       "liệu, có điểm kiểm tra được ký bằng khóa nhật ký"},
    "proof_bad": {"en": "NOT VERIFIED", "vi": "KHÔNG XÁC MINH ĐƯỢC"},
    "proof_none": {"en": "not checked", "vi": "chưa kiểm tra"},
    "checkpoint": {"en": "Checkpoint", "vi": "Điểm kiểm tra"},
    "vkey": {"en": "Log verifier key", "vi": "Khóa xác minh nhật ký"},
    "claims": {"en": "Claims", "vi": "Lượt kích hoạt bảo hành / xác nhận"},
    "listings": {"en": "Listings", "vi": "Tin đăng bán"},
    "scan": {"en": "scan", "vi": "quét"},
    "listing": {"en": "listing", "vi": "đăng bán"},
    "claim": {"en": "claim", "vi": "xác nhận"},
    "inherited": {"en": "alert evidence", "vi": "bằng chứng cảnh báo"},
    "how": {"en": "Check this report yourself: antifake evidence verify BUNDLE.json --vkey "
                  "KEY (or the script in the documentation, with hashlib and PyNaCl only).",
            "vi": "Tự kiểm tra báo cáo: antifake evidence verify BUNDLE.json --vkey KHÓA "
                  "(hoặc đoạn mã trong tài liệu, chỉ cần hashlib và PyNaCl)."},
}

_CSS = """
body{font-family:system-ui,sans-serif;max-width:960px;margin:2em auto;padding:0 1em;color:#222}
h1{font-size:1.5em}h2{font-size:1.15em;margin-top:1.6em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;width:100%;font-size:.9em}td,th{padding:.25em .5em;
border-bottom:1px solid #eee;text-align:left;vertical-align:top}
.ok{color:#106010;font-weight:bold}.bad{color:#a01010;font-weight:bold}
.tag{display:inline-block;padding:0 .4em;border-radius:.3em;font-size:.8em;background:#eee}
.scan{background:#dde8ff}.listing{background:#ffe9c7}.claim{background:#e0f5e0}
code,pre{font-size:.8em;word-break:break-all;white-space:pre-wrap}
"""


def _t(key: str, lang: str) -> str:
    return _T[key].get(lang, _T[key]["en"])


def _e(v: Any) -> str:
    return html.escape("" if v is None else str(v), quote=True)


def _num(v: Any) -> float | None:
    if isinstance(v, bool) or not isinstance(v, int | float):
        return None
    f = float(v)
    return f if math.isfinite(f) else None


def _points(bundle: dict[str, Any]) -> list[tuple[float, float, str, str]]:
    """(lat, lon, label, kind) of scans (in time order) and of parties."""
    pts: list[tuple[float, float, str, str]] = []
    for ev in bundle.get("events") or []:
        s = ev.get("summary") or {} if isinstance(ev, dict) else {}
        lat, lon = _num(s.get("lat")), _num(s.get("lon"))
        if lat is not None and lon is not None and -90 <= lat <= 90 and -180 <= lon <= 180:
            pts.append((lat, lon, f"{s.get('time', '')} {s.get('by', '')}", "scan"))
    for name, p in (bundle.get("parties") or {}).items():
        if not isinstance(p, dict):
            continue
        lat, lon = _num(p.get("lat")), _num(p.get("lon"))
        if lat is not None and lon is not None and -90 <= lat <= 90 and -180 <= lon <= 180:
            pts.append((lat, lon, str(name), "party"))
    return pts


def _svg_map(pts: list[tuple[float, float, str, str]]) -> str:
    w, h, pad = 640, 420, 30
    lats = [p[0] for p in pts]
    lons = [p[1] for p in pts]
    lat0, lat1 = min(lats), max(lats)
    lon0, lon1 = min(lons), max(lons)
    span = max(lat1 - lat0, (lon1 - lon0), 0.5) * 1.15
    clat, clon = (lat0 + lat1) / 2, (lon0 + lon1) / 2
    kx = math.cos(math.radians(clat)) or 1e-6  # equirectangular, true at the centre

    def xy(lat: float, lon: float) -> tuple[float, float]:
        x = w / 2 + (lon - clon) * kx / span * (w - 2 * pad)
        y = h / 2 - (lat - clat) / span * (h - 2 * pad)
        return round(x, 1), round(y, 1)

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="100%" '
           f'role="img" style="background:#f4f8fb;border:1px solid #ccc">']
    step = 10 ** math.floor(math.log10(span)) if span > 0 else 1
    g = math.floor((clat - span) / step) * step
    while g <= clat + span:
        y = xy(g, clon)[1]
        if 0 <= y <= h:
            out.append(f'<line x1="0" x2="{w}" y1="{y}" y2="{y}" stroke="#dde"/>'
                       f'<text x="2" y="{y - 2}" font-size="9" fill="#889">{g:.4g}°</text>')
        g += step
    g = math.floor((clon - span / kx) / step) * step
    while g <= clon + span / kx:
        x = xy(clat, g)[0]
        if 0 <= x <= w:
            out.append(f'<line y1="0" y2="{h}" x1="{x}" x2="{x}" stroke="#dde"/>'
                       f'<text x="{x + 2}" y="{h - 3}" font-size="9" fill="#889">{g:.4g}°</text>')
        g += step
    scans = [xy(p[0], p[1]) for p in pts if p[3] == "scan"]
    if len(scans) > 1:
        path = " ".join(f"{x},{y}" for x, y in scans)
        out.append(f'<polyline points="{path}" fill="none" stroke="#4466cc" '
                   'stroke-dasharray="4 3"/>')
    for k, (lat, lon, label, kind) in enumerate(pts):
        x, y = xy(lat, lon)
        if kind == "scan":
            out.append(f'<circle cx="{x}" cy="{y}" r="5" fill="#3355dd"><title>{_e(label)} '
                       f'({lat:.4f}, {lon:.4f})</title></circle>'
                       f'<text x="{x + 6}" y="{y - 6}" font-size="10">{k + 1}</text>')
        else:
            out.append(f'<rect x="{x - 5}" y="{y - 5}" width="10" height="10" fill="#cc7722">'
                       f'<title>{_e(label)}</title></rect>'
                       f'<text x="{x + 7}" y="{y + 4}" font-size="11">{_e(label)}</text>')
    out.append("</svg>")
    return "".join(out)


def render_html(bundle: dict[str, Any], verification: Report | None = None,
                lang: str = "en") -> str:
    """The report page (one self-contained HTML document)."""
    lang = lang if lang in LANGS else "en"
    subj = bundle.get("subject") or {}
    verdict = subj.get("verdict") or {}
    status = subj.get("status") or {}
    parts = [f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8">'
             f'<meta name="viewport" content="width=device-width,initial-scale=1">'
             f"<title>{_t('title', lang)}: {_e(subj.get('epc'))}</title>"
             f"<style>{_CSS}</style></head><body>",
             f"<h1>{_t('title', lang)}</h1>",
             f"<p><b>{_t('stamp', lang)}:</b> <code>{_e(subj.get('epc'))}</code></p>"]
    if verdict:
        cls = "ok" if verdict.get("ok") else "bad"
        parts.append(f"<p><b>{_t('verdict', lang)}:</b> <span class='{cls}'>"
                     f"{_e(verdict.get('status'))}</span> {_e(verdict.get('reason'))}</p>")
    parts.append(f"<p><b>{_t('status', lang)}:</b> {_e(status.get('state'))}"
                 f"{' (' + _e(status.get('reason')) + ')' if status.get('reason') else ''}, "
                 f"{_e(status.get('claim'))}"
                 f"{', ' + _e(status.get('suspected')) if status.get('suspected') else ''}</p>")
    # proof status first: it says whether the rest can be trusted
    parts.append(f"<h2>{_t('proof', lang)}</h2>")
    if verification is None:
        parts.append(f"<p>{_t('proof_none', lang)}</p>")
    elif verification.ok:
        parts.append(f"<p class='ok'>{_t('proof_ok', lang)} "
                     f"({verification.events} / {verification.checkpoint_size})</p>")
    else:
        items = "".join(f"<li>{_e(p)}</li>" for p in verification.problems)
        parts.append(f"<p class='bad'>{_t('proof_bad', lang)}</p><ul>{items}</ul>")
    log = bundle.get("log") or {}
    parts.append(f"<p><b>{_t('checkpoint', lang)}:</b></p><pre>{_e(log.get('checkpoint'))}"
                 f"</pre><p><b>{_t('vkey', lang)}:</b> <code>{_e(log.get('vkey'))}</code></p>")
    # timeline
    parts.append(f"<h2>{_t('timeline', lang)}</h2><table><tr><th>#</th>"
                 f"<th>{_t('time', lang)}</th><th>{_t('what', lang)}</th>"
                 f"<th>{_t('who', lang)}</th><th>{_t('where', lang)}</th></tr>")
    for k, ev in enumerate(bundle.get("events") or []):
        if not isinstance(ev, dict):
            continue
        s = ev.get("summary") or {}
        step = str(s.get("biz_step") or s.get("type") or "").rsplit("/", 1)[-1]
        step = step.rsplit(":", 1)[-1]
        tag = ""
        if "listing" in s:
            tag = f" <span class='tag listing'>{_t('listing', lang)}</span>"
        elif "claim" in s:
            tag = f" <span class='tag claim'>{_t('claim', lang)}: {_e(s['claim'])}</span>"
        elif s.get("lat") is not None:
            tag = f" <span class='tag scan'>{_t('scan', lang)}</span>"
        if ev.get("role") == "alert":
            tag += f" <span class='tag'>{_t('inherited', lang)}</span>"
        who = s.get("by") or ""
        if s.get("source") or s.get("destination"):
            who = f"{s.get('source') or '?'} → {s.get('destination') or '?'}"
        where = (f"{s['lat']:.4f}, {s['lon']:.4f}" if _num(s.get("lat")) is not None
                 and _num(s.get("lon")) is not None else "")
        parts.append(f"<tr><td>{k + 1}</td><td>{_e(s.get('time'))}</td><td>{_e(step)}"
                     f"{tag}</td><td>{_e(who)}</td><td>{_e(where)}</td></tr>")
    parts.append("</table>")
    # map
    parts.append(f"<h2>{_t('map', lang)}</h2>")
    pts = _points(bundle)
    parts.append(_svg_map(pts) if pts else f"<p>{_t('nomap', lang)}</p>")
    # alerts
    parts.append(f"<h2>{_t('alerts', lang)}</h2>")
    alerts = [a for a in bundle.get("alerts") or [] if isinstance(a, dict)]
    if not alerts:
        parts.append(f"<p>{_t('noalerts', lang)}</p>")
    for a in alerts:
        score = _num(a.get("score"))
        ev = "".join(f"<li><code>{_e(x)}</code></li>" for x in a.get("evidence") or [])
        parts.append(f"<p><b>{_e(a.get('kind'))}</b> ({score if score is not None else '?'}) "
                     f"{_e(a.get('reason'))} {_e(a.get('first_seen'))}</p>"
                     f"<p>{_t('evidence', lang)}:</p><ul>{ev}</ul>")
    for key in ("claims", "listings"):
        rows = [r for r in bundle.get(key) or [] if isinstance(r, dict)]
        if rows:
            parts.append(f"<h2>{_t(key, lang)}</h2><ul>")
            parts += [f"<li>{_e(r.get('time'))}: {_e(r.get('result') or r.get('seller'))} "
                      f"{_e(r.get('listing') or '')}</li>" for r in rows]
            parts.append("</ul>")
    parts.append(f"<p><small>{_t('how', lang)}</small></p></body></html>\n")
    return "".join(parts)
