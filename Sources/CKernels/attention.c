// Scaled dot-product attention for one (sequence, head), on the panel GEMM's tile.
//
// Through OpenBLAS each (sequence, head) was two small `cblas_sgemm` calls: for a query, 144 calls
// of a few thousand multiply-adds each, paying the library's dispatch and packing every time (about
// 5% of a server's CPU under 16 retrieval-only callers); for a rerank pair of 160 tokens, calls
// whose copies and zeroing passes (`sgemm_oncopy`, `sgemm_beta`) took a third as long as their
// arithmetic. Here the keys are copied once into panels, scaled on the way, and the values are
// read where they lie: row `p` of a head's values is already depth step `p` of the product's panels.
#include "ckernels.h"
#include "panels.h"

long cascade_attention_keys_count(int n, int head_size) { return (long)((n + 15) / 16) * 16 * head_size; }

void cascade_attention_head(int queries, int n, int head_size, float scale, const float *q, const float *k,
                            const float *v, int stride, float *scores, float *keys, float *out, int ldo) {
    for (int panel = 0; 16 * panel < n; panel++)
        for (int p = 0; p < head_size; p++)
            for (int c = 0; c < 16; c++) {
                int j = 16 * panel + c;
                keys[((long)panel * head_size + p) * 16 + c] = j < n ? scale * k[(long)j * stride + p] : 0;
            }
    cascade_panel_gemm(queries, n, head_size, q, stride, keys, 16, 16L * head_size, 0, scores, n, 0);
    cascade_softmax_rows(scores, queries, n);
    cascade_panel_gemm(queries, head_size, n, scores, n, v, stride, 16, 0, out, ldo, 0);
}
