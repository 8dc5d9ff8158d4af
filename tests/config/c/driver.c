/* driver.c — drives src/config without the allocator, for tests/config/test_c_runtime.py.
 *
 *   driver [--secure] [--debug-default N] json|text   hak_config_load(), then hak_config_dump
 *   driver override TEXT                              hak_parse_class_override
 *   driver floats TEXT                                hak_parse_float_list
 *
 * Compiled together with the files of src/config, src/log.c and a hak_options.c (generated or the
 * hand-made one in fake/). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "config/config_internal.h"
#include "config/parse.h"
#include "hakmem.h"

static int g_force_secure;

#ifndef HAK_DRIVER_REAL_SECURE
/* Overrides the weak getauxval(AT_SECURE) check in config.c (not in the build that checks
 * the real one from a setuid driver). */
int hak_config_secure(void) { return g_force_secure; }
#endif

int main(int argc, char **argv)
{
    int i = 1;
    long long debug_default = -1;
    for (; i < argc; i++) {
        if (strcmp(argv[i], "--secure") == 0)
            g_force_secure = 1;
        else if (strcmp(argv[i], "--debug-default") == 0 && i + 1 < argc)
            debug_default = atoll(argv[++i]);
        else
            break;
    }
    if (i >= argc) {
        fprintf(stderr, "usage: driver [--secure] [--debug-default N] json|text|override T|floats T\n");
        return 2;
    }
    const char *cmd = argv[i];
    if (strcmp(cmd, "override") == 0 && i + 1 < argc) {
        hak_class_override_t ov[HAK_TINY_CLASSES];
        char msg[160] = "";
        int n = hak_parse_class_override_msg(argv[i + 1], ov, HAK_TINY_CLASSES, msg, sizeof msg);
        if (n != hak_parse_class_override(argv[i + 1], ov, HAK_TINY_CLASSES))
            return 3;
        if (n < 0) {
            printf("error %s\n", msg);
            return 1;
        }
        printf("%d", n);
        for (int k = 0; k < n; k++)
            printf(" %d:%d:%d", ov[k].cls, ov[k].cap, ov[k].refill);
        printf("\n");
        return 0;
    }
    if (strcmp(cmd, "floats") == 0 && i + 1 < argc) {
        double v[32];
        int n = hak_parse_float_list(argv[i + 1], v, 32);
        if (n < 0) {
            printf("error\n");
            return 1;
        }
        printf("%d", n);
        for (int k = 0; k < n; k++)
            printf(" %.17g", v[k]);
        printf("\n");
        return 0;
    }
    if (debug_default >= 0) {
        int k = hak_config_find_key("debug_level");
        if (k >= 0) {
            const hak_option_desc_t *o = &hak_option_table[k];
            if (o->type == HAK_T_INT || o->type == HAK_T_SIZE)
                *(long long *)hak_cfg_field(o) = debug_default;
            else
                *(int *)hak_cfg_field(o) = (int)debug_default;
        }
    }
    hak_config_load();
    fflush(stderr);
    if (strcmp(cmd, "json") == 0)
        hak_config_dump(1, 1);
    else if (strcmp(cmd, "text") == 0)
        hak_config_dump(1, 0);
    else if (strcmp(cmd, "twice") == 0) {
        hak_config_load(); /* a second load starts over from the compiled-in defaults */
        hak_config_dump(1, 1);
    } else
        return 2;
    return 0;
}
