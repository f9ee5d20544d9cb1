# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Native kernels of antifake: base32 codec, BLAKE3 single-chunk hashing, batch Ed25519,
stamp encoders and the bulk parser.

Every bulk function takes and returns numpy arrays, checks shapes and lengths at the border
and runs its loop without the GIL; ``threads`` splits rows over a thread pool (results are
identical to one thread). The pure-Python modules beside this one are the public API and the
reference implementation the tests compare against.

This file holds the shared declarations and the thread pool; each concern is an include:
`_ed25519.pxi` (batch signatures through libsodium), `_base32.pxi` (Crockford base32),
`_layout.pxi` (stamp bodies, codes, numbers, PINs), `_parse.pxi` (the bulk parser of scanned
text), `_columns.pxi` (decoded columns, signed and tag messages), `_service_io.pxi` (one text
parsed, bulk JSON request bodies read in place, JSON answers), `_blake3.pxi` and `_sha256.pxi`
(the hashes), `_tlog.pxi` (the transparency log's proof plans and tile levels).
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
include "_tlog.pxi"

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


include "_ed25519.pxi"
include "_base32.pxi"
include "_layout.pxi"
include "_parse.pxi"
include "_columns.pxi"
include "_service_io.pxi"
