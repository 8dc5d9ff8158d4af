/* glibc_extras.c — malloc_stats, malloc_info and mallopt answering for hakmem: glibc's own would
 * describe glibc's arenas, which hold next to nothing while hakmem serves the program.
 *
 * Every report first gathers its numbers (the locks of stats, heaps, BigCache and SuperSlabs are
 * taken and released inside), then writes: nothing is held while stdio runs, so a FILE that
 * allocates its buffer (malloc_info's fp, an open_memstream) calls back into malloc safely.
 * malloc_stats formats with log.h's formatter on the stack and writes stderr with write(2), as
 * glibc's is used from places (signal handlers of crashing programs) where allocating is unwise. */
#define _GNU_SOURCE
#include "api.h"
#include "bigcache.h"
#include "config/config.h"
#include "init.h"
#include "large.h"
#include "log.h"
#include "stash.h"
#include "stats.h"
#include "superslab.h"

#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char *const tier_names[HAK_TIER_COUNT] = { "TINY", "POOL", "MID", "LARGE" };

/* One consistent set of numbers for a report. */
typedef struct extras_data {
    hak_stats_view_t v;
    struct mallinfo2 mi;
    size_t ss_live, ss_cached;
    size_t bc_bytes, bc_blocks, stash_bytes, bc_max_bytes, bc_max_block;
} extras_data_t;

static void gather(extras_data_t *d)
{
    memset(d, 0, sizeof *d);
    hak_ensure_init();
    hak_stats_view(&d->v);
    d->mi = hak_mallinfo2();
    d->ss_live = hak_ss_live_count();
    d->ss_cached = hak_ss_cached_count();
#if HAK_FEATURE_BIGCACHE
    d->bc_bytes = hak_bigcache_cached_bytes();
    d->bc_blocks = hak_bigcache_cached_blocks();
    d->stash_bytes = hak_stash_bytes();
    hak_bigcache_caps(&d->bc_max_bytes, &d->bc_max_block);
#endif
}

/* ---- output: a buffer on the stack, flushed to a descriptor or a FILE -------------------- */

typedef struct sink {
    int fd;          /* used when fp is NULL */
    FILE *fp;
    size_t len;
    char buf[3072];
} sink_t;

static void flush(sink_t *s)
{
    if (s->fp)
        fwrite(s->buf, 1, s->len, s->fp);
    else
        hak_write_all(s->fd, s->buf, s->len);
    s->len = 0;
}

/* Lines are short: a line that would not fit whole flushes first, so none is ever cut. */
static void add(sink_t *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add(sink_t *s, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    int n = hak_format(line, (int)sizeof line, fmt, ap);
    va_end(ap);
    if (n >= (int)sizeof line)
        n = (int)sizeof line - 1;
    if (s->len + (size_t)n > sizeof s->buf)
        flush(s);
    memcpy(s->buf + s->len, line, (size_t)n);
    s->len += (size_t)n;
}

static unsigned long long U(uint64_t v) { return (unsigned long long)v; }

static uint64_t live_blocks(const hak_stats_view_t *v, unsigned c)
{
    return v->allocs[c] > v->frees[c] ? v->allocs[c] - v->frees[c] : 0;
}

/* ---- malloc_stats ---------------------------------------------------------------------- */

HAK_EXPORT void hak_malloc_stats(void)
{
    extras_data_t d;
    gather(&d);
    sink_t s = { .fd = STDERR_FILENO };
    fflush(stderr);   /* what the program printed before comes first */
    const struct mallinfo2 *mi = &d.mi;
    add(&s, "hakmem malloc_stats (mode %s, variant %s)%s\n", HAK_MODE_NAME, HAK_VARIANT_NAME,
        HAK_HAS_STATS ? "" : ": per-tier counters are compiled out of this mode");
    add(&s, "Small tiers (TINY, POOL, MID: up to 32 KiB, in 2 MiB SuperSlabs):\n");
    add(&s, "SuperSlabs       = %10zu (%zu cached empty)\n", d.ss_live, d.ss_cached);
    add(&s, "system bytes     = %10zu\n", d.ss_live * (size_t)HAK_SS_SIZE);
    add(&s, "in use bytes     = %10zu (blocks with the program or in thread caches)\n", d.v.usage.small_bytes);
    add(&s, "slabs live       = %10llu (heaps %llu, remote frees %llu)\n", U(d.v.slabs_live), U(d.v.heaps),
        U(d.v.remote_frees));
    if (HAK_HAS_STATS) {
        for (unsigned t = 0; t < HAK_TIER_LARGE; t++) {
            add(&s, "Tier %s:\n", tier_names[t]);
            add(&s, "in use bytes     = %10llu\n", U(d.v.tier_in_use[t]));
            add(&s, "allocs           = %10llu\n", U(d.v.tier_allocs[t]));
            add(&s, "frees            = %10llu\n", U(d.v.tier_frees[t]));
            add(&s, "cache misses     = %10llu\n", U(d.v.tier_misses[t]));
        }
    }
    add(&s, "Tier LARGE (above 32 KiB, mmap'd blocks):\n");
    add(&s, "mmap regions     = %10llu\n", U(d.v.tier_allocs[HAK_TIER_LARGE] - d.v.tier_frees[HAK_TIER_LARGE]));
    add(&s, "in use bytes     = %10zu\n", d.v.usage.large_bytes);
    add(&s, "allocs           = %10llu\n", U(d.v.tier_allocs[HAK_TIER_LARGE]));
    add(&s, "frees            = %10llu\n", U(d.v.tier_frees[HAK_TIER_LARGE]));
    if (HAK_FEATURE_BIGCACHE)
        add(&s, "BigCache bytes   = %10zu (%zu blocks, %zu more in thread stashes)\n", d.bc_bytes, d.bc_blocks,
            d.stash_bytes);
    add(&s, "Total (incl. mmap):\n");
    add(&s, "system bytes     = %10zu\n", mi->arena + mi->hblkhd);
    add(&s, "in use bytes     = %10zu\n", mi->uordblks + mi->hblkhd);
    add(&s, "mmap regions     = %10zu\n", mi->hblks);
    add(&s, "mmap bytes       = %10zu\n", mi->hblkhd);
    add(&s, "max system bytes = %10llu (largest seen by a report)\n", U(d.v.peak_mapped));
    flush(&s);
}

/* ---- malloc_info --------------------------------------------------------------------- */

static void info_small_tier(sink_t *s, const hak_stats_view_t *v, unsigned t)
{
    add(s, "<heap nr=\"%u\" name=\"%s\">\n<sizes>\n", t, tier_names[t]);
    uint64_t count = 0;
    for (unsigned c = 0; c < HAK_NCLASS; c++) {
        if (hak_class_tier(c) != t)
            continue;
        count += live_blocks(v, c);
        if (!v->allocs[c] && !v->frees[c])
            continue;
        unsigned from = c ? hak_class_size[c - 1] + 1 : 1;
        add(s, "  <size from=\"%u\" to=\"%u\" total=\"%llu\" count=\"%llu\" allocs=\"%llu\" frees=\"%llu\" "
               "misses=\"%llu\"/>\n",
            from, hak_class_size[c], U(v->in_use[c]), U(live_blocks(v, c)), U(v->allocs[c]), U(v->frees[c]),
            U(v->misses[c]));
    }
    add(s, "</sizes>\n");
    if (HAK_HAS_STATS)   /* without counters the split of the small bytes by tier is not known */
        add(s, "<total type=\"in_use\" count=\"%llu\" size=\"%llu\"/>\n", U(count), U(v->tier_in_use[t]));
    add(s, "</heap>\n");
}

HAK_EXPORT int hak_malloc_info(int options, FILE *fp)
{
    if (options != 0 || !fp) {
        errno = EINVAL;
        return -1;
    }
    extras_data_t d;
    gather(&d);
    const struct mallinfo2 *mi = &d.mi;
    size_t current = mi->arena + mi->hblkhd;
    size_t max = d.v.peak_mapped > current ? (size_t)d.v.peak_mapped : current;
    sink_t s = { .fp = fp };
    add(&s, "<malloc version=\"1\" allocator=\"hakmem\" mode=\"%s\" variant=\"%s\" stats=\"%d\">\n", HAK_MODE_NAME,
        HAK_VARIANT_NAME, HAK_HAS_STATS);
    for (unsigned t = 0; t < HAK_TIER_LARGE; t++)
        info_small_tier(&s, &d.v, t);
    add(&s, "<heap nr=\"%u\" name=\"LARGE\">\n<sizes>\n</sizes>\n", (unsigned)HAK_TIER_LARGE);
    add(&s, "<total type=\"mmap\" count=\"%llu\" size=\"%zu\"/>\n",
        U(d.v.tier_allocs[HAK_TIER_LARGE] - d.v.tier_frees[HAK_TIER_LARGE]), d.v.usage.large_bytes);
    if (HAK_FEATURE_BIGCACHE)
        add(&s, "<bigcache count=\"%zu\" size=\"%zu\" stash_size=\"%zu\" max_size=\"%zu\" max_block=\"%zu\"/>\n",
            d.bc_blocks, d.bc_bytes, d.stash_bytes, d.bc_max_bytes, d.bc_max_block);
    add(&s, "</heap>\n");
    add(&s, "<total type=\"small\" size=\"%zu\"/>\n", d.v.usage.small_bytes);
    add(&s, "<total type=\"mmap\" count=\"%zu\" size=\"%zu\"/>\n", mi->hblks, mi->hblkhd);
    add(&s, "<total type=\"bigcache\" count=\"%zu\" size=\"%zu\"/>\n", d.bc_blocks, d.bc_bytes + d.stash_bytes);
    add(&s, "<total type=\"superslab\" count=\"%zu\" size=\"%zu\"/>\n", d.ss_live, d.ss_live * (size_t)HAK_SS_SIZE);
    add(&s, "<total type=\"in_use\" size=\"%zu\"/>\n", mi->uordblks + mi->hblkhd);
    add(&s, "<system type=\"current\" size=\"%zu\"/>\n<system type=\"max\" size=\"%zu\"/>\n", current, max);
    add(&s, "<aspace type=\"total\" size=\"%zu\"/>\n<aspace type=\"mprotect\" size=\"%zu\"/>\n", current, current);
    add(&s, "</malloc>\n");
    flush(&s);
    return 0;
}

/* ---- mallopt ------------------------------------------------------------------------- */

#if HAK_FEATURE_BIGCACHE
static pthread_mutex_t opt_lock = PTHREAD_MUTEX_INITIALIZER;

/* Store `v` in knob `opt` (its declared range decides), then hand the BigCache and the stashes in
 * front of it the caps now in hak_cfg; a lowered byte cap evicts at once. */
static int set_bigcache_knob(unsigned opt, long long v)
{
    pthread_mutex_lock(&opt_lock);
    int ok = hak_config_set_int(opt, v, HAK_SRC_MALLOPT) == 0;
    if (ok) {
        hak_bigcache_configure((size_t)hak_cfg.bigcache_max_mb << 20, (size_t)hak_cfg.bigcache_max_block);
        hak_stash_recap();
    }
    pthread_mutex_unlock(&opt_lock);
    if (ok)
        hak_bigcache_make_room();
    return ok;
}
#endif

/* The mapping is documented in docs/DIAGNOSTICS.md (glibc's extras): only knobs whose meaning
 * matches and that are safe to change while other threads allocate; 1 when applied, 0 otherwise. */
HAK_EXPORT int hak_mallopt(int param, int value)
{
    hak_ensure_init();   /* a later start-up would overwrite what is set here */
#if HAK_FEATURE_BIGCACHE
    switch (param) {
    case M_MMAP_THRESHOLD:   /* blocks above it go back to the kernel on free, as glibc's mmap'd ones */
        return value >= 0 && set_bigcache_knob(HAK_OPT_BIGCACHE_MAX_BLOCK, value);
    case M_TRIM_THRESHOLD: { /* free memory kept before giving it back: the cache's byte cap */
        long long lo, hi;
        if (value == -1 && hak_config_int_range(HAK_OPT_BIGCACHE_MAX_MB, &lo, &hi) == 0)
            return set_bigcache_knob(HAK_OPT_BIGCACHE_MAX_MB, hi);   /* glibc: -1 never trims */
        return value >= 0 && set_bigcache_knob(HAK_OPT_BIGCACHE_MAX_MB, (long long)value >> 20);
    }
    default:
        return 0;
    }
#else
    (void)param;
    (void)value;
    return 0;
#endif
}
