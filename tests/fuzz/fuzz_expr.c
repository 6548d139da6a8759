/* fuzz_expr.c - libFuzzer target for the expression compiler and evaluator (rules/expr.h).
 *
 * Compiles the input text against the combined format; a failure must leave a
 * "fuzz:line:col: ..." message; a success is evaluated over a few fixed parsed
 * lines (one with "-" fields, i.e. NULLs), twice per line without a reset so
 * the string scratch fills, and every result is read in full (ASan checks the
 * bytes). Each input gets its own pool, destroyed after, so leaks show.
 * Build and run from the source tree:
 *   clang -g -O1 -std=gnu11 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined -Irules $(pkg-config
 * --cflags apr-1 libpcre2-8) tests/fuzz/fuzz_expr.c rules/expr_lex.c rules/expr_parse.c
 * rules/expr_eval.c rules/format*.c rules/value.c
 * rules/buf.c rules/error.c -o /tmp/fuzz_expr $(pkg-config --libs apr-1 libpcre2-8 libxxhash) -lm
 *   /tmp/fuzz_expr -max_total_time=60 [corpus-dir]
 * A good seed corpus: the `where`, key and value expressions of examples/. */
#include <apr_general.h>
#include <apr_strings.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "expr.h"
#include "format.h"

#define NLINES 3

static apr_pool_t *root;
static format_t *comb;
static value_t rows[NLINES][FORMAT_MAX_FIELDS];

static const char *const lines[NLINES] = {
    "83.149.9.216 - - [17/May/2015:10:05:03 +0000] \"GET /presentations/logstash-monitorama-2013"
    "/images/kibana-search.png HTTP/1.1\" 200 203023 \"http://semicomplete.com/presentations/"
    "logstash-monitorama-2013/\" \"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_9_1)\"",
    "10.0.0.1 - bob [01/Jan/1970:00:00:00 -0130] \"HEAD /Index.HTML HTTP/1.0\" 304 - \"-\" \"-\"",
    ("::1 - - [31/Dec/2099:23:59:59 +1400] \"POST /a?b=%41&c=\\\"d\\\" HTTP/2\" 500 0 \"\" "
     "\"\xc3\xa9\xff\""),
};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    abbey_err_t err;
    apr_initialize();
    apr_pool_create(&root, NULL); /* lives as long as the process */
    if (format_create_builtin("combined", root, &comb, &err) != APR_SUCCESS)
        abort();
    for (int i = 0; i < NLINES; i++)
        if (format_parse(format_state_create(comb, 1 << 20, root), lines[i], strlen(lines[i]),
                         ~0ull, 0, rows[i]) != FORMAT_OK)
            abort();
    return 0;
}

/* Read every byte a result refers to, so a bad pointer is caught. */
static unsigned touch(const value_t *v)
{
    unsigned sum = 0;
    if (v->kind > VALUE_TIME)
        __builtin_trap();
    if (v->kind == VALUE_STR && v->len) {
        if (!v->s)
            __builtin_trap();
        for (uint32_t i = 0; i < v->len; i++)
            sum += (unsigned char)v->s[i];
    }
    return sum;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const expr_where_t where = {"fuzz", 1, 1};
    static volatile unsigned sink; /* keeps the reads of touch() */
    apr_pool_t *pool;
    abbey_err_t err;
    expr_t *e = NULL;
    char *src;

    apr_pool_create(&pool, root);
    src = apr_pstrmemdup(pool, (const char *)data, size);
    err.msg[0] = '\0';
    if (expr_compile(src, comb, &where, pool, &e, &err) != APR_SUCCESS) {
        if (e || strncmp(err.msg, "fuzz:", 5) != 0)
            __builtin_trap();
    } else {
        expr_ctx_t *ctx = expr_ctx_create(pool);
        value_t v;
        (void)expr_type(e);
        (void)expr_fields(e);
        (void)expr_numeric_fields(e);
        if (expr_field_ref(e) >= FORMAT_MAX_FIELDS || strcmp(expr_text(e), src) != 0)
            __builtin_trap();
        for (int i = 0; i < NLINES; i++) {
            expr_ctx_reset(ctx);
            for (int rep = 0; rep < 2; rep++)
                if (expr_eval(e, rows[i], ctx, &v) == 0)
                    sink = sink + touch(&v);
        }
    }
    apr_pool_destroy(pool);
    return 0;
}
