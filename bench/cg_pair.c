/* cg_pair — the tiny fast path for instruction counting under callgrind:
 * N times malloc(32) + free. The harness runs it for two values of N and divides
 * the difference of total instructions by the difference of N, which cancels
 * start-up and exit costs. With a second argument "null" the loop calls two empty
 * functions of the same shape instead, which measures the loop's own overhead.
 * Four blocks of 32 B stay allocated across the loop (see below).
 * usage: cg_pair N [null] */
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
    void *(*volatile alloc_fn)(size_t) = null ? null_alloc : malloc;
    void (*volatile free_fn)(void *) = null ? null_free : free;
    void *(*a)(size_t) = alloc_fn;
    void (*f)(void *) = free_fn;
    /* Warm the path once so lazy binding and first-use set-up happen before the loop,
     * and keep a few blocks of the same size alive: a real program's size class is
     * rarely empty, and an allocator that retires an empty page on every free
     * (mimalloc does) would otherwise be measured on its slow path. */
    f(a(32));
    void *keep[4];
    for (int i = 0; i < 4; i++)
        keep[i] = a(32);
    for (uint64_t i = 0; i < n; i++) {
        void *p = a(32);
        __asm__ volatile("" : : "r"(p) : "memory");
        f(p);
    }
    for (int i = 0; i < 4; i++)
        f(keep[i]);
    printf("RESULT bench=cg_pair ops=%llu seconds=0 ops_per_sec=0 checksum=0 null=%d\n",
           (unsigned long long)n, null);
    return 0;
}
