/* integrity_errors.c — one heap error per run, named by argv[1], for hakmem's integrity checks
 * (HAKMEM_INTEGRITY_CHECKS=1, or the debug variant). Each error must end in one "hakmem: ..." line on
 * stderr and SIGABRT; "ok" runs the same calls without the error and must exit 0.
 *
 *   overflow   write 4 bytes past the end of a 40-byte block, then free it
 *   offbyone   the classic: a NUL one byte past the end of a string buffer
 *   double     free the same block twice
 *   interior   free a pointer 16 bytes into a block
 *   foreign    free a pointer hakmem never handed out (a stack address)
 *   realloc    realloc a block that was already freed
 *   largedouble  free a 100 000-byte block twice
 *   memalign   overflow of a posix_memalign block
 *   usable     print malloc_usable_size of a 40-byte block (the requested size under checks)
 *   ok         all of the above, done right */
#define _GNU_SOURCE
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void note(const char *s)
{
    ssize_t w = write(1, s, strlen(s));
    (void)w;
}

int main(int argc, char **argv)
{
    const char *what = argc > 1 ? argv[1] : "ok";
    char *keep = malloc(40);            /* keeps the slab alive, so a freed block stays a block */
    char *p = malloc(40);
    memset(p, 'a', 40);
    note("start\n");
    if (!strcmp(what, "overflow")) {
        memcpy(p + 40, "XYZW", 4);
        free(p);
    } else if (!strcmp(what, "offbyone")) {
        char *s = malloc(5);
        memcpy(s, "hello", 5);
        s[5] = 0;
        free(s);
    } else if (!strcmp(what, "double")) {
        free(p);
        free(p);
    } else if (!strcmp(what, "interior")) {
        free(p + 16);
    } else if (!strcmp(what, "foreign")) {
        char local[64];
        free(local + 16);
    } else if (!strcmp(what, "largedouble")) {
        char *l = malloc(100000);
        memset(l, 'l', 100000);
        free(l);
        free(l);
    } else if (!strcmp(what, "realloc")) {
        free(p);
        p = realloc(p, 100);
    } else if (!strcmp(what, "memalign")) {
        void *a = NULL;
        if (posix_memalign(&a, 64, 100) == 0) {
            memset(a, 'b', 101);
            free(a);
        }
    } else if (!strcmp(what, "usable")) {
        printf("usable %zu\n", malloc_usable_size(p));
        fflush(stdout);
        free(p);
    } else {
        memset(p, 'b', malloc_usable_size(p));
        p = realloc(p, 200);
        memset(p, 'c', 200);
        free(p);
        void *a = NULL;
        if (posix_memalign(&a, 64, 100) == 0) {
            memset(a, 'b', 100);
            free(a);
        }
        char *s = calloc(3, 7);
        memset(s, 'd', 21);
        free(s);
    }
    free(keep);
    note("end\n");
    return 0;
}
