/* learn.h — the learners: pure decision rules (unit-tested on synthetic inputs) and the slow-path hooks.
 *
 * Four learners, one file each (docs/LEARNING.md):
 *   alloc_learn.c  adaptive per-class thread-cache capacity and refill batch (HAKMEM_ALLOC_LEARN)
 *   cap_learn.c    mid-tier CAP learner: holds the MID bins' hit rate in a band (HAKMEM_TARGET_HIT_MID ...)
 *   mem_learn.c    THP advice and RSS trimming from utilisation; W_MAX canary trials (HAKMEM_MEM_LEARN ...)
 *   elo.c          ELO strategy selection for large blocks, LEARN -> FROZEN -> CANARY (HAKMEM_ELO_PHASE)
 * learn.c holds what they share: the per-thread hook dispatch, the clock and the stats report.
 *
 * The first half of this header needs nothing but <stdint.h>: tests/learn compiles the decision
 * functions straight into a driver with -DHAK_LEARN_PURE_ONLY, no allocator involved. Every learner
 * file compiles to nothing in a mode without its feature, so a fast .so carries no hak_learn_* or
 * hak_elo_* symbol. Nothing here runs on an allocation fast path: the hooks sit in the refill and
 * overflow slow paths, which a thread reaches once per batch of blocks. */
#ifndef HAK_LEARN_H
#define HAK_LEARN_H

#include <stddef.h>
#include <stdint.h>

/* ======================================================================== pure decision rules */

enum hak_learn_action {
    HAK_LEARN_HOLD = 0,     /* inside the band: keep */
    HAK_LEARN_GROW,
    HAK_LEARN_SHRINK,
    HAK_LEARN_DWELL,        /* would change, but the last change is too recent */
    HAK_LEARN_FEW_SAMPLES,  /* the window has too little evidence to act on */
};
static inline const char *hak_learn_action_name(int action)
{
    static const char *const names[] = { "hold", "grow", "shrink", "dwell", "few-samples" };
    return action >= 0 && action <= HAK_LEARN_FEW_SAMPLES ? names[action] : "?";
}

/* ---- adaptive sizing (alloc_learn.c) ----------------------------------------------------------- */
#define HAK_LEARN_CAP_MIN       16        /* slots */
#define HAK_LEARN_CAP_MAX       2048
#define HAK_LEARN_BIN_BYTES_MAX (4u << 20) /* and never more than 4 MiB of blocks in one bin */
#define HAK_LEARN_GROW_PCT      80        /* high-water mark above 80% of cap: double it */
#define HAK_LEARN_SHRINK_PCT    20        /* below 20%: halve it */
#define HAK_LEARN_EVAL_EVENTS   10        /* re-evaluate a class every 10 refills/overflows ... */
#define HAK_LEARN_EVAL_NS       1000000000ull /* ... or every second */

/* Grow / shrink / hold for one bin: hwm = most blocks it held in the window, within [lo, hi]. */
int hak_learn_size_decide(uint32_t hwm, uint32_t cap, uint32_t lo, uint32_t hi, uint32_t *new_cap);
/* Largest cap for a class of `size` bytes: HAK_LEARN_CAP_MAX slots and HAK_LEARN_BIN_BYTES_MAX bytes. */
uint32_t hak_learn_cap_limit(uint32_t size);
/* Refill batch one learning step later: moves a `rate` fraction (at least one block) toward `target`,
 * clamped to [1, cap] — a refill never brings more than the bin has room for. */
uint32_t hak_learn_refill_next(uint32_t refill, uint32_t target, double rate, uint32_t cap);

/* ---- mid-tier CAP learner (cap_learn.c) -------------------------------------------------------- */
#define HAK_LEARN_CAP_BAND 0.03   /* hit rate within target +- 3 points: hold */
typedef struct hak_learn_cap_params {
    double target;          /* HAKMEM_TARGET_HIT_MID */
    double band;            /* HAK_LEARN_CAP_BAND */
    uint32_t step;          /* HAKMEM_CAP_STEP_MID */
    uint32_t min, max;      /* HAKMEM_CAP_MIN_MID, HAKMEM_CAP_MAX_MID */
    uint64_t dwell_ms;      /* HAKMEM_CAP_DWELL_SEC_MID * 1000 */
    uint64_t min_samples;   /* HAKMEM_LEARN_MIN_SAMPLES */
} hak_learn_cap_params_t;
/* hits = bin pops, misses = refills in the window; last_change_ms = 0 when never changed. */
int hak_learn_cap_decide(const hak_learn_cap_params_t *p, uint64_t hits, uint64_t misses, uint32_t cap,
                         uint64_t now_ms, uint64_t last_change_ms, uint32_t *new_cap);

/* ---- memory learning (mem_learn.c) ------------------------------------------------------------- */
#define HAK_LEARN_MEM_CONFIRM    2            /* windows in a row that must agree before acting */
#define HAK_LEARN_MEM_TRIM_SLACK (4u << 20)   /* mapped-but-unused bytes below which trimming is pointless */
#define HAK_LEARN_MEM_TRIM_AFTER_MS 1000      /* utilisation low this long before a trim (the running learner) */
enum { HAK_LEARN_THP_UNDECIDED = 0, HAK_LEARN_THP_ON = 1, HAK_LEARN_THP_OFF = 2 };
typedef struct hak_learn_mem {
    double threshold;        /* HAKMEM_MEM_LEARN_THRESHOLD: utilisation at which huge pages pay */
    int thp;                 /* current advice, HAK_LEARN_THP_* */
    unsigned high_run, low_run;
    uint64_t windows, trims, thp_changes;
    double last_util;
} hak_learn_mem_t;
enum { HAK_LEARN_MEM_NONE = 0, HAK_LEARN_MEM_THP_CHANGED = 1, HAK_LEARN_MEM_TRIM = 2 };
void hak_learn_mem_init(hak_learn_mem_t *m, double threshold);
/* One window's observation: live bytes (in use or cached by threads) against bytes mapped.
 * Returns HAK_LEARN_MEM_* flags: the THP advice changed, and/or unused memory should be trimmed. */
int hak_learn_mem_decide(hak_learn_mem_t *m, uint64_t live_bytes, uint64_t mapped_bytes);

/* ---- W_MAX canary trials (mem_learn.c) --------------------------------------------------------- */
#define HAK_LEARN_WMAX_MAX         8
#define HAK_LEARN_WMAX_MIN_SAMPLES 32   /* requests a trial needs; fewer: inconclusive, candidate rejected */
enum { HAK_WMAX_MEASURE = 0, HAK_WMAX_TRIAL = 1 };
enum { HAK_WMAX_EV_NONE = 0, HAK_WMAX_EV_MEASURED, HAK_WMAX_EV_TRIAL, HAK_WMAX_EV_ADOPT, HAK_WMAX_EV_REJECT };
typedef struct hak_learn_wmax_window {
    uint64_t requests, hits, req_bytes, waste_bytes;
} hak_learn_wmax_window_t;
typedef struct hak_learn_wmax {
    unsigned n;                       /* candidates */
    double cand[HAK_LEARN_WMAX_MAX];
    unsigned incumbent, trial, next;  /* indexes into cand */
    int state;                        /* HAK_WMAX_MEASURE (incumbent) or HAK_WMAX_TRIAL (cand[trial]) */
    int canary;                       /* HAKMEM_WMAX_CANARY: 0 adopts on any improvement */
    double adopt;                     /* HAKMEM_WMAX_ADOPT_PCT */
    uint64_t trial_ms, phase_end_ms;
    double inc_score, last_score;
    uint64_t adopted, rejected, trials;
    hak_learn_wmax_window_t win;
} hak_learn_wmax_t;
/* Score of a window, higher is better: the fraction of requests served from the cache minus the
 * fraction of requested bytes wasted by serving them with bigger blocks. */
double hak_learn_wmax_score(const hak_learn_wmax_window_t *w);
/* Candidates from HAKMEM_WMAX_CANDIDATES_MID text ("1.4,1.5"); returns how many were parsed. */
unsigned hak_learn_wmax_parse(const char *text, double *out, unsigned max);
void hak_learn_wmax_init(hak_learn_wmax_t *w, const double *cand, unsigned n, int canary, double adopt,
                         uint64_t trial_ms, uint64_t now_ms);
double hak_learn_wmax_current(const hak_learn_wmax_t *w);   /* the W_MAX in force now */
void hak_learn_wmax_observe(hak_learn_wmax_t *w, uint64_t request, uint64_t block, int hit);
/* Close the phase if its time is up: returns HAK_WMAX_EV_* (what happened). */
int hak_learn_wmax_step(hak_learn_wmax_t *w, uint64_t now_ms);
/* The adoption rule alone: does a candidate scoring `cand` replace an incumbent scoring `inc`? */
int hak_learn_wmax_adopts(double inc, double cand, double adopt);

/* ---- ELO strategy selection (elo.c) ------------------------------------------------------------ */
#define HAK_ELO_MAX       6
#define HAK_ELO_BASE      1500.0
#define HAK_ELO_K         32.0
#define HAK_ELO_TIE       0.02      /* costs within 2% of each other: a draw */
#define HAK_ELO_CANARY_WIN 0.05     /* a challenger must be 5% cheaper in a canary to take over */
#define HAK_ELO_LEAD       100.0    /* rating lead that ends LEARN early and replaces the start-up choice */
#define HAK_ELO_SETTLE_LOSSES 1     /* canaries in a row each challenger loses before re-testing stops */
enum { HAK_ELO_LEARN = 0, HAK_ELO_FROZEN = 1, HAK_ELO_CANARY = 2 };   /* index order of HAKMEM_ELO_PHASE */
typedef struct hak_elo {
    unsigned n;
    const char *name[HAK_ELO_MAX];
    double rating[HAK_ELO_MAX];
    double mean_cost[HAK_ELO_MAX];    /* running mean (EWMA, 1/16) of each strategy's cost */
    uint64_t plays[HAK_ELO_MAX];
    double canary_cost[2];            /* sum of costs of champion / challenger during a canary */
    uint64_t canary_plays[2];
    int phase;
    unsigned champion, challenger, cursor;
    uint64_t phase_plays;             /* plays since the current phase began */
    uint64_t learn_budget;            /* LEARN ends after this many plays (bounded convergence) */
    uint64_t canary_every;            /* FROZEN plays between two canaries */
    uint64_t canary_len;              /* plays of one canary */
    double decay;                     /* ratings pulled toward HAK_ELO_BASE by this factor ... */
    uint64_t decay_every;             /* ... every so many plays */
    uint64_t total_plays, freezes, canaries, switches;
    uint64_t losing_canaries;         /* canaries in a row that kept the champion */
    int settled;                      /* re-testing stopped: trials showed no gain (see elo.c) */
} hak_elo_t;
void hak_elo_init(hak_elo_t *e, unsigned n, const char *const *names, int phase, unsigned champion);
double hak_elo_expected(double ra, double rb);                  /* P(a beats b) */
/* One match: a's cost against b's; lower is better. Updates both ratings. */
void hak_elo_match(hak_elo_t *e, unsigned a, double cost_a, unsigned b, double cost_b);
unsigned hak_elo_pick(hak_elo_t *e);                             /* strategy for the next play */
/* Report the cost of a play; returns the phase after it (may have moved on). */
int hak_elo_result(hak_elo_t *e, unsigned s, double cost);
/* One request whose cost under every strategy is known (previewed, none played for real): LEARN plays
 * them all, CANARY the champion and the challenger, FROZEN the champion. Returns the phase after. */
int hak_elo_trial(hak_elo_t *e, const double *cost);
/* k plays of the champion while FROZEN, costs not recorded (a champion's cost only counts against a
 * challenger's in a canary): they count toward the next canary. Returns the phase after. */
int hak_elo_frozen_plays(hak_elo_t *e, uint64_t k);
unsigned hak_elo_best(const hak_elo_t *e);
const char *hak_elo_phase_name(int phase);

/* ======================================================================== allocator hooks */
#ifndef HAK_LEARN_PURE_ONLY
#include "learn_thread.h"   /* HAK_HAS_LEARN_HOOKS, the per-thread state */

struct hak_tls;
struct hak_bin;

#if HAK_HAS_LEARN_HOOKS
/* Refill slow path, bin `b` of class `cls` empty, before the batch size is computed. May change the
 * bin's cap (room follows) and the heap's refill batch for the class. */
void hak_learn_on_refill(struct hak_tls *t, struct hak_bin *b, unsigned cls);
/* Free slow path, bin full (room == 0), before it is flushed. May grow the cap: then room > 0 and the
 * caller skips the flush. */
void hak_learn_on_overflow(struct hak_tls *t, struct hak_bin *b, unsigned cls);
#endif

#if HAK_FEATURE_MEM_LEARN || HAK_FEATURE_ELO
/* The large-block path, after each lookup (thread stash, then BigCache) for `request` bytes: hit (a
 * cached block of `block` bytes served it) or miss (a fresh mapping). Feeds the W_MAX trials and
 * counts the ELO champion's plays. */
void hak_learn_large_event(size_t request, size_t block, int hit);
/* 0 when hak_learn_large_event would do nothing all run (no W_MAX trials, ELO frozen from the start):
 * the large-block path then skips it and the previews. Fixed once the configuration is loaded. */
int hak_learn_large_wanted(void);
#endif
#if HAK_FEATURE_ELO
/* The large-block path, before a BigCache lookup for `request` bytes: while the ELO selector explores,
 * what each strategy would serve is previewed and costed; the request itself is served by the champion. */
void hak_learn_large_preview(size_t request);
#endif
#if HAK_FEATURE_MEM_LEARN
/* W_MAX the trials have in force (x1000), 0 when W_MAX learning is off. */
uint32_t hak_learn_wmax_milli(void);
void hak_learn_wmax_event(size_t request, size_t block, int hit, uint64_t now_ms);
/* THP advice from memory learning: HAK_LEARN_THP_ON / _OFF, or _UNDECIDED (keep the configured policy). */
int hak_learn_thp_advice(void);
#endif
#if HAK_FEATURE_ELO
/* Large-block strategies the ELO selector chooses among: BigCache's lookup strategies, same order. */
enum { HAK_ELO_LARGE_BEST = 0, HAK_ELO_LARGE_EXACT, HAK_ELO_LARGE_LARGEST, HAK_ELO_LARGE_COUNT };
/* Cost of one large request: syscalls made, bytes whose pages fault in afresh, bytes wasted. */
double hak_elo_large_cost(unsigned syscalls, size_t fresh_bytes, size_t waste_bytes);
/* 0 once selection is fixed (frozen at start-up, or settled): plays need not even be costed. */
int hak_elo_large_learning(void);
/* 1 in LEARN and CANARY: requests are previewed and costed under every strategy the phase plays. */
int hak_elo_large_exploring(void);
/* One previewed request, cost[s] under strategy s: returns the champion (the strategy to serve with),
 * or -1 when the selector was busy. */
int hak_elo_large_trial(const double *cost);
/* One request served by the champion while FROZEN: counts toward the next canary. */
void hak_elo_large_event(void);
#endif

#if HAK_HAS_LEARNING
/* In the child of fork: the learners' locks are only ever tried, never waited on, so one held by a
 * thread the child does not have would stop that learner there for good (ELO would preview every
 * large request forever); they start over unlocked. */
void hak_learn_fork_child(void);
/* Learner state for the statistics report (text lines, each starting with two spaces) and the JSON
 * report (one member, "learning":{...}, no trailing comma). Return the length written. */
size_t hak_learn_report_text(char *buf, size_t cap);
size_t hak_learn_report_json(char *buf, size_t cap);
#endif

/* ---- shared by the learner files (internal) ---------------------------------------------------- */
uint64_t hak_learn_now_ns(void);
/* A double as text with `dec` decimals, for hak_msg (which formats no floating point and never
 * allocates): hak_msg("hit %s", hak_learn_fx(rate, 3).s). */
typedef struct hak_learn_fx { char s[32]; } hak_learn_fx_t;
hak_learn_fx_t hak_learn_fx(double v, int dec);
size_t hak_learn_fmt(char *buf, size_t cap, size_t len, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
#if HAK_HAS_LEARN_HOOKS
size_t hak_learn_pace_report(char *buf, size_t cap, size_t len, int json);
#endif
#if HAK_FEATURE_ALLOC_LEARN
/* weight: the slow-path events this one stands for (learn.c samples a quiet thread's events). */
void hak_learn_alloc_event(struct hak_tls *t, struct hak_bin *b, unsigned cls, int overflow, unsigned weight,
                           uint64_t now);
void hak_learn_alloc_sweep(struct hak_tls *t, uint64_t now);
size_t hak_learn_alloc_report(char *buf, size_t cap, size_t len, int json);
#endif
#if HAK_FEATURE_CAP_LEARN
int hak_learn_cap_owns(unsigned cls);   /* the CAP learner sizes this class's bins */
void hak_learn_cap_event(struct hak_tls *t, struct hak_bin *b, unsigned cls, int overflow, unsigned weight,
                         uint64_t now);
size_t hak_learn_cap_report(char *buf, size_t cap, size_t len, int json);
#endif
#if HAK_FEATURE_MEM_LEARN
void hak_learn_mem_event(struct hak_tls *t, uint32_t blocks, uint64_t now);
size_t hak_learn_mem_report(char *buf, size_t cap, size_t len, int json);
#endif
#if HAK_FEATURE_ELO
size_t hak_learn_elo_report(char *buf, size_t cap, size_t len, int json);
void hak_learn_elo_fork_child(void);
#endif
#if HAK_FEATURE_CAP_LEARN
void hak_learn_cap_fork_child(void);
#endif
#if HAK_FEATURE_MEM_LEARN
void hak_learn_mem_fork_child(void);
#endif
#if HAK_HAS_LEARN_HOOKS
/* Resize a bin owned by the calling thread: room follows the cap, blocks above a smaller cap go home. */
void hak_learn_bin_set_cap(struct hak_tls *t, struct hak_bin *b, uint32_t new_cap);
#endif
#endif /* HAK_LEARN_PURE_ONLY */

#endif
