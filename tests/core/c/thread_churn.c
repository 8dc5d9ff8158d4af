/* thread_churn.c — many short-lived threads allocate and exit; some of their
 * blocks are freed by other threads after the allocating thread is gone.
 * Thread caches and slabs must be returned or adopted: RSS must not grow
 * without bound across rounds.
 *
 * usage: thread_churn [rounds] [threads_per_round] [blocks_per_thread]
 * Prints "info rss round=R bytes=B" per round; fails when the final RSS
 * exceeds twice the post-warm-up RSS plus 48 MiB. */
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
    size_t rss_warm = 0, rss_max = 0, rss = 0;
    int warm_round = rounds > 6 ? 4 : rounds / 2;
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
        if (r == warm_round)
            rss_warm = rss;
        if (rss > rss_max)
            rss_max = rss;
        hakc_line("info rss round=%d bytes=%zu", r, rss);
    }
    drain_handoff(handoff, handoff_size, prev_n);
    for (int i = 0; i < 2; i++) {
        M(free)(buf[i]);
        M(free)(bsz[i]);
    }
    size_t bound = 2 * rss_warm + (48u << 20);
    CHECK("churn.rss_bounded", rss <= bound,
          "RSS after %d rounds %zu MiB > bound %zu MiB (after warm-up %zu MiB, peak %zu MiB)", rounds,
          rss >> 20, bound >> 20, rss_warm >> 20, rss_max >> 20);
    return hakc_finish();
}
