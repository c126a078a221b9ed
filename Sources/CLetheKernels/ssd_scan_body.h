// The body of Mamba-2's scan and its backward, written once against the vector operations V_* of the including
// file (kernels_avx2.c, kernels_avx512.c; see selective_scan_body.h for the list) and its v_hsum. Same recurrence,
// layouts and work units as ssdScanForward and ssdScanBackward in Sources/LetheModel/Kernels/SSDScan.swift (see
// that file for the PyTorch lines); the vectors run over the state index n, which is contiguous. The including
// file defines SSD_SCAN_NAME and SSD_SCAN_BACKWARD_NAME.
#include <math.h>
#include <stdlib.h>
#include <string.h>

// Δ = clamp(softplus(dt + dt_bias), min, max), softplus with PyTorch's threshold 20.
static inline float ssd_time_step(float biased, float low, float high) {
    const float softplus = biased > 20.0f ? biased : log1pf(expf(biased));
    const float above = softplus > low ? softplus : low;
    return above < high ? above : high;
}

// Units [unit_begin, unit_end) of (sequence, head): unit = b * heads + h.
TARGET void SSD_SCAN_NAME(float *y, const float *x, long x_stride, const float *dt, long dt_stride,
                          const float *dt_bias, const float *a_log, const float *bc, long bc_stride, const float *d,
                          float *state, long state_stride, long length, long heads, long head_dim, long groups,
                          long n, float dt_min, float dt_max, long unit_begin, long unit_end) {
    const long per_group = heads / groups, tail = n % LANES, whole = n - tail;
    const MASK tail_mask = V_MASK_FIRST(tail == 0 ? 1 : tail);
    float *db = malloc(sizeof(float) * n);  // Δ·B of the step
    for (long unit = unit_begin; unit < unit_end; unit++) {
        const long b = unit / heads, h = unit % heads;
        const float a = -expf(a_log[h]);
        float *s = state + b * state_stride + h * head_dim * n;
        const long b_offset = (h / per_group) * n, c_offset = groups * n + b_offset;
        for (long t = 0; t < length; t++) {
            const long row = b * length + t;
            const float delta = ssd_time_step(dt[row * dt_stride + h] + dt_bias[h], dt_min, dt_max);
            const VEC decay = V_SET1(expf(delta * a));
            const float *bt = bc + row * bc_stride + b_offset, *ct = bc + row * bc_stride + c_offset;
            const float *xt = x + row * x_stride + h * head_dim;
            float *yt = y + row * heads * head_dim + h * head_dim;
            for (long j = 0; j < n; j++) db[j] = delta * bt[j];
            for (long c = 0; c < head_dim; c++) {
                float *sc = s + c * n;
                const VEC xv = V_SET1(xt[c]);
                VEC acc = V_SET1(0.0f);
                for (long j = 0; j < whole; j += LANES) {
                    const VEC updated = V_FMADD(V_LOADU(db + j), xv, V_MUL(V_LOADU(sc + j), decay));
                    V_STOREU(sc + j, updated);
                    acc = V_FMADD(updated, V_LOADU(ct + j), acc);
                }
                if (tail) {
                    const VEC updated = V_FMADD(V_LOAD_MASKED(db + whole, tail_mask), xv,
                                                V_MUL(V_LOAD_MASKED(sc + whole, tail_mask), decay));
                    V_STORE_MASKED(sc + whole, tail_mask, updated);
                    acc = V_FMADD(updated, V_LOAD_MASKED(ct + whole, tail_mask), acc);
                }
                yt[c] = v_hsum(acc) + xt[c] * d[h];
            }
        }
    }
    free(db);
}

// Units [unit_begin, unit_end) of (sequence, head): unit = b * heads + h. Each writes its head's dx, ddt and (when
// d_state is not NULL) d_state, its share of its group's B and C gradients to partial_bc + unit * length * 2n
// (row t: dB then dC), and its (dDtBias, dA, dD) to partial + unit * 3. The states of the head are recomputed
// `block` channels at a time, so that those of every step stay in cache.
TARGET void SSD_SCAN_BACKWARD_NAME(float *dx, long dx_stride, float *partial_bc, float *ddt, long ddt_stride,
                                   float *partial, float *d_state, long d_state_stride, const float *dy,
                                   const float *x, long x_stride, const float *dt, long dt_stride,
                                   const float *dt_bias, const float *a_log, const float *bc, long bc_stride,
                                   const float *d, const float *state, long state_stride, long length, long heads,
                                   long head_dim, long groups, long n, float dt_min, float dt_max, long block,
                                   long unit_begin, long unit_end) {
    const long per_group = heads / groups, tail = n % LANES, whole = n - tail;
    const MASK tail_mask = V_MASK_FIRST(tail == 0 ? 1 : tail);
    // s_0 ... s_L of `block` channels, Δ and e^{ΔA} per step, the two per-step sums over the head's channels, ds.
    float *states = malloc(sizeof(float) * ((length + 1) * block * n + 4 * length + block * n));
    float *deltas = states + (length + 1) * block * n, *decays = deltas + length;
    float *d_delta = decays + length, *d_decay = d_delta + length, *ds = d_decay + length;
    for (long unit = unit_begin; unit < unit_end; unit++) {
        const long b = unit / heads, h = unit % heads;
        const long b_offset = (h / per_group) * n, c_offset = groups * n + b_offset;
        float *unit_bc = partial_bc + unit * length * 2 * n;
        memset(unit_bc, 0, sizeof(float) * length * 2 * n);
        const float a = -expf(a_log[h]);
        for (long t = 0; t < length; t++) {
            const long row = b * length + t;
            deltas[t] = ssd_time_step(dt[row * dt_stride + h] + dt_bias[h], dt_min, dt_max);
            decays[t] = expf(deltas[t] * a);
            d_delta[t] = 0.0f;
            d_decay[t] = 0.0f;
        }
        float d_skip = 0.0f;
        for (long c0 = 0; c0 < head_dim; c0 += block) {
            const long channels = head_dim - c0 < block ? head_dim - c0 : block;
            memcpy(states, state + b * state_stride + (h * head_dim + c0) * n, sizeof(float) * channels * n);
            // The forward again, keeping s_t of these channels for every t.
            for (long t = 0; t < length; t++) {
                const long row = b * length + t;
                const float *bt = bc + row * bc_stride + b_offset, *xt = x + row * x_stride + h * head_dim + c0;
                const VEC delta = V_SET1(deltas[t]), decay = V_SET1(decays[t]);
                const float *previous = states + t * block * n;
                float *next = states + (t + 1) * block * n;
                for (long c = 0; c < channels; c++) {
                    const VEC xv = V_SET1(xt[c]);
                    for (long j = 0; j < whole; j += LANES) {
                        const VEC updated = V_FMADD(V_MUL(delta, V_LOADU(bt + j)), xv,
                                                    V_MUL(V_LOADU(previous + c * n + j), decay));
                        V_STOREU(next + c * n + j, updated);
                    }
                    if (tail) {
                        const VEC updated = V_FMADD(V_MUL(delta, V_LOAD_MASKED(bt + whole, tail_mask)), xv,
                                                    V_MUL(V_LOAD_MASKED(previous + c * n + whole, tail_mask), decay));
                        V_STORE_MASKED(next + c * n + whole, tail_mask, updated);
                    }
                }
            }
            memset(ds, 0, sizeof(float) * channels * n);
            for (long t = length - 1; t >= 0; t--) {
                const long row = b * length + t;
                const float *bt = bc + row * bc_stride + b_offset, *ct = bc + row * bc_stride + c_offset;
                float *dbt = unit_bc + t * 2 * n, *dct = dbt + n;
                const float *xt = x + row * x_stride + h * head_dim + c0;
                const float *dyt = dy + row * heads * head_dim + h * head_dim + c0;
                float *dxt = dx + row * dx_stride + h * head_dim + c0;
                const float *previous = states + t * block * n, *current = states + (t + 1) * block * n;
                const float delta = deltas[t];
                const VEC decay = V_SET1(decays[t]);
                VEC delta_sum = V_SET1(0.0f), decay_sum = V_SET1(0.0f);
                for (long c = 0; c < channels; c++) {
                    const float dyc = dyt[c], xc = xt[c];
                    d_skip += dyc * xc;
                    const VEC dyv = V_SET1(dyc), xv = V_SET1(xc), delta_x = V_SET1(delta * xc);
                    VEC dx_sum = V_SET1(0.0f);
                    float *dsc = ds + c * n;
                    const float *cur = current + c * n, *prev = previous + c * n;
                    for (long j = 0; j < n; j += LANES) {
                        const int full = j + LANES <= n;
                        const VEC cv = full ? V_LOADU(ct + j) : V_LOAD_MASKED(ct + j, tail_mask);
                        const VEC bv = full ? V_LOADU(bt + j) : V_LOAD_MASKED(bt + j, tail_mask);
                        const VEC dsv = V_FMADD(dyv, cv, full ? V_LOADU(dsc + j) : V_LOAD_MASKED(dsc + j, tail_mask));
                        const VEC dc_new = V_FMADD(dyv, full ? V_LOADU(cur + j) : V_LOAD_MASKED(cur + j, tail_mask),
                                                   full ? V_LOADU(dct + j) : V_LOAD_MASKED(dct + j, tail_mask));
                        const VEC db_new = V_FMADD(dsv, delta_x, full ? V_LOADU(dbt + j) : V_LOAD_MASKED(dbt + j, tail_mask));
                        const VEC sb = V_MUL(dsv, bv);
                        delta_sum = V_FMADD(sb, xv, delta_sum);
                        decay_sum = V_FMADD(dsv, full ? V_LOADU(prev + j) : V_LOAD_MASKED(prev + j, tail_mask), decay_sum);
                        dx_sum = V_ADD(dx_sum, sb);
                        if (full) {
                            V_STOREU(dct + j, dc_new);
                            V_STOREU(dbt + j, db_new);
                            V_STOREU(dsc + j, V_MUL(dsv, decay));
                        } else {
                            V_STORE_MASKED(dct + j, tail_mask, dc_new);
                            V_STORE_MASKED(dbt + j, tail_mask, db_new);
                            V_STORE_MASKED(dsc + j, tail_mask, V_MUL(dsv, decay));
                        }
                    }
                    dxt[c] = dyc * d[h] + delta * v_hsum(dx_sum);
                }
                d_delta[t] += v_hsum(delta_sum);
                d_decay[t] += v_hsum(decay_sum);
            }
            if (d_state) memcpy(d_state + b * d_state_stride + (h * head_dim + c0) * n, ds, sizeof(float) * channels * n);
        }
        float d_bias = 0.0f, d_a = 0.0f;
        for (long t = 0; t < length; t++) {
            const long row = b * length + t;
            d_a += deltas[t] * decays[t] * d_decay[t];
            // Δ = clamp(softplus(z)): the gradient passes where min <= softplus(z) <= max (torch.clamp).
            const float biased = dt[row * dt_stride + h] + dt_bias[h];
            const float softplus = biased > 20.0f ? biased : log1pf(expf(biased));
            const int passes = softplus >= dt_min && softplus <= dt_max;
            const float slope = biased > 20.0f ? 1.0f : 1.0f / (1.0f + expf(-biased));
            const float d_biased = passes ? (d_delta[t] + a * decays[t] * d_decay[t]) * slope : 0.0f;
            ddt[row * ddt_stride + h] = d_biased;
            d_bias += d_biased;
        }
        float *share = partial + unit * 3;
        share[0] = d_bias;
        share[1] = d_a;
        share[2] = d_skip;
    }
    free(states);
}
