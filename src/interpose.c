/* interpose.c — the malloc family under its standard names (release and debug variants), for LD_PRELOAD and linking. */
#define _GNU_SOURCE
#include "alloc.h"
#include "api.h"

#if HAK_INTERPOSE
#include <malloc.h>
#include <string.h>

HAK_EXPORT void *malloc(size_t n) { return hak_alloc_fast(n); }
HAK_EXPORT void free(void *p) { hak_free_fast(p); }
HAK_EXPORT void cfree(void *p) { hak_free_fast(p); }
HAK_EXPORT void *calloc(size_t nmemb, size_t size) { return hak_calloc(nmemb, size); }
HAK_EXPORT void *realloc(void *p, size_t n) { return hak_realloc(p, n); }
HAK_EXPORT void *reallocarray(void *p, size_t nmemb, size_t size) { return hak_reallocarray(p, nmemb, size); }
HAK_EXPORT int posix_memalign(void **out, size_t align, size_t n) { return hak_posix_memalign(out, align, n); }
HAK_EXPORT void *aligned_alloc(size_t align, size_t n) { return hak_aligned_alloc(align, n); }
HAK_EXPORT void *memalign(size_t align, size_t n) { return hak_memalign(align, n); }
HAK_EXPORT void *valloc(size_t n) { return hak_valloc(n); }
HAK_EXPORT void *pvalloc(size_t n) { return hak_pvalloc(n); }
HAK_EXPORT size_t malloc_usable_size(void *p) { return hak_malloc_usable_size(p); }
HAK_EXPORT int malloc_trim(size_t pad) { return hak_malloc_trim(pad); }
HAK_EXPORT struct mallinfo2 mallinfo2(void) { return hak_mallinfo2(); }
HAK_EXPORT void malloc_stats(void) { hak_malloc_stats(); }
HAK_EXPORT int malloc_info(int options, FILE *fp) { return hak_malloc_info(options, fp); }
HAK_EXPORT int mallopt(int param, int value) { return hak_mallopt(param, value); }

HAK_EXPORT struct mallinfo mallinfo(void)
{
    struct mallinfo2 m2 = hak_mallinfo2();
    struct mallinfo m;
    memset(&m, 0, sizeof m);
    m.arena = (int)m2.arena;
    m.hblkhd = (int)m2.hblkhd;
    m.uordblks = (int)m2.uordblks;
    m.fordblks = (int)m2.fordblks;
    return m;
}

/* glibc-internal names some programs and libraries call directly. */
HAK_EXPORT void *__libc_malloc(size_t n) { return hak_alloc_fast(n); }
HAK_EXPORT void __libc_free(void *p) { hak_free_fast(p); }
HAK_EXPORT void *__libc_calloc(size_t nmemb, size_t size) { return hak_calloc(nmemb, size); }
HAK_EXPORT void *__libc_realloc(void *p, size_t n) { return hak_realloc(p, n); }
HAK_EXPORT void *__libc_memalign(size_t align, size_t n) { return hak_memalign(align, n); }
HAK_EXPORT void *__libc_valloc(size_t n) { return hak_valloc(n); }
HAK_EXPORT void *__libc_pvalloc(size_t n) { return hak_pvalloc(n); }
HAK_EXPORT void __libc_cfree(void *p) { hak_free_fast(p); }
HAK_EXPORT int __posix_memalign(void **out, size_t align, size_t n) { return hak_posix_memalign(out, align, n); }
#endif
