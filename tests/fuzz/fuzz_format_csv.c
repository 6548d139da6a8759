/* fuzz_format_csv.c - libFuzzer target for the csv line format (rules/format_csv.c).
 *
 * The first byte picks the delimiter (',', ';', '\t' or '|') and whether the input is one
 * line or a header line and a line (split at the first '\n'). Each line is parsed:
 * - with a csv format without a header of four text fields, against a reference parser
 *   written here byte by byte from the grammar of docs/RULES.md: the same reason, and for a
 *   good line the same four unescaped texts;
 * - with a csv format without a header of typed fields (int, float, time, auto);
 * - with a csv format with a header (two typed fields and two more the "rules" named), after
 *   the header line (or a fixed one), and again after the source is forgotten
 *   (FORMAT_BAD_HEADER).
 * Every parse is checked: a known reason; for a good line each needed field is NULL without
 * text, or text inside the line or wholly outside it (unescaped into the scratch); needing
 * fewer fields never makes a line bad, nor changes why. ASan catches any read outside the
 * line (a private copy of exactly its length). Run with scripts/fuzz.sh format_csv 600 */
#include <apr_general.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "format.h"

#define NDELIM 4
static const char delims[NDELIM] = {',', ';', '\t', '|'};

static format_t *text4[NDELIM], *typed[NDELIM], *named[NDELIM];
static format_state_t *text4_st[NDELIM], *typed_st[NDELIM], *named_st[NDELIM];

static format_t *make(int header, char d, const char *const *fields, int n, apr_pool_t *pool)
{
    char delim[2] = {d, '\0'};
    format_spec_t spec = {
        .kind = "csv", .arg = delim, .fields = fields, .nfields = n, .header = header};
    format_t *f = NULL;
    abbey_err_t err;
    if (format_create(&spec, pool, &f, &err) != APR_SUCCESS)
        abort();
    return f;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    static const char *const t4[] = {"a:str", "b:str", "c:str", "d:str"};
    static const char *const ty[] = {"n:int", "x:float", "t:time", "u"};
    static const char *const nm[] = {"status:int", "when:time"};
    apr_pool_t *pool;
    (void)argc, (void)argv;
    apr_initialize();
    apr_pool_create(&pool, NULL); /* lives as long as the process */
    for (int k = 0; k < NDELIM; k++) {
        text4[k] = make(0, delims[k], t4, 4, pool);
        typed[k] = make(0, delims[k], ty, 4, pool);
        named[k] = make(1, delims[k], nm, 2, pool);
        if (format_field_index(named[k], "path", 4) != 2 ||
            format_field_index(named[k], "user", 4) != 3)
            abort();
        text4_st[k] = format_state_create(text4[k], 1 << 20, pool);
        typed_st[k] = format_state_create(typed[k], 1 << 20, pool);
        named_st[k] = format_state_create(named[k], 1 << 20, pool);
    }
    return 0;
}

/* ---- the reference: the grammar, byte by byte ---- */

typedef struct ref_t {
    format_bad_t why;
    int ncols;
    char *text[4]; /* unescaped, malloc'ed */
    size_t len[4];
} ref_t;

static void ref_parse(const char *p, size_t n, char d, ref_t *r)
{
    size_t i = 0;
    memset(r, 0, sizeof *r);
    if (n && p[n - 1] == '\r')
        n--;
    if (n >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0)
        i = 3;
    if (i == n) {
        r->why = FORMAT_BAD_FIELDS;
        return;
    }
    for (;;) {
        char *out;
        size_t o = 0;
        if (r->ncols == 4) {
            r->why = FORMAT_BAD_FIELDS;
            return;
        }
        out = r->text[r->ncols] = malloc(n + 1);
        if (i < n && p[i] == '"') {
            i++;
            for (;;) {
                if (i == n) {
                    r->why = FORMAT_BAD_QUOTE;
                    return;
                }
                if (p[i] == '"') {
                    if (i + 1 < n && p[i + 1] == '"') {
                        out[o++] = '"';
                        i += 2;
                        continue;
                    }
                    i++;
                    break;
                }
                out[o++] = p[i++];
            }
            if (i < n && p[i] != d) {
                r->why = FORMAT_BAD_SYNTAX;
                return;
            }
        } else {
            while (i < n && p[i] != d)
                out[o++] = p[i++];
        }
        r->len[r->ncols++] = o;
        if (i == n)
            break;
        i++; /* the delimiter */
    }
    r->why = r->ncols == 4 ? FORMAT_OK : FORMAT_BAD_FIELDS;
}

static void ref_free(ref_t *r)
{
    for (int i = 0; i < 4; i++)
        free(r->text[i]);
}

/* ---- checks ---- */

static format_bad_t check_parse(const format_t *f, format_state_t *st, const char *line, size_t len,
                                value_t *v)
{
    value_t w[FORMAT_MAX_FIELDS];
    format_bad_t why = format_parse(st, line, len, ~(uint64_t)0, ~(uint64_t)0, v), lax;
    char text[128];
    if (why >= FORMAT_BAD__COUNT)
        __builtin_trap();
    if (why == FORMAT_OK)
        for (int i = 0; i < format_nfields(f); i++) {
            const value_t *x = &v[i];
            int inside = x->s >= line && x->s <= line + len;
            if (x->kind > VALUE_TIME || x->len > len)
                __builtin_trap();
            if (!x->s    ? x->len != 0
                : inside ? x->s + x->len > line + len
                         : x->s < line + len && x->s + x->len > line)
                __builtin_trap();
        }
    (void)format_bad_describe(st, why, text, sizeof text);
    lax = format_parse(st, line, len, 0, 0, w);
    if (why == FORMAT_OK ? lax != FORMAT_OK : (lax != FORMAT_OK && lax != why))
        __builtin_trap(); /* needing less never makes a line bad, nor changes why */
    return why;
}

static void fuzz_line(int k, const char *line, size_t len)
{
    value_t v[FORMAT_MAX_FIELDS];
    ref_t r;
    format_bad_t why = check_parse(text4[k], text4_st[k], line, len, v);
    ref_parse(line, len, delims[k], &r);
    if (why != r.why)
        __builtin_trap();
    for (int i = 0; why == FORMAT_OK && i < 4; i++)
        if (v[i].kind != VALUE_STR || v[i].len != r.len[i] || memcmp(v[i].s, r.text[i], r.len[i]))
            __builtin_trap();
    ref_free(&r);
    (void)check_parse(typed[k], typed_st[k], line, len, v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char fixed_header[] = "user,status,path,when";
    int k, split;
    const char *in = (const char *)data + 1, *nl;
    size_t n = size ? size - 1 : 0;
    if (size == 0)
        return 0;
    k = data[0] % NDELIM;
    split = (data[0] >> 2) & 1;
    nl = split ? memchr(in, '\n', n) : NULL;
    /* private copies of exactly their length, so ASan sees any overread */
    size_t hlen = nl ? (size_t)(nl - in) : sizeof fixed_header - 1;
    const char *hsrc = nl ? in : fixed_header;
    const char *lsrc = nl ? nl + 1 : in;
    size_t llen = nl ? n - hlen - 1 : n;
    char *header = malloc(hlen ? hlen : 1), *line = malloc(llen ? llen : 1);
    value_t v[FORMAT_MAX_FIELDS];
    memcpy(header, hsrc, hlen);
    memcpy(line, lsrc, llen);
    if (nl)
        fuzz_line(k, header, hlen);
    fuzz_line(k, line, llen);
    format_state_source(named_st[k], 0);
    format_bad_t h = format_header(named_st[k], header, hlen);
    if (h >= FORMAT_BAD__COUNT)
        __builtin_trap();
    format_bad_t why = check_parse(named[k], named_st[k], line, llen, v);
    if (h != FORMAT_OK && why != FORMAT_BAD_HEADER)
        __builtin_trap(); /* without a header every line is bad for want of one */
    format_state_source(named_st[k], 0);
    if (format_parse(named_st[k], line, llen, ~(uint64_t)0, 0, v) != FORMAT_BAD_HEADER)
        __builtin_trap(); /* a new source forgets the header */
    free(header);
    free(line);
    return 0;
}
