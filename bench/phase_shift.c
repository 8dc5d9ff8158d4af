/* phase_shift — a workload whose size mix and thread count change mid-run, for judging learning.
 *
 * A pool of MAXT threads lives for the whole run; phases alternate between
 *   burst  LOWT threads: each builds bursts of BURST blocks of one narrow size range (a parse tree,
 *          a batch of messages: 16-byte band from 48 to 256 B), reads them back and frees them all,
 *          so one size class goes from empty to hundreds of blocks and back again and again;
 *   churn  MAXT threads: random replacement over 128 slots per thread of 4-32 KiB blocks whose
 *          every page is written (POOL and MID tiers, real RSS); each thread frees its slots when
 *          the phase ends.
 * Every phase does the same total number of operations (OPS, split over its threads); the idle
 * threads wait at a barrier. An op is one malloc or one free. After each phase the program records
 * the resident set, so the report shows both speed and what memory is kept between phases.
 * usage: phase_shift [PHASES=6] [OPS=4000000] [MAXT=16] [LOWT=4] [BURST=512] [SEED=42] */
#include "bench_common.h"
#include <pthread.h>

enum { SLOTS = 128, MAX_PHASES = 64 };

static uint64_t phases, ops_per_phase, maxt, lowt, burst, seed;
static pthread_barrier_t start_bar, end_bar;
static double phase_secs[MAX_PHASES];
static unsigned long long phase_rss[MAX_PHASES];

typedef struct {
    unsigned id;
    uint64_t sum, ops;
} worker_t;

static int phase_is_burst(uint64_t p) { return (p & 1) == 0; }
static uint64_t phase_threads(uint64_t p) { return phase_is_burst(p) ? lowt : maxt; }

static uint64_t run_burst(bench_rng *r, uint64_t *ops_io, unsigned char **blk, size_t *len)
{
    uint64_t sum = 0, ops = *ops_io / (2 * burst) * (2 * burst);
    *ops_io = ops;
    static const size_t bands[] = { 48, 64, 96, 128, 192, 256 };
    for (uint64_t done = 0; done < ops; done += 2 * burst) {
        size_t hi = bands[bench_rng_next(r) % (sizeof bands / sizeof bands[0])], lo = hi - 15;
        for (uint64_t i = 0; i < burst; i++) {
            size_t n = bench_rng_range(r, lo, hi);
            unsigned char *p = bench_xmalloc(n);
            bench_fill(p, n, i + done);
            blk[i] = p;
            len[i] = n;
        }
        for (uint64_t i = burst; i-- > 0;) {
            sum += bench_read(blk[i], len[i]);
            free(blk[i]);
        }
    }
    return sum;
}

static uint64_t run_churn(bench_rng *r, uint64_t ops)
{
    unsigned char *slot[SLOTS] = { 0 };
    size_t size[SLOTS] = { 0 };
    uint64_t sum = 0;
    for (uint64_t i = 0; i < ops; i++) {
        uint64_t x = bench_rng_next(r);
        size_t k = (size_t)((x >> 16) % SLOTS);
        if (slot[k]) {
            sum += bench_read_pages(slot[k], size[k]);
            free(slot[k]);
            slot[k] = NULL;
        } else {
            size_t n = bench_rng_range(r, 4096, 32768);
            unsigned char *p = bench_xmalloc(n);
            bench_touch_pages(p, n, x);
            slot[k] = p;
            size[k] = n;
        }
    }
    for (size_t k = 0; k < SLOTS; k++)
        if (slot[k]) {
            sum += bench_read_pages(slot[k], size[k]);
            free(slot[k]);
        }
    return sum;
}

static void *worker(void *arg)
{
    worker_t *w = arg;
    unsigned char **blk = bench_xmalloc(burst * sizeof *blk);
    size_t *len = bench_xmalloc(burst * sizeof *len);
    for (uint64_t p = 0; p < phases; p++) {
        pthread_barrier_wait(&start_bar);
        uint64_t n = phase_threads(p);
        if (w->id < n) {
            bench_rng r;
            bench_rng_seed(&r, seed * 1000003u + p * 7919u + w->id);
            uint64_t ops = ops_per_phase / n;
            w->sum += phase_is_burst(p) ? run_burst(&r, &ops, blk, len) : run_churn(&r, ops);
            w->ops += ops;
        }
        pthread_barrier_wait(&end_bar);
    }
    free(blk);
    free(len);
    return NULL;
}

int main(int argc, char **argv)
{
    phases = bench_arg(argc, argv, 1, 6);
    ops_per_phase = bench_arg(argc, argv, 2, 4000000);
    maxt = bench_arg(argc, argv, 3, 16);
    lowt = bench_arg(argc, argv, 4, 4);
    burst = bench_arg(argc, argv, 5, 512);
    seed = bench_arg(argc, argv, 6, 42);
    if (phases < 1)
        phases = 1;
    if (phases > MAX_PHASES)
        phases = MAX_PHASES;
    if (maxt < 1)
        maxt = 1;
    if (lowt < 1 || lowt > maxt)
        lowt = maxt;
    if (burst < 1)
        burst = 1;
    pthread_barrier_init(&start_bar, NULL, (unsigned)maxt + 1);
    pthread_barrier_init(&end_bar, NULL, (unsigned)maxt + 1);
    worker_t *w = calloc(maxt, sizeof *w);
    pthread_t *tid = calloc(maxt, sizeof *tid);
    for (uint64_t t = 0; t < maxt; t++) {
        w[t].id = (unsigned)t;
        if (pthread_create(&tid[t], NULL, worker, &w[t]) != 0) {
            fprintf(stderr, "pthread_create failed\n");
            return 4;
        }
    }
    double total = 0, burst_s = 0, churn_s = 0;
    uint64_t total_ops = 0;
    unsigned long long rss_sum = 0;
    double t_start = bench_start();
    for (uint64_t p = 0; p < phases; p++) {
        double t0 = bench_now();
        pthread_barrier_wait(&start_bar);
        pthread_barrier_wait(&end_bar);
        phase_secs[p] = bench_now() - t0;
        phase_rss[p] = bench_rss_kib();
        *(phase_is_burst(p) ? &burst_s : &churn_s) += phase_secs[p];
        uint64_t n = phase_threads(p);
        rss_sum += phase_rss[p];
        printf("phase %llu %s threads=%llu seconds=%.4f rss_kib=%llu\n", (unsigned long long)p,
               phase_is_burst(p) ? "burst" : "churn", (unsigned long long)n, phase_secs[p], phase_rss[p]);
        fflush(stdout);                   /* lines in order with the allocator's log on stderr */
    }
    total = bench_stop(t_start);
    uint64_t sum = 0;
    for (uint64_t t = 0; t < maxt; t++) {
        pthread_join(tid[t], NULL);
        sum += w[t].sum;
        total_ops += w[t].ops;
    }
    free(w);
    free(tid);
    char extra[256];
    snprintf(extra, sizeof extra, "phases=%llu threads=%llu/%llu burst_seconds=%.4f churn_seconds=%.4f "
             "rss_phase_end_avg_kib=%llu rss_end_kib=%llu",
             (unsigned long long)phases, (unsigned long long)lowt, (unsigned long long)maxt, burst_s, churn_s,
             rss_sum / phases, phase_rss[phases - 1]);
    bench_result("phase_shift", total_ops, total, sum, extra);
    return 0;
}
