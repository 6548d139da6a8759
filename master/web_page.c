/* web_page.c - the dashboard's HTML pages (see web_page.h). */
#include "web_page.h"

#include <string.h>

/* Loaded in this order; app.js last (it starts the page). */
static const char *const scripts[] = {"uplot.min.js", "format.js", "views.js", "cluster.js",
                                      "app.js"};
static const char *const styles[] = {"uplot.min.css", "app.css"};
#define NSCRIPTS (sizeof scripts / sizeof scripts[0])
#define NSTYLES (sizeof styles / sizeof styles[0])

const web_asset_t *web_asset(const char *name)
{
    for (int i = 0; i < web_nassets; i++)
        if (strcmp(web_assets[i].name, name) == 0)
            return &web_assets[i];
    return NULL;
}

static void put_s(buf_t *out, const char *s)
{
    buf_put(out, s, strlen(s));
}

/* Text with &, <, >, " escaped. */
static void put_html(buf_t *out, const char *s)
{
    for (; *s; s++)
        switch (*s) {
        case '&':
            put_s(out, "&amp;");
            break;
        case '<':
            put_s(out, "&lt;");
            break;
        case '>':
            put_s(out, "&gt;");
            break;
        case '"':
            put_s(out, "&quot;");
            break;
        default:
            buf_put_u8(out, (uint8_t)*s);
        }
}

static void head(buf_t *out, const char *title)
{
    put_s(out, "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
               "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
               "<meta name=\"color-scheme\" content=\"dark light\"><title>");
    put_html(out, title);
    put_s(out, "</title>");
}

/* The one-file report's policy: its inline scripts and styles by hash, nothing else. */
static void inline_csp(buf_t *out)
{
    put_s(out, "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
               "img-src data:; script-src");
    for (size_t i = 0; i < NSCRIPTS; i++)
        buf_printf(out, " '%s'", web_asset(scripts[i])->csp);
    put_s(out, "; style-src");
    for (size_t i = 0; i < NSTYLES; i++)
        buf_printf(out, " '%s'", web_asset(styles[i])->csp);
    put_s(out, "; base-uri 'none'; form-action 'none'\">");
}

/* The data, each '<' as \u003c (valid inside JSON strings, the only place a '<' can be). */
static void put_data(buf_t *out, const char *data, size_t len)
{
    put_s(out, "<script type=\"application/json\" id=\"abbey-data\">");
    for (size_t i = 0; i < len; i++)
        if (data[i] == '<')
            put_s(out, "\\u003c");
        else
            buf_put_u8(out, (uint8_t)data[i]);
    put_s(out, "</script>\n");
}

/* Asset name: inline between open and close (the one-file report), or linked
 * by link, a format taking its name and ETag. */
static void put_asset(buf_t *out, const char *name, int inline_it, const char *open,
                      const char *close, const char *link)
{
    const web_asset_t *a = web_asset(name);
    if (inline_it) {
        put_s(out, open);
        buf_put(out, a->data, a->len);
        put_s(out, close);
    } else {
        buf_printf(out, link, a->name, a->etag);
    }
}

void web_page(buf_t *out, const char *data_json, size_t data_len)
{
    head(out, "abbey");
    if (data_json)
        inline_csp(out);
    for (size_t i = 0; i < NSTYLES; i++)
        put_asset(out, styles[i], data_json != NULL, "<style>", "</style>",
                  "<link rel=\"stylesheet\" href=\"/ui/%s?v=%s\">");
    put_s(out, "</head>\n<body><div id=\"app\"><p class=\"loading\">loading…</p></div>\n");
    if (data_json)
        put_data(out, data_json, data_len);
    for (size_t i = 0; i < NSCRIPTS; i++)
        put_asset(out, scripts[i], data_json != NULL, "<script>", "</script>\n",
                  "<script src=\"/ui/%s?v=%s\"></script>\n");
    put_s(out, "</body></html>\n");
}

void web_login_page(buf_t *out, const char *msg)
{
    const web_asset_t *css = web_asset("app.css");
    head(out, "abbey: log in");
    buf_printf(out, "<link rel=\"stylesheet\" href=\"/ui/app.css?v=%s\">", css->etag);
    put_s(out, "</head>\n<body class=\"login\"><form method=\"post\" action=\"/login\">"
               "<h1>abbey</h1><p>This dashboard needs the cluster's token "
               "(the file given to <code>--token-file</code>).</p>");
    if (msg) {
        put_s(out, "<p class=\"error\" role=\"alert\">");
        put_html(out, msg);
        put_s(out, "</p>");
    }
    put_s(out,
          "<label>Token <input type=\"password\" name=\"token\" autocomplete=\"current-password\" "
          "autofocus required></label><button type=\"submit\">Log in</button></form>"
          "</body></html>\n");
}
