/* sched_ident.c - the files of globs, one reader each (docs/CLUSTER.md "Globs over a
 * rotating series"; the scheduler's internals: sched_int.h).
 *
 * An expansion reports, with each match, its file: device and inode, size,
 * and the fingerprint of its first 4 KiB (decompressed for an archive; none
 * when they hold no whole line). The job keeps the files its globs list
 * (sched_ident_t, by dev:inode) and gives each new file a read task of its
 * own, "<path where first listed>#dev:inode:n" (n from the job's counter,
 * so a later file on a reused inode never gets a source id already merged):
 * that task reads that file whatever its name becomes (the lease names the
 * file and its identity), never a next instance. One listing:
 *  1. touches every file known and listed (its path, size, head), unless its
 *     dev:inode now names another file (a plain file smaller than listed
 *     before, a head that changed, a name that became an archive's or
 *     stopped being one): that file is detached (as gone) and the match is
 *     new;
 *  2. a new archive whose head equals that of a plain file read by a task
 *     and not listed now (standalone's rule, docs/RULES.md "Rotated
 *     series") continues it: that task reads the archive from its committed
 *     offset on, under its own source id (an archive's offsets are
 *     decompressed bytes: the same as its original's), so whatever was read
 *     of the original is not read again, and what it held past that offset
 *     is read from the archive. A new archive whose head equals a listed
 *     plain file's is a copy of it (gzip -k, or gzip still running) and is
 *     left unread (looked at again by the next listing). Any other new file
 *     gets a task from offset 0; an archive whose head cannot be read yet
 *     (still being written) waits;
 *  3. files not listed pause their tasks (nothing is leased for them); one
 *     not listed by SCHED_IDENT_GRACE listings in a row is forgotten, and
 *     its task leaves the job.
 * An archive read to its end finishes its task (paused: an archive is
 * final). Each glob keeps its files in a list by the listing that last
 * named them, least recent first, so step 3 walks only the files missing,
 * never all of them. Everything here follows from journaled expansions and
 * completions, so recovery replays it exactly; checkpoints hold the files.
 * An expansion from a slave that reports paths alone (an older one) adds a
 * task per path not seen before, as before files were reported. */
#include "sched_int.h"

#include <apr_strings.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "instance.h"
#include "invariant.h"
#include "jsonio.h"
#include "log.h"
#include "mem.h"
#include "source.h"

#define SCHED_IDENT_GRACE 3 /* listings a file may be missing from before it is forgotten */

struct sched_name_t {
    UT_hash_handle hh;
    char s[];
};

const char *sched_intern(sched_t *s, const char *str)
{
    sched_name_t *n = NULL;
    size_t len = strlen(str);
    HASH_FIND(hh, s->names, str, len, n);
    if (!n) {
        n = apr_pcalloc(s->pool, sizeof(*n) + len + 1);
        memcpy(n->s, str, len + 1);
        HASH_ADD_KEYPTR(hh, s->names, n->s, len, n);
    }
    return n->s;
}

/* ---- a glob's list, the head index ---- */

static void list_unlink(sched_task_t *g, sched_ident_t *f)
{
    if (f->prev)
        f->prev->next = f->next;
    else
        g->files_head = f->next;
    if (f->next)
        f->next->prev = f->prev;
    else
        g->files_tail = f->prev;
    f->prev = f->next = NULL;
}

static void list_append(sched_task_t *g, sched_ident_t *f)
{
    f->prev = g->files_tail;
    f->next = NULL;
    if (g->files_tail)
        g->files_tail->next = f;
    else
        g->files_head = f;
    g->files_tail = f;
}

static void head_unindex(sched_job_t *job, sched_ident_t *f)
{
    sched_ident_t *h = NULL;
    if (!f->indexed)
        return;
    HASH_FIND(hf, job->by_head, &f->head, sizeof f->head, h);
    ABBEY_ASSERT(h != NULL); /* an indexed file is on its head's chain */
    if (h == f) {
        HASH_DELETE(hf, job->by_head, f);
        if (f->same_head)
            HASH_ADD(hf, job->by_head, head, sizeof f->head, f->same_head);
    } else {
        while (h->same_head != f)
            h = h->same_head;
        h->same_head = f->same_head;
    }
    f->same_head = NULL;
    f->indexed = 0;
}

/* A plain file is indexed by its head while a task reads it and it has one:
 * the files a new archive may continue. */
static void head_sync(sched_job_t *job, sched_ident_t *f)
{
    sched_ident_t *h = NULL;
    head_unindex(job, f);
    if (!f->task || !f->head.len || f->archive)
        return;
    HASH_FIND(hf, job->by_head, &f->head, sizeof f->head, h);
    if (h) {
        f->same_head = h->same_head;
        h->same_head = f;
    } else {
        HASH_ADD(hf, job->by_head, head, sizeof f->head, f);
    }
    f->indexed = 1;
}

/* ---- files and their tasks ---- */

/* Listed by its glob's last listing, as itself. */
static int listed(const sched_ident_t *f)
{
    return !f->detached && f->stamp == f->glob->stamp;
}

/* Pause or resume t as its file says. */
static void task_refresh(sched_job_t *job, sched_task_t *t)
{
    int paused = t->finished || !t->file || t->file->absent || t->file->detached;
    if (paused != t->paused)
        sched_task_pause(job, t, paused);
}

/* 1 when m (listed with a name that says archive or not) is still file f. */
static int still_same(const sched_ident_t *f, const sched_file_t *m, int archive)
{
    if (f->archive != archive || (!archive && m->size < f->size))
        return 0; /* a plain file smaller than before: cut, or another file on its inode */
    if (!f->has_head || !m->has_head || m->head_len > f->head.len)
        return 1; /* (a head that grew: it held less than 4 KiB, or no whole line, before) */
    return m->head_len == f->head.len && m->head_hash == f->head.hash;
}

static void touch(sched_t *s, sched_job_t *job, sched_ident_t *f, const char *path,
                  const sched_file_t *m)
{
    f->stamp = f->glob->stamp;
    list_unlink(f->glob, f);
    list_append(f->glob, f);
    f->size = m->size;
    if (strcmp(f->path, path) != 0)
        f->path = sched_intern(s, path); /* renamed (a rotation) */
    if (m->has_head && (!f->has_head || m->head_len > f->head.len)) {
        f->has_head = 1;
        head_unindex(job, f);
        f->head.len = m->head_len;
        f->head.hash = m->head_hash;
        head_sync(job, f);
    }
    if (f->absent) {
        f->absent = 0;
        if (f->task)
            task_refresh(job, f->task);
    }
}

static sched_ident_t *file_new(sched_t *s, sched_job_t *job, sched_task_t *glob, const char *path,
                               const sched_file_t *m, int archive)
{
    sched_ident_t *f = mem_xcalloc(1, sizeof *f);
    f->key.dev = m->dev;
    f->key.ino = m->ino;
    snprintf(f->id, sizeof f->id, "%" PRIu64 ":%" PRIu64, m->dev, m->ino);
    f->head.len = m->head_len;
    f->head.hash = m->head_hash;
    f->has_head = m->has_head;
    f->archive = archive;
    f->size = m->size;
    f->path = sched_intern(s, path);
    f->glob = glob;
    f->stamp = glob->stamp;
    HASH_ADD(hh, job->idents, key, sizeof f->key, f);
    list_append(glob, f);
    job->nidents++;
    return f;
}

static void file_free(sched_job_t *job, sched_ident_t *f)
{
    list_unlink(f->glob, f);
    if (!f->detached)
        HASH_DELETE(hh, job->idents, f);
    head_unindex(job, f);
    if (f->task)
        f->task->file = NULL;
    job->nidents--;
    free(f);
}

/* Forget f; its task (if any) leaves the job. */
static void file_forget(sched_t *s, sched_job_t *job, sched_ident_t *f)
{
    sched_task_t *t = f->task;
    file_free(job, f);
    if (t) {
        task_refresh(job, t);
        sched_task_leave(s, job, t);
    }
}

/* A task of job for glob's new file f, from offset 0. */
static void task_new(sched_t *s, sched_job_t *job, sched_task_t *glob, sched_ident_t *f)
{
    instance_id_t id = {f->key.dev, f->key.ino, ++job->ident_seq};
    sched_task_t *t = sched_task_alloc(s, job, SCHED_READ, f->path, glob->labels, glob->nlabels);
    t->ident = 1;
    t->glob = glob->source;
    instance_format(&id, t->instance);
    HASH_ADD(hi, job->by_inst, instance, strlen(t->instance), t);
    t->file = f;
    f->task = t;
    head_sync(job, f);
}

/* The plain file a new archive m continues: the first one read by a task,
 * with m's head, that is not listed now; NULL when none, with *copy set
 * when one with that head is listed (m is a copy of it). */
static sched_ident_t *original_of(sched_job_t *job, const sched_file_t *m, int *copy)
{
    sched_head_t k = {m->head_len, m->head_hash};
    sched_ident_t *f = NULL;
    *copy = 0;
    if (!k.len)
        return NULL;
    HASH_FIND(hf, job->by_head, &k, sizeof k, f);
    for (; f; f = f->same_head) {
        if (!listed(f))
            return f;
        *copy = 1;
    }
    return NULL;
}

/* orig's task reads f from now on, from its committed offset. */
static void continue_into(sched_t *s, sched_job_t *job, sched_ident_t *orig, sched_ident_t *f)
{
    sched_task_t *t = orig->task;
    orig->task = NULL;
    head_sync(job, orig);
    f->task = t;
    t->file = f;
    t->finished = 0;
    head_sync(job, f);
    task_refresh(job, t);
    if (!s->replaying)
        log_msg("job %s: %s holds the first %" PRIu64 " bytes of %s (no longer listed): "
                "%s#%s reads on from it at byte %" PRIu64,
                job->cfg->name, f->path, f->head.len, orig->path, t->source, t->instance,
                t->offset);
}

/* Files of glob not listed by its latest listing: paused, forgotten after the grace. */
static void files_missing(sched_t *s, sched_job_t *job, sched_task_t *glob)
{
    sched_ident_t *f = glob->files_head, *next;
    for (; f && f->stamp < glob->stamp; f = next) {
        next = f->next;
        if (f->stamp + SCHED_IDENT_GRACE <= glob->stamp) {
            file_forget(s, job, f);
        } else if (!f->absent) {
            f->absent = 1;
            if (f->task)
                task_refresh(job, f->task);
        }
    }
}

/* Step 1 for listing i: 1 when its file is new to glob. */
static int file_known(sched_t *s, sched_job_t *job, sched_task_t *glob, const sched_completion_t *c,
                      int i)
{
    const sched_file_t *m = &c->files[i];
    sched_fkey_t k = {m->dev, m->ino};
    sched_ident_t *f = NULL;
    int archive;
    HASH_FIND(hh, job->idents, &k, sizeof k, f);
    /* (what the name says: the same name says the same) */
    archive =
        f && strcmp(f->path, c->paths[i]) == 0 ? f->archive : source_path_is_stream(c->paths[i]);
    if (f && f->glob != glob)
        return 0; /* another glob's file */
    if (f && f->stamp == glob->stamp)
        return 0; /* listed twice in this listing (a hard link) */
    if (f && still_same(f, m, archive)) {
        touch(s, job, f, c->paths[i], m);
        return 0;
    }
    if (f) { /* its dev:inode names another file now: f is gone */
        HASH_DELETE(hh, job->idents, f);
        f->detached = 1;
        if (f->task)
            task_refresh(job, f->task);
    }
    return 1;
}

/* Step 2 for the new file listed as i. */
static void file_added(sched_t *s, sched_job_t *job, sched_task_t *glob,
                       const sched_completion_t *c, int i)
{
    const sched_file_t *m = &c->files[i];
    sched_fkey_t k = {m->dev, m->ino};
    sched_ident_t *f = NULL, *orig;
    int copy = 0, archive = source_path_is_stream(c->paths[i]);
    HASH_FIND(hh, job->idents, &k, sizeof k, f);
    if (f || !m->has_head)
        return; /* listed before in this listing, or an archive not readable yet */
    orig = archive ? original_of(job, m, &copy) : NULL;
    if (!orig && copy)
        return; /* a copy of a listed file, whose task reads its lines */
    if (!orig && job->tasks->nelts >= SCHED_MAX_TASKS) {
        if (!job->cap_logged)
            log_msg("job %s: %d tasks, the most allowed; file %s and later ones ignored",
                    job->cfg->name, SCHED_MAX_TASKS, c->paths[i]);
        job->cap_logged = 1;
        return;
    }
    f = file_new(s, job, glob, c->paths[i], m, archive);
    if (orig)
        continue_into(s, job, orig, f);
    else
        task_new(s, job, glob, f);
}

/* The three steps of a listing with files (above). */
static void files_listed(sched_t *s, sched_job_t *job, sched_task_t *glob,
                         const sched_completion_t *c)
{
    uint8_t *fresh = mem_xcalloc((size_t)c->npaths + 1, 1);
    const char *error = NULL;
    glob->stamp++;
    for (int i = 0; i < c->npaths; i++) {
        if (c->files[i].error)
            error = error ? error : c->files[i].error;
        else if (!job->by_path || !sched_task_find(job, SCHED_READ, c->paths[i]))
            fresh[i] = (uint8_t)file_known(s, job, glob, c, i); /* (else a file source's) */
    }
    for (int i = 0; i < c->npaths; i++)
        if (fresh[i])
            file_added(s, job, glob, c, i);
    free(fresh);
    files_missing(s, job, glob);
    if (error && !glob->error_logged && !s->replaying)
        log_msg("job %s: %s: %s (left out; logged again only after a listing without such a "
                "match)",
                job->cfg->name, glob->source, error);
    glob->error_logged = error != NULL;
}

/* A slave that reports paths alone (older): a task per path not seen before. */
static void paths_only(sched_t *s, sched_job_t *job, sched_task_t *glob,
                       const sched_completion_t *c)
{
    for (int i = 0; i < c->npaths; i++) {
        sched_task_t *t = sched_task_find(job, SCHED_READ, c->paths[i]);
        if (t) {
            if (!t->glob)
                t->glob = glob->source; /* kept on reload while this glob stays */
            if (t->gone) {              /* left the config, listed again: keep it */
                t->gone = 0;
                t->glob = glob->source;
                t->labels = glob->labels;
                t->nlabels = glob->nlabels;
                job->ngone--;
                s->ngone--;
            }
            continue;
        }
        if (job->tasks->nelts >= SCHED_MAX_TASKS) {
            if (!job->cap_logged)
                log_msg("job %s: %d tasks, the most allowed; path %s and later ones ignored",
                        job->cfg->name, SCHED_MAX_TASKS, c->paths[i]);
            job->cap_logged = 1;
            return;
        }
        sched_task_add(s, job, SCHED_READ, c->paths[i], glob->labels, glob->nlabels)->glob =
            glob->source;
    }
}

void sched_expand_apply(sched_t *s, sched_job_t *job, sched_task_t *glob,
                        const sched_completion_t *c)
{
    if (glob->gone)
        return; /* its glob left the config: the completion is recorded, nothing added */
    if (c->files)
        files_listed(s, job, glob, c);
    else
        paths_only(s, job, glob, c);
}

void sched_ident_read(sched_job_t *job, sched_task_t *t, const sched_completion_t *c)
{
    if (t->file && t->file->archive && !t->finished && c->at_end > 0 && c->size >= 0 &&
        c->end >= c->size) {
        t->finished = 1; /* an archive is final */
        task_refresh(job, t);
    }
}

void sched_ident_lease(const sched_task_t *t, sched_lease_t *out)
{
    ABBEY_ASSERT(t->file != NULL); /* a task without a file is paused */
    out->file = t->file->path;
    memcpy(out->file_id, t->file->id, sizeof out->file_id);
}

void sched_ident_forget(sched_job_t *job, sched_task_t *glob)
{
    while (glob->files_head)
        file_free(job, glob->files_head);
}

void sched_ident_drop(sched_t *s, sched_job_t *job, sched_task_t *t)
{
    HASH_DELETE(hi, job->by_inst, t);
    if (t->file) {
        t->file->task = NULL;
        head_sync(job, t->file);
        t->file = NULL;
    }
    t->next_free = s->free_tasks;
    s->free_tasks = t;
}

void sched_ident_free_all(sched_t *s)
{
    for (int j = 0; j < s->njobs; j++) {
        sched_job_t *job = &s->jobs[j];
        for (int i = 0; i < job->tasks->nelts; i++) {
            sched_task_t *t = APR_ARRAY_IDX(job->tasks, i, sched_task_t *);
            if (t->kind == SCHED_EXPAND)
                sched_ident_forget(job, t);
        }
    }
    HASH_CLEAR(hh, s->names);
}

/* ---- "files": completions and journal records ---- */

/* One item of "files" into *f (strings pointing into o). */
static void file_parse(jsonio_rd_t *rd, const json_t *o, sched_file_t *f)
{
    const char *id, *hash;
    int64_t head;
    char *end;
    if (!json_is_object(o)) {
        jsonio_fail(rd, "files", "has an item that is not an object");
        return;
    }
    if ((f->error = jsonio_get_str(rd, o, "error", 0, 4096)) != NULL)
        return;
    id = jsonio_get_str(rd, o, "id", 1, 64);
    if (id && instance_file_parse(id, &f->dev, &f->ino) != 0)
        jsonio_fail(rd, "id", "must be \"dev:inode\" (decimal)");
    int64_t size = jsonio_get_int(rd, o, "size", 1, 0);
    head = jsonio_get_int(rd, o, "head", 0, 0);
    if (head > INSTANCE_HEAD)
        jsonio_fail(rd, "head", "must be at most %d", INSTANCE_HEAD);
    hash = head >= 0 ? jsonio_get_str(rd, o, "hash", 1, 16) : NULL;
    if (hash) {
        f->head_hash = strtoull(hash, &end, 16);
        if (strlen(hash) != 16 || *end)
            jsonio_fail(rd, "hash", "must be 16 hex digits");
    }
    f->size = size > 0 ? (uint64_t)size : 0;
    f->has_head = head >= 0;
    f->head_len = head > 0 ? (uint32_t)head : 0;
}

void sched_files_parse(jsonio_rd_t *rd, const json_t *arr, int npaths, apr_pool_t *pool,
                       const sched_file_t **out)
{
    char where[sizeof rd->where];
    *out = NULL;
    if (!arr || rd->failed || npaths < 0)
        return; /* (no paths: not an expansion, whose "paths" are required) */
    if (!json_is_array(arr) || json_array_size(arr) != (size_t)npaths) {
        jsonio_fail(rd, "files", "must be an array with an item per path (%d)", npaths);
        return;
    }
    sched_file_t *f = apr_pcalloc(pool, sizeof *f * ((size_t)npaths + 1));
    memcpy(where, rd->where, sizeof where);
    for (int i = 0; i < npaths && !rd->failed; i++) {
        jsonio_where(rd, "%s%sfiles item %d", where, where[0] ? ": " : "", i);
        file_parse(rd, json_array_get(arr, (size_t)i), &f[i]);
    }
    memcpy(rd->where, where, sizeof where);
    *out = rd->failed ? NULL : f;
}

static json_t *file_json(const sched_file_t *f)
{
    char id[48], hash[17];
    if (f->error)
        return json_pack("{s:s}", "error", f->error);
    snprintf(id, sizeof id, "%" PRIu64 ":%" PRIu64, f->dev, f->ino);
    json_t *o = json_pack("{s:s, s:I}", "id", id, "size", (json_int_t)f->size);
    if (o && f->has_head) {
        snprintf(hash, sizeof hash, "%016" PRIx64, f->head_hash);
        json_object_set_new(o, "head", json_integer(f->head_len));
        json_object_set_new(o, "hash", json_string(hash));
    }
    return o;
}

json_t *sched_files_json(const sched_completion_t *c)
{
    int bad = 0;
    json_t *a = json_array();
    for (int i = 0; i < c->npaths; i++)
        jsonio_push(a, file_json(&c->files[i]), &bad);
    if (bad) {
        json_decref(a);
        return NULL;
    }
    return a;
}

/* ---- checkpoints ---- */

json_t *sched_ident_ckpt(const sched_job_t *job, int *bad)
{
    json_t *a = json_array();
    char hash[17];
    for (int i = 0; i < job->tasks->nelts; i++) {
        const sched_task_t *g = APR_ARRAY_IDX(job->tasks, i, sched_task_t *);
        for (const sched_ident_t *f = g->kind == SCHED_EXPAND ? g->files_head : NULL; f;
             f = f->next) {
            snprintf(hash, sizeof hash, "%016" PRIx64, f->head.hash);
            jsonio_push(a,
                        json_pack("{s:s, s:s, s:b, s:o, s:o, s:s, s:s, s:o, s:b, s:b, s:o}", "glob",
                                  g->source, "id", f->id, "archive", f->archive, "size",
                                  jsonio_u64(f->size), "head",
                                  f->has_head ? json_integer((json_int_t)f->head.len) : json_null(),
                                  "hash", hash, "path", f->path, "stamp", jsonio_u64(f->stamp),
                                  "absent", f->absent, "detached", f->detached, "task",
                                  f->task ? json_string(f->task->instance) : json_null()),
                        bad);
        }
    }
    return a;
}

/* One item of a checkpoint's "files" into a new file of job. */
static void restore_file(sched_rx_t *x, sched_job_t *job, const json_t *o)
{
    sched_fkey_t k = {0, 0};
    sched_ident_t *f = NULL;
    sched_task_t *t = NULL;
    const char *glob = jsonio_get_str(&x->rd, o, "glob", 1, SIZE_MAX);
    const char *id = jsonio_get_str(&x->rd, o, "id", 1, 64);
    const char *hash = jsonio_get_str(&x->rd, o, "hash", 1, 16);
    const char *path = jsonio_get_str(&x->rd, o, "path", 1, SIZE_MAX);
    const json_t *head = json_object_get(o, "head"), *task = json_object_get(o, "task");
    int archive = jsonio_get_bool(&x->rd, o, "archive", 1);
    int absent = jsonio_get_bool(&x->rd, o, "absent", 1);
    int detached = jsonio_get_bool(&x->rd, o, "detached", 1);
    uint64_t size = jsonio_get_u64(&x->rd, o, "size"), stamp = jsonio_get_u64(&x->rd, o, "stamp");
    sched_task_t *g = glob ? sched_task_find(job, SCHED_EXPAND, glob) : NULL;
    if (x->rd.failed)
        return;
    if (!g || instance_file_parse(id, &k.dev, &k.ino) != 0 || !*path || stamp > g->stamp)
        jsonio_fail(&x->rd, "glob/id/path/stamp",
                    "must name a glob of the job, a \"dev:inode\", a path and a listing of it");
    else if (!json_is_null(head) && (!json_is_integer(head) || json_integer_value(head) < 0 ||
                                     json_integer_value(head) > INSTANCE_HEAD))
        jsonio_fail(&x->rd, "head", "must be null or an integer from 0 to %d", INSTANCE_HEAD);
    else if (!json_is_null(task) && !json_is_string(task))
        jsonio_fail(&x->rd, "task", "must be an instance or null");
    if (!x->rd.failed && json_is_string(task)) {
        const char *inst = json_string_value(task);
        HASH_FIND(hi, job->by_inst, inst, strlen(inst), t);
        if (!t || t->file)
            jsonio_fail(&x->rd, "task", "names no glob read task, or one with a file already");
    }
    if (!x->rd.failed && !detached)
        HASH_FIND(hh, job->idents, &k, sizeof k, f);
    if (f)
        jsonio_fail(&x->rd, "id", "names a file restored already");
    if (x->rd.failed)
        return;
    f = file_new(x->s, job, g, path, &(sched_file_t){.dev = k.dev, .ino = k.ino, .size = size},
                 archive);
    f->has_head = !json_is_null(head);
    f->head.len = f->has_head ? (uint64_t)json_integer_value(head) : 0;
    f->head.hash = strtoull(hash, NULL, 16);
    f->stamp = stamp;
    f->absent = absent;
    if (detached) {
        HASH_DELETE(hh, job->idents, f);
        f->detached = 1;
    }
    if (t) {
        f->task = t;
        t->file = f;
        head_sync(job, f);
    }
}

void sched_ident_restore(sched_rx_t *x, sched_job_t *job, const json_t *arr)
{
    for (size_t i = 0; i < json_array_size(arr) && !x->rd.failed; i++) {
        jsonio_where(&x->rd, "checkpoint: job '%s' file %zu", job->cfg->name, i);
        restore_file(x, job, json_array_get(arr, i));
    }
    for (int i = 0; i < job->tasks->nelts; i++) { /* (the rounds restored hold their states) */
        sched_task_t *t = APR_ARRAY_IDX(job->tasks, i, sched_task_t *);
        if (t->ident)
            t->paused = t->finished || !t->file || t->file->absent || t->file->detached;
    }
}
