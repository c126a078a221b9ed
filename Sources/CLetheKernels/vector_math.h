// Elementary functions on vectors, written once against the vector operations V_* of the including file
// (kernels_avx2.c, kernels_avx512.c; see selective_scan_body.h for the list, plus V_POW2(shifted) = 2^n from the
// bits of shifted = n + 1.5·2^23, and optionally V_ROUND_NEAREST(t) and V_SCALE_WHERE_ABOVE_MINUS_127(p, n) =
// n > -127 ? p·2^n : 0). The same polynomials as FastMath.swift's Swift SIMD functions.

// e^x, Cephes expf: x clamped to [-87.3, 88]. Written once for two ways of multiplying and adding: MADD(a, b, c)
// = a*b+c and NMADD(a, b, c) = c-a*b, fused (v_exp) or a rounded product then a sum (v_exp_unfused: FastMath.swift's
// fastExp operation for operation, so that a C kernel using it gives the Swift kernel's bits).
#define LETHE_DEFINE_EXP(name, MADD, NMADD)                                   \
    TARGET static inline VEC name(VEC x) {                                    \
        x = V_MIN(V_MAX(x, V_SET1(-87.3f)), V_SET1(88.0f));                   \
        const VEC shifter = V_SET1(12582912.0f);                              \
        VEC shifted = MADD(x, V_SET1(1.44269504f), shifter);                  \
        VEC n = V_SUB(shifted, shifter);                                      \
        VEC r = NMADD(n, V_SET1(0.693359375f), x);                            \
        r = MADD(n, V_SET1(2.12194440e-4f), r);                               \
        VEC p = V_SET1(1.9875691500e-4f);                                     \
        p = MADD(p, r, V_SET1(1.3981999507e-3f));                             \
        p = MADD(p, r, V_SET1(8.3334519073e-3f));                             \
        p = MADD(p, r, V_SET1(4.1665795894e-2f));                             \
        p = MADD(p, r, V_SET1(1.6666665459e-1f));                             \
        p = MADD(p, r, V_SET1(5.0000001201e-1f));                             \
        VEC er = V_ADD(MADD(p, V_MUL(r, r), r), V_SET1(1.0f));                \
        return V_MUL(er, V_POW2(shifted));                                    \
    }
#define V_MUL_ADD(a, b, c) V_ADD(V_MUL(a, b), c)
#define V_MUL_SUB_FROM(a, b, c) V_SUB(c, V_MUL(a, b))
LETHE_DEFINE_EXP(v_exp, V_FMADD, V_FNMADD)
LETHE_DEFINE_EXP(v_exp_unfused, V_MUL_ADD, V_MUL_SUB_FROM)

// F.silu(x) = x / (1 + e^-x), as SiLU.swift's silu computes it (operation for operation: the same bits).
TARGET static inline VEC v_silu_unfused(VEC x) {
    return V_DIV(x, V_ADD(V_SET1(1.0f), v_exp_unfused(V_SUB(V_SET1(0.0f), x))));
}

// 2^r for r in [-1/2, 1/2]: the polynomial of fastExp2NonPositive.
TARGET static inline VEC v_exp2_fraction(VEC r) {
    VEC p = V_SET1(1.32647e-3f);
    p = V_FMADD(p, r, V_SET1(9.67151e-3f));
    p = V_FMADD(p, r, V_SET1(5.550734e-2f));
    p = V_FMADD(p, r, V_SET1(2.4022242e-1f));
    p = V_FMADD(p, r, V_SET1(6.9314698e-1f));
    return V_FMADD(p, r, V_SET1(1.0f));
}

// 2^t for t <= 0 (fastExp2NonPositive): 2^r · 2^n with n = t rounded to nearest even, r = t - n; t rounding to
// -127 or below gives 0.
#ifdef V_ROUND_NEAREST
// One rounding and one scaling instruction (AVX-512) where the shifter takes an add, two subtractions, two integer
// operations and a multiplication: the same numbers (p·2^n is exact, or rounds alike into the subnormals), and
// the zeros where n <= -127 kept by the mask.
TARGET static inline VEC v_exp2_nonpositive(VEC t) {
    const VEC n = V_ROUND_NEAREST(t);
    return V_SCALE_WHERE_ABOVE_MINUS_127(v_exp2_fraction(V_SUB(t, n)), n);
}
#else
TARGET static inline VEC v_exp2_nonpositive(VEC t) {
    t = V_MAX(t, V_SET1(-127.0f));
    const VEC shifter = V_SET1(12582912.0f);
    VEC shifted = V_ADD(t, shifter);
    return V_MUL(v_exp2_fraction(V_SUB(t, V_SUB(shifted, shifter))), V_POW2(shifted));
}
#endif

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
