// `y = bias + x · Wᵀ` with W stored as IEEE half: a query's GEMMs read every weight for a few
// rows, and half weights halve those bytes. The weights are widened to fp32 in registers (F16C
// `vcvtph2ps`), the arithmetic is fp32 FMA, so the only error is the weights' rounding to half
// (relative 2^-11).
//
// Why the fp32 panel kernel's layout and tile (panels.c) rather than the skinny kernel's (skinny.c,
// which fp32 queries run), as before: the skinny tile (4 rows x 3 columns, dot products along the
// depth) rereads a 16-token query's rows for every 3 columns, and at 16 rows its speed is set by
// those reads at either precision. The panel tile (6 rows x 16 columns, rows broadcast) reads them
// 5 times less often, so that half weights pay. A C micro-benchmark of a query's 24 GEMMs at 16
// rows (Zen 3, one thread, weights streaming, the kernels taking turns): 0.76-0.88x the skinny
// fp32 kernel's time, against 0.83-0.92x for halves in the skinny tile. In the model (encoder-bench,
// the builds taking turns, 3 rounds): a 16-token query at fp16 took 0.73-0.80x fp32's time against
// 0.92-0.94x, and batches ran as fast as before (0.95-1.01x fp32's throughput against 0.89-0.99x)
// without the widened copy for OpenBLAS they had used.
#include "quantized.h"

#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "ckernels.h"
#include "panels.h"

uint16_t cascade_f32_to_f16(float value) {
    uint32_t bits;
    memcpy(&bits, &value, 4);
    uint32_t sign = (bits >> 16) & 0x8000;
    uint32_t magnitude = bits & 0x7fffffff;
    if (magnitude >= 0x7f800000) return (uint16_t)(sign | 0x7c00 | (magnitude > 0x7f800000 ? 0x200 : 0));
    // 65520 and above round to infinity.
    if (magnitude >= 0x477ff000) return (uint16_t)(sign | 0x7c00);
    if (magnitude < 0x38800000) {
        // Subnormal half (or zero): the value in units of 2^-24, rounded to nearest even.
        float f;
        memcpy(&f, &magnitude, 4);
        return (uint16_t)(sign | (uint32_t)nearbyintf(f * 16777216.0f));
    }
    // Normal: rebias the exponent, round the 13 dropped mantissa bits to nearest even (a carry
    // into the exponent is the right result, up to infinity).
    uint32_t h = (magnitude - 0x38000000) >> 13;
    uint32_t rest = magnitude & 0x1fff;
    if (rest > 0x1000 || (rest == 0x1000 && (h & 1))) h++;
    return (uint16_t)(sign | h);
}

float cascade_f16_to_f32(uint16_t bits) {
    uint32_t sign = (uint32_t)(bits & 0x8000) << 16;
    uint32_t exponent = (bits >> 10) & 0x1f, mantissa = bits & 0x3ff;
    float magnitude;
    if (exponent == 0)
        magnitude = (float)mantissa * (1.0f / 16777216.0f);
    else if (exponent == 31)
        magnitude = mantissa ? NAN : INFINITY;
    else {
        uint32_t f = ((exponent + 112) << 23) | (mantissa << 13);
        memcpy(&magnitude, &f, 4);
    }
    uint32_t out;
    memcpy(&out, &magnitude, 4);
    out |= sign;
    float result;
    memcpy(&result, &out, 4);
    return result;
}

long cascade_f16_packed_count(int columns, int depth) { return (long)((columns + 15) / 16) * 16 * depth; }

void cascade_f16_pack(int columns, int depth, const float *w, int ldw, uint16_t *packed) {
    for (int panel = 0; 16 * panel < columns; panel++)
        for (int p = 0; p < depth; p++)
            for (int c = 0; c < 16; c++) {
                int j = 16 * panel + c;
                packed[((long)panel * depth + p) * 16 + c] = j < columns ? cascade_f32_to_f16(w[(long)j * ldw + p]) : 0;
            }
}

static void gemm_portable(int rows, int columns, int depth, const float *x, int ldx, const uint16_t *packed,
                          const float *bias, float *y, int ldy) {
    for (int j = 0; j < columns; j++) {
        const uint16_t *column = packed + (long)(j / 16) * 16 * depth + j % 16;
        for (int i = 0; i < rows; i++) {
            float s = bias ? bias[j] : 0;
            for (int p = 0; p < depth; p++) s += x[(long)i * ldx + p] * cascade_f16_to_f32(column[16L * p]);
            y[(long)i * ldy + j] = s;
        }
    }
}

void cascade_f16_gemm(int level, int rows, int columns, int depth, const float *x, int ldx, const uint16_t *packed,
                      const float *bias, float *y, int ldy) {
    if (level >= CASCADE_ISA_AVX2)
        cascade_panel_gemm_f16(rows, columns, depth, x, ldx, packed, bias, y, ldy);
    else
        gemm_portable(rows, columns, depth, x, ldx, packed, bias, y, ldy);
}

const char *cascade_f16_path(int level) { return level >= CASCADE_ISA_AVX2 ? "avx2" : "portable"; }
