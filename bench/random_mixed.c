/* random_mixed — the seeds' bench_random_mixed: random sizes 16..SIZE over a slot
 * array, each iteration one malloc or one free.
 * usage: random_mixed [ITERATIONS=10000000] [SIZE=1024] [SEED=42] [SLOTS=8192] */
#include "bench_common.h"

int main(int argc, char **argv)
{
    bench_churn_args a = {
        .iters = bench_arg(argc, argv, 1, 10000000),
        .min = 16,
        .max = bench_arg(argc, argv, 2, 1024),
        .seed = bench_arg(argc, argv, 3, 42),
        .slots = bench_arg(argc, argv, 4, 8192),
        .touch_pages = 0,
    };
    if (a.max < a.min)
        a.max = a.min;
    if (a.slots == 0)
        a.slots = 1;
    double secs;
    uint64_t done;
    uint64_t sum = bench_slot_churn(&a, &secs, &done);
    char extra[96];
    snprintf(extra, sizeof extra, "min_size=%llu max_size=%llu slots=%llu",
             (unsigned long long)a.min, (unsigned long long)a.max,
             (unsigned long long)a.slots);
    bench_result("random_mixed", done, secs, sum, extra);
    return 0;
}
