/* decay.c — the release policy, batched madvise, and the lazily started decay thread (see decay.h). */
#define _GNU_SOURCE
#include "decay.h"
#include "bigcache.h"
#include "heap.h"
#include "common.h"
#include "os.h"
#include "stash.h"
#include "superslab.h"
#include "thp.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

static int enabled;              /* batch_madvise compiled in */
static int deferred;             /* release waits for a pass */
static int adaptive;             /* free_policy=adaptive: an idle tick releases everything at once */
static int advice = MADV_DONTNEED;
static uint64_t decay_ns = 500000000ull;
static uint64_t tick_ns = 125000000ull;

HAK_TLS int hak_decay_safe_point;
HAK_TLS int hak_decay_lock_held;
HAK_TLS int hak_decay_hold;
HAK_TLS int hak_decay_held_kick;
_Atomic int hak_decay_activity = 1;   /* decay.h; set by large-block and slab traffic (adaptive idle test) */

static struct {
    _Atomic uint64_t madvise_calls, released_bytes, ranges, batches, passes, idle_passes;
    _Atomic uint64_t thread_starts, kicks;
} st;

uint64_t hak_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void hak_decay_configure(void)
{
#if HAK_FEATURE_BATCH_MADVISE
    enabled = 1;
    advice = hak_cfg.madvise_policy == HAK_MADVISE_POLICY_FREE ? MADV_FREE : MADV_DONTNEED;
    decay_ns = (uint64_t)(hak_cfg.decay_ms < 0 ? 0 : hak_cfg.decay_ms) * 1000000ull;
    deferred = hak_cfg.free_policy != HAK_FREE_POLICY_IMMEDIATE && decay_ns > 0;
    adaptive = hak_cfg.free_policy == HAK_FREE_POLICY_ADAPTIVE;
    /* A pass every quarter of the delay: memory goes back between 1x and 1.25x decay_ms after its
     * last use, and an idle program is not woken more than 100 times a second. */
    tick_ns = decay_ns / 4;
    if (tick_ns < 10000000ull)
        tick_ns = 10000000ull;
    if (tick_ns > 250000000ull)
        tick_ns = 250000000ull;
#endif
}

int hak_decay_enabled(void) { return enabled; }
int hak_decay_deferred(void) { return deferred; }
int hak_decay_zeroes(void) { return advice == MADV_DONTNEED; }

/* One madvise; `ranges` counts the ranges asked for, before coalescing, so the callers add it. */
static void advise_range(void *p, size_t n)
{
    hak_os_advise(p, n, advice);
    atomic_fetch_add_explicit(&st.madvise_calls, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&st.released_bytes, n, memory_order_relaxed);
}

void hak_decay_release(void *p, size_t n)
{
    if (!enabled || !n)
        return;
    advise_range(p, n);
    atomic_fetch_add_explicit(&st.ranges, 1, memory_order_relaxed);
}

size_t hak_ranges_coalesce(hak_decay_range_t *r, size_t n)
{
    /* insertion sort: batches are small, and qsort may allocate */
    for (size_t i = 1; i < n; i++) {
        hak_decay_range_t x = r[i];
        size_t j = i;
        while (j > 0 && r[j - 1].addr > x.addr) {
            r[j] = r[j - 1];
            j--;
        }
        r[j] = x;
    }
    size_t out = 0;
    for (size_t i = 0; i < n; i++) {
        if (out && r[out - 1].addr + r[out - 1].len == r[i].addr)
            r[out - 1].len += r[i].len;
        else
            r[out++] = r[i];
    }
    return out;
}

void hak_decay_release_batch(hak_decay_range_t *r, size_t n)
{
    if (!enabled || !n)
        return;
    atomic_fetch_add_explicit(&st.ranges, n, memory_order_relaxed);
    n = hak_ranges_coalesce(r, n);
    for (size_t i = 0; i < n; i++)
        advise_range((void *)r[i].addr, r[i].len);
    atomic_fetch_add_explicit(&st.batches, 1, memory_order_relaxed);
}

/* ---- the pass ------------------------------------------------------------------------- */

int hak_decay_pass(void)
{
    if (!enabled)
        return 0;
    uint64_t now = hak_now_ns();
    /* adaptive: nothing allocated or freed in large blocks or slabs since the last pass — the
     * program is idle, so what it left cached goes back now rather than after the full delay */
    int idle = adaptive && !atomic_exchange_explicit(&hak_decay_activity, 0, memory_order_relaxed);
    uint64_t d = idle ? 0 : decay_ns;
    if (idle)
        atomic_fetch_add_explicit(&st.idle_passes, 1, memory_order_relaxed);
    size_t pending = 0;
#if HAK_FEATURE_BIGCACHE
    pending += hak_stash_decay(idle);      /* idle stashes join the BigCache, then decay there */
    pending += hak_bigcache_decay(now, d);
#endif
    hak_heap_decay_idle();                  /* before the slab units: what it empties waits there */
    pending += hak_ss_decay(now, d);
    atomic_fetch_add_explicit(&st.passes, 1, memory_order_relaxed);
    return pending != 0;
}

/* ---- the thread -------------------------------------------------------------------------- */

static pthread_mutex_t tlock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t tcond = PTHREAD_COND_INITIALIZER;
_Atomic int hak_decay_awake;     /* decay.h: the thread is running passes (a kick has nothing to do) */
static _Atomic int started;

static void sleep_ns(uint64_t ns)
{
    struct timespec ts = { (time_t)(ns / 1000000000ull), (long)(ns % 1000000000ull) };
    while (nanosleep(&ts, &ts) != 0)
        ;
}

static void *decay_main(void *arg)
{
    (void)arg;
    for (;;) {
        sleep_ns(tick_ns);
        if (hak_decay_pass())
            continue;
        /* Nothing waits: go idle. Clear `awake` first, then look once more, so a kick that saw
         * awake == 1 just before cannot be lost. */
        atomic_store(&hak_decay_awake, 0);
        if (hak_decay_pass()) {
            atomic_store(&hak_decay_awake, 1);
            continue;
        }
        pthread_mutex_lock(&tlock);
        while (!atomic_load(&hak_decay_awake))
            pthread_cond_wait(&tcond, &tlock);
        pthread_mutex_unlock(&tlock);
        atomic_store(&hak_decay_activity, 1);   /* a fresh start is never "idle" */
    }
    return NULL;
}

static void start_thread(void)
{
    pthread_attr_t attr;
    pthread_t tid;
    sigset_t all, old;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 64 << 10);
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);   /* the program's signals never land on our thread */
    if (pthread_create(&tid, &attr, decay_main, NULL) == 0) {
        started = 1;
        atomic_fetch_add_explicit(&st.thread_starts, 1, memory_order_relaxed);
#ifdef __GLIBC__
        pthread_setname_np(tid, "hakmem-decay");
#endif
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&attr);
}

/* Without a thread (it could not be created, or a TSan child of a threaded parent, where TSan forbids
 * new threads) the kicks themselves run a pass once a tick has gone by. Kicks come with no allocator
 * lock held, so a pass may take the cache locks here. */
static _Atomic int no_thread;
static _Atomic uint64_t last_inline_pass;

static void inline_pass(void)
{
    uint64_t now = hak_now_ns(), last = atomic_load_explicit(&last_inline_pass, memory_order_relaxed);
    if (now - last < tick_ns || !atomic_compare_exchange_strong(&last_inline_pass, &last, now))
        return;
    hak_decay_pass();
}

void hak_decay_send_held_kick(void)
{
    hak_decay_held_kick = 0;
    hak_decay_kick();
}

void hak_decay_wake(void)
{
    if (!deferred || hak_decay_lock_held)
        return;
    if (hak_decay_hold) {
        hak_decay_held_kick = 1;
        return;
    }
    if (atomic_load_explicit(&no_thread, memory_order_relaxed)) {
        inline_pass();
        return;
    }
    /* pthread_create allocates (through us): only a thread that owns its heap, and so holds no
     * allocator lock here (and no bin half rewritten: hak_decay_hold above), may start the decay
     * thread; others leave it to the next kick. */
    if (!atomic_load_explicit(&started, memory_order_relaxed) && hak_thread->state != HAK_TLS_ACTIVE &&
        !hak_decay_safe_point)
        return;
    pthread_mutex_lock(&tlock);
    if (!atomic_load(&hak_decay_awake)) {
        atomic_fetch_add_explicit(&st.kicks, 1, memory_order_relaxed);
        atomic_store(&hak_decay_awake, 1);
        if (!started)
            start_thread();
        else
            pthread_cond_signal(&tcond);
        if (!started) {
            atomic_store(&hak_decay_awake, 0);
            atomic_store(&no_thread, 1);   /* no thread (resources): passes ride on the kicks */
        }
    }
    pthread_mutex_unlock(&tlock);
}

void hak_decay_fork_prepare(void) { pthread_mutex_lock(&tlock); }
void hak_decay_fork_parent(void) { pthread_mutex_unlock(&tlock); }

/* The child has no decay thread: the next kick starts one. */
void hak_decay_fork_child(void)
{
    pthread_mutex_init(&tlock, NULL);
    pthread_cond_init(&tcond, NULL);
    started = 0;
    atomic_store(&hak_decay_awake, 0);
#if HAK_SANITIZER_THREAD
    atomic_store(&no_thread, 1);
#endif
    atomic_store(&hak_decay_activity, 1);
}

/* ---- reporting ------------------------------------------------------------------------- */

size_t hak_decay_stats_json(char *buf, size_t len)
{
    static const char *pol[] = { "batch", "adaptive", "immediate" };
    int n = snprintf(buf, len,
                     "\"decay\":{\"enabled\":%s,\"policy\":\"%s\",\"advice\":\"%s\",\"decay_ms\":%llu,"
                     "\"deferred\":%s,\"thread\":%s,\"thread_starts\":%llu,\"kicks\":%llu,\"passes\":%llu,"
                     "\"idle_passes\":%llu,\"madvise_calls\":%llu,\"released_bytes\":%llu,\"ranges\":%llu,"
                     "\"batches\":%llu}",
                     enabled ? "true" : "false",
#if HAK_FEATURE_BATCH_MADVISE
                     pol[hak_cfg.free_policy],
#else
                     ((void)pol, "none"),
#endif
                     advice == MADV_FREE ? "free" : "dontneed", (unsigned long long)(decay_ns / 1000000ull),
                     deferred ? "true" : "false", started ? "true" : "false",
                     (unsigned long long)st.thread_starts, (unsigned long long)st.kicks,
                     (unsigned long long)st.passes, (unsigned long long)st.idle_passes,
                     (unsigned long long)st.madvise_calls, (unsigned long long)st.released_bytes,
                     (unsigned long long)st.ranges, (unsigned long long)st.batches);
    return n < 0 ? 0 : (size_t)n < len ? (size_t)n : len - 1;
}

size_t hak_memory_stats_json(char *buf, size_t len)
{
    size_t o = 0;
#define PART(call)                                     \
    do {                                               \
        if (o + 2 < len) {                             \
            if (o)                                     \
                buf[o++] = ',';                        \
            o += call;                                 \
        }                                              \
    } while (0)
#if HAK_FEATURE_BIGCACHE
    PART(hak_bigcache_stats_json(buf + o, len - o));
#endif
    PART(hak_decay_stats_json(buf + o, len - o));
    PART(hak_thp_stats_json(buf + o, len - o));
    PART(hak_ss_stats_json(buf + o, len - o));
#undef PART
    if (len)
        buf[o < len ? o : len - 1] = 0;
    return o;
}
