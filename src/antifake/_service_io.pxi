# The lookup service's native paths (included by _core.pyx).
#
# parse_one: one text through the bulk row parser (what `verify` of a single code needs).
# scan_codes_json: a strict scanner of the body {"codes": ["...", ...]} that finds each code's
# bytes in place (no Python object per code); parse_spans parses them from there straight into
# the bulk columns (parse_columns' layout). It accepts only the plain form: one key "codes", strings of
# printable ASCII without escapes, JSON whitespace; anything else (escapes, non-ASCII, other
# keys, bad JSON, too many codes) answers None and the caller reads the body with a full JSON
# parser, which gives the same rows or the error.
# parse_held_columns: parse_columns of an array from hold_texts (no second copy).
# statuses_json: {"statuses": [...]} from uint8 statuses and their names, in one buffer.

from cpython.bytes cimport PyBytes_FromStringAndSize, PyBytes_AS_STRING as _bytes_ptr


cdef inline bint _json_ws(uint8_t c) noexcept nogil:
    return c == 32 or c == 10 or c == 13 or c == 9


cdef inline Py_ssize_t _skip_ws(const uint8_t *s, Py_ssize_t i, Py_ssize_t n) noexcept nogil:
    while i < n and _json_ws(s[i]):
        i += 1
    return i


cdef inline bint _plain(const uint8_t *p, Py_ssize_t n) noexcept nogil:
    """Every byte printable ASCII and no backslash (a loop without branches: vectorised)."""
    cdef uint8_t bad = 0
    cdef Py_ssize_t i
    for i in range(n):
        bad |= (p[i] < 32) | (p[i] > 126) | (p[i] == 92)
    return bad == 0


cdef Py_ssize_t _scan_codes(const uint8_t *s, Py_ssize_t n, int64_t *off, int32_t *ln,
                            Py_ssize_t cap) noexcept nogil:
    """The codes of a strict {"codes": [...]} body: their count (offsets and lengths written),
    -1 when the body is not of the strict form, -2 when it holds more than ``cap`` codes."""
    cdef Py_ssize_t i = _skip_ws(s, 0, n), m = 0, a
    cdef const char *key = b'"codes"'
    cdef int k
    cdef const uint8_t *q
    if i >= n or s[i] != 123:  # {
        return -1
    i = _skip_ws(s, i + 1, n)
    if n - i < 7:
        return -1
    for k in range(7):
        if s[i + k] != <uint8_t>key[k]:
            return -1
    i = _skip_ws(s, i + 7, n)
    if i >= n or s[i] != 58:  # :
        return -1
    i = _skip_ws(s, i + 1, n)
    if i >= n or s[i] != 91:  # [
        return -1
    i = _skip_ws(s, i + 1, n)
    if i < n and s[i] == 93:  # ]: no codes
        i += 1
    else:
        while True:
            if i >= n or s[i] != 34:  # "
                return -1
            i += 1
            a = i
            q = <const uint8_t *>memchr(s + i, 34, <size_t>(n - i))
            if q == NULL:
                return -1
            i = q - s
            if not _plain(s + a, i - a):  # an escape, a control or a non-ASCII byte
                return -1
            if m >= cap:
                return -2
            off[m] = a
            ln[m] = <int32_t>min(i - a, <Py_ssize_t>0x7FFFFFFF)
            m += 1
            i = _skip_ws(s, i + 1, n)
            if i < n and s[i] == 44:  # ,
                i = _skip_ws(s, i + 1, n)
                continue
            if i < n and s[i] == 93:  # ]
                i += 1
                break
            return -1
    i = _skip_ws(s, i, n)
    if i >= n or s[i] != 125:  # }
        return -1
    i = _skip_ws(s, i + 1, n)
    return m if i == n else -1


def scan_codes_json(bytes body not None, Py_ssize_t max_codes):
    """Where the codes of a strict ``{"codes": [...]}`` body are, without a Python object per
    code: ``(offsets int64, lengths int32)``, row i being
    ``body[offsets[i]:offsets[i] + lengths[i]]`` (parse them with `parse_spans`).

    None when the body is not of that strict form (an escape, a non-ASCII or control byte,
    another key, invalid JSON) or holds more than ``max_codes`` codes: the caller then reads
    it with a full JSON parser, which gives the same rows or the error."""
    if max_codes < 0:
        raise ValueError("max_codes must be >= 0")
    cdef Py_ssize_t n = len(body), m
    cdef const uint8_t *s = <const uint8_t *>_bytes_ptr(body)
    # a code takes at least 3 bytes ("" and a comma or the closing bracket): room for all
    cdef Py_ssize_t cap = min(max_codes, n // 3 + 1)
    off = np.empty(cap + 1, dtype=np.int64)
    lens = np.empty(cap + 1, dtype=np.int32)
    cdef int64_t *po = <int64_t *>cnp.PyArray_DATA(off)
    cdef int32_t *pl = <int32_t *>cnp.PyArray_DATA(lens)
    with nogil:
        m = _scan_codes(s, n, po, pl, cap)
    if m < 0:
        return None
    return off[:m].copy(), lens[:m].copy()


def parse_spans(bytes body not None, const int64_t[::1] off, const int32_t[::1] lens,
                threads=None):
    """`parse_columns` of the rows ``body[off[i]:off[i] + lens[i]]``, read in place (``body``
    is immutable). ``ValueError`` for a span outside ``body`` or arrays of different
    lengths."""
    cdef Py_ssize_t n = off.shape[0], j, size = len(body)
    if lens.shape[0] != n:
        raise ValueError("offsets and lengths differ in length")
    cdef bint bad = False
    with nogil:
        for j in range(n):
            if off[j] < 0 or lens[j] < 0 or off[j] > size - lens[j]:
                bad = True
                break
    if bad:
        raise ValueError(f"span {j} lies outside the body")
    return _parse_spans(body, np.asarray(off), np.asarray(lens), threads)


cdef _parse_spans(bytes body, off, lens, threads):
    """parse_columns of the rows ``body[off[j]:off[j] + lens[j]]`` (read in place: ``body`` is
    immutable and held by the caller; the spans are checked)."""
    cdef Py_ssize_t n = off.shape[0]
    cdef RowOut out
    kind = np.zeros(n, dtype=np.uint8)
    version = np.zeros(n, dtype=np.uint8)
    suffix = np.zeros((n, SUFFIX_MAX), dtype=np.uint8)
    suffix_len = np.zeros(n, dtype=np.uint8)
    key_id = np.empty(n, dtype=np.int32)
    batch = np.empty(n, dtype=np.int64)
    index = np.empty(n, dtype=np.int64)
    serial = np.empty(n, dtype=np.uint64)
    sig = np.zeros((n, 64), dtype=np.uint8)
    tag = np.zeros((n, 5), dtype=np.uint8)
    result = (kind, version, key_id, batch, index, serial, sig, tag, suffix, suffix_len)
    if n == 0:
        return result
    out.kind = <uint8_t *>cnp.PyArray_DATA(kind)
    out.version = <uint8_t *>cnp.PyArray_DATA(version)
    out.suffix = <uint8_t *>cnp.PyArray_DATA(suffix)
    out.suffix_len = <uint8_t *>cnp.PyArray_DATA(suffix_len)
    out.raw = NULL
    out.key_id = <int32_t *>cnp.PyArray_DATA(key_id)
    out.batch = <int64_t *>cnp.PyArray_DATA(batch)
    out.index = <int64_t *>cnp.PyArray_DATA(index)
    out.serial = <uint64_t *>cnp.PyArray_DATA(serial)
    out.sig = <uint8_t *>cnp.PyArray_DATA(sig)
    out.tag = <uint8_t *>cnp.PyArray_DATA(tag)
    cdef RowOut *O = &out
    cdef const uint8_t *base = <const uint8_t *>_bytes_ptr(body)
    cdef const int64_t *po = <const int64_t *>cnp.PyArray_DATA(off)
    cdef const int32_t *pl = <const int32_t *>cnp.PyArray_DATA(lens)

    def work(Py_ssize_t a, Py_ssize_t b):
        cdef Py_ssize_t j
        cdef int32_t ln
        with nogil:
            for j in range(a, b):
                ln = pl[j]
                if ln >= ROW:
                    ln = -1
                _emit_row(O, j, base + po[j], ln, 1)

    _run_split(work, n, threads)
    return result


def parse_held_columns(held, threads=None):
    """`parse_columns` of an array returned by `hold_texts` that the caller owns alone (the
    rows are not taken a second time)."""
    return _parse_texts(held, threads, 1, 1)


def statuses_json(const uint8_t[::1] status, names):
    """``{"statuses":["NAME",...]}`` (UTF-8 bytes) for uint8 ``status`` values indexing
    ``names`` (a sequence of ASCII bytes without quotes or backslashes)."""
    cdef Py_ssize_t n = status.shape[0], i, total, k = len(names)
    if k == 0 or k > 256:
        raise ValueError("names holds 1 to 256 names")
    cdef list quoted = []
    cdef Py_ssize_t lens[256]
    cdef const char *ptrs[256]
    for i in range(k):
        name = bytes(names[i])
        if b'\\' in name or b'"' in name or any(c < 32 or c > 126 for c in name):
            raise ValueError("names must be printable ASCII without quotes or backslashes")
        q = b'"' + name + b'"'
        quoted.append(q)
        lens[i] = len(q)
        ptrs[i] = <const char *>_bytes_ptr(q)
    total = 15 + (n - 1 if n else 0)  # {"statuses":[ and ]} and the commas
    for i in range(n):
        if status[i] >= k:
            raise ValueError(f"status {status[i]} at row {i} has no name")
        total += lens[status[i]]
    out = PyBytes_FromStringAndSize(NULL, total)
    cdef char *p = _bytes_ptr(out)
    memcpy(p, b'{"statuses":[', 13)
    p += 13
    with nogil:
        for i in range(n):
            if i:
                p[0] = 44
                p += 1
            memcpy(p, ptrs[status[i]], lens[status[i]])
            p += lens[status[i]]
    p[0] = 93
    p[1] = 125
    return out


def parse_one(text):
    """One str or bytes through the bulk row parser: ``(form, version, key_id, batch_id,
    index, serial, signature (64 bytes), tag (5 bytes), signed GS1 suffix)`` as
    `parse_columns` gives a row, or None for anything else than str / bytes (a str that is
    not ASCII is form ``K_SLOW``)."""
    cdef const uint8_t *t = NULL
    cdef int32_t ln
    cdef uint8_t kind = RK_SLOW, version = 0, sx_len = 0
    cdef uint8_t suffix[SUFFIX_W]
    cdef uint8_t sig[64]
    cdef uint8_t tag[5]
    cdef int32_t key_id = -1
    cdef int64_t batch = -1, index = -1
    cdef uint64_t serial = 0
    cdef RowOut out
    if not (type(text) is str or type(text) is bytes):
        return None
    ln = af_text_view(<PyObject *>text, &t)
    if ln >= ROW:
        ln = -1
    memset(suffix, 0, SUFFIX_W)
    memset(sig, 0, 64)
    memset(tag, 0, 5)
    out.kind = &kind
    out.version = &version
    out.raw = NULL
    out.suffix = suffix
    out.suffix_len = &sx_len
    out.key_id = &key_id
    out.batch = &batch
    out.index = &index
    out.serial = &serial
    out.sig = sig
    out.tag = tag
    _emit_row(&out, 0, t, ln, 1)
    return (kind, version, key_id, batch, index, serial, sig[:64], tag[:5],
            suffix[:sx_len])
