/* peer_slips.c — the cases where other allocators slip on this machine,
 * exercised from several threads at once:
 *  - posix_memalign / aligned_alloc / memalign with alignments 256..1024 while
 *    two or more threads allocate (Debian's mimalloc 2.0.9 returns misaligned
 *    blocks here);
 *  - errno == ENOMEM after a huge malloc fails (mimalloc leaves it unset);
 *  - errno == ENOMEM after calloc overflows (tcmalloc leaves it unset).
 * errno is thread-local, so each thread checks its own.
 *
 * usage: peer_slips [threads] [iterations] */
#include "hakc.h"

#include <pthread.h>

static int iters = 4000;
static atomic_int misaligned, nulls, errno_malloc, errno_calloc, errno_realloc, errno_pm;
static atomic_int go;

static void *worker(void *arg)
{
    uint64_t seed = (uintptr_t)arg * 31 + 7;
    enum { KEEP = 128 };
    void *keep[KEEP] = {0};
    while (!atomic_load(&go))
        ;
    for (int i = 0; i < iters; i++) {
        size_t a = (size_t)256 << (hakc_rand(&seed) % 3); /* 256, 512, 1024 */
        size_t n = 1 + hakc_rand(&seed) % 3000;
        void *p = NULL;
        switch (i % 3) {
        case 0:
            if (M(posix_memalign)(&p, a, n) != 0)
                p = NULL;
            break;
        case 1: p = M(aligned_alloc)(a, (n + a - 1) & ~(a - 1)); break;
        default: p = M(memalign)(a, n); break;
        }
        if (!p)
            atomic_fetch_add(&nulls, 1);
        else if ((uintptr_t)p & (a - 1))
            atomic_fetch_add(&misaligned, 1);
        else
            memset(p, 0x77, n);
        int slot = (int)(hakc_rand(&seed) % KEEP);
        M(free)(keep[slot]);
        keep[slot] = p;
        /* interleave small allocations so the aligned ones share pages */
        void *s = M(malloc)(1 + hakc_rand(&seed) % 512);
        M(free)(s);

        if (i % 64 == 0) {
            errno = 0;
            void *h = M(malloc)(hakc_sz(((size_t)1 << 48) + (size_t)i));
            if (h || errno != ENOMEM)
                atomic_fetch_add(&errno_malloc, 1);
            if (h)
                M(free)(h);
            errno = 0;
            h = M(malloc)(hakc_sz(SIZE_MAX - (size_t)i));
            if (h || errno != ENOMEM)
                atomic_fetch_add(&errno_malloc, 1);
            errno = 0;
            h = M(calloc)(hakc_sz(SIZE_MAX / 8 + (size_t)i), hakc_sz(16));
            if (h || errno != ENOMEM)
                atomic_fetch_add(&errno_calloc, 1);
            errno = 0;
            h = M(calloc)(hakc_sz((size_t)1 << 40), hakc_sz((size_t)1 << 30));
            if (h || errno != ENOMEM)
                atomic_fetch_add(&errno_calloc, 1);
            void *r = M(malloc)(64);
            errno = 0;
            h = M(realloc)(r, hakc_sz((size_t)1 << 50));
            if (h || errno != ENOMEM)
                atomic_fetch_add(&errno_realloc, 1);
            M(free)(h ? h : r);
            void *q = (void *)1;
            if (M(posix_memalign)(&q, 512, hakc_sz((size_t)1 << 50)) != ENOMEM)
                atomic_fetch_add(&errno_pm, 1);
        }
    }
    for (int k = 0; k < KEEP; k++)
        M(free)(keep[k]);
    return NULL;
}

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : 4;
    if (argc > 2)
        iters = atoi(argv[2]);
    if (threads > 64)
        threads = 64;
    pthread_t t[64];
    for (int i = 0; i < threads; i++)
        pthread_create(&t[i], NULL, worker, (void *)(uintptr_t)(i + 1));
    atomic_store(&go, 1);
    for (int i = 0; i < threads; i++)
        pthread_join(t[i], NULL);
    CHECK("peer.memalign.threads.aligned", misaligned == 0 && nulls == 0,
          "%d misaligned and %d NULL blocks among %d aligned allocations (alignment 256..1024, %d threads)",
          atomic_load(&misaligned), atomic_load(&nulls), threads * iters, threads);
    CHECK("peer.malloc.huge.errno", errno_malloc == 0,
          "%d failed huge mallocs without errno == ENOMEM", atomic_load(&errno_malloc));
    CHECK("peer.calloc.overflow.errno", errno_calloc == 0,
          "%d overflowing callocs without NULL and errno == ENOMEM", atomic_load(&errno_calloc));
    CHECK("peer.realloc.huge.errno", errno_realloc == 0,
          "%d failed huge reallocs without errno == ENOMEM", atomic_load(&errno_realloc));
    CHECK("peer.posix_memalign.huge", errno_pm == 0,
          "%d huge posix_memalign calls did not return ENOMEM", atomic_load(&errno_pm));
    return hakc_finish();
}
