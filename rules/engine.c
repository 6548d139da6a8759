/* engine.c - applying a job's entries to lines (see engine.h).
 *
 * Per line: format_parse fills the field array; phase one evaluates every
 * entry's where / keys / value arguments into per-entry scratch (key bytes
 * into a reusable buffer, arguments into a value_t array) and checks numeric
 * arguments; phase two, only for a clean line, upserts each matching entry's
 * row and updates its aggregates. Bare-field keys and arguments skip the
 * expression evaluator, and an entry whose one key is a bare field keeps the
 * rows of small integer keys (a status, a method id) in an array by value, so
 * that such a line builds, hashes and looks up no key. An entry whose key
 * buffer, table or states cannot grow fails (partial_fail) and is skipped
 * from then on; phase one still evaluates it, so a line is bad or not
 * whatever failed. A bad line is counted under its reason and handed to the
 * sink when there is one (bad_line). A line whose key does not fit in its
 * full table (max_keys) updates the table's overflow row instead (ptable.h);
 * an entry without a count value updates its hidden line count too (rules.h
 * specs), and what a row's heap parts grow by is told to its table
 * (agg_heap_take, ptable_heap_add), so ptable_bytes stays current without
 * walking rows.
 *
 * An entry with `top:` (ptable_top.h) ranks rows by one count or sum: a
 * negative weight for it makes the line bad ("value"); a line that adds
 * nothing to it (its argument missing or 0) updates the row of a key kept
 * but never takes another key's row; after its update a row is re-placed in
 * the summary's heap; and its rows are never cached by value (an eviction
 * gives a row to another key). What an eviction releases of the row's states
 * is told to the table with the update's growth. */
#include "engine.h"

#include <float.h>
#include <stdio.h>
#include <string.h>

#include "expr.h"
#include "ptable_top.h"
#include "value.h"

#define ENGINE_NOMEM (-2)    /* eval_entry: the key could not be built */
#define ENGINE_NEGATIVE (-3) /* eval_entry: a top entry's ranked value is negative */
#define ENGINE_SMALL 1024    /* integer keys below this have their rows cached by value */

typedef struct engine_entry_t {
    const rules_entry_t *entry;
    int *key_ref;  /* field index of each key when it is a bare field, else -1 */
    int *arg_ref;  /* same for value arguments */
    size_t *off;   /* each state's offset in a row (ptable_offset, the same in every table) */
    value_t *args; /* evaluated arguments of the current line */
    buf_t key;     /* encoded key of the current line */
    int selected;  /* where held for the current line */
    /* One key, a bare field: rows by integer key value (0 .. ENGINE_SMALL - 1),
     * taken from table small_t at its generation small_gen (ptable.h). */
    int small_ref;        /* that field, or -1 */
    int64_t small_key;    /* the current line's key when it is such an integer, else -1 */
    ptable_row_t **small; /* NULL: not cached */
    const ptable_t *small_t;
    uint64_t small_gen;
} engine_entry_t;

struct engine_t {
    const rules_job_t *job;
    const format_t *fmt;
    format_state_t *st; /* the format's parse state for this thread */
    size_t max_line;    /* longer lines are bad, never parsed */
    int64_t mtime;      /* the current source's modification time (engine_source) */
    uint64_t need;      /* fields the rules read */
    uint64_t num;       /* fields the rules read as numbers */
    int has_header;     /* the format's sources start with a header line */
    int uses_ctx;       /* some entry evaluates an expression (not only bare fields) */
    value_t *fields;
    expr_ctx_t *ctx;
    apr_pool_t *pool; /* the engine's */
    int nentries;
    engine_entry_t *entries;
    engine_sink_fn sink; /* bad lines go here too (engine_set_sink); NULL: none */
    void *sink_ctx;
};

static apr_status_t engine_cleanup(void *data)
{
    engine_t *e = data;
    for (int i = 0; i < e->nentries; i++)
        buf_free(&e->entries[i].key);
    return APR_SUCCESS;
}

/* Field masks an expression contributes; as_number when its value is summed etc. */
static void add_fields(engine_t *e, const expr_t *x, int as_number)
{
    int ref;
    if (!x)
        return;
    e->need |= expr_fields(x);
    e->num |= expr_numeric_fields(x);
    ref = expr_field_ref(x);
    if (as_number && ref >= 0)
        e->num |= (uint64_t)1 << ref;
}

engine_t *engine_create(const rules_job_t *job, apr_pool_t *pool)
{
    engine_t *e = apr_pcalloc(pool, sizeof *e);
    e->job = job;
    e->pool = pool;
    e->fmt = job->format;
    e->max_line = job->max_line ? job->max_line : RULES_MAX_LINE_DEFAULT;
    e->st = format_state_create(job->format, e->max_line, pool);
    e->has_header = format_has_header(job->format);
    e->fields = apr_pcalloc(pool, sizeof(value_t) * FORMAT_MAX_FIELDS);
    e->ctx = expr_ctx_create(pool);
    e->nentries = job->nentries;
    e->entries =
        apr_pcalloc(pool, sizeof(engine_entry_t) * (size_t)(job->nentries ? job->nentries : 1));
    for (int i = 0; i < job->nentries; i++) {
        const rules_entry_t *en = job->entries[i];
        engine_entry_t *ee = &e->entries[i];
        ee->entry = en;
        ee->key_ref = apr_pcalloc(pool, sizeof(int) * (size_t)(en->nkeys + 1));
        ee->arg_ref = apr_pcalloc(pool, sizeof(int) * (size_t)(en->nvalues + 1));
        ee->off = NULL; /* taken from the first table fed */
        ee->args = apr_pcalloc(pool, sizeof(value_t) * (size_t)(en->nvalues + 1));
        buf_init(&ee->key);
        buf_reserve(&ee->key, 256);
        add_fields(e, en->where, 0);
        e->uses_ctx |= en->where != NULL;
        for (int k = 0; k < en->nkeys; k++) {
            ee->key_ref[k] = expr_field_ref(en->keys[k]);
            add_fields(e, en->keys[k], 0);
            e->uses_ctx |= ee->key_ref[k] < 0;
        }
        for (int v = 0; v < en->nvalues; v++) {
            const rules_value_t *rv = &en->values[v];
            ee->arg_ref[v] = rv->arg ? expr_field_ref(rv->arg) : -1;
            add_fields(e, rv->arg, agg_needs_number(rv->spec.kind));
            e->uses_ctx |= rv->arg && ee->arg_ref[v] < 0;
        }
        ee->small_ref = en->nkeys == 1 && !en->top_k ? ee->key_ref[0] : -1;
        if (ee->small_ref >= 0)
            ee->small = apr_pcalloc(pool, sizeof *ee->small * ENGINE_SMALL);
    }
    apr_pool_cleanup_register(pool, e, engine_cleanup, apr_pool_cleanup_null);
    return e;
}

static void keep_sample(engine_samples_t *s, uint64_t offset, const char *why, const char *line,
                        size_t len)
{
    engine_sample_t *x;
    if (!s || s->n >= ENGINE_SAMPLES)
        return;
    x = &s->s[s->n++];
    x->offset = offset;
    x->why = why;
    if (len >= sizeof x->text)
        len = sizeof x->text - 1;
    memcpy(x->text, line, len);
    x->text[len] = '\0';
    x->len = len;
}

/* One bad line of reason r at offset (line[0..len) of a line of bytes
 * bytes): counted in out, kept as a sample, handed to the sink. why is the
 * sink's text when given (else the format's description, or the reason's
 * text); the sample's is the reason's static text. */
static void bad_line(engine_t *e, partial_t *out, engine_samples_t *samples, int r, const char *why,
                     uint64_t offset, const char *line, size_t len, uint64_t bytes)
{
    partial_bad(out, r);
    keep_sample(samples, offset, partial_reason_text(r), line, len);
    if (e->sink) {
        char text[160];
        engine_bad_t b = {offset, r, why, line, len, bytes};
        if (!why)
            b.why = r < FORMAT_BAD__COUNT
                        ? format_bad_describe(e->st, (format_bad_t)r, text, sizeof text)
                        : partial_reason_text(r);
        e->sink(e->sink_ctx, &b);
    }
}

/* Appends v's key encoding to the entry's key: 0, or -1 when the key buffer
 * cannot grow (reserved first, so value_key_put never needs memory). */
static int put_key(engine_entry_t *ee, const value_t *v)
{
    size_t need = 11 + (v->kind == VALUE_STR ? v->len : 8); /* tag, varint length, bytes */
    if (ee->key.len + need > ee->key.cap && buf_try_reserve(&ee->key, need) < 0)
        return -1;
    value_key_put(&ee->key, v);
    return 0;
}

/* Phase one for one entry. Returns 0, -1 when the line is bad, or
 * ENGINE_NOMEM when its key could not be built. An entry that failed (out of
 * memory) is still evaluated, so that it makes the same lines bad, but builds
 * no key. */
static int eval_entry(engine_t *e, engine_entry_t *ee, int failed)
{
    const rules_entry_t *en = ee->entry;
    int nomem = 0;
    value_t v;

    ee->selected = 0;
    if (en->where) {
        if (expr_eval(en->where, e->fields, e->ctx, &v) < 0)
            return -1;
        if (!value_truthy(&v))
            return 0;
    }
    ee->small_key = -1;
    if (ee->small_ref >= 0) {
        const value_t *k = &e->fields[ee->small_ref];
        if (k->kind == VALUE_INT && (uint64_t)k->i < ENGINE_SMALL)
            ee->small_key = k->i; /* its row is found by value (apply_entry) */
    }
    if (ee->small_key < 0)
        buf_reset(&ee->key);
    for (int k = 0; ee->small_key < 0 && k < en->nkeys; k++) {
        if (ee->key_ref[k] >= 0)
            v = e->fields[ee->key_ref[k]];
        else if (expr_eval(en->keys[k], e->fields, e->ctx, &v) < 0)
            return -1;
        if (!failed && !nomem && put_key(ee, &v) < 0)
            nomem = 1;
    }
    for (int i = 0; i < en->nvalues; i++) {
        const rules_value_t *rv = &en->values[i];
        value_t *a = &ee->args[i];
        if (!rv->arg)
            continue;
        if (ee->arg_ref[i] >= 0)
            *a = e->fields[ee->arg_ref[i]];
        else if (expr_eval(rv->arg, e->fields, e->ctx, a) < 0)
            return -1;
        if (a->kind != VALUE_NULL && agg_needs_number(rv->spec.kind)) {
            double d;
            if (value_to_double(a, &d) < 0)
                return -1;
            if (en->top_k && i == en->top_by && d < 0)
                return ENGINE_NEGATIVE;
        }
    }
    if (nomem)
        return ENGINE_NOMEM;
    ee->selected = !failed;
    return 0;
}

/* The row of the entry's key (built in ee->key), created when new; NULL when
 * the key, the table or the row could not grow. */
static ptable_row_t *find_row(engine_entry_t *ee, ptable_t *t)
{
    ptable_row_t *row;
    if (ee->small_key >= 0 && (row = ee->small[ee->small_key]) != NULL)
        return row;
    if (ee->small_key >= 0) { /* first seen: its key, then its row, kept */
        value_t k = {.kind = VALUE_INT, .i = ee->small_key};
        buf_reset(&ee->key);
        if (put_key(ee, &k) < 0)
            return NULL;
    }
    row = ptable_upsert(t, ee->key.data, (uint32_t)ee->key.len,
                        value_hash_bytes(ee->key.data, ee->key.len));
    if (row && ee->small_key >= 0)
        ee->small[ee->small_key] = row;
    return row;
}

/* 1 when the line adds nothing to a top entry's ranked sum (its argument
 * missing, 0 or not finite) and its key is not kept in a full summary: it
 * must not take another key's row. */
static int top_skip(const engine_entry_t *ee, const ptable_t *t)
{
    const rules_entry_t *en = ee->entry;
    const value_t *w = &ee->args[en->top_by];
    double d;
    if (!en->values[en->top_by].arg || !ptable_top_full(t))
        return 0; /* a count always adds 1 */
    if (w->kind != VALUE_NULL && value_to_double(w, &d) == 0 && d > 0 && d <= DBL_MAX)
        return 0;
    return !ptable_find(t, ee->key.data, (uint32_t)ee->key.len,
                        value_hash_bytes(ee->key.data, ee->key.len));
}

/* Phase two for one entry: the row update (the hidden line count too, see
 * rules.h; a top entry's row re-placed in its heap), its growth told to the
 * table. 0, or -1 when the table or a state could not grow. */
static int apply_entry(engine_entry_t *ee, ptable_t *t)
{
    const rules_entry_t *en = ee->entry;
    ptable_row_t *row;
    int rc = 0;
    if (en->top_k && top_skip(ee, t))
        return 0;
    if (!(row = find_row(ee, t)))
        rc = -1;
    for (int i = 0; i < en->nspecs && rc == 0; i++)
        if (agg_update(&en->specs[i], row->state + ee->off[i],
                       i < en->nvalues && en->values[i].arg ? &ee->args[i] : NULL) == AGG_NOMEM)
            rc = -1;
    if (rc == 0 && en->top_k)
        ptable_top_touch(t, row);
    if (agg_heap_delta) /* a heap part grew or went: the table's size changed (agg_heap_take) */
        ptable_heap_add(t, agg_heap_take());
    return rc;
}

/* What one engine_feed call writes to. */
typedef struct feed_t {
    partial_t *out;
    engine_samples_t *samples;
    abbey_err_t *err;
    apr_status_t rv; /* APR_ENOMEM once an entry failed in this call */
} feed_t;

/* Entry i ran out of memory on this line: it fails (partial_fail). */
static void entry_nomem(feed_t *f, int i)
{
    partial_fail(f->out, i, f->rv == APR_SUCCESS ? f->err : NULL);
    f->rv = APR_ENOMEM;
}

/* The line is bad because entry i needs a number its value is not (rc -1),
 * or a value its top ranks by is negative (rc ENGINE_NEGATIVE). */
static void bad_value(engine_t *e, feed_t *f, int i, int rc, uint64_t offset, const char *line,
                      size_t len)
{
    const rules_entry_t *en = e->entries[i].entry;
    char why[160] = "";
    if (e->sink && rc == ENGINE_NEGATIVE)
        snprintf(why, sizeof why,
                 "entry '%s': %s is negative; its top ranks by sums of values >= 0", en->name,
                 en->values[en->top_by].name);
    else if (e->sink)
        snprintf(why, sizeof why, "entry '%s': %s", en->name,
                 partial_reason_text(PARTIAL_BAD_VALUE));
    bad_line(e, f->out, f->samples, PARTIAL_BAD_VALUE, why, offset, line, len, len);
}

/* One line (no '\n'). */
static void feed_line(engine_t *e, const char *line, size_t len, uint64_t offset, feed_t *f)
{
    partial_t *out = f->out;
    format_bad_t why;
    if (len > e->max_line) {
        out->lines++;
        bad_line(e, out, f->samples, FORMAT_BAD_TOO_LONG, ENGINE_TOO_LONG, offset, line, len, len);
        return;
    }
    if (offset == 0 && e->has_header) {
        why = format_header(e->st, line, len); /* the source's first line names the fields */
        if (why == FORMAT_OK)
            return;
        out->lines++;
        bad_line(e, out, f->samples, why, format_bad_text(why), offset, line, len, len);
        return;
    }
    why = format_parse(e->st, line, len, e->need, e->num, e->fields);
    out->lines++;
    if (why != FORMAT_OK) {
        bad_line(e, out, f->samples, why, NULL, offset, line, len, len);
        return;
    }
    if (e->uses_ctx)
        expr_ctx_reset(e->ctx);
    for (int i = 0; i < e->nentries; i++) {
        int rc = eval_entry(e, &e->entries[i], out->failed[i]);
        if (rc == ENGINE_NOMEM) {
            entry_nomem(f, i);
        } else if (rc < 0) {
            bad_value(e, f, i, rc, offset, line, len);
            return;
        }
    }
    if (e->uses_ctx && expr_ctx_limit_hit(e->ctx))
        out->regex_limit_hits++;
    for (int i = 0; i < e->nentries; i++)
        if (e->entries[i].selected && !out->failed[i] &&
            apply_entry(&e->entries[i], out->tables[i]) < 0)
            entry_nomem(f, i);
}

apr_status_t engine_feed(engine_t *e, const char *buf, size_t len, uint64_t base, partial_t *out,
                         engine_samples_t *samples, abbey_err_t *err)
{
    const char *p = buf, *end = buf + len;
    feed_t f = {out, samples, err, APR_SUCCESS};
    out->bytes += len;
    for (int i = 0; i < e->nentries; i++) { /* cached rows of another table or generation go */
        engine_entry_t *ee = &e->entries[i];
        if (!ee->off) {
            ee->off = apr_palloc(e->pool, sizeof *ee->off * (size_t)(ee->entry->nspecs + 1));
            for (int v = 0; v < ee->entry->nspecs; v++)
                ee->off[v] = ptable_offset(out->tables[i], v);
        }
        if (ee->small &&
            (ee->small_t != out->tables[i] || ee->small_gen != ptable_generation(out->tables[i]))) {
            memset(ee->small, 0, sizeof *ee->small * ENGINE_SMALL);
            ee->small_t = out->tables[i];
            ee->small_gen = ptable_generation(out->tables[i]);
        }
    }
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *stop = nl ? nl : end;
        feed_line(e, p, (size_t)(stop - p), base + (uint64_t)(p - buf), &f);
        p = nl ? nl + 1 : end;
    }
    return f.rv;
}

void engine_source(engine_t *e, int64_t mtime)
{
    e->mtime = mtime;
    format_state_source(e->st, mtime);
}

format_bad_t engine_header(engine_t *e, const char *line, size_t len)
{
    return format_header(e->st, line, len);
}

void engine_fields(const engine_t *e, uint64_t *need, uint64_t *num)
{
    *need = e->need;
    *num = e->num;
}

int engine_has_header(const engine_t *e)
{
    return format_has_header(e->fmt);
}

int64_t engine_mtime(const engine_t *e)
{
    return e->mtime;
}

size_t engine_max_line(const engine_t *e)
{
    return e->max_line;
}

void engine_too_long(engine_t *e, const char *head, size_t len, uint64_t offset, uint64_t bytes,
                     partial_t *out, engine_samples_t *samples)
{
    out->lines++;
    out->bytes += bytes;
    bad_line(e, out, samples, FORMAT_BAD_TOO_LONG, ENGINE_TOO_LONG, offset, head, len, bytes);
}

void engine_set_sink(engine_t *e, engine_sink_fn fn, void *ctx)
{
    e->sink = fn;
    e->sink_ctx = ctx;
}
