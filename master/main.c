/* main.c - abbey-master: command line, then one of its modes (check, standalone). */
#include <apr_general.h>
#include <apr_getopt.h>
#include <apr_strings.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "master.h"

static const char *role = "master";

void master_log(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "abbey-master[%s]: ", role);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static void usage(FILE *out)
{
    fputs("usage: abbey-master --check --config FILE\n"
          "       abbey-master --standalone --once --config FILE [--workers N] [--export-dir DIR]\n"
          "\n"
          "  -c, --config FILE      the rules file (YAML; see docs/RULES.md)\n"
          "      --check            validate the rules file, print its jobs and the\n"
          "                         rule-group -> master assignment, and exit\n"
          "      --standalone       run primary and slave workers in this one process\n"
          "      --once             read every source to its end, export, exit\n"
          "  -w, --workers N        worker threads (default: number of cores)\n"
          "  -o, --export-dir DIR   where reports go: DIR/<job>/<report>.csv|json\n"
          "                         (default ./abbey-out)\n"
          "  -q, --quiet            no summary on stdout\n"
          "  -h, --help             this help\n"
          "  -V, --version          print the version\n"
          "\n"
          "Exit status: 0 on success, 1 when a source or report failed, 2 on bad usage\n"
          "or an invalid rules file.\n",
          out);
}

enum { OPT_CHECK = 256, OPT_STANDALONE, OPT_ONCE };

static const apr_getopt_option_t options[] = {
    {"config", 'c', 1, "rules file"},
    {"check", OPT_CHECK, 0, "validate"},
    {"standalone", OPT_STANDALONE, 0, "standalone"},
    {"once", OPT_ONCE, 0, "one-shot"},
    {"workers", 'w', 1, "worker threads"},
    {"export-dir", 'o', 1, "export directory"},
    {"quiet", 'q', 0, "quiet"},
    {"help", 'h', 0, "help"},
    {"version", 'V', 0, "version"},
    {NULL, 0, 0, NULL},
};

/* Parse argv into opts. Returns -1 to exit 0 (help), 0 to go on, 2 on bad usage. */
static int parse_args(int argc, const char *const *argv, apr_pool_t *pool, master_opts_t *opts)
{
    apr_getopt_t *g;
    apr_status_t rv;
    const char *arg;
    char *end;
    int c;

    opts->export_dir = "abbey-out";
    opts->workers = (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (opts->workers < 1)
        opts->workers = 1;
    apr_getopt_init(&g, pool, argc, argv);
    g->errfn = NULL;
    while ((rv = apr_getopt_long(g, options, &c, &arg)) == APR_SUCCESS) {
        switch (c) {
        case 'c': opts->config = arg; break;
        case OPT_CHECK: opts->check = 1; break;
        case OPT_STANDALONE: opts->standalone = 1; break;
        case OPT_ONCE: opts->once = 1; break;
        case 'o': opts->export_dir = arg; break;
        case 'q': opts->quiet = 1; break;
        case 'h': usage(stdout); return -1;
        case 'V': printf("abbey-master %s\n", PACKAGE_VERSION); return -1;
        case 'w':
            opts->workers = (int)strtol(arg, &end, 10);
            if (*end || opts->workers < 1 || opts->workers > 1024) {
                fprintf(stderr, "abbey-master: --workers: '%s' is not a number from 1 to 1024\n", arg);
                return 2;
            }
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
    if (!opts->config) {
        fprintf(stderr, "abbey-master: --config FILE is required (see --help)\n");
        return 2;
    }
    if (!opts->check && !opts->standalone) {
        fprintf(stderr, "abbey-master: choose a mode: --check or --standalone --once (see --help)\n");
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
    apr_pool_create(&pool, NULL);
    memset(&opts, 0, sizeof opts);
    rc = parse_args(argc, argv, pool, &opts);
    if (rc)
        return rc < 0 ? 0 : rc;
    role = opts.check ? "check" : "standalone";
    if (rules_load_file(opts.config, pool, &cfg, &err) != APR_SUCCESS) {
        fprintf(stderr, "%s\n", err.msg);
        return 2;
    }
    if (opts.check) {
        master_check_print(cfg, stdout);
        return 0;
    }
    rc = master_standalone_once(cfg, &opts, opts.quiet ? NULL : stdout, pool);
    apr_pool_destroy(pool);
    return rc;
}
