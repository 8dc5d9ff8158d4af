/* vm — the seeds' "VM scenario": repeatedly allocate a 2 MiB block, write every
 * page, free it. Measures the large path: mmap/munmap vs a cached mapping, page
 * faults, THP. One op = one allocate/touch/free cycle; ns_per_op is the figure the
 * seeds quote.
 * usage: vm [ITERATIONS=2000] [SIZE=2097152] [MAX_MS=0: no time limit, else stop after
 *           about MAX_MS milliseconds, at a multiple of 16 cycles] */
#include "bench_common.h"

int main(int argc, char **argv)
{
    uint64_t iters = bench_arg(argc, argv, 1, 2000);
    uint64_t size = bench_arg(argc, argv, 2, 2u << 20);
    double max_s = (double)bench_arg(argc, argv, 3, 0) / 1000.0;
    if (size < 2)
        size = 2;
    uint64_t sum = 0;
    double t0 = bench_start();
    uint64_t i;
    for (i = 0; i < iters; i++) {
        if (max_s > 0 && (i & 15) == 0 && i && bench_now() - t0 > max_s)
            break;
        unsigned char *p = bench_xmalloc(size);
        bench_touch_pages(p, size, i);
        sum += bench_read_pages(p, size);
        free(p);
    }
    double secs = bench_stop(t0);
    char extra[48];
    snprintf(extra, sizeof extra, "size=%llu", (unsigned long long)size);
    bench_result("vm", i, secs, sum, extra);
    return 0;
}
