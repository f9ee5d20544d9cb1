/*
 * _b32simd.h -- Crockford base32 kernels for the 129-symbol stamp code (header-only).
 *
 * Included by _core.pyx. Every function is static. Two levels, chosen at run time like the
 * BLAKE3 kernel in _blake3.h: portable scalar code, and AVX2 compiled with a target attribute
 * (the extension needs no -mavx2 and still runs on CPUs without it).
 *
 *   void af_b32_encode_code(const uint8_t body[16], const uint8_t sig[64], char vch,
 *                           char out[129]);
 *       out = vch followed by the left-aligned Crockford base32 of body|sig (128 symbols).
 *       Reads exactly the 16 + 64 input bytes, writes exactly 129 bytes.
 *
 *   int af_b32_decode_code(const uint8_t t[129], uint8_t raw[80]);
 *       t must be 129 Crockford symbols (case-insensitive, I/L -> 1, O -> 0). Returns the
 *       version (value of t[0], 0..31) and writes the 80 decoded bytes of t[1:129]; returns
 *       -1 and writes nothing when any of the 129 bytes is not a symbol. Reads exactly 129
 *       bytes (no over-read past t + 129).
 *
 *   int af_b32_plain_prefix(const uint8_t *t, int32_t end);
 *       1 when a URL prefix leaves the row to the plain code branch of the row parser (see
 *       the function); both levels give the same answer.
 *
 *   int af_b32_level(void);            0 scalar, 1 AVX2: what the two functions above use.
 *   int af_b32_set_level(int level);   use at most `level` (process-wide; tests and
 *                                      benchmarks); returns the level in force.
 *
 *   int32_t af_text_view(PyObject *o, const uint8_t **p);
 *       Length and data pointer of an ASCII str or of a bytes object, or -1 for anything
 *       else (non-ASCII str, other types). Only reads the object: callable without the GIL
 *       while a reference to o is held elsewhere and nothing modifies it.
 *   void af_prefetch_obj(const PyObject *o);       prefetch an object's first 256 bytes.
 *   void af_copy_refs(PyObject **dst, PyObject **src, Py_ssize_t n);   with the GIL.
 *   int af_is_ascii(const uint8_t *p, Py_ssize_t n);
 *
 * Define AF_B32_NO_SIMD to build the portable code only.
 */
#ifndef ANTIFAKE_B32SIMD_H
#define ANTIFAKE_B32SIMD_H

#include <Python.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define AF_B32_LEVEL_SCALAR 0
#define AF_B32_LEVEL_AVX2 1

#if !defined(AF_B32_NO_SIMD) && defined(__x86_64__) && \
    ((defined(__clang__) && __clang_major__ >= 8) || \
     (!defined(__clang__) && defined(__GNUC__) && __GNUC__ >= 7))
#define AF_B32_X86_SIMD 1
#include <immintrin.h>
#define AF_B32_TARGET_AVX2 __attribute__((target("avx2")))
#else
#define AF_B32_X86_SIMD 0
#endif

static const char AF_B32_ALPHA[33] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/* ---- Python objects ------------------------------------------------------------------- */

static inline int32_t af_text_view(PyObject *o, const uint8_t **p)
{
    Py_ssize_t n;
    if (PyUnicode_Check(o)) {
        if (!PyUnicode_IS_ASCII(o)) return -1;
        *p = (const uint8_t *)PyUnicode_DATA(o);
        n = PyUnicode_GET_LENGTH(o);
    } else if (PyBytes_Check(o)) {
        *p = (const uint8_t *)PyBytes_AS_STRING(o);
        n = PyBytes_GET_SIZE(o);
    } else {
        return -1;
    }
    return n > 0x7FFFFFFF ? 0x7FFFFFFF : (int32_t)n;
}

/* 1 when the n bytes at p are all ASCII (< 128); 8 bytes at a time. */
static inline int af_is_ascii(const uint8_t *p, Py_ssize_t n)
{
    uint64_t acc = 0, w;
    Py_ssize_t i = 0;
    for (; i + 8 <= n; i += 8) {
        memcpy(&w, p + i, 8);
        acc |= w;
    }
    for (; i < n; i++) acc |= p[i];
    return (acc & 0x8080808080808080ull) == 0;
}

/* dst[i] = src[i] with new references, releasing what dst held (call with the GIL). */
static inline void af_copy_refs(PyObject **dst, PyObject **src, Py_ssize_t n)
{
    Py_ssize_t i;
    for (i = 0; i < n; i++) {
        PyObject *old = dst[i];
        Py_INCREF(src[i]);
        dst[i] = src[i];
        Py_XDECREF(old);
    }
}

/* Prefetch the first 256 bytes of an object (header and, for a compact str, its text: a
   160-character URL ends at byte 208). */
static inline void af_prefetch_obj(const PyObject *o)
{
#if defined(__GNUC__) || defined(__clang__)
    const char *p = (const char *)o;
    __builtin_prefetch(p, 0, 0);
    __builtin_prefetch(p + 64, 0, 0);
    __builtin_prefetch(p + 128, 0, 0);
    __builtin_prefetch(p + 192, 0, 0);
#else
    (void)o;
#endif
}

/* ---- scalar --------------------------------------------------------------------------- */

static int8_t af_b32__dec[256];
static char af_b32__pair[1024][2]; /* 10 bits -> two symbols */
static int af_b32__dec_ready = 0;

static void af_b32__init_dec(void)
{
    int i;
    for (i = 0; i < 256; i++) af_b32__dec[i] = -1;
    for (i = 0; i < 32; i++) {
        unsigned char c = (unsigned char)AF_B32_ALPHA[i];
        af_b32__dec[c] = (int8_t)i;
        if (c >= 'A' && c <= 'Z') af_b32__dec[c + 32] = (int8_t)i;
    }
    af_b32__dec['I'] = af_b32__dec['i'] = af_b32__dec['L'] = af_b32__dec['l'] = 1;
    af_b32__dec['O'] = af_b32__dec['o'] = 0;
    for (i = 0; i < 1024; i++) {
        af_b32__pair[i][0] = AF_B32_ALPHA[i >> 5];
        af_b32__pair[i][1] = AF_B32_ALPHA[i & 31];
    }
    af_b32__dec_ready = 1;
}

static void af_b32__encode_scalar(const uint8_t *body, const uint8_t *sig, char vch,
                                  char *out)
{
    uint8_t x[80];
    int g, k;
    memcpy(x, body, 16);
    memcpy(x + 16, sig, 64);
    out[0] = vch;
    out++;
    if (!af_b32__dec_ready) af_b32__init_dec();
    for (g = 0; g < 16; g++) { /* 5 bytes -> 4 x 10 bits -> 8 symbols, two per lookup */
        const uint8_t *b = x + 5 * g;
        uint64_t acc = ((uint64_t)b[0] << 32) | ((uint64_t)b[1] << 24) |
                       ((uint64_t)b[2] << 16) | ((uint64_t)b[3] << 8) | b[4];
        for (k = 0; k < 4; k++)
            memcpy(out + 8 * g + 2 * k, af_b32__pair[(acc >> (30 - 10 * k)) & 1023], 2);
    }
}

static int af_b32__decode_scalar(const uint8_t *t, uint8_t *raw)
{
    int g, k, v0;
    uint8_t tmp[80];
    if (!af_b32__dec_ready) af_b32__init_dec();
    v0 = af_b32__dec[t[0]];
    if (v0 < 0) return -1;
    for (g = 0; g < 16; g++) {
        uint64_t acc = 0;
        for (k = 0; k < 8; k++) {
            int v = af_b32__dec[t[1 + 8 * g + k]];
            if (v < 0) return -1;
            acc = (acc << 5) | (uint64_t)v;
        }
        for (k = 0; k < 5; k++) tmp[5 * g + k] = (uint8_t)(acc >> (32 - 8 * k));
    }
    memcpy(raw, tmp, 80);
    return v0;
}

/* ---- AVX2 ----------------------------------------------------------------------------- */
#if AF_B32_X86_SIMD

/* Encoding, 20 input bytes -> 32 symbols per 256-bit register, 10 bytes (two 5-byte groups,
   16 symbols) per 128-bit lane. Symbol k of a group lies in the big-endian 16-bit window at
   byte floor(5k/8) and is that window >> (11 - 5k mod 8), masked to 5 bits. A byte shuffle
   builds the windows of the even and of the odd symbols as 16-bit words, an unsigned
   high-half multiply by 2^(16-s) shifts each word right by its own s (AVX2 has no per-word
   variable shift), and the two halves interleave back into bytes. The 32-entry alphabet is
   two 16-entry pshufb tables selected by bit 4. The multiply-shift trick is the one of
   Mula and Lemire's SIMD base64 codecs, adapted to 5-bit symbols. */
AF_B32_TARGET_AVX2 static inline __m256i af_b32__enc32(__m256i x)
{
    const __m256i even_shuf = _mm256_setr_epi8(
        1, 0, 2, 1, 3, 2, 4, 3, 6, 5, 7, 6, 8, 7, 9, 8,
        1, 0, 2, 1, 3, 2, 4, 3, 6, 5, 7, 6, 8, 7, 9, 8);
    const __m256i odd_shuf = _mm256_setr_epi8(
        1, 0, 2, 1, 4, 3, 5, 4, 6, 5, 7, 6, 9, 8, -128, 9,
        1, 0, 2, 1, 4, 3, 5, 4, 6, 5, 7, 6, 9, 8, -128, 9);
    const __m256i even_mul = _mm256_setr_epi16(32, 128, 512, 2048, 32, 128, 512, 2048,
                                               32, 128, 512, 2048, 32, 128, 512, 2048);
    const __m256i odd_mul = _mm256_setr_epi16(1024, 4096, 64, 256, 1024, 4096, 64, 256,
                                              1024, 4096, 64, 256, 1024, 4096, 64, 256);
    const __m256i m5 = _mm256_set1_epi16(31);
    const __m256i lo_tab = _mm256_setr_epi8(
        '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', 'A', 'B', 'C', 'D', 'E', 'F',
        '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', 'A', 'B', 'C', 'D', 'E', 'F');
    const __m256i hi_tab = _mm256_setr_epi8(
        'G', 'H', 'J', 'K', 'M', 'N', 'P', 'Q', 'R', 'S', 'T', 'V', 'W', 'X', 'Y', 'Z',
        'G', 'H', 'J', 'K', 'M', 'N', 'P', 'Q', 'R', 'S', 'T', 'V', 'W', 'X', 'Y', 'Z');
    __m256i ev = _mm256_and_si256(
        _mm256_mulhi_epu16(_mm256_shuffle_epi8(x, even_shuf), even_mul), m5);
    __m256i od = _mm256_and_si256(
        _mm256_mulhi_epu16(_mm256_shuffle_epi8(x, odd_shuf), odd_mul), m5);
    __m256i v = _mm256_or_si256(ev, _mm256_slli_epi16(od, 8)); /* 32 values 0..31 */
    /* v < 32, so v << 3 (per 16-bit word) stays inside each byte: bit 7 = bit 4 of v */
    return _mm256_blendv_epi8(_mm256_shuffle_epi8(lo_tab, v), _mm256_shuffle_epi8(hi_tab, v),
                              _mm256_slli_epi16(v, 3));
}

AF_B32_TARGET_AVX2 static void af_b32__encode_avx2(const uint8_t *body, const uint8_t *sig,
                                                   char vch, char *out)
{
    /* the 80-byte stream X = body|sig; block c needs X[20c..20c+9] and X[20c+10..20c+19]
       in its two lanes, loaded without reading past either row */
    __m128i b = _mm_loadu_si128((const __m128i *)body);
    __m128i s0 = _mm_loadu_si128((const __m128i *)sig);
    __m128i s3 = _mm_loadu_si128((const __m128i *)(sig + 48));
    __m256i x0 = _mm256_set_m128i(_mm_alignr_epi8(s0, b, 10), b);
    __m256i x1 = _mm256_set_m128i(_mm_loadu_si128((const __m128i *)(sig + 14)),
                                  _mm_loadu_si128((const __m128i *)(sig + 4)));
    __m256i x2 = _mm256_set_m128i(_mm_loadu_si128((const __m128i *)(sig + 34)),
                                  _mm_loadu_si128((const __m128i *)(sig + 24)));
    __m256i x3 = _mm256_set_m128i(_mm_srli_si128(s3, 6),
                                  _mm_loadu_si128((const __m128i *)(sig + 44)));
    out[0] = vch;
    _mm256_storeu_si256((__m256i *)(out + 1), af_b32__enc32(x0));
    _mm256_storeu_si256((__m256i *)(out + 33), af_b32__enc32(x1));
    _mm256_storeu_si256((__m256i *)(out + 65), af_b32__enc32(x2));
    _mm256_storeu_si256((__m256i *)(out + 97), af_b32__enc32(x3));
}

/* Decoding: 32 characters -> 32 values, or bit 7 set for a character that is no symbol.
   Digits by range; letters case-folded (c | 0x20), ranged to a..z and mapped through a
   26-entry table (two pshufb halves) that holds Crockford's I/L -> 1, O -> 0 and U invalid. */
AF_B32_TARGET_AVX2 static inline __m256i af_b32__dec32(__m256i c)
{
    const __m256i let_lo = _mm256_setr_epi8(
        10, 11, 12, 13, 14, 15, 16, 17, 1, 18, 19, 1, 20, 21, 0, 22,
        10, 11, 12, 13, 14, 15, 16, 17, 1, 18, 19, 1, 20, 21, 0, 22);
    const __m256i let_hi = _mm256_setr_epi8(
        23, 24, 25, 26, -128, 27, 28, 29, 30, 31, -128, -128, -128, -128, -128, -128,
        23, 24, 25, 26, -128, 27, 28, 29, 30, 31, -128, -128, -128, -128, -128, -128);
    __m256i d = _mm256_sub_epi8(c, _mm256_set1_epi8('0'));
    __m256i isdig = _mm256_cmpeq_epi8(_mm256_min_epu8(d, _mm256_set1_epi8(9)), d);
    __m256i l = _mm256_sub_epi8(_mm256_or_si256(c, _mm256_set1_epi8(0x20)),
                                _mm256_set1_epi8('a'));
    __m256i islet = _mm256_cmpeq_epi8(_mm256_min_epu8(l, _mm256_set1_epi8(25)), l);
    /* bit 7 of (l << 3) is bit 4 of l for l < 32 (letters); other bytes are masked below */
    __m256i lv = _mm256_blendv_epi8(_mm256_shuffle_epi8(let_lo, l),
                                    _mm256_shuffle_epi8(let_hi, l), _mm256_slli_epi16(l, 3));
    __m256i v = _mm256_or_si256(_mm256_and_si256(isdig, d), _mm256_and_si256(islet, lv));
    __m256i none = _mm256_andnot_si256(_mm256_or_si256(isdig, islet),
                                       _mm256_set1_epi8((char)0x80));
    return _mm256_or_si256(v, none);
}

/* 32 values -> 20 bytes, 10 per lane in bytes 0..9 of each lane (bytes 10..15 zero). */
AF_B32_TARGET_AVX2 static inline __m256i af_b32__pack32(__m256i v)
{
    const __m256i shuf = _mm256_setr_epi8(
        4, 3, 2, 1, 0, 12, 11, 10, 9, 8, -128, -128, -128, -128, -128, -128,
        4, 3, 2, 1, 0, 12, 11, 10, 9, 8, -128, -128, -128, -128, -128, -128);
    __m256i w = _mm256_maddubs_epi16(v, _mm256_set1_epi16(0x0120));   /* 32*a + b */
    __m256i d = _mm256_madd_epi16(w, _mm256_set1_epi32(0x00010400)); /* 1024*w0 + w1 */
    __m256i q = _mm256_add_epi64(_mm256_mul_epu32(d, _mm256_set1_epi64x(1 << 20)),
                                 _mm256_srli_epi64(d, 32));          /* 40 bits */
    return _mm256_shuffle_epi8(q, shuf);
}

AF_B32_TARGET_AVX2 static int af_b32__decode_avx2(const uint8_t *t, uint8_t *raw)
{
    __m256i v0, v1, v2, v3, p;
    __m128i lo, hi;
    int ver;
    if (!af_b32__dec_ready) af_b32__init_dec();
    ver = af_b32__dec[t[0]];
    v0 = af_b32__dec32(_mm256_loadu_si256((const __m256i *)(t + 1)));
    v1 = af_b32__dec32(_mm256_loadu_si256((const __m256i *)(t + 33)));
    v2 = af_b32__dec32(_mm256_loadu_si256((const __m256i *)(t + 65)));
    v3 = af_b32__dec32(_mm256_loadu_si256((const __m256i *)(t + 97)));
    if (ver < 0 || _mm256_movemask_epi8(_mm256_or_si256(_mm256_or_si256(v0, v1),
                                                        _mm256_or_si256(v2, v3))))
        return -1;
    /* lane stores of 16 bytes overlap the next 6 bytes, which the next store rewrites */
    p = af_b32__pack32(v0);
    _mm_storeu_si128((__m128i *)raw, _mm256_castsi256_si128(p));
    _mm_storeu_si128((__m128i *)(raw + 10), _mm256_extracti128_si256(p, 1));
    p = af_b32__pack32(v1);
    _mm_storeu_si128((__m128i *)(raw + 20), _mm256_castsi256_si128(p));
    _mm_storeu_si128((__m128i *)(raw + 30), _mm256_extracti128_si256(p, 1));
    p = af_b32__pack32(v2);
    _mm_storeu_si128((__m128i *)(raw + 40), _mm256_castsi256_si128(p));
    _mm_storeu_si128((__m128i *)(raw + 50), _mm256_extracti128_si256(p, 1));
    p = af_b32__pack32(v3);
    lo = _mm256_castsi256_si128(p);
    hi = _mm256_extracti128_si256(p, 1);
    _mm_storeu_si128((__m128i *)(raw + 60), lo); /* bytes 60..69 (70..75 rewritten next) */
    /* bytes 64..79: lo[4..9] then hi[0..9]; lo[10..15] is zero */
    _mm_storeu_si128((__m128i *)(raw + 64),
                     _mm_or_si128(_mm_srli_si128(lo, 4), _mm_slli_si128(hi, 6)));
    return ver;
}

/* 1 when t[0:end] has none of NUL, non-ASCII, '#', '%', ';', '?', and no "/01/" or "/gtin/"
   (any case) starting before end - 1; the caller guarantees t[0 .. end + 128] is readable and
   end >= 1. Same answer as the scalar loop in af_b32_plain_prefix when t[end..end+128] are
   symbols (the only case in which the caller uses the answer). The patterns are found with
   byte masks, without a branch per slash. A prefix of at most 32 bytes (a 30-character base
   URL) is one block: a pattern that does not fit in it would end among the symbols, which
   hold no '/'. Longer prefixes go in blocks of 32 bytes at a stride of 26, so that a 6-byte
   pattern starting in the first 26 bytes of a block lies in that block. */
AF_B32_TARGET_AVX2 static int af_b32__plain_prefix_avx2(const uint8_t *t, int32_t end)
{
    int32_t o, step = end <= 32 ? 32 : 26;
    for (o = 0; o < end; o += step) { /* o + 31 < end + 31 < end + 129: in bounds */
        __m256i c = _mm256_loadu_si256((const __m256i *)(t + o));
        __m256i lc = _mm256_or_si256(c, _mm256_set1_epi8(0x20));
        __m256i bad = _mm256_or_si256(
            _mm256_or_si256(_mm256_cmpeq_epi8(c, _mm256_setzero_si256()),
                            _mm256_cmpeq_epi8(c, _mm256_set1_epi8('#'))),
            _mm256_or_si256(_mm256_or_si256(_mm256_cmpeq_epi8(c, _mm256_set1_epi8('%')),
                                            _mm256_cmpeq_epi8(c, _mm256_set1_epi8(';'))),
                            _mm256_cmpeq_epi8(c, _mm256_set1_epi8('?'))));
        uint32_t b = (uint32_t)_mm256_movemask_epi8(_mm256_or_si256(bad, c)); /* bit 7: >= 128 */
        uint32_t sl = (uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(c, _mm256_set1_epi8('/')));
        uint32_t z = (uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(c, _mm256_set1_epi8('0')));
        uint32_t one = (uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(c, _mm256_set1_epi8('1')));
        uint32_t g = (uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(lc, _mm256_set1_epi8('g')));
        uint32_t tt = (uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(lc, _mm256_set1_epi8('t')));
        uint32_t ii = (uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(lc, _mm256_set1_epi8('i')));
        uint32_t nn = (uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(lc, _mm256_set1_epi8('n')));
        uint32_t pat = (sl & (z >> 1) & (one >> 2) & (sl >> 3)) |
                       (sl & (g >> 1) & (tt >> 2) & (ii >> 3) & (nn >> 4) & (sl >> 5));
        int32_t left = end - o;
        /* bad bytes at i < left; patterns starting at i < min(step, left - 1) */
        int32_t plim = left - 1 < step ? left - 1 : step;
        uint32_t keep = left >= 32 ? 0xFFFFFFFFu : ((1u << left) - 1u);
        uint32_t pkeep = plim >= 32 ? 0xFFFFFFFFu : ((1u << plim) - 1u);
        if ((b & keep) | (pat & pkeep)) return 0;
    }
    return 1;
}

#endif /* AF_B32_X86_SIMD */

/* ---- run-time dispatch ---------------------------------------------------------------- */

static int af_b32__cpu_level(void)
{
#if AF_B32_X86_SIMD
    static int cached = -1;
    if (cached < 0) {
        __builtin_cpu_init();
        cached = __builtin_cpu_supports("avx2") ? AF_B32_LEVEL_AVX2 : AF_B32_LEVEL_SCALAR;
    }
    return cached;
#else
    return AF_B32_LEVEL_SCALAR;
#endif
}

static volatile int af_b32__level_now = -1;

static int af_b32_level(void)
{
    int lvl = af_b32__level_now;
    if (lvl < 0) {
        if (!af_b32__dec_ready) af_b32__init_dec();
        lvl = af_b32__cpu_level();
        af_b32__level_now = lvl;
    }
    return lvl;
}

static int af_b32_set_level(int level)
{
    int top = af_b32__cpu_level();
    if (!af_b32__dec_ready) af_b32__init_dec();
    if (level > top) level = top;
    if (level < 0) level = AF_B32_LEVEL_SCALAR;
    af_b32__level_now = level;
    return level;
}

static inline void af_b32_encode_code(const uint8_t *body, const uint8_t *sig, char vch,
                                      char *out)
{
#if AF_B32_X86_SIMD
    if (af_b32_level() == AF_B32_LEVEL_AVX2) {
        af_b32__encode_avx2(body, sig, vch, out);
        return;
    }
#endif
    af_b32__encode_scalar(body, sig, vch, out);
}

/* 1 when the URL prefix t[0:end] (ending in '/', followed by 129 readable bytes) has none of
   NUL, non-ASCII, '#', '%', ';', '?', and no "/01/" or "/gtin/" (any case) starting before
   end - 1: then the generic row parser would take the plain code branch. */
static inline int af_b32_plain_prefix(const uint8_t *t, int32_t end)
{
    int32_t i;
#if AF_B32_X86_SIMD
    if (af_b32_level() == AF_B32_LEVEL_AVX2) return af_b32__plain_prefix_avx2(t, end);
#endif
    for (i = 0; i < end - 1; i++) { /* t[i + 5] < t + end + 129: in bounds */
        uint8_t c = t[i];
        if (c == 0 || c >= 128 || c == '#' || c == '%' || c == ';' || c == '?') return 0;
        if (c == '/' && ((t[i + 1] == '0' && t[i + 2] == '1' && t[i + 3] == '/') ||
                         ((t[i + 1] | 32) == 'g' && (t[i + 2] | 32) == 't' &&
                          (t[i + 3] | 32) == 'i' && (t[i + 4] | 32) == 'n' && t[i + 5] == '/')))
            return 0;
    }
    return 1;
}

static inline int af_b32_decode_code(const uint8_t *t, uint8_t *raw)
{
#if AF_B32_X86_SIMD
    if (af_b32_level() == AF_B32_LEVEL_AVX2) return af_b32__decode_avx2(t, raw);
#endif
    return af_b32__decode_scalar(t, raw);
}

#endif /* ANTIFAKE_B32SIMD_H */
