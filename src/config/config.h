/* config.h — run-time configuration: HAKMEM_* environment applied to hak_cfg through the generated option table. */
#ifndef HAK_CONFIG_H
#define HAK_CONFIG_H

/* Apply, in order, the compiled-in defaults (hak_cfg as initialised by the generated
 * hak_options.c), the HAKMEM_MODE preset and every individual HAKMEM_* variable.
 * Never allocates, never aborts: a bad value is reported on stderr in one line and the
 * previous value is kept. Called once by hak_init(); calling it again starts over from the
 * compiled-in defaults (the C unit tests do that). */
void hak_config_load(void);

/* Where the value of a knob came from. */
typedef enum hak_cfg_source {
    HAK_SRC_DEFAULT = 0, /* compiled-in default of this .so's mode */
    HAK_SRC_MODE,        /* HAKMEM_MODE preset */
    HAK_SRC_ENV,         /* its own HAKMEM_* variable */
    HAK_SRC_ALIAS,       /* a deprecated alias of that variable */
    HAK_SRC_MALLOPT,     /* changed at run time through mallopt() */
} hak_cfg_source_t;

hak_cfg_source_t hak_config_source(unsigned opt);
/* The variable that set the knob (canonical or alias name); NULL unless source is ENV/ALIAS. */
const char *hak_config_source_env(unsigned opt);
/* Name of the HAKMEM_MODE preset applied by the last hak_config_load(), or NULL. */
const char *hak_config_preset(void);
/* "default", "mode", "env", "alias" or "mallopt". */
const char *hak_config_source_name(hak_cfg_source_t src);

/* Set integer knob `opt` (its generated id, HAK_OPT_<KEY>; int or size type) after start-up, checked
 * against the table's range, and record `src` as where it came from. 0 when stored; -1 when it is
 * not an integer knob or is compiled out of this .so; -2 when v is out of range (it keeps its value). */
int hak_config_set_int(unsigned opt, long long v, hak_cfg_source_t src);
/* The declared range of integer knob `opt`: 0 with *lo, *hi set; -1 as for hak_config_set_int. */
int hak_config_int_range(unsigned opt, long long *lo, long long *hi);

/* Nonzero when the process runs with AT_SECURE (setuid/setgid/capabilities): then every
 * HAKMEM_* variable is ignored, as glibc ignores its malloc tunables. Defined weak so a
 * test driver linked statically with src/config can force the secure path. */
int hak_config_secure(void);

#endif
