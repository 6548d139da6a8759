/* partials.c - POST /v1/partials and the reading of its answers (see partials.h).
 *
 * partials_post makes the call (again while the master is unavailable, as
 * the caller's retry says); partials_read turns an answer into a
 * partials_result_t: the "result" of a 200, the "ranges" of a 409 (into a
 * ranges_t, whose ranges_add takes the pairs in any order), the master's
 * "error" (or the start of the body) as the reason of anything else. */
#include "partials.h"

#include <apr_strings.h>
#include <apr_time.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PARTIALS_TEXT_MAX 200 /* bytes of a body shown when it has no "error" */

const char *partials_what(const void *frame, size_t len, const frame_header_t *h, apr_pool_t *pool)
{
    frame_ranges_t *fr;
    char *text;
    abbey_err_t err;

    if (h->nranges <= 1)
        return apr_psprintf(pool, "%s [%llu, %llu)", h->source, (unsigned long long)h->start,
                            (unsigned long long)h->end);
    fr = malloc(sizeof *fr);
    text = apr_palloc(pool, 2048);
    if (fr && frame_peek_ranges(frame, len, NULL, fr, NULL, &err) == APR_SUCCESS)
        frame_ranges_text(fr, text, 2048);
    else
        snprintf(text, 2048, "%s [%llu, %llu) and %u more ranges", h->source,
                 (unsigned long long)h->start, (unsigned long long)h->end, h->nranges - 1);
    free(fr);
    return text;
}

const char *partials_result_name(partials_result_t r)
{
    switch (r) {
    case PARTIALS_MERGED:
        return "merged";
    case PARTIALS_DUPLICATE:
        return "duplicate";
    case PARTIALS_EXPIRED:
        return "expired";
    case PARTIALS_CONFLICT:
        return "conflict";
    case PARTIALS_UNAVAILABLE:
        return "unavailable";
    default:
        return "refused";
    }
}

const char *partials_url(const char *base, apr_pool_t *pool)
{
    const char *b = hclient_base_url(base, pool);
    return apr_pstrcat(pool, b ? b : base, "/v1/partials", NULL);
}

/* The answer's "error", else the start of its body, on one line (pool memory). */
static const char *answer_text(const hclient_resp_t *resp, json_t *root, apr_pool_t *pool)
{
    const char *e = json_string_value(json_object_get(root, "error"));
    size_t n = resp->body.len < PARTIALS_TEXT_MAX ? resp->body.len : PARTIALS_TEXT_MAX;
    char *s = e ? apr_pstrdup(pool, e)
                : apr_pstrndup(pool, resp->body.data ? (const char *)resp->body.data : "", n);
    for (char *p = s; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    return s;
}

/* A 409's "ranges" into out->have and out->ranges; -1 unless it is a list of
 * [a, b] pairs of integers >= 0. */
static int read_ranges(json_t *ranges, apr_pool_t *pool, partials_answer_t *out)
{
    json_t *pair;
    size_t i;
    char *text;

    if (!json_is_array(ranges))
        return -1;
    out->have = ranges_create(pool);
    json_array_foreach(ranges, i, pair)
    {
        json_t *x = json_array_get(pair, 0), *y = json_array_get(pair, 1);
        if (json_array_size(pair) != 2 || !json_is_integer(x) || !json_is_integer(y) ||
            json_integer_value(x) < 0 || json_integer_value(y) < 0)
            return -1;
        ranges_add(out->have, (uint64_t)json_integer_value(x), (uint64_t)json_integer_value(y));
    }
    text = json_dumps(ranges, JSON_COMPACT);
    out->ranges = apr_pstrdup(pool, text ? text : "?");
    free(text);
    return 0;
}

/* A 200's "result". */
static partials_result_t read_result(json_t *root)
{
    const char *r = json_string_value(json_object_get(root, "result"));
    if (!r)
        return PARTIALS_REFUSED;
    if (strcmp(r, "merged") == 0)
        return PARTIALS_MERGED;
    if (strcmp(r, "duplicate") == 0)
        return PARTIALS_DUPLICATE;
    return strcmp(r, "expired") == 0 ? PARTIALS_EXPIRED : PARTIALS_REFUSED;
}

partials_result_t partials_read(const hclient_resp_t *resp, apr_pool_t *pool,
                                partials_answer_t *out)
{
    json_t *root = json_loadb((const char *)resp->body.data, resp->body.len, 0, NULL);
    const char *why = NULL;

    memset(out, 0, sizeof *out);
    out->status = resp->status;
    out->reason = "";
    if (resp->status == 200) {
        out->result = read_result(root);
        if (out->result == PARTIALS_REFUSED)
            why = " without a result abbey knows";
    } else if (resp->status == 409) {
        out->result = read_ranges(json_object_get(root, "ranges"), pool, out) == 0
                          ? PARTIALS_CONFLICT
                          : PARTIALS_REFUSED;
        if (out->result == PARTIALS_REFUSED) {
            why = " without valid \"ranges\"";
            out->have = NULL;
        }
    } else {
        out->result = resp->status >= 500 ? PARTIALS_UNAVAILABLE : PARTIALS_REFUSED;
        why = "";
    }
    if (why)
        out->reason =
            apr_psprintf(pool, "HTTP %ld%s: %s", resp->status, why, answer_text(resp, root, pool));
    json_decref(root);
    return out->result;
}

partials_result_t partials_post(hclient_t *hc, const char *url, const void *frame, size_t len,
                                const partials_retry_t *retry, hclient_resp_t *resp,
                                apr_pool_t *pool, partials_answer_t *out)
{
    int tries = retry && retry->tries > 1 ? retry->tries : 1;
    int pause_ms = retry ? retry->pause_ms : 0;

    for (int t = 1;; t++) {
        abbey_err_t err;
        apr_status_t rv = hclient_request(hc, "POST", url, "application/octet-stream", frame, len,
                                          NULL, resp, &err);
        if (rv == APR_SUCCESS) {
            partials_read(resp, pool, out);
        } else {
            memset(out, 0, sizeof *out);
            out->result = PARTIALS_UNAVAILABLE;
            out->reason = apr_pstrdup(pool, err.msg);
        }
        out->tries = t;
        if (out->result != PARTIALS_UNAVAILABLE || t >= tries || rv == APR_EINTR)
            return out->result;
        if (retry->on_retry)
            retry->on_retry(retry->ctx, t + 1, tries, pause_ms, out->reason);
        apr_sleep((apr_interval_time_t)pause_ms * 1000);
        pause_ms *= 2;
    }
}
