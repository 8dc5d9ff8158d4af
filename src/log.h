/* log.h — messages to stderr that never allocate and are safe after fork and in signal handlers. */
#ifndef HAK_LOG_H
#define HAK_LOG_H

#include <stdarg.h>

/* One line "hakmem: <text>\n" written with a single write(2); formats into a stack buffer. */
void hak_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void hak_vmsg(const char *fmt, va_list ap);

/* Print the message, then abort() (used by integrity checks). */
void hak_fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
