/* source_archive.h - what the archive kinds (source_gz.c, source_zst.c) share (source/ only).
 *
 * An archive is a compressed file read as its decompressed stream: its
 * offsets are decompressed bytes. source_archive.c does what every archive
 * needs: the compressed file read through the file kind (so the same checks
 * apply: a regular file only, opened without blocking), an input buffer,
 * members (gzip) or frames (zstd) one after the other, reaching an offset
 * by decompressing up to it, the end of the stream (its size), and damaged
 * data (an error naming the file and the decompressed offset, after the
 * bytes before it were handed out). A codec, one per kind, only decodes.
 * Memory: a reader's buffers and decoder live in a subpool of the reader's
 * pool, freed at close; nothing is allocated per read. */
#ifndef ABBEY_SOURCE_ARCHIVE_H
#define ABBEY_SOURCE_ARCHIVE_H

#include <stdint.h>

#include "source_int.h"

typedef enum archive_step_t {
    ARCHIVE_MORE, /* decoded what it could; give it more input or more room */
    ARCHIVE_END,  /* a member (frame) ended: the decoder is ready for the next one */
    ARCHIVE_BAD,  /* the data is damaged: *why says how */
} archive_step_t;

typedef struct archive_codec_t {
    const char *what; /* "gzip", "zstd": in messages */
    /* A decoder in pool (its library memory is freed with pool); NULL when
     * the library cannot make one (out of memory). */
    void *(*create)(apr_pool_t *pool);
    /* Decode in[0..inlen) into out[0..outlen): *used bytes of in taken,
     * *made bytes of out written. Never reads past inlen or writes past
     * outlen; *why is static text or the library's. */
    archive_step_t (*step)(void *dec, const uint8_t *in, size_t inlen, size_t *used, uint8_t *out,
                           size_t outlen, size_t *made, const char **why);
} archive_codec_t;

/* The kind ops of an archive kind whose codec is codec (source_int.h):
 * open at a decompressed offset (the first read decompresses the bytes
 * before it and drops them, or ends with APR_EINTR once set_stop's flag is
 * set; an offset past the end of the stream reads nothing), read (at the
 * end APR_EOF; damaged data SOURCE_DAMAGED, source.h), total (the
 * decompressed size once the stream's end was reached, else
 * APR_INCOMPLETE), close (safe twice), set_stop. */
apr_status_t archive_open(source_reader_t *r, const archive_codec_t *codec, uint64_t offset,
                          abbey_err_t *err);
apr_status_t archive_read(source_reader_t *r, void *buf, size_t max, size_t *got, abbey_err_t *err);
apr_status_t archive_total(source_reader_t *r, uint64_t *size, abbey_err_t *err);
void archive_close(source_reader_t *r);
void archive_set_stop(source_reader_t *r, const volatile int *stop);
/* The compressed file's modification time (the source_mtime op). */
apr_status_t archive_mtime(source_reader_t *r, int64_t *mtime, abbey_err_t *err);

/* 1 when path ends with suffix (".gz"), compared without case. */
int archive_has_suffix(const char *path, const char *suffix);

#endif
