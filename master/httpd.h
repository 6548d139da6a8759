/* httpd.h - the masters' HTTP server: libmicrohttpd with routing, auth and limits.
 *
 * Handlers are registered per (method, path); a path ending in '/' matches
 * every path under it (e.g. "/v1/reports/"; "/" alone is exact). Before a
 * handler runs, the server has checked the bearer token (401 otherwise,
 * constant-time, and the connection is closed) or, for GET, the dashboard's
 * session cookie (httpd_session.h) in its place; a public route
 * (httpd_route_public: the login page, static assets) runs without either
 * and sees in req->authed whether one was given. It has also checked that the body is within the
 * route's limit (413 otherwise; the body is not read past the limit) and within the total of bodies
 * held at once (503 with Retry-After), and the method (405 for a known path with another method;
 * 404 for an unknown path). Every error answer, the server's own included, is JSON {"error":
 * "..."}.
 *
 * Hostile clients: a connection is accepted by a gate (httpd_gate.c) that
 * holds it, at no cost to the server, until its request head is complete; a
 * head not complete within head_timeout_ms is answered 408, one too large
 * 414/431. The gate holds at most max_unauth such connections (max_unauth_per_ip
 * from one address), closing the oldest to make room, so they can never
 * crowd out the max_conns connections that sent a request. A body slower
 * than body_min_rate is cut.
 *
 * Handlers run on the server's threads (a small pool), concurrently: what
 * they touch must be thread-safe. Nothing a client sends can crash the
 * server: bodies are bounded, query and header values are copied, and every
 * handler answers. */
#ifndef ABBEY_HTTPD_H
#define ABBEY_HTTPD_H

#include <apr_pools.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "error.h"

typedef struct httpd_t httpd_t;
struct json_t; /* jansson's */

typedef struct httpd_req_t {
    const char *method;
    const char *path;    /* without the query string */
    const uint8_t *body; /* body_len bytes (not NUL-terminated); NULL when empty */
    size_t body_len;
    apr_pool_t *pool; /* lives until the answer is sent */
    void *conn;       /* internal */
    int authed;       /* the bearer token or a session cookie was valid (always 1 on a
                         route that is not public) */
} httpd_req_t;

typedef struct httpd_resp_t {
    int status;                /* default 200 */
    const char *content_type;  /* default "application/json" */
    const char *etag;          /* sent as ETag: "<etag>" when non-NULL */
    int retry_after;           /* seconds; sent as Retry-After when > 0 */
    const char *location;      /* sent as Location when non-NULL (a redirect) */
    const char *set_cookie;    /* sent as Set-Cookie when non-NULL */
    const char *cache_control; /* sent as Cache-Control; NULL: "no-store" */
    buf_t body;
} httpd_resp_t;

typedef void (*httpd_handler_t)(void *ctx, const httpd_req_t *req, httpd_resp_t *resp);

/* Connection and body limits. Defaults (httpd_limits_default) in brackets;
 * abbey-master's flags of the same names set them (docs/CLUSTER.md). */
typedef struct httpd_limits_t {
    unsigned max_conns;         /* --max-conns: connections that sent a request head [512] */
    unsigned max_unauth;        /* --max-unauth-conns: connections still sending their first
                                   request head, held by the gate [128] */
    unsigned max_unauth_per_ip; /* --max-unauth-per-ip: of those, from one address [32] */
    int64_t head_timeout_ms;    /* --header-timeout: a first request head must be complete
                                   this long after the connection was accepted [10 s] */
    size_t max_body_total;      /* --max-body-total: bytes of request bodies held at once,
                                   over every connection [256 MiB] */
    size_t body_min_rate;       /* bytes/s a body must average once head_timeout_ms has
                                   passed since its head [4 KiB/s] */
} httpd_limits_t;

/* The size limits of a request head (not settable): the request line's target,
 * the whole head (request line and header lines), the number of header lines. */
#define HTTPD_URL_MAX (8u << 10)
#define HTTPD_HEAD_MAX (16u << 10)
#define HTTPD_HEAD_LINES_MAX 100

void httpd_limits_default(httpd_limits_t *l);

/* A server in pool with the default limits; routes are added before httpd_start. */
httpd_t *httpd_create(const char *token, apr_pool_t *pool);

/* Replace the limits (before httpd_start). Returns 0, or -1 with a message in
 * err when they cannot work together (a zero count, per-IP above the total). */
int httpd_set_limits(httpd_t *s, const httpd_limits_t *l, abbey_err_t *err);

/* Route method + path (exact, or a prefix ending in '/') to h with ctx.
 * max_body: the largest request body accepted (bytes). */
void httpd_route(httpd_t *s, const char *method, const char *path, size_t max_body,
                 httpd_handler_t h, void *ctx);

/* As httpd_route, for a route anyone may call without the token: a page or
 * an asset that holds no figure (the handler decides by req->authed). */
void httpd_route_public(httpd_t *s, const char *method, const char *path, size_t max_body,
                        httpd_handler_t h, void *ctx);

/* The token the server checks (NULL: none), for the session cookie. */
const char *httpd_token(const httpd_t *s);

/* Change the body limit of the route method + path (before httpd_start).
 * Returns 0, or -1 when there is no such route. */
int httpd_route_set_max_body(httpd_t *s, const char *method, const char *path, size_t max_body);

/* Listen on host:port (port 0: an ephemeral port; see httpd_port) with
 * threads worker threads, plus the gate's thread. Returns APR_SUCCESS, or an
 * error naming the address, or (APR_EINVAL) the route whose body limit is
 * above max_body_total. */
apr_status_t httpd_start(httpd_t *s, const char *host, int port, int threads, abbey_err_t *err);

int httpd_port(const httpd_t *s);

/* Stop listening, close the connections the gate holds, wait for handlers in
 * progress to finish. Idempotent. */
void httpd_stop(httpd_t *s);

/* Request accessors: a query parameter or header value (pool copies), or NULL. */
const char *httpd_query(const httpd_req_t *req, const char *name);
const char *httpd_header(const httpd_req_t *req, const char *name);

/* Every answer carries X-Content-Type-Options: nosniff, Referrer-Policy:
 * no-referrer and HTTPD_CSP, the Content-Security-Policy of the dashboard
 * (scripts, styles and images from the server itself only, no inline code,
 * fetches to the server only, no framing). */
#define HTTPD_CSP                                                                                  \
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "              \
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

/* Answer helpers: status + JSON {"error": "<message>"} / a JSON text /
 * root's compact JSON (root is released; a NULL root, from a json_pack that
 * failed, or one that cannot be encoded answers 500 instead). */
void httpd_error(httpd_resp_t *resp, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void httpd_json(httpd_resp_t *resp, int status, const char *json_text);
void httpd_answer_json(httpd_resp_t *resp, int status, struct json_t *root);

#endif
