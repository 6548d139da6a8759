/* httpd.h - the masters' HTTP server: libmicrohttpd with routing, auth and body limits.
 *
 * Handlers are registered per (method, path); a path ending in '/' matches
 * every path under it (e.g. "/v1/reports/"). Before a handler runs, the
 * server has checked the bearer token (401 otherwise, constant-time), that
 * the body is within the route's limit (413 otherwise; the body is not
 * read past the limit) and the method (405 for a known path with another
 * method; 404 for an unknown path). Handlers run on the server's threads
 * (a small pool), concurrently: what they touch must be thread-safe.
 * Nothing a client sends can crash the server: bodies are bounded, query
 * and header values are copied, and every handler answers. */
#ifndef ABBEY_HTTPD_H
#define ABBEY_HTTPD_H

#include <apr_pools.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "error.h"

typedef struct httpd_t httpd_t;

typedef struct httpd_req_t {
    const char *method;
    const char *path;      /* without the query string */
    const uint8_t *body;   /* body_len bytes (not NUL-terminated); NULL when empty */
    size_t body_len;
    apr_pool_t *pool;      /* lives until the answer is sent */
    void *conn;            /* internal */
} httpd_req_t;

typedef struct httpd_resp_t {
    int status;                /* default 200 */
    const char *content_type;  /* default "application/json" */
    const char *etag;          /* sent as ETag: "<etag>" when non-NULL */
    buf_t body;
} httpd_resp_t;

typedef void (*httpd_handler_t)(void *ctx, const httpd_req_t *req, httpd_resp_t *resp);

/* A server in pool; routes are added before httpd_start. */
httpd_t *httpd_create(const char *token, apr_pool_t *pool);

/* Route method + path (exact, or a prefix ending in '/') to h with ctx.
 * max_body: the largest request body accepted (bytes). */
void httpd_route(httpd_t *s, const char *method, const char *path, size_t max_body,
                 httpd_handler_t h, void *ctx);

/* Listen on host:port (port 0: an ephemeral port; see httpd_port) with
 * threads worker threads. Returns APR_SUCCESS or an error naming the address. */
apr_status_t httpd_start(httpd_t *s, const char *host, int port, int threads, abbey_err_t *err);

int httpd_port(const httpd_t *s);

/* Stop listening, wait for handlers in progress to finish. Idempotent. */
void httpd_stop(httpd_t *s);

/* Request accessors: a query parameter or header value (pool copies), or NULL. */
const char *httpd_query(const httpd_req_t *req, const char *name);
const char *httpd_header(const httpd_req_t *req, const char *name);

/* Answer helpers: status + JSON {"error": "<message>"} / a JSON text. */
void httpd_error(httpd_resp_t *resp, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void httpd_json(httpd_resp_t *resp, int status, const char *json_text);

#endif
