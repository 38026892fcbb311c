// Which CPU the calling thread runs on, for kernels that give each core the same share of a
// tensor in every op so that its part stays in that core's cache (Swift's Glibc module does
// not export sched_getcpu).
#ifndef GRAPHC_CURRENT_CPU_H
#define GRAPHC_CURRENT_CPU_H

#ifdef __cplusplus
extern "C" {
#endif

/// The number of the CPU the calling thread is running on, or -1 where that is unknown.
int gc_current_cpu(void);

#ifdef __cplusplus
}
#endif
#endif
