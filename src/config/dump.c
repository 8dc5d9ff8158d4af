/* dump.c — hak_config_dump(): the effective configuration (value and source of every knob)
 * as a text table or JSON, written to a file descriptor from a stack buffer. */
#include "config_internal.h"
#include "log.h"
#include "parse.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "hakmem.h"

typedef struct out {
    int fd;
    size_t n;
    char buf[4096];
} out_t;

static void flush(out_t *o)
{
    hak_write_all(o->fd, o->buf, o->n);
    o->n = 0;
}

static void put(out_t *o, const char *s, size_t len)
{
    while (len) {
        if (o->n == sizeof o->buf)
            flush(o);
        size_t c = sizeof o->buf - o->n;
        if (c > len)
            c = len;
        memcpy(o->buf + o->n, s, c);
        o->n += c;
        s += c;
        len -= c;
    }
}

static void puts_(out_t *o, const char *s) { put(o, s, strlen(s)); }

static void printf_(out_t *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void printf_(out_t *o, const char *fmt, ...)
{
    char tmp[768];
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (w < 0)
        return;
    put(o, tmp, (size_t)w < sizeof tmp ? (size_t)w : sizeof tmp - 1);
}

static void json_str(out_t *o, const char *s)
{
    puts_(o, "\"");
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            put(o, e, 2);
        } else if (c < 0x20) {
            printf_(o, "\\u%04x", c);
        } else {
            put(o, (const char *)&c, 1);
        }
    }
    puts_(o, "\"");
}

static void json_value(out_t *o, const hak_option_desc_t *d)
{
    char v[HAK_LIST_MAX];
    hak_config_format_value(d, v, sizeof v);
    switch (d->type) {
    case HAK_T_BOOL: puts_(o, strcmp(v, "0") ? "true" : "false"); break;
    case HAK_T_INT:
    case HAK_T_SIZE:
    case HAK_T_FLOAT: puts_(o, v); break;
    default: json_str(o, v); break;
    }
}

static const char *type_name(hak_opt_type_t t)
{
    static const char *const names[] = {"bool", "int", "size", "float", "choice", "list",
                                        "string"};
    return (unsigned)t < sizeof names / sizeof names[0] ? names[t] : "?";
}

static void dump_json(out_t *o)
{
    puts_(o, "{\"mode\": ");
    json_str(o, HAK_MODE_NAME);
    puts_(o, ", \"variant\": ");
    json_str(o, HAK_VARIANT_NAME);
    puts_(o, ", \"preset\": ");
    if (hak_config_preset())
        json_str(o, hak_config_preset());
    else
        puts_(o, "null");
    printf_(o, ", \"secure\": %s", hak_config_secure() ? "true" : "false");
    puts_(o, ",\n \"features\": {");
    for (unsigned i = 0; i < hak_feature_count; i++) {
        puts_(o, i ? ", " : "");
        json_str(o, hak_features[i].name);
        puts_(o, hak_features[i].compiled_in ? ": true" : ": false");
    }
    puts_(o, "},\n \"options\": {");
    for (unsigned i = 0; i < hak_option_count; i++) {
        const hak_option_desc_t *d = &hak_option_table[i];
        hak_cfg_source_t src = hak_config_source(i);
        puts_(o, i ? ",\n  " : "\n  ");
        json_str(o, d->key);
        puts_(o, ": {\"value\": ");
        json_value(o, d);
        puts_(o, ", \"source\": ");
        json_str(o, hak_config_source_name(src));
        puts_(o, ", \"env\": ");
        json_str(o, d->env);
        if (src == HAK_SRC_ALIAS) {
            puts_(o, ", \"alias\": ");
            json_str(o, hak_config_source_env(i));
        } else if (src == HAK_SRC_MODE) {
            puts_(o, ", \"preset\": ");
            json_str(o, hak_config_preset());
        }
        printf_(o, ", \"type\": \"%s\", \"feature\": ", type_name(d->type));
        json_str(o, d->feature ? d->feature : "");
        printf_(o, ", \"compiled_in\": %s}", d->compiled_in ? "true" : "false");
    }
    puts_(o, "\n }\n}\n");
}

static void dump_text(out_t *o, const char *prefix)
{
    printf_(o, "%sconfiguration of mode %s, variant %s; HAKMEM_MODE %s%s\n", prefix,
            HAK_MODE_NAME, HAK_VARIANT_NAME, hak_config_preset() ? "= " : "not set",
            hak_config_preset() ? hak_config_preset() : "");
    if (hak_config_secure())
        printf_(o, "%ssecure-execution process: HAKMEM_* variables ignored\n", prefix);
    printf_(o, "%sfeatures:", prefix);
    for (unsigned i = 0; i < hak_feature_count; i++)
        printf_(o, " %s=%s", hak_features[i].name, hak_features[i].compiled_in ? "on" : "off");
    puts_(o, "\n");
    for (unsigned i = 0; i < hak_option_count; i++) {
        const hak_option_desc_t *d = &hak_option_table[i];
        char v[HAK_LIST_MAX];
        hak_config_format_value(d, v, sizeof v);
        hak_cfg_source_t src = hak_config_source(i);
        char from[160];
        if (!d->compiled_in)
            snprintf(from, sizeof from, "compiled out (feature %s)", d->feature);
        else if (src == HAK_SRC_ALIAS)
            snprintf(from, sizeof from, "alias %s", hak_config_source_env(i));
        else if (src == HAK_SRC_MODE)
            snprintf(from, sizeof from, "mode %s", hak_config_preset());
        else
            snprintf(from, sizeof from, "%s", hak_config_source_name(src));
        printf_(o, "%s  %-40s = %-20s %s\n", prefix, d->env, v[0] ? v : "\"\"", from);
    }
}

void hak_config_dump_prefixed(int fd, int json, const char *prefix)
{
    out_t o;
    o.fd = fd;
    o.n = 0;
    if (json)
        dump_json(&o);
    else
        dump_text(&o, prefix ? prefix : "");
    flush(&o);
}

__attribute__((visibility("default"))) void hak_config_dump(int fd, int json)
{
    if (!hak_config_loaded())
        hak_config_load(); /* asked before the first allocation: show what init would use */
    hak_config_dump_prefixed(fd, json, "");
}
