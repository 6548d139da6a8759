/* fuzz_format_logfmt.c - libFuzzer target for the logfmt line format (rules/format_logfmt.c).
 *
 * Parses the input as one line with a logfmt format whose fields are keys a rule could
 * name (typed ones among them, a dotted and a dashed key, a 40-byte key), with every need
 * and num bit, and traps when a parse reads out of bounds (ASan), returns an unknown
 * reason, leaves a needed field unset or its text outside the line and the state's
 * scratch, lets badness depend on what is needed (needing nothing never makes a line bad
 * nor changes why; a bad line is bad whatever is needed unless a conversion is to blame),
 * or gives a field a different text when it is the only one needed. Run with
 *   scripts/fuzz.sh format_logfmt 600
 * (docs/FUZZING.md); tests/fuzz/fuzz_format_logfmt.dict holds the grammar's tokens. */
#include <apr_general.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "format_int.h"

static format_t *fmt;
static format_state_t *st;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    static const char *const types[] = {"n:int", "x:float", "t:time", "s:str"};
    static const char *const keys[] = {"a",
                                       "b",
                                       "msg",
                                       "level",
                                       "http.status",
                                       "request-id",
                                       "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"};
    format_spec_t spec = {.kind = "logfmt", .fields = types, .nfields = 4};
    apr_pool_t *pool;
    abbey_err_t err;
    (void)argc, (void)argv;
    apr_initialize();
    apr_pool_create(&pool, NULL); /* lives as long as the process */
    if (format_create(&spec, pool, &fmt, &err) != APR_SUCCESS)
        abort();
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (format_field_index(fmt, keys[i], strlen(keys[i])) < 0)
            abort();
    st = format_state_create(fmt, 1 << 24, pool);
    return 0;
}

static int inside(const value_t *v, const char *lo, size_t cap)
{
    return v->s >= lo && v->s + v->len <= lo + cap;
}

static void check_fields(const char *line, size_t len, const value_t *v)
{
    for (int i = 0; i < format_nfields(fmt); i++) {
        if (v[i].kind > VALUE_TIME)
            __builtin_trap();
        if (v[i].s ? !inside(&v[i], line, len) &&
                         !(st->scratch && inside(&v[i], st->scratch, st->max_line + 1))
                   : v[i].len != 0)
            __builtin_trap();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    value_t v[FORMAT_MAX_FIELDS], w[FORMAT_MAX_FIELDS];
    char *line = malloc(size ? size : 1), *text[FORMAT_MAX_FIELDS];
    uint32_t lens[FORMAT_MAX_FIELDS];
    uint64_t all = ~(uint64_t)0;
    int n = format_nfields(fmt);
    memcpy(line, data, size); /* a private copy of exactly size bytes, so ASan sees overreads */
    format_bad_t why = format_parse(st, line, size, all, all, v);
    if (why >= FORMAT_BAD__COUNT)
        __builtin_trap();
    int conversion = st->bad_field >= 0;
    format_bad_t lax = format_parse(st, line, size, 0, 0, w);
    if (why == FORMAT_OK ? lax != FORMAT_OK : (lax != FORMAT_OK && lax != why))
        __builtin_trap(); /* needing less never makes a line bad, nor changes why */
    if (why != FORMAT_OK && lax == FORMAT_OK && !conversion)
        __builtin_trap(); /* a structural fault is found whatever is needed */
    if (why == FORMAT_OK) {
        if (format_parse(st, line, size, all, 0, v) != FORMAT_OK) /* untyped fields as text */
            __builtin_trap();
        check_fields(line, size, v);
        for (int i = 0; i < n; i++) { /* keep copies: scratch is reused by the next parse */
            lens[i] = v[i].len;
            text[i] = malloc(v[i].len + 1);
            if (v[i].len)
                memcpy(text[i], v[i].s, v[i].len);
        }
        for (int i = 0; i < n; i++) {
            if (format_parse(st, line, size, (uint64_t)1 << i, 0, w) != FORMAT_OK)
                __builtin_trap();
            check_fields(line, size, w);
            if (w[i].kind != v[i].kind || w[i].len != lens[i] ||
                (lens[i] && memcmp(w[i].s, text[i], lens[i]) != 0))
                __builtin_trap(); /* a field's value does not depend on the others */
        }
        for (int i = 0; i < n; i++)
            free(text[i]);
    }
    free(line);
    return 0;
}
