/* guard.c — the hardened mode's protection of the memory itself: the per-process secret, guard pages
 * around SuperSlabs and large blocks, the quarantine of freed large blocks, zero-size blocks that
 * fault, and one line naming whichever of them a SIGSEGV hit. */
#define _GNU_SOURCE
#include "hardened/hardened.h"
#include "hardened/links.h"
#include "large.h"
#include "log.h"
#include "os.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
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
    _Atomic uint64_t guard_pages, large_quarantined, large_reused;
} st;

/* Large blocks with guard pages now (guard_budget says how many may have them). */
static _Atomic long guarded_live;

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
    if (si->si_code <= 0) {            /* sent by kill() or raise(), not a fault: no address to name */
        sigaction(sig, &previous, NULL);
        raise(sig);
        return;
    }
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
    } else if (hak_large_quarantined(a, &blk, &size)) {
        hak_msg("SIGSEGV at %p: use after free of the large block %p (%zu bytes)", a, blk, size);
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

#if HAK_FEATURE_GUARD_PAGES
/* Each guarded block costs the kernel two more mappings; past a quarter of vm.max_map_count, new blocks
 * get no guard pages, so the program keeps the mappings it needs itself (their padding stays read-write
 * and merges with their neighbours). */
static long guard_budget = 65530 / 4;

static void read_guard_budget(void)
{
    char buf[32] = "";
    int fd = open("/proc/sys/vm/max_map_count", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    ssize_t got = read(fd, buf, sizeof buf - 1);
    close(fd);
    long v = got > 0 ? strtol(buf, NULL, 10) : 0;
    if (v > 0)
        guard_budget = v / 4;
}
#endif

/* ---- start-up -------------------------------------------------------------------------------------- */

void hak_hardened_init(void)
{
#if HAK_FEATURE_ENCODED_LINKS
    uint64_t s = hak_cfg.hardened_seed ? (uint64_t)hak_cfg.hardened_seed : fresh_seed();
    hak_link_secret = (uintptr_t)splitmix(&s);
#else
    uint64_t s = fresh_seed();
#endif
    hak_hard.tag_key = splitmix(&s);
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
#if HAK_FEATURE_GUARD_PAGES
    read_guard_budget();
#endif
#ifdef HAK_FAULT_HANDLER
    install_fault_handler();
#endif
}

/* ---- SuperSlabs --------------------------------------------------------------------------------- */

void hak_guard_superslabs(char *m, unsigned n)
{
#if HAK_FEATURE_GUARD_PAGES
    if (!hak_cfg.guard_pages)
        return;
    for (unsigned i = 0; i < n; i++) {
        char *ss = m + (size_t)i * HAK_SS_SIZE;
        if (hak_os_protect(ss + HAK_PAGE, HAK_SS_GUARD, 0) == 0 &&
            hak_os_protect(ss + HAK_SS_SIZE - HAK_SS_GUARD, HAK_SS_GUARD, 0) == 0)
            atomic_fetch_add_explicit(&st.guard_pages, 2, memory_order_relaxed);
    }
#else
    (void)m, (void)n;
#endif
}

/* ---- large blocks ------------------------------------------------------------------------------------
 *
 * A large block is a mapping of its own with an inaccessible page on each side. A freed one waits in a
 * ring of HAKMEM_QUARANTINE_LARGE, oldest first, its first HAKMEM_POISON_BYTES poisoned: a second free
 * is named, and once LQ_NEWER newer frees have followed it, a block may serve a request of its size
 * (up to twice it) again, its poison verified first (a longer wait would keep a program that cycles
 * one big buffer in as many copies of it). The newest HAKMEM_QUARANTINE_LARGE_MB of them keep their
 * pages; older ones give them back and become inaccessible (a use after free faults, and is named).
 * The ring's oldest is unmapped when a new one comes. (Making every freed block inaccessible would
 * cost two mprotect calls and a page fault per page each time a block is reused.) */

#define LG (HAK_FEATURE_GUARD_PAGES ? HAK_PAGE : 0)
#define LQ_NEWER 2

static void *map_guarded(size_t size, size_t align, int *guarded)
{
    size_t total = size + 2 * LG, extra = align > HAK_PAGE ? align : 0;
    if (total < size || total + extra < total) {
        errno = ENOMEM;
        return NULL;
    }
    char *raw = hak_os_map(total + extra);
    if (!raw)
        return NULL;
    char *base = raw + LG;
    if (extra) {   /* trim the over-mapping down to [base - LG, base + size + LG) */
        base = (char *)(((uintptr_t)base + align - 1) & ~(uintptr_t)(align - 1));
        hak_os_unmap(raw, (size_t)(base - LG - raw));
        hak_os_unmap(base + size + LG, (size_t)(raw + total + extra - (base + size + LG)));
    }
    *guarded = 0;
#if HAK_FEATURE_GUARD_PAGES
    if (hak_cfg.guard_pages && atomic_load_explicit(&guarded_live, memory_order_relaxed) < guard_budget &&
        hak_os_protect(base - LG, LG, 0) == 0 && hak_os_protect(base + size, LG, 0) == 0) {
        *guarded = 1;
        atomic_fetch_add_explicit(&guarded_live, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&st.guard_pages, 2, memory_order_relaxed);
    }
#endif
    return base;
}

/* The whole mapping of a large block of `size` bytes at base goes back to the kernel. */
static void unmap_large(uintptr_t base, size_t size, int guarded, int counted)
{
    if (guarded)
        atomic_fetch_sub_explicit(&guarded_live, 1, memory_order_relaxed);
    if (counted) {
        hak_os_unmap((char *)base - LG, size + 2 * LG);
    } else {            /* its pages went back already; its guard pages were counted with the mapping */
        hak_os_unreserve((char *)base - LG, size + 2 * LG);
        hak_os_count_mapped(-(int64_t)(2 * LG));
    }
}

#if HAK_FEATURE_QUARANTINE
typedef struct lq_entry {
    _Atomic uintptr_t base;        /* 0: empty (read without the lock by the fault handler) */
    _Atomic size_t size;
    int resident;                  /* its pages are still there (poisoned) */
    int guarded;                   /* between guard pages */
} lq_entry_t;

static pthread_mutex_t lq_lock = PTHREAD_MUTEX_INITIALIZER;
static lq_entry_t lq[HAK_QUARANTINE_MAX];
static unsigned lq_head, lq_count;           /* oldest entry, entries in use (ring order) */
static size_t lq_resident;                   /* bytes of resident entries */

static lq_entry_t *lq_at(unsigned k) { return &lq[(lq_head + k) % HAK_QUARANTINE_MAX]; }

int hak_large_quarantined(const void *p, void **base, size_t *size)
{
    uintptr_t x = (uintptr_t)p;
    for (unsigned i = 0; i < HAK_QUARANTINE_MAX; i++) {
        uintptr_t b = atomic_load_explicit(&lq[i].base, memory_order_relaxed);
        size_t n = atomic_load_explicit(&lq[i].size, memory_order_relaxed);
        if (b && x >= b && x - b < n) {
            *base = (void *)b;
            *size = n;
            return 1;
        }
    }
    return 0;
}

/* With lq_lock held: entry k leaves the ring (the rest close up); returns its base and size. */
static uintptr_t lq_remove(unsigned k, size_t *size, int *resident, int *guarded)
{
    lq_entry_t *e = lq_at(k);
    uintptr_t base = atomic_load_explicit(&e->base, memory_order_relaxed);
    *size = atomic_load_explicit(&e->size, memory_order_relaxed);
    *resident = e->resident;
    *guarded = e->guarded;
    if (e->resident)
        lq_resident -= *size;
    for (unsigned i = k; i > 0; i--) {       /* the older entries move up one */
        lq_entry_t *to = lq_at(i), *from = lq_at(i - 1);
        atomic_store_explicit(&to->size, atomic_load_explicit(&from->size, memory_order_relaxed), memory_order_relaxed);
        atomic_store_explicit(&to->base, atomic_load_explicit(&from->base, memory_order_relaxed), memory_order_relaxed);
        to->resident = from->resident;
        to->guarded = from->guarded;
    }
    atomic_store_explicit(&lq_at(0)->base, 0, memory_order_relaxed);
    lq_head = (lq_head + 1) % HAK_QUARANTINE_MAX;
    lq_count--;
    return base;
}

static size_t large_poison(size_t size)
{
#if HAK_FEATURE_POISON
    return hak_hard.poison_bytes < size - HAK_TAG ? hak_hard.poison_bytes : (size - HAK_TAG) & ~(size_t)7;
#else
    (void)size;
    return 0;
#endif
}

/* The poison of a freed resident large block is as it was left; else the write is reported. */
static int poison_intact(const void *p, size_t size)
{
    const unsigned char *b = p;
    size_t end = large_poison(size), k = 0;
    while (k < end && hak_load64(b + k) == HAK_POISON_WORD)     /* whole words: large_poison's unit */
        k += 8;
    if (HAK_LIKELY(k >= end))
        return 1;
    while (b[k] == HAK_POISON_BYTE)
        k++;
    hak_hard_error("malloc(): use after free: the freed large block %p (%zu bytes) was written at offset %zu "
                   "after it was freed", p, size, k);
    return 0;
}

/* A quarantined block for `size` bytes (at most twice that) that LQ_NEWER newer frees have followed,
 * in use again. */
static void *lq_take(size_t size, size_t *got, int *zeroed, int *guarded)
{
    pthread_mutex_lock(&lq_lock);
    for (unsigned k = 0; k + LQ_NEWER < lq_count; k++) {
        lq_entry_t *e = lq_at(k);
        size_t n = atomic_load_explicit(&e->size, memory_order_relaxed);
        if (n < size || n / 2 > size)
            continue;
        int resident;
        uintptr_t base = lq_remove(k, got, &resident, guarded);
        pthread_mutex_unlock(&lq_lock);
        if (resident ? !poison_intact((void *)base, *got) : hak_os_protect((void *)base, *got, 1) != 0) {
            unmap_large(base, *got, *guarded, resident);      /* kept out of use (report action) */
            return NULL;
        }
        if (!resident)
            hak_os_count_mapped((int64_t)*got);
        *zeroed = !resident;
        atomic_fetch_add_explicit(&st.large_reused, 1, memory_order_relaxed);
        return (void *)base;
    }
    pthread_mutex_unlock(&lq_lock);
    return NULL;
}
#endif

void *hak_guard_large_take(size_t size, size_t align, size_t *got, int *zeroed, int *guarded)
{
#if HAK_FEATURE_QUARANTINE
    if (align <= HAK_PAGE) {
        void *p = lq_take(size, got, zeroed, guarded);
        if (p)
            return p;
    }
#endif
    *got = size;
    *zeroed = 1;
    return map_guarded(size, align, guarded);
}

void hak_guard_large_release(void *base, size_t size, int guarded)
{
#if HAK_FEATURE_QUARANTINE
    unsigned cap = (unsigned)hak_cfg.quarantine_large;
    if (cap) {
        memset(base, HAK_POISON_BYTE, large_poison(size));
        size_t budget = (size_t)hak_cfg.quarantine_large_mb << 20;
        uintptr_t drop = 0;
        size_t drop_size = 0;
        int drop_resident = 0, drop_guarded = 0;
        pthread_mutex_lock(&lq_lock);
        if (lq_count >= cap)
            drop = lq_remove(0, &drop_size, &drop_resident, &drop_guarded);
        lq_entry_t *e = lq_at(lq_count++);
        e->resident = 1;
        e->guarded = guarded;
        atomic_store_explicit(&e->size, size, memory_order_relaxed);
        atomic_store_explicit(&e->base, (uintptr_t)base, memory_order_relaxed);
        lq_resident += size;
        /* past the budget, the oldest resident ones give their pages back (the range stays reserved) */
        for (unsigned k = 0; k < lq_count && lq_resident > budget; k++) {
            lq_entry_t *o = lq_at(k);
            if (!o->resident)
                continue;
            size_t n = atomic_load_explicit(&o->size, memory_order_relaxed);
            if (hak_os_make_inaccessible((void *)atomic_load_explicit(&o->base, memory_order_relaxed), n) == 0) {
                o->resident = 0;
                lq_resident -= n;
            }
        }
        pthread_mutex_unlock(&lq_lock);
        atomic_fetch_add_explicit(&st.large_quarantined, 1, memory_order_relaxed);
        if (drop)
            unmap_large(drop, drop_size, drop_guarded, drop_resident);
        return;
    }
#endif
    unmap_large((uintptr_t)base, size, guarded, 1);
}

#if HAK_FEATURE_QUARANTINE
void hak_guard_fork_prepare(void) { pthread_mutex_lock(&lq_lock); }
void hak_guard_fork_parent(void) { pthread_mutex_unlock(&lq_lock); }
void hak_guard_fork_child(void) { pthread_mutex_init(&lq_lock, NULL); }
#else
void hak_guard_fork_prepare(void) {}
void hak_guard_fork_parent(void) {}
void hak_guard_fork_child(void) {}
#endif

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
    void *base;
    size_t size;
    if (hak_large_quarantined(p, &base, &size) && base == p) {
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
#if HAK_HARDENED
        if (h->tls) {      /* a thread's own counts, until it exits */
            q += hak_counter_get(&h->cache.hard.quarantined);
            poison += hak_counter_get(&h->cache.hard.poison_checked);
            canary += hak_counter_get(&h->cache.hard.canary_bytes);
        }
#endif
        shuffled += hak_counter_get(&h->st.hard_shuffled);
        zero += hak_counter_get(&h->st.hard_zero_blocks);
    }
    hak_heap_unlock();
    return (size_t)hak_snprintf(buf, (int)len,
        "\"hardened\":{\"quarantined\":%llu,\"large_quarantined\":%llu,\"poison_checked\":%llu,"
        "\"canary_bytes\":%llu,\"shuffled\":%llu,\"zero_blocks\":%llu,\"guard_pages\":%llu,"
        "\"large_reused\":%llu}",
        (unsigned long long)q, (unsigned long long)atomic_load(&st.large_quarantined),
        (unsigned long long)poison, (unsigned long long)canary, (unsigned long long)shuffled,
        (unsigned long long)zero, (unsigned long long)atomic_load(&st.guard_pages),
        (unsigned long long)atomic_load(&st.large_reused));
}
