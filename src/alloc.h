/* alloc.h — the fast paths: a cache-bin pop for malloc, a cache-bin push for free; everything else is out of line. */
#ifndef HAK_ALLOC_H
#define HAK_ALLOC_H

#include "heap.h"

void *hak_alloc_slow(size_t n);
void  hak_free_slow(void *p);

static inline void *hak_alloc_fast(size_t n)
{
    if (HAK_LIKELY(n <= HAK_SMALL_MAX)) {
        hak_bin_t *b = &hak_tls.bins[hak_size_class(n)];
        void *p = b->head;
        if (HAK_LIKELY(p != NULL)) {
            b->head = *(void **)p;
            b->count--;
#if HAK_HAS_STATS
            hak_counter_add(&b->allocs, 1);
#endif
            return p;
        }
    }
    return hak_alloc_slow(n);
}

static inline void hak_free_fast(void *p)
{
    hak_superslab_t *ss = hak_ss_lookup(p);   /* NULL for NULL, foreign and large pointers */
    if (HAK_LIKELY(ss != NULL)) {
        hak_bin_t *b = &hak_tls.bins[ss->unit_class[hak_ss_unit(p)]];
        if (HAK_LIKELY(b->count < b->cap)) {
            *(void **)p = b->head;
            b->head = p;
            b->count++;
#if HAK_HAS_STATS
            hak_counter_add(&b->frees, 1);
#endif
            return;
        }
    }
    hak_free_slow(p);
}

#endif
