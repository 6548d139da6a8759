/* merger_persist.c - the merger's durability: structure fingerprints, journal
 * attachment and writing checkpoints; recovery is in merger_recover.c.
 *
 * merger.c appends every new frame to the attached journal (journal.h) before
 * merging it; this file writes checkpoints, merger_recover.c recovers. A checkpoint is a
 * frame file: first a record frame (FRAME_FLAG_RECORD, job "") whose payload
 * is JSON metadata: the merger's counters and, per job, its structure
 * fingerprint, counters, source ranges, round bookkeeping and kept
 * rounds/periods, and the number of frames that follow; then one ordinary
 * partial frame per kept period's totals (source "@period", round = period
 * id) and per kept round partial (source "@round", round = round number),
 * range [0, 0). Recovery restores the newest whole checkpoint and replays the
 * journal through merger_accept: frames the checkpoint holds are duplicates by
 * range. uint64 values are JSON integers up to INT64_MAX, decimal strings
 * above; source ids that are not UTF-8 are written {"hex": "..."}. */
#include "merger_int.h"

#include <apr_strings.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "frame.h"
#include "journal.h"
#include "mem.h"

/* ---- structure fingerprint ---------------------------------------------- */

static void fp_str(buf_t *b, const char *s)
{
    buf_put_u8(b, s != NULL);
    buf_put_str(b, s ? s : "", s ? strlen(s) : 0);
}

static void fp_expr(buf_t *b, const expr_t *e)
{
    fp_str(b, e ? expr_text(e) : NULL);
}

static void fp_entry(buf_t *b, const rules_entry_t *en)
{
    fp_str(b, en->name);
    buf_put_varint(b, (uint64_t)en->index);
    buf_put_varint(b, (uint64_t)en->nkeys);
    buf_put_varint(b, (uint64_t)en->nvalues);
    fp_expr(b, en->where);
    for (int k = 0; k < en->nkeys; k++) {
        fp_expr(b, en->keys[k]);
        fp_str(b, en->key_names[k]);
    }
    for (int v = 0; v < en->nvalues; v++) {
        fp_str(b, en->values[v].name);
        buf_put_varint(b, (uint64_t)en->values[v].spec.kind);
        buf_put_f64(b, en->values[v].spec.pct);
        buf_put_varint(b, en->values[v].spec.cap);
        fp_expr(b, en->values[v].arg);
    }
}

static void fp_report(buf_t *b, const rules_report_t *r)
{
    fp_str(b, r->name);
    buf_put_varint(b, (uint64_t)r->entry->index);
    buf_put_varint(b, (uint64_t)r->ncols);
    for (int c = 0; c < r->ncols; c++)
        buf_put_svarint(b, r->cols[c]);
    buf_put_svarint(b, r->order_col);
    buf_put_u8(b, r->order_desc != 0);
    buf_put_svarint(b, r->limit);
    buf_put_u8(b, (uint8_t)r->format);
    buf_put_u8(b, (uint8_t)r->scope);
}

uint64_t merger_job_fingerprint(const rules_config_t *cfg, const rules_job_t *job)
{
    buf_t b;
    uint64_t fp;

    buf_init(&b);
    buf_put_svarint(&b, job->round);
    buf_put_u8(&b, (uint8_t)job->reset);
    buf_put_svarint(&b, job->tz_offset);
    fp_str(&b, job->format ? fmt_name(job->format) : NULL);
    for (int i = 0; job->format && i < fmt_nfields(job->format); i++) {
        fp_str(&b, fmt_field_name(job->format, i));
        buf_put_varint(&b, (uint64_t)fmt_field_type(job->format, i));
    }
    buf_put_varint(&b, (uint64_t)job->ngroups);
    for (int g = 0; g < job->ngroups; g++) {
        const rules_group_t *gr = &job->groups[g];
        fp_str(&b, gr->name);
        buf_put_varint(&b, (uint64_t)gr->weight);
        fp_str(&b, cfg->masters[gr->master].name);
        buf_put_varint(&b, (uint64_t)gr->nentries);
        for (int e = 0; e < gr->nentries; e++)
            fp_entry(&b, gr->entries[e]);
    }
    buf_put_varint(&b, (uint64_t)job->nentries);
    buf_put_varint(&b, (uint64_t)job->nreports);
    for (int r = 0; r < job->nreports; r++)
        fp_report(&b, &job->reports[r]);
    fp = XXH3_64bits(b.data, b.len);
    buf_free(&b);
    return fp;
}

void merger_fingerprint_hex(const merger_t *m, const mjob_t *j, char out[17])
{
    snprintf(out, 17, "%016" PRIx64, merger_job_fingerprint(m->cfg, j->job));
}

/* ---- JSON values -------------------------------------------------------- */

const char *const merger_count_names[7] = {"merged", "duplicate", "conflict",   "rejected",
                                           "late",   "expired",   "unavailable"};

uint64_t *merger_count_field(mcount_t *c, int i)
{
    uint64_t *f[7] = {&c->merged, &c->duplicate, &c->conflict,   &c->rejected,
                      &c->late,   &c->expired,   &c->unavailable};
    return f[i];
}

/* A uint64 without loss: an integer up to INT64_MAX, a decimal string above. */
static json_t *ju64(uint64_t v)
{
    char t[24];
    if (v <= (uint64_t)INT64_MAX)
        return json_integer((json_int_t)v);
    snprintf(t, sizeof t, "%" PRIu64, v);
    return json_string(t);
}

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

/* ---- writing a checkpoint ----------------------------------------------- */

static json_t *counts_json(mcount_t c)
{
    json_t *o = json_object();
    for (int i = 0; i < 7; i++)
        json_object_set_new(o, merger_count_names[i], ju64(*merger_count_field(&c, i)));
    return o;
}

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
            json_array_append_new(rs, json_pack("[o,o]", ju64(x), ju64(y)));
        }
        json_array_append_new(a, json_pack("{s:o,s:o}", "source", jtext(key), "ranges", rs));
    }
    return a;
}

static json_t *round_json(const mround_t *rd)
{
    json_t *ranges = json_array();
    for (size_t i = 0; i < rd->nranges; i++)
        json_array_append_new(ranges,
                              json_pack("[o,o,o]", jtext(rd->ranges[i].source),
                                        ju64(rd->ranges[i].start), ju64(rd->ranges[i].end)));
    return json_pack("{s:o,s:b,s:b,s:I,s:o,s:b,s:b,s:o,s:b,s:b}", "r", ju64(rd->r), "closed",
                     rd->closed, "primary_incomplete", rd->primary_incomplete, "deadline_ms",
                     (json_int_t)rd->deadline_ms, "ranges", ranges, "exported", rd->exported,
                     "export_incomplete", rd->export_incomplete, "export_missing",
                     ju64(rd->export_missing), "dirty", rd->dirty, "partial", rd->p != NULL);
}

/* [[round, deadline_ms, source, start, end], ...]: the owed ranges, oldest first */
static json_t *owed_json(const mjob_t *j)
{
    json_t *a = json_array();
    for (const mowed_t *o = j->owed; o; o = o->next)
        json_array_append_new(a,
                              json_pack("[o,I,o,o,o]", ju64(o->round), (json_int_t)o->deadline_ms,
                                        jtext(o->source), ju64(o->start), ju64(o->end)));
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
    o = json_pack("{s:s,s:s,s:I,s:I,s:I,s:I,s:I,s:o,s:o,s:o,s:o,s:o}", "name", j->job->name,
                  "fingerprint", fp, "round_ms", (json_int_t)j->round_ms, "period_ms",
                  (json_int_t)j->period_ms, "tz_ms", (json_int_t)j->tz_ms, "since_ms",
                  (json_int_t)j->since_ms, "changed_ms", (json_int_t)j->changed_ms, "counts",
                  counts_json(j->c), "lines", ju64(j->lines), "bad_lines", ju64(j->bad_lines),
                  "bytes", ju64(j->bytes), "sources", sources_json(j));
    json_object_update_new(
        o, json_pack("{s:b,s:o,s:b,s:o,s:o,s:o,s:o,s:b,s:o}", "any_closed", j->any_closed,
                     "last_closed", ju64(j->last_closed), "any_exported", j->any_exported,
                     "last_exported", ju64(j->last_exported), "rounds_exported",
                     ju64(j->rounds_exported), "rounds_amended", ju64(j->rounds_amended),
                     "rounds_incomplete", ju64(j->rounds_incomplete), "dropped", j->dropped,
                     "floor", ju64(j->floor)));
    json_object_set_new(o, "regex_limit_hits", ju64(j->regex_limit_hits));
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
    return json_pack("{s:i,s:s,s:s,s:o,s:o,s:o,s:o,s:o,s:o}", "version", MERGER_CKPT_VERSION,
                     "master", m->self, "config_hash", m->cfg->hash_hex, "unknown",
                     counts_json(m->unknown), "frame_bytes", ju64(m->frame_bytes),
                     "frame_bytes_accepted", ju64(m->frame_bytes_accepted), "export_errors",
                     ju64(m->export_errors), "frames", ju64(nframes), "jobs", jobs);
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
    h.lines = p->lines;
    h.bad_lines = p->bad_lines;
    h.bytes = p->bytes;
    h.regex_limit_hits = p->regex_limit_hits;
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

void merger_attach_journal(merger_t *m, journal_t *jn)
{
    apr_thread_mutex_lock(m->lock);
    m->journal = jn;
    m->last_ticket = 0; /* tickets are a journal's own */
    apr_thread_mutex_unlock(m->lock);
}
