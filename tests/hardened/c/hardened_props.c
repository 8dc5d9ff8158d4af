/* hardened_props.c — what the hardened mode does to correct programs, one property per argv[1]:
 *
 *   order      print the offsets of 64 fresh 48-byte blocks from the first (shuffle, seed)
 *   maps       the SuperSlab of a small block and the mapping of a large block are fenced by
 *              inaccessible pages (/proc/self/maps); prints "guarded small|large 0|1"
 *   nx         set READ_IMPLIES_EXEC in the personality, then print whether the mappings of new
 *              small and large blocks are executable ("exec small|large 0|1")
 *   zero       malloc(0): unique, non-NULL, freed quietly, realloc'd into a real block
 *   reuse      how many frees of other 40-byte blocks pass before a freed one comes back ("reuse N")
 *   sizes      malloc_usable_size is the size asked for, across tiers, realloc and memalign
 *   raise      raise(SIGSEGV) with no handler of the program's: the process must die of it
 *   many       40000 live 40 KB blocks (guard pages for each would pass vm.max_map_count), then a
 *              thread and an mmap of the program's own must still be had
 * Every run ends with hakc's summary line. */
#include "hakc.h"

#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/personality.h>

static int mapping_of(const void *p, uintptr_t *lo, uintptr_t *hi, char perms[5])
{
    FILE *f = fopen("/proc/self/maps", "r");
    if (!f)
        return 0;
    char line[512];
    int found = 0;
    while (fgets(line, sizeof line, f)) {
        unsigned long a, b;
        char pr[5];
        if (sscanf(line, "%lx-%lx %4s", &a, &b, pr) == 3 && (uintptr_t)p >= a && (uintptr_t)p < b) {
            *lo = a;
            *hi = b;
            memcpy(perms, pr, 5);
            found = 1;
            break;
        }
    }
    fclose(f);
    return found;
}

static int inaccessible(uintptr_t addr)
{
    uintptr_t lo, hi;
    char perms[5];
    return mapping_of((void *)addr, &lo, &hi, perms) && !strncmp(perms, "---", 3);
}

static void order(void)
{
    char *first = malloc(40), *p[64];
    for (int i = 0; i < 64; i++)
        p[i] = malloc(40);
    char buf[64 * 8] = "order";
    for (int i = 0; i < 64; i++)
        snprintf(buf + strlen(buf), sizeof buf - strlen(buf), " %ld", (long)(p[i] - first) / 48);
    hakc_line("%s", buf);
    for (int i = 0; i < 64; i++)
        free(p[i]);
    free(first);
}

static void maps(void)
{
    char *small = malloc(40);
    uintptr_t ss = (uintptr_t)small & ~(((uintptr_t)2 << 20) - 1);
    hakc_line("guarded small %d", inaccessible(ss + 4096) && inaccessible(ss + (2 << 20) - 4096) &&
                                  !inaccessible((uintptr_t)small));
    char *large = malloc(300000);
    memset(large, 1, 300000);
    uintptr_t lo, hi;
    char perms[5];
    int ok = mapping_of(large, &lo, &hi, perms) && lo == (uintptr_t)large && inaccessible(lo - 4096) &&
             inaccessible(hi);
    hakc_line("guarded large %d", ok);
    free(large);
    free(small);
}

static void nx(void)
{
    /* the flag a program (or a library it loads) may set at any time; a 64-bit exec clears it */
    personality(personality(0xffffffff) | READ_IMPLIES_EXEC);
    char *large = malloc(300000), *small[4096];
    for (int i = 0; i < 4096; i++)      /* 4 MiB of 1 KiB blocks: new SuperSlabs mapped from here on */
        small[i] = malloc(1000);
    uintptr_t lo, hi;
    char ps[5] = "", pl[5] = "";
    CHECK("nx.found", mapping_of(small[4095], &lo, &hi, ps) && mapping_of(large, &lo, &hi, pl), "no mappings");
    hakc_line("exec small %d", ps[2] == 'x');
    hakc_line("exec large %d", pl[2] == 'x');
    for (int i = 0; i < 4096; i++)
        free(small[i]);
    free(large);
}

static void zero(void)
{
    void *z[100];
    int unique = 1;
    for (int i = 0; i < 100; i++) {
        z[i] = malloc(0);
        for (int j = 0; j < i; j++)
            unique &= z[i] != z[j];
    }
    CHECK("zero.unique", unique && z[0] != NULL, "malloc(0) pointers repeat or are NULL");
    CHECK("zero.usable", malloc_usable_size(z[0]) == 0, "usable %zu", malloc_usable_size(z[0]));
    char *r = realloc(z[0], 100);
    CHECK("zero.realloc", r != NULL && malloc_usable_size(r) >= 100, "realloc of a zero-size block");
    memset(r, 'r', 100);
    free(r);
    for (int i = 1; i < 100; i++)
        free(z[i]);
    CHECK("zero.calloc", calloc(0, 10) != NULL, "calloc(0, 10)");
}

static void reuse(void)
{
    char *p = malloc(40), *keep[2000];
    free(p);
    int n = 0;
    for (; n < 2000; n++) {
        keep[n] = malloc(40);
        if (keep[n] == p)
            break;
        free(keep[n]);
    }
    hakc_line("reuse %d", n);
    if (n < 2000)
        free(keep[n]);
}

static void sizes(void)
{
    static const size_t ns[] = { 1, 7, 8, 24, 40, 100, 1016, 1024, 2040, 4000, 8190, 20000, 32760, 32768,
                                 40000, 300000, (size_t)3 << 20 };
    for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++) {
        char *p = malloc(ns[i]);
        FAILIF("sizes.malloc", malloc_usable_size(p) != ns[i], "%zu: usable %zu", ns[i], malloc_usable_size(p));
        memset(p, 'a', ns[i]);
        p = realloc(p, ns[i] + 10);
        FAILIF("sizes.realloc", malloc_usable_size(p) != ns[i] + 10 || p[ns[i] - 1] != 'a', "%zu", ns[i]);
        memset(p, 'b', ns[i] + 10);
        free(p);
        for (size_t a = 16; a <= 65536; a *= 4) {
            void *q = NULL;
            int rc = posix_memalign(&q, a, ns[i]);
            FAILIF("sizes.memalign", rc || ((uintptr_t)q & (a - 1)) || malloc_usable_size(q) != ns[i],
                   "%zu aligned %zu", ns[i], a);
            memset(q, 'c', ns[i]);
            free(q);
        }
    }
    CHECK("sizes", 1, "%s", "every size");
}

static void *idle_thread(void *arg) { return arg; }

static void many(void)
{
    enum { N = 40000, SIZE = 40000 };
    static char *blk[N];
    int got = 0;
    for (; got < N; got++)
        if (!(blk[got] = malloc(SIZE)))
            break;
    CHECK("many.malloc", got == N, "%d of %d blocks", got, N);
    pthread_t th;
    int rc = pthread_create(&th, NULL, idle_thread, NULL);
    CHECK("many.thread", rc == 0, "pthread_create: %s", strerror(rc));
    if (rc == 0)
        pthread_join(th, NULL);
    void *m = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK("many.mmap", m != MAP_FAILED, "mmap: %s", strerror(errno));
    if (m != MAP_FAILED)
        munmap(m, 1 << 20);
    for (int i = 0; i < got; i++)
        free(blk[i]);
}

int main(int argc, char **argv)
{
    const char *what = argc > 1 ? argv[1] : "";
    if (!strcmp(what, "order"))
        order();
    else if (!strcmp(what, "maps"))
        maps();
    else if (!strcmp(what, "nx"))
        nx();
    else if (!strcmp(what, "zero"))
        zero();
    else if (!strcmp(what, "reuse"))
        reuse();
    else if (!strcmp(what, "sizes"))
        sizes();
    else if (!strcmp(what, "raise")) {
        free(malloc(1));
        raise(SIGSEGV);
        hakc_line("survived raise");
    } else if (!strcmp(what, "many"))
        many();
    else
        HAKC_FAIL("usage", "unknown property '%s'", what);
    return hakc_finish();
}
