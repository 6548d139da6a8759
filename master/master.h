/* master.h - the abbey-master program's modes, shared between its files. */
#ifndef ABBEY_MASTER_H
#define ABBEY_MASTER_H

#include <apr_pools.h>
#include <stdint.h>
#include <stdio.h>

#include "httpd.h"
#include "journal.h"
#include "rules.h"

typedef struct master_opts_t {
    const char *config;     /* --config FILE */
    const char *export_dir; /* --export-dir DIR (default "abbey-out") */
    int workers;            /* --workers N (default: number of cores) */
    int standalone;         /* --standalone */
    int once;               /* --once */
    int check;              /* --check */
    int quiet;              /* --quiet: no summary */
    const char *sample;     /* --check --sample FILE: show how its first lines parse */
    const char *job;        /* --job J: the job the sample is for (default: the only one) */
    int sample_lines;       /* --lines N: how many lines of the sample (default 10) */
    const char *stdin_job;  /* --stdin JOB: standalone reads JOB alone, from standard input */
    const char *html;       /* --html FILE: standalone also writes the one-file HTML report */
    /* cluster members */
    const char *name;            /* --name NAME: this master in the config's masters: */
    const char *listen;          /* --listen HOST:PORT (default 127.0.0.1:7101) */
    const char *primary;         /* --primary URL: a secondary */
    const char *data_dir;        /* --data-dir DIR (default ./abbey-data) */
    const char *token_file;      /* --token-file F */
    int http_threads;            /* --http-threads N (default 4) */
    uint64_t lease_bytes;        /* --lease-bytes N: the byte cap of one read lease (primary) */
    int64_t export_every_ms;     /* --export-every D: period reports at most this often */
    journal_fsync_t fsync;       /* --fsync always|batch|never */
    int64_t checkpoint_every_ms; /* --checkpoint-every D */
    int64_t repair_after_ms;     /* --repair-after D (0: no gap repair) */
    httpd_limits_t http;         /* --max-conns, --max-unauth-conns, --max-unauth-per-ip,
                                    --header-timeout, --max-body-total (httpd.h) */
    uint64_t max_body;           /* --max-body SIZE: the largest POST /v1/partials body */
    /* the history database (export/history.h), standalone and cluster */
    const char *history;     /* --history FILE|none; NULL: the cluster's
                                DATA_DIR/history.sqlite, none in standalone */
    int64_t history_keep_ms; /* --history-keep D: how long a job without history: keeps it */
    uint64_t memory_limit;   /* --memory-limit SIZE (common/budget.h); 0: none */
} master_opts_t;

/* Primary (opts->config) or secondary (opts->primary): serve, schedule, merge,
 * export until SIGTERM/SIGINT. Returns the exit status (0, or 2 when it could
 * not start: bad token file, address, config, or place in masters:). */
int master_cluster_run(const master_opts_t *opts, apr_pool_t *pool);

/* "HOST:PORT" → host (IPv4 address) and port (0..65535). Returns 0, or -1 with
 * a message in err. */
int master_parse_listen(const char *listen, char *host, size_t hostlen, int *port,
                        abbey_err_t *err);

/* --check: print the jobs and the group -> master assignment of cfg to out. */
void master_check_print(const rules_config_t *cfg, FILE *out);

/* --check: print one "file:line:col: warning: ..." line per warning the
 * expressions of cfg gave (expr_warning: regexes with nested quantifiers) to
 * out. Returns how many; they do not make the rules file invalid. */
int master_check_warn(const rules_config_t *cfg, FILE *out);

/* --check --sample: parse the first opts->sample_lines lines of opts->sample
 * with the format of job opts->job (NULL: the config's only job) through the
 * job's engine, and print each line's fields and values, or why it is bad
 * (master/check_sample.c). Returns 0 when some line parses (or the file is
 * empty), 1 when every line read is bad, 2 when the job is unknown or the
 * file cannot be read (with a message on stderr). */
int master_check_sample(const rules_config_t *cfg, const master_opts_t *opts, FILE *out,
                        apr_pool_t *pool);

/* --standalone --once: read every source of every job to its end on
 * opts->workers threads, merge, export every report, print a summary to out.
 * With opts->stdin_job (a job of cfg), that job alone, from standard input.
 * With opts->memory_limit, threads merge their tables into the totals near
 * it, and the run stops when the totals reach it (standalone.c).
 * Returns 0 when everything was read and written, 1 when a source or report
 * failed (the rest is still exported) or the totals reached the memory limit
 * (no more reports written), with messages on stderr. */
int master_standalone_once(const rules_config_t *cfg, const master_opts_t *opts, FILE *out,
                           apr_pool_t *pool);

#endif
