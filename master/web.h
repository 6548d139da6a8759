/* web.h - the dashboard's routes on a master's HTTP server.
 *
 *   GET /             the dashboard (web_page.h) with a valid token or session
 *                     cookie; else the login page (401). GET /?token=T with the
 *                     right token sets the session cookie (httpd_session.h) and
 *                     redirects (303) to /, so the token leaves the address bar.
 *   POST /login       the login form (token=T): the cookie and 303 to /, or the
 *                     login page again (401).
 *   GET /logout       clears the cookie, 303 to /.
 *   GET /ui/NAME      the compiled-in assets (web_assets.h), public: they hold no
 *                     figure; ETag and If-None-Match (304).
 *   GET /v1/dashboard what this master shows (dashboard.h), token or cookie.
 * Every answer carries httpd's Content-Security-Policy (HTTPD_CSP). */
#ifndef ABBEY_WEB_H
#define ABBEY_WEB_H

#include <apr_pools.h>

#include "httpd.h"

struct json_t;

/* The description GET /v1/dashboard answers (dashboard_describe), a new JSON
 * object or NULL (answered 500). Runs on the server's threads. */
typedef struct json_t *(*web_describe_fn)(void *ctx);

/* Add the routes above to h (before httpd_start); describe(ctx) answers
 * /v1/dashboard. The token checked at login is httpd_token(h). */
void web_register(httpd_t *h, web_describe_fn describe, void *ctx, apr_pool_t *pool);

#endif
