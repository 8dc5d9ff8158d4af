/* long — a slow workload for time-based knobs (decay, intervals, learner windows): for about 1.5 s
 * (KW_SECONDS overrides), every 2 ms allocate and free a burst of 2048 small and MID blocks (KW_MID
 * of them MID, 8-32 KiB; default 512) and 4 large ones (256 KiB - 1.1 MiB, touched whole). */
#include <time.h>
#include "kw.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(void) {
    const char *e = getenv("KW_SECONDS");
    double secs = e ? atof(e) : 1.5;
    const char *m = getenv("KW_MID");
    int mid = m ? atoi(m) : 512;
    if (mid < 0 || mid > 2048) mid = 512;
    uint32_t s = 31337;
    static void *p[2048];
    double t0 = now();
    long rounds = 0;
    while (now() - t0 < secs) {
        for (int i = 0; i < 2048; i++) {
            uint32_t x = kw_rand(&s);
            size_t n = i >= mid ? 8 + (x >> 8) % 1024 : 8193 + (x >> 8) % 24575;
            p[i] = kw_touch(malloc(n), n);
        }
        for (int i = 0; i < 2048; i++) free(p[i]);
        for (int i = 0; i < 4; i++) {
            size_t n = (size_t)(256 + 128 * (kw_rand(&s) % 8)) << 10;
            void *q = kw_touch(malloc(n), n);
            memset(q, 7, n);
            free(q);
        }
        struct timespec ts = {0, 2000000};
        nanosleep(&ts, NULL);
        rounds++;
    }
    printf("summary long ok rounds=%ld\n", rounds);
    return 0;
}
