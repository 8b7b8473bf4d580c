// Scaled dot-product attention for one (sequence, head) of a short sequence (a query).
//
// Through OpenBLAS each (sequence, head) was two `cblas_sgemm` calls of a few thousand
// multiply-adds, each paying the library's dispatch, buffer and packing costs: 144 calls per
// MiniLM query, and about 5% of a server's CPU under 16 retrieval-only callers (its copy routines
// and its kernel together) for some 2% of the arithmetic. Here the rows are read in place.
#include "ckernels.h"

#include "avx2.h"

void cascade_attention_head_portable(int queries, int n, int head_size, float scale, const float *q, const float *k,
                                     const float *v, int stride, float *scores, float *out, int ldo) {
    for (int i = 0; i < queries; i++)
        for (int j = 0; j < n; j++) {
            float dot = 0;
            for (int p = 0; p < head_size; p++) dot += q[(long)i * stride + p] * k[(long)j * stride + p];
            scores[i * n + j] = scale * dot;
        }
    cascade_softmax_rows_portable(scores, queries, n);
    for (int i = 0; i < queries; i++) {
        float *o = out + (long)i * ldo;
        for (int p = 0; p < head_size; p++) o[p] = 0;
        for (int j = 0; j < n; j++) {
            float weight = scores[i * n + j];
            for (int p = 0; p < head_size; p++) o[p] += weight * v[(long)j * stride + p];
        }
    }
}

// Needs head_size a multiple of 8.
__attribute__((target("avx2,fma"))) static void head_avx2(int queries, int n, int head_size, float scale,
                                                        const float *q, const float *k, const float *v, int stride,
                                                        float *scores, float *out, int ldo) {
    for (int i = 0; i < queries; i++) {
        const float *qi = q + (long)i * stride;
        for (int j = 0; j < n; j++) {
            const float *kj = k + (long)j * stride;
            __m256 acc = _mm256_mul_ps(_mm256_loadu_ps(qi), _mm256_loadu_ps(kj));
            for (int p = 8; p < head_size; p += 8)
                acc = _mm256_fmadd_ps(_mm256_loadu_ps(qi + p), _mm256_loadu_ps(kj + p), acc);
            scores[i * n + j] = scale * sum8(acc);
        }
    }
    cascade_softmax_rows(scores, queries, n);
    for (int i = 0; i < queries; i++) {
        const float *s = scores + i * n;
        float *o = out + (long)i * ldo;
        for (int p = 0; p < head_size; p += 8) {
            __m256 acc = _mm256_setzero_ps();
            for (int j = 0; j < n; j++)
                acc = _mm256_fmadd_ps(_mm256_broadcast_ss(s + j), _mm256_loadu_ps(v + (long)j * stride + p), acc);
            _mm256_storeu_ps(o + p, acc);
        }
    }
}

void cascade_attention_head(int queries, int n, int head_size, float scale, const float *q, const float *k,
                            const float *v, int stride, float *scores, float *out, int ldo) {
    if (head_size % 8 == 0 && cascade_avx2_available())
        head_avx2(queries, n, head_size, scale, q, k, v, stride, scores, out, ldo);
    else
        cascade_attention_head_portable(queries, n, head_size, scale, q, k, v, stride, scores, out, ldo);
}
