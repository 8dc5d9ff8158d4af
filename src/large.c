/* large.c — mmap-backed large blocks. The table, not the block, holds the metadata, so a stray pointer
 * is recognised as not ours without ever being dereferenced. Freed blocks go to the BigCache (when the
 * mode has it) and new ones come from it first; fresh mappings follow the THP policy. */
#define _GNU_SOURCE
#include "large.h"
#include "bigcache.h"
#include "common.h"
#include "decay.h"
#include "learn/learn.h"
#include "os.h"
#include "thp.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>

typedef struct large_entry {
    uintptr_t ptr;     /* user pointer; 0 = empty slot */
    uintptr_t base;    /* start of the mapping */
    size_t map_size;   /* whole mapping */
} large_entry_t;

/* One cache line or two for everything a large malloc/free touches besides its table slot. */
static struct {
    pthread_mutex_t lock;
    large_entry_t *table;
    size_t table_cap;         /* power of two */
    size_t table_len;
    size_t in_use;
    uint64_t n_allocs, n_frees;
} L __attribute__((aligned(64))) = { .lock = PTHREAD_MUTEX_INITIALIZER };
#define lock L.lock
#define table L.table
#define table_cap L.table_cap
#define table_len L.table_len
#define in_use L.in_use
#define n_allocs L.n_allocs
#define n_frees L.n_frees

static size_t slot_of(uintptr_t p, size_t cap)
{
    uint64_t h = (uint64_t)p >> 12;
    h *= 0x9e3779b97f4a7c15ull;
    return (size_t)(h >> 20) & (cap - 1);
}

static large_entry_t *find(uintptr_t p)
{
    if (!table)
        return NULL;
    for (size_t i = slot_of(p, table_cap);; i = (i + 1) & (table_cap - 1)) {
        if (table[i].ptr == p)
            return &table[i];
        if (table[i].ptr == 0)
            return NULL;
    }
}

static int grow(void)
{
    size_t cap = table_cap ? table_cap * 2 : 1024;
    large_entry_t *t = hak_os_map(cap * sizeof *t);
    if (!t)
        return -1;
    for (size_t i = 0; i < table_cap; i++) {
        if (!table[i].ptr)
            continue;
        size_t j = slot_of(table[i].ptr, cap);
        while (t[j].ptr)
            j = (j + 1) & (cap - 1);
        t[j] = table[i];
    }
    if (table)
        hak_os_unmap(table, table_cap * sizeof *table);
    table = t;
    table_cap = cap;
    return 0;
}

static int insert(uintptr_t p, uintptr_t base, size_t map_size)
{
    if ((table_len + 1) * 4 > table_cap * 3 && grow() < 0)
        return -1;
    size_t i = slot_of(p, table_cap);
    while (table[i].ptr)
        i = (i + 1) & (table_cap - 1);
    table[i] = (large_entry_t){ p, base, map_size };
    table_len++;
    return 0;
}

/* Linear-probing delete: shift later entries of the cluster back so lookups never stop early. */
static void erase(large_entry_t *e)
{
    size_t i = (size_t)(e - table);
    table[i].ptr = 0;
    table_len--;
    for (size_t j = (i + 1) & (table_cap - 1); table[j].ptr; j = (j + 1) & (table_cap - 1)) {
        size_t home = slot_of(table[j].ptr, table_cap);
        /* move j back to i when its home is not in the cyclic range (i, j] */
        if ((j > i && (home <= i || home > j)) || (j < i && (home <= i && home > j))) {
            table[i] = table[j];
            table[j].ptr = 0;
            i = j;
        }
    }
}

static size_t round_page(size_t n)
{
    return (n + HAK_PAGE - 1) & ~(size_t)(HAK_PAGE - 1);
}

/* A block for n bytes: from the BigCache when one fits, else a fresh mapping (*fresh = 1: reads as zero). */
static char *obtain(size_t n, size_t align, size_t *map_out, int *zeroed)
{
#if HAK_FEATURE_BIGCACHE
    if (align <= HAK_PAGE) {
        size_t got;
#if HAK_FEATURE_MEM_LEARN || HAK_FEATURE_ELO
        int strategy = hak_bigcache_strategy();
#endif
        void *p = hak_bigcache_get(n ? n : 1, &got, zeroed);
#if HAK_FEATURE_MEM_LEARN || HAK_FEATURE_ELO
        hak_learn_large_event(n, p ? got : 0, p != NULL, p && *zeroed, strategy);   /* W_MAX trials, ELO */
#endif
        if (p) {
            *map_out = got;
            return p;
        }
    }
    size_t map = hak_bigcache_round(n ? n : 1);
#else
    size_t map = round_page(n ? n : 1);
#endif
    size_t a = align < HAK_PAGE ? HAK_PAGE : align;
    size_t ta = hak_thp_large_align(map);
    if (ta > a)
        a = ta;
    char *base = hak_os_map_aligned(map, a);
    if (!base)
        return NULL;
    hak_thp_large(base, map);
    *map_out = map;
    *zeroed = 1;
    return base;
}

static void give_back(uintptr_t base, size_t map)
{
#if HAK_FEATURE_BIGCACHE
    hak_decay_safe_point = 1;     /* no lock held: the decay thread may be started from here */
    int kept = hak_bigcache_put((void *)base, map);
    hak_decay_safe_point = 0;
    if (kept)
        return;
#endif
    hak_os_unmap((void *)base, map);
}

static void *large_alloc(size_t n, size_t align, int zero)
{
    if (n > PTRDIFF_MAX - ((size_t)2 << 20) || align > ((size_t)1 << 40)) {
        errno = ENOMEM;
        return NULL;
    }
    size_t map;
    int zeroed = 0;
    char *base = obtain(n, align, &map, &zeroed);
    if (!base)
        return NULL;
    if (zero && !zeroed)
        memset(base, 0, n);       /* a reused block; fresh or DONTNEED-released pages are zero already */
    pthread_mutex_lock(&lock);
    int rc = insert((uintptr_t)base, (uintptr_t)base, map);
    if (rc == 0) {
        in_use += map;
        n_allocs++;
    }
    pthread_mutex_unlock(&lock);
    if (rc < 0) {
        hak_os_unmap(base, map);
        errno = ENOMEM;
        return NULL;
    }
    return base;
}

void *hak_large_alloc(size_t n, size_t align) { return large_alloc(n, align, 0); }

size_t hak_large_trim(void)
{
#if HAK_FEATURE_BIGCACHE
    return hak_bigcache_flush();
#else
    return 0;
#endif
}
void *hak_large_calloc(size_t n) { return large_alloc(n, 0, 1); }

int hak_large_free(void *p)
{
    pthread_mutex_lock(&lock);
    large_entry_t *e = find((uintptr_t)p);
    if (!e) {
        pthread_mutex_unlock(&lock);
        return 0;
    }
    uintptr_t base = e->base;
    size_t map = e->map_size;
    in_use -= map;
    n_frees++;
    erase(e);
    pthread_mutex_unlock(&lock);
    give_back(base, map);
    return 1;
}

size_t hak_large_usable(const void *p)
{
    pthread_mutex_lock(&lock);
    large_entry_t *e = find((uintptr_t)p);
    size_t n = e ? e->map_size - ((uintptr_t)p - e->base) : 0;
    pthread_mutex_unlock(&lock);
    return n;
}

void *hak_large_resize(void *p, size_t n)
{
    if (n > PTRDIFF_MAX - ((size_t)2 << 20)) {
        errno = ENOMEM;
        return NULL;
    }
    size_t want = round_page(n ? n : 1);
    pthread_mutex_lock(&lock);
    large_entry_t *e = find((uintptr_t)p);
    if (!e || e->base != (uintptr_t)p) {
        pthread_mutex_unlock(&lock);
        return NULL;
    }
    size_t old = e->map_size;
    void *q = p;
    if (want < old) {
        hak_os_unmap((char *)p + want, old - want);
    } else if (want > old) {
        /* Grows in place when the next pages are free, else the kernel moves the pages: no copy. */
        q = hak_os_remap(p, old, want, 1);
        if (!q) {
            pthread_mutex_unlock(&lock);
            return NULL;
        }
    }
    in_use += want - old;
    if (q != p) {
        erase(e);
        insert((uintptr_t)q, (uintptr_t)q, want);
    } else {
        e->map_size = want;
    }
    pthread_mutex_unlock(&lock);
    return q;
}

size_t hak_large_in_use(void)
{
    pthread_mutex_lock(&lock);
    size_t n = in_use;
    pthread_mutex_unlock(&lock);
    return n;
}

void hak_large_counts(uint64_t *allocs, uint64_t *frees)
{
    pthread_mutex_lock(&lock);
    *allocs = n_allocs;
    *frees = n_frees;
    pthread_mutex_unlock(&lock);
}

void hak_large_fork_lock(void) { pthread_mutex_lock(&lock); }
void hak_large_fork_unlock(void) { pthread_mutex_unlock(&lock); }
