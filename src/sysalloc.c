/* sysalloc.c — reaching the system allocator behind us (glibc's via RTLD_NEXT when we interpose). */
#define _GNU_SOURCE
#include "sysalloc.h"
#include "common.h"

#include <dlfcn.h>
#include <stdlib.h>
#include <malloc.h>

static _Atomic int sys_used;

#if HAK_INTERPOSE
typedef struct sys_fns {
    void *(*malloc)(size_t);
    void *(*memalign)(size_t, size_t);
    void *(*realloc)(void *, size_t);
    void (*free)(void *);
    size_t (*usable)(void *);
    struct mallinfo2 (*mallinfo2)(void);
} sys_fns_t;

static sys_fns_t sys;
static _Atomic int sys_state;   /* 0 unresolved, 1 resolving, 2 ready */

/* Resolved on first need, never at start-up: dlsym may allocate, and then it is served by hakmem. */
static const sys_fns_t *fns(void)
{
    if (atomic_load_explicit(&sys_state, memory_order_acquire) == 2)
        return &sys;
    int expect = 0;
    if (atomic_compare_exchange_strong(&sys_state, &expect, 1)) {
        sys.malloc = (void *(*)(size_t))dlsym(RTLD_NEXT, "malloc");
        sys.memalign = (void *(*)(size_t, size_t))dlsym(RTLD_NEXT, "memalign");
        sys.realloc = (void *(*)(void *, size_t))dlsym(RTLD_NEXT, "realloc");
        sys.free = (void (*)(void *))dlsym(RTLD_NEXT, "free");
        sys.usable = (size_t (*)(void *))dlsym(RTLD_NEXT, "malloc_usable_size");
        sys.mallinfo2 = (struct mallinfo2 (*)(void))dlsym(RTLD_NEXT, "mallinfo2");
        /* glibc sets its allocator up on first use without a lock, and gives the main arena to the
         * thread that makes that first call. With us in front, that call may come from two threads at
         * once; both then hold the main arena on a count of one, and glibc aborts when the second
         * exits ("attached_threads > 0"). Make the first call here, while other threads wait. */
        sys.free(sys.malloc(1));
        atomic_store_explicit(&sys_state, 2, memory_order_release);
        return &sys;
    }
    while (atomic_load_explicit(&sys_state, memory_order_acquire) != 2)
        ;
    return &sys;
}

void *hak_sys_malloc(size_t n) { atomic_store(&sys_used, 1); return fns()->malloc(n); }
void *hak_sys_memalign(size_t a, size_t n) { atomic_store(&sys_used, 1); return fns()->memalign(a, n); }
void *hak_sys_realloc(void *p, size_t n) { atomic_store(&sys_used, 1); return fns()->realloc(p, n); }
void hak_sys_free(void *p) { fns()->free(p); }
size_t hak_sys_usable_size(void *p) { return fns()->usable(p); }
struct mallinfo2 hak_sys_mallinfo2(void) { return fns()->mallinfo2(); }
#else
/* Not interposing: malloc is the system's (or the sanitizer's) already. */
void *hak_sys_malloc(size_t n) { atomic_store(&sys_used, 1); return malloc(n); }
void *hak_sys_memalign(size_t a, size_t n) { atomic_store(&sys_used, 1); return memalign(a, n); }
void *hak_sys_realloc(void *p, size_t n) { atomic_store(&sys_used, 1); return realloc(p, n); }
void hak_sys_free(void *p) { free(p); }
size_t hak_sys_usable_size(void *p) { return malloc_usable_size(p); }
struct mallinfo2 hak_sys_mallinfo2(void) { return mallinfo2(); }
#endif

int hak_sys_used(void) { return atomic_load_explicit(&sys_used, memory_order_relaxed); }
