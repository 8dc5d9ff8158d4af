/* asan_uaf.c — a use after free of a hak_malloc block, for the asan variant: freed blocks are
 * poisoned (hakmem's quarantine), so ASan must stop the write with a report. argv[1]:
 *   write   write into a freed block (offset 0 and 24)    -> ASan report, non-zero exit
 *   read    read a freed block                           -> ASan report
 *   double  hak_free twice                               -> hakmem's double free report, abort
 *   overflow  write one byte past a 48-byte block        -> ASan report when integrity checks are on
 *             (the canary after the requested size is poisoned)
 *   ok      the same blocks used correctly               -> exit 0 */
#include "hakmem.h"

#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    const char *what = argc > 1 ? argv[1] : "ok";
    volatile char *p = hak_malloc(48);
    memset((char *)p, 1, 48);
    char *q = hak_malloc(100);
    memset(q, 2, 100);
    hak_free(q);
    fprintf(stderr, "start\n");
    if (!strcmp(what, "write")) {
        hak_free((void *)p);
        p[24] = 7;
    } else if (!strcmp(what, "read")) {
        hak_free((void *)p);
        printf("%d\n", p[0]);
    } else if (!strcmp(what, "overflow")) {
        p[48] = 9;
        hak_free((void *)p);
    } else if (!strcmp(what, "double")) {
        hak_free((void *)p);
        hak_free((void *)p);
    } else {
        p[24] = 7;
        /* blocks handed out again after a free are writable */
        for (int i = 0; i < 10000; i++) {
            char *r = hak_malloc((size_t)(16 + i % 500));
            memset(r, 3, (size_t)(16 + i % 500));
            hak_free(r);
        }
        hak_free((void *)p);
    }
    fprintf(stderr, "end\n");
    return 0;
}
