// cxx_ops.cc — the C++ allocation operators under LD_PRELOAD of a release or debug libhakmem.so.
//
// Checks that every form of operator new/delete the program calls resolves into libhakmem.so and
// returns blocks hakmem owns; aligned new for many alignments; nothrow new returns NULL and throwing
// new runs the new_handler loop and throws std::bad_alloc for an impossible size; new(0) is unique;
// sized delete of blocks of many sizes across the tiers, on the allocating thread and on another, with
// a cookie in every block so a block put in the wrong size class (and so handed out twice) is caught.
// Without hakmem (the control run) the hakmem-only checks are skipped and the rest must still pass.
//
// usage: cxx_ops [all]              every check; ok/FAIL lines and a summary, exit 1 on a failure
//        cxx_ops mismatch N GIVEN   operator new(N), then sized delete stating GIVEN bytes
// Built with g++ -std=gnu++23 so the C helpers of tests/core/c/hakc.h compile as C++.
#include "hakc.h"

#include <dlfcn.h>

#include <new>
#include <thread>
#include <vector>

namespace {

const size_t kImpossible = size_t(1) << 62;   // no mapping of this size can exist

bool hakmem_loaded() { return hakc_hakmem_loaded() != 0; }

int failures_so_far() { return atomic_load(&hakc_failures); }

// Where the function at `fn` lives: 1 in libhakmem.so, 0 elsewhere, -1 unknown.
int in_hakmem(const void *fn)
{
    Dl_info info;
    if (!dladdr(fn, &info) || !info.dli_fname)
        return -1;
    return strstr(info.dli_fname, "libhakmem") != nullptr;
}

// A block hakmem should own, of at least n usable bytes: reports under `name`.
void check_owned(const char *name, void *p, size_t n)
{
    FAILIF(name, p == nullptr, "NULL for %zu bytes", n);
    if (!p)
        return;
    if (hakmem_loaded())
        FAILIF(name, hakc_owns(p) != 1, "%p (%zu bytes) is not hakmem's", p, n);
    FAILIF(name, malloc_usable_size(p) < n, "usable size %zu < %zu", malloc_usable_size(p), n);
}

// check_owned, then write every byte the program may use.
void check_block(const char *name, void *p, size_t n)
{
    check_owned(name, p, n);
    if (p)
        hakc_fill(p, n, (uintptr_t)p, 7);
}

// ---- every form is hakmem's ----------------------------------------------------------------

struct Form {
    const char *name;
    const void *fn;
};

#define FORM(sig, op) {#sig, reinterpret_cast<const void *>(static_cast<sig>(op))}

void check_forms_resolve()
{
    using std::align_val_t;
    using std::nothrow_t;
    const Form forms[] = {
        FORM(void *(*)(size_t), &::operator new),
        FORM(void *(*)(size_t), &::operator new[]),
        FORM(void *(*)(size_t, const nothrow_t &), &::operator new),
        FORM(void *(*)(size_t, const nothrow_t &), &::operator new[]),
        FORM(void *(*)(size_t, align_val_t), &::operator new),
        FORM(void *(*)(size_t, align_val_t), &::operator new[]),
        FORM(void *(*)(size_t, align_val_t, const nothrow_t &), &::operator new),
        FORM(void *(*)(size_t, align_val_t, const nothrow_t &), &::operator new[]),
        FORM(void (*)(void *), &::operator delete),
        FORM(void (*)(void *), &::operator delete[]),
        FORM(void (*)(void *, size_t), &::operator delete),
        FORM(void (*)(void *, size_t), &::operator delete[]),
        FORM(void (*)(void *, const nothrow_t &), &::operator delete),
        FORM(void (*)(void *, const nothrow_t &), &::operator delete[]),
        FORM(void (*)(void *, align_val_t), &::operator delete),
        FORM(void (*)(void *, align_val_t), &::operator delete[]),
        FORM(void (*)(void *, size_t, align_val_t), &::operator delete),
        FORM(void (*)(void *, size_t, align_val_t), &::operator delete[]),
        FORM(void (*)(void *, align_val_t, const nothrow_t &), &::operator delete),
        FORM(void (*)(void *, align_val_t, const nothrow_t &), &::operator delete[]),
    };
    if (!hakmem_loaded()) {
        SKIP("forms.resolve", "hakmem not loaded");
        return;
    }
    int bad = 0;
    for (const Form &f : forms)
        if (in_hakmem(f.fn) != 1) {
            HAKC_FAIL("forms.resolve", "%s resolves outside libhakmem.so", f.name);
            bad++;
        }
    CHECK("forms.resolve", bad == 0, "%d of 20 forms are not hakmem's", bad);
}

void check_forms_serve()
{
    int before = failures_so_far();
    const std::align_val_t a64{64};
    for (size_t n : {size_t(1), size_t(40), size_t(3000), size_t(20000), size_t(100000)}) {
        void *p;
        check_block("forms.new", p = ::operator new(n), n);
        ::operator delete(p);
        check_block("forms.new_array", p = ::operator new[](n), n);
        ::operator delete[](p);
        check_block("forms.new_nothrow", p = ::operator new(n, std::nothrow), n);
        ::operator delete(p, std::nothrow);
        check_block("forms.new_array_nothrow", p = ::operator new[](n, std::nothrow), n);
        ::operator delete[](p, std::nothrow);
        check_block("forms.new_sized", p = ::operator new(n), n);
        ::operator delete(p, n);
        check_block("forms.new_array_sized", p = ::operator new[](n), n);
        ::operator delete[](p, n);
        check_block("forms.aligned", p = ::operator new(n, a64), n);
        ::operator delete(p, a64);
        check_block("forms.aligned_array", p = ::operator new[](n, a64), n);
        ::operator delete[](p, a64);
        check_block("forms.aligned_nothrow", p = ::operator new(n, a64, std::nothrow), n);
        ::operator delete(p, a64, std::nothrow);
        check_block("forms.aligned_array_nothrow", p = ::operator new[](n, a64, std::nothrow), n);
        ::operator delete[](p, a64, std::nothrow);
        check_block("forms.aligned_sized", p = ::operator new(n, a64), n);
        ::operator delete(p, n, a64);
        check_block("forms.aligned_array_sized", p = ::operator new[](n, a64), n);
        ::operator delete[](p, n, a64);
    }
    // What new-expressions compile to: the array cookie of a type with a destructor makes the
    // compiler pass the whole size to sized delete[]; an over-aligned type takes the aligned forms.
    struct Counted {
        int v = 1;
        ~Counted() { v = 0; }
    };
    struct alignas(256) Wide {
        char c[300];
    };
    Counted *one = new Counted;
    Counted *many = new Counted[37];
    Wide *w = new Wide;
    Wide *ws = new Wide[5];
    check_owned("forms.expr", one, sizeof *one);
    check_owned("forms.expr", (char *)many - sizeof(size_t), 37 * sizeof *many + sizeof(size_t));
    check_owned("forms.expr", w, sizeof *w);
    FAILIF("forms.expr", ((uintptr_t)w | (uintptr_t)ws) % 256, "alignas(256) objects at %p %p", (void *)w,
           (void *)ws);
    delete one;
    delete[] many;
    delete w;
    delete[] ws;
    CHECK("forms.serve", failures_so_far() == before, "%d failures above", failures_so_far() - before);
}

// ---- aligned new ---------------------------------------------------------------------------

void check_alignment()
{
    int bad = 0;
    for (unsigned shift = 4; shift <= 26; shift++) {
        size_t align = size_t(1) << shift;
        for (size_t n : {size_t(0), size_t(1), size_t(24), size_t(100), size_t(5000), size_t(40000)}) {
            std::align_val_t a{align};
            void *p = ::operator new(n, a);
            void *q = ::operator new[](n, a, std::nothrow);
            for (void *b : {p, q}) {
                if (!b || (uintptr_t)b % align) {
                    HAKC_FAIL("aligned.alignment", "align %zu size %zu: %p", align, n, b);
                    bad++;
                    continue;
                }
                check_block("aligned.alignment", b, n);
            }
            ((shift & 1) ? ::operator delete(p, n, a) : ::operator delete(p, a));
            ::operator delete[](q, a);
        }
    }
    CHECK("aligned.alignment", bad == 0, "%d misaligned blocks", bad);
}

// ---- failure ---------------------------------------------------------------------------------

int handler_calls;

void counting_handler()
{
    if (++handler_calls == 3)
        std::set_new_handler(nullptr);   // the next failure has no handler: bad_alloc
}

template <class F> bool throws_bad_alloc(F f)
{
    try {
        void *p = f();   // an impossible size that succeeded: a failure; the block is left alone
        __asm__ volatile("" : : "r"(p) : "memory");
        return false;
    } catch (const std::bad_alloc &) {
        return true;
    }
}

void check_failure()
{
    size_t big = hakc_sz(kImpossible);
    std::align_val_t a4k{4096};
    CHECK("nothrow.null", ::operator new(big, std::nothrow) == nullptr, "not NULL");
    CHECK("nothrow.array_null", ::operator new[](big, std::nothrow) == nullptr, "not NULL");
    CHECK("nothrow.aligned_null", ::operator new(big, a4k, std::nothrow) == nullptr, "not NULL");
    CHECK("nothrow.aligned_array_null", ::operator new[](big, a4k, std::nothrow) == nullptr, "not NULL");

    std::set_new_handler(nullptr);
    CHECK("throw.bad_alloc", throws_bad_alloc([&] { return ::operator new(big); }), "no bad_alloc");
    CHECK("throw.array_bad_alloc", throws_bad_alloc([&] { return ::operator new[](big); }), "no bad_alloc");
    CHECK("throw.aligned_bad_alloc", throws_bad_alloc([&] { return ::operator new(big, a4k); }), "no bad_alloc");
    CHECK("throw.aligned_array_bad_alloc", throws_bad_alloc([&] { return ::operator new[](big, a4k); }),
          "no bad_alloc");

    const char *forms[] = {"new", "new[]", "aligned new", "aligned new[]"};
    for (int f = 0; f < 4; f++) {
        handler_calls = 0;
        std::set_new_handler(counting_handler);
        bool threw = throws_bad_alloc([&]() -> void * {
            switch (f) {
            case 0: return ::operator new(big);
            case 1: return ::operator new[](big);
            case 2: return ::operator new(big, a4k);
            default: return ::operator new[](big, a4k);
            }
        });
        CHECK("throw.handler_loop", threw && handler_calls == 3, "%s: threw %d after %d handler calls (want 3)",
              forms[f], threw, handler_calls);
    }
    // A handler that throws: its exception leaves operator new as it is.
    struct Mine : std::bad_alloc {};
    std::set_new_handler([] { throw Mine(); });
    bool mine = false;
    try {
        ::operator delete(::operator new(big));
    } catch (const Mine &) {
        mine = true;
    }
    std::set_new_handler(nullptr);
    CHECK("throw.handler_exception", mine, "the handler's exception did not come out of new");
}

void check_zero()
{
    void *a = ::operator new(0), *b = ::operator new(0), *c = ::operator new[](0);
    void *d = ::operator new(0, std::align_val_t{64});
    CHECK("zero.unique", a && b && c && d && a != b && a != c && b != c && (uintptr_t)d % 64 == 0,
          "%p %p %p %p", a, b, c, d);
    if (hakmem_loaded())
        CHECK("zero.hakmem", hakc_owns(a) == 1 && hakc_owns(c) == 1 && hakc_owns(d) == 1, "not hakmem's");
    ::operator delete(a, size_t(0));
    ::operator delete(b);
    ::operator delete[](c, size_t(0));
    ::operator delete(d, size_t(0), std::align_val_t{64});
}

// ---- sized delete --------------------------------------------------------------------------

struct Block {
    void *p;
    size_t n;
    bool array;
};

Block make_block(size_t n, bool array)
{
    void *p = array ? ::operator new[](n) : ::operator new(n);
    check_block("sized.alloc", p, n);
    return Block{p, n, array};
}

// Verify the block's cookie (it would be overwritten if the block had been handed out twice), then
// give it back with the size it was asked with.
void sized_delete(const char *name, const Block &b, uint64_t seed)
{
    size_t bad = hakc_verify(b.p, b.n, b.n, (uintptr_t)b.p, seed);
    FAILIF(name, bad != (size_t)-1, "block %p of %zu bytes changed at offset %zu", b.p, b.n, bad);
    b.array ? ::operator delete[](b.p, b.n) : ::operator delete(b.p, b.n);
}

// Request sizes over every tier: each of 0..1100, then steps through POOL and MID, then large ones.
std::vector<size_t> tier_sizes()
{
    std::vector<size_t> sizes;
    for (size_t n = 0; n <= 1100; n++)
        sizes.push_back(n);
    for (size_t n = 1101; n <= 33000; n += 97)
        sizes.push_back(n);
    for (size_t n : {32767, 32768, 32769, 65536, 100000, 1 << 20, 2 << 20, 5 << 20})
        sizes.push_back(n);
    return sizes;
}

void check_sized_same_thread()
{
    int before = failures_so_far();
    std::vector<size_t> sizes = tier_sizes();
    uint64_t rng = 42;
    std::vector<Block> live;
    for (int round = 0; round < 3; round++) {
        for (size_t n : sizes)
            for (int k = 0; k < 2; k++) {
                Block b = make_block(n, (hakc_rand(&rng) & 1) != 0);
                hakc_fill(b.p, n, (uintptr_t)b.p, 99);
                live.push_back(b);
            }
        // Delete most in random order, keeping some alive while the next round allocates over them.
        for (size_t i = live.size(); i > 1; i--)
            std::swap(live[i - 1], live[hakc_rand(&rng) % i]);
        size_t keep = live.size() / 4;
        while (live.size() > keep) {
            sized_delete("sized.same_thread", live.back(), 99);
            live.pop_back();
        }
    }
    for (const Block &b : live)
        sized_delete("sized.same_thread", b, 99);
    CHECK("sized.same_thread", failures_so_far() == before, "%d failures above", failures_so_far() - before);
}

// Blocks of many sizes made by producers and sized-deleted by another thread, while the producers keep
// allocating (the owner takes the blocks back through the remote frees).
void check_sized_cross_thread()
{
    int before = failures_so_far();
    const int kThreads = 4, kBlocks = 3000;
    std::vector<size_t> sizes = tier_sizes();
    std::vector<std::vector<Block>> made(kThreads);
    std::vector<std::thread> producers;
    for (int t = 0; t < kThreads; t++)
        producers.emplace_back([&, t] {
            uint64_t rng = 1000 + t;
            for (int i = 0; i < kBlocks; i++) {
                Block b = make_block(sizes[hakc_rand(&rng) % sizes.size()], i & 1);
                hakc_fill(b.p, b.n, (uintptr_t)b.p, 5);
                made[t].push_back(b);
            }
        });
    for (std::thread &th : producers)
        th.join();
    std::vector<std::thread> deleters;
    std::vector<std::thread> churners;
    for (int t = 0; t < kThreads; t++) {
        deleters.emplace_back([&, t] {   // thread t deletes what producer t+1 made
            for (const Block &b : made[(t + 1) % kThreads])
                sized_delete("sized.cross_thread", b, 5);
        });
        churners.emplace_back([&, t] {   // and new threads allocate and delete meanwhile
            uint64_t rng = 77 + t;
            for (int i = 0; i < kBlocks; i++) {
                Block b = make_block(sizes[hakc_rand(&rng) % (sizes.size() - 3)], i & 1);
                hakc_fill(b.p, b.n, (uintptr_t)b.p, 6);
                sized_delete("sized.cross_thread", b, 6);
            }
        });
    }
    for (std::thread &th : deleters)
        th.join();
    for (std::thread &th : churners)
        th.join();
    // The blocks the deleters gave back are usable again on this thread.
    std::vector<Block> again;
    for (size_t n : sizes)
        again.push_back(make_block(n, false));
    for (const Block &b : again)
        hakc_fill(b.p, b.n, (uintptr_t)b.p, 8);
    for (const Block &b : again)
        sized_delete("sized.cross_thread", b, 8);
    CHECK("sized.cross_thread", failures_so_far() == before, "%d failures above", failures_so_far() - before);
}

int mismatch(size_t n, size_t given)
{
    void *p = ::operator new(n);
    hakc_line("start %p", p);
    ::operator delete(p, given);
    hakc_line("end");
    return 0;
}

}  // namespace

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "mismatch") == 0)
        return mismatch(strtoull(argv[2], nullptr, 0), strtoull(argv[3], nullptr, 0));
    hakc_line("info hakmem_loaded=%d", hakmem_loaded());
    check_forms_resolve();
    check_forms_serve();
    check_alignment();
    check_failure();
    check_zero();
    check_sized_same_thread();
    check_sized_cross_thread();
    return hakc_finish();
}
