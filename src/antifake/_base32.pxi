# Crockford base32: the encoder, the decoding table and the SIMD level (included by _core.pyx).

# ---------------------------------------------------------------------------------------
# SIMD level of the code encoder and parser fast path
# ---------------------------------------------------------------------------------------
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
