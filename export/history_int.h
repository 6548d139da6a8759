/* history_int.h - what history.c (opening, batches, writing) and history_read.c (reading)
 * share: the handle, the names of tables and columns, times as text. */
#ifndef ABBEY_HISTORY_INT_H
#define ABBEY_HISTORY_INT_H

#include <apr_hash.h>
#include <apr_tables.h>
#include <apr_thread_mutex.h>
#include <sqlite3.h>

#include "history.h"

struct history_t {
    const char *path;
    apr_pool_t *pool;
    apr_thread_mutex_t *wlock, *rlock; /* the writer's and the reader's connection */
    sqlite3 *w, *r;
    apr_hash_t *tables; /* writer: table -> the report it was last set up for */
    apr_hash_t *folded; /* writer: lower-case table name -> the table that has it */
    apr_hash_t *warned; /* writer: tables left out (folded), logged once */
    uint64_t exports, rows, failed;
    int64_t write_us_total, write_us_max;
};

/* The meta columns every report table starts with. */
#define HISTORY_META_COLS 4
extern const char *const history_meta[HISTORY_META_COLS]; /* start, end, incomplete, final */

/* "<job>/<report>", in pool. */
const char *history_table(const rules_job_t *job, const rules_report_t *r, apr_pool_t *pool);

/* The column names of r's table for the columns r shows, in order: each
 * column's own name, but one that equals a meta column or a column before it
 * (ignoring ASCII case, as SQLite does) gets _2, _3, ... (in pool). */
const char **history_columns(const rules_report_t *r, apr_pool_t *pool);

/* name as an SQL identifier: in double quotes, those inside doubled. */
void history_put_ident(buf_t *b, const char *name);

/* The column names table has now (none: no such table), in pool; whether
 * have holds name, ignoring ASCII case as SQLite does. */
apr_array_header_t *history_table_columns(sqlite3 *db, const char *table, apr_pool_t *pool);
int history_has_column(const apr_array_header_t *have, const char *name);

/* ms since the epoch as UTC text "2025-11-21T10:45:00.000Z" (fixed width: it
 * sorts as time does). out: at least 32 bytes. */
const char *history_time_text(int64_t ms, char *out);

#endif
