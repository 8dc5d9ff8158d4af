/* no_cxx_runtime.c — a C program under LD_PRELOAD of libhakmem.so: libstdc++ is not loaded with it,
 * and hakmem's operator new, called by its mangled name, still serves blocks; a throwing new that
 * fails with no C++ runtime to throw must abort with one hakmem line, never return NULL.
 *
 * usage: no_cxx_runtime [fail]   (fail: operator new of an impossible size) */
#include "hakc.h"

static int libstdcxx_mapped(void)
{
    FILE *f = fopen("/proc/self/maps", "r");
    char line[512];
    int found = 0;
    while (f && fgets(line, sizeof line, f))
        found |= strstr(line, "libstdc++") != NULL;
    if (f)
        fclose(f);
    return found;
}

int main(int argc, char **argv)
{
    void *(*op_new)(size_t) = (void *(*)(size_t))dlsym(RTLD_DEFAULT, "_Znwm");
    void (*op_delete_sized)(void *, size_t) = (void (*)(void *, size_t))dlsym(RTLD_DEFAULT, "_ZdlPvm");
    CHECK("libstdcxx.not_mapped", !libstdcxx_mapped(), "libstdc++ is mapped into a C program");
    if (!op_new || !op_delete_sized) {
        SKIP("operator_new.served", "no operator new in this process (hakmem not loaded)");
        return hakc_finish();
    }
    if (argc > 1 && strcmp(argv[1], "fail") == 0) {
        hakc_line("start");
        void *p = op_new(hakc_sz((size_t)1 << 62));
        hakc_line("end %p", p);   /* not reached: a throwing new never returns NULL */
        return 1;
    }
    void *p = op_new(64);
    CHECK("operator_new.served", p && hakc_owns(p) == 1, "%p is not hakmem's", p);
    op_delete_sized(p, 64);
    return hakc_finish();
}
