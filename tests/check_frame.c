/* check_frame.c - unit tests for the frame codec (rules/frame.c).
 *
 * A hand-built job (two groups, every aggregate kind, keys of ints, strings,
 * NULL and TIME) is fed synthetic lines; frames must round-trip to the same
 * agg_result text for every row, and every malformed frame (truncated,
 * bit-flipped, or hand-built with a valid CRC around a bad structure) must be
 * refused with a reason while leaving the destination partial unchanged. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include <apr_general.h>

#include "check_run.h"
#include "frame.h"
#include "rules.h"
#include "value.h"

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

static void set_value(rules_entry_t *e, int v, const char *name, agg_kind_t k, double pct,
                      uint32_t cap)
{
    e->values[v].name = name;
    e->values[v].spec = (agg_spec_t){.kind = k, .pct = pct, .cap = cap};
    e->specs[v] = e->values[v].spec;
}

static void tjob_init(tjob_t *j)
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
        e[i].nvalues = nvalues[i];
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
    j->groups[0] = (rules_group_t){.name = "traffic", .index = 0, .weight = 3, .nentries = 2,
                                   .entries = j->eptr};
    j->groups[1] = (rules_group_t){.name = "clients", .index = 1, .weight = 1, .nentries = 1,
                                   .entries = j->eptr + 2};
    j->job = (rules_job_t){.name = "web", .ngroups = 2, .groups = j->groups,
                           .nentries = NENT, .entries = j->eptr};
}

static void setup(void)
{
    ck_assert_int_eq(apr_pool_create(&pool, NULL), APR_SUCCESS);
    tjob_init(&J);
}

static void teardown(void)
{
    apr_pool_destroy(pool);
}

static void put_int(buf_t *b, int kind, int64_t i)
{
    value_t v = {.kind = (uint8_t)kind, .i = i};
    value_key_put(b, &v);
}

static void put_s(buf_t *b, const char *s, size_t n)
{
    value_t v = {.kind = VALUE_STR, .s = s, .len = (uint32_t)n};
    value_key_put(b, &v);
}

static void update(partial_t *p, int e, const buf_t *key, const value_t *vals)
{
    ptable_t *t = p->tables[e];
    ptable_row_t *row = ptable_upsert(t, key->data, (uint32_t)key->len,
                                      value_hash_bytes(key->data, key->len));
    for (int v = 0; v < J.ent[e].nvalues; v++)
        agg_update(&J.specs[e][v], row->state + ptable_offset(t, v),
                   J.specs[e][v].kind == AGG_COUNT ? NULL : &vals[v]);
}

/* Lines first..first+n: every entry of the job gets every line. */
static void feed(partial_t *p, long first, long n)
{
    static const int codes[5] = {200, 200, 404, 500, -1};
    char path[32], ip[32], user[32];
    buf_t k;

    buf_init(&k);
    for (long i = first; i < first + n; i++) {
        int code = codes[i % 5];
        int64_t bytes = (i * 7919) % 100000 - 50, ms = (i * 13) % 997;
        value_t vs[4], vp[4], vt[2];
        size_t plen = (size_t)snprintf(path, sizeof path, "/p/%ld%s", i % 37, i % 11 ? "" : "\n\x01");
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
    p->bad_lines += (uint64_t)n / 10;
    p->bytes += (uint64_t)n * 120;
    buf_free(&k);
}

/* ---- fingerprints: a partial as sorted text, the test's notion of "equal" --- */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void table_text(const ptable_t *t, buf_t *out)
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
static char *fingerprint(const partial_t *p)
{
    buf_t out;
    buf_init(&out);
    buf_printf(&out, "lines %llu bad %llu bytes %llu\n", (unsigned long long)p->lines,
               (unsigned long long)p->bad_lines, (unsigned long long)p->bytes);
    for (int e = 0; e < NENT; e++) {
        buf_printf(&out, "[%s]\n", J.ent[e].name);
        table_text(p->tables[e], &out);
    }
    buf_put_u8(&out, 0);
    return (char *)out.data;
}

static void header_init(frame_header_t *h, const partial_t *p)
{
    memset(h, 0, sizeof *h);
    h->config_hash = 0x0123456789abcdefull;
    h->round = 42;
    h->lease = 7;
    h->start = 1000;
    h->end = 1000 + p->bytes;
    h->lines = p->lines;
    h->bad_lines = p->bad_lines;
    h->bytes = p->bytes;
    strcpy(h->job, "web");
    strcpy(h->source, "/var/log/nginx/access.log#ino=1234");
    strcpy(h->slave, "slave-1");
    strcpy(h->master, "m1");
}

static void encode_ok(const partial_t *p, const uint8_t *groups, frame_header_t *h, buf_t *out)
{
    abbey_err_t err;
    header_init(h, p);
    ck_assert_int_eq(frame_encode(h, p, groups, out, &err), APR_SUCCESS);
}

/* ---- round trips -------------------------------------------------------- */

START_TEST(test_round_trip)
{
    partial_t *p, *q, *twice;
    frame_header_t h, got;
    buf_t out;
    size_t flen = 0;
    abbey_err_t err;
    char *fp, *fq;

    p = partial_create(&J.job, pool);
    feed(p, 0, 3000);
    ck_assert_uint_gt(ptable_count(p->tables[E_PAGES]), 400);
    buf_init(&out);
    encode_ok(p, NULL, &h, &out);
    q = partial_create(&J.job, pool);
    ck_assert_int_eq(frame_decode(out.data, out.len, &J.job, &got, q, &flen, &err), APR_SUCCESS);
    ck_assert_uint_eq(flen, out.len);
    ck_assert_uint_eq(got.config_hash, h.config_hash);
    ck_assert_uint_eq(got.round, 42);
    ck_assert_uint_eq(got.lease, 7);
    ck_assert_uint_eq(got.start, 1000);
    ck_assert_uint_eq(got.end, h.end);
    ck_assert_uint_eq(got.lines, 3000);
    ck_assert_uint_eq(got.bad_lines, 300);
    ck_assert_uint_eq(got.bytes, 360000);
    ck_assert_str_eq(got.job, "web");
    ck_assert_str_eq(got.source, h.source);
    ck_assert_str_eq(got.slave, "slave-1");
    ck_assert_str_eq(got.master, "m1");
    fp = fingerprint(p);
    fq = fingerprint(q);
    ck_assert_str_eq(fq, fp);
    free(fq);
    /* a second decode merges on top: equal to p merged with itself */
    ck_assert_int_eq(frame_decode(out.data, out.len, &J.job, NULL, q, NULL, &err), APR_SUCCESS);
    twice = partial_create(&J.job, pool);
    ck_assert_int_eq(partial_merge(twice, p, NULL), APR_SUCCESS);
    ck_assert_int_eq(partial_merge(twice, p, NULL), APR_SUCCESS);
    free(fp);
    fp = fingerprint(twice);
    fq = fingerprint(q);
    ck_assert_str_eq(fq, fp);
    ck_assert_uint_eq(q->lines, 6000);
    free(fp);
    free(fq);
    buf_free(&out);
}
END_TEST

START_TEST(test_group_selection)
{
    static const uint8_t only_traffic[2] = {1, 0}, only_clients[2] = {0, 1}, none[2] = {0, 0};
    partial_t *p = partial_create(&J.job, pool), *q;
    frame_header_t h;
    buf_t out, a, b;
    abbey_err_t err;

    feed(p, 0, 500);
    buf_init(&out);
    buf_init(&a);
    buf_init(&b);
    encode_ok(p, only_traffic, &h, &out);
    q = partial_create(&J.job, pool);
    ck_assert_int_eq(frame_decode(out.data, out.len, &J.job, NULL, q, NULL, &err), APR_SUCCESS);
    for (int e = 0; e < NENT; e++) {
        buf_reset(&a);
        buf_reset(&b);
        table_text(p->tables[e], &a);
        table_text(q->tables[e], &b);
        if (e == E_TOTAL) {
            ck_assert_uint_eq(ptable_count(q->tables[e]), 0);
        } else {
            ck_assert_uint_eq(a.len, b.len);
            ck_assert(memcmp(a.data, b.data, a.len) == 0);
        }
    }
    partial_clear(q);
    buf_reset(&out);
    encode_ok(p, only_clients, &h, &out);
    ck_assert_int_eq(frame_decode(out.data, out.len, &J.job, NULL, q, NULL, &err), APR_SUCCESS);
    ck_assert_uint_eq(ptable_count(q->tables[E_STATUS]) + ptable_count(q->tables[E_PAGES]), 0);
    ck_assert_uint_eq(ptable_count(q->tables[E_TOTAL]), 1);
    /* empty frame: no rows, but the line counters arrive */
    partial_clear(q);
    buf_reset(&out);
    encode_ok(p, none, &h, &out);
    ck_assert_int_eq(frame_decode(out.data, out.len, &J.job, NULL, q, NULL, &err), APR_SUCCESS);
    for (int e = 0; e < NENT; e++)
        ck_assert_uint_eq(ptable_count(q->tables[e]), 0);
    ck_assert_uint_eq(q->lines, 500);
    ck_assert_uint_eq(q->bad_lines, 50);
    ck_assert_uint_eq(q->bytes, 60000);
    buf_free(&out);
    buf_free(&a);
    buf_free(&b);
}
END_TEST

START_TEST(test_concatenated_and_resync)
{
    partial_t *p1 = partial_create(&J.job, pool), *p2, *q;
    frame_header_t h1, h2, got;
    buf_t all, f1, f2;
    size_t flen, off1, off2, pos;
    abbey_err_t err;

    p2 = partial_create(&J.job, pool);
    q = partial_create(&J.job, pool);
    feed(p1, 0, 100);
    feed(p2, 100, 50);
    buf_init(&all);
    buf_init(&f1);
    buf_init(&f2);
    encode_ok(p1, NULL, &h1, &f1);
    encode_ok(p2, NULL, &h2, &f2);
    /* back to back */
    buf_put(&all, f1.data, f1.len);
    buf_put(&all, f2.data, f2.len);
    ck_assert_int_eq(frame_decode(all.data, all.len, &J.job, &got, q, &flen, &err), APR_SUCCESS);
    ck_assert_uint_eq(flen, f1.len);
    ck_assert_uint_eq(got.lines, 100);
    ck_assert_int_eq(frame_decode(all.data + flen, all.len - flen, &J.job, &got, q, &flen, &err),
                     APR_SUCCESS);
    ck_assert_uint_eq(flen, f2.len);
    ck_assert_uint_eq(got.lines, 50);
    ck_assert_uint_eq(q->lines, 150);
    /* garbage, a look-alike, frame 1 (corrupted), junk, frame 2 */
    buf_reset(&all);
    buf_put(&all, "garbage ABB ABBx", 16);
    off1 = all.len;
    buf_put(&all, f1.data, f1.len);
    all.data[off1 + f1.len / 2] ^= 0x40;
    buf_put(&all, "junk", 4);
    off2 = all.len;
    buf_put(&all, f2.data, f2.len);
    ck_assert_uint_eq(frame_resync(all.data, all.len, 0), off1);
    ck_assert_uint_eq(frame_resync(all.data, all.len, off1), off1);
    ck_assert_int_eq(frame_decode(all.data + off1, all.len - off1, &J.job, NULL, q, NULL, &err),
                     APR_EINVAL);
    pos = frame_resync(all.data, all.len, off1 + 1);
    ck_assert_uint_eq(pos, off2);
    ck_assert_int_eq(frame_decode(all.data + pos, all.len - pos, &J.job, NULL, q, &flen, &err),
                     APR_SUCCESS);
    ck_assert_uint_eq(pos + flen, all.len);
    ck_assert_uint_eq(frame_resync(all.data, all.len, off2 + 1), all.len);
    ck_assert_uint_eq(frame_resync(all.data, all.len, all.len + 5), all.len);
    ck_assert_uint_eq(frame_resync((const uint8_t *)"ABBF", 4, 0), 0);
    ck_assert_uint_eq(frame_resync((const uint8_t *)"xABB", 4, 0), 4);
    buf_free(&all);
    buf_free(&f1);
    buf_free(&f2);
}
END_TEST

START_TEST(test_header_string_limits)
{
    partial_t *p = partial_create(&J.job, pool);
    frame_header_t h, got;
    buf_t out;
    abbey_err_t err;
    size_t flen;
    struct { char *field; size_t max; const char *what; } f[4];

    buf_init(&out);
    header_init(&h, p);
    f[0].field = h.job, f[0].max = FRAME_NAME_MAX, f[0].what = "job";
    f[1].field = h.source, f[1].max = FRAME_SOURCE_MAX, f[1].what = "source";
    f[2].field = h.slave, f[2].max = FRAME_NAME_MAX, f[2].what = "slave";
    f[3].field = h.master, f[3].max = FRAME_NAME_MAX, f[3].what = "master";
    for (int i = 0; i < 4; i++) {
        memset(f[i].field, 'a' + i, f[i].max - 1);
        f[i].field[f[i].max - 1] = '\0';
    }
    ck_assert_int_eq(frame_encode(&h, p, NULL, &out, &err), APR_SUCCESS);
    ck_assert_int_eq(frame_peek(out.data, out.len, &got, &flen, &err), APR_SUCCESS);
    ck_assert_uint_eq(flen, out.len);
    ck_assert_str_eq(got.job, h.job);
    ck_assert_str_eq(got.source, h.source);
    ck_assert_str_eq(got.slave, h.slave);
    ck_assert_str_eq(got.master, h.master);
    ck_assert_uint_eq(strlen(got.source), FRAME_SOURCE_MAX - 1);
    for (int i = 0; i < 4; i++) {
        size_t before = out.len;
        f[i].field[f[i].max - 1] = 'z'; /* one past: no room for the NUL */
        ck_assert_int_eq(frame_encode(&h, p, NULL, &out, &err), APR_EINVAL);
        ck_assert_ptr_nonnull(strstr(err.msg, f[i].what));
        ck_assert_uint_eq(out.len, before);
        f[i].field[f[i].max - 1] = '\0';
    }
    buf_free(&out);
}
END_TEST

/* ---- damaged frames ----------------------------------------------------- */

/* The destination all failure tests decode into, and its fingerprint. */
static partial_t *into;
static char *into_fp;

static void into_init(void)
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

static void into_done(void)
{
    free(into_fp);
}

static void assert_into_unchanged(void)
{
    char *fp = fingerprint(into);
    ck_assert_str_eq(fp, into_fp);
    free(fp);
}

/* Decode must fail with a reason; returns the status. */
static apr_status_t decode_fails(const uint8_t *b, size_t len)
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

static void check_truncations(const buf_t *f, int check_into_every)
{
    for (size_t n = 0; n < f->len; n++) {
        abbey_err_t err;
        frame_header_t h;
        size_t flen;
        ck_assert_int_eq(decode_fails(f->data, n), APR_INCOMPLETE);
        ck_assert_int_eq(frame_peek(f->data, n, &h, &flen, &err), APR_INCOMPLETE);
        if (n % (size_t)check_into_every == 0)
            assert_into_unchanged();
    }
    assert_into_unchanged();
}

START_TEST(test_truncations)
{
    partial_t *small, *big;
    frame_header_t h;
    buf_t fs, fb;

    into_init();
    small = partial_create(&J.job, pool);
    big = partial_create(&J.job, pool);
    feed(small, 0, 3);
    feed(big, 0, 2000);
    buf_init(&fs);
    buf_init(&fb);
    encode_ok(small, NULL, &h, &fs);
    encode_ok(big, NULL, &h, &fb);
    check_truncations(&fs, 1);
    check_truncations(&fb, 997);
    buf_free(&fs);
    buf_free(&fb);
    into_done();
}
END_TEST

static void check_flips(buf_t *f, size_t step)
{
    static const uint8_t masks[3] = {0x01, 0x80, 0xff};
    for (size_t i = 0; i < f->len; i += step)
        for (int m = 0; m < 3; m++) {
            f->data[i] ^= masks[m];
            decode_fails(f->data, f->len);
            f->data[i] ^= masks[m];
            assert_into_unchanged();
        }
    assert_into_unchanged();
}

START_TEST(test_byte_flips)
{
    partial_t *small, *big;
    frame_header_t h;
    buf_t fs, fb;
    abbey_err_t err;

    into_init();
    small = partial_create(&J.job, pool);
    big = partial_create(&J.job, pool);
    feed(small, 0, 4);
    feed(big, 0, 3000);
    buf_init(&fs);
    buf_init(&fb);
    encode_ok(small, NULL, &h, &fs);
    encode_ok(big, NULL, &h, &fb);
    check_flips(&fs, 1);
    check_flips(&fb, fb.len / 300 + 1);
    /* the frames are intact again */
    ck_assert_int_eq(frame_decode(fs.data, fs.len, &J.job, NULL, into, NULL, &err), APR_SUCCESS);
    ck_assert_int_eq(frame_decode(fb.data, fb.len, &J.job, NULL, into, NULL, &err), APR_SUCCESS);
    buf_free(&fs);
    buf_free(&fb);
    into_done();
}
END_TEST

/* A frame assembled by hand around raw header and payload bytes, with a
 * correct CRC; the overrides (when nonzero) replace H, Z, U as written. */
typedef struct forge_t {
    uint8_t version, flags;
    uint32_t h, z, u;
    const uint8_t *extra_z; /* bytes appended after the zlib stream */
    size_t nextra;
} forge_t;

static void forge(buf_t *out, const buf_t *hdr, const buf_t *raw, const forge_t *o)
{
    uLongf zlen = compressBound((uLong)raw->len);
    uint8_t *z = malloc(zlen + o->nextra);
    ck_assert_int_eq(compress2(z, &zlen, raw->data, (uLong)raw->len, 6), Z_OK);
    if (o->nextra)
        memcpy(z + zlen, o->extra_z, o->nextra);
    zlen += o->nextra;
    buf_reset(out);
    buf_put(out, "ABBF", 4);
    buf_put_u8(out, o->version ? o->version : FRAME_VERSION);
    buf_put_u8(out, o->flags);
    buf_put_u8(out, 0);
    buf_put_u8(out, 0);
    buf_put_u32(out, o->h ? o->h : (uint32_t)hdr->len);
    buf_put_u32(out, o->z ? o->z : (uint32_t)zlen);
    buf_put_u32(out, o->u ? o->u : (uint32_t)raw->len);
    buf_put(out, hdr->data, hdr->len);
    buf_put(out, z, zlen);
    buf_put_u32(out, (uint32_t)crc32(0L, out->data, (uInt)out->len));
    free(z);
}

static void forge_header(buf_t *b, const char *job, const char *source, uint64_t start)
{
    buf_reset(b);
    for (int i = 0; i < 3; i++)
        buf_put_u64(b, (uint64_t)i + 1);
    buf_put_u64(b, start);
    buf_put_u64(b, 100);
    buf_put_varint(b, 10);
    buf_put_varint(b, 1);
    buf_put_varint(b, 1000);
    buf_put_str(b, job, strlen(job));
    buf_put_str(b, source, strlen(source));
    buf_put_str(b, "s1", 2);
    buf_put_str(b, "m1", 2);
}

/* Payload: group "clients", entry "total" (count, percentile 50), rows with the
 * given key bytes and real states. Parameters let cases break one thing. */
typedef struct pay_t {
    const char *group, *entry;
    uint64_t ngroups, nentries, nvalues, nrows;
    uint8_t kind0;
    double pct;
    int nkeys_bad, dup_key, short_state, trailing, repeat_group;
} pay_t;

static void forge_payload(buf_t *b, const pay_t *o)
{
    agg_spec_t *s = J.specs[E_TOTAL];
    uint64_t cnt[8], dd[64];
    buf_t st;

    agg_init(&s[0], cnt);
    agg_update(&s[0], cnt, NULL);
    ck_assert_uint_le(agg_state_size(&s[1]), sizeof dd);
    agg_init(&s[1], dd);
    agg_update(&s[1], dd, &(value_t){.kind = VALUE_INT, .i = 17});
    buf_init(&st);
    buf_reset(b);
    buf_put_varint(b, o->ngroups ? o->ngroups : 1);
    for (int g = 0; g < 1 + o->repeat_group; g++) {
        buf_put_str(b, o->group ? o->group : "clients", strlen(o->group ? o->group : "clients"));
        buf_put_varint(b, o->nentries ? o->nentries : 1);
        buf_put_str(b, o->entry ? o->entry : "total", strlen(o->entry ? o->entry : "total"));
        buf_put_varint(b, o->nvalues ? o->nvalues : 2);
        buf_put_u8(b, o->kind0);
        buf_put_u8(b, AGG_PERCENTILE);
        buf_put_f64(b, o->pct ? o->pct : 50);
        buf_put_varint(b, o->nrows ? o->nrows : 1 + (uint64_t)o->dup_key);
        for (int r = 0; r < 1 + o->dup_key; r++) {
            if (o->nkeys_bad)
                buf_put_str(b, "\x02", 1); /* one key column where the entry has none */
            else
                buf_put_str(b, "", 0);
            buf_reset(&st);
            agg_encode(&s[0], cnt, &st);
            buf_put(b, st.data, o->short_state ? st.len - 1 : st.len);
            if (!o->short_state)
                agg_encode(&s[1], dd, b);
        }
    }
    if (o->trailing)
        buf_put_u8(b, 0);
    agg_release(&s[0], cnt);
    agg_release(&s[1], dd);
    buf_free(&st);
}

static void expect_einval(const buf_t *f, const char *reason)
{
    abbey_err_t err;
    err.msg[0] = '\0';
    ck_assert_int_eq(frame_decode(f->data, f->len, &J.job, NULL, into, NULL, &err), APR_EINVAL);
    if (!strstr(err.msg, reason))
        ck_abort_msg("expected '%s' in the error, got '%s'", reason, err.msg);
    assert_into_unchanged();
}

START_TEST(test_forged_payloads)
{
    buf_t hdr, raw, f;
    forge_t fo = {0};
    abbey_err_t err;
    partial_t *ok;
    struct { pay_t p; const char *reason; } cases[] = {
        {{.group = "nope"}, "frame payload: group 'nope' is not in job 'web'"},
        {{.group = "cli\x01"}, "group 'cli\\x01' is not in job"},
        {{.entry = "nope"}, "entry 'nope' is not in group 'clients'"},
        {{.entry = "pages"}, "entry 'pages' is not in group 'clients'"},
        {{.kind0 = AGG_SUM}, "value 'hits' is sum in the frame, count in job 'web'"},
        {{.kind0 = 200}, "unknown kind"},
        {{.pct = 90}, "has percentile 90 in the frame, 50 in job"},
        {{.nvalues = 3}, "has 3 values in the frame, 2 in job"},
        {{.ngroups = 3}, "3 groups, job 'web' has 2"},
        {{.ngroups = 2, .repeat_group = 1}, "group 'clients' appears twice"},
        {{.nentries = 2}, "group 'clients' has 2 entries in the frame, 1 in job"},
        {{.nrows = 1ull << 40}, "claims 1099511627776 rows"},
        {{.nrows = 2}, "row key is truncated"},
        {{.dup_key = 1}, "row 1 repeats a key"},
        {{.nkeys_bad = 1}, "key is not 0 valid key columns"},
        {{.short_state = 1}, "entry 'total' row 0 value 'hits'"},
        {{.trailing = 1}, "1 unexpected bytes after the last group"},
    };

    into_init();
    buf_init(&hdr);
    buf_init(&raw);
    buf_init(&f);
    forge_header(&hdr, "web", "src", 0);
    /* the unbroken forgery decodes: the cases below each break one thing */
    forge_payload(&raw, &(pay_t){0});
    forge(&f, &hdr, &raw, &fo);
    ok = partial_create(&J.job, pool);
    ck_assert_int_eq(frame_decode(f.data, f.len, &J.job, NULL, ok, NULL, &err), APR_SUCCESS);
    ck_assert_uint_eq(ptable_count(ok->tables[E_TOTAL]), 1);
    ck_assert_uint_eq(ok->lines, 10);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        forge_payload(&raw, &cases[i].p);
        forge(&f, &hdr, &raw, &fo);
        expect_einval(&f, cases[i].reason);
    }
    /* the payload's own lengths: a group name running past the end */
    buf_reset(&raw);
    buf_put_varint(&raw, 1);
    buf_put_varint(&raw, 500);
    buf_put(&raw, "clients", 7);
    forge(&f, &hdr, &raw, &fo);
    expect_einval(&f, "group name is truncated");
    buf_free(&hdr);
    buf_free(&raw);
    buf_free(&f);
    into_done();
}
END_TEST

START_TEST(test_forged_frames)
{
    static const uint8_t junk[3] = {1, 2, 3};
    buf_t hdr, raw, f;
    forge_t fo;

    into_init();
    buf_init(&hdr);
    buf_init(&raw);
    buf_init(&f);
    forge_payload(&raw, &(pay_t){0});
    forge_header(&hdr, "web", "src", 0);
    fo = (forge_t){.u = (uint32_t)raw.len + 1};
    forge(&f, &hdr, &raw, &fo);
    expect_einval(&f, "header says");
    fo = (forge_t){.u = (uint32_t)raw.len - 1};
    forge(&f, &hdr, &raw, &fo);
    expect_einval(&f, "inflates to more than");
    fo = (forge_t){.extra_z = junk, .nextra = 3};
    forge(&f, &hdr, &raw, &fo);
    expect_einval(&f, "3 bytes after the end of the zlib stream");
    fo = (forge_t){.h = 70000};
    forge(&f, &hdr, &raw, &fo);
    expect_einval(&f, "frame: header length 70000 exceeds 4096");
    fo = (forge_t){.version = 2};
    forge(&f, &hdr, &raw, &fo);
    expect_einval(&f, "version 2");
    fo = (forge_t){.flags = 1};
    forge(&f, &hdr, &raw, &fo);
    expect_einval(&f, "flags");
    fo = (forge_t){.z = FRAME_MAX_PAYLOAD + 1};
    forge(&f, &hdr, &raw, &fo);
    expect_einval(&f, "payload length 67108865 exceeds");
    fo = (forge_t){.u = FRAME_MAX_RAW};
    forge(&f, &hdr, &raw, &fo);
    expect_einval(&f, "uncompressed length 268435456 is impossible");
    /* H pointing past the end of the buffer: a torn frame, not a success */
    fo = (forge_t){.h = 4000};
    forge(&f, &hdr, &raw, &fo);
    ck_assert_int_eq(decode_fails(f.data, f.len), APR_INCOMPLETE);
    /* H shorter than the header: the CRC still matches, the structure does not */
    fo = (forge_t){.h = (uint32_t)hdr.len - 2};
    forge(&f, &hdr, &raw, &fo);
    decode_fails(f.data, f.len);
    assert_into_unchanged();
    fo = (forge_t){0};
    buf_put_u8(&hdr, 0); /* regex_limit_hits 0, written although it need not be */
    buf_put_u8(&hdr, 0);
    forge(&f, &hdr, &raw, &fo);
    expect_einval(&f, "1 unexpected bytes after the fields");
    forge_header(&hdr, "other", "src", 0);
    forge(&f, &hdr, &raw, &fo);
    expect_einval(&f, "job 'other' is not job 'web'");
    forge_header(&hdr, "web", "src", 101);
    forge(&f, &hdr, &raw, &fo);
    expect_einval(&f, "range start 101 is after its end 100");
    forge_header(&hdr, "web", "src", 0);
    hdr.len -= 8; /* drop "s1", "m1" and the source's bytes: its length runs past the end */
    forge(&f, &hdr, &raw, &fo);
    expect_einval(&f, "name is truncated");
    /* a payload that is not zlib at all */
    forge_header(&hdr, "web", "src", 0);
    forge(&f, &hdr, &raw, &fo);
    memset(f.data + FRAME_FIXED + hdr.len, 0x55, 4);
    f.len -= 4;
    buf_put_u32(&f, (uint32_t)crc32(0L, f.data, (uInt)f.len));
    expect_einval(&f, "zlib");
    buf_free(&hdr);
    buf_free(&raw);
    buf_free(&f);
    into_done();
}
END_TEST

/* regex_limit_hits rides after the header strings only when it is not 0: a
 * header without it (every frame written before it existed, forged here
 * field by field) decodes with 0; with it, the count reaches the header and
 * the partial; a malformed one is refused. */
START_TEST(test_regex_limit_hits_header)
{
    partial_t *p = partial_create(&J.job, pool), *q = partial_create(&J.job, pool);
    frame_header_t h, got;
    buf_t hdr, raw, f, a, b;
    forge_t fo = {0};
    abbey_err_t err;
    uint32_t ha, hb;

    buf_init(&hdr);
    buf_init(&raw);
    buf_init(&f);
    buf_init(&a);
    buf_init(&b);
    forge_payload(&raw, &(pay_t){0});
    forge_header(&hdr, "web", "src", 0);
    forge(&f, &hdr, &raw, &fo);
    ck_assert_int_eq(frame_decode(f.data, f.len, &J.job, &got, q, NULL, &err), APR_SUCCESS);
    ck_assert_uint_eq(got.regex_limit_hits, 0);
    ck_assert_uint_eq(q->regex_limit_hits, 0);
    ck_assert_uint_eq(q->lines, 10);
    buf_put_varint(&hdr, 300);
    forge(&f, &hdr, &raw, &fo);
    ck_assert_int_eq(frame_decode(f.data, f.len, &J.job, &got, q, NULL, &err), APR_SUCCESS);
    ck_assert_uint_eq(got.regex_limit_hits, 300);
    ck_assert_uint_eq(q->regex_limit_hits, 300);
    forge_header(&hdr, "web", "src", 0);
    buf_put_u8(&hdr, 0x80); /* a varint that never ends */
    forge(&f, &hdr, &raw, &fo);
    into_init();
    expect_einval(&f, "malformed regex_limit_hits");
    into_done();
    /* the encoder: no counter when 0 (the old layout), one varint when not */
    feed(p, 0, 50);
    encode_ok(p, NULL, &h, &a);
    h.regex_limit_hits = 5;
    ck_assert_int_eq(frame_encode(&h, p, NULL, &b, &err), APR_SUCCESS);
    ha = (uint32_t)a.data[8] | (uint32_t)a.data[9] << 8;
    hb = (uint32_t)b.data[8] | (uint32_t)b.data[9] << 8;
    ck_assert_uint_eq(hb, ha + 1);
    ck_assert_int_eq(memcmp(a.data + FRAME_FIXED, b.data + FRAME_FIXED, ha), 0);
    ck_assert_uint_eq(b.data[FRAME_FIXED + ha], 5);
    ck_assert_int_eq(frame_peek(a.data, a.len, &got, NULL, &err), APR_SUCCESS);
    ck_assert_uint_eq(got.regex_limit_hits, 0);
    ck_assert_int_eq(frame_peek(b.data, b.len, &got, NULL, &err), APR_SUCCESS);
    ck_assert_uint_eq(got.regex_limit_hits, 5);
    buf_free(&hdr);
    buf_free(&raw);
    buf_free(&f);
    buf_free(&a);
    buf_free(&b);
}
END_TEST

/* A partial whose entry ran out of memory (partial_fail) is incomplete: no
 * frame carries it, unless that entry's group is not selected. */
START_TEST(test_failed_entry_not_encoded)
{
    static const uint8_t other[2] = {0, 1};
    partial_t *p = partial_create(&J.job, pool);
    frame_header_t h;
    buf_t out;
    abbey_err_t err;

    feed(p, 0, 50);
    partial_fail(p, 0, NULL);
    buf_init(&out);
    header_init(&h, p);
    ck_assert_int_eq(frame_encode(&h, p, NULL, &out, &err), APR_EINVAL);
    ck_assert_msg(strstr(err.msg, "ran out of memory: the partial is incomplete") != NULL, "%s",
                  err.msg);
    ck_assert_uint_eq(out.len, 0);
    ck_assert_int_eq(J.job.entries[0]->group->index, 0);
    ck_assert_int_eq(frame_encode(&h, p, other, &out, &err), APR_SUCCESS);
    buf_free(&out);
}
END_TEST

START_TEST(test_crc_reason)
{
    partial_t *p = partial_create(&J.job, pool);
    frame_header_t h;
    buf_t f;
    abbey_err_t err;
    char want[80];
    uint32_t stored;

    into_init();
    feed(p, 0, 10);
    buf_init(&f);
    encode_ok(p, NULL, &h, &f);
    stored = (uint32_t)f.data[f.len - 4] | (uint32_t)f.data[f.len - 3] << 8 |
             (uint32_t)f.data[f.len - 2] << 16 | (uint32_t)f.data[f.len - 1] << 24;
    f.data[FRAME_FIXED + 3] ^= 1;
    snprintf(want, sizeof want, "frame: CRC mismatch (stored 0x%08x, computed 0x%08x)", stored,
             (uint32_t)crc32(0L, f.data, (uInt)f.len - 4));
    ck_assert_int_eq(frame_peek(f.data, f.len, &h, NULL, &err), APR_EINVAL);
    ck_assert_str_eq(err.msg, want);
    expect_einval(&f, want);
    buf_free(&f);
    into_done();
}
END_TEST

static Suite *frame_suite(void)
{
    Suite *s = suite_create("frame");
    TCase *tc = tcase_create("round_trip");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_round_trip);
    tcase_add_test(tc, test_group_selection);
    tcase_add_test(tc, test_concatenated_and_resync);
    tcase_add_test(tc, test_header_string_limits);
    suite_add_tcase(s, tc);
    tc = tcase_create("damaged");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_truncations);
    tcase_add_test(tc, test_byte_flips);
    tcase_add_test(tc, test_crc_reason);
    tcase_add_test(tc, test_forged_payloads);
    tcase_add_test(tc, test_forged_frames);
    tcase_add_test(tc, test_regex_limit_hits_header);
    tcase_add_test(tc, test_failed_entry_not_encoded);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    int failed;
    apr_initialize();
    failed = check_run(frame_suite());
    apr_terminate();
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
