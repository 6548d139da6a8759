/* check_format_csv.c - unit tests for the csv line format (rules/format_csv.c): RFC 4180
 * quoting (embedded delimiters, doubled quotes, quoted empty fields), what is bad (an
 * unterminated quote, text after a closing quote, a wrong number of columns, an empty line),
 * what is lenient (quotes inside unquoted fields, CRLF, spaces), other delimiters, 64 and more
 * columns, and the header: columns named per source, a byte order mark, duplicate names,
 * columns the header lacks, lines before a header, and forgetting it at the next source;
 * creation refusals; and the engine taking the line at offset 0 as the header.
 *
 * Lines are parsed from a heap copy of exactly their length, so under ASan or valgrind any
 * read past the end is caught; a field's text must lie in the line or, when it was unescaped,
 * outside it (the state's scratch). Oracles: field values worked out by hand for each
 * constructed line (they agree with python3's csv module in strict mode, which the recount
 * test tests/recount/csv.sh uses). */
#include <apr_general.h>
#include <apr_strings.h>
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_run.h"
#include "engine.h"
#include "format.h"
#include "partial.h"
#include "rules.h"

#define FIXTURE_SUITE "check_format_csv"
#include "fixture_format.h"

/* A format and one parse state for it (a thread reading sources one after the other). */
typedef struct csv_t {
    format_t *f;
    format_state_t *st;
} csv_t;

/* A csv format; header as given, delimiter d (NULL: the default), fields (n). */
static csv_t mk_csv(int header, const char *d, const char *const *fields, int n)
{
    format_spec_t spec = {
        .kind = "csv", .arg = d, .fields = fields, .nfields = n, .header = header};
    csv_t c = {NULL, NULL};
    abbey_err_t err;
    ck_assert_msg(format_create(&spec, pool, &c.f, &err) == APR_SUCCESS, "%s", err.msg);
    c.st = format_state_create(c.f, 1 << 16, pool);
    return c;
}

static void expect_refused(int header, const char *d, const char *const *fields, int n,
                           const char *mention)
{
    format_spec_t spec = {
        .kind = "csv", .arg = d, .fields = fields, .nfields = n, .header = header};
    format_t *f = NULL;
    abbey_err_t err = {{0}};
    ck_assert_int_eq(format_create(&spec, pool, &f, &err), APR_EINVAL);
    ck_assert_msg(strstr(err.msg, mention) != NULL, "message \"%s\" lacks \"%s\"", err.msg,
                  mention);
}

/* Parse a heap copy of line[0..n) with c's state. A good line's needed fields must be set,
 * their text in the copy, or (unescaped) wholly outside it. The copy lives until the next
 * call. */
static char *copy;
static size_t copy_len; /* copy is not NUL-terminated */
static format_bad_t cparse_n(csv_t c, const char *line, size_t n, uint64_t need, value_t *v)
{
    format_bad_t why;
    free(copy);
    copy = dup_exact(line, n);
    copy_len = n;
    for (int i = 0; i < FORMAT_MAX_FIELDS; i++)
        v[i] = (value_t){.kind = 0xee, .s = (const char *)1, .len = 0xdead};
    why = format_parse(c.st, copy, n, need, 0, v);
    for (int i = 0; why == FORMAT_OK && i < format_nfields(c.f); i++) {
        int in = v[i].s >= copy && v[i].s <= copy + n;
        if (!((need >> i) & 1))
            continue;
        ck_assert_msg(v[i].kind <= VALUE_TIME, "field %d kind %d unset", i, v[i].kind);
        if (!v[i].s)
            ck_assert_uint_eq(v[i].len, 0);
        else if (in)
            ck_assert_msg(v[i].s + v[i].len <= copy + n, "field %d runs past the line", i);
        else
            ck_assert_msg(v[i].s + v[i].len <= copy || v[i].s >= copy + n,
                          "field %d straddles the line", i);
    }
    return why;
}

static format_bad_t cparse(csv_t c, const char *line, value_t *v)
{
    return cparse_n(c, line, strlen(line), ALL, v);
}

/* The header line of a new source. */
static format_bad_t new_source(csv_t c, const char *header)
{
    format_state_source(c.st, 0);
    return format_header(c.st, header, strlen(header));
}

/* ---- without a header --------------------------------------------------- */

START_TEST(test_quoting)
{
    static const char *const fields[] = {"id:int", "name", "note:str"};
    csv_t c = mk_csv(0, NULL, fields, 3);
    value_t v[FORMAT_MAX_FIELDS];
    ck_assert_str_eq(format_name(c.f), "csv");
    ck_assert_int_eq(format_is_open(c.f), 0);
    ck_assert_int_eq(format_has_header(c.f), 0);
    ck_assert_int_eq(format_field_index(c.f, "other", 5), -1); /* closed: never added */
    ck_assert_int_eq(format_nfields(c.f), 3);

    ck_assert_int_eq(cparse(c, "1,alice,hello", v), FORMAT_OK);
    ck_int(&v[0], VALUE_INT, 1, "1");
    ck_text(&v[1], VALUE_STR, "alice");
    ck_text(&v[2], VALUE_STR, "hello");
    /* embedded delimiter and doubled quotes */
    ck_assert_int_eq(cparse(c, "2,\"smith, john\",\"say \"\"hi\"\"\"", v), FORMAT_OK);
    ck_text(&v[1], VALUE_STR, "smith, john");
    ck_text(&v[2], VALUE_STR, "say \"hi\"");
    ck_assert(v[2].s < copy || v[2].s > copy + copy_len); /* unescaped: scratch */
    ck_assert(v[1].s > copy && v[1].s < copy + copy_len); /* no "": in the line */
    /* empty and quoted empty; an empty typed column is NULL */
    ck_assert_int_eq(cparse(c, ",\"\",", v), FORMAT_OK);
    ck_text(&v[0], VALUE_NULL, "");
    ck_text(&v[1], VALUE_STR, "");
    ck_text(&v[2], VALUE_STR, "");
    ck_assert_int_eq(cparse(c, "\"3\",\"\"\"\",\"\"\"\"\"\"", v), FORMAT_OK);
    ck_int(&v[0], VALUE_INT, 3, "3");
    ck_text(&v[1], VALUE_STR, "\"");
    ck_text(&v[2], VALUE_STR, "\"\"");
    /* quotes inside an unquoted column are ordinary bytes; spaces are kept */
    ck_assert_int_eq(cparse(c, "4,5\" screen, \"x\"", v), FORMAT_OK);
    ck_text(&v[1], VALUE_STR, "5\" screen");
    ck_text(&v[2], VALUE_STR, " \"x\"");
    /* CRLF: the '\r' goes; a '\r' inside a quoted field stays */
    ck_assert_int_eq(cparse(c, "5,\"a\rb\",c\r", v), FORMAT_OK);
    ck_text(&v[1], VALUE_STR, "a\rb");
    ck_text(&v[2], VALUE_STR, "c");
    /* a byte order mark opening the line is dropped */
    ck_assert_int_eq(cparse(c, "\xEF\xBB\xBF\"6\",b,c", v), FORMAT_OK);
    ck_int(&v[0], VALUE_INT, 6, "6");
    /* a quoted column may hold a newline of another kind of text: NULs, invalid UTF-8 */
    static const char nul[] = "7,\"a\0,\xff\",\xc3\x28";
    ck_assert_int_eq(cparse_n(c, nul, sizeof nul - 1, ALL, v), FORMAT_OK);
    ck_assert_uint_eq(v[1].len, 4);
    ck_assert(memcmp(v[1].s, "a\0,\xff", 4) == 0);
    ck_assert_uint_eq(v[2].len, 2);
    free(copy);
    copy = NULL;
}
END_TEST

START_TEST(test_bad_lines)
{
    static const char *const fields[] = {"id:int", "name", "note"};
    csv_t c = mk_csv(0, NULL, fields, 3);
    value_t v[FORMAT_MAX_FIELDS];
    char why[128];
    /* a quoted field spanning lines: its first line ends inside the quote */
    ck_assert_int_eq(cparse(c, "1,\"first line", v), FORMAT_BAD_QUOTE);
    ck_assert_str_eq(format_bad_describe(c.st, FORMAT_BAD_QUOTE, why, sizeof why),
                     "name: unterminated quote");
    ck_assert_int_eq(cparse(c, "1,b,\"c\"\"", v), FORMAT_BAD_QUOTE);
    ck_assert_int_eq(cparse(c, "\"", v), FORMAT_BAD_QUOTE);
    /* text after a closing quote */
    ck_assert_int_eq(cparse(c, "1,\"b\"x,c", v), FORMAT_BAD_SYNTAX);
    ck_assert_int_eq(cparse(c, "1,\"b\" ,c", v), FORMAT_BAD_SYNTAX);
    /* the number of columns */
    ck_assert_int_eq(cparse(c, "1,b", v), FORMAT_BAD_FIELDS);
    ck_assert_int_eq(cparse(c, "1,b,c,", v), FORMAT_BAD_FIELDS); /* trailing delimiter: 4 */
    ck_assert_int_eq(cparse(c, "1,b,c,d", v), FORMAT_BAD_FIELDS);
    ck_assert_int_eq(cparse(c, "", v), FORMAT_BAD_FIELDS); /* an empty line has no column */
    ck_assert_int_eq(cparse(c, "\r", v), FORMAT_BAD_FIELDS);
    /* structure first: a wrong count is bad whatever is needed, even with a bad number */
    ck_assert_int_eq(cparse_n(c, "x,b,c,d", 7, 0, v), FORMAT_BAD_FIELDS);
    ck_assert_int_eq(cparse_n(c, "x,b,c,d", 7, ALL, v), FORMAT_BAD_FIELDS);
    ck_assert_int_eq(cparse_n(c, "x,b,\"c", 6, ALL, v), FORMAT_BAD_QUOTE);
    /* a bad number only when needed */
    ck_assert_int_eq(cparse_n(c, "x,b,c", 5, ALL, v), FORMAT_BAD_NUMBER);
    ck_assert_str_eq(format_bad_describe(c.st, FORMAT_BAD_NUMBER, why, sizeof why),
                     "id is not a number");
    ck_assert_int_eq(cparse_n(c, "x,b,c", 5, 2, v), FORMAT_OK);
    ck_assert_int_eq(cparse_n(c, "\"1\"\"\",b,c", 9, ALL, v), FORMAT_BAD_NUMBER);
    /* a trailing delimiter makes an empty last column: right when the fields say so */
    static const char *const two[] = {"a", "b"};
    csv_t d = mk_csv(0, NULL, two, 2);
    ck_assert_int_eq(cparse(d, "x,", v), FORMAT_OK);
    ck_text(&v[1], VALUE_STR, "");
    free(copy);
    copy = NULL;
}
END_TEST

START_TEST(test_delimiters_and_width)
{
    static const char *const two[] = {"a", "b:int"};
    csv_t semi = mk_csv(0, ";", two, 2), tab = mk_csv(0, "\t", two, 2);
    value_t v[FORMAT_MAX_FIELDS];
    ck_assert_int_eq(cparse(semi, "\"x;y\";42", v), FORMAT_OK);
    ck_text(&v[0], VALUE_STR, "x;y");
    ck_int(&v[1], VALUE_INT, 42, "42");
    ck_assert_int_eq(cparse(semi, "x,y;42", v), FORMAT_OK);
    ck_text(&v[0], VALUE_STR, "x,y");
    ck_assert_int_eq(cparse(tab, "\"a\tb\"\t7", v), FORMAT_OK);
    ck_text(&v[0], VALUE_STR, "a\tb");

    /* 64 columns, the most a format has */
    const char *names[FORMAT_MAX_FIELDS];
    char *line = apr_pstrdup(pool, "");
    for (int i = 0; i < FORMAT_MAX_FIELDS; i++) {
        names[i] = apr_psprintf(pool, "c%d:int", i);
        line = apr_psprintf(pool, "%s%s\"%d\"", line, i ? "," : "", i * 3);
    }
    csv_t wide = mk_csv(0, NULL, names, FORMAT_MAX_FIELDS);
    ck_assert_int_eq(cparse(wide, line, v), FORMAT_OK);
    for (int i = 0; i < FORMAT_MAX_FIELDS; i++)
        ck_assert(v[i].kind == VALUE_INT && v[i].i == i * 3);
    ck_assert_int_eq(cparse(wide, apr_pstrcat(pool, line, ",1", NULL), v), FORMAT_BAD_FIELDS);
    free(copy);
    copy = NULL;
}
END_TEST

/* Every field needed and every one doubled-quoted: the unescaped text of a whole line fits
 * the scratch of a state whose max_line is that line's length. */
START_TEST(test_scratch_bound)
{
    static const char *const f3[] = {"a", "b", "c"};
    static const char line[] = "\"\"\"\",\"x\"\"y\"\"z\",\"\"\"\"\"\"\"\"";
    format_spec_t spec = {.kind = "csv", .fields = f3, .nfields = 3};
    format_t *f;
    abbey_err_t err;
    value_t v[FORMAT_MAX_FIELDS];
    ck_assert_int_eq(format_create(&spec, pool, &f, &err), APR_SUCCESS);
    format_state_t *st = format_state_create(f, sizeof line - 1, pool);
    for (int k = 0; k < 3; k++) { /* repeatedly: the scratch is reused per line */
        ck_assert_int_eq(format_parse(st, line, sizeof line - 1, ALL, 0, v), FORMAT_OK);
        ck_text(&v[0], VALUE_STR, "\"");
        ck_text(&v[1], VALUE_STR, "x\"y\"z");
        ck_text(&v[2], VALUE_STR, "\"\"\"");
    }
}
END_TEST

START_TEST(test_refused)
{
    static const char *const one[] = {"a"};
    static const char *const dup[] = {"a", "b", "a:int"};
    static const char *const bad[] = {"a", "b:decimal"};
    static const char *const dash[] = {"user-agent"};
    expect_refused(0, NULL, NULL, 0, "fields");
    expect_refused(0, NULL, NULL, 0, "header: true");
    expect_refused(0, ",,", one, 1, "one byte");
    expect_refused(0, "", one, 1, "one byte");
    expect_refused(0, "\"", one, 1, "other than a quote");
    expect_refused(0, "\n", one, 1, "delimiter");
    expect_refused(0, NULL, dup, 3, "duplicate");
    expect_refused(1, NULL, dup, 3, "\"a\"");
    expect_refused(0, NULL, bad, 2, "unknown type");
    expect_refused(1, NULL, dash, 1, "user-agent");
    const char *many[FORMAT_MAX_FIELDS + 1];
    for (int i = 0; i <= FORMAT_MAX_FIELDS; i++)
        many[i] = apr_psprintf(pool, "f%d", i);
    expect_refused(0, NULL, many, FORMAT_MAX_FIELDS + 1, "at most 64");
}
END_TEST

/* ---- with a header ------------------------------------------------------ */

START_TEST(test_header_names_columns)
{
    static const char *const typed[] = {"status:int"};
    csv_t c = mk_csv(1, NULL, typed, 1);
    value_t v[FORMAT_MAX_FIELDS];
    ck_assert_int_eq(format_is_open(c.f), 1);
    ck_assert_int_eq(format_has_header(c.f), 1);
    /* rules name the columns they use (before any state is made, as the loader does) */
    format_t *f = c.f;
    ck_assert_int_eq(format_field_index(f, "path", 4), 1);
    ck_assert_int_eq(format_field_index(f, "agent", 5), 2);
    ck_assert_int_eq(format_field_index(f, "status", 6), 0);
    ck_assert_int_eq(format_field_index(f, "missing", 7), 3);
    ck_assert_int_eq(format_field_type(f, 1), FORMAT_AUTO);
    c.st = format_state_create(f, 1 << 16, pool);

    /* before any header, a line is bad */
    ck_assert_int_eq(cparse(c, "1,2,3", v), FORMAT_BAD_HEADER);
    /* source 1: BOM, CRLF, a quoted name with "", a name twice (the first one counts) */
    ck_assert_int_eq(new_source(c, "\xEF\xBB\xBFstatus,\"path\",x,\"ag\"\"ent\",agent,path\r"),
                     FORMAT_OK);
    ck_assert_int_eq(cparse(c, "200,/a,1,q,Mozilla,/b", v), FORMAT_OK);
    ck_int(&v[0], VALUE_INT, 200, "200");
    ck_text(&v[1], VALUE_STR, "/a");
    ck_text(&v[2], VALUE_STR, "Mozilla");
    ck_text(&v[3], VALUE_NULL, NULL); /* not in this header: NULL on every line */
    /* as many columns as the header, no more, no fewer */
    ck_assert_int_eq(cparse(c, "200,/a,1,q,Mozilla", v), FORMAT_BAD_FIELDS);
    ck_assert_int_eq(cparse(c, "200,/a,1,q,Mozilla,/b,", v), FORMAT_BAD_FIELDS);
    ck_assert_int_eq(cparse(c, "x,/a,1,q,\"M,z\",/b", v), FORMAT_BAD_NUMBER);
    ck_assert_int_eq(cparse_n(c, "x,/a,1,q,\"M,z\",/b", 17, 2, v), FORMAT_OK);
    ck_assert_int_eq(cparse(c, "1,/a,1,q,\"M", v), FORMAT_BAD_QUOTE);
    /* source 2: another order, without agent: the header is per source */
    ck_assert_int_eq(new_source(c, "missing,status"), FORMAT_OK);
    ck_assert_int_eq(cparse(c, "m;p,404", v), FORMAT_OK);
    ck_text(&v[3], VALUE_STR, "m;p");
    ck_text(&v[1], VALUE_NULL, NULL);
    ck_text(&v[2], VALUE_NULL, NULL);
    ck_int(&v[0], VALUE_INT, 404, "404");
    /* a new source forgets the header until its own is read */
    format_state_source(c.st, 0);
    ck_assert_int_eq(cparse(c, "m;p,404", v), FORMAT_BAD_HEADER);
    /* headers that are not */
    ck_assert_int_eq(new_source(c, ""), FORMAT_BAD_HEADER);
    ck_assert_int_eq(new_source(c, "\xEF\xBB\xBF"), FORMAT_BAD_HEADER);
    ck_assert_int_eq(new_source(c, "a,\"b"), FORMAT_BAD_QUOTE);
    ck_assert_int_eq(cparse(c, "1,2", v), FORMAT_BAD_HEADER);
    ck_assert_int_eq(new_source(c, "a,\"b\"c"), FORMAT_BAD_SYNTAX);
    free(copy);
    copy = NULL;
}
END_TEST

/* Fields among many columns: a header of 100 columns, fields at 0, 63, 64 and 99. */
START_TEST(test_header_wide)
{
    csv_t c = mk_csv(1, "|", NULL, 0);
    value_t v[FORMAT_MAX_FIELDS];
    char *header = apr_pstrdup(pool, ""), *line = apr_pstrdup(pool, "");
    for (int i = 0; i < 100; i++) {
        header = apr_psprintf(pool, "%s%sk%d", header, i ? "|" : "", i);
        line = apr_psprintf(pool, "%s%s%d", line, i ? "|" : "", i * 7);
    }
    ck_assert_int_eq(format_field_index(c.f, "k99", 3), 0);
    ck_assert_int_eq(format_field_index(c.f, "k0", 2), 1);
    ck_assert_int_eq(format_field_index(c.f, "k64", 3), 2);
    ck_assert_int_eq(format_field_index(c.f, "k63", 3), 3);
    c.st = format_state_create(c.f, 1 << 16, pool);
    ck_assert_int_eq(new_source(c, header), FORMAT_OK);
    ck_assert_int_eq(cparse_n(c, line, strlen(line), ALL, v), FORMAT_OK);
    ck_text(&v[0], VALUE_STR, "693");
    ck_text(&v[1], VALUE_STR, "0");
    ck_text(&v[2], VALUE_STR, "448");
    ck_text(&v[3], VALUE_STR, "441");
    /* an open format holds at most 64 fields */
    for (int i = 4; i < FORMAT_MAX_FIELDS; i++)
        ck_assert_int_eq(format_field_index(c.f, apr_psprintf(pool, "z%d", i), i < 10 ? 2 : 3), i);
    ck_assert_int_eq(format_field_index(c.f, "y", 1), -1);
    free(copy);
    copy = NULL;
}
END_TEST

/* The engine: the line at offset 0 of a block is the header (neither a line nor a bad line);
 * engine_header gives it to a reader that starts later. */
START_TEST(test_engine_header)
{
    const char *yaml = "jobs:\n"
                       "  - name: t\n"
                       "    sources: [/dev/null]\n"
                       "    format: {csv: {header: true, fields: [status:int]}}\n"
                       "    groups:\n"
                       "      - name: g\n"
                       "        entries:\n"
                       "          - {name: e, key: [status, path], values: {n: count}}\n";
    const char *text = "path,status\r\n/a,200\r\n/b,x\r\n\"/c,d\",404\r\n";
    rules_config_t *cfg;
    abbey_err_t err;
    ck_assert_msg(rules_load_buffer(yaml, strlen(yaml), "t.yaml", pool, &cfg, &err) == APR_SUCCESS,
                  "%s", err.msg);
    engine_t *e = engine_create(&cfg->jobs[0], pool);
    partial_t *p = partial_create(&cfg->jobs[0], pool);
    engine_source(e, 0);
    ck_assert_int_eq(engine_feed(e, text, strlen(text), 0, p, NULL, NULL), APR_SUCCESS);
    ck_assert_uint_eq(p->lines, 3);
    ck_assert_uint_eq(p->bad_lines, 1);
    /* from the middle: without the header every line is bad; with it, they count */
    const char *rest = strstr(text, "/b");
    partial_t *q = partial_create(&cfg->jobs[0], pool);
    engine_source(e, 0);
    engine_feed(e, rest, strlen(rest), (uint64_t)(rest - text), q, NULL, NULL);
    ck_assert_uint_eq(q->lines, 2);
    ck_assert_uint_eq(q->bad_lines, 2);
    partial_t *r = partial_create(&cfg->jobs[0], pool);
    engine_source(e, 0);
    ck_assert_int_eq(engine_header(e, text, 12), FORMAT_OK); /* its "\r" is dropped */
    engine_feed(e, rest, strlen(rest), (uint64_t)(rest - text), r, NULL, NULL);
    ck_assert_uint_eq(r->lines, 2);
    ck_assert_uint_eq(r->bad_lines, 1);
    /* a rule that names a column of a csv without a header is an unknown field */
    const char *closed = "jobs:\n"
                         "  - name: t\n"
                         "    sources: [/dev/null]\n"
                         "    format: {csv: {fields: [status:int, path]}}\n"
                         "    groups:\n"
                         "      - name: g\n"
                         "        entries:\n"
                         "          - {name: e, key: [agent], values: {n: count}}\n";
    ck_assert_int_eq(rules_load_buffer(closed, strlen(closed), "c.yaml", pool, &cfg, &err),
                     APR_EINVAL);
    ck_assert_msg(strstr(err.msg, "unknown field 'agent'") && strstr(err.msg, "status, path"), "%s",
                  err.msg);
}
END_TEST

/* The format as a rules file spells it: the options inside the csv map or beside it. */
static rules_config_t *load_format(const char *format, abbey_err_t *err)
{
    const char *yaml = apr_psprintf(pool,
                                    "jobs:\n"
                                    "  - name: t\n"
                                    "    sources: [/dev/null]\n"
                                    "    format: %s\n"
                                    "    groups:\n"
                                    "      - name: g\n"
                                    "        entries:\n"
                                    "          - {name: e, key: [b], values: {n: count}}\n",
                                    format);
    rules_config_t *cfg;
    return rules_load_buffer(yaml, strlen(yaml), "c.yaml", pool, &cfg, err) == APR_SUCCESS ? cfg
                                                                                           : NULL;
}

START_TEST(test_rules_options)
{
    abbey_err_t err;
    value_t v[FORMAT_MAX_FIELDS];
    rules_config_t *cfg = load_format("{csv: {fields: [a, b:int], delimiter: \";\"}}", &err);
    ck_assert_msg(cfg != NULL, "%s", err.msg);
    csv_t c = {cfg->jobs[0].format, format_state_create(cfg->jobs[0].format, 64, pool)};
    ck_assert_int_eq(format_has_header(c.f), 0);
    ck_assert_int_eq(cparse(c, "x,y;7", v), FORMAT_OK);
    ck_text(&v[0], VALUE_STR, "x,y");
    ck_int(&v[1], VALUE_INT, 7, "7");
    cfg = load_format("{csv: {header: true}, delimiter: \"\\t\"}", &err);
    ck_assert_msg(cfg != NULL, "%s", err.msg);
    c = (csv_t){cfg->jobs[0].format, format_state_create(cfg->jobs[0].format, 64, pool)};
    ck_assert_int_eq(format_has_header(c.f), 1);
    ck_assert_int_eq(new_source(c, "a\tb"), FORMAT_OK);
    ck_assert_int_eq(cparse(c, "1,2\t3", v), FORMAT_OK);
    ck_text(&v[0], VALUE_STR, "3"); /* b, the field the rule names */
    ck_assert_ptr_null(load_format("{csv: {fields: [a, b], delimiter: \"ab\"}}", &err));
    ck_assert_msg(strstr(err.msg, "c.yaml:4:") && strstr(err.msg, "one byte"), "%s", err.msg);
    ck_assert_ptr_null(load_format("{csv: {header: maybe}}", &err));
    ck_assert_msg(strstr(err.msg, "header"), "%s", err.msg);
    ck_assert_ptr_null(load_format("{csv: {header: true, quote: \"'\"}}", &err));
    ck_assert_msg(strstr(err.msg, "quote"), "%s", err.msg);
    free(copy);
    copy = NULL;
}
END_TEST

static Suite *format_csv_suite(void)
{
    Suite *s = suite_create("format_csv");
    TCase *tc = new_case(s, "no_header");
    tcase_add_test(tc, test_quoting);
    tcase_add_test(tc, test_bad_lines);
    tcase_add_test(tc, test_delimiters_and_width);
    tcase_add_test(tc, test_scratch_bound);
    tcase_add_test(tc, test_refused);
    tc = new_case(s, "header");
    tcase_add_test(tc, test_header_names_columns);
    tcase_add_test(tc, test_header_wide);
    tcase_add_test(tc, test_engine_header);
    tcase_add_test(tc, test_rules_options);
    return s;
}

int main(void)
{
    int failed;
    apr_initialize();
    failed = check_run(format_csv_suite());
    apr_terminate();
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
