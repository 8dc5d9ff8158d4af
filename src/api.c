/* api.c — the hak_* API: slow paths of malloc and free, and the rest of the malloc family on top of them. */
#define _GNU_SOURCE
#include "api.h"
#include "decay.h"
#include "alloc.h"
#include "init.h"
#include "integrity.h"
#include "large.h"
#include "learn/learn.h"
#include "log.h"
#include "os.h"
#include "stats.h"
#include "sysalloc.h"
#include "trace.h"
#include "tuning.h"

#include <errno.h>
#include <string.h>
#include <malloc.h>

HAK_TLS hak_tls_t *hak_thread = (hak_tls_t *)&hak_tls_fresh;
const hak_tls_t hak_tls_fresh = { .state = HAK_TLS_FRESH };
const hak_tls_t hak_tls_dead = { .state = HAK_TLS_DEAD };

/* ---- slow paths ------------------------------------------------------------ */

static void *alloc_class_shared(unsigned cls)
{
    hak_bin_t none = { 0 };
    hak_shared_enter();
    void *p = hak_heap_refill(hak_shared_heap, &none, cls, 0);
    hak_shared_leave();
    return p;
}

static void *alloc_large(size_t n)
{
    if (!hak_tune.tier_on[HAK_TIER_LARGE]) {
        hak_stats_poll();
        return hak_sys_malloc(n);
    }
    return hak_large_alloc(n, 0);
}

/* A block of class cls (n bytes asked for): the thread's bin, refilled from its heap when empty. */
static void *alloc_class(unsigned cls, size_t n)
{
    hak_stats_poll();
    if (!hak_tune.tier_on[hak_class_tier(cls)])
        return hak_sys_malloc(n);
    hak_tls_t *t = hak_thread;
    if (HAK_UNLIKELY(t->state != HAK_TLS_ACTIVE) && (t->state == HAK_TLS_DEAD || !(t = hak_thread_attach())))
        return alloc_class_shared(cls);
    hak_bin_t *b = &t->bins[cls];
    void *p = b->head;
    if (p) {
        b->head = hak_link_get(p);
        b->room++;
    } else {
        hak_decay_hold++;                 /* the bin is being rewritten: no thread start in between */
#if HAK_HAS_LEARN_HOOKS
        hak_learn_on_refill(t, b, cls);   /* may resize the (empty) bin and its refill batch */
#endif
        uint32_t want = b->cap < t->heap->refill[cls] ? b->cap : t->heap->refill[cls];
        p = hak_heap_refill(t->heap, b, cls, want);
        if (p)
            hak_bin_moved_in(b, hak_bin_count(b) + 1);   /* the blocks the refill put in the bin, and p */
        hak_decay_hold_end();
        if (!p)
            return NULL;
        if (hak_class_tier(cls) == HAK_TIER_TINY)
            hak_log_tiny("refill class %u (%u B): %u blocks for thread heap %p", cls, hak_class_size[cls],
                         want + 1, (void *)t->heap);
#if HAK_HAS_STATS
        hak_counter_add_owned(&t->heap->cls_refills[cls], 1);
#endif
    }
#if HAK_HAS_STATS
    hak_counter_add_owned(&b->allocs, 1);
#endif
    return p;
}

/* Checked allocation (integrity checks, tracing or ASan: the caches are off, every request is here):
 * a block of class cls for a request of n bytes, unpoisoned and armed with its canary. */
static void *alloc_checked_class(unsigned cls, size_t n)
{
    void *p = alloc_class(cls, n);
    if (p && hak_ss_contains(p)) {
        HAK_ASAN_UNPOISON(p, hak_class_size[cls]);
        if (hak_tune.integrity)
            hak_integrity_arm(p, cls, n);
    }
    return p;
}

static HAK_COLD void *alloc_checked(size_t n)
{
    void *p;
    if (n > HAK_SMALL_MAX)
        p = alloc_large(n);
    else if (!hak_tune.tier_on[hak_size_tier(n)])
        p = hak_sys_malloc(n);              /* the request's own tier decides, not the padded class's */
    else if (hak_tune.integrity && n <= HAK_SMALL_MAX - HAK_INTEGRITY_EXTRA)
        p = alloc_checked_class(hak_size_class(n + HAK_INTEGRITY_EXTRA), n);
    else if (hak_tune.integrity)
        p = alloc_large(n);                 /* no room for the canary in a slab class */
    else
        p = alloc_checked_class(hak_size_class(n), n);
    HAK_TRACE_RECORD(HAK_TR_MALLOC, p, n, 0);
    return p;
}

HAK_NOINLINE void *hak_alloc_slow(size_t n)
{
    hak_ensure_init();
    if (HAK_UNLIKELY(hak_tune.checked))
        return alloc_checked(n);
    if (n > HAK_SMALL_MAX)
        return alloc_large(n);
    return alloc_class(hak_size_class(n), n);
}

HAK_NOINLINE void *hak_alloc_class_slow(unsigned cls, size_t n)
{
    hak_ensure_init();
    if (HAK_UNLIKELY(hak_tune.checked))
        return alloc_checked_class(cls, n);
    return alloc_class(cls, n);
}

/* A block whose every address is a multiple of the class size's alignment (hak_memalign). */
static void *alloc_in_class(unsigned cls, size_t n)
{
#if HAK_HARDENED
    return hak_hard_alloc_class(cls, n);
#else
    if (HAK_UNLIKELY(hak_tune.checked))
        return alloc_checked_class(cls, n);
    return hak_alloc_fast(hak_class_size[cls]);
#endif
}

/* Hand the first `k` blocks of bin b (class cls) of thread t, the caller, back to their slabs. */
static HAK_NOINLINE void bin_flush(hak_tls_t *t, hak_bin_t *b, uint32_t k, unsigned cls)
{
#if HAK_HAS_STATS
    hak_counter_add_owned(&t->heap->cls_flushes[cls], 1);
#endif
    if (hak_class_tier(cls) == HAK_TIER_TINY)
        hak_log_tiny("flush class %u: %u blocks back to their slabs", cls, k);
    hak_heap_flush_bin(t, b, cls, k, 1);
}

/* Back to the thread's bin, or to the slab when the bin has no room. */
#if HAK_FEATURE_EXPERIMENTAL
/* HAKMEM_EXPERIMENTAL_CACHE_TUNING: a bin that overflows grows by a quarter, up to 4x its configured size. */
static void grow_bin(hak_bin_t *b, unsigned cls)
{
    uint32_t limit = hak_tune.cap[cls] * 4 < 2048 ? hak_tune.cap[cls] * 4 : 2048;
    uint32_t cap = b->cap + b->cap / 4 + 1;
    if (cap > limit)
        cap = limit;
    if (cap > b->cap) {
        b->room += cap - b->cap;
        b->cap = cap;
    }
}
#endif

/* A free into a full bin: a learner may grow it, else half of it goes home; then p goes in. Kicks of
 * the decay thread wait until the bin is whole again (starting the thread allocates). */
static HAK_NOINLINE void bin_overflow(hak_tls_t *t, hak_bin_t *b, void *p, unsigned cls)
{
    hak_decay_hold++;
#if HAK_FEATURE_EXPERIMENTAL
    if (hak_tune.cache_tuning)
        grow_bin(b, cls);
#endif
#if HAK_HAS_LEARN_HOOKS
    hak_learn_on_overflow(t, b, cls);     /* may grow the bin: then there is room and no flush */
    if (b->room == 0)
#endif
        bin_flush(t, b, hak_bin_count(b) - b->cap / 2, cls);
    hak_link_set(p, b->head);
    b->head = p;
    b->room--;
    hak_decay_hold_end();
}

static void free_block(void *p, hak_superslab_t *ss, unsigned cls)
{
    hak_tls_t *t = hak_thread;
    if (HAK_UNLIKELY(t->state != HAK_TLS_ACTIVE) && (t->state == HAK_TLS_DEAD || !(t = hak_thread_attach()))) {
        hak_shared_enter();
        hak_heap_return(hak_shared_heap, p, ss);
        hak_shared_leave();
        return;
    }
    hak_bin_t *b = &t->bins[cls];
#if HAK_BIN_COUNTS_FREES
    hak_counter_add(&b->frees, 1);
#endif
    if (b->cap == 0) {
        hak_bin_moved_out(b, 1);
        hak_heap_return(t->heap, p, ss);
        return;
    }
    if (b->room == 0) {
        bin_overflow(t, b, p, cls);
        return;
    }
    hak_link_set(p, b->head);
    b->head = p;
    b->room--;
}

/* A block outside every SuperSlab: large, the system allocator's, or not ours. */
static void free_outside(void *p)
{
    if (hak_large_free(p))
        return;
    if (hak_sys_used())
        hak_sys_free(p);
    else
        hak_report_invalid("free()", p);
}

HAK_NOINLINE void hak_free_other(void *p)
{
    if (!p)
        return;
    HAK_TRACE_RECORD(HAK_TR_FREE, p, 0, 0);
    free_outside(p);
}

HAK_NOINLINE void hak_free_slow(void *p)
{
    if (!p)
        return;
    HAK_TRACE_RECORD(HAK_TR_FREE, p, 0, 0);
    hak_superslab_t *ss = hak_ss_lookup(p);
    if (!ss) {
        free_outside(p);
        return;
    }
    unsigned cls = ss->unit_class[hak_ss_unit(p)];
    if (cls == HAK_NO_CLASS) {
        hak_report_invalid("free()", p);
        return;
    }
    if (HAK_UNLIKELY(hak_tune.verify_free) && hak_class_tier(cls) == HAK_TIER_TINY &&
        !hak_ss_is_block_start(ss, p)) {
        hak_report_invalid("free()", p);
        return;
    }
    if (HAK_UNLIKELY(hak_tune.checked)) {
        if (hak_tune.integrity)
            hak_integrity_check("free()", p, ss, 1);
#if HAK_SANITIZER_ADDRESS
        p = hak_quarantine_push(p, hak_class_size[cls]);   /* the block that leaves the quarantine */
        if (!p)
            return;
        ss = hak_ss_of(p);
        cls = ss->unit_class[hak_ss_unit(p)];
#endif
    }
    free_block(p, ss, cls);
}

/* Sized delete's slow path (bin full, block not in a SuperSlab, or checks on): the size is verified
 * against the block under integrity checks, then the block takes the ordinary free path, which finds
 * its class (the size alone does not name it for large, system or over-aligned blocks). */
HAK_NOINLINE void hak_free_sized_slow(void *p, size_t n)
{
    if (HAK_UNLIKELY(hak_tune.integrity) && p)
        hak_integrity_check_size("operator delete()", p, n);
    hak_free_slow(p);
}

/* ---- the API --------------------------------------------------------------- */

HAK_EXPORT void *hak_malloc(size_t n) { return hak_alloc_fast(n); }
HAK_EXPORT void hak_free(void *p) { hak_free_fast(p); }

HAK_EXPORT void *hak_calloc(size_t nmemb, size_t size)
{
    size_t total;
    if (__builtin_mul_overflow(nmemb, size, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    HAK_TRACE_WRAP(HAK_TR_CALLOC, hak_calloc(nmemb, size), total, 0);
#if HAK_HARDENED
    return hak_hard_calloc(total);
#else
    if (total > HAK_SMALL_MAX) {
        hak_ensure_init();
        if (hak_tune.tier_on[HAK_TIER_LARGE])
            return hak_large_calloc(total);         /* memset only for a reused warm block */
    }
    void *p = hak_alloc_fast(total);
    if (p)
        memset(p, 0, total);
    return p;
#endif
}

static size_t usable_size(const void *p, hak_superslab_t *ss)
{
    unsigned cls = ss->unit_class[hak_ss_unit(p)];
    if (cls == HAK_NO_CLASS)
        return 0;
    if (HAK_UNLIKELY(hak_tune.integrity))
        return hak_integrity_usable(p, cls);   /* the size asked for: the canary follows it */
    return hak_class_size[cls];

}

HAK_EXPORT size_t hak_malloc_usable_size(const void *p)
{
    if (!p)
        return 0;
#if HAK_HARDENED
    if (hak_hard_owns(p))
        return hak_hard_usable(p);
#endif
    hak_superslab_t *ss = hak_ss_lookup(p);
    if (ss)
        return usable_size(p, ss);
    size_t n = hak_large_usable(p);
    if (n)
        return n;
    return hak_sys_used() ? hak_sys_usable_size((void *)p) : 0;
}

static void *move_block(void *p, size_t old, size_t n, int sys_owned)
{
    void *q = hak_alloc_fast(n);
    if (!q)
        return NULL;
    memcpy(q, p, old < n ? old : n);
    if (sys_owned)
        hak_sys_free(p);
    else
        hak_free_fast(p);
    return q;
}

HAK_EXPORT void *hak_realloc(void *p, size_t n)
{
    HAK_TRACE_WRAP_REALLOC(hak_realloc(p, n), p, n);
    if (!p)
        return hak_alloc_fast(n);
    if (n == 0) {
        hak_free_fast(p);
        return NULL;
    }
    hak_ensure_init();
#if HAK_HARDENED
    if (hak_hard_owns(p))
        return hak_hard_realloc(p, n);
#endif
    hak_superslab_t *ss = hak_ss_lookup(p);
    if (ss) {
        if (HAK_UNLIKELY(hak_tune.integrity) && ss->unit_class[hak_ss_unit(p)] != HAK_NO_CLASS) {
            size_t asked = hak_integrity_check("realloc()", p, ss, 0);
            unsigned cls = ss->unit_class[hak_ss_unit(p)];
            size_t room = hak_class_size[cls];
            if (n <= room - HAK_INTEGRITY_EXTRA && n + HAK_INTEGRITY_EXTRA > room / 2) {
                hak_integrity_arm(p, cls, n);      /* in place: the canary moves to the new end */
                return p;
            }
            return move_block(p, asked, n, 0);
        }
        size_t old = usable_size(p, ss);
        if (!old) {
            hak_report_invalid("realloc()", p);
            errno = EINVAL;
            return NULL;
        }
        if (n <= old && n > old / 2)
            return p;                       /* fits, and not worth a smaller class */
        return move_block(p, old, n, 0);
    }
    size_t old = hak_large_usable(p);
    if (old) {
        if (n <= old && n > old / 2)
            return p;
        if (n > HAK_SMALL_MAX && hak_tune.tier_on[HAK_TIER_LARGE]) {
            void *q = hak_large_resize(p, n);
            if (q)
                return q;
        }
        return move_block(p, old, n, 0);
    }
    if (!hak_sys_used()) {
        hak_report_invalid("realloc()", p);
        errno = EINVAL;
        return NULL;
    }
    /* The system allocator's block: it keeps it while the new size is still in a tier switched off. */
    size_t had = hak_sys_usable_size(p);
    if (!hak_tune.tier_on[hak_size_tier(n)] ||
        (n <= had && n > had / 2 && hak_size_tier(n) == hak_size_tier(had)))   /* fits where it is */
        return hak_sys_realloc(p, n);
    return move_block(p, had, n, 1);
}

HAK_EXPORT void *hak_reallocarray(void *p, size_t nmemb, size_t size)
{
    size_t total;
    if (__builtin_mul_overflow(nmemb, size, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    return hak_realloc(p, total);
}

HAK_EXPORT void *hak_memalign(size_t align, size_t n)
{
    HAK_TRACE_WRAP(HAK_TR_MEMALIGN, hak_memalign(align, n), n, align);
    if (align <= 16)
        return hak_alloc_fast(n);
    if (align > ((size_t)1 << 62)) {
        errno = EINVAL;
        return NULL;
    }
    if (align & (align - 1))                /* glibc rounds a non-power of two up */
        align = (size_t)1 << (64 - __builtin_clzl(align));
    hak_ensure_init();
    size_t extra = HAK_HARDENED ? HAK_TAG : hak_tune.integrity ? HAK_INTEGRITY_EXTRA : 0;   /* room for the canary */
    if (n <= HAK_SMALL_MAX - extra && align <= HAK_SLAB_ALIGN_MAX) {
        size_t s = n + extra < align ? align : n + extra;
        unsigned cls = hak_size_class(s);
        while (hak_class_size[cls] % align)
            cls++;                          /* a class whose blocks all sit on `align` */
        if (!hak_tune.tier_on[hak_class_tier(cls)] || (extra && !hak_tune.tier_on[hak_size_tier(n)]))
            return hak_sys_memalign(align, n);
        return alloc_in_class(cls, n);
    }
    if (!hak_tune.tier_on[HAK_TIER_LARGE])
        return hak_sys_memalign(align, n);
#if HAK_HARDENED
    if (n > HAK_TAG_SIZE_MAX - HAK_TAG) {
        errno = ENOMEM;
        return NULL;
    }
    return hak_hard_arm_large(hak_large_alloc(n + HAK_TAG, align), n);
#else
    return hak_large_alloc(n, align);
#endif
}

HAK_EXPORT int hak_posix_memalign(void **out, size_t align, size_t n)
{
    if (align < sizeof(void *) || (align & (align - 1)))
        return EINVAL;
    int saved = errno;
    void *p = hak_memalign(align, n);
    if (!p) {
        int e = errno == EINVAL ? EINVAL : ENOMEM;
        errno = saved;
        return e;
    }
    *out = p;
    return 0;
}

HAK_EXPORT void *hak_aligned_alloc(size_t align, size_t n) { return hak_memalign(align, n); }
HAK_EXPORT void *hak_valloc(size_t n) { return hak_memalign(HAK_PAGE, n); }

HAK_EXPORT void *hak_pvalloc(size_t n)
{
    size_t r = (n + HAK_PAGE - 1) & ~(size_t)(HAK_PAGE - 1);
    if (r < n) {
        errno = ENOMEM;
        return NULL;
    }
    return hak_memalign(HAK_PAGE, r ? r : HAK_PAGE);
}

HAK_EXPORT int hak_owns(const void *p)
{
    if (!p)
        return 0;
#if HAK_HARDENED
    return hak_hard_owns(p);
#else
    hak_superslab_t *ss = hak_ss_lookup(p);
    if (ss)
        return ss->unit_class[hak_ss_unit(p)] != HAK_NO_CLASS;
    return hak_large_usable(p) != 0;
#endif
}

HAK_EXPORT int hak_malloc_trim(size_t pad)
{
    (void)pad;
    hak_ensure_init();
    size_t released = 0;
    hak_tls_t *t = hak_thread;
    if (t->state == HAK_TLS_ACTIVE) {
#if HAK_HARDENED
        hak_hard_drain(t);
#endif
        hak_decay_hold++;
        for (unsigned c = 0; c < HAK_NCLASS; c++)
            if (hak_bin_count(&t->bins[c]))
                bin_flush(t, &t->bins[c], hak_bin_count(&t->bins[c]), c);
        hak_decay_hold_end();
        released += hak_heap_trim(t->heap);
        hak_heap_decay_idle();             /* and what was freed into the heaps of exited threads */
    }
    released += hak_ss_cache_trim(0);
    released += hak_large_trim();
    return released != 0;
}

HAK_EXPORT struct mallinfo2 hak_mallinfo2(void)
{
    struct mallinfo2 mi;
    memset(&mi, 0, sizeof mi);
    /* As glibc reports them: live mmap-backed blocks in hblkhd only, the rest of what is mapped in
     * arena, of which uordblks is in use; plus what the system allocator holds for switched-off tiers. */
    hak_usage_t u = hak_usage();
    uint64_t large_allocs, large_frees;
    hak_large_counts(&large_allocs, &large_frees);
    mi.hblks = (size_t)(large_allocs - large_frees);
    mi.hblkhd = u.large_bytes;
    mi.arena = u.mapped_bytes > u.large_bytes ? u.mapped_bytes - u.large_bytes : 0;
    mi.uordblks = u.small_bytes;
    if (hak_sys_used()) {
        struct mallinfo2 sys = hak_sys_mallinfo2();
        mi.arena += sys.arena;
        mi.uordblks += sys.uordblks;
        mi.hblks += sys.hblks;
        mi.hblkhd += sys.hblkhd;
    }
    mi.fordblks = mi.arena > mi.uordblks ? mi.arena - mi.uordblks : 0;
    mi.keepcost = 0;
    return mi;
}

HAK_EXPORT const char *hak_mode_name(void) { return HAK_MODE_NAME; }
HAK_EXPORT const char *hak_variant_name(void) { return HAK_VARIANT_NAME; }
