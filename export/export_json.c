/* export_json.c - reports as one JSON object: metadata, column list, and rows as objects.
 *
 * A table with an overflow row (max_keys) adds "folded_lines" and
 * "folded_keys" after "scope", and the overflow row last, its key columns
 * null and "_overflow": true. */
#include "export_int.h"

#include <string.h>

void export_json_str(buf_t *out, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    buf_put_u8(out, '"');
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            buf_put_u8(out, '\\');
            buf_put_u8(out, c);
        } else if (c < 0x20) {
            char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            buf_put(out, e, 6);
        } else {
            buf_put_u8(out, c);
        }
    }
    buf_put_u8(out, '"');
}

/* A name from the rules (job, report, entry, column) as a JSON string. */
static void json_cstr(buf_t *out, export_text_t *tx, const char *s)
{
    size_t len;
    s = export_text(tx, s, strlen(s), &len);
    export_json_str(out, s, len);
}

static void json_key(buf_t *out, const value_t *v, export_text_t *tx)
{
    const char *s;
    size_t len;
    switch (v->kind) {
    case VALUE_NULL:
        buf_put(out, "null", 4);
        break;
    case VALUE_INT:
    case VALUE_FLOAT:
    case VALUE_BOOL:
        s = export_key_text(tx, v, &len);
        if (len)
            buf_put(out, s, len);
        else
            buf_put(out, "null", 4); /* a non-finite float */
        break;
    default:
        s = export_key_text(tx, v, &len);
        export_json_str(out, s, len);
    }
}

void export_json(const rules_job_t *job, const rules_report_t *r, const export_rows_t *rows,
                 buf_t *out)
{
    const rules_entry_t *en = r->entry;
    int ncols = r->ncols ? r->ncols : rules_entry_ncols(en);
    export_text_t tx;
    export_cells_t cells;

    export_text_init(&tx);
    export_cells_init(rows, &cells);
    buf_put(out, "{\"job\":", 7);
    json_cstr(out, &tx, job->name);
    buf_put(out, ",\"report\":", 10);
    json_cstr(out, &tx, r->name);
    buf_put(out, ",\"entry\":", 9);
    json_cstr(out, &tx, en->name);
    buf_printf(out, ",\"scope\":\"%s\",", r->scope == RULES_SCOPE_ROUND ? "round" : "period");
    if (rows->overflow)
        buf_printf(out, "\"folded_lines\":%llu,\"folded_keys\":%llu,",
                   (unsigned long long)rows->folded_lines, (unsigned long long)rows->folded_keys);
    buf_put(out, "\"columns\":[", 11);
    for (int c = 0; c < ncols; c++) {
        if (c)
            buf_put_u8(out, ',');
        json_cstr(out, &tx, export_column_name(en, r->ncols ? r->cols[c] : c));
    }
    buf_put(out, "],\"rows\":[", 10);
    for (size_t i = 0; i <= rows->n; i++) {
        const export_row_t *row = i < rows->n ? &rows->rows[i] : rows->overflow;
        if (!row)
            break;
        export_cells(rows, row, &cells);
        buf_put(out, i ? ",\n{" : "\n{", i ? 3 : 2);
        for (int c = 0; c < ncols; c++) {
            int col = r->ncols ? r->cols[c] : c;
            if (c)
                buf_put_u8(out, ',');
            json_cstr(out, &tx, export_column_name(en, col));
            buf_put_u8(out, ':');
            if (col < en->nkeys) {
                json_key(out, &cells.keys[col], &tx);
            } else {
                const agg_result_t *res = &cells.res[col - en->nkeys];
                if (res->flags & AGG_RES_NULL || !res->text[0])
                    buf_put(out, "null", 4);
                else
                    buf_put(out, res->text, strlen(res->text));
            }
        }
        if (i == rows->n) /* the overflow row */
            buf_put(out, ",\"_overflow\":true", 17);
        buf_put_u8(out, '}');
    }
    buf_put(out, "]}\n", 3);
    export_text_free(&tx);
}
