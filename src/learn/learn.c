/* learn.c — what the learners share: the two slow-path hooks that feed them, the clock, resizing a
 * bin, and the learner section of the statistics report. */
#define _GNU_SOURCE
#include "learn.h"

#if HAK_HAS_LEARNING
#include "heap.h"
#include "hardened/links.h"
#include "size_class.h"
#include "tuning.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

uint64_t hak_learn_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);   /* vDSO, a few ns; 1-4 ms resolution is plenty */
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

hak_learn_fx_t hak_learn_fx(double v, int dec)
{
    hak_learn_fx_t r;
    char tmp[32];
    int n = 0, neg = v < 0;
    if (dec < 0)
        dec = 0;
    if (dec > 6)
        dec = 6;
    if (neg)
        v = -v;
    if (v > 1e15)
        v = 1e15;
    uint64_t scale = 1;
    for (int i = 0; i < dec; i++)
        scale *= 10;
    uint64_t x = (uint64_t)(v * (double)scale + 0.5);
    for (int i = 0; i < dec; i++, x /= 10)
        tmp[n++] = (char)('0' + x % 10);
    if (dec)
        tmp[n++] = '.';
    do {
        tmp[n++] = (char)('0' + x % 10);
        x /= 10;
    } while (x);
    int k = 0;
    if (neg)
        r.s[k++] = '-';
    while (n)
        r.s[k++] = tmp[--n];
    r.s[k] = 0;
    return r;
}

size_t hak_learn_fmt(char *buf, size_t cap, size_t len, const char *fmt, ...)
{
    if (!cap || len >= cap - 1)
        return len;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf + len, cap - len, fmt, ap);
    va_end(ap);
    if (n < 0)
        return len;
    return len + (size_t)n < cap ? len + (size_t)n : cap - 1;
}

void hak_learn_fork_child(void)
{
#if HAK_FEATURE_CAP_LEARN
    hak_learn_cap_fork_child();
#endif
#if HAK_FEATURE_MEM_LEARN
    hak_learn_mem_fork_child();
#endif
#if HAK_FEATURE_ELO
    hak_learn_elo_fork_child();
#endif
}
#endif

#if HAK_HAS_LEARN_HOOKS
void hak_learn_bin_set_cap(hak_tls_t *t, hak_bin_t *b, uint32_t new_cap)
{
    uint32_t count = hak_bin_count(b);
    if (count > new_cap) {
        hak_heap_flush_bin(t, b, (unsigned)(b - t->bins), count - new_cap, 0);
        count = new_cap;
    }
    b->cap = new_cap;
    b->room = new_cap - count;            /* room += new_cap - old_cap, less what went home */
    t->learn.changes++;
}

static int learning_on(void)
{
    return hak_cfg.alloc_learn || hak_cfg.mem_learn;
}

/* The clock, read on every 8th event the learners see: their windows are 100 ms and more, and a
 * thread that goes 8 events without reading it is busy enough for the reading to be fresh. */
static void clock_tick(hak_tls_t *t)
{
    if ((t->learn.clock.n++ & 7) == 0)
        t->learn.clock.now = hak_learn_now_ns();
}

/* `weight`: how many slow-path events this one stands for (a quiet thread's learners see a sample). */
static void on_event(hak_tls_t *t, hak_bin_t *b, unsigned cls, int overflow, unsigned weight)
{
    clock_tick(t);
    uint64_t now = t->learn.clock.now;
#if HAK_FEATURE_MEM_LEARN
    {
        uint32_t r = t->heap->refill[cls];
        hak_learn_mem_event(t, (overflow ? b->cap / 2 + 1 : r) * weight, now);
    }
#endif
    if (!hak_cfg.alloc_learn)
        return;
#if HAK_FEATURE_CAP_LEARN
    if (hak_learn_cap_owns(cls)) {
        hak_learn_cap_event(t, b, cls, overflow, weight, now);
#if HAK_FEATURE_ALLOC_LEARN
        hak_learn_alloc_sweep(t, now);
#endif
        return;
    }
#endif
#if HAK_FEATURE_ALLOC_LEARN
    hak_learn_alloc_event(t, b, cls, overflow, weight, now);
    hak_learn_alloc_sweep(t, now);
#endif
}

/* The pace of learning. Every LOOK_EVENTS slow-path events a thread looks at its own traffic.
 *
 * Standing still: a thread whose slow paths mostly move other threads' blocks — a producer refilling
 * from what its consumers freed back, a consumer flushing what it was handed — is one no learner here
 * can help: a bigger bin or refill batch only holds blocks away from their owners, who carve more (RSS
 * up), and memory learning would judge the process by traffic it does not shape. While more than half
 * of the blocks its slow paths moved crossed threads, it stands still: the caps and refill batches the
 * learners gave it go back to the configured ones and its hooks cost a counter increment.
 *
 * Going quiet: a thread whose learners changed nothing in its cache since the last look has found its
 * settings; its learners then see one event in 2, 4, then 8 (each standing for as many), so a settled
 * program pays an eighth of the learning; the first change brings every event back. */
#define LOOK_EVENTS 256
#define QUIET_MAX   3

static _Atomic uint64_t g_still_threads, g_still_looks, g_quiet_looks, g_looks;

static int cross_thread_dominated(hak_tls_t *t)
{
    hak_learn_pace_thread_t *P = &t->learn.pace;
    const hak_heap_stats_t *st = &t->heap->st;
    uint64_t moved = hak_counter_get(&st->refill_blocks) + hak_counter_get(&st->flush_blocks);
    uint64_t remote = hak_counter_get(&st->remote_frees) + hak_counter_get(&st->remote_drained);
    uint64_t d_moved = moved - P->moved, d_remote = remote - P->remote;
    P->moved = moved;
    P->remote = remote;
    return d_remote * 2 > d_moved;
}

/* During a free storm (heap.c) the allocator has shrunk the bins to one block on purpose and restores
 * their configured caps at the next refill, but only the bins still at one block: a learner that grew
 * them in between would leave them tiny for good, every operation then a slow path. It stands still. */
static int in_free_storm(const hak_tls_t *t)
{
    return t->storm.active;
}

/* Back to the configuration: what the learners changed in this thread's cache goes. */
static void undo_learned(hak_tls_t *t)
{
    for (unsigned c = 0; c < HAK_NCLASS; c++) {
        hak_bin_t *b = &t->bins[c];
        /* a bin sent home may start a free storm, which shrinks the bins: those stay shrunk */
        if (b->cap && b->cap != hak_tune.cap[c] && !in_free_storm(t))
            hak_learn_bin_set_cap(t, b, hak_tune.cap[c]);
        t->heap->refill[c] = hak_tune.refill[c];
#if HAK_FEATURE_ALLOC_LEARN
        t->learn.alloc.c[c].used = 0;     /* a fresh window if the thread learns again */
#endif
    }
#if HAK_FEATURE_CAP_LEARN
    /* learning again, the thread adopts the learned MID caps anew and counts its hits from then */
    t->learn.cap.gen = 0;
    for (unsigned i = 0; i < HAK_LEARN_MID_MAX; i++)
        t->learn.cap.m[i].seen = 0;
#endif
}

static void look(hak_tls_t *t)
{
    hak_learn_pace_thread_t *P = &t->learn.pace;
    P->events = 0;
    int was = P->still;
    P->still = (uint8_t)cross_thread_dominated(t);
    atomic_fetch_add_explicit(&g_looks, 1, memory_order_relaxed);
    if (P->still) {
        atomic_fetch_add_explicit(&g_still_looks, 1, memory_order_relaxed);
        if (!was)
            undo_learned(t);
        if (!P->counted) {
            P->counted = 1;
            atomic_fetch_add_explicit(&g_still_threads, 1, memory_order_relaxed);
        }
    } else if (t->learn.changes == P->changes_seen) {
        if (P->quiet < QUIET_MAX)
            P->quiet++;
        atomic_fetch_add_explicit(&g_quiet_looks, 1, memory_order_relaxed);
    } else {
        P->quiet = 0;
    }
    P->changes_seen = t->learn.changes;
}

/* How many slow-path events this one stands for: 0 to skip it (standing still, or quiet). */
static unsigned pace(hak_tls_t *t)
{
    hak_learn_pace_thread_t *P = &t->learn.pace;
    if (++P->events >= LOOK_EVENTS)
        look(t);
    if (P->still)
        return 0;
    unsigned every = 1u << P->quiet;
    return P->events & (every - 1) ? 0 : every;
}

size_t hak_learn_pace_report(char *buf, size_t cap, size_t len, int json)
{
    unsigned long long threads = atomic_load_explicit(&g_still_threads, memory_order_relaxed);
    unsigned long long still = atomic_load_explicit(&g_still_looks, memory_order_relaxed);
    unsigned long long quiet = atomic_load_explicit(&g_quiet_looks, memory_order_relaxed);
    unsigned long long looks = atomic_load_explicit(&g_looks, memory_order_relaxed);
    if (json)
        return hak_learn_fmt(buf, cap, len, "\"standstill\":{\"threads\":%llu,\"looks\":%llu,"
                             "\"cross_thread_looks\":%llu,\"quiet_looks\":%llu}", threads, looks, still, quiet);
    return hak_learn_fmt(buf, cap, len, "  standing still: %llu threads (cross-thread traffic at %llu of %llu looks, "
                         "quiet at %llu)\n", threads, still, looks, quiet);
}

void hak_learn_on_refill(hak_tls_t *t, hak_bin_t *b, unsigned cls)
{
    if (!learning_on() || cls >= HAK_NCLASS || in_free_storm(t))
        return;
    unsigned weight = pace(t);
    if (!weight)
        return;
    if (b->cap == 0) {
        /* No cache to size (integrity checks, tracing, a class bypassed): every allocation comes
         * here, and only memory learning has something to learn from it. */
#if HAK_FEATURE_MEM_LEARN
        clock_tick(t);
        hak_learn_mem_event(t, weight, t->learn.clock.now);
#endif
        return;
    }
    on_event(t, b, cls, 0, weight);
}

void hak_learn_on_overflow(hak_tls_t *t, hak_bin_t *b, unsigned cls)
{
    if (!learning_on() || b->cap == 0 || cls >= HAK_NCLASS || in_free_storm(t))
        return;
    unsigned weight = pace(t);
    if (weight)
        on_event(t, b, cls, 1, weight);
}
#endif

#if HAK_FEATURE_MEM_LEARN || HAK_FEATURE_ELO
#if __has_include("bigcache.h")
#include "bigcache.h"
#define HAK_LEARN_STEERS_BIGCACHE 1
#else
#define HAK_LEARN_STEERS_BIGCACHE 0
#endif

int hak_learn_large_wanted(void)
{
    /* HAKMEM_ELO_PHASE=frozen keeps the default strategy without looking at a play (elo.c) */
    return (hak_cfg.mem_learn && hak_cfg.wmax_learn) ||
           (HAK_FEATURE_ELO && hak_cfg.elo_phase != HAK_ELO_PHASE_FROZEN);
}

void hak_learn_large_event(size_t request, size_t block, int hit)
{
#if HAK_FEATURE_MEM_LEARN
    if (hak_cfg.mem_learn && hak_cfg.wmax_learn) {
        hak_learn_wmax_event(request, block, hit, hak_learn_now_ns() / 1000000);
#if HAK_LEARN_STEERS_BIGCACHE
        uint32_t w = hak_learn_wmax_milli();
        if (w && w != atomic_load_explicit(&hak_bigcache_policy.wmax_milli, memory_order_relaxed))
            hak_bigcache_set_wmax(w / 1000.0);
#endif
    }
#else
    (void)request;
    (void)block;
    (void)hit;
#endif
#if HAK_FEATURE_ELO
    hak_elo_large_event();
#endif
}
#endif

#if HAK_FEATURE_ELO && HAK_LEARN_STEERS_BIGCACHE
void hak_learn_large_preview(size_t request)
{
    if (!hak_elo_large_learning() || !hak_elo_large_exploring())
        return;
    size_t block[HAK_BC_STRATEGY_COUNT];
    int cold[HAK_BC_STRATEGY_COUNT];
    double cost[HAK_ELO_LARGE_COUNT];
    hak_bigcache_preview(request, block, cold);
    /* A hit costs the waste it carries, plus fresh page faults when its pages had been released; a
     * miss costs a mapping and its unmapping later, and every page faulted in afresh. */
    for (unsigned s = 0; s < HAK_ELO_LARGE_COUNT; s++)
        cost[s] = block[s] ? hak_elo_large_cost(0, cold[s] ? block[s] : 0, block[s] > request ? block[s] - request : 0)
                           : hak_elo_large_cost(2, request, 0);
    int champion = hak_elo_large_trial(cost);
    if (champion >= 0 && champion != hak_bigcache_strategy())
        hak_bigcache_set_strategy(champion);
}
#endif

#if HAK_HAS_LEARNING
/* The sections of the learners built into this mode, in report order (never empty: see HAK_HAS_LEARNING). */
static size_t (*const learn_reports[])(char *buf, size_t cap, size_t len, int json) = {
#if HAK_HAS_LEARN_HOOKS
    hak_learn_pace_report,
#endif
#if HAK_FEATURE_ALLOC_LEARN
    hak_learn_alloc_report,
#endif
#if HAK_FEATURE_CAP_LEARN
    hak_learn_cap_report,
#endif
#if HAK_FEATURE_MEM_LEARN
    hak_learn_mem_report,
#endif
#if HAK_FEATURE_ELO
    hak_learn_elo_report,
#endif
};

size_t hak_learn_report_text(char *buf, size_t cap)
{
    size_t len = hak_learn_fmt(buf, cap, 0, "  learning:\n");
    for (size_t i = 0; i < sizeof learn_reports / sizeof learn_reports[0]; i++)
        len = learn_reports[i](buf, cap, len, 0);
    return len;
}

size_t hak_learn_report_json(char *buf, size_t cap)
{
    size_t len = hak_learn_fmt(buf, cap, 0, "\"learning\":{");
    for (size_t i = 0; i < sizeof learn_reports / sizeof learn_reports[0]; i++) {
        if (i)
            len = hak_learn_fmt(buf, cap, len, ",");
        len = learn_reports[i](buf, cap, len, 1);
    }
    return hak_learn_fmt(buf, cap, len, "}");
}
#endif
