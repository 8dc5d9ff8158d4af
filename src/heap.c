/* heap.c — per-thread heaps: refilling caches from slabs, returning blocks, recycling heaps of exited threads. */
#include "heap.h"
#include "decay.h"
#include "hardened/hardened.h"
#include "hardened/links.h"
#include "os.h"
#include "tuning.h"

#include <errno.h>
#include <string.h>

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static hak_heap_t *all_heaps, *idle_heaps;
static uint32_t heap_count;
hak_heap_t *_Atomic hak_heap_by_id[HAK_HEAP_IDS];
hak_heap_t *hak_shared_heap;
pthread_mutex_t hak_shared_lock = PTHREAD_MUTEX_INITIALIZER;

void hak_shared_enter(void)
{
    pthread_mutex_lock(&hak_shared_lock);
    hak_decay_lock_held = 1;    /* an emptied slab may kick the decay thread from under this lock */
}

void hak_shared_leave(void)
{
    hak_decay_lock_held = 0;
    pthread_mutex_unlock(&hak_shared_lock);
}

/* ---- slab lists -------------------------------------------------------- */

static hak_slab_list_t *list_of(hak_heap_t *h, hak_slab_t *s)
{
    return s->list == HAK_LIST_PARTIAL ? &h->partial[s->cls] : &h->full[s->cls];
}

static void list_push(hak_heap_t *h, hak_slab_t *s, int which, int at_tail)
{
    s->list = (uint8_t)which;
    hak_slab_list_t *l = list_of(h, s);
    if (at_tail) {
        s->next = NULL;
        s->prev = l->tail;
        if (l->tail)
            l->tail->next = s;
        else
            l->head = s;
        l->tail = s;
    } else {
        s->prev = NULL;
        s->next = l->head;
        if (l->head)
            l->head->prev = s;
        else
            l->tail = s;
        l->head = s;
    }
}

static void list_remove(hak_heap_t *h, hak_slab_t *s)
{
    if (s->list == HAK_LIST_NONE)
        return;
    hak_slab_list_t *l = list_of(h, s);
    if (s->prev)
        s->prev->next = s->next;
    else
        l->head = s->next;
    if (s->next)
        s->next->prev = s->prev;
    else
        l->tail = s->prev;
    s->next = s->prev = NULL;
    s->list = HAK_LIST_NONE;
}

static void list_move(hak_heap_t *h, hak_slab_t *s, int which)
{
    list_remove(h, s);
    list_push(h, s, which, 0);
}

/* ---- slabs and SuperSlabs ---------------------------------------------- */

/* New SuperSlabs go last (after `t`, the list's last one or NULL): the scans of slab_create meet the
 * units older ones freed most recently (still in the CPU's caches) before those of a SuperSlab that
 * sat in the cache. */
static void ss_append(hak_heap_t *h, hak_superslab_t *t, hak_superslab_t *ss)
{
    ss->next = NULL;
    ss->prev = t;
    if (t)
        t->next = ss;
    else
        h->ss_list = ss;
}

static void ss_unlink(hak_heap_t *h, hak_superslab_t *ss)
{
    if (ss->prev)
        ss->prev->next = ss->next;
    else
        h->ss_list = ss->next;
    if (ss->next)
        ss->next->prev = ss->prev;
    ss->next = ss->prev = NULL;
}

static void slab_destroy(hak_heap_t *h, hak_slab_t *s)
{
    hak_superslab_t *ss = hak_ss_of(s);
    list_remove(h, s);
    hak_ss_slab_destroy(ss, s);
    hak_counter_add(&h->st.slabs_destroyed, 1);
    /* Keep one SuperSlab per heap so a thread that allocates and frees one block does not map and unmap
     * (and, with superslab_reuse, a couple of spares for any class). */
    if (ss->slabs_live == 0 && (ss->next || ss->prev) && !hak_ss_keep_spare(h->ss_list, ss)) {
        ss_unlink(h, ss);
        hak_ss_destroy(ss);
    }
}

static hak_slab_t *slab_place(hak_heap_t *h, unsigned cls)
{
    /* Units a destroyed slab left resident first (or those of a still-resident SuperSlab taken back
     * from the cache), in any of the heap's SuperSlabs: a program whose size classes come and go (one
     * size at a time) then reuses the same pages for each class instead of touching fresh ones while
     * the old ones wait for the decay delay. */
    unsigned owned = 0;
    hak_superslab_t *cold = NULL, *last = NULL;
    for (hak_superslab_t *ss = h->ss_list; ss; last = ss, ss = ss->next, owned++) {
        if (ss->units_used == 0xffffffffu)
            continue;
        int fits = 0;
        hak_slab_t *s = hak_ss_slab_create(ss, cls, &fits);
        if (s)
            return s;
        if (fits && !cold)
            cold = ss;
    }
    hak_slab_t *s = cold ? hak_ss_slab_create(cold, cls, NULL) : NULL;
    if (s)
        return s;
    /* One SuperSlab, or for the POOL tier the heap's next arena reservation (several, one mmap). */
    hak_superslab_t *got[HAK_SS_BATCH_MAX];
    unsigned n = hak_ss_create_batch(h, cls, owned, got);
    if (!n)
        return NULL;
    for (unsigned i = 0; i < n; i++, last = got[i - 1])
        ss_append(h, last, got[i]);
    s = hak_ss_slab_create(got[0], cls, NULL);
    for (unsigned i = 0; i < n; i++)     /* only now: a pass could have taken got[0]'s units first */
        if (got[i]->units_dirty)
            hak_ss_queue_dirty(got[i]);
    return s;
}

static hak_slab_t *slab_create(hak_heap_t *h, unsigned cls)
{
    hak_slab_t *s = slab_place(h, cls);
    if (s)
        hak_counter_add(&h->st.slabs_created, 1);
    return s;
}

/* Take the blocks other threads freed back into a notified slab, without reading them: the remote word
 * gives the list and its length at once. When that brings every block home, the slab starts over from
 * its never-used state, so the next refill carves in address order instead of following a list that
 * hand-offs have shuffled (a walk with a cache miss per block). Otherwise the list becomes the local free
 * list; only a caller that still holds local free blocks (trim) pays for a walk to join the two. */
static uint32_t slab_drain(hak_heap_t *h, hak_slab_t *s)
{
    if (!s->notified)
        return 0;      /* a pusher may still be queuing it: hands off until it is on the ready stack */
    s->notified = 0;
    /* acq_rel: the blocks' links are read after it; and the next thread to queue the slab writes
     * ready_next, which collect_ready read before this, only once it has seen the zero stored here. */
    uintptr_t w = atomic_exchange_explicit(&s->remote, 0, memory_order_acq_rel);
    uint32_t n = hak_remote_count(w);
    void *l = hak_remote_head(w);
    s->used -= n;
    if (s->used == 0) {
        s->free = NULL;
        s->free_count = 0;
        s->carved = 0;
    } else {
        if (s->free) {
            void *t = l;
            for (void *n; (n = hak_link_get(t)) != NULL;)
                t = n;
            hak_link_set(t, s->free);
        }
        s->free = l;
        s->free_count += n;
    }
    hak_counter_add(&h->st.remote_drained, n);
    hak_counter_add(&h->st.remote_drains, 1);
    hak_counter_add(&h->st.used_bytes, -(uint64_t)n * s->block_size);
    return n;
}

static int slab_has_room(hak_slab_t *s)
{
    return s->free_count || s->carved < s->capacity || (!hak_tune.no_drain && s->notified);
}

/* Slabs other threads have freed blocks to, from the ready stack in one exchange: each may now be
 * drained, and a full one becomes a refill candidate again. No list of full slabs is ever scanned. */
static void collect_ready(hak_heap_t *h)
{
    hak_slab_t *s = atomic_exchange_explicit(&h->ready, NULL, memory_order_acquire);
    while (s) {
        hak_slab_t *next = s->ready_next;
        s->notified = 1;
        if (s->list == HAK_LIST_FULL)
            list_move(h, s, HAK_LIST_PARTIAL);
        s = next;
    }
}

/* ---- refill: slabs -> cache --------------------------------------------- */

typedef struct chain {
    void *head, *tail;   /* tail NULL while unknown */
    uint32_t n;
} chain_t;

static void chain_splice(chain_t *c, void *list, uint32_t n)
{
    if (c->head) {
        if (!c->tail)
            for (void *n = c->tail = c->head; (n = hak_link_get(c->tail)) != NULL;)
                c->tail = n;
        hak_link_set(c->tail, list);
    } else {
        c->head = list;
    }
    c->tail = NULL;
    c->n += n;
}

/* Move up to `want` blocks of the local free list into the chain. */
static uint32_t take_free(hak_heap_t *h, hak_slab_t *s, chain_t *c, uint32_t want)
{
    uint32_t got = 0;
    if (!s->free_count)
        return 0;
    if (hak_tune.splice && s->free_count <= want && s->free_count <= hak_tune.splice_max) {
        got = s->free_count;
        chain_splice(c, s->free, got);
        s->free = NULL;
        s->free_count = 0;
        hak_counter_add(&h->st.splices, 1);
        hak_counter_add(&h->st.splice_blocks, got);
        return got;
    }
    /* the first `got` blocks of the list, found in one walk and put in front of the chain at once */
    got = want < s->free_count ? want : s->free_count;
    if (!got)
        return 0;
    void *first = s->free, *last = first;
    for (uint32_t i = 1; i < got; i++)
        last = hak_link_get(last);
    s->free = hak_link_get(last);
    s->free_count -= got;
    hak_link_set(last, c->head);
    if (!c->head)
        c->tail = last;
    c->head = first;
    c->n += got;
    return got;
}

/* Take up to `want` blocks from slab s into the chain: local free blocks first, then (when it is time to)
 * the remote frees, which arrive once the local list is empty, then blocks carved from the fresh tail. */
static uint32_t slab_take(hak_heap_t *h, hak_slab_t *s, chain_t *c, uint32_t want)
{
    int drain = 0;
    if (!hak_tune.no_drain && s->free_count < want) {
        uint32_t pending = s->notified ? hak_remote_count(atomic_load_explicit(&s->remote, memory_order_relaxed)) : 0;
        if (s->free_count == 0 || s->carved == s->capacity || h->drain_eager || pending >= hak_tune.drain_thresh)
            drain = 1;
        else if (pending)
            hak_counter_add(&h->st.drains_deferred, 1);   /* below the threshold: carve instead */
    }
    uint32_t got = take_free(h, s, c, want);
    s->used += got;        /* before the drain: it restarts a slab whose blocks are all back */
    if (drain && got < want && slab_drain(h, s)) {
        uint32_t more = take_free(h, s, c, want - got);
        s->used += more;
        got += more;
    }
    uint32_t taken = got;
    if (got < want && s->carved < s->capacity) {
        uint32_t k = s->capacity - s->carved;
        if (k > want - got)
            k = want - got;
        char *first = s->start + (size_t)s->carved * s->block_size;
#if HAK_HARDENED || HAK_FEATURE_SHUFFLE
        if (k > HAK_CARVE_MAX)
            k = HAK_CARVE_MAX;     /* the refill loop comes back for more */
        hak_hard_carve(first, s->block_size, k, &c->head, &c->tail);
#else
        char *p = first;
        for (uint32_t i = 1; i < k; i++, p += s->block_size)
            hak_link_set(p, p + s->block_size);
        hak_link_set(p, c->head);
        if (!c->head)
            c->tail = p;
        c->head = first;
#endif
        c->n += k;
        s->carved += k;
        if (s->carved > s->carved_max)
            s->carved_max = s->carved;
        got += k;
    }
    s->used += got - taken;
    hak_counter_add(&h->st.used_bytes, (uint64_t)got * s->block_size);
    return got;
}

/* ---- free storms ------------------------------------------------------------------ *
 * A thread that only frees (a program tearing down its working set) ends with its cache bins full of
 * blocks scattered over many slabs, and every such block keeps a whole slab from being given back
 * while the thread sits idle — no other thread may touch its bins. So when a thread's bins overflow
 * into its own slabs STORM_FLUSHES times in a row without a single refill, its bins are emptied and
 * shrunk to one block each: from then on its frees reach the slabs, empty slabs are destroyed and
 * their memory decays back to the kernel. Its next refill (it allocates again) restores the bins. */
#define STORM_FLUSHES 64

_Atomic uint64_t hak_storm_count;  /* reported with the SuperSlab counters */

static void storm_restore(hak_heap_t *h)
{
    hak_tls_t *t = hak_thread;
    if (t->heap != h)
        return;
    hak_storm_t *storm = &t->storm;
    storm->flushes = 0;
    if (!storm->active)
        return;
    storm->active = 0;
    storm->pending[0] = storm->pending[1] = 0;
    for (unsigned c = 0; c < HAK_NBINS; c++) {
        hak_bin_t *b = &t->bins[c];
        if (b->cap != 1 || hak_tune.cap[c] <= 1)
            continue;               /* not shrunk by the storm (or a learner grew it since) */
        uint32_t held = hak_bin_count(b);
        b->cap = hak_tune.cap[c];   /* the configured size (a learner adapts it again from there) */
        b->room = b->cap > held ? b->cap - held : 0;
    }
}

#if HAK_FEATURE_BATCH_MADVISE
/* Shrink every pending bin but the one hak_heap_flush_bin is emptying: its head still covers the
 * blocks on their way home until they are all there (a learner's resize then sets cap and room). */
static void storm_shrink(hak_heap_t *h)
{
    hak_tls_t *t = hak_thread;
    hak_storm_t *storm = &t->storm;
    for (unsigned w = 0; w < 2; w++) {
        uint64_t m = storm->pending[w];
        while (m) {
            unsigned c = w * 64 + (unsigned)__builtin_ctzll(m);
            m &= m - 1;
            if (c + 1 == storm->flushing || c >= HAK_NBINS)
                continue;
            storm->pending[w] &= ~(1ull << (c & 63));
            hak_bin_t *b = &t->bins[c];
            if (b->cap <= 1)
                continue;
            uint32_t held = hak_bin_count(b);
            void *head = b->head;
            b->head = NULL;
            b->cap = 1;             /* not 0: a free may be about to push into this bin */
            b->room = 1;
            hak_bin_moved_out(b, held);
            if (held) {
                hak_counter_add(&h->st.flushes, 1);
                hak_counter_add(&h->st.flush_blocks, held);
                hak_heap_return_list(h, head, held);
            }
        }
    }
}
#endif

static void storm_note_flush(hak_heap_t *h)
{
#if HAK_FEATURE_BATCH_MADVISE
    hak_tls_t *t = hak_thread;
    if (t->state != HAK_TLS_ACTIVE || t->heap != h)
        return;
    hak_storm_t *storm = &t->storm;
    if (!storm->active) {
        if (++storm->flushes < STORM_FLUSHES)
            return;
        storm->active = 1;
        atomic_fetch_add_explicit(&hak_storm_count, 1, memory_order_relaxed);
        storm->pending[0] = ~0ull;
        storm->pending[1] = HAK_NBINS >= 128 ? ~0ull : (1ull << (HAK_NBINS - 64)) - 1;
    }
    if ((storm->pending[0] | storm->pending[1]) == 0)
        return;
    storm_shrink(h);
#else
    (void)h;
#endif
}

void hak_heap_flush_bin(hak_tls_t *t, hak_bin_t *b, unsigned cls, uint32_t k, int settle)
{
    hak_heap_t *h = t->heap;
    b->room += k;
    hak_bin_moved_out(b, k);
    hak_counter_add_owned(&h->st.flushes, 1);
    hak_counter_add_owned(&h->st.flush_blocks, k);
    t->storm.flushing = cls + 1;
    b->head = hak_heap_return_list(h, b->head, k);
    t->storm.flushing = 0;
#if HAK_FEATURE_BATCH_MADVISE
    if (settle && t->storm.active && (t->storm.pending[0] | t->storm.pending[1]))
        storm_shrink(h);
#else
    (void)settle;
#endif
}

/* Experimental adaptive drain: every 64 refills, drain eagerly for the next 64 when remote frees made up
 * more than half of the blocks refilled, so producer/consumer threads stop carving fresh slabs. */
static void adapt_drain(hak_heap_t *h)
{
    uint64_t refills = hak_counter_get(&h->st.refills);
    if (refills % 64)
        return;
    uint64_t blocks = hak_counter_get(&h->st.refill_blocks), drained = hak_counter_get(&h->st.remote_drained);
    h->drain_eager = (drained - h->adapt_drained) * 2 > blocks - h->adapt_blocks;
    h->adapt_blocks = blocks;
    h->adapt_drained = drained;
}

void *hak_heap_refill(hak_heap_t *h, hak_bin_t *bin, unsigned cls, unsigned want)
{
    chain_t c = { NULL, NULL, 0 };
    if (HAK_UNLIKELY(hak_thread->storm.flushes))
        storm_restore(h);
    if (atomic_load_explicit(&h->ready, memory_order_relaxed))
        collect_ready(h);
    uint32_t need = want + 1;
    while (c.n < need) {
        hak_slab_t *s = h->partial[cls].head;
        if (!s) {
            s = slab_create(h, cls);
            if (!s)
                break;
            list_push(h, s, HAK_LIST_PARTIAL, 0);
        }
        slab_take(h, s, &c, need - c.n);
        if (!slab_has_room(s))
            list_move(h, s, HAK_LIST_FULL);
    }
    if (!c.n) {
        errno = ENOMEM;
        return NULL;
    }
    /* Called with an empty bin: the chain minus the block returned becomes the bin. */
    void *p = c.head;
    bin->head = hak_link_get(p);
    bin->room = bin->cap - (c.n - 1);
    hak_counter_add(&h->st.refills, 1);
    hak_counter_add(&h->st.refill_blocks, c.n);
    if (hak_tune.adaptive_drain)
        adapt_drain(h);
    return p;
}

/* ---- returning blocks: cache -> slabs ----------------------------------- */

/* Push a run of blocks of slab s (in SuperSlab ss) onto its remote list: one compare-and-swap. */
static void remote_push(hak_superslab_t *ss, hak_slab_t *s, void *first, void *last, uint32_t n)
{
    uintptr_t old = atomic_load_explicit(&s->remote, memory_order_relaxed), w;
    do {
        hak_link_set(last, hak_remote_head(old));
        w = (uintptr_t)first | ((uintptr_t)(hak_remote_count(old) + n) << HAK_REMOTE_SHIFT);
    } while (!atomic_compare_exchange_weak_explicit(&s->remote, &old, w,
                                                    memory_order_acq_rel, memory_order_relaxed));
    if (old)
        return;    /* the owner has been told already; from here on the slab may be recycled */
    /* First remote free since the owner's last drain: queue the slab for it. The slab cannot be drained
     * (nor recycled) before it is on the stack, and its SuperSlab keeps its owner while blocks are out. */
    hak_heap_t *o = atomic_load_explicit(&ss->owner, memory_order_relaxed);
    hak_slab_t *top = atomic_load_explicit(&o->ready, memory_order_relaxed);
    do {
        s->ready_next = top;
    } while (!atomic_compare_exchange_weak_explicit(&o->ready, &top, s,
                                                    memory_order_seq_cst, memory_order_relaxed));
    /* Store (the stack) then load (idle), as hak_heap_release does the other way round: sequentially
     * consistent on both sides, one of the two sees the other, so the drain is never missed. */
    if (!top && atomic_load_explicit(&o->idle, memory_order_seq_cst))
        hak_decay_kick();      /* nobody would drain it: hak_heap_decay_idle will */
}

/* The owner gives back k blocks of slab s, linked first .. last: one splice onto its free list. */
static void local_push(hak_heap_t *h, hak_slab_t *s, void *first, void *last, uint32_t k)
{
    hak_link_set(last, s->free);
    s->free = first;
    s->free_count += k;
    s->used -= k;
    hak_counter_add(&h->st.used_bytes, -(uint64_t)s->block_size * k);
    if (s->used == 0 && (h->partial[s->cls].head != s || s->next)) {
        slab_destroy(h, s);
        return;
    }
    if (s->list != HAK_LIST_PARTIAL)
        list_move(h, s, HAK_LIST_PARTIAL);
}

void hak_heap_return(hak_heap_t *h, void *p, hak_superslab_t *ss)
{
    hak_slab_t *s = hak_ss_slab(ss, p);
    if (atomic_load_explicit(&ss->owner, memory_order_relaxed) == h) {
        local_push(h, s, p, p, 1);
    } else {
        hak_counter_add(&h->st.remote_frees, 1);
        remote_push(ss, s, p, p, 1);
    }
}

/* A flushed bin holds runs of blocks of one slab (a program frees what it allocated together): each
 * run goes home in one push, a splice onto the slab's free list or one remote compare-and-swap. */
void *hak_heap_return_list(hak_heap_t *h, void *head, uint32_t n)
{
    void *p = head;
    if (n && head && atomic_load_explicit(&hak_ss_of(head)->owner, memory_order_relaxed) == h)
        storm_note_flush(h);
    while (n && p) {
        hak_superslab_t *ss = hak_ss_of(p);
        hak_slab_t *s = hak_ss_slab(ss, p);
        void *last = p, *next = hak_link_get(p);
        uintptr_t lo = (uintptr_t)s->start, span = (uintptr_t)s->capacity * s->block_size;
        uint32_t k = 1;
        n--;
        while (n && (uintptr_t)next - lo < span) {        /* NULL is below lo: the list's end */
            last = next;
            next = hak_link_get(next);
            n--;
            k++;
        }
        if (atomic_load_explicit(&ss->owner, memory_order_relaxed) == h) {
            local_push(h, s, p, last, k);
        } else {
            hak_counter_add(&h->st.remote_frees, k);
            remote_push(ss, s, p, last, k);
        }
        p = next;
    }
    return p;
}

size_t hak_heap_trim(hak_heap_t *h)
{
    size_t released = 0;
    collect_ready(h);      /* every notified slab is on a partial list now */
    for (unsigned c = 0; c < HAK_NCLASS; c++) {
        for (hak_slab_t *s = h->partial[c].head, *next; s; s = next) {
            next = s->next;
            slab_drain(h, s);
            if (s->used == 0) {
                released += (size_t)s->units * HAK_UNIT_SIZE;
                slab_destroy(h, s);
            }
        }
    }
    if (h->ss_list && h->ss_list->slabs_live == 0 && !h->ss_list->next) {
        hak_superslab_t *ss = h->ss_list;
        h->ss_list = NULL;
        hak_ss_destroy(ss);
        released += HAK_SS_SIZE;
    }
    return released;
}

/* ---- heap registry ------------------------------------------------------- */

hak_heap_t *hak_heap_acquire(void)
{
    pthread_mutex_lock(&registry_lock);
    hak_heap_t *h = idle_heaps;
    if (h) {
        idle_heaps = h->next_idle;
        atomic_store_explicit(&h->idle, 0, memory_order_relaxed);
    } else {
        h = hak_meta_alloc(sizeof *h);
        if (h) {
            h->next_all = all_heaps;
            all_heaps = h;
            if (++heap_count < HAK_HEAP_IDS) {
                h->id = heap_count;
                atomic_store_explicit(&hak_heap_by_id[h->id], h, memory_order_release);
            }
        }
    }
    if (h)
        memcpy(h->refill, hak_tune.refill, sizeof h->refill);
    pthread_mutex_unlock(&registry_lock);
    return h;
}

void hak_heap_release(hak_heap_t *h)
{
    hak_heap_trim(h);
    pthread_mutex_lock(&registry_lock);
    h->tls = NULL;
    h->next_idle = idle_heaps;
    idle_heaps = h;
    atomic_store_explicit(&h->idle, 1, memory_order_seq_cst);     /* see remote_push */
    pthread_mutex_unlock(&registry_lock);
    if (atomic_load_explicit(&h->ready, memory_order_seq_cst))
        hak_decay_kick();  /* frees that arrived since the trim above found the heap not idle yet */
}

void hak_heap_decay_idle(void)
{
    pthread_mutex_lock(&registry_lock);   /* no thread can take an idle heap meanwhile */
    int held = hak_decay_lock_held;
    hak_decay_lock_held = 1;               /* no kick from under the registry lock */
    for (hak_heap_t *h = idle_heaps; h; h = h->next_idle)
        if (atomic_load_explicit(&h->ready, memory_order_relaxed))
            hak_heap_trim(h);
    hak_decay_lock_held = held;
    pthread_mutex_unlock(&registry_lock);
}

hak_heap_t *hak_heap_first(void) { return all_heaps; }
void hak_heap_lock(void) { pthread_mutex_lock(&registry_lock); }
void hak_heap_unlock(void) { pthread_mutex_unlock(&registry_lock); }

/* After fork only the forking thread runs: heaps other threads were using may be mid-update, so they
 * are left alone (their blocks freed in the child go to remote lists); idle heaps stay reusable. */
void hak_heap_fork_child(hak_heap_t *survivor)
{
    pthread_mutex_init(&registry_lock, NULL);
    pthread_mutex_init(&hak_shared_lock, NULL);
    for (hak_heap_t *h = all_heaps; h; h = h->next_all)
        if (h != survivor && h->tls && h != hak_shared_heap)
            h->tls = NULL;  /* orphaned: never handed out again */
}
