/* partial.h - a job's partial result: one ptable per entry, plus line counters.
 *
 * What a worker builds from a range of lines, what a frame carries (split by
 * rule group), and what a master keeps as running totals: all the same type,
 * merged with partial_merge. An entry whose table ran out of memory is marked
 * failed (partial_fail): its table is emptied and takes no more rows, the
 * other entries go on. Each table holds at most its entry's max_keys rows;
 * keys past that fold into the table's overflow row (ptable.h), which merges
 * into the other's overflow row. An entry with `top:` has a top-K summary for
 * its table instead (ptable_top.h), which merges as one and never folds. Not
 * thread-safe.
 *
 * Bad lines are counted per reason as well (bad_by, which always adds up to
 * bad_lines): a reason is a slot, the format's format_bad_t values first, then
 * the engine's own "value" and the catch-all "unknown"; frames, status and
 * metrics name a slot by its stable one-word name (partial_reason_name), never
 * by its number, so a build that adds reasons still reads older counts. */
#ifndef ABBEY_PARTIAL_H
#define ABBEY_PARTIAL_H

#include <apr_pools.h>
#include <stdint.h>

#include "buf.h"
#include "error.h"
#include "format.h"
#include "ptable.h"

/* Slots of partial_t.bad_by past the format's reasons (format_bad_t, slot
 * FORMAT_OK unused). */
enum {
    PARTIAL_BAD_VALUE = FORMAT_BAD__COUNT, /* "value": a value a rule needs as a number is not
                                              one (an expression, not the format, said so) */
    PARTIAL_BAD_UNKNOWN, /* "unknown": counted where no reason was given (frames and
                            checkpoints from before reasons), or a reason this build lacks */
    PARTIAL_BAD_N
};

struct rules_job_t;
struct rules_entry_t;

typedef struct partial_t {
    const struct rules_job_t *job;
    apr_pool_t *pool;  /* owns the tables */
    ptable_t **tables; /* job->nentries, indexed by entry index */
    uint64_t lines;    /* lines read (good and bad) */
    uint64_t bad_lines;
    uint64_t bytes;
    uint64_t regex_limit_hits;      /* good lines on which a regex match gave up (expr.h) */
    uint64_t bad_by[PARTIAL_BAD_N]; /* bad lines per reason (slot): they add up to bad_lines */
    uint8_t *failed;                /* per entry: 1 once its table ran out of memory */
    uint64_t *failed_keys;          /* per entry: the keys its table held when it did */
} partial_t;

/* Empty partial for job, in a subpool of pool: each entry's table made by
 * partial_table_create. Cannot fail (out of memory for its fixed parts
 * aborts). */
partial_t *partial_create(const struct rules_job_t *job, apr_pool_t *pool);

/* The table of entry e: a full table holding at most the entry's max_keys
 * rows (ptable_set_limit), or for an entry with `top:` a top-K summary
 * (ptable_top.h). From a subpool of pool; cannot fail. */
ptable_t *partial_table_create(const struct rules_entry_t *e, apr_pool_t *pool);

/* dst += src (tables and counters). Both must be of the same job. An entry
 * failed in src becomes failed in dst. Returns APR_SUCCESS, or APR_ENOMEM when
 * a table of dst ran out of memory while merging: that entry is failed
 * (partial_fail) and err (may be NULL) names it; the other entries and the
 * counters are merged all the same. */
apr_status_t partial_merge(partial_t *dst, const partial_t *src, abbey_err_t *err);

/* Entry i's table ran out of memory: mark it failed with the keys it held,
 * empty it (ptable_release) and set err (may be NULL) to "entry '<name>': out
 * of memory after 12,345,678 keys". A failed entry stays failed and empty
 * until partial_clear; failing it again keeps the larger key count and only
 * fills err. */
void partial_fail(partial_t *p, int i, abbey_err_t *err);

/* Empty every table, zero the counters and forget failures. */
void partial_clear(partial_t *p);

/* 1 when p is as partial_create or partial_clear left it: no rows, no overflow
 * row (nothing folded), counters 0, no entry failed (so partial_clear gives it
 * back as it is). */
int partial_is_empty(const partial_t *p);

/* The approximate footprint of p's tables (ptable_bytes summed): what a
 * memory budget counts (common/budget.h). O(entries). */
size_t partial_bytes(const partial_t *p);

/* Destroy (frees the subpool). */
void partial_destroy(partial_t *p);

/* Count one bad line of reason slot r (a format_bad_t, or PARTIAL_BAD_*). */
static inline void partial_bad(partial_t *p, int r)
{
    p->bad_lines++;
    p->bad_by[r]++;
}

/* The stable one-word name of reason slot r: format_bad_name for the
 * format's, "value", "unknown"; "unknown" for a slot out of range too. */
const char *partial_reason_name(int r);

/* Short text of slot r for people: format_bad_text, or "a value that must be
 * a number is not one" for "value". */
const char *partial_reason_text(int r);

/* The slot named name[0..len) (partial_reason_name), or PARTIAL_BAD_UNKNOWN
 * when this build has no such reason ("ok" included). */
int partial_reason_find(const char *name, size_t len);

/* The wire form of bad lines by reason (frame.h): varint n, then n times the
 * reason's name (varint length, bytes) and its varint count, for the reasons
 * not 0. partial_reasons_any: 1 when some reason is not 0 (bad_by must add up
 * to at most bad_lines: asserted). partial_reasons_put appends the list to b.
 * partial_reasons_get reads one from r (none when r is at its end) into
 * bad_by, for bad_lines bad lines: a name this build lacks, and the lines no
 * reason accounts for, count as PARTIAL_BAD_UNKNOWN, so bad_by adds up to
 * bad_lines; 0, or -1 with the reason in err when the list is malformed,
 * longer than PARTIAL_REASONS_MAX or names of PARTIAL_REASON_NAME_MAX bytes,
 * names a reason twice or adds up to more than bad_lines. */
#define PARTIAL_REASONS_MAX 64
#define PARTIAL_REASON_NAME_MAX 32
int partial_reasons_any(const uint64_t bad_by[PARTIAL_BAD_N], uint64_t bad_lines);
void partial_reasons_put(buf_t *b, const uint64_t bad_by[PARTIAL_BAD_N]);
int partial_reasons_get(buf_reader_t *r, uint64_t bad_lines, uint64_t bad_by[PARTIAL_BAD_N],
                        abbey_err_t *err);

#endif
