/* log.h — messages to stderr that never allocate and are safe after fork and in signal handlers. */
#ifndef HAK_LOG_H
#define HAK_LOG_H

#include <stdarg.h>

#include "common.h"

/* Verbosity of HAKMEM_DEBUG_LEVEL: 0 none, 1 errors, 2 info, 3 verbose. */
enum hak_log_level { HAK_LOG_ERROR = 1, HAK_LOG_INFO = 2, HAK_LOG_VERBOSE = 3 };

/* One line "hakmem: <text>\n" written with a single write(2); formats into a stack buffer with
 * hakmem's own formatter (%d %i %u %x %p %s %c %zu %ld %llu ... and %%), which takes no lock and
 * never allocates, so it may be called from a signal handler, after fork, or inside malloc. */
void hak_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void hak_vmsg(const char *fmt, va_list ap);

/* write(2) all of [p, p + n) to fd, resuming after short writes; stops at the first error. */
void hak_write_all(int fd, const char *p, size_t n);

/* Print the message, then abort() (used by integrity checks): SIGABRT, as glibc does. */
void hak_fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* Format into buf (always NUL-terminated); returns the length written. Same rules as hak_msg. */
int hak_format(char *buf, int size, const char *fmt, va_list ap);
int hak_snprintf(char *buf, int size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* A report file's name: "%p" in it becomes the pid; a name without one gets ".<pid>" appended when
 * add_pid is set (a forked child), so processes never share a file. */
void hak_pid_path(char *buf, int size, const char *name, int add_pid);

/* hak_log(level, fmt, ...): a message when HAKMEM_DEBUG_LEVEL >= level (read after start-up). */
#define hak_log(level, ...)                                         \
    do {                                                            \
        if (HAK_UNLIKELY(hak_cfg.debug_level >= (level)))           \
            hak_msg(__VA_ARGS__);                                   \
    } while (0)

/* hak_log_tiny(fmt, ...): TINY tier messages (HAKMEM_DEBUG_TINY); compiled in only with debug_log. */
#if HAK_FEATURE_DEBUG_LOG
#define hak_log_tiny(...)                                           \
    do {                                                            \
        if (HAK_UNLIKELY(hak_cfg.debug_tiny))                       \
            hak_msg("tiny: " __VA_ARGS__);                          \
    } while (0)
#else
#define hak_log_tiny(...) ((void)0)
#endif

#endif
