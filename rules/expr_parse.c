/* expr_parse.c - compiling an expression: recursive-descent parser, type
 * checks, and emission of the flat postfix program that expr_eval.c runs.
 *
 * The parser builds a small syntax tree in the pool, checking types bottom-up
 * as each node is made (so errors point at the offending token), then walks
 * the tree once to emit ops, sizing the value stack the program needs. Fields
 * are resolved against the format; regexes are compiled (and JIT-compiled)
 * once, by expr_regex.c; in-lists are sorted here for binary search at run
 * time. */
#include "expr_int.h"

#include <apr_strings.h>
#include <apr_tables.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum node_kind_t {
    N_CONST,
    N_FIELD,
    N_NEG,
    N_ARITH,
    N_CMP,
    N_AND,
    N_OR,
    N_NOT,
    N_IN,
    N_MATCH,
    N_CALL
} node_kind_t;

typedef struct node_t {
    node_kind_t kind;
    int op;  /* operator token; function id for N_CALL; opcode for N_CMP */
    int sub; /* comparison token for N_CMP; negation for N_IN / N_MATCH */
    expr_type_t type;
    size_t pos, end; /* source bytes [pos, end) */
    int height;
    int nkids;
    struct node_t *kid[3];
    value_t val; /* N_CONST */
    int index;   /* field, list or regex index */
} node_t;

typedef struct parser_t {
    expr_lexer_t lx;
    expr_tok_t cur, next;
    int have_next;
    format_t *fmt;
    apr_pool_t *pool;
    int nest;
    uint64_t fields, numeric;
    apr_array_header_t *consts, *lists, *regexes, *ops, *warnings;
    int depth, max_depth;
} parser_t;

static const struct {
    const char *name;
    int min, max;
} funcs[FN__COUNT] = {
    [FN_TIME_BUCKET] = {"time_bucket", 2, 2},
    [FN_LOWER] = {"lower", 1, 1},
    [FN_UPPER] = {"upper", 1, 1},
    [FN_LEN] = {"len", 1, 1},
    [FN_SUBSTR] = {"substr", 2, 3},
    [FN_INT] = {"int", 1, 1},
    [FN_FLOAT] = {"float", 1, 1},
    [FN_STR] = {"str", 1, 1},
    [FN_COALESCE] = {"coalesce", 2, 2},
};

static const char *const aggregates[] = {
    "count", "sum", "min", "max", "avg", "distinct", "distinct_exact", "percentile"};

#define FUNC_LIST "time_bucket, lower, upper, len, substr, int, float, str, coalesce"

/* ---- tokens ---- */

static int advance(parser_t *p)
{
    if (p->have_next) {
        p->cur = p->next;
        p->have_next = 0;
        return 0;
    }
    return expr_lex_next(&p->lx, &p->cur);
}

static const expr_tok_t *peek(parser_t *p)
{
    if (!p->have_next) {
        size_t save = p->lx.pos;
        if (expr_lex_next(&p->lx, &p->next) < 0) {
            /* report the bad token when it becomes current */
            p->lx.pos = save;
            p->next.kind = TK_EOF;
            return &p->next;
        }
        p->have_next = 1;
    }
    return &p->next;
}

static void *unexpected(parser_t *p, const char *expected)
{
    char tmp[64];
    expr_lex_error(&p->lx, p->cur.pos, "unexpected %s, expected %s",
                   expr_tok_describe(&p->lx, &p->cur, tmp, sizeof tmp), expected);
    return NULL;
}

/* ---- nodes ---- */

static const char *type_name(expr_type_t t)
{
    switch (t) {
    case EXPR_T_NUM:
        return "a number";
    case EXPR_T_STR:
        return "text";
    case EXPR_T_BOOL:
        return "true/false";
    case EXPR_T_TIME:
        return "a time";
    default:
        return "a value";
    }
}

/* The node's source text, shortened and quoted, for messages. String literals
 * show with their own quotes. */
static const char *snippet(parser_t *p, const node_t *n)
{
    size_t len = n->end - n->pos;
    const char *q = n->kind == N_CONST && n->val.kind == VALUE_STR ? "" : "'";
    if (len > 40)
        return apr_psprintf(p->pool, "%s%.37s...%s", q, p->lx.src + n->pos, q);
    return apr_psprintf(p->pool, "%s%.*s%s", q, (int)len, p->lx.src + n->pos, q);
}

/* Height and extent of n from its kids; NULL (error set) when too deep. */
static node_t *finish(parser_t *p, node_t *n)
{
    n->height = 1;
    for (int i = 0; i < n->nkids; i++) {
        if (n->kid[i]->height >= n->height)
            n->height = n->kid[i]->height + 1;
        if (n->kid[i]->end > n->end)
            n->end = n->kid[i]->end;
    }
    if (n->height > EXPR_HEIGHT_MAX) {
        expr_lex_error(&p->lx, n->pos,
                       "expression nested more than %d levels deep, expected a "
                       "simpler expression (use 'in [...]' for long alternatives)",
                       EXPR_HEIGHT_MAX);
        return NULL;
    }
    return n;
}

static node_t *mk(parser_t *p, node_kind_t kind, expr_type_t type, size_t pos, int nkids, node_t *a,
                  node_t *b)
{
    node_t *n = apr_pcalloc(p->pool, sizeof *n);
    n->kind = kind;
    n->type = type;
    n->pos = pos;
    n->end = pos;
    n->nkids = nkids;
    n->kid[0] = a;
    n->kid[1] = b;
    return finish(p, n);
}

static int nest_in(parser_t *p)
{
    if (++p->nest > EXPR_PARSE_NEST_MAX) {
        expr_lex_error(&p->lx, p->cur.pos, "expression nested more than %d levels deep",
                       EXPR_PARSE_NEST_MAX);
        return -1;
    }
    return 0;
}

/* Note fields whose values flow into n as used as numbers. */
static void mark_numeric(parser_t *p, const node_t *n)
{
    if (n->kind == N_FIELD)
        p->numeric |= (uint64_t)1 << n->index;
    else if (n->kind == N_CALL && n->op == FN_COALESCE)
        for (int i = 0; i < n->nkids; i++)
            mark_numeric(p, n->kid[i]);
}

static int is_null_lit(const node_t *n)
{
    return n->kind == N_CONST && n->val.kind == VALUE_NULL;
}

/* An operand that must be a number (arithmetic, numeric arguments). */
static int need_number(parser_t *p, const node_t *n, const char *what)
{
    if (n->type == EXPR_T_STR || n->type == EXPR_T_BOOL) {
        expr_lex_error(&p->lx, n->pos, "%s is %s, expected a number for %s", snippet(p, n),
                       type_name(n->type), what);
        return -1;
    }
    mark_numeric(p, n);
    return 0;
}

/* An operand that must be text (regex, lower(), ...). */
static int need_text(parser_t *p, const node_t *n, const char *what)
{
    if (n->type != EXPR_T_STR && n->type != EXPR_T_ANY) {
        expr_lex_error(&p->lx, n->pos, "%s needs text, %s is %s", what, snippet(p, n),
                       type_name(n->type));
        return -1;
    }
    return 0;
}

/* ---- grammar ---- */

static node_t *parse_or(parser_t *p);

static node_t *parse_field(parser_t *p)
{
    const expr_tok_t *t = &p->cur;
    int i = p->fmt ? format_field_index(p->fmt, t->s, t->slen) : -1;
    node_t *n;
    if (i < 0 && p->fmt && format_is_open(p->fmt)) {
        expr_lex_error(&p->lx, t->pos,
                       "field '%.*s': a %s format cannot hold it (a name it cannot have, or more "
                       "than %d fields)",
                       (int)t->slen, t->s, format_name(p->fmt), FORMAT_MAX_FIELDS);
        return NULL;
    }
    if (i < 0) {
        const char *list = "";
        int nf = p->fmt ? format_nfields(p->fmt) : 0;
        for (int k = 0; k < nf; k++)
            list = apr_pstrcat(p->pool, list, k ? ", " : "", format_field_name(p->fmt, k), NULL);
        expr_lex_error(&p->lx, t->pos, "unknown field '%.*s', expected one of: %s", (int)t->slen,
                       t->s, nf ? list : "(the format has no fields)");
        return NULL;
    }
    n = mk(p, N_FIELD, EXPR_T_ANY, t->pos, 0, NULL, NULL);
    n->end = t->pos + t->len;
    n->index = i;
    switch (format_field_type(p->fmt, i)) {
    case FORMAT_STR:
        n->type = EXPR_T_STR;
        break;
    case FORMAT_INT:
    case FORMAT_FLOAT:
        n->type = EXPR_T_NUM;
        break;
    case FORMAT_TIME:
        n->type = EXPR_T_TIME;
        break;
    default:
        n->type = EXPR_T_ANY;
        break;
    }
    p->fields |= (uint64_t)1 << i;
    return advance(p) < 0 ? NULL : n;
}

static int find_func(parser_t *p, const expr_tok_t *t)
{
    for (int f = 0; f < FN__COUNT; f++)
        if (strlen(funcs[f].name) == t->slen && !memcmp(funcs[f].name, t->s, t->slen))
            return f;
    for (size_t a = 0; a < sizeof aggregates / sizeof aggregates[0]; a++)
        if (strlen(aggregates[a]) == t->slen && !memcmp(aggregates[a], t->s, t->slen)) {
            expr_lex_error(&p->lx, t->pos,
                           "'%.*s' is an aggregate, not a function here "
                           "(aggregates go in an entry's values), expected one of: " FUNC_LIST,
                           (int)t->slen, t->s);
            return -1;
        }
    expr_lex_error(&p->lx, t->pos, "unknown function '%.*s', expected one of: " FUNC_LIST,
                   (int)t->slen, t->s);
    return -1;
}

/* Argument and result types of a call with its arguments parsed. */
static int check_call(parser_t *p, node_t *n)
{
    const char *name = apr_psprintf(p->pool, "%s()", funcs[n->op].name);
    node_t **k = n->kid;
    switch (n->op) {
    case FN_TIME_BUCKET:
        n->type = EXPR_T_TIME;
        if (k[0]->type == EXPR_T_STR || k[0]->type == EXPR_T_BOOL) {
            expr_lex_error(&p->lx, k[0]->pos, "time_bucket() needs a time or a number, %s is %s",
                           snippet(p, k[0]), type_name(k[0]->type));
            return -1;
        }
        mark_numeric(p, k[0]);
        if (k[1]->kind != N_CONST || k[1]->val.kind != VALUE_INT || k[1]->val.i <= 0) {
            expr_lex_error(&p->lx, k[1]->pos,
                           "%s is not a duration, expected a positive "
                           "duration literal such as 10s, 1m, 1h, 1d or 60",
                           snippet(p, k[1]));
            return -1;
        }
        return 0;
    case FN_LOWER:
    case FN_UPPER:
        n->type = EXPR_T_STR;
        return need_text(p, k[0], name);
    case FN_LEN:
        n->type = EXPR_T_NUM;
        return need_text(p, k[0], name);
    case FN_SUBSTR:
        n->type = EXPR_T_STR;
        if (need_text(p, k[0], name) < 0)
            return -1;
        for (int i = 1; i < n->nkids; i++)
            if (need_number(p, k[i], name) < 0)
                return -1;
        return 0;
    case FN_INT:
    case FN_FLOAT:
        n->type = EXPR_T_NUM;
        if (k[0]->type != EXPR_T_STR)
            mark_numeric(p, k[0]);
        return 0;
    case FN_STR:
        n->type = EXPR_T_STR;
        return 0;
    default: /* coalesce */
        n->type = is_null_lit(k[0])                               ? k[1]->type
                  : is_null_lit(k[1]) || k[0]->type == k[1]->type ? k[0]->type
                                                                  : EXPR_T_ANY;
        return 0;
    }
}

static node_t *parse_call(parser_t *p)
{
    size_t pos = p->cur.pos;
    int f = find_func(p, &p->cur);
    node_t *n, *arg;
    if (f < 0 || advance(p) < 0 || advance(p) < 0) /* name, '(' */
        return NULL;
    n = mk(p, N_CALL, EXPR_T_ANY, pos, 0, NULL, NULL);
    n->op = f;
    while (p->cur.kind != TK_RPAREN || n->nkids) { /* no trailing ',' */
        size_t apos = p->cur.pos;
        if (nest_in(p) < 0 || !(arg = parse_or(p)))
            return NULL;
        p->nest--;
        if (n->nkids == funcs[f].max) {
            expr_lex_error(&p->lx, apos,
                           "%s() takes %s%d argument%s, expected ')' before this "
                           "one",
                           funcs[f].name, funcs[f].min < funcs[f].max ? "at most " : "",
                           funcs[f].max, funcs[f].max > 1 ? "s" : "");
            return NULL;
        }
        n->kid[n->nkids++] = arg;
        if (p->cur.kind != TK_COMMA)
            break;
        if (advance(p) < 0)
            return NULL;
    }
    if (p->cur.kind != TK_RPAREN)
        return unexpected(p, "',' or ')' after a function argument");
    if (n->nkids < funcs[f].min) {
        expr_lex_error(&p->lx, p->cur.pos, "%s() takes %s%d argument%s, got %d", funcs[f].name,
                       funcs[f].min < funcs[f].max ? "at least " : "", funcs[f].min,
                       funcs[f].min > 1 ? "s" : "", n->nkids);
        return NULL;
    }
    n->end = p->cur.pos + 1;
    if (!finish(p, n) || check_call(p, n) < 0)
        return NULL;
    return advance(p) < 0 ? NULL : n;
}

static node_t *parse_literal(parser_t *p)
{
    const expr_tok_t *t = &p->cur;
    node_t *n = mk(p, N_CONST, EXPR_T_NUM, t->pos, 0, NULL, NULL);
    n->end = t->pos + t->len;
    switch (t->kind) {
    case TK_INT:
    case TK_DURATION:
        n->val.kind = VALUE_INT;
        n->val.i = t->i;
        break;
    case TK_FLOAT:
        n->val.kind = VALUE_FLOAT;
        n->val.f = t->f;
        break;
    case TK_STRING:
        n->type = EXPR_T_STR;
        n->val.kind = VALUE_STR;
        n->val.s = t->s;
        n->val.len = (uint32_t)t->slen;
        break;
    case TK_TRUE:
    case TK_FALSE:
        n->type = EXPR_T_BOOL;
        n->val.kind = VALUE_BOOL;
        n->val.i = t->kind == TK_TRUE;
        break;
    default:
        n->type = EXPR_T_ANY;
        n->val.kind = VALUE_NULL;
    }
    return advance(p) < 0 ? NULL : n;
}

static node_t *parse_primary(parser_t *p)
{
    node_t *n;
    size_t open;
    switch (p->cur.kind) {
    case TK_INT:
    case TK_DURATION:
    case TK_FLOAT:
    case TK_STRING:
    case TK_TRUE:
    case TK_FALSE:
    case TK_NULL:
        return parse_literal(p);
    case TK_IDENT:
        return peek(p)->kind == TK_LPAREN ? parse_call(p) : parse_field(p);
    case TK_LPAREN:
        open = p->cur.pos;
        if (nest_in(p) < 0 || advance(p) < 0 || !(n = parse_or(p)))
            return NULL;
        p->nest--;
        if (p->cur.kind != TK_RPAREN) {
            int line, col;
            expr_lex_linecol(&p->lx, open, &line, &col);
            return unexpected(p, apr_psprintf(p->pool, "')' to close the '(' at %d:%d", line, col));
        }
        n->pos = open;
        n->end = p->cur.pos + 1;
        return advance(p) < 0 ? NULL : n;
    default:
        return unexpected(p, "an operand (a field, number, string, function or '(')");
    }
}

static node_t *parse_unary(parser_t *p)
{
    size_t pos = p->cur.pos;
    node_t *k, *n;
    if (p->cur.kind != TK_MINUS)
        return parse_primary(p);
    if (nest_in(p) < 0 || advance(p) < 0 || !(k = parse_unary(p)))
        return NULL;
    p->nest--;
    if (need_number(p, k, "'-'") < 0)
        return NULL;
    if (k->kind == N_CONST && (k->val.kind == VALUE_INT || k->val.kind == VALUE_FLOAT)) {
        k->pos = pos; /* fold a negative literal */
        if (k->val.kind == VALUE_INT)
            k->val.i = -k->val.i;
        else
            k->val.f = -k->val.f;
        return k;
    }
    n = mk(p, N_NEG, k->type == EXPR_T_TIME ? EXPR_T_NUM : k->type, pos, 1, k, NULL);
    if (n && n->type == EXPR_T_ANY)
        n->type = EXPR_T_NUM;
    return n;
}

static node_t *binary(parser_t *p, node_kind_t kind, int op, expr_type_t type, node_t *a, node_t *b)
{
    node_t *n = mk(p, kind, type, a->pos, 2, a, b);
    if (n)
        n->op = op;
    return n;
}

static node_t *parse_arith(parser_t *p, int level)
{
    node_t *a = level ? parse_unary(p) : parse_arith(p, 1), *b;
    while (a) {
        int op = p->cur.kind;
        expr_type_t t = EXPR_T_NUM;
        char what[8];
        if (level ? (op != TK_STAR && op != TK_SLASH && op != TK_PERCENT)
                  : (op != TK_PLUS && op != TK_MINUS))
            break;
        snprintf(what, sizeof what, "'%.*s'", 1, p->lx.src + p->cur.pos);
        if (advance(p) < 0 || !(b = level ? parse_unary(p) : parse_arith(p, 1)))
            return NULL;
        if (need_number(p, a, what) < 0 || need_number(p, b, what) < 0)
            return NULL;
        if (op == TK_PLUS && (a->type == EXPR_T_TIME) != (b->type == EXPR_T_TIME))
            t = EXPR_T_TIME;
        if (op == TK_MINUS && a->type == EXPR_T_TIME && b->type != EXPR_T_TIME)
            t = EXPR_T_TIME;
        a = binary(p, N_ARITH, op, t, a, b);
    }
    return a;
}

/* The opcode comparing a with b, or -1 (error set) when they cannot be compared. */
static int cmp_opcode(parser_t *p, node_t *a, node_t *b)
{
    expr_type_t ta = a->type, tb = b->type;
    node_t *bad = is_null_lit(a) ? a : is_null_lit(b) ? b : NULL;
    if (bad) {
        expr_lex_error(&p->lx, bad->pos,
                       "comparison with null is always false, expected a "
                       "value (to test for a missing value use 'x' or 'not x')");
        return -1;
    }
    if (ta == EXPR_T_STR || tb == EXPR_T_STR) {
        if ((ta == EXPR_T_STR || ta == EXPR_T_ANY) && (tb == EXPR_T_STR || tb == EXPR_T_ANY))
            return OP_CMP_STR;
    } else if (ta == EXPR_T_ANY || tb == EXPR_T_ANY) {
        expr_type_t other = ta == EXPR_T_ANY ? tb : ta;
        if (other == EXPR_T_ANY || other == EXPR_T_BOOL)
            return OP_CMP_DYN;
        mark_numeric(p, a);
        mark_numeric(p, b);
        return OP_CMP_NUM;
    } else if ((ta == EXPR_T_BOOL) == (tb == EXPR_T_BOOL)) {
        mark_numeric(p, a);
        mark_numeric(p, b);
        return OP_CMP_NUM;
    }
    expr_lex_error(&p->lx, b->pos, "%s is %s, expected %s to compare with %s", snippet(p, b),
                   type_name(tb), type_name(ta), snippet(p, a));
    return -1;
}

static int cmp_list_items(const void *x, const void *y)
{
    const value_t *a = x, *b = y;
    if (a->kind == VALUE_STR)
        return expr_str_cmp(a->s, a->len, b->s, b->len);
    return expr_num_cmp(a->i, a->kind == VALUE_INT ? (double)a->i : a->f, a->kind == VALUE_INT,
                        b->i, b->kind == VALUE_INT ? (double)b->i : b->f, b->kind == VALUE_INT);
}

/* `in [lit, ...]` after a (cur is '['). */
static node_t *parse_list(parser_t *p, node_t *a, int negate)
{
    apr_array_header_t *items = apr_array_make(p->pool, 8, sizeof(value_t));
    expr_list_t *list;
    node_t *n, *lit;
    if (p->cur.kind != TK_LBRACK)
        return unexpected(p, "'[' to start the list after 'in'");
    if (advance(p) < 0)
        return NULL;
    for (;;) {
        size_t pos = p->cur.pos;
        int is_lit = p->cur.kind == TK_STRING || p->cur.kind == TK_INT || p->cur.kind == TK_FLOAT ||
                     p->cur.kind == TK_DURATION || p->cur.kind == TK_MINUS;
        if (!is_lit)
            return unexpected(p, "a string or number literal in the list");
        if (!(lit = parse_unary(p)))
            return NULL;
        if (lit->kind != N_CONST) {
            expr_lex_error(&p->lx, pos,
                           "%s is not a literal, expected a string or number "
                           "literal in the list",
                           snippet(p, lit));
            return NULL;
        }
        if (items->nelts &&
            (lit->val.kind == VALUE_STR) != (((value_t *)items->elts)->kind == VALUE_STR)) {
            expr_lex_error(&p->lx, pos, "%s is %s, expected %s like the list's first item",
                           snippet(p, lit), type_name(lit->type),
                           lit->type == EXPR_T_STR ? "a number" : "text");
            return NULL;
        }
        *(value_t *)apr_array_push(items) = lit->val;
        if (p->cur.kind == TK_RBRACK)
            break;
        if (p->cur.kind != TK_COMMA)
            return unexpected(p, "',' or ']' in the list");
        if (advance(p) < 0)
            return NULL;
    }
    list = apr_array_push(p->lists);
    list->is_str = ((value_t *)items->elts)->kind == VALUE_STR;
    list->n = items->nelts;
    list->items = (value_t *)items->elts;
    qsort(list->items, (size_t)list->n, sizeof(value_t), cmp_list_items);
    if (list->is_str ? need_text(p, a, "'in' with a list of strings") < 0
                     : need_number(p, a, "'in' with a list of numbers") < 0)
        return NULL;
    if (!(n = mk(p, N_IN, EXPR_T_BOOL, a->pos, 1, a, NULL)))
        return NULL;
    n->index = p->lists->nelts - 1;
    n->sub = negate;
    n->end = p->cur.pos + 1;
    return advance(p) < 0 ? NULL : n;
}

/* `~ "regex"` after a (cur is the string). */
static node_t *parse_match(parser_t *p, node_t *a, int negate)
{
    const char *warning;
    expr_regex_t re;
    node_t *n;
    if (p->cur.kind != TK_STRING)
        return unexpected(p, "a string literal (the regular expression) after '~'");
    if (need_text(p, a, negate ? "'!~'" : "'~'") < 0)
        return NULL;
    if (expr_regex_compile(&p->lx, &p->cur, p->pool, &re, &warning) < 0)
        return NULL;
    *(expr_regex_t *)apr_array_push(p->regexes) = re;
    if (warning)
        *(const char **)apr_array_push(p->warnings) = warning;
    if (!(n = mk(p, N_MATCH, EXPR_T_BOOL, a->pos, 1, a, NULL)))
        return NULL;
    n->index = p->regexes->nelts - 1;
    n->sub = negate;
    n->end = p->cur.pos + p->cur.len;
    return advance(p) < 0 ? NULL : n;
}

static node_t *parse_cmp(parser_t *p)
{
    node_t *a = parse_arith(p, 0), *b, *n;
    int op, code;
    if (!a)
        return NULL;
    op = p->cur.kind;
    switch (op) {
    case TK_EQ:
    case TK_NE:
    case TK_LT:
    case TK_LE:
    case TK_GT:
    case TK_GE:
        if (advance(p) < 0 || !(b = parse_arith(p, 0)) || (code = cmp_opcode(p, a, b)) < 0)
            return NULL;
        if ((n = binary(p, N_CMP, code, EXPR_T_BOOL, a, b)))
            n->sub = op;
        return n;
    case TK_MATCH:
    case TK_NMATCH:
        return advance(p) < 0 ? NULL : parse_match(p, a, op == TK_NMATCH);
    case TK_IN:
        return advance(p) < 0 ? NULL : parse_list(p, a, 0);
    case TK_NOT:
        if (peek(p)->kind != TK_IN)
            return a;
        return advance(p) < 0 || advance(p) < 0 ? NULL : parse_list(p, a, 1);
    default:
        return a;
    }
}

static node_t *parse_not(parser_t *p)
{
    size_t pos = p->cur.pos;
    node_t *k;
    if (p->cur.kind != TK_NOT)
        return parse_cmp(p);
    if (nest_in(p) < 0 || advance(p) < 0 || !(k = parse_not(p)))
        return NULL;
    p->nest--;
    return mk(p, N_NOT, EXPR_T_BOOL, pos, 1, k, NULL);
}

static node_t *parse_logic(parser_t *p, int is_or)
{
    node_t *a = is_or ? parse_logic(p, 0) : parse_not(p), *b;
    while (a && p->cur.kind == (is_or ? TK_OR : TK_AND)) {
        if (advance(p) < 0 || !(b = is_or ? parse_logic(p, 0) : parse_not(p)))
            return NULL;
        a = binary(p, is_or ? N_OR : N_AND, 0, EXPR_T_BOOL, a, b);
    }
    return a;
}

static node_t *parse_or(parser_t *p)
{
    return parse_logic(p, 1);
}

/* ---- emission ---- */

static int emit(parser_t *p, int code, int sub, int n, int32_t arg, int delta)
{
    expr_op_t *op = apr_array_push(p->ops);
    op->code = (uint8_t)code;
    op->sub = (uint8_t)sub;
    op->n = (uint16_t)n;
    op->arg = arg;
    p->depth += delta;
    if (p->depth > p->max_depth)
        p->max_depth = p->depth;
    return p->ops->nelts - 1;
}

static int32_t add_const(parser_t *p, const value_t *v)
{
    *(value_t *)apr_array_push(p->consts) = *v;
    return p->consts->nelts - 1;
}

static void patch(parser_t *p, int at)
{
    ((expr_op_t *)p->ops->elts)[at].arg = p->ops->nelts;
}

static void gen(parser_t *p, const node_t *n)
{
    int j;
    value_t secs;
    switch (n->kind) {
    case N_CONST:
        emit(p, OP_CONST, 0, 0, add_const(p, &n->val), 1);
        return;
    case N_FIELD:
        emit(p, OP_FIELD, 0, 0, n->index, 1);
        return;
    case N_NEG:
        gen(p, n->kid[0]);
        emit(p, OP_NEG, 0, 0, 0, 0);
        return;
    case N_NOT:
        gen(p, n->kid[0]);
        emit(p, OP_NOT, 0, 0, 0, 0);
        return;
    case N_ARITH:
    case N_CMP:
        gen(p, n->kid[0]);
        gen(p, n->kid[1]);
        emit(p, n->kind == N_ARITH ? OP_ARITH : n->op, n->kind == N_ARITH ? n->op : n->sub, 0, 0,
             -1);
        return;
    case N_AND:
    case N_OR:
        gen(p, n->kid[0]);
        j = emit(p, n->kind == N_AND ? OP_AND_JMP : OP_OR_JMP, 0, 0, 0, -1);
        gen(p, n->kid[1]);
        emit(p, OP_TO_BOOL, 0, 0, 0, 0);
        patch(p, j);
        return;
    case N_IN:
    case N_MATCH:
        gen(p, n->kid[0]);
        emit(p, n->kind == N_IN ? OP_IN : OP_MATCH, n->sub, 0, n->index, 0);
        return;
    default: /* N_CALL */
        gen(p, n->kid[0]);
        if (n->op == FN_TIME_BUCKET) {
            secs = n->kid[1]->val;
            emit(p, OP_TBUCKET, 0, 0, add_const(p, &secs), 0);
        } else if (n->op == FN_COALESCE) {
            j = emit(p, OP_COALESCE, 0, 0, 0, -1);
            gen(p, n->kid[1]);
            patch(p, j);
        } else {
            for (int i = 1; i < n->nkids; i++)
                gen(p, n->kid[i]);
            emit(p, OP_CALL, n->op, n->nkids, 0, 1 - n->nkids);
        }
    }
}

/* ---- the public face ---- */

apr_status_t expr_compile(const char *src, format_t *fmt, const expr_where_t *where,
                          apr_pool_t *pool, expr_t **out, abbey_err_t *err)
{
    parser_t p;
    node_t *root;
    expr_t *e;

    memset(&p, 0, sizeof p);
    *out = NULL;
    src = src ? src : "";
    expr_lex_init(&p.lx, src, strlen(src), where, pool, err);
    p.fmt = fmt;
    p.pool = pool;
    p.consts = apr_array_make(pool, 4, sizeof(value_t));
    p.lists = apr_array_make(pool, 1, sizeof(expr_list_t));
    p.regexes = apr_array_make(pool, 1, sizeof(expr_regex_t));
    p.warnings = apr_array_make(pool, 1, sizeof(const char *));
    p.ops = apr_array_make(pool, 8, sizeof(expr_op_t));
    if (advance(&p) < 0)
        return APR_EINVAL;
    if (p.cur.kind == TK_EOF) {
        unexpected(&p, "an expression");
        return APR_EINVAL;
    }
    if (!(root = parse_or(&p)))
        return APR_EINVAL;
    if (p.cur.kind != TK_EOF) {
        unexpected(&p, p.cur.kind == TK_RPAREN ? "end of expression (no '(' to close)"
                                               : "an operator or end of expression");
        return APR_EINVAL;
    }
    gen(&p, root);
    if (p.max_depth > EXPR_STACK_MAX) {
        expr_lex_error(&p.lx, root->pos,
                       "expression needs %d value slots, more than the %d an "
                       "evaluation context has, expected a simpler expression",
                       p.max_depth, EXPR_STACK_MAX);
        return APR_EINVAL;
    }
    e = apr_pcalloc(pool, sizeof *e);
    e->text = apr_pstrdup(pool, src);
    e->type = root->type;
    e->fields = p.fields;
    e->numeric = p.numeric;
    e->nops = p.ops->nelts;
    e->ops = (expr_op_t *)p.ops->elts;
    e->depth = p.max_depth;
    e->consts = (value_t *)p.consts->elts;
    e->lists = (expr_list_t *)p.lists->elts;
    e->regexes = (expr_regex_t *)p.regexes->elts;
    e->nwarnings = p.warnings->nelts;
    e->warnings = (const char **)p.warnings->elts;
    e->field_ref = e->nops == 1 && e->ops[0].code == OP_FIELD ? e->ops[0].arg : -1;
    *out = e;
    return APR_SUCCESS;
}

expr_type_t expr_type(const expr_t *e)
{
    return e->type;
}

const char *expr_text(const expr_t *e)
{
    return e->text;
}

uint64_t expr_fields(const expr_t *e)
{
    return e->fields;
}

uint64_t expr_numeric_fields(const expr_t *e)
{
    return e->numeric;
}

int expr_field_ref(const expr_t *e)
{
    return e->field_ref;
}

int expr_nwarnings(const expr_t *e)
{
    return e->nwarnings;
}

const char *expr_warning(const expr_t *e, int i)
{
    return i >= 0 && i < e->nwarnings ? e->warnings[i] : NULL;
}
