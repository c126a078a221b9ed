// The vector kernels with 16 lanes of AVX-512F: the selective scan (selective_scan_body.h), its one-token step
// (selective_scan_step_body.h), its backward (selective_scan_backward_body.h), Mamba-2's scan and its backward
// (ssd_scan_body.h), the causal conv with its SiLU (causal_conv_body.h), the product on packed weights
// (packed_linear_body.h) and the lm_head's softmax rows (softmax_rows_body.h), on AVX-512 operations.
#include "lethe_kernels.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define TARGET __attribute__((target("avx512f")))
#define VEC __m512
#define MASK __mmask16
#define LANES 16
#define SCAN_NAME lethe_selective_scan_avx512
#define V_SET1 _mm512_set1_ps
#define V_ADD _mm512_add_ps
#define V_SUB _mm512_sub_ps
#define V_MUL _mm512_mul_ps
#define V_DIV _mm512_div_ps
#define V_MIN _mm512_min_ps
#define V_MAX _mm512_max_ps
#define V_FMADD _mm512_fmadd_ps
#define V_FNMADD _mm512_fnmadd_ps
#define V_FMSUB _mm512_fmsub_ps
#define V_LOADU _mm512_loadu_ps
#define V_STOREU _mm512_storeu_ps
#define V_MASK_FIRST(lanes) ((__mmask16)((1u << (lanes)) - 1))
#define V_LOAD_MASKED(p, mask) _mm512_maskz_loadu_ps(mask, p)
#define V_STORE_MASKED(p, mask, v) _mm512_mask_storeu_ps(p, mask, v)
#define V_GT_SELECT(x, threshold, a, b) _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, threshold, _CMP_GT_OQ), b, a)
#define V_POW2(shifted) \
    _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_sub_epi32(_mm512_castps_si512(shifted), _mm512_set1_epi32(0x4B400000 - 127)), 23))

#define V_ROUND_NEAREST(t) _mm512_roundscale_ps(t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
#define V_SCALE_WHERE_ABOVE_MINUS_127(p, n) \
    _mm512_maskz_scalef_ps(_mm512_cmp_ps_mask(n, _mm512_set1_ps(-127.0f), _CMP_GT_OQ), p, n)
#include "vector_math.h"
#include "selective_scan_body.h"

#define SCAN_BACKWARD_NAME lethe_selective_scan_backward_avx512
TARGET static inline float v_hsum(VEC v) { return _mm512_reduce_add_ps(v); }
#include "selective_scan_backward_body.h"

#define STEP_NAME lethe_selective_scan_step_avx512
#include "selective_scan_step_body.h"

#define SSD_SCAN_NAME lethe_ssd_scan_avx512
#define SSD_SCAN_BACKWARD_NAME lethe_ssd_scan_backward_avx512
#include "ssd_scan_body.h"

#define CONV_SILU_NAME lethe_causal_conv1d_silu_avx512
#define CONV_UNIT lethe_causal_conv1d_silu_unit_avx512
#include "causal_conv_body.h"

#define PACKED_LINEAR_NAME lethe_packed_linear_avx512
// 6 rows of 2 vectors: 12 sums in registers; tiles of 4, 8 and 12 rows encoded 1-4% slower on the AMD EPYC (README).
#define PACKED_ROWS 6
#include "packed_linear_body.h"

#define SOFTMAX_STATISTICS_NAME lethe_softmax_statistics_avx512
#define SOFTMAX_GRADIENT_NAME lethe_softmax_gradient_avx512
#define V_LOAD_MASKED_OR(p, mask, fill) _mm512_mask_loadu_ps(fill, mask, p)
#define V_KEEP(mask, v) _mm512_maskz_mov_ps(mask, v)
TARGET static inline float v_hmax(VEC v) { return _mm512_reduce_max_ps(v); }
#include "softmax_rows_body.h"

int lethe_avx512_available(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f");
}

#endif  // on other CPUs, kernels_other_cpus.c says these kernels are unavailable
