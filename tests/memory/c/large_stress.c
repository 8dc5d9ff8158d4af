/* large_stress — threads churning large blocks (and bursts of slab blocks) while the decay thread
 * releases cached memory underneath: BigCache get/put, calloc on reused blocks, realloc (mremap),
 * aligned blocks, cross-thread frees, SuperSlab caching and unit release. Every block carries a
 * pattern checked before it is freed, so a block handed out twice, or released (madvise) while in
 * use, shows up as corruption; the sanitizer variants add their own checks.
 *
 * usage: large_stress [THREADS=4] [OPS=2000] [SEED=1] */
#include "hakc.h"

#include <pthread.h>

static long n_ops = 2000;
static atomic_int corrupt;

#define SLOTS 16
static _Atomic(void *) shared[SLOTS];     /* blocks passed between threads */

static uint64_t rnd(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static size_t pick_size(uint64_t *s)
{
    uint64_t r = rnd(s);
    switch (r % 8) {
    case 0: return (2u << 20) + (r >> 8) % (2u << 20);   /* 2-4 MiB (THP candidates) */
    case 1: return 32769 + (r >> 8) % 65536;
    default: return 65536 + (r >> 8) % (1u << 20);
    }
}

static void *worker(void *arg)
{
    uint64_t s = (uintptr_t)arg * 0x9e3779b97f4a7c15ull + 1;
    void *mine[8] = { 0 };
    size_t len[8] = { 0 };
    unsigned char tag[8] = { 0 };
    for (long i = 0; i < n_ops; i++) {
        unsigned k = (unsigned)(rnd(&s) % 8);
        if (mine[k]) {
            if (!hakc_pages_hold(mine[k], len[k], tag[k]))
                atomic_fetch_add(&corrupt, 1);
            uint64_t r = rnd(&s);
            if (r % 7 == 0) {               /* grow or shrink in place / by moving */
                size_t n = pick_size(&s);
                unsigned char *q = M(realloc)(mine[k], n);
                if (q) {
                    size_t keep = len[k] < n ? len[k] : n;
                    if (q[0] != tag[k] || (keep > 4096 && q[4096] != tag[k]))
                        atomic_fetch_add(&corrupt, 1);
                    mine[k] = q;
                    len[k] = n;
                    hakc_touch_pages(q, n, tag[k]);
                }
                continue;
            }
            if (r % 5 == 0) {               /* hand it to another thread */
                unsigned slot = (unsigned)(r >> 8) % SLOTS;
                void *old = atomic_exchange(&shared[slot], NULL);
                if (old) {
                    size_t ol;
                    memcpy(&ol, (char *)old + 8, sizeof ol);   /* its length travels inside it */
                    if (!hakc_pages_hold(old, ol, 0xee))
                        atomic_fetch_add(&corrupt, 1);
                    M(free)(old);
                }
                hakc_touch_pages(mine[k], len[k], 0xee);
                memcpy((char *)mine[k] + 8, &len[k], sizeof len[k]);
                void *prev = atomic_exchange(&shared[slot], mine[k]);
                if (prev)                   /* raced with another producer: ours now */
                    M(free)(prev);
                mine[k] = NULL;
                continue;
            }
            M(free)(mine[k]);
            mine[k] = NULL;
            continue;
        }
        size_t n = pick_size(&s);
        uint64_t r = rnd(&s);
        unsigned char *p;
        if (r % 4 == 0) {
            p = M(calloc)(1, n);
            if (p && (p[0] || p[n / 2] || p[n - 1]))
                atomic_fetch_add(&corrupt, 1);
        } else if (r % 9 == 0) {
            p = M(aligned_alloc)(65536, n);
            if (p && ((uintptr_t)p & 65535))
                atomic_fetch_add(&corrupt, 1);
        } else {
            p = M(malloc)(n);
        }
        if (!p)
            continue;
        tag[k] = (unsigned char)(1 + r % 200);
        hakc_touch_pages(p, n, tag[k]);
        mine[k] = p;
        len[k] = n;
        if (i % 500 == 250) {               /* a burst of slab blocks freed at once (free storm) */
            enum { B = 3000 };
            void **v = M(malloc)(B * sizeof *v);
            for (int j = 0; v && j < B; j++) {
                v[j] = M(malloc)(16 + (rnd(&s) % 16000));
                if (v[j])
                    *(unsigned char *)v[j] = 7;
            }
            for (int j = 0; v && j < B; j++)
                M(free)(v[j]);
            M(free)(v);
        }
    }
    for (unsigned k = 0; k < 8; k++) {
        if (mine[k] && !hakc_pages_hold(mine[k], len[k], tag[k]))
            atomic_fetch_add(&corrupt, 1);
        M(free)(mine[k]);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : 4;
    n_ops = argc > 2 ? atol(argv[2]) : 2000;
    uint64_t seed = argc > 3 ? strtoull(argv[3], NULL, 10) : 1;
    if (threads < 1 || threads > 64)
        threads = 4;
    pthread_t t[64];
    for (int i = 0; i < threads; i++)
        pthread_create(&t[i], NULL, worker, (void *)(uintptr_t)(seed * 131 + (uint64_t)i));
    for (int i = 0; i < threads; i++)
        pthread_join(t[i], NULL);
    for (unsigned s = 0; s < SLOTS; s++) {
        void *p = atomic_exchange(&shared[s], NULL);
        size_t n = 0;
        if (p)
            memcpy(&n, (char *)p + 8, sizeof n);
        if (p && !hakc_pages_hold(p, n, 0xee))
            atomic_fetch_add(&corrupt, 1);
        M(free)(p);
    }
    CHECK("large_stress.intact", atomic_load(&corrupt) == 0, "%d corrupted or non-zero blocks",
          atomic_load(&corrupt));
    M(malloc_trim)(0);
    return hakc_finish();
}
