/* rejects.h - bad lines kept: each one written, with its source, offset and reason, to a
 * rotating file of JSON lines in the job's `rejects:` directory (docs/RULES.md).
 *
 * One writer per job and process (rejects_file), shared by every thread that
 * reads the job; the engine hands it bad lines through its sink
 * (engine_set_sink with rejects_sink), so the rules layer does no I/O. The
 * file is DIR/<job>.rejects; a record is one line
 *   {"source":S,"offset":N,"reason":R,"why":W,"line":L}
 * where R is the reason's stable name (partial_reason_name: "quote",
 * "number", ...), W says it naming the field ("status is not a number"), and
 * S and L are escaped as utf8_escape does ("\\" for a backslash, "\xNN" for a
 * control byte, a NUL or a byte of invalid UTF-8), then written as JSON
 * strings, so every byte survives and can be restored. A line longer than
 * REJECTS_LINE_MAX bytes, or one too long that a reader skipped, keeps its
 * first bytes and adds "bytes":N (its length) and "truncated":true.
 *
 * At most max_per_round lines are written per round (the newest round this
 * writer has seen; a line of an older round counts against it); the rest are
 * counted only, and when the round ends (a line of a newer round arrives, or
 * the writer closes) a record {"round":R,"not_kept":N,"max_per_round":M}
 * says how many (and a log line too). A file that a record would take past
 * max_size is renamed <job>.rejects.1 (older ones shift up to .keep, the
 * oldest goes) and a new one is started. Files are created 0640 (less under
 * the umask); a path that is a symbolic link (the writer never makes one) or
 * not a regular file is refused, never followed or opened (O_NOFOLLOW,
 * O_NONBLOCK). A directory that cannot be created or written, or a full
 * disk, is logged once; the lines are then counted as lost, never waited
 * for, and the writer tries again when the next round starts.
 *
 * Thread safety: every function is thread-safe; a writer's lines are written
 * under its own mutex (bad lines are the slow path), the table of writers
 * under the rejects_t's. */
#ifndef ABBEY_REJECTS_H
#define ABBEY_REJECTS_H

#include <apr_pools.h>
#include <stdint.h>

#include "engine.h"
#include "rules.h"

#define REJECTS_LINE_MAX ((size_t)64 << 10) /* bytes of a line a record keeps */

typedef struct rejects_t rejects_t;           /* a process's writers */
typedef struct rejects_file_t rejects_file_t; /* one job's writer */

/* What a writer did. */
typedef struct rejects_stats_t {
    const char *path;  /* DIR/<job>.rejects */
    uint64_t kept;     /* lines written */
    uint64_t not_kept; /* over max_per_round: counted only */
    uint64_t lost;     /* could not be written (the directory or the disk failed) */
} rejects_stats_t;

/* What one reader tells the sink about the lines it feeds: the job's writer
 * (NULL: none), the source (as records name it) and the round. The reader
 * owns it and may change source and round between feeds. */
typedef struct rejects_sink_t {
    rejects_file_t *file;
    const char *source;
    uint64_t round;
} rejects_sink_t;

/* An empty set of writers in pool. Destroying pool closes every file, after
 * writing each one's not_kept record for its last round. Cannot fail. */
rejects_t *rejects_create(apr_pool_t *pool);

/* The writer of job (made on first use; job->rejects.dir NULL: none, NULL is
 * returned). Writers are found by directory and job name, so a reloaded
 * config keeps writing the same files; its max_per_round, max_size and keep
 * are taken from job at every call. Nothing is opened until a line comes. */
rejects_file_t *rejects_file(rejects_t *r, const rules_job_t *job);

/* Write one bad line of round round read from source (see above). Never
 * fails: a line that cannot be written is counted (lost) and, the first time,
 * logged. */
void rejects_put(rejects_file_t *f, uint64_t round, const char *source, const engine_bad_t *bad);

/* The engine sink (engine_sink_fn) for a rejects_sink_t ctx: rejects_put of
 * ctx->file, ctx->round and ctx->source. */
void rejects_sink(void *ctx, const engine_bad_t *bad);

/* Set e's sink to s when s->file is set, else none. */
void rejects_attach(engine_t *e, rejects_sink_t *s);

/* A snapshot of f's counters. */
void rejects_stats(rejects_file_t *f, rejects_stats_t *out);

#endif
