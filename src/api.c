/* api.c — the hak_* API: slow paths of malloc and free, and the rest of the malloc family on top of them. */
#define _GNU_SOURCE
#include "api.h"
#include "alloc.h"
#include "init.h"
#include "integrity.h"
#include "large.h"
#include "learn/learn.h"
#include "log.h"
#include "os.h"
#include "stats.h"
#include "sysalloc.h"
#include "tuning.h"

#include <errno.h>
#include <string.h>
#include <malloc.h>

HAK_TLS hak_tls_t hak_tls;

/* ---- slow paths ------------------------------------------------------------ */

static void *alloc_class_shared(unsigned cls)
{
    hak_bin_t none = { 0 };
    pthread_mutex_lock(&hak_shared_lock);
    void *p = hak_heap_refill(hak_shared_heap, &none, cls, 0);
    pthread_mutex_unlock(&hak_shared_lock);
    return p;
}

static void *alloc_large(size_t n)
{
    if (!hak_tune.tier_on[HAK_TIER_LARGE])
        return hak_sys_malloc(n);
    return hak_large_alloc(n, 0);
}

HAK_NOINLINE void *hak_alloc_slow(size_t n)
{
    hak_ensure_init();
    if (n > HAK_SMALL_MAX)
        return alloc_large(n);
    unsigned cls = hak_size_class(n);
    if (!hak_tune.tier_on[hak_class_tier(cls)])
        return hak_sys_malloc(n);
    hak_tls_t *t = &hak_tls;
    if (HAK_UNLIKELY(t->state != HAK_TLS_ACTIVE)) {
        if (t->state == HAK_TLS_DEAD || !hak_thread_attach()) {
            void *p = alloc_class_shared(cls);
            if (p && hak_tune.integrity)
                hak_integrity_on_alloc(p);
            return p;
        }
    }
    hak_bin_t *b = &t->bins[cls];
    void *p = b->head;
    if (p) {
        b->head = *(void **)p;
        b->room++;
    } else {
#if HAK_HAS_LEARN_HOOKS
        hak_learn_on_refill(t, b, cls);   /* may resize the (empty) bin and its refill batch */
#endif
        uint32_t want = b->cap < t->heap->refill[cls] ? b->cap : t->heap->refill[cls];
        p = hak_heap_refill(t->heap, b, cls, want);
        if (!p)
            return NULL;
    }
#if HAK_HAS_STATS
    hak_counter_add(&b->allocs, 1);
#endif
    if (hak_tune.integrity)
        hak_integrity_on_alloc(p);
    return p;
}

/* Hand the first `k` blocks of a full bin back to their slabs. */
static void bin_flush(hak_heap_t *h, hak_bin_t *b, uint32_t k)
{
    void *head = b->head, *p = head;
    for (uint32_t i = 1; i < k; i++)
        p = *(void **)p;
    b->head = *(void **)p;
    *(void **)p = NULL;
    b->room += k;
    hak_counter_add(&h->st.flushes, 1);
    hak_counter_add(&h->st.flush_blocks, k);
    hak_heap_return_list(h, head, k);
}

HAK_NOINLINE void hak_free_slow(void *p)
{
    if (!p)
        return;
    hak_superslab_t *ss = hak_ss_lookup(p);
    if (!ss) {
        if (hak_large_free(p))
            return;
        if (hak_sys_used())
            hak_sys_free(p);
        else
            hak_report_invalid("free()", p);
        return;
    }
    unsigned cls = ss->unit_class[hak_ss_unit(p)];
    if (cls == HAK_NO_CLASS) {
        hak_report_invalid("free()", p);
        return;
    }
    if (hak_tune.integrity)
        hak_integrity_check_free(p, ss);
    hak_tls_t *t = &hak_tls;
    if (HAK_UNLIKELY(t->state != HAK_TLS_ACTIVE)) {
        if (t->state == HAK_TLS_DEAD || !hak_thread_attach()) {
            pthread_mutex_lock(&hak_shared_lock);
            hak_heap_return(hak_shared_heap, p, ss);
            pthread_mutex_unlock(&hak_shared_lock);
            return;
        }
    }
    hak_bin_t *b = &t->bins[cls];
#if HAK_HAS_STATS
    hak_counter_add(&b->frees, 1);
#endif
    if (b->cap == 0) {
        hak_heap_return(t->heap, p, ss);
        return;
    }
    if (b->room == 0) {
#if HAK_HAS_LEARN_HOOKS
        hak_learn_on_overflow(t, b, cls); /* may grow the bin: then there is room and no flush */
        if (b->room == 0)
#endif
            bin_flush(t->heap, b, hak_bin_count(b) - b->cap / 2);
    }
    *(void **)p = b->head;
    b->head = p;
    b->room--;
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
    if (total > HAK_SMALL_MAX) {
        hak_ensure_init();
        if (hak_tune.tier_on[HAK_TIER_LARGE])
            return hak_large_alloc(total, 0);      /* fresh mappings are zero */
    }
    void *p = hak_alloc_fast(total);
    if (p)
        memset(p, 0, total);
    return p;
}

static size_t usable_size(const void *p, hak_superslab_t *ss)
{
    unsigned cls = ss->unit_class[hak_ss_unit(p)];
    return cls == HAK_NO_CLASS ? 0 : hak_class_size[cls];
}

HAK_EXPORT size_t hak_malloc_usable_size(const void *p)
{
    if (!p)
        return 0;
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
    if (!p)
        return hak_alloc_fast(n);
    if (n == 0) {
        hak_free_fast(p);
        return NULL;
    }
    hak_ensure_init();
    hak_superslab_t *ss = hak_ss_lookup(p);
    if (ss) {
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
    if (!hak_tune.tier_on[hak_size_tier(n)])
        return hak_sys_realloc(p, n);
    return move_block(p, hak_sys_usable_size(p), n, 1);
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
    if (align <= 16)
        return hak_alloc_fast(n);
    if (align > ((size_t)1 << 62)) {
        errno = EINVAL;
        return NULL;
    }
    if (align & (align - 1))                /* glibc rounds a non-power of two up */
        align = (size_t)1 << (64 - __builtin_clzl(align));
    hak_ensure_init();
    if (n <= HAK_SMALL_MAX && align <= HAK_SLAB_ALIGN_MAX) {
        size_t s = n < align ? align : n;
        unsigned cls = hak_size_class(s);
        while (hak_class_size[cls] % align)
            cls++;                          /* a class whose blocks all sit on `align` */
        if (!hak_tune.tier_on[hak_class_tier(cls)])
            return hak_sys_memalign(align, n);
        return hak_alloc_fast(hak_class_size[cls]);
    }
    if (!hak_tune.tier_on[HAK_TIER_LARGE])
        return hak_sys_memalign(align, n);
    return hak_large_alloc(n, align);
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
    hak_superslab_t *ss = hak_ss_lookup(p);
    if (ss)
        return ss->unit_class[hak_ss_unit(p)] != HAK_NO_CLASS;
    return hak_large_usable(p) != 0;
}

HAK_EXPORT int hak_malloc_trim(size_t pad)
{
    (void)pad;
    hak_ensure_init();
    size_t released = 0;
    hak_tls_t *t = &hak_tls;
    if (t->state == HAK_TLS_ACTIVE) {
        for (unsigned c = 0; c < HAK_NCLASS; c++)
            if (hak_bin_count(&t->bins[c]))
                bin_flush(t->heap, &t->bins[c], hak_bin_count(&t->bins[c]));
        released += hak_heap_trim(t->heap);
    }
    released += hak_ss_cache_trim(0);
    return released != 0;
}

HAK_EXPORT struct mallinfo2 hak_mallinfo2(void)
{
    struct mallinfo2 mi;
    memset(&mi, 0, sizeof mi);
    hak_usage_t u = hak_usage();
    mi.arena = u.mapped_bytes;
    mi.hblks = 0;
    mi.hblkhd = u.large_bytes;
    mi.uordblks = u.small_bytes + u.large_bytes;
    mi.fordblks = mi.arena > mi.uordblks ? mi.arena - mi.uordblks : 0;
    mi.keepcost = 0;
    return mi;
}

HAK_EXPORT const char *hak_mode_name(void) { return HAK_MODE_NAME; }
HAK_EXPORT const char *hak_variant_name(void) { return HAK_VARIANT_NAME; }
