"""Registry statuses for bulk verification: the stamps that are decommissioned, claimed or
suspected, as sorted numpy keys, rebuilt when the registry changed and at most once per
``max_age`` seconds (so bulk answers may lag a change by that long; single-code answers and
the consumer page never do)."""

from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np

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

    def apply(self, res: VerifyResult) -> np.ndarray:
        """The statuses of ``res`` with the registry's answer for authentic stamps."""
        with self._lock:
            self._refresh()
            keys_all, st_all, odd = self._keys, self._status, self._odd
        status = res.status.copy()
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
