/* sched_heap.h - an indexed 4-ary min-heap of pointers with their keys, for the
 * scheduler's ready queues (tasks by due round, last lease, age) and its lease expiries.
 *
 * Each entry holds its item's key (three integers, compared in order) next to the
 * item, so ordering never reads the items; each item keeps its own position in an
 * int at pos_off bytes into it (-1 when it is in no heap), so an item can be
 * removed or re-keyed in O(log n) without a search. Four children per node keep
 * the heap shallow (about 8 levels for 50,000 items). Memory: the entry array is
 * malloc'd (out of memory aborts); items are the caller's. Not thread-safe (the
 * scheduler's lock). */
#ifndef ABBEY_SCHED_HEAP_H
#define ABBEY_SCHED_HEAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct sched_heap_ent_t {
    int64_t key[3];
    void *item;
} sched_heap_ent_t;

typedef struct sched_heap_t {
    sched_heap_ent_t *e;
    int n, cap;
    size_t pos_off; /* offset of the item's int position */
} sched_heap_t;

/* An empty heap, positions at pos_off of each item. */
void sched_heap_init(sched_heap_t *h, size_t pos_off);

/* Free the array (the items stay; their positions are not reset). */
void sched_heap_free(sched_heap_t *h);

/* 1 when item is in h. */
int sched_heap_has(const sched_heap_t *h, const void *item);

/* Put item in h with key (k0, k1, k2): added when it is not in h, re-keyed when
 * it is. O(log n). */
void sched_heap_set(sched_heap_t *h, void *item, int64_t k0, int64_t k1, int64_t k2);

/* Remove item when it is in h (its position becomes -1). O(log n). */
void sched_heap_remove(sched_heap_t *h, void *item);

/* The least item (and its key), or NULL when empty. */
void *sched_heap_top(const sched_heap_t *h);
const int64_t *sched_heap_top_key(const sched_heap_t *h);

#endif
