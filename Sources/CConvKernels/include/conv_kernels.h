// Convolution kernels over a blocked channel layout (NCHWc, c = 16), in C so that one binary
// carries AVX-512, AVX2+FMA and SSE2 code and picks one at run time (never -march=native).
//
// Layouts (row-major):
//   blocked activation  [N, C/16, H, W, 16]
//   plain activation    [N, C, H, W]          (a blocked conv may read it: "in_block" 1)
//   packed weight       [O/16, C/ib, kh, kw, ib, 16]   ib = the input's block (1 or 16)
#ifndef GRAPHC_CONV_KERNELS_H
#define GRAPHC_CONV_KERNELS_H

#include <stddef.h>
#include "winograd_kernels.h"
#include "conv_rows_kernels.h"

#ifdef __cplusplus
extern "C" {
#endif

/// Channels per block of the blocked layout, whatever the CPU: AVX-512 holds one block in a
/// register, AVX2 two halves, SSE four quarters. One layout for every CPU keeps the compiled
/// graph (and its IR) the same on every machine.
#define GC_CHANNEL_BLOCK 16

/// The instruction set the kernels run with: 3 AVX-512F, 2 AVX2+FMA, 1 SSE2.
int gc_conv_isa(void);
/// The best instruction set the CPU reports (what gc_conv_isa() gives unless limited).
int gc_conv_best_isa(void);
/// Forces a lower instruction set (for tests of every path on one machine); returns the one
/// in use, which is never above what the CPU supports. 0 restores the best.
int gc_conv_set_isa(int isa);

/// One blocked convolution's geometry.
typedef struct {
    long in_block;          // 1 (plain NCHW input) or 16
    long in_blocks;         // C / in_block
    long height, width;     // input
    long out_blocks;        // O / 16
    long out_height, out_width;
    long kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w;
    int relu;               // apply max(0, .) last
} gc_conv_geometry;

/// Work items of one image (split them over threads; each writes disjoint output).
long gc_conv2d_blocked_items(const gc_conv_geometry *g);

/// y = act(conv(x, w) * scale + shift (+ residual)) for items [begin, end) of image `image`.
/// scale and shift are [O]; residual (may be NULL) has y's blocked shape.
void gc_conv2d_blocked(const gc_conv_geometry *g, const float *x, const float *packed_weight,
                       const float *scale, const float *shift, const float *residual, float *y,
                       long image, long begin, long end);

/// Work items of one image for gc_conv2d_maxpool (g's out_height and out_width are the
/// convolution's, before pooling).
long gc_conv2d_maxpool_items(const gc_conv_geometry *g);

/// y = maxpool2x2(act(conv(x, w) * scale + shift)), 2x2 windows at stride 2 (an odd last row
/// or column pools nowhere), y blocked [N, O/16, out_height/2, out_width/2, 16], for items
/// [begin, end) of image `image`; each value as the unfused blocked kernels give it.
void gc_conv2d_maxpool(const gc_conv_geometry *g, const float *x, const float *packed_weight,
                       const float *scale, const float *shift, float *y, long image, long begin, long end);

/// Packs w [O, C, kh, kw] into [O/16, C/ib, kh, kw, ib, 16] for output blocks [begin, end).
void gc_pack_conv_weight(const float *w, float *packed, long out_channels, long in_channels,
                         long kernel_h, long kernel_w, long in_block, long begin, long end);

/// [N, C, H*W] -> [N, C/16, H*W, 16] for planes (image * C/16 + block) [begin, end).
void gc_reorder_to_blocked(const float *x, float *y, long channels, long plane, long begin, long end);
/// [N, C/16, H*W, 16] -> [N, C, H*W] for planes [begin, end).
void gc_reorder_from_blocked(const float *x, float *y, long channels, long plane, long begin, long end);

/// Max pooling of blocked [N, Cb, H, W, 16] for planes (image * Cb + block) [begin, end);
/// padding never wins, a NaN does, a window entirely in padding gives -inf.
void gc_maxpool2d_blocked(const float *x, float *y, long height, long width, long out_height, long out_width,
                          long kernel_h, long kernel_w, long stride_h, long stride_w, long pad_h, long pad_w,
                          long begin, long end);

#ifdef __cplusplus
}
#endif
#endif
