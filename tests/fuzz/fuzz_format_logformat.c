/* fuzz_format_logformat.c - libFuzzer target for the nginx and apache formats
 * (rules/format_logformat*.c): the format string compiler and the splitter.
 *
 * The first byte picks a mode:
 *   0, 1: the rest is an nginx (0) or Apache (1) format string. It compiles, or is refused
 *         with err_at inside the string (or -1); a compiled one parses a few lines (the
 *         string itself among them) under every instruction set alike;
 *   else: the rest is one line, parsed by fixed formats (combined, common, nginx's main,
 *         upstream lists and times, escape=json, Apache strftime times (one touching the
 *         status after it, a text form, %{end}t), a format with more stop bytes than are
 *         classified at once) under every instruction set.
 * Every parse traps when a needed field points outside the line, when a field's kind is not
 * a value kind, when the instruction sets disagree, or when the reason a line is bad depends
 * on what is needed (the structure is checked first, whatever is needed). Build and run:
 *   scripts/fuzz.sh format_logformat 600 */
#include <apr_general.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "format.h"
#include "format_logformat_int.h"

#define NLEVELS 3 /* plain C, SSE2, AVX2 */

static const char *const fixed[][2] = {
    {"combined", NULL},
    {"common", NULL},
    {"nginx", "$remote_addr - $remote_user [$time_local] \"$request\" $status $body_bytes_sent "
              "\"$http_referer\" \"$http_user_agent\" \"$http_x_forwarded_for\""},
    {"nginx", "$remote_addr [$time_iso8601] $msec \"$request\" $status $request_time "
              "$upstream_response_time $upstream_status ${upstream_bytes_sent}B $pipe"},
    {"nginx", "escape=json {\"ip\":\"$remote_addr\",\"st\":$status,\"ua\":\"$http_user_agent\"}"},
    {"apache", "%h [%{%d/%b/%Y:%H:%M:%S %z}t] %{msec}t \"%r\" %>s %b %{ms}T %D"},
    {"apache", "%{%Y%m%d%H%M%S}t%>s %{%a %e %b %T %Z}t|%{begin:%j %l:%M %p %y}t%D %{end}t"},
    {"nginx", "$a|$b;$c,$d:$e#$f~$g"},
};
#define NFIXED (sizeof fixed / sizeof fixed[0])

static apr_pool_t *root;
static format_t *formats[NLEVELS][NFIXED];
static format_state_t *states[NLEVELS][NFIXED];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    apr_initialize();
    apr_pool_create(&root, NULL); /* the fixed formats: as long as the process */
    for (int l = 0; l < NLEVELS; l++) {
        lf_set_simd(l);
        for (size_t k = 0; k < NFIXED; k++) {
            format_spec_t spec = {.kind = fixed[k][0], .arg = fixed[k][1]};
            abbey_err_t err;
            if (format_create(&spec, root, &formats[l][k], &err) != APR_SUCCESS)
                abort();
            states[l][k] = format_state_create(formats[l][k], 1 << 24, root);
        }
    }
    lf_set_simd(2);
    return 0;
}

static void check_fields(const format_t *f, const char *line, size_t len, uint64_t need,
                         const value_t *v)
{
    for (int i = 0; i < format_nfields(f); i++) {
        if (!((need >> i) & 1))
            continue;
        if (v[i].kind > VALUE_TIME)
            __builtin_trap();
        if (v[i].s && (v[i].s < line || v[i].s + v[i].len > line + len))
            __builtin_trap();
    }
}

/* Parse line with f[l] under each level l: every need gives consistent answers, and every
 * level the same. */
static void parse_all(format_t *const *f, format_state_t *const *st, const char *line, size_t len)
{
    value_t v[NLEVELS][FORMAT_MAX_FIELDS], w[FORMAT_MAX_FIELDS];
    format_bad_t why[NLEVELS];
    for (int l = 0; l < NLEVELS; l++) {
        why[l] = format_parse(st[l], line, len, ~(uint64_t)0, 0, v[l]);
        if (why[l] >= FORMAT_BAD__COUNT)
            __builtin_trap();
        if (why[l] == FORMAT_OK)
            check_fields(f[l], line, len, ~(uint64_t)0, v[l]);
        format_bad_t lax = format_parse(st[l], line, len, 0, 0, w);
        if (why[l] == FORMAT_OK ? lax != FORMAT_OK : (lax != FORMAT_OK && lax != why[l]))
            __builtin_trap(); /* needing less never makes a line bad, nor changes why */
        uint64_t one = (uint64_t)1 << (len % (unsigned)format_nfields(f[l]));
        format_bad_t some = format_parse(st[l], line, len, one, ~(uint64_t)0, w);
        if (some == FORMAT_OK && why[l] == FORMAT_OK)
            check_fields(f[l], line, len, one, w);
        if (l && why[l] != why[0])
            __builtin_trap(); /* every instruction set alike */
        for (int i = 0; l && why[l] == FORMAT_OK && i < format_nfields(f[l]); i++)
            if (v[l][i].kind != v[0][i].kind || v[l][i].len != v[0][i].len ||
                v[l][i].s != v[0][i].s)
                __builtin_trap();
    }
}

/* A line that the format might like: its string with each variable replaced by "x". */
static size_t fill(const char *s, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '$' || s[i] == '%') {
            out[o++] = 'x';
            while (i + 1 < n && s[i + 1] != ' ' && s[i + 1] != '"')
                i++;
        } else {
            out[o++] = s[i];
        }
    }
    return o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    size_t n = size - 1;
    char *body = malloc(n + 1); /* a private copy of exactly n bytes (+ NUL for strings) */
    memcpy(body, data + 1, n);
    body[n] = '\0';
    if (data[0] <= 1) {
        apr_pool_t *pool;
        format_t *f[NLEVELS];
        format_state_t *st[NLEVELS];
        abbey_err_t err;
        int ok = 1;
        apr_pool_create(&pool, root);
        for (int l = 0; l < NLEVELS && ok; l++) {
            format_spec_t spec = {.kind = data[0] ? "apache" : "nginx", .arg = body};
            lf_set_simd(l);
            if (format_create(&spec, pool, &f[l], &err) != APR_SUCCESS) {
                if (spec.err_at < -1 || spec.err_at > (long)strlen(body) || !err.msg[0])
                    __builtin_trap();
                ok = 0;
            } else {
                st[l] = format_state_create(f[l], 1 << 16, pool);
            }
        }
        lf_set_simd(2);
        if (ok) {
            size_t len = strlen(body);
            char *line = malloc(len + 1), *x = malloc(len + 1);
            memcpy(line, body, len);
            parse_all(f, st, line, len);
            size_t m = fill(body, len, x);
            char *y = malloc(m ? m : 1);
            memcpy(y, x, m);
            parse_all(f, st, y, m);
            free(y);
            free(x);
            free(line);
        }
        apr_pool_destroy(pool);
    } else {
        format_t *f[NLEVELS];
        format_state_t *st[NLEVELS];
        size_t k = data[0] % NFIXED;
        for (int l = 0; l < NLEVELS; l++)
            f[l] = formats[l][k], st[l] = states[l][k];
        char *line = malloc(n ? n : 1);
        memcpy(line, body, n);
        parse_all(f, st, line, n);
        free(line);
    }
    free(body);
    return 0;
}
