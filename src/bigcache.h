/* bigcache.h — freed large blocks kept mapped, by size, so repeated large allocations avoid mmap/munmap
 * and (while warm) page faults.
 *
 * Blocks are filed under a size key in a dynamic hash table (FNV-1a over the key, 256 buckets growing
 * by doubling when the number of distinct keys passes 3/4 of the buckets). Keys are size classes:
 * page granularity up to 128 KiB, then 32 classes per doubling (steps of at most 1/32), and large
 * allocations are rounded up to a class so freed blocks match later requests exactly.
 *
 * A request of n bytes may be served by a cached block of up to n * W_MAX bytes; which of the
 * candidates wins is the lookup strategy. Both live in hak_bigcache_policy so the learners
 * (src/learn/: W_MAX learning, ELO strategy selection) can steer them at run time through the
 * setters below; they are plain atomics, safe to change from any thread at any moment. */
#ifndef HAK_BIGCACHE_H
#define HAK_BIGCACHE_H

#include <stddef.h>
#include <stdint.h>
#include <stdatomic.h>

/* How a lookup picks among the cached blocks in [n, n * W_MAX]. */
typedef enum hak_bc_strategy {
    HAK_BC_BEST_FIT = 0,   /* smallest class that fits (least waste); the default */
    HAK_BC_EXACT,          /* only the request's own class (W_MAX ignored) */
    HAK_BC_LARGEST_FIT,    /* largest class within W_MAX (keeps small blocks for small requests) */
    HAK_BC_STRATEGY_COUNT
} hak_bc_strategy_t;

typedef struct hak_bigcache_policy {
    _Atomic uint32_t wmax_milli;   /* W_MAX x 1000: 2000 = a block up to 2x the request may serve it */
    _Atomic int strategy;          /* hak_bc_strategy_t */
} hak_bigcache_policy_t;

extern hak_bigcache_policy_t hak_bigcache_policy;

/* 2.0 rather than a tighter window: on the 64 KiB-1 MiB churn it needs fewer distinct blocks, so fewer
 * fresh pages fault in and the peak RSS is lower (46 MiB vs 63 MiB at 1.25; docs/MEMORY.md). */
#define HAK_BC_WMAX_DEFAULT 2.0

static inline void hak_bigcache_set_wmax(double w)
{
    if (w < 1.0)
        w = 1.0;
    if (w > 64.0)
        w = 64.0;
    atomic_store_explicit(&hak_bigcache_policy.wmax_milli, (uint32_t)(w * 1000.0 + 0.5), memory_order_relaxed);
}
static inline double hak_bigcache_wmax(void)
{
    return atomic_load_explicit(&hak_bigcache_policy.wmax_milli, memory_order_relaxed) / 1000.0;
}
static inline void hak_bigcache_set_strategy(int s)
{
    if (s >= 0 && s < HAK_BC_STRATEGY_COUNT)
        atomic_store_explicit(&hak_bigcache_policy.strategy, s, memory_order_relaxed);
}
static inline int hak_bigcache_strategy(void)
{
    return atomic_load_explicit(&hak_bigcache_policy.strategy, memory_order_relaxed);
}
const char *hak_bigcache_strategy_name(int s);
/* Changes whenever W_MAX or the strategy does (never 0): lets a caller keep results derived from them. */
static inline uint32_t hak_bigcache_policy_version(void)
{
    return atomic_load_explicit(&hak_bigcache_policy.wmax_milli, memory_order_relaxed) << 2 |
           (uint32_t)hak_bigcache_strategy();
}

/* Size a large mapping should have for a request of n bytes (page-rounded, rounded up to its class). */
size_t hak_bigcache_round(size_t n);

/* The configured caps: total cached bytes, and the largest block kept. */
void hak_bigcache_caps(size_t *max_bytes, size_t *max_block);
/* Bytes and blocks in the table now (read without the lock). */
size_t hak_bigcache_cached_bytes(void);
size_t hak_bigcache_cached_blocks(void);
/* Evict the oldest blocks until the table and the threads' stashes fit the byte cap together. */
void hak_bigcache_make_room(void);
/* The requests n a cached block of `size` bytes may serve, [*lo, *hi], by the same rule as a lookup
 * (W_MAX window, strategy): for a cache in front of this one that checks requests against one block. */
void hak_bigcache_serve_range(size_t size, size_t *lo, size_t *hi);

/* Configuration (from hak_cfg in hak_tuning_init): byte cap and largest block kept. */
void hak_bigcache_configure(size_t max_bytes, size_t max_block);

/* A cached block of at least n bytes (within W_MAX), or NULL. *size receives its size; *zeroed is 1
 * when its pages are known to read as zero (released with MADV_DONTNEED), so calloc may skip memset. */
void *hak_bigcache_get(size_t n, size_t *size, int *zeroed);

/* What a lookup for n bytes would serve under each strategy, taking nothing: for strategy s, size[s] is
 * the block's size (0: a miss) and released[s] is 1 when its pages were released and fault in again. The
 * ELO selector trials strategies on these previews, never on the program's requests: a strategy that
 * misses maps a block the cache then keeps, so a trial played for real costs memory for good. */
void hak_bigcache_preview(size_t n, size_t size[HAK_BC_STRATEGY_COUNT], int released[HAK_BC_STRATEGY_COUNT]);

/* Offer a freed block [p, p + size). Returns 1 when kept; 0 when the caller must unmap it. */
int hak_bigcache_put(void *p, size_t size);

/* Decay pass: release (madvise) warm blocks idle for at least decay_ns (0: all of them). Returns the
 * warm bytes still waiting. */
size_t hak_bigcache_decay(uint64_t now_ns, uint64_t decay_ns);

/* Unmap everything cached (malloc_trim); returns bytes unmapped. */
size_t hak_bigcache_flush(void);

/* Counters as a JSON object body: "bigcache":{...} (no surrounding braces). */
size_t hak_bigcache_stats_json(char *buf, size_t len);

void hak_bigcache_fork_lock(void);
void hak_bigcache_fork_unlock(void);
void hak_bigcache_fork_child(void);

#endif
