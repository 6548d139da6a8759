/* fuzz_format.c - libFuzzer target for the line formats (rules/format.h).
 *
 * Parses the input as one line with combined, common, and a split format with a
 * multi-byte delimiter and typed fields, with every need and num bit set, and
 * traps when a parse reads out of bounds (ASan), leaves a field pointing outside
 * the line, or lets badness depend on `need`. Build and run from the source tree:
 *   clang -g -O1 -std=gnu11 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined -Irules $(pkg-config
 * --cflags apr-1) tests/fuzz/fuzz_format.c rules/format*.c rules/error.c rules/invariant.c
 * -o /tmp/fuzz_format $(pkg-config --libs apr-1)   (or: scripts/fuzz.sh format)
 *   /tmp/fuzz_format -max_total_time=60 [corpus-dir]
 * A good seed corpus: a few lines of data/apache_combined_10k.log, one per file. */
#include <apr_general.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "format.h"

static format_t *formats[3];
static format_state_t *states[3];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    static const char *const fields[] = {"id:int",   "ratio:float", "at:time",
                                         "name:str", "n",           "word"};
    apr_pool_t *pool;
    abbey_err_t err;
    apr_initialize();
    apr_pool_create(&pool, NULL); /* lives as long as the process */
    if (format_create_builtin("combined", pool, &formats[0], &err) != APR_SUCCESS ||
        format_create_builtin("common", pool, &formats[1], &err) != APR_SUCCESS ||
        format_create_split(" | ", fields, 6, pool, &formats[2], &err) != APR_SUCCESS)
        abort();
    for (int k = 0; k < 3; k++)
        states[k] = format_state_create(formats[k], 1 << 24, pool);
    return 0;
}

static void check_fields(const format_t *f, const char *line, size_t len, const value_t *v)
{
    for (int i = 0; i < format_nfields(f); i++) {
        if (v[i].kind > VALUE_TIME)
            __builtin_trap();
        if (v[i].s && (v[i].s < line || v[i].s + v[i].len > line + len))
            __builtin_trap();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    value_t v[FORMAT_MAX_FIELDS], w[FORMAT_MAX_FIELDS];
    /* a private copy of exactly size bytes, so ASan sees any overread */
    char *line = malloc(size ? size : 1);
    memcpy(line, data, size);
    for (int k = 0; k < 3; k++) {
        format_bad_t why = format_parse(states[k], line, size, ~(uint64_t)0, ~(uint64_t)0, v);
        if (why >= FORMAT_BAD__COUNT)
            __builtin_trap();
        if (why == FORMAT_OK)
            check_fields(formats[k], line, size, v);
        format_bad_t lax = format_parse(states[k], line, size, 0, ~(uint64_t)0, w);
        if (why == FORMAT_OK ? lax != FORMAT_OK : (lax != FORMAT_OK && lax != why))
            __builtin_trap(); /* needing less never makes a line bad, nor changes why */
        (void)format_bad_text(why);
    }
    free(line);
    return 0;
}
