/* httpd_session.c - signed session cookies for the dashboard (see httpd_session.h).
 *
 * HMAC-SHA1 (RFC 2104) on apr-util's SHA-1: as a MAC it stands, and it adds
 * no dependency. The nonce comes from getrandom(2). */
#include "httpd_session.h"

#include <apr_sha1.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#define BLOCK 64 /* SHA-1's block */
#define NONCE_BYTES 12

/* HMAC-SHA1 of msg under key, as 40 lowercase hex digits and a NUL. */
static void hmac_hex(const char *key, const char *msg, char out[2 * APR_SHA1_DIGESTSIZE + 1])
{
    unsigned char k[BLOCK], pad[BLOCK], inner[APR_SHA1_DIGESTSIZE], mac[APR_SHA1_DIGESTSIZE];
    size_t klen = strlen(key);
    apr_sha1_ctx_t c;

    memset(k, 0, sizeof k);
    if (klen > BLOCK) {
        apr_sha1_init(&c);
        apr_sha1_update(&c, key, (unsigned)klen);
        apr_sha1_final(k, &c);
    } else {
        memcpy(k, key, klen);
    }
    for (int i = 0; i < BLOCK; i++)
        pad[i] = k[i] ^ 0x36;
    apr_sha1_init(&c);
    apr_sha1_update_binary(&c, pad, BLOCK);
    apr_sha1_update(&c, msg, (unsigned)strlen(msg));
    apr_sha1_final(inner, &c);
    for (int i = 0; i < BLOCK; i++)
        pad[i] = k[i] ^ 0x5c;
    apr_sha1_init(&c);
    apr_sha1_update_binary(&c, pad, BLOCK);
    apr_sha1_update_binary(&c, inner, sizeof inner);
    apr_sha1_final(mac, &c);
    for (int i = 0; i < APR_SHA1_DIGESTSIZE; i++)
        snprintf(out + 2 * i, 3, "%02x", mac[i]);
}

/* The signed message of a session whose "<expiry>.<nonce>" is body. */
static void signed_msg(const char *body, size_t len, char *out, size_t cap)
{
    snprintf(out, cap, "abbey-session.v1.%.*s", (int)len, body);
}

int httpd_session_make(const char *token, int64_t now_s, char out[HTTPD_SESSION_LEN])
{
    unsigned char nonce[NONCE_BYTES];
    char body[64], msg[96], mac[2 * APR_SHA1_DIGESTSIZE + 1];
    int n;

    out[0] = 0;
    if (getrandom(nonce, sizeof nonce, 0) != (ssize_t)sizeof nonce)
        return -1;
    n = snprintf(body, sizeof body, "%lld.", (long long)(now_s + HTTPD_SESSION_MAX_AGE_S));
    for (int i = 0; i < NONCE_BYTES; i++)
        n += snprintf(body + n, sizeof body - (size_t)n, "%02x", nonce[i]);
    signed_msg(body, (size_t)n, msg, sizeof msg);
    hmac_hex(token, msg, mac);
    snprintf(out, HTTPD_SESSION_LEN, "v1.%s.%s", body, mac);
    return 0;
}

/* The value of cookie name in a Cookie header ("a=1; b=2"), its length in
 * *len; NULL when absent. */
static const char *cookie_value(const char *header, const char *name, size_t *len)
{
    size_t nlen = strlen(name);
    const char *p = header;
    while (p && *p) {
        while (*p == ' ' || *p == ';')
            p++;
        if (strncmp(p, name, nlen) == 0 && p[nlen] == '=') {
            const char *v = p + nlen + 1, *e = strchr(v, ';');
            *len = e ? (size_t)(e - v) : strlen(v);
            return v;
        }
        p = strchr(p, ';');
    }
    return NULL;
}

int httpd_session_check(const char *cookie_header, const char *token, int64_t now_s)
{
    char body[64], msg[96], mac[2 * APR_SHA1_DIGESTSIZE + 1];
    const char *v, *dot;
    size_t len, blen;
    unsigned diff = 0;
    char *end;
    long long expiry;

    if (!cookie_header || !token || !(v = cookie_value(cookie_header, HTTPD_SESSION_COOKIE, &len)))
        return 0;
    /* v1.<expiry>.<nonce>.<mac>: the mac is the last 40 characters */
    if (len < 3 + 2 + 2 * APR_SHA1_DIGESTSIZE + 1 || strncmp(v, "v1.", 3) != 0)
        return 0;
    blen = len - 3 - 1 - 2 * APR_SHA1_DIGESTSIZE;
    if (blen >= sizeof body || v[3 + blen] != '.')
        return 0;
    memcpy(body, v + 3, blen);
    body[blen] = 0;
    dot = strchr(body, '.');
    expiry = strtoll(body, &end, 10);
    if (!dot || end != dot || expiry < now_s)
        return 0;
    signed_msg(body, blen, msg, sizeof msg);
    hmac_hex(token, msg, mac);
    for (size_t i = 0; i < 2 * APR_SHA1_DIGESTSIZE; i++)
        diff |= (unsigned)(unsigned char)(mac[i] ^ v[3 + blen + 1 + i]);
    return diff == 0;
}

void httpd_session_set_cookie(const char *value, char *out, size_t cap)
{
    snprintf(out, cap, "%s=%s; Path=/; HttpOnly; SameSite=Strict; Max-Age=%d", HTTPD_SESSION_COOKIE,
             value ? value : "", value ? HTTPD_SESSION_MAX_AGE_S : 0);
}
