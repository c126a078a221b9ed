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

// Tokens ahead that the scan prefetches its rows (the backward kernel's distance; the forward prefetches a tile).
#define SCAN_PREFETCH 6

// Tokens a unit takes in three passes: Δ = softplus(dt + bias) and Δ·x; then the recurrence; then the output and
// its gate. Softplus and SiLU are long chains of dependent operations: in passes of their own the CPU runs the
// chains of successive tokens side by side, which it could not beside the recurrence's 16 · 14 operations a token
// (more than its reorder window). Per element the operations are the same, so the bits are.
#define SCAN_TILE 16

// The rows of the tile that comes next, asked for in this tile's first pass (a token's rows per token) so that
// they arrive while its recurrence runs: row i of array k at first[k] + i * stride[k]. A unit's rows are a row of
// the batch apart, too far for the hardware prefetchers. (Asking during the recurrence, or for z and the gate
// during the gate's pass, measured slower.)
typedef struct {
    const float *first[5];
    long stride[5];
    int arrays;
    long tokens;
} scan_next_rows;

TARGET static inline void scan_prefetch(const scan_next_rows *next, long i) {
    if (i >= next->tokens) return;
    for (int k = 0; k < next->arrays; k++) __builtin_prefetch(next->first[k] + i * next->stride[k]);
}

// One state of one token: h = 2^(Δ·A·log2 e)·h + Δ·x·B; returns out + h·C.
TARGET static inline VEC scan_state_update(VEC *h, VEC a, VEC delta, VEC delta_x, float b, float c, VEC out) {
    *h = V_FMADD(v_exp2_nonpositive(V_MUL(delta, a)), *h, V_MUL(delta_x, V_SET1(b)));
    return V_FMADD(*h, V_SET1(c), out);
}

// The recurrence over `count` tokens of one unit (rows of B and C `bc_stride` floats apart from `b_row`), adding
// to `out`.
TARGET static void scan_recurrence(long n, long count, const VEC *a, VEC *h, const VEC *delta, const VEC *delta_x,
                                   VEC *out, const float *b_row, long bc_stride) {
    for (long i = 0; i < count; i++, b_row += bc_stride) {
        VEC o = out[i];
        for (long j = 0; j < n; j++) o = scan_state_update(&h[j], a[j], delta[i], delta_x[i], b_row[j], b_row[n + j], o);
        out[i] = o;
    }
}

// The same for 16 states (every Mamba-1 checkpoint), the loop over them unrolled: the states in registers with
// AVX-512's 32 (AVX2's 16 spill some).
TARGET static void scan_recurrence_16(long count, const VEC *a, VEC *state, const VEC *delta, const VEC *delta_x,
                                      VEC *out, const float *b_row, long bc_stride) {
    VEC h[16];
    for (int j = 0; j < 16; j++) h[j] = state[j];
    for (long i = 0; i < count; i++, b_row += bc_stride) {
        VEC o = out[i];
#pragma clang loop unroll(full)
        for (int j = 0; j < 16; j++)
            o = scan_state_update(&h[j], a[j], delta[i], delta_x[i], b_row[j], b_row[16 + j], o);
        out[i] = o;
    }
    for (int j = 0; j < 16; j++) state[j] = h[j];
}

// Loads and stores of a unit's row, with `lanes` and `mask` in scope: masked only for a last partial block (they
// are slow on some CPUs). The backward kernel's body uses them too.
#define SCAN_LOAD(p) (lanes == LANES ? V_LOADU(p) : V_LOAD_MASKED(p, mask))
#define SCAN_STORE(p, v)                      \
    do {                                      \
        if (lanes == LANES) V_STOREU(p, v);   \
        else V_STORE_MASKED(p, mask, v);      \
    } while (0)

TARGET LETHE_SELECTIVE_SCAN(SCAN_NAME) {
    const long n = state_size;
    const long blocks = (channels + LANES - 1) / LANES;
    VEC a[n], h[n];  // A·log2(e) and the state of one unit's channels, per state index
    VEC delta[SCAN_TILE], delta_x[SCAN_TILE], out[SCAN_TILE];
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
        for (long t0 = 0; t0 < length; t0 += SCAN_TILE) {
            const long count = length - t0 < SCAN_TILE ? length - t0 : SCAN_TILE, m0 = b * length + t0;
            // The next tile: this unit's, else the first of the next unit.
            const long next_t0 = t0 + SCAN_TILE < length ? t0 + SCAN_TILE : 0;
            const long next_unit = next_t0 > 0 ? unit : unit + 1;
            scan_next_rows next = {.arrays = 0, .tokens = 0};
            if (next_unit < unit_end) {
                const long next_m = (next_unit / blocks) * length + next_t0, next_c = (next_unit % blocks) * LANES;
                next.tokens = length - next_t0 < SCAN_TILE ? length - next_t0 : SCAN_TILE;
                const float *rows[5] = {dt, u, y, z, gated};
                const long strides[5] = {channels, channels, channels, z_stride, channels};
                for (int k = 0; k < 5; k++) {
                    if (!rows[k]) continue;
                    next.first[next.arrays] = rows[k] + next_m * strides[k] + next_c;
                    next.stride[next.arrays++] = strides[k];
                }
            }
            for (long i = 0; i < count; i++) {
                const long m = m0 + i;
                scan_prefetch(&next, i);
                delta[i] = v_softplus(V_ADD(SCAN_LOAD(dt + m * channels + c0), bias));
                const VEC x = SCAN_LOAD(u + m * channels + c0);
                delta_x[i] = V_MUL(delta[i], x);
                out[i] = V_MUL(skip, x);
            }
            if (n == 16) scan_recurrence_16(count, a, h, delta, delta_x, out, bc + m0 * bc_stride, bc_stride);
            else scan_recurrence(n, count, a, h, delta, delta_x, out, bc + m0 * bc_stride, bc_stride);
            for (long i = 0; i < count; i++) {
                const long m = m0 + i;
                if (y) SCAN_STORE(y + m * channels + c0, out[i]);
                // scan_output * F.silu(z): gateForward's operations.
                if (gated)
                    SCAN_STORE(gated + m * channels + c0, V_MUL(out[i], v_silu_unfused(SCAN_LOAD(z + m * z_stride + c0))));
            }
        }
        for (long j = 0; j < n; j++) {
            V_STOREU(lane, h[j]);
            for (int i = 0; i < lanes; i++) s[i * n + j] = lane[i];
        }
    }
}
