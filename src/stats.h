/* stats.h — what the allocator counts and how it reports it (HAKMEM_STATS_*).
 *
 * Counting: per-thread counters in each cache bin (allocs; frees are derived, heap.h) and in each
 * heap (refills = cache misses, flushes, remote frees, slabs), written by their owner with plain
 * relaxed stores and merged on demand; nothing shared is touched per malloc. Modes without the stats feature compile the bin
 * counters out (HAK_HAS_STATS 0) and their fast paths carry no counting at all.
 *
 * Reports: text to stderr at exit (HAKMEM_STATS_ENABLE, HAKMEM_STATS_DUMP, HAKMEM_STATS_VERBOSE),
 * every HAKMEM_STATS_INTERVAL_SEC seconds from a background thread started lazily on a slow path
 * after start-up (hak_stats_poll), and JSON (HAKMEM_STATS_FILE at exit, hak_stats_json() on demand).
 *
 * Other subsystems contribute sections through hidden weak functions that stats.c calls when they
 * are linked in: hak_memory_stats_json (BigCache, decay, THP, SuperSlab members, src/decay.c) and
 * hak_learn_report_text / hak_learn_report_json (src/learn/). */
#ifndef HAK_STATS_H
#define HAK_STATS_H

#include "heap.h"

typedef struct hak_usage {
    size_t mapped_bytes;   /* everything hakmem has mapped */
    size_t small_bytes;    /* slab blocks outside their slabs (in use or cached per thread) */
    size_t large_bytes;    /* live large blocks */
} hak_usage_t;

hak_usage_t hak_usage(void);

/* The merged counters in the shape the glibc extras (malloc_stats, malloc_info) print. Per-class and
 * per-tier small counts are zero unless the mode compiles stats in (HAK_HAS_STATS); the large tier,
 * usage and peaks are known in every mode. */
typedef struct hak_stats_view {
    uint64_t allocs[HAK_NCLASS], frees[HAK_NCLASS], misses[HAK_NCLASS], in_use[HAK_NCLASS];
    uint64_t tier_allocs[HAK_TIER_COUNT], tier_frees[HAK_TIER_COUNT], tier_misses[HAK_TIER_COUNT];
    uint64_t tier_in_use[HAK_TIER_COUNT];
    uint64_t heaps, slabs_live, remote_frees;
    uint64_t peak_in_use, peak_mapped;
    hak_usage_t usage;
} hak_stats_view_t;

/* Fills v under the report lock (released on return: the caller may then allocate). */
void hak_stats_view(hak_stats_view_t *v);

void hak_stats_init(void);                               /* start-up: exit report, interval reports */
void hak_stats_fold_thread(hak_heap_t *h, hak_tls_t *t); /* thread exit: keep its counters */

/* 1 while the interval thread should be started (the slow path polls it, then calls start). */
extern _Atomic int hak_stats_pending;
void hak_stats_start_thread(void);

/* Start the interval thread if it is due. Polled where every program passes soon after start-up and
 * that is slow anyway: a bin's refill, a large block that is not reused, a tier switched off. */
static inline void hak_stats_poll(void)
{
#if HAK_HAS_STATS
    if (HAK_UNLIKELY(atomic_load_explicit(&hak_stats_pending, memory_order_relaxed)))
        hak_stats_start_thread();
#endif
}

#endif
