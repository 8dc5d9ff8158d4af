/* churn — threads come and go: 48 short-lived threads (two at a time) each allocate mixed small
 * blocks, free most and leave a few for the next thread to free. */
#include <pthread.h>
#include "kw.h"

#define THREADS 48
#define HANDOFF 256
static void *handoff[THREADS + 1][HANDOFF];

static void *worker(void *arg) {
    intptr_t id = (intptr_t)arg;
    uint32_t s = 99 + (uint32_t)id;
    static __thread void *p[1024];
    for (int r = 0; r < 20; r++) {
        for (int i = 0; i < 1024; i++) {
            size_t n = 8 + kw_rand(&s) % ((i & 7) ? 512 : 8192);
            p[i] = kw_touch(malloc(n), n);
        }
        for (int i = 0; i < 1024; i++) free(p[i]);
    }
    for (int i = 0; i < HANDOFF; i++) {
        if (handoff[id][i]) free(handoff[id][i]);   /* blocks a previous thread left */
        handoff[id + 1][i] = kw_touch(malloc(64 + i), 64 + i);
    }
    return NULL;
}

int main(void) {
    for (intptr_t t = 0; t < THREADS; t += 2) {
        pthread_t a, b;
        pthread_create(&a, NULL, worker, (void *)t);
        pthread_join(a, NULL);                     /* t+1 frees what t left: keep the order */
        pthread_create(&b, NULL, worker, (void *)(t + 1));
        pthread_join(b, NULL);
    }
    for (int i = 0; i < HANDOFF; i++) free(handoff[THREADS][i]);
    printf("summary churn ok\n");
    return 0;
}
