/* fuzz_agg_decode.c - libFuzzer target for agg_decode and agg_decode_dict (rules/agg*.c).
 *
 * Feeds the input to agg_decode once for every aggregate kind. A refused input
 * must leave a releasable state; an accepted one must give a result, merge,
 * update, and re-encode so that decoding that encoding succeeds, consumes it
 * exactly and encodes to the same bytes again. Then the input is read as a
 * frame dictionary (agg_dict_get, a budget of 1,000,000 units) followed by
 * states against it (agg_decode_dict), every kind in turn while the bytes last;
 * each accepted state (a derived one: derived from a distinct_exact state of
 * the input's first bytes) goes through the same checks. Any crash, sanitizer
 * report or leak is a bug. Build, e.g.:
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -Irules \
 *     $(pkg-config --cflags apr-1) tests/fuzz/fuzz_agg_decode.c rules/agg*.c \
 *     rules/value.c rules/buf.c rules/error.c rules/mem.c rules/invariant.c -lxxhash -lm \
 *     -o fuzz_agg_decode (or scripts/fuzz.sh agg_decode) */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agg.h"

static void *state_new(const agg_spec_t *s)
{
    void *st = malloc(agg_state_size(s));
    if (!st)
        abort();
    agg_init(s, st);
    return st;
}

/* decode(encode(st)) must succeed, use every byte, and encode to the same bytes. */
static void check_reencode(const agg_spec_t *s, const void *st)
{
    buf_t a, b;
    buf_reader_t r;
    abbey_err_t err;
    void *c = state_new(s);
    buf_init(&a);
    buf_init(&b);
    agg_encode(s, st, &a);
    buf_reader_init(&r, a.data, a.len);
    if (agg_decode(s, c, &r, &err) != APR_SUCCESS || buf_reader_left(&r) != 0)
        abort();
    agg_encode(s, c, &b);
    if (a.len != b.len || memcmp(a.data, b.data, a.len) != 0)
        abort();
    agg_release(s, c);
    free(c);
    buf_free(&a);
    buf_free(&b);
}

static void one_kind(agg_kind_t k, const uint8_t *data, size_t size)
{
    agg_spec_t s = {k, 95.0, 1000};
    buf_reader_t r;
    abbey_err_t err;
    agg_result_t res;
    void *st = state_new(&s), *m;
    value_t v = {.kind = VALUE_INT, .i = (int64_t)size};

    buf_reader_init(&r, data, size);
    if (agg_decode(&s, st, &r, &err) == APR_SUCCESS) {
        agg_result(&s, st, &res);
        check_reencode(&s, st);
        m = state_new(&s);
        agg_update(&s, m, &v);
        agg_merge(&s, m, st);
        agg_merge(&s, st, m);
        agg_update(&s, st, &v);
        agg_result(&s, st, &res);
        agg_result(&s, m, &res);
        agg_release(&s, m);
        free(m);
    } else {
        agg_result(&s, st, &res);
    }
    agg_release(&s, st);
    free(st);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The input as a dictionary and states against it. */
static void dict_states(const uint8_t *data, size_t size)
{
    agg_dict_t *d = agg_dict_create();
    agg_spec_t xs = {AGG_DISTINCT_EXACT, 0, 1000};
    buf_reader_t r;
    abbey_err_t err;
    void *x = state_new(&xs);

    buf_reader_init(&r, data, size);
    if (d && agg_dict_get(d, &r, 1000000, &err) == APR_SUCCESS) {
        for (int i = 0; buf_reader_left(&r) && i < 64; i++) {
            agg_spec_t s = {(agg_kind_t)(i % AGG__COUNT), 95.0, 1000};
            void *st = state_new(&s);
            int from = -1;
            apr_status_t rv = agg_decode_dict(&s, st, d, &r, &from, &err);
            if (rv == APR_SUCCESS && from >= 0)
                rv = agg_derive(&s, st, &xs, x, d, &err);
            if (rv == APR_SUCCESS) {
                agg_result_t res;
                agg_result(&s, st, &res);
                check_reencode(&s, st);
                if (s.kind == AGG_DISTINCT_EXACT && i < AGG__COUNT)
                    agg_merge(&xs, x, st);
            }
            agg_release(&s, st);
            free(st);
            if (rv != APR_SUCCESS)
                break;
        }
    }
    agg_release(&xs, x);
    free(x);
    agg_dict_destroy(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    for (int k = 0; k < AGG__COUNT; k++)
        one_kind((agg_kind_t)k, data, size);
    dict_states(data, size);
    return 0;
}
