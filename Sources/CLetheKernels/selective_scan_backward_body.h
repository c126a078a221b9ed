// The body of the vectorised selective scan's backward, written once against the vector operations V_* and the
// functions v_exp, v_exp2_nonpositive and v_softplus of vector_math.h, plus
// SCAN_BACKWARD_NAME (the entry point) and v_hsum(VEC) -> float (the sum of the lanes) from the including file.
// Same algorithm, work units and order of every sum as selectiveScanBackward's Swift path in
// Sources/LetheModel/Kernels/SelectiveScan.swift, which states the equations: each group of LANES channels
// recomputes its states for one sequence, keeping them and exp(Δ·A), then runs backwards in time; dB and dC
// (sums over channels) gather in one vector per (t, n) for the whole unit and are reduced across lanes once per
// unit and sequence. Rows are prefetched SCAN_PREFETCH tokens ahead (include this after selective_scan_body.h, which
// defines it and the row moves SCAN_LOAD and SCAN_STORE).

#include <stdlib.h>

TARGET LETHE_SELECTIVE_SCAN_BACKWARD(SCAN_BACKWARD_NAME) {
    const long n = state_size;
    const long groups_per_unit = unit_channels / LANES, rows = batch * length;
    // Per group: h_t and exp(Δ_t·A) (length, n), Δ_t (length); per unit: dB | dC lanes (length, 2n); per group
    // of the unit: A, A·log2(e), dA (n each), d(bias) and dD.
    VEC *states = aligned_alloc(sizeof(VEC), sizeof(VEC) * (size_t)(4 * length * n + length
                                                                     + groups_per_unit * (3 * n + 2)));
    VEC *decays = states + length * n, *deltas = decays + length * n, *acc = deltas + length;
    VEC *a = acc + 2 * length * n, *a2 = a + groups_per_unit * n, *da = a2 + groups_per_unit * n;
    VEC *dbias = da + groups_per_unit * n, *dskip = dbias + groups_per_unit;
    VEC g[n], initial_h[n];
    float lane[LANES];
    const VEC zero = V_SET1(0.0f), one = V_SET1(1.0f);
    for (long unit = unit_begin; unit < unit_end; unit++) {
        const long u0 = unit * unit_channels, u1 = u0 + unit_channels < channels ? u0 + unit_channels : channels;
        const long groups = (u1 - u0 + LANES - 1) / LANES;
        float *partial = partial_bc + unit * rows * 2 * n;
        for (long k = 0; k < groups; k++) {
            const long c0 = u0 + LANES * k;
            const int lanes = channels - c0 < LANES ? (int)(channels - c0) : LANES;
            for (long j = 0; j < n; j++) {
                for (int i = 0; i < LANES; i++) lane[i] = i < lanes ? a_log[(c0 + i) * n + j] : 0.0f;
                a[k * n + j] = V_SUB(zero, v_exp(V_LOADU(lane)));  // A = -exp(A_log)
                a2[k * n + j] = V_MUL(a[k * n + j], V_SET1(1.44269504f));
                da[k * n + j] = zero;
            }
            dbias[k] = zero;
            dskip[k] = zero;
        }
        for (long b = 0; b < batch; b++) {
            for (long i = 0; i < 2 * length * n; i++) acc[i] = zero;
            for (long k = 0; k < groups; k++) {
                const long c0 = u0 + LANES * k;
                const int lanes = channels - c0 < LANES ? (int)(channels - c0) : LANES;
                const MASK mask = V_MASK_FIRST(lanes);
                const VEC *ak = a + k * n, *a2k = a2 + k * n;
                const float *initial = state + b * state_stride + c0 * n;
                const VEC bias = V_LOAD_MASKED(dt_bias + c0, mask), skip = V_LOAD_MASKED(d + c0, mask);
                for (long j = 0; j < n; j++) {
                    for (int i = 0; i < LANES; i++) lane[i] = i < lanes ? initial[i * n + j] : 0.0f;
                    initial_h[j] = V_LOADU(lane);
                    g[j] = initial_h[j];
                }
                // Forward, as the forward kernel computes it, keeping every state.
                for (long t = 0; t < length; t++) {
                    const long m = b * length + t;
                    const long ahead = t + SCAN_PREFETCH < length ? m + SCAN_PREFETCH : m;
                    __builtin_prefetch(dt + ahead * channels + c0);
                    __builtin_prefetch(u + ahead * channels + c0);
                    const VEC delta = v_softplus(V_ADD(SCAN_LOAD(dt + m * channels + c0), bias));
                    const VEC delta_x = V_MUL(delta, SCAN_LOAD(u + m * channels + c0));
                    const float *b_row = bc + m * bc_stride;
                    for (long j = 0; j < n; j++) {
                        const VEC decay = v_exp2_nonpositive(V_MUL(delta, a2k[j]));
                        g[j] = V_FMADD(decay, g[j], V_MUL(delta_x, V_SET1(b_row[j])));
                        states[t * n + j] = g[j];
                        decays[t * n + j] = decay;
                    }
                    deltas[t] = delta;
                }
                // Backwards in time; g becomes dL/dh_t.
                for (long j = 0; j < n; j++) g[j] = zero;
                for (long t = length - 1; t >= 0; t--) {
                    const long m = b * length + t;
                    const long behind = t >= SCAN_PREFETCH ? m - SCAN_PREFETCH : m;
                    __builtin_prefetch(dy + behind * channels + c0);
                    __builtin_prefetch(u + behind * channels + c0);
                    __builtin_prefetch(dt + behind * channels + c0);
                    __builtin_prefetch(du + behind * channels + c0, 1);
                    __builtin_prefetch(ddt + behind * channels + c0, 1);
                    const VEC dyt = SCAN_LOAD(dy + m * channels + c0), x = SCAN_LOAD(u + m * channels + c0);
                    const VEC delta = deltas[t], delta_x = V_MUL(delta, x);
                    const float *b_row = bc + m * bc_stride, *c_row = b_row + n;
                    const VEC *previous = t > 0 ? states + (t - 1) * n : initial_h;
                    dskip[k] = V_FMADD(dyt, x, dskip[k]);
                    VEC dut = V_MUL(dyt, skip), d_delta = zero;
                    for (long j = 0; j < n; j++) {
                        const VEC b_j = V_SET1(b_row[j]);
                        // y = h . C
                        const VEC gj = V_FMADD(dyt, V_SET1(c_row[j]), g[j]);
                        acc[(t * 2 + 1) * n + j] = V_FMADD(dyt, states[t * n + j], acc[(t * 2 + 1) * n + j]);
                        // h = exp(delta * A) * h_prev + delta * B * u
                        const VEC d_exponent = V_MUL(V_MUL(gj, previous[j]), decays[t * n + j]);
                        d_delta = V_FMADD(d_exponent, ak[j], d_delta);
                        d_delta = V_FMADD(gj, V_MUL(b_j, x), d_delta);
                        da[k * n + j] = V_FMADD(d_exponent, delta, da[k * n + j]);
                        acc[t * 2 * n + j] = V_FMADD(gj, delta_x, acc[t * 2 * n + j]);
                        dut = V_FMADD(gj, V_MUL(delta, b_j), dut);
                        g[j] = V_MUL(gj, decays[t * n + j]);
                    }
                    SCAN_STORE(du + m * channels + c0, dut);
                    // softplus'(x) = sigmoid(x)
                    const VEC pre = V_ADD(SCAN_LOAD(dt + m * channels + c0), bias);
                    const VEC d_pre = V_MUL(d_delta, V_DIV(one, V_ADD(one, v_exp(V_SUB(zero, pre)))));
                    SCAN_STORE(ddt + m * channels + c0, d_pre);
                    dbias[k] = V_ADD(dbias[k], d_pre);
                }
                if (d_state) {
                    for (long j = 0; j < n; j++) {
                        V_STOREU(lane, g[j]);
                        for (int i = 0; i < lanes; i++) d_state[b * d_state_stride + (c0 + i) * n + j] = lane[i];
                    }
                }
            }
            for (long t = 0; t < length; t++)
                for (long j = 0; j < 2 * n; j++) partial[(b * length + t) * 2 * n + j] = v_hsum(acc[t * 2 * n + j]);
        }
        for (long k = 0; k < groups; k++) {
            const long c0 = u0 + LANES * k;
            const int lanes = channels - c0 < LANES ? (int)(channels - c0) : LANES;
            const MASK mask = V_MASK_FIRST(lanes);
            V_STORE_MASKED(ddt_bias + c0, mask, V_ADD(V_LOAD_MASKED(ddt_bias + c0, mask), dbias[k]));
            V_STORE_MASKED(dd + c0, mask, V_ADD(V_LOAD_MASKED(dd + c0, mask), dskip[k]));
            for (long j = 0; j < n; j++) {
                // dA_log = dA · A
                V_STOREU(lane, V_MUL(da[k * n + j], a[k * n + j]));
                for (int i = 0; i < lanes; i++) da_log[(c0 + i) * n + j] += lane[i];
            }
        }
    }
    free(states);
}
