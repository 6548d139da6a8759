/* check_format_logformat_compile.c - unit tests for compiling nginx and Apache format
 * strings (rules/format_logformat_compile.c): every Apache directive and the field it names,
 * Apache's LogFormat line pasted as it is, the strftime forms of %{...}t (format_time.c's
 * patterns in their strftime mode), `fields:` retyping, the format's timezone, and malformed
 * strings refused with the byte they are about (and, through the rules loader, its
 * file:line:col). Lines split by the nginx kind are tests/check_format_logformat.c.
 *
 * Oracles: the names and types docs/RULES.md documents, epochs from `date -u -d ... +%s`,
 * and byte offsets counted by hand in each string (commented where not obvious). */
#include <apr_general.h>
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_run.h"
#include "format.h"
#include "rules.h"

#define FIXTURE_SUITE "check_format_logformat_compile"
#include "fixture_format.h"

static format_t *mk_spec(format_spec_t *spec)
{
    format_t *f = NULL;
    abbey_err_t err = {{0}};
    ck_assert_msg(format_create(spec, pool, &f, &err) == APR_SUCCESS, "[%s]: %s",
                  spec->arg ? spec->arg : "", err.msg);
    return f;
}

static format_t *mk(const char *kind, const char *str)
{
    format_spec_t spec = {.kind = kind, .arg = str};
    return mk_spec(&spec);
}

/* kind + str is refused, about byte at (-1: none), with needle in the message. */
#define refused(kind, str, at, needle) refused_at(kind, str, at, needle, __LINE__)
static void refused_at(const char *kind, const char *str, long at, const char *needle, int line)
{
    format_spec_t spec = {.kind = kind, .arg = str};
    format_t *f = NULL;
    abbey_err_t err = {{0}};
    ck_assert_msg(format_create(&spec, pool, &f, &err) == APR_EINVAL, "line %d: [%s] accepted",
                  line, str);
    ck_assert_msg(spec.err_at == at, "line %d: [%s]: at %ld, expected %ld (%s)", line, str,
                  spec.err_at, at, err.msg);
    ck_assert_msg(strstr(err.msg, needle) != NULL, "line %d: [%s]: '%s' lacks '%s'", line, str,
                  err.msg, needle);
    ck_assert_msg(strncmp(err.msg, kind, strlen(kind)) == 0, "line %d: '%s'", line, err.msg);
}

static int fx(const format_t *f, const char *name)
{
    int i = format_field_index((format_t *)f, name, strlen(name));
    ck_assert_msg(i >= 0, "no field %s", name);
    return i;
}

/* ---- Apache directives ---------------------------------------------------------- */

START_TEST(test_apache_directives)
{
    static const struct {
        const char *name;
        format_type_t type;
        const char *text; /* in the line below */
    } want[] = {
        {"client_ip", FORMAT_STR, "10.0.0.1"},
        {"peer_ip", FORMAT_STR, "10.0.0.2"},
        {"local_ip", FORMAT_STR, "10.0.0.3"},
        {"bytes", FORMAT_INT, "0"},
        {"bytes_2", FORMAT_INT, "-"},
        {"cookie_foo_bar", FORMAT_AUTO, "abc"},
        {"time_us", FORMAT_INT, "1500"},
        {"env_home", FORMAT_AUTO, "/root"},
        {"filename", FORMAT_STR, "/var/www/i.html"},
        {"ip", FORMAT_STR, "host.example"},
        {"peer_host", FORMAT_STR, "-"},
        {"request_protocol", FORMAT_STR, "HTTP/1.1"},
        {"http_x_forwarded_for", FORMAT_AUTO, "1.1.1.1"},
        {"keepalive", FORMAT_INT, "2"},
        {"ident", FORMAT_STR, "-"},
        {"log_id", FORMAT_STR, "XYZ"},
        {"request_method", FORMAT_STR, "GET"},
        {"note_mynote", FORMAT_AUTO, "-"},
        {"sent_http_content_type", FORMAT_AUTO, "text/html"},
        {"server_port", FORMAT_INT, "443"},
        {"remote_port", FORMAT_INT, "50123"},
        {"local_port", FORMAT_INT, "8443"},
        {"pid", FORMAT_INT, "1234"},
        {"tid", FORMAT_INT, "5678"},
        {"tid_hex", FORMAT_STR, "0x1f"},
        {"query_string", FORMAT_STR, "?a=1"},
        {"request", FORMAT_STR, "-"},
        {"method", FORMAT_STR, NULL},
        {"path", FORMAT_STR, NULL},
        {"protocol", FORMAT_STR, NULL},
        {"handler", FORMAT_STR, "cgi"},
        {"status", FORMAT_INT, "200"},
        {"status_2", FORMAT_INT, "404"},
        {"time_taken", FORMAT_INT, "1"},
        {"time_taken_ms", FORMAT_INT, "1500"},
        {"time_taken_us", FORMAT_INT, "1500000"},
        {"user", FORMAT_STR, "-"},
        {"url_path", FORMAT_STR, "/i.html"},
        {"server_name", FORMAT_STR, "www.example.com"},
        {"host", FORMAT_STR, "example.com"},
        {"connection_status", FORMAT_STR, "+"},
        {"bytes_received", FORMAT_INT, "300"},
        {"bytes_sent", FORMAT_INT, "1200"},
        {"bytes_transferred", FORMAT_INT, "1500"},
        {"ssl_protocol", FORMAT_AUTO, "TLSv1.3"},
        {"trailer_grpc_status", FORMAT_AUTO, "0"},
        {"sent_trailer_grpc_status", FORMAT_AUTO, "-"},
        {"referer", FORMAT_STR, "-"},
        {"agent", FORMAT_STR, "curl/8"},
    };
    format_t *f = mk("apache", "%a %{c}a %A %B %b %{Foo-Bar}C %D %{HOME}e %f %h %{c}h %H "
                               "%{X-Forwarded-For}i %k %l %L %m %{mynote}n %{Content-Type}o %p "
                               "%{remote}p %{local}p %P %{tid}P %{hextid}P %q %r %R %s %>s %T "
                               "%{ms}T %{us}T %u %U %v %V %X %I %O %S %{SSL_PROTOCOL}x "
                               "%{Grpc-Status}^ti %{Grpc-Status}^to %{Referer}i %{User-Agent}i");
    int n = (int)(sizeof want / sizeof want[0]);
    char line[1024] = "";
    value_t v[FORMAT_MAX_FIELDS];
    ck_assert_str_eq(format_name(f), "apache");
    ck_assert_int_eq(format_nfields(f), n);
    for (int i = 0; i < n; i++) {
        ck_assert_str_eq(format_field_name(f, i), want[i].name);
        ck_assert_msg(format_field_type(f, i) == want[i].type, "%s", want[i].name);
        if (want[i].text)
            snprintf(line + strlen(line), sizeof line - strlen(line), "%s%s", *line ? " " : "",
                     want[i].text);
    }
    ck_assert_int_eq(parse(f, line, v), FORMAT_OK);
    for (int i = 0; i < n; i++) {
        if (!want[i].text)
            ck_text(&v[i], VALUE_NULL, NULL); /* split from a request "-" */
        else if (!strcmp(want[i].text, "-") && i != fx(f, "ip"))
            ck_text(&v[i], VALUE_NULL, "-");
        else if (want[i].type == FORMAT_INT)
            ck_int(&v[i], VALUE_INT, strtoll(want[i].text, NULL, 10), want[i].text);
        else
            ck_text(&v[i], VALUE_STR, want[i].text);
    }
    /* %h keeps "-" as text (combined's ip does) */
    f = mk("apache", "%h %>s");
    ck_assert_int_eq(parse(f, "- 200", v), FORMAT_OK);
    ck_text(&v[0], VALUE_STR, "-");
    /* a name taken gets _2, _3, ..., however long it is */
    char longer[1024], hdr[301];
    memset(hdr, 'h', 300);
    hdr[300] = '\0';
    snprintf(longer, sizeof longer, "%%{%s}i %%{%s}i %%{%s}i", hdr, hdr, hdr);
    f = mk("apache", longer);
    ck_assert_int_eq(format_nfields(f), 3);
    ck_assert_int_eq(strlen(format_field_name(f, 2)), 5 + 300 + 2);
    ck_assert_str_eq(format_field_name(f, 2) + 305, "_3");
    /* status conditions and < > are read and ignored */
    f = mk("apache", "%400,501{User-agent}i %!200,304{Referer}i %<s %{ms}T");
    ck_assert_int_eq(format_nfields(f), 4);
    ck_assert_str_eq(format_field_name(f, 0), "agent");
    ck_assert_str_eq(format_field_name(f, 2), "status");
    free_last();
}
END_TEST

/* LogFormat lines pasted as the config has them, and backslashes in a bare string. */
START_TEST(test_apache_pasted)
{
    value_t v[FORMAT_MAX_FIELDS];
    format_t *f = mk("apache", "LogFormat \"%h %l %u %t \\\"%r\\\" %>s %b\" common");
    ck_assert_int_eq(format_nfields(f), 10);
    ck_assert_int_eq(parse(f, "::1 - - [17/May/2015:10:05:03 +0000] \"GET / HTTP/1.1\" 200 5", v),
                     FORMAT_OK);
    ck_text(&v[fx(f, "path")], VALUE_STR, "/");
    f = mk("apache", "%h \\\"%r\\\"\\t%>s");
    ck_assert_int_eq(parse(f, "::1 \"GET / HTTP/1.1\"\t200", v), FORMAT_OK);
    ck_int(&v[fx(f, "status")], VALUE_INT, 200, "200");
    /* combined and common are these strings */
    ck_assert_int_eq(format_nfields(mk("apache", "%h %l %u %t \"%r\" %>s %b \"%{Referer}i\" "
                                                 "\"%{User-agent}i\"")),
                     12);
    free_last();
}
END_TEST

/* %{...}t: strftime forms, epoch forms and fractions. */
START_TEST(test_apache_times)
{
    static const struct {
        const char *fmt, *line;
        int64_t epoch; /* date -u -d ... +%s */
        format_bad_t why;
    } c[] = {
        {"%{%d/%b/%Y:%H:%M:%S %z}t|%>s", "17/May/2015:10:05:03 -0700|200", 1431882303, FORMAT_OK},
        {"[%{%a, %d %b %Y %H:%M:%S %Z}t] %>s", "[Sun, 17 May 2015 10:05:03 GMT] 200", 1431857103,
         FORMAT_OK},
        {"%{%e %B %Y %I:%M %p}t|%>s", " 7 May 2015 01:05 PM|200", 1431003900, FORMAT_OK},
        {"%{%e %B %Y %I:%M %p}t|%>s", " 7 May 2015 12:05 am|200", 1430957100, FORMAT_OK},
        {"%{%j/%Y}t|%>s", "137/2015|200", 1431820800, FORMAT_OK},
        {"%{%s}t|%>s", "1431857103|200", 1431857103, FORMAT_OK},
        {"%{%D %R}t|%>s", "05/17/15 10:05|200", 1431857100, FORMAT_OK},
        {"%{%F %T}t|%>s", "1999-12-31 23:59:59|200", 946684799, FORMAT_OK},
        {"%{%y}t-%{%m}t|%>s", "69-01|200", 0, FORMAT_OK}, /* no whole date: text */
        {"%{begin:%d/%b/%Y}t|%>s", "32/May/2015|200", 0, FORMAT_BAD_TIME},
        {"%{end:%d/%b/%Y}t|%>s", "17/Mai/2015|200", 0, FORMAT_BAD_TIME},
        {"%{%d/%b/%Y}t|%>s", "29/Feb/2015|200", 0, FORMAT_BAD_TIME},
        {"%{%d/%b/%Y}t|%>s", "29/Feb/2016|200", 1456704000, FORMAT_OK},
        {"%{%d/%b/%Y}t|%>s", "17/May/15|200", 0, FORMAT_BAD_TIME},
        {"%{%H:%M:%S}t|%>s", "24:00:00|200", 0, FORMAT_OK}, /* text: not checked as a time */
        /* as mod_log_config: no form, or begin / end alone, is %t */
        {"%{}t|%>s", "[17/May/2015:10:05:03 +0000]|200", 1431857103, FORMAT_OK},
        {"%{begin}t|%>s", "[17/May/2015:12:05:03 +0200]|200", 1431857103, FORMAT_OK},
        {"%{end:}t|%>s", "[17/May/2015:10:05:03 +0000]|200", 1431857103, FORMAT_OK},
        {"%{end}t|%>s", "17/May/2015:10:05:03 +0000|200", 0, FORMAT_BAD_TIME},
        {"%{beginning %F}t|%>s", "beginning 2015-05-17|200", 1431820800, FORMAT_OK},
    };
    value_t v[FORMAT_MAX_FIELDS];
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        format_t *f = mk("apache", c[i].fmt);
        format_bad_t why = parse(f, c[i].line, v);
        ck_assert_msg(why == c[i].why, "%s on %s: %d", c[i].fmt, c[i].line, why);
        if (why == FORMAT_OK && format_field_type(f, 0) == FORMAT_TIME)
            ck_assert_msg(v[0].kind == VALUE_TIME && v[0].i == c[i].epoch, "%s: %lld", c[i].line,
                          (long long)v[0].i);
        else if (why == FORMAT_OK)
            ck_assert_int_eq(v[0].kind, VALUE_STR);
    }
    format_t *f = mk("apache", "%{sec}t %{msec}t %{usec}t %{msec_frac}t %{usec_frac}t %>s");
    ck_assert_int_eq(parse(f, "1431857103 1431857103123 1431857103123456 123 123456 200", v),
                     FORMAT_OK);
    ck_int(&v[0], VALUE_TIME, 1431857103, "1431857103");
    ck_int(&v[1], VALUE_TIME, 1431857103, "1431857103123");
    ck_int(&v[2], VALUE_TIME, 1431857103, "1431857103123456");
    ck_assert_str_eq(format_field_name(f, 3), "time_msec_frac");
    ck_int(&v[3], VALUE_INT, 123, "123");
    ck_int(&v[4], VALUE_INT, 123456, "123456");
    ck_assert_int_eq(parse(f, "1431857103 x 1 1 1 200", v), FORMAT_BAD_TIME);
    /* a time written without an offset is in the format's zone */
    format_spec_t spec = {
        .kind = "apache", .arg = "%{%Y-%m-%d %H:%M:%S}t %>s", .timezone = "+08:00"};
    f = mk_spec(&spec);
    ck_assert_int_eq(parse(f, "2015-05-17 10:05:03 200", v), FORMAT_OK);
    ck_int(&v[0], VALUE_TIME, 1431828303, "2015-05-17 10:05:03");
    /* an IANA zone: summer and winter offsets (python3 zoneinfo: 10:00Z and 11:00Z) */
    spec.timezone = "Europe/Berlin";
    f = mk_spec(&spec);
    ck_assert_int_eq(parse(f, "2025-07-01 12:00:00 200", v), FORMAT_OK);
    ck_int(&v[0], VALUE_TIME, 1751364000, "2025-07-01 12:00:00");
    ck_assert_int_eq(parse(f, "2025-01-01 12:00:00 200", v), FORMAT_OK);
    ck_int(&v[0], VALUE_TIME, 1735729200, "2025-01-01 12:00:00");
    free_last();
}
END_TEST

/* `fields: [name:type]` types fields of the string; the zone and time_format options. */
START_TEST(test_options)
{
    static const char *const types[] = {"foo:int", "upstream_cache_status:str", "pipe"};
    format_spec_t spec = {.kind = "nginx",
                          .arg = "$remote_addr $upstream_cache_status $foo $pipe",
                          .fields = types,
                          .nfields = 3};
    format_t *f = mk_spec(&spec);
    value_t v[FORMAT_MAX_FIELDS];
    ck_assert_int_eq(format_field_type(f, 2), FORMAT_INT);
    ck_assert_int_eq(format_field_type(f, 3), FORMAT_AUTO);
    ck_assert_int_eq(parse(f, "1.2.3.4 HIT 42 p", v), FORMAT_OK);
    ck_int(&v[2], VALUE_INT, 42, "42");
    ck_assert_int_eq(parse(f, "1.2.3.4 HIT x p", v), FORMAT_BAD_NUMBER);
    static const char *const nosuch[] = {"status:int"};
    format_spec_t bad = {
        .kind = "nginx", .arg = "$remote_addr \"$request\"", .fields = nosuch, .nfields = 1};
    abbey_err_t err;
    ck_assert_int_eq(format_create(&bad, pool, &f, &err), APR_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "no such field"));
    ck_assert_ptr_nonnull(strstr(err.msg, "remote_addr, request, method, path, protocol"));
    static const char *const method[] = {"method:int"};
    bad.fields = method;
    ck_assert_int_eq(format_create(&bad, pool, &f, &err), APR_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "split from the request"));
    format_spec_t zone = {.kind = "nginx", .arg = "$status", .timezone = "Mars/Olympus"};
    ck_assert_int_eq(format_create(&zone, pool, &f, &err), APR_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "time zone \"Mars/Olympus\""));
    format_spec_t tf = {.kind = "apache", .arg = "%t", .time_format = "%d/%b/%Y"};
    ck_assert_int_eq(format_create(&tf, pool, &f, &err), APR_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "time_format"));
    free_last();
}
END_TEST

/* ---- malformed strings ------------------------------------------------------------- */

START_TEST(test_refused)
{
    refused("nginx", "$remote_addr ${status", 13, "not closed");
    refused("nginx", "$remote_addr$status", 12, "nothing between them");
    refused("nginx", "\"$request\"$status$body_bytes_sent", 17, "nothing between them");
    refused("nginx", "$ x", 0, "no variable name");
    refused("nginx", "a $", 2, "no variable name");
    refused("nginx", "${bad-name}", 5, "not part of a variable name");
    refused("nginx", "${}", 0, "no variable name");
    refused("nginx", "escape=xml $status", 7, "escape=xml");
    refused("nginx", "log_format main '$status", 16, "not closed");
    refused("nginx", "log_format main '$status'; x", 27, "after the ';'");
    refused("nginx", "log_format main '$status' x", 26, "expected a quoted string");
    refused("nginx", "no variables here", 0, "no $variable");
    refused("nginx", "", -1, "needs the server's log_format string");
    refused("apache", "%h %{Referer i", 4, "not closed");
    refused("apache", "%h %Z", 4, "unknown directive %Z");
    refused("apache", "%h%u", 2, "nothing between them");
    refused("apache", "%{Referer}", 0, "no directive letter");
    refused("apache", "%h %>", 3, "no directive letter");
    refused("apache", "%h %i", 3, "%i needs a name");
    refused("apache", "%{x}h", 2, "the only form is %{c}h");
    refused("apache", "%{x}p", 2, "canonical, local or remote");
    refused("apache", "%{x}T", 2, "s, ms or us");
    refused("apache", "%{1}u", 1, "takes no {argument}");
    refused("apache", "%{%Q}t", 2, "%{...}t \"%Q\": unknown directive %Q at byte 1");
    refused("apache", "%{begin:%Y-%q}t", 11, "unknown directive %q");
    refused("apache", "%{%Y %}t", 5, "a '%' ends it");
    refused("apache", "%^tx", 1, "%^ti or %^to");
    refused("apache", "LogFormat %h", 10, "expected the quoted format");
    refused("apache", "LogFormat \"%h", 10, "not closed");
    refused("apache", "100%", 3, "no directive letter");
    /* more than FORMAT_MAX_FIELDS fields */
    char many[1024] = "";
    for (int i = 0; i < FORMAT_MAX_FIELDS + 1; i++)
        strcat(many, i ? " %h" : "%h");
    refused("apache", many, 3 * FORMAT_MAX_FIELDS, "more than 64");
    /* a request brings 4 fields: 61 directives and a request is too many */
    char req[1024] = "\"%r\"";
    for (int i = 0; i < FORMAT_MAX_FIELDS - 3; i++)
        strcat(req, " %h");
    refused("apache", req, 5 + 3 * (FORMAT_MAX_FIELDS - 4), "more than 64 fields");
    /* what is allowed: a literal '%', and "$" spelled as a variable's first byte only */
    ck_assert_int_eq(format_nfields(mk("apache", "100%% %>s")), 1);
    ck_assert_int_eq(format_nfields(mk("nginx", "${status}x$remote_addr")), 2);
}
END_TEST

/* Through the rules loader: file:line:col of the byte, in every YAML quoting style. */
START_TEST(test_rules_positions)
{
    static const struct {
        const char *format_line, *where;
    } c[] = {
        /* "    format: {nginx: '" is 21 bytes: the string starts at column 22 */
        {"    format: {nginx: '$remote_addr ${status'}\n", "bad.yaml:3:35:"},
        {"    format: {nginx: \"$remote_addr $status$x\"}\n", "bad.yaml:3:42:"},
        {"    format: {apache: '%h %Z'}\n", "bad.yaml:3:27:"},
        {"    format:\n      apache: |\n        %h\n        %q %Y\n", "bad.yaml:6:13:"},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        char yaml[1024];
        rules_config_t *cfg = NULL;
        abbey_err_t err;
        snprintf(yaml, sizeof yaml,
                 "jobs:\n  - name: web\n%s    sources: [/a.log]\n    groups:\n      - name: g\n"
                 "        entries:\n          - name: e\n            values: {hits: count}\n",
                 c[i].format_line);
        ck_assert_int_eq(rules_load_buffer(yaml, strlen(yaml), "bad.yaml", pool, &cfg, &err),
                         APR_EINVAL);
        ck_assert_msg(strncmp(err.msg, c[i].where, strlen(c[i].where)) == 0, "%s: '%s'", c[i].where,
                      err.msg);
    }
}
END_TEST

static Suite *compile_suite(void)
{
    Suite *s = suite_create("format_logformat_compile");
    TCase *tc = new_case(s, "apache");
    tcase_add_test(tc, test_apache_directives);
    tcase_add_test(tc, test_apache_pasted);
    tcase_add_test(tc, test_apache_times);
    tcase_add_test(tc, test_options);
    tc = new_case(s, "refused");
    tcase_add_test(tc, test_refused);
    tcase_add_test(tc, test_rules_positions);
    return s;
}

int main(void)
{
    int failed;
    apr_initialize();
    failed = check_run(compile_suite());
    apr_terminate();
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
