// Hand-written kernels for what OpenBLAS does poorly (GEMMs with only a few rows) or does not do
// (the transformer's element-wise steps), with AVX2 + FMA where the CPU has them.
#ifndef CASCADE_CKERNELS_H
#define CASCADE_CKERNELS_H

/// 1 when this CPU has AVX2 and FMA, which `cascade_sgemm_nt_skinny` needs (GELU and softmax
/// check by themselves and fall back to their portable versions); else 0.
int cascade_avx2_available(void);

/// y[i][j] += sum over p < depth of x[i][p] * w[j][p], for i < rows, j < columns: `x · wᵀ` with
/// `w` in `nn.Linear`'s own `[out, in]` layout, read in place. Rows are `ldx`, `ldw`, `ldy` floats
/// apart. Only call when `cascade_avx2_available()` is 1.
void cascade_sgemm_nt_skinny(int rows, int columns, int depth, const float *x, int ldx, const float *w, int ldw,
                             float *y, int ldy);

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
