/* check_expr_paths.c - unit tests for field names that are member paths (rules/expr_lex.c):
 * an identifier glued to ".name", ".`text`" or "[digits]" parts is one field token
 * (request.method, tags[0], a.b[2].c), a backquoted name (`@timestamp`, `a b`) is a field
 * whatever its bytes, keywords never take parts (so `x in[1,2]` still lexes as a list), and
 * a space ends a name. Then the same names compiled against the json format (the fields it
 * adds, two spellings of one path giving one field, evaluation over a parsed line), against
 * closed formats (a clear "unknown field" naming the format's fields), and through the rules
 * loader (backquoted names holding commas and parentheses inside aggregate calls, key
 * column names). Oracles: token sequences and error columns worked out by hand from each
 * source text. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>

#include "check_run.h"
#include "expr.h"
#include "expr_int.h" /* the tokenizer */
#include "format.h"
#include "rules.h"

#define FIXTURE_SUITE "check_expr_paths"
#include "fixture_expr.h"

/* ---- the tokenizer ---- */

/* The tokens of src as "KIND:text" words joined by spaces ("IDENT:a.b EQ:= INT:1"), or
 * "ERROR <message>" at the first error. */
static const char *tokens(const char *src)
{
    static char out[ABBEY_ERR_MAX + 64];
    static const char *const kinds[] = {
        [TK_EOF] = "EOF",       [TK_INT] = "INT",         [TK_FLOAT] = "FLOAT",
        [TK_DURATION] = "DUR",  [TK_STRING] = "STRING",   [TK_IDENT] = "IDENT",
        [TK_AND] = "AND",       [TK_OR] = "OR",           [TK_NOT] = "NOT",
        [TK_IN] = "IN",         [TK_TRUE] = "TRUE",       [TK_FALSE] = "FALSE",
        [TK_NULL] = "NULL",     [TK_EQ] = "EQ",           [TK_NE] = "NE",
        [TK_LT] = "LT",         [TK_LE] = "LE",           [TK_GT] = "GT",
        [TK_GE] = "GE",         [TK_MATCH] = "MATCH",     [TK_NMATCH] = "NMATCH",
        [TK_PLUS] = "PLUS",     [TK_MINUS] = "MINUS",     [TK_STAR] = "STAR",
        [TK_SLASH] = "SLASH",   [TK_PERCENT] = "PERCENT", [TK_LPAREN] = "LPAREN",
        [TK_RPAREN] = "RPAREN", [TK_LBRACK] = "LBRACK",   [TK_RBRACK] = "RBRACK",
        [TK_COMMA] = "COMMA",
    };
    expr_lexer_t lx;
    expr_tok_t t;
    abbey_err_t err = {{0}};
    size_t n = 0;
    expr_lex_init(&lx, src, strlen(src), &W, pool, &err);
    out[0] = '\0';
    for (;;) {
        if (expr_lex_next(&lx, &t) < 0) {
            snprintf(out, sizeof out, "ERROR %s", err.msg);
            return out;
        }
        if (t.kind == TK_EOF)
            return out;
        n += (size_t)snprintf(out + n, sizeof out - n, "%s%s:%.*s", n ? " " : "", kinds[t.kind],
                              (int)t.len, src + t.pos);
        if (t.kind == TK_IDENT)
            ck_assert(t.s == src + t.pos && t.slen == t.len); /* a field's name is its text */
    }
}

START_TEST(test_lex_paths)
{
    static const struct {
        const char *src, *want;
    } cases[] = {
        {"request.method", "IDENT:request.method"},
        {"http.status_code >= 500", "IDENT:http.status_code GE:>= INT:500"},
        {"tags[0] = 'x'", "IDENT:tags[0] EQ:= STRING:'x'"},
        {"a.b[2].c", "IDENT:a.b[2].c"},
        {"a[0][12].b", "IDENT:a[0][12].b"},
        {"`@timestamp`", "IDENT:`@timestamp`"},
        {"`a b`.c[1]", "IDENT:`a b`.c[1]"},
        {"a.`x.y`.b", "IDENT:a.`x.y`.b"},
        {"`a``b`+1", "IDENT:`a``b` PLUS:+ INT:1"},
        {"``", "IDENT:``"},
        {"`and` and `or`", "IDENT:`and` AND:and IDENT:`or`"},
        {"lower(request.path)", "IDENT:lower LPAREN:( IDENT:request.path RPAREN:)"},
        /* lists after `in` are untouched, glued or not */
        {"x in [1,2]", "IDENT:x IN:in LBRACK:[ INT:1 COMMA:, INT:2 RBRACK:]"},
        {"x in[1,2]", "IDENT:x IN:in LBRACK:[ INT:1 COMMA:, INT:2 RBRACK:]"},
        {"x in[1]", "IDENT:x IN:in LBRACK:[ INT:1 RBRACK:]"},
        {"x not in['a']", "IDENT:x NOT:not IN:in LBRACK:[ STRING:'a' RBRACK:]"},
        /* a space, or anything but digits in brackets, ends the name */
        {"a [0]", "IDENT:a LBRACK:[ INT:0 RBRACK:]"},
        {"a[0 ]", "IDENT:a LBRACK:[ INT:0 RBRACK:]"},
        {"a[x]", "IDENT:a LBRACK:[ IDENT:x RBRACK:]"},
        {"a[1,2]", "IDENT:a LBRACK:[ INT:1 COMMA:, INT:2 RBRACK:]"},
        {"a[-1]", "IDENT:a LBRACK:[ MINUS:- INT:1 RBRACK:]"},
        {"a. b", "ERROR rules.yaml:12:21: unexpected character '.'"},
        {"a.5", "ERROR rules.yaml:12:21: unexpected character '.'"},
        {"1.5 + a.b", "FLOAT:1.5 PLUS:+ IDENT:a.b"},
        {"not.x", "ERROR rules.yaml:12:23: unexpected character '.'"},
        {"`abc", "ERROR rules.yaml:12:20: unterminated name, expected a closing `"},
        {"a.`b", "ERROR rules.yaml:12:22: unterminated name, expected a closing `"},
        {"`a``", "ERROR rules.yaml:12:20: unterminated name, expected a closing `"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        ck_assert_msg(strcmp(tokens(cases[i].src), cases[i].want) == 0, "%s: got %s, expected %s",
                      cases[i].src, tokens(cases[i].src), cases[i].want);
}
END_TEST

/* ---- compiled against formats ---- */

START_TEST(test_json_fields)
{
    format_t *js;
    format_state_t *st;
    expr_t *e;
    value_t v;
    static const char line[] =
        "{\"request\":{\"method\":\"GET\",\"path\":\"/a\"},\"tags\":[\"x\","
        "\"y\"],\"@timestamp\":\"t\",\"a b\":{\"c\":[7,8]},\"status\":\"404\"}";
    ck_assert_int_eq(format_create_builtin("json", pool, &js, NULL), APR_SUCCESS);
    e = compile_f("request.method = 'GET' and tags[1] = 'y'", js);
    ck_assert_int_eq(format_nfields(js), 2);
    ck_assert_str_eq(format_field_name(js, 0), "request.method");
    ck_assert_str_eq(format_field_name(js, 1), "tags[1]");
    ck_assert_uint_eq(expr_fields(e), 3);
    /* another spelling of a known path is the same field */
    ck_assert_int_eq(expr_field_ref(compile_f("`request`.`method`", js)), 0);
    ck_assert_int_eq(expr_field_ref(compile_f("tags[01]", js)), 1);
    ck_assert_int_eq(expr_field_ref(compile_f("`@timestamp`", js)), 2);
    ck_assert_int_eq(expr_field_ref(compile_f("`a b`.c[1]", js)), 3);
    expr_t *num = compile_f("status + 1", js);
    ck_assert_uint_eq(expr_numeric_fields(num), 1u << 4);

    st = format_state_create(js, 4096, pool);
    ck_assert_int_eq(format_parse(st, line, strlen(line), ~0ull, 1u << 4, fields), FORMAT_OK);
    expr_ctx_reset(ctx);
    ck_assert_int_eq(expr_eval(e, fields, ctx, &v), 0);
    ck_assert(v.kind == VALUE_BOOL && v.i == 1);
    ck_assert_int_eq(expr_eval(compile_f("`a b`.c[1] * 2", js), fields, ctx, &v), 0);
    ck_assert(v.kind == VALUE_INT && v.i == 16);
    ck_assert_int_eq(expr_eval(num, fields, ctx, &v), 0);
    ck_assert(v.kind == VALUE_INT && v.i == 405);
    /* names that are no member path cannot be fields of a json format */
    ck_assert_str_eq(error_f("a.`b`c = 1", js),
                     "rules.yaml:12:25: unexpected 'c', expected an operator or end of expression");
    ck_assert_str_eq(error_f("a[1234567890] = 1", js),
                     "rules.yaml:12:20: field 'a[1234567890]': a json format cannot hold it (a "
                     "name it cannot have, or more than 64 fields)");
}
END_TEST

START_TEST(test_closed_formats)
{
    static const char *const sf[] = {"ts:time", "user", "status:int"};
    format_t *split;
    ck_assert_str_eq(error_of("request.method = 'GET'"),
                     "rules.yaml:12:20: unknown field 'request.method', expected one of: ip, "
                     "ident, user, time, request, method, path, protocol, status, bytes, referer, "
                     "agent");
    ck_assert_str_eq(error_of("foo(tags[0])"),
                     "rules.yaml:12:20: unknown function 'foo', expected one of: time_bucket, "
                     "lower, upper, len, substr, int, float, str, coalesce");
    ck_assert_ptr_nonnull(strstr(error_of("len(tags[0])"), "12:24: unknown field 'tags[0]'"));
    ck_assert_ptr_nonnull(strstr(error_of("`status` = 200"), "unknown field '`status`'"));
    ck_assert_int_eq(format_create_split("\t", sf, 3, pool, &split, NULL), APR_SUCCESS);
    ck_assert_str_eq(error_f("user.name = 'x'", split),
                     "rules.yaml:12:20: unknown field 'user.name', expected one of: ts, user, "
                     "status");
    ck_assert_int_eq(format_nfields(split), 3); /* a closed format gains nothing */
    /* bare names still work as before */
    ASSERT_INT("status", 200);
    ASSERT_BOOL("status in[200, 304]", 1);
}
END_TEST

/* ---- through the rules loader ---- */

START_TEST(test_rules_paths)
{
    static const char yaml[] = "jobs:\n"
                               "  - name: j\n"
                               "    sources: [/tmp/x.log]\n"
                               "    format: {json: {fields: [\"`a,b`:int\"]}}\n"
                               "    groups:\n"
                               "      - name: g\n"
                               "        entries:\n"
                               "          - name: e\n"
                               "            key: [request.method, \"`@timestamp`\", {u: "
                               "\"`user agent`\"}]\n"
                               "            where: http.status_code >= 400\n"
                               "            values: {n: count, s: \"sum(`a,b`)\", p: "
                               "\"percentile(`x(y)`, 50)\"}\n";
    rules_config_t *c = NULL;
    abbey_err_t err;
    ck_assert_msg(rules_load_buffer(yaml, strlen(yaml), "p.yaml", pool, &c, &err) == APR_SUCCESS,
                  "%s", err.msg);
    const rules_job_t *j = &c->jobs[0];
    const rules_entry_t *en = j->entries[0];
    ck_assert_int_eq(en->nkeys, 3);
    ck_assert_str_eq(en->key_names[0], "request.method");
    ck_assert_str_eq(en->key_names[1], "`@timestamp`"); /* the expression's text */
    ck_assert_str_eq(en->key_names[2], "u");
    ck_assert_str_eq(format_field_name(j->format, 0), "`a,b`");
    ck_assert_int_eq(format_field_type(j->format, 0), FORMAT_INT);
    ck_assert_int_eq(format_nfields(j->format), 6);
    ck_assert_int_eq(expr_field_ref(en->values[1].arg), 0);
    ck_assert_str_eq(format_field_name(j->format, expr_field_ref(en->values[2].arg)), "`x(y)`");
    ck_assert(en->values[2].spec.pct == 50);

    /* the same file with a combined format: the path is refused where it is written */
    static const char bad[] = "jobs:\n"
                              "  - name: j\n"
                              "    sources: [/tmp/x.log]\n"
                              "    format: combined\n"
                              "    groups:\n"
                              "      - name: g\n"
                              "        entries:\n"
                              "          - {name: e, key: [request.method], values: {n: count}}\n";
    ck_assert_int_ne(rules_load_buffer(bad, strlen(bad), "b.yaml", pool, &c, &err), APR_SUCCESS);
    ck_assert_msg(strstr(err.msg, "b.yaml:8:") && strstr(err.msg, "unknown field 'request.method'"),
                  "%s", err.msg);
}
END_TEST

static Suite *expr_paths_suite(void)
{
    Suite *s = suite_create("expr_paths");
    TCase *tc = tcase_create("paths");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_lex_paths);
    tcase_add_test(tc, test_json_fields);
    tcase_add_test(tc, test_closed_formats);
    tcase_add_test(tc, test_rules_paths);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return check_run(expr_paths_suite()) ? EXIT_FAILURE : EXIT_SUCCESS;
}
