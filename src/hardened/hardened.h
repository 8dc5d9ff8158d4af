/* hardened.h — the hardened mode's block path: malloc and free wrapped in checks (hardened.c), and the
 * protections around the memory itself (guard.c): guard pages, the quarantine of freed large blocks,
 * zero-size blocks that fault, and the report of a fault in any of them (os.c keeps the heap
 * non-executable).
 *
 * With HAK_HARDENED (common.h), alloc.h sends malloc and free here; the blocks underneath come from
 * the same bins, slabs and large mappings as in every mode. */
#ifndef HAK_HARDENED_H
#define HAK_HARDENED_H

#include "heap.h"
#include "hardened/block.h"

/* Start-up, after hak_tuning_init: the secret, the knobs, NX, the fault handler. */
void hak_hardened_init(void);

#if HAK_HARDENED
void *hak_hard_malloc(size_t n);
void *hak_hard_calloc(size_t total);
void *hak_hard_alloc_class(unsigned cls, size_t n);          /* memalign: a class whose blocks are aligned */
void *hak_hard_arm_large(void *p, size_t n);                  /* a large block p (or NULL) for n bytes */
void  hak_hard_free(void *p);
void  hak_hard_free_sized(void *p, size_t n);                  /* C++ sized delete: n must be the size */
void *hak_hard_realloc(void *p, size_t n);                     /* p: a block hak_hard_owns */
int   hak_hard_owns(const void *p);
size_t hak_hard_usable(const void *p);
/* The thread's quarantine back to its bins (malloc_trim; thread exit, which also folds its counters). */
void  hak_hard_drain(hak_tls_t *t);
void  hak_hard_thread_exit(hak_tls_t *t);
#endif

/* Fresh blocks of a slab, `size` bytes each from `first`, linked in front of *head (shuffled under
 * shuffle; given a state and a tag under free_check / overflow_check). *tail is set when *head was NULL. */
void hak_hard_carve(char *first, uint32_t size, uint32_t k, void **head, void **tail);
#define HAK_CARVE_MAX 256     /* blocks one carve shuffles (its index array lives on the stack) */

/* A detected heap error: one line, then abort() (or, under HAKMEM_ERROR_ACTION=report, return). */
void hak_hard_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A pointer no allocator of ours handed out (integrity.c's hak_report_invalid, hardened). */
void hak_hard_invalid(const char *what, const void *p);

/* ---- guard.c ------------------------------------------------------------------------------ */
/* n fresh SuperSlabs from m: their guard pages made inaccessible. */
void hak_guard_superslabs(char *m, unsigned n);
/* A large block of at least `size` bytes (*got) between two inaccessible pages: a quarantined one taken
 * again, or a fresh mapping (*zeroed); its release into the quarantine. */
void *hak_guard_large_take(size_t size, size_t align, size_t *got, int *zeroed, int *guarded);
void  hak_guard_large_release(void *base, size_t size, int guarded);
/* fork(): the large-block quarantine's lock, held across it (a leaf: taken last, released first). */
void  hak_guard_fork_prepare(void);
void  hak_guard_fork_parent(void);
void  hak_guard_fork_child(void);
/* 1 when p lies in a freed large block the quarantine still holds: *base and *size are the block's. */
int   hak_large_quarantined(const void *p, void **base, size_t *size);
void *hak_zero_block(void);
int   hak_zero_contains(const void *p);

/* Counters for the stats report (stats.c: "hardened"). */
size_t hak_hard_report_json(char *buf, size_t len);

#endif
