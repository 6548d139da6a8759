/* source_gz.c - the gz kind: a ".gz" file read as its decompressed stream (zlib).
 *
 * Every member of the file is read, one after the other, as gzip(1) and
 * zcat do: concatenated files (cat a.gz b.gz) and pigz's output are one
 * stream. Each member's CRC-32 and length are checked at its end (zlib), so
 * a bad checksum is found after the member's bytes were handed out.
 * Reading, offsets and damaged data: source_archive.c. */
#include "source_archive.h"

#include <zlib.h>

typedef struct gz_dec_t {
    z_stream z;
} gz_dec_t;

static apr_status_t gz_cleanup(void *data)
{
    inflateEnd(&((gz_dec_t *)data)->z);
    return APR_SUCCESS;
}

static void *gz_create(apr_pool_t *pool)
{
    gz_dec_t *d = apr_pcalloc(pool, sizeof *d);
    if (inflateInit2(&d->z, 16 + MAX_WBITS) != Z_OK) /* 16: gzip members only */
        return NULL;
    apr_pool_cleanup_register(pool, d, gz_cleanup, apr_pool_cleanup_null);
    return d;
}

static archive_step_t gz_step(void *dec, const uint8_t *in, size_t inlen, size_t *used,
                              uint8_t *out, size_t outlen, size_t *made, const char **why)
{
    gz_dec_t *d = dec;
    uInt ain = inlen > UINT_MAX ? UINT_MAX : (uInt)inlen;
    uInt aout = outlen > UINT_MAX ? UINT_MAX : (uInt)outlen;
    int rc;

    d->z.next_in = (Bytef *)in;
    d->z.avail_in = ain;
    d->z.next_out = out;
    d->z.avail_out = aout;
    rc = inflate(&d->z, Z_NO_FLUSH);
    *used = ain - d->z.avail_in;
    *made = aout - d->z.avail_out;
    switch (rc) {
    case Z_STREAM_END:
        inflateReset(&d->z); /* ready for the next member */
        return ARCHIVE_END;
    case Z_OK:
    case Z_BUF_ERROR: /* no progress possible with this input: the caller gives more */
        return ARCHIVE_MORE;
    case Z_MEM_ERROR:
        *why = "out of memory";
        return ARCHIVE_BAD;
    default: /* Z_DATA_ERROR ("incorrect data check": a bad CRC), Z_NEED_DICT */
        *why = d->z.msg ? d->z.msg : "not gzip data";
        return ARCHIVE_BAD;
    }
}

static const archive_codec_t gz_codec = {.what = "gzip", .create = gz_create, .step = gz_step};

static int gz_claims(const char *path)
{
    return archive_has_suffix(path, ".gz");
}

static apr_status_t gz_open(source_reader_t *r, uint64_t offset, abbey_err_t *err)
{
    return archive_open(r, &gz_codec, offset, err);
}

const source_kind_t source_gz_kind = {
    .name = "gz",
    .rules_kind = -1,
    .claims = gz_claims,
    .open = gz_open,
    .read = archive_read,
    .total = archive_total,
    .close = archive_close,
    .set_stop = archive_set_stop,
    .mtime = archive_mtime,
    .stream = 1,
};
