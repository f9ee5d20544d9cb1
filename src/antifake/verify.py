"""Verification verdicts: [`verify`][antifake.verify.verify] for one text,
[`verify_many`][antifake.verify.verify_many] for arrays.

Both accept a QR URL (with or without scheme), a bare code, a GS1 Digital Link URL or a stamp
number, tolerating case, spaces, dashes and Crockford's I/L/O confusions, and report the same
[`Status`][antifake.verify.Status] for the same input. Precedence when several things are wrong: the
text's form (MALFORMED, BAD_CHECK_CHARACTER), then the key (UNKNOWN_KEY, UNVERIFIABLE), then
cryptography (BAD_SIGNATURE, BAD_TAG), then issuance (NOT_ISSUED), then the key's state
(KEY_REVOKED, KEY_EXPIRED).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

import blake3
import numpy as np
import numpy.typing as npt

import antifake._core as _core
from antifake import codes as C
from antifake._sodium import native_ed25519
from antifake.errors import FormatError
from antifake.issue import Stamp
from antifake.manifest import FINGERPRINT_KEY, Manifest, fingerprint
from antifake.trust import Keyring, KeyState

__all__ = ["Status", "Verdict", "VerifyResult", "verify", "verify_json_codes", "verify_many"]


class Status(IntEnum):
    """Outcome of a verification (stored as uint8 in bulk results)."""

    AUTHENTIC = 0
    MALFORMED = 1
    BAD_CHECK_CHARACTER = 2
    UNKNOWN_KEY = 3
    BAD_SIGNATURE = 4
    BAD_TAG = 5
    KEY_REVOKED = 6
    KEY_EXPIRED = 7
    NOT_ISSUED = 8
    UNVERIFIABLE = 9
    DECOMMISSIONED = 10
    RECALLED = 11
    STOLEN = 12
    ALREADY_CLAIMED = 13
    SUSPECTED_CLONE = 14


_REASONS = {
    Status.AUTHENTIC: "genuine stamp issued by {issuer} (key {key_id}, batch {batch}, "
                      "stamp {index})",
    Status.UNKNOWN_KEY: "no trusted issuer key has key id {key_id}",
    Status.UNVERIFIABLE: "a well-formed stamp number, but only the issuer's service can check "
                         "numbers (this keyring holds no secret for it)",
    Status.BAD_SIGNATURE: "the signature does not match: a forged or altered code",
    Status.BAD_TAG: "the number's tag does not match: a forged or mistyped number",
    Status.NOT_ISSUED: "validly formed but not in batch {batch}'s manifest: never issued",
    Status.KEY_REVOKED: "the issuer key {key_id} was revoked before this verifier held batch "
                        "{batch}'s manifest",
    Status.KEY_EXPIRED: "batch {batch} is dated, or reached this verifier, outside key "
                        "{key_id}'s validity window",
}


@dataclass(frozen=True, slots=True)
class Verdict:
    """The answer for one text: ``status``, a human ``reason`` and, when the text names a
    stamp of a trusted key, the ``stamp``."""

    status: Status
    reason: str
    stamp: Stamp | None = None

    @property
    def ok(self) -> bool:
        return self.status == Status.AUTHENTIC

    def __bool__(self) -> bool:
        return self.ok


@dataclass(frozen=True)
class VerifyResult:
    """Bulk verification result: aligned arrays, one row per input."""

    status: npt.NDArray[np.uint8]
    key_id: npt.NDArray[np.int32]  # full key id when a trusted key was found, else -1
    batch_id: npt.NDArray[np.int64]  # -1 when the text could not be decoded
    index: npt.NDArray[np.int64]
    #: the serial a code carries (0 for stamp numbers and texts that were not decoded;
    #: None when built without it)
    serial: npt.NDArray[np.uint64] | None = None

    @property
    def ok(self) -> npt.NDArray[np.bool_]:
        return self.status == Status.AUTHENTIC

    def __len__(self) -> int:
        return int(self.status.shape[0])

    def counts(self) -> dict[str, int]:
        """Number of rows per status name (statuses with no row are left out)."""
        c = np.bincount(self.status, minlength=len(Status))
        return {s.name: int(c[s]) for s in Status if c[s]}


# ---------------------------------------------------------------------------------------
# one text
# ---------------------------------------------------------------------------------------
def _reason(status: Status, **kw: Any) -> str:
    return _REASONS[status].format(**kw)


def _state_status(st: KeyState, manifest: Manifest | None) -> Status:
    """Key state as seen through the batch's manifest (the stamp is already authentic).

    Judged on when the keyring first held the manifest (its own clock), not on the manifest's
    ``issued_at`` alone, which the key holder chooses: a revoked key's stamps pass only
    through manifests first seen before the revocation, and a manifest first seen after the
    key's window (or dated outside it) gives KEY_EXPIRED. A manifest without a first-seen
    time (put into ``KeyState.manifests`` by hand) counts as seen never: it cannot pass a
    revoked or expired key."""
    seen = None if manifest is None else st.first_seen.get(manifest.batch_id)
    if st.revoked_at is not None and (manifest is None or seen is None
                                      or seen >= st.revoked_at
                                      or manifest.issued_at >= st.revoked_at):
        return Status.KEY_REVOKED
    if manifest is not None:
        until = st.public.valid_until
        if not st.public.valid_at(manifest.issued_at) or (
                until is not None and (seen is None or seen > until)):
            return Status.KEY_EXPIRED
    return Status.AUTHENTIC


def _final(st: KeyState, p: C.Parsed, manifest: Manifest | None, stamp: Stamp) -> Verdict:
    status = _state_status(st, manifest)
    kw = {"issuer": st.public.issuer, "key_id": st.public.key_id, "batch": p.batch_id,
          "index": p.index}
    return Verdict(status, _reason(status, **kw), stamp)


def _verify_code(p: C.Parsed, ring: Keyring) -> Verdict:
    cands = ring.candidates(p.key_id)
    if not cands:
        return Verdict(Status.UNKNOWN_KEY, _reason(Status.UNKNOWN_KEY, key_id=p.key_id))
    assert p.signature is not None and p.serial is not None
    body = p.body
    fp = fingerprint(body, p.signature)
    msg = C.signed_message(body, p.gs1)
    not_issued: KeyState | None = None
    for st in cands:
        m = st.manifests.get(p.batch_id)
        stamp = Stamp(st.public.issuer, p.key_id, p.batch_id, p.index, p.serial, p.signature,
                      p.gs1)
        if m is not None and m.product == p.gs1 and m.contains(p.index, fp):
            return _final(st, p, m, stamp)
        if st.public.verify_detached(msg, p.signature):
            if m is None:
                return _final(st, p, None, stamp)
            not_issued = st
    if not_issued is not None:
        return Verdict(Status.NOT_ISSUED, _reason(Status.NOT_ISSUED, batch=p.batch_id))
    return Verdict(Status.BAD_SIGNATURE, _reason(Status.BAD_SIGNATURE))


def _verify_number(p: C.Parsed, ring: Keyring) -> Verdict:
    st = ring.by_short_id(p.key_id)
    if st is None or st.secret is None:
        if ring.has_public_short_id(p.key_id):
            return Verdict(Status.UNVERIFIABLE, _reason(Status.UNVERIFIABLE))
        return Verdict(Status.UNKNOWN_KEY,
                       f"no issuer key in this keyring has short id {p.key_id} (stamp numbers)")
    key_id = st.public.key_id
    want = blake3.blake3(C.tag_message(key_id, p.batch_id, p.index),
                         key=st.secret.tag_key()).digest(C.TAG_BYTES)
    assert p.tag is not None
    if not secrets.compare_digest(want, p.tag):
        return Verdict(Status.BAD_TAG, _reason(Status.BAD_TAG))
    m = st.manifests.get(p.batch_id)
    if m is not None and p.index >= m.count:
        return Verdict(Status.NOT_ISSUED, _reason(Status.NOT_ISSUED, batch=p.batch_id))
    number = C.format_number(C.encode_number(key_id, p.batch_id, p.index, p.tag))
    stamp = Stamp(st.public.issuer, key_id, p.batch_id, p.index,
                  product=m.product if m else None, number=number)
    full = C.Parsed(p.kind, p.version, key_id, p.batch_id, p.index, tag=p.tag)
    return _final(st, full, m, stamp)


def _parse(text: str | bytes) -> C.Parsed:
    """`codes.parse`, through the native row parser for the usual forms (a QR URL, a bare
    code or a stamp number of the current version): the same fields, a few microseconds
    instead of tens. Anything else (and every failure, for its reason) takes `codes.parse`."""
    row = _core.parse_one(text)
    if row is not None:
        form, version, key_id, batch_id, index, serial, sig, tag, _ = row
        if form == C.FORM_CODE and version == C.FORMAT_VERSION:
            return C.Parsed("code", version, key_id, batch_id, index, serial, sig)
        if form == C.FORM_NUMBER and version == C.NUMBER_VERSION:
            return C.Parsed("number", version, key_id, batch_id, index, tag=tag)
    return C.parse(text)


def verify(text: str | bytes, ring: Keyring) -> Verdict:
    """Verify one scanned or typed text against the keys and manifests of ``ring``.

    Never raises for bad input: any text gets a verdict with a reason.
    """
    try:
        p = _parse(text)
    except C.ParseFailure as f:
        return Verdict(Status[f.status], f.reason)
    if p.kind == "number":
        return _verify_number(p, ring)
    return _verify_code(p, ring)


def verify_pin(code: str | bytes, pin: str | bytes, ring: Keyring) -> Verdict:
    """Check a scratch-off PIN for a stamp (needs the issuer's secret key in ``ring``).

    AUTHENTIC when the PIN matches; BAD_CHECK_CHARACTER for a mistyped PIN; BAD_TAG for a
    wrong one. The stamp itself must verify first.
    """
    v = verify(code, ring)
    if not v.ok or v.stamp is None:
        return v
    st = ring.by_short_id(C.short_key_id(v.stamp.key_id))
    if st is None or st.secret is None or st.public.key_id != v.stamp.key_id:
        return Verdict(Status.UNVERIFIABLE, "PINs can only be checked by the issuer's service",
                       v.stamp)
    try:
        given = parse_pin(pin)
    except C.ParseFailure as f:
        return Verdict(Status[f.status], f.reason, v.stamp)
    want = blake3.blake3(C.pin_message(v.stamp.key_id, v.stamp.batch_id, v.stamp.index),
                         key=st.secret.pin_key()).digest(C.PIN_BYTES)
    if not secrets.compare_digest(want, given):
        return Verdict(Status.BAD_TAG, "wrong PIN", v.stamp)
    return Verdict(Status.AUTHENTIC, "PIN matches", v.stamp)


def parse_pin(pin: str | bytes) -> bytes:
    """The 5 bytes a PIN carries; `codes.ParseFailure` for a malformed or mistyped PIN."""
    text = C._to_text(pin)
    try:
        sym = C.normalize_symbols(text)
    except C.FormatError as exc:
        raise C.ParseFailure("MALFORMED", str(exc)) from None
    if len(sym) != C.PIN_LEN:
        raise C.ParseFailure("MALFORMED", f"a PIN has {C.PIN_LEN} symbols, got {len(sym)}")
    if not C.has_valid_check(sym):
        raise C.ParseFailure("BAD_CHECK_CHARACTER", "the PIN's check character does not match")
    try:
        return C.b32decode(sym[:8], 5)
    except C.FormatError as exc:
        raise C.ParseFailure("MALFORMED", str(exc)) from None


# ---------------------------------------------------------------------------------------
# arrays
# ---------------------------------------------------------------------------------------
def _groups(values: npt.NDArray[Any]) -> list[tuple[int, npt.NDArray[np.bool_] | None]]:
    """(value, mask) per distinct value; mask None when every row holds it (the common case,
    found without sorting)."""
    if values.size == 0:
        return []
    lo, hi = int(values.min()), int(values.max())
    if lo == hi:
        return [(lo, None)]
    return [(int(v), values == v) for v in np.unique(values).tolist()]


def verify_many(texts: Sequence[str | bytes] | npt.NDArray[Any], ring: Keyring,
                threads: int | None = None) -> VerifyResult:
    """Verify an array or sequence of texts; same statuses as [`verify`][antifake.verify.verify],
    row by row.

    Every form is parsed natively ([`codes.parse_many`][antifake.codes.parse_many]) without a
    Python object per row: QR URLs, bare codes, GS1 Digital Link URLs and stamp numbers; odd
    inputs (and GS1 URLs that do not pass) take the exact single-text path. ``threads=None``
    uses every core.

    ``texts`` is read by position (a pandas Series too) into a private array first, with the
    GIL held: another thread may modify or replace the input during the call without effect
    on the result or on memory safety (each row is judged as it was at the start). That costs
    one new reference per row (or a copy of an "S" array), and the parser reads that private
    array directly (the rows are taken once). A set, a mapping, an iterator or a
    0-d / 2-d array raise [`FormatError`][antifake.errors.FormatError].
    """
    try:
        held = _core.hold_texts(texts)
    except TypeError as exc:
        raise FormatError(f"verify_many: {exc}") from None
    if len(held) == 0:
        return _empty_result(0)
    cols = C.Columns(*_core.parse_held_columns(held, threads))  # rows taken once, not twice
    return _verify_columns(cols, held.__getitem__, ring, threads)


def verify_json_codes(body: bytes, ring: Keyring, max_codes: int,
                      threads: int | None = None, *,
                      on_count: Callable[[int], None] | None = None) -> VerifyResult | None:
    """[`verify_many`][antifake.verify.verify_many] of the codes of a JSON body
    ``{"codes": ["...", ...]}``, read in place without a Python object per code.

    Only the plain form is read here: one key ``codes``, strings of printable ASCII without
    escapes, at most ``max_codes`` of them. Anything else (escapes, non-ASCII text, other
    keys, invalid JSON, too many codes) returns None: read that body with a JSON parser and
    call `verify_many`, which gives the same statuses for the same codes. ``on_count`` is
    called with the number of codes once they are found and before any is verified (a rate
    limit raises there)."""
    scanned = _core.scan_codes_json(body, max_codes)
    if scanned is None:
        return None
    off, lens = scanned
    if on_count is not None:
        on_count(len(off))
    if len(off) == 0:
        return _empty_result(0)

    def text_at(i: int) -> str:  # the rare rows the native parser leaves to `verify`
        a = int(off[i])
        return body[a:a + int(lens[i])].decode("ascii")

    cols = C.Columns(*_core.parse_spans(body, off, lens, threads))
    return _verify_columns(cols, text_at, ring, threads)


def _empty_result(n: int) -> VerifyResult:
    return VerifyResult(np.full(n, Status.MALFORMED, dtype=np.uint8),
                        np.full(n, -1, dtype=np.int32), np.full(n, -1, dtype=np.int64),
                        np.full(n, -1, dtype=np.int64), np.zeros(n, dtype=np.uint64))


def _verify_columns(cols: C.Columns, text_at: Callable[[int], Any], ring: Keyring,
                    threads: int | None) -> VerifyResult:
    """Statuses of parsed rows; ``text_at(i)`` gives row i's text for the exact path."""
    n = len(cols)
    res = VerifyResult(np.full(n, Status.MALFORMED, dtype=np.uint8),
                       np.full(n, -1, dtype=np.int32), np.full(n, -1, dtype=np.int64),
                       np.full(n, -1, dtype=np.int64), cols.serial)
    status, key_id, batch_id, index = res.status, res.key_id, res.batch_id, res.index
    form = cols.form
    status[form == C.FORM_BAD_CHECK] = Status.BAD_CHECK_CHARACTER
    slow = form == C.FORM_SLOW

    is_code = (form == C.FORM_CODE) | (form == C.FORM_GS1)
    if is_code.all():  # the common cases: no copies of the decoded rows
        _bulk_codes(cols, np.arange(n), ring, status, key_id, batch_id, index, threads)
    elif is_code.any():
        rows = np.nonzero(is_code)[0]
        _bulk_codes(cols.take(rows), rows, ring, status, key_id, batch_id, index, threads)
    is_num = form == C.FORM_NUMBER
    if is_num.all():
        _bulk_numbers(cols, None, ring, status, key_id, batch_id, index, threads)
    elif is_num.any():
        rows = np.nonzero(is_num)[0]
        _bulk_numbers(cols.take(rows), rows, ring, status, key_id, batch_id, index, threads)
    # GS1 rows that did not pass get the exact single-text verdict (rare in bulk)
    slow |= (form == C.FORM_GS1) & (status != Status.AUTHENTIC)
    for i in np.nonzero(slow)[0].tolist():
        v = verify(text_at(i), ring)
        _store(v, i, status, key_id, batch_id, index)
        assert res.serial is not None
        res.serial[i] = v.stamp.serial or 0 if v.stamp is not None else 0
    return res


def _store(v: Verdict, i: int, status: npt.NDArray[np.uint8], key_id: npt.NDArray[np.int32],
           batch_id: npt.NDArray[np.int64], index: npt.NDArray[np.int64]) -> None:
    status[i] = v.status
    if v.stamp is not None:
        key_id[i], batch_id[i], index[i] = v.stamp.key_id, v.stamp.batch_id, v.stamp.index


def _bulk_codes(c: C.Columns, rows: npt.NDArray[np.intp], ring: Keyring,
                status: npt.NDArray[np.uint8], key_out: npt.NDArray[np.int32],
                batch_out: npt.NDArray[np.int64], index_out: npt.NDArray[np.int64],
                threads: int | None) -> None:
    """Code and GS1 rows ``c`` (written to ``rows`` of the outputs)."""
    good_version = c.version == C.FORMAT_VERSION
    all_good = bool(good_version.all())
    batch_out[rows] = np.where(good_version, c.batch_id, -1)
    index_out[rows] = np.where(good_version, c.index, -1)
    if not all_good:
        status[rows[~good_version]] = Status.MALFORMED
        sub = np.nonzero(good_version)[0]
        c, rows = c.take(sub), rows[sub]
    for k, mask in _groups(c.key_id):
        sel = None if mask is None else np.nonzero(mask)[0]
        ck, rk = (c, rows) if sel is None else (c.take(sel), rows[sel])
        cands = ring.candidates(k)
        if not cands:
            status[rk] = Status.UNKNOWN_KEY
            continue
        if len(cands) > 1:  # issuers sharing a key id: rare, take the exact path per row
            for j in range(len(ck)):
                _store(_verify_code(ck.parsed(j), ring), int(rk[j]), status, key_out,
                       batch_out, index_out)
            continue
        key_out[rk] = k
        _bulk_codes_of_key(cands[0], ck, rk, status, threads)


def _bulk_codes_of_key(st: KeyState, c: C.Columns, rows: npt.NDArray[np.intp],
                       status: npt.NDArray[np.uint8], threads: int | None) -> None:
    """Rows of one trusted key: manifest membership where a manifest is held, else (and for
    rows that miss it) the signature."""
    n = len(c)
    verdict = np.full(n, Status.BAD_SIGNATURE, dtype=np.uint8)
    need_sig = np.ones(n, dtype=bool)
    in_manifest_batch = np.zeros(n, dtype=bool)
    for b, of_b in _groups(c.batch_id):
        m = st.manifests.get(b)
        if m is None:
            continue
        of_b = np.ones(n, dtype=bool) if of_b is None else of_b
        in_manifest_batch |= of_b
        if m.product is None:  # plain codes only; GS1 rows can only pass the signature path
            mask = of_b & (c.gs1_len == 0)
        else:  # GS1 rows whose attributes are exactly the batch's
            want_sx = np.zeros(c.gs1.shape[1], dtype=np.uint8)
            sx = m.product.signed_suffix()
            want_sx[:len(sx)] = np.frombuffer(sx, dtype=np.uint8)
            w = c.gs1.shape[1]  # rows compared as one "S" value each (zero-padded alike)
            same = c.gs1.view(f"S{w}").reshape(n) == want_sx.view(f"S{w}")[0]
            mask = of_b & (c.gs1_len == len(sx)) & same
        sel: slice | npt.NDArray[np.intp] = slice(None) if mask.all() else np.nonzero(mask)[0]
        cs = c if isinstance(sel, slice) else c.take(sel)
        fps = _core.fingerprints(FINGERPRINT_KEY, C.pack_bodies(cs), cs.signature, threads)
        inside = cs.index < m.count
        want = np.take(m.fingerprints, np.where(inside, cs.index, 0), axis=0)
        f8, w8 = fps.view(np.uint64), want.view(np.uint64)  # 16 bytes: two words a row
        hit = inside & (f8[:, 0] == w8[:, 0]) & (f8[:, 1] == w8[:, 1])
        rows_hit = np.arange(n)[sel][hit]
        verdict[rows_hit] = _state_status(st, m)
        need_sig[rows_hit] = False
    check = np.nonzero(need_sig)[0]
    if check.size:
        sig_ok = _verify_signatures(st, c.take(check), threads)
        signed = check[sig_ok]
        verdict[signed[in_manifest_batch[signed]]] = Status.NOT_ISSUED
        free = signed[~in_manifest_batch[signed]]  # no manifest held for their batch
        for b in np.unique(c.batch_id[free]).tolist():
            verdict[free[c.batch_id[free] == b]] = _state_status(st, st.manifests.get(b))
    status[rows] = verdict


def _verify_signatures(st: KeyState, c: C.Columns, threads: int | None
                       ) -> npt.NDArray[np.bool_]:
    msgs, lens = C.signed_messages(c)
    n = len(c)
    if not native_ed25519:
        return np.array([st.public.verify_detached(msgs[i, :lens[i]].tobytes(),
                                                   c.signature[i].tobytes()) for i in range(n)],
                        dtype=bool)
    pks = np.frombuffer(st.public.public_key, dtype=np.uint8).reshape(1, 32)
    return _core.ed25519_verify_many(pks, np.zeros(n, dtype=np.int32), msgs, lens,
                                     c.signature, threads)


def _bulk_numbers(c: C.Columns, rows: npt.NDArray[np.intp] | None, ring: Keyring,
                  status: npt.NDArray[np.uint8], key_out: npt.NDArray[np.int32],
                  batch_out: npt.NDArray[np.int64], index_out: npt.NDArray[np.int64],
                  threads: int | None) -> None:
    """Number rows ``c`` (written to ``rows`` of the outputs; None: ``c`` is every row)."""
    at: slice | npt.NDArray[np.intp] = slice(None) if rows is None else rows
    good = c.version == C.NUMBER_VERSION
    all_good = bool(good.all())
    short = c.key_id if all_good else np.where(good, c.key_id, -1).astype(np.int32)
    batch_out[at] = c.batch_id if all_good else np.where(good, c.batch_id, -1)
    index_out[at] = c.index if all_good else np.where(good, c.index, -1)
    verdict = np.full(len(c), Status.MALFORMED if not all_good else Status.BAD_TAG,
                      dtype=np.uint8)
    if not all_good:
        verdict[good] = Status.BAD_TAG
    tag_keys = np.zeros((32, 32), dtype=np.uint8)
    full = np.full(32, -1, dtype=np.int32)
    states: dict[int, KeyState] = {}
    for s, of_s in _groups(short):
        if s < 0:
            continue
        st = ring.by_short_id(s)
        if st is None or st.secret is None:
            verdict[slice(None) if of_s is None else of_s] = (
                Status.UNVERIFIABLE if ring.has_public_short_id(s) else Status.UNKNOWN_KEY)
            continue
        states[s] = st
        tag_keys[s] = np.frombuffer(st.secret.tag_key(), dtype=np.uint8)
        full[s] = st.public.key_id
    if states:
        ok = _core.number_tags_ok(tag_keys, full, C.TAG_DOMAIN[0], C.NUMBER_VERSION, short,
                                  c.batch_id, c.index, c.tag, threads)
        for s, st in states.items():
            mine = ok if len(states) == 1 and all_good else ok & (short == s)
            for b, of_b in _groups(c.batch_id[mine] if not mine.all() else c.batch_id):
                m = st.manifests.get(b)
                if of_b is None:
                    in_b = mine
                else:
                    in_b = np.zeros_like(mine)
                    in_b[np.nonzero(mine)[0][of_b]] = True
                state = _state_status(st, m)
                if m is None or (in_b is ok and bool((c.index < m.count).all())):
                    verdict[in_b] = state
                else:
                    inside = c.index < m.count
                    verdict[in_b & inside] = state
                    verdict[in_b & ~inside] = Status.NOT_ISSUED
        key_out[at] = np.where(ok, full[np.maximum(short, 0)], -1)
    status[at] = verdict
