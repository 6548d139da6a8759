/* web_page.h - the dashboard's HTML: the page served at GET / (scripts and
 * styles from /ui/), the one-file report (everything inline, data included),
 * and the login page. The page itself holds no figure: its scripts fetch
 * them (served) or read them from the inline data (one file). */
#ifndef ABBEY_WEB_PAGE_H
#define ABBEY_WEB_PAGE_H

#include "buf.h"
#include "web_assets.h"

/* The asset named name ("app.js"), or NULL. */
const web_asset_t *web_asset(const char *name);

/* Append the dashboard page to out. data_json NULL: the page served by a
 * master, loading /ui/ assets. Else the one-file report: data_json (a JSON
 * text, any bytes: every '<' is written as \u003c so that it cannot end its
 * script element) is inlined with every script and style, under a
 * Content-Security-Policy that allows those inline copies only (by hash)
 * and no network at all. Cannot fail. */
void web_page(buf_t *out, const char *data_json, size_t data_len);

/* Append the login page to out: a form that posts the token to /login;
 * msg (NULL: none; a constant of the server's, HTML-escaped here) above it. */
void web_login_page(buf_t *out, const char *msg);

#endif
