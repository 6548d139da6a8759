/* ptable_top.c - the top-K mode of a partial table: a Space-Saving summary (see ptable_top.h).
 *
 * A top table's row has, after its aggregate states, its error (a state of
 * the ranked spec) and a top_row_t: its index in a binary min-heap of the
 * rows ordered by ranked value (agg_cmp), and the room its key may take. The
 * heap finds the smallest value in O(1) and re-places a row in O(log m); a
 * heavy key's row sits low in the heap, so adding to it moves nothing. The
 * table itself (ptable.c) finds rows by key; an eviction takes the heap's
 * root out of the slot array, gives it the new key and puts it back
 * (ptable_int_unlink / ptable_int_link). The frame form of a summary is read
 * and written here too (ptable_top_put_* / ptable_top_get_*). The heap array
 * and the spilled key buffers are counted as they change (ptable_top_bytes,
 * part of ptable_bytes); the rows' states are the table's to count. */
#include "ptable_top.h"
#include "ptable_int.h"

#include <stdlib.h>
#include <string.h>

#include "invariant.h"
#include "mem.h"

#define TOP_KEY_ROOM 16   /* key bytes a new row has at least */
#define TOP_STATE_WORDS 8 /* u64 words a count or sum state takes at most */
#define TOP_STATE_BYTES (8 * TOP_STATE_WORDS)
#define TOP_HEAP_FIRST 16 /* heap slots allocated first */

typedef struct top_row_t {
    uint32_t pos;   /* the row's index in the heap */
    uint32_t room;  /* bytes a key may take where row->key points */
    uint8_t *spill; /* the key's heap buffer once it outgrew the row's own room, else NULL */
} top_row_t;

struct ptable_top_t {
    const agg_spec_t *spec; /* the ranked value's */
    int by;                 /* its index */
    size_t by_off;          /* its state's offset from row->state */
    size_t err_off;         /* the error state's offset from row->state */
    size_t x_off;           /* the top_row_t's offset from row->state */
    uint32_t m;             /* rows kept at most */
    uint32_t n;             /* rows on the heap: the table's count */
    uint32_t cap;           /* heap slots allocated */
    ptable_row_t **heap;
    size_t spill_bytes;              /* the rows' spilled key buffers, AGG_HEAP_OVERHEAD each */
    uint64_t floor[TOP_STATE_WORDS]; /* a state of spec: no key not kept had more */
};

static apr_status_t top_cleanup(void *data)
{
    ptable_top_t *tp = data;
    free(tp->heap);
    tp->heap = NULL;
    tp->cap = tp->n = 0;
    return APR_SUCCESS;
}

ptable_top_t *ptable_top_create(const agg_spec_t *specs, int by, uint32_t m, size_t by_off,
                                size_t states_size, apr_pool_t *pool)
{
    ptable_top_t *tp = apr_pcalloc(pool, sizeof *tp);
    size_t size = agg_state_size(&specs[by]);

    ABBEY_ASSERT(agg_ranks(specs[by].kind) && size <= TOP_STATE_BYTES && m >= 1);
    tp->spec = &specs[by];
    tp->by = by;
    tp->by_off = by_off;
    tp->err_off = states_size;
    tp->x_off = states_size + ((size + 7) & ~(size_t)7);
    tp->m = m;
    agg_init(tp->spec, tp->floor);
    apr_pool_cleanup_register(pool, tp, top_cleanup, apr_pool_cleanup_null);
    return tp;
}

size_t ptable_top_row_extra(const ptable_top_t *tp)
{
    return tp->x_off - tp->err_off + sizeof(top_row_t);
}

uint32_t ptable_top_key_room(uint32_t klen)
{
    uint32_t room = klen < TOP_KEY_ROOM ? TOP_KEY_ROOM : klen;
    return room + (-room & 7u); /* keeps the next row 8-aligned */
}

size_t ptable_top_bytes(const ptable_top_t *tp)
{
    size_t heap = tp->heap ? sizeof *tp->heap * tp->cap + AGG_HEAP_OVERHEAD : 0;
    return ((sizeof *tp + 7) & ~(size_t)7) + heap + tp->spill_bytes;
}

int ptable_top_is_full(const ptable_top_t *tp)
{
    return tp->n >= tp->m;
}

/* ---- a row's parts ---------------------------------------------------------- */

static top_row_t *xrow(const ptable_top_t *tp, const ptable_row_t *row)
{
    return (top_row_t *)(row->state + tp->x_off);
}

static void *by_state(const ptable_top_t *tp, const ptable_row_t *row)
{
    return row->state + tp->by_off;
}

static void *err_state(const ptable_top_t *tp, const ptable_row_t *row)
{
    return row->state + tp->err_off;
}

/* ---- the heap: the root holds the smallest ranked value -------------------- */

static int less(const ptable_top_t *tp, const ptable_row_t *a, const ptable_row_t *b)
{
    return agg_cmp(tp->spec, by_state(tp, a), by_state(tp, b)) < 0;
}

static void put(ptable_top_t *tp, uint32_t i, ptable_row_t *row)
{
    tp->heap[i] = row;
    xrow(tp, row)->pos = i;
}

static void sift_up(ptable_top_t *tp, uint32_t i)
{
    ptable_row_t *row = tp->heap[i];
    while (i > 0) {
        uint32_t p = (i - 1) / 2;
        if (!less(tp, row, tp->heap[p]))
            break;
        put(tp, i, tp->heap[p]);
        i = p;
    }
    put(tp, i, row);
}

static void sift_down(ptable_top_t *tp, uint32_t i)
{
    ptable_row_t *row = tp->heap[i];
    for (;;) {
        uint32_t c = 2 * i + 1;
        if (c >= tp->n)
            break;
        if (c + 1 < tp->n && less(tp, tp->heap[c + 1], tp->heap[c]))
            c++;
        if (!less(tp, tp->heap[c], row))
            break;
        put(tp, i, tp->heap[c]);
        i = c;
    }
    put(tp, i, row);
}

/* The row at i changed its value: up or down to its place. */
static void fix(ptable_top_t *tp, uint32_t i)
{
    ptable_row_t *row = tp->heap[i];
    sift_up(tp, i);
    sift_down(tp, xrow(tp, row)->pos);
}

static void heapify(ptable_top_t *tp)
{
    for (uint32_t i = tp->n / 2; i-- > 0;)
        sift_down(tp, i);
}

int ptable_top_reserve(ptable_top_t *tp)
{
    uint32_t cap;
    ptable_row_t **h;
    if (tp->n < tp->cap)
        return 0;
    cap = tp->cap ? tp->cap * 2 : TOP_HEAP_FIRST;
    if (cap > tp->m || cap < tp->cap)
        cap = tp->m;
    ABBEY_ASSERT(cap > tp->n); /* a full summary evicts instead */
    if (!(h = mem_realloc(tp->heap, sizeof *h * cap)))
        return -1;
    tp->heap = h;
    tp->cap = cap;
    return 0;
}

void ptable_top_added(ptable_top_t *tp, ptable_row_t *row, uint32_t room)
{
    top_row_t *x = xrow(tp, row);
    ABBEY_ASSERT(tp->n < tp->cap);
    agg_init(tp->spec, err_state(tp, row));
    x->room = room;
    x->spill = NULL;
    put(tp, tp->n++, row);
    sift_up(tp, tp->n - 1);
}

void ptable_top_release_row(ptable_top_t *tp, ptable_row_t *row)
{
    top_row_t *x = xrow(tp, row);
    if (x->spill)
        tp->spill_bytes -= x->room + AGG_HEAP_OVERHEAD;
    free(x->spill);
    x->spill = NULL;
}

void ptable_top_cleared(ptable_top_t *tp)
{
    tp->n = 0;
    agg_init(tp->spec, tp->floor);
}

void ptable_top_touch(ptable_t *t, ptable_row_t *row)
{
    ptable_top_t *tp = ptable_int_top(t);
    fix(tp, xrow(tp, row)->pos);
}

/* ---- eviction ---------------------------------------------------------------- */

/* Room for a key of klen bytes at row->key: 0, or -1 (nothing changed) when a
 * bigger buffer could not be had. */
static int key_room(ptable_top_t *tp, ptable_row_t *row, uint32_t klen)
{
    top_row_t *x = xrow(tp, row);
    uint64_t want = (uint64_t)x->room * 2;
    uint8_t *b;
    if (klen <= x->room)
        return 0;
    if (want < klen)
        want = klen;
    if (want > UINT32_MAX)
        want = UINT32_MAX;
    if (!(b = mem_alloc(want)))
        return -1;
    ptable_top_release_row(tp, row);
    tp->spill_bytes += want + AGG_HEAP_OVERHEAD;
    x->spill = b;
    x->room = (uint32_t)want;
    row->key = b;
    return 0;
}

/* Give row (on the table) to another key: fresh states and error, the same
 * heap slot. 0, or -1 (nothing changed) when its key room could not grow. */
static int rekey(ptable_t *t, ptable_row_t *row, const void *key, uint32_t klen, uint64_t hash)
{
    ptable_top_t *tp = ptable_int_top(t);
    const agg_spec_t *specs = ptable_specs(t);
    if (key_room(tp, row, klen) < 0)
        return -1;
    ptable_int_unlink(t, row);
    for (int v = 0; v < ptable_nspecs(t); v++) {
        agg_release(&specs[v], row->state + ptable_offset(t, v));
        agg_init(&specs[v], row->state + ptable_offset(t, v));
    }
    agg_init(tp->spec, err_state(tp, row));
    if (klen)
        memcpy(row->key, key, klen);
    row->klen = klen;
    row->hash = hash;
    ptable_int_link(t, row);
    return 0;
}

/* floor := the larger of floor and x (states of spec). */
static void keep_max(const ptable_top_t *tp, void *floor, const void *x)
{
    if (agg_cmp(tp->spec, x, floor) > 0)
        agg_copy(tp->spec, floor, x);
}

ptable_row_t *ptable_top_evict(ptable_t *t, const void *key, uint32_t klen, uint64_t hash)
{
    ptable_top_t *tp = ptable_int_top(t);
    ptable_row_t *row = tp->heap[0];
    uint64_t min[TOP_STATE_WORDS];

    agg_copy(tp->spec, min, by_state(tp, row));
    if (rekey(t, row, key, klen, hash) < 0)
        return NULL;
    /* the new key had at most what any key not kept had: the floor, which the
     * smallest value kept bounds */
    keep_max(tp, tp->floor, min);
    agg_copy(tp->spec, by_state(tp, row), tp->floor);
    agg_copy(tp->spec, err_state(tp, row), tp->floor);
    sift_down(tp, 0);
    return row;
}

/* ---- merging ----------------------------------------------------------------- */

/* Pass 0: each row of dst whose key src lacks could have had up to src's floor there. */
static void add_floor_to_missing(ptable_t *dst, const ptable_t *src, const void *floor)
{
    ptable_top_t *tp = ptable_int_top(dst);
    size_t cur = 0;
    ptable_row_t *row;
    if (agg_zero(tp->spec, floor))
        return;
    while ((row = ptable_next(dst, &cur)) != NULL)
        if (!ptable_find(src, row->key, row->klen, row->hash)) {
            agg_merge(tp->spec, by_state(tp, row), floor);
            agg_merge(tp->spec, err_state(tp, row), floor);
        }
}

/* Pass B for one row sr of src whose key dst lacked (dfloor: dst's floor):
 * its value and error grow by dfloor; it takes a row when dst has room or
 * its value beats dst's smallest, whose value is then dropped; a value
 * dropped raises nfloor. 0, or -1 out of memory. */
static int merge_missing(ptable_t *dst, const ptable_t *src, const ptable_row_t *sr,
                         const void *dfloor, void *nfloor)
{
    ptable_top_t *tp = ptable_int_top(dst);
    const ptable_top_t *sp = ptable_int_top(src);
    uint64_t cand[TOP_STATE_WORDS];
    ptable_row_t *dr;

    agg_copy(tp->spec, cand, by_state(sp, sr));
    agg_merge(tp->spec, cand, dfloor);
    if (!ptable_top_is_full(tp)) {
        if (!(dr = ptable_upsert(dst, sr->key, sr->klen, sr->hash)))
            return -1;
    } else if (agg_cmp(tp->spec, cand, by_state(tp, tp->heap[0])) > 0) {
        dr = tp->heap[0];
        keep_max(tp, nfloor, by_state(tp, dr));
        if (rekey(dst, dr, sr->key, sr->klen, sr->hash) < 0)
            return -1;
    } else {
        keep_max(tp, nfloor, cand);
        return 0;
    }
    if (ptable_int_merge_row(dst, dr, src, sr) < 0)
        return -1;
    agg_copy(tp->spec, by_state(tp, dr), cand);
    agg_copy(tp->spec, err_state(tp, dr), err_state(sp, sr));
    agg_merge(tp->spec, err_state(tp, dr), dfloor);
    fix(tp, xrow(tp, dr)->pos);
    return 0;
}

apr_status_t ptable_top_merge(ptable_t *dst, const ptable_t *src)
{
    ptable_top_t *tp = ptable_int_top(dst);
    const ptable_top_t *sp = ptable_int_top(src);
    uint64_t dfloor[TOP_STATE_WORDS], sfloor[TOP_STATE_WORDS];
    const ptable_row_t **only = NULL;
    size_t nonly = 0, cur = 0;
    const ptable_row_t *sr;
    apr_status_t rv = APR_SUCCESS;

    ABBEY_ASSERT(sp && tp->m == sp->m && tp->by == sp->by); /* tables of one entry */
    agg_copy(tp->spec, dfloor, tp->floor);
    agg_copy(tp->spec, sfloor, sp->floor);
    add_floor_to_missing(dst, src, sfloor);
    /* pass A: keys in both add up; the others wait for pass B, after every
     * key of dst has its final value (so that none is dropped too early) */
    if (ptable_count(src) && !(only = mem_alloc(sizeof *only * ptable_count(src))))
        return APR_ENOMEM;
    while ((sr = ptable_next(src, &cur)) != NULL) {
        ptable_row_t *dr = ptable_find(dst, sr->key, sr->klen, sr->hash);
        if (!dr) {
            only[nonly++] = sr;
            continue;
        }
        if (ptable_int_merge_row(dst, dr, src, sr) < 0) {
            rv = APR_ENOMEM;
            goto out;
        }
        agg_merge(tp->spec, err_state(tp, dr), err_state(sp, sr));
    }
    heapify(tp);
    /* the floor: no key absent from both had more than the two floors */
    agg_merge(tp->spec, tp->floor, sfloor);
    for (size_t i = 0; i < nonly; i++)
        if (merge_missing(dst, src, only[i], dfloor, tp->floor) < 0) {
            rv = APR_ENOMEM;
            break;
        }
out:
    free(only);
    return rv;
}

/* ---- accessors ----------------------------------------------------------------- */

uint32_t ptable_top_m(const ptable_t *t)
{
    const ptable_top_t *tp = ptable_int_top(t);
    return tp ? tp->m : 0;
}

int ptable_top_by(const ptable_t *t)
{
    const ptable_top_t *tp = ptable_int_top(t);
    return tp ? tp->by : -1;
}

const void *ptable_top_error(const ptable_t *t, const ptable_row_t *row)
{
    return err_state(ptable_int_top(t), row);
}

const void *ptable_top_floor(const ptable_t *t)
{
    return ptable_int_top(t)->floor;
}

int ptable_top_full(const ptable_t *t)
{
    return ptable_top_is_full(ptable_int_top(t));
}

/* ---- the frame form ------------------------------------------------------------ */

void ptable_top_put_head(const ptable_t *t, buf_t *b)
{
    const ptable_top_t *tp = ptable_int_top(t);
    buf_put_varint(b, tp->m);
    agg_encode(tp->spec, tp->floor, b);
}

void ptable_top_put_row(const ptable_t *t, const ptable_row_t *row, buf_t *b)
{
    const ptable_top_t *tp = ptable_int_top(t);
    agg_encode(tp->spec, err_state(tp, row), b);
}

int ptable_top_get_head(ptable_t *t, uint64_t nrows, buf_reader_t *r, abbey_err_t *err)
{
    ptable_top_t *tp = ptable_int_top(t);
    uint64_t m = buf_get_varint(r);

    ABBEY_ASSERT(tp->n == 0);
    if (buf_reader_failed(r)) {
        abbey_err_set(err, "summary: truncated");
        return -1;
    }
    if (m != tp->m) {
        abbey_err_set(err, "summary keeps %llu rows in the frame, %u in the rules",
                      (unsigned long long)m, tp->m);
        return -1;
    }
    if (nrows > m) {
        abbey_err_set(err, "summary has %llu rows, more than the %u it keeps",
                      (unsigned long long)nrows, tp->m);
        return -1;
    }
    if (agg_decode(tp->spec, tp->floor, r, err) != APR_SUCCESS) {
        abbey_err_prefix(err, "summary floor");
        return -1;
    }
    if (!agg_nonneg(tp->spec, tp->floor) || (!agg_zero(tp->spec, tp->floor) && nrows != m)) {
        abbey_err_set(err, "summary floor is %s",
                      !agg_nonneg(tp->spec, tp->floor) ? "negative"
                                                       : "above zero in a summary not full");
        agg_init(tp->spec, tp->floor);
        return -1;
    }
    return 0;
}

int ptable_top_get_row(ptable_t *t, ptable_row_t *row, buf_reader_t *r, abbey_err_t *err)
{
    ptable_top_t *tp = ptable_int_top(t);
    const void *v = by_state(tp, row), *e = err_state(tp, row);
    const char *why = NULL;

    if (agg_decode(tp->spec, err_state(tp, row), r, err) != APR_SUCCESS) {
        abbey_err_prefix(err, "error");
        return -1;
    }
    if (!agg_nonneg(tp->spec, v))
        why = "the value is negative";
    else if (!agg_nonneg(tp->spec, e))
        why = "the error is negative";
    else if (agg_cmp(tp->spec, e, v) > 0)
        why = "the error is above the value";
    else if (agg_cmp(tp->spec, v, tp->floor) < 0)
        why = "the value is below the summary's floor";
    if (why) {
        abbey_err_set(err, "summary row: %s", why);
        return -1;
    }
    fix(tp, xrow(tp, row)->pos);
    return 0;
}
