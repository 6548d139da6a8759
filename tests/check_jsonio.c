/* check_jsonio.c - unit tests for common/jsonio.c: uint64 values without loss, compact
 * JSON into a buffer, parsing an object, and the field reader that keeps the first
 * problem with where it was.
 *
 * Expected texts and values are written out by hand (the decimal forms of INT64_MAX and
 * UINT64_MAX, the compact JSON a document must give), never computed with the code under
 * test. */
#include <apr_general.h>
#include <apr_strings.h>
#include <check.h>
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check_run.h"
#include "jsonio.h"

static apr_pool_t *pool;

static void setup(void)
{
    apr_initialize();
    apr_pool_create(&pool, NULL);
}

static void teardown(void)
{
    apr_pool_destroy(pool);
    apr_terminate();
}

/* v's compact JSON as a NUL-terminated string in pool; v is released. */
static const char *dumped(json_t *v)
{
    buf_t b;
    char *s;

    buf_init(&b);
    ck_assert_int_eq(jsonio_dump_buf(v, &b), 0);
    s = apr_pstrmemdup(pool, (const char *)b.data, b.len);
    buf_free(&b);
    json_decref(v);
    return s;
}

static json_t *parsed(const char *text)
{
    abbey_err_t err;
    json_t *o = jsonio_parse_object(text, strlen(text), &err);
    ck_assert_msg(o != NULL, "%s: %s", text, err.msg);
    return o;
}

START_TEST(u64_without_loss)
{
    static const struct {
        uint64_t v;
        const char *text;
    } cases[] = {
        {0, "[0]"},
        {1, "[1]"},
        {9223372036854775807ull, "[9223372036854775807]"},
        {9223372036854775808ull, "[\"9223372036854775808\"]"},
        {18446744073709551615ull, "[\"18446744073709551615\"]"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        json_t *a = json_array();
        uint64_t back = 7;
        json_array_append_new(a, jsonio_u64(cases[i].v));
        ck_assert_ptr_nonnull(json_array_get(a, 0));
        ck_assert_int_eq(jsonio_u64_value(json_array_get(a, 0), &back), 0);
        ck_assert_uint_eq(back, cases[i].v);
        ck_assert_str_eq(dumped(a), cases[i].text);
    }
}
END_TEST

START_TEST(u64_refused)
{
    /* each item of this array is not a uint64 */
    json_t *a = json_loads("[-1, \"-1\", \"\", \"12a\", \" 1\", \"+1\", \"18446744073709551616\", "
                           "1.5, null, true, [1], {\"v\": 1}]",
                           0, NULL);
    uint64_t v = 42;

    ck_assert_ptr_nonnull(a);
    for (size_t i = 0; i < json_array_size(a); i++) {
        ck_assert_msg(jsonio_u64_value(json_array_get(a, i), &v) == -1, "item %zu taken", i);
        ck_assert_uint_eq(v, 42);
    }
    ck_assert_int_eq(jsonio_u64_value(NULL, &v), -1);
    json_decref(a);
}
END_TEST

START_TEST(dump_and_parse)
{
    abbey_err_t err;
    buf_t b;

    ck_assert_str_eq(dumped(json_pack("{s:i, s:[s, b], s:n}", "a", 1, "b", "x", 1, "c")),
                     "{\"a\":1,\"b\":[\"x\",true],\"c\":null}");
    buf_init(&b);
    ck_assert_int_eq(jsonio_dump_buf(NULL, &b), -1);
    buf_free(&b);

    ck_assert_ptr_null(jsonio_parse_object("{\"a\":", 5, &err));
    ck_assert_msg(strstr(err.msg, "malformed JSON at line 1") != NULL, "%s", err.msg);
    ck_assert_ptr_null(jsonio_parse_object("[1]", 3, &err));
    ck_assert_str_eq(err.msg, "not a JSON object");
    /* the length bounds the text: no NUL needed */
    json_t *o = jsonio_parse_object("{\"a\":2}garbage", 7, &err);
    ck_assert_ptr_nonnull(o);
    json_decref(o);
}
END_TEST

START_TEST(push_put_remember_failures)
{
    json_t *a = json_array(), *o = json_object();
    int bad = 0;

    jsonio_push(a, json_integer(1), &bad);
    jsonio_put(o, "k", json_string("v"), &bad);
    ck_assert_int_eq(bad, 0);
    jsonio_push(a, json_string("\xff not UTF-8"), &bad); /* json_string refuses it: NULL */
    ck_assert_int_eq(bad, 1);
    bad = 0;
    jsonio_put(o, "k2", NULL, &bad);
    ck_assert_int_eq(bad, 1);
    ck_assert_str_eq(dumped(a), "[1]");
    ck_assert_str_eq(dumped(o), "{\"k\":\"v\"}");
}
END_TEST

/* The first problem is kept, with where it was; later problems do not replace it. */
START_TEST(reader_keeps_first_problem)
{
    json_t *o = parsed("{\"a\": \"x\", \"b\": -3, \"c\": 5}");
    jsonio_rd_t r;

    jsonio_rd_init(&r);
    jsonio_where(&r, "checkpoint m-7.ckpt: job '%s'", "web");
    ck_assert_int_eq(jsonio_get_i64(&r, o, "c"), 5);
    ck_assert_int_eq(r.failed, 0);
    ck_assert_int_eq(jsonio_get_i64(&r, o, "a"), 0);
    ck_assert_int_eq(jsonio_get_u64(&r, o, "b"), 0);
    ck_assert_int_eq(jsonio_get_i64(&r, o, "nope"), 0);
    ck_assert_int_eq(r.failed, 1);
    ck_assert_str_eq(r.err.msg, "checkpoint m-7.ckpt: job 'web': field 'a' must be an integer");

    /* without a where the message starts with the field */
    jsonio_rd_init(&r);
    ck_assert_int_eq(jsonio_get_i64(&r, o, "nope"), 0);
    ck_assert_str_eq(r.err.msg, "field 'nope' is missing");
    jsonio_fail(&r, "c", "is wrong too");
    ck_assert_str_eq(r.err.msg, "field 'nope' is missing");
    json_decref(o);
}
END_TEST

/* Each getter: its value, its absent value, its bounds, and the field named. */
static void expect_problem(jsonio_rd_t *r, const char *want)
{
    ck_assert_int_eq(r->failed, 1);
    ck_assert_str_eq(r->err.msg, want);
    jsonio_rd_init(r);
}

START_TEST(getters)
{
    json_t *o = parsed("{\"n\": 3, \"neg\": -2, \"big\": \"18446744073709551615\", \"t\": true,"
                       " \"s\": \"abc\", \"empty\": \"\", \"z\": null,"
                       " \"arr\": [1], \"obj\": {}, \"labels\": [\"x\", \"yz\"],"
                       " \"holes\": [\"x\", \"\"], \"mixed\": [\"x\", 2]}");
    const char **strs;
    jsonio_rd_t r;

    /* a parsed document never holds a NUL (jansson refuses \u0000), a built one may */
    json_object_set_new(o, "nul", json_stringn("a\0b", 3));
    jsonio_rd_init(&r);
    ck_assert_int_eq(jsonio_get_int(&r, o, "n", 1, 0), 3);
    ck_assert_int_eq(jsonio_get_int(&r, o, "absent", 0, 0), -1);
    ck_assert_uint_eq(jsonio_get_u64(&r, o, "big"), 18446744073709551615ull);
    ck_assert_int_eq(jsonio_get_bool(&r, o, "t", 1), 1);
    ck_assert_int_eq(jsonio_get_bool(&r, o, "absent", 0), -1);
    ck_assert_str_eq(jsonio_get_str(&r, o, "s", 1, 3), "abc");
    ck_assert_ptr_null(jsonio_get_str(&r, o, "absent", 0, 3));
    ck_assert_str_eq(jsonio_get_str(&r, o, "empty", 1, SIZE_MAX), "");
    ck_assert_ptr_nonnull(jsonio_get_arr(&r, o, "arr"));
    ck_assert_ptr_nonnull(jsonio_get_obj(&r, o, "obj", 1));
    ck_assert_ptr_null(jsonio_get_obj(&r, o, "absent", 0));
    ck_assert_int_eq(jsonio_get_strs(&r, o, "labels", 1, 2, 2, pool, &strs), 2);
    ck_assert_str_eq(strs[0], "x");
    ck_assert_str_eq(strs[1], "yz");
    ck_assert_int_eq(jsonio_get_strs(&r, o, "absent", 0, 2, 2, pool, &strs), -1);
    ck_assert_ptr_null(strs);
    ck_assert_uint_eq(jsonio_item_u64(&r, json_array_get(jsonio_get_arr(&r, o, "arr"), 0), "arr"),
                      1);
    ck_assert_int_eq(r.failed, 0);

    ck_assert_int_eq(jsonio_get_int(&r, o, "neg", 1, 0), -1);
    expect_problem(&r, "field 'neg' must be an integer >= 0");
    ck_assert_int_eq(jsonio_get_int(&r, o, "absent", 1, 0), -1);
    expect_problem(&r, "field 'absent' is missing");
    ck_assert_uint_eq(jsonio_get_u64(&r, o, "neg"), 0);
    expect_problem(&r, "field 'neg' must be an unsigned 64-bit integer");
    ck_assert_int_eq(jsonio_get_bool(&r, o, "n", 0), 0);
    expect_problem(&r, "field 'n' must be true or false");
    ck_assert_ptr_null(jsonio_get_str(&r, o, "z", 0, 3)); /* null is present, not a string */
    expect_problem(&r, "field 'z' must be a string");
    ck_assert_ptr_null(jsonio_get_str(&r, o, "s", 1, 2));
    expect_problem(&r, "field 's' is longer than 2 bytes");
    ck_assert_ptr_null(jsonio_get_str(&r, o, "nul", 1, SIZE_MAX));
    expect_problem(&r, "field 'nul' contains a NUL character");
    ck_assert_ptr_null(jsonio_get_arr(&r, o, "obj"));
    expect_problem(&r, "field 'obj' must be an array");
    ck_assert_ptr_null(jsonio_get_obj(&r, o, "arr", 0));
    expect_problem(&r, "field 'arr' must be an object");
    ck_assert_int_eq(jsonio_get_strs(&r, o, "labels", 1, 2, 1, pool, &strs), -1);
    expect_problem(&r, "field 'labels' has more than 1 items");
    ck_assert_int_eq(jsonio_get_strs(&r, o, "labels", 1, 1, 2, pool, &strs), -1);
    expect_problem(&r, "field 'labels' item 1 must be a non-empty string of at most 1 bytes");
    ck_assert_int_eq(jsonio_get_strs(&r, o, "holes", 1, 9, 9, pool, &strs), -1);
    expect_problem(&r, "field 'holes' item 1 must be a non-empty string of at most 9 bytes");
    ck_assert_int_eq(jsonio_get_strs(&r, o, "mixed", 1, 9, 9, pool, &strs), -1);
    expect_problem(&r, "field 'mixed' item 1 must be a non-empty string of at most 9 bytes");
    ck_assert_int_eq(jsonio_get_strs(&r, o, "s", 1, 9, 9, pool, &strs), -1);
    expect_problem(&r, "field 's' must be an array of strings");
    ck_assert_uint_eq(jsonio_item_u64(&r, NULL, "ranges"), 0);
    expect_problem(&r, "field 'ranges' is missing");
    json_decref(o);
}
END_TEST

/* A where longer than its room is cut, never overrun. */
START_TEST(long_where_is_cut)
{
    char name[600];
    jsonio_rd_t r;

    memset(name, 'x', sizeof name - 1);
    name[sizeof name - 1] = 0;
    jsonio_rd_init(&r);
    jsonio_where(&r, "job '%s'", name);
    ck_assert_uint_eq(strlen(r.where), sizeof r.where - 1);
    jsonio_fail(&r, "k", "is bad");
    ck_assert_int_eq(r.failed, 1);
    ck_assert_uint_lt(strlen(r.err.msg), sizeof r.err.msg);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("jsonio");
    TCase *tc = tcase_create("jsonio");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, u64_without_loss);
    tcase_add_test(tc, u64_refused);
    tcase_add_test(tc, dump_and_parse);
    tcase_add_test(tc, push_put_remember_failures);
    tcase_add_test(tc, reader_keeps_first_problem);
    tcase_add_test(tc, getters);
    tcase_add_test(tc, long_where_is_cut);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return check_run(suite()) ? 1 : 0;
}
