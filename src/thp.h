/* thp.h — transparent huge page policy (HAKMEM_THP off / auto / on) for SuperSlabs and large blocks.
 *
 *   off   never ask for huge pages; when the system default is "always", opt out (MADV_NOHUGEPAGE)
 *   auto  huge pages for large blocks of 2 MiB and more (mapped 2 MiB-aligned so a huge page fits),
 *         and for the SuperSlabs of hot heaps (a heap that already owns HAK_THP_HOT_SS of them)
 *   on    huge pages for every SuperSlab and every large block of 2 MiB and more
 *
 * With the system setting "never" nothing is advised at all (no syscall for nothing). */
#ifndef HAK_THP_H
#define HAK_THP_H

#include <stddef.h>

#include "decay.h"

#define HAK_THP_SIZE   ((size_t)2 << 20)
/* 64 MiB: below that a huge page would mostly back blocks a heap never touches (each SuperSlab
 * holds slabs of many classes), and a program with many small heaps would multiply its RSS. */
#define HAK_THP_HOT_SS 32

void hak_thp_configure(void);           /* from hak_tuning_init: reads hak_cfg.thp and the system mode */

/* Alignment a large mapping of `size` bytes should get (0: page alignment is enough). */
size_t hak_thp_large_align(size_t size);
/* Advise a fresh large mapping. */
void hak_thp_large(void *p, size_t size);
/* Advise a SuperSlab span of `size` bytes for a heap owning `heap_ss` SuperSlabs already; returns 1
 * when the span is now advised MADV_HUGEPAGE. */
int hak_thp_superslab(void *p, size_t size, unsigned heap_ss);
/* Take the huge-page advice back from spans whose memory is being given back (MADV_NOHUGEPAGE):
 * khugepaged would otherwise collapse a span with one resident page into a whole huge page again,
 * and an idle program's RSS would creep back up. Coalesces the ranges in place. */
void hak_thp_withdraw(hak_decay_range_t *r, size_t n);

size_t hak_thp_stats_json(char *buf, size_t len);

#endif
