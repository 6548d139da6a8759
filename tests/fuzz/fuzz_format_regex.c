/* fuzz_format_regex.c - libFuzzer target for the regex line format (rules/format_regex.c)
 * and the PCRE2 helper under it (rules/rematch.c).
 *
 * The first byte picks a mode:
 * - even: the rest is one line, parsed with four compiled regex formats (an anchored access
 *   log pattern with typed fields, an unanchored one with optional groups, a pattern with
 *   nested quantifiers, one with alternatives and a lookbehind);
 * - odd: the rest is a pattern (up to its first NUL), compiled as a regex format in a pool of
 *   its own (destroyed after, so leaks show); when it compiles, a few fixed lines and the
 *   pattern's own text are parsed with it. A refusal must carry a message and an offset
 *   inside the pattern (or none).
 * Every parse is checked: a known reason; for a good line every field is NULL without text or
 * text inside the line; needing fewer fields never makes a line bad, nor changes why. ASan
 * catches any read outside the line (a private copy of exactly its length). Run with
 *   scripts/fuzz.sh format_regex 600 */
#include <apr_general.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "format.h"

#define NFIXED 4

static format_t *fixed[NFIXED];
static format_state_t *fixed_st[NFIXED];

static format_t *make(const char *pattern, const char *const *types, int n, apr_pool_t *pool)
{
    format_spec_t spec = {.kind = "regex", .arg = pattern, .fields = types, .nfields = n};
    format_t *f = NULL;
    abbey_err_t err;
    return format_create(&spec, pool, &f, &err) == APR_SUCCESS ? f : NULL;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    static const char *const t0[] = {"status:int", "bytes:int", "when:time", "ms:float"};
    static const char *const t2[] = {"n:int"};
    apr_pool_t *pool;
    (void)argc, (void)argv;
    apr_initialize();
    atexit(apr_terminate);        /* frees PCRE2's memory before the leak check at exit */
    apr_pool_create(&pool, NULL); /* lives as long as the process */
    fixed[0] = make("^(?<ip>\\S+) \\S+ (?<user>\\S+) \\[(?<when>[^]]+)\\] \"(?<method>[A-Z]+) "
                    "(?<path>[^ \"]*)[^\"]*\" (?<status>\\d{3}) (?<bytes>\\d+|-)"
                    "(?: (?<ms>[0-9.]+))?$",
                    t0, 4, pool);
    fixed[1] = make("(?<k>\\w+)=(?<v>\"[^\"]*\"|\\S*)(?:\\s+(?<rest>.*))?", NULL, 0, pool);
    fixed[2] = make("^(?<a>(\\w+\\s?)+)(?<n>\\d*)$", t2, 1, pool);
    fixed[3] = make("(?<=\\[)(?<lvl>INFO|WARN|ERROR)\\](?<msg>(?:[^\\x00]|\\x00)*)", NULL, 0, pool);
    for (int k = 0; k < NFIXED; k++) {
        if (!fixed[k])
            abort();
        fixed_st[k] = format_state_create(fixed[k], 1 << 20, pool);
    }
    return 0;
}

/* Parse line[0..len) with st (format f) with every bit, then with none, and check both. */
static void check_parse(const format_t *f, format_state_t *st, const char *line, size_t len)
{
    value_t v[FORMAT_MAX_FIELDS], w[FORMAT_MAX_FIELDS];
    format_bad_t why = format_parse(st, line, len, ~(uint64_t)0, ~(uint64_t)0, v), lax;
    char text[128];
    if (why >= FORMAT_BAD__COUNT)
        __builtin_trap();
    if (why == FORMAT_OK)
        for (int i = 0; i < format_nfields(f); i++) {
            if (v[i].kind > VALUE_TIME)
                __builtin_trap();
            if (v[i].s ? v[i].s < line || v[i].s + v[i].len > line + len : v[i].len != 0)
                __builtin_trap();
        }
    (void)format_bad_describe(st, why, text, sizeof text);
    lax = format_parse(st, line, len, 0, 0, w);
    if (why == FORMAT_OK ? lax != FORMAT_OK : (lax != FORMAT_OK && lax != why))
        __builtin_trap(); /* needing less never makes a line bad, nor changes why */
}

static void fuzz_pattern(const char *pat, size_t len)
{
    static const char *const lines[] = {
        "", "a", "127.0.0.1 - - [17/May/2015:10:05:03 +0000] \"GET / HTTP/1.1\" 200 5",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab", "k=v x=\"y z\""};
    apr_pool_t *pool;
    format_spec_t spec = {.kind = "regex", .arg = pat};
    format_t *f = NULL;
    abbey_err_t err = {{0}};
    apr_pool_create(&pool, NULL);
    if (format_create(&spec, pool, &f, &err) != APR_SUCCESS) {
        if (!err.msg[0] || spec.err_at < -1 || spec.err_at > (long)len)
            __builtin_trap();
    } else {
        format_state_t *st = format_state_create(f, 1 << 16, pool);
        if (format_nfields(f) < 1 || format_nfields(f) > FORMAT_MAX_FIELDS)
            __builtin_trap();
        for (size_t k = 0; k < sizeof lines / sizeof lines[0]; k++) {
            size_t n = strlen(lines[k]);
            char *copy = malloc(n ? n : 1);
            memcpy(copy, lines[k], n);
            check_parse(f, st, copy, n);
            free(copy);
        }
        char *copy = malloc(len ? len : 1);
        memcpy(copy, pat, len);
        check_parse(f, st, copy, len);
        free(copy);
    }
    apr_pool_destroy(pool);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    if (data[0] & 1) {
        size_t n = strnlen((const char *)data + 1, size - 1);
        char *pat = malloc(n + 1);
        memcpy(pat, data + 1, n);
        pat[n] = '\0';
        fuzz_pattern(pat, n);
        free(pat);
        return 0;
    }
    /* a private copy of exactly size - 1 bytes, so ASan sees any overread */
    char *line = malloc(size > 1 ? size - 1 : 1);
    memcpy(line, data + 1, size - 1);
    for (int k = 0; k < NFIXED; k++)
        check_parse(fixed[k], fixed_st[k], line, size - 1);
    free(line);
    return 0;
}
