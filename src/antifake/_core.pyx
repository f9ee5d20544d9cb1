# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Native kernels of antifake: base32 codec, BLAKE3 single-chunk hashing, batch Ed25519,
stamp encoders and the bulk parser.

Every bulk function takes and returns numpy arrays, checks shapes and lengths at the border
and runs its loop without the GIL; ``threads`` splits rows over a thread pool (results are
identical to one thread). The pure-Python modules beside this one are the public API and the
reference implementation the tests compare against.
"""

from libc.stdint cimport (uint8_t, uint16_t, uint32_t, uint64_t, int64_t, int8_t, int16_t,
                          int32_t, uintptr_t)
from libc.string cimport memcpy, memset, memchr
from libc.stdlib cimport malloc, free
from cpython.unicode cimport PyUnicode_Check
from cpython.bytes cimport PyBytes_Check, PyBytes_AS_STRING, PyBytes_GET_SIZE
import os
import threading
import numpy as np
cimport numpy as cnp

cnp.import_array()

include "_blake3.pxi"
include "_sha256.pxi"

from cpython.object cimport PyObject

cdef extern from "_b32simd.h" nogil:
    void af_b32_encode_code(const uint8_t *body, const uint8_t *sig, char vch, char *out)
    int af_b32_decode_code(const uint8_t *t, uint8_t *raw)
    int af_b32_plain_prefix(const uint8_t *t, int32_t end)
    int af_b32_level()
    int af_b32_set_level(int level)
    int32_t af_text_view(PyObject *o, const uint8_t **p)
    void af_prefetch_obj(const PyObject *o)
    void af_copy_refs(PyObject **dst, PyObject **src, Py_ssize_t n)
    int af_is_ascii(const uint8_t *p, Py_ssize_t n)

cdef extern from "Python.h":
    PyObject **PySequence_Fast_ITEMS(object o)
    object PyUnicode_New(Py_ssize_t size, Py_UCS4 maxchar)

_B32_LEVEL_NAMES = ("scalar", "avx2")
af_b32_level()  # fills the decoding table and picks the level once, at import (GIL held)


def b32_simd_level():
    """The instruction set of the code encoder and parser fast path: "scalar" or "avx2"."""
    return _B32_LEVEL_NAMES[af_b32_level()]


def b32_set_simd_level(str level):
    """Use at most `level` ("scalar", "avx2") in encode_codes and parse_texts, process-wide.

    Meant for tests and benchmarks. Never goes above what the CPU supports; returns the level
    now in force. Both levels give identical results; at "scalar" the encoder and the parser's
    fast path (bare codes, plain code URLs) use table lookups instead of AVX2.
    """
    if level not in _B32_LEVEL_NAMES:
        raise ValueError(f"level must be one of {_B32_LEVEL_NAMES}, got {level!r}")
    return _B32_LEVEL_NAMES[af_b32_set_level(_B32_LEVEL_NAMES.index(level))]

cdef extern from "Python.h":
    int PyUnicode_IS_ASCII(object o)
    void* PyUnicode_DATA(object o)
    Py_ssize_t PyUnicode_GET_LENGTH(object o)


# ---------------------------------------------------------------------------------------
# threads
# ---------------------------------------------------------------------------------------
_pool = None
_pool_lock = threading.Lock()


def shared_pool(Py_ssize_t workers=1):
    """The one thread pool of antifake's kernels (bulk codecs, hashing, signatures, graph and
    detection kernels): created on first use under a lock, so threads racing to create it get
    the same pool, and replaced by a larger one when a caller needs more workers."""
    global _pool
    with _pool_lock:
        if _pool is None or _pool._max_workers < workers:
            from concurrent.futures import ThreadPoolExecutor
            _pool = ThreadPoolExecutor(max_workers=max(workers, os.cpu_count() or 1),
                                       thread_name_prefix="antifake")
        return _pool


def _n_threads(threads):
    if threads is None:
        return os.cpu_count() or 1
    t = int(threads)
    if t < 1:
        raise ValueError("threads must be >= 1 or None")
    return t


def _run_split(func, Py_ssize_t n, threads, Py_ssize_t min_chunk=4096):
    """Call ``func(start, stop)`` over [0, n) split in contiguous ranges, on a thread pool."""
    cdef int t = _n_threads(threads)
    if t == 1 or n < 2 * min_chunk:
        func(0, n)
        return
    parts = min(t, (n + min_chunk - 1) // min_chunk)
    pool = shared_pool(parts)
    step = (n + parts - 1) // parts
    futures = [pool.submit(func, s, min(s + step, n)) for s in range(0, n, step)]
    for f in futures:
        f.result()


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


# ---------------------------------------------------------------------------------------
# Crockford base32
# ---------------------------------------------------------------------------------------
cdef const char *ALPHA = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ"
cdef int8_t DEC[256]


cdef void _init_dec():
    cdef int i
    for i in range(256):
        DEC[i] = -1
    for i in range(32):
        DEC[<uint8_t>ALPHA[i]] = i
        if ALPHA[i] >= 65 and ALPHA[i] <= 90:
            DEC[<uint8_t>ALPHA[i] + 32] = i
    DEC[ord('I')] = 1
    DEC[ord('i')] = 1
    DEC[ord('L')] = 1
    DEC[ord('l')] = 1
    DEC[ord('O')] = 0
    DEC[ord('o')] = 0


_init_dec()



cdef inline void _b32enc(const uint8_t *src, Py_ssize_t nbytes, char *dst) noexcept nogil:
    """Left-aligned base32 of nbytes (dst gets ceil(8n/5) symbols): 5 bytes -> 8 symbols at
    a time, then the remainder bit by bit."""
    cdef uint64_t acc = 0
    cdef int bits = 0, k
    cdef Py_ssize_t i = 0, o = 0
    while i + 5 <= nbytes:
        acc = ((<uint64_t>src[i] << 32) | (<uint64_t>src[i + 1] << 24)
               | (<uint64_t>src[i + 2] << 16) | (<uint64_t>src[i + 3] << 8) | src[i + 4])
        for k in range(8):
            dst[o + k] = ALPHA[(acc >> (35 - 5 * k)) & 31]
        i += 5
        o += 8
    acc = 0
    while i < nbytes:
        acc = (acc << 8) | src[i]
        bits += 8
        while bits >= 5:
            bits -= 5
            dst[o] = ALPHA[(acc >> bits) & 31]
            o += 1
        i += 1
    if bits > 0:
        dst[o] = ALPHA[(acc << (5 - bits)) & 31]


cdef inline int _b32dec(const uint8_t *src, Py_ssize_t nsym, uint8_t *dst,
                        Py_ssize_t nbytes) noexcept nogil:
    """Left-aligned decode of nsym normalised symbols into nbytes; -1 on non-zero padding."""
    cdef uint64_t acc = 0
    cdef int bits = 0
    cdef Py_ssize_t i, o = 0
    for i in range(nsym):
        acc = (acc << 5) | <uint64_t>DEC[src[i]]
        bits += 5
        if bits >= 8:
            bits -= 8
            if o < nbytes:
                dst[o] = <uint8_t>((acc >> bits) & 0xFF)
            o += 1
    if bits > 0 and (acc & ((1u << bits) - 1)) != 0:
        return -1
    return 0


cdef inline char _luhn_check(const char *sym, Py_ssize_t n) noexcept nogil:
    cdef int factor = 2, total = 0, addend
    cdef Py_ssize_t i
    for i in range(n - 1, -1, -1):
        addend = factor * DEC[<uint8_t>sym[i]]
        total += addend // 32 + addend % 32
        factor = 3 - factor
    return ALPHA[(32 - total % 32) % 32]


def b32_encode_rows(const uint8_t[:, ::1] rows, threads=None):
    """Left-aligned Crockford base32 of every row: an "S" array of ceil(8w/5) symbols."""
    cdef Py_ssize_t n = rows.shape[0], w = rows.shape[1]
    cdef Py_ssize_t nsym = (8 * w + 4) // 5
    out = np.zeros(n, dtype=f"S{max(nsym, 1)}")
    if n == 0 or w == 0:
        return out
    cdef char *op = <char *>cnp.PyArray_DATA(out)

    def work(Py_ssize_t a, Py_ssize_t b):
        cdef Py_ssize_t i
        with nogil:
            for i in range(a, b):
                _b32enc(&rows[i, 0], w, op + i * nsym)

    _run_split(work, n, threads)
    return out


# ---------------------------------------------------------------------------------------
# stamp layout kernels (see codes.py for the reference implementation)
# ---------------------------------------------------------------------------------------
cdef inline void _put_body(uint8_t *b, uint32_t key_id, uint32_t batch, uint32_t index,
                           uint64_t serial) noexcept nogil:
    cdef int k
    b[0] = (key_id >> 8) & 0xFF
    b[1] = key_id & 0xFF
    b[2] = (batch >> 16) & 0xFF
    b[3] = (batch >> 8) & 0xFF
    b[4] = batch & 0xFF
    b[5] = (index >> 16) & 0xFF
    b[6] = (index >> 8) & 0xFF
    b[7] = index & 0xFF
    for k in range(8):
        b[8 + k] = (serial >> (56 - 8 * k)) & 0xFF


def make_bodies(uint32_t key_id, uint32_t batch_id, uint32_t first_index,
                const uint64_t[::1] serials):
    """(n, 16) stamp bodies for consecutive indices starting at ``first_index``."""
    cdef Py_ssize_t n = serials.shape[0], i
    if key_id > 0xFFFF or batch_id > 0xFFFFFF or first_index + n - 1 > 0xFFFFFF:
        raise ValueError("key_id, batch_id or index out of range")
    out = np.empty((n, 16), dtype=np.uint8)
    cdef uint8_t[:, ::1] b = out
    with nogil:
        for i in range(n):
            _put_body(&b[i, 0], key_id, batch_id, first_index + <uint32_t>i, serials[i])
    return out


def encode_codes(const uint8_t[:, ::1] bodies, const uint8_t[:, ::1] sigs, int version,
                 threads=None):
    """The 129-symbol codes ("S129") of (body, signature) rows."""
    cdef Py_ssize_t n = bodies.shape[0]
    if bodies.shape[1] != 16 or sigs.shape[1] != 64 or sigs.shape[0] != n:
        raise ValueError("bodies are (n, 16) and signatures (n, 64)")
    if not 0 <= version < 32:
        raise ValueError("version is one symbol")
    out = np.empty(n, dtype="S129")  # every byte of every row is written below
    if n == 0:
        return out
    cdef char *op = <char *>cnp.PyArray_DATA(out)
    cdef char vch = ALPHA[version]

    def work(Py_ssize_t a, Py_ssize_t b):
        cdef Py_ssize_t i
        with nogil:
            for i in range(a, b):
                af_b32_encode_code(&bodies[i, 0], &sigs[i, 0], vch, op + i * 129)

    _run_split(work, n, threads)
    return out


def keyed_tags(bytes key, const uint8_t[:, ::1] msgs, Py_ssize_t out_len, threads=None):
    """Keyed BLAKE3 of every row (all rows the same length), truncated to out_len bytes."""
    if len(key) != 32:
        raise ValueError("key must be 32 bytes")
    cdef Py_ssize_t n = msgs.shape[0], w = msgs.shape[1]
    if w > 1024 or not 1 <= out_len <= 32:
        raise ValueError("rows of at most 1024 bytes, out_len 1..32")
    out = np.zeros((n, out_len), dtype=np.uint8)
    if n == 0:
        return out
    cdef uint32_t kw[8]
    b3_key_words(<const uint8_t *>(<char *>key), kw)
    cdef uint8_t[:, ::1] o = out
    cdef const uint8_t *ip = &msgs[0, 0]
    cdef uint8_t *opp = &o[0, 0]

    def work(Py_ssize_t a, Py_ssize_t b):
        with nogil:
            af_b3_hash_many(kw, AF_B3_KEYED_HASH, ip + a * w, w, w, b - a, opp + a * out_len,
                            out_len, out_len)

    _run_split(work, n, threads, 16384)
    return out


cdef inline void _put_number_msg(uint8_t *m, uint8_t domain, uint8_t version, uint32_t key_id,
                                 uint32_t batch, uint32_t index) noexcept nogil:
    m[0] = domain
    m[1] = version
    m[2] = (key_id >> 8) & 0xFF
    m[3] = key_id & 0xFF
    m[4] = (batch >> 16) & 0xFF
    m[5] = (batch >> 8) & 0xFF
    m[6] = batch & 0xFF
    m[7] = (index >> 16) & 0xFF
    m[8] = (index >> 8) & 0xFF
    m[9] = index & 0xFF


def number_messages(uint8_t domain, uint8_t version, uint32_t key_id, uint32_t batch_id,
                    uint32_t first_index, Py_ssize_t n):
    """(n, 10) tag or PIN messages for consecutive indices."""
    if key_id > 0xFFFF or batch_id > 0xFFFFFF or n < 0 or first_index + n - 1 > 0xFFFFFF:
        raise ValueError("key_id, batch_id or index out of range")
    out = np.empty((n, 10), dtype=np.uint8)
    cdef uint8_t[:, ::1] m = out
    cdef Py_ssize_t i
    with nogil:
        for i in range(n):
            _put_number_msg(&m[i, 0], domain, version, key_id, batch_id, first_index + <uint32_t>i)
    return out


def encode_numbers(uint8_t version, uint32_t key_id, uint32_t batch_id, uint32_t first_index,
                   const uint8_t[:, ::1] tags, bint grouped=True, threads=None):
    """Stamp numbers ("S23" grouped 5-5-5-5 with dashes, or "S20") for consecutive indices."""
    cdef Py_ssize_t n = tags.shape[0]
    if tags.shape[1] != 5:
        raise ValueError("tags are 5 bytes")
    if version > 3 or key_id > 0xFFFF or batch_id > 0xFFFFFF or first_index + n - 1 > 0xFFFFFF:
        raise ValueError("version, key_id, batch_id or index out of range")
    cdef Py_ssize_t width = 23 if grouped else 20
    out = np.zeros(n, dtype=f"S{width}")
    if n == 0:
        return out
    cdef char *op = <char *>cnp.PyArray_DATA(out)
    cdef uint32_t sk = key_id & 31

    def work(Py_ssize_t a, Py_ssize_t b):
        cdef Py_ssize_t i, j, o
        cdef uint8_t raw[12]
        cdef char sym[20]
        cdef uint32_t idx
        with nogil:
            for i in range(a, b):
                idx = first_index + <uint32_t>i
                # 95 data bits left-aligned in 12 bytes: v(2) sk(5) batch(24) index(24) tag(40)
                _pack_number_bits(raw, version, sk, batch_id, idx, &tags[i, 0])
                _b32enc(raw, 12, sym)  # 96 bits -> 20 symbols; first 19 are data
                sym[19] = _luhn_check(sym, 19)
                if grouped:
                    o = 0
                    for j in range(20):
                        if j and j % 5 == 0:
                            op[i * width + o] = 45  # '-'
                            o += 1
                        op[i * width + o] = sym[j]
                        o += 1
                else:
                    memcpy(op + i * width, sym, 20)

    _run_split(work, n, threads)
    return out


cdef inline void _pack_number_bits(uint8_t *raw, uint32_t version, uint32_t sk, uint32_t batch,
                                   uint32_t index, const uint8_t *tag) noexcept nogil:
    # value = v<<93 | sk<<88 | batch<<64 | index<<40 | tag, as 95 bits, then shifted left by
    # 1 so that the first 19 symbols of a 96-bit left-aligned encoding are the data symbols.
    cdef uint64_t hi = (<uint64_t>version << 29) | (<uint64_t>sk << 24) | batch  # top 31 bits
    cdef uint64_t lo = (<uint64_t>index << 40)
    cdef int k
    for k in range(5):
        lo |= <uint64_t>tag[k] << (32 - 8 * k)
    # 95-bit value = hi << 64 | lo ; shift left by 1 into 96 bits
    hi = (hi << 1) | (lo >> 63)
    lo = lo << 1
    raw[0] = (hi >> 24) & 0xFF
    raw[1] = (hi >> 16) & 0xFF
    raw[2] = (hi >> 8) & 0xFF
    raw[3] = hi & 0xFF
    for k in range(8):
        raw[4 + k] = (lo >> (56 - 8 * k)) & 0xFF


def encode_pins(const uint8_t[:, ::1] pin_bytes, bint grouped=True, threads=None):
    """PINs ("S11" grouped 3-3-3 with dashes, or "S9") from 5 derived bytes each."""
    cdef Py_ssize_t n = pin_bytes.shape[0]
    if pin_bytes.shape[1] != 5:
        raise ValueError("PIN material is 5 bytes")
    cdef Py_ssize_t width = 11 if grouped else 9
    out = np.zeros(n, dtype=f"S{width}")
    if n == 0:
        return out
    cdef char *op = <char *>cnp.PyArray_DATA(out)

    def work(Py_ssize_t a, Py_ssize_t b):
        cdef Py_ssize_t i, j, o
        cdef char sym[9]
        with nogil:
            for i in range(a, b):
                _b32enc(&pin_bytes[i, 0], 5, sym)
                sym[8] = _luhn_check(sym, 8)
                o = 0
                for j in range(9):
                    if grouped and j and j % 3 == 0:
                        op[i * width + o] = 45
                        o += 1
                    op[i * width + o] = sym[j]
                    o += 1

    _run_split(work, n, threads)
    return out


def fingerprints(bytes fp_key, const uint8_t[:, ::1] bodies, const uint8_t[:, ::1] sigs,
                 threads=None):
    """(n, 16) manifest fingerprints: keyed BLAKE3 of ``body | signature``."""
    cdef Py_ssize_t n = bodies.shape[0]
    if bodies.shape[1] != 16 or sigs.shape[1] != 64 or sigs.shape[0] != n:
        raise ValueError("bodies are (n, 16) and signatures (n, 64)")
    joined = np.empty((n, 80), dtype=np.uint8)
    joined[:, :16] = bodies
    joined[:, 16:] = sigs
    return keyed_tags(fp_key, joined, 16, threads)


def to_str_array(cnp.ndarray arr, prefix=""):
    """Object array of ``prefix + row`` strings from an "S" array (ASCII).

    A row is what ``arr[i]`` gives (trailing NUL bytes dropped). With an ASCII prefix and an
    ASCII row, the str is built directly (one allocation and two copies); other rows take
    ``prefix + arr[i].decode("ascii")``, which raises for a non-ASCII row."""
    cdef Py_ssize_t n = arr.shape[0], i, w, ln, plen
    cdef const uint8_t *base
    cdef const uint8_t *row
    cdef const char *pp
    cdef object s
    out = np.empty(n, dtype=object)
    cdef object[:] o = out
    pre = prefix
    if (arr.ndim == 1 and arr.dtype.kind == "S" and type(pre) is str and pre.isascii()
            and n > 0):
        carr = np.ascontiguousarray(arr)
        w = carr.dtype.itemsize
        base = <const uint8_t *>cnp.PyArray_DATA(carr)
        pbytes = (<str>pre).encode("ascii")
        pp = pbytes
        plen = len(pbytes)
        for i in range(n):
            row = base + i * w
            ln = w
            while ln > 0 and row[ln - 1] == 0:
                ln -= 1
            if not af_is_ascii(row, ln):
                o[i] = pre + arr[i].decode("ascii")  # raises as before
                continue
            s = PyUnicode_New(plen + ln, 127)
            memcpy(PyUnicode_DATA(s), pp, plen)
            memcpy(<char *>PyUnicode_DATA(s) + plen, row, ln)
            o[i] = s
        return out
    for i in range(n):
        o[i] = pre + arr[i].decode("ascii")
    return out


# ---------------------------------------------------------------------------------------
# bulk parsing of scanned text
# ---------------------------------------------------------------------------------------
DEF ROW = 256  # longest text accepted on the fast path; longer rows go to the slow path

# row kinds written by parse_texts
cdef enum:
    RK_SLOW = 0       # needs the Python parser (GS1 Digital Link, odd shapes, too long, non-ASCII)
    RK_CODE = 1
    RK_NUMBER = 2
    RK_MALFORMED = 3
    RK_BADCHECK = 4
    RK_GS1 = 5        # our own canonical Digital Link layout (anything else is RK_SLOW)

K_SLOW = RK_SLOW
K_CODE = RK_CODE
K_NUMBER = RK_NUMBER
K_MALFORMED = RK_MALFORMED
K_BADCHECK = RK_BADCHECK
K_GS1 = RK_GS1
cdef enum:
    SUFFIX_W = 41  # gtin 14 | expiry 6 | len(lot) 1 | lot <= 20: the signed GS1 suffix
SUFFIX_MAX = SUFFIX_W


cdef inline int _is_gtin_segment(const uint8_t *t) noexcept nogil:
    """t[0:6] is "/gtin/" in any case (t[0] is known to be '/')."""
    return ((t[1] | 32) == 103 and (t[2] | 32) == 116 and (t[3] | 32) == 105
            and (t[4] | 32) == 110 and t[5] == 47)


cdef inline int _is_strip(uint8_t c) noexcept nogil:
    """ASCII whitespace as Python's str.strip() sees it (the reference strips with it)."""
    return c == 32 or (c >= 9 and c <= 13) or (c >= 28 and c <= 31)


cdef inline int _is_sep(uint8_t c) noexcept nogil:
    return c == 32 or c == 45 or c == 9 or c == 13 or c == 10 or c == 46 or c == 95


cdef inline int _is_unreserved(uint8_t c) noexcept nogil:
    return ((c >= 48 and c <= 57) or (c >= 65 and c <= 90) or (c >= 97 and c <= 122)
            or c == 45 or c == 46 or c == 95)


cdef int _symbols(const uint8_t *t, int32_t a, int32_t b, uint8_t *out, int32_t want
                  ) noexcept nogil:
    """Normalise exactly ``want`` Crockford symbols from t[a:b] (no separators); -1 if not."""
    cdef int32_t i
    if b - a != want:
        return -1
    for i in range(want):
        if DEC[t[a + i]] < 0:
            return -1
        out[i] = <uint8_t>ALPHA[DEC[t[a + i]]]
    return 0


cdef int _parse_gs1(const uint8_t *t, int32_t a, int32_t b, int32_t p01, uint8_t *raw,
                    uint8_t *suffix, uint8_t *suffix_len) noexcept nogil:
    """Our canonical GS1 stamp URL: .../01/{14 digits}[/10/{lot}]/21/{13 symbols}?params with
    params 17={6 digits} and s={117 symbols} in any order. Returns the version, or -1 when the
    text is not exactly that (the Python parser then decides)."""
    cdef int32_t i = p01 + 4, j, q, lot_a = -1, lot_b = -1, ser_a, ser_b, exp_a = -1, tail_a = -1
    cdef int32_t sum3 = 0, sum1 = 0, ck
    cdef uint8_t sym[117]
    cdef uint8_t tmp[72]
    cdef uint64_t serial = 0, acc
    cdef int k, g, ver
    cdef int8_t d
    cdef const void *z
    if i + 14 > b:
        return -1
    for j in range(14):
        if t[i + j] < 48 or t[i + j] > 57:
            return -1
    for j in range(13):
        if j % 2 == 0:
            sum3 += t[i + j] - 48
        else:
            sum1 += t[i + j] - 48
    ck = (10 - (3 * sum3 + sum1) % 10) % 10
    if ck != t[i + 13] - 48:
        return -1
    memcpy(suffix, t + i, 14)
    i += 14
    if i + 4 <= b and t[i] == 47 and t[i + 1] == 49 and t[i + 2] == 48 and t[i + 3] == 47:
        lot_a = i + 4
        lot_b = lot_a
        while lot_b < b and t[lot_b] != 47 and t[lot_b] != 63:
            if not _is_unreserved(t[lot_b]):
                return -1
            lot_b += 1
        if lot_b == lot_a or lot_b - lot_a > 20:
            return -1
        i = lot_b
    if not (i + 4 <= b and t[i] == 47 and t[i + 1] == 50 and t[i + 2] == 49 and t[i + 3] == 47):
        return -1
    ser_a = i + 4
    ser_b = ser_a
    while ser_b < b and t[ser_b] != 63:
        ser_b += 1
    if ser_b >= b or _symbols(t, ser_a, ser_b, sym, 13) != 0:
        return -1
    for j in range(13):
        serial = (serial << 5) | <uint64_t>DEC[sym[j]]
    if DEC[sym[0]] >= 16:  # 65 bits: the top one must be zero
        return -1
    # query parameters
    q = ser_b + 1
    while q < b:
        z = memchr(t + q, 38, b - q)  # the next '&'
        j = <int32_t>(<const uint8_t *>z - t) if z != NULL else b
        if j - q == 9 and t[q] == 49 and t[q + 1] == 55 and t[q + 2] == 61 and exp_a < 0:
            exp_a = q + 3
            for k in range(6):
                if t[exp_a + k] < 48 or t[exp_a + k] > 57:
                    return -1
        elif j - q == 119 and (t[q] == 115 or t[q] == 83) and t[q + 1] == 61 and tail_a < 0:
            tail_a = q + 2
        else:
            return -1
        q = j + 1
    if tail_a < 0 or t[b - 1] == 38:
        return -1
    # the version symbol, then 116 symbols: 72 bytes and 4 zero pad bits, 8 symbols at a time
    ver = DEC[t[tail_a]]
    if ver < 0:
        return -1
    for g in range(15):
        acc = 0
        for k in range(8 if g < 14 else 4):
            d = DEC[t[tail_a + 1 + 8 * g + k]]
            if d < 0:
                return -1
            acc = (acc << 5) | <uint64_t>d
        if g < 14:
            for k in range(5):
                tmp[5 * g + k] = (acc >> (32 - 8 * k)) & 0xFF
        else:
            if acc & 15:
                return -1
            tmp[70] = (acc >> 12) & 0xFF
            tmp[71] = (acc >> 4) & 0xFF
    memcpy(raw, tmp, 8)
    for k in range(8):
        raw[8 + k] = (serial >> (56 - 8 * k)) & 0xFF
    memcpy(raw + 16, tmp + 8, 64)
    if exp_a >= 0:
        memcpy(suffix + 14, t + exp_a, 6)
    else:
        memset(suffix + 14, 0, 6)
    if lot_a >= 0:
        suffix[20] = <uint8_t>(lot_b - lot_a)
        memcpy(suffix + 21, t + lot_a, lot_b - lot_a)
        suffix_len[0] = <uint8_t>(21 + lot_b - lot_a)
    else:
        suffix[20] = 0
        suffix_len[0] = 21
    return ver


cdef uint8_t CLS[256]  # character classes for the single scanning pass of _parse_row
cdef enum:
    C_SLOW = 1    # non-ASCII, '#', '%', ';': the Python parser decides
    C_NUL = 2
    C_SLASH = 4
    C_QUERY = 8
    C_SEP = 16    # separators people and scanners add
    C_HIGH = 32   # a byte >= 128 (with C_SLOW): the row goes to the Python parser even with a
                  # NUL, as a non-ASCII str does (the kernel cannot read one): same kind for
                  # a str and its UTF-8 bytes


cdef void _init_cls():
    cdef int i
    for i in range(256):
        CLS[i] = (C_SLOW | C_HIGH) if i >= 128 else 0
    CLS[35] = C_SLOW
    CLS[37] = C_SLOW
    CLS[59] = C_SLOW
    CLS[0] = C_NUL
    CLS[47] = C_SLASH
    CLS[63] = C_QUERY
    for i in (32, 45, 9, 13, 10, 46, 95):
        CLS[i] = C_SEP


_init_cls()


cdef inline void _pack5(const uint8_t *vals, Py_ssize_t nsym, uint8_t *dst) noexcept nogil:
    """Pack 5-bit values, 8 at a time, into bytes (nsym a multiple of 8)."""
    cdef uint64_t acc
    cdef Py_ssize_t g, k
    for g in range(nsym // 8):
        acc = 0
        for k in range(8):
            acc = (acc << 5) | vals[8 * g + k]
        for k in range(5):
            dst[5 * g + k] = (acc >> (32 - 8 * k)) & 0xFF


cdef int _parse_row(const uint8_t *t, int32_t ln, uint8_t *kind, uint8_t *raw,
                    uint8_t *suffix, uint8_t *suffix_len) noexcept nogil:
    """Classify and decode one row. raw receives: for codes the 80 bytes body|signature;
    for numbers 12 bytes of number bits (data left-aligned). Returns the version."""
    cdef int32_t a = 0, b = ln, i, last_slash = -1, nsym = 0, p01 = -1, gtin = 0
    cdef uint8_t vals[136]
    cdef uint8_t c, cl, any_cl = 0
    cdef int v, factor, total, addend
    kind[0] = RK_SLOW
    if ln < 0:
        return 0
    while a < b and _is_strip(t[a]):
        a += 1
    while b > a and _is_strip(t[b - 1]):
        b -= 1
    if a == b:
        kind[0] = RK_MALFORMED
        return 0
    for i in range(a, b):
        cl = CLS[t[i]]
        if cl:
            any_cl |= cl
            if cl & C_SLASH:
                last_slash = i
                if (p01 < 0 and not (any_cl & C_QUERY) and i + 3 < b and t[i + 1] == 48
                        and t[i + 2] == 49 and t[i + 3] == 47):
                    p01 = i  # a GS1 path segment, before any query string:
                    break    # _parse_gs1 checks every character from here on
                if i + 5 < b and _is_gtin_segment(t + i):
                    gtin = 1  # "/gtin/": the reference parser takes the GS1 branch
    if p01 >= 0:
        # _parse_gs1 accepts no NUL, non-ASCII, '#', '%' or ';': where it succeeds, the rest
        # of the row holds none; where it fails, the rest is classified as below
        if not (any_cl & (C_NUL | C_SLOW)) and not gtin:  # "/gtin/": a decoy key
            v = _parse_gs1(t, a, b, p01, raw, suffix, suffix_len)
            if v >= 0:
                kind[0] = RK_GS1
                return v
        for i in range(p01, b):
            any_cl |= CLS[t[i]]
        if any_cl & C_NUL and not (any_cl & C_HIGH):
            kind[0] = RK_MALFORMED
        return 0
    if any_cl & C_NUL and not (any_cl & C_HIGH):
        kind[0] = RK_MALFORMED
        return 0
    if any_cl & C_SLOW:
        return 0
    if any_cl & C_QUERY or gtin:  # '?' or "/gtin/" outside our GS1 layout
        return 0
    if last_slash >= 0:
        if last_slash == b - 1:
            return 0
        if last_slash >= a + 2 and t[last_slash - 1] == 47 and t[last_slash - 2] == 58:
            return 0  # "scheme://host" without a path: the host is no code (the reference decides)
        a = last_slash + 1
    for i in range(a, b):
        c = t[i]
        v = DEC[c]
        if v < 0:
            if CLS[c] & C_SEP:
                continue
            kind[0] = RK_MALFORMED
            return 0
        if nsym >= 129:
            kind[0] = RK_MALFORMED
            return 0
        vals[nsym] = <uint8_t>v
        nsym += 1
    if nsym == 129:
        _pack5(vals + 1, 128, raw)
        kind[0] = RK_CODE
        return vals[0]
    if nsym == 20:
        factor = 1
        total = 0
        for i in range(19, -1, -1):
            addend = factor * vals[i]
            total += (addend >> 5) + (addend & 31)
            factor = 3 - factor
        if total % 32 != 0:
            kind[0] = RK_BADCHECK
            return 0
        vals[19] = 0  # 19 data symbols + a zero symbol: 100 bits, left-aligned
        for i in range(20, 24):
            vals[i] = 0
        _pack5(vals, 24, raw)  # 15 bytes; the first 12 hold the 95 data bits
        memset(raw + 12, 0, 3)
        kind[0] = RK_NUMBER
        return raw[0] >> 6
    kind[0] = RK_MALFORMED
    return 0


cdef inline int _parse_one(const uint8_t *t, int32_t ln, uint8_t *kind, uint8_t *raw,
                           uint8_t *suffix, uint8_t *suffix_len, int fast) noexcept nogil:
    """_parse_row with a vector fast path for the canonical forms: a bare 129-symbol code and
    a URL whose last segment is one (prefix without '?', '#', '%', ';', NUL, non-ASCII, "/01/"
    or "/gtin/", checked 32 bytes at a time: af_b32_plain_prefix).
    Anything else, or any non-symbol in those 129 characters, goes to _parse_row, so the
    results are those of _parse_row on every row."""
    cdef int v
    if fast and ln >= 129:
        if ln == 129:
            v = af_b32_decode_code(t, raw)
            if v >= 0:
                kind[0] = RK_CODE
                return v
        elif t[ln - 130] == 47 and af_b32_plain_prefix(t, ln - 129) == 1:
            v = af_b32_decode_code(t + ln - 129, raw)
            if v >= 0:
                kind[0] = RK_CODE
                return v
    return _parse_row(t, ln, kind, raw, suffix, suffix_len)


def parse_texts(texts, threads=None):
    """Classify and decode a sequence (or 1-D object / "S" array) of str/bytes without a Python
    object per row: kind (uint8 ``K_*``), version (uint8), raw (n, 80) uint8 (body | signature
    for codes and GS1 URLs; number bits for numbers), suffix (n, 41) and suffix_len (uint8)
    holding the signed GS1 attributes of GS1 rows. Rows of kind ``K_SLOW`` are for the exact
    Python parser (non-ASCII, longer than 255 bytes, not text, unusual layouts).

    The rows are first taken, with the GIL held, into a private array (see `hold_texts`):
    the GIL-free kernel reads only that, so no other thread can change or free a row under it
    (cost: one new reference per row, which touches every row object once more, or a copy of
    an "S" array: 25-140 ns a row measured on the loaded 2-core build machine, a third to a
    half of the parse; docs/performance.md). Bare codes
    and plain code URLs take a fast path (AVX2 or scalar, see ``b32_set_simd_level``); every
    other row, and any row the fast path does not accept, goes through the generic row
    parser."""
    return _parse_texts(hold_texts(texts), threads, 1)


def _parse_texts_generic(texts, threads=None):
    """parse_texts without the fast path: the generic row parser on every row (for tests)."""
    return _parse_texts(hold_texts(texts), threads, 0)


cdef inline uint64_t _be_bytes(const uint8_t *p, int n) noexcept nogil:
    cdef uint64_t v = 0
    cdef int k
    for k in range(n):
        v = (v << 8) | p[k]
    return v


cdef struct RowOut:
    # where _emit_row writes row j: raw rows (parse_texts) or decoded columns (parse_columns)
    uint8_t *kind
    uint8_t *version
    uint8_t *raw          # (n, 80), or NULL: decode into the columns below instead
    uint8_t *suffix       # (n, SUFFIX_MAX), zero-initialised
    uint8_t *suffix_len
    int32_t *key_id
    int64_t *batch
    int64_t *index
    uint64_t *serial
    uint8_t *sig          # (n, 64), zero-initialised
    uint8_t *tag          # (n, 5), zero-initialised


cdef inline void _decode_row(uint8_t kind, const uint8_t *raw, RowOut *o, Py_ssize_t j
                             ) noexcept nogil:
    """The fields of one raw row (codes.unpack_body; codes._decode_number for numbers)."""
    cdef uint64_t hi, lo, tv
    cdef int k
    if kind == RK_CODE or kind == RK_GS1:
        o.key_id[j] = <int32_t>_be_bytes(raw, 2)
        o.batch[j] = <int64_t>_be_bytes(raw + 2, 3)
        o.index[j] = <int64_t>_be_bytes(raw + 5, 3)
        o.serial[j] = _be_bytes(raw + 8, 8)
        memcpy(o.sig + 64 * j, raw + 16, 64)
    elif kind == RK_NUMBER:
        # 95 bits, left-aligned: v(2) short key(5) batch(24) index(24) tag(40)
        hi = _be_bytes(raw, 4)
        lo = _be_bytes(raw + 4, 8)
        o.key_id[j] = <int32_t>((hi >> 25) & 31)
        o.batch[j] = <int64_t>((hi >> 1) & 0xFFFFFF)
        o.index[j] = <int64_t>(((hi & 1) << 23) | (lo >> 41))
        o.serial[j] = 0
        tv = (lo >> 1) & ((<uint64_t>1 << 40) - 1)
        for k in range(5):
            o.tag[5 * j + k] = (tv >> (32 - 8 * k)) & 0xFF
    else:
        o.key_id[j] = -1
        o.batch[j] = -1
        o.index[j] = -1
        o.serial[j] = 0


cdef inline void _emit_row(RowOut *o, Py_ssize_t j, const uint8_t *t, int32_t ln, int fast
                           ) noexcept nogil:
    """Parse row j into raw form, or straight into the decoded columns."""
    cdef uint8_t raw[80]
    if o.raw != NULL:
        o.version[j] = <uint8_t>_parse_one(t, ln, &o.kind[j], o.raw + 80 * j,
                                           o.suffix + SUFFIX_W * j, &o.suffix_len[j], fast)
        return
    o.version[j] = <uint8_t>_parse_one(t, ln, &o.kind[j], raw, o.suffix + SUFFIX_W * j,
                                       &o.suffix_len[j], fast)
    _decode_row(o.kind[j], raw, o, j)


def _parse_held(held, threads=None):
    """parse_texts of an array returned by `hold_texts` that the caller owns alone (no copy)."""
    return _parse_texts(held, threads, 1)


def hold_texts(texts):
    """A private 1-D array of the rows of ``texts``, taken with the GIL held: an object array
    holding a reference to every row (a list, tuple, object array or any sequence, read by
    position), or a copy of an "S" array. Nothing another thread does to ``texts`` afterwards
    (assigning, resizing, freeing rows) reaches it. ``TypeError`` for what is not a sized,
    ordered sequence of rows (a set, a mapping, an iterator, a 0-d or 2-d array)."""
    cdef Py_ssize_t n
    if isinstance(texts, np.ndarray):
        if texts.ndim != 1:
            raise TypeError(f"expected a 1-D array of texts, got a {texts.ndim}-D array")
        if texts.dtype.kind == "S":
            return np.array(texts, copy=True, order="C")
        if texts.dtype == object:
            src = np.ascontiguousarray(texts)
            holder = np.empty(src.shape[0], dtype=object)
            af_copy_refs(<PyObject **>cnp.PyArray_DATA(holder),  # a new reference per row
                         <PyObject **>cnp.PyArray_DATA(src), src.shape[0])
            return holder
        return texts.astype(object)
    if isinstance(texts, (set, frozenset, dict)) or not hasattr(texts, "__len__") \
            or isinstance(texts, (str, bytes, bytearray, memoryview)):
        raise TypeError(f"expected a sequence or 1-D array of texts, not {type(texts).__name__}")
    n = len(texts)
    holder = np.empty(n, dtype=object)
    if type(texts) is list or type(texts) is tuple:
        af_copy_refs(<PyObject **>cnp.PyArray_DATA(holder), PySequence_Fast_ITEMS(texts), n)
        return holder
    held = np.fromiter(iter(texts), dtype=object, count=n)  # by position (a pandas Series too)
    return held


def parse_columns(texts, threads=None):
    """parse_texts decoded in the same GIL-free pass: kind, version (uint8), key_id (int32;
    the 5-bit short id for numbers), batch_id, index (int64), serial (uint64), signature
    (n, 64), tag (n, 5), suffix (n, 41) and suffix_len, as ``decode_columns`` gives them."""
    return _parse_texts(hold_texts(texts), threads, 1, 1)


cdef _parse_texts(holder, threads, int fast, int columns=0):
    """parse_texts of a private array from `hold_texts`; fast=0 skips the fast path;
    columns=1: parse_columns."""
    cdef Py_ssize_t n = len(holder), i
    cdef RowOut out
    kind = np.zeros(n, dtype=np.uint8)
    version = np.zeros(n, dtype=np.uint8)
    suffix = np.zeros((n, SUFFIX_MAX), dtype=np.uint8)
    suffix_len = np.zeros(n, dtype=np.uint8)
    if columns:
        raw = None
        key_id = np.empty(n, dtype=np.int32)  # every row is written
        batch = np.empty(n, dtype=np.int64)
        index = np.empty(n, dtype=np.int64)
        serial = np.empty(n, dtype=np.uint64)
        sig = np.zeros((n, 64), dtype=np.uint8)
        tag = np.zeros((n, 5), dtype=np.uint8)
        result = (kind, version, key_id, batch, index, serial, sig, tag, suffix, suffix_len)
    else:
        raw = np.zeros((n, 80), dtype=np.uint8)
        result = (kind, version, raw, suffix, suffix_len)
    if n == 0:
        return result
    out.kind = <uint8_t *>cnp.PyArray_DATA(kind)
    out.version = <uint8_t *>cnp.PyArray_DATA(version)
    out.suffix = <uint8_t *>cnp.PyArray_DATA(suffix)
    out.suffix_len = <uint8_t *>cnp.PyArray_DATA(suffix_len)
    out.raw = NULL if columns else <uint8_t *>cnp.PyArray_DATA(raw)
    if columns:
        out.key_id = <int32_t *>cnp.PyArray_DATA(key_id)
        out.batch = <int64_t *>cnp.PyArray_DATA(batch)
        out.index = <int64_t *>cnp.PyArray_DATA(index)
        out.serial = <uint64_t *>cnp.PyArray_DATA(serial)
        out.sig = <uint8_t *>cnp.PyArray_DATA(sig)
        out.tag = <uint8_t *>cnp.PyArray_DATA(tag)
    cdef RowOut *O = &out
    cdef PyObject **objs = NULL
    cdef const char *sbase = NULL
    cdef Py_ssize_t width = 0
    if not (isinstance(holder, np.ndarray) and holder.ndim == 1 and holder.flags.c_contiguous
            and (holder.dtype.kind == "S" or holder.dtype == object)):
        raise TypeError("internal: _parse_texts needs an array from hold_texts")
    if holder.dtype.kind == "S":
        sbase = <const char *>cnp.PyArray_DATA(holder)
        width = holder.dtype.itemsize
    else:
        objs = <PyObject **>cnp.PyArray_DATA(holder)

    def work(Py_ssize_t a, Py_ssize_t b):
        cdef Py_ssize_t j, k
        cdef const uint8_t *t = NULL
        cdef int32_t ln
        with nogil:
            if objs != NULL:
                for j in range(a, b):
                    if j + 8 < b:  # the rows' objects: a few cache lines each, ahead
                        af_prefetch_obj(objs[j + 8])
                    ln = af_text_view(objs[j], &t)
                    if ln >= ROW:
                        ln = -1
                    _emit_row(O, j, t, ln, fast)
            else:
                for j in range(a, b):
                    t = <const uint8_t *>(sbase + j * width)
                    # an "S" row is its bytes without the trailing NUL padding (as numpy
                    # returns it); a NUL inside is part of the row (MALFORMED, as verify says)
                    k = width
                    while k > 0 and t[k - 1] == 0:
                        k -= 1
                    ln = <int32_t>min(k, ROW)
                    if ln >= ROW:
                        ln = -1
                    _emit_row(O, j, t, ln, fast)

    _run_split(work, n, threads)
    del holder
    return result


# ---------------------------------------------------------------------------------------
# decoded columns, signed and tag messages (the stamp layout of codes.py, over arrays)
# ---------------------------------------------------------------------------------------
def decode_columns(const uint8_t[::1] kind, const uint8_t[:, ::1] raw, threads=None):
    """The fields of parse_texts' raw rows as columns: key_id (int32; the 5-bit short id for
    numbers), batch_id, index (int64), serial (uint64), signature (n, 64) and tag (n, 5).

    Rows that are neither codes, GS1 URLs nor numbers get -1 in key_id, batch_id and index and
    zeros elsewhere. Same layout as ``codes.unpack_body`` and ``codes._decode_number``."""
    cdef Py_ssize_t n = kind.shape[0]
    if raw.shape[0] != n or raw.shape[1] != 80:
        raise ValueError("raw is (n, 80) with one row per kind")
    key_id = np.empty(n, dtype=np.int32)
    batch = np.empty(n, dtype=np.int64)
    index = np.empty(n, dtype=np.int64)
    serial = np.empty(n, dtype=np.uint64)
    sig = np.zeros((n, 64), dtype=np.uint8)
    tag = np.zeros((n, 5), dtype=np.uint8)
    if n == 0:
        return key_id, batch, index, serial, sig, tag
    cdef RowOut out
    out.key_id = <int32_t *>cnp.PyArray_DATA(key_id)
    out.batch = <int64_t *>cnp.PyArray_DATA(batch)
    out.index = <int64_t *>cnp.PyArray_DATA(index)
    out.serial = <uint64_t *>cnp.PyArray_DATA(serial)
    out.sig = <uint8_t *>cnp.PyArray_DATA(sig)
    out.tag = <uint8_t *>cnp.PyArray_DATA(tag)
    cdef RowOut *O = &out

    def work(Py_ssize_t a, Py_ssize_t b):
        cdef Py_ssize_t j
        with nogil:
            for j in range(a, b):
                _decode_row(kind[j], &raw[j, 0], O, j)

    _run_split(work, n, threads, 16384)
    return key_id, batch, index, serial, sig, tag


cdef inline Py_ssize_t _put_signed_msg(uint8_t *m, const uint8_t *ctx, Py_ssize_t clen,
                                       uint8_t version, uint32_t key_id, uint32_t batch,
                                       uint32_t index, uint64_t serial, const uint8_t *suffix,
                                       Py_ssize_t slen) noexcept nogil:
    """codes.signed_message: context | version | flags | body [| GS1 suffix]; its length."""
    memcpy(m, ctx, clen)
    m[clen] = version
    m[clen + 1] = 1 if slen > 0 else 0
    _put_body(m + clen + 2, key_id, batch, index, serial)
    if slen > 0:
        memcpy(m + clen + 18, suffix, slen)
    return clen + 18 + slen


def signed_messages(bytes context, uint8_t version, const int32_t[::1] key_id,
                    const int64_t[::1] batch, const int64_t[::1] index,
                    const uint64_t[::1] serial, const uint8_t[:, ::1] suffix,
                    const uint8_t[::1] suffix_len):
    """(msgs (n, w) uint8, lengths int32): the message Ed25519 signs for each row, as
    ``codes.signed_message`` builds it (GS1 attributes signed where ``suffix_len > 0``)."""
    cdef Py_ssize_t n = key_id.shape[0], i, clen = len(context), sw = suffix.shape[1]
    if (batch.shape[0] != n or index.shape[0] != n or serial.shape[0] != n
            or suffix.shape[0] != n or suffix_len.shape[0] != n):
        raise ValueError("row counts differ")
    if clen + 18 + sw > MAX_MSG:
        raise ValueError("signed message too long")
    for i in range(n):
        if (key_id[i] < 0 or key_id[i] > 0xFFFF or batch[i] < 0 or batch[i] > 0xFFFFFF
                or index[i] < 0 or index[i] > 0xFFFFFF or suffix_len[i] > sw):
            raise ValueError(f"row {i}: key_id, batch, index or suffix length out of range")
    out = np.zeros((n, clen + 18 + sw), dtype=np.uint8)
    lens = np.zeros(n, dtype=np.int32)
    if n == 0:
        return out, lens
    cdef uint8_t[:, ::1] m = out
    cdef int32_t[::1] L = lens
    cdef const uint8_t *cp = context
    with nogil:
        for i in range(n):
            L[i] = <int32_t>_put_signed_msg(&m[i, 0], cp, clen, version, <uint32_t>key_id[i],
                                            <uint32_t>batch[i], <uint32_t>index[i], serial[i],
                                            &suffix[i, 0], suffix_len[i])
    return out, lens


cdef int _check_rows(const int32_t[::1] key_id, const int64_t[::1] batch,
                     const int64_t[::1] index) except -1:
    """Refuse a row whose key id, batch or index does not fit the stamp layout's fields."""
    cdef Py_ssize_t i
    for i in range(key_id.shape[0]):
        if (key_id[i] < 0 or key_id[i] > 0xFFFF or batch[i] < 0 or batch[i] > 0xFFFFFF
                or index[i] < 0 or index[i] > 0xFFFFFF):
            raise ValueError(f"row {i}: key_id, batch or index out of range")
    return 0


def tag_messages(uint8_t domain, uint8_t version, const int32_t[::1] key_id,
                 const int64_t[::1] batch, const int64_t[::1] index):
    """(n, 10) tag (domain "N") or PIN (domain "P") messages of arbitrary rows, as
    ``codes.tag_message`` / ``codes.pin_message`` build them."""
    cdef Py_ssize_t n = key_id.shape[0], i
    if batch.shape[0] != n or index.shape[0] != n:
        raise ValueError("row counts differ")
    _check_rows(key_id, batch, index)
    out = np.empty((n, 10), dtype=np.uint8)
    cdef uint8_t[:, ::1] m = out
    with nogil:
        for i in range(n):
            _put_number_msg(&m[i, 0], domain, version, <uint32_t>key_id[i], <uint32_t>batch[i],
                            <uint32_t>index[i])
    return out


DEF TAG_CHUNK = 64


def number_tags_ok(const uint8_t[:, ::1] tag_keys, const int32_t[::1] full_key_id,
                   uint8_t domain, uint8_t version, const int32_t[::1] short_id,
                   const int64_t[::1] batch, const int64_t[::1] index,
                   const uint8_t[:, ::1] tag, threads=None):
    """Bool array: row i's 5-byte ``tag`` equals the keyed BLAKE3 of its tag message
    (``codes.tag_message`` with the full key id ``full_key_id[short_id[i]]``) under
    ``tag_keys[short_id[i]]``. Rows whose short id has ``full_key_id < 0``, or with
    ``short_id < 0``, are False. Messages are built, hashed (8 or 16 at a time) and compared
    in one GIL-free pass, without a temporary array."""
    cdef Py_ssize_t n = short_id.shape[0], nk = tag_keys.shape[0], i
    if tag_keys.shape[1] != 32 or full_key_id.shape[0] != nk:
        raise ValueError("tag_keys is (k, 32) with one full key id per row")
    if batch.shape[0] != n or index.shape[0] != n or tag.shape[0] != n or tag.shape[1] != 5:
        raise ValueError("row counts differ or tags are not 5 bytes")
    for i in range(nk):
        if full_key_id[i] > 0xFFFF:
            raise ValueError("key id out of range")
    out = np.zeros(n, dtype=np.bool_)
    if n == 0 or nk == 0:
        return out
    cdef uint8_t[::1] ok = out.view(np.uint8)
    words_arr = np.empty((nk, 8), dtype=np.uint32)
    cdef uint32_t[:, ::1] W = words_arr
    for i in range(nk):
        b3_key_words(&tag_keys[i, 0], &W[i, 0])

    def work(Py_ssize_t a, Py_ssize_t b):
        cdef Py_ssize_t j, s, e, r, cnt
        cdef int32_t k
        cdef uint8_t msgs[TAG_CHUNK * 10]
        cdef uint8_t got[TAG_CHUNK * 5]
        cdef Py_ssize_t rows[TAG_CHUNK]
        cdef uint8_t done[TAG_CHUNK]
        cdef uint8_t diff
        cdef int q
        with nogil:
            s = a
            while s < b:
                e = min(s + TAG_CHUNK, b)
                memset(done, 0, TAG_CHUNK)
                for j in range(s, e):  # one key at a time: the rows of this chunk with its id
                    k = short_id[j]
                    if done[j - s] or k < 0 or k >= nk or full_key_id[k] < 0:
                        continue
                    cnt = 0
                    for r in range(j, e):
                        if short_id[r] != k or done[r - s]:
                            continue
                        done[r - s] = 1
                        if batch[r] < 0 or batch[r] > 0xFFFFFF or index[r] < 0 \
                                or index[r] > 0xFFFFFF:
                            continue
                        _put_number_msg(msgs + 10 * cnt, domain, version,
                                        <uint32_t>full_key_id[k], <uint32_t>batch[r],
                                        <uint32_t>index[r])
                        rows[cnt] = r
                        cnt += 1
                    af_b3_hash_many(&W[k, 0], AF_B3_KEYED_HASH, msgs, 10, 10, cnt, got, 5, 5)
                    for r in range(cnt):
                        diff = 0
                        for q in range(5):
                            diff |= got[5 * r + q] ^ tag[rows[r], q]
                        ok[rows[r]] = diff == 0
                s = e

    _run_split(work, n, threads, 16384)
    return out


def pack_bodies(const int32_t[::1] key_id, const int64_t[::1] batch, const int64_t[::1] index,
                const uint64_t[::1] serial):
    """(n, 16) stamp bodies of arbitrary rows (``codes.pack_body``)."""
    cdef Py_ssize_t n = key_id.shape[0], i
    if batch.shape[0] != n or index.shape[0] != n or serial.shape[0] != n:
        raise ValueError("row counts differ")
    _check_rows(key_id, batch, index)
    out = np.empty((n, 16), dtype=np.uint8)
    cdef uint8_t[:, ::1] b = out
    with nogil:
        for i in range(n):
            _put_body(&b[i, 0], <uint32_t>key_id[i], <uint32_t>batch[i], <uint32_t>index[i],
                      serial[i])
    return out
