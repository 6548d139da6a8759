/* main.c - abbey-slave: command line, first config, threads, and SIGTERM/SIGINT.
 *
 * The slave needs only the primary's URL and the token: it fetches the
 * config from the primary (waiting for it to come up), then runs --workers
 * lease loops (worker.c) and the renewer (slave.c) until a signal asks it
 * to stop: workers take no new lease, finish the one they hold (a read in
 * progress ends early: task.h's stop flag), and the process exits 0. A second signal exits at once.
 * Frames a master will not take go to --spool-dir (spool.c); files already there are re-delivered.
 */
#include <apr_general.h>
#include <apr_getopt.h>
#include <apr_strings.h>
#include <ctype.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "budget.h"
#include "frame.h"
#include "hclient.h"
#include "log.h"
#include "mem.h"
#include "slave.h"
#include "token.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "dev"
#endif

static void usage(FILE *out)
{
    fputs("usage: abbey-slave --primary URL --name NAME --token-file F [--labels a,b]\n"
          "                   [--workers N] [--spool-dir DIR] [--poll-ms MS]\n"
          "                   [--memory-limit SIZE]\n"
          "\n"
          "  -p, --primary URL      the primary master, e.g. http://10.0.0.1:7101\n"
          "  -n, --name NAME        this slave's name (letters, digits, . _ -)\n"
          "  -t, --token-file F     file whose first line is the cluster's bearer token\n"
          "  -l, --labels a,b       labels this slave carries (sources may require them)\n"
          "  -w, --workers N        lease loops run in parallel (default 2)\n"
          "      --spool-dir DIR    where frames for unreachable masters are kept\n"
          "                         (default ./spool)\n"
          "      --poll-ms MS       wait between lease calls when idle (default 500)\n"
          "      --single-leases    one lease per request, as slaves before sticky leases\n"
          "                         (for a primary of that age; docs/CLUSTER.md)\n"
          "      --memory-limit SIZE  the slave's memory budget, e.g. 512MiB or 2G (units\n"
          "                         k M G T or KiB MiB GiB TiB, powers of 1024): the workers'\n"
          "                         tables as accounted, plus 32 MiB and a read block per\n"
          "                         worker; near it (7/8) a read is cut after its block and\n"
          "                         delivered, the rest leased again: more, smaller frames,\n"
          "                         nothing lost (docs/CLUSTER.md, \"Memory budget\")\n"
          "  -h, --help             this help\n"
          "  -V, --version          print the version\n"
          "\n"
          "SIGTERM or SIGINT: take no new lease, finish the current ones, exit 0; a read\n"
          "in progress ends at its next block (an http source's transfer within a\n"
          "second) and what it read is delivered and completed.\n"
          "Exit status: 0 after a clean stop, 1 on a start-up failure, 2 on bad usage.\n",
          out);
}

enum { OPT_SPOOL = 256, OPT_POLL, OPT_SINGLE, OPT_MEMORY };

/* clang-format off */
static const apr_getopt_option_t options[] = {
    {"primary", 'p', 1, "primary URL"},
    {"name", 'n', 1, "slave name"},
    {"token-file", 't', 1, "token file"},
    {"labels", 'l', 1, "labels"},
    {"workers", 'w', 1, "workers"},
    {"spool-dir", OPT_SPOOL, 1, "spool directory"},
    {"poll-ms", OPT_POLL, 1, "idle poll"},
    {"single-leases", OPT_SINGLE, 0, "one lease per request"},
    {"memory-limit", OPT_MEMORY, 1, "memory budget"},
    {"help", 'h', 0, "help"},
    {"version", 'V', 0, "version"},
    {NULL, 0, 0, NULL},
};
/* clang-format on */

/* An integer option in [lo, hi]; -1 (with a message) when it is not. */
static int int_arg(const char *name, const char *arg, long lo, long hi, int *out)
{
    char *end;
    long v = strtol(arg, &end, 10);
    if (!*arg || *end || v < lo || v > hi) {
        fprintf(stderr, "abbey-slave: --%s: '%s' is not a number from %ld to %ld\n", name, arg, lo,
                hi);
        return -1;
    }
    *out = (int)v;
    return 0;
}

/* 1 when s is a usable name or label: 1 to FRAME_NAME_MAX - 1 of [A-Za-z0-9._-]. */
static int good_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n >= FRAME_NAME_MAX)
        return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '.' && *s != '_' && *s != '-')
            return 0;
    return 1;
}

/* "a,b" into opts->labels; -1 on an empty or bad label. */
static int parse_labels(const char *arg, apr_pool_t *pool, slave_opts_t *opts)
{
    int n = 1;
    for (const char *p = arg; *p; p++)
        n += *p == ',';
    opts->labels = apr_pcalloc(pool, sizeof *opts->labels * (size_t)n);
    opts->nlabels = 0;
    for (const char *p = arg;; p++) {
        const char *comma = strchr(p, ',');
        const char *tok = comma ? apr_pstrndup(pool, p, (apr_size_t)(comma - p)) : p;
        if (!good_name(tok)) {
            fprintf(stderr,
                    "abbey-slave: --labels: '%s' is not a label (1 to %d of letters, digits, "
                    ". _ -)\n",
                    tok, FRAME_NAME_MAX - 1);
            return -1;
        }
        opts->labels[opts->nlabels++] = tok;
        if (!comma)
            return 0;
        p = comma;
    }
}

/* Parse argv. Returns -1 to exit 0 (help, version), 0 to go on, 2 on bad usage. */
static int parse_args(int argc, const char *const *argv, apr_pool_t *pool, slave_opts_t *opts,
                      const char **token_file)
{
    apr_getopt_t *g;
    apr_status_t rv;
    const char *arg;
    const char *url;
    abbey_err_t err;
    int c;

    apr_getopt_init(&g, pool, argc, argv);
    g->errfn = NULL;
    while ((rv = apr_getopt_long(g, options, &c, &arg)) == APR_SUCCESS) {
        switch (c) {
        case 'p':
            opts->primary = arg;
            break;
        case 'n':
            opts->name = arg;
            break;
        case 't':
            *token_file = arg;
            break;
        case OPT_SPOOL:
            opts->spool_dir = arg;
            break;
        case OPT_SINGLE:
            opts->single = 1;
            break;
        case 'h':
            usage(stdout);
            return -1;
        case 'V':
            printf("abbey-slave %s\n", PACKAGE_VERSION);
            return -1;
        case 'l':
            if (parse_labels(arg, pool, opts) != 0)
                return 2;
            break;
        case 'w':
            if (int_arg("workers", arg, 1, 256, &opts->workers) != 0)
                return 2;
            break;
        case OPT_POLL:
            if (int_arg("poll-ms", arg, 1, 600000, &opts->poll_ms) != 0)
                return 2;
            break;
        case OPT_MEMORY:
            if (budget_parse_size("--memory-limit", arg, &opts->memory_limit, &err) != 0) {
                fprintf(stderr, "abbey-slave: %s\n", err.msg);
                return 2;
            }
            break;
        }
    }
    if (rv != APR_EOF) {
        fprintf(stderr, "abbey-slave: bad option near '%s' (see --help)\n",
                g->ind > 0 && g->ind <= argc ? argv[g->ind - 1] : "?");
        return 2;
    }
    if (g->ind < argc) {
        fprintf(stderr, "abbey-slave: unexpected argument '%s' (see --help)\n", argv[g->ind]);
        return 2;
    }
    if (!opts->primary || !opts->name || !**token_file) {
        fprintf(stderr, "abbey-slave: --primary URL, --name NAME and --token-file F are "
                        "required (see --help)\n");
        return 2;
    }
    if (!(url = hclient_base_url(opts->primary, pool))) {
        fprintf(stderr, "abbey-slave: --primary: '%s' is not an http:// or https:// URL\n",
                opts->primary);
        return 2;
    }
    opts->primary = url;
    if (opts->memory_limit &&
        budget_check_limit("--memory-limit", opts->memory_limit,
                           slave_allowance(opts->workers, opts->block), &err) != 0) {
        fprintf(stderr, "abbey-slave: %s\n", err.msg);
        return 2;
    }
    if (!good_name(opts->name)) {
        fprintf(stderr, "abbey-slave: --name: '%s' must be 1 to %d of letters, digits, . _ -\n",
                opts->name, FRAME_NAME_MAX - 1);
        return 2;
    }
    return 0;
}

static const char *join_labels(const slave_opts_t *opts, apr_pool_t *pool)
{
    const char *s = "";
    for (int i = 0; i < opts->nlabels; i++)
        s = apr_pstrcat(pool, s, i ? "," : "", opts->labels[i], NULL);
    return s;
}

/* Signals are blocked in every thread; this one waits for them. */
static void *signal_thread(void *data)
{
    slave_t *s = data;
    sigset_t set;
    int sig, n = 0;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    for (;;) {
        if (sigwait(&set, &sig) != 0)
            continue;
        if (n++) {
            log_msg("signal %d again: exiting now", sig);
            _exit(1);
        }
        log_msg("signal %d: taking no new lease; finishing the current ones", sig);
        slave_request_stop(s);
    }
    return NULL;
}

/* The first config: keep asking until the primary answers or we are told to stop.
 * Over the slave's one connection to the primary (slave_t.primary_hc), which
 * the threads go on using. */
static int first_config(slave_t *s)
{
    int64_t wait = 200;
    int told = 0;
    abbey_err_t err;

    while (slave_config_update(s, s->primary_hc, NULL, &err) != APR_SUCCESS) {
        if (!told++)
            log_msg("waiting for the primary's config: %s", err.msg);
        if (slave_sleep(s, wait))
            return -1;
        if (wait < 5000)
            wait *= 2;
    }
    return 0;
}

int main(int argc, const char *const *argv)
{
    slave_opts_t opts;
    const char *token_file = "";
    apr_pool_t *pool;
    abbey_err_t err;
    pthread_t sigt;
    sigset_t set;
    slave_t *s;
    int rc;

    apr_app_initialize(&argc, &argv, NULL);
    atexit(apr_terminate);
    pool = mem_xpool(NULL);
    memset(&opts, 0, sizeof opts);
    opts.workers = 2;
    opts.poll_ms = 500;
    opts.retry_ms = 500;
    opts.spool_dir = "spool";
    opts.connect_ms = 3000;
    opts.timeout_ms = 120000;
    rc = parse_args(argc, argv, pool, &opts, &token_file);
    if (rc)
        return rc < 0 ? 0 : rc;
    log_set_identity("slave", "slave", opts.name);
    if (token_read_file(token_file, pool, &opts.token, &err) != APR_SUCCESS) {
        fprintf(stderr, "abbey-slave: %s\n", err.msg);
        return 2;
    }
    hclient_global_init();
    signal(SIGPIPE, SIG_IGN);
    signal(SIGXFSZ, SIG_IGN); /* a spool file over the size limit: EFBIG, logged */
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL); /* before any thread: all inherit it */
    s = slave_create(&opts, pool);
    if (pthread_create(&sigt, NULL, signal_thread, s) != 0) {
        log_msg("cannot start the signal thread");
        return 1;
    }
    pthread_detach(sigt);
    if (slave_spool_open(s, &err) != APR_SUCCESS) {
        log_msg("spool: %s", err.msg);
        return 1;
    }
    if (first_config(s) != 0) {
        log_msg("stopped before the first config arrived");
        return 0;
    }
    if (slave_start(s, &err) != APR_SUCCESS) {
        log_msg("%s", err.msg);
        slave_join(s);
        return 1;
    }
    if (s->budget) {
        char lim[32], allow[32];
        log_msg("started: primary %s, %d worker(s), labels [%s], memory limit %s (%s of it "
                "allowed for the process besides its tables)",
                opts.primary, opts.workers, join_labels(&opts, pool),
                budget_text(opts.memory_limit, lim, sizeof lim),
                budget_text(budget_allowance_of(s->budget), allow, sizeof allow));
    } else {
        log_msg("started: primary %s, %d worker(s), labels [%s]", opts.primary, opts.workers,
                join_labels(&opts, pool));
    }
    slave_join(s);
    log_msg("stopped");
    return 0;
}
