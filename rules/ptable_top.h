/* ptable_top.h - a partial table in top-K mode: a mergeable Space-Saving summary.
 *
 * An entry with `top: {k, by}` (docs/RULES.md) keeps no full table: its table
 * holds at most m rows (the entry's capacity), ranked by one value `by`, a
 * count or a sum (agg_ranks) whose figures are never negative. It is the
 * Space-Saving summary of Metwally, Agrawal and El Abbadi ("Efficient
 * computation of frequent and top-k elements in data streams", 2005):
 *
 *  - a key kept is updated in place (the engine calls ptable_top_touch after
 *    adding its line, which re-places the row in the summary's min-heap);
 *  - a new key while fewer than m rows are kept gets a row of its own;
 *  - a new key when m rows are kept takes the row of the smallest ranked
 *    value v (the heap's root): its states start afresh, its ranked value is
 *    v (then the line is added) and its error is v. The table's floor, the
 *    most any key not kept can have had, becomes v.
 *
 * Each row's ranked value is then an upper bound of its key's true figure,
 * and (value - error) a lower bound; every key whose true figure exceeds the
 * floor is kept, and the floor is at most N/m for N the total of the ranked
 * value (every line's weight, summed). Other values of a row hold what was
 * added while its key was kept: lower bounds of a count or sum.
 *
 * Merging (ptable_merge of two top tables of the same entry) is the
 * mergeable form of Agarwal et al. ("Mergeable summaries", 2012) in
 * Space-Saving's terms (as in Cafaro et al.'s parallel Space-Saving): a key
 * in both adds its values and errors; a key in one only adds, to its value
 * and error, the other's floor (the most it can have had there); then the m
 * rows of largest value are kept and the new floor is the largest of the two
 * floors' sum and the values dropped. The bounds above hold for the merged
 * summary with N the sum of both totals, whatever the order of merges.
 *
 * Row pointers of a top table are valid until the next upsert or merge: an
 * eviction gives a row to another key. Nothing is allocated per line: a row's
 * key has room of its own that an eviction reuses (a longer key moves to a
 * heap buffer at least twice as large, so each row allocates O(log) times at
 * most), and the heap array grows by doubling up to m. Not thread-safe (as
 * ptable.h). */
#ifndef ABBEY_PTABLE_TOP_H
#define ABBEY_PTABLE_TOP_H

#include <stdint.h>

#include "buf.h"
#include "error.h"
#include "ptable.h"

/* A top table of at most m rows (m >= 1) ranked by specs[by] (agg_ranks);
 * otherwise as ptable_create (specs must outlive the table; cannot fail). */
ptable_t *ptable_create_top(const agg_spec_t *specs, int nspecs, int by, uint32_t m,
                            apr_pool_t *pool);

uint32_t ptable_top_m(const ptable_t *t); /* rows kept at most; 0 for a full table */
int ptable_top_by(const ptable_t *t);     /* the ranked value; -1 for a full table */

/* The error of row (a state of specs[by]): its key's true figure is at least
 * the row's value minus this. */
const void *ptable_top_error(const ptable_t *t, const ptable_row_t *row);
/* The floor (a state of specs[by]): no key absent from the table had more. */
const void *ptable_top_floor(const ptable_t *t);

/* Row's ranked value changed (grew): re-place it in the heap. O(log m), and
 * nothing for a row whose value is above its children's (the heavy keys). */
void ptable_top_touch(ptable_t *t, ptable_row_t *row);

/* 1 when the table keeps m rows, so that a new key would take another's row. */
int ptable_top_full(const ptable_t *t);

/* The frame form (frame.h): after an entry's row count, ptable_top_put_head
 * writes varint m and the floor (agg_encode); after each row's values,
 * ptable_top_put_row writes its error (agg_encode). */
void ptable_top_put_head(const ptable_t *t, buf_t *b);
void ptable_top_put_row(const ptable_t *t, const ptable_row_t *row, buf_t *b);

/* Read what ptable_top_put_head wrote into an empty top table that will get
 * nrows rows: m must be the table's, nrows at most m, the floor not negative,
 * and a floor above zero needs all m rows (an eviction only happens in a full
 * summary). 0, or -1 with the reason in err (the table stays empty). */
int ptable_top_get_head(ptable_t *t, uint64_t nrows, buf_reader_t *r, abbey_err_t *err);
/* Read the error of row (just added, its values decoded): the value and the
 * error not negative, the error at most the value, the value at least the
 * floor; then re-place the row in the heap. 0, or -1 with the reason in err. */
int ptable_top_get_row(ptable_t *t, ptable_row_t *row, buf_reader_t *r, abbey_err_t *err);

#endif
