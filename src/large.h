/* large.h — blocks above 32 KiB (and over-aligned ones): their own mappings, recorded in a radix map. */
#ifndef HAK_LARGE_H
#define HAK_LARGE_H

#include <stddef.h>
#include <stdint.h>

void  *hak_large_alloc(size_t n, size_t align);   /* NULL + ENOMEM on failure */
void  *hak_large_calloc(size_t n);                /* zeroed; memset only when the block was reused warm */
int    hak_large_free(void *p);                   /* 0 when p is not a large block of ours */
size_t hak_large_usable(const void *p);           /* 0 when p is not a large block of ours */
/* Resize in place or by moving the mapping; NULL when p must be copied by the caller (or ENOMEM). */
void  *hak_large_resize(void *p, size_t n);
size_t hak_large_trim(void);                      /* unmap cached free blocks (malloc_trim); bytes */
size_t hak_large_in_use(void);                    /* bytes of live large blocks */
void   hak_large_counts(uint64_t *allocs, uint64_t *frees);
/* guard_pages, for a fault report: addr in the guard page below (-1) or above (1) a live large block;
 * 0 when it is in neither. */
int    hak_large_guarded(uintptr_t addr, void **block, size_t *size);

#endif
