/* source_http.c - the http kind: http(s) URLs read with Range requests.
 *
 * A reader asks the server for exactly the bytes it is asked for, one
 * request per block, with "Range: bytes=a-b" (a 206 answer); a 416 is the
 * end of the data (its "bytes * /total" gives the size); a 200 (a server
 * that ignores Range) is kept whole and served from the reader's offset.
 * The reader keeps the last answer's body and hands it out from an offset,
 * so a probe for the size (http_total) or the modification time (the
 * Last-Modified header, http_mtime) costs no extra request: its bytes are
 * the first ones read. Each reader has its own curl handle without the
 * cluster's token (log hosts never see it); opening one does no I/O yet.
 * A rules http source expands to its URL as written; a URL cannot seek, so
 * it is never split. */
#include "source_int.h"

#include <string.h>
#include <strings.h>

#include "buf.h"
#include "hclient.h"

#define SOURCE_HTTP_PROBE (1u << 20) /* first block fetched to learn the size */
#define SOURCE_HTTP_CONNECT_MS 5000
#define SOURCE_HTTP_TIMEOUT_MS 120000

typedef struct source_http_t {
    const char *url;
    apr_pool_t *pool;
    hclient_t *hc;            /* made on the first request */
    hclient_resp_t resp;      /* the last answer; its body holds bytes not handed out yet */
    uint64_t body_at;         /* source offset of resp.body.data[0] */
    uint64_t pos;             /* source offset of the next byte to hand out */
    uint64_t total;           /* the size the server reported last; UINT64_MAX: unknown */
    int whole;                /* resp.body is the whole source (the server ignored Range) */
    int answered;             /* a request got an answer: resp.last_modified is the server's */
    int eof;                  /* a 416 or an empty answer: nothing at pos */
    const volatile int *stop; /* transfers give up once it is set (NULL: never) */
} source_http_t;

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

static apr_status_t http_open(source_reader_t *r, uint64_t offset, abbey_err_t *err)
{
    source_http_t *h = apr_pcalloc(r->pool, sizeof *h);
    h->url = r->path;
    h->pool = r->pool;
    h->pos = offset;
    h->body_at = offset;
    h->total = UINT64_MAX;
    buf_init(&h->resp.body);
    apr_pool_cleanup_register(r->pool, h, http_cleanup, apr_pool_cleanup_null);
    r->state = h;
    return APR_SUCCESS;
}

/* Transfers give up with APR_EINTR ("stopped") within about a second once
 * *stop is set. */
static void http_set_stop(source_reader_t *r, const volatile int *stop)
{
    source_http_t *h = r->state;
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
    h->answered = 1;
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

/* Up to max bytes at the reader's offset; "GET url: reason" when the server
 * did not answer or answered with another status than 200/206/416. */
static apr_status_t http_read(source_reader_t *r, void *buf, size_t max, size_t *got,
                              abbey_err_t *err)
{
    source_http_t *h = r->state;
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

/* The total size the server reported last; when it was not asked yet, a
 * first block (SOURCE_HTTP_PROBE bytes) is fetched and kept for the reads. */
static apr_status_t http_total(source_reader_t *r, uint64_t *size, abbey_err_t *err)
{
    source_http_t *h = r->state;
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

/* The Last-Modified of the last answer (0 when the server sends none); when
 * nothing was asked yet, a first block is fetched for it and kept for the
 * reads, as http_total does. */
static apr_status_t http_mtime(source_reader_t *r, int64_t *mtime, abbey_err_t *err)
{
    source_http_t *h = r->state;
    if (!h->answered) {
        apr_status_t rv = fetch(h, SOURCE_HTTP_PROBE, err);
        if (rv != APR_SUCCESS)
            return rv;
    }
    *mtime = h->resp.last_modified;
    return APR_SUCCESS;
}

/* Release the buffered body now (the connection goes with the pool). */
static void http_close(source_reader_t *r)
{
    source_http_t *h = r->state;
    buf_free(&h->resp.body);
    buf_init(&h->resp.body);
    h->body_at = h->pos;
}

const source_kind_t source_http_kind = {
    .name = "http",
    .rules_kind = RULES_SRC_HTTP,
    .claims = source_is_http,
    .open = http_open,
    .read = http_read,
    .total = http_total,
    .close = http_close,
    .set_stop = http_set_stop,
    .mtime = http_mtime,
};
