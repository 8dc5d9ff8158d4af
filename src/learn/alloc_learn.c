/* alloc_learn.c — adaptive thread-cache sizing: a bin whose high-water mark passes 80% of its cap doubles,
 * one that stays under 20% halves (16..2048 slots), and each class's refill batch follows its demand.
 *
 * Everything is per thread: the state below is thread-local and a bin is only ever resized by the
 * thread that owns it, from its own refill / overflow slow path, so no lock or atomic is needed
 * beyond the relaxed counters the statistics read. The fast paths are untouched: they keep popping
 * and pushing with `room` free slots, and a resize keeps room == cap - blocks held.
 *
 * Where the high-water mark comes from without touching the fast path: a bin's fill level is seen
 * at its slow-path events — an overflow means it was full (hwm = cap), a refill puts `batch` blocks
 * in it — and once a second a sweep samples every bin the thread has used. */
#include "learn.h"
#ifdef HAK_LEARN_PURE_ONLY
#define HAK_LEARN_HAVE_ALLOC 1
#else
#define HAK_LEARN_HAVE_ALLOC HAK_FEATURE_ALLOC_LEARN
#endif

#if HAK_LEARN_HAVE_ALLOC

/* ==================================================================== decision rules (pure) */

int hak_learn_size_decide(uint32_t hwm, uint32_t cap, uint32_t lo, uint32_t hi, uint32_t *new_cap)
{
    *new_cap = cap;
    if (cap == 0)
        return HAK_LEARN_HOLD;
    if ((uint64_t)hwm * 100 > (uint64_t)cap * HAK_LEARN_GROW_PCT) {
        if (cap >= hi)
            return HAK_LEARN_HOLD;
        uint64_t n = (uint64_t)cap * 2;
        *new_cap = n > hi ? hi : (uint32_t)n;
        return HAK_LEARN_GROW;
    }
    if ((uint64_t)hwm * 100 < (uint64_t)cap * HAK_LEARN_SHRINK_PCT) {
        if (cap <= lo)
            return HAK_LEARN_HOLD;
        uint32_t n = cap / 2;
        *new_cap = n < lo ? lo : n;
        return HAK_LEARN_SHRINK;
    }
    return HAK_LEARN_HOLD;
}

uint32_t hak_learn_cap_limit(uint32_t size)
{
    uint32_t by_bytes = size ? HAK_LEARN_BIN_BYTES_MAX / size : HAK_LEARN_CAP_MAX;
    uint32_t hi = by_bytes < HAK_LEARN_CAP_MAX ? by_bytes : HAK_LEARN_CAP_MAX;
    return hi < HAK_LEARN_CAP_MIN ? HAK_LEARN_CAP_MIN : hi;
}

uint32_t hak_learn_refill_next(uint32_t refill, uint32_t target, double rate, uint32_t cap)
{
    if (cap == 0)
        return refill;
    if (target > cap)
        target = cap;
    if (target < 1)
        target = 1;
    if (rate < 0)
        rate = 0;
    if (rate > 1)
        rate = 1;
    uint32_t next = refill;
    if (target > refill) {
        uint32_t d = (uint32_t)((double)(target - refill) * rate);
        next = refill + (d ? d : 1);
    } else if (target < refill) {
        uint32_t d = (uint32_t)((double)(refill - target) * rate);
        next = refill - (d ? d : 1);
    }
    if (next > cap)
        next = cap;
    return next ? next : 1;
}

#ifndef HAK_LEARN_PURE_ONLY
/* ==================================================================== the running learner */
#include "heap.h"
#include "log.h"
#include "size_class.h"
#include "tuning.h"

typedef hak_learn_cls_t cls_state_t;   /* per-thread state: learn_thread.h */

/* What the statistics show: the cap each class had when a thread last resized it, and how often. */
static _Atomic uint32_t g_cap[HAK_NCLASS];
static _Atomic uint64_t g_grows[HAK_NCLASS], g_shrinks[HAK_NCLASS], g_evals;
static _Atomic int g_announced;

static int log_on(void)
{
    return hak_cfg.adaptive_log || hak_cfg.debug_level >= 3;
}

static void announce(void)
{
    if (atomic_load_explicit(&g_announced, memory_order_relaxed) || atomic_exchange(&g_announced, 1))
        return;
    if (log_on())
        hak_msg("[ADAPTIVE] Adaptive sizing initialized (initial_cap=%lld, min=%u, max=%u)",
                hak_cfg.tiny_tls_cap, HAK_LEARN_CAP_MIN, HAK_LEARN_CAP_MAX);
}

/* One class's window is over. From a slow-path event (sweep = 0) only growth is possible: the window
 * saw refills (the bin ran dry: demand, never a reason to hold fewer blocks) and overflows. Shrinking
 * is the sweep's business: a bin nobody allocates from, whose blocks just sit there. */
static void evaluate(hak_tls_t *t, hak_bin_t *b, unsigned cls, cls_state_t *s, uint64_t now, int timed, int sweep)
{
    uint32_t old = b->cap, nc;
    uint32_t hi = hak_learn_cap_limit(hak_class_size[cls]);
    if (hi < old)
        hi = old;                         /* a configured cap above the limit is kept, not grown */
    int a = hak_learn_size_decide(s->hwm, old, HAK_LEARN_CAP_MIN, hi, &nc);
    if (a == HAK_LEARN_SHRINK && !sweep) {
        a = HAK_LEARN_HOLD;
        nc = old;
    }
    /* A window of overflows without a single refill is a thread that frees what others allocate (a
     * consumer): a bigger bin would only keep those blocks from their owners, who then carve more. */
    if (a == HAK_LEARN_GROW && !s->refills) {
        a = HAK_LEARN_HOLD;
        nc = old;
    }
    atomic_fetch_add_explicit(&g_evals, 1, memory_order_relaxed);
    if (a == HAK_LEARN_GROW || a == HAK_LEARN_SHRINK) {
        hak_learn_bin_set_cap(t, b, nc);
        atomic_store_explicit(&g_cap[cls], nc, memory_order_relaxed);
        _Atomic uint64_t *cnt = a == HAK_LEARN_GROW ? &g_grows[cls] : &g_shrinks[cls];
        uint64_t k = atomic_fetch_add_explicit(cnt, 1, memory_order_relaxed) + 1;
        if (log_on())
            hak_msg("[TLS_CACHE] %s class %u: %u \xe2\x86\x92 %u slots (%s_count=%llu)",
                    a == HAK_LEARN_GROW ? "Grow" : "Shrink", cls, old, nc,
                    a == HAK_LEARN_GROW ? "grow" : "shrink", (unsigned long long)k);
    } else if (timed && log_on()) {
        hak_msg("[TLS_CACHE] Keep class %u at %u slots (usage=%s%%)", cls, old,
                hak_learn_fx(old ? 100.0 * s->hwm / old : 0.0, 1).s);
    }
    /* Refill batch: a class that only refills in the window (allocation-heavy) moves toward half its
     * cap, so it comes back less often; one that also overflowed moves back to the configured batch,
     * because blocks it fetched were handed back. HAKMEM_ALLOC_LEARN_RATE sets the pace. */
    if (s->refills || s->overflows) {
        uint32_t target = s->overflows ? s->base_refill : b->cap / 2;
        if (target < s->base_refill)
            target = s->base_refill;
        uint32_t refill = hak_learn_refill_next(t->heap->refill[cls], target, hak_cfg.alloc_learn_rate, b->cap);
        if (refill != t->heap->refill[cls]) {
            t->heap->refill[cls] = refill;
            t->learn.changes++;
        }
    }
    s->window_start = now;
    s->hwm = hak_bin_count(b);
    s->events = s->overflows = s->refills = 0;
}

void hak_learn_alloc_event(hak_tls_t *t, hak_bin_t *b, unsigned cls, int overflow, unsigned weight, uint64_t now)
{
    hak_learn_alloc_thread_t *A = &t->learn.alloc;
    if (!hak_cfg.adaptive_sizing)
        return;
    cls_state_t *s = &A->c[cls];
    if (!s->used) {
        announce();
        s->used = 1;
        s->window_start = now;
        s->base_refill = t->heap->refill[cls];
        if (!atomic_load_explicit(&g_cap[cls], memory_order_relaxed))
            atomic_store_explicit(&g_cap[cls], b->cap, memory_order_relaxed);
    }
    uint32_t seen;
    if (overflow) {
        seen = b->cap;                    /* the bin is full */
        s->overflows++;
    } else {
        uint32_t r = t->heap->refill[cls];
        seen = r < b->cap ? r : b->cap;   /* what this refill is about to put in it */
        s->refills++;
    }
    if (seen > s->hwm)
        s->hwm = seen;
    s->events++;
    s->last_event = now;
    A->blocks += (overflow ? b->cap / 2 + 1 : seen + 1) * weight;
    if (s->events >= HAK_LEARN_EVAL_EVENTS || now - s->window_start >= HAK_LEARN_EVAL_NS)
        evaluate(t, b, cls, s, now, s->events < HAK_LEARN_EVAL_EVENTS, 0);
}

/* Once a second, or once HAKMEM_ALLOC_LEARN_WINDOW blocks have gone through this thread's slow paths:
 * the classes that had no slow-path event since the previous sweep are judged by how full they are
 * now. A class the thread stopped using shrinks step by step, and its blocks above the new cap go home. */
void hak_learn_alloc_sweep(hak_tls_t *t, uint64_t now)
{
    hak_learn_alloc_thread_t *A = &t->learn.alloc;
    if (!hak_cfg.adaptive_sizing || (now < A->next_sweep && A->blocks < (uint64_t)hak_cfg.alloc_learn_window))
        return;
    uint64_t since = A->last_sweep;
    A->last_sweep = now;
    A->next_sweep = now + HAK_LEARN_EVAL_NS;
    A->blocks = 0;
    for (unsigned c = 0; c < HAK_NCLASS; c++) {
        cls_state_t *s = &A->c[c];
        hak_bin_t *b = &t->bins[c];
        if (!s->used || b->cap == 0 || s->last_event > since || s->window_start > since)
            continue;
#if HAK_HAS_STATS
        /* Served by the fast path alone since the last sweep: in use, at a level a sample cannot tell;
         * hold rather than shrink a bin the program is cycling through (it would only regrow). */
        uint64_t allocs = hak_counter_get(&b->allocs);
        int active = allocs != s->sweep_allocs;
        s->sweep_allocs = allocs;
        if (active) {
            s->window_start = now;        /* the old high-water mark says nothing about the bin now */
            s->hwm = hak_bin_count(b);
            continue;
        }
#endif
#if HAK_FEATURE_CAP_LEARN
        if (hak_learn_cap_owns(c))
            continue;
#endif
        uint32_t n = hak_bin_count(b);
        if (n > s->hwm)
            s->hwm = n;
        evaluate(t, b, c, s, now, 1, 1);
    }
}

size_t hak_learn_alloc_report(char *buf, size_t cap, size_t len, int json)
{
    uint64_t grows = 0, shrinks = 0;
    for (unsigned c = 0; c < HAK_NCLASS; c++) {
        grows += atomic_load_explicit(&g_grows[c], memory_order_relaxed);
        shrinks += atomic_load_explicit(&g_shrinks[c], memory_order_relaxed);
    }
    uint64_t evals = atomic_load_explicit(&g_evals, memory_order_relaxed);
    int on = hak_cfg.alloc_learn && hak_cfg.adaptive_sizing;
    if (json) {
        len = hak_learn_fmt(buf, cap, len, "\"alloc_learn\":{\"enabled\":%s,\"evaluations\":%llu,\"grows\":%llu,"
                            "\"shrinks\":%llu,\"classes\":[", on ? "true" : "false", (unsigned long long)evals,
                            (unsigned long long)grows, (unsigned long long)shrinks);
        int first = 1;
        for (unsigned c = 0; c < HAK_NCLASS && len + 128 < cap; c++) {   /* never a cut-off object */
            uint32_t cp = atomic_load_explicit(&g_cap[c], memory_order_relaxed);
            uint64_t g = atomic_load_explicit(&g_grows[c], memory_order_relaxed);
            uint64_t k = atomic_load_explicit(&g_shrinks[c], memory_order_relaxed);
            if (!cp || (!g && !k))
                continue;                 /* classes the learner never resized */
            len = hak_learn_fmt(buf, cap, len, "%s{\"class\":%u,\"size\":%u,\"cap\":%u,\"grows\":%llu,\"shrinks\":%llu}",
                                first ? "" : ",", c, hak_class_size[c], cp, (unsigned long long)g,
                                (unsigned long long)k);
            first = 0;
        }
        return hak_learn_fmt(buf, cap, len, "]}");
    }
    len = hak_learn_fmt(buf, cap, len, "  alloc learning: %s; %llu evaluations, %llu grows, %llu shrinks\n",
                        on ? "on" : "off", (unsigned long long)evals, (unsigned long long)grows,
                        (unsigned long long)shrinks);
    int col = 0;
    for (unsigned c = 0; c < HAK_NCLASS; c++) {
        uint32_t cp = atomic_load_explicit(&g_cap[c], memory_order_relaxed);
        if (!cp || cp == hak_tune.cap[c])
            continue;
        len = hak_learn_fmt(buf, cap, len, "%s%u B: cap %u", col ? ", " : "    caps (last set): ", hak_class_size[c], cp);
        if (++col == 6) {
            len = hak_learn_fmt(buf, cap, len, "\n");
            col = 0;
        }
    }
    if (col)
        len = hak_learn_fmt(buf, cap, len, "\n");
    return len;
}
#endif /* !HAK_LEARN_PURE_ONLY */
#endif /* HAK_LEARN_HAVE_ALLOC */
