/* utf8.c - UTF-8 validation, U+FFFD replacement and terminal escaping (see utf8.h).
 *
 * One range check per sequence (the table of well-formed byte sequences in
 * Unicode §3.9, table 3-7), and eight ASCII bytes at a time in between, so a
 * valid key costs a pass over its bytes and no copy. */
#include "utf8.h"

#include <stdint.h>
#include <string.h>

#define ASCII_MASK 0x8080808080808080ULL

/* The sequence at s[0..len), len >= 1: its length (1..4) with *ok = 1 when it
 * is well-formed, else the length of its maximal subpart (1..3) with *ok = 0. */
static size_t seq(const unsigned char *s, size_t len, int *ok)
{
    unsigned c = s[0], lo = 0x80, hi = 0xbf;
    size_t n;

    *ok = 1;
    if (c < 0x80)
        return 1;
    if (c < 0xc2 || c > 0xf4) { /* continuation byte, overlong lead C0/C1, or > U+10FFFF */
        *ok = 0;
        return 1;
    }
    n = c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
    if (c == 0xe0)
        lo = 0xa0; /* overlong 3-byte forms */
    else if (c == 0xed)
        hi = 0x9f; /* surrogates */
    else if (c == 0xf0)
        lo = 0x90; /* overlong 4-byte forms */
    else if (c == 0xf4)
        hi = 0x8f; /* above U+10FFFF */
    for (size_t k = 1; k < n; k++) {
        if (k >= len || s[k] < lo || s[k] > hi) {
            *ok = 0;
            return k;
        }
        lo = 0x80;
        hi = 0xbf;
    }
    return n;
}

size_t utf8_char(const char *s, size_t len)
{
    int ok;
    size_t n = seq((const unsigned char *)s, len, &ok);
    return ok ? n : 0;
}

size_t utf8_valid_prefix(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, n;
    uint64_t w;
    int ok;

    while (i < len) {
        if (len - i >= 8) {
            memcpy(&w, p + i, 8);
            if (!(w & ASCII_MASK)) {
                i += 8;
                continue;
            }
        }
        if (p[i] < 0x80) {
            i++;
            continue;
        }
        n = seq(p + i, len - i, &ok);
        if (!ok)
            return i;
        i += n;
    }
    return len;
}

void utf8_put_replaced(buf_t *out, const char *s, size_t len)
{
    size_t i = 0, n;
    int ok;

    while (i < len) {
        n = utf8_valid_prefix(s + i, len - i);
        buf_put(out, s + i, n);
        i += n;
        if (i == len)
            break;
        i += seq((const unsigned char *)s + i, len - i, &ok);
        buf_put(out, "\xef\xbf\xbd", 3);
    }
}

/* Is the well-formed sequence p[0..n) shown as it is (printable, not a control)? */
static int printable(const unsigned char *p, size_t n)
{
    if (n == 1)
        return p[0] >= 0x20 && p[0] < 0x7f;
    return !(p[0] == 0xc2 && p[1] < 0xa0); /* C1 controls U+0080..U+009F */
}

char *utf8_escape(char *dst, size_t cap, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, o = 0, n, tl;
    char tmp[16];
    int ok;

    while (i < len) {
        n = seq(p + i, len - i, &ok);
        if (ok && p[i] == '\\') {
            tmp[0] = tmp[1] = '\\';
            tl = 2;
        } else if (ok && printable(p + i, n)) {
            memcpy(tmp, p + i, n);
            tl = n;
        } else {
            for (size_t k = 0; k < n; k++) {
                tmp[4 * k] = '\\';
                tmp[4 * k + 1] = 'x';
                tmp[4 * k + 2] = hex[p[i + k] >> 4];
                tmp[4 * k + 3] = hex[p[i + k] & 15];
            }
            tl = 4 * n;
        }
        if (o + tl + 1 > cap)
            break;
        memcpy(dst + o, tmp, tl);
        o += tl;
        i += n;
    }
    dst[o] = '\0';
    return dst;
}
