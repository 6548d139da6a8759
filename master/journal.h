/* journal.h - a master's durable store: a journal of frames plus checkpoints.
 *
 * One store lives in one directory and has a name (the merger's is "merger",
 * the primary's scheduler's "sched"). Files:
 *
 *   <name>-<seq>.journal   journal segments, frame files (framelog.h); seq is
 *                          a decimal number, 20 digits, zero-padded, so names
 *                          sort by seq. Frames are appended to the newest.
 *   <name>-<seq>.ckpt      checkpoints: a frame file written whole to
 *                          "<name>-<seq>.ckpt.tmp", fsynced, renamed, and the
 *                          directory fsynced. Checkpoint seq N holds the state
 *                          made by every frame of the segments numbered below
 *                          N: recovery loads it and replays segments >= N.
 *
 * What the frames mean is the caller's (partials for the merger, state records
 * for the scheduler: frame.h, FRAME_FLAG_RECORD); the store only keeps them in
 * order, durable, and hands them back. Retention: after a checkpoint N is
 * written, the checkpoint before it (M: the newest one known whole, i.e. the
 * one recovery loaded or the one written last) is kept, and so are the
 * segments >= M, so a newest checkpoint found damaged at recovery falls back
 * to M and replays from there. Every other checkpoint (older ones, and
 * damaged ones recovery skipped) and the segments below M are deleted.
 *
 * Durability (journal_fsync_t): a frame appended with journal_append is in
 * the file (it survives the process being killed) when append returns; it is
 * on disk (survives the machine) once journal_commit(ticket) returns:
 *   ALWAYS  each append fsyncs before returning (one fsync per frame);
 *   BATCH   group commit: journal_commit fsyncs everything appended so far,
 *           unless another thread's fsync is running, in which case it waits
 *           for it and, if its frame came after that fsync began, for the
 *           next one (which covers every frame appended meanwhile). A commit
 *           waits for at most two fsyncs; frames arriving together share one.
 *   NEVER   no fsync of segments (the OS writes them back); checkpoints are
 *           still fsynced. A process crash loses nothing, a power loss may
 *           lose the newest frames.
 * A failed fsync or write makes the store failed: every later append and
 * commit fails with the first error (the page cache state is unknown after a
 * failed fsync); the process should be restarted and recover.
 *
 * Thread-safe: appends, commits, rotation and checkpoints may come from any
 * thread (one internal mutex, never held during fsync except in ALWAYS mode).
 * journal_recover is called once, before any append, by one thread. */
#ifndef ABBEY_JOURNAL_H
#define ABBEY_JOURNAL_H

#include <apr_pools.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "frame.h"

typedef enum journal_fsync_t {
    JOURNAL_FSYNC_BATCH = 0, /* the default */
    JOURNAL_FSYNC_ALWAYS = 1,
    JOURNAL_FSYNC_NEVER = 2
} journal_fsync_t;

/* "always" / "batch" / "never" -> *out; 0, or -1 for anything else. */
int journal_fsync_parse(const char *s, journal_fsync_t *out);
const char *journal_fsync_name(journal_fsync_t f);

typedef struct journal_t journal_t;

/* Open the store name in dir (dir created with mode 0700, parents too, when
 * missing). Nothing is read or written yet besides the directory listing;
 * journal_recover comes next. Leftover "*.ckpt.tmp" files (a crash during a
 * checkpoint) are deleted. Returns APR status with "dir: reason" in err. */
apr_status_t journal_open(const char *dir, const char *name, journal_fsync_t mode, apr_pool_t *pool,
                          journal_t **out, abbey_err_t *err);

/* Called for each frame handed back by journal_recover; offset is the byte
 * offset in file (a basename). Return non-zero to stop recovery (it then
 * fails with "stopped by the caller"). The bytes are valid during the call. */
typedef int (*journal_frame_fn)(void *ctx, const char *file, uint64_t offset, const uint8_t *frame,
                                size_t len, const frame_header_t *h);

typedef struct journal_recovery_t {
    uint64_t checkpoint_seq; /* of the checkpoint loaded; 0: none */
    uint64_t checkpoint_frames, checkpoint_bytes;
    int checkpoints_damaged;         /* newer checkpoints skipped as damaged */
    int segments;                    /* journal segments replayed */
    uint64_t frames, bytes;          /* journal frames handed to fn, and their bytes */
    uint64_t damaged, damaged_bytes; /* skipped ranges in segments (each logged) */
    int64_t elapsed_ms;
} journal_recovery_t;

/* Recover: find the newest checkpoint that reads back whole (every frame
 * valid, no damage, no torn tail: checked in a first pass before any frame
 * is handed out), hand its frames in order to ckpt_fn, then hand every frame
 * of every segment with seq >= that checkpoint's seq (all segments when
 * there is no checkpoint) to fn, in order. Damaged checkpoints are skipped
 * and logged (file, byte offset, reason); damage inside a segment is logged
 * (file, range, reason; log.h) and skipped (framelog_walk), and recovery
 * goes on. Afterwards appends go to a new segment numbered above every file
 * seen. stats may be NULL. Returns APR_SUCCESS, or an error with err (a
 * file that cannot be read, the caller stopping). */
apr_status_t journal_recover(journal_t *j, journal_frame_fn ckpt_fn, journal_frame_fn fn, void *ctx,
                             journal_recovery_t *stats, abbey_err_t *err);

/* Append one whole frame (frame_encode / frame_encode_record bytes) to the
 * current segment. *ticket (may be NULL) identifies it for journal_commit.
 * On failure (ENOSPC, EFBIG, ...) nothing of the frame stays in the file and
 * err names the file and the reason. */
apr_status_t journal_append(journal_t *j, const void *frame, size_t len, uint64_t *ticket,
                            abbey_err_t *err);

/* Return once the frame with this ticket (and every one before it) is as
 * durable as the mode makes it (see above). APR_SUCCESS, or the store's
 * failure with err. Ticket 0 is always committed. */
apr_status_t journal_commit(journal_t *j, uint64_t ticket, abbey_err_t *err);

/* Start a new segment: frames appended from now on go to it. Returns its
 * seq, the seq to give the checkpoint of the state as of now (a caller
 * holds its own state lock across its appends and this call, so the state
 * it then serializes holds exactly the frames of the older segments). The
 * old segment is made durable (fsync, unless NEVER; none is needed when
 * every frame in it was committed) first. Returns 0 on failure (the store
 * is failed; err says why). */
uint64_t journal_rotate(journal_t *j, abbey_err_t *err);

/* Write checkpoint seq (from journal_rotate) with the len bytes of data (a
 * frame file's contents) atomically, then apply retention (see above).
 * Returns APR status with err; on failure the previous checkpoints and every
 * segment are kept. APR_EINVAL when data is not whole frames back to back
 * (0 bytes is an empty state) or seq is not one journal_rotate returned
 * after the newest checkpoint. A failed checkpoint does not fail the store;
 * a failed store refuses checkpoints. */
apr_status_t journal_checkpoint(journal_t *j, uint64_t seq, const void *data, size_t len,
                                abbey_err_t *err);

typedef struct journal_stats_t {
    uint64_t appended_frames, appended_bytes; /* since open */
    uint64_t fsyncs;                          /* segment fsyncs since open */
    uint64_t segment_bytes;                   /* bytes in segments since the newest checkpoint */
    uint64_t checkpoints;                     /* written since open */
    uint64_t checkpoint_seq;                  /* newest checkpoint (0: none) */
    uint64_t checkpoint_bytes;
    int failed;
} journal_stats_t;

void journal_stats(journal_t *j, journal_stats_t *out);

/* Close the current segment (fsync unless NEVER). The store is unusable after. */
void journal_close(journal_t *j);

#endif
