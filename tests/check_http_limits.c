/* check_http_limits.c - tests of the HTTP server against hostile clients
 * (master/httpd.c, master/httpd_gate.c): request heads too long, too large or
 * malformed, bodies over the route's limit (declared or chunked) and over
 * the total of bodies held at once, heads and bodies that trickle, and many
 * connections that never finish their head. Every error answer must be JSON
 * {"error": "..."} with the right status. Loopback only, ephemeral ports;
 * each test starts its own server, with limits small enough to reach. Curl
 * and raw sockets (tests/fixture_http.h) are the independent clients. */
#include <apr_general.h>
#include <apr_strings.h>
#include <check.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_run.h"
#include "fixture_http.h"
#include "hclient.h"
#include "httpd.h"

#define TOKEN "tok-5be2d0"
#define AUTH "Authorization: Bearer " TOKEN
#define ECHO_MAX 64
#define BIG_MAX 800 /* /big's limit; the tests' body total is 1000 */

static apr_pool_t *pool;
static httpd_t *srv;
static int port;
static pthread_mutex_t calls_lock = PTHREAD_MUTEX_INITIALIZER;
static int calls; /* handler runs */

static void h_echo(void *ctx, const httpd_req_t *req, httpd_resp_t *resp)
{
    (void)ctx;
    pthread_mutex_lock(&calls_lock);
    calls++;
    pthread_mutex_unlock(&calls_lock);
    resp->status = 201;
    resp->content_type = "application/octet-stream";
    buf_put(&resp->body, req->body, req->body_len);
}

static void h_tag(void *ctx, const httpd_req_t *req, httpd_resp_t *resp)
{
    (void)ctx;
    resp->content_type = "text/plain";
    buf_printf(&resp->body, "tag %s", req->path);
}

static int calls_now(void)
{
    int n;
    pthread_mutex_lock(&calls_lock);
    n = calls;
    pthread_mutex_unlock(&calls_lock);
    return n;
}

/* A server with limits l (NULL: the defaults) on an ephemeral port. */
static void start(const httpd_limits_t *l)
{
    abbey_err_t err = {{0}};
    srv = httpd_create(TOKEN, pool);
    httpd_route(srv, "POST", "/echo", ECHO_MAX, h_echo, NULL);
    httpd_route(srv, "POST", "/big", 100, h_echo, NULL);
    ck_assert_int_eq(httpd_route_set_max_body(srv, "POST", "/big", BIG_MAX), 0);
    ck_assert_int_eq(httpd_route_set_max_body(srv, "GET", "/big", 1), -1);
    httpd_route(srv, "GET", "/files/", 0, h_tag, NULL);
    if (l)
        ck_assert_msg(httpd_set_limits(srv, l, &err) == 0, "%s", err.msg);
    ck_assert_msg(httpd_start(srv, "127.0.0.1", 0, 2, &err) == APR_SUCCESS, "%s", err.msg);
    port = httpd_port(srv);
}

static void setup(void)
{
    ck_assert_int_eq(apr_pool_create(&pool, NULL), APR_SUCCESS);
    calls = 0;
    srv = NULL;
}

static void teardown(void)
{
    apr_pool_destroy(pool); /* stops the server */
}

/* Small limits: a body total of 1000 bytes, short deadlines. */
static httpd_limits_t small_limits(int64_t head_timeout_ms)
{
    httpd_limits_t l;
    httpd_limits_default(&l);
    l.max_body_total = 1000;
    l.head_timeout_ms = head_timeout_ms;
    return l;
}

static const char *url(const char *path)
{
    return apr_psprintf(pool, "http://127.0.0.1:%d%s", port, path);
}

/* req sent on a fresh connection; the answer until the server closed. */
static const char *exchange(const char *req, size_t len)
{
    char *reply = apr_palloc(pool, 65536);
    int fd = raw_connect(port, 20);
    send(fd, req, len, MSG_NOSIGNAL); /* the server may answer and close before the end */
    raw_read_all(fd, reply, 65536);
    close(fd);
    return reply;
}

/* n copies of c. */
static char *repeat(char c, size_t n)
{
    char *s = apr_palloc(pool, n + 1);
    memset(s, c, n);
    s[n] = '\0';
    return s;
}

/* --- request heads ------------------------------------------------------ */

/* Too long a target, too large a head, too many header lines, a huge or
 * malformed Content-Length, a bad request line: each its status, in JSON,
 * through curl and through a raw socket; nothing reaches a handler. */
START_TEST(test_head_limits)
{
    const char *long_path = apr_pstrcat(pool, "/files/", repeat('u', HTTPD_URL_MAX + 10), NULL);
    const char *long_hdr = apr_pstrcat(pool, "X-Big: ", repeat('h', HTTPD_HEAD_MAX), NULL);
    const char *many = "";
    raw_resp_t rr;
    json_t *root;
    static const struct {
        const char *req, *status;
    } raw[] = {
        {"GET /files/a HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n",
         "HTTP/1.1 413"},
        {"POST /echo HTTP/1.1\r\nHost: x\r\n" AUTH "\r\nContent-Length: -5\r\n\r\n",
         "HTTP/1.1 400"},
        {"POST /echo HTTP/1.1\r\nHost: x\r\n" AUTH "\r\nContent-Length: 12x\r\n\r\n",
         "HTTP/1.1 400"},
        {"GET /files/a HTTP/2.0\r\nHost: x\r\n\r\n", "HTTP/1.1 505"},
        {"GET /files/a\r\nHost: x\r\n\r\n", "HTTP/1.1 400"},
        {"GET /files/a HTTP/1.1\r\nno colon here\r\n\r\n", "HTTP/1.1 400"},
        {"\xff\xfe GAR BAGE\r\n\r\n", "HTTP/1.1 400"},
    };
    const char *auth[] = {AUTH, NULL}, *hdrs[] = {AUTH, long_hdr, NULL};
    const char *req;

    start(NULL);
    for (int big = 0; big <= 1; big++) { /* just over the limit; over MHD's own memory too */
        const char *path =
            big ? apr_pstrcat(pool, "/files/", repeat('u', 64 << 10), NULL) : long_path;
        hdrs[1] = big ? apr_pstrcat(pool, "X-Big: ", repeat('h', 64 << 10), NULL) : long_hdr;
        raw_call_url("GET", url(path), auth, NULL, 0, 0, &rr);
        ck_assert_int_eq(rr.status, 414);
        ck_assert_str_eq(rr.ctype, "application/json");
        ck_assert_ptr_nonnull(json_error(&rr.body, &root));
        json_decref(root);
        raw_free(&rr);

        raw_call_url("GET", url("/files/a"), hdrs, NULL, 0, 0, &rr);
        ck_assert_int_eq(rr.status, 431);
        ck_assert_str_eq(rr.ctype, "application/json");
        ck_assert_ptr_nonnull(json_error(&rr.body, &root));
        json_decref(root);
        raw_free(&rr);
    }

    for (int i = 0; i <= HTTPD_HEAD_LINES_MAX; i++)
        many = apr_psprintf(pool, "%sX-H%d: v\r\n", many, i);
    req = apr_pstrcat(pool, "GET /files/a HTTP/1.1\r\n", many, "\r\n", NULL);
    ck_assert_msg(reply_is_json_error(exchange(req, strlen(req)), "HTTP/1.1 431"),
                  "%d header lines", HTTPD_HEAD_LINES_MAX + 1);
    for (size_t i = 0; i < sizeof raw / sizeof *raw; i++) {
        const char *reply = exchange(raw[i].req, strlen(raw[i].req));
        ck_assert_msg(reply_is_json_error(reply, raw[i].status), "case %zu: %.300s", i, reply);
    }
    ck_assert_int_eq(calls_now(), 0);
}
END_TEST

/* Just under every head limit: served. */
START_TEST(test_head_within_limits)
{
    const char *path = apr_pstrcat(pool, "/files/", repeat('u', HTTPD_URL_MAX - 100), NULL);
    const char *hdrs[HTTPD_HEAD_LINES_MAX];
    raw_resp_t rr;
    int n = 0;
    start(NULL);
    hdrs[n++] = AUTH;
    for (; n < HTTPD_HEAD_LINES_MAX - 10; n++) /* curl adds Host and Accept */
        hdrs[n] = apr_psprintf(pool, "X-H%d: %s", n, repeat('v', 60));
    hdrs[n] = NULL;
    raw_call_url("GET", url(path), hdrs, NULL, 0, 0, &rr);
    ck_assert_msg(rr.status == 200, "%ld", rr.status);
    ck_assert(body_is(&rr.body, apr_pstrcat(pool, "tag ", path, NULL)));
    raw_free(&rr);
}
END_TEST

/* A later request on a kept-alive connection reaches the server without the
 * gate: the same head limits, in JSON, from the server. */
START_TEST(test_head_limits_keepalive)
{
    char reply[65536] = "";
    const char *first = "GET /files/a HTTP/1.1\r\nHost: x\r\n" AUTH "\r\n\r\n";
    const char *second = apr_pstrcat(pool, "GET /files/", repeat('u', HTTPD_URL_MAX + 10),
                                     " HTTP/1.1\r\nHost: x\r\n" AUTH "\r\n\r\n", NULL);
    size_t got = 0;
    int fd;
    start(NULL);
    fd = raw_connect(port, 20);
    raw_send(fd, first, strlen(first));
    while (!strstr(reply, "tag /files/a")) { /* the first answer, connection kept */
        ssize_t n = recv(fd, reply + got, sizeof reply - 1 - got, 0);
        ck_assert_int_gt(n, 0);
        got += (size_t)n;
        reply[got] = '\0';
    }
    ck_assert_ptr_null(strcasestr(reply, "Connection: close"));
    raw_send(fd, second, strlen(second));
    raw_read_all(fd, reply, sizeof reply);
    close(fd);
    ck_assert_msg(reply_is_json_error(reply, "HTTP/1.1 414"), "%.300s", reply);
}
END_TEST

/* A 401 closes the connection: a client without the token keeps nothing. */
START_TEST(test_unauthorized_closes)
{
    char reply[4096];
    const char *req = "GET /files/a HTTP/1.1\r\nHost: x\r\n\r\n";
    int fd;
    start(NULL);
    fd = raw_connect(port, 20);
    raw_send(fd, req, strlen(req));
    raw_read_all(fd, reply, sizeof reply); /* returns at the close (or after 20 s) */
    ck_assert_msg(reply_is_json_error(reply, "HTTP/1.1 401"), "%.300s", reply);
    ck_assert_ptr_nonnull(strcasestr(reply, "Connection: close"));
    ck_assert_int_eq(recv(fd, reply, sizeof reply, 0), 0); /* closed, not timed out */
    close(fd);
}
END_TEST

/* --- bodies ------------------------------------------------------------- */

/* A chunked body past the limit, far past what is skipped: 413 in JSON (it
 * was a dropped connection), and the server goes on. */
START_TEST(test_chunked_over_limit)
{
    static const size_t sizes[] = {ECHO_MAX + 1, 100000, 4u << 20};
    const char *hdrs[] = {AUTH, NULL};
    uint8_t *big = calloc(1, 4u << 20);
    raw_resp_t rr;
    json_t *root;
    start(NULL);
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        raw_call_url("POST", url("/echo"), hdrs, big, sizes[i], 1, &rr);
        ck_assert_msg(rr.status == 413, "%zu bytes: %ld", sizes[i], rr.status);
        ck_assert_str_eq(rr.ctype, "application/json");
        ck_assert_ptr_nonnull(json_error(&rr.body, &root));
        json_decref(root);
        raw_free(&rr);
    }
    raw_call_url("POST", url("/echo"), hdrs, big, ECHO_MAX, 1, &rr);
    ck_assert_int_eq(rr.status, 201);
    ck_assert_uint_eq(rr.body.len, ECHO_MAX);
    raw_free(&rr);
    free(big);
    ck_assert_int_eq(calls_now(), 1);
}
END_TEST

/* A connection that sent the head of a Content-Length body and waits (the
 * server answered 100 Continue: it counts the body). */
static int hold_body(size_t len)
{
    char reply[256];
    char req[256];
    ssize_t n;
    int fd = raw_connect(port, 20);
    snprintf(req, sizeof req,
             "POST /big HTTP/1.1\r\nHost: x\r\n" AUTH "\r\nExpect: 100-continue\r\n"
             "Connection: close\r\nContent-Length: %zu\r\n\r\n",
             len);
    raw_send(fd, req, strlen(req));
    n = recv(fd, reply, sizeof reply - 1, 0);
    ck_assert_int_gt(n, 0);
    reply[n] = '\0';
    ck_assert_msg(strncmp(reply, "HTTP/1.1 100", 12) == 0, "%s", reply);
    return fd;
}

/* The total of bodies held: a body that would pass it gets 503 with
 * Retry-After, in JSON (declared or chunked); once the held body is done,
 * the same request passes. */
START_TEST(test_body_total)
{
    httpd_limits_t l = small_limits(10000);
    const char *hdrs[] = {AUTH, NULL};
    uint8_t body[BIG_MAX];
    char reply[4096];
    raw_resp_t rr;
    json_t *root;
    int fd;

    memset(body, 'b', sizeof body);
    start(&l);
    fd = hold_body(600); /* 600 of 1000 held */
    for (int chunked = 0; chunked <= 1; chunked++) {
        raw_call_url("POST", url("/big"), hdrs, body, 500, chunked, &rr);
        ck_assert_msg(rr.status == 503, "chunked %d: %ld", chunked, rr.status);
        ck_assert_str_eq(rr.ctype, "application/json");
        ck_assert_ptr_nonnull(strstr((char *)rr.headers.data, "Retry-After: 1"));
        ck_assert_ptr_nonnull(strstr(json_error(&rr.body, &root), "--max-body-total"));
        json_decref(root);
        raw_free(&rr);
    }
    raw_call_url("POST", url("/big"), hdrs, body, 400, 0, &rr); /* fits beside the 600 */
    ck_assert_int_eq(rr.status, 201);
    raw_free(&rr);
    raw_send(fd, body, 600);
    raw_read_all(fd, reply, sizeof reply);
    close(fd);
    ck_assert_msg(strncmp(reply, "HTTP/1.1 201", 12) == 0, "%.100s", reply);
    for (int chunked = 0; chunked <= 1; chunked++) {
        raw_call_url("POST", url("/big"), hdrs, body, BIG_MAX, chunked, &rr);
        ck_assert_msg(rr.status == 201, "chunked %d: %ld", chunked, rr.status);
        ck_assert_uint_eq(rr.body.len, BIG_MAX);
        raw_free(&rr);
    }
    ck_assert_int_eq(calls_now(), 4);
}
END_TEST

/* A body abandoned half-way gives its bytes back. */
START_TEST(test_body_total_released)
{
    httpd_limits_t l = small_limits(10000);
    const char *hdrs[] = {AUTH, NULL};
    uint8_t body[BIG_MAX];
    raw_resp_t rr;
    long status = 0;
    int fd;

    memset(body, 'b', sizeof body);
    start(&l);
    fd = hold_body(BIG_MAX);
    raw_send(fd, body, 10);
    close(fd);                                       /* gone in the middle of its body */
    for (int i = 0; i < 100 && status != 201; i++) { /* until the server saw the close */
        raw_call_url("POST", url("/big"), hdrs, body, BIG_MAX, 0, &rr);
        status = rr.status;
        ck_assert_msg(status == 201 || status == 503, "%ld", status);
        raw_free(&rr);
        if (status != 201)
            usleep(100 * 1000);
    }
    ck_assert_int_eq(status, 201);
}
END_TEST

/* A body trickling slower than body_min_rate, past the grace: 408, closed. */
START_TEST(test_body_too_slow)
{
    httpd_limits_t l = small_limits(500);
    const char *req = "POST /echo HTTP/1.1\r\nHost: x\r\n" AUTH "\r\nContent-Length: 60\r\n\r\n";
    char reply[4096] = "";
    ssize_t n = 0;
    int fd, sent = 0;

    l.body_min_rate = 1000;
    start(&l);
    fd = raw_connect(port, 20);
    raw_send(fd, req, strlen(req));
    while (sent < 60) { /* a byte every 0.2 s: 5 bytes/s */
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 200) > 0)
            break;
        raw_send(fd, "x", 1);
        sent++;
    }
    ck_assert_int_lt(sent, 60);
    n = (ssize_t)raw_read_all(fd, reply, sizeof reply);
    close(fd);
    ck_assert_msg(n > 0 && reply_is_json_error(reply, "HTTP/1.1 408"), "%.300s", reply);
    ck_assert_int_eq(calls_now(), 0);
}
END_TEST

/* --- connections that never finish their head --------------------------- */

/* A head not complete in time: 408 in JSON, then the connection is closed. */
START_TEST(test_head_timeout)
{
    httpd_limits_t l = small_limits(500);
    const char *part = "GET /files/a HTTP/1.1\r\nHost: x\r\nAuthor";
    char reply[4096], more[16];
    int fd;
    start(&l);
    fd = raw_connect(port, 20);
    raw_send(fd, part, strlen(part));
    raw_read_all(fd, reply, sizeof reply);
    ck_assert_int_eq(recv(fd, more, sizeof more, 0), 0); /* closed, not timed out */
    close(fd);
    ck_assert_msg(reply_is_json_error(reply, "HTTP/1.1 408"), "%.300s", reply);
}
END_TEST

/* 1 when the server closed fd (without waiting), 0 when it is still open. */
static int closed_by_server(int fd)
{
    char b[512];
    ssize_t n;
    while ((n = recv(fd, b, sizeof b, MSG_DONTWAIT)) > 0)
        ; /* an answer, then the close */
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

/* More slow connections from one address than it may hold: the oldest are
 * closed to make room, the newest kept, and an authorised client is served
 * all along. */
START_TEST(test_unauth_per_ip)
{
    httpd_limits_t l = small_limits(60000);
    const char *part = "GET /files/a HTTP/1.1\r\nHost: x\r\n";
    hclient_t *c = hclient_create(TOKEN, 5000, 20000, pool);
    hclient_resp_t r = {0};
    abbey_err_t err = {{0}};
    int fds[12];

    l.max_unauth = 8;
    l.max_unauth_per_ip = 4;
    start(&l);
    for (int i = 0; i < 12; i++) {
        fds[i] = raw_connect(port, 20);
        raw_send(fds[i], part, strlen(part));
    }
    /* accepted after the 12: by its answer, every one of them was seen */
    ck_assert_msg(hclient_request(c, "GET", url("/files/x"), NULL, NULL, 0, NULL, &r, &err) ==
                      APR_SUCCESS,
                  "%s", err.msg);
    ck_assert_int_eq(r.status, 200);
    for (int i = 0; i < 8; i++)
        ck_assert_msg(closed_by_server(fds[i]), "slow connection %d is still open", i);
    ck_assert_msg(!closed_by_server(fds[11]), "the newest slow connection was closed");
    for (int i = 0; i < 12; i++)
        close(fds[i]);
    buf_free(&r.body);
}
END_TEST

START_TEST(test_limits_refused)
{
    httpd_limits_t l;
    abbey_err_t err = {{0}};
    httpd_t *s = httpd_create(TOKEN, pool);
    httpd_limits_default(&l);
    l.max_unauth_per_ip = l.max_unauth + 1;
    ck_assert_int_eq(httpd_set_limits(s, &l, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "--max-unauth-per-ip"));
    httpd_limits_default(&l);
    l.max_conns = 0;
    ck_assert_int_eq(httpd_set_limits(s, &l, &err), -1);
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

static Suite *limits_suite(void)
{
    Suite *s = suite_create("http_limits");
    TCase *tc = tcase(s, "heads");
    tcase_add_test(tc, test_head_limits);
    tcase_add_test(tc, test_head_within_limits);
    tcase_add_test(tc, test_head_limits_keepalive);
    tcase_add_test(tc, test_unauthorized_closes);
    tc = tcase(s, "bodies");
    tcase_add_test(tc, test_chunked_over_limit);
    tcase_add_test(tc, test_body_total);
    tcase_add_test(tc, test_body_total_released);
    tcase_add_test(tc, test_body_too_slow);
    tc = tcase(s, "connections");
    tcase_add_test(tc, test_head_timeout);
    tcase_add_test(tc, test_unauth_per_ip);
    tcase_add_test(tc, test_limits_refused);
    return s;
}

int main(void)
{
    int failed;
    apr_initialize();
    hclient_global_init();
    failed = check_run(limits_suite());
    curl_global_cleanup();
    apr_terminate();
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
