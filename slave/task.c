/* task.c - reading a source range block by block and feeding whole lines to the engine. */
#include "task.h"

#include <string.h>

#include "source.h"

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
    rv = task_run_reader(e, r, start, end, at_eof_final, io, out, samples, done, err);
    source_close(r);
    return rv;
}

/* engine_feed; its first failure goes to *fed and err, and reading goes on. */
static void feed(engine_t *e, const char *buf, size_t n, uint64_t pos, partial_t *out,
                 engine_samples_t *samples, apr_status_t *fed, abbey_err_t *err)
{
    abbey_err_t ferr;
    if (engine_feed(e, buf, n, pos, out, samples, &ferr) != APR_SUCCESS && *fed == APR_SUCCESS) {
        *fed = APR_ENOMEM;
        *err = ferr;
    }
}

apr_status_t task_run_reader(engine_t *e, source_reader_t *r, uint64_t start, uint64_t end,
                             int at_eof_final, task_io_t *io, partial_t *out,
                             engine_samples_t *samples, uint64_t *done, abbey_err_t *err)
{
    uint64_t pos = start; /* source offset of io->buf[0] */
    size_t have = 0;
    apr_status_t rv = APR_SUCCESS, fed = APR_SUCCESS; /* fed: the first engine failure */
    int eof = 0;

    *done = start;
    while (!eof && pos + have < end) {
        size_t got = 0, want = io->size - have, used;
        const char *last;
        if (end - (pos + have) < want)
            want = (size_t)(end - (pos + have));
        rv = source_read(r, io->buf + have, want, &got, err);
        if (rv == APR_EOF) {
            eof = 1;
            rv = APR_SUCCESS;
        } else if (rv != APR_SUCCESS) {
            break;
        }
        have += got;
        last = have ? memrchr(io->buf, '\n', have) : NULL;
        used = last ? (size_t)(last - io->buf) + 1 : 0;
        if (!last && have == io->size) {
            /* no line end in a full buffer: the line is too long; count it bad */
            used = have;
        }
        if (eof && at_eof_final)
            used = have;
        if (used) {
            feed(e, io->buf, used, pos, out, samples, &fed, err);
            pos += used;
            have -= used;
            memmove(io->buf, io->buf + used, have);
            *done = pos;
        }
    }
    if (rv == APR_SUCCESS && have && at_eof_final && !eof) {
        uint64_t size; /* the range ends exactly at the end of a file without a final '\n' */
        if (source_size(r, &size) == APR_SUCCESS && pos + have >= size) {
            feed(e, io->buf, have, pos, out, samples, &fed, err);
            *done = pos + have;
        }
    }
    return rv == APR_SUCCESS ? fed : rv;
}
