// C kernels of LetheModel that need vector instructions Swift cannot select at run time: Swift compiles for
// the baseline ISA (SSE2 on x86-64), so these functions carry their own AVX2+FMA or AVX-512 code and are
// called only when the CPU has it (lethe_avx2_available, lethe_avx512_available). The Swift kernel beside
// each one (Sources/LetheModel/Kernels, and LetheTraining's gradient norm) is the portable path. The kernels are
// tested against the naive references, and those that fuse Swift kernels (the conv with its SiLU, the scan with its
// gate, the gradient norm) against the Swift kernels, bit for bit.
#ifndef LETHE_KERNELS_H
#define LETHE_KERNELS_H

#ifdef __cplusplus
extern "C" {
#endif

/// 1 when this CPU runs the AVX2+FMA kernels below, else 0.
int lethe_avx2_available(void);
/// 1 when this CPU runs the AVX-512F kernels below, else 0.
int lethe_avx512_available(void);
/// The OpenBLAS core type (OPENBLAS_CORETYPE) whose kernels this CPU runs: "SkylakeX" with AVX-512 F, CD, BW, DQ
/// and VL, "Haswell" with AVX2 and FMA, else NULL.
const char *lethe_blas_core_for_cpu(void);

/// The selective scan of LetheModel's selectiveScanForward (same arguments and layout, see SelectiveScan.swift)
/// for work units [unit_begin, unit_end), a unit being one sequence and one block of 8 channels
/// (unit = b * ceil(channels / 8) + block; 16 for the AVX-512 kernel, below). When `gated` is not NULL, also
/// writes the gate y · SiLU(z) there (gateForward's operations; z rows `z_stride` floats apart), and then `y` may
/// be NULL: y is not written.
#define LETHE_SELECTIVE_SCAN(name)                                                                                  \
    void name(float *y, float *gated, const float *z, long z_stride, const float *u, const float *dt,            \
              const float *dt_bias, const float *bc, long bc_stride, const float *a_log, const float *d,          \
              float *state, long state_stride, long length, long channels, long state_size, long unit_begin,      \
              long unit_end)
LETHE_SELECTIVE_SCAN(lethe_selective_scan_avx2);
/// The same with units of 16 channels (unit = b * ceil(channels / 16) + block).
LETHE_SELECTIVE_SCAN(lethe_selective_scan_avx512);

/// The scan for one token per sequence, LetheModel's selectiveScanStep (RecurrentStep.swift; the arguments of
/// selectiveScanForward with length 1, row b = sequence b), for work units [unit_begin, unit_end) of one block of
/// 8 channels (AVX2) or 16 (AVX-512) for every sequence (unit = block).
#define LETHE_SELECTIVE_SCAN_STEP(name)                                                                             \
    void name(float *y, const float *u, const float *dt, const float *dt_bias, const float *bc, long bc_stride,   \
              const float *a_log, const float *d, float *state, long state_stride, long batch, long channels,     \
              long state_size, long unit_begin, long unit_end)
LETHE_SELECTIVE_SCAN_STEP(lethe_selective_scan_step_avx2);
LETHE_SELECTIVE_SCAN_STEP(lethe_selective_scan_step_avx512);

/// The backward of the scan, LetheModel's selectiveScanBackward (same arguments and layout, see SelectiveScan.swift),
/// for work units [unit_begin, unit_end) of `unit_channels` channels each (a multiple of the lanes, 8 or 16).
/// Writes du, ddt and, when d_state is not NULL, d_state; adds into ddt_bias, da_log and dd (the unit's own
/// channels); writes the unit's share of dB | dC to partial_bc + unit * batch * length * 2 * state_size, laid out
/// (row, 2 * state_size).
#define LETHE_SELECTIVE_SCAN_BACKWARD(name)                                                                         \
    void name(float *du, float *ddt, float *partial_bc, float *ddt_bias, float *da_log, float *dd, float *d_state,  \
              long d_state_stride, const float *dy, const float *u, const float *dt, const float *dt_bias,           \
              const float *bc, long bc_stride, const float *a_log, const float *d, const float *state,              \
              long state_stride, long batch, long length, long channels, long state_size, long unit_channels,      \
              long unit_begin, long unit_end)
LETHE_SELECTIVE_SCAN_BACKWARD(lethe_selective_scan_backward_avx2);

/// The same with 16 lanes of AVX-512F.
LETHE_SELECTIVE_SCAN_BACKWARD(lethe_selective_scan_backward_avx512);

/// Channels of a head that Mamba-2's scan kernels take together (ssd_scan_body.h).
#define LETHE_SSD_CHANNELS 4

/// Mamba-2's scan, LetheModel's ssdScanForward (same arguments and layout, see SSDScan.swift), for work units
/// [unit_begin, unit_end) of one sequence and one head (unit = b * heads + h).
#define LETHE_SSD_SCAN(name)                                                                                        \
    void name(float *y, const float *x, long x_stride, const float *dt, long dt_stride, const float *dt_bias,       \
              const float *a_log, const float *bc, long bc_stride, const float *d, float *state, long state_stride, \
              long length, long heads, long head_dim, long groups, long state_size, float dt_min, float dt_max,     \
              long unit_begin, long unit_end)
LETHE_SSD_SCAN(lethe_ssd_scan_avx2);
LETHE_SSD_SCAN(lethe_ssd_scan_avx512);

/// Its backward, LetheModel's ssdScanBackward, for work units [unit_begin, unit_end) of one sequence and one head
/// (unit = b * heads + h): writes the unit's dx, ddt and (when not NULL) d_state, its share of dB and dC to
/// partial_bc + unit * length * 2 * state_size (row t: dB then dC), and its (dDtBias, dA, dD) to partial + unit * 3.
/// States are recomputed `block` channels of the head at a time.
#define LETHE_SSD_SCAN_BACKWARD(name)                                                                               \
    void name(float *dx, long dx_stride, float *partial_bc, float *ddt, long ddt_stride, float *partial,           \
              float *d_state, long d_state_stride, const float *dy, const float *x, long x_stride, const float *dt, \
              long dt_stride, const float *dt_bias, const float *a_log, const float *bc, long bc_stride,            \
              const float *d, const float *state, long state_stride, long length, long heads, long head_dim,        \
              long groups, long state_size, float dt_min, float dt_max, long block, long unit_begin, long unit_end)
LETHE_SSD_SCAN_BACKWARD(lethe_ssd_scan_backward_avx2);
LETHE_SSD_SCAN_BACKWARD(lethe_ssd_scan_backward_avx512);

/// LetheModel's causalConv1dSiLUForward (same arguments and layout, see Conv1d.swift): the causal conv1d written to
/// `out` (skipped when NULL) and its SiLU to `activated`, the conv state read and updated, for work units
/// [unit_begin, unit_end) of one sequence and LETHE_CONV_UNIT_VECTORS vectors of channels (64 channels with AVX2, 128
/// with AVX-512; unit = b * ceil(channels / (LETHE_CONV_UNIT_VECTORS * lanes)) + its place).
#define LETHE_CONV_UNIT_VECTORS 8
#define LETHE_CAUSAL_CONV1D_SILU(name)                                                                              \
    void name(float *out, float *activated, const float *input, long input_stride, const float *weight,           \
              const float *bias, float *state, long state_stride, long length, long channels, long kernel,        \
              long unit_begin, long unit_end)
LETHE_CAUSAL_CONV1D_SILU(lethe_causal_conv1d_silu_avx2);
LETHE_CAUSAL_CONV1D_SILU(lethe_causal_conv1d_silu_avx512);

/// The elementwise half of LetheModel's blockedLMHeadCrossEntropy (see softmax_rows_body.h): for each of `rows`
/// rows of `count` logits in z, updates the row's running maximum and sum of exp(z - maximum) with them.
#define LETHE_SOFTMAX_STATISTICS(name) void name(const float *z, long rows, long count, float *maximum, float *sum)
LETHE_SOFTMAX_STATISTICS(lethe_softmax_statistics_avx2);
LETHE_SOFTMAX_STATISTICS(lethe_softmax_statistics_avx512);

/// z[r, i] = exp(z[r, i] - maximum[r]) · factor[r] for `rows` rows of `count` logits, in place.
#define LETHE_SOFTMAX_GRADIENT(name) \
    void name(float *z, long rows, long count, const float *maximum, const float *factor)
LETHE_SOFTMAX_GRADIENT(lethe_softmax_gradient_avx2);
LETHE_SOFTMAX_GRADIENT(lethe_softmax_gradient_avx512);

/// LetheTraining's globalGradientNorm per block: for the blocks [block_begin, block_end) of `block` floats of x (`count`
/// floats in all, the last block possibly shorter), sums[b] = block b's sum of squares in double, added in
/// globalGradientNorm's order (the same bits), four blocks at a time. AVX2; CPUs with AVX-512 run it too.
#define LETHE_BLOCK_SUMS_OF_SQUARES(name) \
    void name(const float *x, long count, long block, long block_begin, long block_end, double *sums)
LETHE_BLOCK_SUMS_OF_SQUARES(lethe_block_sums_of_squares_avx2);

/// LetheModel's packedLinearForward (PackedLinear.swift): out (rows, columns; rows `out_stride` floats apart) =, or
/// with `accumulate` +=, input (rows, in_features; rows `input_stride` apart) @ W.T for the panels [panel_begin,
/// panel_end) of a weight W (out_features, in_features) packed in panels of LETHE_PANEL_WIDTH output features: panel p
/// holds, for k = 0 ..< in_features, the LETHE_PANEL_WIDTH floats W[p * LETHE_PANEL_WIDTH + j][k] (zeros past
/// out_features). `out` points at column panel_begin * LETHE_PANEL_WIDTH; columns from `column_end` on are not written.
/// At most LETHE_PACKED_MAX_ROWS rows a call.
#define LETHE_PANEL_WIDTH 32
#define LETHE_PACKED_MAX_ROWS 256
#define LETHE_PACKED_LINEAR(name)                                                                                   \
    void name(float *out, long out_stride, const float *input, long input_stride, const float *panels,            \
              long in_features, long rows, long panel_begin, long panel_end, long column_end, int accumulate)
LETHE_PACKED_LINEAR(lethe_packed_linear_avx2);
LETHE_PACKED_LINEAR(lethe_packed_linear_avx512);

#ifdef __cplusplus
}
#endif

#endif
