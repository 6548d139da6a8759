/* format_logfmt.c - the "logfmt" format: key=value pairs separated by blanks,
 * as written by go-kit/log, logrus, zap's logfmt encoder and Heroku's router
 * (see format.h and docs/RULES.md, "logfmt").
 *
 * The grammar is go-logfmt's (github.com/go-logfmt/logfmt):
 * - pairs are separated by one or more blanks: any byte up to ' ' (space,
 *   tab, control bytes, NUL);
 * - a key is one or more bytes other than blanks, '=' and '"' (UTF-8 and
 *   dots welcome: `http.status`, `request-id`);
 * - `key=value`: a bare value is bytes other than blanks, and may be empty
 *   (`key=`); a '=' or '"' inside it is a syntax error (writers quote such
 *   values);
 * - `key="value"`: a quoted value ends at the first '"' not escaped; the
 *   escapes are JSON's: \" \\ \/ \b \f \n \r \t and \uXXXX (a surrogate pair
 *   is one character; a lone surrogate becomes U+FFFD); any other escape is
 *   FORMAT_BAD_ESCAPE, no closing quote FORMAT_BAD_QUOTE, and the closing
 *   quote must be followed by a blank or the end (else FORMAT_BAD_SYNTAX).
 *   Other bytes, tabs and invalid UTF-8 included, are kept as written;
 * - a bare `key` (no '=') is a flag: boolean true in an untyped field, the
 *   empty value in a typed one (text "" for str, missing for int, float and
 *   time);
 * - a line without any pair (empty or blank) is FORMAT_BAD_SYNTAX, as is a
 *   pair that starts with '=' or '"'.
 * The first occurrence of a key wins; later ones are checked and skipped.
 *
 * It is an open format: a field is a key a rule names (format_field_index),
 * or one listed in `fields:` with its type; untyped fields are FORMAT_AUTO.
 * Every pair of every line is checked, but only the values of needed fields
 * are located, unescaped (into the state's scratch, only when they hold an
 * escape) and converted, after the whole line is known to be well formed. */
#include "format_int.h"

#include <apr_strings.h>

/* Keys are looked up by length first: the fields whose name is n bytes long
 * (n < LOGFMT_LENS), or LOGFMT_LENS bytes or longer. */
#define LOGFMT_LENS 32

typedef struct logfmt_t {
    uint64_t bylen[LOGFMT_LENS + 1];
} logfmt_t;

/* Where a needed field's value lies in the current line. */
typedef enum { V_BARE, V_QUOTED, V_ESCAPED, V_FLAG } logfmt_vkind_t;
typedef struct logfmt_span_t {
    const char *p, *e; /* the value's text (a flag: empty, at the key's end) */
    logfmt_vkind_t kind;
} logfmt_span_t;

static inline int blank(char c)
{
    return (unsigned char)c <= ' ';
}

static inline int key_byte(char c)
{
    return !blank(c) && c != '=' && c != '"';
}

/* ---- compiling --------------------------------------------------------- */

static int add_named(format_t *f, const char *name, size_t len, format_type_t type)
{
    logfmt_t *lf = f->impl;
    int i = format_add_field(f, name, len, type);
    if (i >= 0)
        lf->bylen[len < LOGFMT_LENS ? len : LOGFMT_LENS] |= (uint64_t)1 << i;
    return i;
}

/* A field named by a rule: any text that can be a key. */
static int add_field(format_t *f, const char *name, size_t len)
{
    if (len == 0)
        return -1;
    for (size_t k = 0; k < len; k++)
        if (!key_byte(name[k]))
            return -1;
    return add_named(f, name, len, FORMAT_AUTO);
}

static apr_status_t create(format_t *f, format_spec_t *spec, abbey_err_t *err)
{
    f->impl = apr_pcalloc(f->pool, sizeof(logfmt_t));
    if (spec->arg || spec->header) {
        abbey_err_set(err,
                      "logfmt format: %s does not apply (keys and values are separated by "
                      "'=', pairs by blanks)",
                      spec->arg ? "delimiter" : "header");
        return APR_EINVAL;
    }
    if (spec->nfields > FORMAT_MAX_FIELDS) {
        abbey_err_set(err, "logfmt format: too many fields (%d, at most %d)", spec->nfields,
                      FORMAT_MAX_FIELDS);
        return APR_EINVAL;
    }
    for (int i = 0; i < spec->nfields; i++) {
        const char *name;
        size_t n;
        format_type_t type;
        apr_status_t rv =
            format_field_spec("logfmt", i + 1, spec->fields[i], ".-/@", &name, &n, &type, err);
        if (rv != APR_SUCCESS)
            return rv;
        for (int k = 0; k < f->nfields; k++)
            if (f->namelens[k] == n && memcmp(f->names[k], name, n) == 0) {
                abbey_err_set(err, "logfmt format: fields: field %d \"%.*s\": duplicate name",
                              i + 1, (int)n, name);
                return APR_EINVAL;
            }
        add_named(f, name, n, type);
    }
    return APR_SUCCESS;
}

/* ---- parsing ----------------------------------------------------------- */

/* The quoted value whose text starts at p (after its opening quote): checks
 * every escape up to the closing quote, which goes to *close; *esc is 1 when
 * the text holds an escape. FORMAT_OK, FORMAT_BAD_ESCAPE (an escape that is
 * not one of JSON's) or FORMAT_BAD_QUOTE (the line ends first). */
static format_bad_t scan_quoted(const char *p, const char *end, const char **close, int *esc)
{
    *esc = 0;
    for (;;) {
        const char *q = memchr(p, '"', (size_t)(end - p));
        const char *b = memchr(p, '\\', (size_t)((q ? q : end) - p));
        if (!b) {
            if (!q)
                return FORMAT_BAD_QUOTE;
            *close = q;
            return FORMAT_OK;
        }
        *esc = 1;
        if (++b == end)
            return FORMAT_BAD_QUOTE;
        switch (*b) {
        case '"':
        case '\\':
        case '/':
        case 'b':
        case 'f':
        case 'n':
        case 'r':
        case 't':
            p = b + 1;
            break;
        case 'u':
            for (int k = 1; k <= 4; k++) {
                if (b + k == end)
                    return FORMAT_BAD_QUOTE;
                unsigned c = (unsigned char)b[k];
                if (c - '0' > 9 && (c | 0x20) - 'a' > 5)
                    return FORMAT_BAD_ESCAPE; /* not a hex digit */
            }
            p = b + 5;
            break;
        default:
            return FORMAT_BAD_ESCAPE;
        }
    }
}

/* The text [p, e) of a quoted value checked by scan_quoted, unescaped into o
 * (never longer than e - p). Returns its length. */
static size_t unescape(const char *p, const char *e, char *o)
{
    char *start = o;
    while (p < e) {
        const char *b = memchr(p, '\\', (size_t)(e - p));
        size_t n = (size_t)((b ? b : e) - p);
        memcpy(o, p, n);
        o += n;
        if (!b)
            break;
        p = b + 2;
        switch (b[1]) {
        case 'b':
            *o++ = '\b';
            break;
        case 'f':
            *o++ = '\f';
            break;
        case 'n':
            *o++ = '\n';
            break;
        case 'r':
            *o++ = '\r';
            break;
        case 't':
            *o++ = '\t';
            break;
        case 'u': {
            int cp = format_hex4(p), lo; /* both checked by scan_quoted */
            p += 4;
            if (cp >= 0xd800 && cp < 0xdc00 && e - p >= 6 && p[0] == '\\' && p[1] == 'u' &&
                (lo = format_hex4(p + 2)) >= 0xdc00 && lo < 0xe000) {
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                p += 6;
            }
            if (cp >= 0xd800 && cp < 0xe000)
                cp = 0xfffd; /* a lone surrogate */
            o += format_utf8_put((uint32_t)cp, o);
            break;
        }
        default: /* '"', '\\', '/' */
            *o++ = b[1];
            break;
        }
    }
    return (size_t)(o - start);
}

/* The needed field, not found yet, whose name is key[0..n), or -1. */
static inline int lookup(const format_t *f, const logfmt_t *lf, uint64_t want, const char *key,
                         size_t n)
{
    for (uint64_t c = lf->bylen[n < LOGFMT_LENS ? n : LOGFMT_LENS] & want; c; c &= c - 1) {
        int i = __builtin_ctzll(c);
        if (f->namelens[i] == n && memcmp(f->names[i], key, n) == 0)
            return i;
    }
    return -1;
}

/* Field i from its span (or missing when none was found). */
static format_bad_t set_field(format_state_t *st, int i, const logfmt_span_t *s, uint64_t num,
                              value_t *v)
{
    const char *p = s->p, *e = s->e;
    if (s->kind == V_FLAG && st->f->types[i] == FORMAT_AUTO) {
        format_set(v, VALUE_BOOL, NULL, 0);
        v->i = 1;
        return FORMAT_OK;
    }
    if (s->kind == V_ESCAPED) {
        char *o = format_scratch(st, (size_t)(e - p));
        e = o + unescape(p, e, o);
        p = o;
    }
    return format_convert(st, i, p, e, num, v);
}

static format_bad_t parse(format_state_t *st, const char *line, size_t len, uint64_t need,
                          uint64_t num, value_t *v)
{
    const format_t *f = st->f;
    const logfmt_t *lf = f->impl;
    const char *p = line, *end = line + len;
    uint64_t all = f->nfields >= 64 ? ~(uint64_t)0 : ((uint64_t)1 << f->nfields) - 1;
    uint64_t want = need & all, found = 0;
    logfmt_span_t at[FORMAT_MAX_FIELDS];
    int pairs = 0;
    format_bad_t why;

    for (;; pairs++) {
        const char *key, *ke;
        logfmt_span_t s;
        while (p < end && blank(*p))
            p++;
        if (p == end)
            break;
        for (key = p; p < end && key_byte(*p); p++)
            ;
        if ((ke = p) == key || (p < end && *p == '"'))
            return FORMAT_BAD_SYNTAX; /* "=v", "\"k\"=v", k"v" */
        s = (logfmt_span_t){ke, ke, V_FLAG};
        if (p < end && *p == '=') {
            s.p = ++p;
            if (p < end && *p == '"') {
                int esc;
                s.p = ++p;
                if ((why = scan_quoted(p, end, &s.e, &esc)) != FORMAT_OK)
                    return why;
                s.kind = esc ? V_ESCAPED : V_QUOTED;
                p = s.e + 1;
                if (p < end && !blank(*p))
                    return FORMAT_BAD_SYNTAX; /* k="v"x */
            } else {
                for (; p < end && !blank(*p); p++)
                    if (*p == '=' || *p == '"')
                        return FORMAT_BAD_SYNTAX;
                s.e = p;
                s.kind = V_BARE;
            }
        }
        if (want & ~found) {
            int i = lookup(f, lf, want & ~found, key, (size_t)(ke - key));
            if (i >= 0) {
                at[i] = s;
                found |= (uint64_t)1 << i;
            }
        }
    }
    if (pairs == 0)
        return FORMAT_BAD_SYNTAX;
    for (int i = 0; i < f->nfields; i++) {
        if (!((found >> i) & 1)) {
            format_set(&v[i], VALUE_NULL, NULL, 0);
            continue;
        }
        if ((why = set_field(st, i, &at[i], num, &v[i])) != FORMAT_OK)
            return why;
    }
    return FORMAT_OK;
}

static const char *const names[] = {"logfmt", NULL};

const format_ops_t format_logfmt_ops = {
    .names = names, .create = create, .add_field = add_field, .parse = parse};
