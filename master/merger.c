/* merger.c - the master's merger: exactly-once merging of frames into rounds and periods.
 *
 * merger_accept checks a frame (frame_peek_ranges), decides by its byte ranges
 * whether it is new (ranges.h; a frame of several ranges is new only when all
 * of them are, a duplicate when all are merged), decodes a new one outside the lock into a
 * scratch partial, then under the lock checks the range again (another
 * thread may have merged it meanwhile) and merges the scratch into the
 * round's partial and the period's totals. With a journal attached
 * (merger_attach_journal) a new frame is appended to it right before it is
 * merged, under the lock, and the answer waits for its commit, outside the
 * lock. This file also keeps the rounds
 * and periods of each job (creation, retention, the primary's closed-round
 * info); exports are in merger_export.c, HTTP/status/metrics in merger_http.c. */
#include "merger_int.h"

#include <apr_strings.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "invariant.h"
#include "journal.h"
#include "log.h"
#include "mem.h"

#define MERGER_DECODE_TRIES 4 /* decodes of one frame across config reloads */

/* What merger_accept waits for before it answers: a journal commit. */
typedef struct commit_wait_t {
    journal_t *jn;   /* NULL: nothing to wait for (no journal attached) */
    uint64_t ticket; /* the frame's own, or the newest journaled one for a repeat */
} commit_wait_t;

/* ---- creation ----------------------------------------------------------- */

void merger_job_bind(merger_t *m, mjob_t *j, const rules_job_t *job)
{
    j->job = job;
    j->round_ms = job->round / 1000 > 0 ? job->round / 1000 : 1;
    j->period_ms = job->reset == RULES_RESET_HOUR  ? 3600000
                   : job->reset == RULES_RESET_DAY ? 86400000
                                                   : 0;
    j->tz = job->tz;
    j->need_round = 0;
    j->owned = apr_pcalloc(m->pool, (size_t)(job->ngroups > 0 ? job->ngroups : 1));
    for (int g = 0; g < job->ngroups; g++)
        j->owned[g] = job->groups[g].master == m->self_index;
    for (int i = 0; i < job->nreports; i++)
        if (job->reports[i].scope == RULES_SCOPE_ROUND &&
            j->owned[job->reports[i].entry->group->index])
            j->need_round = 1;
}

void merger_job_init(merger_t *m, mjob_t *j, const rules_job_t *job)
{
    memset(j, 0, sizeof *j);
    merger_job_bind(m, j, job);
    j->gen = ++m->gen;
    j->since_ms = (int64_t)(apr_time_now() / 1000);
    j->pool = mem_xpool(m->pool);
    j->sources = apr_hash_make(j->pool);
}

merger_t *merger_create(const rules_config_t *cfg, const char *self, const char *export_dir,
                        apr_pool_t *pool)
{
    const rules_master_t *me = rules_find_master(cfg, self);
    apr_pool_t *sub;
    merger_t *m;

    if (!me)
        return NULL;
    sub = mem_xpool(pool);
    apr_pool_tag(sub, "merger");
    m = apr_pcalloc(sub, sizeof *m);
    m->cfg = cfg;
    m->pool = sub;
    m->self = apr_pstrdup(sub, me->name);
    m->self_index = me->index;
    m->dir = apr_pstrdup(sub, export_dir);
    if (apr_thread_mutex_create(&m->lock, APR_THREAD_MUTEX_DEFAULT, sub) != APR_SUCCESS ||
        apr_thread_mutex_create(&m->export_lock, APR_THREAD_MUTEX_DEFAULT, sub) != APR_SUCCESS)
        mem_oom("an APR mutex", 0);
    m->jobs = apr_pcalloc(sub, sizeof *m->jobs * (size_t)(cfg->njobs > 0 ? cfg->njobs : 1));
    for (int i = 0; i < cfg->njobs; i++)
        merger_job_init(m, &m->jobs[i], &cfg->jobs[i]);
    m->queue_tail = &m->queue;
    apr_pool_cleanup_register(sub, m, merger_queue_free, apr_pool_cleanup_null);
    return m;
}

/* ---- lookups ------------------------------------------------------------ */

mjob_t *merger_job_locked(merger_t *m, const char *name)
{
    const rules_job_t *job = name ? rules_find_job(m->cfg, name) : NULL;
    return job ? &m->jobs[job->index] : NULL;
}

mjob_t *merger_job(merger_t *m, const char *name)
{
    mjob_t *j;
    apr_thread_mutex_lock(m->lock);
    j = merger_job_locked(m, name);
    apr_thread_mutex_unlock(m->lock);
    return j;
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

int64_t merger_period_of(const mjob_t *j, uint64_t r)
{
    if (!j->period_ms)
        return 0;
    /* the period of the round's first second; periods start at whole seconds */
    return tz_period(j->tz, floor_div((int64_t)r * j->round_ms, 1000), j->period_ms / 1000);
}

int64_t merger_period_start_ms(const mjob_t *j, int64_t id)
{
    return tz_period_start(j->tz, id, j->period_ms / 1000) * 1000;
}

const ranges_t *merger_source_ranges(const mjob_t *j, const char *source)
{
    return apr_hash_get(j->sources, source, APR_HASH_KEY_STRING);
}

/* ---- rounds and periods ------------------------------------------------- */

/* j keeps at most MERGER_KEEP_ROUNDS rounds and MERGER_KEEP_PERIODS periods,
 * each in strictly ascending order (lookups and retention rely on it). */
static void kept_check(const mjob_t *j)
{
    ABBEY_ASSERT(j->nrounds >= 0 && j->nrounds <= MERGER_KEEP_ROUNDS);
    ABBEY_ASSERT(j->nperiods >= 0 && j->nperiods <= MERGER_KEEP_PERIODS);
    for (int i = 1; i < j->nrounds; i++)
        ABBEY_ASSERT(j->rounds[i - 1]->r < j->rounds[i]->r);
    for (int i = 1; i < j->nperiods; i++)
        ABBEY_ASSERT(j->periods[i - 1].id < j->periods[i].id);
}

static void round_free(mround_t *rd)
{
    if (rd->p)
        partial_destroy(rd->p);
    apr_pool_destroy(rd->pool);
}

/* Drop the oldest kept round, exporting it first if it never was. */
static void round_drop_oldest(merger_t *m, mjob_t *j)
{
    mround_t *rd = j->rounds[0];
    if (!rd->exported) {
        apr_pool_t *tp;
        tp = mem_xpool(m->pool);
        merger_export_round(m, j, rd, tp);
        apr_pool_destroy(tp);
    }
    if (!j->dropped || rd->r > j->floor)
        j->floor = rd->r;
    j->dropped = 1;
    round_free(rd);
    memmove(&j->rounds[0], &j->rounds[1], sizeof j->rounds[0] * (size_t)(j->nrounds - 1));
    j->nrounds--;
}

void merger_entry_memory(const mjob_t *j, int entry, merger_entry_mem_t *out)
{
    memset(out, 0, sizeof *out);
    for (int i = 0; i < j->nperiods; i++)
        out->bytes += ptable_bytes(j->periods[i].totals->tables[entry]);
    for (int i = 0; i < j->nrounds; i++)
        if (j->rounds[i]->p)
            out->bytes += ptable_bytes(j->rounds[i]->p->tables[entry]);
    for (int i = 0; i < j->nidle; i++)
        out->bytes += ptable_bytes(j->idle[i]->tables[entry]);
    if (j->nperiods > 0) {
        const ptable_t *t = j->periods[j->nperiods - 1].totals->tables[entry];
        out->keys = ptable_count(t);
        out->folded_lines = ptable_folded_lines(t);
        out->folded_keys = ptable_folded_keys(t);
    }
}

void merger_job_clear(mjob_t *j)
{
    for (int i = 0; i < j->nrounds; i++)
        round_free(j->rounds[i]);
    for (int i = 0; i < j->nperiods; i++)
        partial_destroy(j->periods[i].totals);
    for (int i = 0; i < j->nidle; i++)
        partial_destroy(j->idle[i]);
    j->nrounds = j->nperiods = j->nidle = 0;
}

/* The kept round r; created when absent and still within retention; NULL
 * when the round is no longer (or cannot be) kept. */
mround_t *merger_round_get(merger_t *m, mjob_t *j, uint64_t r)
{
    int at = 0;
    mround_t *rd;
    apr_pool_t *rp;

    while (at < j->nrounds && j->rounds[at]->r < r)
        at++;
    if (at < j->nrounds && j->rounds[at]->r == r)
        return j->rounds[at];
    if (j->dropped && r <= j->floor)
        return NULL;
    if (j->nrounds == MERGER_KEEP_ROUNDS) {
        if (at == 0)
            return NULL; /* older than every kept round */
        round_drop_oldest(m, j);
        at--;
        ABBEY_ASSERT(j->floor < r); /* the dropped round was older than r */
    }
    rp = mem_xpool(m->pool);
    apr_pool_tag(rp, "merger-round");
    rd = apr_pcalloc(rp, sizeof *rd);
    rd->r = r;
    rd->pool = rp;
    if (j->need_round)
        rd->p = partial_create(j->job, rp);
    memmove(&j->rounds[at + 1], &j->rounds[at], sizeof j->rounds[0] * (size_t)(j->nrounds - at));
    j->rounds[at] = rd;
    j->nrounds++;
    kept_check(j);
    return rd;
}

mperiod_t *merger_period_get(merger_t *m, mjob_t *j, int64_t id)
{
    int at = 0;
    mperiod_t *p;

    while (at < j->nperiods && j->periods[at].id < id)
        at++;
    if (at < j->nperiods && j->periods[at].id == id)
        return &j->periods[at];
    if (j->nperiods == MERGER_KEEP_PERIODS) {
        apr_pool_t *tp;
        if (at == 0)
            return NULL;
        p = &j->periods[0];
        if (!p->final_exported || p->dirty) {
            tp = mem_xpool(m->pool);
            merger_export_period(m, j, p, tp);
            apr_pool_destroy(tp);
        }
        partial_destroy(p->totals);
        memmove(&j->periods[0], &j->periods[1], sizeof j->periods[0] * (size_t)(j->nperiods - 1));
        j->nperiods--;
        at--;
    }
    memmove(&j->periods[at + 1], &j->periods[at],
            sizeof j->periods[0] * (size_t)(j->nperiods - at));
    p = &j->periods[at];
    memset(p, 0, sizeof *p);
    p->id = id;
    p->totals = partial_create(j->job, m->pool);
    j->nperiods++;
    kept_check(j);
    return p;
}

/* ---- accepting frames --------------------------------------------------- */

const char *merger_result_name(merge_result_t r)
{
    switch (r) {
    case MERGE_MERGED:
        return "merged";
    case MERGE_DUPLICATE:
        return "duplicate";
    case MERGE_EXPIRED:
        return "expired";
    case MERGE_CONFLICT:
        return "conflict";
    case MERGE_UNAVAILABLE:
        return "unavailable";
    default:
        return "rejected";
    }
}

/* A frame refused before its job was known. */
static merge_result_t rejected(merger_t *m)
{
    apr_thread_mutex_lock(m->lock);
    m->unknown.rejected++;
    apr_thread_mutex_unlock(m->lock);
    return MERGE_REJECTED;
}

/* The verdict for one range x. */
static ranges_verdict_t one_verdict(const mjob_t *j, const frame_range_t *x)
{
    const ranges_t *rs = merger_source_ranges(j, x->source);
    return rs ? ranges_check(rs, x->start, x->end) : RANGES_NEW;
}

/* Name the ranges of fr that clash with what j holds in conflict. */
static void name_clashes(const mjob_t *j, const frame_ranges_t *fr, merger_conflict_t *conflict)
{
    conflict->n = conflict->nclash = 0;
    if (fr->n == 1) {
        const frame_range_t *x = &fr->r[0];
        conflict->n = ranges_overlapping(merger_source_ranges(j, x->source), x->start, x->end,
                                         conflict->ranges, MERGER_MAX_CONFLICT);
        return;
    }
    for (uint32_t i = 0; i < fr->n; i++) {
        const frame_range_t *x = &fr->r[i];
        merger_clash_t *c = &conflict->clash[conflict->nclash];
        if (one_verdict(j, x) == RANGES_NEW)
            continue;
        memcpy(c->source, x->source, sizeof c->source);
        c->start = x->start;
        c->end = x->end;
        c->n = ranges_overlapping(merger_source_ranges(j, x->source), x->start, x->end, c->held,
                                  MERGER_CLASH_HELD);
        conflict->nclash++;
    }
}

/* Under the lock: the verdict for the frame's ranges (new: all of them are; covered: all
 * of them are; else overlap), counting and filling conflict for duplicates and
 * conflicts. */
static ranges_verdict_t range_verdict(mjob_t *j, const frame_ranges_t *fr,
                                      merger_conflict_t *conflict)
{
    uint32_t fresh = 0, covered = 0;
    ranges_verdict_t v;

    for (uint32_t i = 0; i < fr->n; i++) {
        v = one_verdict(j, &fr->r[i]);
        fresh += v == RANGES_NEW;
        covered += v == RANGES_COVERED;
    }
    v = fresh == fr->n ? RANGES_NEW : covered == fr->n ? RANGES_COVERED : RANGES_OVERLAP;
    if (v == RANGES_COVERED) {
        j->c.duplicate++;
    } else if (v == RANGES_OVERLAP) {
        j->c.conflict++;
        if (conflict)
            name_clashes(j, fr, conflict);
    }
    return v;
}

static merge_result_t result_of(ranges_verdict_t v)
{
    return v == RANGES_COVERED ? MERGE_DUPLICATE : MERGE_CONFLICT;
}

/* Under the lock, for a duplicate or a conflict: the answer names ranges
 * this master has, which may be the newest journaled frame's: wait for it. */
static void wait_newest(const merger_t *m, commit_wait_t *w)
{
    w->jn = m->journal;
    w->ticket = m->last_ticket;
}

/* Under the lock: a scratch partial of j (empty: scratch_give clears it). */
static partial_t *scratch_take(merger_t *m, mjob_t *j)
{
    if (j->nidle > 0)
        return j->idle[--j->nidle];
    return partial_create(j->job, m->pool);
}

/* Under the lock: s back to j's idle partials, emptied (an idle one holds no
 * rows, only its tables' slot arrays: what the memory budget counts of it). */
static void scratch_give(mjob_t *j, partial_t *p)
{
    if (j->nidle < MERGER_SCRATCH_IDLE) {
        partial_clear(p);
        j->idle[j->nidle++] = p;
    } else {
        partial_destroy(p);
    }
}

/* 0 when p has rows only in groups this master owns; else sets err. */
static int check_owned(const merger_t *m, const mjob_t *j, const partial_t *p, abbey_err_t *err)
{
    for (int e = 0; e < j->job->nentries; e++) {
        const rules_entry_t *en = j->job->entries[e];
        if (!j->owned[en->group->index] &&
            (ptable_count(p->tables[e]) > 0 || ptable_overflow(p->tables[e]))) {
            abbey_err_set(err, "frame carries rows of group '%s', which master %s does not own",
                          en->group->name, m->self);
            return -1;
        }
    }
    return 0;
}

/* Under the lock: record range x of j as merged. */
static void record_range(mjob_t *j, const frame_range_t *x)
{
    ranges_t *rs = apr_hash_get(j->sources, x->source, APR_HASH_KEY_STRING);
    if (!rs) {
        rs = ranges_create(j->pool);
        apr_hash_set(j->sources, apr_pstrdup(j->pool, x->source), APR_HASH_KEY_STRING, rs);
    }
    ranges_add(rs, x->start, x->end);
}

/* Under the lock: merge the decoded frame into its round and period, record
 * its ranges. MERGE_EXPIRED (ranges recorded, nothing counted) when its
 * period is no longer kept. */
static merge_result_t merge_new(merger_t *m, mjob_t *j, const frame_header_t *h,
                                const frame_ranges_t *fr, const partial_t *s)
{
    mperiod_t *p = merger_period_get(m, j, merger_period_of(j, h->round));
    mround_t *rd = p ? merger_round_get(m, j, h->round) : NULL; /* none for an expired frame */
    abbey_err_t err;

    for (uint32_t i = 0; i < fr->n; i++)
        record_range(j, &fr->r[i]);
    if (!p) {
        char what[512];
        frame_ranges_text(fr, what, sizeof what);
        j->c.expired++;
        log_msg("job %s: frame for round %llu of %s arrived after its period was dropped: "
                "recorded, not counted in any report (answered expired)",
                j->job->name, (unsigned long long)h->round, what);
        return MERGE_EXPIRED;
    }
    if (partial_merge(p->totals, s, &err) != APR_SUCCESS)
        log_msg("job %s: period totals: %s; that entry's period figures are lost (the merger "
                "keeps counting the others)",
                j->job->name, err.msg);
    j->period_changed = 1;
    if (p->final_exported)
        p->dirty = 1;
    if (rd) {
        if (rd->p && partial_merge(rd->p, s, &err) != APR_SUCCESS)
            log_msg("job %s: round %llu: %s; that entry's round figures are lost", j->job->name,
                    (unsigned long long)h->round, err.msg);
        rd->dirty = 1;
    }
    if (!rd || rd->exported)
        j->c.late++;
    j->c.merged++;
    if (fr->n > 1) {
        m->combined_frames++;
        m->combined_ranges += fr->n;
    }
    j->lines += h->lines;
    j->bad_lines += h->bad_lines;
    j->bytes += h->bytes;
    j->regex_limit_hits += h->regex_limit_hits;
    for (int r = 0; r < PARTIAL_BAD_N; r++)
        j->bad_by[r] += h->bad_by[r];
    return MERGE_MERGED;
}

/* Under the lock, for a new range: journal the frame (when a journal is
 * attached), then merge it. A failed append merges nothing. */
static merge_result_t merge_journaled(merger_t *m, mjob_t *j, const uint8_t *frame, size_t len,
                                      const frame_header_t *h, const frame_ranges_t *fr,
                                      const partial_t *s, commit_wait_t *w, abbey_err_t *err)
{
    uint64_t ticket = 0;

    if (m->journal) {
        if (journal_append(m->journal, frame, len, &ticket, err) != APR_SUCCESS) {
            abbey_err_prefix(err, "not merged, the journal cannot take the frame");
            j->c.unavailable++;
            return MERGE_UNAVAILABLE;
        }
        m->last_ticket = ticket;
        w->jn = m->journal;
        w->ticket = ticket;
    }
    return merge_new(m, j, h, fr, s);
}

/* ---- how far ahead a frame's round may be ------------------------------ */

static uint64_t ahead_rounds(const mjob_t *j)
{
    uint64_t n = (uint64_t)((MERGER_AHEAD_MS + j->round_ms - 1) / j->round_ms);
    return n > MERGER_AHEAD_ROUNDS ? n : MERGER_AHEAD_ROUNDS;
}

/* The round of the last merger_tick's clock (0 before any). */
static uint64_t clock_round(const merger_t *m, const mjob_t *j)
{
    return m->last_now > 0 ? (uint64_t)(m->last_now / j->round_ms) : 0;
}

/* Under the lock: see merger_round_limit. */
static uint64_t round_limit(const merger_t *m, const mjob_t *j)
{
    uint64_t base = clock_round(m, j), max = (uint64_t)(MERGER_MAX_MS / j->round_ms);

    if (!j->any_current && m->last_now <= 0)
        return max; /* nothing known yet: only the year-9999 bound */
    if (j->any_current && j->current > base)
        base = j->current;
    return base + ahead_rounds(j) < max ? base + ahead_rounds(j) : max;
}

uint64_t merger_round_limit(merger_t *m, const char *job)
{
    uint64_t r = 0;
    mjob_t *j;

    apr_thread_mutex_lock(m->lock);
    if ((j = merger_job_locked(m, job)) != NULL)
        r = round_limit(m, j);
    apr_thread_mutex_unlock(m->lock);
    return r;
}

void merger_set_current_round(merger_t *m, const char *job, uint64_t round)
{
    mjob_t *j;

    apr_thread_mutex_lock(m->lock);
    if ((j = merger_job_locked(m, job)) != NULL && (!j->any_current || round > j->current)) {
        j->current = round;
        j->any_current = 1;
    }
    apr_thread_mutex_unlock(m->lock);
}

/* Checks that need only the header; 0 when the frame may go on. */
static int check_header(const merger_t *m, const mjob_t *j, const frame_header_t *h,
                        abbey_err_t *err)
{
    if (h->start >= h->end) {
        abbey_err_set(err, "frame for %s has an empty range [%llu, %llu)", h->source,
                      (unsigned long long)h->start, (unsigned long long)h->end);
        return -1;
    }
    if (h->round > round_limit(m, j)) {
        abbey_err_set(err,
                      "frame round %llu of job %s is beyond the rounds the primary has started "
                      "(newest %s%llu, this master's clock's %llu; %llu rounds ahead are allowed)",
                      (unsigned long long)h->round, j->job->name, j->any_current ? "" : "unknown ",
                      (unsigned long long)j->current, (unsigned long long)clock_round(m, j),
                      (unsigned long long)ahead_rounds(j));
        return -1;
    }
    return 0;
}

/* One attempt at a frame whose header passed: under the lock, the job and the
 * range verdict; outside it, the decode against the job as it was; under it
 * again, the merge, unless the job's structure changed meanwhile (a config
 * reload): then *retry is set and nothing is counted. */
static merge_result_t accept_once(merger_t *m, const uint8_t *frame, size_t len,
                                  const frame_header_t *h, const frame_ranges_t *fr,
                                  merger_conflict_t *conflict, int *retry, commit_wait_t *w,
                                  abbey_err_t *err)
{
    merge_result_t r = MERGE_REJECTED;
    frame_header_t h2;
    size_t flen = 0;
    const rules_job_t *job;
    uint64_t gen;
    partial_t *s;
    ranges_verdict_t v;
    apr_status_t rv;
    mjob_t *j;

    apr_thread_mutex_lock(m->lock);
    if (!(j = merger_job_locked(m, h->job))) {
        abbey_err_set(err, "frame is for unknown job '%s'", h->job);
        m->unknown.rejected++;
        apr_thread_mutex_unlock(m->lock);
        return MERGE_REJECTED;
    }
    if (check_header(m, j, h, err) != 0) {
        j->c.rejected++;
        apr_thread_mutex_unlock(m->lock);
        return MERGE_REJECTED;
    }
    v = range_verdict(j, fr, conflict);
    if (v == RANGES_NEW && merger_budget_refuse(m, j, err)) { /* before any decoding */
        apr_thread_mutex_unlock(m->lock);
        return MERGE_UNAVAILABLE;
    }
    s = v == RANGES_NEW ? scratch_take(m, j) : NULL;
    if (v != RANGES_NEW)
        wait_newest(m, w);
    job = j->job;
    gen = j->gen;
    apr_thread_mutex_unlock(m->lock);
    if (v != RANGES_NEW)
        return result_of(v);

    rv = frame_decode(frame, len, job, &h2, s, &flen, err);

    apr_thread_mutex_lock(m->lock);
    j = merger_job_locked(m, h->job);
    if (!j || j->gen != gen) {
        partial_destroy(s); /* of the old structure */
        apr_thread_mutex_unlock(m->lock);
        *retry = 1;
        return MERGE_REJECTED;
    }
    if (rv == APR_SUCCESS && check_owned(m, j, s, err) != 0)
        rv = APR_EINVAL;
    if (rv != APR_SUCCESS) {
        j->c.rejected++;
    } else {
        v = range_verdict(j, fr, conflict);
        if (v == RANGES_NEW) {
            r = merge_journaled(m, j, frame, len, h, fr, s, w, err);
        } else {
            wait_newest(m, w);
            r = result_of(v);
        }
    }
    scratch_give(j, s);
    if (r == MERGE_MERGED)
        merger_budget_update(m, j); /* and every job's standing */
    apr_thread_mutex_unlock(m->lock);
    return r;
}

/* Outside the lock: an answer that says this master has a range waits until
 * that range's frame is committed; a failed commit answers MERGE_UNAVAILABLE
 * (the frame may be merged in memory, but is not durable). */
static merge_result_t wait_commit(merger_t *m, const frame_header_t *h, merge_result_t r,
                                  const commit_wait_t *w, abbey_err_t *err)
{
    mjob_t *j;

    if (!w->jn ||
        (r != MERGE_MERGED && r != MERGE_DUPLICATE && r != MERGE_EXPIRED && r != MERGE_CONFLICT))
        return r;
    if (journal_commit(w->jn, w->ticket, err) == APR_SUCCESS)
        return r;
    abbey_err_prefix(err, "the journal cannot make the frame durable");
    apr_thread_mutex_lock(m->lock);
    j = merger_job_locked(m, h->job);
    if (j)
        j->c.unavailable++;
    else
        m->unknown.unavailable++;
    apr_thread_mutex_unlock(m->lock);
    return MERGE_UNAVAILABLE;
}

static merge_result_t accept_frame(merger_t *m, const uint8_t *frame, size_t len,
                                   frame_ranges_t *fr, merger_conflict_t *conflict,
                                   abbey_err_t *err)
{
    frame_header_t h;
    size_t flen = 0;
    apr_status_t rv = frame_peek_ranges(frame, len, &h, fr, &flen, err);

    if (conflict)
        conflict->n = conflict->nclash = 0;
    if (rv == APR_INCOMPLETE)
        abbey_err_prefix(err, "truncated frame");
    if (rv != APR_SUCCESS)
        return rejected(m);
    if (h.flags & FRAME_FLAG_RECORD) {
        abbey_err_set(err, "frame for job '%s' is a state record, not a partial", h.job);
        return rejected(m);
    }
    if (flen != len) {
        abbey_err_set(err, "%zu bytes after the frame (one frame per request)", len - flen);
        return rejected(m);
    }
    if (strcmp(h.master, m->self) != 0) {
        abbey_err_set(err, "frame is addressed to master '%s'; this is master '%s'", h.master,
                      m->self);
        return rejected(m);
    }
    for (int tries = 0; tries < MERGER_DECODE_TRIES; tries++) {
        int retry = 0;
        commit_wait_t w = {NULL, 0};
        merge_result_t r = accept_once(m, frame, len, &h, fr, conflict, &retry, &w, err);
        if (!retry)
            return wait_commit(m, &h, r, &w, err);
        if (conflict)
            conflict->n = conflict->nclash = 0;
    }
    abbey_err_set(err, "job '%s' was reconfigured while the frame was decoded, %d times; retry",
                  h.job, MERGER_DECODE_TRIES);
    return rejected(m);
}

merge_result_t merger_accept(merger_t *m, const uint8_t *frame, size_t len,
                             merger_conflict_t *conflict, abbey_err_t *err)
{
    frame_ranges_t *fr = mem_xmalloc(sizeof *fr); /* (16 KiB and more: not on a stack) */
    merge_result_t r = accept_frame(m, frame, len, fr, conflict, err);

    free(fr);
    apr_thread_mutex_lock(m->lock);
    m->frame_bytes += len;
    if (r == MERGE_MERGED || r == MERGE_DUPLICATE || r == MERGE_EXPIRED)
        m->frame_bytes_accepted += len;
    apr_thread_mutex_unlock(m->lock);
    return r;
}

/* ---- the primary's closed rounds ---------------------------------------- */

void merger_round_closed(merger_t *m, const char *job, const merger_round_t *r)
{
    mjob_t *j;
    mround_t *rd;
    size_t n = 0;

    apr_thread_mutex_lock(m->lock);
    j = merger_job_locked(m, job);
    if (!j || r->round > (uint64_t)(MERGER_MAX_MS / j->round_ms)) {
        apr_thread_mutex_unlock(m->lock);
        return;
    }
    if (!j->any_closed || r->round > j->last_closed) {
        j->last_closed = r->round;
        for (size_t i = 0; i < r->nranges; i++) /* a round never seen closed: owe its ranges */
            merger_owe(j, r->round, r->deadline_ms, &r->ranges[i]);
    }
    j->any_closed = 1;
    rd = merger_round_get(m, j, r->round);
    if (rd && !rd->closed) {
        rd->closed = 1;
        rd->primary_incomplete = r->incomplete != 0;
        rd->deadline_ms = r->deadline_ms;
        rd->ranges = apr_pcalloc(rd->pool, sizeof *rd->ranges * (r->nranges ? r->nranges : 1));
        for (size_t i = 0; i < r->nranges; i++) {
            const merger_range_t *x = &r->ranges[i];
            if (!x->source || x->start >= x->end)
                continue;
            rd->ranges[n].source = apr_pstrdup(rd->pool, x->source);
            rd->ranges[n].start = x->start;
            rd->ranges[n].end = x->end;
            n++;
        }
        rd->nranges = n;
    }
    apr_thread_mutex_unlock(m->lock);
}

uint64_t merger_last_closed_round(merger_t *m, const char *job)
{
    mjob_t *j;
    uint64_t r = 0;
    apr_thread_mutex_lock(m->lock);
    j = merger_job_locked(m, job);
    r = j && j->any_closed ? j->last_closed : 0;
    apr_thread_mutex_unlock(m->lock);
    return r;
}
