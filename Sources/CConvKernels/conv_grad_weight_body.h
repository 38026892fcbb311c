// The direct weight gradient (conv_grad_kernels.h), compiled once per instruction set by
// conv_grad_weight.c through instantiate_isa.h (ISA, TILE_POSITIONS, TILE_BLOCKS, FMA). The
// register tile is the blocked convolution's, with dW's columns in place of output positions:
// TILE_BLOCKS output blocks x TILE_POSITIONS columns.

#define GC_GCAT2(a, b) a##_##b
#define GC_GCAT(a, b) GC_GCAT2(a, b)
#define GC_GNAME(n) GC_GCAT(n, ISA)

/// `blocks` output blocks from `ob` x TILE_POSITIONS columns from `col0` (`off`: each column's
/// offset in a padded image; columns past the last read offset 0 and are not stored), summed
/// over packed images [begin, end) and every output position.
static inline __attribute__((always_inline)) void GC_GNAME(grad_weight_block)(
    const gc_grad_weight_geometry *g, const float *xp, const float *dyt, float *dw, long col0, long ob,
    long begin, long end, const long *off, const int blocks)
{
    v16 acc[TILE_BLOCKS][TILE_POSITIONS];
    for (int b = 0; b < blocks; b++)
        for (int c = 0; c < TILE_POSITIONS; c++) acc[b][c] = (v16){0};
    const long padded = padded_image(g), transposed = transposed_image(g);
    const long lanes = (g->out_channels + 15) / 16 * 16;
    const long wp = (g->out_width - 1) * g->stride_w + (g->kernel_w - 1) * g->dilation_w + 1;
    const long row_step = g->stride_h * wp, sw = g->stride_w, ow = g->out_width;
    for (long n = begin; n < end; n++) {
        const float *xi = xp + n * padded, *di = dyt + n * transposed + ob * 16;
        for (long i = 0; i < g->out_height; i++) {
            const float *xr = xi + i * row_step, *dr = di + i * ow * lanes;
            for (long j = 0; j < ow; j++) {
                const float *xs = xr + j * sw;
                v16 d[TILE_BLOCKS];
                for (int b = 0; b < blocks; b++) d[b] = *(const v16u *)(dr + j * lanes + b * 16);
                for (int c = 0; c < TILE_POSITIONS; c++) {
                    const float s = xs[off[c]];
                    for (int b = 0; b < blocks; b++) acc[b][c] = FMA(acc[b][c], d[b], s);
                }
            }
        }
    }
    const long columns = g->channels * g->kernel_h * g->kernel_w;
    for (int b = 0; b < blocks; b++)
        for (int c = 0; c < TILE_POSITIONS && col0 + c < columns; c++) {
            float v[16];
            __builtin_memcpy(v, &acc[b][c], sizeof v);
            for (long l = 0; l < 16 && (ob + b) * 16 + l < g->out_channels; l++)
                dw[((ob + b) * 16 + l) * columns + col0 + c] = v[l];
        }
}

/// dy [O, P] of one image into dyt [P, lanes] (lanes: O rounded up to 16, the rest zero):
/// 16x16 squares (GC_TRANSPOSE16), the ragged edges one float at a time.
static void GC_GNAME(transpose_dy)(const float *dy, float *dyt, long channels, long positions, long lanes) {
    const long full_o = channels / 16 * 16, full_p = positions / 16 * 16;
    for (long o0 = 0; o0 < full_o; o0 += 16)
        for (long p0 = 0; p0 < full_p; p0 += 16) {
            v16 r[16];
            for (int i = 0; i < 16; i++) r[i] = *(const v16u *)(dy + (o0 + i) * positions + p0);
            GC_TRANSPOSE16(r);
            for (int i = 0; i < 16; i++) *(v16u *)(dyt + (p0 + i) * lanes + o0) = r[i];
        }
    for (long p = 0; p < positions; p++) {
        float *dst = dyt + p * lanes;
        const long from = p < full_p ? full_o : 0;
        for (long o = from; o < channels; o++) dst[o] = dy[o * positions + p];
        for (long o = channels; o < lanes; o++) dst[o] = 0;
    }
}

static void GC_GNAME(grad_weight_tile)(const gc_grad_weight_geometry *g, const float *xp, const float *dyt, float *dw,
                                       long tile, long begin, long end) {
    const long taps = g->kernel_h * g->kernel_w, columns = g->channels * taps;
    const long hp = (g->out_height - 1) * g->stride_h + (g->kernel_h - 1) * g->dilation_h + 1;
    const long wp = (g->out_width - 1) * g->stride_w + (g->kernel_w - 1) * g->dilation_w + 1;
    const long col0 = tile * TILE_POSITIONS;
    long off[TILE_POSITIONS];
    for (int c = 0; c < TILE_POSITIONS; c++) {
        const long col = col0 + c;
        if (col >= columns) { off[c] = 0; continue; }
        const long ch = col / taps, t = col % taps, a = t / g->kernel_w, b = t % g->kernel_w;
        off[c] = ch * hp * wp + a * g->dilation_h * wp + b * g->dilation_w;
    }
    const long out_blocks = (g->out_channels + 15) / 16;
    long ob = 0;
    for (; ob + TILE_BLOCKS <= out_blocks; ob += TILE_BLOCKS)
        GC_GNAME(grad_weight_block)(g, xp, dyt, dw, col0, ob, begin, end, off, TILE_BLOCKS);
    for (; ob < out_blocks; ob++) GC_GNAME(grad_weight_block)(g, xp, dyt, dw, col0, ob, begin, end, off, 1);
}

#undef GC_GCAT2
#undef GC_GCAT
#undef GC_GNAME
