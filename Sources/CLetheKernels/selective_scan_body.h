// The body of the vectorised selective scan, written once against the vector operations V_* that the file
// including it defines (kernels_avx2.c: 8 lanes of AVX2+FMA; kernels_avx512.c: 16 lanes of
// AVX-512F). Same algorithm, work units and polynomials as selectiveScanForward in
// Sources/LetheModel/Kernels/SelectiveScan.swift (and the functions of FastMath.swift); see that file for the
// PyTorch lines it implements.
//
// The including file defines: VEC, MASK, LANES, TARGET (a function attribute), SCAN_NAME (the entry point),
// and V_SET1(f), V_ADD, V_SUB, V_MUL, V_DIV, V_MIN, V_MAX, V_FMADD(a, b, c) = a*b+c, V_FNMADD = c-a*b,
// V_FMSUB = a*b-c, V_LOADU(p), V_STOREU(p, v), V_MASK_FIRST(lanes), V_LOAD_MASKED(p, mask),
// V_STORE_MASKED(p, mask, v), V_GT_SELECT(x, threshold, a, b) = x > threshold ? a : b per lane; and the
// functions of vector_math.h (include this after it).

// Tokens ahead that the scan prefetches its rows.
#define SCAN_PREFETCH 6

TARGET LETHE_SELECTIVE_SCAN(SCAN_NAME) {
    const long n = state_size;
    const long blocks = (channels + LANES - 1) / LANES;
    VEC a[n], h[n];  // A·log2(e) and the state of one unit's channels, per state index
    float lane[LANES];
    for (long unit = unit_begin; unit < unit_end; unit++) {
        const long b = unit / blocks, c0 = (unit % blocks) * LANES;
        const int lanes = channels - c0 < LANES ? (int)(channels - c0) : LANES;
        const MASK mask = V_MASK_FIRST(lanes);
        float *s = state + b * state_stride + c0 * n;
        for (long j = 0; j < n; j++) {
            for (int i = 0; i < LANES; i++) lane[i] = i < lanes ? a_log[(c0 + i) * n + j] : 0.0f;
            a[j] = V_MUL(v_exp(V_LOADU(lane)), V_SET1(-1.44269504f));
            for (int i = 0; i < LANES; i++) lane[i] = i < lanes ? s[i * n + j] : 0.0f;
            h[j] = V_LOADU(lane);
        }
        const VEC bias = V_LOAD_MASKED(dt_bias + c0, mask), skip = V_LOAD_MASKED(d + c0, mask);
        for (long t = 0; t < length; t++) {
            const long m = b * length + t;
            // The unit's rows are a row of the batch apart, too far for the prefetchers: ask for those a few
            // tokens ahead.
            const long ahead = t + SCAN_PREFETCH < length ? m + SCAN_PREFETCH : m;
            __builtin_prefetch(dt + ahead * channels + c0);
            __builtin_prefetch(u + ahead * channels + c0);
            __builtin_prefetch(y + ahead * channels + c0, 1);
            if (gated) {
                __builtin_prefetch(z + ahead * z_stride + c0);
                __builtin_prefetch(gated + ahead * channels + c0, 1);
            }
            // Masked moves only for a last partial block: they are slow on some CPUs.
            const VEC pre = lanes == LANES ? V_LOADU(dt + m * channels + c0) : V_LOAD_MASKED(dt + m * channels + c0, mask);
            const VEC delta = v_softplus(V_ADD(pre, bias));
            const VEC x = lanes == LANES ? V_LOADU(u + m * channels + c0) : V_LOAD_MASKED(u + m * channels + c0, mask);
            const VEC delta_x = V_MUL(delta, x);
            const float *b_row = bc + m * bc_stride, *c_row = b_row + n;
            VEC out = V_MUL(skip, x);
            for (long j = 0; j < n; j++) {
                VEC hj = V_FMADD(v_exp2_nonpositive(V_MUL(delta, a[j])), h[j], V_MUL(delta_x, V_SET1(b_row[j])));
                h[j] = hj;
                out = V_FMADD(hj, V_SET1(c_row[j]), out);
            }
            if (lanes == LANES) V_STOREU(y + m * channels + c0, out);
            else V_STORE_MASKED(y + m * channels + c0, mask, out);
            if (gated) {
                // scan_output * F.silu(z): gateForward's operations.
                const float *z_row = z + m * z_stride + c0;
                const VEC g = V_MUL(out, v_silu_unfused(lanes == LANES ? V_LOADU(z_row) : V_LOAD_MASKED(z_row, mask)));
                if (lanes == LANES) V_STOREU(gated + m * channels + c0, g);
                else V_STORE_MASKED(gated + m * channels + c0, mask, g);
            }
        }
        for (long j = 0; j < n; j++) {
            V_STOREU(lane, h[j]);
            for (int i = 0; i < lanes; i++) s[i * n + j] = lane[i];
        }
    }
}
