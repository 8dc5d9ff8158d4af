/* handoff_mt.c — many more threads than cores, blocks changing hands in bulk.
 *
 * Phase "handoff": THREADS/2 producers fill batches of BATCH objects of 8–2048
 * bytes, each filled with a pattern derived from its address, size and the
 * seed, and pass them through a mutex/condvar queue of at most 16 batches to
 * the other THREADS/2 threads, which verify every byte of every object, free
 * it, and free the batch array (64 KiB: a large block changes hands too).
 *
 * Phase "swap": ROUNDS rounds of THREADS threads. Each thread works on an array
 * of slots that it swaps, every 64 operations, with one of THREADS mailboxes
 * (an atomic exchange), so it frees blocks that live threads, and threads of
 * earlier rounds that have exited, allocated. Each operation verifies a slot's
 * block, frees it and puts a new one of 8 B – 40 KiB there.
 *
 * Prints "info handoff ...", "info swap ...", "info rss round=R bytes=B" after
 * each swap round and, after each phase,
 * "info memory phase=P peak_rss=B live_peak=B" (VmHWM over the phase and the
 * most bytes the program itself held at once in it).
 *
 * usage: handoff_mt THREADS OBJECTS_PER_PRODUCER SWAP_ROUNDS SWAP_OPS SEED */
#include "hakc.h"

#include <pthread.h>

enum { BATCH = 4096, QUEUE = 16, SLOTS = 256, SWAP_EVERY = 64 };

typedef struct { void *p; uint32_t n; } item_t;
typedef struct { uint32_t count; item_t items[BATCH]; } batch_t;

static uint64_t seed;
static atomic_long live_bytes, live_peak, verified, freed_batches;

static void live_add(long n)
{
    long now = atomic_fetch_add(&live_bytes, n) + n;
    long peak = atomic_load(&live_peak);
    while (now > peak && !atomic_compare_exchange_weak(&live_peak, &peak, now))
        ;
}

static void *obj_new(size_t n)
{
    void *p = M(malloc)(n);
    if (!p) {
        HAKC_FAIL("handoff.malloc", "malloc(%zu) returned NULL", n);
        return NULL;
    }
    hakc_fill(p, n, (uintptr_t)p, seed);
    return p;
}

static void obj_check_free(const char *name, void *p, size_t n)
{
    if (!p)
        return;
    size_t bad = hakc_verify(p, n, n, (uintptr_t)p, seed);
    FAILIF(name, bad != (size_t)-1, "block %p of %zu bytes differs at offset %zu", p, n, bad);
    M(free)(p);
}

/* ---- handoff ------------------------------------------------------------ */

static pthread_mutex_t q_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t q_nonempty = PTHREAD_COND_INITIALIZER, q_nonfull = PTHREAD_COND_INITIALIZER;
static batch_t *queue[QUEUE];
static int q_head, q_len, producers_left;
static long per_producer;

static void *producer(void *arg)
{
    uint64_t rng = seed ^ (uintptr_t)arg;
    for (long made = 0; made < per_producer;) {
        batch_t *b = M(malloc)(sizeof *b);
        if (!b) {
            HAKC_FAIL("handoff.malloc", "batch array of %zu bytes: NULL", sizeof *b);
            break;
        }
        long bytes = sizeof *b;
        b->count = 0;
        for (; b->count < BATCH && made < per_producer; made++) {
            uint32_t n = 8 + (uint32_t)(hakc_rand(&rng) % 2041);
            b->items[b->count++] = (item_t){obj_new(n), n};
            bytes += n;
        }
        live_add(bytes);
        pthread_mutex_lock(&q_lock);
        while (q_len == QUEUE)
            pthread_cond_wait(&q_nonfull, &q_lock);
        queue[(q_head + q_len++) % QUEUE] = b;
        pthread_cond_signal(&q_nonempty);
        pthread_mutex_unlock(&q_lock);
    }
    pthread_mutex_lock(&q_lock);
    producers_left--;
    pthread_cond_broadcast(&q_nonempty);
    pthread_mutex_unlock(&q_lock);
    return NULL;
}

static void *consumer(void *arg)
{
    (void)arg;
    for (;;) {
        pthread_mutex_lock(&q_lock);
        while (q_len == 0 && producers_left)
            pthread_cond_wait(&q_nonempty, &q_lock);
        if (q_len == 0) {
            pthread_mutex_unlock(&q_lock);
            return NULL;
        }
        batch_t *b = queue[q_head];
        q_head = (q_head + 1) % QUEUE;
        q_len--;
        pthread_cond_signal(&q_nonfull);
        pthread_mutex_unlock(&q_lock);
        long bytes = sizeof *b;
        for (uint32_t i = 0; i < b->count; i++) {
            obj_check_free("handoff.contents", b->items[i].p, b->items[i].n);
            bytes += b->items[i].n;
        }
        atomic_fetch_add(&verified, b->count);
        atomic_fetch_add(&freed_batches, 1);
        M(free)(b);
        live_add(-bytes);
    }
}

/* ---- swap ----------------------------------------------------------------- */

typedef struct { item_t slot[SLOTS]; } slots_t;
static _Atomic(slots_t *) mailbox[64];
static int n_mail;
static long swap_ops;
static atomic_long swap_done;

static uint32_t swap_size(uint64_t *rng)
{
    uint64_t r = hakc_rand(rng);
    return (r & 15) == 0 ? 1024 + (uint32_t)(r >> 8) % (40 << 10) : 8 + (uint32_t)(r >> 8) % 1017;
}

static slots_t *slots_new(uint64_t *rng)
{
    slots_t *s = M(malloc)(sizeof *s);
    if (!s)
        return NULL;
    long bytes = sizeof *s;
    for (int i = 0; i < SLOTS; i++) {
        uint32_t n = swap_size(rng);
        s->slot[i] = (item_t){obj_new(n), n};
        bytes += n;
    }
    live_add(bytes);
    return s;
}

static void slots_free(slots_t *s)
{
    long bytes = sizeof *s;
    for (int i = 0; i < SLOTS; i++) {
        obj_check_free("swap.contents", s->slot[i].p, s->slot[i].n);
        bytes += s->slot[i].n;
    }
    M(free)(s);
    live_add(-bytes);
}

static void *swapper(void *arg)
{
    uint64_t rng = seed ^ ((uintptr_t)arg * 0x9e3779b97f4a7c15ULL);
    slots_t *mine = atomic_exchange(&mailbox[(uintptr_t)arg % n_mail], NULL);
    if (!mine)
        mine = slots_new(&rng);
    for (long op = 0; mine && op < swap_ops; op++) {
        if (op % SWAP_EVERY == SWAP_EVERY - 1) {
            slots_t *other = atomic_exchange(&mailbox[hakc_rand(&rng) % n_mail], mine);
            if (other)
                mine = other;
            else if (!(mine = slots_new(&rng)))
                break;
        }
        item_t *it = &mine->slot[hakc_rand(&rng) % SLOTS];
        uint32_t n = swap_size(&rng);
        live_add((long)n - (long)it->n);
        obj_check_free("swap.contents", it->p, it->n);
        *it = (item_t){obj_new(n), n};
    }
    atomic_fetch_add(&swap_done, swap_ops);
    /* park the array for a thread of the next round; free it when every box is taken */
    for (int i = 0; i < n_mail && mine; i++) {
        slots_t *empty = NULL;
        if (atomic_compare_exchange_strong(&mailbox[i], &empty, mine))
            mine = NULL;
    }
    if (mine)
        slots_free(mine);
    return NULL;
}

static int start_all(pthread_t *tid, int n, void *(*fn)(void *), int first)
{
    for (int i = 0; i < n; i++)
        if (pthread_create(&tid[i], NULL, fn, (void *)(uintptr_t)(first + i)) != 0) {
            HAKC_FAIL("threads.create", "thread %d of %d could not start", i, n);
            return i;
        }
    return n;
}

/* Peak RSS since the start or the last reset_hwm(). */
static long vm_hwm(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kib = 0;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmHWM: %ld kB", &kib) == 1)
            break;
    if (f)
        fclose(f);
    return kib * 1024;
}

static void reset_hwm(void)
{
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (f) {
        fputs("5", f);
        fclose(f);
    }
}

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : 32;
    per_producer = argc > 2 ? atol(argv[2]) : 40000;
    int rounds = argc > 3 ? atoi(argv[3]) : 4;
    swap_ops = argc > 4 ? atol(argv[4]) : 20000;
    seed = argc > 5 ? strtoull(argv[5], NULL, 0) : 0x5eed;
    if (threads < 2 || threads > 64) {
        fprintf(stderr, "handoff_mt: THREADS must be 2..64\n");
        return 2;
    }
    pthread_t tid[64];

    int np = threads / 2, nc = threads - np;
    producers_left = np;
    int started = start_all(tid, np, producer, 1);
    if (started < np) {   /* the consumers must still see every started producer finish */
        pthread_mutex_lock(&q_lock);
        producers_left = started;
        pthread_mutex_unlock(&q_lock);
    }
    int cons = start_all(tid + np, nc, consumer, 0);
    for (int i = 0; i < started; i++)
        pthread_join(tid[i], NULL);
    for (int i = 0; i < cons; i++)
        pthread_join(tid[np + i], NULL);
    long want = per_producer * started;
    CHECK("handoff.all_verified", atomic_load(&verified) == want, "verified %ld of %ld objects",
          atomic_load(&verified), want);
    hakc_line("info handoff threads=%d objects=%ld verified=%ld batches=%ld", threads, want,
              atomic_load(&verified), atomic_load(&freed_batches));

    hakc_line("info memory phase=handoff peak_rss=%ld live_peak=%ld", vm_hwm(), atomic_load(&live_peak));
    reset_hwm();
    atomic_store(&live_peak, atomic_load(&live_bytes));

    n_mail = threads;
    for (int r = 0; r < rounds; r++) {
        int n = start_all(tid, threads, swapper, r * threads);
        for (int i = 0; i < n; i++)
            pthread_join(tid[i], NULL);
        hakc_line("info rss round=%d bytes=%zu", r, hakc_rss_bytes());
    }
    for (int i = 0; i < n_mail; i++) {
        slots_t *s = atomic_exchange(&mailbox[i], NULL);
        if (s)
            slots_free(s);
    }
    CHECK("swap.all_done", atomic_load(&swap_done) == swap_ops * threads * rounds, "%ld of %ld operations",
          atomic_load(&swap_done), swap_ops * threads * rounds);
    CHECK("memory.all_freed", atomic_load(&live_bytes) == 0, "%ld bytes still counted live",
          atomic_load(&live_bytes));
    hakc_line("info swap threads=%d rounds=%d ops=%ld", threads, rounds, atomic_load(&swap_done));
    hakc_line("info memory phase=swap peak_rss=%ld live_peak=%ld", vm_hwm(), atomic_load(&live_peak));
    return hakc_finish();
}
