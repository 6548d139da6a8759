/* export_csv.c - reports as RFC 4180 CSV: CRLF rows, a header row, quoting where needed.
 *
 * A table with an overflow row (max_keys) gets three more columns, last:
 * _overflow (1 on the overflow row, which comes last with its key columns
 * empty; 0 on the others), _folded_lines and _folded_keys (on the overflow
 * row only).
 *
 * Text comes through export_text (well-formed UTF-8). Other control characters
 * are kept as they are (CSV has no escape for them), and a field is never
 * altered against spreadsheet formulas (=, +, -, @): a report is data
 * (docs/RULES.md, Reports). */
#include "export_int.h"

#include <string.h>

#define OVERFLOW_COLS ",_overflow,_folded_lines,_folded_keys"

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
    int ncols = r->ncols ? r->ncols : rules_entry_ncols(en);
    export_text_t tx;
    export_cells_t cells;
    const char *s;
    size_t len;

    export_text_init(&tx);
    export_cells_init(rows, &cells);
    for (int c = 0; c < ncols; c++) {
        const char *name = export_column_name(en, r->ncols ? r->cols[c] : c);
        if (c)
            buf_put_u8(out, ',');
        s = export_text(&tx, name, strlen(name), &len);
        csv_field(out, s, len);
    }
    if (rows->overflow)
        buf_put(out, OVERFLOW_COLS, sizeof OVERFLOW_COLS - 1);
    buf_put(out, "\r\n", 2);
    for (size_t i = 0; i <= rows->n; i++) {
        const export_row_t *row = i < rows->n ? &rows->rows[i] : rows->overflow;
        if (!row)
            break;
        export_cells(rows, row, &cells);
        for (int c = 0; c < ncols; c++) {
            int col = r->ncols ? r->cols[c] : c;
            if (c)
                buf_put_u8(out, ',');
            if (col < en->nkeys) {
                s = export_key_text(&tx, &cells.keys[col], &len);
            } else {
                s = cells.res[col - en->nkeys].text; /* a number (ASCII) or "" */
                len = strlen(s);
            }
            csv_field(out, s, len);
        }
        if (i == rows->n) /* the overflow row */
            buf_printf(out, ",1,%llu,%llu", (unsigned long long)rows->folded_lines,
                       (unsigned long long)rows->folded_keys);
        else if (rows->overflow)
            buf_put(out, ",0,,", 4);
        buf_put(out, "\r\n", 2);
    }
    export_text_free(&tx);
}
