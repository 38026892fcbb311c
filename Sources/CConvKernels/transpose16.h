// A 16x16 transpose of an array of 16 vectors in place, for the kernel bodies compiled once
// per instruction set (a macro, so that it takes the including function's target): four
// rounds of interleaving row i with row i + 8, each rotating a square's 8-bit element address
// by one bit.
#ifndef GRAPHC_TRANSPOSE16_H
#define GRAPHC_TRANSPOSE16_H

#define GC_TRANSPOSE16(r)                                                                                               \
    do {                                                                                                                \
        v16 t_[16];                                                                                                     \
        for (int round_ = 0; round_ < 4; round_++) {                                                                    \
            for (int i_ = 0; i_ < 8; i_++) {                                                                            \
                t_[2 * i_] = __builtin_shufflevector((r)[i_], (r)[i_ + 8], 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, \
                                                     22, 7, 23);                                                        \
                t_[2 * i_ + 1] = __builtin_shufflevector((r)[i_], (r)[i_ + 8], 8, 24, 9, 25, 10, 26, 11, 27, 12, 28,   \
                                                         13, 29, 14, 30, 15, 31);                                       \
            }                                                                                                           \
            for (int i_ = 0; i_ < 16; i_++) (r)[i_] = t_[i_];                                                           \
        }                                                                                                               \
    } while (0)

#endif
