// Scores of compact vector codes against one query, for VectorStore's scan of int8 and fp16
// blocks. Each family has one entry point per instruction-set path (`level`, see cpu.h) so tests
// can run every path this CPU has against a scalar reference; the store passes
// `cascade_isa_selected()`.
#ifndef CASCADE_SCAN_H
#define CASCADE_SCAN_H

#include <stdint.h>

#include "cpu.h"

/// out[r] = (float)(codes[r] · query - 128 * query_sum) * (scales[r] * query_scale) for r < rows,
/// where row r's `dim` codes start at `codes + r * dim`, each an int8 code plus 128 (so
/// codes[r] · query - 128 * query_sum is the int8 codes' dot product), `scales` holds `rows`
/// floats (unaligned is fine), `query` holds `dim` values in [-64, 64] and `query_sum` is their
/// sum. Exact int32 arithmetic, so every path returns the same bits. `level` must not exceed
/// `cascade_isa_supported()`.
void cascade_scan_int8(int level, const uint8_t *codes, const void *scales, int rows, int dim, const int8_t *query,
                       int32_t query_sum, float query_scale, float *out);

/// out[r] = half-precision row r (`dim` IEEE binary16 values at `codes + r * dim`, unaligned is
/// fine) · query, summed in float. Paths differ in summation order only.
void cascade_scan_fp16(int level, const void *codes, int rows, int dim, const float *query, float *out);

/// IEEE binary16 bits to float, exactly (subnormals, infinities, NaN).
float cascade_half_to_float(uint16_t h);

#endif
