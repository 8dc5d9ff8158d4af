/* decide.c — the learners' decision rules on synthetic inputs, without the allocator.
 *
 * Built with -DHAK_LEARN_PURE_ONLY together with src/learn/{alloc_learn,cap_learn,mem_learn,elo}.c:
 * only the pure functions compile. Prints "ok <name>" or "FAIL <name>: <why>" per check and a
 * "summary" line; exits 1 on any failure. usage: decide [GROUP] (all groups without an argument). */
#include "learn.h"

#include <stdio.h>
#include <string.h>

static int fails, oks;
static const char *group;

#define CHECK(name, cond, ...)                                                  \
    do {                                                                        \
        if (cond) {                                                             \
            printf("ok %s/%s\n", group, name);                                  \
            oks++;                                                              \
        } else {                                                                \
            printf("FAIL %s/%s: ", group, name);                                \
            printf(__VA_ARGS__);                                                \
            printf("\n");                                                       \
            fails++;                                                            \
        }                                                                       \
    } while (0)

/* ---- adaptive sizing --------------------------------------------------------------------------- */
static void t_size(void)
{
    group = "size";
    uint32_t nc;
    int a = hak_learn_size_decide(60, 64, 16, 2048, &nc);          /* 93.8% > 80% */
    CHECK("grow", a == HAK_LEARN_GROW && nc == 128, "action %s cap %u", hak_learn_action_name(a), nc);
    a = hak_learn_size_decide(52, 64, 16, 2048, &nc);              /* 81.25% */
    CHECK("grow-just-above-80", a == HAK_LEARN_GROW && nc == 128, "action %s cap %u", hak_learn_action_name(a), nc);
    a = hak_learn_size_decide(51, 64, 16, 2048, &nc);              /* 79.7%: hold */
    CHECK("hold-at-80", a == HAK_LEARN_HOLD && nc == 64, "action %s cap %u", hak_learn_action_name(a), nc);
    a = hak_learn_size_decide(32, 64, 16, 2048, &nc);
    CHECK("hold-mid-band", a == HAK_LEARN_HOLD && nc == 64, "action %s", hak_learn_action_name(a));
    a = hak_learn_size_decide(13, 64, 16, 2048, &nc);              /* 20.3%: hold */
    CHECK("hold-at-20", a == HAK_LEARN_HOLD, "action %s", hak_learn_action_name(a));
    a = hak_learn_size_decide(12, 64, 16, 2048, &nc);              /* 18.75% < 20% */
    CHECK("shrink", a == HAK_LEARN_SHRINK && nc == 32, "action %s cap %u", hak_learn_action_name(a), nc);
    a = hak_learn_size_decide(0, 16, 16, 2048, &nc);
    CHECK("shrink-floor-16", a == HAK_LEARN_HOLD && nc == 16, "action %s cap %u", hak_learn_action_name(a), nc);
    a = hak_learn_size_decide(0, 24, 16, 2048, &nc);
    CHECK("shrink-clamped-to-16", a == HAK_LEARN_SHRINK && nc == 16, "cap %u", nc);
    a = hak_learn_size_decide(2048, 2048, 16, 2048, &nc);
    CHECK("grow-ceiling-2048", a == HAK_LEARN_HOLD && nc == 2048, "action %s cap %u", hak_learn_action_name(a), nc);
    a = hak_learn_size_decide(1500, 1500, 16, 2048, &nc);
    CHECK("grow-clamped-to-2048", a == HAK_LEARN_GROW && nc == 2048, "cap %u", nc);
    a = hak_learn_size_decide(5, 0, 16, 2048, &nc);
    CHECK("bypassed-bin-untouched", a == HAK_LEARN_HOLD && nc == 0, "cap %u", nc);
    /* a run of overflowing windows doubles up to the ceiling, quiet ones halve back to the floor */
    uint32_t cap = 64;
    int steps = 0;
    while (hak_learn_size_decide(cap, cap, 16, 2048, &nc) == HAK_LEARN_GROW) {
        cap = nc;
        steps++;
    }
    CHECK("grow-sequence", cap == 2048 && steps == 5, "cap %u after %d steps", cap, steps);
    steps = 0;
    while (hak_learn_size_decide(0, cap, 16, 2048, &nc) == HAK_LEARN_SHRINK) {
        cap = nc;
        steps++;
    }
    CHECK("shrink-sequence", cap == 16 && steps == 7, "cap %u after %d steps", cap, steps);
    CHECK("limit-tiny", hak_learn_cap_limit(64) == 2048, "%u", hak_learn_cap_limit(64));
    CHECK("limit-by-bytes", hak_learn_cap_limit(8192) == 512, "%u", hak_learn_cap_limit(8192));
    CHECK("limit-floor", hak_learn_cap_limit(1u << 20) == 16, "%u", hak_learn_cap_limit(1u << 20));
    /* refill batch: moves a rate fraction toward the target, at least one block, never above cap */
    CHECK("refill-toward-target", hak_learn_refill_next(16, 64, 0.5, 128) == 40, "%u", hak_learn_refill_next(16, 64, 0.5, 128));
    CHECK("refill-min-step", hak_learn_refill_next(16, 64, 0.01, 128) == 17, "%u", hak_learn_refill_next(16, 64, 0.01, 128));
    CHECK("refill-back-down", hak_learn_refill_next(64, 16, 0.5, 128) == 40, "%u", hak_learn_refill_next(64, 16, 0.5, 128));
    CHECK("refill-hold", hak_learn_refill_next(16, 16, 0.5, 128) == 16, "%u", hak_learn_refill_next(16, 16, 0.5, 128));
    CHECK("refill-clamped-to-room", hak_learn_refill_next(16, 64, 1.0, 32) == 32, "%u", hak_learn_refill_next(16, 64, 1.0, 32));
    CHECK("refill-shrunk-cap", hak_learn_refill_next(64, 64, 0.1, 16) == 16, "%u", hak_learn_refill_next(64, 64, 0.1, 16));
}

/* ---- mid CAP learner --------------------------------------------------------------------------- */
static void t_cap(void)
{
    group = "cap";
    hak_learn_cap_params_t p = { .target = 0.65, .band = HAK_LEARN_CAP_BAND, .step = 4, .min = 8, .max = 2048,
                                 .dwell_ms = 3000, .min_samples = 256 };
    uint32_t nc;
    int a = hak_learn_cap_decide(&p, 500, 500, 16, 10000, 0, &nc);      /* 0.50 < 0.62 */
    CHECK("grow", a == HAK_LEARN_GROW && nc == 20, "action %s cap %u", hak_learn_action_name(a), nc);
    a = hak_learn_cap_decide(&p, 900, 100, 16, 10000, 0, &nc);          /* 0.90 > 0.68 */
    CHECK("shrink", a == HAK_LEARN_SHRINK && nc == 12, "action %s cap %u", hak_learn_action_name(a), nc);
    a = hak_learn_cap_decide(&p, 650, 350, 16, 10000, 0, &nc);          /* 0.65 */
    CHECK("hold-in-band", a == HAK_LEARN_HOLD && nc == 16, "action %s", hak_learn_action_name(a));
    a = hak_learn_cap_decide(&p, 675, 325, 16, 10000, 0, &nc);          /* 0.675: inside +-0.03 */
    CHECK("hold-band-edge", a == HAK_LEARN_HOLD, "action %s", hak_learn_action_name(a));
    a = hak_learn_cap_decide(&p, 100, 100, 16, 10000, 0, &nc);          /* 200 < 256 samples */
    CHECK("few-samples", a == HAK_LEARN_FEW_SAMPLES && nc == 16, "action %s", hak_learn_action_name(a));
    a = hak_learn_cap_decide(&p, 500, 500, 16, 10000, 8000, &nc);       /* changed 2 s ago < 3 s */
    CHECK("dwell", a == HAK_LEARN_DWELL && nc == 16, "action %s", hak_learn_action_name(a));
    a = hak_learn_cap_decide(&p, 500, 500, 16, 11000, 8000, &nc);       /* 3 s later: allowed */
    CHECK("dwell-over", a == HAK_LEARN_GROW && nc == 20, "action %s", hak_learn_action_name(a));
    a = hak_learn_cap_decide(&p, 900, 100, 10, 10000, 0, &nc);
    CHECK("shrink-floor", a == HAK_LEARN_SHRINK && nc == 8, "cap %u", nc);
    a = hak_learn_cap_decide(&p, 900, 100, 8, 10000, 0, &nc);
    CHECK("at-min-holds", a == HAK_LEARN_HOLD && nc == 8, "action %s", hak_learn_action_name(a));
    a = hak_learn_cap_decide(&p, 100, 900, 2046, 10000, 0, &nc);
    CHECK("grow-ceiling", a == HAK_LEARN_GROW && nc == 2048, "cap %u", nc);
    a = hak_learn_cap_decide(&p, 100, 900, 2048, 10000, 0, &nc);
    CHECK("at-max-holds", a == HAK_LEARN_HOLD, "action %s", hak_learn_action_name(a));
    /* Closed loop: a synthetic workload whose hit rate rises with the cap (h = cap / (cap + 24)) settles
     * in the band and, thanks to dwell, changes at most once per dwell period. */
    uint32_t cap = 8;
    uint64_t last = 0;
    unsigned changes = 0, flips = 0;
    int prev = 0;
    for (uint64_t now = 1000; now <= 200000; now += 1000) {
        double h = (double)cap / (cap + 24.0);
        uint64_t hits = (uint64_t)(h * 1000), misses = 1000 - hits;
        int act = hak_learn_cap_decide(&p, hits, misses, cap, now, last, &nc);
        if (act == HAK_LEARN_GROW || act == HAK_LEARN_SHRINK) {
            if (last && now - last < p.dwell_ms)
                flips += 100;                                           /* dwell broken */
            if (prev && prev != act)
                flips++;
            prev = act;
            cap = nc;
            last = now;
            changes++;
        }
    }
    double h = (double)cap / (cap + 24.0);
    CHECK("converges-in-band", h >= 0.62 && h <= 0.68, "hit %.3f at cap %u", h, cap);
    CHECK("no-oscillation", flips == 0 && changes < 20, "%u changes, %u direction flips", changes, flips);
}

/* ---- memory learning --------------------------------------------------------------------------- */
static void t_mem(void)
{
    group = "mem";
    hak_learn_mem_t m;
    hak_learn_mem_init(&m, 0.8);
    int f = hak_learn_mem_decide(&m, 90u << 20, 100u << 20);
    CHECK("thp-needs-confirmation", f == 0 && m.thp == HAK_LEARN_THP_UNDECIDED, "flags %d thp %d", f, m.thp);
    f = hak_learn_mem_decide(&m, 85u << 20, 100u << 20);
    CHECK("thp-on-when-dense", (f & HAK_LEARN_MEM_THP_CHANGED) && m.thp == HAK_LEARN_THP_ON, "flags %d thp %d", f, m.thp);
    f = hak_learn_mem_decide(&m, 95u << 20, 100u << 20);
    CHECK("thp-hold", f == 0 && m.thp == HAK_LEARN_THP_ON, "flags %d", f);
    f = hak_learn_mem_decide(&m, 30u << 20, 100u << 20);
    CHECK("one-low-window-waits", f == 0 && m.thp == HAK_LEARN_THP_ON, "flags %d", f);
    f = hak_learn_mem_decide(&m, 30u << 20, 100u << 20);
    CHECK("trim-when-sparse", (f & HAK_LEARN_MEM_TRIM) && (f & HAK_LEARN_MEM_THP_CHANGED) && m.thp == HAK_LEARN_THP_OFF,
          "flags %d thp %d", f, m.thp);
    f = hak_learn_mem_decide(&m, 30u << 20, 100u << 20);
    CHECK("trim-needs-fresh-evidence", f == 0, "flags %d", f);
    hak_learn_mem_t s;
    hak_learn_mem_init(&s, 0.8);
    hak_learn_mem_decide(&s, 1u << 20, 3u << 20);
    f = hak_learn_mem_decide(&s, 1u << 20, 3u << 20);
    CHECK("no-trim-for-small-slack", !(f & HAK_LEARN_MEM_TRIM), "flags %d", f);
    hak_learn_mem_t t;
    hak_learn_mem_init(&t, 0.9);
    hak_learn_mem_decide(&t, 85u << 20, 100u << 20);
    f = hak_learn_mem_decide(&t, 85u << 20, 100u << 20);
    CHECK("threshold-respected", t.thp == HAK_LEARN_THP_OFF && (f & HAK_LEARN_MEM_TRIM), "thp %d flags %d", t.thp, f);
    f = hak_learn_mem_decide(&t, 0, 0);
    CHECK("nothing-mapped", f == 0, "flags %d", f);
}

/* ---- W_MAX canary trials ----------------------------------------------------------------------- */
static void feed(hak_learn_wmax_t *w, unsigned n, double hit_rate, double waste_frac)
{
    for (unsigned i = 0; i < n; i++) {
        int hit = (double)(i % 100) < hit_rate * 100;
        uint64_t req = 100000;
        hak_learn_wmax_observe(w, req, hit ? req + (uint64_t)(req * waste_frac) : 0, hit);
    }
}

static void t_wmax(void)
{
    group = "wmax";
    double c[8];
    unsigned n = hak_learn_wmax_parse("1.4,1.5, 1.6,1.7", c, 8);
    CHECK("parse", n == 4 && c[0] == 1.4 && c[3] == 1.7, "n %u", n);
    CHECK("parse-skips-below-1", hak_learn_wmax_parse("0.5,2", c, 8) == 1 && c[0] == 2.0, "c0 %g", c[0]);
    CHECK("adopt-rule", hak_learn_wmax_adopts(0.50, 0.52, 0.01), "0.52 vs 0.50");
    CHECK("reject-rule", !hak_learn_wmax_adopts(0.50, 0.505, 0.01), "0.505 vs 0.50");
    CHECK("no-canary-any-gain", hak_learn_wmax_adopts(0.50, 0.501, 0.0), "0.501 vs 0.50");
    hak_learn_wmax_window_t win = { 100, 60, 1000000, 100000 };
    double sc = hak_learn_wmax_score(&win);
    CHECK("score", sc > 0.4999 && sc < 0.5001, "%f", sc);

    double cand[4] = { 1.4, 1.5, 1.6, 1.7 };
    hak_learn_wmax_t w;
    hak_learn_wmax_init(&w, cand, 4, 1, 0.01, 5000, 0);
    CHECK("starts-on-first", hak_learn_wmax_current(&w) == 1.4, "%g", hak_learn_wmax_current(&w));
    feed(&w, 200, 0.50, 0.05);                                           /* incumbent: 0.50 - 0.025 */
    CHECK("no-step-before-time", hak_learn_wmax_step(&w, 4999) == HAK_WMAX_EV_NONE, "stepped early");
    int ev = hak_learn_wmax_step(&w, 5000);
    CHECK("trial-starts", ev == HAK_WMAX_EV_TRIAL && hak_learn_wmax_current(&w) == 1.5, "ev %d w %g", ev,
          hak_learn_wmax_current(&w));
    feed(&w, 200, 0.70, 0.10);                                           /* 0.70 - 0.07 = 0.63 > 0.475 */
    ev = hak_learn_wmax_step(&w, 10000);
    CHECK("adopt", ev == HAK_WMAX_EV_ADOPT && w.incumbent == 1 && hak_learn_wmax_current(&w) == 1.5, "ev %d inc %u",
          ev, w.incumbent);
    feed(&w, 200, 0.70, 0.10);
    ev = hak_learn_wmax_step(&w, 15000);
    CHECK("remeasure-then-trial", ev == HAK_WMAX_EV_TRIAL && hak_learn_wmax_current(&w) == 1.6, "ev %d w %g", ev,
          hak_learn_wmax_current(&w));
    feed(&w, 200, 0.71, 0.10);                                           /* 0.64 vs 0.63: < 1 point better */
    ev = hak_learn_wmax_step(&w, 20000);
    CHECK("reject-small-gain", ev == HAK_WMAX_EV_REJECT && hak_learn_wmax_current(&w) == 1.5, "ev %d w %g", ev,
          hak_learn_wmax_current(&w));
    feed(&w, 200, 0.70, 0.10);
    hak_learn_wmax_step(&w, 25000);                                      /* trial of 1.7 */
    CHECK("trial-next-candidate", hak_learn_wmax_current(&w) == 1.7, "%g", hak_learn_wmax_current(&w));
    feed(&w, 200, 0.75, 0.40);                                           /* more hits, far more waste */
    ev = hak_learn_wmax_step(&w, 30000);
    CHECK("reject-wasteful", ev == HAK_WMAX_EV_REJECT && hak_learn_wmax_current(&w) == 1.5, "ev %d", ev);
    feed(&w, 200, 0.70, 0.10);
    hak_learn_wmax_step(&w, 35000);
    CHECK("skips-incumbent", hak_learn_wmax_current(&w) == 1.4, "trial %g", hak_learn_wmax_current(&w));
    feed(&w, 5, 0.99, 0.0);                                              /* too few requests */
    ev = hak_learn_wmax_step(&w, 40000);
    CHECK("reject-inconclusive", ev == HAK_WMAX_EV_REJECT && hak_learn_wmax_current(&w) == 1.5, "ev %d", ev);
    CHECK("counts", w.adopted == 1 && w.rejected == 3 && w.trials == 4, "adopted %llu rejected %llu trials %llu",
          (unsigned long long)w.adopted, (unsigned long long)w.rejected, (unsigned long long)w.trials);

    hak_learn_wmax_t q;
    hak_learn_wmax_init(&q, cand, 4, 0, 0.01, 1000, 0);                  /* no canary: any gain */
    feed(&q, 100, 0.50, 0.0);
    hak_learn_wmax_step(&q, 1000);
    feed(&q, 100, 0.51, 0.0);
    ev = hak_learn_wmax_step(&q, 2000);
    CHECK("no-canary-adopts-small-gain", ev == HAK_WMAX_EV_ADOPT, "ev %d", ev);
    hak_learn_wmax_t e;
    hak_learn_wmax_init(&e, cand, 0, 1, 0.01, 1000, 0);
    CHECK("no-candidates-exact-fit", hak_learn_wmax_current(&e) == 1.0 && hak_learn_wmax_step(&e, 5000) == HAK_WMAX_EV_NONE,
          "%g", hak_learn_wmax_current(&e));
}

/* ---- ELO ----------------------------------------------------------------------------------------- */
static const char *const names[3] = { "a", "b", "c" };

static void t_elo(void)
{
    group = "elo";
    double e = hak_elo_expected(1500, 1500);
    CHECK("expected-even", e > 0.4999 && e < 0.5001, "%f", e);
    e = hak_elo_expected(1900, 1500);
    CHECK("expected-400", e > 0.9090 && e < 0.9092, "%f", e);
    hak_elo_t x;
    hak_elo_init(&x, 3, names, HAK_ELO_LEARN, 0);
    hak_elo_match(&x, 0, 10.0, 1, 20.0);
    CHECK("win-moves-16", x.rating[0] > 1515.99 && x.rating[0] < 1516.01 && x.rating[1] < 1484.01, "%f %f",
          x.rating[0], x.rating[1]);
    hak_elo_match(&x, 2, 100.0, 1, 101.0);
    CHECK("near-costs-draw", x.rating[2] > 1499.0 && x.rating[2] < 1500.0, "%f", x.rating[2]);   /* a draw against a weaker side */

    /* LEARN: strategy 2 is cheapest; ratings converge and it is frozen within the budget */
    hak_elo_t l;
    hak_elo_init(&l, 3, names, HAK_ELO_LEARN, 0);
    double cost[3] = { 300, 200, 100 };
    uint64_t plays = 0;
    while (l.phase == HAK_ELO_LEARN && plays < 5000) {
        unsigned s = hak_elo_pick(&l);
        hak_elo_result(&l, s, cost[s] * (1.0 + 0.1 * ((plays * 7919) % 11) / 10.0));
        plays++;
    }
    CHECK("converges-bounded", l.phase == HAK_ELO_FROZEN && plays <= l.learn_budget, "phase %s after %llu plays",
          hak_elo_phase_name(l.phase), (unsigned long long)plays);
    CHECK("picks-cheapest", l.champion == 2 && hak_elo_best(&l) == 2, "champion %u", l.champion);
    CHECK("ratings-ordered", l.rating[2] > l.rating[1] && l.rating[1] > l.rating[0], "%.0f %.0f %.0f", l.rating[0],
          l.rating[1], l.rating[2]);
    CHECK("frozen-plays-champion", hak_elo_pick(&l) == 2, "%u", hak_elo_pick(&l));

    /* FROZEN -> CANARY after canary_every plays; a challenger that is now clearly cheaper takes over */
    cost[0] = 20;                                                          /* the workload changed */
    unsigned guard = 0;
    while (l.phase == HAK_ELO_FROZEN && guard++ < 10000)
        hak_elo_result(&l, hak_elo_pick(&l), cost[hak_elo_pick(&l)]);
    CHECK("canary-starts", l.phase == HAK_ELO_CANARY && guard == l.canary_every, "phase %s after %u",
          hak_elo_phase_name(l.phase), guard);
    int seen_champ = 0, seen_chal = 0;
    uint64_t canaries = l.canaries;
    while (l.phase == HAK_ELO_CANARY) {
        unsigned s = hak_elo_pick(&l);
        seen_champ |= s == l.champion;
        seen_chal |= s == l.challenger;
        hak_elo_result(&l, s, cost[s]);
    }
    CHECK("canary-alternates", seen_champ && seen_chal, "champ %d chal %d", seen_champ, seen_chal);
    CHECK("canary-back-to-frozen", l.phase == HAK_ELO_FROZEN && l.canaries == canaries + 1, "phase %s",
          hak_elo_phase_name(l.phase));
    /* challengers take turns: within n - 1 canaries the cheaper one has had its chance and won */
    for (guard = 0; l.switches == 0 && guard < 3 * (l.canary_every + l.canary_len); guard++)
        hak_elo_result(&l, hak_elo_pick(&l), cost[hak_elo_pick(&l)]);
    CHECK("canary-adopts-better", l.champion == 0 && l.switches == 1 && l.canaries <= canaries + 2,
          "champion %u switches %llu canaries %llu", l.champion, (unsigned long long)l.switches,
          (unsigned long long)(l.canaries - canaries));

    /* A canary whose challenger is no better keeps the champion */
    hak_elo_t k;
    hak_elo_init(&k, 3, names, HAK_ELO_CANARY, 1);
    k.phase = HAK_ELO_FROZEN;
    k.canary_every = 100;
    double c2[3] = { 100, 50, 100 };
    for (int i = 0; i < 100 + 64; i++)
        hak_elo_result(&k, hak_elo_pick(&k), c2[hak_elo_pick(&k)]);
    CHECK("canary-rejects-worse", k.champion == 1 && k.canaries == 1 && k.switches == 0 && k.phase == HAK_ELO_FROZEN,
          "champion %u canaries %llu phase %s", k.champion, (unsigned long long)k.canaries, hak_elo_phase_name(k.phase));

    /* frozen at start-up: a fixed choice, never re-tested */
    hak_elo_t f;
    hak_elo_init(&f, 3, names, HAK_ELO_FROZEN, 0);
    for (int i = 0; i < 20000; i++)
        hak_elo_result(&f, hak_elo_pick(&f), 1000.0 - 100 * hak_elo_pick(&f));
    CHECK("frozen-fixed", f.phase == HAK_ELO_FROZEN && f.champion == 0 && f.canaries == 0, "phase %s champion %u",
          hak_elo_phase_name(f.phase), f.champion);

    /* Previewed trials (the large-block path): every strategy's cost on the same request. LEARN plays
     * all of them per request and freezes on the cheapest; canaries that keep the champion double the
     * wait before the next; once each challenger has lost one, the selector settles: no more canaries. */
    hak_elo_t t;
    hak_elo_init(&t, 3, names, HAK_ELO_LEARN, 1);
    double pc[3] = { 100, 400, 250 };
    unsigned requests = 0;
    while (t.phase == HAK_ELO_LEARN && requests < 5000) {
        hak_elo_trial(&t, pc);
        requests++;
    }
    CHECK("trial-learn-plays-all", t.plays[0] == t.plays[1] && t.plays[1] >= t.plays[2] && t.plays[2] + 1 >= t.plays[0],
          "plays %llu %llu %llu", (unsigned long long)t.plays[0], (unsigned long long)t.plays[1],
          (unsigned long long)t.plays[2]);
    CHECK("trial-converges-cheapest", t.phase == HAK_ELO_FROZEN && t.champion == 0 && requests * 3 <= t.learn_budget + 3,
          "phase %s champion %u after %u requests", hak_elo_phase_name(t.phase), t.champion, requests);
    uint64_t every = t.canary_every;
    hak_elo_frozen_plays(&t, every - 1);
    CHECK("frozen-plays-count", t.phase == HAK_ELO_FROZEN, "phase %s", hak_elo_phase_name(t.phase));
    hak_elo_frozen_plays(&t, 1);
    CHECK("frozen-plays-start-canary", t.phase == HAK_ELO_CANARY, "phase %s", hak_elo_phase_name(t.phase));
    while (t.phase == HAK_ELO_CANARY)
        hak_elo_trial(&t, pc);
    CHECK("canary-loss-backs-off", t.canaries == 1 && t.switches == 0 && t.canary_every == 2 * every && !t.settled,
          "canaries %llu switches %llu every %llu settled %d", (unsigned long long)t.canaries,
          (unsigned long long)t.switches, (unsigned long long)t.canary_every, t.settled);
    hak_elo_frozen_plays(&t, t.canary_every);
    while (t.phase == HAK_ELO_CANARY)
        hak_elo_trial(&t, pc);
    CHECK("settles-after-every-challenger-lost", t.settled && t.canary_every == 0 && t.canaries == 2 &&
          t.champion == 0 && t.phase == HAK_ELO_FROZEN, "settled %d every %llu canaries %llu champion %u",
          t.settled, (unsigned long long)t.canary_every, (unsigned long long)t.canaries, t.champion);
    hak_elo_frozen_plays(&t, 1u << 30);
    CHECK("settled-never-re-tests", t.phase == HAK_ELO_FROZEN && t.canaries == 2, "phase %s canaries %llu",
          hak_elo_phase_name(t.phase), (unsigned long long)t.canaries);

    /* Near-ties (the strategies served the same blocks) spend the budget without changing the choice */
    hak_elo_t n;
    hak_elo_init(&n, 3, names, HAK_ELO_LEARN, 0);
    double tie[3] = { 100, 100, 101 };
    for (requests = 0; n.phase == HAK_ELO_LEARN && requests < 5000; requests++)
        hak_elo_trial(&n, tie);
    CHECK("ties-keep-start-up-choice", n.phase == HAK_ELO_FROZEN && n.champion == 0, "phase %s champion %u",
          hak_elo_phase_name(n.phase), n.champion);

    /* A challenger that wins its canary resets the count: the selector keeps re-testing */
    hak_elo_t w;
    hak_elo_init(&w, 3, names, HAK_ELO_FROZEN, 0);
    w.canary_every = 100;
    double wc[3] = { 100, 50, 400 };
    hak_elo_frozen_plays(&w, 100);
    while (w.phase == HAK_ELO_CANARY)
        hak_elo_trial(&w, wc);
    CHECK("canary-win-switches", w.champion == 1 && w.switches == 1 && !w.settled && w.canary_every == 100,
          "champion %u switches %llu settled %d every %llu", w.champion, (unsigned long long)w.switches, w.settled,
          (unsigned long long)w.canary_every);

    /* decay pulls ratings toward 1500 */
    hak_elo_t d;
    hak_elo_init(&d, 2, names, HAK_ELO_LEARN, 0);
    d.learn_budget = 1u << 30;
    d.decay = 0.5;
    d.decay_every = 4;
    d.rating[0] = 1700;
    d.rating[1] = 1300;
    d.mean_cost[0] = d.mean_cost[1] = 100;
    for (int i = 0; i < 4; i++)
        hak_elo_result(&d, hak_elo_pick(&d), 100);                        /* draws */
    CHECK("decay", d.rating[0] < 1650 && d.rating[1] > 1350, "%.1f %.1f", d.rating[0], d.rating[1]);
}

int main(int argc, char **argv)
{
    const char *only = argc > 1 ? argv[1] : NULL;
    struct { const char *name; void (*fn)(void); } groups[] = {
        { "size", t_size }, { "cap", t_cap }, { "mem", t_mem }, { "wmax", t_wmax }, { "elo", t_elo },
    };
    for (unsigned i = 0; i < sizeof groups / sizeof groups[0]; i++)
        if (!only || !strcmp(only, groups[i].name))
            groups[i].fn();
    printf("summary ok=%d fail=%d\n", oks, fails);
    return fails ? 1 : 0;
}
