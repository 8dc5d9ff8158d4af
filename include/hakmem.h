/* hakmem.h — the public, prefixed API of libhakmem (every variant exports it). */
#ifndef HAKMEM_H
#define HAKMEM_H

#include <stddef.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

void  *hak_malloc(size_t size);
void   hak_free(void *ptr);
void  *hak_calloc(size_t nmemb, size_t size);
void  *hak_realloc(void *ptr, size_t size);
void  *hak_reallocarray(void *ptr, size_t nmemb, size_t size);
int    hak_posix_memalign(void **out, size_t alignment, size_t size);
void  *hak_aligned_alloc(size_t alignment, size_t size);
void  *hak_memalign(size_t alignment, size_t size);
void  *hak_valloc(size_t size);
void  *hak_pvalloc(size_t size);
size_t hak_malloc_usable_size(const void *ptr);
int    hak_malloc_trim(size_t pad);

/* glibc's extras, answering for hakmem (release and debug also export them as malloc_stats,
 * malloc_info and mallopt): a summary on stderr; XML in the shape of glibc's (options must be 0,
 * else -1 and EINVAL); set the knobs glibc's options map to, 1 when applied (docs/DIAGNOSTICS.md). */
void   hak_malloc_stats(void);
int    hak_malloc_info(int options, FILE *fp);
int    hak_mallopt(int param, int value);

/* 1 when hakmem (not the system allocator) owns ptr. */
int    hak_owns(const void *ptr);

/* Counters of this process, as JSON text in a static buffer (valid until the next call). */
const char *hak_stats_json(void);
/* Human-readable report to `out` (stderr when NULL). */
void   hak_stats_print(FILE *out);

/* The effective configuration (every knob, its value and where it came from) written to fd;
 * as JSON when json != 0. */
void   hak_config_dump(int fd, int json);

/* Name of the mode and variant this library was built as. */
const char *hak_mode_name(void);
const char *hak_variant_name(void);

#ifdef __cplusplus
}
#endif
#endif
