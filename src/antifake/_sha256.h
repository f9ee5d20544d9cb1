/* SHA-256 for the transparency log's Merkle tree (included by _core.pyx via _sha256.pxi).
 *
 * A portable scalar compression function and, on x86-64 CPUs with the SHA extensions, one
 * using the SHA-NI instructions (compiled with a target attribute, chosen at run time with
 * CPUID). af_sha256 hashes any input (FIPS 180-4 padding); af_sha256_node_pairs computes the
 * RFC 9162 node hash SHA-256(0x01 || left || right) of consecutive pairs of 32-byte hashes,
 * which is all tree building needs. Written for antifake from FIPS 180-4 and Intel's SHA
 * extensions reference; checked against hashlib for every input length 0..256 in the tests.
 */
#ifndef AF_SHA256_H
#define AF_SHA256_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#define AF_SHA_X86 1
#include <cpuid.h>
#include <immintrin.h>
#endif

static const uint32_t AF_SHA_K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
    0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
    0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
    0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
    0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
    0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
    0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
    0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
    0xc67178f2};

static const uint32_t AF_SHA_IV[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                      0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};

typedef void (*af_sha_compress_fn)(uint32_t state[8], const uint8_t *blocks, size_t n);

#define AF_ROR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static void af_sha_compress_scalar(uint32_t st[8], const uint8_t *p, size_t n) {
    uint32_t w[64];
    while (n--) {
        for (int i = 0; i < 16; i++)
            w[i] = ((uint32_t)p[4 * i] << 24) | ((uint32_t)p[4 * i + 1] << 16) |
                   ((uint32_t)p[4 * i + 2] << 8) | (uint32_t)p[4 * i + 3];
        for (int i = 16; i < 64; i++) {
            uint32_t s0 = AF_ROR(w[i - 15], 7) ^ AF_ROR(w[i - 15], 18) ^ (w[i - 15] >> 3);
            uint32_t s1 = AF_ROR(w[i - 2], 17) ^ AF_ROR(w[i - 2], 19) ^ (w[i - 2] >> 10);
            w[i] = w[i - 16] + s0 + w[i - 7] + s1;
        }
        uint32_t a = st[0], b = st[1], c = st[2], d = st[3];
        uint32_t e = st[4], f = st[5], g = st[6], h = st[7];
        for (int i = 0; i < 64; i++) {
            uint32_t t1 = h + (AF_ROR(e, 6) ^ AF_ROR(e, 11) ^ AF_ROR(e, 25)) +
                          ((e & f) ^ (~e & g)) + AF_SHA_K[i] + w[i];
            uint32_t t2 = (AF_ROR(a, 2) ^ AF_ROR(a, 13) ^ AF_ROR(a, 22)) +
                          ((a & b) ^ (a & c) ^ (b & c));
            h = g; g = f; f = e; e = d + t1; d = c; c = b; b = a; a = t1 + t2;
        }
        st[0] += a; st[1] += b; st[2] += c; st[3] += d;
        st[4] += e; st[5] += f; st[6] += g; st[7] += h;
        p += 64;
    }
}

#ifdef AF_SHA_X86
__attribute__((target("sha,sse4.1")))
static void af_sha_compress_shani(uint32_t st[8], const uint8_t *p, size_t n) {
    const __m128i mask = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
    __m128i tmp = _mm_loadu_si128((const __m128i *)&st[0]);
    __m128i s1 = _mm_loadu_si128((const __m128i *)&st[4]);
    tmp = _mm_shuffle_epi32(tmp, 0xB1);          /* CDAB */
    s1 = _mm_shuffle_epi32(s1, 0x1B);            /* EFGH */
    __m128i s0 = _mm_alignr_epi8(tmp, s1, 8);    /* ABEF */
    s1 = _mm_blend_epi16(s1, tmp, 0xF0);         /* CDGH */
    while (n--) {
        __m128i abef = s0, cdgh = s1, m[4], msg;
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC unroll 16
#endif
        for (int i = 0; i < 16; i++) {
            if (i < 4)
                m[i] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 16 * i)), mask);
            msg = _mm_add_epi32(m[i & 3], _mm_loadu_si128((const __m128i *)&AF_SHA_K[4 * i]));
            s1 = _mm_sha256rnds2_epu32(s1, s0, msg);
            if (i >= 3 && i <= 14) {
                __m128i t = _mm_alignr_epi8(m[i & 3], m[(i - 1) & 3], 4);
                m[(i + 1) & 3] = _mm_sha256msg2_epu32(_mm_add_epi32(m[(i + 1) & 3], t),
                                                      m[i & 3]);
            }
            msg = _mm_shuffle_epi32(msg, 0x0E);
            s0 = _mm_sha256rnds2_epu32(s0, s1, msg);
            if (i >= 1 && i <= 12)
                m[(i - 1) & 3] = _mm_sha256msg1_epu32(m[(i - 1) & 3], m[i & 3]);
        }
        s0 = _mm_add_epi32(s0, abef);
        s1 = _mm_add_epi32(s1, cdgh);
        p += 64;
    }
    tmp = _mm_shuffle_epi32(s0, 0x1B);           /* FEBA */
    s1 = _mm_shuffle_epi32(s1, 0xB1);            /* DCHG */
    s0 = _mm_blend_epi16(tmp, s1, 0xF0);         /* DCBA */
    s1 = _mm_alignr_epi8(s1, tmp, 8);            /* ABEF */
    _mm_storeu_si128((__m128i *)&st[0], s0);
    _mm_storeu_si128((__m128i *)&st[4], s1);
}

/* Two independent messages of n blocks each, interleaved: SHA-NI rounds have a latency of
 * several cycles, so a second stream fills the gaps. */
__attribute__((target("sha,sse4.1")))
static void af_sha_compress_shani_x2(uint32_t sta[8], uint32_t stb[8], const uint8_t *pa,
                                     const uint8_t *pb, size_t n) {
    const __m128i mask = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
    __m128i s0[2], s1[2];
    uint32_t *st[2] = {sta, stb};
    const uint8_t *p[2] = {pa, pb};
    for (int l = 0; l < 2; l++) {
        __m128i tmp = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&st[l][0]), 0xB1);
        __m128i t1 = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&st[l][4]), 0x1B);
        s0[l] = _mm_alignr_epi8(tmp, t1, 8);
        s1[l] = _mm_blend_epi16(t1, tmp, 0xF0);
    }
    while (n--) {
        __m128i abef[2] = {s0[0], s0[1]}, cdgh[2] = {s1[0], s1[1]}, m[2][4], msg[2];
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC unroll 16
#endif
        for (int i = 0; i < 16; i++) {
            __m128i k = _mm_loadu_si128((const __m128i *)&AF_SHA_K[4 * i]);
            for (int l = 0; l < 2; l++) {
                if (i < 4)
                    m[l][i] = _mm_shuffle_epi8(
                        _mm_loadu_si128((const __m128i *)(p[l] + 16 * i)), mask);
                msg[l] = _mm_add_epi32(m[l][i & 3], k);
                s1[l] = _mm_sha256rnds2_epu32(s1[l], s0[l], msg[l]);
            }
            for (int l = 0; l < 2; l++) {
                if (i >= 3 && i <= 14) {
                    __m128i t = _mm_alignr_epi8(m[l][i & 3], m[l][(i - 1) & 3], 4);
                    m[l][(i + 1) & 3] = _mm_sha256msg2_epu32(
                        _mm_add_epi32(m[l][(i + 1) & 3], t), m[l][i & 3]);
                }
                msg[l] = _mm_shuffle_epi32(msg[l], 0x0E);
                s0[l] = _mm_sha256rnds2_epu32(s0[l], s1[l], msg[l]);
                if (i >= 1 && i <= 12)
                    m[l][(i - 1) & 3] = _mm_sha256msg1_epu32(m[l][(i - 1) & 3], m[l][i & 3]);
            }
        }
        for (int l = 0; l < 2; l++) {
            s0[l] = _mm_add_epi32(s0[l], abef[l]);
            s1[l] = _mm_add_epi32(s1[l], cdgh[l]);
            p[l] += 64;
        }
    }
    for (int l = 0; l < 2; l++) {
        __m128i tmp = _mm_shuffle_epi32(s0[l], 0x1B);
        __m128i t1 = _mm_shuffle_epi32(s1[l], 0xB1);
        _mm_storeu_si128((__m128i *)&st[l][0], _mm_blend_epi16(tmp, t1, 0xF0));
        _mm_storeu_si128((__m128i *)&st[l][4], _mm_alignr_epi8(t1, tmp, 8));
    }
}

static int af_sha_cpu_has_shani(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    if (!(c & (1u << 9)) || !(c & (1u << 19))) return 0;   /* SSSE3, SSE4.1 */
    if (__get_cpuid_max(0, NULL) < 7) return 0;
    __cpuid_count(7, 0, a, b, c, d);
    return (b >> 29) & 1;                                   /* SHA */
}
#endif

/* 0: scalar, 1: SHA-NI */
static int af_sha_level_cur = -1;
static af_sha_compress_fn af_sha_compress = af_sha_compress_scalar;

static int af_sha256_max_level(void) {
#ifdef AF_SHA_X86
    return af_sha_cpu_has_shani() ? 1 : 0;
#else
    return 0;
#endif
}

/* Select a level (clamped to what the CPU has); returns the level in force. */
static int af_sha256_set_level(int level) {
    int top = af_sha256_max_level();
    if (level < 0 || level > top) level = top;
    af_sha_compress = af_sha_compress_scalar;
#ifdef AF_SHA_X86
    if (level == 1) af_sha_compress = af_sha_compress_shani;
#endif
    af_sha_level_cur = level;
    return level;
}

static int af_sha256_level(void) {
    if (af_sha_level_cur < 0) af_sha256_set_level(-1);
    return af_sha_level_cur;
}

static void af_sha_store(const uint32_t st[8], uint8_t *out) {
    for (int i = 0; i < 8; i++) {
        out[4 * i] = (uint8_t)(st[i] >> 24);
        out[4 * i + 1] = (uint8_t)(st[i] >> 16);
        out[4 * i + 2] = (uint8_t)(st[i] >> 8);
        out[4 * i + 3] = (uint8_t)st[i];
    }
}

/* SHA-256 of any input. */
static void af_sha256(const uint8_t *data, size_t len, uint8_t out[32]) {
    uint32_t st[8];
    uint8_t tail[128];
    size_t full = len / 64, rest = len % 64, tl;
    if (af_sha_level_cur < 0) af_sha256_set_level(-1);
    memcpy(st, AF_SHA_IV, sizeof st);
    if (full) af_sha_compress(st, data, full);
    memset(tail, 0, sizeof tail);
    if (rest) memcpy(tail, data + 64 * full, rest);
    tail[rest] = 0x80;
    tl = rest < 56 ? 64 : 128;
    uint64_t bits = (uint64_t)len * 8;
    for (int i = 0; i < 8; i++) tail[tl - 1 - i] = (uint8_t)(bits >> (8 * i));
    af_sha_compress(st, tail, tl / 64);
    af_sha_store(st, out);
}

/* out[32 i] = SHA-256(0x01 || in[64 i .. 64 i + 64)) for i < npairs. */
static void af_sha256_node_pairs(const uint8_t *in, size_t npairs, uint8_t *out) {
    uint8_t blk[128];
    uint32_t st[8];
    if (af_sha_level_cur < 0) af_sha256_set_level(-1);
    memset(blk, 0, sizeof blk);
    blk[0] = 0x01;
    blk[65] = 0x80;
    blk[126] = 0x02;  /* 65 bytes = 520 bits = 0x0208 */
    blk[127] = 0x08;
    size_t i = 0;
#ifdef AF_SHA_X86
    if (af_sha_level_cur == 1) {
        uint8_t blk2[128];
        uint32_t st2[8];
        memcpy(blk2, blk, sizeof blk2);
        for (; i + 2 <= npairs; i += 2) {
            memcpy(blk + 1, in + 64 * i, 64);
            memcpy(blk2 + 1, in + 64 * (i + 1), 64);
            memcpy(st, AF_SHA_IV, sizeof st);
            memcpy(st2, AF_SHA_IV, sizeof st2);
            af_sha_compress_shani_x2(st, st2, blk, blk2, 2);
            af_sha_store(st, out + 32 * i);
            af_sha_store(st2, out + 32 * (i + 1));
        }
    }
#endif
    for (; i < npairs; i++) {
        memcpy(blk + 1, in + 64 * i, 64);
        memcpy(st, AF_SHA_IV, sizeof st);
        af_sha_compress(st, blk, 2);
        af_sha_store(st, out + 32 * i);
    }
}

#endif
