/* decay.h — giving freed memory back to the kernel: when (free policy, decay delay) and how
 * (MADV_DONTNEED or MADV_FREE), in batches of address-sorted, coalesced ranges.
 *
 * Memory freed by the program stays resident while it is likely to be reused (BigCache blocks,
 * cached SuperSlabs, the units of destroyed slabs); once it has been idle for decay_ms a pass
 * releases it. Passes run on a lightweight background thread, started lazily the first time
 * something waits for release and sleeping on a condition variable while nothing does; after
 * fork() the child starts its own on demand. free_policy=immediate (or decay_ms=0) releases at
 * once instead and never starts the thread. */
#ifndef HAK_DECAY_H
#define HAK_DECAY_H

#include <stddef.h>
#include <stdint.h>
#include <stdatomic.h>

#include "common.h"

typedef struct hak_decay_range {
    uintptr_t addr;
    size_t len;
} hak_decay_range_t;

/* Allocator traffic worth noticing (large blocks, slabs): the adaptive policy calls a pass that saw
 * none since the previous one idle. */
extern _Atomic int hak_decay_activity;
static inline void hak_decay_touch(void)
{
    /* A flag each pass clears: written once per pass, not once per operation, so threads busy with
     * large blocks share its cache line for reading instead of passing it around. */
    if (!atomic_load_explicit(&hak_decay_activity, memory_order_relaxed))
        atomic_store_explicit(&hak_decay_activity, 1, memory_order_relaxed);
}

/* Monotonic clock, coarse (a few ms resolution is plenty for decay). */
uint64_t hak_now_ns(void);

/* From hak_tuning_init. */
void hak_decay_configure(void);

/* 1 when freed memory waits for a decay pass; 0 when it is released at once (or never: no feature). */
int hak_decay_deferred(void);
/* 1 when the mode releases memory at all (batch_madvise compiled in). */
int hak_decay_enabled(void);
/* 1 when released pages read as zero afterwards (MADV_DONTNEED). */
int hak_decay_zeroes(void);

/* Release [p, p + n) now with the configured advice; counted. */
void hak_decay_release(void *p, size_t n);
/* Release a batch: sorts by address, coalesces adjacent ranges, one madvise per run. */
void hak_decay_release_batch(hak_decay_range_t *r, size_t n);
/* Sort ranges by address and merge adjacent ones, in place; returns how many remain. */
size_t hak_ranges_coalesce(hak_decay_range_t *r, size_t n);

/* Set (per thread) around calls made with no allocator lock held, e.g. the large-block paths, so a
 * kick from there may start the thread even before the calling thread has a heap. */
extern HAK_TLS int hak_decay_safe_point;

/* Set (per thread) while the shared heap's lock is held, or while the decay pass drains idle heaps
 * under the registry lock: a kick from there does nothing (it would take the decay thread's lock, or
 * run a pass, under an allocator lock); the next kick does it. */
extern HAK_TLS int hak_decay_lock_held;

/* Set (per thread) while a thread's cache bin is being refilled or flushed: a kick from there is held
 * until hak_decay_hold_end. Starting the thread allocates (pthread_create), and that allocation must
 * not meet a bin whose head, cap and room are half rewritten. */
extern HAK_TLS int hak_decay_hold;   /* ++ to begin a hold; hak_decay_hold_end to end it */
extern HAK_TLS int hak_decay_held_kick;
void hak_decay_send_held_kick(void);

/* Something now waits for release: make sure a pass will come (starts the thread lazily).
 * Costs one load when the thread is already awake; never call with an allocator lock held. */
extern _Atomic int hak_decay_awake;
void hak_decay_wake(void);
static inline void hak_decay_kick(void)
{
    if (!atomic_load_explicit(&hak_decay_awake, memory_order_acquire))
        hak_decay_wake();
}

/* The hold's --; back at 0, the kick it held (if any) goes out. */
static inline void hak_decay_hold_end(void)
{
    if (--hak_decay_hold == 0 && HAK_UNLIKELY(hak_decay_held_kick))
        hak_decay_send_held_kick();
}

/* One pass over every source (BigCache, SuperSlab cache, idle heaps, free slab units); returns 1 when
 * memory is still waiting. Called by the thread; tests may call it directly. */
int hak_decay_pass(void);

/* Counters as a JSON object body: "decay":{...}. */
size_t hak_decay_stats_json(char *buf, size_t len);

/* The allocator's memory-return counters (bigcache, decay, thp, superslab) as JSON members
 * separated by commas, without surrounding braces, for the stats report. */
size_t hak_memory_stats_json(char *buf, size_t len);

void hak_decay_fork_prepare(void);
void hak_decay_fork_parent(void);
void hak_decay_fork_child(void);

#endif
