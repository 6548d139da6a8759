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
 * The overflow row (ptable.h) is a row like the others, with an empty key,
 * kept outside the slots; the folded keys' distinct() state is allocated with
 * it. The byte counts (rows, heap parts) change where rows are made, states
 * merged and everything released, so ptable_bytes only adds them up.
 *
 * A top table (ptable_top.h) is the same table with a summary part (`top`,
 * ptable_top.c): its rows have an error and a heap place after their states
 * and room for a longer key, it never holds more than m rows (a new key then
 * takes the row of the smallest value), and it merges as a summary. It has no
 * key limit and no overflow row; what its summary part holds on the heap (the
 * heap array, keys that outgrew their row) is counted there (ptable_top_bytes). */
#include "ptable.h"
#include "ptable_int.h"
#include "ptable_top.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "invariant.h"
#include "mem.h"
#include "value.h"

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
    size_t mask;        /* nslots - 1 */
    size_t count;       /* rows with a key */
    size_t grow_at;     /* grow when count reaches this */
    uint64_t gen;       /* ptable_generation: new at create and at every clear */
    uint64_t max_keys;  /* 0: no limit */
    int lines_spec;     /* the count spec that is a row's lines, -1: none */
    ptable_row_t *over; /* the overflow row, NULL: none yet */
    uint8_t *folded;    /* with it: the folded keys' distinct() state */
    size_t fixed_bytes; /* this struct and the offsets */
    size_t row_bytes;   /* every row (the overflow row and folded state too) */
    int64_t heap_bytes; /* heap parts of every state */
    ptable_top_t *top;  /* a top table's summary part (ptable_top.c); NULL: a full table */
};

static const agg_spec_t folded_spec = {.kind = AGG_DISTINCT};

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

/* Bytes the pool gives an allocation of n bytes (apr_palloc's 8-byte alignment). */
static size_t pool_size(size_t n)
{
    return (n + 7) & ~(size_t)7;
}

static void release_row(ptable_t *t, ptable_row_t *row)
{
    for (int v = 0; v < t->nspecs; v++)
        agg_release(&t->specs[v], row->state + t->offsets[v]);
    if (t->top)
        ptable_top_release_row(t->top, row);
}

static void release_states(ptable_t *t)
{
    size_t n = t->mask + 1;
    for (size_t i = 0; i < n; i++)
        if (t->slots[i].row)
            release_row(t, t->slots[i].row);
    if (t->over) {
        release_row(t, t->over);
        agg_release(&folded_spec, t->folded);
        t->over = NULL;
        t->folded = NULL;
    }
    t->row_bytes = 0;
    t->heap_bytes = 0;
    (void)agg_heap_take(); /* what the releases gave back: the table holds nothing now */
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
    t->lines_spec = -1;
    t->offsets = apr_pcalloc(sub, sizeof(size_t) * (size_t)(nspecs > 0 ? nspecs : 1));
    for (int i = 0; i < nspecs; i++) {
        t->offsets[i] = off;
        off += (agg_state_size(&specs[i]) + 7) & ~(size_t)7;
    }
    t->states_size = off;
    t->fixed_bytes = pool_size(sizeof *t) + pool_size(sizeof(size_t) * (size_t)(nspecs + 1));
    t->rows = mem_xpool(sub);
    apr_pool_tag(t->rows, "ptable rows");
    t->slots = mem_xcalloc(PTABLE_MIN_SLOTS, sizeof *t->slots);
    t->mask = PTABLE_MIN_SLOTS - 1;
    t->grow_at = grow_limit(PTABLE_MIN_SLOTS);
    apr_pool_pre_cleanup_register(sub, t, ptable_cleanup);
    return t;
}

void ptable_set_limit(ptable_t *t, uint64_t max_keys, int lines_spec)
{
    ABBEY_ASSERT(lines_spec < t->nspecs &&
                 (lines_spec < 0 || t->specs[lines_spec].kind == AGG_COUNT));
    ABBEY_ASSERT(!t->top || !max_keys); /* a summary is bounded by its m */
    t->max_keys = max_keys;
    t->lines_spec = lines_spec;
}

uint64_t ptable_max_keys(const ptable_t *t)
{
    return t->max_keys;
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

/* A row with fresh states, extra bytes after its key; NULL without memory. A
 * top table's row has its summary part after the states and room for a
 * longer key. */
static ptable_row_t *new_row(ptable_t *t, const void *key, uint32_t klen, uint64_t hash,
                             size_t extra)
{
    size_t part = t->top ? ptable_top_row_extra(t->top) : 0;
    uint32_t room = t->top ? ptable_top_key_room(klen) : klen;
    size_t size = pool_size(sizeof(ptable_row_t) + t->states_size + part + room) + extra;
    ptable_row_t *row = mem_palloc(t->rows, size);
    if (!row)
        return NULL;
    t->row_bytes += size;
    row->hash = hash;
    row->klen = klen;
    row->state = (uint8_t *)(row + 1);
    row->key = row->state + t->states_size + part;
    if (klen)
        memcpy(row->key, key, klen);
    for (int v = 0; v < t->nspecs; v++)
        agg_init(&t->specs[v], row->state + t->offsets[v]);
    if (t->top)
        ptable_top_added(t->top, row, room);
    return row;
}

ptable_row_t *ptable_overflow_make(ptable_t *t)
{
    size_t at;
    ABBEY_ASSERT(!t->top); /* a summary evicts, it never folds */
    if (t->over)
        return t->over;
    at = pool_size(sizeof(ptable_row_t) + t->states_size);
    if (!(t->over = new_row(t, NULL, 0, 0, pool_size(agg_state_size(&folded_spec)))))
        return NULL;
    t->folded = (uint8_t *)t->over + at;
    agg_init(&folded_spec, t->folded);
    return t->over;
}

/* Count key[0..klen) among the folded keys: 0, or -1 without memory. */
static int fold_key(ptable_t *t, const void *key, uint32_t klen)
{
    value_t v = {.kind = VALUE_STR, .s = key, .len = klen};
    int rc = agg_update(&folded_spec, t->folded, &v);
    t->heap_bytes += agg_heap_take();
    return rc == AGG_NOMEM ? -1 : 0;
}

/* The overflow row for a key that did not fit: NULL without memory. */
static ptable_row_t *fold(ptable_t *t, const void *key, uint32_t klen)
{
    if (!ptable_overflow_make(t) || fold_key(t, key, klen) < 0)
        return NULL;
    return t->over;
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
    if (t->max_keys && t->count >= t->max_keys)
        return fold(t, key, klen);
    if (t->top && ptable_top_is_full(t->top)) {
        ptable_row_t *row = ptable_top_evict(t, key, klen, hash);
        t->heap_bytes += agg_heap_take(); /* what the row's old states gave back */
        return row;
    }
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
    if (!(s->row = new_row(t, key, klen, hash, 0)))
        return NULL;
    s->hash = hash;
    t->count++;
    /* never full: probing always meets an empty slot */
    ABBEY_ASSERT(t->count <= t->grow_at && t->grow_at <= t->mask);
    ABBEY_ASSERT(!t->max_keys || t->count <= t->max_keys);
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

ptable_row_t *ptable_overflow(const ptable_t *t)
{
    return t->over;
}

uint64_t ptable_folded_lines(const ptable_t *t)
{
    if (!t->over || t->lines_spec < 0)
        return 0;
    return agg_count_value(t->over->state + t->offsets[t->lines_spec]);
}

uint64_t ptable_folded_keys(const ptable_t *t)
{
    agg_result_t r;
    if (!t->over)
        return 0;
    agg_result(&folded_spec, t->folded, &r);
    return (uint64_t)(r.num + 0.5);
}

void *ptable_folded_state(const ptable_t *t)
{
    return t->folded;
}

const agg_spec_t *ptable_folded_spec(void)
{
    return &folded_spec;
}

size_t ptable_bytes(const ptable_t *t)
{
    return t->fixed_bytes + (t->mask + 1) * sizeof *t->slots + AGG_HEAP_OVERHEAD + t->row_bytes +
           ptable_heap(t) + (t->top ? ptable_top_bytes(t->top) : 0);
}

void ptable_heap_add(ptable_t *t, int64_t delta)
{
    t->heap_bytes += delta;
}

size_t ptable_heap(const ptable_t *t)
{
    /* never below 0, even if a state's owner handed a change to another table: a
     * figure, not an invariant worth stopping a master for (check_max_keys walks it) */
    return t->heap_bytes > 0 ? (size_t)t->heap_bytes : 0;
}

size_t ptable_row_heap(const ptable_t *t, const ptable_row_t *row)
{
    size_t n = 0;
    for (int v = 0; v < t->nspecs; v++)
        n += agg_heap_bytes(&t->specs[v], row->state + t->offsets[v]);
    return n;
}

/* See ptable_int.h (ptable_top.c merges rows with it too). */
int ptable_int_merge_row(ptable_t *dst, ptable_row_t *dr, const ptable_t *src,
                         const ptable_row_t *sr)
{
    int rc = 0;
    for (int v = 0; v < dst->nspecs && rc == 0; v++)
        if (agg_merge(&dst->specs[v], dr->state + dst->offsets[v], sr->state + src->offsets[v]) < 0)
            rc = -1;
    dst->heap_bytes += agg_heap_take();
    return rc;
}

/* src's overflow row and folded keys into dst's: 0, or -1 without memory. */
static int merge_overflow(ptable_t *dst, const ptable_t *src)
{
    int rc;
    if (!src->over)
        return 0;
    if (!ptable_overflow_make(dst) || ptable_int_merge_row(dst, dst->over, src, src->over) < 0)
        return -1;
    rc = agg_merge(&folded_spec, dst->folded, src->folded);
    dst->heap_bytes += agg_heap_take();
    return rc < 0 ? -1 : 0;
}

/* One row of src into dst: its row, a new one, or the overflow row. */
static int merge_one(ptable_t *dst, const ptable_t *src, const ptable_row_t *sr)
{
    ptable_row_t *dr = ptable_upsert(dst, sr->key, sr->klen, sr->hash);
    return dr ? ptable_int_merge_row(dst, dr, src, sr) : -1;
}

/* Rows by hash, then by key: the order a full table admits new keys in. */
static int row_order(const void *a, const void *b)
{
    const ptable_row_t *x = *(const ptable_row_t *const *)a, *y = *(const ptable_row_t *const *)b;
    size_t n = x->klen < y->klen ? x->klen : y->klen;
    int c;
    if (x->hash != y->hash)
        return x->hash < y->hash ? -1 : 1;
    c = n ? memcmp(x->key, y->key, n) : 0;
    return c ? c : (x->klen > y->klen) - (x->klen < y->klen);
}

apr_status_t ptable_merge(ptable_t *dst, const ptable_t *src)
{
    size_t cur = 0, n = 0;
    ptable_row_t *sr, **order;
    int rc = 0;

    ABBEY_ASSERT(dst != src && dst->nspecs == src->nspecs);
    if (dst->top) { /* a summary: its merge, what it released or grew told to dst */
        apr_status_t rv = ptable_top_merge(dst, src);
        dst->heap_bytes += agg_heap_take();
        return rv;
    }
    if (merge_overflow(dst, src) < 0)
        return APR_ENOMEM;
    if (!dst->max_keys || dst->count + src->count <= dst->max_keys) { /* nothing can fold */
        while ((sr = ptable_next(src, &cur)) != NULL)
            if (merge_one(dst, src, sr) < 0)
                return APR_ENOMEM;
        return APR_SUCCESS;
    }
    if (!(order = mem_alloc(sizeof *order * (src->count ? src->count : 1))))
        return APR_ENOMEM;
    while ((sr = ptable_next(src, &cur)) != NULL)
        order[n++] = sr;
    ABBEY_ASSERT(n == src->count);
    qsort(order, n, sizeof *order, row_order);
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = merge_one(dst, src, order[i]);
    free(order);
    return rc < 0 ? APR_ENOMEM : APR_SUCCESS;
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
