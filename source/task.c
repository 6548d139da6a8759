/* task.c - reading a source range block by block and feeding whole lines to the engine.
 *
 * The state of one run is a window: io->buf[0..have) holds the source's
 * bytes from offset pos. Whole lines go to the engine and the tail moves to
 * the front. A tail longer than the limit with no '\n' in it is the start
 * of an over-long line: its first bytes are kept as the sample and the
 * window skips ahead until the line's '\n' (reading past the range's end if
 * need be), where the line is counted once as bad. Before the first read
 * the engine learns the source's modification time, and its header line
 * when the range starts past it (begin). After each block the io's memory
 * budget, when it has one, may cut the run at the block's last line. */
#include "task.h"

#include <inttypes.h>
#include <string.h>

#include "source.h"

/* An over-long line being skipped. */
typedef struct long_line_t {
    int on;
    uint64_t at;    /* its source offset */
    uint64_t bytes; /* skipped so far */
    size_t headlen;
    char head[ENGINE_SAMPLE_TEXT];
} long_line_t;

typedef struct run_t {
    engine_t *e;
    task_io_t *io;
    partial_t *out;
    engine_samples_t *samples;
    size_t limit; /* longest line parsed */
    uint64_t pos; /* source offset of io->buf[0] */
    size_t have;  /* bytes in io->buf */
    long_line_t ll;
    apr_status_t fed; /* the first engine failure (APR_ENOMEM), else APR_SUCCESS */
    abbey_err_t *err; /* where that failure is told */
} run_t;

size_t task_io_size(const rules_config_t *cfg, size_t block)
{
    size_t size = block ? block : TASK_BLOCK;
    for (int j = 0; !block && j < cfg->njobs; j++)
        if (cfg->jobs[j].max_line >= size)
            size = cfg->jobs[j].max_line + 1;
    return size;
}

void task_engines_init(task_engines_t *t, const rules_config_t *cfg, size_t block, apr_pool_t *pool)
{
    t->cfg = cfg;
    t->pool = pool;
    t->engines = apr_pcalloc(pool, sizeof *t->engines * (size_t)cfg->njobs);
    t->partials = apr_pcalloc(pool, sizeof *t->partials * (size_t)cfg->njobs);
    t->io.size = task_io_size(cfg, block);
    t->io.buf = apr_palloc(pool, t->io.size);
}

void task_engines_get(task_engines_t *t, const rules_job_t *job, engine_t **e, partial_t **p)
{
    if (!t->engines[job->index]) {
        t->engines[job->index] = engine_create(job, t->pool);
        t->partials[job->index] = partial_create(job, t->pool);
    }
    *e = t->engines[job->index];
    *p = t->partials[job->index];
}

apr_status_t task_run_file(engine_t *e, const char *path, uint64_t start, uint64_t end,
                           int at_eof_final, task_io_t *io, partial_t *out,
                           engine_samples_t *samples, uint64_t *done, apr_pool_t *pool,
                           abbey_err_t *err)
{
    source_reader_t *r;
    apr_status_t rv;

    *done = start;
    if ((rv = source_open(path, start, pool, &r, err)) != APR_SUCCESS)
        return rv;
    source_set_stop(r, io->stop);
    rv = task_run_reader(e, r, start, end, at_eof_final, io, out, samples, done, err);
    source_close(r);
    return rv;
}

/* engine_feed; its first failure goes to t->fed and t->err, and reading goes on. */
static void feed(run_t *t, const char *buf, size_t n, uint64_t pos)
{
    abbey_err_t ferr;
    if (engine_feed(t->e, buf, n, pos, t->out, t->samples, &ferr) != APR_SUCCESS &&
        t->fed == APR_SUCCESS) {
        t->fed = APR_ENOMEM;
        *t->err = ferr;
    }
}

/* Drop the first n bytes of the window. */
static void advance(run_t *t, size_t n)
{
    t->pos += n;
    t->have -= n;
    memmove(t->io->buf, t->io->buf + n, t->have);
}

/* The window (no '\n' in it, longer than the limit) starts an over-long line. */
static void long_start(run_t *t)
{
    long_line_t *ll = &t->ll;
    ll->on = 1;
    ll->at = t->pos;
    ll->bytes = t->have;
    ll->headlen = t->have < sizeof ll->head ? t->have : sizeof ll->head;
    memcpy(ll->head, t->io->buf, ll->headlen);
    advance(t, t->have);
}

/* Count the over-long line as one bad line. */
static void long_count(run_t *t)
{
    long_line_t *ll = &t->ll;
    engine_too_long(t->e, ll->head, ll->headlen, ll->at, ll->bytes, t->out, t->samples);
    ll->on = 0;
}

/* Skip the window's bytes of the over-long line: through its '\n' when it
 * is there (then it is counted and 1 returned), else all of them. */
static int long_skip(run_t *t)
{
    const char *nl = memchr(t->io->buf, '\n', t->have);
    size_t n = nl ? (size_t)(nl - t->io->buf) + 1 : t->have;
    t->ll.bytes += n;
    advance(t, n);
    if (!nl)
        return 0;
    long_count(t);
    return 1;
}

/* Feed the window's whole lines (and, with last, its unended tail). */
static void feed_lines(run_t *t, int last)
{
    const char *nl = t->have ? memrchr(t->io->buf, '\n', t->have) : NULL;
    size_t used = nl ? (size_t)(nl - t->io->buf) + 1 : 0;
    if (used) {
        feed(t, t->io->buf, used, t->pos);
        advance(t, used);
    }
    if (t->have > t->limit)
        long_start(t);
    else if (last && t->have) {
        feed(t, t->io->buf, t->have, t->pos);
        advance(t, t->have);
    }
}

static int stopping(const task_io_t *io)
{
    return io->stop && __atomic_load_n(io->stop, __ATOMIC_ACQUIRE);
}

/* A new source starts at byte start: the engine learns its modification time and, when its
 * format has a header line and the range starts past it, the header (read into the empty
 * window: nothing was read yet). */
static apr_status_t begin(run_t *t, source_reader_t *r, uint64_t start, abbey_err_t *err)
{
    int64_t mtime;
    size_t len;
    apr_status_t rv = source_mtime(r, &mtime, err);
    format_bad_t why;
    if (rv != APR_SUCCESS)
        return rv;
    engine_source(t->e, mtime);
    if (start == 0 || !engine_has_header(t->e))
        return APR_SUCCESS; /* from byte 0 the engine takes the first line as the header */
    rv = source_first_line(r, start, t->io->buf, t->limit + 1, &len, t->io->stop, err);
    if (rv != APR_SUCCESS) {
        abbey_err_prefix(err, "the header line of a source read from byte %" PRIu64, start);
        return rv;
    }
    if ((why = engine_header(t->e, t->io->buf, len)) != FORMAT_OK) {
        abbey_err_set(err, "%s: its first line is not a header line (%s)", source_name(r),
                      format_bad_text(why));
        return APR_EINVAL;
    }
    return APR_SUCCESS;
}

/* With at_eof_final: was the file cut while it was read? (APR_EOF, err set) */
static apr_status_t check_truncated(source_reader_t *r, int eof, uint64_t at, uint64_t end,
                                    uint64_t done, abbey_err_t *err)
{
    uint64_t now;
    if (eof && end != UINT64_MAX && at < end) {
        abbey_err_set(err,
                      "%s: truncated while being read: it ends at byte %" PRIu64
                      ", before byte %" PRIu64 " (its size when the run started); the lines "
                      "before byte %" PRIu64 " are counted",
                      source_name(r), at, end, done);
        return APR_EOF;
    }
    if (source_size(r, &now) == APR_SUCCESS && now < done) {
        abbey_err_set(err,
                      "%s: truncated while being read: now %" PRIu64 " bytes, below byte %" PRIu64
                      " already read",
                      source_name(r), now, done);
        return APR_EOF;
    }
    return APR_SUCCESS;
}

apr_status_t task_run_reader(engine_t *e, source_reader_t *r, uint64_t start, uint64_t end,
                             int at_eof_final, task_io_t *io, partial_t *out,
                             engine_samples_t *samples, uint64_t *done, abbey_err_t *err)
{
    run_t t = {.e = e, .io = io, .out = out, .samples = samples, .pos = start, .err = err};
    apr_status_t rv = APR_SUCCESS;
    int eof = 0, to_eof = end == UINT64_MAX || source_is_stream(r); /* a stream is final */

    t.limit = engine_max_line(e) < io->size ? engine_max_line(e) : io->size - 1;
    *done = start;
    io->cut = 0;
    if (start < end && (rv = begin(&t, r, start, err)) != APR_SUCCESS)
        return rv;
    while (!eof && (t.ll.on || t.pos + t.have < end)) {
        size_t got = 0, want = io->size - t.have;
        if (stopping(io)) {
            abbey_err_set(err, "%s: reading stopped at byte %" PRIu64 ": the process is stopping",
                          source_name(r), t.pos + t.have);
            rv = APR_EINTR;
            break;
        }
        if (t.pos + t.have < end && end - (t.pos + t.have) < want)
            want = (size_t)(end - (t.pos + t.have)); /* past end only to skip a long line */
        rv = source_read(r, io->buf + t.have, want, &got, err);
        if (rv == APR_EOF) {
            eof = 1;
            rv = APR_SUCCESS;
        } else if (rv != APR_SUCCESS) {
            break;
        }
        t.have += got;
        if (t.ll.on && long_skip(&t) && t.pos >= end)
            t.have = 0; /* what follows the line's '\n' is past end */
        if (!t.ll.on)   /* an unended last line counts when the file was to be read to its end */
            feed_lines(&t, eof && at_eof_final && to_eof);
        *done = t.ll.on ? t.ll.at : t.pos; /* never inside a line */
        if (io->budget && !eof && !t.ll.on && t.pos > start && t.pos + t.have < end &&
            io->budget(io->budget_ctx, out)) {
            io->cut = 1; /* near the memory budget: the rest is read later */
            break;
        }
    }
    if (rv == APR_SUCCESS && t.ll.on && eof && at_eof_final && (to_eof || t.pos >= end)) {
        long_count(&t); /* the file's last line, unended (not a file cut short) */
        *done = t.pos;
    } else if (rv == APR_SUCCESS && !t.ll.on && t.have && at_eof_final && !eof && !io->cut) {
        uint64_t size; /* the range ends exactly at the end of a file without a final '\n' */
        if (source_size(r, &size) == APR_SUCCESS && t.pos + t.have >= size) {
            feed(&t, io->buf, t.have, t.pos);
            *done = t.pos + t.have;
        }
    }
    if (rv == APR_SUCCESS && at_eof_final && !source_is_stream(r)) /* a stream never shrinks */
        rv = check_truncated(r, eof, t.pos + t.have, end, *done, err);
    return rv == APR_SUCCESS ? t.fed : rv;
}
