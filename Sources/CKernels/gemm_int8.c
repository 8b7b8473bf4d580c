// int8 `y = x · Wᵀ` for `nn.Linear`: s8 weights with a scale per output channel, u8 activations
// quantized per row at run time with a zero point, int32 sums, fp32 rescale and bias.
//
// Why u8 activations with a zero point rather than symmetric s8: both x86 instructions multiply u8
// by s8 (`vpmaddubsw`, `vpdpbusd`), so s8 activations would need a +128 shift anyway; and after
// GELU a row's range is lopsided (about -0.17 up to several units), where an asymmetric range
// spends all 256 levels on values that occur instead of half of them on negatives that do not.
//
// Why the weights give up a bit for AVX2 (values in [-63, 63]) rather than the activations:
// `vpmaddubsw` adds two u8 x s8 products into a saturating int16, and 2 x 255 x 127 overflows it.
// One of the two operands must lose a bit. Per-row activation ranges are set by BERT's few outlier
// channels, so most of a row's values already use only a fraction of the 256 levels; a weight row
// is quantized by its own maximum and its values spread over the range. Losing the bit on the
// weights costs less. The same 7-bit weights run on every path (VNNI would not need it), so that
// a model gives the same numbers on an AVX2 machine and on a VNNI one, and the paths can be
// compared exactly.
//
// Layout (the one MLAS and oneDNN use for u8s8 on x86, in spirit): a panel of 16 output columns,
// depth in groups of 4; one group is a 64-byte line holding each column's 4 weights, so that one
// 32-bit lane multiplies 4 activations of a row (broadcast) by 4 weights of one column. The
// accumulators hold a tile of rows x 16 columns; no horizontal sums. Each panel is read by every
// row tile of the call while it is in L1; a skinny call (a query) streams the weights from memory
// once, prefetching the next panel one line per group while the first row tile runs.
#include "quantized.h"

#include <immintrin.h>
#include <math.h>
#include <string.h>

#define NR 16

int cascade_q8_padded_depth(int depth) { return (depth + 3) & ~3; }

long cascade_q8_packed_bytes(int columns, int depth) {
    return (long)((columns + NR - 1) / NR) * NR * cascade_q8_padded_depth(depth);
}

void cascade_q8_quantize_weights(int columns, int depth, const float *w, int ldw, int8_t *q, float *scales) {
    for (int j = 0; j < columns; j++) {
        const float *row = w + (long)j * ldw;
        float top = 0;
        for (int p = 0; p < depth; p++) top = fmaxf(top, fabsf(row[p]));
        float scale = top > 0 ? top / CASCADE_Q8_WEIGHT_MAX : 1;
        float inverse = CASCADE_Q8_WEIGHT_MAX / (top > 0 ? top : CASCADE_Q8_WEIGHT_MAX);
        for (int p = 0; p < depth; p++) {
            float v = nearbyintf(row[p] * inverse);
            v = fminf(fmaxf(v, -CASCADE_Q8_WEIGHT_MAX), CASCADE_Q8_WEIGHT_MAX);
            q[(long)j * depth + p] = (int8_t)v;
        }
        scales[j] = scale;
    }
}

void cascade_q8_pack(int columns, int depth, const int8_t *q, int8_t *packed, int32_t *sums) {
    int pd = cascade_q8_padded_depth(depth);
    for (int panel = 0; NR * panel < columns; panel++) {
        int8_t *out = packed + (long)panel * NR * pd;
        for (int g = 0; g < pd / 4; g++)
            for (int c = 0; c < NR; c++)
                for (int k = 0; k < 4; k++) {
                    int j = NR * panel + c, p = 4 * g + k;
                    out[(g * NR + c) * 4 + k] = j < columns && p < depth ? q[(long)j * depth + p] : 0;
                }
    }
    for (int j = 0; j < columns; j++) {
        int32_t s = 0;
        for (int p = 0; p < depth; p++) s += q[(long)j * depth + p];
        sums[j] = s;
    }
}

// ---- activations

// The range, scale and zero point of one row from its min and max; shared by both paths so that
// they quantize identically.
static void row_parameters(float lo, float hi, float *scale, float *inverse, int32_t *zero) {
    lo = fminf(lo, 0);
    hi = fmaxf(hi, 0);
    if (hi - lo <= 0) {
        *scale = 1;
        *inverse = 1;
        *zero = 0;
        return;
    }
    *scale = (hi - lo) / 255;
    *inverse = 255 / (hi - lo);
    float z = nearbyintf(-lo * *inverse);
    *zero = (int32_t)fminf(fmaxf(z, 0), 255);
}

static void quantize_rows_portable(int rows, int depth, const float *x, int ldx, uint8_t *xq, int ldq, float *scales,
                                   int32_t *zeros) {
    int pd = cascade_q8_padded_depth(depth);
    for (int i = 0; i < rows; i++) {
        const float *row = x + (long)i * ldx;
        float lo = row[0], hi = row[0];
        for (int p = 1; p < depth; p++) {
            lo = fminf(lo, row[p]);
            hi = fmaxf(hi, row[p]);
        }
        float inverse;
        row_parameters(lo, hi, &scales[i], &inverse, &zeros[i]);
        uint8_t *out = xq + (long)i * ldq;
        for (int p = 0; p < depth; p++) {
            float v = nearbyintf(row[p] * inverse) + (float)zeros[i];
            out[p] = (uint8_t)fminf(fmaxf(v, 0), 255);
        }
        for (int p = depth; p < pd; p++) out[p] = 0;
    }
}

// `_mm256_cvtps_epi32` rounds to nearest even like `nearbyintf` (default MXCSR), and the sum with
// the zero point is exact in int32, so both paths give the same bytes.
__attribute__((target("avx2,fma"))) static void quantize_rows_avx2(int rows, int depth, const float *x, int ldx,
                                                                   uint8_t *xq, int ldq, float *scales,
                                                                   int32_t *zeros) {
    int pd = cascade_q8_padded_depth(depth);
    const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    for (int i = 0; i < rows; i++) {
        const float *row = x + (long)i * ldx;
        __m256 vlo = _mm256_set1_ps(row[0]), vhi = vlo;
        int p = 0;
        for (; p + 8 <= depth; p += 8) {
            __m256 v = _mm256_loadu_ps(row + p);
            vlo = _mm256_min_ps(vlo, v);
            vhi = _mm256_max_ps(vhi, v);
        }
        float l[8], h[8];
        _mm256_storeu_ps(l, vlo);
        _mm256_storeu_ps(h, vhi);
        float lo = l[0], hi = h[0];
        for (int k = 1; k < 8; k++) {
            lo = fminf(lo, l[k]);
            hi = fmaxf(hi, h[k]);
        }
        for (; p < depth; p++) {
            lo = fminf(lo, row[p]);
            hi = fmaxf(hi, row[p]);
        }
        float inverse;
        row_parameters(lo, hi, &scales[i], &inverse, &zeros[i]);
        __m256 vinv = _mm256_set1_ps(inverse);
        __m256i vzero = _mm256_set1_epi32(zeros[i]);
        uint8_t *out = xq + (long)i * ldq;
        p = 0;
        for (; p + 32 <= depth; p += 32) {
            __m256i q[4];
            for (int k = 0; k < 4; k++)
                q[k] = _mm256_add_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(row + p + 8 * k), vinv)),
                                        vzero);
            // Saturating packs clamp to [0, 255]; they interleave 128-bit lanes, `order` undoes it.
            __m256i packed = _mm256_packus_epi16(_mm256_packus_epi32(q[0], q[1]), _mm256_packus_epi32(q[2], q[3]));
            _mm256_storeu_si256((__m256i *)(out + p), _mm256_permutevar8x32_epi32(packed, order));
        }
        for (; p < depth; p++) {
            float v = nearbyintf(row[p] * inverse) + (float)zeros[i];
            out[p] = (uint8_t)fminf(fmaxf(v, 0), 255);
        }
        for (p = depth; p < pd; p++) out[p] = 0;
    }
}

void cascade_q8_quantize_rows(int level, int rows, int depth, const float *x, int ldx, uint8_t *xq, int ldq,
                              float *scales, int32_t *zeros) {
    if (level >= CASCADE_ISA_AVX2)
        quantize_rows_avx2(rows, depth, x, ldx, xq, ldq, scales, zeros);
    else
        quantize_rows_portable(rows, depth, x, ldx, xq, ldq, scales, zeros);
}

// ---- the GEMM

// What a finished tile of sums becomes: raw int32 (tests) or the rescaled fp32 output.
typedef struct {
    int level;
    int32_t *acc;
    int ldacc;
    const float *xscales;
    const int32_t *zeros;
    const float *wscales;
    const int32_t *sums;
    const float *bias;
    float *y;
    int ldy;
} Output;

// The rescale of whole groups of 8 columns with AVX2 (it was 8% of an int8 rerank in scalar code);
// returns how many columns it wrote. Separate multiplies and adds, never FMA, in the scalar
// formula's order: the same floats as `finish`'s loop, so every path gives identical outputs.
__attribute__((target("avx2,fma"))) static int rescale_avx2(const Output *o, int i0, int j0, int mr, int ny,
                                                            const int32_t *tile) {
    int wide = ny & ~7;
    for (int i = 0; i < mr; i++) {
        const int32_t *t = tile + i * NR;
        __m256 xs = _mm256_set1_ps(o->xscales[i0 + i]);
        __m256i zero = _mm256_set1_epi32(o->zeros[i0 + i]);
        float *y = o->y + (long)(i0 + i) * o->ldy + j0;
        for (int j = 0; j < wide; j += 8) {
            __m256i sums = _mm256_loadu_si256((const __m256i *)(o->sums + j0 + j));
            __m256i s = _mm256_sub_epi32(_mm256_loadu_si256((const __m256i *)(t + j)), _mm256_mullo_epi32(zero, sums));
            __m256 scale = _mm256_mul_ps(xs, _mm256_loadu_ps(o->wscales + j0 + j));
            __m256 v = _mm256_add_ps(_mm256_loadu_ps(o->bias + j0 + j), _mm256_mul_ps(_mm256_cvtepi32_ps(s), scale));
            _mm256_storeu_ps(y + j, v);
        }
    }
    return wide;
}

// Out of line and compiled for the baseline CPU (no FMA to contract into), so the scalar columns
// round alike on every path.
__attribute__((noinline)) static void finish(const Output *o, int i0, int j0, int mr, int ny, const int32_t *tile) {
    int done = !o->acc && o->level >= CASCADE_ISA_AVX2 ? rescale_avx2(o, i0, j0, mr, ny, tile) : 0;
    for (int i = 0; i < mr; i++) {
        const int32_t *t = tile + i * NR;
        if (o->acc) {
            memcpy(o->acc + (long)(i0 + i) * o->ldacc + j0, t, ny * sizeof(int32_t));
            continue;
        }
        float xs = o->xscales[i0 + i];
        int32_t zero = o->zeros[i0 + i];
        float *y = o->y + (long)(i0 + i) * o->ldy + j0;
        for (int j = done; j < ny; j++)
            y[j] = o->bias[j0 + j] + (float)(t[j] - zero * o->sums[j0 + j]) * (xs * o->wscales[j0 + j]);
    }
}

// Rows per tile and rows per block (the activations a block's row tiles reread per panel stay in
// L2: 128 rows x 1,536 bytes for MiniLM's widest input).
#define MR 4
#define ROW_BLOCK 128

static void tile_portable(int mr, int groups, const uint8_t *x, int ldq, const int8_t *w, int32_t *tile) {
    for (int i = 0; i < mr; i++)
        for (int c = 0; c < NR; c++) {
            int32_t s = 0;
            for (int g = 0; g < groups; g++)
                for (int k = 0; k < 4; k++) s += (int32_t)x[i * ldq + 4 * g + k] * w[(g * NR + c) * 4 + k];
            tile[i * NR + c] = s;
        }
}

// Each SIMD path is an accumulator for one row's 16 columns and the step that adds a group (4
// bytes of the row x the group's 64 weight bytes) to it; `DEFINE_TILE` writes the one tile loop
// around them for each path.
//
// AVX2: `vpmaddubsw` sums pairs of u8 x s8 products into int16 (exact: 7-bit weights), `vpmaddwd`
// by ones sums pairs of those into int32; two registers of 8 columns.
typedef struct {
    __m256i low, high;
} Avx2Vector;

__attribute__((target("avx2,fma"), always_inline)) static inline Avx2Vector avx2_zero(void) {
    return (Avx2Vector){_mm256_setzero_si256(), _mm256_setzero_si256()};
}

__attribute__((target("avx2,fma"), always_inline)) static inline Avx2Vector avx2_load(const int8_t *w) {
    return (Avx2Vector){_mm256_loadu_si256((const __m256i *)w), _mm256_loadu_si256((const __m256i *)(w + 32))};
}

__attribute__((target("avx2,fma"), always_inline)) static inline Avx2Vector avx2_step(Avx2Vector acc, int32_t four,
                                                                                      Avx2Vector w) {
    const __m256i ones = _mm256_set1_epi16(1);
    __m256i b = _mm256_set1_epi32(four);
    acc.low = _mm256_add_epi32(acc.low, _mm256_madd_epi16(_mm256_maddubs_epi16(b, w.low), ones));
    acc.high = _mm256_add_epi32(acc.high, _mm256_madd_epi16(_mm256_maddubs_epi16(b, w.high), ones));
    return acc;
}

__attribute__((target("avx2,fma"), always_inline)) static inline void avx2_store(int32_t *out, Avx2Vector acc) {
    _mm256_storeu_si256((__m256i *)out, acc.low);
    _mm256_storeu_si256((__m256i *)(out + 8), acc.high);
}

// AVX-512 VNNI: `vpdpbusd` sums the four u8 x s8 products of a lane into int32 in one
// instruction, without the int16 step: one register per row.
#define VNNI "avx512f,avx512bw,avx512vl,avx512vnni"
__attribute__((target(VNNI), always_inline)) static inline __m512i vnni_zero(void) { return _mm512_setzero_si512(); }

__attribute__((target(VNNI), always_inline)) static inline __m512i vnni_load(const int8_t *w) {
    return _mm512_loadu_si512((const void *)w);
}

__attribute__((target(VNNI), always_inline)) static inline __m512i vnni_step(__m512i acc, int32_t four, __m512i w) {
    return _mm512_dpbusd_epi32(acc, _mm512_set1_epi32(four), w);
}

__attribute__((target(VNNI), always_inline)) static inline void vnni_store(int32_t *out, __m512i acc) {
    _mm512_storeu_si512((void *)out, acc);
}

// The tile loop of path P: MR_ rows x 16 columns over `groups` groups. MR_ and PREFETCH are
// constants at every call site (the `P##_rows` switch), so the loops unroll and the accumulators
// stay in registers. With PREFETCH the tile pulls the next panel in, one line per group.
#define DEFINE_TILE(P, TARGET, VECTOR)                                                                                 \
    __attribute__((target(TARGET), always_inline)) static inline void P##_tile(                                        \
        int MR_, int PREFETCH, int groups, const uint8_t *x, int ldq, const int8_t *w, int32_t *tile) {                \
        VECTOR acc[MR];                                                                                                \
        for (int i = 0; i < MR_; i++) acc[i] = P##_zero();                                                             \
        long panel = (long)groups * 64;                                                                                \
        for (int g = 0; g < groups; g++) {                                                                             \
            if (PREFETCH) _mm_prefetch((const char *)(w + panel + 64 * g), _MM_HINT_T0);                               \
            VECTOR wv = P##_load(w + 64 * g);                                                                          \
            for (int i = 0; i < MR_; i++) {                                                                            \
                int32_t four;                                                                                          \
                memcpy(&four, x + i * ldq + 4 * g, 4);                                                                 \
                acc[i] = P##_step(acc[i], four, wv);                                                                   \
            }                                                                                                          \
        }                                                                                                              \
        for (int i = 0; i < MR_; i++) P##_store(tile + i * NR, acc[i]);                                                \
    }                                                                                                                  \
    __attribute__((target(TARGET))) static void P##_rows(int mr, int prefetch, int groups, const uint8_t *x, int ldq,  \
                                                         const int8_t *w, int32_t *tile) {                             \
        switch (mr) {                                                                                                  \
        case 1: prefetch ? P##_tile(1, 1, groups, x, ldq, w, tile) : P##_tile(1, 0, groups, x, ldq, w, tile); break;   \
        case 2: prefetch ? P##_tile(2, 1, groups, x, ldq, w, tile) : P##_tile(2, 0, groups, x, ldq, w, tile); break;   \
        case 3: prefetch ? P##_tile(3, 1, groups, x, ldq, w, tile) : P##_tile(3, 0, groups, x, ldq, w, tile); break;   \
        default:                                                                                                       \
            prefetch ? P##_tile(4, 1, groups, x, ldq, w, tile) : P##_tile(4, 0, groups, x, ldq, w, tile);              \
            break;                                                                                                     \
        }                                                                                                              \
    }

DEFINE_TILE(avx2, "avx2,fma", Avx2Vector)
DEFINE_TILE(vnni, VNNI, __m512i)

static void gemm(int level, int rows, int columns, int depth, const uint8_t *xq, int ldq, const int8_t *packed,
                 const Output *o) {
    int groups = cascade_q8_padded_depth(depth) / 4;
    long panelBytes = (long)groups * 64;
    int32_t tile[MR * NR] __attribute__((aligned(64)));
    for (int i0 = 0; i0 < rows; i0 += ROW_BLOCK) {
        int blockRows = rows - i0 < ROW_BLOCK ? rows - i0 : ROW_BLOCK;
        for (int j0 = 0; j0 < columns; j0 += NR) {
            const int8_t *w = packed + (long)(j0 / NR) * panelBytes;
            int ny = columns - j0 < NR ? columns - j0 : NR;
            for (int i = 0; i < blockRows; i += MR) {
                int mr = blockRows - i < MR ? blockRows - i : MR;
                const uint8_t *x = xq + (long)(i0 + i) * ldq;
                // The first row tile of the first block pulls the next panel in while it computes.
                int prefetch = i0 == 0 && i == 0;
                if (level >= CASCADE_ISA_AVX512_VNNI)
                    vnni_rows(mr, prefetch, groups, x, ldq, w, tile);
                else if (level >= CASCADE_ISA_AVX2)
                    avx2_rows(mr, prefetch, groups, x, ldq, w, tile);
                else
                    tile_portable(mr, groups, x, ldq, w, tile);
                finish(o, i0 + i, j0, mr, ny, tile);
            }
        }
    }
}

void cascade_q8_gemm_s32(int level, int rows, int columns, int depth, const uint8_t *xq, int ldq,
                         const int8_t *packed, int32_t *acc, int ldacc) {
    Output o = {.level = level, .acc = acc, .ldacc = ldacc};
    gemm(level, rows, columns, depth, xq, ldq, packed, &o);
}

void cascade_q8_gemm_f32(int level, int rows, int columns, int depth, const uint8_t *xq, int ldq,
                         const float *xscales, const int32_t *zeros, const int8_t *packed, const float *wscales,
                         const int32_t *sums, const float *bias, float *y, int ldy) {
    Output o = {.level = level, .xscales = xscales, .zeros = zeros, .wscales = wscales,
                .sums = sums,   .bias = bias,       .y = y,         .ldy = ldy};
    gemm(level, rows, columns, depth, xq, ldq, packed, &o);
}

const char *cascade_q8_path(int level) {
    if (level >= CASCADE_ISA_AVX512_VNNI) return "avx512_vnni";
    return level >= CASCADE_ISA_AVX2 ? "avx2" : "portable";
}
