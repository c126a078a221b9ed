// Time of the encoding kernels that read a row per token (the causal conv with its SiLU, the selective scan with
// its gate) on one thread, AVX-512, in nanoseconds per token and vector of 16 channels: on a batch far larger than
// the caches (64 x 64 tokens of mamba-130m's 1,536 channels), and on 2 sequences whose rows stay in the cache. The
// difference is what waiting for memory costs them (the README's Performance section). No Swift involved, so an
// earlier commit's kernels can be timed the same way (git archive REV Sources/CLetheKernels | tar -x -C /tmp/REV,
// then the same command on /tmp/REV/Sources/CLetheKernels).
//
//     clang -O3 -I Sources/CLetheKernels/include Benchmarks/kernel_rows.c Sources/CLetheKernels/kernels_avx512.c \
//         -lm -o /tmp/kernel_rows && /tmp/kernel_rows
//
// With `gate-only`, the scan writes its gate and not y, as encoding's does since acffd15 (earlier kernels crash on
// it). Compile with clang, as SwiftPM does: gcc's code for these kernels runs at other speeds.
#include "lethe_kernels.h"
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static float *uniform(long count, float lo, float hi) {
    float *p = aligned_alloc(64, (size_t)((count * 4 + 63) / 64 * 64));
    for (long i = 0; i < count; i++) p[i] = lo + (hi - lo) * (float)rand() / (float)RAND_MAX;
    return p;
}

// Best of 7 of `run`, per token and vector of 16 channels.
#define BEST_NS(run, vectors)                                      \
    ({                                                             \
        double best = 1e9;                                         \
        for (int r = 0; r < 7; r++) {                              \
            const double t0 = now();                               \
            run;                                                   \
            const double t = now() - t0;                           \
            if (t < best) best = t;                                \
        }                                                          \
        best * 1e9 / (double)(vectors);                            \
    })

int main(int argc, char **argv) {
    const int gate_only = argc > 1 && argv[1][0] == 'g';
    if (!lethe_avx512_available()) {
        fprintf(stderr, "kernel_rows: this CPU has no AVX-512\n");
        return 1;
    }
    const long channels = 1536, n = 16, rank = 48, bc_stride = rank + 2 * n, kernel = 4, length = 64;
    const long batches[] = {64, 2};
    for (int k = 0; k < 2; k++) {
        const long batch = batches[k], rows = batch * length, vectors = rows * channels / 16;
        float *xz = uniform(rows * 2 * channels, -2, 2), *u = uniform(rows * channels, -2, 2);
        float *dt = uniform(rows * channels, -6, 1), *bc = uniform(rows * bc_stride, -1, 1);
        float *gated = uniform(rows * channels, 0, 1), *conv_out = uniform(rows * channels, 0, 1);
        float *weight = uniform(channels * kernel, -1, 1), *bias = uniform(channels, -1, 1), *d = uniform(channels, 0, 2);
        float *a_log = uniform(channels * n, 0, 2.7f), *conv_state = uniform(batch * channels * kernel, -1, 1);
        float *ssm_state = uniform(batch * channels * n, -1, 1);
        const long conv_units = batch * ((channels + 127) / 128), scan_units = batch * (channels / 16);
        const double conv = BEST_NS(lethe_causal_conv1d_silu_avx512(NULL, u, xz, 2 * channels, weight, bias, conv_state,
                                                                    channels * kernel, length, channels, kernel, 0,
                                                                    conv_units), vectors);
        const double conv_kept = BEST_NS(lethe_causal_conv1d_silu_avx512(conv_out, u, xz, 2 * channels, weight, bias,
                                                                         conv_state, channels * kernel, length, channels,
                                                                         kernel, 0, conv_units), vectors);
        const double scan = BEST_NS(lethe_selective_scan_avx512(gate_only ? NULL : conv_out, gated, xz + channels, 2 * channels, u, dt, bias,
                                                                bc + rank, bc_stride, a_log, d, ssm_state, channels * n,
                                                                length, channels, n, 0, scan_units), vectors);
        printf("%2ld sequences x %ld tokens: conv+SiLU %.1f ns (pre-SiLU output kept: %.1f), scan+gate %.1f ns%s\n",
               batch, length, conv, conv_kept, scan, gate_only ? " (y not written)" : "");
    }
    return 0;
}
