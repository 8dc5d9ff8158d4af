/* cap_learn.c — the mid-tier CAP learner: steps the caps of the MID classes (8-32 KiB) so that their
 * thread-cache hit rate (hits = bin pops, misses = refills) stays within HAKMEM_TARGET_HIT_MID +- 3
 * points, waiting HAKMEM_CAP_DWELL_SEC_MID between two changes of a class so it cannot oscillate.
 *
 * A hit rate above the band means the bins hold more than the program needs (memory kept for
 * nothing): the cap steps down. Below the band, refills are too frequent: the cap steps up.
 *
 * Threads count their own hits and misses (thread-local) and add them to process-wide atomics in
 * batches; once per HAKMEM_LEARN_WINDOW_MS one thread (a try-lock, never waited on) turns the window
 * into decisions and bumps a generation number; every thread adopts the new caps for its own bins
 * at its next MID slow-path event. A class's window only closes on HAKMEM_LEARN_MIN_SAMPLES. */
#include "learn.h"
#ifdef HAK_LEARN_PURE_ONLY
#define HAK_LEARN_HAVE_CAP 1
#else
#define HAK_LEARN_HAVE_CAP HAK_FEATURE_CAP_LEARN
#endif

#if HAK_LEARN_HAVE_CAP

/* ==================================================================== decision rule (pure) */

int hak_learn_cap_decide(const hak_learn_cap_params_t *p, uint64_t hits, uint64_t misses, uint32_t cap,
                         uint64_t now_ms, uint64_t last_change_ms, uint32_t *new_cap)
{
    *new_cap = cap;
    uint64_t n = hits + misses;
    if (n == 0 || n < p->min_samples)
        return HAK_LEARN_FEW_SAMPLES;
    double rate = (double)hits / (double)n;
    int want;
    uint32_t next;
    if (rate < p->target - p->band) {
        want = HAK_LEARN_GROW;
        uint64_t v = (uint64_t)cap + p->step;
        next = v > p->max ? p->max : (uint32_t)v;
        if (next < cap)
            next = cap;                   /* a cap configured above max is left alone */
    } else if (rate > p->target + p->band) {
        want = HAK_LEARN_SHRINK;
        next = cap > p->min + p->step ? cap - p->step : p->min;
        if (next > cap)
            next = cap;
    } else {
        return HAK_LEARN_HOLD;
    }
    if (next == cap)
        return HAK_LEARN_HOLD;            /* at the limit */
    if (last_change_ms && (now_ms < last_change_ms || now_ms - last_change_ms < p->dwell_ms))
        return HAK_LEARN_DWELL;
    *new_cap = next;
    return want;
}

#ifndef HAK_LEARN_PURE_ONLY
/* ==================================================================== the running learner */
#include "heap.h"
#include "log.h"
#include "size_class.h"
#include "tuning.h"

#include <pthread.h>

#define MID_MAX HAK_LEARN_MID_MAX

static pthread_once_t once = PTHREAD_ONCE_INIT;
static unsigned mid_first, mid_count;     /* constant after init_once */
static hak_learn_cap_params_t P;

static _Atomic uint64_t g_hits[MID_MAX], g_misses[MID_MAX];   /* the open window */
static _Atomic uint32_t g_cap[MID_MAX];                       /* cap every thread adopts */
static _Atomic uint32_t g_rate_pm[MID_MAX];                   /* last closed window's hit rate, per mille */
static _Atomic uint64_t g_steps[MID_MAX];
static _Atomic uint32_t g_gen;
static _Atomic uint64_t g_window_start_ms, g_windows, g_tier_hits, g_tier_misses;
static pthread_mutex_t decide_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t last_change_ms[MID_MAX];  /* under decide_lock */


static void init_once(void)
{
    mid_first = hak_size_class(HAK_POOL_MAX + 1);
    unsigned last = hak_size_class(HAK_MID_MAX);
    mid_count = last - mid_first + 1;
    if (mid_count > MID_MAX)
        mid_count = MID_MAX;
    P.target = hak_cfg.target_hit_mid;
    P.band = HAK_LEARN_CAP_BAND;
    P.step = (uint32_t)hak_cfg.cap_step_mid;
    P.min = (uint32_t)hak_cfg.cap_min_mid;
    P.max = (uint32_t)hak_cfg.cap_max_mid;
    P.dwell_ms = (uint64_t)hak_cfg.cap_dwell_sec_mid * 1000;
    P.min_samples = (uint64_t)hak_cfg.learn_min_samples;
    for (unsigned i = 0; i < mid_count; i++)
        atomic_store_explicit(&g_cap[i], hak_tune.cap[mid_first + i], memory_order_relaxed);
    atomic_store_explicit(&g_window_start_ms, hak_learn_now_ns() / 1000000, memory_order_relaxed);
}

int hak_learn_cap_owns(unsigned cls)
{
    pthread_once(&once, init_once);
    return hak_cfg.alloc_learn && cls >= mid_first && cls < mid_first + mid_count;
}

static int log_on(void)
{
    return hak_cfg.adaptive_log || hak_cfg.debug_level >= 2;
}

/* One closed window: a decision per class with enough samples; the rest carry their samples over. */
static void decide(uint64_t now_ms)
{
    int changed = 0;
    uint64_t th = 0, tm = 0;
    for (unsigned i = 0; i < mid_count; i++) {
        uint64_t h = atomic_exchange_explicit(&g_hits[i], 0, memory_order_relaxed);
        uint64_t m = atomic_exchange_explicit(&g_misses[i], 0, memory_order_relaxed);
        uint32_t cap = atomic_load_explicit(&g_cap[i], memory_order_relaxed), nc;
        if (cap == 0)
            continue;
        int a = hak_learn_cap_decide(&P, h, m, cap, now_ms, last_change_ms[i], &nc);
        if (a == HAK_LEARN_FEW_SAMPLES) {
            atomic_fetch_add_explicit(&g_hits[i], h, memory_order_relaxed);
            atomic_fetch_add_explicit(&g_misses[i], m, memory_order_relaxed);
            continue;
        }
        th += h;
        tm += m;
        uint32_t pm = (uint32_t)(1000 * h / (h + m));
        atomic_store_explicit(&g_rate_pm[i], pm, memory_order_relaxed);
        if (a == HAK_LEARN_GROW || a == HAK_LEARN_SHRINK) {
            atomic_store_explicit(&g_cap[i], nc, memory_order_relaxed);
            atomic_fetch_add_explicit(&g_steps[i], 1, memory_order_relaxed);
            last_change_ms[i] = now_ms;
            changed = 1;
            if (log_on())
                hak_msg("[CAP_LEARN] %s class %u (%u B): hit %s, target %s \xe2\x86\x92 cap %u \xe2\x86\x92 %u",
                        a == HAK_LEARN_GROW ? "Grow" : "Shrink", mid_first + i, hak_class_size[mid_first + i],
                        hak_learn_fx(pm / 1000.0, 3).s, hak_learn_fx(P.target, 2).s, cap, nc);
        }
    }
    if (th + tm) {
        atomic_fetch_add_explicit(&g_tier_hits, th, memory_order_relaxed);
        atomic_fetch_add_explicit(&g_tier_misses, tm, memory_order_relaxed);
    }
    atomic_fetch_add_explicit(&g_windows, 1, memory_order_relaxed);
    if (changed)
        atomic_fetch_add_explicit(&g_gen, 1, memory_order_release);
}

void hak_learn_cap_fork_child(void)
{
    pthread_mutex_init(&decide_lock, NULL);
}

static void publish(hak_learn_cap_thread_t *C, uint64_t now_ms)
{
    for (unsigned i = 0; i < mid_count; i++) {
        if (C->m[i].hits)
            atomic_fetch_add_explicit(&g_hits[i], C->m[i].hits, memory_order_relaxed);
        if (C->m[i].misses)
            atomic_fetch_add_explicit(&g_misses[i], C->m[i].misses, memory_order_relaxed);
        C->m[i].hits = C->m[i].misses = 0;
    }
    C->pending = 0;
    C->last_publish_ms = now_ms;
    uint64_t start = atomic_load_explicit(&g_window_start_ms, memory_order_relaxed);
    if (now_ms < start || now_ms - start < (uint64_t)hak_cfg.learn_window_ms)   /* clocks are per thread */
        return;
    if (pthread_mutex_trylock(&decide_lock) != 0)
        return;                           /* another thread is closing the window */
    start = atomic_load_explicit(&g_window_start_ms, memory_order_relaxed);
    if (now_ms >= start && now_ms - start >= (uint64_t)hak_cfg.learn_window_ms) {
        atomic_store_explicit(&g_window_start_ms, now_ms, memory_order_relaxed);
        decide(now_ms);
    }
    pthread_mutex_unlock(&decide_lock);
}

/* Adopt the current caps for this thread's MID bins. */
static void adopt(hak_tls_t *t)
{
    hak_learn_cap_thread_t *C = &t->learn.cap;
    uint32_t gen = atomic_load_explicit(&g_gen, memory_order_acquire);
    if (gen == C->gen)
        return;
    C->gen = gen;
    for (unsigned i = 0; i < mid_count; i++) {
        hak_bin_t *b = &t->bins[mid_first + i];
        uint32_t nc = atomic_load_explicit(&g_cap[i], memory_order_relaxed);
        if (b->cap && nc && b->cap != nc)
            hak_learn_bin_set_cap(t, b, nc);
    }
}

void hak_learn_cap_event(hak_tls_t *t, hak_bin_t *b, unsigned cls, int overflow, unsigned weight, uint64_t now)
{
    hak_learn_cap_thread_t *C = &t->learn.cap;
    unsigned i = cls - mid_first;
    uint64_t now_ms = now / 1000000;
#if HAK_HAS_STATS
    /* Every allocation a bin serves is a pop (hit) or a refill (miss): hits = allocs - refills. */
    uint64_t allocs = hak_counter_get(&b->allocs);
    if (C->m[i].seen) {
        uint64_t d = allocs - C->m[i].last_allocs;
        C->m[i].hits += (uint32_t)d;
    }
    C->m[i].last_allocs = allocs;
    C->m[i].seen = 1;
    if (!overflow) {
        /* a sampled refill stands for `weight` of them, whose own allocations were counted as served */
        C->m[i].misses += weight;
        C->m[i].hits = C->m[i].hits > weight ? C->m[i].hits - weight : 0;
        C->pending++;
    }
#else
    /* Without per-bin counters: the blocks the previous refill left in the bin were popped. */
    if (!overflow) {
        C->m[i].hits += C->m[i].prev_batch * weight;
        C->m[i].misses += weight;
        uint32_t r = t->heap->refill[cls];
        C->m[i].prev_batch = r < b->cap ? r : b->cap;
        C->pending++;
    }
#endif
    if (C->pending >= 16 || now_ms >= C->last_publish_ms + 100)
        publish(C, now_ms);
    adopt(t);
}

size_t hak_learn_cap_report(char *buf, size_t cap, size_t len, int json)
{
    pthread_once(&once, init_once);
    uint64_t th = atomic_load_explicit(&g_tier_hits, memory_order_relaxed);
    uint64_t tm = atomic_load_explicit(&g_tier_misses, memory_order_relaxed);
    double rate = th + tm ? (double)th / (double)(th + tm) : 0.0;
    uint64_t windows = atomic_load_explicit(&g_windows, memory_order_relaxed);
    int on = hak_cfg.alloc_learn != 0;
    if (json) {
        len = hak_learn_fmt(buf, cap, len, "\"cap_learn\":{\"enabled\":%s,\"target_hit\":%.3f,\"windows\":%llu,"
                            "\"mid_hit_rate\":%.4f,\"classes\":[", on ? "true" : "false", P.target,
                            (unsigned long long)windows, rate);
        for (unsigned i = 0; i < mid_count && len + 128 < cap; i++)
            len = hak_learn_fmt(buf, cap, len, "%s{\"class\":%u,\"size\":%u,\"cap\":%u,\"hit_rate\":%.3f,\"steps\":%llu}",
                                i ? "," : "", mid_first + i, hak_class_size[mid_first + i],
                                atomic_load_explicit(&g_cap[i], memory_order_relaxed),
                                atomic_load_explicit(&g_rate_pm[i], memory_order_relaxed) / 1000.0,
                                (unsigned long long)atomic_load_explicit(&g_steps[i], memory_order_relaxed));
        return hak_learn_fmt(buf, cap, len, "]}");
    }
    len = hak_learn_fmt(buf, cap, len, "  mid CAP learner: %s; target hit %.2f, MID hit rate %.3f over %llu windows\n",
                        on ? "on" : "off", P.target, rate, (unsigned long long)windows);
    len = hak_learn_fmt(buf, cap, len, "    caps:");
    for (unsigned i = 0; i < mid_count; i++)
        len = hak_learn_fmt(buf, cap, len, " %uK:%u", hak_class_size[mid_first + i] >> 10,
                            atomic_load_explicit(&g_cap[i], memory_order_relaxed));
    return hak_learn_fmt(buf, cap, len, "\n");
}
#endif /* !HAK_LEARN_PURE_ONLY */
#endif /* HAK_LEARN_HAVE_CAP */
