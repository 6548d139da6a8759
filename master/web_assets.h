/* web_assets.h - the dashboard's files (master/web/), compiled into the binary.
 *
 * scripts/web_embed.sh generates web_assets.c at build time: one entry per
 * file, named by its base name. Read-only data: thread-safe. */
#ifndef ABBEY_WEB_ASSETS_H
#define ABBEY_WEB_ASSETS_H

#include <stddef.h>

typedef struct web_asset_t {
    const char *name;          /* "app.js" */
    const char *type;          /* its Content-Type */
    const unsigned char *data; /* len bytes (and a NUL after them) */
    size_t len;
    const char *etag; /* 16 hex digits of its SHA-256 */
    const char *csp;  /* "sha256-<base64>": how a CSP names an inline copy */
} web_asset_t;

extern const web_asset_t web_assets[];
extern const int web_nassets;

#endif
