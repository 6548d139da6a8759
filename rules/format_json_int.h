/* format_json_int.h - internals of the json format, shared by format_json.c
 * (the kind: member paths, the walk of a line) and format_json_scan.c (the
 * bulk byte classifier, escapes, unescaping).
 *
 * Two stages, after simdjson: stage one classifies a line's bytes 64 at a
 * time into a bit mask of the bytes that can end or interrupt a string run
 * ('"', '\\', and control bytes below 0x20), with AVX2 when the CPU has it,
 * else SSE2, else a portable loop; stage two walks the JSON grammar byte by
 * byte outside strings and jumps over string contents with those masks. The
 * masks are made lazily, a window of words at a time, into fixed space in the
 * parse state: nothing is allocated per line. Everything here works on one
 * line and one state, so threads with their own states never meet. */
#ifndef ABBEY_FORMAT_JSON_INT_H
#define ABBEY_FORMAT_JSON_INT_H

#include "format_int.h"

#define JSON_MAX_DEPTH 64 /* objects and arrays open at once, the line's own object included */
#define JSON_WIN_WORDS 16 /* mask words made at a time (1 KiB of line) */
#define JSON_MAX_INDEX 999999999u /* the largest array index a member path may name */

/* Stage one's masks over line[0..len): bit b of word w is set when byte
 * w * 64 + b is '"', '\\' or below 0x20, and for every position >= len (so a
 * search always stops at or before len). A window of words is made at a
 * time; the caller keeps which (json_win_t, in registers). */
typedef struct json_bits_t {
    const char *line;
    size_t len;
    size_t nwords; /* words up to the one holding position len */
    uint64_t bits[JSON_WIN_WORDS];
} json_bits_t;

/* The words of b made now: [wbase, wend). */
typedef struct json_win_t {
    size_t wbase, wend;
} json_win_t;

/* Start masks over a new line (nothing is made until first asked for). */
static inline void json_bits_start(json_bits_t *b, json_win_t *win, const char *line, size_t len)
{
    b->line = line;
    b->len = len;
    b->nwords = len / 64 + 1;
    win->wbase = win->wend = 0;
}

/* Make the window of words starting at w (w < b->nwords) into b->bits; returns
 * the end of the window (the window starts at w). */
size_t json_bits_fill(json_bits_t *b, size_t w);

/* The first position >= pos (pos <= len) whose byte is '"', '\\' or a
 * control byte; len when there is none. */
static inline size_t json_next_special(json_bits_t *b, json_win_t *win, size_t pos)
{
    size_t w = pos >> 6;
    uint64_t m;
    if (w >= win->wend) {
        win->wend = json_bits_fill(b, w);
        win->wbase = w;
    }
    m = b->bits[w - win->wbase] & (~(uint64_t)0 << (pos & 63));
    while (!m) {
        if (++w >= win->wend) {
            win->wend = json_bits_fill(b, w);
            win->wbase = w;
        }
        m = b->bits[w - win->wbase];
    }
    return (w << 6) + (size_t)__builtin_ctzll(m);
}

/* x86-64 built without -mavx2 (the default build): stage one checks once for
 * AVX2 and uses it when the CPU has it, else SSE2. */
#if defined(__x86_64__) && defined(__SSE2__) && !defined(__AVX2__) && defined(__GNUC__)
#define JSON_AVX2_AT_RUN_TIME 1
#else
#define JSON_AVX2_AT_RUN_TIME 0
#endif

/* Stage one's classifier: JSON_SIMD_BEST (AVX2 when the CPU has it, else the
 * baseline), or JSON_SIMD_BASE (SSE2 or the portable loop): only tests set
 * it, to check the baseline on machines with AVX2 too. */
enum { JSON_SIMD_BEST = 0, JSON_SIMD_BASE = 1 };
extern int json_simd;

/* The escape at p (p[0] == '\\') inside a string ending before end: its code
 * point in *cp, a surrogate pair (\uD83D\uDE00) joined into one. Returns the
 * position after it, or NULL when it is not a valid JSON escape (an unknown
 * letter, fewer than four hex digits, a lone or reversed surrogate). */
const char *json_escape(const char *p, const char *end, uint32_t *cp);

/* The content [s, e) of a string already found valid, unescaped into out
 * (which has room for e - s bytes: no escape gets longer). Returns the bytes
 * written. */
size_t json_unescape(const char *s, const char *e, char *out);

/* The JSON number starting at p (a '-' or a digit):
 * -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?. Returns its end, or NULL
 * when the text is not such a number; *is_int is 1 when it has neither a
 * fraction nor an exponent. What follows is the caller's to check. */
static inline const char *json_number(const char *p, const char *end, int *is_int)
{
    *is_int = 1;
    if (*p == '-' && ++p == end)
        return NULL;
    if (*p == '0')
        p++;
    else if ((unsigned)(*p - '1') <= 8)
        while (++p < end && (unsigned)(*p - '0') <= 9)
            ;
    else
        return NULL;
    if (p < end && *p == '.') {
        *is_int = 0;
        if (++p == end || (unsigned)(*p - '0') > 9)
            return NULL;
        while (++p < end && (unsigned)(*p - '0') <= 9)
            ;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        *is_int = 0;
        if (++p < end && (*p == '+' || *p == '-'))
            p++;
        if (p == end || (unsigned)(*p - '0') > 9)
            return NULL;
        while (++p < end && (unsigned)(*p - '0') <= 9)
            ;
    }
    return p;
}

#endif
