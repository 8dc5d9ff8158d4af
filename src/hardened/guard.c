/* guard.c — the hardened mode's protection of the memory itself: the per-process secret, guard pages
 * around SuperSlabs and large blocks, freed large blocks kept inaccessible, zero-size blocks that fault,
 * a non-executable heap, and one line naming whichever of them a SIGSEGV hit. */
#define _GNU_SOURCE
#include "hardened/hardened.h"
#include "hardened/links.h"
#include "large.h"
#include "log.h"
#include "os.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/personality.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#if HAK_FEATURE_ENCODED_LINKS
uintptr_t hak_link_secret;

void hak_link_corrupt(const void *blk, uintptr_t decoded)
{
    hak_fatal("malloc(): use after free or heap corruption: the free-list link in the freed block %p is "
              "overwritten (it decodes to %p, not a block of hakmem's)", blk, (void *)decoded);
}
#endif

static struct {
    _Atomic uint64_t guard_pages, large_quarantined;
} st;

/* ---- the secret ---------------------------------------------------------------------------------- */

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t fresh_seed(void)
{
    uint64_t seed = 0;
    if (getrandom(&seed, sizeof seed, GRND_NONBLOCK) == (ssize_t)sizeof seed && seed)
        return seed;
    /* no entropy pool yet (early boot): the kernel's per-exec random bytes, the clock, the pid */
    const unsigned char *at = (const unsigned char *)getauxval(AT_RANDOM);
    if (at)
        memcpy(&seed, at + 8, sizeof seed);
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return seed ^ ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)getpid();
}

/* ---- SIGSEGV: which protection was hit ------------------------------------------------------------ */

#if HAK_FEATURE_GUARD_PAGES || HAK_FEATURE_ZERO_FAULT || HAK_FEATURE_QUARANTINE || HAK_FEATURE_NX_HEAP
#define HAK_FAULT_HANDLER 1
static struct sigaction previous;

/* One line naming what the faulting address is, when it is ours; then abort. Anything else is left to
 * the previous disposition: the handler steps aside and the access faults again. */
static void on_fault(int sig, siginfo_t *si, void *ctx)
{
    (void)ctx;
    void *a = si->si_addr;
    uintptr_t x = (uintptr_t)a;
    const char *what = NULL;
    void *blk = NULL;
    size_t size = 0;
    if (hak_ss_contains(a)) {
        uintptr_t off = x & (HAK_SS_SIZE - 1);
        if (HAK_SS_GUARD && ((off >= HAK_PAGE && off < HAK_SS_HEADER) || off >= HAK_SS_SIZE - HAK_SS_GUARD))
            what = "a guard page of hakmem's heap (a write or read past the end or before the start of a block)";
        else if (si->si_code == SEGV_ACCERR)
            what = "execution of heap memory (hakmem's heap is never executable)";
#if HAK_FEATURE_ZERO_FAULT
    } else if (hak_zero_contains(a)) {
        what = "access to a zero-size block (malloc(0) returns an address that may not be touched)";
#endif
#if HAK_FEATURE_QUARANTINE
    } else if (hak_large_quarantined(a, &size)) {
        hak_msg("SIGSEGV at %p: use after free of the large block %p (%zu bytes)", a,
                (void *)(x & ~(uintptr_t)(HAK_PAGE - 1)), size);
        abort();
#endif
    } else {
#if HAK_FEATURE_GUARD_PAGES
        int side = hak_large_guarded(x, &blk, &size);
        if (side) {
            hak_msg("SIGSEGV at %p: the guard page %s the large block %p (%zu bytes): a write or read %s", a,
                    side < 0 ? "below" : "above", blk, size, side < 0 ? "before its start" : "past its end");
            abort();
        }
#endif
        if (si->si_code == SEGV_ACCERR && hak_large_usable((void *)(x & ~(uintptr_t)(HAK_PAGE - 1))))
            what = "execution of heap memory (hakmem's heap is never executable)";
    }
    if (what) {
        hak_msg("SIGSEGV at %p: %s", a, what);
        abort();
    }
    (void)blk;
    sigaction(sig, &previous, NULL);   /* not ours: fault again under the program's own disposition */
}

/* Installed only over the default disposition: a program's own handler keeps the signal. */
static void install_fault_handler(void)
{
    struct sigaction cur;
    if (sigaction(SIGSEGV, NULL, &cur) != 0 || (cur.sa_flags & SA_SIGINFO) || cur.sa_handler != SIG_DFL)
        return;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    previous = cur;
    sigaction(SIGSEGV, &sa, NULL);
}
#endif

/* ---- start-up -------------------------------------------------------------------------------------- */

void hak_hardened_init(void)
{
#if HAK_FEATURE_ENCODED_LINKS
    uint64_t s = hak_cfg.hardened_seed ? (uint64_t)hak_cfg.hardened_seed : fresh_seed();
    hak_link_secret = (uintptr_t)splitmix(&s);
    hak_hard.tag_key = splitmix(&s);
#else
    uint64_t s = fresh_seed();
    hak_hard.tag_key = splitmix(&s);
#endif
#if HAK_FEATURE_OVERFLOW_CHECK
    hak_hard.canary_bytes = (uint32_t)hak_cfg.canary_bytes;
#endif
#if HAK_FEATURE_POISON
    hak_hard.poison_bytes = (uint32_t)hak_cfg.poison_bytes;
#endif
#if HAK_FEATURE_QUARANTINE
    hak_hard.quarantine = (uint32_t)hak_cfg.quarantine_blocks;
#endif
#if HAK_FEATURE_FREE_CHECK
    hak_hard.report_only = hak_cfg.error_action == HAK_ERROR_ACTION_REPORT;
#endif
#if HAK_FEATURE_ZERO_FAULT
    hak_hard.zero_fault = hak_cfg.zero_fault != 0;
#endif
#if HAK_FEATURE_SHUFFLE
    hak_hard.shuffle = hak_cfg.shuffle != 0;
#endif
#if HAK_FEATURE_NX_HEAP
    /* READ_IMPLIES_EXEC (setarch -X, old binaries) would make every readable mapping executable,
     * ours included: cleared before the first SuperSlab is mapped. */
    int pers = personality(0xffffffff);
    if (hak_cfg.nx_heap && pers != -1 && (pers & READ_IMPLIES_EXEC)) {
        personality((unsigned long)pers & ~(unsigned long)READ_IMPLIES_EXEC);
        hak_log(HAK_LOG_INFO, "cleared READ_IMPLIES_EXEC from the personality: the heap stays non-executable");
    }
#endif
#ifdef HAK_FAULT_HANDLER
    install_fault_handler();
#endif
}

/* ---- SuperSlabs --------------------------------------------------------------------------------- */

void hak_guard_superslabs(char *m, unsigned n)
{
#if HAK_FEATURE_FREE_CHECK
    /* the state maps of all n in one mapping: unbacked until a block's byte is written */
    uint8_t *maps = hak_os_map((size_t)n * HAK_STATE_BYTES);
#endif
    for (unsigned i = 0; i < n; i++) {
        char *ss = m + (size_t)i * HAK_SS_SIZE;
#if HAK_FEATURE_FREE_CHECK
        /* without a map (ENOMEM) the SuperSlab could not be checked: a mapping of its own, or abort */
        ((hak_superslab_t *)ss)->state = maps ? maps + (size_t)i * HAK_STATE_BYTES : hak_os_map(HAK_STATE_BYTES);
        if (!((hak_superslab_t *)ss)->state)
            hak_fatal("out of memory for the state map of a SuperSlab");
#endif
#if HAK_FEATURE_GUARD_PAGES
        if (hak_cfg.guard_pages && hak_os_protect_none(ss + HAK_PAGE, HAK_SS_GUARD) == 0 &&
            hak_os_protect_none(ss + HAK_SS_SIZE - HAK_SS_GUARD, HAK_SS_GUARD) == 0)
            atomic_fetch_add_explicit(&st.guard_pages, 2, memory_order_relaxed);
#endif
    }
}

void hak_guard_superslab_unmapped(hak_superslab_t *ss)
{
#if HAK_FEATURE_FREE_CHECK
    hak_os_unmap(ss->state, HAK_STATE_BYTES);
#else
    (void)ss;
#endif
}

/* ---- large blocks --------------------------------------------------------------------------------- */

void *hak_guard_map_large(size_t size, size_t align)
{
    size_t g = HAK_PAGE, total = size + 2 * g;
    if (total < size || total + align < total) {
        errno = ENOMEM;
        return NULL;
    }
    char *raw = hak_os_map(total + (align > HAK_PAGE ? align : 0));
    if (!raw)
        return NULL;
    char *base = raw + g;
    if (align > HAK_PAGE) {   /* trim the over-mapping down to [base - g, base + size + g) */
        base = (char *)(((uintptr_t)base + align - 1) & ~(uintptr_t)(align - 1));
        hak_os_unmap(raw, (size_t)(base - g - raw));
        hak_os_unmap(base + size + g, (size_t)(raw + total + align - (base + size + g)));
    }
#if HAK_FEATURE_GUARD_PAGES
    if (hak_cfg.guard_pages && hak_os_protect_none(base - g, g) == 0 && hak_os_protect_none(base + size, g) == 0)
        atomic_fetch_add_explicit(&st.guard_pages, 2, memory_order_relaxed);
#endif
    return base;
}

#if HAK_FEATURE_QUARANTINE
/* Freed large blocks, inaccessible, oldest first; a ring of HAKMEM_QUARANTINE_LARGE. Read without the
 * lock by the fault handler (a torn entry only makes its report less precise). */
static pthread_mutex_t lq_lock = PTHREAD_MUTEX_INITIALIZER;
static struct { _Atomic uintptr_t base; _Atomic size_t size; } lq[HAK_QUARANTINE_MAX];
static unsigned lq_next;

int hak_large_quarantined(const void *p, size_t *size)
{
    uintptr_t x = (uintptr_t)p;
    unsigned cap = (unsigned)hak_cfg.quarantine_large;
    for (unsigned i = 0; i < cap && i < HAK_QUARANTINE_MAX; i++) {
        uintptr_t b = atomic_load_explicit(&lq[i].base, memory_order_relaxed);
        size_t n = atomic_load_explicit(&lq[i].size, memory_order_relaxed);
        if (b && x >= b && x - b < n) {
            *size = n;
            return 1;
        }
    }
    return 0;
}
#endif

void hak_guard_release_large(void *base, size_t size)
{
    char *lo = (char *)base - HAK_PAGE;
    size_t total = size + 2 * HAK_PAGE;
#if HAK_FEATURE_QUARANTINE
    unsigned cap = (unsigned)hak_cfg.quarantine_large;
    if (cap && hak_os_make_inaccessible(lo, total) == 0) {
        pthread_mutex_lock(&lq_lock);
        unsigned i = lq_next;
        lq_next = i + 1 >= cap ? 0 : i + 1;
        uintptr_t old = atomic_load_explicit(&lq[i].base, memory_order_relaxed);
        size_t old_size = atomic_load_explicit(&lq[i].size, memory_order_relaxed);
        atomic_store_explicit(&lq[i].base, 0, memory_order_relaxed);
        atomic_store_explicit(&lq[i].size, size, memory_order_relaxed);
        atomic_store_explicit(&lq[i].base, (uintptr_t)base, memory_order_relaxed);
        pthread_mutex_unlock(&lq_lock);
        atomic_fetch_add_explicit(&st.large_quarantined, 1, memory_order_relaxed);
        if (old)
            hak_os_unreserve((char *)old - HAK_PAGE, old_size + 2 * HAK_PAGE);   /* uncounted already */
        return;
    }
#endif
    hak_os_unmap(lo, total);
}

/* ---- zero-size blocks ---------------------------------------------------------------------------------- */

#if HAK_FEATURE_ZERO_FAULT
/* Unique addresses for 2^26 live zero-size blocks before the region wraps; never backed. */
#define ZERO_REGION ((size_t)1 << 30)
static _Atomic uintptr_t zero_base;
static _Atomic size_t zero_next;

void *hak_zero_block(void)
{
    uintptr_t b = atomic_load_explicit(&zero_base, memory_order_acquire);
    if (HAK_UNLIKELY(!b)) {
        uintptr_t r = (uintptr_t)hak_os_reserve(ZERO_REGION), none = 0;
        if (!r) {
            errno = ENOMEM;
            return NULL;
        }
        if (atomic_compare_exchange_strong(&zero_base, &none, r))
            b = r;
        else {
            hak_os_unreserve((void *)r, ZERO_REGION);
            b = none;
        }
    }
    size_t off = atomic_fetch_add_explicit(&zero_next, 16, memory_order_relaxed) & (ZERO_REGION - 1);
    return (void *)(b + off);
}

int hak_zero_contains(const void *p)
{
    uintptr_t b = atomic_load_explicit(&zero_base, memory_order_relaxed);
    return b && (uintptr_t)p - b < ZERO_REGION;
}
#else
void *hak_zero_block(void) { return NULL; }
int hak_zero_contains(const void *p) { (void)p; return 0; }
#endif

/* ---- reports ---------------------------------------------------------------------------------------- */

void hak_hard_invalid(const char *what, const void *p)
{
#if HAK_FEATURE_QUARANTINE
    size_t size;
    if (hak_large_quarantined(p, &size) && ((uintptr_t)p & (HAK_PAGE - 1)) == 0) {
        hak_hard_error("%s: double free of the large block %p (%zu bytes)", what, p, size);
        return;
    }
#endif
    hak_hard_error("%s: invalid pointer %p: not a live block (never allocated by hakmem or the system "
                   "allocator it delegates to, or a large block already freed)", what, p);
}

size_t hak_hard_report_json(char *buf, size_t len)
{
    uint64_t q = 0, poison = 0, canary = 0, shuffled = 0, zero = 0;
    hak_heap_lock();
    for (hak_heap_t *h = hak_heap_first(); h; h = h->next_all) {
        q += hak_counter_get(&h->st.hard_quarantined);
        poison += hak_counter_get(&h->st.hard_poison_checked);
        canary += hak_counter_get(&h->st.hard_canary_bytes);
        shuffled += hak_counter_get(&h->st.hard_shuffled);
        zero += hak_counter_get(&h->st.hard_zero_blocks);
    }
    hak_heap_unlock();
    return (size_t)hak_snprintf(buf, (int)len,
        "\"hardened\":{\"quarantined\":%llu,\"large_quarantined\":%llu,\"poison_checked\":%llu,"
        "\"canary_bytes\":%llu,\"shuffled\":%llu,\"zero_blocks\":%llu,\"guard_pages\":%llu}",
        (unsigned long long)q, (unsigned long long)atomic_load(&st.large_quarantined),
        (unsigned long long)poison, (unsigned long long)canary, (unsigned long long)shuffled,
        (unsigned long long)zero, (unsigned long long)atomic_load(&st.guard_pages));
}
