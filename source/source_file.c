/* source_file.c - the file kind: local files, opened at an offset and read in big blocks.
 *
 * It claims every path no other kind claims (source.c offers it paths
 * last), and expands a rules file source to itself, decoded from its wire
 * form (wirepath.h). A file is opened without blocking and its descriptor
 * checked before anything is read: only a regular file is a source (a FIFO
 * would block the reader for ever, a device never end). */
#include "source_int.h"

#include <apr_file_io.h>
#include <apr_portable.h>
#include <apr_strings.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "wirepath.h"

#define FD_PREFIX "/proc/self/fd/"

/* The file kind's state: the open file (NULL once closed). */
typedef struct file_t {
    apr_file_t *f;
} file_t;

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

static apr_status_t file_cleanup(void *data)
{
    file_t *fs = data;
    if (fs->f) {
        apr_file_close(fs->f);
        fs->f = NULL;
    }
    return APR_SUCCESS;
}

/* Open path without blocking (a FIFO without writer would block open), and
 * keep the descriptor only when it is a regular file. */
static apr_status_t open_regular(source_reader_t *r, file_t *fs, abbey_err_t *err)
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
    if ((rv = apr_os_file_put(&fs->f, &fd, APR_FOPEN_READ, r->pool)) != APR_SUCCESS) {
        close(fd);
        return fail(err, r->name, "cannot open", rv);
    }
    apr_pool_cleanup_register(r->pool, fs, file_cleanup, apr_pool_cleanup_null);
    return APR_SUCCESS;
}

static void file_close(source_reader_t *r)
{
    file_cleanup(r->state);
}

static apr_status_t file_seek(source_reader_t *r, uint64_t offset, abbey_err_t *err)
{
    file_t *fs = r->state;
    apr_off_t off = (apr_off_t)offset;
    apr_status_t rv = apr_file_seek(fs->f, APR_SET, &off);
    return rv == APR_SUCCESS ? rv : fail(err, r->name, "cannot seek", rv);
}

static apr_status_t file_open(source_reader_t *r, uint64_t offset, abbey_err_t *err)
{
    file_t *fs = apr_pcalloc(r->pool, sizeof *fs);
    apr_status_t rv;

    r->state = fs;
    r->name = name_of(r->path, r->pool);
    if ((rv = open_regular(r, fs, err)) != APR_SUCCESS)
        return rv;
    if (offset && (rv = file_seek(r, offset, err)) != APR_SUCCESS) {
        file_close(r);
        return rv;
    }
    return APR_SUCCESS;
}

static apr_status_t file_read(source_reader_t *r, void *buf, size_t max, size_t *got,
                              abbey_err_t *err)
{
    file_t *fs = r->state;
    apr_size_t n = max;
    apr_status_t rv = apr_file_read(fs->f, buf, &n);
    *got = n;
    if (rv == APR_EOF || (rv == APR_SUCCESS && n == 0)) {
        *got = 0;
        return APR_EOF;
    }
    return rv == APR_SUCCESS ? rv : fail(err, r->name, "read failed", rv);
}

static apr_status_t file_total(source_reader_t *r, uint64_t *size, abbey_err_t *err)
{
    file_t *fs = r->state;
    apr_finfo_t fi;
    apr_status_t rv = apr_file_info_get(&fi, APR_FINFO_SIZE, fs->f);
    if (rv != APR_SUCCESS)
        return fail(err, r->name, "cannot stat", rv);
    *size = (uint64_t)fi.size;
    return APR_SUCCESS;
}

static apr_status_t file_mtime(source_reader_t *r, int64_t *mtime, abbey_err_t *err)
{
    file_t *fs = r->state;
    apr_finfo_t fi;
    apr_status_t rv = apr_file_info_get(&fi, APR_FINFO_MTIME, fs->f);
    if (rv != APR_SUCCESS)
        return fail(err, r->name, "cannot stat", rv);
    *mtime = (int64_t)apr_time_sec(fi.mtime);
    return APR_SUCCESS;
}

static int file_claims(const char *path)
{
    return 1;
}

/* A file source is its path, decoded from its wire form. */
static apr_status_t file_expand(const rules_source_t *src, apr_pool_t *pool,
                                apr_array_header_t *out, abbey_err_t *err)
{
    APR_ARRAY_PUSH(out, const char *) = wirepath_decode(src->path, pool);
    return APR_SUCCESS;
}

const source_kind_t source_file_kind = {
    .name = "file",
    .rules_kind = RULES_SRC_FILE,
    .expand = file_expand,
    .claims = file_claims,
    .open = file_open,
    .read = file_read,
    .total = file_total,
    .close = file_close,
    .seek = file_seek,
    .mtime = file_mtime,
};
