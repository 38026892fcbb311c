// The time a cache line takes to go from CPU 0 to CPU 1 and back (two threads pinned to the
// first two CPUs of this process's affinity bounce an atomic counter), in ns: the median of
// 9 rounds of 20,000 round trips. On a virtual machine this tells where the host placed the
// two vCPUs: about 48-90 ns when they share a core complex, about 320-630 ns when they do not
// (AMD EPYC, 2026-12-07), and a 2-thread training step runs up to 2.7 times slower in the
// second case. bench/cnn.sh measures it before and after every process it times (see
// bench/core_round_trip.sh).
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "pin_thread.h"

enum { TRIPS = 20000, ROUNDS = 9 };
static _Alignas(128) atomic_long ball;
static int cpus[2];

static void *partner(void *unused) {
    (void)unused;
    pin_thread(cpus[1]);
    for (long i = 0; i < (long)TRIPS * ROUNDS; i++) {
        while (atomic_load_explicit(&ball, memory_order_acquire) != 2 * i + 1) {}
        atomic_store_explicit(&ball, 2 * i + 2, memory_order_release);
    }
    return NULL;
}

static int compare(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(void) {
    cpu_set_t allowed;
    if (sched_getaffinity(0, sizeof allowed, &allowed) != 0) { perror("sched_getaffinity"); return 1; }
    int found = 0;
    for (int c = 0; c < CPU_SETSIZE && found < 2; c++)
        if (CPU_ISSET(c, &allowed)) cpus[found++] = c;
    if (found < 2) { fprintf(stderr, "core_round_trip: needs two CPUs, this process may use %d\n", found); return 1; }
    pin_thread(cpus[0]);
    pthread_t thread;
    if (pthread_create(&thread, NULL, partner, NULL) != 0) { perror("pthread_create"); return 1; }
    double ns[ROUNDS];
    long i = 0;
    for (int r = 0; r < ROUNDS; r++) {
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        for (int k = 0; k < TRIPS; k++, i++) {
            atomic_store_explicit(&ball, 2 * i + 1, memory_order_release);
            while (atomic_load_explicit(&ball, memory_order_acquire) != 2 * i + 2) {}
        }
        clock_gettime(CLOCK_MONOTONIC, &b);
        ns[r] = ((double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec)) / TRIPS;
    }
    pthread_join(thread, NULL);
    qsort(ns, ROUNDS, sizeof ns[0], compare);
    printf("{\"cpus\": [%d, %d], \"round_trip_ns\": %.0f}\n", cpus[0], cpus[1], ns[ROUNDS / 2]);
    return 0;
}
