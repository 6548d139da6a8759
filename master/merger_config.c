/* merger_config.c - a merger adopts a reloaded rules file (merger_set_config).
 *
 * Jobs are matched by name and their compiled models compared (groups,
 * entries, expressions by text, aggregate specs, reports, and the timing and
 * format the tables depend on); the config hash is not used. An unchanged
 * job moves its state to the new config as is; a changed one exports its
 * period reports under the old structure, then restarts its tables empty
 * (its byte ranges stay, so nothing is merged twice); a removed one exports
 * what it has and is freed. Runs under the state lock; the exports are queued
 * and written by the next merger_tick. The same comparison, hashed, is the
 * structure fingerprint a checkpoint keeps per job (merger_job_fingerprint). */
#include "merger_int.h"

#include <apr_strings.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "log.h"
#include "mem.h"

/* ---- comparing two compiled jobs ---------------------------------------- */

static int str_eq(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

static int expr_eq(const expr_t *a, const expr_t *b)
{
    if (!a || !b)
        return a == b;
    return str_eq(expr_text(a), expr_text(b));
}

static int spec_eq(const agg_spec_t *a, const agg_spec_t *b)
{
    return a->kind == b->kind && a->pct == b->pct && a->cap == b->cap;
}

static int entry_eq(const rules_entry_t *a, const rules_entry_t *b)
{
    if (!str_eq(a->name, b->name) || a->index != b->index || a->nkeys != b->nkeys ||
        a->nvalues != b->nvalues || a->max_keys != b->max_keys || !expr_eq(a->where, b->where) ||
        a->top_k != b->top_k || a->top_by != b->top_by || a->top_m != b->top_m)
        return 0;
    for (int k = 0; k < a->nkeys; k++)
        if (!expr_eq(a->keys[k], b->keys[k]) || !str_eq(a->key_names[k], b->key_names[k]))
            return 0;
    for (int v = 0; v < a->nvalues; v++)
        if (!str_eq(a->values[v].name, b->values[v].name) ||
            !spec_eq(&a->values[v].spec, &b->values[v].spec) ||
            !expr_eq(a->values[v].arg, b->values[v].arg))
            return 0;
    return 1;
}

static int group_eq(const rules_config_t *ac, const rules_group_t *a, const rules_config_t *bc,
                    const rules_group_t *b)
{
    if (!str_eq(a->name, b->name) || a->weight != b->weight || a->nentries != b->nentries ||
        !str_eq(ac->masters[a->master].name, bc->masters[b->master].name))
        return 0;
    for (int e = 0; e < a->nentries; e++)
        if (!entry_eq(a->entries[e], b->entries[e]))
            return 0;
    return 1;
}

static int report_eq(const rules_report_t *a, const rules_report_t *b)
{
    if (!str_eq(a->name, b->name) || a->entry->index != b->entry->index || a->ncols != b->ncols ||
        a->order_col != b->order_col || a->order_desc != b->order_desc || a->limit != b->limit ||
        a->format != b->format || a->scope != b->scope)
        return 0;
    for (int c = 0; c < a->ncols; c++)
        if (a->cols[c] != b->cols[c])
            return 0;
    return 1;
}

/* The line format: field names and types decide the keys' and values' types. */
static int format_eq(const format_t *a, const format_t *b)
{
    if (!a || !b)
        return a == b;
    if (!str_eq(format_spec_text(a), format_spec_text(b)) || format_nfields(a) != format_nfields(b))
        return 0;
    for (int i = 0; i < format_nfields(a); i++)
        if (!str_eq(format_field_name(a, i), format_field_name(b, i)) ||
            format_field_type(a, i) != format_field_type(b, i))
            return 0;
    return 1;
}

/* Round length, reset and timezone: what gives round and period numbers their times. */
static int timing_eq(const rules_job_t *a, const rules_job_t *b)
{
    return a->round == b->round && a->reset == b->reset &&
           strcmp(tz_name(a->tz), tz_name(b->tz)) == 0;
}

static int job_eq(const rules_config_t *ac, const rules_job_t *a, const rules_config_t *bc,
                  const rules_job_t *b)
{
    if (!timing_eq(a, b) || !format_eq(a->format, b->format) || a->ngroups != b->ngroups ||
        a->nentries != b->nentries || a->nreports != b->nreports)
        return 0;
    for (int g = 0; g < a->ngroups; g++)
        if (!group_eq(ac, &a->groups[g], bc, &b->groups[g]))
            return 0;
    for (int r = 0; r < a->nreports; r++)
        if (!report_eq(&a->reports[r], &b->reports[r]))
            return 0;
    return 1;
}

/* ---- the same structure as a fingerprint (kept in checkpoints) ---------- */

/* What job_eq compares, hashed: a restart compares a checkpointed job with the
 * rules through it (merger_ckpt.c). Change both together. */

static void fp_str(buf_t *b, const char *s)
{
    buf_put_u8(b, s != NULL);
    buf_put_str(b, s ? s : "", s ? strlen(s) : 0);
}

/* A fixed offset as the seconds checkpoints before IANA zones held (so their
 * fingerprints still match); a zone as a marker no offset can be, and its name. */
static void fp_zone(buf_t *b, const tz_t *tz)
{
    int32_t off;
    if (tz_fixed_offset(tz, &off)) {
        buf_put_svarint(b, off);
        return;
    }
    buf_put_svarint(b, INT64_C(1) << 40);
    fp_str(b, tz_name(tz));
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
    /* top, or a max_keys not the default (a top entry has none), only when set: the
     * fingerprints of entries without them stay as they were */
    if (en->top_k) {
        buf_put_varint(b, (uint64_t)en->top_k);
        buf_put_varint(b, (uint64_t)en->top_by);
        buf_put_varint(b, en->top_m);
    } else if (en->max_keys != RULES_MAX_KEYS_DEFAULT) {
        fp_str(b, "max_keys");
        buf_put_varint(b, en->max_keys);
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
    fp_zone(&b, job->tz);
    fp_str(&b, job->format ? format_spec_text(job->format) : NULL);
    for (int i = 0; job->format && i < format_nfields(job->format); i++) {
        fp_str(&b, format_field_name(job->format, i));
        buf_put_varint(&b, (uint64_t)format_field_type(job->format, i));
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

/* ---- what a new config may not do --------------------------------------- */

static const rules_group_t *find_group(const rules_job_t *job, const char *name)
{
    for (int g = 0; g < job->ngroups; g++)
        if (strcmp(job->groups[g].name, name) == 0)
            return &job->groups[g];
    return NULL;
}

/* 0 when cfg keeps this master and every group present in both on its master. */
static int check_moves(const merger_t *m, const rules_config_t *cfg, abbey_err_t *err)
{
    const rules_config_t *old = m->cfg;

    if (!rules_find_master(cfg, m->self)) {
        abbey_err_set(err,
                      "the new config drops master '%s' from masters: restart it with a "
                      "config that lists it; keeping the old config",
                      m->self);
        return -1;
    }
    for (int i = 0; i < old->njobs; i++) {
        const rules_job_t *oj = &old->jobs[i], *nj = rules_find_job(cfg, oj->name);
        for (int g = 0; nj && g < oj->ngroups; g++) {
            const rules_group_t *og = &oj->groups[g], *ng = find_group(nj, og->name);
            const char *from = old->masters[og->master].name;
            if (ng && strcmp(from, cfg->masters[ng->master].name) != 0) {
                abbey_err_set(err,
                              "the new config moves group '%s' of job '%s' from master "
                              "'%s' to '%s': moving groups needs a restart; keeping the old "
                              "config",
                              og->name, oj->name, from, cfg->masters[ng->master].name);
                return -1;
            }
        }
    }
    return 0;
}

/* ---- adopting ------------------------------------------------------------ */

/* Export what j holds under its old structure: amended rounds (all_rounds:
 * also every round not yet exported that has data or was closed), then the
 * period reports not final yet or changed since. */
static void export_last(merger_t *m, mjob_t *j, int all_rounds, apr_pool_t *tp)
{
    for (int i = 0; i < j->nrounds; i++) {
        mround_t *rd = j->rounds[i];
        if ((rd->exported && rd->dirty) ||
            (all_rounds && !rd->exported && (rd->closed || rd->dirty)))
            merger_export_round(m, j, rd, tp);
        apr_pool_clear(tp);
    }
    for (int i = 0; i < j->nperiods; i++) {
        mperiod_t *p = &j->periods[i];
        if (!p->final_exported || p->dirty)
            merger_export_period(m, j, p, tp);
        apr_pool_clear(tp);
    }
}

/* Empty the state of a slot that is no longer current (its job and owned
 * stay readable for a caller still holding it). */
static void slot_empty(mjob_t *o)
{
    o->nrounds = o->nperiods = o->nidle = 0;
    o->any_closed = o->any_exported = 0;
    o->owed = NULL; /* the owed list moved with the slot (or went with its pool) */
    o->owed_pool = NULL;
    o->nowed = 0;
}

/* j (already bound to its new job) restarts its tables empty; the ranges
 * and counters stay. A new round length, reset or timezone also renumbers
 * rounds and periods: the kept rounds go (exported beforehand). */
static void restart(merger_t *m, mjob_t *j, int timing_changed, int64_t now_ms)
{
    for (int i = 0; i < j->nperiods; i++)
        partial_destroy(j->periods[i].totals);
    j->nperiods = 0;
    for (int i = 0; i < j->nidle; i++)
        partial_destroy(j->idle[i]);
    j->nidle = 0;
    if (timing_changed) {
        merger_job_clear(j);
        merger_owed_clear(j); /* their round numbers mean nothing any more */
        j->dropped = 0;
        j->floor = 0;
        j->any_closed = j->any_exported = 0;
        j->last_closed = j->last_exported = 0;
    }
    for (int i = 0; i < j->nrounds; i++) {
        mround_t *rd = j->rounds[i];
        if (rd->p)
            partial_destroy(rd->p);
        rd->p = j->need_round ? partial_create(j->job, rd->pool) : NULL;
    }
    j->gen = ++m->gen;
    j->since_ms = j->changed_ms = now_ms;
}

/* Move job slot o of the old config to slot n for job nj of cfg. */
static void adopt(merger_t *m, mjob_t *o, mjob_t *n, const rules_config_t *cfg,
                  const rules_job_t *nj, int64_t now_ms, apr_pool_t *tp)
{
    int same = job_eq(m->cfg, o->job, cfg, nj), timing = timing_eq(o->job, nj);

    if (!same) {
        export_last(m, o, !timing, tp);
        log_msg("job %s: its rules changed: period reports exported, totals restart empty "
                "(merged ranges are kept)",
                nj->name);
    }
    *n = *o;
    merger_job_bind(m, n, nj);
    if (!same)
        restart(m, n, !timing, now_ms);
    slot_empty(o);
}

/* A job the new config no longer has: exported one last time, then freed. */
static void retire(merger_t *m, mjob_t *o, apr_pool_t *tp)
{
    export_last(m, o, 1, tp);
    merger_job_clear(o);
    apr_pool_destroy(o->pool);
    o->pool = NULL;
    o->sources = NULL;
    slot_empty(o);
    log_msg("job %s: removed from the rules: exported one last time and dropped", o->job->name);
}

int merger_set_config(merger_t *m, const rules_config_t *cfg, abbey_err_t *err)
{
    const rules_config_t *old;
    int64_t now_ms = (int64_t)(apr_time_now() / 1000);
    apr_pool_t *tp;
    mjob_t *jobs;

    apr_thread_mutex_lock(m->lock);
    old = m->cfg;
    if (check_moves(m, cfg, err) != 0) {
        apr_thread_mutex_unlock(m->lock);
        return -1;
    }
    if (cfg == old) {
        apr_thread_mutex_unlock(m->lock);
        return 0;
    }
    tp = mem_xpool(m->pool);
    m->self_index = rules_find_master(cfg, m->self)->index;
    for (int i = 0; i < old->njobs; i++)
        if (!rules_find_job(cfg, old->jobs[i].name))
            retire(m, &m->jobs[i], tp);
    jobs = apr_pcalloc(m->pool, sizeof *jobs * (size_t)(cfg->njobs > 0 ? cfg->njobs : 1));
    for (int i = 0; i < cfg->njobs; i++) {
        const rules_job_t *oj = rules_find_job(old, cfg->jobs[i].name);
        if (oj)
            adopt(m, &m->jobs[oj->index], &jobs[i], cfg, &cfg->jobs[i], now_ms, tp);
        else
            merger_job_init(m, &jobs[i], &cfg->jobs[i]);
    }
    m->cfg = cfg;
    m->jobs = jobs;
    merger_budget_update(m, NULL); /* restarted jobs hold nothing, new ones too */
    apr_pool_destroy(tp);
    apr_thread_mutex_unlock(m->lock);
    return 0;
}
