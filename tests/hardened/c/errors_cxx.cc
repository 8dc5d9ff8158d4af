// errors_cxx.cc — the C++ cases of errors.c: new and delete that do not match. Same
// protocol: "start", the error, then "MISSED <case>" if it got through; "list" names the cases.
// Sized deallocation is on (C++14 and later), so `delete p` tells the allocator the object's size.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <unistd.h>

static void say(const char *a, const char *b = nullptr)
{
    char line[256];
    int n = std::snprintf(line, sizeof line, "%s%s%s\n", a, b ? " " : "", b ? b : "");
    ssize_t w = write(1, line, (size_t)n);
    (void)w;
}

template <typename T> static __attribute__((noinline)) T *launder(T *p)
{
    __asm__ volatile("" : "+r"(p) : : "memory");
    return p;
}

struct Counted {
    int value = 7;
    ~Counted() { value = 0; }
};

static void cxx_delete_array_as_scalar()
{
    int *p = launder(new int[10]());
    delete p;                            // operator delete(p, 4): the block is 40 bytes
}

static void cxx_delete_array_dtor_as_scalar()
{
    Counted *p = launder(new Counted[4]);
    delete p;                            // p is past the array cookie: 8 bytes into the block
}

static void cxx_malloc_delete()
{
    int *p = launder(static_cast<int *>(std::malloc(40)));
    delete p;
}

static void cxx_new_free()
{
    int *p = launder(new int(1));
    std::free(p);                        // one allocator serves both: harmless, and invisible
}

static const struct { const char *name; void (*run)(); } cases[] = {
    { "cxx_delete_array_as_scalar", cxx_delete_array_as_scalar },
    { "cxx_delete_array_dtor_as_scalar", cxx_delete_array_dtor_as_scalar },
    { "cxx_malloc_delete", cxx_malloc_delete },
    { "cxx_new_free", cxx_new_free },
};

int main(int argc, char **argv)
{
    const char *what = argc > 1 ? argv[1] : "list";
    for (const auto &c : cases) {
        if (!std::strcmp(what, "list")) {
            say(c.name);
        } else if (!std::strcmp(what, c.name)) {
            say("start");
            c.run();
            say("MISSED", what);
            return 0;
        }
    }
    if (std::strcmp(what, "list")) {
        say("unknown case", what);
        return 2;
    }
    return 0;
}
