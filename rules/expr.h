/* expr.h - expressions for `where`, keys and aggregate arguments.
 *
 * Grammar (lowest precedence first):
 *   or-expr   := and-expr ("or" and-expr)*
 *   and-expr  := not-expr ("and" not-expr)*
 *   not-expr  := "not" not-expr | cmp
 *   cmp       := add (("=" | "==" | "!=" | "<" | "<=" | ">" | ">=" | "~" | "!~") add
 *                     | "in" "[" literal ("," literal)* "]" | "not" "in" "[" ... "]")?
 *   add       := mul (("+" | "-") mul)*
 *   mul       := unary (("*" | "/" | "%") unary)*
 *   unary     := "-" unary | primary
 *   primary   := number | duration (10s, 1m, 1h, 1d) | "string" | 'string'
 *              | true | false | null | field | func "(" args ")" | "(" or-expr ")"
 * Functions: time_bucket(t, duration), lower(s), upper(s), len(s),
 *            substr(s, start[, length]), int(x), float(x), str(x), coalesce(a, b).
 * `~` matches a PCRE2 regular expression (a string literal, compiled once, JIT).
 * Numbers: int64 arithmetic when both sides are integers, else double; `/` is
 * always double; division by zero gives NULL. Comparisons with NULL are false.
 *
 * Compiled once at load time (fields resolved against the job's format, types
 * checked); evaluation allocates nothing: an expr_ctx_t (one per thread) holds
 * the value stack, regex match data and a per-line scratch area for strings. */
#ifndef ABBEY_EXPR_H
#define ABBEY_EXPR_H

#include <apr_pools.h>
#include <stdint.h>

#include "error.h"
#include "format.h"
#include "value.h"

typedef enum expr_type_t {
    EXPR_T_ANY, /* not known until run time (FMT_AUTO fields, coalesce) */
    EXPR_T_NUM,
    EXPR_T_STR,
    EXPR_T_BOOL,
    EXPR_T_TIME
} expr_type_t;

/* Where the expression's text sits, for error messages: "file:line:col: ...".
 * line/col are 1-based positions of the text's first character. */
typedef struct expr_where_t {
    const char *file;
    int line;
    int col;
} expr_where_t;

typedef struct expr_t expr_t;
typedef struct expr_ctx_t expr_ctx_t;

/* Compile src against fmt's fields. On error returns APR_EINVAL and a message
 * "file:line:col: what was expected" (column of the offending token): syntax
 * errors, unknown fields (listing the format's fields), unknown functions,
 * wrong argument counts, type errors (arithmetic on a string field, a regex
 * that does not compile, `~` on a non-string). Memory comes from pool. */
apr_status_t expr_compile(const char *src, const fmt_t *fmt, const expr_where_t *where,
                          apr_pool_t *pool, expr_t **out, abbey_err_t *err);

expr_type_t expr_type(const expr_t *e);        /* static result type */
const char *expr_text(const expr_t *e);        /* the source text */
uint64_t expr_fields(const expr_t *e);         /* bit i: reads field i */
uint64_t expr_numeric_fields(const expr_t *e); /* bit i: reads field i as a number */

/* Per-thread evaluation context. Thread-private; created from a pool. */
expr_ctx_t *expr_ctx_create(apr_pool_t *pool);

/* Forget per-line scratch (strings made by lower(), substr(), ...). Call once
 * per line before evaluating that line's expressions. */
void expr_ctx_reset(expr_ctx_t *ctx);

/* Evaluate e over fields (as filled by fmt_parse). Writes the result to *out
 * (strings may point into the line or into ctx's scratch, valid until the next
 * expr_ctx_reset). Returns 0, or -1 when a value needed as a number is not one
 * (the caller counts the line as bad). Allocates nothing. */
int expr_eval(const expr_t *e, const val_t *fields, expr_ctx_t *ctx, val_t *out);

#endif
