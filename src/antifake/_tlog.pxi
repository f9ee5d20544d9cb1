# Transparency-log proof kernels (included by _core.pyx after _sha256.pxi).
#
# A stored log keeps leaf hashes in tiles of 256, level 4 and the complete nodes of levels 8
# and up. `tlog_tile_levels` hashes the levels 1-8 above one leaf tile in one call (255 node
# hashes, or 29 from one group of 16 leaves and the tile's level-4 nodes; SHA-NI when the CPU
# has it); `tlog_proof` plans an RFC 9162 inclusion or consistency
# proof (the subtrees PATH / SUBPROOF ask for, RFC 9162 2.1.3.1 and 2.1.4.1) and assembles it
# from those buffers, folding the partial subtrees of the tree's right edge. Python side:
# antifake.storage._tlog_proofs (which buffers to hand over, what is kept, the fallback).

from cpython.bytearray cimport PyByteArray_AS_STRING, PyByteArray_GET_SIZE
from libc.string cimport memcmp

# slot of node j of level l (0..8) in a tile's levels buffer: 512 - (512 >> l) + j
cdef enum:
    _TL_SLOTS = 511
    _TL_BYTES = 511 * 32
    _TL_MAX_UP = 56          # levels 8..63


cdef struct _TLSrc:
    const uint8_t* up[_TL_MAX_UP]
    uint64_t upn[_TL_MAX_UP]
    int nup
    int64_t ta
    int64_t tb
    const uint8_t* la
    const uint8_t* lb
    uint64_t ca
    uint64_t cb
    int ga
    int gb


cdef inline int _tl_bitlen(uint64_t x) noexcept nogil:
    cdef int n = 0
    while x:
        x >>= 1
        n += 1
    return n


cdef inline uint64_t _tl_pow2_below(uint64_t n) noexcept nogil:
    # largest power of two strictly smaller than n (n >= 2)
    return (<uint64_t>1) << (_tl_bitlen(n - 1) - 1)


cdef int _tl_node(const _TLSrc* s, int level, uint64_t idx, uint8_t* out) noexcept nogil:
    """The complete subtree (level, idx) into out; -1 when the buffers do not hold it."""
    cdef int k, g
    cdef uint64_t t, j, cnt
    cdef const uint8_t* buf
    if level >= 8:
        k = level - 8
        if k >= s.nup or idx >= s.upn[k]:
            return -1
        memcpy(out, s.up[k] + 32 * idx, 32)
        return 0
    t = (idx << level) >> 8
    if <int64_t>t == s.ta:
        buf = s.la
        cnt = s.ca
        g = s.ga
    elif <int64_t>t == s.tb:
        buf = s.lb
        cnt = s.cb
        g = s.gb
    else:
        return -1
    j = idx - (t << (8 - level))
    if ((j + 1) << level) > cnt:
        return -1
    if level <= 3 and g >= 0 and <int>((j << level) >> 4) != g:
        return -1  # levels 0-3 were filled for one leaf group only
    memcpy(out, buf + 32 * (512 - (512 >> level) + j), 32)
    return 0


cdef int _tl_range(const _TLSrc* s, uint64_t lo, uint64_t hi, uint8_t* out) noexcept nogil:
    """MTH of leaves [lo, hi) (RFC 9162 split): its complete subtrees left to right, folded
    from the right."""
    cdef uint8_t parts[64][32]
    cdef uint8_t pair[64]
    cdef int np = 0, level, i
    cdef uint64_t n
    while hi > lo and np < 64:
        n = hi - lo
        if (n & (n - 1)) == 0 and (lo & (n - 1)) == 0:
            level = _tl_bitlen(n) - 1
            if _tl_node(s, level, lo >> level, parts[np]) < 0:
                return -1
            np += 1
            break
        level = _tl_bitlen(n - 1) - 1
        if _tl_node(s, level, lo >> level, parts[np]) < 0:
            return -1
        np += 1
        lo += (<uint64_t>1) << level
    if np == 0:
        return -1
    memcpy(out, parts[np - 1], 32)
    for i in range(np - 2, -1, -1):
        memcpy(pair, parts[i], 32)
        memcpy(pair + 32, out, 32)
        af_sha256_node_pairs(pair, 1, out)
    return 0


cdef int _tl_plan(int kind, uint64_t a, uint64_t n, uint64_t* los, uint64_t* his) noexcept nogil:
    """The leaf ranges of the proof's hashes, leaf end first (kind 0: inclusion of leaf a in
    the tree of n leaves; kind 1: consistency of the tree of a leaves with that of n)."""
    cdef int cnt = 0, i
    cdef uint64_t lo = 0, hi = n, k, m = a, t
    cdef bint b = True
    if kind == 0:
        while hi - lo > 1 and cnt < 64:
            k = _tl_pow2_below(hi - lo)
            if a - lo < k:
                los[cnt] = lo + k
                his[cnt] = hi
                hi = lo + k
            else:
                los[cnt] = lo
                his[cnt] = lo + k
                lo += k
            cnt += 1
    else:
        while cnt < 65:
            if m == hi - lo:
                if not b:
                    los[cnt] = lo
                    his[cnt] = hi
                    cnt += 1
                break
            k = _tl_pow2_below(hi - lo)
            if m <= k:
                los[cnt] = lo + k
                his[cnt] = hi
                hi = lo + k
            else:
                los[cnt] = lo
                his[cnt] = lo + k
                m -= k
                lo += k
                b = False
            cnt += 1
    for i in range(cnt // 2):
        t = los[i]
        los[i] = los[cnt - 1 - i]
        los[cnt - 1 - i] = t
        t = his[i]
        his[i] = his[cnt - 1 - i]
        his[cnt - 1 - i] = t
    return cnt


def tlog_tile_levels(const uint8_t[::1] leaves not None, const uint8_t[::1] mid=None,
                     int group=-1):
    """Levels 0-8 above one tile of up to 256 leaf hashes: a bytearray of 511 slots of
    32 bytes, node `j` of level `l` at slot `512 - (512 >> l) + j` (complete nodes only; the
    rest zero).

    With `mid` (a full tile's 16 stored nodes of level 4) `leaves` are the 16 leaves of leaf
    group `group` only (leaves `16 group .. 16 group + 15` of the tile): levels 0-3 are filled
    for that group and levels 4-8 from `mid`, 29 node hashes instead of 255 (`tlog_proof` is
    told the group). The group's level-4 node, hashed from its leaves, must equal the stored
    one (ValueError otherwise)."""
    cdef Py_ssize_t n = leaves.shape[0]
    if mid is None:
        if n % 32 or n > 256 * 32:
            raise ValueError("a leaf tile holds at most 256 hashes of 32 bytes")
    elif n != 16 * 32 or mid.shape[0] != 16 * 32 or not 0 <= group < 16:
        raise ValueError("with level-4 nodes: 16 leaves, 16 level-4 hashes, a group in 0..15")
    out = bytearray(_TL_BYTES)
    cdef uint8_t* o = <uint8_t*>PyByteArray_AS_STRING(out)
    cdef uint64_t cnt = <uint64_t>(n // 32)
    cdef int level, bad = 0
    if n == 0:
        return out
    with nogil:
        if mid is None:
            memcpy(o, &leaves[0], <size_t>n)
            for level in range(8):
                if (cnt >> (level + 1)) == 0:
                    break
                af_sha256_node_pairs(o + 32 * (512 - (512 >> level)), cnt >> (level + 1),
                                     o + 32 * (512 - (256 >> level)))
        else:
            memcpy(o + 32 * 16 * group, &leaves[0], 16 * 32)
            for level in range(4):  # the group's 16 leaves -> its levels 1-3 (and 4)
                af_sha256_node_pairs(o + 32 * (512 - (512 >> level) + (group << (4 - level))),
                                     <size_t>(8 >> level),
                                     o + 32 * (512 - (256 >> level) + (group << (3 - level))))
            # the group's level-4 node, hashed from its leaves, must be the stored one
            bad = memcmp(o + 32 * (480 + group), &mid[32 * group], 32) != 0
            memcpy(o + 32 * 480, &mid[0], 16 * 32)
            for level in range(4, 8):
                af_sha256_node_pairs(o + 32 * (512 - (512 >> level)), <size_t>(128 >> level),
                                     o + 32 * (512 - (256 >> level)))
    if bad:
        raise ValueError("the stored level-4 node differs from the one hashed from the leaves")
    return out


def tlog_proof(int kind, uint64_t a, uint64_t n, list upper not None,
               int64_t ta, const uint8_t[::1] la, int ca, int ga,
               int64_t tb, const uint8_t[::1] lb, int cb, int gb):
    """An RFC 9162 proof from a stored tree's buffers, its hashes concatenated (bytes), or
    None when the buffers lack a node it needs.

    `kind` 0: inclusion of leaf `a` in the tree of `n` leaves (`a < n`); 1: consistency of
    the tree of `a` leaves with that of `n` (`0 < a < n`). `upper[l - 8]` holds the complete
    nodes of level `l` (a bytearray); `la`/`lb` are levels buffers (`tlog_tile_levels`) of leaf
    tiles `ta`/`tb` (-1: none) computed from `ca`/`cb` leaves, with levels 1-3 of leaf
    group `ga`/`gb` only (-1: all), levels 0-3 included."""
    cdef _TLSrc s
    cdef uint64_t los[66]
    cdef uint64_t his[66]
    cdef int cnt, i
    cdef Py_ssize_t sz
    if kind == 0:
        if a >= n:
            raise ValueError("leaf index outside the tree")
    elif kind == 1:
        if a == 0 or a >= n:
            raise ValueError("consistency sizes must satisfy 0 < size1 < size2")
    else:
        raise ValueError("kind is 0 (inclusion) or 1 (consistency)")
    if len(upper) > _TL_MAX_UP:
        raise ValueError("too many levels")
    s.nup = <int>len(upper)
    for i in range(s.nup):
        lv = upper[i]
        if type(lv) is not bytearray:
            raise TypeError("upper levels must be bytearrays")
        sz = PyByteArray_GET_SIZE(lv)
        s.up[i] = <const uint8_t*>PyByteArray_AS_STRING(lv)
        s.upn[i] = <uint64_t>(sz // 32)
    s.ta, s.tb = ta, tb
    s.ga, s.gb = ga, gb
    s.ca = s.cb = 0
    s.la = s.lb = NULL
    if ta >= 0:
        if la is None or la.shape[0] != _TL_BYTES:
            raise ValueError("a tile levels buffer is 511 * 32 bytes")
        s.la = &la[0]
        s.ca = <uint64_t>min(256, max(0, ca))
    if tb >= 0:
        if lb is None or lb.shape[0] != _TL_BYTES:
            raise ValueError("a tile levels buffer is 511 * 32 bytes")
        s.lb = &lb[0]
        s.cb = <uint64_t>min(256, max(0, cb))
    out = bytearray(66 * 32)
    cdef uint8_t* o = <uint8_t*>PyByteArray_AS_STRING(out)
    cdef int bad = 0
    with nogil:
        cnt = _tl_plan(kind, a, n, los, his)
        for i in range(cnt):
            if _tl_range(&s, los[i], his[i], o + 32 * i) < 0:
                bad = 1
                break
    if bad:
        return None
    return bytes(out[:32 * cnt])
