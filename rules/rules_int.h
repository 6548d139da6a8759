/* rules_int.h - internals of the rules loader, shared by rules_yaml.c and rules_load.c.
 *
 * rules_yaml.c owns the YAML side: it loads the text into a libyaml document,
 * turns positions into "file:line:col" messages, and offers small typed getters
 * (a map with only known keys, a list, a name, an integer, one of a few words)
 * that fail with a positioned message saying what was expected.
 * rules_load.c walks the document and builds the model of rules.h.
 *
 * Collections are read through rules_y_map_t / rules_y_list_t, whose items
 * carry the scalar text. In a flow collection ({...} or [...]) YAML ends a
 * plain scalar at a comma, so `{p: percentile(ms, 95)}` would read as the
 * value "percentile(ms" and a stray key "95)". The getters mend that: a plain
 * scalar in a flow collection whose parentheses are open is re-read from the
 * file's text up to its closing parenthesis, and the pieces it swallowed are
 * dropped. */
#ifndef ABBEY_RULES_INT_H
#define ABBEY_RULES_INT_H

#include <apr_hash.h>
#include <apr_pools.h>
#include <yaml.h>

#include "rules.h"

#define RULES_NAME_MAX 63          /* names: [A-Za-z0-9_.-]{1,63} */
#define RULES_WEIGHT_MAX 1000000   /* master and group weights: 1..this */
#define RULES_MAX_BYTES (16 << 20) /* largest rules file read */

/* Loader state for one load. */
typedef struct rules_ctx_t {
    apr_pool_t *pool; /* the config's pool: everything kept */
    apr_pool_t *tmp;  /* scratch for the load (subpool of pool) */
    const char *file; /* name in messages */
    const char *base; /* directory that relative source paths are resolved against */
    const char *text; /* the whole file, NUL-terminated */
    size_t len;
    size_t *lines; /* byte offset where each line starts (line 0 first) */
    int nlines;
    yaml_document_t doc;
    int have_doc; /* doc must be deleted */
    abbey_err_t *err;
    apr_hash_t *metric_names; /* rules_metrics.c: metric name -> the report that has it */
} rules_ctx_t;

/* A node read through a collection: the node and, for scalars, its text. */
typedef struct rules_y_val_t {
    yaml_node_t *key;  /* map items: the key node (its text is name) */
    const char *name;  /* map items: the key text */
    yaml_node_t *node; /* the value */
    const char *text;  /* scalar text (mended, see above); NULL when not a scalar */
    size_t len;
} rules_y_val_t;

typedef struct rules_y_list_t {
    int n;
    rules_y_val_t *items;
} rules_y_list_t;

typedef rules_y_list_t rules_y_map_t; /* items with key/name set */

/* ---- rules_yaml.c ---- */

/* Parse c->text into c->doc and return its root. YAML syntax errors come back
 * positioned, with the parser's problem text. An empty file, or more than one
 * document, is an error. */
apr_status_t rules_y_load(rules_ctx_t *c, yaml_node_t **root);

/* Delete the document (safe to call twice). */
void rules_y_done(rules_ctx_t *c);

/* Set "file:line:col: message" for node n (1-based) and return APR_EINVAL. */
apr_status_t rules_y_err(rules_ctx_t *c, const yaml_node_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The same at byte off of v's text (see rules_y_text_pos). */
apr_status_t rules_y_err_at(rules_ctx_t *c, const rules_y_val_t *v, size_t off, const char *fmt,
                            ...) __attribute__((format(printf, 4, 5)));
int rules_y_line(const yaml_node_t *n); /* 1-based line of n */
int rules_y_col(const yaml_node_t *n);  /* 1-based column of n */

/* Position of byte off of v's text in the file (exact for single-line plain
 * and quoted scalars; the scalar's own position for block scalars). */
void rules_y_text_pos(rules_ctx_t *c, const rules_y_val_t *v, size_t off, int *line, int *col);

/* n must be a map whose keys are scalars. With allowed (NULL-terminated) every
 * key must be one of allowed and appear once; with allowed NULL any keys are
 * taken and the caller checks duplicates. what names the thing ("job"). */
apr_status_t rules_y_map(rules_ctx_t *c, yaml_node_t *n, const char *what,
                         const char *const *allowed, rules_y_map_t *out);

/* The item for key, or NULL. */
const rules_y_val_t *rules_y_get(const rules_y_map_t *m, const char *key);

/* Like rules_y_get, but a missing key is an error at the map (node m_node)
 * naming the key and what it should hold (hint). */
apr_status_t rules_y_need(rules_ctx_t *c, const yaml_node_t *m_node, const rules_y_map_t *m,
                          const char *what, const char *key, const char *hint,
                          const rules_y_val_t **out);

/* v must be a list (of what: "sources") with at least min items. */
apr_status_t rules_y_list(rules_ctx_t *c, const rules_y_val_t *v, const char *what, int min,
                          rules_y_list_t *out);

/* Wrap a node as a value (for the root). */
void rules_y_wrap(yaml_node_t *n, rules_y_val_t *v);

/* v must be a non-empty scalar (what: "a duration such as 10s"); *out is a
 * copy in the config's pool. */
apr_status_t rules_y_str(rules_ctx_t *c, const rules_y_val_t *v, const char *what,
                         const char **out);

/* A name: [A-Za-z0-9_.-]{1,63}. what: "job name". */
apr_status_t rules_y_name(rules_ctx_t *c, const rules_y_val_t *v, const char *what,
                          const char **out);

/* A whole decimal integer in [min, max]; what names it ("weight"). */
apr_status_t rules_y_int(rules_ctx_t *c, const rules_y_val_t *v, const char *what, long min,
                         long max, long *out);

/* A size: a whole number of bytes, or of KiB, MiB or GiB ("1000", "64KiB",
 * "4MiB"), from min to max bytes; what names it ("max_line"). */
apr_status_t rules_y_size(rules_ctx_t *c, const rules_y_val_t *v, const char *what, uint64_t min,
                          uint64_t max, uint64_t *out);

/* One of choices (NULL-terminated); *out is its index. */
apr_status_t rules_y_enum(rules_ctx_t *c, const rules_y_val_t *v, const char *what,
                          const char *const *choices, int *out);

/* Record name in seen (name -> node); a second occurrence is an error
 * "duplicate <what> 'name' (first at L:C)" at node n. */
apr_status_t rules_y_unique(rules_ctx_t *c, apr_hash_t *seen, const char *name,
                            const yaml_node_t *n, const char *what);

/* "text 'abc'", "a list", "a map", "nothing": what a node is, for messages. */
const char *rules_y_describe(rules_ctx_t *c, const rules_y_val_t *v);

/* ---- rules_entry.c ---- */

/* Compile a job's `groups:` list (v) into job->groups and job->entries;
 * job->format must be set. An entry's `top:` is compiled here too. */
apr_status_t rules_load_groups(rules_ctx_t *c, rules_job_t *job, const rules_y_val_t *v);

/* A report r of an entry with `top:` shows the entry's rows of largest ranked
 * value, in that order, at most top_k of them: sets its order and its limit
 * (0 or none: top_k), refusing another order or a limit above top_k. order and
 * limit are the report's keys when given (NULL otherwise), for the message.
 * Nothing for a report of another entry. */
apr_status_t rules_top_report(rules_ctx_t *c, rules_report_t *r, const rules_y_val_t *order,
                              const rules_y_val_t *limit);

/* ---- rules_rejects.c ---- */

/* A job's `rejects:` map (v; NULL: none) into job->rejects. */
apr_status_t rules_load_rejects(rules_ctx_t *c, rules_job_t *job, const rules_y_val_t *v);

/* ---- rules_history.c ---- */

/* A job's `history:` map (v; NULL: none) into job->history_keep_ms. */
apr_status_t rules_load_history(rules_ctx_t *c, rules_job_t *job, const rules_y_val_t *v);

/* ---- rules_metrics.c ---- */

/* A report's `metrics:` (v: true or false; NULL: false), after its entry,
 * scope and columns are set: when true, its metric and label names into
 * r->prom. A name another family of this load already has, two key columns
 * with one label name, or two columns that are one quantile of one summary
 * is an error at v naming both. */
apr_status_t rules_load_metrics(rules_ctx_t *c, const rules_job_t *job, rules_report_t *r,
                                const rules_y_val_t *v);

/* Return the status of x when it is not APR_SUCCESS. */
#define TRY(x)                                                                                     \
    do {                                                                                           \
        apr_status_t rv_ = (x);                                                                    \
        if (rv_ != APR_SUCCESS)                                                                    \
            return rv_;                                                                            \
    } while (0)

#endif
