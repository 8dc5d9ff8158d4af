/* superslab.c — creating, carving and recycling SuperSlabs; the address map that proves ownership. */
#include "superslab.h"
#include "os.h"

#include <pthread.h>
#include <string.h>

_Atomic uint8_t hak_ssmap[HAK_SSMAP_SIZE];

unsigned hak_ss_cache_cap = 4;
static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static hak_superslab_t *cache_head;
static size_t cache_count;

static void map_set(hak_superslab_t *ss, int on)
{
    atomic_store_explicit(&hak_ssmap[(uintptr_t)ss >> HAK_SS_SHIFT], (uint8_t)on, memory_order_release);
}

static void ss_init(hak_superslab_t *ss, struct hak_heap *owner)
{
    memset(ss, 0, sizeof *ss);
    memset(ss->unit_class, HAK_NO_CLASS, sizeof ss->unit_class);
    ss->magic = HAK_SS_MAGIC;
    ss->units_used = 0;
    atomic_store_explicit(&ss->owner, owner, memory_order_relaxed);
}

hak_superslab_t *hak_ss_create(struct hak_heap *owner)
{
    hak_superslab_t *ss = NULL;
    pthread_mutex_lock(&cache_lock);
    if (cache_head) {
        ss = cache_head;
        cache_head = ss->next;
        cache_count--;
    }
    pthread_mutex_unlock(&cache_lock);
    if (!ss) {
        ss = hak_os_map_aligned(HAK_SS_SIZE, HAK_SS_SIZE);
        if (!ss)
            return NULL;
        ss_init(ss, owner);
        map_set(ss, 1);
        return ss;
    }
    ss_init(ss, owner);
    return ss;
}

void hak_ss_destroy(hak_superslab_t *ss)
{
    atomic_store_explicit(&ss->owner, NULL, memory_order_relaxed);
    pthread_mutex_lock(&cache_lock);
    if (cache_count < hak_ss_cache_cap) {
        memset(ss->unit_class, HAK_NO_CLASS, sizeof ss->unit_class);
        ss->next = cache_head;
        cache_head = ss;
        cache_count++;
        pthread_mutex_unlock(&cache_lock);
        return;
    }
    pthread_mutex_unlock(&cache_lock);
    map_set(ss, 0);
    hak_os_unmap(ss, HAK_SS_SIZE);
}

size_t hak_ss_cache_trim(size_t keep)
{
    size_t released = 0;
    for (;;) {
        pthread_mutex_lock(&cache_lock);
        hak_superslab_t *ss = NULL;
        if (cache_count > keep) {
            ss = cache_head;
            cache_head = ss->next;
            cache_count--;
        }
        pthread_mutex_unlock(&cache_lock);
        if (!ss)
            return released;
        map_set(ss, 0);
        hak_os_unmap(ss, HAK_SS_SIZE);
        released += HAK_SS_SIZE;
    }
}

size_t hak_ss_cached_count(void)
{
    pthread_mutex_lock(&cache_lock);
    size_t n = cache_count;
    pthread_mutex_unlock(&cache_lock);
    return n;
}

/* Lowest run of `n` free units; multi-unit slabs skip unit 0 so their blocks stay aligned. */
static int find_run(uint32_t used, unsigned n)
{
    uint32_t mask = (n >= 32) ? 0xffffffffu : ((1u << n) - 1);
    for (unsigned u = (n > 1 ? n : 0); u + n <= HAK_UNITS; u += n) {
        if (!(used & (mask << u)))
            return (int)u;
    }
    return -1;
}

hak_slab_t *hak_ss_slab_create(hak_superslab_t *ss, unsigned cls)
{
    unsigned n = hak_class_units(cls);
    int u = find_run(ss->units_used, n);
    if (u < 0)
        return NULL;
    hak_slab_t *s = &ss->slabs[u];
    char *base = (char *)ss + ((uintptr_t)u << HAK_UNIT_SHIFT);
    size_t off = (u == 0) ? HAK_SS_HEADER : 0;
    memset(s, 0, sizeof *s);
    s->start = base + off;
    s->block_size = hak_class_size[cls];
    s->capacity = (uint32_t)(((size_t)n * HAK_UNIT_SIZE - off) / s->block_size);
    s->cls = (uint16_t)cls;
    s->units = (uint8_t)n;
    for (unsigned i = 0; i < n; i++) {
        ss->unit_head[u + i] = (uint8_t)u;
        ss->unit_class[u + i] = (uint8_t)cls;
    }
    ss->units_used |= ((n >= 32) ? 0xffffffffu : ((1u << n) - 1)) << u;
    ss->slabs_live++;
    return s;
}

void hak_ss_slab_destroy(hak_superslab_t *ss, hak_slab_t *s)
{
    unsigned u = (unsigned)(s - ss->slabs), n = s->units;
    for (unsigned i = 0; i < n; i++)
        ss->unit_class[u + i] = HAK_NO_CLASS;
    ss->units_used &= ~(((n >= 32) ? 0xffffffffu : ((1u << n) - 1)) << u);
    ss->slabs_live--;
    s->capacity = 0;
}

int hak_ss_is_block_start(hak_superslab_t *ss, const void *p)
{
    unsigned u = hak_ss_unit(p);
    if (ss->unit_class[u] == HAK_NO_CLASS)
        return 0;
    hak_slab_t *s = &ss->slabs[ss->unit_head[u]];
    uintptr_t off = (uintptr_t)p - (uintptr_t)s->start;
    if ((uintptr_t)p < (uintptr_t)s->start || off % s->block_size)
        return 0;
    return off / s->block_size < s->carved;
}

void hak_ss_fork_lock(void) { pthread_mutex_lock(&cache_lock); }
void hak_ss_fork_unlock(void) { pthread_mutex_unlock(&cache_lock); }
