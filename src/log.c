/* log.c — allocation-free stderr messages (see log.h). The formatter is our own: vsnprintf may take
 * locale locks or allocate for some conversions, and a message can come from a signal handler or from
 * a forked child whose other threads held those locks. */
#include "log.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct sink {
    char *buf;
    int size, len;   /* len counts every character, written or not (snprintf's return) */
} sink_t;

static void put_c(sink_t *s, char c)
{
    if (s->len < s->size - 1)
        s->buf[s->len] = c;
    s->len++;
}

static void put_s(sink_t *s, const char *p, int prec)
{
    if (!p)
        p = "(null)";
    for (int i = 0; p[i] && (prec < 0 || i < prec); i++)
        put_c(s, p[i]);
}

static void put_u(sink_t *s, unsigned long long v, unsigned base, int upper, int width, char pad, int neg,
                  int left)
{
    char tmp[24];
    int n = 0;
    const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    do {
        tmp[n++] = digits[v % base];
        v /= base;
    } while (v);
    int len = n + (neg ? 1 : 0);
    if (!left && pad == ' ')
        for (; width > len; width--)
            put_c(s, ' ');
    if (neg)
        put_c(s, '-');
    if (!left && pad == '0')
        for (; width > len; width--)
            put_c(s, '0');
    while (n)
        put_c(s, tmp[--n]);
    if (left)
        for (; width > len; width--)
            put_c(s, ' ');
}

int hak_format(char *buf, int size, const char *fmt, va_list ap)
{
    sink_t s = { buf, size, 0 };
    for (const char *f = fmt; *f; f++) {
        if (*f != '%') {
            put_c(&s, *f);
            continue;
        }
        f++;
        int left = 0, width = 0, prec = -1, lng = 0, size_t_arg = 0, alt = 0;
        char pad = ' ';
        for (;; f++) {
            if (*f == '-')
                left = 1;
            else if (*f == '0')
                pad = '0';
            else if (*f == '#')
                alt = 1;
            else if (*f != ' ' && *f != '+')
                break;
        }
        if (*f == '*') {
            width = va_arg(ap, int);
            f++;
        }
        while (*f >= '0' && *f <= '9')
            width = width * 10 + (*f++ - '0');
        if (*f == '.') {
            f++;
            prec = 0;
            if (*f == '*') {
                prec = va_arg(ap, int);
                f++;
            }
            while (*f >= '0' && *f <= '9')
                prec = prec * 10 + (*f++ - '0');
        }
        for (;; f++) {
            if (*f == 'l')
                lng++;
            else if (*f == 'z' || *f == 'j' || *f == 't')
                size_t_arg = 1;
            else if (*f != 'h')
                break;
        }
        switch (*f) {
        case 'd':
        case 'i': {
            long long v = size_t_arg ? (long long)va_arg(ap, ssize_t)
                        : lng >= 2 ? va_arg(ap, long long) : lng ? va_arg(ap, long) : va_arg(ap, int);
            unsigned long long u = v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v;
            put_u(&s, u, 10, 0, width, pad, v < 0, left);
            break;
        }
        case 'u':
        case 'x':
        case 'X': {
            unsigned long long v = size_t_arg ? (unsigned long long)va_arg(ap, size_t)
                                 : lng >= 2 ? va_arg(ap, unsigned long long)
                                 : lng ? va_arg(ap, unsigned long) : va_arg(ap, unsigned);
            if (alt && *f != 'u' && v) {
                put_c(&s, '0');
                put_c(&s, 'x');
            }
            put_u(&s, v, *f == 'u' ? 10 : 16, *f == 'X', width, pad, 0, left);
            break;
        }
        case 'p': {
            uintptr_t v = (uintptr_t)va_arg(ap, void *);
            put_c(&s, '0');
            put_c(&s, 'x');
            put_u(&s, v, 16, 0, 0, ' ', 0, 0);
            break;
        }
        case 's': {
            const char *p = va_arg(ap, const char *);
            int n = 0;
            if (p)
                while (p[n] && (prec < 0 || n < prec))
                    n++;
            else
                n = 6;
            if (!left)
                for (; width > n; width--)
                    put_c(&s, ' ');
            put_s(&s, p, prec);
            if (left)
                for (; width > n; width--)
                    put_c(&s, ' ');
            break;
        }
        case 'c':
            put_c(&s, (char)va_arg(ap, int));
            break;
        case '%':
            put_c(&s, '%');
            break;
        case 0:
            f--;
            break;
        default:   /* unsupported conversion (floating point): shown, argument skipped */
            put_c(&s, '%');
            put_c(&s, *f);
            break;
        }
    }
    if (size > 0)
        buf[s.len < size - 1 ? s.len : size - 1] = 0;
    return s.len;
}

int hak_snprintf(char *buf, int size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = hak_format(buf, size, fmt, ap);
    va_end(ap);
    return n;
}

void hak_pid_path(char *buf, int size, const char *name, int add_pid)
{
    const char *pp = strstr(name, "%p");
    if (pp)
        hak_snprintf(buf, size, "%.*s%d%s", (int)(pp - name), name, (int)getpid(), pp + 2);
    else if (add_pid)
        hak_snprintf(buf, size, "%s.%d", name, (int)getpid());
    else
        hak_snprintf(buf, size, "%s", name);
}

void hak_write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w <= 0)
            return;
        p += w;
        n -= (size_t)w;
    }
}

void hak_vmsg(const char *fmt, va_list ap)
{
    char buf[1024];
    int n = 8;
    memcpy(buf, "hakmem: ", (size_t)n);
    int w = hak_format(buf + n, (int)sizeof buf - n - 1, fmt, ap);
    n += w < (int)sizeof buf - n - 2 ? w : (int)sizeof buf - n - 2;
    buf[n++] = '\n';
    ssize_t r = write(STDERR_FILENO, buf, (size_t)n);
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
