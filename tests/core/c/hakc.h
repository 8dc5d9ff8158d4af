/* hakc.h — the macro layer shared by the tests/core driver programs.
 *
 * The same driver source serves two builds:
 *  - plain (release/debug variants, and the glibc control): calls the ordinary
 *    malloc family, and hakmem is put under it with LD_PRELOAD (or not at all);
 *  - HAK_PREFIXED (asan/tsan variants): calls the prefixed hak_* API of
 *    include/hakmem.h, linked against the variant's libhakmem.so, because the
 *    sanitizer runtime owns the unprefixed names.
 *
 * M(malloc)(n) expands to malloc(n) or hak_malloc(n).  Helpers for reporting
 * checks ("ok name" / "FAIL name: detail" / "skip name: reason") live here too,
 * so every driver reports the same way and exits non-zero on any failure. */
#ifndef HAKC_H
#define HAKC_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Drivers deliberately inspect blocks after failed reallocs and similar. */
#pragma GCC diagnostic ignored "-Wuse-after-free"

#ifdef HAK_PREFIXED
#include "hakmem.h"
#define M(x) hak_##x
#define HAKC_API "hak_*"
#else
#define M(x) x
#define HAKC_API "libc"
#endif

/* ---- reporting --------------------------------------------------------- */

static atomic_int hakc_failures;
static atomic_int hakc_checks;

/* Print one line atomically (a single write) so threads never interleave. */
static void hakc_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void hakc_line(const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if (n > (int)sizeof buf - 2)
        n = (int)sizeof buf - 2;
    buf[n++] = '\n';
    ssize_t w = write(1, buf, (size_t)n);
    (void)w;
}

/* Count and print one failure of check `name`. */
#define HAKC_FAIL(name, ...)                                                 \
    do {                                                                     \
        atomic_fetch_add(&hakc_failures, 1);                                 \
        char hakc_d_[256];                                                   \
        snprintf(hakc_d_, sizeof hakc_d_, __VA_ARGS__);                      \
        hakc_line("FAIL %s: %s", name, hakc_d_);                             \
    } while (0)

/* CHECK(name, cond, fmt, ...) — report one named check. */
#define CHECK(name, cond, ...)                                               \
    do {                                                                     \
        atomic_fetch_add(&hakc_checks, 1);                                   \
        if (cond)                                                            \
            hakc_line("ok %s", name);                                        \
        else                                                                 \
            HAKC_FAIL(name, __VA_ARGS__);                                    \
    } while (0)

/* FAILIF — report only failures (for checks inside big loops). */
#define FAILIF(name, cond, ...)                                              \
    do {                                                                     \
        if (cond)                                                            \
            HAKC_FAIL(name, __VA_ARGS__);                                    \
    } while (0)

#define SKIP(name, ...)                                                      \
    do {                                                                     \
        char hakc_d_[256];                                                   \
        snprintf(hakc_d_, sizeof hakc_d_, __VA_ARGS__);                      \
        hakc_line("skip %s: %s", name, hakc_d_);                             \
    } while (0)

__attribute__((unused)) static int hakc_finish(void)
{
    int f = atomic_load(&hakc_failures);
    hakc_line("summary checks=%d failures=%d api=%s", atomic_load(&hakc_checks), f,
              HAKC_API);
    return f ? 1 : 0;
}

/* ---- ownership --------------------------------------------------------- */

/* 1 when hakmem owns p, 0 when not, -1 when hakmem is not loaded at all
 * (the glibc control run). */
__attribute__((unused)) static int hakc_owns(const void *p)
{
#ifdef HAK_PREFIXED
    return hak_owns(p);
#else
    static int (*fn)(const void *);
    static int looked;
    if (!looked) {
        fn = (int (*)(const void *))dlsym(RTLD_DEFAULT, "hak_owns");
        looked = 1;
    }
    return fn ? fn(p) : -1;
#endif
}

__attribute__((unused)) static int hakc_hakmem_loaded(void)
{
#ifdef HAK_PREFIXED
    return 1;
#else
    return dlsym(RTLD_DEFAULT, "hak_owns") != NULL;
#endif
}

/* ---- per-block cookies --------------------------------------------------- */

static inline uint64_t hakc_mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

/* Fill [p, p+n) with a pattern derived from (addr, size, seed).  Byte i of the
 * block is byte (i % 8) of mix(key + i / 8). */
__attribute__((unused)) static void hakc_fill(void *p, size_t n, uintptr_t addr, uint64_t seed)
{
    unsigned char *b = (unsigned char *)p;
    uint64_t key = hakc_mix((uint64_t)addr ^ (n * 0x9e3779b97f4a7c15ULL) ^ seed);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w = hakc_mix(key + i / 8);
        memcpy(b + i, &w, 8);
    }
    if (i < n) {
        uint64_t w = hakc_mix(key + i / 8);
        memcpy(b + i, &w, n - i);
    }
}

/* Verify the first `len` bytes of a block that was filled by
 * hakc_fill(p, n, addr, seed).  Returns the offset of the first bad byte or
 * (size_t)-1 when intact. */
__attribute__((unused)) static size_t hakc_verify(const void *p, size_t len, size_t n, uintptr_t addr, uint64_t seed)
{
    const unsigned char *b = (const unsigned char *)p;
    uint64_t key = hakc_mix((uint64_t)addr ^ (n * 0x9e3779b97f4a7c15ULL) ^ seed);
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t w = hakc_mix(key + i / 8);
        if (memcmp(b + i, &w, 8) != 0) {
            for (size_t j = 0; j < 8; j++)
                if (b[i + j] != ((unsigned char *)&w)[j])
                    return i + j;
        }
    }
    if (i < len) {
        uint64_t w = hakc_mix(key + i / 8);
        for (size_t j = 0; i + j < len; j++)
            if (b[i + j] != ((unsigned char *)&w)[j])
                return i + j;
    }
    return (size_t)-1;
}

/* A small, fast, per-thread PRNG. */
static inline uint64_t hakc_rand(uint64_t *s)
{
    *s += 0x9e3779b97f4a7c15ULL;
    return hakc_mix(*s);
}

__attribute__((unused)) static size_t hakc_rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long size = 0, rss = 0;
    if (f) {
        if (fscanf(f, "%lu %lu", &size, &rss) != 2)
            rss = 0;
        fclose(f);
    }
    return (size_t)rss * (size_t)sysconf(_SC_PAGESIZE);
}

/* Write v to the first byte of every page of [p, p+n) and to its last byte. */
__attribute__((unused)) static void hakc_touch_pages(unsigned char *p, size_t n, unsigned char v)
{
    for (size_t i = 0; i < n; i += 4096)
        p[i] = v;
    p[n - 1] = v;
}

/* 1 when the bytes hakc_touch_pages(p, n, v) wrote all still read v. */
__attribute__((unused)) static int hakc_pages_hold(const unsigned char *p, size_t n, unsigned char v)
{
    for (size_t i = 0; i < n; i += 4096)
        if (p[i] != v)
            return 0;
    return p[n - 1] == v;
}

/* Opaque size: keeps the compiler from reasoning about allocation sizes
 * (gcc knows malloc(SIZE_MAX) "cannot" succeed and warns or folds). */
static inline size_t hakc_sz(size_t n)
{
    volatile size_t v = n;
    return v;
}

#endif
