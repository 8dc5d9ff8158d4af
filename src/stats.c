/* stats.c — merging the per-thread counters on demand, the text and JSON reports, the interval
 * thread and its samples (HAKMEM_STATS_*; see stats.h). Rendering never allocates: reports are
 * formatted into static buffers under one lock and written with write(2). */
#define _GNU_SOURCE
#include "stats.h"
#include "large.h"
#include "log.h"
#include "os.h"
#include "size_class.h"
#include "superslab.h"
#include "hardened/hardened.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

/* Sections other subsystems provide (hidden weak: NULL when not linked into this .so). */
#define HAK_WEAK_HOOK __attribute__((weak, visibility("hidden")))
size_t hak_memory_stats_json(char *buf, size_t len) HAK_WEAK_HOOK;
size_t hak_learn_report_text(char *buf, size_t cap) HAK_WEAK_HOOK;
size_t hak_learn_report_json(char *buf, size_t cap) HAK_WEAK_HOOK;

static const char *const tier_names[HAK_TIER_COUNT] = { "tiny", "pool", "mid", "large" };

/* Set in a child of fork(): the learner sections are left out of its reports, because the learners'
 * report locks are not held across fork and a parent thread may have owned one at that moment. */
static int in_forked_child;

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
    uint64_t allocs[HAK_NCLASS], frees[HAK_NCLASS], refills[HAK_NCLASS], flushes[HAK_NCLASS];
    uint64_t small_allocs, small_frees, large_allocs, large_frees;
    uint64_t refills_total, refill_blocks, flushes_total, flush_blocks, remote_frees, remote_drained;
    uint64_t remote_drains, drains_deferred, splices, splice_blocks;
    uint64_t slabs_created, slabs_destroyed, heaps;
    uint64_t in_use_class[HAK_NCLASS];   /* (allocs - frees) * class size */
    uint64_t in_use_bytes;               /* small in use + large in use */
    hak_usage_t usage;
    long rss_bytes, peak_rss_bytes, minflt, majflt;
    double t_sec;                        /* since start-up */
} snapshot_t;

/* Peaks are the largest values seen by any snapshot: interval samples, reports and hak_stats_json. */
static uint64_t peak_class[HAK_NCLASS], peak_in_use, peak_small, peak_large, peak_mapped;
static pthread_mutex_t report_lock = PTHREAD_MUTEX_INITIALIZER;   /* buffers, peaks, samples */
static struct timespec t_start;

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

static double since_start(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)(ts.tv_sec - t_start.tv_sec) + (double)(ts.tv_nsec - t_start.tv_nsec) / 1e9;
}

static uint64_t max_u64(uint64_t a, uint64_t b) { return a > b ? a : b; }

/* Called with report_lock held (it updates the peaks). */
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
            s->refills[c] += hak_counter_get(&h->cls_refills[c]);
            s->flushes[c] += hak_counter_get(&h->cls_flushes[c]);
            if (h->tls) {
                s->allocs[c] += hak_counter_get(&h->tls->bins[c].allocs);
                s->frees[c] += hak_bin_frees(&h->tls->bins[c]);
            }
        }
#endif
        s->refills_total += hak_counter_get(&h->st.refills);
        s->refill_blocks += hak_counter_get(&h->st.refill_blocks);
        s->flushes_total += hak_counter_get(&h->st.flushes);
        s->flush_blocks += hak_counter_get(&h->st.flush_blocks);
        s->remote_frees += hak_counter_get(&h->st.remote_frees);
        s->remote_drained += hak_counter_get(&h->st.remote_drained);
        s->remote_drains += hak_counter_get(&h->st.remote_drains);
        s->drains_deferred += hak_counter_get(&h->st.drains_deferred);
        s->splices += hak_counter_get(&h->st.splices);
        s->splice_blocks += hak_counter_get(&h->st.splice_blocks);
        s->slabs_created += hak_counter_get(&h->st.slabs_created);
        s->slabs_destroyed += hak_counter_get(&h->st.slabs_destroyed);
    }
    hak_heap_unlock();
    uint64_t small_in_use = 0;
    for (unsigned c = 0; c < HAK_NCLASS; c++) {
        s->small_allocs += s->allocs[c];
        s->small_frees += s->frees[c];
        /* A block freed by another thread is counted there: only the sum over threads is exact. */
        s->in_use_class[c] = s->allocs[c] > s->frees[c] ? (s->allocs[c] - s->frees[c]) * hak_class_size[c] : 0;
        small_in_use += s->in_use_class[c];
        peak_class[c] = max_u64(peak_class[c], s->in_use_class[c]);
    }
    hak_large_counts(&s->large_allocs, &s->large_frees);
    s->usage = hak_usage();
    s->in_use_bytes = small_in_use + s->usage.large_bytes;
    peak_in_use = max_u64(peak_in_use, s->in_use_bytes);
    peak_small = max_u64(peak_small, small_in_use);
    peak_large = max_u64(peak_large, s->usage.large_bytes);
    peak_mapped = max_u64(peak_mapped, s->usage.mapped_bytes);
    s->rss_bytes = read_rss();
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0) {
        s->minflt = ru.ru_minflt;
        s->majflt = ru.ru_majflt;
        s->peak_rss_bytes = ru.ru_maxrss * 1024L;
    }
    s->t_sec = since_start();
}

void hak_stats_fold_thread(hak_heap_t *h, hak_tls_t *t)
{
#if HAK_HAS_STATS
    hak_heap_lock();
    for (unsigned c = 0; c < HAK_NCLASS; c++) {
        h->dead_allocs[c] += hak_counter_get(&t->bins[c].allocs);
        h->dead_frees[c] += hak_bin_frees(&t->bins[c]);
    }
    h->tls = NULL;
    hak_heap_unlock();
#else
    (void)h;
    (void)t;
#endif
}

/* ---- interval samples ----------------------------------------------------------- */

#define MAX_SAMPLES 512   /* when full, every other sample is dropped and the spacing doubles */

typedef struct sample {
    double t;
    long rss;
    uint64_t allocs, frees;          /* cumulative */
    uint64_t in_use, mapped;
} sample_t;

static sample_t samples[MAX_SAMPLES];
static unsigned n_samples, sample_stride = 1, sample_skip;

__attribute__((unused)) static void add_sample(const snapshot_t *s)
{
    if (sample_skip) {
        sample_skip--;
        return;
    }
    if (n_samples == MAX_SAMPLES) {
        for (unsigned i = 0; i < MAX_SAMPLES / 2; i++)
            samples[i] = samples[2 * i];
        n_samples = MAX_SAMPLES / 2;
        sample_stride *= 2;
    }
    sample_skip = sample_stride - 1;
    samples[n_samples++] = (sample_t){ s->t_sec, s->rss_bytes, s->small_allocs + s->large_allocs,
                                       s->small_frees + s->large_frees, s->in_use_bytes,
                                       s->usage.mapped_bytes };
}

/* ---- rendering --------------------------------------------------------------- */

typedef struct out {
    char *buf;
    size_t len, cap;
} out_t;

static void put(out_t *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(out_t *o, const char *fmt, ...)
{
    if (o->len + 1 >= o->cap)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
    va_end(ap);
    if (n > 0)
        o->len = o->len + (size_t)n < o->cap ? o->len + (size_t)n : o->cap - 1;
}

static unsigned long long U(uint64_t v) { return (unsigned long long)v; }

/* now - before for a total that only grows, except the derived frees of a live thread, which may
 * step back by a batch between two readings: never a wrapped difference. */
static uint64_t since(uint64_t now, uint64_t before)
{
    return now > before ? now - before : 0;
}

static double rate(uint64_t hits, uint64_t total) { return total ? (double)hits / (double)total : 0.0; }

/* The memory sections (BigCache, decay, THP, SuperSlabs) as JSON members, or "" without them. */
static char mem_json[8192];

static const char *memory_json(void)
{
    mem_json[0] = 0;
    if (hak_memory_stats_json)
        hak_memory_stats_json(mem_json, sizeof mem_json);
    return mem_json;
}

/* A number following "key": inside object `obj` ("bigcache") of the memory JSON; -1 when absent. */
static double mem_value(const char *obj, const char *key)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":{", obj);
    const char *o = strstr(mem_json, pat);
    if (!o)
        return -1;
    const char *end = strchr(o + strlen(pat), '}');
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *k = strstr(o, pat);
    if (!k || (end && k > end))
        return -1;
    return strtod(k + strlen(pat), NULL);
}

typedef struct tier_sum {
    uint64_t allocs, frees, misses, in_use, peak;
} tier_sum_t;

static void tier_sums(const snapshot_t *s, tier_sum_t t[HAK_TIER_COUNT])
{
    memset(t, 0, sizeof(tier_sum_t) * HAK_TIER_COUNT);
    for (unsigned c = 0; c < HAK_NCLASS; c++) {
        tier_sum_t *x = &t[hak_class_tier(c)];
        x->allocs += s->allocs[c];
        x->frees += s->frees[c];
        x->misses += s->refills[c];
        x->in_use += s->in_use_class[c];
        x->peak += peak_class[c];   /* sum of per-class peaks: an upper bound of the tier's peak */
    }
    t[HAK_TIER_LARGE].allocs = s->large_allocs;
    t[HAK_TIER_LARGE].frees = s->large_frees;
    t[HAK_TIER_LARGE].in_use = s->usage.large_bytes;
    t[HAK_TIER_LARGE].peak = peak_large;
}

void hak_stats_view(hak_stats_view_t *v)
{
    snapshot_t s;
    tier_sum_t t[HAK_TIER_COUNT];
    pthread_mutex_lock(&report_lock);
    take_snapshot(&s);
    tier_sums(&s, t);
    v->peak_in_use = peak_in_use;
    v->peak_mapped = peak_mapped;
    pthread_mutex_unlock(&report_lock);
    for (unsigned c = 0; c < HAK_NCLASS; c++) {
        v->allocs[c] = s.allocs[c];
        v->frees[c] = s.frees[c];
        v->misses[c] = s.refills[c];
        v->in_use[c] = s.in_use_class[c];
    }
    for (unsigned i = 0; i < HAK_TIER_COUNT; i++) {
        v->tier_allocs[i] = t[i].allocs;
        v->tier_frees[i] = t[i].frees;
        v->tier_misses[i] = t[i].misses;
        v->tier_in_use[i] = t[i].in_use;
    }
    v->heaps = s.heaps;
    v->slabs_live = s.slabs_created - s.slabs_destroyed;
    v->remote_frees = s.remote_frees;
    v->usage = s.usage;
}

static char json_buf[256 * 1024];

/* Called with report_lock held. */
static const char *render_json(void)
{
    snapshot_t s;
    take_snapshot(&s);
    const char *mem = memory_json();
    out_t o = { json_buf, 0, sizeof json_buf };
    put(&o, "{\"mode\":\"%s\",\"variant\":\"%s\",\"stats_compiled\":%s,\"uptime_sec\":%.3f,", HAK_MODE_NAME,
        HAK_VARIANT_NAME, HAK_HAS_STATS ? "true" : "false", s.t_sec);
    uint64_t hits = 0, misses = 0;
    for (unsigned c = 0; c < HAK_NCLASS; c++) {
        misses += s.refills[c];
        hits += s.allocs[c] > s.refills[c] ? s.allocs[c] - s.refills[c] : 0;
    }
    put(&o, "\"totals\":{\"allocs\":%llu,\"frees\":%llu,\"small_allocs\":%llu,\"small_frees\":%llu,"
            "\"large_allocs\":%llu,\"large_frees\":%llu,\"small_bytes\":%zu,\"large_bytes\":%zu,\"mapped_bytes\":%zu,"
            "\"in_use_bytes\":%llu,\"peak_in_use_bytes\":%llu,\"peak_mapped_bytes\":%llu,"
            "\"cache_hits\":%llu,\"cache_misses\":%llu,\"cache_hit_rate\":%.4f},",
        U(s.small_allocs + s.large_allocs), U(s.small_frees + s.large_frees), U(s.small_allocs), U(s.small_frees),
        U(s.large_allocs), U(s.large_frees), s.usage.small_bytes, s.usage.large_bytes, s.usage.mapped_bytes,
        U(s.in_use_bytes), U(peak_in_use), U(peak_mapped), U(hits), U(misses), rate(hits, hits + misses));
    tier_sum_t t[HAK_TIER_COUNT];
    tier_sums(&s, t);
    put(&o, "\"tiers\":[");
    for (unsigned i = 0; i < HAK_TIER_COUNT; i++) {
        uint64_t th = t[i].allocs > t[i].misses ? t[i].allocs - t[i].misses : 0;
        put(&o, "%s{\"tier\":\"%s\",\"allocs\":%llu,\"frees\":%llu,\"cache_hits\":%llu,\"cache_misses\":%llu,"
                "\"in_use_bytes\":%llu,\"peak_bytes\":%llu}",
            i ? "," : "", tier_names[i], U(t[i].allocs), U(t[i].frees), U(i == HAK_TIER_LARGE ? 0 : th),
            U(t[i].misses), U(t[i].in_use), U(t[i].peak));
    }
    put(&o, "],\"classes\":[");
    int first = 1;
    for (unsigned c = 0; c < HAK_NCLASS; c++) {
        if (!s.allocs[c] && !s.frees[c] && !s.refills[c])
            continue;
        uint64_t h = s.allocs[c] > s.refills[c] ? s.allocs[c] - s.refills[c] : 0;
        put(&o, "%s{\"class\":%u,\"size\":%u,\"tier\":\"%s\",\"allocs\":%llu,\"frees\":%llu,\"hits\":%llu,"
                "\"misses\":%llu,\"refills\":%llu,\"flushes\":%llu,\"hit_rate\":%.4f,\"in_use_bytes\":%llu,"
                "\"peak_bytes\":%llu}",
            first ? "" : ",", c, hak_class_size[c], tier_names[hak_class_tier(c)], U(s.allocs[c]), U(s.frees[c]),
            U(h), U(s.refills[c]), U(s.refills[c]), U(s.flushes[c]), rate(h, s.allocs[c]), U(s.in_use_class[c]),
            U(peak_class[c]));
        first = 0;
    }
    put(&o, "],\"heaps\":{\"count\":%llu,\"refills\":%llu,\"refill_blocks\":%llu,\"flushes\":%llu,"
            "\"flush_blocks\":%llu,\"remote_frees\":%llu,\"remote_drained\":%llu,\"slabs_created\":%llu,"
            "\"slabs_destroyed\":%llu,\"slabs_live\":%llu,\"superslabs_cached\":%zu,"
            "\"remote_drains\":%llu,\"drains_deferred\":%llu,\"splices\":%llu,\"splice_blocks\":%llu},",
        U(s.heaps), U(s.refills_total), U(s.refill_blocks), U(s.flushes_total), U(s.flush_blocks),
        U(s.remote_frees), U(s.remote_drained), U(s.slabs_created), U(s.slabs_destroyed),
        U(s.slabs_created - s.slabs_destroyed), hak_ss_cached_count(),
        U(s.remote_drains), U(s.drains_deferred), U(s.splices), U(s.splice_blocks));
    double bh = mem_value("bigcache", "hits"), bm = mem_value("bigcache", "misses");
    put(&o, "\"large\":{\"allocs\":%llu,\"frees\":%llu,\"in_use_bytes\":%zu,\"peak_bytes\":%llu,",
        U(s.large_allocs), U(s.large_frees), s.usage.large_bytes, U(peak_large));
    if (bh >= 0 && bm >= 0)
        put(&o, "\"bigcache_hits\":%.0f,\"bigcache_misses\":%.0f,\"bigcache_hit_rate\":%.4f},", bh, bm,
            bh + bm > 0 ? bh / (bh + bm) : 0.0);
    else
        put(&o, "\"bigcache_hit_rate\":null},");
    if (mem[0])
        put(&o, "\"memory\":{%s},", mem);
#if HAK_HARDENING
    {
        char hard[512];
        size_t n = hak_hard_report_json(hard, sizeof hard);
        put(&o, "%.*s,", (int)n, hard);
    }
#endif
    if (hak_learn_report_json && !in_forked_child) {
        char learn[8192];
        size_t n = hak_learn_report_json(learn, sizeof learn);
        if (n)
            put(&o, "%.*s,", (int)n, learn);
    }
    put(&o, "\"syscalls\":{\"profiled\":%s,\"mmap\":%llu,\"mmap_bytes\":%llu,\"munmap\":%llu,\"munmap_bytes\":%llu,"
            "\"madvise\":%llu,\"madvise_bytes\":%llu,\"mremap\":%llu},",
        hak_cfg.profile_syscalls ? "true" : "false", U(hak_os.mmap_calls), U(hak_os.mmap_bytes),
        U(hak_os.munmap_calls), U(hak_os.munmap_bytes), U(hak_os.madvise_calls), U(hak_os.madvise_bytes),
        U(hak_os.mremap_calls));
    put(&o, "\"process\":{\"rss_bytes\":%ld,\"peak_rss_bytes\":%ld,\"minflt\":%ld,\"majflt\":%ld}", s.rss_bytes,
        s.peak_rss_bytes, s.minflt, s.majflt);
    if (hak_cfg.stats_interval_sec > 0) {
        put(&o, ",\"interval_sec\":%lld,\"intervals\":[", (long long)hak_cfg.stats_interval_sec);
        for (unsigned i = 0; i < n_samples; i++) {
            const sample_t *x = &samples[i];
            uint64_t pa = i ? samples[i - 1].allocs : 0, pf = i ? samples[i - 1].frees : 0;
            put(&o, "%s{\"t\":%.3f,\"rss_bytes\":%ld,\"allocs\":%llu,\"frees\":%llu,\"allocs_total\":%llu,"
                    "\"frees_total\":%llu,\"in_use_bytes\":%llu,\"mapped_bytes\":%llu}",
                i ? "," : "", x->t, x->rss, U(x->allocs - pa), U(since(x->frees, pf)), U(x->allocs), U(x->frees),
                U(x->in_use), U(x->mapped));
        }
        put(&o, "]");
    }
    put(&o, "}\n");
    return json_buf;
}

HAK_EXPORT const char *hak_stats_json(void)
{
    pthread_mutex_lock(&report_lock);
    const char *j = render_json();
    pthread_mutex_unlock(&report_lock);
    return j;
}

static void fmt_bytes(char *b, size_t n, double v)
{
    const char *u[] = { "B", "KiB", "MiB", "GiB", "TiB" };
    int i = 0;
    while (v >= 1024 && i < 4) {
        v /= 1024;
        i++;
    }
    snprintf(b, n, i ? "%.1f %s" : "%.0f %s", v, u[i]);
}

/* Called with report_lock held. */
static void print_text(int fd, int verbose)
{
    static char text[48 * 1024];
    snapshot_t s;
    take_snapshot(&s);
    const char *mem = memory_json();
    out_t o = { text, 0, sizeof text };
    char b1[32], b2[32], b3[32], b4[32];
    put(&o, "hakmem stats (mode %s, variant %s, %.2f s)%s\n", HAK_MODE_NAME, HAK_VARIANT_NAME, s.t_sec,
        HAK_HAS_STATS ? "" : " -- per-class counters are compiled out of this mode");
    put(&o, "  allocs %llu  frees %llu  (small %llu/%llu, large %llu/%llu)\n", U(s.small_allocs + s.large_allocs),
        U(s.small_frees + s.large_frees), U(s.small_allocs), U(s.small_frees), U(s.large_allocs),
        U(s.large_frees));
    fmt_bytes(b1, sizeof b1, (double)s.in_use_bytes);
    fmt_bytes(b2, sizeof b2, (double)peak_in_use);
    fmt_bytes(b3, sizeof b3, (double)s.usage.mapped_bytes);
    fmt_bytes(b4, sizeof b4, (double)peak_mapped);
    put(&o, "  in use %s (peak seen %s)  mapped %s (peak %s)\n", b1, b2, b3, b4);
    fmt_bytes(b1, sizeof b1, (double)s.rss_bytes);
    fmt_bytes(b2, sizeof b2, (double)s.peak_rss_bytes);
    put(&o, "  process: RSS %s (peak %s), page faults %ld minor, %ld major\n", b1, b2, s.minflt, s.majflt);
    put(&o, "  heaps %llu  refills %llu (%llu blocks)  flushes %llu (%llu blocks)  remote frees %llu (drained %llu)\n",
        U(s.heaps), U(s.refills_total), U(s.refill_blocks), U(s.flushes_total), U(s.flush_blocks),
        U(s.remote_frees), U(s.remote_drained));
    double ss_live = mem_value("superslab", "live"), ss_mapped = mem_value("superslab", "mapped");
    put(&o, "  slabs live %llu (created %llu)  SuperSlabs", U(s.slabs_created - s.slabs_destroyed),
        U(s.slabs_created));
    if (ss_live >= 0)
        put(&o, " live %.0f,", ss_live);
    if (ss_mapped >= 0)
        put(&o, " mapped %.0f (since start),", ss_mapped);
    put(&o, " cached %zu\n", hak_ss_cached_count());
    double bh = mem_value("bigcache", "hits"), bm = mem_value("bigcache", "misses");
    tier_sum_t t[HAK_TIER_COUNT];
    tier_sums(&s, t);
    put(&o, "  %-6s %12s %12s %12s %12s %7s %11s %11s\n", "tier", "allocs", "frees", "hits", "misses", "hit%",
        "in use", "peak");
    for (unsigned i = 0; i < HAK_TIER_COUNT; i++) {
        fmt_bytes(b1, sizeof b1, (double)t[i].in_use);
        fmt_bytes(b2, sizeof b2, (double)t[i].peak);
        if (i == HAK_TIER_LARGE) {
            char hr[16] = "-";
            if (bh >= 0 && bm >= 0 && bh + bm > 0)
                snprintf(hr, sizeof hr, "%.1f", 100.0 * bh / (bh + bm));
            put(&o, "  %-6s %12llu %12llu %12.0f %12.0f %7s %11s %11s   (BigCache)\n", tier_names[i],
                U(t[i].allocs), U(t[i].frees), bh >= 0 ? bh : 0.0, bm >= 0 ? bm : 0.0, hr, b1, b2);
            continue;
        }
        uint64_t h = t[i].allocs > t[i].misses ? t[i].allocs - t[i].misses : 0;
        put(&o, "  %-6s %12llu %12llu %12llu %12llu %7.1f %11s %11s\n", tier_names[i], U(t[i].allocs),
            U(t[i].frees), U(h), U(t[i].misses), 100.0 * rate(h, t[i].allocs), b1, b2);
    }
    if (HAK_HAS_STATS) {
        put(&o, "  %-6s %7s %-5s %12s %12s %12s %7s %11s %11s%s\n", "class", "size", "tier", "allocs", "frees",
            "misses", "hit%", "in use", "peak", verbose ? "      flushes" : "");
        for (unsigned c = 0; c < HAK_NCLASS; c++) {
            if (!s.allocs[c] && !s.frees[c])
                continue;
            uint64_t h = s.allocs[c] > s.refills[c] ? s.allocs[c] - s.refills[c] : 0;
            fmt_bytes(b1, sizeof b1, (double)s.in_use_class[c]);
            fmt_bytes(b2, sizeof b2, (double)peak_class[c]);
            put(&o, "  %-6u %7u %-5s %12llu %12llu %12llu %7.1f %11s %11s", c, hak_class_size[c],
                tier_names[hak_class_tier(c)], U(s.allocs[c]), U(s.frees[c]), U(s.refills[c]),
                100.0 * rate(h, s.allocs[c]), b1, b2);
            if (verbose)
                put(&o, " %12llu", U(s.flushes[c]));
            put(&o, "\n");
        }
    }
    if (hak_cfg.profile_syscalls || verbose) {
        fmt_bytes(b1, sizeof b1, (double)hak_os.mmap_bytes);
        fmt_bytes(b2, sizeof b2, (double)hak_os.munmap_bytes);
        fmt_bytes(b3, sizeof b3, (double)hak_os.madvise_bytes);
        put(&o, "  syscalls: mmap %llu (%s)  munmap %llu (%s)  madvise %llu (%s)  mremap %llu\n",
            U(hak_os.mmap_calls), b1, U(hak_os.munmap_calls), b2, U(hak_os.madvise_calls), b3,
            U(hak_os.mremap_calls));
    }
    if (verbose && mem[0])
        put(&o, "  memory: {%s}\n", mem);
    if (hak_learn_report_text && !in_forked_child) {
        char learn[8192];
        size_t n = hak_learn_report_text(learn, sizeof learn);
        if (n) {
            put(&o, "%.*s", (int)n, learn);
            if (learn[n - 1] != '\n')
                put(&o, "\n");
        }
    }
    hak_write_all(fd, text, o.len);
}

HAK_EXPORT void hak_stats_print(FILE *out)
{
    if (out)
        fflush(out);
    pthread_mutex_lock(&report_lock);
    print_text(out ? fileno(out) : STDERR_FILENO, (int)hak_cfg.stats_verbose);
    pthread_mutex_unlock(&report_lock);
}

/* ---- exit report, interval thread ----------------------------------------------- */

_Atomic int hak_stats_pending;

#if HAK_HAS_STATS
static void write_file(void)
{
    if (!hak_cfg.stats_file[0])
        return;
    const char *j = render_json();
    /* "%p" in the name becomes the pid: each process of a forking program keeps its own report. */
    char path[sizeof hak_cfg.stats_file + 32];
    hak_pid_path(path, (int)sizeof path, hak_cfg.stats_file, 0);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        hak_msg("HAKMEM_STATS_FILE=%s: cannot open for writing", path);
        return;
    }
    hak_write_all(fd, j, strlen(j));
    close(fd);
}

static void at_exit(void)
{
    pthread_mutex_lock(&report_lock);
    snapshot_t s;
    if (hak_cfg.stats_interval_sec > 0) {
        take_snapshot(&s);
        sample_skip = 0;
        add_sample(&s);
    }
    if (hak_cfg.stats_enable && hak_cfg.stats_dump)
        print_text(STDERR_FILENO, (int)hak_cfg.stats_verbose);
    write_file();
    pthread_mutex_unlock(&report_lock);
}

static void one_line(const snapshot_t *s, const sample_t *prev)
{
    char b1[32], b2[32];
    fmt_bytes(b1, sizeof b1, (double)s->rss_bytes);
    fmt_bytes(b2, sizeof b2, (double)s->in_use_bytes);
    uint64_t a = s->small_allocs + s->large_allocs, f = s->small_frees + s->large_frees;
    hak_msg("stats t=%ds allocs +%llu frees +%llu in use %s RSS %s mmap %llu munmap %llu madvise %llu",
            (int)s->t_sec, U(a - (prev ? prev->allocs : 0)), U(since(f, prev ? prev->frees : 0)), b2, b1,
            U(hak_os.mmap_calls), U(hak_os.munmap_calls), U(hak_os.madvise_calls));
}

static void *interval_main(void *arg)
{
    (void)arg;
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);   /* the program's signals are not ours to take */
    hak_log(HAK_LOG_INFO, "stats: reporting every %lld s", (long long)hak_cfg.stats_interval_sec);
    for (;;) {
        struct timespec ts = { (time_t)hak_cfg.stats_interval_sec, 0 };
        while (nanosleep(&ts, &ts) != 0)
            ;
        pthread_mutex_lock(&report_lock);
        snapshot_t s;
        take_snapshot(&s);
        sample_t prev = n_samples ? samples[n_samples - 1] : (sample_t){ 0 };
        add_sample(&s);
        if (hak_cfg.stats_enable) {
            if (hak_cfg.stats_verbose)
                print_text(STDERR_FILENO, 1);
            else
                one_line(&s, n_samples > 1 || prev.t > 0 ? &prev : NULL);
        }
        pthread_mutex_unlock(&report_lock);
    }
    return NULL;
}

void hak_stats_start_thread(void)
{
    if (!atomic_exchange(&hak_stats_pending, 0))
        return;
    pthread_attr_t a;
    pthread_t tid;
    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&a, 256 * 1024);
    if (pthread_create(&tid, &a, interval_main, NULL) != 0)
        hak_log(HAK_LOG_ERROR, "stats: cannot start the interval thread; interval reports are off");
    pthread_attr_destroy(&a);
}

#else
void hak_stats_start_thread(void) {}
#endif

/* fork: the report lock is held across it (a report in progress in another thread would leave it
 * locked in the child); the interval thread does not exist in the child: a new one starts lazily,
 * with fresh samples. */
static void fork_prepare(void) { pthread_mutex_lock(&report_lock); }
static void fork_parent(void) { pthread_mutex_unlock(&report_lock); }
static void fork_child(void)
{
    pthread_mutex_init(&report_lock, NULL);
    in_forked_child = 1;
    n_samples = 0;
    sample_stride = 1;
    sample_skip = 0;
    clock_gettime(CLOCK_MONOTONIC, &t_start);
    if (HAK_HAS_STATS && hak_cfg.stats_interval_sec > 0)
        atomic_store(&hak_stats_pending, 1);
}

void hak_stats_init(void)
{
    clock_gettime(CLOCK_MONOTONIC, &t_start);
    pthread_atfork(fork_prepare, fork_parent, fork_child);
#if HAK_HAS_STATS
    if (hak_cfg.stats_enable || hak_cfg.stats_file[0] || hak_cfg.stats_interval_sec > 0)
        atexit(at_exit);
    if (hak_cfg.stats_interval_sec > 0)
        atomic_store(&hak_stats_pending, 1);
#endif
}
