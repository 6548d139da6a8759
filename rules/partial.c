/* partial.c - a job's partial result: one ptable per entry plus line counters (see partial.h).
 *
 * Tables are indexed by entry index (job->entries[i]) and live in the
 * partial's own subpool, so partial_destroy frees everything at once (each
 * table's pool cleanup releases the heap parts of its states). A failed
 * entry's table is cleared at once: its rows' memory goes back to the table's
 * row pool, its states' heap parts to the heap. The bad lines by reason are
 * counted here too, named for frames, status and metrics, and put on and
 * read from the wire by name (partial_reasons_*). */
#include "partial.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "invariant.h"
#include "mem.h"
#include "ptable_top.h"
#include "rules.h"

partial_t *partial_create(const struct rules_job_t *job, apr_pool_t *pool)
{
    apr_pool_t *sub;
    partial_t *p;
    int n = job->nentries;

    sub = mem_xpool(pool);
    apr_pool_tag(sub, "partial");
    p = apr_pcalloc(sub, sizeof *p);
    p->job = job;
    p->pool = sub;
    p->tables = apr_pcalloc(sub, sizeof *p->tables * (size_t)(n > 0 ? n : 1));
    p->failed = apr_pcalloc(sub, (size_t)(n > 0 ? n : 1));
    p->failed_keys = apr_pcalloc(sub, sizeof *p->failed_keys * (size_t)(n > 0 ? n : 1));
    for (int i = 0; i < n; i++)
        p->tables[i] = partial_table_create(job->entries[i], sub);
    return p;
}

ptable_t *partial_table_create(const struct rules_entry_t *e, apr_pool_t *pool)
{
    ptable_t *t;
    if (e->top_k)
        return ptable_create_top(e->specs, e->nspecs, e->top_by, e->top_m, pool);
    t = ptable_create(e->specs, e->nspecs, pool);
    ptable_set_limit(t, e->max_keys, e->lines_spec);
    return t;
}

/* n with a comma every three digits: "12,345,678". */
static const char *grouped(uint64_t n, char out[32])
{
    char tmp[24];
    int len = snprintf(tmp, sizeof tmp, "%" PRIu64, n), o = 0;
    for (int i = 0; i < len; i++) {
        if (i && (len - i) % 3 == 0)
            out[o++] = ',';
        out[o++] = tmp[i];
    }
    out[o] = '\0';
    return out;
}

void partial_fail(partial_t *p, int i, abbey_err_t *err)
{
    char n[32];
    uint64_t keys = ptable_count(p->tables[i]);
    if (!p->failed[i] || keys > p->failed_keys[i])
        p->failed_keys[i] = keys;
    p->failed[i] = 1;
    ptable_release(p->tables[i]);
    if (err)
        abbey_err_set(err, "entry '%s': out of memory after %s keys", p->job->entries[i]->name,
                      grouped(p->failed_keys[i], n));
}

apr_status_t partial_merge(partial_t *dst, const partial_t *src, abbey_err_t *err)
{
    apr_status_t rv = APR_SUCCESS;
    for (int i = 0; i < dst->job->nentries; i++) {
        if (src->failed[i]) {
            if (!dst->failed[i] || src->failed_keys[i] > dst->failed_keys[i])
                dst->failed_keys[i] = src->failed_keys[i];
            dst->failed[i] = 1;
            ptable_release(dst->tables[i]);
        } else if (!dst->failed[i] && ptable_merge(dst->tables[i], src->tables[i]) != APR_SUCCESS) {
            partial_fail(dst, i, rv == APR_SUCCESS ? err : NULL);
            rv = APR_ENOMEM;
        }
    }
    dst->lines += src->lines;
    dst->bad_lines += src->bad_lines;
    dst->bytes += src->bytes;
    dst->regex_limit_hits += src->regex_limit_hits;
    for (int r = 0; r < PARTIAL_BAD_N; r++)
        dst->bad_by[r] += src->bad_by[r];
    return rv;
}

void partial_clear(partial_t *p)
{
    for (int i = 0; i < p->job->nentries; i++) {
        ptable_clear(p->tables[i]);
        p->failed[i] = 0;
        p->failed_keys[i] = 0;
    }
    p->lines = p->bad_lines = p->bytes = p->regex_limit_hits = 0;
    memset(p->bad_by, 0, sizeof p->bad_by);
}

int partial_is_empty(const partial_t *p)
{
    if (p->lines || p->bad_lines || p->bytes || p->regex_limit_hits)
        return 0;
    for (int r = 0; r < PARTIAL_BAD_N; r++)
        if (p->bad_by[r])
            return 0;
    for (int i = 0; i < p->job->nentries; i++)
        if (p->failed[i] || ptable_count(p->tables[i]) || ptable_overflow(p->tables[i]))
            return 0;
    return 1;
}

size_t partial_bytes(const partial_t *p)
{
    size_t n = 0;
    for (int i = 0; i < p->job->nentries; i++)
        n += ptable_bytes(p->tables[i]);
    return n;
}

void partial_destroy(partial_t *p)
{
    apr_pool_destroy(p->pool);
}

/* ---- reasons ------------------------------------------------------------ */

#define PARTIAL_VALUE_TEXT "a value that must be a number is not one"

const char *partial_reason_name(int r)
{
    if (r > FORMAT_OK && r < FORMAT_BAD__COUNT)
        return format_bad_name((format_bad_t)r);
    return r == PARTIAL_BAD_VALUE ? "value" : "unknown";
}

const char *partial_reason_text(int r)
{
    if (r > FORMAT_OK && r < FORMAT_BAD__COUNT)
        return format_bad_text((format_bad_t)r);
    return r == PARTIAL_BAD_VALUE ? PARTIAL_VALUE_TEXT : "no reason given";
}

int partial_reason_find(const char *name, size_t len)
{
    for (int r = FORMAT_OK + 1; r < PARTIAL_BAD_N; r++) {
        const char *n = partial_reason_name(r);
        if (strlen(n) == len && memcmp(n, name, len) == 0)
            return r;
    }
    return PARTIAL_BAD_UNKNOWN;
}

int partial_reasons_any(const uint64_t bad_by[PARTIAL_BAD_N], uint64_t bad_lines)
{
    uint64_t sum = 0;
    int any = 0;
    for (int r = 0; r < PARTIAL_BAD_N; r++) {
        ABBEY_ASSERT(bad_by[r] <= bad_lines - sum); /* reasons never exceed bad_lines */
        sum += bad_by[r];
        any |= bad_by[r] != 0;
    }
    return any;
}

void partial_reasons_put(buf_t *b, const uint64_t bad_by[PARTIAL_BAD_N])
{
    uint64_t n = 0;
    for (int r = 0; r < PARTIAL_BAD_N; r++)
        n += bad_by[r] != 0;
    buf_put_varint(b, n);
    for (int r = 0; r < PARTIAL_BAD_N; r++)
        if (bad_by[r]) {
            const char *name = partial_reason_name(r);
            buf_put_str(b, name, strlen(name));
            buf_put_varint(b, bad_by[r]);
        }
}

int partial_reasons_get(buf_reader_t *r, uint64_t bad_lines, uint64_t bad_by[PARTIAL_BAD_N],
                        abbey_err_t *err)
{
    uint64_t n = buf_reader_left(r) ? buf_get_varint(r) : 0, sum = 0;
    memset(bad_by, 0, sizeof(uint64_t) * PARTIAL_BAD_N);
    if (buf_reader_failed(r) || n > PARTIAL_REASONS_MAX) {
        abbey_err_set(err, "malformed count of bad-line reasons");
        return -1;
    }
    for (uint64_t i = 0; i < n; i++) {
        size_t len;
        const uint8_t *name = buf_get_str(r, PARTIAL_REASON_NAME_MAX, &len);
        uint64_t count = buf_get_varint(r);
        int slot;
        if (!name || buf_reader_failed(r)) {
            abbey_err_set(err, "bad-line reason %llu is truncated or malformed",
                          (unsigned long long)i + 1);
            return -1;
        }
        slot = partial_reason_find((const char *)name, len);
        if (slot != PARTIAL_BAD_UNKNOWN && bad_by[slot]) {
            abbey_err_set(err, "bad-line reason '%s' appears twice", partial_reason_name(slot));
            return -1;
        }
        if (count > bad_lines - sum) {
            abbey_err_set(err, "bad lines by reason add up to more than the %llu bad lines",
                          (unsigned long long)bad_lines);
            return -1;
        }
        bad_by[slot] += count;
        sum += count;
    }
    bad_by[PARTIAL_BAD_UNKNOWN] += bad_lines - sum;
    return 0;
}
