// AVX2+FMA selective scan: the same algorithm, work units and polynomials as selectiveScanForward in
// Sources/LetheModel/Kernels/SelectiveScan.swift (8 channels per vector, Δ's softplus, exp and the update
// fused), with 256-bit vectors and fused multiply-adds. See that file for the PyTorch lines it implements.
#include "lethe_kernels.h"

#include <stdlib.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#define AVX2 __attribute__((target("avx2,fma")))

// e^x, Cephes expf (as fastExp in FastMath.swift): x clamped to [-87.3, 88].
AVX2 static inline __m256 exp8(__m256 x) {
    x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.3f)), _mm256_set1_ps(88.0f));
    const __m256 shifter = _mm256_set1_ps(12582912.0f);
    __m256 shifted = _mm256_fmadd_ps(x, _mm256_set1_ps(1.44269504f), shifter);
    __m256 n = _mm256_sub_ps(shifted, shifter);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fmadd_ps(n, _mm256_set1_ps(2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    __m256 er = _mm256_add_ps(_mm256_fmadd_ps(p, _mm256_mul_ps(r, r), r), _mm256_set1_ps(1.0f));
    __m256i bits = _mm256_sub_epi32(_mm256_castps_si256(shifted), _mm256_set1_epi32(0x4B400000 - 127));
    return _mm256_mul_ps(er, _mm256_castsi256_ps(_mm256_slli_epi32(bits, 23)));
}

// 2^t for t <= 0 (as fastExp2NonPositive): t < -127 gives 0.
AVX2 static inline __m256 exp2_nonpositive8(__m256 t) {
    t = _mm256_max_ps(t, _mm256_set1_ps(-127.0f));
    const __m256 shifter = _mm256_set1_ps(12582912.0f);
    __m256 shifted = _mm256_add_ps(t, shifter);
    __m256 r = _mm256_sub_ps(t, _mm256_sub_ps(shifted, shifter));
    __m256 p = _mm256_set1_ps(1.32647e-3f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(9.67151e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.550734e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(2.4022242e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(6.9314698e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    __m256i bits = _mm256_sub_epi32(_mm256_castps_si256(shifted), _mm256_set1_epi32(0x4B400000 - 127));
    return _mm256_mul_ps(p, _mm256_castsi256_ps(_mm256_slli_epi32(bits, 23)));
}

// log(1 + y) for y in [0, 1] (as fastLog1p).
AVX2 static inline __m256 log1p8(__m256 y) {
    const __m256 one = _mm256_set1_ps(1.0f);
    __m256 w = _mm256_add_ps(one, y);
    __m256 lost = _mm256_div_ps(_mm256_sub_ps(y, _mm256_sub_ps(w, one)), w);
    __m256 high = _mm256_cmp_ps(w, _mm256_set1_ps(1.41421356f), _CMP_GT_OQ);
    __m256 e = _mm256_and_ps(high, one);
    __m256 f = _mm256_blendv_ps(_mm256_sub_ps(w, one), _mm256_fmsub_ps(w, _mm256_set1_ps(0.5f), one), high);
    __m256 z = _mm256_mul_ps(f, f);
    __m256 p = _mm256_set1_ps(7.0376836e-2f);
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(-1.15146103e-1f));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(1.16769987e-1f));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(-1.24201408e-1f));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(1.42493228e-1f));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(-1.66680577e-1f));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(2.00007148e-1f));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(-2.4999994e-1f));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(3.33333312e-1f));
    __m256 result = _mm256_mul_ps(_mm256_mul_ps(p, f), z);
    result = _mm256_fmadd_ps(e, _mm256_set1_ps(-2.1219444e-4f), result);
    result = _mm256_fmadd_ps(z, _mm256_set1_ps(-0.5f), result);
    result = _mm256_add_ps(result, f);
    result = _mm256_fmadd_ps(e, _mm256_set1_ps(0.693359375f), result);
    return _mm256_add_ps(result, lost);
}

// F.softplus(x): max(x, 0) + log1p(e^-|x|), x itself above 20.
AVX2 static inline __m256 softplus8(__m256 x) {
    __m256 minus_abs = _mm256_min_ps(x, _mm256_sub_ps(_mm256_setzero_ps(), x));
    __m256 smooth = _mm256_add_ps(_mm256_max_ps(x, _mm256_setzero_ps()), log1p8(exp8(minus_abs)));
    return _mm256_blendv_ps(smooth, x, _mm256_cmp_ps(x, _mm256_set1_ps(20.0f), _CMP_GT_OQ));
}

AVX2 static void scan(float *y, const float *u, const float *dt, const float *dt_bias, const float *bc,
                      long bc_stride, const float *a_log, const float *d, float *state, long state_stride,
                      long length, long channels, long n, long unit_begin, long unit_end) {
    const long blocks = (channels + 7) / 8;
    __m256 a[n], h[n];  // A·log2(e) and the state of one unit's 8 channels, per state index
    float lane[8];
    for (long unit = unit_begin; unit < unit_end; unit++) {
        const long b = unit / blocks, c0 = (unit % blocks) * 8;
        const int lanes = channels - c0 < 8 ? (int)(channels - c0) : 8;
        const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(lanes), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
        float *s = state + b * state_stride + c0 * n;
        for (long j = 0; j < n; j++) {
            for (int i = 0; i < 8; i++) lane[i] = i < lanes ? a_log[(c0 + i) * n + j] : 0.0f;
            a[j] = _mm256_mul_ps(exp8(_mm256_loadu_ps(lane)), _mm256_set1_ps(-1.44269504f));
            for (int i = 0; i < 8; i++) lane[i] = i < lanes ? s[i * n + j] : 0.0f;
            h[j] = _mm256_loadu_ps(lane);
        }
        const __m256 bias = _mm256_maskload_ps(dt_bias + c0, mask), skip = _mm256_maskload_ps(d + c0, mask);
        for (long t = 0; t < length; t++) {
            const long m = b * length + t;
            const __m256 delta = softplus8(_mm256_add_ps(_mm256_maskload_ps(dt + m * channels + c0, mask), bias));
            const __m256 x = _mm256_maskload_ps(u + m * channels + c0, mask);
            const __m256 delta_x = _mm256_mul_ps(delta, x);
            const float *b_row = bc + m * bc_stride, *c_row = b_row + n;
            __m256 out = _mm256_mul_ps(skip, x);
            for (long j = 0; j < n; j++) {
                __m256 hj = _mm256_fmadd_ps(exp2_nonpositive8(_mm256_mul_ps(delta, a[j])), h[j],
                                            _mm256_mul_ps(delta_x, _mm256_set1_ps(b_row[j])));
                h[j] = hj;
                out = _mm256_fmadd_ps(hj, _mm256_set1_ps(c_row[j]), out);
            }
            _mm256_maskstore_ps(y + m * channels + c0, mask, out);
        }
        for (long j = 0; j < n; j++) {
            _mm256_storeu_ps(lane, h[j]);
            for (int i = 0; i < lanes; i++) s[i * n + j] = lane[i];
        }
    }
}

int lethe_avx2_available(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

void lethe_selective_scan_avx2(float *y, const float *u, const float *dt, const float *dt_bias, const float *bc,
                               long bc_stride, const float *a_log, const float *d, float *state, long state_stride,
                               long length, long channels, long state_size, long unit_begin, long unit_end) {
    scan(y, u, dt, dt_bias, bc, bc_stride, a_log, d, state, state_stride, length, channels, state_size, unit_begin,
         unit_end);
}


// The scan's backward: as selectiveScanBackward's Swift path in SelectiveScan.swift (same work units, same
// order of every sum), with 256-bit vectors and fused multiply-adds. Each 8-channel group recomputes its states
// for one sequence, keeping them and exp(Δ·A), then runs backwards in time; dB and dC, sums over channels, gather
// in one vector per (t, n) for the whole unit and are reduced across lanes once per unit and sequence.
AVX2 static inline float hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

AVX2 static inline __m256 gather8(const float *p, long stride, int lanes) {
    float lane[8];
    for (int i = 0; i < 8; i++) lane[i] = i < lanes ? p[i * stride] : 0.0f;
    return _mm256_loadu_ps(lane);
}

AVX2 static inline void scatter8(__m256 v, float *p, long stride, int lanes) {
    float lane[8];
    _mm256_storeu_ps(lane, v);
    for (int i = 0; i < lanes; i++) p[i * stride] = lane[i];
}

AVX2 static void scan_backward(float *du, float *ddt, float *partial_bc, float *ddt_bias, float *da_log, float *dd,
                               float *d_state, long d_state_stride, const float *dy, const float *u, const float *dt,
                               const float *dt_bias, const float *bc, long bc_stride, const float *a_log,
                               const float *d, const float *state, long state_stride, long batch, long length,
                               long channels, long n, long unit_channels, long unit_begin, long unit_end) {
    const long groups_per_unit = unit_channels / 8, rows = batch * length;
    // Per group: h_t and exp(Δ_t·A) (length, n), Δ_t (length); per unit: dB | dC lanes (length, 2n); per group
    // of the unit: A, A·log2(e), dA (n each), and d(bias), dD.
    __m256 *states = aligned_alloc(32, sizeof(__m256) * (size_t)(2 * length * n + length + 2 * length * n
                                                               + groups_per_unit * (3 * n + 2)));
    __m256 *decays = states + length * n, *deltas = decays + length * n, *acc = deltas + length;
    __m256 *a = acc + 2 * length * n, *a2 = a + groups_per_unit * n, *da = a2 + groups_per_unit * n;
    __m256 *dbias = da + groups_per_unit * n, *dskip = dbias + groups_per_unit;
    __m256 g[n];
    for (long unit = unit_begin; unit < unit_end; unit++) {
        const long u0 = unit * unit_channels, u1 = u0 + unit_channels < channels ? u0 + unit_channels : channels;
        const long groups = (u1 - u0 + 7) / 8;
        float *partial = partial_bc + unit * rows * 2 * n;
        for (long k = 0; k < groups; k++) {
            const long c0 = u0 + 8 * k;
            const int lanes = channels - c0 < 8 ? (int)(channels - c0) : 8;
            for (long j = 0; j < n; j++) {
                a[k * n + j] = _mm256_sub_ps(_mm256_setzero_ps(), exp8(gather8(a_log + c0 * n + j, n, lanes)));
                a2[k * n + j] = _mm256_mul_ps(a[k * n + j], _mm256_set1_ps(1.44269504f));
                da[k * n + j] = _mm256_setzero_ps();
            }
            dbias[k] = _mm256_setzero_ps();
            dskip[k] = _mm256_setzero_ps();
        }
        for (long b = 0; b < batch; b++) {
            for (long i = 0; i < 2 * length * n; i++) acc[i] = _mm256_setzero_ps();
            for (long k = 0; k < groups; k++) {
                const long c0 = u0 + 8 * k;
                const int lanes = channels - c0 < 8 ? (int)(channels - c0) : 8;
                const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(lanes), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
                const __m256 *ak = a + k * n, *a2k = a2 + k * n;
                const float *initial = state + b * state_stride + c0 * n;
                const __m256 bias = _mm256_maskload_ps(dt_bias + c0, mask), skip = _mm256_maskload_ps(d + c0, mask);
                // Forward, as the forward kernel computes it, keeping every state.
                for (long j = 0; j < n; j++) g[j] = gather8(initial + j, n, lanes);
                for (long t = 0; t < length; t++) {
                    const long m = b * length + t;
                    const __m256 delta = softplus8(_mm256_add_ps(_mm256_maskload_ps(dt + m * channels + c0, mask), bias));
                    const __m256 delta_x = _mm256_mul_ps(delta, _mm256_maskload_ps(u + m * channels + c0, mask));
                    const float *b_row = bc + m * bc_stride;
                    for (long j = 0; j < n; j++) {
                        const __m256 decay = exp2_nonpositive8(_mm256_mul_ps(delta, a2k[j]));
                        g[j] = _mm256_fmadd_ps(decay, g[j], _mm256_mul_ps(delta_x, _mm256_set1_ps(b_row[j])));
                        states[t * n + j] = g[j];
                        decays[t * n + j] = decay;
                    }
                    deltas[t] = delta;
                }
                // Backwards in time; g becomes dL/dh_t.
                for (long j = 0; j < n; j++) g[j] = _mm256_setzero_ps();
                for (long t = length - 1; t >= 0; t--) {
                    const long m = b * length + t;
                    const __m256 dyt = _mm256_maskload_ps(dy + m * channels + c0, mask);
                    const __m256 x = _mm256_maskload_ps(u + m * channels + c0, mask);
                    const __m256 delta = deltas[t], delta_x = _mm256_mul_ps(delta, x);
                    const float *b_row = bc + m * bc_stride, *c_row = b_row + n;
                    dskip[k] = _mm256_fmadd_ps(dyt, x, dskip[k]);
                    __m256 dut = _mm256_mul_ps(dyt, skip), d_delta = _mm256_setzero_ps();
                    for (long j = 0; j < n; j++) {
                        const __m256 previous = t > 0 ? states[(t - 1) * n + j] : gather8(initial + j, n, lanes);
                        const __m256 b_j = _mm256_set1_ps(b_row[j]);
                        const __m256 gj = _mm256_fmadd_ps(dyt, _mm256_set1_ps(c_row[j]), g[j]);
                        acc[(t * 2 + 1) * n + j] = _mm256_fmadd_ps(dyt, states[t * n + j], acc[(t * 2 + 1) * n + j]);
                        const __m256 d_exponent = _mm256_mul_ps(_mm256_mul_ps(gj, previous), decays[t * n + j]);
                        d_delta = _mm256_fmadd_ps(d_exponent, ak[j], d_delta);
                        d_delta = _mm256_fmadd_ps(gj, _mm256_mul_ps(b_j, x), d_delta);
                        da[k * n + j] = _mm256_fmadd_ps(d_exponent, delta, da[k * n + j]);
                        acc[t * 2 * n + j] = _mm256_fmadd_ps(gj, delta_x, acc[t * 2 * n + j]);
                        dut = _mm256_fmadd_ps(gj, _mm256_mul_ps(delta, b_j), dut);
                        g[j] = _mm256_mul_ps(gj, decays[t * n + j]);
                    }
                    _mm256_maskstore_ps(du + m * channels + c0, mask, dut);
                    // softplus'(x) = sigmoid(x)
                    const __m256 pre = _mm256_add_ps(_mm256_maskload_ps(dt + m * channels + c0, mask), bias);
                    const __m256 sig = _mm256_div_ps(_mm256_set1_ps(1.0f),
                        _mm256_add_ps(_mm256_set1_ps(1.0f), exp8(_mm256_sub_ps(_mm256_setzero_ps(), pre))));
                    const __m256 d_pre = _mm256_mul_ps(d_delta, sig);
                    _mm256_maskstore_ps(ddt + m * channels + c0, mask, d_pre);
                    dbias[k] = _mm256_add_ps(dbias[k], d_pre);
                }
                if (d_state)
                    for (long j = 0; j < n; j++) scatter8(g[j], d_state + b * d_state_stride + c0 * n + j, n, lanes);
            }
            for (long t = 0; t < length; t++)
                for (long j = 0; j < 2 * n; j++) partial[(b * length + t) * 2 * n + j] = hsum8(acc[t * 2 * n + j]);
        }
        for (long k = 0; k < groups; k++) {
            const long c0 = u0 + 8 * k;
            const int lanes = channels - c0 < 8 ? (int)(channels - c0) : 8;
            const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(lanes), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
            _mm256_maskstore_ps(ddt_bias + c0, mask, _mm256_add_ps(_mm256_maskload_ps(ddt_bias + c0, mask), dbias[k]));
            _mm256_maskstore_ps(dd + c0, mask, _mm256_add_ps(_mm256_maskload_ps(dd + c0, mask), dskip[k]));
            for (long j = 0; j < n; j++) {
                // dA_log = dA · A
                const __m256 grad = _mm256_mul_ps(da[k * n + j], a[k * n + j]);
                scatter8(_mm256_add_ps(gather8(da_log + c0 * n + j, n, lanes), grad), da_log + c0 * n + j, n, lanes);
            }
        }
    }
    free(states);
}

void lethe_selective_scan_backward_avx2(float *du, float *ddt, float *partial_bc, float *ddt_bias, float *da_log,
                                        float *dd, float *d_state, long d_state_stride, const float *dy,
                                        const float *u, const float *dt, const float *dt_bias, const float *bc,
                                        long bc_stride, const float *a_log, const float *d, const float *state,
                                        long state_stride, long batch, long length, long channels, long state_size,
                                        long unit_channels, long unit_begin, long unit_end) {
    scan_backward(du, ddt, partial_bc, ddt_bias, da_log, dd, d_state, d_state_stride, dy, u, dt, dt_bias, bc,
                  bc_stride, a_log, d, state, state_stride, batch, length, channels, state_size, unit_channels,
                  unit_begin, unit_end);
}

#else

int lethe_avx2_available(void) { return 0; }

void lethe_selective_scan_avx2(float *y, const float *u, const float *dt, const float *dt_bias, const float *bc,
                               long bc_stride, const float *a_log, const float *d, float *state, long state_stride,
                               long length, long channels, long state_size, long unit_begin, long unit_end) {
    (void)y; (void)u; (void)dt; (void)dt_bias; (void)bc; (void)bc_stride; (void)a_log; (void)d; (void)state;
    (void)state_stride; (void)length; (void)channels; (void)state_size; (void)unit_begin; (void)unit_end;
}

void lethe_selective_scan_backward_avx2(float *du, float *ddt, float *partial_bc, float *ddt_bias, float *da_log,
                                        float *dd, float *d_state, long d_state_stride, const float *dy,
                                        const float *u, const float *dt, const float *dt_bias, const float *bc,
                                        long bc_stride, const float *a_log, const float *d, const float *state,
                                        long state_stride, long batch, long length, long channels, long state_size,
                                        long unit_channels, long unit_begin, long unit_end) {
    (void)du; (void)ddt; (void)partial_bc; (void)ddt_bias; (void)da_log; (void)dd; (void)d_state;
    (void)d_state_stride; (void)dy; (void)u; (void)dt; (void)dt_bias; (void)bc; (void)bc_stride; (void)a_log;
    (void)d; (void)state; (void)state_stride; (void)batch; (void)length; (void)channels; (void)state_size;
    (void)unit_channels; (void)unit_begin; (void)unit_end;
}

#endif
