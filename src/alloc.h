/* alloc.h — the fast paths: a cache-bin pop for malloc, a cache-bin push for free; everything else is out of line. */
#ifndef HAK_ALLOC_H
#define HAK_ALLOC_H

#include "heap.h"

/* With stats, GCC otherwise rebuilds the bin's TLS address for the counter's atomic access; an empty
 * asm makes it reuse the pointer it has (no instruction, no change to what is read or written). */
#if HAK_HAS_STATS
#define HAK_BIN_IN_REG(b) __asm__("" : "+r"(b))
#else
#define HAK_BIN_IN_REG(b) ((void)0)
#endif

void *hak_alloc_slow(size_t n);
void  hak_free_slow(void *p);

static inline void *hak_alloc_fast(size_t n)
{
    unsigned c;
    if (HAK_LIKELY(n <= 1024))
        c = hak_class_small[(n + 15) >> 4];
    else if (n <= HAK_SMALL_MAX)
        c = hak_size_class(n);
    else
        return hak_alloc_slow(n);
    hak_bin_t *b = &hak_thread->bins[c];
    HAK_BIN_IN_REG(b);
    void *p = b->head;
    if (HAK_LIKELY(p != NULL)) {
        b->head = *(void **)p;
        b->room++;
#if HAK_HAS_STATS
        hak_counter_add(&b->allocs, 1);
#endif
        return p;
    }
    return hak_alloc_slow(n);
}

static inline void hak_free_fast(void *p)
{
    if (HAK_LIKELY(hak_ss_contains(p))) {      /* false for NULL, foreign and large pointers */
        hak_bin_t *b = &hak_thread->bins[hak_ss_of(p)->unit_class[hak_ss_unit(p)]];
        HAK_BIN_IN_REG(b);
        if (HAK_LIKELY(b->room != 0)) {
            *(void **)p = b->head;
            b->head = p;
            b->room--;
#if HAK_HAS_STATS
            hak_counter_add(&b->frees, 1);
#endif
            return;
        }
    }
    hak_free_slow(p);
}

#endif
