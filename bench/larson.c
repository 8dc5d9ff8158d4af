/* larson — larson-style server workload. Each of THREADS arrays of SLOTS blocks is
 * worked on by one thread per round: OPS random slots are replaced (the old block
 * read back and freed, a new one of random size in [MIN, MAX] allocated). At the
 * end of a round every thread exits and its array is handed to a new thread, so
 * most frees are of blocks another (by then dead) thread allocated: remote frees
 * and thread-exit handling are on the measured path. One op = one replacement.
 * usage: larson [THREADS=2] [MIN=16] [MAX=1024] [ROUNDS=20] [OPS=100000] [SLOTS=1000] [SEED=42] */
#include "bench_common.h"
#include <pthread.h>

typedef struct {
    unsigned char **slot;
    size_t *len;
    uint64_t slots, ops, min, max, seed, sum;
} larson_arr;

static void *worker(void *arg)
{
    larson_arr *a = arg;
    bench_rng r;
    bench_rng_seed(&r, a->seed);
    uint64_t sum = 0;
    for (uint64_t i = 0; i < a->ops; i++) {
        uint64_t x = bench_rng_next(&r);
        size_t k = (size_t)((x >> 20) % a->slots);
        sum += bench_read(a->slot[k], a->len[k]);
        free(a->slot[k]);
        size_t n = bench_rng_range(&r, a->min, a->max);
        unsigned char *p = bench_xmalloc(n);
        bench_fill(p, n, x);
        a->slot[k] = p;
        a->len[k] = n;
    }
    a->sum += sum;
    return NULL;
}

int main(int argc, char **argv)
{
    uint64_t threads = bench_arg(argc, argv, 1, 2);
    uint64_t min = bench_arg(argc, argv, 2, 16);
    uint64_t max = bench_arg(argc, argv, 3, 1024);
    uint64_t rounds = bench_arg(argc, argv, 4, 20);
    uint64_t ops = bench_arg(argc, argv, 5, 100000);
    uint64_t slots = bench_arg(argc, argv, 6, 1000);
    uint64_t seed = bench_arg(argc, argv, 7, 42);
    if (threads == 0)
        threads = 1;
    if (min < 2)
        min = 2;
    if (max < min)
        max = min;
    if (slots == 0)
        slots = 1;
    larson_arr *arr = calloc(threads, sizeof *arr);
    pthread_t *tid = calloc(threads, sizeof *tid);
    bench_rng r;
    bench_rng_seed(&r, seed);
    for (uint64_t t = 0; t < threads; t++) {
        arr[t] = (larson_arr){.slots = slots, .ops = ops, .min = min, .max = max};
        arr[t].slot = bench_xmalloc(slots * sizeof *arr[t].slot);
        arr[t].len = bench_xmalloc(slots * sizeof *arr[t].len);
        for (uint64_t k = 0; k < slots; k++) {
            uint64_t x = bench_rng_next(&r);
            size_t n = bench_rng_range(&r, min, max);
            arr[t].slot[k] = bench_xmalloc(n);
            bench_fill(arr[t].slot[k], n, x);
            arr[t].len[k] = n;
        }
    }
    double t0 = bench_start();
    for (uint64_t round = 0; round < rounds; round++) {
        for (uint64_t t = 0; t < threads; t++) {
            arr[t].seed = seed * 1000003u + round * 7919u + t;
            if (pthread_create(&tid[t], NULL, worker, &arr[t]) != 0) {
                fprintf(stderr, "pthread_create failed\n");
                return 4;
            }
        }
        for (uint64_t t = 0; t < threads; t++)
            pthread_join(tid[t], NULL);
    }
    double secs = bench_stop(t0);
    uint64_t sum = 0;
    for (uint64_t t = 0; t < threads; t++) {
        sum += arr[t].sum;
        for (uint64_t k = 0; k < slots; k++) {
            sum += bench_read(arr[t].slot[k], arr[t].len[k]);
            free(arr[t].slot[k]);
        }
        free(arr[t].slot);
        free(arr[t].len);
    }
    free(arr);
    free(tid);
    char extra[128];
    snprintf(extra, sizeof extra, "threads=%llu min_size=%llu max_size=%llu rounds=%llu",
             (unsigned long long)threads, (unsigned long long)min,
             (unsigned long long)max, (unsigned long long)rounds);
    bench_result("larson", rounds * threads * ops, secs, sum, extra);
    return 0;
}
