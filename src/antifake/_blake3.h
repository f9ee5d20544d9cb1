/*
 * _blake3.h -- antifake's BLAKE3 single-chunk kernel (header-only, no dependencies).
 *
 * Hashes messages of at most one BLAKE3 chunk (<= 1024 bytes, 1..16 compressions) to a root
 * output of at most 32 bytes, in plain, keyed or derive-key mode. Written from the BLAKE3
 * specification. Every function is static: include this header in exactly the translation
 * units that use it.
 *
 *   void af_b3_hash(const uint32_t key[8], uint32_t flags, const uint8_t *in, size_t len,
 *                   uint8_t *out, size_t out_len);
 *       One message, portable scalar code. key: the chaining value, 8 words (AF_B3_IV for
 *       plain hashing, the 32-byte key loaded as little-endian words for keyed hashing);
 *       flags: 0, AF_B3_KEYED_HASH, AF_B3_DERIVE_KEY_CONTEXT or AF_B3_DERIVE_KEY_MATERIAL.
 *       len <= 1024 (longer inputs give a non-BLAKE3 value, never an out-of-bounds access);
 *       out_len <= 32 (larger is clamped). `in` need not be aligned.
 *
 *   void af_b3_hash_many(const uint32_t key[8], uint32_t flags, const uint8_t *in,
 *                        size_t in_stride, size_t len, size_t n,
 *                        uint8_t *out, size_t out_stride, size_t out_len);
 *       n messages of the same length len, message i at in + i*in_stride; digest i (out_len
 *       bytes) at out + i*out_stride, out_stride >= out_len, output not overlapping the input.
 *       Reads only bytes [in, in + (n-1)*in_stride + len), writes only the n digests (bytes
 *       between rows are left alone). 8 lanes with AVX2, 16 with AVX-512F, chosen at run time
 *       with __builtin_cpu_supports; the vector code is compiled with target attributes, so
 *       the extension needs no -mavx2 and still runs on CPUs without it. Thread-safe.
 *
 *   int af_b3_level(void);           0 scalar, 1 AVX2, 2 AVX-512: what af_b3_hash_many uses.
 *   int af_b3_set_level(int level);  use at most `level` (process-wide; tests, benchmarks);
 *                                    returns the level in force, never above the CPU's.
 *
 * Define AF_B3_NO_SIMD to build the portable code only.
 */
#ifndef ANTIFAKE_BLAKE3_H
#define ANTIFAKE_BLAKE3_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Domain flags of the BLAKE3 specification. */
#define AF_B3_CHUNK_START (1u << 0)
#define AF_B3_CHUNK_END (1u << 1)
#define AF_B3_PARENT (1u << 2)
#define AF_B3_ROOT (1u << 3)
#define AF_B3_KEYED_HASH (1u << 4)
#define AF_B3_DERIVE_KEY_CONTEXT (1u << 5)
#define AF_B3_DERIVE_KEY_MATERIAL (1u << 6)

#define AF_B3_BLOCK_LEN 64
#define AF_B3_CHUNK_LEN 1024
#define AF_B3_OUT_LEN 32

#define AF_B3_LEVEL_SCALAR 0
#define AF_B3_LEVEL_AVX2 1
#define AF_B3_LEVEL_AVX512 2

static const uint32_t AF_B3_IV[8] = {
    0x6A09E667u, 0xBB67AE85u, 0x3C6EF372u, 0xA54FF53Au,
    0x510E527Fu, 0x9B05688Cu, 0x1F83D9ABu, 0x5BE0CD19u,
};

/* ---- compiler / ISA detection ------------------------------------------------------------ */

/* Define AF_B3_NO_SIMD to build the portable scalar code only. */
#if !defined(AF_B3_NO_SIMD) && (defined(__x86_64__) || defined(__i386__)) && \
    ((defined(__clang__) && __clang_major__ >= 8) || \
     (!defined(__clang__) && defined(__GNUC__) && __GNUC__ >= 7))
#define AF_B3_X86_SIMD 1
#include <immintrin.h>
#define AF_B3_TARGET_AVX2 __attribute__((target("avx2")))
#ifndef AF_B3_TARGET_AVX512 /* overridable: lets a test emulate the AVX-512 kernel */
#define AF_B3_TARGET_AVX512 __attribute__((target("avx2,avx512f")))
#endif
#define AF_B3_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define AF_B3_X86_SIMD 0
#endif

#if defined(__GNUC__) || defined(__clang__)
#define AF_B3_INLINE inline __attribute__((always_inline))
#define AF_B3_ALIGN(n) __attribute__((aligned(n)))
#elif defined(_MSC_VER)
#define AF_B3_INLINE __forceinline
#define AF_B3_ALIGN(n) /* only used by the GCC/clang SIMD code */
#else
#define AF_B3_INLINE inline
#define AF_B3_ALIGN(n)
#endif

/* GCC's partial redundancy elimination hoists values out of the unrolled rounds, which makes
   its register allocator spill state words onto the dependency chains: switching it off for
   this file's functions makes the AVX2 kernel ~20% faster (GCC 12, Zen 3) and matches clang.
   Scoped with push/pop: the rest of the including translation unit keeps its options. */
#if defined(__GNUC__) && !defined(__clang__) && !defined(__INTEL_COMPILER)
#define AF_B3_GCC_OPTIONS_PUSHED 1
#pragma GCC push_options
#pragma GCC optimize("no-tree-pre")
#endif

/* ---- the round function, written once over abstract operations -------------------------- */
/* ADD/XOR/R16/R12/R8/R7 are (re)defined before each use: scalar words, __m256i, __m512i.     */

#define AF_B3_G(a, b, c, d, x, y)          \
    do {                                   \
        a = AF_B3_ADD(AF_B3_ADD(a, b), x); \
        d = AF_B3_R16(AF_B3_XOR(d, a));    \
        c = AF_B3_ADD(c, d);               \
        b = AF_B3_R12(AF_B3_XOR(b, c));    \
        a = AF_B3_ADD(AF_B3_ADD(a, b), y); \
        d = AF_B3_R8(AF_B3_XOR(d, a));     \
        c = AF_B3_ADD(c, d);               \
        b = AF_B3_R7(AF_B3_XOR(b, c));     \
    } while (0)

/* Half of G on four columns side by side, step by step: a += b + x; d = (d ^ a) >>> RA;
   c += d; b = (b ^ c) >>> RB. G is the half with (x, 16, 12), then the half with (y, 8, 7). */
#define AF_B3_HALF4(a0, b0, c0, d0, a1, b1, c1, d1, a2, b2, c2, d2, a3, b3, c3, d3, x0, x1, x2,    \
                    x3, RA, RB)                                                                    \
    do {                                                                                           \
        a0 = AF_B3_ADD(AF_B3_ADD(a0, b0), x0);                                                     \
        a1 = AF_B3_ADD(AF_B3_ADD(a1, b1), x1);                                                     \
        a2 = AF_B3_ADD(AF_B3_ADD(a2, b2), x2);                                                     \
        a3 = AF_B3_ADD(AF_B3_ADD(a3, b3), x3);                                                     \
        d0 = RA(AF_B3_XOR(d0, a0));                                                                \
        d1 = RA(AF_B3_XOR(d1, a1));                                                                \
        d2 = RA(AF_B3_XOR(d2, a2));                                                                \
        d3 = RA(AF_B3_XOR(d3, a3));                                                                \
        c0 = AF_B3_ADD(c0, d0);                                                                    \
        c1 = AF_B3_ADD(c1, d1);                                                                    \
        c2 = AF_B3_ADD(c2, d2);                                                                    \
        c3 = AF_B3_ADD(c3, d3);                                                                    \
        b0 = RB(AF_B3_XOR(b0, c0));                                                                \
        b1 = RB(AF_B3_XOR(b1, c1));                                                                \
        b2 = RB(AF_B3_XOR(b2, c2));                                                                \
        b3 = RB(AF_B3_XOR(b3, c3));                                                                \
    } while (0)

/* Four G functions side by side (the columns or the diagonals of one round). */
#define AF_B3_G4(a0, b0, c0, d0, a1, b1, c1, d1, a2, b2, c2, d2, a3, b3, c3, d3, x0, y0, x1, y1,   \
                 x2, y2, x3, y3)                                                                   \
    do {                                                                                           \
        AF_B3_HALF4(a0, b0, c0, d0, a1, b1, c1, d1, a2, b2, c2, d2, a3, b3, c3, d3, x0, x1, x2,    \
                    x3, AF_B3_R16, AF_B3_R12);                                                     \
        AF_B3_HALF4(a0, b0, c0, d0, a1, b1, c1, d1, a2, b2, c2, d2, a3, b3, c3, d3, y0, y1, y2,    \
                    y3, AF_B3_R8, AF_B3_R7);                                                       \
    } while (0)

/* One round with message schedule s0..s15 (message word indices after r permutations), in two
   orders computing the same thing: one G after the other (AF_B3_ROUND_SEQ), or the four G of
   each half-round step by step (AF_B3_ROUND_IL). With GCC 12 on Zen 3, SEQ is faster for the
   vector kernels (IL spills more: +20%) and IL for the scalar one (-5%). */
#define AF_B3_ROUND_SEQ(v, m, s0, s1, s2, s3, s4, s5, s6, s7, s8, s9, s10, s11, s12, s13, s14,  \
                        s15)                                                                    \
    do {                                                                                        \
        AF_B3_G(v[0], v[4], v[8], v[12], AF_B3_M(m, s0), AF_B3_M(m, s1));                       \
        AF_B3_G(v[1], v[5], v[9], v[13], AF_B3_M(m, s2), AF_B3_M(m, s3));                       \
        AF_B3_G(v[2], v[6], v[10], v[14], AF_B3_M(m, s4), AF_B3_M(m, s5));                      \
        AF_B3_G(v[3], v[7], v[11], v[15], AF_B3_M(m, s6), AF_B3_M(m, s7));                      \
        AF_B3_G(v[0], v[5], v[10], v[15], AF_B3_M(m, s8), AF_B3_M(m, s9));                      \
        AF_B3_G(v[1], v[6], v[11], v[12], AF_B3_M(m, s10), AF_B3_M(m, s11));                    \
        AF_B3_G(v[2], v[7], v[8], v[13], AF_B3_M(m, s12), AF_B3_M(m, s13));                     \
        AF_B3_G(v[3], v[4], v[9], v[14], AF_B3_M(m, s14), AF_B3_M(m, s15));                     \
    } while (0)
#define AF_B3_ROUND_IL(v, m, s0, s1, s2, s3, s4, s5, s6, s7, s8, s9, s10, s11, s12, s13, s14,   \
                       s15)                                                                     \
    do {                                                                                        \
        AF_B3_G4(v[0], v[4], v[8], v[12], v[1], v[5], v[9], v[13], v[2], v[6], v[10], v[14],    \
                 v[3], v[7], v[11], v[15], AF_B3_M(m, s0), AF_B3_M(m, s1), AF_B3_M(m, s2),      \
                 AF_B3_M(m, s3), AF_B3_M(m, s4), AF_B3_M(m, s5), AF_B3_M(m, s6),                \
                 AF_B3_M(m, s7));                                                               \
        AF_B3_G4(v[0], v[5], v[10], v[15], v[1], v[6], v[11], v[12], v[2], v[7], v[8], v[13],   \
                 v[3], v[4], v[9], v[14], AF_B3_M(m, s8), AF_B3_M(m, s9), AF_B3_M(m, s10),      \
                 AF_B3_M(m, s11), AF_B3_M(m, s12), AF_B3_M(m, s13), AF_B3_M(m, s14),            \
                 AF_B3_M(m, s15));                                                              \
    } while (0)

/* The seven rounds with round macro R; the schedule of round r is the permutation
   {2,6,3,10,7,0,4,13,1,11,12,5,9,14,15,8} applied r times to the message words. */
#define AF_B3_ROUNDS(R, v, m)                                                   \
    do {                                                                        \
        R(v, m, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);          \
        R(v, m, 2, 6, 3, 10, 7, 0, 4, 13, 1, 11, 12, 5, 9, 14, 15, 8);          \
        R(v, m, 3, 4, 10, 12, 13, 2, 7, 14, 6, 5, 9, 0, 11, 15, 8, 1);          \
        R(v, m, 10, 7, 12, 9, 14, 3, 13, 15, 4, 0, 11, 2, 5, 8, 1, 6);          \
        R(v, m, 12, 13, 9, 11, 15, 10, 14, 8, 7, 2, 5, 3, 0, 1, 6, 4);          \
        R(v, m, 9, 14, 11, 5, 8, 12, 15, 1, 13, 3, 0, 10, 2, 6, 4, 7);          \
        R(v, m, 11, 15, 5, 0, 1, 9, 8, 6, 14, 10, 2, 12, 3, 4, 7, 13);          \
    } while (0)

/* Message word i of the block (AF_B3_M is redefined where some words are known to be zero). */
#define AF_B3_M(m, i) ((m)[i])

/* The compression of one block in every vector lane: the state from cv, the IV, counter 0,
   block_len and flags; seven rounds; cv <- v[0..7] ^ v[8..15]. T, SET1, ZERO and XOR are
   the vector type and intrinsics of the width; cv, m, block_len and flags (and what
   AF_B3_M reads) are the calling function's. */
#define AF_B3_COMPRESS_LANES(T, SET1, ZERO, XOR)                                                   \
    do {                                                                                           \
        T v[16];                                                                                   \
        int k;                                                                                     \
        for (k = 0; k < 8; k++) v[k] = cv[k];                                                      \
        for (k = 0; k < 4; k++) v[8 + k] = SET1((int)AF_B3_IV[k]);                                 \
        v[12] = ZERO();                                                                            \
        v[13] = ZERO();                                                                            \
        v[14] = SET1((int)block_len);                                                              \
        v[15] = SET1((int)flags);                                                                  \
        AF_B3_ROUNDS(AF_B3_ROUND_SEQ, v, m);                                                       \
        for (k = 0; k < 8; k++) cv[k] = XOR(v[k], v[k + 8]);                                       \
    } while (0)

/* ---- portable scalar code ---------------------------------------------------------------- */

static AF_B3_INLINE uint32_t af_b3__load_le32(const uint8_t *p)
{
#if defined(__BYTE_ORDER__) && defined(__ORDER_LITTLE_ENDIAN__) && \
    __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    uint32_t w;
    memcpy(&w, p, 4);
    return w;
#else
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
           ((uint32_t)p[3] << 24);
#endif
}

static AF_B3_INLINE void af_b3__store_le32(uint8_t *p, uint32_t w)
{
#if defined(__BYTE_ORDER__) && defined(__ORDER_LITTLE_ENDIAN__) && \
    __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    memcpy(p, &w, 4);
#else
    p[0] = (uint8_t)w;
    p[1] = (uint8_t)(w >> 8);
    p[2] = (uint8_t)(w >> 16);
    p[3] = (uint8_t)(w >> 24);
#endif
}

static AF_B3_INLINE uint32_t af_b3__rotr32(uint32_t x, unsigned n)
{
    return (x >> n) | (x << (32 - n));
}

#define AF_B3_ADD(a, b) ((uint32_t)((a) + (b)))
#define AF_B3_XOR(a, b) ((a) ^ (b))
#define AF_B3_R16(x) af_b3__rotr32((x), 16)
#define AF_B3_R12(x) af_b3__rotr32((x), 12)
#define AF_B3_R8(x) af_b3__rotr32((x), 8)
#define AF_B3_R7(x) af_b3__rotr32((x), 7)

/* cv <- first 8 words of compress(cv, block, counter 0, block_len, flags). */
static AF_B3_INLINE void af_b3__compress(uint32_t cv[8], const uint32_t m[16], uint32_t block_len,
                                         uint32_t flags)
{
    uint32_t v[16];
    v[0] = cv[0]; v[1] = cv[1]; v[2] = cv[2]; v[3] = cv[3];
    v[4] = cv[4]; v[5] = cv[5]; v[6] = cv[6]; v[7] = cv[7];
    v[8] = AF_B3_IV[0]; v[9] = AF_B3_IV[1]; v[10] = AF_B3_IV[2]; v[11] = AF_B3_IV[3];
    v[12] = 0; v[13] = 0; /* chunk counter: always chunk 0 */
    v[14] = block_len;
    v[15] = flags;
    AF_B3_ROUNDS(AF_B3_ROUND_IL, v, m);
    cv[0] = v[0] ^ v[8]; cv[1] = v[1] ^ v[9]; cv[2] = v[2] ^ v[10]; cv[3] = v[3] ^ v[11];
    cv[4] = v[4] ^ v[12]; cv[5] = v[5] ^ v[13]; cv[6] = v[6] ^ v[14]; cv[7] = v[7] ^ v[15];
}

#undef AF_B3_ADD
#undef AF_B3_XOR
#undef AF_B3_R16
#undef AF_B3_R12
#undef AF_B3_R8
#undef AF_B3_R7

static AF_B3_INLINE size_t af_b3__nblocks(size_t len)
{
    return len == 0 ? 1 : (len + AF_B3_BLOCK_LEN - 1) / AF_B3_BLOCK_LEN;
}

/* Block b of nblocks of a one-chunk message of len bytes: its length (*blen) and its flags. */
static AF_B3_INLINE uint32_t af_b3__block(uint32_t flags, size_t len, size_t nblocks, size_t b,
                                          size_t *blen)
{
    *blen = (b + 1 == nblocks) ? len - b * AF_B3_BLOCK_LEN : AF_B3_BLOCK_LEN;
    if (b == 0) flags |= AF_B3_CHUNK_START;
    if (b + 1 == nblocks) flags |= AF_B3_CHUNK_END | AF_B3_ROOT;
    return flags;
}

/* Hash one message of len <= 1024 bytes; see the file comment. */
static void af_b3_hash(const uint32_t key[8], uint32_t flags, const uint8_t *in, size_t len,
                       uint8_t *out, size_t out_len)
{
    uint32_t cv[8], m[16];
    uint8_t digest[AF_B3_OUT_LEN];
    size_t nblocks = af_b3__nblocks(len), b;
    int i;

    if (out_len > AF_B3_OUT_LEN) out_len = AF_B3_OUT_LEN;
    for (i = 0; i < 8; i++) cv[i] = key[i];
    for (b = 0; b < nblocks; b++) {
        size_t blen;
        uint32_t f = af_b3__block(flags, len, nblocks, b, &blen);
        const uint8_t *p = in + b * AF_B3_BLOCK_LEN;
        if (blen == AF_B3_BLOCK_LEN) {
            for (i = 0; i < 16; i++) m[i] = af_b3__load_le32(p + 4 * i);
        } else {
            /* Whole words in place, then the tail bytes, then zeros. (A zeroed buffer filled
               by memcpy would stall on store forwarding.) */
            int nw = (int)(blen / 4), t = (int)(blen % 4);
            for (i = 0; i < nw; i++) m[i] = af_b3__load_le32(p + 4 * i);
            for (; i < 16; i++) m[i] = 0;
            if (t) {
                uint32_t w = 0;
                const uint8_t *q = p + 4 * nw;
                while (t--) w = (w << 8) | q[t];
                m[nw] = w;
            }
        }
        af_b3__compress(cv, m, (uint32_t)blen, f);
    }
    for (i = 0; i < 8; i++) af_b3__store_le32(digest + 4 * i, cv[i]);
    memcpy(out, digest, out_len);
}

static void af_b3__many_scalar(const uint32_t key[8], uint32_t flags, const uint8_t *in,
                               size_t in_stride, size_t len, size_t n, uint8_t *out,
                               size_t out_stride, size_t out_len)
{
    size_t i;
    for (i = 0; i < n; i++)
        af_b3_hash(key, flags, in + i * in_stride, len, out + i * out_stride, out_len);
}

/* ---- x86 SIMD: 8 lanes (AVX2) and 16 lanes (AVX-512F) ------------------------------------ */
#if AF_B3_X86_SIMD

/* Byte masks: loading 32 bytes at af_b3__mask_tbl + 64 - k keeps the first k bytes (k<=64). */
static const uint8_t af_b3__mask_tbl[128] AF_B3_ALIGN(64) = {
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
};

/* In-place transpose of an 8x8 matrix of 32-bit words (row j = register j). */
static AF_B3_TARGET_AVX2 AF_B3_ALWAYS_INLINE void af_b3__transpose8(__m256i r[8])
{
    __m256i t0 = _mm256_unpacklo_epi32(r[0], r[1]);
    __m256i t1 = _mm256_unpackhi_epi32(r[0], r[1]);
    __m256i t2 = _mm256_unpacklo_epi32(r[2], r[3]);
    __m256i t3 = _mm256_unpackhi_epi32(r[2], r[3]);
    __m256i t4 = _mm256_unpacklo_epi32(r[4], r[5]);
    __m256i t5 = _mm256_unpackhi_epi32(r[4], r[5]);
    __m256i t6 = _mm256_unpacklo_epi32(r[6], r[7]);
    __m256i t7 = _mm256_unpackhi_epi32(r[6], r[7]);
    __m256i u0 = _mm256_unpacklo_epi64(t0, t2); /* words 0 | 4 of rows 0-3 */
    __m256i u1 = _mm256_unpackhi_epi64(t0, t2); /* words 1 | 5 */
    __m256i u2 = _mm256_unpacklo_epi64(t1, t3); /* words 2 | 6 */
    __m256i u3 = _mm256_unpackhi_epi64(t1, t3); /* words 3 | 7 */
    __m256i u4 = _mm256_unpacklo_epi64(t4, t6); /* same for rows 4-7 */
    __m256i u5 = _mm256_unpackhi_epi64(t4, t6);
    __m256i u6 = _mm256_unpacklo_epi64(t5, t7);
    __m256i u7 = _mm256_unpackhi_epi64(t5, t7);
    r[0] = _mm256_permute2x128_si256(u0, u4, 0x20);
    r[1] = _mm256_permute2x128_si256(u1, u5, 0x20);
    r[2] = _mm256_permute2x128_si256(u2, u6, 0x20);
    r[3] = _mm256_permute2x128_si256(u3, u7, 0x20);
    r[4] = _mm256_permute2x128_si256(u0, u4, 0x31);
    r[5] = _mm256_permute2x128_si256(u1, u5, 0x31);
    r[6] = _mm256_permute2x128_si256(u2, u6, 0x31);
    r[7] = _mm256_permute2x128_si256(u3, u7, 0x31);
}

/*
 * Load one block (bytes [pos, pos+blen) of each message; zero padded) of lanes 0..cnt-1 into
 * transposed message words m[16] (m[w] lane j = word w of lane j). Lane j's message starts at
 * in + pos + j*stride; bytes up to in + limit may be read. Lanes >= cnt get zeros.
 * Returns the number of message words that may be nonzero (0, 8 or 16).
 */
static AF_B3_TARGET_AVX2 AF_B3_ALWAYS_INLINE int af_b3__load8(const uint8_t *in, size_t pos,
                                                              size_t stride, size_t limit,
                                                              size_t cnt, size_t blen,
                                                              __m256i m[16])
{
    const __m256i zero = _mm256_setzero_si256();
    __m256i r[8];
    size_t j, width;
    int k;

    if (blen == 0) {
        for (k = 0; k < 16; k++) m[k] = zero;
        return 0;
    }
    width = blen > 32 ? 64 : 32;
    if (pos + (cnt - 1) * stride + width <= limit) {
        /* Every lane can read `width` bytes in place: unaligned loads, masked past blen. */
        const uint8_t *p = in + pos;
        __m256i mlo = blen >= 32 ? _mm256_set1_epi32(-1)
                                 : _mm256_loadu_si256(
                                       (const __m256i *)(af_b3__mask_tbl + 64 - blen));
        for (j = 0; j < 8; j++)
            r[j] = j < cnt ? _mm256_and_si256(
                                 _mm256_loadu_si256((const __m256i *)(p + j * stride)), mlo)
                           : zero;
        af_b3__transpose8(r);
        for (k = 0; k < 8; k++) m[k] = r[k];
        if (width == 64) {
            __m256i mhi = blen >= 64 ? _mm256_set1_epi32(-1)
                                     : _mm256_loadu_si256(
                                           (const __m256i *)(af_b3__mask_tbl + 96 - blen));
            for (j = 0; j < 8; j++)
                r[j] = j < cnt ? _mm256_and_si256(_mm256_loadu_si256(
                                                      (const __m256i *)(p + j * stride + 32)),
                                                  mhi)
                               : zero;
            af_b3__transpose8(r);
            for (k = 0; k < 8; k++) m[8 + k] = r[k];
            return 16;
        }
        for (k = 8; k < 16; k++) m[k] = zero;
        return 8;
    } else {
        /* Near the end of the buffer: copy each lane into a zeroed block. */
        uint8_t buf[8][64] AF_B3_ALIGN(32);
        memset(buf, 0, sizeof buf);
        for (j = 0; j < cnt; j++) memcpy(buf[j], in + pos + j * stride, blen);
        for (j = 0; j < 8; j++) r[j] = _mm256_load_si256((const __m256i *)buf[j]);
        af_b3__transpose8(r);
        for (k = 0; k < 8; k++) m[k] = r[k];
        for (j = 0; j < 8; j++) r[j] = _mm256_load_si256((const __m256i *)(buf[j] + 32));
        af_b3__transpose8(r);
        for (k = 0; k < 8; k++) m[8 + k] = r[k];
        return 16;
    }
}

/* Store the digests of lanes 0..cnt-1 (cv[w] lane j = word w of lane j): out_len bytes at
   out + pos + j*stride; bytes up to out + limit belong to the caller's output. */
static AF_B3_TARGET_AVX2 AF_B3_ALWAYS_INLINE void af_b3__store8(__m256i cv[8], uint8_t *out,
                                                               size_t pos, size_t stride,
                                                               size_t limit, size_t cnt,
                                                               size_t out_len)
{
    size_t j;
    af_b3__transpose8(cv);
    if ((out_len == 32 || stride == out_len) && pos + (cnt - 1) * stride + 32 <= limit) {
        /* Rows are contiguous: full 32-byte stores in increasing order, each one overwriting
           the spill of the previous one. */
        for (j = 0; j < 8; j++)
            if (j < cnt) _mm256_storeu_si256((__m256i *)(out + pos + j * stride), cv[j]);
    } else {
        uint8_t tmp[32] AF_B3_ALIGN(32);
        for (j = 0; j < cnt; j++) {
            _mm256_store_si256((__m256i *)tmp, cv[j]);
            memcpy(out + pos + j * stride, tmp, out_len);
        }
    }
}

#undef AF_B3_M
#define AF_B3_M(m, i) ((i) < nw ? (m)[i] : zero)
#define AF_B3_ADD(a, b) _mm256_add_epi32((a), (b))
#define AF_B3_XOR(a, b) _mm256_xor_si256((a), (b))
#define AF_B3_R16(x) _mm256_shuffle_epi8((x), rot16)
#define AF_B3_R12(x) _mm256_or_si256(_mm256_srli_epi32((x), 12), _mm256_slli_epi32((x), 20))
#define AF_B3_R8(x) _mm256_shuffle_epi8((x), rot8)
#define AF_B3_R7(x) _mm256_or_si256(_mm256_srli_epi32((x), 7), _mm256_slli_epi32((x), 25))

/* Message words that may be nonzero in a block of blen bytes: 4, 8 or 16. Compressions are
   specialised on it (a compile-time constant after inlining), which drops the additions of
   known-zero words: short messages are the product's hot case. */
static AF_B3_INLINE int af_b3__words_class(size_t blen)
{
    return blen <= 16 ? 4 : blen <= 32 ? 8 : 16;
}

/* compress(cv, m, nw, blen, f) with nw the constant of blen's words class. */
#define AF_B3_COMPRESS_BY_CLASS(compress, cv, m, blen, f)                                      \
    do {                                                                                       \
        switch (af_b3__words_class(blen)) {                                                    \
        case 4: compress((cv), (m), 4, (uint32_t)(blen), (f)); break;                          \
        case 8: compress((cv), (m), 8, (uint32_t)(blen), (f)); break;                          \
        default: compress((cv), (m), 16, (uint32_t)(blen), (f)); break;                        \
        }                                                                                      \
    } while (0)

/* cv <- compress over 8 lanes; words m[nw..15] are taken as zero. */
static AF_B3_TARGET_AVX2 AF_B3_ALWAYS_INLINE void af_b3__compress8(__m256i cv[8],
                                                                   const __m256i m[16],
                                                                   int nw, uint32_t block_len,
                                                                   uint32_t flags)
{
    const __m256i rot16 = _mm256_setr_epi8(2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13,
                                           2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13);
    const __m256i rot8 = _mm256_setr_epi8(1, 2, 3, 0, 5, 6, 7, 4, 9, 10, 11, 8, 13, 14, 15, 12,
                                          1, 2, 3, 0, 5, 6, 7, 4, 9, 10, 11, 8, 13, 14, 15, 12);
    const __m256i zero = _mm256_setzero_si256();
    AF_B3_COMPRESS_LANES(__m256i, _mm256_set1_epi32, _mm256_setzero_si256, _mm256_xor_si256);
    (void)zero;
}

#undef AF_B3_ADD
#undef AF_B3_XOR
#undef AF_B3_R16
#undef AF_B3_R12
#undef AF_B3_R8
#undef AF_B3_R7

/* Hash the cnt (1..8) messages starting at row `row` with 8 lanes; `special` (a constant)
   selects compressions specialised on the block length (larger code, for full groups). */
static AF_B3_TARGET_AVX2 AF_B3_ALWAYS_INLINE void af_b3__group8(
    const uint32_t key[8], uint32_t flags, const uint8_t *in, size_t in_stride, size_t len,
    size_t in_limit, size_t row, size_t cnt, uint8_t *out, size_t out_stride, size_t out_len,
    size_t out_limit, int special)
{
    __m256i cv[8], m[16];
    size_t nblocks = af_b3__nblocks(len), b;
    int k;
    for (k = 0; k < 8; k++) cv[k] = _mm256_set1_epi32((int)key[k]);
    for (b = 0; b < nblocks; b++) {
        size_t blen;
        uint32_t f = af_b3__block(flags, len, nblocks, b, &blen);
        af_b3__load8(in, row * in_stride + b * AF_B3_BLOCK_LEN, in_stride, in_limit, cnt, blen,
                     m);
        if (!special)
            af_b3__compress8(cv, m, 16, (uint32_t)blen, f);
        else
            AF_B3_COMPRESS_BY_CLASS(af_b3__compress8, cv, m, blen, f);
    }
    af_b3__store8(cv, out, row * out_stride, out_stride, out_limit, cnt, out_len);
}

/* Rows [row, n) with 8 lanes; a remainder of fewer than AF_B3_MIN_PARTIAL rows goes scalar. */
#define AF_B3_MIN_PARTIAL 2
static AF_B3_TARGET_AVX2 void af_b3__many_avx2(const uint32_t key[8], uint32_t flags,
                                               const uint8_t *in, size_t in_stride, size_t len,
                                               size_t row, size_t n, uint8_t *out,
                                               size_t out_stride, size_t out_len)
{
    size_t in_limit = (n - 1) * in_stride + len;
    size_t out_limit = (n - 1) * out_stride + out_len;
    for (; row + 8 <= n; row += 8)
        af_b3__group8(key, flags, in, in_stride, len, in_limit, row, 8, out, out_stride, out_len,
                      out_limit, 1);
    if (n - row >= AF_B3_MIN_PARTIAL) {
        af_b3__group8(key, flags, in, in_stride, len, in_limit, row, n - row, out, out_stride,
                      out_len, out_limit, 0);
    } else {
        for (; row < n; row++)
            af_b3_hash(key, flags, in + row * in_stride, len, out + row * out_stride, out_len);
    }
}

#define AF_B3_ADD(a, b) _mm512_add_epi32((a), (b))
#define AF_B3_XOR(a, b) _mm512_xor_si512((a), (b))
#define AF_B3_R16(x) _mm512_ror_epi32((x), 16)
#define AF_B3_R12(x) _mm512_ror_epi32((x), 12)
#define AF_B3_R8(x) _mm512_ror_epi32((x), 8)
#define AF_B3_R7(x) _mm512_ror_epi32((x), 7)

/* cv <- compress over 16 lanes; words m[nw..15] are taken as zero. */
static AF_B3_TARGET_AVX512 AF_B3_ALWAYS_INLINE void af_b3__compress16(__m512i cv[8],
                                                                      const __m512i m[16],
                                                                      int nw, uint32_t block_len,
                                                                      uint32_t flags)
{
    const __m512i zero = _mm512_setzero_si512();
    AF_B3_COMPRESS_LANES(__m512i, _mm512_set1_epi32, _mm512_setzero_si512, _mm512_xor_si512);
    (void)zero;
}

/* Full groups of 16 rows with AVX-512F (lanes 0-7 and 8-15 are loaded and stored through the
   8-lane AVX2 transposes above); the remaining rows go to the AVX2 code. */
static AF_B3_TARGET_AVX512 void af_b3__many_avx512(const uint32_t key[8], uint32_t flags,
                                                   const uint8_t *in, size_t in_stride,
                                                   size_t len, size_t n, uint8_t *out,
                                                   size_t out_stride, size_t out_len)
{
    size_t in_limit = (n - 1) * in_stride + len;
    size_t out_limit = (n - 1) * out_stride + out_len;
    size_t nblocks = af_b3__nblocks(len), row, b;
    int k;
    for (row = 0; row + 16 <= n; row += 16) {
        __m512i cv[8], m[16];
        __m256i lo[16], hi[16];
        for (k = 0; k < 8; k++) cv[k] = _mm512_set1_epi32((int)key[k]);
        for (b = 0; b < nblocks; b++) {
            size_t off = b * AF_B3_BLOCK_LEN, blen;
            uint32_t f = af_b3__block(flags, len, nblocks, b, &blen);
            af_b3__load8(in, row * in_stride + off, in_stride, in_limit, 8, blen, lo);
            af_b3__load8(in, (row + 8) * in_stride + off, in_stride, in_limit, 8, blen, hi);
            for (k = 0; k < 16; k++)
                m[k] = _mm512_inserti64x4(_mm512_castsi256_si512(lo[k]), hi[k], 1);
            AF_B3_COMPRESS_BY_CLASS(af_b3__compress16, cv, m, blen, f);
        }
        for (k = 0; k < 8; k++) {
            lo[k] = _mm512_castsi512_si256(cv[k]);
            hi[k] = _mm512_extracti64x4_epi64(cv[k], 1);
        }
        af_b3__store8(lo, out, row * out_stride, out_stride, out_limit, 8, out_len);
        af_b3__store8(hi, out, (row + 8) * out_stride, out_stride, out_limit, 8, out_len);
    }
    if (row < n)
        af_b3__many_avx2(key, flags, in, in_stride, len, row, n, out, out_stride, out_len);
}

#undef AF_B3_ADD
#undef AF_B3_XOR
#undef AF_B3_R16
#undef AF_B3_R12
#undef AF_B3_R8
#undef AF_B3_R7

#undef AF_B3_COMPRESS_BY_CLASS
#undef AF_B3_M
#define AF_B3_M(m, i) ((m)[i])

#endif /* AF_B3_X86_SIMD */

/* ---- run-time dispatch ------------------------------------------------------------------- */

/* Highest level this CPU (and OS) supports. */
static int af_b3__cpu_level(void)
{
#if AF_B3_X86_SIMD
    static int cached = -1;
    if (cached < 0) {
        int lvl = AF_B3_LEVEL_SCALAR;
        __builtin_cpu_init();
        if (__builtin_cpu_supports("avx2")) {
            lvl = AF_B3_LEVEL_AVX2;
            if (__builtin_cpu_supports("avx512f")) lvl = AF_B3_LEVEL_AVX512;
        }
        cached = lvl;
    }
    return cached;
#else
    return AF_B3_LEVEL_SCALAR;
#endif
}

static volatile int af_b3__level_now = -1;

/* 0 scalar, 1 avx2, 2 avx512: what af_b3_hash_many uses now. */
static int af_b3_level(void)
{
    int lvl = af_b3__level_now;
    if (lvl < 0) {
        lvl = af_b3__cpu_level();
        af_b3__level_now = lvl;
    }
    return lvl;
}

/* Use at most `level` (clamped to what the CPU supports; negative means scalar). Returns the
   level now in force. Process-wide: meant for tests and benchmarks. */
static int af_b3_set_level(int level)
{
    int top = af_b3__cpu_level();
    if (level > top) level = top;
    if (level < 0) level = AF_B3_LEVEL_SCALAR;
    af_b3__level_now = level;
    return level;
}

/* n messages of the same length len <= 1024 (message i at in + i*in_stride), digest i
   (out_len <= 32 bytes) at out + i*out_stride; see the file comment. */
static void af_b3_hash_many(const uint32_t key[8], uint32_t flags, const uint8_t *in,
                            size_t in_stride, size_t len, size_t n, uint8_t *out,
                            size_t out_stride, size_t out_len)
{
    if (n == 0 || out_len == 0) return;
    if (out_len > AF_B3_OUT_LEN) out_len = AF_B3_OUT_LEN;
#if AF_B3_X86_SIMD
    switch (af_b3_level()) {
    case AF_B3_LEVEL_AVX512:
        af_b3__many_avx512(key, flags, in, in_stride, len, n, out, out_stride, out_len);
        return;
    case AF_B3_LEVEL_AVX2:
        af_b3__many_avx2(key, flags, in, in_stride, len, 0, n, out, out_stride, out_len);
        return;
    default:
        break;
    }
#endif
    af_b3__many_scalar(key, flags, in, in_stride, len, n, out, out_stride, out_len);
}

#ifdef AF_B3_GCC_OPTIONS_PUSHED
#pragma GCC pop_options
#undef AF_B3_GCC_OPTIONS_PUSHED
#endif

#endif /* ANTIFAKE_BLAKE3_H */
