/* prodcons — producer/consumer pairs: each producer allocates blocks of random size
 * in [16, MAX], writes them and pushes them through a bounded single-producer /
 * single-consumer ring; its consumer reads them back and frees them. Every free is
 * a cross-thread free. One op = one block passed.
 * usage: prodcons [ITEMS=2000000] [PAIRS=1] [MAX=512] [SEED=42] */
#include "bench_common.h"
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#define RING 4096 /* power of two */

typedef struct {
    _Alignas(64) atomic_size_t head; /* written by the consumer */
    _Alignas(64) atomic_size_t tail; /* written by the producer */
    _Alignas(64) unsigned char *item[RING];
    size_t len[RING];
    uint64_t items, max, seed, sum;
} ring_t;

static void *producer(void *arg)
{
    ring_t *q = arg;
    bench_rng r;
    bench_rng_seed(&r, q->seed);
    size_t tail = 0;
    for (uint64_t i = 0; i < q->items; i++) {
        uint64_t x = bench_rng_next(&r);
        size_t n = bench_rng_range(&r, 16, q->max);
        unsigned char *p = bench_xmalloc(n);
        bench_fill(p, n, x);
        while (tail - atomic_load_explicit(&q->head, memory_order_acquire) == RING)
            sched_yield();
        q->item[tail & (RING - 1)] = p;
        q->len[tail & (RING - 1)] = n;
        tail++;
        atomic_store_explicit(&q->tail, tail, memory_order_release);
    }
    return NULL;
}

static void *consumer(void *arg)
{
    ring_t *q = arg;
    size_t head = 0;
    uint64_t sum = 0;
    while (head < q->items) {
        size_t tail = atomic_load_explicit(&q->tail, memory_order_acquire);
        if (tail == head) {
            sched_yield();
            continue;
        }
        while (head < tail) {
            unsigned char *p = q->item[head & (RING - 1)];
            sum += bench_read(p, q->len[head & (RING - 1)]);
            free(p);
            head++;
        }
        atomic_store_explicit(&q->head, head, memory_order_release);
    }
    q->sum = sum;
    return NULL;
}

int main(int argc, char **argv)
{
    uint64_t items = bench_arg(argc, argv, 1, 2000000);
    uint64_t pairs = bench_arg(argc, argv, 2, 1);
    uint64_t max = bench_arg(argc, argv, 3, 512);
    uint64_t seed = bench_arg(argc, argv, 4, 42);
    if (pairs == 0)
        pairs = 1;
    if (max < 16)
        max = 16;
    ring_t *q = aligned_alloc(64, pairs * sizeof *q);
    pthread_t *tid = calloc(2 * pairs, sizeof *tid);
    if (!q || !tid)
        return 3;
    memset(q, 0, pairs * sizeof *q);
    double t0 = bench_start();
    for (uint64_t i = 0; i < pairs; i++) {
        q[i].items = items / pairs;
        q[i].max = max;
        q[i].seed = seed + i;
        if (pthread_create(&tid[2 * i], NULL, consumer, &q[i]) != 0 ||
            pthread_create(&tid[2 * i + 1], NULL, producer, &q[i]) != 0) {
            fprintf(stderr, "prodcons: cannot start thread pair %llu\n", (unsigned long long)i);
            return 3;    /* a half-started pair would never finish: no result rather than a hang */
        }
    }
    uint64_t sum = 0, ops = 0;
    for (uint64_t i = 0; i < 2 * pairs; i++)
        pthread_join(tid[i], NULL);
    double secs = bench_stop(t0);
    for (uint64_t i = 0; i < pairs; i++) {
        sum += q[i].sum;
        ops += q[i].items;
    }
    free(q);
    free(tid);
    char extra[64];
    snprintf(extra, sizeof extra, "pairs=%llu max_size=%llu", (unsigned long long)pairs,
             (unsigned long long)max);
    bench_result("prodcons", ops, secs, sum, extra);
    return 0;
}
