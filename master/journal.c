/* journal.c - a master's durable store: journal segments, checkpoints and group
 * commit (see journal.h); recovery is in journal_recover.c, the internals both
 * share in journal_int.h.
 *
 * Segments are frame files (framelog.h) written through one framelog writer
 * at a time; checkpoints are whole files written beside them. Every frame
 * appended gets a ticket (1, 2, ... in append order, across segments);
 * `synced` is the highest ticket known to be on disk. Group commit (BATCH):
 * a committer whose ticket is not synced and finds no fsync running becomes
 * the leader: it notes the newest ticket, drops the mutex, fsyncs, and marks
 * everything up to that ticket synced; committers arriving meanwhile wait on
 * the condition variable and the first of them to wake with its ticket still
 * unsynced leads the next fsync. Rotation swaps the writer only while no
 * fsync runs, and fsyncs the old segment itself (as the leader) before any
 * later fsync may mark tickets synced, so `synced` never covers a frame of an
 * unsynced segment. The mutex guards every field of journal_t; file writes of
 * checkpoints, fsyncs (except ALWAYS appends), directory syncs and deletions
 * run without it. framelog_sync runs on the current writer while appends go
 * on under the mutex: it only reads the writer's descriptor, which appends
 * never change, and the writer is closed only when no fsync runs. */
#include "journal_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <apr_file_info.h>
#include <apr_file_io.h>
#include <apr_strings.h>

#include "log.h"

typedef struct victim_t { /* a file retention deletes */
    uint64_t seq;
    int kind;
} victim_t;

/* ---- names -------------------------------------------------------------- */

/* Indexed by journal_fsync_t. */
static const char *const fsync_names[] = {"batch", "always", "never"};

int journal_fsync_parse(const char *s, journal_fsync_t *out)
{
    for (int i = 0; s && i < (int)(sizeof fsync_names / sizeof fsync_names[0]); i++)
        if (strcmp(s, fsync_names[i]) == 0) {
            *out = (journal_fsync_t)i;
            return 0;
        }
    return -1;
}

const char *journal_fsync_name(journal_fsync_t f)
{
    return (unsigned)f < sizeof fsync_names / sizeof fsync_names[0] ? fsync_names[f] : "unknown";
}

/* ---- small helpers ------------------------------------------------------ */

void journal_remove_file(const journal_t *j, uint64_t seq, int kind, const char *why)
{
    char path[PATH_MAX];
    file_path(j, seq, kind, path);
    if (unlink(path) != 0 && errno != ENOENT)
        log_msg("journal: cannot delete %s (%s): %s", path, why, strerror(errno));
}

/* Make the store failed with this first error (under the mutex); returns rv. */
static apr_status_t set_failed(journal_t *j, apr_status_t rv, const abbey_err_t *e)
{
    if (!j->failed) {
        j->failed = 1;
        j->fail_rv = rv;
        j->fail_err = *e;
        log_msg("journal %s/%s: the store failed (restart to recover): %s", j->dir, j->name,
                e->msg);
    }
    pthread_cond_broadcast(&j->cv);
    return rv;
}

/* The sticky error (under the mutex), or a usage error; APR_SUCCESS when usable. */
static apr_status_t usable(journal_t *j, abbey_err_t *err)
{
    if (j->failed) {
        abbey_err_set(err, "journal %s/%s: the store failed earlier (restart to recover): %s",
                      j->dir, j->name, j->fail_err.msg);
        return j->fail_rv;
    }
    if (!j->recovered || j->closed) {
        abbey_err_set(err, "journal %s/%s: %s", j->dir, j->name,
                      j->closed ? "the store is closed" : "journal_recover has not run yet");
        return APR_EINVAL;
    }
    return APR_SUCCESS;
}

/* ---- opening ------------------------------------------------------------ */

static apr_status_t check_args(const char *dir, const char *name, journal_fsync_t mode,
                               abbey_err_t *err)
{
    if (!dir || !*dir || strlen(dir) > PATH_MAX - FILE_MAX - 2) {
        abbey_err_set(err, "%s: the directory name is empty or too long", dir ? dir : "(null)");
        return APR_EINVAL;
    }
    if (!name || !*name || strlen(name) >= FRAME_NAME_MAX || strchr(name, '/')) {
        abbey_err_set(err, "%s: store name '%s' must be 1 to %d bytes without '/'", dir,
                      name ? name : "(null)", FRAME_NAME_MAX - 1);
        return APR_EINVAL;
    }
    if (mode != JOURNAL_FSYNC_BATCH && mode != JOURNAL_FSYNC_ALWAYS &&
        mode != JOURNAL_FSYNC_NEVER) {
        abbey_err_set(err, "%s: unknown fsync mode %d", dir, (int)mode);
        return APR_EINVAL;
    }
    return APR_SUCCESS;
}

static apr_status_t journal_cleanup(void *data)
{
    journal_t *j = data;
    pthread_cond_destroy(&j->cv);
    pthread_mutex_destroy(&j->mu);
    return APR_SUCCESS;
}

apr_status_t journal_open(const char *dir, const char *name, journal_fsync_t mode, apr_pool_t *pool,
                          journal_t **out, abbey_err_t *err)
{
    apr_pool_t *p;
    journal_t *j;
    apr_status_t rv = check_args(dir, name, mode, err);
    char why[256];

    if (rv != APR_SUCCESS)
        return rv;
    rv = apr_dir_make_recursive(dir, APR_FPROT_UREAD | APR_FPROT_UWRITE | APR_FPROT_UEXECUTE, pool);
    if (rv != APR_SUCCESS) {
        abbey_err_set(err, "%s: cannot create the directory: %s", dir,
                      apr_strerror(rv, why, sizeof why));
        return rv;
    }
    if ((rv = apr_pool_create(&p, pool)) != APR_SUCCESS) {
        abbey_err_set(err, "%s: out of memory", dir);
        return rv;
    }
    j = apr_pcalloc(p, sizeof *j);
    j->pool = p;
    j->dir = apr_pstrdup(p, dir);
    j->name = apr_pstrdup(p, name);
    j->mode = mode;
    j->next_seq = 1;
    j->segs = apr_array_make(p, 16, sizeof(seg_t));
    j->ckpts = apr_array_make(p, 4, sizeof(uint64_t));
    pthread_mutex_init(&j->mu, NULL);
    pthread_cond_init(&j->cv, NULL);
    apr_pool_cleanup_register(p, j, journal_cleanup, apr_pool_cleanup_null);
    if ((rv = journal_list_dir(j, err)) != APR_SUCCESS) {
        apr_pool_destroy(p);
        return rv;
    }
    *out = j;
    return APR_SUCCESS;
}

/* ---- appending and committing ------------------------------------------- */

static seg_t *current_seg(journal_t *j)
{
    seg_t *s = &APR_ARRAY_IDX(j->segs, j->segs->nelts - 1, seg_t);
    return s->seq == j->wseq ? s : NULL;
}

apr_status_t journal_append(journal_t *j, const void *frame, size_t len, uint64_t *ticket,
                            abbey_err_t *err)
{
    size_t flen = 0;
    abbey_err_t perr;
    apr_status_t rv;
    seg_t *s;

    /* a caller's mistake, not a write failure: the store stays usable */
    if (!frame || frame_peek(frame, len, NULL, &flen, &perr) != APR_SUCCESS || flen != len) {
        abbey_err_set(err, "journal %s/%s: refusing %zu bytes that are not one whole frame: %s",
                      j->dir, j->name, len,
                      !frame ? "no data"
                      : flen ? "bytes after the frame"
                             : perr.msg);
        return APR_EINVAL;
    }
    pthread_mutex_lock(&j->mu);
    if ((rv = usable(j, err)) != APR_SUCCESS) {
        pthread_mutex_unlock(&j->mu);
        return rv;
    }
    rv = framelog_append(j->w, frame, len, j->mode == JOURNAL_FSYNC_ALWAYS, err);
    if (rv != APR_SUCCESS) {
        set_failed(j, rv, err);
        pthread_mutex_unlock(&j->mu);
        return rv;
    }
    j->appended++;
    if (j->mode == JOURNAL_FSYNC_ALWAYS) {
        j->synced = j->appended;
        j->st.fsyncs++;
    }
    j->st.appended_frames++;
    j->st.appended_bytes += len;
    if ((s = current_seg(j)) != NULL)
        s->bytes += len;
    if (ticket)
        *ticket = j->appended;
    pthread_mutex_unlock(&j->mu);
    return APR_SUCCESS;
}

/* Lead one group fsync of the current segment (under the mutex, which is
 * dropped during the fsync). */
static void lead_fsync(journal_t *j)
{
    uint64_t target = j->appended;
    framelog_writer_t *w = j->w;
    abbey_err_t e;
    apr_status_t rv;

    j->syncing = 1;
    pthread_mutex_unlock(&j->mu);
    rv = framelog_sync(w, &e);
    pthread_mutex_lock(&j->mu);
    j->syncing = 0;
    if (rv != APR_SUCCESS) {
        set_failed(j, rv, &e);
    } else {
        j->st.fsyncs++;
        if (target > j->synced)
            j->synced = target;
    }
    pthread_cond_broadcast(&j->cv);
}

apr_status_t journal_commit(journal_t *j, uint64_t ticket, abbey_err_t *err)
{
    apr_status_t rv = APR_SUCCESS;

    if (ticket == 0)
        return APR_SUCCESS;
    pthread_mutex_lock(&j->mu);
    for (;;) {
        if ((rv = usable(j, err)) != APR_SUCCESS)
            break;
        if (ticket > j->appended) {
            abbey_err_set(err,
                          "journal %s/%s: ticket %" PRIu64 " was never issued (newest %" PRIu64 ")",
                          j->dir, j->name, ticket, j->appended);
            rv = APR_EINVAL;
            break;
        }
        if (j->mode != JOURNAL_FSYNC_BATCH || ticket <= j->synced)
            break;
        if (j->syncing)
            pthread_cond_wait(&j->cv, &j->mu);
        else
            lead_fsync(j);
    }
    pthread_mutex_unlock(&j->mu);
    return rv;
}

/* ---- rotation ------------------------------------------------------------ */

/* Open segment file seq for appending, its writer in a pool of its own (freed when the
 * segment is closed by a rotation). */
apr_status_t journal_open_segment(journal_t *j, uint64_t seq, framelog_writer_t **w,
                                  apr_pool_t **wpool, abbey_err_t *err)
{
    char path[PATH_MAX];
    apr_status_t rv;

    file_path(j, seq, K_SEGMENT, path);
    if ((rv = apr_pool_create(wpool, j->pool)) != APR_SUCCESS) {
        abbey_err_set(err, "%s: out of memory", path);
        return rv;
    }
    rv = framelog_open(path, *wpool, w, NULL, err);
    if (rv != APR_SUCCESS) {
        apr_pool_destroy(*wpool);
        *wpool = NULL;
    }
    return rv;
}

/* Swap in the new segment w (seq) and make the old one durable; under the mutex. */
static apr_status_t swap_segment(journal_t *j, framelog_writer_t *w, apr_pool_t *wpool,
                                 uint64_t seq, abbey_err_t *err)
{
    framelog_writer_t *old = j->w; /* stays: rotations are serialized */
    apr_pool_t *oldpool = j->wpool;
    uint64_t last;
    int sync;
    apr_status_t rv = APR_SUCCESS;

    while (j->syncing)
        pthread_cond_wait(&j->cv, &j->mu);
    last = j->appended; /* every frame up to here is in old */
    sync = j->mode == JOURNAL_FSYNC_BATCH && j->synced < last;
    j->w = w;
    j->wpool = wpool;
    j->wseq = seq;
    APR_ARRAY_PUSH(j->segs, seg_t) = (seg_t){seq, 0};
    if (sync) {
        j->syncing = 1; /* no later fsync may mark tickets synced before this one ends */
        pthread_mutex_unlock(&j->mu);
        rv = framelog_sync(old, err);
        pthread_mutex_lock(&j->mu);
        j->syncing = 0;
        if (rv == APR_SUCCESS) {
            j->st.fsyncs++;
            if (last > j->synced)
                j->synced = last;
        } else {
            set_failed(j, rv, err);
        }
    }
    framelog_close(old);
    apr_pool_destroy(oldpool);
    return rv;
}

uint64_t journal_rotate(journal_t *j, abbey_err_t *err)
{
    framelog_writer_t *w;
    apr_pool_t *wpool;
    uint64_t seq;
    apr_status_t rv;

    pthread_mutex_lock(&j->mu);
    while (j->rotating && !j->failed)
        pthread_cond_wait(&j->cv, &j->mu);
    if (usable(j, err) != APR_SUCCESS) {
        pthread_mutex_unlock(&j->mu);
        return 0;
    }
    j->rotating = 1;
    seq = j->next_seq++;
    pthread_mutex_unlock(&j->mu);

    rv = journal_open_segment(j, seq, &w, &wpool, err);

    pthread_mutex_lock(&j->mu);
    if (rv != APR_SUCCESS) {
        set_failed(j, rv, err);
    } else if (j->failed) { /* failed meanwhile: keep the old writer, drop the new one */
        rv = usable(j, err);
        framelog_close(w);
        apr_pool_destroy(wpool);
    } else {
        rv = swap_segment(j, w, wpool, seq, err);
    }
    if (rv == APR_SUCCESS)
        j->rotated = seq;
    j->rotating = 0;
    pthread_cond_broadcast(&j->cv);
    pthread_mutex_unlock(&j->mu);
    return rv == APR_SUCCESS ? seq : 0;
}

/* ---- checkpoints ----------------------------------------------------------- */

/* data must be whole frames back to back, as recovery will require. */
static apr_status_t check_frames(const journal_t *j, uint64_t seq, const uint8_t *data, size_t len,
                                 abbey_err_t *err)
{
    size_t off = 0, flen;
    abbey_err_t perr;

    while (off < len) {
        if (frame_peek(data + off, len - off, NULL, &flen, &perr) != APR_SUCCESS) {
            abbey_err_set(err,
                          "journal %s/%s: checkpoint %" PRIu64 ": byte offset %zu is not "
                          "a whole frame: %s",
                          j->dir, j->name, seq, off, perr.msg);
            return APR_EINVAL;
        }
        off += flen;
    }
    return APR_SUCCESS;
}

/* Write path whole (create, write, fsync, close). */
static apr_status_t write_whole(const char *path, const uint8_t *data, size_t len, abbey_err_t *err)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    size_t done = 0;
    apr_status_t rv = APR_SUCCESS;

    if (fd < 0)
        return framelog_os_error(err, path, "cannot create", errno);
    while (done < len && rv == APR_SUCCESS) {
        ssize_t n = write(fd, data + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            rv = framelog_os_error(err, path, "write", n < 0 ? errno : ENOSPC);
        else
            done += (size_t)n;
    }
    if (rv == APR_SUCCESS && fsync(fd) != 0)
        rv = framelog_os_error(err, path, "fsync", errno);
    if (close(fd) != 0 && rv == APR_SUCCESS)
        rv = framelog_os_error(err, path, "close", errno);
    return rv;
}

static apr_status_t write_checkpoint(journal_t *j, uint64_t seq, const void *data, size_t len,
                                     abbey_err_t *err)
{
    char tmp[PATH_MAX], path[PATH_MAX];
    apr_status_t rv;

    file_path(j, seq, K_TMP, tmp);
    file_path(j, seq, K_CKPT, path);
    rv = write_whole(tmp, data, len, err);
    if (rv == APR_SUCCESS && rename(tmp, path) != 0)
        rv = framelog_os_error(err, path, "cannot rename the checkpoint into place", errno);
    if (rv != APR_SUCCESS) {
        unlink(tmp);
        return rv;
    }
    return framelog_sync_dir(j->dir, err);
}

/* Checkpoint seq is whole on disk: record it, and pick what retention deletes
 * (under the mutex): every checkpoint but seq and the previous whole one (M),
 * every segment below M (none when there is no M). Damaged checkpoints
 * recovery skipped are never M, so they go too. dead has room for every
 * file listed; returns the count put there. */
static int retain(journal_t *j, uint64_t seq, uint64_t size, victim_t *dead)
{
    uint64_t prev = j->good_ckpt;
    int n = 0, keep = 0;

    for (int i = 0; i < j->ckpts->nelts; i++) {
        uint64_t c = APR_ARRAY_IDX(j->ckpts, i, uint64_t);
        if (c == prev)
            APR_ARRAY_IDX(j->ckpts, keep++, uint64_t) = c;
        else
            dead[n++] = (victim_t){c, K_CKPT};
    }
    j->ckpts->nelts = keep;
    APR_ARRAY_PUSH(j->ckpts, uint64_t) = seq;
    keep = 0;
    for (int i = 0; i < j->segs->nelts; i++) {
        seg_t s = APR_ARRAY_IDX(j->segs, i, seg_t);
        if (prev && s.seq < prev)
            dead[n++] = (victim_t){s.seq, K_SEGMENT};
        else
            APR_ARRAY_IDX(j->segs, keep++, seg_t) = s;
    }
    j->segs->nelts = keep;
    j->good_ckpt = seq;
    j->st.checkpoints++;
    j->st.checkpoint_seq = seq;
    j->st.checkpoint_bytes = size;
    return n;
}

apr_status_t journal_checkpoint(journal_t *j, uint64_t seq, const void *data, size_t len,
                                abbey_err_t *err)
{
    apr_status_t rv;
    victim_t *dead;
    int n;

    if (!data && len) {
        abbey_err_set(err, "journal %s/%s: checkpoint %" PRIu64 " has no data", j->dir, j->name,
                      seq);
        return APR_EINVAL;
    }
    if ((rv = check_frames(j, seq, data, len, err)) != APR_SUCCESS)
        return rv;
    pthread_mutex_lock(&j->mu);
    while (j->checkpointing && !j->failed)
        pthread_cond_wait(&j->cv, &j->mu);
    if ((rv = usable(j, err)) == APR_SUCCESS && (seq <= j->good_ckpt || seq > j->rotated)) {
        abbey_err_set(err,
                      "journal %s/%s: checkpoint %" PRIu64 " is not a seq journal_rotate "
                      "returned after checkpoint %" PRIu64 " (newest rotation: %" PRIu64 ")",
                      j->dir, j->name, seq, j->good_ckpt, j->rotated);
        rv = APR_EINVAL;
    }
    if (rv != APR_SUCCESS) {
        pthread_mutex_unlock(&j->mu);
        return rv;
    }
    j->checkpointing = 1;
    pthread_mutex_unlock(&j->mu);

    rv = write_checkpoint(j, seq, data, len, err);

    pthread_mutex_lock(&j->mu);
    dead = malloc(sizeof *dead * (size_t)(j->ckpts->nelts + j->segs->nelts + 1));
    if (!dead) /* the checkpoint stands; retention waits for the next one */
        log_msg("journal %s/%s: out of memory for retention", j->dir, j->name);
    n = rv == APR_SUCCESS && dead ? retain(j, seq, len, dead) : 0;
    j->checkpointing = 0;
    pthread_cond_broadcast(&j->cv);
    pthread_mutex_unlock(&j->mu);
    for (int i = 0; i < n; i++)
        journal_remove_file(j, dead[i].seq, dead[i].kind, "retention");
    free(dead);
    return rv;
}

/* ---- stats and closing ------------------------------------------------------ */

void journal_stats(journal_t *j, journal_stats_t *out)
{
    pthread_mutex_lock(&j->mu);
    *out = j->st;
    out->segment_bytes = 0;
    for (int i = 0; i < j->segs->nelts; i++) {
        const seg_t *s = &APR_ARRAY_IDX(j->segs, i, seg_t);
        if (s->seq >= j->st.checkpoint_seq)
            out->segment_bytes += s->bytes;
    }
    out->failed = j->failed;
    pthread_mutex_unlock(&j->mu);
}

void journal_close(journal_t *j)
{
    abbey_err_t e;
    int sync;

    if (!j)
        return;
    pthread_mutex_lock(&j->mu);
    while (j->syncing || j->rotating || j->checkpointing)
        pthread_cond_wait(&j->cv, &j->mu);
    j->closed = 1; /* from here on appends and commits are refused */
    sync = j->w && !j->failed && j->mode == JOURNAL_FSYNC_BATCH && j->synced < j->appended;
    pthread_mutex_unlock(&j->mu);
    if (sync && framelog_sync(j->w, &e) != APR_SUCCESS)
        log_msg("journal %s/%s: closing: %s", j->dir, j->name, e.msg);
    if (j->w)
        framelog_close(j->w);
    j->w = NULL;
    apr_pool_destroy(j->pool);
}
