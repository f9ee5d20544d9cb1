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
from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

import blake3
import numpy as np
import numpy.typing as npt

import antifake._core as _core
from antifake import codes as C
from antifake._sodium import native_ed25519
from antifake.issue import Stamp
from antifake.manifest import FINGERPRINT_KEY, Manifest, fingerprint
from antifake.trust import Keyring, KeyState

__all__ = ["Status", "Verdict", "VerifyResult", "verify", "verify_many"]


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
    Status.KEY_REVOKED: "the issuer key {key_id} was revoked before this batch was confirmed",
    Status.KEY_EXPIRED: "batch {batch} is dated outside key {key_id}'s validity window",
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
    """Key state as seen through the batch's manifest (the stamp is already authentic)."""
    if st.revoked_at is not None and (manifest is None or manifest.issued_at >= st.revoked_at):
        return Status.KEY_REVOKED
    if manifest is not None and not st.public.valid_at(manifest.issued_at):
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


def verify(text: str | bytes, ring: Keyring) -> Verdict:
    """Verify one scanned or typed text against the keys and manifests of ``ring``.

    Never raises for bad input: any text gets a verdict with a reason.
    """
    try:
        p = C.parse(text)
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
def _be(raw: npt.NDArray[np.uint8], a: int, b: int) -> npt.NDArray[np.uint64]:
    """Big-endian unsigned integer of bytes [a, b) of every row."""
    out = np.zeros(raw.shape[0], dtype=np.uint64)
    for k in range(a, b):
        out = (out << np.uint64(8)) | raw[:, k].astype(np.uint64)
    return out


def verify_many(texts: Sequence[str | bytes] | npt.NDArray[Any], ring: Keyring,
                threads: int | None = None) -> VerifyResult:
    """Verify an array or sequence of texts; same statuses as [`verify`][antifake.verify.verify],
    row by row.

    The common forms (QR URL, bare code, stamp number) are parsed and checked in native code
    without a Python object per row; GS1 Digital Link URLs and odd inputs take the exact
    single-text path. ``threads=None`` uses every core. A numpy array is read in place while
    the GIL is released (lists are copied first): do not modify it from another thread during
    the call.
    """
    n = len(texts)
    status = np.full(n, Status.MALFORMED, dtype=np.uint8)
    key_id = np.full(n, -1, dtype=np.int32)
    batch_id = np.full(n, -1, dtype=np.int64)
    index = np.full(n, -1, dtype=np.int64)
    if n == 0:
        return VerifyResult(status, key_id, batch_id, index)
    kind, version, raw, suffix, suffix_len = _core.parse_texts(texts, threads)
    status[kind == _core.K_BADCHECK] = Status.BAD_CHECK_CHARACTER

    codes_ = np.nonzero((kind == _core.K_CODE) | (kind == _core.K_GS1))[0]
    if codes_.size == n:  # the common case: no copies of the decoded rows
        _bulk_codes(codes_, version, raw, suffix, suffix_len, ring, status, key_id, batch_id,
                    index, threads)
    elif codes_.size:
        _bulk_codes(codes_, version[codes_], raw[codes_], suffix[codes_], suffix_len[codes_],
                    ring, status, key_id, batch_id, index, threads)
        # GS1 rows that did not pass get the exact single-text verdict (rare in bulk)
        redo = codes_[(kind[codes_] == _core.K_GS1) & (status[codes_] != Status.AUTHENTIC)]
        kind[redo] = _core.K_SLOW
    nums = np.nonzero(kind == _core.K_NUMBER)[0]
    if nums.size:
        _bulk_numbers(nums, raw[nums, :12], ring, status, key_id, batch_id, index, threads)
    for i in np.nonzero(kind == _core.K_SLOW)[0].tolist():
        v = verify(texts[i], ring)
        _store(v, i, status, key_id, batch_id, index)
    return VerifyResult(status, key_id, batch_id, index)


def _store(v: Verdict, i: int, status: npt.NDArray[np.uint8], key_id: npt.NDArray[np.int32],
           batch_id: npt.NDArray[np.int64], index: npt.NDArray[np.int64]) -> None:
    status[i] = v.status
    if v.stamp is not None:
        key_id[i], batch_id[i], index[i] = v.stamp.key_id, v.stamp.batch_id, v.stamp.index


def _bulk_codes(rows: npt.NDArray[np.intp], version: npt.NDArray[np.uint8],
                raw: npt.NDArray[np.uint8], suffix: npt.NDArray[np.uint8],
                suffix_len: npt.NDArray[np.uint8], ring: Keyring, status: npt.NDArray[np.uint8],
                key_out: npt.NDArray[np.int32], batch_out: npt.NDArray[np.int64],
                index_out: npt.NDArray[np.int64], threads: int | None) -> None:
    good_version = version == C.FORMAT_VERSION
    kid = _be(raw, 0, 2).astype(np.int64)
    bid = _be(raw, 2, 5).astype(np.int64)
    idx = _be(raw, 5, 8).astype(np.int64)
    batch_out[rows] = np.where(good_version, bid, -1)
    index_out[rows] = np.where(good_version, idx, -1)
    status[rows[~good_version]] = Status.MALFORMED
    keys = np.unique(kid[good_version]).tolist()
    for k in keys:
        everything = len(keys) == 1 and bool(good_version.all())
        sel = np.arange(rows.size) if everything else np.nonzero(good_version & (kid == k))[0]
        cands = ring.candidates(k)
        if not cands:
            status[rows[sel]] = Status.UNKNOWN_KEY
            continue
        if len(cands) > 1:  # issuers sharing a key id: rare, take the exact path per row
            for j in sel.tolist():
                gs1 = None
                if suffix_len[j]:
                    sx = suffix[j].tobytes()
                    gs1 = C.GS1Attributes(sx[:14].decode(), sx[21:21 + sx[20]].decode() or None,
                                          None if sx[14:20] == bytes(6) else sx[14:20].decode())
                body = raw[j, :16].tobytes()
                _, bb, ii, ss = C.unpack_body(body)
                p = C.Parsed("gs1" if gs1 else "code", int(version[j]), k, bb, ii, ss,
                             raw[j, 16:].tobytes(), gs1=gs1)
                _store(_verify_code(p, ring), int(rows[j]), status, key_out, batch_out,
                       index_out)
            continue
        st = cands[0]
        key_out[rows[sel]] = k
        if everything:
            _bulk_codes_of_key(st, rows, bid, idx, raw, suffix, suffix_len, status, threads)
        else:
            _bulk_codes_of_key(st, rows[sel], bid[sel], idx[sel], raw[sel], suffix[sel],
                               suffix_len[sel], status, threads)


def _bulk_codes_of_key(st: KeyState, rows: npt.NDArray[np.intp], bid: npt.NDArray[np.int64],
                       idx: npt.NDArray[np.int64], raw: npt.NDArray[np.uint8],
                       suffix: npt.NDArray[np.uint8], suffix_len: npt.NDArray[np.uint8],
                       status: npt.NDArray[np.uint8], threads: int | None) -> None:
    """Rows of one trusted key: manifest membership where a manifest is held, else (and for
    rows that miss it) the signature."""
    n = rows.size
    verdict = np.full(n, Status.BAD_SIGNATURE, dtype=np.uint8)
    need_sig = np.ones(n, dtype=bool)
    in_manifest_batch = np.zeros(n, dtype=bool)
    batches = np.unique(bid).tolist()
    for b in batches:
        m = st.manifests.get(b)
        if m is None:
            continue
        of_b = np.ones(n, dtype=bool) if len(batches) == 1 else bid == b
        in_manifest_batch |= of_b
        if m.product is None:  # plain codes only; GS1 rows can only pass the signature path
            mask = of_b & (suffix_len == 0)
        else:  # GS1 rows whose attributes are exactly the batch's
            want_sx = np.zeros(suffix.shape[1], dtype=np.uint8)
            sx = m.product.signed_suffix()
            want_sx[:len(sx)] = np.frombuffer(sx, dtype=np.uint8)
            mask = of_b & (suffix_len == len(sx)) & (suffix == want_sx).all(axis=1)
        if mask.all():
            sel: slice | npt.NDArray[np.intp] = slice(None)
            fps = _core.keyed_tags(FINGERPRINT_KEY, raw, 16, threads)
        else:
            sel = np.nonzero(mask)[0]
            fps = _core.keyed_tags(FINGERPRINT_KEY, raw[sel], 16, threads)
        i_sel = idx[sel]
        inside = i_sel < m.count
        want = m.fingerprints[np.where(inside, i_sel, 0)]
        hit = inside & (np.bitwise_or.reduce(fps ^ want, axis=1) == 0)
        rows_hit = np.arange(n)[sel][hit]
        verdict[rows_hit] = _state_status(st, m)
        need_sig[rows_hit] = False
    check = np.nonzero(need_sig)[0]
    if check.size:
        sig_ok = _verify_signatures(st, raw[check, :16], np.ascontiguousarray(raw[check, 16:]),
                                    suffix[check], suffix_len[check], threads)
        signed = check[sig_ok]
        verdict[signed[in_manifest_batch[signed]]] = Status.NOT_ISSUED
        free = signed[~in_manifest_batch[signed]]  # no manifest held for their batch
        for b in np.unique(bid[free]).tolist():
            verdict[free[bid[free] == b]] = _state_status(st, st.manifests.get(b))
    status[rows] = verdict


def _verify_signatures(st: KeyState, bodies: npt.NDArray[np.uint8],
                       sigs: npt.NDArray[np.uint8], suffix: npt.NDArray[np.uint8],
                       suffix_len: npt.NDArray[np.uint8], threads: int | None
                       ) -> npt.NDArray[np.bool_]:
    n = bodies.shape[0]
    msgs = np.zeros((n, 32 + suffix.shape[1]), dtype=np.uint8)
    msgs[:, :14] = np.frombuffer(C.SIGN_CONTEXT, dtype=np.uint8)
    msgs[:, 14] = C.FORMAT_VERSION
    msgs[:, 15] = suffix_len > 0
    msgs[:, 16:32] = bodies
    msgs[:, 32:] = suffix
    lens = 32 + suffix_len.astype(np.int32)
    if not native_ed25519:
        return np.array([st.public.verify_detached(msgs[i, :lens[i]].tobytes(),
                                                   sigs[i].tobytes()) for i in range(n)],
                        dtype=bool)
    pks = np.frombuffer(st.public.public_key, dtype=np.uint8).reshape(1, 32)
    return _core.ed25519_verify_many(pks, np.zeros(n, dtype=np.int32), msgs, lens, sigs,
                                     threads)


def _bulk_numbers(rows: npt.NDArray[np.intp], raw: npt.NDArray[np.uint8], ring: Keyring,
                  status: npt.NDArray[np.uint8], key_out: npt.NDArray[np.int32],
                  batch_out: npt.NDArray[np.int64], index_out: npt.NDArray[np.int64],
                  threads: int | None) -> None:
    hi = _be(raw, 0, 4)
    lo = _be(raw, 4, 12)
    version = (hi >> np.uint64(30)).astype(np.int64)
    short = ((hi >> np.uint64(25)) & np.uint64(31)).astype(np.int64)
    bid = ((hi >> np.uint64(1)) & np.uint64(0xFFFFFF)).astype(np.int64)
    idx = (((hi & np.uint64(1)) << np.uint64(23)) | (lo >> np.uint64(41))).astype(np.int64)
    tag = (lo >> np.uint64(1)) & np.uint64((1 << 40) - 1)
    good = version == C.NUMBER_VERSION
    status[rows[~good]] = Status.MALFORMED
    batch_out[rows[good]] = bid[good]
    index_out[rows[good]] = idx[good]
    for s in np.unique(short[good]).tolist():
        sel = np.nonzero(good & (short == s))[0]
        st = ring.by_short_id(s)
        if st is None or st.secret is None:
            status[rows[sel]] = (Status.UNVERIFIABLE if ring.has_public_short_id(s)
                                 else Status.UNKNOWN_KEY)
            continue
        k = st.public.key_id
        msgs = np.zeros((sel.size, 10), dtype=np.uint8)
        msgs[:, 0] = ord("N")
        msgs[:, 1] = C.NUMBER_VERSION
        msgs[:, 2], msgs[:, 3] = k >> 8, k & 0xFF
        for j, shift in enumerate((16, 8, 0)):
            msgs[:, 4 + j] = (bid[sel] >> shift) & 0xFF
            msgs[:, 7 + j] = (idx[sel] >> shift) & 0xFF
        want = _core.keyed_tags(st.secret.tag_key(), msgs, 5, threads)
        got = np.empty((sel.size, 5), dtype=np.uint8)
        for j in range(5):
            got[:, j] = ((tag[sel] >> np.uint64(8 * (4 - j))) & np.uint64(0xFF)).astype(np.uint8)
        tag_ok = np.bitwise_or.reduce(want ^ got, axis=1) == 0
        verdict = np.full(sel.size, Status.BAD_TAG, dtype=np.uint8)
        for b in np.unique(bid[sel][tag_ok]).tolist():
            m = st.manifests.get(b)
            in_b = tag_ok & (bid[sel] == b)
            if m is not None:
                verdict[in_b & (idx[sel] >= m.count)] = Status.NOT_ISSUED
                in_b &= idx[sel] < m.count
            verdict[in_b] = _state_status(st, m)
        status[rows[sel]] = verdict
        key_out[rows[sel[tag_ok]]] = k
