// Runtime dispatch over the compilations of winograd_grad_weight_body.h (instantiate_isa.h:
// AVX-512F, AVX2+FMA, SSE2) by the instruction set gc_conv_isa() reports, the packing of each
// image and the output transform.
#include "winograd_grad_weight_kernels.h"
#include "conv_kernels.h"
#include "transpose16.h"

#define GC_ISA_BODY "winograd_grad_weight_body.h"
#include "instantiate_isa.h"

static long lanes(long channels) { return (channels + 15) / 16 * 16; }
static long tiles_h(const gc_grad_weight_geometry *g) { return (g->out_height + 3) / 4; }
static long tiles_w(const gc_grad_weight_geometry *g) { return (g->out_width + 3) / 4; }
static long tiles(const gc_grad_weight_geometry *g) { return tiles_h(g) * tiles_w(g); }

/// Per-image buffers: x's patches [tiles_h*4 + 2, tiles_w*4 + 2, lanes(C)] and dy's tiles
/// [tiles_h*4, tiles_w*4, lanes(O)], channels last.
static long x_patches(const gc_grad_weight_geometry *g) { return (tiles_h(g) * 4 + 2) * (tiles_w(g) * 4 + 2) * lanes(g->channels); }
static long dy_tiles(const gc_grad_weight_geometry *g) { return tiles_h(g) * 4 * tiles_w(g) * 4 * lanes(g->out_channels); }
static long per_image(const gc_grad_weight_geometry *g) {
    return 36 * tiles(g) * (lanes(g->channels) + lanes(g->out_channels));
}

int gc_winograd_grad_weight_fits(const gc_grad_weight_geometry *g) {
    return g->kernel_h == 3 && g->kernel_w == 3 && g->stride_h == 1 && g->stride_w == 1 && g->dilation_h == 1 &&
           g->dilation_w == 1 && g->pad_h >= 0 && g->pad_w >= 0 && g->out_height > 0 && g->out_width > 0 &&
           g->channels > 0 && g->out_channels > 0;
}

long gc_winograd_grad_weight_sums(const gc_grad_weight_geometry *g) { return 36 * g->channels * lanes(g->out_channels); }

long gc_winograd_grad_weight_group_images(const gc_grad_weight_geometry *g, long images) {
    const long each = per_image(g);
    long fit = 131072 / (each > 0 ? each : 1);
    if (fit < 1) fit = 1;
    const long spread = (images + 7) / 8;
    return spread < fit ? (spread < 1 ? 1 : spread) : fit;
}

long gc_winograd_grad_weight_scratch(const gc_grad_weight_geometry *g, long images) {
    return 16 + x_patches(g) + dy_tiles(g) + images * per_image(g);
}

static void transform_x(const float *xp, long wpp, long lanes, long th, long tw, float *v, long point, long k0) {
    GC_DISPATCH(wg_transform_x, xp, wpp, lanes, th, tw, v, point, k0)
}

static void transform_dy(const float *dyp, long width, long lanes, long th, long tw, float *u, long point, long k0) {
    GC_DISPATCH(wg_transform_dy, dyp, width, lanes, th, tw, u, point, k0)
}

static void products(const float *u, const float *v, float *s, long k_count, long channels, long ol, long cl,
                     int accumulate) {
    GC_DISPATCH(wg_products, u, v, s, k_count, channels, ol, cl, accumulate)
}

static void place(const float *src, long channels, long rows, long width, float *dst, long dst_width, long top, long left,
                  long max_rows, long max_width, long lanes) {
    GC_DISPATCH(wg_place, src, channels, rows, width, dst, dst_width, top, left, max_rows, max_width, lanes)
}

void gc_winograd_grad_weight_images(const gc_grad_weight_geometry *g, const float *x, const float *dy, float *scratch,
                                    float *sums, long begin, long end, int accumulate) {
    const long count = end - begin;
    if (count <= 0) return;
    const long cl = lanes(g->channels), ol = lanes(g->out_channels), th = tiles_h(g), tw = tiles_w(g);
    const long k_count = count * th * tw, wpp = tw * 4 + 2;
    // Whole cache lines for the transformed tiles (each buffer's size is a multiple of 16 floats).
    float *xp = (float *)(((__UINTPTR_TYPE__)scratch + 63) & ~(__UINTPTR_TYPE__)63), *dyp = xp + x_patches(g), *u = dyp + dy_tiles(g);
    float *v = u + 36 * k_count * ol;
    for (long i = 0; i < x_patches(g); i++) xp[i] = 0;
    for (long i = 0; i < dy_tiles(g); i++) dyp[i] = 0;
    const long plane = g->height * g->width, out_plane = g->out_height * g->out_width;
    for (long n = begin; n < end; n++) {
        const long k0 = (n - begin) * th * tw;
        place(x + n * g->channels * plane, g->channels, g->height, g->width, xp, wpp, g->pad_h, g->pad_w,
              g->out_height + 2, g->out_width + 2, cl);
        transform_x(xp, wpp, cl, th, tw, v, k_count * cl, k0);
        place(dy + n * g->out_channels * out_plane, g->out_channels, g->out_height, g->out_width, dyp, tw * 4, 0, 0,
              th * 4, tw * 4, ol);
        transform_dy(dyp, tw * 4, ol, th, tw, u, k_count * ol, k0);
    }
    products(u, v, sums, k_count, g->channels, ol, cl, accumulate);
}

void gc_winograd_grad_weight_output(const gc_grad_weight_geometry *g, float *sums, long runs, float *dw, long begin,
                                    long end) {
    // G of F(4x4, 3x3): the output transform of F(3x3, 4x4), applied as G^T S G, 16 output
    // channels at a time (loops over 16 lanes, which the compiler vectorises).
    static const float G[6][3] = {{1.0f / 4, 0, 0},          {-1.0f / 6, -1.0f / 6, -1.0f / 6}, {-1.0f / 6, 1.0f / 6, -1.0f / 6},
                                  {1.0f / 24, 1.0f / 12, 1.0f / 6}, {1.0f / 24, -1.0f / 12, 1.0f / 6}, {0, 0, 1}};
    const long ol = lanes(g->out_channels), channels = g->channels, out = g->out_channels;
    const long size = gc_winograd_grad_weight_sums(g);
    for (int p = 0; p < 36; p++) {
        float *first = sums + (p * channels + begin) * ol;
        for (long run = 1; run < runs; run++) {
            const float *part = first + run * size;
            for (long i = 0; i < (end - begin) * ol; i++) first[i] += part[i];
        }
    }
    for (long c = begin; c < end; c++)
        for (long o0 = 0; o0 < ol; o0 += 16) {
            float t[6][3][16], y[3][3][16];
            for (int p = 0; p < 6; p++)
                for (int b = 0; b < 3; b++) {
                    for (int l = 0; l < 16; l++) t[p][b][l] = 0;
                    for (int q = 0; q < 6; q++) {
                        const float *s = sums + ((p * 6 + q) * channels + c) * ol + o0;
                        for (int l = 0; l < 16; l++) t[p][b][l] += s[l] * G[q][b];
                    }
                }
            for (int a = 0; a < 3; a++)
                for (int b = 0; b < 3; b++) {
                    for (int l = 0; l < 16; l++) y[a][b][l] = 0;
                    for (int p = 0; p < 6; p++)
                        for (int l = 0; l < 16; l++) y[a][b][l] += G[p][a] * t[p][b][l];
                }
            for (long l = 0; l < 16 && o0 + l < out; l++)
                for (int a = 0; a < 3; a++)
                    for (int b = 0; b < 3; b++) dw[(((o0 + l) * channels + c) * 3 + a) * 3 + b] = y[a][b][l];
        }
}
