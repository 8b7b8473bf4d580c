// Hand-written kernels for what OpenBLAS does poorly: GEMMs with only a few rows.
#ifndef CASCADE_CKERNELS_H
#define CASCADE_CKERNELS_H

/// 1 when this CPU has AVX2 and FMA, which `cascade_sgemm_nt_skinny` needs; else 0.
int cascade_skinny_available(void);

/// y[i][j] += sum over p < depth of x[i][p] * w[j][p], for i < rows, j < columns: `x · wᵀ` with
/// `w` in `nn.Linear`'s own `[out, in]` layout, read in place. Rows are `ldx`, `ldw`, `ldy` floats
/// apart. Only call when `cascade_skinny_available()` is 1.
void cascade_sgemm_nt_skinny(int rows, int columns, int depth, const float *x, int ldx, const float *w, int ldw,
                             float *y, int ldy);

#endif
