/* web.c - the dashboard's routes: the page, login and logout, assets, the
 * description (see web.h). The token given at login is compared in constant
 * time (token_check_header); the browser keeps only a signed session. */
#include "web.h"

#include <apr_strings.h>
#include <jansson.h>
#include <string.h>
#include <time.h>

#include "httpd_session.h"
#include "token.h"
#include "web_page.h"

#define LOGIN_MAX_BODY 4096
#define WRONG_TOKEN "That is not the token: try again."

typedef struct web_t {
    httpd_t *httpd;
    web_describe_fn describe;
    void *ctx;
} web_t;

/* 1 when t is the server's token (constant time); 1 also when it has none. */
static int token_ok(const web_t *w, const char *t, apr_pool_t *pool)
{
    const char *tok = httpd_token(w->httpd);
    return !tok || (t && token_check_header(apr_pstrcat(pool, "Bearer ", t, NULL), tok));
}

static void login_page(httpd_resp_t *resp, const char *msg)
{
    resp->status = 401;
    resp->content_type = "text/html; charset=utf-8";
    buf_reset(&resp->body);
    web_login_page(&resp->body, msg);
}

/* Logged in: the session cookie, and 303 to the page. */
static void logged_in(const web_t *w, const httpd_req_t *req, httpd_resp_t *resp)
{
    char session[HTTPD_SESSION_LEN], *cookie = apr_palloc(req->pool, 256);
    const char *tok = httpd_token(w->httpd);
    if (tok && httpd_session_make(tok, (int64_t)time(NULL), session) != 0) {
        httpd_error(resp, 500, "no random bytes for a session: try again");
        return;
    }
    httpd_session_set_cookie(tok ? session : NULL, cookie, 256);
    resp->status = 303;
    resp->location = "/";
    resp->set_cookie = tok ? cookie : NULL;
    resp->content_type = "text/plain; charset=utf-8";
}

static void h_root(void *ctx, const httpd_req_t *req, httpd_resp_t *resp)
{
    web_t *w = ctx;
    const char *t = httpd_query(req, "token");
    if (t) {
        if (token_ok(w, t, req->pool))
            logged_in(w, req, resp);
        else
            login_page(resp, WRONG_TOKEN);
        return;
    }
    if (!req->authed) {
        login_page(resp, NULL);
        return;
    }
    resp->content_type = "text/html; charset=utf-8";
    web_page(&resp->body, NULL, 0);
}

static int hexval(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* The value of field name in a form body (application/x-www-form-urlencoded),
 * decoded, in pool; NULL when absent or holding a NUL. */
static const char *form_field(const uint8_t *body, size_t len, const char *name, apr_pool_t *pool)
{
    size_t nlen = strlen(name), i = 0;
    while (i < len) {
        size_t e = i;
        while (e < len && body[e] != '&')
            e++;
        if (e - i > nlen && memcmp(body + i, name, nlen) == 0 && body[i + nlen] == '=') {
            char *out = apr_palloc(pool, e - i), *o = out;
            for (size_t k = i + nlen + 1; k < e; k++) {
                int hi, lo;
                if (body[k] == '+') {
                    *o++ = ' ';
                } else if (body[k] == '%' && k + 2 < e && (hi = hexval((char)body[k + 1])) >= 0 &&
                           (lo = hexval((char)body[k + 2])) >= 0) {
                    if (!(*o++ = (char)(hi * 16 + lo)))
                        return NULL;
                    k += 2;
                } else {
                    *o++ = (char)body[k];
                }
            }
            *o = 0;
            return out;
        }
        i = e + 1;
    }
    return NULL;
}

static void h_login(void *ctx, const httpd_req_t *req, httpd_resp_t *resp)
{
    web_t *w = ctx;
    const char *t = req->body ? form_field(req->body, req->body_len, "token", req->pool) : NULL;
    if (t && token_ok(w, t, req->pool))
        logged_in(w, req, resp);
    else
        login_page(resp, WRONG_TOKEN);
}

static void h_logout(void *ctx, const httpd_req_t *req, httpd_resp_t *resp)
{
    char *cookie = apr_palloc(req->pool, 256);
    (void)ctx;
    httpd_session_set_cookie(NULL, cookie, 256);
    resp->status = 303;
    resp->location = "/";
    resp->set_cookie = cookie;
    resp->content_type = "text/plain; charset=utf-8";
}

static void h_asset(void *ctx, const httpd_req_t *req, httpd_resp_t *resp)
{
    const web_asset_t *a = web_asset(req->path + strlen("/ui/"));
    const char *inm = httpd_header(req, "If-None-Match");
    (void)ctx;
    if (!a || strncmp(req->path, "/ui/", 4) != 0) {
        httpd_error(resp, 404, "no such file: %s", req->path);
        return;
    }
    resp->etag = a->etag;
    resp->cache_control = "no-cache";
    resp->content_type = a->type;
    if (inm && strstr(inm, a->etag)) {
        resp->status = 304;
        return;
    }
    buf_put(&resp->body, a->data, a->len);
}

static void h_dashboard(void *ctx, const httpd_req_t *req, httpd_resp_t *resp)
{
    web_t *w = ctx;
    json_t *d = w->describe(w->ctx);
    (void)req;
    if (!d) {
        httpd_error(resp, 500, "the dashboard's description could not be built");
        return;
    }
    httpd_answer_json(resp, 200, d);
}

void web_register(httpd_t *h, web_describe_fn describe, void *ctx, apr_pool_t *pool)
{
    web_t *w = apr_pcalloc(pool, sizeof *w);
    w->httpd = h;
    w->describe = describe;
    w->ctx = ctx;
    httpd_route_public(h, "GET", "/", 0, h_root, w);
    httpd_route_public(h, "POST", "/login", LOGIN_MAX_BODY, h_login, w);
    httpd_route_public(h, "GET", "/logout", 0, h_logout, w);
    httpd_route_public(h, "GET", "/ui/", 0, h_asset, w);
    httpd_route(h, "GET", "/v1/dashboard", 0, h_dashboard, w);
}
