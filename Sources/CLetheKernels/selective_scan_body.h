// The body of the vectorised selective scan, written once against the vector operations V_* that the file
// including it defines (selective_scan_avx2.c: 8 lanes of AVX2+FMA; selective_scan_avx512.c: 16 lanes of
// AVX-512F). Same algorithm, work units and polynomials as selectiveScanForward in
// Sources/LetheModel/Kernels/SelectiveScan.swift (and the functions of FastMath.swift); see that file for the
// PyTorch lines it implements.
//
// The including file defines: VEC, MASK, LANES, TARGET (a function attribute), SCAN_NAME (the entry point),
// and V_SET1(f), V_ADD, V_SUB, V_MUL, V_DIV, V_MIN, V_MAX, V_FMADD(a, b, c) = a*b+c, V_FNMADD = c-a*b,
// V_FMSUB = a*b-c, V_LOADU(p), V_STOREU(p, v), V_MASK_FIRST(lanes), V_LOAD_MASKED(p, mask),
// V_STORE_MASKED(p, mask, v), V_GT_SELECT(x, threshold, a, b) = x > threshold ? a : b per lane,
// V_POW2(shifted) = 2^n from the bits of shifted = n + 1.5·2^23.

// e^x, Cephes expf: x clamped to [-87.3, 88].
TARGET static inline VEC v_exp(VEC x) {
    x = V_MIN(V_MAX(x, V_SET1(-87.3f)), V_SET1(88.0f));
    const VEC shifter = V_SET1(12582912.0f);
    VEC shifted = V_FMADD(x, V_SET1(1.44269504f), shifter);
    VEC n = V_SUB(shifted, shifter);
    VEC r = V_FNMADD(n, V_SET1(0.693359375f), x);
    r = V_FMADD(n, V_SET1(2.12194440e-4f), r);
    VEC p = V_SET1(1.9875691500e-4f);
    p = V_FMADD(p, r, V_SET1(1.3981999507e-3f));
    p = V_FMADD(p, r, V_SET1(8.3334519073e-3f));
    p = V_FMADD(p, r, V_SET1(4.1665795894e-2f));
    p = V_FMADD(p, r, V_SET1(1.6666665459e-1f));
    p = V_FMADD(p, r, V_SET1(5.0000001201e-1f));
    VEC er = V_ADD(V_FMADD(p, V_MUL(r, r), r), V_SET1(1.0f));
    return V_MUL(er, V_POW2(shifted));
}

// 2^t for t <= 0 (fastExp2NonPositive): t < -127 gives 0.
TARGET static inline VEC v_exp2_nonpositive(VEC t) {
    t = V_MAX(t, V_SET1(-127.0f));
    const VEC shifter = V_SET1(12582912.0f);
    VEC shifted = V_ADD(t, shifter);
    VEC r = V_SUB(t, V_SUB(shifted, shifter));
    VEC p = V_SET1(1.32647e-3f);
    p = V_FMADD(p, r, V_SET1(9.67151e-3f));
    p = V_FMADD(p, r, V_SET1(5.550734e-2f));
    p = V_FMADD(p, r, V_SET1(2.4022242e-1f));
    p = V_FMADD(p, r, V_SET1(6.9314698e-1f));
    p = V_FMADD(p, r, V_SET1(1.0f));
    return V_MUL(p, V_POW2(shifted));
}

// log(1 + y) for y in [0, 1] (fastLog1p).
TARGET static inline VEC v_log1p(VEC y) {
    const VEC one = V_SET1(1.0f);
    VEC w = V_ADD(one, y);
    VEC lost = V_DIV(V_SUB(y, V_SUB(w, one)), w);
    const VEC root2 = V_SET1(1.41421356f);
    VEC e = V_GT_SELECT(w, root2, one, V_SET1(0.0f));
    VEC f = V_GT_SELECT(w, root2, V_FMSUB(w, V_SET1(0.5f), one), V_SUB(w, one));
    VEC z = V_MUL(f, f);
    VEC p = V_SET1(7.0376836e-2f);
    p = V_FMADD(p, f, V_SET1(-1.15146103e-1f));
    p = V_FMADD(p, f, V_SET1(1.16769987e-1f));
    p = V_FMADD(p, f, V_SET1(-1.24201408e-1f));
    p = V_FMADD(p, f, V_SET1(1.42493228e-1f));
    p = V_FMADD(p, f, V_SET1(-1.66680577e-1f));
    p = V_FMADD(p, f, V_SET1(2.00007148e-1f));
    p = V_FMADD(p, f, V_SET1(-2.4999994e-1f));
    p = V_FMADD(p, f, V_SET1(3.33333312e-1f));
    VEC result = V_MUL(V_MUL(p, f), z);
    result = V_FMADD(e, V_SET1(-2.1219444e-4f), result);
    result = V_FMADD(z, V_SET1(-0.5f), result);
    result = V_ADD(result, f);
    result = V_FMADD(e, V_SET1(0.693359375f), result);
    return V_ADD(result, lost);
}

// F.softplus(x): max(x, 0) + log1p(e^-|x|), x itself above 20.
TARGET static inline VEC v_softplus(VEC x) {
    const VEC zero = V_SET1(0.0f);
    VEC smooth = V_ADD(V_MAX(x, zero), v_log1p(v_exp(V_MIN(x, V_SUB(zero, x)))));
    return V_GT_SELECT(x, V_SET1(20.0f), x, smooth);
}

TARGET void SCAN_NAME(float *y, const float *u, const float *dt, const float *dt_bias, const float *bc,
                      long bc_stride, const float *a_log, const float *d, float *state, long state_stride,
                      long length, long channels, long n, long unit_begin, long unit_end) {
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
        }
        for (long j = 0; j < n; j++) {
            V_STOREU(lane, h[j]);
            for (int i = 0; i < lanes; i++) s[i * n + j] = lane[i];
        }
    }
}
