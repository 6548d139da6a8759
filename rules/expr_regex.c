/* expr_regex.c - the regexes of `~`: compiled once at load time (rematch.h: byte mode, JIT,
 * patterns with nested quantifiers matched from one start position), with a positioned error
 * for a pattern PCRE2 refuses and a positioned warning for one with nested quantifiers.
 *
 * Matching itself runs in expr_eval.c under the limits of rematch.h (REMATCH_*), on the
 * evaluation context's match context. */
#include "expr_int.h"

#include <apr_strings.h>
#include <stdio.h>
#include <string.h>

int expr_regex_compile(const expr_lexer_t *lx, const expr_tok_t *t, apr_pool_t *pool,
                       expr_regex_t *out, const char **warning)
{
    int line, col;
    char msg[256];
    size_t at, len;

    *warning = NULL;
    switch (rematch_compile(t->s, t->slen, 0, pool, out, &at, &len, msg, sizeof msg)) {
    case -1:
        expr_lex_error(lx, t->pos,
                       "invalid regular expression: %s at offset %zu of the pattern, "
                       "expected a PCRE2 pattern",
                       msg, at);
        return -1;
    case 0:
        return 0;
    default:
        break;
    }
    expr_lex_linecol(lx, t->pos, &line, &col);
    *warning = apr_psprintf(
        pool,
        "%s:%d:%d: warning: regex \"%.*s\" nests quantifiers (\"%.*s\" at offset %" APR_SIZE_T_FMT
        " of the pattern): a line that almost matches can make it "
        "backtrack exponentially; such a match gives up at the regex limits and counts "
        "as false (regex_limit_hits)",
        lx->where && lx->where->file ? lx->where->file : "<expression>", line, col,
        (int)(t->slen < 200 ? t->slen : 200), t->s, (int)len, t->s + at, (apr_size_t)at);
    return 0;
}
