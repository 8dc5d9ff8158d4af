/* alloc.h — the fast paths: a cache-bin pop for malloc, a cache-bin push for free; everything else is out of line. */
#ifndef HAK_ALLOC_H
#define HAK_ALLOC_H

#include "heap.h"
#include "hardened/links.h"
#include "hardened/hardened.h"

/* With stats, GCC otherwise rebuilds the bin's TLS address for the counter's access; an empty
 * asm makes it reuse the pointer it has (no instruction, no change to what is read or written). */
#if HAK_HAS_STATS
#define HAK_BIN_IN_REG(b) __asm__("" : "+r"(b))
#else
#define HAK_BIN_IN_REG(b) ((void)0)
#endif

void *hak_alloc_slow(size_t n);
/* A block of class cls for a request of n bytes when the bin is empty (the hardened path's refill). */
void *hak_alloc_class_slow(unsigned cls, size_t n);
void  hak_free_slow(void *p);
/* hak_free_slow for a pointer the byte map puts outside every SuperSlab (large, system, NULL, foreign). */
void  hak_free_other(void *p);
/* hak_free_slow after, under integrity checks, verifying that n is the size the block was asked for. */
void  hak_free_sized_slow(void *p, size_t n);

/* Pop a block of class cls from the thread's bin, or NULL when it is empty. */
static inline void *hak_bin_pop(unsigned cls)
{
    hak_bin_t *b = &hak_thread->bins[cls];
    HAK_BIN_IN_REG(b);
    void *p = b->head;
    if (HAK_LIKELY(p != NULL)) {
        b->head = hak_link_get(p);
        b->room++;
#if HAK_HAS_STATS
        hak_counter_add_owned(&b->allocs, 1);
#endif
    }
    return p;
}

static inline void *hak_alloc_fast(size_t n)
{
#if HAK_HARDENED
    return hak_hard_malloc(n);
#else
    unsigned c;
    if (HAK_LIKELY(n <= 1024))
        c = hak_small_class(n);
    else if (n <= HAK_SMALL_MAX)
        c = hak_size_class(n);
    else
        return hak_alloc_slow(n);
    void *p = hak_bin_pop(c);
    if (HAK_LIKELY(p != NULL))
        return p;
    return hak_alloc_slow(n);
#endif
}

/* Push p onto the thread's bin of class cls if it has room: the one push both free fast paths share.
 * 0 sends the caller to its slow path (bin full, or capacity 0: thread not set up, checks on). */
static inline int hak_bin_push(unsigned cls, void *p)
{
    hak_bin_t *b = &hak_thread->bins[cls];
#if HAK_BIN_COUNTS_FREES
    HAK_BIN_IN_REG(b);          /* otherwise there is no counter here, and the push is shorter without */
#endif
    if (HAK_LIKELY(b->room != 0)) {
        hak_link_set(p, b->head);
        b->head = p;
        b->room--;
#if HAK_BIN_COUNTS_FREES
        hak_counter_add(&b->frees, 1);
#endif
        return 1;
    }
    return 0;
}

/* The class of a block of ours, from its SuperSlab's header: the lookup every unsized free makes. */
static inline unsigned hak_block_class(const void *p)
{
    return hak_ss_of(p)->unit_class[hak_ss_unit(p)];
}

/* free of a block with no hardened checks: the bin push, or the slow path. */
static inline void hak_free_raw(void *p)
{
    if (HAK_UNLIKELY(!hak_ss_contains(p))) {   /* NULL, foreign and large pointers */
        hak_free_other(p);
        return;
    }
    if (HAK_LIKELY(hak_bin_push(hak_block_class(p), p)))
        return;
    hak_free_slow(p);
}

static inline void hak_free_fast(void *p)
{
#if HAK_HARDENED
    hak_hard_free(p);
#else
    hak_free_raw(p);
#endif
}

/* C++ sized delete of a block allocated as hak_alloc_fast(n). A slab block of a request of n bytes is
 * of class hak_size_class(n) (the slow path picks the same class; integrity checks, which pad the
 * request, run with capacity 0 and so never reach the push), so up to 1 KiB the size names the bin
 * with one compare and a load from a small hot table, and the block's SuperSlab header is not read.
 * Above 1 KiB the size-to-class arithmetic costs more instructions than the header byte, so the
 * header names it, as for free. The byte map still proves the block is ours: a foreign, large or
 * system block goes to the slow path, which also checks the size under integrity checks. A wrong
 * size is the program's undefined behaviour, as with every allocator that trusts it. */
static inline void hak_free_sized_fast(void *p, size_t n)
{
#if HAK_HARDENED
    hak_hard_free_sized(p, n);
#else
    if (HAK_LIKELY(hak_ss_contains(p))) {
        unsigned cls = HAK_LIKELY(n <= 1024) ? hak_small_class(n) : hak_block_class(p);
        if (HAK_LIKELY(hak_bin_push(cls, p)))
            return;
    }
    hak_free_sized_slow(p, n);
#endif
}

#endif
