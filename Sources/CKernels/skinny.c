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

// One tile: MR rows x the 3 columns of one panel, `acc` in registers. MR and LINES are constants
// at every call site, so the loops unroll (a prefetch loop with a run-time count in the inner loop
// cost 20% of a query). Only the first `ny` of the 3 columns are stored. While it computes, a tile
// prefetches LINES consecutive cache lines from `ahead` per 16 floats of depth (`ahead` walks the
// weight stream), so that the tiles of a panel together prefetch the panel after the next, front
// to back: spread over the tiles like this, rather than a whole panel from the first tile, the
// stream overlaps the FMAs.
__attribute__((target("avx2,fma"), always_inline)) static inline void tile(int MR, int LINES, int depth, const float *x,
                                                                          int ldx, const float *w, float *y, int ldy,
                                                                          int ny, const char *ahead) {
    __m256 acc[4][3];
    for (int i = 0; i < MR; i++)
        for (int j = 0; j < 3; j++) acc[i][j] = _mm256_setzero_ps();
#define STEP(p, LOADX)                                                                                                 \
    {                                                                                                                  \
        __m256 wv[3];                                                                                                  \
        for (int j = 0; j < 3; j++) wv[j] = _mm256_load_ps(w + 3 * (long)(p) + 8 * j);                                \
        for (int i = 0; i < MR; i++) {                                                                                 \
            __m256 xv = LOADX(x + i * ldx + (p));                                                                      \
            for (int j = 0; j < 3; j++) acc[i][j] = _mm256_fmadd_ps(xv, wv[j], acc[i][j]);                             \
        }                                                                                                              \
    }
    int p = 0;
    for (; p + 16 <= depth; p += 16) {
        for (int m = 0; m < LINES; m++) _mm_prefetch(ahead + (long)LINES * p * 4 + 64 * m, _MM_HINT_T0);
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

// The tile for MR rows with its prefetch count made a constant.
__attribute__((target("avx2,fma"), always_inline)) static inline void tile_lines(int MR, int lines, int depth,
                                                                                const float *x, int ldx, const float *w,
                                                                                float *y, int ldy, int ny,
                                                                                const char *ahead) {
    switch (lines) {
    case 0: tile(MR, 0, depth, x, ldx, w, y, ldy, ny, ahead); break;
    case 1: tile(MR, 1, depth, x, ldx, w, y, ldy, ny, ahead); break;
    case 2: tile(MR, 2, depth, x, ldx, w, y, ldy, ny, ahead); break;
    default: tile(MR, 3, depth, x, ldx, w, y, ldy, ny, ahead); break;
    }
}

__attribute__((target("avx2,fma"))) static void tile_rows(int mr, int lines, int depth, const float *x, int ldx,
                                                        const float *w, float *y, int ldy, int ny, const char *ahead) {
    switch (mr) {
    case 1: tile_lines(1, lines, depth, x, ldx, w, y, ldy, ny, ahead); break;
    case 2: tile_lines(2, lines, depth, x, ldx, w, y, ldy, ny, ahead); break;
    case 3: tile_lines(3, lines, depth, x, ldx, w, y, ldy, ny, ahead); break;
    default: tile_lines(4, lines, depth, x, ldx, w, y, ldy, ny, ahead); break;
    }
}

__attribute__((target("avx2,fma"))) void cascade_sgemm_nt_skinny(int rows, int columns, int depth, const float *x,
                                                                 int ldx, const float *packed, float *y, int ldy) {
    int pd = padded_depth(depth);
    long panelBytes = 3L * pd * 4;
    int tiles = (rows + 3) / 4;
    // A panel is 3 cache lines per 16 floats of depth; tile t prefetches its share, `lines` of
    // them from the `first` third of the panel on (with fewer than 3 tiles a tile takes more).
    int perTile = tiles >= 3 ? 1 : (3 + tiles - 1) / tiles;
    for (int j = 0; j < columns; j += 3) {
        const float *w = packed + (long)(j / 3) * 3 * pd;
        // Past the last panel this prefetches the next slice's weights or nothing useful; a prefetch
        // never faults.
        const char *ahead = (const char *)w + 2 * panelBytes;
        int ny = columns - j < 3 ? columns - j : 3;
        for (int t = 0; t < tiles; t++) {
            int i = 4 * t;
            int first = t * perTile;
            int lines = first >= 3 ? 0 : (3 - first < perTile ? 3 - first : perTile);
            tile_rows(rows - i, lines, depth, x + (long)i * ldx, ldx, w, y + (long)i * ldy + j, ldy, ny,
                      ahead + (long)first * pd * 4);
        }
    }
}
