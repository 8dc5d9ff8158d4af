/* log.c — allocation-free stderr messages (see log.h). */
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void hak_vmsg(const char *fmt, va_list ap)
{
    char buf[1024];
    size_t n = 8;
    memcpy(buf, "hakmem: ", n);
    int w = vsnprintf(buf + n, sizeof buf - n - 1, fmt, ap);
    if (w < 0)
        w = 0;
    n += (size_t)w < sizeof buf - n - 1 ? (size_t)w : sizeof buf - n - 2;
    buf[n++] = '\n';
    ssize_t r = write(STDERR_FILENO, buf, n);
    (void)r;
}

void hak_msg(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    hak_vmsg(fmt, ap);
    va_end(ap);
}

void hak_fatal(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    hak_vmsg(fmt, ap);
    va_end(ap);
    abort();
}
