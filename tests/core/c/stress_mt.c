/* stress_mt.c — multi-threaded stress of the allocator.
 *
 * Every round creates THREADS threads which exit at the end of the round.
 * Each thread mixes: malloc / calloc / aligned allocations (posix_memalign,
 * aligned_alloc, memalign), frees, realloc chains across tiers, and
 * cross-thread frees through a shared lock-free exchange (atomic_exchange on
 * an array of slots, so no ABA).  Every block carries a cookie derived from
 * its address, size and the run's seed; it is verified before every free and
 * after every realloc.  Blocks left in the exchange at the end of a round are
 * freed by threads of later rounds, after their allocating thread exited.
 *
 * usage: stress_mt [threads] [rounds] [ops_per_thread_per_round] [seed] */
#include "hakc.h"

#include <pthread.h>

enum { LOCAL = 64, GLOBAL = 1024, COVER = 32768 };

static _Atomic(void *) exchange[GLOBAL];
static uint64_t run_seed = 12345;
static int ops_per_round = 20000;
static atomic_long total_ops, total_allocs, total_xfree;

static size_t cover(size_t n) { return n < COVER ? n : COVER; }

static uint64_t hdr_check(uintptr_t addr, size_t size) { return hakc_mix(addr ^ (size << 1) ^ run_seed); }

/* Write the cookie of a block: blocks of 16 bytes and more carry a header
 * (size, check word) so whoever takes them from the exchange knows their size. */
static void put_cookie(void *p, size_t size)
{
    uintptr_t a = (uintptr_t)p;
    if (size >= 16) {
        uint64_t h[2] = {size, hdr_check(a, size)};
        memcpy(p, h, 16);
        hakc_fill((char *)p + 16, cover(size) - 16, a, run_seed);
    } else {
        hakc_fill(p, size, a, run_seed);
    }
}

/* Check the first `len` bytes of a block (now at p) whose cookie was written
 * for (addr, size).  Returns 1 when intact. */
static int check_cookie(const void *p, uintptr_t addr, size_t size, size_t len)
{
    if (size >= 16) {
        if (len >= 16) {
            uint64_t h[2];
            memcpy(h, p, 16);
            if (h[0] != size || h[1] != hdr_check(addr, size))
                return 0;
        }
        if (len <= 16)
            return 1;
        size_t body = cover(size) - 16, want = len - 16;
        if (want > body)
            want = body;
        return hakc_verify((const char *)p + 16, want, body, addr, run_seed) == (size_t)-1;
    }
    if (len > size)
        len = size;
    return hakc_verify(p, len, size, addr, run_seed) == (size_t)-1;
}

static size_t pick_size(uint64_t *s)
{
    uint64_t r = hakc_rand(s);
    unsigned k = (unsigned)(r % 1000);
    r >>= 10;
    if (k < 700) return 1 + r % 2048;                 /* TINY */
    if (k < 820) return 2049 + r % (8192 - 2048);     /* POOL */
    if (k < 930) return 8193 + r % (32768 - 8192);    /* MID */
    if (k < 995) return 32769 + r % (256u << 10);     /* LARGE */
    return (256u << 10) + r % (2u << 20);             /* LARGE, big */
}

struct tstate {
    uint64_t seed;
    void *p[LOCAL];
    size_t n[LOCAL];
    int fails;
    char first[200];
};

#define TFAIL(ts, ...)                                                        \
    do {                                                                      \
        if (!(ts)->fails++)                                                   \
            snprintf((ts)->first, sizeof (ts)->first, __VA_ARGS__);           \
    } while (0)

static void release(struct tstate *ts, void *p, size_t n, const char *why)
{
    if (!check_cookie(p, (uintptr_t)p, n, cover(n)))
        TFAIL(ts, "%s: cookie of a %zu-byte block at %p corrupted", why, n, p);
    M(free)(p);
}

static void do_alloc(struct tstate *ts, int i)
{
    size_t n = pick_size(&ts->seed);
    uint64_t r = hakc_rand(&ts->seed);
    void *p = NULL;
    unsigned how = (unsigned)(r % 100);
    if (how < 70) {
        p = M(malloc)(n);
    } else if (how < 85) {
        p = M(calloc)(1, n);
        if (p) {
            const unsigned char *b = p;
            size_t c = cover(n);
            for (size_t k = 0; k < c; k++)
                if (b[k]) {
                    TFAIL(ts, "calloc(%zu) byte %zu = %#x", n, k, b[k]);
                    break;
                }
        }
    } else {
        static const size_t aligns[] = {32, 64, 128, 256, 512, 1024, 4096, 65536};
        size_t a = aligns[(r >> 8) % (((r >> 16) % 16) ? 7 : 8)];
        switch ((r >> 24) % 3) {
        case 0:
            if (M(posix_memalign)(&p, a, n) != 0)
                p = NULL;
            break;
        case 1: p = M(aligned_alloc)(a, n); break;
        default: p = M(memalign)(a, n); break;
        }
        if (p && ((uintptr_t)p & (a - 1)))
            TFAIL(ts, "aligned allocation (%zu, %zu) misaligned: %p", a, n, p);
    }
    atomic_fetch_add_explicit(&total_allocs, 1, memory_order_relaxed);
    if (!p) {
        TFAIL(ts, "allocation of %zu bytes failed", n);
        return;
    }
    if (((uintptr_t)p & 15))
        TFAIL(ts, "block of %zu bytes not 16-aligned: %p", n, p);
    if (M(malloc_usable_size)(p) < n)
        TFAIL(ts, "usable size %zu < %zu", M(malloc_usable_size)(p), n);
    put_cookie(p, n);
    ts->p[i] = p;
    ts->n[i] = n;
}

static void do_realloc(struct tstate *ts, int i)
{
    void *old = ts->p[i];
    size_t on = ts->n[i];
    uintptr_t oa = (uintptr_t)old;
    /* a realloc chain: several steps, growing and shrinking across tiers */
    int steps = 1 + (int)(hakc_rand(&ts->seed) % 4);
    for (int s = 0; s < steps; s++) {
        size_t nn = (hakc_rand(&ts->seed) & 1) ? on + 1 + on / 2 : pick_size(&ts->seed);
        if (nn > (4u << 20))
            nn = 100;
        void *q = M(realloc)(old, nn);
        if (!q) {
            TFAIL(ts, "realloc(%zu -> %zu) failed", on, nn);
            return; /* old stays valid and in ts->p[i] */
        }
        size_t keep = on < nn ? on : nn;
        if (!check_cookie(q, oa, on, keep < cover(on) ? keep : cover(on)))
            TFAIL(ts, "realloc(%zu -> %zu) lost contents", on, nn);
        put_cookie(q, nn);
        old = q;
        on = nn;
        oa = (uintptr_t)q;
        ts->p[i] = q;
        ts->n[i] = nn;
    }
}

static void do_give(struct tstate *ts, int i)
{
    if (ts->n[i] < 16)
        return;
    void *got = atomic_exchange(&exchange[hakc_rand(&ts->seed) % GLOBAL], ts->p[i]);
    ts->p[i] = NULL;
    if (got) {
        uint64_t h[2];
        memcpy(h, got, 16);
        size_t n = (size_t)h[0];
        if (h[1] != hdr_check((uintptr_t)got, n)) {
            TFAIL(ts, "exchanged block %p has a bad header", got);
            return; /* do not trust its size */
        }
        if (hakc_rand(&ts->seed) & 1) {
            atomic_fetch_add_explicit(&total_xfree, 1, memory_order_relaxed);
            release(ts, got, n, "cross-thread free");
        } else {
            /* adopt it: it will be realloc'ed or freed by this thread later */
            if (!check_cookie(got, (uintptr_t)got, n, cover(n)))
                TFAIL(ts, "adopted block corrupted");
            ts->p[i] = got;
            ts->n[i] = n;
        }
    }
}

static void do_take(struct tstate *ts)
{
    void *got = atomic_exchange(&exchange[hakc_rand(&ts->seed) % GLOBAL], NULL);
    if (!got)
        return;
    uint64_t h[2];
    memcpy(h, got, 16);
    if (h[1] != hdr_check((uintptr_t)got, (size_t)h[0])) {
        TFAIL(ts, "taken block %p has a bad header", got);
        return;
    }
    atomic_fetch_add_explicit(&total_xfree, 1, memory_order_relaxed);
    release(ts, got, (size_t)h[0], "cross-thread free");
}

static atomic_int failures_total;
static char first_failure[200];
static atomic_flag first_taken = ATOMIC_FLAG_INIT;

static void *worker(void *arg)
{
    struct tstate ts;
    memset(&ts, 0, sizeof ts);
    ts.seed = hakc_mix((uintptr_t)arg ^ run_seed);
    for (int op = 0; op < ops_per_round; op++) {
        int i = (int)(hakc_rand(&ts.seed) % LOCAL);
        unsigned k = (unsigned)(hakc_rand(&ts.seed) % 100);
        if (k < 40) {
            if (ts.p[i])
                release(&ts, ts.p[i], ts.n[i], "free");
            ts.p[i] = NULL;
            do_alloc(&ts, i);
        } else if (k < 58) {
            if (ts.p[i]) {
                release(&ts, ts.p[i], ts.n[i], "free");
                ts.p[i] = NULL;
            }
        } else if (k < 72) {
            if (ts.p[i])
                do_realloc(&ts, i);
        } else if (k < 90) {
            if (ts.p[i])
                do_give(&ts, i);
        } else {
            do_take(&ts);
        }
    }
    /* on exit: hand about half of what is left to the exchange (freed later by
     * other threads, after this one is gone), free the rest */
    for (int i = 0; i < LOCAL; i++) {
        if (!ts.p[i])
            continue;
        if ((i & 1) && ts.n[i] >= 16)
            do_give(&ts, i);
        if (ts.p[i])
            release(&ts, ts.p[i], ts.n[i], "exit free");
        ts.p[i] = NULL;
    }
    atomic_fetch_add(&total_ops, ops_per_round);
    if (ts.fails) {
        atomic_fetch_add(&failures_total, ts.fails);
        if (!atomic_flag_test_and_set(&first_taken))
            memcpy(first_failure, ts.first, sizeof first_failure);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : 16;
    int rounds = argc > 2 ? atoi(argv[2]) : 4;
    if (argc > 3)
        ops_per_round = atoi(argv[3]);
    if (argc > 4)
        run_seed = strtoull(argv[4], NULL, 0);
    if (threads > 256)
        threads = 256;
    pthread_t t[256];
    int create_fail = 0;
    for (int r = 0; r < rounds; r++) {
        int created = 0;
        for (int i = 0; i < threads; i++) {
            if (pthread_create(&t[created], NULL, worker, (void *)(uintptr_t)(r * 1000 + i + 1)) == 0)
                created++;
            else
                create_fail++;
        }
        for (int i = 0; i < created; i++)
            pthread_join(t[i], NULL);
    }
    /* free whatever is still in the exchange */
    struct tstate ts;
    memset(&ts, 0, sizeof ts);
    for (int g = 0; g < GLOBAL; g++) {
        void *got = atomic_exchange(&exchange[g], NULL);
        if (got) {
            uint64_t h[2];
            memcpy(h, got, 16);
            if (h[1] != hdr_check((uintptr_t)got, (size_t)h[0]))
                TFAIL(&ts, "left-over block %p has a bad header", got);
            else
                release(&ts, got, (size_t)h[0], "final free");
        }
    }
    hakc_line("info ops=%ld allocs=%ld cross_thread_frees=%ld threads=%d rounds=%d",
              atomic_load(&total_ops), atomic_load(&total_allocs), atomic_load(&total_xfree), threads,
              rounds);
    CHECK("stress.threads", create_fail == 0, "%d pthread_create failures", create_fail);
    CHECK("stress.cookies", atomic_load(&failures_total) == 0, "%d failures in workers, first: %s",
          atomic_load(&failures_total), first_failure);
    CHECK("stress.final", ts.fails == 0, "%s", ts.first);
    CHECK("stress.cross_thread", atomic_load(&total_xfree) > 0, "no cross-thread frees happened");
    return hakc_finish();
}
