/* hardened.c — malloc and free with the hardened mode's checks around the ordinary bins and slabs:
 * block tags (double and invalid frees, overflows, underflows), poison (use-after-free writes), the
 * per-thread quarantine, shuffled carving, and the reports. block.h describes a block's layout. */
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

#define ALWAYS_INLINE static inline __attribute__((always_inline))

#if HAK_HAS_STATS
/* t is NULL for a thread without a cache of its own (starting or exiting): nothing is counted */
#define THREAD_COUNT(t, field, n)                       \
    do {                                                \
        if (HAK_LIKELY((t) != NULL))                    \
            hak_counter_add(&(t)->hard.field, (n));     \
    } while (0)
#define HEAP_COUNT(field, n)                                        \
    do {                                                            \
        hak_tls_t *t_ = hak_thread;                                 \
        if (t_->state == HAK_TLS_ACTIVE)                            \
            hak_counter_add(&t_->heap->st.field, (n));              \
    } while (0)
#else
#define THREAD_COUNT(t, field, n) ((void)(t))
#define HEAP_COUNT(field, n) ((void)0)
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

#if HAK_FEATURE_SHUFFLE
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
#endif

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
        HEAP_COUNT(hard_shuffled, k);
    }
#endif
    void *next = *head;
    for (uint32_t i = k; i-- > 0;) {          /* linked last to first: order[0] is handed out first */
        char *b = first + (size_t)order[i] * size;
#if HAK_TAG
        hak_tag_set(b, size, 0, HAK_BLOCK_FRESH);   /* also the tag below the next block */
#endif
        hak_link_set(b, next);
        if (i == k - 1 && !next)
            *tail = b;
        next = b;
    }
    *head = next;
}

#if HAK_HARDENED

/* ---- reports (out of line) --------------------------------------------------------------------------- */

static const char *tier_name(unsigned cls)
{
    static const char *names[] = { "tiny", "pool", "mid" };
    return names[hak_class_tier(cls)];
}

static void block_where(char *buf, int len, unsigned cls)
{
    if (cls == HAK_NO_CLASS)
        hak_snprintf(buf, len, "large block");
    else
        hak_snprintf(buf, len, "%s size class %u", tier_name(cls), cls);
}

/* The tail of block p (`room` bytes: a slab block of class cls, or a large one, HAK_NO_CLASS) is broken:
 * say how. A short overrun changes the tag's low bytes only, and its size still reads from the high
 * ones: then the first changed byte says how far past the end the write began. */
static HAK_COLD void report_tail(const char *what, const void *p, size_t room, unsigned cls)
{
    char where[48];
    block_where(where, (int)sizeof where, cls);
    size_t end = room - HAK_TAG, bad;
    uint64_t t = hak_tag_get(p, room);
    size_t n = hak_tag_size(t);
    if (hak_tag_valid(t, room) && hak_tag_is(t, HAK_BLOCK_LIVE)) {
        bad = hak_canary_broken(p, room, n);
    } else {
        uint64_t diff = n <= end ? (t ^ HAK_BLOCK_LIVE) & 0xffff : 0;
        if (!diff) {
            hak_hard_error("%s: write past the end of the block %p (%s, %zu B): its size tag at offset %zu is "
                           "overwritten", what, p, where, room, end);
            return;
        }
        bad = end + (size_t)__builtin_ctzll(diff) / 8;
    }
    hak_hard_error("%s: write past the end of the %zu-byte block %p (%s, %zu B): %s overwritten at offset %zu "
                   "(%zu byte%s past the end)", what, n, p, where, room, bad >= end ? "its size tag" : "canary",
                   bad, bad - n + 1, bad == n ? "" : "s");
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
    uint64_t t = hak_tag_get(blk, size);
    unsigned state = hak_tag_valid(t, size) ? (unsigned)(t & 0xffff) : 0;
    size_t asked = hak_tag_size(t);
    if (off % size) {
        char live[64] = "";
        if (state == HAK_BLOCK_LIVE)
            hak_snprintf(live, (int)sizeof live, ", a live %zu-byte block", asked);
        else if (state == HAK_BLOCK_FREED)
            hak_snprintf(live, (int)sizeof live, ", a freed block");
        hak_hard_error("%s: invalid pointer %p: %zu byte%s into the block %p (%s size class %u, %u B%s), not its start",
                       what, p, (size_t)(off % size), off % size == 1 ? "" : "s", (const void *)blk, tier_name(cls),
                       cls, size, live);
    } else if (state == HAK_BLOCK_FREED) {
        hak_hard_error("%s: %s %p (a %zu-byte block, %s size class %u, %u B)", what,
                       *what == 'r' ? "use of an already freed block" : "double free of", p, asked,
                       tier_name(cls), cls, size);
    } else if (state == HAK_BLOCK_LEAKED) {
        hak_hard_error("%s: %p is a block already reported as damaged (%s size class %u, %u B)", what, p,
                       tier_name(cls), cls, size);
    } else if (state == HAK_BLOCK_FRESH) {
        hak_hard_error("%s: invalid pointer %p: a block hakmem has not handed out (%s size class %u, %u B)",
                       what, p, tier_name(cls), cls, size);
    } else {
        report_tail(what, p, size, cls);      /* a block's start whose tag is gone: written over */
    }
}

static HAK_COLD void report_below(const char *what, const void *p, unsigned cls, size_t n)
{
    hak_hard_error("%s: write before the start of the %zu-byte block %p (%s size class %u, %u B): the size tag "
                   "of the block below it, at %p, is overwritten", what, n, p, tier_name(cls), cls,
                   hak_class_size[cls], (const void *)((const char *)p - HAK_TAG));
}

static HAK_COLD void report_poison(const char *what, const void *p, unsigned cls, size_t from, size_t end)
{
    const unsigned char *b = p;
    while (from < end && b[from] == HAK_POISON_BYTE)
        from++;
    hak_hard_error("%s: use after free: the freed block %p (%s size class %u, %u B) was written at offset %zu "
                   "after it was freed", what, p, tier_name(cls), cls, hak_class_size[cls], from);
}

static HAK_COLD void report_list(const void *p, unsigned cls)
{
    hak_fatal("malloc(): heap corruption: the free list of size class %u holds %p, which is not a free block "
              "(a forged or twice-freed pointer)", cls, p);
}

/* ---- the checks ----------------------------------------------------------------------------------- */

/* The canary after the n bytes of block p (`room` bytes) is intact. */
ALWAYS_INLINE int canary_ok(hak_tls_t *t, const void *p, size_t room, size_t n)
{
#if HAK_FEATURE_OVERFLOW_CHECK
    size_t len = hak_canary_len(room, n);
    if (HAK_LIKELY(len <= 8)) {
        uint64_t mask = len == 8 ? ~(uint64_t)0 : ((uint64_t)1 << (len * 8)) - 1;
        if (HAK_UNLIKELY((hak_load64((const char *)p + n) ^ hak_canary_word(p)) & mask))
            return 0;
    } else if (hak_canary_broken(p, room, n) != SIZE_MAX) {
        return 0;
    }
    THREAD_COUNT(t, canary_bytes, len);
#else
    (void)t, (void)p, (void)room, (void)n;
#endif
    return 1;
}

/* The 8 bytes below a slab block are the tag of the block before it, unless it starts a unit (every slab
 * starts one, or follows the SuperSlab's header; a block of a multi-unit slab that starts a unit is
 * not checked). */
ALWAYS_INLINE int below_ok(const void *p, size_t size)
{
#if HAK_FEATURE_OVERFLOW_CHECK
    uintptr_t off = (uintptr_t)p & (HAK_SS_SIZE - 1);
    if (HAK_UNLIKELY((off & (HAK_UNIT_SIZE - 1)) == 0 || off == HAK_SS_HEADER))
        return 1;
    return hak_tag_valid(hak_tag_get((const char *)p - size, size), size);
#else
    (void)p, (void)size;
    return 1;
#endif
}

/* Bytes of a freed block that poison covers, from its first: whole 16-byte lanes, short of the tag. */
static inline size_t poison_end(size_t size)
{
    size_t end = (size - HAK_TAG) & ~(size_t)15;
    return hak_hard.poison_bytes < end ? hak_hard.poison_bytes : end;
}

typedef uint64_t lane_t __attribute__((vector_size(16)));
static const lane_t POISON_LANE = { HAK_POISON_WORD, HAK_POISON_WORD };

/* ---- allocation --------------------------------------------------------------------------------- */

/* Block p of class cls, just taken from a bin or a slab, becomes live for a request of n bytes. 0 when
 * it may not be used (reported, under HAKMEM_ERROR_ACTION=report): the caller takes another. */
ALWAYS_INLINE int arm_slab_block(hak_tls_t *t, void *p, unsigned cls, size_t n)
{
    size_t size = hak_class_size[cls];
#if HAK_FEATURE_FREE_CHECK
    uint64_t tag = hak_tag_get(p, size);
    if (HAK_UNLIKELY(!hak_tag_is(tag, HAK_BLOCK_FREED))) {
        if (!hak_tag_is(tag, HAK_BLOCK_FRESH) || !hak_tag_valid(tag, size))
            report_list(p, cls);
    }
#if HAK_FEATURE_POISON
    else if (hak_hard.poison_bytes) {
        /* from the second word: the first held the link (written when it left the quarantine) */
        const char *b = p;
        size_t end = poison_end(size);
        uint64_t first = end ? hak_load64(b + 8) ^ HAK_POISON_WORD : 0;
        lane_t diff = { 0, 0 }, lane;
        for (size_t k = 16; k < end; k += 16) {
            memcpy(&lane, b + k, 16);
            diff |= lane ^ POISON_LANE;
        }
        if (HAK_UNLIKELY(first | diff[0] | diff[1])) {
            hak_tag_set(p, size, 0, HAK_BLOCK_LEAKED);
            report_poison("malloc()", p, cls, 8, end);
            return 0;
        }
        THREAD_COUNT(t, poison_checked, 1);
    }
#endif
#endif
    (void)t;
    hak_block_arm(p, size, n);
    return 1;
}

ALWAYS_INLINE void *alloc_class(unsigned cls, size_t n)
{
    for (;;) {
        hak_tls_t *t = hak_thread;
        hak_bin_t *b = &t->bins[cls];
        void *p = b->head;
        if (HAK_LIKELY(p != NULL)) {          /* a block in the bin: the thread is set up */
            b->head = hak_link_get(p);
            b->room++;
#if HAK_HAS_STATS
            hak_counter_add_owned(&b->allocs, 1);
#endif
        } else {
            p = hak_alloc_class_slow(cls, n);
            if (!p || !hak_ss_contains(p))
                return p;     /* out of memory, or the system allocator's block for a tier switched off */
            t = hak_thread->state == HAK_TLS_ACTIVE ? hak_thread : NULL;
        }
        if (HAK_LIKELY(arm_slab_block(t, p, cls, n)))
            return p;
    }
}

void *hak_hard_alloc_class(unsigned cls, size_t n) { return alloc_class(cls, n); }

void *hak_hard_arm_large(void *p, size_t n)
{
    size_t map = p ? hak_large_usable(p) : 0;
    if (map)
        hak_block_arm(p, map, n);
    return p;
}

static void *alloc_large(size_t n)
{
    if (n > HAK_TAG_SIZE_MAX - HAK_TAG) {          /* 1 TiB: more than a tag records */
        errno = ENOMEM;
        return NULL;
    }
    return hak_hard_arm_large(hak_alloc_slow(n + HAK_TAG), n);
}

void *hak_hard_malloc(size_t n)
{
    if (HAK_LIKELY(n - 1 < HAK_SMALL_MAX - HAK_TAG))    /* 1 .. SMALL_MAX - TAG: a slab block */
        return alloc_class(hak_size_class(n + HAK_TAG), n);
#if HAK_FEATURE_ZERO_FAULT
    if (n == 0 && hak_hard.zero_fault) {
        HEAP_COUNT(hard_zero_blocks, 1);
        return hak_zero_block();
    }
#endif
    if (n == 0)
        return alloc_class(hak_size_class(HAK_TAG), 0);
    return alloc_large(n);
}

void *hak_hard_calloc(size_t total)
{
    if (total > HAK_SMALL_MAX - HAK_TAG) {
        hak_ensure_init();
        if (total <= HAK_TAG_SIZE_MAX - HAK_TAG && hak_tune.tier_on[HAK_TIER_LARGE])   /* only a reused block is cleared */
            return hak_hard_arm_large(hak_large_calloc(total + HAK_TAG), total);
    }
    void *p = hak_hard_malloc(total);
    if (p && total)
        memset(p, 0, total);
    return p;
}

/* ---- free ---------------------------------------------------------------------------------------- */

void hak_hard_drain(hak_tls_t *t)
{
#if HAK_FEATURE_QUARANTINE
    if (t->state != HAK_TLS_ACTIVE)
        return;
    for (uint32_t i = 0; i < hak_hard.quarantine; i++) {
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

void hak_hard_thread_exit(hak_tls_t *t)
{
    hak_hard_drain(t);
#if HAK_HAS_STATS
    hak_heap_stats_t *st = &t->heap->st;
    hak_counter_add(&st->hard_quarantined, hak_counter_get(&t->hard.quarantined));
    hak_counter_add(&st->hard_poison_checked, hak_counter_get(&t->hard.poison_checked));
    hak_counter_add(&st->hard_canary_bytes, hak_counter_get(&t->hard.canary_bytes));
#endif
}

/* The size asked for of a live large block p (`map` bytes), or SIZE_MAX after a report. */
static size_t check_large(const char *what, const void *p, size_t map)
{
    uint64_t t = hak_tag_get(p, map);
    size_t n = hak_tag_size(t);
    if (HAK_UNLIKELY(!hak_tag_is(t, HAK_BLOCK_LIVE) || n > map - HAK_TAG || !canary_ok(NULL, p, map, n))) {
        report_tail(what, p, map, HAK_NO_CLASS);
        return SIZE_MAX;
    }
    return n;
}

/* A free of p that is not a slab block: a zero-size block, a large block, the system allocator's. */
static HAK_COLD void free_other(const char *what, void *p)
{
#if HAK_FEATURE_ZERO_FAULT
    if (hak_zero_contains(p))
        return;
#endif
    size_t map = hak_large_usable(p);
    if (map && check_large(what, p, map) == SIZE_MAX)
        return;            /* kept (report action): its neighbours may be damaged too */
    hak_free_slow(p);      /* large, the system allocator's, or reported as invalid there */
}

/* The checks of a slab block's free: a live block whose tail and the tag below it are intact. Returns
 * its requested size, or SIZE_MAX (reported) when it must not be freed. */
ALWAYS_INLINE size_t check_slab_free(hak_tls_t *t, const char *what, void *p, hak_superslab_t *ss, unsigned cls)
{
    if (HAK_UNLIKELY(cls == HAK_NO_CLASS || ((uintptr_t)p & 15))) {
        bad_block(what, p, ss, cls);
        return SIZE_MAX;
    }
    size_t size = hak_class_size[cls];
    uint64_t tag = hak_tag_get(p, size);
    size_t n = hak_tag_size(tag);
    if (HAK_UNLIKELY(!hak_tag_is(tag, HAK_BLOCK_LIVE) || n > size - HAK_TAG)) {
        bad_block(what, p, ss, cls);
        return SIZE_MAX;
    }
    if (HAK_UNLIKELY(!canary_ok(t, p, size, n))) {
        report_tail(what, p, size, cls);
        return SIZE_MAX;
    }
    if (HAK_UNLIKELY(!below_ok(p, size))) {
        report_below(what, p, cls, n);
        return SIZE_MAX;
    }
    return n;
}

ALWAYS_INLINE void release_slab_block(hak_tls_t *t, void *p, unsigned cls, size_t n)
{
    size_t size = hak_class_size[cls];
#if HAK_FEATURE_FREE_CHECK
    hak_tag_set(p, size, n, HAK_BLOCK_FREED);   /* the size stays: a double free names it */
#else
    (void)n;
#endif
#if HAK_FEATURE_POISON
    /* from the first byte: the link word is written only when the block leaves the quarantine */
    size_t end = poison_end(size);
    for (size_t k = 0; k < end; k += 16)
        memcpy((char *)p + k, &POISON_LANE, 16);
#else
    (void)size;
#endif
#if HAK_FEATURE_QUARANTINE
    if (t && hak_hard.quarantine) {
        uint32_t i = t->quarantine_next;
        void *out = t->quarantine[i];
        t->quarantine[i] = p;
        t->quarantine_next = i + 1 == hak_hard.quarantine ? 0 : i + 1;
        THREAD_COUNT(t, quarantined, 1);
        if (!(p = out))
            return;
        cls = hak_block_class(p);
#if HAK_FEATURE_POISON
        /* the word the link will cover, written to while the block waited */
        if (HAK_UNLIKELY(hak_load64(p) != HAK_POISON_WORD) && poison_end(hak_class_size[cls])) {
            hak_tag_set(p, hak_class_size[cls], 0, HAK_BLOCK_LEAKED);
            report_poison("free()", p, cls, 0, 8);
            return;
        }
#endif
    }
#else
    (void)t;
#endif
    if (!hak_bin_push(cls, p))    /* a block of ours: no map lookup again */
        hak_free_slow(p);
}

ALWAYS_INLINE void free_checked(const char *what, void *p)
{
    if (HAK_UNLIKELY(!hak_ss_contains(p))) {
        if (p)
            free_other(what, p);
        return;
    }
    hak_tls_t *t = hak_thread;
    if (HAK_UNLIKELY(t->state != HAK_TLS_ACTIVE))
        t = NULL;     /* no cache to count in or to hold a quarantine: a thread starting or exiting */
    hak_superslab_t *ss = hak_ss_of(p);
    unsigned cls = ss->unit_class[hak_ss_unit(p)];
    size_t n = check_slab_free(t, what, p, ss, cls);
    if (HAK_LIKELY(n != SIZE_MAX))
        release_slab_block(t, p, cls, n);
}

void hak_hard_free(void *p) { free_checked("free()", p); }

/* The size the program asked for of p, a live block of ours; SIZE_MAX when it is not one. */
static size_t live_size(const void *p)
{
    size_t room;
    if (hak_ss_contains(p)) {
        unsigned cls = hak_ss_of(p)->unit_class[hak_ss_unit(p)];
        if (cls == HAK_NO_CLASS || ((uintptr_t)p & 15))
            return SIZE_MAX;
        room = hak_class_size[cls];
    } else if (!p || !(room = hak_large_usable(p))) {
        return SIZE_MAX;
    }
    uint64_t t = hak_tag_get(p, room);
    return hak_tag_is(t, HAK_BLOCK_LIVE) && hak_tag_size(t) <= room - HAK_TAG ? hak_tag_size(t) : SIZE_MAX;
}

void hak_hard_free_sized(void *p, size_t n)
{
    size_t asked = live_size(p);
    if (HAK_UNLIKELY(asked != SIZE_MAX && asked != n)) {
        char where[48];
        unsigned cls = hak_ss_contains(p) ? hak_block_class(p) : HAK_NO_CLASS;
        block_where(where, (int)sizeof where, cls);
        if (cls != HAK_NO_CLASS)
            hak_snprintf(where + strlen(where), (int)(sizeof where - strlen(where)), ", %u B", hak_class_size[cls]);
        hak_hard_error("operator delete(): size mismatch for %p: %zu bytes given, the block is %zu bytes (%s)", p, n,
                       asked, where);
        return;
    }
    free_checked("operator delete()", p);
}

/* ---- the rest of the family ------------------------------------------------------------------------ */

int hak_hard_owns(const void *p)
{
    if (!p)
        return 0;
    if (hak_ss_contains(p))
        return hak_ss_of(p)->unit_class[hak_ss_unit(p)] != HAK_NO_CLASS;
    return hak_zero_contains(p) || hak_large_usable(p) != 0;
}

size_t hak_hard_usable(const void *p)
{
    size_t n = live_size(p);
    return n == SIZE_MAX ? 0 : n;
}

void *hak_hard_realloc(void *p, size_t n)
{
    if (hak_zero_contains(p))
        return hak_hard_malloc(n);
    if (n > HAK_TAG_SIZE_MAX - HAK_TAG) {
        errno = ENOMEM;
        return NULL;
    }
    size_t room, old;
    if (hak_ss_contains(p)) {
        hak_superslab_t *ss = hak_ss_of(p);
        unsigned cls = ss->unit_class[hak_ss_unit(p)];
        old = check_slab_free(NULL, "realloc()", p, ss, cls);
        room = cls == HAK_NO_CLASS ? 0 : hak_class_size[cls];
    } else {
        room = hak_large_usable(p);
        old = check_large("realloc()", p, room);
    }
    if (old == SIZE_MAX) {
        errno = EINVAL;
        return NULL;
    }
    /* in place while it fits and is not worth a smaller block */
    if (n + HAK_TAG <= room && n + HAK_TAG > room / 2) {
        hak_block_arm(p, room, n);
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
