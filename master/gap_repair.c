/* gap_repair.c - gap repair requests from a master to the primary (see gap_repair.h). */
#include "gap_repair.h"

#include <apr_hash.h>
#include <apr_strings.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "log.h"
#include "mem.h"

struct gap_repair_t {
    merger_t *m;
    const char *self;
    sched_t *sched;
    hclient_t *client;
    const char *url; /* the primary's /v1/repair */
    int64_t after_ms, last_check_ms;
    apr_pool_t *pool, *asked_pool; /* asked: "job\nsource\nstart\nend" -> int64_t ms */
    apr_hash_t *asked;
    json_t *batch; /* per job name: the ranges to ask for now */
    int64_t now_ms;
    int count;
};

gap_repair_t *gap_repair_create(merger_t *m, const char *self, sched_t *sched, hclient_t *client,
                                const char *primary_url, int64_t after_ms, apr_pool_t *pool)
{
    gap_repair_t *r = apr_pcalloc(pool, sizeof *r);
    r->m = m;
    r->self = apr_pstrdup(pool, self);
    r->sched = sched;
    r->client = client;
    r->url = primary_url ? apr_pstrcat(pool, primary_url, "/v1/repair", NULL) : NULL;
    r->after_ms = after_ms;
    r->pool = pool;
    r->asked_pool = mem_xpool(pool);
    r->asked = apr_hash_make(r->asked_pool);
    return r;
}

/* A gap not asked for within after_ms joins the batch of its job. */
static void collect(void *ctx, const merger_gap_t *g)
{
    gap_repair_t *r = ctx;
    char key[FRAME_SOURCE_MAX + FRAME_NAME_MAX + 48];
    int64_t *when;
    json_t *ranges;
    snprintf(key, sizeof key, "%s\n%s\n%" PRIu64 "\n%" PRIu64, g->job, g->source, g->start, g->end);
    when = apr_hash_get(r->asked, key, APR_HASH_KEY_STRING);
    if (when && r->now_ms - *when < r->after_ms)
        return;
    if (!when) {
        when = apr_palloc(r->asked_pool, sizeof *when);
        apr_hash_set(r->asked, apr_pstrdup(r->asked_pool, key), APR_HASH_KEY_STRING, when);
    }
    *when = r->now_ms;
    if (!(ranges = json_object_get(r->batch, g->job))) {
        ranges = json_array();
        json_object_set_new(r->batch, g->job, ranges);
    }
    json_array_append_new(ranges, json_pack("{s:s, s:I, s:I, s:I}", "source", g->source, "start",
                                            (json_int_t)g->start, "end", (json_int_t)g->end,
                                            "round", (json_int_t)g->round));
    r->count++;
}

/* The primary itself: queue each range with its scheduler. */
static void ask_sched(gap_repair_t *r, const char *job, json_t *ranges)
{
    size_t i;
    json_t *x;
    json_array_foreach(ranges, i, x)
    {
        abbey_err_t err;
        if (sched_repair(r->sched, job, r->self, json_string_value(json_object_get(x, "source")),
                         (uint64_t)json_integer_value(json_object_get(x, "start")),
                         (uint64_t)json_integer_value(json_object_get(x, "end")),
                         json_integer_value(json_object_get(x, "round")), &err) != APR_SUCCESS)
            log_msg("gap repair of job %s refused: %s", job, err.msg);
    }
}

/* A secondary: POST {"master","job","ranges":[...]} to the primary. */
static void ask_primary(gap_repair_t *r, const char *job, json_t *ranges)
{
    json_t *body = json_pack("{s:s, s:s, s:O}", "master", r->self, "job", job, "ranges", ranges);
    char *text = json_dumps(body, JSON_COMPACT);
    hclient_resp_t resp;
    abbey_err_t err;
    buf_init(&resp.body);
    if (hclient_request(r->client, "POST", r->url, "application/json", text, strlen(text), NULL,
                        &resp, &err) != APR_SUCCESS)
        log_msg("gap repair: POST %s failed (asking again later): %s", r->url, err.msg);
    else if (resp.status != 200)
        log_msg("gap repair: POST %s: HTTP %ld: %.*s", r->url, resp.status,
                (int)(resp.body.len > 300 ? 300 : resp.body.len),
                resp.body.data ? (const char *)resp.body.data : "");
    buf_free(&resp.body);
    free(text);
    json_decref(body);
}

/* Forget requests older than a few intervals, so the table stays small. */
static void prune(gap_repair_t *r)
{
    apr_pool_t *np;
    apr_hash_t *nh;
    apr_hash_index_t *hi;
    if (apr_hash_count(r->asked) < 4096)
        return;
    np = mem_xpool(r->pool);
    nh = apr_hash_make(np);
    for (hi = apr_hash_first(np, r->asked); hi; hi = apr_hash_next(hi)) {
        const void *k;
        void *v;
        apr_hash_this(hi, &k, NULL, &v);
        if (r->now_ms - *(int64_t *)v < 4 * r->after_ms) {
            int64_t *w = apr_palloc(np, sizeof *w);
            *w = *(int64_t *)v;
            apr_hash_set(nh, apr_pstrdup(np, k), APR_HASH_KEY_STRING, w);
        }
    }
    apr_pool_destroy(r->asked_pool);
    r->asked_pool = np;
    r->asked = nh;
}

void gap_repair_tick(gap_repair_t *r, int64_t now_ms)
{
    const char *job;
    json_t *ranges;
    if (now_ms - r->last_check_ms < REPAIR_CHECK_MS)
        return;
    r->last_check_ms = r->now_ms = now_ms;
    r->batch = json_object();
    r->count = 0;
    merger_gaps(r->m, now_ms, r->after_ms, REPAIR_MAX, collect, r);
    json_object_foreach(r->batch, job, ranges)
    {
        json_t *first = json_array_get(ranges, 0);
        log_msg("gap repair: asking for %zu range(s) of job %s never received, e.g. %s [%" PRId64
                ", %" PRId64 ") of round %" PRId64,
                json_array_size(ranges), job, json_string_value(json_object_get(first, "source")),
                (int64_t)json_integer_value(json_object_get(first, "start")),
                (int64_t)json_integer_value(json_object_get(first, "end")),
                (int64_t)json_integer_value(json_object_get(first, "round")));
        if (r->sched)
            ask_sched(r, job, ranges);
        else
            ask_primary(r, job, ranges);
    }
    json_decref(r->batch);
    r->batch = NULL;
    prune(r);
}
