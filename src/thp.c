/* thp.c — when to ask the kernel for transparent huge pages (see thp.h for the policy). */
#define _GNU_SOURCE
#include "thp.h"
#include "learn/learn.h"
#include "common.h"
#include "decay.h"
#include "os.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

enum { SYS_ALWAYS, SYS_MADVISE, SYS_NEVER };

static int policy = -1;          /* -1: feature compiled out or not configured: do nothing */
static int sys_mode = SYS_MADVISE;
static hak_counter_t n_huge, n_nohuge, bytes_huge, n_withdrawn;

#if HAK_FEATURE_THP
static int read_sys_mode(void)
{
    char buf[128];
    int fd = open("/sys/kernel/mm/transparent_hugepage/enabled", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return SYS_NEVER;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return SYS_NEVER;
    buf[n] = 0;
    if (strstr(buf, "[always]"))
        return SYS_ALWAYS;
    if (strstr(buf, "[madvise]"))
        return SYS_MADVISE;
    return SYS_NEVER;
}
#endif

void hak_thp_configure(void)
{
#if HAK_FEATURE_THP
    sys_mode = read_sys_mode();
    policy = hak_cfg.thp;
#endif
}

static void advise(void *p, size_t size, int huge)
{
#ifdef MADV_HUGEPAGE
    if (huge) {
        if (hak_os_advise(p, size, MADV_HUGEPAGE) == 0) {
            atomic_fetch_add_explicit(&n_huge, 1, memory_order_relaxed);
            atomic_fetch_add_explicit(&bytes_huge, size, memory_order_relaxed);
        }
    } else if (hak_os_advise(p, size, MADV_NOHUGEPAGE) == 0) {
        atomic_fetch_add_explicit(&n_nohuge, 1, memory_order_relaxed);
    }
#else
    (void)p; (void)size; (void)huge;
#endif
}

size_t hak_thp_large_align(size_t size)
{
    if (policy != HAK_THP_AUTO && policy != HAK_THP_ON)
        return 0;
    if (sys_mode == SYS_NEVER || size < HAK_THP_SIZE)
        return 0;
    return HAK_THP_SIZE;
}

void hak_thp_large(void *p, size_t size)
{
    if (policy < 0 || sys_mode == SYS_NEVER)
        return;
    if (policy == HAK_THP_OFF) {
        if (sys_mode == SYS_ALWAYS && size >= HAK_THP_SIZE)
            advise(p, size, 0);
        return;
    }
    if (size >= HAK_THP_SIZE)
        advise(p, size, 1);
}

int hak_thp_superslab(void *p, size_t size, unsigned heap_ss)
{
    if (policy < 0 || sys_mode == SYS_NEVER)
        return 0;
    if (policy == HAK_THP_OFF) {
        if (sys_mode == SYS_ALWAYS)
            advise(p, size, 0);
        return 0;
    }
#if HAK_FEATURE_MEM_LEARN
    /* Memory learning may only withdraw huge pages under "auto" (sparse use: they would hold memory
     * for nothing). Dense use leaves the rule below in force: learning never makes RSS bigger than
     * the same mode without it. */
    if (policy == HAK_THP_AUTO && hak_learn_thp_advice() == HAK_LEARN_THP_OFF) {
        if (sys_mode == SYS_ALWAYS)
            advise(p, size, 0);
        return 0;
    }
#endif
    if (policy == HAK_THP_ON || heap_ss >= HAK_THP_HOT_SS) {
        advise(p, size, 1);
        return 1;
    }
    return 0;
}

void hak_thp_withdraw(hak_decay_range_t *r, size_t n)
{
#ifdef MADV_NOHUGEPAGE
    n = hak_ranges_coalesce(r, n);
    for (size_t i = 0; i < n; i++)
        if (hak_os_advise((void *)r[i].addr, r[i].len, MADV_NOHUGEPAGE) == 0)
            atomic_fetch_add_explicit(&n_withdrawn, 1, memory_order_relaxed);
#else
    (void)r; (void)n;
#endif
}

size_t hak_thp_stats_json(char *buf, size_t len)
{
    static const char *names[] = { "off", "auto", "on" };
    static const char *sys[] = { "always", "madvise", "never" };
    int n = snprintf(buf, len, "\"thp\":{\"policy\":\"%s\",\"system\":\"%s\",\"hugepage_advised\":%llu,"
                               "\"hugepage_bytes\":%llu,\"nohugepage_advised\":%llu,\"withdrawn\":%llu}",
                     policy >= 0 && policy <= 2 ? names[policy] : "compiled-out", sys[sys_mode],
                     (unsigned long long)hak_counter_get(&n_huge), (unsigned long long)hak_counter_get(&bytes_huge),
                     (unsigned long long)hak_counter_get(&n_nohuge), (unsigned long long)hak_counter_get(&n_withdrawn));
    return n < 0 ? 0 : (size_t)n < len ? (size_t)n : len - 1;
}
