/* replay.c — replays a hakmem allocation trace (HAKMEM_TRACE_ALLOCATIONS) against whatever malloc the
 * process runs with: `hakmem trace replay` starts it under LD_PRELOAD of hakmem, mimalloc, jemalloc,
 * tcmalloc, or nothing (glibc). The replayer's own memory (the trace, the sorted operations, the
 * address table) comes from mmap, never from the allocator being measured.
 *
 * Preparation (not timed): read the records, sort them by time (threads merged), turn every traced
 * address into a slot index. Then the timed pass runs the operations in order on one thread, writing
 * the first bytes of each block (a program touches what it allocates), and prints one JSON line:
 *   {"ops":N,"seconds":S,"ns_per_op":X,"maxrss_kib":K,"failed":F,"anomalies":A,"checksum":C}
 *
 * usage: hakmem-replay TRACE [--repeat N] [--touch BYTES] */
#define _GNU_SOURCE
#include <fcntl.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum { OP_MALLOC = 1, OP_FREE, OP_CALLOC, OP_REALLOC, OP_MEMALIGN, OP_REALLOC_OLD };

typedef struct rec {
    uint64_t time_ns, ptr, size, aux;
    uint32_t tid;
    uint8_t op, flags;
    uint16_t reserved;
} rec_t;

typedef struct op {          /* one prepared operation */
    uint8_t kind;
    uint32_t slot;           /* result slot (alloc ops) or freed slot (free) */
    uint32_t old;            /* realloc: slot of the old block, UINT32_MAX for NULL */
    uint64_t size, align;
} op_t;

#define NONE UINT32_MAX

static void *map(size_t n)
{
    void *p = mmap(NULL, n ? n : 1, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        fprintf(stderr, "hakmem-replay: out of memory (%zu bytes)\n", n);
        exit(2);
    }
    return p;
}

/* Stable merge sort by time (records of one thread stay in their order). */
static void sort_recs(rec_t *a, size_t n)
{
    rec_t *tmp = map(n * sizeof *a);
    for (size_t w = 1; w < n; w *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * w) {
            size_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
            size_t i = lo, j = mid, k = lo;
            while (i < mid && j < hi)
                tmp[k++] = a[j].time_ns < a[i].time_ns ? a[j++] : a[i++];
            while (i < mid)
                tmp[k++] = a[i++];
            while (j < hi)
                tmp[k++] = a[j++];
        }
        memcpy(a, tmp, n * sizeof *a);
    }
    munmap(tmp, n * sizeof *a);
}

/* Open-addressing table: traced address -> slot of the live block there. */
static uint64_t *h_key;
static uint32_t *h_val;
static size_t h_mask;

static size_t h_find(uint64_t k)
{
    size_t i = (size_t)((k >> 4) * 0x9e3779b97f4a7c15ull) & h_mask;
    while (h_key[i] && h_key[i] != k)
        i = (i + 1) & h_mask;
    return i;
}

static void h_del(size_t i)
{
    h_key[i] = 0;
    for (size_t j = (i + 1) & h_mask; h_key[j]; j = (j + 1) & h_mask) {
        uint64_t k = h_key[j];
        uint32_t v = h_val[j];
        h_key[j] = 0;
        size_t t = h_find(k);
        h_key[t] = k;
        h_val[t] = v;
    }
}

static uint32_t *free_slots;
static size_t n_free, n_slots;

static uint32_t new_slot(void)
{
    return n_free ? free_slots[--n_free] : (uint32_t)n_slots++;
}

static uint32_t take(uint64_t addr, size_t *anomalies)
{
    if (!addr)
        return NONE;
    size_t i = h_find(addr);
    if (!h_key[i]) {
        (*anomalies)++;         /* freed before the trace started, or not the program's block */
        return NONE;
    }
    uint32_t s = h_val[i];
    h_del(i);
    return s;
}

static void give(uint64_t addr, uint32_t slot, size_t *anomalies, op_t *ops, size_t *n_ops)
{
    size_t i = h_find(addr);
    if (h_key[i]) {             /* still live in the merged order: retire the older block first */
        (*anomalies)++;
        ops[(*n_ops)++] = (op_t){ OP_FREE, h_val[i], NONE, 0, 0 };
        free_slots[n_free++] = h_val[i];
        h_del(i);
        i = h_find(addr);
    }
    h_key[i] = addr;
    h_val[i] = slot;
}

static long rss_kib(void)
{
    char buf[128];
    int fd = open("/proc/self/statm", O_RDONLY);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = 0;
    char *sp = strchr(buf, ' ');
    return sp ? strtol(sp + 1, NULL, 10) * (sysconf(_SC_PAGESIZE) / 1024) : 0;
}

/* Old blocks of reallocs in progress (OP_REALLOC_OLD seen, OP_REALLOC not yet), by thread. */
#define PENDING 4096
static struct pending { uint32_t tid; uint32_t slot; uint64_t addr; } pending[PENDING];   /* addr 0: none */

/* A thread's entry (tids are never 0; entries are never removed, so probing stays simple). */
static struct pending *pending_find(uint32_t tid)
{
    size_t i = (tid * 2654435761u) % PENDING;
    for (size_t k = 0; k < PENDING; k++, i = (i + 1) % PENDING) {
        if (pending[i].tid == tid)
            return &pending[i];
        if (!pending[i].tid) {
            pending[i].tid = tid;
            return &pending[i];
        }
    }
    return NULL;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s TRACE [--repeat N] [--touch BYTES]\n", argv[0]);
        return 2;
    }
    int repeat = 1;
    size_t touch = 64;
    for (int i = 2; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--repeat"))
            repeat = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--touch"))
            touch = (size_t)atol(argv[i + 1]);
    }
    int fd = open(argv[1], O_RDONLY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || st.st_size < 64) {
        fprintf(stderr, "hakmem-replay: cannot read %s\n", argv[1]);
        return 2;
    }
    unsigned char *file = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (file == MAP_FAILED || memcmp(file, "HAKTRC01", 8) != 0) {
        fprintf(stderr, "hakmem-replay: %s is not a hakmem trace\n", argv[1]);
        return 2;
    }
    uint32_t rec_size;
    memcpy(&rec_size, file + 12, 4);
    if (rec_size != sizeof(rec_t)) {
        fprintf(stderr, "hakmem-replay: record size %u, expected %zu\n", rec_size, sizeof(rec_t));
        return 2;
    }
    size_t n = ((size_t)st.st_size - 64) / sizeof(rec_t);
    rec_t *recs = map(n * sizeof(rec_t));
    memcpy(recs, file + 64, n * sizeof(rec_t));
    munmap(file, (size_t)st.st_size);
    close(fd);
    sort_recs(recs, n);

    size_t cap = 64;
    while (cap < 2 * n + 64)
        cap *= 2;
    h_key = map(cap * sizeof *h_key);
    h_val = map(cap * sizeof *h_val);
    h_mask = cap - 1;
    free_slots = map((n + 1) * sizeof *free_slots);
    op_t *ops = map((2 * n + 1) * sizeof *ops);
    size_t n_ops = 0, anomalies = 0;
    for (size_t i = 0; i < n; i++) {
        rec_t *r = &recs[i];
        op_t o = { r->op, NONE, NONE, r->size, r->aux };
        switch (r->op) {
        case OP_FREE: {
            uint32_t s = take(r->ptr, &anomalies);
            if (s == NONE)
                continue;
            o.slot = s;
            ops[n_ops++] = o;
            free_slots[n_free++] = s;
            continue;
        }
        case OP_REALLOC_OLD: {     /* the old block leaves the address map now; the realloc follows */
            uint32_t s = take(r->ptr, &anomalies);
            struct pending *pe = pending_find(r->tid);
            if (s != NONE && pe) {
                pe->addr = r->ptr;
                pe->slot = s;
            }
            continue;
        }
        case OP_REALLOC: {
            struct pending *pe = r->aux ? pending_find(r->tid) : NULL;
            if (pe && pe->addr && pe->addr == r->aux) {
                o.old = pe->slot;
                pe->addr = 0;
            } else {
                o.old = take(r->aux, &anomalies);
            }
            if (!r->ptr) {            /* realloc(p, 0) freed p, or it failed: p stays when size > 0 */
                if (o.old != NONE && r->size == 0) {
                    o.kind = OP_FREE;
                    o.slot = o.old;
                    ops[n_ops++] = o;
                    free_slots[n_free++] = o.old;
                } else if (o.old != NONE) {
                    give(r->aux, o.old, &anomalies, ops, &n_ops);
                }
                continue;
            }
            o.slot = o.old != NONE ? o.old : new_slot();
            break;
        }
        case OP_MALLOC:
        case OP_CALLOC:
        case OP_MEMALIGN:
            if (!r->ptr)
                continue;            /* failed in the traced run: nothing to replay */
            o.slot = new_slot();
            break;
        default:
            anomalies++;
            continue;
        }
        ops[n_ops++] = o;
        give(r->ptr, o.slot, &anomalies, ops, &n_ops);
    }
    munmap(recs, n * sizeof(rec_t));
    munmap(h_key, cap * sizeof *h_key);
    munmap(h_val, cap * sizeof *h_val);
    munmap(free_slots, (n + 1) * sizeof *free_slots);
    void **slots = map((n_slots + 1) * sizeof *slots);

    size_t failed = 0;
    uint64_t checksum = 0;
    long rss0 = rss_kib(), rss_peak = rss0;
    double t0 = now();
    for (int rep = 0; rep < repeat; rep++) {
        for (size_t i = 0; i < n_ops; i++) {
            op_t *o = &ops[i];
            void *p = NULL;
            switch (o->kind) {
            case OP_FREE:
                free(slots[o->slot]);
                slots[o->slot] = NULL;
                continue;
            case OP_MALLOC:
                p = malloc(o->size);
                break;
            case OP_CALLOC:
                p = calloc(1, o->size);
                break;
            case OP_MEMALIGN:
                if (posix_memalign(&p, o->align < sizeof(void *) ? sizeof(void *) : o->align, o->size))
                    p = NULL;
                break;
            case OP_REALLOC:
                p = realloc(o->old != NONE ? slots[o->old] : NULL, o->size);
                if (!p && o->old != NONE)
                    continue;        /* the old block stays in its slot */
                break;
            }
            if (!p) {
                failed++;
                slots[o->slot] = NULL;
                continue;
            }
            size_t t = o->size < touch ? o->size : touch;
            if (t) {
                memset(p, (int)(i & 0xff), t);
                checksum += ((unsigned char *)p)[t - 1];
            }
            slots[o->slot] = p;
            if ((i & 16383) == 0) {
                long r = rss_kib();
                rss_peak = r > rss_peak ? r : rss_peak;
            }
        }
        for (size_t s = 0; s < n_slots; s++) {   /* what the trace left live is freed between rounds */
            free(slots[s]);
            slots[s] = NULL;
        }
    }
    double secs = now() - t0;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    size_t total = n_ops * (size_t)repeat;
    printf("{\"records\":%zu,\"ops\":%zu,\"repeat\":%d,\"seconds\":%.6f,\"ns_per_op\":%.2f,\"maxrss_kib\":%ld,"
           "\"rss_growth_kib\":%ld,"
           "\"minflt\":%ld,\"failed\":%zu,\"anomalies\":%zu,\"slots\":%zu,\"checksum\":%llu}\n",
           n, total, repeat, secs, total ? secs * 1e9 / (double)total : 0.0, ru.ru_maxrss, rss_peak - rss0,
           ru.ru_minflt, failed,
           anomalies, n_slots, (unsigned long long)checksum);
    return 0;
}
