/* served.c — is this program's malloc hakmem's? Allocates N blocks (and one inside glibc, by
 * strdup) and asks hakmem whether it owns them: through the linked-in API when built with
 * -DHAK_LINKED (static archive), else through dlsym, which finds hak_* only when a libhakmem.so is
 * preloaded. Prints "mode=M variant=V owned=K/N strdup=0|1" ("mode=none" without hakmem). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef HAK_LINKED
#include "hakmem.h"
#else
static int (*hak_owns)(const void *);
static const char *(*hak_mode_name)(void);
static const char *(*hak_variant_name)(void);
#endif

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 100;
#ifndef HAK_LINKED
    hak_owns = (int (*)(const void *))dlsym(RTLD_DEFAULT, "hak_owns");
    hak_mode_name = (const char *(*)(void))dlsym(RTLD_DEFAULT, "hak_mode_name");
    hak_variant_name = (const char *(*)(void))dlsym(RTLD_DEFAULT, "hak_variant_name");
    if (!hak_owns || !hak_mode_name || !hak_variant_name) {
        printf("mode=none variant=none owned=0/%d strdup=0\n", n);
        return 0;
    }
#endif
    void **blocks = malloc((size_t)n * sizeof *blocks);
    int owned = 0;
    for (int i = 0; i < n; i++) {
        blocks[i] = malloc(16 + (size_t)(i * 24) % 4000);
        owned += hak_owns(blocks[i]) ? 1 : 0;
    }
    char *s = strdup("served");          /* allocated inside libc: its malloc must be ours too */
    printf("mode=%s variant=%s owned=%d/%d strdup=%d\n", hak_mode_name(), hak_variant_name(), owned, n,
           hak_owns(s) ? 1 : 0);
    free(s);
    for (int i = 0; i < n; i++)
        free(blocks[i]);
    free(blocks);
    return 0;
}
