/* sched_heap.c - an indexed 4-ary min-heap of pointers with their keys (see sched_heap.h). */
#include "sched_heap.h"

#include <stdlib.h>

#include "invariant.h"
#include "mem.h"

static int *pos_of(const sched_heap_t *h, const void *item)
{
    return (int *)((char *)item + h->pos_off);
}

static int less(const sched_heap_ent_t *a, const sched_heap_ent_t *b)
{
    if (a->key[0] != b->key[0])
        return a->key[0] < b->key[0];
    if (a->key[1] != b->key[1])
        return a->key[1] < b->key[1];
    return a->key[2] < b->key[2];
}

static void put(sched_heap_t *h, int i, const sched_heap_ent_t *ent)
{
    h->e[i] = *ent;
    *pos_of(h, ent->item) = i;
}

static void sift_up(sched_heap_t *h, int i)
{
    sched_heap_ent_t ent = h->e[i];
    while (i > 0) {
        int parent = (i - 1) / 4;
        if (!less(&ent, &h->e[parent]))
            break;
        put(h, i, &h->e[parent]);
        i = parent;
    }
    put(h, i, &ent);
}

static void sift_down(sched_heap_t *h, int i)
{
    sched_heap_ent_t ent = h->e[i];
    for (;;) {
        int c = 4 * i + 1, best = -1;
        for (int k = c; k < c + 4 && k < h->n; k++)
            if (best < 0 || less(&h->e[k], &h->e[best]))
                best = k;
        if (best < 0 || !less(&h->e[best], &ent))
            break;
        put(h, i, &h->e[best]);
        i = best;
    }
    put(h, i, &ent);
}

static void fix(sched_heap_t *h, int i)
{
    if (i > 0 && less(&h->e[i], &h->e[(i - 1) / 4]))
        sift_up(h, i);
    else
        sift_down(h, i);
}

void sched_heap_init(sched_heap_t *h, size_t pos_off)
{
    h->e = NULL;
    h->n = h->cap = 0;
    h->pos_off = pos_off;
}

void sched_heap_free(sched_heap_t *h)
{
    free(h->e);
    h->e = NULL;
    h->n = h->cap = 0;
}

int sched_heap_has(const sched_heap_t *h, const void *item)
{
    int i = *pos_of(h, item);
    return i >= 0 && i < h->n && h->e[i].item == item;
}

void sched_heap_set(sched_heap_t *h, void *item, int64_t k0, int64_t k1, int64_t k2)
{
    sched_heap_ent_t ent = {{k0, k1, k2}, item};
    if (sched_heap_has(h, item)) {
        int i = *pos_of(h, item);
        h->e[i] = ent;
        fix(h, i);
        return;
    }
    if (h->n == h->cap) {
        h->cap = h->cap ? 2 * h->cap : 16;
        h->e = mem_xrealloc(h->e, sizeof(*h->e) * (size_t)h->cap);
    }
    put(h, h->n++, &ent);
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
    put(h, i, &h->e[h->n]);
    fix(h, i);
}

void *sched_heap_top(const sched_heap_t *h)
{
    return h->n ? h->e[0].item : NULL;
}

const int64_t *sched_heap_top_key(const sched_heap_t *h)
{
    ABBEY_ASSERT(h->n > 0); /* the caller saw an item on top */
    return h->e[0].key;
}
