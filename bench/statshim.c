/* statshim — a tiny LD_PRELOAD companion for measurements: at exit it writes hakmem's own counters
 * (hak_stats_json(), exported by every mode, including those built without the stats feature) to
 * $HAKSHIM_STATS_FILE. Preload it after libhakmem.so:
 *   LD_PRELOAD="out/fast/release/libhakmem.so out/bench/statshim.so" HAKSHIM_STATS_FILE=s.json prog
 * Built by bench/syscalls.py (gcc -shared -fPIC). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

__attribute__((destructor)) static void statshim_dump(void)
{
    const char *path = getenv("HAKSHIM_STATS_FILE");
    if (!path || !*path)
        return;
    const char *(*json)(void) = (const char *(*)(void))dlsym(RTLD_DEFAULT, "hak_stats_json");
    if (!json)
        return;
    const char *j = json();
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return;
    size_t n = strlen(j);
    while (n) {
        ssize_t w = write(fd, j, n);
        if (w <= 0)
            break;
        j += w;
        n -= (size_t)w;
    }
    close(fd);
}
