// The vector type and helpers shared by the kernels compiled once per instruction set
// (conv_kernels.c, winograd.c): a GNU vector of 16 floats, one channel block, which the
// compiler splits into 1, 2 or 4 registers by the target of the function using it.
#ifndef GRAPHC_CONV_VECTORS_H
#define GRAPHC_CONV_VECTORS_H

typedef float v16 __attribute__((vector_size(64)));
typedef float v16u __attribute__((vector_size(64), aligned(4)));
typedef int i16v __attribute__((vector_size(64)));

// max(0, v) per lane, NaN staying NaN; macros, so that they take each ISA's target.
#define relu16(v) ({ const v16 r_ = (v); (v16)((i16v)r_ & ((r_ > (v16){0}) | (r_ != r_))); })

/// The larger of m and v per lane, a NaN in v winning (as the plain max pooling).
#define max_nan16(m, v) ({ const v16 m_ = (m), v_ = (v); const i16v take_ = (v_ > m_) | (v_ != v_); \
    (v16)(((i16v)v_ & take_) | ((i16v)m_ & ~take_)); })

/// A lane-wide copy of a scalar (a plain variable: it is named 16 times).
#define SPLAT16(c) ((v16){c, c, c, c, c, c, c, c, c, c, c, c, c, c, c, c})

#if defined(__x86_64__) || defined(__i386__)
#define GC_X86 1
#endif

#endif
