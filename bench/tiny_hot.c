/* tiny_hot — the tiny fast path in a tight loop: a batch of small blocks (sizes
 * cycling over 16..MAX in 16-byte steps) allocated, written, then freed LIFO.
 * One op = one malloc+free pair.
 * usage: tiny_hot [PAIRS=50000000] [MAX=128] [BATCH=32] */
#include "bench_common.h"

int main(int argc, char **argv)
{
    uint64_t pairs = bench_arg(argc, argv, 1, 50000000);
    uint64_t max = bench_arg_in(argc, argv, 2, 128, 16, UINT64_MAX);
    uint64_t batch = bench_arg_in(argc, argv, 3, 32, 1, 4096);
    uint64_t nclasses = max / 16;
    unsigned char *ptr[4096];
    uint64_t rounds = pairs / batch, sum = 0, cls = 0;
    double t0 = bench_start();
    for (uint64_t r = 0; r < rounds; r++) {
        for (uint64_t i = 0; i < batch; i++) {
            size_t n = 16 * (1 + cls);
            cls = cls + 1 == nclasses ? 0 : cls + 1;
            unsigned char *p = bench_xmalloc(n);
            p[0] = (unsigned char)(r + i);
            ptr[i] = p;
        }
        for (uint64_t i = batch; i-- > 0;) {
            sum += ptr[i][0];
            free(ptr[i]);
        }
    }
    double secs = bench_stop(t0);
    char extra[64];
    snprintf(extra, sizeof extra, "max_size=%llu batch=%llu", (unsigned long long)max,
             (unsigned long long)batch);
    bench_result("tiny_hot", rounds * batch, secs, sum, extra);
    return 0;
}
