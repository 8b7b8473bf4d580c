// Reduced-precision weights for `nn.Linear`: int8 (per output channel) and IEEE half.
//
// Every GEMM takes a `level` (a `CASCADE_ISA_*` value, normally `cascade_isa_selected()`): the
// path runs the highest kernel at or below it, so tests can run each path the CPU supports. A
// level above what the CPU supports must not be passed. The packed layouts do not depend on the
// level: weights packed once run on every path and give the same int32 sums on every path.
#ifndef CASCADE_QUANTIZED_H
#define CASCADE_QUANTIZED_H

#include <stdint.h>

#include "cpu.h"

// ---- int8: y = x · Wᵀ with u8 activations (zero point per row) and s8 weights (scale per row of W)

/// The largest weight magnitude: 7 bits, so that AVX2's `vpmaddubsw` (u8 x s8 pairs summed into a
/// saturating int16) cannot saturate: 2 x 255 x 63 = 32,130 < 32,767. See gemm_int8.c for why the
/// weights and not the activations give up the bit.
#define CASCADE_Q8_WEIGHT_MAX 63

/// Depth rounded up to the 4 bytes one 32-bit lane of the kernels sums; the row stride of
/// quantized activations must be at least this.
int cascade_q8_padded_depth(int depth);

/// Bytes `cascade_q8_pack` writes for `columns` rows of W (panels of 16 columns).
long cascade_q8_packed_bytes(int columns, int depth);

/// Quantizes each of `columns` rows of `w` (`nn.Linear`'s `[out, in]`, rows `ldw` floats apart)
/// symmetrically: `q[j][p] = round(w[j][p] / scales[j])` in [-63, 63], `scales[j] = max|w[j]| / 63`
/// (1 for an all-zero row). `q` is `[columns, depth]`, rows `depth` bytes apart.
void cascade_q8_quantize_weights(int columns, int depth, const float *w, int ldw, int8_t *q, float *scales);

/// Copies quantized weights `q` (`[columns, depth]`, values in [-63, 63]) into the kernels' layout
/// and writes `sums[j]` = sum of row j (for the activations' zero point). Panel `k` holds columns
/// 16k..16k+15; within it, group `g` is 64 bytes: for each column, its 4 weights at depth
/// 4g..4g+3 (what one 32-bit lane multiplies). Missing columns and depth padding are zeros.
/// A column slice starting at column `c` (a multiple of 16) passes `packed + cascade_q8_packed_bytes(c, depth)`.
void cascade_q8_pack(int columns, int depth, const int8_t *q, int8_t *packed, int32_t *sums);

/// Quantizes each row of `x` asymmetrically to u8: `q = clamp(round(x * 255 / (max - min)) + zero, 0, 255)`
/// over the row's range widened to hold 0, so that 0 is exact (padding, ReLU/GELU zeros). Writes
/// `scales[i]` (`(max - min) / 255`) and `zeros[i]`; the bytes of `xq` rows past `depth` up to
/// the padded depth are zeroed. Rows are `ldx` floats and `ldq` bytes apart.
void cascade_q8_quantize_rows(int level, int rows, int depth, const float *x, int ldx, uint8_t *xq, int ldq,
                              float *scales, int32_t *zeros);

/// acc[i][j] = sum over p < depth of xq[i][p] * q[j][p], exactly, for i < rows, j < columns.
void cascade_q8_gemm_s32(int level, int rows, int columns, int depth, const uint8_t *xq, int ldq,
                         const int8_t *packed, int32_t *acc, int ldacc);

/// y[i][j] = bias[j] + (acc[i][j] - zeros[i] * sums[j]) * (xscales[i] * wscales[j]): the GEMM with
/// its rescale, `y` overwritten. `wscales`, `sums` and `bias` start at the slice's first column.
void cascade_q8_gemm_f32(int level, int rows, int columns, int depth, const uint8_t *xq, int ldq,
                         const float *xscales, const int32_t *zeros, const int8_t *packed, const float *wscales,
                         const int32_t *sums, const float *bias, float *y, int ldy);

/// The name of the int8 kernel `level` runs: "portable", "avx2" or "avx512_vnni".
const char *cascade_q8_path(int level);

// ---- fp16: weights stored as IEEE half, widened to fp32 on the fly, fp32 arithmetic

/// IEEE half <-> float, round to nearest even (software; load time and the portable path).
uint16_t cascade_f32_to_f16(float value);
float cascade_f16_to_f32(uint16_t bits);

/// Halves `cascade_f16_pack` writes: the layout of `cascade_panels_pack` (panels of 16 columns,
/// each depth step's 16 weights together, missing columns zero). A slice from column `c` (a
/// multiple of 16) passes `packed + cascade_f16_packed_count(c, depth)`.
long cascade_f16_packed_count(int columns, int depth);
void cascade_f16_pack(int columns, int depth, const float *w, int ldw, uint16_t *packed);

/// y[i][j] = bias[j] (0 when `bias` is NULL) + sum over p < depth of x[i][p] * w[j][p] on packed
/// half weights, fp32 arithmetic; a slice from column `c` passes `bias + c`.
void cascade_f16_gemm(int level, int rows, int columns, int depth, const float *x, int ldx,
                      const uint16_t *packed, const float *bias, float *y, int ldy);

/// The name of the fp16 kernel `level` runs: "portable" or "avx2" (F16C).
const char *cascade_f16_path(int level);

#endif
