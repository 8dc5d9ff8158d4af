/* init.c — start-up, the per-thread life cycle (attach, exit) and fork safety. */
#define _GNU_SOURCE
#include "init.h"
#include "config/config.h"
#include "config/parse.h"
#include "bigcache.h"
#include "decay.h"
#include "stash.h"
#include "heap.h"
#include "hardened/hardened.h"
#include "integrity.h"
#include "learn/learn.h"
#include "large.h"
#include "log.h"
#include "os.h"
#include "stats.h"
#include "superslab.h"
#include "thp.h"
#include "trace.h"
#include "tuning.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

_Atomic int hak_ready;
hak_tuning_t hak_tune;
static pthread_key_t thread_key;
static _Atomic(pthread_t) init_owner;

static void thread_exit(void *arg);

/* ---- tuning derived from the configuration ----------------------------------- */

static uint32_t clamp_u32(long long v, uint32_t lo, uint32_t hi)
{
    return v < (long long)lo ? lo : v > (long long)hi ? hi : (uint32_t)v;
}

/* Super Front Cache: the HAKMEM_TINY_SFC_HOT_CLASSES smallest classes (the hottest in most programs) get
 * HAKMEM_TINY_SFC_CAPACITY cache slots instead of HAKMEM_TINY_TLS_CAP. */
static void apply_front_cache(void)
{
#if HAK_FEATURE_SFC
    if (!hak_cfg.tiny_sfc_enable)
        return;
    uint32_t cap = clamp_u32(hak_cfg.tiny_sfc_capacity, 1, 65535);
    for (unsigned c = 0; c < (unsigned)hak_cfg.tiny_sfc_hot_classes && c < HAK_NCLASS; c++) {
        hak_tune.cap[c] = cap;
        if (hak_tune.refill[c] > cap)
            hak_tune.refill[c] = cap;
    }
#endif
}

/* HAKMEM_TINY_TLS_CLASS_OVERRIDE "Cn:cap:refill": Cn covers the classes in (2^(n+3), 2^(n+4)] bytes. */
static void apply_class_overrides(void)
{
    hak_class_override_t ov[HAK_TINY_CLASSES];
    int n = hak_parse_class_override(hak_cfg.tiny_tls_class_override, ov, HAK_TINY_CLASSES);
    for (int i = 0; i < n; i++) {
        uint32_t lo = ov[i].cls == 0 ? 0 : 8u << ov[i].cls, hi = 16u << ov[i].cls;
        for (unsigned c = 0; c < HAK_NCLASS; c++) {
            if (hak_class_size[c] > lo && hak_class_size[c] <= hi) {
                hak_tune.cap[c] = (uint32_t)ov[i].cap;
                hak_tune.refill[c] = (uint32_t)(ov[i].refill < ov[i].cap ? ov[i].refill : ov[i].cap);
            }
        }
    }
}

void hak_tuning_init(void)
{
    hak_tune.tier_on[HAK_TIER_TINY] = hak_cfg.wrap_tiny != 0;
    hak_tune.tier_on[HAK_TIER_POOL] = hak_cfg.wrap_pool != 0;
    hak_tune.tier_on[HAK_TIER_MID] = hak_cfg.wrap_mid != 0;
    hak_tune.tier_on[HAK_TIER_LARGE] = hak_cfg.wrap_large != 0;
#if HAK_HAS_INTEGRITY
    hak_tune.integrity = HAK_DEBUG || hak_cfg.integrity_checks;
#endif
#if HAK_FEATURE_P0_BATCH
    hak_tune.splice = hak_cfg.tiny_p0_enable != 0;
    hak_tune.splice_max = clamp_u32(hak_cfg.tiny_p0_batch, 1, 1u << 20);
    hak_tune.no_drain = hak_cfg.tiny_p0_no_drain != 0;
    hak_tune.p0_log = hak_cfg.tiny_p0_log != 0;
#endif
    hak_tune.drain_thresh = clamp_u32(hak_cfg.tiny_drain_thresh, 0, 1u << 20);
#if HAK_FEATURE_EXPERIMENTAL
    hak_tune.adaptive_drain = hak_cfg.experimental_adaptive_drain != 0;
    hak_tune.cache_tuning = hak_cfg.experimental_cache_tuning != 0;
#endif
    hak_tune.verify_free = hak_cfg.tiny_header_classidx == 0;

    uint32_t tiny_cap = clamp_u32(hak_cfg.tiny_tls_cap, 1, 65535);
    uint32_t tiny_refill = clamp_u32(hak_cfg.tiny_tls_refill, 1, 65535);
    for (unsigned c = 0; c < HAK_NCLASS; c++) {
        uint32_t size = hak_class_size[c], cap, refill;
        if (size <= HAK_TINY_MAX) {
            cap = tiny_cap;
            refill = tiny_refill;
        } else {
            /* Larger classes: cache about 256 KiB worth per class; a refill brings about 32 KiB, since
             * carving a block touches its first page and a thread that needs one block of a class
             * should not fault in a dozen. */
            cap = clamp_u32((long long)((256u << 10) / size), 4, tiny_cap);
            refill = clamp_u32((long long)((32u << 10) / size), 1, cap);
        }
        hak_tune.cap[c] = cap;
        hak_tune.refill[c] = refill < cap ? refill : cap;
    }
    apply_front_cache();
    apply_class_overrides();
    if (hak_tune.verify_free)   /* unverified TINY frees would bypass the check in a cache bin */
        for (unsigned c = 0; c < HAK_NCLASS; c++)
            if (hak_class_size[c] <= HAK_TINY_MAX)
                hak_tune.cap[c] = 0;
    /* Integrity checks, tracing (HAKMEM_TRACE_ALLOCATIONS) and the ASan variant's poisoning live in the
     * slow paths: with every cache capacity 0, every operation takes them. */
    hak_tune.checked = hak_tune.integrity || HAK_SANITIZER_ADDRESS;
#if HAK_FEATURE_TRACE
    hak_tune.checked |= hak_cfg.trace_allocations != 0;
#endif
    if (hak_tune.checked)
        memset(hak_tune.cap, 0, sizeof hak_tune.cap);
    hak_tune.cap[HAK_NO_CLASS] = 0;
#if HAK_FEATURE_POOL_ARENA
    /* POOL refills bring pool_refill_batch pages of 16 KiB worth of blocks, up to the cache size. */
    for (unsigned c = 0; c < HAK_NCLASS; c++) {
        if (hak_class_tier(c) != HAK_TIER_POOL || !hak_tune.cap[c])
            continue;
        hak_tune.refill[c] = clamp_u32(hak_cfg.pool_refill_batch * (16LL << 10) / hak_class_size[c], 1,
                                       hak_tune.cap[c]);
    }
#endif
#if HAK_FEATURE_MEM_LEARN || HAK_FEATURE_ELO
    hak_tune.learn_large = hak_learn_large_wanted();
#endif
    /* Memory return: decay policy, THP, the large-block cache and the SuperSlab life cycle. */
    hak_decay_configure();
    hak_thp_configure();
#if HAK_FEATURE_BIGCACHE
    hak_bigcache_configure((size_t)hak_cfg.bigcache_max_mb << 20, (size_t)hak_cfg.bigcache_max_block);
    hak_stash_configure();
#endif
    hak_ss_configure();
}

/* ---- fork ------------------------------------------------------------------------ */

/* Lock order: the decay thread's control lock first (a kick holds it across pthread_create, which
 * allocates), then the heap locks, the BigCache, the SuperSlab queues, metadata. */
static void fork_prepare(void)
{
    hak_decay_fork_prepare();
    hak_heap_lock();
    pthread_mutex_lock(&hak_shared_lock);
    hak_bigcache_fork_lock();
    hak_ss_fork_lock();
    hak_meta_fork_lock();
    hak_guard_fork_prepare();
}

static void fork_parent(void)
{
    hak_guard_fork_parent();
    hak_meta_fork_unlock();
    hak_ss_fork_unlock();
    hak_bigcache_fork_unlock();
    pthread_mutex_unlock(&hak_shared_lock);
    hak_heap_unlock();
    hak_decay_fork_parent();
}

static void fork_child(void)
{
    hak_guard_fork_child();
    hak_meta_fork_unlock();
    hak_ss_fork_child();
    hak_bigcache_fork_child();
    hak_heap_fork_child(hak_thread->heap);   /* re-initialises the registry and shared locks */
    hak_decay_fork_child();              /* no decay thread in the child: the next kick starts one */
#if HAK_HAS_LEARNING
    hak_learn_fork_child();
#endif
}

/* HAKMEM_TINY_P0_LOG: the refill counters of every heap at exit, and whether they add up. */
static void p0_report(void)
{
    uint64_t refills = 0, blocks = 0, splices = 0, spliced = 0, drained = 0;
    hak_heap_lock();
    for (hak_heap_t *h = hak_heap_first(); h; h = h->next_all) {
        refills += hak_counter_get(&h->st.refills);
        blocks += hak_counter_get(&h->st.refill_blocks);
        splices += hak_counter_get(&h->st.splices);
        spliced += hak_counter_get(&h->st.splice_blocks);
        drained += hak_counter_get(&h->st.remote_drained);
    }
    hak_heap_unlock();
    int ok = splices <= refills && spliced <= blocks && blocks >= refills;
    hak_msg("P0: %llu refills brought %llu blocks; %llu splices took %llu of them; %llu remote frees drained; %s",
            (unsigned long long)refills, (unsigned long long)blocks, (unsigned long long)splices,
            (unsigned long long)spliced, (unsigned long long)drained,
            ok ? "counters consistent" : "COUNTERS INCONSISTENT");
}

/* ---- start-up ------------------------------------------------------------------- */

void hak_init(void)
{
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    /* A malloc from inside our own start-up (pthread_atfork may allocate) must not wait for itself. */
    if (atomic_load(&hak_ready) == 1 && pthread_equal(atomic_load(&init_owner), pthread_self()))
        return;
    pthread_mutex_lock(&lock);
    if (atomic_load(&hak_ready) == 0) {
        atomic_store(&init_owner, pthread_self());
        hak_config_load();
        hak_tuning_init();
        hak_hardened_init();     /* the secret, before the first block is carved */
        hak_shared_heap = hak_heap_acquire();
        atomic_store_explicit(&hak_ready, 1, memory_order_release);
        pthread_key_create(&thread_key, thread_exit);
        pthread_atfork(fork_prepare, fork_parent, fork_child);
        hak_integrity_init();
        hak_trace_init();
        hak_stats_init();
        if (hak_tune.p0_log)
            atexit(p0_report);
        atomic_store_explicit(&hak_ready, 2, memory_order_release);
    }
    pthread_mutex_unlock(&lock);
}

__attribute__((constructor)) static void hak_constructor(void)
{
    hak_ensure_init();
}

/* ---- threads --------------------------------------------------------------------- */

hak_tls_t *hak_thread_attach(void)
{
    hak_tls_t *t = hak_thread;
    if (t->state == HAK_TLS_ACTIVE)
        return t;
    if (t->state == HAK_TLS_DEAD || atomic_load_explicit(&hak_ready, memory_order_acquire) != 2)
        return NULL;
    hak_heap_t *h = hak_heap_acquire();
    if (!h)
        return NULL;
    t = &h->cache;
    memset(t, 0, sizeof *t);       /* the previous thread's cache was emptied and its counters folded */
    t->heap = h;
    for (unsigned c = 0; c < HAK_NBINS; c++)
        t->bins[c].cap = t->bins[c].room = hak_tune.cap[c];
    t->heap_id = h->id;
    t->state = HAK_TLS_ACTIVE;
    h->tls = t;
    hak_thread = t;
    pthread_setspecific(thread_key, t);
    return t;
}

/* Thread exit: every cached block goes home, counters are kept, the heap waits for the next thread. */
static void thread_exit(void *arg)
{
    hak_tls_t *t = arg;
    if (t->state != HAK_TLS_ACTIVE)
        return;
    hak_heap_t *h = t->heap;
#if HAK_HARDENED
    hak_hard_thread_exit(t);    /* the quarantine into the bins, which go home next */
#endif
    hak_thread = (hak_tls_t *)&hak_tls_dead;   /* from now on this thread takes the shared heap */
    /* The cache itself is left as it is: the next thread to take the heap starts it from zero. */
    for (unsigned c = 0; c < HAK_NBINS; c++) {
        hak_bin_t *b = &t->bins[c];
        if (hak_bin_count(b))
            hak_heap_return_list(h, b->head, hak_bin_count(b));
    }
    hak_stats_fold_thread(h, t);
#if HAK_FEATURE_BIGCACHE
    hak_stash_drop(h);
#endif
    hak_heap_release(h);
}
