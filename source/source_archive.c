/* source_archive.c - reading a compressed file as its decompressed stream (see source_archive.h).
 *
 * A reader keeps a window of compressed input (in[in_pos..in_len), refilled
 * from the file kind) and hands the codec as much room as the caller gives,
 * so one read fills a whole task block. Members (frames) follow each other
 * until the file ends; the stream ended cleanly only when the file ends
 * right after a member. Anything else is damaged data: a member cut short
 * (the file was truncated, or is still being written), an empty file, or
 * what the codec refuses (a bad checksum, bytes that are not its format).
 * A failure is kept: the bytes decoded before it are handed out first, and
 * every later read returns it again, so the caller's last line before it
 * is the last one counted. */
#include "source_archive.h"

#include <apr_strings.h>
#include <inttypes.h>
#include <string.h>
#include <strings.h>

#include "invariant.h"
#include "mem.h"

#define ARCHIVE_IN (256u << 10) /* compressed bytes read at a time */

typedef struct archive_t {
    const archive_codec_t *codec;
    apr_pool_t *pool; /* subpool of the reader's: the file, buffers, decoder; NULL once closed */
    source_reader_t file; /* the compressed file, read by the file kind */
    void *dec;
    uint8_t *in; /* ARCHIVE_IN bytes */
    size_t in_pos, in_len;
    uint64_t in_base;         /* compressed offset of in[0] */
    uint64_t out_pos;         /* decompressed offset of the next byte decoded */
    uint64_t skip;            /* the open offset: the bytes before it are decoded and dropped */
    const volatile int *stop; /* set_stop's flag (NULL: none) */
    uint64_t members;         /* members (frames) ended */
    int boundary;             /* no member begun since the start or the last one ended */
    int file_eof;             /* the compressed file was read to its end */
    int ended;                /* the stream ended cleanly: out_pos is its size */
    apr_status_t fail;        /* kept failure (every later read returns it), else APR_SUCCESS */
    const char *why;          /* its message */
} archive_t;

int archive_has_suffix(const char *path, const char *suffix)
{
    size_t n = strlen(path), k = strlen(suffix);
    return n > k && strcasecmp(path + n - k, suffix) == 0;
}

/* Keep a "damaged data" failure at the current offsets. */
static void damaged(source_reader_t *r, archive_t *a, const char *why)
{
    a->fail = SOURCE_DAMAGED;
    a->why = apr_psprintf(a->pool,
                          "%s: damaged %s data at decompressed byte %" PRIu64
                          " (near compressed byte %" PRIu64 "): %s",
                          r->name, a->codec->what, a->out_pos, a->in_base + a->in_pos, why);
}

/* Move the unread input to the front and read more after it; file_eof at
 * the file's end. A read error is kept as the failure. */
static void refill(archive_t *a)
{
    abbey_err_t ferr;
    apr_status_t rv;
    size_t got = 0;

    if (a->in_pos) {
        memmove(a->in, a->in + a->in_pos, a->in_len - a->in_pos);
        a->in_base += a->in_pos;
        a->in_len -= a->in_pos;
        a->in_pos = 0;
    }
    rv = source_file_kind.read(&a->file, a->in + a->in_len, ARCHIVE_IN - a->in_len, &got, &ferr);
    if (rv == APR_EOF) {
        a->file_eof = 1;
    } else if (rv != APR_SUCCESS) {
        a->fail = rv;
        a->why = apr_pstrdup(a->pool, ferr.msg);
    } else {
        a->in_len += got;
    }
}

/* No input is left and the file has ended: the stream ends here. */
static void at_file_end(source_reader_t *r, archive_t *a)
{
    if (a->boundary && a->members)
        a->ended = 1;
    else if (a->boundary)
        damaged(r, a, "an empty file, not a compressed stream (cut short?)");
    else
        damaged(r, a, "the file ends inside a member (cut short, or still being written)");
}

/* Decode up to max bytes into buf (see archive_read). */
static apr_status_t decode(source_reader_t *r, archive_t *a, uint8_t *buf, size_t max, size_t *got,
                           abbey_err_t *err)
{
    size_t n = 0;

    while (n < max && !a->ended && !a->fail) {
        size_t used = 0, made = 0, left;
        const char *why = "";
        archive_step_t st;

        if (a->in_pos == a->in_len && !a->file_eof) {
            refill(a);
            continue;
        }
        if (a->in_pos == a->in_len) {
            at_file_end(r, a);
            break;
        }
        left = a->in_len - a->in_pos;
        st = a->codec->step(a->dec, a->in + a->in_pos, left, &used, buf + n, max - n, &made, &why);
        ABBEY_ASSERT(used <= left && made <= max - n);
        a->in_pos += used;
        a->out_pos += made;
        n += made;
        if (used || made)
            a->boundary = 0;
        if (st == ARCHIVE_END) {
            a->boundary = 1;
            a->members++;
        } else if (st == ARCHIVE_BAD) {
            damaged(r, a, why);
        } else if (!used && !made) { /* it needs more input than the window holds */
            if (a->file_eof)
                damaged(r, a, "the file ends inside a member (cut short, or still being written)");
            else if (a->in_pos == 0 && a->in_len == ARCHIVE_IN)
                damaged(r, a, "the decoder takes no more input");
            else
                refill(a);
        }
    }
    *got = n;
    if (n || max == 0)
        return APR_SUCCESS; /* a failure found now is returned by the next read */
    if (a->fail) {
        abbey_err_set(err, "%s", a->why);
        return a->fail;
    }
    return APR_EOF;
}

/* The bytes before the open offset are decoded into the caller's buffer and
 * dropped, at the first read (so set_stop's flag can end it between blocks);
 * a stream shorter than the offset reads nothing. */
apr_status_t archive_read(source_reader_t *r, void *buf, size_t max, size_t *got, abbey_err_t *err)
{
    archive_t *a = r->state;
    while (a->out_pos < a->skip && max) {
        uint64_t left = a->skip - a->out_pos;
        apr_status_t rv;
        if (a->stop && __atomic_load_n(a->stop, __ATOMIC_ACQUIRE)) {
            *got = 0;
            abbey_err_set(err,
                          "%s: reading stopped at decompressed byte %" PRIu64
                          ", on the way to byte %" PRIu64 ": the process is stopping",
                          r->name, a->out_pos, a->skip);
            return APR_EINTR;
        }
        if ((rv = decode(r, a, buf, left < max ? (size_t)left : max, got, err)) != APR_SUCCESS)
            return rv;
    }
    return decode(r, a, buf, max, got, err);
}

void archive_set_stop(source_reader_t *r, const volatile int *stop)
{
    ((archive_t *)r->state)->stop = stop;
}

apr_status_t archive_mtime(source_reader_t *r, int64_t *mtime, abbey_err_t *err)
{
    archive_t *a = r->state;
    return source_file_kind.mtime(&a->file, mtime, err);
}

apr_status_t archive_open(source_reader_t *r, const archive_codec_t *codec, uint64_t offset,
                          abbey_err_t *err)
{
    archive_t *a = apr_pcalloc(r->pool, sizeof *a);
    apr_status_t rv;

    a->codec = codec;
    a->pool = mem_xpool(r->pool);
    a->boundary = 1;
    a->file.kind = &source_file_kind;
    a->file.path = r->path;
    a->file.name = r->path;
    a->file.pool = a->pool;
    r->state = a;
    if ((rv = source_file_kind.open(&a->file, 0, err)) != APR_SUCCESS) {
        archive_close(r);
        return rv;
    }
    r->name = apr_pstrdup(r->pool, a->file.name);
    a->in = apr_palloc(a->pool, ARCHIVE_IN);
    if (!(a->dec = codec->create(a->pool))) {
        abbey_err_set(err, "%s: cannot start a %s decoder: out of memory", r->name, codec->what);
        archive_close(r);
        return APR_ENOMEM;
    }
    a->skip = offset;
    return APR_SUCCESS;
}

apr_status_t archive_total(source_reader_t *r, uint64_t *size, abbey_err_t *err)
{
    archive_t *a = r->state;
    /* right after a member, with no input left: one more read tells whether the file ends */
    if (!a->ended && !a->fail && a->boundary && a->members && a->in_pos == a->in_len) {
        if (!a->file_eof)
            refill(a);
        if (a->file_eof && a->in_pos == a->in_len)
            a->ended = 1;
    }
    if (a->ended) {
        *size = a->out_pos;
        return APR_SUCCESS;
    }
    abbey_err_set(err, "%s: the size of a compressed file is known once it was read to its end",
                  r->name);
    return APR_INCOMPLETE;
}

void archive_close(source_reader_t *r)
{
    archive_t *a = r->state;
    if (a && a->pool) {
        apr_pool_destroy(a->pool); /* the file's cleanup closes it; the decoder's frees it */
        a->pool = NULL;
        a->in = NULL;
        a->ended = 1; /* a read after close reads nothing */
    }
}
