// `y += x · Wᵀ` with W stored as IEEE half: a query's GEMMs are bound by the weight stream, and
// half weights halve it. The weights are widened to fp32 in registers (F16C `vcvtph2ps`), the
// arithmetic is fp32 FMA, so the only error is the weights' rounding to half (relative 2^-11).
// The layout and the loop are the fp32 skinny kernel's (skinny.c, `cascade_skinny_gemm`): panels
// of 3 rows interleaved 8 values at a time, tiles of 4 rows x 3 columns; with more than 4 rows the
// first tile of a panel widens it once into L1 for the others.
#include "quantized.h"

#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "ckernels.h"
#include "skinny.h"

uint16_t cascade_f32_to_f16(float value) {
    uint32_t bits;
    memcpy(&bits, &value, 4);
    uint32_t sign = (bits >> 16) & 0x8000;
    uint32_t magnitude = bits & 0x7fffffff;
    if (magnitude >= 0x7f800000) return (uint16_t)(sign | 0x7c00 | (magnitude > 0x7f800000 ? 0x200 : 0));
    // 65520 and above round to infinity.
    if (magnitude >= 0x477ff000) return (uint16_t)(sign | 0x7c00);
    if (magnitude < 0x38800000) {
        // Subnormal half (or zero): the value in units of 2^-24, rounded to nearest even.
        float f;
        memcpy(&f, &magnitude, 4);
        return (uint16_t)(sign | (uint32_t)nearbyintf(f * 16777216.0f));
    }
    // Normal: rebias the exponent, round the 13 dropped mantissa bits to nearest even (a carry
    // into the exponent is the right result, up to infinity).
    uint32_t h = (magnitude - 0x38000000) >> 13;
    uint32_t rest = magnitude & 0x1fff;
    if (rest > 0x1000 || (rest == 0x1000 && (h & 1))) h++;
    return (uint16_t)(sign | h);
}

float cascade_f16_to_f32(uint16_t bits) {
    uint32_t sign = (uint32_t)(bits & 0x8000) << 16;
    uint32_t exponent = (bits >> 10) & 0x1f, mantissa = bits & 0x3ff;
    float magnitude;
    if (exponent == 0)
        magnitude = (float)mantissa * (1.0f / 16777216.0f);
    else if (exponent == 31)
        magnitude = mantissa ? NAN : INFINITY;
    else {
        uint32_t f = ((exponent + 112) << 23) | (mantissa << 13);
        memcpy(&magnitude, &f, 4);
    }
    uint32_t out;
    memcpy(&out, &magnitude, 4);
    out |= sign;
    float result;
    memcpy(&result, &out, 4);
    return result;
}

static inline int padded_depth(int depth) { return (depth + 7) & ~7; }

long cascade_f16_packed_count(int columns, int depth) { return (long)((columns + 2) / 3) * 3 * padded_depth(depth); }

void cascade_f16_pack(int columns, int depth, const float *w, int ldw, uint16_t *packed) {
    int pd = padded_depth(depth);
    for (int panel = 0; 3 * panel < columns; panel++) {
        uint16_t *out = packed + (long)panel * 3 * pd;
        for (int c = 0; c < pd / 8; c++)
            for (int r = 0; r < 3; r++)
                for (int q = 0; q < 8; q++) {
                    int j = 3 * panel + r, p = 8 * c + q;
                    out[(3 * c + r) * 8 + q] = j < columns && p < depth ? cascade_f32_to_f16(w[(long)j * ldw + p]) : 0;
                }
    }
}

static void gemm_portable(int rows, int columns, int depth, const float *x, int ldx, const uint16_t *packed, float *y,
                          int ldy) {
    int pd = padded_depth(depth);
    for (int j = 0; j < columns; j++) {
        const uint16_t *panel = packed + (long)(j / 3) * 3 * pd;
        int r = j % 3;
        for (int i = 0; i < rows; i++) {
            float s = 0;
            for (int p = 0; p < depth; p++) s += x[(long)i * ldx + p] * cascade_f16_to_f32(panel[(p / 8 * 3 + r) * 8 + p % 8]);
            y[(long)i * ldy + j] += s;
        }
    }
}

__attribute__((target("avx2,fma,f16c"), always_inline)) static inline __m256 load_half8(const uint16_t *w) {
    return _mm256_cvtph_ps(_mm_load_si128((const __m128i *)w));
}

void cascade_f16_gemm(int level, int rows, int columns, int depth, const float *x, int ldx, const uint16_t *packed,
                      float *y, int ldy) {
    if (level >= CASCADE_ISA_AVX2)
        cascade_skinny_gemm(rows, columns, depth, x, ldx, packed, 1, y, ldy);
    else
        gemm_portable(rows, columns, depth, x, ldx, packed, y, ldy);
}

__attribute__((target("avx2,fma,f16c"))) static void unpack_avx2(int columns, int depth, const uint16_t *packed,
                                                                 float *w, int ldw) {
    int pd = padded_depth(depth);
    for (int j = 0; j < columns; j++) {
        const uint16_t *panel = packed + (long)(j / 3) * 3 * pd + (j % 3) * 8;
        float *row = w + (long)j * ldw;
        int p = 0;
        for (; p + 8 <= depth; p += 8) _mm256_storeu_ps(row + p, load_half8(panel + 3 * p));
        for (; p < depth; p++) row[p] = cascade_f16_to_f32(panel[3 * (p & ~7) + (p & 7)]);
    }
}

void cascade_f16_unpack(int level, int columns, int depth, const uint16_t *packed, float *w, int ldw) {
    if (level >= CASCADE_ISA_AVX2) {
        unpack_avx2(columns, depth, packed, w, ldw);
        return;
    }
    int pd = padded_depth(depth);
    for (int j = 0; j < columns; j++) {
        const uint16_t *panel = packed + (long)(j / 3) * 3 * pd + (j % 3) * 8;
        for (int p = 0; p < depth; p++) w[(long)j * ldw + p] = cascade_f16_to_f32(panel[3 * (p & ~7) + (p & 7)]);
    }
}

const char *cascade_f16_path(int level) { return level >= CASCADE_ISA_AVX2 ? "avx2" : "portable"; }
