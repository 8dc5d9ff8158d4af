/* mem_learn.c — memory learning: THP advice and RSS trimming from the observed utilisation (live bytes
 * over mapped bytes), and W_MAX — how far above a request a cached large block may be used — chosen
 * by timed canary trials that adopt a candidate only when it beats the incumbent by the threshold.
 *
 * Utilisation windows: threads add the blocks their slow paths move to a process-wide count; every
 * HAKMEM_MEM_LEARN_WINDOW of them (and at most ten times a second) one thread, by try-lock, reads the
 * usage and decides. Huge pages pay when memory is densely used, so at or above
 * HAKMEM_MEM_LEARN_THRESHOLD for two windows the advice is THP on; below it for two windows it is
 * off, and if at least 4 MiB is mapped but unused and utilisation has stayed low for a second, the
 * learner trims: the cache of empty SuperSlabs is released at once and every thread gives its empty
 * slabs back at its next slow-path event.
 *
 * W_MAX trials alternate: measure the incumbent for HAKMEM_WMAX_TRIAL_SEC, then run the next
 * candidate for as long; adopt it when its score beats the incumbent's by HAKMEM_WMAX_ADOPT_PCT
 * (HAKMEM_WMAX_CANARY=0: by any margin), otherwise return to the incumbent. The score of a window is
 * the fraction of large requests served from the cache minus the fraction of requested bytes wasted
 * by serving them with bigger blocks. */
#include "learn.h"
#ifdef HAK_LEARN_PURE_ONLY
#define HAK_LEARN_HAVE_MEM 1
#else
#define HAK_LEARN_HAVE_MEM HAK_FEATURE_MEM_LEARN
#endif

#if HAK_LEARN_HAVE_MEM
#include <stdlib.h>
#include <string.h>

/* ==================================================================== decision rules (pure) */

void hak_learn_mem_init(hak_learn_mem_t *m, double threshold)
{
    memset(m, 0, sizeof *m);
    m->threshold = threshold;
    m->thp = HAK_LEARN_THP_UNDECIDED;
}

int hak_learn_mem_decide(hak_learn_mem_t *m, uint64_t live_bytes, uint64_t mapped_bytes)
{
    m->windows++;
    if (mapped_bytes == 0)
        return HAK_LEARN_MEM_NONE;
    double u = (double)live_bytes / (double)mapped_bytes;
    if (u > 1.0)
        u = 1.0;
    m->last_util = u;
    int flags = HAK_LEARN_MEM_NONE;
    if (u >= m->threshold) {
        m->low_run = 0;
        if (++m->high_run >= HAK_LEARN_MEM_CONFIRM && m->thp != HAK_LEARN_THP_ON) {
            m->thp = HAK_LEARN_THP_ON;
            m->thp_changes++;
            flags |= HAK_LEARN_MEM_THP_CHANGED;
        }
    } else {
        m->high_run = 0;
        if (++m->low_run >= HAK_LEARN_MEM_CONFIRM) {
            if (m->thp != HAK_LEARN_THP_OFF) {
                m->thp = HAK_LEARN_THP_OFF;
                m->thp_changes++;
                flags |= HAK_LEARN_MEM_THP_CHANGED;
            }
            if (mapped_bytes - live_bytes >= HAK_LEARN_MEM_TRIM_SLACK) {
                flags |= HAK_LEARN_MEM_TRIM;
                m->trims++;
                m->low_run = 0;           /* the next trim needs fresh evidence */
            }
        }
    }
    return flags;
}

double hak_learn_wmax_score(const hak_learn_wmax_window_t *w)
{
    if (!w->requests)
        return 0.0;
    double s = (double)w->hits / (double)w->requests;
    if (w->req_bytes)
        s -= (double)w->waste_bytes / (double)w->req_bytes;
    return s;
}

unsigned hak_learn_wmax_parse(const char *text, double *out, unsigned max)
{
    unsigned n = 0;
    const char *p = text;
    while (p && *p && n < max) {
        char *end;
        double v = strtod(p, &end);
        if (end == p)
            break;
        if (v >= 1.0)
            out[n++] = v;
        p = end;
        while (*p == ',' || *p == ' ')
            p++;
    }
    return n;
}

void hak_learn_wmax_init(hak_learn_wmax_t *w, const double *cand, unsigned n, int canary, double adopt,
                         uint64_t trial_ms, uint64_t now_ms)
{
    memset(w, 0, sizeof *w);
    if (n > HAK_LEARN_WMAX_MAX)
        n = HAK_LEARN_WMAX_MAX;
    if (n == 0) {
        w->cand[0] = 1.0;
        n = 1;
    } else {
        memcpy(w->cand, cand, n * sizeof *cand);
    }
    w->n = n;
    w->incumbent = 0;                     /* the first candidate: the tightest fit, as listed */
    w->next = n > 1 ? 1 : 0;
    w->state = HAK_WMAX_MEASURE;
    w->canary = canary;
    w->adopt = canary ? adopt : 0.0;
    w->trial_ms = trial_ms;
    w->phase_end_ms = now_ms + trial_ms;
}

double hak_learn_wmax_current(const hak_learn_wmax_t *w)
{
    return w->cand[w->state == HAK_WMAX_TRIAL ? w->trial : w->incumbent];
}

void hak_learn_wmax_observe(hak_learn_wmax_t *w, uint64_t request, uint64_t block, int hit)
{
    w->win.requests++;
    w->win.req_bytes += request;
    if (hit) {
        w->win.hits++;
        if (block > request)
            w->win.waste_bytes += block - request;
    }
}

int hak_learn_wmax_adopts(double inc, double cand, double adopt)
{
    return cand > inc + adopt || (adopt == 0.0 && cand > inc);
}

int hak_learn_wmax_step(hak_learn_wmax_t *w, uint64_t now_ms)
{
    if (now_ms < w->phase_end_ms)
        return HAK_WMAX_EV_NONE;
    int ev;
    double score = hak_learn_wmax_score(&w->win);
    int enough = w->win.requests >= HAK_LEARN_WMAX_MIN_SAMPLES;
    w->last_score = score;
    if (w->state == HAK_WMAX_MEASURE) {
        if (!enough || w->n < 2) {        /* nothing to compare against yet: keep measuring */
            w->phase_end_ms = now_ms + w->trial_ms;
            if (enough)
                w->inc_score = score;
            memset(&w->win, 0, sizeof w->win);
            return enough ? HAK_WMAX_EV_MEASURED : HAK_WMAX_EV_NONE;
        }
        w->inc_score = score;
        if (w->next == w->incumbent)
            w->next = (w->next + 1) % w->n;
        w->trial = w->next;
        w->next = (w->next + 1) % w->n;
        w->state = HAK_WMAX_TRIAL;
        w->trials++;
        ev = HAK_WMAX_EV_TRIAL;
    } else {
        if (enough && hak_learn_wmax_adopts(w->inc_score, score, w->adopt)) {
            w->incumbent = w->trial;
            w->inc_score = score;
            w->adopted++;
            ev = HAK_WMAX_EV_ADOPT;
        } else {
            w->rejected++;
            ev = HAK_WMAX_EV_REJECT;
        }
        w->state = HAK_WMAX_MEASURE;      /* re-measure the incumbent: the workload may have moved */
    }
    w->phase_end_ms = now_ms + w->trial_ms;
    memset(&w->win, 0, sizeof w->win);
    return ev;
}

#ifndef HAK_LEARN_PURE_ONLY
/* ==================================================================== the running learner */
#include "heap.h"
#include "log.h"
#include "stats.h"
#include "superslab.h"

#include <pthread.h>

#if __has_include("bigcache.h")
#include "bigcache.h"
#define HAK_LEARN_TRIMS_BIGCACHE 1
#else
#define HAK_LEARN_TRIMS_BIGCACHE 0
#endif

static pthread_mutex_t mem_lock = PTHREAD_MUTEX_INITIALIZER;
static hak_learn_mem_t M;                 /* under mem_lock */
static int m_ready;                       /* under mem_lock */
static uint64_t last_trim_ms;             /* under mem_lock */
static uint64_t sparse_since_ms;          /* under mem_lock: first window of the current sparse run, 0 if dense */
static _Atomic uint64_t g_ops, g_last_ms, g_trims, g_trimmed_bytes, g_util_pm, g_windows;
static _Atomic uint32_t g_trim_epoch;
static _Atomic int g_thp;

static pthread_mutex_t wmax_lock = PTHREAD_MUTEX_INITIALIZER;
static hak_learn_wmax_t W;                /* under wmax_lock */
static int w_ready;                       /* under wmax_lock */
static _Atomic uint64_t g_wmax_milli;     /* W_MAX in force, x1000; 0 = W_MAX learning off */
static _Atomic uint64_t g_w_adopted, g_w_rejected, g_w_trials;

void hak_learn_mem_fork_child(void)
{
    pthread_mutex_init(&mem_lock, NULL);
    pthread_mutex_init(&wmax_lock, NULL);
}


static int log_on(void)
{
    return hak_cfg.adaptive_log || hak_cfg.debug_level >= 2;
}

void hak_learn_mem_event(hak_tls_t *t, uint32_t blocks, uint64_t now)
{
    hak_learn_mem_thread_t *T = &t->learn.mem;
    if (!hak_cfg.mem_learn)
        return;
    uint32_t epoch = atomic_load_explicit(&g_trim_epoch, memory_order_relaxed);
    if (epoch != T->trim_seen) {
        T->trim_seen = epoch;
        size_t r = hak_heap_trim(t->heap);    /* our own heap: owner-only, no lock needed */
        if (r) {
            r += hak_ss_cache_trim(0);        /* SuperSlabs it emptied went to the cache */
            atomic_fetch_add_explicit(&g_trimmed_bytes, r, memory_order_relaxed);
        }
    }
    T->ops += blocks ? blocks : 1;
    if (T->ops < 256)
        return;
    uint64_t ops = atomic_fetch_add_explicit(&g_ops, T->ops, memory_order_relaxed) + T->ops;
    T->ops = 0;
    uint64_t now_ms = now / 1000000;
    if (ops < (uint64_t)hak_cfg.mem_learn_window ||
        now_ms < atomic_load_explicit(&g_last_ms, memory_order_relaxed) + 100)   /* per-thread clocks */
        return;
    if (pthread_mutex_trylock(&mem_lock) != 0)
        return;
    if (!m_ready) {
        hak_learn_mem_init(&M, hak_cfg.mem_learn_threshold);
        m_ready = 1;
    }
    if (now_ms >= atomic_load_explicit(&g_last_ms, memory_order_relaxed) + 100) {
        atomic_store_explicit(&g_last_ms, now_ms, memory_order_relaxed);
        atomic_store_explicit(&g_ops, 0, memory_order_relaxed);
        hak_usage_t u = hak_usage();
        uint64_t live = (uint64_t)u.small_bytes + u.large_bytes;
        int f = hak_learn_mem_decide(&M, live, u.mapped_bytes);
        atomic_store_explicit(&g_util_pm, (uint64_t)(M.last_util * 1000), memory_order_relaxed);
        atomic_store_explicit(&g_windows, M.windows, memory_order_relaxed);
        if (f & HAK_LEARN_MEM_THP_CHANGED) {
            atomic_store_explicit(&g_thp, M.thp, memory_order_relaxed);
            if (log_on())
                hak_msg("[MEM_LEARN] THP advice %s (utilisation %s%%, threshold %s%%)",
                        M.thp == HAK_LEARN_THP_ON ? "on" : "off", hak_learn_fx(100 * M.last_util, 1).s,
                        hak_learn_fx(100 * M.threshold, 0).s);
        }
        if (M.last_util >= M.threshold)
            sparse_since_ms = 0;
        else if (!sparse_since_ms)
            sparse_since_ms = now_ms;
        if ((f & HAK_LEARN_MEM_TRIM) && last_trim_ms && now_ms < last_trim_ms + 1000)
            f &= ~HAK_LEARN_MEM_TRIM;         /* at most one trim a second: trimming is not free */
        /* Memory a program frees and takes again within a second (rounds of a working set) would only
         * fault back in, every page cleared anew: trim what has stayed unused for a second. */
        if ((f & HAK_LEARN_MEM_TRIM) && now_ms < sparse_since_ms + HAK_LEARN_MEM_TRIM_AFTER_MS)
            f &= ~HAK_LEARN_MEM_TRIM;
        if (f & HAK_LEARN_MEM_TRIM) {
            last_trim_ms = now_ms;
            size_t r = hak_ss_cache_trim(0);
#if HAK_LEARN_TRIMS_BIGCACHE
            hak_bigcache_decay(now, 0);    /* cached large blocks keep their mappings, lose their pages */
#endif
            atomic_fetch_add_explicit(&g_trimmed_bytes, r, memory_order_relaxed);
            atomic_fetch_add_explicit(&g_trims, 1, memory_order_relaxed);
            atomic_fetch_add_explicit(&g_trim_epoch, 1, memory_order_relaxed);
            if (log_on())
                hak_msg("[MEM_LEARN] Trim: utilisation %s%% (%llu of %zu B live); %zu B of cached SuperSlabs released",
                        hak_learn_fx(100 * M.last_util, 1).s, (unsigned long long)live, u.mapped_bytes, r);
        }
    }
    pthread_mutex_unlock(&mem_lock);
}

int hak_learn_thp_advice(void)
{
    return hak_cfg.mem_learn ? atomic_load_explicit(&g_thp, memory_order_relaxed) : HAK_LEARN_THP_UNDECIDED;
}

/* The adoption threshold in force (0 without canary trials), for reports: set once, read unlocked. */
static _Atomic uint64_t g_w_adopt_micro;

static void wmax_ready_locked(uint64_t now_ms)
{
    if (w_ready)
        return;
    double cand[HAK_LEARN_WMAX_MAX];
    unsigned n = hak_learn_wmax_parse(hak_cfg.wmax_candidates_mid, cand, HAK_LEARN_WMAX_MAX);
    hak_learn_wmax_init(&W, cand, n, hak_cfg.wmax_canary, hak_cfg.wmax_adopt_pct,
                        (uint64_t)hak_cfg.wmax_trial_sec * 1000, now_ms);
    atomic_store_explicit(&g_wmax_milli, (uint64_t)(hak_learn_wmax_current(&W) * 1000 + 0.5), memory_order_relaxed);
    atomic_store_explicit(&g_w_adopt_micro, (uint64_t)(W.adopt * 1e6 + 0.5), memory_order_relaxed);
    w_ready = 1;
}

uint32_t hak_learn_wmax_milli(void)
{
    if (!hak_cfg.mem_learn || !hak_cfg.wmax_learn)
        return 0;
    return (uint32_t)atomic_load_explicit(&g_wmax_milli, memory_order_relaxed);
}

void hak_learn_wmax_event(size_t request, size_t block, int hit, uint64_t now_ms)
{
    if (!hak_cfg.mem_learn || !hak_cfg.wmax_learn)
        return;
    if (pthread_mutex_trylock(&wmax_lock) != 0)
        return;                           /* one lost sample: never wait on the large path */
    wmax_ready_locked(now_ms);
    hak_learn_wmax_observe(&W, request, block, hit);
    double before = hak_learn_wmax_current(&W), inc = W.inc_score;
    int ev = hak_learn_wmax_step(&W, now_ms);
    double after = hak_learn_wmax_current(&W);
    if (ev != HAK_WMAX_EV_NONE) {
        atomic_store_explicit(&g_wmax_milli, (uint64_t)(after * 1000 + 0.5), memory_order_relaxed);
        atomic_store_explicit(&g_w_adopted, W.adopted, memory_order_relaxed);
        atomic_store_explicit(&g_w_rejected, W.rejected, memory_order_relaxed);
        atomic_store_explicit(&g_w_trials, W.trials, memory_order_relaxed);
        if (log_on()) {
            if (ev == HAK_WMAX_EV_TRIAL)
                hak_msg("[WMAX] Trial %s against incumbent %s (score %s)", hak_learn_fx(after, 2).s,
                        hak_learn_fx(before, 2).s, hak_learn_fx(W.inc_score, 4).s);
            else if (ev == HAK_WMAX_EV_ADOPT)
                hak_msg("[WMAX] Adopt %s: score %s beats %s by more than %s", hak_learn_fx(before, 2).s,
                        hak_learn_fx(W.last_score, 4).s, hak_learn_fx(inc, 4).s, hak_learn_fx(W.adopt, 3).s);
            else if (ev == HAK_WMAX_EV_REJECT)
                hak_msg("[WMAX] Reject %s: score %s against %s; keep %s", hak_learn_fx(before, 2).s,
                        hak_learn_fx(W.last_score, 4).s, hak_learn_fx(inc, 4).s, hak_learn_fx(after, 2).s);
        }
    }
    pthread_mutex_unlock(&wmax_lock);
}

size_t hak_learn_mem_report(char *buf, size_t cap, size_t len, int json)
{
    int thp = atomic_load_explicit(&g_thp, memory_order_relaxed);
    const char *thps = thp == HAK_LEARN_THP_ON ? "on" : thp == HAK_LEARN_THP_OFF ? "off" : "undecided";
    double util = atomic_load_explicit(&g_util_pm, memory_order_relaxed) / 1000.0;
    double wmax = (double)atomic_load_explicit(&g_wmax_milli, memory_order_relaxed) / 1000.0;
    unsigned long long trims = atomic_load_explicit(&g_trims, memory_order_relaxed);
    unsigned long long trimmed = atomic_load_explicit(&g_trimmed_bytes, memory_order_relaxed);
    unsigned long long windows = atomic_load_explicit(&g_windows, memory_order_relaxed);
    unsigned long long ad = atomic_load_explicit(&g_w_adopted, memory_order_relaxed);
    unsigned long long rj = atomic_load_explicit(&g_w_rejected, memory_order_relaxed);
    unsigned long long tr = atomic_load_explicit(&g_w_trials, memory_order_relaxed);
    double adopt = (double)atomic_load_explicit(&g_w_adopt_micro, memory_order_relaxed) / 1e6;
    if (json)
        return hak_learn_fmt(buf, cap, len, "\"mem_learn\":{\"enabled\":%s,\"windows\":%llu,\"utilisation\":%.3f,"
                             "\"thp_advice\":\"%s\",\"trims\":%llu,\"trimmed_bytes\":%llu,\"wmax_learn\":%s,"
                             "\"wmax\":%.3f,\"wmax_trials\":%llu,\"wmax_adopted\":%llu,\"wmax_rejected\":%llu,"
                             "\"wmax_adopt_threshold\":%.4f}",
                             hak_cfg.mem_learn ? "true" : "false", windows, util, thps, trims, trimmed,
                             hak_cfg.mem_learn && hak_cfg.wmax_learn ? "true" : "false", wmax, tr, ad, rj, adopt);
    len = hak_learn_fmt(buf, cap, len, "  memory learning: %s; %llu windows, utilisation %.1f%%, THP advice %s, "
                        "%llu trims (%llu B released)\n", hak_cfg.mem_learn ? "on" : "off", windows, 100 * util,
                        thps, trims, trimmed);
    if (hak_cfg.mem_learn && hak_cfg.wmax_learn)
        len = hak_learn_fmt(buf, cap, len, "    W_MAX %.2f; %llu trials, %llu adopted, %llu rejected\n",
                            wmax, tr, ad, rj);
    return len;
}
#endif /* !HAK_LEARN_PURE_ONLY */
#endif /* HAK_LEARN_HAVE_MEM */
