// The body of the vectorised selective scan for ONE token per sequence (greedy decoding's step), written once
// against the vector operations V_* of the including file, the functions of vector_math.h and v_hsum(VEC) -> float
// (include this after them). The algorithm of selectiveScanStep in Sources/LetheModel/Kernels/RecurrentStep.swift
// (see it for the PyTorch lines): each channel's state is read where it lies, N contiguous floats, in vectors over
// the state index, and exp(A_log) is taken once per block of channels for the whole batch. The state update is the
// scan kernel's (selective_scan_body.h), fused multiply-adds included; y's sum over the states is not: it gathers
// in a vector of LANES, then across it, so its rounding differs from the scan's and between AVX2 and AVX-512.

TARGET LETHE_SELECTIVE_SCAN_STEP(STEP_NAME) {
    const long n = state_size, vectors = (n + LANES - 1) / LANES;
    const int tail = (int)(n - (vectors - 1) * LANES);  // states in the last vector of a channel
    const MASK tail_mask = V_MASK_FIRST(tail);
    VEC a[LANES * vectors];  // A·log2(e) of the block's channel i, states LANES·v ..< LANES·(v + 1): a[i·vectors + v]
    float delta[LANES], delta_x[LANES], out[LANES];
// The states of one channel: a last partial vector is masked (lanes past N read as 0 and are not written).
#define STATE_LOAD(p, v) ((v) == vectors - 1 && tail < LANES ? V_LOAD_MASKED(p, tail_mask) : V_LOADU(p))
    for (long unit = unit_begin; unit < unit_end; unit++) {
        const long c0 = unit * LANES;
        const int lanes = channels - c0 < LANES ? (int)(channels - c0) : LANES;
        const MASK mask = V_MASK_FIRST(lanes);
        for (int i = 0; i < lanes; i++)
            for (long v = 0; v < vectors; v++)
                a[i * vectors + v] = V_MUL(v_exp(STATE_LOAD(a_log + (c0 + i) * n + v * LANES, v)), V_SET1(-1.44269504f));
        const VEC bias = V_LOAD_MASKED(dt_bias + c0, mask), skip = V_LOAD_MASKED(d + c0, mask);
        for (long b = 0; b < batch; b++) {
            const VEC dlt = v_softplus(V_ADD(V_LOAD_MASKED(dt + b * channels + c0, mask), bias));
            const VEC x = V_LOAD_MASKED(u + b * channels + c0, mask);
            V_STOREU(delta, dlt);
            V_STOREU(delta_x, V_MUL(dlt, x));
            V_STOREU(out, V_MUL(skip, x));
            const float *b_row = bc + b * bc_stride, *c_row = b_row + n;
            for (int i = 0; i < lanes; i++) {
                float *h = state + b * state_stride + (c0 + i) * n;
                const VEC di = V_SET1(delta[i]), dxi = V_SET1(delta_x[i]);
                VEC sum = V_SET1(0.0f);
                for (long v = 0; v < vectors; v++) {
                    const long j = v * LANES;
                    const VEC hj = V_FMADD(v_exp2_nonpositive(V_MUL(di, a[i * vectors + v])), STATE_LOAD(h + j, v),
                                           V_MUL(dxi, STATE_LOAD(b_row + j, v)));
                    if (v == vectors - 1 && tail < LANES) V_STORE_MASKED(h + j, tail_mask, hj);
                    else V_STOREU(h + j, hj);
                    sum = V_FMADD(hj, STATE_LOAD(c_row + j, v), sum);
                }
                out[i] += v_hsum(sum);
            }
            V_STORE_MASKED(y + b * channels + c0, mask, V_LOADU(out));
        }
    }
#undef STATE_LOAD
}
