/* learn_thread.h — what the learners keep per thread. It lives in the thread's cache (heap.h:
 * hak_tls_t), not in TLS of its own: the static TLS stays a pointer, so the library loads with
 * dlopen, and a thread's learning state starts at zero with its cache. */
#ifndef HAK_LEARN_THREAD_H
#define HAK_LEARN_THREAD_H

#include "common.h"
#include "size_class.h"

#define HAK_HAS_LEARN_HOOKS (HAK_FEATURE_ALLOC_LEARN || HAK_FEATURE_CAP_LEARN || HAK_FEATURE_MEM_LEARN)
#define HAK_HAS_LEARNING    (HAK_HAS_LEARN_HOOKS || HAK_FEATURE_ELO)

#define HAK_LEARN_MID_MAX 32      /* MID classes: (8 KiB, 32 KiB], 16 with 8 per doubling */

/* Allocation learning, per class of this thread's cache. */
typedef struct hak_learn_cls {
    uint64_t window_start;    /* ns */
    uint64_t last_event;      /* ns */
    uint64_t sweep_allocs;    /* the bin's allocation count at the previous sweep */
    uint32_t hwm;             /* most blocks the bin held in this window */
    uint32_t base_refill;     /* the configured refill batch */
    uint16_t events, overflows, refills;
    uint8_t used;
} hak_learn_cls_t;

typedef struct hak_learn_alloc_thread {
    uint64_t next_sweep, last_sweep;
    uint64_t blocks;          /* moved by this thread's slow paths since the last sweep */
    hak_learn_cls_t c[HAK_NCLASS];
} hak_learn_alloc_thread_t;

/* CAP learning: this thread's share of the open window, published in batches. */
typedef struct hak_learn_cap_thread {
    uint32_t gen;
    uint64_t last_publish_ms;
    struct {
        uint64_t last_allocs;
        uint32_t hits, misses, prev_batch;
        uint8_t seen;
    } m[HAK_LEARN_MID_MAX];
    uint32_t pending;
} hak_learn_cap_thread_t;

/* Memory learning: operations not yet added to the global count, the trim epoch last acted on. */
typedef struct hak_learn_mem_thread {
    uint32_t ops;
    uint32_t trim_seen;
} hak_learn_mem_thread_t;

/* The pace of a thread's learning (learn.c): standing still, and going quiet when nothing changes. */
typedef struct hak_learn_pace_thread {
    uint32_t events;          /* slow-path events since the last look */
    uint32_t changes_seen;    /* hak_learn_thread_t.changes at the last look */
    uint8_t still;            /* 1: mostly other threads' blocks; the hooks return at once */
    uint8_t counted;          /* this thread is in the report's count of threads that stood still */
    uint8_t quiet;            /* the learners see one event in 2^quiet */
    uint64_t moved, remote;   /* the heap's blocks refilled + flushed, remote frees + drained, at the look */
} hak_learn_pace_thread_t;

typedef struct hak_learn_thread {
    struct { uint64_t now; uint32_t n; } clock;   /* learn.c: a clock read every 8th event */
    hak_learn_pace_thread_t pace;
    uint32_t changes;                             /* caps or refill batches a learner changed */
    hak_learn_alloc_thread_t alloc;
    hak_learn_cap_thread_t cap;
    hak_learn_mem_thread_t mem;
} hak_learn_thread_t;

#endif
