/* export_int.h - what export.c hands the format writers: decoded, ordered rows, and the
 * one conversion of text to what a report shows (well-formed UTF-8). */
#ifndef ABBEY_EXPORT_INT_H
#define ABBEY_EXPORT_INT_H

#include "export.h"

/* One row of a report while it is ordered: the table's row, and what ordering reads
 * often, so that a report of N rows costs N of these (48 bytes) and not N decoded rows;
 * the cells are made for one row at a time (export_cells). */
typedef struct export_row_t {
    const ptable_row_t *row;
    double num;   /* the order column's figure, when it is a value (or error) column */
    int null;     /* that figure is missing (AGG_RES_NULL) */
    value_t key0; /* the first key column, decoded (null for the overflow row) */
} export_row_t;

struct export_rows_t {
    const rules_entry_t *en;
    const ptable_t *t;
    apr_pool_t *pool;       /* export_rows's: the cells of a writer (export_cells_init) */
    export_row_t *rows;     /* ordered */
    size_t n;               /* rows to show (after limit) */
    export_row_t *overflow; /* the table's overflow row (keys null), shown last; NULL: none */
    uint64_t folded_lines;  /* its lines and distinct keys (ptable.h) */
    uint64_t folded_keys;
};

/* A row's cells: its key columns decoded (null for the overflow row) and its values'
 * figures, then a top entry's error (rules_entry_ncols). */
typedef struct export_cells_t {
    value_t *keys;     /* en->nkeys */
    agg_result_t *res; /* en->nvalues, + 1 for a top entry's error */
} export_cells_t;

void export_collect(const rules_report_t *r, const ptable_t *t, apr_pool_t *pool,
                    export_rows_t *out);
/* Room for one row's cells, from rows->pool. */
void export_cells_init(const export_rows_t *rows, export_cells_t *c);
/* The cells of x (a row of rows, or its overflow row) into c (valid until the next call;
 * strings point into the table's row). */
void export_cells(const export_rows_t *rows, const export_row_t *x, export_cells_t *c);
int export_val_cmp(const value_t *a, const value_t *b);
const char *export_column_name(const rules_entry_t *en, int col);

/* Scratch space of a writer for export_text and export_key_text (heap, reused
 * across fields: nothing is allocated for a key that is valid already). */
typedef struct export_text_t {
    buf_t cell; /* a key value rendered as text */
    buf_t fix;  /* text with ill-formed UTF-8 replaced */
} export_text_t;

void export_text_init(export_text_t *tx);
void export_text_free(export_text_t *tx);

/* Text s[0..len) as every report shows it: well-formed UTF-8, each maximal
 * ill-formed part replaced by U+FFFD (utf8_put_replaced; docs/RULES.md,
 * Reports). Returns s itself when it is valid, else the replaced copy in
 * tx->fix (valid until the next call); *olen receives its length. Every
 * writer passes every name and key text through here; escaping or quoting
 * for the format comes after. */
const char *export_text(export_text_t *tx, const char *s, size_t len, size_t *olen);

/* A key value as text (value_render: numbers, ISO times, true/false, NULL as
 * ""), through export_text. Same lifetime as export_text's result. */
const char *export_key_text(export_text_t *tx, const value_t *v, size_t *olen);

/* A JSON string literal of text s[0..len) that is well-formed UTF-8 (it came
 * through export_text): quotes and backslashes escaped, control characters
 * (NUL included) as \u00XX; other characters copied. */
void export_json_str(buf_t *out, const char *s, size_t len);

void export_csv(const rules_report_t *r, const export_rows_t *rows, buf_t *out);
void export_json(const rules_job_t *job, const rules_report_t *r, const export_rows_t *rows,
                 buf_t *out);

#endif
