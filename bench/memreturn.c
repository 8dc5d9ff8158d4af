/* memreturn — does the allocator give memory back? Allocate a working set of mixed sizes
 * (log-uniform between MIN and MAX), write every page, free it all in random order, then stay
 * nearly idle for IDLE seconds. The program prints a line per phase with a monotonic timestamp
 * and its own RSS, so a sampler (bench/memreturn.py, psutil) can align its RSS trace:
 *
 *   PHASE name=start t=<s> rss_kib=<n>
 *   PHASE name=allocated ...    PHASE name=freed ...    PHASE name=end ...
 *
 * "Nearly idle": by default the program only sleeps; with TICK_MS > 0 it also mallocs and frees
 * one 64-byte block every TICK_MS (the housekeeping of a real idle server).
 * usage: memreturn [BYTES=1g] [MIN=64] [MAX=262144] [SEED=42] [IDLE_S=5] [TICK_MS=0] */
#include "bench_common.h"

static long rss_kib(void)
{
    char buf[256];
    int fd = open("/proc/self/statm", O_RDONLY);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = 0;
    long pages = 0, res = 0;
    sscanf(buf, "%ld %ld", &pages, &res);
    return res * (sysconf(_SC_PAGESIZE) / 1024);
}

static void phase(const char *name, double t0)
{
    printf("PHASE name=%s t=%.4f rss_kib=%ld\n", name, bench_now() - t0, rss_kib());
    fflush(stdout);
}

int main(int argc, char **argv)
{
    uint64_t total = bench_arg(argc, argv, 1, 1ull << 30);
    uint64_t lo = bench_arg(argc, argv, 2, 64);
    uint64_t hi = bench_arg(argc, argv, 3, 256 << 10);
    uint64_t seed = bench_arg(argc, argv, 4, 42);
    uint64_t idle_s = bench_arg(argc, argv, 5, 5);
    uint64_t tick_ms = bench_arg(argc, argv, 6, 0);
    if (lo < 16)
        lo = 16;
    if (hi < lo)
        hi = lo;
    bench_rng r;
    bench_rng_seed(&r, seed);
    /* octaves between lo and hi (log-uniform: each octave gets the same share of blocks) */
    double octaves = 0;
    for (double x = (double)lo; x * 2 <= (double)hi; x *= 2)
        octaves += 1;
    {
        double top = (double)lo;
        for (int i = 0; i < (int)octaves; i++)
            top *= 2;
        octaves += ((double)hi - top) / top;   /* partial last octave, linearly */
    }

    size_t cap = 1 << 16, n = 0;
    unsigned char **blk = malloc(cap * sizeof *blk);
    size_t *len = malloc(cap * sizeof *len);
    if (!blk || !len)
        return 3;
    double t0 = bench_now();
    phase("start", t0);
    uint64_t sum = 0, have = 0;
    while (have < total) {
        if (n == cap) {
            cap *= 2;
            blk = realloc(blk, cap * sizeof *blk);
            len = realloc(len, cap * sizeof *len);
            if (!blk || !len)
                return 3;
        }
        double u = (double)(bench_rng_next(&r) >> 11) / 9007199254740992.0;
        double x = u * octaves, base = (double)lo;
        int oct = (int)x;
        for (int i = 0; i < oct; i++)
            base *= 2;
        size_t sz = (size_t)(base * (1.0 + (x - oct)));
        if (sz < lo)
            sz = lo;
        if (sz > hi)
            sz = hi;
        unsigned char *p = bench_xmalloc(sz);
        bench_touch_pages(p, sz, n);
        blk[n] = p;
        len[n] = sz;
        n++;
        have += sz;
    }
    phase("allocated", t0);
    /* free in random order */
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)(bench_rng_next(&r) % i);
        unsigned char *tp = blk[i - 1];
        blk[i - 1] = blk[j];
        blk[j] = tp;
        size_t tl = len[i - 1];
        len[i - 1] = len[j];
        len[j] = tl;
    }
    for (size_t i = 0; i < n; i++) {
        sum += bench_read_pages(blk[i], len[i]);
        free(blk[i]);
    }
    phase("freed", t0);
    double until = bench_now() + (double)idle_s;
    while (bench_now() < until) {
        struct timespec ts = { 0, (long)(tick_ms ? tick_ms : 20) * 1000000L };
        nanosleep(&ts, NULL);
        if (tick_ms) {
            void *volatile q = malloc(64);
            free(q);
        }
    }
    phase("end", t0);
    free(blk);
    free(len);
    double secs = bench_now() - t0;
    char extra[96];
    snprintf(extra, sizeof extra, "blocks=%zu bytes=%llu", n, (unsigned long long)have);
    bench_result("memreturn", n, secs, sum, extra);
    return 0;
}
