/* fuzz_format_json.c - libFuzzer target for the json line format (rules/format_json.c,
 * rules/format_json_scan.c).
 *
 * Parses the input as one line with a json format whose fields cover nested names, array
 * indexes, backquoted names and every type, three times: every field needed and used as a
 * number, every field needed as it is, and nothing needed. Traps when a parse reads out of
 * bounds (ASan: the line is a private copy of exactly its size), leaves a field pointing
 * outside the line and the state's scratch, lets badness depend on what is needed (beyond a
 * needed field's number or time), or disagrees with an independent, plain recursive-descent
 * validator of the same grammar (below) about whether the line is one JSON object, or when
 * stage one's baseline classifier (SSE2) and its AVX2 one give different results.
 * Run: scripts/fuzz.sh format_json 600 (seeds in tests/fuzz/corpus_format_json/,
 * tokens in tests/fuzz/fuzz_format_json.dict). */
#include <apr_general.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "format.h"
#include "format_int.h"      /* the state's scratch */
#include "format_json_int.h" /* json_simd: stage one's two classifiers */

#define MAX_LINE (1 << 20)

static format_t *fmt;
static format_state_t *st;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    static const char *const typed[] = {"n:int", "t:time", "f:float", "s:str", "`@t`.x[0]:int"};
    static const char *const open[] = {"a",         "a.b",   "a.b[0]", "a.b[1].c", "arr[0]",
                                       "arr[2][0]", "`a b`", "`@t`",   "k",        "x.y.z",
                                       "``",        "`\\u`", "e",      "d.d.d.d"};
    format_spec_t spec = {.kind = "json", .fields = typed, .nfields = 5};
    apr_pool_t *pool;
    abbey_err_t err;
    apr_initialize();
    apr_pool_create(&pool, NULL); /* lives as long as the process */
    if (format_create(&spec, pool, &fmt, &err) != APR_SUCCESS)
        abort();
    for (size_t i = 0; i < sizeof open / sizeof open[0]; i++)
        if (format_field_index(fmt, open[i], strlen(open[i])) < 0)
            abort();
    st = format_state_create(fmt, MAX_LINE, pool);
    return 0;
}

/* ---- the reference: RFC 8259 by plain recursive descent ---- */

typedef struct ref_t {
    const unsigned char *p, *end;
    int depth;
} ref_t;

static void ref_ws(ref_t *r)
{
    while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r'))
        r->p++;
}

static int ref_hex4(ref_t *r, unsigned *u)
{
    *u = 0;
    for (int i = 0; i < 4; i++, r->p++) {
        if (r->p == r->end)
            return 0;
        unsigned c = *r->p;
        unsigned d = c >= '0' && c <= '9'   ? c - '0'
                     : c >= 'a' && c <= 'f' ? c - 'a' + 10
                     : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                            : 16;
        if (d == 16)
            return 0;
        *u = *u * 16 + d;
    }
    return 1;
}

static int ref_string(ref_t *r)
{
    r->p++; /* the opening quote */
    for (;;) {
        if (r->p == r->end || *r->p < 0x20)
            return 0;
        unsigned char c = *r->p++;
        if (c == '"')
            return 1;
        if (c != '\\')
            continue;
        if (r->p == r->end)
            return 0;
        c = *r->p++;
        if (c == 'u') {
            unsigned u, lo;
            if (!ref_hex4(r, &u) || (u >= 0xdc00 && u <= 0xdfff))
                return 0;
            if (u >= 0xd800 && u <= 0xdbff) {
                if (r->end - r->p < 2 || r->p[0] != '\\' || r->p[1] != 'u')
                    return 0;
                r->p += 2;
                if (!ref_hex4(r, &lo) || lo < 0xdc00 || lo > 0xdfff)
                    return 0;
            }
        } else if (!strchr("\"\\/bfnrt", c) || c == 0) {
            return 0;
        }
    }
}

static int ref_digits(ref_t *r)
{
    const unsigned char *s = r->p;
    while (r->p < r->end && *r->p >= '0' && *r->p <= '9')
        r->p++;
    return r->p > s;
}

static int ref_number(ref_t *r)
{
    if (*r->p == '-')
        r->p++;
    if (r->p < r->end && *r->p == '0')
        r->p++;
    else if (!ref_digits(r))
        return 0;
    if (r->p < r->end && *r->p == '.' && (r->p++, !ref_digits(r)))
        return 0;
    if (r->p < r->end && (*r->p == 'e' || *r->p == 'E')) {
        r->p++;
        if (r->p < r->end && (*r->p == '+' || *r->p == '-'))
            r->p++;
        if (!ref_digits(r))
            return 0;
    }
    return 1;
}

static int ref_value(ref_t *r);

/* An object or array (close is '}' or ']'), at most 64 open at once. */
static int ref_container(ref_t *r, char close)
{
    if (++r->depth > 64)
        return 0;
    r->p++;
    ref_ws(r);
    if (r->p < r->end && *r->p == close) {
        r->p++;
        r->depth--;
        return 1;
    }
    for (;;) {
        if (close == '}') {
            if (r->p == r->end || *r->p != '"' || !ref_string(r))
                return 0;
            ref_ws(r);
            if (r->p == r->end || *r->p++ != ':')
                return 0;
            ref_ws(r);
        }
        if (!ref_value(r))
            return 0;
        ref_ws(r);
        if (r->p == r->end)
            return 0;
        if (*r->p == close) {
            r->p++;
            r->depth--;
            return 1;
        }
        if (*r->p++ != ',')
            return 0;
        ref_ws(r);
    }
}

static int ref_word(ref_t *r, const char *w)
{
    size_t n = strlen(w);
    if ((size_t)(r->end - r->p) < n || memcmp(r->p, w, n) != 0)
        return 0;
    r->p += n;
    return 1;
}

static int ref_value(ref_t *r)
{
    if (r->p == r->end)
        return 0;
    switch (*r->p) {
    case '{':
        return ref_container(r, '}');
    case '[':
        return ref_container(r, ']');
    case '"':
        return ref_string(r);
    case 't':
        return ref_word(r, "true");
    case 'f':
        return ref_word(r, "false");
    case 'n':
        return ref_word(r, "null");
    default:
        return (*r->p == '-' || (*r->p >= '0' && *r->p <= '9')) && ref_number(r);
    }
}

/* 1 when line[0..len) (a trailing '\r' dropped, as format_parse does) is one JSON object
 * with only whitespace around it. */
static int ref_valid(const char *line, size_t len)
{
    ref_t r = {(const unsigned char *)line, (const unsigned char *)line + len, 0};
    if (len && line[len - 1] == '\r')
        r.end--;
    ref_ws(&r);
    if (r.p == r.end || *r.p != '{' || !ref_value(&r))
        return 0;
    ref_ws(&r);
    return r.p == r.end;
}

/* ---- the target ---- */

static void check_fields(const char *line, size_t len, const value_t *v)
{
    for (int i = 0; i < format_nfields(fmt); i++) {
        if (v[i].kind > VALUE_TIME)
            __builtin_trap();
        if (!v[i].s)
            continue;
        int in_line = v[i].s >= line && v[i].s + v[i].len <= line + len;
        int in_scratch = st->scratch && v[i].s >= st->scratch &&
                         v[i].s + v[i].len <= st->scratch + st->scratch_used;
        if (!in_line && !in_scratch)
            __builtin_trap();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    value_t v[FORMAT_MAX_FIELDS], w[FORMAT_MAX_FIELDS];
    const uint64_t all = ~(uint64_t)0;
    if (size > MAX_LINE)
        return 0;
    /* a private copy of exactly size bytes, so ASan sees any overread */
    char *line = malloc(size ? size : 1);
    memcpy(line, data, size);
    format_bad_t lax = format_parse(st, line, size, 0, 0, v);
    if (lax >= FORMAT_BAD__COUNT || (lax == FORMAT_OK) != ref_valid(line, size))
        __builtin_trap(); /* the structure is judged alike with or without fields */
    for (int pass = 0; pass < 2; pass++) {
        format_bad_t why = format_parse(st, line, size, all, pass ? all : 0, v);
        if (why == FORMAT_OK)
            check_fields(line, size, v);
        if (pass == 1) { /* the baseline classifier agrees with the best one */
            json_simd = JSON_SIMD_BASE;
            if (format_parse(st, line, size, all, all, w) != why)
                __builtin_trap();
            json_simd = JSON_SIMD_BEST;
            for (int i = 0; why == FORMAT_OK && i < format_nfields(fmt); i++)
                if (w[i].kind != v[i].kind || w[i].len != v[i].len ||
                    (w[i].len && memcmp(w[i].s, v[i].s, w[i].len) != 0) ||
                    (w[i].kind != VALUE_STR && w[i].kind != VALUE_NULL && w[i].i != v[i].i))
                    __builtin_trap();
        }
        if (why != lax &&
            !(lax == FORMAT_OK && (why == FORMAT_BAD_NUMBER || why == FORMAT_BAD_TIME)))
            __builtin_trap(); /* needing fields changes nothing but their conversion */
    }
    free(line);
    return 0;
}
