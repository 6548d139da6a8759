/* check_frame_forged.c - unit tests for frames the codec (rules/frame.c) must refuse
 * although their CRC is right: frames assembled by hand around raw header and payload bytes
 * (bad lengths, versions, flags, zlib streams, fields, names, ranges and payload
 * structures), a CRC mismatch's reason, the optional regex_limit_hits header field, the
 * optional bad lines by reason after it (names, older frames, corrupt lists), and a
 * partial with a failed entry that no frame may carry. The job, its lines and the
 * destination partial are tests/fixture_frame.h; the oracle is the bytes and reason each
 * test forged: every such frame is refused with that reason (APR_EINVAL) and leaves the
 * destination partial's fingerprint unchanged. */
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

#define FIXTURE_SUITE "check_frame_forged"
#include "fixture_frame.h"

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
    buf_put_u8(out, o->version ? o->version : 1); /* the payloads below are version 1's */
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
    struct {
        pay_t p;
        const char *reason;
    } cases[] = {
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
        {{.trailing = 1}, "0 overflow rows, job 'web' has 3 entries"},
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
    expect_einval(&f, "frame: header length 70000 exceeds 32768");
    fo = (forge_t){.version = FRAME_VERSION + 1};
    forge(&f, &hdr, &raw, &fo);
    expect_einval(&f, "version 3 is not supported (expected 1 to 2)");
    fo = (forge_t){.version = 0xff};
    forge(&f, &hdr, &raw, &fo);
    expect_einval(&f, "version 255");
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
    buf_put_u8(&hdr, 0); /* no bad-line reasons, the same */
    buf_put_u8(&hdr, 0); /* where a range list would start: one of no range */
    forge(&f, &hdr, &raw, &fo);
    expect_einval(&f, "malformed range list");
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
    header_init(&h, p);
    memset(h.bad_by, 0, sizeof h.bad_by); /* no reasons: they would need the counter */
    ck_assert_int_eq(frame_encode(&h, p, NULL, &a, &err), APR_SUCCESS);
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

/* The bad lines by reason after regex_limit_hits: names, not numbers; a name
 * this build lacks and the lines no reason covers count as "unknown"; more
 * than bad_lines, a name twice, too many or cut-off reasons are corrupt. */
START_TEST(test_reasons_header)
{
    partial_t *q = partial_create(&J.job, pool);
    frame_header_t got;
    abbey_err_t err;
    buf_t hdr, raw, f;
    forge_t fo = {0};

    buf_init(&hdr);
    buf_init(&raw);
    buf_init(&f);
    forge_payload(&raw, &(pay_t){0});
#define REASONS(n)                                                                                 \
    (forge_header(&hdr, "web", "src", 0), hdr.data[41] = 5, /* bad_lines 5 */                      \
     buf_put_varint(&hdr, 0), buf_put_varint(&hdr, (n)))
#define REASON(name, count) (buf_put_str(&hdr, name, strlen(name)), buf_put_varint(&hdr, count))
    REASONS(3);
    REASON("quote", 2);
    REASON("value", 1);
    REASON("a_reason_from_a_newer_build", 1);
    forge(&f, &hdr, &raw, &fo);
    ck_assert_int_eq(frame_decode(f.data, f.len, &J.job, &got, q, NULL, &err), APR_SUCCESS);
    ck_assert_uint_eq(got.bad_lines, 5);
    ck_assert_uint_eq(got.bad_by[FORMAT_BAD_QUOTE], 2);
    ck_assert_uint_eq(got.bad_by[PARTIAL_BAD_VALUE], 1);
    ck_assert_uint_eq(got.bad_by[PARTIAL_BAD_UNKNOWN], 2); /* the stranger and one unsaid */
    ck_assert_uint_eq(q->bad_lines, 5);
    ck_assert_uint_eq(q->bad_by[FORMAT_BAD_QUOTE], 2);
    ck_assert_uint_eq(q->bad_by[PARTIAL_BAD_UNKNOWN], 2);
    /* a frame from before reasons: all unknown */
    forge_header(&hdr, "web", "src", 0);
    forge(&f, &hdr, &raw, &fo);
    ck_assert_int_eq(frame_peek(f.data, f.len, &got, NULL, &err), APR_SUCCESS);
    ck_assert_uint_eq(got.bad_by[PARTIAL_BAD_UNKNOWN], 1);
    into_init();
    REASONS(2);
    REASON("quote", 3);
    REASON("time", 3);
    forge(&f, &hdr, &raw, &fo);
    expect_einval(&f, "add up to more than the 5 bad lines");
    REASONS(2);
    REASON("quote", 1);
    REASON("quote", 1);
    forge(&f, &hdr, &raw, &fo);
    expect_einval(&f, "reason 'quote' appears twice");
    REASONS(PARTIAL_REASONS_MAX + 1);
    forge(&f, &hdr, &raw, &fo);
    expect_einval(&f, "malformed count of bad-line reasons");
    REASONS(2);
    REASON("quote", 1);
    buf_put_varint(&hdr, 40); /* a name longer than the header has left */
    forge(&f, &hdr, &raw, &fo);
    expect_einval(&f, "bad-line reason 2 is truncated or malformed");
    REASONS(1);
    REASON("quote", 1);
    buf_put_u8(&hdr, 0); /* after the reasons, a range list of no range */
    forge(&f, &hdr, &raw, &fo);
    expect_einval(&f, "malformed range list");
    into_done();
#undef REASONS
#undef REASON
    buf_free(&hdr);
    buf_free(&raw);
    buf_free(&f);
}
END_TEST

/* The encoder writes reasons only when some are not 0 (the old layout
 * otherwise), after a regex_limit_hits of 0. */
START_TEST(test_reasons_encoded)
{
    partial_t *p = partial_create(&J.job, pool), *q = partial_create(&J.job, pool);
    frame_header_t h, got;
    abbey_err_t err;
    buf_t a, b;
    uint32_t ha, hb;

    buf_init(&a);
    buf_init(&b);
    feed(p, 0, 50); /* 5 bad lines: quote 2, time 2, value 1 */
    encode_ok(p, NULL, &h, &b);
    memset(h.bad_by, 0, sizeof h.bad_by);
    ck_assert_int_eq(frame_encode(&h, p, NULL, &a, &err), APR_SUCCESS);
    ha = (uint32_t)a.data[8] | (uint32_t)a.data[9] << 8;
    hb = (uint32_t)b.data[8] | (uint32_t)b.data[9] << 8;
    /* hits 0, count 3, then quote/2, time/2, value/1 */
    ck_assert_uint_eq(hb, ha + 2 + (1 + 5 + 1) + (1 + 4 + 1) + (1 + 5 + 1));
    ck_assert_int_eq(memcmp(a.data + FRAME_FIXED, b.data + FRAME_FIXED, ha), 0);
    ck_assert_int_eq(b.data[FRAME_FIXED + ha], 0);
    ck_assert_int_eq(b.data[FRAME_FIXED + ha + 1], 3);
    ck_assert_int_eq(memcmp(b.data + FRAME_FIXED + ha + 2, "\x05quote\x02", 7), 0);
    ck_assert_int_eq(frame_decode(b.data, b.len, &J.job, &got, q, NULL, &err), APR_SUCCESS);
    ck_assert_uint_eq(q->bad_by[FORMAT_BAD_QUOTE], 2);
    ck_assert_uint_eq(q->bad_by[FORMAT_BAD_TIME], 2);
    ck_assert_uint_eq(q->bad_by[PARTIAL_BAD_VALUE], 1);
    ck_assert_uint_eq(q->bad_by[PARTIAL_BAD_UNKNOWN], 0);
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

static Suite *frame_forged_suite(void)
{
    Suite *s = suite_create("frame_forged");
    TCase *tc = tcase_create("damaged");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_crc_reason);
    tcase_add_test(tc, test_forged_payloads);
    tcase_add_test(tc, test_forged_frames);
    tcase_add_test(tc, test_regex_limit_hits_header);
    tcase_add_test(tc, test_reasons_header);
    tcase_add_test(tc, test_reasons_encoded);
    tcase_add_test(tc, test_failed_entry_not_encoded);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    int failed;
    apr_initialize();
    failed = check_run(frame_forged_suite());
    apr_terminate();
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
