/* httpd.c - the masters' HTTP server on libmicrohttpd (see httpd.h).
 *
 * MHD parses HTTP and runs a small pool of polling threads; this file adds
 * routing, the bearer-token check, body limits and the glue between MHD's
 * access callback and abbey's handler signature. The listen socket is opened
 * here (so a failure names the address and the reason) and handed to the
 * gate (httpd_gate.c), which accepts connections and gives MHD those whose
 * request head is complete (MHD_add_connection).
 *
 * Per request: the first access call only checks (token, route, head size,
 * Content-Length, the body budget) and may answer at once without reading
 * the body; later calls append the body to a buffer bounded by the route's
 * limit, whose bytes are counted against max_body_total (the exact
 * Content-Length up front, or as a chunked body grows); the last call runs
 * the handler with a fresh unmanaged APR pool (on its thread's allocator,
 * so threads never share one and a request maps no memory of its own) and
 * queues the answer. MHD cannot queue an answer
 * in the middle of a body, so an answer there (413, 503, 408) is written to
 * the socket directly; the rest of the body is then read and dropped (up to
 * HTTPD_LINGER_MAX) so the client sees it. The state is freed in MHD's
 * request-completed callback, however the request ended.
 *
 * A NULL token disables the token check (for tests and local tools). A GET
 * may carry the dashboard's session cookie (httpd_session.c) instead of the
 * token; other methods need the token itself, so a page elsewhere cannot
 * make a logged-in browser change anything. */
#include "httpd.h"

#include <apr_strings.h>
#include <apr_tables.h>
#include <apr_thread_mutex.h>
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "httpd_gate.h"
#include "httpd_session.h"
#include "jsonio.h"
#include "log.h"
#include "token.h"

/* MHD's idle timeout, for connections past the gate: a slave's one connection
 * to the primary carries a call at least every --poll-ms (500 ms) and every
 * renewal (a third of the 30 s lease), so only connections of clients that
 * went away, and a worker's to a master it has no frame for, reach it. */
#define HTTPD_TIMEOUT_S 30
/* The listen backlog (the kernel caps it at net.core.somaxconn): hundreds of
 * slaves starting together must not have their SYNs dropped (a client waits
 * 1, 3, 7 s... before it sends one again) while the gate accepts. */
#define HTTPD_BACKLOG 4096
#define HTTPD_FD_SPARE 256         /* descriptors beyond the connections: journals, files, pipes */
#define HTTPD_REFUSED_LOG_MS 10000 /* a route's refused bodies are logged at most this often */
#define HTTPD_POOL_SIZE                                                                            \
    (64u << 10)                     /* MHD's memory per connection: a head of HTTPD_HEAD_MAX fits  \
                                     */
#define HTTPD_LINGER_MAX (1u << 20) /* body bytes dropped after an answer in its middle */
#define HTTPD_BODY_STEP (64u << 10) /* a chunked body's buffer grows by at least this */

typedef struct route_t {
    const char *method;
    const char *path;
    size_t path_len;
    int prefix; /* path ends in '/' (and is not "/"): matches everything under it */
    int public; /* runs without the token (httpd_route_public) */
    size_t max_body;
    httpd_handler_t handler;
    void *ctx;
    /* bodies refused (413) for size, logged (refused_log): under httpd_t.lock */
    int64_t refused_logged_ms; /* the last line written */
    unsigned refused_quiet;    /* refusals since, not logged yet */
} route_t;

struct httpd_t {
    apr_pool_t *pool;
    const char *token;
    apr_array_header_t *routes; /* route_t; read-only once started */
    httpd_limits_t lim;         /* read-only once started */
    struct MHD_Daemon *daemon;
    httpd_gate_t *gate;
    apr_thread_mutex_t *lock; /* guards conns and body_bytes */
    unsigned conns;           /* connections MHD has */
    size_t body_bytes;        /* bytes of bodies held (reserved) by requests */
    int port;
};

/* One request's state, from its first access call to request-completed. */
typedef struct conn_state_t {
    const route_t *route;
    buf_t body;       /* body.cap bytes are counted in body_bytes */
    int64_t start_ms; /* the head was complete */
    size_t received;  /* body bytes that arrived */
    int answered;     /* answered in the middle of the body (httpd_answer_raw) */
    int authed;       /* the token or a session cookie was valid */
    size_t discarded; /* body bytes dropped since */
} conn_state_t;

void httpd_limits_default(httpd_limits_t *l)
{
    l->max_conns = 2048;
    l->max_unauth = 128;
    l->max_unauth_per_ip = 32;
    l->head_timeout_ms = 10000;
    l->max_body_total = (size_t)256 << 20;
    l->body_min_rate = 4096;
}

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
    MHD_add_response_header(mr, MHD_HTTP_HEADER_CACHE_CONTROL,
                            resp->cache_control ? resp->cache_control : "no-store");
    MHD_add_response_header(mr, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(mr, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(mr, "Content-Security-Policy", HTTPD_CSP);
    if (resp->location)
        MHD_add_response_header(mr, MHD_HTTP_HEADER_LOCATION, resp->location);
    if (resp->set_cookie)
        MHD_add_response_header(mr, MHD_HTTP_HEADER_SET_COOKIE, resp->set_cookie);
    if (resp->etag) {
        snprintf(etag, sizeof etag, "\"%s\"", resp->etag);
        MHD_add_response_header(mr, MHD_HTTP_HEADER_ETAG, etag);
    }
    if (resp->retry_after > 0) {
        snprintf(etag, sizeof etag, "%d", resp->retry_after);
        MHD_add_response_header(mr, MHD_HTTP_HEADER_RETRY_AFTER, etag);
    }
    if (resp->status == MHD_HTTP_UNAUTHORIZED) { /* nothing more for this client */
        MHD_add_response_header(mr, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
        MHD_add_response_header(mr, MHD_HTTP_HEADER_CONNECTION, "close");
    }
    ret = MHD_queue_response(conn, (unsigned)resp->status, mr);
    MHD_destroy_response(mr);
    return ret;
}

/* Queue an error answer built by the server itself (401, 404, 405, 413, 414,
 * 431, 503 with retry_after seconds when > 0). */
static enum MHD_Result queue_error(struct MHD_Connection *conn, int status, const char *msg,
                                   int retry_after)
{
    httpd_resp_t resp = {.status = 200, .retry_after = retry_after};
    buf_init(&resp.body);
    httpd_error(&resp, status, "%s", msg);
    return queue_resp(conn, &resp);
}

int httpd_answer_raw(int fd, int status, const char *msg, int retry_after)
{
    httpd_resp_t resp = {.status = 200};
    buf_t out;
    char retry[48] = "";
    int ok;

    buf_init(&resp.body);
    buf_init(&out);
    httpd_error(&resp, status, "%s", msg);
    if (retry_after > 0)
        snprintf(retry, sizeof retry, "Retry-After: %d\r\n", retry_after);
    buf_printf(&out,
               "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
               "Connection: close\r\n%s\r\n",
               status, MHD_get_reason_phrase_for((unsigned)status), resp.body.len, retry);
    buf_put(&out, resp.body.data, resp.body.len);
    ok = send(fd, out.data, out.len, MSG_NOSIGNAL | MSG_DONTWAIT) == (ssize_t)out.len;
    buf_free(&resp.body);
    buf_free(&out);
    return ok ? 0 : -1;
}

/* --- the body budget ---------------------------------------------------------- */

/* Count n more bytes against max_body_total. 0, or -1 (nothing counted) when over. */
static int budget_take(httpd_t *s, size_t n)
{
    int ok;
    apr_thread_mutex_lock(s->lock);
    ok = n <= s->lim.max_body_total - s->body_bytes;
    if (ok)
        s->body_bytes += n;
    apr_thread_mutex_unlock(s->lock);
    return ok ? 0 : -1;
}

static void budget_give(httpd_t *s, size_t n)
{
    apr_thread_mutex_lock(s->lock);
    s->body_bytes -= n;
    apr_thread_mutex_unlock(s->lock);
}

/* Room for n more body bytes: a buffer of exactly need bytes when fixed (a
 * Content-Length), else grown by doubling up to the route's limit. Its growth
 * is counted first. 0, or -1 (unchanged) when over budget or out of memory. */
static int body_room(httpd_t *s, conn_state_t *st, size_t n, int fixed)
{
    size_t need = st->body.len + n, cap = need;
    uint8_t *p;
    if (need <= st->body.cap)
        return 0;
    if (!fixed) {
        cap = st->body.cap * 2 > need ? st->body.cap * 2 : need;
        cap = cap < HTTPD_BODY_STEP ? HTTPD_BODY_STEP : cap;
        cap = cap > st->route->max_body ? st->route->max_body : cap;
    }
    if (budget_take(s, cap - st->body.cap) != 0)
        return -1;
    if (!(p = realloc(st->body.data, cap))) {
        budget_give(s, cap - st->body.cap);
        return -1;
    }
    st->body.data = p;
    st->body.cap = cap;
    return 0;
}

/* Free the body and give its bytes back. */
static void body_drop(httpd_t *s, conn_state_t *st)
{
    budget_give(s, st->body.cap);
    buf_free(&st->body);
}

/* The 503 answer's message when the budget is spent. */
static const char *budget_msg(const httpd_t *s, char *out, size_t cap)
{
    snprintf(out, cap,
             "the server holds as many request bodies as it takes (%zu bytes, "
             "--max-body-total): retry later",
             s->lim.max_body_total);
    return out;
}

/* --- request handling ----------------------------------------------------- */

typedef struct head_size_t {
    size_t bytes, lines;
} head_size_t;

static enum MHD_Result head_add(void *cls, enum MHD_ValueKind kind, const char *key,
                                const char *value)
{
    head_size_t *h = cls;
    h->bytes += strlen(key) + (value ? strlen(value) : 0) + (kind == MHD_HEADER_KIND ? 4 : 2);
    h->lines += kind == MHD_HEADER_KIND;
    return MHD_YES;
}

/* A head within the sizes the gate enforces on a connection's first request
 * (a later request on a kept-alive connection reaches MHD directly). */
static int head_check(struct MHD_Connection *conn, const char *url, const char **msg)
{
    head_size_t t = {strlen(url), 0}, h = {0, 0};
    MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, head_add, &t);
    MHD_get_connection_values(conn, MHD_HEADER_KIND, head_add, &h);
    if (t.bytes > HTTPD_URL_MAX) {
        *msg = "the request target is longer than the server accepts";
        return MHD_HTTP_URI_TOO_LONG;
    }
    if (t.bytes + h.bytes > HTTPD_HEAD_MAX || h.lines > HTTPD_HEAD_LINES_MAX) {
        *msg = "the request head is larger than the server accepts";
        return MHD_HTTP_REQUEST_HEADER_FIELDS_TOO_LARGE;
    }
    return 0;
}

/* Log a body refused for its size (413) at route r: the client, the size and
 * the limit, at most once per HTTPD_REFUSED_LOG_MS per route (the ones in
 * between are counted in the next line). size 0: a chunked body, cut. */
static void refused_log(httpd_t *s, const route_t *r, struct MHD_Connection *conn,
                        unsigned long long size)
{
    route_t *rw = (route_t *)r; /* the route's refusal counters are mutable, under s->lock */
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    char peer[INET_ADDRSTRLEN] = "?", what[64], more[80] = "";
    int64_t now = httpd_now_ms();
    unsigned quiet;
    apr_thread_mutex_lock(s->lock);
    if (rw->refused_logged_ms && now - rw->refused_logged_ms < HTTPD_REFUSED_LOG_MS) {
        rw->refused_quiet++;
        apr_thread_mutex_unlock(s->lock);
        return;
    }
    rw->refused_logged_ms = now;
    quiet = rw->refused_quiet;
    rw->refused_quiet = 0;
    apr_thread_mutex_unlock(s->lock);
    if (ci && ci->client_addr && ci->client_addr->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)ci->client_addr)->sin_addr, peer,
                  sizeof peer);
    if (size)
        snprintf(what, sizeof what, "a body of %llu bytes", size);
    else
        snprintf(what, sizeof what, "a chunked body");
    if (quiet)
        snprintf(more, sizeof more, " (and %u more since the last such line)", quiet);
    log_msg("%s %s from %s: refused (413): %s, over this call's limit of %zu bytes%s", r->method,
            r->path, peer, what, r->max_body, more);
}

/* The declared body: its Content-Length counted against the budget and its
 * buffer allocated. Returns 0, or the status of an answer to send now. */
static int body_check(httpd_t *s, struct MHD_Connection *conn, conn_state_t *st, const char **msg)
{
    const char *clen =
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    unsigned long long n;
    char *end;

    if (!clen)
        return 0; /* none, or chunked: counted as it grows */
    errno = 0;
    n = strtoull(clen, &end, 10);
    if (errno || end == clen || n > st->route->max_body) {
        *msg = "request body too large";
        refused_log(s, st->route, conn, errno || end == clen ? 0 : n);
        return MHD_HTTP_CONTENT_TOO_LARGE;
    }
    if (n && body_room(s, st, (size_t)n, 1) != 0)
        return MHD_HTTP_SERVICE_UNAVAILABLE; /* the message: budget_msg */
    return 0;
}

/* 1 when the request carries the token, or is a GET with a valid session cookie. */
static int request_authed(const httpd_t *s, struct MHD_Connection *conn, const char *method)
{
    const char *auth =
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!s->token || token_check_header(auth, s->token))
        return 1;
    return strcmp(method, "GET") == 0 &&
           httpd_session_check(
               MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_COOKIE), s->token,
               (int64_t)time(NULL));
}

/* First access call: token, route, head size, declared length. Returns 0 to
 * go on reading the body, or the status of an answer to send now. */
static int request_check(httpd_t *s, struct MHD_Connection *conn, const char *method,
                         const char *url, conn_state_t *st, const char **msg)
{
    int path_known, status;

    /* the token first: without it a client learns nothing but the public routes */
    st->authed = request_authed(s, conn, method);
    st->route = route_find(s, method, url, &path_known);
    if (!st->authed && !(st->route && st->route->public)) {
        *msg = "missing or wrong bearer token";
        return MHD_HTTP_UNAUTHORIZED;
    }
    if ((status = head_check(conn, url, msg)) != 0)
        return status;
    if (!st->route) {
        *msg = path_known ? "method not allowed" : "not found";
        return path_known ? MHD_HTTP_METHOD_NOT_ALLOWED : MHD_HTTP_NOT_FOUND;
    }
    return body_check(s, conn, st, msg);
}

/* Each MHD thread keeps one allocator for its requests' pools: a pool on an
 * allocator of its own maps and unmaps its blocks at every request (5% of an
 * idle primary's CPU with 500 slaves). It keeps at most HTTPD_ALLOC_KEEP
 * bytes freed for reuse and is destroyed when its thread ends (every pool on
 * it is destroyed before: request_run). */
#define HTTPD_ALLOC_KEEP (4u << 20)
static pthread_key_t alloc_key;
static pthread_once_t alloc_once = PTHREAD_ONCE_INIT;

static void alloc_destroy(void *a)
{
    apr_allocator_destroy(a);
}

static void alloc_key_make(void)
{
    if (pthread_key_create(&alloc_key, alloc_destroy) != 0)
        abort(); /* (only when the process is out of keys at start) */
}

/* This thread's allocator; NULL when none can be made (the pool then makes its own). */
static apr_allocator_t *thread_allocator(void)
{
    apr_allocator_t *a;

    pthread_once(&alloc_once, alloc_key_make);
    if ((a = pthread_getspecific(alloc_key)) != NULL)
        return a;
    if (apr_allocator_create(&a) != APR_SUCCESS)
        return NULL;
    apr_allocator_max_free_set(a, HTTPD_ALLOC_KEEP);
    if (pthread_setspecific(alloc_key, a) != 0) {
        apr_allocator_destroy(a);
        return NULL;
    }
    return a;
}

/* Last access call: the body is complete; run the handler and answer. */
static enum MHD_Result request_run(struct MHD_Connection *conn, const char *method, const char *url,
                                   conn_state_t *st)
{
    httpd_req_t req;
    httpd_resp_t resp = {.status = 200, .content_type = "application/json"};
    apr_pool_t *pool;
    enum MHD_Result ret;

    if (apr_pool_create_unmanaged_ex(&pool, NULL, thread_allocator()) != APR_SUCCESS)
        return MHD_NO;
    req.method = apr_pstrdup(pool, method);
    req.path = apr_pstrdup(pool, url);
    req.body = st->body.len ? st->body.data : NULL;
    req.body_len = st->body.len;
    req.pool = pool;
    req.conn = conn;
    req.authed = st->authed;
    buf_init(&resp.body);
    st->route->handler(st->route->ctx, &req, &resp);
    if (resp.status < 100 || resp.status > 599) /* MHD would drop the connection */
        httpd_error(&resp, 500, "the handler of %s %s gave no valid status", req.method, req.path);
    ret = queue_resp(conn, &resp);
    apr_pool_destroy(pool);
    return ret;
}

/* Answer in the middle of a body (MHD cannot queue one there): written to
 * the socket, the body dropped. MHD_YES to read and drop the rest of the
 * body, MHD_NO to close now. */
static enum MHD_Result answer_mid_body(httpd_t *s, struct MHD_Connection *conn, conn_state_t *st,
                                       int status, const char *msg, int retry_after)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    body_drop(s, st);
    st->answered = 1;
    if (!ci || httpd_answer_raw(ci->connect_fd, status, msg, retry_after) != 0)
        return MHD_NO;
    shutdown(ci->connect_fd, SHUT_WR);
    return MHD_YES;
}

/* A body arriving slower than body_min_rate, once head_timeout_ms passed. */
static int body_too_slow(const httpd_t *s, const conn_state_t *st, int64_t now)
{
    int64_t ms = now - st->start_ms;
    return ms > s->lim.head_timeout_ms &&
           (double)st->received * 1000.0 < (double)s->lim.body_min_rate * (double)ms;
}

/* A piece of the body. */
static enum MHD_Result body_piece(httpd_t *s, struct MHD_Connection *conn, conn_state_t *st,
                                  const char *data, size_t n)
{
    char msg[160];
    st->received += n;
    if (st->answered) {
        st->discarded += n;
        return st->discarded <= HTTPD_LINGER_MAX ? MHD_YES : MHD_NO;
    }
    if (body_too_slow(s, st, httpd_now_ms())) {
        snprintf(msg, sizeof msg, "the request body arrives slower than %zu bytes/s",
                 s->lim.body_min_rate);
        answer_mid_body(s, conn, st, MHD_HTTP_REQUEST_TIMEOUT, msg, 0);
        return MHD_NO;
    }
    if (n > st->route->max_body - st->body.len) { /* chunked, past the limit */
        refused_log(s, st->route, conn, 0);
        return answer_mid_body(s, conn, st, MHD_HTTP_CONTENT_TOO_LARGE, "request body too large",
                               0);
    }
    if (body_room(s, st, n, 0) != 0)
        return answer_mid_body(s, conn, st, MHD_HTTP_SERVICE_UNAVAILABLE,
                               budget_msg(s, msg, sizeof msg), 1);
    memcpy(st->body.data + st->body.len, data, n);
    st->body.len += n;
    return MHD_YES;
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version, const char *upload_data,
                                 size_t *upload_data_size, void **req_cls)
{
    httpd_t *s = cls;
    conn_state_t *st = *req_cls;
    const char *msg = NULL;
    char busy[160];
    int status;

    (void)version;
    if (!st) {
        st = calloc(1, sizeof *st);
        if (!st)
            return MHD_NO;
        buf_init(&st->body);
        st->start_ms = httpd_now_ms();
        *req_cls = st;
        status = request_check(s, conn, method, url, st, &msg);
        if (!status)
            return MHD_YES;
        if (status == MHD_HTTP_SERVICE_UNAVAILABLE) /* answered before any body is read */
            return queue_error(conn, status, budget_msg(s, busy, sizeof busy), 1);
        return queue_error(conn, status, msg, 0);
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        return body_piece(s, conn, st, upload_data, n);
    }
    if (st->answered)
        return MHD_NO; /* the answer went out in the middle of the body */
    return request_run(conn, method, url, st);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                         enum MHD_RequestTerminationCode toe)
{
    conn_state_t *st = *req_cls;
    (void)conn;
    (void)toe;
    if (!st)
        return;
    body_drop(cls, st);
    free(st);
    *req_cls = NULL;
}

/* MHD's count of connections, for the gate (gate_hand). */
static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    httpd_t *s = cls;
    (void)conn;
    (void)socket_context;
    apr_thread_mutex_lock(s->lock);
    if (toe == MHD_CONNECTION_NOTIFY_STARTED)
        s->conns++;
    else if (s->conns > 0)
        s->conns--;
    apr_thread_mutex_unlock(s->lock);
}

/* The gate's hand-over (httpd_gate_hand_t): a connection whose head is complete. */
static int gate_hand(void *ctx, int fd, const struct sockaddr_in *peer)
{
    httpd_t *s = ctx;
    unsigned conns;
    apr_thread_mutex_lock(s->lock);
    conns = s->conns;
    apr_thread_mutex_unlock(s->lock);
    if (conns >= s->lim.max_conns)
        return MHD_HTTP_SERVICE_UNAVAILABLE;
    MHD_add_connection(s->daemon, fd, (const struct sockaddr *)peer, sizeof *peer);
    return 0; /* taken, or closed by MHD when it could not */
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
    httpd_limits_default(&s->lim);
    apr_thread_mutex_create(&s->lock, APR_THREAD_MUTEX_DEFAULT, pool);
    json_object_seed(0); /* jansson's hash seed, set before the threads start */
    apr_pool_cleanup_register(pool, s, httpd_cleanup, apr_pool_cleanup_null);
    return s;
}

static void route_add(httpd_t *s, const char *method, const char *path, size_t max_body,
                      httpd_handler_t h, void *ctx, int public)
{
    route_t *r = apr_array_push(s->routes);
    r->method = apr_pstrdup(s->pool, method);
    r->path = apr_pstrdup(s->pool, path);
    r->path_len = strlen(path);
    r->prefix = r->path_len > 1 && path[r->path_len - 1] == '/';
    r->public = public;
    r->max_body = max_body;
    r->handler = h;
    r->ctx = ctx;
}

void httpd_route(httpd_t *s, const char *method, const char *path, size_t max_body,
                 httpd_handler_t h, void *ctx)
{
    route_add(s, method, path, max_body, h, ctx, 0);
}

void httpd_route_public(httpd_t *s, const char *method, const char *path, size_t max_body,
                        httpd_handler_t h, void *ctx)
{
    route_add(s, method, path, max_body, h, ctx, 1);
}

const char *httpd_token(const httpd_t *s)
{
    return s->token;
}

int httpd_route_set_max_body(httpd_t *s, const char *method, const char *path, size_t max_body)
{
    for (int i = 0; i < s->routes->nelts; i++) {
        route_t *r = &APR_ARRAY_IDX(s->routes, i, route_t);
        if (strcmp(r->method, method) == 0 && strcmp(r->path, path) == 0) {
            r->max_body = max_body;
            return 0;
        }
    }
    return -1;
}

int httpd_set_limits(httpd_t *s, const httpd_limits_t *l, abbey_err_t *err)
{
    if (!l->max_conns || !l->max_unauth || !l->max_unauth_per_ip || l->head_timeout_ms <= 0 ||
        !l->max_body_total) {
        abbey_err_set(err, "HTTP limits: connection counts, the header timeout and the body "
                           "total must be above 0");
        return -1;
    }
    if (l->max_unauth_per_ip > l->max_unauth) {
        abbey_err_set(err, "--max-unauth-per-ip %u is above --max-unauth-conns %u",
                      l->max_unauth_per_ip, l->max_unauth);
        return -1;
    }
    s->lim = *l;
    return 0;
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

/* Every route's body limit within max_body_total: 0, or -1 with err. */
static int routes_check(const httpd_t *s, abbey_err_t *err)
{
    for (int i = 0; i < s->routes->nelts; i++) {
        const route_t *r = &APR_ARRAY_IDX(s->routes, i, route_t);
        if (r->max_body > s->lim.max_body_total) {
            abbey_err_set(err,
                          "%s %s takes bodies of up to %zu bytes, more than --max-body-total "
                          "(%zu bytes): such a body could never be taken",
                          r->method, r->path, r->max_body, s->lim.max_body_total);
            return -1;
        }
    }
    return 0;
}

/* Raise the soft limit on open descriptors to the hard one (the process's,
 * once per start: connections and journals share it), and log when even the
 * hard one is below what the connection limits need. */
static void nofile_raise(const httpd_limits_t *l)
{
    struct rlimit rl;
    rlim_t need = (rlim_t)l->max_conns + l->max_unauth + HTTPD_FD_SPARE;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return;
    if (rl.rlim_cur < rl.rlim_max) {
        rlim_t was = rl.rlim_cur;
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
            rl.rlim_cur = was;
    }
    if (rl.rlim_cur < need)
        log_msg("warning: open files are limited to %llu (ulimit -n; hard limit %llu), below "
                "the %llu that --max-conns %u and --max-unauth-conns %u need: connections past "
                "it are refused; raise it (ulimit -Hn, systemd's LimitNOFILE=)",
                (unsigned long long)rl.rlim_cur, (unsigned long long)rl.rlim_max,
                (unsigned long long)need, l->max_conns, l->max_unauth);
}

apr_status_t httpd_start(httpd_t *s, const char *host, int port, int threads, abbey_err_t *err)
{
    /* poll(2), not epoll: libmicrohttpd 0.9.75's epoll mode keeps a connection
     * whose client closed in the middle of a body until the timeout (and
     * MHD_stop_daemon then waits for it). No listen socket: the gate has it. */
    unsigned flags = MHD_USE_POLL_INTERNAL_THREAD | MHD_USE_NO_LISTEN_SOCKET | MHD_USE_ITC;
    int bound = 0, fd;

    if (s->daemon) {
        abbey_err_set(err, "%s:%d: the server is already started", host, port);
        return APR_EINVAL;
    }
    if (routes_check(s, err) != 0)
        return APR_EINVAL;
    nofile_raise(&s->lim);
    fd = listen_socket(host, port, &bound, err);
    if (fd < 0)
        return APR_EGENERAL;
    if (threads < 1)
        threads = 1;
    s->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_access, s, MHD_OPTION_THREAD_POOL_SIZE,
                                 (unsigned)threads, MHD_OPTION_CONNECTION_TIMEOUT,
                                 (unsigned)HTTPD_TIMEOUT_S, MHD_OPTION_CONNECTION_LIMIT,
                                 s->lim.max_conns, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
                                 (size_t)HTTPD_POOL_SIZE, MHD_OPTION_NOTIFY_COMPLETED, on_completed,
                                 s, MHD_OPTION_NOTIFY_CONNECTION, on_connection, s, MHD_OPTION_END);
    if (!s->daemon) {
        close(fd);
        abbey_err_set(err, "cannot start the HTTP server on %s:%d", host, port);
        return APR_EGENERAL;
    }
    s->gate = httpd_gate_start(fd, &s->lim, gate_hand, s, s->pool, err);
    if (!s->gate) {
        MHD_stop_daemon(s->daemon);
        s->daemon = NULL;
        close(fd);
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
    httpd_gate_stop(s->gate); /* no new connections from here on */
    s->gate = NULL;
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

void httpd_answer_json(httpd_resp_t *resp, int status, json_t *root)
{
    resp->status = status;
    resp->content_type = "application/json";
    buf_reset(&resp->body);
    if (jsonio_dump_buf(root, &resp->body) != 0)
        httpd_error(resp, 500, "the answer cannot be encoded as JSON");
    json_decref(root);
}
