/* thread_churn — short-lived threads, as a server that spawns a thread per task does: every round
 * starts THREADS threads at once; each allocates BLOCKS blocks (31 in 32 of 1 B–1 KiB, 1 in 32 of
 * 2–32 KiB, 1 in 256 of 40–140 KiB), writes them, frees three quarters and hands the fourth quarter
 * to the next round, whose extra thread frees them after their allocating threads have exited.
 * What the allocator keeps of exited threads' heaps shows in the peak RSS against the program's
 * own live peak (printed as live_peak_kib). One op = one block allocated and freed.
 * usage: thread_churn [ROUNDS=60] [THREADS=32] [BLOCKS=1000] [SEED=42] */
#include "bench_common.h"
#include <pthread.h>
#include <stdatomic.h>

enum { MAXT = 256 };

static uint64_t blocks, seed;
static unsigned char **handoff[2];   /* the current round fills one; the next round's drainer frees it */
static size_t *handoff_len[2];
static atomic_size_t handoff_n[2];
static size_t handoff_cap;
static atomic_long live_bytes, live_peak;
static atomic_uint_fast64_t checksum;

static void live_add(long n)
{
    long now = atomic_fetch_add_explicit(&live_bytes, n, memory_order_relaxed) + n;
    long peak = atomic_load_explicit(&live_peak, memory_order_relaxed);
    while (now > peak && !atomic_compare_exchange_weak(&live_peak, &peak, now))
        ;
}

static size_t block_size(bench_rng *r)
{
    uint64_t x = bench_rng_next(r);
    if (x % 256 == 1)
        return bench_rng_range(r, 40000, 140000);
    if (x % 32 == 0)
        return bench_rng_range(r, 2049, 32768);
    return bench_rng_range(r, 1, 1024);
}

typedef struct {
    uint64_t id;
    int slot;      /* the handoff buffer of this round */
} worker_arg;

static void *worker(void *arg)
{
    worker_arg *w = arg;
    bench_rng r;
    bench_rng_seed(&r, seed ^ w->id);
    unsigned char **mine = bench_xmalloc(blocks * sizeof *mine);
    size_t *len = bench_xmalloc(blocks * sizeof *len);
    uint64_t sum = 0;
    for (uint64_t i = 0; i < blocks; i++) {
        len[i] = block_size(&r);
        mine[i] = bench_xmalloc(len[i]);
        bench_fill(mine[i], len[i] < 64 ? len[i] : 64, i);
        live_add((long)len[i]);
    }
    for (uint64_t i = 0; i < blocks; i++) {
        sum += bench_read(mine[i], len[i] < 64 ? len[i] : 64);
        if (i % 4 == 1) {
            size_t k = atomic_fetch_add(&handoff_n[w->slot], 1);
            if (k < handoff_cap) {
                handoff[w->slot][k] = mine[i];
                handoff_len[w->slot][k] = len[i];
                continue;
            }
        }
        live_add(-(long)len[i]);
        free(mine[i]);
    }
    free(mine);
    free(len);
    atomic_fetch_add(&checksum, sum);
    return NULL;
}

static void *drainer(void *arg)
{
    int slot = *(int *)arg;
    size_t n = atomic_load(&handoff_n[slot]);
    if (n > handoff_cap)
        n = handoff_cap;
    uint64_t sum = 0;
    for (size_t k = 0; k < n; k++) {
        sum += bench_read(handoff[slot][k], handoff_len[slot][k] < 64 ? handoff_len[slot][k] : 64);
        live_add(-(long)handoff_len[slot][k]);
        free(handoff[slot][k]);
    }
    atomic_store(&handoff_n[slot], 0);
    atomic_fetch_add(&checksum, sum);
    return NULL;
}

int main(int argc, char **argv)
{
    uint64_t rounds = bench_arg(argc, argv, 1, 60);
    uint64_t threads = bench_arg_in(argc, argv, 2, 32, 1, MAXT);
    blocks = bench_arg_in(argc, argv, 3, 1000, 4, 1u << 20);
    seed = bench_arg(argc, argv, 4, 42);
    handoff_cap = threads * blocks / 4 + 16;
    for (int i = 0; i < 2; i++) {
        handoff[i] = bench_xmalloc(handoff_cap * sizeof *handoff[i]);
        handoff_len[i] = bench_xmalloc(handoff_cap * sizeof *handoff_len[i]);
    }
    worker_arg args[MAXT];
    double t0 = bench_start();
    for (uint64_t round = 0; round < rounds; round++) {
        int slot = (int)(round & 1), prev = slot ^ 1;
        pthread_t t[MAXT], d;
        if (pthread_create(&d, NULL, drainer, &prev) != 0)
            return 3;
        for (uint64_t i = 0; i < threads; i++) {
            args[i] = (worker_arg){ round * MAXT + i + 1, slot };
            if (pthread_create(&t[i], NULL, worker, &args[i]) != 0)
                return 3;
        }
        for (uint64_t i = 0; i < threads; i++)
            pthread_join(t[i], NULL);
        pthread_join(d, NULL);
    }
    int last = (int)((rounds + 1) & 1);
    drainer(&last);
    double secs = bench_stop(t0);
    for (int i = 0; i < 2; i++) {
        free(handoff[i]);
        free(handoff_len[i]);
    }
    char extra[96];
    snprintf(extra, sizeof extra, "threads=%llu live_peak_kib=%ld rss_end_kib=%llu",
             (unsigned long long)threads, atomic_load(&live_peak) / 1024, bench_rss_kib());
    bench_result("thread_churn", rounds * threads * blocks, secs, atomic_load(&checksum), extra);
    return 0;
}
