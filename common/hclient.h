/* hclient.h - calls to abbey masters over HTTP/1.1 with libcurl.
 *
 * A client keeps one curl easy handle, so connections are kept alive between
 * calls to the same master. Every request carries "Authorization: Bearer
 * <token>". Timeouts: connect_ms for the connection, timeout_ms for the whole
 * call. curl_global_init must have been called once (hclient_global_init)
 * before threads start.
 *
 * Threads: a client may be used by several threads; its calls are serialized
 * (its lock is held for the whole of a call), so they share its connections.
 * hclient_via sends one base URL's calls of a client through another, shared
 * client: a slave's threads reach the primary over one kept-alive connection. */
#ifndef ABBEY_HCLIENT_H
#define ABBEY_HCLIENT_H

#include <apr_pools.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "error.h"

typedef struct hclient_t hclient_t;

typedef struct hclient_resp_t {
    long status;           /* HTTP status; 0 when no answer came */
    buf_t body;            /* the answer's body (owned by the caller: buf_free) */
    char etag[96];         /* ETag header without quotes, "" when absent */
    int64_t last_modified; /* Last-Modified header as epoch seconds, 0 when absent or unreadable */
} hclient_resp_t;

/* url without its trailing slashes (never those of "http://" or "https://"),
 * in pool: what a path such as "/v1/lease" is appended to. NULL when url does
 * not start with http:// or https://. The one place abbey trims a URL. */
const char *hclient_base_url(const char *url, apr_pool_t *pool);

/* Once per process, before threads. */
void hclient_global_init(void);

/* A client for token (may be NULL: no Authorization header), in pool
 * (the curl handle is cleaned up with the pool). */
hclient_t *hclient_create(const char *token, long connect_ms, long timeout_ms, apr_pool_t *pool);

/* From now on, c's calls (hclient_request) to URLs under base (base itself, or
 * base followed by '/' or '?') are made by via, under via's lock; NULL via
 * stops that. base is copied; via must outlive c. Not thread-safe: call it
 * before c is used by several threads. */
void hclient_via(hclient_t *c, const char *base, hclient_t *via);

/* Make c's calls give up, as APR_EINTR with "METHOD URL: stopped" in err,
 * within about a second once *flag is non-zero (read atomically; NULL:
 * never, the default). Connect and whole-call timeouts apply as before. */
void hclient_set_abort(hclient_t *c, const volatile int *flag);

/* One call (thread-safe: calls on one client wait for each other). method "GET" or "POST";
 * body/len/content_type for POST (may be NULL/0); if_none_match: an ETag value to send as
 * If-None-Match (or NULL). Returns APR_SUCCESS when an HTTP answer came (any status: check
 * out->status), or an error when none did (connection refused, timeout,
 * DNS...) with "METHOD URL: reason" in err. out->body is reset first. */
apr_status_t hclient_request(hclient_t *c, const char *method, const char *url,
                             const char *content_type, const void *body, size_t len,
                             const char *if_none_match, hclient_resp_t *out, abbey_err_t *err);

/* GET url with "Range: bytes=start-(start+len-1)" (len > 0, else APR_EINVAL).
 * On a 206 or 416 answer, *total receives the full size when the server said
 * it (Content-Range "bytes a-b/total" or a 416's "bytes * /total"), else
 * UINT64_MAX. A server that ignores Range answers 200: on 200, body holds the
 * whole resource from byte 0 (the caller skips start bytes) and *total is the
 * body's length. Other statuses: *total is UINT64_MAX. */
apr_status_t hclient_get_range(hclient_t *c, const char *url, uint64_t start, uint64_t len,
                               hclient_resp_t *out, uint64_t *total, abbey_err_t *err);

#endif
