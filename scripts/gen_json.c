/* gen_json.c - rewrite a combined-format access log as JSON lines, the way nginx writes
 * them with `log_format ... escape=json`, for scripts/bench.sh and examples.
 *
 * Not part of the build. Usage:
 *   gcc -O2 -o /tmp/gen_json scripts/gen_json.c
 *   /tmp/gen_json [-s] [-n] < access.log > access.json
 *
 * Each line `ip ident user [time] "request" status bytes "referer" "agent"` becomes
 *   {"time_local":"17/May/2015:10:05:03 +0000","remote_addr":"83.149.9.216",
 *    "remote_user":"-","request":"GET / HTTP/1.1","status":200,"body_bytes_sent":203023,
 *    "http_referer":"-","http_user_agent":"Mozilla/5.0 ..."}
 * (one line, no spaces): the nginx variables' names; status and body_bytes_sent as JSON
 * numbers (bytes "-" becomes 0, as nginx's $body_bytes_sent would say), or with -s as
 * strings ("status":"200"), as a log_format that quotes every variable writes them; with -n
 * the request as an object of its parts, "request":{"method":"GET","uri":"/",
 * "protocol":"HTTP/1.1"} (a request that is not three words stays a string). Text is
 * as written in the log with '"', '\\' and control bytes escaped as escape=json does (\" \\
 * \uXXXX),
 * bytes >= 0x80 kept. A line that is not combined is copied to stderr and skipped; the
 * count of those is the exit status (0: all converted, up to 255). Output goes through one
 * large buffer and fwrite. */
#define _GNU_SOURCE /* memrchr */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OUTBUF (8u << 20)

static char *out;
static size_t used;
static int quote_numbers, nest_request; /* -s, -n */

static void flush(void)
{
    if (used && fwrite(out, 1, used, stdout) != used) {
        perror("gen_json");
        exit(255);
    }
    used = 0;
}

static void put(const char *s, size_t n)
{
    if (used + n > OUTBUF)
        flush();
    if (n > OUTBUF) {
        fwrite(s, 1, n, stdout);
        return;
    }
    memcpy(out + used, s, n);
    used += n;
}

static void puts_(const char *s)
{
    put(s, strlen(s));
}

/* "name":"text" with text [p, e) escaped as nginx escape=json. */
static void put_str(const char *name, const char *p, const char *e)
{
    puts_(name);
    put("\"", 1);
    for (const char *s = p; s < e; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            put("\\", 1);
            put(s, 1);
        } else if (c < 0x20) {
            char u[8];
            snprintf(u, sizeof u, "\\u%04x", c);
            put(u, 6);
        } else {
            put(s, 1);
        }
    }
    put("\"", 1);
}

/* The quoted field at *p ('"'): its text's end (the quote not escaped by a backslash), or
 * NULL. *p moves past the closing quote. */
static const char *quoted(const char **p, const char *end, const char **start)
{
    const char *s = *p;
    if (s >= end || *s != '"')
        return NULL;
    *start = ++s;
    for (; s < end; s++) {
        if (*s == '\\' && s + 1 < end)
            s++;
        else if (*s == '"')
            break;
    }
    if (s >= end)
        return NULL;
    *p = s + 1;
    return s;
}

/* One combined line [p, end): 0, or -1 when it is not one. */
static int convert(const char *p, const char *end)
{
    const char *ip = p, *ipe, *us, *use, *t, *te, *rq, *rqe, *st, *ste, *by, *bye, *rf, *rfe, *ag,
               *age;
    if (!(ipe = memchr(p, ' ', (size_t)(end - p))))
        return -1;
    p = ipe + 1;
    if (!(p = memchr(p, ' ', (size_t)(end - p)))) /* ident */
        return -1;
    us = ++p;
    if (!(t = memchr(p, '[', (size_t)(end - p))) || t == us)
        return -1;
    use = t - 1;
    if (!(te = memchr(t, ']', (size_t)(end - t))) || te + 2 >= end || te[1] != ' ')
        return -1;
    p = te + 2;
    if (!(rqe = quoted(&p, end, &rq)) || p >= end || *p++ != ' ')
        return -1;
    st = p;
    if (!(ste = memchr(p, ' ', (size_t)(end - p))))
        return -1;
    by = ste + 1;
    bye = memchr(by, ' ', (size_t)(end - by));
    if (!bye)
        return -1;
    p = bye + 1;
    if (!(rfe = quoted(&p, end, &rf)) || p >= end || *p++ != ' ' || !(age = quoted(&p, end, &ag)))
        return -1;
    for (const char *d = st; d < ste; d++)
        if (*d < '0' || *d > '9')
            return -1;
    put_str("{\"time_local\":", t + 1, te);
    put_str(",\"remote_addr\":", ip, ipe);
    put_str(",\"remote_user\":", us, use);
    const char *sp1 = memchr(rq, ' ', (size_t)(rqe - rq)),
               *sp2 = sp1 ? memrchr(rq, ' ', (size_t)(rqe - rq)) : NULL;
    if (nest_request && sp1 && sp2 > sp1) {
        put_str(",\"request\":{\"method\":", rq, sp1);
        put_str(",\"uri\":", sp1 + 1, sp2);
        put_str(",\"protocol\":", sp2 + 1, rqe);
        put("}", 1);
    } else {
        put_str(",\"request\":", rq, rqe);
    }
    const char *q = quote_numbers ? "\"" : "";
    puts_(",\"status\":");
    puts_(q);
    put(st, (size_t)(ste - st));
    puts_(q);
    puts_(",\"body_bytes_sent\":");
    puts_(q);
    if (bye - by == 1 && *by == '-')
        put("0", 1);
    else
        put(by, (size_t)(bye - by));
    puts_(q);
    put_str(",\"http_referer\":", rf, rfe);
    put_str(",\"http_user_agent\":", ag, age);
    put("}\n", 2);
    return 0;
}

int main(int argc, char **argv)
{
    size_t cap = 1 << 16, len;
    char *line = malloc(cap);
    int bad = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-s") == 0)
            quote_numbers = 1;
        else if (strcmp(argv[i], "-n") == 0)
            nest_request = 1;
        else {
            fprintf(stderr, "usage: gen_json [-s] [-n] < access.log > access.json\n");
            return 255;
        }
    }
    out = malloc(OUTBUF);
    if (!line || !out)
        return 255;
    while (fgets(line, (int)cap, stdin)) {
        len = strlen(line);
        while (len == cap - 1 && line[len - 1] != '\n') { /* a longer line */
            char *more = realloc(line, cap * 2);
            if (!more)
                return 255;
            line = more;
            if (!fgets(line + len, (int)(cap * 2 - len), stdin))
                break;
            cap *= 2;
            len += strlen(line + len);
        }
        if (len && line[len - 1] == '\n')
            len--;
        if (convert(line, line + len) < 0) {
            fprintf(stderr, "gen_json: not combined: %.*s\n", (int)len, line);
            bad += bad < 255;
        }
    }
    flush();
    free(line);
    free(out);
    return bad;
}
