/* merger_export.c - the merger's exports: rounds, final period reports, the latest files.
 *
 * Exports are rendered under the state lock (the tables must not change
 * while export_render reads them) into queued writes; merger_tick then
 * writes the queue to disk outside the state lock, under the export lock,
 * in the order the renders were made (so a later render of a file always
 * lands last). Each report's rows are collected once per export and serve
 * its file, its Prometheus text (merger_prom.c, latest files only) and, with
 * history on, the export's batch for the history database (merger_history.c),
 * queued after the export's files. merger_report renders on demand for
 * GET /v1/reports. */
#include "merger_int.h"

#include <apr_file_io.h>
#include <apr_strings.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "export.h"
#include "history.h"
#include "log.h"
#include "mem.h"

/* ---- helpers ------------------------------------------------------------ */

const char *merger_stamp(int64_t ms, apr_pool_t *pool)
{
    int64_t s = ms >= 0 ? ms / 1000 : (ms - 999) / 1000, frac = ms - s * 1000;
    time_t t = (time_t)s;
    struct tm tm;
    char text[40];

    gmtime_r(&t, &tm);
    strftime(text, sizeof text, "%Y%m%dT%H%M%S", &tm);
    if (frac)
        return apr_psprintf(pool, "%s.%03dZ", text, (int)frac);
    return apr_pstrcat(pool, text, "Z", NULL);
}

const rules_report_t *merger_owned_report(const merger_t *m, const mjob_t *j, const char *name)
{
    for (int i = 0; i < j->job->nreports; i++) {
        const rules_report_t *r = &j->job->reports[i];
        if (strcmp(r->name, name) == 0)
            return j->owned[r->entry->group->index] ? r : NULL;
    }
    return NULL;
}

/* Free writes still queued (a pool cleanup: a merger destroyed between
 * merger_tick calls). */
apr_status_t merger_queue_free(void *data)
{
    merger_t *m = data;
    while (m->queue) {
        mwrite_t *w = m->queue;
        m->queue = w->next;
        free(w->path);
        free(w->data);
        history_batch_free(w->batch);
        free(w);
    }
    m->queue_tail = &m->queue;
    return APR_SUCCESS;
}

static void queue_push(merger_t *m, const char *path, const void *data, size_t len, int remove)
{
    mwrite_t *w = mem_xcalloc(1, sizeof *w);
    w->path = mem_xstrdup(path);
    if (!remove) {
        w->data = mem_xmalloc(len);
        memcpy(w->data, data, len);
        w->len = len;
    }
    *m->queue_tail = w;
    m->queue_tail = &w->next;
}

/* Render rows (export_rows of report r) and queue the file at path, and at
 * latest too when it is not NULL (then r's metrics are these rows). */
static void queue_rows(merger_t *m, mjob_t *j, const rules_report_t *r, const export_rows_t *rows,
                       const char *path, const char *latest, apr_pool_t *tp)
{
    buf_t b;
    buf_init(&b);
    export_rows_render(j->job, r, rows, &b);
    if (path)
        queue_push(m, path, b.data, b.len, 0);
    if (latest) {
        queue_push(m, latest, b.data, b.len, 0);
        merger_prom_keep(m, j->job, r, rows, tp);
    }
    buf_free(&b);
}

/* The missing parts of rd's closed ranges: appended to text (may be NULL)
 * as "<source> <start> <end>" lines, at most MERGER_MARKER_MAX; returns how many. */
static size_t round_missing_text(const mjob_t *j, const mround_t *rd, buf_t *text)
{
    size_t n = 0;
    for (size_t i = 0; i < rd->nranges; i++) {
        const merger_range_t *x = &rd->ranges[i];
        const ranges_t *rs = merger_source_ranges(j, x->source);
        uint64_t out[16][2], at = x->start;
        size_t k;
        if (!rs) {
            out[0][0] = x->start;
            out[0][1] = x->end;
            k = 1;
        } else {
            k = ranges_missing(rs, at, x->end, out, 16);
        }
        for (;;) {
            for (size_t g = 0; g < k; g++, n++)
                if (text && n < MERGER_MARKER_MAX)
                    buf_printf(text, "%s %llu %llu\n", x->source, (unsigned long long)out[g][0],
                               (unsigned long long)out[g][1]);
            if (k < 16 || out[15][1] >= x->end)
                break;
            at = out[15][1]; /* the start of a merged range: no gap is counted twice */
            k = ranges_missing(rs, at, x->end, out, 16);
        }
    }
    if (text && n > MERGER_MARKER_MAX)
        buf_printf(text, "... and %zu more missing ranges\n", n - MERGER_MARKER_MAX);
    return n;
}

size_t merger_round_missing(const mjob_t *j, const mround_t *rd)
{
    return round_missing_text(j, rd, NULL);
}

static int owns_reports(const mjob_t *j)
{
    for (int i = 0; i < j->job->nreports; i++)
        if (j->owned[j->job->reports[i].entry->group->index])
            return 1;
    return 0;
}

/* ---- round and period exports ------------------------------------------- */

static void marker_text(const mjob_t *j, const mround_t *rd, buf_t *text, const char *stamp,
                        size_t missing)
{
    buf_printf(text, "round %llu of job %s (start %s) was exported incomplete:\n",
               (unsigned long long)rd->r, j->job->name, stamp);
    if (!rd->closed)
        buf_printf(text, "the round was not closed at the primary when it was exported\n");
    if (rd->primary_incomplete)
        buf_printf(text, "the primary closed the round at its deadline with tasks not done\n");
    if (missing)
        buf_printf(text,
                   "%zu ranges listed by the primary are not merged here "
                   "(source start end):\n",
                   missing);
}

void merger_export_round(merger_t *m, mjob_t *j, mround_t *rd, apr_pool_t *tp)
{
    const char *stamp = merger_stamp((int64_t)rd->r * j->round_ms, tp);
    const char *jdir = apr_pstrcat(tp, m->dir, "/", j->job->name, NULL);
    const char *hdir = apr_pstrcat(tp, jdir, "/history/", stamp, NULL);
    int64_t pid = merger_period_of(j, rd->r);
    mperiod_t *p = merger_period_get(m, j, pid); /* empty when no frame came yet */
    struct history_batch_t *hb;
    buf_t gaps, text;
    size_t missing;
    int incomplete, latest_round, latest_period, render_period;

    buf_init(&gaps);
    buf_init(&text);
    missing = round_missing_text(j, rd, &gaps);
    incomplete = !rd->closed || rd->primary_incomplete || missing > 0;
    if (rd->exported)
        j->rounds_amended++;
    else
        j->rounds_exported++;
    if (incomplete)
        j->rounds_incomplete++;
    if (!j->any_exported || rd->r > j->last_exported)
        j->last_exported = rd->r;
    j->any_exported = 1;
    latest_round = rd->r == j->last_exported;
    latest_period = pid == merger_period_of(j, j->last_exported);

    /* the running totals are re-rendered at most every m->period_every_ms */
    render_period = !m->period_every_ms || !j->period_render_ms ||
                    m->last_now - j->period_render_ms >= m->period_every_ms;
    if (render_period && latest_period) {
        j->period_render_ms = m->last_now;
        j->period_stale = j->period_changed = 0;
    } else if (latest_period && j->period_changed) {
        j->period_stale = 1; /* unchanged totals need no new rendering */
    }
    hb = owns_reports(j) ? merger_history_batch(m, (int64_t)rd->r * j->round_ms,
                                                (int64_t)(rd->r + 1) * j->round_ms, incomplete, 0)
                         : NULL;
    for (int i = 0; owns_reports(j) && i < j->job->nreports; i++) {
        const rules_report_t *r = &j->job->reports[i];
        int round = r->scope == RULES_SCOPE_ROUND, idx = r->entry->index;
        const ptable_t *t =
            round ? (rd->p ? rd->p->tables[idx] : NULL) : (p ? p->totals->tables[idx] : NULL);
        const export_rows_t *rows;
        if (!j->owned[r->entry->group->index] || !t || (!round && !render_period))
            continue;
        rows = export_rows(r, t, tp);
        queue_rows(m, j, r, rows, apr_psprintf(tp, "%s/%s.%s", hdir, r->name, export_ext(r)),
                   (round ? latest_round : latest_period)
                       ? apr_psprintf(tp, "%s/%s.%s", jdir, r->name, export_ext(r))
                       : NULL,
                   tp);
        if (hb)
            history_batch_add(hb, j->job, r, rows);
    }
    if (owns_reports(j) && incomplete) {
        marker_text(j, rd, &text, stamp, missing);
        buf_put(&text, gaps.data, gaps.len);
        queue_push(m, apr_pstrcat(tp, hdir, "/INCOMPLETE", NULL), text.data, text.len, 0);
    } else if (owns_reports(j) && rd->exported && rd->export_incomplete) {
        queue_push(m, apr_pstrcat(tp, hdir, "/INCOMPLETE", NULL), NULL, 0, 1);
    }
    merger_history_queue(m, hb);
    buf_free(&gaps);
    buf_free(&text);
    rd->exported = 1;
    rd->export_incomplete = incomplete;
    rd->export_missing = missing;
    rd->dirty = 0;
    if (owns_reports(j))
        m->queued_exports++;
}

/* 1 when a kept round of period p was last exported incomplete. */
static int period_incomplete(const mjob_t *j, const mperiod_t *p)
{
    for (int i = 0; i < j->nrounds; i++)
        if (j->rounds[i]->exported && j->rounds[i]->export_incomplete &&
            merger_period_of(j, j->rounds[i]->r) == p->id)
            return 1;
    return 0;
}

void merger_export_period(merger_t *m, mjob_t *j, mperiod_t *p, apr_pool_t *tp)
{
    const char *dir;
    int64_t start, end;
    struct history_batch_t *hb;
    int n = 0;
    /* named by the period's start, or by when this structure started counting
     * when that is later (a config change mid-period; reset: never); it ends
     * at the next period's start, or now (reset: never) */
    if (j->period_ms) {
        start = merger_period_start_ms(j, p->id);
        if (j->changed_ms > start)
            start = j->changed_ms;
        end = merger_period_start_ms(j, p->id + 1);
    } else {
        start = j->since_ms;
        end = m->last_now > start ? m->last_now : start;
    }
    dir = apr_pstrcat(tp, m->dir, "/", j->job->name, "/period/", merger_stamp(start, tp), NULL);
    hb = merger_history_batch(m, start, end, period_incomplete(j, p), 1);
    for (int i = 0; i < j->job->nreports; i++) {
        const rules_report_t *r = &j->job->reports[i];
        const export_rows_t *rows;
        if (!j->owned[r->entry->group->index] || r->scope != RULES_SCOPE_PERIOD)
            continue;
        rows = export_rows(r, p->totals->tables[r->entry->index], tp);
        queue_rows(m, j, r, rows, apr_psprintf(tp, "%s/%s.%s", dir, r->name, export_ext(r)), NULL,
                   tp);
        if (hb)
            history_batch_add(hb, j->job, r, rows);
        n++;
    }
    merger_history_queue(m, hb);
    if (n)
        m->queued_exports++;
    p->final_exported = 1;
    p->dirty = 0;
}

/* ---- the tick ----------------------------------------------------------- */

/* The latest period-scope files from the current period's totals (a
 * throttled round export left them stale). */
static void render_latest_period(merger_t *m, mjob_t *j, int64_t now_ms, apr_pool_t *tp)
{
    const char *jdir = apr_pstrcat(tp, m->dir, "/", j->job->name, NULL);
    mperiod_t *p = j->nperiods ? &j->periods[j->nperiods - 1] : NULL;
    int n = 0;
    j->period_stale = j->period_changed = 0;
    j->period_render_ms = now_ms;
    for (int i = 0; p && i < j->job->nreports; i++) {
        const rules_report_t *r = &j->job->reports[i];
        if (!j->owned[r->entry->group->index] || r->scope != RULES_SCOPE_PERIOD)
            continue;
        queue_rows(m, j, r, export_rows(r, p->totals->tables[r->entry->index], tp), NULL,
                   apr_psprintf(tp, "%s/%s.%s", jdir, r->name, export_ext(r)), tp);
        n++;
    }
    if (n)
        m->queued_exports++;
}

static void tick_job(merger_t *m, mjob_t *j, int64_t now_ms, apr_pool_t *tp)
{
    int64_t latest;
    for (int i = 0; i < j->nrounds; i++) {
        mround_t *rd = j->rounds[i];
        int due;
        if (!rd->exported)
            due = rd->closed && ((!rd->primary_incomplete && merger_round_missing(j, rd) == 0) ||
                                 now_ms >= rd->deadline_ms);
        else
            due = rd->dirty || (rd->export_incomplete && rd->export_missing > 0 &&
                                merger_round_missing(j, rd) != rd->export_missing);
        if (due)
            merger_export_round(m, j, rd, tp);
    }
    if (j->period_stale && now_ms - j->period_render_ms >= m->period_every_ms)
        render_latest_period(m, j, now_ms, tp);
    if (!j->any_exported || !j->period_ms)
        return;
    latest = merger_period_of(j, j->last_exported);
    for (int i = 0; i < j->nperiods; i++) {
        mperiod_t *p = &j->periods[i];
        if (p->id < latest && (!p->final_exported || p->dirty))
            merger_export_period(m, j, p, tp);
    }
}

/* Write (or remove) every queued file, and write the history batches;
 * returns how many failed. */
static int flush(merger_t *m, mwrite_t *w, int64_t now_ms)
{
    apr_pool_t *wp;
    int failed = 0;
    if (apr_pool_create_unmanaged_ex(&wp, NULL, NULL) != APR_SUCCESS)
        mem_oom("an APR pool", 0);
    while (w) {
        mwrite_t *next = w->next;
        abbey_err_t err;
        apr_status_t rv;
        if (w->batch) {
            failed += merger_history_write(m, w->batch, now_ms) != 0;
            history_batch_free(w->batch);
            free(w);
            w = next;
            continue;
        }
        if (w->data) {
            rv = export_write_file(w->path, w->data, w->len, wp, &err);
        } else {
            rv = apr_file_remove(w->path, wp);
            if (APR_STATUS_IS_ENOENT(rv))
                rv = APR_SUCCESS;
            else if (rv != APR_SUCCESS)
                abbey_err_set(&err, "%s: cannot remove", w->path);
        }
        if (rv != APR_SUCCESS) {
            log_msg("export: %s", err.msg);
            failed++;
        }
        free(w->path);
        free(w->data);
        free(w);
        w = next;
        apr_pool_clear(wp);
    }
    apr_pool_destroy(wp);
    return failed;
}

int merger_tick(merger_t *m, int64_t now_ms)
{
    apr_pool_t *tp;
    mwrite_t *q;
    int n, failed;

    apr_thread_mutex_lock(m->export_lock);
    apr_thread_mutex_lock(m->lock);
    m->last_now = now_ms;
    tp = mem_xpool(m->pool);
    for (int i = 0; i < m->cfg->njobs; i++) {
        tick_job(m, &m->jobs[i], now_ms, tp);
        apr_pool_clear(tp);
    }
    apr_pool_destroy(tp);
    merger_budget_update(m, NULL); /* rounds and periods may have gone */
    q = m->queue;
    m->queue = NULL;
    m->queue_tail = &m->queue;
    n = m->queued_exports;
    m->queued_exports = 0;
    apr_thread_mutex_unlock(m->lock);

    failed = flush(m, q, now_ms);
    if (failed) {
        apr_thread_mutex_lock(m->lock);
        m->export_errors += (uint64_t)failed;
        apr_thread_mutex_unlock(m->lock);
    }
    apr_thread_mutex_unlock(m->export_lock);
    return n;
}

void merger_set_period_interval(merger_t *m, int64_t ms)
{
    apr_thread_mutex_lock(m->lock);
    m->period_every_ms = ms > 0 ? ms : 0;
    apr_thread_mutex_unlock(m->lock);
}

int merger_flush(merger_t *m, int64_t now_ms)
{
    int64_t every;
    int n;
    apr_thread_mutex_lock(m->lock);
    every = m->period_every_ms;
    m->period_every_ms = 0; /* stale reports are due at once */
    for (int i = 0; i < m->cfg->njobs; i++)
        if (m->jobs[i].period_changed) /* frames merged since the files were written */
            m->jobs[i].period_stale = 1;
    apr_thread_mutex_unlock(m->lock);
    n = merger_tick(m, now_ms);
    apr_thread_mutex_lock(m->lock);
    m->period_every_ms = every;
    apr_thread_mutex_unlock(m->lock);
    return n;
}

/* ---- on demand ---------------------------------------------------------- */

static const ptable_t *report_table(mjob_t *j, const rules_report_t *r, apr_pool_t *tp)
{
    int idx = r->entry->index;
    if (r->scope == RULES_SCOPE_PERIOD && j->nperiods > 0)
        return j->periods[j->nperiods - 1].totals->tables[idx];
    if (r->scope == RULES_SCOPE_ROUND && j->any_exported)
        for (int i = 0; i < j->nrounds; i++)
            if (j->rounds[i]->r == j->last_exported && j->rounds[i]->p)
                return j->rounds[i]->p->tables[idx];
    return partial_table_create(r->entry, tp);
}

int merger_report_fmt(merger_t *m, const char *job, const char *report, const char *format,
                      buf_t *out, rules_report_format_t *fmt_out)
{
    mjob_t *j = merger_job(m, job);
    const rules_report_t *r = NULL;
    rules_report_t shown;
    apr_pool_t *tp;

    for (int i = 0; j && report && i < j->job->nreports; i++)
        if (strcmp(j->job->reports[i].name, report) == 0)
            r = &j->job->reports[i];
    if (!r) {
        buf_printf(out, "no report '%s' in job '%s'", report ? report : "",
                   j     ? j->job->name
                   : job ? job
                         : "");
        return 404;
    }
    if (!j->owned[r->entry->group->index]) {
        buf_printf(out, "report '%s' of job '%s' is exported by master '%s', not '%s'", r->name,
                   j->job->name, m->cfg->masters[r->entry->group->master].name, m->self);
        return 404;
    }
    shown = *r;
    if (format && strcmp(format, "csv") == 0)
        shown.format = RULES_REPORT_CSV;
    else if (format && strcmp(format, "json") == 0)
        shown.format = RULES_REPORT_JSON;
    else if (format) {
        buf_printf(out, "format '%s' is not csv or json", format);
        return 400;
    }
    if (fmt_out)
        *fmt_out = shown.format;
    apr_thread_mutex_lock(m->lock);
    tp = mem_xpool(m->pool);
    export_render(j->job, &shown, report_table(j, r, tp), out, tp);
    apr_pool_destroy(tp);
    apr_thread_mutex_unlock(m->lock);
    return 200;
}

int merger_report(merger_t *m, const char *job, const char *report, const char *format, buf_t *out)
{
    return merger_report_fmt(m, job, report, format, out, NULL);
}
