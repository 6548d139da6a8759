/* merger_recover.c - the merger's recovery (merger_recover): restoring the newest
 * whole checkpoint (its format is described in merger_persist.c, which writes it)
 * and replaying the journal through merger_accept, where frames the checkpoint
 * holds are duplicates by range. A checkpoint that does not read back as written
 * fails recovery with an error naming its file, job and field. */
#include "merger_int.h"

#include <apr_strings.h>
#include <apr_time.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "journal.h"
#include "log.h"
#include "mem.h"

#define RECOVER_LOG_MAX 20 /* refused journal frames logged one by one */

/* ---- JSON values -------------------------------------------------------- */

static int u64_of(const json_t *v, uint64_t *out)
{
    const char *s;
    char *end;
    unsigned long long x;

    if (json_is_integer(v) && json_integer_value(v) >= 0) {
        *out = (uint64_t)json_integer_value(v);
        return 0;
    }
    if (!json_is_string(v) || !isdigit((unsigned char)*(s = json_string_value(v))))
        return -1;
    errno = 0;
    x = strtoull(s, &end, 10);
    if (errno || *end)
        return -1;
    *out = x;
    return 0;
}

/* A source id as merger_persist.c writes it (a string, or {"hex": ...}), back in
 * pool; NULL when malformed. */
static const char *text_of(const json_t *v, apr_pool_t *pool)
{
    const char *hex;
    size_t n;
    char *s;

    if (json_is_string(v))
        return apr_pstrdup(pool, json_string_value(v));
    hex = json_string_value(json_object_get(v, "hex"));
    if (!hex || (n = strlen(hex)) % 2 != 0)
        return NULL;
    s = apr_palloc(pool, n / 2 + 1);
    for (size_t i = 0; i < n / 2; i++) {
        unsigned x;
        if (!isxdigit((unsigned char)hex[2 * i]) || !isxdigit((unsigned char)hex[2 * i + 1]) ||
            sscanf(hex + 2 * i, "%2x", &x) != 1 || x == 0)
            return NULL;
        s[i] = (char)x;
    }
    s[n / 2] = 0;
    return s;
}

/* ---- reading the metadata: the first failure names file, job and field -- */

typedef struct jread_t {
    const char *file;
    const char *job; /* NULL: the top level */
    abbey_err_t *err;
    int failed;
} jread_t;

static void jfail(jread_t *c, const char *field, const char *what)
{
    if (c->failed)
        return;
    c->failed = 1;
    if (c->job)
        abbey_err_set(c->err, "checkpoint %s: job '%s': field '%s' %s", c->file, c->job, field,
                      what);
    else
        abbey_err_set(c->err, "checkpoint %s: field '%s' %s", c->file, field, what);
}

static uint64_t jget_u64(jread_t *c, const json_t *o, const char *k)
{
    uint64_t v = 0;
    if (u64_of(json_object_get(o, k), &v) != 0)
        jfail(c, k, "is missing or not an unsigned 64-bit integer");
    return v;
}

static int64_t jget_i64(jread_t *c, const json_t *o, const char *k)
{
    const json_t *v = json_object_get(o, k);
    if (!json_is_integer(v)) {
        jfail(c, k, "is missing or not an integer");
        return 0;
    }
    return (int64_t)json_integer_value(v);
}

static int jget_bool(jread_t *c, const json_t *o, const char *k)
{
    const json_t *v = json_object_get(o, k);
    if (!json_is_boolean(v)) {
        jfail(c, k, "is missing or not a boolean");
        return 0;
    }
    return json_is_true(v);
}

static const char *jget_str(jread_t *c, const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    if (!s)
        jfail(c, k, "is missing or not a string");
    return s;
}

static json_t *jget_arr(jread_t *c, const json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    if (!json_is_array(v)) {
        jfail(c, k, "is missing or not an array");
        return NULL;
    }
    return v;
}

static void jget_counts(jread_t *c, const json_t *o, const char *k, mcount_t *out)
{
    const json_t *v = json_object_get(o, k);
    if (!json_is_object(v)) {
        jfail(c, k, "is missing or not an object");
        return;
    }
    for (int i = 0; i < 7; i++)
        *merger_count_field(out, i) = jget_u64(c, v, merger_count_names[i]);
}

/* ---- restoring a checkpoint --------------------------------------------- */

typedef struct recover_t {
    merger_t *m;
    apr_pool_t *pool; /* scratch for the recovery */
    abbey_err_t err;  /* the first failure */
    int failed;
    int have_meta, checked;
    const char *ckpt_file;
    uint8_t *skip; /* per job index: its checkpoint frames are not restored */
    uint64_t expect_frames, got_frames;
    uint64_t merged, duplicate, refused;
} recover_t;

static int64_t now_ms(void)
{
    return (int64_t)(apr_time_now() / 1000);
}

/* j's totals restart empty (ranges, counters and round bookkeeping stay),
 * as merger_set_config does for a changed structure. */
static void restart_totals(recover_t *rc, mjob_t *j, const char *why)
{
    for (int i = 0; i < j->nperiods; i++)
        partial_destroy(j->periods[i].totals);
    j->nperiods = 0;
    for (int i = 0; i < j->nrounds; i++)
        if (j->rounds[i]->p)
            partial_clear(j->rounds[i]->p);
    j->since_ms = j->changed_ms = now_ms();
    j->period_changed = j->period_stale = 0;
    rc->skip[j->job->index] = 1;
    log_msg("recovery: job %s: %s: its totals restart empty (merged ranges are kept)", j->job->name,
            why);
}

static void restore_sources(jread_t *c, mjob_t *j, const json_t *a)
{
    size_t i;
    json_t *s;

    for (i = 0; (s = json_array_get(a, i)) != NULL; i++) {
        const char *src = text_of(json_object_get(s, "source"), j->pool);
        json_t *rs = jget_arr(c, s, "ranges"), *x;
        ranges_t *set;
        size_t k;
        if (!src || c->failed) {
            jfail(c, "sources", "holds a malformed source");
            return;
        }
        set = ranges_create(j->pool);
        for (k = 0; (x = json_array_get(rs, k)) != NULL; k++) {
            uint64_t a0, b0;
            if (json_array_size(x) != 2 || u64_of(json_array_get(x, 0), &a0) != 0 ||
                u64_of(json_array_get(x, 1), &b0) != 0 || a0 >= b0) {
                jfail(c, "sources", "holds a malformed range");
                return;
            }
            ranges_add(set, a0, b0);
        }
        apr_hash_set(j->sources, src, APR_HASH_KEY_STRING, set);
    }
}

static void restore_round_ranges(jread_t *c, mround_t *rd, const json_t *a)
{
    size_t i;
    json_t *x;

    rd->ranges = apr_pcalloc(rd->pool, sizeof *rd->ranges * (json_array_size(a) + 1));
    for (i = 0; (x = json_array_get(a, i)) != NULL; i++) {
        merger_range_t *r = &rd->ranges[rd->nranges];
        r->source = text_of(json_array_get(x, 0), rd->pool);
        if (json_array_size(x) != 3 || !r->source || u64_of(json_array_get(x, 1), &r->start) ||
            u64_of(json_array_get(x, 2), &r->end) || r->start >= r->end) {
            jfail(c, "rounds", "holds a malformed closed range");
            return;
        }
        rd->nranges++;
    }
}

static void restore_rounds(recover_t *rc, jread_t *c, mjob_t *j, const json_t *a)
{
    size_t i;
    json_t *o;

    if (json_array_size(a) > MERGER_KEEP_ROUNDS) {
        jfail(c, "rounds", "holds more rounds than a job keeps");
        return;
    }
    for (i = 0; (o = json_array_get(a, i)) != NULL; i++) {
        uint64_t r = jget_u64(c, o, "r");
        mround_t *rd;
        if (c->failed)
            return;
        if (j->nrounds && r <= j->rounds[j->nrounds - 1]->r) {
            jfail(c, "rounds", "is not in ascending round order");
            return;
        }
        if (!(rd = merger_round_get(rc->m, j, r))) {
            jfail(c, "rounds", "names a round this master cannot keep");
            return;
        }
        rd->closed = jget_bool(c, o, "closed");
        rd->primary_incomplete = jget_bool(c, o, "primary_incomplete");
        rd->deadline_ms = jget_i64(c, o, "deadline_ms");
        rd->exported = jget_bool(c, o, "exported");
        rd->export_incomplete = jget_bool(c, o, "export_incomplete");
        rd->export_missing = (size_t)jget_u64(c, o, "export_missing");
        rd->dirty = jget_bool(c, o, "dirty");
        restore_round_ranges(c, rd, jget_arr(c, o, "ranges"));
    }
}

static void restore_periods(jread_t *c, recover_t *rc, mjob_t *j, const json_t *a)
{
    size_t i;
    json_t *o;

    if (json_array_size(a) > MERGER_KEEP_PERIODS) {
        jfail(c, "periods", "holds more periods than a job keeps");
        return;
    }
    for (i = 0; (o = json_array_get(a, i)) != NULL; i++) {
        int64_t id = jget_i64(c, o, "id");
        mperiod_t *p;
        if (c->failed)
            return;
        if (j->nperiods && id <= j->periods[j->nperiods - 1].id) {
            jfail(c, "periods", "is not in ascending order");
            return;
        }
        if (!(p = merger_period_get(rc->m, j, id))) {
            jfail(c, "periods", "names a period this master cannot keep");
            return;
        }
        p->final_exported = jget_bool(c, o, "final_exported");
        p->dirty = jget_bool(c, o, "dirty");
    }
}

/* The owed ranges ([[round, deadline_ms, source, start, end], ...]; absent
 * in checkpoints written before they were kept). */
static void restore_owed(recover_t *rc, jread_t *c, mjob_t *j, const json_t *a)
{
    size_t i;
    json_t *x;

    for (i = 0; (x = json_array_get(a, i)) != NULL; i++) {
        merger_range_t r;
        uint64_t round;
        json_t *dl = json_array_get(x, 1);
        r.source = text_of(json_array_get(x, 2), rc->pool);
        if (json_array_size(x) != 5 || !r.source || !json_is_integer(dl) ||
            u64_of(json_array_get(x, 0), &round) || u64_of(json_array_get(x, 3), &r.start) ||
            u64_of(json_array_get(x, 4), &r.end) || r.start >= r.end) {
            jfail(c, "owed", "holds a malformed range");
            return;
        }
        merger_owe(j, round, (int64_t)json_integer_value(dl), &r);
    }
}

/* Round numbering and bookkeeping (kept only when the round length, reset
 * and timezone are unchanged). */
static void restore_bookkeeping(recover_t *rc, jread_t *c, mjob_t *j, const json_t *o)
{
    restore_rounds(rc, c, j, jget_arr(c, o, "rounds"));
    j->any_closed = jget_bool(c, o, "any_closed");
    j->last_closed = jget_u64(c, o, "last_closed");
    j->any_exported = jget_bool(c, o, "any_exported");
    j->last_exported = jget_u64(c, o, "last_exported");
    j->dropped = jget_bool(c, o, "dropped");
    j->floor = jget_u64(c, o, "floor");
    restore_owed(rc, c, j, json_object_get(o, "owed"));
}

static void restore_job(recover_t *rc, jread_t *c, const json_t *o)
{
    merger_t *m = rc->m;
    const char *name = jget_str(c, o, "name"), *fp;
    char mine[17];
    int timing;
    mjob_t *j;

    if (!name || !(j = merger_job_locked(m, name))) {
        if (name)
            log_msg("recovery: job %s is in checkpoint %s but not in the rules: dropped", name,
                    c->file);
        return;
    }
    c->job = name;
    fp = jget_str(c, o, "fingerprint");
    merger_fingerprint_hex(m, j, mine);
    timing = jget_i64(c, o, "round_ms") == j->round_ms &&
             jget_i64(c, o, "period_ms") == j->period_ms && jget_i64(c, o, "tz_ms") == j->tz_ms;
    jget_counts(c, o, "counts", &j->c);
    j->lines = jget_u64(c, o, "lines");
    j->bad_lines = jget_u64(c, o, "bad_lines");
    j->bytes = jget_u64(c, o, "bytes");
    if (json_object_get(o, "regex_limit_hits")) /* absent from older checkpoints: 0 */
        j->regex_limit_hits = jget_u64(c, o, "regex_limit_hits");
    j->rounds_exported = jget_u64(c, o, "rounds_exported");
    j->rounds_amended = jget_u64(c, o, "rounds_amended");
    j->rounds_incomplete = jget_u64(c, o, "rounds_incomplete");
    restore_sources(c, j, jget_arr(c, o, "sources"));
    if (timing)
        restore_bookkeeping(rc, c, j, o);
    restore_periods(c, rc, j, jget_arr(c, o, "periods"));
    j->since_ms = jget_i64(c, o, "since_ms");
    j->changed_ms = jget_i64(c, o, "changed_ms");
    j->period_changed = jget_bool(c, o, "period_changed");
    j->period_stale = jget_bool(c, o, "period_stale");
    j->period_render_ms = jget_i64(c, o, "period_render_ms");
    if (!c->failed && fp && strcmp(fp, mine) != 0)
        restart_totals(rc, j,
                       timing ? "its rules changed since checkpoint"
                              : "its round length, reset or timezone changed since checkpoint "
                                "(kept rounds and round bookkeeping dropped)");
    c->job = NULL;
}

/* The metadata record: the first frame of a checkpoint. */
static int restore_meta(recover_t *rc, const char *file, const uint8_t *frame, size_t len)
{
    merger_t *m = rc->m;
    jread_t c = {file, NULL, &rc->err, 0};
    frame_header_t h;
    uint8_t *data;
    size_t dlen, flen, i;
    json_error_t je;
    json_t *o, *jobs, *jo;
    const char *master;

    if (frame_record(frame, len, rc->pool, &h, &data, &dlen, &flen, &rc->err) != APR_SUCCESS) {
        abbey_err_prefix(&rc->err, "checkpoint %s: the first frame is not its metadata record",
                         file);
        return -1;
    }
    if (!(o = json_loadb((const char *)data, dlen, 0, &je))) {
        abbey_err_set(&rc->err, "checkpoint %s: metadata is not JSON: %s (line %d, column %d)",
                      file, je.text, je.line, je.column);
        return -1;
    }
    if (jget_i64(&c, o, "version") != MERGER_CKPT_VERSION)
        jfail(&c, "version", "is not 1, the version this master reads");
    master = jget_str(&c, o, "master");
    if (master && strcmp(master, m->self) != 0)
        jfail(&c, "master",
              apr_psprintf(rc->pool, "is '%s', but this is master '%s'", master, m->self));
    jget_counts(&c, o, "unknown", &m->unknown);
    m->frame_bytes = jget_u64(&c, o, "frame_bytes");
    m->frame_bytes_accepted = jget_u64(&c, o, "frame_bytes_accepted");
    m->export_errors = jget_u64(&c, o, "export_errors");
    rc->expect_frames = jget_u64(&c, o, "frames");
    jobs = jget_arr(&c, o, "jobs");
    for (i = 0; (jo = json_array_get(jobs, i)) != NULL; i++) {
        if (c.failed)
            break;
        restore_job(rc, &c, jo);
    }
    json_decref(o);
    rc->have_meta = 1;
    rc->ckpt_file = apr_pstrdup(rc->pool, file);
    return c.failed ? -1 : 0;
}

/* A period-totals or round-partial frame of the checkpoint. */
static int restore_partial(recover_t *rc, const char *file, uint64_t off, const uint8_t *frame,
                           size_t len, const frame_header_t *h)
{
    mjob_t *j = merger_job_locked(rc->m, h->job);
    partial_t *into = NULL;
    frame_header_t h2;
    size_t flen;
    abbey_err_t e;

    rc->got_frames++;
    if (!j || rc->skip[j->job->index])
        return 0; /* a dropped job, or totals that restart */
    if (strcmp(h->source, MERGER_CKPT_PERIOD) == 0) {
        for (int i = 0; i < j->nperiods; i++)
            if (j->periods[i].id == (int64_t)h->round)
                into = j->periods[i].totals;
    } else if (strcmp(h->source, MERGER_CKPT_ROUND) == 0) {
        for (int i = 0; i < j->nrounds; i++)
            if (j->rounds[i]->r == h->round)
                into = j->rounds[i]->p;
    }
    if (!into) {
        abbey_err_set(&rc->err,
                      "checkpoint %s @%" PRIu64 ": frame '%s' %" PRIu64 " of job %s matches "
                      "no period or round of its metadata",
                      file, off, h->source, h->round, j->job->name);
        return -1;
    }
    if (frame_decode(frame, len, j->job, &h2, into, &flen, &e) != APR_SUCCESS)
        restart_totals(rc, j,
                       apr_psprintf(rc->pool, "checkpoint %s @%" PRIu64 ": %s", file, off, e.msg));
    return 0;
}

static int on_ckpt_frame(void *ctx, const char *file, uint64_t offset, const uint8_t *frame,
                         size_t len, const frame_header_t *h)
{
    recover_t *rc = ctx;
    int r;

    apr_thread_mutex_lock(rc->m->lock);
    if (!rc->have_meta)
        r = restore_meta(rc, file, frame, len);
    else if (h->flags & FRAME_FLAG_RECORD) {
        abbey_err_set(&rc->err, "checkpoint %s @%" PRIu64 ": a second metadata record", file,
                      offset);
        r = -1;
    } else {
        r = restore_partial(rc, file, offset, frame, len, h);
    }
    apr_thread_mutex_unlock(rc->m->lock);
    rc->failed = r != 0;
    return r != 0;
}

/* Once the checkpoint is read: it held as many frames as its metadata says. */
static int check_count(recover_t *rc)
{
    rc->checked = 1;
    if (rc->have_meta && rc->got_frames != rc->expect_frames) {
        abbey_err_set(&rc->err,
                      "checkpoint %s is short: %" PRIu64 " frames after its metadata, which "
                      "says %" PRIu64,
                      rc->ckpt_file, rc->got_frames, rc->expect_frames);
        rc->failed = 1;
        return -1;
    }
    return 0;
}

/* ---- replaying the journal ---------------------------------------------- */

static int on_journal_frame(void *ctx, const char *file, uint64_t offset, const uint8_t *frame,
                            size_t len, const frame_header_t *h)
{
    recover_t *rc = ctx;
    abbey_err_t e;

    if (!rc->checked && check_count(rc) != 0)
        return 1;
    e.msg[0] = 0;
    switch (merger_accept(rc->m, frame, len, NULL, &e)) {
    case MERGE_MERGED:
    case MERGE_EXPIRED:
        rc->merged++;
        break;
    case MERGE_DUPLICATE:
        rc->duplicate++;
        break;
    case MERGE_CONFLICT:
        abbey_err_set(&e, "%s [%" PRIu64 ", %" PRIu64 ") overlaps ranges merged before", h->source,
                      h->start, h->end);
        /* fall through */
    default:
        if (rc->refused++ < RECOVER_LOG_MAX)
            log_msg("recovery: %s @%" PRIu64 ": journal frame of job '%s' not merged: %s", file,
                    offset, h->job, e.msg);
    }
    return 0;
}

static const char *size_text(uint64_t n, apr_pool_t *pool)
{
    if (n < 1024)
        return apr_psprintf(pool, "%" PRIu64 " B", n);
    if (n < 1024 * 1024)
        return apr_psprintf(pool, "%.1f kB", (double)n / 1024);
    if (n < 1024ull * 1024 * 1024)
        return apr_psprintf(pool, "%.1f MB", (double)n / (1024 * 1024));
    return apr_psprintf(pool, "%.1f GB", (double)n / (1024.0 * 1024 * 1024));
}

static void log_summary(const recover_t *rc, const journal_recovery_t *st, int64_t ms)
{
    const char *ck = "no checkpoint";

    if (st->checkpoint_seq)
        ck = apr_psprintf(rc->pool, "checkpoint %" PRIu64 " (%" PRIu64 " frames, %s)",
                          st->checkpoint_seq, st->checkpoint_frames,
                          size_text(st->checkpoint_bytes, rc->pool));
    if (st->checkpoints_damaged)
        ck = apr_psprintf(rc->pool, "%s after %d damaged checkpoints", ck, st->checkpoints_damaged);
    log_msg("recovered: %s, journal %d segments %" PRIu64 " frames: %" PRIu64 " merged, %" PRIu64
            " duplicate, %" PRIu64 " refused, %" PRIu64 " damaged ranges, in %" PRId64 " ms",
            ck, st->segments, st->frames, rc->merged, rc->duplicate, rc->refused, st->damaged, ms);
}

apr_status_t merger_recover(merger_t *m, journal_t *jn, abbey_err_t *err)
{
    int64_t t0 = now_ms();
    journal_recovery_t st;
    recover_t rc;
    apr_status_t rv;

    memset(&rc, 0, sizeof rc);
    memset(&st, 0, sizeof st);
    apr_thread_mutex_lock(m->lock);
    if (m->journal) {
        apr_thread_mutex_unlock(m->lock);
        abbey_err_set(err, "merger_recover: a journal is attached; recover before attaching it");
        return APR_EINVAL;
    }
    rc.m = m;
    rc.pool = mem_xpool(m->pool);
    rc.skip = apr_pcalloc(rc.pool, (size_t)(m->cfg->njobs > 0 ? m->cfg->njobs : 1));
    apr_thread_mutex_unlock(m->lock);

    rv = journal_recover(jn, on_ckpt_frame, on_journal_frame, &rc, &st, err);
    if (rv == APR_SUCCESS && !rc.checked)
        check_count(&rc);
    if (rv == APR_SUCCESS && !rc.failed && st.checkpoint_seq && !rc.have_meta) {
        abbey_err_set(&rc.err, "checkpoint %" PRIu64 " has no metadata record", st.checkpoint_seq);
        rc.failed = 1;
    }
    if (rc.failed) {
        abbey_err_set(err, "recovery: %s", rc.err.msg);
        rv = rv == APR_SUCCESS ? APR_EINVAL : rv;
    } else if (rv == APR_SUCCESS) {
        apr_thread_mutex_lock(m->lock);
        for (int i = 0; i < m->cfg->njobs; i++)
            merger_owe_kept_rounds(&m->jobs[i]); /* e.g. journal frames lost to damage */
        apr_thread_mutex_unlock(m->lock);
        log_summary(&rc, &st, now_ms() - t0);
    }
    apr_pool_destroy(rc.pool);
    return rv;
}
