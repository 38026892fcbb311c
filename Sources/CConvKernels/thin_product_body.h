// The thin-product kernels, compiled once per instruction set (thin_product.c includes
// instantiate_isa.h, which defines ISA inside a `#pragma clang attribute` target region).
// Vectors are as wide as the ISA's registers (16, 8 or 4 floats), and the register tiles are
// sized to its register file. `a + b * c` contracts to a fused multiply-add where the ISA has
// one (clang's default -ffp-contract=on), so results differ between instruction sets by
// rounding, never between runs, thread counts or column splits.
//
// b [k, n] (y = a · b): rows of a by vectors of columns of y, each a's element broadcast and
// each row of b's tile read once from memory, so the weight is streamed once for up to a
// tile of rows; where more tiles of rows follow and the tile is one line wide, they read a
// copy of the block of b that the first one made (NN_PACKS). Each output is a sum over k in
// order, whatever the blocks and tiles.
// b [n, k] (y = a · bᵀ, b a weight read as it is stored): each output is a dot product of a
// row of a with a row of b, kept as lane partials; a tile's outputs are summed across their
// lanes at the end by trees of shuffles, as many outputs as lanes per tree (each output's
// lanes summed in the same order wherever it sits in the tile, whatever the tile's size),
// then the tail of k one by one. Between blocks of k the partials wait in a scratch (stored
// and loaded unchanged, so the blocks do not change the bits), so that each block of b stays
// in L1 for all of a. The other way, a transposed copy of the weight made once per step,
// would need a new op and a pass and cost a pass over the weight per step, for a tree that
// takes a few percent of the work.

#define GC_TCAT2(a, b) a##_##b
#define GC_TCAT(a, b) GC_TCAT2(a, b)
#define GC_TNAME(n) GC_TCAT(n, ISA)
#define GC_TINLINE static inline __attribute__((always_inline))

#ifndef GC_THIN_TYPES
#define GC_THIN_TYPES
typedef float gc_tv16 __attribute__((vector_size(64)));
typedef float gc_tv16u __attribute__((vector_size(64), aligned(4)));
typedef float gc_tv8 __attribute__((vector_size(32)));
typedef float gc_tv8u __attribute__((vector_size(32), aligned(4)));
typedef float gc_tv4 __attribute__((vector_size(16)));
typedef float gc_tv4u __attribute__((vector_size(16), aligned(4)));
#endif

// TW lanes; NN tile: NN_ROWS x NN_VECTORS accumulators; TN tile: TN_ROWS x TN_COLUMNS
// outputs, summed TW at a time (TN_TREES trees).
#if TILE_POSITIONS == GC_AVX512_TILE_POSITIONS
#define TV gc_tv16
#define TVU gc_tv16u
#define TW 16
#define NN_ROWS 8
#define NN_VECTORS 3
#define TN_ROWS 4
#define TN_COLUMNS 4
#elif TILE_POSITIONS == GC_AVX2_TILE_POSITIONS
#define TV gc_tv8
#define TVU gc_tv8u
#define TW 8
// Not 4 x 3: 12 accumulators, 3 vectors of b and a broadcast fill all 16 registers, and clang
// then keeps one accumulator in memory inside the loop (46 GFLOP/s against 100 on Zen 4).
#define NN_ROWS 6
#define NN_VECTORS 2
// 12 outputs, two trees (the second half empty): 4 x 2 (one tree, 8 accumulators) leaves
// the two FMA pipes too few independent sums (87 GFLOP/s against 104 on Zen 4 at 64 x 600 x
// 1152); 6 x 2, 5 x 2 and 2 x 4 gain less.
#define TN_ROWS 4
#define TN_COLUMNS 3
#else
#define TV gc_tv4
#define TVU gc_tv4u
#define TW 4
#define NN_ROWS 4
#define NN_VECTORS 3
#define TN_ROWS 2
#define TN_COLUMNS 2
#endif
#define TN_TREES ((TN_ROWS * TN_COLUMNS + TW - 1) / TW)
_Static_assert(TN_ROWS <= 8 && TN_COLUMNS <= 4 && NN_ROWS <= 8 && NN_VECTORS <= 3, "tiles the switches below cover");

#define GC_NN_AHEAD 8
// Products of more than one tile of rows, where the tile's panel of b is one cache line wide
// (AVX2, SSE2): each tile reads b's rows a row stride apart, one line each, which the
// prefetchers follow poorly and which share L1 sets when the stride is a multiple of 4 KB. So
// by blocks of NN_PACK_DEPTH rows of b (the copy 16 KB at most, kept in L1), the first tile
// copies the lines it reads into a contiguous panel and the others read that copy; the tiles
// share the rows evenly (4 + 4 rather than 6 + 2 at 8 rows). Measured on Zen 4, one core,
// AVX2: 8 x 512 x 256 (a decoder's k-split slice) 72 -> 83 GFLOP/s, 64 x 1152 x 600 97 ->
// 102, 16 x 256 x 1024 35 -> 52-67; SSE2 neutral to +15%. AVX-512's tile, 3 lines wide and 8
// rows deep, lost 3-5% with the copy, so it reads b where it lies.
#define NN_PANEL (NN_VECTORS * TW)
#define NN_PACKS (TW <= 8)
#define NN_PACK_DEPTH (16384 / (NN_PANEL * 4))
#define NN_PACK_TILES 16
// The TN path's block of k (TN_DEPTH, a multiple of the lanes) and rows of a per pass over b.
// Measured on Zen 4 at 64 x 600 x 1152: blocks of 384 to 512 lift AVX-512 from 91 to 107
// GFLOP/s and AVX2 from 71 to 87, 128 gains nothing; a prefetch of b's next rows then only
// costs. SSE2's tile of two columns keeps whole rows of b in L1 up to k of about 3000, where
// the blocks only add work (13% slower) and the prefetch still pays.
#if TW > 4
#define TN_DEPTH 384
#define TN_AHEAD 0
#else
#define TN_DEPTH (1L << 40)
#define TN_AHEAD 1
#endif
#define GC_TN_ROW_BLOCK 64
#define GC_TLOAD(p) (*(const TVU *)(p))
#define GC_TSTORE(p, v) (*(TVU *)(p) = (v))

/// Lane t of the result: the sum of x[t]'s lanes. Each level folds every group of lanes in
/// half (pairs of vectors into one), keeping the sources in order.
GC_TINLINE TV GC_TNAME(lane_sums)(const TV *x) {
#if TW == 16
    gc_tv16 l1[8], l2[4], l3[2];
    for (int i = 0; i < 8; i++)
        l1[i] = __builtin_shufflevector(x[2 * i], x[2 * i + 1], 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23) +
                __builtin_shufflevector(x[2 * i], x[2 * i + 1], 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31);
    for (int i = 0; i < 4; i++)
        l2[i] = __builtin_shufflevector(l1[2 * i], l1[2 * i + 1], 0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27) +
                __builtin_shufflevector(l1[2 * i], l1[2 * i + 1], 4, 5, 6, 7, 12, 13, 14, 15, 20, 21, 22, 23, 28, 29, 30, 31);
    for (int i = 0; i < 2; i++)
        l3[i] = __builtin_shufflevector(l2[2 * i], l2[2 * i + 1], 0, 1, 4, 5, 8, 9, 12, 13, 16, 17, 20, 21, 24, 25, 28, 29) +
                __builtin_shufflevector(l2[2 * i], l2[2 * i + 1], 2, 3, 6, 7, 10, 11, 14, 15, 18, 19, 22, 23, 26, 27, 30, 31);
    return __builtin_shufflevector(l3[0], l3[1], 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30) +
           __builtin_shufflevector(l3[0], l3[1], 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
#elif TW == 8
    gc_tv8 l1[4], l2[2];
    for (int i = 0; i < 4; i++)
        l1[i] = __builtin_shufflevector(x[2 * i], x[2 * i + 1], 0, 1, 2, 3, 8, 9, 10, 11) +
                __builtin_shufflevector(x[2 * i], x[2 * i + 1], 4, 5, 6, 7, 12, 13, 14, 15);
    for (int i = 0; i < 2; i++)
        l2[i] = __builtin_shufflevector(l1[2 * i], l1[2 * i + 1], 0, 1, 4, 5, 8, 9, 12, 13) +
                __builtin_shufflevector(l1[2 * i], l1[2 * i + 1], 2, 3, 6, 7, 10, 11, 14, 15);
    return __builtin_shufflevector(l2[0], l2[1], 0, 2, 4, 6, 8, 10, 12, 14) +
           __builtin_shufflevector(l2[0], l2[1], 1, 3, 5, 7, 9, 11, 13, 15);
#else
    gc_tv4 l1[2];
    for (int i = 0; i < 2; i++)
        l1[i] = __builtin_shufflevector(x[2 * i], x[2 * i + 1], 0, 1, 4, 5) +
                __builtin_shufflevector(x[2 * i], x[2 * i + 1], 2, 3, 6, 7);
    return __builtin_shufflevector(l1[0], l1[1], 0, 2, 4, 6) + __builtin_shufflevector(l1[0], l1[1], 1, 3, 5, 7);
#endif
}

/// y[r, v TW + l] (r < rows, v < vectors, lanes l >= skip in the last vector) of a [rows, k]
/// (row stride lda) times b [k, *] (row stride ldb); y's row stride is n. With `pack`, b's
/// rows as read are also stored there, NN_PANEL floats apart. With `partial`, the sums start
/// from it (`resume`) rather than from zero, and go back to it unless `finish`: a sum stored
/// and loaded again keeps its bits, so blocks of k give the sums of one pass over k.
GC_TINLINE void GC_TNAME(nn_tile)(const float *a, long lda, const float *b, long ldb, float *y, long n, long k, int rows, int vectors,
                                  int skip, float *pack, TV *partial, int resume, int finish) {
    rows = rows < NN_ROWS ? rows : NN_ROWS;
    vectors = vectors < NN_VECTORS ? vectors : NN_VECTORS;
    TV acc[NN_ROWS][NN_VECTORS];
    for (int r = 0; r < rows; r++)
        for (int v = 0; v < vectors; v++) acc[r][v] = resume ? partial[r * NN_VECTORS + v] : (TV){0};
    for (long p = 0; p < k; p++) {
        TV bv[NN_VECTORS];
        for (int v = 0; v < vectors; v++) bv[v] = GC_TLOAD(b + p * ldb + v * TW);
        if (pack)
            for (int v = 0; v < vectors; v++) GC_TSTORE(pack + p * NN_PANEL + v * TW, bv[v]);
        // Rows of b a few ahead: they are a row stride apart, which the hardware prefetchers
        // follow late or not at all.
        if (!partial || pack)
            for (int v = 0; v < vectors; v++) __builtin_prefetch(b + (p + GC_NN_AHEAD) * ldb + v * TW);
        for (int r = 0; r < rows; r++) {
            const float s = a[r * lda + p];
            for (int v = 0; v < vectors; v++) acc[r][v] = acc[r][v] + bv[v] * s;
        }
    }
    if (!finish) {
        for (int r = 0; r < rows; r++)
            for (int v = 0; v < vectors; v++) partial[r * NN_VECTORS + v] = acc[r][v];
        return;
    }
    for (int r = 0; r < rows; r++)
        for (int v = 0; v < vectors; v++) {
            float *out = y + r * n + v * TW;
            if (v == vectors - 1 && skip > 0) {
                float lanes[TW];
                __builtin_memcpy(lanes, &acc[r][v], sizeof lanes);
                for (int l = skip; l < TW; l++) out[l] = lanes[l];
            } else {
                GC_TSTORE(out, acc[r][v]);
            }
        }
}

/// y[r, c] (r < rows, c < columns) = a's row r · b's row c, a and b with row stride k, y with n,
/// over k's whole vectors [p, stop): the lane partials start from `partial` (zero when p is 0)
/// and go back there, unless stop is the last whole vector (`full`), where they are summed
/// and the tail of k added. A partial stored and loaded again keeps its bits, so the sums are
/// those of one pass over k whatever the blocks.
GC_TINLINE void GC_TNAME(tn_tile)(const float *a, const float *b, float *y, long n, long k, int rows, int columns, long p,
                                  long stop, TV *partial) {
    rows = rows < TN_ROWS ? rows : TN_ROWS;
    columns = columns < TN_COLUMNS ? columns : TN_COLUMNS;
    TV acc[TN_TREES * TW];
    for (int t = 0; t < TN_TREES * TW; t++) acc[t] = p == 0 ? (TV){0} : partial[t];
    for (; p < stop; p += TW) {
        TV bv[TN_COLUMNS];
        for (int c = 0; c < columns; c++) bv[c] = GC_TLOAD(b + c * k + p);
#if TN_AHEAD
        // The next tile's rows of b, which the hardware does not see coming.
        for (int c = 0; c < columns; c++) __builtin_prefetch(b + (2 * TN_COLUMNS + c) * k + p);
#endif
        for (int r = 0; r < rows; r++) {
            const TV av = GC_TLOAD(a + r * k + p);
            for (int c = 0; c < columns; c++) acc[r * TN_COLUMNS + c] = acc[r * TN_COLUMNS + c] + av * bv[c];
        }
    }
    const long full = k - k % TW;
    if (stop < full) {
        for (int t = 0; t < TN_TREES * TW; t++) partial[t] = acc[t];
        return;
    }
    float lanes[TN_TREES * TW];
    for (int g = 0; g < TN_TREES; g++) {
        const TV sums = GC_TNAME(lane_sums)(acc + g * TW);
        __builtin_memcpy(lanes + g * TW, &sums, sizeof sums);
    }
    if (columns == TN_COLUMNS && full == k) {
        // Each row's outputs are TN_COLUMNS neighbouring lanes: one store per row.
        for (int r = 0; r < rows; r++) __builtin_memcpy(y + r * n, lanes + r * TN_COLUMNS, TN_COLUMNS * sizeof(float));
        return;
    }
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < columns; c++) {
            float total = lanes[r * TN_COLUMNS + c];
            for (long q = full; q < k; q++) total = total + a[r * k + q] * b[c * k + q];
            y[r * n + c] = total;
        }
}

// The tiles with constant sizes (each case inlines its own copy with the loops unrolled).
#define GC_NN_CASE(R, V) \
    case (R) * 4 + (V): \
        if (!partial) GC_TNAME(nn_tile)(a, lda, b, ldb, y, n, k, R, V, skip, 0, 0, 0, 1); \
        else if (pack) GC_TNAME(nn_tile)(a, lda, b, ldb, y, n, k, R, V, skip, pack, partial, resume, finish); \
        else GC_TNAME(nn_tile)(a, lda, b, ldb, y, n, k, R, V, skip, 0, partial, resume, finish); \
        return;
#define GC_NN_ROW(R) GC_NN_CASE(R, 1) GC_NN_CASE(R, 2) GC_NN_CASE(R, 3)
static void GC_TNAME(nn_block)(const float *a, long lda, const float *b, long ldb, float *y, long n, long k, int rows, int vectors,
                               int skip, float *pack, TV *partial, int resume, int finish) {
    switch (rows * 4 + vectors) {
        GC_NN_ROW(1) GC_NN_ROW(2) GC_NN_ROW(3) GC_NN_ROW(4)
#if NN_ROWS > 4
        GC_NN_ROW(5) GC_NN_ROW(6)
#endif
#if NN_ROWS > 6
        GC_NN_ROW(7) GC_NN_ROW(8)
#endif
        default: return;
    }
}
#undef GC_NN_ROW
#undef GC_NN_CASE

#define GC_TN_CASE(R, C) case (R) * 8 + (C): GC_TNAME(tn_tile)(a, b, y, n, k, R, C, p, stop, partial); return;
#if TN_COLUMNS == 4
#define GC_TN_ROW(R) GC_TN_CASE(R, 1) GC_TN_CASE(R, 2) GC_TN_CASE(R, 3) GC_TN_CASE(R, 4)
#elif TN_COLUMNS == 3
#define GC_TN_ROW(R) GC_TN_CASE(R, 1) GC_TN_CASE(R, 2) GC_TN_CASE(R, 3)
#else
#define GC_TN_ROW(R) GC_TN_CASE(R, 1) GC_TN_CASE(R, 2)
#endif
static void GC_TNAME(tn_block)(const float *a, const float *b, float *y, long n, long k, int rows, int columns, long p, long stop,
                               TV *partial) {
    switch (rows * 8 + columns) {
        GC_TN_ROW(1) GC_TN_ROW(2)
#if TN_ROWS > 2
        GC_TN_ROW(3) GC_TN_ROW(4)
#endif
#if TN_ROWS > 4
        GC_TN_ROW(5) GC_TN_ROW(6)
#endif
#if TN_ROWS > 6
        GC_TN_ROW(7) GC_TN_ROW(8)
#endif
        default: return;
    }
}
#undef GC_TN_ROW
#undef GC_TN_CASE

static void GC_TNAME(thin_product)(const float *a, long lda, const float *b, float *y, long m, long n, long k, int trans_b,
                                   long begin, long end) {
    if (trans_b) {
        // A few columns' rows of b at a time, read once from memory for all of a: by blocks of
        // k, so that the block of b stays in L1 while a's rows stream past it from L2 (whole
        // rows of b and of a overflow L1 from about 400 of k, and b then comes from L2 too).
        // Between blocks each tile's lane partials wait in `partial`, for up to
        // GC_TN_ROW_BLOCK rows of a at once.
        TV partial[(GC_TN_ROW_BLOCK + TN_ROWS - 1) / TN_ROWS][TN_TREES * TW];
        const long full = k - k % TW;
        for (long i0 = 0; i0 < m; i0 += GC_TN_ROW_BLOCK) {
            const long rows_here = m - i0 < GC_TN_ROW_BLOCK ? m - i0 : GC_TN_ROW_BLOCK;
            for (long j = begin; j < end; j += TN_COLUMNS) {
                const int columns = end - j < TN_COLUMNS ? (int)(end - j) : TN_COLUMNS;
                long p = 0;
                do {
                    const long stop = full - p > TN_DEPTH ? p + TN_DEPTH : full;
                    for (long i = 0; i < rows_here; i += TN_ROWS) {
                        const int rows = rows_here - i < TN_ROWS ? (int)(rows_here - i) : TN_ROWS;
                        GC_TNAME(tn_block)(a + (i0 + i) * k, b + j * k, y + (i0 + i) * n + j, n, k, rows, columns, p, stop,
                                           partial[i / TN_ROWS]);
                    }
                    p = stop;
                } while (p < full);
            }
        }
        return;
    }
    long j = begin;
    // More than one tile of rows (NN_PACKS): by blocks of k, the first tile copies the block of
    // b's panel it reads into `panel`, and the others read that copy.
    const long tiles = (m + NN_ROWS - 1) / NN_ROWS;
    if (NN_PACKS && tiles > 1 && tiles <= NN_PACK_TILES && k > 0) {
        const long tile_rows = (m + tiles - 1) / tiles;
        float panel[NN_PACK_DEPTH * NN_PANEL] __attribute__((aligned(64)));
        TV partial[NN_PACK_TILES][NN_ROWS * NN_VECTORS];
        while (end - j >= TW) {
            const long whole = (end - j) / TW;
            const int vectors = whole < NN_VECTORS ? (int)whole : NN_VECTORS;
            for (long p = 0; p < k; p += NN_PACK_DEPTH) {
                const long depth = k - p < NN_PACK_DEPTH ? k - p : NN_PACK_DEPTH;
                const int resume = p > 0, finish = p + depth == k;
                for (long t = 0, i = 0; i < m; t++, i += tile_rows) {
                    const int rows = m - i < tile_rows ? (int)(m - i) : (int)tile_rows;
                    if (t == 0)
                        GC_TNAME(nn_block)(a + p, lda, b + p * n + j, n, y + j, n, depth, rows, vectors, 0, panel, partial[0], resume, finish);
                    else
                        GC_TNAME(nn_block)(a + i * lda + p, lda, panel, NN_PANEL, y + i * n + j, n, depth, rows, vectors, 0, 0, partial[t],
                                           resume, finish);
                }
            }
            j += (long)vectors * TW;
        }
    }
    while (end - j >= TW) {
        const long whole = (end - j) / TW;
        const int vectors = whole < NN_VECTORS ? (int)whole : NN_VECTORS;
        for (long i = 0; i < m; i += NN_ROWS) {
            const int rows = m - i < NN_ROWS ? (int)(m - i) : NN_ROWS;
            GC_TNAME(nn_block)(a + i * lda, lda, b + j, n, y + i * n + j, n, k, rows, vectors, 0, 0, 0, 0, 1);
        }
        j += (long)vectors * TW;
    }
    if (j == end) return;
    if (end >= TW) {
        // The last columns as one vector ending at `end`, storing only the lanes from j.
        const long start = end - TW;
        for (long i = 0; i < m; i += NN_ROWS) {
            const int rows = m - i < NN_ROWS ? (int)(m - i) : NN_ROWS;
            GC_TNAME(nn_block)(a + i * lda, lda, b + start, n, y + i * n + start, n, k, rows, 1, (int)(j - start), 0, 0, 0, 1);
        }
        return;
    }
    for (long i = 0; i < m; i++)
        for (long c = j; c < end; c++) {
            float total = 0;
            for (long p = 0; p < k; p++) total = total + a[i * lda + p] * b[p * n + c];
            y[i * n + c] = total;
        }
}

#undef TV
#undef TVU
#undef TW
#undef NN_ROWS
#undef NN_VECTORS
#undef TN_ROWS
#undef TN_COLUMNS
#undef TN_TREES
#undef TN_DEPTH
#undef TN_AHEAD
#undef GC_TLOAD
#undef GC_NN_AHEAD
#undef NN_PANEL
#undef NN_PACKS
#undef NN_PACK_DEPTH
#undef NN_PACK_TILES
#undef GC_TSTORE
