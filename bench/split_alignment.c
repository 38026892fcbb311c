// Whether two threads sharing a weight the way a dense layer's training step does pay for
// handing its lines between cores: W is 600 x 1152 floats (the Q2 CNN's head.1). Every
// iteration each thread reads its half of W's rows (the forward product's split), then updates
// either the same rows ("aligned") or its half of W's columns ("crosswise", as `dy * W` splits
// W), so that crosswise half of the lines each thread writes were last read by the other.
// Prints microseconds per iteration. With the two vCPUs of the AMD EPYC VM on one core complex
// (bench/core_round_trip.c: 48-90 ns) aligned took 351-397 us and crosswise 550-846; on two
// (319-387 ns) aligned 368-408 and crosswise 694-924 (2026-12-07).
//
//   cc -O2 -march=x86-64-v3 -pthread bench/split_alignment.c -o split && ./split aligned && ./split crosswise
// (the figures above were built so; run it on an otherwise idle machine)
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pin_thread.h"

enum { ROWS = 600, COLUMNS = 1152, ITERATIONS = 300 };
static float *weight;
static int crosswise;
static pthread_barrier_t barrier;
static volatile float sink[2];

static void *work(void *arg) {
    const int t = (int)(long)arg;
    pin_thread(t);
    float sum = 0;
    for (int it = 0; it < ITERATIONS; it++) {
        for (int r = t * ROWS / 2; r < (t + 1) * ROWS / 2; r++)
            for (int c = 0; c < COLUMNS; c++) sum += weight[r * COLUMNS + c];
        pthread_barrier_wait(&barrier);
        const int r0 = crosswise ? 0 : t * ROWS / 2, r1 = crosswise ? ROWS : (t + 1) * ROWS / 2;
        const int c0 = crosswise ? t * COLUMNS / 2 : 0, c1 = crosswise ? (t + 1) * COLUMNS / 2 : COLUMNS;
        for (int r = r0; r < r1; r++)
            for (int c = c0; c < c1; c++) weight[r * COLUMNS + c] = weight[r * COLUMNS + c] * 0.999f + 1e-6f;
        pthread_barrier_wait(&barrier);
    }
    sink[t] = sum;
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 2 || (strcmp(argv[1], "aligned") != 0 && strcmp(argv[1], "crosswise") != 0)) {
        fprintf(stderr, "usage: %s aligned|crosswise\n", argv[0]);
        return 2;
    }
    crosswise = strcmp(argv[1], "crosswise") == 0;
    weight = aligned_alloc(64, sizeof(float) * ROWS * COLUMNS);
    if (!weight) { perror("aligned_alloc"); return 1; }
    for (int i = 0; i < ROWS * COLUMNS; i++) weight[i] = 1;
    pthread_barrier_init(&barrier, NULL, 2);
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    pthread_t threads[2];
    for (long t = 0; t < 2; t++)
        if (pthread_create(&threads[t], NULL, work, (void *)t) != 0) { perror("pthread_create"); return 1; }
    for (int t = 0; t < 2; t++) pthread_join(threads[t], NULL);
    clock_gettime(CLOCK_MONOTONIC, &b);
    const double us = ((double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec)) / ITERATIONS / 1e3;
    printf("%s %.1f us/iteration\n", argv[1], us);
    free(weight);
    return 0;
}
