/* elo.c — ELO strategy selection for the large-block path, with the LEARN -> FROZEN -> CANARY lifecycle.
 *
 * Strategies (serve a large request from a cached block within W_MAX, from a cached block of the same
 * size only, or with a fresh mapping) play matches: each play's cost is compared with the running mean
 * cost of another strategy, a cheaper play wins, and both ratings move by K * (score - expected).
 *   LEARN   plays the strategies in turn; after `learn_budget` plays (1024: convergence is bounded by
 *           construction), or earlier once every strategy has 32 plays and the leader is 100 points
 *           clear, the phase turns FROZEN; the best-rated strategy becomes the champion if it is 100
 *           points above the start-up choice.
 *   FROZEN  plays the champion only; every `canary_every` plays a CANARY starts.
 *   CANARY  alternates the champion with one challenger (each canary the next one in turn) for
 *           `canary_len` plays; a challenger whose mean cost is 5% below the champion's takes over.
 *           Then FROZEN again. A canary that keeps the champion doubles the wait before the next one;
 *           once every challenger has lost HAK_ELO_SETTLE_LOSSES canaries in a row the selector settles:
 *           FROZEN for good, no more canaries: trials that show no gain stop costing anything.
 * The large-block selector (below) never plays a strategy on the program's requests: a strategy that
 * misses maps blocks the cache then keeps for good. It plays on previews instead (hak_elo_trial: every
 * strategy the phase calls for, costed on what BigCache would serve the same request with), and the
 * request is served by the champion.
 * HAKMEM_ELO_PHASE sets the phase at start-up: learn; frozen (the default strategy, fixed: no
 * canaries, as balanced ships); canary (the default strategy, re-tested by canaries until they show
 * no gain).
 * Ratings decay toward 1500 every 256 plays by 0.98, or by HAKMEM_LEARN_DECAY when
 * HAKMEM_LEARN_ADVANCED=1, so old evidence fades when the workload changes.
 *
 * The cost model is deterministic (syscalls, newly faulted pages, wasted pages), not a clock reading:
 * timings on a shared machine are noise, and a model lets the unit tests replay a decision exactly. */
#include "learn.h"
#ifdef HAK_LEARN_PURE_ONLY
#define HAK_LEARN_HAVE_ELO 1
#else
#define HAK_LEARN_HAVE_ELO HAK_FEATURE_ELO
#endif

#if HAK_LEARN_HAVE_ELO
#include <string.h>

/* ==================================================================== the rating machine (pure) */

const char *hak_elo_phase_name(int phase)
{
    return phase == HAK_ELO_LEARN ? "learn" : phase == HAK_ELO_FROZEN ? "frozen" : phase == HAK_ELO_CANARY ? "canary" : "?";
}

void hak_elo_init(hak_elo_t *e, unsigned n, const char *const *names, int phase, unsigned champion)
{
    memset(e, 0, sizeof *e);
    if (n > HAK_ELO_MAX)
        n = HAK_ELO_MAX;
    if (n == 0)
        n = 1;
    e->n = n;
    for (unsigned i = 0; i < n; i++) {
        e->name[i] = names ? names[i] : "";
        e->rating[i] = HAK_ELO_BASE;
        e->mean_cost[i] = -1.0;           /* not played yet */
    }
    e->champion = champion < n ? champion : 0;
    e->challenger = (e->champion + 1) % n;
    e->phase = phase;
    e->learn_budget = 1024;
    e->canary_every = phase == HAK_ELO_FROZEN ? 0 : 4096;   /* frozen at start-up: a fixed choice */
    e->canary_len = 64;
    e->decay = 0.98;
    e->decay_every = 256;
}

/* e^x without libm (the .so links none): Taylor series on x/1024, squared ten times. */
static double exp_small(double x)
{
    if (x > 40)
        x = 40;
    if (x < -40)
        x = -40;
    double y = x / 1024.0, t = 1.0, s = 1.0;
    for (int i = 1; i <= 6; i++) {
        t *= y / i;
        s += t;
    }
    for (int i = 0; i < 10; i++)
        s *= s;
    return s;
}

double hak_elo_expected(double ra, double rb)
{
    return 1.0 / (1.0 + exp_small((rb - ra) / 400.0 * 2.302585092994046));   /* 10^((rb-ra)/400) */
}

void hak_elo_match(hak_elo_t *e, unsigned a, double cost_a, unsigned b, double cost_b)
{
    if (a == b || a >= e->n || b >= e->n)
        return;
    double hi = cost_a > cost_b ? cost_a : cost_b;
    double s;
    double diff = cost_a > cost_b ? cost_a - cost_b : cost_b - cost_a;
    if (hi <= 0 || diff <= HAK_ELO_TIE * hi)
        s = 0.5;
    else
        s = cost_a < cost_b ? 1.0 : 0.0;
    double d = HAK_ELO_K * (s - hak_elo_expected(e->rating[a], e->rating[b]));
    e->rating[a] += d;
    e->rating[b] -= d;
}

unsigned hak_elo_best(const hak_elo_t *e)
{
    unsigned best = 0;
    for (unsigned i = 1; i < e->n; i++)
        if (e->rating[i] > e->rating[best])
            best = i;
    return best;
}

unsigned hak_elo_pick(hak_elo_t *e)
{
    switch (e->phase) {
    case HAK_ELO_LEARN:
        return e->cursor % e->n;
    case HAK_ELO_CANARY:
        return (e->phase_plays & 1) ? e->challenger : e->champion;
    default:
        return e->champion;
    }
}

/* The opponent of a play by s: the next strategy in turn that has a cost on record. */
static int opponent(const hak_elo_t *e, unsigned s)
{
    if (e->n < 2)
        return -1;
    unsigned start = 1 + (unsigned)(e->total_plays % (e->n - 1));   /* every pair meets in turn */
    for (unsigned k = 0; k < e->n - 1; k++) {
        unsigned o = (s + 1 + (start - 1 + k) % (e->n - 1)) % e->n;
        if (o != s && e->mean_cost[o] >= 0)
            return (int)o;
    }
    return -1;
}

static void freeze(hak_elo_t *e)
{
    /* The start-up choice stays unless the evidence is clear: a budget spent on near-ties (the
     * strategies served the same blocks) is no reason to change what the program gets. */
    unsigned best = hak_elo_best(e);
    if (e->rating[best] - e->rating[e->champion] >= HAK_ELO_LEAD)
        e->champion = best;
    e->phase = HAK_ELO_FROZEN;
    e->phase_plays = 0;
    e->freezes++;
    if (!e->canary_every)
        e->canary_every = 4096;           /* learned choices are re-tested */
}

static int converged(const hak_elo_t *e)
{
    if (e->n < 2)
        return 1;
    unsigned best = hak_elo_best(e);
    double second = -1e300;
    for (unsigned i = 0; i < e->n; i++) {
        if (e->plays[i] < 32)
            return 0;
        if (i != best && e->rating[i] > second)
            second = e->rating[i];
    }
    return e->rating[best] - second >= HAK_ELO_LEAD;
}

static void canary_when_due(hak_elo_t *e)
{
    if (!e->canary_every || e->phase_plays < e->canary_every || e->n < 2)
        return;
    e->phase = HAK_ELO_CANARY;
    e->phase_plays = 0;
    e->canary_cost[0] = e->canary_cost[1] = 0;
    e->canary_plays[0] = e->canary_plays[1] = 0;
    unsigned c = e->challenger;
    if (c == e->champion)
        c = (c + 1) % e->n;
    e->challenger = c;
}

int hak_elo_result(hak_elo_t *e, unsigned s, double cost)
{
    if (s >= e->n)
        return e->phase;
    int o = opponent(e, s);
    if (o >= 0)
        hak_elo_match(e, s, cost, (unsigned)o, e->mean_cost[o]);
    e->mean_cost[s] = e->mean_cost[s] < 0 ? cost : e->mean_cost[s] + (cost - e->mean_cost[s]) / 16.0;
    e->plays[s]++;
    e->total_plays++;
    e->phase_plays++;
    if (e->decay_every && e->total_plays % e->decay_every == 0)
        for (unsigned i = 0; i < e->n; i++)
            e->rating[i] = HAK_ELO_BASE + e->decay * (e->rating[i] - HAK_ELO_BASE);
    switch (e->phase) {
    case HAK_ELO_LEARN:
        e->cursor++;
        if (e->phase_plays >= e->learn_budget || converged(e))
            freeze(e);
        break;
    case HAK_ELO_FROZEN:
        canary_when_due(e);
        break;
    case HAK_ELO_CANARY: {
        int idx = s == e->champion ? 0 : s == e->challenger ? 1 : -1;
        if (idx >= 0) {
            e->canary_cost[idx] += cost;
            e->canary_plays[idx]++;
        }
        if (e->phase_plays >= e->canary_len) {
            double champ = e->canary_plays[0] ? e->canary_cost[0] / (double)e->canary_plays[0] : 0;
            double chal = e->canary_plays[1] ? e->canary_cost[1] / (double)e->canary_plays[1] : 0;
            e->canaries++;
            if (e->canary_plays[1] && chal < champ * (1.0 - HAK_ELO_CANARY_WIN)) {
                e->champion = e->challenger;
                e->switches++;
                e->losing_canaries = 0;
            } else if (++e->losing_canaries >= HAK_ELO_SETTLE_LOSSES * (uint64_t)(e->n - 1)) {
                e->canary_every = 0;
                e->settled = 1;
            } else {
                e->canary_every *= 2;
            }
            /* next canary tries the next strategy */
            unsigned c = (e->challenger + 1) % e->n;
            if (c == e->champion)
                c = (c + 1) % e->n;
            e->challenger = c;
            e->phase = HAK_ELO_FROZEN;
            e->phase_plays = 0;
        }
        break;
    }
    default:
        break;
    }
    return e->phase;
}

int hak_elo_trial(hak_elo_t *e, const double *cost)
{
    int phase = e->phase;
    if (phase == HAK_ELO_LEARN) {
        for (unsigned s = 0; s < e->n && e->phase == phase; s++)
            hak_elo_result(e, s, cost[s]);
    } else if (phase == HAK_ELO_CANARY) {
        unsigned champion = e->champion, challenger = e->challenger;
        hak_elo_result(e, champion, cost[champion]);
        if (e->phase == phase)
            hak_elo_result(e, challenger, cost[challenger]);
    } else {
        hak_elo_result(e, e->champion, cost[e->champion]);
    }
    return e->phase;
}

int hak_elo_frozen_plays(hak_elo_t *e, uint64_t k)
{
    if (e->phase != HAK_ELO_FROZEN)
        return e->phase;
    e->plays[e->champion] += k;
    e->total_plays += k;
    e->phase_plays += k;
    canary_when_due(e);
    return e->phase;
}

#ifndef HAK_LEARN_PURE_ONLY
/* ==================================================================== the large-block selector */
#include "log.h"

#include <pthread.h>
#include <sched.h>

static const char *const large_names[HAK_ELO_LARGE_COUNT] = { "best_fit", "exact", "largest_fit" };
static pthread_mutex_t elo_lock = PTHREAD_MUTEX_INITIALIZER;
static hak_elo_t E;                       /* under elo_lock */
static int e_ready;                       /* under elo_lock */
static _Atomic int g_fixed = -1;          /* 1: frozen at start-up or settled, nothing to learn; -1: not known yet */
static _Atomic int g_exploring = 1;       /* LEARN or CANARY: requests are previewed (1 until known) */

/* Cost in nanosecond-like units: a syscall ~2 us, a first-touch page fault ~0.5 us per 4 KiB page, and
 * a page of waste held 0.05 us (memory is not free either). */
double hak_elo_large_cost(unsigned syscalls, size_t fresh_bytes, size_t waste_bytes)
{
    return 2000.0 * syscalls + 500.0 * (double)(fresh_bytes >> 12) + 50.0 * (double)(waste_bytes >> 12);
}

static void ready_locked(void)
{
    if (e_ready)
        return;
    int phase = hak_cfg.elo_phase == HAK_ELO_PHASE_LEARN ? HAK_ELO_LEARN
              : hak_cfg.elo_phase == HAK_ELO_PHASE_CANARY ? HAK_ELO_CANARY : HAK_ELO_FROZEN;
    hak_elo_init(&E, HAK_ELO_LARGE_COUNT, large_names, phase == HAK_ELO_CANARY ? HAK_ELO_FROZEN : phase,
                 HAK_ELO_LARGE_BEST);
    if (phase == HAK_ELO_CANARY)
        E.canary_every = 4096;            /* start frozen on the default, re-tested from the start */
    E.decay = hak_cfg.learn_advanced ? hak_cfg.learn_decay : 0.98;
    if (!hak_cfg.learn_advanced && hak_cfg.learn_decay != HAK_DEFAULT_LEARN_DECAY)
        hak_msg("HAKMEM_LEARN_DECAY=%s is ignored without HAKMEM_LEARN_ADVANCED=1 (rating decay stays 0.98)",
                hak_learn_fx(hak_cfg.learn_decay, 3).s);
    atomic_store_explicit(&g_fixed, phase == HAK_ELO_FROZEN, memory_order_relaxed);
    atomic_store_explicit(&g_exploring, E.phase != HAK_ELO_FROZEN, memory_order_relaxed);
    e_ready = 1;
}

int hak_elo_large_learning(void)
{
    return atomic_load_explicit(&g_fixed, memory_order_relaxed) != 1;
}

int hak_elo_large_exploring(void)
{
    return atomic_load_explicit(&g_exploring, memory_order_relaxed);
}

/* After a play, with elo_lock held: publish the phase, log a change, stop for good once settled. */
static int after_play_locked(int before, unsigned champion_before)
{
    atomic_store_explicit(&g_exploring, E.phase != HAK_ELO_FROZEN, memory_order_relaxed);
    int log = hak_cfg.adaptive_log || hak_cfg.debug_level >= 2;
    if ((E.phase != before || E.champion != champion_before) && log)
        hak_msg("[ELO] %s -> %s after %llu plays: champion %s (ratings best_fit %s, exact %s, largest_fit %s)",
                hak_elo_phase_name(before), hak_elo_phase_name(E.phase), (unsigned long long)E.total_plays,
                large_names[E.champion], hak_learn_fx(E.rating[0], 0).s, hak_learn_fx(E.rating[1], 0).s,
                hak_learn_fx(E.rating[2], 0).s);
    if (E.settled && atomic_load_explicit(&g_fixed, memory_order_relaxed) != 1) {
        atomic_store_explicit(&g_fixed, 1, memory_order_relaxed);   /* the hooks cost one load from now on */
        if (log)
            hak_msg("[ELO] settled on %s after %llu canaries without a gain: no more trials",
                    large_names[E.champion], (unsigned long long)E.canaries);
    }
    return (int)E.champion;
}

int hak_elo_large_trial(const double *cost)
{
    if (pthread_mutex_trylock(&elo_lock) != 0)
        return -1;                        /* contended: skip this trial rather than wait */
    ready_locked();
    int before = E.phase;
    unsigned champion = E.champion;
    if (E.phase != HAK_ELO_FROZEN)            /* FROZEN plays are counted by hak_elo_large_event */
        hak_elo_trial(&E, cost);
    int next = after_play_locked(before, champion);
    pthread_mutex_unlock(&elo_lock);
    return next;
}

void hak_learn_elo_fork_child(void)
{
    pthread_mutex_init(&elo_lock, NULL);
}

/* FROZEN plays are counted in batches: between canaries a large request costs one atomic add. */
#define FROZEN_BATCH 64
static _Atomic uint64_t g_frozen_plays;

void hak_elo_large_event(void)
{
    if (!hak_elo_large_learning() || hak_elo_large_exploring())
        return;                           /* fixed, or the trials are counting plays themselves */
    if ((atomic_fetch_add_explicit(&g_frozen_plays, 1, memory_order_relaxed) + 1) % FROZEN_BATCH)
        return;
    if (pthread_mutex_trylock(&elo_lock) != 0)
        return;                           /* contended: the next canary starts a batch later */
    ready_locked();
    int before = E.phase;
    hak_elo_frozen_plays(&E, FROZEN_BATCH);
    after_play_locked(before, E.champion);
    pthread_mutex_unlock(&elo_lock);
}

size_t hak_learn_elo_report(char *buf, size_t cap, size_t len, int json)
{
    /* Reports run at exit and from the interval thread, possibly in a child forked while another
     * thread held the lock: try a while, never block. */
    int locked = 0;
    for (int i = 0; i < 1000 && !(locked = pthread_mutex_trylock(&elo_lock) == 0); i++)
        sched_yield();
    if (!locked)
        return json ? hak_learn_fmt(buf, cap, len, "\"elo\":{\"phase\":\"busy\"}")
                    : hak_learn_fmt(buf, cap, len, "  ELO (large blocks): busy\n");
    ready_locked();
    hak_elo_t e = E;
    pthread_mutex_unlock(&elo_lock);
    if (json) {
        len = hak_learn_fmt(buf, cap, len, "\"elo\":{\"phase\":\"%s\",\"champion\":\"%s\",\"plays\":%llu,"
                            "\"freezes\":%llu,\"canaries\":%llu,\"switches\":%llu,\"settled\":%s,\"strategies\":[",
                            hak_elo_phase_name(e.phase), large_names[e.champion], (unsigned long long)e.total_plays,
                            (unsigned long long)e.freezes, (unsigned long long)e.canaries,
                            (unsigned long long)e.switches, e.settled ? "true" : "false");
        for (unsigned i = 0; i < e.n; i++)
            len = hak_learn_fmt(buf, cap, len, "%s{\"name\":\"%s\",\"rating\":%.1f,\"plays\":%llu,\"mean_cost\":%.1f}",
                                i ? "," : "", large_names[i], e.rating[i], (unsigned long long)e.plays[i],
                                e.mean_cost[i] < 0 ? 0.0 : e.mean_cost[i]);
        return hak_learn_fmt(buf, cap, len, "]}");
    }
    len = hak_learn_fmt(buf, cap, len, "  ELO (large blocks): phase %s%s, champion %s, %llu plays, %llu canaries, %llu switches\n",
                        hak_elo_phase_name(e.phase), e.settled ? " (settled)" : "", large_names[e.champion],
                        (unsigned long long)e.total_plays, (unsigned long long)e.canaries, (unsigned long long)e.switches);
    len = hak_learn_fmt(buf, cap, len, "    ratings:");
    for (unsigned i = 0; i < e.n; i++)
        len = hak_learn_fmt(buf, cap, len, " %s %.0f (%llu plays)", large_names[i], e.rating[i],
                            (unsigned long long)e.plays[i]);
    return hak_learn_fmt(buf, cap, len, "\n");
}
#endif /* !HAK_LEARN_PURE_ONLY */
#endif /* HAK_LEARN_HAVE_ELO */
