/* framelog.c - files of frames: appending with durability, walking with damage reports
 * (see framelog.h).
 *
 * The writer is a plain POSIX descriptor opened O_APPEND: every append is
 * written in a loop (EINTR, short writes) and, on any failure, the file is
 * cut back to its size before the append, so a file only ever ends in a
 * partial frame after a crash. Opening walks the file and cuts such a torn
 * tail. The walker reads through a window of the file (1 MiB, grown only for
 * a frame whose claimed length fits in what is left of the file, so a corrupt
 * length never makes it allocate more than the file holds), checks each frame
 * with frame_peek and resyncs on the magic after a corrupt one. The window is
 * malloc'd and freed by the walk: a walk is short-lived and the callers'
 * pools are not. */
#include "framelog.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <apr_file_info.h>
#include <apr_file_io.h>
#include <apr_strings.h>

#include "path.h"

#define WALK_BLOCK (1u << 20)

struct framelog_writer_t {
    int fd;
    int broken; /* an append could not be undone: the size is unknown */
    uint64_t size;
    const char *path;
    apr_pool_t *pool;
};

/* ---- the walker --------------------------------------------------------- */

typedef struct walker_t {
    int fd;
    const char *path;
    uint64_t size; /* of the file when the walk started (or when it was seen shrinking) */
    uint8_t *buf;
    size_t cap;
    uint64_t base; /* file offset of buf[0] */
    size_t have;   /* bytes in buf */
} walker_t;

apr_status_t framelog_os_error(abbey_err_t *err, const char *path, const char *what, int e)
{
    abbey_err_set(err, "%s: %s: %s", path, what, strerror(e));
    return APR_FROM_OS_ERROR(e);
}

/* Make the window start at off and hold min(need, size - off) bytes from it
 * at least, filling it up to its capacity (or the end of the file). */
static apr_status_t window(walker_t *w, uint64_t off, size_t need, abbey_err_t *err)
{
    uint64_t left = w->size - off;
    size_t want = left < need ? (size_t)left : need;

    if (off >= w->base && off + want <= w->base + w->have)
        return APR_SUCCESS;
    if (want > w->cap) {
        uint8_t *nb = realloc(w->buf, want);
        if (!nb) {
            abbey_err_set(err, "%s: out of memory for a frame of %zu bytes", w->path, want);
            return APR_ENOMEM;
        }
        w->buf = nb;
        w->cap = want;
    }
    if (off >= w->base && off < w->base + w->have) {
        size_t skip = (size_t)(off - w->base);
        memmove(w->buf, w->buf + skip, w->have - skip);
        w->have -= skip;
    } else {
        w->have = 0;
    }
    w->base = off;
    while (w->have < w->cap && w->base + w->have < w->size) {
        uint64_t rest = w->size - (w->base + w->have);
        size_t n = w->cap - w->have;
        ssize_t r;
        if (n > rest)
            n = (size_t)rest;
        r = pread(w->fd, w->buf + w->have, n, (off_t)(w->base + w->have));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return framelog_os_error(err, w->path, "read", errno);
        if (r == 0) { /* the file shrank under us: it ends here now */
            w->size = w->base + w->have;
            break;
        }
        w->have += (size_t)r;
    }
    return APR_SUCCESS;
}

/* Offset of the next magic at or after from, or the file size when none. */
static apr_status_t find_magic(walker_t *w, uint64_t from, uint64_t *at, abbey_err_t *err)
{
    uint64_t pos = from;
    for (;;) {
        apr_status_t rv;
        size_t r;
        if (pos >= w->size) {
            *at = w->size;
            return APR_SUCCESS;
        }
        if ((rv = window(w, pos, w->cap, err)) != APR_SUCCESS)
            return rv;
        r = frame_resync(w->buf, w->have, (size_t)(pos - w->base));
        if (r < w->have) {
            *at = w->base + r;
            return APR_SUCCESS;
        }
        if (w->base + w->have >= w->size) {
            *at = w->size;
            return APR_SUCCESS;
        }
        /* keep 3 bytes: a magic may straddle the window's end */
        pos = w->base + w->have - 3;
    }
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void damaged(framelog_damage_fn fn, void *ctx, framelog_stats_t *st, uint64_t start,
                    uint64_t end, const char *why)
{
    st->damaged++;
    st->damaged_bytes += end - start;
    if (fn)
        fn(ctx, start, end, why);
}

/* frame_peek's reasons start with "frame: ", which "corrupt frame: " already says. */
static const char *reason(const char *msg)
{
    return strncmp(msg, "frame: ", 7) == 0 ? msg + 7 : msg;
}

/* Check the frame at off: *prv is frame_peek's verdict on it, with the whole
 * frame read when its claimed length fits in the file; APR_INCOMPLETE means it
 * runs past the end of the file. Returns a read error, else APR_SUCCESS. */
static apr_status_t peek_at(walker_t *w, uint64_t off, const uint8_t **p, frame_header_t *h,
                            size_t *flen, apr_status_t *prv, abbey_err_t *perr, abbey_err_t *err)
{
    apr_status_t rv;
    uint64_t total;
    size_t avail;

    for (size_t need = FRAME_FIXED;; need = (size_t)total) {
        if ((rv = window(w, off, need, err)) != APR_SUCCESS)
            return rv;
        *p = w->buf + (off - w->base);
        avail = (size_t)(w->base + w->have - off);
        perr->msg[0] = '\0';
        *prv = frame_peek(*p, avail, h, flen, perr);
        if (*prv != APR_INCOMPLETE || avail < FRAME_FIXED || need > FRAME_FIXED)
            return APR_SUCCESS;
        /* the fixed part is sane, so these lengths are bounded */
        total = (uint64_t)FRAME_FIXED + le32(*p + 8) + le32(*p + 12) + 4;
        if (total > w->size - off) {
            abbey_err_set(perr, "claims %llu bytes, only %llu are left in the file",
                          (unsigned long long)total, (unsigned long long)(w->size - off));
            return APR_SUCCESS;
        }
    }
}

static apr_status_t walk(walker_t *w, uint64_t from, framelog_frame_fn frame_fn,
                         framelog_damage_fn damage_fn, void *ctx, framelog_stats_t *st,
                         abbey_err_t *err)
{
    uint64_t off = from;
    char why[ABBEY_ERR_MAX + 64];

    while (off < w->size) {
        frame_header_t h;
        size_t flen = 0;
        uint64_t next;
        abbey_err_t perr;
        apr_status_t rv, prv;
        const uint8_t *p;

        if ((rv = peek_at(w, off, &p, &h, &flen, &prv, &perr, err)) != APR_SUCCESS)
            return rv;
        if (prv == APR_SUCCESS) {
            st->frames++;
            st->bytes += flen;
            if (frame_fn && frame_fn(ctx, off, p, flen, &h))
                return APR_SUCCESS;
            off += flen;
            continue;
        }
        /* corrupt, or running past the end of the file: where could a frame start next? */
        if ((rv = find_magic(w, off + 1, &next, err)) != APR_SUCCESS)
            return rv;
        if (prv == APR_INCOMPLETE && next >= w->size) {
            snprintf(why, sizeof why, "torn tail: %llu bytes of a frame",
                     (unsigned long long)(w->size - off));
            st->torn_tail = 1;
            damaged(damage_fn, ctx, st, off, w->size, why);
            return APR_SUCCESS;
        }
        snprintf(why, sizeof why, "corrupt frame: %s",
                 perr.msg[0] ? reason(perr.msg) : "not a frame");
        damaged(damage_fn, ctx, st, off, next, why);
        off = next;
    }
    return APR_SUCCESS;
}

apr_status_t framelog_walk(const char *path, uint64_t from, framelog_frame_fn frame_fn,
                           framelog_damage_fn damage_fn, void *ctx, framelog_stats_t *stats,
                           apr_pool_t *pool, abbey_err_t *err)
{
    walker_t w;
    framelog_stats_t local;
    struct stat sb;
    apr_status_t rv;

    (void)pool;
    if (!stats)
        stats = &local;
    memset(stats, 0, sizeof *stats);
    memset(&w, 0, sizeof w);
    w.path = path;
    w.fd = open(path, O_RDONLY | O_CLOEXEC);
    if (w.fd < 0)
        return framelog_os_error(err, path, "cannot open", errno);
    if (fstat(w.fd, &sb) != 0) {
        rv = framelog_os_error(err, path, "cannot stat", errno);
        close(w.fd);
        return rv;
    }
    if (!S_ISREG(sb.st_mode)) {
        abbey_err_set(err, "%s: not a regular file", path);
        close(w.fd);
        return APR_EINVAL;
    }
    w.size = (uint64_t)sb.st_size;
    if (from < w.size) {
        w.cap = w.size - from < WALK_BLOCK ? (size_t)(w.size - from) : WALK_BLOCK;
        if (!(w.buf = malloc(w.cap))) {
            close(w.fd);
            abbey_err_set(err, "%s: out of memory for a %zu-byte read buffer", path, w.cap);
            return APR_ENOMEM;
        }
    }
    rv = walk(&w, from, frame_fn, damage_fn, ctx, stats, err);
    free(w.buf);
    close(w.fd);
    return rv;
}

/* ---- the writer --------------------------------------------------------- */

static apr_status_t writer_cleanup(void *data)
{
    framelog_writer_t *w = data;
    if (w->fd >= 0)
        close(w->fd);
    w->fd = -1;
    return APR_SUCCESS;
}

apr_status_t framelog_sync_dir(const char *dir, abbey_err_t *err)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    apr_status_t rv = APR_SUCCESS;
    if (fd < 0)
        return framelog_os_error(err, dir, "cannot open the directory to sync it", errno);
    if (fsync(fd) != 0 && errno != EINVAL)
        rv = framelog_os_error(err, dir, "fsync of the directory", errno);
    close(fd);
    return rv;
}

/* Open for appending, creating the file (and saying so) when it is missing. */
static apr_status_t open_append(const char *path, int *fd, int *created, abbey_err_t *err)
{
    for (;;) {
        *fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (*fd >= 0) {
            *created = 1;
            return APR_SUCCESS;
        }
        if (errno == EINTR)
            continue;
        if (errno != EEXIST)
            return framelog_os_error(err, path, "cannot create", errno);
        *fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
        if (*fd >= 0) {
            *created = 0;
            return APR_SUCCESS;
        }
        if (errno != ENOENT && errno != EINTR) /* ENOENT: removed meanwhile, create it */
            return framelog_os_error(err, path, "cannot open", errno);
    }
}

typedef struct tail_t {
    uint64_t torn_at;
    int torn;
} tail_t;

static void on_tail_damage(void *ctx, uint64_t start, uint64_t end, const char *why)
{
    tail_t *t = ctx;
    (void)end;
    if (strncmp(why, "torn tail", 9) == 0) {
        t->torn = 1;
        t->torn_at = start;
    }
}

static int ftruncate_retry(int fd, uint64_t size)
{
    int r;
    while ((r = ftruncate(fd, (off_t)size)) != 0 && errno == EINTR)
        ;
    return r;
}

apr_status_t framelog_open(const char *path, apr_pool_t *pool, framelog_writer_t **out,
                           uint64_t *cut, abbey_err_t *err)
{
    framelog_writer_t *w;
    struct stat sb;
    int fd, created = 0;
    apr_status_t rv;
    const char *dir = path_dir(path, pool);
    tail_t tail = {0, 0};

    if (cut)
        *cut = 0;
    abbey_err_clear(err);
    rv = apr_dir_make_recursive(dir, APR_FPROT_UREAD | APR_FPROT_UWRITE | APR_FPROT_UEXECUTE, pool);
    if (rv != APR_SUCCESS) {
        char buf[256];
        abbey_err_set(err, "%s: cannot make the directory %s: %s", path, dir,
                      apr_strerror(rv, buf, sizeof buf));
        return rv;
    }
    if ((rv = open_append(path, &fd, &created, err)) != APR_SUCCESS)
        return rv;
    w = apr_pcalloc(pool, sizeof *w);
    w->fd = fd;
    w->path = apr_pstrdup(pool, path);
    w->pool = pool;
    apr_pool_cleanup_register(pool, w, writer_cleanup, apr_pool_cleanup_null);
    if (fstat(fd, &sb) != 0) {
        rv = framelog_os_error(err, path, "cannot stat", errno);
        goto fail;
    }
    if (!S_ISREG(sb.st_mode)) {
        abbey_err_set(err, "%s: not a regular file", path);
        rv = APR_EINVAL;
        goto fail;
    }
    w->size = (uint64_t)sb.st_size;
    if (created && (rv = framelog_sync_dir(path_dir(path, pool), err)) != APR_SUCCESS)
        goto fail;
    if (w->size) {
        rv = framelog_walk(path, 0, NULL, on_tail_damage, &tail, NULL, pool, err);
        if (rv != APR_SUCCESS)
            goto fail;
    }
    if (tail.torn && tail.torn_at < w->size) {
        uint64_t n = w->size - tail.torn_at;
        if (ftruncate_retry(fd, tail.torn_at) != 0 || fsync(fd) != 0) {
            rv = framelog_os_error(err, path, "cannot cut the torn frame at its end", errno);
            goto fail;
        }
        abbey_err_set(err, "%s: cut a torn frame of %llu bytes at offset %llu", path,
                      (unsigned long long)n, (unsigned long long)tail.torn_at);
        w->size = tail.torn_at;
        if (cut)
            *cut = n;
    }
    *out = w;
    return APR_SUCCESS;
fail:
    apr_pool_cleanup_run(pool, w, writer_cleanup);
    return rv;
}

static const char *space_reason(int e)
{
    switch (e) {
    case ENOSPC:
        return "no space left on the device";
    case EFBIG:
        return "file size limit reached";
    case EDQUOT:
        return "disk quota exceeded";
    default:
        return strerror(e);
    }
}

/* Undo a failed append (errno e, during what) and say so. */
static apr_status_t append_failed(framelog_writer_t *w, uint64_t before, size_t len,
                                  const char *what, int e, abbey_err_t *err)
{
    abbey_err_set(err, "%s: cannot append a frame of %zu bytes at offset %llu (%s): %s", w->path,
                  len, (unsigned long long)before, what, space_reason(e));
    if (ftruncate_retry(w->fd, before) != 0) {
        w->broken = 1;
        abbey_err_prefix(err, "%s: cutting the file back to %llu bytes failed (%s) after this",
                         w->path, (unsigned long long)before, strerror(errno));
    }
    return APR_FROM_OS_ERROR(e);
}

apr_status_t framelog_append(framelog_writer_t *w, const void *frame, size_t len, int sync,
                             abbey_err_t *err)
{
    const uint8_t *p = frame;
    uint64_t before = w->size;
    size_t done = 0, flen = 0;
    abbey_err_t perr;

    if (w->fd < 0 || w->broken) {
        abbey_err_set(err, "%s: %s", w->path,
                      w->fd < 0 ? "the writer is closed"
                                : "an earlier failed append could not be undone; reopen the file");
        return APR_EGENERAL;
    }
    if (!len) {
        abbey_err_set(err, "%s: refusing to append an empty frame", w->path);
        return APR_EINVAL;
    }
    if (frame_peek(p, len, NULL, &flen, &perr) != APR_SUCCESS || flen != len) {
        abbey_err_set(err, "%s: refusing to append %zu bytes that are not one whole frame: %s",
                      w->path, len, flen ? "bytes after the frame" : perr.msg);
        return APR_EINVAL;
    }
    while (done < len) {
        ssize_t n = write(w->fd, p + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return append_failed(w, before, len, "write", errno, err);
        if (n == 0)
            return append_failed(w, before, len, "write", ENOSPC, err);
        done += (size_t)n;
    }
    if (sync && fsync(w->fd) != 0)
        return append_failed(w, before, len, "fsync", errno, err);
    w->size = before + len;
    return APR_SUCCESS;
}

apr_status_t framelog_sync(framelog_writer_t *w, abbey_err_t *err)
{
    if (w->fd < 0) {
        abbey_err_set(err, "%s: the writer is closed", w->path);
        return APR_EGENERAL;
    }
    if (fsync(w->fd) != 0)
        return framelog_os_error(err, w->path, "fsync", errno);
    return APR_SUCCESS;
}

uint64_t framelog_size(const framelog_writer_t *w)
{
    return w->size;
}

void framelog_close(framelog_writer_t *w)
{
    if (w)
        apr_pool_cleanup_run(w->pool, w, writer_cleanup);
}
