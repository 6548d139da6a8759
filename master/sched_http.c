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

#define JSON_BODY_MAX (1u << 20)
#define NAME_MAX_LEN 255 /* slave names and labels */
#define LABELS_MAX 64
#define LABELS_BYTES_MAX 1024 /* all of a slave's labels together */
#define LEASES_MAX 256 /* leases one call may ask for (larger max is clamped) */

static int dump_to_buf(const char *p, size_t n, void *data)
{
    buf_put(data, p, n);
    return 0;
}

/* Answer 200 (or status) with root, then release root. */
static void answer(httpd_resp_t *resp, int status, json_t *root)
{
    resp->status = status;
    resp->content_type = "application/json";
    buf_reset(&resp->body);
    json_dump_callback(root, dump_to_buf, &resp->body, JSON_COMPACT);
    json_decref(root);
}

/* The body as a JSON object, or NULL after answering 400. */
static json_t *parse_body(const httpd_req_t *req, httpd_resp_t *resp)
{
    json_error_t jerr;
    if (!req->body || req->body_len == 0) {
        httpd_error(resp, 400, "empty body: a JSON object was expected");
        return NULL;
    }
    json_t *root = json_loadb((const char *)req->body, req->body_len, 0, &jerr);
    if (!root) {
        httpd_error(resp, 400, "malformed JSON at line %d, column %d: %s", jerr.line, jerr.column,
                    jerr.text);
        return NULL;
    }
    if (!json_is_object(root)) {
        json_decref(root);
        httpd_error(resp, 400, "the body must be a JSON object");
        return NULL;
    }
    return root;
}

/* Field getters: 0 on success (absent optional fields: NULL / -1), -1 after answering 400. */
static int get_str(json_t *o, const char *name, int required, size_t maxlen, const char **out,
                   httpd_resp_t *resp)
{
    json_t *v = json_object_get(o, name);
    *out = NULL;
    if (!v && !required)
        return 0;
    if (!v) {
        httpd_error(resp, 400, "field '%s' missing", name);
        return -1;
    }
    if (!json_is_string(v)) {
        httpd_error(resp, 400, "field '%s' must be a string", name);
        return -1;
    }
    if (maxlen && json_string_length(v) > maxlen) {
        httpd_error(resp, 400, "field '%s' is longer than %zu bytes", name, maxlen);
        return -1;
    }
    if (strlen(json_string_value(v)) != json_string_length(v)) {
        httpd_error(resp, 400, "field '%s' contains a NUL character", name);
        return -1;
    }
    *out = json_string_value(v);
    return 0;
}

static int get_name(json_t *o, const char *name, const char **out, httpd_resp_t *resp)
{
    if (get_str(o, name, 1, NAME_MAX_LEN, out, resp) < 0)
        return -1;
    if (!**out) {
        httpd_error(resp, 400, "field '%s' must not be empty", name);
        return -1;
    }
    return 0;
}

static int get_int(json_t *o, const char *name, int required, json_int_t min, int64_t *out,
                   httpd_resp_t *resp)
{
    json_t *v = json_object_get(o, name);
    *out = -1;
    if (!v && !required)
        return 0;
    if (!v) {
        httpd_error(resp, 400, "field '%s' missing", name);
        return -1;
    }
    if (!json_is_integer(v) || json_integer_value(v) < min) {
        httpd_error(resp, 400, "field '%s' must be an integer >= %" JSON_INTEGER_FORMAT, name, min);
        return -1;
    }
    *out = json_integer_value(v);
    return 0;
}

static int get_bool(json_t *o, const char *name, int *out, httpd_resp_t *resp)
{
    json_t *v = json_object_get(o, name);
    *out = -1;
    if (!v)
        return 0;
    if (!json_is_boolean(v)) {
        httpd_error(resp, 400, "field '%s' must be true or false", name);
        return -1;
    }
    *out = json_is_true(v);
    return 0;
}

/* An array of strings (each at most maxlen bytes, none empty), or absent (*n = -1). */
static int get_str_array(json_t *o, const char *name, int required, size_t maxlen, size_t maxn,
                         apr_pool_t *pool, const char ***out, int *n, httpd_resp_t *resp)
{
    json_t *v = json_object_get(o, name);
    *out = NULL;
    *n = -1;
    if (!v && !required)
        return 0;
    if (!v || !json_is_array(v)) {
        httpd_error(resp, 400, v ? "field '%s' must be an array of strings" : "field '%s' missing",
                    name);
        return -1;
    }
    if (json_array_size(v) > maxn) {
        httpd_error(resp, 400, "field '%s' has more than %zu items", name, maxn);
        return -1;
    }
    *out = apr_palloc(pool, sizeof(char *) * (json_array_size(v) + 1));
    for (size_t i = 0; i < json_array_size(v); i++) {
        json_t *e = json_array_get(v, i);
        const char *str = json_string_value(e);
        if (!json_is_string(e) || !*str || json_string_length(e) > maxlen ||
            strlen(str) != json_string_length(e)) {
            httpd_error(resp, 400,
                        "field '%s': item %zu must be a non-empty string of at most "
                        "%zu bytes",
                        name, i, maxlen);
            return -1;
        }
        (*out)[i] = str;
    }
    *n = (int)json_array_size(v);
    return 0;
}

/* ---- POST /v1/lease ---- */

/* The optional "spool" backlog {"frames","bytes","oldest_ms"} (integers >= 0):
 * 0 (*has 0 when absent), -1 after answering 400. */
static int get_spool(json_t *root, int *has, int64_t v[3], httpd_resp_t *resp)
{
    json_t *o = json_object_get(root, "spool");
    *has = 0;
    if (!o)
        return 0;
    if (!json_is_object(o)) {
        httpd_error(resp, 400, "field 'spool' must be an object");
        return -1;
    }
    if (get_int(o, "frames", 1, 0, &v[0], resp) < 0 || get_int(o, "bytes", 1, 0, &v[1], resp) < 0 ||
        get_int(o, "oldest_ms", 1, 0, &v[2], resp) < 0)
        return -1;
    *has = 1;
    return 0;
}

static json_t *lease_json(const sched_lease_t *l)
{
    static const char *const kinds[] = {"read", "expand", "repair"};
    json_t *o = json_pack("{s:I, s:s, s:s, s:i, s:s, s:s, s:I, s:I, s:I, s:I}", "id",
                          (json_int_t)l->id, "job", l->job, "kind", kinds[l->kind], "task", l->task,
                          "source", l->source, "instance", l->instance, "start",
                          (json_int_t)l->start, "cap", (json_int_t)l->cap, "round",
                          (json_int_t)l->round, "expires_ms", (json_int_t)l->expires_ms);
    if (l->kind == SCHED_REPAIR) {
        json_object_set_new(o, "end", json_integer((json_int_t)l->end));
        json_object_set_new(o, "master", json_string(l->master));
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
    const char *slave, **labels;
    int nlabels, has_spool;
    int64_t max, spool[3];
    json_t *root = parse_body(req, resp);
    if (!root)
        return;
    if (get_name(root, "slave", &slave, resp) < 0 ||
        get_str_array(root, "labels", 1, NAME_MAX_LEN, LABELS_MAX, req->pool, &labels, &nlabels,
                      resp) < 0 ||
        get_int(root, "max", 1, 0, &max, resp) < 0 || get_spool(root, &has_spool, spool, resp) < 0) {
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
    answer(resp, 200, json_pack("{s:s, s:o}", "config", hash, "leases", leases));
}

/* ---- POST /v1/lease/renew ---- */

void sched_http_renew(sched_t *s, const httpd_req_t *req, httpd_resp_t *resp, int64_t now_ms)
{
    const char *slave;
    int64_t lease, expires = 0;
    json_t *root = parse_body(req, resp);
    if (!root)
        return;
    if (get_name(root, "slave", &slave, resp) < 0 ||
        get_int(root, "lease", 1, 1, &lease, resp) < 0) {
        json_decref(root);
        return;
    }
    if (sched_renew(s, slave, (uint64_t)lease, now_ms, &expires) == APR_SUCCESS)
        answer(resp, 200, json_pack("{s:I}", "expires_ms", (json_int_t)expires));
    else
        httpd_error(resp, 410, "lease %" PRId64 " is gone (expired, completed or not %s's)", lease,
                    slave);
    json_decref(root);
}

/* ---- POST /v1/complete ---- */

/* "deliveries": {"m1": "ok", ...} (optional). */
static int get_deliveries(json_t *o, apr_pool_t *pool, sched_completion_t *c, httpd_resp_t *resp)
{
    json_t *v = json_object_get(o, "deliveries"), *val;
    const char *key;
    if (!v)
        return 0;
    if (!json_is_object(v)) {
        httpd_error(resp, 400, "field 'deliveries' must be an object of master: result");
        return -1;
    }
    const char **masters = apr_palloc(pool, sizeof(char *) * (json_object_size(v) + 1));
    const char **results = apr_palloc(pool, sizeof(char *) * (json_object_size(v) + 1));
    int n = 0;
    json_object_foreach(v, key, val)
    {
        if (!json_is_string(val)) {
            httpd_error(resp, 400, "field 'deliveries': the value for '%s' must be a string", key);
            return -1;
        }
        masters[n] = key;
        results[n++] = json_string_value(val);
    }
    c->ndeliveries = n;
    c->delivery_masters = masters;
    c->delivery_results = results;
    return 0;
}

static int parse_completion(json_t *root, apr_pool_t *pool, sched_completion_t *c,
                            httpd_resp_t *resp)
{
    int64_t lease;
    const char **paths;
    int repair;
    memset(c, 0, sizeof(*c));
    if (get_name(root, "slave", &c->slave, resp) < 0 ||
        get_int(root, "lease", 1, 1, &lease, resp) < 0 ||
        get_str(root, "instance", 0, SCHED_INSTANCE_MAX - 1, &c->instance, resp) < 0 ||
        get_int(root, "start", 0, 0, &c->start, resp) < 0 ||
        get_int(root, "end", 0, 0, &c->end, resp) < 0 ||
        get_bool(root, "at_end", &c->at_end, resp) < 0 ||
        get_str(root, "next_instance", 0, SCHED_INSTANCE_MAX - 1, &c->next_instance, resp) < 0 ||
        get_int(root, "size", 0, 0, &c->size, resp) < 0 ||
        get_int(root, "lines", 0, 0, &c->lines, resp) < 0 ||
        get_int(root, "bad_lines", 0, 0, &c->bad_lines, resp) < 0 ||
        get_int(root, "bytes", 0, 0, &c->bytes, resp) < 0 ||
        get_deliveries(root, pool, c, resp) < 0 ||
        get_str_array(root, "paths", 0, SCHED_PATH_MAX - 1, (size_t)SCHED_MAX_TASKS, pool, &paths,
                      &c->npaths, resp) < 0 ||
        get_bool(root, "repair", &repair, resp) < 0 ||
        get_str(root, "error", 0, 4096, &c->error, resp) < 0)
        return -1;
    c->repair = repair == 1;
    c->lease = (uint64_t)lease;
    c->paths = paths;
    return 0;
}

void sched_http_complete(sched_t *s, const httpd_req_t *req, httpd_resp_t *resp, int64_t now_ms)
{
    sched_completion_t c;
    abbey_err_t err;
    json_t *root = parse_body(req, resp);
    if (!root)
        return;
    if (parse_completion(root, req->pool, &c, resp) == 0) {
        abbey_err_clear(&err);
        apr_status_t rv = sched_complete(s, &c, now_ms, &err);
        if (rv == APR_SUCCESS)
            answer(resp, 200, json_pack("{s:b}", "ok", 1));
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
    const char *master, *job;
    json_t *root = parse_body(req, resp), *ranges, *x, *refused;
    size_t i;
    int queued = 0;
    if (!root)
        return;
    ranges = json_object_get(root, "ranges");
    if (get_name(root, "master", &master, resp) < 0 || get_name(root, "job", &job, resp) < 0) {
        json_decref(root);
        return;
    }
    if (!json_is_array(ranges)) {
        httpd_error(resp, 400, "field 'ranges' must be an array of {source, start, end, round}");
        json_decref(root);
        return;
    }
    refused = json_array();
    json_array_foreach(ranges, i, x) {
        json_t *src = json_object_get(x, "source"), *a = json_object_get(x, "start"),
               *b = json_object_get(x, "end"), *r = json_object_get(x, "round");
        abbey_err_t err;
        abbey_err_clear(&err);
        if (!json_is_string(src) || !json_is_integer(a) || !json_is_integer(b) ||
            !json_is_integer(r) || json_integer_value(a) < 0 || json_integer_value(b) < 0 ||
            json_integer_value(r) < 0)
            abbey_err_set(&err, "range %zu: needs source (string), start, end, round (integers >= 0)",
                          i);
        else if (sched_repair(s, job, master, json_string_value(src),
                              (uint64_t)json_integer_value(a), (uint64_t)json_integer_value(b),
                              json_integer_value(r), &err) == APR_SUCCESS) {
            queued++;
            continue;
        }
        json_array_append_new(refused, json_pack("{s:O?, s:O?, s:O?, s:s}", "source", src, "start",
                                                 a, "end", b, "error", err.msg));
    }
    answer(resp, 200, json_pack("{s:i, s:o}", "queued", queued, "refused", refused));
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
    answer(resp, 200, out);
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
