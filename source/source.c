/* source.c - the source kinds, and the calls of source.h sent to a reader's kind.
 *
 * SOURCE_KINDS names every kind (source_int.h). A rules source is expanded
 * by the kind of its rules kind; a path is read by the first kind that
 * claims it, in SOURCE_KINDS order (file last: it claims every path).
 * Splitting a source at line starts only needs seek and read, so it is done
 * here once for every kind that can seek. */
#include "source_int.h"

#include <string.h>

/* One name per kind, in the order paths are offered to them (file last). */
#define SOURCE_KINDS(X) X(http) X(glob) X(file)

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

/* The kind that reads path (the file kind claims every path). */
static const source_kind_t *kind_of(const char *path)
{
    for (size_t i = 0; i < NKINDS; i++)
        if (kinds[i]->claims && kinds[i]->claims(path))
            return kinds[i];
    return NULL;
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
