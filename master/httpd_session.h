/* httpd_session.h - the dashboard's login cookie: a signed session, never the token.
 *
 * A browser that logged in (GET /?token=T or POST /login) gets the cookie
 * HTTPD_SESSION_COOKIE = "v1.<expiry>.<nonce>.<mac>": expiry in seconds
 * since the epoch, a random nonce, and mac = HMAC-SHA1 keyed by the bearer
 * token over "abbey-session.v1.<expiry>.<nonce>", in hex. Any master that
 * holds the same token accepts it until its expiry (the masters of one host
 * share a browser's cookies: one login serves them all); a new token
 * invalidates every session. The token cannot be read back from a cookie. */
#ifndef ABBEY_HTTPD_SESSION_H
#define ABBEY_HTTPD_SESSION_H

#include <stddef.h>
#include <stdint.h>

#define HTTPD_SESSION_COOKIE "abbey_session"
#define HTTPD_SESSION_MAX_AGE_S (30 * 86400) /* a session lasts this long */
#define HTTPD_SESSION_LEN 112                /* room for a session value and its NUL */

/* A new session value for token, valid HTTPD_SESSION_MAX_AGE_S from now_s,
 * into out. Returns 0, or -1 when no random nonce could be had (out empty). */
int httpd_session_make(const char *token, int64_t now_s, char out[HTTPD_SESSION_LEN]);

/* 1 when the Cookie header value (may be NULL) holds an HTTPD_SESSION_COOKIE
 * that token signed and that has not expired at now_s; the signature is
 * compared in time independent of where it differs. 0 otherwise. */
int httpd_session_check(const char *cookie_header, const char *token, int64_t now_s);

/* The Set-Cookie value that stores value (NULL: clears the cookie), into
 * out (cap bytes): HttpOnly, SameSite=Strict, Path=/, Max-Age. */
void httpd_session_set_cookie(const char *value, char *out, size_t cap);

#endif
