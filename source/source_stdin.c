/* source_stdin.c - the stdin kind: standard input, the source of abbey-master --stdin.
 *
 * It claims SOURCE_STDIN ("-") only, which no rules source is (their file
 * paths are absolute), and reads descriptor 0 as it comes: a pipe, a file,
 * anything but a terminal, which abbey-master refuses before it gets here.
 * A stream: read once from its start (a later offset is reached by reading
 * up to it), of a size known at its end. One reader at a time: its bytes go
 * to whoever reads them. */
#include "source_int.h"

#include <apr_strings.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

typedef struct stdin_t {
    uint64_t pos; /* bytes read */
    int eof;
} stdin_t;

static int stdin_claims(const char *path)
{
    return strcmp(path, SOURCE_STDIN) == 0;
}

static apr_status_t stdin_read(source_reader_t *r, void *buf, size_t max, size_t *got,
                               abbey_err_t *err)
{
    stdin_t *s = r->state;
    ssize_t n;

    *got = 0;
    if (max == 0)
        return APR_SUCCESS;
    if (s->eof)
        return APR_EOF;
    do
        n = read(STDIN_FILENO, buf, max);
    while (n < 0 && errno == EINTR);
    if (n < 0) {
        abbey_err_set(err, "%s: read failed at byte %llu: %s", r->name, (unsigned long long)s->pos,
                      strerror(errno));
        return APR_FROM_OS_ERROR(errno);
    }
    if (n == 0) {
        s->eof = 1;
        return APR_EOF;
    }
    s->pos += (uint64_t)n;
    *got = (size_t)n;
    return APR_SUCCESS;
}

static apr_status_t stdin_open(source_reader_t *r, uint64_t offset, abbey_err_t *err)
{
    char skip[65536];
    stdin_t *s = apr_pcalloc(r->pool, sizeof *s);
    r->state = s;
    r->name = "stdin";
    while (s->pos < offset) { /* the bytes before offset are read and dropped */
        uint64_t left = offset - s->pos;
        size_t got;
        apr_status_t rv =
            stdin_read(r, skip, left < sizeof skip ? (size_t)left : sizeof skip, &got, err);
        if (rv == APR_EOF)
            break;
        if (rv != APR_SUCCESS)
            return rv;
    }
    return APR_SUCCESS;
}

static apr_status_t stdin_total(source_reader_t *r, uint64_t *size, abbey_err_t *err)
{
    stdin_t *s = r->state;
    if (s->eof) {
        *size = s->pos;
        return APR_SUCCESS;
    }
    abbey_err_set(err, "%s: its size is known once it was read to its end", r->name);
    return APR_INCOMPLETE;
}

static void stdin_close(source_reader_t *r)
{
}

const source_kind_t source_stdin_kind = {
    .name = "stdin",
    .rules_kind = -1,
    .claims = stdin_claims,
    .open = stdin_open,
    .read = stdin_read,
    .total = stdin_total,
    .close = stdin_close,
    .stream = 1,
};
