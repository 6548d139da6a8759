/* export_int.h - what export.c hands the format writers: decoded, ordered rows. */
#ifndef ABBEY_EXPORT_INT_H
#define ABBEY_EXPORT_INT_H

#include "export.h"

typedef struct export_row_t {
    val_t *keys;        /* the entry's key columns, decoded */
    agg_result_t *res;  /* the entry's values */
} export_row_t;

typedef struct export_rows_t {
    export_row_t *rows; /* ordered */
    size_t n;           /* rows to show (after limit) */
} export_rows_t;

void export_collect(const rules_report_t *r, const ptable_t *t, apr_pool_t *pool, export_rows_t *out);
int export_val_cmp(const val_t *a, const val_t *b);
const char *export_column_name(const rules_entry_t *en, int col);

void export_csv(const rules_report_t *r, const export_rows_t *rows, buf_t *out);
void export_json(const rules_job_t *job, const rules_report_t *r, const export_rows_t *rows,
                 buf_t *out);

#endif
