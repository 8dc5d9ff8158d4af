/* stats.h — what the allocator counts and how it reports it (HAKMEM_STATS_*). */
#ifndef HAK_STATS_H
#define HAK_STATS_H

#include "heap.h"

typedef struct hak_usage {
    size_t mapped_bytes;   /* everything hakmem has mapped */
    size_t small_bytes;    /* slab blocks outside their slabs (in use or cached per thread) */
    size_t large_bytes;    /* live large blocks */
} hak_usage_t;

hak_usage_t hak_usage(void);

void hak_stats_init(void);                               /* start-up: exit report, interval reports */
void hak_stats_fold_thread(hak_heap_t *h, hak_tls_t *t); /* thread exit: keep its counters */

#endif
