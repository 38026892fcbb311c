// gc_current_cpu (include/current_cpu.h).
#if defined(__linux__)
#define _GNU_SOURCE
#include <sched.h>
#endif
#include "current_cpu.h"

int gc_current_cpu(void) {
#if defined(__linux__)
    return sched_getcpu();
#else
    return -1;
#endif
}
