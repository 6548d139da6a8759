/* source_file.c - local files as sources: open at an offset, read in big blocks, split at lines.
 *
 * Also the one reader type of source.h: a reader for an http(s) URL hands
 * its calls to source_http.c. A file is opened without blocking and its
 * descriptor checked before anything is read: only a regular file is a
 * source (a FIFO would block the reader for ever, a device never end). */
#include "source.h"

#include <apr_file_io.h>
#include <apr_portable.h>
#include <apr_strings.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "source_http.h"

#define FD_PREFIX "/proc/self/fd/"

struct source_reader_t {
    apr_file_t *f;
    const char *path;
    const char *name;    /* in messages: path, or for FD_PREFIX paths the file's name */
    source_http_t *http; /* an http(s) URL: every call goes there */
};

static apr_status_t fail(abbey_err_t *err, const char *name, const char *what, apr_status_t rv)
{
    char ebuf[256];
    abbey_err_set(err, "%s: %s: %s", name, what, apr_strerror(rv, ebuf, sizeof ebuf));
    return rv;
}

/* What errors call path: a descriptor's path (instance.c reads through
 * FD_PREFIX paths) is named by the file it stands for. */
static const char *name_of(const char *path, apr_pool_t *pool)
{
    char buf[4096];
    ssize_t n;
    if (strncmp(path, FD_PREFIX, sizeof FD_PREFIX - 1) != 0)
        return path;
    n = readlink(path, buf, sizeof buf);
    return n > 0 && (size_t)n < sizeof buf ? apr_pstrndup(pool, buf, (apr_size_t)n) : path;
}

int source_not_regular(const struct stat *st, const char *name, abbey_err_t *err)
{
    mode_t m = st->st_mode;
    if (S_ISREG(m))
        return 0;
    abbey_err_set(err, "%s: is %s, not a regular file: only regular files are read", name,
                  S_ISFIFO(m)   ? "a FIFO"
                  : S_ISDIR(m)  ? "a directory"
                  : S_ISCHR(m)  ? "a character device"
                  : S_ISBLK(m)  ? "a block device"
                  : S_ISSOCK(m) ? "a socket"
                                : "of another type");
    return 1;
}

static apr_status_t reader_cleanup(void *data)
{
    source_reader_t *r = data;
    if (r->f) {
        apr_file_close(r->f);
        r->f = NULL;
    }
    return APR_SUCCESS;
}

/* Open path without blocking (a FIFO without writer would block open), and
 * keep the descriptor only when it is a regular file. */
static apr_status_t open_regular(source_reader_t *r, apr_pool_t *pool, abbey_err_t *err)
{
    struct stat st;
    apr_os_file_t fd = open(r->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    apr_status_t rv;

    if (fd < 0) {
        rv = APR_FROM_OS_ERROR(errno);
        return fail(err, r->name, "cannot open", rv);
    }
    if (fstat(fd, &st) != 0) {
        rv = APR_FROM_OS_ERROR(errno);
        close(fd);
        return fail(err, r->name, "cannot stat", rv);
    }
    if (source_not_regular(&st, r->name, err)) {
        close(fd);
        return APR_EBADPATH;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    if ((rv = apr_os_file_put(&r->f, &fd, APR_FOPEN_READ, pool)) != APR_SUCCESS) {
        close(fd);
        return fail(err, r->name, "cannot open", rv);
    }
    apr_pool_cleanup_register(pool, r, reader_cleanup, apr_pool_cleanup_null);
    return APR_SUCCESS;
}

apr_status_t source_open(const char *path, uint64_t offset, apr_pool_t *pool,
                         source_reader_t **out, abbey_err_t *err)
{
    source_reader_t *r = apr_pcalloc(pool, sizeof *r);
    apr_off_t off = (apr_off_t)offset;
    apr_status_t rv;

    r->path = path;
    r->name = path;
    if (source_is_http(path)) {
        r->http = source_http_open(path, offset, pool);
        *out = r;
        return APR_SUCCESS;
    }
    r->name = name_of(path, pool);
    if ((rv = open_regular(r, pool, err)) != APR_SUCCESS)
        return rv;
    if (offset && (rv = apr_file_seek(r->f, APR_SET, &off)) != APR_SUCCESS) {
        source_close(r);
        return fail(err, r->name, "cannot seek", rv);
    }
    *out = r;
    return APR_SUCCESS;
}

const char *source_name(const source_reader_t *r)
{
    return r->name;
}

void source_set_stop(source_reader_t *r, const volatile int *stop)
{
    if (r->http)
        source_http_set_stop(r->http, stop);
}

apr_status_t source_read(source_reader_t *r, void *buf, size_t max, size_t *got, abbey_err_t *err)
{
    apr_size_t n = max;
    apr_status_t rv;
    if (r->http)
        return source_http_read(r->http, buf, max, got, err);
    rv = apr_file_read(r->f, buf, &n);
    *got = n;
    if (rv == APR_EOF || (rv == APR_SUCCESS && n == 0)) {
        *got = 0;
        return APR_EOF;
    }
    return rv == APR_SUCCESS ? rv : fail(err, r->name, "read failed", rv);
}

apr_status_t source_size(source_reader_t *r, uint64_t *size)
{
    return source_total(r, size, NULL);
}

apr_status_t source_total(source_reader_t *r, uint64_t *size, abbey_err_t *err)
{
    apr_finfo_t fi;
    apr_status_t rv;
    if (r->http)
        return source_http_total(r->http, size, err);
    rv = apr_file_info_get(&fi, APR_FINFO_SIZE, r->f);
    if (rv != APR_SUCCESS)
        return fail(err, r->name, "cannot stat", rv);
    *size = (uint64_t)fi.size;
    return APR_SUCCESS;
}

void source_close(source_reader_t *r)
{
    if (r && r->http) {
        source_http_close(r->http);
        r->http = NULL;
    }
    if (r && r->f) {
        apr_file_close(r->f);
        r->f = NULL;
    }
}

/* First offset after a '\n' at or after pos - 1 (a line start), or size. */
static apr_status_t next_line_start(source_reader_t *r, uint64_t pos, uint64_t size, uint64_t *out,
                                    abbey_err_t *err)
{
    char blk[65536];
    apr_off_t off = (apr_off_t)(pos - 1);
    apr_status_t rv = apr_file_seek(r->f, APR_SET, &off);
    uint64_t at = pos - 1;
    if (rv != APR_SUCCESS)
        return fail(err, r->name, "cannot seek", rv);
    while (at < size) {
        size_t got;
        char *nl;
        rv = source_read(r, blk, sizeof blk, &got, err);
        if (rv == APR_EOF)
            break;
        if (rv != APR_SUCCESS)
            return rv;
        if ((nl = memchr(blk, '\n', got)) != NULL) {
            *out = at + (uint64_t)(nl - blk) + 1;
            return APR_SUCCESS;
        }
        at += got;
    }
    *out = size;
    return APR_SUCCESS;
}

apr_status_t source_split(const char *path, uint64_t size, int nparts, uint64_t *offs, int *n,
                          apr_pool_t *pool, abbey_err_t *err)
{
    source_reader_t *r;
    apr_status_t rv;
    int k = 0;

    offs[0] = 0;
    if (nparts <= 1 || size == 0 || source_is_http(path)) {
        offs[1] = size;
        *n = 1;
        return APR_SUCCESS;
    }
    if ((rv = source_open(path, 0, pool, &r, err)) != APR_SUCCESS)
        return rv;
    for (int i = 1; i < nparts; i++) {
        uint64_t want = size / (uint64_t)nparts * (uint64_t)i, start;
        if (want <= offs[k])
            continue;
        if ((rv = next_line_start(r, want, size, &start, err)) != APR_SUCCESS)
            break;
        if (start > offs[k] && start < size)
            offs[++k] = start;
    }
    source_close(r);
    offs[++k] = size;
    *n = k;
    return rv;
}
