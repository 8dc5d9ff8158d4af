/* bigcache.c — the cache of freed large blocks: a dynamic FNV-1a hash table of size keys, each key
 * holding its blocks warm-first; a warm LRU for decay and a cold list (already released) evicted first. */
#define _GNU_SOURCE
#include "bigcache.h"
#include "common.h"
#include "decay.h"
#include "os.h"
#include "stash.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

hak_bigcache_policy_t hak_bigcache_policy = { (uint32_t)(HAK_BC_WMAX_DEFAULT * 1000), HAK_BC_BEST_FIT };

enum { WARM, RELEASED_ZERO, RELEASED_LAZY };

typedef struct bc_class bc_class_t;

typedef struct bc_block {
    uintptr_t base;
    size_t size;
    uint64_t t;                       /* when it was cached */
    int state;
    bc_class_t *cls;
    struct bc_block *cprev, *cnext;   /* the key's blocks: warm at the head, released at the tail */
    struct bc_block *lprev, *lnext;   /* warm LRU or cold list; head = newest */
} bc_block_t;

struct bc_class {
    uint64_t key;
    bc_block_t *head, *tail;
    uint32_t count;
    bc_class_t *chain;                /* next key in the same bucket */
};

typedef struct bc_list {
    bc_block_t *head, *tail;
} bc_list_t;

#define BC_INITIAL_BUCKETS 256u
#define BC_MAX_PROBES 512

/* The state every get/put touches, packed into a few adjacent cache lines: a large block's free
 * follows the program writing it, which has pushed all of this out of the near caches. */
static struct {
    pthread_mutex_t lock;
    bc_list_t warm, cold;
    bc_block_t *free_nodes;
    _Atomic size_t cached_bytes;      /* atomic: the stashes read it without the lock */
    size_t warm_bytes, max_bytes, max_block;
    bc_class_t **buckets;
    size_t nbuckets, nkeys;
    _Atomic size_t cached_blocks;
    _Atomic uint64_t empty_misses;
} G __attribute__((aligned(64))) = { .lock = PTHREAD_MUTEX_INITIALIZER, .max_bytes = 64u << 20,
                                     .max_block = 32u << 20 };
#define lock G.lock
#define warm G.warm
#define cold G.cold
#define free_nodes G.free_nodes
#define cached_bytes G.cached_bytes
#define warm_bytes G.warm_bytes
#define max_bytes G.max_bytes
#define max_block G.max_block
#define buckets G.buckets
#define nbuckets G.nbuckets
#define nkeys G.nkeys
#define cached_blocks G.cached_blocks
#define empty_misses G.empty_misses

static struct {
    uint64_t hits, hits_warm, hits_zeroed, misses, puts, rejects, evictions, evicted_bytes;
    uint64_t released, released_bytes, flushed, grows, probes;
} st;

/* ---- keys ------------------------------------------------------------------------ */

static size_t step_of(size_t n)
{
    if (n <= ((size_t)128 << 10))
        return HAK_PAGE;
    unsigned k = 63u - (unsigned)__builtin_clzl(n - 1);   /* n in (2^k, 2^(k+1)] */
    return (size_t)1 << (k - 5);
}

size_t hak_bigcache_round(size_t n)
{
    if (n > ((size_t)1 << 62))
        return n;
    n = (n + HAK_PAGE - 1) & ~(size_t)(HAK_PAGE - 1);
    if (!n)
        n = HAK_PAGE;
    size_t s = step_of(n);
    return (n + s - 1) & ~(s - 1);
}

/* Largest key <= size (blocks resized by realloc have sizes between keys). */
static size_t floor_key(size_t size)
{
    size_t s = step_of(size);
    return size & ~(s - 1);
}

static size_t next_key(size_t key)
{
    return key + step_of(key + 1);
}

static uint64_t fnv1a(uint64_t key)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (int i = 0; i < 8; i++) {
        h ^= (key >> (i * 8)) & 0xff;
        h *= 0x100000001b3ull;
    }
    return h;
}

/* A small direct-mapped memo of recently used keys in front of the hash table: a program reusing a
 * few sizes (the VM loop) finds its key without hashing. Key nodes never move or die, so a memo
 * entry stays valid across table growth. */
#define BC_MEMO 64
static bc_class_t *memo[BC_MEMO];

static bc_class_t *find_key(uint64_t key)
{
    bc_class_t **m = &memo[(key >> 12) & (BC_MEMO - 1)];
    if (*m && (*m)->key == key)
        return *m;
    if (!buckets)
        return NULL;
    for (bc_class_t *c = buckets[fnv1a(key) & (nbuckets - 1)]; c; c = c->chain)
        if (c->key == key)
            return *m = c;
    return NULL;
}

static int grow_table(void)
{
    size_t nb = nbuckets ? nbuckets * 2 : BC_INITIAL_BUCKETS;
    bc_class_t **t = hak_meta_alloc(nb * sizeof *t);   /* the old array stays as metadata: growth is rare */
    if (!t)
        return -1;
    for (size_t i = 0; i < nbuckets; i++) {
        for (bc_class_t *c = buckets[i], *next; c; c = next) {
            next = c->chain;
            size_t b = fnv1a(c->key) & (nb - 1);
            c->chain = t[b];
            t[b] = c;
        }
    }
    buckets = t;
    if (nbuckets)
        st.grows++;
    nbuckets = nb;
    return 0;
}

static bc_class_t *get_key(uint64_t key)
{
    bc_class_t *c = find_key(key);
    if (c)
        return c;
    if ((!buckets || (nkeys + 1) * 4 > nbuckets * 3) && grow_table() < 0 && !buckets)
        return NULL;
    c = hak_meta_alloc(sizeof *c);
    if (!c)
        return NULL;
    c->key = key;
    size_t b = fnv1a(key) & (nbuckets - 1);
    c->chain = buckets[b];
    buckets[b] = c;
    nkeys++;
    return c;
}

/* ---- lists ------------------------------------------------------------------------ */

static void l_push(bc_list_t *l, bc_block_t *b)
{
    b->lprev = NULL;
    b->lnext = l->head;
    if (l->head)
        l->head->lprev = b;
    else
        l->tail = b;
    l->head = b;
}

static void l_remove(bc_list_t *l, bc_block_t *b)
{
    if (b->lprev)
        b->lprev->lnext = b->lnext;
    else
        l->head = b->lnext;
    if (b->lnext)
        b->lnext->lprev = b->lprev;
    else
        l->tail = b->lprev;
    b->lprev = b->lnext = NULL;
}

static void c_insert(bc_class_t *c, bc_block_t *b, int at_head)
{
    b->cls = c;
    if (at_head) {
        b->cprev = NULL;
        b->cnext = c->head;
        if (c->head)
            c->head->cprev = b;
        else
            c->tail = b;
        c->head = b;
    } else {
        b->cnext = NULL;
        b->cprev = c->tail;
        if (c->tail)
            c->tail->cnext = b;
        else
            c->head = b;
        c->tail = b;
    }
    c->count++;
}

static void c_remove(bc_block_t *b)
{
    bc_class_t *c = b->cls;
    if (b->cprev)
        b->cprev->cnext = b->cnext;
    else
        c->head = b->cnext;
    if (b->cnext)
        b->cnext->cprev = b->cprev;
    else
        c->tail = b->cprev;
    b->cprev = b->cnext = NULL;
    c->count--;
}

static bc_block_t *node_alloc(void)
{
    if (!free_nodes) {
        enum { BATCH = 64 };
        bc_block_t *a = hak_meta_alloc(BATCH * sizeof *a);
        if (!a)
            return NULL;
        for (int i = 0; i < BATCH; i++) {
            a[i].cnext = free_nodes;
            free_nodes = &a[i];
        }
    }
    bc_block_t *b = free_nodes;
    free_nodes = b->cnext;
    memset(b, 0, sizeof *b);
    return b;
}

static void node_free(bc_block_t *b)
{
    b->cnext = free_nodes;
    free_nodes = b;
}

/* The counters the stashes read without the lock are written only under it: a plain add, no locked
 * instruction. */
static void locked_add(_Atomic size_t *v, size_t d)
{
    atomic_store_explicit(v, atomic_load_explicit(v, memory_order_relaxed) + d, memory_order_relaxed);
}

/* Take b out of the cache entirely (caller holds the lock). */
static void detach(bc_block_t *b)
{
    c_remove(b);
    l_remove(b->state == WARM ? &warm : &cold, b);
    if (b->state == WARM)
        warm_bytes -= b->size;
    locked_add(&cached_bytes, -b->size);
    locked_add(&cached_blocks, -(size_t)1);
}

static void attach(bc_block_t *b, bc_class_t *c)
{
    if (b->state == WARM) {
        c_insert(c, b, 1);
        l_push(&warm, b);
        warm_bytes += b->size;
    } else {
        c_insert(c, b, 0);
        l_push(&cold, b);
    }
    locked_add(&cached_bytes, b->size);
    locked_add(&cached_blocks, 1);
}

/* ---- the API ---------------------------------------------------------------------- */

void hak_bigcache_configure(size_t bytes, size_t block)
{
    pthread_mutex_lock(&lock);
    max_bytes = bytes;
    max_block = block;
    pthread_mutex_unlock(&lock);
}

const char *hak_bigcache_strategy_name(int s)
{
    static const char *names[] = { "best_fit", "exact", "largest_fit" };
    return s >= 0 && s < HAK_BC_STRATEGY_COUNT ? names[s] : "?";
}

void hak_bigcache_caps(size_t *bytes, size_t *block)
{
    pthread_mutex_lock(&lock);
    *bytes = max_bytes;
    *block = max_block;
    pthread_mutex_unlock(&lock);
}

/* The largest size a request of n bytes may be served with (at least its own key). */
static size_t serve_limit(size_t n, size_t key, int strategy)
{
    uint64_t wm = atomic_load_explicit(&hak_bigcache_policy.wmax_milli, memory_order_relaxed);
    size_t limit = n < ((size_t)1 << 40) ? n * wm / 1000 : (size_t)(((unsigned __int128)n * wm) / 1000);
    return strategy == HAK_BC_EXACT || limit < key ? key : limit;
}

void hak_bigcache_serve_range(size_t size, size_t *lo, size_t *hi)
{
    size_t have = floor_key(size);
    size_t below = have - step_of(have);     /* the key under `have`: requests above it round to have */
    *hi = have;
    *lo = below + 1;
    if (hak_bigcache_strategy() == HAK_BC_EXACT)
        return;
    /* and smaller requests whose W_MAX window still reaches `have`: n * wmax / 1000 >= have */
    uint64_t wm = atomic_load_explicit(&hak_bigcache_policy.wmax_milli, memory_order_relaxed);
    size_t n = have < ((size_t)1 << 50) ? (have * 1000 + wm - 1) / wm
                                         : (size_t)(((unsigned __int128)have * 1000 + wm - 1) / wm);
    if (n < *lo)
        *lo = n;
}

void *hak_bigcache_get(size_t n, size_t *size, int *zeroed)
{
    if (atomic_load_explicit(&cached_blocks, memory_order_relaxed) == 0) {
        atomic_fetch_add_explicit(&empty_misses, 1, memory_order_relaxed);   /* nothing cached: no lock */
        return NULL;
    }
    hak_decay_touch();
    size_t key = hak_bigcache_round(n);
    int strategy = hak_bigcache_strategy();
    size_t limit = serve_limit(n, key, strategy);
    pthread_mutex_lock(&lock);
    bc_class_t *pick = NULL;
    int probes = 0;
    for (size_t k = key; k <= limit && probes < BC_MAX_PROBES; k = next_key(k), probes++) {
        bc_class_t *c = find_key(k);
        if (c && c->head) {
            pick = c;
            if (strategy != HAK_BC_LARGEST_FIT)
                break;
        }
    }
    st.probes += (uint64_t)probes + (pick != NULL);
    if (!pick) {
        st.misses++;
        pthread_mutex_unlock(&lock);
        return NULL;
    }
    bc_block_t *b = pick->head;
    detach(b);
    st.hits++;
    if (b->state == WARM)
        st.hits_warm++;
    *zeroed = b->state == RELEASED_ZERO;
    if (*zeroed)
        st.hits_zeroed++;
    void *p = (void *)b->base;
    *size = b->size;
    node_free(b);
    pthread_mutex_unlock(&lock);
    return p;
}

static void preview_one(const bc_class_t *c, size_t *size, int *released)
{
    *size = c ? c->head->size : 0;
    *released = c && c->head->state == RELEASED_ZERO;
}

void hak_bigcache_preview(size_t n, size_t size[HAK_BC_STRATEGY_COUNT], int released[HAK_BC_STRATEGY_COUNT])
{
    const bc_class_t *first = NULL, *own = NULL, *last = NULL;
    int any = atomic_load_explicit(&cached_blocks, memory_order_relaxed) != 0;   /* else: all miss, no lock */
    if (any) {
        size_t key = hak_bigcache_round(n);
        size_t limit = serve_limit(n, key, HAK_BC_BEST_FIT);
        pthread_mutex_lock(&lock);
        int probes = 0;
        for (size_t k = key; k <= limit && probes < BC_MAX_PROBES; k = next_key(k), probes++) {
            const bc_class_t *c = find_key(k);
            if (!c || !c->head)
                continue;
            if (!first)
                first = c;
            if (k == key)
                own = c;
            last = c;
        }
    }
    preview_one(first, &size[HAK_BC_BEST_FIT], &released[HAK_BC_BEST_FIT]);
    preview_one(own, &size[HAK_BC_EXACT], &released[HAK_BC_EXACT]);
    preview_one(last, &size[HAK_BC_LARGEST_FIT], &released[HAK_BC_LARGEST_FIT]);
    if (any)
        pthread_mutex_unlock(&lock);
}

enum { MAX_VICTIMS = 32 };

/* The block to give up first: the oldest released one, else the oldest warm one. */
static bc_block_t *oldest(void)
{
    return cold.tail ? cold.tail : warm.tail;
}

static void unmap_all(const hak_decay_range_t *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        hak_os_unmap((void *)v[i].addr, v[i].len);
}

/* With the lock held: take the oldest blocks (released ones first) out until the table holds at most
 * `room` bytes (or MAX_VICTIMS are out); the caller unmaps them once the lock is dropped. */
static size_t evict(size_t room, hak_decay_range_t *victims)
{
    size_t nv = 0;
    while (atomic_load_explicit(&cached_bytes, memory_order_relaxed) > room && nv < MAX_VICTIMS) {
        bc_block_t *v = oldest();
        if (!v)
            break;
        detach(v);
        victims[nv++] = (hak_decay_range_t){ v->base, v->size };
        st.evictions++;
        st.evicted_bytes += v->size;
        node_free(v);
    }
    return nv;
}

size_t hak_bigcache_cached_bytes(void)
{
    return atomic_load_explicit(&cached_bytes, memory_order_relaxed);
}

size_t hak_bigcache_cached_blocks(void)
{
    return atomic_load_explicit(&cached_blocks, memory_order_relaxed);
}

void hak_bigcache_make_room(void)
{
    hak_decay_range_t victims[MAX_VICTIMS];
    size_t stashed = hak_stash_bytes();
    pthread_mutex_lock(&lock);
    size_t nv = evict(stashed < max_bytes ? max_bytes - stashed : 0, victims);
    pthread_mutex_unlock(&lock);
    unmap_all(victims, nv);
}

int hak_bigcache_put(void *p, size_t size)
{
    hak_decay_range_t victims[MAX_VICTIMS];
    size_t nv = 0;
    int state = WARM;
    hak_decay_touch();
    if (!hak_decay_deferred() && hak_decay_enabled()) {
        /* immediate policy: keep the mapping (no mmap on reuse) but give the pages back now */
        hak_decay_release(p, size);
        state = hak_decay_zeroes() ? RELEASED_ZERO : RELEASED_LAZY;
    }
    size_t stashed = hak_stash_bytes();     /* the threads' stashes share the byte cap */
    pthread_mutex_lock(&lock);
    if (size > max_block || stashed > max_bytes || size > max_bytes - stashed) {
        st.rejects++;
        pthread_mutex_unlock(&lock);
        return 0;
    }
    size_t room = max_bytes - stashed - size;   /* what the table may hold besides this block */
    nv = evict(room, victims);
    bc_block_t *b = atomic_load_explicit(&cached_bytes, memory_order_relaxed) > room ? NULL : node_alloc();
    bc_class_t *c = b ? get_key(floor_key(size)) : NULL;
    if (!c) {
        if (b)
            node_free(b);
        st.rejects++;
        pthread_mutex_unlock(&lock);
        unmap_all(victims, nv);
        return 0;
    }
    b->base = (uintptr_t)p;
    b->size = size;
    b->t = hak_now_ns();
    b->state = state;
    attach(b, c);
    st.puts++;
    pthread_mutex_unlock(&lock);
    unmap_all(victims, nv);
    if (state == WARM)
        hak_decay_kick();
    return 1;
}

size_t hak_bigcache_decay(uint64_t now, uint64_t decay_ns)
{
    enum { BATCH = 64 };
    bc_block_t *taken[BATCH];
    hak_decay_range_t r[BATCH];
    for (;;) {
        size_t n = 0;
        pthread_mutex_lock(&lock);
        while (n < BATCH && warm.tail) {
            bc_block_t *b = warm.tail;
            int expired = now - b->t >= decay_ns || b->t > now + 1000000000ull;
            if (!expired)
                break;
            detach(b);
            locked_add(&cached_bytes, b->size);   /* still ours: keep the cap honest while it is out */
            taken[n] = b;
            r[n] = (hak_decay_range_t){ b->base, b->size };
            n++;
        }
        pthread_mutex_unlock(&lock);
        if (!n)
            break;
        hak_decay_release_batch(r, n);
        int st_new = hak_decay_zeroes() ? RELEASED_ZERO : RELEASED_LAZY;
        pthread_mutex_lock(&lock);
        for (size_t i = 0; i < n; i++) {
            bc_block_t *b = taken[i];
            locked_add(&cached_bytes, -b->size);
            b->state = st_new;
            st.released++;
            st.released_bytes += b->size;
            attach(b, b->cls);
        }
        pthread_mutex_unlock(&lock);
        if (n < BATCH)
            break;
    }
    pthread_mutex_lock(&lock);
    size_t w = warm_bytes;
    pthread_mutex_unlock(&lock);
    return w;
}

size_t hak_bigcache_flush(void)
{
    size_t total = 0;
    for (;;) {
        pthread_mutex_lock(&lock);
        bc_block_t *b = oldest();
        if (!b) {
            pthread_mutex_unlock(&lock);
            return total;
        }
        detach(b);
        uintptr_t base = b->base;
        size_t size = b->size;
        st.flushed++;
        node_free(b);
        pthread_mutex_unlock(&lock);
        hak_os_unmap((void *)base, size);
        total += size;
    }
}

size_t hak_bigcache_stats_json(char *buf, size_t len)
{
    uint64_t stash_hits, stash_puts, handbacks;
    hak_stash_counts(&stash_hits, &stash_puts, &handbacks);   /* takes the heap registry lock: before ours */
    pthread_mutex_lock(&lock);
    int n = snprintf(buf, len,
                     "\"bigcache\":{\"max_bytes\":%zu,\"max_block\":%zu,\"wmax\":%.3f,\"strategy\":\"%s\","
                     "\"buckets\":%zu,\"keys\":%zu,\"grows\":%llu,\"cached_blocks\":%zu,\"cached_bytes\":%zu,"
                     "\"warm_bytes\":%zu,\"hits\":%llu,\"hits_warm\":%llu,\"hits_zeroed\":%llu,\"misses\":%llu,"
                     "\"puts\":%llu,\"rejects\":%llu,\"evictions\":%llu,\"evicted_bytes\":%llu,"
                     "\"released\":%llu,\"released_bytes\":%llu,\"flushed\":%llu,\"probes\":%llu,"
                     "\"stash_hits\":%llu,\"stash_puts\":%llu,\"stash_handbacks\":%llu,\"stash_bytes\":%zu}",
                     max_bytes, max_block, hak_bigcache_wmax(), hak_bigcache_strategy_name(hak_bigcache_strategy()),
                     nbuckets, nkeys, (unsigned long long)st.grows,
                     atomic_load_explicit(&cached_blocks, memory_order_relaxed),
                     atomic_load_explicit(&cached_bytes, memory_order_relaxed), warm_bytes,
                     (unsigned long long)(st.hits + stash_hits), (unsigned long long)(st.hits_warm + stash_hits),
                     (unsigned long long)st.hits_zeroed,
                     (unsigned long long)(st.misses + atomic_load_explicit(&empty_misses, memory_order_relaxed)),
                     (unsigned long long)st.puts, (unsigned long long)st.rejects,
                     (unsigned long long)st.evictions, (unsigned long long)st.evicted_bytes,
                     (unsigned long long)st.released, (unsigned long long)st.released_bytes,
                     (unsigned long long)st.flushed, (unsigned long long)st.probes,
                     (unsigned long long)stash_hits, (unsigned long long)stash_puts, (unsigned long long)handbacks,
                     hak_stash_bytes());
    pthread_mutex_unlock(&lock);
    return n < 0 ? 0 : (size_t)n < len ? (size_t)n : len - 1;
}

void hak_bigcache_fork_lock(void) { pthread_mutex_lock(&lock); }
void hak_bigcache_fork_unlock(void) { pthread_mutex_unlock(&lock); }
void hak_bigcache_fork_child(void) { pthread_mutex_unlock(&lock); }
