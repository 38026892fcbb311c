// Work that shares nothing between threads, timed on each CPU alone and on both at once: a
// 3-point stencil over a private buffer (256 KB: in L2), 200 passes, two threads pinned to
// CPUs 0 and 1. It separates the two ways a host slows a 2-thread step: lines moving between
// cores (bench/core_round_trip.c: this benchmark does not move any) and a vCPU that is itself
// slower, alone or while the other one runs (a co-tenant on its core).
//
// Seen on the AMD EPYC VM (2026-12-07, session 15): 9.0 ms per thread alone and together when
// the vCPUs were near; 11.0 and 13.2 ms together (9.0 alone) once when they were far; and in
// near phases one vCPU at 14-16 ms even alone, now and then.
//
//   cc -O2 -pthread bench/private_work.c -o private_work && ./private_work [bytes]
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "pin_thread.h"

typedef struct {
    int cpu;
    size_t floats;
    double seconds;
    float sink;
} job_t;

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static void *work(void *p) {
    job_t *job = p;
    pin_thread(job->cpu);
    float *x = aligned_alloc(64, job->floats * sizeof(float)), *y = aligned_alloc(64, job->floats * sizeof(float));
    if (!x || !y) { fprintf(stderr, "private_work: out of memory\n"); exit(1); }
    for (size_t i = 0; i < job->floats; i++) { x[i] = (float)i * 1e-6f; y[i] = 0; }
    const double start = now();
    float sum = 0;
    for (int pass = 0; pass < 200; pass++) {
        for (size_t i = 1; i + 1 < job->floats; i++) y[i] = 0.25f * x[i - 1] + 0.5f * x[i] + 0.25f * x[i + 1] + y[i] * 0.001f;
        sum += y[(size_t)pass % job->floats];
    }
    job->seconds = now() - start;
    job->sink = sum;
    free(x);
    free(y);
    return NULL;
}

int main(int argc, char **argv) {
    const size_t bytes = argc > 1 ? strtoul(argv[1], NULL, 10) : 256 << 10;
    if (bytes < 64 || bytes > ((size_t)1 << 32)) { fprintf(stderr, "private_work: bytes must be 64 to 2^32, got %s\n", argv[1]); return 2; }
    job_t jobs[2] = {{.cpu = 0, .floats = bytes / sizeof(float)}, {.cpu = 1, .floats = bytes / sizeof(float)}};
    double alone[2];
    for (int t = 0; t < 2; t++) { work(&jobs[t]); alone[t] = jobs[t].seconds; }
    pthread_t threads[2];
    for (int t = 0; t < 2; t++) pthread_create(&threads[t], NULL, work, &jobs[t]);
    for (int t = 0; t < 2; t++) pthread_join(threads[t], NULL);
    printf("{\"bytes\": %zu, \"alone_ms\": [%.2f, %.2f], \"together_ms\": [%.2f, %.2f]}\n", bytes, alone[0] * 1e3, alone[1] * 1e3,
           jobs[0].seconds * 1e3, jobs[1].seconds * 1e3);
    return 0;
}
