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
    return bench_slot_churn_main("random_mixed", a);
}
