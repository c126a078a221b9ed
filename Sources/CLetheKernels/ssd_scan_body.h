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

// Channels of a head that one token's update takes together: their states' vectors share each load of Δ·B and C
// (1.4x faster than one channel at a time on the AMD EPYC, mamba2-130m's 64 × 128 states), while each channel's
// operations, and so its bits, stay those of one channel alone (the forward's; the backward regroups its sums for
// dΔ and d e^{ΔA}: see ssd_backward_channels).
#define SSD_CHANNELS LETHE_SSD_CHANNELS

// Loads and stores of LANES states, or of the first `tail` of them (tail_mask) when `full` is 0: `full` and
// `tail_mask` in scope.
#define SSD_LOAD(p) (full ? V_LOADU(p) : V_LOAD_MASKED(p, tail_mask))
#define SSD_STORE(p, v)                          \
    do {                                         \
        if (full) V_STOREU(p, v);                \
        else V_STORE_MASKED(p, tail_mask, v);    \
    } while (0)

// One token's update of states j ..< j + LANES (the first `tail` of them when not `full`) of `count` channels
// (constants where inlined) from channel row `s`: s = e^{ΔA}·s + (Δ·B)·x, and each channel's sum of s·C so far in acc.
TARGET static inline __attribute__((always_inline)) void ssd_update_states(int count, int full, MASK tail_mask, long j,
                                                                           long n, float *s, const float *bt,
                                                                           const float *ct, const VEC *xv, VEC *acc,
                                                                           VEC delta, VEC decay) {
    const VEC dbv = V_MUL(delta, SSD_LOAD(bt + j)), cv = SSD_LOAD(ct + j);
    for (int k = 0; k < count; k++) {
        float *sc = s + k * n + j;
        const VEC updated = V_FMADD(dbv, xv[k], V_MUL(SSD_LOAD(sc), decay));
        SSD_STORE(sc, updated);
        acc[k] = V_FMADD(updated, cv, acc[k]);
    }
}

// The same for every state of the channels, then y = Σ s·C + D·x per channel.
TARGET static inline __attribute__((always_inline)) void ssd_channels(int count, float *s, long n, long whole, long tail,
                                                                      MASK tail_mask, const float *bt, const float *ct,
                                                                      const float *xt, float *yt, float skip, VEC delta,
                                                                      VEC decay) {
    VEC xv[SSD_CHANNELS], acc[SSD_CHANNELS];
    for (int k = 0; k < count; k++) {
        xv[k] = V_SET1(xt[k]);
        acc[k] = V_SET1(0.0f);
    }
    for (long j = 0; j < whole; j += LANES)
        ssd_update_states(count, 1, tail_mask, j, n, s, bt, ct, xv, acc, delta, decay);
    if (tail) ssd_update_states(count, 0, tail_mask, whole, n, s, bt, ct, xv, acc, delta, decay);
    for (int k = 0; k < count; k++) yt[k] = v_hsum(acc[k]) + xt[k] * skip;
}

// Units [unit_begin, unit_end) of (sequence, head): unit = b * heads + h.
TARGET void SSD_SCAN_NAME(float *y, const float *x, long x_stride, const float *dt, long dt_stride,
                          const float *dt_bias, const float *a_log, const float *bc, long bc_stride, const float *d,
                          float *state, long state_stride, long length, long heads, long head_dim, long groups,
                          long n, float dt_min, float dt_max, long unit_begin, long unit_end) {
    const long per_group = heads / groups, tail = n % LANES, whole = n - tail;
    const long grouped = head_dim - head_dim % SSD_CHANNELS;
    const MASK tail_mask = V_MASK_FIRST(tail == 0 ? 1 : tail);
    for (long unit = unit_begin; unit < unit_end; unit++) {
        const long b = unit / heads, h = unit % heads;
        const float a = -expf(a_log[h]);
        float *s = state + b * state_stride + h * head_dim * n;
        const long b_offset = (h / per_group) * n, c_offset = groups * n + b_offset;
        for (long t = 0; t < length; t++) {
            const long row = b * length + t;
            const float delta = ssd_time_step(dt[row * dt_stride + h] + dt_bias[h], dt_min, dt_max);
            const VEC delta_v = V_SET1(delta), decay = V_SET1(expf(delta * a));
            const float *bt = bc + row * bc_stride + b_offset, *ct = bc + row * bc_stride + c_offset;
            const float *xt = x + row * x_stride + h * head_dim;
            float *yt = y + row * heads * head_dim + h * head_dim;
            for (long c = 0; c < grouped; c += SSD_CHANNELS)
                ssd_channels(SSD_CHANNELS, s + c * n, n, whole, tail, tail_mask, bt, ct, xt + c, yt + c, d[h], delta_v,
                             decay);
            for (long c = grouped; c < head_dim; c++)
                ssd_channels(1, s + c * n, n, whole, tail, tail_mask, bt, ct, xt + c, yt + c, d[h], delta_v, decay);
        }
    }
}

// What the backward pass sums for one channel of a token: its dy and Δ·x (broadcast), and the sums over its states
// of ds·B (for dx, and times x for dΔ) and of ds·s_{t-1} (for d e^{ΔA}).
typedef struct {
    VEC dy, delta_x, dx_sum, decay_sum;
} ssd_channel_sums;

// s_t = e^{ΔA}·s_{t-1} + (Δ·B)·x for states j ..< j + LANES (the first `tail` of them when not `full`) of `count`
// channels (constants where inlined), rows n floats apart from `previous` to `next`.
TARGET static inline __attribute__((always_inline)) void ssd_recompute_states(int count, int full, MASK tail_mask,
                                                                              long j, long n, const float *bt,
                                                                              const VEC *xv, VEC delta, VEC decay,
                                                                              const float *previous, float *next) {
    const VEC dbv = V_MUL(delta, SSD_LOAD(bt + j));
    for (int k = 0; k < count; k++)
        SSD_STORE(next + k * n + j, V_FMADD(dbv, xv[k], V_MUL(SSD_LOAD(previous + k * n + j), decay)));
}

// The same for every state of channels c ..< c + count.
TARGET static inline __attribute__((always_inline)) void ssd_recompute_channels(int count, long c, long n, long whole,
                                                                                long tail, MASK tail_mask,
                                                                                const float *bt, const float *xt,
                                                                                VEC delta, VEC decay,
                                                                                const float *previous, float *next) {
    VEC xv[SSD_CHANNELS];
    for (int k = 0; k < count; k++) xv[k] = V_SET1(xt[c + k]);
    for (long j = 0; j < whole; j += LANES)
        ssd_recompute_states(count, 1, tail_mask, j, n, bt, xv, delta, decay, previous + c * n, next + c * n);
    if (tail) ssd_recompute_states(count, 0, tail_mask, whole, n, bt, xv, delta, decay, previous + c * n, next + c * n);
}

// One step back through states j ..< j + LANES (the first `tail` of them when not `full`) of `count` channels
// (constants where inlined) of token t: ds += dy ⊗ C, dC += dy·s_t and dB += ds·Δx summed over the channels in order
// (kept in registers across them), the channels' sums, and ds ← e^{ΔA}·ds. Rows of ds, s_t (`current`) and s_{t-1}
// (`previous`) are n floats apart.
TARGET static inline __attribute__((always_inline)) void ssd_backward_states(int count, int full, MASK tail_mask,
                                                                             long j, long n, ssd_channel_sums *sums,
                                                                             const float *bt, const float *ct,
                                                                             float *dbt, float *dct, float *ds,
                                                                             const float *current,
                                                                             const float *previous, VEC decay) {
    const VEC cv = SSD_LOAD(ct + j), bv = SSD_LOAD(bt + j);
    VEC dc = SSD_LOAD(dct + j), db = SSD_LOAD(dbt + j);
    for (int k = 0; k < count; k++) {
        ssd_channel_sums *ch = sums + k;
        float *dsk = ds + k * n + j;
        const VEC dsv = V_FMADD(ch->dy, cv, SSD_LOAD(dsk));
        dc = V_FMADD(ch->dy, SSD_LOAD(current + k * n + j), dc);
        db = V_FMADD(dsv, ch->delta_x, db);
        ch->decay_sum = V_FMADD(dsv, SSD_LOAD(previous + k * n + j), ch->decay_sum);
        ch->dx_sum = V_ADD(ch->dx_sum, V_MUL(dsv, bv));
        SSD_STORE(dsk, V_MUL(dsv, decay));
    }
    SSD_STORE(dct + j, dc);
    SSD_STORE(dbt + j, db);
}

// One step back through every state of channels c ..< c + count (count a constant where inlined) of token t, and
// their dx. Σ ds·B·x, dΔ's first sum, is x times the channel's Σ ds·B, which dx takes too: added to `delta_sum`
// channel by channel. The sums of ds·s_{t-1} go on in the accumulators of the channels' places in a group
// (sums_decay[k]; the channels left over, one at a time, in the first): SSD_CHANNELS chains of FMAs instead of one
// through every channel of the block.
TARGET static inline __attribute__((always_inline)) void ssd_backward_channels(
    int count, long c, long n, long whole, long tail, MASK tail_mask, const float *bt, const float *ct, float *dbt,
    float *dct, float *ds, const float *current, const float *previous, const float *xt, const float *dyt, float *dxt,
    float delta, VEC decay, float skip, float *d_skip, float *delta_sum, VEC *sums_decay) {
    ssd_channel_sums sums[SSD_CHANNELS];
    for (int k = 0; k < count; k++) {
        const float dyc = dyt[c + k], xc = xt[c + k];
        *d_skip += dyc * xc;
        sums[k] = (ssd_channel_sums){V_SET1(dyc), V_SET1(delta * xc), V_SET1(0.0f), sums_decay[k]};
    }
    float *ds_c = ds + c * n;
    const float *current_c = current + c * n, *previous_c = previous + c * n;
    for (long j = 0; j < whole; j += LANES)
        ssd_backward_states(count, 1, tail_mask, j, n, sums, bt, ct, dbt, dct, ds_c, current_c, previous_c, decay);
    if (tail) ssd_backward_states(count, 0, tail_mask, whole, n, sums, bt, ct, dbt, dct, ds_c, current_c, previous_c, decay);
    for (int k = 0; k < count; k++) {
        const float ds_b = v_hsum(sums[k].dx_sum);
        dxt[c + k] = dyt[c + k] * skip + delta * ds_b;
        *delta_sum += xt[c + k] * ds_b;
        sums_decay[k] = sums[k].decay_sum;
    }
}

// Units [unit_begin, unit_end) of (sequence, head): unit = b * heads + h. Each writes its head's dx, ddt and (when
// d_state is not NULL) d_state, its share of its group's B and C gradients to partial_bc + unit * length * 2n
// (row t: dB then dC), and its (dDtBias, dA, dD) to partial + unit * 3. The states of the head are recomputed
// `block` channels at a time, so that those of every step stay in cache; within a block, SSD_CHANNELS channels
// at a time share each load of B, C, dB and dC.
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
            const long grouped = channels - channels % SSD_CHANNELS;
            memcpy(states, state + b * state_stride + (h * head_dim + c0) * n, sizeof(float) * channels * n);
            // The forward again, keeping s_t of these channels for every t.
            for (long t = 0; t < length; t++) {
                const long row = b * length + t;
                const float *bt = bc + row * bc_stride + b_offset, *xt = x + row * x_stride + h * head_dim + c0;
                const VEC delta = V_SET1(deltas[t]), decay = V_SET1(decays[t]);
                const float *previous = states + t * block * n;
                float *next = states + (t + 1) * block * n;
                for (long c = 0; c < grouped; c += SSD_CHANNELS)
                    ssd_recompute_channels(SSD_CHANNELS, c, n, whole, tail, tail_mask, bt, xt, delta, decay, previous, next);
                for (long c = grouped; c < channels; c++)
                    ssd_recompute_channels(1, c, n, whole, tail, tail_mask, bt, xt, delta, decay, previous, next);
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
                const VEC decay = V_SET1(decays[t]);
                float delta_sum = 0.0f;
                VEC sums_decay[SSD_CHANNELS];
                for (int k = 0; k < SSD_CHANNELS; k++) sums_decay[k] = V_SET1(0.0f);
                for (long c = 0; c < grouped; c += SSD_CHANNELS)
                    ssd_backward_channels(SSD_CHANNELS, c, n, whole, tail, tail_mask, bt, ct, dbt, dct, ds, current,
                                          previous, xt, dyt, dxt, deltas[t], decay, d[h], &d_skip, &delta_sum, sums_decay);
                for (long c = grouped; c < channels; c++)
                    ssd_backward_channels(1, c, n, whole, tail, tail_mask, bt, ct, dbt, dct, ds, current, previous, xt,
                                          dyt, dxt, deltas[t], decay, d[h], &d_skip, &delta_sum, sums_decay);
                VEC decay_sum = sums_decay[0];
                for (int k = 1; k < SSD_CHANNELS; k++) decay_sum = V_ADD(decay_sum, sums_decay[k]);
                d_delta[t] += delta_sum;
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
