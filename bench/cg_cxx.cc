// cg_cxx — the C++ operators' paths for instruction counting under callgrind, the C++ companion of
// cg_pair.c: N times one allocation of SIZE bytes (32 unless given) and its release, through
//   malloc    malloc + free
//   new[]     operator new[] + operator delete[]      (what `p = new char[32]; delete[] p` calls)
//   new       operator new + operator delete(void *)
//   sized     operator new + operator delete(void *, size_t)
//   null, null-sized   two empty functions of the shape of the unsized / sized pair: loop overhead
// Every call goes through a function pointer, so each variant costs the loop the same and a preloaded
// libhakmem.so is what is called. Run it for two N and divide the difference of instructions by the
// difference of N (start-up and exit cancel), then subtract the null loop of the same shape.
// Build: g++ -O2 -o cg_cxx bench/cg_cxx.cc     usage: cg_cxx N KIND [SIZE]
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>

namespace {

char null_buf[64];

__attribute__((noinline)) void *null_alloc(size_t n)
{
    __asm__ volatile("" : : "r"(n) : "memory");
    return null_buf;
}

__attribute__((noinline)) void null_free(void *p) { __asm__ volatile("" : : "r"(p) : "memory"); }

__attribute__((noinline)) void null_free_sized(void *p, size_t n)
{
    __asm__ volatile("" : : "r"(p), "r"(n) : "memory");
}

template <class Alloc, class Free> void loop(unsigned long n, size_t size, Alloc a, Free f)
{
    f(a(size));   // first use (lazy binding, thread set-up) before the loop
    void *keep[4];
    for (void *&k : keep)
        k = a(size);   // the class is not empty: the path measured is the common one
    for (unsigned long i = 0; i < n; i++) {
        void *p = a(size);
        __asm__ volatile("" : : "r"(p) : "memory");
        f(p);
    }
    for (void *k : keep)
        f(k);
}

}  // namespace

int main(int argc, char **argv)
{
    if (argc < 3) {
        std::fprintf(stderr, "usage: cg_cxx N malloc|new[]|new|sized|null|null-sized [SIZE]\n");
        return 2;
    }
    unsigned long n = std::strtoul(argv[1], nullptr, 0);
    const char *kind = argv[2];
    size_t size = argc > 3 ? std::strtoul(argv[3], nullptr, 0) : 32;
    using alloc_fn = void *(*)(size_t);
    using free_fn = void (*)(void *);
    using sized_free_fn = void (*)(void *, size_t);
    alloc_fn volatile op_new = static_cast<alloc_fn>(&::operator new);
    alloc_fn volatile op_new_array = static_cast<alloc_fn>(&::operator new[]);
    free_fn volatile op_delete = static_cast<free_fn>(&::operator delete);
    free_fn volatile op_delete_array = static_cast<free_fn>(&::operator delete[]);
    sized_free_fn volatile op_delete_sized = static_cast<sized_free_fn>(&::operator delete);
    alloc_fn volatile c_malloc = std::malloc, null_a = null_alloc;
    free_fn volatile c_free = std::free, null_f = null_free;
    sized_free_fn volatile null_fs = null_free_sized;

    if (!std::strcmp(kind, "malloc"))
        loop(n, size, (alloc_fn)c_malloc, (free_fn)c_free);
    else if (!std::strcmp(kind, "new[]"))
        loop(n, size, (alloc_fn)op_new_array, (free_fn)op_delete_array);
    else if (!std::strcmp(kind, "new"))
        loop(n, size, (alloc_fn)op_new, (free_fn)op_delete);
    else if (!std::strcmp(kind, "null"))
        loop(n, size, (alloc_fn)null_a, (free_fn)null_f);
    else if (!std::strcmp(kind, "sized") || !std::strcmp(kind, "null-sized")) {
        alloc_fn a = kind[0] == 's' ? (alloc_fn)op_new : (alloc_fn)null_a;
        sized_free_fn f = kind[0] == 's' ? (sized_free_fn)op_delete_sized : (sized_free_fn)null_fs;
        loop(n, size, a, [f, size](void *p) { f(p, size); });
    } else {
        std::fprintf(stderr, "cg_cxx: unknown kind %s\n", kind);
        return 2;
    }
    std::printf("RESULT bench=cg_cxx kind=%s ops=%lu size=%zu\n", kind, n, size);
    return 0;
}
