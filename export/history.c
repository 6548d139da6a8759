/* history.c - the history database: opening it, batches of an export's rows, writing them.
 *
 * A batch copies an export's rows into a compact buffer (a tag byte per cell:
 * null, integer, real or text), so the merger can make it under its state
 * lock and write it after. history_write turns a batch into one transaction
 * of prepared statements on the writer's connection. Reading is in
 * history_read.c. The schema is history.h's. */
#include "history_int.h"

#include <apr_file_io.h>
#include <apr_strings.h>
#include <apr_tables.h>
#include <apr_time.h>
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "export_int.h"
#include "jsonio.h"
#include "log.h"
#include "mem.h"

#define SCHEMA_VERSION 1
#define BUSY_TIMEOUT_MS 5000

const char *const history_meta[HISTORY_META_COLS] = {"start", "end", "incomplete", "final"};

/* ---- names and times ----------------------------------------------------- */

const char *history_table(const rules_job_t *job, const rules_report_t *r, apr_pool_t *pool)
{
    return apr_pstrcat(pool, job->name, "/", r->name, NULL);
}

static int name_taken(const char **names, int n, const char *name)
{
    for (int i = 0; i < HISTORY_META_COLS; i++)
        if (strcasecmp(history_meta[i], name) == 0)
            return 1;
    for (int i = 0; i < n; i++)
        if (strcasecmp(names[i], name) == 0)
            return 1;
    return 0;
}

const char **history_columns(const rules_report_t *r, apr_pool_t *pool)
{
    const char **names = apr_pcalloc(pool, sizeof *names * (size_t)(r->ncols + 1));
    for (int c = 0; c < r->ncols; c++) {
        const char *name = export_column_name(r->entry, r->cols[c]), *tried = name;
        for (int k = 2; name_taken(names, c, tried); k++)
            tried = apr_psprintf(pool, "%s_%d", name, k);
        names[c] = tried;
    }
    return names;
}

void history_put_ident(buf_t *b, const char *name)
{
    buf_put_u8(b, '"');
    for (; *name; name++) {
        if (*name == '"')
            buf_put_u8(b, '"');
        buf_put_u8(b, (uint8_t)*name);
    }
    buf_put_u8(b, '"');
}

apr_array_header_t *history_table_columns(sqlite3 *db, const char *table, apr_pool_t *pool)
{
    apr_array_header_t *have = apr_array_make(pool, 16, sizeof(char *));
    buf_t sql;
    sqlite3_stmt *st;
    buf_init(&sql);
    buf_printf(&sql, "PRAGMA table_info(");
    history_put_ident(&sql, table);
    buf_put(&sql, ")", 2);
    if (sqlite3_prepare_v2(db, (const char *)sql.data, -1, &st, NULL) == SQLITE_OK) {
        while (sqlite3_step(st) == SQLITE_ROW)
            APR_ARRAY_PUSH(have, char *) =
                apr_pstrdup(pool, (const char *)sqlite3_column_text(st, 1));
        sqlite3_finalize(st);
    }
    buf_free(&sql);
    return have;
}

int history_has_column(const apr_array_header_t *have, const char *name)
{
    for (int i = 0; i < have->nelts; i++)
        if (strcasecmp(APR_ARRAY_IDX(have, i, const char *), name) == 0)
            return 1;
    return 0;
}

const char *history_time_text(int64_t ms, char *out)
{
    int64_t s = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
    time_t t = (time_t)s;
    struct tm tm;
    gmtime_r(&t, &tm);
    size_t n = strftime(out, 24, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, 32 - n, ".%03dZ", (int)(ms - s * 1000) % 1000);
    return out;
}

/* ---- opening ------------------------------------------------------------- */

static apr_status_t sql_err(sqlite3 *db, const char *path, const char *what, abbey_err_t *err)
{
    abbey_err_set(err, "%s: %s: %s", path, what, db ? sqlite3_errmsg(db) : "out of memory");
    return APR_EGENERAL;
}

static int exec(sqlite3 *db, const char *sql)
{
    return sqlite3_exec(db, sql, NULL, NULL, NULL);
}

/* The first column of sql's first row as an integer (0 when none). */
static int query_int(sqlite3 *db, const char *sql, sqlite3_int64 *out)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK)
        return rc;
    rc = sqlite3_step(st);
    *out = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    if (rc == SQLITE_ROW || rc == SQLITE_DONE)
        rc = SQLITE_OK;
    sqlite3_finalize(st);
    return rc;
}

void history_close(history_t *h)
{
    if (h->r)
        sqlite3_close(h->r);
    if (h->w)
        sqlite3_close(h->w);
    h->r = h->w = NULL;
}

static apr_status_t cleanup(void *data)
{
    history_close(data);
    return APR_SUCCESS;
}

/* The writer's connection: WAL, the schema, its version. */
static apr_status_t open_writer(history_t *h, abbey_err_t *err)
{
    sqlite3_int64 version;
    sqlite3_stmt *st;
    const char *mode = NULL;
    int rc = sqlite3_open_v2(
        h->path, &h->w, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK)
        return sql_err(h->w, h->path, "cannot open the history database", err);
    sqlite3_busy_timeout(h->w, BUSY_TIMEOUT_MS);
    if (query_int(h->w, "PRAGMA user_version", &version) != SQLITE_OK)
        return sql_err(h->w, h->path, "cannot read the history database", err);
    if (version > SCHEMA_VERSION) {
        abbey_err_set(err,
                      "%s: the history database has schema version %lld, written by a newer "
                      "abbey (this one knows %d)",
                      h->path, (long long)version, SCHEMA_VERSION);
        return APR_EINVAL;
    }
    if (sqlite3_prepare_v2(h->w, "PRAGMA journal_mode=WAL", -1, &st, NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW)
            mode = apr_pstrdup(h->pool, (const char *)sqlite3_column_text(st, 0));
        sqlite3_finalize(st);
    }
    if (!mode || strcasecmp(mode, "wal") != 0)
        return sql_err(h->w, h->path, "cannot put the history database in WAL mode", err);
    if (exec(h->w, "PRAGMA synchronous=NORMAL") != SQLITE_OK ||
        exec(h->w, "CREATE TABLE IF NOT EXISTS exports(job TEXT NOT NULL, report TEXT NOT NULL, "
                   "\"start\" TEXT NOT NULL, \"end\" TEXT NOT NULL, incomplete INTEGER NOT NULL, "
                   "final INTEGER NOT NULL, \"rows\" INTEGER NOT NULL, written TEXT NOT NULL, "
                   "PRIMARY KEY(job, report, \"start\", \"end\", final))") != SQLITE_OK ||
        exec(h->w, "PRAGMA user_version=1") != SQLITE_OK)
        return sql_err(h->w, h->path, "cannot set up the history database", err);
    return APR_SUCCESS;
}

apr_status_t history_open(const char *path, apr_pool_t *parent, history_t **out, abbey_err_t *err)
{
    apr_pool_t *pool = mem_xpool(parent); /* the writer's: only it allocates here */
    history_t *h = apr_pcalloc(pool, sizeof *h);
    char *dir = apr_pstrdup(pool, path), *slash = strrchr(dir, '/');
    apr_status_t rv;

    h->path = apr_pstrdup(pool, path);
    h->pool = pool;
    h->tables = apr_hash_make(pool);
    h->folded = apr_hash_make(pool);
    h->warned = apr_hash_make(pool);
    apr_thread_mutex_create(&h->wlock, APR_THREAD_MUTEX_DEFAULT, pool);
    apr_thread_mutex_create(&h->rlock, APR_THREAD_MUTEX_DEFAULT, pool);
    apr_pool_cleanup_register(pool, h, cleanup, apr_pool_cleanup_null);
    if (slash && slash != dir) {
        *slash = '\0';
        if ((rv = apr_dir_make_recursive(dir, APR_FPROT_OS_DEFAULT, pool)) != APR_SUCCESS) {
            char ebuf[256];
            abbey_err_set(err, "%s: cannot create its directory: %s", path,
                          apr_strerror(rv, ebuf, sizeof ebuf));
            apr_pool_destroy(pool);
            return rv;
        }
    }
    if ((rv = open_writer(h, err)) != APR_SUCCESS) {
        apr_pool_destroy(pool); /* closes what was opened */
        return rv;
    }
    if (sqlite3_open_v2(h->path, &h->r, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
            SQLITE_OK ||
        exec(h->r, "PRAGMA query_only=1") != SQLITE_OK) {
        rv = sql_err(h->r, h->path, "cannot open the history database for reading", err);
        apr_pool_destroy(pool);
        return rv;
    }
    sqlite3_busy_timeout(h->r, BUSY_TIMEOUT_MS);
    *out = h;
    return APR_SUCCESS;
}

const char *history_path(const history_t *h)
{
    return h->path;
}

/* ---- batches ------------------------------------------------------------- */

enum { CELL_NULL = 'n', CELL_INT = 'i', CELL_REAL = 'f', CELL_TEXT = 't' };

typedef struct hset_t {
    const rules_job_t *job;
    const rules_report_t *r;
    size_t nrows;
    buf_t cells; /* nrows * r->ncols cells */
} hset_t;

struct history_batch_t {
    int64_t start_ms, end_ms;
    int incomplete, final;
    int n, cap;
    hset_t *sets;
};

history_batch_t *history_batch_create(int64_t start_ms, int64_t end_ms, int incomplete, int final)
{
    history_batch_t *b = mem_xcalloc(1, sizeof *b);
    history_batch_set(b, start_ms, end_ms, incomplete);
    b->final = final != 0;
    return b;
}

void history_batch_set(history_batch_t *b, int64_t start_ms, int64_t end_ms, int incomplete)
{
    b->start_ms = start_ms;
    b->end_ms = end_ms;
    b->incomplete = incomplete != 0;
}

int history_batch_size(const history_batch_t *b)
{
    return b->n;
}

void history_batch_free(history_batch_t *b)
{
    if (!b)
        return;
    for (int i = 0; i < b->n; i++)
        buf_free(&b->sets[i].cells);
    free(b->sets);
    free(b);
}

static void put_text(buf_t *cells, const char *s, size_t len)
{
    buf_put_u8(cells, CELL_TEXT);
    buf_put_str(cells, s, len);
}

/* A figure (agg_result_t text): an integer that fits 64 bits, a real, or
 * text (a sum beyond 64 bits, kept exact). */
static void put_figure(buf_t *cells, const agg_result_t *res)
{
    const char *s = res->text;
    char *end;
    if ((res->flags & AGG_RES_NULL) || !s[0]) {
        buf_put_u8(cells, CELL_NULL);
        return;
    }
    errno = 0;
    long long i = strtoll(s, &end, 10);
    if (!*end && errno == 0) {
        buf_put_u8(cells, CELL_INT);
        buf_put_svarint(cells, i);
        return;
    }
    double x = strtod(s, &end);
    if (!*end && strpbrk(s, ".eEnN")) { /* written as a float (or inf, nan) */
        buf_put_u8(cells, CELL_REAL);
        buf_put_f64(cells, x);
        return;
    }
    put_text(cells, s, strlen(s));
}

static void put_key(buf_t *cells, export_text_t *tx, const value_t *v)
{
    size_t len;
    const char *s;
    if (v->kind == VALUE_NULL) {
        buf_put_u8(cells, CELL_NULL);
    } else if (v->kind == VALUE_INT) {
        buf_put_u8(cells, CELL_INT);
        buf_put_svarint(cells, v->i);
    } else if (v->kind == VALUE_FLOAT && isfinite(v->f)) {
        buf_put_u8(cells, CELL_REAL);
        buf_put_f64(cells, v->f);
    } else { /* text, times and booleans as the reports show them */
        s = export_key_text(tx, v, &len);
        put_text(cells, s, len);
    }
}

void history_batch_add(history_batch_t *b, const rules_job_t *job, const rules_report_t *r,
                       const export_rows_t *rows)
{
    const int nkeys = r->entry->nkeys;
    export_text_t tx;
    export_cells_t cells;
    hset_t *set;
    if (b->n == b->cap) {
        b->cap = b->cap ? 2 * b->cap : 8;
        b->sets = mem_xrealloc(b->sets, sizeof *b->sets * (size_t)b->cap);
    }
    set = &b->sets[b->n++];
    set->job = job;
    set->r = r;
    set->nrows = rows->n;
    buf_init(&set->cells);
    export_text_init(&tx);
    export_cells_init(rows, &cells);
    for (size_t i = 0; i < rows->n; i++) {
        export_cells(rows, &rows->rows[i], &cells);
        for (int c = 0; c < r->ncols; c++) {
            int col = r->cols[c];
            if (col < nkeys)
                put_key(&set->cells, &tx, &cells.keys[col]);
            else
                put_figure(&set->cells, &cells.res[col - nkeys]);
        }
    }
    export_text_free(&tx);
}

/* ---- writing ------------------------------------------------------------- */

/* One write's state: the batch's times as text, scratch, the first error. */
typedef struct wctx_t {
    history_t *h;
    const history_batch_t *b;
    apr_pool_t *pool;
    char start[32], end[32], now[32];
    abbey_err_t *err;
} wctx_t;

static int fail(wctx_t *w, const char *what, const char *table)
{
    abbey_err_set(w->err, "%s: %s%s%s: %s", w->h->path, what, table ? " " : "", table ? table : "",
                  sqlite3_errmsg(w->h->w));
    return -1;
}

/* Run sql (a statement with ?-parameters bound to the texts given, NULL-ended). */
static int run(wctx_t *w, const char *sql, const char *table, ...)
{
    sqlite3_stmt *st;
    va_list ap;
    const char *arg;
    int rc, i = 1;
    if (sqlite3_prepare_v2(w->h->w, sql, -1, &st, NULL) != SQLITE_OK)
        return fail(w, "cannot write", table);
    va_start(ap, table);
    while ((arg = va_arg(ap, const char *)) != NULL)
        sqlite3_bind_text(st, i++, arg, -1, SQLITE_TRANSIENT);
    va_end(ap);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : fail(w, "cannot write", table);
}

static char *lower(const char *s, apr_pool_t *pool)
{
    char *l = apr_pstrdup(pool, s);
    for (char *p = l; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    return l;
}

/* Make table (columns cols, n of them, for report r) or add the columns it
 * lacks; skipped when this connection last did it for r itself (a loaded
 * report never changes; a reloaded config brings new ones). */
static int ensure_table(wctx_t *w, const rules_report_t *r, const char *table, const char **cols,
                        int n)
{
    buf_t sql;
    apr_array_header_t *have;
    int rc;
    if (apr_hash_get(w->h->tables, table, APR_HASH_KEY_STRING) == r)
        return 0;
    buf_init(&sql);
    buf_printf(&sql, "CREATE TABLE IF NOT EXISTS ");
    history_put_ident(&sql, table);
    buf_printf(&sql, "(\"start\" TEXT NOT NULL, \"end\" TEXT NOT NULL, incomplete INTEGER NOT "
                     "NULL, final INTEGER NOT NULL");
    for (int c = 0; c < n; c++) {
        buf_put(&sql, ", ", 2);
        history_put_ident(&sql, cols[c]);
    }
    buf_put(&sql, ")", 2); /* with its NUL */
    rc = run(w, (const char *)sql.data, table, NULL);
    buf_reset(&sql);
    buf_printf(&sql, "CREATE INDEX IF NOT EXISTS ");
    history_put_ident(&sql, apr_pstrcat(w->pool, table, "/start", NULL));
    buf_printf(&sql, " ON ");
    history_put_ident(&sql, table);
    buf_put(&sql, "(\"start\")", 10);
    if (!rc)
        rc = run(w, (const char *)sql.data, table, NULL);
    have = history_table_columns(w->h->w, table, w->pool);
    for (int c = 0; !rc && c < n; c++) {
        if (history_has_column(have, cols[c]))
            continue;
        buf_reset(&sql);
        buf_printf(&sql, "ALTER TABLE ");
        history_put_ident(&sql, table);
        buf_printf(&sql, " ADD COLUMN ");
        history_put_ident(&sql, cols[c]);
        buf_put_u8(&sql, 0);
        rc = run(w, (const char *)sql.data, table, NULL);
    }
    buf_free(&sql);
    if (!rc)
        apr_hash_set(w->h->tables, apr_pstrdup(w->h->pool, table), APR_HASH_KEY_STRING, r);
    return rc;
}

/* Insert set's rows into table (columns cols). */
static int insert_rows(wctx_t *w, const hset_t *set, const char *table, const char **cols)
{
    const int n = set->r->ncols;
    buf_t sql;
    sqlite3_stmt *st;
    buf_reader_t rd;
    int rc = 0;

    buf_init(&sql);
    buf_printf(&sql, "INSERT INTO ");
    history_put_ident(&sql, table);
    buf_printf(&sql, "(\"start\", \"end\", incomplete, final");
    for (int c = 0; c < n; c++) {
        buf_put(&sql, ", ", 2);
        history_put_ident(&sql, cols[c]);
    }
    buf_printf(&sql, ") VALUES(?, ?, %d, %d", w->b->incomplete, w->b->final);
    for (int c = 0; c < n; c++)
        buf_put(&sql, ", ?", 3);
    buf_put(&sql, ")", 2);
    if (sqlite3_prepare_v2(w->h->w, (const char *)sql.data, -1, &st, NULL) != SQLITE_OK) {
        buf_free(&sql);
        return fail(w, "cannot write", table);
    }
    buf_free(&sql);
    buf_reader_init(&rd, set->cells.data, set->cells.len);
    for (size_t i = 0; !rc && i < set->nrows; i++) {
        sqlite3_bind_text(st, 1, w->start, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, w->end, -1, SQLITE_STATIC);
        for (int c = 0; c < n; c++) {
            const uint8_t *s;
            size_t len;
            switch (buf_get_u8(&rd)) {
            case CELL_INT:
                sqlite3_bind_int64(st, 3 + c, buf_get_svarint(&rd));
                break;
            case CELL_REAL:
                sqlite3_bind_double(st, 3 + c, buf_get_f64(&rd));
                break;
            case CELL_TEXT:
                s = buf_get_str(&rd, set->cells.len, &len);
                sqlite3_bind_text(st, 3 + c, s ? (const char *)s : "", (int)len, SQLITE_STATIC);
                break;
            default:
                sqlite3_bind_null(st, 3 + c);
            }
        }
        if (sqlite3_step(st) != SQLITE_DONE)
            rc = fail(w, "cannot write", table);
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    return rc;
}

/* The statement of fmt (one table identifier at %s, quoted here) with texts bound. */
static int run_on(wctx_t *w, const char *fmt, const char *table, const char *a, const char *b,
                  const char *c)
{
    buf_t ident;
    const char *sql;
    buf_init(&ident);
    history_put_ident(&ident, table);
    sql = apr_psprintf(w->pool, fmt, (int)ident.len, (const char *)ident.data);
    buf_free(&ident);
    return run(w, sql, table, a, b, c, NULL);
}

/* One report of the batch: its table, its rows, its exports row, retention. */
static int write_set(wctx_t *w, const hset_t *set, int64_t now_ms, int64_t keep_ms)
{
    history_t *h = w->h;
    const char *table = history_table(set->job, set->r, w->pool), *folded, *owner;
    const char **cols = history_columns(set->r, w->pool);
    char cutoff[32], sql[512];
    int64_t keep = set->job->history_keep_ms > 0 ? set->job->history_keep_ms : keep_ms;

    folded = lower(table, w->pool);
    owner = apr_hash_get(h->folded, folded, APR_HASH_KEY_STRING);
    if (owner && strcmp(owner, table) != 0) {
        if (!apr_hash_get(h->warned, table, APR_HASH_KEY_STRING)) {
            log_msg("history: report %s of job %s is not kept: its table \"%s\" would be "
                    "\"%s\" (SQLite's table names ignore letter case)",
                    set->r->name, set->job->name, table, owner);
            apr_hash_set(h->warned, apr_pstrdup(h->pool, table), APR_HASH_KEY_STRING, "");
        }
        return 0;
    }
    if (!owner)
        apr_hash_set(h->folded, apr_pstrdup(h->pool, folded), APR_HASH_KEY_STRING,
                     apr_pstrdup(h->pool, table));
    if (ensure_table(w, set->r, table, cols, set->r->ncols) ||
        run_on(w, "DELETE FROM %.*s WHERE \"start\" = ? AND \"end\" = ? AND final = ?", table,
               w->start, w->end, w->b->final ? "1" : "0") ||
        insert_rows(w, set, table, cols))
        return -1;
    snprintf(sql, sizeof sql, "INSERT OR REPLACE INTO exports VALUES(?, ?, ?, ?, %d, %d, %zu, ?)",
             w->b->incomplete, w->b->final, set->nrows);
    if (run(w, sql, table, set->job->name, set->r->name, w->start, w->end, w->now, NULL))
        return -1;
    h->rows += set->nrows;
    h->exports++;
    if (keep <= 0)
        return 0;
    history_time_text(now_ms - keep, cutoff);
    if (run_on(w, "DELETE FROM %.*s WHERE \"start\" < ?", table, cutoff, NULL, NULL) ||
        run(w, "DELETE FROM exports WHERE job = ? AND report = ? AND \"start\" < ?", table,
            set->job->name, set->r->name, cutoff, NULL))
        return -1;
    return 0;
}

apr_status_t history_write(history_t *h, const history_batch_t *b, int64_t now_ms, int64_t keep_ms,
                           abbey_err_t *err)
{
    apr_time_t t0 = apr_time_now();
    uint64_t rows0, exports0;
    wctx_t w;
    int rc = 0;

    if (!b->n)
        return APR_SUCCESS;
    memset(&w, 0, sizeof w);
    w.h = h;
    w.b = b;
    w.err = err;
    history_time_text(b->start_ms, w.start);
    history_time_text(b->end_ms, w.end);
    history_time_text(now_ms, w.now);
    apr_thread_mutex_lock(h->wlock);
    if (!h->w) {
        apr_thread_mutex_unlock(h->wlock);
        abbey_err_set(err, "%s: the history database is closed", h->path);
        return APR_EGENERAL;
    }
    w.pool = mem_xpool(NULL);
    rows0 = h->rows;
    exports0 = h->exports;
    if (exec(h->w, "BEGIN IMMEDIATE") != SQLITE_OK)
        rc = fail(&w, "cannot start a transaction", NULL);
    for (int i = 0; !rc && i < b->n; i++)
        rc = write_set(&w, &b->sets[i], now_ms, keep_ms);
    if (!rc && exec(h->w, "COMMIT") != SQLITE_OK)
        rc = fail(&w, "cannot commit", NULL);
    if (rc) {
        exec(h->w, "ROLLBACK");
        apr_hash_clear(h->tables); /* what the transaction made is gone */
        h->rows = rows0;
        h->exports = exports0;
        h->failed++;
    }
    int64_t us = (int64_t)(apr_time_now() - t0);
    h->write_us_total += us;
    if (us > h->write_us_max)
        h->write_us_max = us;
    apr_pool_destroy(w.pool);
    apr_thread_mutex_unlock(h->wlock);
    return rc ? APR_EGENERAL : APR_SUCCESS;
}

void history_status_json(history_t *h, buf_t *out)
{
    json_t *o;
    apr_thread_mutex_lock(h->wlock);
    o = json_pack("{s:s,s:I,s:I,s:I,s:f,s:f}", "file", h->path, "exports", (json_int_t)h->exports,
                  "rows", (json_int_t)h->rows, "failed", (json_int_t)h->failed, "write_ms_total",
                  (double)h->write_us_total / 1000.0, "write_ms_max",
                  (double)h->write_us_max / 1000.0);
    apr_thread_mutex_unlock(h->wlock);
    jsonio_dump_buf(o, out);
    json_decref(o);
}
