/* source_http.c - http(s) URLs read with Range requests (see source_http.h).
 *
 * The reader keeps the last answer's body and hands it out from an offset,
 * so a probe for the size (source_http_total) costs no extra request: its
 * bytes are the first ones read. */
#include "source_http.h"

#include <string.h>
#include <strings.h>

#include "buf.h"
#include "http_client.h"

struct source_http_t {
    const char *url;
    apr_pool_t *pool;
    hclient_t *hc;       /* made on the first request */
    hclient_resp_t resp; /* the last answer; its body holds bytes not handed out yet */
    uint64_t body_at;    /* source offset of resp.body.data[0] */
    uint64_t pos;        /* source offset of the next byte to hand out */
    uint64_t total;      /* the size the server reported last; UINT64_MAX: unknown */
    int whole;           /* resp.body is the whole source (the server ignored Range) */
    int eof;             /* a 416 or an empty answer: nothing at pos */
    const volatile int *stop; /* transfers give up once it is set (NULL: never) */
};

int source_is_http(const char *path)
{
    return strncasecmp(path, "http://", 7) == 0 || strncasecmp(path, "https://", 8) == 0;
}

static apr_status_t http_cleanup(void *data)
{
    source_http_t *h = data;
    buf_free(&h->resp.body);
    return APR_SUCCESS;
}

source_http_t *source_http_open(const char *url, uint64_t offset, apr_pool_t *pool)
{
    source_http_t *h = apr_pcalloc(pool, sizeof *h);
    h->url = url;
    h->pool = pool;
    h->pos = offset;
    h->body_at = offset;
    h->total = UINT64_MAX;
    buf_init(&h->resp.body);
    apr_pool_cleanup_register(pool, h, http_cleanup, apr_pool_cleanup_null);
    return h;
}

void source_http_set_stop(source_http_t *h, const volatile int *stop)
{
    h->stop = stop;
    if (h->hc)
        hclient_set_abort(h->hc, stop);
}

/* Bytes of the last answer at or after pos. */
static size_t pending(const source_http_t *h)
{
    uint64_t end = h->body_at + h->resp.body.len;
    return h->pos >= h->body_at && h->pos < end ? (size_t)(end - h->pos) : 0;
}

/* Ask for [pos, pos + len) and keep the answer. */
static apr_status_t fetch(source_http_t *h, uint64_t len, abbey_err_t *err)
{
    uint64_t total;
    apr_status_t rv;

    if (!h->hc) {
        h->hc = hclient_create(NULL, SOURCE_HTTP_CONNECT_MS, SOURCE_HTTP_TIMEOUT_MS, h->pool);
        hclient_set_abort(h->hc, h->stop);
    }
    rv = hclient_get_range(h->hc, h->url, h->pos, len, &h->resp, &total, err);
    if (rv != APR_SUCCESS)
        return rv;
    switch (h->resp.status) {
    case 206:
        h->body_at = h->pos;
        h->total = total;
        h->eof = h->resp.body.len == 0;
        return APR_SUCCESS;
    case 200: /* the whole source: serve it from pos */
        h->body_at = 0;
        h->total = total;
        h->whole = 1;
        h->eof = h->pos >= h->resp.body.len;
        return APR_SUCCESS;
    case 416:
        buf_reset(&h->resp.body);
        h->body_at = h->pos;
        h->total = total;
        h->eof = 1;
        return APR_SUCCESS;
    default:
        abbey_err_set(err, "GET %s: HTTP status %ld", h->url, h->resp.status);
        buf_reset(&h->resp.body);
        return APR_EGENERAL;
    }
}

apr_status_t source_http_read(source_http_t *h, void *buf, size_t max, size_t *got,
                              abbey_err_t *err)
{
    size_t n = pending(h);
    *got = 0;
    if (max == 0)
        return APR_SUCCESS;
    if (!n && !h->whole && !h->eof && (h->total == UINT64_MAX || h->pos < h->total)) {
        apr_status_t rv = fetch(h, max, err);
        if (rv != APR_SUCCESS)
            return rv;
        n = pending(h);
    }
    if (!n)
        return APR_EOF;
    if (n > max)
        n = max;
    memcpy(buf, h->resp.body.data + (h->pos - h->body_at), n);
    h->pos += n;
    *got = n;
    return APR_SUCCESS;
}

apr_status_t source_http_total(source_http_t *h, uint64_t *size, abbey_err_t *err)
{
    if (h->total == UINT64_MAX && !h->eof && !h->whole) {
        apr_status_t rv = fetch(h, SOURCE_HTTP_PROBE, err);
        if (rv != APR_SUCCESS)
            return rv;
    }
    if (h->total == UINT64_MAX) {
        abbey_err_set(err, "GET %s: the server did not tell the size (no Content-Range)", h->url);
        return APR_EGENERAL;
    }
    *size = h->total;
    return APR_SUCCESS;
}

void source_http_close(source_http_t *h)
{
    buf_free(&h->resp.body);
    buf_init(&h->resp.body);
    h->body_at = h->pos;
}
