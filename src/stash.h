/* stash.h — one freed large block per thread, in front of the BigCache.
 *
 * A thread that frees a large block and soon asks for one of about the same size again (the VM loop,
 * a per-request buffer) gets it back from its own stash: no lock, no hash lookup, no list surgery.
 * The stash is one atomic word in the thread's heap. Only its owner puts a block there; the owner
 * and the decay pass may take it (an exchange, so exactly one of them gets it). A block that has sat
 * in a stash for a whole decay tick moves to the BigCache and decays like any other; thread exit and
 * malloc_trim empty stashes at once. Stashed bytes count against the BigCache's byte cap (and a block
 * the BigCache would not keep is not stashed). The stash is used only where the BigCache keeps blocks warm
 * (free policy batch or adaptive); with immediate release every freed block goes back at once.
 *
 * A block freed by a thread other than the one that allocated it (a buffer passed down a pipeline) is
 * handed back instead: into one of HAK_STASH_INBOUND slots of the allocating thread's heap, one
 * compare-and-swap, where that thread's next large request finds it without a lock. Hand-backs share
 * the byte cap and the decay of the stashes. */
#ifndef HAK_STASH_H
#define HAK_STASH_H

#include <stddef.h>
#include <stdint.h>

struct hak_heap;

void   hak_stash_configure(void);                  /* from hak_tuning_init, after the BigCache's */
/* Take the BigCache's caps again after they changed at run time (mallopt); a stash that was off
 * at start-up stays off. */
void   hak_stash_recap(void);
/* The calling thread's stashed block (h: its heap) when it may serve n bytes (the BigCache's W_MAX
 * rule), else NULL. */
void  *hak_stash_take(struct hak_heap *h, size_t n, size_t *size);
/* Keep a freed block [base, base + size) in the calling thread's stash (h: its heap): 1 when kept.
 * base is a large block's start (page-aligned; one at or above 2^47 is not kept). The block it
 * displaces goes to the BigCache. Call with no allocator lock held (it may kick the decay thread). */
int    hak_stash_put(struct hak_heap *h, void *base, size_t size);
/* A block freed by another thread than its allocator's (heap id `owner`): 1 when handed back to it. */
int    hak_stash_hand_back(unsigned owner, void *base, size_t size);
void   hak_stash_drop(struct hak_heap *h);         /* thread exit: the heap's blocks go to the BigCache */
/* Move stashed blocks to the BigCache: those idle since the previous pass, or all of them. Returns
 * how many stashes still hold a block. */
size_t hak_stash_decay(int all);
void   hak_stash_counts(uint64_t *hits, uint64_t *puts, uint64_t *handbacks);
size_t hak_stash_bytes(void);                      /* in all stashes: part of the BigCache's byte cap */

#endif
