/* expr_lex.c - the expression tokenizer, and "file:line:col:" error messages.
 *
 * Produces one token at a time for expr_parse.c: identifiers and keywords,
 * field names with member-path parts (request.method, tags[0], `@timestamp`),
 * integers (int64; overflow is an error), decimals, durations (10s, 1m, 1h, 1d,
 * 2000ms: whole seconds), quoted strings with backslash escapes, operators.
 * Columns count bytes from where->col; a newline in the text starts a new line. */
#include "expr_int.h"

#include <apr_strings.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void expr_lex_init(expr_lexer_t *lx, const char *src, size_t len, const expr_where_t *where,
                   apr_pool_t *pool, abbey_err_t *err)
{
    lx->src = src;
    lx->len = len;
    lx->pos = 0;
    lx->where = where;
    lx->pool = pool;
    lx->err = err;
}

void expr_lex_linecol(const expr_lexer_t *lx, size_t pos, int *line, int *col)
{
    *line = 1;
    *col = 1;
    if (lx->where) {
        *line = lx->where->line > 0 ? lx->where->line : 1;
        *col = lx->where->col > 0 ? lx->where->col : 1;
    }
    for (size_t i = 0; i < pos && i < lx->len; i++) {
        if (lx->src[i] == '\n') {
            ++*line;
            *col = 1;
        } else {
            ++*col;
        }
    }
}

void expr_lex_error(const expr_lexer_t *lx, size_t pos, const char *fmt, ...)
{
    char msg[ABBEY_ERR_MAX];
    const char *file = lx->where && lx->where->file ? lx->where->file : "<expression>";
    int line, col;
    va_list ap;

    expr_lex_linecol(lx, pos, &line, &col);
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    abbey_err_set(lx->err, "%s:%d:%d: %s", file, line, col, msg);
}

static int is_ident_start(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static int is_ident_char(int c)
{
    return is_ident_start(c) || (c >= '0' && c <= '9');
}

static int is_digit(int c)
{
    return c >= '0' && c <= '9';
}

const char *expr_tok_describe(const expr_lexer_t *lx, const expr_tok_t *t, char *tmp, size_t n)
{
    int len;
    if (t->kind == TK_EOF)
        return "end of expression";
    len = t->len > 40 ? 40 : (int)t->len;
    snprintf(tmp, n, "'%.*s%s'", len, lx->src + t->pos, t->len > 40 ? "..." : "");
    return tmp;
}

static const struct {
    const char *word;
    expr_tok_kind_t kind;
} keywords[] = {
    {"and", TK_AND},   {"or", TK_OR},       {"not", TK_NOT},   {"in", TK_IN},
    {"true", TK_TRUE}, {"false", TK_FALSE}, {"null", TK_NULL},
};

/* The end of the backquoted name at p (src[p] == '`'; a doubled backquote
 * inside is one backquote), or 0 when it is not closed. */
static size_t quoted_end(const expr_lexer_t *lx, size_t p)
{
    for (p++; p < lx->len; p++)
        if (lx->src[p] == '`') {
            if (p + 1 < lx->len && lx->src[p + 1] == '`')
                p++;
            else
                return p + 1;
        }
    return 0;
}

/* The end of the member-path parts that follow p with no space: ".name",
 * ".`any text`" and "[digits]", any number of them (p itself when none).
 * Returns 0 with err set when a backquoted part is not closed. */
static size_t path_parts(expr_lexer_t *lx, size_t p)
{
    const char *s = lx->src;
    for (;;) {
        size_t q = p + 1;
        if (q < lx->len && s[p] == '.' && is_ident_start((unsigned char)s[q])) {
            while (q < lx->len && is_ident_char((unsigned char)s[q]))
                q++;
        } else if (q < lx->len && s[p] == '.' && s[q] == '`') {
            if (!(q = quoted_end(lx, q))) {
                expr_lex_error(lx, p + 1, "unterminated name, expected a closing `");
                return 0;
            }
        } else if (q < lx->len && s[p] == '[' && is_digit((unsigned char)s[q])) {
            while (q < lx->len && is_digit((unsigned char)s[q]))
                q++;
            if (q == lx->len || s[q] != ']')
                return p;
            q++;
        } else {
            return p;
        }
        p = q;
    }
}

/* A field or keyword: an identifier, or a backquoted name (never a keyword),
 * then, unless it is a keyword, the member-path parts glued to it
 * (request.method, tags[0], `@timestamp`). The token's text is the whole
 * name as written. */
static int lex_ident(expr_lexer_t *lx, expr_tok_t *t)
{
    size_t p = lx->pos;
    int keyword = 0;
    if (lx->src[p] == '`') {
        if (!(p = quoted_end(lx, p))) {
            expr_lex_error(lx, lx->pos, "unterminated name, expected a closing `");
            return -1;
        }
    } else {
        while (p < lx->len && is_ident_char((unsigned char)lx->src[p]))
            p++;
    }
    t->kind = TK_IDENT;
    t->s = lx->src + lx->pos;
    for (size_t k = 0; lx->src[lx->pos] != '`' && k < sizeof keywords / sizeof keywords[0]; k++)
        if (strlen(keywords[k].word) == p - lx->pos &&
            !memcmp(keywords[k].word, t->s, p - lx->pos)) {
            t->kind = keywords[k].kind;
            keyword = 1;
        }
    if (!keyword && !(p = path_parts(lx, p)))
        return -1;
    t->len = p - lx->pos;
    t->slen = t->len;
    lx->pos = p;
    return 0;
}

/* A duration: digits [start, dend) then a unit [dend, end). */
static int lex_duration(expr_lexer_t *lx, expr_tok_t *t, size_t end, size_t dend)
{
    int64_t ms;
    const char *s = lx->src + lx->pos;
    if (dend - lx->pos > 9) {
        expr_lex_error(lx, lx->pos, "duration '%.*s' out of range", (int)(end - lx->pos), s);
        return -1;
    }
    if (value_parse_duration(s, end - lx->pos, &ms) < 0) {
        expr_lex_error(lx, lx->pos,
                       "malformed number '%.*s', expected a number or a duration such as "
                       "10s, 1m, 1h, 1d",
                       (int)(end - lx->pos), s);
        return -1;
    }
    if (ms % 1000 != 0) {
        expr_lex_error(lx, lx->pos, "duration '%.*s' is not a whole number of seconds",
                       (int)(end - lx->pos), s);
        return -1;
    }
    t->kind = TK_DURATION;
    t->i = ms / 1000;
    return 0;
}

static int lex_number(expr_lexer_t *lx, expr_tok_t *t)
{
    const char *s = lx->src;
    size_t p = lx->pos, end;
    int is_float = 0;

    while (p < lx->len && is_digit((unsigned char)s[p]))
        p++;
    if (p + 1 < lx->len && s[p] == '.' && is_digit((unsigned char)s[p + 1])) {
        is_float = 1;
        for (p++; p < lx->len && is_digit((unsigned char)s[p]);)
            p++;
    }
    if (p < lx->len && (s[p] == 'e' || s[p] == 'E')) {
        size_t q = p + 1;
        if (q < lx->len && (s[q] == '+' || s[q] == '-'))
            q++;
        if (q < lx->len && is_digit((unsigned char)s[q])) {
            is_float = 1;
            for (p = q; p < lx->len && is_digit((unsigned char)s[p]);)
                p++;
        }
    }
    end = p;
    while (end < lx->len && is_ident_char((unsigned char)s[end]))
        end++;
    t->len = end - lx->pos;
    if (end != p) {
        if (is_float) {
            expr_lex_error(lx, lx->pos,
                           "malformed number '%.*s', expected a number or a duration such as "
                           "10s, 1m, 1h, 1d (whole numbers only)",
                           (int)t->len, s + lx->pos);
            return -1;
        }
        if (lex_duration(lx, t, end, p) < 0)
            return -1;
    } else if (is_float) {
        char *copy = apr_pstrmemdup(lx->pool, s + lx->pos, t->len);
        t->kind = TK_FLOAT;
        t->f = strtod(copy, NULL);
        if (!isfinite(t->f)) {
            expr_lex_error(lx, lx->pos, "number '%s' out of range", copy);
            return -1;
        }
    } else {
        uint64_t acc = 0;
        for (size_t q = lx->pos; q < p; q++) {
            unsigned d = (unsigned)(s[q] - '0');
            if (acc > ((uint64_t)INT64_MAX - d) / 10) {
                expr_lex_error(lx, lx->pos, "integer '%.*s' out of range, expected at most %lld",
                               (int)t->len, s + lx->pos, (long long)INT64_MAX);
                return -1;
            }
            acc = acc * 10 + d;
        }
        t->kind = TK_INT;
        t->i = (int64_t)acc;
    }
    lx->pos = end;
    return 0;
}

static int lex_string(expr_lexer_t *lx, expr_tok_t *t)
{
    const char *s = lx->src;
    char quote = s[lx->pos];
    char *out;
    size_t n = 0, p = lx->pos + 1;

    while (p < lx->len && s[p] != quote) /* find the end first: allocate what is needed */
        p += s[p] == '\\' ? 2 : 1;
    out = apr_palloc(lx->pool, (p < lx->len ? p : lx->len) - lx->pos + 1);
    p = lx->pos + 1;

    for (;;) {
        if (p >= lx->len || (s[p] == '\\' && p + 1 >= lx->len)) {
            expr_lex_error(lx, lx->pos, "unterminated string, expected a closing %c", quote);
            return -1;
        }
        if (s[p] == quote)
            break;
        if (s[p] != '\\') {
            out[n++] = s[p++];
            continue;
        }
        switch (s[p + 1]) {
        case '\\':
            out[n++] = '\\';
            break;
        case '"':
            out[n++] = '"';
            break;
        case '\'':
            out[n++] = '\'';
            break;
        case 'n':
            out[n++] = '\n';
            break;
        case 't':
            out[n++] = '\t';
            break;
        default: /* kept as written, so regexes like "\.png$" read naturally */
            out[n++] = '\\';
            out[n++] = s[p + 1];
        }
        p += 2;
    }
    out[n] = '\0';
    t->kind = TK_STRING;
    t->s = out;
    t->slen = n;
    t->len = p + 1 - lx->pos;
    lx->pos = p + 1;
    return 0;
}

/* Operators of one or two characters. Returns 0 when c starts none. */
static int lex_operator(expr_lexer_t *lx, expr_tok_t *t)
{
    const char *s = lx->src + lx->pos;
    char c = s[0], c2 = lx->pos + 1 < lx->len ? s[1] : '\0';
    t->len = 1;
    switch (c) {
    case '=':
        t->kind = TK_EQ;
        t->len = c2 == '=' ? 2 : 1;
        break;
    case '<':
        t->kind = c2 == '=' ? TK_LE : TK_LT;
        t->len = c2 == '=' ? 2 : 1;
        break;
    case '>':
        t->kind = c2 == '=' ? TK_GE : TK_GT;
        t->len = c2 == '=' ? 2 : 1;
        break;
    case '!':
        if (c2 != '=' && c2 != '~')
            return 0;
        t->kind = c2 == '=' ? TK_NE : TK_NMATCH;
        t->len = 2;
        break;
    case '~':
        t->kind = TK_MATCH;
        break;
    case '+':
        t->kind = TK_PLUS;
        break;
    case '-':
        t->kind = TK_MINUS;
        break;
    case '*':
        t->kind = TK_STAR;
        break;
    case '/':
        t->kind = TK_SLASH;
        break;
    case '%':
        t->kind = TK_PERCENT;
        break;
    case '(':
        t->kind = TK_LPAREN;
        break;
    case ')':
        t->kind = TK_RPAREN;
        break;
    case '[':
        t->kind = TK_LBRACK;
        break;
    case ']':
        t->kind = TK_RBRACK;
        break;
    case ',':
        t->kind = TK_COMMA;
        break;
    default:
        return 0;
    }
    lx->pos += t->len;
    return 1;
}

int expr_lex_next(expr_lexer_t *lx, expr_tok_t *t)
{
    unsigned char c;
    while (lx->pos < lx->len && strchr(" \t\r\n", lx->src[lx->pos]) && lx->src[lx->pos])
        lx->pos++;
    memset(t, 0, sizeof *t);
    t->pos = lx->pos;
    if (lx->pos >= lx->len) {
        t->kind = TK_EOF;
        return 0;
    }
    c = (unsigned char)lx->src[lx->pos];
    if (is_ident_start(c) || c == '`')
        return lex_ident(lx, t);
    if (is_digit(c))
        return lex_number(lx, t);
    if (c == '"' || c == '\'')
        return lex_string(lx, t);
    if (lex_operator(lx, t))
        return 0;
    if (c == '!')
        expr_lex_error(lx, lx->pos,
                       "unexpected '!', expected '!=' or '!~' (use 'not' for negation)");
    else if (c >= 0x20 && c < 0x7f)
        expr_lex_error(lx, lx->pos, "unexpected character '%c'", c);
    else
        expr_lex_error(lx, lx->pos, "unexpected byte 0x%02x", c);
    return -1;
}
