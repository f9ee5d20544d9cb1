# Batch Ed25519 through libsodium (included by _core.pyx).

# ---------------------------------------------------------------------------------------
# libsodium through PyNaCl's cffi module
# ---------------------------------------------------------------------------------------
ctypedef int (*sign_fn)(uint8_t *sm, unsigned long long *smlen, const uint8_t *m,
                        unsigned long long mlen, const uint8_t *sk) noexcept nogil
ctypedef int (*open_fn)(uint8_t *m, unsigned long long *mlen, const uint8_t *sm,
                        unsigned long long smlen, const uint8_t *pk) noexcept nogil

cdef sign_fn _crypto_sign = NULL
cdef open_fn _crypto_sign_open = NULL

DEF MAX_MSG = 128  # longest signed stamp message (32 + 41 bytes) with room to spare


def sodium_bind(uintptr_t sign_addr, uintptr_t open_addr):
    """Install the addresses of libsodium's ``crypto_sign`` and ``crypto_sign_open``."""
    global _crypto_sign, _crypto_sign_open
    _crypto_sign = <sign_fn>sign_addr
    _crypto_sign_open = <open_fn>open_addr


def sodium_unbind():
    """Forget the libsodium pointers (the bulk paths then refuse to run)."""
    global _crypto_sign, _crypto_sign_open
    _crypto_sign = NULL
    _crypto_sign_open = NULL


def sodium_bound():
    return _crypto_sign != NULL and _crypto_sign_open != NULL


def _c_sign_loop(bytes sk, bytes msg, Py_ssize_t n):
    """Benchmark reference: libsodium's ``crypto_sign`` on one message ``n`` times in a bare C
    loop, one thread (the library's own speed on this machine, measured in the same run)."""
    if not sodium_bound():
        raise RuntimeError("libsodium pointers are not bound")
    if len(sk) != 64 or len(msg) > MAX_MSG or n < 0:
        raise ValueError("need a 64-byte key, a short message and n >= 0")
    cdef uint8_t sm[64 + MAX_MSG]
    cdef unsigned long long smlen
    cdef const uint8_t *skp = sk
    cdef const uint8_t *mp = msg
    cdef Py_ssize_t i, mlen = len(msg)
    cdef int rc = 0
    with nogil:
        for i in range(n):
            rc |= _crypto_sign(sm, &smlen, mp, mlen, skp)
    if rc != 0:
        raise RuntimeError("libsodium crypto_sign failed")


def _c_verify_loop(bytes pk, bytes signed, Py_ssize_t n):
    """Benchmark reference: ``crypto_sign_open`` of one signed message ``n`` times in a bare C
    loop, one thread. Returns how many verified (``n`` for a valid one)."""
    if not sodium_bound():
        raise RuntimeError("libsodium pointers are not bound")
    if len(pk) != 32 or not 64 <= len(signed) <= 64 + MAX_MSG or n < 0:
        raise ValueError("need a 32-byte key, a signed message and n >= 0")
    cdef const uint8_t *pkp = pk
    cdef const uint8_t *smp = signed
    cdef Py_ssize_t i, good = 0, smlen = len(signed)
    with nogil:
        for i in range(n):
            good += _crypto_sign_open(NULL, NULL, smp, smlen, pkp) == 0
    return good


cdef int _sign_rows(const uint8_t *sk, const uint8_t *prefix, Py_ssize_t plen,
                    const uint8_t *bodies, Py_ssize_t blen, const uint8_t *suffix,
                    Py_ssize_t slen, uint8_t *sigs, Py_ssize_t start, Py_ssize_t stop) noexcept nogil:
    cdef uint8_t m[MAX_MSG]
    cdef uint8_t sm[64 + MAX_MSG]
    cdef unsigned long long smlen
    cdef Py_ssize_t i, mlen = plen + blen + slen
    memcpy(m, prefix, plen)
    memcpy(m + plen + blen, suffix, slen)
    for i in range(start, stop):
        memcpy(m + plen, bodies + i * blen, blen)
        if _crypto_sign(sm, &smlen, m, mlen, sk) != 0:
            return -1
        memcpy(sigs + i * 64, sm, 64)
    return 0


def ed25519_sign_many(bytes sk, bytes prefix, const uint8_t[:, ::1] bodies, bytes suffix=b"",
                      threads=None):
    """Signatures (n, 64) of ``prefix | bodies[i] | suffix`` with a 64-byte libsodium key."""
    if not sodium_bound():
        raise RuntimeError("libsodium pointers are not bound")
    if len(sk) != 64:
        raise ValueError("secret key must be 64 bytes")
    cdef Py_ssize_t n = bodies.shape[0], blen = bodies.shape[1]
    cdef Py_ssize_t plen = len(prefix), slen = len(suffix)
    if plen + blen + slen > MAX_MSG:
        raise ValueError(f"message of {plen + blen + slen} bytes exceeds {MAX_MSG}")
    out = np.empty((n, 64), dtype=np.uint8)
    cdef uint8_t[:, ::1] sigs = out
    if n == 0:
        return out
    cdef const uint8_t *skp = sk
    cdef const uint8_t *pp = prefix
    cdef const uint8_t *sp = suffix
    cdef const uint8_t *bp = &bodies[0, 0]
    cdef uint8_t *op = &sigs[0, 0]
    failed = []

    def work(Py_ssize_t a, Py_ssize_t b):
        cdef int rc
        with nogil:
            rc = _sign_rows(skp, pp, plen, bp, blen, sp, slen, op, a, b)
        if rc != 0:
            failed.append(a)

    _run_split(work, n, threads, 1024)
    if failed:
        raise RuntimeError("libsodium crypto_sign failed")
    return out


cdef int _verify_one(const uint8_t *pk, const uint8_t *msg, Py_ssize_t mlen,
                     const uint8_t *sig) noexcept nogil:
    cdef uint8_t sm[64 + MAX_MSG]
    if mlen > MAX_MSG:
        return 0
    memcpy(sm, sig, 64)
    memcpy(sm + 64, msg, mlen)
    return _crypto_sign_open(NULL, NULL, sm, 64 + mlen, pk) == 0


def ed25519_verify_many(const uint8_t[:, ::1] pks, const int32_t[::1] slot,
                        const uint8_t[:, ::1] msgs, const int32_t[::1] msg_len,
                        const uint8_t[:, ::1] sigs, threads=None):
    """Bool array: row i verifies ``sigs[i]`` over ``msgs[i, :msg_len[i]]`` with
    ``pks[slot[i]]``; rows with ``slot < 0`` are False."""
    if not sodium_bound():
        raise RuntimeError("libsodium pointers are not bound")
    cdef Py_ssize_t n = slot.shape[0], k = pks.shape[0], w = msgs.shape[1]
    if pks.shape[1] != 32 or sigs.shape[1] != 64:
        raise ValueError("public keys are 32 bytes and signatures 64")
    if msgs.shape[0] != n or msg_len.shape[0] != n or sigs.shape[0] != n:
        raise ValueError("row counts differ")
    cdef Py_ssize_t i
    for i in range(n):
        if slot[i] >= k or msg_len[i] < 0 or msg_len[i] > w or msg_len[i] > MAX_MSG:
            raise ValueError(f"row {i}: slot or message length out of range")
    out = np.zeros(n, dtype=np.bool_)
    cdef uint8_t[::1] ok = out.view(np.uint8)
    if n == 0:
        return out

    def work(Py_ssize_t a, Py_ssize_t b):
        cdef Py_ssize_t j
        with nogil:
            for j in range(a, b):
                if slot[j] >= 0:
                    ok[j] = <uint8_t>_verify_one(&pks[slot[j], 0], &msgs[j, 0], msg_len[j],
                                                 &sigs[j, 0])

    _run_split(work, n, threads, 256)
    return out
