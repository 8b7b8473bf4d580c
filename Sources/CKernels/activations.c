// GELU and softmax, the two element-wise steps that showed in a MiniLM batch's profile (4% and
// 4.6% of its time as Swift loops, which compile for the baseline x86-64: 4 lanes, no FMA).
// AVX2 + FMA when the CPU has them (8 lanes), else the same arithmetic one float at a time.
// erf: the rational approximation of Eigen / XLA on [-4, 4] (|erf| rounds to 1 beyond);
// exp: Cody-Waite reduction to [-ln2/2, ln2/2], a degree-6 polynomial and 2^n built in the
// exponent bits. Both branch-free, both within a few ulp of libm (tested).
#include "ckernels.h"

#include <stdint.h>
#include <string.h>

#include "avx2.h"

static const float erf_p[7] = {-2.72614225801306e-10f, 2.77068142495902e-08f, -2.10102402082508e-06f,
                               -5.69250639462346e-05f, -7.34990630326855e-04f, -2.95459980854025e-03f,
                               -1.60960333262415e-02f};
static const float erf_q[5] = {-1.45660718464996e-05f, -2.13374055278905e-04f, -1.68282697438203e-03f,
                               -7.37332916720468e-03f, -1.42647390514189e-02f};
static const float exp_c[6] = {1.0f / 720, 1.0f / 120, 1.0f / 24, 1.0f / 6, 0.5f, 1.0f};
// 1.5 * 2^23: adding it rounds to an integer in the low mantissa bits.
#define EXP_SHIFT 12582912.0f
#define LOG2E 1.44269504f
#define LN2_HI 0.693145751953125f
#define LN2_LO 1.428606820309417232e-6f
#define SQRT1_2 0.7071067811865476f

static inline float erf1(float a) {
    float x = a < -4 ? -4 : (a > 4 ? 4 : a);
    float x2 = x * x;
    float p = erf_p[0];
    for (int i = 1; i < 7; i++) p = p * x2 + erf_p[i];
    float q = erf_q[0];
    for (int i = 1; i < 5; i++) q = q * x2 + erf_q[i];
    return x * p / q;
}

static inline float exp1(float a) {
    float x = a < -87 ? -87 : (a > 88 ? 88 : a);
    float shifted = x * LOG2E + EXP_SHIFT;
    float n = shifted - EXP_SHIFT;
    float r = x - n * LN2_HI - n * LN2_LO;
    float p = exp_c[0];
    for (int i = 1; i < 6; i++) p = p * r + exp_c[i];
    p = p * r + 1;
    uint32_t bits;
    memcpy(&bits, &shifted, 4);
    bits = (bits - 0x4B400000u + 127u) << 23;
    float scale;
    memcpy(&scale, &bits, 4);
    return p * scale;
}

__attribute__((target("avx2,fma"))) static inline __m256 erf8(__m256 a) {
    __m256 x = _mm256_min_ps(_mm256_max_ps(a, _mm256_set1_ps(-4)), _mm256_set1_ps(4));
    __m256 x2 = _mm256_mul_ps(x, x);
    __m256 p = _mm256_set1_ps(erf_p[0]);
    for (int i = 1; i < 7; i++) p = _mm256_fmadd_ps(p, x2, _mm256_set1_ps(erf_p[i]));
    __m256 q = _mm256_set1_ps(erf_q[0]);
    for (int i = 1; i < 5; i++) q = _mm256_fmadd_ps(q, x2, _mm256_set1_ps(erf_q[i]));
    return _mm256_div_ps(_mm256_mul_ps(x, p), q);
}

__attribute__((target("avx2,fma"))) static inline __m256 exp8(__m256 a) {
    __m256 x = _mm256_min_ps(_mm256_max_ps(a, _mm256_set1_ps(-87)), _mm256_set1_ps(88));
    __m256 shifted = _mm256_fmadd_ps(x, _mm256_set1_ps(LOG2E), _mm256_set1_ps(EXP_SHIFT));
    __m256 n = _mm256_sub_ps(shifted, _mm256_set1_ps(EXP_SHIFT));
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(LN2_HI), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(LN2_LO), r);
    __m256 p = _mm256_set1_ps(exp_c[0]);
    for (int i = 1; i < 6; i++) p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(exp_c[i]));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1));
    __m256i bits = _mm256_sub_epi32(_mm256_castps_si256(shifted), _mm256_set1_epi32(0x4B400000 - 127));
    return _mm256_mul_ps(p, _mm256_castsi256_ps(_mm256_slli_epi32(bits, 23)));
}

void cascade_gelu_portable(float *y, int rows, int columns, int stride) {
    for (int r = 0; r < rows; r++) {
        float *row = y + (long)r * stride;
        for (int j = 0; j < columns; j++) row[j] = 0.5f * row[j] * (1 + erf1(row[j] * SQRT1_2));
    }
}

__attribute__((target("avx2,fma"))) static void gelu_avx2(float *y, int rows, int columns, int stride) {
    const __m256 half = _mm256_set1_ps(0.5f), one = _mm256_set1_ps(1), root = _mm256_set1_ps(SQRT1_2);
    for (int r = 0; r < rows; r++) {
        float *row = y + (long)r * stride;
        int j = 0;
        for (; j + 8 <= columns; j += 8) {
            __m256 v = _mm256_loadu_ps(row + j);
            __m256 e = erf8(_mm256_mul_ps(v, root));
            _mm256_storeu_ps(row + j, _mm256_mul_ps(_mm256_mul_ps(half, v), _mm256_add_ps(one, e)));
        }
        for (; j < columns; j++) row[j] = 0.5f * row[j] * (1 + erf1(row[j] * SQRT1_2));
    }
}

void cascade_softmax_rows_portable(float *s, int rows, int width) {
    for (int r = 0; r < rows; r++) {
        float *row = s + (long)r * width;
        float top = row[0];
        for (int j = 1; j < width; j++) top = row[j] > top ? row[j] : top;
        float total = 0;
        for (int j = 0; j < width; j++) total += (row[j] = exp1(row[j] - top));
        float inverse = 1 / total;
        for (int j = 0; j < width; j++) row[j] *= inverse;
    }
}

__attribute__((target("avx2,fma"))) static void softmax_avx2(float *s, int rows, int width) {
    for (int r = 0; r < rows; r++) {
        float *row = s + (long)r * width;
        int vectorEnd = width & ~7;
        float top = row[0];
        if (vectorEnd) {
            __m256 m = _mm256_loadu_ps(row);
            for (int j = 8; j < vectorEnd; j += 8) m = _mm256_max_ps(m, _mm256_loadu_ps(row + j));
            top = max8(m);
        }
        for (int j = vectorEnd; j < width; j++) top = row[j] > top ? row[j] : top;
        __m256 t = _mm256_set1_ps(top), sums = _mm256_setzero_ps();
        for (int j = 0; j < vectorEnd; j += 8) {
            __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(row + j), t));
            _mm256_storeu_ps(row + j, e);
            sums = _mm256_add_ps(sums, e);
        }
        float total = sum8(sums);
        for (int j = vectorEnd; j < width; j++) total += (row[j] = exp1(row[j] - top));
        float inverse = 1 / total;
        __m256 scale = _mm256_set1_ps(inverse);
        for (int j = 0; j < vectorEnd; j += 8) _mm256_storeu_ps(row + j, _mm256_mul_ps(_mm256_loadu_ps(row + j), scale));
        for (int j = vectorEnd; j < width; j++) row[j] *= inverse;
    }
}

// 1: AVX2 + FMA, 0: portable; set when the library loads, before any thread can call in.
static int simd;
__attribute__((constructor)) static void find_simd(void) { simd = cascade_avx2_available(); }

void cascade_gelu(float *y, int rows, int columns, int stride) {
    if (simd) gelu_avx2(y, rows, columns, stride);
    else cascade_gelu_portable(y, rows, columns, stride);
}

void cascade_softmax_rows(float *s, int rows, int width) {
    if (simd) softmax_avx2(s, rows, width);
    else cascade_softmax_rows_portable(s, rows, width);
}

float cascade_erf(float x) { return erf1(x); }
float cascade_exp(float x) { return exp1(x); }
