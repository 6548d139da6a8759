/* ptable.h - partial table: one entry's statistics, key tuple -> aggregate states.
 *
 * An open-addressing hash table (linear probing, stored 64-bit hashes) whose
 * rows are carved from an APR pool: key bytes followed by the entry's
 * aggregate states at fixed offsets. Inserting a new key allocates once from
 * the pool; updating an existing key allocates nothing. A table grows by
 * doubling its slot array; rows never move, so row pointers stay valid until
 * ptable_clear or the pool is destroyed (whose cleanup releases heap parts of
 * every state). Not thread-safe: one table per thread, merge afterwards.
 * A table in top-K mode (ptable_top.h) keeps at most m rows, gives a row to
 * another key when full (its row pointers last until the next upsert or
 * merge), and merges as a summary. */
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
 * Memory comes from a subpool of pool. Cannot fail (out of memory for the
 * table's fixed parts aborts; its growth is reported, below). */
ptable_t *ptable_create(const agg_spec_t *specs, int nspecs, apr_pool_t *pool);

/* The row for key (hash = value_hash_bytes(key, klen)), created with fresh
 * states when absent. NULL when a new row or a bigger slot array could not be
 * allocated (mem.h): the table is unchanged. */
ptable_row_t *ptable_upsert(ptable_t *t, const void *key, uint32_t klen, uint64_t hash);

/* The row for key, or NULL. */
ptable_row_t *ptable_find(const ptable_t *t, const void *key, uint32_t klen, uint64_t hash);

size_t ptable_offset(const ptable_t *t, int i); /* byte offset of value i's state */
int ptable_nspecs(const ptable_t *t);
const agg_spec_t *ptable_specs(const ptable_t *t);
size_t ptable_count(const ptable_t *t); /* number of rows */
/* A number that changes whenever the table's rows may go away (ptable_clear,
 * ptable_release) and that no other table of the process ever had: a cache
 * of row pointers taken under one generation is valid while it lasts. */
uint64_t ptable_generation(const ptable_t *t);

/* Iterate: start with *cursor = 0; returns NULL at the end. Order is unspecified.
 * The table must not change during the iteration. */
ptable_row_t *ptable_next(const ptable_t *t, size_t *cursor);

/* dst += src, row by row (agg_merge); for top tables, the summaries' merge
 * (ptable_top.h). The two tables must have equal specs (and be of one entry).
 * APR_SUCCESS, or APR_ENOMEM when dst could not grow: dst is then valid but
 * holds part of src (the caller drops it: ptable_clear). */
apr_status_t ptable_merge(ptable_t *dst, const ptable_t *src);

/* Drop every row (releasing heap parts of states); keeps the slot array. */
void ptable_clear(ptable_t *t);

/* ptable_clear, and the slot array back to its smallest size: what a table
 * that ran out of memory gives back (its rows' pool memory stays with the
 * pool's allocator, for the other tables of the same pools to reuse). */
void ptable_release(ptable_t *t);

#endif
