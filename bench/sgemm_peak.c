/* OpenBLAS sgemm peak on this machine: GFLOP/s of square single-precision products, best of
 * a few runs per size, with the thread count and core type OpenBLAS runs with. Built and run
 * by bench/sgemm-peak; prints one JSON object. */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

extern char *openblas_get_corename(void);
extern void openblas_set_num_threads(int);

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 1;
    int repeats = argc > 2 ? atoi(argv[2]) : 5;
    openblas_set_num_threads(threads);
    const int sizes[] = {256, 512, 1024, 2048};
    printf("{\"threads\": %d, \"core\": \"%s\", \"gflops\": {", threads, openblas_get_corename());
    double peak = 0;
    for (int s = 0; s < 4; s++) {
        int n = sizes[s];
        float *a = malloc(sizeof(float) * n * n), *b = malloc(sizeof(float) * n * n), *c = malloc(sizeof(float) * n * n);
        if (!a || !b || !c) return 1;
        for (long i = 0; i < (long)n * n; i++) { a[i] = (float)(i % 7) * 0.1f; b[i] = (float)(i % 5) * 0.1f; }
        double flops = 2.0 * n * n * n, best = 0;
        int inner = n <= 512 ? 20 : (n <= 1024 ? 4 : 1);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1, a, n, b, n, 0, c, n);
        for (int r = 0; r < repeats; r++) {
            double t0 = now();
            for (int k = 0; k < inner; k++)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1, a, n, b, n, 0, c, n);
            double rate = flops * inner / (now() - t0) / 1e9;
            if (rate > best) best = rate;
        }
        if (best > peak) peak = best;
        printf("%s\"%d\": %.1f", s ? ", " : "", n, best);
        free(a); free(b); free(c);
    }
    printf("}, \"peak_gflops\": %.1f}\n", peak);
    return 0;
}
