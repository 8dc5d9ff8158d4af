/* integrity.c — canaries, double and invalid free detection, and the ASan variant's quarantine.
 * See integrity.h for the layout of a checked block. Every report is one line (what happened, the
 * address, the size class, the allocating thread) followed by abort(), as glibc does. */
#define _GNU_SOURCE
#include "integrity.h"
#include "hardened/hardened.h"
#include "large.h"
#include "log.h"
#include "tuning.h"

#include <pthread.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define SEAL_LIVE  0x6c1f3a9e5b27d04full
#define SEAL_FREED 0x93e0c561a4d82fb0ull

static uint64_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}

static uint64_t seal_of(const void *p, uint64_t meta, uint64_t state)
{
    return mix((uint64_t)(uintptr_t)p ^ mix(meta ^ state));
}

/* Canary byte at offset k of block p: address-derived, with the top bit set and never 0xff. Text
 * (ASCII and its NUL, the classic string overrun) can then never match the canary, so such an
 * overrun is always caught, not missed one time in 256; other bytes are caught 127 times in 128. */
static inline unsigned char canary_byte(uint64_t pat, size_t k)
{
    unsigned char b = 0x80 | ((unsigned char)(pat >> ((k & 7) * 8)) ^ (unsigned char)(k >> 3));
    return b != 0xff ? b : 0xa5;
}

static HAK_TLS uint32_t my_tid;

static uint32_t thread_id(void)
{
    if (HAK_UNLIKELY(!my_tid))
        my_tid = (uint32_t)syscall(SYS_gettid);
    return my_tid;
}

HAK_NO_ASAN void hak_integrity_arm(void *p, unsigned cls, size_t n)
{
    unsigned char *b = p;
    size_t size = hak_class_size[cls], end = size - HAK_INTEGRITY_TAIL;
    uint64_t pat = mix((uint64_t)(uintptr_t)p);
    for (size_t k = n; k < end; k++)
        b[k] = canary_byte(pat, k);
    uint64_t meta = (uint64_t)n | ((uint64_t)thread_id() << 32);
    memcpy(b + end, &meta, 8);
    uint64_t seal = seal_of(p, meta, SEAL_LIVE);
    memcpy(b + end + 8, &seal, 8);
    /* ASan variant: the canary and trailer are poisoned too, so a write past the end is reported the
     * moment it happens, not only at free time. */
    HAK_ASAN_UNPOISON(b, n);
    HAK_ASAN_POISON(b + n, size - n);
}

/* hak_ss_is_block_start, read without TSan instrumentation (see HAK_NO_SANITIZE). */
static HAK_NO_SANITIZE int block_start(hak_superslab_t *ss, const void *p)
{
    hak_slab_t *s = hak_ss_slab(ss, p);
    uintptr_t off = (uintptr_t)p - (uintptr_t)s->start;
    if ((uintptr_t)p < (uintptr_t)s->start || !s->block_size || off % s->block_size)
        return 0;
    return off / s->block_size < s->carved_max;
}

static const char *tier_name(unsigned cls)
{
    static const char *names[] = { "tiny", "pool", "mid" };
    return names[hak_class_tier(cls)];
}

HAK_NO_SANITIZE size_t hak_integrity_check(const char *what, void *p, hak_superslab_t *ss, int release)
{
    unsigned u = hak_ss_unit(p);
    unsigned cls = ss->unit_class[u];
    if (cls == HAK_NO_CLASS)
        hak_fatal("%s: invalid pointer %p: inside hakmem's memory but in no live slab (freed twice after "
                  "its slab was released, or never allocated)", what, p);
    if (!block_start(ss, p)) {
        hak_slab_t *s = hak_ss_slab(ss, p);
        uintptr_t off = (uintptr_t)p - (uintptr_t)s->start;
        if ((uintptr_t)p < (uintptr_t)s->start || off / s->block_size >= s->carved_max)
            hak_fatal("%s: invalid pointer %p: not a block hakmem handed out (%s size class %u, %u B)",
                      what, p, tier_name(cls), cls, hak_class_size[cls]);
        unsigned char *blk = (unsigned char *)s->start + off - off % s->block_size;
        size_t end = hak_class_size[cls] - HAK_INTEGRITY_TAIL;
        uint64_t meta, seal;
        memcpy(&meta, blk + end, 8);
        memcpy(&seal, blk + end + 8, 8);
        char owner[64] = "";
        if (seal == seal_of(blk, meta, SEAL_LIVE))
            hak_snprintf(owner, (int)sizeof owner, ", a live %u-byte block allocated by thread %u",
                         (unsigned)(uint32_t)meta, (unsigned)(meta >> 32));
        else if (seal == seal_of(blk, meta, SEAL_FREED))
            hak_snprintf(owner, (int)sizeof owner, ", a freed block");
        hak_fatal("%s: invalid pointer %p: %zu bytes into the block %p (%s size class %u, %u B%s), not its start",
                  what, p, (size_t)(off % s->block_size), (void *)blk, tier_name(cls), cls, hak_class_size[cls],
                  owner);
    }
    unsigned char *b = p;
    size_t size = hak_class_size[cls], end = size - HAK_INTEGRITY_TAIL;
    uint64_t meta, seal;
    memcpy(&meta, b + end, 8);
    memcpy(&seal, b + end + 8, 8);
    size_t n = (size_t)(uint32_t)meta;
    unsigned tid = (unsigned)(meta >> 32);
    if (seal == seal_of(p, meta, SEAL_FREED))
        hak_fatal("%s: %s %p (%zu-byte block, %s size class %u, %zu B, allocated by thread %u)",
                  what, release ? "double free of" : "use of an already freed block", p, n, tier_name(cls), cls,
                  size, tid);
    if (seal != seal_of(p, meta, SEAL_LIVE) || n + HAK_CANARY_MIN > end)
        hak_fatal("%s: heap corruption at %p (%s size class %u, %zu B): the block's trailer is overwritten "
                  "(a write far past the end of a block), or hakmem never handed this block out",
                  what, p, tier_name(cls), cls, size);
    uint64_t pat = mix((uint64_t)(uintptr_t)p);
    for (size_t k = n; k < end; k++)
        if (b[k] != canary_byte(pat, k))
            hak_fatal("%s: write past the end of the %zu-byte block %p (%s size class %u, %zu B, allocated by "
                      "thread %u): canary overwritten at offset %zu (%zu byte%s past the end)",
                      what, n, p, tier_name(cls), cls, size, tid, k, k - n + 1, k - n ? "s" : "");
    if (release) {
        seal = seal_of(p, meta, SEAL_FREED);
        memcpy(b + end + 8, &seal, 8);
    }
    return n;
}

/* The size asked for of the checked block p of class cls, when its seal says it is live. */
static HAK_NO_SANITIZE int live_request(const void *p, unsigned cls, size_t *asked)
{
    const unsigned char *b = p;
    size_t end = hak_class_size[cls] - HAK_INTEGRITY_TAIL;
    uint64_t meta, seal;
    memcpy(&meta, b + end, 8);
    memcpy(&seal, b + end + 8, 8);
    if (seal != seal_of(p, meta, SEAL_LIVE))
        return 0;
    *asked = (size_t)(uint32_t)meta;
    return 1;
}

size_t hak_integrity_usable(const void *p, unsigned cls)
{
    size_t asked;
    return live_request(p, cls, &asked) ? asked : 0;
}

HAK_NO_SANITIZE void hak_integrity_check_size(const char *what, void *p, size_t n)
{
    hak_superslab_t *ss = hak_ss_lookup(p);
    if (ss) {
        unsigned cls = ss->unit_class[hak_ss_unit(p)];
        size_t asked;
        if (cls == HAK_NO_CLASS || !block_start(ss, p) || !live_request(p, cls, &asked) || asked == n)
            return;
        hak_fatal("%s: size mismatch for %p: %zu bytes given, the block is %zu bytes (%s size class %u, %u B)",
                  what, p, n, asked, tier_name(cls), cls, hak_class_size[cls]);
    }
    /* A large block may be a reused mapping bigger than its request: only a size beyond it is wrong. */
    size_t mapped = hak_large_usable(p);
    if (mapped && n > mapped)
        hak_fatal("%s: size mismatch for %p: %zu bytes given, the block is at most %zu bytes (large block)",
                  what, p, n, mapped);
}

void hak_report_invalid(const char *what, const void *p)
{
#if HAK_HARDENED
    hak_hard_invalid(what, p);
#else
    if (hak_tune.integrity)
        hak_fatal("%s: invalid pointer %p: not a live block (never allocated by hakmem or the system "
                  "allocator it delegates to, or a large block already freed)", what, p);
    static _Atomic int said;
    if (!atomic_exchange(&said, 1))
        hak_msg("%s: ignoring %p, which was not allocated by hakmem (invalid pointer; further reports suppressed)",
                what, p);
#endif
}

/* ---- ASan quarantine -------------------------------------------------------------------------- */

#if HAK_SANITIZER_ADDRESS
/* Freed blocks wait here, fully poisoned, until QUARANTINE_BLOCKS newer frees or QUARANTINE_BYTES
 * push them out; only then do they go back to their slab (unpoisoned, as slab free lists are). */
#define QUARANTINE_BLOCKS 4096
#define QUARANTINE_BYTES  ((size_t)8 << 20)

static pthread_mutex_t q_lock = PTHREAD_MUTEX_INITIALIZER;
static struct qent { void *p; size_t size; } q_ring[QUARANTINE_BLOCKS];
static unsigned q_head, q_count;
static size_t q_bytes;

void *hak_quarantine_push(void *p, size_t size)
{
    /* With integrity checks the seal already told a double free apart (and a malloc(0) block is all
     * canary, so poisoned from its first byte while live). */
    if (!hak_tune.integrity && __asan_address_is_poisoned(p)) {
        hak_superslab_t *ss = hak_ss_of(p);
        unsigned cls = ss->unit_class[hak_ss_unit(p)];
        hak_fatal("free(): double free of %p (size class %u, %u B; the block is still in the ASan quarantine)",
                  p, cls, cls < HAK_NCLASS ? hak_class_size[cls] : 0);
    }
    HAK_ASAN_POISON(p, size);
    void *out = NULL;
    pthread_mutex_lock(&q_lock);
    if (q_count == QUARANTINE_BLOCKS || q_bytes + size > QUARANTINE_BYTES) {
        struct qent *e = &q_ring[q_head];
        out = e->p;
        q_bytes -= e->size;
        HAK_ASAN_UNPOISON(e->p, e->size);
        q_head = (q_head + 1) % QUARANTINE_BLOCKS;
        q_count--;
    }
    struct qent *e = &q_ring[(q_head + q_count) % QUARANTINE_BLOCKS];
    e->p = p;
    e->size = size;
    q_count++;
    q_bytes += size;
    pthread_mutex_unlock(&q_lock);
    return out;
}

static void q_prepare(void) { pthread_mutex_lock(&q_lock); }
static void q_parent(void) { pthread_mutex_unlock(&q_lock); }
static void q_child(void) { pthread_mutex_init(&q_lock, NULL); }
#else
void *hak_quarantine_push(void *p, size_t size)
{
    (void)size;
    return p;
}
#endif

void hak_integrity_init(void)
{
#if HAK_SANITIZER_ADDRESS
    pthread_atfork(q_prepare, q_parent, q_child);
#endif
}
