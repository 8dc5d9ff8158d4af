/* kw.h — shared helpers of the knob-effect workloads: a tiny PRNG and a touch that the compiler keeps. */
#ifndef KW_H
#define KW_H
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static inline uint32_t kw_rand(uint32_t *s) { *s ^= *s << 13; *s ^= *s >> 17; *s ^= *s << 5; return *s; }

/* Write the first and last byte so the block is really used (and not optimised away). */
static inline void *kw_touch(void *p, size_t n) {
    if (!p) { fprintf(stderr, "FAIL allocation of %zu bytes returned NULL\n", n); exit(1); }
    volatile unsigned char *b = (volatile unsigned char *)p;
    b[0] = 1; b[n - 1] = 2;
    return p;
}
#endif
