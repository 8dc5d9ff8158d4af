/* workload.c — a small multi-threaded program using the whole malloc family, for the stats and trace
 * tests. argv: threads rounds [sleep_ms_between_rounds]. Prints "done allocs=N" with the number of
 * allocating calls it made (malloc, calloc, realloc, posix_memalign, aligned_alloc). With
 * WORKLOAD_STATS_JSON=1 it then prints "json <hak_stats_json()>" (looked up with dlsym). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int rounds = 100, sleep_ms;
static atomic_long calls;

static void *worker(void *arg)
{
    unsigned seed = (unsigned)(uintptr_t)arg * 7919u + 1;
    void *v[64];
    long n = 0;
    for (int r = 0; r < rounds; r++) {
        for (int i = 0; i < 64; i++) {
            seed = seed * 1103515245u + 12345u;
            size_t sz = 8 + (seed >> 8) % (i % 16 == 0 ? 60000 : 900);
            switch (i % 5) {
            case 0: v[i] = calloc(1, sz); break;
            case 1: v[i] = aligned_alloc(64, (sz + 63) & ~(size_t)63); break;
            case 2: {
                void *a = NULL;
                v[i] = posix_memalign(&a, 32, sz) == 0 ? a : NULL;
                break;
            }
            default: v[i] = malloc(sz); break;
            }
            n++;
            if (v[i])
                memset(v[i], 1, sz < 64 ? sz : 64);
        }
        for (int i = 0; i < 64; i += 4) {
            v[i] = realloc(v[i], 300 + (size_t)i * 10);
            n++;
        }
        for (int i = 0; i < 64; i++)
            free(v[i]);
        if (sleep_ms)
            usleep((useconds_t)sleep_ms * 1000);
    }
    atomic_fetch_add(&calls, n);
    return NULL;
}

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : 2;
    rounds = argc > 2 ? atoi(argv[2]) : 100;
    sleep_ms = argc > 3 ? atoi(argv[3]) : 0;
    pthread_t t[64];
    for (int i = 0; i < threads && i < 64; i++)
        pthread_create(&t[i], NULL, worker, (void *)(uintptr_t)(i + 1));
    for (int i = 0; i < threads && i < 64; i++)
        pthread_join(t[i], NULL);
    printf("done allocs=%ld\n", atomic_load(&calls));
    if (getenv("WORKLOAD_STATS_JSON")) {
        const char *(*fn)(void) = (const char *(*)(void))dlsym(RTLD_DEFAULT, "hak_stats_json");
        printf("json %s", fn ? fn() : "null\n");
    }
    return 0;
}
