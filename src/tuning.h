/* tuning.h — values derived from the configuration once at start-up, in the shape the hot paths want. */
#ifndef HAK_TUNING_H
#define HAK_TUNING_H

#include "common.h"
#include "size_class.h"

typedef struct hak_tuning {
    uint32_t cap[HAK_NBINS];      /* thread-cache capacity per class (0: bypass the cache) */
    uint32_t refill[HAK_NCLASS];  /* blocks one refill brings */
    int tier_on[HAK_TIER_COUNT];  /* HAKMEM_WRAP_*: 0 sends the tier to the system allocator */
    int splice;                   /* take a slab's whole free list at once when it fits (P0 batch) */
    uint32_t splice_max;          /* longest free list one splice takes (HAKMEM_TINY_P0_BATCH) */
    int no_drain;                 /* never drain remote frees on refill (HAKMEM_TINY_P0_NO_DRAIN, debugging) */
    int p0_log;                   /* report the refill counters at exit (HAKMEM_TINY_P0_LOG) */
    uint32_t drain_thresh;        /* drain a slab's remote frees once this many wait (0: whenever any wait) */
    int adaptive_drain;           /* per heap: drain eagerly while most refilled blocks are remote frees */
    int cache_tuning;             /* grow a bin's capacity each time it overflows (experimental) */
    int verify_free;              /* TINY frees are checked against slab metadata (HAKMEM_TINY_HEADER_CLASSIDX=0) */
    int integrity;                /* canaries and double/invalid free checks (every op takes the slow path) */
    int learn_large;              /* large-block lookups feed the learners (W_MAX trials, ELO not frozen) */
    int checked;                  /* integrity, tracing or ASan: caches off, slow paths check/record/poison */
} hak_tuning_t;

extern hak_tuning_t hak_tune;

/* Fill hak_tune from hak_cfg (after hak_config_load). */
void hak_tuning_init(void);

#endif
