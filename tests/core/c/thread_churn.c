/* thread_churn.c — many short-lived threads allocate and exit; some of their
 * blocks are freed by other threads after the allocating thread is gone.
 * Thread caches and slabs must be returned or adopted: RSS must not grow
 * without bound across rounds.
 *
 * usage: thread_churn [rounds] [threads_per_round] [blocks_per_thread]
 * Prints "info rss round=R bytes=B live_peak=L" per round.  Two generous
 * bounds: RSS must level off (the peak of the last quarter of the rounds at
 * most 1.5x the peak of the second quarter, plus 32 MiB), and stay within
 * 8x the peak of concurrently live bytes plus 64 MiB.  A leak of per-thread
 * caches or slabs grows linearly with the rounds and breaks both. */
#include "hakc.h"

#include <pthread.h>

enum { MAXT = 256 };
static int blocks_per_thread = 2000;

/* Blocks handed over by exiting threads, freed by the next round's threads or
 * by main. */
static void **handoff;
static size_t *handoff_size;
static atomic_size_t handoff_n;
static size_t handoff_cap;

/* Bytes currently allocated by the program, and their peak. */
static atomic_long live_bytes, live_peak;
static void live_add(long n)
{
    long now = atomic_fetch_add_explicit(&live_bytes, n, memory_order_relaxed) + n;
    long peak = atomic_load_explicit(&live_peak, memory_order_relaxed);
    while (now > peak && !atomic_compare_exchange_weak(&live_peak, &peak, now))
        ;
}

static void *worker(void *arg)
{
    uint64_t seed = (uintptr_t)arg;
    void **mine = M(malloc)(sizeof(void *) * (size_t)blocks_per_thread);
    size_t *sz = M(malloc)(sizeof(size_t) * (size_t)blocks_per_thread);
    int bad = 0;
    for (int i = 0; i < blocks_per_thread; i++) {
        uint64_t r = hakc_rand(&seed);
        sz[i] = (r % 32 == 0) ? 2049 + (r >> 8) % 30000 : (r % 256 == 1) ? 40000 + (r >> 8) % 100000
                                                       : 1 + (r >> 8) % 1024;
        mine[i] = M(malloc)(sz[i]);
        if (!mine[i]) {
            bad++;
            continue;
        }
        live_add((long)sz[i]);
        size_t n = sz[i] < 32 ? sz[i] : 32;
        hakc_fill(mine[i], n, (uintptr_t)mine[i], 41);
    }
    /* free half locally, hand a quarter over to other threads, free the rest */
    for (int i = 0; i < blocks_per_thread; i++) {
        if (!mine[i])
            continue;
        size_t n = sz[i] < 32 ? sz[i] : 32;
        if (hakc_verify(mine[i], n, n, (uintptr_t)mine[i], 41) != (size_t)-1)
            bad++;
        if (i % 4 == 1) {
            size_t k = atomic_fetch_add(&handoff_n, 1);
            if (k < handoff_cap) {
                handoff[k] = mine[i];
                handoff_size[k] = sz[i];
                continue;
            }
        }
        live_add(-(long)sz[i]);
        M(free)(mine[i]);
    }
    M(free)(mine);
    M(free)(sz);
    FAILIF("churn.worker", bad, "%d blocks failed or corrupted in a worker", bad);
    return NULL;
}

static void drain_handoff(void **list, size_t *sizes, size_t n)
{
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        size_t k = sizes[i] < 32 ? sizes[i] : 32;
        if (hakc_verify(list[i], k, k, (uintptr_t)list[i], 41) != (size_t)-1)
            bad++;
        live_add(-(long)sizes[i]);
        M(free)(list[i]);
    }
    FAILIF("churn.handoff", bad, "%d handed-over blocks corrupted", bad);
}

struct drainer_arg { void **list; size_t *sizes; size_t n; };
static void *drainer(void *a)
{
    struct drainer_arg *d = a;
    drain_handoff(d->list, d->sizes, d->n);
    return NULL;
}

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 30;
    int nthreads = argc > 2 ? atoi(argv[2]) : 32;
    if (argc > 3)
        blocks_per_thread = atoi(argv[3]);
    if (nthreads > MAXT)
        nthreads = MAXT;
    handoff_cap = (size_t)nthreads * (size_t)blocks_per_thread / 4 + 16;
    /* two buffers: the previous round's handoff is freed while the current
     * round fills the other one */
    void **buf[2];
    size_t *bsz[2];
    for (int i = 0; i < 2; i++) {
        buf[i] = M(malloc)(sizeof(void *) * handoff_cap);
        bsz[i] = M(malloc)(sizeof(size_t) * handoff_cap);
    }
    size_t prev_n = 0;
    size_t *rss_at = M(calloc)((size_t)rounds, sizeof(size_t));
    size_t rss = 0;
    for (int r = 0; r < rounds; r++) {
        int cur = r & 1;
        handoff = buf[cur];
        handoff_size = bsz[cur];
        atomic_store(&handoff_n, 0);
        pthread_t t[MAXT + 1];
        /* the previous round's blocks are freed by a thread of this round,
         * after the threads that allocated them have exited */
        struct drainer_arg da = {buf[cur ^ 1], bsz[cur ^ 1], prev_n};
        pthread_t dt;
        int have_dt = pthread_create(&dt, NULL, drainer, &da) == 0;
        int created = 0;
        for (int i = 0; i < nthreads; i++)
            if (pthread_create(&t[i], NULL, worker, (void *)(uintptr_t)(r * 1000 + i + 1)) == 0)
                created++;
        FAILIF("churn.create", created != nthreads, "only %d of %d threads created", created, nthreads);
        for (int i = 0; i < created; i++)
            pthread_join(t[i], NULL);
        if (have_dt)
            pthread_join(dt, NULL);
        else
            drain_handoff(da.list, da.sizes, da.n);
        prev_n = atomic_load(&handoff_n);
        if (prev_n > handoff_cap)
            prev_n = handoff_cap;
        rss = hakc_rss_bytes();
        rss_at[r] = rss;
        hakc_line("info rss round=%d bytes=%zu live_peak=%ld", r, rss, atomic_load(&live_peak));
    }
    drain_handoff(handoff, handoff_size, prev_n);
    for (int i = 0; i < 2; i++) {
        M(free)(buf[i]);
        M(free)(bsz[i]);
    }
    size_t q2 = 0, q4 = 0;
    for (int r = rounds / 4; r < rounds / 2; r++)
        q2 = rss_at[r] > q2 ? rss_at[r] : q2;
    for (int r = rounds - rounds / 4; r < rounds; r++)
        q4 = rss_at[r] > q4 ? rss_at[r] : q4;
    M(free)(rss_at);
    size_t level = q2 + q2 / 2 + (32u << 20);
    CHECK("churn.rss_levels_off", rounds < 8 || q4 <= level,
          "RSS still growing: peak %zu MiB in the last quarter of %d rounds > 1.5 x %zu MiB (second quarter) + 32 MiB",
          q4 >> 20, rounds, q2 >> 20);
    /* The bound allows for per-thread heaps: each of the ~33 concurrent threads touches a slab of each
     * of some 70 size classes, and freed memory is given back after a decay delay, not at once
     * (mimalloc 2.0.9 ends this run near 130 MiB for a 20 MiB live peak; glibc and jemalloc near 22). */
    size_t peak = (size_t)atomic_load(&live_peak);
    size_t bound = 8 * peak + (64u << 20);
    CHECK("churn.rss_bounded", rss <= bound,
          "RSS after %d rounds %zu MiB > 8 x live peak %zu MiB + 64 MiB", rounds, rss >> 20, peak >> 20);
    return hakc_finish();
}
