/* handoff — batched hand-off between threads, the pattern of servers and pipelines: producers
 * allocate batches of BATCH objects (sizes in [MIN, MAX]) plus the batch's pointer array (8 * BATCH + 16
 * bytes: above 32 KiB for BATCH = 4096, so a LARGE block changes threads too), write every object and
 * pass the batch through one mutex/condvar queue of at most QUEUE batches; consumers check and free
 * every object, then the array. Every free is a cross-thread free. One op = one object freed.
 * usage: handoff [OBJECTS=8m] [PRODUCERS=2] [CONSUMERS=2] [BATCH=4096] [MIN=64] [MAX=64] [QUEUE=100] [SEED=42] */
#include "bench_common.h"
#include <pthread.h>

/* A batch is one malloc'd block: a queue link, then BATCH object pointers, then their count
 * (8 * BATCH + 16 bytes in all). */
typedef struct batch {
    struct batch *next;
} batch_t;

typedef struct {
    pthread_mutex_t lock;
    pthread_cond_t nonempty, nonfull;
    batch_t *head, *tail;
    uint64_t queued, cap, max_queued;   /* max_queued: the deepest the queue got (explains peak RSS) */
    unsigned producers_left;
    uint64_t batches_per_producer, batch, min, max;
} queue_t;

typedef struct {
    queue_t *q;
    uint64_t seed;
    uint64_t sum, freed;
} worker_t;

static inline void **batch_items(batch_t *b)
{
    return (void **)(b + 1);
}

static void queue_put(queue_t *q, batch_t *b)
{
    pthread_mutex_lock(&q->lock);
    while (q->queued >= q->cap)
        pthread_cond_wait(&q->nonfull, &q->lock);
    b->next = NULL;
    if (q->tail)
        q->tail->next = b;
    else
        q->head = b;
    q->tail = b;
    if (++q->queued > q->max_queued)
        q->max_queued = q->queued;
    pthread_cond_signal(&q->nonempty);
    pthread_mutex_unlock(&q->lock);
}

/* NULL once every producer has finished and the queue is empty. */
static batch_t *queue_get(queue_t *q)
{
    pthread_mutex_lock(&q->lock);
    while (!q->head && q->producers_left)
        pthread_cond_wait(&q->nonempty, &q->lock);
    batch_t *b = q->head;
    if (b) {
        q->head = b->next;
        if (!q->head)
            q->tail = NULL;
        q->queued--;
        pthread_cond_signal(&q->nonfull);
    }
    pthread_mutex_unlock(&q->lock);
    return b;
}

/* An object starts with the random word its length was drawn from and ends with a tag byte: the consumer
 * recomputes the length from the word and checks the tag. */
static size_t object_len(uint64_t x, uint64_t min, uint64_t max)
{
    return min + (size_t)((x >> 11) % (max - min + 1));
}

static void *producer(void *arg)
{
    worker_t *w = arg;
    queue_t *q = w->q;
    bench_rng r;
    bench_rng_seed(&r, w->seed);
    for (uint64_t i = 0; i < q->batches_per_producer; i++) {
        batch_t *b = bench_xmalloc(sizeof(batch_t) + 8 * q->batch + 8);
        void **items = batch_items(b);
        for (uint64_t k = 0; k < q->batch; k++) {
            uint64_t x = bench_rng_next(&r);
            size_t n = object_len(x, q->min, q->max);
            unsigned char *p = bench_xmalloc(n);
            memcpy(p, &x, 8);
            if (n > 8)
                p[n - 1] = (unsigned char)(x >> 40);
            items[k] = p;
        }
        /* The count rides in the trailing word of the array. */
        ((uint64_t *)items)[q->batch] = q->batch;
        queue_put(q, b);
    }
    pthread_mutex_lock(&q->lock);
    q->producers_left--;
    pthread_cond_broadcast(&q->nonempty);
    pthread_mutex_unlock(&q->lock);
    return NULL;
}

static void *consumer(void *arg)
{
    worker_t *w = arg;
    queue_t *q = w->q;
    batch_t *b;
    while ((b = queue_get(q)) != NULL) {
        void **items = batch_items(b);
        uint64_t n = ((uint64_t *)items)[q->batch];
        for (uint64_t k = 0; k < n; k++) {
            unsigned char *p = items[k];
            uint64_t x;
            memcpy(&x, p, 8);
            size_t len = object_len(x, q->min, q->max);
            if (len > 8 && p[len - 1] != (unsigned char)(x >> 40)) {
                fprintf(stderr, "handoff: object %p of %zu bytes corrupted\n", (void *)p, len);
                exit(4);
            }
            w->sum += x >> 32;
            free(p);
        }
        w->freed += n;
        free(b);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    uint64_t objects = bench_arg(argc, argv, 1, 8 << 20);
    uint64_t producers = bench_arg(argc, argv, 2, 2);
    uint64_t consumers = bench_arg(argc, argv, 3, 2);
    queue_t q = { .batch = bench_arg(argc, argv, 4, 4096), .min = bench_arg(argc, argv, 5, 64),
                  .max = bench_arg(argc, argv, 6, 64), .cap = bench_arg(argc, argv, 7, 100) };
    uint64_t seed = bench_arg(argc, argv, 8, 42);
    if (!producers || !consumers || !q.batch || !q.cap || q.min < 8 || q.max < q.min) {
        fprintf(stderr, "handoff: need producers, consumers, batch, queue >= 1 and 8 <= min <= max\n");
        return 2;
    }
    q.batches_per_producer = objects / (producers * q.batch);
    if (!q.batches_per_producer)
        q.batches_per_producer = 1;
    q.producers_left = (unsigned)producers;
    pthread_mutex_init(&q.lock, NULL);
    pthread_cond_init(&q.nonempty, NULL);
    pthread_cond_init(&q.nonfull, NULL);
    uint64_t nthreads = producers + consumers;
    worker_t *w = calloc(nthreads, sizeof *w);
    pthread_t *tid = calloc(nthreads, sizeof *tid);
    if (!w || !tid)
        return 3;
    double t0 = bench_start();
    for (uint64_t i = 0; i < nthreads; i++) {
        w[i].q = &q;
        w[i].seed = seed + i;
        if (pthread_create(&tid[i], NULL, i < consumers ? consumer : producer, &w[i]) != 0) {
            fprintf(stderr, "handoff: cannot start thread %llu\n", (unsigned long long)i);
            return 3;    /* the queue would never drain or fill: no result rather than a hang */
        }
    }
    for (uint64_t i = 0; i < nthreads; i++)
        pthread_join(tid[i], NULL);
    double secs = bench_stop(t0);
    uint64_t sum = 0, freed = 0;
    for (uint64_t i = 0; i < consumers; i++) {
        sum += w[i].sum;
        freed += w[i].freed;
    }
    if (freed != q.batches_per_producer * producers * q.batch) {
        fprintf(stderr, "handoff: %llu objects freed, %llu expected\n", (unsigned long long)freed,
                (unsigned long long)(q.batches_per_producer * producers * q.batch));
        return 4;
    }
    free(w);
    free(tid);
    char extra[160];
    snprintf(extra, sizeof extra, "producers=%llu consumers=%llu batch=%llu sizes=%llu-%llu max_queued=%llu",
             (unsigned long long)producers, (unsigned long long)consumers, (unsigned long long)q.batch,
             (unsigned long long)q.min, (unsigned long long)q.max, (unsigned long long)q.max_queued);
    bench_result("handoff", freed, secs, sum, extra);
    return 0;
}
