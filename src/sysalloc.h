/* sysalloc.h — the system allocator, for the tiers switched off with HAKMEM_WRAP_* and for pointers it owns. */
#ifndef HAK_SYSALLOC_H
#define HAK_SYSALLOC_H

#include <stddef.h>
#include <malloc.h>

void  *hak_sys_malloc(size_t n);
void  *hak_sys_memalign(size_t align, size_t n);
void  *hak_sys_realloc(void *p, size_t n);
void   hak_sys_free(void *p);
size_t hak_sys_usable_size(void *p);
struct mallinfo2 hak_sys_mallinfo2(void);
/* 1 once anything was allocated from the system allocator (foreign frees are then expected). */
int    hak_sys_used(void);

#endif
