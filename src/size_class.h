/* size_class.h — request size to size class: 8 classes per doubling, so a block wastes at most 1/9 of itself. */
#ifndef HAK_SIZE_CLASS_H
#define HAK_SIZE_CLASS_H

#include "common.h"

/* 16..128 step 16 (8 classes), then 8 classes in each (2^k, 2^(k+1)] up to 32 KiB. */
#define HAK_NCLASS   72
#define HAK_NO_CLASS HAK_NCLASS       /* marks units that hold no blocks; its cache bin never fills */
#define HAK_NBINS    (HAK_NCLASS + 1)

extern const uint32_t hak_class_size[HAK_NCLASS];
extern const uint8_t hak_class_small[65];   /* class of sizes 0..1024 by (size + 15) >> 4 */

/* The class of a request of n <= 1024 bytes: one load from a small hot table. */
static inline unsigned hak_small_class(size_t n)
{
    return hak_class_small[(n + 15) >> 4];
}

static inline unsigned hak_size_class(size_t n)
{
    if (HAK_LIKELY(n <= 1024))
        return hak_small_class(n);
    /* n in (2^k, 2^(k+1)]: class 8 + 8*(k-7) + ceil((n - 2^k) / 2^(k-3)) - 1 */
    size_t m = n - 1;
    unsigned k = 63u - (unsigned)__builtin_clzl(m);
    return 8u * (k - 7u) + (unsigned)((m >> (k - 3)) & 7u) + 8u;
}

static inline unsigned hak_class_tier(unsigned cls)
{
    uint32_t s = hak_class_size[cls];
    return s <= HAK_TINY_MAX ? HAK_TIER_TINY : s <= HAK_POOL_MAX ? HAK_TIER_POOL : HAK_TIER_MID;
}

/* Units a slab of this class spans: 64 KiB for tiny, 256 KiB for pool, 512 KiB for mid. */
static inline unsigned hak_class_units(unsigned cls)
{
    unsigned t = hak_class_tier(cls);
    return t == HAK_TIER_TINY ? 1u : t == HAK_TIER_POOL ? 4u : 8u;
}

static inline unsigned hak_size_tier(size_t n)
{
    return n <= HAK_TINY_MAX ? HAK_TIER_TINY : n <= HAK_POOL_MAX ? HAK_TIER_POOL
         : n <= HAK_MID_MAX ? HAK_TIER_MID : HAK_TIER_LARGE;
}

#endif
