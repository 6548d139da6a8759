/* expr_eval.c - running a compiled expression over one line's fields.
 *
 * The program (see expr_int.h) is a flat array of postfix ops run on the
 * fixed value stack of an expr_ctx_t; the compiler has already checked the
 * stack depth. Nothing here allocates: strings made by functions go into the
 * context's scratch area, and a function whose result does not fit there
 * gives NULL. A value of unknown type (an untyped field) that must be a
 * number and is not one makes expr_eval return -1. Regexes match under the
 * limits of the context's match context (rematch.h, REMATCH_*); a match that
 * gives up is false and sets ctx->limit_hit. */
#include "expr_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mem.h"

static apr_status_t ctx_cleanup(void *data)
{
    expr_ctx_t *ctx = data;
    pcre2_match_data_free(ctx->md);
    return APR_SUCCESS;
}

expr_ctx_t *expr_ctx_create(apr_pool_t *pool)
{
    expr_ctx_t *ctx = apr_palloc(pool, sizeof *ctx);
    ctx->used = 0;
    ctx->limit_hit = 0;
    if (!(ctx->md = pcre2_match_data_create(1, NULL)))
        mem_oom("PCRE2 match data", 0);
    apr_pool_cleanup_register(pool, ctx, ctx_cleanup, apr_pool_cleanup_null);
    rematch_ctx_init(&ctx->re, pool);
    return ctx;
}

void expr_ctx_reset(expr_ctx_t *ctx)
{
    ctx->used = 0;
    ctx->limit_hit = 0;
}

int expr_ctx_limit_hit(const expr_ctx_t *ctx)
{
    return ctx->limit_hit;
}

/* n bytes of scratch, or NULL when the area is full. */
static char *scratch(expr_ctx_t *ctx, size_t n)
{
    char *p;
    if (n > EXPR_SCRATCH_SIZE - ctx->used)
        return NULL;
    p = ctx->scratch + ctx->used;
    ctx->used += n;
    return p;
}

/* ---- value helpers ---- */

static void set_null(value_t *v)
{
    memset(v, 0, sizeof *v);
}

static void set_int(value_t *v, int kind, int64_t i)
{
    set_null(v);
    v->kind = (uint8_t)kind;
    v->i = i;
}

static void set_float(value_t *v, double f)
{
    set_null(v);
    v->kind = VALUE_FLOAT;
    v->f = f;
}

static void set_str(value_t *v, const char *s, size_t len)
{
    set_null(v);
    v->kind = VALUE_STR;
    v->s = s;
    v->len = (uint32_t)len;
}

/* Numeric view: 0 and the number, 1 for NULL, -1 when not a number. */
static int num(const value_t *v, int64_t *i, double *f, int *is_int)
{
    switch (v->kind) {
    case VALUE_INT:
    case VALUE_TIME:
    case VALUE_BOOL:
        *i = v->i;
        *f = (double)v->i;
        *is_int = 1;
        return 0;
    case VALUE_FLOAT:
        *f = v->f;
        *is_int = 0;
        return 0;
    case VALUE_NULL:
        return 1;
    default:
        return value_to_number(v, i, f, is_int) < 0 ? -1 : 0;
    }
}

/* Text view: a string as is, a number by its raw field text when it has one,
 * else rendered into scratch. Returns -1 for NULL or when scratch is full. */
static int text(expr_ctx_t *ctx, const value_t *v, const char **s, size_t *len)
{
    char tmp[64], *out;
    struct tm tm;
    time_t t;
    int n;
    switch (v->kind) {
    case VALUE_STR:
        *s = v->s ? v->s : "";
        *len = v->len;
        return 0;
    case VALUE_BOOL:
        *s = v->i ? "true" : "false";
        *len = strlen(*s);
        return 0;
    case VALUE_INT:
    case VALUE_FLOAT:
        if (v->s) {
            *s = v->s;
            *len = v->len;
            return 0;
        }
        n = v->kind == VALUE_INT ? snprintf(tmp, sizeof tmp, "%lld", (long long)v->i)
                                 : snprintf(tmp, sizeof tmp, "%.15g", v->f);
        break;
    case VALUE_TIME:
        t = (time_t)v->i;
        if (!gmtime_r(&t, &tm))
            return -1;
        n = snprintf(tmp, sizeof tmp, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
        break;
    default:
        return -1;
    }
    if (n < 0 || !(out = scratch(ctx, (size_t)n)))
        return -1;
    memcpy(out, tmp, (size_t)n);
    *s = out;
    *len = (size_t)n;
    return 0;
}

int expr_num_cmp(int64_t ai, double af, int aint, int64_t bi, double bf, int bint)
{
    if (aint && bint)
        return ai < bi ? -1 : ai > bi;
    if (!aint && !bint) {
        if (isnan(af) || isnan(bf))
            return 2;
        return af < bf ? -1 : af > bf;
    }
    if (!aint) { /* make a the integer */
        int c = expr_num_cmp(bi, bf, bint, ai, af, aint);
        return c == 2 ? 2 : -c;
    }
    if (isnan(bf))
        return 2;
    if (bf >= 9223372036854775808.0)
        return -1;
    if (bf < -9223372036854775808.0)
        return 1;
    if (ai != (int64_t)bf)
        return ai < (int64_t)bf ? -1 : 1;
    bf -= (double)(int64_t)bf; /* fraction left over */
    return bf > 0 ? -1 : bf < 0;
}

int expr_str_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
    int c = memcmp(a, b, alen < blen ? alen : blen);
    if (c)
        return c < 0 ? -1 : 1;
    return alen < blen ? -1 : alen > blen;
}

/* Truth of a comparison token for an order c (<0, 0, >0, or 2 unordered). */
static int holds(int op, int c)
{
    if (c == 2)
        return op == TK_NE;
    switch (op) {
    case TK_EQ:
        return c == 0;
    case TK_NE:
        return c != 0;
    case TK_LT:
        return c < 0;
    case TK_LE:
        return c <= 0;
    case TK_GT:
        return c > 0;
    default:
        return c >= 0;
    }
}

/* ---- operators ---- */

static int int_arith(int op, int64_t a, int64_t b, int64_t *r)
{
    switch (op) {
    case TK_PLUS:
        return __builtin_add_overflow(a, b, r) ? -1 : 0;
    case TK_MINUS:
        return __builtin_sub_overflow(a, b, r) ? -1 : 0;
    case TK_STAR:
        return __builtin_mul_overflow(a, b, r) ? -1 : 0;
    default: /* TK_PERCENT, b != 0 */
        *r = b == -1 ? 0 : a % b;
        return 0;
    }
}

/* a = a op b. Returns -1 when an operand is not a number. */
static int arith(int op, value_t *a, const value_t *b)
{
    int64_t ai, bi, r;
    double af, bf;
    int aint, bint, ra = num(a, &ai, &af, &aint), rb = num(b, &bi, &bf, &bint), kind = VALUE_INT;
    if (ra < 0 || rb < 0)
        return -1;
    if (ra || rb || ((op == TK_SLASH || op == TK_PERCENT) && (bint ? bi == 0 : bf == 0.0))) {
        set_null(a);
        return 0;
    }
    if (op != TK_SLASH && aint && bint && int_arith(op, ai, bi, &r) == 0) {
        if ((op == TK_PLUS && (a->kind == VALUE_TIME) != (b->kind == VALUE_TIME)) ||
            (op == TK_MINUS && a->kind == VALUE_TIME && b->kind != VALUE_TIME))
            kind = VALUE_TIME;
        set_int(a, kind, r);
        return 0;
    }
    switch (op) {
    case TK_PLUS:
        set_float(a, af + bf);
        break;
    case TK_MINUS:
        set_float(a, af - bf);
        break;
    case TK_STAR:
        set_float(a, af * bf);
        break;
    case TK_SLASH:
        set_float(a, af / bf);
        break;
    default:
        set_float(a, fmod(af, bf));
        break;
    }
    return 0;
}

/* a = (a op b) for a comparison opcode. Returns -1 when a number is not one. */
static int compare(expr_ctx_t *ctx, int code, int op, value_t *a, const value_t *b)
{
    int64_t ai = 0, bi = 0;
    double af = 0, bf = 0;
    int aint = 0, bint = 0, c, ra, rb;
    const char *as, *bs;
    size_t al, bl;

    if (a->kind == VALUE_NULL || b->kind == VALUE_NULL) {
        c = -3; /* false */
    } else if (code == OP_CMP_STR ||
               (code == OP_CMP_DYN && a->kind == VALUE_STR && b->kind == VALUE_STR)) {
        c = text(ctx, a, &as, &al) < 0 || text(ctx, b, &bs, &bl) < 0 ? -3
                                                                     : expr_str_cmp(as, al, bs, bl);
    } else {
        ra = num(a, &ai, &af, &aint);
        rb = num(b, &bi, &bf, &bint);
        if (ra < 0 || rb < 0)
            return -1;
        c = expr_num_cmp(ai, af, aint, bi, bf, bint);
    }
    set_int(a, VALUE_BOOL, c != -3 && holds(op, c));
    return 0;
}

/* v = (v ~ re), or its negation. A match that gives up (a limit) is false
 * both ways, and flagged in ctx. */
static void match(expr_ctx_t *ctx, const expr_regex_t *re, int negate, value_t *v)
{
    const char *s;
    size_t len;
    int rc, hit = 0;
    if (v->kind != VALUE_NULL && text(ctx, v, &s, &len) == 0) {
        rc = rematch_run(&ctx->re, re, s, len, ctx->md);
        if (rc < 0 && rc != PCRE2_ERROR_NOMATCH)
            ctx->limit_hit = 1;
        else
            hit = (rc >= 0) != negate;
    }
    set_int(v, VALUE_BOOL, hit);
}

static int in_list(expr_ctx_t *ctx, const expr_list_t *l, int negate, value_t *v)
{
    int lo = 0, hi = l->n, found = 0, c, is_int = 0;
    const char *s = NULL;
    size_t len = 0;
    int64_t i = 0;
    double f = 0;

    if (v->kind == VALUE_NULL || (l->is_str && text(ctx, v, &s, &len) < 0)) {
        set_int(v, VALUE_BOOL, 0);
        return 0;
    }
    if (!l->is_str && num(v, &i, &f, &is_int) != 0)
        return -1;
    while (lo < hi && !found) {
        int mid = lo + (hi - lo) / 2;
        const value_t *x = &l->items[mid];
        c = l->is_str ? expr_str_cmp(s, len, x->s, x->len)
                      : expr_num_cmp(i, f, is_int, x->i, x->kind == VALUE_INT ? (double)x->i : x->f,
                                     x->kind == VALUE_INT);
        if (c == 0)
            found = 1;
        else if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    set_int(v, VALUE_BOOL, found != negate);
    return 0;
}

static int time_bucket(value_t *v, int64_t d)
{
    int64_t i, q;
    double f;
    int is_int, r = num(v, &i, &f, &is_int);
    if (r < 0)
        return -1;
    if (r == 0 && !is_int) {
        if (!(f >= -9223372036854775808.0 && f < 9223372036854775808.0))
            r = 1;
        else
            i = (int64_t)floor(f);
    }
    if (r) {
        set_null(v);
        return 0;
    }
    q = i / d - (i % d < 0);
    if (__builtin_mul_overflow(q, d, &i))
        set_null(v);
    else
        set_int(v, VALUE_TIME, i);
    return 0;
}

/* ---- functions ---- */

static void fn_case(expr_ctx_t *ctx, value_t *v, int upper)
{
    const char *s;
    size_t len;
    char *out;
    if (text(ctx, v, &s, &len) < 0 || !(out = scratch(ctx, len))) {
        set_null(v);
        return;
    }
    for (size_t k = 0; k < len; k++) {
        char c = s[k];
        if (upper && c >= 'a' && c <= 'z')
            c = (char)(c - 'a' + 'A');
        else if (!upper && c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        out[k] = c;
    }
    set_str(v, out, len);
}

/* A whole-number argument: 0, 1 for NULL (or not finite), -1 when not a number. */
static int whole(const value_t *v, int64_t *out)
{
    double f;
    int is_int, r = num(v, out, &f, &is_int);
    if (r != 0 || is_int)
        return r;
    if (!(f > -9.2e18 && f < 9.2e18))
        return 1;
    *out = (int64_t)f;
    return 0;
}

static int fn_substr(expr_ctx_t *ctx, value_t *a, int nargs)
{
    const char *s;
    size_t len;
    int64_t start, n = INT64_MAX, l;
    int rs = whole(&a[1], &start), rn = nargs > 2 ? whole(&a[2], &n) : 0;
    if (rs < 0 || rn < 0)
        return -1;
    if (rs || rn || text(ctx, &a[0], &s, &len) < 0) {
        set_null(a);
        return 0;
    }
    l = (int64_t)len;
    if (start < 0)
        start = start < -l ? 0 : l + start;
    if (start > l)
        start = l;
    if (n < 0)
        n = 0;
    if (n > l - start)
        n = l - start;
    set_str(a, s + start, (size_t)n);
    return 0;
}

static void fn_convert(value_t *v, int to_int)
{
    int64_t i;
    double f;
    int is_int;
    if (num(v, &i, &f, &is_int) != 0)
        set_null(v);
    else if (!to_int)
        set_float(v, f);
    else if (is_int)
        set_int(v, VALUE_INT, i);
    else if (f > -9223372036854775808.0 && f < 9223372036854775808.0)
        set_int(v, VALUE_INT, (int64_t)f);
    else
        set_null(v);
}

/* Call fn on a[0..nargs); the result replaces a[0]. */
static int call(expr_ctx_t *ctx, int fn, value_t *a, int nargs)
{
    const char *s;
    size_t len;
    if (fn != FN_SUBSTR && a[0].kind == VALUE_NULL)
        return 0; /* NULL in, NULL out */
    switch (fn) {
    case FN_LOWER:
    case FN_UPPER:
        fn_case(ctx, a, fn == FN_UPPER);
        return 0;
    case FN_LEN:
        if (text(ctx, a, &s, &len) < 0)
            set_null(a);
        else
            set_int(a, VALUE_INT, (int64_t)len);
        return 0;
    case FN_SUBSTR:
        if (a[0].kind == VALUE_NULL)
            return 0;
        return fn_substr(ctx, a, nargs);
    case FN_INT:
    case FN_FLOAT:
        fn_convert(a, fn == FN_INT);
        return 0;
    default: /* FN_STR */
        if (text(ctx, a, &s, &len) < 0)
            set_null(a);
        else
            set_str(a, s, len);
        return 0;
    }
}

/* ---- the interpreter ---- */

int expr_eval(const expr_t *e, const value_t *fields, expr_ctx_t *ctx, value_t *out)
{
    value_t *st = ctx->stack;
    int sp = 0;

    for (int pc = 0; pc < e->nops; pc++) {
        const expr_op_t *op = &e->ops[pc];
        switch (op->code) {
        case OP_FIELD:
            st[sp++] = fields[op->arg];
            break;
        case OP_CONST:
            st[sp++] = e->consts[op->arg];
            break;
        case OP_NEG:
            if (st[sp - 1].kind == VALUE_INT && st[sp - 1].i != INT64_MIN) {
                set_int(&st[sp - 1], VALUE_INT, -st[sp - 1].i);
            } else {
                value_t zero;
                set_int(&zero, VALUE_INT, 0);
                if (arith(TK_MINUS, &zero, &st[sp - 1]) < 0)
                    return -1;
                st[sp - 1] = zero;
            }
            break;
        case OP_ARITH:
            if (arith(op->sub, &st[sp - 2], &st[sp - 1]) < 0)
                return -1;
            sp--;
            break;
        case OP_CMP_NUM:
        case OP_CMP_STR:
        case OP_CMP_DYN:
            if (compare(ctx, op->code, op->sub, &st[sp - 2], &st[sp - 1]) < 0)
                return -1;
            sp--;
            break;
        case OP_NOT:
            set_int(&st[sp - 1], VALUE_BOOL, !value_truthy(&st[sp - 1]));
            break;
        case OP_TO_BOOL:
            set_int(&st[sp - 1], VALUE_BOOL, value_truthy(&st[sp - 1]));
            break;
        case OP_AND_JMP:
        case OP_OR_JMP:
            if (value_truthy(&st[sp - 1]) == (op->code == OP_OR_JMP)) {
                set_int(&st[sp - 1], VALUE_BOOL, op->code == OP_OR_JMP);
                pc = op->arg - 1;
            } else {
                sp--;
            }
            break;
        case OP_COALESCE:
            if (st[sp - 1].kind != VALUE_NULL)
                pc = op->arg - 1;
            else
                sp--;
            break;
        case OP_MATCH:
            match(ctx, &e->regexes[op->arg], op->sub, &st[sp - 1]);
            break;
        case OP_IN:
            if (in_list(ctx, &e->lists[op->arg], op->sub, &st[sp - 1]) < 0)
                return -1;
            break;
        case OP_TBUCKET:
            if (time_bucket(&st[sp - 1], e->consts[op->arg].i) < 0)
                return -1;
            break;
        default: /* OP_CALL */
            sp -= op->n - 1;
            if (call(ctx, op->sub, &st[sp - 1], op->n) < 0)
                return -1;
        }
    }
    *out = st[0];
    return 0;
}
