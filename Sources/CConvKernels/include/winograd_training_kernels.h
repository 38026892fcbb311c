// The plain-layout side of the training convolutions' Winograd form (Runtime's
// ConvolutionWinograd.swift): one image's channels moved between the plain layout [C, plane]
// and one block of the blocked layout [plane, 16] (winograd_kernels.h reads and writes
// blocks), sixteen positions at a time by an in-register 16x16 transpose.
#ifndef GRAPHC_WINOGRAD_TRAINING_KERNELS_H
#define GRAPHC_WINOGRAD_TRAINING_KERNELS_H

#ifdef __cplusplus
extern "C" {
#endif

/// y [plane, 16] = the `count` (1-16) channels x [count, plane] of one block, its lanes from
/// `count` on zero.
void gc_winograd_to_block(const float *x, float *y, long count, long plane);

/// y [count, plane] = lanes [0, count) of the block x [plane, 16] (count 1-16).
void gc_winograd_from_block(const float *x, float *y, long count, long plane);

#ifdef __cplusplus
}
#endif
#endif
