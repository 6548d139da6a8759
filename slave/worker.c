/* worker.c - running a lease: read, deliver, complete; and the one-lease loop of
 * --single-leases (see slave.h).
 *
 * A worker thread runs what the holder (hold.c) queues (combine.c: its sticky
 * leases' checks that need a read, several of one job and round in one frame,
 * and one-shot leases, repairs); a sticky lease's completion goes back to the
 * holder, which reports it in a batch.
 * A read lease of a file asks instance.c what to read (the same file, the
 * old file of a rotation, or nothing), reads whole lines of [start,
 * min(size, start + cap)) through the job's engine into the worker's
 * partial, hands the range to deliver.c, and completes the lease with what
 * docs/CLUSTER.md lists. An archive (.gz, .zst) is read the same way in
 * decompressed offsets, up to the cap or the end of its stream; its damaged
 * data ends the range ("error" says why). An http(s) source is read the
 * same way through a reader that asks the server for ranges. A glob's
 * read lease names its one file ("file": docs/CLUSTER.md "Globs over a
 * rotating series"): that file is read, found by its inode when renamed,
 * and never a next instance. An expand lease is expand.c's, a repair
 * lease repair.c's. A master that will
 * not take its frame gets it through the spool ("spooled" in the
 * completion's deliveries). Each lease request carries the spool's backlog.
 * A path that is not a regular file (a FIFO...) is completed at once with
 * nothing read and the reason in "error". With --memory-limit, a read whose
 * partials bring the slave near its budget is cut after a block (task.h):
 * the lines read so far are delivered and completed, at_end false, and the
 * rest is leased again at once: more, smaller frames, nothing lost. Once the
 * slave is stopping, a read ends at its next block (a URL's transfer within a
 * second): the lines read so far are delivered and completed, at_end false.
 * Any other failure before the completion leaves the lease to expire: the range
 * is then read again by whoever takes the task, and masters answer
 * duplicate for what they already have. The bad lines of a read lease go to
 * the job's rejects writer (common/rejects.h) as the lease's round; the
 * parts of a range read again for a master that lacks them (deliver.c) and
 * repair leases are not written again. */
#include <apr_allocator.h>
#include <apr_strings.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "budget.h"
#include "deliver.h"
#include "instance.h"
#include "jsonio.h"
#include "log.h"
#include "mem.h"
#include "rejects.h"
#include "slave.h"
#include "source.h"
#include "spool.h"
#include "wirepath.h"
#include "worker_int.h"

worker_t *worker_create(slave_t *s, int index)
{
    apr_allocator_t *a;
    apr_pool_t *pool;
    worker_t *w;

    apr_allocator_create(&a);
    apr_pool_create_ex(&pool, NULL, NULL, a);
    apr_allocator_owner_set(a, pool);
    w = apr_pcalloc(pool, sizeof *w);
    w->s = s;
    w->index = index;
    w->pool = pool;
    w->task_pool = mem_xpool(pool);
    w->engine_pool = mem_xpool(pool);
    w->hc = hclient_create(s->opts.token, s->opts.connect_ms, s->opts.timeout_ms, pool);
    w->tasks.io.stop = &s->stop; /* the buffer comes with a config (use_config) */
    buf_init(&w->frame);
    buf_init(&w->body);
    buf_init(&w->resp.body);
    return w;
}

void worker_destroy(worker_t *w)
{
    if (!w)
        return;
    apr_pool_clear(w->engine_pool); /* before the config their tables point into */
    slave_config_release(w->s, w->cfg);
    w->cfg = NULL;
    buf_free(&w->frame);
    buf_free(&w->body);
    buf_free(&w->resp.body);
    apr_pool_destroy(w->pool);
}

/* --- calls to the primary ------------------------------------------------ */

/* POST root (released) as JSON to url; the answer in w->resp. One retry
 * after a 5xx or no answer when retry is set. */
static apr_status_t post_json(worker_t *w, const char *url, json_t *root, int retry,
                              abbey_err_t *err)
{
    apr_status_t rv = APR_SUCCESS;
    buf_reset(&w->body);
    jsonio_dump_buf(root, &w->body);
    json_decref(root);
    for (int attempt = 0; attempt <= retry; attempt++) {
        if (attempt)
            apr_sleep((apr_interval_time_t)w->s->opts.retry_ms * 1000);
        rv = hclient_request(w->hc, "POST", url, "application/json", w->body.data, w->body.len,
                             NULL, &w->resp, err);
        if (rv == APR_SUCCESS && w->resp.status < 500)
            break;
    }
    return rv;
}

/* The answer's "error", or its first bytes. */
static const char *answer_error(worker_t *w)
{
    json_t *root = json_loadb((const char *)w->resp.body.data, w->resp.body.len, 0, NULL);
    const char *e = root ? json_string_value(json_object_get(root, "error")) : NULL;
    const char *text =
        e ? apr_pstrdup(w->task_pool, e)
          : apr_pstrndup(w->task_pool, w->resp.body.data ? (const char *)w->resp.body.data : "",
                         w->resp.body.len > 200 ? 200 : w->resp.body.len);
    json_decref(root);
    return text;
}

/* A refusal is logged (the lease expired and went elsewhere). */
void worker_complete(worker_t *w, const slave_lease_t *l, json_t *root)
{
    abbey_err_t err;
    apr_status_t rv;

    if (l->sticky) { /* the holder reports it */
        hold_result(l, root);
        return;
    }
    slave_lease_untrack(w->s, l->id);
    rv = post_json(w, w->s->complete_url, root, 1, &err);
    if (rv != APR_SUCCESS)
        log_msg("lease %" PRIu64 " (%s %s): completion not sent: %s", l->id, l->job, l->source,
                err.msg);
    else if (w->resp.status == 409)
        log_msg("lease %" PRIu64 " (%s %s): completion refused: %s", l->id, l->job, l->source,
                answer_error(w));
    else if (w->resp.status != 200)
        log_msg("lease %" PRIu64 " (%s %s): completion refused: HTTP %ld: %s", l->id, l->job,
                l->source, w->resp.status, answer_error(w));
}

/* --- read leases ---------------------------------------------------------- */

/* The end of the read: min(size, start + cap), never before start. */
static uint64_t read_limit(uint64_t start, uint64_t cap, uint64_t size)
{
    uint64_t lim = start + cap < start ? UINT64_MAX : start + cap;
    if (size < lim)
        lim = size;
    return lim < start ? start : lim;
}

/* Whole lines of [o->start, limit) of o->read_path (through r when given,
 * opened at start) into p; sets o->end and o->at_end against size. A line
 * longer than the cap would stall the task: then one block is read (a line
 * longer than max_line is skipped through its end, which may lie past
 * limit, even past size: then the size reported is the end). When even
 * that reads no whole line, the rest is a line not ended yet: at_end, so
 * the task waits for the next round instead of being leased again at once. */
static apr_status_t read_lines(worker_t *w, engine_t *e, partial_t *p, source_reader_t *r,
                               const slave_lease_t *l, uint64_t size, worker_outcome_t *o,
                               abbey_err_t *err)
{
    uint64_t limit = read_limit(o->start, l->cap, size);
    apr_status_t rv;

    if (r)
        rv = task_run_reader(e, r, o->start, limit, 0, &w->tasks.io, p, NULL, &o->end, err);
    else
        rv = task_run_file(e, o->read_path, o->start, limit, 0, &w->tasks.io, p, NULL, &o->end,
                           w->task_pool, err);
    if (rv == APR_SUCCESS && o->end == o->start && limit < size && l->cap < w->tasks.io.size) {
        limit = read_limit(o->start, w->tasks.io.size, size);
        rv = task_run_file(e, o->read_path, o->start, limit, 0, &w->tasks.io, p, NULL, &o->end,
                           w->task_pool, err);
    }
    /* (>: a rotated file now shorter than start); nothing whole read: an unended line waits;
     * a read cut near the memory budget goes on at once, in the next lease */
    o->at_end = o->end >= size ||
                (!w->tasks.io.cut && (limit >= size || (rv == APR_SUCCESS && o->end == o->start)));
    if (o->size >= 0 && (uint64_t)o->size < o->end)
        o->size = (int64_t)o->end;
    return rv;
}

/* Whole lines of an archive (a stream: source.h) from o->start up to the
 * cap, or to its end, where its unended last line counts (it is final); a
 * line longer than the cap is read as read_lines does. o->size is its
 * decompressed size once it was read to its end, else unknown (-1).
 * Damaged data (a truncated file, one still being written, a bad CRC) ends
 * the range at the last line before it: those lines are delivered and the
 * completion is at_end with the reason in "error", so the next round tries
 * again from there. */
static apr_status_t read_stream(worker_t *w, engine_t *e, partial_t *p, const slave_lease_t *l,
                                worker_outcome_t *o, abbey_err_t *err)
{
    uint64_t cap = l->cap, total = 0;
    source_reader_t *r = NULL;
    apr_status_t rv;
    int ended = 0;

    for (;;) {
        if ((rv = source_open(o->read_path, o->start, w->task_pool, &r, err)) != APR_SUCCESS)
            break;
        source_set_stop(r, w->tasks.io.stop);
        rv = task_run_reader(e, r, o->start, read_limit(o->start, cap, UINT64_MAX), 1, &w->tasks.io,
                             p, NULL, &o->end, err);
        ended = source_size(r, &total) == APR_SUCCESS;
        if (rv != APR_SUCCESS || o->end > o->start || ended || cap >= w->tasks.io.size)
            break;
        source_close(r); /* nothing whole within the cap: one block, from start again */
        cap = w->tasks.io.size;
    }
    source_close(r);
    o->size = ended ? (int64_t)total : -1;
    o->at_end =
        (ended && o->end >= total) || (!w->tasks.io.cut && rv == APR_SUCCESS && o->end == o->start);
    if (rv == SOURCE_DAMAGED) {
        log_msg("lease %" PRIu64 " (%s): %s; the lines before byte %" PRIu64 " are delivered",
                l->id, l->job, err->msg, o->end);
        o->error = apr_pstrdup(w->task_pool, err->msg);
        o->at_end = 1;
        rv = APR_SUCCESS;
    }
    return rv;
}

/* The lines of the instance a plan found at o->read_path, plan_size bytes
 * (compressed, for an archive). */
static apr_status_t read_instance(worker_t *w, engine_t *e, partial_t *p, const slave_lease_t *l,
                                  uint64_t plan_size, worker_outcome_t *o, abbey_err_t *err)
{
    if (source_path_is_stream(o->read_path))
        return read_stream(w, e, p, l, o, err);
    o->size = (int64_t)plan_size;
    return read_lines(w, e, p, NULL, l, plan_size, o, err);
}

/* A file source: instance.c decides, then read. */
static apr_status_t read_file(worker_t *w, engine_t *e, partial_t *p, const slave_lease_t *l,
                              worker_outcome_t *o, abbey_err_t *err)
{
    instance_plan_t plan;
    const char *path = wirepath_decode(l->source, w->task_pool);
    apr_status_t rv = instance_plan(path, l->instance, l->start, w->task_pool, &plan, err);
    int finished;

    if (rv != APR_SUCCESS)
        return rv;
    snprintf(o->instance, sizeof o->instance, "%s", plan.instance);
    o->read_path = plan.read_path;
    switch (plan.kind) {
    case INSTANCE_SAME:
        return read_instance(w, e, p, l, plan.size, o, err);
    case INSTANCE_ROTATED:
        if ((rv = read_instance(w, e, p, l, plan.size, o, err)) != APR_SUCCESS)
            return rv;
        finished = o->at_end;
        if (finished && plan.next_instance[0]) {
            snprintf(o->next_instance, sizeof o->next_instance, "%s", plan.next_instance);
            o->at_end = plan.next_size == 0;
            o->size = (int64_t)plan.next_size;
            log_msg("lease %" PRIu64 ": %s: instance %s (now %s) read to its end at %" PRIu64
                    "; next: %s",
                    l->id, l->source, plan.instance, plan.found, o->end, plan.next_instance);
        }
        return APR_SUCCESS;
    case INSTANCE_LOST:
    case INSTANCE_TRUNCATED:
        if (plan.kind == INSTANCE_LOST)
            log_msg("lease %" PRIu64 ": %s: instance %s was rotated away and is gone: bytes "
                    "from %" PRIu64 " on are lost; next: %s",
                    l->id, l->source, plan.instance, l->start, plan.next_instance);
        else
            log_msg("lease %" PRIu64 ": %s: truncated to %" PRIu64 " bytes, below offset %" PRIu64
                    "; next: %s",
                    l->id, l->source, plan.next_size, l->start, plan.next_instance);
        snprintf(o->next_instance, sizeof o->next_instance, "%s", plan.next_instance);
        o->at_end = plan.next_size == 0;
        o->size = (int64_t)plan.next_size;
        return APR_SUCCESS;
    case INSTANCE_REFUSED: /* completed with the reason: the round does not wait for it */
        log_msg("lease %" PRIu64 " (%s): %s; completed with nothing read", l->id, l->job, plan.why);
        o->error = plan.why;
        o->at_end = 1;
        return APR_SUCCESS;
    case INSTANCE_GONE:
    default:
        if (l->instance[0])
            log_msg("lease %" PRIu64 ": %s: instance %s is gone (offset %" PRIu64 "); waiting "
                    "for a new file",
                    l->id, l->source, l->instance, l->start);
        o->at_end = 1;
        return APR_SUCCESS;
    }
}

/* A glob's task: its one file (l->file, l->file_id), wherever it was renamed
 * to; a file gone or cut below start reads nothing, and the primary decides
 * from the glob's next expansion. */
static apr_status_t read_ident(worker_t *w, engine_t *e, partial_t *p, const slave_lease_t *l,
                               worker_outcome_t *o, abbey_err_t *err)
{
    instance_plan_t plan;
    uint64_t dev, ino;
    const char *path = wirepath_decode(l->file, w->task_pool);
    apr_status_t rv;

    snprintf(o->instance, sizeof o->instance, "%s", l->instance);
    if (instance_file_parse(l->file_id ? l->file_id : "", &dev, &ino) != 0) {
        abbey_err_set(err, "%s: the lease's file id '%s' is not dev:inode", l->file,
                      l->file_id ? l->file_id : "");
        return APR_EINVAL;
    }
    if ((rv = instance_locate(path, dev, ino, l->start, w->task_pool, &plan, err)) != APR_SUCCESS)
        return rv;
    o->read_path = plan.read_path;
    if (plan.kind == INSTANCE_SAME)
        return read_instance(w, e, p, l, plan.size, o, err);
    if (plan.kind == INSTANCE_REFUSED) {
        log_msg("lease %" PRIu64 " (%s): %s; completed with nothing read", l->id, l->job, plan.why);
        o->error = plan.why;
    } else {
        log_msg("lease %" PRIu64 ": %s#%s: file %s (%s) %s; nothing read", l->id, l->source,
                l->instance, l->file_id, l->file,
                plan.kind == INSTANCE_GONE ? "is gone" : "is now shorter than the offset");
    }
    o->at_end = 1;
    return APR_SUCCESS;
}

/* An http(s) source: generation "http:gen"; a size below start starts gen + 1. */
static apr_status_t read_http(worker_t *w, engine_t *e, partial_t *p, const slave_lease_t *l,
                              worker_outcome_t *o, abbey_err_t *err)
{
    source_reader_t *r;
    uint64_t gen, total;
    apr_status_t rv;

    if (instance_http_parse(l->instance, &gen) != 0) {
        abbey_err_set(err, "%s: the lease's instance '%s' is not http:gen", l->source, l->instance);
        return APR_EINVAL;
    }
    instance_http_format(gen, o->instance);
    if ((rv = source_open(l->source, o->start, w->task_pool, &r, err)) != APR_SUCCESS)
        return rv;
    source_set_stop(r, w->tasks.io.stop);
    if ((rv = source_total(r, &total, err)) == APR_SUCCESS) {
        o->size = (int64_t)total;
        if (total < o->start) {
            instance_http_format(gen + 1, o->next_instance);
            o->at_end = total == 0;
            log_msg("lease %" PRIu64 ": %s: now %" PRIu64 " bytes, below offset %" PRIu64
                    "; next: %s",
                    l->id, l->source, total, o->start, o->next_instance);
        } else {
            o->read_path = l->source;
            rv = read_lines(w, e, p, r, l, total, o, err);
        }
    }
    source_close(r);
    return rv;
}

void worker_deliver_init(worker_t *w, const slave_lease_t *l, const rules_job_t *job, engine_t *e,
                         const char *instance, const char *read_path, deliver_t *d)
{
    const rules_config_t *cfg = w->cfg->rules;

    memset(d, 0, sizeof *d);
    d->hc = w->hc;
    d->cfg = cfg;
    d->job = job;
    d->fallback_url = w->s->opts.primary;
    d->slave = w->s->opts.name;
    d->lease = l->id;
    d->round = (uint64_t)l->round;
    d->source = apr_pstrcat(w->task_pool, l->source, "#", instance, NULL);
    d->read_path = read_path;
    d->engine = e;
    d->io = &w->tasks.io;
    d->pool = w->task_pool;
    d->retry_ms = w->s->opts.retry_ms;
    d->spool = w->s->spool;
    d->frame = &w->frame;
    d->resp = &w->resp;
    d->results = apr_pcalloc(w->task_pool, sizeof *d->results * (size_t)cfg->nmasters);
}

/* Frames of [o->start, o->end) to every master (a frame one will not take
 * goes to the spool). 0 when all took it or it was spooled; *results gets
 * each master's result. */
static int deliver(worker_t *w, const slave_lease_t *l, const rules_job_t *job, engine_t *e,
                   const partial_t *p, const worker_outcome_t *o, deliver_result_t **results)
{
    deliver_t d;
    worker_deliver_init(w, l, job, e, o->instance, o->read_path, &d);
    *results = d.results;
    return deliver_range(&d, p, o->start, o->end);
}

/* --- the memory budget ---------------------------------------------------- */

/* What the worker's partials hold (partial_bytes summed). */
static uint64_t worker_bytes(const worker_t *w)
{
    uint64_t n = 0;
    for (int j = 0; w->cfg && j < w->tasks.cfg->njobs; j++)
        if (w->tasks.partials[j])
            n += partial_bytes(w->tasks.partials[j]);
    return n;
}

/* task_io_t's budget during a read lease: publish what the worker holds;
 * near the limit, cut the read (the lease delivers what it read). */
static int worker_budget(void *ctx, partial_t *out)
{
    worker_t *w = ctx;
    budget_t *b = w->s->budget;
    (void)out;
    budget_set(b, w->index, worker_bytes(w));
    return budget_is_near(budget_limit(b), budget_used(b));
}

/* A read cut near the budget: logged the first time, then at most once a
 * minute with the count. */
static void log_cut(worker_t *w, const slave_lease_t *l, const worker_outcome_t *o)
{
    slave_t *s = w->s;
    uint64_t n = __atomic_add_fetch(&s->budget_cuts, 1, __ATOMIC_RELAXED);
    int64_t now = slave_now_ms(), last = __atomic_load_n(&s->budget_logged_ms, __ATOMIC_RELAXED);
    char used[32], limit[32];

    if (n > 1 && now - last < 60000)
        return;
    if (!__atomic_compare_exchange_n(&s->budget_logged_ms, &last, now, 0, __ATOMIC_RELAXED,
                                     __ATOMIC_RELAXED))
        return; /* another worker logs it */
    log_msg("memory budget: lease %" PRIu64 " (%s %s) cut at byte %" PRIu64 " of [%" PRIu64
            ", %" PRIu64 "): the partials hold %s with the allowance, near --memory-limit %s; "
            "what it read is delivered and the rest leased again (%" PRIu64 " reads cut so far)",
            l->id, l->job, l->source, o->end, o->start,
            o->start + l->cap < o->start ? UINT64_MAX : o->start + l->cap,
            budget_text(budget_used(s->budget), used, sizeof used),
            budget_text(budget_limit(s->budget), limit, sizeof limit), n);
}

/* After a lease: the worker's partials emptied and what they still hold
 * (slot arrays) published, so an idle worker never holds the others back. */
static void budget_release(worker_t *w)
{
    for (int j = 0; w->cfg && j < w->tasks.cfg->njobs; j++)
        if (w->tasks.partials[j])
            partial_clear(w->tasks.partials[j]);
    budget_set(w->s->budget, w->index, worker_bytes(w));
}

void worker_engine(worker_t *w, const rules_job_t *job, engine_t **e, partial_t **p)
{
    task_engines_get(&w->tasks, job, e, p);
    partial_clear(*p);
}

apr_status_t worker_read(worker_t *w, const slave_lease_t *l, const rules_job_t *job, engine_t *e,
                         partial_t *p, worker_outcome_t *o, abbey_err_t *err)
{
    apr_status_t rv;
    rejects_sink_t rs = {rejects_file(w->s->rejects, job), l->source, (uint64_t)l->round};

    memset(o, 0, sizeof *o);
    o->start = o->end = l->start;
    o->size = -1;
    rejects_attach(e, &rs);
    w->tasks.io.cut = 0;
    if (w->s->budget) { /* read leases alone: repairs and re-reads are exact ranges */
        w->tasks.io.budget = worker_budget;
        w->tasks.io.budget_ctx = w;
    }
    rv = l->file                     ? read_ident(w, e, p, l, o, err)
         : source_is_http(l->source) ? read_http(w, e, p, l, o, err)
                                     : read_file(w, e, p, l, o, err);
    w->tasks.io.budget = NULL;
    engine_set_sink(e, NULL, NULL);
    if (w->tasks.io.cut && rv == APR_SUCCESS)
        log_cut(w, l, o);
    if (rv == APR_EINTR && o->end > o->start) { /* stopping: deliver and complete what was read */
        log_msg("lease %" PRIu64 " (%s %s): stopping: the read ends at %" PRIu64, l->id, l->job,
                l->source, o->end);
        o->at_end = 0;
        rv = APR_SUCCESS;
    }
    return rv;
}

void worker_finish(worker_t *w, const slave_lease_t *l, const worker_outcome_t *o, uint64_t lines,
                   uint64_t bad_lines, uint64_t bytes, const deliver_result_t *results)
{
    const rules_config_t *cfg = w->cfg->rules;
    json_t *deliveries = json_object(), *root;

    for (int m = 0; results && m < cfg->nmasters; m++)
        json_object_set_new(deliveries, cfg->masters[m].name,
                            json_string(results[m] == DELIVER_SPOOLED ? "spooled" : "ok"));
    root = json_pack("{s:s, s:I, s:s, s:I, s:I, s:b, s:s, s:I, s:I, s:I, s:o}", "slave",
                     w->s->opts.name, "lease", (json_int_t)l->id, "instance", o->instance, "start",
                     (json_int_t)o->start, "end", (json_int_t)o->end, "at_end", o->at_end,
                     "next_instance", o->next_instance, "lines", (json_int_t)lines, "bad_lines",
                     (json_int_t)bad_lines, "bytes", (json_int_t)bytes, "deliveries", deliveries);
    if (o->size >= 0)
        json_object_set_new(root, "size", json_integer((json_int_t)o->size));
    if (o->error)
        json_object_set_new(root, "error", json_string(wirepath_encode(o->error, w->task_pool)));
    worker_complete(w, l, root);
}

void worker_not_completed(worker_t *w, const slave_lease_t *l, const worker_outcome_t *o,
                          int failed)
{
    log_msg("lease %" PRIu64 " (%s %s#%s [%" PRIu64 ", %" PRIu64 ")): not completed: "
            "%d master(s) did not take their frames; the lease will expire and the "
            "range be read again",
            l->id, l->job, l->source, o->instance, o->start, o->end, failed);
    slave_lease_untrack(w->s, l->id);
}

static void run_read(worker_t *w, const slave_lease_t *l, const rules_job_t *job)
{
    engine_t *e;
    partial_t *p;
    worker_outcome_t o;
    abbey_err_t err;
    deliver_result_t *results = NULL;
    int failed;

    worker_engine(w, job, &e, &p);
    if (worker_read(w, l, job, e, p, &o, &err) != APR_SUCCESS) {
        log_msg("lease %" PRIu64 " (%s): not completed: %s", l->id, l->job, err.msg);
        slave_lease_untrack(w->s, l->id);
        return;
    }
    if (o.end > o.start && (failed = deliver(w, l, job, e, p, &o, &results)) != 0) {
        worker_not_completed(w, l, &o, failed);
        return;
    }
    worker_finish(w, l, &o, p->lines, p->bad_lines, p->bytes, results);
}

void worker_run_lease(worker_t *w, const slave_lease_t *l)
{
    const rules_job_t *job = w->cfg ? rules_find_job(w->cfg->rules, l->job) : NULL;
    if (!job) {
        log_msg("lease %" PRIu64 ": job '%s' is not in config %s; left to expire", l->id, l->job,
                w->cfg ? w->cfg->hash : "(none)");
        slave_lease_untrack(w->s, l->id);
    } else if (l->kind == SLAVE_LEASE_EXPAND) {
        slave_expand_run(w, l);
    } else if (l->kind == SLAVE_LEASE_REPAIR) {
        slave_repair_run(w, l, job);
    } else {
        run_read(w, l, job);
    }
    worker_lease_end(w);
}

void worker_lease_end(worker_t *w)
{
    if (w->s->budget)
        budget_release(w);
    apr_pool_clear(w->task_pool);
}

/* --- the turn ------------------------------------------------------------- */

/* A repair lease's "end" (> start) and "master" (non-empty) into l. */
static void parse_repair(jsonio_rd_t *rd, const json_t *o, int64_t start, apr_pool_t *pool,
                         slave_lease_t *l)
{
    int64_t end = jsonio_get_i64(rd, o, "end");
    const char *master = jsonio_get_str(rd, o, "master", 1, SIZE_MAX);

    if (!rd->failed && end <= start)
        jsonio_fail(rd, "end", "must be above start %" PRId64, start);
    if (!rd->failed && !*master)
        jsonio_fail(rd, "master", "must not be empty");
    if (rd->failed)
        return;
    l->end = (uint64_t)end;
    l->master = apr_pstrdup(pool, master);
}

/* kind into l->kind; a repair lease's end and master too. */
static void parse_kind(jsonio_rd_t *rd, const json_t *o, const char *kind, int64_t start,
                       apr_pool_t *pool, slave_lease_t *l)
{
    if (strcmp(kind, "read") == 0) {
        l->kind = SLAVE_LEASE_READ;
    } else if (strcmp(kind, "expand") == 0) {
        l->kind = SLAVE_LEASE_EXPAND;
    } else if (strcmp(kind, "repair") == 0) {
        l->kind = SLAVE_LEASE_REPAIR;
        parse_repair(rd, o, start, pool, l);
    } else {
        jsonio_fail(rd, "kind", "is '%s', not read, expand or repair", kind);
    }
}

int worker_parse_lease(json_t *o, apr_pool_t *pool, slave_lease_t *l, abbey_err_t *err)
{
    jsonio_rd_t rd;
    int64_t id;

    jsonio_rd_init(&rd);
    jsonio_where(&rd, "a lease");
    id = jsonio_get_int(&rd, o, "id", 1, 0);
    if (!rd.failed)
        jsonio_where(&rd, "lease %" PRId64, id);
    const char *job = jsonio_get_str(&rd, o, "job", 1, SIZE_MAX);
    const char *kind = jsonio_get_str(&rd, o, "kind", 1, SIZE_MAX);
    const char *src = jsonio_get_str(&rd, o, "source", 1, SIZE_MAX);
    const char *inst = jsonio_get_str(&rd, o, "instance", 0, SIZE_MAX);
    const char *file = jsonio_get_str(&rd, o, "file", 0, SIZE_MAX);
    const char *file_id = file ? jsonio_get_str(&rd, o, "file_id", 1, SIZE_MAX) : NULL;
    int64_t task = jsonio_get_int(&rd, o, "task", 0, -1);
    int64_t start = jsonio_get_int(&rd, o, "start", 1, 0),
            cap = jsonio_get_int(&rd, o, "cap", 1, 1);
    int64_t round = jsonio_get_i64(&rd, o, "round"), expires = jsonio_get_i64(&rd, o, "expires_ms");

    if (!rd.failed && !*src)
        jsonio_fail(&rd, "source", "must not be empty");
    memset(l, 0, sizeof *l);
    if (!rd.failed)
        parse_kind(&rd, o, kind, start, pool, l);
    if (rd.failed) {
        abbey_err_set(err, "%s", rd.err.msg);
        return -1;
    }
    l->id = (uint64_t)id;
    l->job = apr_pstrdup(pool, job);
    l->task = task;
    l->source = apr_pstrdup(pool, src);
    l->instance = apr_pstrdup(pool, inst ? inst : "");
    l->file = file ? apr_pstrdup(pool, file) : NULL;
    l->file_id = file_id ? apr_pstrdup(pool, file_id) : NULL;
    l->start = (uint64_t)start;
    l->cap = (uint64_t)cap;
    l->round = round;
    l->expires_ms = expires;
    l->sticky = json_is_true(json_object_get(o, "sticky")) && l->kind != SLAVE_LEASE_REPAIR;
    return 0;
}

int worker_use_config(worker_t *w, const char *want)
{
    slave_cfg_t *c;
    abbey_err_t err;

    if (!w->cfg || strcmp(w->cfg->hash, want) != 0) {
        if (slave_config_update(w->s, w->hc, want, &err) != APR_SUCCESS)
            log_msg("config %s: cannot fetch it: %s", want, err.msg);
        c = slave_config_acquire(w->s);
        if (c && c != w->cfg) {             /* switch: engines are rebuilt on use */
            apr_pool_clear(w->engine_pool); /* before the config their tables point into */
            slave_config_release(w->s, w->cfg);
            w->cfg = c;
            task_engines_init(&w->tasks, c->rules, w->s->opts.block, w->engine_pool);
        } else {
            slave_config_release(w->s, c);
        }
    }
    return w->cfg && strcmp(w->cfg->hash, want) == 0 ? 0 : -1;
}

/* The primary did not answer, or answered badly: log once per outage (for all workers). */
static int primary_trouble(worker_t *w, const char *why)
{
    if (!__atomic_exchange_n(&w->s->primary_down, 1, __ATOMIC_ACQ_REL))
        log_msg("primary: %s (retrying every %d ms)", why, w->s->opts.poll_ms);
    return -1;
}

int worker_once(worker_t *w)
{
    slave_t *s = w->s;
    json_t *labels = json_array(), *root, *leases, *lo;
    const char *hash;
    abbey_err_t err;
    apr_status_t rv;
    size_t i;
    int ran = 0;

    apr_pool_clear(w->task_pool);
    for (int k = 0; k < s->opts.nlabels; k++)
        json_array_append_new(labels, json_string(s->opts.labels[k]));
    root = json_pack("{s:s, s:o, s:i}", "slave", s->opts.name, "labels", labels, "max", 1);
    if (s->spool) { /* the backlog, for the primary's status */
        spool_backlog_t b;
        spool_backlog(s->spool, slave_now_ms(), &b);
        json_object_set_new(root, "spool",
                            json_pack("{s:I, s:I, s:I}", "frames", (json_int_t)b.frames, "bytes",
                                      (json_int_t)b.bytes, "oldest_ms", (json_int_t)b.oldest_ms));
    }
    rv = post_json(w, s->lease_url, root, 0, &err);
    if (rv != APR_SUCCESS)
        return primary_trouble(w, err.msg);
    if (w->resp.status != 200)
        return primary_trouble(w, apr_psprintf(w->task_pool, "POST %s: HTTP %ld: %s", s->lease_url,
                                               w->resp.status, answer_error(w)));
    root = json_loadb((const char *)w->resp.body.data, w->resp.body.len, 0, NULL);
    leases = root ? json_object_get(root, "leases") : NULL;
    hash = root ? json_string_value(json_object_get(root, "config")) : NULL;
    if (!json_is_array(leases) || !hash) {
        json_decref(root);
        return primary_trouble(w, "a lease answer without \"config\" and \"leases\"");
    }
    if (__atomic_exchange_n(&s->primary_down, 0, __ATOMIC_ACQ_REL))
        log_msg("primary: answering again");
    json_array_foreach(leases, i, lo)
    {
        slave_lease_t l;
        if (worker_parse_lease(lo, w->task_pool, &l, &err) != 0) {
            log_msg("primary: %s", err.msg);
            continue;
        }
        slave_lease_track(s, l.id, l.expires_ms, slave_now_ms());
        ran = 1;
        if (worker_use_config(w, hash) != 0) {
            log_msg("lease %" PRIu64 ": config %s is not available; left to expire", l.id, hash);
            slave_lease_untrack(s, l.id);
            continue;
        }
        worker_run_lease(w, &l);
    }
    json_decref(root);
    apr_pool_clear(w->task_pool);
    return ran;
}
