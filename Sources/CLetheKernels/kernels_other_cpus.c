// On CPUs other than x86-64 the AVX2 and AVX-512 kernels do not exist: lethe_avx2_available and
// lethe_avx512_available say so, and the kernels' definitions below, which are never called, let the library link.
#include "lethe_kernels.h"

#if !defined(__x86_64__)

int lethe_avx2_available(void) { return 0; }
int lethe_avx512_available(void) { return 0; }

#define NEVER_CALLED __builtin_trap()

#define SCAN_BACKWARD(name)                                                                                          \
    void name(float *du, float *ddt, float *partial_bc, float *ddt_bias, float *da_log, float *dd, float *d_state,  \
              long d_state_stride, const float *dy, const float *u, const float *dt, const float *dt_bias,           \
              const float *bc, long bc_stride, const float *a_log, const float *d, const float *state,              \
              long state_stride, long batch, long length, long channels, long state_size, long unit_channels,      \
              long unit_begin, long unit_end) { NEVER_CALLED; }
#define SOFTMAX_STATISTICS(name) \
    void name(const float *z, long rows, long count, float *maximum, float *sum) { NEVER_CALLED; }
#define SOFTMAX_GRADIENT(name) \
    void name(float *z, long rows, long count, const float *maximum, const float *factor) { NEVER_CALLED; }

LETHE_SELECTIVE_SCAN(lethe_selective_scan_avx2) { NEVER_CALLED; }
LETHE_SELECTIVE_SCAN(lethe_selective_scan_avx512) { NEVER_CALLED; }
LETHE_SELECTIVE_SCAN_STEP(lethe_selective_scan_step_avx2) { NEVER_CALLED; }
LETHE_SELECTIVE_SCAN_STEP(lethe_selective_scan_step_avx512) { NEVER_CALLED; }
SCAN_BACKWARD(lethe_selective_scan_backward_avx2)
SCAN_BACKWARD(lethe_selective_scan_backward_avx512)
SOFTMAX_STATISTICS(lethe_softmax_statistics_avx2)
SOFTMAX_STATISTICS(lethe_softmax_statistics_avx512)
LETHE_CAUSAL_CONV1D_SILU(lethe_causal_conv1d_silu_avx2) { NEVER_CALLED; }
LETHE_CAUSAL_CONV1D_SILU(lethe_causal_conv1d_silu_avx512) { NEVER_CALLED; }
LETHE_SSD_SCAN(lethe_ssd_scan_avx2) { NEVER_CALLED; }
LETHE_SSD_SCAN(lethe_ssd_scan_avx512) { NEVER_CALLED; }
LETHE_SSD_SCAN_BACKWARD(lethe_ssd_scan_backward_avx2) { NEVER_CALLED; }
LETHE_SSD_SCAN_BACKWARD(lethe_ssd_scan_backward_avx512) { NEVER_CALLED; }
void lethe_block_sums_of_squares_avx2(const float *x, long count, long block, long block_begin, long block_end,
                                      double *sums) { NEVER_CALLED; }
SOFTMAX_GRADIENT(lethe_softmax_gradient_avx2)
SOFTMAX_GRADIENT(lethe_softmax_gradient_avx512)

#endif
