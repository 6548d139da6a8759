/* ptable.h - partial table: one entry's statistics, key tuple -> aggregate states.
 *
 * An open-addressing hash table (linear probing, stored 64-bit hashes) whose
 * rows are carved from an APR pool: key bytes followed by the entry's
 * aggregate states at fixed offsets. Inserting a new key allocates once from
 * the pool; updating an existing key allocates nothing. A table grows by
 * doubling its slot array; rows never move, so row pointers stay valid until
 * ptable_clear or the pool is destroyed (whose cleanup releases heap parts of
 * every state). Not thread-safe: one table per thread, merge afterwards.
 *
 * A key limit (ptable_set_limit: the entry's max_keys) bounds the rows: past
 * it, a key that is not in the table folds into the table's one overflow row
 * (ptable_overflow: no key, klen 0, never in the slots nor in ptable_next),
 * whose states take what that key's row would have taken, so every line is
 * counted once across the rows. The table counts the distinct keys folded
 * (a distinct() state of their key bytes: exact up to 1024, then HyperLogLog)
 * and knows the overflow row's lines from its line count (a count state,
 * rules.h lines_spec). Which keys a full table keeps: those it already holds;
 * a merge adds the source's new keys in increasing order of their hash while
 * there is room (the same rows whatever the tables' histories), the rest fold.
 *
 * A table in top-K mode (ptable_top.h) keeps at most m rows, gives a row to
 * another key when full (its row pointers last until the next upsert or
 * merge), and merges as a summary; it has no key limit and no overflow row.
 *
 * Memory: ptable_bytes is the table's approximate footprint (the struct, the
 * slot array, every row with its key and states, the heap parts of the
 * states, and a top table's heap array and long keys), kept up to date as
 * rows are added and states grow: reading it costs nothing. Code that
 * changes a state outside this file (the engine's updates, a decoder) hands
 * what its heap parts grew by to the table right after
 * (ptable_heap_add(t, agg_heap_take()), agg.h). */
#ifndef ABBEY_PTABLE_H
#define ABBEY_PTABLE_H

#include <apr_pools.h>
#include <stddef.h>
#include <stdint.h>

#include "agg.h"

typedef struct ptable_t ptable_t;

typedef struct ptable_row_t {
    uint64_t hash;
    uint32_t klen;
    uint8_t *key;   /* klen bytes (value_key_put encoding) */
    uint8_t *state; /* the aggregate states; state + ptable_offset(t, i) is value i's */
} ptable_row_t;

/* A table for aggregates specs[0..nspecs); specs must outlive the table.
 * Memory comes from a subpool of pool. No key limit until ptable_set_limit.
 * Cannot fail (out of memory for the table's fixed parts aborts; its growth
 * is reported, below). */
ptable_t *ptable_create(const agg_spec_t *specs, int nspecs, apr_pool_t *pool);

/* At most max_keys rows (0: no limit) from now on; lines_spec: the index of
 * a count spec that counts each row's lines (-1: none; folded lines then
 * read 0). Rows already held stay. A top table takes no limit (max_keys 0).
 * Cannot fail. */
void ptable_set_limit(ptable_t *t, uint64_t max_keys, int lines_spec);
uint64_t ptable_max_keys(const ptable_t *t); /* 0: no limit */

/* The row for key (hash = value_hash_bytes(key, klen)), created with fresh
 * states when absent and the table holds fewer rows than its limit; when it
 * is full, the overflow row (created when first needed), the key counted
 * among the folded keys. NULL when a new row, a bigger slot array or the
 * folded keys' state could not be allocated (mem.h): the table is unchanged
 * but for the folded keys' state, which stays valid. A full top table gives
 * the key the row of the smallest value instead (ptable_top.h), whose old
 * states' heap parts it takes off its count. */
ptable_row_t *ptable_upsert(ptable_t *t, const void *key, uint32_t klen, uint64_t hash);

/* The row for key, or NULL (never the overflow row). */
ptable_row_t *ptable_find(const ptable_t *t, const void *key, uint32_t klen, uint64_t hash);

size_t ptable_offset(const ptable_t *t, int i); /* byte offset of value i's state */
int ptable_nspecs(const ptable_t *t);
const agg_spec_t *ptable_specs(const ptable_t *t);
size_t ptable_count(const ptable_t *t); /* rows with a key (the overflow row is not one) */
/* A number that changes whenever the table's rows may go away (ptable_clear,
 * ptable_release) and that no other table of the process ever had: a cache
 * of row pointers taken under one generation is valid while it lasts. */
uint64_t ptable_generation(const ptable_t *t);

/* Iterate the rows with a key: start with *cursor = 0; returns NULL at the
 * end. Order is unspecified. The table must not change during the iteration. */
ptable_row_t *ptable_next(const ptable_t *t, size_t *cursor);

/* The overflow row, or NULL while no key folded (always NULL for a top table). */
ptable_row_t *ptable_overflow(const ptable_t *t);
/* The overflow row, created (fresh states, no folded key) when absent: for a
 * decoder restoring one (never of a top table). NULL when it could not be
 * allocated. */
ptable_row_t *ptable_overflow_make(ptable_t *t);
/* Lines in the overflow row (its line count; 0 without one). */
uint64_t ptable_folded_lines(const ptable_t *t);
/* Distinct keys folded into the overflow row (estimated past 1024; 0
 * without one). */
uint64_t ptable_folded_keys(const ptable_t *t);
/* The folded keys' state (a state of ptable_folded_spec) of the overflow
 * row, NULL without one: for the frame codec, which encodes and decodes it. */
void *ptable_folded_state(const ptable_t *t);
const agg_spec_t *ptable_folded_spec(void);

/* The table's approximate footprint in bytes (see above). O(1). */
size_t ptable_bytes(const ptable_t *t);
/* States of the table changed their heap parts by delta bytes outside this
 * file (agg_heap_take right after the change). */
void ptable_heap_add(ptable_t *t, int64_t delta);
/* The heap parts of the table's states as accounted (part of ptable_bytes),
 * and of one row's states measured (agg_heap_bytes summed): over every row,
 * the overflow row and the folded keys' state, the second adds up to the
 * first. */
size_t ptable_heap(const ptable_t *t);
size_t ptable_row_heap(const ptable_t *t, const ptable_row_t *row);

/* dst += src, row by row (agg_merge), overflow row into overflow row; a row
 * of src whose key dst lacks is added while dst has room (src's new keys in
 * increasing order of hash), else folds into dst's overflow row. For top
 * tables, the summaries' merge (ptable_top.h). The two tables must have
 * equal specs (and be of one entry). APR_SUCCESS, or APR_ENOMEM when dst
 * could not grow: dst is then valid but holds part of src (the caller drops
 * it: ptable_clear). */
apr_status_t ptable_merge(ptable_t *dst, const ptable_t *src);

/* Drop every row (releasing heap parts of states) and the overflow row;
 * keeps the slot array and the limit. */
void ptable_clear(ptable_t *t);

/* ptable_clear, and the slot array back to its smallest size: what a table
 * that ran out of memory gives back (its rows' pool memory stays with the
 * pool's allocator, for the other tables of the same pools to reuse). */
void ptable_release(ptable_t *t);

#endif
