/* glibc_extras.c — drives malloc_stats, malloc_info and mallopt (hak_* under HAK_PREFIXED) for
 * tests/diagnostics/test_glibc_extras.py, which parses what they print.
 *
 *   stats             malloc_stats to stderr between "@@ before" / "@@ after" markers, with HELD
 *                     bytes allocated in between
 *   info BEFORE AFTER malloc_info into file BEFORE, then (memory held) through an open_memstream,
 *                     whose buffer grows by malloc while malloc_info writes, copied into AFTER
 *   mallopt DUMP      mapped options, their effect on a 4 MiB free, bad values, unmapped options;
 *                     the configuration (JSON) written to DUMP at the end
 * "info NAME=VALUE" lines on stdout carry the numbers; "ok"/"FAIL" lines the checks made here. */
#include "hakc.h"

#include <fcntl.h>

#define SMALL_N 1000
#define SMALL_SIZE 100
#define MID_N 40
#define MID_SIZE (16 << 10)
#define LARGE_N 3
#define LARGE_SIZE (1 << 20)
#define CYCLE_SIZE ((size_t)4 << 20)

static void *small[SMALL_N], *mid[MID_N], *large[LARGE_N];

/* What the program holds between the two reports: every tier, every page written. */
static void hold(void)
{
    for (int i = 0; i < SMALL_N; i++)
        memset(small[i] = M(malloc)(SMALL_SIZE), 1, SMALL_SIZE);
    for (int i = 0; i < MID_N; i++)
        memset(mid[i] = M(malloc)(MID_SIZE), 2, MID_SIZE);
    for (int i = 0; i < LARGE_N; i++)
        memset(large[i] = M(malloc)(LARGE_SIZE), 3, LARGE_SIZE);
    hakc_line("info held.tiny=%d", SMALL_N * SMALL_SIZE);
    hakc_line("info held.mid=%d", MID_N * MID_SIZE);
    hakc_line("info held.large=%d", LARGE_N * LARGE_SIZE);
    hakc_line("info held=%d", SMALL_N * SMALL_SIZE + MID_N * MID_SIZE + LARGE_N * LARGE_SIZE);
}

static void release(void)
{
    for (int i = 0; i < SMALL_N; i++)
        M(free)(small[i]);
    for (int i = 0; i < MID_N; i++)
        M(free)(mid[i]);
    for (int i = 0; i < LARGE_N; i++)
        M(free)(large[i]);
}

static void marker(const char *m)
{
    ssize_t w = write(2, m, strlen(m));
    (void)w;
}

/* ---- hakmem's own API, resolved at run time in the plain build ----------------------------- */

static void *hak_sym(const char *name)
{
#ifdef HAK_PREFIXED
    if (!strcmp(name, "hak_stats_json"))
        return (void *)hak_stats_json;
    if (!strcmp(name, "hak_config_dump"))
        return (void *)hak_config_dump;
    return NULL;
#else
    return dlsym(RTLD_DEFAULT, name);
#endif
}

/* The number that follows the first `key` in `text` (after `from`, when given), or -1. */
static long long number_after(const char *text, const char *from, const char *key)
{
    const char *t = text && from ? strstr(text, from) : text;
    const char *k = t ? strstr(t, key) : NULL;
    return k ? strtoll(k + strlen(key), NULL, 10) : -1;
}

/* Bytes hakmem has mapped now ("mapped_bytes" of the stats JSON, in every mode). */
static long long mapped_now(void)
{
    const char *(*json)(void) = (const char *(*)(void))hak_sym("hak_stats_json");
    return number_after(json ? json() : NULL, NULL, "\"mapped_bytes\":");
}

/* The BigCache's byte cap as malloc_info reports it (max_size), or -1 without a BigCache. */
static long long bigcache_max_size(void)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return -1;
    int rc = M(malloc_info)(0, f);
    fclose(f);
    long long v = rc == 0 ? number_after(buf, "<bigcache ", "max_size=\"") : -1;
    free(buf);   /* open_memstream's buffer comes from the libc malloc, whatever the build */
    return v;
}

/* ---- commands ------------------------------------------------------------------------------ */

static int cmd_stats(void)
{
    M(malloc_trim)(0);   /* this thread's cached blocks go back: "in use" then counts what is held */
    marker("@@ before\n");
    M(malloc_stats)();
    hold();
    marker("@@ after\n");
    M(malloc_stats)();
    marker("@@ end\n");
    release();
    CHECK("stats.ran", 1, "-");
    return hakc_finish();
}

static int cmd_info(const char *before, const char *after)
{
    M(malloc_trim)(0);
    FILE *f = fopen(before, "w");
    CHECK("info.open", f != NULL, "fopen(%s): %s", before, strerror(errno));
    if (!f)
        return hakc_finish();
    CHECK("info.before.rc", M(malloc_info)(0, f) == 0, "malloc_info(0, file) != 0");
    fclose(f);
    hold();
    char *buf = NULL;
    size_t len = 0;
    FILE *ms = open_memstream(&buf, &len);
    CHECK("info.memstream.rc", ms && M(malloc_info)(0, ms) == 0, "malloc_info(0, memstream) != 0");
    if (ms)
        fclose(ms);
    CHECK("info.memstream.text", buf && strstr(buf, "<malloc") && strstr(buf, "</malloc>"),
          "the memstream holds no whole <malloc> document");
    int fd = open(after, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0 && buf) {
        ssize_t w = write(fd, buf, len);
        (void)w;
    }
    if (fd >= 0)
        close(fd);
    free(buf);
    FILE *null = fopen("/dev/null", "w");
    errno = 0;
    int rc = null ? M(malloc_info)(1, null) : 0;
    int e = errno;
    /* The manual's contract, which hakmem keeps; glibc 2.36 itself returns EINVAL and leaves errno. */
    if (hakc_hakmem_loaded())
        CHECK("info.options.einval", rc == -1 && e == EINVAL, "malloc_info(1, fp) = %d, errno %d", rc, e);
    else
        CHECK("info.options.refused", rc != 0, "glibc's malloc_info(1, fp) = %d", rc);
    if (null)
        fclose(null);
    release();
    return hakc_finish();
}

/* Allocate, write and free a 4 MiB block: how much of hakmem's mapping the free gave back. */
static long long cycle(void)
{
    unsigned char *p = M(malloc)(CYCLE_SIZE);
    if (!p)
        return -1;
    hakc_touch_pages(p, CYCLE_SIZE, 7);
    long long held = mapped_now();
    M(free)(p);
    return held - mapped_now();
}

static const struct { const char *name; int param; } unmapped[] = {
    { "M_TOP_PAD", M_TOP_PAD },       { "M_MMAP_MAX", M_MMAP_MAX },   { "M_CHECK_ACTION", M_CHECK_ACTION },
    { "M_PERTURB", M_PERTURB },       { "M_ARENA_TEST", M_ARENA_TEST }, { "M_ARENA_MAX", M_ARENA_MAX },
    { "M_MXFAST", M_MXFAST },         { "unknown_12345", 12345 },
};

static int cmd_mallopt(const char *dump)
{
    hakc_line("info cycle.default=%lld", cycle());
    hakc_line("info set.mmap_threshold=%d", M(mallopt)(M_MMAP_THRESHOLD, 1 << 20));
    hakc_line("info cycle.mmap_threshold=%lld", cycle());
    hakc_line("info bad.mmap_threshold_negative=%d", M(mallopt)(M_MMAP_THRESHOLD, -5));
    hakc_line("info bad.mmap_threshold_small=%d", M(mallopt)(M_MMAP_THRESHOLD, 100));
    hakc_line("info bad.trim_threshold_negative=%d", M(mallopt)(M_TRIM_THRESHOLD, -2));
    hakc_line("info set.mmap_threshold_back=%d", M(mallopt)(M_MMAP_THRESHOLD, 32 << 20));
    hakc_line("info set.trim_threshold_zero=%d", M(mallopt)(M_TRIM_THRESHOLD, 0));
    hakc_line("info cycle.trim_threshold=%lld", cycle());
    hakc_line("info set.trim_threshold_never=%d", M(mallopt)(M_TRIM_THRESHOLD, -1));
    hakc_line("info bigcache.max_size.never=%lld", bigcache_max_size());
    hakc_line("info set.trim_threshold=%d", M(mallopt)(M_TRIM_THRESHOLD, 8 << 20));
    hakc_line("info bigcache.max_size=%lld", bigcache_max_size());
    for (size_t i = 0; i < sizeof unmapped / sizeof unmapped[0]; i++)
        hakc_line("info unmapped.%s=%d", unmapped[i].name, M(mallopt)(unmapped[i].param, 1));
    void (*cfg)(int, int) = (void (*)(int, int))hak_sym("hak_config_dump");
    int fd = open(dump, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    CHECK("mallopt.dump", cfg && fd >= 0, "no hak_config_dump or cannot open %s", dump);
    if (cfg && fd >= 0)
        cfg(fd, 1);
    if (fd >= 0)
        close(fd);
    /* still a working allocator after every refused value */
    void *p = M(malloc)(CYCLE_SIZE);
    CHECK("mallopt.still_allocates", p != NULL, "malloc(4 MiB) failed");
    M(free)(p);
    return hakc_finish();
}

int main(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "stats"))
        return cmd_stats();
    if (argc >= 4 && !strcmp(argv[1], "info"))
        return cmd_info(argv[2], argv[3]);
    if (argc >= 3 && !strcmp(argv[1], "mallopt"))
        return cmd_mallopt(argv[2]);
    fprintf(stderr, "usage: %s stats | info BEFORE AFTER | mallopt DUMP\n", argv[0]);
    return 2;
}
