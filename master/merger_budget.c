/* merger_budget.c - a master's memory budget (--memory-limit): which jobs' frames it refuses.
 *
 * The merger keeps per job the accounted bytes of its tables (mjob_t.mem_bytes:
 * period totals, round partials, idle decoding partials, merger_entry_memory
 * summed over the entries), brought up to date after every merge into the
 * job, at every tick (rounds and periods dropped), after a config change and
 * after recovery. Each update steps every job (budget_job_step,
 * common/budget.h) on the reading {limit, allowance + the tables, the tables,
 * the jobs}: a job entering the over-budget state is logged loudly once, and
 * once when it leaves it. merger_accept asks merger_budget_refuse before it
 * decodes a new frame: a job over budget gets 503 with the reason (the slave
 * retries, then spools). Journal frames replayed by recovery are never
 * refused (they were acknowledged): a job that goes over while they replay is
 * marked over and refuses new frames once the master serves. Gap repair asks
 * nothing for a job over budget (merger_gaps.c): its ranges are in spools.
 * Everything here runs under m->lock. */
#include "merger_int.h"

#include <apr_time.h>
#include <inttypes.h>

#include "budget.h"
#include "jsonio.h"
#include "log.h"

void merger_set_budget(merger_t *m, uint64_t limit, uint64_t allowance)
{
    apr_thread_mutex_lock(m->lock);
    m->budget_limit = limit;
    m->budget_allowance = allowance;
    merger_budget_update(m, NULL);
    apr_thread_mutex_unlock(m->lock);
}

/* The tables of every job (their cached bytes). */
static uint64_t tables_bytes(const merger_t *m)
{
    uint64_t n = 0;
    for (int i = 0; i < m->cfg->njobs; i++)
        n += m->jobs[i].mem_bytes;
    return n;
}

static budget_reading_t reading(const merger_t *m)
{
    uint64_t tables = tables_bytes(m);
    return (budget_reading_t){m->budget_limit, m->budget_allowance + tables, tables, m->cfg->njobs};
}

/* j's entry holding the most bytes, into *entry (index) and *mem. */
static void biggest_entry(const mjob_t *j, int *entry, merger_entry_mem_t *mem)
{
    *entry = -1;
    memset(mem, 0, sizeof *mem);
    for (int e = 0; e < j->job->nentries; e++) {
        merger_entry_mem_t x;
        merger_entry_memory(j, e, &x);
        if (*entry < 0 || x.bytes > mem->bytes) {
            *entry = e;
            *mem = x;
        }
    }
}

/* The loud line of a job entering or leaving the over-budget state. */
static void log_change(const merger_t *m, const mjob_t *j, const budget_reading_t *r,
                       budget_change_t c)
{
    char used[32], limit[32], job[32], near[32], big[32], rss[32];
    merger_entry_mem_t mem;
    int e;

    budget_text(r->used, used, sizeof used);
    budget_text(r->limit, limit, sizeof limit);
    budget_text(j->mem_bytes, job, sizeof job);
    if (c == BUDGET_LEFT && !r->limit) {
        log_msg("memory budget: job %s takes frames again: no memory limit any more", j->job->name);
        return;
    }
    if (c == BUDGET_LEFT) {
        log_msg("memory budget: job %s takes frames again: the tables hold %s with the "
                "allowance (--memory-limit %s); the job holds %s",
                j->job->name, used, limit, job);
        return;
    }
    biggest_entry(j, &e, &mem);
    log_msg(
        "MEMORY BUDGET: job %s: its new frames are refused (503) from now on: this "
        "master's tables hold %s with the allowance, at or near --memory-limit %s (near: %s); the "
        "job holds %s, most in entry '%s' (%s, %" PRIu64 " keys); RSS %s. Its slaves keep "
        "its frames in their spools, nothing is lost; raise --memory-limit (a restart "
        "keeps the journal), lower the entry's max_keys, or let its period end",
        j->job->name, used, limit, budget_text(budget_near(r->limit), near, sizeof near), job,
        e >= 0 ? j->job->entries[e]->name : "-", budget_text(mem.bytes, big, sizeof big), mem.keys,
        budget_text(budget_rss(), rss, sizeof rss));
}

/* j's tables' bytes: every entry's (merger_entry_memory). */
static uint64_t job_bytes(const mjob_t *j)
{
    uint64_t n = 0;
    for (int e = 0; e < j->job->nentries; e++) {
        merger_entry_mem_t x;
        merger_entry_memory(j, e, &x);
        n += x.bytes;
    }
    return n;
}

void merger_budget_update(merger_t *m, mjob_t *j)
{
    int64_t now = (int64_t)(apr_time_now() / 1000);
    budget_reading_t r;

    for (int i = 0; i < m->cfg->njobs; i++)
        if (!j || &m->jobs[i] == j)
            m->jobs[i].mem_bytes = job_bytes(&m->jobs[i]);
    r = reading(m);
    for (int i = 0; i < m->cfg->njobs; i++) {
        mjob_t *x = &m->jobs[i];
        budget_change_t c = budget_job_step(&x->budget, &r, x->mem_bytes, now);
        if (c != BUDGET_SAME)
            log_change(m, x, &r, c);
    }
}

int merger_budget_refuse(merger_t *m, mjob_t *j, abbey_err_t *err)
{
    char used[32], limit[32], held[32];

    if (!j->budget.over || m->recovering)
        return 0;
    j->c.unavailable++;
    j->budget_refused++;
    abbey_err_set(err,
                  "job '%s' is over master %s's memory budget: its tables hold %s of the %s "
                  "accounted, --memory-limit %s; its frames are refused until its memory falls "
                  "(keep the frame and send it again: a slave spools it)",
                  j->job->name, m->self, budget_text(j->mem_bytes, held, sizeof held),
                  budget_text(reading(m).used, used, sizeof used),
                  budget_text(m->budget_limit, limit, sizeof limit));
    return 1;
}

json_t *merger_budget_status(const merger_t *m)
{
    budget_reading_t r = reading(m);
    json_t *o = json_object();

    json_object_set_new(o, "limit", m->budget_limit ? jsonio_u64(m->budget_limit) : json_null());
    json_object_set_new(o, "near",
                        m->budget_limit ? jsonio_u64(budget_near(m->budget_limit)) : json_null());
    json_object_set_new(o, "clear",
                        m->budget_limit ? jsonio_u64(budget_clear(m->budget_limit)) : json_null());
    json_object_set_new(o, "allowance", jsonio_u64(m->budget_allowance));
    json_object_set_new(o, "tables", jsonio_u64(r.tables));
    json_object_set_new(o, "accounted", jsonio_u64(r.used));
    json_object_set_new(o, "rss", jsonio_u64(budget_rss()));
    return o;
}

json_t *merger_budget_job_json(const mjob_t *j)
{
    return json_pack("{s:o,s:b,s:o,s:o}", "bytes", jsonio_u64(j->mem_bytes), "over_budget",
                     j->budget.over, "since_ms",
                     j->budget.since_ms ? json_integer(j->budget.since_ms) : json_null(), "refused",
                     jsonio_u64(j->budget_refused));
}

void merger_budget_metrics(const merger_t *m, buf_t *out)
{
    budget_reading_t r = reading(m);
    static const char *job_gauges[2] = {"abbey_job_memory_bytes", "abbey_job_over_budget"};
    static const char *job_helps[2] = {
        "Approximate memory of the job's tables at this master (every entry's).",
        "1 while this master refuses the job's new frames over its memory budget."};

    if (m->budget_limit)
        buf_printf(out,
                   "# HELP abbey_memory_limit_bytes This master's --memory-limit.\n"
                   "# TYPE abbey_memory_limit_bytes gauge\n"
                   "abbey_memory_limit_bytes{master=\"%s\"} %" PRIu64 "\n",
                   m->self, m->budget_limit);
    buf_printf(out,
               "# HELP abbey_memory_accounted_bytes The tables' approximate memory plus the "
               "fixed allowance: what the memory budget counts.\n"
               "# TYPE abbey_memory_accounted_bytes gauge\n"
               "abbey_memory_accounted_bytes{master=\"%s\"} %" PRIu64 "\n",
               m->self, r.used);
    buf_printf(out,
               "# HELP abbey_memory_rss_bytes This master's resident memory (/proc/self/statm).\n"
               "# TYPE abbey_memory_rss_bytes gauge\n"
               "abbey_memory_rss_bytes{master=\"%s\"} %" PRIu64 "\n",
               m->self, budget_rss());
    for (int k = 0; k < 2; k++) {
        buf_printf(out, "# HELP %s %s\n# TYPE %s gauge\n", job_gauges[k], job_helps[k],
                   job_gauges[k]);
        for (int i = 0; i < m->cfg->njobs; i++) {
            const mjob_t *j = &m->jobs[i];
            buf_printf(out, "%s{master=\"%s\",job=\"%s\"} %" PRIu64 "\n", job_gauges[k], m->self,
                       j->job->name, k == 0 ? j->mem_bytes : (uint64_t)j->budget.over);
        }
    }
    buf_printf(out, "# HELP abbey_budget_refused_total Frames this master refused (503) while "
                    "their job was over its memory budget.\n"
                    "# TYPE abbey_budget_refused_total counter\n");
    for (int i = 0; i < m->cfg->njobs; i++)
        buf_printf(out, "abbey_budget_refused_total{master=\"%s\",job=\"%s\"} %" PRIu64 "\n",
                   m->self, m->jobs[i].job->name, m->jobs[i].budget_refused);
}
