/* cxx_operators.c — C++ operator new and delete in every form (release and debug variants), so that
 * sized delete reaches the allocator with its size instead of going through libstdc++ and free().
 *
 * Written in C under the Itanium-mangled names (asm labels) rather than in C++: libhakmem.so then
 * needs no libstdc++, and a C program that preloads it never loads one. The two things only the C++
 * runtime can do — find the program's new_handler and throw std::bad_alloc — are weak references to
 * libstdc++'s std::get_new_handler and std::__throw_bad_alloc: a program that calls operator new has
 * libstdc++ loaded (libc++ has no __throw_bad_alloc), so they resolve; when they do not, a throwing
 * new that runs out of memory says so in one line and aborts rather than return NULL to code that
 * cannot expect it. Exceptions unwind through these frames with the .eh_frame data GCC emits for
 * x86-64 C code by default; nothing here needs a cleanup. */
#define _GNU_SOURCE
#include "alloc.h"
#include "api.h"
#include "log.h"
#include "tuning.h"

#if HAK_INTERPOSE

typedef void (*hak_new_handler_t)(void);
extern hak_new_handler_t cxx_get_new_handler(void) __asm__("_ZSt15get_new_handlerv") __attribute__((weak));
extern void cxx_throw_bad_alloc(void) __asm__("_ZSt17__throw_bad_allocv") __attribute__((weak, noreturn));

/* The standard's failure loop of a throwing new: call the new_handler (which frees memory, throws or
 * aborts) and retry; with no handler, throw std::bad_alloc. align 0: an ordinary new. */
static HAK_COLD void *new_after_failure(size_t n, size_t align)
{
    for (;;) {
        if (!cxx_get_new_handler || !cxx_throw_bad_alloc)
            hak_fatal("operator new(%zu): out of memory, and no libstdc++ is loaded to throw std::bad_alloc", n);
        hak_new_handler_t handler = cxx_get_new_handler();
        if (!handler)
            cxx_throw_bad_alloc();
        handler();
        void *p = align ? hak_memalign(align, n) : hak_alloc_fast(n);
        if (p)
            return p;
    }
}

static inline void *new_throwing(size_t n)
{
    void *p = hak_alloc_fast(n);       /* n == 0 gets a block of the smallest class: unique, non-NULL */
    return HAK_LIKELY(p != NULL) ? p : new_after_failure(n, 0);
}

static inline void *new_aligned_throwing(size_t n, size_t align)
{
    void *p = hak_memalign(align, n);  /* any power of two: above 4 KiB a mapping of its own */
    return HAK_LIKELY(p != NULL) ? p : new_after_failure(n, align);
}

/* Over-aligned blocks may sit in a larger class than their size (hak_memalign): the size does not name
 * the bin, so aligned sized delete frees by address, only checking the size under integrity checks. */
static inline void delete_aligned_sized(void *p, size_t n)
{
    if (HAK_UNLIKELY(hak_tune.checked))
        hak_free_sized_slow(p, n);
    else
        hak_free_fast(p);
}

/* One exported operator: `ret name params` under the mangled symbol `sym`. */
#define CXX_OPERATOR(ret, name, sym, params) \
    HAK_EXPORT ret name params __asm__(sym); \
    HAK_EXPORT ret name params

/* Nothrow forms return NULL on failure without calling the new_handler: a handler may throw, and a
 * C frame cannot catch that to turn it into the NULL the caller of a nothrow new expects. The
 * nothrow_t argument is a reference, that is a pointer. */
typedef const void *nothrow_ref;

CXX_OPERATOR(void *, cxx_new, "_Znwm", (size_t n)) { return new_throwing(n); }
CXX_OPERATOR(void *, cxx_new_array, "_Znam", (size_t n)) { return new_throwing(n); }
CXX_OPERATOR(void *, cxx_new_nothrow, "_ZnwmRKSt9nothrow_t", (size_t n, nothrow_ref t))
{
    (void)t;
    return hak_alloc_fast(n);
}
CXX_OPERATOR(void *, cxx_new_array_nothrow, "_ZnamRKSt9nothrow_t", (size_t n, nothrow_ref t))
{
    (void)t;
    return hak_alloc_fast(n);
}

CXX_OPERATOR(void *, cxx_new_aligned, "_ZnwmSt11align_val_t", (size_t n, size_t align))
{
    return new_aligned_throwing(n, align);
}
CXX_OPERATOR(void *, cxx_new_array_aligned, "_ZnamSt11align_val_t", (size_t n, size_t align))
{
    return new_aligned_throwing(n, align);
}
CXX_OPERATOR(void *, cxx_new_aligned_nothrow, "_ZnwmSt11align_val_tRKSt9nothrow_t",
             (size_t n, size_t align, nothrow_ref t))
{
    (void)t;
    return hak_memalign(align, n);
}
CXX_OPERATOR(void *, cxx_new_array_aligned_nothrow, "_ZnamSt11align_val_tRKSt9nothrow_t",
             (size_t n, size_t align, nothrow_ref t))
{
    (void)t;
    return hak_memalign(align, n);
}

CXX_OPERATOR(void, cxx_delete, "_ZdlPv", (void *p)) { hak_free_fast(p); }
CXX_OPERATOR(void, cxx_delete_array, "_ZdaPv", (void *p)) { hak_free_fast(p); }
CXX_OPERATOR(void, cxx_delete_sized, "_ZdlPvm", (void *p, size_t n)) { hak_free_sized_fast(p, n); }
CXX_OPERATOR(void, cxx_delete_array_sized, "_ZdaPvm", (void *p, size_t n)) { hak_free_sized_fast(p, n); }
CXX_OPERATOR(void, cxx_delete_nothrow, "_ZdlPvRKSt9nothrow_t", (void *p, nothrow_ref t))
{
    (void)t;
    hak_free_fast(p);
}
CXX_OPERATOR(void, cxx_delete_array_nothrow, "_ZdaPvRKSt9nothrow_t", (void *p, nothrow_ref t))
{
    (void)t;
    hak_free_fast(p);
}

CXX_OPERATOR(void, cxx_delete_aligned, "_ZdlPvSt11align_val_t", (void *p, size_t align))
{
    (void)align;
    hak_free_fast(p);
}
CXX_OPERATOR(void, cxx_delete_array_aligned, "_ZdaPvSt11align_val_t", (void *p, size_t align))
{
    (void)align;
    hak_free_fast(p);
}
CXX_OPERATOR(void, cxx_delete_aligned_sized, "_ZdlPvmSt11align_val_t", (void *p, size_t n, size_t align))
{
    (void)align;
    delete_aligned_sized(p, n);
}
CXX_OPERATOR(void, cxx_delete_array_aligned_sized, "_ZdaPvmSt11align_val_t", (void *p, size_t n, size_t align))
{
    (void)align;
    delete_aligned_sized(p, n);
}
CXX_OPERATOR(void, cxx_delete_aligned_nothrow, "_ZdlPvSt11align_val_tRKSt9nothrow_t",
             (void *p, size_t align, nothrow_ref t))
{
    (void)align, (void)t;
    hak_free_fast(p);
}
CXX_OPERATOR(void, cxx_delete_array_aligned_nothrow, "_ZdaPvSt11align_val_tRKSt9nothrow_t",
             (void *p, size_t align, nothrow_ref t))
{
    (void)align, (void)t;
    hak_free_fast(p);
}

#endif
