/* Hand-made stand-in for generated/<mode>/hak_mode.h (mode "fake"), used by the C
 * configuration tests when no generated mode is available. Shape per docs/ARCHITECTURE.md. */
#ifndef HAK_MODE_H
#define HAK_MODE_H

#define HAK_MODE_NAME "fast"
#define HAK_FEATURE_STATS 1
#define HAK_FEATURE_TINY 1
#define HAK_FEATURE_ALLOC_LEARN 0

enum hak_option_id {
    HAK_OPT_MODE,
    HAK_OPT_DEBUG_LEVEL,
    HAK_OPT_STATS_ENABLE,
    HAK_OPT_TINY_TLS_CAP,
    HAK_OPT_TINY_TLS_REFILL,
    HAK_OPT_BIGCACHE_MAX,
    HAK_OPT_ALLOC_LEARN,
    HAK_OPT_ALLOC_LEARN_RATE,
    HAK_OPT_FREE_POLICY,
    HAK_OPT_TINY_TLS_CLASS_OVERRIDE,
    HAK_OPT_WMAX_CANDIDATES_MID,
    HAK_OPT_TRACE_FILE,
    HAK_OPT_TARGET_HIT_MID,
    HAK_OPT__COUNT
};

enum { HAK_FREE_POLICY_BATCH, HAK_FREE_POLICY_KEEP, HAK_FREE_POLICY_ADAPTIVE };

typedef struct hak_config {
    int mode;
    long long debug_level;
    int stats_enable;
    long long tiny_tls_cap;
    long long tiny_tls_refill;
    long long bigcache_max;
    int alloc_learn;
    double alloc_learn_rate;
    int free_policy;
    char tiny_tls_class_override[256];
    char wmax_candidates_mid[256];
    char trace_file[256];
    double target_hit_mid;
} hak_config_t;

extern hak_config_t hak_cfg;

#endif
