/* ptable_int.h - what ptable.c and ptable_top.c (the top-K mode of a table) share:
 * the slot-array operations an eviction needs, and the hooks the table calls
 * at its changes. Not a public header. */
#ifndef ABBEY_PTABLE_INT_H
#define ABBEY_PTABLE_INT_H

#include "ptable.h"

typedef struct ptable_top_t ptable_top_t;

/* ---- ptable.c, for ptable_top.c ------------------------------------------ */

ptable_top_t *ptable_int_top(const ptable_t *t); /* NULL for a full table */
/* Take row out of the slot array (backward-shift deletion, so probing still
 * finds every other row); it stays allocated and counted. */
void ptable_int_unlink(ptable_t *t, ptable_row_t *row);
/* Put row, out of the slot array (ptable_int_unlink) and with its new hash
 * and key, back in. Never grows the array: the table is no fuller than
 * before the unlink. */
void ptable_int_link(ptable_t *t, ptable_row_t *row);
/* dr += sr (rows of tables of one entry), state by state, what their heap
 * parts grew by told to dst: 0, or -1 without memory (dr holds part of sr). */
int ptable_int_merge_row(ptable_t *dst, ptable_row_t *dr, const ptable_t *src,
                         const ptable_row_t *sr);

/* ---- ptable_top.c, for ptable.c ------------------------------------------ */

/* The summary part of a new top table (ranked by specs[by], whose state is at
 * by_off in a row's states, which take states_size bytes), from pool; frees
 * its heap array at the pool's cleanup. Cannot fail. */
ptable_top_t *ptable_top_create(const agg_spec_t *specs, int by, uint32_t m, size_t by_off,
                                size_t states_size, apr_pool_t *pool);
size_t ptable_top_row_extra(const ptable_top_t *tp); /* bytes a row has after its states */
uint32_t ptable_top_key_room(uint32_t klen);         /* key bytes a new row is given */
int ptable_top_is_full(const ptable_top_t *tp);      /* m rows are kept */
/* What the summary part takes (ptable_bytes): its struct, its heap array and
 * the buffers of keys that outgrew their row's room, with AGG_HEAP_OVERHEAD
 * per heap block. O(1). */
size_t ptable_top_bytes(const ptable_top_t *tp);
/* Room on the heap for one more row: 0, or -1 when it could not grow. */
int ptable_top_reserve(ptable_top_t *tp);
/* A new row (its states initialised, key room bytes at row->key): its error
 * and place on the heap. Needs ptable_top_reserve first. */
void ptable_top_added(ptable_top_t *tp, ptable_row_t *row, uint32_t room);
/* A new key in a full table: the row of the smallest value, given to key
 * (Space-Saving's eviction); NULL (the table unchanged) when the key's room
 * could not grow. */
ptable_row_t *ptable_top_evict(ptable_t *t, const void *key, uint32_t klen, uint64_t hash);
void ptable_top_release_row(ptable_top_t *tp, ptable_row_t *row); /* its key buffer */
void ptable_top_cleared(ptable_top_t *tp);                        /* no rows, floor 0 */
/* dst += src for two top tables (ptable_top.h); ptable_merge's contract. */
apr_status_t ptable_top_merge(ptable_t *dst, const ptable_t *src);

#endif
