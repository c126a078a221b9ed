// The elementwise half of the blocked lm_head's cross-entropy (Sources/LetheModel/Kernels/BlockedLMHead.swift,
// whose Swift path computes the same), written once against the vector operations V_* and v_exp of
// vector_math.h. For each row r of a block of logits z (rows, count), a row `count` floats long:
//   SOFTMAX_STATISTICS_NAME: the row's running maximum and sum of exp(z - maximum), updated with the block:
//       new = max(maximum[r], max_i z[r, i]);  sum[r] = sum[r] · exp(maximum[r] - new) + Σ_i exp(z[r, i] - new)
//     (a maximum of -infinity is a row with no block seen yet: its sum counts as 0)
//   SOFTMAX_GRADIENT_NAME: z[r, i] = exp(z[r, i] - maximum[r]) · factor[r], in place.
// The including file also defines v_hmax and v_hsum (the maximum and the sum of a vector's lanes),
// V_LOAD_MASKED_OR(p, mask, fill) (missing lanes are `fill`) and V_KEEP(mask, v) (lanes outside the mask are 0).

#include <math.h>

TARGET LETHE_SOFTMAX_STATISTICS(SOFTMAX_STATISTICS_NAME) {
    const long full = count / LANES * LANES;
    const int tail = (int)(count - full);
    const MASK mask = V_MASK_FIRST(tail);
    const VEC lowest = V_SET1(-INFINITY);
    for (long r = 0; r < rows; r++) {
        const float *row = z + r * count;
        VEC peak = lowest;
        for (long i = 0; i < full; i += LANES) peak = V_MAX(peak, V_LOADU(row + i));
        if (tail) peak = V_MAX(peak, V_LOAD_MASKED_OR(row + full, mask, lowest));
        const float block_max = v_hmax(peak), old = maximum[r];
        const float new_max = old > block_max ? old : block_max;
        const VEC shift = V_SET1(new_max);
        // Two accumulators, so that the additions do not wait on each other.
        VEC total0 = V_SET1(0.0f), total1 = V_SET1(0.0f);
        long i = 0;
        for (; i + 2 * LANES <= full; i += 2 * LANES) {
            total0 = V_ADD(total0, v_exp(V_SUB(V_LOADU(row + i), shift)));
            total1 = V_ADD(total1, v_exp(V_SUB(V_LOADU(row + i + LANES), shift)));
        }
        if (i < full) total0 = V_ADD(total0, v_exp(V_SUB(V_LOADU(row + i), shift)));
        if (tail) total1 = V_ADD(total1, V_KEEP(mask, v_exp(V_SUB(V_LOAD_MASKED(row + full, mask), shift))));
        sum[r] = (old == -INFINITY ? 0.0f : sum[r] * expf(old - new_max)) + v_hsum(V_ADD(total0, total1));
        maximum[r] = new_max;
    }
}

TARGET LETHE_SOFTMAX_GRADIENT(SOFTMAX_GRADIENT_NAME) {
    const long full = count / LANES * LANES;
    const int tail = (int)(count - full);
    const MASK mask = V_MASK_FIRST(tail);
    for (long r = 0; r < rows; r++) {
        float *row = z + r * count;
        const VEC shift = V_SET1(maximum[r]), scale = V_SET1(factor[r]);
        for (long i = 0; i < full; i += LANES) V_STOREU(row + i, V_MUL(v_exp(V_SUB(V_LOADU(row + i), shift)), scale));
        if (tail) V_STORE_MASKED(row + full, mask, V_MUL(v_exp(V_SUB(V_LOAD_MASKED(row + full, mask), shift)), scale));
    }
}
