// `y += x · wᵀ` for a few rows of `x` (a query, a short batch), on weights packed once at load.
//
// OpenBLAS packs the weight matrix into its own layout on every call; with 16 rows that copy costs
// more than the arithmetic (sgemm_incopy took 30% of a 16-token MiniLM query, the kernel 21%).
// Here each output is a dot product of an `x` row and a `w` row, `x` (a few KiB) stays in L1 and
// `w` streams from memory once, straight into the FMAs. Tiles of 4 rows x 3 columns keep 12
// accumulators, 3 weight vectors and 1 input vector in the 16 AVX registers; each weight vector
// loaded serves 4 FMAs, each input vector 3.
//
// The packing: the three weight rows of a tile are interleaved 8 floats at a time, so that a tile
// reads its weights, and prefetches the next ones, as one linear stream. Against reading
// `nn.Linear`'s layout in place (three streams 1.5 KiB apart), the GEMMs of a 16-token MiniLM query
// on 2 threads took 1.10-1.15x less time, and 1.2-1.3x less with 4 rows, where only the stream
// counts (paired runs of both kernels, alternating query by query, on a Zen 3 with 2 cores).
#include "ckernels.h"

#include "avx2.h"
#include "skinny.h"

#include <stdint.h>

static inline int padded_depth(int depth) { return (depth + 7) & ~7; }

long cascade_skinny_packed_count(int columns, int depth) {
    return (long)((columns + 2) / 3) * 3 * padded_depth(depth);
}

// Panel `k` holds rows 3k..3k+2; within it, chunk `c` is rows' floats 8c..8c+7, row after row.
// Missing rows (columns not a multiple of 3) and the depth's padding are zeros.
void cascade_skinny_pack(int columns, int depth, const float *w, int ldw, float *packed) {
    int pd = padded_depth(depth);
    for (int panel = 0; 3 * panel < columns; panel++) {
        float *out = packed + (long)panel * 3 * pd;
        for (int c = 0; c < pd / 8; c++)
            for (int r = 0; r < 3; r++)
                for (int q = 0; q < 8; q++) {
                    int j = 3 * panel + r, p = 8 * c + q;
                    out[(3 * c + r) * 8 + q] = j < columns && p < depth ? w[(long)j * ldw + p] : 0;
                }
    }
}

// One tile: MR rows x the 3 columns of one panel, `acc` in registers. MR, LINES and MODE are
// constants at every call site, so the loops unroll (a prefetch loop with a run-time count in the
// inner loop cost 20% of a query). MODE says what `w` holds:
// - FP32: the panel's floats;
// - HALF: its IEEE halves, widened in registers (F16C `vcvtph2ps`); the arithmetic stays fp32;
// - HALF_KEEP: halves, and the widened floats are also stored to `wide` (an L1 buffer), so that
//   the panel's other row tiles read floats instead of widening every weight again (with 16 rows,
//   widening per tile made `vcvtph2ps` cost more than the FMAs it fed: 1.4x slower than fp32).
// Only the first `ny` of the 3 columns are stored. While it computes, a tile prefetches LINES
// consecutive cache lines from `ahead` per 16 values of depth (`ahead` walks the weight stream,
// `esize` bytes a value), so that the tiles of a panel together prefetch the panel after the
// next, front to back: spread over the tiles like this, rather than a whole panel from the first
// tile, the stream overlaps the FMAs.
enum { FP32, HALF, HALF_KEEP };

__attribute__((target("avx2,fma,f16c"), always_inline)) static inline void
tile(int MR, int LINES, int MODE, int depth, const float *x, int ldx, const void *w, float *wide, float *y, int ldy,
     int ny, const char *ahead, int esize) {
    __m256 acc[4][3];
    for (int i = 0; i < MR; i++)
        for (int j = 0; j < 3; j++) acc[i][j] = _mm256_setzero_ps();
#define STEP(p, LOADX)                                                                                                 \
    {                                                                                                                  \
        __m256 wv[3];                                                                                                  \
        for (int j = 0; j < 3; j++) {                                                                                  \
            long at = 3 * (long)(p) + 8 * j;                                                                           \
            if (MODE == FP32)                                                                                          \
                wv[j] = _mm256_load_ps((const float *)w + at);                                                         \
            else                                                                                                       \
                wv[j] = _mm256_cvtph_ps(_mm_load_si128((const __m128i *)((const uint16_t *)w + at)));                  \
            if (MODE == HALF_KEEP) _mm256_store_ps(wide + at, wv[j]);                                                  \
        }                                                                                                              \
        for (int i = 0; i < MR; i++) {                                                                                 \
            __m256 xv = LOADX(x + i * ldx + (p));                                                                      \
            for (int j = 0; j < 3; j++) acc[i][j] = _mm256_fmadd_ps(xv, wv[j], acc[i][j]);                             \
        }                                                                                                              \
    }
    int p = 0;
    for (; p + 16 <= depth; p += 16) {
        for (int m = 0; m < LINES; m++) _mm_prefetch(ahead + (long)LINES * p * esize + 64 * m, _MM_HINT_T0);
        STEP(p, _mm256_loadu_ps)
        STEP(p + 8, _mm256_loadu_ps)
    }
    for (; p + 8 <= depth; p += 8) STEP(p, _mm256_loadu_ps)
    if (p < depth) {
        // The last, partial chunk: the packed weights are zero there, `x` must not be read past its row.
        __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(depth - p), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
#define LOAD_MASKED(a) _mm256_maskload_ps(a, mask)
        STEP(p, LOAD_MASKED)
#undef LOAD_MASKED
    }
#undef STEP
    if (MR == 4) {
        // Four rows' sums of one column in one register: three hadds instead of four sum8s.
        for (int j = 0; j < ny; j++) {
            __m256 h = _mm256_hadd_ps(_mm256_hadd_ps(acc[0][j], acc[1][j]), _mm256_hadd_ps(acc[2][j], acc[3][j]));
            __m128 s = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
            float sums[4];
            _mm_storeu_ps(sums, s);
            for (int i = 0; i < 4; i++) y[i * ldy + j] += sums[i];
        }
    } else {
        for (int i = 0; i < MR; i++)
            for (int j = 0; j < ny; j++) y[i * ldy + j] += sum8(acc[i][j]);
    }
}

// The tile for MR rows in MODE with its prefetch count made a constant.
__attribute__((target("avx2,fma,f16c"), always_inline)) static inline void
tile_lines(int MR, int MODE, int lines, int depth, const float *x, int ldx, const void *w, float *wide, float *y,
           int ldy, int ny, const char *ahead, int esize) {
    switch (lines) {
    case 0: tile(MR, 0, MODE, depth, x, ldx, w, wide, y, ldy, ny, ahead, esize); break;
    case 1: tile(MR, 1, MODE, depth, x, ldx, w, wide, y, ldy, ny, ahead, esize); break;
    case 2: tile(MR, 2, MODE, depth, x, ldx, w, wide, y, ldy, ny, ahead, esize); break;
    default: tile(MR, 3, MODE, depth, x, ldx, w, wide, y, ldy, ny, ahead, esize); break;
    }
}

__attribute__((target("avx2,fma,f16c"))) static void tile_rows(int mr, int mode, int lines, int depth, const float *x,
                                                               int ldx, const void *w, float *wide, float *y, int ldy,
                                                               int ny, const char *ahead, int esize) {
#define ROWS(MR)                                                                                                       \
    switch (mode) {                                                                                                    \
    case FP32: tile_lines(MR, FP32, lines, depth, x, ldx, w, wide, y, ldy, ny, ahead, esize); break;                   \
    case HALF: tile_lines(MR, HALF, lines, depth, x, ldx, w, wide, y, ldy, ny, ahead, esize); break;                   \
    default: tile_lines(MR, HALF_KEEP, lines, depth, x, ldx, w, wide, y, ldy, ny, ahead, esize); break;                \
    }
    switch (mr) {
    case 1: ROWS(1) break;
    case 2: ROWS(2) break;
    case 3: ROWS(3) break;
    default: ROWS(4) break;
    }
#undef ROWS
}

// The one loop over panels and row tiles, for fp32 weights and for halves (`half`).
__attribute__((target("avx2,fma,f16c"))) void cascade_skinny_gemm(int rows, int columns, int depth, const float *x,
                                                                  int ldx, const void *packed, int half, float *y,
                                                                  int ldy) {
    int pd = padded_depth(depth);
    int esize = half ? 2 : 4;
    long panelBytes = 3L * pd * esize;
    int tiles = (rows + 3) / 4;
    // A panel is 3 cache lines per 16 floats (32 halves) of depth; tile t prefetches its share,
    // `lines` of them from the `first` third of the panel on (with fewer than 3 tiles a tile takes more).
    int perTile = tiles >= 3 ? 1 : (3 + tiles - 1) / tiles;
    // Halves for more than one row tile: the first tile widens the panel into `wide` for the others.
    float raw[half && tiles > 1 ? 3 * pd + 16 : 1];
    float *wide = (float *)(((uintptr_t)raw + 63) & ~(uintptr_t)63);
    for (int j = 0; j < columns; j += 3) {
        const char *w = (const char *)packed + (long)(j / 3) * panelBytes;
        // Past the last panel this prefetches the next slice's weights or nothing useful; a prefetch
        // never faults.
        const char *ahead = w + 2 * panelBytes;
        int ny = columns - j < 3 ? columns - j : 3;
        for (int t = 0; t < tiles; t++) {
            int i = 4 * t;
            int first = t * perTile;
            int lines = first >= 3 ? 0 : (3 - first < perTile ? 3 - first : perTile);
            int mode = !half ? FP32 : tiles == 1 ? HALF : t == 0 ? HALF_KEEP : FP32;
            const void *from = half && t > 0 ? (const void *)wide : (const void *)w;
            tile_rows(rows - i, mode, lines, depth, x + (long)i * ldx, ldx, from, wide, y + (long)i * ldy + j, ldy, ny,
                      ahead + (long)first * pd * esize, esize);
        }
    }
}

void cascade_sgemm_nt_skinny(int rows, int columns, int depth, const float *x, int ldx, const float *packed, float *y,
                             int ldy) {
    cascade_skinny_gemm(rows, columns, depth, x, ldx, packed, 0, y, ldy);
}
