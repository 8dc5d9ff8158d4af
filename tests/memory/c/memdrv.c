/* memdrv — a small interpreter of allocation steps for the memory-return tests. Each argument is one
 * step; after the last one the driver prints hakmem's counters (hak_stats_json) on a line starting
 * with "STATS " and the usual summary line. Steps:
 *
 *   loop:SIZE:N          N times: malloc SIZE, write every page, check, free        (the VM scenario)
 *   hold:SIZE:N          malloc N blocks of SIZE, write every page; kept for a later "drop"
 *   drop                 free every held block (in reverse order)
 *   sizes:LO:HI:N        N blocks with N distinct page-multiple sizes spread over [LO, HI], untouched,
 *                        then all freed (fills the BigCache with many keys)
 *   fit:A:B              malloc A, free it, malloc B: prints "info fit same=<0|1>" (was A's block reused?)
 *   calloc:SIZE          malloc SIZE, fill 0xAB, free, calloc SIZE: every byte must read 0
 *   batches:MAX:N:R      R rounds of: for each size from 16 B to MAX (doubling), malloc N blocks of it,
 *                        write their first byte, free them in order (one size class at a time)
 *   small:SIZE:BYTES     hold BYTES worth of SIZE-byte blocks (slab tiers), written; freed by "drop"
 *   orphan:SIZE:BYTES    as small, but allocated by a new thread that then exits: "drop" frees them into
 *                        the heap of a thread that is gone
 *   thread:SIZE:N        loop:SIZE:N in a new thread, which then exits (the main thread joins it)
 *   handback:SIZE:N      N times: malloc SIZE and write every page in this thread, then a second thread
 *                        checks and frees it (a buffer handed down a pipeline)
 *   park:SIZE:T          T threads each malloc SIZE, write it, free it, then wait (alive) until the
 *                        driver ends, after the STATS line: their freed blocks stay in their stashes
 *   stale:SIZE           malloc A and B of SIZE, free A, then write a bogus size (1 GiB) into A's first
 *                        word, as a program with a use-after-free bug would; free another block so A
 *                        leaves the stash; B must still be mapped and intact
 *   sleep:MS             sleep (the decay thread works meanwhile)
 *   trim                 malloc_trim(0)
 *   fork                 fork; the child runs loop:4194304:8, sleeps 300 ms, prints its own STATS
 *                        line as "CHILD {json}" and exits; the parent waits
 *   rss                  print "info rss_kib=<n>"
 *
 * Built plain (LD_PRELOAD under it) or with -DHAK_PREFIXED for the sanitizer variants (hakc.h). */
#include "hakc.h"

#include <pthread.h>
#include <sys/wait.h>
#include <time.h>

#ifndef HAK_PREFIXED
static const char *stats_json(void)
{
    const char *(*fn)(void) = (const char *(*)(void))dlsym(RTLD_DEFAULT, "hak_stats_json");
    return fn ? fn() : "{}";
}
static int do_trim(void) { return malloc_trim(0); }
#else
static const char *stats_json(void) { return hak_stats_json(); }
static int do_trim(void) { return hak_malloc_trim(0); }
#endif

static long rss_kib(void) { return (long)(hakc_rss_bytes() / 1024); }

static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0)
        ;
}

#define MAXHOLD (1 << 20)
static void *held[MAXHOLD];
static size_t nheld;

static void step_loop(size_t size, long n)
{
    int bad = 0;
    for (long i = 0; i < n; i++) {
        unsigned char *p = M(malloc)(size);
        if (!p) {
            bad++;
            break;
        }
        hakc_touch_pages(p, size, (unsigned char)(i + 1));
        if (!hakc_pages_hold(p, size, (unsigned char)(i + 1)))
            bad++;
        M(free)(p);
    }
    CHECK("loop", bad == 0, "%d bad iterations of %zu B", bad, size);
}

static void step_hold(size_t size, long n, int write)
{
    int bad = 0;
    for (long i = 0; i < n && nheld < MAXHOLD; i++) {
        unsigned char *p = M(malloc)(size);
        if (!p) {
            bad++;
            break;
        }
        if (write)
            hakc_touch_pages(p, size, 0x5a);
        held[nheld++] = p;
    }
    CHECK("hold", bad == 0, "malloc(%zu) failed", size);
}

static void step_drop(void)
{
    while (nheld)
        M(free)(held[--nheld]);
}

/* q with q^(n-1) = r, by bisection (no libm) */
static double ratio_step(double r, long n)
{
    double lo = 1.0, hi = 2.0;
    while (1) {
        double p = 1.0;
        for (long k = 1; k < n; k++)
            p *= hi;
        if (p >= r)
            break;
        hi *= 2;
    }
    for (int it = 0; it < 80; it++) {
        double mid = (lo + hi) / 2, p = 1.0;
        for (long k = 1; k < n && p < r * 2; k++)
            p *= mid;
        if (p < r)
            lo = mid;
        else
            hi = mid;
    }
    return (lo + hi) / 2;
}

static void step_sizes(size_t lo, size_t hi, long n)
{
    void **v = M(calloc)((size_t)n, sizeof *v);
    int bad = !v;
    double q = n > 1 ? ratio_step((double)hi / (double)lo, n) : 1.0, s = (double)lo;
    for (long i = 0; v && i < n; i++, s *= q) {
        size_t sz = ((size_t)s + 4095) & ~(size_t)4095;
        v[i] = M(malloc)(sz);
        if (!v[i])
            bad++;
        else
            ((unsigned char *)v[i])[0] = 1;
    }
    for (long i = 0; v && i < n; i++)
        M(free)(v[i]);
    M(free)(v);
    CHECK("sizes", bad == 0, "%d allocations failed", bad);
}

static void step_fit(size_t a, size_t b)
{
    void *p = M(malloc)(a);
    M(free)(p);
    void *q = M(malloc)(b);
    hakc_line("info fit same=%d", p == q);
    M(free)(q);
}

static void step_batches(size_t max, long n, long rounds)
{
    unsigned char **v = M(malloc)((size_t)n * sizeof *v);
    int bad = !v;
    for (long r = 0; v && r < rounds; r++)
        for (size_t size = 16; size <= max; size *= 2) {
            for (long i = 0; i < n; i++) {
                v[i] = M(malloc)(size);
                if (!v[i]) {
                    bad++;
                    n = i;
                    break;
                }
                v[i][0] = (unsigned char)i;
            }
            for (long i = 0; i < n; i++) {
                if (v[i][0] != (unsigned char)i)
                    bad++;
                M(free)(v[i]);
            }
        }
    M(free)(v);
    CHECK("batches", bad == 0, "%d blocks failed or changed", bad);
}

static void step_calloc(size_t size)
{
    unsigned char *p = M(malloc)(size);
    memset(p, 0xab, size);
    M(free)(p);
    unsigned char *q = M(calloc)(1, size);
    size_t nz = 0;
    for (size_t i = 0; q && i < size; i++)
        nz += q[i] != 0;
    CHECK("calloc.zero", q && nz == 0, "%zu non-zero bytes in calloc(%zu) (reused=%d)", nz, size, p == q);
    M(free)(q);
}

static void print_stats(const char *tag)
{
    const char *j = stats_json();
    size_t n = strlen(j);
    while (n && (j[n - 1] == '\n'))
        n--;
    printf("%s %.*s\n", tag, (int)n, j);
    fflush(stdout);
}

static void step_fork(void)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        step_loop(4u << 20, 8);
        sleep_ms(300);
        print_stats("CHILD");
        _exit(hakc_finish());
    }
    int st = 0;
    waitpid(pid, &st, 0);
    CHECK("fork.child", WIFEXITED(st) && WEXITSTATUS(st) == 0, "child status %d", st);
}

/* A step run by a new thread, which then exits (the main thread joins it). */
struct thread_step {
    void (*step)(size_t size, long n);
    size_t size;
    long n;
};

static void *thread_step_main(void *arg)
{
    struct thread_step *a = arg;
    a->step(a->size, a->n);
    return NULL;
}

static void in_new_thread(void (*step)(size_t, long), size_t size, long n)
{
    struct thread_step a = { step, size, n };
    pthread_t t;
    int rc = pthread_create(&t, NULL, thread_step_main, &a);
    CHECK("thread.create", rc == 0, "pthread_create: %d", rc);
    if (rc == 0)
        pthread_join(t, NULL);
}

static void hold_written(size_t size, long n)
{
    step_hold(size, n, 1);
}

/* handback: the main thread allocates, a helper frees; one block in flight at a time. */
static struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    unsigned char *block;     /* handed to the helper; NULL once freed */
    size_t size;
    int done;
} hb = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL, 0, 0 };

static void *handback_thread(void *arg)
{
    (void)arg;
    M(free)(M(malloc)(64));   /* a thread with a heap of its own, as a real consumer has */
    pthread_mutex_lock(&hb.lock);
    for (;;) {
        while (!hb.block && !hb.done)
            pthread_cond_wait(&hb.cond, &hb.lock);
        if (!hb.block)
            break;
        CHECK("handback.contents", hakc_pages_hold(hb.block, hb.size, 0x5a), "a handed-over block changed");
        M(free)(hb.block);
        hb.block = NULL;
        pthread_cond_broadcast(&hb.cond);
    }
    pthread_mutex_unlock(&hb.lock);
    return NULL;
}

static void step_handback(size_t size, long n)
{
    pthread_t t;
    int rc = pthread_create(&t, NULL, handback_thread, NULL);
    CHECK("handback.create", rc == 0, "pthread_create: %d", rc);
    if (rc != 0)
        return;
    for (long i = 0; i < n; i++) {
        unsigned char *p = M(malloc)(size);
        CHECK("handback.alloc", p != NULL, "malloc(%zu) failed", size);
        if (!p)
            break;
        hakc_touch_pages(p, size, 0x5a);
        pthread_mutex_lock(&hb.lock);
        hb.block = p;
        hb.size = size;
        pthread_cond_broadcast(&hb.cond);
        while (hb.block)
            pthread_cond_wait(&hb.cond, &hb.lock);
        pthread_mutex_unlock(&hb.lock);
    }
    pthread_mutex_lock(&hb.lock);
    hb.done = 1;
    pthread_cond_broadcast(&hb.cond);
    pthread_mutex_unlock(&hb.lock);
    pthread_join(t, NULL);
}

#define MAXPARK 256
static pthread_t parked[MAXPARK];
static int nparked;
static pthread_mutex_t park_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t park_cond = PTHREAD_COND_INITIALIZER;
static int park_ready, park_release;

static void *park_thread(void *arg)
{
    size_t size = *(size_t *)arg;
    unsigned char *p = M(malloc)(size);
    if (p) {
        hakc_touch_pages(p, size, 0x3c);
        M(free)(p);
    }
    pthread_mutex_lock(&park_lock);
    park_ready++;
    pthread_cond_broadcast(&park_cond);
    while (!park_release)
        pthread_cond_wait(&park_cond, &park_lock);
    pthread_mutex_unlock(&park_lock);
    return NULL;
}

static void step_park(size_t size, long n)
{
    static size_t sizes[MAXPARK];
    int want = park_ready;
    for (long i = 0; i < n && nparked < MAXPARK; i++) {
        sizes[nparked] = size;
        if (pthread_create(&parked[nparked], NULL, park_thread, &sizes[nparked]) != 0)
            break;
        nparked++;
        want++;
    }
    pthread_mutex_lock(&park_lock);
    while (park_ready < want)
        pthread_cond_wait(&park_cond, &park_lock);
    pthread_mutex_unlock(&park_lock);
    CHECK("park", want == park_ready && nparked >= n, "%d threads parked of %ld", nparked, n);
}

static void unpark_all(void)
{
    pthread_mutex_lock(&park_lock);
    park_release = 1;
    pthread_cond_broadcast(&park_cond);
    pthread_mutex_unlock(&park_lock);
    for (int i = 0; i < nparked; i++)
        pthread_join(parked[i], NULL);
}

static void step_stale(size_t size)
{
    unsigned char *a = M(malloc)(size), *b = M(malloc)(size), *c = M(malloc)(size);
    if (!a || !b || !c) {
        CHECK("stale.alloc", 0, "malloc(%zu) failed", size);
        return;
    }
    hakc_touch_pages(b, size, 0x77);
    M(free)(a);
    *(volatile size_t *)a = (size_t)1 << 30;    /* the bug: a write into a freed block */
    M(free)(c);                                 /* c takes a's place in the stash */
    CHECK("stale.neighbour", hakc_pages_hold(b, size, 0x77), "a live block changed after a stale write elsewhere");
    M(free)(b);
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        char *a = argv[i];
        unsigned long long x = 0, y = 0, z = 0;
        if (sscanf(a, "loop:%llu:%llu", &x, &y) == 2)
            step_loop(x, (long)y);
        else if (sscanf(a, "handback:%llu:%llu", &x, &y) == 2)
            step_handback(x, (long)y);
        else if (sscanf(a, "park:%llu:%llu", &x, &y) == 2)
            step_park(x, (long)y);
        else if (sscanf(a, "stale:%llu", &x) == 1)
            step_stale(x);
        else if (sscanf(a, "thread:%llu:%llu", &x, &y) == 2)
            in_new_thread(step_loop, x, (long)y);
        else if (sscanf(a, "hold:%llu:%llu", &x, &y) == 2)
            step_hold(x, (long)y, 1);
        else if (strcmp(a, "drop") == 0)
            step_drop();
        else if (sscanf(a, "sizes:%llu:%llu:%llu", &x, &y, &z) == 3)
            step_sizes(x, y, (long)z);
        else if (sscanf(a, "fit:%llu:%llu", &x, &y) == 2)
            step_fit(x, y);
        else if (sscanf(a, "batches:%llu:%llu:%llu", &x, &y, &z) == 3)
            step_batches(x, (long)y, (long)z);
        else if (sscanf(a, "calloc:%llu", &x) == 1)
            step_calloc(x);
        else if (sscanf(a, "small:%llu:%llu", &x, &y) == 2)
            step_hold(x, (long)(y / x), 1);
        else if (sscanf(a, "orphan:%llu:%llu", &x, &y) == 2)
            in_new_thread(hold_written, x, (long)(y / x));
        else if (sscanf(a, "sleep:%llu", &x) == 1)
            sleep_ms((long)x);
        else if (strcmp(a, "trim") == 0)
            do_trim();
        else if (strcmp(a, "fork") == 0)
            step_fork();
        else if (strcmp(a, "rss") == 0)
            hakc_line("info rss_kib=%ld", rss_kib());
        else {
            hakc_line("FAIL args: unknown step '%s'", a);
            return 2;
        }
    }
    print_stats("STATS");
    unpark_all();
    return hakc_finish();
}
