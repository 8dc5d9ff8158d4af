/* hardened.c — malloc and free with the hardened mode's checks around the ordinary bins and slabs:
 * state bytes (double and invalid frees), size tags and canaries (overflows, underflows), poison
 * (use-after-free writes), the per-thread quarantine, shuffled carving, and the reports. */
#define _GNU_SOURCE
#include "hardened/hardened.h"
#include "alloc.h"
#include "init.h"
#include "large.h"
#include "log.h"
#include "tuning.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>

hak_hard_tuning_t hak_hard;

#if HAK_HAS_STATS
#define COUNT(t, field, n) hak_counter_add(&(t)->heap->st.field, (n))
#else
#define COUNT(t, field, n) ((void)(t))
#endif

void hak_hard_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    hak_vmsg(fmt, ap);
    va_end(ap);
    if (!hak_hard.report_only)
        abort();
}

/* ---- shuffled carving ------------------------------------------------------------------------- */

static HAK_TLS uint64_t rng_state;

static uint64_t rng_next(void)
{
    if (HAK_UNLIKELY(!rng_state)) {
        /* per thread, from the secret: reproducible under HAKMEM_HARDENED_SEED for a given heap */
        rng_state = hak_hard.tag_key ^ ((uint64_t)(hak_thread->heap_id + 1) * 0x9e3779b97f4a7c15ull);
        if (!rng_state)
            rng_state = 1;
    }
    uint64_t x = rng_state;   /* xorshift64* */
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng_state = x;
    return x * 0x2545f4914f6cdd1dull;
}

void hak_hard_carve(char *first, uint32_t size, uint32_t k, void **head, void **tail)
{
    uint16_t order[HAK_CARVE_MAX];
    for (uint32_t i = 0; i < k; i++)
        order[i] = (uint16_t)i;
#if HAK_FEATURE_SHUFFLE
    if (hak_hard.shuffle) {
        for (uint32_t i = k; i > 1; i--) {
            uint32_t j = (uint32_t)(((rng_next() >> 32) * i) >> 32);
            uint16_t x = order[i - 1];
            order[i - 1] = order[j];
            order[j] = x;
        }
        hak_tls_t *t = hak_thread;
        if (t->state == HAK_TLS_ACTIVE)
            COUNT(t, hard_shuffled, k);
    }
#endif
    void *next = *head;
    for (uint32_t i = 0; i < k; i++) {
        char *b = first + (size_t)order[i] * size;
#if HAK_FEATURE_FREE_CHECK
        *hak_block_state(b) = HAK_BLOCK_FRESH;
#endif
        hak_tag_arm(b, size, 0);    /* the tag below the next block: a write before its start shows */
        hak_link_set(b, next);
        if (i == 0 && !next)
            *tail = b;
        next = b;
    }
    *head = next;
}

#if HAK_HARDENED

/* ---- reports ------------------------------------------------------------------------------------ */

static const char *tier_name(unsigned cls)
{
    static const char *names[] = { "tiny", "pool", "mid" };
    return names[hak_class_tier(cls)];
}

/* p (inside SuperSlab ss, a unit of class cls) is not a live block to free or resize: say what it is. */
static HAK_COLD void bad_block(const char *what, const void *p, hak_superslab_t *ss, unsigned cls)
{
    if (cls == HAK_NO_CLASS) {
        hak_hard_error("%s: invalid pointer %p: inside hakmem's heap but in no live slab (never allocated, or "
                       "freed twice after its slab was released)", what, p);
        return;
    }
    hak_slab_t *s = hak_ss_slab(ss, p);
    uint32_t size = hak_class_size[cls];
    uintptr_t off = (uintptr_t)p - (uintptr_t)s->start;
    if ((uintptr_t)p < (uintptr_t)s->start || off / size >= s->carved_max) {
        hak_hard_error("%s: invalid pointer %p: not a block hakmem handed out (%s size class %u, %u B)",
                       what, p, tier_name(cls), cls, size);
        return;
    }
    const char *blk = s->start + off - off % size;
    size_t asked = hak_tag_size(blk, size);
    int state = HAK_BLOCK_LIVE;
#if HAK_FEATURE_FREE_CHECK
    state = *hak_block_state(blk);
#endif
    if (off % size) {
        char live[64] = "";
        if (state == HAK_BLOCK_LIVE && asked != SIZE_MAX)
            hak_snprintf(live, (int)sizeof live, ", a live %zu-byte block", asked);
        else if (state == HAK_BLOCK_FREED)
            hak_snprintf(live, (int)sizeof live, ", a freed block");
        hak_hard_error("%s: invalid pointer %p: %zu byte%s into the block %p (%s size class %u, %u B%s), not its start",
                       what, p, (size_t)(off % size), off % size == 1 ? "" : "s", (const void *)blk, tier_name(cls),
                       cls, size, live);
    } else if (state == HAK_BLOCK_FREED || state == HAK_BLOCK_LEAKED) {
        hak_hard_error("%s: %s %p (a %zu-byte block, %s size class %u, %u B)", what,
                       state == HAK_BLOCK_LEAKED ? "use of a block already reported:" :
                       *what == 'f' || *what == 'o' ? "double free of" : "use of an already freed block",
                       p, asked == SIZE_MAX ? 0 : asked, tier_name(cls), cls, size);
    } else {
        hak_hard_error("%s: invalid pointer %p: a block hakmem has not handed out (%s size class %u, %u B)",
                       what, p, tier_name(cls), cls, size);
    }
}

/* The tail of block p (`room` bytes; a slab block of class cls, or a large one) is intact: the tag and
 * the canary after its n bytes. Returns the size the program asked for, or SIZE_MAX after reporting. */
static size_t check_tail(const char *what, const void *p, size_t room, unsigned cls)
{
    size_t n = hak_tag_size(p, room), bad;
    if (HAK_LIKELY(n != SIZE_MAX)) {
        bad = hak_canary_broken(p, room, n);
        if (HAK_LIKELY(bad == SIZE_MAX)) {
#if HAK_HAS_STATS
            hak_tls_t *t = hak_thread;
            if (t->state == HAK_TLS_ACTIVE) {
                size_t left = room - HAK_TAG - n;
                COUNT(t, hard_canary_bytes, left < hak_hard.canary_bytes ? left : hak_hard.canary_bytes);
            }
#endif
            return n;
        }
    } else {
        /* A short overrun changes the tag's low bytes only, and its size still reads from the high ones:
         * then the first changed byte says how far past the end the write began. */
        const char *tag = (const char *)p + room - HAK_TAG;
        uint64_t h = hak_tag_hash(p), t = hak_load64(tag) ^ h;
        n = (size_t)(t >> 16);
        uint64_t diff = n <= room - HAK_TAG ? t ^ ((uint64_t)n << 16) : 0;
        if (!diff) {
            char where[48];
            hak_snprintf(where, (int)sizeof where, cls == HAK_NO_CLASS ? "large block" : "%s size class %u",
                         cls == HAK_NO_CLASS ? "" : tier_name(cls), cls);
            hak_hard_error("%s: write past the end of the block %p (%s, %zu B): its size tag at offset %zu is "
                           "overwritten", what, p, where, room, room - HAK_TAG);
            return SIZE_MAX;
        }
        bad = room - HAK_TAG + (size_t)__builtin_ctzll(diff) / 8;
    }
    char where[48];
    if (cls == HAK_NO_CLASS)
        hak_snprintf(where, (int)sizeof where, "large block");
    else
        hak_snprintf(where, (int)sizeof where, "%s size class %u", tier_name(cls), cls);
    hak_hard_error("%s: write past the end of the %zu-byte block %p (%s, %zu B): %s overwritten at offset %zu "
                   "(%zu byte%s past the end)", what, n, p, where, room,
                   bad >= room - HAK_TAG ? "its size tag" : "canary", bad, bad - n + 1, bad == n ? "" : "s");
    return SIZE_MAX;
}

/* The 8 bytes below a slab block that is not its slab's first are the tag of the block before it. */
static int check_below(const char *what, const void *p, hak_superslab_t *ss, unsigned cls, size_t n)
{
#if HAK_FEATURE_OVERFLOW_CHECK
    hak_slab_t *s = hak_ss_slab(ss, p);
    uint32_t size = hak_class_size[cls];
    if ((const char *)p == s->start || hak_tag_size((const char *)p - size, size) != SIZE_MAX)
        return 1;
    hak_hard_error("%s: write before the start of the %zu-byte block %p (%s size class %u, %u B): the size tag "
                   "of the block below it, at %p, is overwritten", what, n, p, tier_name(cls), cls, size,
                   (const void *)((const char *)p - HAK_TAG));
    return 0;
#else
    (void)what, (void)p, (void)ss, (void)cls, (void)n;
    return 1;
#endif
}

static HAK_COLD void poison_broken(const char *what, const void *p, unsigned cls, size_t at)
{
    hak_hard_error("%s: use after free: the freed block %p (%s size class %u, %u B) was written at offset %zu "
                   "after it was freed", what, p, tier_name(cls), cls, hak_class_size[cls], at);
}

/* Bytes of a freed block that poison covers: after the link word, short of the tag. */
static inline size_t poison_end(size_t size)
{
    size_t end = size - HAK_TAG;
    return hak_hard.poison_bytes < end ? hak_hard.poison_bytes : end;
}

/* ---- allocation --------------------------------------------------------------------------------- */

/* Block p of class cls, just taken from a bin or a slab, becomes live for a request of n bytes. 0 when
 * it may not be used (reported, under HAKMEM_ERROR_ACTION=report): the caller takes another. */
static int arm_slab_block(void *p, unsigned cls, size_t n)
{
    size_t size = hak_class_size[cls];
#if HAK_FEATURE_FREE_CHECK
    uint8_t *st = hak_block_state(p);
    if (HAK_UNLIKELY(*st != HAK_BLOCK_FREED && *st != HAK_BLOCK_FRESH))
        hak_fatal("malloc(): heap corruption: the free list of size class %u holds %p, which is not a free block "
                  "(a forged or twice-freed pointer)", cls, p);
#if HAK_FEATURE_POISON
    if (*st == HAK_BLOCK_FREED && hak_hard.poison_bytes > 8) {
        const unsigned char *b = p;
        size_t end = poison_end(size), k = 8;
        for (; k + 8 <= end; k += 8)
            if (HAK_UNLIKELY(hak_load64(b + k) != HAK_POISON_WORD))
                break;
        for (; k < end; k++)
            if (HAK_UNLIKELY(b[k] != HAK_POISON_BYTE))
                break;
        if (HAK_UNLIKELY(k < end)) {
            while (b[k] == HAK_POISON_BYTE)
                k++;
            *st = HAK_BLOCK_LEAKED;
            poison_broken("malloc()", p, cls, k);
            return 0;
        }
        hak_tls_t *t = hak_thread;
        if (t->state == HAK_TLS_ACTIVE)
            COUNT(t, hard_poison_checked, 1);
    }
#endif
    *st = HAK_BLOCK_LIVE;
#endif
    hak_tag_arm(p, size, n);
    return 1;
}

void *hak_hard_alloc_class(unsigned cls, size_t n)
{
    for (;;) {
        void *p = hak_bin_pop(cls);
        if (!p && !(p = hak_alloc_class_slow(cls, n)))
            return NULL;
        if (!hak_ss_contains(p) || HAK_LIKELY(arm_slab_block(p, cls, n)))
            return p;     /* (a block of the system allocator, for a tier switched off, is not ours to arm) */
    }
}

void *hak_hard_arm_large(void *p, size_t n)
{
    size_t map = p ? hak_large_usable(p) : 0;
    if (map)
        hak_tag_arm(p, map, n);
    return p;
}

static void *alloc_large(size_t n)
{
    if (n > PTRDIFF_MAX) {
        errno = ENOMEM;
        return NULL;
    }
    return hak_hard_arm_large(hak_alloc_slow(n + HAK_TAG), n);
}

#if HAK_FEATURE_ZERO_FAULT
static HAK_COLD void *zero_block(void)
{
    hak_tls_t *t = hak_thread;
    if (t->state == HAK_TLS_ACTIVE)
        COUNT(t, hard_zero_blocks, 1);
    return hak_zero_block();
}
#endif

void *hak_hard_malloc(size_t n)
{
    if (HAK_LIKELY(n - 1 < HAK_SMALL_MAX - HAK_TAG))    /* 1 .. SMALL_MAX - TAG: a slab block */
        return hak_hard_alloc_class(hak_size_class(n + HAK_TAG), n);
#if HAK_FEATURE_ZERO_FAULT
    if (n == 0 && hak_hard.zero_fault)
        return zero_block();
#endif
    if (n == 0)
        return hak_hard_alloc_class(hak_size_class(HAK_TAG), 0);
    return alloc_large(n);
}

void *hak_hard_calloc(size_t total)
{
    if (total > HAK_SMALL_MAX - HAK_TAG) {
        hak_ensure_init();
        if (total <= PTRDIFF_MAX && hak_tune.tier_on[HAK_TIER_LARGE]) {
            /* zero already: only a reused block is cleared */
            return hak_hard_arm_large(hak_large_calloc(total + HAK_TAG), total);
        }
    }
    void *p = hak_hard_malloc(total);
    if (p && total)
        memset(p, 0, total);
    return p;
}

/* ---- free ---------------------------------------------------------------------------------------- */

#if HAK_FEATURE_QUARANTINE
/* The thread's quarantine takes p and gives back the block it held longest (NULL while not full). */
static inline void *quarantine_swap(hak_tls_t *t, void *p)
{
    uint32_t i = t->quarantine_next;
    void *out = t->quarantine[i];
    t->quarantine[i] = p;
    t->quarantine_next = i + 1 == hak_hard.quarantine ? 0 : i + 1;
    COUNT(t, hard_quarantined, 1);
    return out;
}
#endif

void hak_hard_drain(hak_tls_t *t)
{
#if HAK_FEATURE_QUARANTINE
    if (t->state != HAK_TLS_ACTIVE)
        return;
    for (uint32_t i = 0; i < HAK_QUARANTINE_MAX; i++) {
        void *p = t->quarantine[i];
        t->quarantine[i] = NULL;
        if (p)
            hak_free_raw(p);
    }
    t->quarantine_next = 0;
#else
    (void)t;
#endif
}

/* A free of p that is not a slab block: a zero-size block, a large block, the system allocator's. */
static HAK_COLD void free_other(const char *what, void *p)
{
#if HAK_FEATURE_ZERO_FAULT
    if (hak_zero_contains(p))
        return;
#endif
    size_t map = hak_large_usable(p);
    if (map && check_tail(what, p, map, HAK_NO_CLASS) == SIZE_MAX)
        return;            /* reported and kept (report action): its neighbours may be damaged too */
    hak_free_slow(p);      /* large, the system allocator's, or reported as invalid there */
}

/* The checks of a slab block's free: a live block whose tail and the tag below it are intact. Returns
 * its requested size, or SIZE_MAX (reported) when it must not be freed. */
static inline size_t check_slab_free(const char *what, void *p, hak_superslab_t *ss, unsigned cls)
{
#if HAK_FEATURE_FREE_CHECK
    if (HAK_UNLIKELY(cls == HAK_NO_CLASS || ((uintptr_t)p & 15) || *hak_block_state(p) != HAK_BLOCK_LIVE)) {
        bad_block(what, p, ss, cls);
        return SIZE_MAX;
    }
#else
    if (HAK_UNLIKELY(cls == HAK_NO_CLASS)) {
        bad_block(what, p, ss, cls);
        return SIZE_MAX;
    }
#endif
    size_t size = hak_class_size[cls];
    size_t n = check_tail(what, p, size, cls);
    if (n == SIZE_MAX || !check_below(what, p, ss, cls, n))
        return SIZE_MAX;
    return n;
}

static inline void release_slab_block(void *p, unsigned cls)
{
#if HAK_FEATURE_FREE_CHECK
    *hak_block_state(p) = HAK_BLOCK_FREED;
#endif
#if HAK_FEATURE_POISON
    /* from the first byte: the link word is written only when the block leaves the quarantine */
    size_t end = poison_end(hak_class_size[cls]);
    if (end)
        memset(p, HAK_POISON_BYTE, end);
#else
    (void)cls;
#endif
#if HAK_FEATURE_QUARANTINE
    hak_tls_t *t = hak_thread;
    if (hak_hard.quarantine && t->state == HAK_TLS_ACTIVE) {
        if (!(p = quarantine_swap(t, p)))
            return;
#if HAK_FEATURE_POISON
        /* the word the link will cover, written to while the block waited */
        if (HAK_UNLIKELY(poison_end(hak_class_size[cls = hak_block_class(p)]) >= 8 &&
                         hak_load64(p) != HAK_POISON_WORD)) {
            *hak_block_state(p) = HAK_BLOCK_LEAKED;
            poison_broken("free()", p, cls, (size_t)__builtin_ctzll(hak_load64(p) ^ HAK_POISON_WORD) / 8);
            return;
        }
#endif
    }
#endif
    hak_free_raw(p);
}

static void free_checked(const char *what, void *p)
{
    if (HAK_UNLIKELY(!hak_ss_contains(p))) {
        if (p)
            free_other(what, p);
        return;
    }
    hak_superslab_t *ss = hak_ss_of(p);
    unsigned cls = ss->unit_class[hak_ss_unit(p)];
    if (check_slab_free(what, p, ss, cls) != SIZE_MAX)
        release_slab_block(p, cls);
}

void hak_hard_free(void *p) { free_checked("free()", p); }

/* The size the program asked for of p, a live block of ours; SIZE_MAX when it is not one. Without size
 * tags, the block's whole size. */
static size_t live_size(const void *p)
{
    size_t room;
    if (hak_ss_contains(p)) {
        unsigned cls = hak_ss_of(p)->unit_class[hak_ss_unit(p)];
        if (cls == HAK_NO_CLASS || ((uintptr_t)p & 15))
            return SIZE_MAX;
#if HAK_FEATURE_FREE_CHECK
        if (*hak_block_state(p) != HAK_BLOCK_LIVE)
            return SIZE_MAX;
#endif
        room = hak_class_size[cls];
    } else if (!p || !(room = hak_large_usable(p))) {
        return SIZE_MAX;
    }
    return HAK_TAG ? hak_tag_size(p, room) : room;
}

void hak_hard_free_sized(void *p, size_t n)
{
#if HAK_FEATURE_OVERFLOW_CHECK
    size_t asked = live_size(p);
    if (HAK_UNLIKELY(asked != SIZE_MAX && asked != n)) {
        hak_hard_error("operator delete(): size mismatch for %p: %zu bytes given, the block is %zu bytes", p, n,
                       asked);
        return;
    }
#endif
    free_checked("operator delete()", p);
}

/* ---- the rest of the family ------------------------------------------------------------------------ */

int hak_hard_owns(const void *p)
{
    if (!p)
        return 0;
    if (hak_ss_contains(p))
        return hak_ss_of(p)->unit_class[hak_ss_unit(p)] != HAK_NO_CLASS;
#if HAK_FEATURE_ZERO_FAULT
    if (hak_zero_contains(p))
        return 1;
#endif
    return hak_large_usable(p) != 0;
}

size_t hak_hard_usable(const void *p)
{
    size_t n = live_size(p);
    return n == SIZE_MAX ? 0 : n;
}

void *hak_hard_realloc(void *p, size_t n)
{
#if HAK_FEATURE_ZERO_FAULT
    if (hak_zero_contains(p))
        return hak_hard_malloc(n);
#endif
    if (n > PTRDIFF_MAX) {
        errno = ENOMEM;
        return NULL;
    }
    size_t room, old;
    if (hak_ss_contains(p)) {
        hak_superslab_t *ss = hak_ss_of(p);
        unsigned cls = ss->unit_class[hak_ss_unit(p)];
        old = check_slab_free("realloc()", p, ss, cls);
        room = cls == HAK_NO_CLASS ? 0 : hak_class_size[cls];
    } else {
        room = hak_large_usable(p);
        old = check_tail("realloc()", p, room, HAK_NO_CLASS);
    }
    if (old == SIZE_MAX) {
        errno = EINVAL;
        return NULL;
    }
    /* in place while it fits and is not worth a smaller block (large blocks: not worth a new mapping) */
    if (n + HAK_TAG <= room && n + HAK_TAG > room / 2) {
        hak_tag_arm(p, room, n);
        return p;
    }
    void *q = hak_hard_malloc(n);
    if (!q)
        return NULL;
    memcpy(q, p, old < n ? old : n);
    hak_hard_free(p);
    return q;
}

#endif /* HAK_HARDENED */
