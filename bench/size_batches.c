/* size_batches — one size at a time, as glibc's bench-malloc-simple does: for each size from 16 B
 * up to MAX (doubling), allocate BATCH blocks of it, write each, then free them in the order they
 * were allocated. A batch larger than a thread cache holds sends most blocks through the cache's
 * refill and flush, so this measures those paths, not just the pop and push.
 * One op = one malloc+free pair.
 * usage: size_batches [PAIRS=20000000] [MAX=4096] [BATCH=1000] */
#include "bench_common.h"

int main(int argc, char **argv)
{
    uint64_t pairs = bench_arg(argc, argv, 1, 20000000);
    uint64_t max = bench_arg_in(argc, argv, 2, 4096, 16, UINT64_MAX);
    uint64_t batch = bench_arg_in(argc, argv, 3, 1000, 1, 65536);
    unsigned char **ptr = bench_xmalloc(batch * sizeof *ptr);
    uint64_t done = 0, sum = 0;
    double t0 = bench_start();
    while (done < pairs) {
        for (size_t size = 16; size <= max && done < pairs; size *= 2) {
            for (uint64_t i = 0; i < batch; i++) {
                unsigned char *p = bench_xmalloc(size);
                p[0] = (unsigned char)i;
                ptr[i] = p;
            }
            for (uint64_t i = 0; i < batch; i++) {
                sum += ptr[i][0];
                free(ptr[i]);
            }
            done += batch;
        }
    }
    double secs = bench_stop(t0);
    free(ptr);
    char extra[64];
    snprintf(extra, sizeof extra, "max_size=%llu batch=%llu", (unsigned long long)max,
             (unsigned long long)batch);
    bench_result("size_batches", done, secs, sum, extra);
    return 0;
}
