// Winograd F(4x4, 3x3) convolution over the blocked channel layout (see conv_kernels.h):
// each 4x4 output tile is A^T [(G g G^T) . (B^T d B)] A over a 6x6 input patch d, so a 3x3
// stride-1 convolution takes 36 products per 16 outputs instead of 144 (Lavin and Gray,
// "Fast Algorithms for Convolutional Neural Networks", 2016; interpolation points 0, +-1,
// +-2 and infinity).
//
// Layouts (row-major):
//   blocked activation    [N, C/16, H, W, 16]
//   transformed weight U  [36, O/16, C, 16]    (36 = the 6x6 points, G g G^T)
#ifndef GRAPHC_WINOGRAD_KERNELS_H
#define GRAPHC_WINOGRAD_KERNELS_H

#ifdef __cplusplus
extern "C" {
#endif

/// Output positions per tile side and input positions per patch side.
#define GC_WINOGRAD_TILE 4
#define GC_WINOGRAD_PATCH 6
#define GC_WINOGRAD_POINTS 36

/// One Winograd convolution's geometry; `gc_winograd_plan` fills the last four fields.
typedef struct {
    long in_blocks;                 // C / 16
    long out_blocks;                // O / 16
    long height, width;             // input
    long out_height, out_width;     // height + 2 pad_h - 2, width + 2 pad_w - 2
    long pad_h, pad_w;
    int relu;                       // apply max(0, .) last
    long tiles_h, tiles_w;          // 4x4 output tiles per column and row
    long tile_block;                // tiles per work item
    long out_group;                 // output blocks per work item
} gc_winograd_geometry;

/// Splits the work for `threads` threads: tiles per item sized so an item's transformed
/// input stays in the second-level cache, output blocks split until there are a few items per
/// thread. How the work is split never changes a result (each output sums its channels in
/// the same order whatever the split).
void gc_winograd_plan(gc_winograd_geometry *g, long threads);

/// `gc_winograd_plan`'s split (variant 0) or one of its neighbours, for the tuner to time:
/// 1 twice the tiles per item, 2 half, 3 no output-block groups, 4 twice the groups. Returns
/// 0 (the geometry then holds the default plan) when the variant does not exist for this
/// shape or equals the default. Every variant gives the same bits.
int gc_winograd_plan_variant(gc_winograd_geometry *g, long threads, int variant);

/// Work items of one image (after `gc_winograd_plan`); each writes disjoint output.
long gc_winograd_items(const gc_winograd_geometry *g);

/// Floats of scratch one caller of `gc_winograd_conv2d` needs (its items' transformed input
/// and products).
long gc_winograd_scratch_floats(const gc_winograd_geometry *g);

/// y = act(conv3x3(x, w) * scale + shift (+ residual)) for items [begin, end) of image
/// `image`, from the transformed weight u; scale and shift are [O]; residual (may be NULL) has
/// y's blocked shape; scratch holds `gc_winograd_scratch_floats` floats.
void gc_winograd_conv2d(const gc_winograd_geometry *g, const float *x, const float *u, const float *scale,
                        const float *shift, const float *residual, float *y, float *scratch,
                        long image, long begin, long end);

/// u = G w G^T of w [O, C, 3, 3] into [36, O/16, C, 16] for output blocks [begin, end) (of
/// O/16), in float (its rounding is far below the Winograd arithmetic's own).
void gc_winograd_weight_transform(const float *w, float *u, long out_channels, long in_channels, long begin, long end);

#ifdef __cplusplus
}
#endif
#endif
