# The bulk parser of scanned text (included by _core.pyx).

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
