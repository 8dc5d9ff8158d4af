/* early_start.c — the allocator is safe during early process start:
 * constructors that run before most others (priority 101) allocate, free,
 * realloc and call dlsym/dlopen (which allocate inside the loader), and a
 * thread is started from a constructor.  Everything allocated there must be
 * usable and freeable later from main.  In the plain build, the __libc_*
 * aliases that glibc-internal callers reach are checked too: when hakmem is
 * preloaded they must resolve to it and hand out blocks it owns. */
#include "hakc.h"

#include <pthread.h>

static void *early_blocks[64];
static size_t early_sizes[64];
static int early_bad;
static void *(*early_dlsym_result)(size_t);

__attribute__((constructor(101))) static void very_early(void)
{
    for (int i = 0; i < 64; i++) {
        early_sizes[i] = (size_t)1 << (i % 22);
        early_blocks[i] = (i & 1) ? M(calloc)(1, early_sizes[i]) : M(malloc)(early_sizes[i]);
        if (!early_blocks[i]) {
            early_bad++;
            continue;
        }
        hakc_fill(early_blocks[i], early_sizes[i] < 4096 ? early_sizes[i] : 4096, (uintptr_t)early_blocks[i], 61);
    }
    void *r = M(malloc)(10);
    r = M(realloc)(r, 100000);
    M(free)(r);
    /* dlsym and dlopen allocate inside the loader */
    early_dlsym_result = (void *(*)(size_t))dlsym(RTLD_DEFAULT, "malloc");
    void *h = dlopen("libm.so.6", RTLD_NOW);
    if (h) {
        if (!dlsym(h, "cos"))
            early_bad++;
        dlclose(h);
    }
}

static void *early_thread(void *arg)
{
    (void)arg;
    void *p[100];
    for (int i = 0; i < 100; i++)
        p[i] = M(malloc)((size_t)(i * 37 + 1));
    for (int i = 0; i < 100; i++)
        M(free)(p[i]);
    return M(malloc)(4321); /* freed by main */
}

static void *thread_block;

__attribute__((constructor(102))) static void early_with_thread(void)
{
    pthread_t t;
    if (pthread_create(&t, NULL, early_thread, NULL) == 0)
        pthread_join(t, &thread_block);
    else
        early_bad++;
}

#ifndef HAK_PREFIXED
typedef void *(*malloc_fn)(size_t);
typedef void (*free_fn)(void *);
typedef void *(*calloc_fn)(size_t, size_t);
typedef void *(*realloc_fn)(void *, size_t);
typedef void *(*memalign_fn)(size_t, size_t);

static void check_libc_aliases(void)
{
    malloc_fn lm = (malloc_fn)dlsym(RTLD_DEFAULT, "__libc_malloc");
    free_fn lf = (free_fn)dlsym(RTLD_DEFAULT, "__libc_free");
    calloc_fn lc = (calloc_fn)dlsym(RTLD_DEFAULT, "__libc_calloc");
    realloc_fn lr = (realloc_fn)dlsym(RTLD_DEFAULT, "__libc_realloc");
    memalign_fn la = (memalign_fn)dlsym(RTLD_DEFAULT, "__libc_memalign");
    if (!lm || !lf || !lc || !lr || !la) {
        if (hakc_hakmem_loaded())
            CHECK("libc_aliases.resolve", 0, "__libc_malloc=%p __libc_free=%p __libc_calloc=%p __libc_realloc=%p __libc_memalign=%p",
                  (void *)lm, (void *)lf, (void *)lc, (void *)lr, (void *)la);
        else
            SKIP("libc_aliases.resolve", "not all exported by this libc");
        return;
    }
    CHECK("libc_aliases.resolve", 1, "-");
    void *a = lm(100), *b = lc(10, 10), *c = la(256, 100);
    b = lr(b, 5000);
    int owns_ok = 1;
    if (hakc_hakmem_loaded())
        owns_ok = hakc_owns(a) == 1 && hakc_owns(b) == 1 && hakc_owns(c) == 1;
    CHECK("libc_aliases.hakmem", owns_ok && a && b && c && !((uintptr_t)c & 255),
          "__libc_* blocks a=%p b=%p c=%p not all served by hakmem (owns %d %d %d)", a, b, c, hakc_owns(a),
          hakc_owns(b), hakc_owns(c));
    /* mixing: a block from __libc_malloc is freed by free and vice versa */
    free(a);
    lf(b);
    void *d = malloc(300);
    lf(d);
    lf(c);
}
#endif

int main(void)
{
    int bad = early_bad;
    for (int i = 0; i < 64; i++) {
        if (!early_blocks[i])
            continue;
        size_t n = early_sizes[i] < 4096 ? early_sizes[i] : 4096;
        if (hakc_verify(early_blocks[i], n, n, (uintptr_t)early_blocks[i], 61) != (size_t)-1)
            bad++;
        if (M(malloc_usable_size)(early_blocks[i]) < early_sizes[i])
            bad++;
        void *q = M(realloc)(early_blocks[i], early_sizes[i] * 2 + 1);
        if (!q)
            bad++;
        else
            M(free)(q);
    }
    CHECK("early.constructor_blocks", bad == 0, "%d failures with blocks allocated in constructors", bad);
    CHECK("early.dlsym", early_dlsym_result != NULL, "dlsym from a constructor failed");
    CHECK("early.thread", thread_block != NULL, "no block from the constructor's thread");
    M(free)(thread_block);
#ifndef HAK_PREFIXED
    check_libc_aliases();
#endif
    return hakc_finish();
}
