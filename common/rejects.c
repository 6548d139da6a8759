/* rejects.c - the bad-line writers (see rejects.h).
 *
 * A writer is found by its job's name (then its directory) in the process's
 * table and lives as long as the table's pool. Its file is opened on the first line (creating
 * the directory, one level), appended to with one write(2) per record, and
 * rotated by renames when a record would take it past max_size; the file
 * that follows a rotation is created with O_EXCL, so nothing put in its
 * place in between is ever written through. Any failure closes the file,
 * is logged unless it is the one logged last, and makes the rest of the
 * round's lines "lost" without another system call; the next round tries
 * again. Escaping goes through utf8_escape into a scratch buffer made with
 * the writer, and the record is built in a buf_t that only grows. */
#include "rejects.h"

#include <apr_hash.h>
#include <apr_strings.h>
#include <apr_thread_mutex.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"
#include "partial.h"
#include "utf8.h"

#define REJECTS_SOURCE_MAX 4096  /* bytes of a source name a record keeps */
#define REJECTS_NOT_REGULAR (-1) /* open_file: the path is not a regular file */

struct rejects_t {
    apr_pool_t *pool;
    apr_thread_mutex_t *lock; /* files, and allocating from pool */
    apr_hash_t *files;        /* job name -> its writers (one per directory), a list */
};

struct rejects_file_t {
    struct rejects_file_t *next; /* the job's writer for another directory (set once) */
    apr_thread_mutex_t *lock;    /* everything below */
    const char *dir, *path, *job;
    char *from, *to; /* rotation's file names (room for path + ".NNN") */
    size_t namecap;
    uint64_t max_per_round, max_size;
    int keep;
    int fd;        /* -1: not open */
    uint64_t size; /* of the open file */
    int any_round;
    uint64_t round;
    uint64_t kept_round, not_kept_round;
    uint64_t kept, not_kept, lost;
    int failing;    /* writing failed in this round: its lines are lost */
    int last_error; /* the failure logged last (0: none, or it was fixed) */
    int torn;       /* a write stopped inside a record: the next one starts with '\n' */
    buf_t rec;      /* the record being written */
    char *esc;      /* utf8_escape's output: 4 * REJECTS_LINE_MAX + 1 bytes */
};

static const char *error_text(int e, char *buf, size_t cap)
{
    if (e == REJECTS_NOT_REGULAR || e == ENXIO) /* ENXIO: a FIFO nobody reads (O_NONBLOCK) */
        return "not a regular file (refused)";
    if (e == ELOOP)
        return "a symbolic link (refused: the writer never follows one)";
    return apr_strerror(APR_FROM_OS_ERROR(e), buf, cap);
}

/* ---- the file --------------------------------------------------------- */

static void close_file(rejects_file_t *f)
{
    if (f->fd >= 0)
        close(f->fd);
    f->fd = -1;
}

/* Open f->path for appending (excl: it must not exist). 0 or an errno. */
static int open_file(rejects_file_t *f, int excl)
{
    struct stat st;
    int fd;
    if (mkdir(f->dir, 0750) != 0 && errno != EEXIST)
        return errno;
    fd = open(f->path,
              O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC |
                  (excl ? O_EXCL : 0),
              0640);
    if (fd < 0)
        return errno;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return REJECTS_NOT_REGULAR;
    }
    f->fd = fd;
    f->size = (uint64_t)st.st_size;
    return 0;
}

/* <path>.i into buf (f->namecap bytes; i 0: the path itself). */
static const char *rotated(const rejects_file_t *f, char *buf, int i)
{
    if (i == 0)
        return f->path;
    snprintf(buf, f->namecap, "%s.%d", f->path, i);
    return buf;
}

/* .keep-1 -> .keep, ..., the file -> .1; then a new file. 0 or an errno. */
static int rotate(rejects_file_t *f)
{
    close_file(f);
    for (int i = f->keep - 1; i >= 0; i--)
        if (rename(rotated(f, f->from, i), rotated(f, f->to, i + 1)) != 0 && errno != ENOENT)
            return errno;
    f->torn = 0;
    return open_file(f, 1);
}

/* Write p[0..n) (ending with '\n') whole. 0 or an errno; f->torn when only a
 * part of it went. */
static int write_all(rejects_file_t *f, const uint8_t *p, size_t n)
{
    size_t done = 0;
    while (done < n) {
        ssize_t w = write(f->fd, p + done, n - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            f->torn = f->torn || done > 0;
            return w < 0 ? errno : ENOSPC;
        }
        done += (size_t)w;
        f->size += (uint64_t)w;
    }
    f->torn = 0;
    return 0;
}

/* f->rec to the file: opened or rotated as needed. 0 or an errno. */
static int write_record(rejects_file_t *f)
{
    int e;
    if (f->fd < 0 && (e = open_file(f, 0)) != 0)
        return e;
    if (f->size && f->size + f->rec.len > f->max_size && (e = rotate(f)) != 0)
        return e;
    if (f->torn && (e = write_all(f, (const uint8_t *)"\n", 1)) != 0)
        return e;
    return write_all(f, f->rec.data, f->rec.len);
}

/* Write f->rec, or count its line lost; failures are logged once. 1 when written. */
static int emit(rejects_file_t *f)
{
    char msg[120];
    int e;
    if (f->failing)
        return 0;
    if ((e = write_record(f)) != 0) {
        f->failing = 1;
        close_file(f);
        if (e != f->last_error)
            log_msg("rejects: job %s: %s: %s; bad lines are counted, not kept, until it can be "
                    "written (tried again every round)",
                    f->job, f->path, error_text(e, msg, sizeof msg));
        f->last_error = e;
        return 0;
    }
    if (f->last_error)
        log_msg("rejects: job %s: %s: writing again", f->job, f->path);
    f->last_error = 0;
    return 1;
}

/* ---- records ------------------------------------------------------------ */

/* s[0..n) escaped (utf8_escape), as a JSON string. */
static void put_text(rejects_file_t *f, const char *s, size_t n)
{
    const char *e = utf8_escape(f->esc, 4 * REJECTS_LINE_MAX + 1, s, n);
    buf_put_u8(&f->rec, '"');
    for (const char *q; (q = strpbrk(e, "\"\\")) != NULL; e = q + 1) {
        buf_put(&f->rec, e, (size_t)(q - e));
        buf_put_u8(&f->rec, '\\');
        buf_put_u8(&f->rec, (uint8_t)*q);
    }
    buf_put(&f->rec, e, strlen(e));
    buf_put_u8(&f->rec, '"');
}

static void line_record(rejects_file_t *f, const char *source, const engine_bad_t *b)
{
    size_t n = b->len < REJECTS_LINE_MAX ? b->len : REJECTS_LINE_MAX;
    size_t sn = strlen(source);
    buf_reset(&f->rec);
    buf_put(&f->rec, "{\"source\":", 10);
    put_text(f, source, sn < REJECTS_SOURCE_MAX ? sn : REJECTS_SOURCE_MAX);
    buf_printf(&f->rec, ",\"offset\":%" PRIu64 ",\"reason\":", b->offset);
    put_text(f, partial_reason_name(b->reason), strlen(partial_reason_name(b->reason)));
    buf_put(&f->rec, ",\"why\":", 7);
    put_text(f, b->why, strlen(b->why));
    if (b->bytes > n)
        buf_printf(&f->rec, ",\"bytes\":%" PRIu64 ",\"truncated\":true", b->bytes);
    buf_put(&f->rec, ",\"line\":", 8);
    put_text(f, b->line, n);
    buf_put(&f->rec, "}\n", 2);
}

/* The round ends: say how many of its lines were not kept. */
static void end_round(rejects_file_t *f)
{
    if (!f->any_round || !f->not_kept_round)
        return;
    log_msg("rejects: job %s: round %" PRIu64 ": %" PRIu64 " more bad lines not kept in %s "
            "(max_per_round %" PRIu64 ")",
            f->job, f->round, f->not_kept_round, f->path, f->max_per_round);
    buf_reset(&f->rec);
    buf_printf(&f->rec,
               "{\"round\":%" PRIu64 ",\"not_kept\":%" PRIu64 ",\"max_per_round\":%" PRIu64 "}\n",
               f->round, f->not_kept_round, f->max_per_round);
    emit(f);
}

void rejects_put(rejects_file_t *f, uint64_t round, const char *source, const engine_bad_t *bad)
{
    apr_thread_mutex_lock(f->lock);
    if (!f->any_round || round > f->round) {
        end_round(f);
        f->any_round = 1;
        f->round = round;
        f->kept_round = f->not_kept_round = 0;
        f->failing = 0;
    }
    if (f->kept_round >= f->max_per_round) {
        f->not_kept_round++;
        f->not_kept++;
    } else {
        line_record(f, source ? source : "", bad);
        if (emit(f)) {
            f->kept++;
            f->kept_round++;
        } else {
            f->lost++;
        }
    }
    apr_thread_mutex_unlock(f->lock);
}

void rejects_sink(void *ctx, const engine_bad_t *bad)
{
    rejects_sink_t *s = ctx;
    rejects_put(s->file, s->round, s->source, bad);
}

void rejects_attach(engine_t *e, rejects_sink_t *s)
{
    engine_set_sink(e, s->file ? rejects_sink : NULL, s);
}

void rejects_stats(rejects_file_t *f, rejects_stats_t *out)
{
    apr_thread_mutex_lock(f->lock);
    out->path = f->path;
    out->kept = f->kept;
    out->not_kept = f->not_kept;
    out->lost = f->lost;
    apr_thread_mutex_unlock(f->lock);
}

/* ---- the table ------------------------------------------------------------ */

/* Pool cleanup of one writer (registered after its mutex, so it runs first). */
static apr_status_t file_cleanup(void *data)
{
    rejects_file_t *f = data;
    end_round(f);
    close_file(f);
    buf_free(&f->rec);
    return APR_SUCCESS;
}

rejects_t *rejects_create(apr_pool_t *pool)
{
    rejects_t *r = apr_pcalloc(pool, sizeof *r);
    r->pool = pool;
    r->files = apr_hash_make(pool);
    apr_thread_mutex_create(&r->lock, APR_THREAD_MUTEX_DEFAULT, pool);
    return r;
}

rejects_file_t *rejects_file(rejects_t *r, const rules_job_t *job)
{
    const rules_rejects_t *cfg = &job->rejects;
    rejects_file_t *first, *f;
    if (!cfg->dir)
        return NULL;
    apr_thread_mutex_lock(r->lock);
    first = apr_hash_get(r->files, job->name, APR_HASH_KEY_STRING);
    for (f = first; f && strcmp(f->dir, cfg->dir) != 0; f = f->next)
        ;
    if (!f) {
        f = apr_pcalloc(r->pool, sizeof *f);
        f->next = first;
        f->dir = apr_pstrdup(r->pool, cfg->dir);
        f->job = apr_pstrdup(r->pool, job->name);
        f->path = apr_pstrcat(r->pool, f->dir, "/", f->job, ".rejects", NULL);
        f->namecap = strlen(f->path) + 16;
        f->from = apr_palloc(r->pool, f->namecap);
        f->to = apr_palloc(r->pool, f->namecap);
        f->esc = apr_palloc(r->pool, 4 * REJECTS_LINE_MAX + 1);
        f->fd = -1;
        buf_init(&f->rec);
        apr_thread_mutex_create(&f->lock, APR_THREAD_MUTEX_DEFAULT, r->pool);
        apr_pool_cleanup_register(r->pool, f, file_cleanup, apr_pool_cleanup_null);
        apr_hash_set(r->files, f->job, APR_HASH_KEY_STRING, f);
    }
    apr_thread_mutex_unlock(r->lock);
    apr_thread_mutex_lock(f->lock);
    f->max_per_round = cfg->max_per_round;
    f->max_size = cfg->max_size;
    f->keep = cfg->keep;
    apr_thread_mutex_unlock(f->lock);
    return f;
}
