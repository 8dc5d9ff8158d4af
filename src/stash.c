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

void hak_stash_configure(void)
{
#if HAK_FEATURE_BIGCACHE
    hak_bigcache_caps(&max_bytes, &max_block);
    enabled = hak_decay_deferred() && max_bytes >= HAK_PAGE && max_block >= HAK_PAGE;
#endif
}

size_t hak_stash_bytes(void)
{
    return atomic_load_explicit(&stashed, memory_order_relaxed);
}

/* A block leaves a stash for the BigCache; when that will not take it, it is unmapped. */
static void to_bigcache(uintptr_t b)
{
    size_t size = *(size_t *)b;    /* written by hak_stash_put; the block is ours alone now */
    atomic_fetch_sub_explicit(&stashed, size, memory_order_relaxed);
    if (!hak_bigcache_put((void *)b, size))
        hak_os_unmap((void *)b, size);
}

void *hak_stash_take(size_t n, size_t *size)
{
    hak_tls_t *t = &hak_tls;
    if (!enabled || t->state != HAK_TLS_ACTIVE)
        return NULL;
    hak_heap_t *h = t->heap;
    if (n - h->stash_lo > h->stash_hi - h->stash_lo || !atomic_load_explicit(&h->stash, memory_order_relaxed))
        return NULL;    /* (one compare for lo <= n <= hi) */
    /* Only this thread puts blocks here: whatever the exchange returns is the block of stash_size. */
    uintptr_t b = atomic_exchange_explicit(&h->stash, 0, memory_order_acquire);
    if (!b)
        return NULL;   /* the decay pass took it a moment ago */
    atomic_fetch_sub_explicit(&stashed, h->stash_size, memory_order_relaxed);
    hak_decay_touch();
    hak_counter_add(&h->st.stash_hits, 1);
    *size = h->stash_size;
    return (void *)b;
}

int hak_stash_put(void *base, size_t size)
{
    if (!enabled || size > max_block)
        return 0;
    hak_tls_t *t = &hak_tls;
    if (t->state != HAK_TLS_ACTIVE && !hak_thread_attach())
        return 0;
    if (atomic_fetch_add_explicit(&stashed, size, memory_order_relaxed) + size > max_bytes) {
        atomic_fetch_sub_explicit(&stashed, size, memory_order_relaxed);   /* over the byte cap */
        return 0;
    }
    hak_heap_t *h = t->heap;
    *(size_t *)base = size;
    uint32_t policy = hak_bigcache_policy_version();
    if (size != h->stash_size || policy != h->stash_policy) {    /* the same size again: same range */
        hak_bigcache_serve_range(size, &h->stash_lo, &h->stash_hi);
        h->stash_size = size;
        h->stash_policy = policy;
    }
    uintptr_t old = atomic_exchange_explicit(&h->stash, (uintptr_t)base, memory_order_acq_rel);
    atomic_store_explicit(&h->stash_gen, atomic_load_explicit(&h->stash_gen, memory_order_relaxed) + 1,
                          memory_order_relaxed);
    hak_decay_touch();
    hak_counter_add(&h->st.stash_puts, 1);
    if (old)
        to_bigcache(old);    /* kicks the decay thread itself */
    else
        hak_decay_kick();    /* a stashed block waits for release too */
    return 1;
}

void hak_stash_drop(hak_heap_t *h)
{
    uintptr_t b = atomic_exchange_explicit(&h->stash, 0, memory_order_acquire);
    if (b)
        to_bigcache(b);
}

size_t hak_stash_decay(int all)
{
    enum { BATCH = 64 };
    uintptr_t taken[BATCH];
    size_t n = 0, waiting = 0;
    if (!enabled)
        return 0;
    hak_heap_lock();
    for (hak_heap_t *h = hak_heap_first(); h; h = h->next_all) {
        if (!atomic_load_explicit(&h->stash, memory_order_relaxed))
            continue;
        uint32_t gen = atomic_load_explicit(&h->stash_gen, memory_order_relaxed);
        /* idle: nothing put since the previous pass looked (stash_seen is only touched under the lock) */
        if ((all || gen == h->stash_seen) && n < BATCH) {
            uintptr_t b = atomic_exchange_explicit(&h->stash, 0, memory_order_acquire);
            if (b)
                taken[n++] = b;
        } else {
            waiting++;
        }
        h->stash_seen = gen;
    }
    hak_heap_unlock();
    for (size_t i = 0; i < n; i++)
        to_bigcache(taken[i]);
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
