/* journal_recover.c - recovery of a master's durable store (see journal.h,
 * journal_recover): listing the directory when the store opens, picking the
 * newest checkpoint that reads back whole, loading it, replaying the segments
 * from it on, and opening the first new segment. The store's internals are in
 * journal_int.h; appending, commits, rotation and checkpoints are in journal.c. */
#include "journal_int.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <apr_time.h>

#include "log.h"
#include "mem.h"

/* ---- listing -------------------------------------------------------------- */

/* Is base one of this store's files? Sets *seq and *kind. A seq that does not
 * fit 64 bits is logged and ignored. */
static int parse_name(const journal_t *j, const char *base, uint64_t *seq, int *kind)
{
    size_t n = strlen(j->name);
    const char *p = base + n + 1;
    uint64_t v = 0;

    if (strncmp(base, j->name, n) != 0 || base[n] != '-')
        return 0;
    for (int i = 0; i < SEQ_DIGITS; i++)
        if (p[i] < '0' || p[i] > '9')
            return 0;
    for (*kind = K_SEGMENT; *kind <= K_TMP; (*kind)++)
        if (strcmp(p + SEQ_DIGITS, EXT[*kind]) == 0)
            break;
    if (*kind > K_TMP)
        return 0;
    for (int i = 0; i < SEQ_DIGITS; i++) {
        unsigned d = (unsigned)(p[i] - '0');
        if (v > (UINT64_MAX - d) / 10) {
            log_msg("journal %s: ignoring %s: its sequence number does not fit 64 bits", j->dir,
                    base);
            return 0;
        }
        v = v * 10 + d;
    }
    *seq = v;
    return 1;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int cmp_seg(const void *a, const void *b)
{
    return cmp_u64(&((const seg_t *)a)->seq, &((const seg_t *)b)->seq);
}

static void note_seq(journal_t *j, uint64_t seq)
{
    if (seq >= j->next_seq)
        j->next_seq = seq + 1;
}

apr_status_t journal_list_dir(journal_t *j, abbey_err_t *err)
{
    DIR *d = opendir(j->dir);
    struct dirent *de;

    if (!d)
        return framelog_os_error(err, j->dir, "cannot list the directory", errno);
    while ((de = readdir(d)) != NULL) {
        uint64_t seq;
        int kind;
        struct stat sb;
        char path[PATH_MAX];

        if (!parse_name(j, de->d_name, &seq, &kind))
            continue;
        note_seq(j, seq);
        if (kind == K_TMP) {
            log_msg("journal %s: deleting %s, left by a checkpoint that did not finish", j->dir,
                    de->d_name);
            journal_remove_file(j, seq, K_TMP, "an unfinished checkpoint");
        } else if (kind == K_CKPT) {
            APR_ARRAY_PUSH(j->ckpts, uint64_t) = seq;
        } else {
            file_path(j, seq, K_SEGMENT, path);
            APR_ARRAY_PUSH(j->segs, seg_t) =
                (seg_t){seq, stat(path, &sb) == 0 ? (uint64_t)sb.st_size : 0};
        }
    }
    closedir(d);
    qsort(j->ckpts->elts, (size_t)j->ckpts->nelts, sizeof(uint64_t), cmp_u64);
    qsort(j->segs->elts, (size_t)j->segs->nelts, sizeof(seg_t), cmp_seg);
    return APR_SUCCESS;
}

/* ---- recovery ------------------------------------------------------------ */

typedef struct walk_t {
    journal_t *j;
    const char *file; /* basename */
    journal_frame_fn fn;
    void *ctx;
    int stopped;
    uint64_t stop_off;
    int damaged;           /* a damage report was seen */
    uint64_t dstart, dend; /* the first one */
    char why[ABBEY_ERR_MAX + 64];
} walk_t;

static int on_frame(void *ctx, uint64_t off, const uint8_t *frame, size_t len,
                    const frame_header_t *h)
{
    walk_t *w = ctx;
    if (!w->fn || w->fn(w->ctx, w->file, off, frame, len, h) == 0)
        return 0;
    w->stopped = 1;
    w->stop_off = off;
    return 1;
}

/* First pass over a checkpoint: note the first damage only. */
static void on_ckpt_damage(void *ctx, uint64_t start, uint64_t end, const char *why)
{
    walk_t *w = ctx;
    if (w->damaged++)
        return;
    w->dstart = start;
    w->dend = end;
    snprintf(w->why, sizeof w->why, "%s", why);
}

static void on_segment_damage(void *ctx, uint64_t start, uint64_t end, const char *why)
{
    walk_t *w = ctx;
    w->damaged++;
    log_msg("journal %s/%s: skipped bytes [%" PRIu64 ", %" PRIu64 ") (%" PRIu64 " bytes): %s",
            w->j->dir, w->file, start, end, end - start, why);
}

/* Walk one file of the store with these callbacks. */
static apr_status_t walk_file(journal_t *j, uint64_t seq, int kind, walk_t *w,
                              framelog_damage_fn damage, framelog_stats_t *st, apr_pool_t *tmp,
                              abbey_err_t *err)
{
    char base[FILE_MAX], path[PATH_MAX];
    apr_status_t rv;

    file_name(j, seq, kind, base);
    file_path(j, seq, kind, path);
    w->j = j;
    w->file = base;
    rv = framelog_walk(path, 0, on_frame, damage, w, st, tmp, err);
    if (rv == APR_SUCCESS && w->stopped) {
        abbey_err_set(err, "%s: recovery stopped by the caller at byte offset %" PRIu64, path,
                      w->stop_off);
        rv = APR_EGENERAL;
    }
    w->file = NULL;
    return rv;
}

/* The newest checkpoint that reads back whole (0: none); damaged ones are logged. */
static apr_status_t pick_checkpoint(journal_t *j, journal_recovery_t *rs, apr_pool_t *tmp,
                                    uint64_t *seq, abbey_err_t *err)
{
    *seq = 0;
    for (int i = j->ckpts->nelts - 1; i >= 0; i--) {
        uint64_t c = APR_ARRAY_IDX(j->ckpts, i, uint64_t);
        walk_t w = {0};
        framelog_stats_t st;
        apr_status_t rv = walk_file(j, c, K_CKPT, &w, on_ckpt_damage, &st, tmp, err);
        char base[FILE_MAX];

        if (rv != APR_SUCCESS)
            return rv;
        if (!w.damaged) {
            *seq = c;
            return APR_SUCCESS;
        }
        file_name(j, c, K_CKPT, base);
        log_msg("journal %s/%s: checkpoint damaged at byte offset %" PRIu64 " (%d damaged "
                "ranges, %" PRIu64 " bytes): %s; falling back to an older checkpoint",
                j->dir, base, w.dstart, w.damaged, st.damaged_bytes, w.why);
        rs->checkpoints_damaged++;
    }
    return APR_SUCCESS;
}

static apr_status_t load_checkpoint(journal_t *j, uint64_t c, journal_frame_fn fn, void *ctx,
                                    journal_recovery_t *rs, apr_pool_t *tmp, abbey_err_t *err)
{
    walk_t w = {0};
    framelog_stats_t st;
    apr_status_t rv;

    w.fn = fn;
    w.ctx = ctx;
    rv = walk_file(j, c, K_CKPT, &w, on_ckpt_damage, &st, tmp, err);
    if (rv == APR_SUCCESS && w.damaged) {
        char path[PATH_MAX];
        file_path(j, c, K_CKPT, path);
        abbey_err_set(err,
                      "%s: the checkpoint changed while it was read (damage at byte "
                      "offset %" PRIu64 ": %s)",
                      path, w.dstart, w.why);
        return APR_EGENERAL;
    }
    rs->checkpoint_seq = c;
    rs->checkpoint_frames = st.frames;
    rs->checkpoint_bytes = st.bytes;
    return rv;
}

static apr_status_t replay_segments(journal_t *j, uint64_t from, journal_frame_fn fn, void *ctx,
                                    journal_recovery_t *rs, apr_pool_t *tmp, abbey_err_t *err)
{
    for (int i = 0; i < j->segs->nelts; i++) {
        seg_t *s = &APR_ARRAY_IDX(j->segs, i, seg_t);
        walk_t w = {0};
        framelog_stats_t st;
        apr_status_t rv;

        if (s->seq < from)
            continue;
        w.fn = fn;
        w.ctx = ctx;
        rv = walk_file(j, s->seq, K_SEGMENT, &w, on_segment_damage, &st, tmp, err);
        rs->segments++;
        rs->frames += st.frames;
        rs->bytes += st.bytes;
        rs->damaged += st.damaged;
        rs->damaged_bytes += st.damaged_bytes;
        if (rv != APR_SUCCESS)
            return rv;
    }
    return APR_SUCCESS;
}

apr_status_t journal_recover(journal_t *j, journal_frame_fn ckpt_fn, journal_frame_fn fn, void *ctx,
                             journal_recovery_t *stats, abbey_err_t *err)
{
    apr_time_t t0 = apr_time_now();
    journal_recovery_t rs;
    apr_pool_t *tmp;
    uint64_t c;
    apr_status_t rv;

    memset(&rs, 0, sizeof rs);
    if (j->recovered || j->closed) {
        abbey_err_set(err, "journal %s/%s: journal_recover runs once, on an open store", j->dir,
                      j->name);
        return APR_EINVAL;
    }
    tmp = mem_xpool(j->pool);
    rv = pick_checkpoint(j, &rs, tmp, &c, err);
    if (rv == APR_SUCCESS && c)
        rv = load_checkpoint(j, c, ckpt_fn, ctx, &rs, tmp, err);
    if (rv == APR_SUCCESS && !c && j->ckpts->nelts)
        log_msg("journal %s/%s: no checkpoint reads back whole; replaying every segment", j->dir,
                j->name);
    if (rv == APR_SUCCESS)
        rv = replay_segments(j, c, fn, ctx, &rs, tmp, err);
    apr_pool_destroy(tmp);
    if (rv == APR_SUCCESS) {
        uint64_t seq = j->next_seq++;
        framelog_writer_t *w;
        apr_pool_t *wpool;
        if ((rv = journal_open_segment(j, seq, &w, &wpool, err)) == APR_SUCCESS) {
            pthread_mutex_lock(&j->mu);
            j->w = w;
            j->wpool = wpool;
            j->wseq = seq;
            APR_ARRAY_PUSH(j->segs, seg_t) = (seg_t){seq, 0};
            j->good_ckpt = c;
            j->st.checkpoint_seq = c;
            j->st.checkpoint_bytes = rs.checkpoint_bytes;
            j->recovered = 1;
            pthread_mutex_unlock(&j->mu);
        }
    }
    rs.elapsed_ms = (int64_t)((apr_time_now() - t0) / 1000);
    if (stats)
        *stats = rs;
    return rv;
}
