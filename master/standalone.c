/* standalone.c - abbey-master --standalone --once: every source of every job, on N threads.
 *
 * Plan: expand each job's sources into files and cut each file at line
 * boundaries into parts (enough parts to keep every worker busy); an
 * archive (.gz, .zst) is one part read to the end of its stream, from the
 * end of the plain file it is a compressed copy of, if any (find_copies);
 * with --stdin JOB, that job alone runs, and its one part is standard
 * input, which one worker reads. Run: worker
 * threads take parts from a shared counter; each has, per job, its own engine
 * and partial, so nothing is shared while reading. Finish: merge the workers'
 * partials per job, export every report, print a summary (per entry its keys,
 * approximate bytes and what folded past max_keys; the peak RSS). An entry whose table
 * runs out of memory in one worker is dropped in all (run->dead, seen between
 * parts), the others read on; its reports are not written and the run fails.
 * A job with `rejects:` has one writer shared by the threads (common/rejects.h);
 * the whole run is its round 0. With --html FILE the same reports also go into
 * one self-contained HTML file (web_html.h). With --history FILE every report
 * written is also kept in that database (export/history.h): the run is one
 * export, from its start to its end, incomplete when a source or report failed.
 * With --memory-limit (common/budget.h) each thread publishes what its
 * tables hold after every block; near the budget it merges them into shared
 * per-job totals and empties them (flush), and once the totals alone reach
 * the limit the run stops (the stop flag ends every read at its next block)
 * with an error naming the job and its biggest entry, and writes nothing
 * more. */
#include <apr_allocator.h>
#include <apr_file_info.h>
#include <apr_strings.h>
#include <apr_thread_proc.h>
#include <apr_time.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "budget.h"
#include "engine.h"
#include "export.h"
#include "history.h"
#include "log.h"
#include "master.h"
#include "mem.h"
#include "rejects.h"
#include "source.h"
#include "task.h"
#include "utf8.h"
#include "value.h"
#include "web_html.h"

#define PART_MIN (8u << 20)         /* never cut parts smaller than this */
#define COPY_HEAD 4096              /* bytes compared to find an archive's plain original */
#define WORKER_MAX_FREE (16u << 20) /* free memory a worker's allocator keeps */

typedef struct part_t {
    int job;
    const char *path;
    uint64_t start, end; /* end: the next part's start; the last part's, the size planned */
    engine_samples_t samples;
    uint64_t lines, bad_lines;
    apr_status_t rv;
    abbey_err_t err;
} part_t;

/* One thread of the run: it takes parts and reads them into its own tables. */
typedef struct standalone_thread_t {
    struct run_t *run;
    int index;            /* its slot in run->budget */
    apr_pool_t *pool;     /* own allocator: threads never share a pool */
    task_engines_t tasks; /* per job, in pool */
    uint64_t *moved;      /* per job: lines flushed into the totals (flush), for run_part */
    uint64_t *moved_bad;  /* per job: bad lines among them */
} standalone_thread_t;

typedef struct run_t {
    const rules_config_t *cfg;
    part_t *parts;
    int nparts;
    volatile int next; /* next part to take (atomic) */
    standalone_thread_t *workers;
    int nworkers;
    uint8_t **dead;          /* per job, per entry: out of memory in some worker (atomic) */
    rejects_file_t **rfiles; /* per job: its rejects writer, or NULL */
    /* --memory-limit (NULL budget: none): a slot per thread, the last for the totals */
    budget_t *budget;
    apr_thread_mutex_t *lock; /* guards totals, tpool, over and err */
    apr_pool_t *tpool;        /* the totals' */
    partial_t **totals;       /* per job: what threads flushed (NULL: nothing yet) */
    volatile int stop;        /* the totals reached the limit: every read ends (task.h) */
    uint64_t flushes;         /* flush calls */
    int over;                 /* err says which job and entry */
    abbey_err_t err;
} run_t;

/* Append the part [start, end) of path, of job j, to parts. */
static void add_part(apr_array_header_t *parts, int j, const char *path, uint64_t start,
                     uint64_t end)
{
    part_t *p = apr_array_push(parts);
    memset(p, 0, sizeof *p);
    p->job = j;
    p->path = path;
    p->start = start;
    p->end = end;
}

/* Of a job's n paths (sizes[i]: a plain file's size, UINT64_MAX for an
 * archive), find each archive that is a compressed copy of a plain file of
 * the same job, and set its start to that file's size: the lines the file
 * holds are read from the file only. The rule (docs/RULES.md, "Archives"):
 * the archive's decompressed stream begins with the file's first
 * min(size, COPY_HEAD) bytes, which hold at least one whole line (compared
 * by their 64-bit hash, so memory stays small for many files). Files that
 * cannot be read are left to the run, which reports them. */
static void find_copies(const rules_job_t *job, const char *const *paths, const uint64_t *sizes,
                        int n, uint64_t *starts, apr_pool_t *pool)
{
    char *head = NULL;
    size_t *lens = NULL, len;
    uint64_t *hashes = NULL;
    abbey_err_t err;

    for (int a = 0; a < n; a++) {
        if (sizes[a] != UINT64_MAX)
            continue;
        if (!head) { /* the first archive: hash every plain file's head once */
            head = apr_palloc(pool, COPY_HEAD);
            lens = apr_pcalloc(pool, sizeof *lens * (size_t)n);
            hashes = apr_pcalloc(pool, sizeof *hashes * (size_t)n);
            for (int f = 0; f < n; f++)
                if (sizes[f] != UINT64_MAX && sizes[f] > 0 &&
                    source_head(paths[f], head, COPY_HEAD, &len, pool, &err) == APR_SUCCESS &&
                    memchr(head, '\n', len)) {
                    lens[f] = len;
                    hashes[f] = value_hash_bytes(head, len);
                }
        }
        if (source_head(paths[a], head, COPY_HEAD, &len, pool, &err) != APR_SUCCESS)
            continue;
        for (int f = 0; f < n; f++) {
            if (!lens[f] || len < lens[f] || value_hash_bytes(head, lens[f]) != hashes[f])
                continue;
            starts[a] = sizes[f];
            log_msg("job %s: %s is a compressed copy of %s (their first %zu bytes are the same): "
                    "read from byte %llu, that file's size",
                    job->name, paths[a], paths[f], lens[f], (unsigned long long)sizes[f]);
            break;
        }
    }
}

/* Files of job j, cut into parts appended to *parts. */
static int plan_job(run_t *run, int j, int nworkers, apr_array_header_t *parts, apr_pool_t *pool)
{
    const rules_job_t *job = &run->cfg->jobs[j];
    apr_array_header_t *paths = apr_array_make(pool, 16, sizeof(const char *));
    uint64_t *sizes, *starts;
    abbey_err_t err;
    int failed = 0;

    for (int s = 0; s < job->nsources; s++) {
        if (job->sources[s].kind == RULES_SRC_HTTP) {
            log_msg("job %s: %s: http sources need the cluster; skipped in standalone mode",
                    job->name, job->sources[s].path);
            continue;
        }
        if (source_expand(&job->sources[s], pool, paths, &err) != APR_SUCCESS) {
            log_msg("job %s: %s", job->name, err.msg);
            failed = 1;
        }
    }
    sizes = apr_pcalloc(pool, sizeof *sizes * (size_t)(paths->nelts + 1));
    starts = apr_pcalloc(pool, sizeof *starts * (size_t)(paths->nelts + 1));
    for (int i = 0; i < paths->nelts; i++) {
        const char *path = APR_ARRAY_IDX(paths, i, const char *);
        apr_finfo_t fi;
        sizes[i] = UINT64_MAX; /* an archive: read to the end of its stream */
        if (source_path_is_stream(path))
            continue;
        if (apr_stat(&fi, path, APR_FINFO_SIZE, pool) != APR_SUCCESS) {
            log_msg("job %s: %s: cannot read (missing?)", job->name, path);
            failed = 1;
            continue;
        }
        sizes[i] = (uint64_t)fi.size;
    }
    find_copies(job, (const char **)paths->elts, sizes, paths->nelts, starts, pool);
    for (int i = 0; i < paths->nelts; i++) {
        const char *path = APR_ARRAY_IDX(paths, i, const char *);
        uint64_t offs[65];
        int n, want;
        if (sizes[i] == UINT64_MAX) {
            if (source_path_is_stream(path))
                add_part(parts, j, path, starts[i], UINT64_MAX);
            continue;
        }
        want = (int)(sizes[i] / PART_MIN) + 1;
        if (want > nworkers * 4)
            want = nworkers * 4;
        if (want > 64)
            want = 64;
        if (source_split(path, sizes[i], want, offs, &n, pool, &err) != APR_SUCCESS) {
            log_msg("job %s: %s", job->name, err.msg);
            failed = 1;
            continue;
        }
        for (int k = 0; k < n; k++) /* a file cut while it is read is reported (task.h) */
            add_part(parts, j, path, offs[k], offs[k + 1]);
    }
    return failed;
}

/* ---- the memory budget -------------------------------------------------- */

/* What a thread's tables hold (partial_bytes summed over its jobs). */
static uint64_t thread_bytes(const standalone_thread_t *w)
{
    uint64_t n = 0;
    for (int j = 0; j < w->run->cfg->njobs; j++)
        if (w->tasks.partials[j])
            n += partial_bytes(w->tasks.partials[j]);
    return n;
}

/* Under run->lock: publish what the totals hold; when they reach the limit
 * with the allowance, set run->err naming the job holding the most and its
 * biggest entry, and stop the run. Returns run->over. */
static int totals_check(run_t *run)
{
    uint64_t all = 0, most = 0, limit = budget_limit(run->budget);
    uint64_t allowance = budget_allowance_of(run->budget);
    int jm = -1, em = 0;
    char a[32], b[32], c[32], d[32];
    const ptable_t *t;

    for (int j = 0; j < run->cfg->njobs; j++)
        if (run->totals[j]) {
            uint64_t n = partial_bytes(run->totals[j]);
            all += n;
            if (jm < 0 || n > most) {
                jm = j;
                most = n;
            }
        }
    budget_set(run->budget, run->nworkers, all);
    if (run->over || allowance + all < limit)
        return run->over;
    for (int i = 1; i < run->cfg->jobs[jm].nentries; i++)
        if (ptable_bytes(run->totals[jm]->tables[i]) > ptable_bytes(run->totals[jm]->tables[em]))
            em = i;
    t = run->totals[jm]->tables[em];
    abbey_err_set(&run->err,
                  "job %s: memory limit: the totals alone take %s with the allowance of %s, at "
                  "--memory-limit %s; entry '%s' holds %s in %zu keys (max_keys %llu): stopped, "
                  "no more reports written; raise --memory-limit or lower the entry's max_keys "
                  "(docs/RULES.md, \"Key limits\")",
                  run->cfg->jobs[jm].name, budget_text(allowance + all, a, sizeof a),
                  budget_text(allowance, b, sizeof b), budget_text(limit, c, sizeof c),
                  run->cfg->jobs[jm].entries[em]->name, budget_text(ptable_bytes(t), d, sizeof d),
                  ptable_count(t), (unsigned long long)run->cfg->jobs[jm].entries[em]->max_keys);
    run->over = 1;
    __atomic_store_n(&run->stop, 1, __ATOMIC_RELEASE);
    return 1;
}

/* Merge every table of thread w into the run's totals and empty them (their
 * lines counted in w->moved for run_part); an entry the totals lost to a
 * failed allocation stays failed in w and is dropped everywhere. */
static void flush(standalone_thread_t *w)
{
    run_t *run = w->run;
    abbey_err_t err;

    apr_thread_mutex_lock(run->lock);
    run->flushes++;
    for (int j = 0; j < run->cfg->njobs && !run->over; j++) {
        partial_t *p = w->tasks.partials[j];
        if (!p)
            continue;
        if (!run->totals[j])
            run->totals[j] = partial_create(&run->cfg->jobs[j], run->tpool);
        if (partial_merge(run->totals[j], p, &err) != APR_SUCCESS)
            log_msg("job %s: merging a worker's tables into the totals: %s", run->cfg->jobs[j].name,
                    err.msg);
        w->moved[j] += p->lines;
        w->moved_bad[j] += p->bad_lines;
        partial_clear(p);
        for (int i = 0; i < run->cfg->jobs[j].nentries; i++)
            ptable_release(p->tables[i]); /* the slot arrays too: memory is short */
        for (int i = 0; i < run->cfg->jobs[j].nentries; i++)
            if (run->totals[j]->failed[i]) {
                partial_fail(p, i, NULL);
                __atomic_store_n(&run->dead[j][i], 1, __ATOMIC_RELAXED);
            }
        totals_check(run);
    }
    apr_thread_mutex_unlock(run->lock);
    budget_set(run->budget, w->index, thread_bytes(w));
}

/* task_io_t's budget: publish what the thread holds; near the limit, flush.
 * Never cuts a part: the flush made room, or stopped the run. */
static int thread_budget(void *ctx, partial_t *out)
{
    standalone_thread_t *w = ctx;
    budget_t *b = w->run->budget;
    (void)out;
    budget_set(b, w->index, thread_bytes(w));
    if (budget_is_near(budget_limit(b), budget_used(b)))
        flush(w);
    return 0;
}

/* ---- reading ------------------------------------------------------------ */

static void run_part(standalone_thread_t *w, part_t *p)
{
    const rules_job_t *job = &w->run->cfg->jobs[p->job];
    engine_t *e;
    partial_t *out;
    uint64_t done, lines0, bad0;
    rejects_sink_t rs = {w->run->rfiles[p->job], p->path, 0};

    task_engines_get(&w->tasks, job, &e, &out);
    for (int i = 0; i < job->nentries; i++) /* another worker's table ran out: give ours back */
        if (!out->failed[i] && __atomic_load_n(&w->run->dead[p->job][i], __ATOMIC_RELAXED))
            partial_fail(out, i, NULL);
    lines0 = out->lines + w->moved[p->job]; /* flush moves lines into the totals */
    bad0 = out->bad_lines + w->moved_bad[p->job];
    rejects_attach(e, &rs);
    p->rv = task_run_file(e, p->path, p->start, p->end, 1, &w->tasks.io, out, &p->samples, &done,
                          w->pool, &p->err);
    engine_set_sink(e, NULL, NULL);
    if (w->run->budget) /* its last block too */
        thread_budget(w, out);
    p->lines = out->lines + w->moved[p->job] - lines0;
    p->bad_lines = out->bad_lines + w->moved_bad[p->job] - bad0;
    for (int i = 0; p->rv == APR_ENOMEM && i < job->nentries; i++)
        if (out->failed[i])
            __atomic_store_n(&w->run->dead[p->job][i], 1, __ATOMIC_RELAXED);
}

static void *APR_THREAD_FUNC thread_main(apr_thread_t *t, void *data)
{
    standalone_thread_t *w = data;
    run_t *run = w->run;
    int i;
    while (!__atomic_load_n(&run->stop, __ATOMIC_ACQUIRE) &&
           (i = __atomic_fetch_add(&run->next, 1, __ATOMIC_RELAXED)) < run->nparts)
        run_part(w, &run->parts[i]);
    return NULL; /* not apr_thread_exit: gcc 12 ASan misreports pthread_exit */
}

static void thread_init(standalone_thread_t *w, run_t *run, int index)
{
    apr_allocator_t *a;
    apr_allocator_create(&a);
    /* memory freed (a table dropped out of memory, a partial merged) goes back
     * to malloc beyond this, for the other threads and the export to reuse */
    apr_allocator_max_free_set(a, WORKER_MAX_FREE);
    apr_pool_create_ex(&w->pool, NULL, NULL, a);
    apr_allocator_owner_set(a, w->pool);
    w->run = run;
    w->index = index;
    w->moved = apr_pcalloc(w->pool, sizeof *w->moved * (size_t)(run->cfg->njobs + 1));
    w->moved_bad = apr_pcalloc(w->pool, sizeof *w->moved_bad * (size_t)(run->cfg->njobs + 1));
    task_engines_init(&w->tasks, run->cfg, 0, w->pool);
    if (run->budget) {
        w->tasks.io.stop = &run->stop;
        w->tasks.io.budget = thread_budget;
        w->tasks.io.budget_ctx = w;
    }
}

/* The workers' partials of job j merged into the totals flushed so far, or
 * the first of them, so that the tables are never held twice; each other one
 * is destroyed once merged (its memory goes back: see thread_init). The
 * caller owns the result. */
static partial_t *merge_job(run_t *run, int j, apr_pool_t *pool, int *failed)
{
    partial_t *totals = run->totals[j];
    abbey_err_t err;
    for (int w = 0; w < run->nworkers; w++) {
        partial_t *p = run->workers[w].tasks.partials[j];
        run->workers[w].tasks.partials[j] = NULL;
        if (!p)
            continue;
        if (!totals) {
            totals = p;
            continue;
        }
        if (partial_merge(totals, p, &err) != APR_SUCCESS) {
            log_msg("job %s: merging the workers' tables: %s", run->cfg->jobs[j].name, err.msg);
            *failed = 1;
        }
        partial_destroy(p);
    }
    return totals ? totals : partial_create(&run->cfg->jobs[j], pool);
}

/* Export every report of job from totals, but those of an entry that ran out
 * of memory, and add each one written to hb (may be NULL). Returns 1 when one
 * failed or was left out. */
static int export_job(const rules_job_t *job, partial_t *totals, const char *dir,
                      history_batch_t *hb, FILE *out, web_html_t *html, apr_pool_t *pool)
{
    int failed = 0;
    for (int r = 0; r < job->nreports; r++) {
        const rules_report_t *rep = &job->reports[r];
        const char *path =
            apr_psprintf(pool, "%s/%s/%s.%s", dir, job->name, rep->name, export_ext(rep));
        const export_rows_t *rows;
        abbey_err_t err;
        buf_t b;
        if (totals->failed[rep->entry->index]) {
            partial_fail(totals, rep->entry->index, &err); /* already failed: the message */
            log_msg("job %s: report %s not written: %s", job->name, rep->name, err.msg);
            if (out)
                fprintf(out, "  report %-20s not written: %s\n", rep->name, err.msg);
            failed = 1;
            continue;
        }
        rows = export_rows(rep, totals->tables[rep->entry->index], pool);
        buf_init(&b);
        export_rows_render(job, rep, rows, &b);
        if (export_write_file(path, b.data ? (const void *)b.data : "", b.len, pool, &err) !=
            APR_SUCCESS) {
            log_msg("job %s: %s", job->name, err.msg);
            failed = 1;
        } else {
            if (hb)
                history_batch_add(hb, job, rep, rows);
            if (out)
                fprintf(out, "  report %-20s %s\n", rep->name, path);
            if (html)
                web_html_add_report(html, job, rep, totals->tables[rep->entry->index], pool);
        }
        buf_free(&b);
    }
    return failed;
}

/* Write hb, the run from t0 to now (incomplete when failed), to h. Returns 1
 * when it could not be. */
static int write_history(history_t *h, history_batch_t *hb, apr_time_t t0, int failed,
                         const master_opts_t *opts, FILE *out)
{
    abbey_err_t err;
    int64_t now = (int64_t)(apr_time_now() / 1000);
    history_batch_set(hb, (int64_t)(t0 / 1000), now, failed);
    if (history_write(h, hb, now, opts->history_keep_ms, &err) != APR_SUCCESS) {
        log_msg("%s", err.msg);
        return 1;
    }
    if (out)
        fprintf(out, "history: %d reports kept in %s\n", history_batch_size(hb), history_path(h));
    return 0;
}

/* The job's bad lines by reason, and what its rejects writer kept. */
static void print_reasons(const run_t *run, int j, const partial_t *totals, FILE *out)
{
    rejects_stats_t st;
    const char *sep = "  bad lines by reason: ";
    if (!totals->bad_lines)
        return;
    for (int r = 0; r < PARTIAL_BAD_N; r++)
        if (totals->bad_by[r]) {
            fprintf(out, "%s%s %llu", sep, partial_reason_name(r),
                    (unsigned long long)totals->bad_by[r]);
            sep = ", ";
        }
    fputc('\n', out);
    if (!run->rfiles[j])
        return;
    rejects_stats(run->rfiles[j], &st);
    fprintf(out, "  rejects: %llu kept in %s", (unsigned long long)st.kept, st.path);
    if (st.not_kept)
        fprintf(out, ", %llu more not kept (max_per_round %llu)", (unsigned long long)st.not_kept,
                (unsigned long long)run->cfg->jobs[j].rejects.max_per_round);
    if (st.lost)
        fprintf(out, ", %llu lost (could not be written: see the log)",
                (unsigned long long)st.lost);
    fputc('\n', out);
}

/* Each entry's table: keys, approximate bytes, what folded (ptable.h). */
static void print_entries(const rules_job_t *job, const partial_t *totals, FILE *out)
{
    for (int i = 0; i < job->nentries; i++) {
        const rules_entry_t *en = job->entries[i];
        const ptable_t *t = totals->tables[i];
        fprintf(out, "  entry %s: %zu keys of %s %llu, ~%zu bytes", en->name, ptable_count(t),
                en->top_k ? "top capacity" : "max_keys",
                (unsigned long long)rules_entry_max_rows(en), ptable_bytes(t));
        if (ptable_overflow(t))
            fprintf(out, ", folded %llu lines and ~%llu keys into the overflow row",
                    (unsigned long long)ptable_folded_lines(t),
                    (unsigned long long)ptable_folded_keys(t));
        fputc('\n', out);
    }
}

/* The process's peak resident memory so far (getrusage). */
static void print_peak_rss(FILE *out)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0)
        fprintf(out, "peak RSS: %ld KiB (%.1f MiB)\n", ru.ru_maxrss, ru.ru_maxrss / 1024.0);
}

/* Per-source bad lines and their samples. */
static void print_bad(const run_t *run, int j, FILE *out)
{
    for (int i = 0; i < run->nparts; i++) {
        const part_t *p = &run->parts[i];
        if (p->job != j || !p->bad_lines)
            continue;
        fprintf(out, "  bad lines: %llu in %s", (unsigned long long)p->bad_lines,
                strcmp(p->path, SOURCE_STDIN) == 0 ? "stdin" : p->path);
        if (p->start)
            fprintf(out, " (the part from byte %llu)", (unsigned long long)p->start);
        fputc('\n', out);
        for (int s = 0; s < p->samples.n; s++) {
            const engine_sample_t *x = &p->samples.s[s];
            char shown[4 * 100 + 1]; /* the first 100 bytes, escaped (utf8_escape) */
            fprintf(out, "    at byte %llu (%s): %s\n", (unsigned long long)x->offset, x->why,
                    utf8_escape(shown, sizeof shown, x->text, x->len < 100 ? x->len : 100));
        }
    }
}

int master_standalone_once(const rules_config_t *cfg, const master_opts_t *opts, FILE *out,
                           apr_pool_t *pool)
{
    apr_array_header_t *parts = apr_array_make(pool, 64, sizeof(part_t));
    apr_thread_t **threads;
    apr_time_t t0 = apr_time_now();
    apr_pool_t *rpool = mem_xpool(pool); /* the rejects writers: destroyed, they close */
    rejects_t *rejects = rejects_create(rpool);
    history_t *history = NULL;
    history_batch_t *hb = NULL;
    abbey_err_t err;
    web_html_t *html = opts->html ? web_html_begin(cfg, pool) : NULL;
    run_t run;
    int failed = 0;

    if (opts->history && strcmp(opts->history, "none") != 0) { /* before a long run, not after */
        if (history_open(opts->history, pool, &history, &err) != APR_SUCCESS) {
            log_msg("%s", err.msg);
            return 2;
        }
        hb = history_batch_create(0, 0, 0, 0);
    }
    memset(&run, 0, sizeof run);
    run.cfg = cfg;
    mem_fail_from_env(); /* test hook: ABBEY_TEST_ALLOC_FAIL=n fails the n-th allocation */
    run.dead = apr_pcalloc(pool, sizeof *run.dead * (size_t)(cfg->njobs + 1));
    run.rfiles = apr_pcalloc(pool, sizeof *run.rfiles * (size_t)(cfg->njobs + 1));
    for (int j = 0; j < cfg->njobs; j++) {
        run.dead[j] = apr_pcalloc(pool, (size_t)cfg->jobs[j].nentries + 1);
        run.rfiles[j] = rejects_file(rejects, &cfg->jobs[j]);
    }
    for (int j = 0; j < cfg->njobs; j++)
        if (!opts->stdin_job)
            failed |= plan_job(&run, j, opts->workers, parts, pool);
        else if (strcmp(cfg->jobs[j].name, opts->stdin_job) == 0)
            add_part(parts, j, SOURCE_STDIN, 0, UINT64_MAX); /* the others do not run */
    run.parts = (part_t *)parts->elts;
    run.nparts = parts->nelts;
    run.nworkers = opts->workers;
    run.workers = apr_pcalloc(pool, sizeof(standalone_thread_t) * (size_t)run.nworkers);
    run.totals = apr_pcalloc(pool, sizeof *run.totals * (size_t)(cfg->njobs + 1));
    if (opts->memory_limit) { /* a slot per thread, and one for the totals */
        run.budget =
            budget_create(opts->memory_limit, budget_allowance(run.nworkers, task_io_size(cfg, 0)),
                          run.nworkers + 1, pool);
        run.tpool = mem_xpool(pool);
        if (apr_thread_mutex_create(&run.lock, APR_THREAD_MUTEX_DEFAULT, pool) != APR_SUCCESS)
            mem_oom("an APR mutex", 0);
    }
    threads = apr_pcalloc(pool, sizeof(apr_thread_t *) * (size_t)run.nworkers);
    for (int w = 0; w < run.nworkers; w++)
        thread_init(&run.workers[w], &run, w);
    if (run.nworkers == 1) {
        thread_main(NULL, &run.workers[0]);
    } else {
        for (int w = 0; w < run.nworkers; w++)
            apr_thread_create(&threads[w], NULL, thread_main, &run.workers[w], pool);
        for (int w = 0; w < run.nworkers; w++) {
            apr_status_t trv;
            apr_thread_join(&trv, threads[w]);
        }
    }
    for (int i = 0; i < run.nparts; i++)
        if (run.parts[i].rv == APR_ENOMEM) {
            log_msg("job %s: %s from byte %llu: %s; the entry is dropped, the others read on",
                    cfg->jobs[run.parts[i].job].name, run.parts[i].path,
                    (unsigned long long)run.parts[i].start, run.parts[i].err.msg);
            failed = 1;
        } else if (run.parts[i].rv != APR_SUCCESS) {
            if (!run.over) /* else a read stopped by the budget, said below */
                log_msg("%s", run.parts[i].err.msg);
            failed = 1;
        }
    for (int j = 0; j < cfg->njobs && !run.over; j++) {
        const rules_job_t *job = &cfg->jobs[j];
        partial_t *totals;
        double secs;
        if (opts->stdin_job && strcmp(job->name, opts->stdin_job) != 0)
            continue;
        totals = run.totals[j] = merge_job(&run, j, pool, &failed);
        if (run.budget && totals_check(&run))
            break; /* this job's totals alone reached the limit: no more reports */
        secs = (double)(apr_time_now() - t0) / 1e6;
        if (out) {
            fprintf(out, "job %s: %llu lines (%llu bad), %llu bytes, %.3f s, %.0f lines/s\n",
                    job->name, (unsigned long long)totals->lines,
                    (unsigned long long)totals->bad_lines, (unsigned long long)totals->bytes, secs,
                    secs > 0 ? (double)totals->lines / secs : 0.0);
            if (totals->regex_limit_hits)
                fprintf(out,
                        "  regex_limit_hits: %llu (lines on which a regex gave up at its "
                        "limits; the match counted as false)\n",
                        (unsigned long long)totals->regex_limit_hits);
            print_reasons(&run, j, totals, out);
            print_bad(&run, j, out);
            print_entries(job, totals, out);
        }
        failed |= export_job(job, totals, opts->export_dir, hb, out, html, pool);
        if (html)
            web_html_job_counts(html, job->name, totals->lines, totals->bad_lines, totals->bytes);
        partial_destroy(totals);
        run.totals[j] = NULL;
    }
    if (out && run.budget) {
        char lim[32];
        fprintf(out,
                "memory limit %s: the threads' tables were merged into the totals %llu "
                "times near it\n",
                budget_text(budget_limit(run.budget), lim, sizeof lim),
                (unsigned long long)run.flushes);
    }
    if (run.over) {
        log_msg("%s", run.err.msg);
        if (out)
            fprintf(out, "stopped: %s\n", run.err.msg);
        failed = 1;
    }
    if (history) {
        if (!run.over) /* else nothing more is written */
            failed |= write_history(history, hb, t0, failed, opts, out);
        history_batch_free(hb);
        history_close(history);
    }
    if (html && !run.over) {
        if (web_html_write(html, opts->html, pool, &err) != APR_SUCCESS) {
            log_msg("%s", err.msg);
            failed = 1;
        } else if (out) {
            fprintf(out, "html report %s\n", opts->html);
        }
    }
    if (out)
        print_peak_rss(out);
    for (int w = 0; w < run.nworkers; w++)
        apr_pool_destroy(run.workers[w].pool);
    apr_pool_destroy(rpool);
    return failed;
}
