// The panel GEMM's one loop, shared by the packed-weight GEMM (panels.c) and attention
// (attention.c), which reads its values in place.
#ifndef CASCADE_PANELS_H
#define CASCADE_PANELS_H

#include <stdint.h>

/// y[i][j] = bias[j] (0 when `bias` is NULL) + sum over p < depth of x[i][p] * w(j, p), where
/// column j's weight at depth step p is `w[(j / 16) * panel_stride + p * step + j % 16]`: packed
/// panels pass step 16 and panel_stride 16 * depth, a row-major `[depth, columns]` matrix passes
/// step = its row stride and panel_stride 16. Never reads past column `columns - 1`. `prefetch`:
/// packed panels only (fetches the next panel while the first row tile runs). Needs AVX2 and FMA.
void cascade_panel_gemm(int rows, int columns, int depth, const float *x, int ldx, const float *w, long step,
                        long panel_stride, const float *bias, float *y, int ldy, int prefetch);

/// `cascade_panel_gemm` on packed panels of IEEE halves (`cascade_f16_pack`), widened to fp32 in
/// registers (F16C); fp32 arithmetic. Needs AVX2, FMA and F16C.
void cascade_panel_gemm_f16(int rows, int columns, int depth, const float *x, int ldx, const uint16_t *w,
                            const float *bias, float *y, int ldy);

/// `cascade_panels_pack` with every weight multiplied by `scale` on the way (attention's keys).
void cascade_panels_pack_scaled(int columns, int depth, const float *w, int ldw, float scale, float *packed);

#endif
