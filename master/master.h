/* master.h - the abbey-master program's modes, shared between its files. */
#ifndef ABBEY_MASTER_H
#define ABBEY_MASTER_H

#include <apr_pools.h>
#include <stdio.h>

#include "rules.h"

typedef struct master_opts_t {
    const char *config;     /* --config FILE */
    const char *export_dir; /* --export-dir DIR (default "abbey-out") */
    int workers;            /* --workers N (default: number of cores) */
    int standalone;         /* --standalone */
    int once;               /* --once */
    int check;              /* --check */
    int quiet;              /* --quiet: no summary */
} master_opts_t;

/* --check: print the jobs and the group -> master assignment of cfg to out. */
void master_check_print(const rules_config_t *cfg, FILE *out);

/* --standalone --once: read every source of every job to its end on
 * opts->workers threads, merge, export every report, print a summary to out.
 * Returns 0 when everything was read and written, 1 when a source or report
 * failed (the rest is still exported), with messages on stderr. */
int master_standalone_once(const rules_config_t *cfg, const master_opts_t *opts, FILE *out,
                           apr_pool_t *pool);

/* Log line prefixed with the process role and name: "abbey-master[standalone]: ...". */
void master_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
