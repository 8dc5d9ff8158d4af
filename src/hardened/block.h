/* block.h — what the hardened mode keeps in each block: a tag holding its state and size, a canary
 * before it, poison while it is free.
 *
 * A slab block of class size S serving a request of n bytes (n + HAK_TAG <= S):
 *
 *   [0, n)               the program's bytes (the first word holds the encoded link while free)
 *   [n, n + canary)      canary bytes (overflow_check), as many of HAKMEM_CANARY_BYTES as fit before the tag
 *   [S - 8, S)           tag: 0xa5, state, n (40 bits), 0xa5; the middle six bytes hidden by a keyed hash
 *                        of the block's address
 *
 * A large block has the same tail at the end of its mapping. The tag is the block's state (free_check):
 * a free finds LIVE there or reports what it finds (FREED: a double free; no valid tag at a block's
 * start: an overflow; not a block's start: an invalid pointer), an allocation finds FREED or FRESH. It
 * lives in the block's own last bytes, so a free touches no shared side table. Carved blocks get one
 * (FRESH, n = 0): the 8 bytes below any block are the tag of the one before it, so a write before a
 * block's start is caught at its free. Without the program knowing the key, no value it writes forges
 * a tag but by a chance of 2^-16 times the odds of a size that fits. */
#ifndef HAK_HARDENED_BLOCK_H
#define HAK_HARDENED_BLOCK_H

#include "superslab.h"

#include <string.h>

#if HAK_FEATURE_FREE_CHECK || HAK_FEATURE_OVERFLOW_CHECK
#define HAK_TAG 8
#else
#define HAK_TAG 0
#endif

/* The tag's low 16 bits (after the hash is removed): the state in the high byte, 0xa5 in the low one
 * (see HAK_TAG_FIXED). Without free_check every tag says LIVE. */
enum hak_block_state {
    HAK_BLOCK_LIVE = 0x50a5,     /* with the program */
    HAK_BLOCK_FREED = 0x51a5,    /* freed: poisoned, waiting in a quarantine, bin or slab */
    HAK_BLOCK_FRESH = 0x52a5,    /* carved, never handed out: no poison to verify */
    HAK_BLOCK_LEAKED = 0x53a5,   /* reported and kept out of use (HAKMEM_ERROR_ACTION=report) */
};

/* Run-time settings of the hardened path (from the knobs, at start-up). */
typedef struct hak_hard_tuning {
    uint64_t tag_key;          /* keys the tags and canaries */
    uint32_t canary_bytes;     /* HAKMEM_CANARY_BYTES */
    uint32_t poison_bytes;     /* HAKMEM_POISON_BYTES, whole 16-byte lanes */
    uint32_t quarantine;       /* HAKMEM_QUARANTINE_BLOCKS */
    int report_only;           /* HAKMEM_ERROR_ACTION=report */
    int zero_fault;            /* HAKMEM_ZERO_FAULT */
    int shuffle;               /* HAKMEM_SHUFFLE */
} hak_hard_tuning_t;

extern hak_hard_tuning_t hak_hard;

/* Per-thread counters of the hot paths (in the thread's cache; folded into its heap at exit). */
typedef struct hak_hard_counts {
    hak_counter_t quarantined, poison_checked, canary_bytes;
} hak_hard_counts_t;

#define HAK_POISON_BYTE 0xdb
#define HAK_POISON_WORD 0xdbdbdbdbdbdbdbdbull

static inline uint64_t hak_load64(const void *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static inline void hak_store64(void *p, uint64_t v) { memcpy(p, &v, 8); }

/* ---- tags ---------------------------------------------------------------------------------------- */

static inline uint64_t hak_tag_hash(const void *p)
{
    return ((uint64_t)(uintptr_t)p ^ hak_hard.tag_key) * 0x9e3779b97f4a7c15ull;
}

/* A tag's two outer bytes are fixed, 0xa5, and not hidden: a one-byte overrun into the tag from below
 * (its first byte) or an underrun from above (its last) is then caught unless it writes 0xa5 itself,
 * which no text or NUL does; hidden, one byte in 256 of any kind would leave the tag as it was. The
 * hash hides the six bytes between them: the state's byte and the size's 40 bits. */
#define HAK_TAG_FIXED 0xa5000000000000a5ull
#define HAK_TAG_SIZE_MAX (((size_t)1 << 40) - 1)

static inline uint64_t hak_tag_mask(const void *p)
{
    return hak_tag_hash(p) & 0x00ffffffffffff00ull;
}

/* The size a tag (hash removed) records, and whether it is in the given state (any of the four with
 * HAK_BLOCK_ANY). */
static inline size_t hak_tag_size(uint64_t t) { return (size_t)((t >> 16) & HAK_TAG_SIZE_MAX); }
static inline int hak_tag_is(uint64_t t, unsigned state)
{
    return (t & 0xff0000000000ffffull) == (HAK_TAG_FIXED | state);
}

/* A tag word is read by threads other than its block's holder (the free of the block above it checks
 * it), so it is one aligned word, read and written whole. The sanitizer variants read it without
 * instrumentation: the block below may sit poisoned in ASan's quarantine, and TSan would take the
 * neighbour's read for a race on the block's bytes. */
#if HAK_SANITIZER_ADDRESS || HAK_SANITIZER_THREAD
__attribute__((noinline, no_sanitize_address, no_sanitize_thread))
#else
inline
#endif
static uint64_t hak_tag_word(const void *at)
{
    return __atomic_load_n((const uint64_t *)at, __ATOMIC_RELAXED);
}

/* Block p's tag with its hash removed: state in the low 16 bits, size above. */
static inline uint64_t hak_tag_get(const void *p, size_t room)
{
    return hak_tag_word((const char *)p + room - HAK_TAG) ^ hak_tag_mask(p);
}

static inline void hak_tag_set(void *p, size_t room, size_t n, unsigned state)
{
    __atomic_store_n((uint64_t *)((char *)p + room - HAK_TAG),
                     hak_tag_mask(p) ^ ((uint64_t)n << 16) ^ (HAK_TAG_FIXED & ~(uint64_t)0xffff) ^ state,
                     __ATOMIC_RELAXED);
}

/* 1 when a tag (hash removed) is one a block of `room` bytes can carry, in any state. */
static inline int hak_tag_valid(uint64_t t, size_t room)
{
    return (t & 0xff0000000000fcffull) == (HAK_TAG_FIXED | HAK_BLOCK_LIVE) && hak_tag_size(t) <= room - HAK_TAG;
}
/* ---- canaries --------------------------------------------------------------------------------------- */

/* Canary bytes are in 0x80-0xfe: a text or NUL overrun never matches one. */
static inline uint64_t hak_canary_word(const void *p)
{
    return ((hak_tag_hash(p) >> 7) | 0x8080808080808080ull) & 0xfefefefefefefefeull;
}

/* Canary bytes a block of `room` bytes holding n has: as many as asked for, as far as there is room. */
static inline size_t hak_canary_len(size_t room, size_t n)
{
#if HAK_FEATURE_OVERFLOW_CHECK
    size_t left = room - HAK_TAG - n;
    return left < hak_hard.canary_bytes ? left : hak_hard.canary_bytes;
#else
    (void)room, (void)n;
    return 0;
#endif
}

/* The canary bytes from n: whole words while they fit before the tag, then byte by byte (the tag is
 * never written over, not even for a moment: another thread may be reading it). */
static inline void hak_canary_arm(void *p, size_t room, size_t n)
{
#if HAK_FEATURE_OVERFLOW_CHECK
    char *b = p;
    uint64_t c = hak_canary_word(p);
    size_t len = hak_canary_len(room, n), k = 0;
    for (; k + 8 <= len; k += 8)
        hak_store64(b + n + k, c);
    for (; k < len; k++)
        b[n + k] = (char)(c >> ((k & 7) * 8));
#else
    (void)p, (void)room, (void)n;
#endif
}

/* Offset of the first canary byte of block p (request n, `room` bytes) that differs, or SIZE_MAX. */
static inline size_t hak_canary_broken(const void *p, size_t room, size_t n)
{
    const unsigned char *b = p;
    uint64_t c = hak_canary_word(p);
    size_t len = hak_canary_len(room, n);
    for (size_t k = 0; k < len; k += 8) {
        uint64_t diff = hak_load64(b + n + k) ^ c;
        if (len - k < 8)
            diff &= ((uint64_t)1 << ((len - k) * 8)) - 1;
        if (HAK_UNLIKELY(diff))
            return n + k + (size_t)__builtin_ctzll(diff) / 8;
    }
    return SIZE_MAX;
}

/* Block p (`room` bytes) handed to the program for n bytes: canary, then its tag. */
static inline void hak_block_arm(void *p, size_t room, size_t n)
{
#if HAK_TAG
    hak_canary_arm(p, room, n);
    hak_tag_set(p, room, n, HAK_BLOCK_LIVE);
#else
    (void)p, (void)room, (void)n;
#endif
}

#endif
