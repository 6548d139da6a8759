/* fuzz_format_syslog.c - libFuzzer target for the syslog line format (rules/format_syslog.c).
 *
 * Parses the input as one line with two syslog formats (UTC, and +05:30 with the source's
 * mtime at a New Year, so year-less stamps roll over), with every field needed, and traps
 * when a parse reads out of bounds (ASan), returns an unknown reason, leaves a field unset
 * or its text outside the line (the facility and severity names excepted, which must be
 * the static names), lets badness depend on what is needed (needing nothing never makes a
 * line bad nor changes why, and only a time can make a well-formed line bad), or gives a
 * text field a different value when time is not needed. Run with
 *   scripts/fuzz.sh format_syslog 600
 * (docs/FUZZING.md); tests/fuzz/fuzz_format_syslog.dict holds the forms' tokens. */
#include <apr_general.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "format_int.h"

enum { F_TIME = 0, F_FAC_NAME = 7, F_SEV_NAME = 8 };

static format_t *fmts[2];
static format_state_t *states[2];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    static const char *const zones[2] = {NULL, "+05:30"};
    apr_pool_t *pool;
    abbey_err_t err;
    (void)argc, (void)argv;
    apr_initialize();
    apr_pool_create(&pool, NULL); /* lives as long as the process */
    for (int k = 0; k < 2; k++) {
        format_spec_t spec = {.kind = "syslog", .timezone = zones[k]};
        if (format_create(&spec, pool, &fmts[k], &err) != APR_SUCCESS)
            abort();
        states[k] = format_state_create(fmts[k], 1 << 24, pool);
    }
    format_state_source(states[0], 1718378161);            /* 2024-06-14 */
    format_state_source(states[1], 1704067200 - 3 * 3600); /* 2023-12-31 21:00 UTC */
    return 0;
}

/* A name field holds NULL or one of the static names ("kern", "emerg", ...). */
static int name_ok(const value_t *v)
{
    return v->kind == VALUE_NULL ||
           (v->kind == VALUE_STR && v->s && v->len >= 3 && v->len <= 8 && strlen(v->s) == v->len);
}

static void check_fields(const format_t *f, const char *line, size_t len, const value_t *v)
{
    for (int i = 0; i < format_nfields(f); i++) {
        if (v[i].kind > VALUE_TIME)
            __builtin_trap();
        if (i == F_FAC_NAME || i == F_SEV_NAME) {
            if (!name_ok(&v[i]))
                __builtin_trap();
        } else if (v[i].s ? v[i].s < line || v[i].s + v[i].len > line + len : v[i].len != 0) {
            __builtin_trap();
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    value_t v[FORMAT_MAX_FIELDS], w[FORMAT_MAX_FIELDS];
    uint64_t all = ~(uint64_t)0, no_time = all & ~((uint64_t)1 << F_TIME);
    char *line = malloc(size ? size : 1);
    memcpy(line, data, size); /* a private copy of exactly size bytes, so ASan sees overreads */
    for (int k = 0; k < 2; k++) {
        format_state_t *st = states[k];
        format_bad_t why = format_parse(st, line, size, all, all, v);
        if (why >= FORMAT_BAD__COUNT)
            __builtin_trap();
        if (why == FORMAT_OK)
            check_fields(fmts[k], line, size, v);
        format_bad_t lax = format_parse(st, line, size, no_time, all, w);
        if (why == FORMAT_OK ? lax != FORMAT_OK : (lax != FORMAT_OK && lax != why))
            __builtin_trap(); /* needing less never makes a line bad, nor changes why */
        if (lax == FORMAT_OK && why != FORMAT_OK && why != FORMAT_BAD_TIME)
            __builtin_trap(); /* only the time converts */
        if (format_parse(st, line, size, 0, 0, w) != lax)
            __builtin_trap();
        if (why != FORMAT_OK)
            continue;
        format_parse(st, line, size, no_time, all, w);
        for (int i = 1; i < format_nfields(fmts[k]); i++)
            if (w[i].kind != v[i].kind || w[i].len != v[i].len || w[i].s != v[i].s ||
                ((w[i].kind == VALUE_INT) && w[i].i != v[i].i))
                __builtin_trap(); /* the other fields do not depend on the time */
    }
    free(line);
    return 0;
}
