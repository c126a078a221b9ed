// Does splitting one sgemm into two calls, at a row or at a column of the result, change any bit of it? For the
// products of a mamba-130m step (and a few more shapes), each of the four transpose forms, splits at 8 to 384.
// Prints the splits that change the result; Lethe's linearForward keeps its splits a function of the shape alone
// because of them (README, Performance).
//
//     cc -O2 Benchmarks/split_rounding.c -o /tmp/split_rounding -lopenblas
//     OPENBLAS_CORETYPE=SkylakeX /tmp/split_rounding;  OPENBLAS_CORETYPE=Haswell /tmp/split_rounding
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static float uniform(void) { return (float)rand() / RAND_MAX * 2 - 1; }

// C (m x n) = op(A) op(B), row-major; A is k x m when transposed, B is n x k when transposed.
static void product(int ta, int tb, int m, int n, int k, const float *a, int lda, const float *b, int ldb, float *c) {
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n, k, 1, a, lda,
                b, ldb, 0, c, n);
}

int main(void) {
    openblas_set_num_threads(1);
    const int shapes[][3] = {{264, 768, 3072}, {264, 3072, 768}, {264, 1536, 80}, {264, 80, 1536}, {264, 1536, 768},
                             {4096, 3072, 768}, {576, 512, 128}, {1024, 1536, 48}, {264, 48, 1536}};
    const int splits[] = {8, 16, 32, 64, 100, 132, 200, 384};
    int changed = 0, tried = 0;
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const int m = shapes[s][0], k = shapes[s][1], n = shapes[s][2];
        float *a = malloc(sizeof(float) * m * k), *b = malloc(sizeof(float) * n * k);
        float *whole = malloc(sizeof(float) * m * n), *split = malloc(sizeof(float) * m * n);
        for (long i = 0; i < (long)m * k; i++) a[i] = uniform();
        for (long i = 0; i < (long)n * k; i++) b[i] = uniform();
        for (int ta = 0; ta < 2; ta++) {
            for (int tb = 0; tb < 2; tb++) {
                const int lda = ta ? m : k, ldb = tb ? k : n;
                product(ta, tb, m, n, k, a, lda, b, ldb, whole);
                for (size_t q = 0; q < sizeof splits / sizeof splits[0]; q++) {
                    const int r = splits[q];
                    if (r < m) {  // rows 0 ..< r, then the rest
                        tried++;
                        product(ta, tb, r, n, k, a, lda, b, ldb, split);
                        product(ta, tb, m - r, n, k, ta ? a + r : a + (long)r * k, lda, b, ldb, split + (long)r * n);
                        if (memcmp(whole, split, sizeof(float) * m * n)) {
                            printf("%d x %d x %d, A%s B%s: split at row %d changes the result\n", m, k, n,
                                   ta ? "^T" : "", tb ? "^T" : "", r);
                            changed++;
                        }
                    }
                    if (r < n) {  // columns 0 ..< r, then the rest (the same leading dimension)
                        tried++;
                        memset(split, 0, sizeof(float) * m * n);
                        cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, r,
                                    k, 1, a, lda, b, ldb, 0, split, n);
                        cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m,
                                    n - r, k, 1, a, lda, tb ? b + (long)r * k : b + r, ldb, 0, split + r, n);
                        if (memcmp(whole, split, sizeof(float) * m * n)) {
                            printf("%d x %d x %d, A%s B%s: split at column %d changes the result\n", m, k, n,
                                   ta ? "^T" : "", tb ? "^T" : "", r);
                            changed++;
                        }
                    }
                }
            }
        }
        free(a), free(b), free(whole), free(split);
    }
    printf("%d of %d splits change the result\n", changed, tried);
    return 0;
}
