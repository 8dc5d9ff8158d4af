/* errors.c — one heap error per run, named by argv[1]. Each case prints "start", commits its
 * error, then prints "MISSED <case>" and exits 0: that line means the allocator let the error through.
 * "list" prints every case's name; "ok" does everything right and prints "end".
 *
 * Built with -O1 -fno-builtin; the pointers that carry the errors go through `launder`, so the compiler
 * neither sees nor removes them. */
#define _GNU_SOURCE
#include <alloca.h>
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/personality.h>
#include <unistd.h>

static void say(const char *a, const char *b)
{
    char line[256];
    int n = snprintf(line, sizeof line, "%s%s%s\n", a, b ? " " : "", b ? b : "");
    ssize_t w = write(1, line, (size_t)n);
    (void)w;
}

static void *volatile sink;

static __attribute__((noinline)) void *launder(void *p)
{
    sink = p;
    return sink;
}

static __attribute__((noinline)) void fill(char *p, int c, size_t n)
{
    for (size_t i = 0; i < n; i++)
        ((volatile char *)p)[i] = (char)c;
}

/* A 40-byte block with live neighbours on both sides (so a run of writes lands in blocks of ours). */
static char *block40(void)
{
    static void *keep[8];
    for (int i = 0; i < 8; i++)
        keep[i] = malloc(40);
    char *p = launder(malloc(40));
    for (int i = 0; i < 8; i++)
        ((char **)keep)[i][0] = 1;
    fill(p, 'a', 40);
    return p;
}

static void churn(size_t size, int rounds)
{
    for (int i = 0; i < rounds; i++) {
        char *q = malloc(size);
        q[0] = 'c';
        free(q);
    }
}

static void overflow_1_write(void) { char *p = block40(); p[40] = 'X'; free(p); }
static void overflow_32_write(void) { char *p = block40(); for (int i = 40; i < 72; i++) p[i] = 'X'; free(p); }
static void overflow_1_memcpy(void) { char s[72]; memset(s, 'm', sizeof s); char *p = block40(); memcpy(p, s, 41); free(p); }
static void overflow_32_memcpy(void) { char s[72]; memset(s, 'm', sizeof s); char *p = block40(); memcpy(p, s, 72); free(p); }
static void overflow_1mib(void) { char *p = block40(); fill(p, 'X', 1 << 20); free(p); }
static void overflow_tight(void) { char *p = launder(malloc(24)); fill(p, 't', 24); p[24] = 0; free(p); }
static void overflow_large_1(void) { char *p = launder(malloc(100000)); fill(p, 'l', 100000); p[100000] = 'X'; free(p); }
static void overflow_large_1mib(void) { char *p = launder(malloc(100000)); fill(p + 100000, 'X', 1 << 20); free(p); }
static void underflow_1(void) { char *p = block40(); p[-1] = 'X'; free(p); }
static void underflow_32(void) { char *p = block40(); fill(p - 32, 'X', 32); free(p); }
static void underflow_1mib(void) { char *p = block40(); fill(p - (1 << 20), 'X', 1 << 20); free(p); }
static void underflow_large_1(void) { char *p = launder(malloc(100000)); p[-1] = 'X'; free(p); }

static void double_plain(void) { char *p = block40(); free(p); free(p); }
static void double_delayed(void)
{
    char *p = block40();
    free(p);
    static const size_t sizes[] = { 200, 3000, 20000 };
    for (int i = 0; i < 1000; i++)
        churn(sizes[i % 3], 1);
    free(p);
}
static void double_interleaved(void) { char *a = block40(), *b = block40(); free(a); free(b); free(a); }
static void double_after_reuse(void) { char *p = block40(); free(p); char *q = malloc(40); q[0] = 1; free(p); }
static void double_large(void) { char *p = launder(malloc(100000)); free(p); free(p); }

static char global_area[64];
static void invalid_stack(void) { char s[64]; free(launder(s + 16)); }
static void invalid_alloca(void) { char *s = alloca(64); s[0] = 1; free(launder(s)); }
static void invalid_global(void) { free(launder(global_area + 16)); }
static void invalid_unaligned(void) { char *p = block40(); free(launder(p + 1)); }
static void invalid_interior(void) { char *p = block40(); free(launder(p + 16)); }
static void invalid_far(void) { free(launder((void *)(uintptr_t)0x7e0000001000ull)); }
static void invalid_large_interior(void) { char *p = launder(malloc(100000)); free(launder(p + 4096)); }

static void uaf_write(void) { char *p = block40(); free(p); p[8] = 'X'; churn(40, 10000); }
static void uaf_write_link(void) { char *p = block40(); free(p); fill(p, 'X', 8); churn(40, 10000); }
static void uaf_write_noreuse(void) { char *p = block40(); free(p); p[8] = 'X'; }
static void uaf_read(void) { char *p = block40(); free(p); volatile char c = p[8]; (void)c; }
static void uaf_large_write(void) { char *p = launder(malloc(100000)); free(p); p[0] = 'X'; churn(100000, 100); }

static void zero_write(void) { char *p = launder(malloc(0)); p[0] = 1; free(p); }
static void zero_read(void) { char *p = launder(malloc(0)); volatile char c = p[0]; (void)c; free(p); }

static void exec_heap(void)
{
    unsigned char *p = launder(malloc(64));
    p[0] = 0xc3;                                 /* ret */
    void (*fn)(void) = (void (*)(void))(uintptr_t)launder(p);
    fn();
}

static void impossible_sizes(void)
{
    int bad = 0;
#define EXPECT_NULL(what, expr)                                 \
    do {                                                        \
        errno = 0;                                              \
        void *r_ = (expr);                                      \
        if (r_ || errno != ENOMEM) {                            \
            say("MISSED impossible_sizes", what);               \
            bad = 1;                                            \
        }                                                       \
    } while (0)
    volatile size_t huge = SIZE_MAX, big = PTRDIFF_MAX;
    char *p = malloc(16);
    EXPECT_NULL("malloc(SIZE_MAX)", malloc(huge));
    EXPECT_NULL("malloc(PTRDIFF_MAX+1)", malloc(big + 1));
    EXPECT_NULL("calloc(SIZE_MAX/2,3)", calloc(huge / 2, 3));
    EXPECT_NULL("realloc(p,SIZE_MAX)", realloc(p, huge));
    EXPECT_NULL("reallocarray(p,SIZE_MAX/2,3)", reallocarray(p, huge / 2, 3));
    EXPECT_NULL("aligned_alloc(4096,SIZE_MAX-4096)", aligned_alloc(4096, huge - 4096));
    EXPECT_NULL("memalign(64,SIZE_MAX)", memalign(64, huge));
    EXPECT_NULL("valloc(SIZE_MAX)", valloc(huge));
    EXPECT_NULL("pvalloc(SIZE_MAX)", pvalloc(huge));
    void *q = NULL;
    if (posix_memalign(&q, 64, huge - 100) != ENOMEM || q) {
        say("MISSED impossible_sizes", "posix_memalign(64,SIZE_MAX-100)");
        bad = 1;
    }
    free(p);
    if (!bad)
        say("ok impossible_sizes", NULL);
    _exit(0);
}

static void ok(void)
{
    char *p = malloc(40);
    fill(p, 'a', malloc_usable_size(p));
    p = realloc(p, 5000);
    fill(p, 'b', 5000);
    p = realloc(p, 200000);
    fill(p, 'c', 200000);
    p = realloc(p, 10);
    free(p);
    void *a = NULL;
    if (posix_memalign(&a, 256, 1000) == 0)
        fill(a, 'd', 1000);
    free(a);
    free(aligned_alloc(64, 128));
    char *c = calloc(100, 100);
    for (int i = 0; i < 10000; i++)
        if (c[i])
            say("FAIL calloc", NULL);
    free(c);
    free(malloc(0));
    churn(40, 1000);
    churn(100000, 50);
    say("end", NULL);
}

static const struct { const char *name; void (*run)(void); } cases[] = {
#define CASE(f) { #f, f }
    CASE(overflow_1_write), CASE(overflow_32_write), CASE(overflow_1_memcpy), CASE(overflow_32_memcpy),
    CASE(overflow_1mib), CASE(overflow_tight), CASE(overflow_large_1), CASE(overflow_large_1mib),
    CASE(underflow_1), CASE(underflow_32), CASE(underflow_1mib), CASE(underflow_large_1),
    CASE(double_plain), CASE(double_delayed), CASE(double_interleaved), CASE(double_after_reuse),
    CASE(double_large),
    CASE(invalid_stack), CASE(invalid_alloca), CASE(invalid_global), CASE(invalid_unaligned),
    CASE(invalid_interior), CASE(invalid_far), CASE(invalid_large_interior),
    CASE(uaf_write), CASE(uaf_write_link), CASE(uaf_write_noreuse), CASE(uaf_read), CASE(uaf_large_write),
    CASE(zero_write), CASE(zero_read), CASE(exec_heap), CASE(impossible_sizes), CASE(ok),
#undef CASE
};

int main(int argc, char **argv)
{
    const char *what = argc > 1 ? argv[1] : "list";
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (!strcmp(what, "list")) {
            say(cases[i].name, NULL);
        } else if (!strcmp(what, cases[i].name)) {
            say("start", NULL);
            cases[i].run();
            if (strcmp(what, "ok"))
                say("MISSED", what);
            return 0;
        }
    }
    if (strcmp(what, "list")) {
        say("unknown case", what);
        return 2;
    }
    return 0;
}
