# SHA-256 kernels for the transparency log (included by _core.pyx).
#
# C side: _sha256.h (scalar and SHA-NI compression, chosen at run time).
# Python side: sha256_digest, sha256_node_pairs, sha256_level, sha256_set_level.

cdef extern from "_sha256.h" nogil:
    void af_sha256(const uint8_t* data, size_t length, uint8_t* out)
    void af_sha256_node_pairs(const uint8_t* data, size_t npairs, uint8_t* out)
    int af_sha256_level()
    int af_sha256_set_level(int level)

_SHA_LEVEL_NAMES = ("scalar", "shani")


def sha256_level():
    """The SHA-256 kernel in use: "scalar" or "shani"."""
    return _SHA_LEVEL_NAMES[af_sha256_level()]


def sha256_set_level(str level):
    """Force a kernel ("scalar", "shani" or "auto"); returns the one in force (a kernel the
    CPU lacks falls back to the best it has)."""
    if level == "auto":
        return _SHA_LEVEL_NAMES[af_sha256_set_level(-1)]
    if level not in _SHA_LEVEL_NAMES:
        raise ValueError(f"unknown SHA-256 level {level!r}")
    return _SHA_LEVEL_NAMES[af_sha256_set_level(_SHA_LEVEL_NAMES.index(level))]


def sha256_digest(const uint8_t[::1] data not None):
    """SHA-256 of ``data`` (the native kernel; hashlib is the reference)."""
    cdef uint8_t out[32]
    cdef uint8_t empty = 0
    cdef Py_ssize_t n = data.shape[0]
    with nogil:
        af_sha256(&data[0] if n else &empty, <size_t>n, out)
    return out[:32]


def sha256_node_pairs(const uint8_t[::1] data not None):
    """``SHA-256(0x01 || a || b)`` of each consecutive pair of 32-byte hashes in ``data``
    (a multiple of 64 bytes): one tree level from the one below. Returns a bytearray."""
    cdef Py_ssize_t n = data.shape[0]
    if n % 64:
        raise ValueError("node pairs take a multiple of 64 bytes")
    out = bytearray(n // 2)
    if n == 0:
        return out
    cdef uint8_t[::1] ov = out
    with nogil:
        af_sha256_node_pairs(&data[0], <size_t>(n // 64), &ov[0])
    return out
