// Block moves for the training convolutions' Winograd form, compiled once per instruction set
// by winograd_training.c (see instantiate_isa.h for ISA). One `v16` is sixteen floats: a row
// of sixteen positions of one channel, or one position's sixteen channels.

#define GC_CAT2(a, b) a##_##b
#define GC_CAT(a, b) GC_CAT2(a, b)
#define GC_NAME(n) GC_CAT(n, ISA)

static void GC_NAME(winograd_to_block)(const float *x, float *y, long count, long plane) {
    long i = 0;
    for (; i + 16 <= plane; i += 16) {
        v16 r[16];
        for (int c = 0; c < 16; c++) r[c] = c < count ? *(const v16u *)(x + c * plane + i) : (v16){0};
        GC_TRANSPOSE16(r);
        for (int k = 0; k < 16; k++) *(v16u *)(y + (i + k) * 16) = r[k];
    }
    for (; i < plane; i++)
        for (long c = 0; c < 16; c++) y[i * 16 + c] = c < count ? x[c * plane + i] : 0;
}

static void GC_NAME(winograd_from_block)(const float *x, float *y, long count, long plane) {
    long i = 0;
    for (; i + 16 <= plane; i += 16) {
        v16 r[16];
        for (int k = 0; k < 16; k++) r[k] = *(const v16u *)(x + (i + k) * 16);
        GC_TRANSPOSE16(r);
        for (int c = 0; c < 16; c++) if (c < count) *(v16u *)(y + c * plane + i) = r[c];
    }
    for (; i < plane; i++)
        for (long c = 0; c < count; c++) y[c * plane + i] = x[i * 16 + c];
}

#undef GC_NAME
#undef GC_CAT
#undef GC_CAT2
