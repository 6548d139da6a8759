/* sched_bench.c - the scheduler's own costs, in process (no HTTP): a lease grant, an idle
 * round of sticky leases, at 1,000, 10,000 and 50,000 sources.
 *
 *   build/tests/tools/sched_bench [N...]     (default 1000 10000 50000)
 *
 * For each N: a job of N file sources with 1 s rounds; the cost of one one-shot grant
 * (sched_lease of 1) and of one sticky grant (sched_lease_sticky, a batch of 1024 split in
 * grants), each the fastest of 20 batches of 50 (so that being preempted on a shared
 * machine does not count); then 50 slaves hold every task and report each round "nothing
 * new" for theirs (sched_report, 20 rounds): the CPU time per round, and whether every
 * round closed complete. The clock is simulated; CPU time is the process's
 * (CLOCK_PROCESS_CPUTIME_ID). Built with make check, run by hand (tests/tools). */
#include <apr_general.h>
#include <apr_strings.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "rules.h"
#include "scheduler.h"

#define T0 INT64_C(1700000000000)
#define SLAVES 50

static double now_ns(clockid_t c)
{
    struct timespec t;
    clock_gettime(c, &t);
    return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static rules_config_t *config(int n, apr_pool_t *pool)
{
    buf_t y;
    rules_config_t *c;
    abbey_err_t err;
    buf_init(&y);
    buf_printf(&y, "masters:\n  - {name: m1, url: 'http://127.0.0.1:7101'}\n"
                   "jobs:\n  - name: web\n    round: 1s\n    sources:\n");
    for (int i = 0; i < n; i++)
        buf_printf(&y, "      - /var/log/f%07d.log\n", i);
    buf_printf(&y, "    format: combined\n    groups:\n      - name: g\n        entries:\n"
                   "          - {name: e, values: {hits: count}}\n");
    if (rules_load_buffer((const char *)y.data, y.len, "bench.yaml", pool, &c, &err) !=
        APR_SUCCESS) {
        fprintf(stderr, "sched_bench: %s\n", err.msg);
        exit(1);
    }
    buf_free(&y);
    return c;
}

static int closed, incomplete;
static void on_round(void *ctx, const char *job, const sched_round_t *r)
{
    (void)ctx, (void)job;
    closed++;
    incomplete += r->incomplete;
}

/* The fastest of 20 batches of 50 grants, in ns per grant. */
static double grant_ns(sched_t *s, int sticky)
{
    double best = 1e18;
    sched_lease_t l[1];
    const char *labels[] = {"x"};
    for (int b = 0; b < 20; b++) {
        double t0 = now_ns(CLOCK_MONOTONIC);
        for (int i = 0; i < 50; i++) {
            sched_ask_t a = {"bench", labels, 1, 1, 1, -1};
            int n = sticky ? sched_lease_sticky(s, &a, T0 + 1, l)
                           : sched_lease(s, "bench", labels, 1, 1, T0 + 1, l);
            if (n != 1) {
                fprintf(stderr, "sched_bench: no lease granted\n");
                exit(1);
            }
        }
        double ns = (now_ns(CLOCK_MONOTONIC) - t0) / 50;
        if (ns < best)
            best = ns;
    }
    return best;
}

static void bench(int n)
{
    apr_pool_t *pool;
    apr_pool_create(&pool, NULL);
    rules_config_t *cfg = config(n, pool);
    sched_opts_t o = {.lease_ms = 30000, .lease_bytes = 1 << 20, .deadline_rounds = 3};

    sched_t *s = sched_create(cfg, &o, pool);
    sched_tick(s, T0);
    double one = grant_ns(s, 0);
    s = sched_create(cfg, &o, pool);
    sched_tick(s, T0);
    double sticky = grant_ns(s, 1);

    /* every task held by SLAVES slaves, then idle rounds */
    s = sched_create(cfg, &o, pool);
    sched_on_round_closed(s, on_round, NULL);
    sched_lease_t *out = malloc(sizeof *out * 1024);
    uint64_t *ids[SLAVES], *gone = malloc(sizeof(uint64_t) * (size_t)n);
    int nids[SLAVES];
    char names[SLAVES][16];
    for (int v = 0; v < SLAVES; v++) { /* everyone live first: grants within shares */
        snprintf(names[v], sizeof names[v], "s%d", v);
        sched_ask_t a = {names[v], NULL, 0, 0, 1, -1};
        sched_lease_sticky(s, &a, T0, out);
        ids[v] = malloc(sizeof(uint64_t) * (size_t)n);
        nids[v] = 0;
    }
    int held = 0;
    for (int v = 0; v < SLAVES; v++)
        for (;;) {
            sched_ask_t a = {names[v], NULL, 0, 1024, 1, -1};
            int k = sched_lease_sticky(s, &a, T0 + 1, out);
            for (int i = 0; i < k; i++)
                ids[v][nids[v]++] = out[i].id;
            held += k;
            if (k < 1024)
                break;
        }
    closed = incomplete = 0;
    double cpu0 = now_ns(CLOCK_PROCESS_CPUTIME_ID);
    int rounds = 20;
    for (int r = 1; r <= rounds; r++) {
        int64_t at = T0 + r * 1000 + 5;
        for (int v = 0; v < SLAVES; v++) {
            sched_idle_t g = {"web", (T0 + r * 1000) / 1000, nids[v], ids[v]};
            sched_report_t rep = {names[v], 0, NULL, 1, &g, 0, NULL, -1};
            int ngone;
            sched_report(s, &rep, at + v, NULL, NULL, NULL, gone, &ngone);
            sched_news_t nw;
            apr_pool_t *tmp;
            apr_pool_create(&tmp, pool);
            sched_news(s, names[v], at + v, tmp, &nw);
            apr_pool_destroy(tmp);
        }
    }
    double per_round = (now_ns(CLOCK_PROCESS_CPUTIME_ID) - cpu0) / rounds / 1e6;
    printf("%6d sources: a grant %.0f ns (one-shot), %.0f ns (sticky); %d held by %d slaves; "
           "an idle round %.2f ms of CPU (%.2f%% of a core at 1 s rounds), %d rounds closed, "
           "%d incomplete\n",
           n, one, sticky, held, SLAVES, per_round, per_round / 10, closed, incomplete);
    for (int v = 0; v < SLAVES; v++)
        free(ids[v]);
    free(gone);
    free(out);
    apr_pool_destroy(pool);
}

int main(int argc, char **argv)
{
    apr_initialize();
    if (argc < 2) {
        bench(1000);
        bench(10000);
        bench(50000);
    }
    for (int i = 1; i < argc; i++)
        bench(atoi(argv[i]));
    apr_terminate();
    return 0;
}
