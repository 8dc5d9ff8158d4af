/* trace.h — allocation tracing (HAKMEM_TRACE_ALLOCATIONS, feature trace): every allocation and free
 * recorded to a compact binary file (HAKMEM_TRACE_FILE) through per-thread buffers flushed in blocks.
 * While tracing, the thread caches have capacity 0 (hak_tuning_init), so every operation reaches the
 * slow paths, where it is recorded; the fast paths carry no tracing code at all. */
#ifndef HAK_TRACE_H
#define HAK_TRACE_H

#include "common.h"

/* File format (little-endian), read by tools/hakmem/diag/tracefile.py and replay.c:
 *   header  64 bytes: magic "HAKTRC01", u32 version, u32 record size, u64 pid,
 *           u64 start time (CLOCK_REALTIME ns), char mode[16], char variant[16]
 *   records HAK_TRACE_REC_SIZE bytes each, grouped in per-thread blocks (in time order within a
 *           thread; sort by time to merge threads). */
#define HAK_TRACE_MAGIC    "HAKTRC01"
#define HAK_TRACE_VERSION  1

enum hak_trace_op {
    HAK_TR_MALLOC = 1,    /* ptr = result, size = request */
    HAK_TR_FREE = 2,      /* ptr = freed pointer */
    HAK_TR_CALLOC = 3,    /* size = nmemb * size */
    HAK_TR_REALLOC = 4,   /* ptr = result, aux = old pointer, size = request */
    HAK_TR_MEMALIGN = 5,  /* aux = alignment (posix_memalign, aligned_alloc, valloc, pvalloc too) */
    HAK_TR_REALLOC_OLD = 6, /* ptr = the old block of a realloc, at its entry; the REALLOC record
                             * follows at its exit. Between the two, another thread may be handed
                             * the old address: merged by time, both orders stay feasible. */
};

typedef struct hak_trace_rec {
    uint64_t time_ns;     /* since the trace started (CLOCK_MONOTONIC) */
    uint64_t ptr;
    uint64_t size;
    uint64_t aux;
    uint32_t tid;         /* kernel thread id */
    uint8_t op;           /* enum hak_trace_op */
    uint8_t flags;        /* bit 0: the allocation failed (ptr 0) */
    uint16_t reserved;
} hak_trace_rec_t;

#define HAK_TRACE_REC_SIZE 40
_Static_assert(sizeof(hak_trace_rec_t) == HAK_TRACE_REC_SIZE, "trace record layout");

#if HAK_FEATURE_TRACE
extern int hak_trace_on;     /* set once at start-up */

/* Start-up: open the file when HAKMEM_TRACE_ALLOCATIONS=1 (after hak_config_load). */
void hak_trace_init(void);
void hak_trace_record(unsigned op, const void *ptr, size_t size, uintptr_t aux);

/* Entry points that call others (calloc, realloc, memalign) record one operation: while one of them
 * runs, the operations it makes on the way are not recorded. */
extern HAK_TLS int hak_trace_nested;

#define HAK_TRACE_ACTIVE() (HAK_UNLIKELY(hak_trace_on) && !hak_trace_nested)

/* In a void * entry point: record `op` around `call` (which re-enters the same function). */
#define HAK_TRACE_WRAP(op, call, size, aux)                          \
    do {                                                             \
        if (HAK_TRACE_ACTIVE()) {                                    \
            hak_trace_nested = 1;                                    \
            void *hak_r_ = (call);                                   \
            hak_trace_nested = 0;                                    \
            hak_trace_record((op), hak_r_, (size), (uintptr_t)(aux)); \
            return hak_r_;                                           \
        }                                                            \
    } while (0)
/* realloc: the old block is released at entry, the new one recorded at exit. */
#define HAK_TRACE_WRAP_REALLOC(call, p, n)                           \
    do {                                                             \
        if (HAK_TRACE_ACTIVE()) {                                    \
            if (p)                                                   \
                hak_trace_record(HAK_TR_REALLOC_OLD, (p), 0, 0);     \
            hak_trace_nested = 1;                                    \
            void *hak_r_ = (call);                                   \
            hak_trace_nested = 0;                                    \
            hak_trace_record(HAK_TR_REALLOC, hak_r_, (n), (uintptr_t)(p)); \
            return hak_r_;                                           \
        }                                                            \
    } while (0)
#define HAK_TRACE_RECORD(op, ptr, size, aux)                         \
    do {                                                             \
        if (HAK_TRACE_ACTIVE())                                      \
            hak_trace_record((op), (ptr), (size), (uintptr_t)(aux)); \
    } while (0)
#else
#define hak_trace_on 0
#define hak_trace_init() ((void)0)
#define HAK_TRACE_WRAP(op, call, size, aux) ((void)0)
#define HAK_TRACE_WRAP_REALLOC(call, p, n) ((void)0)
#define HAK_TRACE_RECORD(op, ptr, size, aux) ((void)0)
#endif

#endif
