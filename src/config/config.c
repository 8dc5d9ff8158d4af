/* config.c — applies HAKMEM_MODE and HAKMEM_* variables to hak_cfg through the generated
 * option table. Runs inside the first malloc, possibly before libc is fully up: it reads
 * `environ` directly, parses with src/config/parse.c and reports with log.h — nothing here
 * allocates, and nothing here aborts. */
#include "config_internal.h"
#include "log.h"
#include "parse.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/auxv.h>

extern char **environ;

static unsigned char g_src[HAK_CFG_SLOTS];
static const char *g_src_env[HAK_CFG_SLOTS];
static const char *g_preset;
static hak_config_t g_defaults;
static int g_have_defaults;
static int g_loaded;

#define ENV_PREFIX "HAKMEM_"
#define MODE_ENV "HAKMEM_MODE"

__attribute__((weak, visibility("hidden"))) int hak_config_secure(void)
{
    return getauxval(AT_SECURE) != 0;
}

hak_cfg_source_t hak_config_source(unsigned opt)
{
    return opt < HAK_CFG_SLOTS ? (hak_cfg_source_t)g_src[opt] : HAK_SRC_DEFAULT;
}

const char *hak_config_source_env(unsigned opt)
{
    return opt < HAK_CFG_SLOTS ? g_src_env[opt] : NULL;
}

const char *hak_config_preset(void) { return g_preset; }

int hak_config_loaded(void) { return g_loaded; }

const char *hak_config_source_name(hak_cfg_source_t src)
{
    switch (src) {
    case HAK_SRC_MODE: return "mode";
    case HAK_SRC_ENV: return "env";
    case HAK_SRC_ALIAS: return "alias";
    case HAK_SRC_MALLOPT: return "mallopt";
    default: return "default";
    }
}

int hak_config_find_key(const char *key)
{
    for (unsigned i = 0; i < hak_option_count; i++)
        if (strcmp(hak_option_table[i].key, key) == 0)
            return (int)i;
    return -1;
}

long long hak_config_int_by_key(const char *key, long long dflt)
{
    int i = hak_config_find_key(key);
    if (i < 0)
        return dflt;
    const hak_option_desc_t *o = &hak_option_table[i];
    switch (o->type) {
    case HAK_T_BOOL:
    case HAK_T_CHOICE: return *(int *)hak_cfg_field(o);
    case HAK_T_INT:
    case HAK_T_SIZE: return *(long long *)hak_cfg_field(o);
    default: return dflt;
    }
}

/* Integer knob `opt` (its HAK_OPT_<KEY> id) when this .so compiles it in, or NULL. */
static const hak_option_desc_t *int_knob(unsigned opt)
{
    if (opt >= hak_option_count)
        return NULL;
    const hak_option_desc_t *o = &hak_option_table[opt];
    if (!o->compiled_in || (o->type != HAK_T_INT && o->type != HAK_T_SIZE))
        return NULL;
    return o;
}

int hak_config_int_range(unsigned opt, long long *lo, long long *hi)
{
    const hak_option_desc_t *o = int_knob(opt);
    if (!o)
        return -1;
    *lo = o->min < o->max ? (long long)o->min : LLONG_MIN;
    *hi = o->min < o->max ? (long long)o->max : LLONG_MAX;
    return 0;
}

int hak_config_set_int(unsigned opt, long long v, hak_cfg_source_t src)
{
    const hak_option_desc_t *o = int_knob(opt);
    if (!o)
        return -1;
    if (o->min < o->max && ((double)v < o->min || (double)v > o->max))
        return -2;
    *(long long *)hak_cfg_field(o) = v;
    if (opt < HAK_CFG_SLOTS) {
        g_src[opt] = (unsigned char)src;
        g_src_env[opt] = NULL;
    }
    return 0;
}

/* ---- environment access without getenv copies ---------------------------------------- */

/* Value of variable `name`, or NULL. The first occurrence wins, as with getenv. */
static const char *env_get(const char *name)
{
    if (!environ || !name)
        return NULL;
    size_t n = strlen(name);
    for (char **e = environ; *e; e++)
        if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
            return *e + n + 1;
    return NULL;
}

static int is_hakmem_var(const char *entry)
{
    return strncmp(entry, ENV_PREFIX, sizeof ENV_PREFIX - 1) == 0;
}

/* ---- values ------------------------------------------------------------------------- */

static int has_range(const hak_option_desc_t *o) { return o->min < o->max; }

/* "16–1024" for messages (sizes as 32K–1G, floats as Python prints them). */
static void format_bound(const hak_option_desc_t *o, double v, char *buf, size_t len)
{
    if (o->type == HAK_T_FLOAT || o->type == HAK_T_LIST)
        hak_repr_double(buf, len, v);
    else if (o->type == HAK_T_SIZE)
        hak_format_size(buf, len, (long long)v);
    else
        snprintf(buf, len, "%lld", (long long)v);
}

static void format_range(const hak_option_desc_t *o, char *buf, size_t len)
{
    char a[40], b[40];
    format_bound(o, o->min, a, sizeof a);
    format_bound(o, o->max, b, sizeof b);
    snprintf(buf, len, "%s\u2013%s", a, b);
}

static void format_choices(const hak_option_desc_t *o, char *buf, size_t len)
{
    size_t n = 0;
    buf[0] = '\0';
    for (int i = 0; o->choices && o->choices[i]; i++) {
        int w = snprintf(buf + n, len - n, "%s%s", i ? ", " : "", o->choices[i]);
        if (w < 0 || (size_t)w >= len - n)
            break;
        n += (size_t)w;
    }
}

void hak_config_format_value(const hak_option_desc_t *o, char *buf, size_t len)
{
    void *f = hak_cfg_field(o);
    switch (o->type) {
    case HAK_T_BOOL: snprintf(buf, len, "%d", *(int *)f ? 1 : 0); break;
    case HAK_T_INT:
    case HAK_T_SIZE: snprintf(buf, len, "%lld", *(long long *)f); break;
    case HAK_T_FLOAT: hak_format_double(buf, len, *(double *)f); break;
    case HAK_T_CHOICE: {
        int idx = *(int *)f, n = 0;
        while (o->choices && o->choices[n])
            n++;
        snprintf(buf, len, "%s", (idx >= 0 && idx < n) ? o->choices[idx] : "?");
        break;
    }
    case HAK_T_LIST:
    case HAK_T_STRING: snprintf(buf, len, "%s", (const char *)f); break;
    default: snprintf(buf, len, "?"); break;
    }
}

/* Reason a value is rejected, in the words the Python validator also uses. */
static void describe(const hak_option_desc_t *o, hak_parse_err_t err, const char *detail,
                     char *buf, size_t len)
{
    char range[96], allowed[112] = "";
    format_range(o, range, sizeof range);
    if (has_range(o))
        snprintf(allowed, sizeof allowed, " (allowed %s)", range);
    switch (err) {
    case HAK_PARSE_NOT_BOOL:
        snprintf(buf, len, "not a boolean (allowed 0/1, true/false, on/off, yes/no)");
        break;
    case HAK_PARSE_NOT_INT: snprintf(buf, len, "not an integer%s", allowed); break;
    case HAK_PARSE_NOT_SIZE:
        snprintf(buf, len, "not a size: digits with an optional K, M or G suffix%s", allowed);
        break;
    case HAK_PARSE_NOT_FLOAT: snprintf(buf, len, "not a number%s", allowed); break;
    case HAK_PARSE_RANGE: snprintf(buf, len, "out of range%s", allowed); break;
    case HAK_PARSE_CHOICE: {
        char ch[256];
        format_choices(o, ch, sizeof ch);
        snprintf(buf, len, "not one of %s", ch);
        break;
    }
    case HAK_PARSE_TOO_LONG:
        snprintf(buf, len, "text is longer than %d bytes", HAK_LIST_MAX - 1);
        break;
    case HAK_PARSE_CONTROL: snprintf(buf, len, "text contains control characters"); break;
    case HAK_PARSE_LIST: snprintf(buf, len, "%s", detail ? detail : "malformed list"); break;
    default: snprintf(buf, len, "invalid"); break;
    }
}

static int has_control(const char *text)
{
    for (const unsigned char *p = (const unsigned char *)text; *p; p++)
        if (*p < 0x20)
            return 1;
    return 0;
}

/* Parse text for knob o and store it in hak_cfg. Returns HAK_PARSE_OK or the reason (then
 * hak_cfg is untouched and `detail` may hold the list parser's message). */
static hak_parse_err_t store(const hak_option_desc_t *o, const char *text, char *detail,
                             size_t dlen)
{
    void *f = hak_cfg_field(o);
    hak_parse_err_t err;
    switch (o->type) {
    case HAK_T_BOOL: {
        int v;
        if ((err = hak_parse_bool(text, &v)) != HAK_PARSE_OK)
            return err;
        *(int *)f = v;
        return HAK_PARSE_OK;
    }
    case HAK_T_INT:
    case HAK_T_SIZE: {
        long long v;
        err = o->type == HAK_T_INT ? hak_parse_int(text, &v) : hak_parse_size(text, &v);
        if (err != HAK_PARSE_OK)
            return err;
        if (has_range(o) && ((double)v < o->min || (double)v > o->max))
            return HAK_PARSE_RANGE;
        *(long long *)f = v;
        return HAK_PARSE_OK;
    }
    case HAK_T_FLOAT: {
        double v;
        if ((err = hak_parse_float(text, &v)) != HAK_PARSE_OK)
            return err;
        if (has_range(o) && (v < o->min || v > o->max))
            return HAK_PARSE_RANGE;
        *(double *)f = v;
        return HAK_PARSE_OK;
    }
    case HAK_T_CHOICE: {
        int idx = hak_parse_choice(text, o->choices);
        if (idx < 0)
            return HAK_PARSE_CHOICE;
        *(int *)f = idx;
        return HAK_PARSE_OK;
    }
    case HAK_T_LIST: {
        if (strlen(text) >= HAK_LIST_MAX)
            return HAK_PARSE_TOO_LONG;
        if (has_control(text))
            return HAK_PARSE_CONTROL;
        int n = 0;
        if (o->format && strcmp(o->format, "class_override") == 0) {
            hak_class_override_t tmp[HAK_TINY_CLASSES];
            n = hak_parse_class_override_msg(text, tmp, HAK_TINY_CLASSES, detail, dlen);
        } else if (o->format && strcmp(o->format, "float_list") == 0) {
            double tmp[HAK_FLOAT_LIST_MAX];
            n = hak_parse_float_list_msg(text, tmp, HAK_FLOAT_LIST_MAX, o->min, o->max, detail,
                                         dlen);
        }
        if (n < 0)
            return HAK_PARSE_LIST;
        memcpy(f, text, strlen(text) + 1);
        return HAK_PARSE_OK;
    }
    case HAK_T_STRING:
        if (strlen(text) >= HAK_LIST_MAX)
            return HAK_PARSE_TOO_LONG;
        if (has_control(text))
            return HAK_PARSE_CONTROL;
        memcpy(f, text, strlen(text) + 1);
        return HAK_PARSE_OK;
    }
    return HAK_PARSE_NOT_INT;
}

/* The first 64 bytes of text for a message, control characters shown as '?'. */
static void printable(const char *text, char *buf, size_t len)
{
    size_t n = 0;
    for (; text[n] && n < len - 1 && n < 64; n++)
        buf[n] = (unsigned char)text[n] < 0x20 ? '?' : text[n];
    buf[n] = '\0';
}

/* Apply `text` (from variable `var`) to knob i with the given source; one line when bad. */
static void apply(unsigned i, const char *var, const char *text, hak_cfg_source_t src)
{
    const hak_option_desc_t *o = &hak_option_table[i];
    char detail[160] = "";
    hak_parse_err_t err = store(o, text, detail, sizeof detail);
    if (err == HAK_PARSE_OK) {
        if (i < HAK_CFG_SLOTS) {
            g_src[i] = (unsigned char)src;
            g_src_env[i] = (src == HAK_SRC_ENV || src == HAK_SRC_ALIAS) ? var : NULL;
        }
        return;
    }
    char why[320], keep[HAK_LIST_MAX], shown[72];
    describe(o, err, detail, why, sizeof why);
    hak_config_format_value(o, keep, sizeof keep);
    if (!keep[0])
        snprintf(keep, sizeof keep, "\"\"");
    printable(text, shown, sizeof shown);
    if (src == HAK_SRC_MODE)
        hak_msg("HAKMEM_MODE=%s sets %s=%s: %s; keeping %.64s", g_preset, var, shown, why, keep);
    else
        hak_msg("%s=%s: %s; keeping %.64s", var, shown, why, keep);
}

/* ---- modes and features ------------------------------------------------------------- */

/* The preset named by text: case-insensitive, surrounding blanks ignored (as any choice). */
static const hak_mode_preset_t *find_preset(const char *text)
{
    const char *names[64];
    unsigned n = hak_mode_preset_count < 63 ? hak_mode_preset_count : 63;
    for (unsigned i = 0; i < n; i++)
        names[i] = hak_mode_presets[i].name;
    names[n] = NULL;
    int idx = hak_parse_choice(text, names);
    return idx < 0 ? NULL : &hak_mode_presets[idx];
}

static int feature_compiled_in(const char *feature)
{
    if (!feature || !*feature)
        return 1;
    for (unsigned i = 0; i < hak_feature_count; i++)
        if (strcmp(hak_features[i].name, feature) == 0)
            return hak_features[i].compiled_in;
    return 1;
}

static int preset_has_feature(const hak_mode_preset_t *p, const char *feature)
{
    for (int j = 0; p->features && p->features[j]; j++)
        if (strcmp(p->features[j], feature) == 0)
            return 1;
    return 0;
}

/* The first mode (in preset order: the lightest) whose build compiles `feature` in. */
static const char *mode_with_feature(const char *feature)
{
    for (unsigned i = 0; i < hak_mode_preset_count; i++)
        if (preset_has_feature(&hak_mode_presets[i], feature))
            return hak_mode_presets[i].name;
    return NULL;
}

static void apply_preset(const char *name)
{
    const hak_mode_preset_t *p = find_preset(name);
    if (!p) {
        char list[256];
        size_t n = 0;
        const char *best = NULL;
        int bestd = 1 << 30;
        list[0] = '\0';
        for (unsigned i = 0; i < hak_mode_preset_count; i++) {
            int w = snprintf(list + n, sizeof list - n, "%s%s", i ? ", " : "",
                             hak_mode_presets[i].name);
            if (w > 0 && (size_t)w < sizeof list - n)
                n += (size_t)w;
            int d = hak_edit_distance(name, hak_mode_presets[i].name);
            if (d < bestd)
                bestd = d, best = hak_mode_presets[i].name;
        }
        char shown[72];
        printable(name, shown, sizeof shown);
        hak_msg("HAKMEM_MODE=%s: not one of %s (did you mean %s?); ignored", shown, list,
                best ? best : "?");
        return;
    }
    g_preset = p->name;
    /* Features the preset's mode compiles in but this .so does not. */
    char missing[512];
    size_t n = 0;
    int nmissing = 0;
    missing[0] = '\0';
    for (int j = 0; p->features && p->features[j]; j++) {
        if (feature_compiled_in(p->features[j]))
            continue;
        int w = snprintf(missing + n, sizeof missing - n, "%s%s", nmissing ? ", " : "",
                         p->features[j]);
        if (w > 0 && (size_t)w < sizeof missing - n)
            n += (size_t)w;
        nmissing++;
    }
    if (nmissing)
        hak_msg("HAKMEM_MODE=%s needs feature%s %s which this library (mode %s) does not "
                "compile in; use out/%s/%s/libhakmem.so",
                p->name, nmissing > 1 ? "s" : "", missing, HAK_MODE_NAME, p->name,
                HAK_VARIANT_NAME);
    for (const hak_preset_value_t *v = p->values; v && v->env; v++) {
        if (strcmp(v->env, MODE_ENV) == 0)
            continue;
        for (unsigned i = 0; i < hak_option_count; i++) {
            const hak_option_desc_t *o = &hak_option_table[i];
            if (strcmp(o->env, v->env) != 0)
                continue;
            if (o->compiled_in)
                apply(i, o->env, v->value, HAK_SRC_MODE);
            break;
        }
    }
    for (unsigned i = 0; i < hak_option_count; i++)
        if (strcmp(hak_option_table[i].env, MODE_ENV) == 0)
            apply(i, MODE_ENV, p->name, HAK_SRC_ENV); /* the knob that names the preset */
}

/* ---- individual variables ----------------------------------------------------------- */

static void note_compiled_out(const hak_option_desc_t *o, const char *var)
{
    const char *m = mode_with_feature(o->feature);
    if (m)
        hak_msg("%s: feature %s is not compiled into this library (mode %s); value ignored; "
                "use out/%s/%s/libhakmem.so",
                var, o->feature, HAK_MODE_NAME, m, HAK_VARIANT_NAME);
    else
        hak_msg("%s: feature %s is not compiled into this library (mode %s); value ignored",
                var, o->feature, HAK_MODE_NAME);
}

static void apply_variables(void)
{
    for (unsigned i = 0; i < hak_option_count; i++) {
        const hak_option_desc_t *o = &hak_option_table[i];
        if (strcmp(o->env, MODE_ENV) == 0)
            continue; /* handled as the preset */
        const char *canon = env_get(o->env);
        const char *val = canon;
        const char *var = o->env;
        hak_cfg_source_t src = HAK_SRC_ENV;
        for (int a = 0; o->aliases && o->aliases[a]; a++) {
            const char *av = env_get(o->aliases[a]);
            if (!av)
                continue;
            if (canon) {
                hak_msg("%s is deprecated, use %s instead (sunset %s); ignored because %s is "
                        "set",
                        o->aliases[a], o->env, o->sunset ? o->sunset : "unset", o->env);
                continue;
            }
            if (val) { /* an earlier alias already gave the value */
                hak_msg("%s is deprecated, use %s instead (sunset %s); ignored because %s is "
                        "set",
                        o->aliases[a], o->env, o->sunset ? o->sunset : "unset", var);
                continue;
            }
            hak_msg("%s is deprecated, use %s instead (sunset %s)", o->aliases[a], o->env,
                    o->sunset ? o->sunset : "unset");
            val = av;
            var = o->aliases[a];
            src = HAK_SRC_ALIAS;
        }
        if (!val)
            continue;
        if (!o->compiled_in) {
            note_compiled_out(o, var);
            continue;
        }
        apply(i, var, val, src);
    }
}

/* Is `name` (length n) a variable the table knows (canonical, alias or HAKMEM_MODE)? */
static int known_name(const char *name, size_t n)
{
    if (n == sizeof MODE_ENV - 1 && strncmp(name, MODE_ENV, n) == 0)
        return 1;
    for (unsigned i = 0; i < hak_option_count; i++) {
        const hak_option_desc_t *o = &hak_option_table[i];
        if (strlen(o->env) == n && strncmp(o->env, name, n) == 0)
            return 1;
        for (int a = 0; o->aliases && o->aliases[a]; a++)
            if (strlen(o->aliases[a]) == n && strncmp(o->aliases[a], name, n) == 0)
                return 1;
    }
    return 0;
}

static void report_unknown(void)
{
    if (!environ)
        return;
    for (char **e = environ; *e; e++) {
        if (!is_hakmem_var(*e))
            continue;
        const char *eq = strchr(*e, '=');
        size_t n = eq ? (size_t)(eq - *e) : strlen(*e);
        if (known_name(*e, n))
            continue;
        char name[128];
        size_t c = n < sizeof name - 1 ? n : sizeof name - 1;
        memcpy(name, *e, c);
        name[c] = '\0';
        const char *best = NULL;
        int bestd = 1 << 30;
        for (unsigned i = 0; i < hak_option_count; i++) {
            int d = hak_edit_distance(name, hak_option_table[i].env);
            if (d < bestd)
                bestd = d, best = hak_option_table[i].env;
        }
        if (best)
            hak_msg("%s is not a hakmem variable (did you mean %s?); ignored", name, best);
        else
            hak_msg("%s is not a hakmem variable; ignored", name);
    }
}

static unsigned count_hakmem_vars(void)
{
    unsigned n = 0;
    for (char **e = environ; e && *e; e++)
        n += (unsigned)is_hakmem_var(*e);
    return n;
}

/* ---- entry point -------------------------------------------------------------------- */

void hak_config_load(void)
{
    if (!g_have_defaults) {
        memcpy(&g_defaults, &hak_cfg, sizeof g_defaults);
        g_have_defaults = 1;
    } else {
        memcpy(&hak_cfg, &g_defaults, sizeof g_defaults);
    }
    g_loaded = 1;
    memset(g_src, 0, sizeof g_src);
    memset(g_src_env, 0, sizeof g_src_env);
    g_preset = NULL;
    if (hak_option_count > HAK_CFG_SLOTS)
        hak_msg("option table has %u entries, more than the %u this runtime tracks",
                hak_option_count, HAK_CFG_SLOTS);

    if (hak_config_secure()) {
        /* glibc ignores its malloc tunables in secure-execution mode; so do we. */
        if (hak_config_int_by_key("debug_level", 0) >= 1)
            hak_msg("secure-execution process (AT_SECURE): ignoring %u HAKMEM_* variable%s",
                    count_hakmem_vars(), count_hakmem_vars() == 1 ? "" : "s");
        return;
    }

    const char *mode = env_get(MODE_ENV);
    if (mode)
        apply_preset(mode);
    apply_variables();
    report_unknown();

    if (hak_config_int_by_key("debug_level", 0) >= 2)
        hak_config_dump_prefixed(2, 0, "hakmem: ");
}
