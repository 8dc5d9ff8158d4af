/* mixed — one thread, every small tier: rounds of mixed-size blocks (1 B - 32 KiB), bursts of one
 * TINY class large enough to empty whole slabs and SuperSlabs, a realloc/calloc pass, zero-size
 * requests, and a hot loop of 100 live 40-byte blocks (more than the default per-thread cache of a
 * class holds). */
#include "kw.h"

#define LIVE 512

int main(void) {
    static void *p[LIVE];
    static void *burst[40000];
    uint32_t s = 12345;
    /* 1: mixed sizes, tiny-heavy, 300 rounds of 512 live blocks freed in a scrambled order */
    for (int r = 0; r < 300; r++) {
        for (int i = 0; i < LIVE; i++) {
            uint32_t x = kw_rand(&s);
            size_t n = (x & 7) < 5 ? 1 + (x >> 8) % 512 : (x & 7) == 5 ? 1 + (x >> 8) % 2048
                     : (x & 7) == 6 ? 2049 + (x >> 8) % 6143 : 8193 + (x >> 8) % 24575;
            p[i] = kw_touch(malloc(n), n);
        }
        for (int i = 0; i < LIVE; i++) {
            int j = (i * 7919) % LIVE;
            free(p[j]);
        }
    }
    /* 2: bursts of one class each (about 4 MiB live), freed whole: slabs and SuperSlabs empty out */
    static const size_t burst_size[] = {64, 128, 256, 100, 48};
    for (int b = 0; b < 5; b++) {
        size_t n = burst_size[b];
        int cnt = (int)((4u << 20) / n); if (cnt > 40000) cnt = 40000;
        for (int i = 0; i < cnt; i++) burst[i] = kw_touch(malloc(n), n);
        for (int i = 0; i < cnt; i++) free(burst[i]);
    }
    /* 3: POOL and MID working sets held across rounds */
    for (int r = 0; r < 40; r++) {
        for (int i = 0; i < 256; i++) {
            size_t n = (r & 1) ? 2049 + (kw_rand(&s) % 6143) : 8193 + (kw_rand(&s) % 24575);
            p[i] = kw_touch(malloc(n), n);
        }
        for (int i = 0; i < 256; i++) free(p[i]);
    }
    /* 4: calloc / realloc growth chains */
    for (int r = 0; r < 2000; r++) {
        char *q = calloc(1, 16);
        for (size_t n = 32; n <= 4096; n *= 2) q = realloc(q, n);
        free(kw_touch(q, 4096));
    }
    /* 5: zero-size requests, held a while (unique pointers that are never touched) */
    for (int i = 0; i < 256; i++) p[i] = malloc(0);
    for (int i = 0; i < 256; i++) free(p[i]);
    /* 6: hot loop, one small class (48 B), 100 blocks live per round */
    for (int r = 0; r < 3000; r++) {
        for (int i = 0; i < 100; i++) p[i] = kw_touch(malloc(40), 40);
        for (int i = 0; i < 100; i++) free(p[i]);
    }
    printf("summary mixed ok\n");
    return 0;
}
