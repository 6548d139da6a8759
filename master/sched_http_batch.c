/* sched_http_batch.c - the scheduler's batched calls (docs/CLUSTER.md "Sticky leases"):
 * POST /v1/lease/renew with "leases" and POST /v1/complete with "completions", "idle"
 * and "released", and what every answer to a sticky slave adds (sched_http_news).
 *
 * The body as a whole must name its slave and hold well-formed "idle" and
 * "released" lists (else 400 naming the first bad field); a bad completion
 * item is refused in its own result ("completions item 3: field 'end' ..."),
 * the others are applied. The work is sched_sticky.c's. */
#include "sched_int.h"

#include <inttypes.h>
#include <jansson.h>
#include <string.h>

#include "jsonio.h"

#define IDS_MAX 65536 /* lease ids in one list (a 1 MiB body holds fewer) */

/* An array of lease ids (integers >= 1) at key of o, NULL-free in pool: its
 * count, or 0 when absent; a problem is recorded in rd. */
static int get_ids(jsonio_rd_t *rd, const json_t *o, const char *key, apr_pool_t *pool,
                   uint64_t **out)
{
    json_t *a = json_object_get(o, key), *v;
    size_t i;
    *out = NULL;
    if (!a)
        return 0;
    if (!json_is_array(a) || json_array_size(a) > IDS_MAX) {
        jsonio_fail(rd, key, "must be an array of at most %d lease ids", IDS_MAX);
        return 0;
    }
    *out = apr_palloc(pool, sizeof(uint64_t) * (json_array_size(a) + 1));
    json_array_foreach(a, i, v)
    {
        if (!json_is_integer(v) || json_integer_value(v) < 1) {
            jsonio_fail(rd, key, "item %zu must be a lease id (an integer >= 1)", i);
            return 0;
        }
        (*out)[i] = (uint64_t)json_integer_value(v);
    }
    return (int)json_array_size(a);
}

static json_t *ids_json(const uint64_t *ids, int n)
{
    json_t *a = json_array();
    for (int i = 0; i < n; i++)
        json_array_append_new(a, json_integer((json_int_t)ids[i]));
    return a;
}

void sched_http_news(sched_t *s, const char *slave, int64_t now_ms, apr_pool_t *pool,
                     json_t *answer)
{
    sched_news_t nw;
    sched_news(s, slave, now_ms, pool, &nw);
    json_t *rounds = json_object();
    for (int i = 0; i < nw.nrounds; i++)
        json_object_set_new(rounds, nw.rounds[i].job,
                            json_pack("{s:I, s:I, s:I}", "round", (json_int_t)nw.rounds[i].round,
                                      "next", (json_int_t)nw.rounds[i].next, "next_ms",
                                      (json_int_t)nw.rounds[i].next_ms));
    json_object_set_new(answer, "config", json_string(nw.config));
    json_object_set_new(answer, "now_ms", json_integer((json_int_t)nw.now_ms));
    json_object_set_new(answer, "rounds", rounds);
    json_object_set_new(answer, "more", json_boolean(nw.more));
    json_object_set_new(answer, "release", ids_json(nw.release, nw.nrelease));
}

void sched_http_renew_batch(sched_t *s, const httpd_req_t *req, httpd_resp_t *resp, json_t *root,
                            int64_t now_ms)
{
    jsonio_rd_t rd;
    uint64_t *ids;
    int64_t expires;
    jsonio_rd_init(&rd);
    const char *slave = sched_http_name(&rd, root, "slave");
    int n = get_ids(&rd, root, "leases", req->pool, &ids);
    if (sched_http_bad(&rd, resp) < 0)
        return;
    uint64_t *gone = apr_palloc(req->pool, sizeof(uint64_t) * (size_t)(n + 1));
    int ngone = sched_renew_batch(s, slave, ids, n, now_ms, gone, &expires);
    json_t *answer =
        json_pack("{s:I, s:o}", "expires_ms", (json_int_t)expires, "gone", ids_json(gone, ngone));
    sched_http_news(s, slave, now_ms, req->pool, answer);
    httpd_answer_json(resp, 200, answer);
}

/* "idle": [{"job", "round", "leases": [...]}] into *out; its count. */
static int get_idle(jsonio_rd_t *rd, const json_t *root, apr_pool_t *pool, sched_idle_t **out,
                    int *nleases)
{
    json_t *a = json_object_get(root, "idle"), *g;
    size_t i;
    *out = NULL;
    *nleases = 0;
    if (!a)
        return 0;
    if (!json_is_array(a)) {
        jsonio_fail(rd, "idle", "must be an array of {\"job\", \"round\", \"leases\"}");
        return 0;
    }
    *out = apr_pcalloc(pool, sizeof(sched_idle_t) * (json_array_size(a) + 1));
    json_array_foreach(a, i, g)
    {
        sched_idle_t *x = &(*out)[i];
        uint64_t *ids;
        jsonio_where(rd, "idle item %zu", i);
        if (!json_is_object(g)) {
            jsonio_fail(rd, "idle", "item %zu is not an object", i);
            return 0;
        }
        x->job = sched_http_name(rd, g, "job");
        x->round = jsonio_get_i64(rd, g, "round");
        x->nleases = get_ids(rd, g, "leases", pool, &ids);
        x->leases = ids;
        *nleases += x->nleases;
        if (rd->failed)
            return 0;
    }
    jsonio_where(rd, "%s", "");
    return (int)json_array_size(a);
}

/* The completions of a report, each parsed on its own: a bad one gets its result (400)
 * in bad[i] (its error in errs[i]) and is left out of what is applied. */
static int get_completions(const json_t *root, apr_pool_t *pool, sched_completion_t **out,
                           int **index, abbey_err_t **errs, int *total)
{
    json_t *a = json_object_get(root, "completions"), *o;
    size_t i;
    int n = 0;
    *total = json_is_array(a) ? (int)json_array_size(a) : 0;
    *out = apr_pcalloc(pool, sizeof(sched_completion_t) * (size_t)(*total + 1));
    *index = apr_pcalloc(pool, sizeof(int) * (size_t)(*total + 1));
    *errs = apr_pcalloc(pool, sizeof(abbey_err_t) * (size_t)(*total + 1));
    json_array_foreach(a, i, o)
    {
        jsonio_rd_t rd;
        jsonio_rd_init(&rd);
        jsonio_where(&rd, "completions item %zu", i);
        if (!json_is_object(o))
            jsonio_fail(&rd, "completions", "item %zu is not an object", i);
        else
            sched_completion_parse(&rd, o, pool, &(*out)[n], 0);
        if (rd.failed) {
            (*errs)[i] = rd.err;
            (*index)[i] = -1;
            continue;
        }
        (*index)[i] = n++;
    }
    return n;
}

static int http_status(apr_status_t rv)
{
    return rv == APR_SUCCESS ? 200 : rv == APR_BADARG ? 400 : rv == APR_EGENERAL ? 503 : 409;
}

void sched_http_report(sched_t *s, const httpd_req_t *req, httpd_resp_t *resp, json_t *root,
                       int64_t now_ms)
{
    jsonio_rd_t rd;
    sched_report_t r;
    sched_completion_t *cs;
    abbey_err_t *perr, err;
    int *index, total, nidle_leases;
    memset(&r, 0, sizeof r);
    jsonio_rd_init(&rd);
    r.slave = sched_http_name(&rd, root, "slave");
    json_t *ca = json_object_get(root, "completions");
    if (ca && !json_is_array(ca))
        jsonio_fail(&rd, "completions", "must be an array of completions");
    sched_idle_t *idle;
    r.nidle = get_idle(&rd, root, req->pool, &idle, &nidle_leases);
    r.idle = idle;
    uint64_t *released;
    r.nreleased = get_ids(&rd, root, "released", req->pool, &released);
    r.released = released;
    r.lagging = jsonio_get_bool(&rd, root, "lagging", 0);
    int64_t spool[3];
    int has_spool = sched_http_spool(&rd, root, spool);
    if (sched_http_bad(&rd, resp) < 0)
        return;
    if (sched_store_failed(s, &err)) {
        httpd_error(resp, 503, "%s", err.msg);
        return;
    }
    r.ncompletions = get_completions(root, req->pool, &cs, &index, &perr, &total);
    r.completions = cs;
    apr_status_t *rvs = apr_pcalloc(req->pool, sizeof(apr_status_t) * (size_t)(total + 1));
    abbey_err_t *errs = apr_pcalloc(req->pool, sizeof(abbey_err_t) * (size_t)(total + 1));
    uint64_t *gone =
        apr_palloc(req->pool, sizeof(uint64_t) * (size_t)(nidle_leases + r.nreleased + 1));
    sched_commit_t *commits = apr_pcalloc(req->pool, sizeof(sched_commit_t) * (size_t)(total + 1));
    int ngone = 0;
    sched_report(s, &r, now_ms, rvs, errs, commits, gone, &ngone);
    if (has_spool) /* (a report without it leaves the last one known) */
        sched_http_set_spool(s, r.slave, 1, spool);
    json_t *results = json_array();
    for (int i = 0; i < total; i++) {
        json_t *item = json_object();
        const json_t *id = json_object_get(json_array_get(ca, (size_t)i), "lease");
        json_object_set_new(item, "lease",
                            json_is_integer(id) ? json_copy((json_t *)id) : json_null());
        apr_status_t rv = index[i] < 0 ? APR_BADARG : rvs[index[i]];
        json_object_set_new(item, "status", json_integer(http_status(rv)));
        if (index[i] >= 0 && commits[index[i]].known) { /* where its holder reads on */
            json_object_set_new(item, "instance", json_string(commits[index[i]].instance));
            json_object_set_new(item, "start", json_integer((json_int_t)commits[index[i]].offset));
        }
        if (rv != APR_SUCCESS)
            json_object_set_new(item, "error",
                                json_string(index[i] < 0 ? perr[i].msg : errs[index[i]].msg));
        json_array_append_new(results, item);
    }
    json_t *answer = json_pack("{s:o, s:o, s:I}", "results", results, "gone", ids_json(gone, ngone),
                               "expires_ms", (json_int_t)(now_ms + s->opts.lease_ms));
    sched_http_news(s, r.slave, now_ms, req->pool, answer);
    httpd_answer_json(resp, 200, answer);
}
