/* stash.c — the per-thread large-block stash (see stash.h). */
#define _GNU_SOURCE
#include "stash.h"
#include "bigcache.h"
#include "common.h"
#include "decay.h"
#include "heap.h"
#include "init.h"
#include "os.h"

static int enabled;
static size_t max_bytes, max_block;   /* the BigCache's caps (fixed at start-up): stashes count too */
static _Atomic size_t stashed;        /* bytes in all stashes */

/* A stash word is the block's address and its size in pages together: the address is page-aligned
 * and below 2^47, which leaves the low 12 bits and the top 17 for the page count (blocks up to
 * 2 TiB). Nothing about the block is kept inside it, so a program writing to a block after freeing
 * it cannot make us unmap anything but that block. */
#define ADDR_MASK (((uintptr_t)1 << 47) - HAK_PAGE)
#define MAX_STASHED (((size_t)1 << 29) * HAK_PAGE - HAK_PAGE)

static uintptr_t pack(uintptr_t base, size_t size)
{
    size_t pages = size / HAK_PAGE;
    return base | (pages & 0xfff) | (uintptr_t)(pages >> 12) << 47;
}
static uintptr_t word_base(uintptr_t w) { return w & ADDR_MASK; }
static size_t word_size(uintptr_t w) { return ((w >> 47) << 12 | (w & 0xfff)) * HAK_PAGE; }

void hak_stash_configure(void)
{
#if HAK_FEATURE_BIGCACHE
    hak_bigcache_caps(&max_bytes, &max_block);
    if (max_block > MAX_STASHED)
        max_block = MAX_STASHED;
    enabled = hak_decay_deferred() && max_bytes >= HAK_PAGE && max_block >= HAK_PAGE;
#endif
}

size_t hak_stash_bytes(void)
{
    return atomic_load_explicit(&stashed, memory_order_relaxed);
}

/* A block leaves a stash for the BigCache; when that will not take it, it is unmapped. */
static void to_bigcache(uintptr_t w)
{
    void *b = (void *)word_base(w);
    size_t size = word_size(w);
    atomic_fetch_sub_explicit(&stashed, size, memory_order_relaxed);
    if (!hak_bigcache_put(b, size))
        hak_os_unmap(b, size);
}

/* The requests the stashed block may serve, by the BigCache's rule as it stands now (owner only).
 * Out of line: it runs when the size or the policy changes, and inlined it would cost the common
 * path of take and put a stack frame. */
HAK_NOINLINE static void set_range(hak_heap_t *h, size_t size, uint32_t policy)
{
    hak_bigcache_serve_range(size, &h->stash_lo, &h->stash_hi);
    h->stash_size = size;
    h->stash_policy = policy;
}

/* lo <= n <= hi in one compare */
static inline int serves(const hak_heap_t *h, size_t n)
{
    return n - h->stash_lo <= h->stash_hi - h->stash_lo;
}

/* The stashed block, if the decay pass has not just taken it. */
static inline void *take_block(hak_heap_t *h, size_t *size)
{
    uintptr_t w = atomic_exchange_explicit(&h->stash, 0, memory_order_acquire);
    if (!w)
        return NULL;
    *size = word_size(w);
    atomic_fetch_sub_explicit(&stashed, *size, memory_order_relaxed);
    hak_decay_touch();
    hak_counter_add(&h->st.stash_hits, 1);
    return (void *)word_base(w);
}

/* A learner moved W_MAX or the strategy since the block was put: its range first. */
HAK_NOINLINE static void *take_after_policy_change(hak_heap_t *h, size_t n, size_t *size, uint32_t policy)
{
    set_range(h, h->stash_size, policy);
    return serves(h, n) ? take_block(h, size) : NULL;
}

void *hak_stash_take(size_t n, size_t *size)
{
    hak_tls_t *t = &hak_tls;
    if (!enabled || t->state != HAK_TLS_ACTIVE)
        return NULL;
    hak_heap_t *h = t->heap;
    if (!atomic_load_explicit(&h->stash, memory_order_relaxed))
        return NULL;
    uint32_t policy = hak_bigcache_policy_version();
    if (HAK_UNLIKELY(policy != h->stash_policy))
        return take_after_policy_change(h, n, size, policy);
    return serves(h, n) ? take_block(h, size) : NULL;
}

int hak_stash_put(void *base, size_t size)
{
    if (!enabled || size > max_block || ((uintptr_t)base & ~ADDR_MASK))
        return 0;
    hak_tls_t *t = &hak_tls;
    if (t->state != HAK_TLS_ACTIVE && !hak_thread_attach())
        return 0;
    size_t total = atomic_fetch_add_explicit(&stashed, size, memory_order_relaxed) + size;
    if (total > max_bytes) {
        atomic_fetch_sub_explicit(&stashed, size, memory_order_relaxed);   /* the stashes alone fill the cap */
        return 0;
    }
    hak_heap_t *h = t->heap;
    uint32_t policy = hak_bigcache_policy_version();
    if (HAK_UNLIKELY(size != h->stash_size || policy != h->stash_policy))   /* same size: same range */
        set_range(h, size, policy);
    /* the generation moves first, so a decay pass never finds this block under an idle generation */
    atomic_store_explicit(&h->stash_gen, atomic_load_explicit(&h->stash_gen, memory_order_relaxed) + 1,
                          memory_order_relaxed);
    uintptr_t old = atomic_exchange_explicit(&h->stash, pack((uintptr_t)base, size), memory_order_acq_rel);
    hak_decay_touch();
    hak_counter_add(&h->st.stash_puts, 1);
    if (old)
        to_bigcache(old);    /* kicks the decay thread itself */
    else
        hak_decay_kick();    /* a stashed block waits for release too */
    if (total + hak_bigcache_cached_bytes() > max_bytes)
        hak_bigcache_make_room();
    return 1;
}

void hak_stash_drop(hak_heap_t *h)
{
    uintptr_t w = atomic_exchange_explicit(&h->stash, 0, memory_order_acquire);
    if (w)
        to_bigcache(w);
}

size_t hak_stash_decay(int all)
{
    enum { BATCH = 64 };
    uintptr_t taken[BATCH];
    size_t waiting = 0;
    if (!enabled)
        return 0;
    hak_heap_lock();
    /* Heaps are never freed and their list only grows at the head, so the walk may pause (lock
     * dropped) to hand a full batch over and go on from where it was. */
    for (hak_heap_t *h = hak_heap_first(); h;) {
        size_t n = 0;
        for (; h && n < BATCH; h = h->next_all) {
            if (!atomic_load_explicit(&h->stash, memory_order_relaxed))
                continue;
            uint32_t gen = atomic_load_explicit(&h->stash_gen, memory_order_relaxed);
            /* idle: nothing put since the previous pass looked (stash_seen is only touched under the lock) */
            if (all || gen == h->stash_seen) {
                uintptr_t w = atomic_exchange_explicit(&h->stash, 0, memory_order_acquire);
                if (w)
                    taken[n++] = w;
            } else {
                waiting++;
            }
            h->stash_seen = gen;
        }
        if (!n)
            break;
        hak_heap_unlock();
        for (size_t i = 0; i < n; i++)
            to_bigcache(taken[i]);
        hak_heap_lock();
    }
    hak_heap_unlock();
    return waiting;
}

void hak_stash_counts(uint64_t *hits, uint64_t *puts)
{
    *hits = *puts = 0;
    hak_heap_lock();
    for (hak_heap_t *h = hak_heap_first(); h; h = h->next_all) {
        *hits += hak_counter_get(&h->st.stash_hits);
        *puts += hak_counter_get(&h->st.stash_puts);
    }
    hak_heap_unlock();
}
