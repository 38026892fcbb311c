// The row-vectorised convolution and weight gradient for few input channels
// (conv_rows_kernels.h), compiled once per instruction set by conv_rows.c through
// instantiate_isa.h (ISA, TILE_POSITIONS, TILE_BLOCKS, FMA, FMAV). A vector is 16 output
// columns of one channel; a group of output channels shares each tap's load, the group's
// accumulators sized to the ISA's register file.

#define GC_CAT2(a, b) a##_##b
#define GC_CAT(a, b) GC_CAT2(a, b)
#define GC_NAME(n) GC_CAT(n, ISA)
#define ROWS_GROUP (TILE_POSITIONS * TILE_BLOCKS < 16 ? TILE_POSITIONS * TILE_BLOCKS : 16)
/// The weight gradient's register tile: up to ROWS_GRAD_GROUP output channels x up to
/// ROWS_GRAD_COLUMNS kernel columns sharing each dy and x load, sized so that the tile, a
/// row's KW x vectors and a dy vector fit the ISA's registers (ROWS_GRAD_REGISTERS vectors of
/// 16: 32 on AVX-512, 8 on AVX2, 4 on SSE2, the ISA told apart by its blocked tile).
#define ROWS_GRAD_COLUMNS 7
#define ROWS_GRAD_GROUP 8
#define ROWS_GRAD_REGISTERS (TILE_BLOCKS > 1 ? 32 : TILE_POSITIONS > 2 ? 8 : 4)

/// Output channels [o0, o0 + count) at columns [ow0, ow0 + 16) of row oh; `xp` is the image's
/// padded planes, rows of `wp` floats, column ow + kj of a row being the tap (ow, kj); `w` the
/// packed weights [C, kh, kw, O] (a tap's output channels side by side).
static inline __attribute__((always_inline)) void GC_NAME(rows_group)(
    const gc_rows_geometry *g, const float *xp, long wp, const float *w, const float *bias, float *y,
    long o0, long oh, long ow0, const int count)
{
    v16 acc[ROWS_GROUP];
    for (int q = 0; q < count; q++) acc[q] = (v16){0};
    const long kh = g->kernel_h, kw = g->kernel_w, outs = g->out_channels;
    const long ih0 = oh * g->stride_h - g->pad_h;
    const long klo = ih0 < 0 ? -ih0 : 0, khi = g->height - ih0 < kh ? g->height - ih0 : kh;
    for (long c = 0; c < g->channels; c++)
        for (long ki = klo; ki < khi; ki++) {
            const float *row = xp + (c * g->height + ih0 + ki) * wp + ow0;
            const float *wk = w + ((c * kh + ki) * kw) * outs + o0;
            for (long kj = 0; kj < kw; kj++) {
                const v16 xv = *(const v16u *)(row + kj);
                for (int q = 0; q < count; q++) {
                    const float ws = wk[kj * outs + q];
                    acc[q] = FMA(acc[q], xv, ws);
                }
            }
        }
    const long ow_n = g->out_width, plane = g->out_height * ow_n;
    for (int q = 0; q < count; q++) {
        v16 v = acc[q];
        if (bias) { const float b = bias[o0 + q]; v += SPLAT16(b); }
        if (g->relu) v = relu16(v);
        float *dst = y + (o0 + q) * plane + oh * ow_n + ow0;
        if (ow_n >= 16) { *(v16u *)dst = v; continue; }
        float lanes[16];
        *(v16u *)lanes = v;
        for (long i = 0; i < ow_n; i++) dst[i] = lanes[i];
    }
}

/// Every output channel at columns [ow0, ow0 + 16) of row oh: full groups, then the rest
/// with its count a constant.
static inline __attribute__((always_inline)) void GC_NAME(rows_columns)(
    const gc_rows_geometry *g, const float *xp, long wp, const float *w, const float *bias, float *y, long oh, long ow0)
{
    long o0 = 0;
    for (; o0 + ROWS_GROUP <= g->out_channels; o0 += ROWS_GROUP)
        GC_NAME(rows_group)(g, xp, wp, w, bias, y, o0, oh, ow0, ROWS_GROUP);
    switch (g->out_channels - o0) {
#define GC_REST(n) case n: if ((n) < ROWS_GROUP) GC_NAME(rows_group)(g, xp, wp, w, bias, y, o0, oh, ow0, (n) < ROWS_GROUP ? (n) : 1); break;
        GC_REST(1) GC_REST(2) GC_REST(3) GC_REST(4) GC_REST(5) GC_REST(6) GC_REST(7) GC_REST(8)
        GC_REST(9) GC_REST(10) GC_REST(11) GC_REST(12) GC_REST(13) GC_REST(14) GC_REST(15)
#undef GC_REST
        default: break;
    }
}

/// Images [begin, end): each padded along the width into `scratch`, then row by row in
/// vectors of 16 columns, the last vector of a row ending at its last column (overlapping
/// the one before it, which stores the same values there).
static void GC_NAME(conv2d_rows)(const gc_rows_geometry *g, const float *x, const float *w, const float *bias,
                                 float *y, float *scratch, long begin, long end)
{
    const long wp = gc_rows_padded_width(g), ow_n = g->out_width;
    const long in_image = g->channels * g->height * g->width, out_image = g->out_channels * g->out_height * ow_n;
    for (long n = begin; n < end; n++) {
        gc_pad_planes(x + n * in_image, scratch, g->channels, g->height, g->width, 0, g->pad_w, g->height, wp);
        for (long oh = 0; oh < g->out_height; oh++)
            for (long ow0 = 0;; ow0 += 16) {
                const long at = ow0 + 16 <= ow_n || ow_n < 16 ? ow0 : ow_n - 16;
                GC_NAME(rows_columns)(g, scratch, wp, w, bias, y + n * out_image, oh, at);
                if (at + 16 >= ow_n) break;
            }
    }
}

/// Where the weight gradient's vectors of one dy row lie: `dy` rows of `stride` floats,
/// vectors at columns 0, 16, ... (`full` of them), then, where OW is not a multiple of 16, one
/// ending at the last column (`tail` its first column, or -1) whose first lanes, which the
/// vector before it summed, `keep` zeroes.
typedef struct { const float *dy; long stride, full, tail; i16v keep; } GC_NAME(dy_rows);

/// The weight gradient's sums of one image for output channels [o0, o0 + count), input
/// channel c and kernel row ki, KW kernel columns: `sums` holds them as vectors
/// [O, C, kh, kw][16] (lane l summing the columns of lane l of each vector), loaded, added to
/// and stored back. `xp` the image's planes padded along the width (rows of `wp` floats).
static inline __attribute__((always_inline)) void GC_NAME(grad_rows_group)(
    const gc_rows_geometry *g, const float *xp, long wp, const GC_NAME(dy_rows) *d, float *sums,
    long o0, long c, long ki, const int count, const int KW)
{
    v16 acc[ROWS_GRAD_GROUP][ROWS_GRAD_COLUMNS];
    const long taps = g->kernel_h * KW, dy_plane = g->out_height * d->stride;
    float *at = sums + ((o0 * g->channels + c) * taps + ki * KW) * 16;
    const long next = g->channels * taps * 16;   // from one output channel's sums to the next
    for (int q = 0; q < count; q++)
        for (int j = 0; j < KW; j++) acc[q][j] = *(const v16u *)(at + q * next + j * 16);
    for (long oh = 0; oh < g->out_height; oh++) {
        const long ih = oh * g->stride_h - g->pad_h + ki;
        if (ih < 0 || ih >= g->height) continue;
        const float *row = xp + (c * g->height + ih) * wp, *dyrow = d->dy + o0 * dy_plane + oh * d->stride;
        for (long v = 0; v <= d->full; v++) {
            const long ow0 = v < d->full ? v * 16 : d->tail;
            if (ow0 < 0) break;
            v16 xv[ROWS_GRAD_COLUMNS];
            for (int j = 0; j < KW; j++) xv[j] = *(const v16u *)(row + ow0 + j);
            for (int q = 0; q < count; q++) {
                v16 dv = *(const v16u *)(dyrow + q * dy_plane + ow0);
                if (v == d->full) dv = (v16)((i16v)dv & d->keep);
                for (int j = 0; j < KW; j++) acc[q][j] = FMAV(acc[q][j], dv, xv[j]);
            }
        }
    }
    for (int q = 0; q < count; q++)
        for (int j = 0; j < KW; j++) *(v16u *)(at + q * next + j * 16) = acc[q][j];
}

/// Every output channel's sums for input channel c and kernel row ki, KW a constant: in groups
/// that fit the registers, the rest one by one.
static inline __attribute__((always_inline)) void GC_NAME(grad_rows_kernel_row)(
    const gc_rows_geometry *g, const float *xp, long wp, const GC_NAME(dy_rows) *d, float *sums, long c, long ki,
    const int KW)
{
    const int fit = (ROWS_GRAD_REGISTERS - KW - 1) / KW;
    const int group = fit < 1 ? 1 : fit > ROWS_GRAD_GROUP ? ROWS_GRAD_GROUP : fit;
    long o0 = 0;
    for (; o0 + group <= g->out_channels; o0 += group) GC_NAME(grad_rows_group)(g, xp, wp, d, sums, o0, c, ki, group, KW);
    for (; o0 < g->out_channels; o0++) GC_NAME(grad_rows_group)(g, xp, wp, d, sums, o0, c, ki, 1, KW);
}

/// dw = the sums over images [begin, end), written (see gc_grad_weight_rows). A row narrower
/// than a vector is read from a copy padded with zeros to 16 columns (`scratch` past the x
/// planes); a wider one in place, its last vector overlapping the one before.
static void GC_NAME(grad_weight_rows)(const gc_rows_geometry *g, const float *x, const float *dy, float *dw,
                                      float *scratch, long begin, long end)
{
    const long wp = gc_rows_padded_width(g), weights = gc_conv2d_rows_weights(g), ow_n = g->out_width;
    const long in_image = g->channels * g->height * g->width, out_image = g->out_channels * g->out_height * ow_n;
    const int narrow = ow_n < 16;
    float *xp = scratch, *dyp = xp + g->channels * g->height * wp, *sums = dyp + (narrow ? g->out_channels * g->out_height * 16 : 0);
    GC_NAME(dy_rows) d = { NULL, narrow ? 16 : ow_n, narrow ? 1 : ow_n / 16, narrow || ow_n % 16 == 0 ? -1 : ow_n - 16, {0} };
    for (int l = 0; l < 16; l++) d.keep[l] = d.tail >= 0 && d.tail + l >= d.full * 16 ? -1 : 0;
    for (long i = 0; i < weights * 16; i++) sums[i] = 0;
    for (long n = begin; n < end; n++) {
        gc_pad_planes(x + n * in_image, xp, g->channels, g->height, g->width, 0, g->pad_w, g->height, wp);
        if (narrow) {
            gc_pad_planes(dy + n * out_image, dyp, g->out_channels * g->out_height, 1, ow_n, 0, 0, 1, 16);
            d.dy = dyp;
        } else {
            d.dy = dy + n * out_image;
        }
        for (long c = 0; c < g->channels; c++)
            for (long ki = 0; ki < g->kernel_h; ki++)
                switch (g->kernel_w) {
#define GC_KW(n) case n: GC_NAME(grad_rows_kernel_row)(g, xp, wp, &d, sums, c, ki, n); break;
                    GC_KW(1) GC_KW(2) GC_KW(3) GC_KW(4) GC_KW(5) GC_KW(6) GC_KW(7)
#undef GC_KW
                    default: break;
                }
    }
    // Lanes summed in a fixed order (pairs, then pairs of pairs).
    for (long i = 0; i < weights; i++) {
        float l[16];
        for (int k = 0; k < 16; k++) l[k] = sums[i * 16 + k];
        for (int width = 8; width >= 1; width /= 2)
            for (int k = 0; k < width; k++) l[k] = l[k] + l[k + width];
        dw[i] = l[0];
    }
}

#undef ROWS_GROUP
#undef ROWS_GRAD_COLUMNS
#undef ROWS_GRAD_GROUP
#undef ROWS_GRAD_REGISTERS
#undef GC_NAME
#undef GC_CAT
#undef GC_CAT2
