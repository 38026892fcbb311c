// Pins the calling thread to one CPU (the bench's C tools: core_round_trip.c, split_alignment.c).
#pragma once
#include <pthread.h>
#include <sched.h>

static inline void pin_thread(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}
