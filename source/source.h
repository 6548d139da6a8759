/* source.h - log sources: expanding a job's sources into paths, and reading a path.
 *
 * The source layer's face (docs/ARCHITECTURE.md): the slave and standalone
 * read through it and never see a kind. Behind it is one small ops table
 * (source_int.h) with one file per kind: source_file.c reads local files,
 * source_glob.c expands patterns, source_http.c reads http(s) URLs with
 * Range requests, source_gz.c and source_zst.c read compressed files as
 * their decompressed stream, source_stdin.c reads standard input; source.c
 * picks the kind (by the rules source's kind to expand, by the path to
 * read) and splits sources at line starts. Readers are not thread-safe;
 * open one per task. */
#ifndef ABBEY_SOURCE_H
#define ABBEY_SOURCE_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <stdint.h>

#include "error.h"
#include "rules.h"

typedef struct source_reader_t source_reader_t;

/* The path that names standard input (abbey-master --stdin): a rules
 * source is never it (file paths are made absolute). */
#define SOURCE_STDIN "-"

/* What source_read returns when an archive's data is damaged (truncated, a
 * bad checksum, not what its name says): err names the file and the
 * decompressed offset; the bytes before that offset were handed out. */
#define SOURCE_DAMAGED APR_EMISMATCH

/* Append the paths src stands for to out (an array of const char *): a file
 * is itself (even when missing: reading it reports the error), a glob its
 * matches in sorted order (none is not an error). File and glob paths are
 * decoded from their wire form first (wirepath.h); a URL is kept as is. */
apr_status_t source_expand(const rules_source_t *src, apr_pool_t *pool, apr_array_header_t *out,
                           abbey_err_t *err);

/* 1 when path starts with "http://" or "https://" (case-insensitive): the
 * http kind reads it (the slave names its instances "http:gen", instance.h). */
int source_is_http(const char *path);

/* 1 when path is read as a stream: a compressed file (".gz", ".zst", also
 * through a "/proc/self/fd/N" path naming one) or standard input. A stream
 * is final (it does not grow), is read from its start (reading from an
 * offset decompresses the bytes before it: offsets are decompressed bytes),
 * is never split, and its size is known only once it was read to its end. */
int source_path_is_stream(const char *path);

/* source_path_is_stream of the path r reads. */
int source_is_stream(const source_reader_t *r);

/* Open path (a file, or an http(s) URL) for reading from byte offset. On
 * error returns the APR status with "path: reason" in err; a path that is
 * not a regular file (a FIFO, a directory, a device) is refused without
 * blocking ("path: is a FIFO, not a regular file..."). The reader lives in
 * pool (closed with it at the latest). Opening a URL does no I/O yet.
 * Messages name the path; for a descriptor path "/proc/self/fd/N"
 * (instance.h) they name the file the descriptor stands for. */
apr_status_t source_open(const char *path, uint64_t offset, apr_pool_t *pool, source_reader_t **out,
                         abbey_err_t *err);

/* 0 when st is a regular file's; else 1, with "name: is a FIFO, not a
 * regular file..." (or a directory, a device...) in err. */
struct stat;
int source_not_regular(const struct stat *st, const char *name, abbey_err_t *err);

/* The name the reader's messages use (see source_open). */
const char *source_name(const source_reader_t *r);

/* Make the reader's network transfers give up (APR_EINTR) within about a
 * second once *stop is non-zero (read atomically). Files need nothing:
 * task.h looks at the flag between blocks. */
void source_set_stop(source_reader_t *r, const volatile int *stop);

/* Read up to max bytes into buf: *got bytes, APR_EOF at the end (with *got 0). */
apr_status_t source_read(source_reader_t *r, void *buf, size_t max, size_t *got, abbey_err_t *err);

/* Size of the source now (source_total without a message). */
apr_status_t source_size(source_reader_t *r, uint64_t *size);

/* source_size with a message on failure. For a URL: the total size its
 * server last reported (the first call fetches the first block, kept for
 * the reads that follow); an error when the server does not say. For a
 * stream: its size once it was read to its end, else APR_INCOMPLETE. */
apr_status_t source_total(source_reader_t *r, uint64_t *size, abbey_err_t *err);

/* The source's modification time in epoch seconds (a file's mtime; a URL's
 * Last-Modified header, asked for with the first block when nothing was read
 * yet), or 0 when the kind cannot tell. An error (with "name: reason" in
 * err) only when asking failed: a URL that does not answer. */
apr_status_t source_mtime(source_reader_t *r, int64_t *mtime, abbey_err_t *err);

/* The source's first line, for a reader opened at byte at that has read
 * nothing yet (a range starting past a header line): into buf[0..*len),
 * without its '\n', when it fits in cap - 1 bytes. A kind that can seek reads
 * it through r itself (the same file, even when its path was renamed since)
 * and goes back to at; another one opens a second reader at byte 0 (stop as
 * in source_set_stop). Errors name the source: "name: its first line is
 * longer than N bytes" (APR_ENOSPC), "name: it ends at byte N, before its
 * first line does" (APR_EOF), or a read error. */
apr_status_t source_first_line(source_reader_t *r, uint64_t at, char *buf, size_t cap, size_t *len,
                               const volatile int *stop, abbey_err_t *err);

/* Release what the reader holds now (its pool would at the latest); r may
 * be NULL, and closing twice is safe. */
void source_close(source_reader_t *r);

/* The first bytes of path's content (decompressed for an archive): up to
 * max into buf, *got of them (fewer when the source is shorter). Errors as
 * source_open and source_read's. */
apr_status_t source_head(const char *path, void *buf, size_t max, size_t *got, apr_pool_t *pool,
                         abbey_err_t *err);

/* Cut [0, size) of path into at most nparts ranges that start at line
 * boundaries: fills offs[0..*n] with offs[0] = 0 and offs[*n] = size.
 * A source whose kind cannot seek (a URL, a stream) is never cut (one range). */
apr_status_t source_split(const char *path, uint64_t size, int nparts, uint64_t *offs, int *n,
                          apr_pool_t *pool, abbey_err_t *err);

#endif
