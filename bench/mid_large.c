/* mid_large — slot churn of medium blocks (default 8–32 KiB, hakmem's MID tier).
 * usage: mid_large [ITERATIONS=2000000] [MIN=8192] [MAX=32768] [SEED=42] [SLOTS=512] */
#include "bench_common.h"

int main(int argc, char **argv)
{
    bench_churn_args a = {
        .iters = bench_arg(argc, argv, 1, 2000000),
        .min = bench_arg(argc, argv, 2, 8192),
        .max = bench_arg(argc, argv, 3, 32768),
        .seed = bench_arg(argc, argv, 4, 42),
        .slots = bench_arg(argc, argv, 5, 512),
        .touch_pages = 0,
    };
    if (a.min < 2)
        a.min = 2;
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
    bench_result("mid_large", done, secs, sum, extra);
    return 0;
}
