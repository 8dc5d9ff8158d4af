/* cold_churn — allocate a large working set of random-sized blocks, write them,
 * free them all in random order, repeat. Each round meets memory that the previous
 * round released: what the allocator kept, reused or gave back to the OS shows in
 * time, page faults and peak RSS. One op = one block allocated and freed.
 * usage: cold_churn [ROUNDS=20] [WORKING_SET=64m] [MAX=4096] [SEED=42] */
#include "bench_common.h"

int main(int argc, char **argv)
{
    uint64_t rounds = bench_arg(argc, argv, 1, 20);
    uint64_t ws = bench_arg(argc, argv, 2, 64u << 20);
    uint64_t max = bench_arg_in(argc, argv, 3, 4096, 16, UINT64_MAX);
    uint64_t seed = bench_arg(argc, argv, 4, 42);
    uint64_t cap = ws / 16 + 1;
    unsigned char **blk = malloc(cap * sizeof *blk);
    size_t *len = malloc(cap * sizeof *len);
    if (!blk || !len)
        return 3;
    bench_rng r;
    bench_rng_seed(&r, seed);
    uint64_t sum = 0, ops = 0;
    double t0 = bench_start();
    for (uint64_t round = 0; round < rounds; round++) {
        uint64_t n = 0, bytes = 0;
        while (bytes < ws && n < cap) {
            size_t sz = bench_rng_range(&r, 16, max);
            unsigned char *p = bench_xmalloc(sz);
            memset(p, (int)(n & 0xff), sz < 64 ? sz : 64);
            p[sz - 1] = (unsigned char)round;
            blk[n] = p;
            len[n] = sz;
            bytes += sz;
            n++;
        }
        /* Fisher-Yates shuffle: free in random order. */
        for (uint64_t i = n; i > 1; i--) {
            uint64_t j = bench_rng_next(&r) % i;
            unsigned char *tp = blk[i - 1]; blk[i - 1] = blk[j]; blk[j] = tp;
            size_t tl = len[i - 1]; len[i - 1] = len[j]; len[j] = tl;
        }
        for (uint64_t i = 0; i < n; i++) {
            sum += blk[i][0] + blk[i][len[i] - 1];
            free(blk[i]);
        }
        ops += n;
    }
    double secs = bench_stop(t0);
    free(blk);
    free(len);
    char extra[96];
    snprintf(extra, sizeof extra, "rounds=%llu working_set=%llu max_size=%llu",
             (unsigned long long)rounds, (unsigned long long)ws, (unsigned long long)max);
    bench_result("cold_churn", ops, secs, sum, extra);
    return 0;
}
