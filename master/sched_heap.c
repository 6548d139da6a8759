/* sched_heap.c - an indexed binary min-heap of pointers (see sched_heap.h). */
#include "sched_heap.h"

#include <stdlib.h>

#include "invariant.h"
#include "mem.h"

static int *pos_of(const sched_heap_t *h, const void *item)
{
    return (int *)((char *)item + h->pos_off);
}

static void put(sched_heap_t *h, int i, void *item)
{
    h->items[i] = item;
    *pos_of(h, item) = i;
}

static void sift_up(sched_heap_t *h, int i)
{
    void *item = h->items[i];
    while (i > 0) {
        int parent = (i - 1) / 2;
        if (!h->less(item, h->items[parent]))
            break;
        put(h, i, h->items[parent]);
        i = parent;
    }
    put(h, i, item);
}

static void sift_down(sched_heap_t *h, int i)
{
    void *item = h->items[i];
    for (;;) {
        int c = 2 * i + 1;
        if (c >= h->n)
            break;
        if (c + 1 < h->n && h->less(h->items[c + 1], h->items[c]))
            c++;
        if (!h->less(h->items[c], item))
            break;
        put(h, i, h->items[c]);
        i = c;
    }
    put(h, i, item);
}

void sched_heap_init(sched_heap_t *h, sched_heap_less_fn less, size_t pos_off)
{
    h->items = NULL;
    h->n = h->cap = 0;
    h->less = less;
    h->pos_off = pos_off;
}

void sched_heap_free(sched_heap_t *h)
{
    free(h->items);
    h->items = NULL;
    h->n = h->cap = 0;
}

int sched_heap_has(const sched_heap_t *h, const void *item)
{
    int i = *pos_of(h, item);
    return i >= 0 && i < h->n && h->items[i] == item;
}

void sched_heap_push(sched_heap_t *h, void *item)
{
    ABBEY_ASSERT(!sched_heap_has(h, item));
    if (h->n == h->cap) {
        h->cap = h->cap ? 2 * h->cap : 16;
        h->items = mem_xrealloc(h->items, sizeof(void *) * (size_t)h->cap);
    }
    put(h, h->n++, item);
    sift_up(h, h->n - 1);
}

void sched_heap_remove(sched_heap_t *h, void *item)
{
    if (!sched_heap_has(h, item))
        return;
    int i = *pos_of(h, item);
    *pos_of(h, item) = -1;
    if (--h->n == i)
        return;
    put(h, i, h->items[h->n]);
    sched_heap_fix(h, h->items[i]);
}

void sched_heap_fix(sched_heap_t *h, void *item)
{
    ABBEY_ASSERT(sched_heap_has(h, item));
    int i = *pos_of(h, item);
    if (i > 0 && h->less(item, h->items[(i - 1) / 2]))
        sift_up(h, i);
    else
        sift_down(h, i);
}

void *sched_heap_top(const sched_heap_t *h)
{
    return h->n ? h->items[0] : NULL;
}
