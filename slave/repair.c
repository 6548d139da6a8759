/* repair.c - gap repair leases: one byte range read again for one master (see slave.h).
 *
 * A master that finds, after a round closed, that a range the primary
 * recorded never reached it asks the primary, which hands a slave a repair
 * lease: [start, end) of one source instance, for one master. The range is
 * located as a read lease's would be (instance.c for a file: the same file,
 * or the rotated one found by its inode; a glob's task's one file, wherever
 * it was renamed to; the Range reader for a URL), read
 * whole through the job's engine and delivered as one frame to that master
 * alone (deliver.c with only_master, so a 409 and the spool work as for
 * reads); an archive's range is read from its decompressed stream, as
 * its read lease read it (its unended last line included). A range that
 * cannot be read whole (instance gone, now shorter than end, a read error,
 * lines that no longer end at end) is never sent: the lease completes with
 * an error naming it. A failed delivery leaves the lease to expire. The
 * wire format: docs/CLUSTER.md, "Gap repair". */
#include <apr_strings.h>
#include <inttypes.h>
#include <string.h>

#include "deliver.h"
#include "instance.h"
#include "log.h"
#include "slave.h"
#include "source.h"
#include "wirepath.h"

/* A glob's task: its file (l->file, l->file_id), holding at least end bytes
 * (an archive: its read tells), into *read_path. */
static apr_status_t locate_ident(worker_t *w, const slave_lease_t *l, const char **read_path,
                                 abbey_err_t *err)
{
    instance_plan_t plan;
    uint64_t dev, ino;
    apr_status_t rv;

    if (!l->file_id || instance_file_parse(l->file_id, &dev, &ino) != 0) {
        abbey_err_set(err, "the lease's file id '%s' is not dev:inode",
                      l->file_id ? l->file_id : "");
        return APR_EINVAL;
    }
    if ((rv = instance_locate(wirepath_decode(l->file, w->task_pool), dev, ino, l->end,
                              w->task_pool, &plan, err)) != APR_SUCCESS)
        return rv;
    if (plan.kind == INSTANCE_SAME) {
        *read_path = plan.read_path;
        return APR_SUCCESS;
    }
    if (plan.kind == INSTANCE_REFUSED) {
        abbey_err_set(err, "%s", plan.why);
        return APR_EBADPATH;
    }
    abbey_err_set(err, "file %s (%s) %s", l->file_id, l->file,
                  plan.kind == INSTANCE_GONE ? "is gone" : "is shorter than the end");
    return plan.kind == INSTANCE_GONE ? APR_NOTFOUND : APR_EOF;
}

/* A file source: the lease's instance, holding at least end bytes, into
 * *read_path (a descriptor held in the task pool). */
static apr_status_t locate_file(worker_t *w, const slave_lease_t *l, const char **read_path,
                                abbey_err_t *err)
{
    instance_plan_t plan;
    apr_status_t rv;

    if (!l->instance[0]) {
        abbey_err_set(err, "the lease names no instance");
        return APR_EINVAL;
    }
    if (l->file)
        return locate_ident(w, l, read_path, err);
    if ((rv = instance_plan(wirepath_decode(l->source, w->task_pool), l->instance, l->end,
                            w->task_pool, &plan, err)) != APR_SUCCESS)
        return rv;
    switch (plan.kind) {
    case INSTANCE_SAME: /* (its size is >= end: instance_plan was asked from end) */
        break;
    case INSTANCE_ROTATED: /* (an archive's size is its compressed size: its read tells) */
        if (plan.size < l->end && !source_path_is_stream(plan.read_path)) {
            abbey_err_set(err, "instance %s (now %s) is %" PRIu64 " bytes, shorter than the end",
                          l->instance, plan.found, plan.size);
            return APR_EOF;
        }
        log_msg("repair lease %" PRIu64 ": %s: instance %s is now %s", l->id, l->source,
                l->instance, plan.found);
        break;
    case INSTANCE_TRUNCATED:
        abbey_err_set(err, "instance %s is now %" PRIu64 " bytes, shorter than the end",
                      l->instance, plan.next_size);
        return APR_EOF;
    case INSTANCE_REFUSED:
        abbey_err_set(err, "%s", plan.why);
        return APR_EBADPATH;
    default: /* LOST, GONE */
        abbey_err_set(err,
                      "instance %s not found (%s and its directory hold no file of that "
                      "device and inode)",
                      l->instance, l->source);
        return APR_NOTFOUND;
    }
    *read_path = plan.read_path;
    return APR_SUCCESS;
}

/* An http(s) source: [start, end) through the Range reader into p. */
static apr_status_t read_http(worker_t *w, const slave_lease_t *l, engine_t *e, partial_t *p,
                              uint64_t *done, abbey_err_t *err)
{
    source_reader_t *r;
    uint64_t total;
    apr_status_t rv;

    if ((rv = source_open(l->source, l->start, w->task_pool, &r, err)) != APR_SUCCESS)
        return rv;
    source_set_stop(r, w->tasks.io.stop);
    if ((rv = source_total(r, &total, err)) == APR_SUCCESS && total < l->end) {
        abbey_err_set(err, "the server now has %" PRIu64 " bytes, fewer than the end", total);
        rv = APR_EOF;
    }
    if (rv == APR_SUCCESS)
        rv = task_run_reader(e, r, l->start, l->end, 0, &w->tasks.io, p, NULL, done, err);
    source_close(r);
    return rv;
}

/* Read exactly [l->start, l->end) into p; *instance gets the frame's
 * instance name, *read_path what a conflict re-reads. */
static apr_status_t read_range(worker_t *w, const slave_lease_t *l, engine_t *e, partial_t *p,
                               char *instance, const char **read_path, abbey_err_t *err)
{
    uint64_t gen, done = l->start;
    apr_status_t rv;

    if (source_is_http(l->source)) {
        if (instance_http_parse(l->instance, &gen) != 0) {
            abbey_err_set(err, "the lease's instance '%s' is not http:gen", l->instance);
            return APR_EINVAL;
        }
        instance_http_format(gen, instance); /* "" is http:0, as read leases name it */
        *read_path = l->source;
        rv = read_http(w, l, e, p, &done, err);
    } else {
        snprintf(instance, INSTANCE_MAX, "%s", l->instance);
        if ((rv = locate_file(w, l, read_path, err)) == APR_SUCCESS) /* an archive is final */
            rv = task_run_file(e, *read_path, l->start, l->end, source_path_is_stream(*read_path),
                               &w->tasks.io, p, NULL, &done, w->task_pool, err);
    }
    if (rv == APR_SUCCESS && done != l->end) {
        abbey_err_set(err,
                      "the lines read end at %" PRIu64 ", not at the end (changed under "
                      "the same instance?)",
                      done);
        rv = APR_EGENERAL;
    }
    return rv;
}

static int master_index(const rules_config_t *cfg, const char *name)
{
    for (int m = 0; m < cfg->nmasters; m++)
        if (strcmp(cfg->masters[m].name, name) == 0)
            return m;
    return -1;
}

/* Complete l with an error (nothing was sent). */
static void complete_error(worker_t *w, const slave_lease_t *l, const char *why)
{
    const char *msg =
        apr_psprintf(w->task_pool, "%s#%s [%" PRIu64 ", %" PRIu64 ") for master %s: %s", l->source,
                     l->instance, l->start, l->end, l->master, why);
    log_msg("repair lease %" PRIu64 ": error: %s; nothing sent, completed with the error", l->id,
            msg);
    worker_complete(w, l,
                    json_pack("{s:s, s:I, s:b, s:s}", "slave", w->s->opts.name, "lease",
                              (json_int_t)l->id, "repair", 1, "error",
                              wirepath_encode(msg, w->task_pool))); /* JSON text: UTF-8 */
}

void slave_repair_run(worker_t *w, const slave_lease_t *l, const rules_job_t *job)
{
    char instance[INSTANCE_MAX];
    const char *read_path = NULL, *result;
    engine_t *e;
    partial_t *p;
    abbey_err_t err;
    deliver_t d;
    apr_status_t rv;
    int m = master_index(w->cfg->rules, l->master);

    log_msg("repair lease %" PRIu64 ": job %s, round %" PRId64 ": %s#%s [%" PRIu64 ", %" PRIu64
            ") for master %s",
            l->id, l->job, l->round, l->source, l->instance, l->start, l->end, l->master);
    if (m < 0) {
        complete_error(
            w, l,
            apr_psprintf(w->task_pool, "master '%s' is not in config %s", l->master, w->cfg->hash));
        return;
    }
    worker_engine(w, job, &e, &p);
    if ((rv = read_range(w, l, e, p, instance, &read_path, &err)) == APR_EINTR) {
        log_msg("repair lease %" PRIu64 ": %s; left to expire", l->id, err.msg);
        slave_lease_untrack(w->s, l->id);
        return;
    }
    if (rv != APR_SUCCESS) {
        complete_error(w, l, err.msg);
        return;
    }
    worker_deliver_init(w, l, job, e, instance, read_path, &d);
    d.only_master = l->master;
    deliver_range(&d, p, l->start, l->end);
    result = d.results[m] == DELIVER_OK ? "ok" : d.results[m] == DELIVER_SPOOLED ? "spooled" : NULL;
    log_msg("repair lease %" PRIu64 ": %s [%" PRIu64 ", %" PRIu64 ") -> master %s: %s (%" PRIu64
            " lines, %" PRIu64 " bytes, %d part(s) re-sent after a conflict)%s",
            l->id, d.source, l->start, l->end, l->master, result ? result : "failed", p->lines,
            p->bytes, d.parts_resent, result ? "" : "; not completed: the lease will expire");
    if (!result) {
        slave_lease_untrack(w->s, l->id);
        return;
    }
    worker_complete(w, l,
                    json_pack("{s:s, s:I, s:b, s:{s:s}}", "slave", w->s->opts.name, "lease",
                              (json_int_t)l->id, "repair", 1, "deliveries", l->master, result));
}
