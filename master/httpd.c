/* httpd.c - the masters' HTTP server on libmicrohttpd (see httpd.h).
 *
 * MHD parses HTTP and runs a small pool of polling threads; this file adds
 * routing, the bearer-token check, body limits and the glue between MHD's
 * access callback and abbey's handler signature. The listen socket is opened
 * here (so a failure names the address and the reason) and handed to MHD.
 *
 * Per request: the first access call only checks (route, token,
 * Content-Length) and may answer at once without reading the body; later
 * calls append the body to a malloc'd buffer bounded by the route's limit;
 * the last call runs the handler with a fresh unmanaged APR pool (its own
 * allocator, so threads never share one) and queues the answer. The state
 * is freed in MHD's request-completed callback, however the request ended.
 *
 * A NULL token disables the token check (for tests and local tools). */
#include "httpd.h"

#include <apr_strings.h>
#include <apr_tables.h>
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "token.h"

#define HTTPD_TIMEOUT_S 30
#define HTTPD_MAX_CONNECTIONS 256
#define HTTPD_BACKLOG 128
#define HTTPD_DISCARD_MAX (64 * 1024) /* bytes of an overlong chunked body skipped */

typedef struct route_t {
    const char *method;
    const char *path;
    size_t path_len;
    int prefix; /* path ends in '/': matches everything under it */
    size_t max_body;
    httpd_handler_t handler;
    void *ctx;
} route_t;

struct httpd_t {
    apr_pool_t *pool;
    const char *token;
    apr_array_header_t *routes; /* route_t; read-only once started */
    struct MHD_Daemon *daemon;
    int port;
};

/* One request's state, from its first access call to request-completed. */
typedef struct conn_state_t {
    const route_t *route;
    buf_t body;
    int rejected;     /* the body overflowed the route's limit */
    size_t discarded; /* bytes skipped since */
} conn_state_t;

/* --- routing ------------------------------------------------------------ */

static int path_matches(const route_t *r, const char *path)
{
    if (r->prefix)
        return strncmp(path, r->path, r->path_len) == 0;
    return strcmp(path, r->path) == 0;
}

/* The best route for method + path: an exact path beats a prefix, a longer
 * prefix beats a shorter one. *path_known: some route has this path. */
static const route_t *route_find(const httpd_t *s, const char *method, const char *path,
                                 int *path_known)
{
    const route_t *best = NULL;
    *path_known = 0;
    for (int i = 0; i < s->routes->nelts; i++) {
        const route_t *r = &APR_ARRAY_IDX(s->routes, i, route_t);
        if (!path_matches(r, path))
            continue;
        *path_known = 1;
        if (strcmp(r->method, method) != 0)
            continue;
        if (!best || (best->prefix && (!r->prefix || r->path_len > best->path_len)))
            best = r;
    }
    return best;
}

/* --- answers ------------------------------------------------------------ */

static enum MHD_Result queue_resp(struct MHD_Connection *conn, httpd_resp_t *resp)
{
    struct MHD_Response *mr;
    enum MHD_Result ret;
    char etag[160];

    if (resp->body.len)
        mr = MHD_create_response_from_buffer_with_free_callback(resp->body.len, resp->body.data,
                                                                free);
    else
        mr = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    if (!mr) {
        buf_free(&resp->body);
        return MHD_NO;
    }
    if (resp->body.len)
        buf_init(&resp->body); /* MHD owns the bytes now */
    else
        buf_free(&resp->body);
    MHD_add_response_header(mr, MHD_HTTP_HEADER_CONTENT_TYPE,
                            resp->content_type ? resp->content_type : "application/json");
    if (resp->etag) {
        snprintf(etag, sizeof etag, "\"%s\"", resp->etag);
        MHD_add_response_header(mr, MHD_HTTP_HEADER_ETAG, etag);
    }
    if (resp->status == MHD_HTTP_UNAUTHORIZED)
        MHD_add_response_header(mr, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
    ret = MHD_queue_response(conn, (unsigned)resp->status, mr);
    MHD_destroy_response(mr);
    return ret;
}

/* Queue an error answer built by the server itself (404, 405, 401, 413). */
static enum MHD_Result queue_error(struct MHD_Connection *conn, int status, const char *msg)
{
    httpd_resp_t resp = {.status = 200};
    buf_init(&resp.body);
    httpd_error(&resp, status, "%s", msg);
    return queue_resp(conn, &resp);
}

/* --- request handling ----------------------------------------------------- */

/* First access call: route, token, declared length. Returns 0 to go on
 * reading the body, or the status of an answer to send now. */
static int request_check(httpd_t *s, struct MHD_Connection *conn, const char *method,
                         const char *url, conn_state_t *st, const char **msg)
{
    const char *auth =
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    const char *clen;
    int path_known;

    /* the token first: without it a client learns nothing, not even the routes */
    if (s->token && !token_check_header(auth, s->token)) {
        *msg = "missing or wrong bearer token";
        return MHD_HTTP_UNAUTHORIZED;
    }
    st->route = route_find(s, method, url, &path_known);
    if (!st->route) {
        *msg = path_known ? "method not allowed" : "not found";
        return path_known ? MHD_HTTP_METHOD_NOT_ALLOWED : MHD_HTTP_NOT_FOUND;
    }
    clen = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (clen) {
        char *end;
        errno = 0;
        unsigned long long n = strtoull(clen, &end, 10);
        if (errno || end == clen || n > st->route->max_body) {
            *msg = "request body too large";
            return MHD_HTTP_CONTENT_TOO_LARGE;
        }
    }
    return 0;
}

/* Last access call: the body is complete; run the handler and answer. */
static enum MHD_Result request_run(struct MHD_Connection *conn, const char *method, const char *url,
                                   conn_state_t *st)
{
    httpd_req_t req;
    httpd_resp_t resp = {.status = 200, .content_type = "application/json"};
    apr_pool_t *pool;
    enum MHD_Result ret;

    if (apr_pool_create_unmanaged_ex(&pool, NULL, NULL) != APR_SUCCESS)
        return MHD_NO;
    req.method = apr_pstrdup(pool, method);
    req.path = apr_pstrdup(pool, url);
    req.body = st->body.len ? st->body.data : NULL;
    req.body_len = st->body.len;
    req.pool = pool;
    req.conn = conn;
    buf_init(&resp.body);
    st->route->handler(st->route->ctx, &req, &resp);
    if (resp.status < 100 || resp.status > 599) /* MHD would drop the connection */
        httpd_error(&resp, 500, "the handler of %s %s gave no valid status", req.method, req.path);
    ret = queue_resp(conn, &resp);
    apr_pool_destroy(pool);
    return ret;
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version, const char *upload_data,
                                 size_t *upload_data_size, void **req_cls)
{
    httpd_t *s = cls;
    conn_state_t *st = *req_cls;
    const char *msg = NULL;
    int status;

    (void)version;
    if (!st) {
        st = calloc(1, sizeof *st);
        if (!st)
            return MHD_NO;
        buf_init(&st->body);
        *req_cls = st;
        status = request_check(s, conn, method, url, st, &msg);
        if (status) /* answered before any body is read; MHD closes after it */
            return queue_error(conn, status, msg);
        return MHD_YES;
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (!st->rejected && n > st->route->max_body - st->body.len) {
            st->rejected = 1; /* too long without a Content-Length (chunked) */
            buf_free(&st->body);
        }
        if (st->rejected) {
            /* MHD cannot answer in the middle of a body: skip a little of it
             * to answer 413 at its end, drop the connection past that */
            st->discarded += n;
            return st->discarded <= HTTPD_DISCARD_MAX ? MHD_YES : MHD_NO;
        }
        buf_put(&st->body, upload_data, n);
        return MHD_YES;
    }
    if (st->rejected)
        return queue_error(conn, MHD_HTTP_CONTENT_TOO_LARGE, "request body too large");
    return request_run(conn, method, url, st);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                         enum MHD_RequestTerminationCode toe)
{
    conn_state_t *st = *req_cls;
    (void)cls;
    (void)conn;
    (void)toe;
    if (!st)
        return;
    buf_free(&st->body);
    free(st);
    *req_cls = NULL;
}

/* --- server life ---------------------------------------------------------- */

static apr_status_t httpd_cleanup(void *data)
{
    httpd_stop(data);
    return APR_SUCCESS;
}

httpd_t *httpd_create(const char *token, apr_pool_t *pool)
{
    httpd_t *s = apr_pcalloc(pool, sizeof *s);
    s->pool = pool;
    s->token = token ? apr_pstrdup(pool, token) : NULL;
    s->routes = apr_array_make(pool, 8, sizeof(route_t));
    json_object_seed(0); /* jansson's hash seed, set before the threads start */
    apr_pool_cleanup_register(pool, s, httpd_cleanup, apr_pool_cleanup_null);
    return s;
}

void httpd_route(httpd_t *s, const char *method, const char *path, size_t max_body,
                 httpd_handler_t h, void *ctx)
{
    route_t *r = apr_array_push(s->routes);
    r->method = apr_pstrdup(s->pool, method);
    r->path = apr_pstrdup(s->pool, path);
    r->path_len = strlen(path);
    r->prefix = r->path_len > 0 && path[r->path_len - 1] == '/';
    r->max_body = max_body;
    r->handler = h;
    r->ctx = ctx;
}

/* A listening IPv4 socket on host:port; -1 with err filled. */
static int listen_socket(const char *host, int port, int *bound_port, abbey_err_t *err)
{
    struct sockaddr_in sa;
    socklen_t slen = sizeof sa;
    int fd, one = 1;

    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    if (strcmp(host, "localhost") == 0)
        host = "127.0.0.1";
    if (port < 0 || port > 65535 || inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
        abbey_err_set(err, "%s:%d: not an IPv4 address and port", host, port);
        return -1;
    }
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        abbey_err_set(err, "%s:%d: socket: %s", host, port, strerror(errno));
        return -1;
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(fd, HTTPD_BACKLOG) != 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &slen) != 0) {
        abbey_err_set(err, "cannot listen on %s:%d: %s", host, port, strerror(errno));
        close(fd);
        return -1;
    }
    *bound_port = ntohs(sa.sin_port);
    return fd;
}

apr_status_t httpd_start(httpd_t *s, const char *host, int port, int threads, abbey_err_t *err)
{
    /* poll(2), not epoll: libmicrohttpd 0.9.75's epoll mode keeps a connection
     * whose client closed in the middle of a body until the timeout (and
     * MHD_stop_daemon then waits for it) */
    unsigned flags = MHD_USE_POLL_INTERNAL_THREAD;
    int bound = 0, fd;

    if (s->daemon) {
        abbey_err_set(err, "%s:%d: the server is already started", host, port);
        return APR_EINVAL;
    }
    fd = listen_socket(host, port, &bound, err);
    if (fd < 0)
        return APR_EGENERAL;
    if (threads < 1)
        threads = 1;
    s->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_access, s, MHD_OPTION_LISTEN_SOCKET,
                                 (MHD_socket)fd, MHD_OPTION_THREAD_POOL_SIZE, (unsigned)threads,
                                 MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HTTPD_TIMEOUT_S,
                                 MHD_OPTION_CONNECTION_LIMIT, (unsigned)HTTPD_MAX_CONNECTIONS,
                                 MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_END);
    if (!s->daemon) {
        close(fd);
        abbey_err_set(err, "cannot start the HTTP server on %s:%d", host, port);
        return APR_EGENERAL;
    }
    s->port = bound;
    return APR_SUCCESS;
}

int httpd_port(const httpd_t *s)
{
    return s->port;
}

void httpd_stop(httpd_t *s)
{
    if (!s->daemon)
        return;
    MHD_stop_daemon(s->daemon);
    s->daemon = NULL;
}

/* --- accessors and answer helpers ----------------------------------------- */

static const char *lookup(const httpd_req_t *req, enum MHD_ValueKind kind, const char *name)
{
    const char *v = MHD_lookup_connection_value(req->conn, kind, name);
    return v ? apr_pstrdup(req->pool, v) : NULL;
}

const char *httpd_query(const httpd_req_t *req, const char *name)
{
    return lookup(req, MHD_GET_ARGUMENT_KIND, name);
}

const char *httpd_header(const httpd_req_t *req, const char *name)
{
    return lookup(req, MHD_HEADER_KIND, name);
}

void httpd_error(httpd_resp_t *resp, int status, const char *fmt, ...)
{
    char msg[1024];
    json_t *obj, *str;
    char *text;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    str = json_string(msg);
    if (!str) { /* not UTF-8 (e.g. a client's bytes): keep the ASCII */
        for (char *p = msg; *p; p++)
            if ((unsigned char)*p >= 0x80)
                *p = '?';
        str = json_string(msg);
    }
    obj = json_object();
    json_object_set_new(obj, "error", str ? str : json_string("?"));
    text = json_dumps(obj, JSON_COMPACT);
    json_decref(obj);
    httpd_json(resp, status, text ? text : "{\"error\":\"?\"}");
    free(text);
}

void httpd_json(httpd_resp_t *resp, int status, const char *json_text)
{
    resp->status = status;
    resp->content_type = "application/json";
    buf_reset(&resp->body);
    buf_put(&resp->body, json_text, strlen(json_text));
}
