/* format_logformat.c - the kinds nginx and apache (a server's log format
 * string, pasted as it is) and the built-ins combined and common (Apache
 * strings): the splitter that runs a compiled program over a line (see
 * format_logformat_int.h; the compiler is format_logformat_compile.c).
 *
 * Two stages, as simdjson does: the line's bytes are classified into bit
 * masks 64 at a time (format_logformat_scan.c: stop bytes, quotes and
 * backslashes), then the steps walk the masks left to right with a shift and
 * a count of trailing zeros per field. The structure of the whole line is
 * always checked first; then the needed fields are converted, and no other:
 * unneeded fields are neither converted nor stored.
 *
 * Rules (docs/RULES.md, "nginx and Apache format strings"):
 * - the structure decides first, whatever the rules need, so that a broken
 *   line is bad for the same reason under any rules; then the needed fields
 *   convert (FORMAT_BAD_NUMBER, FORMAT_BAD_TIME, naming the field);
 * - an unquoted field ends at the first occurrence of its terminator (the
 *   literal after it and the next field's opening quote or bracket) and is
 *   never empty (FORMAT_BAD_FIELDS);
 * - a quoted field ends at the first '"' not escaped by a backslash; its text
 *   is the raw bytes between the quotes (escapes are not decoded); none:
 *   FORMAT_BAD_QUOTE;
 * - "-" is missing (VALUE_NULL) in every field but Apache's %h (ip);
 * - the request "-" makes request, method, path and protocol missing;
 *   otherwise method is the text before the first space, protocol the text
 *   after the last one, path what lies between (a one-word request keeps
 *   only request); split only when one of them is needed;
 * - the built-ins also accept a line that stops after bytes or after the
 *   referer (the fields after are missing), and ignore text after the last
 *   field that starts with a space. */
#include "format_logformat_int.h"

/* ---- finding bytes ------------------------------------------------------------ */

/* Where the splitter is in the classified window: the set bits of the
 * masks are taken in order, in two streams (the stop bytes, the quotes and
 * backslashes). Kept apart from lf_cls_t, whose address the classifier
 * takes, so that the compiler may hold it in registers. */
typedef struct walk_t {
    const char *base, *wend; /* c's window */
    int nb;                  /* its blocks */
    int tk, qk;              /* the block of the next stop byte, of the next quote */
    uint64_t tm, qm;         /* the bits of those blocks not taken yet */
} walk_t;

/* Classify the window that starts at p (< c->end) and start both streams
 * at its first block. */
static inline void refill(const lf_prog_t *pg, lf_cls_t *c, walk_t *w, const char *p)
{
    c->base = p;
    c->wend = (size_t)(c->end - p) > 64 * LF_WIN ? p + 64 * LF_WIN : c->end;
    pg->classify(pg->stop, pg->nstop, c);
    w->base = c->base;
    w->wend = c->wend;
    w->nb = c->nb;
    w->tk = w->qk = 0;
    w->tm = c->nb ? c->t[0] : 0;
    w->qm = c->nb ? c->q[0] : 0;
}

/* Take the next set bit at or after p of the stop stream (quotes: 0) or of
 * the quote stream (1), or NULL at the end of the line. A window runs out: the
 * next one is classified, and both streams start there (the other stream's
 * bits left behind lie before p, as every search goes forward). */
static inline const char *next_bit(const lf_prog_t *pg, lf_cls_t *c, walk_t *w, int quotes,
                                   const char *p)
{
    int *k = quotes ? &w->qk : &w->tk;
    uint64_t *m = quotes ? &w->qm : &w->tm;
    for (;;) {
        while (!*m) {
            if (*k + 1 < w->nb) {
                ++*k;
                *m = quotes ? c->q[*k] : c->t[*k];
            } else if (w->wend < c->end) {
                refill(pg, c, w, w->wend);
            } else {
                return NULL;
            }
        }
        const char *x = w->base + ((size_t)*k << 6) + __builtin_ctzll(*m);
        *m &= *m - 1;
        if (x >= p)
            return x;
    }
}

/* After a field that ended by itself at p (< w->wend): the stop stream
 * jumps over its bytes, rather than taking their stop bytes one by one. */
static inline void skip_to(const lf_cls_t *c, walk_t *w, const char *p)
{
    size_t off = (size_t)(p - w->base);
    if (p >= w->wend || (int)(off >> 6) < w->tk)
        return;
    w->tk = (int)(off >> 6);
    w->tm = c->t[w->tk] & (~(uint64_t)0 << (off & 63));
}

/* The first stop byte ch (one of pg->stop) at or after p, or NULL. */
static inline const char *find_stop(const lf_prog_t *pg, lf_cls_t *c, walk_t *w, const char *p,
                                    char ch)
{
    const char *x;
    while ((x = next_bit(pg, c, w, 0, p)) != NULL && pg->nstop > 1 && *x != ch)
        p = x + 1;
    return x;
}

/* The first occurrence of term[0..n) (n >= 1) in [p, end), found byte by byte
 * (a terminator whose first byte is not a stop byte), or NULL. */
static const char *find_term(const char *p, const char *end, const char *term, size_t n)
{
    if (n > 8)
        return memmem(p, (size_t)(end - p), term, n);
    while ((p = memchr(p, term[0], (size_t)(end - p))) != NULL) {
        if ((size_t)(end - p) < n)
            return NULL;
        if (memcmp(p + 1, term + 1, n - 1) == 0)
            return p;
        p++;
    }
    return NULL;
}

/* The quote that closes a quoted field whose text starts at p: the first '"'
 * not escaped by a backslash (a backslash escapes the byte after it). */
static inline const char *close_quote(const lf_prog_t *pg, lf_cls_t *c, walk_t *w, const char *p)
{
    const char *x;
    while ((x = next_bit(pg, c, w, 1, p)) != NULL && *x != '"')
        p = c->end - x > 1 ? x + 2 : c->end;
    return x;
}

/* Is q (in [b, end)) inside a list separator ", " or " : " of nginx's
 * upstream variables? */
static int list_sep(const char *b, const char *q, const char *end)
{
    if (*q == ',' || *q == ':')
        return q + 1 < end && q[1] == ' ' && (*q == ',' || (q > b && q[-1] == ' '));
    return *q == ' ' && ((q > b && (q[-1] == ',' || q[-1] == ':')) ||
                         (end - q >= 3 && q[1] == ':' && q[2] == ' '));
}

/* ---- converting -------------------------------------------------------------- */

/* Digits [p, e), 1 to maxd of them, into *out: 0, or -1. */
static inline int digits(const char *p, const char *e, int maxd, int64_t *out)
{
    int64_t n = 0;
    if (p == e || e - p > maxd)
        return -1;
    for (; p < e; p++) {
        unsigned d = (unsigned char)*p - '0';
        if (d > 9)
            return -1;
        n = n * 10 + d;
    }
    *out = n;
    return 0;
}

/* method / path / protocol from the request text [r, r + n). */
static void split_request(const char *r, size_t n, const int8_t *piece, value_t *v)
{
    const char *end = r + n, *sp = memchr(r, ' ', n);
    for (int k = 0; k < 3; k++)
        format_set(&v[piece[k]], VALUE_NULL, NULL, 0);
    if (!sp)
        return; /* one word, or empty: nothing to split */
    if (sp > r)
        format_set(&v[piece[0]], VALUE_STR, r, (size_t)(sp - r));
    const char *rest = sp + 1, *last = memrchr(rest, ' ', (size_t)(end - rest));
    if (!last) {
        if (end > rest)
            format_set(&v[piece[1]], VALUE_STR, rest, (size_t)(end - rest));
        return;
    }
    if (last > rest)
        format_set(&v[piece[1]], VALUE_STR, rest, (size_t)(last - rest));
    if (end > last + 1)
        format_set(&v[piece[2]], VALUE_STR, last + 1, (size_t)(end - last - 1));
}

/* A list "1, 2 : 3" at [p, e) summed into v (VALUE_INT or VALUE_FLOAT); every
 * element "-": missing. 0, or -1 when an element is not a number. */
static int sum_list(const char *p, const char *e, int is_float, value_t *v)
{
    int64_t si = 0;
    double sf = 0;
    int any = 0;
    while (p < e) {
        const char *q = p;
        while (q < e && *q != ',' && *q != ' ')
            q++;
        if (!(q - p == 1 && *p == '-')) {
            int64_t i;
            double d;
            if (is_float ? format_scan_float(p, q, &d) < 0 : digits(p, q, 18, &i) < 0)
                return -1;
            if (is_float)
                sf += d;
            else if (__builtin_add_overflow(si, i, &si))
                return -1;
            any = 1;
        }
        if (q == e)
            break;
        if (e - q >= 2 && q[0] == ',' && q[1] == ' ')
            p = q + 2;
        else if (e - q >= 3 && q[0] == ' ' && q[1] == ':' && q[2] == ' ')
            p = q + 3;
        else
            return -1;
        if (p == e)
            return -1;
    }
    v->kind = !any ? VALUE_NULL : is_float ? VALUE_FLOAT : VALUE_INT;
    if (is_float)
        v->f = sf;
    else
        v->i = si;
    return 0;
}

/* The needed field of step s, text [b, e) into v[s->field] (and the request's
 * pieces). t is the time an LF_STRF scan found. */
static format_bad_t convert(format_state_t *st, const lf_step_t *s, const char *b, const char *e,
                            uint64_t need, uint64_t num, int64_t t, value_t *fields)
{
    value_t *v = &fields[s->field];
    int64_t n;
    int bad = 0;
    format_set(v, VALUE_STR, b, (size_t)(e - b));
    if (e - b == 1 && *b == '-' && s->conv != LF_WORD && s->conv != LF_STATUS) {
        v->kind = VALUE_NULL;
        if (s->conv == LF_REQUEST)
            for (int k = 0; k < 3; k++)
                format_set(&fields[s->piece[k]], VALUE_NULL, NULL, 0);
        return FORMAT_OK;
    }
    switch (s->conv) {
    case LF_TEXT:
        if ((num >> s->field) & 1)
            return format_convert(st, s->field, b, e, num, v);
        break;
    case LF_WORD:
        break;
    case LF_TYPED:
        return format_convert(st, s->field, b, e, num, v);
    case LF_STATUS:
    case LF_COUNT:
        bad = digits(b, e, s->conv == LF_STATUS ? 4 : 18, &v->i);
        v->kind = VALUE_INT;
        break;
    case LF_CLF:
        if (e - b == FORMAT_CLF_TIME_LEN + 2 && *b == '[' && e[-1] == ']')
            b++;
        bad = e - b != FORMAT_CLF_TIME_LEN || format_clf_time(b, &v->i) < 0;
        v->kind = VALUE_TIME;
        if (!bad)
            format_set(v, VALUE_TIME, b, FORMAT_CLF_TIME_LEN);
        return bad ? (st->bad_field = s->field, FORMAT_BAD_TIME) : FORMAT_OK;
    case LF_EPOCH_MS:
    case LF_EPOCH_US:
        if (digits(b, e, 18, &n) < 0)
            return st->bad_field = s->field, FORMAT_BAD_TIME;
        v->kind = VALUE_TIME;
        v->i = n / (s->conv == LF_EPOCH_MS ? 1000 : 1000000);
        break;
    case LF_SUM_INT:
    case LF_SUM_FLOAT:
        bad = sum_list(b, e, s->conv == LF_SUM_FLOAT, v);
        break;
    case LF_STRF_TIME:
        v->kind = VALUE_TIME;
        v->i = t;
        break;
    case LF_REQUEST:
        if (need & ~((uint64_t)1 << s->field) & s->need)
            split_request(b, (size_t)(e - b), s->piece, fields);
        break;
    }
    if (bad) {
        st->bad_field = s->field;
        return FORMAT_BAD_NUMBER;
    }
    return FORMAT_OK;
}

/* The line stopped after step i (built-ins): the needed fields after it are missing. */
static void stop_after(const lf_prog_t *pg, int i, uint64_t need, value_t *v)
{
    for (int k = i + 1; k < pg->nsteps; k++) {
        const lf_step_t *s = &pg->steps[k];
        if (!(need & s->need))
            continue;
        format_set(&v[s->field], VALUE_NULL, NULL, 0);
        if (s->conv == LF_REQUEST)
            for (int j = 0; j < 3; j++)
                format_set(&v[s->piece[j]], VALUE_NULL, NULL, 0);
    }
}

/* ---- the splitter -------------------------------------------------------------- */

/* A needed field found by the structure pass, converted after it. */
typedef struct found_t {
    const lf_step_t *s;
    const char *b, *e;
    int64_t t;
} found_t;

/* The splitter's ops: lf_scan_t, with the common cases of LF_PLAIN apart. */
enum {
    OP_TERM1,   /* LF_PLAIN, a terminator of one stop byte (" ") */
    OP_TERM2,   /* LF_PLAIN, of two bytes, the first a stop byte (" [", " \"") */
    OP_TERMN,   /* LF_PLAIN, longer, or not starting with a stop byte */
    OP_LIST,    /* LF_LIST with a terminator */
    OP_LAST,    /* LF_PLAIN or LF_LIST with none: the last field, to the end */
    OP_QUOTED,  /* LF_QUOTED */
    OP_BRACKET, /* LF_BRACKET */
    OP_FIXED,   /* LF_FIXED */
    OP_CLFTIME, /* LF_CLFTIME */
    OP_STRF     /* LF_STRF */
};

/* Programs of a common shape (a sequence of ops) get a splitter of their
 * own: the same code as the generic one (split_ops), with the ops known to
 * the compiler, so that the loop over the steps is unrolled and every
 * dispatch on an op is gone. The steps' other members (terminators, fields)
 * still come from the program. */
enum { SHAPE_GENERIC, SHAPE_COMBINED, SHAPE_COMMON, SHAPE__COUNT };

static const uint8_t ops_combined[] = {OP_TERM1, OP_TERM1, OP_TERM2,  OP_CLFTIME, OP_QUOTED,
                                       OP_TERM1, OP_TERM2, OP_QUOTED, OP_QUOTED};
static const uint8_t ops_common[] = {OP_TERM1,  OP_TERM1, OP_TERM2, OP_CLFTIME,
                                     OP_QUOTED, OP_TERM1, OP_LAST};

static const struct {
    const uint8_t *ops;
    int n;
} shapes[SHAPE__COUNT] = {
    [SHAPE_COMBINED] = {ops_combined, sizeof ops_combined},
    [SHAPE_COMMON] = {ops_common, sizeof ops_common},
};

/* Add ch to the program's stop bytes: 1, or 0 when they are full. */
static int add_stop(lf_prog_t *pg, char ch)
{
    for (int i = 0; i < pg->nstop; i++)
        if (pg->stop[i] == ch)
            return 1;
    if (pg->nstop == LF_NSTOP)
        return 0;
    pg->stop[pg->nstop++] = ch;
    return 1;
}

/* The splitter's form of the program: stop bytes and ops. */
static void specialise(lf_prog_t *pg, int simd)
{
    if (pg->lenient)
        add_stop(pg, ' ');
    for (int i = 0; i < pg->nsteps; i++) {
        lf_step_t *s = &pg->steps[i];
        int stop = s->termlen && add_stop(pg, s->term[0]);
        switch (s->scan) {
        case LF_PLAIN:
            s->op = s->termlen == 0           ? OP_LAST
                    : stop && s->termlen == 1 ? OP_TERM1
                    : stop && s->termlen == 2 ? OP_TERM2
                                              : OP_TERMN;
            break;
        case LF_LIST:
            s->op = s->termlen ? OP_LIST : OP_LAST;
            break;
        case LF_QUOTED:
            s->op = OP_QUOTED;
            break;
        case LF_BRACKET:
            s->op = OP_BRACKET;
            break;
        case LF_FIXED:
            s->op = OP_FIXED;
            break;
        case LF_CLFTIME:
            s->op = OP_CLFTIME;
            break;
        default:
            s->op = OP_STRF;
            break;
        }
    }
    if (!pg->nstop)
        pg->stop[pg->nstop++] = ' ';
    pg->classify = lf_classifier(simd, pg->nstop);
    pg->shape = SHAPE_GENERIC;
    for (int k = 1; k < SHAPE__COUNT; k++)
        if (pg->nsteps == shapes[k].n) {
            int i = 0;
            while (i < pg->nsteps && pg->steps[i].op == shapes[k].ops[i])
                i++;
            if (i == pg->nsteps)
                pg->shape = (uint8_t)k;
        }
}

/* The structure pass: every step's field and literal, from p. Records the
 * needed fields in found (*nfound), and in *stop the step the line stopped
 * after (a built-in's shorter line; else the last step). */
static inline __attribute__((always_inline)) format_bad_t
split_ops(format_state_t *st, lf_cls_t *c, const char *p, uint64_t need, found_t *found,
          int *nfound, int *stop, const uint8_t *kops, int kn)
{
    const lf_prog_t *pg = st->f->impl;
    const lf_step_t *s;
    const char *end = c->end;
    const int nsteps = kops ? kn : pg->nsteps;
    walk_t w;
    int n = 0, i;
    refill(pg, c, &w, c->line);
#pragma GCC unroll 16
    for (i = 0; i < nsteps; i++) {
        const char *b = p, *e;
        int64_t t = 0;
        s = &pg->steps[i];
        switch (kops ? kops[i] : s->op) {
        case OP_TERM1:
            if (!(e = find_stop(pg, c, &w, p, s->term[0])))
                goto missing;
            goto plain;
        case OP_TERM2:
            for (e = p; (e = find_stop(pg, c, &w, e, s->term[0])) != NULL; e++)
                if (end - e >= 2 && e[1] == s->term[1])
                    goto plain;
            goto missing;
        case OP_TERMN:
            if (!(e = find_term(p, end, s->term, s->termlen)))
                goto missing;
            goto plain;
        case OP_LIST:
            e = find_term(p, end, s->term, s->termlen);
            while (e && list_sep(b, e, end))
                e = find_term(e + 1, end, s->term, s->termlen);
            if (!e)
                goto missing;
            goto plain;
        case OP_LAST: /* to the end (built-ins: to a space) */
            e = pg->lenient ? find_stop(pg, c, &w, p, ' ') : NULL;
            if (!e)
                e = end;
            if (e == b)
                return FORMAT_BAD_FIELDS;
            p = e;
            break;
        case OP_QUOTED:
            if (p == end || *p != '"')
                return FORMAT_BAD_FIELDS;
            b = p + 1;
            if (!(e = close_quote(pg, c, &w, b)))
                return FORMAT_BAD_QUOTE;
            p = e + 1;
            break;
        case OP_BRACKET:
            if (p == end || *p != '[')
                return FORMAT_BAD_FIELDS;
            b = p + 1;
            if (!(e = memchr(b, ']', (size_t)(end - b))))
                return FORMAT_BAD_FIELDS;
            p = e + 1;
            break;
        case OP_FIXED:
            if ((size_t)(end - p) < s->width)
                return FORMAT_BAD_FIELDS;
            p = e = b + s->width;
            break;
        case OP_CLFTIME:
            if (end - p < FORMAT_CLF_TIME_LEN + 2 || p[0] != '[' ||
                p[FORMAT_CLF_TIME_LEN + 1] != ']') {
                st->bad_field = s->field;
                return FORMAT_BAD_TIME;
            }
            b = p + 1;
            e = b + FORMAT_CLF_TIME_LEN;
            p = e + 1;
            break;
        default: /* OP_STRF: the form says where it ends */
            if (!(e = format_time_match(s->strf, st, p, end, &t))) {
                st->bad_field = s->field;
                return FORMAT_BAD_TIME;
            }
            p = e;
            break;
        }
        /* a field that ends by itself, then its literal */
        skip_to(c, &w, p);
        if (need & s->need)
            found[n++] = (found_t){s, b, e, t};
        if (s->may_end && p == end)
            goto stopped;
        if (s->litlen == 1) {
            if (p == end || *p != s->term[0])
                return FORMAT_BAD_FIELDS;
            p++;
        } else if (s->litlen) {
            if ((size_t)(end - p) < s->litlen || memcmp(p, s->term, s->litlen) != 0)
                return FORMAT_BAD_FIELDS;
            p += s->litlen;
        }
        continue;
    plain: /* an unquoted field [b, e), its terminator at e */
        if (e == b)
            return FORMAT_BAD_FIELDS;
        if (need & s->need)
            found[n++] = (found_t){s, b, e, 0};
        p = e + s->litlen;
        continue;
    missing: /* no terminator: only a built-in's line may stop here */
        if (!s->may_end || p == end || memchr(p, s->term[0], (size_t)(end - p)))
            return FORMAT_BAD_FIELDS;
        if (need & s->need)
            found[n++] = (found_t){s, b, end, 0};
        goto stopped;
    }
    if (p != end && !(pg->lenient && *p == ' '))
        return FORMAT_BAD_FIELDS;
    *stop = pg->nsteps - 1;
    *nfound = n;
    return FORMAT_OK;
stopped:
    *stop = i;
    *nfound = n;
    return FORMAT_OK;
}

/* The structure pass of a program, by its shape. */
static format_bad_t split(format_state_t *st, lf_cls_t *c, const char *p, uint64_t need,
                          found_t *found, int *nfound, int *stop)
{
    switch (((const lf_prog_t *)st->f->impl)->shape) {
    case SHAPE_COMBINED:
        return split_ops(st, c, p, need, found, nfound, stop, ops_combined, sizeof ops_combined);
    case SHAPE_COMMON:
        return split_ops(st, c, p, need, found, nfound, stop, ops_common, sizeof ops_common);
    default:
        return split_ops(st, c, p, need, found, nfound, stop, NULL, 0);
    }
}

static format_bad_t parse(format_state_t *st, const char *line, size_t len, uint64_t need,
                          uint64_t num, value_t *v)
{
    const lf_prog_t *pg = st->f->impl;
    found_t found[FORMAT_MAX_FIELDS];
    lf_cls_t c;
    int nfound = 0, stop;
    format_bad_t why;
    if (pg->leadlen && (len < pg->leadlen || memcmp(line, pg->lead, pg->leadlen) != 0))
        return FORMAT_BAD_FIELDS;
    c.line = line;
    c.end = line + len;
    why = split(st, &c, line + pg->leadlen, need, found, &nfound, &stop);
    if (why != FORMAT_OK)
        return why;
    for (int k = 0; k < nfound; k++)
        if ((why = convert(st, found[k].s, found[k].b, found[k].e, need, num, found[k].t, v)) !=
            FORMAT_OK)
            return why;
    if (stop < pg->nsteps - 1)
        stop_after(pg, stop, need, v);
    return FORMAT_OK;
}

static int simd_level = 2; /* lf_set_simd */

void lf_set_simd(int level)
{
    simd_level = level;
}

static apr_status_t create(format_t *f, format_spec_t *spec, abbey_err_t *err)
{
    apr_status_t rv = lf_compile(f, spec, err);
    if (rv == APR_SUCCESS)
        specialise(f->impl, simd_level);
    return rv;
}

static const char *const names[] = {"combined", "common", "nginx", "apache", NULL};

const format_ops_t format_logformat_ops = {.names = names, .create = create, .parse = parse};
