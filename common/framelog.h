/* framelog.h - files of frames: the slave's spool files and the master's journal.
 *
 * A frame file is frames (rules/frame.h) back to back, nothing else: the
 * same bytes as the bodies of POST /v1/partials. Writers append whole frames
 * and make them durable (fsync) before saying so. Readers walk a file frame
 * by frame and never trust a length they have not bounded (frame_peek does
 * that): a torn tail (a last frame cut short, as a crash during an append
 * leaves it) ends the walk cleanly and is reported; a corrupt frame (bad
 * magic, CRC, lengths) is reported with the file and byte offset, skipped
 * to the next place the magic appears, and the walk goes on from there.
 * Every skipped byte range is reported: nothing is lost silently.
 * A writer or reader is used by one thread at a time, except that
 * framelog_sync may run while another thread appends (the master's journal
 * does its group-commit fsync outside its lock; both only use the file
 * descriptor, which never changes).
 * Processes that append ignore SIGXFSZ (signal(SIGXFSZ, SIG_IGN), as the
 * slave's and master's main do) so a file size limit is an EFBIG error that
 * framelog_append reports, not the death of the process. */
#ifndef ABBEY_FRAMELOG_H
#define ABBEY_FRAMELOG_H

#include <apr_pools.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "frame.h"

typedef struct framelog_writer_t framelog_writer_t;

/* Open path for appending (created with mode 0600 when missing, parent
 * directories too). If the file ends in a torn frame, the writer first cuts
 * it back to the last whole frame (reporting the cut in *err's message only
 * as information: the call still succeeds; *cut gets the bytes removed, may
 * be NULL). Returns APR status with "path: reason" in err on failure. */
apr_status_t framelog_open(const char *path, apr_pool_t *pool, framelog_writer_t **out,
                           uint64_t *cut, abbey_err_t *err);

/* Append one whole frame (len bytes, as frame_encode made it) and, when sync
 * is set, fsync before returning. On failure (e.g. ENOSPC, EFBIG) the file is
 * cut back to where it was, so it never keeps a partial frame, and the APR
 * status is returned with "path: reason" (naming the space problem) in err. */
apr_status_t framelog_append(framelog_writer_t *w, const void *frame, size_t len, int sync,
                             abbey_err_t *err);

/* fsync what was appended without sync (group commit). */
apr_status_t framelog_sync(framelog_writer_t *w, abbey_err_t *err);

/* fsync directory dir, so that a file created or renamed in it stays
 * (EINVAL from a filesystem that cannot sync directories is not an error).
 * APR status with "dir: reason" in err. */
apr_status_t framelog_sync_dir(const char *dir, abbey_err_t *err);

/* Set err to "path: what: strerror(e)" and return e as an APR status. */
apr_status_t framelog_os_error(abbey_err_t *err, const char *path, const char *what, int e);

/* Bytes in the file now. */
uint64_t framelog_size(const framelog_writer_t *w);

void framelog_close(framelog_writer_t *w);

/* What a walk saw: called for each whole, valid frame (the bytes stay valid
 * during the call only) with its offset; return non-zero to stop the walk. */
typedef int (*framelog_frame_fn)(void *ctx, uint64_t offset, const uint8_t *frame, size_t len,
                                 const frame_header_t *h);

/* Called for each damaged byte range [start, end) that the walk skipped:
 * why is "corrupt frame: <reason>" or "torn tail: <n> bytes of a frame". */
typedef void (*framelog_damage_fn)(void *ctx, uint64_t start, uint64_t end, const char *why);

typedef struct framelog_stats_t {
    uint64_t frames, bytes;          /* valid frames and their bytes */
    uint64_t damaged, damaged_bytes; /* skipped ranges and their bytes */
    int torn_tail;                   /* the file ends in a partial frame */
} framelog_stats_t;

/* Walk path from byte offset `from`, reading it in bounded blocks (frames up
 * to the frame size limits). damage may be NULL (then damage only counts in
 * stats). Returns APR_SUCCESS when the file was walked (damage or not), or
 * the APR error of opening/reading it with "path: reason" in err. */
apr_status_t framelog_walk(const char *path, uint64_t from, framelog_frame_fn frame_fn,
                           framelog_damage_fn damage_fn, void *ctx, framelog_stats_t *stats,
                           apr_pool_t *pool, abbey_err_t *err);

#endif
