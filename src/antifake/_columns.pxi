# Decoded columns, signed and tag messages over arrays (included by _core.pyx).

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
