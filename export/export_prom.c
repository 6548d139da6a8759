/* export_prom.c - a report's figures as Prometheus text: gauges, counters, summaries.
 *
 * The families and their names come from the rules (r->prom, rules_metrics.c);
 * this file writes one report's rows under them. Label values are the keys
 * as every report shows them (export_key_text: well-formed UTF-8), escaped as
 * the text format asks (\\, \", \n); other bytes, control characters
 * included, are kept, as the format allows. Keys come from log lines, so
 * nothing in them can end a label, a line or a sample. */
#include "export_int.h"

#include <apr_hash.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* s[0..len) with backslash, newline and (in label values) double quote escaped. */
static void put_escaped(buf_t *out, const char *s, size_t len, int quote)
{
    for (size_t i = 0; i < len; i++) {
        char ch = s[i];
        if (ch == '\\')
            buf_put(out, "\\\\", 2);
        else if (ch == '\n')
            buf_put(out, "\\n", 2);
        else if (ch == '"' && quote)
            buf_put(out, "\\\"", 2);
        else
            buf_put_u8(out, (uint8_t)ch);
    }
}

/* The label set of each row ("a=\"x\",b=\"y\"", no braces) in one buffer:
 * row i's is at off[i] .. off[i + 1]. */
static void label_sets(const rules_report_t *r, const export_rows_t *rows, buf_t *lab, size_t *off,
                       export_cells_t *cells)
{
    const rules_entry_t *en = r->entry;
    export_text_t tx;
    export_text_init(&tx);
    for (size_t i = 0; i < rows->n; i++) {
        off[i] = lab->len;
        export_cells(rows, &rows->rows[i], cells);
        for (int k = 0; k < en->nkeys; k++) {
            size_t len;
            const char *s = export_key_text(&tx, &cells->keys[k], &len);
            if (k)
                buf_put_u8(lab, ',');
            buf_printf(lab, "%s=\"", r->prom->labels[k]);
            put_escaped(lab, s, len, 1);
            buf_put_u8(lab, '"');
        }
    }
    off[rows->n] = lab->len;
    export_text_free(&tx);
}

/* A figure as a sample value; NULL when it has none. */
static const char *sample_value(const agg_result_t *res)
{
    double x;
    if ((res->flags & AGG_RES_NULL) || !res->text[0])
        return NULL;
    x = strtod(res->text, NULL);
    if (isnan(x))
        return "NaN";
    if (isinf(x))
        return x > 0 ? "+Inf" : "-Inf";
    return res->text; /* a decimal integer or the shortest text of a double */
}

static const char *type_word(rules_prom_type_t t)
{
    return t == RULES_PROM_COUNTER ? "counter" : t == RULES_PROM_SUMMARY ? "summary" : "gauge";
}

void export_prom(const rules_report_t *r, const export_rows_t *rows, buf_t *out, apr_pool_t *pool)
{
    const rules_prom_t *p = r->prom;
    const int nkeys = r->entry->nkeys;
    size_t *off = apr_palloc(pool, sizeof *off * (rows->n + 1));
    uint8_t *shown = apr_pcalloc(pool, rows->n + 1);
    apr_hash_t *seen = apr_hash_make(pool);
    export_cells_t cells;
    buf_t lab;

    buf_init(&lab);
    export_cells_init(rows, &cells);
    label_sets(r, rows, &lab, off, &cells);
    for (size_t i = 0; i < rows->n; i++) { /* one series per label set: the first row's */
        const char *set = (const char *)lab.data + off[i];
        apr_ssize_t len = (apr_ssize_t)(off[i + 1] - off[i]);
        if (!apr_hash_get(seen, len ? set : "", len)) {
            apr_hash_set(seen, len ? set : "", len, "");
            shown[i] = 1;
        }
    }
    for (int f = 0; f < p->nfamilies; f++) {
        const rules_prom_family_t *fam = &p->families[f];
        buf_printf(out, "# HELP %s ", fam->name);
        put_escaped(out, fam->help, strlen(fam->help), 0);
        buf_printf(out, "\n# TYPE %s %s\n", fam->name, type_word(fam->type));
        for (size_t i = 0; i < rows->n; i++) {
            size_t len = off[i + 1] - off[i];
            if (shown[i])
                export_cells(rows, &rows->rows[i], &cells);
            for (int c = 0; shown[i] && c < fam->ncols; c++) {
                const char *v = sample_value(&cells.res[fam->cols[c] - nkeys]);
                int braces = len || fam->type == RULES_PROM_SUMMARY;
                if (!v)
                    continue;
                buf_put(out, fam->name, strlen(fam->name));
                if (braces)
                    buf_put_u8(out, '{');
                buf_put(out, lab.data + off[i], len);
                if (fam->type == RULES_PROM_SUMMARY)
                    buf_printf(out, "%squantile=\"%s\"", len ? "," : "", fam->quantiles[c]);
                if (braces)
                    buf_put_u8(out, '}');
                buf_printf(out, " %s\n", v);
            }
        }
    }
    buf_free(&lab);
}
