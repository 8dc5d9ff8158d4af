/* large.c — mmap-backed large blocks. The radix map, not the block, holds the metadata, so a stray pointer
 * is recognised as not ours without ever being dereferenced. Freed blocks go to the thread's stash
 * and the BigCache (when the mode has it) and new ones come from them first; fresh mappings follow the
 * THP policy. */
#define _GNU_SOURCE
#include "large.h"
#include "bigcache.h"
#include "common.h"
#include "decay.h"
#include "learn/learn.h"
#include "heap.h"
#include "hardened/hardened.h"
#include "init.h"
#include "os.h"
#include "stash.h"
#include "stats.h"
#include "thp.h"
#include "tuning.h"

#include <errno.h>
#include <string.h>

/* Where the live large blocks are: each block's mapping size under its first page, in a two-level
 * radix map over the 47-bit address space (a root of 2^19 leaves in .bss; a leaf covers 256 MiB with
 * 2^16 entries and is mapped on first use). Only the pages of the map that hold entries are ever
 * touched. Nothing here takes a lock: an allocation stores its entry, and a free claims it with one
 * exchange, so of two frees of one block exactly one finds it live. */
#define LM_PAGE_SHIFT 12
#define LM_LEAF_BITS 16
#define LM_ROOT_BITS (47 - LM_PAGE_SHIFT - LM_LEAF_BITS)
#define LM_LEAF_BYTES (sizeof(_Atomic size_t) << LM_LEAF_BITS)

static _Atomic(_Atomic size_t *) lm_root[(size_t)1 << LM_ROOT_BITS];
/* Live large blocks are counted per heap (no cache line shared between threads); only threads without
 * a heap (starting or exiting) count here. The totals are sums, exact modulo 2^64. */
static _Atomic uint64_t n_allocs, n_frees;
static _Atomic size_t in_use;

/* An entry is the mapping size (a multiple of the page) with, in its low bits, the id of the allocating
 * thread's heap (0: none), so a free by another thread can hand the block back to that thread, and
 * whether the block lies between guard pages (hardened/guard.c). */
#define LM_GUARDED ((size_t)1 << 11)
#define LM_OWNER_MASK (LM_GUARDED - 1)
_Static_assert(HAK_HEAP_IDS <= LM_GUARDED, "heap ids must fit an entry's spare bits");
static size_t entry_map(size_t v) { return v & ~((size_t)HAK_PAGE - 1); }
static unsigned entry_owner(size_t v) { return (unsigned)(v & LM_OWNER_MASK); }
static int entry_guarded(size_t v) { return (v & LM_GUARDED) != 0; }

/* The calling thread's cache, fetched once per operation; a thread whose first request is a large
 * block gets its heap here. NULL when it has none (exiting, or start-up not finished). */
static inline hak_tls_t *attached(void)
{
    hak_tls_t *t = hak_thread;
    if (HAK_LIKELY(t->state == HAK_TLS_ACTIVE))
        return t;
    return t->state == HAK_TLS_FRESH ? hak_thread_attach() : NULL;
}

/* A new leaf for slot (another thread may install one first), or NULL when it cannot be mapped. */
HAK_COLD static _Atomic size_t *leaf_create(_Atomic(_Atomic size_t *) *slot)
{
    _Atomic size_t *leaf = NULL, *fresh = hak_os_map(LM_LEAF_BYTES);
    if (!fresh)
        return NULL;
    if (atomic_compare_exchange_strong_explicit(slot, &leaf, fresh, memory_order_acq_rel, memory_order_acquire))
        return fresh;
    hak_os_unmap(fresh, LM_LEAF_BYTES);   /* another thread installed one first */
    return leaf;
}

/* The entry of the block starting at p, or NULL (p not page-aligned, outside the map, or no leaf
 * there and create == 0; or the leaf could not be mapped). Inline: every large malloc and free
 * looks one up. */
static inline __attribute__((always_inline)) _Atomic size_t *entry(uintptr_t p, int create)
{
    uintptr_t page = p >> LM_PAGE_SHIFT;
    if ((p & (HAK_PAGE - 1)) || (page >> LM_LEAF_BITS) >= ((uintptr_t)1 << LM_ROOT_BITS))
        return NULL;
    _Atomic(_Atomic size_t *) *slot = &lm_root[page >> LM_LEAF_BITS];
    _Atomic size_t *leaf = atomic_load_explicit(slot, memory_order_acquire);
    if (HAK_UNLIKELY(!leaf)) {
        if (!create || !(leaf = leaf_create(slot)))
            return NULL;
    }
    return &leaf[page & (((uintptr_t)1 << LM_LEAF_BITS) - 1)];
}

/* For threads without a heap: one shared count. */
HAK_COLD static void count_shared(int sign, uint64_t bytes)
{
    if (sign)
        atomic_fetch_add_explicit(sign > 0 ? &n_allocs : &n_frees, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&in_use, bytes, memory_order_relaxed);
}

/* sign: +1 a new block, -1 a freed one, 0 a resized one; bytes: the change in mapped bytes, mod 2^64;
 * t: the calling thread's cache, NULL when it has none. */
static inline __attribute__((always_inline)) void count_live(hak_tls_t *t, int sign, uint64_t bytes)
{
    if (HAK_UNLIKELY(!t)) {
        count_shared(sign, bytes);
        return;
    }
    hak_heap_stats_t *st = &t->heap->st;
    if (sign)
        hak_counter_add(sign > 0 ? &st->large_allocs : &st->large_frees, 1);
    hak_counter_add(&st->large_bytes, bytes);
}

static size_t round_page(size_t n)
{
    return (n + HAK_PAGE - 1) & ~(size_t)(HAK_PAGE - 1);
}

/* guard_pages, quarantine (hardened/guard.c): mappings of their own between guard pages, held
 * inaccessible for a while when freed. */
#define LARGE_GUARDED (HAK_FEATURE_GUARD_PAGES || HAK_FEATURE_QUARANTINE)

#if HAK_FEATURE_BIGCACHE && !LARGE_GUARDED
/* A freed block that may serve n bytes: the thread's last one (no lock), else one from the BigCache;
 * with preview, ELO's trials first see what each strategy would serve from the BigCache. */
static inline __attribute__((always_inline)) void *reuse(hak_tls_t *t, size_t n, size_t *got, int *zeroed,
                                                         int preview)
{
    void *p = t ? hak_stash_take(t->heap, n, got) : NULL;
    if (p)
        return p;
#if HAK_FEATURE_ELO
    if (preview)
        hak_learn_large_preview(n);
#else
    (void)preview;
#endif
    return hak_bigcache_get(n, got, zeroed);
}
#endif

/* A block for n bytes: from the thread's stash or the BigCache when one fits, else a fresh mapping
 * (*zeroed = 1: reads as zero). guarded (hardened): from guard.c, never from the BigCache. */
static char *obtain(hak_tls_t *t, size_t n, size_t align, size_t *map_out, int *zeroed, int *guarded)
{
    (void)t;
    size_t a = align < HAK_PAGE ? HAK_PAGE : align;
    *guarded = 0;
#if LARGE_GUARDED
    size_t map;
    hak_stats_poll();
    char *base = hak_guard_large_take(round_page(n ? n : 1), a, &map, zeroed, guarded);
#else
#if HAK_FEATURE_BIGCACHE
    if (align <= HAK_PAGE) {
        size_t got;
        void *p;
#if HAK_FEATURE_MEM_LEARN || HAK_FEATURE_ELO
        if (HAK_UNLIKELY(hak_tune.learn_large)) {     /* W_MAX trials, ELO */
            p = reuse(t, n ? n : 1, &got, zeroed, 1);
            hak_learn_large_event(n, p ? got : 0, p != NULL);
        } else
#endif
            p = reuse(t, n ? n : 1, &got, zeroed, 0);
        if (p) {
            *map_out = got;
            return p;
        }
    }
    size_t map = hak_bigcache_round(n ? n : 1);
#else
    size_t map = round_page(n ? n : 1);
#endif
    hak_stats_poll();
    size_t ta = hak_thp_large_align(map);
    if (ta > a)
        a = ta;
    char *base = hak_os_map_aligned(map, a);
    if (base)
        hak_thp_large(base, map);
    *zeroed = 1;
#endif
    if (!base)
        return NULL;
    *map_out = map;
    return base;
}

static inline __attribute__((always_inline)) void give_back(hak_tls_t *t, uintptr_t base, size_t map, unsigned owner, int guarded)
{
    (void)t;
#if LARGE_GUARDED
    (void)owner;
    hak_guard_large_release((void *)base, map, guarded);
#else
    (void)guarded;
#if HAK_FEATURE_BIGCACHE
    hak_decay_safe_point = 1;     /* no lock held: the decay thread may be started from here */
    int kept = (t && owner != t->heap_id && hak_stash_hand_back(owner, (void *)base, map)) ||
               (t && hak_stash_put(t->heap, (void *)base, map)) || hak_bigcache_put((void *)base, map);
    hak_decay_safe_point = 0;
    if (kept)
        return;
#endif
    (void)owner;
    hak_os_unmap((void *)base, map);
#endif
}

static void *large_alloc(size_t n, size_t align, int zero)
{
    if (n > PTRDIFF_MAX - ((size_t)2 << 20) || align > ((size_t)1 << 40)) {
        errno = ENOMEM;
        return NULL;
    }
    size_t map;
    int zeroed = 0, guarded;
    hak_tls_t *t = attached();
    char *base = obtain(t, n, align, &map, &zeroed, &guarded);
    if (!base)
        return NULL;
    if (zero && !zeroed)
        memset(base, 0, n);       /* a reused block; fresh or DONTNEED-released pages are zero already */
    _Atomic size_t *e = entry((uintptr_t)base, 1);
    if (HAK_UNLIKELY(!e)) {
        give_back(t, (uintptr_t)base, map, 0, guarded);
        errno = ENOMEM;
        return NULL;
    }
    atomic_store_explicit(e, map | (guarded ? LM_GUARDED : 0) | (t ? t->heap_id : 0), memory_order_release);
    count_live(t, 1, map);
    return base;
}

void *hak_large_alloc(size_t n, size_t align) { return large_alloc(n, align, 0); }
void *hak_large_calloc(size_t n) { return large_alloc(n, 0, 1); }

size_t hak_large_trim(void)
{
#if HAK_FEATURE_BIGCACHE
    hak_stash_decay(1);
    return hak_bigcache_flush();
#else
    return 0;
#endif
}

int hak_large_free(void *p)
{
    _Atomic size_t *e = entry((uintptr_t)p, 0);
    size_t v = e ? atomic_exchange_explicit(e, 0, memory_order_acq_rel) : 0;
    if (!v)
        return 0;
    hak_tls_t *t = attached();
    count_live(t, -1, -(uint64_t)entry_map(v));
    give_back(t, (uintptr_t)p, entry_map(v), entry_owner(v), entry_guarded(v));
    return 1;
}

#if HAK_FEATURE_GUARD_PAGES
int hak_large_guarded(uintptr_t addr, void **block, size_t *size)
{
    uintptr_t page = addr & ~(uintptr_t)(HAK_PAGE - 1);
    _Atomic size_t *e = entry(page + HAK_PAGE, 0);      /* the guard below a block */
    size_t v = e ? entry_map(atomic_load_explicit(e, memory_order_acquire)) : 0;
    if (v) {
        *block = (void *)(page + HAK_PAGE);
        *size = v;
        return -1;
    }
    /* the guard above a block: walk down to its start (a fault report, not a hot path; 1 GiB at most) */
    for (uintptr_t q = page - HAK_PAGE, steps = 0; q && steps < ((uintptr_t)1 << 18); q -= HAK_PAGE, steps++) {
        e = entry(q, 0);
        v = e ? entry_map(atomic_load_explicit(e, memory_order_acquire)) : 0;
        if (v) {
            if (q + v != page)
                return 0;
            *block = (void *)q;
            *size = v;
            return 1;
        }
    }
    return 0;
}
#endif

size_t hak_large_usable(const void *p)
{
    _Atomic size_t *e = entry((uintptr_t)p, 0);
    return e ? entry_map(atomic_load_explicit(e, memory_order_acquire)) : 0;
}

/* The program owns p until it frees it, so nothing else writes p's entry meanwhile. A block that cannot
 * grow in place moves onto a fresh mapping whose entry is made first: a failure anywhere leaves p as
 * it was (NULL: the caller copies). */
void *hak_large_resize(void *p, size_t n)
{
#if LARGE_GUARDED
    (void)p, (void)n;
    return NULL;           /* the guard pages stay where they are: the caller copies into a new block */
#endif
    if (n > PTRDIFF_MAX - ((size_t)2 << 20)) {
        errno = ENOMEM;
        return NULL;
    }
    size_t want = round_page(n ? n : 1);
    _Atomic size_t *e = entry((uintptr_t)p, 0);
    size_t v = e ? atomic_load_explicit(e, memory_order_acquire) : 0, old = entry_map(v);
    if (!old)
        return NULL;
    void *q = p;
    if (want < old) {
        hak_os_unmap((char *)p + want, old - want);
    } else if (want > old && !hak_os_remap(p, old, want, NULL)) {
        void *dest = hak_os_map(want);
        _Atomic size_t *de = dest ? entry((uintptr_t)dest, 1) : NULL;
        if (!de) {
            if (dest)
                hak_os_unmap(dest, want);
            return NULL;
        }
        /* p's entry goes first: once the pages have moved, another thread may map p's range anew */
        atomic_store_explicit(e, 0, memory_order_relaxed);
        if (!hak_os_remap(p, old, want, dest)) {     /* the pages move, not a byte is copied */
            /* Some kernels unmap dest before they find the move impossible (p spans several
             * mappings after an mprotect, say), and by now another thread may have mapped that
             * range: it is left alone, reserved or not, rather than unmapped blindly. */
            atomic_store_explicit(e, v, memory_order_relaxed);
            return NULL;
        }
        q = dest;
        e = de;
    }
    atomic_store_explicit(e, want | entry_owner(v), memory_order_release);
    hak_tls_t *t = hak_thread;
    count_live(t->state == HAK_TLS_ACTIVE ? t : NULL, 0, want - old);
    return q;
}

/* The sums over heaps, plus what threads without one counted. */
static void totals(uint64_t *allocs, uint64_t *frees, uint64_t *bytes)
{
    *allocs = atomic_load_explicit(&n_allocs, memory_order_relaxed);
    *frees = atomic_load_explicit(&n_frees, memory_order_relaxed);
    *bytes = atomic_load_explicit(&in_use, memory_order_relaxed);
    hak_heap_lock();
    for (hak_heap_t *h = hak_heap_first(); h; h = h->next_all) {
        *allocs += hak_counter_get(&h->st.large_allocs);
        *frees += hak_counter_get(&h->st.large_frees);
        *bytes += hak_counter_get(&h->st.large_bytes);
    }
    hak_heap_unlock();
}

size_t hak_large_in_use(void)
{
    uint64_t allocs, frees, bytes;
    totals(&allocs, &frees, &bytes);
    return (size_t)bytes;
}

void hak_large_counts(uint64_t *allocs, uint64_t *frees)
{
    uint64_t bytes;
    totals(allocs, frees, &bytes);
}
