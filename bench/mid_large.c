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
    return bench_slot_churn_main("mid_large", a);
}
