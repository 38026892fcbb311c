// What each of the first two CPUs of this process's affinity can do right now, both busy at
// once as in a 2-thread training step: arithmetic (independent multiply-add chains in
// registers, no memory), re-reads of a 4 MB buffer (larger than a core's L2, within an L3),
// and a streaming read of 64 MB (memory). Each figure is the median of 7 rounds of about 20 ms.
// On a virtual machine the host may move a vCPU onto a core whose other hardware thread is
// busy, lower its clock, or share its L3 with other guests: those show here as lower
// arithmetic or cache rates on one CPU, which bench/core_round_trip.c (the cross-CPU latency)
// cannot tell apart from a far placement. Prints one JSON line, e.g.
//   {"cpus": [0, 1], "gflops": [7.2, 7.1], "l3_gbs": [95.2, 94.8], "dram_gbs": [24.1, 23.9]}
// Build: cc -O2 -pthread bench/core_speed.c -o core_speed (no -march: it runs the baseline
// instruction set, so a figure compares with the same figure on another day, not with peak).
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pin_thread.h"

enum { ROUNDS = 7, CHAINS = 16 };
typedef long long lanes2 __attribute__((vector_size(16)));
enum { CACHE_BYTES = 4 << 20, MEMORY_BYTES = 64 << 20 };

struct worker {
    int cpu;
    lanes2 *cache_buffer, *memory_buffer;
    double gflops, l3_gbs, dram_gbs;
};

static pthread_barrier_t barrier;

static double seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int compare(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v) {
    qsort(v, ROUNDS, sizeof v[0], compare);
    return v[ROUNDS / 2];
}

// GFLOP/s of CHAINS independent chains x = x * a + b (2 flops each step).
static double arithmetic(void) {
    float x[CHAINS];
    for (int c = 0; c < CHAINS; c++) x[c] = (float)c * 1e-3f;
    const float a = 0.999999f, b = 1e-7f;
    const long steps = 1 << 21;
    double start = seconds();
    for (long s = 0; s < steps; s++)
        for (int c = 0; c < CHAINS; c++) x[c] = x[c] * a + b;
    double elapsed = seconds() - start;
    float sink = 0;
    for (int c = 0; c < CHAINS; c++) sink += x[c];
    __asm__ volatile("" : : "r"(&sink) : "memory");
    return 2.0 * CHAINS * (double)steps / elapsed * 1e-9;
}

// GB/s of reading `bytes` of `p`, `passes` times: each 64-byte line as four 16-byte loads into
// four independent sums (the baseline's vectors), so the loop waits on loads, not on additions.

static double reading(const lanes2 *p, long bytes, int passes) {
    const long n = bytes / (long)sizeof(lanes2);
    lanes2 s0 = {0, 0}, s1 = {0, 0}, s2 = {0, 0}, s3 = {0, 0};
    double start = seconds();
    for (int pass = 0; pass < passes; pass++)
        for (long i = 0; i < n; i += 4) {
            s0 += p[i];
            s1 += p[i + 1];
            s2 += p[i + 2];
            s3 += p[i + 3];
        }
    double elapsed = seconds() - start;
    lanes2 total = s0 + s1 + s2 + s3;
    __asm__ volatile("" : : "r"(&total) : "memory");
    return (double)bytes * passes / elapsed * 1e-9;
}

static void *run(void *arg) {
    struct worker *w = arg;
    pin_thread(w->cpu);
    // Touch the buffers on this CPU, so that their pages come from its node.
    memset(w->cache_buffer, 0, CACHE_BYTES);
    memset(w->memory_buffer, 0, MEMORY_BYTES);
    double g[ROUNDS], c[ROUNDS], m[ROUNDS];
    for (int r = 0; r < ROUNDS; r++) {
        pthread_barrier_wait(&barrier);
        g[r] = arithmetic();
        pthread_barrier_wait(&barrier);
        reading(w->cache_buffer, CACHE_BYTES, 1);
        c[r] = reading(w->cache_buffer, CACHE_BYTES, 16);
        pthread_barrier_wait(&barrier);
        m[r] = reading(w->memory_buffer, MEMORY_BYTES, 1);
    }
    w->gflops = median(g);
    w->l3_gbs = median(c);
    w->dram_gbs = median(m);
    return NULL;
}

int main(void) {
    cpu_set_t allowed;
    if (sched_getaffinity(0, sizeof allowed, &allowed) != 0) { perror("sched_getaffinity"); return 1; }
    struct worker workers[2];
    int found = 0;
    for (int c = 0; c < CPU_SETSIZE && found < 2; c++)
        if (CPU_ISSET(c, &allowed)) workers[found++].cpu = c;
    if (found < 2) { fprintf(stderr, "core_speed: needs two CPUs, this process may use %d\n", found); return 1; }
    for (int i = 0; i < 2; i++) {
        workers[i].cache_buffer = aligned_alloc(64, CACHE_BYTES);
        workers[i].memory_buffer = aligned_alloc(64, MEMORY_BYTES);
        if (!workers[i].cache_buffer || !workers[i].memory_buffer) { fprintf(stderr, "core_speed: out of memory\n"); return 1; }
    }
    pthread_barrier_init(&barrier, NULL, 2);
    pthread_t partner;
    if (pthread_create(&partner, NULL, run, &workers[1]) != 0) { perror("pthread_create"); return 1; }
    run(&workers[0]);
    pthread_join(partner, NULL);
    printf("{\"cpus\": [%d, %d], \"gflops\": [%.1f, %.1f], \"l3_gbs\": [%.1f, %.1f], \"dram_gbs\": [%.1f, %.1f]}\n",
           workers[0].cpu, workers[1].cpu, workers[0].gflops, workers[1].gflops, workers[0].l3_gbs, workers[1].l3_gbs,
           workers[0].dram_gbs, workers[1].dram_gbs);
    for (int i = 0; i < 2; i++) { free(workers[i].cache_buffer); free(workers[i].memory_buffer); }
    return 0;
}
