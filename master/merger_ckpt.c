/* merger_ckpt.c - the merger's checkpoint: its format, writing it (merger_checkpoint)
 * and restoring it during recovery (merger_on_checkpoint, called through
 * merger_recover in merger_recover.c, which replays the journal after it).
 *
 * A checkpoint is a frame file: first a record frame (FRAME_FLAG_RECORD, job "")
 * whose payload is JSON metadata: the merger's counters and, per job, its
 * structure fingerprint (merger_job_fingerprint), counters, source ranges, round
 * bookkeeping, owed ranges and kept rounds/periods, and the number of frames that
 * follow; then one ordinary partial frame per kept period's totals (source
 * "@period", round = period id) and per kept round partial (source "@round",
 * round = round number), range [0, 0). Recovery restores the newest whole
 * checkpoint and replays the journal through merger_accept: frames the
 * checkpoint holds are duplicates by range. uint64 values are written with
 * jsonio_u64 (JSON integers up to INT64_MAX, decimal strings above); source ids
 * that are not UTF-8 are written {"hex": "..."}. A checkpoint that does not read
 * back as written fails recovery with an error naming its file, job and field. */
#include "merger_int.h"

#include <apr_strings.h>
#include <apr_time.h>
#include <ctype.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "journal.h"
#include "mem.h"
#include "jsonio.h"
#include "log.h"

/* ---- source ids ---------------------------------------------------------- */

/* A source id: a JSON string when it is UTF-8, else {"hex": "<bytes>"}. */
static json_t *jtext(const char *s)
{
    json_t *v = json_string(s), *o;
    size_t n = strlen(s);
    char *hex;

    if (v)
        return v;
    hex = mem_xmalloc(2 * n + 1);
    for (size_t i = 0; i < n; i++)
        snprintf(hex + 2 * i, 3, "%02x", (unsigned char)s[i]);
    o = json_pack("{s:s}", "hex", hex);
    free(hex);
    return o;
}

/* A source id as jtext writes it, back in pool; NULL when malformed. */
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

/* ---- writing a checkpoint ----------------------------------------------- */

/* [{"source", "ranges": [[a, b], ...]}, ...] */
static json_t *sources_json(const mjob_t *j)
{
    json_t *a = json_array();
    for (apr_hash_index_t *hi = apr_hash_first(NULL, j->sources); hi; hi = apr_hash_next(hi)) {
        const void *key;
        void *val;
        json_t *rs = json_array();
        apr_hash_this(hi, &key, NULL, &val);
        for (size_t i = 0; i < ranges_count(val); i++) {
            uint64_t x, y;
            ranges_get(val, i, &x, &y);
            json_array_append_new(rs, json_pack("[o,o]", jsonio_u64(x), jsonio_u64(y)));
        }
        json_array_append_new(a, json_pack("{s:o,s:o}", "source", jtext(key), "ranges", rs));
    }
    return a;
}

static json_t *round_json(const mround_t *rd)
{
    json_t *ranges = json_array();
    for (size_t i = 0; i < rd->nranges; i++)
        json_array_append_new(ranges, json_pack("[o,o,o]", jtext(rd->ranges[i].source),
                                                jsonio_u64(rd->ranges[i].start),
                                                jsonio_u64(rd->ranges[i].end)));
    return json_pack("{s:o,s:b,s:b,s:I,s:o,s:b,s:b,s:o,s:b,s:b}", "r", jsonio_u64(rd->r), "closed",
                     rd->closed, "primary_incomplete", rd->primary_incomplete, "deadline_ms",
                     (json_int_t)rd->deadline_ms, "ranges", ranges, "exported", rd->exported,
                     "export_incomplete", rd->export_incomplete, "export_missing",
                     jsonio_u64(rd->export_missing), "dirty", rd->dirty, "partial", rd->p != NULL);
}

/* [[round, deadline_ms, source, start, end], ...]: the owed ranges, oldest first */
static json_t *owed_json(const mjob_t *j)
{
    json_t *a = json_array();
    for (const mowed_t *o = j->owed; o; o = o->next)
        json_array_append_new(a, json_pack("[o,I,o,o,o]", jsonio_u64(o->round),
                                           (json_int_t)o->deadline_ms, jtext(o->source),
                                           jsonio_u64(o->start), jsonio_u64(o->end)));
    return a;
}

/* One job's metadata; *nframes += the partial frames that will follow for it. */
static json_t *job_json(const merger_t *m, const mjob_t *j, uint64_t *nframes)
{
    json_t *o, *rounds = json_array(), *periods = json_array();
    char fp[17];

    merger_fingerprint_hex(m, j, fp);
    for (int i = 0; i < j->nrounds; i++) {
        json_array_append_new(rounds, round_json(j->rounds[i]));
        *nframes += j->rounds[i]->p != NULL;
    }
    for (int i = 0; i < j->nperiods; i++)
        json_array_append_new(periods,
                              json_pack("{s:I,s:b,s:b}", "id", (json_int_t)j->periods[i].id,
                                        "final_exported", j->periods[i].final_exported, "dirty",
                                        j->periods[i].dirty));
    *nframes += (uint64_t)j->nperiods;
    o = json_pack("{s:s,s:s,s:I,s:I,s:s,s:I,s:I,s:o,s:o,s:o,s:o,s:o}", "name", j->job->name,
                  "fingerprint", fp, "round_ms", (json_int_t)j->round_ms, "period_ms",
                  (json_int_t)j->period_ms, "tz", tz_name(j->tz), "since_ms",
                  (json_int_t)j->since_ms, "changed_ms", (json_int_t)j->changed_ms, "counts",
                  merger_counts_json(&j->c), "lines", jsonio_u64(j->lines), "bad_lines",
                  jsonio_u64(j->bad_lines), "bytes", jsonio_u64(j->bytes), "sources",
                  sources_json(j));
    json_object_update_new(o, json_pack("{s:b,s:o,s:b,s:o,s:o,s:o,s:o,s:b,s:o}", "any_closed",
                                        j->any_closed, "last_closed", jsonio_u64(j->last_closed),
                                        "any_exported", j->any_exported, "last_exported",
                                        jsonio_u64(j->last_exported), "rounds_exported",
                                        jsonio_u64(j->rounds_exported), "rounds_amended",
                                        jsonio_u64(j->rounds_amended), "rounds_incomplete",
                                        jsonio_u64(j->rounds_incomplete), "dropped", j->dropped,
                                        "floor", jsonio_u64(j->floor)));
    json_object_set_new(o, "regex_limit_hits", jsonio_u64(j->regex_limit_hits));
    json_object_set_new(o, "bad_lines_by_reason", merger_reasons_json(j->bad_by));
    json_object_update_new(o,
                           json_pack("{s:b,s:b,s:I,s:o,s:o,s:o}", "period_changed",
                                     j->period_changed, "period_stale", j->period_stale,
                                     "period_render_ms", (json_int_t)j->period_render_ms, "rounds",
                                     rounds, "periods", periods, "owed", owed_json(j)));
    return o;
}

static json_t *meta_json(const merger_t *m)
{
    json_t *jobs = json_array();
    uint64_t nframes = 0;

    for (int i = 0; i < m->cfg->njobs; i++)
        json_array_append_new(jobs, job_json(m, &m->jobs[i], &nframes));
    return json_pack("{s:i,s:s,s:s,s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "version", MERGER_CKPT_VERSION,
                     "master", m->self, "config_hash", m->cfg->hash_hex, "unknown",
                     merger_counts_json(&m->unknown), "frame_bytes", jsonio_u64(m->frame_bytes),
                     "frame_bytes_accepted", jsonio_u64(m->frame_bytes_accepted), "combined",
                     json_pack("{s:o,s:o}", "frames", jsonio_u64(m->combined_frames), "ranges",
                               jsonio_u64(m->combined_ranges)),
                     "export_errors", jsonio_u64(m->export_errors), "frames", jsonio_u64(nframes),
                     "jobs", jobs);
}

static void header_for(const merger_t *m, const char *job, const char *source, uint64_t round,
                       frame_header_t *h)
{
    memset(h, 0, sizeof *h);
    h->config_hash = m->cfg->hash;
    h->round = round;
    apr_cpystrn(h->job, job, sizeof h->job);
    apr_cpystrn(h->source, source, sizeof h->source);
    apr_cpystrn(h->master, m->self, sizeof h->master);
}

static apr_status_t put_partial(const merger_t *m, const mjob_t *j, const char *source,
                                uint64_t round, const partial_t *p, buf_t *out, abbey_err_t *err)
{
    frame_header_t h;

    if (strlen(j->job->name) >= sizeof h.job) {
        abbey_err_set(err, "job name '%s' is too long for a frame", j->job->name);
        return APR_EINVAL;
    }
    header_for(m, j->job->name, source, round, &h);
    frame_header_counts(&h, p);
    if (frame_encode(&h, p, NULL, out, err) != APR_SUCCESS) {
        abbey_err_prefix(err, "job %s, %s %" PRIu64, j->job->name, source + 1, round);
        return APR_EINVAL;
    }
    return APR_SUCCESS;
}

/* Under the lock: the checkpoint's bytes into out. */
static apr_status_t serialize(const merger_t *m, buf_t *out, abbey_err_t *err)
{
    json_t *meta = meta_json(m);
    char *text = json_dumps(meta, JSON_COMPACT);
    frame_header_t h;
    apr_status_t rv;

    json_decref(meta);
    if (!text) {
        abbey_err_set(err, "cannot render the checkpoint metadata as JSON");
        return APR_EGENERAL;
    }
    header_for(m, "", "", 0, &h);
    rv = frame_encode_record(&h, text, strlen(text), out, err);
    free(text);
    for (int i = 0; rv == APR_SUCCESS && i < m->cfg->njobs; i++) {
        const mjob_t *j = &m->jobs[i];
        for (int k = 0; rv == APR_SUCCESS && k < j->nperiods; k++)
            rv = put_partial(m, j, MERGER_CKPT_PERIOD, (uint64_t)j->periods[k].id,
                             j->periods[k].totals, out, err);
        for (int k = 0; rv == APR_SUCCESS && k < j->nrounds; k++)
            if (j->rounds[k]->p)
                rv = put_partial(m, j, MERGER_CKPT_ROUND, j->rounds[k]->r, j->rounds[k]->p, out,
                                 err);
    }
    return rv;
}

apr_status_t merger_checkpoint(merger_t *m, journal_t *jn, abbey_err_t *err)
{
    buf_t b;
    uint64_t seq;
    apr_status_t rv = APR_EGENERAL;

    buf_init(&b);
    /* the export lock first (merger_tick's order): no round is marked
     * exported in the checkpoint while its files wait to be written */
    apr_thread_mutex_lock(m->export_lock);
    apr_thread_mutex_lock(m->lock);
    seq = journal_rotate(jn, err);
    if (seq)
        rv = serialize(m, &b, err);
    apr_thread_mutex_unlock(m->lock);
    apr_thread_mutex_unlock(m->export_lock);
    if (rv == APR_SUCCESS)
        rv = journal_checkpoint(jn, seq, b.data, b.len, err);
    if (!seq)
        abbey_err_prefix(err, "checkpoint of master %s: cannot start a new journal segment",
                         m->self);
    else if (rv != APR_SUCCESS)
        abbey_err_prefix(err, "checkpoint %" PRIu64 " of master %s", seq, m->self);
    buf_free(&b);
    return rv;
}

/* ---- restoring a checkpoint --------------------------------------------- */

/* o[key]: the 7 counters (merger_count_names) into *out. */
static void restore_counts(jsonio_rd_t *c, const json_t *o, const char *key, mcount_t *out)
{
    const json_t *v = jsonio_get_obj(c, o, key, 1);

    for (int i = 0; v && i < MERGER_NCOUNTS; i++)
        *merger_count_field(out, i) = jsonio_get_u64(c, v, merger_count_names[i]);
}

/* o's "bad_lines_by_reason" into j->bad_by (after j->bad_lines): a reason
 * this build does not know, and the bad lines no reason accounts for (every
 * checkpoint from before reasons), count as "unknown". */
static void restore_reasons(jsonio_rd_t *c, const json_t *o, mjob_t *j)
{
    json_t *v = jsonio_get_obj(c, o, "bad_lines_by_reason", 0), *n;
    const char *name;
    uint64_t sum = 0, count;

    memset(j->bad_by, 0, sizeof j->bad_by);
    json_object_foreach(v, name, n)
    {
        if (jsonio_u64_value(n, &count) != 0 || count > j->bad_lines - sum) {
            jsonio_fail(c, "bad_lines_by_reason",
                        "must count at most bad_lines in all, with a number per reason");
            return;
        }
        j->bad_by[partial_reason_find(name, strlen(name))] += count;
        sum += count;
    }
    j->bad_by[PARTIAL_BAD_UNKNOWN] += j->bad_lines - sum;
}

/* j's totals restart empty (ranges, counters and round bookkeeping stay),
 * as merger_set_config does for a changed structure. */
static void restart_totals(merger_rx_t *rc, mjob_t *j, const char *why)
{
    for (int i = 0; i < j->nperiods; i++)
        partial_destroy(j->periods[i].totals);
    j->nperiods = 0;
    for (int i = 0; i < j->nrounds; i++)
        if (j->rounds[i]->p)
            partial_clear(j->rounds[i]->p);
    j->since_ms = j->changed_ms = (int64_t)(apr_time_now() / 1000);
    j->period_changed = j->period_stale = 0;
    rc->skip[j->job->index] = 1;
    log_msg("recovery: job %s: %s: its totals restart empty (merged ranges are kept)", j->job->name,
            why);
}

static void restore_sources(jsonio_rd_t *c, mjob_t *j, const json_t *a)
{
    size_t i;
    json_t *s;

    for (i = 0; (s = json_array_get(a, i)) != NULL; i++) {
        const char *src = text_of(json_object_get(s, "source"), j->pool);
        json_t *rs = jsonio_get_arr(c, s, "ranges"), *x;
        ranges_t *set;
        size_t k;
        if (!src || c->failed) {
            jsonio_fail(c, "sources", "holds a malformed source");
            return;
        }
        set = ranges_create(j->pool);
        for (k = 0; (x = json_array_get(rs, k)) != NULL; k++) {
            uint64_t a0, b0;
            if (json_array_size(x) != 2 || jsonio_u64_value(json_array_get(x, 0), &a0) != 0 ||
                jsonio_u64_value(json_array_get(x, 1), &b0) != 0 || a0 >= b0) {
                jsonio_fail(c, "sources", "holds a malformed range");
                return;
            }
            ranges_add(set, a0, b0);
        }
        apr_hash_set(j->sources, src, APR_HASH_KEY_STRING, set);
    }
}

static void restore_round_ranges(jsonio_rd_t *c, mround_t *rd, const json_t *a)
{
    size_t i;
    json_t *x;

    rd->ranges = apr_pcalloc(rd->pool, sizeof *rd->ranges * (json_array_size(a) + 1));
    for (i = 0; (x = json_array_get(a, i)) != NULL; i++) {
        merger_range_t *r = &rd->ranges[rd->nranges];
        r->source = text_of(json_array_get(x, 0), rd->pool);
        if (json_array_size(x) != 3 || !r->source ||
            jsonio_u64_value(json_array_get(x, 1), &r->start) ||
            jsonio_u64_value(json_array_get(x, 2), &r->end) || r->start >= r->end) {
            jsonio_fail(c, "rounds", "holds a malformed closed range");
            return;
        }
        rd->nranges++;
    }
}

static void restore_rounds(merger_rx_t *rc, jsonio_rd_t *c, mjob_t *j, const json_t *a)
{
    size_t i;
    json_t *o;

    if (json_array_size(a) > MERGER_KEEP_ROUNDS) {
        jsonio_fail(c, "rounds", "holds more rounds than a job keeps");
        return;
    }
    for (i = 0; (o = json_array_get(a, i)) != NULL; i++) {
        uint64_t r = jsonio_get_u64(c, o, "r");
        mround_t *rd;
        if (c->failed)
            return;
        if (j->nrounds && r <= j->rounds[j->nrounds - 1]->r) {
            jsonio_fail(c, "rounds", "is not in ascending round order");
            return;
        }
        if (!(rd = merger_round_get(rc->m, j, r))) {
            jsonio_fail(c, "rounds", "names a round this master cannot keep");
            return;
        }
        rd->closed = jsonio_get_bool(c, o, "closed", 1);
        rd->primary_incomplete = jsonio_get_bool(c, o, "primary_incomplete", 1);
        rd->deadline_ms = jsonio_get_i64(c, o, "deadline_ms");
        rd->exported = jsonio_get_bool(c, o, "exported", 1);
        rd->export_incomplete = jsonio_get_bool(c, o, "export_incomplete", 1);
        rd->export_missing = (size_t)jsonio_get_u64(c, o, "export_missing");
        rd->dirty = jsonio_get_bool(c, o, "dirty", 1);
        restore_round_ranges(c, rd, jsonio_get_arr(c, o, "ranges"));
    }
}

static void restore_periods(jsonio_rd_t *c, merger_rx_t *rc, mjob_t *j, const json_t *a)
{
    size_t i;
    json_t *o;

    if (json_array_size(a) > MERGER_KEEP_PERIODS) {
        jsonio_fail(c, "periods", "holds more periods than a job keeps");
        return;
    }
    for (i = 0; (o = json_array_get(a, i)) != NULL; i++) {
        int64_t id = jsonio_get_i64(c, o, "id");
        mperiod_t *p;
        if (c->failed)
            return;
        if (j->nperiods && id <= j->periods[j->nperiods - 1].id) {
            jsonio_fail(c, "periods", "is not in ascending order");
            return;
        }
        if (!(p = merger_period_get(rc->m, j, id))) {
            jsonio_fail(c, "periods", "names a period this master cannot keep");
            return;
        }
        p->final_exported = jsonio_get_bool(c, o, "final_exported", 1);
        p->dirty = jsonio_get_bool(c, o, "dirty", 1);
    }
}

/* The owed ranges ([[round, deadline_ms, source, start, end], ...]; absent
 * in checkpoints written before they were kept). */
static void restore_owed(merger_rx_t *rc, jsonio_rd_t *c, mjob_t *j, const json_t *a)
{
    size_t i;
    json_t *x;

    for (i = 0; (x = json_array_get(a, i)) != NULL; i++) {
        merger_range_t r;
        uint64_t round;
        json_t *dl = json_array_get(x, 1);
        r.source = text_of(json_array_get(x, 2), rc->pool);
        if (json_array_size(x) != 5 || !r.source || !json_is_integer(dl) ||
            jsonio_u64_value(json_array_get(x, 0), &round) ||
            jsonio_u64_value(json_array_get(x, 3), &r.start) ||
            jsonio_u64_value(json_array_get(x, 4), &r.end) || r.start >= r.end) {
            jsonio_fail(c, "owed", "holds a malformed range");
            return;
        }
        merger_owe(j, round, (int64_t)json_integer_value(dl), &r);
    }
}

/* Round numbering and bookkeeping (kept only when the round length, reset
 * and timezone are unchanged). */
static void restore_bookkeeping(merger_rx_t *rc, jsonio_rd_t *c, mjob_t *j, const json_t *o)
{
    restore_rounds(rc, c, j, jsonio_get_arr(c, o, "rounds"));
    j->any_closed = jsonio_get_bool(c, o, "any_closed", 1);
    j->last_closed = jsonio_get_u64(c, o, "last_closed");
    j->any_exported = jsonio_get_bool(c, o, "any_exported", 1);
    j->last_exported = jsonio_get_u64(c, o, "last_exported");
    j->dropped = jsonio_get_bool(c, o, "dropped", 1);
    j->floor = jsonio_get_u64(c, o, "floor");
    restore_owed(rc, c, j, json_object_get(o, "owed"));
}

/* Whether the checkpointed job o counted periods in zone tz: its "tz" name,
 * or, from checkpoints before IANA zones, "tz_ms", a fixed offset. */
static int same_zone(jsonio_rd_t *c, const json_t *o, const tz_t *tz)
{
    const char *name = jsonio_get_str(c, o, "tz", 0, 300);
    int32_t off;
    if (name)
        return strcmp(name, tz_name(tz)) == 0;
    return tz_fixed_offset(tz, &off) && jsonio_get_i64(c, o, "tz_ms") == (int64_t)off * 1000;
}

static void restore_job(merger_rx_t *rc, jsonio_rd_t *c, const json_t *o)
{
    merger_t *m = rc->m;
    const char *name = jsonio_get_str(c, o, "name", 1, SIZE_MAX), *fp;
    char mine[17];
    int timing;
    mjob_t *j;

    if (!name || !(j = merger_job_locked(m, name))) {
        if (name)
            log_msg("recovery: job %s is in checkpoint %s but not in the rules: dropped", name,
                    rc->ckpt_file);
        return;
    }
    jsonio_where(c, "checkpoint %s: job '%s'", rc->ckpt_file, name);
    fp = jsonio_get_str(c, o, "fingerprint", 1, SIZE_MAX);
    merger_fingerprint_hex(m, j, mine);
    timing = jsonio_get_i64(c, o, "round_ms") == j->round_ms &&
             jsonio_get_i64(c, o, "period_ms") == j->period_ms && same_zone(c, o, j->tz);
    restore_counts(c, o, "counts", &j->c);
    j->lines = jsonio_get_u64(c, o, "lines");
    j->bad_lines = jsonio_get_u64(c, o, "bad_lines");
    j->bytes = jsonio_get_u64(c, o, "bytes");
    if (json_object_get(o, "regex_limit_hits")) /* absent from older checkpoints: 0 */
        j->regex_limit_hits = jsonio_get_u64(c, o, "regex_limit_hits");
    restore_reasons(c, o, j);
    j->rounds_exported = jsonio_get_u64(c, o, "rounds_exported");
    j->rounds_amended = jsonio_get_u64(c, o, "rounds_amended");
    j->rounds_incomplete = jsonio_get_u64(c, o, "rounds_incomplete");
    restore_sources(c, j, jsonio_get_arr(c, o, "sources"));
    if (timing)
        restore_bookkeeping(rc, c, j, o);
    restore_periods(c, rc, j, jsonio_get_arr(c, o, "periods"));
    j->since_ms = jsonio_get_i64(c, o, "since_ms");
    j->changed_ms = jsonio_get_i64(c, o, "changed_ms");
    j->period_changed = jsonio_get_bool(c, o, "period_changed", 1);
    j->period_stale = jsonio_get_bool(c, o, "period_stale", 1);
    j->period_render_ms = jsonio_get_i64(c, o, "period_render_ms");
    if (!c->failed && fp && strcmp(fp, mine) != 0)
        restart_totals(rc, j,
                       timing ? "its rules changed since checkpoint"
                              : "its round length, reset or timezone changed since checkpoint "
                                "(kept rounds and round bookkeeping dropped)");
    jsonio_where(c, "checkpoint %s", rc->ckpt_file);
}

/* The metadata record: the first frame of a checkpoint. */
static int restore_meta(merger_rx_t *rc, const char *file, const uint8_t *frame, size_t len)
{
    merger_t *m = rc->m;
    jsonio_rd_t c;
    frame_header_t h;
    uint8_t *data;
    size_t dlen, flen, i;
    json_t *o, *jobs, *jo, *comb;
    const char *master;

    rc->have_meta = 1;
    rc->ckpt_file = apr_pstrdup(rc->pool, file);
    if (frame_record(frame, len, rc->pool, &h, &data, &dlen, &flen, &rc->err) != APR_SUCCESS) {
        abbey_err_prefix(&rc->err, "checkpoint %s: the first frame is not its metadata record",
                         file);
        return -1;
    }
    if (!(o = jsonio_parse_object(data, dlen, &rc->err))) {
        abbey_err_prefix(&rc->err, "checkpoint %s: metadata", file);
        return -1;
    }
    jsonio_rd_init(&c);
    jsonio_where(&c, "checkpoint %s", file);
    if (jsonio_get_i64(&c, o, "version") != MERGER_CKPT_VERSION)
        jsonio_fail(&c, "version", "is not %d, the version this master reads", MERGER_CKPT_VERSION);
    master = jsonio_get_str(&c, o, "master", 1, SIZE_MAX);
    if (master && strcmp(master, m->self) != 0)
        jsonio_fail(&c, "master", "is '%s', but this is master '%s'", master, m->self);
    restore_counts(&c, o, "unknown", &m->unknown);
    m->frame_bytes = jsonio_get_u64(&c, o, "frame_bytes");
    m->frame_bytes_accepted = jsonio_get_u64(&c, o, "frame_bytes_accepted");
    if ((comb = jsonio_get_obj(&c, o, "combined", 0)) != NULL) { /* (absent before them) */
        m->combined_frames = jsonio_get_u64(&c, comb, "frames");
        m->combined_ranges = jsonio_get_u64(&c, comb, "ranges");
    }
    m->export_errors = jsonio_get_u64(&c, o, "export_errors");
    rc->expect_frames = jsonio_get_u64(&c, o, "frames");
    jobs = jsonio_get_arr(&c, o, "jobs");
    for (i = 0; !c.failed && (jo = json_array_get(jobs, i)) != NULL; i++)
        restore_job(rc, &c, jo);
    json_decref(o);
    if (c.failed)
        rc->err = c.err;
    return c.failed ? -1 : 0;
}

/* A period-totals or round-partial frame of the checkpoint. */
static int restore_partial(merger_rx_t *rc, const char *file, uint64_t off, const uint8_t *frame,
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

int merger_on_checkpoint(void *ctx, const char *file, uint64_t offset, const uint8_t *frame,
                         size_t len, const frame_header_t *h)
{
    merger_rx_t *rc = ctx;
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

int merger_ckpt_done(merger_rx_t *rc)
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
