/* Hand-made stand-in for generated/<mode>/hak_options.c: a small table that covers every
 * option type, a deprecated alias, a compiled-out feature and the five mode presets. */
#include <stddef.h>

#include "hak_mode.h"
#include "option_types.h"

static const char *const free_policy_choices[] = {"batch", "keep", "adaptive", NULL};
static const char *const alloc_learn_aliases[] = {"HAKMEM_LEARN", NULL};
static const char *const stats_aliases[] = {"HAKMEM_STATS", "HAKMEM_STATS_ON", NULL};

#define OPT(k, E, T, F, C, lo, hi, ch, fmt, def, al, sun, doc) \
    {#k, E, T, F, C, offsetof(hak_config_t, k), lo, hi, ch, fmt, def, al, sun, doc}

static const char *const mode_choices[] = {"minimal", "fast", "balanced", "learning", "research", NULL};

const hak_option_desc_t hak_option_table[] = {
    OPT(mode, "HAKMEM_MODE", HAK_T_CHOICE, "core", 1, 0, 0, mode_choices, NULL, "fast", NULL, NULL, "preset"),
    OPT(debug_level, "HAKMEM_DEBUG_LEVEL", HAK_T_INT, "core", 1, 0, 3, NULL, NULL, "0", NULL, NULL, "verbosity"),
    OPT(stats_enable, "HAKMEM_STATS_ENABLE", HAK_T_BOOL, "stats", 1, 0, 0, NULL, NULL, "0", stats_aliases, "2026-05-26", "stats"),
    OPT(tiny_tls_cap, "HAKMEM_TINY_TLS_CAP", HAK_T_INT, "tiny", 1, 16, 1024, NULL, NULL, "64", NULL, NULL, "tls cap"),
    OPT(tiny_tls_refill, "HAKMEM_TINY_TLS_REFILL", HAK_T_INT, "tiny", 1, 4, 256, NULL, NULL, "16", NULL, NULL, "refill"),
    OPT(bigcache_max, "HAKMEM_BIGCACHE_MAX", HAK_T_SIZE, "core", 1, 0, 1073741824.0, NULL, NULL, "64M", NULL, NULL, "bigcache bytes"),
    OPT(alloc_learn, "HAKMEM_ALLOC_LEARN", HAK_T_BOOL, "alloc_learn", 0, 0, 0, NULL, NULL, "0", alloc_learn_aliases, "2026-05-26", "learn"),
    OPT(alloc_learn_rate, "HAKMEM_ALLOC_LEARN_RATE", HAK_T_FLOAT, "alloc_learn", 0, 0.0, 1.0, NULL, NULL, "0.1", NULL, NULL, "rate"),
    OPT(free_policy, "HAKMEM_FREE_POLICY", HAK_T_CHOICE, "core", 1, 0, 0, free_policy_choices, NULL, "batch", NULL, NULL, "free policy"),
    OPT(tiny_tls_class_override, "HAKMEM_TINY_TLS_CLASS_OVERRIDE", HAK_T_LIST, "tiny", 1, 0, 0, NULL, "class_override", "", NULL, NULL, "per class"),
    OPT(wmax_candidates_mid, "HAKMEM_WMAX_CANDIDATES_MID", HAK_T_LIST, "core", 1, 1.0, 4.0, NULL, "float_list", "1.4,1.6", NULL, NULL, "wmax"),
    OPT(trace_file, "HAKMEM_TRACE_FILE", HAK_T_STRING, "core", 1, 0, 0, NULL, NULL, "", NULL, NULL, "trace path"),
    OPT(target_hit_mid, "HAKMEM_TARGET_HIT_MID", HAK_T_FLOAT, "core", 1, 0.5, 0.9, NULL, NULL, "0.65", NULL, NULL, "target"),
};
const unsigned hak_option_count = sizeof hak_option_table / sizeof hak_option_table[0];

static const char *const f_minimal[] = {"core", NULL};
static const char *const f_fast[] = {"core", "tiny", "stats", NULL};
static const char *const f_learning[] = {"core", "tiny", "stats", "alloc_learn", NULL};
static const hak_preset_value_t v_minimal[] = {{"HAKMEM_TINY_TLS_CAP", "16"}, {NULL, NULL}};
static const hak_preset_value_t v_fast[] = {{"HAKMEM_TINY_TLS_CAP", "64"}, {NULL, NULL}};
static const hak_preset_value_t v_balanced[] = {{"HAKMEM_TINY_TLS_CAP", "128"},
                                                {"HAKMEM_TINY_TLS_REFILL", "32"},
                                                {NULL, NULL}};
static const hak_preset_value_t v_learning[] = {{"HAKMEM_TINY_TLS_CAP", "256"},
                                                {"HAKMEM_ALLOC_LEARN", "1"},
                                                {"HAKMEM_FREE_POLICY", "adaptive"},
                                                {NULL, NULL}};
const hak_mode_preset_t hak_mode_presets[] = {
    {"minimal", f_minimal, v_minimal},   {"fast", f_fast, v_fast},
    {"balanced", f_fast, v_balanced},    {"learning", f_learning, v_learning},
    {"research", f_learning, v_learning},
};
const unsigned hak_mode_preset_count = sizeof hak_mode_presets / sizeof hak_mode_presets[0];

const hak_feature_desc_t hak_features[] = {
    {"core", 1, "core"},
    {"tiny", 1, "tiny tier"},
    {"stats", 1, "statistics"},
    {"alloc_learn", 0, "allocation learning"},
};
const unsigned hak_feature_count = sizeof hak_features / sizeof hak_features[0];

hak_config_t hak_cfg = {
    .mode = 1,
    .debug_level = 0,
    .stats_enable = 0,
    .tiny_tls_cap = 64,
    .tiny_tls_refill = 16,
    .bigcache_max = 64LL << 20,
    .alloc_learn = 0,
    .alloc_learn_rate = 0.1,
    .free_policy = HAK_FREE_POLICY_BATCH,
    .tiny_tls_class_override = "",
    .wmax_candidates_mid = "1.4,1.6",
    .trace_file = "",
    .target_hit_mid = 0.65,
};
