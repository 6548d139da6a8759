/* fixture_http.h - the independent clients of the HTTP suites (tests/check_http.c,
 * tests/check_http_limits.c): plain curl with any headers and body (chunked or
 * not), and raw sockets for what curl will not send, with helpers to read an
 * answer and its JSON error.
 *
 * Each suite compiles its own copy (everything here is static). */
#ifndef ABBEY_TESTS_FIXTURE_HTTP_H
#define ABBEY_TESTS_FIXTURE_HTTP_H

#include <arpa/inet.h>
#include <check.h>
#include <curl/curl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>

#include "buf.h"

/* --- curl ------------------------------------------------------------------ */

typedef struct raw_resp_t {
    long status;
    buf_t body;
    buf_t headers; /* every header line, concatenated */
    char ctype[128];
} raw_resp_t;

typedef struct upload_t {
    const uint8_t *p;
    size_t left;
    size_t chunk; /* the most bytes per read (a chunk of a chunked body) */
} upload_t;

static inline size_t raw_write(char *p, size_t size, size_t n, void *data)
{
    buf_put(data, p, size * n);
    return size * n;
}

static inline size_t raw_read(char *p, size_t size, size_t n, void *data)
{
    upload_t *u = data;
    size_t k = size * n < u->left ? size * n : u->left;
    k = k > u->chunk ? u->chunk : k; /* several chunks */
    memcpy(p, u->p, k);
    u->p += k;
    u->left -= k;
    return k;
}

/* method on the full URL u with extra header lines (NULL-terminated); body
 * sent chunked when chunked (in chunks of 7 bytes up to 1 KiB of body, of
 * 64 KiB past that). Asserts that an HTTP answer came. */
static inline void raw_call_url(const char *method, const char *u, const char *const *hdrs,
                                const void *body, size_t len, int chunked, raw_resp_t *out)
{
    CURL *c = curl_easy_init();
    struct curl_slist *h = NULL;
    upload_t up = {body, len, len > 1024 ? 65536 : 7};
    char *ct = NULL;
    CURLcode rc;

    buf_init(&out->body);
    buf_init(&out->headers);
    for (; hdrs && *hdrs; hdrs++)
        h = curl_slist_append(h, *hdrs);
    h = curl_slist_append(h, "Expect:");
    if (chunked)
        h = curl_slist_append(h, "Transfer-Encoding: chunked");
    curl_easy_setopt(c, CURLOPT_URL, u);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 20000L);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, raw_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &out->body);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, raw_write);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &out->headers);
    if (strcmp(method, "POST") == 0) {
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        if (chunked) {
            curl_easy_setopt(c, CURLOPT_READFUNCTION, raw_read);
            curl_easy_setopt(c, CURLOPT_READDATA, &up);
        } else {
            curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)len);
            curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? body : "");
        }
    }
    rc = curl_easy_perform(c);
    ck_assert_msg(rc == CURLE_OK, "%s %.100s: %s", method, u, curl_easy_strerror(rc));
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
    curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct);
    snprintf(out->ctype, sizeof out->ctype, "%s", ct ? ct : "");
    buf_put_u8(&out->headers, 0);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
}

static inline void raw_free(raw_resp_t *r)
{
    buf_free(&r->body);
    buf_free(&r->headers);
}

static inline int body_is(const buf_t *b, const char *s)
{
    return b->len == strlen(s) && memcmp(b->data, s, b->len) == 0;
}

/* The "error" member of a JSON error body, or NULL (caller frees the json). */
static inline const char *json_error(const buf_t *b, json_t **root)
{
    *root = json_loadb((const char *)b->data, b->len, 0, NULL);
    return *root ? json_string_value(json_object_get(*root, "error")) : NULL;
}

/* --- raw sockets ---------------------------------------------------------- */

/* A connection to the server whose reads wait at most wait_s seconds. */
static inline int raw_connect(int port, int wait_s)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    struct timeval tv = {.tv_sec = wait_s};
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(fd, 0);
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    return fd;
}

static inline void raw_send(int fd, const void *p, size_t n)
{
    ck_assert_int_eq(send(fd, p, n, MSG_NOSIGNAL), (ssize_t)n);
}

/* Read until the server closes (or the wait passes) into reply (NUL-terminated). */
static inline size_t raw_read_all(int fd, char *reply, size_t cap)
{
    size_t got = 0;
    ssize_t n;
    while (got + 1 < cap && (n = recv(fd, reply + got, cap - 1 - got, 0)) > 0)
        got += (size_t)n;
    reply[got] = '\0';
    return got;
}

/* The status line of a raw answer starts with status (e.g. "HTTP/1.1 414"),
 * it says Content-Type: application/json, and its body parses as JSON with a
 * string "error". */
static inline int reply_is_json_error(const char *reply, const char *status)
{
    const char *body = strstr(reply, "\r\n\r\n"), *ct = strcasestr(reply, "\r\nContent-Type:");
    json_t *root;
    int ok;
    if (strncmp(reply, status, strlen(status)) != 0 || !body || !ct || ct > body ||
        strncmp(ct + 15, " application/json", 17) != 0)
        return 0;
    root = json_loads(body + 4, 0, NULL);
    ok = root && json_is_string(json_object_get(root, "error"));
    json_decref(root);
    return ok;
}

#endif
