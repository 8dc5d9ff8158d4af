/* api_edge.c — every edge case of the malloc-family API, one named check each.
 *
 * Prints "ok NAME" or "FAIL NAME: detail" per check and exits 1 when any check
 * failed.  Built plain (run with or without LD_PRELOAD of libhakmem.so; the run
 * without it is the glibc control proving the checks themselves) or with
 * -DHAK_PREFIXED against the hak_* API (sanitizer variants). */
#include "hakc.h"

#include <sys/mman.h>

#ifndef HAK_PREFIXED
/* glibc dropped cfree's declaration (it stays as a compat symbol); hakmem
 * exports it.  Weak so the driver links everywhere. */
extern void cfree(void *) __attribute__((weak));
#endif

static const size_t LADDER[] = {
    16,    24,    100,   500,   1000,   2000,  2048,   2049,    3000,     4096,
    6000,  8000,  8192,  8193,  12000,  16384, 30000,  32768,   32769,    40000,
    65536, 100000, 200000, 1u << 20, (1u << 20) + 7, 4u << 20,
};
#define NLADDER (sizeof LADDER / sizeof LADDER[0])

static size_t page;
static void section(const char *name);

/* Sparse cookies for big blocks: the first 4 KiB in full, then one 8-byte
 * word every 256 bytes, so multi-MiB copies are checked without hashing every
 * byte (keeps the sanitizer variants fast). */
static void fill_sparse(void *p, size_t n, uintptr_t addr, uint64_t seed)
{
    size_t head = n < 4096 ? n : 4096;
    hakc_fill(p, head, addr, seed);
    for (size_t off = 4096; off + 8 <= n; off += 256) {
        uint64_t w = hakc_mix(addr ^ seed ^ (off * 0x9e3779b97f4a7c15ULL));
        memcpy((char *)p + off, &w, 8);
    }
}

/* 1 when the first `len` bytes of p still hold fill_sparse(.., n, addr, seed). */
static int verify_sparse(const void *p, size_t len, size_t n, uintptr_t addr, uint64_t seed)
{
    size_t head = n < 4096 ? n : 4096;
    if (hakc_verify(p, len < head ? len : head, head, addr, seed) != (size_t)-1)
        return 0;
    for (size_t off = 4096; off + 8 <= n && off + 8 <= len; off += 256) {
        uint64_t w = hakc_mix(addr ^ seed ^ (off * 0x9e3779b97f4a7c15ULL));
        if (memcmp((const char *)p + off, &w, 8) != 0)
            return 0;
    }
    return 1;
}

static const unsigned char zeros[65536];

/* Offset of the first nonzero byte in [p, p+n), or (size_t)-1. */
static size_t first_nonzero(const unsigned char *p, size_t n)
{
    for (size_t off = 0; off < n; off += sizeof zeros) {
        size_t c = n - off < sizeof zeros ? n - off : sizeof zeros;
        if (memcmp(p + off, zeros, c) != 0)
            for (size_t k = 0; k < c; k++)
                if (p[off + k])
                    return off + k;
    }
    return (size_t)-1;
}

static void check_min_alignment(void)
{
    enum { N = 3000 };
    static void *ptrs[N];
    int bad = 0;
    size_t bad_size = 0;
    void *bad_ptr = NULL;
    int n = 0;
    for (size_t s = 0; s <= 1100 && n < N; s++)
        ptrs[n++] = M(malloc)(s);
    for (size_t i = 0; i < NLADDER && n < N; i++) {
        ptrs[n++] = M(malloc)(LADDER[i]);
        ptrs[n++] = M(malloc)(LADDER[i] - 1);
        ptrs[n++] = M(malloc)(LADDER[i] + 1);
    }
    uint64_t seed = 7;
    while (n < N)
        ptrs[n++] = M(malloc)(1 + hakc_rand(&seed) % 40000);
    for (int i = 0; i < n; i++) {
        if (!ptrs[i] || ((uintptr_t)ptrs[i] & 15)) {
            if (!bad) {
                bad_ptr = ptrs[i];
                bad_size = i <= 1100 ? (size_t)i : 0;
            }
            bad++;
        }
    }
    CHECK("align.min16", bad == 0, "%d of %d blocks NULL or not 16-aligned (first %p, size %zu)",
          bad, n, bad_ptr, bad_size);
    for (int i = 0; i < n; i++)
        M(free)(ptrs[i]);
}

static void check_no_overlap(void)
{
    enum { N = 4000 };
    static void *ptrs[N];
    static size_t sizes[N];
    uint64_t seed = 99;
    for (int i = 0; i < N; i++) {
        uint64_t r = hakc_rand(&seed);
        size_t s = (r % 100) < 85 ? 1 + (r >> 8) % 2048
                 : (r % 100) < 95 ? 2049 + (r >> 8) % 30000
                                  : 32769 + (r >> 8) % 100000;
        sizes[i] = s;
        ptrs[i] = M(malloc)(s);
        if (ptrs[i])
            hakc_fill(ptrs[i], s, (uintptr_t)ptrs[i], 1);
    }
    int bad = 0, first = -1;
    for (int i = 0; i < N; i++) {
        if (!ptrs[i] || hakc_verify(ptrs[i], sizes[i], sizes[i], (uintptr_t)ptrs[i], 1) != (size_t)-1) {
            if (first < 0)
                first = i;
            bad++;
        }
    }
    CHECK("blocks.distinct", bad == 0, "%d of %d live blocks NULL or overwritten (first size %zu)",
          bad, N, first >= 0 ? sizes[first] : 0);
    for (int i = 0; i < N; i++)
        M(free)(ptrs[i]);
}

typedef void *(*alloc_aligned_fn)(size_t align, size_t size);

static void *via_posix_memalign(size_t a, size_t s)
{
    void *p = NULL;
    int rc = M(posix_memalign)(&p, a, s);
    return rc == 0 ? p : NULL;
}
static void *via_aligned_alloc(size_t a, size_t s) { return M(aligned_alloc)(a, s); }
static void *via_memalign(size_t a, size_t s) { return M(memalign)(a, s); }

static void check_big_alignments(void)
{
    struct { const char *name; alloc_aligned_fn fn; } fns[] = {
        {"posix_memalign", via_posix_memalign},
        {"aligned_alloc", via_aligned_alloc},
        {"memalign", via_memalign},
    };
    for (size_t f = 0; f < 3; f++) {
        for (size_t a = 32; a <= (2u << 20); a <<= 1) {
            size_t sizes[] = {1, 16, a / 2, a - 1, a, a + 1, 3 * a + 5, 100000};
            int bad = 0;
            char detail[160] = "";
            void *keep[8];
            for (int i = 0; i < 8; i++) {
                size_t s = sizes[i];
                void *p = fns[f].fn(a, s);
                keep[i] = p;
                if (!p || ((uintptr_t)p & (a - 1))) {
                    if (!bad)
                        snprintf(detail, sizeof detail, "size %zu -> %p", s, p);
                    bad++;
                    continue;
                }
                memset(p, 0x5a, s);
                if (M(malloc_usable_size)(p) < s) {
                    if (!bad)
                        snprintf(detail, sizeof detail, "size %zu usable %zu", s,
                                 M(malloc_usable_size)(p));
                    bad++;
                }
            }
            for (int i = 0; i < 8; i++)
                M(free)(keep[i]);
            char name[96];
            snprintf(name, sizeof name, "align.%s.%zu", fns[f].name, a);
            CHECK(name, bad == 0, "%d of 8 sizes misaligned or NULL (%s)", bad, detail);
        }
    }

    /* valloc: page aligned */
    {
        size_t sizes[] = {0, 1, 100, 4095, 4096, 4097, 20000, 100000, 1u << 20};
        int bad = 0;
        char detail[128] = "";
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
            void *p = M(valloc)(sizes[i]);
            if (!p || ((uintptr_t)p & (page - 1))) {
                if (!bad)
                    snprintf(detail, sizeof detail, "size %zu -> %p", sizes[i], p);
                bad++;
            } else {
                memset(p, 1, sizes[i]);
            }
            M(free)(p);
        }
        CHECK("align.valloc", bad == 0, "%d blocks not page aligned (%s)", bad, detail);
    }
    /* pvalloc: page aligned, size rounded up to a page */
    {
        size_t sizes[] = {1, 100, 4095, 4096, 4097, 20000, 100000, (1u << 20) + 1};
        int bad = 0;
        char detail[128] = "";
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
            size_t want = (sizes[i] + page - 1) & ~(page - 1);
            void *p = M(pvalloc)(sizes[i]);
            size_t us = p ? M(malloc_usable_size)(p) : 0;
            if (!p || ((uintptr_t)p & (page - 1)) || us < want) {
                if (!bad)
                    snprintf(detail, sizeof detail, "size %zu -> %p usable %zu (want >= %zu)",
                             sizes[i], p, us, want);
                bad++;
            } else {
                memset(p, 2, want);
            }
            M(free)(p);
        }
        CHECK("align.pvalloc", bad == 0, "%d blocks wrong (%s)", bad, detail);
        void *p = M(pvalloc)(0);
        CHECK("pvalloc.zero", p && !((uintptr_t)p & (page - 1)), "pvalloc(0) -> %p", p);
        M(free)(p);
    }
}

static void check_malloc_zero(void)
{
    enum { N = 64 };
    void *p[N];
    int null = 0, dup = 0;
    for (int i = 0; i < N; i++) {
        p[i] = M(malloc)(hakc_sz(0));
        if (!p[i])
            null++;
        for (int j = 0; j < i; j++)
            if (p[i] && p[i] == p[j])
                dup++;
    }
    CHECK("malloc0.unique", null == 0 && dup == 0, "%d NULL, %d duplicate pointers among %d malloc(0)",
          null, dup, N);
    for (int i = 0; i < N; i++)
        M(free)(p[i]);
    void *q = M(malloc)(hakc_sz(0));
    CHECK("malloc0.freeable", q != NULL, "malloc(0) -> NULL after frees");
    M(free)(q);
}

static void expect_enomem(const char *name, void *p, int err)
{
    CHECK(name, p == NULL && err == ENOMEM, "got %p errno=%d (%s), want NULL errno=ENOMEM", p, err,
          strerror(err));
    if (p)
        M(free)(p);
}

static void check_enomem(void)
{
    void *p;
    errno = 0; p = M(malloc)(hakc_sz(SIZE_MAX));        expect_enomem("enomem.malloc.SIZE_MAX", p, errno);
    errno = 0; p = M(malloc)(hakc_sz(SIZE_MAX / 2));    expect_enomem("enomem.malloc.SIZE_MAX/2", p, errno);
    errno = 0; p = M(malloc)(hakc_sz(SIZE_MAX - 15));   expect_enomem("enomem.malloc.SIZE_MAX-15", p, errno);
    errno = 0; p = M(malloc)(hakc_sz(SIZE_MAX - 4096)); expect_enomem("enomem.malloc.SIZE_MAX-4096", p, errno);
    errno = 0; p = M(malloc)(hakc_sz((size_t)1 << 50)); expect_enomem("enomem.malloc.1PiB", p, errno);
    errno = 0; p = M(calloc)(hakc_sz(SIZE_MAX / 2), hakc_sz(4));   expect_enomem("enomem.calloc.overflow", p, errno);
    errno = 0; p = M(calloc)(hakc_sz((size_t)1 << 33), hakc_sz((size_t)1 << 33)); expect_enomem("enomem.calloc.overflow2", p, errno);
    errno = 0; p = M(calloc)(hakc_sz(SIZE_MAX), hakc_sz(1));       expect_enomem("enomem.calloc.SIZE_MAX", p, errno);
    errno = 0; p = M(valloc)(hakc_sz(SIZE_MAX - 100));  expect_enomem("enomem.valloc", p, errno);
    errno = 0; p = M(pvalloc)(hakc_sz(SIZE_MAX - 100)); expect_enomem("enomem.pvalloc", p, errno);
    errno = 0; p = M(memalign)(hakc_sz(1u << 21), hakc_sz(SIZE_MAX - (1u << 20))); expect_enomem("enomem.memalign", p, errno);
    errno = 0; p = M(aligned_alloc)(hakc_sz(4096), hakc_sz(SIZE_MAX - 100)); expect_enomem("enomem.aligned_alloc", p, errno);
    {
        void *q = (void *)0x1;
        int rc = M(posix_memalign)(&q, 64, hakc_sz(SIZE_MAX - 10));
        CHECK("enomem.posix_memalign", rc == ENOMEM, "returned %d, want ENOMEM", rc);
    }

    /* realloc / reallocarray failure leaves the block intact */
    void *b = M(malloc)(300);
    hakc_fill(b, 300, 11, 3);
    errno = 0;
    p = M(realloc)(b, hakc_sz(SIZE_MAX));
    int e = errno;
    CHECK("enomem.realloc", p == NULL && e == ENOMEM, "got %p errno=%d", p, e);
    CHECK("enomem.realloc.intact", hakc_verify(b, 300, 300, 11, 3) == (size_t)-1,
          "original block changed after failed realloc");
    errno = 0;
    p = M(realloc)(b, hakc_sz(SIZE_MAX / 2));
    e = errno;
    CHECK("enomem.realloc.half", p == NULL && e == ENOMEM, "got %p errno=%d", p, e);
    errno = 0;
    p = M(reallocarray)(b, hakc_sz(SIZE_MAX / 2), hakc_sz(4));
    e = errno;
    CHECK("enomem.reallocarray.overflow", p == NULL && e == ENOMEM, "got %p errno=%d", p, e);
    CHECK("enomem.reallocarray.intact", hakc_verify(b, 300, 300, 11, 3) == (size_t)-1,
          "original block changed after failed reallocarray");
    M(free)(b);
}

static void check_posix_memalign_einval(void)
{
    size_t bad[] = {0, 1, 2, 4, 3, 12, 24, 48, 100, 4097, SIZE_MAX / 2 + 2, SIZE_MAX};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        void *p = NULL;
        int rc = M(posix_memalign)(&p, bad[i], 64);
        char name[64];
        snprintf(name, sizeof name, "posix_memalign.einval.%zu", bad[i]);
        CHECK(name, rc == EINVAL, "alignment %zu returned %d (%s), want EINVAL", bad[i], rc,
              strerror(rc));
        if (rc == 0)
            M(free)(p);
    }
    size_t good[] = {sizeof(void *), 16, 64, 4096};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        void *p = NULL;
        int rc = M(posix_memalign)(&p, good[i], 10);
        char name[64];
        snprintf(name, sizeof name, "posix_memalign.ok.%zu", good[i]);
        CHECK(name, rc == 0 && p && !((uintptr_t)p & (good[i] - 1)), "alignment %zu rc=%d p=%p",
              good[i], rc, p);
        M(free)(p);
    }
}

/* glibc 2.36: aligned_alloc == memalign: an alignment at or below 16 is plain
 * malloc, a non-power-of-two alignment is rounded up to the next power of two,
 * the size need not be a multiple of the alignment, an alignment above
 * SIZE_MAX/2+1 is EINVAL. */
static void check_aligned_alloc_glibc(void)
{
    struct { const char *name; alloc_aligned_fn fn; } fns[] = {
        {"aligned_alloc", via_aligned_alloc},
        {"memalign", via_memalign},
    };
    for (int f = 0; f < 2; f++) {
        char name[96];
        struct { size_t a, s, want; } ok[] = {
            {0, 10, 16}, {1, 10, 16}, {8, 10, 16}, {24, 10, 32}, {48, 100, 64},
            {64, 100, 64}, {100, 1000, 128}, {3000, 5, 4096}, {4096, 1, 4096},
            {(1u << 20) + 1, 100, 2u << 20},
        };
        for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
            errno = 0;
            void *p = fns[f].fn(ok[i].a, ok[i].s);
            snprintf(name, sizeof name, "%s.glibc.align%zu.size%zu", fns[f].name, ok[i].a, ok[i].s);
            CHECK(name, p && !((uintptr_t)p & (ok[i].want - 1)),
                  "got %p errno=%d, want a %zu-aligned block", p, errno, ok[i].want);
            if (p)
                memset(p, 3, ok[i].s);
            M(free)(p);
        }
        errno = 0;
        void *p = fns[f].fn(hakc_sz(SIZE_MAX / 2 + 2), 10);
        int e = errno;
        snprintf(name, sizeof name, "%s.glibc.einval", fns[f].name);
        CHECK(name, p == NULL && e == EINVAL, "alignment SIZE_MAX/2+2 -> %p errno=%d, want NULL EINVAL", p, e);
        errno = 0;
        p = fns[f].fn(hakc_sz(SIZE_MAX / 2 + 1), 10);
        e = errno;
        snprintf(name, sizeof name, "%s.glibc.2pow63", fns[f].name);
        CHECK(name, p == NULL && (e == ENOMEM || e == EINVAL),
              "alignment 2^63 -> %p errno=%d, want NULL with ENOMEM (glibc) or EINVAL", p, e);
    }
}

/* Realloc *pp (cur bytes, filled at addr) through LADDER from index `from`, one step of `step`
 * (+1 grow, -1 shrink), checking the kept bytes and refilling at each step.  Returns the number of
 * bad steps, the first described in detail. */
static int realloc_walk(char **pp, size_t *cur, uintptr_t *addr, long from, long step, const char *dir,
                        char *detail, size_t dlen)
{
    int bad = 0;
    for (long i = from; i >= 0 && i < (long)NLADDER && *pp; i += step) {
        size_t n = LADDER[i];
        size_t kept = n < *cur ? n : *cur;
        char *q = M(realloc)(*pp, n);
        if (!q || hakc_verify(q, kept, *cur, *addr, 5) != (size_t)-1) {
            if (!bad)
                snprintf(detail, dlen, "%s %zu -> %zu: %p", dir, *cur, n, (void *)q);
            bad++;
            if (!q)
                break;
        }
        *pp = q;
        *cur = n;
        *addr = (uintptr_t)q;
        hakc_fill(q, n, *addr, 5);
    }
    return bad;
}

static void check_realloc(void)
{
    /* grow through every tier, then shrink back, verifying contents */
    size_t cur = LADDER[0];
    char *p = M(malloc)(cur);
    uintptr_t addr = (uintptr_t)p;
    hakc_fill(p, cur, addr, 5);
    char detail[160] = "";
    int bad = realloc_walk(&p, &cur, &addr, 1, +1, "grow", detail, sizeof detail);
    CHECK("realloc.grow.tiers", bad == 0, "%s", detail);
    bad = realloc_walk(&p, &cur, &addr, (long)NLADDER - 2, -1, "shrink", detail, sizeof detail);
    CHECK("realloc.shrink.tiers", bad == 0, "%s", detail);
    M(free)(p);

    section("realloc.chains");
    /* every pair of sizes */
    bad = 0;
    for (size_t i = 0; i < NLADDER; i++) {
        for (size_t j = 0; j < NLADDER; j++) {
            size_t a = LADDER[i], b = LADDER[j];
            char *x = M(malloc)(a);
            if (!x) {
                bad++;
                continue;
            }
            fill_sparse(x, a, (uintptr_t)x, 6);
            uintptr_t ax = (uintptr_t)x;
            char *y = M(realloc)(x, b);
            size_t keep = a < b ? a : b;
            if (!y || !verify_sparse(y, keep, a, ax, 6)) {
                if (!bad)
                    snprintf(detail, sizeof detail, "%zu -> %zu: %p", a, b, (void *)y);
                bad++;
                if (!y)
                    M(free)(x);
            }
            if (y) {
                memset(y, 7, b < 65536 ? b : 65536);
                y[b - 1] = 7;
                M(free)(y);
            }
        }
    }
    CHECK("realloc.pairs", bad == 0, "%d of %zu pairs lost contents (%s)", bad, NLADDER * NLADDER, detail);

    section("realloc.pairs");
    /* byte-by-byte growth (in place where possible) */
    bad = 0;
    p = M(malloc)(1);
    p[0] = 0;
    for (size_t n = 2; n <= 5000; n++) {
        char *q = M(realloc)(p, n);
        if (!q) {
            bad++;
            break;
        }
        p = q;
        p[n - 1] = (char)(n & 0x7f);
        if (n % 97 == 0)
            for (size_t k = 1; k < n; k++)
                if (p[k] != (char)((k + 1) & 0x7f)) {
                    bad++;
                    break;
                }
    }
    CHECK("realloc.bytewise", bad == 0, "contents lost growing one byte at a time");
    M(free)(p);

    /* realloc(NULL, n) is malloc */
    for (size_t i = 0; i < NLADDER; i++) {
        char *q = M(realloc)(NULL, LADDER[i]);
        if (!q || M(malloc_usable_size)(q) < LADDER[i] || ((uintptr_t)q & 15)) {
            bad++;
        } else {
            memset(q, 9, LADDER[i]);
        }
        M(free)(q);
    }
    CHECK("realloc.null", bad == 0, "realloc(NULL, n) did not behave as malloc(n)");
    {
        void *q = M(realloc)(NULL, hakc_sz(0));
        CHECK("realloc.null.zero", q != NULL, "realloc(NULL, 0) -> NULL (glibc returns a block)");
        M(free)(q);
    }

    section("realloc.bytewise+null");
    /* realloc(p, 0) frees and returns NULL, like glibc (REALLOC_ZERO_BYTES_FREES) */
    bad = 0;
    for (size_t i = 0; i < NLADDER; i++) {
        void *q = M(malloc)(LADDER[i]);
        errno = 0;
        void *r = M(realloc)(q, hakc_sz(0));
        if (r != NULL) {
            if (!bad)
                snprintf(detail, sizeof detail, "realloc(%zu-byte block, 0) -> %p", LADDER[i], r);
            bad++;
            M(free)(r);
        }
    }
    CHECK("realloc.zero.frees", bad == 0, "%s; glibc frees and returns NULL", detail);
    /* ...and the memory really is released: repeat many times, RSS stays flat */
    size_t rss0 = hakc_rss_bytes();
    for (int k = 0; k < 200; k++) {
        char *q = M(malloc)(1u << 20);
        for (size_t off = 0; off < (1u << 20); off += 4096) /* touch every page */
            q[off] = 1;
        void *r = M(realloc)(q, hakc_sz(0));
        if (r)
            M(free)(r);
    }
    size_t rss1 = hakc_rss_bytes();
    CHECK("realloc.zero.releases", rss1 < rss0 + (64u << 20), "RSS grew %zu -> %zu over 200 x realloc(1MiB block, 0)",
          rss0, rss1);

    section("realloc.zero");
    /* reallocarray */
    {
        char *q = M(reallocarray)(NULL, 10, 100);
        int ok = q != NULL;
        if (q) {
            hakc_fill(q, 1000, 77, 8);
            char *r = M(reallocarray)(q, 100, 100);
            ok = r && hakc_verify(r, 1000, 1000, 77, 8) == (size_t)-1;
            q = r ? r : q;
            if (r) {
                r = M(reallocarray)(q, 5, 10);
                ok = ok && r && hakc_verify(r, 50, 1000, 77, 8) == (size_t)-1;
                q = r ? r : q;
            }
        }
        CHECK("reallocarray.contents", ok, "reallocarray lost contents or failed");
        M(free)(q);
    }
}

static void check_calloc(void)
{
    int bad = 0;
    char detail[128] = "";
    /* fresh */
    for (size_t i = 0; i < NLADDER; i++) {
        unsigned char *p = M(calloc)(1, LADDER[i]);
        if (!p) {
            bad++;
            continue;
        }
        size_t k = first_nonzero(p, LADDER[i]);
        if (k != (size_t)-1) {
            if (!bad)
                snprintf(detail, sizeof detail, "fresh size %zu byte %zu = %#x", LADDER[i], k, p[k]);
            bad++;
        }
        M(free)(p);
    }
    CHECK("calloc.zero.fresh", bad == 0, "%s", detail);
    /* after reuse of dirty memory: fill whole usable blocks, free, calloc again */
    bad = 0;
    for (size_t i = 0; i < NLADDER; i++) {
        enum { K = 24 };
        void *d[K];
        size_t s = LADDER[i];
        int k_max = s > (256u << 10) ? 3 : s > 16384 ? 8 : K;
        for (int k = 0; k < k_max; k++) {
            d[k] = M(malloc)(s);
            if (d[k])
                memset(d[k], 0xa5, M(malloc_usable_size)(d[k]));
        }
        for (int k = 0; k < k_max; k++)
            M(free)(d[k]);
        for (int k = 0; k < k_max; k++) {
            size_t nmemb = (k & 1) ? s : 1, sz = (k & 1) ? 1 : s;
            unsigned char *p = M(calloc)(nmemb, sz);
            d[k] = p;
            if (!p) {
                bad++;
                continue;
            }
            size_t b = first_nonzero(p, s);
            if (b != (size_t)-1) {
                if (!bad)
                    snprintf(detail, sizeof detail, "reused size %zu byte %zu = %#x", s, b, p[b]);
                bad++;
            }
        }
        for (int k = 0; k < k_max; k++)
            M(free)(d[k]);
    }
    CHECK("calloc.zero.reused", bad == 0, "%s", detail);
    void *z1 = M(calloc)(0, 10), *z2 = M(calloc)(10, 0);
    CHECK("calloc.zero_count", z1 && z2 && z1 != z2, "calloc(0,10)=%p calloc(10,0)=%p", z1, z2);
    M(free)(z1);
    M(free)(z2);
}

static void check_usable(void)
{
    int bad = 0, incons = 0, moved = 0;
    char detail[160] = "";
    uint64_t seed = 3;
    for (int i = 0; i < 600; i++) {
        size_t s = i < (int)NLADDER ? LADDER[i] : 1 + hakc_rand(&seed) % (i % 10 == 0 ? 300000 : 5000);
        unsigned char *p = M(malloc)(s);
        if (!p) {
            bad++;
            continue;
        }
        size_t us = M(malloc_usable_size)(p);
        if (us < s) {
            if (!bad)
                snprintf(detail, sizeof detail, "size %zu usable %zu", s, us);
            bad++;
        }
        memset(p, 0xee, us); /* the whole usable size is ours to write */
        if (M(malloc_usable_size)(p) != us)
            incons++;
        /* exact: growing to the usable size fits in place */
        unsigned char *q = M(realloc)(p, us);
        if (q != p)
            moved++;
        if (q) {
            if (q[us - 1] != 0xee || q[0] != 0xee)
                bad++;
            p = q;
        }
        if (M(malloc_usable_size)(p) < us)
            incons++;
        M(free)(p);
    }
    CHECK("usable.ge_request", bad == 0, "%d blocks smaller than requested (%s)", bad, detail);
    CHECK("usable.consistent", incons == 0, "%d blocks changed usable size between calls", incons);
    CHECK("usable.exact_in_place", moved == 0,
          "%d of 600 realloc(p, malloc_usable_size(p)) moved the block", moved);
    CHECK("usable.null", M(malloc_usable_size)(NULL) == 0, "malloc_usable_size(NULL) = %zu",
          M(malloc_usable_size)(NULL));
    void *z = M(malloc)(hakc_sz(0));
    size_t uz = M(malloc_usable_size)(z);
    if (uz)
        memset(z, 1, uz);
    M(free)(z);
    CHECK("usable.malloc0", 1, "-");
}

static void check_extras(void)
{
    M(free)(NULL);
    CHECK("free.null", 1, "-");
    void *tmp = M(malloc)(1u << 20);
    M(free)(tmp);
    int t = M(malloc_trim)(0);
    CHECK("malloc_trim.result", t == 0 || t == 1, "malloc_trim(0) = %d", t);
#ifndef HAK_PREFIXED
    enum { N = 1000 };
    void *p[N];
    for (int i = 0; i < N; i++) {
        p[i] = malloc(1000);
        memset(p[i], 1, 1000);
    }
    struct mallinfo2 mi = mallinfo2();
    CHECK("mallinfo2.uordblks", mi.uordblks + mi.hblkhd >= (size_t)N * 1000 / 2,
          "uordblks=%zu hblkhd=%zu after 1 MB in 1000 live blocks", mi.uordblks, mi.hblkhd);
    for (int i = 0; i < N; i++)
        free(p[i]);
    struct mallinfo2 after = mallinfo2();
    CHECK("mallinfo2.tracks_frees", after.uordblks + (size_t)N * 1000 / 2 <= mi.uordblks,
          "uordblks %zu with 1 MB live, %zu after freeing it", mi.uordblks, after.uordblks);
    if (cfree) {
        void *c = malloc(100);
        cfree(c);
        c = malloc(1u << 20);
        cfree(c);
        CHECK("cfree", 1, "-");
    } else if (hakc_hakmem_loaded()) {
        CHECK("cfree", 0, "hakmem loaded but cfree does not resolve");
    } else {
        SKIP("cfree", "not provided by this libc");
    }
#endif
}

#include <time.h>
/* Per-section timing, so a slow variant shows where the time goes. */
static void section(const char *name)
{
    static struct timespec last;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (last.tv_sec)
        hakc_line("info time %s %.3f s", name,
                  (double)(now.tv_sec - last.tv_sec) + (double)(now.tv_nsec - last.tv_nsec) / 1e9);
    last = now;
}

int main(void)
{
    section("start");
    page = (size_t)sysconf(_SC_PAGESIZE);
    hakc_line("info hakmem_loaded=%d", hakc_hakmem_loaded());
    check_min_alignment();
    section("check_min_alignment");
    check_no_overlap();
    section("check_no_overlap");
    check_big_alignments();
    section("check_big_alignments");
    check_malloc_zero();
    section("check_malloc_zero");
    check_enomem();
    section("check_enomem");
    check_posix_memalign_einval();
    section("check_posix_memalign_einval");
    check_aligned_alloc_glibc();
    section("check_aligned_alloc_glibc");
    check_realloc();
    section("check_realloc");
    check_calloc();
    section("check_calloc");
    check_usable();
    section("check_usable");
    check_extras();
    section("check_extras");
    return hakc_finish();
}
