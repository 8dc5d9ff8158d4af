/* large — slot churn of large blocks (default 64 KiB–1 MiB), every page of a block
 * written, so an allocator that unmaps and re-faults pays for it here.
 * usage: large [ITERATIONS=200000] [MIN=65536] [MAX=1048576] [SEED=42] [SLOTS=64]
 *              [MAX_MS=0: no time limit, else stop after about MAX_MS milliseconds] */
#include "bench_common.h"

int main(int argc, char **argv)
{
    bench_churn_args a = {
        .iters = bench_arg(argc, argv, 1, 200000),
        .min = bench_arg(argc, argv, 2, 65536),
        .max = bench_arg(argc, argv, 3, 1048576),
        .seed = bench_arg(argc, argv, 4, 42),
        .slots = bench_arg(argc, argv, 5, 64),
        .touch_pages = 1,
        .max_seconds = (double)bench_arg(argc, argv, 6, 0) / 1000.0,
    };
    return bench_slot_churn_main("large", a);
}
