/* frame_payload.c - a partial's payload inside a frame, in versions 1 and 2 (see frame.h and
 * frame_int.h).
 *
 * Both versions write the selected groups, their entries, each entry's value kinds and its
 * rows (every state of a row: the hidden line count too; a top-K summary's m and floor, and
 * each of its rows' error), then the overflow rows of the entries that have one (max_keys)
 * with their folded keys. Version 2 adds what makes frames small: the frame dictionary of set
 * members first (agg.h: every state's sets become indices into it), and the rows in the order of
 * their keys, each key written as the bytes it shares with the previous one and the rest. Decoding
 * trusts nothing: every count is bounded by the bytes left, names and kinds must match the job,
 * keys must be valid key columns (and, in version 2, strictly increasing, out of the decoder's
 * budget), a summary and its rows must be sound (ptable_top.h), an overflow row must be of an entry
 * of the frame that folds, and the rows go into a partial that frame.c merges into the caller's
 * only when the whole payload checked out (or, when the caller's is empty, the caller's own,
 * emptied again on failure). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frame_int.h"
#include "invariant.h"
#include "mem.h"
#include "ptable_top.h"
#include "rules.h"

#define FRAME_NAME_SHOWN 64 /* bytes of an untrusted name shown in a message */

/* Untrusted bytes as printable text for a message (truncated, escaped). */
static const char *shown(const uint8_t *s, size_t n, char out[4 * FRAME_NAME_SHOWN + 4])
{
    size_t o = 0;
    for (size_t i = 0; i < n && i < FRAME_NAME_SHOWN; i++) {
        if (s[i] >= 0x20 && s[i] < 0x7f && s[i] != '\\' && s[i] != '\'')
            out[o++] = (char)s[i];
        else
            o += (size_t)snprintf(out + o, 5, "\\x%02x", s[i]);
    }
    if (n > FRAME_NAME_SHOWN) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
    return out;
}

static int name_eq(const char *name, const uint8_t *s, size_t n)
{
    return strlen(name) == n && (n == 0 || memcmp(name, s, n) == 0);
}

static void put_spec(buf_t *b, const agg_spec_t *s)
{
    buf_put_u8(b, (uint8_t)s->kind);
    if (s->kind == AGG_PERCENTILE)
        buf_put_f64(b, s->pct);
    else if (s->kind == AGG_DISTINCT_EXACT)
        buf_put_varint(b, s->cap);
}

/* Key bytes a version 2 decoder charges to its budget for a key of klen bytes. */
static uint64_t key_units(size_t klen)
{
    return ((uint64_t)klen + 7) / 8;
}

static int row_cmp(const void *a, const void *b)
{
    const ptable_row_t *x = *(const ptable_row_t *const *)a, *y = *(const ptable_row_t *const *)b;
    int c = memcmp(x->key, y->key, x->klen < y->klen ? x->klen : y->klen);
    return c ? c : (x->klen > y->klen) - (x->klen < y->klen);
}

typedef struct encoder_t {
    buf_t *b;
    int version;
    agg_dict_t *dict;          /* version 2 */
    const ptable_row_t **rows; /* version 2: an entry's rows in key order */
    size_t cap;
    abbey_err_t *err;
} encoder_t;

static apr_status_t no_memory(encoder_t *en, const char *what, const rules_entry_t *e)
{
    abbey_err_set(en->err, "frame: out of memory for the %s of entry '%s'", what, e->name);
    return APR_ENOMEM;
}

/* Version 2: the value of row that value v's state can be written as derived from
 * (agg_derives), or -1. */
static int derived_from(const rules_entry_t *e, const ptable_t *t, const ptable_row_t *row, int v)
{
    if (e->specs[v].kind != AGG_DISTINCT)
        return -1;
    for (int w = 0; w < e->nspecs && w < AGG_DERIVED_MAX; w++)
        if (w != v && agg_derives(&e->specs[v], row->state + ptable_offset(t, v), &e->specs[w],
                                  row->state + ptable_offset(t, w)))
            return w;
    return -1;
}

/* A row's states (all the entry's specs): agg_encode each (version 1), or against the
 * dictionary, a distinct that a distinct_exact of the row determines as a reference to it
 * (version 2). */
static apr_status_t put_states(encoder_t *en, const rules_entry_t *e, const ptable_t *t,
                               const ptable_row_t *row)
{
    for (int v = 0; v < e->nspecs; v++) {
        const void *state = row->state + ptable_offset(t, v);
        int from = en->version >= 2 ? derived_from(e, t, row, v) : -1;
        if (en->version == 1)
            agg_encode(&e->specs[v], state, en->b);
        else if (from >= 0)
            agg_encode_derived(&e->specs[v], from, en->b);
        else if (agg_encode_dict(&e->specs[v], state, en->dict, en->b) < 0)
            return no_memory(en, "set indices", e);
    }
    return APR_SUCCESS;
}

/* One row: its key (version 2: the bytes shared with prev's key, then the rest), its states
 * and a summary row's error. */
static apr_status_t put_row(encoder_t *en, const rules_entry_t *e, const ptable_t *t,
                            const ptable_row_t *row, const ptable_row_t *prev)
{
    apr_status_t rv;
    if (en->version == 1) {
        buf_put_str(en->b, row->key, row->klen);
    } else {
        size_t same = 0;
        while (prev && same < prev->klen && same < row->klen && prev->key[same] == row->key[same])
            same++;
        buf_put_varint(en->b, same);
        buf_put_str(en->b, row->key + same, row->klen - same);
    }
    if ((rv = put_states(en, e, t, row)) == APR_SUCCESS && e->top_k)
        ptable_top_put_row(t, row, en->b);
    return rv;
}

/* Version 2: the rows in key order. */
static apr_status_t put_rows_v2(encoder_t *en, const rules_entry_t *e, const ptable_t *t)
{
    size_t n = ptable_count(t), cur = 0, k = 0;
    const ptable_row_t *row;
    apr_status_t rv = APR_SUCCESS;

    if (n > en->cap) {
        const ptable_row_t **rows = mem_realloc(en->rows, n * sizeof *rows);
        if (!rows)
            return no_memory(en, "row order", e);
        en->rows = rows;
        en->cap = n;
    }
    while ((row = ptable_next(t, &cur)) != NULL)
        en->rows[k++] = row;
    ABBEY_ASSERT(k == n);
    if (n)
        qsort(en->rows, n, sizeof *en->rows, row_cmp);
    for (size_t i = 0; i < n && rv == APR_SUCCESS; i++)
        rv = put_row(en, e, t, en->rows[i], i ? en->rows[i - 1] : NULL);
    return rv;
}

static apr_status_t put_entry(encoder_t *en, const rules_entry_t *e, const ptable_t *t)
{
    size_t cur = 0;
    const ptable_row_t *row;
    buf_t *b = en->b;
    apr_status_t rv = APR_SUCCESS;

    buf_put_str(b, e->name, strlen(e->name));
    buf_put_varint(b, (uint64_t)e->nspecs);
    for (int v = 0; v < e->nspecs; v++)
        put_spec(b, &e->specs[v]);
    buf_put_varint(b, ptable_count(t));
    if (e->top_k)
        ptable_top_put_head(t, b);
    if (en->version >= 2)
        return put_rows_v2(en, e, t);
    while (rv == APR_SUCCESS && (row = ptable_next(t, &cur)) != NULL)
        rv = put_row(en, e, t, row, NULL);
    return rv;
}

/* 1 when entry e is in the selected groups (NULL: all). */
static int selected(const rules_entry_t *e, const uint8_t *groups)
{
    return !groups || groups[e->group->index];
}

/* The overflow rows of the selected entries that have one (frame.h): each one's states as a
 * row's, then its folded keys (a distinct state); nothing when none has one. */
static apr_status_t put_overflows(encoder_t *en, const partial_t *p, const uint8_t *groups)
{
    const rules_job_t *job = p->job;
    uint64_t n = 0;

    for (int i = 0; i < job->nentries; i++)
        n += selected(job->entries[i], groups) && ptable_overflow(p->tables[i]);
    if (!n)
        return APR_SUCCESS;
    buf_put_varint(en->b, n);
    for (int i = 0; i < job->nentries; i++) {
        const rules_entry_t *e = job->entries[i];
        const ptable_t *t = p->tables[i];
        apr_status_t rv;
        if (!selected(e, groups) || !ptable_overflow(t))
            continue;
        buf_put_str(en->b, e->name, strlen(e->name));
        if ((rv = put_states(en, e, t, ptable_overflow(t))) != APR_SUCCESS)
            return rv;
        if (en->version == 1)
            agg_encode(ptable_folded_spec(), ptable_folded_state(t), en->b);
        else if (agg_encode_dict(ptable_folded_spec(), ptable_folded_state(t), en->dict, en->b) < 0)
            return no_memory(en, "folded keys", e);
    }
    return APR_SUCCESS;
}

/* Version 2: count a row's states' set members (and its key bytes). */
static int count_row(encoder_t *en, const rules_entry_t *e, const ptable_t *t,
                     const ptable_row_t *row)
{
    agg_dict_count_weight(en->dict, key_units(row->klen));
    for (int v = 0; v < e->nspecs; v++)
        if (agg_dict_count(en->dict, &e->specs[v], row->state + ptable_offset(t, v)) < 0)
            return -1;
    return 0;
}

/* Version 2: count every set member (and the key bytes) of the selected entries' rows,
 * overflow rows and folded keys, then write the dictionary. */
static apr_status_t put_dict(encoder_t *en, const partial_t *p, const uint8_t *groups)
{
    const rules_job_t *job = p->job;
    for (int i = 0; i < job->nentries; i++) {
        const rules_entry_t *e = job->entries[i];
        const ptable_t *t = p->tables[i];
        const ptable_row_t *row;
        size_t cur = 0;
        if (!selected(e, groups))
            continue;
        while ((row = ptable_next(t, &cur)) != NULL)
            if (count_row(en, e, t, row) < 0)
                return no_memory(en, "dictionary", e);
        if (ptable_overflow(t) &&
            (count_row(en, e, t, ptable_overflow(t)) < 0 ||
             agg_dict_count(en->dict, ptable_folded_spec(), ptable_folded_state(t)) < 0))
            return no_memory(en, "dictionary", e);
    }
    if (agg_dict_put(en->dict, en->b) < 0) {
        abbey_err_set(en->err, "frame: out of memory for the dictionary");
        return APR_ENOMEM;
    }
    return APR_SUCCESS;
}

static apr_status_t put_groups(encoder_t *en, const partial_t *p, const uint8_t *groups)
{
    const rules_job_t *job = p->job;
    uint64_t ng = 0;

    for (int g = 0; g < job->ngroups; g++)
        ng += !groups || groups[g];
    buf_put_varint(en->b, ng);
    for (int g = 0; g < job->ngroups; g++) {
        const rules_group_t *grp = &job->groups[g];
        if (groups && !groups[g])
            continue;
        buf_put_str(en->b, grp->name, strlen(grp->name));
        buf_put_varint(en->b, (uint64_t)grp->nentries);
        for (int e = 0; e < grp->nentries; e++) {
            apr_status_t rv = put_entry(en, grp->entries[e], p->tables[grp->entries[e]->index]);
            if (rv != APR_SUCCESS)
                return rv;
        }
    }
    return put_overflows(en, p, groups);
}

apr_status_t frame_payload_put(buf_t *b, const partial_t *p, const uint8_t *groups, int version,
                               uint64_t *weight, abbey_err_t *err)
{
    encoder_t en = {.b = b, .version = version, .err = err};
    apr_status_t rv;

    ABBEY_ASSERT(version == 1 || version == 2);
    *weight = 0;
    if (version == 1)
        return put_groups(&en, p, groups);
    if (!(en.dict = agg_dict_create())) {
        abbey_err_set(err, "frame: out of memory for the dictionary");
        return APR_ENOMEM;
    }
    rv = put_dict(&en, p, groups);
    if (rv == APR_SUCCESS)
        rv = put_groups(&en, p, groups);
    *weight = agg_dict_weight(en.dict);
    agg_dict_destroy(en.dict);
    free(en.rows);
    return rv;
}

typedef struct decoder_t {
    buf_reader_t r;
    int version;
    const rules_job_t *job;
    partial_t *scratch;
    uint8_t *seen_group; /* job->ngroups */
    uint8_t *seen_entry; /* job->nentries */
    int *nstates;        /* job->nentries: states per row in this frame (nspecs, or nvalues
                            for a version 1 frame from before the hidden line count) */
    int *from;           /* version 2: per state of a row, what it is derived from */
    agg_dict_t *dict;    /* version 2 */
    buf_t key;           /* version 2: the row's key, built on the previous one */
    abbey_err_t *err;
} decoder_t;

static const char *value_name(const rules_entry_t *e, int v, char tmp[16])
{
    if (v >= e->nvalues)
        return "(line count)"; /* the hidden count (rules.h) */
    if (e->values && e->values[v].name)
        return e->values[v].name;
    snprintf(tmp, 16, "#%d", v);
    return tmp;
}

static apr_status_t bad(decoder_t *d, const char *what)
{
    abbey_err_set(d->err, "frame payload: %s is truncated or malformed", what);
    return APR_EINVAL;
}

static apr_status_t check_specs(decoder_t *d, const rules_entry_t *e, int nv)
{
    char tmp[16];
    for (int v = 0; v < nv; v++) {
        const agg_spec_t *s = &e->specs[v];
        uint8_t kind = buf_get_u8(&d->r);
        double pct = 0;
        uint64_t cap = 0;
        if (kind == AGG_PERCENTILE)
            pct = buf_get_f64(&d->r);
        else if (kind == AGG_DISTINCT_EXACT)
            cap = buf_get_varint(&d->r);
        if (buf_reader_failed(&d->r))
            return bad(d, "value kinds");
        if (kind != s->kind) {
            abbey_err_set(d->err,
                          "frame payload: entry '%s' value '%s' is %s in the frame, %s in "
                          "job '%s'",
                          e->name, value_name(e, v, tmp),
                          kind < AGG__COUNT ? agg_kind_name(kind) : "an unknown kind",
                          agg_kind_name(s->kind), d->job->name);
            return APR_EINVAL;
        }
        if ((kind == AGG_PERCENTILE && !(pct == s->pct)) ||
            (kind == AGG_DISTINCT_EXACT && cap != s->cap)) {
            abbey_err_set(d->err,
                          "frame payload: entry '%s' value '%s' has %s %g in the frame, "
                          "%g in job '%s'",
                          e->name, value_name(e, v, tmp),
                          kind == AGG_PERCENTILE ? "percentile" : "cap",
                          kind == AGG_PERCENTILE ? pct : (double)cap,
                          kind == AGG_PERCENTILE ? s->pct : (double)s->cap, d->job->name);
            return APR_EINVAL;
        }
    }
    return APR_SUCCESS;
}

/* A key must be exactly e->nkeys valid value_key encodings. */
static int key_ok(const uint8_t *k, size_t klen, int nkeys)
{
    buf_reader_t r;
    value_t v;
    buf_reader_init(&r, k, klen);
    for (int i = 0; i < nkeys; i++)
        if (value_key_get(&r, &v) != 0 || buf_reader_failed(&r))
            return 0;
    return buf_reader_left(&r) == 0;
}

/* Version 2: the key of row i, written as (bytes shared with the previous key, the rest),
 * into d->key; it must come after the previous one. */
static apr_status_t get_key_v2(decoder_t *d, const rules_entry_t *e, uint64_t i)
{
    uint64_t same = buf_get_varint(&d->r);
    size_t n, plen = d->key.len;
    const uint8_t *rest = buf_get_str(&d->r, buf_reader_left(&d->r), &n);
    int c;

    if (!rest)
        return bad(d, "row key");
    if (same > plen || (i == 0 && same)) {
        abbey_err_set(d->err,
                      "frame payload: entry '%s' row %llu: key shares %llu bytes with a "
                      "previous key of %zu",
                      e->name, (unsigned long long)i, (unsigned long long)same, plen);
        return APR_EINVAL;
    }
    c = n && plen > same ? memcmp(rest, d->key.data + same, n < plen - same ? n : plen - same) : 0;
    if (i > 0 && (c < 0 || (c == 0 && n <= plen - same))) {
        abbey_err_set(d->err, "frame payload: entry '%s' row %llu: keys are not in order", e->name,
                      (unsigned long long)i);
        return APR_EINVAL;
    }
    if (agg_dict_take(d->dict, key_units(same + n)) != 0) {
        abbey_err_set(d->err,
                      "frame payload: entry '%s' row %llu: keys are longer than the frame's "
                      "size allows",
                      e->name, (unsigned long long)i);
        return APR_EINVAL;
    }
    d->key.len = same;
    buf_put(&d->key, rest, n);
    return APR_SUCCESS;
}

#define OVERFLOW_ROW UINT64_MAX /* a row index meaning the entry's overflow row */

/* Row i of entry e (or its overflow row) as messages name it. */
static const char *row_name(const rules_entry_t *e, uint64_t i, char out[128])
{
    if (i == OVERFLOW_ROW)
        snprintf(out, 128, "overflow row of entry '%s'", e->name);
    else
        snprintf(out, 128, "entry '%s' row %llu", e->name, (unsigned long long)i);
    return out;
}

/* Version 2: the states of row written as derived from another value (from[v] >= 0),
 * now that the row's other states are decoded. */
static apr_status_t derive_row(decoder_t *d, const rules_entry_t *e, ptable_t *t, ptable_row_t *row,
                               const int *from, uint64_t i)
{
    char tmp[16], where[128];
    int n = d->nstates[e->index];
    for (int v = 0; v < n; v++) {
        int w = from[v];
        apr_status_t rv;
        if (w < 0)
            continue;
        if (w >= n || w == v || from[w] >= 0) {
            abbey_err_set(d->err,
                          "frame payload: %s value '%s' is derived from value %d, which is %s",
                          row_name(e, i, where), value_name(e, v, tmp), w,
                          w >= n ? "not in the entry" : "itself derived");
            return APR_EINVAL;
        }
        rv = agg_derive(&e->specs[v], row->state + ptable_offset(t, v), &e->specs[w],
                        row->state + ptable_offset(t, w), d->dict, d->err);
        if (rv != APR_SUCCESS) {
            abbey_err_prefix(d->err, "frame payload: %s value '%s'", row_name(e, i, where),
                             value_name(e, v, tmp));
            return rv;
        }
    }
    return APR_SUCCESS;
}

/* The states of row i of entry e (or of its overflow row), as the version writes them; what
 * their heap parts took is noted in t (ptable.h). */
static apr_status_t get_states(decoder_t *d, const rules_entry_t *e, ptable_t *t, ptable_row_t *row,
                               uint64_t i)
{
    char tmp[16], where[128];
    apr_status_t rv = APR_SUCCESS;

    for (int v = 0; v < d->nstates[e->index] && rv == APR_SUCCESS; v++) {
        void *state = row->state + ptable_offset(t, v);
        rv = d->version == 1
                 ? agg_decode(&e->specs[v], state, &d->r, d->err)
                 : agg_decode_dict(&e->specs[v], state, d->dict, &d->r, &d->from[v], d->err);
        if (rv != APR_SUCCESS)
            abbey_err_prefix(d->err, "frame payload: %s value '%s'", row_name(e, i, where),
                             value_name(e, v, tmp));
    }
    if (rv == APR_SUCCESS && d->version >= 2)
        rv = derive_row(d, e, t, row, d->from, i);
    ptable_heap_add(t, agg_heap_take());
    return rv;
}

/* Row i's key: into *k and *klen (version 1: in the payload; 2: d->key). */
static apr_status_t get_key(decoder_t *d, const rules_entry_t *e, uint64_t i, const uint8_t **k,
                            size_t *klen)
{
    if (d->version == 1) {
        *k = buf_get_str(&d->r, buf_reader_left(&d->r), klen);
        if (!*k)
            return bad(d, "row key");
    } else {
        apr_status_t rv = get_key_v2(d, e, i);
        if (rv != APR_SUCCESS)
            return rv;
        *k = d->key.data;
        *klen = d->key.len;
    }
    if (!key_ok(*k, *klen, e->nkeys)) {
        abbey_err_set(d->err, "frame payload: entry '%s' row %llu: key is not %d valid key columns",
                      e->name, (unsigned long long)i, e->nkeys);
        return APR_EINVAL;
    }
    return APR_SUCCESS;
}

static apr_status_t decode_rows(decoder_t *d, const rules_entry_t *e)
{
    ptable_t *t = d->scratch->tables[e->index];
    uint64_t nrows = buf_get_varint(&d->r);

    if (buf_reader_failed(&d->r))
        return bad(d, "row count");
    if (nrows > buf_reader_left(&d->r)) {
        abbey_err_set(d->err, "frame payload: entry '%s' claims %llu rows in %zu bytes", e->name,
                      (unsigned long long)nrows, buf_reader_left(&d->r));
        return APR_EINVAL;
    }
    if (e->top_k && ptable_top_get_head(t, nrows, &d->r, d->err) != 0) {
        abbey_err_prefix(d->err, "frame payload: entry '%s'", e->name);
        return APR_EINVAL;
    }
    d->key.len = 0;
    for (uint64_t i = 0; i < nrows; i++) {
        size_t klen, before = ptable_count(t);
        const uint8_t *k;
        ptable_row_t *row;
        apr_status_t rv = get_key(d, e, i, &k, &klen);
        if (rv != APR_SUCCESS)
            return rv;
        row = ptable_upsert(t, k, (uint32_t)klen, value_hash_bytes(k, klen));
        if (!row) {
            abbey_err_set(d->err,
                          "frame payload: entry '%s' row %llu: out of memory after %zu "
                          "rows",
                          e->name, (unsigned long long)i, before);
            return APR_ENOMEM;
        }
        if (ptable_count(t) == before) {
            abbey_err_set(d->err, "frame payload: entry '%s' row %llu repeats a key", e->name,
                          (unsigned long long)i);
            return APR_EINVAL;
        }
        if ((rv = get_states(d, e, t, row, i)) != APR_SUCCESS)
            return rv;
        if (e->top_k && ptable_top_get_row(t, row, &d->r, d->err) != 0) {
            abbey_err_prefix(d->err, "frame payload: entry '%s' row %llu", e->name,
                             (unsigned long long)i);
            return APR_EINVAL;
        }
    }
    return APR_SUCCESS;
}

static apr_status_t decode_entry(decoder_t *d, const rules_group_t *g)
{
    size_t n;
    const uint8_t *name = buf_get_str(&d->r, buf_reader_left(&d->r), &n);
    const rules_entry_t *e = NULL;
    char show[4 * FRAME_NAME_SHOWN + 4];
    uint64_t nv;

    if (!name)
        return bad(d, "entry name");
    for (int i = 0; i < g->nentries && !e; i++)
        if (name_eq(g->entries[i]->name, name, n))
            e = g->entries[i];
    if (!e) {
        abbey_err_set(d->err, "frame payload: entry '%s' is not in group '%s' of job '%s'",
                      shown(name, n, show), g->name, d->job->name);
        return APR_EINVAL;
    }
    ABBEY_ASSERT(e->index >= 0 && e->index < d->job->nentries && d->job->entries[e->index] == e);
    if (d->seen_entry[e->index]++) {
        abbey_err_set(d->err, "frame payload: entry '%s' appears twice", e->name);
        return APR_EINVAL;
    }
    nv = buf_get_varint(&d->r);
    if (buf_reader_failed(&d->r))
        return bad(d, "value count");
    /* a version 1 frame from before the hidden line count carries the values only */
    if (nv != (uint64_t)e->nspecs && (d->version >= 2 || nv != (uint64_t)e->nvalues)) {
        abbey_err_set(d->err,
                      "frame payload: entry '%s' has %llu values in the frame, %d in "
                      "job '%s'",
                      e->name, (unsigned long long)nv, e->nspecs, d->job->name);
        return APR_EINVAL;
    }
    d->nstates[e->index] = (int)nv;
    if (check_specs(d, e, (int)nv) != APR_SUCCESS)
        return APR_EINVAL;
    return decode_rows(d, e);
}

static apr_status_t decode_group(decoder_t *d)
{
    size_t n;
    const uint8_t *name = buf_get_str(&d->r, buf_reader_left(&d->r), &n);
    const rules_group_t *g = NULL;
    char show[4 * FRAME_NAME_SHOWN + 4];
    uint64_t ne;

    if (!name)
        return bad(d, "group name");
    for (int i = 0; i < d->job->ngroups && !g; i++)
        if (name_eq(d->job->groups[i].name, name, n))
            g = &d->job->groups[i];
    if (!g) {
        abbey_err_set(d->err, "frame payload: group '%s' is not in job '%s'", shown(name, n, show),
                      d->job->name);
        return APR_EINVAL;
    }
    if (d->seen_group[g->index]++) {
        abbey_err_set(d->err, "frame payload: group '%s' appears twice", g->name);
        return APR_EINVAL;
    }
    ne = buf_get_varint(&d->r);
    if (buf_reader_failed(&d->r))
        return bad(d, "entry count");
    if (ne > (uint64_t)g->nentries) {
        abbey_err_set(d->err,
                      "frame payload: group '%s' has %llu entries in the frame, %d in "
                      "job '%s'",
                      g->name, (unsigned long long)ne, g->nentries, d->job->name);
        return APR_EINVAL;
    }
    for (uint64_t i = 0; i < ne; i++)
        if (decode_entry(d, g) != APR_SUCCESS)
            return APR_EINVAL;
    return APR_SUCCESS;
}

static apr_status_t decode_groups(decoder_t *d)
{
    uint64_t ng = buf_get_varint(&d->r);
    if (buf_reader_failed(&d->r))
        return bad(d, "group count");
    if (ng > (uint64_t)d->job->ngroups) {
        abbey_err_set(d->err, "frame payload: %llu groups, job '%s' has %d", (unsigned long long)ng,
                      d->job->name, d->job->ngroups);
        return APR_EINVAL;
    }
    for (uint64_t i = 0; i < ng; i++)
        if (decode_group(d) != APR_SUCCESS)
            return APR_EINVAL;
    return APR_SUCCESS;
}

/* The folded keys of e's overflow row (a distinct state; never derived). */
static apr_status_t get_folded(decoder_t *d, const rules_entry_t *e, ptable_t *t)
{
    int from = -1;
    apr_status_t rv = d->version == 1
                          ? agg_decode(ptable_folded_spec(), ptable_folded_state(t), &d->r, d->err)
                          : agg_decode_dict(ptable_folded_spec(), ptable_folded_state(t), d->dict,
                                            &d->r, &from, d->err);
    ptable_heap_add(t, agg_heap_take());
    if (rv == APR_SUCCESS && from >= 0) {
        abbey_err_set(d->err, "derived from value %d", from);
        rv = APR_EINVAL;
    }
    if (rv != APR_SUCCESS)
        abbey_err_prefix(d->err, "frame payload: overflow row of entry '%s' folded keys", e->name);
    return rv;
}

/* One overflow row (frame.h): an entry of the frame, once, with all its states. */
static apr_status_t decode_overflow(decoder_t *d, uint8_t *seen)
{
    size_t n;
    const uint8_t *name = buf_get_str(&d->r, buf_reader_left(&d->r), &n);
    const rules_entry_t *e = NULL;
    char show[4 * FRAME_NAME_SHOWN + 4];
    ptable_t *t;
    ptable_row_t *row;
    apr_status_t rv;

    if (!name)
        return bad(d, "overflow row's entry name");
    for (int i = 0; i < d->job->nentries && !e; i++)
        if (name_eq(d->job->entries[i]->name, name, n))
            e = d->job->entries[i];
    if (!e || !d->seen_entry[e->index] || e->top_k || d->nstates[e->index] != e->nspecs) {
        abbey_err_set(d->err, "frame payload: overflow row of entry '%s', %s",
                      e ? e->name : shown(name, n, show),
                      !e                         ? "which is not in the job"
                      : !d->seen_entry[e->index] ? "which is not in the frame"
                      : e->top_k ? "which keeps a top-K summary (it evicts, it never folds)"
                                 : "whose rows carry no line counts");
        return APR_EINVAL;
    }
    if (seen[e->index]++) {
        abbey_err_set(d->err, "frame payload: entry '%s' has two overflow rows", e->name);
        return APR_EINVAL;
    }
    t = d->scratch->tables[e->index];
    if (!(row = ptable_overflow_make(t))) {
        abbey_err_set(d->err, "frame payload: entry '%s': out of memory for its overflow row",
                      e->name);
        return APR_ENOMEM;
    }
    if ((rv = get_states(d, e, t, row, OVERFLOW_ROW)) != APR_SUCCESS)
        return rv;
    return get_folded(d, e, t);
}

/* What follows the groups: the overflow rows, when some entry has one; then nothing. */
static apr_status_t decode_overflows(decoder_t *d)
{
    uint64_t n;
    uint8_t *seen;
    apr_status_t rv = APR_SUCCESS;

    if (!buf_reader_left(&d->r))
        return APR_SUCCESS;
    n = buf_get_varint(&d->r);
    if (buf_reader_failed(&d->r))
        return bad(d, "overflow row count");
    if (n == 0 || n > (uint64_t)d->job->nentries) {
        abbey_err_set(d->err, "frame payload: %llu overflow rows, job '%s' has %d entries",
                      (unsigned long long)n, d->job->name, d->job->nentries);
        return APR_EINVAL;
    }
    seen = mem_xcalloc((size_t)d->job->nentries + 1, 1);
    for (uint64_t i = 0; i < n && rv == APR_SUCCESS; i++)
        rv = decode_overflow(d, seen);
    free(seen);
    if (rv == APR_SUCCESS && buf_reader_left(&d->r)) {
        abbey_err_set(d->err, "frame payload: %zu unexpected bytes after the overflow rows",
                      buf_reader_left(&d->r));
        rv = APR_EINVAL;
    }
    return rv;
}

apr_status_t frame_payload_get(const uint8_t *raw, size_t n, int version, uint64_t budget,
                               const struct rules_job_t *job, partial_t *scratch, abbey_err_t *err)
{
    decoder_t d;
    apr_status_t rv = APR_SUCCESS;
    int nspecs = 1;

    /* scratch may be the caller's partial itself: nothing of the decoder's own is
     * allocated from its pool, and what its states' heap parts grow by from here on is
     * the frame's alone (a change nobody took before is not noted in scratch) */
    (void)agg_heap_take();
    memset(&d, 0, sizeof d);
    buf_reader_init(&d.r, raw, n);
    d.version = version;
    d.job = job;
    d.err = err;
    d.scratch = scratch;
    for (int i = 0; i < job->nentries; i++)
        if (job->entries[i]->nspecs > nspecs)
            nspecs = job->entries[i]->nspecs;
    d.seen_group = mem_xcalloc((size_t)job->ngroups + (size_t)job->nentries + 1, 1);
    d.seen_entry = d.seen_group + job->ngroups;
    d.nstates = mem_xcalloc((size_t)job->nentries + 1, sizeof *d.nstates);
    d.from = mem_xcalloc((size_t)nspecs, sizeof *d.from);
    if (version == 2) {
        buf_reserve(&d.key, 64); /* an empty key points somewhere too */
        if (!(d.dict = agg_dict_create())) {
            abbey_err_set(err, "frame payload: out of memory for the dictionary");
            rv = APR_ENOMEM;
        } else if ((rv = agg_dict_get(d.dict, &d.r, budget, err)) != APR_SUCCESS) {
            abbey_err_prefix(err, "frame payload");
        }
    }
    if (rv == APR_SUCCESS)
        rv = decode_groups(&d);
    if (rv == APR_SUCCESS)
        rv = decode_overflows(&d);
    agg_dict_destroy(d.dict);
    buf_free(&d.key);
    free(d.seen_group);
    free(d.nstates);
    free(d.from);
    return rv;
}
