# Stamp layout encoders: bodies, codes, numbers, PINs, fingerprints (included by _core.pyx).

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
