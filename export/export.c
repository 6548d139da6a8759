/* export.c - collecting, ordering and limiting a report's rows, and writing report files.
 *
 * A top entry's rows (ptable_top.h) come with one more figure after the
 * values: the error of the ranked value, its `<by>_error` column.
 *
 * The writers for each format (export_csv.c, export_json.c) get the rows
 * ordered as export_rows_t and make each row's cells as they write it
 * (export_cells), so a report of N rows holds N small export_row_t, never N
 * decoded rows; this file owns the order, and export_text, the one place
 * where text becomes well-formed UTF-8. */
#include "export.h"
#include "export_int.h"

#include <apr_file_io.h>
#include <apr_strings.h>
#include <stdlib.h>
#include <string.h>

#include "invariant.h"
#include "ptable_top.h"
#include "utf8.h"
#include "value.h"

/* NULL first, then numbers (numerically), then strings (bytewise). */
static int kind_rank(const value_t *v)
{
    if (v->kind == VALUE_NULL)
        return 0;
    return v->kind == VALUE_STR ? 2 : 1;
}

int export_val_cmp(const value_t *a, const value_t *b)
{
    int ra = kind_rank(a), rb = kind_rank(b);
    double x, y;
    if (ra != rb)
        return ra < rb ? -1 : 1;
    if (ra == 2) {
        size_t n = a->len < b->len ? a->len : b->len;
        int c = n ? memcmp(a->s, b->s, n) : 0;
        return c ? c : (a->len > b->len) - (a->len < b->len);
    }
    if (ra == 0)
        return 0;
    if ((a->kind == VALUE_INT || a->kind == VALUE_TIME || a->kind == VALUE_BOOL) &&
        (b->kind == VALUE_INT || b->kind == VALUE_TIME || b->kind == VALUE_BOOL))
        return (a->i > b->i) - (a->i < b->i);
    value_to_double(a, &x);
    value_to_double(b, &y);
    return (x > y) - (x < y);
}

/* Key column k of x (k 0 is kept decoded; the others are decoded from the row's key, their
 * strings pointing into it). Null for the overflow row. */
static void key_at(const export_row_t *x, int k, value_t *v)
{
    buf_reader_t rd;
    if (k == 0) {
        *v = x->key0;
        return;
    }
    buf_reader_init(&rd, x->row->key, x->row->klen);
    for (int i = 0; i <= k; i++)
        if (!x->row->klen || value_key_get(&rd, v) < 0) {
            v->kind = VALUE_NULL; /* cannot happen for rows this process encoded */
            return;
        }
}

static int keys_cmp(const export_row_t *a, const export_row_t *b, int nkeys)
{
    for (int k = 0; k < nkeys; k++) {
        value_t x, y;
        int c;
        key_at(a, k, &x);
        key_at(b, k, &y);
        if ((c = export_val_cmp(&x, &y)) != 0)
            return c;
    }
    return 0;
}

static int row_cmp(const void *pa, const void *pb, void *arg)
{
    const export_row_t *a = pa, *b = pb;
    const rules_report_t *r = arg;
    int nkeys = r->entry->nkeys, col = r->order_col, c = 0;
    if (col >= 0 && col < nkeys) {
        value_t x, y;
        key_at(a, col, &x);
        key_at(b, col, &y);
        c = export_val_cmp(&x, &y);
        if (r->order_desc)
            c = -c;
    } else if (col >= nkeys) {
        if (a->null != b->null)
            return a->null - b->null; /* missing figures last, whatever the direction */
        c = (a->num > b->num) - (a->num < b->num);
        if (r->order_desc)
            c = -c;
    }
    return c ? c : keys_cmp(a, b, nkeys);
}

/* Figure v of row: value v, or (v == nvalues) a top entry's error column. */
static void row_figure(const rules_entry_t *en, const ptable_t *t, const ptable_row_t *row, int v,
                       agg_result_t *out)
{
    if (v < en->nvalues) {
        agg_result(&en->values[v].spec, row->state + ptable_offset(t, v), out);
        return;
    }
    ABBEY_ASSERT(v == en->nvalues && en->top_k && ptable_top_m(t)); /* partial_table_create's */
    agg_result(&en->specs[en->top_by], ptable_top_error(t, row), out);
}

/* x for row: its first key and, when the report orders by figure vcol, that figure. */
static void collect_row(const rules_entry_t *en, const ptable_t *t, const ptable_row_t *row,
                        int vcol, export_row_t *x)
{
    buf_reader_t rd;
    x->row = row;
    x->key0.kind = VALUE_NULL;
    x->num = 0;
    x->null = 0;
    buf_reader_init(&rd, row->key, row->klen);
    if (en->nkeys && row->klen && value_key_get(&rd, &x->key0) < 0)
        x->key0.kind = VALUE_NULL; /* cannot happen for rows this process encoded */
    if (vcol >= 0) {
        agg_result_t res;
        row_figure(en, t, row, vcol, &res);
        x->num = res.num;
        x->null = (res.flags & AGG_RES_NULL) != 0;
    }
}

void export_collect(const rules_report_t *r, const ptable_t *t, apr_pool_t *pool,
                    export_rows_t *out)
{
    const rules_entry_t *en = r->entry;
    size_t cursor = 0, n = 0, total = ptable_count(t);
    int vcol = r->order_col >= en->nkeys ? r->order_col - en->nkeys : -1;
    ptable_row_t *row;

    memset(out, 0, sizeof *out);
    out->en = en;
    out->t = t;
    out->pool = pool;
    out->rows = apr_palloc(pool, sizeof(export_row_t) * (total ? total : 1));
    while ((row = ptable_next(t, &cursor)) != NULL)
        collect_row(en, t, row, vcol, &out->rows[n++]);
    qsort_r(out->rows, n, sizeof(export_row_t), row_cmp, (void *)r);
    out->n = (r->limit > 0 && (size_t)r->limit < n) ? (size_t)r->limit : n;
    if ((row = ptable_overflow(t)) != NULL) { /* not ordered, not limited: last */
        out->overflow = apr_palloc(pool, sizeof *out->overflow);
        collect_row(en, t, row, -1, out->overflow);
        out->folded_lines = ptable_folded_lines(t);
        out->folded_keys = ptable_folded_keys(t);
    }
}

void export_cells_init(const export_rows_t *rows, export_cells_t *c)
{
    c->keys = apr_pcalloc(rows->pool, sizeof(value_t) * (size_t)(rows->en->nkeys + 1));
    c->res = apr_pcalloc(rows->pool, sizeof(agg_result_t) * (size_t)(rows->en->nvalues + 1));
}

void export_cells(const export_rows_t *rows, const export_row_t *x, export_cells_t *c)
{
    const rules_entry_t *en = rows->en;
    for (int k = 0; k < en->nkeys; k++)
        key_at(x, k, &c->keys[k]);
    for (int v = 0; v < rules_entry_ncols(en) - en->nkeys; v++)
        row_figure(en, rows->t, x->row, v, &c->res[v]);
}

const char *export_column_name(const rules_entry_t *en, int col)
{
    return rules_col_name(en, col);
}

void export_text_init(export_text_t *tx)
{
    buf_init(&tx->cell);
    buf_init(&tx->fix);
}

void export_text_free(export_text_t *tx)
{
    buf_free(&tx->cell);
    buf_free(&tx->fix);
}

const char *export_text(export_text_t *tx, const char *s, size_t len, size_t *olen)
{
    if (!len || utf8_valid_prefix(s, len) == len) {
        *olen = len;
        return len ? s : "";
    }
    buf_reset(&tx->fix);
    utf8_put_replaced(&tx->fix, s, len);
    *olen = tx->fix.len;
    return (const char *)tx->fix.data;
}

const char *export_key_text(export_text_t *tx, const value_t *v, size_t *olen)
{
    if (v->kind == VALUE_STR)
        return export_text(tx, v->s, v->len, olen);
    buf_reset(&tx->cell);
    value_render(&tx->cell, v);
    return export_text(tx, (const char *)tx->cell.data, tx->cell.len, olen);
}

const char *export_ext(const rules_report_t *r)
{
    return r->format == RULES_REPORT_JSON ? "json" : "csv";
}

const export_rows_t *export_rows(const rules_report_t *r, const ptable_t *t, apr_pool_t *pool)
{
    export_rows_t *rows = apr_palloc(pool, sizeof *rows);
    export_collect(r, t, pool, rows);
    return rows;
}

void export_rows_render(const rules_job_t *job, const rules_report_t *r, const export_rows_t *rows,
                        buf_t *out)
{
    if (r->format == RULES_REPORT_JSON)
        export_json(job, r, rows, out);
    else
        export_csv(r, rows, out);
}

void export_render(const rules_job_t *job, const rules_report_t *r, const ptable_t *t, buf_t *out,
                   apr_pool_t *pool)
{
    export_rows_render(job, r, export_rows(r, t, pool), out);
}

apr_status_t export_write_file(const char *path, const void *data, size_t len, apr_pool_t *pool,
                               abbey_err_t *err)
{
    const char *tmp = apr_pstrcat(pool, path, ".tmp", NULL);
    char *dir = apr_pstrdup(pool, path), *slash = strrchr(dir, '/');
    apr_file_t *f;
    apr_size_t done = len;
    apr_status_t rv;
    char ebuf[256];

    if (slash && slash != dir) {
        *slash = '\0';
        rv = apr_dir_make_recursive(dir, APR_FPROT_OS_DEFAULT, pool);
        if (rv != APR_SUCCESS) {
            abbey_err_set(err, "%s: cannot create directory: %s", dir,
                          apr_strerror(rv, ebuf, sizeof ebuf));
            return rv;
        }
    }
    rv = apr_file_open(&f, tmp, APR_FOPEN_WRITE | APR_FOPEN_CREATE | APR_FOPEN_TRUNCATE,
                       APR_FPROT_OS_DEFAULT, pool);
    if (rv == APR_SUCCESS) {
        rv = apr_file_write_full(f, data, len, &done);
        if (rv == APR_SUCCESS)
            rv = apr_file_sync(f);
        apr_file_close(f);
    }
    if (rv == APR_SUCCESS)
        rv = apr_file_rename(tmp, path, pool);
    if (rv != APR_SUCCESS) {
        apr_file_remove(tmp, pool);
        abbey_err_set(err, "%s: cannot write report: %s", path,
                      apr_strerror(rv, ebuf, sizeof ebuf));
    }
    return rv;
}

apr_status_t export_report_file(const rules_job_t *job, const rules_report_t *r, const ptable_t *t,
                                const char *dir, apr_pool_t *pool, const char **path_out,
                                abbey_err_t *err)
{
    buf_t b;
    apr_status_t rv;
    const char *path = apr_psprintf(pool, "%s/%s/%s.%s", dir, job->name, r->name, export_ext(r));
    buf_init(&b);
    export_render(job, r, t, &b, pool);
    rv = export_write_file(path, b.data ? (const void *)b.data : "", b.len, pool, err);
    buf_free(&b);
    if (path_out)
        *path_out = path;
    return rv;
}
