/* wirepath.c - the wire form of file paths: invalid UTF-8 bytes as %XX (see wirepath.h). */
#include "wirepath.h"

#include <apr_strings.h>
#include <string.h>

#include "utf8.h"

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
        size_t w = utf8_char((const char *)p + i, n - i);
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
        size_t w = utf8_char((const char *)p + i, n - i);
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
