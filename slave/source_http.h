/* source_http.h - http(s) URLs as sources: the reader kind behind source_open("http://...").
 *
 * A reader asks the server for exactly the bytes it is asked for, one
 * request per block, with "Range: bytes=a-b" (a 206 answer); a 416 is the
 * end of the data (its "bytes * /total" gives the size); a 200 (a server
 * that ignores Range) is kept whole and served from the reader's offset.
 * Each reader has its own curl handle without the cluster's token (log
 * hosts never see it). Use it through source.h; not thread-safe. */
#ifndef ABBEY_SOURCE_HTTP_H
#define ABBEY_SOURCE_HTTP_H

#include <apr_pools.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define SOURCE_HTTP_PROBE (1u << 20) /* first block fetched to learn the size */
#define SOURCE_HTTP_CONNECT_MS 5000
#define SOURCE_HTTP_TIMEOUT_MS 120000

typedef struct source_http_t source_http_t;

/* 1 when path starts with "http://" or "https://" (case-insensitive). */
int source_is_http(const char *path);

/* A reader of url from byte offset, in pool (cleaned up with it). No I/O. */
source_http_t *source_http_open(const char *url, uint64_t offset, apr_pool_t *pool);

/* Make the reader's transfers give up with APR_EINTR ("stopped") within
 * about a second once *stop is non-zero (NULL: never). */
void source_http_set_stop(source_http_t *h, const volatile int *stop);

/* Up to max bytes at the reader's offset: *got bytes; APR_EOF (with *got 0)
 * at the end; an error with "GET url: reason" when the server did not answer
 * or answered with another status than 200/206/416. */
apr_status_t source_http_read(source_http_t *h, void *buf, size_t max, size_t *got,
                              abbey_err_t *err);

/* The total size the server reported last; when it was not asked yet, a
 * first block (SOURCE_HTTP_PROBE bytes) is fetched and kept for the reads.
 * An error when the server does not answer or does not tell the size. */
apr_status_t source_http_total(source_http_t *h, uint64_t *size, abbey_err_t *err);

/* Release the buffered body now (the connection goes with the pool). */
void source_http_close(source_http_t *h);

#endif
