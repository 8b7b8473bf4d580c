// The skinny GEMM's one loop, shared by the fp32 kernel (skinny.c) and the fp16 one (gemm_f16.c).
#ifndef CASCADE_SKINNY_H
#define CASCADE_SKINNY_H

/// `y += x · wᵀ` on weights in the skinny layout: floats (`half` 0, `cascade_skinny_pack`) or IEEE
/// halves (`half` 1, `cascade_f16_pack`), fp32 arithmetic either way. Needs AVX2, FMA and F16C
/// (`cascade_isa_supported() >= CASCADE_ISA_AVX2`).
void cascade_skinny_gemm(int rows, int columns, int depth, const float *x, int ldx, const void *packed, int half,
                         float *y, int ldy);

#endif
