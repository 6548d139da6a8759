/* main.c - abbey-master: command line, then one of its modes (check, standalone, cluster). */
#include <apr_general.h>
#include <apr_getopt.h>
#include <apr_strings.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "budget.h"
#include "history.h"
#include "log.h"
#include "master.h"
#include "mem.h"
#include "merger.h"
#include "task.h"
#include "value.h"

static void usage(FILE *out)
{
    fputs("usage: abbey-master --check --config FILE [--sample FILE [--job J] [--lines N]]\n"
          "       abbey-master --standalone --once --config FILE [--workers N] [--export-dir DIR]\n"
          "                    [--stdin JOB] [--html FILE] [--history FILE]\n"
          "                    [--memory-limit SIZE]\n"
          "       abbey-master --config FILE --name NAME --listen HOST:PORT --token-file F\n"
          "                    [--data-dir DIR] [--export-dir DIR]          (the primary)\n"
          "                    [--memory-limit SIZE]\n"
          "       abbey-master --primary URL --name NAME --listen HOST:PORT --token-file F\n"
          "                    [--data-dir DIR] [--export-dir DIR]          (a secondary)\n"
          "                    [--memory-limit SIZE]\n"
          "\n"
          "  -c, --config FILE      the rules file (YAML; see docs/RULES.md)\n"
          "      --check            validate the rules file, print its jobs and the\n"
          "                         rule-group -> master assignment, and exit; warns on\n"
          "                         stderr about regexes with nested quantifiers\n"
          "      --sample FILE      with --check: parse the first lines of FILE with the\n"
          "                         job's format and print each line's fields and typed\n"
          "                         values (* marks those the rules use), or why it is bad,\n"
          "                         naming the field; exit 1 when every line is bad\n"
          "      --job J            the job --sample is for (needed when there are several)\n"
          "      --lines N          how many lines --sample shows (default 10)\n"
          "      --standalone       run primary and slave workers in this one process\n"
          "      --once             read every source (to its size at the start),\n"
          "                         export, exit\n"
          "      --stdin JOB        with --standalone --once: run job JOB alone, reading its\n"
          "                         lines from standard input instead of its sources (one\n"
          "                         worker reads it), e.g. zcat old/*.gz | abbey-master ...\n"
          "      --html FILE        with --standalone --once: also write every report into\n"
          "                         FILE, one self-contained HTML page (the dashboard's\n"
          "                         views, data inline, no network needed to open it)\n"
          "  -w, --workers N        worker threads (default: number of cores)\n"
          "  -o, --export-dir DIR   where reports go: DIR/<job>/<report>.csv|json\n"
          "                         (default ./abbey-out)\n"
          "      --history FILE     also keep every exported report in the SQLite database\n"
          "                         FILE, a table per job and report (docs/HISTORY.md); a\n"
          "                         cluster master keeps DATA_DIR/history.sqlite unless\n"
          "                         given FILE or none; standalone keeps none unless given FILE\n"
          "      --history-keep D   how long the history keeps a job's reports when its rules\n"
          "                         set no history: {keep: D} (default 30d)\n"
          "      --memory-limit SIZE  the process's memory budget, e.g. 512MiB or 2G (units\n"
          "                         k M G T or KiB MiB GiB TiB, powers of 1024): its tables\n"
          "                         as accounted (their approximate bytes), plus 32 MiB for\n"
          "                         the rest (standalone: and a read block per worker).\n"
          "                         Standalone merges its workers' tables into the totals\n"
          "                         near it (7/8) and stops with exit status 1, naming the\n"
          "                         job and entry, when the totals alone reach it. A cluster\n"
          "                         master refuses (503, slaves spool) new frames of the jobs\n"
          "                         holding the memory from 7/8 of it, of every job at it,\n"
          "                         until their memory falls (3/4); status and /metrics show\n"
          "                         it (docs/CLUSTER.md, \"Memory budget\")\n"
          "  -q, --quiet            no summary on stdout\n"
          "  -n, --name NAME        this master's name in the rules file's masters:\n"
          "  -l, --listen HOST:PORT address to serve HTTP on (default 127.0.0.1:7101)\n"
          "  -p, --primary URL      run as a secondary of the primary at URL\n"
          "  -d, --data-dir DIR     journals and checkpoints (default ./abbey-data; one\n"
          "                         master per directory): restarted on it, a master\n"
          "                         recovers its state\n"
          "  -t, --token-file F     file holding the cluster's bearer token (its first line,\n"
          "                         printable; a warning when its group or others can read it)\n"
          "      --http-threads N   HTTP worker threads (default 8)\n"
          "      --lease-bytes N    most bytes one read lease covers, with an optional\n"
          "                         k/M/G suffix (primary; default 512M): bigger leases\n"
          "                         send fewer frames and fewer bytes to the masters\n"
          "      --export-every D   write the running-total (period scope) reports at most\n"
          "                         every D (default 10s; 0s: every round); round-scope\n"
          "                         reports are written every round, GET /v1/reports is live\n"
          "      --fsync MODE       when the journal reaches the disk before a frame or a\n"
          "                         completion is acknowledged: batch (default: group\n"
          "                         commit, frames arriving together share one fsync),\n"
          "                         always (one fsync per frame), never (the OS writes it\n"
          "                         back: survives a crash of the process, not of the machine)\n"
          "      --checkpoint-every D  write a checkpoint of the state (and drop the journal\n"
          "                         before it) every D (default 60s), sooner when the\n"
          "                         journal grew by 256M\n"
          "      --repair-after D   ask for ranges a closed round lists but this master never\n"
          "                         got, D after the round's deadline (default 60s; 0s: never)\n"
          "\n"
          "HTTP limits (cluster; docs/CLUSTER.md \"Limits\"):\n"
          "      --max-body SIZE    largest POST /v1/partials body, k/M/G suffix (default 64M;\n"
          "                         413 over it); JSON calls take up to 1M\n"
          "      --max-body-total SIZE  request bodies held at once over all connections\n"
          "                         (default 256M; 503 with Retry-After over it)\n"
          "      --max-conns N      connections that sent a request (default 2048)\n"
          "      --max-unauth-conns N  connections still sending their first request head,\n"
          "                         held apart from those (default 128): a new one over it\n"
          "                         closes the oldest\n"
          "      --max-unauth-per-ip N  of those, from one address (default 32)\n"
          "      --header-timeout D a request head must be complete D after the connection\n"
          "                         (default 10s; 408 otherwise)\n"
          "\n"
          "Signals (cluster): SIGTERM/SIGINT stop cleanly; SIGHUP makes the primary reload\n"
          "its rules file (an invalid file is refused, the old one kept).\n"
          "  -h, --help             this help\n"
          "  -V, --version          print the version\n"
          "\n"
          "Exit status: 0 on success, 1 when a source or report failed or an entry ran out\n"
          "of memory (its reports are not written, the others are) or standalone's totals\n"
          "reached --memory-limit (nothing is written), 2 on bad usage or an invalid rules\n"
          "file.\n",
          out);
}

enum {
    OPT_CHECK = 256,
    OPT_STANDALONE,
    OPT_ONCE,
    OPT_HTTP_THREADS,
    OPT_LEASE_BYTES,
    OPT_EXPORT_EVERY,
    OPT_FSYNC,
    OPT_CHECKPOINT_EVERY,
    OPT_REPAIR_AFTER,
    OPT_MAX_BODY,
    OPT_MAX_BODY_TOTAL,
    OPT_MAX_CONNS,
    OPT_MAX_UNAUTH,
    OPT_MAX_UNAUTH_IP,
    OPT_HEADER_TIMEOUT,
    OPT_SAMPLE,
    OPT_JOB,
    OPT_LINES,
    OPT_STDIN,
    OPT_HISTORY,
    OPT_HISTORY_KEEP,
    OPT_HTML,
    OPT_MEMORY
};

#define LEASE_BYTES_DEFAULT (512u << 20) /* docs/CLUSTER.md, "lease sizing" */

static const apr_getopt_option_t options[] = {
    {"config", 'c', 1, "rules file"},
    {"check", OPT_CHECK, 0, "validate"},
    {"standalone", OPT_STANDALONE, 0, "standalone"},
    {"once", OPT_ONCE, 0, "one-shot"},
    {"stdin", OPT_STDIN, 1, "job reading standard input"},
    {"html", OPT_HTML, 1, "one-file HTML report"},
    {"workers", 'w', 1, "worker threads"},
    {"export-dir", 'o', 1, "export directory"},
    {"quiet", 'q', 0, "quiet"},
    {"name", 'n', 1, "master name"},
    {"listen", 'l', 1, "listen address"},
    {"primary", 'p', 1, "primary URL"},
    {"data-dir", 'd', 1, "data directory"},
    {"token-file", 't', 1, "token file"},
    {"http-threads", OPT_HTTP_THREADS, 1, "HTTP threads"},
    {"lease-bytes", OPT_LEASE_BYTES, 1, "lease byte cap"},
    {"export-every", OPT_EXPORT_EVERY, 1, "period export interval"},
    {"fsync", OPT_FSYNC, 1, "journal fsync mode"},
    {"checkpoint-every", OPT_CHECKPOINT_EVERY, 1, "checkpoint interval"},
    {"repair-after", OPT_REPAIR_AFTER, 1, "gap repair delay"},
    {"max-body", OPT_MAX_BODY, 1, "partials body limit"},
    {"max-body-total", OPT_MAX_BODY_TOTAL, 1, "bodies held at once"},
    {"max-conns", OPT_MAX_CONNS, 1, "connections"},
    {"max-unauth-conns", OPT_MAX_UNAUTH, 1, "connections before their head"},
    {"max-unauth-per-ip", OPT_MAX_UNAUTH_IP, 1, "of those, per address"},
    {"header-timeout", OPT_HEADER_TIMEOUT, 1, "request head deadline"},
    {"sample", OPT_SAMPLE, 1, "sample file for --check"},
    {"job", OPT_JOB, 1, "the sample's job"},
    {"lines", OPT_LINES, 1, "lines of the sample"},
    {"history", OPT_HISTORY, 1, "history database"},
    {"history-keep", OPT_HISTORY_KEEP, 1, "history retention"},
    {"memory-limit", OPT_MEMORY, 1, "memory budget"},
    {"help", 'h', 0, "help"},
    {"version", 'V', 0, "version"},
    {NULL, 0, 0, NULL},
};

int master_parse_listen(const char *listen, char *host, size_t hostlen, int *port, abbey_err_t *err)
{
    const char *colon = strrchr(listen, ':');
    char *end;
    long p;
    if (!colon || colon == listen || (size_t)(colon - listen) >= hostlen) {
        abbey_err_set(err, "--listen: '%s' is not HOST:PORT", listen);
        return -1;
    }
    p = strtol(colon + 1, &end, 10);
    if (!colon[1] || *end || p < 0 || p > 65535) {
        abbey_err_set(err, "--listen: '%s': the port must be a number from 0 to 65535", listen);
        return -1;
    }
    memcpy(host, listen, (size_t)(colon - listen));
    host[colon - listen] = '\0';
    *port = (int)p;
    return 0;
}

/* A positive count for --workers, --http-threads and the connection limits;
 * -1 (with a message) otherwise. */
static int count_arg(const char *flag, const char *arg, int max)
{
    char *end;
    long n = strtol(arg, &end, 10);
    if (*end || n < 1 || n > max) {
        fprintf(stderr, "abbey-master: %s: '%s' is not a number from 1 to %d\n", flag, arg, max);
        return -1;
    }
    return (int)n;
}

/* A size with an optional k/M/G suffix, from 1 to max bytes, for flag into
 * *out; -1 (with a message) otherwise. */
static int size_arg(const char *flag, const char *arg, uint64_t max, uint64_t *out)
{
    char *end;
    unsigned long long n = strtoull(arg, &end, 10);
    int shift = *end == 'k' ? 10 : *end == 'M' ? 20 : *end == 'G' ? 30 : 0;
    if (shift)
        end++;
    if (end == arg || *end || n == 0 || n > max >> shift) {
        fprintf(stderr, "abbey-master: %s: '%s' is not a size from 1 to %llu bytes such as 64M\n",
                flag, arg, (unsigned long long)max);
        return -1;
    }
    *out = (uint64_t)n << shift;
    return 0;
}

/* A duration for flag (positive when positive is set) into *ms; -1 (with a message) otherwise. */
static int duration_arg(const char *flag, const char *arg, int positive, int64_t *ms)
{
    if (value_parse_duration(arg, strlen(arg), ms) != 0 || *ms < 0 || (positive && *ms == 0)) {
        fprintf(stderr, "abbey-master: %s: '%s' is not a%s duration such as 10s\n", flag, arg,
                positive ? " positive" : "");
        return -1;
    }
    return 0;
}

/* Parse argv into opts. Returns -1 to exit 0 (help), 0 to go on, 2 on bad usage. */
static int parse_args(int argc, const char *const *argv, apr_pool_t *pool, master_opts_t *opts)
{
    apr_getopt_t *g;
    apr_status_t rv;
    const char *arg;
    int c, n;

    opts->export_dir = "abbey-out";
    opts->listen = "127.0.0.1:7101";
    opts->data_dir = "abbey-data";
    opts->http_threads = 8;
    opts->lease_bytes = LEASE_BYTES_DEFAULT;
    opts->export_every_ms = 10000;
    opts->fsync = JOURNAL_FSYNC_BATCH;
    opts->checkpoint_every_ms = 60000;
    opts->repair_after_ms = 60000;
    opts->sample_lines = 10;
    opts->history_keep_ms = HISTORY_KEEP_DEFAULT_MS;
    httpd_limits_default(&opts->http);
    opts->max_body = MERGER_MAX_BODY;
    opts->workers = (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (opts->workers < 1)
        opts->workers = 1;
    apr_getopt_init(&g, pool, argc, argv);
    g->errfn = NULL;
    while ((rv = apr_getopt_long(g, options, &c, &arg)) == APR_SUCCESS) {
        switch (c) {
        case 'c':
            opts->config = arg;
            break;
        case OPT_CHECK:
            opts->check = 1;
            break;
        case OPT_SAMPLE:
            opts->sample = arg;
            break;
        case OPT_JOB:
            opts->job = arg;
            break;
        case OPT_LINES:
            if ((opts->sample_lines = count_arg("--lines", arg, 1000000)) < 0)
                return 2;
            break;
        case OPT_STANDALONE:
            opts->standalone = 1;
            break;
        case OPT_ONCE:
            opts->once = 1;
            break;
        case OPT_STDIN:
            opts->stdin_job = arg;
            break;
        case OPT_HISTORY:
            if (!*arg) {
                fprintf(stderr, "abbey-master: --history: give a file, or none\n");
                return 2;
            }
            opts->history = arg;
            break;
        case OPT_HISTORY_KEEP:
            if (duration_arg("--history-keep", arg, 1, &opts->history_keep_ms) != 0)
                return 2;
            break;
        case OPT_HTML:
            opts->html = arg;
            break;
        case OPT_MEMORY: {
            abbey_err_t err;
            if (budget_parse_size("--memory-limit", arg, &opts->memory_limit, &err) != 0) {
                fprintf(stderr, "abbey-master: %s\n", err.msg);
                return 2;
            }
            break;
        }
        case 'o':
            opts->export_dir = arg;
            break;
        case 'q':
            opts->quiet = 1;
            break;
        case 'h':
            usage(stdout);
            return -1;
        case 'V':
            printf("abbey-master %s\n", PACKAGE_VERSION);
            return -1;
        case 'n':
            opts->name = arg;
            break;
        case 'l':
            opts->listen = arg;
            break;
        case 'p':
            opts->primary = arg;
            break;
        case 'd':
            opts->data_dir = arg;
            break;
        case 't':
            opts->token_file = arg;
            break;
        case 'w':
            if ((opts->workers = count_arg("--workers", arg, 1024)) < 0)
                return 2;
            break;
        case OPT_LEASE_BYTES:
            if (size_arg("--lease-bytes", arg, 1ull << 40, &opts->lease_bytes) != 0)
                return 2;
            break;
        case OPT_MAX_BODY:
            if (size_arg("--max-body", arg, 1ull << 30, &opts->max_body) != 0)
                return 2;
            break;
        case OPT_MAX_BODY_TOTAL: {
            uint64_t n;
            if (size_arg("--max-body-total", arg, 1ull << 40, &n) != 0)
                return 2;
            opts->http.max_body_total = (size_t)n;
            break;
        }
        case OPT_MAX_CONNS:
            if ((n = count_arg("--max-conns", arg, 65536)) < 0)
                return 2;
            opts->http.max_conns = (unsigned)n;
            break;
        case OPT_MAX_UNAUTH:
            if ((n = count_arg("--max-unauth-conns", arg, 65536)) < 0)
                return 2;
            opts->http.max_unauth = (unsigned)n;
            break;
        case OPT_MAX_UNAUTH_IP:
            if ((n = count_arg("--max-unauth-per-ip", arg, 65536)) < 0)
                return 2;
            opts->http.max_unauth_per_ip = (unsigned)n;
            break;
        case OPT_HEADER_TIMEOUT:
            if (duration_arg("--header-timeout", arg, 1, &opts->http.head_timeout_ms) != 0)
                return 2;
            break;
        case OPT_EXPORT_EVERY:
            if (duration_arg("--export-every", arg, 0, &opts->export_every_ms) != 0)
                return 2;
            break;
        case OPT_CHECKPOINT_EVERY:
            if (duration_arg("--checkpoint-every", arg, 1, &opts->checkpoint_every_ms) != 0)
                return 2;
            break;
        case OPT_REPAIR_AFTER:
            if (duration_arg("--repair-after", arg, 0, &opts->repair_after_ms) != 0)
                return 2;
            break;
        case OPT_FSYNC:
            if (journal_fsync_parse(arg, &opts->fsync) != 0) {
                fprintf(stderr, "abbey-master: --fsync: '%s' is not always, batch or never\n", arg);
                return 2;
            }
            break;
        case OPT_HTTP_THREADS:
            if ((opts->http_threads = count_arg("--http-threads", arg, 256)) < 0)
                return 2;
            break;
        }
    }
    if (rv != APR_EOF) {
        fprintf(stderr, "abbey-master: bad option near '%s' (see --help)\n",
                g->ind > 0 && g->ind <= argc ? argv[g->ind - 1] : "?");
        return 2;
    }
    if (g->ind < argc) {
        fprintf(stderr, "abbey-master: unexpected argument '%s' (see --help)\n", argv[g->ind]);
        return 2;
    }
    if (opts->stdin_job && (!opts->standalone || !opts->once || opts->check)) {
        fprintf(stderr, "abbey-master: --stdin JOB reads one job's lines in a one-shot run: use "
                        "it with --standalone --once (see --help)\n");
        return 2;
    }
    if (opts->html && (!opts->standalone || !opts->once || opts->check)) {
        fprintf(stderr, "abbey-master: --html FILE writes a one-shot run's reports: use it with "
                        "--standalone --once (a cluster master serves its dashboard at GET /; "
                        "see --help)\n");
        return 2;
    }
    if (opts->stdin_job && isatty(STDIN_FILENO)) {
        fprintf(stderr,
                "abbey-master: --stdin %s: standard input is a terminal; pipe the job's "
                "log in, e.g. zcat old/*.gz | abbey-master --standalone --once "
                "--config F --stdin %s\n",
                opts->stdin_job, opts->stdin_job);
        return 2;
    }
    if (opts->memory_limit && opts->check) {
        fprintf(stderr, "abbey-master: --memory-limit goes with --standalone or a cluster "
                        "master (see --help)\n");
        return 2;
    }
    if (!opts->check && !opts->standalone) { /* a cluster member */
        abbey_err_t err;
        if (opts->memory_limit && budget_check_limit("--memory-limit", opts->memory_limit,
                                                     budget_allowance(0, 0), &err) != 0) {
            fprintf(stderr, "abbey-master: %s\n", err.msg);
            return 2;
        }
        if (!opts->config == !opts->primary) {
            fprintf(stderr, "abbey-master: give --config FILE (primary) or --primary URL "
                            "(secondary), not both (see --help)\n");
            return 2;
        }
        if (!opts->name || !opts->token_file) {
            fprintf(stderr, "abbey-master: a cluster master needs --name NAME and --token-file F "
                            "(see --help)\n");
            return 2;
        }
        return 0;
    }
    if (!opts->config) {
        fprintf(stderr, "abbey-master: --config FILE is required (see --help)\n");
        return 2;
    }
    if (opts->check && opts->history) {
        fprintf(stderr, "abbey-master: --history goes with --standalone or a cluster master "
                        "(see --help)\n");
        return 2;
    }
    if ((opts->sample || opts->job) && !opts->check) {
        fprintf(stderr, "abbey-master: --sample and --job go with --check (see --help)\n");
        return 2;
    }
    if (opts->standalone && !opts->once) {
        fprintf(stderr, "abbey-master: --standalone runs one-shot for now: add --once\n");
        return 2;
    }
    return 0;
}

int main(int argc, const char *const *argv)
{
    master_opts_t opts;
    rules_config_t *cfg;
    apr_pool_t *pool;
    abbey_err_t err;
    int rc;

    apr_app_initialize(&argc, &argv, NULL);
    atexit(apr_terminate);
    pool = mem_xpool(NULL);
    memset(&opts, 0, sizeof opts);
    rc = parse_args(argc, argv, pool, &opts);
    if (rc)
        return rc < 0 ? 0 : rc;
    if (!opts.check && !opts.standalone) {
        rc = master_cluster_run(&opts, pool);
        apr_pool_destroy(pool);
        return rc;
    }
    log_set_identity("master", opts.check ? "check" : "standalone", NULL);
    if (rules_load_file(opts.config, pool, &cfg, &err) != APR_SUCCESS) {
        fprintf(stderr, "%s\n", err.msg);
        return 2;
    }
    if (opts.check && opts.sample) {
        master_check_warn(cfg, stderr);
        rc = master_check_sample(cfg, &opts, stdout, pool);
        apr_pool_destroy(pool);
        return rc;
    }
    if (opts.stdin_job && !rules_find_job(cfg, opts.stdin_job)) {
        fprintf(stderr, "abbey-master: --stdin: %s has no job '%s' (its jobs:", opts.config,
                opts.stdin_job);
        for (int j = 0; j < cfg->njobs; j++)
            fprintf(stderr, "%s %s", j ? "," : "", cfg->jobs[j].name);
        fputs(")\n", stderr);
        return 2;
    }
    if (opts.check) {
        master_check_print(cfg, stdout);
        master_check_warn(cfg, stderr);
        return 0;
    }
    if (opts.memory_limit &&
        budget_check_limit("--memory-limit", opts.memory_limit,
                           budget_allowance(opts.workers, task_io_size(cfg, 0)), &err) != 0) {
        fprintf(stderr, "abbey-master: %s\n", err.msg);
        return 2;
    }
    rc = master_standalone_once(cfg, &opts, opts.quiet ? NULL : stdout, pool);
    apr_pool_destroy(pool);
    return rc;
}
