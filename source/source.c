/* source.c - the source kinds, and the calls of source.h sent to a reader's kind.
 *
 * SOURCE_KINDS names every kind (source_int.h). A rules source is expanded
 * by the kind of its rules kind; a path is read by the first kind that
 * claims it, in SOURCE_KINDS order (file last: it claims every path). A
 * descriptor path ("/proc/self/fd/N", instance.h) is offered by the name of
 * the file it stands for, so a rotated archive is still read as one.
 * Splitting a source at line starts only needs seek and read, so it is done
 * here once for every kind that can seek. */
#include "source_int.h"

#include <string.h>
#include <unistd.h>

/* One name per kind, in the order paths are offered to them (file last). */
#define SOURCE_KINDS(X) X(http) X(glob) X(stdin) X(gz) X(zst) X(file)

#define SOURCE_KIND_DECLARE(k) extern const source_kind_t source_##k##_kind;
#define SOURCE_KIND_ADDRESS(k) &source_##k##_kind,
SOURCE_KINDS(SOURCE_KIND_DECLARE)
static const source_kind_t *const kinds[] = {SOURCE_KINDS(SOURCE_KIND_ADDRESS)};
#define NKINDS (sizeof kinds / sizeof kinds[0])

apr_status_t source_expand(const rules_source_t *src, apr_pool_t *pool, apr_array_header_t *out,
                           abbey_err_t *err)
{
    for (size_t i = 0; i < NKINDS; i++) {
        if (kinds[i]->rules_kind != (int)src->kind)
            continue;
        if (kinds[i]->expand)
            return kinds[i]->expand(src, pool, out, err);
        APR_ARRAY_PUSH(out, const char *) = src->path;
        return APR_SUCCESS;
    }
    abbey_err_set(err, "%s: no source kind expands this source", src->path);
    return APR_ENOTIMPL;
}

#define FD_PREFIX "/proc/self/fd/"
#define DELETED " (deleted)"

/* The kind that reads path (the file kind claims every path); a descriptor
 * path by the name of its file, less the " (deleted)" of a removed one. */
static const source_kind_t *kind_of(const char *path)
{
    char name[4096];
    if (strncmp(path, FD_PREFIX, sizeof FD_PREFIX - 1) == 0) {
        ssize_t n = readlink(path, name, sizeof name - 1);
        if (n > 0) {
            name[n] = '\0';
            if ((size_t)n > sizeof DELETED - 1 &&
                strcmp(name + n - (sizeof DELETED - 1), DELETED) == 0)
                name[n - (sizeof DELETED - 1)] = '\0';
            path = name;
        }
    }
    for (size_t i = 0; i < NKINDS; i++)
        if (kinds[i]->claims && kinds[i]->claims(path))
            return kinds[i];
    return NULL;
}

int source_path_is_stream(const char *path)
{
    const source_kind_t *k = kind_of(path);
    return k && k->stream;
}

int source_is_stream(const source_reader_t *r)
{
    return r->kind->stream;
}

apr_status_t source_open(const char *path, uint64_t offset, apr_pool_t *pool, source_reader_t **out,
                         abbey_err_t *err)
{
    source_reader_t *r = apr_pcalloc(pool, sizeof *r);
    apr_status_t rv;

    r->kind = kind_of(path);
    r->path = path;
    r->name = path;
    r->pool = pool;
    if (!r->kind) {
        abbey_err_set(err, "%s: no source kind reads this path", path);
        return APR_ENOTIMPL;
    }
    if ((rv = r->kind->open(r, offset, err)) != APR_SUCCESS)
        return rv;
    *out = r;
    return APR_SUCCESS;
}

const char *source_name(const source_reader_t *r)
{
    return r->name;
}

void source_set_stop(source_reader_t *r, const volatile int *stop)
{
    if (r->kind->set_stop)
        r->kind->set_stop(r, stop);
}

apr_status_t source_read(source_reader_t *r, void *buf, size_t max, size_t *got, abbey_err_t *err)
{
    return r->kind->read(r, buf, max, got, err);
}

apr_status_t source_size(source_reader_t *r, uint64_t *size)
{
    return source_total(r, size, NULL);
}

apr_status_t source_total(source_reader_t *r, uint64_t *size, abbey_err_t *err)
{
    return r->kind->total(r, size, err);
}

void source_close(source_reader_t *r)
{
    if (r)
        r->kind->close(r);
}

apr_status_t source_head(const char *path, void *buf, size_t max, size_t *got, apr_pool_t *pool,
                         abbey_err_t *err)
{
    source_reader_t *r;
    apr_status_t rv;
    size_t n;

    *got = 0;
    if ((rv = source_open(path, 0, pool, &r, err)) != APR_SUCCESS)
        return rv;
    while (*got < max &&
           (rv = source_read(r, (char *)buf + *got, max - *got, &n, err)) == APR_SUCCESS)
        *got += n;
    source_close(r);
    return rv == APR_EOF ? APR_SUCCESS : rv;
}

/* First offset after a '\n' at or after pos - 1 (a line start), or size. */
static apr_status_t next_line_start(source_reader_t *r, uint64_t pos, uint64_t size, uint64_t *out,
                                    abbey_err_t *err)
{
    char blk[65536];
    apr_status_t rv = r->kind->seek(r, pos - 1, err);
    uint64_t at = pos - 1;
    if (rv != APR_SUCCESS)
        return rv;
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
    const source_kind_t *kind = kind_of(path);
    source_reader_t *r;
    apr_status_t rv;
    int k = 0;

    offs[0] = 0;
    if (nparts <= 1 || size == 0 || !kind || !kind->seek) {
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
