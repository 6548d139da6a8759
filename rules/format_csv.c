/* format_csv.c - the "csv" format: RFC 4180 comma-separated values, with or without a header
 * line (see format.h and docs/RULES.md).
 *
 *   format: {csv: {fields: [time:time, user, status:int]}}           columns named in order
 *   format: {csv: {header: true, fields: [status:int]}, delimiter: ";"}  the header names them
 *
 * The grammar, one line at a time (lines are cut at '\n' before a format sees them):
 * - columns are separated by the delimiter (one byte, "," by default);
 * - a column that starts with '"' is quoted: it runs to the next '"' not doubled, "" stands
 *   for one '"', and it may hold the delimiter; the closing quote must be followed by the
 *   delimiter or the end of the line (else FORMAT_BAD_SYNTAX). A quote that is not closed on
 *   its line is FORMAT_BAD_QUOTE: a quoted field spanning lines cannot be read, since the
 *   line ends at its '\n' (and the next line is then read as a line of its own);
 * - in a column that does not start with '"', quotes are ordinary bytes (ab"c is ab"c);
 * - a trailing '\r' (CRLF) is dropped (format_parse), a UTF-8 byte order mark opening a line
 *   is dropped; spaces are kept; "a,b," has three columns, the last empty; an empty line has
 *   no column at all, so it is bad (FORMAT_BAD_FIELDS).
 *
 * Without a header (header: false, the default) the format is closed: `fields:` names every
 * column in order, as split does, and a line with another number of columns is bad. With a
 * header the format is open: the first line of every source names the columns
 * (format_header), rules name the columns they use (add_field), `fields:` may type some; the
 * header maps each column to a field in the thread's state, per source. A data line must have
 * as many columns as its header; a field whose name the header lacks is VALUE_NULL on every
 * line of the source; when the header names a column twice, the first one is the field; a
 * line before any header is FORMAT_BAD_HEADER.
 *
 * Structure is checked in full before any conversion; a needed field then converts by its
 * type (format_convert). A quoted column's text points into the line unless it holds "",
 * which is unescaped into the state's scratch, and only when the field is needed. */
#include "format_int.h"

#include <apr_strings.h>

typedef struct csv_t {
    char delim;
} csv_t;

/* A column of the current source's header that is a field. */
typedef struct csv_pair_t {
    uint32_t col;
    int field;
} csv_pair_t;

typedef struct csv_state_t {
    int have_header;                     /* a header was read for this source */
    uint32_t ncols;                      /* the header's columns */
    int npairs;                          /* pairs in use */
    csv_pair_t pairs[FORMAT_MAX_FIELDS]; /* the columns that are fields, by column */
} csv_state_t;

/* One column of a line. */
typedef struct csv_col_t {
    const char *s, *e; /* its text (a quoted column's: between the quotes) */
    const char *next;  /* the next column's first byte; NULL when this was the line's last */
    int doubled;       /* quoted, with "" in [s, e) */
} csv_col_t;

/* The column starting at p. FORMAT_OK, FORMAT_BAD_QUOTE (a quote not closed) or
 * FORMAT_BAD_SYNTAX (bytes after a closing quote). */
static inline format_bad_t scan_col(char d, const char *p, const char *end, csv_col_t *c)
{
    const char *q;
    c->doubled = 0;
    if (p == end || *p != '"') {
        q = memchr(p, d, (size_t)(end - p));
        c->s = p;
        c->e = q ? q : end;
        c->next = q ? q + 1 : NULL;
        return FORMAT_OK;
    }
    c->s = ++p;
    for (;;) {
        if (!(q = memchr(p, '"', (size_t)(end - p))))
            return FORMAT_BAD_QUOTE;
        if (q + 1 == end || q[1] != '"')
            break;
        c->doubled = 1;
        p = q + 2;
    }
    c->e = q++;
    if (q == end) {
        c->next = NULL;
        return FORMAT_OK;
    }
    if (*q != d)
        return FORMAT_BAD_SYNTAX;
    c->next = q + 1;
    return FORMAT_OK;
}

/* [*s, *e) with each "" made one '"', into st's scratch. */
static void unescape(format_state_t *st, const char **s, const char **e)
{
    char *out = format_scratch(st, (size_t)(*e - *s)), *o = out;
    for (const char *p = *s; p < *e; p++) {
        *o++ = *p;
        if (*p == '"')
            p++; /* the second quote of a pair: scan_col saw them paired */
    }
    *s = out;
    *e = o;
}

/* The line without a leading UTF-8 byte order mark. */
static inline const char *skip_bom(const char *line, size_t *len)
{
    if (*len >= 3 && memcmp(line, "\xEF\xBB\xBF", 3) == 0) {
        *len -= 3;
        return line + 3;
    }
    return line;
}

/* Convert the needed fields (their raw text set in v by the scan; VALUE_NULL stays). */
static format_bad_t convert(format_state_t *st, uint64_t need, uint64_t num, uint64_t doubled,
                            value_t *v)
{
    int n = st->f->nfields;
    uint64_t todo = need & (n >= 64 ? ~(uint64_t)0 : ((uint64_t)1 << n) - 1);
    for (; todo; todo &= todo - 1) {
        int i = __builtin_ctzll(todo);
        const char *s, *e;
        format_bad_t why;
        if (v[i].kind == VALUE_NULL)
            continue;
        s = v[i].s;
        e = s + v[i].len;
        if ((doubled >> i) & 1)
            unescape(st, &s, &e);
        if ((why = format_convert(st, i, s, e, num, &v[i])) != FORMAT_OK)
            return why;
    }
    return FORMAT_OK;
}

/* header: false: the columns are the fields, in order. */
static format_bad_t parse_fixed(format_state_t *st, const char *line, size_t len, uint64_t need,
                                uint64_t num, value_t *v)
{
    const csv_t *cv = st->f->impl;
    const char *p = skip_bom(line, &len), *end = p + len;
    int last = st->f->nfields - 1;
    uint64_t doubled = 0;
    csv_col_t c;
    format_bad_t why;
    if (len == 0)
        return FORMAT_BAD_FIELDS;
    for (int i = 0;; i++) {
        if (i > last)
            return FORMAT_BAD_FIELDS;
        if ((why = scan_col(cv->delim, p, end, &c)) != FORMAT_OK) {
            st->bad_field = i;
            return why;
        }
        format_set(&v[i], VALUE_STR, c.s, (size_t)(c.e - c.s));
        doubled |= (uint64_t)c.doubled << i;
        if (!c.next) {
            if (i != last)
                return FORMAT_BAD_FIELDS;
            break;
        }
        p = c.next;
    }
    return convert(st, need, num, doubled, v);
}

/* header: true: the columns the source's header maps to fields. */
static format_bad_t parse_named(format_state_t *st, const char *line, size_t len, uint64_t need,
                                uint64_t num, value_t *v)
{
    const csv_t *cv = st->f->impl;
    const csv_state_t *cs = st->impl;
    const char *p = skip_bom(line, &len), *end = p + len;
    uint64_t doubled = 0;
    uint32_t col;
    int k = 0;
    csv_col_t c;
    format_bad_t why;
    if (!cs->have_header)
        return FORMAT_BAD_HEADER;
    for (int i = 0; i < st->f->nfields; i++)
        format_set(&v[i], VALUE_NULL, NULL, 0); /* fields the header lacks stay NULL */
    if (len == 0)
        return FORMAT_BAD_FIELDS;
    for (col = 0;; col++) {
        int field = k < cs->npairs && cs->pairs[k].col == col ? cs->pairs[k++].field : -1;
        if (col == cs->ncols)
            return FORMAT_BAD_FIELDS;
        if ((why = scan_col(cv->delim, p, end, &c)) != FORMAT_OK) {
            st->bad_field = field;
            return why;
        }
        if (field >= 0) {
            format_set(&v[field], VALUE_STR, c.s, (size_t)(c.e - c.s));
            doubled |= (uint64_t)c.doubled << field;
        }
        if (!c.next)
            break;
        p = c.next;
    }
    if (col + 1 != cs->ncols)
        return FORMAT_BAD_FIELDS;
    return convert(st, need, num, doubled, v);
}

static format_bad_t parse(format_state_t *st, const char *line, size_t len, uint64_t need,
                          uint64_t num, value_t *v)
{
    return st->f->header ? parse_named(st, line, len, need, num, v)
                         : parse_fixed(st, line, len, need, num, v);
}

/* The field named [s, e) that no earlier column took, or -1. */
static int named_field(const format_t *f, const char *s, const char *e, uint64_t taken)
{
    size_t n = (size_t)(e - s);
    for (int i = 0; i < f->nfields; i++)
        if (!((taken >> i) & 1) && f->namelens[i] == n && memcmp(f->names[i], s, n) == 0)
            return i;
    return -1;
}

/* The source's header (line NULL: forget it). */
static format_bad_t header(format_state_t *st, const char *line, size_t len)
{
    const format_t *f = st->f;
    const csv_t *cv = f->impl;
    csv_state_t *cs = st->impl;
    const char *p, *end;
    uint64_t taken = 0;
    csv_col_t c;
    format_bad_t why;
    cs->have_header = 0;
    cs->npairs = 0;
    if (!line)
        return FORMAT_OK;
    if (!f->header)
        return FORMAT_BAD_HEADER; /* a csv format without a header takes none */
    p = skip_bom(line, &len);
    end = p + len;
    if (len == 0)
        return FORMAT_BAD_HEADER;
    for (uint32_t col = 0;; col++) {
        const char *s, *e;
        int i;
        if ((why = scan_col(cv->delim, p, end, &c)) != FORMAT_OK)
            return why;
        s = c.s;
        e = c.e;
        if (c.doubled)
            unescape(st, &s, &e);
        if ((i = named_field(f, s, e, taken)) >= 0) {
            ABBEY_ASSERT(cs->npairs < FORMAT_MAX_FIELDS);
            cs->pairs[cs->npairs++] = (csv_pair_t){col, i};
            taken |= (uint64_t)1 << i;
        }
        if (!c.next) {
            cs->ncols = col + 1;
            break;
        }
        p = c.next;
    }
    cs->have_header = 1;
    return FORMAT_OK;
}

static void *state_create(const format_t *f, format_state_t *st)
{
    (void)f;
    return apr_pcalloc(st->pool, sizeof(csv_state_t));
}

/* A rule names a column of a csv with a header: a new untyped field. */
static int add_field(format_t *f, const char *name, size_t len)
{
    return f->header ? format_add_field(f, name, len, FORMAT_AUTO) : -1;
}

static const char *const names[] = {"csv", NULL};

/* A csv without a header is closed: create points its f->ops here (format_is_open). */
static const format_ops_t csv_closed_ops = {
    .names = names, .create = NULL, .state_create = state_create, .header = header, .parse = parse};

static apr_status_t create(format_t *f, format_spec_t *spec, abbey_err_t *err)
{
    csv_t *cv = apr_pcalloc(f->pool, sizeof *cv);
    apr_status_t rv;
    const char *d = spec->arg ? spec->arg : ",";
    if (strlen(d) != 1 || *d == '"' || *d == '\n' || *d == '\r') {
        abbey_err_set(err,
                      "csv format: delimiter \"%s\": a delimiter is one byte other than a quote "
                      "or a line end, such as \",\", \";\", \"|\" or \"\\t\"",
                      d);
        return APR_EINVAL;
    }
    cv->delim = *d;
    if (!spec->header && spec->nfields < 1) {
        abbey_err_set(err, "csv format: without a header line, 'fields' names every column in "
                           "order, such as [time:time, user, status:int]; with one, say "
                           "header: true");
        return APR_EINVAL;
    }
    if ((rv = format_add_listed(f, spec, "csv", err)) != APR_SUCCESS)
        return rv;
    f->header = spec->header;
    f->impl = cv;
    if (!f->header)
        f->ops = &csv_closed_ops;
    return APR_SUCCESS;
}

const format_ops_t format_csv_ops = {.names = names,
                                     .create = create,
                                     .add_field = add_field,
                                     .state_create = state_create,
                                     .header = header,
                                     .parse = parse};
