/* dump_table.c — prints a mode's generated option table, presets, features and hak_cfg as JSON,
 * so the tests can compare the C view with modes/options.yaml as the loader reads it. */
#include <stdio.h>

#include "config/option_types.h"
#include "hak_mode.h"

static void str(const char *s)
{
    if (!s) {
        fputs("null", stdout);
        return;
    }
    putchar('"');
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            printf("\\%c", *s);
        else if ((unsigned char)*s < 0x20)
            printf("\\u%04x", *s);
        else
            putchar(*s);
    }
    putchar('"');
}

static void strs(const char *const *v)
{
    if (!v) {
        fputs("null", stdout);
        return;
    }
    putchar('[');
    for (int i = 0; v[i]; i++) {
        if (i)
            putchar(',');
        str(v[i]);
    }
    putchar(']');
}

static void value(const hak_option_desc_t *o)
{
    const char *field = (const char *)&hak_cfg + o->offset;
    switch (o->type) {
    case HAK_T_BOOL:
    case HAK_T_CHOICE:
        printf("%d", *(const int *)field);
        break;
    case HAK_T_INT:
    case HAK_T_SIZE:
        printf("%lld", *(const long long *)field);
        break;
    case HAK_T_FLOAT:
        printf("%.17g", *(const double *)field);
        break;
    case HAK_T_LIST:
    case HAK_T_STRING:
        str(field);
        break;
    }
}

int main(void)
{
    printf("{\"mode\":");
    str(HAK_MODE_NAME);
    printf(",\"count\":%u,\"options\":[", hak_option_count);
    for (unsigned i = 0; i < hak_option_count; i++) {
        const hak_option_desc_t *o = &hak_option_table[i];
        printf("%s{\"key\":", i ? "," : "");
        str(o->key);
        printf(",\"env\":");
        str(o->env);
        printf(",\"type\":%d,\"feature\":", (int)o->type);
        str(o->feature);
        printf(",\"compiled_in\":%d,\"min\":%.17g,\"max\":%.17g,\"choices\":", o->compiled_in, o->min, o->max);
        strs(o->choices);
        printf(",\"format\":");
        str(o->format);
        printf(",\"def\":");
        str(o->def);
        printf(",\"aliases\":");
        strs(o->aliases);
        printf(",\"sunset\":");
        str(o->sunset);
        printf(",\"doc\":");
        str(o->doc);
        printf(",\"value\":");
        value(o);
        putchar('}');
    }
    printf("],\"presets\":[");
    for (unsigned i = 0; i < hak_mode_preset_count; i++) {
        const hak_mode_preset_t *p = &hak_mode_presets[i];
        printf("%s{\"name\":", i ? "," : "");
        str(p->name);
        printf(",\"features\":");
        strs(p->features);
        printf(",\"values\":[");
        for (int j = 0; p->values[j].env; j++) {
            printf("%s[", j ? "," : "");
            str(p->values[j].env);
            putchar(',');
            str(p->values[j].value);
            putchar(']');
        }
        printf("]}");
    }
    printf("],\"features\":[");
    for (unsigned i = 0; i < hak_feature_count; i++) {
        printf("%s[", i ? "," : "");
        str(hak_features[i].name);
        printf(",%d,", hak_features[i].compiled_in);
        str(hak_features[i].doc);
        putchar(']');
    }
    printf("]}\n");
    return 0;
}
