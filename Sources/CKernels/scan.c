// Code scans for VectorStore (see scan.h): int8 rows with one scale each, and fp16 rows.
//
// int8: codes are stored biased (code + 128, unsigned) and the query is quantised to signed bytes
// in [-64, 64], so one `vpmaddubsw` multiplies 32 pairs (64 on AVX-512) straight from memory, with
// no widening of the codes in the loop: about 4 instructions per 32 components against 8 for
// fp32's loads and FMAs, and a quarter of the bytes (a row of 384 codes is 384 bytes, not 1,536).
// The bias is taken out once per row (128 x the query's sum). The query's own rounding (7 bits)
// only perturbs candidate order, which rescoring from fp32 repairs. Four rows at a time share each
// query load and keep four independent accumulator chains (on AVX2 from the block's four quarters:
// see int8_avx2). (AVX-512 VNNI's `vpdpbusd` takes the
// same operands; a path with it ran 2.94x against this one's 2.85x in one run: the loop waits on
// memory, see PREFETCH_ROWS, so it was not kept.)
//
// fp16: `vcvtph2ps` widens 8 (16) halves per instruction into an FMA against the float query.
#include "scan.h"

#include <immintrin.h>
#include <string.h>

float cascade_half_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exponent = (h >> 10) & 0x1f;
    uint32_t mantissa = h & 0x3ff;
    uint32_t bits;
    if (exponent == 0x1f) {
        bits = sign | 0x7f800000 | (mantissa << 13);
    } else if (exponent != 0) {
        bits = sign | ((exponent + 112) << 23) | (mantissa << 13);
    } else if (mantissa == 0) {
        bits = sign;
    } else {
        // Subnormal: normalise the mantissa.
        int shift = 0;
        while (!(mantissa & 0x400)) {
            mantissa <<= 1;
            shift++;
        }
        bits = sign | ((uint32_t)(113 - shift) << 23) | ((mantissa & 0x3ff) << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

static inline float load_scale(const void *scales, int r) {
    float s;
    memcpy(&s, (const char *)scales + 4 * (long)r, 4);
    return s;
}

static inline int32_t dot_u8_tail(const uint8_t *c, const int8_t *q, int from, int dim) {
    int32_t sum = 0;
    for (int d = from; d < dim; d++) sum += (int32_t)c[d] * q[d];
    return sum;
}

// The biased dot product minus the bias's share, times the two scales: the same expression on
// every path, so equal integer sums give equal floats.
static inline float finish(int32_t biased, int32_t query_sum, const void *scales, int r, float query_scale) {
    return (float)(biased - 128 * query_sum) * (load_scale(scales, r) * query_scale);
}

// The AVX-512 loop fetches the four rows PREFETCH_ROWS ahead while it sums the current four: the
// scan waits on memory, not on arithmetic. 1M x 384 codes with rescoring, on an AVX-512 VNNI Xeon:
// 2.3x faster than the fp32 scan without it, 2.84-2.85x with it (8 and 20 rows ahead did as well).
// The AVX2 loop reads four streams instead (see int8_avx2), which needed no software prefetch.
enum { PREFETCH_ROWS = 32 };

static inline void prefetch_group(const uint8_t *c, int dim, int d) {
    for (int i = PREFETCH_ROWS; i < PREFETCH_ROWS + 4; i++)
        _mm_prefetch((const char *)(c + i * (long)dim + d), _MM_HINT_T0);
}

static void int8_portable(const uint8_t *codes, const void *scales, int rows, int dim, const int8_t *query,
                          int32_t query_sum, float query_scale, float *out) {
    for (int r = 0; r < rows; r++)
        out[r] = finish(dot_u8_tail(codes + (long)r * dim, query, 0, dim), query_sum, scales, r, query_scale);
}

__attribute__((target("avx2"))) static inline int32_t hsum_epi32_256(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(1, 0, 3, 2)));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(2, 3, 0, 1)));
    return _mm_cvtsi128_si32(s);
}

// `vpmaddubsw` multiplies unsigned codes by signed query bytes and adds pairs into int16 (at most
// 255 * 64 * 2 = 32640: no saturation), `vpmaddwd` by ones widens pairs into int32.
// The four rows summed together come from the four quarters of the block, not from one place:
// four sequential streams, which the hardware prefetcher follows at once, where one stream (with
// software prefetch) left a core reading at 9-12 GB/s; 17 GB/s with four (Zen 3, one thread,
// 1M x 384 codes from memory).
__attribute__((target("avx2"))) static void int8_avx2(const uint8_t *codes, const void *scales, int rows, int dim,
                                                      const int8_t *query, int32_t query_sum, float query_scale,
                                                      float *out) {
    const __m256i ones = _mm256_set1_epi16(1);
    int simd = dim & ~31;
    int quarter = rows / 4;
    for (int r = 0; r < quarter; r++) {
        const uint8_t *c = codes + (long)r * dim;
        long step = (long)quarter * dim;
        __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
        for (int d = 0; d < simd; d += 32) {
            __m256i q = _mm256_loadu_si256((const __m256i *)(query + d));
#define ROW(i, acc)                                                                                                    \
    acc = _mm256_add_epi32(                                                                                            \
        acc, _mm256_madd_epi16(                                                                                        \
                 _mm256_maddubs_epi16(_mm256_loadu_si256((const __m256i *)(c + (i) * step + d)), q), ones))
            ROW(0, a0);
            ROW(1, a1);
            ROW(2, a2);
            ROW(3, a3);
#undef ROW
        }
        __m256i acc[4] = {a0, a1, a2, a3};
        for (int i = 0; i < 4; i++)
            out[r + i * quarter] = finish(hsum_epi32_256(acc[i]) + dot_u8_tail(c + i * step, query, simd, dim),
                                          query_sum, scales, r + i * quarter, query_scale);
    }
    for (int r = 4 * quarter; r < rows; r++) {
        const uint8_t *c = codes + (long)r * dim;
        __m256i a = _mm256_setzero_si256();
        for (int d = 0; d < simd; d += 32) {
            __m256i q = _mm256_loadu_si256((const __m256i *)(query + d));
            a = _mm256_add_epi32(
                a, _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_loadu_si256((const __m256i *)(c + d)), q), ones));
        }
        out[r] = finish(hsum_epi32_256(a) + dot_u8_tail(c, query, simd, dim), query_sum, scales, r, query_scale);
    }
}

__attribute__((target("avx512f,avx512bw"))) static void int8_avx512(const uint8_t *codes, const void *scales, int rows,
                                                                    int dim, const int8_t *query, int32_t query_sum,
                                                                    float query_scale, float *out) {
    const __m512i ones = _mm512_set1_epi16(1);
    int simd = dim & ~63;
    int r = 0;
    for (; r + 4 <= rows; r += 4) {
        const uint8_t *c = codes + (long)r * dim;
        __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0;
        for (int d = 0; d < simd; d += 64) {
            __m512i q = _mm512_loadu_si512((const void *)(query + d));
            if (r + PREFETCH_ROWS + 4 <= rows) prefetch_group(c, dim, d);
#define ROW(i, acc)                                                                                                    \
    acc = _mm512_add_epi32(                                                                                            \
        acc, _mm512_madd_epi16(_mm512_maddubs_epi16(_mm512_loadu_si512((const void *)(c + (i) * (long)dim + d)), q),  \
                               ones))
            ROW(0, a0);
            ROW(1, a1);
            ROW(2, a2);
            ROW(3, a3);
#undef ROW
        }
        __m512i acc[4] = {a0, a1, a2, a3};
        for (int i = 0; i < 4; i++)
            out[r + i] = finish(_mm512_reduce_add_epi32(acc[i]) + dot_u8_tail(c + i * (long)dim, query, simd, dim),
                                query_sum, scales, r + i, query_scale);
    }
    for (; r < rows; r++) {
        const uint8_t *c = codes + (long)r * dim;
        __m512i a = _mm512_setzero_si512();
        for (int d = 0; d < simd; d += 64) {
            __m512i q = _mm512_loadu_si512((const void *)(query + d));
            a = _mm512_add_epi32(
                a, _mm512_madd_epi16(_mm512_maddubs_epi16(_mm512_loadu_si512((const void *)(c + d)), q), ones));
        }
        out[r] = finish(_mm512_reduce_add_epi32(a) + dot_u8_tail(c, query, simd, dim), query_sum, scales, r,
                        query_scale);
    }
}

void cascade_scan_int8(int level, const uint8_t *codes, const void *scales, int rows, int dim, const int8_t *query,
                       int32_t query_sum, float query_scale, float *out) {
    if (level >= CASCADE_ISA_AVX512)
        int8_avx512(codes, scales, rows, dim, query, query_sum, query_scale, out);
    else if (level == CASCADE_ISA_AVX2)
        int8_avx2(codes, scales, rows, dim, query, query_sum, query_scale, out);
    else
        int8_portable(codes, scales, rows, dim, query, query_sum, query_scale, out);
}

static inline float half_at(const void *codes, long index) {
    uint16_t h;
    memcpy(&h, (const char *)codes + 2 * index, 2);
    return cascade_half_to_float(h);
}

static void fp16_portable(const void *codes, int rows, int dim, const float *query, float *out) {
    for (int r = 0; r < rows; r++) {
        float sum = 0;
        for (int d = 0; d < dim; d++) sum += half_at(codes, (long)r * dim + d) * query[d];
        out[r] = sum;
    }
}

__attribute__((target("avx2,fma,f16c"))) static inline float hsum_ps_256(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
}

__attribute__((target("avx2,fma,f16c"))) static void fp16_avx2(const void *codes, int rows, int dim,
                                                               const float *query, float *out) {
    const uint16_t *h = (const uint16_t *)codes;
    int simd = dim & ~7;
    int r = 0;
    for (; r + 4 <= rows; r += 4) {
        const uint16_t *c = h + (long)r * dim;
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        for (int d = 0; d < simd; d += 8) {
            __m256 q = _mm256_loadu_ps(query + d);
#define ROW(i, acc)                                                                                                    \
    acc = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(c + (i) * (long)dim + d))), q, acc)
            ROW(0, a0);
            ROW(1, a1);
            ROW(2, a2);
            ROW(3, a3);
#undef ROW
        }
        __m256 acc[4] = {a0, a1, a2, a3};
        for (int i = 0; i < 4; i++) {
            float sum = hsum_ps_256(acc[i]);
            for (int d = simd; d < dim; d++) sum += half_at(codes, (long)(r + i) * dim + d) * query[d];
            out[r + i] = sum;
        }
    }
    for (; r < rows; r++) {
        const uint16_t *c = h + (long)r * dim;
        __m256 a = _mm256_setzero_ps();
        for (int d = 0; d < simd; d += 8)
            a = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(c + d))), _mm256_loadu_ps(query + d), a);
        float sum = hsum_ps_256(a);
        for (int d = simd; d < dim; d++) sum += half_at(codes, (long)r * dim + d) * query[d];
        out[r] = sum;
    }
}

__attribute__((target("avx512f"))) static void fp16_avx512(const void *codes, int rows, int dim, const float *query,
                                                           float *out) {
    const uint16_t *h = (const uint16_t *)codes;
    int simd = dim & ~15;
    int r = 0;
    for (; r + 4 <= rows; r += 4) {
        const uint16_t *c = h + (long)r * dim;
        __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        for (int d = 0; d < simd; d += 16) {
            __m512 q = _mm512_loadu_ps(query + d);
#define ROW(i, acc)                                                                                                    \
    acc = _mm512_fmadd_ps(_mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(c + (i) * (long)dim + d))), q, acc)
            ROW(0, a0);
            ROW(1, a1);
            ROW(2, a2);
            ROW(3, a3);
#undef ROW
        }
        __m512 acc[4] = {a0, a1, a2, a3};
        for (int i = 0; i < 4; i++) {
            float sum = _mm512_reduce_add_ps(acc[i]);
            for (int d = simd; d < dim; d++) sum += half_at(codes, (long)(r + i) * dim + d) * query[d];
            out[r + i] = sum;
        }
    }
    for (; r < rows; r++) {
        const uint16_t *c = h + (long)r * dim;
        __m512 a = _mm512_setzero_ps();
        for (int d = 0; d < simd; d += 16)
            a = _mm512_fmadd_ps(_mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(c + d))), _mm512_loadu_ps(query + d),
                                a);
        float sum = _mm512_reduce_add_ps(a);
        for (int d = simd; d < dim; d++) sum += half_at(codes, (long)r * dim + d) * query[d];
        out[r] = sum;
    }
}

void cascade_scan_fp16(int level, const void *codes, int rows, int dim, const float *query, float *out) {
    if (level >= CASCADE_ISA_AVX512)
        fp16_avx512(codes, rows, dim, query, out);
    else if (level == CASCADE_ISA_AVX2)
        fp16_avx2(codes, rows, dim, query, out);
    else
        fp16_portable(codes, rows, dim, query, out);
}
