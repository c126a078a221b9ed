// The matrix product of a weight packed in panels (packedLinearForward, Sources/LetheModel/Kernels/PackedLinear.swift),
// written once against the vector operations V_* of the including file (kernels_avx2.c, kernels_avx512.c). Each
// output is one chain of fused multiply-adds over k = 0, 1, ..., K-1 starting from 0, then written (or added to what
// the output holds): its bits depend on nothing else, not on the rows or columns computed with it nor on the vector
// width, so the AVX2 and AVX-512 builds and any split of the work give the same floats.
//
// The including file defines PACKED_LINEAR_NAME and PACKED_ROWS (rows of one tile: their accumulators, PACKED_ROWS x
// LETHE_PANEL_WIDTH / LANES vectors, stay in registers while the tile's panel rows stream through).

#define PANEL_VECTORS (LETHE_PANEL_WIDTH / LANES)

// Inputs a pass over a panel takes when there are few rows (a decoding step's): the panel's rows for them
// (PACKED_DEPTH x 128 bytes) are fetched from memory once and then read from the core's first-level cache by every
// tile of rows, whose sums wait in `partial` between passes (a float stored and loaded back is the same float: the
// bits do not change). With PACKED_WHOLE_PANEL_ROWS rows or more, the first tile's wait for memory is spread over
// enough others that one pass over all inputs is faster.
#define PACKED_DEPTH 128
#define PACKED_WHOLE_PANEL_ROWS 128

// The tile of `rows` (<= PACKED_ROWS) rows of `x` and one panel over inputs [k0, k1): acc[i][v] += x[i][k] * panel[k][v
// lanes], k ascending.
#define PACKED_TILE_LOOP(rows)                                                                   \
    for (long k = k0; k < k1; k++) {                                                             \
        const float *w = panel + k * LETHE_PANEL_WIDTH;                                          \
        VEC wv[PANEL_VECTORS];                                                                   \
        for (int v = 0; v < PANEL_VECTORS; v++) wv[v] = V_LOADU(w + v * LANES);                  \
        for (int i = 0; i < (rows); i++) {                                                       \
            const VEC xv = V_SET1(x[i * input_stride + k]);                                      \
            for (int v = 0; v < PANEL_VECTORS; v++) acc[i][v] = V_FMADD(xv, wv[v], acc[i][v]);   \
        }                                                                                        \
    }

TARGET LETHE_PACKED_LINEAR(PACKED_LINEAR_NAME) {
    // Room for a last tile of fewer rows too: its unused accumulators are stored and loaded like the others.
    float partial[(LETHE_PACKED_MAX_ROWS + PACKED_ROWS) * LETHE_PANEL_WIDTH] __attribute__((aligned(64)));
    for (long p = panel_begin; p < panel_end; p++) {
        const float *panel = panels + p * in_features * LETHE_PANEL_WIDTH;
        // This panel's columns of `out` (out holds column panel_begin * LETHE_PANEL_WIDTH first).
        float *out_panel = out + (p - panel_begin) * LETHE_PANEL_WIDTH;
        const long columns = column_end - p * LETHE_PANEL_WIDTH;
        const long depth = rows >= PACKED_WHOLE_PANEL_ROWS ? in_features : PACKED_DEPTH;
        for (long k0 = 0; k0 < in_features; k0 += depth) {
            const long k1 = in_features - k0 < depth ? in_features : k0 + depth;
            for (long r = 0; r < rows; r += PACKED_ROWS) {
                const long tile_rows = rows - r < PACKED_ROWS ? rows - r : PACKED_ROWS;
                const float *x = input + r * input_stride;
                float *sums = partial + r * LETHE_PANEL_WIDTH;
                VEC acc[PACKED_ROWS][PANEL_VECTORS];
                for (int i = 0; i < PACKED_ROWS; i++)
                    for (int v = 0; v < PANEL_VECTORS; v++)
                        acc[i][v] = k0 == 0 ? V_SET1(0.0f) : V_LOADU(sums + i * LETHE_PANEL_WIDTH + v * LANES);
                if (tile_rows == PACKED_ROWS) {
                    PACKED_TILE_LOOP(PACKED_ROWS)
                } else {
                    PACKED_TILE_LOOP(tile_rows)
                }
                if (k1 < in_features) {
                    for (int i = 0; i < PACKED_ROWS; i++)
                        for (int v = 0; v < PANEL_VECTORS; v++) V_STOREU(sums + i * LETHE_PANEL_WIDTH + v * LANES, acc[i][v]);
                    continue;
                }
                for (long i = 0; i < tile_rows; i++) {
                    float *o = out_panel + (r + i) * out_stride;
                    for (int v = 0; v < PANEL_VECTORS; v++) {
                        const long lanes = columns - v * LANES;
                        if (lanes <= 0) break;
                        if (lanes >= LANES) {
                            V_STOREU(o + v * LANES, accumulate ? V_ADD(V_LOADU(o + v * LANES), acc[i][v]) : acc[i][v]);
                        } else {
                            const MASK mask = V_MASK_FIRST((int)lanes);
                            const VEC sum = accumulate ? V_ADD(V_LOAD_MASKED(o + v * LANES, mask), acc[i][v]) : acc[i][v];
                            V_STORE_MASKED(o + v * LANES, mask, sum);
                        }
                    }
                }
            }
        }
    }
}
#undef PACKED_TILE_LOOP
#undef PACKED_DEPTH
#undef PACKED_WHOLE_PANEL_ROWS
#undef PANEL_VECTORS
