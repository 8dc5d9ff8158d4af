/* integrity.h — checks that catch a program's double and invalid frees (HAKMEM_INTEGRITY_CHECKS, debug variant). */
#ifndef HAK_INTEGRITY_H
#define HAK_INTEGRITY_H

#include "superslab.h"

/* Reports and aborts when p is not a live block start or was already freed. */
void hak_integrity_check_free(void *p, hak_superslab_t *ss);
/* Marks a block handed out (clears the freed mark). */
void hak_integrity_on_alloc(void *p);
/* A pointer no allocator of ours handed out: report (abort under integrity checks, else one line). */
void hak_report_invalid(const char *what, const void *p);

#endif
