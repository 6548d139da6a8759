/* frame_payload.c - a partial's payload inside a frame, in versions 1 and 2 (see frame.h and
 * frame_int.h).
 *
 * Both versions write the selected groups, their entries, each entry's value kinds and its
 * rows. Version 2 adds what makes frames small: the frame dictionary of set members first
 * (agg.h: every state's sets become indices into it), and the rows in the order of their
 * keys, each key written as the bytes it shares with the previous one and the rest.
 * Decoding trusts nothing: every count is bounded by the bytes left, names and kinds must
 * match the job, keys must be valid key columns (and, in version 2, strictly increasing,
 * out of the decoder's budget), and the rows go into a partial that frame.c merges into the
 * caller's only when the whole payload checked out (or, when the caller's is empty, the
 * caller's own, emptied again on failure). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frame_int.h"
#include "invariant.h"
#include "mem.h"
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
    for (int w = 0; w < e->nvalues && w < AGG_DERIVED_MAX; w++)
        if (w != v && agg_derives(&e->specs[v], row->state + ptable_offset(t, v), &e->specs[w],
                                  row->state + ptable_offset(t, w)))
            return w;
    return -1;
}

/* Version 2: rows in key order, each key as (shared with the previous, rest). */
static apr_status_t put_rows_v2(encoder_t *en, const rules_entry_t *e, const ptable_t *t)
{
    size_t n = ptable_count(t), cur = 0, k = 0;
    const ptable_row_t *row, *prev = NULL;

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
    for (size_t i = 0; i < n; prev = en->rows[i++]) {
        size_t same = 0;
        row = en->rows[i];
        while (prev && same < prev->klen && same < row->klen && prev->key[same] == row->key[same])
            same++;
        buf_put_varint(en->b, same);
        buf_put_str(en->b, row->key + same, row->klen - same);
        for (int v = 0; v < e->nvalues; v++) {
            int from = derived_from(e, t, row, v);
            if (from >= 0)
                agg_encode_derived(&e->specs[v], from, en->b);
            else if (agg_encode_dict(&e->specs[v], row->state + ptable_offset(t, v), en->dict,
                                     en->b) < 0)
                return no_memory(en, "set indices", e);
        }
    }
    return APR_SUCCESS;
}

static apr_status_t put_entry(encoder_t *en, const rules_entry_t *e, const ptable_t *t)
{
    size_t cur = 0;
    const ptable_row_t *row;
    buf_t *b = en->b;

    buf_put_str(b, e->name, strlen(e->name));
    buf_put_varint(b, (uint64_t)e->nvalues);
    for (int v = 0; v < e->nvalues; v++)
        put_spec(b, &e->specs[v]);
    buf_put_varint(b, ptable_count(t));
    if (en->version >= 2)
        return put_rows_v2(en, e, t);
    while ((row = ptable_next(t, &cur)) != NULL) {
        buf_put_str(b, row->key, row->klen);
        for (int v = 0; v < e->nvalues; v++)
            agg_encode(&e->specs[v], row->state + ptable_offset(t, v), b);
    }
    return APR_SUCCESS;
}

/* Version 2: count every set member (and the key bytes) of the selected entries, then
 * write the dictionary. */
static apr_status_t put_dict(encoder_t *en, const partial_t *p, const uint8_t *groups)
{
    const rules_job_t *job = p->job;
    for (int i = 0; i < job->nentries; i++) {
        const rules_entry_t *e = job->entries[i];
        const ptable_t *t = p->tables[i];
        const ptable_row_t *row;
        size_t cur = 0;
        if (groups && !groups[e->group->index])
            continue;
        while ((row = ptable_next(t, &cur)) != NULL) {
            agg_dict_count_weight(en->dict, key_units(row->klen));
            for (int v = 0; v < e->nvalues; v++)
                if (agg_dict_count(en->dict, &e->specs[v], row->state + ptable_offset(t, v)) < 0)
                    return no_memory(en, "dictionary", e);
        }
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
    return APR_SUCCESS;
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
    int *from;           /* version 2: per value of a row, what it is derived from */
    agg_dict_t *dict;    /* version 2 */
    buf_t key;           /* version 2: the row's key, built on the previous one */
    abbey_err_t *err;
} decoder_t;

static const char *value_name(const rules_entry_t *e, int v, char tmp[16])
{
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

static apr_status_t check_specs(decoder_t *d, const rules_entry_t *e)
{
    char tmp[16];
    for (int v = 0; v < e->nvalues; v++) {
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

/* Version 2: the states of row written as derived from another value (from[v] >= 0),
 * now that the row's other states are decoded. */
static apr_status_t derive_row(decoder_t *d, const rules_entry_t *e, ptable_t *t, ptable_row_t *row,
                               const int *from, uint64_t i)
{
    char tmp[16];
    for (int v = 0; v < e->nvalues; v++) {
        int w = from[v];
        apr_status_t rv;
        if (w < 0)
            continue;
        if (w >= e->nvalues || w == v || from[w] >= 0) {
            abbey_err_set(d->err,
                          "frame payload: entry '%s' row %llu value '%s' is derived from "
                          "value %d, which is %s",
                          e->name, (unsigned long long)i, value_name(e, v, tmp), w,
                          w >= e->nvalues ? "not in the entry" : "itself derived");
            return APR_EINVAL;
        }
        rv = agg_derive(&e->specs[v], row->state + ptable_offset(t, v), &e->specs[w],
                        row->state + ptable_offset(t, w), d->dict, d->err);
        if (rv != APR_SUCCESS) {
            abbey_err_prefix(d->err, "frame payload: entry '%s' row %llu value '%s'", e->name,
                             (unsigned long long)i, value_name(e, v, tmp));
            return rv;
        }
    }
    return APR_SUCCESS;
}

static apr_status_t decode_rows(decoder_t *d, const rules_entry_t *e)
{
    ptable_t *t = d->scratch->tables[e->index];
    uint64_t nrows = buf_get_varint(&d->r);
    int *from = d->from;
    char tmp[16];

    if (buf_reader_failed(&d->r))
        return bad(d, "row count");
    if (nrows > buf_reader_left(&d->r)) {
        abbey_err_set(d->err, "frame payload: entry '%s' claims %llu rows in %zu bytes", e->name,
                      (unsigned long long)nrows, buf_reader_left(&d->r));
        return APR_EINVAL;
    }
    d->key.len = 0;
    for (uint64_t i = 0; i < nrows; i++) {
        size_t klen, before = ptable_count(t);
        const uint8_t *k;
        ptable_row_t *row;
        if (d->version == 1) {
            k = buf_get_str(&d->r, buf_reader_left(&d->r), &klen);
            if (!k)
                return bad(d, "row key");
        } else {
            apr_status_t rv = get_key_v2(d, e, i);
            if (rv != APR_SUCCESS)
                return rv;
            k = d->key.data;
            klen = d->key.len;
        }
        if (!key_ok(k, klen, e->nkeys)) {
            abbey_err_set(d->err,
                          "frame payload: entry '%s' row %llu: key is not %d valid "
                          "key columns",
                          e->name, (unsigned long long)i, e->nkeys);
            return APR_EINVAL;
        }
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
        for (int v = 0; v < e->nvalues; v++) {
            void *state = row->state + ptable_offset(t, v);
            apr_status_t rv = d->version == 1 ? agg_decode(&e->specs[v], state, &d->r, d->err)
                                              : agg_decode_dict(&e->specs[v], state, d->dict, &d->r,
                                                                &from[v], d->err);
            if (rv != APR_SUCCESS) {
                abbey_err_prefix(d->err, "frame payload: entry '%s' row %llu value '%s'", e->name,
                                 (unsigned long long)i, value_name(e, v, tmp));
                return rv;
            }
        }
        if (d->version >= 2) {
            apr_status_t rv = derive_row(d, e, t, row, from, i);
            if (rv != APR_SUCCESS)
                return rv;
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
    if (nv != (uint64_t)e->nvalues) {
        abbey_err_set(d->err,
                      "frame payload: entry '%s' has %llu values in the frame, %d in "
                      "job '%s'",
                      e->name, (unsigned long long)nv, e->nvalues, d->job->name);
        return APR_EINVAL;
    }
    if (check_specs(d, e) != APR_SUCCESS)
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
    if (buf_reader_left(&d->r)) {
        abbey_err_set(d->err, "frame payload: %zu unexpected bytes after the last group",
                      buf_reader_left(&d->r));
        return APR_EINVAL;
    }
    return APR_SUCCESS;
}
apr_status_t frame_payload_get(const uint8_t *raw, size_t n, int version, uint64_t budget,
                               const struct rules_job_t *job, partial_t *scratch, abbey_err_t *err)
{
    decoder_t d;
    apr_status_t rv = APR_SUCCESS;
    int nvalues = 1;

    /* scratch may be the caller's partial itself: nothing of the decoder's own is
     * allocated from its pool */
    memset(&d, 0, sizeof d);
    buf_reader_init(&d.r, raw, n);
    d.version = version;
    d.job = job;
    d.err = err;
    d.scratch = scratch;
    for (int i = 0; i < job->nentries; i++)
        if (job->entries[i]->nvalues > nvalues)
            nvalues = job->entries[i]->nvalues;
    d.seen_group = mem_xcalloc((size_t)job->ngroups + (size_t)job->nentries + 1, 1);
    d.seen_entry = d.seen_group + job->ngroups;
    d.from = mem_xcalloc((size_t)nvalues, sizeof *d.from);
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
    agg_dict_destroy(d.dict);
    buf_free(&d.key);
    free(d.seen_group);
    free(d.from);
    return rv;
}
