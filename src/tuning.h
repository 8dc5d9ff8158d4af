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
    int drain_eager;              /* drain remote frees on every refill, not only when a slab runs dry */
    int integrity;                /* canaries and double/invalid free checks (every op takes the slow path) */
    int checked;                  /* integrity, tracing or ASan: caches off, slow paths check/record/poison */
} hak_tuning_t;

extern hak_tuning_t hak_tune;

/* Fill hak_tune from hak_cfg (after hak_config_load). */
void hak_tuning_init(void);

#endif
