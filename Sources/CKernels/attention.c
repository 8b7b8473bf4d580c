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

void cascade_attention_head(int queries, int n, int head_size, float scale, const float *q, const float *k,
                            const float *v, int stride, float *scores, float *keys, float *out, int ldo) {
    cascade_panels_pack_scaled(n, head_size, k, stride, scale, keys);
    cascade_panel_gemm(queries, n, head_size, q, stride, keys, 16, 16L * head_size, 0, scores, n, 0);
    cascade_softmax_rows(scores, queries, n);
    cascade_panel_gemm(queries, head_size, n, scores, n, v, stride, 16, 0, out, ldo, 0);
}
