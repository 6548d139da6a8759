/* format_json.c - the "json" format: one JSON object per line (see format.h
 * and docs/RULES.md, "json").
 *
 * An open format: its fields are member paths, added when the rules (or
 * `fields:`) name them: a name, then any number of `.name` and `[index]`
 * parts (request.method, tags[0], a.b[2].c); a name is a letter or '_'
 * followed by letters, digits or '_', or any text in backquotes (`@timestamp`,
 * `a b`; a backquote inside is written twice). The paths make a tree, built
 * while the rules load: each node knows its member names (compared by length,
 * then bytes) and array indexes, the field it is (if any), and the mask of
 * fields at or below it.
 *
 * A line is walked once (format_json_int.h: stage one classifies the bytes
 * in bulk, this file walks the grammar, jumping over string contents). The
 * whole line is always checked: one object, then only whitespace; strings
 * closed, without raw control bytes, with valid escapes (\uXXXX, surrogate
 * pairs joined, a lone surrogate is bad); numbers in JSON's grammar; true,
 * false, null; commas, colons and brackets in place; at most JSON_MAX_DEPTH
 * objects and arrays open at once. Bytes >= 0x80 are kept as they are (not
 * checked as UTF-8). The walk descends only into members under a needed
 * field's path and skips the rest without building anything.
 *
 * Values of needed fields: a string is VALUE_STR (unescaped into the state's
 * scratch when it holds escapes, else pointing into the line); a number is
 * VALUE_INT when written without fraction or exponent and within int64, else
 * VALUE_FLOAT (a number beyond a double's range is FORMAT_BAD_NUMBER); true
 * and false VALUE_BOOL; null, or a member that is absent, VALUE_NULL; an
 * object or array is VALUE_STR of its raw JSON text. An untyped string used
 * as a number converts as an untyped split field does ("200" -> 200, "" and
 * "-" -> VALUE_NULL, other text: FORMAT_BAD_NUMBER); a typed field (`fields:
 * [status:int]`) converts its text (a string's unescaped text) with
 * format_convert. When a key appears twice in one object, the first wins.
 * A line whose structure is broken is bad for that reason whatever the rules
 * need; a needed field that does not convert makes an otherwise sound line
 * bad (FORMAT_BAD_NUMBER / FORMAT_BAD_TIME, naming the first such field). */
#include "format_json_int.h"

#include <apr_strings.h>
#include <math.h>

/* ---- member paths --------------------------------------------------------- */

typedef struct json_node_t json_node_t;

typedef struct json_key_t {
    const char *name; /* the member's name (pool memory) */
    size_t len;
    json_node_t *node;
} json_key_t;

typedef struct json_idx_t {
    uint32_t idx;
    json_node_t *node;
} json_idx_t;

struct json_node_t {
    json_node_t *parent;
    int field;     /* the field this value is, or -1 */
    uint32_t id;   /* its slot in the state's stamps */
    uint64_t mask; /* fields at or below this node */
    int nkeys, nidx;
    uint64_t lens;    /* bit len % 64 set for the length of every key in keys */
    json_key_t *keys; /* members, when the value is an object */
    json_idx_t *idx;  /* elements, when it is an array */
};

typedef struct json_fmt_t {
    json_node_t root;
    uint32_t nnodes;
} json_fmt_t;

/* One part of a member path: a name (backquoted: quoted set, backquotes
 * still doubled) or an array index. */
typedef struct json_seg_t {
    const char *name;
    size_t len;
    int quoted;
    int is_index;
    uint32_t index;
} json_seg_t;

static int ident_byte(char c, int first)
{
    return c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
           (!first && c >= '0' && c <= '9');
}

/* The path part at s (the first: a name only). Returns its end, or NULL when
 * no valid part starts there. */
static const char *path_seg(const char *s, const char *e, int first, json_seg_t *g)
{
    memset(g, 0, sizeof *g);
    if (!first && s < e && *s == '[') {
        uint64_t n = 0;
        const char *d = ++s;
        while (s < e && (unsigned)(*s - '0') <= 9 && n <= JSON_MAX_INDEX)
            n = n * 10 + (unsigned)(*s++ - '0');
        if (s == d || s == e || *s != ']' || n > JSON_MAX_INDEX)
            return NULL;
        g->is_index = 1;
        g->index = (uint32_t)n;
        return s + 1;
    }
    if (!first && (s == e || *s++ != '.'))
        return NULL;
    if (s < e && *s == '`') {
        g->name = ++s;
        g->quoted = 1;
        for (;; s++) {
            if (s == e)
                return NULL;
            if (*s == '`' && (s + 1 == e || s[1] != '`'))
                break;
            s += *s == '`'; /* a doubled backquote */
        }
        g->len = (size_t)(s - g->name);
        return s + 1;
    }
    g->name = s;
    if (s == e || !ident_byte(*s, 1))
        return NULL;
    while (s < e && ident_byte(*s, 0))
        s++;
    g->len = (size_t)(s - g->name);
    return s;
}

/* The end of the member path at [s, e): the first byte that continues no
 * part, or NULL when the path is malformed there (s itself when no path
 * starts at s). */
static const char *path_end(const char *s, const char *e)
{
    json_seg_t g;
    const char *q = path_seg(s, e, 1, &g);
    if (!q)
        return s;
    while (q < e && (*q == '.' || *q == '['))
        if (!(q = path_seg(q, e, 0, &g)))
            return NULL;
    return q;
}

static json_node_t *new_node(format_t *f, json_node_t *parent)
{
    json_fmt_t *jf = f->impl;
    json_node_t *n = apr_pcalloc(f->pool, sizeof *n);
    n->parent = parent;
    n->field = -1;
    n->id = jf->nnodes++;
    return n;
}

/* The child of n the part g names, made when there is none yet. */
static json_node_t *child(format_t *f, json_node_t *n, const json_seg_t *g)
{
    if (g->is_index) {
        json_idx_t *a;
        for (int k = 0; k < n->nidx; k++)
            if (n->idx[k].idx == g->index)
                return n->idx[k].node;
        a = apr_palloc(f->pool, sizeof *a * (size_t)(n->nidx + 1));
        if (n->nidx)
            memcpy(a, n->idx, sizeof *a * (size_t)n->nidx);
        a[n->nidx] = (json_idx_t){g->index, new_node(f, n)};
        n->idx = a;
        return a[n->nidx++].node;
    }
    char *name = apr_palloc(f->pool, g->len + 1);
    size_t len = 0;
    for (size_t k = 0; k < g->len; k++) { /* a quoted name's `` is one backquote */
        name[len++] = g->name[k];
        k += g->quoted && g->name[k] == '`';
    }
    name[len] = '\0';
    for (int k = 0; k < n->nkeys; k++)
        if (n->keys[k].len == len && memcmp(n->keys[k].name, name, len) == 0)
            return n->keys[k].node;
    json_key_t *a = apr_palloc(f->pool, sizeof *a * (size_t)(n->nkeys + 1));
    if (n->nkeys)
        memcpy(a, n->keys, sizeof *a * (size_t)n->nkeys);
    a[n->nkeys] = (json_key_t){name, len, new_node(f, n)};
    n->lens |= (uint64_t)1 << (len & 63);
    n->keys = a;
    return a[n->nkeys++].node;
}

/* The node of the whole path [s, e), made as needed; NULL when [s, e) is not
 * one member path. */
static json_node_t *path_node(format_t *f, const char *s, const char *e)
{
    json_fmt_t *jf = f->impl;
    json_node_t *n = &jf->root;
    json_seg_t g;
    if (path_end(s, e) != e || s == e)
        return NULL;
    for (int first = 1; s < e; first = 0) {
        s = path_seg(s, e, first, &g);
        n = child(f, n, &g);
    }
    return n;
}

/* Make n field name[0..len) of type; returns its index, or -1 when no field
 * is left. */
static int add_at(format_t *f, json_node_t *n, const char *name, size_t len, format_type_t type)
{
    int i = format_add_field(f, name, len, type);
    if (i < 0)
        return -1;
    n->field = i;
    for (; n; n = n->parent)
        n->mask |= (uint64_t)1 << i;
    return i;
}

static int add_field(format_t *f, const char *name, size_t len)
{
    json_node_t *n = path_node(f, name, name + len);
    if (!n)
        return -1;
    if (n->field >= 0) /* the same path spelled another way: `a`.b and a.b */
        return n->field;
    return add_at(f, n, name, len, FORMAT_AUTO);
}

/* `fields:` item i (1-based): "path" or "path:type". */
static apr_status_t create_field(format_t *f, int i, const char *spec, abbey_err_t *err)
{
    size_t n = strlen(spec);
    const char *end = path_end(spec, spec + n), *tname;
    format_type_t type = FORMAT_AUTO;
    json_node_t *node;
    size_t tl;
    if (!end || end == spec || (*end && *end != ':')) {
        abbey_err_set(err,
                      "json format: field %d \"%s\": a member path is a name (a letter or '_' "
                      "followed by letters, digits or '_', or any text in backquotes) followed "
                      "by .name or [index] parts, such as request.method, tags[0] or `@timestamp`",
                      i, spec);
        return APR_EINVAL;
    }
    if (*end == ':') { /* the type, checked by the shared field parser */
        const char *probe = apr_pstrcat(f->pool, "x", end, NULL);
        if (format_field_spec("json", i, probe, NULL, &tname, &tl, &type, err) != APR_SUCCESS) {
            abbey_err_set(err,
                          "json format: field %d \"%s\": unknown type \"%s\" (int, float, time "
                          "or str)",
                          i, spec, end + 1);
            return APR_EINVAL;
        }
    }
    node = path_node(f, spec, end);
    if (node->field >= 0) {
        abbey_err_set(err, "json format: fields: field %d \"%s\": the path is listed twice", i,
                      spec);
        return APR_EINVAL;
    }
    if (add_at(f, node, spec, (size_t)(end - spec), type) < 0) {
        abbey_err_set(err, "json format: field %d \"%s\": too many fields (at most %d)", i, spec,
                      FORMAT_MAX_FIELDS);
        return APR_EINVAL;
    }
    return APR_SUCCESS;
}

static apr_status_t create(format_t *f, format_spec_t *spec, abbey_err_t *err)
{
    json_fmt_t *jf = apr_pcalloc(f->pool, sizeof *jf);
    jf->root.field = -1;
    jf->nnodes = 1;
    f->impl = jf;
    if ((spec->arg && *spec->arg) || spec->header) {
        abbey_err_set(err, "json format: takes no %s (only fields, time_format and timezone)",
                      spec->header ? "header" : "delimiter or argument");
        return APR_EINVAL;
    }
    for (int i = 0; i < spec->nfields; i++) {
        apr_status_t rv = create_field(f, i + 1, spec->fields[i] ? spec->fields[i] : "", err);
        if (rv != APR_SUCCESS)
            return rv;
    }
    return APR_SUCCESS;
}

/* ---- per-thread state --------------------------------------------------- */

typedef struct json_frame_t {
    const json_node_t *node; /* the container's node; NULL when nothing needed is below */
    const char *start;       /* its opening bracket */
    uint32_t idx;            /* an array's current element */
    char close;              /* '}' or ']' */
} json_frame_t;

typedef struct json_state_t {
    json_bits_t bits;
    uint32_t gen;     /* counts parses: stamps[id] == gen when node id was met on this line */
    uint32_t *stamps; /* per node */
    uint32_t nstamps;
    json_frame_t stack[JSON_MAX_DEPTH];
} json_state_t;

static void *state_create(const format_t *f, format_state_t *st)
{
    const json_fmt_t *jf = f->impl;
    json_state_t *js = apr_pcalloc(st->pool, sizeof *js);
    js->stamps = apr_pcalloc(st->pool, sizeof *js->stamps * jf->nnodes);
    js->nstamps = jf->nnodes;
    return js;
}

/* ---- parsing ------------------------------------------------------------ */

static inline const char *skip_ws(const char *p, const char *end)
{
    while (p < end && (unsigned char)*p <= ' ' &&
           (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

/* The string whose content starts at s: the position after its closing
 * quote, or NULL with *why set. *esc is set when the string holds escapes. */
static inline const char *scan_string(json_bits_t *b, json_win_t *win, const char *s, int *esc,
                                      format_bad_t *why)
{
    const char *line = b->line;
    size_t pos = (size_t)(s - line);
    for (;;) {
        uint32_t cp;
        const char *q;
        pos = json_next_special(b, win, pos);
        if (__builtin_expect(pos < b->len && line[pos] == '"', 1))
            return line + pos + 1;
        if (pos >= b->len) {
            *why = FORMAT_BAD_QUOTE;
            return NULL;
        }
        if (line[pos] != '\\') { /* a raw control byte */
            *why = FORMAT_BAD_SYNTAX;
            return NULL;
        }
        if (!(q = json_escape(line + pos, line + b->len, &cp))) {
            *why = FORMAT_BAD_ESCAPE;
            return NULL;
        }
        *esc = 1;
        pos = (size_t)(q - line);
    }
}

/* The member of n named by the key [s, e) (escaped when esc), when a needed
 * field is at or below it and it was not met before in this object. */
static const json_node_t *find_key(format_state_t *st, json_state_t *js, const json_node_t *n,
                                   const char *s, const char *e, int esc, uint64_t need)
{
    size_t len = (size_t)(e - s);
    if (!esc && !((n->lens >> (len & 63)) & 1))
        return NULL; /* no member has this length: the common case */
    if (esc) {
        char *o = format_scratch(st, len);
        len = json_unescape(s, e, o);
        s = o;
    }
    for (int k = 0; k < n->nkeys; k++) {
        const json_key_t *key = &n->keys[k];
        if (key->len != len || !(key->node->mask & need) || memcmp(key->name, s, len) != 0)
            continue;
        if (js->stamps[key->node->id] == js->gen)
            return NULL; /* a duplicate key: the first one wins */
        js->stamps[key->node->id] = js->gen;
        return key->node;
    }
    return NULL;
}

/* Element idx of the array whose node is n, when needed. */
static inline const json_node_t *find_idx(const json_node_t *n, uint32_t idx, uint64_t need)
{
    if (!n)
        return NULL;
    for (int k = 0; k < n->nidx; k++)
        if (n->idx[k].idx == idx)
            return (n->idx[k].node->mask & need) ? n->idx[k].node : NULL;
    return NULL;
}

/* The field n's value is, when it is needed; else -1. */
static inline int wanted(const json_node_t *n, uint64_t need)
{
    return n && n->field >= 0 && ((need >> n->field) & 1) ? n->field : -1;
}

/* Field i is the string with content [s, e). */
static format_bad_t set_string(format_state_t *st, int i, const char *s, const char *e, int esc,
                               uint64_t num, value_t *v)
{
    if (esc) {
        char *o = format_scratch(st, (size_t)(e - s));
        e = o + json_unescape(s, e, o);
        s = o;
    }
    if (st->f->types[i] == FORMAT_AUTO && !((num >> i) & 1)) {
        format_set(v, VALUE_STR, s, (size_t)(e - s));
        return FORMAT_OK;
    }
    return format_convert(st, i, s, e, num, v);
}

/* Field i is the number [s, e). */
static format_bad_t set_number(format_state_t *st, int i, const char *s, const char *e, int is_int,
                               uint64_t num, value_t *v)
{
    if (st->f->types[i] != FORMAT_AUTO)
        return format_convert(st, i, s, e, num, v);
    format_set(v, VALUE_INT, s, (size_t)(e - s));
    if (is_int && e - s <= 18) { /* at most 18 digits: cannot overflow */
        int64_t n = 0;
        for (const char *d = s + (*s == '-'); d < e; d++)
            n = n * 10 + (*d - '0');
        v->i = *s == '-' ? -n : n;
        return FORMAT_OK;
    }
    if (is_int && format_scan_int(s, e, &v->i) == 0)
        return FORMAT_OK;
    v->kind = VALUE_FLOAT;
    if (format_scan_float(s, e, &v->f) == 0 && isfinite(v->f))
        return FORMAT_OK;
    st->bad_field = i;
    return FORMAT_BAD_NUMBER;
}

/* Field i is true, false (kind VALUE_BOOL), or an object or array (kind
 * VALUE_STR), written [s, e). */
static format_bad_t set_other(format_state_t *st, int i, value_kind_t kind, const char *s,
                              const char *e, uint64_t num, value_t *v)
{
    if (st->f->types[i] != FORMAT_AUTO || (kind == VALUE_STR && ((num >> i) & 1)))
        return format_convert(st, i, s, e, num, v);
    format_set(v, kind, s, (size_t)(e - s));
    v->i = *s == 't';
    return FORMAT_OK;
}

#define LIT4(p, a, b, c, d) ((p)[0] == (a) && (p)[1] == (b) && (p)[2] == (c) && (p)[3] == (d))
#define AT(p) ((p) < end ? *(p) : '\0') /* '\0' is never valid where a byte is expected */

static inline int is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* The walk: one pass over the grammar with an explicit stack (no recursion),
 * written as a state machine whose labels are the places a JSON value can be
 * in: a container opens, a key, a value, after a value, a container closes.
 * The common case of no whitespace between tokens costs one byte test each. */
static format_bad_t parse(format_state_t *st, const char *line, size_t len, uint64_t need,
                          uint64_t num, value_t *v)
{
    const json_fmt_t *jf = st->f->impl;
    json_state_t *js = st->impl;
    const char *p, *s, *end = line + len;
    const json_node_t *node; /* the node of the value at p, or NULL */
    json_frame_t *top = NULL;
    json_win_t win; /* stage one's window (kept out of memory others may write) */
    format_bad_t why = FORMAT_OK;
    format_bad_t conv = FORMAT_OK; /* the first needed field that did not convert */
    int depth = 0, esc, is_int, i;
    char c;

    ABBEY_ASSERT(js->nstamps == jf->nnodes); /* no field was added after the state was made */
    for (i = 0; i < st->f->nfields; i++)
        format_set(&v[i], VALUE_NULL, NULL, 0);
    if (++js->gen == 0) { /* wrapped: forget every stamp */
        memset(js->stamps, 0, sizeof *js->stamps * jf->nnodes);
        js->gen = 1;
    }
    json_bits_start(&js->bits, &win, line, len);
    p = skip_ws(line, end);
    if (AT(p) != '{')
        return FORMAT_BAD_SYNTAX;
    node = (jf->root.mask & need) ? &jf->root : NULL;

open: /* p is at the '{' or '[' of a container whose node is node */
    if (depth == JSON_MAX_DEPTH)
        return FORMAT_BAD_SYNTAX;
    top = &js->stack[depth++];
    top->node = node;
    top->start = p;
    top->close = (char)(*p + 2); /* '{' + 2 is '}', '[' + 2 is ']' */
    top->idx = 0;
    p = skip_ws(p + 1, end);
    if (AT(p) == top->close) {
        p++;
        goto close;
    }
    if (top->close == ']') {
        node = find_idx(top->node, 0, need);
        goto value;
    }

key: /* p is at a member's key (or whitespace before it) in the object top */
    if (AT(p) != '"') {
        p = skip_ws(p, end);
        if (AT(p) != '"')
            return FORMAT_BAD_SYNTAX;
    }
    s = p + 1;
    esc = 0;
    if (!(p = scan_string(&js->bits, &win, s, &esc, &why)))
        return why;
    node = top->node ? find_key(st, js, top->node, s, p - 1, esc, need) : NULL;
    if (AT(p) != ':') {
        p = skip_ws(p, end);
        if (AT(p) != ':')
            return FORMAT_BAD_SYNTAX;
    }
    p++;

value: /* p is at a value (or whitespace before it); node is its node */
    c = AT(p);
    if (c == '"') {
        s = p + 1;
        esc = 0;
        if (!(p = scan_string(&js->bits, &win, s, &esc, &why)))
            return why;
        if (conv == FORMAT_OK && (i = wanted(node, need)) >= 0)
            conv = set_string(st, i, s, p - 1, esc, num, &v[i]);
        goto after;
    }
    switch (c) {
    case '{':
    case '[':
        goto open;
    case '-':
    case '0':
    case '1':
    case '2':
    case '3':
    case '4':
    case '5':
    case '6':
    case '7':
    case '8':
    case '9':
        s = p;
        if (!(p = json_number(p, end, &is_int)))
            return FORMAT_BAD_SYNTAX;
        if (conv == FORMAT_OK && (i = wanted(node, need)) >= 0)
            conv = set_number(st, i, s, p, is_int, num, &v[i]);
        goto after;
    case 't':
    case 'f':
    case 'n':
        s = p;
        if (end - p >= 4 && (LIT4(p, 't', 'r', 'u', 'e') || LIT4(p, 'n', 'u', 'l', 'l')))
            p += 4;
        else if (end - p >= 5 && LIT4(p + 1, 'a', 'l', 's', 'e') && *p == 'f')
            p += 5;
        else
            return FORMAT_BAD_SYNTAX;
        if (conv == FORMAT_OK && (i = wanted(node, need)) >= 0) {
            if (*s == 'n')
                format_set(&v[i], VALUE_NULL, s, 4);
            else
                conv = set_other(st, i, VALUE_BOOL, s, p, num, &v[i]);
        }
        goto after;
    case ' ':
    case '\t':
    case '\n':
    case '\r':
        p = skip_ws(p, end);
        goto value;
    default:
        return FORMAT_BAD_SYNTAX;
    }

after: /* p is just after a value inside the container top */
    c = AT(p);
    if (c == ',') {
        p++;
        if (top->close == '}')
            goto key;
        node = find_idx(top->node, ++top->idx, need);
        goto value;
    }
    if (c == top->close) {
        p++;
        goto close;
    }
    if (!is_ws(c))
        return FORMAT_BAD_SYNTAX;
    p = skip_ws(p, end);
    goto after;

close: /* p is just after the bracket closing the container top */
    if (conv == FORMAT_OK && (i = wanted(top->node, need)) >= 0)
        conv = set_other(st, i, VALUE_STR, top->start, p, num, &v[i]);
    if (--depth == 0) { /* the line's object: only whitespace may follow */
        p = skip_ws(p, end);
        return p == end ? conv : FORMAT_BAD_SYNTAX; /* a conversion fails a sound line only */
    }
    top--;
    goto after;
}

static const char *const names[] = {"json", NULL};

const format_ops_t format_json_ops = {.names = names,
                                      .create = create,
                                      .add_field = add_field,
                                      .state_create = state_create,
                                      .parse = parse};
