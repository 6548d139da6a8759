/* task.h - running one task: a byte range of one source through a job's engine into a partial.
 *
 * The reader fills a block buffer, the engine takes every complete line in
 * it, and the incomplete tail moves to the front for the next read, so lines
 * are never copied twice and nothing is allocated per block. Thread-safe for
 * distinct engines, buffers and partials. */
#ifndef ABBEY_TASK_H
#define ABBEY_TASK_H

#include <apr_pools.h>
#include <stdint.h>

#include "engine.h"
#include "error.h"
#include "partial.h"
#include "source.h"

#define TASK_BLOCK (4u << 20) /* default block size */

typedef struct task_io_t {
    char *buf;   /* block buffer, size bytes ; a line longer than this is cut into pieces */
    size_t size;
} task_io_t;

/* Process [start, end) of path (end = UINT64_MAX: to the end of the file).
 * Only whole lines are consumed: reading stops at the last '\n' before end,
 * unless at_eof_final is set and the file ends before end, in which case a
 * last line without '\n' counts too (a one-shot run over finished files).
 * *done receives the offset after the last consumed byte (the next start).
 * On error the partial keeps what was consumed up to *done. APR_ENOMEM: the
 * whole range was read, but an entry's table ran out of memory (engine_feed:
 * the entry failed in out, err names it); the other entries are complete. */
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
