"""Registry statuses for bulk verification: the stamps that are decommissioned, claimed or
suspected, as sorted numpy keys, rebuilt when the registry changed and at most once per
``max_age`` seconds (so bulk answers may lag a change by that long; single-code answers and
the consumer page never do)."""

from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np

from antifake.trust import Keyring
from antifake.verify import Status, VerifyResult

__all__ = ["Overlay"]

_K, _B, _I = 16, 20, 28  # bits of key id, batch id and index in a packed key
_REASON = {"recalled": Status.RECALLED, "stolen": Status.STOLEN}


def _pack(k: np.ndarray, b: np.ndarray, i: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Packed uint64 keys and which rows fit the packing."""
    fits = (k >= 0) & (k < 1 << _K) & (b >= 0) & (b < 1 << _B) & (i >= 0) & (i < 1 << _I)
    key = (k.astype(np.uint64) << np.uint64(_B + _I)) | (b.astype(np.uint64) << np.uint64(_I)) \
        | i.astype(np.uint64)
    return np.where(fits, key, np.uint64(0)), fits


class Overlay:
    """Sorted keys and statuses of the registry's non-plain stamps."""

    def __init__(self, registry: Any, max_age: float = 1.0) -> None:
        self._reg = registry
        self._max_age = max_age
        self._lock = threading.Lock()
        self._version: Any = None
        self._built = -1e18
        self._keys = np.empty(0, np.uint64)
        self._status = np.empty(0, np.uint8)
        self._odd: dict[tuple[int, int, int], int] = {}  # rows that do not pack

    def _refresh(self) -> None:
        now = time.monotonic()
        if now - self._built < self._max_age:
            return
        store = self._reg.storage
        version = store.version()
        if version == self._version and now - self._built < 60.0:
            self._built = now
            return
        rows = store.overlay_rows()
        n = len(rows)
        k = np.fromiter((r[0] for r in rows), np.int64, n)
        b = np.fromiter((r[1] for r in rows), np.int64, n)
        i = np.fromiter((r[2] for r in rows), np.int64, n)
        st = np.fromiter((
            _REASON.get(r[4] or "", Status.DECOMMISSIONED) if r[3] else
            Status.ALREADY_CLAIMED if r[5] == 1 else Status.SUSPECTED_CLONE
            for r in rows), np.uint8, n)
        keys, fits = _pack(k, b, i)
        order = np.argsort(keys[fits], kind="stable")
        self._keys, self._status = keys[fits][order], st[fits][order]
        self._odd = {(int(k[j]), int(b[j]), int(i[j])): int(st[j])
                     for j in np.nonzero(~fits)[0]}
        self._version, self._built = version, now

    def apply(self, res: VerifyResult, ring: Keyring | None = None) -> np.ndarray:
        """The statuses of ``res`` with the registry's answer for authentic stamps, as
        `Registry.verify` gives it: NOT_ISSUED for a code signed for a registered stamp's
        number but carrying another serial, then decommissioned / claimed / suspected.

        The serials are compared for the rows whose batch ``ring`` holds no manifest for
        (a manifest already proves the serial), one indexed read per such row."""
        status = res.status.copy()
        if ring is not None and res.serial is not None:
            self._check_serials(res, ring, status)
        with self._lock:
            self._refresh()
            keys_all, st_all, odd = self._keys, self._status, self._odd
        ok = np.nonzero(status == Status.AUTHENTIC)[0]
        if ok.size == 0 or (keys_all.size == 0 and not odd):
            return status
        keys, fits = _pack(res.key_id[ok].astype(np.int64), res.batch_id[ok], res.index[ok])
        if keys_all.size:
            pos = np.searchsorted(keys_all, keys)
            pos_c = np.minimum(pos, keys_all.size - 1)
            hit = fits & (keys_all[pos_c] == keys)
            status[ok[hit]] = st_all[pos_c[hit]]
        if odd:
            for j in np.nonzero(~fits)[0]:
                row = ok[j]
                key = (int(res.key_id[row]), int(res.batch_id[row]), int(res.index[row]))
                if key in odd:
                    status[row] = odd[key]
        return status

    def _check_serials(self, res: VerifyResult, ring: Keyring,
                       status: np.ndarray) -> None:
        """NOT_ISSUED for authentic code rows whose serial is not the registered one, among
        the rows of batches without a manifest in ``ring``."""
        assert res.serial is not None
        rows = np.nonzero((status == Status.AUTHENTIC) & (res.serial != 0))[0]
        if rows.size == 0:
            return
        k, b = res.key_id[rows], res.batch_id[rows]
        if int(k.min()) == int(k.max()) and int(b.min()) == int(b.max()):
            pairs = [(int(k[0]), int(b[0]))]
        else:
            packed = np.unique((k.astype(np.int64) << 32) | b)
            pairs = [(int(p) >> 32, int(p) & 0xFFFFFFFF) for p in packed.tolist()]
        store = self._reg.storage
        for key_id, batch_id in pairs:
            cands = ring.candidates(key_id)
            if len(cands) != 1 or batch_id in cands[0].manifests:
                continue  # proven by the manifest (or issuers sharing a key id: rare)
            issuer = cands[0].public.issuer
            sel = rows if len(pairs) == 1 else rows[(k == key_id) & (b == batch_id)]
            for i in sel.tolist():
                row = store.stamp_by_index(issuer, key_id, batch_id, int(res.index[i]))
                if row is not None and row.serial is not None \
                        and row.serial != int(res.serial[i]):
                    status[i] = Status.NOT_ISSUED
