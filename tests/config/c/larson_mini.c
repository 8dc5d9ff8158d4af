/* larson_mini.c — a small larson-style workload: threads allocate blocks of random small
 * sizes into a shared slot array, and free blocks other threads allocated. Exits 0 and
 * prints "larson_mini: ok" when every round completed and every block kept its pattern.
 *
 *   larson_mini THREADS ROUNDS */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SLOTS 4096

static _Atomic(unsigned char *) slots[SLOTS];
static int rounds;
static atomic_int failures;

static unsigned next(unsigned *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

static void *worker(void *arg)
{
    unsigned seed = (unsigned)(uintptr_t)arg * 2654435761u + 1;
    for (int r = 0; r < rounds; r++) {
        for (int k = 0; k < 64; k++) {
            unsigned i = next(&seed) % SLOTS;
            size_t n = 8 + next(&seed) % (next(&seed) % 8 == 0 ? 40000 : 1024);
            unsigned char *p = malloc(n);
            if (!p) {
                atomic_fetch_add(&failures, 1);
                continue;
            }
            p[0] = (unsigned char)(n & 0xff);
            memset(p + 1, 0xa5, n - 1 < 64 ? n - 1 : 64);
            unsigned char *old = atomic_exchange(&slots[i], p);
            if (old) {
                if (old[1] != 0xa5)
                    atomic_fetch_add(&failures, 1);
                free(old);
            }
        }
        void *q = realloc(malloc(16), 300);
        free(calloc(1, 64));
        free(q);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : 4;
    rounds = argc > 2 ? atoi(argv[2]) : 1000;
    if (threads < 1 || threads > 256 || rounds < 1)
        return 2;
    pthread_t tid[256];
    for (int t = 0; t < threads; t++)
        if (pthread_create(&tid[t], NULL, worker, (void *)(uintptr_t)(t + 1)) != 0)
            return 3;
    for (int t = 0; t < threads; t++)
        pthread_join(tid[t], NULL);
    for (int i = 0; i < SLOTS; i++)
        free(atomic_load(&slots[i]));
    if (atomic_load(&failures)) {
        printf("larson_mini: %d failures\n", atomic_load(&failures));
        return 1;
    }
    printf("larson_mini: ok (%d threads x %d rounds)\n", threads, rounds);
    return 0;
}
