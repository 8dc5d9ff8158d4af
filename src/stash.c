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
/* The BigCache's caps (stashes count too); atomics because mallopt may change them at run time.
 * The block cap is 0 while the stash is off, so a put needs one test. */
static _Atomic size_t max_bytes_, max_block_;
static size_t cap_bytes(void) { return atomic_load_explicit(&max_bytes_, memory_order_relaxed); }
static size_t cap_block(void) { return atomic_load_explicit(&max_block_, memory_order_relaxed); }
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
    size_t bytes, block;
    hak_bigcache_caps(&bytes, &block);
    enabled = hak_decay_deferred() && bytes >= HAK_PAGE && block >= HAK_PAGE;
    hak_stash_recap();
#endif
}

void hak_stash_recap(void)
{
#if HAK_FEATURE_BIGCACHE
    size_t bytes, block;
    hak_bigcache_caps(&bytes, &block);
    atomic_store_explicit(&max_bytes_, bytes, memory_order_relaxed);
    atomic_store_explicit(&max_block_, !enabled ? 0 : block < MAX_STASHED ? block : MAX_STASHED,
                          memory_order_relaxed);
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
    *size = word_size(w);       /* not h->stash_size: a signal handler's put may have changed it since */
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

/* A block another thread handed back to this heap that may serve n bytes (the BigCache's rule). */
HAK_NOINLINE static void *take_inbound(hak_heap_t *h, size_t n, size_t *size)
{
    for (unsigned i = 0; i < HAK_STASH_INBOUND; i++) {
        uintptr_t w = atomic_load_explicit(&h->inbound[i], memory_order_relaxed);
        if (!w)
            continue;
        size_t lo, hi;
        hak_bigcache_serve_range(word_size(w), &lo, &hi);
        if (n - lo > hi - lo || !atomic_compare_exchange_strong_explicit(&h->inbound[i], &w, 0,
                                                                         memory_order_acquire,
                                                                         memory_order_relaxed))
            continue;   /* does not fit, or the decay pass took it first */
        *size = word_size(w);
        atomic_fetch_sub_explicit(&stashed, *size, memory_order_relaxed);
        hak_decay_touch();
        hak_counter_add(&h->st.stash_hits, 1);
        return (void *)word_base(w);
    }
    return NULL;
}

void *hak_stash_take(hak_heap_t *h, size_t n, size_t *size)
{
    if (!atomic_load_explicit(&h->stash, memory_order_relaxed))
        return enabled ? take_inbound(h, n, size) : NULL;
    uint32_t policy = hak_bigcache_policy_version();
    if (HAK_UNLIKELY(policy != h->stash_policy))
        return take_after_policy_change(h, n, size, policy);
    return serves(h, n) ? take_block(h, size) : take_inbound(h, n, size);
}

/* Count a block into the stashes' share of the byte cap: 0 when that would overflow it. */
static size_t reserve(size_t size)
{
    size_t total = atomic_fetch_add_explicit(&stashed, size, memory_order_relaxed) + size;
    if (total > cap_bytes()) {
        atomic_fetch_sub_explicit(&stashed, size, memory_order_relaxed);
        return 0;
    }
    return total;
}

int hak_stash_hand_back(unsigned owner, void *base, size_t size)
{
    hak_tls_t *t = hak_thread;
    if (!enabled || !owner || owner >= HAK_HEAP_IDS || size > cap_block() || ((uintptr_t)base & ~ADDR_MASK) ||
        t->state != HAK_TLS_ACTIVE || t->heap_id == owner)
        return 0;
    hak_heap_t *o = atomic_load_explicit(&hak_heap_by_id[owner], memory_order_acquire);
    if (!o || !reserve(size))
        return 0;
    atomic_fetch_add_explicit(&o->inbound_gen, 1, memory_order_relaxed);   /* first, as in hak_stash_put */
    uintptr_t w = pack((uintptr_t)base, size);
    for (unsigned i = 0; i < HAK_STASH_INBOUND; i++) {
        uintptr_t empty = 0;
        if (atomic_load_explicit(&o->inbound[i], memory_order_relaxed) == 0 &&
            atomic_compare_exchange_strong_explicit(&o->inbound[i], &empty, w, memory_order_release,
                                                    memory_order_relaxed)) {
            hak_decay_touch();
            hak_counter_add(&t->heap->st.stash_handbacks, 1);
            hak_decay_kick();
            return 1;
        }
    }
    atomic_fetch_sub_explicit(&stashed, size, memory_order_relaxed);   /* every slot taken */
    return 0;
}

int hak_stash_put(hak_heap_t *h, void *base, size_t size)
{
    if (size > cap_block() || ((uintptr_t)base & ~ADDR_MASK))
        return 0;
    size_t total = reserve(size);
    if (!total)
        return 0;     /* the stashes alone fill the cap */
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
    if (total + hak_bigcache_cached_bytes() > cap_bytes())
        hak_bigcache_make_room();
    return 1;
}

void hak_stash_drop(hak_heap_t *h)
{
    uintptr_t w = atomic_exchange_explicit(&h->stash, 0, memory_order_acquire);
    if (w)
        to_bigcache(w);
    for (unsigned i = 0; i < HAK_STASH_INBOUND; i++)
        if ((w = atomic_exchange_explicit(&h->inbound[i], 0, memory_order_acquire)) != 0)
            to_bigcache(w);
}

/* The blocks of `count` stash words, when nothing was put since the previous pass looked (`seen` is
 * only touched under the registry lock) or `all`; words left behind add to *waiting. */
static size_t take_idle(_Atomic uintptr_t *words, unsigned count, _Atomic uint32_t *gen_word, uint32_t *seen,
                        int all, uintptr_t *out, size_t *waiting)
{
    size_t n = 0;
    uint32_t gen = atomic_load_explicit(gen_word, memory_order_relaxed);
    int idle = all || gen == *seen;
    for (unsigned i = 0; i < count; i++) {
        if (!atomic_load_explicit(&words[i], memory_order_relaxed))
            continue;
        uintptr_t w = idle ? atomic_exchange_explicit(&words[i], 0, memory_order_acquire) : 0;
        if (w)
            out[n++] = w;
        else if (!idle)
            (*waiting)++;
    }
    *seen = gen;
    return n;
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
        for (; h && n + 1 + HAK_STASH_INBOUND <= BATCH; h = h->next_all) {
            n += take_idle(&h->stash, 1, &h->stash_gen, &h->stash_seen, all, taken + n, &waiting);
            n += take_idle(h->inbound, HAK_STASH_INBOUND, &h->inbound_gen, &h->inbound_seen, all, taken + n,
                           &waiting);
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

void hak_stash_counts(uint64_t *hits, uint64_t *puts, uint64_t *handbacks)
{
    *hits = *puts = *handbacks = 0;
    hak_heap_lock();
    for (hak_heap_t *h = hak_heap_first(); h; h = h->next_all) {
        *hits += hak_counter_get(&h->st.stash_hits);
        *puts += hak_counter_get(&h->st.stash_puts);
        *handbacks += hak_counter_get(&h->st.stash_handbacks);
    }
    hak_heap_unlock();
}
