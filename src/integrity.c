/* integrity.c — double and invalid free detection. A freed block carries a mark derived from its own
 * address in its second word, so finding the mark again at free time means the block is already free. */
#include "integrity.h"
#include "log.h"
#include "tuning.h"

#include <pthread.h>

#define FREED_MARK 0x5a17f3eedb10c4edull

static uint64_t mark_of(const void *p)
{
    return FREED_MARK ^ (uint64_t)(uintptr_t)p;
}

void hak_report_invalid(const char *what, const void *p)
{
    if (hak_tune.integrity)
        hak_fatal("%s: %p was not allocated by hakmem (invalid pointer)", what, p);
    static _Atomic int said;
    if (!atomic_exchange(&said, 1))
        hak_msg("%s: ignoring %p, which was not allocated by hakmem (invalid pointer; further reports suppressed)",
                what, p);
}

void hak_integrity_check_free(void *p, hak_superslab_t *ss)
{
    unsigned u = hak_ss_unit(p);
    unsigned cls = ss->unit_class[u];
    if (cls == HAK_NO_CLASS || !hak_ss_is_block_start(ss, p))
        hak_fatal("free(): invalid pointer %p (inside a hakmem SuperSlab but not the start of a live block)", p);
    uint64_t *w = (uint64_t *)p;
    if (w[1] == mark_of(p))
        hak_fatal("free(): double free of %p (size class %u, %u bytes)", p, cls, hak_class_size[cls]);
    w[1] = mark_of(p);
}

void hak_integrity_on_alloc(void *p)
{
    ((uint64_t *)p)[1] = 0;
}
