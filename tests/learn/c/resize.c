/* resize.c — adaptive sizing end to end under LD_PRELOAD: one class is driven to grow (bursts deeper
 * than its cache), then left idle holding a few blocks while another class churns, so the sweeps
 * shrink it. Every block carries a tag checked before it is freed: a resize that lost or duplicated
 * a cached block shows up as a FAIL. Prints "ok"/"FAIL" lines and a "summary" line.
 * Run with HAKMEM_ADAPTIVE_LOG=1 and a small HAKMEM_ALLOC_LEARN_WINDOW; the test reads the log. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int fails;

static void tag(unsigned char *p, size_t n, uint64_t t)
{
    memcpy(p, &t, sizeof t);
    p[n - 1] = (unsigned char)t;
}

static int check(const unsigned char *p, size_t n, uint64_t t)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v == t && p[n - 1] == (unsigned char)t;
}

int main(void)
{
    enum { DEEP = 900, KEEP = 100, OTHER = 64 };
    static unsigned char *blk[DEEP];
    /* 1. bursts of 900 blocks of 64 B: overflows double the cache 64 -> 128 -> ... -> 1024 */
    for (int round = 0; round < 8; round++) {
        for (int i = 0; i < DEEP; i++) {
            blk[i] = malloc(64);
            tag(blk[i], 64, (uint64_t)round << 32 | (uint64_t)i);
        }
        for (int i = DEEP; i-- > 0;) {
            if (!check(blk[i], 64, (uint64_t)round << 32 | (uint64_t)i))
                fails++;
            free(blk[i]);
        }
    }
    /* 2. keep KEEP blocks of the class cached, take the rest out and hold them: the class goes idle */
    for (int i = 0; i < DEEP - KEEP; i++) {
        blk[i] = malloc(64);
        tag(blk[i], 64, 0xabc00000u + (uint64_t)i);
    }
    /* 3. churn another class (1000 B) deeper than its cache for over a second: its slow-path events
     *    run the sweeps that judge the idle 64-byte class */
    static unsigned char *o[OTHER * 4];
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    uint64_t n = 0;
    do {
        for (int i = 0; i < OTHER * 4; i++) {
            o[i] = malloc(1000);
            tag(o[i], 1000, n + (uint64_t)i);
        }
        for (int i = 0; i < OTHER * 4; i++) {
            if (!check(o[i], 1000, n + (uint64_t)i))
                fails++;
            free(o[i]);
        }
        n += OTHER * 4;
        clock_gettime(CLOCK_MONOTONIC, &t1);
    } while ((t1.tv_sec - t0.tv_sec) * 1000000000ll + (t1.tv_nsec - t0.tv_nsec) < 1500000000ll);
    for (int i = 0; i < DEEP - KEEP; i++) {
        if (!check(blk[i], 64, 0xabc00000u + (uint64_t)i))
            fails++;
        free(blk[i]);
    }
    printf("%s resize.tags\n", fails ? "FAIL" : "ok");
    printf("summary failures=%d churned=%llu\n", fails, (unsigned long long)n);
    return fails != 0;
}
