/* heap_errors.c — one heap error per run, named by argv[1], to see which allocator stops it.
 *
 * Every case writes "start", commits exactly one error, and if it got through writes "MISSED <case>"
 * and exits 0; an allocator that stops it aborts or faults before the marker. Pointers go through
 * volatile variables and an opaque helper so that -O1 keeps every access (see tests/hardened).
 *
 *   overflow_*     writes past the end of a block: 1 or 32 bytes, by store or memcpy, 1 MiB, a block
 *                  with no slack (24 bytes), a large block
 *   underflow_*    writes before the start of a block
 *   double_*       the same block freed twice: at once, after other traffic, interleaved with another
 *                  free, after a malloc of the same size, a large block
 *   invalid_*      free of a pointer malloc never returned: stack, alloca, global, unaligned, interior,
 *                  unmapped, inside a large block
 *   uaf_*          writes to (or a read of) a freed block, with and without later reuse
 *   zero_*         access to the block of malloc(0)
 *   exec_heap*     a jump into heap memory, also with READ_IMPLIES_EXEC in the personality
 *   impossible_sizes  every allocation call with a size no allocator can serve: NULL and ENOMEM
 *   ok             the same calls done right: must run clean to "end"
 * The C++ cases are in heap_errors_cxx.cc. */
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

#define MIB (1024 * 1024)
#define LARGE 100000

/* argv[2] of the re-executed exec_heap_rie, so that it re-executes only once */
#define RIE_MARK "--read-implies-exec"

static void say(const char *a, const char *b)
{
    char buf[256];
    int n = snprintf(buf, sizeof buf, "%s%s%s\n", a, b ? " " : "", b ? b : "");
    ssize_t w = write(1, buf, (size_t)n);
    (void)w;
}

/* Opaque to the optimiser: it cannot prove a freed or foreign pointer unused, or fold a store. */
static void *launder(void *p)
{
    __asm__ volatile("" : "+r"(p));
    return p;
}

static void *volatile sink;
static char global_block[64];

static void churn(size_t size, int rounds)
{
    for (int i = 0; i < rounds; i++) {
        void *q = malloc(size);
        sink = q;
        free(q);
    }
}

/* ---- writes past the end --------------------------------------------------------------------------- */

static void overflow(const char *what)
{
    char *volatile p;
    if (!strcmp(what, "overflow_1_write")) {
        p = malloc(40);
        p[40] = 'X';
    } else if (!strcmp(what, "overflow_32_write")) {
        p = malloc(40);
        for (int i = 0; i < 32; i++)
            p[40 + i] = 'X';
    } else if (!strcmp(what, "overflow_1_memcpy") || !strcmp(what, "overflow_32_memcpy")) {
        char src[72];
        memset(src, 'X', sizeof src);
        p = malloc(40);
        memcpy(p, src, what[9] == '1' ? 41 : 72);
    } else if (!strcmp(what, "overflow_1mib")) {
        p = malloc(40);
        memset(p, 'X', MIB);
    } else if (!strcmp(what, "overflow_tight")) {
        p = malloc(24);
        p[24] = 0;
    } else if (!strcmp(what, "overflow_large_1")) {
        p = malloc(LARGE);
        p[LARGE] = 'X';
    } else {                                   /* overflow_large_1mib */
        p = malloc(LARGE);
        memset(p + LARGE, 'X', MIB);
    }
    free(p);
}

/* ---- writes before the start ----------------------------------------------------------------------- */

/* The highest of 16 live 40-byte blocks: whatever order an allocator hands blocks out in, one of its
 * blocks lies below this one, so the bytes just before it are heap, not the start of a mapping. */
static char *highest40(void)
{
    static char *live[16];
    char *top = NULL;
    for (int i = 0; i < 16; i++) {
        live[i] = malloc(40);
        memset(live[i], 'n', 40);
        if (!top || live[i] > top)
            top = live[i];
    }
    return top;
}

static void underflow(const char *what)
{
    char *volatile p;
    if (!strcmp(what, "underflow_large_1")) {
        p = malloc(LARGE);
        p[-1] = 'X';
    } else {
        p = highest40();
        if (!strcmp(what, "underflow_1"))
            p[-1] = 'X';
        else if (!strcmp(what, "underflow_32"))
            memset(p - 32, 'X', 32);
        else                                   /* underflow_1mib */
            memset(p - MIB, 'X', MIB);
    }
    free(p);
}

/* ---- double frees ---------------------------------------------------------------------------------- */

static void double_free(const char *what)
{
    char *volatile p = malloc(!strcmp(what, "double_large") ? LARGE : 40);
    if (!strcmp(what, "double_delayed")) {
        free(p);
        static const size_t sizes[] = {200, 3000, 20000};
        for (int i = 0; i < 1000; i++)
            churn(sizes[i % 3], 1);
    } else if (!strcmp(what, "double_interleaved")) {
        char *volatile b = malloc(40);
        free(p);
        free(b);
    } else if (!strcmp(what, "double_after_reuse")) {
        free(p);
        sink = malloc(40);                     /* q: in a LIFO cache, p itself */
    } else {                                   /* double_plain, double_large */
        free(p);
    }
    free(p);
}

/* ---- invalid frees --------------------------------------------------------------------------------- */

static void invalid_free(const char *what)
{
    char stack[64];
    char *volatile p;
    if (!strcmp(what, "invalid_stack")) {
        p = stack + 16;
    } else if (!strcmp(what, "invalid_alloca")) {
        p = alloca(64);
        memset(p, 'a', 64);
    } else if (!strcmp(what, "invalid_global")) {
        p = global_block;
    } else if (!strcmp(what, "invalid_unaligned")) {
        p = (char *)malloc(40) + 1;
    } else if (!strcmp(what, "invalid_interior")) {
        p = (char *)malloc(40) + 16;
    } else if (!strcmp(what, "invalid_far")) {
        p = (char *)(uintptr_t)0x7e0000000000ull;   /* above any heap, below the stack: unmapped */
    } else {                                        /* invalid_large_interior */
        p = (char *)malloc(LARGE) + 4096;
    }
    free(launder(p));
}

/* ---- use after free -------------------------------------------------------------------------------- */

static void use_after_free(const char *what)
{
    char *volatile p = malloc(!strcmp(what, "uaf_large_write") ? LARGE : 40);
    memset(p, 'a', 40);
    free(p);
    if (!strcmp(what, "uaf_write")) {
        p[8] = 'X';
        churn(40, 10000);                      /* the block comes back: an allocator that checks sees it */
    } else if (!strcmp(what, "uaf_write_link")) {
        memset(p, 'X', 8);                     /* where most allocators keep the free-list link */
        churn(40, 10000);
    } else if (!strcmp(what, "uaf_write_noreuse")) {
        p[8] = 'X';
    } else if (!strcmp(what, "uaf_read")) {
        volatile char c = p[8];
        (void)c;
    } else {                                   /* uaf_large_write */
        p[0] = 'X';
        churn(LARGE, 100);                     /* where freed large blocks stay mapped: their reuse */
    }
}

/* ---- malloc(0) ------------------------------------------------------------------------------------- */

static void zero(const char *what)
{
    char *volatile p = malloc(0);
    if (!strcmp(what, "zero_write")) {
        p[0] = 1;
    } else {
        volatile char c = p[0];
        (void)c;
    }
    free(p);
}

/* ---- executing the heap ---------------------------------------------------------------------------- */

/* Sets READ_IMPLIES_EXEC, which makes every readable mapping made from then on executable unless the
 * allocator clears it, and runs this case again with it (argv[2] marks the second run). */
static void reexec_read_implies_exec(char **argv)
{
    personality(personality(0xffffffff) | READ_IMPLIES_EXEC);
    char *args[] = {argv[0], argv[1], RIE_MARK, NULL};
    execv("/proc/self/exe", args);
    say("exec_heap_rie: execv failed", NULL);
    exit(2);
}

static void exec_heap(const char *what)
{
    size_t size = 40;
    if (!strcmp(what, "exec_heap_rie")) {
        /* A 64-bit exec clears the flag again (set_personality_64bit), so set it here as well: a
         * program or a library it loads can do so at any time. Only mappings made from now on are
         * affected, so the block is a large one, mapped for itself. */
        if (!(personality(0xffffffff) & READ_IMPLIES_EXEC))
            personality(personality(0xffffffff) | READ_IMPLIES_EXEC);
        size = 300000;
    }
    unsigned char *volatile p = malloc(size);
    p[0] = 0xc3;                               /* ret */
    void (*volatile fn)(void) = (void (*)(void))launder(p);
    fn();
}

/* ---- sizes no allocator can serve ------------------------------------------------------------------ */

static int missed_sizes;

/* r and err are taken after the call: a single expression could read errno before it. */
static void impossible(const char *which, void *r, int err)
{
    if (r != NULL || err != ENOMEM) {
        char buf[160];
        snprintf(buf, sizeof buf, "impossible_sizes %s: %s, %s", which, r ? "a block" : "NULL", strerror(err));
        say("MISSED", buf);
        missed_sizes++;
    }
}

#define IMPOSSIBLE(call)                                                                                   \
    do {                                                                                                   \
        errno = 0;                                                                                         \
        void *r_ = (call);                                                                                 \
        int e_ = errno;                                                                                    \
        impossible(#call, r_, e_);                                                                         \
        free(r_);                              /* a real block, if one came back */                        \
    } while (0)

/* Volatile so the compiler cannot see the sizes and refuse (or fold) the calls itself. */
static volatile size_t size_max = SIZE_MAX;
static volatile size_t ptrdiff_max = PTRDIFF_MAX;

static int impossible_sizes(void)
{
    char *p = malloc(40);
    memset(p, 'p', 40);
    IMPOSSIBLE(malloc(size_max));
    IMPOSSIBLE(malloc(ptrdiff_max + 1));
    IMPOSSIBLE(calloc(size_max / 2, 3));
    errno = 0;
    void *r = realloc(p, size_max);
    int e = errno;
    impossible("realloc(p, size_max)", r, e);
    if (r) {                                   /* p went with the (wrong) success */
        free(r);
        p = malloc(40);
    }
    errno = 0;
    r = reallocarray(p, size_max / 2, 3);
    e = errno;
    impossible("reallocarray(p, size_max / 2, 3)", r, e);
    if (r) {
        free(r);
        p = malloc(40);
    }
    void *q = NULL;
    int rc = posix_memalign(&q, 64, size_max - 100);
    impossible("posix_memalign(&q, 64, size_max - 100)", q, rc);   /* it returns the error */
    free(q);
    IMPOSSIBLE(aligned_alloc(4096, size_max - 4096));
    IMPOSSIBLE(memalign(64, size_max));
    IMPOSSIBLE(valloc(size_max));
    IMPOSSIBLE(pvalloc(size_max));
    free(p);                                   /* still valid: a failed realloc leaves it alone */
    return missed_sizes;
}

/* ---- everything above, done right ------------------------------------------------------------------ */

static int fits(void *p, size_t n)
{
    if (!p || malloc_usable_size(p) < n) {
        say("FAIL ok: a block is NULL or smaller than asked", NULL);
        return 0;
    }
    memset(p, 'o', n);
    return 1;
}

static int correct(void)
{
    int good = 1;
    char *a = malloc(40), *b = malloc(24), *l = malloc(LARGE);
    good &= fits(a, 40) && fits(b, 24) && fits(l, LARGE);
    a = realloc(a, 200);
    good &= fits(a, 200);
    a = realloc(a, 20000);
    good &= fits(a, 20000);
    a = realloc(a, 10);
    good &= fits(a, 10);
    l = realloc(l, 2 * LARGE);
    good &= fits(l, 2 * LARGE);
    char *c = calloc(10, 30);
    for (int i = 0; c && i < 300; i++)
        good &= c[i] == 0;
    good &= fits(c, 300);
    void *m = memalign(64, 100), *pm = NULL, *al = aligned_alloc(4096, 8192);
    good &= posix_memalign(&pm, 256, 1000) == 0;
    good &= fits(m, 100) && fits(pm, 1000) && fits(al, 8192);
    good &= ((uintptr_t)m % 64 | (uintptr_t)pm % 256 | (uintptr_t)al % 4096) == 0;
    void *z = malloc(0);
    char *ra = reallocarray(NULL, 10, 40);
    good &= fits(ra, 400);
    static const size_t sizes[] = {200, 3000, 20000};
    for (int i = 0; i < 1000; i++)
        churn(sizes[i % 3], 1);
    churn(40, 10000);
    free(z);
    free(ra);
    free(al);
    free(pm);
    free(m);
    free(c);
    free(l);
    free(a);
    free(b);
    return good;
}

static const char *const CASES[] = {
    "overflow_1_write", "overflow_32_write", "overflow_1_memcpy", "overflow_32_memcpy", "overflow_1mib",
    "overflow_tight", "overflow_large_1", "overflow_large_1mib",
    "underflow_1", "underflow_32", "underflow_1mib", "underflow_large_1",
    "double_plain", "double_delayed", "double_interleaved", "double_after_reuse", "double_large",
    "invalid_stack", "invalid_alloca", "invalid_global", "invalid_unaligned", "invalid_interior",
    "invalid_far", "invalid_large_interior",
    "uaf_write", "uaf_write_link", "uaf_write_noreuse", "uaf_read", "uaf_large_write",
    "zero_write", "zero_read", "exec_heap", "exec_heap_rie", "impossible_sizes", "ok", NULL,
};

int main(int argc, char **argv)
{
    const char *what = argc > 1 ? argv[1] : "ok";
    int known = 0;
    for (int i = 0; CASES[i]; i++)
        known |= !strcmp(what, CASES[i]);
    if (!known) {
        say("unknown case", what);
        return 2;
    }
    if (!strcmp(what, "exec_heap_rie") && (argc < 3 || strcmp(argv[2], RIE_MARK)))
        reexec_read_implies_exec(argv);
    char *keep = malloc(40);                   /* a block below the others, and a slab kept alive */
    memset(keep, 'k', 40);
    say("start", NULL);
    if (!strncmp(what, "overflow_", 9)) {
        overflow(what);
    } else if (!strncmp(what, "underflow_", 10)) {
        underflow(what);
    } else if (!strncmp(what, "double_", 7)) {
        double_free(what);
    } else if (!strncmp(what, "invalid_", 8)) {
        invalid_free(what);
    } else if (!strncmp(what, "uaf_", 4)) {
        use_after_free(what);
    } else if (!strncmp(what, "zero_", 5)) {
        zero(what);
    } else if (!strncmp(what, "exec_heap", 9)) {
        exec_heap(what);
    } else if (!strcmp(what, "impossible_sizes")) {
        if (!impossible_sizes())
            say("ok impossible_sizes", NULL);
        free(keep);
        return 0;
    } else {                                   /* ok */
        int good = correct();
        free(keep);
        say(good ? "end" : "FAIL ok", NULL);
        return good ? 0 : 1;
    }
    say("MISSED", what);
    return 0;
}
