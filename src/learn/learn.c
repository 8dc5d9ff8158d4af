/* learn.c — what the learners share: the two slow-path hooks that feed them, the clock, resizing a
 * bin, and the learner section of the statistics report. */
#define _GNU_SOURCE
#include "learn.h"

#if HAK_HAS_LEARNING
#include "heap.h"
#include "hardened/links.h"
#include "size_class.h"

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
#endif

#if HAK_HAS_LEARN_HOOKS
void hak_learn_bin_set_cap(hak_tls_t *t, hak_bin_t *b, uint32_t new_cap)
{
    uint32_t count = hak_bin_count(b);
    if (count > new_cap) {
        uint32_t k = count - new_cap;
        void *head = b->head, *p = head;
        for (uint32_t i = 1; i < k; i++)
            p = hak_link_get(p);
        b->head = hak_link_get(p);
        hak_link_set(p, NULL);
        hak_bin_moved_out(b, k);
        hak_counter_add(&t->heap->st.flushes, 1);
        hak_counter_add(&t->heap->st.flush_blocks, k);
        hak_heap_return_list(t->heap, head, k);
        count = new_cap;
    }
    b->cap = new_cap;
    b->room = new_cap - count;            /* room += new_cap - old_cap, less what went home */
}

static int learning_on(void)
{
    return hak_cfg.alloc_learn || hak_cfg.mem_learn;
}

/* The clock, read on every 8th event of a thread: the learners' windows are 100 ms and more, and a
 * thread that goes 8 events without reading it is busy enough for the reading to be fresh. */

static void on_event(hak_tls_t *t, hak_bin_t *b, unsigned cls, int overflow)
{
    if ((t->learn.clock.n++ & 7) == 0)
        t->learn.clock.now = hak_learn_now_ns();
    uint64_t now = t->learn.clock.now;
#if HAK_FEATURE_MEM_LEARN
    {
        uint32_t r = t->heap->refill[cls];
        hak_learn_mem_event(t, overflow ? b->cap / 2 + 1 : r, now);
    }
#endif
    if (!hak_cfg.alloc_learn)
        return;
#if HAK_FEATURE_CAP_LEARN
    if (hak_learn_cap_owns(cls)) {
        hak_learn_cap_event(t, b, cls, overflow, now);
#if HAK_FEATURE_ALLOC_LEARN
        hak_learn_alloc_sweep(t, now);
#endif
        return;
    }
#endif
#if HAK_FEATURE_ALLOC_LEARN
    hak_learn_alloc_event(t, b, cls, overflow, now);
    hak_learn_alloc_sweep(t, now);
#endif
}

void hak_learn_on_refill(hak_tls_t *t, hak_bin_t *b, unsigned cls)
{
    if (!learning_on() || cls >= HAK_NCLASS)
        return;
    if (b->cap == 0) {
        /* No cache to size (integrity checks, tracing, a class bypassed): every allocation comes
         * here, and only memory learning has something to learn from it. */
#if HAK_FEATURE_MEM_LEARN
        if ((t->learn.clock.n++ & 7) == 0)
            t->learn.clock.now = hak_learn_now_ns();
        hak_learn_mem_event(t, 1, t->learn.clock.now);
#endif
        return;
    }
    on_event(t, b, cls, 0);
}

void hak_learn_on_overflow(hak_tls_t *t, hak_bin_t *b, unsigned cls)
{
    if (!learning_on() || b->cap == 0 || cls >= HAK_NCLASS)
        return;
    on_event(t, b, cls, 1);
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

void hak_learn_large_event(size_t request, size_t block, int hit, int cold, int strategy)
{
    if (!hak_cfg.mem_learn && !HAK_FEATURE_ELO)
        return;
#if HAK_FEATURE_MEM_LEARN
    if (hak_cfg.mem_learn && hak_cfg.wmax_learn) {
        hak_learn_wmax_event(request, block, hit, hak_learn_now_ns() / 1000000);
#if HAK_LEARN_STEERS_BIGCACHE
        uint32_t w = hak_learn_wmax_milli();
        if (w && w != atomic_load_explicit(&hak_bigcache_policy.wmax_milli, memory_order_relaxed))
            hak_bigcache_set_wmax(w / 1000.0);
#endif
    }
#endif
#if HAK_FEATURE_ELO
    /* A hit costs the waste it carries, plus fresh page faults when its pages had been released; a
     * miss costs a mapping and its unmapping later, and every page faulted in afresh. */
    double cost = hit ? hak_elo_large_cost(0, cold ? block : 0, block > request ? block - request : 0)
                      : hak_elo_large_cost(2, request, 0);
    int next = strategy >= 0 ? hak_elo_large_event((unsigned)strategy, cost) : -1;
#if HAK_LEARN_STEERS_BIGCACHE
    if (next >= 0 && next != hak_bigcache_strategy())
        hak_bigcache_set_strategy(next);
#else
    (void)next;
#endif
#else
    (void)cold;
    (void)strategy;
#endif
}
#endif

#if HAK_HAS_LEARNING
/* The sections of the learners built into this mode, in report order (never empty: see HAK_HAS_LEARNING). */
static size_t (*const learn_reports[])(char *buf, size_t cap, size_t len, int json) = {
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
