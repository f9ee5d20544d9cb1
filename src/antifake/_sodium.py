"""Bind the batch Ed25519 kernels to the libsodium that PyNaCl already loaded.

PyNaCl's cffi module exposes ``crypto_sign`` and ``crypto_sign_open``; their addresses are
handed to ``antifake._core`` once, so the bulk loops call libsodium directly without the GIL and
without linking a second copy. A self-test against ``nacl.signing`` runs first; if the native
path disagrees in any way it stays unbound and the pure-Python path is used instead.
"""

from __future__ import annotations

import logging

import nacl.exceptions
import nacl.signing
import numpy as np

import antifake._core as _core

__all__ = ["ed25519_ok", "native_ed25519"]

log = logging.getLogger("antifake")


def ed25519_ok(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """Whether ``signature`` is a valid Ed25519 signature of ``message`` by ``public_key``
    (a malformed key or signature is just invalid)."""
    try:
        nacl.signing.VerifyKey(public_key).verify(message, signature)
    except (nacl.exceptions.BadSignatureError, ValueError, TypeError):
        return False
    return True


def _self_test() -> bool:
    seed = bytes(range(32))
    sk = nacl.signing.SigningKey(seed)
    pk = bytes(sk.verify_key)
    prefix = b"antifake.selftest"
    bodies = np.arange(3 * 16, dtype=np.uint8).reshape(3, 16)
    sigs = _core.ed25519_sign_many(seed + pk, prefix, bodies, b"!", threads=1)
    msgs = np.zeros((3, 40), dtype=np.uint8)
    for i in range(3):
        m = prefix + bodies[i].tobytes() + b"!"
        if sk.sign(m).signature != sigs[i].tobytes():
            return False
        msgs[i, : len(m)] = np.frombuffer(m, dtype=np.uint8)
    lens = np.full(3, len(prefix) + 17, dtype=np.int32)
    slots = np.zeros(3, dtype=np.int32)
    bad = sigs.copy()
    bad[1, 5] ^= 1
    pks = np.frombuffer(pk, dtype=np.uint8).reshape(1, 32)
    good = _core.ed25519_verify_many(pks, slots, msgs, lens, sigs, threads=1)
    mixed = _core.ed25519_verify_many(pks, slots, msgs, lens, bad, threads=1)
    try:
        nacl.signing.VerifyKey(pk).verify(prefix + bodies[0].tobytes() + b"!", sigs[0].tobytes())
    except nacl.exceptions.BadSignatureError:
        return False
    return bool(good.all()) and mixed.tolist() == [True, False, True]


def _bind() -> bool:
    try:
        from nacl._sodium import ffi, lib

        lib.sodium_init()
        sign = int(ffi.cast("uintptr_t", ffi.addressof(lib, "crypto_sign")))
        sign_open = int(ffi.cast("uintptr_t", ffi.addressof(lib, "crypto_sign_open")))
    except Exception as exc:  # noqa: BLE001 - any failure here means "use the Python path"
        log.warning("antifake: libsodium symbols not reachable (%s); using PyNaCl per stamp", exc)
        return False
    _core.sodium_bind(sign, sign_open)
    try:
        ok = _self_test()
    except Exception:  # noqa: BLE001
        ok = False
    if not ok:
        _core.sodium_unbind()
        log.warning("antifake: native Ed25519 self-test failed; using PyNaCl per stamp")
    return ok


native_ed25519: bool = _bind()
