/* source.c - the source kinds, and the calls of source.h sent to a reader's kind.
 *
 * SOURCE_KINDS names every kind (source_int.h). A rules source is expanded
 * by the kind of its rules kind; a path is read by the first kind that
 * claims it, in SOURCE_KINDS order (file last: it claims every path). A
 * descriptor path ("/proc/self/fd/N", instance.h) is offered by the name of
 * the file it stands for, so a rotated archive is still read as one.
 * Splitting a source at line starts only needs seek and read, so it is done
 * here once for every kind that can seek; so is reading a source's first
 * line (source_first_line). */
#include "source_int.h"

#include <string.h>
#include <unistd.h>

#include "mem.h"

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

apr_status_t source_mtime(source_reader_t *r, int64_t *mtime, abbey_err_t *err)
{
    *mtime = 0;
    return r->kind->mtime ? r->kind->mtime(r, mtime, err) : APR_SUCCESS;
}

/* Read from r until a '\n' in buf[0..cap): the line's length in *len. Small reads: a header
 * line is short, and a read block is large. */
static apr_status_t read_line(source_reader_t *r, char *buf, size_t cap, size_t *len,
                              abbey_err_t *err)
{
    size_t have = 0, got;
    apr_status_t rv;
    while (have < cap) {
        const char *nl;
        size_t want = cap - have < 65536 ? cap - have : 65536;
        rv = source_read(r, buf + have, want, &got, err);
        if (rv == APR_EOF)
            break;
        if (rv != APR_SUCCESS)
            return rv;
        if ((nl = memchr(buf + have, '\n', got)) != NULL) {
            *len = (size_t)(nl - buf);
            return APR_SUCCESS;
        }
        have += got;
    }
    if (have == cap) {
        abbey_err_set(err, "%s: its first line is longer than %zu bytes", r->name, cap - 1);
        return APR_ENOSPC;
    }
    abbey_err_set(err, "%s: it ends at byte %zu, before its first line does", r->name, have);
    return APR_EOF;
}

apr_status_t source_first_line(source_reader_t *r, uint64_t at, char *buf, size_t cap, size_t *len,
                               const volatile int *stop, abbey_err_t *err)
{
    apr_pool_t *sub;
    source_reader_t *first;
    apr_status_t rv, back;
    if (r->kind->seek) {
        if ((rv = r->kind->seek(r, 0, err)) == APR_SUCCESS)
            rv = read_line(r, buf, cap, len, err);
        back = r->kind->seek(r, at, rv == APR_SUCCESS ? err : NULL);
        return rv == APR_SUCCESS ? back : rv;
    }
    sub = mem_xpool(r->pool);
    if ((rv = source_open(r->path, 0, sub, &first, err)) == APR_SUCCESS) {
        source_set_stop(first, stop);
        rv = read_line(first, buf, cap, len, err);
        source_close(first);
    }
    apr_pool_destroy(sub);
    return rv;
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
