// Hand-written kernels for what OpenBLAS does poorly (GEMMs with only a few rows) or does not do
// (the transformer's element-wise steps), with AVX2 + FMA where the CPU has them.
#ifndef CASCADE_CKERNELS_H
#define CASCADE_CKERNELS_H

#include "cpu.h"
// Named here, not only found in the umbrella directory, so that a build made before they
// existed rebuilds the module instead of missing their functions.
#include "quantized.h"
#include "scan.h"

/// How many floats `cascade_skinny_pack` writes for a `[columns, depth]` weight matrix.
long cascade_skinny_packed_count(int columns, int depth);

/// Copies `w` (`nn.Linear`'s `[out, in]` layout, rows `ldw` floats apart) into the layout
/// `cascade_sgemm_nt_skinny` reads: panels of 3 rows, interleaved 8 floats at a time, zero-padded.
/// `packed` must be 32-byte aligned and hold `cascade_skinny_packed_count` floats.
void cascade_skinny_pack(int columns, int depth, const float *w, int ldw, float *packed);

/// y[i][j] += sum over p < depth of x[i][p] * w[j][p], for i < rows, j < columns: `x · wᵀ` with
/// `w` packed by `cascade_skinny_pack`. A column slice starting at column `c` (a multiple of 3)
/// passes `packed + (c / 3) * cascade_skinny_packed_count(3, depth)`. Rows are `ldx` and `ldy`
/// floats apart. Only call when `cascade_isa_supported() >= CASCADE_ISA_AVX2` (AVX2, FMA, F16C: the
/// loop is the one the fp16 kernel shares).
void cascade_sgemm_nt_skinny(int rows, int columns, int depth, const float *x, int ldx, const float *packed, float *y,
                             int ldy);

/// How many floats `cascade_panels_pack` writes for a `[columns, depth]` weight matrix.
long cascade_panels_packed_count(int columns, int depth);

/// Copies `w` (`[out, in]`, rows `ldw` floats apart) into the layout `cascade_sgemm_nt_panels`
/// reads: panels of 16 columns, each depth step's 16 weights together, missing columns zero.
/// `packed` must be 32-byte aligned and hold `cascade_panels_packed_count` floats.
void cascade_panels_pack(int columns, int depth, const float *w, int ldw, float *packed);

/// y[i][j] = bias[j] + sum over p < depth of x[i][p] * w[j][p] (`bias` may be NULL: 0), for
/// i < rows, j < columns, `w` packed by `cascade_panels_pack`. A column slice starting at column
/// `c` (a multiple of 16) passes `packed + c * depth` and `bias + c`. Needs AVX2 and FMA
/// (`cascade_avx2_available()`).
void cascade_sgemm_nt_panels(int rows, int columns, int depth, const float *x, int ldx, const float *packed,
                             const float *bias, float *y, int ldy);

/// Attention of `queries` query rows over `n` key and value rows of one head (`head_size` floats
/// each; `q`, `k` and `v` rows `stride` floats apart): `out[i] = softmax(scale * q[i] · kᵀ) · v`,
/// rows `ldo` apart. Scratch: `scores` holds `queries * n` floats, `keys`
/// `cascade_panels_packed_count(n, head_size)` (the keys are packed as panels). Needs AVX2 and FMA
/// (`cascade_avx2_available()`).
void cascade_attention_head(int queries, int n, int head_size, float scale, const float *q, const float *k,
                            const float *v, int stride, float *scores, float *keys, float *out, int ldo);

/// y = gelu(y), the exact (erf) GELU of `nn.functional.gelu`, on `rows` x `columns` floats whose
/// rows are `stride` floats apart.
void cascade_gelu(float *y, int rows, int columns, int stride);

/// Each of `rows` rows of `width` floats (width >= 1) replaced by its softmax, in place.
void cascade_softmax_rows(float *s, int rows, int width);

/// The same without SIMD: what a CPU without AVX2 runs; public so that tests cover it everywhere.
void cascade_gelu_portable(float *y, int rows, int columns, int stride);
void cascade_softmax_rows_portable(float *s, int rows, int width);

/// The scalar erf and exp approximations both paths use, for tests against libm.
float cascade_erf(float x);
float cascade_exp(float x);

#endif
