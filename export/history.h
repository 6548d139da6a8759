/* history.h - the history database: every exported report also kept in SQLite.
 *
 * One file (WAL mode), written by the masters (--history, on by default in
 * the data dir) and by standalone runs (--history FILE). Each job's report
 * has a table named "<job>/<report>" with the columns
 *   "start", "end"   the round's bounds, or the period's for a final period
 *                    report: UTC text such as 2025-11-21T10:45:00.000Z
 *   incomplete       1 when the export lacked data (INCOMPLETE marker)
 *   final            0: a round's export; 1: the final report of a period
 * then the report's columns, as its CSV shows them (numbers as INTEGER or
 * REAL, text as TEXT, missing values as NULL; a sum beyond 64 bits as its
 * decimal text). The table `exports` lists every export of every report, one
 * row each, empty ones included:
 *   (job, report, "start", "end", incomplete, final, "rows", written).
 * An export written again (a round amended by late data) replaces its rows;
 * rows whose start is older than the job's keep (history: {keep: D}, else
 * the writer's default) are deleted with every write of that report. Every
 * name is quoted: names come from rules files. docs/HISTORY.md has the
 * schema and example queries.
 *
 * A batch is the rows of one export, copied out of the tables (so it can be
 * made under a lock and written after it is released); history_write
 * writes one batch in one transaction.
 *
 * Threads: a batch belongs to one thread at a time. history_write takes the
 * writer's lock and history_read the reader's: they run at the same time
 * (WAL) from any threads. */
#ifndef ABBEY_HISTORY_H
#define ABBEY_HISTORY_H

#include <apr_pools.h>
#include <stdint.h>

#include "buf.h"
#include "error.h"
#include "export.h"
#include "rules.h"

#define HISTORY_KEEP_DEFAULT_MS (30LL * 24 * 3600 * 1000) /* --history-keep's default: 30d */
#define HISTORY_LAST_DEFAULT 60                           /* GET /v1/history ?last= default */
#define HISTORY_LAST_MAX 10000                            /* ... and its largest value */
#define HISTORY_READ_MAX_ROWS 200000 /* rows one history_read returns at most */

typedef struct history_t history_t;
typedef struct history_batch_t history_batch_t;

/* Open (or create) the database at path, its directory too, in WAL mode, with
 * the schema of this build (PRAGMA user_version 1; a file from a newer build
 * or that is not an SQLite database is refused). The handle lives in pool
 * (closed when pool is destroyed, or by history_close). Returns APR_SUCCESS,
 * or an error with the path and SQLite's reason in err. */
apr_status_t history_open(const char *path, apr_pool_t *pool, history_t **out, abbey_err_t *err);

/* Close both connections now (idempotent; no other call may be running). */
void history_close(history_t *h);

/* The path given to history_open. */
const char *history_path(const history_t *h);

/* An empty batch for one export covering [start_ms, end_ms): final 1 for the
 * final reports of a period, 0 for a round's export (or a standalone run). On
 * the heap (out of memory aborts: control plane); free with history_batch_free. */
history_batch_t *history_batch_create(int64_t start_ms, int64_t end_ms, int incomplete, int final);

/* Set b's bounds and incomplete flag (a standalone run knows them at its end). */
void history_batch_set(history_batch_t *b, int64_t start_ms, int64_t end_ms, int incomplete);

/* Add report r of job (both must outlive the batch: rules configs do) with
 * rows (export_rows of r), copied as the columns the report shows; the
 * overflow row of a table past its max_keys is not one of them (it has no
 * keys; the reports' files and /v1/status show what it holds). */
void history_batch_add(history_batch_t *b, const rules_job_t *job, const rules_report_t *r,
                       const export_rows_t *rows);

/* Reports added to b. */
int history_batch_size(const history_batch_t *b);

void history_batch_free(history_batch_t *b);

/* Write b in one transaction: per report, its table made or given the
 * columns it lacks, the rows of the same export (start, end, final) replaced,
 * its `exports` row, and rows whose start is before now_ms minus the job's
 * keep (keep_ms when the job sets none) deleted. Two reports whose table
 * names differ only in letter case (SQLite's names ignore it) cannot both be
 * kept: the second is left out, logged once. Returns APR_SUCCESS, or an
 * error (nothing of b written) with the reason in err. */
apr_status_t history_write(history_t *h, const history_batch_t *b, int64_t now_ms, int64_t keep_ms,
                           abbey_err_t *err);

/* The last `last` round exports (final 0) of report r of job, oldest first,
 * as the JSON text of GET /v1/history (docs/CLUSTER.md) appended to out:
 * {"job","report","columns":[...],"rounds":[{"start","end","incomplete",
 * "rows":[[...], ...]}, ...]}, the columns being r's now (a column its table
 * lacks is null). Fewer rounds when the newest ones hold more than
 * HISTORY_READ_MAX_ROWS rows. Returns APR_SUCCESS, or an error in err. */
apr_status_t history_read(history_t *h, const rules_job_t *job, const rules_report_t *r, int last,
                          buf_t *out, abbey_err_t *err);

/* Counters since open, as JSON appended to out: {"file","exports","rows",
 * "failed","write_ms_total","write_ms_max"} (exports: reports written). */
void history_status_json(history_t *h, buf_t *out);

#endif
