/* task.h - running one task: a byte range of one source through a job's engine into a partial.
 *
 * The reader fills a block buffer, the engine takes every complete line in
 * it, and the incomplete tail moves to the front for the next read, so lines
 * are never copied twice and nothing is allocated per block. A line longer
 * than the job's max_line (or than the buffer holds) is never cut into
 * pieces: it is one bad line, "line too long", and its bytes are skipped up
 * to and including its '\n'. Thread-safe for distinct engines, buffers and
 * partials. */
#ifndef ABBEY_TASK_H
#define ABBEY_TASK_H

#include <apr_pools.h>
#include <stdint.h>

#include "engine.h"
#include "error.h"
#include "partial.h"
#include "rules.h"
#include "source.h"

#define TASK_BLOCK (4u << 20) /* default block size */

typedef struct task_io_t {
    char *buf; /* block buffer, size bytes: a line is parsed only when it fits with its '\n' */
    size_t size;
    const volatile int *stop; /* non-NULL: once *stop is set, reading ends (APR_EINTR) at the
                                 next block, or within a second for a URL */
    /* A memory budget (common/budget.h), NULL: none. Asked after each block
     * whose whole lines went into the partial, once the run has consumed
     * some; it may change the partial (standalone merges it into the totals
     * and empties it: the engine reads it only while it feeds). An answer
     * other than 0 cuts the run there, at the line boundary after the
     * block's lines: it returns APR_SUCCESS with *done at that boundary,
     * short of end, and sets cut (a slave delivers what it read, and the
     * rest is leased again). */
    int (*budget)(void *ctx, partial_t *out);
    void *budget_ctx;
    int cut; /* the last run was cut by budget (set by every run) */
} task_io_t;

/* The buffer size a worker needs for cfg: block (TASK_BLOCK when 0), or
 * more when a job's max_line + 1 needs more, unless block was given (a
 * smaller explicit block caps the lines parsed at block - 1 bytes). */
size_t task_io_size(const rules_config_t *cfg, size_t block);

/* What one thread needs to run tasks of one config: per job an engine and a
 * partial, made on first use, and the block buffer. Each slave worker
 * (slave.h) and each standalone thread (master/standalone.c) holds one.
 * Belongs to one thread. */
typedef struct task_engines_t {
    const rules_config_t *cfg;
    apr_pool_t *pool;     /* the engines, partials and buffer live in it */
    engine_t **engines;   /* per job (by rules_job_t.index), NULL until used */
    partial_t **partials; /* per job, made with its engine */
    task_io_t io;         /* io.buf in pool, task_io_size bytes */
} task_engines_t;

/* Set t up for cfg: no engine yet, io's buffer of task_io_size(cfg, block)
 * bytes, all in pool (clearing pool undoes it); io.stop and io.budget are
 * left as they were.
 * Cannot fail. */
void task_engines_init(task_engines_t *t, const rules_config_t *cfg, size_t block,
                       apr_pool_t *pool);

/* The engine and partial of job (one of t->cfg's), made in t->pool on first
 * use; the partial keeps what earlier tasks put in it. */
void task_engines_get(task_engines_t *t, const rules_job_t *job, engine_t **e, partial_t **p);

/* Process [start, end) of path (end = UINT64_MAX: to the end of the file).
 * The engine is told a new source starts (engine_source, with its
 * modification time, source_mtime); when its format has a header line and
 * start is past byte 0, the source's first line is read first and given to
 * engine_header: a source with no such line (none, longer than the limit,
 * or not a header) fails the task with "name: ..." in err, naming the
 * source, before any line is consumed.
 * Only whole lines are consumed: reading stops at the last '\n' before end,
 * except that a line longer than the limit (engine_max_line, at most
 * io->size - 1) that starts before end is skipped through its '\n' even
 * past end and counted as one bad line, so *done is never inside it; an
 * over-long line whose '\n' is not in the file yet is not consumed. With
 * at_eof_final set (a one-shot run over finished files) a last line without
 * '\n' counts too, and a file that ends before a finite end, or is now
 * shorter than what was read, was truncated while being read: APR_EOF with
 * "path: ..." and the offsets in err (the lines before still count). A
 * stream (an archive, stdin: source.h) is final: with at_eof_final its
 * unended last line counts at its end even before a finite end, and its
 * end is never a truncation; damaged archive data ends the run with
 * SOURCE_DAMAGED (the lines before it count).
 * *done receives the offset after the last consumed byte (the next start).
 * When io->stop is set, reading ends with APR_EINTR. On error the partial
 * keeps what was consumed up to *done. APR_ENOMEM: the whole range was read,
 * but an entry's table ran out of memory (engine_feed: the entry failed in
 * out, err names it); the other entries are complete. */
apr_status_t task_run_file(engine_t *e, const char *path, uint64_t start, uint64_t end,
                           int at_eof_final, task_io_t *io, partial_t *out,
                           engine_samples_t *samples, uint64_t *done, apr_pool_t *pool,
                           abbey_err_t *err);

/* The same over a reader the caller opened at start (source_open), for a
 * caller that asks the reader something first (source_total); the reader
 * stays open. */
apr_status_t task_run_reader(engine_t *e, source_reader_t *r, uint64_t start, uint64_t end,
                             int at_eof_final, task_io_t *io, partial_t *out,
                             engine_samples_t *samples, uint64_t *done, abbey_err_t *err);

#endif
