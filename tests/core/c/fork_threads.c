/* fork_threads.c — fork() from a multi-threaded process leaves a working
 * allocator in the child.
 *
 * Background threads allocate and free continuously (all tiers) while the main
 * thread forks.  Each child allocates and frees heavily, from its main thread
 * and from new threads, verifies contents, and exits 0; a watchdog alarm turns
 * a deadlock (an allocator lock held across fork) into a failure.  The parent
 * waits for each child and then checks its own heap still works.
 *
 * usage: fork_threads [forks] [bg_threads] [child_threads] [quiesce]
 * ThreadSanitizer cannot start threads in the child of a multi-threaded fork,
 * so the tsan run passes child_threads = 0; and its runtime can deadlock a
 * child when another thread is inside it at the moment of fork, so the tsan
 * run also passes quiesce = 1: the background threads park (holding their
 * thread caches) around each fork instead of racing it. */
#include "hakc.h"

#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>

static atomic_int stop;
static atomic_long bg_ops;
static atomic_int pause_req, parked;

static size_t pick_size(uint64_t *s)
{
    uint64_t r = hakc_rand(s);
    switch (r % 16) {
    case 0: return 2049 + (r >> 8) % 6000;
    case 1: return 8193 + (r >> 8) % 24000;
    case 2: return 32769 + (r >> 8) % 200000;
    default: return 1 + (r >> 8) % 2048;
    }
}

static void *bg(void *arg)
{
    uint64_t seed = (uintptr_t)arg * 7777 + 1;
    enum { SLOTS = 256 };
    void *slot[SLOTS] = {0};
    size_t size[SLOTS] = {0};
    while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
        if (atomic_load(&pause_req)) {
            atomic_fetch_add(&parked, 1);
            while (atomic_load(&pause_req))
                usleep(100);
            atomic_fetch_sub(&parked, 1);
        }
        for (int k = 0; k < 64; k++) {
            unsigned i = (unsigned)(hakc_rand(&seed) % SLOTS);
            if (slot[i]) {
                size_t n = size[i] < 64 ? size[i] : 64;
                if (hakc_verify(slot[i], n, n, (uintptr_t)slot[i], 31) != (size_t)-1)
                    FAILIF("fork.parent.bg", 1, "block of %zu bytes corrupted", size[i]);
                M(free)(slot[i]);
                slot[i] = NULL;
            } else {
                size[i] = pick_size(&seed);
                slot[i] = (hakc_rand(&seed) & 1) ? M(malloc)(size[i]) : M(calloc)(1, size[i]);
                if (!slot[i]) {
                    FAILIF("fork.parent.bg", 1, "allocation of %zu failed", size[i]);
                    continue;
                }
                size_t n = size[i] < 64 ? size[i] : 64;
                hakc_fill(slot[i], n, (uintptr_t)slot[i], 31);
            }
        }
        atomic_fetch_add_explicit(&bg_ops, 64, memory_order_relaxed);
    }
    for (int i = 0; i < SLOTS; i++)
        M(free)(slot[i]);
    return NULL;
}

/* Allocation work done in the child; returns the number of failures. */
static int churn(uint64_t seed, int rounds)
{
    enum { N = 512 };
    void *p[N];
    size_t s[N];
    int bad = 0;
    const uint64_t tag = seed;
    for (int r = 0; r < rounds; r++) {
        for (int i = 0; i < N; i++) {
            s[i] = pick_size(&seed);
            p[i] = M(malloc)(s[i]);
            if (!p[i]) {
                bad++;
                continue;
            }
            size_t n = s[i] < 128 ? s[i] : 128;
            hakc_fill(p[i], n, (uintptr_t)p[i], tag);
        }
        for (int i = 0; i < N; i++) {
            if (!p[i])
                continue;
            size_t n = s[i] < 128 ? s[i] : 128;
            if (hakc_verify(p[i], n, n, (uintptr_t)p[i], tag) != (size_t)-1)
                bad++;
            if (i & 1) {
                void *q = M(realloc)(p[i], s[i] * 2 + 1);
                if (!q || hakc_verify(q, n, n, (uintptr_t)p[i], tag) != (size_t)-1)
                    bad++;
                if (q)
                    p[i] = q;
            }
            M(free)(p[i]);
        }
    }
    return bad;
}

static atomic_int child_bad;
static int child_threads = 4;
static void *child_thread(void *arg)
{
    int b = churn((uintptr_t)arg + 100, 8);
    atomic_fetch_add(&child_bad, b);
    return NULL;
}

static int child_main(int idx)
{
    alarm(60); /* a deadlocked child dies with SIGALRM */
    int bad = churn((uint64_t)idx + 1, 12);
    pthread_t t[16];
    int made = 0;
    for (int i = 0; i < child_threads && i < 16; i++) {
        if (pthread_create(&t[made], NULL, child_thread, (void *)(uintptr_t)(idx * 10 + i)) != 0)
            bad++;
        else
            made++;
    }
    for (int i = 0; i < made; i++)
        pthread_join(t[i], NULL);
    bad += atomic_load(&child_bad);
    /* the child can fork again, too */
    pid_t g = fork();
    if (g == 0) {
        _exit(churn(999, 5) ? 3 : 0);
    }
    int st = 0;
    if (g < 0 || waitpid(g, &st, 0) != g || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
        bad++;
    return bad ? 2 : 0;
}

int main(int argc, char **argv)
{
    int forks = argc > 1 ? atoi(argv[1]) : 8;
    int nbg = argc > 2 ? atoi(argv[2]) : 4;
    if (argc > 3)
        child_threads = atoi(argv[3]);
    int quiesce = argc > 4 ? atoi(argv[4]) : 0;
    if (nbg > 64)
        nbg = 64;
    pthread_t bgt[64];
    for (int i = 0; i < nbg; i++)
        pthread_create(&bgt[i], NULL, bg, (void *)(uintptr_t)i);
    int child_fail = 0;
    char detail[128] = "";
    for (int f = 0; f < forks; f++) {
        /* let the background threads get going between forks */
        long start = atomic_load(&bg_ops);
        while (nbg > 0 && atomic_load(&bg_ops) < start + 2000)
            sched_yield();
        void *hold = M(malloc)(1000); /* the parent's heap is busy across fork */
        if (quiesce) {
            atomic_store(&pause_req, 1);
            while (atomic_load(&parked) < nbg)
                usleep(100);
        }
        pid_t pid = fork();
        if (pid == 0)
            exit(child_main(f)); /* exit(): atexit handlers (stats dump) run in the child */
        atomic_store(&pause_req, 0);
        M(free)(hold);
        int st = 0;
        if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            if (!child_fail)
                snprintf(detail, sizeof detail, "fork %d: %s %d", f,
                         pid < 0 ? "fork failed" : WIFSIGNALED(st) ? "child killed by signal" : "child exit",
                         pid < 0 ? errno : WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
            child_fail++;
        }
    }
    atomic_store(&stop, 1);
    for (int i = 0; i < nbg; i++)
        pthread_join(bgt[i], NULL);
    CHECK("fork.children", child_fail == 0, "%d of %d children failed (%s)", child_fail, forks, detail);
    CHECK("fork.parent.after", churn(4242, 10) == 0, "parent heap broken after forks");
    return hakc_finish();
}
