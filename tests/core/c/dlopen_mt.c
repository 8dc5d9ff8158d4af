/* dlopen_mt.c — the library loaded with dlopen (as plugins, language bindings and test harnesses load
 * an allocator), used from several threads through the hak_* API, then closed while a thread that
 * used it is still alive, and opened again.
 *
 * THREADS threads each allocate blocks of mixed sizes (all tiers), write a pattern, and hand every
 * other block to a neighbour through an exchange slot, so half of the frees cross threads. Every
 * block is checked before it is freed and must be owned by hakmem (hak_owns); a block of the
 * process's own malloc (glibc: the library does not interpose when dlopen'ed) must not be.
 *
 * usage: dlopen_mt LIBRARY [threads] [blocks-per-thread] */
#include "hakc.h"

#include <dlfcn.h>
#include <pthread.h>

typedef struct api {
    void *(*malloc)(size_t);
    void (*free)(void *);
    void *(*realloc)(void *, size_t);
    int (*owns)(const void *);
} api_t;

static api_t H;
static int nthreads = 4, nblocks = 4000;
static _Atomic(void *) slots[64];   /* slot i: a block waiting for thread i to free it */

static int bind_api(void *lib)
{
    H.malloc = (void *(*)(size_t))dlsym(lib, "hak_malloc");
    H.free = (void (*)(void *))dlsym(lib, "hak_free");
    H.realloc = (void *(*)(void *, size_t))dlsym(lib, "hak_realloc");
    H.owns = (int (*)(const void *))dlsym(lib, "hak_owns");
    return H.malloc && H.free && H.realloc && H.owns;
}

static size_t pick(uint64_t *s)
{
    uint64_t r = hakc_rand(s);
    switch (r % 8) {
    case 0: return 300000 + r % 100000;        /* large */
    case 1: return 8193 + r % 24000;           /* mid */
    case 2: return 2049 + r % 6000;            /* pool */
    default: return 16 + r % 2048;             /* tiny */
    }
}

/* A block carries its size in its first word and a pattern of its address after it. */
static void *make(size_t n)
{
    char *p = H.malloc(n);
    if (!p) {
        HAKC_FAIL("alloc", "hak_malloc(%zu) returned NULL", n);
        return NULL;
    }
    FAILIF("owned", H.owns(p) != 1, "hak_malloc(%zu) = %p is not hakmem's", n, p);
    memcpy(p, &n, sizeof n);
    hakc_fill(p + 8, hakc_sz(n - 8), (uintptr_t)p, 7);
    return p;
}

static int intact(const char *p, uintptr_t addr)
{
    size_t n;
    memcpy(&n, p, sizeof n);
    return hakc_verify(p + 8, hakc_sz(n - 8), n - 8, addr, 7) == (size_t)-1;
}

static void check_free(char *p, const char *who)
{
    FAILIF(who, !intact(p, (uintptr_t)p), "block %p corrupted", (void *)p);
    H.free(p);
}

static void *worker(void *arg)
{
    unsigned me = (unsigned)(uintptr_t)arg;
    uint64_t seed = 0x9e3779b97f4a7c15ull * (me + 1);
    unsigned next = (me + 1) % (unsigned)nthreads;
    for (int i = 0; i < nblocks; i++) {
        size_t n = pick(&seed);
        char *p = make(n);
        if (!p)
            break;
        if (i % 2) {
            check_free(p, "local");
        } else if (i % 6 == 0) {                   /* grown first: a realloc across tiers */
            char *q = H.realloc(p, n * 3 + 1);
            FAILIF("realloc", !q || !intact(q, (uintptr_t)p), "hak_realloc(%p, %zu) = %p lost the block",
                   (void *)p, n * 3 + 1, (void *)q);
            H.free(q ? q : p);
        } else {                                   /* to the neighbour, who frees it */
            char *old = atomic_exchange(&slots[next], p);
            if (old)
                check_free(old, "cross");          /* the neighbour had not taken it yet */
        }
        char *mine = atomic_exchange(&slots[me], NULL);
        if (mine)
            check_free(mine, "cross");
    }
    return NULL;
}

/* A thread that uses the library, then waits until it was closed before it exits. */
static pthread_barrier_t closed;
static void *survivor(void *arg)
{
    (void)arg;
    void *p = H.malloc(100);
    FAILIF("survivor", !p || H.owns(p) != 1, "hak_malloc(100) = %p", p);
    H.free(p);
    pthread_barrier_wait(&closed);   /* main dlclose'd the library: our exit must not crash */
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        hakc_line("FAIL usage: dlopen_mt LIBRARY [threads] [blocks]");
        return 2;
    }
    if (argc > 2)
        nthreads = atoi(argv[2]);
    if (argc > 3)
        nblocks = atoi(argv[3]);
    if (nthreads < 2 || nthreads > 64)
        nthreads = 4;

    void *lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    CHECK("dlopen", lib != NULL, "%s", dlerror());
    if (!lib)
        return hakc_finish();
    CHECK("symbols", bind_api(lib), "hak_malloc/free/realloc/owns missing");

    char *own = malloc(64);                        /* the process's malloc: not ours when dlopen'ed */
    CHECK("not-interposed", H.owns(own) == 0, "the program's malloc(64) = %p is claimed by hakmem", own);
    free(own);

    pthread_t t[64];
    for (int i = 0; i < nthreads; i++)
        if (pthread_create(&t[i], NULL, worker, (void *)(uintptr_t)i) != 0) {
            HAKC_FAIL("threads", "pthread_create %d failed", i);
            nthreads = i;
            break;
        }
    for (int i = 0; i < nthreads; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < 64; i++) {
        void *p = atomic_exchange(&slots[i], NULL);
        if (p)
            H.free(p);
    }
    CHECK("threads", atomic_load(&hakc_failures) == 0, "failures in the worker threads");

    pthread_barrier_init(&closed, NULL, 2);
    pthread_t s;
    int have_survivor = pthread_create(&s, NULL, survivor, NULL) == 0;
    CHECK("dlclose", dlclose(lib) == 0, "%s", dlerror());
    if (have_survivor) {
        pthread_barrier_wait(&closed);
        pthread_join(s, NULL);
        CHECK("survivor-exit", 1, "unreachable");    /* reaching here: its exit did not crash */
    }

    lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    CHECK("reopen", lib != NULL && bind_api(lib), "%s", lib ? "symbols missing" : dlerror());
    if (lib) {
        void *p = H.malloc(1000);
        CHECK("reopen-alloc", p && H.owns(p) == 1, "hak_malloc(1000) = %p after reopening", p);
        H.free(p);
    }
    return hakc_finish();
}
