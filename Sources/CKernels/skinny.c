// `y += x · wᵀ` for a few rows of `x` (a query, a short batch), reading `w` where it lies.
//
// OpenBLAS packs the weight matrix into its own layout on every call; with 16 rows that copy costs
// more than the arithmetic (sgemm_incopy took 30% of a 16-token MiniLM query, the kernel 21%).
// Here each output is a dot product of an `x` row and a `w` row, both contiguous in memory, so
// `w` streams from memory once, straight into the FMAs, and `x` (a few KiB) stays in L1. Tiles
// of 4 rows x 3 columns keep 12 accumulators, 3 weight vectors and 1 input vector in the 16 AVX
// registers; each weight vector loaded serves 4 FMAs, each input vector 3.
#include "ckernels.h"

#include "avx2.h"

int cascade_avx2_available(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

// MR and NR are constants at every call site, so the loops unroll and `acc` lives in registers.
// While it computes, a tile prefetches the weight row `ahead` (when not null): tile t of a block
// takes row t of the block after the next one. With only the hardware prefetcher the arithmetic
// waited on the weights' stream; prefetching one row per tile, rather than a whole block from the
// first tile, overlaps the stream with the FMAs (1.2x on 16 rows whose weights come from memory,
// measured against both). A single prefetch, not a loop over rows, keeps the inner loop tight.
__attribute__((target("avx2,fma"), always_inline)) static inline void tile(int MR, int NR, int depth, const float *x,
                                                                           int ldx, const float *w, int ldw,
                                                                           float *y, int ldy, const float *ahead) {
    __m256 acc[4][3];
    for (int i = 0; i < MR; i++)
        for (int j = 0; j < NR; j++) acc[i][j] = _mm256_setzero_ps();
    int p = 0;
    for (; p + 8 <= depth; p += 8) {
        __m256 wv[3];
        for (int j = 0; j < NR; j++) wv[j] = _mm256_loadu_ps(w + j * ldw + p);
        if (ahead && (p & 15) == 0) _mm_prefetch((const char *)(ahead + p), _MM_HINT_T0);
        for (int i = 0; i < MR; i++) {
            __m256 xv = _mm256_loadu_ps(x + i * ldx + p);
            for (int j = 0; j < NR; j++) acc[i][j] = _mm256_fmadd_ps(xv, wv[j], acc[i][j]);
        }
    }
    for (int i = 0; i < MR; i++) {
        for (int j = 0; j < NR; j++) {
            float s = sum8(acc[i][j]);
            for (int q = p; q < depth; q++) s += x[i * ldx + q] * w[j * ldw + q];
            y[i * ldy + j] += s;
        }
    }
}

// One block of NR weight rows against every row of x, 4 rows at a time: the block is read from
// memory by the first tile and from L1 by the rest.
__attribute__((target("avx2,fma"), always_inline)) static inline void column_block(int NR, int rows, int depth,
                                                                                   const float *x, int ldx,
                                                                                   const float *w, int ldw, float *y,
                                                                                   int ldy, const float *next) {
    int tiles = (rows + 3) / 4;
    for (int t = 0; t < tiles; t++) {
        int i = 4 * t;
        const float *xi = x + i * ldx;
        float *yi = y + i * ldy;
        const float *ahead = next && t < 3 ? next + t * ldw : 0;
        switch (rows - i) {
        case 1: tile(1, NR, depth, xi, ldx, w, ldw, yi, ldy, ahead); break;
        case 2: tile(2, NR, depth, xi, ldx, w, ldw, yi, ldy, ahead); break;
        case 3: tile(3, NR, depth, xi, ldx, w, ldw, yi, ldy, ahead); break;
        default: tile(4, NR, depth, xi, ldx, w, ldw, yi, ldy, ahead); break;
        }
    }
}

__attribute__((target("avx2,fma"))) void cascade_sgemm_nt_skinny(int rows, int columns, int depth, const float *x,
                                                                 int ldx, const float *w, int ldw, float *y,
                                                                 int ldy) {
    int j = 0;
    for (; j + 3 <= columns; j += 3) {
        const float *next = j + 9 <= columns ? w + (long)(j + 6) * ldw : 0;
        column_block(3, rows, depth, x, ldx, w + (long)j * ldw, ldw, y + j, ldy, next);
    }
    switch (columns - j) {
    case 2: column_block(2, rows, depth, x, ldx, w + (long)j * ldw, ldw, y + j, ldy, 0); break;
    case 1: column_block(1, rows, depth, x, ldx, w + (long)j * ldw, ldw, y + j, ldy, 0); break;
    }
}
