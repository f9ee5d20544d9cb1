"""GS1 Digital Link URIs: building and parsing, with the URL structure they rely on."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

from antifake.errors import GS1Error
from antifake.gs1._text import (
    _BAD_PERCENT,
    MAX_URI_LENGTH,
    _check_text,
    _coerce_text,
    _dl_encode,
    _pct_decode,
    _show,
)
from antifake.gs1.ai import (
    _PRIMARY,
    _QUALIFIERS,
    _named_ai,
    _put_ai,
    _resolve_ai,
    _validate_ai,
)
from antifake.gs1.dates import ai17_to_date, expiry_to_ai17
from antifake.gs1.gtin import validate_gtin, validate_lot, validate_serial

# --------------------------------------------------------------------------- URL structure

_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*)://")
_OTHER_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):(?![0-9]{1,5}(?:[/?]|$))")
_HOST = re.compile(r"([a-z0-9_\-]+(?:\.[a-z0-9_\-]+)*\.?|\[[0-9a-f:.]+\])(?::([0-9]{1,5}))?")
_PATH_CHARS = re.compile(r"[A-Za-z0-9\-._~!$&'()*+,;=:@/%]*")


def _split_url(s: str, *, require_scheme: bool) -> tuple[str, str, str, str | None]:
    """Split into (scheme, normalised authority, path, query or None); drops any fragment."""
    s = s.split("#", 1)[0]
    m = _SCHEME.match(s)
    if m:
        scheme = m.group(1).lower()
        if scheme not in ("http", "https"):
            raise GS1Error(f"unsupported URI scheme {m.group(1)!r}: expected http or https")
        rest = s[m.end() :]
    elif require_scheme:
        raise GS1Error(f"base must start with https:// or http://, got {_show(s)}")
    elif s.startswith("//"):
        scheme, rest = "https", s[2:]
    else:
        m2 = _OTHER_SCHEME.match(s)
        if m2 and m2.group(1).lower() in ("http", "https"):
            raise GS1Error(f"malformed URI: expected '://' after {m2.group(1)!r}")
        if m2:
            raise GS1Error(f"unsupported URI scheme {m2.group(1)!r}: expected http or https")
        scheme, rest = "https", s
    cut = len(rest)
    for sep in "/?":
        i = rest.find(sep)
        if i != -1:
            cut = min(cut, i)
    authority, remainder = rest[:cut], rest[cut:]
    path, qmark, query = remainder.partition("?")
    return scheme, _normalise_host(authority), path, (query if qmark else None)


def _normalise_host(authority: str) -> str:
    if not authority:
        raise GS1Error("URI has no host")
    if "@" in authority:
        raise GS1Error("user information ('@') is not allowed before the host of a Digital Link")
    host = authority.lower()
    m = _HOST.fullmatch(host)
    if not m:
        raise GS1Error(f"invalid host {_show(authority)}")
    if m.group(2) is not None and not 0 < int(m.group(2)) <= 65535:
        raise GS1Error(f"invalid port {m.group(2)}")
    return host


def _normalise_base(base: str) -> str:
    """Validate a resolver base ``scheme://host[/prefix]``; lower-case scheme and host."""
    if not isinstance(base, str):
        raise GS1Error(f"base must be a str, not {type(base).__name__}")
    if len(base) > MAX_URI_LENGTH:
        raise GS1Error(f"base is {len(base)} characters long; the limit is {MAX_URI_LENGTH}")
    if "#" in base or "?" in base:
        raise GS1Error("base must not contain a query string or a fragment")
    scheme, host, path, _ = _split_url(base, require_scheme=True)
    path = path.rstrip("/")
    if not _PATH_CHARS.fullmatch(path):
        raise GS1Error(f"base path {_show(path)} contains characters that must be percent-encoded")
    m = _BAD_PERCENT.search(path)
    if m:
        raise GS1Error(f"bad percent-escape {path[m.start() : m.start() + 3]!r} in base")
    if "//" in path:
        raise GS1Error("base path contains an empty segment ('//')")
    return f"{scheme}://{host}{path}"


# --------------------------------------------------------------------------- Digital Link


@dataclass(frozen=True)
class DigitalLink:
    """A parsed GS1 Digital Link URI.

    Attributes:
        base: scheme, host and any path prefix before the primary key, without a trailing
            slash (``"https://id.gs1.org"``); the scheme and host are lower-cased and a URI
            given without a scheme gets ``https``.
        gtin: the 14-digit GTIN when the primary key is AI 01, else ``None``.
        lot: AI 10, decoded, or ``None``.
        serial: AI 21, decoded, or ``None``.
        expiry: AI 17 as written (``"YYMMDD"``, day may be ``00``), or ``None``.
        ai: every AI in the URI, decoded and validated (GTINs padded to 14 digits): the primary
            key first, then its key qualifiers, then the data attributes of the query string.
        query: the query parameters that are not AIs (decoded; first occurrence wins).

    The dictionaries are meant to be read, not mutated.
    """

    base: str
    gtin: str | None
    lot: str | None = None
    serial: str | None = None
    expiry: str | None = None
    ai: dict[str, str] = field(default_factory=dict)
    query: dict[str, str] = field(default_factory=dict)

    def __hash__(self) -> int:
        return hash((self.base, tuple(self.ai.items()), tuple(self.query.items())))

    @property
    def primary(self) -> str:
        """The AI of the primary key (``"01"`` for a GTIN, ``"00"`` for an SSCC, ...)."""
        primary = next(iter(self.ai), None)
        if primary not in _PRIMARY:
            raise GS1Error("this DigitalLink has no GS1 primary key as its first AI")
        return primary

    @property
    def expiry_date(self) -> date | None:
        """The expiry (AI 17) as a `datetime.date` (day ``00``: the month's last day), or
        None; `expiry` keeps the text as written in the URL."""
        return None if self.expiry is None else ai17_to_date(self.expiry)

    def uri(self, base: str | None = None) -> str:
        """This Digital Link in canonical DL form: short names replaced by AIs, key qualifiers
        in the path in their standard order, data attributes then other parameters in the
        query, values percent-encoded. ``base`` replaces `base` when given."""
        b = self.base if base is None else _normalise_base(base)
        primary = self.primary
        path_ais = [primary] + _ordered_qualifiers(primary, self.ai)
        path = "".join(f"/{a}/{_dl_encode(self.ai[a])}" for a in path_ais)
        params = [(a, v) for a, v in self.ai.items() if a not in path_ais]
        params += list(self.query.items())
        query = "&".join(f"{_dl_encode(k)}={_dl_encode(v)}" for k, v in params)
        return b + path + (f"?{query}" if query else "")


def _ordered_qualifiers(primary: str, ais: Mapping[str, str]) -> list[str]:
    for order in _PRIMARY[primary]:
        present = [q for q in order if q in ais]
        if present:
            return present
    return []


def build_digital_link(
    base: str,
    gtin: str,
    *,
    lot: str | None = None,
    serial: str | None = None,
    expiry: date | str | None = None,
    extra: Mapping[str, str] | None = None,
) -> str:
    """Build a GS1 Digital Link URI ``{base}/01/{gtin14}[/10/{lot}][/21/{serial}]?17=...``.

    ``base`` is ``http(s)://host[/prefix]`` (a trailing slash is dropped; scheme and host are
    lower-cased). The query string holds ``17=YYMMDD`` (``expiry`` as accepted by
    [`expiry_to_ai17`][antifake.gs1.expiry_to_ai17]) and then the ``extra`` parameters in their
    given order: numeric keys (or DL short names) are GS1 AIs and are validated, other keys are free
    parameters. AIs 01, 10, 21, 17 and the GTIN key qualifiers (22, 235) cannot be passed in
    ``extra``. Values are percent-encoded outside the RFC 3986 unreserved set. Raises
    [`GS1Error`][antifake.errors.GS1Error].
    """
    b = _normalise_base(base)
    parts = [b, "/01/", validate_gtin(gtin)]
    if lot is not None:
        parts += ["/10/", _dl_encode(validate_lot(lot))]
    if serial is not None:
        parts += ["/21/", _dl_encode(validate_serial(serial))]
    params: list[tuple[str, str]] = []
    if expiry is not None:
        params.append(("17", expiry_to_ai17(expiry)))
    if extra is not None:
        if not isinstance(extra, Mapping):
            raise GS1Error(f"extra must be a mapping, not {type(extra).__name__}")
        seen: set[str] = set()
        for key, value in extra.items():
            key = _check_text(key, "extra parameter name")
            value = _check_text(value, f"extra parameter {key!r}")
            if not key:
                raise GS1Error("extra parameter names must not be empty")
            ai = _named_ai(key, "extra parameter")
            if ai is not None:
                if ai in ("01", "10", "21", "17", "22", "235"):
                    raise GS1Error(
                        f"AI {ai} cannot be passed in extra: use the gtin, lot, serial and "
                        f"expiry arguments (key qualifiers 22 and 235 are not supported)"
                    )
                if ai in seen:
                    raise GS1Error(f"AI {ai} is given twice in extra")
                seen.add(ai)
                key, value = ai, _validate_ai(ai, value)
            elif key in seen:
                raise GS1Error(f"extra parameter {key!r} is given twice")
            seen.add(key)
            params.append((key, value))
    if params:
        parts.append("?" + "&".join(f"{_dl_encode(k)}={_dl_encode(v)}" for k, v in params))
    uri = "".join(parts)
    if len(uri) > MAX_URI_LENGTH:
        raise GS1Error(
            f"Digital Link would be {len(uri)} characters; the limit is {MAX_URI_LENGTH}"
        )
    return uri


def _find_primary(segs: list[str]) -> int:
    """Index of the primary key in decoded path segments, walking key/value pairs from the
    right (values sit at odd offsets from the end, so a value can never pass for a key)."""
    j = len(segs) - 2
    while j >= 0:
        ai = _resolve_ai(segs[j])
        if ai in _PRIMARY:
            return j
        if ai not in _QUALIFIERS:
            break
        j -= 2
    # Diagnose the failure as precisely as possible.
    if j >= 0:
        k = j - 2
        while k >= 0 and _resolve_ai(segs[k]) not in _PRIMARY:
            k -= 2
        ai = _resolve_ai(segs[j])
        if k >= 0 and ai is not None:
            raise GS1Error(
                f"AI {ai} cannot appear in the path after primary key {_resolve_ai(segs[k])}: "
                "only key qualifiers go in the path, data attributes go in the query string"
            )
    if any(_resolve_ai(x) in _PRIMARY for x in segs):
        raise GS1Error(
            "malformed Digital Link path: expected /{primary key}/{value} followed by "
            "/{qualifier}/{value} pairs"
        )
    raise GS1Error("no GS1 primary key (such as /01/{gtin}) in the Digital Link path")


def _check_qualifier_order(primary: str, quals: list[str]) -> None:
    orders = _PRIMARY[primary]
    allowed = {q for t in orders for q in t}
    seen: set[str] = set()
    for q in quals:
        if q not in allowed:
            raise GS1Error(f"AI {q} is not a key qualifier of primary key {primary}")
        if q in seen:
            raise GS1Error(f"key qualifier AI {q} appears twice in the path")
        seen.add(q)
    for order in orders:
        if set(quals) <= set(order):
            pos = [order.index(q) for q in quals]
            for a, b, pa, pb in zip(quals, quals[1:], pos, pos[1:], strict=False):
                if pa > pb:
                    raise GS1Error(
                        f"key qualifiers out of order: AI {b} must come before AI {a} "
                        f"(order after {primary}: {', '.join(order)})"
                    )
            return
    raise GS1Error(f"key qualifiers {', '.join(quals)} cannot be combined after {primary}")


def _parse_dl(text: str) -> DigitalLink:
    scheme, host, path, query = _split_url(text, require_scheme=False)
    raw_segs = path.split("/")[1:] if path else []
    if raw_segs and raw_segs[-1] == "":
        raw_segs.pop()  # one trailing slash
    if "" in raw_segs:
        raise GS1Error("Digital Link path contains an empty segment ('//')")
    segs = [_pct_decode(x, "path") for x in raw_segs]
    p = _find_primary(segs)
    primary = _resolve_ai(segs[p])
    assert primary is not None
    ais: dict[str, str] = {}

    def add(ai: str, value: str) -> None:
        _put_ai(ais, ai, value)

    quals = [_resolve_ai(segs[i]) or "" for i in range(p + 2, len(segs), 2)]
    _check_qualifier_order(primary, quals)
    add(primary, segs[p + 1])
    for i, q in zip(range(p + 2, len(segs), 2), quals, strict=True):
        add(q, segs[i + 1])

    params: dict[str, str] = {}
    if query:
        for part in re.split("[&;]", query):
            if not part:
                continue
            rk, _, rv = part.partition("=")
            k = _pct_decode(rk, "query string")
            v = _pct_decode(rv, "query string")
            if not k:
                raise GS1Error("query string has a parameter with an empty name")
            ai = _named_ai(k, "query parameter")
            if ai is not None:
                add(ai, v)
            else:
                _check_text(k, "query parameter name")
                _check_text(v, f"query parameter {k!r}")
                params.setdefault(k, v)

    # AIs 10/21 (etc.) may come in the query: together with the path they must still form a
    # valid qualifier combination for the primary key.
    allowed = {q for t in _PRIMARY[primary] for q in t}
    present = {a for a in ais if a in allowed}
    if present and not any(present <= set(t) for t in _PRIMARY[primary]):
        raise GS1Error(
            f"key qualifiers {', '.join(sorted(present))} cannot be combined after {primary}"
        )

    prefix = "/".join(raw_segs[:p])
    base = f"{scheme}://{host}" + (f"/{prefix}" if prefix else "")
    return DigitalLink(
        base=base,
        gtin=ais["01"] if primary == "01" else None,
        lot=ais.get("10"),
        serial=ais.get("21"),
        expiry=ais.get("17"),
        ai=ais,
        query=params,
    )


def parse_digital_link(uri: str | bytes) -> DigitalLink:
    """Parse a GS1 Digital Link URI into a [`DigitalLink`][antifake.gs1.DigitalLink].

    Tolerates what scanners and people produce: no scheme (``id.gs1.org/01/...``), upper-case
    scheme, host, short names and percent-escapes, GTIN-8/12/13 in the path (padded to 14),
    the DL 1.x short names (``/gtin/``, ``/lot/``, ``/ser/``, ``?exp=`` and the others), AIs 10
    and 21 in the query string, query parameters in any order separated by ``&`` or ``;``,
    a trailing slash, a fragment, surrounding whitespace, and ``bytes`` (UTF-8). Primary keys:
    GTIN (01) and every other GS1 key of the DL standard (00, 414, 417, 8003, 8004, ...).

    Raises [`GS1Error`][antifake.errors.GS1Error], and only that, for any ``str`` or ``bytes`` that
    is not a valid Digital Link: over [`MAX_URI_LENGTH`][antifake.gs1.MAX_URI_LENGTH] characters,
    NUL or control characters, a scheme other than http(s), user information before the host, no
    primary key, a bad check digit, key qualifiers out of order (21 before 10), the same AI twice
    with different values, an AI value outside its character set or length (non-ASCII included), bad
    percent-escapes.
    """
    return _parse_dl(_coerce_text(uri, "Digital Link URI"))
