// The vector kernels with 8 lanes of AVX2+FMA: the selective scan (selective_scan_body.h), its one-token step
// (selective_scan_step_body.h), its backward (selective_scan_backward_body.h), Mamba-2's scan and its backward
// (ssd_scan_body.h), the causal conv with its SiLU (causal_conv_body.h), the product on packed weights
// (packed_linear_body.h) and the lm_head's softmax rows (softmax_rows_body.h), on AVX2 operations; and the
// gradient norm's sums of squares (AVX2 only: CPUs with AVX-512 run it too).
#include "lethe_kernels.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define TARGET __attribute__((target("avx2,fma")))
#define VEC __m256
#define MASK __m256i
#define LANES 8
#define SCAN_NAME lethe_selective_scan_avx2
#define V_SET1 _mm256_set1_ps
#define V_ADD _mm256_add_ps
#define V_SUB _mm256_sub_ps
#define V_MUL _mm256_mul_ps
#define V_DIV _mm256_div_ps
#define V_MIN _mm256_min_ps
#define V_MAX _mm256_max_ps
#define V_FMADD _mm256_fmadd_ps
#define V_FNMADD _mm256_fnmadd_ps
#define V_FMSUB _mm256_fmsub_ps
#define V_LOADU _mm256_loadu_ps
#define V_STOREU _mm256_storeu_ps
#define V_MASK_FIRST(lanes) _mm256_cmpgt_epi32(_mm256_set1_epi32(lanes), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7))
#define V_LOAD_MASKED(p, mask) _mm256_maskload_ps(p, mask)
#define V_STORE_MASKED(p, mask, v) _mm256_maskstore_ps(p, mask, v)
#define V_GT_SELECT(x, threshold, a, b) _mm256_blendv_ps(b, a, _mm256_cmp_ps(x, threshold, _CMP_GT_OQ))
#define V_POW2(shifted) \
    _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_sub_epi32(_mm256_castps_si256(shifted), _mm256_set1_epi32(0x4B400000 - 127)), 23))

#include "vector_math.h"
#include "selective_scan_body.h"

#define SCAN_BACKWARD_NAME lethe_selective_scan_backward_avx2
TARGET static inline float v_hsum(VEC v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
}
#include "selective_scan_backward_body.h"

#define STEP_NAME lethe_selective_scan_step_avx2
#include "selective_scan_step_body.h"

#define SSD_SCAN_NAME lethe_ssd_scan_avx2
#define SSD_SCAN_BACKWARD_NAME lethe_ssd_scan_backward_avx2
#include "ssd_scan_body.h"

#define CONV_SILU_NAME lethe_causal_conv1d_silu_avx2
#define CONV_UNIT lethe_causal_conv1d_silu_unit_avx2
#include "causal_conv_body.h"

#define PACKED_LINEAR_NAME lethe_packed_linear_avx2
// 2 rows of 4 vectors: 8 sums, 4 of the panel and the broadcast input in AVX2's 16 registers (3 rows spill:
// encoding at 503 tok/s against 934 on the AMD EPYC).
#define PACKED_ROWS 2
#include "packed_linear_body.h"

#define SOFTMAX_STATISTICS_NAME lethe_softmax_statistics_avx2
#define SOFTMAX_GRADIENT_NAME lethe_softmax_gradient_avx2
#define V_LOAD_MASKED_OR(p, mask, fill) _mm256_blendv_ps(fill, _mm256_maskload_ps(p, mask), _mm256_castsi256_ps(mask))
#define V_KEEP(mask, v) _mm256_and_ps(v, _mm256_castsi256_ps(mask))
TARGET static inline float v_hmax(VEC v) {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    return _mm_cvtss_f32(_mm_max_ss(m, _mm_movehdup_ps(m)));
}
#include "softmax_rows_body.h"

// Squares added in double as LetheTraining's globalGradientNorm adds them, element i into running sum i mod 4: four
// of those sums are one vector of four doubles, in the same order. A float times a float is exact in double, so the
// product rounds the same whether or not it is fused with the sum.
TARGET static inline __m256d add_squares(__m256d sums, const float *x) {
    const __m256d v = _mm256_cvtps_pd(_mm_loadu_ps(x));
    return _mm256_add_pd(sums, _mm256_mul_pd(v, v));
}

// (s0 + s1) + (s2 + s3), the elements past the last multiple of 4 first added into s0.
TARGET static inline double finish_block(__m256d sums, const float *tail, long tail_count) {
    double s[4];
    _mm256_storeu_pd(s, sums);
    for (long i = 0; i < tail_count; i++) s[0] += (double)tail[i] * (double)tail[i];
    return (s[0] + s[1]) + (s[2] + s[3]);
}

TARGET LETHE_BLOCK_SUMS_OF_SQUARES(lethe_block_sums_of_squares_avx2) {
    long b = block_begin;
    // Four whole blocks at a time: four independent chains of additions, where one would wait on each sum.
    for (; b + 4 <= block_end && (b + 4) * block <= count; b += 4) {
        const float *x0 = x + b * block, *x1 = x0 + block, *x2 = x1 + block, *x3 = x2 + block;
        __m256d s0 = _mm256_setzero_pd(), s1 = s0, s2 = s0, s3 = s0;
        long i = 0;
        for (; i + 4 <= block; i += 4) {
            s0 = add_squares(s0, x0 + i);
            s1 = add_squares(s1, x1 + i);
            s2 = add_squares(s2, x2 + i);
            s3 = add_squares(s3, x3 + i);
        }
        sums[b] = finish_block(s0, x0 + i, block - i);
        sums[b + 1] = finish_block(s1, x1 + i, block - i);
        sums[b + 2] = finish_block(s2, x2 + i, block - i);
        sums[b + 3] = finish_block(s3, x3 + i, block - i);
    }
    for (; b < block_end; b++) {
        const float *xb = x + b * block;
        const long length = count - b * block < block ? count - b * block : block;
        __m256d s = _mm256_setzero_pd();
        long i = 0;
        for (; i + 4 <= length; i += 4) s = add_squares(s, xb + i);
        sums[b] = finish_block(s, xb + i, length - i);
    }
}

int lethe_avx2_available(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

#endif  // on other CPUs, kernels_other_cpus.c says these kernels are unavailable
