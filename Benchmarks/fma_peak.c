// The CPU's own limit on float32 multiply-adds, against which the sgemm peak of lethe-bench (OpenBLAS) can be
// read: 12 independent chains of vector FMAs (more than latency x throughput on any x86-64 core), on one thread and
// on every core at once, in GFLOPS (an FMA counts 2 flops per lane). AVX-512 where the CPU has it, else AVX2.
//
//     clang -O2 -pthread Benchmarks/fma_peak.c -o /tmp/fma_peak && /tmp/fma_peak
//
// The README's Performance section compares it with the sgemm peak and OpenBLAS's kernel on the AMD EPYC.
#include <pthread.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>
#include <immintrin.h>

#define ITERATIONS 300000000L
#define CHAINS 12

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static int lanes;  // floats per vector: 16 (AVX-512) or 8 (AVX2)
static volatile float opaque_factor = 0.9999999f, opaque_term = 1e-7f;  // unknown to the compiler

// One vector FMA per chain per iteration; the chains' sum is returned so that the compiler keeps them.
#define CHAIN_LOOP(VEC, SET1, FMADD, ADD, STORE)                                        \
    VEC acc[CHAINS];                                                                    \
    for (int c = 0; c < CHAINS; c++) acc[c] = SET1(1.0f + c * 1e-3f);                   \
    const VEC factor = SET1(opaque_factor), term = SET1(opaque_term);                   \
    for (long i = 0; i < ITERATIONS; i++) {                                             \
        _Pragma("clang loop unroll(full)") for (int c = 0; c < CHAINS; c++) {          \
            acc[c] = FMADD(acc[c], factor, term);                                       \
            __asm__("" : "+v"(acc[c])); /* no folding of the chain */                   \
        }                                                                               \
    }                                                                                   \
    for (int c = 1; c < CHAINS; c++) acc[0] = ADD(acc[0], acc[c]);                      \
    float out[16];                                                                      \
    STORE(out, acc[0]);                                                                 \
    return out[0];

__attribute__((target("avx512f"))) static float chains_avx512(void) {
    CHAIN_LOOP(__m512, _mm512_set1_ps, _mm512_fmadd_ps, _mm512_add_ps, _mm512_storeu_ps)
}

__attribute__((target("avx2,fma"))) static float chains_avx2(void) {
    CHAIN_LOOP(__m256, _mm256_set1_ps, _mm256_fmadd_ps, _mm256_add_ps, _mm256_storeu_ps)
}

static void *chains(void *sink) {
    *(float *)sink = lanes == 16 ? chains_avx512() : chains_avx2();
    return NULL;
}

// GFLOPS of `threads` threads running the chains at once.
static double gflops(int threads) {
    pthread_t workers[threads];
    float sinks[threads];
    double start = now();
    for (int t = 0; t < threads; t++) pthread_create(&workers[t], NULL, chains, &sinks[t]);
    for (int t = 0; t < threads; t++) pthread_join(workers[t], NULL);
    return (double)threads * ITERATIONS * CHAINS * lanes * 2 / (now() - start) / 1e9;
}

int main(void) {
    __builtin_cpu_init();
    lanes = __builtin_cpu_supports("avx512f") ? 16 : 8;
    if (lanes == 8 && !(__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))) {
        fprintf(stderr, "fma_peak: this CPU has neither AVX-512 nor AVX2 with FMA\n");
        return 1;
    }
    const int cores = (int)sysconf(_SC_NPROCESSORS_ONLN);
    double one = 0, all = 0;
    for (int round = 0; round < 3; round++) {  // the best of 3: a shared machine's load comes and goes
        double g = gflops(1);
        if (g > one) one = g;
        g = gflops(cores);
        if (g > all) all = g;
    }
    printf("{\"fma_peak_gflops\": %.1f, \"fma_peak_gflops_one_core\": %.1f, \"cores\": %d, \"lanes\": %d}\n", all, one,
           cores, lanes);
    return 0;
}
