/* parse.c — value parsers for HAKMEM_* variables: no malloc, no locale, no errno games. */
#include "parse.h"
#include "option_types.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int lower(int c) { return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c; }
static int is_blank(int c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
static int is_digit(int c) { return c >= '0' && c <= '9'; }

/* Trimmed view [*b, *e) of text. */
static void trim(const char *text, const char **b, const char **e)
{
    const char *s = text, *t = text + strlen(text);
    while (s < t && is_blank((unsigned char)*s))
        s++;
    while (t > s && is_blank((unsigned char)t[-1]))
        t--;
    *b = s;
    *e = t;
}

static int word_eq(const char *b, const char *e, const char *w)
{
    size_t n = (size_t)(e - b);
    if (strlen(w) != n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (lower((unsigned char)b[i]) != lower((unsigned char)w[i]))
            return 0;
    return 1;
}

hak_parse_err_t hak_parse_bool(const char *text, int *out)
{
    static const char *const yes[] = {"1", "true", "on", "yes", NULL};
    static const char *const no[] = {"0", "false", "off", "no", NULL};
    const char *b, *e;
    trim(text, &b, &e);
    for (int i = 0; yes[i]; i++) {
        if (word_eq(b, e, yes[i])) {
            *out = 1;
            return HAK_PARSE_OK;
        }
        if (word_eq(b, e, no[i])) {
            *out = 0;
            return HAK_PARSE_OK;
        }
    }
    return HAK_PARSE_NOT_BOOL;
}

/* Digits of [*p, e) into an unsigned value: 1 when read, 0 when there is no digit, 2 when
 * the digits overflow (then *p is past them and *out is saturated). */
static int parse_digits(const char **p, const char *e, unsigned long long *out)
{
    const char *s = *p;
    unsigned long long v = 0;
    int over = 0;
    if (s >= e || !is_digit((unsigned char)*s))
        return 0;
    while (s < e && is_digit((unsigned char)*s)) {
        unsigned d = (unsigned)(*s - '0');
        if (v > (~0ULL - d) / 10)
            over = 1, v = ~0ULL;
        else if (!over)
            v = v * 10 + d;
        s++;
    }
    *p = s;
    *out = v;
    return over ? 2 : 1;
}

hak_parse_err_t hak_parse_int(const char *text, long long *out)
{
    const char *b, *e;
    trim(text, &b, &e);
    int neg = 0;
    if (b < e && (*b == '-' || *b == '+'))
        neg = *b++ == '-';
    unsigned long long v;
    int got = parse_digits(&b, e, &v);
    if (!got || b != e)
        return HAK_PARSE_NOT_INT;
    if (got == 2 || v > (unsigned long long)9223372036854775807LL + (unsigned)neg)
        return HAK_PARSE_RANGE;
    *out = neg ? (long long)(0 - v) : (long long)v;
    return HAK_PARSE_OK;
}

hak_parse_err_t hak_parse_size(const char *text, long long *out)
{
    const char *b, *e;
    trim(text, &b, &e);
    unsigned long long v;
    int got = parse_digits(&b, e, &v);
    if (!got)
        return HAK_PARSE_NOT_SIZE;
    unsigned shift = 0;
    if (b < e) {
        switch (lower((unsigned char)*b)) {
        case 'k': shift = 10; break;
        case 'm': shift = 20; break;
        case 'g': shift = 30; break;
        default: return HAK_PARSE_NOT_SIZE;
        }
        if (++b != e)
            return HAK_PARSE_NOT_SIZE;
    }
    if (got == 2 || v > (9223372036854775807ULL >> shift))
        return HAK_PARSE_RANGE;
    *out = (long long)(v << shift);
    return HAK_PARSE_OK;
}

static const double pow10_exact[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                     1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                     1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* Parse a decimal fraction in [b, e); sets *end past it. Returns 0 when there is none. */
static int parse_float_span(const char *b, const char *e, const char **end, double *out)
{
    const char *s = b;
    int neg = 0;
    if (s < e && (*s == '-' || *s == '+'))
        neg = *s++ == '-';
    unsigned long long mant = 0;
    int digits = 0, any = 0, exp10 = 0;
    while (s < e && is_digit((unsigned char)*s)) {
        any = 1;
        if (digits < 19) {
            mant = mant * 10 + (unsigned)(*s - '0');
            if (mant)
                digits++;
        } else {
            exp10++;
        }
        s++;
    }
    if (s < e && *s == '.') {
        s++;
        while (s < e && is_digit((unsigned char)*s)) {
            any = 1;
            if (digits < 19) {
                mant = mant * 10 + (unsigned)(*s - '0');
                if (mant)
                    digits++;
                exp10--;
            }
            s++;
        }
    }
    if (!any)
        return 0;
    if (s < e && lower((unsigned char)*s) == 'e') {
        const char *q = s + 1;
        int eneg = 0;
        if (q < e && (*q == '-' || *q == '+'))
            eneg = *q++ == '-';
        if (q >= e || !is_digit((unsigned char)*q))
            return 0;
        int x = 0;
        while (q < e && is_digit((unsigned char)*q)) {
            if (x < 10000)
                x = x * 10 + (*q - '0');
            q++;
        }
        exp10 += eneg ? -x : x;
        s = q;
    }
    double v = (double)mant;
    if (mant == 0) {
        v = 0.0;
    } else if (mant < (1ULL << 53) && exp10 >= -22 && exp10 <= 22) {
        /* one correctly rounded operation: the result is the nearest double */
        v = exp10 < 0 ? v / pow10_exact[-exp10] : v * pow10_exact[exp10];
    } else {
        if (exp10 > 400 || exp10 < -400)
            return 0; /* overflow / underflow: not a usable knob value */
        while (exp10 > 0) {
            int k = exp10 > 22 ? 22 : exp10;
            v *= pow10_exact[k];
            exp10 -= k;
        }
        while (exp10 < 0) {
            int k = -exp10 > 22 ? 22 : -exp10;
            v /= pow10_exact[k];
            exp10 += k;
        }
        if (v > 1.7976931348623157e308)
            return 0;
    }
    *end = s;
    *out = neg ? -v : v;
    return 1;
}

hak_parse_err_t hak_parse_float(const char *text, double *out)
{
    const char *b, *e, *end;
    trim(text, &b, &e);
    double v;
    if (!parse_float_span(b, e, &end, &v) || end != e)
        return HAK_PARSE_NOT_FLOAT;
    *out = v;
    return HAK_PARSE_OK;
}

int hak_parse_choice(const char *text, const char *const *choices)
{
    const char *b, *e;
    trim(text, &b, &e);
    for (int i = 0; choices && choices[i]; i++)
        if (word_eq(b, e, choices[i]))
            return i;
    return -1;
}

static void set_msg(char *msg, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set_msg(char *msg, size_t len, const char *fmt, ...)
{
    if (!msg || !len)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, len, fmt, ap);
    va_end(ap);
}

/* Copy [b, e) trimmed into buf (clipped) for messages. */
static void item_text(const char *b, const char *e, char *buf, size_t len)
{
    while (b < e && is_blank((unsigned char)*b))
        b++;
    while (e > b && is_blank((unsigned char)e[-1]))
        e--;
    size_t n = (size_t)(e - b);
    if (n > len - 1)
        n = len - 1;
    memcpy(buf, b, n);
    buf[n] = '\0';
}

/* The item of a comma-separated list starting at p (before e), trimmed into buf; returns its end: the comma or e. */
static const char *next_item(const char *p, const char *e, char *buf, size_t len)
{
    const char *q = p;
    while (q < e && *q != ',')
        q++;
    item_text(p, q, buf, len);
    return q;
}


int hak_parse_class_override_msg(const char *text, hak_class_override_t out[], int max,
                                 char *msg, size_t msglen)
{
    static const struct { const char *what; long long lo, hi; } lim[3] = {
        {"class", 0, HAK_TINY_CLASSES - 1},
        {"cap", HAK_CLASS_OVERRIDE_CAP_MIN, HAK_CLASS_OVERRIDE_CAP_MAX},
        {"refill", HAK_CLASS_OVERRIDE_REFILL_MIN, HAK_CLASS_OVERRIDE_REFILL_MAX},
    };
    const char *b, *e;
    trim(text, &b, &e);
    if (b == e)
        return 0;
    int n = 0;
    unsigned seen = 0;
    for (const char *p = b, *q;; p = q + 1) {
        char item[96];
        q = next_item(p, e, item, sizeof item);
        /* C<class>:<cap>:<refill>, no blanks inside */
        const char *s = item, *t = item + strlen(item);
        unsigned long long f[3];
        int ok = s < t && lower((unsigned char)*s) == 'c';
        if (ok)
            s++;
        for (int k = 0; ok && k < 3; k++) {
            ok = parse_digits(&s, t, &f[k]) != 0;
            if (ok && k < 2)
                ok = s < t && *s++ == ':';
        }
        if (!ok || s != t) {
            set_msg(msg, msglen, "'%s' is not class:cap:refill (e.g. C0:256:16)", item);
            return -1;
        }
        for (int k = 0; k < 3; k++) {
            if ((long long)f[k] < lim[k].lo || f[k] > (unsigned long long)lim[k].hi) {
                set_msg(msg, msglen, "'%s': %s %llu is out of range [%lld, %lld]", item,
                        lim[k].what, f[k], lim[k].lo, lim[k].hi);
                return -1;
            }
        }
        if (f[2] > f[1]) {
            set_msg(msg, msglen, "'%s': refill %llu exceeds cap %llu", item, f[2], f[1]);
            return -1;
        }
        if (seen & (1u << f[0])) {
            set_msg(msg, msglen, "'%s': class C%llu given twice", item, f[0]);
            return -1;
        }
        seen |= 1u << f[0];
        if (n >= max) {
            set_msg(msg, msglen, "more than %d entries", max);
            return -1;
        }
        out[n].cls = (int)f[0];
        out[n].cap = (int)f[1];
        out[n].refill = (int)f[2];
        n++;
        if (q >= e)
            break;
    }
    return n;
}

int hak_parse_class_override(const char *text, hak_class_override_t out[], int max)
{
    return hak_parse_class_override_msg(text, out, max, NULL, 0);
}

int hak_parse_float_list_msg(const char *text, double out[], int max, double lo, double hi,
                             char *msg, size_t msglen)
{
    const char *b, *e;
    trim(text, &b, &e);
    /* every item present: no empty list, no empty item */
    int items = 0, empty = 0;
    for (const char *p = b, *q;; p = q + 1) {
        char item[64];
        q = next_item(p, e, item, sizeof item);
        empty |= item[0] == '\0';
        items++;
        if (q >= e)
            break;
    }
    if (empty) {
        set_msg(msg, msglen, "'%s' is not a comma-separated list of numbers", text);
        return -1;
    }
    if (items > HAK_FLOAT_LIST_MAX) {
        set_msg(msg, msglen, "%d values given, at most %d allowed", items, HAK_FLOAT_LIST_MAX);
        return -1;
    }
    int n = 0;
    for (const char *p = b, *q;; p = q + 1) {
        char item[64];
        q = next_item(p, e, item, sizeof item);
        double v;
        if (hak_parse_float(item, &v) != HAK_PARSE_OK) {
            set_msg(msg, msglen, "'%s' is not a number", item);
            return -1;
        }
        if (lo < hi && (v < lo || v > hi)) {
            char a[32], c[32];
            hak_repr_double(a, sizeof a, lo);
            hak_repr_double(c, sizeof c, hi);
            set_msg(msg, msglen, "%s is out of range [%s, %s]", item, a, c);
            return -1;
        }
        if (n >= max) {
            set_msg(msg, msglen, "more than %d entries", max);
            return -1;
        }
        out[n++] = v;
        if (q >= e)
            break;
    }
    return n;
}

int hak_parse_float_list(const char *text, double out[], int max)
{
    return hak_parse_float_list_msg(text, out, max, 0.0, 0.0, NULL, 0);
}

int hak_edit_distance(const char *a, const char *b)
{
    enum { N = 64 };
    int la = (int)strlen(a), lb = (int)strlen(b);
    if (la > N - 1)
        la = N - 1;
    if (lb > N - 1)
        lb = N - 1;
    int prev[N], cur[N];
    for (int j = 0; j <= lb; j++)
        prev[j] = j;
    for (int i = 1; i <= la; i++) {
        cur[0] = i;
        for (int j = 1; j <= lb; j++) {
            int sub = prev[j - 1] + (lower((unsigned char)a[i - 1]) != lower((unsigned char)b[j - 1]));
            int del = prev[j] + 1, ins = cur[j - 1] + 1;
            int m = sub < del ? sub : del;
            cur[j] = m < ins ? m : ins;
        }
        memcpy(prev, cur, sizeof(int) * (size_t)(lb + 1));
    }
    return prev[lb];
}

void hak_format_double(char *buf, size_t len, double v)
{
    /* Shortest digits that read back as v, laid out as Python's repr() does: fixed
     * notation for decimal exponents -4..15, otherwise d.ddde+XX. */
    char tmp[40];
    int prec = 1;
    for (; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*e", prec - 1, v);
        double back;
        if (hak_parse_float(tmp, &back) == HAK_PARSE_OK && back == v)
            break;
    }
    if (prec > 17)
        prec = 17;
    const char *e = strchr(tmp, 'e');
    int x = 0;
    if (e) {
        int neg = e[1] == '-';
        for (const char *q = e + 2; *q; q++)
            x = x * 10 + (*q - '0');
        if (neg)
            x = -x;
    }
    if (v == 0.0)
        x = 0;
    if (x >= -4 && x < 16) {
        int decimals = prec - 1 - x;
        snprintf(buf, len, "%.*f", decimals > 0 ? decimals : 0, v);
    } else {
        snprintf(buf, len, "%s", tmp);
    }
}

void hak_repr_double(char *buf, size_t len, double v)
{
    hak_format_double(buf, len, v);
    if (!strpbrk(buf, ".eEn") && strlen(buf) + 2 < len)
        strcat(buf, ".0");
}

void hak_format_size(char *buf, size_t len, long long v)
{
    static const struct { char suffix; int shift; } units[] = {{'G', 30}, {'M', 20}, {'K', 10}};
    for (int i = 0; i < 3; i++) {
        long long unit = 1LL << units[i].shift;
        if (v && v % unit == 0) {
            snprintf(buf, len, "%lld%c", v / unit, units[i].suffix);
            return;
        }
    }
    snprintf(buf, len, "%lld", v);
}
