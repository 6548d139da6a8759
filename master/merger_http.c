/* merger_http.c - what the merger shows: POST /v1/partials, GET /v1/reports/, status, metrics
 * (GET /v1/history/ is merger_history.c's, the reports' metrics merger_prom.c's).
 *
 * The handlers are thin: they call merger_accept / merger_report and turn
 * the result into the answers docs/CLUSTER.md lists (503 when the journal
 * cannot take a frame). Status and metrics are
 * snapshots taken under the state lock; JSON is built with jansson. */
#include "merger_int.h"

#include <apr_strings.h>
#include <jansson.h>
#include <string.h>

#include "jsonio.h"

/* ---- counters ----------------------------------------------------------- */

const char *const merger_count_names[MERGER_NCOUNTS] = {
    "merged", "duplicate", "conflict", "rejected", "late", "expired", "unavailable"};

uint64_t *merger_count_field(mcount_t *c, int i)
{
    uint64_t *f[MERGER_NCOUNTS] = {&c->merged, &c->duplicate, &c->conflict,   &c->rejected,
                                   &c->late,   &c->expired,   &c->unavailable};
    return f[i];
}

json_t *merger_counts_json(const mcount_t *c)
{
    mcount_t v = *c;
    json_t *o = json_object();

    for (int i = 0; i < MERGER_NCOUNTS; i++)
        json_object_set_new(o, merger_count_names[i], jsonio_u64(*merger_count_field(&v, i)));
    return o;
}

json_t *merger_reasons_json(const uint64_t bad_by[PARTIAL_BAD_N])
{
    json_t *o = json_object();
    for (int r = 0; r < PARTIAL_BAD_N; r++)
        if (bad_by[r])
            json_object_set_new(o, partial_reason_name(r), jsonio_u64(bad_by[r]));
    return o;
}

static void counts_add(mcount_t *dst, const mcount_t *src)
{
    mcount_t s = *src;

    for (int i = 0; i < MERGER_NCOUNTS; i++)
        *merger_count_field(dst, i) += *merger_count_field(&s, i);
}

/* ---- status ------------------------------------------------------------- */

/* The owned entries' tables: [{"name","max_keys","keys","bytes","folded_lines","folded_keys"}]. */
static json_t *entries_json(const mjob_t *j)
{
    json_t *a = json_array();
    for (int e = 0; e < j->job->nentries; e++) {
        const rules_entry_t *en = j->job->entries[e];
        merger_entry_mem_t mem;
        if (!j->owned[en->group->index])
            continue;
        merger_entry_memory(j, e, &mem);
        json_array_append_new(a, json_pack("{s:s,s:o,s:o,s:o,s:o,s:o}", "name", en->name,
                                           "max_keys", jsonio_u64(rules_entry_max_rows(en)), "keys",
                                           jsonio_u64(mem.keys), "bytes", jsonio_u64(mem.bytes),
                                           "folded_lines", jsonio_u64(mem.folded_lines),
                                           "folded_keys", jsonio_u64(mem.folded_keys)));
    }
    return a;
}

static json_t *job_json(const mjob_t *j)
{
    json_t *o = json_object(), *pending = json_array();
    for (int i = 0; i < j->nrounds; i++)
        if (j->rounds[i]->closed && !j->rounds[i]->exported)
            json_array_append_new(pending, json_integer((json_int_t)j->rounds[i]->r));
    json_object_set_new(o, "name", json_string(j->job->name));
    json_object_set_new(o, "round_ms", json_integer(j->round_ms));
    json_object_set_new(o, "counting_since_ms", json_integer(j->since_ms));
    json_object_set_new(o, "period_reports_stale", json_boolean(j->period_changed));
    json_object_set_new(o, "last_closed_round",
                        j->any_closed ? json_integer((json_int_t)j->last_closed) : json_null());
    json_object_set_new(o, "last_exported_round",
                        j->any_exported ? json_integer((json_int_t)j->last_exported) : json_null());
    json_object_set_new(o, "rounds_exported", json_integer((json_int_t)j->rounds_exported));
    json_object_set_new(o, "rounds_amended", json_integer((json_int_t)j->rounds_amended));
    json_object_set_new(o, "rounds_incomplete", json_integer((json_int_t)j->rounds_incomplete));
    json_object_set_new(o, "pending_rounds", pending);
    json_object_set_new(o, "ranges_owed", json_integer((json_int_t)j->nowed));
    json_object_set_new(o, "ranges_owed_dropped", json_integer((json_int_t)j->owed_dropped));
    json_object_set_new(o, "partials", merger_counts_json(&j->c));
    json_object_set_new(o, "lines", json_integer((json_int_t)j->lines));
    json_object_set_new(o, "bad_lines", json_integer((json_int_t)j->bad_lines));
    json_object_set_new(o, "bad_lines_by_reason", merger_reasons_json(j->bad_by));
    json_object_set_new(o, "bytes", json_integer((json_int_t)j->bytes));
    json_object_set_new(o, "regex_limit_hits", json_integer((json_int_t)j->regex_limit_hits));
    json_object_set_new(o, "sources", json_integer((json_int_t)apr_hash_count(j->sources)));
    json_object_set_new(o, "entries", entries_json(j));
    json_object_set_new(o, "memory", merger_budget_job_json(j));
    return o;
}

void merger_status_json(merger_t *m, buf_t *out)
{
    json_t *o = json_object(), *jobs = json_array();
    mcount_t all;

    apr_thread_mutex_lock(m->lock);
    all = m->unknown;
    for (int i = 0; i < m->cfg->njobs; i++) {
        counts_add(&all, &m->jobs[i].c);
        json_array_append_new(jobs, job_json(&m->jobs[i]));
    }
    json_object_set_new(o, "master", json_string(m->self));
    json_object_set_new(o, "partials", merger_counts_json(&all));
    json_object_set_new(o, "frame_bytes",
                        json_pack("{s:I,s:I}", "received", (json_int_t)m->frame_bytes, "accepted",
                                  (json_int_t)m->frame_bytes_accepted));
    json_object_set_new(o, "combined",
                        json_pack("{s:I,s:I}", "frames", (json_int_t)m->combined_frames, "ranges",
                                  (json_int_t)m->combined_ranges));
    json_object_set_new(o, "export_errors", json_integer((json_int_t)m->export_errors));
    json_object_set_new(o, "memory", merger_budget_status(m));
    json_object_set_new(o, "jobs", jobs);
    apr_thread_mutex_unlock(m->lock);
    jsonio_dump_buf(o, out);
    json_decref(o);
}

/* ---- metrics ------------------------------------------------------------ */

static void metric_counts(buf_t *out, const char *self, const char *job, const mcount_t *c)
{
    mcount_t v = *c;

    for (int i = 0; i < MERGER_NCOUNTS; i++)
        buf_printf(out, "abbey_partials_total{master=\"%s\",job=\"%s\",result=\"%s\"} %llu\n", self,
                   job, merger_count_names[i], (unsigned long long)*merger_count_field(&v, i));
}

static void metric_job(buf_t *out, const char *name, const char *self, const char *job, uint64_t v)
{
    buf_printf(out, "%s{master=\"%s\",job=\"%s\"} %llu\n", name, self, job, (unsigned long long)v);
}

/* Gauges per owned entry (merger_entry_memory), under the lock. */
static void metric_entries(merger_t *m, buf_t *out)
{
    static const char *gauges[5] = {"abbey_entry_keys", "abbey_entry_max_keys", "abbey_entry_bytes",
                                    "abbey_entry_folded_lines", "abbey_entry_folded_keys"};
    static const char *helps[5] = {
        "Rows with a key in the entry's newest period totals.",
        "The rows a table of the entry holds at most (max_keys, or a top entry's capacity).",
        "Approximate memory of every table of the entry this master keeps.",
        "Lines in the overflow row of the entry's newest period totals.",
        "Distinct keys folded into that overflow row (estimated past 1024)."};
    for (int k = 0; k < 5; k++) {
        buf_printf(out, "# HELP %s %s\n# TYPE %s gauge\n", gauges[k], helps[k], gauges[k]);
        for (int i = 0; i < m->cfg->njobs; i++) {
            const mjob_t *j = &m->jobs[i];
            for (int e = 0; e < j->job->nentries; e++) {
                const rules_entry_t *en = j->job->entries[e];
                merger_entry_mem_t mem;
                uint64_t v[5];
                if (!j->owned[en->group->index])
                    continue;
                merger_entry_memory(j, e, &mem);
                v[0] = mem.keys;
                v[1] = rules_entry_max_rows(en);
                v[2] = mem.bytes;
                v[3] = mem.folded_lines;
                v[4] = mem.folded_keys;
                buf_printf(out, "%s{master=\"%s\",job=\"%s\",entry=\"%s\"} %llu\n", gauges[k],
                           m->self, j->job->name, en->name, (unsigned long long)v[k]);
            }
        }
    }
}

void merger_metrics(merger_t *m, buf_t *out)
{
    static const char *counters[5] = {"abbey_lines_total", "abbey_bad_lines_total",
                                      "abbey_bytes_total", "abbey_rounds_exported_total",
                                      "abbey_regex_limit_hits_total"};
    static const char *helps[5] = {
        "Lines of the frames this master merged.", "Bad lines of the frames this master merged.",
        "Log bytes of the frames this master merged.", "Round exports this master made.",
        "Lines of the merged frames on which a regex match gave up at its limits."};
    apr_thread_mutex_lock(m->lock);
    buf_printf(out, "# HELP abbey_partials_total Frames sent to this master, by job and "
                    "result.\n# TYPE abbey_partials_total counter\n");
    for (int i = 0; i < m->cfg->njobs; i++)
        metric_counts(out, m->self, m->jobs[i].job->name, &m->jobs[i].c);
    metric_counts(out, m->self, "", &m->unknown);
    for (int k = 0; k < 5; k++) {
        buf_printf(out, "# HELP %s %s\n# TYPE %s counter\n", counters[k], helps[k], counters[k]);
        for (int i = 0; i < m->cfg->njobs; i++) {
            const mjob_t *j = &m->jobs[i];
            const uint64_t v[5] = {j->lines, j->bad_lines, j->bytes, j->rounds_exported,
                                   j->regex_limit_hits};
            metric_job(out, counters[k], m->self, j->job->name, v[k]);
        }
    }
    buf_printf(out, "# HELP abbey_bad_lines_reason_total Bad lines of the frames this master "
                    "merged, by reason.\n# TYPE abbey_bad_lines_reason_total counter\n");
    for (int i = 0; i < m->cfg->njobs; i++)
        for (int r = 0; r < PARTIAL_BAD_N; r++)
            if (m->jobs[i].bad_by[r])
                buf_printf(out,
                           "abbey_bad_lines_reason_total{master=\"%s\",job=\"%s\",reason=\"%s\"} "
                           "%llu\n",
                           m->self, m->jobs[i].job->name, partial_reason_name(r),
                           (unsigned long long)m->jobs[i].bad_by[r]);
    metric_entries(m, out);
    merger_budget_metrics(m, out);
    buf_printf(out, "# HELP abbey_frame_bytes_total Bytes of the frames this master received, "
                    "and of those it accepted.\n# TYPE abbey_frame_bytes_total counter\n");
    buf_printf(out, "abbey_frame_bytes_total{master=\"%s\",frames=\"received\"} %llu\n", m->self,
               (unsigned long long)m->frame_bytes);
    buf_printf(out, "abbey_frame_bytes_total{master=\"%s\",frames=\"accepted\"} %llu\n", m->self,
               (unsigned long long)m->frame_bytes_accepted);
    buf_printf(out,
               "# HELP abbey_combined_frames_total Frames of several ranges this master "
               "merged.\n# TYPE abbey_combined_frames_total counter\n"
               "abbey_combined_frames_total{master=\"%s\"} %llu\n",
               m->self, (unsigned long long)m->combined_frames);
    buf_printf(out,
               "# HELP abbey_combined_ranges_total Ranges of the frames of several ranges "
               "this master merged.\n# TYPE abbey_combined_ranges_total counter\n"
               "abbey_combined_ranges_total{master=\"%s\"} %llu\n",
               m->self, (unsigned long long)m->combined_ranges);
    buf_printf(out, "# HELP abbey_round_lag_seconds Time from the end of the newest exported "
                    "round to now.\n# TYPE abbey_round_lag_seconds gauge\n");
    for (int i = 0; i < m->cfg->njobs; i++) {
        const mjob_t *j = &m->jobs[i];
        if (j->any_exported && m->last_now)
            buf_printf(out, "abbey_round_lag_seconds{master=\"%s\",job=\"%s\"} %.3f\n", m->self,
                       j->job->name,
                       (double)(m->last_now - ((int64_t)j->last_exported + 1) * j->round_ms) /
                           1000.0);
    }
    merger_prom_metrics(m, out);
    apr_thread_mutex_unlock(m->lock);
}

/* ---- handlers ----------------------------------------------------------- */

/* [[a, b], ...] of n pairs. */
static json_t *pairs_json(const uint64_t (*pairs)[2], size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a,
                              json_pack("[I,I]", (json_int_t)pairs[i][0], (json_int_t)pairs[i][1]));
    return a;
}

/* A 409's body: the held ranges of a frame of one range, or, for a frame of several, an
 * empty "ranges" and the clashing ranges in "conflicts" (docs/CLUSTER.md). */
static json_t *conflict_json(const merger_conflict_t *c)
{
    json_t *o = json_pack("{s:s,s:o}", "result", "conflict", "ranges",
                          pairs_json((const uint64_t(*)[2])c->ranges, c->n));
    if (c->nclash) {
        json_t *list = json_array();
        for (size_t i = 0; i < c->nclash; i++) {
            const merger_clash_t *x = &c->clash[i];
            json_array_append_new(list, json_pack("{s:s,s:I,s:I,s:o}", "source", x->source, "start",
                                                  (json_int_t)x->start, "end", (json_int_t)x->end,
                                                  "ranges",
                                                  pairs_json((const uint64_t(*)[2])x->held, x->n)));
        }
        json_object_set_new(o, "conflicts", list);
    }
    return o;
}

static void on_partials(void *ctx, const httpd_req_t *req, httpd_resp_t *resp)
{
    merger_t *m = ctx;
    merger_conflict_t *c = apr_palloc(req->pool, sizeof *c);
    abbey_err_t err;
    merge_result_t r;

    abbey_err_clear(&err);
    if (!req->body || req->body_len == 0) {
        httpd_error(resp, 400, "empty body: POST /v1/partials takes one frame");
        return;
    }
    r = merger_accept(m, req->body, req->body_len, c, &err);
    switch (r) {
    case MERGE_MERGED:
    case MERGE_DUPLICATE:
    case MERGE_EXPIRED:
        httpd_answer_json(resp, 200, json_pack("{s:s}", "result", merger_result_name(r)));
        return;
    case MERGE_CONFLICT:
        httpd_answer_json(resp, 409, conflict_json(c));
        return;
    case MERGE_UNAVAILABLE: /* the journal, or the memory budget: the sender keeps the frame */
        httpd_error(resp, 503, "%s", err.msg[0] ? err.msg : "the journal is unavailable");
        return;
    default:
        httpd_error(resp, 400, "%s", err.msg[0] ? err.msg : "frame rejected");
    }
}

static void on_report(void *ctx, const httpd_req_t *req, httpd_resp_t *resp)
{
    merger_t *m = ctx;
    const char *rest = req->path + strlen("/v1/reports/");
    const char *slash = strchr(rest, '/');
    char *job;
    rules_report_format_t fmt = RULES_REPORT_CSV;
    buf_t body;
    int status;

    if (strncmp(req->path, "/v1/reports/", 12) != 0 || !slash || slash == rest || !slash[1] ||
        strchr(slash + 1, '/')) {
        httpd_error(resp, 404, "use /v1/reports/{job}/{report}");
        return;
    }
    job = apr_pstrndup(req->pool, rest, (apr_size_t)(slash - rest));
    buf_init(&body);
    status = merger_report_fmt(m, job, slash + 1, httpd_query(req, "format"), &body, &fmt);
    if (status != 200) {
        buf_put_u8(&body, 0);
        httpd_error(resp, status, "%s", (const char *)body.data);
        buf_free(&body);
        return;
    }
    resp->status = 200;
    resp->content_type = fmt == RULES_REPORT_JSON ? "application/json" : "text/csv; charset=utf-8";
    buf_free(&resp->body);
    resp->body = body;
}

void merger_register(merger_t *m, httpd_t *httpd)
{
    httpd_route(httpd, "POST", "/v1/partials", MERGER_MAX_BODY, on_partials, m);
    httpd_route(httpd, "GET", "/v1/reports/", 0, on_report, m);
    httpd_route(httpd, "GET", "/v1/history/", 0, merger_on_history, m);
}
