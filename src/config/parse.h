/* parse.h — allocation-free, locale-independent parsers for HAKMEM_* values and list formats. */
#ifndef HAK_CONFIG_PARSE_H
#define HAK_CONFIG_PARSE_H

#include <stddef.h>

/* Reasons, shared by every parser; hak_parse_reason() turns one into text. */
typedef enum hak_parse_err {
    HAK_PARSE_OK = 0,
    HAK_PARSE_NOT_BOOL,
    HAK_PARSE_NOT_INT,
    HAK_PARSE_NOT_SIZE,
    HAK_PARSE_NOT_FLOAT,
    HAK_PARSE_RANGE,
    HAK_PARSE_CHOICE,
    HAK_PARSE_TOO_LONG,
    HAK_PARSE_CONTROL,   /* text with control characters */
    HAK_PARSE_LIST,      /* details in the list parser's message buffer */
} hak_parse_err_t;

/* 0/1, true/false, on/off, yes/no (case-insensitive, surrounding blanks ignored). */
hak_parse_err_t hak_parse_bool(const char *text, int *out);
/* Decimal integer with optional sign. */
hak_parse_err_t hak_parse_int(const char *text, long long *out);
/* Non-negative integer with an optional K, M or G suffix (binary multiples). */
hak_parse_err_t hak_parse_size(const char *text, long long *out);
/* Decimal fraction: [sign] digits [. digits] [e exp]; no locale, no allocation. */
hak_parse_err_t hak_parse_float(const char *text, double *out);
/* Index of text in the NULL-terminated choices (case-insensitive), or -1. */
int hak_parse_choice(const char *text, const char *const *choices);

/* Per-class TLS cache override: "C0:256:16,C1:128:8" = class:cap:refill (refill <= cap, each
 * class at most once; the "C" is required). */
#define HAK_TINY_CLASSES 8
/* Limits of one override entry; the same numbers as tools/hakmem/values.py. */
#ifndef HAK_CLASS_OVERRIDE_CAP_MIN
#define HAK_CLASS_OVERRIDE_CAP_MIN 16
#define HAK_CLASS_OVERRIDE_CAP_MAX 2048
#define HAK_CLASS_OVERRIDE_REFILL_MIN 1
#define HAK_CLASS_OVERRIDE_REFILL_MAX 256
#endif
/* Most values in a float_list. */
#define HAK_FLOAT_LIST_MAX 16
typedef struct hak_class_override {
    int cls;    /* 0..HAK_TINY_CLASSES-1 */
    int cap;    /* within the range of tiny_tls_cap */
    int refill; /* within the range of tiny_tls_refill, and <= cap */
} hak_class_override_t;

/* Parse a class_override list into out[0..max). Returns the number of entries (0 for an
 * empty text), or -1 when malformed. The _msg form writes the reason into msg. */
int hak_parse_class_override(const char *text, hak_class_override_t out[], int max);
int hak_parse_class_override_msg(const char *text, hak_class_override_t out[], int max,
                                 char *msg, size_t msglen);

/* Parse "1.4,1.5" into out[0..max). Returns the count, or -1 when malformed (an empty list or
 * item, more than HAK_FLOAT_LIST_MAX values). The _msg form also checks each element against
 * [lo, hi] when lo < hi. Messages use the words of tools/hakmem/values.py. */
int hak_parse_float_list(const char *text, double out[], int max);
int hak_parse_float_list_msg(const char *text, double out[], int max, double lo, double hi,
                             char *msg, size_t msglen);

/* Levenshtein distance of two short strings (each clipped to 63 characters), case-insensitive. */
int hak_edit_distance(const char *a, const char *b);

/* Shortest "%.*g" text of v that reads back as v (for dumps and messages). */
void hak_format_double(char *buf, size_t len, double v);
/* The same, with ".0" added to an integral value (as Python's repr prints it). */
void hak_repr_double(char *buf, size_t len, double v);
/* Bytes as the shortest exact K/M/G text: 33554432 -> "32M". */
void hak_format_size(char *buf, size_t len, long long v);

#endif
