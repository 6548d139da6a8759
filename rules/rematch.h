/* rematch.h - PCRE2 under abbey's limits: compiling a pattern once, and matching it so that
 * no pattern and no line can stall a thread. Shared by the `~` operator of expressions
 * (expr_regex.c, expr_eval.c) and the regex line format (format_regex.c).
 *
 * Compiling: byte mode (never UTF: log text need not be valid UTF-8, so (*UTF) is refused),
 * JIT when the platform has it (else PCRE2's interpreter runs it, under the same limits), the
 * code freed with a pool. PCRE2 counts its match limit afresh at each start position of an
 * unanchored pattern, so a pattern that can spend nearly the limit at every start costs a line
 * its length times the limit. rematch_risk finds such patterns: a heuristic over the pattern
 * text (not PCRE2's parser), it looks for a group that repeats and whose body can match the
 * same text in more than one way (a backtracking repeat or an alternation), the shape that
 * makes a backtracking matcher take exponential (or high polynomial) time on a line that
 * almost matches. rematch_compile compiles such a pattern as ^(?s:.*?)(?:pattern): the same
 * matches (and the same group numbers), from one start position, so that one budget bounds the
 * whole line's work. The scan may flag a harmless pattern ((GET|POST)+, (\S+ )+): it then only
 * costs a slower, equivalent match. The limits bound backtracking, not the bytes a repeat
 * scans without backtracking: a pattern that rescans the line from every start position costs
 * up to the square of its length; anchored patterns (^...) never do.
 *
 * Matching: a rematch_ctx_t (one per thread, made once) holds the match context with the
 * REMATCH_* limits and a JIT stack; rematch_run matches one text under them and allocates
 * nothing. A compiled rematch_t is immutable and may be shared by threads. */
#ifndef ABBEY_REMATCH_H
#define ABBEY_REMATCH_H

#ifndef PCRE2_CODE_UNIT_WIDTH
#define PCRE2_CODE_UNIT_WIDTH 8
#endif
#include <apr_pools.h>
#include <pcre2.h>
#include <stddef.h>

/* Limits of one match (pcre2_set_match_limit, _depth_limit, _heap_limit and the JIT stack).
 * See BENCHMARKS.md ("Regex limits") for what a pathological line costs under them. */
#define REMATCH_LIMIT 10000
#define REMATCH_LIMIT_PER_BYTE 4 /* more for a whole-line budget, per byte of the text */
#define REMATCH_DEPTH_LIMIT 10000
#define REMATCH_HEAP_LIMIT_KIB 16384
#define REMATCH_JIT_STACK_MIN (32u << 10)
#define REMATCH_JIT_STACK_MAX (1u << 20)

/* A compiled pattern. whole_line: it is tried at one start position (anchored by PCRE2, or
 * compiled as ^(?s:.*?)(?:pattern)), so that the match limit is a budget for the whole text
 * (REMATCH_LIMIT + REMATCH_LIMIT_PER_BYTE per byte) rather than for each start position. */
typedef struct rematch_t {
    pcre2_code *code;
    int whole_line;
} rematch_t;

/* A thread's match context: the limits and the JIT stack. */
typedef struct rematch_ctx_t {
    pcre2_match_context *mc;
    pcre2_jit_stack *jit; /* NULL: PCRE2's default 32 KiB JIT stack */
} rematch_ctx_t;

/* Compile pat[0..len) into *out (freed with pool). A pattern that nests quantifiers
 * (rematch_risk) is compiled to match from one start position, unless it has a (*VERB) or
 * \G. line: the pattern is matched against whole lines (a line format), and one that PCRE2
 * anchors itself (^...) gets the whole-line budget too, so that a long line that needs much
 * backtracking to match (^(.*) (\d+)$) still matches. Returns 0; 1 when the pattern nests
 * quantifiers (the group and its quantifier at pat[*at .. *at + *rlen)); -1 when PCRE2
 * refuses it, with PCRE2's message in msg (at most cap bytes, NUL-terminated) and the byte
 * offset it is about in *at. */
int rematch_compile(const char *pat, size_t len, int line, apr_pool_t *pool, rematch_t *out,
                    size_t *at, size_t *rlen, char *msg, size_t cap);

/* 1 when pattern p[0..n) repeats a group whose body can match in more than one way ((a+)+,
 * (a*)*, (a|aa)+, (.*a){3}; not atomic groups or possessive repeats), with the group and its
 * quantifier at p[*at .. *at + *len); else 0. */
int rematch_risk(const char *p, size_t n, size_t *at, size_t *len);

/* Set up c with the REMATCH_* limits; released with pool. Out of memory: mem_oom. */
void rematch_ctx_init(rematch_ctx_t *c, apr_pool_t *pool);

/* Match re against s[0..len) into md (made for re's code, or with enough pairs for the groups
 * the caller reads) under c's limits. Returns pcre2_match's result: >= 0 a match,
 * PCRE2_ERROR_NOMATCH none, any other negative value: the match gave up (match, depth or heap
 * limit, JIT stack, or another PCRE2 error). Allocates nothing; c belongs to one thread. */
int rematch_run(rematch_ctx_t *c, const rematch_t *re, const char *s, size_t len,
                pcre2_match_data *md);

#endif
