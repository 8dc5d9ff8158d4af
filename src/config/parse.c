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

/* Digits of [*p, e) into an unsigned value; 0 on overflow or no digit. */
static int parse_digits(const char **p, const char *e, unsigned long long *out)
{
    const char *s = *p;
    unsigned long long v = 0;
    if (s >= e || !is_digit((unsigned char)*s))
        return 0;
    while (s < e && is_digit((unsigned char)*s)) {
        unsigned d = (unsigned)(*s - '0');
        if (v > (~0ULL - d) / 10)
            return 0;
        v = v * 10 + d;
        s++;
    }
    *p = s;
    *out = v;
    return 1;
}

hak_parse_err_t hak_parse_int(const char *text, long long *out)
{
    const char *b, *e;
    trim(text, &b, &e);
    int neg = 0;
    if (b < e && (*b == '-' || *b == '+'))
        neg = *b++ == '-';
    unsigned long long v;
    if (!parse_digits(&b, e, &v) || b != e)
        return HAK_PARSE_NOT_INT;
    if (v > (unsigned long long)9223372036854775807LL + (unsigned)neg)
        return HAK_PARSE_RANGE;
    *out = neg ? (long long)(0 - v) : (long long)v;
    return HAK_PARSE_OK;
}

hak_parse_err_t hak_parse_size(const char *text, long long *out)
{
    const char *b, *e;
    trim(text, &b, &e);
    if (b < e && *b == '+')
        b++;
    unsigned long long v;
    if (!parse_digits(&b, e, &v))
        return HAK_PARSE_NOT_SIZE;
    unsigned shift = 0;
    if (b < e) {
        switch (lower((unsigned char)*b)) {
        case 'k': shift = 10; break;
        case 'm': shift = 20; break;
        case 'g': shift = 30; break;
        case 'b': shift = 0; break;
        default: return HAK_PARSE_NOT_SIZE;
        }
        if (lower((unsigned char)*b) != 'b') {
            b++;
            /* optional "B" or "iB" after the multiplier */
            if (b < e && lower((unsigned char)*b) == 'i')
                b++;
        }
        if (b < e && lower((unsigned char)*b) == 'b')
            b++;
        if (b != e)
            return HAK_PARSE_NOT_SIZE;
    }
    if (v > (9223372036854775807ULL >> shift))
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

/* Range of a knob from the generated table, or the given fallback when it is absent. */
static void knob_range(const char *key, long long *lo, long long *hi, long long dlo, long long dhi)
{
    *lo = dlo;
    *hi = dhi;
    for (unsigned i = 0; i < hak_option_count; i++) {
        if (strcmp(hak_option_table[i].key, key) == 0) {
            *lo = (long long)hak_option_table[i].min;
            *hi = (long long)hak_option_table[i].max;
            return;
        }
    }
}

/* One integer field of an override entry: digits up to ':' / ',' / end. */
static int override_field(const char **p, const char *e, long long *out)
{
    const char *s = *p;
    while (s < e && is_blank((unsigned char)*s))
        s++;
    unsigned long long v;
    if (!parse_digits(&s, e, &v) || v > 1000000000ULL)
        return 0;
    while (s < e && is_blank((unsigned char)*s))
        s++;
    *p = s;
    *out = (long long)v;
    return 1;
}

int hak_parse_class_override_msg(const char *text, hak_class_override_t out[], int max,
                                 char *msg, size_t msglen)
{
    long long cap_lo, cap_hi, ref_lo, ref_hi;
    knob_range("tiny_tls_cap", &cap_lo, &cap_hi, 16, 1024);
    knob_range("tiny_tls_refill", &ref_lo, &ref_hi, 4, 256);
    const char *b, *e;
    trim(text, &b, &e);
    int n = 0;
    unsigned seen = 0;
    if (b == e)
        return 0;
    const char *p = b;
    for (int idx = 1;; idx++) {
        /* entry: [C]class:cap:refill */
        while (p < e && is_blank((unsigned char)*p))
            p++;
        if (p < e && lower((unsigned char)*p) == 'c')
            p++;
        long long cls, cap, refill;
        if (!override_field(&p, e, &cls) || p >= e || *p != ':') {
            set_msg(msg, msglen, "entry %d: expected Cn:cap:refill (class 0-%d)", idx,
                    HAK_TINY_CLASSES - 1);
            return -1;
        }
        p++;
        if (!override_field(&p, e, &cap) || p >= e || *p != ':') {
            set_msg(msg, msglen, "entry %d: expected Cn:cap:refill", idx);
            return -1;
        }
        p++;
        if (!override_field(&p, e, &refill) || (p < e && *p != ',')) {
            set_msg(msg, msglen, "entry %d: expected Cn:cap:refill", idx);
            return -1;
        }
        if (cls < 0 || cls >= HAK_TINY_CLASSES) {
            set_msg(msg, msglen, "entry %d: class %lld outside 0-%d", idx, cls,
                    HAK_TINY_CLASSES - 1);
            return -1;
        }
        if (cap < cap_lo || cap > cap_hi) {
            set_msg(msg, msglen, "entry %d: cap %lld outside %lld-%lld", idx, cap, cap_lo,
                    cap_hi);
            return -1;
        }
        if (refill < ref_lo || refill > ref_hi) {
            set_msg(msg, msglen, "entry %d: refill %lld outside %lld-%lld", idx, refill, ref_lo,
                    ref_hi);
            return -1;
        }
        if (refill > cap) {
            set_msg(msg, msglen, "entry %d: refill %lld larger than cap %lld", idx, refill, cap);
            return -1;
        }
        if (seen & (1u << cls)) {
            set_msg(msg, msglen, "entry %d: class %lld given twice", idx, cls);
            return -1;
        }
        seen |= 1u << cls;
        if (n >= max) {
            set_msg(msg, msglen, "more than %d entries", max);
            return -1;
        }
        out[n].cls = (int)cls;
        out[n].cap = (int)cap;
        out[n].refill = (int)refill;
        n++;
        if (p >= e)
            break;
        p++; /* ',' */
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
    if (b == e)
        return 0;
    int n = 0;
    const char *p = b;
    for (int idx = 1;; idx++) {
        while (p < e && is_blank((unsigned char)*p))
            p++;
        const char *end;
        double v;
        if (!parse_float_span(p, e, &end, &v)) {
            set_msg(msg, msglen, "entry %d: not a number", idx);
            return -1;
        }
        p = end;
        while (p < e && is_blank((unsigned char)*p))
            p++;
        if (p < e && *p != ',') {
            set_msg(msg, msglen, "entry %d: not a number", idx);
            return -1;
        }
        if (lo < hi && (v < lo || v > hi)) {
            char a[32], c[32], d[32];
            hak_format_double(a, sizeof a, v);
            hak_format_double(c, sizeof c, lo);
            hak_format_double(d, sizeof d, hi);
            set_msg(msg, msglen, "entry %d: %s outside %s-%s", idx, a, c, d);
            return -1;
        }
        if (n >= max) {
            set_msg(msg, msglen, "more than %d entries", max);
            return -1;
        }
        out[n++] = v;
        if (p >= e)
            break;
        p++;
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
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, len, "%.*g", prec, v);
        double back;
        if (hak_parse_float(buf, &back) == HAK_PARSE_OK && back == v)
            break;
    }
}
