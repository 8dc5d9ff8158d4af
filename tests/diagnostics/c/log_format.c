/* log_format.c — hakmem's own formatter (src/log.c) against snprintf, and hak_msg from a signal
 * handler that interrupted malloc: compiled together with src/log.c. */
#define _GNU_SOURCE
#include "log.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

hak_config_t hak_cfg;
static int failures;

#define SAME(fmt, ...)                                                                   \
    do {                                                                                 \
        char a_[256], b_[256];                                                           \
        int na_ = hak_snprintf(a_, sizeof a_, fmt, __VA_ARGS__);                         \
        int nb_ = snprintf(b_, sizeof b_, fmt, __VA_ARGS__);                             \
        if (na_ != nb_ || strcmp(a_, b_)) {                                              \
            printf("FAIL %s: hakmem \"%s\" (%d) libc \"%s\" (%d)\n", fmt, a_, na_, b_, nb_); \
            failures++;                                                                  \
        }                                                                                \
    } while (0)

static volatile sig_atomic_t hits;
static void on_alarm(int sig)
{
    (void)sig;
    hak_msg("from a signal handler %d %s %p", 42, "ok", (void *)0x1234);
    hits++;
}

int main(void)
{
    SAME("%d %i %u", -42, 0, 4000000000u);
    SAME("%ld %lu %lld %llu", -1L, 123456789012UL, -9223372036854775807LL - 1, 18446744073709551615ULL);
    SAME("%zu %zd", (size_t)123, (ssize_t)-5);
    SAME("%x %X %#x %08x %-6d| %6d|", 0xbeefu, 0xbeefu, 255u, 0x12u, 7, -7);
    SAME("%p %p", (void *)0x7f0012345678, (void *)1);
    SAME("%s|%10s|%-10s|%.3s|%.*s", "abc", "right", "left", "truncate", 2, "xyz");
    SAME("%c%c 100%%", 'o', 'k');
    SAME("%s", "");
    char small[8];
    int n = hak_snprintf(small, sizeof small, "%s", "0123456789");
    if (n != 10 || strcmp(small, "0123456")) {
        printf("FAIL truncation: %d \"%s\"\n", n, small);
        failures++;
    }
    /* hak_msg from a signal handler while the main thread allocates: no deadlock, no allocation */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sigaction(SIGALRM, &sa, NULL);
    ualarm(2000, 2000);
    for (long i = 0; i < 3000000 && hits < 20; i++)
        free(malloc((size_t)(i % 2000) + 1));
    ualarm(0, 0);
    printf("signals %d\n", (int)hits);
    printf("summary failures=%d\n", failures);
    return failures != 0;
}
