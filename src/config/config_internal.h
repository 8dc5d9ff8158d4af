/* config_internal.h — state shared by the loader (config.c) and the dump (dump.c). */
#ifndef HAK_CONFIG_INTERNAL_H
#define HAK_CONFIG_INTERNAL_H

#include <stddef.h>

#include "config.h"
#include "hak_mode.h"
#include "option_types.h"

#ifndef HAK_VARIANT_NAME
#define HAK_VARIANT_NAME "unknown"
#endif
#ifndef HAK_MODE_NAME
#define HAK_MODE_NAME "unknown"
#endif

/* Room for the per-knob bookkeeping; the generated table is checked against it at load. */
#ifdef HAK_OPT__COUNT
#define HAK_CFG_SLOTS ((unsigned)HAK_OPT__COUNT)
#else
#define HAK_CFG_SLOTS 512u
#endif

extern hak_config_t hak_cfg;

/* Address of knob i's field inside hak_cfg. */
static inline void *hak_cfg_field(const hak_option_desc_t *o)
{
    return (char *)&hak_cfg + o->offset;
}

/* Current value of knob i in environment syntax ("64", "1", "lifo", "C0:32:8"). */
void hak_config_format_value(const hak_option_desc_t *o, char *buf, size_t len);

/* Index of the option whose key is `key`, or -1. */
int hak_config_find_key(const char *key);

/* Current value of an int-typed knob by key (bool/int/size/choice), or dflt when absent. */
long long hak_config_int_by_key(const char *key, long long dflt);

/* 1 once hak_config_load() has run. */
int hak_config_loaded(void);

/* Text dump with every line prefixed by `prefix` (used for stderr at debug_level >= 2). */
void hak_config_dump_prefixed(int fd, int json, const char *prefix);

#endif
