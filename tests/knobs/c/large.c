/* large — LARGE blocks (64 KiB - 48 MiB): repeated sizes (cache hits), a spread of sizes, a few huge
 * blocks above the default BigCache block limit, and a phase that holds many at once. */
#include "kw.h"

int main(void) {
    uint32_t s = 4242;
    static void *held[64];
    for (int r = 0; r < 300; r++) {              /* repeats of a few sizes */
        size_t n = (size_t)(64 + 64 * (r % 6)) << 10;
        void *p = kw_touch(malloc(n), n);
        memset(p, 3, 4096);
        free(p);
    }
    for (int r = 0; r < 200; r++) {              /* a spread of sizes, 64 KiB - 4 MiB */
        size_t n = (64u << 10) + (kw_rand(&s) % (4u << 20));
        free(kw_touch(malloc(n), n));
    }
    for (int r = 0; r < 6; r++) {                /* huge blocks: 40 MiB */
        size_t n = 40u << 20;
        free(kw_touch(malloc(n), n));
    }
    for (int r = 0; r < 4; r++) {                /* many held at once (about 64 MiB), touched whole */
        for (int i = 0; i < 64; i++) {
            size_t n = (size_t)(512 + 256 * (i % 4)) << 10;
            held[i] = kw_touch(malloc(n), n);
            memset(held[i], 5, n);
        }
        for (int i = 0; i < 64; i++) free(held[i]);
    }
    printf("summary large ok\n");
    return 0;
}
