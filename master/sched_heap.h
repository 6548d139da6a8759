/* sched_heap.h - an indexed binary min-heap of pointers, for the scheduler's
 * ready queues (tasks by due round and last lease) and its lease expiries.
 *
 * Each item keeps its own position in an int at pos_off bytes into it (-1
 * when it is in no heap), so an item can be removed or re-keyed in
 * O(log n) without a search. less(a, b) orders the items; a key that
 * changes must be fixed with sched_heap_fix. An item is in one heap at a time
 * per position field. Memory: the item array is malloc'd (out of memory
 * aborts); items are the caller's. Not thread-safe (the scheduler's lock). */
#ifndef ABBEY_SCHED_HEAP_H
#define ABBEY_SCHED_HEAP_H

#include <stddef.h>

typedef int (*sched_heap_less_fn)(const void *a, const void *b);

typedef struct sched_heap_t {
    void **items;
    int n, cap;
    sched_heap_less_fn less;
    size_t pos_off; /* offset of the item's int position */
} sched_heap_t;

/* An empty heap ordered by less, positions at pos_off of each item. */
void sched_heap_init(sched_heap_t *h, sched_heap_less_fn less, size_t pos_off);

/* Free the array (the items stay; their positions are not reset). */
void sched_heap_free(sched_heap_t *h);

/* 1 when item is in h. */
int sched_heap_has(const sched_heap_t *h, const void *item);

/* Add item (not in h). O(log n). */
void sched_heap_push(sched_heap_t *h, void *item);

/* Remove item when it is in h (its position becomes -1). O(log n). */
void sched_heap_remove(sched_heap_t *h, void *item);

/* Restore the order after item's key changed (item in h). O(log n). */
void sched_heap_fix(sched_heap_t *h, void *item);

/* The least item, or NULL when empty. */
void *sched_heap_top(const sched_heap_t *h);

#endif
