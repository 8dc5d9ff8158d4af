/* block.h — what the hardened mode keeps per block: a state byte, a size tag after a canary, poison.
 *
 * A slab block of class size S serving a request of n bytes (n + HAK_TAG <= S):
 *
 *   [0, n)               the program's bytes (the first word holds the encoded link while free)
 *   [n, n + canary)      canary bytes, as many of HAKMEM_CANARY_BYTES as fit before the tag
 *   [S - 8, S)           tag: n << 16, xored with a keyed hash of the block's address
 *
 * A large block has the same tail at the end of its mapping. The tag survives a free (poison stops short
 * of it), so a double free still names the size, and every carved block gets one (n = 0): the 8 bytes
 * before any block are the tag of the one below, so a write before its start is caught at its free.
 *
 * State bytes (free_check) live in a map beside each SuperSlab, one byte per 16-byte granule, indexed by
 * the block's offset: only a block's first granule is ever non-zero. */
#ifndef HAK_HARDENED_BLOCK_H
#define HAK_HARDENED_BLOCK_H

#include "superslab.h"

#include <string.h>

#if HAK_FEATURE_OVERFLOW_CHECK
#define HAK_TAG 8
#else
#define HAK_TAG 0
#endif

enum hak_block_state {
    HAK_BLOCK_NONE = 0,    /* not the start of a block, or never carved */
    HAK_BLOCK_FRESH = 1,   /* carved, never handed out: no poison to verify */
    HAK_BLOCK_FREED = 2,   /* freed: poisoned, waiting in a quarantine, bin or slab */
    HAK_BLOCK_LIVE = 3,    /* with the program */
    HAK_BLOCK_LEAKED = 4,  /* reported and kept out of use (HAKMEM_ERROR_ACTION=report) */
};

/* Run-time settings of the hardened path (from the knobs, at start-up). */
typedef struct hak_hard_tuning {
    uint64_t tag_key;          /* keys the tags and canaries */
    uint32_t canary_bytes;     /* HAKMEM_CANARY_BYTES */
    uint32_t poison_bytes;     /* HAKMEM_POISON_BYTES */
    uint32_t quarantine;       /* HAKMEM_QUARANTINE_BLOCKS */
    int report_only;           /* HAKMEM_ERROR_ACTION=report */
    int zero_fault;            /* HAKMEM_ZERO_FAULT */
    int shuffle;               /* HAKMEM_SHUFFLE */
} hak_hard_tuning_t;

extern hak_hard_tuning_t hak_hard;

#define HAK_POISON_BYTE 0xdb
#define HAK_POISON_WORD 0xdbdbdbdbdbdbdbdbull
#define HAK_STATE_BYTES (HAK_SS_SIZE >> 4)

#if HAK_FEATURE_FREE_CHECK
static inline uint8_t *hak_block_state(const void *p)
{
    hak_superslab_t *ss = hak_ss_of(p);
    return ss->state + (((uintptr_t)p & (HAK_SS_SIZE - 1)) >> 4);
}
#endif

/* ---- tags and canaries ------------------------------------------------------------------------ */

static inline uint64_t hak_tag_hash(const void *p)
{
    return ((uint64_t)(uintptr_t)p ^ hak_hard.tag_key) * 0x9e3779b97f4a7c15ull;
}

/* Canary bytes are in 0x80-0xfe: a text or NUL overrun never matches one. */
static inline uint64_t hak_canary_word(uint64_t h)
{
    return ((h >> 7) | 0x8080808080808080ull) & 0xfefefefefefefefeull;
}

static inline uint64_t hak_load64(const void *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static inline void hak_store64(void *p, uint64_t v) { memcpy(p, &v, 8); }

/* Arm block p of `room` bytes (its class size, or its mapping) for a request of n <= room - HAK_TAG. */
static inline void hak_tag_arm(void *p, size_t room, size_t n)
{
#if HAK_FEATURE_OVERFLOW_CHECK
    char *b = p;
    uint64_t h = hak_tag_hash(p), c = hak_canary_word(h);
    size_t end = room - HAK_TAG;
    /* whole words from n: the last may run into the tag, which is written after them */
    for (size_t k = 0; k < hak_hard.canary_bytes && n + k < end; k += 8)
        hak_store64(b + n + k, c);
    hak_store64(b + end, h ^ ((uint64_t)n << 16));
#else
    (void)p, (void)room, (void)n;
#endif
}

/* The size a tag records, or (size_t)-1 when the tag is not one this block could carry. */
static inline size_t hak_tag_size(const void *p, size_t room)
{
#if HAK_FEATURE_OVERFLOW_CHECK
    uint64_t t = hak_load64((const char *)p + room - HAK_TAG) ^ hak_tag_hash(p);
    if ((t & 0xffff) || (t >> 16) > room - HAK_TAG)
        return (size_t)-1;
    return (size_t)(t >> 16);
#else
    (void)p, (void)room;
    return 0;
#endif
}

/* Offset of the first canary byte of block p (request n, `room` bytes) that differs, or SIZE_MAX. */
static inline size_t hak_canary_broken(const void *p, size_t room, size_t n)
{
#if HAK_FEATURE_OVERFLOW_CHECK
    const unsigned char *b = p;
    uint64_t c = hak_canary_word(hak_tag_hash(p));
    size_t end = room - HAK_TAG, k = 0;
    for (; k < hak_hard.canary_bytes && n + k < end; k += 8) {
        size_t len = end - (n + k) < 8 ? end - (n + k) : 8;
        uint64_t diff = hak_load64(b + n + k) ^ c;
        if (len < 8)
            diff &= ((uint64_t)1 << (len * 8)) - 1;
        if (diff)
            return n + k + (size_t)__builtin_ctzll(diff) / 8;
    }
#else
    (void)p, (void)room, (void)n;
#endif
    return SIZE_MAX;
}

#endif
