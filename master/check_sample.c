/* check_sample.c - abbey-master --check --sample FILE: how the first lines of FILE parse under
 * a job's format, for writing a format without guessing.
 *
 * Each line goes through the job's own engine (its verdict, with the reason naming the
 * field, comes back through the engine's sink: the same code that counts and keeps bad
 * lines), and through a second parse of the same format that fills every field, so that the
 * table shows them all: typed as the engine reads them, the ones the rules use marked '*'.
 * A field the rules never read is converted only for the table: when it does not hold its
 * type it is shown so, and the line is still good. Text is shown escaped (utf8_escape), so
 * no control byte reaches the terminal. Lines are read through the source layer (any kind
 * source_open reads). Not a hot path: stdio is fine here. */
#include <apr_file_info.h>
#include <inttypes.h>
#include <string.h>

#include "engine.h"
#include "master.h"
#include "source.h"
#include "utf8.h"

#define SHOWN 200 /* bytes of a line or a text value shown */

/* The verdict on the line just fed (the engine's sink). */
typedef struct verdict_t {
    int bad;
    int reason;
    char why[200];
} verdict_t;

static void on_bad(void *ctx, const engine_bad_t *b)
{
    verdict_t *v = ctx;
    v->bad = 1;
    v->reason = b->reason;
    snprintf(v->why, sizeof v->why, "%s", b->why);
}

/* ---- reading lines -------------------------------------------------------- */

typedef struct lines_t {
    source_reader_t *r;
    char *buf; /* cap bytes: a line and its '\n' fit when the line is at most max_line */
    size_t cap, have, used;
    uint64_t off; /* source offset of buf[0] */
    int eof;
    char head[SHOWN]; /* the start of a line too long to hold */
} lines_t;

/* Fill the buffer past what it has; APR_SUCCESS (eof set at the end) or an error. */
static apr_status_t fill(lines_t *L, abbey_err_t *err)
{
    size_t got = 0;
    apr_status_t rv = source_read(L->r, L->buf + L->have, L->cap - L->have, &got, err);
    if (rv == APR_EOF) {
        L->eof = 1;
        return APR_SUCCESS;
    }
    L->have += got;
    return rv;
}

/* The next line: 1 with its bytes in line[0..len) (no '\n'), its offset and
 * its whole length in bytes (more than len for a line too long to hold: then
 * only its head is given); 0 at the end; -1 on a read error (err). */
static int next_line(lines_t *L, const char **line, size_t *len, uint64_t *offset, uint64_t *bytes,
                     abbey_err_t *err)
{
    const char *nl;
    memmove(L->buf, L->buf + L->used, L->have - L->used);
    L->have -= L->used;
    L->off += L->used;
    L->used = 0;
    *offset = L->off;
    while (!(nl = memchr(L->buf, '\n', L->have)) && !L->eof && L->have < L->cap)
        if (fill(L, err) != APR_SUCCESS)
            return -1;
    if (nl || (L->eof && L->have)) {
        *line = L->buf;
        *len = nl ? (size_t)(nl - L->buf) : L->have;
        *bytes = *len;
        L->used = nl ? *len + 1 : L->have;
        return 1;
    }
    if (!L->have)
        return 0;
    /* longer than the buffer: keep its head, skip through its '\n' */
    *len = L->have < sizeof L->head ? L->have : sizeof L->head;
    memcpy(L->head, L->buf, *len);
    *bytes = 0;
    while (!(nl = memchr(L->buf, '\n', L->have)) && !L->eof) {
        *bytes += L->have;
        L->off += L->have;
        L->have = 0;
        if (fill(L, err) != APR_SUCCESS)
            return -1;
    }
    L->used = nl ? (size_t)(nl - L->buf) + 1 : L->have;
    *bytes += nl ? (size_t)(nl - L->buf) : L->have;
    *line = L->head;
    return 1;
}

/* ---- showing ----------------------------------------------------------------- */

static const char *type_name(format_type_t t)
{
    static const char *const names[] = {"str", "int", "float", "time", "auto"};
    return (unsigned)t < sizeof names / sizeof names[0] ? names[t] : "?";
}

/* s[0..n) escaped (quoted when quote is set), cut at SHOWN bytes. */
static void put_text(FILE *out, const char *s, size_t n, int quote)
{
    char esc[4 * SHOWN + 1];
    fprintf(out, "%s%s%s%s", quote ? "\"" : "",
            utf8_escape(esc, sizeof esc, s, n < SHOWN ? n : SHOWN), quote ? "\"" : "",
            n > SHOWN ? "..." : "");
}

static void put_value(FILE *out, const value_t *v)
{
    buf_t b;
    if (v->kind == VALUE_NULL) {
        fputs("null", out);
        return;
    }
    if (v->kind == VALUE_STR) {
        put_text(out, v->s ? v->s : "", v->len, 1);
        return;
    }
    buf_init(&b);
    value_render(&b, v);
    fprintf(out, "%.*s", (int)b.len, (const char *)b.data);
    buf_free(&b);
}

/* Every field of the line, as a second parse sees it with need (all fields)
 * and the engine's num; a field the line's type check fails on is shown as
 * such and taken out of need, and the parse tried again. Nothing when the
 * line's structure stops the parse (the line is bad, and said why). */
static void show_fields(format_state_t *st, const format_t *f, const char *line, size_t len,
                        uint64_t used, uint64_t num, value_t *fields, FILE *out)
{
    int n = format_nfields(f), w = 5;
    uint64_t need = n >= 64 ? UINT64_MAX : ((uint64_t)1 << n) - 1, failed = 0;
    format_bad_t why;
    while ((why = format_parse(st, line, len, need, num, fields)) != FORMAT_OK) {
        int i = format_bad_field(st);
        if ((why != FORMAT_BAD_NUMBER && why != FORMAT_BAD_TIME) || i < 0 || i >= n ||
            !(need >> i & 1))
            return;
        failed |= (uint64_t)1 << i;
        need &= ~((uint64_t)1 << i);
        num &= ~((uint64_t)1 << i);
    }
    for (int i = 0; i < n; i++)
        if ((int)strlen(format_field_name(f, i)) > w)
            w = (int)strlen(format_field_name(f, i));
    for (int i = 0; i < n; i++) {
        format_type_t t = format_field_type(f, i);
        fprintf(out, "  %c %-*s %-5s ", used >> i & 1 ? '*' : ' ', w, format_field_name(f, i),
                type_name(t));
        if (failed >> i & 1) {
            fprintf(out, "not %s: ", t == FORMAT_TIME ? "a time" : "a number");
            put_text(out, fields[i].s ? fields[i].s : "", fields[i].s ? fields[i].len : 0, 1);
        } else {
            put_value(out, &fields[i]);
        }
        fputc('\n', out);
    }
}

/* ---- the command --------------------------------------------------------------- */

/* The job the sample is for: --job, or the only one. */
static const rules_job_t *pick_job(const rules_config_t *cfg, const char *name)
{
    const rules_job_t *job = name ? rules_find_job(cfg, name) : NULL;
    if (job || (!name && cfg->njobs == 1))
        return job ? job : &cfg->jobs[0];
    fprintf(stderr,
            "abbey-master: --sample: %s; the jobs are:", name ? "no such job" : "say --job");
    for (int j = 0; j < cfg->njobs; j++)
        fprintf(stderr, " %s", cfg->jobs[j].name);
    fputc('\n', stderr);
    return NULL;
}

int master_check_sample(const rules_config_t *cfg, const master_opts_t *opts, FILE *out,
                        apr_pool_t *pool)
{
    const rules_job_t *job = pick_job(cfg, opts->job);
    verdict_t v;
    lines_t L;
    engine_t *e;
    partial_t *p;
    format_state_t *st;
    value_t *fields;
    uint64_t used, num, offset, bytes;
    apr_finfo_t fi;
    abbey_err_t err;
    const char *line;
    size_t len;
    int n = 0, good = 0, rc = 0;

    if (!job)
        return 2;
    memset(&L, 0, sizeof L);
    if (source_open(opts->sample, 0, pool, &L.r, &err) != APR_SUCCESS) {
        fprintf(stderr, "abbey-master: --sample: %s\n", err.msg);
        return 2;
    }
    e = engine_create(job, pool);
    p = partial_create(job, pool);
    engine_set_sink(e, on_bad, &v);
    engine_fields(e, &used, &num);
    L.cap = engine_max_line(e) + 1;
    L.buf = apr_palloc(pool, L.cap);
    st = format_state_create(job->format, engine_max_line(e), pool);
    fields = apr_pcalloc(pool, sizeof *fields * FORMAT_MAX_FIELDS);
    if (apr_stat(&fi, opts->sample, APR_FINFO_MTIME, pool) != APR_SUCCESS)
        fi.mtime = 0;
    engine_source(e, (int64_t)apr_time_sec(fi.mtime));
    format_state_source(st, (int64_t)apr_time_sec(fi.mtime));
    fprintf(out,
            "sample %s, job %s, format %s: the first %d lines (* the fields the rules use; "
            "the others are never converted while counting)\n",
            opts->sample, job->name, format_name(job->format), opts->sample_lines);
    while (n < opts->sample_lines && (rc = next_line(&L, &line, &len, &offset, &bytes, &err)) > 0) {
        memset(&v, 0, sizeof v);
        if (bytes > len)
            engine_too_long(e, line, len, offset, bytes, p, NULL);
        else
            engine_feed(e, line, len, offset, p, NULL, NULL);
        if (offset == 0 && format_has_header(job->format) && !v.bad) {
            fprintf(out, "header (byte 0): names the fields\n");
            format_header(st, line, len);
            continue;
        }
        n++;
        if (v.bad)
            fprintf(out, "line %d (byte %" PRIu64 "): bad, %s: %s\n  text: ", n, offset,
                    partial_reason_name(v.reason), v.why);
        else
            fprintf(out, "line %d (byte %" PRIu64 "): ok\n", n, offset);
        if (v.bad) {
            put_text(out, line, len, 0);
            fputc('\n', out);
        }
        good += !v.bad;
        if (bytes == len)
            show_fields(st, job->format, line, len, used, num, fields, out);
    }
    if (rc < 0) {
        fprintf(stderr, "abbey-master: --sample: %s\n", err.msg);
        return 2;
    }
    fprintf(out, "%d of %d lines parse\n", good, n);
    return n > 0 && good == 0 ? 1 : 0;
}
