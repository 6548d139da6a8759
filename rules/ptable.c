/* ptable.c - partial table: open-addressing hash table of key -> aggregate states (see ptable.h).
 *
 * The slot array holds {stored 64-bit hash, row pointer}; probing is linear
 * and compares the stored hash first, so a mismatch never touches the row.
 * The array is a power of two, kept at most 5/8 full, and doubles by
 * re-placing the stored hashes (keys are never hashed again).
 *
 * A row is one pool allocation: the ptable_row_t header, then the states at
 * 8-aligned offsets (ptable_offset), then the key bytes. Rows and slot arrays
 * come through mem.h, so running out of memory is an error the caller sees
 * (NULL, APR_ENOMEM) and leaves the table as it was. Rows come from
 * `rows`, a subpool cleared by ptable_clear; the table itself lives in `pool`
 * (a subpool of the creator's pool) whose pre-cleanup releases the heap parts
 * of every state and frees the slot array while the rows are still alive.
 *
 * A top table (ptable_top.h) is the same table with a summary part (`top`,
 * ptable_top.c): its rows have an error and a heap place after their states
 * and room for a longer key, it never holds more than m rows (a new key then
 * takes the row of the smallest value), and it merges as a summary. */
#include "ptable.h"
#include "ptable_int.h"
#include "ptable_top.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "invariant.h"
#include "mem.h"

#define PTABLE_MIN_SLOTS 16

typedef struct ptable_slot_t {
    uint64_t hash;
    ptable_row_t *row; /* NULL: empty slot */
} ptable_slot_t;

struct ptable_t {
    const agg_spec_t *specs;
    int nspecs;
    size_t *offsets;    /* nspecs state offsets from row->state */
    size_t states_size; /* bytes of all states, multiple of 8 */
    apr_pool_t *pool;   /* the table's subpool (this struct, offsets) */
    apr_pool_t *rows;   /* subpool of pool: the rows */
    ptable_slot_t *slots;
    size_t mask;       /* nslots - 1 */
    size_t count;      /* rows */
    size_t grow_at;    /* grow when count reaches this */
    uint64_t gen;      /* ptable_generation: new at create and at every clear */
    ptable_top_t *top; /* a top table's summary part (ptable_top.c); NULL: a full table */
};

/* A number never handed out before in this process. */
static uint64_t new_generation(void)
{
    static uint64_t last;
    return __atomic_add_fetch(&last, 1, __ATOMIC_RELAXED);
}

static size_t grow_limit(size_t nslots)
{
    return nslots / 2 + nslots / 8;
}

static void release_states(ptable_t *t)
{
    size_t n = t->mask + 1;
    for (size_t i = 0; i < n; i++) {
        ptable_row_t *row = t->slots[i].row;
        if (!row)
            continue;
        for (int v = 0; v < t->nspecs; v++)
            agg_release(&t->specs[v], row->state + t->offsets[v]);
        if (t->top)
            ptable_top_release_row(t->top, row);
    }
}

/* Runs before the table's subpools are destroyed, so rows are still readable. */
static apr_status_t ptable_cleanup(void *data)
{
    ptable_t *t = data;
    release_states(t);
    free(t->slots);
    t->slots = NULL;
    t->count = 0;
    return APR_SUCCESS;
}

ptable_t *ptable_create(const agg_spec_t *specs, int nspecs, apr_pool_t *pool)
{
    apr_pool_t *sub;
    ptable_t *t;
    size_t off = 0;

    sub = mem_xpool(pool);
    apr_pool_tag(sub, "ptable");
    t = apr_pcalloc(sub, sizeof *t);
    t->specs = specs;
    t->nspecs = nspecs;
    t->pool = sub;
    t->gen = new_generation();
    t->offsets = apr_pcalloc(sub, sizeof(size_t) * (size_t)(nspecs > 0 ? nspecs : 1));
    for (int i = 0; i < nspecs; i++) {
        t->offsets[i] = off;
        off += (agg_state_size(&specs[i]) + 7) & ~(size_t)7;
    }
    t->states_size = off;
    t->rows = mem_xpool(sub);
    apr_pool_tag(t->rows, "ptable rows");
    t->slots = mem_xcalloc(PTABLE_MIN_SLOTS, sizeof *t->slots);
    t->mask = PTABLE_MIN_SLOTS - 1;
    t->grow_at = grow_limit(PTABLE_MIN_SLOTS);
    apr_pool_pre_cleanup_register(sub, t, ptable_cleanup);
    return t;
}

ptable_t *ptable_create_top(const agg_spec_t *specs, int nspecs, int by, uint32_t m,
                            apr_pool_t *pool)
{
    ptable_t *t = ptable_create(specs, nspecs, pool);
    ABBEY_ASSERT(by >= 0 && by < nspecs);
    t->top = ptable_top_create(specs, by, m, t->offsets[by], t->states_size, t->pool);
    return t;
}

ptable_top_t *ptable_int_top(const ptable_t *t)
{
    return t->top;
}

/* Doubles the slot array: 0, or -1 (t unchanged) without memory. */
static int grow(ptable_t *t)
{
    size_t n = t->mask + 1, nn = n * 2, nmask = nn - 1;
    ptable_slot_t *ns = mem_calloc(nn, sizeof *ns);
    size_t moved = 0;

    if (!ns)
        return -1;
    for (size_t i = 0; i < n; i++) {
        size_t j;
        if (!t->slots[i].row)
            continue;
        j = t->slots[i].hash & nmask;
        while (ns[j].row)
            j = (j + 1) & nmask;
        ns[j] = t->slots[i];
        moved++;
    }
    ABBEY_ASSERT(moved == t->count); /* every row was in one slot */
    free(t->slots);
    t->slots = ns;
    t->mask = nmask;
    t->grow_at = grow_limit(nn);
    return 0;
}

static int row_matches(const ptable_slot_t *s, const void *key, uint32_t klen, uint64_t hash)
{
    return s->hash == hash && s->row->klen == klen &&
           (klen == 0 || memcmp(s->row->key, key, klen) == 0);
}

/* A top table's row has its summary part after the states and room for a longer key. */
static ptable_row_t *new_row(ptable_t *t, const void *key, uint32_t klen, uint64_t hash)
{
    size_t extra = t->top ? ptable_top_row_extra(t->top) : 0;
    uint32_t room = t->top ? ptable_top_key_room(klen) : klen;
    ptable_row_t *row = mem_palloc(t->rows, sizeof *row + t->states_size + extra + room);
    if (!row)
        return NULL;
    row->hash = hash;
    row->klen = klen;
    row->state = (uint8_t *)(row + 1);
    row->key = row->state + t->states_size + extra;
    if (klen)
        memcpy(row->key, key, klen);
    for (int v = 0; v < t->nspecs; v++)
        agg_init(&t->specs[v], row->state + t->offsets[v]);
    if (t->top)
        ptable_top_added(t->top, row, room);
    return row;
}

ptable_row_t *ptable_upsert(ptable_t *t, const void *key, uint32_t klen, uint64_t hash)
{
    size_t i = hash & t->mask;
    ptable_slot_t *s;

    for (;;) {
        s = &t->slots[i];
        if (!s->row)
            break;
        if (row_matches(s, key, klen, hash))
            return s->row;
        i = (i + 1) & t->mask;
    }
    if (t->top && ptable_top_is_full(t->top))
        return ptable_top_evict(t, key, klen, hash);
    if (t->top && ptable_top_reserve(t->top) < 0)
        return NULL;
    if (t->count >= t->grow_at) {
        if (grow(t) < 0)
            return NULL;
        i = hash & t->mask;
        while (t->slots[i].row)
            i = (i + 1) & t->mask;
        s = &t->slots[i];
    }
    if (!(s->row = new_row(t, key, klen, hash)))
        return NULL;
    s->hash = hash;
    t->count++;
    /* never full: probing always meets an empty slot */
    ABBEY_ASSERT(t->count <= t->grow_at && t->grow_at <= t->mask);
    return s->row;
}

ptable_row_t *ptable_find(const ptable_t *t, const void *key, uint32_t klen, uint64_t hash)
{
    size_t i = hash & t->mask;
    for (;;) {
        const ptable_slot_t *s = &t->slots[i];
        if (!s->row)
            return NULL;
        if (row_matches(s, key, klen, hash))
            return s->row;
        i = (i + 1) & t->mask;
    }
}

size_t ptable_offset(const ptable_t *t, int i)
{
    ABBEY_ASSERT(i >= 0 && i < t->nspecs);
    return t->offsets[i];
}

int ptable_nspecs(const ptable_t *t)
{
    return t->nspecs;
}

const agg_spec_t *ptable_specs(const ptable_t *t)
{
    return t->specs;
}

uint64_t ptable_generation(const ptable_t *t)
{
    return t->gen;
}

size_t ptable_count(const ptable_t *t)
{
    return t->count;
}

ptable_row_t *ptable_next(const ptable_t *t, size_t *cursor)
{
    size_t n = t->mask + 1;
    while (*cursor < n) {
        ptable_row_t *row = t->slots[(*cursor)++].row;
        if (row)
            return row;
    }
    return NULL;
}

apr_status_t ptable_merge(ptable_t *dst, const ptable_t *src)
{
    size_t cur = 0;
    ptable_row_t *sr;

    ABBEY_ASSERT(dst != src && dst->nspecs == src->nspecs);
    if (dst->top)
        return ptable_top_merge(dst, src);
    while ((sr = ptable_next(src, &cur)) != NULL) {
        ptable_row_t *dr = ptable_upsert(dst, sr->key, sr->klen, sr->hash);
        if (!dr)
            return APR_ENOMEM;
        for (int v = 0; v < dst->nspecs; v++)
            if (agg_merge(&dst->specs[v], dr->state + dst->offsets[v],
                          sr->state + src->offsets[v]) < 0)
                return APR_ENOMEM;
    }
    return APR_SUCCESS;
}

void ptable_clear(ptable_t *t)
{
    release_states(t);
    memset(t->slots, 0, (t->mask + 1) * sizeof *t->slots);
    t->count = 0;
    t->gen = new_generation();
    apr_pool_clear(t->rows);
    if (t->top)
        ptable_top_cleared(t->top);
}

void ptable_release(ptable_t *t)
{
    ptable_slot_t *small;
    ptable_clear(t);
    if (t->mask + 1 > PTABLE_MIN_SLOTS && (small = calloc(PTABLE_MIN_SLOTS, sizeof *small))) {
        free(t->slots);
        t->slots = small;
        t->mask = PTABLE_MIN_SLOTS - 1;
        t->grow_at = grow_limit(PTABLE_MIN_SLOTS);
    }
}

void ptable_int_unlink(ptable_t *t, ptable_row_t *row)
{
    size_t i = row->hash & t->mask, j;
    while (t->slots[i].row != row) {
        ABBEY_ASSERT(t->slots[i].row != NULL); /* the row is in the table */
        i = (i + 1) & t->mask;
    }
    /* move back each later row of the run whose home is not in (i, j] */
    for (j = (i + 1) & t->mask; t->slots[j].row; j = (j + 1) & t->mask) {
        size_t home = t->slots[j].hash & t->mask;
        if (((j - home) & t->mask) >= ((j - i) & t->mask)) {
            t->slots[i] = t->slots[j];
            i = j;
        }
    }
    t->slots[i].row = NULL;
    t->slots[i].hash = 0;
}

void ptable_int_link(ptable_t *t, ptable_row_t *row)
{
    size_t i = row->hash & t->mask;
    while (t->slots[i].row)
        i = (i + 1) & t->mask;
    t->slots[i].row = row;
    t->slots[i].hash = row->hash;
}
