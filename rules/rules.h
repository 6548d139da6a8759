/* rules.h - the compiled rules file: masters, jobs, sources, format, groups, entries, reports.
 *
 * rules_load_file / rules_load_buffer parse the YAML (libyaml), check it, and
 * compile it into the read-only model below: expressions compiled against the
 * job's format, aggregates resolved, reports bound to their entries, and every
 * rule group placed on a master (assign.h). The whole model lives in one pool;
 * once loaded it is immutable and may be shared by any number of threads.
 * The syntax is documented in docs/RULES.md. */
#ifndef ABBEY_RULES_H
#define ABBEY_RULES_H

#include <apr_pools.h>
#include <apr_time.h>
#include <stdint.h>

#include "agg.h"
#include "error.h"
#include "expr.h"
#include "format.h"
#include "tz.h"

/* A job's max_line: its default and the range the rules file may set. */
#define RULES_MAX_LINE_DEFAULT ((size_t)4 << 20)
#define RULES_MAX_LINE_MIN ((size_t)64)
#define RULES_MAX_LINE_MAX ((size_t)64 << 20)

/* An entry's max_keys: the rows its tables hold before new keys fold into
 * the overflow row (ptable.h); its default and the range the rules file may
 * set (docs/RULES.md, "entries:"). */
#define RULES_MAX_KEYS_DEFAULT 1000000u
#define RULES_MAX_KEYS_MAX 100000000u

typedef struct rules_master_t {
    const char *name;
    const char *url; /* NULL for the implicit standalone master */
    int weight;      /* >= 1 */
    int index;       /* position in rules_config_t.masters */
} rules_master_t;

typedef enum rules_source_kind_t {
    RULES_SRC_FILE,
    RULES_SRC_GLOB,
    RULES_SRC_HTTP
} rules_source_kind_t;

typedef struct rules_source_t {
    rules_source_kind_t kind;
    const char *path;    /* file path, glob pattern or http(s) URL */
    const char **labels; /* slaves must carry all of these to take it */
    int nlabels;
    int line; /* where it is declared in the rules file */
} rules_source_t;

struct rules_group_t;

typedef struct rules_value_t {
    const char *name; /* column name */
    agg_spec_t spec;
    expr_t *arg; /* NULL for count */
} rules_value_t;

typedef struct rules_entry_t {
    const char *name;
    int index; /* in job->entries */
    struct rules_group_t *group;
    int nkeys; /* 0: one row for everything */
    expr_t **keys;
    const char **key_names; /* column names: the key's text, or "name" from {name: expr} */
    expr_t *where;          /* NULL: every line */
    int nvalues;
    rules_value_t *values;
    /* The states of a row: values[i].spec for i < nvalues, then, for an entry
     * without a count value and without `top:`, one hidden count (never
     * shown): every row knows its lines (ptable.h, the overflow row's folded
     * lines). Contiguous, for ptable_create; frames carry all nspecs. A top
     * entry never folds, so it has no hidden count (nspecs == nvalues). */
    agg_spec_t *specs;
    int nspecs;        /* nvalues, or nvalues + 1 with the hidden count */
    int lines_spec;    /* index in specs of the count that is the row's lines; -1: none */
    uint64_t max_keys; /* rows a table of the entry holds; past it new keys fold; 0: a top entry */
    /* `top: {k, by[, capacity]}`: a top-K summary (ptable_top.h), not a full table */
    int top_k;             /* rows its reports show at most; 0: a full table */
    int top_by;            /* the value ranking the rows (a count or sum) */
    uint32_t top_m;        /* rows the summary keeps (capacity) */
    const char *top_error; /* "<by>_error": the column after the values, by's error */
} rules_entry_t;

/* `top:` limits: k from 1 to RULES_TOP_K_MAX, capacity from k to RULES_TOP_M_MAX,
 * by default RULES_TOP_M_FACTOR * k but at least RULES_TOP_M_MIN. */
#define RULES_TOP_K_MAX 100000
#define RULES_TOP_M_MAX 2000000
#define RULES_TOP_M_FACTOR 16
#define RULES_TOP_M_MIN 64

/* The rows a table of entry e holds at most: its max_keys (past it new keys
 * fold), or a top entry's capacity (past it new keys take the row of the
 * smallest value). */
static inline uint64_t rules_entry_max_rows(const rules_entry_t *e)
{
    return e->top_k ? e->top_m : e->max_keys;
}

/* An entry's columns are its keys, its values, then (a top entry) its error column. */
static inline int rules_entry_ncols(const rules_entry_t *e)
{
    return e->nkeys + e->nvalues + (e->top_k ? 1 : 0);
}

/* The name of column col (0 .. rules_entry_ncols(e) - 1) of e. */
static inline const char *rules_col_name(const rules_entry_t *e, int col)
{
    if (col < e->nkeys)
        return e->key_names[col];
    return col < e->nkeys + e->nvalues ? e->values[col - e->nkeys].name : e->top_error;
}

typedef struct rules_group_t {
    const char *name;
    int index;  /* in job->groups */
    int weight; /* >= 1 */
    int nentries;
    rules_entry_t **entries;
    int master; /* index in config->masters (hunger-weight assignment) */
} rules_group_t;

typedef enum rules_report_format_t { RULES_REPORT_CSV, RULES_REPORT_JSON } rules_report_format_t;
typedef enum rules_scope_t { RULES_SCOPE_PERIOD, RULES_SCOPE_ROUND } rules_scope_t;
typedef enum rules_reset_t { RULES_RESET_NEVER, RULES_RESET_HOUR, RULES_RESET_DAY } rules_reset_t;

/* A report's figures as Prometheus metrics (`metrics: true`; names made by
 * rules_metrics.c, docs/RULES.md "Metrics"). One family per shown value
 * column, but the percentile columns of one argument, which share a summary. */
typedef enum rules_prom_type_t {
    RULES_PROM_GAUGE,
    RULES_PROM_COUNTER, /* count and sum of a period-scope report of a reset: never job */
    RULES_PROM_SUMMARY  /* percentile columns: quantile = p / 100 */
} rules_prom_type_t;

typedef struct rules_prom_family_t {
    const char *name; /* metric name: abbey_report_<job>_<report>_<column or argument> */
    const char *help; /* HELP text, unescaped */
    rules_prom_type_t type;
    int ncols;              /* 1, or the summary's quantile columns */
    int *cols;              /* entry column numbers (>= nkeys) */
    const char **quantiles; /* summary: the quantile label value of each column ("0.95") */
} rules_prom_family_t;

typedef struct rules_prom_t {
    const char **labels; /* the label name of each key column of the entry */
    int nfamilies;
    rules_prom_family_t *families;
} rules_prom_t;

/* Columns of an entry are numbered keys first (0..nkeys), then values, then a
 * top entry's error column (rules_entry_ncols). A report of a top entry is
 * ordered by its ranked value, descending, and shows at most top_k rows. */
typedef struct rules_report_t {
    const char *name;
    rules_entry_t *entry;
    int ncols; /* columns shown, in order (default: all) */
    int *cols;
    int order_col; /* -1: no order (keys ascending) */
    int order_desc;
    long limit; /* 0: all rows */
    rules_report_format_t format;
    rules_scope_t scope;
    const rules_prom_t *prom; /* `metrics: true`: its metric names; NULL: not exposed */
} rules_report_t;

/* A job's `rejects:`: where its bad lines are written (common/rejects.h). */
typedef struct rules_rejects_t {
    const char *dir;        /* absolute; NULL: bad lines are only counted */
    uint64_t max_per_round; /* bad lines written per round and process (the rest counted) */
    uint64_t max_size;      /* a file past this size is rotated */
    int keep;               /* rotated files kept: <job>.rejects.1 .. .keep */
} rules_rejects_t;

#define RULES_REJECTS_PER_ROUND 1000            /* max_per_round's default */
#define RULES_REJECTS_SIZE ((uint64_t)64 << 20) /* max_size's default */
#define RULES_REJECTS_KEEP 3                    /* keep's default */

typedef struct rules_job_t {
    const char *name;
    int index;
    apr_interval_time_t round; /* microseconds; default 10 s */
    rules_reset_t reset;       /* default never */
    const tz_t *tz;            /* the zone of period boundaries (default UTC; tz.h) */
    size_t max_line;           /* longest line parsed, in bytes without its '\n'; a longer
                                  one is one bad line "line too long" (default 4 MiB) */
    int nsources;
    rules_source_t *sources;
    format_t *format;
    int ngroups;
    rules_group_t *groups;
    int nentries;
    rules_entry_t **entries; /* every entry of every group, index order */
    int nreports;
    rules_report_t *reports;
    rules_rejects_t rejects;
    int64_t history_keep_ms; /* `history: {keep: D}`: rows kept in the history database
                                (export/history.h); 0: the master's --history-keep */
} rules_job_t;

typedef struct rules_config_t {
    apr_pool_t *pool;
    const char *path; /* as given */
    const char *text; /* the file's bytes, NUL-terminated */
    size_t len;
    uint64_t hash; /* XXH3 of text: the config version */
    char hash_hex[17];
    int nmasters; /* >= 1: without `masters:` one implicit "local" */
    rules_master_t *masters;
    int njobs;
    rules_job_t *jobs;
} rules_config_t;

/* Load and compile a rules file. The config gets its own subpool of pool.
 * On error returns APR_EINVAL (or the file's APR error) and a message
 * "file:line:col: what is wrong, what was expected". */
apr_status_t rules_load_file(const char *path, apr_pool_t *pool, rules_config_t **out,
                             abbey_err_t *err);

/* Same, from memory (name is used in messages). The text is copied. */
apr_status_t rules_load_buffer(const char *text, size_t len, const char *name, apr_pool_t *pool,
                               rules_config_t **out, abbey_err_t *err);

/* A size as the rules write it: "1GiB", "64MiB", "4KiB" or "1000 bytes"
 * (the largest unit that divides it), into buf (cap bytes). Returns buf. */
const char *rules_size_text(uint64_t n, char *buf, size_t cap);

/* Lookups by name; NULL when absent. */
const rules_job_t *rules_find_job(const rules_config_t *c, const char *name);
const rules_master_t *rules_find_master(const rules_config_t *c, const char *name);

/* Free the config's pool. */
void rules_free(rules_config_t *c);

#endif
