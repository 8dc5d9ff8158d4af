/* superslab.c — creating, carving and recycling SuperSlabs; the address map that proves ownership;
 * the LRU cache of empty SuperSlabs and the release of their memory (with decay.c). */
#define _GNU_SOURCE
#include "superslab.h"
#include "decay.h"
#include "heap.h"
#include "hardened/hardened.h"
#include "os.h"
#include "thp.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

_Atomic uint8_t hak_ssmap[HAK_SSMAP_SIZE];

/* Cache of empty SuperSlabs: an LRU list, most recently emptied at the head (handed out first, its
 * pages are the warmest). Beyond soft_cap the oldest are released (madvise) at once; beyond
 * hak_ss_cache_cap they are unmapped. */
unsigned hak_ss_cache_cap = 4;
static unsigned soft_cap = ~0u;
static int reuse_spares;           /* superslab_reuse: empty SuperSlabs a heap keeps for any class */
static unsigned arena_init_mb = 2, arena_max_mb = 2, arena_levels;   /* pool_arena */

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static hak_superslab_t *cache_head, *cache_tail;
static size_t cache_count, cache_unreleased;

/* Dirty queue: SuperSlabs in use whose free units may hold resident pages. */
static pthread_mutex_t dq_lock = PTHREAD_MUTEX_INITIALIZER;
static hak_superslab_t *dq_head;
static size_t dq_count;

static struct {
    _Atomic uint64_t mapped, batch_maps, cache_puts, cache_hits, evicted, soft_released, decay_released;
    _Atomic uint64_t units_released, unit_bytes_released, immediate_released, prewarmed, spares_kept;
    _Atomic uint64_t arena_reservations, arena_superslabs, arena_level_max;
    _Atomic int64_t live;          /* mapped now: set in the map, cached ones included */
} st;

extern _Atomic uint64_t hak_storm_count;   /* heap.c: free storms that emptied a thread's bins */

#define CNT(f, n) atomic_fetch_add_explicit(&st.f, (n), memory_order_relaxed)

static void map_set(hak_superslab_t *ss, int on)
{
    atomic_store_explicit(&hak_ssmap[(uintptr_t)ss >> HAK_SS_SHIFT], (uint8_t)on, memory_order_release);
    atomic_fetch_add_explicit(&st.live, on ? 1 : -1, memory_order_relaxed);
}

static void ss_unmap(hak_superslab_t *ss)
{
    map_set(ss, 0);
    hak_os_unmap(ss, HAK_SS_SIZE);
}

size_t hak_ss_live_count(void)
{
    int64_t n = atomic_load_explicit(&st.live, memory_order_relaxed);
    return n > 0 ? (size_t)n : 0;
}

static void ss_lock(hak_superslab_t *ss)
{
    while (atomic_exchange_explicit(&ss->lock, 1, memory_order_acquire))
        while (atomic_load_explicit(&ss->lock, memory_order_relaxed))
            __builtin_ia32_pause();
}
static int ss_trylock(hak_superslab_t *ss)
{
    return !atomic_exchange_explicit(&ss->lock, 1, memory_order_acquire);
}
static void ss_unlock(hak_superslab_t *ss)
{
    atomic_store_explicit(&ss->lock, 0, memory_order_release);
}

static void ss_init(hak_superslab_t *ss, struct hak_heap *owner)
{
    uint32_t huge = ss->thp_huge;
    memset(ss, 0, sizeof *ss);
    ss->thp_huge = huge;
    memset(ss->unit_class, HAK_NO_CLASS, sizeof ss->unit_class);
    ss->magic = HAK_SS_MAGIC;
    atomic_store_explicit(&ss->owner, owner, memory_order_relaxed);
}

/* A cached SuperSlab about to be released loses its huge-page advice first (its header page stays
 * resident, enough for khugepaged to fill the whole 2 MiB again); it is advised anew when reused.
 * Adds the ranges to withdraw to r (room for one more); returns the new count. */
static size_t withdraw_huge(hak_superslab_t *ss, hak_decay_range_t *r, size_t n)
{
    if (!ss->thp_huge)
        return n;
    ss->thp_huge = 0;
    r[n].addr = (uintptr_t)ss;
    r[n].len = HAK_SS_SIZE;
    return n + 1;
}

/* Everything but the header page: a cached SuperSlab keeps its header resident, so a stray free()
 * into it still reads "no class here" and is rejected. */
static void release_span(hak_superslab_t *ss)
{
    hak_decay_range_t r[1];
    if (withdraw_huge(ss, r, 0))
        hak_thp_withdraw(r, 1);
    hak_decay_release((char *)ss + HAK_SS_HEADER, HAK_SS_SIZE - HAK_SS_HEADER);
}

/* ---- the cache ----------------------------------------------------------------------- */

static void cache_unlink(hak_superslab_t *ss)
{
    if (ss->prev)
        ss->prev->next = ss->next;
    else
        cache_head = ss->next;
    if (ss->next)
        ss->next->prev = ss->prev;
    else
        cache_tail = ss->prev;
    ss->next = ss->prev = NULL;
    cache_count--;
    if (!ss->cache_released)
        cache_unreleased--;
}

/* With cache_lock held: the head is handed out first, the tail evicted and released first. */
static void cache_link(hak_superslab_t *ss, int at_head)
{
    if (at_head) {
        ss->prev = NULL;
        ss->next = cache_head;
        if (cache_head)
            cache_head->prev = ss;
        else
            cache_tail = ss;
        cache_head = ss;
    } else {
        ss->next = NULL;
        ss->prev = cache_tail;
        if (cache_tail)
            cache_tail->next = ss;
        else
            cache_head = ss;
        cache_tail = ss;
    }
    cache_count++;
}

static hak_superslab_t *cache_pop(void)
{
    hak_superslab_t *ss = cache_head;
    if (ss)
        cache_unlink(ss);
    return ss;
}

/* With cache_lock held: keep at most soft_cap unreleased SuperSlabs (the newest). */
static void cache_enforce_soft(void)
{
    for (hak_superslab_t *ss = cache_tail; ss && cache_unreleased > soft_cap; ss = ss->prev) {
        if (ss->cache_released)
            continue;
        release_span(ss);
        ss->cache_released = 1;
        cache_unreleased--;
        CNT(soft_released, 1);
    }
}

#if HAK_FEATURE_POOL_ARENA
static unsigned heap_arena_ss(unsigned owned, unsigned *level_out)
{
    /* Reservation k of a heap is init * 2^k MiB (capped at max, at most `levels` doublings); the level
     * follows the heap's size, so a heap that shrinks reserves less again. */
    unsigned level = 0;
    while (level < arena_levels && (((unsigned long long)arena_init_mb << (level + 1)) - arena_init_mb) / 2 <= owned &&
           ((unsigned long long)arena_init_mb << (level + 1)) <= arena_max_mb)
        level++;
    unsigned long long mb = (unsigned long long)arena_init_mb << level;
    if (mb > arena_max_mb)
        mb = arena_max_mb;
    unsigned n = (unsigned)((mb + 1) / 2);
    *level_out = level;
    return n ? n : 1;
}
#endif

/* Map n SuperSlabs with one mmap; returns how many were made. */
static unsigned map_fresh(hak_superslab_t **out, unsigned n, unsigned owned)
{
    char *m = hak_os_map_aligned((size_t)n * HAK_SS_SIZE, HAK_SS_SIZE);
    if (!m) {
        if (n == 1)
            return 0;
        return map_fresh(out, 1, owned);
    }
    int huge = hak_thp_superslab(m, (size_t)n * HAK_SS_SIZE, owned);
#if HAK_FEATURE_GUARD_PAGES
    hak_guard_superslabs(m, n);      /* a mapping's property: kept while it is cached */
#endif
    for (unsigned i = 0; i < n; i++) {
        hak_superslab_t *ss = (hak_superslab_t *)(m + (size_t)i * HAK_SS_SIZE);
        ss->thp_huge = (uint32_t)huge;
        ss_init(ss, NULL);
        map_set(ss, 1);
        out[i] = ss;
    }
    CNT(mapped, n);
    if (n > 1)
        CNT(batch_maps, 1);
    return n;
}

unsigned hak_ss_create_batch(struct hak_heap *owner, unsigned cls, unsigned owned, hak_superslab_t **out)
{
    unsigned want = 1;
#if HAK_FEATURE_POOL_ARENA
    if (hak_class_tier(cls) == HAK_TIER_POOL) {
        unsigned level = 0;
        want = heap_arena_ss(owned, &level);
        if (want > HAK_SS_BATCH_MAX)
            want = HAK_SS_BATCH_MAX;
        CNT(arena_reservations, 1);
        if (want > 1)
            CNT(arena_superslabs, want - 1);
        uint64_t mx = atomic_load_explicit(&st.arena_level_max, memory_order_relaxed);
        while (level > mx && !atomic_compare_exchange_weak(&st.arena_level_max, &mx, level))
            ;
    }
#else
    (void)cls;
#endif
    unsigned got = 0;
    uint32_t warm = 0;             /* bit i: out[i] still holds the pages of its last use */
    pthread_mutex_lock(&cache_lock);
    while (got < want) {
        hak_superslab_t *ss = cache_pop();
        if (!ss)
            break;
        if (!ss->cache_released)
            warm |= 1u << got;
        out[got++] = ss;
    }
    pthread_mutex_unlock(&cache_lock);
    for (unsigned i = 0; i < got; i++)        /* released ones lost their huge-page advice */
        if (!out[i]->thp_huge)
            out[i]->thp_huge = (uint32_t)hak_thp_superslab(out[i], HAK_SS_SIZE, owned + i);
    if (got)
        CNT(cache_hits, got);
    if (got < want)
        got += map_fresh(out + got, want - got, owned);
    /* One taken from the cache before its pages were given back may still be resident anywhere:
     * its units count as left warm by destroyed slabs, so new slabs go there first and, once the
     * caller has carved its slab (hak_ss_queue_dirty), the decay pass gives back what none reuses
     * (unmarked, they stayed resident unseen for as long as the SuperSlab lived). */
    int mark = hak_decay_enabled() && hak_decay_deferred();
    for (unsigned i = 0; i < got; i++) {
        ss_init(out[i], owner);
        if (mark && (warm >> i & 1))
            out[i]->units_dirty = ~0u;
    }
    hak_decay_touch();
    return got;
}

static void dq_unlink_locked(hak_superslab_t *ss)
{
    if (!atomic_load_explicit(&ss->dq_linked, memory_order_relaxed))
        return;
    if (ss->dq_prev)
        ss->dq_prev->dq_next = ss->dq_next;
    else
        dq_head = ss->dq_next;
    if (ss->dq_next)
        ss->dq_next->dq_prev = ss->dq_prev;
    ss->dq_next = ss->dq_prev = NULL;
    atomic_store_explicit(&ss->dq_linked, 0, memory_order_relaxed);
    dq_count--;
}

static void dq_link_locked(hak_superslab_t *ss)
{
    ss->dq_prev = NULL;
    ss->dq_next = dq_head;
    if (dq_head)
        dq_head->dq_prev = ss;
    dq_head = ss;
    dq_count++;
}

/* With cache_lock held: file an emptied SuperSlab as the most recently cached one. */
static void cache_push(hak_superslab_t *ss, int release_now)
{
    memset(ss->unit_class, HAK_NO_CLASS, sizeof ss->unit_class);
    ss->cached_since = hak_now_ns();
    ss->cache_released = 0;
    if (release_now) {
        release_span(ss);
        ss->cache_released = 1;
        CNT(immediate_released, 1);
    } else {
        cache_unreleased++;
    }
    cache_link(ss, 1);
    CNT(cache_puts, 1);
    cache_enforce_soft();
}

void hak_ss_destroy(hak_superslab_t *ss)
{
    atomic_store_explicit(&ss->owner, NULL, memory_order_relaxed);
    /* Always through dq_lock: a decay pass releasing this SuperSlab's units holds it until done. */
    pthread_mutex_lock(&dq_lock);
    dq_unlink_locked(ss);
    pthread_mutex_unlock(&dq_lock);
    hak_decay_touch();
    int release_now = hak_decay_enabled() && !hak_decay_deferred();
    pthread_mutex_lock(&cache_lock);
    if (cache_count < hak_ss_cache_cap) {
        cache_push(ss, release_now);
        int kick = cache_unreleased != 0;
        pthread_mutex_unlock(&cache_lock);
        if (kick)
            hak_decay_kick();
        return;
    }
    /* Full: the least recently cached one makes room (LRU), or this one goes when the cap is 0. */
    hak_superslab_t *victim = ss;
    if (cache_count && hak_ss_cache_cap) {
        victim = cache_tail;
        cache_unlink(victim);
        cache_push(ss, release_now);
    }
    pthread_mutex_unlock(&cache_lock);
    CNT(evicted, 1);
    ss_unmap(victim);
    if (victim != ss)
        hak_decay_kick();
}

size_t hak_ss_cache_trim(size_t keep)
{
    size_t released = 0;
    for (;;) {
        pthread_mutex_lock(&cache_lock);
        hak_superslab_t *ss = NULL;
        if (cache_count > keep) {
            ss = cache_tail;
            cache_unlink(ss);
        }
        pthread_mutex_unlock(&cache_lock);
        if (!ss)
            return released;
        ss_unmap(ss);
        released += HAK_SS_SIZE;
    }
}

size_t hak_ss_cached_count(void)
{
    pthread_mutex_lock(&cache_lock);
    size_t n = cache_count;
    pthread_mutex_unlock(&cache_lock);
    return n;
}

int hak_ss_keep_spare(hak_superslab_t *list, hak_superslab_t *ss)
{
    if (!reuse_spares)
        return 0;
    int empty = 0;
    for (hak_superslab_t *s = list; s; s = s->next)
        if (s != ss && s->slabs_live == 0)
            empty++;
    if (empty >= reuse_spares)
        return 0;
    CNT(spares_kept, 1);
    return 1;
}

/* ---- configuration ------------------------------------------------------------------- */

void hak_ss_configure(void)
{
#if HAK_FEATURE_SUPERSLAB_CACHE
    long long cap = hak_cfg.superslab_lazy ? hak_cfg.superslab_lru_cap : 0;
    hak_ss_cache_cap = (unsigned)(cap < 0 ? 0 : cap);
    soft_cap = (unsigned)(hak_cfg.superslab_soft_cap < 0 ? 0 : hak_cfg.superslab_soft_cap);
    reuse_spares = hak_cfg.superslab_reuse ? 2 : 0;
#endif
#if HAK_FEATURE_POOL_ARENA
    arena_init_mb = (unsigned)hak_cfg.pool_tls_arena_mb_init;
    arena_max_mb = (unsigned)hak_cfg.pool_tls_arena_mb_max;
    if (arena_max_mb < arena_init_mb)
        arena_max_mb = arena_init_mb;
    arena_levels = (unsigned)hak_cfg.pool_tls_arena_growth_levels;
#endif
#if HAK_FEATURE_SUPERSLAB_CACHE
    /* Prewarm: map N SuperSlabs at start-up (one mmap) straight into the cache. */
    unsigned n = (unsigned)(hak_cfg.superslab_prewarm < 0 ? 0 : hak_cfg.superslab_prewarm);
    if (n > hak_ss_cache_cap)
        n = hak_ss_cache_cap;
    while (n) {
        hak_superslab_t *got[HAK_SS_BATCH_MAX];
        unsigned k = map_fresh(got, n > HAK_SS_BATCH_MAX ? HAK_SS_BATCH_MAX : n, 0);
        if (!k)
            break;
        pthread_mutex_lock(&cache_lock);
        for (unsigned i = 0; i < k; i++) {
            hak_superslab_t *ss = got[i];
            ss->cached_since = hak_now_ns();
            ss->cache_released = 1;    /* never touched: nothing resident to give back */
            cache_link(ss, 0);
        }
        pthread_mutex_unlock(&cache_lock);
        CNT(prewarmed, k);
        n -= k;
    }
#endif
}

/* ---- slabs --------------------------------------------------------------------------- */

/* Lowest run of `n` free units; multi-unit slabs skip unit 0 so their blocks stay aligned. */
static int find_run(uint32_t used, unsigned n)
{
    uint32_t mask = (n >= 32) ? 0xffffffffu : ((1u << n) - 1);
    for (unsigned u = (n > 1 ? n : 0); u + n <= HAK_UNITS; u += n) {
        if (!(used & (mask << u)))
            return (int)u;
    }
    return -1;
}

static uint32_t run_mask(unsigned u, unsigned n)
{
    return ((n >= 32) ? 0xffffffffu : ((1u << n) - 1)) << u;
}

hak_slab_t *hak_ss_slab_create(hak_superslab_t *ss, unsigned cls, int *cold_fit)
{
    unsigned n = hak_class_units(cls);
    ss_lock(ss);
    uint32_t taken = ss->units_used | ss->units_busy;
    int u = find_run(cold_fit ? taken | ~ss->units_dirty : taken, n);
    if (u < 0) {
        if (cold_fit)
            *cold_fit = find_run(taken, n) >= 0;
        ss_unlock(ss);
        return NULL;
    }
    uint32_t m = run_mask((unsigned)u, n);
    ss->units_used |= m;
    ss->units_dirty &= ~m;       /* reused while warm: nothing to give back */
    ss_unlock(ss);
    hak_slab_t *s = &ss->slabs[u];
    char *base = (char *)ss + ((uintptr_t)u << HAK_UNIT_SHIFT);
    size_t off = (u == 0) ? HAK_SS_HEADER : 0;
    memset(s, 0, sizeof *s);
    s->start = base + off;
    s->block_size = hak_class_size[cls];
    size_t span = (size_t)n * HAK_UNIT_SIZE - off - (u + n == HAK_UNITS ? HAK_SS_GUARD : 0);  /* last page: guard */
    s->capacity = (uint32_t)(span / s->block_size);
    s->cls = (uint16_t)cls;
    s->units = (uint8_t)n;
    for (unsigned i = 0; i < n; i++) {
        ss->unit_head[u + i] = (uint8_t)u;
        ss->unit_class[u + i] = (uint8_t)cls;
    }
    ss->slabs_live++;
    return s;
}

static void unit_range(hak_superslab_t *ss, unsigned u, unsigned n, hak_decay_range_t *r)
{
    size_t off = (size_t)u << HAK_UNIT_SHIFT, end = (size_t)(u + n) << HAK_UNIT_SHIFT;
    if (off == 0)
        off = HAK_SS_HEADER;
    r->addr = (uintptr_t)ss + off;
    r->len = end - off;
}

void hak_ss_slab_destroy(hak_superslab_t *ss, hak_slab_t *s)
{
    unsigned u = (unsigned)(s - ss->slabs), n = s->units;
    for (unsigned i = 0; i < n; i++)
        ss->unit_class[u + i] = HAK_NO_CLASS;
    uint32_t m = run_mask(u, n);
    ss->slabs_live--;
    s->capacity = 0;
    hak_decay_touch();
    if (!hak_decay_enabled()) {
        ss_lock(ss);
        ss->units_used &= ~m;
        ss_unlock(ss);
        return;
    }
    if (!hak_decay_deferred()) {
        /* immediate: the units are free and only this (owning) thread could claim them again */
        hak_decay_range_t r;
        unit_range(ss, u, n, &r);
        hak_decay_release((void *)r.addr, r.len);
        CNT(units_released, n);
        CNT(unit_bytes_released, r.len);
        ss_lock(ss);
        ss->units_used &= ~m;
        ss_unlock(ss);
        return;
    }
    ss_lock(ss);
    ss->units_used &= ~m;
    ss->units_dirty |= m;
    ss_unlock(ss);
    /* Queued even when the SuperSlab is now empty: if its heap destroys it next, hak_ss_destroy
     * takes it off the queue again; if the heap keeps it, its units wait for the decay pass. */
    hak_ss_queue_dirty(ss);
}

void hak_ss_queue_dirty(hak_superslab_t *ss)
{
    if (atomic_load_explicit(&ss->dq_linked, memory_order_relaxed))
        return;
    pthread_mutex_lock(&dq_lock);
    if (!atomic_load_explicit(&ss->dq_linked, memory_order_relaxed)) {
        dq_link_locked(ss);
        ss_lock(ss);
        ss->dirty_since = hak_now_ns();
        ss_unlock(ss);
        atomic_store_explicit(&ss->dq_linked, 1, memory_order_relaxed);
    }
    pthread_mutex_unlock(&dq_lock);
    hak_decay_kick();
}

/* ---- decay ----------------------------------------------------------------------------- */

/* Memory stamped at `since` still waits at `now`: younger than the delay, or stamped after the pass
 * read its clock. */
static int too_young(uint64_t now, uint64_t since, uint64_t decay_ns)
{
    return now - since < decay_ns || since > now;
}

size_t hak_ss_decay(uint64_t now, uint64_t decay_ns)
{
    enum { BATCH = 64 };
    hak_decay_range_t r[BATCH];
    size_t pending = 0;

    /* 1. cached SuperSlabs, oldest first; under the cache lock (acquiring a SuperSlab is rare) */
    hak_decay_range_t huge[BATCH];
    pthread_mutex_lock(&cache_lock);
    for (;;) {
        size_t n = 0, nh = 0;
        for (hak_superslab_t *ss = cache_tail; ss && n < BATCH; ss = ss->prev) {
            if (ss->cache_released)
                continue;
            if (too_young(now, ss->cached_since, decay_ns))
                continue;
            ss->cache_released = 1;
            cache_unreleased--;
            nh = withdraw_huge(ss, huge, nh);
            r[n].addr = (uintptr_t)ss + HAK_SS_HEADER;
            r[n].len = HAK_SS_SIZE - HAK_SS_HEADER;
            n++;
        }
        if (!n)
            break;
        hak_thp_withdraw(huge, nh);
        hak_decay_release_batch(r, n);
        CNT(decay_released, n);
        if (n < BATCH)
            break;
    }
    pending += cache_unreleased;
    pthread_mutex_unlock(&cache_lock);

    /* 2. free units of SuperSlabs in use */
    size_t nh = 0;
    pthread_mutex_lock(&dq_lock);
    hak_superslab_t *taken[BATCH];
    uint32_t masks[BATCH];
    size_t nt = 0, nr = 0;
    for (hak_superslab_t *ss = dq_head, *next; ss && nt < BATCH; ss = next) {
        next = ss->dq_next;
        if (!ss_trylock(ss)) {   /* its owner is carving it (or a fork left the lock taken): next pass */
            pending++;
            continue;
        }
        if (too_young(now, ss->dirty_since, decay_ns)) {
            ss_unlock(ss);
            pending++;
            continue;
        }
        uint32_t m = ss->units_dirty & ~ss->units_used & ~ss->units_busy;
        int mostly_free = __builtin_popcount(ss->units_used) <= HAK_UNITS / 2;
        ss->units_dirty = 0;
        ss->units_busy |= m;
        ss_unlock(ss);
        dq_unlink_locked(ss);
        if (!m)
            continue;
        /* A SuperSlab in use but mostly given back: khugepaged would fill it again, so its huge-page
         * advice goes (it returns when the SuperSlab is next reused from the cache). */
        if (mostly_free)
            nh = withdraw_huge(ss, huge, nh);
        taken[nt] = ss;
        masks[nt] = m;
        nt++;
        for (unsigned u = 0; u < HAK_UNITS;) {
            if (!(m >> u & 1)) {
                u++;
                continue;
            }
            unsigned e = u;
            while (e < HAK_UNITS && (m >> e & 1))
                e++;
            if (nr == BATCH) {
                hak_decay_release_batch(r, nr);
                nr = 0;
            }
            unit_range(ss, u, e - u, &r[nr++]);
            CNT(units_released, e - u);
            CNT(unit_bytes_released, r[nr - 1].len);
            u = e;
        }
    }
    hak_thp_withdraw(huge, nh);
    if (nr)
        hak_decay_release_batch(r, nr);
    for (size_t i = 0; i < nt; i++) {
        ss_lock(taken[i]);
        taken[i]->units_busy &= ~masks[i];
        ss_unlock(taken[i]);
    }
    if (dq_head && nt == BATCH)
        pending++;
    pthread_mutex_unlock(&dq_lock);
    return pending;
}

size_t hak_ss_stats_json(char *buf, size_t len)
{
    pthread_mutex_lock(&cache_lock);
    size_t cached = cache_count, unrel = cache_unreleased;
    pthread_mutex_unlock(&cache_lock);
    pthread_mutex_lock(&dq_lock);
    size_t dq = dq_count;
    pthread_mutex_unlock(&dq_lock);
#define G(f) (unsigned long long)atomic_load_explicit(&st.f, memory_order_relaxed)
    int n = snprintf(buf, len,
                     "\"superslab\":{\"live\":%zu,\"cache_cap\":%u,\"soft_cap\":%u,\"reuse_spares\":%d,\"cached\":%zu,"
                     "\"cached_unreleased\":%zu,\"dirty_queued\":%zu,\"mapped\":%llu,\"batch_maps\":%llu,"
                     "\"cache_puts\":%llu,\"cache_hits\":%llu,\"evicted\":%llu,\"soft_released\":%llu,"
                     "\"decay_released\":%llu,\"immediate_released\":%llu,\"units_released\":%llu,"
                     "\"unit_bytes_released\":%llu,\"prewarmed\":%llu,\"spares_kept\":%llu,\"free_storms\":%llu,"
                     "\"arena\":{\"init_mb\":%u,\"max_mb\":%u,\"levels\":%u,\"reservations\":%llu,"
                     "\"extra_superslabs\":%llu,\"level_max\":%llu}}",
                     hak_ss_live_count(), hak_ss_cache_cap, soft_cap, reuse_spares, cached, unrel, dq, G(mapped), G(batch_maps),
                     G(cache_puts), G(cache_hits), G(evicted), G(soft_released), G(decay_released),
                     G(immediate_released), G(units_released), G(unit_bytes_released), G(prewarmed),
                     G(spares_kept), (unsigned long long)atomic_load(&hak_storm_count), arena_init_mb, arena_max_mb,
                     arena_levels, G(arena_reservations), G(arena_superslabs), G(arena_level_max));
#undef G
    return n < 0 ? 0 : (size_t)n < len ? (size_t)n : len - 1;
}

int hak_ss_is_block_start(hak_superslab_t *ss, const void *p)
{
    unsigned u = hak_ss_unit(p);
    if (ss->unit_class[u] == HAK_NO_CLASS)
        return 0;
    hak_slab_t *s = &ss->slabs[ss->unit_head[u]];
    uintptr_t off = (uintptr_t)p - (uintptr_t)s->start;
    if ((uintptr_t)p < (uintptr_t)s->start || off % s->block_size)
        return 0;
    return off / s->block_size < s->carved_max;
}

void hak_ss_fork_lock(void)
{
    pthread_mutex_lock(&dq_lock);
    pthread_mutex_lock(&cache_lock);
}
void hak_ss_fork_unlock(void)
{
    pthread_mutex_unlock(&cache_lock);
    pthread_mutex_unlock(&dq_lock);
}
void hak_ss_fork_child(void)
{
    hak_ss_fork_unlock();
}
