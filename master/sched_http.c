/* sched_http.c - the scheduler's HTTP calls (docs/CLUSTER.md "HTTP"): POST /v1/lease,
 * POST /v1/lease/renew, POST /v1/complete and GET /v1/rounds.
 *
 * Bodies are parsed with jansson; every field's presence and type is checked
 * and a bad one answers 400 {"error": "field 'x' ..."} (unknown fields are
 * ignored); a completion the journal cannot take answers 503. The handlers
 * only translate: the work is sched.c's. */
#include "sched_int.h"

#include <apr_time.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "jsonio.h"

#define JSON_BODY_MAX (1u << 20)
#define NAME_MAX_LEN 255 /* slave names and labels */
#define LABELS_MAX 64
#define LABELS_BYTES_MAX 1024 /* all of a slave's labels together */
#define LEASES_MAX 256        /* leases one call may ask for (larger max is clamped) */

/* The body as a JSON object, or NULL after answering 400; rd is made ready to read it. */
static json_t *parse_body(const httpd_req_t *req, httpd_resp_t *resp, jsonio_rd_t *rd)
{
    abbey_err_t err;
    json_t *root;
    jsonio_rd_init(rd);
    if (!req->body || req->body_len == 0) {
        httpd_error(resp, 400, "empty body: a JSON object was expected");
        return NULL;
    }
    if (!(root = jsonio_parse_object(req->body, req->body_len, &err)))
        httpd_error(resp, 400, "the body: %s", err.msg);
    return root;
}

/* 0 when rd read every field well, else -1 after answering 400 with its first problem. */
static int bad_fields(const jsonio_rd_t *rd, httpd_resp_t *resp)
{
    if (!rd->failed)
        return 0;
    httpd_error(resp, 400, "%s", rd->err.msg);
    return -1;
}

/* A required name (slave, master, job): non-empty, at most NAME_MAX_LEN bytes. */
static const char *get_name(jsonio_rd_t *rd, const json_t *o, const char *key)
{
    const char *v = jsonio_get_str(rd, o, key, 1, NAME_MAX_LEN);
    if (v && !*v) {
        jsonio_fail(rd, key, "must not be empty");
        return NULL;
    }
    return v;
}

/* ---- POST /v1/lease ---- */

/* The optional "spool" backlog {"frames","bytes","oldest_ms"} (integers >= 0)
 * into v: 1, or 0 when absent. */
static int get_spool(jsonio_rd_t *rd, const json_t *root, int64_t v[3])
{
    json_t *o = jsonio_get_obj(rd, root, "spool", 0);
    if (!o)
        return 0;
    v[0] = jsonio_get_int(rd, o, "frames", 1, 0);
    v[1] = jsonio_get_int(rd, o, "bytes", 1, 0);
    v[2] = jsonio_get_int(rd, o, "oldest_ms", 1, 0);
    return 1;
}

static json_t *lease_json(const sched_lease_t *l)
{
    static const char *const kinds[] = {"read", "expand", "repair"};
    json_t *o =
        json_pack("{s:I, s:s, s:s, s:i, s:s, s:s, s:I, s:I, s:I, s:I}", "id", (json_int_t)l->id,
                  "job", l->job, "kind", kinds[l->kind], "task", l->task, "source", l->source,
                  "instance", l->instance, "start", (json_int_t)l->start, "cap", (json_int_t)l->cap,
                  "round", (json_int_t)l->round, "expires_ms", (json_int_t)l->expires_ms);
    if (l->kind == SCHED_REPAIR) {
        json_object_set_new(o, "end", json_integer((json_int_t)l->end));
        json_object_set_new(o, "master", json_string(l->master));
    }
    if (l->file) { /* a glob's read task: its one file */
        json_object_set_new(o, "file", json_string(l->file));
        json_object_set_new(o, "file_id", json_string(l->file_id));
    }
    return o;
}

static size_t labels_bytes(const char *const *labels, int n)
{
    size_t total = 0;
    for (int i = 0; i < n; i++)
        total += strlen(labels[i]);
    return total;
}

void sched_http_lease(sched_t *s, const httpd_req_t *req, httpd_resp_t *resp, int64_t now_ms)
{
    const char **labels;
    int64_t spool[3] = {0, 0, 0};
    jsonio_rd_t rd;
    json_t *root = parse_body(req, resp, &rd);
    if (!root)
        return;
    const char *slave = get_name(&rd, root, "slave");
    int nlabels =
        jsonio_get_strs(&rd, root, "labels", 1, NAME_MAX_LEN, LABELS_MAX, req->pool, &labels);
    int64_t max = jsonio_get_int(&rd, root, "max", 1, 0);
    int has_spool = get_spool(&rd, root, spool);
    if (bad_fields(&rd, resp) < 0) {
        json_decref(root);
        return;
    }
    if (max > LEASES_MAX)
        max = LEASES_MAX;
    if (labels_bytes(labels, nlabels) > LABELS_BYTES_MAX) {
        httpd_error(resp, 400, "field 'labels' holds more than %d bytes", LABELS_BYTES_MAX);
        json_decref(root);
        return;
    }
    abbey_err_t err;
    if (sched_store_failed(s, &err)) {
        httpd_error(resp, 503, "%s", err.msg);
        json_decref(root);
        return;
    }
    sched_lease_t *out = apr_palloc(req->pool, sizeof(*out) * (size_t)(max ? max : 1));
    int n = sched_lease(s, slave, labels, nlabels, (int)max, now_ms, out);
    json_t *leases = json_array();
    for (int i = 0; i < n; i++)
        json_array_append_new(leases, lease_json(&out[i]));
    char hash[sizeof s->announced];
    apr_thread_mutex_lock(s->lock);
    memcpy(hash, s->announced, sizeof hash);
    sched_slave_t *v = NULL; /* sched_lease made the record */
    HASH_FIND_STR(s->slaves, slave, v);
    if (v && (v->has_spool = has_spool)) {
        v->spool_frames = spool[0];
        v->spool_bytes = spool[1];
        v->spool_oldest_ms = spool[2];
    }
    apr_thread_mutex_unlock(s->lock);
    json_decref(root); /* slave points into it */
    httpd_answer_json(resp, 200, json_pack("{s:s, s:o}", "config", hash, "leases", leases));
}

/* ---- POST /v1/lease/renew ---- */

void sched_http_renew(sched_t *s, const httpd_req_t *req, httpd_resp_t *resp, int64_t now_ms)
{
    int64_t expires = 0;
    jsonio_rd_t rd;
    json_t *root = parse_body(req, resp, &rd);
    if (!root)
        return;
    const char *slave = get_name(&rd, root, "slave");
    int64_t lease = jsonio_get_int(&rd, root, "lease", 1, 1);
    if (bad_fields(&rd, resp) < 0) {
        json_decref(root);
        return;
    }
    if (sched_renew(s, slave, (uint64_t)lease, now_ms, &expires) == APR_SUCCESS)
        httpd_answer_json(resp, 200, json_pack("{s:I}", "expires_ms", (json_int_t)expires));
    else
        httpd_error(resp, 410, "lease %" PRId64 " is gone (expired, completed or not %s's)", lease,
                    slave);
    json_decref(root);
}

/* ---- POST /v1/complete ---- */

/* "deliveries": {"m1": "ok", ...} (optional). */
static void get_deliveries(jsonio_rd_t *rd, const json_t *o, apr_pool_t *pool,
                           sched_completion_t *c)
{
    json_t *v = jsonio_get_obj(rd, o, "deliveries", 0), *val;
    const char *key;
    if (!v)
        return;
    const char **masters = apr_palloc(pool, sizeof(char *) * (json_object_size(v) + 1));
    const char **results = apr_palloc(pool, sizeof(char *) * (json_object_size(v) + 1));
    int n = 0;
    json_object_foreach(v, key, val)
    {
        if (!json_is_string(val)) {
            jsonio_fail(rd, "deliveries", "holds a value for '%s' that is not a string", key);
            return;
        }
        masters[n] = key;
        results[n++] = json_string_value(val);
    }
    c->ndeliveries = n;
    c->delivery_masters = masters;
    c->delivery_results = results;
}

/* The completion's fields into c (strings point into root), read with rd: 0, or -1
 * after answering 400. */
static int parse_completion(jsonio_rd_t *rd, const json_t *root, apr_pool_t *pool,
                            sched_completion_t *c, httpd_resp_t *resp)
{
    const char **paths;
    memset(c, 0, sizeof(*c));
    c->slave = get_name(rd, root, "slave");
    c->lease = (uint64_t)jsonio_get_int(rd, root, "lease", 1, 1);
    c->instance = jsonio_get_str(rd, root, "instance", 0, SCHED_INSTANCE_MAX - 1);
    c->start = jsonio_get_int(rd, root, "start", 0, 0);
    c->end = jsonio_get_int(rd, root, "end", 0, 0);
    c->at_end = jsonio_get_bool(rd, root, "at_end", 0);
    c->next_instance = jsonio_get_str(rd, root, "next_instance", 0, SCHED_INSTANCE_MAX - 1);
    c->size = jsonio_get_int(rd, root, "size", 0, 0);
    c->lines = jsonio_get_int(rd, root, "lines", 0, 0);
    c->bad_lines = jsonio_get_int(rd, root, "bad_lines", 0, 0);
    c->bytes = jsonio_get_int(rd, root, "bytes", 0, 0);
    get_deliveries(rd, root, pool, c);
    c->npaths = jsonio_get_strs(rd, root, "paths", 0, SCHED_PATH_MAX - 1, (size_t)SCHED_MAX_TASKS,
                                pool, &paths);
    c->paths = paths;
    sched_files_parse(rd, json_object_get(root, "files"), c->npaths, pool, &c->files);
    c->repair = jsonio_get_bool(rd, root, "repair", 0) == 1;
    c->error = jsonio_get_str(rd, root, "error", 0, 4096);
    return bad_fields(rd, resp);
}

void sched_http_complete(sched_t *s, const httpd_req_t *req, httpd_resp_t *resp, int64_t now_ms)
{
    sched_completion_t c;
    abbey_err_t err;
    jsonio_rd_t rd;
    json_t *root = parse_body(req, resp, &rd);
    if (!root)
        return;
    if (parse_completion(&rd, root, req->pool, &c, resp) == 0) {
        abbey_err_clear(&err);
        apr_status_t rv = sched_complete(s, &c, now_ms, &err);
        if (rv == APR_SUCCESS)
            httpd_answer_json(resp, 200, json_pack("{s:b}", "ok", 1));
        else
            httpd_error(resp,
                        rv == APR_BADARG     ? 400
                        : rv == APR_EGENERAL ? 503 /* the journal failed: the slave retries */
                                             : 409,
                        "%s", err.msg);
    }
    json_decref(root);
}

/* ---- POST /v1/repair ---- */

void sched_http_repair(sched_t *s, const httpd_req_t *req, httpd_resp_t *resp)
{
    jsonio_rd_t rd;
    json_t *root = parse_body(req, resp, &rd), *x, *refused;
    size_t i;
    int queued = 0;
    if (!root)
        return;
    const char *master = get_name(&rd, root, "master"), *job = get_name(&rd, root, "job");
    json_t *ranges = jsonio_get_arr(&rd, root, "ranges");
    if (bad_fields(&rd, resp) < 0) {
        json_decref(root);
        return;
    }
    refused = json_array();
    json_array_foreach(ranges, i, x)
    {
        abbey_err_t err;
        abbey_err_clear(&err);
        jsonio_rd_init(&rd);
        jsonio_where(&rd, "range %zu", i);
        const char *src = jsonio_get_str(&rd, x, "source", 1, SIZE_MAX);
        int64_t a = jsonio_get_int(&rd, x, "start", 1, 0), b = jsonio_get_int(&rd, x, "end", 1, 0);
        int64_t r = jsonio_get_int(&rd, x, "round", 1, 0);
        if (rd.failed)
            err = rd.err;
        else if (sched_repair(s, job, master, src, (uint64_t)a, (uint64_t)b, r, &err) ==
                 APR_SUCCESS) {
            queued++;
            continue;
        }
        json_array_append_new(refused, json_pack("{s:O?, s:O?, s:O?, s:s}", "source",
                                                 json_object_get(x, "source"), "start",
                                                 json_object_get(x, "start"), "end",
                                                 json_object_get(x, "end"), "error", err.msg));
    }
    httpd_answer_json(resp, 200, json_pack("{s:i, s:o}", "queued", queued, "refused", refused));
    json_decref(root);
}

/* ---- GET /v1/rounds ---- */

static void round_to_json(void *ctx, const char *job, const sched_round_t *r)
{
    json_t *ranges = json_array();
    for (int i = 0; i < r->nranges; i++)
        json_array_append_new(ranges, json_pack("{s:s, s:I, s:I}", "source", r->ranges[i].source,
                                                "start", (json_int_t)r->ranges[i].start, "end",
                                                (json_int_t)r->ranges[i].end));
    json_array_append_new(ctx, json_pack("{s:I, s:I, s:I, s:b, s:o}", "round", (json_int_t)r->round,
                                         "start_ms", (json_int_t)r->start_ms, "deadline_ms",
                                         (json_int_t)r->deadline_ms, "incomplete", r->incomplete,
                                         "ranges", ranges));
}

void sched_http_rounds(sched_t *s, const char *job, const char *after, httpd_resp_t *resp)
{
    long long a = -1;
    if (!job || !*job) {
        httpd_error(resp, 400, "query parameter 'job' missing");
        return;
    }
    if (after) {
        char *end;
        errno = 0;
        a = strtoll(after, &end, 10);
        if (!*after || *end || errno) {
            httpd_error(resp, 400, "query parameter 'after' must be an integer (a round number)");
            return;
        }
    }
    json_t *rounds = json_array();
    if (sched_rounds(s, job, (int64_t)a, round_to_json, rounds) < 0) {
        json_decref(rounds);
        httpd_error(resp, 404, "unknown job '%s'", job);
        return;
    }
    json_t *out = json_pack("{s:s, s:o}", "job", job, "rounds", rounds);
    int64_t cur;
    if (sched_current_round(s, job, &cur) == 1)
        json_object_set_new(out, "current_round", json_integer((json_int_t)cur));
    httpd_answer_json(resp, 200, out);
}

/* ---- routes ---- */

static int64_t wall_ms(void)
{
    return (int64_t)(apr_time_now() / 1000);
}

static void h_lease(void *ctx, const httpd_req_t *req, httpd_resp_t *resp)
{
    sched_http_lease(ctx, req, resp, wall_ms());
}

static void h_renew(void *ctx, const httpd_req_t *req, httpd_resp_t *resp)
{
    sched_http_renew(ctx, req, resp, wall_ms());
}

static void h_complete(void *ctx, const httpd_req_t *req, httpd_resp_t *resp)
{
    sched_http_complete(ctx, req, resp, wall_ms());
}

static void h_repair(void *ctx, const httpd_req_t *req, httpd_resp_t *resp)
{
    sched_http_repair(ctx, req, resp);
}

static void h_rounds(void *ctx, const httpd_req_t *req, httpd_resp_t *resp)
{
    sched_http_rounds(ctx, httpd_query(req, "job"), httpd_query(req, "after"), resp);
}

void sched_register(sched_t *s, httpd_t *httpd)
{
    httpd_route(httpd, "POST", "/v1/lease", JSON_BODY_MAX, h_lease, s);
    httpd_route(httpd, "POST", "/v1/lease/renew", JSON_BODY_MAX, h_renew, s);
    httpd_route(httpd, "POST", "/v1/complete", JSON_BODY_MAX, h_complete, s);
    httpd_route(httpd, "GET", "/v1/rounds", 0, h_rounds, s);
    httpd_route(httpd, "POST", "/v1/repair", JSON_BODY_MAX, h_repair, s);
}
