/* format_logformat_compile.c - compiling an nginx log_format or an Apache
 * LogFormat string into the splitter's program (format_logformat_int.h); the
 * built-ins combined and common are Apache strings compiled here too.
 *
 * Three passes over the string, once, when the rules load:
 * 1. undo the server config's quoting: nginx's 'piece' 'piece' concatenation
 *    (after an optional "log_format NAME" and "escape=..."), Apache's
 *    "LogFormat \"...\" nickname" and its backslash escapes; every byte keeps
 *    its offset in the original string, for error positions;
 * 2. cut it into literal text and variables ($name, ${name}; %h, %>s,
 *    %{Referer}i, ...), each looked up in the tables below: field name, type,
 *    how its end is found, how its text converts;
 * 3. lay out the steps: a variable between '"' and '"' is quoted (the quotes
 *    belong to it), nginx's [$var] bracketed, and every other field ends at its
 *    terminator: the literal after it plus the next field's opening quote or
 *    bracket. Two variables with nothing between them are refused unless the
 *    first ends by itself (a fixed width, brackets, a strftime form).
 * The whole mapping is documented in docs/RULES.md ("nginx and Apache
 * format strings"). */
#include "format_logformat_int.h"

#include <apr_strings.h>
#include <ctype.h>
#include <stdio.h>

/* The built-ins, as Apache writes them. */
#define LF_COMMON "%h %l %u %t \"%r\" %>s %b"
#define LF_COMBINED LF_COMMON " \"%{Referer}i\" \"%{User-agent}i\""

/* The string with the config's quoting undone: n bytes, at[i] the offset in
 * spec->arg of byte i. */
typedef struct src_t {
    char *s;
    long *at;
    size_t n;
} src_t;

/* What a variable or directive is. */
typedef struct var_t {
    const char *name;
    uint8_t scan, conv, type;
    uint16_t width;
    const format_time_t *strf;
} var_t;

/* A variable in the string, and the literal that follows it ([lb, le) of src). */
typedef struct item_t {
    var_t v;
    long at; /* its offset in spec->arg */
    size_t lb, le;
} item_t;

typedef struct cc_t {
    format_t *f;
    format_spec_t *spec;
    abbey_err_t *err;
    const char *what; /* "nginx format", "apache format" */
    src_t src;
    item_t *items;
    int nitems;
    size_t leadb, leade; /* the literal before the first variable */
} cc_t;

/* An error about byte `at` of spec->arg (-1: none). */
static apr_status_t fail_at(cc_t *c, long at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static apr_status_t fail_at(cc_t *c, long at, const char *fmt, ...)
{
    char msg[ABBEY_ERR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    abbey_err_set(c->err, "%s: %s", c->what, msg);
    c->spec->err_at = at;
    return APR_EINVAL;
}

/* ---- 1. the config's quoting ---------------------------------------------- */

static void put(src_t *s, char ch, long at)
{
    s->s[s->n] = ch;
    s->at[s->n++] = at;
}

static size_t skip_ws(const char *a, size_t i)
{
    while (a[i] == ' ' || a[i] == '\t' || a[i] == '\n' || a[i] == '\r')
        i++;
    return i;
}

/* Does a[i..] start with the word w followed by white space? */
static int word_at(const char *a, size_t i, const char *w)
{
    size_t n = strlen(w);
    return strncmp(a + i, w, n) == 0 && (a[i + n] == ' ' || a[i + n] == '\t');
}

/* A backslash escape at a[i] ('\\' then a[i + 1]) inside config quotes: the
 * byte it stands for, or -1 when the backslash stays as it is. */
static int unescape(char c)
{
    switch (c) {
    case '"':
    case '\'':
    case '\\':
        return c;
    case 't':
        return '\t';
    case 'n':
        return '\n';
    case 'r':
        return '\r';
    default:
        return -1;
    }
}

/* Copy a[i..] up to the quote q (unescaped) into src; the index after the
 * closing quote, or 0 when there is none. */
static size_t quoted(src_t *s, const char *a, size_t i, char q)
{
    for (; a[i] && a[i] != q; i++) {
        int u = a[i] == '\\' && a[i + 1] ? unescape(a[i + 1]) : -1;
        put(s, u >= 0 ? (char)u : a[i], (long)i);
        i += u >= 0;
    }
    return a[i] ? i + 1 : 0;
}

static apr_status_t decode_nginx(cc_t *c)
{
    const char *a = c->spec->arg;
    size_t i = skip_ws(a, 0);
    int pieces = 0;
    if (word_at(a, i, "log_format")) { /* log_format NAME ... */
        i = skip_ws(a, i + 10);
        while (a[i] && a[i] != ' ' && a[i] != '\t')
            i++;
        i = skip_ws(a, i);
        pieces = 1;
    }
    if (strncmp(a + i, "escape=", 7) == 0) {
        size_t v = i + 7, e = v;
        while (a[e] && a[e] != ' ' && a[e] != '\t')
            e++;
        if (!((e - v == 7 && !strncmp(a + v, "default", 7)) ||
              (e - v == 4 && !strncmp(a + v, "json", 4)) ||
              (e - v == 4 && !strncmp(a + v, "none", 4))))
            return fail_at(c, (long)v, "escape=%.*s: expected escape=default, json or none",
                           (int)(e - v), a + v);
        i = skip_ws(a, e);
    }
    if (a[i] == '\'' || (pieces && a[i] == '"')) { /* 'piece' 'piece' ...; */
        while (a[i] && a[i] != ';') {
            size_t open = i;
            if (a[i] != '\'' && a[i] != '"')
                return fail_at(c, (long)i, "expected a quoted string, as in the server's config");
            if (!(i = quoted(&c->src, a, i + 1, a[i])))
                return fail_at(c, (long)open, "the quoted string is not closed");
            i = skip_ws(a, i);
        }
        if (a[i] == ';' && a[skip_ws(a, i + 1)])
            return fail_at(c, (long)skip_ws(a, i + 1), "text after the ';' that ends log_format");
        return APR_SUCCESS;
    }
    for (; a[i]; i++)
        put(&c->src, a[i], (long)i);
    return APR_SUCCESS;
}

static apr_status_t decode_apache(cc_t *c)
{
    const char *a = c->spec->arg;
    size_t i = skip_ws(a, 0);
    if (word_at(a, i, "LogFormat")) { /* LogFormat "..." [nickname] */
        i = skip_ws(a, i + 9);
        if (a[i] != '"')
            return fail_at(c, (long)i, "expected the quoted format after LogFormat");
        if (!quoted(&c->src, a, i + 1, '"'))
            return fail_at(c, (long)i, "the quoted format is not closed");
        return APR_SUCCESS;
    }
    for (; a[i]; i++) {
        int u = a[i] == '\\' && a[i + 1] ? unescape(a[i + 1]) : -1;
        put(&c->src, u >= 0 ? (char)u : a[i], (long)i);
        i += u >= 0;
    }
    return APR_SUCCESS;
}

/* ---- 2. variables ---------------------------------------------------------- */

#define V(n, s, cv, t)                                                                             \
    {                                                                                              \
        (n), (s), (cv), (t), 0, NULL                                                               \
    }

/* nginx variables with a known type or form; any other is text (FORMAT_AUTO). */
static const var_t nginx_vars[] = {
    V("status", LF_PLAIN, LF_STATUS, FORMAT_INT),
    V("body_bytes_sent", LF_PLAIN, LF_COUNT, FORMAT_INT),
    V("bytes_sent", LF_PLAIN, LF_COUNT, FORMAT_INT),
    V("request_length", LF_PLAIN, LF_COUNT, FORMAT_INT),
    V("connection", LF_PLAIN, LF_COUNT, FORMAT_INT),
    V("connection_requests", LF_PLAIN, LF_COUNT, FORMAT_INT),
    V("content_length", LF_PLAIN, LF_COUNT, FORMAT_INT),
    V("server_port", LF_PLAIN, LF_COUNT, FORMAT_INT),
    V("remote_port", LF_PLAIN, LF_COUNT, FORMAT_INT),
    V("pid", LF_PLAIN, LF_COUNT, FORMAT_INT),
    V("request_time", LF_PLAIN, LF_TYPED, FORMAT_FLOAT),
    V("gzip_ratio", LF_PLAIN, LF_TYPED, FORMAT_FLOAT),
    V("msec", LF_PLAIN, LF_TYPED, FORMAT_TIME),
    V("time_iso8601", LF_PLAIN, LF_TYPED, FORMAT_TIME),
    {"time_local", LF_FIXED, LF_CLF, FORMAT_TIME, FORMAT_CLF_TIME_LEN, NULL},
    V("request", LF_PLAIN, LF_REQUEST, FORMAT_STR),
    V("upstream_response_time", LF_LIST, LF_SUM_FLOAT, FORMAT_FLOAT),
    V("upstream_connect_time", LF_LIST, LF_SUM_FLOAT, FORMAT_FLOAT),
    V("upstream_header_time", LF_LIST, LF_SUM_FLOAT, FORMAT_FLOAT),
    V("upstream_response_length", LF_LIST, LF_SUM_INT, FORMAT_INT),
    V("upstream_bytes_received", LF_LIST, LF_SUM_INT, FORMAT_INT),
    V("upstream_bytes_sent", LF_LIST, LF_SUM_INT, FORMAT_INT),
    V("upstream_status", LF_LIST, LF_TEXT, FORMAT_AUTO),
    V("upstream_addr", LF_LIST, LF_TEXT, FORMAT_STR),
    V("upstream_cache_status", LF_PLAIN, LF_TEXT, FORMAT_STR),
    V("remote_addr", LF_PLAIN, LF_TEXT, FORMAT_STR),
    V("remote_user", LF_PLAIN, LF_TEXT, FORMAT_STR),
    V("realip_remote_addr", LF_PLAIN, LF_TEXT, FORMAT_STR),
    V("binary_remote_addr", LF_PLAIN, LF_TEXT, FORMAT_STR),
    V("server_addr", LF_PLAIN, LF_TEXT, FORMAT_STR),
    V("server_name", LF_PLAIN, LF_TEXT, FORMAT_STR),
    V("server_protocol", LF_PLAIN, LF_TEXT, FORMAT_STR),
    V("host", LF_PLAIN, LF_TEXT, FORMAT_STR),
    V("hostname", LF_PLAIN, LF_TEXT, FORMAT_STR),
    V("scheme", LF_PLAIN, LF_TEXT, FORMAT_STR),
    V("request_method", LF_PLAIN, LF_TEXT, FORMAT_STR),
    V("request_uri", LF_PLAIN, LF_TEXT, FORMAT_STR),
    V("uri", LF_PLAIN, LF_TEXT, FORMAT_STR),
    V("document_uri", LF_PLAIN, LF_TEXT, FORMAT_STR),
    V("args", LF_PLAIN, LF_TEXT, FORMAT_STR),
    V("query_string", LF_PLAIN, LF_TEXT, FORMAT_STR),
    V("request_id", LF_PLAIN, LF_TEXT, FORMAT_STR),
    V("ssl_protocol", LF_PLAIN, LF_TEXT, FORMAT_STR),
    V("ssl_cipher", LF_PLAIN, LF_TEXT, FORMAT_STR),
    V("pipe", LF_PLAIN, LF_TEXT, FORMAT_STR),
};

/* Apache directives: the letter, whether {ARG} is required (1), allowed (2)
 * or not (0), and the field. Directives with an argument name their field
 * from it (apache_arg_var). */
typedef struct apache_dir_t {
    char letter;
    uint8_t arg;
    var_t v;
} apache_dir_t;

static const apache_dir_t apache_dirs[] = {
    {'a', 2, V("client_ip", LF_PLAIN, LF_TEXT, FORMAT_STR)},
    {'A', 0, V("local_ip", LF_PLAIN, LF_TEXT, FORMAT_STR)},
    {'b', 0, V("bytes", LF_PLAIN, LF_COUNT, FORMAT_INT)},
    {'B', 0, V("bytes", LF_PLAIN, LF_COUNT, FORMAT_INT)},
    {'C', 1, V("cookie_", LF_PLAIN, LF_TEXT, FORMAT_AUTO)},
    {'D', 0, V("time_us", LF_PLAIN, LF_COUNT, FORMAT_INT)},
    {'e', 1, V("env_", LF_PLAIN, LF_TEXT, FORMAT_AUTO)},
    {'f', 0, V("filename", LF_PLAIN, LF_TEXT, FORMAT_STR)},
    {'h', 2, V("ip", LF_PLAIN, LF_WORD, FORMAT_STR)},
    {'H', 0, V("request_protocol", LF_PLAIN, LF_TEXT, FORMAT_STR)},
    {'i', 1, V("http_", LF_PLAIN, LF_TEXT, FORMAT_AUTO)},
    {'k', 0, V("keepalive", LF_PLAIN, LF_COUNT, FORMAT_INT)},
    {'l', 0, V("ident", LF_PLAIN, LF_TEXT, FORMAT_STR)},
    {'L', 0, V("log_id", LF_PLAIN, LF_TEXT, FORMAT_STR)},
    {'m', 0, V("request_method", LF_PLAIN, LF_TEXT, FORMAT_STR)},
    {'n', 1, V("note_", LF_PLAIN, LF_TEXT, FORMAT_AUTO)},
    {'o', 1, V("sent_http_", LF_PLAIN, LF_TEXT, FORMAT_AUTO)},
    {'p', 2, V("server_port", LF_PLAIN, LF_COUNT, FORMAT_INT)},
    {'P', 2, V("pid", LF_PLAIN, LF_COUNT, FORMAT_INT)},
    {'q', 0, V("query_string", LF_PLAIN, LF_TEXT, FORMAT_STR)},
    {'r', 0, V("request", LF_PLAIN, LF_REQUEST, FORMAT_STR)},
    {'R', 0, V("handler", LF_PLAIN, LF_TEXT, FORMAT_STR)},
    {'s', 0, V("status", LF_PLAIN, LF_STATUS, FORMAT_INT)},
    {'t', 2, V("time", LF_CLFTIME, LF_CLF, FORMAT_TIME)},
    {'T', 2, V("time_taken", LF_PLAIN, LF_COUNT, FORMAT_INT)},
    {'u', 0, V("user", LF_PLAIN, LF_TEXT, FORMAT_STR)},
    {'U', 0, V("url_path", LF_PLAIN, LF_TEXT, FORMAT_STR)},
    {'v', 0, V("server_name", LF_PLAIN, LF_TEXT, FORMAT_STR)},
    {'V', 0, V("host", LF_PLAIN, LF_TEXT, FORMAT_STR)},
    {'X', 0, V("connection_status", LF_PLAIN, LF_TEXT, FORMAT_STR)},
    {'I', 0, V("bytes_received", LF_PLAIN, LF_COUNT, FORMAT_INT)},
    {'O', 0, V("bytes_sent", LF_PLAIN, LF_COUNT, FORMAT_INT)},
    {'S', 0, V("bytes_transferred", LF_PLAIN, LF_COUNT, FORMAT_INT)},
    {'x', 1, V("", LF_PLAIN, LF_TEXT, FORMAT_AUTO)}, /* mod_ssl: %{SSL_PROTOCOL}x */
    {'c', 1, V("", LF_PLAIN, LF_TEXT, FORMAT_AUTO)}, /* mod_ssl, older spelling */
};

#undef V

/* prefix + arg[0..n) lower-cased, every byte but a letter, digit or '_' made '_'. */
static const char *arg_name(apr_pool_t *pool, const char *prefix, const char *arg, size_t n)
{
    size_t pl = strlen(prefix);
    char *s = apr_palloc(pool, pl + n + 1);
    memcpy(s, prefix, pl);
    for (size_t i = 0; i < n; i++) {
        char ch = (char)tolower((unsigned char)arg[i]);
        s[pl + i] = (isalnum((unsigned char)ch) || ch == '_') && !(ch & 0x80) ? ch : '_';
    }
    s[pl + n] = '\0';
    return s;
}

static int arg_is(const char *arg, size_t n, const char *w)
{
    return strlen(w) == n && strncasecmp(arg, w, n) == 0;
}

/* The field of %{arg}t: epoch forms, fractions, or a strftime form (as Apache's
 * mod_log_config reads it: an empty form, "begin" or "end" alone is %t's). */
static apr_status_t apache_time(cc_t *c, const char *arg, size_t n, long at, var_t *v)
{
    size_t pre = n >= 5 && !strncmp(arg, "begin", 5) ? 5
                 : n >= 3 && !strncmp(arg, "end", 3) ? 3
                                                     : 0;
    if (pre && (n == pre || arg[pre] == ':')) {
        pre += n > pre; /* and its ':' */
        arg += pre, n -= pre, at += (long)pre;
    }
    if (n == 0) {
        *v = (var_t){"time", LF_CLFTIME, LF_CLF, FORMAT_TIME, 0, NULL};
    } else if (arg_is(arg, n, "sec")) {
        *v = (var_t){"time", LF_PLAIN, LF_TYPED, FORMAT_TIME, 0, NULL};
    } else if (arg_is(arg, n, "msec") || arg_is(arg, n, "usec")) {
        *v = (var_t){"time",      LF_PLAIN, arg[0] == 'm' ? LF_EPOCH_MS : LF_EPOCH_US,
                     FORMAT_TIME, 0,        NULL};
    } else if (arg_is(arg, n, "msec_frac") || arg_is(arg, n, "usec_frac")) {
        *v = (var_t){arg[0] == 'm' ? "time_msec_frac" : "time_usec_frac",
                     LF_PLAIN,
                     LF_COUNT,
                     FORMAT_INT,
                     0,
                     NULL};
    } else {
        const format_time_t *tf;
        abbey_err_t why;
        long bad;
        if (format_time_compile(apr_pstrndup(c->f->pool, arg, n), FORMAT_TIME_STRFTIME, c->f->pool,
                                &tf, &bad, &why) != APR_SUCCESS)
            return fail_at(c, bad >= 0 ? at + bad : at, "%s", why.msg);
        int is_time = format_time_instant(tf);
        *v = (var_t){
            "time", LF_STRF, is_time ? LF_STRF_TIME : LF_TEXT, is_time ? FORMAT_TIME : FORMAT_STR,
            0,      tf};
    }
    return APR_SUCCESS;
}

/* The field of a directive with {arg} (arg != NULL) or without. */
static apr_status_t apache_var(cc_t *c, const apache_dir_t *d, const char *arg, size_t n, long at,
                               int two, var_t *v)
{
    apr_pool_t *pool = c->f->pool;
    *v = d->v;
    if (!arg)
        return APR_SUCCESS;
    switch (d->letter) {
    case 'i':
        if (arg_is(arg, n, "Referer"))
            v->name = "referer", v->type = FORMAT_STR;
        else if (arg_is(arg, n, "User-Agent"))
            v->name = "agent", v->type = FORMAT_STR;
        else
            v->name = arg_name(pool, "http_", arg, n);
        break;
    case 'a':
    case 'h':
        if (!arg_is(arg, n, "c"))
            return fail_at(c, at, "%%{%.*s}%c: the only form is %%{c}%c", (int)n, arg, d->letter,
                           d->letter);
        v->name = d->letter == 'a' ? "peer_ip" : "peer_host";
        v->conv = LF_TEXT;
        break;
    case 'p':
        if (arg_is(arg, n, "local") || arg_is(arg, n, "remote"))
            v->name = arg[0] == 'l' ? "local_port" : "remote_port";
        else if (!arg_is(arg, n, "canonical"))
            return fail_at(c, at, "%%{%.*s}p: expected canonical, local or remote", (int)n, arg);
        break;
    case 'P':
        if (arg_is(arg, n, "tid"))
            v->name = "tid";
        else if (arg_is(arg, n, "hextid"))
            v->name = "tid_hex", v->conv = LF_TEXT, v->type = FORMAT_STR;
        else if (!arg_is(arg, n, "pid"))
            return fail_at(c, at, "%%{%.*s}P: expected pid, tid or hextid", (int)n, arg);
        break;
    case 'T':
        if (arg_is(arg, n, "ms") || arg_is(arg, n, "us"))
            v->name = arg[0] == 'm' ? "time_taken_ms" : "time_taken_us";
        else if (!arg_is(arg, n, "s"))
            return fail_at(c, at, "%%{%.*s}T: expected s, ms or us", (int)n, arg);
        break;
    case 't':
        return apache_time(c, arg, n, at, v);
    case '^':
        v->name = arg_name(pool, two == 'i' ? "trailer_" : "sent_trailer_", arg, n);
        break;
    default:
        v->name = arg_name(pool, d->v.name, arg, n);
        break;
    }
    return APR_SUCCESS;
}

/* A variable at src byte i (its literal starts at src byte lb) after the
 * literal that ends at i. */
static void add_item(cc_t *c, const var_t *v, size_t i, size_t lb)
{
    item_t *it = &c->items[c->nitems];
    if (c->nitems)
        c->items[c->nitems - 1].le = i;
    else
        c->leade = i;
    it->v = *v;
    it->at = c->src.at[i];
    it->lb = lb;
    it->le = c->src.n;
    c->nitems++;
}

static int nginx_name_byte(char ch)
{
    return ch == '_' || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
           (ch >= '0' && ch <= '9');
}

/* The field of nginx variable name[0..n): from the table, else text. */
static void nginx_var(cc_t *c, const char *name, size_t n, var_t *v)
{
    for (size_t k = 0; k < sizeof nginx_vars / sizeof nginx_vars[0]; k++)
        if (strlen(nginx_vars[k].name) == n && !memcmp(nginx_vars[k].name, name, n)) {
            *v = nginx_vars[k];
            return;
        }
    *v = (var_t){apr_pstrndup(c->f->pool, name, n), LF_PLAIN, LF_TEXT, FORMAT_AUTO, 0, NULL};
}

static apr_status_t scan_nginx(cc_t *c)
{
    const src_t *s = &c->src;
    for (size_t i = 0; i < s->n;) {
        size_t b, e, next;
        var_t v;
        if (s->s[i] != '$') {
            i++;
            continue;
        }
        if (i + 1 < s->n && s->s[i + 1] == '{') {
            b = i + 2;
            for (e = b; e < s->n && s->s[e] != '}'; e++)
                if (!nginx_name_byte(s->s[e]))
                    return fail_at(c, s->at[e],
                                   "\"${\" holds a byte that is not part of a "
                                   "variable name (letters, digits, '_')");
            if (e == s->n)
                return fail_at(c, s->at[i], "\"${\" is not closed by \"}\"");
            next = e + 1;
        } else {
            b = i + 1;
            for (e = b; e < s->n && nginx_name_byte(s->s[e]);)
                e++;
            next = e;
        }
        if (e == b)
            return fail_at(c, s->at[i], "a '$' with no variable name after it");
        if (c->nitems >= FORMAT_MAX_FIELDS)
            return fail_at(c, s->at[i], "more than %d variables", FORMAT_MAX_FIELDS);
        nginx_var(c, s->s + b, e - b, &v);
        add_item(c, &v, i, next);
        i = next;
    }
    return APR_SUCCESS;
}

static apr_status_t scan_apache(cc_t *c)
{
    src_t *s = &c->src;
    for (size_t i = 0; i < s->n;) {
        size_t j = i + 1, ab = 0, an = 0;
        int has_arg = 0, two = 0;
        const apache_dir_t *d = NULL;
        var_t v;
        apr_status_t rv;
        if (s->s[i] != '%') {
            i++;
            continue;
        }
        if (j < s->n && s->s[j] == '%') { /* "%%" is a '%': drop one */
            memmove(s->s + i, s->s + j, s->n - j);
            memmove(s->at + i, s->at + j, sizeof *s->at * (s->n - j));
            c->src.n--;
            i++;
            continue;
        }
        for (; j < s->n; j++) { /* modifiers: ! < > status codes, {arg} */
            char ch = s->s[j];
            if (ch == '{') {
                size_t k = j + 1;
                while (k < s->n && s->s[k] != '}')
                    k++;
                if (k == s->n)
                    return fail_at(c, s->at[j], "\"%%{\" is not closed by \"}\"");
                has_arg = 1, ab = j + 1, an = k - j - 1, j = k;
            } else if (!(ch == '!' || ch == '<' || ch == '>' || ch == ',' ||
                         (ch >= '0' && ch <= '9'))) {
                break;
            }
        }
        if (j == s->n)
            return fail_at(c, s->at[i], "a '%%' with no directive letter after it");
        if (s->s[j] == '^') { /* %{name}^ti, %{name}^to */
            if (j + 2 >= s->n || s->s[j + 1] != 't' || (s->s[j + 2] != 'i' && s->s[j + 2] != 'o'))
                return fail_at(c, s->at[j], "unknown directive: expected %%^ti or %%^to");
            static const apache_dir_t trailer = {
                '^', 1, {"", LF_PLAIN, LF_TEXT, FORMAT_AUTO, 0, NULL}};
            d = &trailer;
            two = s->s[j + 2];
            j += 2;
        }
        for (size_t k = 0; !d && k < sizeof apache_dirs / sizeof apache_dirs[0]; k++)
            if (apache_dirs[k].letter == s->s[j])
                d = &apache_dirs[k];
        if (!d)
            return fail_at(c, s->at[j], "unknown directive %%%c (see docs/RULES.md for the list)",
                           s->s[j]);
        if (d->arg == 1 && !has_arg)
            return fail_at(c, s->at[i], "%%%c needs a name: %%{NAME}%c", s->s[j], s->s[j]);
        if (d->arg == 0 && has_arg)
            return fail_at(c, s->at[ab - 1], "%%%c takes no {argument}", s->s[j]);
        if (c->nitems >= FORMAT_MAX_FIELDS)
            return fail_at(c, s->at[i], "more than %d directives", FORMAT_MAX_FIELDS);
        if ((rv = apache_var(c, d, has_arg ? s->s + ab : NULL, an, has_arg ? s->at[ab] : 0, two,
                             &v)) != APR_SUCCESS)
            return rv;
        add_item(c, &v, i, j + 1);
        i = j + 1;
    }
    return APR_SUCCESS;
}

/* ---- 3. the program -------------------------------------------------------- */

/* A field named name, or name_2, name_3, ... when name is taken: its index. */
static int new_field(format_t *f, const char *name, format_type_t type)
{
    const char *n = name;
    for (int k = 2; format_field_index(f, n, strlen(n)) >= 0; k++)
        n = apr_psprintf(f->pool, "%s_%d", name, k);
    return format_add_field(f, n, strlen(n), type);
}

/* Is byte ch at the end (last) or start of literal [b, e)? */
static int lit_ends(const cc_t *c, size_t b, size_t e, char ch)
{
    return e > b && c->src.s[e - 1] == ch;
}
static int lit_starts(const cc_t *c, size_t b, size_t e, char ch)
{
    return e > b && c->src.s[b] == ch;
}

/* Quotes and brackets around a field belong to it. */
static void wrap_fields(cc_t *c)
{
    for (int i = 0; i < c->nitems; i++) {
        item_t *it = &c->items[i];
        size_t *pb = i ? &c->items[i - 1].lb : &c->leadb, *pe = i ? &c->items[i - 1].le : &c->leade;
        if (it->v.scan != LF_PLAIN && it->v.scan != LF_LIST)
            continue;
        if (lit_ends(c, *pb, *pe, '"') && lit_starts(c, it->lb, it->le, '"'))
            it->v.scan = LF_QUOTED;
        else if (it->v.scan == LF_PLAIN && lit_ends(c, *pb, *pe, '[') &&
                 lit_starts(c, it->lb, it->le, ']'))
            it->v.scan = LF_BRACKET;
        else
            continue;
        (*pe)--;
        it->lb++;
    }
}

static const char *lit_copy(cc_t *c, size_t b, size_t e, char extra, uint16_t *n)
{
    char *s = apr_palloc(c->f->pool, e - b + 2);
    memcpy(s, c->src.s + b, e - b);
    s[e - b] = extra;
    s[e - b + (extra != 0)] = '\0';
    *n = (uint16_t)(e - b + (extra != 0));
    return s;
}

static apr_status_t layout(cc_t *c, lf_prog_t *pg)
{
    format_t *f = c->f;
    wrap_fields(c);
    pg->lead = lit_copy(c, c->leadb, c->leade, 0, &(uint16_t){0});
    pg->leadlen = c->leade - c->leadb;
    pg->nsteps = c->nitems;
    pg->steps = apr_pcalloc(f->pool, sizeof *pg->steps * (size_t)c->nitems);
    for (int i = 0; i < c->nitems; i++) {
        const item_t *it = &c->items[i];
        lf_step_t *s = &pg->steps[i];
        int next = i + 1 < c->nitems ? c->items[i + 1].v.scan : -1;
        char open = next == LF_QUOTED ? '"' : next == LF_BRACKET || next == LF_CLFTIME ? '[' : 0;
        if (it->le - it->lb > 1000)
            return fail_at(c, c->src.at[it->lb], "a literal of more than 1000 bytes");
        s->scan = it->v.scan;
        s->conv = it->v.conv;
        s->width = it->v.width;
        s->strf = it->v.strf;
        s->term = lit_copy(c, it->lb, it->le, open, &s->termlen);
        s->litlen = (uint16_t)(it->le - it->lb);
        if (s->scan != LF_PLAIN && s->scan != LF_LIST)
            s->termlen = 0; /* not searched for: the field ends by itself */
        else if (s->termlen == 0 && next >= 0)
            return fail_at(c, c->items[i + 1].at,
                           "two variables with nothing between them: where the first ends "
                           "cannot be told (put a separator between them)");
        if (f->nfields >= FORMAT_MAX_FIELDS - (s->conv == LF_REQUEST ? 3 : 0))
            return fail_at(c, it->at, "more than %d fields", FORMAT_MAX_FIELDS);
        s->field = (int8_t)new_field(f, it->v.name, (format_type_t)it->v.type);
        s->need = (uint64_t)1 << s->field;
        s->piece[0] = s->piece[1] = s->piece[2] = -1;
        if (s->conv == LF_REQUEST) {
            static const char *const pieces[3] = {"method", "path", "protocol"};
            for (int k = 0; k < 3; k++) {
                s->piece[k] = (int8_t)new_field(f, pieces[k], FORMAT_STR);
                s->need |= (uint64_t)1 << s->piece[k];
            }
        }
    }
    return APR_SUCCESS;
}

/* `fields: [name:type, ...]`: types for some of the format's fields. */
static apr_status_t retype(cc_t *c, lf_prog_t *pg)
{
    format_t *f = c->f;
    for (int i = 0; i < c->spec->nfields; i++) {
        const char *name, *all = "";
        size_t n;
        format_type_t type;
        int k;
        apr_status_t rv =
            format_field_spec(c->what, i + 1, c->spec->fields[i], NULL, &name, &n, &type, c->err);
        if (rv != APR_SUCCESS)
            return rv;
        if ((k = format_field_index(f, name, n)) < 0) {
            for (int j = 0; j < f->nfields; j++)
                all = apr_pstrcat(f->pool, all, j ? ", " : "", f->names[j], NULL);
            return fail_at(c, -1,
                           "fields: field %d \"%.*s\": the format has no such field (its "
                           "fields: %s)",
                           i + 1, (int)n, name, all);
        }
        for (int s = 0; s < pg->nsteps; s++) {
            lf_step_t *st = &pg->steps[s];
            if (st->conv == LF_REQUEST && k != st->field && type != FORMAT_STR)
                for (int p = 0; p < 3; p++)
                    if (st->piece[p] == k)
                        return fail_at(c, -1, "fields: %s is split from the request: it is text",
                                       f->names[k]);
            if (st->field == k && !(st->conv == LF_REQUEST && type == FORMAT_STR))
                st->conv = type == FORMAT_STR || type == FORMAT_AUTO ? LF_TEXT : LF_TYPED;
        }
        f->types[k] = type;
    }
    return APR_SUCCESS;
}

apr_status_t lf_compile(format_t *f, format_spec_t *spec, abbey_err_t *err)
{
    cc_t c = {.f = f, .spec = spec, .err = err};
    lf_prog_t *pg = apr_pcalloc(f->pool, sizeof *pg);
    int nginx = !strcmp(spec->kind, "nginx"), builtin = !nginx && strcmp(spec->kind, "apache");
    format_spec_t bspec;
    apr_status_t rv;

    c.what = nginx ? "nginx format" : builtin ? spec->kind : "apache format";
    if (builtin) { /* combined, common: their Apache strings */
        bspec = *spec;
        bspec.arg = !strcmp(spec->kind, "common") ? LF_COMMON : LF_COMBINED;
        c.spec = &bspec;
    } else if (!spec->arg || !*spec->arg) {
        return fail_at(&c, -1, "needs the server's %s string, as in {%s: '%s'}",
                       nginx ? "log_format" : "LogFormat", spec->kind,
                       nginx ? "$remote_addr [$time_local] \"$request\" $status" : LF_COMMON);
    }
    if (spec->time_format)
        return fail_at(&c, -1,
                       "time_format: not used: the times' forms are known from the "
                       "string");
    size_t len = strlen(c.spec->arg);
    c.src.s = apr_palloc(f->pool, len + 1);
    c.src.at = apr_palloc(f->pool, sizeof *c.src.at * (len + 1));
    c.items = apr_pcalloc(f->pool, sizeof *c.items * FORMAT_MAX_FIELDS);
    if ((rv = nginx ? decode_nginx(&c) : decode_apache(&c)) != APR_SUCCESS ||
        (rv = nginx ? scan_nginx(&c) : scan_apache(&c)) != APR_SUCCESS)
        return rv;
    if (c.nitems == 0)
        return fail_at(&c, 0, "no %s in the string", nginx ? "$variable" : "%directive");
    c.items[c.nitems - 1].le = c.src.n;
    if ((rv = layout(&c, pg)) != APR_SUCCESS || (rv = retype(&c, pg)) != APR_SUCCESS)
        return rv;
    if (builtin) { /* today's leniency: combined may stop after bytes or the referer */
        pg->lenient = 1;
        for (int i = 0; i < pg->nsteps; i++) {
            const char *name = f->names[pg->steps[i].field];
            pg->steps[i].may_end = !strcmp(name, "bytes") || !strcmp(name, "referer");
        }
    }
    f->impl = pg;
    spec->err_at = -1;
    return APR_SUCCESS;
}
