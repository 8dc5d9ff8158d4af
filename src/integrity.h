/* integrity.h — catching a program's heap errors: canaries after each block (writes past the end),
 * double and invalid frees (HAKMEM_INTEGRITY_CHECKS, forced on in the debug variant), and the ASan
 * variant's poisoning of freed blocks. Every check runs in the slow paths: while checks are on the
 * thread caches have capacity 0 (hak_tuning_init), so the fast paths never see a block. */
#ifndef HAK_INTEGRITY_H
#define HAK_INTEGRITY_H

#include "superslab.h"

/* A checked block of class size S serving a request of n bytes:
 *
 *   [0, n)           the program's bytes
 *   [n, S - 16)      canary: at least HAK_CANARY_MIN address-derived bytes in 0x80-0xfe (never text, never NUL)
 *   [S - 16, S - 8)  meta: requested size (low 32 bits) and allocating thread id (high 32 bits)
 *   [S - 8, S)       seal: a hash of (address, meta) that says "live" or "freed"
 *
 * malloc_usable_size reports n, so a program that trusts it never touches the canary. */
#define HAK_CANARY_MIN       8
#define HAK_INTEGRITY_TAIL   16
#define HAK_INTEGRITY_EXTRA  (HAK_CANARY_MIN + HAK_INTEGRITY_TAIL)

/* Start-up (after hak_tuning_init): ASan quarantine and its fork handlers. */
void hak_integrity_init(void);

/* A block of class cls was just handed out for a request of n bytes: canary and live seal. */
void hak_integrity_arm(void *p, unsigned cls, size_t n);

/* free()/realloc() of p (inside SuperSlab ss, class cls): reports and aborts on an invalid pointer,
 * a double free or an overwritten canary; marks the block freed when release is set. Returns the
 * size the program asked for. `what` names the caller in the report ("free()", "realloc()"). */
size_t hak_integrity_check(const char *what, void *p, hak_superslab_t *ss, int release);

/* Sized delete of p stating n bytes: reports and aborts when p is a live block of ours whose size is
 * not n (a slab block's request is known exactly; a large block's only as at most its mapping).
 * Anything that is not a live block is left to the free that follows, which reports it. */
void hak_integrity_check_size(const char *what, void *p, size_t n);

/* The requested size of a live checked block (malloc_usable_size); 0 when p is not one. */
size_t hak_integrity_usable(const void *p, unsigned cls);

/* A pointer no allocator of ours handed out: report (abort under integrity checks, else one line). */
void hak_report_invalid(const char *what, const void *p);

/* ---- AddressSanitizer variant --------------------------------------------------------------- */
#if HAK_SANITIZER_ADDRESS
#include <sanitizer/asan_interface.h>
#define HAK_ASAN_POISON(p, n)   __asan_poison_memory_region((const volatile void *)(p), (n))
#define HAK_ASAN_UNPOISON(p, n) __asan_unpoison_memory_region((const volatile void *)(p), (n))
#define HAK_NO_ASAN             __attribute__((no_sanitize_address))
#else
#define HAK_ASAN_POISON(p, n)   ((void)(p), (void)(n))
#define HAK_ASAN_UNPOISON(p, n) ((void)(p), (void)(n))
#define HAK_NO_ASAN
#endif

/* The checks read slab fields (start, block size, blocks carved) that the slab's owner thread writes
 * without a lock: a stale value is harmless (a block being freed was carved before it was handed out),
 * so the checking functions are not instrumented by TSan either. */
#if HAK_SANITIZER_THREAD
#define HAK_NO_SANITIZE HAK_NO_ASAN __attribute__((no_sanitize_thread))
#else
#define HAK_NO_SANITIZE HAK_NO_ASAN
#endif

/* ASan variant: a freed slab block goes to a FIFO quarantine, poisoned whole (its link is kept out of
 * band), so a use after free touches poisoned memory and ASan reports it. Returns the block that leaves
 * the quarantine to make room (unpoisoned, to be returned to its slab), or NULL. A block that is
 * already in quarantine is a double free: reported, then abort. */
void *hak_quarantine_push(void *p, size_t size);

#endif
