/* names.c — prints the mode and variant a libhakmem.so was built as (linked, not preloaded). */
#include <stdio.h>

#include "hakmem.h"

int main(void)
{
    void *p = hak_malloc(100);
    hak_free(p);
    printf("%s %s\n", hak_mode_name(), hak_variant_name());
    return 0;
}
