/* fixture_frame.h - the shared fixture of the frame codec suites (tests/check_frame.c,
 * tests/check_frame_forged.c): a hand-built job J (two groups, every aggregate kind, keys
 * of ints, strings, NULL and TIME) fed synthetic lines (feed: a tenth of them bad, of three
 * reasons), a partial's fingerprint (its counters, bad lines by reason and rows as sorted
 * text: the suites' notion of "equal"), a frame header and encoder, and the
 * destination partial every failure test decodes into, which a refused frame must leave
 * unchanged.
 *
 * Each suite compiles its own copy (everything here is static); it defines FIXTURE_SUITE
 * (its name) before including this header. */
#ifndef ABBEY_TESTS_FIXTURE_FRAME_H
#define ABBEY_TESTS_FIXTURE_FRAME_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>

#include "frame.h"
#include "rules.h"
#include "value.h"

#ifndef FIXTURE_SUITE
#error "define FIXTURE_SUITE (the suite's name) before including fixture_frame.h"
#endif

static apr_pool_t *pool;

/* ---- the job ------------------------------------------------------------ */

enum { E_STATUS, E_PAGES, E_TOTAL, NENT };

typedef struct tjob_t {
    rules_job_t job;
    rules_group_t groups[2];
    rules_entry_t ent[NENT];
    rules_entry_t *eptr[NENT];
    rules_value_t values[NENT][4];
    agg_spec_t specs[NENT][4];
} tjob_t;

static tjob_t J;

static inline void set_value(rules_entry_t *e, int v, const char *name, agg_kind_t k, double pct,
                             uint32_t cap)
{
    e->values[v].name = name;
    e->values[v].spec = (agg_spec_t){.kind = k, .pct = pct, .cap = cap};
    e->specs[v] = e->values[v].spec;
}

static inline void tjob_init(tjob_t *j)
{
    static const char *names[NENT] = {"by_status", "pages", "total"};
    static const int nkeys[NENT] = {1, 3, 0}, nvalues[NENT] = {4, 4, 2};
    rules_entry_t *e = j->ent;

    memset(j, 0, sizeof *j);
    for (int i = 0; i < NENT; i++) {
        j->eptr[i] = &e[i];
        e[i].name = names[i];
        e[i].index = i;
        e[i].nkeys = nkeys[i];
        e[i].nvalues = e[i].nspecs = nvalues[i];
        e[i].lines_spec = i == E_PAGES ? -1 : 0; /* the count, or none (max_keys 0: no limit) */
        e[i].values = j->values[i];
        e[i].specs = j->specs[i];
        e[i].group = &j->groups[i == E_TOTAL];
    }
    set_value(&e[E_STATUS], 0, "hits", AGG_COUNT, 0, 0);
    set_value(&e[E_STATUS], 1, "bytes", AGG_SUM, 0, 0);
    set_value(&e[E_STATUS], 2, "min_ms", AGG_MIN, 0, 0);
    set_value(&e[E_STATUS], 3, "max_ms", AGG_MAX, 0, 0);
    set_value(&e[E_PAGES], 0, "avg_bytes", AGG_AVG, 0, 0);
    set_value(&e[E_PAGES], 1, "visitors", AGG_DISTINCT, 0, 0);
    set_value(&e[E_PAGES], 2, "users", AGG_DISTINCT_EXACT, 0, 50);
    set_value(&e[E_PAGES], 3, "p95", AGG_PERCENTILE, 95, 0);
    set_value(&e[E_TOTAL], 0, "hits", AGG_COUNT, 0, 0);
    set_value(&e[E_TOTAL], 1, "p50", AGG_PERCENTILE, 50, 0);
    j->groups[0] = (rules_group_t){
        .name = "traffic", .index = 0, .weight = 3, .nentries = 2, .entries = j->eptr};
    j->groups[1] = (rules_group_t){
        .name = "clients", .index = 1, .weight = 1, .nentries = 1, .entries = j->eptr + 2};
    j->job = (rules_job_t){
        .name = "web", .ngroups = 2, .groups = j->groups, .nentries = NENT, .entries = j->eptr};
}

static inline void setup(void)
{
    ck_assert_int_eq(apr_pool_create(&pool, NULL), APR_SUCCESS);
    tjob_init(&J);
}

static inline void teardown(void)
{
    apr_pool_destroy(pool);
}

static inline void put_int(buf_t *b, int kind, int64_t i)
{
    value_t v = {.kind = (uint8_t)kind, .i = i};
    value_key_put(b, &v);
}

static inline void put_s(buf_t *b, const char *s, size_t n)
{
    value_t v = {.kind = VALUE_STR, .s = s, .len = (uint32_t)n};
    value_key_put(b, &v);
}

static inline void update(partial_t *p, int e, const buf_t *key, const value_t *vals)
{
    ptable_t *t = p->tables[e];
    ptable_row_t *row =
        ptable_upsert(t, key->data, (uint32_t)key->len, value_hash_bytes(key->data, key->len));
    for (int v = 0; v < J.ent[e].nvalues; v++)
        agg_update(&J.specs[e][v], row->state + ptable_offset(t, v),
                   J.specs[e][v].kind == AGG_COUNT ? NULL : &vals[v]);
    ptable_heap_add(t, agg_heap_take()); /* as the engine does (ptable.h) */
}

/* Lines first..first+n: every entry of the job gets every line. */
static inline void feed(partial_t *p, long first, long n)
{
    static const int codes[5] = {200, 200, 404, 500, -1};
    char path[32], ip[32], user[32];
    buf_t k;

    buf_init(&k);
    for (long i = first; i < first + n; i++) {
        int code = codes[i % 5];
        int64_t bytes = (i * 7919) % 100000 - 50, ms = (i * 13) % 997;
        value_t vs[4], vp[4], vt[2];
        size_t plen =
            (size_t)snprintf(path, sizeof path, "/p/%ld%s", i % 37, i % 11 ? "" : "\n\x01");
        int iplen = snprintf(ip, sizeof ip, "10.0.%ld", i % 300);
        int ulen = snprintf(user, sizeof user, "u%ld", i % 80);

        buf_reset(&k);
        put_int(&k, code < 0 ? VALUE_NULL : VALUE_INT, code);
        vs[1] = (value_t){.kind = VALUE_INT, .i = bytes};
        vs[2] = vs[3] = (value_t){.kind = VALUE_INT, .i = ms};
        update(p, E_STATUS, &k, vs);

        buf_reset(&k);
        put_s(&k, path, plen);
        put_int(&k, VALUE_TIME, 1431857100 + (i % 13) * 60);
        put_int(&k, code < 0 ? VALUE_NULL : VALUE_INT, code);
        vp[0] = (value_t){.kind = i % 9 ? VALUE_FLOAT : VALUE_NULL, .f = (double)bytes / 3};
        vp[1] = (value_t){.kind = VALUE_STR, .s = ip, .len = (uint32_t)iplen};
        vp[2] = (value_t){.kind = VALUE_STR, .s = user, .len = (uint32_t)ulen};
        vp[3] = (value_t){.kind = VALUE_INT, .i = bytes};
        update(p, E_PAGES, &k, vp);

        buf_reset(&k);
        vt[1] = (value_t){.kind = VALUE_INT, .i = ms};
        update(p, E_TOTAL, &k, vt);
    }
    p->lines += (uint64_t)n;
    for (long i = 0; i < n / 10; i++) /* bad lines of three reasons */
        partial_bad(p, i % 3 == 0   ? FORMAT_BAD_QUOTE
                       : i % 3 == 1 ? FORMAT_BAD_TIME
                                    : PARTIAL_BAD_VALUE);
    p->bytes += (uint64_t)n * 120;
    buf_free(&k);
}

/* ---- fingerprints: a partial as sorted text, the test's notion of "equal" --- */

static inline int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static inline void table_text(const ptable_t *t, buf_t *out)
{
    size_t n = ptable_count(t), cur = 0, i = 0;
    char **rows = calloc(n + 1, sizeof *rows);
    ptable_row_t *row;
    buf_t b;

    buf_init(&b);
    while ((row = ptable_next(t, &cur)) != NULL) {
        buf_reset(&b);
        for (uint32_t j = 0; j < row->klen; j++)
            buf_printf(&b, "%02x", row->key[j]);
        for (int v = 0; v < ptable_nspecs(t); v++) {
            agg_result_t res;
            agg_result(&ptable_specs(t)[v], row->state + ptable_offset(t, v), &res);
            buf_printf(&b, "|%s/%u", res.text, res.flags);
        }
        buf_put_u8(&b, 0);
        rows[i++] = strdup((char *)b.data);
    }
    ck_assert_uint_eq(i, n);
    qsort(rows, n, sizeof *rows, cmp_str);
    for (i = 0; i < n; i++) {
        buf_printf(out, "%s\n", rows[i]);
        free(rows[i]);
    }
    free(rows);
    buf_free(&b);
}

/* Caller frees the result. */
static inline char *fingerprint(const partial_t *p)
{
    buf_t out;
    buf_init(&out);
    buf_printf(&out, "lines %llu bad %llu bytes %llu\n", (unsigned long long)p->lines,
               (unsigned long long)p->bad_lines, (unsigned long long)p->bytes);
    for (int r = 0; r < PARTIAL_BAD_N; r++)
        if (p->bad_by[r])
            buf_printf(&out, "bad %s %llu\n", partial_reason_name(r),
                       (unsigned long long)p->bad_by[r]);
    for (int e = 0; e < NENT; e++) {
        buf_printf(&out, "[%s]\n", J.ent[e].name);
        table_text(p->tables[e], &out);
    }
    buf_put_u8(&out, 0);
    return (char *)out.data;
}

static inline void header_init(frame_header_t *h, const partial_t *p)
{
    memset(h, 0, sizeof *h);
    h->config_hash = 0x0123456789abcdefull;
    h->round = 42;
    h->lease = 7;
    h->start = 1000;
    h->end = 1000 + p->bytes;
    frame_header_counts(h, p);
    strcpy(h->job, "web");
    strcpy(h->source, "/var/log/nginx/access.log#ino=1234");
    strcpy(h->slave, "slave-1");
    strcpy(h->master, "m1");
}

static inline void encode_ok(const partial_t *p, const uint8_t *groups, frame_header_t *h,
                             buf_t *out)
{
    abbey_err_t err;
    header_init(h, p);
    ck_assert_int_eq(frame_encode(h, p, groups, out, &err), APR_SUCCESS);
}

/* ---- damaged frames ----------------------------------------------------- */

/* The destination all failure tests decode into, and its fingerprint. */
static partial_t *into;
static char *into_fp;

static inline void into_init(void)
{
    partial_t *seed;
    frame_header_t h;
    buf_t out;
    abbey_err_t err;

    seed = partial_create(&J.job, pool);
    feed(seed, 7, 20);
    buf_init(&out);
    encode_ok(seed, NULL, &h, &out);
    into = partial_create(&J.job, pool);
    ck_assert_int_eq(frame_decode(out.data, out.len, &J.job, NULL, into, NULL, &err), APR_SUCCESS);
    into_fp = fingerprint(into);
    buf_free(&out);
}

static inline void into_done(void)
{
    free(into_fp);
}

static inline void assert_into_unchanged(void)
{
    char *fp = fingerprint(into);
    ck_assert_str_eq(fp, into_fp);
    free(fp);
}

/* Decode must fail with a reason; returns the status. */
static inline apr_status_t decode_fails(const uint8_t *b, size_t len)
{
    abbey_err_t err;
    size_t flen = 12345;
    apr_status_t rv;
    err.msg[0] = '\0';
    rv = frame_decode(b, len, &J.job, NULL, into, &flen, &err);
    ck_assert_int_ne(rv, APR_SUCCESS);
    ck_assert_uint_eq(flen, 12345);
    ck_assert_uint_gt(strlen(err.msg), 0);
    return rv;
}

#endif
