// heap_errors_cxx.cc — the C++ cases of heap_errors.c: a block released by the wrong operator, named by
// argv[1]. "start", the one error, then "MISSED <case>" if it got through (exit 0).
//
//   cxx_delete_array_as_scalar       new int[10] released by delete: sized delete says 4 bytes, not 40
//   cxx_delete_array_dtor_as_scalar  new S[4] of a type with a destructor released by delete: the
//                                    pointer is past the array cookie, 8 bytes into the block
//   cxx_malloc_delete                a malloc'd block released by delete
//   cxx_new_free                     new released by free: harmless when one allocator serves both, so
//                                    no allocator that does can see it (a control)
//   cxx_ok                           every form of new and delete, paired right: must reach "end"
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <unistd.h>

namespace {

void say(const char *a, const char *b = nullptr)
{
    char buf[256];
    int n = std::snprintf(buf, sizeof buf, "%s%s%s\n", a, b ? " " : "", b ? b : "");
    ssize_t w = write(1, buf, static_cast<size_t>(n));
    (void)w;
}

// Hides where a pointer came from, so the compiler neither warns about nor folds the mismatch.
template <typename T> T *launder(T *p)
{
    __asm__ volatile("" : "+r"(p));
    return p;
}

volatile int destroyed;

struct S {
    int v = 1;
    ~S() { destroyed = destroyed + v; }   // non-trivial: new S[n] stores the count before the array
};

}  // namespace

int main(int argc, char **argv)
{
    const char *what = argc > 1 ? argv[1] : "cxx_ok";
    say("start");
    if (!std::strcmp(what, "cxx_delete_array_as_scalar")) {
        int *p = launder(new int[10]);
        delete p;
    } else if (!std::strcmp(what, "cxx_delete_array_dtor_as_scalar")) {
        S *p = launder(new S[4]);
        delete p;
    } else if (!std::strcmp(what, "cxx_malloc_delete")) {
        int *p = launder(static_cast<int *>(std::malloc(40)));
        delete p;
    } else if (!std::strcmp(what, "cxx_new_free")) {
        int *p = launder(new int(7));
        std::free(p);
    } else if (!std::strcmp(what, "cxx_ok")) {
        int *a = launder(new int(1));
        int *b = launder(new int[10]());
        S *s = launder(new S[4]);
        S *one = launder(new S);
        char *big = launder(new char[100000]);
        std::memset(big, 'b', 100000);
        delete a;
        delete[] b;
        delete[] s;
        delete one;
        delete[] big;
        say("end");
        return 0;
    } else {
        say("unknown case", what);
        return 2;
    }
    say("MISSED", what);
    return 0;
}
