/* engine.h - the map side: apply one job's rules to a block of lines, building a partial.
 *
 * For every line: parse it with the job's format, then for every entry
 * evaluate `where`, the key columns and the value arguments; only when the
 * whole line evaluated cleanly are the entries' rows updated, so a bad line
 * (does not parse, or a field that must be a number is not one) changes
 * nothing but the bad-line counter. A good line on which a regex match gave
 * up at its limits (the match counted as false, see expr.h) is counted in
 * the partial's regex_limit_hits as well. An engine is thread-private: each worker
 * thread makes its own; after engine_create it allocates nothing per line.
 *
 * Bad lines are counted per reason (partial.h) and, when a sink is set
 * (engine_set_sink), handed to it one by one with their offset and the reason
 * naming the field: that is how a caller keeps them (common/rejects.h) while
 * the engine itself does no I/O. The sink is called only for bad lines. */
#ifndef ABBEY_ENGINE_H
#define ABBEY_ENGINE_H

#include <apr_pools.h>
#include <stdint.h>

#include "format.h"
#include "partial.h"
#include "rules.h"

#define ENGINE_SAMPLES 4                /* bad-line samples kept per source */
#define ENGINE_SAMPLE_TEXT 160          /* bytes of a bad line kept in its sample */
#define ENGINE_TOO_LONG "line too long" /* why a line over the job's max_line is bad */

typedef struct engine_sample_t {
    uint64_t offset;               /* byte offset of the line in its source */
    const char *why;               /* static text: format_bad_text() or "not a number" */
    size_t len;                    /* bytes of the line kept in text (it may hold NULs) */
    char text[ENGINE_SAMPLE_TEXT]; /* the line's first bytes as they are, then a NUL */
} engine_sample_t;

/* Bad-line samples of one source: the first ENGINE_SAMPLES bad lines. */
typedef struct engine_samples_t {
    int n;
    engine_sample_t s[ENGINE_SAMPLES];
} engine_samples_t;

/* One bad line, as a sink sees it (valid during the call only). */
typedef struct engine_bad_t {
    uint64_t offset;  /* the line's byte offset in its source */
    int reason;       /* its slot in partial_t.bad_by: a format_bad_t or PARTIAL_BAD_VALUE */
    const char *why;  /* NUL-terminated, naming the field when one is to blame:
                         "status is not a number" (format_bad_describe), "line too long" */
    const char *line; /* the line's bytes (no '\n'): line[0..len), may hold NULs */
    size_t len;
    uint64_t bytes; /* len, or for a line too long that a reader skipped (only its
                       head is here), the bytes skipped, its '\n' included */
} engine_bad_t;

/* Called once per bad line, on the thread that feeds the engine. */
typedef void (*engine_sink_fn)(void *ctx, const engine_bad_t *bad);

typedef struct engine_t engine_t;

/* An engine for job (which must outlive it), allocated from pool. Cannot fail. */
engine_t *engine_create(const rules_job_t *job, apr_pool_t *pool);

/* Process buf[0..len): whole lines, each ended by '\n' except possibly the
 * last (processed as a line when non-empty: the caller decides where a block
 * ends). base is the source offset of buf[0], used for samples. Adds rows to
 * out (a partial of the same job) and counts lines, bad lines and bytes into
 * it; keeps samples of bad lines in samples (may be NULL). A line longer
 * than engine_max_line is not parsed: it is a bad line, ENGINE_TOO_LONG.
 * Returns APR_SUCCESS, or APR_ENOMEM when an entry's key buffer, table or
 * aggregate states could not grow (mem.h) on one of these lines: that entry
 * failed (partial_fail: emptied, no more rows, and skipped by every later
 * call into out), and err (may be NULL) says "entry 'by_ip': out of memory
 * after 12,345,678 keys" for the first entry that failed in this call. Every
 * line is still processed for the other entries and the counters. */
apr_status_t engine_feed(engine_t *e, const char *buf, size_t len, uint64_t base, partial_t *out,
                         engine_samples_t *samples, abbey_err_t *err);

/* Hand every bad line from now on to fn(ctx, ...); fn NULL: none (the
 * default). The caller may change ctx's contents between feeds (the source,
 * the round). Cannot fail. */
void engine_set_sink(engine_t *e, engine_sink_fn fn, void *ctx);

/* A new source starts: its modification time (epoch seconds, 0 unknown)
 * for formats that date lines by it, and no header yet (format.h). */
void engine_source(engine_t *e, int64_t mtime);

/* The header line of the current source, for a reader that starts past
 * byte 0 of a source whose format has one (format_has_header): read the
 * source's first line and hand it here before feeding. (A block fed from
 * byte 0 gives its first line to the format as the header itself; the
 * header is neither a line nor a bad line.) FORMAT_OK or why it is not one. */
format_bad_t engine_header(engine_t *e, const char *line, size_t len);

/* The fields the job's rules read (*need) and read as numbers (*num), as the
 * bit masks format_parse takes: what --check --sample shows as the engine
 * sees it. */
void engine_fields(const engine_t *e, uint64_t *need, uint64_t *num);
/* 1 when the job's format reads a header line at the start of every source
 * (format_has_header): a reader starting past byte 0 gives it to
 * engine_header first. */
int engine_has_header(const engine_t *e);

/* The current source's modification time, as engine_source last set it. */
int64_t engine_mtime(const engine_t *e);

/* The longest line parsed, in bytes without its '\n': the job's max_line. */
size_t engine_max_line(const engine_t *e);

/* Count one line too long to be held whole (a reader skipped it): one bad
 * line ENGINE_TOO_LONG at source offset, of bytes bytes (its '\n' included),
 * whose first len bytes (head) are its sample. */
void engine_too_long(engine_t *e, const char *head, size_t len, uint64_t offset, uint64_t bytes,
                     partial_t *out, engine_samples_t *samples);

#endif
