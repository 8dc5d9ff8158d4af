/* init.h — process start-up (once), thread attach and exit, fork. */
#ifndef HAK_INIT_H
#define HAK_INIT_H

#include "common.h"

extern _Atomic int hak_ready;        /* 2 once hak_init finished */
void hak_init(void);

static inline void hak_ensure_init(void)
{
    if (HAK_UNLIKELY(atomic_load_explicit(&hak_ready, memory_order_acquire) != 2))
        hak_init();
}

struct hak_tls;
/* Give the calling thread a heap and a cache with its capacities: the thread's cache (hak_thread),
 * or NULL when it cannot (no memory, the thread exited, start-up not finished). */
struct hak_tls *hak_thread_attach(void);

#endif
