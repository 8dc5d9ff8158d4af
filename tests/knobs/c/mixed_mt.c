/* mixed_mt — two producer threads allocate TINY/POOL blocks and hand them through a ring to a
 * consumer thread that frees them (cross-thread frees), while each also churns blocks locally. */
#include <pthread.h>
#include <stdatomic.h>
#include "kw.h"

#define RING 4096
#define PER_PRODUCER 150000
#define NPROD 2

typedef struct { _Atomic(void *) slot[RING]; _Atomic unsigned head, tail; } ring_t;
static ring_t rings[NPROD];

static void *producer(void *arg) {
    ring_t *rg = &rings[(intptr_t)arg];
    uint32_t s = 777 + (uint32_t)(intptr_t)arg;
    void *local[64];
    for (int i = 0; i < PER_PRODUCER; i++) {
        size_t n = 16 + (kw_rand(&s) % ((i & 15) == 0 ? 4096 : 480));
        void *b = kw_touch(malloc(n), n);
        unsigned h = atomic_load_explicit(&rg->head, memory_order_relaxed);
        while (h - atomic_load_explicit(&rg->tail, memory_order_acquire) >= RING) sched_yield();
        atomic_store_explicit(&rg->slot[h % RING], b, memory_order_relaxed);
        atomic_store_explicit(&rg->head, h + 1, memory_order_release);
        if ((i & 63) == 0) {
            for (int k = 0; k < 64; k++) local[k] = kw_touch(malloc(24 + k * 8), 24 + k * 8);
            for (int k = 0; k < 64; k++) free(local[k]);
        }
    }
    return NULL;
}

static void *consumer(void *arg) {
    (void)arg;
    int done = 0;
    while (done < NPROD * PER_PRODUCER) {
        int got = 0;
        for (int r = 0; r < NPROD; r++) {
            ring_t *rg = &rings[r];
            unsigned t = atomic_load_explicit(&rg->tail, memory_order_relaxed);
            while (t != atomic_load_explicit(&rg->head, memory_order_acquire)) {
                free(atomic_load_explicit(&rg->slot[t % RING], memory_order_relaxed));
                t++; got++; done++;
            }
            atomic_store_explicit(&rg->tail, t, memory_order_release);
        }
        if (!got) sched_yield();
    }
    return NULL;
}

int main(void) {
    pthread_t pr[NPROD], co;
    pthread_create(&co, NULL, consumer, NULL);
    for (intptr_t i = 0; i < NPROD; i++) pthread_create(&pr[i], NULL, producer, (void *)i);
    for (int i = 0; i < NPROD; i++) pthread_join(pr[i], NULL);
    pthread_join(co, NULL);
    printf("summary mixed_mt ok\n");
    return 0;
}
