/* history_read.c - the last rounds of a report from the history database, as JSON.
 *
 * GET /v1/history/{job}/{report} answers with history_read's text (the
 * endpoint is master/merger_history.c). The rounds come from the `exports`
 * table (so a round that had no rows is there, with none), their rows from
 * the report's table, newest first until HISTORY_READ_MAX_ROWS, then written
 * oldest first. Numbers are written as the reports write them (integers
 * exactly, reals as the shortest text that reads back). Runs on the reader's
 * connection under its lock. */
#include "history_int.h"

#include <apr_strings.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "export_int.h"
#include "mem.h"
#include "utf8.h"

typedef struct round_t {
    char *start, *end;
    int incomplete;
    buf_t rows; /* its rows' JSON, comma-separated */
} round_t;

/* Text s (n bytes) as a JSON string; null when it is not UTF-8 (the file was
 * written by something else). */
static void put_text(buf_t *out, const char *s, size_t n)
{
    if (!s || utf8_valid_prefix(s, n) != n)
        buf_put(out, "null", 4);
    else
        export_json_str(out, s, n);
}

/* Column i of st as JSON: integers exactly, finite reals shortest, text, else null. */
static void put_cell(buf_t *out, sqlite3_stmt *st, int i)
{
    char num[48];
    double x;
    switch (sqlite3_column_type(st, i)) {
    case SQLITE_INTEGER:
        buf_printf(out, "%lld", (long long)sqlite3_column_int64(st, i));
        return;
    case SQLITE_FLOAT:
        x = sqlite3_column_double(st, i);
        if (isfinite(x)) {
            agg_fmt_double(num, sizeof num, x);
            buf_put(out, num, strlen(num));
            return;
        }
        break;
    case SQLITE_TEXT:
        put_text(out, (const char *)sqlite3_column_text(st, i),
                 (size_t)sqlite3_column_bytes(st, i));
        return;
    }
    buf_put(out, "null", 4);
}

/* The newest `last` round exports of job/report, newest first, into rounds
 * (at most last); returns how many, or -1. */
static int list_rounds(sqlite3 *db, const rules_job_t *job, const rules_report_t *r, int last,
                       round_t *rounds)
{
    sqlite3_stmt *st;
    int n = 0, rc;
    if (sqlite3_prepare_v2(db,
                           "SELECT \"start\", \"end\", incomplete FROM exports WHERE job = ? AND "
                           "report = ? AND final = 0 ORDER BY \"start\" DESC LIMIT ?",
                           -1, &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_text(st, 1, job->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, r->name, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, last);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && n < last) {
        const char *start = (const char *)sqlite3_column_text(st, 0);
        const char *end = (const char *)sqlite3_column_text(st, 1);
        round_t *x = &rounds[n++];
        x->start = mem_xstrdup(start ? start : "");
        x->end = mem_xstrdup(end ? end : "");
        x->incomplete = sqlite3_column_int(st, 2) != 0;
        buf_init(&x->rows);
    }
    sqlite3_finalize(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? n : -1;
}

/* SELECT "start", <r's columns, or NULL for those the table lacks> FROM the
 * table, rounds from a start on, newest first, each round's rows in order;
 * NULL when the table does not exist. */
static char *rows_sql(sqlite3 *db, const char *table, const rules_report_t *r, apr_pool_t *pool)
{
    const char **cols = history_columns(r, pool);
    apr_array_header_t *have = history_table_columns(db, table, pool);
    buf_t sql;
    char *out;

    if (!have->nelts)
        return NULL;
    buf_init(&sql);
    buf_printf(&sql, "SELECT \"start\"");
    for (int c = 0; c < r->ncols; c++) {
        buf_put(&sql, ", ", 2);
        if (history_has_column(have, cols[c]))
            history_put_ident(&sql, cols[c]);
        else
            buf_printf(&sql, "NULL");
    }
    buf_printf(&sql, " FROM ");
    history_put_ident(&sql, table);
    buf_printf(&sql, " WHERE final = 0 AND \"start\" >= ? ORDER BY \"start\" DESC, rowid");
    buf_put_u8(&sql, 0);
    out = apr_pstrdup(pool, (const char *)sql.data);
    buf_free(&sql);
    return out;
}

/* Fill rounds[0..n) (newest first) with their rows, newest round first, while
 * the rows stay within HISTORY_READ_MAX_ROWS; returns the rounds filled whole
 * (those after them are left out), or -1. */
static int fill_rows(sqlite3 *db, const char *sql, const rules_report_t *r, round_t *rounds, int n)
{
    sqlite3_stmt *st;
    size_t total = 0;
    int at = 0, rc, cut = 0;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_text(st, 1, rounds[n - 1].start, -1, SQLITE_STATIC);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *start = (const char *)sqlite3_column_text(st, 0);
        buf_t *b;
        if (!start)
            continue;
        while (at < n && strcmp(start, rounds[at].start) < 0) /* past round at */
            at++;
        if (at == n)
            break;
        if (strcmp(start, rounds[at].start) != 0)
            continue; /* a row of an export not listed (written together: cannot happen) */
        if (total == HISTORY_READ_MAX_ROWS) { /* round at would not fit whole */
            cut = 1;
            break;
        }
        b = &rounds[at].rows;
        buf_put(b, b->len ? ",[" : "[", b->len ? 2 : 1);
        for (int c = 0; c < r->ncols; c++) {
            if (c)
                buf_put_u8(b, ',');
            put_cell(b, st, 1 + c);
        }
        buf_put_u8(b, ']');
        total++;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return -1;
    return cut ? at : n;
}

/* The answer: {"job","report","columns","rounds"} with rounds[keep-1..0]. */
static void put_answer(buf_t *out, const rules_job_t *job, const rules_report_t *r,
                       const round_t *rounds, int keep)
{
    buf_printf(out, "{\"job\":");
    export_json_str(out, job->name, strlen(job->name));
    buf_printf(out, ",\"report\":");
    export_json_str(out, r->name, strlen(r->name));
    buf_printf(out, ",\"columns\":[");
    for (int c = 0; c < r->ncols; c++) {
        const char *name = export_column_name(r->entry, r->cols[c]);
        if (c)
            buf_put_u8(out, ',');
        put_text(out, name, strlen(name));
    }
    buf_printf(out, "],\"rounds\":[");
    for (int i = keep - 1; i >= 0; i--) { /* oldest first */
        buf_printf(out, "%s{\"start\":", i == keep - 1 ? "" : ",");
        export_json_str(out, rounds[i].start, strlen(rounds[i].start));
        buf_printf(out, ",\"end\":");
        export_json_str(out, rounds[i].end, strlen(rounds[i].end));
        buf_printf(out, ",\"incomplete\":%s,\"rows\":[", rounds[i].incomplete ? "true" : "false");
        buf_put(out, rounds[i].rows.data, rounds[i].rows.len);
        buf_put(out, "]}", 2);
    }
    buf_put(out, "]}\n", 3);
}

apr_status_t history_read(history_t *h, const rules_job_t *job, const rules_report_t *r, int last,
                          buf_t *out, abbey_err_t *err)
{
    apr_pool_t *pool = mem_xpool(NULL);
    round_t *rounds = mem_xcalloc((size_t)(last > 0 ? last : 1), sizeof *rounds);
    const char *sql = NULL;
    apr_status_t rv = APR_SUCCESS;
    int n = 0, keep = 0;

    apr_thread_mutex_lock(h->rlock);
    if (!h->r) {
        abbey_err_set(err, "%s: the history database is closed", h->path);
        rv = APR_EGENERAL;
    } else if ((n = list_rounds(h->r, job, r, last, rounds)) < 0) {
        abbey_err_set(err, "%s: cannot read: %s", h->path, sqlite3_errmsg(h->r));
        rv = APR_EGENERAL;
    } else if (n > 0 && !(sql = rows_sql(h->r, history_table(job, r, pool), r, pool))) {
        keep = n; /* exports listed, no table (dropped by hand): rounds without rows */
    } else if (n > 0 && (keep = fill_rows(h->r, sql, r, rounds, n)) < 0) {
        abbey_err_set(err, "%s: cannot read %s: %s", h->path, history_table(job, r, pool),
                      sqlite3_errmsg(h->r));
        rv = APR_EGENERAL;
    }
    apr_thread_mutex_unlock(h->rlock);
    if (rv == APR_SUCCESS)
        put_answer(out, job, r, rounds, keep);
    for (int i = 0; i < n; i++) {
        free(rounds[i].start);
        free(rounds[i].end);
        buf_free(&rounds[i].rows);
    }
    free(rounds);
    apr_pool_destroy(pool);
    return rv;
}
