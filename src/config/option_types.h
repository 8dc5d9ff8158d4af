/* option_types.h — the shape of the generated option table (templates/hak_options.c.j2). */
#ifndef HAK_OPTION_TYPES_H
#define HAK_OPTION_TYPES_H

#include <stddef.h>

typedef enum hak_opt_type {
    HAK_T_BOOL,   /* 0/1, true/false, on/off, yes/no          -> int       */
    HAK_T_INT,    /* decimal integer                           -> long long */
    HAK_T_SIZE,   /* integer with optional K/M/G suffix        -> long long */
    HAK_T_FLOAT,  /* decimal fraction                          -> double    */
    HAK_T_CHOICE, /* one of `choices` (case-insensitive)       -> int index */
    HAK_T_LIST,   /* comma-separated list, checked by `format` -> char[256] */
    HAK_T_STRING, /* free text such as a file path             -> char[256] */
} hak_opt_type_t;

#define HAK_LIST_MAX 256

typedef struct hak_option_desc {
    const char *key;              /* "tiny_tls_cap" */
    const char *env;              /* "HAKMEM_TINY_TLS_CAP" */
    hak_opt_type_t type;
    const char *feature;          /* feature the knob belongs to */
    int compiled_in;              /* that feature is compiled into this .so */
    size_t offset;                /* offsetof(hak_config_t, <key>) */
    double min, max;              /* range for int/size/float */
    const char *const *choices;   /* choice: NULL-terminated list */
    const char *format;           /* list: "class_override" or "float_list" */
    const char *def;              /* this mode's default, as text */
    const char *const *aliases;   /* deprecated env names, NULL-terminated (may be NULL) */
    const char *sunset;           /* sunset date of the aliases ("2026-05-26") */
    const char *doc;              /* one line */
} hak_option_desc_t;

typedef struct hak_preset_value {
    const char *env;              /* canonical env name */
    const char *value;            /* as text, parsed like the environment */
} hak_preset_value_t;

typedef struct hak_mode_preset {
    const char *name;                      /* "balanced" */
    const char *const *features;           /* features the mode compiles in, NULL-terminated */
    const hak_preset_value_t *values;      /* that mode's defaults, {NULL, NULL}-terminated */
} hak_mode_preset_t;

typedef struct hak_feature_desc {
    const char *name;             /* "stats" */
    int compiled_in;
    const char *doc;
} hak_feature_desc_t;

extern const hak_option_desc_t hak_option_table[];
extern const unsigned hak_option_count;
extern const hak_mode_preset_t hak_mode_presets[];
extern const unsigned hak_mode_preset_count;
extern const hak_feature_desc_t hak_features[];
extern const unsigned hak_feature_count;

#endif
