/* common.h — build switches, constants and small helpers shared by every allocator file. */
#ifndef HAK_COMMON_H
#define HAK_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdatomic.h>

#include "hak_mode.h"   /* generated: HAK_FEATURE_*, hak_config_t, HAK_DEFAULT_* */

#define HAK_LIKELY(x)   __builtin_expect(!!(x), 1)
#define HAK_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define HAK_EXPORT      __attribute__((visibility("default")))
#define HAK_NOINLINE    __attribute__((noinline))
#define HAK_COLD        __attribute__((cold, noinline))
/* Initial-exec: the fast path reads it with no call. Scalars only (a pointer, flags): the whole
 * static TLS must stay within glibc's surplus for dlopen (tests/core/test_dlopen.py). */
#define HAK_TLS         __thread __attribute__((tls_model("initial-exec")))

#ifndef HAK_DEBUG
#define HAK_DEBUG 0
#endif
#ifndef HAK_INTERPOSE
#define HAK_INTERPOSE 0
#endif
#ifndef HAK_VARIANT_NAME
#define HAK_VARIANT_NAME "release"
#endif
#ifndef HAK_SANITIZER_ADDRESS
#define HAK_SANITIZER_ADDRESS 0
#endif
#ifndef HAK_SANITIZER_THREAD
#define HAK_SANITIZER_THREAD 0
#endif

/* The hardened block path (src/hardened/) wraps malloc and free: a state and size tag per block,
 * quarantine, poisoning or zero-size blocks. Its checks replace the integrity feature's canaries. */
#define HAK_HARDENED (HAK_FEATURE_FREE_CHECK || HAK_FEATURE_OVERFLOW_CHECK || HAK_FEATURE_QUARANTINE || \
                      HAK_FEATURE_POISON || HAK_FEATURE_ZERO_FAULT)
/* Any of the hardened mode's features (src/hardened/): their counters go into the stats report. */
#define HAK_HARDENING (HAK_HARDENED || HAK_FEATURE_ENCODED_LINKS || HAK_FEATURE_GUARD_PAGES || \
                       HAK_FEATURE_SHUFFLE || HAK_FEATURE_NX_HEAP)
#if HAK_HARDENED && !HAK_FEATURE_FREE_CHECK
#error "quarantine, poison, overflow_check and zero_fault need free_check: the block tag it keeps"
#endif

/* The debug variant compiles integrity checks in whatever the mode says (the hardened checks instead
 * where the mode has them). */
#define HAK_HAS_INTEGRITY ((HAK_FEATURE_INTEGRITY || HAK_DEBUG) && !HAK_HARDENED)
#define HAK_HAS_STATS     (HAK_FEATURE_STATS)

/* Geometry: 2 MiB SuperSlabs made of 64 KiB units; a slab spans 1, 4 or 8 units. */
#define HAK_SS_SHIFT    21
#define HAK_SS_SIZE     ((uintptr_t)1 << HAK_SS_SHIFT)
#define HAK_UNIT_SHIFT  16
#define HAK_UNIT_SIZE   ((uintptr_t)1 << HAK_UNIT_SHIFT)
#define HAK_UNITS       (HAK_SS_SIZE / HAK_UNIT_SIZE)     /* 32 */
#define HAK_PAGE        4096
/* guard_pages: the page after the header and the SuperSlab's last page are inaccessible. */
#define HAK_SS_GUARD    (HAK_FEATURE_GUARD_PAGES ? HAK_PAGE : 0)
#define HAK_SS_HEADER   (HAK_PAGE + HAK_SS_GUARD)          /* unit 0 serves blocks after this */

/* Tier limits (inclusive upper bounds). */
#define HAK_TINY_MAX    2048
#define HAK_POOL_MAX    8192
#define HAK_MID_MAX     32768
#define HAK_SMALL_MAX   HAK_MID_MAX                        /* largest slab-served size */
#define HAK_SLAB_ALIGN_MAX 4096                            /* largest alignment slabs honour */

enum hak_tier { HAK_TIER_TINY, HAK_TIER_POOL, HAK_TIER_MID, HAK_TIER_LARGE, HAK_TIER_COUNT };

/* Relaxed counters written by one thread and read by any: plain moves on x86, race-free for TSan. */
typedef _Atomic uint64_t hak_counter_t;
static inline void hak_counter_add(hak_counter_t *c, uint64_t n)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n, memory_order_relaxed);
}
/* hak_counter_add in one instruction where the target allows, for an owner's counters on hot paths:
 * a relaxed reader sees the old or the new value either way. */
static inline void hak_counter_add_owned(hak_counter_t *c, uint64_t n)
{
#if defined(__x86_64__) && !HAK_SANITIZER_THREAD
    __asm__("addq %1, %0" : "+m"(*(uint64_t *)c) : "er"(n));
#else
    hak_counter_add(c, n);
#endif
}
static inline uint64_t hak_counter_get(const hak_counter_t *c)
{
    return atomic_load_explicit((hak_counter_t *)c, memory_order_relaxed);
}

extern hak_config_t hak_cfg;

#endif
