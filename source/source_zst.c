/* source_zst.c - the zst kind: a ".zst" file read as its decompressed stream (libzstd).
 *
 * Every frame of the file is read, one after the other, as zstdcat does
 * (skippable frames are skipped); a frame's checksum, when it has one, is
 * checked at its end. A frame that needs a window over libzstd's default
 * limit (128 MiB: made with --long=28 or more) is refused as damaged data
 * with libzstd's reason, so a reader's memory stays bounded.
 * Reading, offsets and damaged data: source_archive.c. */
#include "source_archive.h"

#include <zstd.h>

static apr_status_t zst_cleanup(void *data)
{
    ZSTD_freeDStream(data);
    return APR_SUCCESS;
}

static void *zst_create(apr_pool_t *pool)
{
    ZSTD_DStream *ds = ZSTD_createDStream();
    if (!ds)
        return NULL;
    apr_pool_cleanup_register(pool, ds, zst_cleanup, apr_pool_cleanup_null);
    if (ZSTD_isError(ZSTD_initDStream(ds)))
        return NULL;
    return ds;
}

static archive_step_t zst_step(void *dec, const uint8_t *in, size_t inlen, size_t *used,
                               uint8_t *out, size_t outlen, size_t *made, const char **why)
{
    ZSTD_inBuffer ib = {in, inlen, 0};
    ZSTD_outBuffer ob = {out, outlen, 0};
    size_t rc = ZSTD_decompressStream(dec, &ob, &ib);

    *used = ib.pos;
    *made = ob.pos;
    if (ZSTD_isError(rc)) { /* what the failing call says it wrote is not to be trusted */
        *made = 0;
        *why = ZSTD_getErrorName(rc);
        return ARCHIVE_BAD;
    }
    return rc == 0 ? ARCHIVE_END : ARCHIVE_MORE; /* 0: a frame is done and flushed */
}

static const archive_codec_t zst_codec = {.what = "zstd", .create = zst_create, .step = zst_step};

static int zst_claims(const char *path)
{
    return archive_has_suffix(path, ".zst");
}

static apr_status_t zst_open(source_reader_t *r, uint64_t offset, abbey_err_t *err)
{
    return archive_open(r, &zst_codec, offset, err);
}

const source_kind_t source_zst_kind = {
    .name = "zst",
    .rules_kind = -1,
    .claims = zst_claims,
    .open = zst_open,
    .read = archive_read,
    .total = archive_total,
    .close = archive_close,
    .set_stop = archive_set_stop,
    .mtime = archive_mtime,
    .stream = 1,
};
