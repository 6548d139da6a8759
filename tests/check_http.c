/* check_http.c - tests of the HTTP transport: master/httpd.c (routing, auth,
 * body limits, keep-alive, concurrency, robustness) and common/hclient.c
 * (requests, errors, ranges, one client shared by threads: hclient_via); hostile clients are in
 * check_http_limits.c, the token in check_token.c. Loopback only, ephemeral ports; each test starts
 * and stops its own server. Raw curl and raw sockets serve as independent clients; a bare
 * libmicrohttpd daemon serves ranges. */
#include <apr_general.h>
#include <apr_strings.h>
#include <arpa/inet.h>
#include <check.h>
#include <curl/curl.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "check_run.h"
#include "fixture_http.h"
#include "hclient.h"
#include "httpd.h"
#include "token.h"

#define TOKEN "tok-3f9a1c"
#define ECHO_MAX 64

static apr_pool_t *pool;
static httpd_t *srv;
static char base[64]; /* "http://127.0.0.1:<port>" */

/* What the echo handler saw last, and the /count handler's counter
 * (guarded by seen_lock; tests read them through seen_now). */
typedef struct seen_t {
    char method[16], path[128], q[128], ctype[128], inm[128], xtest[128];
    uint8_t body[ECHO_MAX];
    size_t body_len;
    int calls;
    long counter;
} seen_t;
static pthread_mutex_t seen_lock = PTHREAD_MUTEX_INITIALIZER;
static seen_t seen;

static seen_t seen_now(void)
{
    seen_t copy;
    pthread_mutex_lock(&seen_lock);
    copy = seen;
    pthread_mutex_unlock(&seen_lock);
    return copy;
}

static void copy_or_dash(char *dst, size_t cap, const char *v)
{
    snprintf(dst, cap, "%s", v ? v : "-");
}

/* --- handlers ------------------------------------------------------------- */

static void h_echo(void *ctx, const httpd_req_t *req, httpd_resp_t *resp)
{
    (void)ctx;
    pthread_mutex_lock(&seen_lock);
    copy_or_dash(seen.method, sizeof seen.method, req->method);
    copy_or_dash(seen.path, sizeof seen.path, req->path);
    copy_or_dash(seen.q, sizeof seen.q, httpd_query(req, "q"));
    copy_or_dash(seen.ctype, sizeof seen.ctype, httpd_header(req, "content-type"));
    copy_or_dash(seen.inm, sizeof seen.inm, httpd_header(req, "If-None-Match"));
    copy_or_dash(seen.xtest, sizeof seen.xtest, httpd_header(req, "X-Test"));
    seen.body_len = req->body_len;
    if (req->body_len <= ECHO_MAX && req->body_len)
        memcpy(seen.body, req->body, req->body_len);
    seen.calls++;
    pthread_mutex_unlock(&seen_lock);
    resp->status = 201;
    resp->content_type = "application/octet-stream";
    resp->etag = apr_pstrdup(req->pool, "v1");
    buf_put(&resp->body, req->body, req->body_len);
}

/* Answers "<tag> <path>" so tests see which route ran. */
static void h_tag(void *ctx, const httpd_req_t *req, httpd_resp_t *resp)
{
    resp->content_type = "text/plain";
    buf_printf(&resp->body, "%s %s", (const char *)ctx, req->path);
}

static void h_count(void *ctx, const httpd_req_t *req, httpd_resp_t *resp)
{
    (void)ctx;
    (void)req;
    pthread_mutex_lock(&seen_lock);
    seen.counter++;
    pthread_mutex_unlock(&seen_lock);
    httpd_json(resp, 200, "{\"ok\":true}");
}

static void h_sleep(void *ctx, const httpd_req_t *req, httpd_resp_t *resp)
{
    (void)ctx;
    (void)req;
    usleep(1500 * 1000);
    httpd_json(resp, 200, "{}");
}

/* Answers the client's port: which TCP connection carried the request. */
static void h_port(void *ctx, const httpd_req_t *req, httpd_resp_t *resp)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr_in *sa = (const struct sockaddr_in *)ci->client_addr;
    (void)ctx;
    buf_printf(&resp->body, "%u", (unsigned)ntohs(sa->sin_port));
}

static void h_error(void *ctx, const httpd_req_t *req, httpd_resp_t *resp)
{
    (void)ctx;
    (void)req;
    buf_printf(&resp->body, "junk to be replaced");
    httpd_error(resp, 418, "bad \"%s\"\n\t%s", "q\\x", "\xff\xfe");
}

static void h_nostatus(void *ctx, const httpd_req_t *req, httpd_resp_t *resp)
{
    (void)ctx;
    (void)req;
    resp->status = 0;
}

/* --- fixture -------------------------------------------------------------- */

static void setup(void)
{
    abbey_err_t err = {{0}};
    ck_assert_int_eq(apr_pool_create(&pool, NULL), APR_SUCCESS);
    memset(&seen, 0, sizeof seen);
    srv = httpd_create(TOKEN, pool);
    httpd_route(srv, "POST", "/echo", ECHO_MAX, h_echo, NULL);
    httpd_route(srv, "GET", "/files/", 0, h_tag, "prefix");
    httpd_route(srv, "GET", "/files/deep/", 0, h_tag, "deeper");
    httpd_route(srv, "GET", "/files/special", 0, h_tag, "exact");
    httpd_route(srv, "POST", "/count", 0, h_count, NULL);
    httpd_route(srv, "GET", "/sleep", 0, h_sleep, NULL);
    httpd_route(srv, "GET", "/port", 0, h_port, NULL);
    httpd_route(srv, "GET", "/error", 0, h_error, NULL);
    httpd_route(srv, "GET", "/nostatus", 0, h_nostatus, NULL);
    ck_assert_msg(httpd_start(srv, "127.0.0.1", 0, 4, &err) == APR_SUCCESS, "%s", err.msg);
    ck_assert_int_gt(httpd_port(srv), 0);
    snprintf(base, sizeof base, "http://127.0.0.1:%d", httpd_port(srv));
}

static void teardown(void)
{
    apr_pool_destroy(pool); /* stops the server */
}

static const char *url(const char *path)
{
    return apr_pstrcat(pool, base, path, NULL);
}

/* raw_call_url on the test server's path. */
static void raw_call(const char *method, const char *path, const char *const *hdrs,
                     const void *body, size_t len, int chunked, raw_resp_t *out)
{
    raw_call_url(method, url(path), hdrs, body, len, chunked, out);
}

/* One call through a client with a token; asserts an answer came; its status. */
static long call(const char *token, const char *method, const char *path, const void *body,
                 size_t len, hclient_resp_t *r)
{
    abbey_err_t err = {{0}};
    hclient_t *c = hclient_create(token, 2000, 10000, pool);
    ck_assert_msg(hclient_request(c, method, url(path), NULL, body, len, NULL, r, &err) ==
                      APR_SUCCESS,
                  "%s", err.msg);
    return r->status;
}

/* --- routing -------------------------------------------------------------- */

START_TEST(test_echo)
{
    uint8_t body[40];
    hclient_t *c = hclient_create(TOKEN, 2000, 10000, pool);
    hclient_resp_t r = {0};
    abbey_err_t err = {{0}};
    for (size_t i = 0; i < sizeof body; i++)
        body[i] = (uint8_t)(i % 3 == 0 ? 0 : 255 - i); /* NUL bytes included */
    ck_assert_int_eq(hclient_request(c, "POST", url("/echo?q=hello%20world&z=1"),
                                     "application/x-frame", body, sizeof body, "etag-7", &r, &err),
                     APR_SUCCESS);
    ck_assert_int_eq(r.status, 201);
    ck_assert_str_eq(r.etag, "v1");
    ck_assert_uint_eq(r.body.len, sizeof body);
    ck_assert(memcmp(r.body.data, body, sizeof body) == 0);
    seen_t sn = seen_now();
    ck_assert_str_eq(sn.method, "POST");
    ck_assert_str_eq(sn.path, "/echo");
    ck_assert_str_eq(sn.q, "hello world");
    ck_assert_str_eq(sn.ctype, "application/x-frame");
    ck_assert_str_eq(sn.inm, "\"etag-7\"");
    ck_assert_str_eq(sn.xtest, "-");
    ck_assert_uint_eq(sn.body_len, sizeof body);
    ck_assert(memcmp(sn.body, body, sizeof body) == 0);

    /* an empty POST: the handler sees no body; the old answer body is reset */
    ck_assert_int_eq(hclient_request(c, "POST", url("/echo"), NULL, NULL, 0, NULL, &r, &err),
                     APR_SUCCESS);
    ck_assert_int_eq(r.status, 201);
    ck_assert_uint_eq(r.body.len, 0);
    sn = seen_now();
    ck_assert_uint_eq(sn.body_len, 0);
    ck_assert_str_eq(sn.q, "-");
    ck_assert_str_eq(sn.inm, "-");
    buf_free(&r.body);

    /* content type and custom headers seen through an independent client */
    const char *hdrs[] = {"Authorization: Bearer " TOKEN, "X-Test: yes", NULL};
    raw_resp_t rr;
    raw_call("POST", "/echo", hdrs, "abc", 3, 0, &rr);
    ck_assert_int_eq(rr.status, 201);
    ck_assert_str_eq(rr.ctype, "application/octet-stream");
    ck_assert_ptr_nonnull(strstr((char *)rr.headers.data, "ETag: \"v1\""));
    ck_assert(body_is(&rr.body, "abc"));
    sn = seen_now();
    ck_assert_str_eq(sn.xtest, "yes");
    raw_free(&rr);
}
END_TEST

START_TEST(test_routes)
{
    hclient_resp_t r = {0};
    json_t *root;
    static const struct {
        const char *method, *path;
        long status;
        const char *body; /* NULL: a JSON error */
    } cases[] = {
        {"GET", "/files/a/b.log", 200, "prefix /files/a/b.log"},
        {"GET", "/files/", 200, "prefix /files/"},
        {"GET", "/files/special", 200, "exact /files/special"},
        {"GET", "/files/specialx", 200, "prefix /files/specialx"},
        {"GET", "/files/deep/x", 200, "deeper /files/deep/x"},
        {"GET", "/files", 404, NULL},
        {"GET", "/nope", 404, NULL},
        {"GET", "/", 404, NULL},
        {"GET", "/echo", 405, NULL},
        {"POST", "/files/a", 405, NULL},
        {"POST", "/files/special", 405, NULL},
        {"GET", "/count", 405, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        ck_assert_msg(call(TOKEN, cases[i].method, cases[i].path, NULL, 0, &r) == cases[i].status,
                      "%s %s: %ld", cases[i].method, cases[i].path, r.status);
        if (cases[i].body) {
            ck_assert_msg(body_is(&r.body, cases[i].body), "%s %s: %.*s", cases[i].method,
                          cases[i].path, (int)r.body.len, (char *)r.body.data);
        } else {
            ck_assert_ptr_nonnull(json_error(&r.body, &root));
            json_decref(root);
        }
    }
    ck_assert_int_eq(seen_now().calls, 0);
    buf_free(&r.body);
}
END_TEST

START_TEST(test_error_json)
{
    hclient_resp_t r = {0};
    json_t *root;
    const char *msg;
    ck_assert_int_eq(call(TOKEN, "GET", "/error", NULL, 0, &r), 418);
    msg = json_error(&r.body, &root);
    ck_assert_ptr_nonnull(msg);
    ck_assert_str_eq(msg, "bad \"q\\x\"\n\t??"); /* quotes, controls escaped; non-UTF-8 kept out */
    ck_assert_int_eq(json_object_size(root), 1);
    json_decref(root);
    ck_assert_int_eq(call(TOKEN, "GET", "/nostatus", NULL, 0, &r), 500);
    ck_assert_ptr_nonnull(json_error(&r.body, &root));
    json_decref(root);
    buf_free(&r.body);
}
END_TEST

START_TEST(test_start_errors)
{
    abbey_err_t err = {{0}};
    httpd_t *s2 = httpd_create(TOKEN, pool);
    char port[16];
    ck_assert_int_ne(httpd_start(s2, "not-an-address", 0, 1, &err), APR_SUCCESS);
    ck_assert_ptr_nonnull(strstr(err.msg, "not-an-address"));
    snprintf(port, sizeof port, ":%d", httpd_port(srv));
    ck_assert_int_ne(httpd_start(s2, "127.0.0.1", httpd_port(srv), 1, &err), APR_SUCCESS);
    ck_assert_msg(strstr(err.msg, port) && strstr(err.msg, "in use"), "%s", err.msg);
    ck_assert_int_eq(httpd_port(s2), 0);
    httpd_stop(s2); /* never started: nothing to do */
    ck_assert_msg(httpd_start(s2, "localhost", 0, 2, &err) == APR_SUCCESS, "%s", err.msg);
    ck_assert_int_gt(httpd_port(s2), 0);
    ck_assert_int_ne(httpd_port(s2), httpd_port(srv));
    httpd_stop(srv);
    httpd_stop(srv); /* idempotent; the pool cleanup stops it once more */
}
END_TEST

/* --- auth ----------------------------------------------------------------- */

START_TEST(test_auth)
{
    static const char *const bad[] = {
        NULL,
        "Authorization: Bearer wrong",
        "Authorization: Bearer " TOKEN "x",
        "Authorization: Bearer tok-3f9a1",
        "Authorization: Bearer ",
        "Authorization: bearer " TOKEN,
        "Authorization: " TOKEN,
        "Authorization: Basic dXNlcjpwYXNz",
    };
    json_t *root;
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        const char *hdrs[] = {bad[i], NULL};
        raw_resp_t rr;
        raw_call("POST", "/echo", bad[i] ? hdrs : NULL, "x", 1, 0, &rr);
        ck_assert_msg(rr.status == 401, "%s: %ld", bad[i] ? bad[i] : "(none)", rr.status);
        ck_assert_ptr_nonnull(strstr((char *)rr.headers.data, "WWW-Authenticate: Bearer"));
        ck_assert_ptr_nonnull(json_error(&rr.body, &root));
        json_decref(root);
        raw_free(&rr);
        raw_call("GET", "/nope", bad[i] ? hdrs : NULL, NULL, 0, 0, &rr);
        ck_assert_int_eq(rr.status, 401); /* routes are not revealed either */
        raw_free(&rr);
    }
    ck_assert_int_eq(seen_now().calls, 0);

    /* hclient with a wrong token, with no token, then the right one */
    hclient_resp_t r = {0};
    ck_assert_int_eq(call("nope", "POST", "/echo", "x", 1, &r), 401);
    ck_assert_int_eq(call(NULL, "POST", "/echo", "x", 1, &r), 401);
    ck_assert_int_eq(seen_now().calls, 0);
    ck_assert_int_eq(call(TOKEN, "POST", "/echo", "x", 1, &r), 201);
    ck_assert_int_eq(seen_now().calls, 1);
    buf_free(&r.body);
}
END_TEST

/* --- limits --------------------------------------------------------------- */

START_TEST(test_limits)
{
    uint8_t body[ECHO_MAX + 1];
    const char *hdrs[] = {"Authorization: Bearer " TOKEN, NULL};
    raw_resp_t rr;
    json_t *root;
    memset(body, 'b', sizeof body);
    for (int chunked = 0; chunked <= 1; chunked++) {
        raw_call("POST", "/echo", hdrs, body, ECHO_MAX, chunked, &rr);
        ck_assert_int_eq(rr.status, 201);
        ck_assert_uint_eq(rr.body.len, ECHO_MAX);
        ck_assert_uint_eq(seen_now().body_len, ECHO_MAX);
        raw_free(&rr);
        raw_call("POST", "/echo", hdrs, body, ECHO_MAX + 1, chunked, &rr);
        ck_assert_msg(rr.status == 413, "chunked %d: %ld", chunked, rr.status);
        ck_assert_ptr_nonnull(json_error(&rr.body, &root));
        json_decref(root);
        raw_free(&rr);
    }
    ck_assert_int_eq(seen_now().calls, 2);
    /* a route with limit 0: an empty body passes, one byte does not */
    raw_call("POST", "/count", hdrs, NULL, 0, 0, &rr);
    ck_assert_int_eq(rr.status, 200);
    raw_free(&rr);
    raw_call("POST", "/count", hdrs, "1", 1, 1, &rr);
    ck_assert_int_eq(rr.status, 413);
    raw_free(&rr);
    raw_call("POST", "/count", hdrs, "1", 1, 0, &rr);
    ck_assert_int_eq(rr.status, 413);
    raw_free(&rr);
    ck_assert_int_eq(seen_now().counter, 1);
    /* a large body through the client: the early 413 still arrives */
    hclient_resp_t r = {0};
    uint8_t *big = calloc(1, 1 << 20);
    ck_assert_int_eq(call(TOKEN, "POST", "/echo", big, 1 << 20, &r), 413);
    free(big);
    buf_free(&r.body);
}
END_TEST

/* Headers declaring a huge body get their answer before any body is sent. */
START_TEST(test_early_answers)
{
    static const struct {
        const char *req, *status;
    } cases[] = {
        {"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\n", "HTTP/1.1 401"},
        {"POST /echo HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " TOKEN
         "\r\nContent-Length: 100000000\r\n\r\n",
         "HTTP/1.1 413"},
        {"POST /echo HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " TOKEN
         "\r\nExpect: 100-continue\r\nContent-Length: 65\r\n\r\n",
         "HTTP/1.1 413"},
        {"POST /nope HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " TOKEN
         "\r\nContent-Length: 100000000\r\n\r\n",
         "HTTP/1.1 404"},
    };
    char reply[4096];
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        int fd = raw_connect(httpd_port(srv), 20);
        raw_send(fd, cases[i].req, strlen(cases[i].req));
        raw_read_all(fd, reply, sizeof reply);
        close(fd);
        ck_assert_msg(reply_is_json_error(reply, cases[i].status), "case %zu: %.300s", i, reply);
    }
    ck_assert_int_eq(seen_now().calls, 0);
}
END_TEST

START_TEST(test_robustness)
{
    static const char garbage[] = "\x00\xffGARBAGE\r\n\r\n";
    static const char garbage2[] = "\xff\xfe GAR BAGE\r\n\r\n";
    static const char partial[] = "GET /files/a HTTP/1.1\r\nHost: x\r\nAuthor";
    static const char short_body[] =
        "POST /echo HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " TOKEN
        "\r\nContent-Length: 60\r\n\r\n0123456789";
    static const char bad_length[] =
        "POST /echo HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " TOKEN
        "\r\nContent-Length: -5\r\n\r\n";
    char reply[4096];
    int port = httpd_port(srv), fd;

    /* a NUL first reads as an empty line to MHD, which waits for a request
     * line until its timeout: only look for a wrong answer for a second */
    fd = raw_connect(port, 1);
    raw_send(fd, garbage, sizeof garbage - 1);
    raw_read_all(fd, reply, sizeof reply);
    close(fd);
    ck_assert_msg(reply[0] == '\0' || strncmp(reply, "HTTP/1.1 4", 10) == 0, "%.40s", reply);

    fd = raw_connect(port, 20);
    raw_send(fd, garbage2, sizeof garbage2 - 1);
    raw_read_all(fd, reply, sizeof reply);
    close(fd);
    ck_assert_msg(reply_is_json_error(reply, "HTTP/1.1 400"), "%.300s", reply);

    fd = raw_connect(port, 20);
    raw_send(fd, bad_length, sizeof bad_length - 1);
    raw_read_all(fd, reply, sizeof reply);
    close(fd);
    ck_assert_msg(strncmp(reply, "HTTP/1.1 4", 10) == 0, "%.40s", reply);

    for (int i = 0; i < 1000; i++) { /* connect and go, half a request, half a body */
        fd = raw_connect(port, 20);
        if (i % 3 == 1)
            raw_send(fd, partial, sizeof partial - 1);
        else if (i % 3 == 2)
            raw_send(fd, short_body, sizeof short_body - 1);
        close(fd);
    }
    ck_assert_int_eq(seen_now().calls, 0);

    hclient_resp_t r = {0};
    ck_assert_int_eq(call(TOKEN, "GET", "/files/after", NULL, 0, &r), 200);
    ck_assert(body_is(&r.body, "prefix /files/after"));
    buf_free(&r.body);
}
END_TEST

/* --- keep-alive and concurrency ------------------------------------------- */

START_TEST(test_keepalive)
{
    hclient_t *c = hclient_create(TOKEN, 2000, 10000, pool);
    hclient_resp_t r = {0};
    abbey_err_t err = {{0}};
    char ports[4][16];
    int nports = 0;
    for (int i = 0; i < 200; i++) {
        int known = 0;
        ck_assert_int_eq(hclient_request(c, "GET", url("/port"), NULL, NULL, 0, NULL, &r, &err),
                         APR_SUCCESS);
        ck_assert_int_eq(r.status, 200);
        ck_assert(r.body.len > 0 && r.body.len < 8);
        for (int k = 0; k < nports; k++)
            known |=
                strlen(ports[k]) == r.body.len && memcmp(ports[k], r.body.data, r.body.len) == 0;
        if (!known) {
            ck_assert_msg(nports < 2, "more than 2 connections for 200 calls");
            snprintf(ports[nports++], sizeof ports[0], "%.*s", (int)r.body.len,
                     (char *)r.body.data);
        }
    }
    ck_assert_int_ge(nports, 1);
    buf_free(&r.body);
}
END_TEST

typedef struct worker_t {
    hclient_t *c;
    const char *url;
    int ok;
    pthread_t tid;
} worker_t;

static void *worker(void *arg)
{
    worker_t *w = arg;
    hclient_resp_t r = {0};
    abbey_err_t err;
    for (int i = 0; i < 200; i++)
        if (hclient_request(w->c, "POST", w->url, NULL, NULL, 0, NULL, &r, &err) == APR_SUCCESS &&
            r.status == 200)
            w->ok++;
    buf_free(&r.body);
    return NULL;
}

START_TEST(test_concurrency)
{
    worker_t w[4];
    for (int i = 0; i < 4; i++) {
        w[i].c = hclient_create(TOKEN, 5000, 20000, pool);
        w[i].url = url("/count");
        w[i].ok = 0;
        ck_assert_int_eq(pthread_create(&w[i].tid, NULL, worker, &w[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(w[i].tid, NULL);
        ck_assert_int_eq(w[i].ok, 200);
    }
    ck_assert_int_eq(seen_now().counter, 800);
}
END_TEST

/* hclient_via: four threads whose clients carry a wrong token make their calls through one
 * shared client (the right token): every call is answered 200, over one connection (the
 * ports the server saw); a URL outside the base, or only sharing its first characters,
 * goes through the thread's own client (401). */
typedef struct via_t {
    hclient_t *c;
    char ports[4][16];
    int nports, ok, more_ports;
    pthread_t tid;
} via_t;

static void *via_worker(void *arg)
{
    via_t *v = arg;
    hclient_resp_t r = {0};
    abbey_err_t err;
    for (int i = 0; i < 100; i++) {
        int known = 0;
        if (hclient_request(v->c, "GET", url("/port"), NULL, NULL, 0, NULL, &r, &err) !=
                APR_SUCCESS ||
            r.status != 200 || r.body.len == 0 || r.body.len >= 16)
            continue;
        v->ok++;
        for (int k = 0; k < v->nports; k++)
            known |= strlen(v->ports[k]) == r.body.len &&
                     memcmp(v->ports[k], r.body.data, r.body.len) == 0;
        if (!known && v->nports < 4)
            snprintf(v->ports[v->nports++], sizeof v->ports[0], "%.*s", (int)r.body.len,
                     (char *)r.body.data);
        else if (!known)
            v->more_ports++;
    }
    buf_free(&r.body);
    return NULL;
}

START_TEST(test_via)
{
    hclient_t *shared = hclient_create(TOKEN, 2000, 10000, pool);
    via_t v[4];
    char seen_ports[16][16];
    int nseen = 0;
    for (int i = 0; i < 4; i++) {
        memset(&v[i], 0, sizeof v[i]);
        v[i].c = hclient_create("wrong", 2000, 10000, pool);
        hclient_via(v[i].c, base, shared);
        ck_assert_int_eq(pthread_create(&v[i].tid, NULL, via_worker, &v[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(v[i].tid, NULL);
        ck_assert_int_eq(v[i].ok, 100);
        ck_assert_int_eq(v[i].more_ports, 0);
        for (int k = 0; k < v[i].nports; k++) {
            int known = 0;
            for (int m = 0; m < nseen; m++)
                known |= strcmp(seen_ports[m], v[i].ports[k]) == 0;
            if (!known)
                snprintf(seen_ports[nseen++], sizeof seen_ports[0], "%s", v[i].ports[k]);
        }
    }
    ck_assert_msg(nseen <= 2, "%d connections for 400 calls through one client", nseen);

    hclient_resp_t r = {0};
    abbey_err_t err;
    hclient_t *c = hclient_create("wrong", 2000, 10000, pool);
    hclient_via(c, apr_pstrcat(pool, base, "/po", NULL), shared); /* not a prefix of /port */
    ck_assert_int_eq(hclient_request(c, "GET", url("/port"), NULL, NULL, 0, NULL, &r, &err),
                     APR_SUCCESS);
    ck_assert_int_eq(r.status, 401);
    hclient_via(c, apr_pstrcat(pool, base, "/port", NULL), shared); /* the URL itself */
    ck_assert_int_eq(hclient_request(c, "GET", url("/port"), NULL, NULL, 0, NULL, &r, &err),
                     APR_SUCCESS);
    ck_assert_int_eq(r.status, 200);
    hclient_via(c, base, NULL); /* off again */
    ck_assert_int_eq(hclient_request(c, "GET", url("/port"), NULL, NULL, 0, NULL, &r, &err),
                     APR_SUCCESS);
    ck_assert_int_eq(r.status, 401);
    buf_free(&r.body);
}
END_TEST

/* --- client errors -------------------------------------------------------- */

START_TEST(test_client_errors)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    socklen_t slen = sizeof sa;
    hclient_resp_t r = {0};
    abbey_err_t err = {{0}};
    const char *u;
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &slen), 0);
    close(fd); /* nobody listens there now */
    u = apr_psprintf(pool, "http://127.0.0.1:%d/v1/x", ntohs(sa.sin_port));
    ck_assert_int_eq(hclient_request(hclient_create(TOKEN, 2000, 5000, pool), "GET", u, NULL, NULL,
                                     0, NULL, &r, &err),
                     APR_ECONNREFUSED);
    ck_assert_int_eq(r.status, 0);
    ck_assert_msg(strncmp(err.msg, apr_pstrcat(pool, "GET ", u, ": ", NULL), strlen(u) + 6) == 0,
                  "%s", err.msg);

    ck_assert_int_eq(hclient_request(hclient_create(TOKEN, 2000, 200, pool), "GET", url("/sleep"),
                                     NULL, NULL, 0, NULL, &r, &err),
                     APR_TIMEUP);
    ck_assert_int_eq(r.status, 0);
    ck_assert_ptr_nonnull(strstr(err.msg, "/sleep"));

    ck_assert_int_ne(hclient_request(hclient_create(TOKEN, 2000, 5000, pool), "GET", "nosuch://x/y",
                                     NULL, NULL, 0, NULL, &r, &err),
                     APR_SUCCESS);
    ck_assert_ptr_nonnull(strstr(err.msg, "GET nosuch://x/y: "));
    buf_free(&r.body);
}
END_TEST

/* --- ranges: a bare MHD daemon serving 1000 bytes with Range ------------- */

#define RES_SIZE 1000

static uint8_t res_byte(size_t i)
{
    return (uint8_t)(i * 7 % 251);
}

static enum MHD_Result range_access(void *cls, struct MHD_Connection *conn, const char *u,
                                    const char *method, const char *version, const char *upload,
                                    size_t *upload_size, void **req_cls)
{
    static uint8_t res[RES_SIZE];
    const char *range = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Range");
    unsigned long a = 0, b = RES_SIZE - 1;
    struct MHD_Response *mr;
    char cr[64];
    unsigned status = 200;
    enum MHD_Result ret;

    for (size_t i = 0; i < RES_SIZE; i++)
        res[i] = res_byte(i);
    if (range && strcmp(u, "/ignore") != 0) {
        ck_assert_int_eq(sscanf(range, "bytes=%lu-%lu", &a, &b), 2);
        if (a >= RES_SIZE) {
            mr = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
            snprintf(cr, sizeof cr, "bytes */%d", RES_SIZE);
            MHD_add_response_header(mr, "Content-Range", cr);
            ret = MHD_queue_response(conn, 416, mr);
            MHD_destroy_response(mr);
            return ret;
        }
        if (b >= RES_SIZE)
            b = RES_SIZE - 1;
        status = 206;
    }
    mr = MHD_create_response_from_buffer(b - a + 1, res + a, MHD_RESPMEM_MUST_COPY);
    if (status == 206) {
        snprintf(cr, sizeof cr, "bytes %lu-%lu/%d", a, b, RES_SIZE);
        MHD_add_response_header(mr, "Content-Range", cr);
    }
    ret = MHD_queue_response(conn, status, mr);
    MHD_destroy_response(mr);
    return ret;
}

START_TEST(test_range)
{
    struct MHD_Daemon *d = MHD_start_daemon(MHD_USE_AUTO | MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL,
                                            NULL, range_access, NULL, MHD_OPTION_END);
    hclient_t *c = hclient_create(NULL, 2000, 10000, pool);
    hclient_resp_t r = {0};
    abbey_err_t err = {{0}};
    uint64_t total;
    const char *u, *ui;
    static const struct {
        uint64_t start, len;
        long status;
        size_t got; /* bytes in the body */
    } cases[] = {
        {0, 1, 206, 1},    {100, 50, 206, 50},         {990, 50, 206, 10},
        {999, 1, 206, 1},  {0, RES_SIZE, 206, 1000},   {1000, 10, 416, 0},
        {5000, 1, 416, 0}, {10, UINT64_MAX, 206, 990},
    };

    ck_assert_ptr_nonnull(d);
    u = apr_psprintf(pool, "http://127.0.0.1:%u/res",
                     MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT)->port);
    ui = apr_psprintf(pool, "http://127.0.0.1:%u/ignore",
                      MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT)->port);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        total = 0;
        ck_assert_int_eq(hclient_get_range(c, u, cases[i].start, cases[i].len, &r, &total, &err),
                         APR_SUCCESS);
        ck_assert_msg(r.status == cases[i].status, "case %zu: %ld", i, r.status);
        ck_assert_uint_eq(total, RES_SIZE);
        ck_assert_uint_eq(r.body.len, cases[i].got);
        for (size_t k = 0; k < r.body.len; k++)
            ck_assert_uint_eq(r.body.data[k], res_byte(cases[i].start + k));
    }
    /* a server ignoring Range: the whole resource from byte 0 */
    ck_assert_int_eq(hclient_get_range(c, ui, 100, 50, &r, &total, &err), APR_SUCCESS);
    ck_assert_int_eq(r.status, 200);
    ck_assert_uint_eq(total, RES_SIZE);
    ck_assert_uint_eq(r.body.len, RES_SIZE);
    ck_assert_uint_eq(r.body.data[0], res_byte(0));
    ck_assert_uint_eq(r.body.data[999], res_byte(999));
    /* the same client then makes a plain GET: no Range left behind */
    ck_assert_int_eq(hclient_request(c, "GET", u, NULL, NULL, 0, NULL, &r, &err), APR_SUCCESS);
    ck_assert_int_eq(r.status, 200);
    ck_assert_uint_eq(r.body.len, RES_SIZE);
    /* no answer at all: an error, total unknown */
    MHD_stop_daemon(d);
    ck_assert_int_ne(hclient_get_range(c, u, 0, 10, &r, &total, &err), APR_SUCCESS);
    ck_assert_uint_eq(total, UINT64_MAX);
    ck_assert_int_eq(hclient_get_range(c, u, 0, 0, &r, &total, &err), APR_EINVAL);
    buf_free(&r.body);
}
END_TEST

/* A range through the abbey server, whose handlers cannot send Content-Range: a 200. */
START_TEST(test_range_httpd)
{
    hclient_t *c = hclient_create(TOKEN, 2000, 10000, pool);
    hclient_resp_t r = {0};
    abbey_err_t err = {{0}};
    uint64_t total = 0;
    ck_assert_int_eq(hclient_get_range(c, url("/files/r"), 3, 4, &r, &total, &err), APR_SUCCESS);
    ck_assert_int_eq(r.status, 200);
    ck_assert(body_is(&r.body, "prefix /files/r"));
    ck_assert_uint_eq(total, strlen("prefix /files/r"));
    ck_assert_int_eq(hclient_get_range(c, url("/nope"), 3, 4, &r, &total, &err), APR_SUCCESS);
    ck_assert_int_eq(r.status, 404);
    ck_assert_uint_eq(total, UINT64_MAX);
    buf_free(&r.body);
}
END_TEST

static TCase *tcase(Suite *s, const char *name)
{
    TCase *tc = tcase_create(name);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    suite_add_tcase(s, tc);
    return tc;
}

static Suite *http_suite(void)
{
    Suite *s = suite_create("http");
    TCase *tc = tcase(s, "routing");
    tcase_add_test(tc, test_echo);
    tcase_add_test(tc, test_routes);
    tcase_add_test(tc, test_error_json);
    tcase_add_test(tc, test_start_errors);
    tc = tcase(s, "auth");
    tcase_add_test(tc, test_auth);
    tc = tcase(s, "limits");
    tcase_add_test(tc, test_limits);
    tcase_add_test(tc, test_early_answers);
    tcase_add_test(tc, test_robustness);
    tc = tcase(s, "load");
    tcase_add_test(tc, test_keepalive);
    tcase_add_test(tc, test_concurrency);
    tcase_add_test(tc, test_via);
    tc = tcase(s, "client");
    tcase_add_test(tc, test_client_errors);
    tcase_add_test(tc, test_range);
    tcase_add_test(tc, test_range_httpd);
    return s;
}

int main(void)
{
    int failed;
    apr_initialize();
    hclient_global_init();
    failed = check_run(http_suite());
    curl_global_cleanup();
    apr_terminate();
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
