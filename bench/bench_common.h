/* bench_common.h — shared helpers of the benchmark programs: clock, PRNG, argument
 * parsing and the single machine-readable RESULT line every program prints.
 *
 * Programs call plain malloc/free so any allocator can be LD_PRELOADed under them.
 * Every program keeps a checksum computed from data written into and read back
 * from its blocks: it cannot be optimised away, it is identical for every correct
 * allocator (the harness compares it across allocators), and it changes when an
 * allocator hands out overlapping or corrupted memory. */
#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <fcntl.h>
#include <unistd.h>

static inline double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* CPU time of the whole process (all threads) over the measured region: on a shared
 * machine it is not inflated by time spent waiting for a CPU, as wall time is. */
static double bench_cpu_t0, bench_cpu_t1;

static inline double bench_cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Start of the measured region: returns the wall clock, notes the CPU clock. */
static inline double bench_start(void)
{
    bench_cpu_t0 = bench_cpu_now();
    return bench_now();
}

/* End of the measured region: wall seconds since t0 (CPU seconds kept for the result). */
static inline double bench_stop(double t0)
{
    double wall = bench_now() - t0;
    bench_cpu_t1 = bench_cpu_now();
    return wall;
}

/* splitmix64: seeds the generator from a small integer seed. */
static inline uint64_t bench_splitmix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

typedef struct { uint64_t s; } bench_rng;

static inline void bench_rng_seed(bench_rng *r, uint64_t seed)
{
    r->s = bench_splitmix(seed) | 1;
}

/* xorshift64*: cheap enough not to dominate an allocator fast path. */
static inline uint64_t bench_rng_next(bench_rng *r)
{
    uint64_t x = r->s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    r->s = x;
    return x * 0x2545f4914f6cdd1dULL;
}

/* Uniform in [lo, hi] (inclusive). */
static inline size_t bench_rng_range(bench_rng *r, size_t lo, size_t hi)
{
    if (hi <= lo)
        return lo;
    return lo + (size_t)((bench_rng_next(r) >> 11) % (uint64_t)(hi - lo + 1));
}

/* argv[i] as an unsigned number, or def when absent; accepts k/m/g suffixes. */
static inline uint64_t bench_arg(int argc, char **argv, int i, uint64_t def)
{
    if (i >= argc || argv[i][0] == '\0')
        return def;
    char *end = NULL;
    double v = strtod(argv[i], &end);
    if (end == argv[i] || v < 0) {
        fprintf(stderr, "bad argument %d: '%s'\n", i, argv[i]);
        exit(2);
    }
    switch (*end) {
    case 'k': case 'K': v *= 1024.0; break;
    case 'm': case 'M': v *= 1024.0 * 1024.0; break;
    case 'g': case 'G': v *= 1024.0 * 1024.0 * 1024.0; break;
    default: break;
    }
    return (uint64_t)v;
}

/* bench_arg, brought into [lo, hi]. */
static inline uint64_t bench_arg_in(int argc, char **argv, int i, uint64_t def, uint64_t lo, uint64_t hi)
{
    uint64_t v = bench_arg(argc, argv, i, def);
    return v < lo ? lo : v > hi ? hi : v;
}

static inline void *bench_xmalloc(size_t n)
{
    void *p = malloc(n);
    if (!p) {
        fprintf(stderr, "malloc(%zu) failed\n", n);
        exit(3);
    }
    return p;
}

/* Read a /proc file into buf (NUL-terminated) with plain system calls; 0 when unavailable. */
static inline int bench_read_proc(const char *path, char *buf, size_t len)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, len - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    return 1;
}

/* Peak resident set of this process in KiB (VmHWM), read without allocating.
 * The harness prefers it to the child's rusage, whose ru_maxrss also counts the
 * launching process's memory from before exec. 0 when unavailable. */
static inline unsigned long long bench_peak_rss_kib(void)
{
    char buf[4096];
    if (!bench_read_proc("/proc/self/status", buf, sizeof buf))
        return 0;
    const char *p = strstr(buf, "VmHWM:");
    return p ? strtoull(p + 6, NULL, 10) : 0;
}

/* Current resident set in KiB (/proc/self/statm), read without allocating. */
static inline unsigned long long bench_rss_kib(void)
{
    char buf[256];
    if (!bench_read_proc("/proc/self/statm", buf, sizeof buf))
        return 0;
    const char *sp = strchr(buf, ' ');
    return sp ? strtoull(sp + 1, NULL, 10) * (unsigned long long)(sysconf(_SC_PAGESIZE) / 1024) : 0;
}

/* The one line the harness parses: key=value pairs after "RESULT". `extra` holds
 * further " key=value" pairs (may be empty). */
static inline void bench_result(const char *bench, uint64_t ops, double seconds,
                                uint64_t checksum, const char *extra)
{
    if (seconds <= 0)
        seconds = 1e-9;
    printf("RESULT bench=%s ops=%llu seconds=%.6f ops_per_sec=%.6e ns_per_op=%.3f "
           "cpu_seconds=%.6f checksum=%016llx peak_rss_kib=%llu%s%s\n",
           bench, (unsigned long long)ops, seconds, (double)ops / seconds,
           seconds * 1e9 / (double)(ops ? ops : 1), bench_cpu_t1 - bench_cpu_t0,
           (unsigned long long)checksum,
           bench_peak_rss_kib(), extra && *extra ? " " : "", extra ? extra : "");
    fflush(stdout);
}

/* Tag written at the start and end of a block and read back before it is freed. */
static inline void bench_fill(unsigned char *p, size_t n, uint64_t tag)
{
    p[0] = (unsigned char)tag;
    p[n - 1] = (unsigned char)(tag >> 8);
}

static inline uint64_t bench_read(const unsigned char *p, size_t n)
{
    return (uint64_t)p[0] + ((uint64_t)p[n - 1] << 8);
}

/* Write one byte per 4 KiB page so the whole block is faulted in (counts toward RSS). */
static inline void bench_touch_pages(unsigned char *p, size_t n, uint64_t tag)
{
    for (size_t off = 0; off < n; off += 4096)
        p[off] = (unsigned char)(tag + off);
    p[n - 1] = (unsigned char)(tag >> 8);
}

static inline uint64_t bench_read_pages(const unsigned char *p, size_t n)
{
    uint64_t s = 0;
    for (size_t off = 0; off < n; off += 4096)
        s += p[off];
    return s + ((uint64_t)p[n - 1] << 8);
}

/* Slot churn shared by random_mixed, mid_large and large: each iteration picks a
 * random slot; an empty slot gets a new block of random size in [min, max], a full
 * one is read back and freed. One iteration = one malloc or one free. With a time
 * limit the loop may stop early; *done tells how many iterations ran (the checksum
 * depends on it, so the harness compares checksums of equal-length runs only). */
typedef struct {
    uint64_t iters, min, max, slots, seed;
    int touch_pages;
    double max_seconds; /* > 0: stop early (at a multiple of 256 iterations) after this long */
} bench_churn_args;

static inline uint64_t bench_slot_churn(const bench_churn_args *a, double *secs, uint64_t *done)
{
    unsigned char **slot = calloc(a->slots, sizeof *slot);
    size_t *size = calloc(a->slots, sizeof *size);
    if (!slot || !size) {
        fprintf(stderr, "out of memory for %llu slots\n", (unsigned long long)a->slots);
        exit(3);
    }
    bench_rng r;
    bench_rng_seed(&r, a->seed);
    uint64_t sum = 0;
    double t0 = bench_start();
    uint64_t i;
    for (i = 0; i < a->iters; i++) {
        if (a->max_seconds > 0 && (i & 255) == 0 && i && bench_now() - t0 > a->max_seconds)
            break;
        uint64_t x = bench_rng_next(&r);
        size_t k = (size_t)((x >> 16) % a->slots);
        if (slot[k]) {
            sum += a->touch_pages ? bench_read_pages(slot[k], size[k])
                                  : bench_read(slot[k], size[k]);
            free(slot[k]);
            slot[k] = NULL;
        } else {
            size_t n = bench_rng_range(&r, a->min, a->max);
            unsigned char *p = bench_xmalloc(n);
            if (a->touch_pages)
                bench_touch_pages(p, n, x);
            else
                bench_fill(p, n, x);
            slot[k] = p;
            size[k] = n;
        }
    }
    for (uint64_t k = 0; k < a->slots; k++) {
        if (slot[k]) {
            sum += a->touch_pages ? bench_read_pages(slot[k], size[k])
                                  : bench_read(slot[k], size[k]);
            free(slot[k]);
        }
    }
    *secs = bench_stop(t0);
    free(slot);
    free(size);
    *done = i;
    return sum;
}

/* The whole program of a slot-churn scenario: sane arguments, the run, its RESULT line. */
static inline int bench_slot_churn_main(const char *name, bench_churn_args a)
{
    if (a.min < 2)
        a.min = 2;
    if (a.max < a.min)
        a.max = a.min;
    if (a.slots == 0)
        a.slots = 1;
    double secs;
    uint64_t done;
    uint64_t sum = bench_slot_churn(&a, &secs, &done);
    char extra[96];
    snprintf(extra, sizeof extra, "min_size=%llu max_size=%llu slots=%llu",
             (unsigned long long)a.min, (unsigned long long)a.max,
             (unsigned long long)a.slots);
    bench_result(name, done, secs, sum, extra);
    return 0;
}

#endif
