// The convolution weight gradient as a direct kernel (no im2col, no GEMM), in C for the same
// reason as conv_kernels.h: one binary carries AVX-512, AVX2+FMA and SSE2 code.
//
// dW[o, c, a, b] = sum over images n and output positions (i, j) of
//     dy[n, o, i, j] * x[n, c, i*stride_h - pad_h + a*dilation_h, j*stride_w - pad_w + b*dilation_w]
// (taps in the padding read zero). Each image is first packed: x padded with the zeros the
// taps read ([C, padded_height, padded_width]) and dy transposed to [OH*OW, O/16 rounded up, 16]
// (lanes past O zero). A register tile then holds 16-channel output blocks x a run of dW's
// columns (c, a, b) and sums over every position of a run of images, one vector FMA per
// (block, column) and position: the sum's order is fixed by the tile, never by threads.
#ifndef GRAPHC_CONV_GRAD_KERNELS_H
#define GRAPHC_CONV_GRAD_KERNELS_H

#ifdef __cplusplus
extern "C" {
#endif

/// One weight gradient's geometry (one group: C input channels, O output channels).
typedef struct {
    long channels, out_channels;
    long height, width;             // x's plane
    long out_height, out_width;     // dy's plane (both at least 1)
    long kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w, dilation_h, dilation_w;
} gc_grad_weight_geometry;

/// Images per group: a group's packed images fill about a second-level cache (256 KB), and
/// a batch of `images` makes at least 8 groups where it can (so two or more threads share
/// the work). A function of the shape alone, so results do not depend on the thread count.
long gc_grad_weight_group_images(const gc_grad_weight_geometry *g, long images);

/// Floats of scratch memory gc_grad_weight_images needs for `images` images.
long gc_grad_weight_scratch(const gc_grad_weight_geometry *g, long images);

/// Writes (not adds) dw [O, C, kh, kw] summed over images [begin, end) of x [N, C, H, W] and
/// dy [N, O, OH, OW]: packs them into `scratch` (gc_grad_weight_scratch(g, end - begin)
/// floats), then sums tile by tile.
void gc_grad_weight_images(const gc_grad_weight_geometry *g, const float *x, const float *dy, float *scratch,
                           float *dw, long begin, long end);

/// Copies `planes` planes [height, width] of x into xp [padded_height, padded_width], plane
/// row r and column q holding x's r - pad_h, q - pad_w, or zero outside x (the padding the
/// windows of a convolution read, made explicit; rows and columns past what xp holds dropped).
void gc_pad_planes(const float *x, float *xp, long planes, long height, long width, long pad_h, long pad_w,
                   long padded_height, long padded_width);

#ifdef __cplusplus
}
#endif
#endif
