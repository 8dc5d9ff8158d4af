/* os.c — mmap/munmap/madvise wrappers that count what they do (HAKMEM_PROFILE_SYSCALLS reads them). */
#define _GNU_SOURCE
#include "os.h"

#include <errno.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/personality.h>

hak_os_counters_t hak_os;

/* The kernel orders changes to the address space (one thread's munmap before another's mmap of the
 * same range); ThreadSanitizer cannot see that, and without a lock around the large blocks it would
 * take a range changing hands for a race. The tsan variant states the order with one atomic. */
#if HAK_SANITIZER_THREAD
static _Atomic uint64_t address_space_order;
#define KERNEL_ORDER() atomic_fetch_add_explicit(&address_space_order, 1, memory_order_acq_rel)
#else
#define KERNEL_ORDER() ((void)0)
#endif

static void count(_Atomic uint64_t *calls, _Atomic uint64_t *bytes, size_t n)
{
    atomic_fetch_add_explicit(calls, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(bytes, n, memory_order_relaxed);
}

/* nx_heap: READ_IMPLIES_EXEC (set by a program at run time; a 64-bit exec clears it) would make every
 * readable mapping executable, so it is cleared before each mapping hakmem makes or opens again. */
static void keep_heap_nx(void)
{
#if HAK_FEATURE_NX_HEAP
    if (hak_cfg.nx_heap) {
        int pers = personality(0xffffffff);
        if (pers != -1 && (pers & READ_IMPLIES_EXEC))
            personality((unsigned long)pers & ~(unsigned long)READ_IMPLIES_EXEC);
    }
#endif
}

void *hak_os_map(size_t size)
{
    keep_heap_nx();
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    KERNEL_ORDER();
    count(&hak_os.mmap_calls, &hak_os.mmap_bytes, size);
    if (p == MAP_FAILED) {
        errno = ENOMEM;
        return NULL;
    }
    atomic_fetch_add_explicit(&hak_os.mapped_bytes, (int64_t)size, memory_order_relaxed);
    return p;
}

void hak_os_unmap(void *p, size_t size)
{
    if (!size)
        return;
    KERNEL_ORDER();
    munmap(p, size);
    count(&hak_os.munmap_calls, &hak_os.munmap_bytes, size);
    atomic_fetch_sub_explicit(&hak_os.mapped_bytes, (int64_t)size, memory_order_relaxed);
}

void *hak_os_map_aligned(size_t size, size_t align)
{
    if (align <= HAK_PAGE)
        return hak_os_map(size);
    if (size + align < size) {
        errno = ENOMEM;
        return NULL;
    }
    /* Over-map, then trim both ends so exactly [aligned, aligned + size) stays. */
    char *raw = hak_os_map(size + align);
    if (!raw)
        return NULL;
    uintptr_t a = ((uintptr_t)raw + align - 1) & ~(uintptr_t)(align - 1);
    size_t head = a - (uintptr_t)raw;
    size_t tail = align - head;
    hak_os_unmap(raw, head);
    hak_os_unmap((char *)a + size, tail);
    return (void *)a;
}

void *hak_os_remap(void *p, size_t old_size, size_t new_size, void *dest)
{
    KERNEL_ORDER();
    void *q = dest ? mremap(p, old_size, new_size, MREMAP_MAYMOVE | MREMAP_FIXED, dest)
                   : mremap(p, old_size, new_size, 0);
    KERNEL_ORDER();
    atomic_fetch_add_explicit(&hak_os.mremap_calls, 1, memory_order_relaxed);
    if (q == MAP_FAILED)
        return NULL;
    /* moved onto dest: dest's own mapping of new_size is replaced, p's old_size is gone */
    int64_t change = dest ? -(int64_t)old_size : (int64_t)new_size - (int64_t)old_size;
    atomic_fetch_add_explicit(&hak_os.mapped_bytes, change, memory_order_relaxed);
    return q;
}

int hak_os_advise(void *p, size_t size, int advice)
{
    count(&hak_os.madvise_calls, &hak_os.madvise_bytes, size);
    return madvise(p, size, advice);
}

int hak_os_protect(void *p, size_t size, int rw)
{
    if (rw)
        keep_heap_nx();
    return mprotect(p, size, rw ? PROT_READ | PROT_WRITE : PROT_NONE);
}

void hak_os_count_mapped(int64_t delta)
{
    atomic_fetch_add_explicit(&hak_os.mapped_bytes, delta, memory_order_relaxed);
}

void *hak_os_reserve(size_t size)
{
    void *p = mmap(NULL, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    KERNEL_ORDER();
    return p == MAP_FAILED ? NULL : p;
}

void hak_os_unreserve(void *p, size_t size)
{
    KERNEL_ORDER();
    munmap(p, size);
}

int hak_os_make_inaccessible(void *p, size_t size)
{
    KERNEL_ORDER();
    void *q = mmap(p, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);
    if (q == MAP_FAILED)
        return -1;
    atomic_fetch_sub_explicit(&hak_os.mapped_bytes, (int64_t)size, memory_order_relaxed);
    return 0;
}

/* Bump allocation from 1 MiB chunks; metadata is never freed, only recycled by its owners. */
static pthread_mutex_t meta_lock = PTHREAD_MUTEX_INITIALIZER;
static char *meta_cur, *meta_end;

void *hak_meta_alloc(size_t size)
{
    size = (size + 63) & ~(size_t)63;
    pthread_mutex_lock(&meta_lock);
    if ((size_t)(meta_end - meta_cur) < size) {
        size_t chunk = size > ((size_t)1 << 20) ? size : ((size_t)1 << 20);
        char *m = hak_os_map(chunk);
        if (!m) {
            pthread_mutex_unlock(&meta_lock);
            return NULL;
        }
        meta_cur = m;
        meta_end = m + chunk;
    }
    void *p = meta_cur;
    meta_cur += size;
    pthread_mutex_unlock(&meta_lock);
    return p;
}

void hak_meta_fork_lock(void) { pthread_mutex_lock(&meta_lock); }
void hak_meta_fork_unlock(void) { pthread_mutex_unlock(&meta_lock); }
