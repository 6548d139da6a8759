/* check_rules.c - unit tests for the rules loader (rules/rules_*.c).
 *
 * The docs/DESIGN.md example loads into the expected model (every count, name,
 * kind, weight, default and the group placement worked by hand); relative
 * source paths resolve against the rules file's directory; default reports;
 * flow-style aggregate calls with commas; and one bad file per error class,
 * each asserting the exact "bad.yaml:LINE:COL:" (counted by hand from the
 * fixture text) and the words that tell the operator what was expected. */
#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include <apr_general.h>
#include <apr_pools.h>

#include "check_run.h"
#include "fixture_rules.h"
#include "rules.h"

/* ---- the docs/DESIGN.md example ---- */

static const char design_yaml[] =
    "masters:                                  # the master group; the first is the primary\n"
    "  - {name: m1, url: http://127.0.0.1:7101, weight: 2}\n"
    "  - {name: m2, url: http://127.0.0.1:7102, weight: 1}\n"
    "jobs:\n"
    "  - name: web\n"
    "    round: 10s\n"
    "    reset: day                            # UTC unless `timezone:` says otherwise\n"
    "    sources:\n"
    "      - /var/log/nginx/access.log\n"                    /* line 9 */
    "      - {path: \"/data/app-*.log\", labels: [rack1]}\n" /* line 10 */
    "      - http://loghost:8080/access.log\n"               /* line 11 */
    "    format: combined                      # built-ins: combined, common; or\n"
    "    # format: {split: \"\\t\", fields: [ts, user, api, status, ms]}\n"
    "    groups:\n"
    "      - name: traffic\n"
    "        weight: 3\n"
    "        entries:\n"
    "          - name: by_status\n"
    "            key: [status]\n"
    "            values: {hits: count, bytes: sum(bytes)}\n"
    "          - name: pages\n"
    "            key: [path]\n"
    "            where: status >= 200 and status < 300 and method in [\"GET\", \"HEAD\"]\n"
    "            values: {hits: count, visitors: distinct(ip), p95_bytes: percentile(bytes, 95)}\n"
    "      - name: clients\n"
    "        weight: 1\n"
    "        entries:\n"
    "          - name: per_minute\n"
    "            key: [time_bucket(time, 1m)]  # event-time buckets through keys\n"
    "            values: {hits: count, max_bytes: max(bytes), avg_bytes: avg(bytes)}\n"
    "    reports:\n"
    "      - {name: top_pages, entry: pages, order: hits desc, limit: 100, scope: period}\n"
    "      - {name: status, entry: by_status, format: json}\n";

START_TEST(test_design_masters_sources)
{
    rules_config_t *c = load_ok(design_yaml);
    char hex[17];

    ck_assert_int_eq(c->nmasters, 2);
    ck_assert_str_eq(c->masters[0].name, "m1");
    ck_assert_str_eq(c->masters[0].url, "http://127.0.0.1:7101");
    ck_assert_int_eq(c->masters[0].weight, 2);
    ck_assert_int_eq(c->masters[0].index, 0);
    ck_assert_str_eq(c->masters[1].name, "m2");
    ck_assert_int_eq(c->masters[1].weight, 1);
    ck_assert_int_eq(c->masters[1].index, 1);
    ck_assert_ptr_eq(rules_find_master(c, "m2"), &c->masters[1]);
    ck_assert_ptr_null(rules_find_master(c, "m3"));

    /* the config's text and version */
    ck_assert_uint_eq(c->len, strlen(design_yaml));
    ck_assert_str_eq(c->text, design_yaml);
    ck_assert_uint_eq(c->hash, XXH3_64bits(design_yaml, strlen(design_yaml)));
    snprintf(hex, sizeof hex, "%016llx",
             (unsigned long long)XXH3_64bits(design_yaml, strlen(design_yaml)));
    ck_assert_str_eq(c->hash_hex, hex);
    ck_assert_str_eq(c->path, "ok.yaml");

    ck_assert_int_eq(c->njobs, 1);
    const rules_job_t *j = rules_find_job(c, "web");
    ck_assert_ptr_eq(j, &c->jobs[0]);
    ck_assert_ptr_null(rules_find_job(c, "nope"));
    ck_assert_int_eq(j->index, 0);
    ck_assert_int_eq(j->round, 10000000);
    ck_assert_int_eq(j->reset, RULES_RESET_DAY);
    ck_assert_str_eq(tz_name(j->tz), "UTC");
    ck_assert_str_eq(format_name(j->format), "combined");

    ck_assert_int_eq(j->nsources, 3);
    ck_assert_int_eq(j->sources[0].kind, RULES_SRC_FILE);
    ck_assert_str_eq(j->sources[0].path, "/var/log/nginx/access.log");
    ck_assert_int_eq(j->sources[0].nlabels, 0);
    ck_assert_int_eq(j->sources[0].line, 9);
    ck_assert_int_eq(j->sources[1].kind, RULES_SRC_GLOB);
    ck_assert_str_eq(j->sources[1].path, "/data/app-*.log");
    ck_assert_int_eq(j->sources[1].nlabels, 1);
    ck_assert_str_eq(j->sources[1].labels[0], "rack1");
    ck_assert_int_eq(j->sources[1].line, 10);
    ck_assert_int_eq(j->sources[2].kind, RULES_SRC_HTTP);
    ck_assert_str_eq(j->sources[2].path, "http://loghost:8080/access.log");
    ck_assert_int_eq(j->sources[2].line, 11);
    rules_free(c);
}
END_TEST

START_TEST(test_design_groups_entries)
{
    rules_config_t *c = load_ok(design_yaml);
    const rules_job_t *j = &c->jobs[0];
    const char *names[3] = {"by_status", "pages", "per_minute"};

    ck_assert_int_eq(j->ngroups, 2);
    ck_assert_str_eq(j->groups[0].name, "traffic");
    ck_assert_int_eq(j->groups[0].weight, 3);
    ck_assert_int_eq(j->groups[0].index, 0);
    ck_assert_int_eq(j->groups[0].nentries, 2);
    ck_assert_str_eq(j->groups[1].name, "clients");
    ck_assert_int_eq(j->groups[1].weight, 1);
    ck_assert_int_eq(j->groups[1].index, 1);
    ck_assert_int_eq(j->groups[1].nentries, 1);
    /* hunger-weight, by hand: traffic (w3) first: m1 3/2 = 1.5 < m2 3/1 -> m1;
     * clients (w1): m1 (3+1)/2 = 2 > m2 1/1 = 1 -> m2 */
    ck_assert_int_eq(j->groups[0].master, 0);
    ck_assert_int_eq(j->groups[1].master, 1);

    ck_assert_int_eq(j->nentries, 3);
    for (int i = 0; i < 3; i++) {
        ck_assert_str_eq(j->entries[i]->name, names[i]);
        ck_assert_int_eq(j->entries[i]->index, i);
        ck_assert_ptr_eq(j->entries[i]->group, &j->groups[i < 2 ? 0 : 1]);
    }
    ck_assert_ptr_eq(j->groups[0].entries[1], j->entries[1]);

    const rules_entry_t *bs = j->entries[0], *pg = j->entries[1], *pm = j->entries[2];
    ck_assert_int_eq(bs->nkeys, 1);
    ck_assert_str_eq(bs->key_names[0], "status");
    ck_assert_int_eq(expr_field_ref(bs->keys[0]), format_field_index(j->format, "status", 6));
    ck_assert_ptr_null(bs->where);
    ck_assert_int_eq(bs->nvalues, 2);
    ck_assert_str_eq(bs->values[0].name, "hits");
    ck_assert_int_eq(bs->values[0].spec.kind, AGG_COUNT);
    ck_assert_ptr_null(bs->values[0].arg);
    ck_assert_str_eq(bs->values[1].name, "bytes");
    ck_assert_int_eq(bs->values[1].spec.kind, AGG_SUM);
    ck_assert_int_eq(expr_field_ref(bs->values[1].arg), format_field_index(j->format, "bytes", 5));

    ck_assert_ptr_nonnull(pg->where);
    ck_assert_int_eq(expr_type(pg->where), EXPR_T_BOOL);
    ck_assert_int_eq(pg->nvalues, 3);
    ck_assert_str_eq(pg->values[1].name, "visitors");
    ck_assert_int_eq(pg->values[1].spec.kind, AGG_DISTINCT);
    ck_assert_int_eq(expr_field_ref(pg->values[1].arg), format_field_index(j->format, "ip", 2));
    ck_assert_str_eq(pg->values[2].name, "p95_bytes");
    ck_assert_int_eq(pg->values[2].spec.kind, AGG_PERCENTILE);
    ck_assert(pg->values[2].spec.pct == 95.0);
    for (int v = 0; v < pg->nvalues; v++)
        ck_assert(memcmp(&pg->specs[v], &pg->values[v].spec, sizeof(agg_spec_t)) == 0);

    ck_assert_int_eq(pm->nkeys, 1);
    ck_assert_str_eq(pm->key_names[0], "time_bucket(time, 1m)");
    ck_assert_int_eq(expr_type(pm->keys[0]), EXPR_T_TIME);
    ck_assert_int_eq(pm->nvalues, 3);
    ck_assert_int_eq(pm->values[1].spec.kind, AGG_MAX);
    ck_assert_int_eq(pm->values[2].spec.kind, AGG_AVG);
    rules_free(c);
}
END_TEST

START_TEST(test_design_reports)
{
    rules_config_t *c = load_ok(design_yaml);
    const rules_job_t *j = &c->jobs[0];
    ck_assert_int_eq(j->nreports, 2);
    const rules_report_t *tp = &j->reports[0], *st = &j->reports[1];
    ck_assert_str_eq(tp->name, "top_pages");
    ck_assert_ptr_eq(tp->entry, j->entries[1]);
    ck_assert_int_eq(tp->order_col, 1); /* path is column 0, hits column 1 */
    ck_assert_int_eq(tp->order_desc, 1);
    ck_assert_int_eq(tp->limit, 100);
    ck_assert_int_eq(tp->scope, RULES_SCOPE_PERIOD);
    ck_assert_int_eq(tp->format, RULES_REPORT_CSV);
    ck_assert_int_eq(tp->ncols, 4);
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(tp->cols[i], i);
    ck_assert_str_eq(st->name, "status");
    ck_assert_ptr_eq(st->entry, j->entries[0]);
    ck_assert_int_eq(st->format, RULES_REPORT_JSON);
    ck_assert_int_eq(st->order_col, -1);
    ck_assert_int_eq(st->limit, 0);
    ck_assert_int_eq(st->ncols, 3);
    rules_free(c);
}
END_TEST

/* ---- other valid files ---- */

START_TEST(test_defaults_and_settings)
{
    rules_config_t *c =
        load_ok("jobs:\n"
                "  - name: a\n"
                "    round: 500ms\n"
                "    reset: hour\n"
                "    timezone: \"+08:00\"\n"
                "    max_line: 64KiB\n"
                "    sources: [/x.log]\n"
                "    format: {split: \"\\t\", fields: [ts:time, user, api, status:int, ms:float]}\n"
                "    groups:\n"
                "      - name: g\n"
                "        entries:\n"
                "          - name: total\n"
                "            values: {n: count(), s: sum(ms), u: sum(user)}\n"
                "          - name: by_api\n"
                "            key: api\n"
                "            values: {n: count}\n"
                "  - name: b\n"
                "    timezone: -05:30\n"
                "    round: 1m\n"
                "    sources: [/y.log]\n"
                "    format: common\n"
                "    groups: [{name: g, weight: 4, entries: [{name: e, values: {n: count}}]}]\n"
                "    reports: []\n");
    const rules_job_t *a = &c->jobs[0], *b = &c->jobs[1];

    /* no masters: one implicit "local" */
    ck_assert_int_eq(c->nmasters, 1);
    ck_assert_str_eq(c->masters[0].name, "local");
    ck_assert_ptr_null(c->masters[0].url);
    ck_assert_int_eq(c->masters[0].weight, 1);

    ck_assert_int_eq(a->round, 500000);
    ck_assert_int_eq(a->reset, RULES_RESET_HOUR);
    ck_assert_str_eq(tz_name(a->tz), "+08:00");
    ck_assert_int_eq(tz_offset_at(a->tz, 0), 8 * 3600);
    ck_assert_uint_eq(a->max_line, 64 << 10);
    ck_assert_str_eq(format_name(a->format), "split");
    ck_assert_int_eq(format_nfields(a->format), 5);
    ck_assert_int_eq(a->groups[0].weight, 1);
    ck_assert_int_eq(a->groups[0].master, 0);
    ck_assert_int_eq(a->entries[0]->nkeys, 0);
    ck_assert_int_eq(a->entries[0]->values[0].spec.kind, AGG_COUNT);
    ck_assert_int_eq(a->entries[1]->nkeys, 1);
    ck_assert_str_eq(a->entries[1]->key_names[0], "api");
    /* default reports: one csv per entry, named after it, period, all columns */
    ck_assert_int_eq(a->nreports, 2);
    for (int i = 0; i < 2; i++) {
        const rules_report_t *r = &a->reports[i];
        ck_assert_str_eq(r->name, a->entries[i]->name);
        ck_assert_ptr_eq(r->entry, a->entries[i]);
        ck_assert_int_eq(r->format, RULES_REPORT_CSV);
        ck_assert_int_eq(r->scope, RULES_SCOPE_PERIOD);
        ck_assert_int_eq(r->order_col, -1);
        ck_assert_int_eq(r->limit, 0);
        ck_assert_int_eq(r->ncols, a->entries[i]->nkeys + a->entries[i]->nvalues);
    }
    ck_assert_int_eq(b->round, 60000000);
    ck_assert_int_eq(b->reset, RULES_RESET_NEVER);
    ck_assert_str_eq(tz_name(b->tz), "-05:30");
    ck_assert_int_eq(tz_offset_at(b->tz, 0), -(5 * 3600 + 30 * 60));
    ck_assert_uint_eq(b->max_line, 4 << 20); /* the default */
    ck_assert_int_eq(b->groups[0].weight, 4);
    ck_assert_int_eq(b->nreports, 0); /* reports: [] means none */
    rules_free(c);
}
END_TEST

START_TEST(test_flow_calls_and_columns)
{
    rules_config_t *c = load_ok(
        "jobs:\n"
        "  - name: web\n"
        "    sources: [/x.log]\n"
        "    format: combined\n"
        "    groups:\n"
        "      - name: g\n"
        "        entries:\n"
        "          - name: e\n"
        "            key: [time_bucket(time, 1m), {st: status}, \"substr(path, 0, 4)\"]\n"
        "            values: {p: percentile(bytes, 99.9), n: distinct_exact(ip, 50000),\n"
        "                     d: distinct_exact(user), s: sum(coalesce(bytes, 0))}\n"
        "    reports:\n"
        "      - {name: r, entry: e, order: s, columns: [s, st], format: json, scope: round}\n");
    const rules_entry_t *e = c->jobs[0].entries[0];
    const rules_report_t *r = &c->jobs[0].reports[0];
    ck_assert_int_eq(e->nkeys, 3);
    ck_assert_str_eq(e->key_names[0], "time_bucket(time, 1m)");
    ck_assert_str_eq(e->key_names[1], "st");
    ck_assert_str_eq(e->key_names[2], "substr(path, 0, 4)");
    ck_assert_int_eq(e->nvalues, 4);
    ck_assert_int_eq(e->specs[0].kind, AGG_PERCENTILE);
    ck_assert(e->specs[0].pct == 99.9);
    ck_assert_int_eq(e->specs[1].kind, AGG_DISTINCT_EXACT);
    ck_assert_uint_eq(e->specs[1].cap, 50000);
    ck_assert_uint_eq(e->specs[2].cap, AGG_EXACT_CAP_DEFAULT);
    ck_assert_int_eq(e->specs[3].kind, AGG_SUM);
    ck_assert_str_eq(e->values[3].name, "s");
    /* columns: keys 0..2, then p 3, n 4, d 5, s 6 */
    ck_assert_int_eq(r->order_col, 6);
    ck_assert_int_eq(r->order_desc, 0); /* asc when the word is omitted */
    ck_assert_int_eq(r->ncols, 2);
    ck_assert_int_eq(r->cols[0], 6);
    ck_assert_int_eq(r->cols[1], 1);
    ck_assert_int_eq(r->format, RULES_REPORT_JSON);
    ck_assert_int_eq(r->scope, RULES_SCOPE_ROUND);
    rules_free(c);
}
END_TEST

START_TEST(test_groups_qualified_by_job)
{
    /* masters m1, m2 both w1; job a has group z, job b has group y (all w1).
     * Qualified names: "a/z" < "b/y", so a/z goes first -> m1 (tie, name),
     * then b/y: m1 2/1 vs m2 1/1 -> m2. (Unqualified, y would go first.) */
    rules_config_t *c =
        load_ok("masters: [{name: m1, url: \"http://h:1\"}, {name: m2, url: \"http://h:2\"}]\n"
                "jobs:\n"
                "  - {name: a, sources: [/a], format: common,\n"
                "     groups: [{name: z, entries: [{name: e, values: {n: count}}]}]}\n"
                "  - {name: b, sources: [/b], format: common,\n"
                "     groups: [{name: y, entries: [{name: e, values: {n: count}}]}]}\n");
    ck_assert_int_eq(c->jobs[0].groups[0].master, 0);
    ck_assert_int_eq(c->jobs[1].groups[0].master, 1);
    rules_free(c);
}
END_TEST

/* ---- relative paths ---- */

static const char rel_yaml[] =
    "jobs:\n"
    "  - name: web\n"
    "    sources:\n"
    "      - logs/a.log\n"
    "      - {path: \"./b-*.log\"}\n"
    "      - ../c.log\n"
    "      - /abs/d.log\n"
    "      - {url: \"https://h/x.log\"}\n"
    "    format: combined\n"
    "    groups: [{name: g, entries: [{name: e, values: {n: count}}]}]\n";

START_TEST(test_relative_paths_file)
{
    char dir[] = "/tmp/check_rules_XXXXXX", sub[128], path[160], expect[200];
    FILE *f;
    rules_config_t *c = NULL;
    abbey_err_t err;

    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(sub, sizeof sub, "%s/conf", dir);
    ck_assert_int_eq(mkdir(sub, 0700), 0);
    snprintf(path, sizeof path, "%s/rules.yaml", sub);
    f = fopen(path, "w");
    fputs(rel_yaml, f);
    fclose(f);
    ck_assert_msg(rules_load_file(path, pool, &c, &err) == APR_SUCCESS, "%s", err.msg);
    const rules_job_t *j = &c->jobs[0];
    snprintf(expect, sizeof expect, "%s/conf/logs/a.log", dir);
    ck_assert_str_eq(j->sources[0].path, expect);
    ck_assert_int_eq(j->sources[0].kind, RULES_SRC_FILE);
    snprintf(expect, sizeof expect, "%s/conf/b-*.log", dir);
    ck_assert_str_eq(j->sources[1].path, expect);
    ck_assert_int_eq(j->sources[1].kind, RULES_SRC_GLOB);
    snprintf(expect, sizeof expect, "%s/c.log", dir);
    ck_assert_str_eq(j->sources[2].path, expect);
    ck_assert_str_eq(j->sources[3].path, "/abs/d.log");
    ck_assert_str_eq(j->sources[4].path, "https://h/x.log");
    ck_assert_int_eq(j->sources[4].kind, RULES_SRC_HTTP);
    ck_assert_str_eq(c->path, path);
    ck_assert_str_eq(c->text, rel_yaml);
    rules_free(c);
    unlink(path);
    rmdir(sub);
    rmdir(dir);

    /* a missing file: the APR error, and a message naming the path */
    ck_assert_int_ne(rules_load_file("/nonexistent/rules.yaml", pool, &c, &err), APR_SUCCESS);
    ck_assert_ptr_null(c);
    ck_assert_ptr_nonnull(strstr(err.msg, "/nonexistent/rules.yaml"));
}
END_TEST

START_TEST(test_relative_paths_buffer)
{
    char cwd[512], expect[600];
    rules_config_t *c = load_ok(rel_yaml);
    ck_assert_ptr_nonnull(getcwd(cwd, sizeof cwd));
    snprintf(expect, sizeof expect, "%s/logs/a.log", strcmp(cwd, "/") ? cwd : "");
    ck_assert_str_eq(c->jobs[0].sources[0].path, expect);
    rules_free(c);
}
END_TEST

START_TEST(test_base_dir)
{
    char yaml[600];
    rules_config_t *c;
    /* an absolute base_dir, and one relative to the file (here: the current directory) */
    snprintf(yaml, sizeof yaml, "base_dir: /srv/logs\n%s", rel_yaml);
    c = load_ok(yaml);
    ck_assert_str_eq(c->jobs[0].sources[0].path, "/srv/logs/logs/a.log");
    ck_assert_str_eq(c->jobs[0].sources[2].path, "/srv/c.log");
    ck_assert_str_eq(c->jobs[0].sources[3].path, "/abs/d.log");
    rules_free(c);
    snprintf(yaml, sizeof yaml, "base_dir: /srv/logs/sub/..\n%s", rel_yaml);
    c = load_ok(yaml);
    ck_assert_str_eq(c->jobs[0].sources[1].path, "/srv/logs/b-*.log");
    rules_free(c);
}
END_TEST

/* ---- one bad file per error class ---- */

/* A valid file (lines 1-9); tests add or change lines. Columns in comments. */
#define L1 "jobs:\n"
#define L2 "  - name: web\n"         /* name 5, web 11 */
#define L3 "    sources: [/a.log]\n" /* sources 5, [ 14 */
#define L4 "    format: combined\n"  /* combined 13 */
#define L5 "    groups:\n"
#define L6 "      - name: g\n" /* name 9, g 15 */
#define L7 "        entries:\n"
#define L8 "          - name: e\n"               /* name 13, e 19 */
#define L9 "            values: {hits: count}\n" /* values 13, { 21, hits 22 */
#define HEAD L1 L2 L3 L4 L5 L6 L7 L8
#define BASE HEAD L9

START_TEST(test_err_yaml)
{
    expect_error(L1 "  - name: a: b\n", "bad.yaml:2:12:", "YAML syntax error", "mapping values",
                 NULL);
    expect_error(L1 "\t- name: web\n", "bad.yaml:2:1:", "tabs", "spaces", NULL);
    expect_error("", "bad.yaml:1:1:", "empty", "jobs", NULL);
    expect_error(BASE "---\n" BASE, "bad.yaml:11:1:", "second YAML document", NULL);
    expect_error("jobs: [\"a\xff\"]\n", "bad.yaml:1:10:", "UTF-8", NULL);
    expect_error("- just\n- a list\n", "bad.yaml:1:1:", "rules file: expected a map", NULL);
    /* no error struct: still fails cleanly */
    rules_config_t *c = NULL;
    const char *no_sources = L1 "  - {name: a}\n";
    ck_assert_int_eq(rules_load_buffer(no_sources, strlen(no_sources), NULL, pool, &c, NULL),
                     APR_EINVAL);
    ck_assert_ptr_null(c);
}
END_TEST

START_TEST(test_err_unknown_keys)
{
    expect_error("jobz:\n" L2, "bad.yaml:1:1:", "unknown key 'jobz'", "allowed: masters, jobs",
                 NULL);
    expect_error(L1 L2 "    rounds: 10s\n", "bad.yaml:3:5:", "unknown key 'rounds'",
                 "allowed: name, round, reset", NULL);
    expect_error(HEAD "            value: {hits: count}\n", "bad.yaml:9:13:", "unknown key 'value'",
                 "allowed: name, key, where, values", NULL);
    expect_error(L1 L2 "    name: web2\n", "bad.yaml:3:5:", "duplicate key 'name'", "first at 2:5",
                 NULL);
}
END_TEST

START_TEST(test_err_missing)
{
    expect_error(L1 "  - sources: [/a.log]\n" L4 L5 L6 L7 L8 L9,
                 "bad.yaml:2:5:", "missing required key 'name'", NULL);
    expect_error(L1 L2 L3 L4, "bad.yaml:2:5:", "missing required key 'groups'", NULL);
    expect_error(HEAD, "bad.yaml:8:13:", "missing required key 'values'", NULL);
    expect_error(L1 L2 "    sources: []\n" L4 L5 L6 L7 L8 L9, "bad.yaml:3:14:", "list of sources",
                 "at least 1", NULL);
    expect_error(L1 L2 "    sources: /a.log\n" L4 L5 L6 L7 L8 L9,
                 "bad.yaml:3:14:", "expected a list of sources", "'/a.log'", NULL);
}
END_TEST

START_TEST(test_err_duplicates)
{
    expect_error(BASE "  - name: web\n", "bad.yaml:10:11:", "duplicate job name 'web'",
                 "first at 2:11", NULL);
    expect_error(BASE "      - name: g\n        entries: [{name: e2, values: {n: count}}]\n",
                 "bad.yaml:10:15:", "duplicate group name 'g'", "first at 6:15", NULL);
    expect_error(BASE "          - name: e\n            values: {n: count}\n",
                 "bad.yaml:10:19:", "duplicate entry name 'e'", "first at 8:19", NULL);
    expect_error(BASE "    reports:\n      - {name: r, entry: e}\n      - {name: r, entry: e}\n",
                 "bad.yaml:12:16:", "duplicate report name 'r'", "first at 11:16", NULL);
    expect_error(HEAD "            values: {hits: count, hits: sum(bytes)}\n",
                 "bad.yaml:9:35:", "duplicate column 'hits'", "first at 9:22", NULL);
}
END_TEST

START_TEST(test_err_job_settings)
{
    expect_error(L1 L2 "    round: 10x\n" L3 L4 L5 L6 L7 L8 L9, "bad.yaml:3:12:", "bad round '10x'",
                 "duration", NULL);
    expect_error(L1 L2 "    round: 50ms\n" L3 L4 L5 L6 L7 L8 L9, "bad.yaml:3:12:", "out of range",
                 "100ms", NULL);
    expect_error(L1 L2 "    round: 99999999999999d\n" L3 L4 L5 L6 L7 L8 L9,
                 "bad.yaml:3:12:", "out of range", "1d", NULL);
    expect_error(L1 L2 "    max_line: 4MB\n" L3 L4 L5 L6 L7 L8 L9,
                 "bad.yaml:3:15:", "bad max_line '4MB'", "4MiB", NULL);
    expect_error(L1 L2 "    max_line: 63\n" L3 L4 L5 L6 L7 L8 L9,
                 "bad.yaml:3:15:", "max_line '63' is out of range", "64 bytes to 64MiB", NULL);
    expect_error(L1 L2 "    max_line: 65MiB\n" L3 L4 L5 L6 L7 L8 L9,
                 "bad.yaml:3:15:", "out of range", NULL);
    expect_error(L1 L2 "    max_line: 99999999999999999999MiB\n" L3 L4 L5 L6 L7 L8 L9,
                 "bad.yaml:3:15:", "out of range", NULL);
    expect_error(L1 L2 "    max_line: [1]\n" L3 L4 L5 L6 L7 L8 L9,
                 "bad.yaml:3:15:", "max_line: expected a size", "a list", NULL);
    expect_error(L1 L2 "    reset: weekly\n" L3 L4 L5 L6 L7 L8 L9,
                 "bad.yaml:3:12:", "reset must be one of never, hour, day", "'weekly'", NULL);
    expect_error(L1 L2 "    timezone: \"+25:00\"\n" L3 L4 L5 L6 L7 L8 L9,
                 "bad.yaml:3:15:", "timezone: bad time zone \"+25:00\"", "at most 14:00", "+08:00",
                 NULL);
    expect_error(L1 L2 "    timezone: Europe/Berln\n" L3 L4 L5 L6 L7 L8 L9,
                 "bad.yaml:3:15:", "timezone: unknown time zone \"Europe/Berln\": no such zone",
                 "such as Europe/Berlin", NULL);
    expect_error(L1 L2 "    timezone: ../../etc/passwd\n" L3 L4 L5 L6 L7 L8 L9,
                 "bad.yaml:3:15:", "timezone: bad time zone", "no \"..\", not absolute", NULL);
    expect_error(L1 L2 L3 "    format: weblog\n" L5 L6 L7 L8 L9, "bad.yaml:4:13:", "unknown format",
                 "combined", NULL);
    expect_error(L1 L2 L3 "    format: apache\n" L5 L6 L7 L8 L9,
                 "bad.yaml:4:13:", "apache format: needs the server's LogFormat string", NULL);
    expect_error(L1 L2 L3 "    format: {split: \",\"}\n" L5 L6 L7 L8 L9,
                 "bad.yaml:4:13:", "missing required key 'fields'", NULL);
    expect_error(L1 L2 L3 "    format: {split: \",\", fields: [a, a]}\n" L5 L6 L7 L8 L9,
                 "bad.yaml:4:34:", "fields", "duplicate", NULL);
}
END_TEST

START_TEST(test_err_fields)
{
    expect_error(BASE "            key: [nope]\n", "bad.yaml:10:19:", "unknown field 'nope'", NULL);
    expect_error(BASE "            where: nope = 1\n", "bad.yaml:10:20:", "unknown field 'nope'",
                 NULL);
    expect_error(HEAD "            values: {b: sum(nope)}\n",
                 "bad.yaml:9:29:", "unknown field 'nope'", NULL);
    expect_error(HEAD "            values: {b: sum(path)}\n",
                 "bad.yaml:9:29:", "sum(path): path is text; sum needs a number", NULL);
    expect_error(HEAD "            values: {b: avg(status >= 500)}\n",
                 "bad.yaml:9:29:", "is a condition", "avg needs a number", NULL);
    expect_error(BASE "            where: bytes + 1\n",
                 "bad.yaml:10:20:", "where must be a condition", NULL);
}
END_TEST

START_TEST(test_err_aggregates)
{
    expect_error(HEAD "            values: {p: percentile(bytes)}\n",
                 "bad.yaml:9:25:", "percentile needs p", "0 < p <= 100", NULL);
    expect_error(HEAD "            values: {p: percentile(bytes, 0)}\n",
                 "bad.yaml:9:43:", "0 < p <= 100", "'0'", NULL);
    expect_error(HEAD "            values: {p: percentile(bytes, 101)}\n",
                 "bad.yaml:9:43:", "0 < p <= 100", "'101'", NULL);
    expect_error(HEAD "            values: {d: distinct_exact(ip, 0)}\n",
                 "bad.yaml:9:44:", "cap must be an integer from 1 to 10000000", NULL);
    expect_error(HEAD "            values: {m: median(bytes)}\n",
                 "bad.yaml:9:25:", "unknown aggregate 'median'", "percentile", NULL);
    expect_error(HEAD "            values: {m: count(bytes)}\n",
                 "bad.yaml:9:31:", "count takes no argument", NULL);
    expect_error(HEAD "            values: {m: sum()}\n", "bad.yaml:9:25:", "sum needs an argument",
                 NULL);
}
END_TEST

START_TEST(test_err_reports)
{
    expect_error(BASE "    reports:\n      - {name: r, entry: nope}\n",
                 "bad.yaml:11:26:", "no entry 'nope' in job 'web'", "entries: e", NULL);
    expect_error(BASE "    reports:\n      - {name: r, entry: e, order: bytes desc}\n",
                 "bad.yaml:11:36:", "no column 'bytes'", "columns: hits", NULL);
    expect_error(BASE "    reports:\n      - {name: r, entry: e, limit: -1}\n",
                 "bad.yaml:11:36:", "limit must be an integer >= 0", NULL);
    expect_error(BASE "    reports:\n      - {name: r, entry: e, columns: [hits, x]}\n",
                 "bad.yaml:11:45:", "no column 'x'", NULL);
    expect_error(BASE "    reports:\n      - {name: r, entry: e, format: xml}\n",
                 "bad.yaml:11:37:", "report format must be one of csv, json", NULL);
}
END_TEST

START_TEST(test_err_masters_groups)
{
    /* "  - {name: m1, url: \"http://h:1\", weight: 0}": url's quote at 21, weight value at 43 */
    expect_error("masters:\n  - {name: m1, url: \"http://h:1\", weight: 0}\n" BASE,
                 "bad.yaml:2:43:", "master weight must be an integer from 1", NULL);
    expect_error("masters:\n  - {name: m1, url: \"ftp://h\"}\n" BASE,
                 "bad.yaml:2:21:", "url must start with http:// or https://", NULL);
    expect_error("masters:\n  - {name: m1}\n" BASE, "bad.yaml:2:5:", "missing required key 'url'",
                 NULL);
    expect_error(L1 L2 L3 L4 L5 L6 "        weight: -1\n" L7 L8 L9,
                 "bad.yaml:7:17:", "group weight must be an integer from 1", "'-1'", NULL);
    expect_error(L1 "  - name: \"bad name\"\n", "bad.yaml:2:11:", "bad job name", NULL);
}
END_TEST

/* `rejects:`: defaults, every key, a relative path against base_dir, and errors. */
START_TEST(test_rejects)
{
    rules_config_t *c = load_ok(BASE);
    const rules_rejects_t *r = &c->jobs[0].rejects;
    ck_assert_ptr_null(r->dir);
    ck_assert_uint_eq(r->max_per_round, RULES_REJECTS_PER_ROUND);
    ck_assert_uint_eq(r->max_size, RULES_REJECTS_SIZE);
    ck_assert_int_eq(r->keep, RULES_REJECTS_KEEP);
    rules_free(c);
    c = load_ok("base_dir: /srv\n" L1 L2 L3 L4 "    rejects: {path: rej/web}\n" L5 L6 L7 L8 L9);
    r = &c->jobs[0].rejects;
    ck_assert_str_eq(r->dir, "/srv/rej/web");
    ck_assert_uint_eq(r->max_per_round, 1000);
    rules_free(c);
    c = load_ok(L1 L2 L3 L4 "    rejects: {path: /var/rej, max_per_round: 0, max_size: 1GiB, "
                            "keep: 9}\n" L5 L6 L7 L8 L9);
    r = &c->jobs[0].rejects;
    ck_assert_str_eq(r->dir, "/var/rej");
    ck_assert_uint_eq(r->max_per_round, 0);
    ck_assert_uint_eq(r->max_size, (uint64_t)1 << 30);
    ck_assert_int_eq(r->keep, 9);
    rules_free(c);
    expect_error(L1 L2 L3 L4 "    rejects: /var/rej\n" L5 L6 L7 L8 L9,
                 "bad.yaml:5:14:", "rejects: expected a map", NULL);
    expect_error(L1 L2 L3 L4 "    rejects: {max_per_round: 5}\n" L5 L6 L7 L8 L9,
                 "bad.yaml:5:14:", "missing required key 'path'", NULL);
    expect_error(L1 L2 L3 L4 "    rejects: {path: /r, every: 5}\n" L5 L6 L7 L8 L9,
                 "bad.yaml:5:", "every", "max_per_round", NULL);
    expect_error(L1 L2 L3 L4 "    rejects: {path: /r, max_per_round: -1}\n" L5 L6 L7 L8 L9,
                 "bad.yaml:5:40:", "max_per_round must be an integer from 0", NULL);
    expect_error(L1 L2 L3 L4 "    rejects: {path: /r, max_size: 1k}\n" L5 L6 L7 L8 L9,
                 "bad.yaml:5:35:", "bad max_size '1k'", NULL);
    expect_error(L1 L2 L3 L4 "    rejects: {path: /r, max_size: 1KiB}\n" L5 L6 L7 L8 L9,
                 "bad.yaml:5:35:", "max_size '1KiB' is out of range", "4KiB to 64GiB", NULL);
    expect_error(L1 L2 L3 L4 "    rejects: {path: /r, keep: 0}\n" L5 L6 L7 L8 L9,
                 "bad.yaml:5:31:", "keep must be an integer from 1 to 100", NULL);
}
END_TEST

static Suite *rules_suite(void)
{
    Suite *s = suite_create("rules");
    TCase *tc = tcase_create("model");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_design_masters_sources);
    tcase_add_test(tc, test_design_groups_entries);
    tcase_add_test(tc, test_design_reports);
    tcase_add_test(tc, test_defaults_and_settings);
    tcase_add_test(tc, test_flow_calls_and_columns);
    tcase_add_test(tc, test_groups_qualified_by_job);
    suite_add_tcase(s, tc);
    tc = tcase_create("paths");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_relative_paths_file);
    tcase_add_test(tc, test_relative_paths_buffer);
    tcase_add_test(tc, test_base_dir);
    suite_add_tcase(s, tc);
    tc = tcase_create("errors");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_err_yaml);
    tcase_add_test(tc, test_err_unknown_keys);
    tcase_add_test(tc, test_err_missing);
    tcase_add_test(tc, test_err_duplicates);
    tcase_add_test(tc, test_err_job_settings);
    tcase_add_test(tc, test_err_fields);
    tcase_add_test(tc, test_err_aggregates);
    tcase_add_test(tc, test_err_reports);
    tcase_add_test(tc, test_err_masters_groups);
    tcase_add_test(tc, test_rejects);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    int failed;
    failed = check_run(rules_suite());
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
