/* sched_status.c - the scheduler's face for operators: its part of GET /v1/status
 * (JSON built with jansson) and its Prometheus metrics (see scheduler.h). */
#include "sched_int.h"

#include <inttypes.h>
#include <jansson.h>
#include <string.h>

#include "jsonio.h"

static json_t *task_json(const sched_t *s, const sched_task_t *t)
{
    json_t *o =
        json_pack("{s:i, s:s, s:s, s:s, s:I, s:I, s:I, s:I}", "task", t->id, "kind",
                  t->kind == SCHED_READ ? "read" : "expand", "source", t->source, "instance",
                  t->instance, "offset", (json_int_t)t->offset, "lines", (json_int_t)t->lines,
                  "bad_lines", (json_int_t)t->bad_lines, "bytes", (json_int_t)t->bytes);
    if (t->size >= 0) {
        uint64_t lag = (uint64_t)t->size > t->offset ? (uint64_t)t->size - t->offset : 0;
        json_object_set_new(o, "size", json_integer(t->size));
        json_object_set_new(o, "lag_bytes", json_integer((json_int_t)lag));
    } else {
        json_object_set_new(o, "lag_bytes", json_null());
    }
    json_t *d = json_object();
    for (int m = 0; m < s->cfg->nmasters; m++)
        if (t->deliv[m])
            json_object_set_new(d, s->cfg->masters[m].name, json_string(t->deliv[m]));
    json_object_set_new(o, "deliveries", d);
    if (t->ident) { /* a glob's read task: the file it reads now, and whether it waits */
        json_object_set_new(o, "file", t->file ? json_string(t->file->path) : json_null());
        json_object_set_new(o, "state",
                            json_string(t->finished ? "finished"
                                        : t->paused ? "paused"
                                                    : "reading"));
    }
    return o;
}

static json_t *open_rounds_json(const sched_job_t *job)
{
    json_t *a = json_array();
    for (const sched_rnd_t *r = job->open; r; r = r->next) {
        json_t *pending = json_array();
        for (int i = 0; i < r->ntasks; i++)
            if (r->state[i] == SCHED_DUE)
                json_array_append_new(pending, json_integer(i));
        json_array_append_new(a, json_pack("{s:I, s:I, s:I, s:i, s:i, s:o}", "round",
                                           (json_int_t)r->pub.round, "start_ms",
                                           (json_int_t)r->pub.start_ms, "deadline_ms",
                                           (json_int_t)r->pub.deadline_ms, "due", r->ndue, "done",
                                           r->ndone, "pending", pending));
    }
    return a;
}

static json_t *last_closed_json(const sched_job_t *job)
{
    if (!job->nclosed)
        return json_null();
    const sched_round_t *r =
        &job->closed[(job->closed_first + job->nclosed - 1) % SCHED_ROUNDS_KEPT]->pub;
    json_t *missing = json_array();
    for (int i = 0; i < r->nmissing; i++)
        json_array_append_new(missing, json_integer(r->missing[i]));
    return json_pack("{s:I, s:I, s:I, s:b, s:o}", "round", (json_int_t)r->round, "start_ms",
                     (json_int_t)r->start_ms, "closed_ms", (json_int_t)r->closed_ms, "incomplete",
                     r->incomplete, "missing", missing);
}

static json_t *job_json(const sched_t *s, const sched_job_t *job)
{
    json_t *sources = json_array(), *leases = json_array();
    for (int i = 0; i < job->tasks->nelts; i++) {
        const sched_task_t *t = APR_ARRAY_IDX(job->tasks, i, sched_task_t *);
        json_array_append_new(sources, task_json(s, t));
        if (t->lease)
            json_array_append_new(
                leases, json_pack("{s:I, s:i, s:s, s:I, s:I, s:I}", "id", (json_int_t)t->lease->id,
                                  "task", t->id, "slave", t->lease->slave, "start",
                                  (json_int_t)t->lease->start, "round", (json_int_t)t->lease->round,
                                  "expires_ms", (json_int_t)t->lease->expires_ms));
    }
    json_t *round = job->cur_round == INT64_MIN ? json_null() : json_integer(job->cur_round);
    return json_pack("{s:s, s:o, s:I, s:o, s:i, s:o, s:o, s:o}", "name", job->cfg->name, "round",
                     round, "round_ms", (json_int_t)job->round_ms, "sources", sources, "files",
                     job->nidents, "leases", leases, "open_rounds", open_rounds_json(job),
                     "last_closed", last_closed_json(job));
}

void sched_status_json(sched_t *s, int64_t now_ms, buf_t *out)
{
    json_t *jobs = json_array(), *slaves = json_array();
    apr_thread_mutex_lock(s->lock);
    sched_advance(s, now_ms);
    for (int j = 0; j < s->njobs; j++)
        json_array_append_new(jobs, job_json(s, &s->jobs[j]));
    for (const sched_slave_t *v = s->slaves; v; v = v->hh.next) {
        json_t *labels = json_array();
        for (int i = 0; i < v->nlabels; i++)
            json_array_append_new(labels, json_string(v->labels[i]));
        json_t *vo = json_pack("{s:s, s:o, s:I}", "name", v->name, "labels", labels, "last_seen_ms",
                               (json_int_t)v->last_seen_ms);
        if (v->has_spool) /* the slave's spool backlog, as its last lease request said */
            json_object_set_new(vo, "spool",
                                json_pack("{s:I, s:I, s:I}", "frames", (json_int_t)v->spool_frames,
                                          "bytes", (json_int_t)v->spool_bytes, "oldest_ms",
                                          (json_int_t)v->spool_oldest_ms));
        json_array_append_new(slaves, vo);
    }
    json_t *repairs = sched_repair_json(s);
    apr_thread_mutex_unlock(s->lock);
    sched_notify(s);
    json_t *root = json_pack("{s:o, s:o, s:o}", "jobs", jobs, "slaves", slaves, "repairs", repairs);
    jsonio_dump_buf(root, out);
    json_decref(root);
}

/* A Prometheus label value: backslash, quote and newline escaped. */
static void put_label(buf_t *out, const char *v)
{
    for (; *v; v++) {
        if (*v == '\\' || *v == '"')
            buf_printf(out, "\\%c", *v);
        else if (*v == '\n')
            buf_printf(out, "\\n");
        else
            buf_put_u8(out, (uint8_t)*v);
    }
}

void sched_metrics(sched_t *s, buf_t *out)
{
    apr_thread_mutex_lock(s->lock);
    buf_printf(out,
               "# HELP abbey_leases Leases by state.\n# TYPE abbey_leases gauge\n"
               "abbey_leases{state=\"active\"} %u\n",
               HASH_COUNT(s->leases));
    buf_printf(out,
               "# HELP abbey_leases_total Lease events by result.\n"
               "# TYPE abbey_leases_total counter\n"
               "abbey_leases_total{result=\"granted\"} %" PRIu64 "\n"
               "abbey_leases_total{result=\"completed\"} %" PRIu64 "\n"
               "abbey_leases_total{result=\"expired\"} %" PRIu64 "\n"
               "abbey_leases_total{result=\"renewed\"} %" PRIu64 "\n",
               s->n_granted, s->n_completed, s->n_expired, s->n_renewed);
    buf_printf(out, "# HELP abbey_round_seconds Duration of the last closed round.\n"
                    "# TYPE abbey_round_seconds gauge\n");
    for (int j = 0; j < s->njobs; j++) {
        const sched_job_t *job = &s->jobs[j];
        if (!job->nclosed)
            continue;
        const sched_round_t *r =
            &job->closed[(job->closed_first + job->nclosed - 1) % SCHED_ROUNDS_KEPT]->pub;
        buf_printf(out, "abbey_round_seconds{job=\"");
        put_label(out, job->cfg->name);
        buf_printf(out, "\"} %.3f\n", (double)(r->closed_ms - r->start_ms) / 1000.0);
    }
    buf_printf(out, "# HELP abbey_tasks Tasks per job.\n# TYPE abbey_tasks gauge\n");
    for (int j = 0; j < s->njobs; j++) {
        buf_printf(out, "abbey_tasks{job=\"");
        put_label(out, s->jobs[j].cfg->name);
        buf_printf(out, "\"} %d\n", s->jobs[j].tasks->nelts);
    }
    json_t *rp = sched_repair_json(s);
    buf_printf(out,
               "# HELP abbey_repairs Gap repairs waiting (queued) or being done (leased).\n"
               "# TYPE abbey_repairs gauge\n"
               "abbey_repairs{state=\"queued\"} %" JSON_INTEGER_FORMAT "\n"
               "abbey_repairs{state=\"leased\"} %" JSON_INTEGER_FORMAT "\n"
               "# HELP abbey_repairs_total Gap repairs by result.\n"
               "# TYPE abbey_repairs_total counter\n"
               "abbey_repairs_total{result=\"done\"} %" JSON_INTEGER_FORMAT "\n"
               "abbey_repairs_total{result=\"failed\"} %" JSON_INTEGER_FORMAT "\n",
               json_integer_value(json_object_get(rp, "queued")),
               json_integer_value(json_object_get(rp, "leased")),
               json_integer_value(json_object_get(rp, "done")),
               json_integer_value(json_object_get(rp, "failed")));
    json_decref(rp);
    apr_thread_mutex_unlock(s->lock);
}
