/* bin_counts.c — a workload whose every block is freed before exit, for the per-class counts of the
 * stats report: batches of one size at a time (refills, flushes, the free-storm shrink of the other
 * bins), a hot malloc/free loop (pops and pushes only), then blocks handed to two threads that free
 * them and make their own. argv: batch (blocks per size, default 3000). Prints "allocs=N". */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const size_t sizes[] = { 24, 200, 1500, 6000, 24000 };
#define NSIZES (sizeof sizes / sizeof sizes[0])

static char **handed;
static long batch;

static void *worker(void *arg)
{
    long half = (long)(size_t)arg;
    for (long i = half * (batch / 2); i < (half + 1) * (batch / 2); i++)
        free(handed[i]);                 /* blocks of the main thread's heap */
    for (int i = 0; i < 1000; i++) {
        char *p = malloc(6000);
        p[0] = 1;
        free(p);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    batch = argc > 1 ? atol(argv[1]) : 3000;
    char **v = malloc((size_t)batch * sizeof *v);
    long allocs = 1;
    for (int round = 0; round < 3; round++)
        for (size_t s = 0; s < NSIZES; s++) {
            for (long i = 0; i < batch; i++) {
                v[i] = malloc(sizes[s]);
                memset(v[i], (int)i, 16);
            }
            for (long i = 0; i < batch; i++)
                free(v[i]);
            allocs += batch;
        }
    for (int i = 0; i < 20000; i++) {
        char *volatile p = malloc(24);
        free(p);
    }
    allocs += 20000;
    handed = v;
    for (long i = 0; i < batch; i++)
        handed[i] = malloc(200);
    allocs += batch;
    pthread_t t[2];
    for (long i = 0; i < 2; i++)
        pthread_create(&t[i], NULL, worker, (void *)(size_t)i);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    allocs += 2000;
    for (long i = 2 * (batch / 2); i < batch; i++)
        free(handed[i]);
    free(v);
    printf("allocs=%ld\n", allocs);
    return 0;
}
