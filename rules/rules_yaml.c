/* rules_yaml.c - the YAML side of the rules loader (see rules_int.h).
 *
 * Loads the rules text with libyaml's document API, maps libyaml's 0-based
 * marks to 1-based "file:line:col" messages, and offers typed getters that
 * fail with a positioned message saying what was expected. Also mends plain
 * scalars that a comma cut short inside a flow collection (rules_int.h). */
#include "rules_int.h"

#include <apr_strings.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- positions ---- */

/* Start of every line, as libyaml counts lines (\n, \r, \r\n, NEL, LS, PS). */
static void index_lines(rules_ctx_t *c)
{
    int cap = 64, n = 1;
    size_t *l = apr_palloc(c->tmp, sizeof *l * (size_t)cap);
    const unsigned char *t = (const unsigned char *)c->text;
    l[0] = 0;
    for (size_t i = 0; i < c->len; i++) {
        size_t next = 0;
        if (t[i] == '\n')
            next = i + 1;
        else if (t[i] == '\r')
            next = (i + 1 < c->len && t[i + 1] == '\n') ? i + 2 : i + 1;
        else if (t[i] == 0xC2 && i + 1 < c->len && t[i + 1] == 0x85)
            next = i + 2;
        else if (t[i] == 0xE2 && i + 2 < c->len && t[i + 1] == 0x80 &&
                 (t[i + 2] == 0xA8 || t[i + 2] == 0xA9))
            next = i + 3;
        if (!next)
            continue;
        if (n == cap) {
            size_t *g = apr_palloc(c->tmp, sizeof *g * (size_t)cap * 2);
            memcpy(g, l, sizeof *l * (size_t)cap);
            l = g;
            cap *= 2;
        }
        l[n++] = next;
        i = next - 1;
    }
    c->lines = l;
    c->nlines = n;
}

/* Bytes taken by the UTF-8 character starting with byte b. */
static size_t utf8_width(unsigned char b)
{
    return b < 0x80             ? 1
           : (b & 0xE0) == 0xC0 ? 2
           : (b & 0xF0) == 0xE0 ? 3
           : (b & 0xF8) == 0xF0 ? 4
                                : 1;
}

/* Characters in s[0..n). */
static int utf8_chars(const char *s, size_t n)
{
    int k = 0;
    for (size_t i = 0; i < n; i += utf8_width((unsigned char)s[i]))
        k++;
    return k;
}

/* Byte offset of a libyaml mark (line, character column) in the text. */
static size_t mark_offset(const rules_ctx_t *c, yaml_mark_t m)
{
    size_t off;
    if (m.line >= (size_t)c->nlines)
        return c->len;
    off = c->lines[m.line];
    for (size_t k = 0; k < m.column && off < c->len; k++)
        off += utf8_width((unsigned char)c->text[off]);
    return off < c->len ? off : c->len;
}

/* Line and column (1-based) of a byte offset. */
static void offset_pos(const rules_ctx_t *c, size_t off, int *line, int *col)
{
    int lo = 0, hi = c->nlines - 1;
    while (lo < hi) {
        int mid = (lo + hi + 1) / 2;
        if (c->lines[mid] <= off)
            lo = mid;
        else
            hi = mid - 1;
    }
    *line = lo + 1;
    *col = utf8_chars(c->text + c->lines[lo], off - c->lines[lo]) + 1;
}

int rules_y_line(const yaml_node_t *n)
{
    return (int)n->start_mark.line + 1;
}

int rules_y_col(const yaml_node_t *n)
{
    return (int)n->start_mark.column + 1;
}

apr_status_t rules_y_err(rules_ctx_t *c, const yaml_node_t *n, const char *fmt, ...)
{
    char msg[ABBEY_ERR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    abbey_err_set(c->err, "%s:%d:%d: %s", c->file, n ? rules_y_line(n) : 1, n ? rules_y_col(n) : 1,
                  msg);
    return APR_EINVAL;
}

apr_status_t rules_y_err_at(rules_ctx_t *c, const rules_y_val_t *v, size_t off, const char *fmt,
                            ...)
{
    char msg[ABBEY_ERR_MAX];
    int line, col;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    rules_y_text_pos(c, v, off, &line, &col);
    abbey_err_set(c->err, "%s:%d:%d: %s", c->file, line, col, msg);
    return APR_EINVAL;
}

void rules_y_text_pos(rules_ctx_t *c, const rules_y_val_t *v, size_t off, int *line, int *col)
{
    const yaml_node_t *n = v->node;
    const char *t = v->text ? v->text : "";
    size_t nl = 0;
    int breaks = 0;

    *line = rules_y_line(n);
    *col = rules_y_col(n);
    if (n->type != YAML_SCALAR_NODE)
        return;
    for (size_t i = 0; i < off && t[i]; i++)
        if (t[i] == '\n') {
            breaks++;
            nl = i + 1;
        }
    switch (n->data.scalar.style) {
    case YAML_LITERAL_SCALAR_STYLE:
    case YAML_FOLDED_SCALAR_STYLE: {
        /* content starts on the next line, at that line's indentation */
        size_t s;
        int ind = 0;
        if (n->start_mark.line + 1 >= (size_t)c->nlines)
            return;
        s = c->lines[n->start_mark.line + 1];
        while (s + (size_t)ind < c->len && c->text[s + (size_t)ind] == ' ')
            ind++;
        *line += 1 + (n->data.scalar.style == YAML_LITERAL_SCALAR_STYLE ? breaks : 0);
        *col = ind + 1 + utf8_chars(t + nl, off - nl);
        return;
    }
    case YAML_SINGLE_QUOTED_SCALAR_STYLE:
    case YAML_DOUBLE_QUOTED_SCALAR_STYLE:
        *col += 1;
        /* fall through */
    default:
        if (breaks == 0)
            *col += utf8_chars(t, off);
        return;
    }
}

/* ---- loading ---- */

static apr_status_t parse_error(rules_ctx_t *c, const yaml_parser_t *p)
{
    int line, col;
    size_t off;
    const char *problem = p->problem ? p->problem : "unknown problem";

    if (p->error == YAML_MEMORY_ERROR) {
        abbey_err_set(c->err, "%s: out of memory while reading the YAML", c->file);
        return APR_ENOMEM;
    }
    if (p->error == YAML_READER_ERROR) {
        off = p->problem_offset < c->len ? p->problem_offset : c->len;
        offset_pos(c, off, &line, &col);
        if (p->problem_value != -1)
            abbey_err_set(c->err, "%s:%d:%d: %s (byte 0x%02x); the rules file must be UTF-8 text",
                          c->file, line, col, problem, (unsigned)p->problem_value & 0xff);
        else
            abbey_err_set(c->err, "%s:%d:%d: %s; the rules file must be UTF-8 text", c->file, line,
                          col, problem);
        return APR_EINVAL;
    }
    off = mark_offset(c, p->problem_mark);
    line = (int)p->problem_mark.line + 1;
    col = (int)p->problem_mark.column + 1;
    const char *tab = off < c->len && c->text[off] == '\t'
                          ? "; tabs cannot be used for indentation in YAML, use spaces"
                          : "";
    if (p->context)
        abbey_err_set(c->err, "%s:%d:%d: YAML syntax error: %s (%s at line %d)%s", c->file, line,
                      col, problem, p->context, (int)p->context_mark.line + 1, tab);
    else
        abbey_err_set(c->err, "%s:%d:%d: YAML syntax error: %s%s", c->file, line, col, problem,
                      tab);
    return APR_EINVAL;
}

apr_status_t rules_y_load(rules_ctx_t *c, yaml_node_t **root)
{
    yaml_parser_t p;
    yaml_document_t extra;
    apr_status_t rv = APR_SUCCESS;

    index_lines(c);
    if (!yaml_parser_initialize(&p)) {
        abbey_err_set(c->err, "%s: out of memory while reading the YAML", c->file);
        return APR_ENOMEM;
    }
    yaml_parser_set_input_string(&p, (const unsigned char *)c->text, c->len);
    yaml_parser_set_encoding(&p, YAML_UTF8_ENCODING);
    if (!yaml_parser_load(&p, &c->doc)) {
        rv = parse_error(c, &p);
        yaml_parser_delete(&p);
        return rv;
    }
    c->have_doc = 1;
    *root = yaml_document_get_root_node(&c->doc);
    if (!*root) {
        abbey_err_set(c->err, "%s:1:1: the rules file is empty; expected a map with a 'jobs' list",
                      c->file);
        rv = APR_EINVAL;
    } else if (!yaml_parser_load(&p, &extra)) {
        rv = parse_error(c, &p);
    } else {
        yaml_node_t *second = yaml_document_get_root_node(&extra);
        if (second)
            rv = rules_y_err(c, second,
                             "a second YAML document starts here; the rules file "
                             "must be one document");
        yaml_document_delete(&extra);
    }
    yaml_parser_delete(&p);
    return rv;
}

void rules_y_done(rules_ctx_t *c)
{
    if (c->have_doc) {
        yaml_document_delete(&c->doc);
        c->have_doc = 0;
    }
}

/* ---- mending comma-split flow scalars ---- */

/* Does a plain scalar leave a parenthesis or a quote open? */
static int cut_short(const char *s)
{
    int depth = 0;
    char q = 0;
    for (; *s; s++) {
        if (q) {
            if (*s == '\\' && q == '"' && s[1])
                s++;
            else if (*s == q)
                q = 0;
        } else if (*s == '"' || *s == '\'') {
            q = *s;
        } else if (*s == '(') {
            depth++;
        } else if (*s == ')' && depth > 0) {
            depth--;
        }
    }
    return depth > 0 || q;
}

/* Re-read the scalar n from the text, through its closing parenthesis, up to
 * the comma or bracket that really ends it (at most at byte limit). Returns
 * the mended text (breaks folded to spaces) and its end offset in *end, or
 * NULL when the text does not close cleanly. */
static char *mend(rules_ctx_t *c, const yaml_node_t *n, size_t limit, size_t *end)
{
    size_t s = mark_offset(c, n->start_mark), i, o = 0;
    int depth = 0;
    char q = 0, *out;

    if (s >= limit || s >= c->len || c->text[s] != (char)n->data.scalar.value[0])
        return NULL;
    for (i = s; i < limit; i++) {
        char ch = c->text[i];
        if (q) {
            if (ch == '\\' && q == '"' && i + 1 < limit)
                i++;
            else if (ch == q)
                q = 0;
        } else if (ch == '"' || ch == '\'') {
            q = ch;
        } else if (ch == '(' || ch == '[') {
            depth++;
        } else if (ch == ')' || ch == ']') {
            if (depth == 0)
                break;
            depth--;
        } else if ((ch == ',' || ch == '}') && depth == 0) {
            break;
        }
    }
    if (q || depth)
        return NULL;
    *end = i;
    out = apr_palloc(c->tmp, i - s + 1);
    for (size_t k = s; k < i; k++) {
        char ch = c->text[k];
        if (ch == '\r' || ch == '\n') {
            while (o > 0 && (out[o - 1] == ' ' || out[o - 1] == '\t'))
                o--;
            while (k + 1 < i && (c->text[k + 1] == ' ' || c->text[k + 1] == '\t' ||
                                 c->text[k + 1] == '\r' || c->text[k + 1] == '\n'))
                k++;
            ch = ' ';
        }
        out[o++] = ch;
    }
    while (o > 0 && (out[o - 1] == ' ' || out[o - 1] == '\t'))
        o--;
    out[o] = '\0';
    return out;
}

static void set_text(rules_y_val_t *v)
{
    if (v->node->type == YAML_SCALAR_NODE) {
        v->text = (const char *)v->node->data.scalar.value;
        v->len = v->node->data.scalar.length;
    } else {
        v->text = NULL;
        v->len = 0;
    }
}

/* Mend cut-short plain scalars of a flow collection and drop what they swallowed. */
static void mend_items(rules_ctx_t *c, const yaml_node_t *coll, rules_y_list_t *l)
{
    size_t limit = mark_offset(c, coll->end_mark), until = 0;
    int k = 0;
    for (int i = 0; i < l->n; i++) {
        rules_y_val_t *v = &l->items[i];
        const yaml_node_t *first = v->key ? v->key : v->node;
        if (until && mark_offset(c, first->start_mark) < until)
            continue; /* a piece of the scalar mended before */
        until = 0;
        if (v->node->type == YAML_SCALAR_NODE &&
            v->node->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && strlen(v->text) == v->len &&
            cut_short(v->text)) {
            size_t end;
            char *m = mend(c, v->node, limit, &end);
            if (m) {
                v->text = m;
                v->len = strlen(m);
                until = end;
            }
        }
        l->items[k++] = *v;
    }
    l->n = k;
}

/* ---- collections ---- */

void rules_y_wrap(yaml_node_t *n, rules_y_val_t *v)
{
    memset(v, 0, sizeof *v);
    v->node = n;
    set_text(v);
}

const char *rules_y_describe(rules_ctx_t *c, const rules_y_val_t *v)
{
    switch (v->node->type) {
    case YAML_SEQUENCE_NODE:
        return "a list";
    case YAML_MAPPING_NODE:
        return "a map";
    case YAML_SCALAR_NODE:
        if (!v->text || v->len == 0)
            return "nothing";
        return apr_psprintf(c->tmp, "text '%.40s%s'", v->text, v->len > 40 ? "..." : "");
    default:
        return "nothing";
    }
}

static const char *join(rules_ctx_t *c, const char *const *words)
{
    const char *s = "";
    for (int i = 0; words[i]; i++)
        s = apr_pstrcat(c->tmp, s, i ? ", " : "", words[i], NULL);
    return s;
}

apr_status_t rules_y_map(rules_ctx_t *c, yaml_node_t *n, const char *what,
                         const char *const *allowed, rules_y_map_t *out)
{
    rules_y_val_t tmp;
    yaml_node_pair_t *p;
    int i = 0;
    apr_status_t rv;

    if (n->type != YAML_MAPPING_NODE) {
        rules_y_wrap(n, &tmp);
        return rules_y_err(c, n, "%s: expected a map, found %s", what, rules_y_describe(c, &tmp));
    }
    out->n = (int)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
    out->items = apr_pcalloc(c->tmp, sizeof *out->items * (size_t)(out->n + 1));
    for (p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++, i++) {
        rules_y_val_t *v = &out->items[i];
        v->key = yaml_document_get_node(&c->doc, p->key);
        v->node = yaml_document_get_node(&c->doc, p->value);
        set_text(v);
        if (v->key->type != YAML_SCALAR_NODE)
            return rules_y_err(c, v->key, "%s: keys must be plain words, found a %s", what,
                               v->key->type == YAML_MAPPING_NODE ? "map" : "list");
        v->name = (const char *)v->key->data.scalar.value;
    }
    if (n->data.mapping.style == YAML_FLOW_MAPPING_STYLE)
        mend_items(c, n, out);
    apr_hash_t *seen = apr_hash_make(c->tmp);
    for (i = 0; i < out->n; i++) {
        rules_y_val_t *v = &out->items[i];
        if (allowed) {
            int k = 0;
            while (allowed[k] && strcmp(allowed[k], v->name) != 0)
                k++;
            if (!allowed[k])
                return rules_y_err(c, v->key, "%s: unknown key '%s' (allowed: %s)", what, v->name,
                                   join(c, allowed));
        }
        if (allowed && (rv = rules_y_unique(c, seen, v->name, v->key, "key")) != APR_SUCCESS)
            return rv;
    }
    return APR_SUCCESS;
}

const rules_y_val_t *rules_y_get(const rules_y_map_t *m, const char *key)
{
    for (int i = 0; i < m->n; i++)
        if (strcmp(m->items[i].name, key) == 0)
            return &m->items[i];
    return NULL;
}

apr_status_t rules_y_need(rules_ctx_t *c, const yaml_node_t *m_node, const rules_y_map_t *m,
                          const char *what, const char *key, const char *hint,
                          const rules_y_val_t **out)
{
    *out = rules_y_get(m, key);
    if (*out)
        return APR_SUCCESS;
    return rules_y_err(c, m_node, "%s: missing required key '%s' (%s)", what, key, hint);
}

apr_status_t rules_y_list(rules_ctx_t *c, const rules_y_val_t *v, const char *what, int min,
                          rules_y_list_t *out)
{
    const yaml_node_t *n = v->node;
    int i = 0;
    if (n->type != YAML_SEQUENCE_NODE)
        return rules_y_err(c, n, "expected a list of %s, found %s", what, rules_y_describe(c, v));
    out->n = (int)(n->data.sequence.items.top - n->data.sequence.items.start);
    if (out->n < min)
        return rules_y_err(c, n,
                           "expected a list of %s with at least %d item%s, found an empty "
                           "list",
                           what, min, min == 1 ? "" : "s");
    out->items = apr_pcalloc(c->tmp, sizeof *out->items * (size_t)(out->n + 1));
    for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top;
         it++, i++) {
        out->items[i].node = yaml_document_get_node(&c->doc, *it);
        set_text(&out->items[i]);
    }
    if (n->data.sequence.style == YAML_FLOW_SEQUENCE_STYLE)
        mend_items(c, n, out);
    return APR_SUCCESS;
}

/* ---- scalars ---- */

apr_status_t rules_y_str(rules_ctx_t *c, const rules_y_val_t *v, const char *what, const char **out)
{
    if (!v->text || v->len == 0)
        return rules_y_err(c, v->node, "expected %s, found %s", what, rules_y_describe(c, v));
    if (strlen(v->text) != v->len)
        return rules_y_err(c, v->node, "expected %s, found text with a NUL character", what);
    *out = apr_pstrmemdup(c->pool, v->text, v->len);
    return APR_SUCCESS;
}

apr_status_t rules_y_name(rules_ctx_t *c, const rules_y_val_t *v, const char *what,
                          const char **out)
{
    apr_status_t rv = rules_y_str(c, v, what, out);
    size_t n;
    if (rv)
        return rv;
    n = strlen(*out);
    int ok = n <= RULES_NAME_MAX;
    for (size_t i = 0; i < n && ok; i++) {
        unsigned char ch = (unsigned char)(*out)[i];
        ok = isalnum(ch) || ch == '_' || ch == '.' || ch == '-';
    }
    if (!ok)
        return rules_y_err(c, v->node,
                           "bad %s '%.64s': a name is 1 to %d characters from "
                           "A-Z a-z 0-9 _ . -",
                           what, *out, RULES_NAME_MAX);
    return APR_SUCCESS;
}

apr_status_t rules_y_int(rules_ctx_t *c, const rules_y_val_t *v, const char *what, long min,
                         long max, long *out)
{
    const char *s = v->text;
    char *end;
    long x;
    char range[96];

    if (max == LONG_MAX)
        snprintf(range, sizeof range, "an integer >= %ld", min);
    else
        snprintf(range, sizeof range, "an integer from %ld to %ld", min, max);
    if (!s || v->len == 0)
        return rules_y_err(c, v->node, "%s must be %s, found %s", what, range,
                           rules_y_describe(c, v));
    errno = 0;
    x = strtol(s, &end, 10);
    if (end == s || *end || (size_t)(end - s) != v->len || isspace((unsigned char)*s) ||
        errno == ERANGE || x < min || x > max)
        return rules_y_err(c, v->node, "%s must be %s, found '%.40s'", what, range, s);
    *out = x;
    return APR_SUCCESS;
}

const char *rules_size_text(uint64_t n, char *buf, size_t cap)
{
    if (n && n % (1u << 30) == 0)
        snprintf(buf, cap, "%" PRIu64 "GiB", n >> 30);
    else if (n && n % (1u << 20) == 0)
        snprintf(buf, cap, "%" PRIu64 "MiB", n >> 20);
    else if (n && n % (1u << 10) == 0)
        snprintf(buf, cap, "%" PRIu64 "KiB", n >> 10);
    else
        snprintf(buf, cap, "%" PRIu64 " bytes", n);
    return buf;
}

apr_status_t rules_y_size(rules_ctx_t *c, const rules_y_val_t *v, const char *what, uint64_t min,
                          uint64_t max, uint64_t *out)
{
    static const struct {
        const char *unit;
        int shift;
    } units[] = {{"", 0}, {"B", 0}, {"KiB", 10}, {"MiB", 20}, {"GiB", 30}};
    const char *s = v->text;
    size_t digits = 0;
    uint64_t n = 0;
    char lo[32], hi[32];

    if (!s || v->len == 0)
        return rules_y_err(c, v->node, "%s: expected a size such as 4MiB, 64KiB or 1000, found %s",
                           what, rules_y_describe(c, v));
    while (digits < v->len && isdigit((unsigned char)s[digits])) {
        if (digits < 12) /* more digits are out of range anyway (and could overflow) */
            n = n * 10 + (uint64_t)(s[digits] - '0');
        digits++;
    }
    for (size_t u = 0; digits && u < sizeof units / sizeof units[0]; u++) {
        if (strcmp(s + digits, units[u].unit) != 0)
            continue;
        n <<= units[u].shift;
        if (digits > 12 || n < min || n > max)
            return rules_y_err(c, v->node, "%s '%.40s' is out of range: it must be from %s to %s",
                               what, s, rules_size_text(min, lo, sizeof lo),
                               rules_size_text(max, hi, sizeof hi));
        *out = n;
        return APR_SUCCESS;
    }
    return rules_y_err(
        c, v->node, "bad %s '%.40s': expected a size such as 4MiB, 64KiB or 1000 (bytes)", what, s);
}

apr_status_t rules_y_enum(rules_ctx_t *c, const rules_y_val_t *v, const char *what,
                          const char *const *choices, int *out)
{
    for (int i = 0; v->text && choices[i]; i++)
        if (strcmp(v->text, choices[i]) == 0) {
            *out = i;
            return APR_SUCCESS;
        }
    if (!v->text || v->len == 0)
        return rules_y_err(c, v->node, "%s must be one of %s, found %s", what, join(c, choices),
                           rules_y_describe(c, v));
    return rules_y_err(c, v->node, "%s must be one of %s, found '%.40s'", what, join(c, choices),
                       v->text);
}

apr_status_t rules_y_unique(rules_ctx_t *c, apr_hash_t *seen, const char *name,
                            const yaml_node_t *n, const char *what)
{
    const yaml_node_t *first = apr_hash_get(seen, name, APR_HASH_KEY_STRING);
    if (first)
        return rules_y_err(c, n, "duplicate %s '%s' (first at %d:%d)", what, name,
                           rules_y_line(first), rules_y_col(first));
    apr_hash_set(seen, name, APR_HASH_KEY_STRING, n);
    return APR_SUCCESS;
}
