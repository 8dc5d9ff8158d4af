/* links.h — the one word a free block holds: the next block of its list, encoded under encoded_links.
 *
 * Every list of free blocks (thread-cache bins, slab free lists, remote-free stacks, refill chains) is
 * threaded through the blocks' first word, which a program's use-after-free write or overflow can
 * reach. With encoded_links the word is rotl(next ^ secret, 17) ^ (its own address): a value written by
 * the program, or copied from another block, decodes to a wild address, which hak_link_get reports
 * instead of following (a corrupted list cannot be repaired, so that report always aborts). */
#ifndef HAK_LINKS_H
#define HAK_LINKS_H

#include "superslab.h"

#if HAK_FEATURE_ENCODED_LINKS
extern uintptr_t hak_link_secret;     /* set once at start-up, before the first block is carved */

__attribute__((noreturn, cold)) void hak_link_corrupt(const void *blk, uintptr_t decoded);

static inline void hak_link_set(void *blk, void *next)
{
    uintptr_t x = (uintptr_t)next ^ hak_link_secret;
    *(uintptr_t *)blk = ((x << 17) | (x >> 47)) ^ (uintptr_t)blk;
}

static inline void *hak_link_get(const void *blk)
{
    uintptr_t x = *(const uintptr_t *)blk ^ (uintptr_t)blk;
    uintptr_t v = ((x >> 17) | (x << 47)) ^ hak_link_secret;
    /* every block is 16-byte aligned inside a SuperSlab of ours */
    if (HAK_UNLIKELY(v != 0 && ((v & 15) || !hak_ss_contains((void *)v))))
        hak_link_corrupt(blk, v);
    return (void *)v;
}
#else
static inline void hak_link_set(void *blk, void *next) { *(void **)blk = next; }
static inline void *hak_link_get(const void *blk) { return *(void *const *)blk; }
#endif

#endif
