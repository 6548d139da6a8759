/* sched_repair.c - the primary's repair leases: ranges a master never got, read again.
 *
 * A repair (sched_repair, scheduler.h) names a job, a source instance, a
 * byte range, its round and the one master that lacks it. Repairs wait in a
 * FIFO list (malloc'd, at most SCHED_REPAIR_MAX at a time); sched_lease
 * grants them first, to slaves with the task's labels, with lease ids from the
 * scheduler's counter; a completion with "repair" ends one (done or failed),
 * an expired lease puts it back in the queue. Everything here runs with the
 * scheduler's lock held (the sched_repair_* hooks in sched_int.h) except
 * sched_repair itself, which takes it. Lease answers point only at config and
 * task memory, never at a repair's own (freed when it ends). */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "log.h"
#include "mem.h"
#include "sched_int.h"

#define SCHED_REPAIR_MAX 10000 /* queued or leased at a time */

struct sched_repair_t {
    struct sched_repair_t *next;
    uint64_t lease; /* 0: queued */
    char *slave;    /* the lease holder */
    int64_t expires_ms;
    const rules_master_t *master; /* config memory */
    char *job;
    char *source; /* "<path>#<instance>" */
    size_t path_len;
    uint64_t start, end;
    int64_t round;
};

static void repair_free(sched_repair_t *r)
{
    free(r->slave);
    free(r->job);
    free(r->source);
    free(r);
}

/* Unlink and free the repair *pp points at. */
static void repair_drop(sched_t *s, sched_repair_t **pp)
{
    sched_repair_t *r = *pp;
    *pp = r->next;
    if (s->repairs_tail == &r->next)
        s->repairs_tail = pp;
    s->nrepairs--;
    repair_free(r);
}

void sched_repair_free_all(sched_t *s)
{
    while (s->repairs)
        repair_drop(s, &s->repairs);
}

/* The read task a repair reads, or NULL (job or task gone, or a glob's task
 * whose file is forgotten). */
static sched_task_t *repair_task(sched_t *s, const sched_repair_t *r, sched_job_t **job)
{
    char path[SCHED_PATH_MAX];
    sched_task_t *t;
    if (!(*job = sched_job_find(s, r->job)) || r->path_len >= sizeof path)
        return NULL;
    memcpy(path, r->source, r->path_len);
    path[r->path_len] = '\0';
    t = sched_read_task(*job, path, r->source + r->path_len + 1);
    return t && t->ident && !t->file ? NULL : t;
}

/* 1 when current ("dev:ino:gen") is the same file as wanted at a later
 * generation (a truncation): the bytes wanted are no longer there. */
static int replaced_generation(const char *current, const char *wanted)
{
    const char *a = strrchr(current, ':'), *b = strrchr(wanted, ':');
    return a && b && a - current == b - wanted &&
           !strncmp(current, wanted, (size_t)(a - current)) && strcmp(a, b) != 0;
}

/* Why a repair request is malformed, or NULL when it is not. */
static const char *repair_malformed(const char *job, const char *master, const char *source,
                                    const char *hash, uint64_t start, uint64_t end)
{
    if (!job)
        return "no job named";
    if (!master)
        return "no master named";
    if (!source || !hash || hash == source || !hash[1])
        return "the source is not \"<path>#<instance>\"";
    if (start >= end)
        return "start must be below end";
    if (end > (uint64_t)INT64_MAX)
        return "end is out of range (above 2^63 - 1)"; /* lease answers carry it as a JSON int */
    if (strlen(source) >= FRAME_SOURCE_MAX || strlen(hash + 1) >= SCHED_INSTANCE_MAX)
        return "the source or its instance is too long";
    return NULL;
}

apr_status_t sched_repair(sched_t *s, const char *job, const char *master, const char *source,
                          uint64_t start, uint64_t end, int64_t round, abbey_err_t *err)
{
    const char *hash = source ? strrchr(source, '#') : NULL;
    const char *why = repair_malformed(job, master, source, hash, start, end);
    const rules_master_t *m;
    sched_repair_t *r, **pp;
    sched_job_t *j;
    apr_status_t rv = APR_SUCCESS;

    if (why) {
        abbey_err_set(err, "repair of '%s' [%" PRIu64 ", %" PRIu64 "): %s", source ? source : "",
                      start, end, why);
        return APR_BADARG;
    }
    apr_thread_mutex_lock(s->lock);
    m = rules_find_master(s->cfg, master);
    for (pp = &s->repairs; *pp; pp = &(*pp)->next) {
        r = *pp;
        if (r->master == m && r->start == start && r->end == end && !strcmp(r->job, job) &&
            !strcmp(r->source, source))
            break; /* already queued or leased */
    }
    if (!m) {
        abbey_err_set(err, "repair of %s for unknown master '%s'", source, master);
        rv = APR_NOTFOUND;
    } else if (!sched_job_find(s, job)) {
        abbey_err_set(err, "repair of %s: unknown job '%s'", source, job);
        rv = APR_NOTFOUND;
    } else if (!*pp && s->nrepairs >= SCHED_REPAIR_MAX) {
        abbey_err_set(err, "%d repairs are waiting already; asked again later", s->nrepairs);
        rv = APR_EAGAIN;
    } else if (!*pp) {
        r = mem_xcalloc(1, sizeof *r);
        r->master = m;
        r->job = mem_xstrdup(job);
        r->source = mem_xstrdup(source);
        r->path_len = (size_t)(hash - source);
        r->start = start;
        r->end = end;
        r->round = round;
        sched_task_t *t = repair_task(s, r, &j);
        if (!t) {
            abbey_err_set(err, "repair of %s: job '%s' has no source %.*s", source, job,
                          (int)r->path_len, source);
            repair_free(r);
            rv = APR_NOTFOUND;
        } else if (replaced_generation(t->instance, hash + 1)) {
            abbey_err_set(err,
                          "repair of %s: the file was truncated since (now instance %s): "
                          "those bytes are gone",
                          source, t->instance);
            repair_free(r);
            rv = APR_NOTFOUND;
        } else {
            *s->repairs_tail = r;
            s->repairs_tail = &r->next;
            s->nrepairs++;
            s->n_repairs_queued++;
        }
    }
    apr_thread_mutex_unlock(s->lock);
    return rv;
}

int sched_repair_grant(sched_t *s, const char *slave, const char *const *labels, int nlabels,
                       int max, int64_t now_ms, sched_lease_t *out)
{
    int n = 0;
    for (sched_repair_t **pp = &s->repairs; *pp && n < max;) {
        sched_repair_t *r = *pp;
        sched_job_t *job;
        sched_task_t *t;
        if (r->lease) {
            pp = &r->next;
            continue;
        }
        if (!(t = repair_task(s, r, &job))) {
            log_msg("repair of %s [%" PRIu64 ", %" PRIu64 ") for %s dropped: the source left "
                    "job %s",
                    r->source, r->start, r->end, r->master->name, r->job);
            repair_drop(s, pp);
            continue;
        }
        pp = &r->next;
        if (!sched_labels_fit(t, labels, nlabels))
            continue;
        r->lease = s->next_lease++;
        r->slave = mem_xstrdup(slave);
        r->expires_ms = now_ms + s->opts.lease_ms;
        s->n_granted++;
        sched_lease_t *l = &out[n++];
        memset(l, 0, sizeof *l);
        l->id = r->lease;
        l->job = job->cfg->name;
        l->kind = SCHED_REPAIR;
        l->task = t->id;
        l->source = t->source;
        snprintf(l->instance, sizeof l->instance, "%s", r->source + r->path_len + 1);
        l->start = r->start;
        l->end = r->end;
        l->cap = r->end - r->start;
        l->round = r->round;
        l->master = r->master->name;
        l->expires_ms = r->expires_ms;
        if (t->ident)
            sched_ident_lease(t, l); /* its file, wherever it is now */
    }
    return n;
}

/* The repair leased as id to slave, as a pointer to its link; NULL when none. */
static sched_repair_t **repair_leased(sched_t *s, uint64_t id, const char *slave)
{
    for (sched_repair_t **pp = &s->repairs; *pp; pp = &(*pp)->next)
        if ((*pp)->lease == id && id)
            return slave && strcmp((*pp)->slave, slave) != 0 ? NULL : pp;
    return NULL;
}

int sched_repair_renew(sched_t *s, const char *slave, uint64_t id, int64_t now_ms,
                       int64_t *expires_ms)
{
    sched_repair_t **pp = repair_leased(s, id, slave);
    if (!pp)
        return -1;
    (*pp)->expires_ms = now_ms + s->opts.lease_ms;
    if (expires_ms)
        *expires_ms = (*pp)->expires_ms;
    s->n_renewed++;
    return 0;
}

apr_status_t sched_repair_complete(sched_t *s, const sched_completion_t *c, abbey_err_t *err)
{
    sched_repair_t **pp = repair_leased(s, c->lease, c->slave), *r;
    if (!pp) {
        abbey_err_set(err, "repair lease %" PRIu64 " is not yours (expired?)", c->lease);
        return APR_EINVAL;
    }
    r = *pp;
    if (c->error) {
        log_msg("repair of %s [%" PRIu64 ", %" PRIu64 ") for master %s FAILED at slave %s: %s",
                r->source, r->start, r->end, r->master->name, c->slave, c->error);
        s->n_repairs_failed++;
    } else {
        log_msg("repair of %s [%" PRIu64 ", %" PRIu64 ") for master %s done by slave %s", r->source,
                r->start, r->end, r->master->name, c->slave);
        s->n_repairs_done++;
    }
    s->n_completed++;
    repair_drop(s, pp);
    return APR_SUCCESS;
}

void sched_repair_expire(sched_t *s, int64_t now_ms)
{
    for (sched_repair_t *r = s->repairs; r; r = r->next)
        if (r->lease && r->expires_ms <= now_ms) {
            r->lease = 0;
            free(r->slave);
            r->slave = NULL;
            s->n_expired++;
        }
}

json_t *sched_repair_json(sched_t *s)
{
    int leased = 0;
    for (sched_repair_t *r = s->repairs; r; r = r->next)
        leased += r->lease != 0;
    return json_pack("{s:i, s:i, s:I, s:I, s:I}", "queued", s->nrepairs - leased, "leased", leased,
                     "asked", (json_int_t)s->n_repairs_queued, "done",
                     (json_int_t)s->n_repairs_done, "failed", (json_int_t)s->n_repairs_failed);
}
