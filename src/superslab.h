/* superslab.h — 2 MiB aligned spans carved into per-class slabs; a block's metadata is found from its address. */
#ifndef HAK_SUPERSLAB_H
#define HAK_SUPERSLAB_H

#include "common.h"
#include "size_class.h"

struct hak_heap;

enum hak_slab_where { HAK_LIST_NONE, HAK_LIST_PARTIAL, HAK_LIST_FULL };

typedef struct hak_slab {
    void *free;                    /* local free list; touched by the owning heap only */
    /* Blocks freed by other threads: a lock-free stack and its exact length in one word (hak_remote_*),
     * so the owner takes both with one exchange and never walks the list to count or to find its end.
     * The thread whose push makes the word non-zero also queues the slab on its owner heap's `ready`
     * stack (through ready_next); the owner drains a slab only after taking it from there (`notified`),
     * so a slab it learns about stays alive until the queuing thread is done with it. */
    _Atomic uintptr_t remote;
    struct hak_slab *ready_next;
    char *start;                   /* first block */
    uint32_t block_size;
    uint32_t capacity;             /* blocks the slab holds */
    uint32_t carved;               /* blocks taken from the never-used tail so far (0 again once all are back) */
    uint32_t carved_max;           /* most blocks ever carved: below it a pointer was handed out once */
    uint32_t free_count;           /* blocks on `free` */
    uint32_t used;                 /* blocks outside the slab: with the program or in a thread cache */
    uint16_t cls;
    uint8_t units;
    uint8_t list;                  /* enum hak_slab_where: which list of the owner holds it */
    uint8_t notified;              /* owner only: taken from the ready stack, remote frees not drained yet */
    struct hak_slab *next, *prev;  /* in the owner's partial or full list of this class */
} hak_slab_t;

/* The remote word: the stack's head in the low 48 bits (every SuperSlab lies below 2^47), its length in
 * the high 16 (a slab holds at most 64 KiB / 16 B = 4096 blocks). */
#define HAK_REMOTE_SHIFT 48
_Static_assert(HAK_UNIT_SIZE / 16 < (1u << (64 - HAK_REMOTE_SHIFT)), "remote count must fit its bits");

static inline void *hak_remote_head(uintptr_t w)
{
    return (void *)(w & (((uintptr_t)1 << HAK_REMOTE_SHIFT) - 1));
}

static inline uint32_t hak_remote_count(uintptr_t w)
{
    return (uint32_t)(w >> HAK_REMOTE_SHIFT);
}

typedef struct hak_superslab {
    uint8_t unit_class[HAK_UNITS]; /* first: read by every free; HAK_NO_CLASS where no slab lives */
    uint8_t unit_head[HAK_UNITS];  /* first unit of the slab that covers each unit */
    uint64_t magic;
    _Atomic(struct hak_heap *) owner;
    uint32_t units_used;           /* bitmap of units that belong to a slab (bit 0: header unit) */
    uint32_t slabs_live;
    struct hak_superslab *next, *prev; /* owner's list, or the global cache */
    /* Memory return (decay.c): units of destroyed slabs whose pages may still be resident wait in a
     * global queue until decay_ms has passed; `lock` guards the unit bitmaps against the decay pass. */
    _Atomic int lock;
    uint32_t units_dirty;          /* free units not yet released */
    uint32_t units_busy;           /* free units being released right now: not to be claimed */
    _Atomic int dq_linked;         /* on the dirty queue */
    uint64_t dirty_since;          /* when the oldest dirty unit was freed */
    uint64_t cached_since;         /* in the global cache: when it arrived */
    uint32_t cache_released;       /* in the global cache: its pages were given back */
    uint32_t thp_huge;             /* advised MADV_HUGEPAGE (a property of the mapping: kept by ss_init) */
    struct hak_superslab *dq_next, *dq_prev;
    hak_slab_t slabs[HAK_UNITS];   /* valid at each slab's first unit */
} hak_superslab_t;

_Static_assert(sizeof(hak_superslab_t) <= HAK_PAGE, "SuperSlab header must fit its page");

#define HAK_SS_MAGIC 0x68616b6d656d5353ull  /* "hakmemSS" */

/* One byte per 2 MiB of the 47-bit user address space: is a SuperSlab there? 64 MiB of address
 * space in .bss, of which only the pages covering our own SuperSlabs are ever touched. */
#define HAK_SSMAP_SIZE ((uint64_t)1 << (47 - HAK_SS_SHIFT))
extern _Atomic uint8_t hak_ssmap[HAK_SSMAP_SIZE];

/* 1 when p lies in one of our SuperSlabs. Never dereferences p. */
static inline int hak_ss_contains(const void *p)
{
    uintptr_t s = (uintptr_t)p >> HAK_SS_SHIFT;
    return HAK_LIKELY(s < HAK_SSMAP_SIZE) && atomic_load_explicit(&hak_ssmap[s], memory_order_relaxed);
}

static inline hak_superslab_t *hak_ss_of(const void *p)
{
    return (hak_superslab_t *)((uintptr_t)p & ~(HAK_SS_SIZE - 1));
}

static inline hak_superslab_t *hak_ss_lookup(const void *p)
{
    return hak_ss_contains(p) ? hak_ss_of(p) : NULL;
}

static inline unsigned hak_ss_unit(const void *p)
{
    return (unsigned)(((uintptr_t)p >> HAK_UNIT_SHIFT) & (HAK_UNITS - 1));
}

static inline hak_slab_t *hak_ss_slab(hak_superslab_t *ss, const void *p)
{
    return &ss->slabs[ss->unit_head[hak_ss_unit(p)]];
}

/* 1 when p is exactly the start of a block of a live slab (the trust check integrity mode uses). */
int hak_ss_is_block_start(hak_superslab_t *ss, const void *p);

/* Up to HAK_SS_BATCH_MAX SuperSlabs for a heap that owns `owned` already and needs room for class
 * `cls`: several at once (one mmap) when the POOL arena reservation of the heap has grown (pool_arena
 * knobs). Returns how many were stored in out[] (0: ENOMEM). */
#define HAK_SS_BATCH_MAX 32
unsigned hak_ss_create_batch(struct hak_heap *owner, unsigned cls, unsigned owned, hak_superslab_t **out);
void hak_ss_destroy(hak_superslab_t *ss);            /* to the cache of empty SuperSlabs, or unmapped */
/* superslab_reuse: 1 when the heap whose SuperSlab list starts at `list` should keep the empty `ss`
 * as a spare for any size class instead of giving it back. */
int hak_ss_keep_spare(hak_superslab_t *list, hak_superslab_t *ss);
/* Configuration from hak_tuning_init (cache caps, lazy, reuse, arena, prewarm). */
void hak_ss_configure(void);
/* Decay pass (decay.c): release cached SuperSlabs and free units idle for decay_ns; returns 1 when
 * some still wait. */
size_t hak_ss_decay(uint64_t now_ns, uint64_t decay_ns);
size_t hak_ss_stats_json(char *buf, size_t len);
void hak_ss_fork_child(void);
/* A slab of class cls in ss, NULL when no room. With cold_fit, only on units a destroyed slab left
 * resident (or any unit of a still-resident SuperSlab taken back from the cache); when none fit,
 * *cold_fit says whether other free units would. */
hak_slab_t *hak_ss_slab_create(hak_superslab_t *ss, unsigned cls, int *cold_fit);
void hak_ss_slab_destroy(hak_superslab_t *ss, hak_slab_t *slab);
/* Put ss on the decay pass's queue (its owner, after marking units dirty: slab destruction, or a
 * still-resident SuperSlab hak_ss_create_batch took from the cache, once its first slab is carved). */
void hak_ss_queue_dirty(hak_superslab_t *ss);

/* Empty SuperSlabs kept mapped for reuse (0: unmap at once). */
extern unsigned hak_ss_cache_cap;
size_t hak_ss_cache_trim(size_t keep);               /* unmap all but `keep`; returns bytes released */
size_t hak_ss_cached_count(void);
size_t hak_ss_live_count(void);                      /* SuperSlabs mapped now (cached ones included) */
void hak_ss_fork_lock(void);
void hak_ss_fork_unlock(void);

#endif
