/* large_lifecycle.c — large blocks through a process's life: single-threaded reuse (the thread's
 * stash and the BigCache), resizing, a free and a malloc from a signal handler, fork while
 * single-threaded, then threads that free the main thread's blocks (handed back to it) and make
 * their own, a fork after they have run, and the count of live large blocks (mallinfo2's hblks)
 * at each step. Every block carries a cookie pattern checked before it is freed.
 * Plain build only (fork, signals and mallinfo2 under LD_PRELOAD or glibc).
 * argv: rounds (default 2000). */
#include "hakc.h"

#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>

#define MIB ((size_t)1 << 20)

/* A cookie every 4 KiB and in the last word: cheap to write and check on a 2 MiB block. */
static void fill(void *p, size_t n, uint64_t seed)
{
    for (size_t off = 0; off + 8 <= n; off += 4096)
        *(uint64_t *)((char *)p + off) = hakc_mix(seed + off);
    *(uint64_t *)((char *)p + n - 8) = hakc_mix(~seed);
}

/* The page cookies of the first n bytes (what survives a shrinking realloc). */
static int pages_intact(const void *p, size_t n, uint64_t seed)
{
    for (size_t off = 0; off + 8 <= n; off += 4096)
        if (*(const uint64_t *)((const char *)p + off) != hakc_mix(seed + off))
            return 0;
    return 1;
}

static int intact(const void *p, size_t n, uint64_t seed)
{
    return pages_intact(p, n, seed) && *(const uint64_t *)((const char *)p + n - 8) == hakc_mix(~seed);
}

/* Live large blocks as mallinfo2 counts them, relative to a baseline taken at start. Checked under
 * hakmem only: glibc's mmap threshold rises after the first free, so its hblks follow other rules. */
static long live_blocks(void) { return (long)mallinfo2().hblks; }

#define CHECK_LIVE(name, expected)                                                               \
    do {                                                                                         \
        if (hakc_hakmem_loaded())                                                                \
            CHECK(name, live_blocks() == (expected), "hblks %ld, expected %ld", live_blocks(),   \
                  (long)(expected));                                                             \
        else                                                                                     \
            SKIP(name, "glibc counts only the blocks above its moving mmap threshold");         \
    } while (0)

/* The single-threaded loop: one size at a time, as a VM or a per-request buffer does. */
static int churn(int rounds, uint64_t seed)
{
    static const size_t sizes[] = { 2 * MIB, 40 << 10, 2 * MIB, 300 << 10, 3 * MIB + 12345 };
    int bad = 0;
    for (int r = 0; r < rounds; r++) {
        size_t n = sizes[r % 5];
        char *p = M(malloc)(n);
        if (!p)
            return -1;
        fill(p, n, seed + (uint64_t)r);
        bad += !intact(p, n, seed + (uint64_t)r);
        M(free)(p);
    }
    return bad;
}

static char *sig_block;
static size_t sig_size = 2 * MIB;
static volatile sig_atomic_t sig_ok;

static void on_signal(int sig)
{
    (void)sig;
    int ok = intact(sig_block, sig_size, 77);
    M(free)(sig_block);
    sig_block = M(malloc)(sig_size);
    if (sig_block)
        fill(sig_block, sig_size, 78);
    sig_ok = ok && sig_block;
}

#define HANDED 32
static char *handed[HANDED];

static void *worker(void *arg)
{
    long half = (long)(size_t)arg;
    for (int i = (int)half * HANDED / 2; i < (int)(half + 1) * HANDED / 2; i++) {
        FAILIF("threads.handed_intact", !intact(handed[i], MIB, 1000 + (uint64_t)i), "block %d", i);
        M(free)(handed[i]);      /* another thread's block: handed back to it */
    }
    FAILIF("threads.own_churn", churn(200, 5000 + (uint64_t)half) != 0, "a block lost its cookies");
    return NULL;
}

/* A child: reuse what the parent had freed (stash, BigCache), free what it inherited, exit 0 if all held. */
static void in_child(char *inherited, size_t n, uint64_t seed)
{
    int ok = intact(inherited, n, seed);
    M(free)(inherited);
    ok = ok && churn(100, 900) == 0;
    _exit(ok ? 0 : 1);
}

static int fork_and_check(const char *name, size_t n, uint64_t seed)
{
    char *inherited = M(malloc)(n);
    if (!inherited)
        return 0;
    fill(inherited, n, seed);
    pid_t pid = fork();
    if (pid == 0)
        in_child(inherited, n, seed);
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(name, WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %d", status);
    int ok = intact(inherited, n, seed);
    M(free)(inherited);
    return ok;
}

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 2000;
    long base = live_blocks();

    CHECK("single.churn", churn(rounds, 1) == 0, "a block lost its cookies");
    CHECK_LIVE("single.live_after_churn", base);

    char *r = M(malloc)(2 * MIB);
    fill(r, 2 * MIB, 5);
    r = M(realloc)(r, 5 * MIB);                 /* grows: in place or moved */
    int grown = r && intact(r, 2 * MIB, 5);
    r = M(realloc)(r, 1 * MIB + 100);           /* shrinks in place */
    int shrunk = r && pages_intact(r, 1 * MIB + 100, 5);
    CHECK("single.realloc", grown && shrunk, "grown %d shrunk %d", grown, shrunk);
    CHECK_LIVE("single.live_with_realloc", base + 1);
    M(free)(r);

    sig_block = M(malloc)(sig_size);
    fill(sig_block, sig_size, 77);
    signal(SIGUSR1, on_signal);
    raise(SIGUSR1);
    CHECK("single.signal_handler", sig_ok && intact(sig_block, sig_size, 78), "handler's blocks wrong");
    M(free)(sig_block);
    CHECK_LIVE("single.live_after_signal", base);

    CHECK("single.fork", fork_and_check("single.fork_child", 2 * MIB, 11), "parent's block changed");

    for (int i = 0; i < HANDED; i++) {
        handed[i] = M(malloc)(MIB);
        fill(handed[i], MIB, 1000 + (uint64_t)i);
    }
    pthread_t t[2];
    for (long i = 0; i < 2; i++)
        pthread_create(&t[i], NULL, worker, (void *)(size_t)i);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    CHECK_LIVE("threads.live_after_join", base);
    CHECK("threads.main_reuses", churn(rounds / 4, 3) == 0, "a block lost its cookies");
    CHECK("threads.fork", fork_and_check("threads.fork_child", 3 * MIB, 12), "parent's block changed");
    CHECK_LIVE("threads.live_at_end", base);
    return hakc_finish();
}
