/* trace.c — allocation tracing to a binary file (see trace.h for the format). Each thread fills its own
 * buffer (BUF_RECS records) and writes it with one write(2) when full, at thread exit and at process
 * exit; the file is opened O_APPEND so blocks of different threads never overlap. */
#define _GNU_SOURCE
#include "trace.h"

#if HAK_FEATURE_TRACE
#include "log.h"
#include "os.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BUF_RECS 4096          /* 160 KiB per thread: one write per 4096 operations */

typedef struct tbuf {
    _Atomic int lock;          /* the owner appends, process exit and fork flush: a tiny spin lock */
    uint32_t n;
    int in_use;                /* 0: released by an exited thread, reusable */
    struct tbuf *next_all;
    hak_trace_rec_t rec[BUF_RECS];
} tbuf_t;

int hak_trace_on;
HAK_TLS int hak_trace_nested;
static HAK_TLS tbuf_t *my_buf;
static HAK_TLS uint32_t my_tid;
static int trace_fd = -1;
static uint64_t t0_ns;
static pthread_key_t buf_key;
static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static tbuf_t *all_bufs;
static _Atomic uint64_t dropped;   /* records lost because a write failed */

static uint64_t now_ns(clockid_t c)
{
    struct timespec ts;
    clock_gettime(c, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void buf_lock(tbuf_t *b)
{
    while (atomic_exchange_explicit(&b->lock, 1, memory_order_acquire))
        ;
}

static void buf_unlock(tbuf_t *b)
{
    atomic_store_explicit(&b->lock, 0, memory_order_release);
}

/* Called with the buffer locked. */
static void flush(tbuf_t *b)
{
    const char *p = (const char *)b->rec;
    size_t left = (size_t)b->n * sizeof(hak_trace_rec_t);
    while (left && trace_fd >= 0) {
        ssize_t w = write(trace_fd, p, left);
        if (w <= 0) {
            atomic_fetch_add_explicit(&dropped, left / sizeof(hak_trace_rec_t), memory_order_relaxed);
            break;
        }
        p += w;
        left -= (size_t)w;
    }
    b->n = 0;
}

static void flush_all(void)
{
    pthread_mutex_lock(&reg_lock);
    for (tbuf_t *b = all_bufs; b; b = b->next_all) {
        buf_lock(b);
        flush(b);
        buf_unlock(b);
    }
    pthread_mutex_unlock(&reg_lock);
}

static void thread_done(void *arg)
{
    tbuf_t *b = arg;
    buf_lock(b);
    flush(b);
    buf_unlock(b);
    pthread_mutex_lock(&reg_lock);
    b->in_use = 0;
    pthread_mutex_unlock(&reg_lock);
    my_buf = NULL;
}

static tbuf_t *acquire(void)
{
    hak_trace_nested = 1;      /* what pthread_setspecific allocates is not the program's */
    pthread_mutex_lock(&reg_lock);
    tbuf_t *b;
    for (b = all_bufs; b && b->in_use; b = b->next_all)
        ;
    if (!b) {
        b = hak_os_map(sizeof *b);
        if (b) {
            b->next_all = all_bufs;
            all_bufs = b;
        }
    }
    if (b)
        b->in_use = 1;
    pthread_mutex_unlock(&reg_lock);
    if (b) {
        my_buf = b;
        pthread_setspecific(buf_key, b);
    }
    hak_trace_nested = 0;
    return b;
}

void hak_trace_record(unsigned op, const void *ptr, size_t size, uintptr_t aux)
{
    tbuf_t *b = my_buf;
    if (HAK_UNLIKELY(!b)) {
        if (!(b = acquire()))
            return;
    }
    if (HAK_UNLIKELY(!my_tid))
        my_tid = (uint32_t)gettid();
    buf_lock(b);
    hak_trace_rec_t *r = &b->rec[b->n];
    r->time_ns = now_ns(CLOCK_MONOTONIC) - t0_ns;
    r->ptr = (uint64_t)(uintptr_t)ptr;
    r->size = size;
    r->aux = aux;
    r->tid = my_tid;
    r->op = (uint8_t)op;
    r->flags = (op != HAK_TR_FREE && op != HAK_TR_REALLOC_OLD && !ptr) ? 1 : 0;
    r->reserved = 0;
    if (++b->n == BUF_RECS)
        flush(b);
    buf_unlock(b);
}

/* The file name with "%p" replaced by the pid; a forked child that inherited a name without "%p"
 * writes to "<name>.<pid>", so parent and child never share a file. */
static int open_trace(int child)
{
    char path[sizeof hak_cfg.trace_file + 32];
    hak_pid_path(path, (int)sizeof path, hak_cfg.trace_file[0] ? hak_cfg.trace_file : "hakmem.trace", child);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
        hak_msg("HAKMEM_TRACE_FILE=%s: cannot open for writing; tracing is off", path);
        return -1;
    }
    /* Out of the way of the program's own descriptors: a program that closes fd 3 and opens a file of
     * its own must not receive our records. */
    int high = fcntl(fd, F_DUPFD_CLOEXEC, 1000);
    if (high >= 0) {
        close(fd);
        fd = high;
    }
    unsigned char h[64];
    memset(h, 0, sizeof h);
    memcpy(h, HAK_TRACE_MAGIC, 8);
    uint32_t v = HAK_TRACE_VERSION, rs = HAK_TRACE_REC_SIZE;
    uint64_t pid = (uint64_t)getpid(), start = now_ns(CLOCK_REALTIME);
    memcpy(h + 8, &v, 4);
    memcpy(h + 12, &rs, 4);
    memcpy(h + 16, &pid, 8);
    memcpy(h + 24, &start, 8);
    strncpy((char *)h + 32, HAK_MODE_NAME, 15);
    strncpy((char *)h + 48, HAK_VARIANT_NAME, 15);
    if (write(fd, h, sizeof h) != (ssize_t)sizeof h) {
        close(fd);
        return -1;
    }
    hak_log(HAK_LOG_INFO, "tracing every allocation to %s", path);
    return fd;
}

static void at_exit(void)
{
    flush_all();
    uint64_t d = atomic_load(&dropped);
    if (d)
        hak_msg("trace: %llu records could not be written", (unsigned long long)d);
}

__attribute__((destructor)) static void at_unload(void)
{
    if (hak_trace_on)
        flush_all();
}

static void fork_prepare(void)
{
    pthread_mutex_lock(&reg_lock);
    for (tbuf_t *b = all_bufs; b; b = b->next_all)
        buf_lock(b);
}

static void fork_parent(void)
{
    for (tbuf_t *b = all_bufs; b; b = b->next_all)
        buf_unlock(b);
    pthread_mutex_unlock(&reg_lock);
}

/* The child keeps only its own thread's buffer, emptied: the parent writes what it recorded. */
static void fork_child(void)
{
    for (tbuf_t *b = all_bufs; b; b = b->next_all) {
        b->n = 0;
        b->in_use = b == my_buf;
        buf_unlock(b);
    }
    pthread_mutex_init(&reg_lock, NULL);
    my_tid = 0;
    if (trace_fd >= 0)
        close(trace_fd);
    trace_fd = open_trace(1);
    if (trace_fd < 0)
        hak_trace_on = 0;
}

void hak_trace_init(void)
{
    if (!hak_cfg.trace_allocations)
        return;
    t0_ns = now_ns(CLOCK_MONOTONIC);
    trace_fd = open_trace(0);
    if (trace_fd < 0)
        return;
    pthread_key_create(&buf_key, thread_done);
    pthread_atfork(fork_prepare, fork_parent, fork_child);
    atexit(at_exit);
    hak_trace_on = 1;
}
#endif
