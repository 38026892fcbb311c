// The weight gradient of a 3x3, stride-1, undilated convolution by Winograd's minimal
// filtering F(3x3, 4x4): each 3x3 weight gradient is a correlation of x with dy, so dy's
// output plane is cut into 4x4 tiles (the "filter") over 6x6 patches of x, and
//
//     dW[o, c] = G^T [ sum over images and tiles of (A g A^T)[o] . (B^T d B)[c] ] G
//
// with g a 4x4 tile of dy[n, o], d the 6x6 patch of x[n, c] under it, and A, B, G the
// matrices of the forward F(4x4, 3x3) (winograd_kernels.h; points 0, +-1, +-2, infinity) in
// swapped roles (by the transposition principle: F(3, 4) takes A as its filter transform
// and G^T as its output transform). The sum in the transform domain is, per point of the
// 6x6, one product [O x K] . [K x C] over K = images x tiles: 36 products of 16 times fewer
// terms than the direct kernel's (36 x 9 tiles against 9 taps x 144 positions per image).
// Tiles past dy's plane read zeros.
//
// Layouts (row-major; lanes: O or C rounded up to 16, the rest zero):
//   transformed dy U   [36, K, lanes(O)]      transformed x V   [36, K, lanes(C)]
//   transform-domain sums S [36, C, lanes(O)]  (gc_winograd_grad_weight_sums floats)
// Each sum runs over K in order (images in order, tiles row by row) in a register tile, so
// the result is fixed by the images' split into groups, never by threads.
#ifndef GRAPHC_WINOGRAD_GRAD_WEIGHT_KERNELS_H
#define GRAPHC_WINOGRAD_GRAD_WEIGHT_KERNELS_H

#include "conv_grad_kernels.h"

#ifdef __cplusplus
extern "C" {
#endif

/// Whether the kernel takes the geometry: a 3x3 window, stride 1, dilation 1, padding not
/// negative, a non-empty output plane.
int gc_winograd_grad_weight_fits(const gc_grad_weight_geometry *g);

/// Floats of one transform-domain sum S: 36 x C x lanes(O).
long gc_winograd_grad_weight_sums(const gc_grad_weight_geometry *g);

/// Images per group: a group's transformed images fill about 512 KB, and a batch of `images`
/// makes at least 8 groups where it can. A function of the shape alone.
long gc_winograd_grad_weight_group_images(const gc_grad_weight_geometry *g, long images);

/// Floats of scratch memory gc_winograd_grad_weight_images needs for `images` images.
long gc_winograd_grad_weight_scratch(const gc_grad_weight_geometry *g, long images);

/// Sums images [begin, end) of x [N, C, H, W] and dy [N, O, OH, OW] into the transform-domain
/// sum S (`accumulate` 0: written; otherwise added to what S holds, each element's running
/// sum continued in the same order), using `scratch` (gc_winograd_grad_weight_scratch(g,
/// end - begin) floats).
void gc_winograd_grad_weight_images(const gc_grad_weight_geometry *g, const float *x, const float *dy, float *scratch,
                                    float *sums, long begin, long end, int accumulate);

/// Input channels [begin, end) of dw [O, C, 3, 3] = G^T S G, S the sum of `runs`
/// transform-domain sums one after another in `sums` (added into the first in run order, each
/// element on its own, so the channels can be split over threads).
void gc_winograd_grad_weight_output(const gc_grad_weight_geometry *g, float *sums, long runs, float *dw, long begin,
                                    long end);

#ifdef __cplusplus
}
#endif
#endif
