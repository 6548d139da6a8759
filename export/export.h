/* export.h - reports: the rows of one entry's table, ordered, limited, as CSV or JSON.
 *
 * export_render turns a ptable into a report's bytes: the report's columns
 * (keys and values of its entry), rows ordered by its `order` column (ties,
 * and reports without an order: key columns ascending, numbers numerically),
 * cut to `limit`. CSV is RFC 4180 (CRLF, a header row of column names, fields
 * quoted when they hold a comma, quote, CR or LF); JSON is one object
 * {"job", "report", "entry", "scope", "columns", "rows": [{column: value}]}
 * with numbers as numbers, missing values as null and times as ISO strings.
 * A table's overflow row (ptable.h, max_keys) is shown after the ordered and
 * limited rows, its key columns empty (CSV) or null (JSON), told apart by
 * the columns CSV adds (_overflow, _folded_lines, _folded_keys) and by JSON's
 * "_overflow": true with "folded_lines" and "folded_keys" in the object.
 * Both are well-formed UTF-8 whatever the log's bytes: each ill-formed part of
 * a key becomes U+FFFD (export_text in export_int.h; docs/RULES.md, "Text in
 * reports"), and JSON escapes every control character.
 * Thread-safe for distinct tables (reads the table only). */
#ifndef ABBEY_EXPORT_H
#define ABBEY_EXPORT_H

#include <apr_pools.h>

#include "buf.h"
#include "error.h"
#include "ptable.h"
#include "rules.h"

/* Append the report of table t (a table of r->entry) to out. Scratch memory
 * comes from pool. Cannot fail. */
void export_render(const rules_job_t *job, const rules_report_t *r, const ptable_t *t, buf_t *out,
                   apr_pool_t *pool);

/* The rows report r shows of table t, ordered and cut to its limit once, for
 * the writers below and history_batch_add (history.h): in pool, valid while
 * pool and t are and t does not change (they point at t's rows, whose cells
 * each user makes as it goes: a row costs 48 bytes, not its decoded keys and
 * figures), with t's overflow row apart (export_int.h). Cannot fail. */
typedef struct export_rows_t export_rows_t;
const export_rows_t *export_rows(const rules_report_t *r, const ptable_t *t, apr_pool_t *pool);

/* Append the report of rows (export_rows of r) to out in r's format: what
 * export_render writes. */
void export_rows_render(const rules_job_t *job, const rules_report_t *r, const export_rows_t *rows,
                        buf_t *out);

/* Append the figures of rows (export_rows of r; r->prom must be set) to out
 * as Prometheus text format 0.0.4 (export_prom.c, docs/RULES.md "Metrics"):
 * per family of r->prom a # HELP and a # TYPE line, then a sample per row
 * and column, labelled by the row's keys (well-formed UTF-8 as in every
 * report, with \, " and \n escaped); a missing figure has no sample. Rows
 * whose keys show as the same text (they differ in bytes that are not UTF-8,
 * or in type: 200 and "200") would be one series: the first in the report's
 * order is shown, the others are left out. The overflow row of a table past
 * its max_keys is not a series (it has no keys; abbey_entry_folded_lines
 * tells what it holds). Scratch from pool. */
void export_prom(const rules_report_t *r, const export_rows_t *rows, buf_t *out, apr_pool_t *pool);

/* File name extension of a report's format: "csv" or "json". */
const char *export_ext(const rules_report_t *r);

/* Write bytes to path atomically: path.tmp, fsync, rename. Creates missing
 * parent directories. Returns APR status with the path in err on failure. */
apr_status_t export_write_file(const char *path, const void *data, size_t len, apr_pool_t *pool,
                               abbey_err_t *err);

/* Render r over t and write it to DIR/<job>/<report>.<ext>; *path_out (may be
 * NULL) receives the path. */
apr_status_t export_report_file(const rules_job_t *job, const rules_report_t *r, const ptable_t *t,
                                const char *dir, apr_pool_t *pool, const char **path_out,
                                abbey_err_t *err);

#endif
