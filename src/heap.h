/* heap.h — a thread's heap: the slabs it owns per class, and the per-thread cache in front of them. */
#ifndef HAK_HEAP_H
#define HAK_HEAP_H

#include "common.h"
#include "size_class.h"
#include "superslab.h"
#include "learn/learn_thread.h"
#include "hardened/block.h"

#include <pthread.h>

/* Statistics count a bin's frees one by one only under TSan. Elsewhere the free fast path counts
 * nothing: every free the bin takes is a push, and pushes = allocations + blocks held + blocks the
 * slow paths moved out (flushes; a free past the bin counts as a push moved out) - blocks they moved
 * in (refills).
 * TSan would call a reader's load of the owner's occupancy a race. */
#define HAK_BIN_COUNTS_FREES (HAK_HAS_STATS && HAK_SANITIZER_THREAD)

/* One bin of the thread cache: a singly linked list threaded through the free blocks. */
typedef struct hak_bin {
    void *head;
    uint32_t room;                 /* free slots: cap minus blocks held; 0 sends frees to the slow path */
    uint32_t cap;                  /* 0 sends every request of this class to the slow path */
#if HAK_HAS_STATS
    hak_counter_t allocs;          /* served by this bin (fast and slow paths) */
#if HAK_BIN_COUNTS_FREES
    hak_counter_t frees;           /* taken by this bin (fast and slow paths) */
#else
    hak_counter_t moved_out;       /* blocks out minus blocks in other than by a pop or a push, mod 2^64 */
#endif
#endif
} hak_bin_t;

static inline uint32_t hak_bin_count(const hak_bin_t *b)
{
    return b->cap - b->room;
}

/* The slow paths moved n blocks out of bin b (flushes, the most frequent), or a free went past it (1). */
static inline void hak_bin_moved_out(hak_bin_t *b, uint64_t n)
{
#if HAK_HAS_STATS && !HAK_BIN_COUNTS_FREES
    hak_counter_add_owned(&b->moved_out, n);
#else
    (void)b, (void)n;
#endif
}

/* The slow paths moved n blocks into bin b (a refill). */
static inline void hak_bin_moved_in(hak_bin_t *b, uint64_t n)
{
    hak_bin_moved_out(b, -n);
}

#if HAK_HAS_STATS
/* The frees bin b has taken; any thread may ask. A running owner updates the fields one by one, so
 * another thread's reading of a live bin may be off by up to a refill or flush batch (a resize may
 * even show room above cap for a moment: counted as an empty bin); exact once the thread is gone. */
static inline uint64_t hak_bin_frees(const hak_bin_t *b)
{
#if HAK_BIN_COUNTS_FREES
    return hak_counter_get(&b->frees);
#else
    uint32_t cap = __atomic_load_n(&b->cap, __ATOMIC_RELAXED), room = __atomic_load_n(&b->room, __ATOMIC_RELAXED);
    uint32_t held = room < cap ? cap - room : 0;
    int64_t f = (int64_t)(hak_counter_get(&b->allocs) + held + hak_counter_get(&b->moved_out));
    return f > 0 ? (uint64_t)f : 0;
#endif
}
#endif

enum hak_tls_state { HAK_TLS_FRESH, HAK_TLS_ACTIVE, HAK_TLS_DEAD };

#define HAK_QUARANTINE_MAX 1024    /* HAKMEM_QUARANTINE_BLOCKS' maximum (modes/options.yaml) */

/* A thread that only frees (heap.c: free storms). */
typedef struct hak_storm {
    uint32_t flushes;              /* local flushes since the last refill */
    uint32_t flushing;             /* 1 + the bin hak_heap_flush_bin is emptying (0: none): left alone */
    int active;
    uint64_t pending[2];           /* bins still to shrink (HAK_NBINS <= 128) */
} hak_storm_t;

/* A thread's cache. It lives in the heap the thread is attached to (hak_heap_t.cache) and is reached
 * through hak_thread, so a heap handed to the next thread brings a cache that starts at zero. */
typedef struct hak_tls {
    hak_bin_t bins[HAK_NBINS];     /* the fast path touches only this array */
    struct hak_heap *heap;
    int state;                     /* enum hak_tls_state */
    uint32_t heap_id;              /* heap->id while ACTIVE, else 0: large blocks name their allocator by it */
    hak_storm_t storm;
#if HAK_HARDENED
    hak_hard_counts_t hard;
#endif
#if HAK_FEATURE_QUARANTINE
    uint32_t quarantine_next;                          /* the slot the next freed block takes */
    void *quarantine[HAK_QUARANTINE_MAX];              /* freed blocks not yet reusable, NULL where none */
#endif
#if HAK_HAS_LEARN_HOOKS
    hak_learn_thread_t learn;
#endif
} hak_tls_t;

/* The calling thread's cache: the one pointer of the library's static TLS (beside a few scalar
 * flags), so the TLS fits glibc's surplus and the library loads with dlopen. Before the thread has a
 * heap and after it exits, it points at a shared read-only cache with no room (fresh or dead): the
 * fast paths then fall through to the slow ones, which never write it. */
extern HAK_TLS hak_tls_t *hak_thread;
extern const hak_tls_t hak_tls_fresh, hak_tls_dead;

/* Slow-path counters of a heap (owner writes, anyone reads). */
typedef struct hak_heap_stats {
    hak_counter_t refills, refill_blocks, flushes, flush_blocks;
    hak_counter_t remote_frees, remote_drained;
    hak_counter_t remote_drains;            /* drains of a slab's remote list that moved blocks */
    hak_counter_t drains_deferred;          /* refills that left pending remote frees undrained (threshold) */
    hak_counter_t splices, splice_blocks;   /* refills that took a slab's whole free list (P0) */
    hak_counter_t slabs_created, slabs_destroyed;
    hak_counter_t used_bytes;      /* bytes of blocks outside slabs (with the program or cached) */
    hak_counter_t stash_hits, stash_puts;   /* large blocks through the thread's stash (stash.h) */
    hak_counter_t stash_handbacks;          /* large blocks of other threads this one freed back to them */
    hak_counter_t large_allocs, large_frees, large_bytes;   /* large.c: live blocks, summed over heaps */
    /* hardened/: blocks through the quarantine, blocks whose poison was verified, canary bytes verified,
     * blocks carved in shuffled order, zero-size blocks served */
    hak_counter_t hard_quarantined, hard_poison_checked, hard_canary_bytes, hard_shuffled, hard_zero_blocks;
} hak_heap_stats_t;

/* Heaps by id, so a large block's map entry can name the heap that allocated it in its spare bits
 * (page-aligned sizes leave 12); HAK_STASH_INBOUND slots per heap take such blocks back. */
#define HAK_HEAP_IDS 2048
#define HAK_STASH_INBOUND 4

/* A list of slabs of one class; full lists are rotated, so they keep a tail. */
typedef struct hak_slab_list {
    hak_slab_t *head, *tail;
} hak_slab_list_t;

typedef struct hak_heap {
    hak_slab_list_t partial[HAK_NCLASS];  /* slabs with free, uncarved or remotely freed blocks */
    hak_slab_list_t full[HAK_NCLASS];     /* slabs that had none when last looked at */
    hak_superslab_t *ss_list;      /* owned SuperSlabs */
    /* Written by other threads, on a cache line of their own: their pushes do not take the owner's
     * lists and counters away from its core. */
    _Alignas(64) _Atomic(hak_slab_t *) ready;   /* slabs other threads freed blocks to since their last drain */
    /* Large blocks this heap's thread allocated and another thread freed, handed back (stash.h). */
    _Atomic uintptr_t inbound[HAK_STASH_INBOUND];
    _Atomic uint32_t inbound_gen;  /* hand-backs so far (any thread), like stash_gen */
    _Alignas(64) hak_tls_t *tls;   /* &cache while a thread uses the heap, NULL while idle */
    _Atomic int idle;              /* in the idle list: a remote free that queues a slab wakes the decay pass */
    struct hak_heap *next_all, *next_idle;
    hak_heap_stats_t st;
    int drain_eager;               /* adaptive drain (experimental): set while remote frees dominate refills */
    uint64_t adapt_blocks, adapt_drained;   /* counters at the last adaptive-drain decision */
#if HAK_HAS_STATS
    uint64_t dead_allocs[HAK_NCLASS], dead_frees[HAK_NCLASS]; /* folded in from exited threads */
    hak_counter_t cls_refills[HAK_NCLASS];  /* cache misses per class (refills of an empty bin) */
    hak_counter_t cls_flushes[HAK_NCLASS];  /* bins of the class flushed back to their slabs */
#endif
    uint32_t refill[HAK_NCLASS];   /* blocks a refill brings in */
    _Atomic uintptr_t stash;       /* a freed large block kept for this thread (stash.h), 0 if none */
    size_t stash_size;             /* owner only: the block size stash_lo/hi were computed for, */
    size_t stash_lo, stash_hi;     /*   the requests such a block may serve, */
    uint32_t stash_policy;         /*   under this BigCache policy version */
    _Atomic uint32_t stash_gen;    /* puts so far: the decay pass sees whether the stash is idle */
    uint32_t stash_seen;           /* stash_gen at the previous pass (under the registry lock) */
    uint32_t inbound_seen;         /* inbound_gen at the previous pass (under the registry lock) */
    uint32_t id;                   /* 1-based index in the heap table (hak_heap_by_id), 0 past its end */
    hak_tls_t cache;               /* the attached thread's cache (hak_thread points here) */
} hak_heap_t;

extern struct hak_heap *_Atomic hak_heap_by_id[HAK_HEAP_IDS];

/* Heap lifecycle (registry lock inside). */
hak_heap_t *hak_heap_acquire(void);
void hak_heap_release(hak_heap_t *h);          /* thread exit: heap becomes idle */
hak_heap_t *hak_heap_first(void);               /* registry walk for reports (under hak_heap_lock) */
void hak_heap_lock(void);
void hak_heap_unlock(void);
void hak_heap_fork_child(hak_heap_t *survivor);

/* Allocation from the slabs: fill `bin` with up to `want` blocks and return one more, or NULL (ENOMEM). */
void *hak_heap_refill(hak_heap_t *h, hak_bin_t *bin, unsigned cls, unsigned want);
/* Return one block / the first n blocks of a list to their slabs (local push or remote push); the
 * list version returns the rest of the list (the block after the n-th, NULL at its end). */
void hak_heap_return(hak_heap_t *h, void *p, hak_superslab_t *ss);
void *hak_heap_return_list(hak_heap_t *h, void *head, uint32_t n);
/* Move the first k blocks of bin b (class cls) of the active thread t home, walking them once: the
 * bin keeps the rest, its room grows by k. A free storm this sets off leaves b alone meanwhile; with
 * `settle`, b shrinks right after if the storm wants it (the caller pushes at most one block next). */
void hak_heap_flush_bin(hak_tls_t *t, hak_bin_t *b, unsigned cls, uint32_t k, int settle);
/* Give empty slabs and SuperSlabs back; returns bytes released. */
size_t hak_heap_trim(hak_heap_t *h);
/* Decay pass (and malloc_trim): drain the blocks other threads freed into idle heaps (their threads
 * have exited, and a shrinking thread pool may never take them again) and give the slabs that emptied
 * back. Holds the registry lock throughout: threads starting or exiting meanwhile wait for it. */
void hak_heap_decay_idle(void);

/* The heap used by threads that have no cache (during thread exit): guarded by a lock, taken and
 * released through hak_shared_enter/leave, which also tell the decay kick that a lock is held. */
extern hak_heap_t *hak_shared_heap;
extern pthread_mutex_t hak_shared_lock;
void hak_shared_enter(void);
void hak_shared_leave(void);

#endif
