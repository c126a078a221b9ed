// The body of the vectorised causal conv1d with its SiLU, written once against the vector operations V_* that the
// file including it defines (see selective_scan_body.h for the list) and v_exp_unfused of vector_math.h (include
// this after it). The operations of causalConv1dForward then siluForward in Sources/LetheModel/Kernels (Conv1d.swift,
// SiLU.swift), one by one and in their order, with no fused multiply-add: the same bits as the Swift kernels, in
// one pass over the tokens instead of two. See Conv1d.swift for the PyTorch lines it implements.

// A work unit spans LETHE_CONV_UNIT_VECTORS vectors of LANES channels (lethe_kernels.h): it reads that many
// consecutive floats of each token's row (rows are far apart: in_proj's output), so that the prefetchers follow it,
// where one vector per unit would miss the cache on every token. Each row starts a new page, where the prefetchers
// start over: the unit asks for its rows CONV_PREFETCH tokens ahead (a 64 x 64 batch of mamba-130m's conv on
// AVX-512: 33 -> 11-13.5 ns a token and vector, its speed on rows already in the cache; Benchmarks/kernel_rows.c).
#define CONV_PREFETCH 2

// One work unit: sequence b, channels first ..< first + LETHE_CONV_UNIT_VECTORS * LANES (fewer in the last unit, its last
// vector masked). `kernel` is a constant where this is inlined for K = 4, so that the window's loop unrolls.
TARGET static inline __attribute__((always_inline)) void CONV_UNIT(
    float *out, float *activated, const float *input, long input_stride, const float *weight, const float *bias,
    float *state, long state_stride, long length, long channels, const long kernel, long unit) {
    const long span = LETHE_CONV_UNIT_VECTORS * LANES, units_per_sequence = (channels + span - 1) / span;
    const long b = unit / units_per_sequence, first = (unit % units_per_sequence) * span;
    const long count = channels - first < span ? channels - first : span;
    const long vectors = (count + LANES - 1) / LANES;
    const int tail = (int)(count - (vectors - 1) * LANES);  // channels in the last vector
    const MASK tail_mask = V_MASK_FIRST(tail);
    // Per vector, the last `kernel` inputs as a ring kept twice over (slots j and j + kernel hold the same input),
    // so that the window, oldest first, is always the contiguous slots newest + 1 ... newest + kernel: no shifting.
    VEC w[LETHE_CONV_UNIT_VECTORS][kernel], ring[LETHE_CONV_UNIT_VECTORS][2 * kernel], bias_lanes[LETHE_CONV_UNIT_VECTORS];
    float lane[LANES];
    float *s = state + b * state_stride + first * kernel;
    for (long v = 0; v < vectors; v++) {
        const int lanes = v == vectors - 1 ? tail : LANES;
        const long c0 = v * LANES;
        for (long k = 0; k < kernel; k++) {
            for (int i = 0; i < LANES; i++) lane[i] = i < lanes ? s[(c0 + i) * kernel + k] : 0.0f;
            ring[v][k] = ring[v][k + kernel] = V_LOADU(lane);
            for (int i = 0; i < LANES; i++) lane[i] = i < lanes ? weight[(first + c0 + i) * kernel + k] : 0.0f;
            w[v][k] = V_LOADU(lane);
        }
        bias_lanes[v] = V_LOAD_MASKED(bias + first + c0, V_MASK_FIRST(lanes));
    }
    long newest = kernel - 1;
    for (long t = 0; t < length; t++) {
        const long m = b * length + t;
        newest = newest + 1 == kernel ? 0 : newest + 1;
        const float *x = input + m * input_stride + first;
        const long row = m * channels + first;
        for (long v = 0; v < vectors; v++) {
            // Masked moves only for a last partial vector: they are slow on some CPUs.
            const int partial = v == vectors - 1 && tail < LANES;
            const long c0 = v * LANES;
            if (t + CONV_PREFETCH < length) {
                __builtin_prefetch(x + CONV_PREFETCH * input_stride + c0);
                __builtin_prefetch(activated + row + CONV_PREFETCH * channels + c0, 1);
                if (out) __builtin_prefetch(out + row + CONV_PREFETCH * channels + c0, 1);
            }
            ring[v][newest] = ring[v][newest + kernel] = partial ? V_LOAD_MASKED(x + c0, tail_mask) : V_LOADU(x + c0);
            const VEC *window = ring[v] + newest + 1;
            VEC acc = bias_lanes[v];
            for (long k = 0; k < kernel; k++) acc = V_ADD(acc, V_MUL(w[v][k], window[k]));
            const VEC act = v_silu_unfused(acc);
            if (partial) {
                if (out) V_STORE_MASKED(out + row + c0, tail_mask, acc);
                V_STORE_MASKED(activated + row + c0, tail_mask, act);
            } else {
                if (out) V_STOREU(out + row + c0, acc);
                V_STOREU(activated + row + c0, act);
            }
        }
    }
    for (long v = 0; v < vectors; v++) {
        const int lanes = v == vectors - 1 ? tail : LANES;
        for (long k = 0; k < kernel; k++) {
            V_STOREU(lane, ring[v][newest + 1 + k]);
            for (int i = 0; i < lanes; i++) s[(v * LANES + i) * kernel + k] = lane[i];
        }
    }
}

TARGET LETHE_CAUSAL_CONV1D_SILU(CONV_SILU_NAME) {
    for (long unit = unit_begin; unit < unit_end; unit++) {
        if (kernel == 4)
            CONV_UNIT(out, activated, input, input_stride, weight, bias, state, state_stride, length, channels, 4, unit);
        else
            CONV_UNIT(out, activated, input, input_stride, weight, bias, state, state_stride, length, channels, kernel,
                      unit);
    }
}
