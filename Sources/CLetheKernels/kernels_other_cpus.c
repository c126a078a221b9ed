// On CPUs other than x86-64 the AVX2 and AVX-512 kernels do not exist: lethe_avx2_available and
// lethe_avx512_available say so, and the kernels' definitions below, which are never called, let the library link.
#include "lethe_kernels.h"

#if !defined(__x86_64__)

int lethe_avx2_available(void) { return 0; }
int lethe_avx512_available(void) { return 0; }

#define NEVER_CALLED __builtin_trap()

LETHE_SELECTIVE_SCAN(lethe_selective_scan_avx2) { NEVER_CALLED; }
LETHE_SELECTIVE_SCAN(lethe_selective_scan_avx512) { NEVER_CALLED; }
LETHE_SELECTIVE_SCAN_STEP(lethe_selective_scan_step_avx2) { NEVER_CALLED; }
LETHE_SELECTIVE_SCAN_STEP(lethe_selective_scan_step_avx512) { NEVER_CALLED; }
LETHE_SELECTIVE_SCAN_BACKWARD(lethe_selective_scan_backward_avx2) { NEVER_CALLED; }
LETHE_SELECTIVE_SCAN_BACKWARD(lethe_selective_scan_backward_avx512) { NEVER_CALLED; }
LETHE_SSD_SCAN(lethe_ssd_scan_avx2) { NEVER_CALLED; }
LETHE_SSD_SCAN(lethe_ssd_scan_avx512) { NEVER_CALLED; }
LETHE_SSD_SCAN_BACKWARD(lethe_ssd_scan_backward_avx2) { NEVER_CALLED; }
LETHE_SSD_SCAN_BACKWARD(lethe_ssd_scan_backward_avx512) { NEVER_CALLED; }
LETHE_CAUSAL_CONV1D_SILU(lethe_causal_conv1d_silu_avx2) { NEVER_CALLED; }
LETHE_CAUSAL_CONV1D_SILU(lethe_causal_conv1d_silu_avx512) { NEVER_CALLED; }
LETHE_SOFTMAX_STATISTICS(lethe_softmax_statistics_avx2) { NEVER_CALLED; }
LETHE_SOFTMAX_STATISTICS(lethe_softmax_statistics_avx512) { NEVER_CALLED; }
LETHE_SOFTMAX_GRADIENT(lethe_softmax_gradient_avx2) { NEVER_CALLED; }
LETHE_SOFTMAX_GRADIENT(lethe_softmax_gradient_avx512) { NEVER_CALLED; }
LETHE_BLOCK_SUMS_OF_SQUARES(lethe_block_sums_of_squares_avx2) { NEVER_CALLED; }
LETHE_PACKED_LINEAR(lethe_packed_linear_avx2) { NEVER_CALLED; }
LETHE_PACKED_LINEAR(lethe_packed_linear_avx512) { NEVER_CALLED; }

#endif
