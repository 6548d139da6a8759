/* wirepath.c - the wire form of file paths: invalid UTF-8 bytes as %XX (see wirepath.h). */
#include "wirepath.h"

#include <apr_strings.h>
#include <string.h>

size_t wirepath_utf8_char(const unsigned char *s, size_t n)
{
    unsigned char c = s[0], lo = 0x80, hi = 0xBF;
    size_t len;

    if (c < 0x80)
        return 1;
    if (c < 0xC2 || c > 0xF4)
        return 0; /* a continuation byte, an overlong lead, or beyond U+10FFFF */
    len = c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
    if (c == 0xE0)
        lo = 0xA0; /* overlong */
    else if (c == 0xED)
        hi = 0x9F; /* surrogates */
    else if (c == 0xF0)
        lo = 0x90; /* overlong */
    else if (c == 0xF4)
        hi = 0x8F; /* above U+10FFFF */
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xBF)
            return 0;
    return len;
}

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* The byte "%XX" at s stands for, or -1 when s does not start an escape. */
static int escape_at(const unsigned char *s)
{
    int a, b, v;
    if (s[0] != '%' || (a = hexval(s[1])) < 0 || (b = hexval(s[2])) < 0)
        return -1;
    v = a * 16 + b;
    return v >= 0x80 || v == '%' ? v : -1;
}

/* Bytes of the wire form of p[0..n) (without NUL); 0 escapes: n. */
static size_t encoded_len(const unsigned char *p, size_t n)
{
    size_t out = 0;
    for (size_t i = 0; i < n;) {
        size_t w = wirepath_utf8_char(p + i, n - i);
        if (w == 0 || (p[i] == '%' && escape_at(p + i) >= 0)) {
            out += 3;
            i++;
        } else {
            out += w;
            i += w;
        }
    }
    return out;
}

const char *wirepath_encode(const char *path, apr_pool_t *pool)
{
    static const char hex[] = "0123456789ABCDEF";
    const unsigned char *p = (const unsigned char *)path;
    size_t n = strlen(path), len = encoded_len(p, n), o = 0;
    char *out;

    if (len == n)
        return path; /* every byte kept: no escape */
    out = apr_palloc(pool, len + 1);
    for (size_t i = 0; i < n;) {
        size_t w = wirepath_utf8_char(p + i, n - i);
        if (w == 0 || (p[i] == '%' && escape_at(p + i) >= 0)) {
            out[o++] = '%';
            out[o++] = hex[p[i] >> 4];
            out[o++] = hex[p[i] & 15];
            i++;
        } else {
            memcpy(out + o, p + i, w);
            o += w;
            i += w;
        }
    }
    out[o] = '\0';
    return out;
}

const char *wirepath_decode(const char *wire, apr_pool_t *pool)
{
    const unsigned char *w = (const unsigned char *)wire;
    char *out;
    size_t o = 0;

    if (!strchr(wire, '%'))
        return wire;
    out = apr_palloc(pool, strlen(wire) + 1);
    for (size_t i = 0; w[i];) {
        int v = escape_at(w + i);
        if (v >= 0) {
            out[o++] = (char)v;
            i += 3;
        } else {
            out[o++] = (char)w[i++];
        }
    }
    out[o] = '\0';
    return out;
}
