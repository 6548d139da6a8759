/* hclient.c - calls to abbey masters over HTTP/1.1 with libcurl (see hclient.h).
 *
 * One curl easy handle per client, reused for every call so curl keeps the
 * connection alive. Each call sets the method, the headers (built per call
 * and freed after it) and the callbacks that fill the caller's answer: the
 * body into out->body, the ETag and Content-Range from the headers. A call
 * holds the client's mutex from start to end (threads take turns on its
 * connections); a call to the base URL set by hclient_via is made by that
 * other client instead, under its mutex. */
#include "hclient.h"

#include <apr_strings.h>
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mem.h"

struct hclient_t {
    CURL *curl;
    pthread_mutex_t lock; /* held for a whole call */
    char *via_base;       /* calls under this URL go through via (hclient_via) */
    size_t via_len;
    hclient_t *via;
    char *auth_header;          /* "Authorization: Bearer <token>", or NULL */
    struct curl_slist *headers; /* the current call's headers, or NULL */
    long connect_ms, timeout_ms;
    hclient_resp_t *out;            /* the call in progress */
    const volatile int *abort_flag; /* calls give up once it is set (NULL: never) */
    char content_range[128];        /* the last answer's Content-Range value */
    char errbuf[CURL_ERROR_SIZE];
};

static pthread_once_t global_once = PTHREAD_ONCE_INIT;

static void global_init(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

void hclient_global_init(void)
{
    pthread_once(&global_once, global_init);
}

static apr_status_t client_cleanup(void *data)
{
    hclient_t *c = data;
    curl_slist_free_all(c->headers);
    c->headers = NULL;
    curl_easy_cleanup(c->curl);
    c->curl = NULL;
    free(c->auth_header);
    c->auth_header = NULL;
    free(c->via_base);
    c->via_base = NULL;
    pthread_mutex_destroy(&c->lock);
    return APR_SUCCESS;
}

const char *hclient_base_url(const char *url, apr_pool_t *pool)
{
    size_t scheme = strncmp(url, "http://", 7) == 0 ? 7 : strncmp(url, "https://", 8) == 0 ? 8 : 0;
    size_t n = strlen(url);
    if (!scheme)
        return NULL;
    while (n > scheme && url[n - 1] == '/')
        n--;
    return apr_pstrndup(pool, url, n);
}

/* --- callbacks ------------------------------------------------------------ */

static size_t on_body(char *p, size_t size, size_t n, void *data)
{
    hclient_t *c = data;
    buf_put(&c->out->body, p, size * n);
    return size * n;
}

/* The value of header line "Name: value\r\n" into dst (trimmed), if the name matches. */
static int header_value(const char *line, size_t len, const char *name, char *dst, size_t cap)
{
    size_t nlen = strlen(name), vlen;
    const char *v, *end = line + len;
    if (len <= nlen || strncasecmp(line, name, nlen) != 0 || line[nlen] != ':')
        return 0;
    v = line + nlen + 1;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
        end--;
    vlen = (size_t)(end - v);
    if (vlen >= cap)
        vlen = cap - 1;
    memcpy(dst, v, vlen);
    dst[vlen] = '\0';
    return 1;
}

static size_t on_header(char *p, size_t size, size_t n, void *data)
{
    hclient_t *c = data;
    size_t len = size * n;
    char v[sizeof c->out->etag];

    if (len >= 5 && strncmp(p, "HTTP/", 5) == 0) { /* a new answer (after a 100, ...) */
        c->out->etag[0] = '\0';
        c->out->last_modified = 0;
        c->content_range[0] = '\0';
    } else if (header_value(p, len, "Last-Modified", v, sizeof v)) {
        time_t t = curl_getdate(v, NULL);
        c->out->last_modified = t > 0 ? (int64_t)t : 0;
    } else if (header_value(p, len, "ETag", v, sizeof v)) {
        const char *s = v;
        size_t vlen;
        if (strncmp(s, "W/", 2) == 0)
            s += 2;
        vlen = strlen(s);
        if (vlen >= 2 && s[0] == '"' && s[vlen - 1] == '"') {
            s++;
            vlen -= 2;
        }
        memcpy(c->out->etag, s, vlen);
        c->out->etag[vlen] = '\0';
    } else {
        header_value(p, len, "Content-Range", c->content_range, sizeof c->content_range);
    }
    return len;
}

/* curl calls it at least once a second during a transfer: non-zero aborts it. */
static int on_progress(void *data, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    const hclient_t *c = data;
    (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
    return c->abort_flag && __atomic_load_n(c->abort_flag, __ATOMIC_ACQUIRE) ? 1 : 0;
}

/* --- calls ---------------------------------------------------------------- */

void hclient_set_abort(hclient_t *c, const volatile int *flag)
{
    c->abort_flag = flag;
    curl_easy_setopt(c->curl, CURLOPT_XFERINFOFUNCTION, flag ? on_progress : NULL);
    curl_easy_setopt(c->curl, CURLOPT_XFERINFODATA, flag ? c : NULL);
    curl_easy_setopt(c->curl, CURLOPT_NOPROGRESS, flag ? 0L : 1L);
}

hclient_t *hclient_create(const char *token, long connect_ms, long timeout_ms, apr_pool_t *pool)
{
    hclient_t *c = apr_pcalloc(pool, sizeof *c);

    hclient_global_init();
    c->curl = curl_easy_init();
    if (!c->curl)
        mem_oom("curl_easy_init", 0);
    if (token) {
        size_t n = strlen(token) + sizeof "Authorization: Bearer ";
        c->auth_header = mem_xmalloc(n);
        snprintf(c->auth_header, n, "Authorization: Bearer %s", token);
    }
    c->connect_ms = connect_ms;
    c->timeout_ms = timeout_ms;
    pthread_mutex_init(&c->lock, NULL);
    apr_pool_cleanup_register(pool, c, client_cleanup, apr_pool_cleanup_null);

    curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c->curl, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
    curl_easy_setopt(c->curl, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(c->curl, CURLOPT_ERRORBUFFER, c->errbuf);
    curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, c);
    curl_easy_setopt(c->curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c->curl, CURLOPT_HEADERDATA, c);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(c->curl, CURLOPT_PROTOCOLS_STR, "http,https");
#endif
    return c;
}

static int add_header(hclient_t *c, const char *line)
{
    struct curl_slist *l = curl_slist_append(c->headers, line);
    if (!l)
        return -1;
    c->headers = l;
    return 0;
}

/* Build the call's header list; -1 when out of memory. */
static int set_headers(hclient_t *c, const char *content_type, const char *if_none_match)
{
    char line[256];
    curl_slist_free_all(c->headers);
    c->headers = NULL;
    if (add_header(c, "Expect:") != 0)
        return -1;
    if (c->auth_header && add_header(c, c->auth_header) != 0)
        return -1;
    if (content_type) {
        snprintf(line, sizeof line, "Content-Type: %s", content_type);
        if (add_header(c, line) != 0)
            return -1;
    }
    if (if_none_match) {
        snprintf(line, sizeof line, "If-None-Match: \"%s\"", if_none_match);
        if (add_header(c, line) != 0)
            return -1;
    }
    return 0;
}

static apr_status_t curl_status(CURLcode rc)
{
    switch (rc) {
    case CURLE_COULDNT_CONNECT:
        return APR_ECONNREFUSED;
    case CURLE_OPERATION_TIMEDOUT:
        return APR_TIMEUP;
    case CURLE_ABORTED_BY_CALLBACK:
        return APR_EINTR;
    default:
        return APR_EGENERAL;
    }
}

/* Perform the call set up in c->curl; fills out and err. */
static apr_status_t perform(hclient_t *c, const char *method, const char *url, hclient_resp_t *out,
                            abbey_err_t *err)
{
    CURLcode rc;

    buf_reset(&out->body);
    out->status = 0;
    out->etag[0] = '\0';
    out->last_modified = 0;
    c->content_range[0] = '\0';
    c->errbuf[0] = '\0';
    c->out = out;
    curl_easy_setopt(c->curl, CURLOPT_URL, url);
    curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, c->headers);
    rc = curl_easy_perform(c->curl);
    curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(c->headers);
    c->headers = NULL;
    c->out = NULL;
    if (rc != CURLE_OK) {
        abbey_err_set(err, "%s %s: %s", method, url,
                      rc == CURLE_ABORTED_BY_CALLBACK ? "stopped"
                      : c->errbuf[0]                  ? c->errbuf
                                                      : curl_easy_strerror(rc));
        buf_reset(&out->body);
        out->etag[0] = '\0';
        return curl_status(rc);
    }
    curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &out->status);
    return APR_SUCCESS;
}

/* Method and body for the next call: GET, POST or another method with a body. */
static void set_method(hclient_t *c, const char *method, const void *body, size_t len)
{
    curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST, NULL);
    curl_easy_setopt(c->curl, CURLOPT_RANGE, NULL);
    if (strcmp(method, "GET") == 0) {
        curl_easy_setopt(c->curl, CURLOPT_HTTPGET, 1L);
        return;
    }
    curl_easy_setopt(c->curl, CURLOPT_POST, 1L);
    curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, body ? body : "");
    if (strcmp(method, "POST") != 0)
        curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST, method);
}

void hclient_via(hclient_t *c, const char *base, hclient_t *via)
{
    free(c->via_base);
    c->via_base = via ? mem_xstrdup(base) : NULL;
    c->via_len = via ? strlen(base) : 0;
    c->via = via;
}

/* The client that makes c's calls to url: via for a URL under via_base, else c. */
static hclient_t *caller(hclient_t *c, const char *url)
{
    if (c->via && strncmp(url, c->via_base, c->via_len) == 0 &&
        (url[c->via_len] == '\0' || url[c->via_len] == '/' || url[c->via_len] == '?'))
        return c->via;
    return c;
}

apr_status_t hclient_request(hclient_t *c, const char *method, const char *url,
                             const char *content_type, const void *body, size_t len,
                             const char *if_none_match, hclient_resp_t *out, abbey_err_t *err)
{
    apr_status_t rv;
    c = caller(c, url);
    pthread_mutex_lock(&c->lock);
    if (set_headers(c, content_type, if_none_match) != 0) {
        abbey_err_set(err, "%s %s: out of memory", method, url);
        rv = APR_ENOMEM;
    } else {
        set_method(c, method, body, len);
        rv = perform(c, method, url, out, err);
    }
    pthread_mutex_unlock(&c->lock);
    return rv;
}

/* Total size from a Content-Range value "bytes a-b/total" or "bytes * /total". */
static uint64_t range_total(const char *v)
{
    const char *slash = strchr(v, '/');
    char *end;
    unsigned long long t;
    if (strncasecmp(v, "bytes ", 6) != 0 || !slash || slash[1] < '0' || slash[1] > '9')
        return UINT64_MAX;
    t = strtoull(slash + 1, &end, 10);
    return *end == '\0' ? (uint64_t)t : UINT64_MAX;
}

apr_status_t hclient_get_range(hclient_t *c, const char *url, uint64_t start, uint64_t len,
                               hclient_resp_t *out, uint64_t *total, abbey_err_t *err)
{
    char range[64];
    apr_status_t rv;
    uint64_t last = start + len - 1 < start ? UINT64_MAX : start + len - 1;

    *total = UINT64_MAX;
    if (len == 0) {
        abbey_err_set(err, "GET %s: empty range", url);
        return APR_EINVAL;
    }
    pthread_mutex_lock(&c->lock);
    if (set_headers(c, NULL, NULL) != 0) {
        pthread_mutex_unlock(&c->lock);
        abbey_err_set(err, "GET %s: out of memory", url);
        return APR_ENOMEM;
    }
    set_method(c, "GET", NULL, 0);
    snprintf(range, sizeof range, "%llu-%llu", (unsigned long long)start, (unsigned long long)last);
    curl_easy_setopt(c->curl, CURLOPT_RANGE, range);
    rv = perform(c, "GET", url, out, err);
    curl_easy_setopt(c->curl, CURLOPT_RANGE, NULL);
    if (rv == APR_SUCCESS && out->status == 200)
        *total = out->body.len;
    else if (rv == APR_SUCCESS && c->content_range[0])
        *total = range_total(c->content_range);
    pthread_mutex_unlock(&c->lock);
    return rv;
}
