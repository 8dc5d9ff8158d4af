/* cg_pair — one allocator path for instruction counting under callgrind:
 * N times malloc(SIZE) + free, SIZE 32 bytes unless given (suffixes k/m work:
 * "2m" is the 2 MiB large-block pair). The harness runs it for two values of N and
 * divides the difference of total instructions by the difference of N, which
 * cancels start-up and exit costs. With "null" instead of a size the loop calls two
 * empty functions of the same shape, which measures the loop's own overhead.
 * Four blocks of SIZE stay allocated across the loop (see below). Blocks are never
 * written: the count is the allocator's bookkeeping, not the cost of touching memory.
 * usage: cg_pair N [SIZE|null] */
#include "bench_common.h"

__attribute__((noinline)) static void *null_alloc(size_t n)
{
    static char buf[64];
    __asm__ volatile("" : : "r"(n) : "memory");
    return buf;
}

__attribute__((noinline)) static void null_free(void *p)
{
    __asm__ volatile("" : : "r"(p) : "memory");
}

int main(int argc, char **argv)
{
    uint64_t n = bench_arg(argc, argv, 1, 100000);
    int null = argc > 2 && strcmp(argv[2], "null") == 0;
    size_t size = null ? 32 : (size_t)bench_arg(argc, argv, 2, 32);
    if (size == 0) {
        fprintf(stderr, "cg_pair: SIZE must be at least 1\n");
        return 2;
    }
    void *(*volatile alloc_fn)(size_t) = null ? null_alloc : malloc;
    void (*volatile free_fn)(void *) = null ? null_free : free;
    void *(*a)(size_t) = alloc_fn;
    void (*f)(void *) = free_fn;
    /* Warm the path once so lazy binding and first-use set-up happen before the loop
     * (glibc also raises its mmap threshold on this first free of a large block),
     * and keep a few blocks of the same size alive: a real program's size class is
     * rarely empty, and an allocator that retires an empty page on every free
     * (mimalloc does) would otherwise be measured on its slow path. */
    f(a(size));
    void *keep[4];
    for (int i = 0; i < 4; i++)
        keep[i] = a(size);
    for (uint64_t i = 0; i < n; i++) {
        void *p = a(size);
        __asm__ volatile("" : : "r"(p) : "memory");
        f(p);
    }
    for (int i = 0; i < 4; i++)
        f(keep[i]);
    printf("RESULT bench=cg_pair ops=%llu seconds=0 ops_per_sec=0 checksum=0 null=%d size=%zu\n",
           (unsigned long long)n, null, size);
    return 0;
}
