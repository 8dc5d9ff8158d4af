/* size_class.c — the size class tables (see size_class.h for the scheme). */
#include "size_class.h"

#define STEP8(base, step) \
    base + 1 * step, base + 2 * step, base + 3 * step, base + 4 * step, \
    base + 5 * step, base + 6 * step, base + 7 * step, base + 8 * step

const uint32_t hak_class_size[HAK_NCLASS] = {
    STEP8(0, 16),        STEP8(128, 16),      STEP8(256, 32),      STEP8(512, 64),
    STEP8(1024, 128),    STEP8(2048, 256),    STEP8(4096, 512),    STEP8(8192, 1024),
    STEP8(16384, 2048),
};

/* Filled for (size + 15) >> 4 in 0..64: the smallest class holding that many 16-byte granules. */
const uint8_t hak_class_small[65] = {
    0, 0, 1, 2, 3, 4, 5, 6, 7,                       /* 0..128 */
    8, 9, 10, 11, 12, 13, 14, 15,                    /* 144..256 step 16 */
    16, 16, 17, 17, 18, 18, 19, 19, 20, 20, 21, 21, 22, 22, 23, 23,   /* ..512 step 32 */
    24, 24, 24, 24, 25, 25, 25, 25, 26, 26, 26, 26, 27, 27, 27, 27,   /* ..768 step 64 */
    28, 28, 28, 28, 29, 29, 29, 29, 30, 30, 30, 30, 31, 31, 31, 31,   /* ..1024 */
};
