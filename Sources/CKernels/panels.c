// `y = x · wᵀ + bias` for any number of rows, on fp32 weights packed once at load.
//
// OpenBLAS packs the weight matrix into its own layout on every call. For a batch of a few hundred
// rows (the query encodes of many callers at once) that copy is what its GEMM spends most beside
// the arithmetic: `sgemm_incopy` took 9% of a server's CPU under 16 retrieval-only callers, against
// 44% for its kernel. Here the weights are already in the kernel's layout, so nothing is copied.
//
// The layout: panels of 16 output columns; within a panel, depth step `p` holds the 16 columns'
// weights `w[16 * panel + c][p]`, so a panel is read front to back as one stream. The kernel keeps
// a tile of up to 6 rows x 16 columns in 12 AVX registers: per depth step it loads two weight
// vectors and broadcasts one `x` value per row, each weight vector serving 6 FMAs. A panel (24 KiB
// at depth 384) stays in L1 while every row tile of the call passes over it; the first row tile
// prefetches the next panel, so a call with few rows (where only the weight stream counts) still
// overlaps it with the FMAs.
// The same tile runs attention (attention.c) on keys packed per head and values read in place,
// and fp16 layers (gemm_f16.c) on panels of halves, widened in registers.
//
// Measured single-threaded on a Zen 3 against OpenBLAS 0.3.21 with its per-call packing (weights
// cycled through 42 MB of copies, so they stream from memory as in a model): 0.5-0.7x its time at
// 12-16 rows, 0.7-0.9x at 48, 0.85-1.0x at 100; about the skinny kernel's time at 12-16 rows.
#include "ckernels.h"
#include "panels.h"

#include <immintrin.h>

long cascade_panels_packed_count(int columns, int depth) { return (long)((columns + 15) / 16) * 16 * depth; }

void cascade_panels_pack_scaled(int columns, int depth, const float *w, int ldw, float scale, float *packed) {
    for (int panel = 0; 16 * panel < columns; panel++)
        for (int p = 0; p < depth; p++)
            for (int c = 0; c < 16; c++) {
                int j = 16 * panel + c;
                packed[((long)panel * depth + p) * 16 + c] = j < columns ? scale * w[(long)j * ldw + p] : 0;
            }
}

void cascade_panels_pack(int columns, int depth, const float *w, int ldw, float *packed) {
    cascade_panels_pack_scaled(columns, depth, w, ldw, 1, packed);
}

// One tile of MR rows x the `ny` (<= 16) columns of one panel, whose depth step `p` starts at
// `w + p * step` (elements: floats, or with HALF IEEE halves widened in registers by F16C). MR,
// PREFETCH, PARTIAL (ny < 16: stores under a mask; float weights read under one too, never past
// the panel's last column; half panels are padded with zeros and read whole) and HALF are
// constants at every call site, so the row loop unrolls and the accumulators stay in registers.
// With PREFETCH, one cache line of `ahead` per 64 bytes of weights.
__attribute__((target("avx2,fma,f16c"), always_inline)) static inline void
tile(int MR, int PREFETCH, int PARTIAL, int HALF, int depth, const float *x, int ldx, const void *w, long step,
     const char *ahead, const float *bias, float *y, int ldy, int ny) {
    __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    __m256i low = _mm256_cmpgt_epi32(_mm256_set1_epi32(ny), lanes);
    __m256i high = _mm256_cmpgt_epi32(_mm256_set1_epi32(ny - 8), lanes);
    __m256 b0 = bias ? _mm256_maskload_ps(bias, low) : _mm256_setzero_ps();
    __m256 b1 = bias ? _mm256_maskload_ps(bias + 8, high) : _mm256_setzero_ps();
    __m256 acc[6][2];
    for (int i = 0; i < MR; i++) acc[i][0] = b0, acc[i][1] = b1;
    for (int p = 0; p < depth; p++) {
        __m256 w0, w1;
        if (HALF) {
            if (PREFETCH && p % 2 == 0) _mm_prefetch(ahead + 32L * p, _MM_HINT_T0);
            const uint16_t *wp = (const uint16_t *)w + p * step;
            w0 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)wp));
            w1 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(wp + 8)));
        } else {
            if (PREFETCH) _mm_prefetch(ahead + 64L * p, _MM_HINT_T0);
            const float *wp = (const float *)w + p * step;
            w0 = PARTIAL ? _mm256_maskload_ps(wp, low) : _mm256_loadu_ps(wp);
            w1 = PARTIAL ? _mm256_maskload_ps(wp + 8, high) : _mm256_loadu_ps(wp + 8);
        }
        for (int i = 0; i < MR; i++) {
            __m256 xv = _mm256_broadcast_ss(x + (long)i * ldx + p);
            acc[i][0] = _mm256_fmadd_ps(xv, w0, acc[i][0]);
            acc[i][1] = _mm256_fmadd_ps(xv, w1, acc[i][1]);
        }
    }
    for (int i = 0; i < MR; i++) {
        if (PARTIAL) {
            _mm256_maskstore_ps(y + (long)i * ldy, low, acc[i][0]);
            _mm256_maskstore_ps(y + (long)i * ldy + 8, high, acc[i][1]);
        } else {
            _mm256_storeu_ps(y + (long)i * ldy, acc[i][0]);
            _mm256_storeu_ps(y + (long)i * ldy + 8, acc[i][1]);
        }
    }
}

#define TILE_ROWS(NAME, HALF)                                                                                          \
    __attribute__((target("avx2,fma,f16c"))) static void NAME(int mr, int prefetch, int depth, const float *x,         \
                                                              int ldx, const void *w, long step, const char *ahead,    \
                                                              const float *bias, float *y, int ldy, int ny) {          \
        switch (mr) {                                                                                                  \
        case 1: ROWS(1, HALF) break;                                                                                   \
        case 2: ROWS(2, HALF) break;                                                                                   \
        case 3: ROWS(3, HALF) break;                                                                                   \
        case 4: ROWS(4, HALF) break;                                                                                   \
        case 5: ROWS(5, HALF) break;                                                                                   \
        default: ROWS(6, HALF) break;                                                                                  \
        }                                                                                                              \
    }
#define TILE(MR, PREFETCH, PARTIAL, HALF) tile(MR, PREFETCH, PARTIAL, HALF, depth, x, ldx, w, step, ahead, bias, y, ldy, ny)
#define ROWS(MR, HALF)                                                                                                 \
    if (ny < 16)                                                                                                       \
        TILE(MR, 0, 1, HALF);                                                                                          \
    else if (prefetch)                                                                                                 \
        TILE(MR, 1, 0, HALF);                                                                                          \
    else                                                                                                               \
        TILE(MR, 0, 0, HALF);
TILE_ROWS(float_rows, 0)
TILE_ROWS(half_rows, 1)
#undef ROWS
#undef TILE
#undef TILE_ROWS

// The loop over panels and row tiles; `esize` bytes an element (4: floats, 2: halves).
__attribute__((target("avx2,fma,f16c"))) static void panel_loop(int rows, int columns, int depth, const float *x,
                                                                int ldx, const void *w, int esize, long step,
                                                                long panel_stride, const float *bias, float *y,
                                                                int ldy, int prefetch) {
    for (int j = 0; j < columns; j += 16) {
        const char *panel = (const char *)w + (long)(j / 16) * panel_stride * esize;
        // 64 depth steps into the next panel: the first tile has fetched all of it by the time
        // the next panel starts.
        const char *ahead = panel + (panel_stride + 64 * step) * esize;
        int ny = columns - j < 16 ? columns - j : 16;
        for (int i = 0; i < rows; i += 6) {
            int mr = rows - i < 6 ? rows - i : 6;
            (esize == 2 ? half_rows : float_rows)(mr, prefetch && i == 0, depth, x + (long)i * ldx, ldx, panel, step,
                                                  ahead, bias ? bias + j : 0, y + (long)i * ldy + j, ldy, ny);
        }
    }
}

void cascade_panel_gemm(int rows, int columns, int depth, const float *x, int ldx, const float *w, long step,
                        long panel_stride, const float *bias, float *y, int ldy, int prefetch) {
    panel_loop(rows, columns, depth, x, ldx, w, 4, step, panel_stride, bias, y, ldy, prefetch);
}

void cascade_panel_gemm_f16(int rows, int columns, int depth, const float *x, int ldx, const uint16_t *w,
                            const float *bias, float *y, int ldy) {
    panel_loop(rows, columns, depth, x, ldx, w, 2, 16, 16L * depth, bias, y, ldy, 1);
}

void cascade_sgemm_nt_panels(int rows, int columns, int depth, const float *x, int ldx, const float *packed,
                             const float *bias, float *y, int ldy) {
    cascade_panel_gemm(rows, columns, depth, x, ldx, packed, 16, 16L * depth, bias, y, ldy, 1);
}
