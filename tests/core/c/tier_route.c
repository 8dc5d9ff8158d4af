/* tier_route.c — tier switches (HAKMEM_WRAP_TINY/POOL/MID/LARGE=0) route a
 * size range to the system allocator, and every pointer still frees, reallocs
 * (also across tiers) and reports its usable size through the right owner.
 *
 * The driver reads the same HAKMEM_WRAP_* variables to know what to expect.
 * Ownership is asked through hak_owns (dlsym'd in the plain build, so the
 * driver also runs, without ownership checks, on plain glibc). */
#include "hakc.h"

enum { TINY, POOL, MID, LARGE, NTIERS };
static const char *tier_name[NTIERS] = {"tiny", "pool", "mid", "large"};
static const char *tier_env[NTIERS] = {"HAKMEM_WRAP_TINY", "HAKMEM_WRAP_POOL", "HAKMEM_WRAP_MID",
                                       "HAKMEM_WRAP_LARGE"};
static int tier_on[NTIERS];

/* Sizes well inside each tier: TINY <= 2 KiB, POOL 2-8 KiB, MID 8-32 KiB,
 * LARGE > 32 KiB. */
static const size_t tier_sizes[NTIERS][6] = {
    {1, 16, 100, 777, 1500, 2000},
    {2500, 3000, 4096, 5000, 6000, 7900},
    {8500, 9000, 12000, 16384, 24000, 30000},
    {40000, 65536, 100000, 300000, 1u << 20, 3u << 20},
};

static int owns_expected(int tier) { return tier_on[tier]; }

/* Cookies cover at most the first 64 KiB of a block (keeps the big LARGE
 * sizes cheap, above all under the sanitizers). */
static size_t cover(size_t n) { return n < 65536 ? n : 65536; }

int main(void)
{
    for (int t = 0; t < NTIERS; t++) {
        const char *v = getenv(tier_env[t]);
        tier_on[t] = !(v && strcmp(v, "0") == 0);
    }
    int have_owns = hakc_owns(NULL) >= 0;
    hakc_line("info tiers tiny=%d pool=%d mid=%d large=%d have_owns=%d", tier_on[TINY],
              tier_on[POOL], tier_on[MID], tier_on[LARGE], have_owns);

    /* 1. allocation: owner, alignment, usable size, writable, free */
    for (int t = 0; t < NTIERS; t++) {
        int bad_owner = 0, bad_use = 0;
        char detail[160] = "";
        enum { K = 8 };
        void *keep[6][K];
        for (int i = 0; i < 6; i++) {
            size_t s = tier_sizes[t][i];
            for (int k = 0; k < K; k++) {
                unsigned char *p = (k & 1) ? M(calloc)(1, s) : M(malloc)(s);
                keep[i][k] = p;
                if (!p || ((uintptr_t)p & 15)) {
                    bad_use++;
                    continue;
                }
                int o = hakc_owns(p);
                if (have_owns && o != owns_expected(t)) {
                    if (!bad_owner)
                        snprintf(detail, sizeof detail, "size %zu: hak_owns=%d, want %d", s, o,
                                 owns_expected(t));
                    bad_owner++;
                }
                size_t us = M(malloc_usable_size)(p);
                if (us < s) {
                    bad_use++;
                } else {
                    hakc_fill(p, cover(us - 1), (uintptr_t)p, 21);
                    p[us - 1] = 0x5c; /* the last usable byte is writable */
                }
            }
        }
        for (int i = 0; i < 6; i++)
            for (int k = 0; k < K; k++) {
                void *p = keep[i][k];
                if (p) {
                    size_t us = M(malloc_usable_size)(p);
                    if (hakc_verify(p, cover(us - 1), cover(us - 1), (uintptr_t)p, 21) != (size_t)-1 ||
                        ((unsigned char *)p)[us - 1] != 0x5c)
                        bad_use++;
                }
                M(free)(p);
            }
        char name[64];
        snprintf(name, sizeof name, "route.%s.owner", tier_name[t]);
        if (have_owns)
            CHECK(name, bad_owner == 0, "%d blocks with the wrong owner (%s)", bad_owner, detail);
        else
            SKIP(name, "hak_owns not available (no hakmem)");
        snprintf(name, sizeof name, "route.%s.use", tier_name[t]);
        CHECK(name, bad_use == 0, "%d blocks NULL, misaligned, short or overwritten", bad_use);
    }

    /* 2. aligned allocations in every tier still free through the right owner */
    {
        int bad = 0;
        for (int t = 0; t < NTIERS; t++)
            for (int i = 0; i < 6; i++) {
                void *p = NULL;
                if (M(posix_memalign)(&p, 64, tier_sizes[t][i]) != 0 || ((uintptr_t)p & 63)) {
                    bad++;
                    continue;
                }
                memset(p, 0x11, cover(tier_sizes[t][i]));
                if (M(malloc_usable_size)(p) < tier_sizes[t][i])
                    bad++;
                M(free)(p);
            }
        CHECK("route.aligned", bad == 0, "%d aligned blocks failed", bad);
    }

    /* 3. realloc across every pair of tiers */
    {
        int bad = 0, bad_owner = 0;
        char detail[200] = "";
        for (int a = 0; a < NTIERS; a++)
            for (int b = 0; b < NTIERS; b++)
                for (int i = 0; i < 6; i += 2) {
                    size_t sa = tier_sizes[a][i], sb = tier_sizes[b][5 - i];
                    unsigned char *p = M(malloc)(sa);
                    if (!p) {
                        bad++;
                        continue;
                    }
                    uintptr_t pa = (uintptr_t)p;
                    hakc_fill(p, cover(sa), pa, 22);
                    unsigned char *q = M(realloc)(p, sb);
                    size_t keep = sa < sb ? sa : sb;
                    if (!q || hakc_verify(q, cover(keep), cover(sa), pa, 22) != (size_t)-1 ||
                        M(malloc_usable_size)(q) < sb) {
                        if (!bad)
                            snprintf(detail, sizeof detail, "%s %zu -> %s %zu: %p", tier_name[a], sa,
                                     tier_name[b], sb, (void *)q);
                        bad++;
                        if (!q)
                            M(free)(p);
                        else
                            M(free)(q);
                        continue;
                    }
                    /* a block resized in place keeps its owner (shrinking in
                     * place is allowed); a moved block lands at its new tier's owner */
                    int o = hakc_owns(q);
                    int want = (uintptr_t)q == pa ? owns_expected(a) : owns_expected(b);
                    if (have_owns && o != want) {
                        if (!bad_owner && !bad)
                            snprintf(detail, sizeof detail, "%s %zu -> %s %zu: hak_owns=%d want %d",
                                     tier_name[a], sa, tier_name[b], sb, o, want);
                        bad_owner++;
                    }
                    memset(q, 0x33, cover(sb));
                    q[sb - 1] = 0x33;
                    M(free)(q);
                }
        CHECK("route.realloc.cross", bad == 0, "%d reallocs lost contents or failed (%s)", bad, detail);
        if (have_owns)
            CHECK("route.realloc.owner", bad_owner == 0, "%d reallocs landed at the wrong owner (%s)",
                  bad_owner, detail);
    }

    /* 4. interleaved: many live blocks of every tier, freed in a scrambled order */
    {
        enum { N = 2000 };
        static void *p[N];
        static size_t s[N];
        uint64_t seed = 5;
        for (int i = 0; i < N; i++) {
            int t = (int)(hakc_rand(&seed) % NTIERS);
            s[i] = tier_sizes[t][hakc_rand(&seed) % (t == LARGE ? 4 : 6)];
            p[i] = M(malloc)(s[i]);
            if (p[i])
                hakc_fill(p[i], s[i] < 256 ? s[i] : 256, (uintptr_t)p[i], 23);
        }
        int bad = 0;
        for (int i = 0; i < N; i++) {
            int j = (int)((i * 7919u) % N);
            size_t n = s[j] < 256 ? s[j] : 256;
            if (!p[j] || hakc_verify(p[j], n, n, (uintptr_t)p[j], 23) != (size_t)-1)
                bad++;
            if (i % 3 == 0 && p[j]) {
                void *q = M(realloc)(p[j], s[(j + 1) % N]);
                if (!q || hakc_verify(q, n < s[(j + 1) % N] ? n : s[(j + 1) % N], n, (uintptr_t)p[j], 23) != (size_t)-1)
                    bad++;
                if (q)
                    p[j] = q;
            }
            M(free)(p[j]);
            p[j] = NULL;
        }
        CHECK("route.mixed", bad == 0, "%d of %d mixed-tier blocks corrupted", bad, N);
    }
    /* 5. a pointer from the system allocator's own path: strdup (libc) freed by free */
#ifndef HAK_PREFIXED
    {
        char *d = strdup("a string duplicated by libc");
        free(d);
        CHECK("route.strdup", 1, "-");
    }
#endif
    return hakc_finish();
}
