# BLAKE3 single-chunk kernels (included by _core.pyx).
#
# C side: _blake3.h (scalar, AVX2 8 lanes, AVX-512F 16 lanes, run-time dispatch).
# Cython side, for other kernels of _core (no Python objects, callable without the GIL):
#     b3_key_words(key32, words8)          32 key bytes -> 8 little-endian words
#     b3_iv_words(words8)                  the IV (plain hashing)
#     af_b3_hash(key_words, flags, in, len, out, out_len)
#     af_b3_hash_many(key_words, flags, in, in_stride, len, n, out, out_stride, out_len)
# with flags 0 (key_words = IV) or AF_B3_KEYED_HASH (key_words = b3_key_words(key)).
# Python side: blake3_many, blake3_hash, blake3_simd_level, blake3_set_simd_level.

cdef extern from "_blake3.h" nogil:
    const uint32_t AF_B3_KEYED_HASH
    const uint32_t AF_B3_DERIVE_KEY_CONTEXT
    const uint32_t AF_B3_DERIVE_KEY_MATERIAL
    const uint32_t AF_B3_IV[8]
    void af_b3_hash(const uint32_t* key, uint32_t flags, const uint8_t* data, size_t length,
                    uint8_t* out, size_t out_len)
    void af_b3_hash_many(const uint32_t* key, uint32_t flags, const uint8_t* data,
                         size_t in_stride, size_t length, size_t n,
                         uint8_t* out, size_t out_stride, size_t out_len)
    int af_b3_level()
    int af_b3_set_level(int level)

import os as _b3_os
import threading as _b3_threading
from concurrent.futures import ThreadPoolExecutor as _B3Executor

cdef enum:
    _B3_MAX_LEN = 1024
    # Rows below which a thread is not worth starting; chunks are cut at multiples of 16 rows.
    _B3_MIN_ROWS_PER_THREAD = 4096

_B3_LEVEL_NAMES = ("scalar", "avx2", "avx512")


cdef inline void b3_key_words(const uint8_t* key32, uint32_t* out8) noexcept nogil:
    """Load a 32-byte BLAKE3 key as 8 little-endian words (the keyed-mode chaining value)."""
    cdef int i
    for i in range(8):
        out8[i] = (<uint32_t>key32[4 * i]
                   | (<uint32_t>key32[4 * i + 1] << 8)
                   | (<uint32_t>key32[4 * i + 2] << 16)
                   | (<uint32_t>key32[4 * i + 3] << 24))


cdef inline void b3_iv_words(uint32_t* out8) noexcept nogil:
    """The BLAKE3 IV: the chaining value of plain (unkeyed) hashing, flags 0."""
    memcpy(out8, AF_B3_IV, 32)


cdef uint32_t _b3_parse_key(object key, uint32_t* words) except? 0xFFFFFFFF:
    """Fill `words` for `key` (None or 32 bytes) and return the flags (0 or KEYED_HASH)."""
    cdef const uint8_t[::1] kv
    if key is None:
        b3_iv_words(words)
        return 0
    if type(key) is bytes and len(<bytes>key) == 32:
        b3_key_words(<const uint8_t*><const char*>key, words)
        return AF_B3_KEYED_HASH
    try:
        if isinstance(key, str):
            raise TypeError
        kb = memoryview(key).tobytes()
    except TypeError:
        raise TypeError(f"key must be None or 32 bytes, not {type(key).__name__}") from None
    if len(kb) != 32:
        raise ValueError(f"key must be exactly 32 bytes, got {len(kb)}")
    kv = kb
    b3_key_words(&kv[0], words)
    return AF_B3_KEYED_HASH


_b3_pool = None
_b3_pool_size = 0
_b3_pool_lock = _b3_threading.Lock()


def _b3_executor(Py_ssize_t workers):
    """A shared pool with at least `workers` threads (created lazily, replaced by a larger one
    on demand; a replaced pool is not shut down, since another caller may still be submitting
    to it: its idle threads exit once it is garbage-collected)."""
    global _b3_pool, _b3_pool_size
    with _b3_pool_lock:
        if _b3_pool is None or _b3_pool_size < workers:
            _b3_pool_size = max(workers, _b3_os.cpu_count() or 1)
            _b3_pool = _B3Executor(max_workers=_b3_pool_size,
                                   thread_name_prefix="antifake-blake3")
        return _b3_pool


cdef void _b3_rows(const uint32_t* kw, uint32_t flags, const uint8_t* ip, size_t in_stride,
                   size_t length, size_t start, size_t stop, uint8_t* op,
                   size_t out_len) noexcept nogil:
    af_b3_hash_many(kw, flags, ip + start * in_stride, in_stride, length, stop - start,
                    op + start * out_len, out_len, out_len)


def blake3_many(msgs, Py_ssize_t length, key=None, Py_ssize_t out_len=32, threads=1):
    """BLAKE3 of n messages of `length` bytes (0..1024) each, in one call.

    msgs: a C-contiguous uint8 array of shape (n, stride) with stride >= length (message i is
    msgs[i, :length]), or a 1-D array / bytes-like object of n * length bytes.
    key: None (plain hash) or 32 bytes (keyed hash). out_len: digest bytes, 1..32.
    threads: rows are split across that many threads (the calling one included; None: one per
    CPU); the result does not depend on it.
    Returns a uint8 array of shape (n, out_len). The hashing runs without the GIL.
    """
    cdef uint32_t kw[8]
    cdef uint32_t flags
    cdef cnp.ndarray arr, out
    cdef Py_ssize_t n, stride, t, nthreads, per, start, stop
    cdef const uint8_t* ip
    cdef uint8_t* op

    if length < 0 or length > _B3_MAX_LEN:
        raise ValueError(f"length must be in 0..{_B3_MAX_LEN}, got {length}")
    if out_len < 1 or out_len > 32:
        raise ValueError(f"out_len must be in 1..32, got {out_len}")
    nthreads = (_b3_os.cpu_count() or 1) if threads is None else threads
    if nthreads < 1:
        raise ValueError(f"threads must be >= 1 or None, got {threads}")
    flags = _b3_parse_key(key, kw)

    if isinstance(msgs, np.ndarray):
        arr = msgs
    elif isinstance(msgs, (bytes, bytearray, memoryview)):
        arr = np.frombuffer(msgs, dtype=np.uint8)
    else:
        raise TypeError(f"msgs must be a uint8 numpy array or bytes-like, "
                        f"not {type(msgs).__name__}")
    if arr.dtype != np.uint8:
        raise ValueError(f"msgs must have dtype uint8, not {arr.dtype}")
    if not cnp.PyArray_IS_C_CONTIGUOUS(arr):
        raise ValueError("msgs must be C-contiguous (use np.ascontiguousarray)")
    if arr.ndim == 1:
        if length == 0:
            raise ValueError("length 0 needs a 2-D msgs array of shape (n, stride)")
        if arr.shape[0] % length:
            raise ValueError(f"a 1-D msgs of {arr.shape[0]} bytes is not a whole number "
                             f"of {length}-byte messages")
        n = arr.shape[0] // length
        stride = length
    elif arr.ndim == 2:
        n = arr.shape[0]
        stride = arr.shape[1]
        if stride < length:
            raise ValueError(f"msgs rows have {stride} bytes, fewer than length={length}")
    else:
        raise ValueError(f"msgs must be 1-D or 2-D, not {arr.ndim}-D")

    out = np.empty((n, out_len), dtype=np.uint8)
    if n == 0:
        return out
    ip = <const uint8_t*>cnp.PyArray_DATA(arr)
    op = <uint8_t*>cnp.PyArray_DATA(out)

    t = min(nthreads, max(<Py_ssize_t>1, n // _B3_MIN_ROWS_PER_THREAD))
    if t <= 1:
        with nogil:
            _b3_rows(kw, flags, ip, <size_t>stride, <size_t>length, 0, <size_t>n, op,
                     <size_t>out_len)
        return out

    def rows(Py_ssize_t a, Py_ssize_t b):
        with nogil:
            _b3_rows(kw, flags, ip, <size_t>stride, <size_t>length, <size_t>a, <size_t>b, op,
                     <size_t>out_len)

    # Chunks of whole 16-row groups; the calling thread takes the first one.
    per = ((n + t - 1) // t + 15) // 16 * 16
    pool = _b3_executor(t - 1)
    futures = []
    start = per
    while start < n:
        stop = min(start + per, n)
        futures.append(pool.submit(rows, start, stop))
        start = stop
    try:
        rows(0, min(per, n))
    finally:
        for fut in futures:
            fut.result()
    return out


def blake3_hash(data, key=None, Py_ssize_t out_len=32):
    """BLAKE3 of one message of at most 1024 bytes; key None (plain) or 32 bytes (keyed)."""
    cdef uint32_t kw[8]
    cdef uint32_t flags
    cdef uint8_t digest[32]
    cdef const uint8_t[::1] view
    cdef const uint8_t* p
    cdef Py_ssize_t n
    if out_len < 1 or out_len > 32:
        raise ValueError(f"out_len must be in 1..32, got {out_len}")
    flags = _b3_parse_key(key, kw)
    if type(data) is bytes:
        p = <const uint8_t*><const char*>data
        n = len(<bytes>data)
    else:
        try:
            if isinstance(data, str):
                raise TypeError
            mv = memoryview(data)
        except TypeError:
            raise TypeError(f"data must be bytes-like, not {type(data).__name__}") from None
        if not mv.c_contiguous:
            raise ValueError("data must be a C-contiguous buffer")
        view = mv.cast("B")
        n = view.shape[0]
        p = &view[0] if n else <const uint8_t*>digest
    if n > _B3_MAX_LEN:
        raise ValueError(f"data must be at most {_B3_MAX_LEN} bytes (one BLAKE3 chunk), "
                         f"got {n}")
    af_b3_hash(kw, flags, p, <size_t>n, digest, <size_t>out_len)
    return (<char*>digest)[:out_len]


def blake3_simd_level():
    """The instruction set blake3_many uses now: "scalar", "avx2" or "avx512"."""
    return _B3_LEVEL_NAMES[af_b3_level()]


def blake3_set_simd_level(str level):
    """Use at most `level` ("scalar", "avx2", "avx512") in blake3_many, process-wide.

    Meant for tests and benchmarks. Never goes above what the CPU supports; returns the level
    now in force.
    """
    if level not in _B3_LEVEL_NAMES:
        raise ValueError(f"level must be one of {_B3_LEVEL_NAMES}, got {level!r}")
    return _B3_LEVEL_NAMES[af_b3_set_level(_B3_LEVEL_NAMES.index(level))]
