/* sched_config.c - the scheduler adopts a reloaded rules file (sched_set_config,
 * see scheduler.h), and drops the tasks and jobs that left it.
 *
 * Jobs are matched by name, tasks by (kind, path/URL/pattern). A task or job
 * that left the config is marked gone: nothing is leased for it any more, and
 * it is dropped as soon as it holds no active lease (sched_drop_tasks, called
 * from sched_advance and after a completion). Dropping a task removes its slot
 * from job->tasks and from every open round (where it counts as done), so the
 * task numbers after it shift down by one; a gone job leaves s->jobs once its
 * tasks are dropped and its open rounds closed. A glob's read task stays
 * only with its own glob (by pattern), and only while it has a file to
 * read (sched_ident.c); a glob that leaves takes its files along. */
#include "sched_int.h"

#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"

static sched_task_t *task_at(sched_job_t *job, int i)
{
    return APR_ARRAY_IDX(job->tasks, i, sched_task_t *);
}

static void set_gone(sched_t *s, sched_job_t *job, sched_task_t *t, int gone)
{
    if (t->gone == gone)
        return;
    t->gone = gone;
    job->ngone += gone ? 1 : -1;
    s->ngone += gone ? 1 : -1;
}

void sched_task_leave(sched_t *s, sched_job_t *job, sched_task_t *t)
{
    set_gone(s, job, t, 1);
}

/* ---- dropping ---- */

static int droppable(const sched_task_t *t)
{
    return t->gone && !t->lease;
}

void sched_drop_tasks(sched_t *s, sched_job_t *job)
{
    int n = job->tasks->nelts, w = 0;
    for (sched_rnd_t *r = job->open; r; r = r->next) {
        int rw = 0;
        for (int i = 0; i < r->ntasks; i++) {
            if (!droppable(task_at(job, i))) {
                r->state[rw] = r->state[i];
                r->last_range[rw++] = r->last_range[i];
            } else if (r->state[i] == SCHED_DUE) {
                r->ndone++; /* a dropped task counts as done, so the round can close */
            }
        }
        r->ntasks = rw; /* ids below ntasks stay below it, and only they */
    }
    for (int i = 0; i < n; i++) {
        sched_task_t *t = task_at(job, i);
        if (droppable(t)) {
            if (t->kind == SCHED_EXPAND)
                sched_ident_forget(job, t);
            else if (!t->ident)
                HASH_DEL(job->by_path, t);
            t->id = -1;
            job->ngone--;
            s->ngone--;
            if (t->ident)
                sched_ident_drop(s, job, t); /* (to the free list: after its id is -1) */
            continue;
        }
        t->id = w;
        APR_ARRAY_IDX(job->tasks, w++, sched_task_t *) = t;
    }
    job->tasks->nelts = w;
}

void sched_drop_jobs(sched_t *s)
{
    int w = 0, *map = mem_xmalloc(sizeof(int) * (size_t)(s->njobs > 0 ? s->njobs : 1));
    for (int j = 0; j < s->njobs; j++) {
        sched_job_t *job = &s->jobs[j];
        if (job->gone && job->tasks->nelts == 0 && !job->open) {
            for (int i = 0; i < job->nclosed; i++)
                sched_round_unref(job->closed[(job->closed_first + i) % SCHED_ROUNDS_KEPT]);
            HASH_CLEAR(hh, job->by_path);
            HASH_CLEAR(hi, job->by_inst);
            s->ngone--;
            map[j] = -1;
            continue;
        }
        map[j] = w;
        if (w != j)
            s->jobs[w] = *job;
        s->jobs[w].index = w;
        w++;
    }
    if (w != s->njobs) {
        /* leases only point at jobs that stay (a dropped job has no task) */
        for (sched_lrec_t *l = s->leases; l; l = l->hh.next)
            l->job = &s->jobs[map[l->job - s->jobs]];
        memset(&s->jobs[w], 0, sizeof(sched_job_t) * (size_t)(s->njobs - w));
        s->njobs = w;
    }
    free(map);
}

/* ---- adopting ---- */

static sched_job_t *jobs_append(sched_t *s)
{
    if (s->njobs == s->jobs_cap) {
        sched_job_t *old = s->jobs;
        s->jobs_cap *= 2;
        s->jobs = apr_pcalloc(s->pool, sizeof(sched_job_t) * (size_t)s->jobs_cap);
        memcpy(s->jobs, old, sizeof(sched_job_t) * (size_t)s->njobs);
        for (sched_lrec_t *l = s->leases; l; l = l->hh.next)
            l->job = s->jobs + (l->job - old);
    }
    return &s->jobs[s->njobs++];
}

/* Delivery results follow the masters by name into the new config's order. */
static void remap_deliveries(sched_t *s, sched_task_t *t, const rules_config_t *old,
                             const rules_config_t *cfg)
{
    const char **d = apr_pcalloc(s->pool, sizeof(char *) * (size_t)cfg->nmasters);
    for (int m = 0; m < cfg->nmasters; m++) {
        const rules_master_t *om = rules_find_master(old, cfg->masters[m].name);
        d[m] = om ? t->deliv[om->index] : NULL;
    }
    t->deliv = d;
    t->ndeliv = cfg->nmasters;
}

static sched_task_t *expand_task(sched_job_t *job, const char *pattern)
{
    for (int i = 0; i < job->tasks->nelts; i++) {
        sched_task_t *t = task_at(job, i);
        if (t->kind == SCHED_EXPAND && strcmp(t->source, pattern) == 0)
            return t;
    }
    return NULL;
}

/* The glob of rj that keeps read task t, which is no source of rj: the one
 * that listed it, else one whose pattern matches its path as glob(3) would.
 * A glob's read task of one file stays with its own glob only (its file is
 * that glob's), and only while it has a file. */
static const rules_source_t *keeping_glob(const rules_job_t *rj, const sched_task_t *t)
{
    if (t->ident && !t->file)
        return NULL;
    for (int pass = 0; pass < (t->ident ? 1 : 2); pass++)
        for (int k = 0; k < rj->nsources; k++) {
            const rules_source_t *g = &rj->sources[k];
            if (g->kind != RULES_SRC_GLOB)
                continue;
            if (pass == 0 ? t->glob && strcmp(t->glob, g->path) == 0
                          : fnmatch(g->path, t->source, FNM_PATHNAME | FNM_PERIOD) == 0)
                return g;
        }
    return NULL;
}

/* Match job's tasks against rj's sources: keep (with rj's labels), add, or mark gone. */
static void job_adopt(sched_t *s, sched_job_t *job, const rules_job_t *rj)
{
    int n = job->tasks->nelts;
    uint8_t *keep = mem_xcalloc((size_t)n + 1, 1);
    if (job->gone) {
        job->gone = 0;
        s->ngone--;
    }
    job->cfg = rj;
    int64_t round_ms = rj->round / 1000 > 0 ? rj->round / 1000 : 1;
    if (round_ms != job->round_ms && job->cur_round != INT64_MIN) {
        /* the open round keeps its length; the next starts on a boundary of the new one */
        int64_t end = job->next_start_ms;
        job->next_start_ms = (end / round_ms + (end % round_ms > 0)) * round_ms; /* ceiling */
    }
    job->round_ms = round_ms;
    for (int k = 0; k < rj->nsources; k++) {
        const rules_source_t *src = &rj->sources[k];
        sched_kind_t kind = src->kind == RULES_SRC_GLOB ? SCHED_EXPAND : SCHED_READ;
        sched_task_t *t = NULL;
        if (kind == SCHED_READ)
            HASH_FIND_STR(job->by_path, src->path, t);
        else
            t = expand_task(job, src->path);
        if (!t) {
            sched_task_add(s, job, kind, src->path, src->labels, src->nlabels);
        } else if (t->id < n && !keep[t->id]) {
            keep[t->id] = 1;
            t->labels = src->labels;
            t->nlabels = src->nlabels;
        } /* else: the same source twice, the first one counts */
    }
    for (int i = 0; i < n; i++) {
        sched_task_t *t = task_at(job, i);
        const rules_source_t *g;
        if (!keep[i] && t->kind == SCHED_READ && (g = keeping_glob(rj, t))) {
            keep[i] = 1;
            t->glob = g->path;
            t->labels = g->labels;
            t->nlabels = g->nlabels;
        }
        set_gone(s, job, t, !keep[i]);
    }
    free(keep);
}

static void job_leave(sched_t *s, sched_job_t *job)
{
    if (!job->gone) {
        job->gone = 1;
        s->ngone++;
    }
    for (int i = 0; i < job->tasks->nelts; i++)
        set_gone(s, job, task_at(job, i), 1);
}

void sched_set_config(sched_t *s, const rules_config_t *cfg)
{
    apr_thread_mutex_lock(s->lock);
    const rules_config_t *old = s->cfg;
    int nold = s->njobs;
    for (int j = 0; j < nold; j++)
        for (int i = 0; i < s->jobs[j].tasks->nelts; i++)
            remap_deliveries(s, task_at(&s->jobs[j], i), old, cfg);
    s->cfg = cfg; /* new tasks get deliveries for the new masters */
    uint8_t *seen = mem_xcalloc((size_t)nold + 1, 1);
    for (int k = 0; k < cfg->njobs; k++) {
        const rules_job_t *rj = &cfg->jobs[k];
        int j = 0;
        while (j < nold && strcmp(s->jobs[j].cfg->name, rj->name) != 0)
            j++;
        if (j < nold && !seen[j]) {
            seen[j] = 1;
            job_adopt(s, &s->jobs[j], rj);
        } else if (j == nold) {
            sched_job_init(s, jobs_append(s), rj, s->njobs - 1);
        }
    }
    for (int j = 0; j < nold; j++)
        if (!seen[j])
            job_leave(s, &s->jobs[j]);
    free(seen);
    for (int j = 0; j < s->njobs; j++)
        if (s->jobs[j].ngone)
            sched_drop_tasks(s, &s->jobs[j]);
    snprintf(s->announced, sizeof s->announced, "%s", cfg->hash_hex);
    apr_thread_mutex_unlock(s->lock);
}
