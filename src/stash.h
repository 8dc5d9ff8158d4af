/* stash.h — one freed large block per thread, in front of the BigCache.
 *
 * A thread that frees a large block and soon asks for one of about the same size again (the VM loop,
 * a per-request buffer) gets it back from its own stash: no lock, no hash lookup, no list surgery.
 * The stash is one atomic word in the thread's heap. Only its owner puts a block there; the owner
 * and the decay pass may take it (an exchange, so exactly one of them gets it). A block that has sat
 * in a stash for a whole decay tick moves to the BigCache and decays like any other; thread exit and
 * malloc_trim empty stashes at once. Stashed bytes count against the BigCache's byte cap (and a block
 * the BigCache would not keep is not stashed). The stash is used only where the BigCache keeps blocks warm
 * (free policy batch or adaptive); with immediate release every freed block goes back at once. */
#ifndef HAK_STASH_H
#define HAK_STASH_H

#include <stddef.h>
#include <stdint.h>

struct hak_heap;

void   hak_stash_configure(void);                  /* from hak_tuning_init, after the BigCache's */
/* This thread's stashed block when it may serve n bytes (the BigCache's W_MAX rule), else NULL. */
void  *hak_stash_take(size_t n, size_t *size);
/* Keep a freed block [base, base + size): 1 when kept. The block it displaces goes to the BigCache.
 * Call with no allocator lock held (it may kick the decay thread). */
int    hak_stash_put(void *base, size_t size);
void   hak_stash_drop(struct hak_heap *h);         /* thread exit: the heap's block goes to the BigCache */
/* Move stashed blocks to the BigCache: those idle since the previous pass, or all of them. Returns
 * how many stashes still hold a block. */
size_t hak_stash_decay(int all);
void   hak_stash_counts(uint64_t *hits, uint64_t *puts);
size_t hak_stash_bytes(void);                      /* in all stashes: part of the BigCache's byte cap */

#endif
