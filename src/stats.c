/* stats.c — merging the per-thread counters on demand, and the text and JSON reports (HAKMEM_STATS_*). */
#define _GNU_SOURCE
#include "stats.h"
#include "large.h"
#include "log.h"
#include "os.h"
#include "size_class.h"
#include "superslab.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

hak_usage_t hak_usage(void)
{
    hak_usage_t u;
    int64_t mapped = atomic_load_explicit(&hak_os.mapped_bytes, memory_order_relaxed);
    u.mapped_bytes = mapped > 0 ? (size_t)mapped : 0;
    u.small_bytes = 0;
    hak_heap_lock();
    for (hak_heap_t *h = hak_heap_first(); h; h = h->next_all)
        u.small_bytes += hak_counter_get(&h->st.used_bytes);
    hak_heap_unlock();
    u.large_bytes = hak_large_in_use();
    return u;
}

/* ---- merged counters ------------------------------------------------------------ */

typedef struct snapshot {
    uint64_t allocs[HAK_NCLASS], frees[HAK_NCLASS];
    uint64_t small_allocs, small_frees, large_allocs, large_frees;
    uint64_t refills, refill_blocks, flushes, flush_blocks, remote_frees, remote_drained;
    uint64_t slabs_created, slabs_destroyed, heaps;
    hak_usage_t usage;
    long rss_bytes, minflt, majflt;
} snapshot_t;

static long read_rss(void)
{
    char buf[128];
    int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = 0;
    char *sp = strchr(buf, ' ');
    return sp ? strtol(sp + 1, NULL, 10) * sysconf(_SC_PAGESIZE) : 0;
}

static void take_snapshot(snapshot_t *s)
{
    memset(s, 0, sizeof *s);
    hak_heap_lock();
    for (hak_heap_t *h = hak_heap_first(); h; h = h->next_all) {
        s->heaps++;
#if HAK_HAS_STATS
        for (unsigned c = 0; c < HAK_NCLASS; c++) {
            s->allocs[c] += h->dead_allocs[c];
            s->frees[c] += h->dead_frees[c];
            if (h->tls) {
                s->allocs[c] += hak_counter_get(&h->tls->bins[c].allocs);
                s->frees[c] += hak_counter_get(&h->tls->bins[c].frees);
            }
        }
#endif
        s->refills += hak_counter_get(&h->st.refills);
        s->refill_blocks += hak_counter_get(&h->st.refill_blocks);
        s->flushes += hak_counter_get(&h->st.flushes);
        s->flush_blocks += hak_counter_get(&h->st.flush_blocks);
        s->remote_frees += hak_counter_get(&h->st.remote_frees);
        s->remote_drained += hak_counter_get(&h->st.remote_drained);
        s->slabs_created += hak_counter_get(&h->st.slabs_created);
        s->slabs_destroyed += hak_counter_get(&h->st.slabs_destroyed);
    }
    hak_heap_unlock();
    for (unsigned c = 0; c < HAK_NCLASS; c++) {
        s->small_allocs += s->allocs[c];
        s->small_frees += s->frees[c];
    }
    hak_large_counts(&s->large_allocs, &s->large_frees);
    s->usage = hak_usage();
    s->rss_bytes = read_rss();
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0) {
        s->minflt = ru.ru_minflt;
        s->majflt = ru.ru_majflt;
    }
}

void hak_stats_fold_thread(hak_heap_t *h, hak_tls_t *t)
{
#if HAK_HAS_STATS
    hak_heap_lock();
    for (unsigned c = 0; c < HAK_NCLASS; c++) {
        h->dead_allocs[c] += hak_counter_get(&t->bins[c].allocs);
        h->dead_frees[c] += hak_counter_get(&t->bins[c].frees);
        atomic_store_explicit(&t->bins[c].allocs, 0, memory_order_relaxed);
        atomic_store_explicit(&t->bins[c].frees, 0, memory_order_relaxed);
    }
    h->tls = NULL;
    hak_heap_unlock();
#else
    (void)h;
    (void)t;
#endif
}

/* ---- rendering --------------------------------------------------------------- */

typedef struct out {
    char *buf;
    size_t len, cap;
} out_t;

static void put(out_t *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(out_t *o, const char *fmt, ...)
{
    if (o->len >= o->cap)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
    va_end(ap);
    if (n > 0)
        o->len = o->len + (size_t)n < o->cap ? o->len + (size_t)n : o->cap - 1;
}

static char json_buf[64 * 1024];

static const char *render_json(void)
{
    snapshot_t s;
    take_snapshot(&s);
    out_t o = { json_buf, 0, sizeof json_buf };
    put(&o, "{\"mode\":\"%s\",\"variant\":\"%s\",\"stats_compiled\":%s,", HAK_MODE_NAME, HAK_VARIANT_NAME,
        HAK_HAS_STATS ? "true" : "false");
    put(&o, "\"totals\":{\"allocs\":%llu,\"frees\":%llu,\"small_allocs\":%llu,\"small_frees\":%llu,"
            "\"large_allocs\":%llu,\"large_frees\":%llu,\"small_bytes\":%zu,\"large_bytes\":%zu,\"mapped_bytes\":%zu},",
        (unsigned long long)(s.small_allocs + s.large_allocs), (unsigned long long)(s.small_frees + s.large_frees),
        (unsigned long long)s.small_allocs, (unsigned long long)s.small_frees,
        (unsigned long long)s.large_allocs, (unsigned long long)s.large_frees,
        s.usage.small_bytes, s.usage.large_bytes, s.usage.mapped_bytes);
    put(&o, "\"classes\":[");
    int first = 1;
    for (unsigned c = 0; c < HAK_NCLASS; c++) {
        if (!s.allocs[c] && !s.frees[c])
            continue;
        put(&o, "%s{\"class\":%u,\"size\":%u,\"tier\":\"%s\",\"allocs\":%llu,\"frees\":%llu}", first ? "" : ",", c,
            hak_class_size[c], (const char *[]){ "tiny", "pool", "mid" }[hak_class_tier(c)],
            (unsigned long long)s.allocs[c], (unsigned long long)s.frees[c]);
        first = 0;
    }
    put(&o, "],\"heaps\":{\"count\":%llu,\"refills\":%llu,\"refill_blocks\":%llu,\"flushes\":%llu,"
            "\"flush_blocks\":%llu,\"remote_frees\":%llu,\"remote_drained\":%llu,\"slabs_created\":%llu,"
            "\"slabs_destroyed\":%llu,\"superslabs_cached\":%zu},",
        (unsigned long long)s.heaps, (unsigned long long)s.refills, (unsigned long long)s.refill_blocks,
        (unsigned long long)s.flushes, (unsigned long long)s.flush_blocks, (unsigned long long)s.remote_frees,
        (unsigned long long)s.remote_drained, (unsigned long long)s.slabs_created,
        (unsigned long long)s.slabs_destroyed, hak_ss_cached_count());
    put(&o, "\"syscalls\":{\"mmap\":%llu,\"mmap_bytes\":%llu,\"munmap\":%llu,\"munmap_bytes\":%llu,"
            "\"madvise\":%llu,\"madvise_bytes\":%llu,\"mremap\":%llu},",
        (unsigned long long)hak_os.mmap_calls, (unsigned long long)hak_os.mmap_bytes,
        (unsigned long long)hak_os.munmap_calls, (unsigned long long)hak_os.munmap_bytes,
        (unsigned long long)hak_os.madvise_calls, (unsigned long long)hak_os.madvise_bytes,
        (unsigned long long)hak_os.mremap_calls);
    put(&o, "\"process\":{\"rss_bytes\":%ld,\"minflt\":%ld,\"majflt\":%ld}}\n", s.rss_bytes, s.minflt, s.majflt);
    return json_buf;
}

HAK_EXPORT const char *hak_stats_json(void)
{
    return render_json();
}

static void write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w <= 0)
            return;
        p += w;
        n -= (size_t)w;
    }
}

static void print_text(int fd)
{
    static char text[16 * 1024];
    snapshot_t s;
    take_snapshot(&s);
    out_t o = { text, 0, sizeof text };
    put(&o, "hakmem stats (mode %s, variant %s)\n", HAK_MODE_NAME, HAK_VARIANT_NAME);
    put(&o, "  allocs %llu  frees %llu  (small %llu/%llu, large %llu/%llu)\n",
        (unsigned long long)(s.small_allocs + s.large_allocs), (unsigned long long)(s.small_frees + s.large_frees),
        (unsigned long long)s.small_allocs, (unsigned long long)s.small_frees,
        (unsigned long long)s.large_allocs, (unsigned long long)s.large_frees);
    put(&o, "  in use: small %zu B, large %zu B; mapped %zu B; RSS %ld B; faults %ld minor, %ld major\n",
        s.usage.small_bytes, s.usage.large_bytes, s.usage.mapped_bytes, s.rss_bytes, s.minflt, s.majflt);
    put(&o, "  heaps %llu  refills %llu (%llu blocks)  flushes %llu (%llu blocks)  remote frees %llu (drained %llu)\n",
        (unsigned long long)s.heaps, (unsigned long long)s.refills, (unsigned long long)s.refill_blocks,
        (unsigned long long)s.flushes, (unsigned long long)s.flush_blocks, (unsigned long long)s.remote_frees,
        (unsigned long long)s.remote_drained);
    put(&o, "  syscalls: mmap %llu  munmap %llu  madvise %llu  mremap %llu\n",
        (unsigned long long)hak_os.mmap_calls, (unsigned long long)hak_os.munmap_calls,
        (unsigned long long)hak_os.madvise_calls, (unsigned long long)hak_os.mremap_calls);
    put(&o, "  %-6s %7s %-5s %14s %14s\n", "class", "size", "tier", "allocs", "frees");
    for (unsigned c = 0; c < HAK_NCLASS; c++) {
        if (!s.allocs[c] && !s.frees[c])
            continue;
        put(&o, "  %-6u %7u %-5s %14llu %14llu\n", c, hak_class_size[c],
            (const char *[]){ "tiny", "pool", "mid" }[hak_class_tier(c)], (unsigned long long)s.allocs[c],
            (unsigned long long)s.frees[c]);
    }
    write_all(fd, text, o.len);
}

HAK_EXPORT void hak_stats_print(FILE *out)
{
    if (out)
        fflush(out);
    print_text(out ? fileno(out) : STDERR_FILENO);
}

#if HAK_HAS_STATS
static void at_exit(void)
{
    if (hak_cfg.stats_enable)
        print_text(STDERR_FILENO);
    if (hak_cfg.stats_file[0]) {
        const char *j = render_json();
        int fd = open(hak_cfg.stats_file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0) {
            hak_msg("HAKMEM_STATS_FILE=%s: cannot open for writing", hak_cfg.stats_file);
            return;
        }
        write_all(fd, j, strlen(j));
        close(fd);
    }
}
#endif

void hak_stats_init(void)
{
#if HAK_HAS_STATS
    if (hak_cfg.stats_enable || hak_cfg.stats_file[0])
        atexit(at_exit);
#endif
}
