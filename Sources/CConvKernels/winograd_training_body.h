// Block moves for the training convolutions' Winograd form, compiled once per instruction set
// by winograd_training.c (see instantiate_isa.h for ISA). One `v16` is sixteen floats: a row
// of sixteen positions of one channel, or one position's sixteen channels.

#define GC_CAT2(a, b) a##_##b
#define GC_CAT(a, b) GC_CAT2(a, b)
#define GC_NAME(n) GC_CAT(n, ISA)

// One step of the 16x16 transpose: rows i and i + h (i without bit h) swap the block of
// columns with bit h set in row i with the block with it clear in row i + h.
#define GC_SWAP_8(a, b) do { const v16 a_ = (a), b_ = (b); \
    (a) = __builtin_shufflevector(a_, b_, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23); \
    (b) = __builtin_shufflevector(a_, b_, 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31); } while (0)
#define GC_SWAP_4(a, b) do { const v16 a_ = (a), b_ = (b); \
    (a) = __builtin_shufflevector(a_, b_, 0, 1, 2, 3, 16, 17, 18, 19, 8, 9, 10, 11, 24, 25, 26, 27); \
    (b) = __builtin_shufflevector(a_, b_, 4, 5, 6, 7, 20, 21, 22, 23, 12, 13, 14, 15, 28, 29, 30, 31); } while (0)
#define GC_SWAP_2(a, b) do { const v16 a_ = (a), b_ = (b); \
    (a) = __builtin_shufflevector(a_, b_, 0, 1, 16, 17, 4, 5, 20, 21, 8, 9, 24, 25, 12, 13, 28, 29); \
    (b) = __builtin_shufflevector(a_, b_, 2, 3, 18, 19, 6, 7, 22, 23, 10, 11, 26, 27, 14, 15, 30, 31); } while (0)
#define GC_SWAP_1(a, b) do { const v16 a_ = (a), b_ = (b); \
    (a) = __builtin_shufflevector(a_, b_, 0, 16, 2, 18, 4, 20, 6, 22, 8, 24, 10, 26, 12, 28, 14, 30); \
    (b) = __builtin_shufflevector(a_, b_, 1, 17, 3, 19, 5, 21, 7, 23, 9, 25, 11, 27, 13, 29, 15, 31); } while (0)

/// r[k][l] becomes r[l][k].
static inline __attribute__((always_inline)) void GC_NAME(transpose16)(v16 *r) {
    for (int i = 0; i < 8; i++) GC_SWAP_8(r[i], r[i + 8]);
    for (int i = 0; i < 16; i++) if (!(i & 4)) GC_SWAP_4(r[i], r[i + 4]);
    for (int i = 0; i < 16; i++) if (!(i & 2)) GC_SWAP_2(r[i], r[i + 2]);
    for (int i = 0; i < 16; i += 2) GC_SWAP_1(r[i], r[i + 1]);
}

static void GC_NAME(winograd_to_block)(const float *x, float *y, long count, long plane) {
    long i = 0;
    for (; i + 16 <= plane; i += 16) {
        v16 r[16];
        for (int c = 0; c < 16; c++) r[c] = c < count ? *(const v16u *)(x + c * plane + i) : (v16){0};
        GC_NAME(transpose16)(r);
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
        GC_NAME(transpose16)(r);
        for (int c = 0; c < 16; c++) if (c < count) *(v16u *)(y + c * plane + i) = r[c];
    }
    for (; i < plane; i++)
        for (long c = 0; c < count; c++) y[c * plane + i] = x[i * 16 + c];
}

#undef GC_SWAP_8
#undef GC_SWAP_4
#undef GC_SWAP_2
#undef GC_SWAP_1
#undef GC_NAME
#undef GC_CAT
#undef GC_CAT2
