/* export_csv.c - reports as RFC 4180 CSV: CRLF rows, a header row, quoting where needed. */
#include "export_int.h"

#include <string.h>

/* One field, quoted when it holds a comma, quote, CR or LF (quotes doubled). */
static void csv_field(buf_t *out, const char *s, size_t len)
{
    if (!memchr(s, ',', len) && !memchr(s, '"', len) && !memchr(s, '\r', len) &&
        !memchr(s, '\n', len)) {
        buf_put(out, s, len);
        return;
    }
    buf_put_u8(out, '"');
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '"')
            buf_put_u8(out, '"');
        buf_put_u8(out, (uint8_t)s[i]);
    }
    buf_put_u8(out, '"');
}

void export_csv(const rules_report_t *r, const export_rows_t *rows, buf_t *out)
{
    const rules_entry_t *en = r->entry;
    int ncols = r->ncols ? r->ncols : en->nkeys + en->nvalues;
    buf_t cell;

    buf_init(&cell);
    for (int c = 0; c < ncols; c++) {
        const char *name = export_column_name(en, r->ncols ? r->cols[c] : c);
        if (c)
            buf_put_u8(out, ',');
        csv_field(out, name, strlen(name));
    }
    buf_put(out, "\r\n", 2);
    for (size_t i = 0; i < rows->n; i++) {
        const export_row_t *row = &rows->rows[i];
        for (int c = 0; c < ncols; c++) {
            int col = r->ncols ? r->cols[c] : c;
            if (c)
                buf_put_u8(out, ',');
            buf_reset(&cell);
            if (col < en->nkeys)
                val_render(&cell, &row->keys[col]);
            else
                buf_put(&cell, row->res[col - en->nkeys].text,
                        strlen(row->res[col - en->nkeys].text));
            csv_field(out, cell.len ? (const char *)cell.data : "", cell.len);
        }
        buf_put(out, "\r\n", 2);
    }
    buf_free(&cell);
}
