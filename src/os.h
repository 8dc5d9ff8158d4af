/* os.h — the only door to the kernel: mappings, their counters, and internal metadata memory. */
#ifndef HAK_OS_H
#define HAK_OS_H

#include "common.h"

typedef struct hak_os_counters {
    _Atomic uint64_t mmap_calls, mmap_bytes;
    _Atomic uint64_t munmap_calls, munmap_bytes;
    _Atomic uint64_t madvise_calls, madvise_bytes;
    _Atomic uint64_t mremap_calls;
    _Atomic int64_t  mapped_bytes;   /* currently mapped by hakmem */
} hak_os_counters_t;

extern hak_os_counters_t hak_os;

void *hak_os_map(size_t size);                        /* NULL on failure, errno set */
void *hak_os_map_aligned(size_t size, size_t align);  /* align: power of two >= page */
void  hak_os_unmap(void *p, size_t size);
/* Resize a mapping in place (dest NULL), or move its pages onto dest, replacing what is mapped there. */
void *hak_os_remap(void *p, size_t old_size, size_t new_size, void *dest);
int   hak_os_advise(void *p, size_t size, int advice);
/* Make [p, p + size) inaccessible (rw 0: guard pages, quarantined blocks) or read-write again; 0 on success. */
int   hak_os_protect(void *p, size_t size, int rw);
/* mapped_bytes changes that only the caller knows of (a reservation's pages coming back, say). */
void  hak_os_count_mapped(int64_t delta);
/* Replace [p, p + size) of a mapping of ours with fresh inaccessible pages: the memory goes back to the
 * kernel, the address range stays reserved (and mapped_bytes counts it no more). */
int   hak_os_make_inaccessible(void *p, size_t size);
/* Address space only: an inaccessible, unbacked reservation (not counted in mapped_bytes). */
void *hak_os_reserve(size_t size);
void  hak_os_unreserve(void *p, size_t size);

/* Zeroed memory for allocator metadata that lives as long as the process. */
void *hak_meta_alloc(size_t size);

/* fork(): hold the metadata lock across it so the child never sees it half-taken. */
void hak_meta_fork_lock(void);
void hak_meta_fork_unlock(void);

#endif
