/* rematch.c - PCRE2 under abbey's limits (see rematch.h): compiling once (byte mode, JIT), the
 * scan that spots nested quantifiers and the one-start-position form it leads to, and matching
 * under the REMATCH_* limits with a per-thread match context. */
#include "rematch.h"

#include <apr_strings.h>
#include <string.h>

#include "mem.h"

#define RISK_DEPTH 64 /* nested groups scanned; deeper patterns are not judged */

typedef struct risk_group_t {
    size_t open;   /* offset of its '(' */
    int ambiguous; /* its body holds a backtracking repeat or an alternation */
    int atomic;    /* (?>...): never backtracks into */
} risk_group_t;

/* Offset just past the escape at p[i] == '\\' (\Q...\E, \x{..}, \p{..} and the like whole). */
static size_t skip_escape(const char *p, size_t n, size_t i)
{
    const char *e;
    if (i + 1 >= n)
        return n;
    if (p[i + 1] == 'Q') {
        e = memmem(p + i + 2, n - i - 2, "\\E", 2);
        return e ? (size_t)(e - p) + 2 : n;
    }
    if (i + 2 < n && p[i + 2] == '{' && p[i + 1] && strchr("xopPNgk", p[i + 1])) {
        e = memchr(p + i + 3, '}', n - i - 3);
        return e ? (size_t)(e - p) + 1 : n;
    }
    return i + 2;
}

/* Offset just past the character class opened at p[i] == '['. */
static size_t skip_class(const char *p, size_t n, size_t i)
{
    size_t j = i + 1;
    if (j < n && p[j] == '^')
        j++;
    if (j < n && p[j] == ']')
        j++; /* a leading ']' is a literal */
    while (j < n) {
        if (p[j] == '\\') {
            j = skip_escape(p, n, j);
        } else if (p[j] == '[' && j + 1 < n && p[j + 1] == ':') {
            const char *e = memmem(p + j + 2, n - j - 2, ":]", 2);
            j = e ? (size_t)(e - p) + 2 : j + 1;
        } else if (p[j] == ']') {
            return j + 1;
        } else {
            j++;
        }
    }
    return n;
}

/* Offset of the first byte of a group's body, for the group opened at p[i] == '('. */
static size_t group_body(const char *p, size_t n, size_t i)
{
    size_t j = i + 1;
    const char *e;
    if (j >= n || p[j] != '?')
        return j;
    j++;
    if (j < n && p[j] && strchr(":>=!|", p[j]))
        return j + 1;
    if (j + 1 < n && p[j] == '<' && (p[j + 1] == '=' || p[j + 1] == '!'))
        return j + 2;
    if (j < n && (p[j] == '<' || p[j] == 'P' || p[j] == '\'')) { /* named group */
        e = memchr(p + j + 1, p[j] == '\'' ? '\'' : '>', n - j - 1);
        return e ? (size_t)(e - p) + 1 : n;
    }
    while (j < n && p[j] != ':' && p[j] != ')' && p[j] != '(')
        j++; /* option letters, (?i:, (?1), (?R) */
    return j < n && p[j] == ':' ? j + 1 : j;
}

/* Reads a quantifier at p[i]: its length (0: none). *rep is 1 when it may repeat
 * the atom more than once and gives back by backtracking (not possessive). */
static size_t quantifier(const char *p, size_t n, size_t i, int *rep)
{
    size_t j = i;
    *rep = 0;
    if (i >= n)
        return 0;
    if (p[i] == '*' || p[i] == '+' || p[i] == '?') {
        *rep = p[i] != '?';
        j = i + 1;
    } else if (p[i] == '{') {
        unsigned long lo = 0, hi = 0;
        int digits = 0, comma = 0, hidigits = 0;
        for (j = i + 1; j < n && p[j] >= '0' && p[j] <= '9'; j++, digits++)
            lo = lo < 100000 ? lo * 10 + (unsigned long)(p[j] - '0') : lo;
        if (j < n && p[j] == ',')
            for (comma = 1, j++; j < n && p[j] >= '0' && p[j] <= '9'; j++, hidigits++)
                hi = hi < 100000 ? hi * 10 + (unsigned long)(p[j] - '0') : hi;
        if (!digits || j >= n || p[j] != '}')
            return 0; /* a literal '{' */
        j++;
        *rep = comma ? (!hidigits || hi >= 2) : lo >= 2;
    } else {
        return 0;
    }
    if (j < n && p[j] == '+') {
        *rep = 0; /* possessive: no backtracking into it */
        j++;
    } else if (j < n && p[j] == '?') {
        j++; /* lazy: backtracks all the same */
    }
    return j - i;
}

int rematch_risk(const char *p, size_t n, size_t *at, size_t *len)
{
    risk_group_t st[RISK_DEPTH], closed = {0, 0, 0};
    int d = 0, rep, is_group;
    size_t i = 0, q;

    memset(&st[0], 0, sizeof st[0]);
    while (i < n) {
        is_group = 0;
        switch (p[i]) {
        case '\\':
            i = skip_escape(p, n, i);
            break;
        case '[':
            i = skip_class(p, n, i);
            break;
        case '(':
            if (i + 1 < n &&
                (p[i + 1] == '*' || (p[i + 1] == '?' && i + 2 < n && p[i + 2] == '#'))) {
                const char *e = memchr(p + i, ')', n - i); /* (*VERB) or (?#comment) */
                i = e ? (size_t)(e - p) + 1 : n;
                continue;
            }
            if (d + 1 >= RISK_DEPTH)
                return 0;
            d++;
            st[d].open = i;
            st[d].ambiguous = 0;
            st[d].atomic = i + 2 < n && p[i + 1] == '?' && p[i + 2] == '>';
            i = group_body(p, n, i);
            continue;
        case ')':
            if (d == 0)
                return 0; /* unbalanced: PCRE2 refused it already */
            closed = st[d--];
            is_group = 1;
            i++;
            break;
        case '|':
            st[d].ambiguous = 1;
            i++;
            continue;
        default:
            i++;
        }
        q = quantifier(p, n, i, &rep);
        if (is_group && rep && closed.ambiguous && !closed.atomic) {
            *at = closed.open;
            *len = i + q - closed.open;
            return 1;
        }
        if (rep || (is_group && closed.ambiguous && !closed.atomic))
            st[d].ambiguous = 1;
        i += q;
    }
    return 0;
}

static apr_status_t code_cleanup(void *code)
{
    pcre2_code_free(code);
    return APR_SUCCESS;
}

/* pat[0..len) compiled (JIT when available) and freed with pool, or NULL with *errcode and
 * *erroff set. */
static pcre2_code *compile(const char *pat, size_t len, int *errcode, PCRE2_SIZE *erroff,
                           apr_pool_t *pool)
{
    pcre2_code *code = pcre2_compile((PCRE2_SPTR)pat, len, PCRE2_NEVER_UTF, errcode, erroff, NULL);
    if (code) {
        apr_pool_cleanup_register(pool, code, code_cleanup, apr_pool_cleanup_null);
        pcre2_jit_compile(code, PCRE2_JIT_COMPLETE); /* without JIT the interpreter runs it */
    }
    return code;
}

/* The pattern as ^(?s:.*?)(?:pattern): it matches where the pattern matches at some start, but
 * from one start position, so the match limit counts the work of every start together; the
 * wrapping groups do not capture, so group numbers and names stay. Not for a pattern with a
 * (*VERB) (a leading one must open the pattern; (*SKIP), (*PRUNE) and the like would act on
 * the one start), nor \G, which would then mean the start of the line. NULL when not. */
static pcre2_code *whole_line(const char *pat, size_t len, apr_pool_t *pool)
{
    static const char pre[] = "^(?s:.*?)(?:", post[] = ")";
    int errcode;
    PCRE2_SIZE erroff;
    size_t n = sizeof pre - 1 + len + sizeof post - 1;
    char *w;
    if (memmem(pat, len, "(*", 2) || memmem(pat, len, "\\G", 2))
        return NULL;
    w = apr_palloc(pool, n);
    memcpy(w, pre, sizeof pre - 1);
    memcpy(w + sizeof pre - 1, pat, len);
    memcpy(w + n - (sizeof post - 1), post, sizeof post - 1);
    return compile(w, n, &errcode, &erroff, pool);
}

int rematch_compile(const char *pat, size_t len, int line, apr_pool_t *pool, rematch_t *out,
                    size_t *at, size_t *rlen, char *msg, size_t cap)
{
    int errcode, risky;
    uint32_t opts = 0;
    PCRE2_SIZE erroff;
    pcre2_code *w;

    out->whole_line = 0;
    if (!(out->code = compile(pat, len, &errcode, &erroff, pool))) {
        pcre2_get_error_message(errcode, (PCRE2_UCHAR *)msg, cap);
        *at = (size_t)erroff;
        return -1;
    }
    risky = rematch_risk(pat, len, at, rlen);
    pcre2_pattern_info(out->code, PCRE2_INFO_ALLOPTIONS, &opts);
    if (line && (opts & PCRE2_ANCHORED)) /* PCRE2 tries one start position already */
        out->whole_line = 1;
    else if (risky && (w = whole_line(pat, len, pool)) != NULL) {
        apr_pool_cleanup_run(pool, out->code, code_cleanup);
        out->code = w;
        out->whole_line = 1;
    }
    return risky;
}

static apr_status_t ctx_cleanup(void *data)
{
    rematch_ctx_t *c = data;
    pcre2_match_context_free(c->mc);
    pcre2_jit_stack_free(c->jit);
    return APR_SUCCESS;
}

void rematch_ctx_init(rematch_ctx_t *c, apr_pool_t *pool)
{
    if (!(c->mc = pcre2_match_context_create(NULL)))
        mem_oom("PCRE2 match context", 0);
    pcre2_set_match_limit(c->mc, REMATCH_LIMIT);
    pcre2_set_depth_limit(c->mc, REMATCH_DEPTH_LIMIT);
    pcre2_set_heap_limit(c->mc, REMATCH_HEAP_LIMIT_KIB);
    /* NULL without JIT support or memory: PCRE2 then uses its default stack */
    c->jit = pcre2_jit_stack_create(REMATCH_JIT_STACK_MIN, REMATCH_JIT_STACK_MAX, NULL);
    if (c->jit)
        pcre2_jit_stack_assign(c->mc, NULL, c->jit);
    apr_pool_cleanup_register(pool, c, ctx_cleanup, apr_pool_cleanup_null);
}

int rematch_run(rematch_ctx_t *c, const rematch_t *re, const char *s, size_t len,
                pcre2_match_data *md)
{
    uint32_t limit = REMATCH_LIMIT;
    if (re->whole_line)
        limit += (uint32_t)(len < UINT32_MAX / 8 ? len * REMATCH_LIMIT_PER_BYTE : UINT32_MAX / 2);
    pcre2_set_match_limit(c->mc, limit);
    return pcre2_match(re->code, (PCRE2_SPTR)s, len, 0, 0, md, c->mc);
}
