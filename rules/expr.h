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
 * Matching is on bytes: log text need not be UTF-8, and (*UTF) is refused.
 * Numbers: int64 arithmetic when both sides are integers, else double; `/` is
 * always double; division by zero gives NULL. Comparisons with NULL are false.
 *
 * Tokens: identifiers [A-Za-z_][A-Za-z0-9_]*; keywords (and or not in true
 * false null) are lower case. Strings in "..." or '...' with escapes \\ \" \'
 * \n \t; any other backslash pair is kept as written, so "\.png$" reaches PCRE2
 * as \.png$. Integers are int64 (a larger literal is an error); decimals may
 * have an exponent. A duration is a whole number with s, m, h, d or ms, worth
 * its whole number of seconds (500ms is an error, 2000ms is 2).
 *
 * Types: fields take theirs from the format (str: text; int, float: number;
 * time: time; untyped split fields: unknown until run time). Text is never
 * mixed with numbers: arithmetic or ordering on text, text compared with a
 * number, `~` on a number, lower()/upper()/len()/substr() on a number are
 * compile errors. An untyped field compares as text against text and as a
 * number against a number; used as a number (arithmetic, numeric comparison,
 * numeric in-list, time_bucket/int/float/substr arguments) it is listed in
 * expr_numeric_fields, and text that is not a number there makes expr_eval
 * return -1.
 *
 * Semantics:
 * - NULL: every comparison involving NULL is false (=, !=, <, in, not in, ~, !~
 *   alike), and comparing with the literal null is a compile error; `not x` is
 *   !truthy(x) (value_truthy), so `not NULL` is true; NULL in arithmetic or as a
 *   function argument gives NULL (coalesce excepted).
 * - and / or short-circuit and give true/false.
 * - Integers overflowing int64 continue as double; x % y takes the sign of x;
 *   x / 0 and x % 0 are NULL. Equality and order of numbers are numeric and
 *   exact between int and float (2^53 + 1 > 2^53.0); text compares bytewise;
 *   a time compares as its epoch seconds; time + n and time - n are times,
 *   time - time is a number.
 * - `in [...]`: literals only, all text or all numbers (binary search).
 * - time_bucket(t, d): t a time or number, d a positive duration literal (or
 *   seconds); t floored to a multiple of d (floor for negatives too): a time.
 * - lower/upper: ASCII case mapping. len: bytes. substr(s, start[, length]):
 *   bytes from start (0-based; negative counts from the end), at most length.
 * - int(x): truncated toward zero; float(x); text is parsed, and text that is
 *   not a number gives NULL. str(x): numbers read from a line keep the text
 *   they were written with; times render as 2015-05-17T10:05:03Z.
 * - Strings made by functions live in a 64 KiB per-context scratch area; when
 *   it is full the function gives NULL.
 * - A regex match runs under limits (REMATCH_* in rematch.h; JIT when
 *   available, with the same match limit and a JIT stack of at most
 *   REMATCH_JIT_STACK_MAX bytes). A match that gives up (match, depth or heap
 *   limit, JIT stack, or any other PCRE2 error) makes both `~` and `!~`
 *   false, like a comparison with NULL, and sets the context's limit flag
 *   (expr_ctx_limit_hit); the line is not bad.
 * Limits (compile errors): 64 value slots of stack, 200 levels of parentheses,
 * 512 levels of syntax tree. A regex that repeats a group that can itself
 * match in more than one way ((a+)+, (a|aa)+, (.*a){3}) compiles with a
 * warning (expr_warning).
 *
 * Compiled once at load time (fields resolved against the job's format, types
 * checked); evaluation allocates nothing: an expr_ctx_t (one per thread) holds
 * the value stack, regex match data and a per-line scratch area for strings.
 * A compiled expr_t is immutable and may be shared by threads. */
#ifndef ABBEY_EXPR_H
#define ABBEY_EXPR_H

#include <apr_pools.h>
#include <stdint.h>

#include "error.h"
#include "format.h"
#include "value.h"

typedef enum expr_type_t {
    EXPR_T_ANY, /* not known until run time (FORMAT_AUTO fields, coalesce) */
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
apr_status_t expr_compile(const char *src, format_t *fmt, const expr_where_t *where,
                          apr_pool_t *pool, expr_t **out, abbey_err_t *err);

expr_type_t expr_type(const expr_t *e);        /* static result type */
const char *expr_text(const expr_t *e);        /* the source text */
uint64_t expr_fields(const expr_t *e);         /* bit i: reads field i */
uint64_t expr_numeric_fields(const expr_t *e); /* bit i: reads field i as a number */
int expr_field_ref(const expr_t *e);           /* field index when e is a bare field, else -1 */

/* Warnings found compiling e: expr_nwarnings of them, each "file:line:col:
 * warning: regex ..." (a nested quantifier; see above). Valid as long as e's
 * pool; i out of range gives NULL. */
int expr_nwarnings(const expr_t *e);
const char *expr_warning(const expr_t *e, int i);

/* Per-thread evaluation context. Thread-private; created from a pool. Out of
 * memory here aborts (it is made once per engine, never per line). */
expr_ctx_t *expr_ctx_create(apr_pool_t *pool);

/* Forget per-line scratch (strings made by lower(), substr(), ...) and the
 * limit flag. Call once per line before evaluating that line's expressions. */
void expr_ctx_reset(expr_ctx_t *ctx);

/* 1 when a regex match gave up at a limit since the last expr_ctx_reset (the
 * match counted as false), else 0. */
int expr_ctx_limit_hit(const expr_ctx_t *ctx);

/* Evaluate e over fields (as filled by format_parse). Writes the result to *out
 * (strings may point into the line or into ctx's scratch, valid until the next
 * expr_ctx_reset). Returns 0, or -1 when a value needed as a number is not one
 * (the caller counts the line as bad). Allocates nothing. */
int expr_eval(const expr_t *e, const value_t *fields, expr_ctx_t *ctx, value_t *out);

#endif
