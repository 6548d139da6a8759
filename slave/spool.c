/* spool.c - the slave's spool files and their re-delivery (see spool.h).
 *
 * The spool keeps one record per segment file (seg_t, malloc'd, in seq
 * order). Workers append under the lock; the re-delivery pass takes a
 * snapshot of the segments, and for each walks [pos, end) outside the lock,
 * where end is the size that was whole when the walk began (an append going
 * on meanwhile lies beyond it, so a concurrently growing segment is never
 * mistaken for a damaged one). Only the pass removes segments, so the
 * pointers of its snapshot stay valid. */
#include "spool.h"

#include <apr_allocator.h>
#include <apr_file_info.h>
#include <apr_file_io.h>
#include <apr_strings.h>
#include <apr_thread_mutex.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "frame.h"
#include "framelog.h"
#include "log.h"
#include "mem.h"
#include "partials.h"

typedef struct seg_t {
    char *path; /* malloc'd */
    char master[FRAME_NAME_MAX], job[FRAME_NAME_MAX];
    uint64_t seq;
    framelog_writer_t *w;   /* the segment being written for (master, job), or NULL */
    apr_pool_t *wpool;      /* the writer's own root pool */
    uint64_t size;          /* whole bytes (the writer's size, or the file's at start-up) */
    uint64_t pos;           /* offset of the first frame not decided yet */
    uint64_t held;          /* frames kept for the operator */
    uint64_t frames, bytes; /* frames not decided yet, and their bytes */
    int64_t first_ms;       /* when its first frame was spooled (start-up: mtime) */
    int done;               /* walked to its end with held frames: left alone */
} seg_t;

typedef struct mstate_t {
    char name[FRAME_NAME_MAX];
    int64_t next_ms, delay; /* backoff: no try before next_ms; delay 0: not failing */
    int unknown_logged;     /* not in the config (logged once) */
} mstate_t;

struct spool_t {
    apr_pool_t *pool;
    apr_thread_mutex_t *lock;
    char *dir;
    uint64_t segment_max, next_seq;
    seg_t **segs;
    int nsegs, maxsegs;
    mstate_t *ms;
    int nms, maxms;
    int64_t next_log_ms;
    apr_pool_t *pass_pool; /* the re-delivery pass's scratch (one thread) */
    hclient_resp_t resp;
};

/* --- segments ------------------------------------------------------------ */

static void seg_close_writer(seg_t *g)
{
    if (g->w) {
        g->size = framelog_size(g->w);
        framelog_close(g->w);
        g->w = NULL;
    }
    if (g->wpool) {
        apr_pool_destroy(g->wpool);
        g->wpool = NULL;
    }
}

static void seg_free(seg_t *g)
{
    seg_close_writer(g);
    free(g->path);
    free(g);
}

static apr_status_t spool_cleanup(void *data)
{
    spool_t *sp = data;
    for (int i = 0; i < sp->nsegs; i++)
        seg_free(sp->segs[i]);
    free(sp->segs);
    free(sp->ms);
    buf_free(&sp->resp.body);
    if (sp->pass_pool)
        apr_pool_destroy(sp->pass_pool);
    return APR_SUCCESS;
}

/* A pool with its own allocator that only the spool destroys: unmanaged, so
 * apr_pool_terminate at exit does not destroy it before spool_cleanup does. */
static apr_pool_t *root_pool(void)
{
    apr_allocator_t *a;
    apr_pool_t *p;
    apr_allocator_create(&a);
    apr_pool_create_unmanaged_ex(&p, NULL, a);
    apr_allocator_owner_set(a, p);
    return p;
}

/* Insert g keeping seq order (appends come last: seq only grows). */
static void seg_add(spool_t *sp, seg_t *g)
{
    int i;
    if (sp->nsegs == sp->maxsegs) {
        int n = sp->maxsegs ? sp->maxsegs * 2 : 16;
        sp->segs = mem_xrealloc(sp->segs, sizeof *sp->segs * (size_t)n);
        sp->maxsegs = n;
    }
    for (i = sp->nsegs; i > 0 && sp->segs[i - 1]->seq > g->seq; i--)
        sp->segs[i] = sp->segs[i - 1];
    sp->segs[i] = g;
    sp->nsegs++;
}

static void seg_remove(spool_t *sp, seg_t *g)
{
    for (int i = 0; i < sp->nsegs; i++)
        if (sp->segs[i] == g) {
            memmove(&sp->segs[i], &sp->segs[i + 1], sizeof *sp->segs * (size_t)(sp->nsegs - i - 1));
            sp->nsegs--;
            break;
        }
    seg_free(g);
}

static seg_t *seg_new(const char *path, const char *master, const char *job, uint64_t seq)
{
    seg_t *g = mem_xcalloc(1, sizeof *g);
    g->path = mem_xstrdup(path);
    snprintf(g->master, sizeof g->master, "%s", master);
    snprintf(g->job, sizeof g->job, "%s", job);
    g->seq = seq;
    return g;
}

/* The sidecar: "<pos> <held>\n", written whole (temp + rename). A hint only. */
static void pos_save(const seg_t *g)
{
    char tmp[4200], dst[4200];
    FILE *f;
    snprintf(dst, sizeof dst, "%s.pos", g->path);
    snprintf(tmp, sizeof tmp, "%s.pos.tmp", g->path);
    if (!(f = fopen(tmp, "w")))
        return;
    fprintf(f, "%" PRIu64 " %" PRIu64 "\n", g->pos, g->held);
    if (fclose(f) != 0 || rename(tmp, dst) != 0)
        unlink(tmp);
}

static void pos_load(seg_t *g)
{
    char path[4200];
    unsigned long long pos = 0, held = 0;
    FILE *f;
    snprintf(path, sizeof path, "%s.pos", g->path);
    if (!(f = fopen(path, "r")))
        return;
    if (fscanf(f, "%llu %llu", &pos, &held) == 2 && pos <= g->size) {
        g->pos = pos;
        g->held = held;
    }
    fclose(f);
}

static void seg_unlink(const seg_t *g)
{
    char path[4200];
    snprintf(path, sizeof path, "%s.pos", g->path);
    unlink(g->path);
    unlink(path);
}

/* --- start-up: the segments already there ---------------------------------- */

static int count_frame(void *ctx, uint64_t off, const uint8_t *frame, size_t len,
                       const frame_header_t *h)
{
    seg_t *g = ctx;
    g->frames++;
    g->bytes += len;
    return 0;
}

/* "<job>-<seq>.spool" into job and seq; -1 when the name is not a segment's. */
static int parse_name(const char *name, char *job, size_t jobsz, uint64_t *seq)
{
    size_t n = strlen(name);
    const char *dash, *end = name + n - 6;
    char *stop;
    if (n <= 6 || strcmp(end, ".spool") != 0)
        return -1;
    for (dash = end - 1; dash > name && *dash != '-'; dash--)
        ;
    if (dash <= name || dash + 1 == end || (size_t)(dash - name) >= jobsz)
        return -1;
    *seq = strtoull(dash + 1, &stop, 10);
    if (stop != end)
        return -1;
    memcpy(job, name, (size_t)(dash - name));
    job[dash - name] = '\0';
    return 0;
}

static void scan_master(spool_t *sp, const char *master, apr_pool_t *tmp)
{
    const char *mdir = apr_pstrcat(tmp, sp->dir, "/", master, NULL);
    DIR *d = opendir(mdir);
    struct dirent *e;
    if (!d)
        return;
    while ((e = readdir(d)) != NULL) {
        char job[FRAME_NAME_MAX];
        uint64_t seq;
        struct stat st;
        const char *path;
        seg_t *g;
        framelog_stats_t stats;
        abbey_err_t err;
        if (parse_name(e->d_name, job, sizeof job, &seq) != 0)
            continue;
        path = apr_pstrcat(tmp, mdir, "/", e->d_name, NULL);
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        g = seg_new(path, master, job, seq);
        g->size = (uint64_t)st.st_size;
        g->first_ms = (int64_t)st.st_mtime * 1000;
        pos_load(g);
        if (framelog_walk(path, g->pos, count_frame, NULL, g, &stats, tmp, &err) != APR_SUCCESS)
            log_msg("spool: %s", err.msg);
        if (g->pos >= g->size && g->held)
            g->done = 1;
        if (seq >= sp->next_seq)
            sp->next_seq = seq + 1;
        seg_add(sp, g);
    }
    closedir(d);
}

apr_status_t spool_open(const char *dir, uint64_t segment_max, int64_t now_ms, apr_pool_t *pool,
                        spool_t **out, abbey_err_t *err)
{
    spool_t *sp = apr_pcalloc(pool, sizeof *sp);
    apr_pool_t *tmp;
    apr_status_t rv;
    DIR *d;
    struct dirent *e;
    uint64_t frames = 0, bytes = 0, held = 0;

    rv = apr_dir_make_recursive(dir, APR_FPROT_UREAD | APR_FPROT_UWRITE | APR_FPROT_UEXECUTE, pool);
    if (rv != APR_SUCCESS) {
        abbey_err_set(err, "%s: cannot create the spool directory", dir);
        return rv;
    }
    if (!(d = opendir(dir))) {
        rv = APR_FROM_OS_ERROR(errno);
        abbey_err_set(err, "%s: %s", dir, strerror(errno));
        return rv;
    }
    sp->pool = pool;
    sp->dir = apr_pstrdup(pool, dir);
    sp->segment_max = segment_max ? segment_max : SPOOL_SEGMENT_MAX;
    sp->next_seq = 1;
    sp->next_log_ms = now_ms;
    apr_thread_mutex_create(&sp->lock, APR_THREAD_MUTEX_DEFAULT, pool);
    buf_init(&sp->resp.body);
    sp->pass_pool = root_pool();
    apr_pool_cleanup_register(pool, sp, spool_cleanup, apr_pool_cleanup_null);
    tmp = mem_xpool(pool);
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.' && strlen(e->d_name) < FRAME_NAME_MAX)
            scan_master(sp, e->d_name, tmp);
    closedir(d);
    apr_pool_destroy(tmp);
    for (int i = 0; i < sp->nsegs; i++) {
        frames += sp->segs[i]->frames;
        bytes += sp->segs[i]->bytes;
        held += sp->segs[i]->held;
    }
    if (sp->nsegs)
        log_msg("spool %s: %d segment(s) found: %" PRIu64 " frame(s), %" PRIu64 " bytes to "
                "re-deliver, %" PRIu64 " held",
                dir, sp->nsegs, frames, bytes, held);
    *out = sp;
    return APR_SUCCESS;
}

/* --- appending ------------------------------------------------------------ */

static int safe_name(const char *s)
{
    return *s && *s != '.' && !strchr(s, '/') && strlen(s) < FRAME_NAME_MAX;
}

/* The segment being written for (master, job), a new one when none or full. */
static apr_status_t writer_for(spool_t *sp, const char *master, const char *job, int64_t now_ms,
                               seg_t **out, abbey_err_t *err)
{
    seg_t *g = NULL;
    char path[4200];
    apr_status_t rv;

    for (int i = sp->nsegs - 1; i >= 0 && !g; i--)
        if (sp->segs[i]->w && strcmp(sp->segs[i]->master, master) == 0 &&
            strcmp(sp->segs[i]->job, job) == 0)
            g = sp->segs[i];
    if (g && framelog_size(g->w) < sp->segment_max) {
        *out = g;
        return APR_SUCCESS;
    }
    if (g)
        seg_close_writer(g);
    snprintf(path, sizeof path, "%s/%s/%s-%010" PRIu64 ".spool", sp->dir, master, job,
             sp->next_seq);
    g = seg_new(path, master, job, sp->next_seq++);
    g->first_ms = now_ms;
    g->wpool = root_pool();
    if ((rv = framelog_open(path, g->wpool, &g->w, NULL, err)) != APR_SUCCESS) {
        g->w = NULL;
        *out = g; /* for the path in the caller's log */
        return rv;
    }
    g->size = framelog_size(g->w);
    seg_add(sp, g);
    *out = g;
    return APR_SUCCESS;
}

apr_status_t spool_append(spool_t *sp, const char *master, const char *job, const void *frame,
                          size_t len, int64_t now_ms, apr_pool_t *pool, const char **file,
                          abbey_err_t *err)
{
    seg_t *g;
    apr_status_t rv;

    if (file)
        *file = apr_psprintf(pool, "%s/%s/%s-*.spool", sp->dir, master, job);
    if (!safe_name(master) || !safe_name(job)) {
        abbey_err_set(err, "master '%s' / job '%s' cannot name a spool file", master, job);
        return APR_EINVAL;
    }
    apr_thread_mutex_lock(sp->lock);
    rv = writer_for(sp, master, job, now_ms, &g, err);
    if (file)
        *file = apr_pstrdup(pool, g->path);
    if (rv != APR_SUCCESS) {
        seg_free(g); /* never added */
    } else if ((rv = framelog_append(g->w, frame, len, 1, err)) == APR_SUCCESS) {
        g->size = framelog_size(g->w);
        g->frames++;
        g->bytes += len;
    }
    apr_thread_mutex_unlock(sp->lock);
    return rv;
}

void spool_backlog(spool_t *sp, int64_t now_ms, spool_backlog_t *out)
{
    memset(out, 0, sizeof *out);
    apr_thread_mutex_lock(sp->lock);
    for (int i = 0; i < sp->nsegs; i++) {
        const seg_t *g = sp->segs[i];
        out->frames += g->frames;
        out->bytes += g->bytes;
        out->held += g->held;
        if (g->frames && now_ms - g->first_ms > out->oldest_ms)
            out->oldest_ms = now_ms - g->first_ms;
    }
    apr_thread_mutex_unlock(sp->lock);
}

/* --- re-delivery ----------------------------------------------------------- */

typedef enum { WALK_DONE, WALK_FAILED, WALK_BUDGET, WALK_NOMASTER } walk_end_t;

typedef struct walk_t {
    spool_t *sp;
    seg_t *g;
    uint64_t end; /* the walk's bound: whole bytes when it began */
    hclient_t *hc;
    const rules_config_t *cfg;
    const char *fallback_url;
    int *budget;
    walk_end_t result;
    const char *why; /* a failure's reason */
} walk_t;

static const rules_master_t *find_master(const rules_config_t *cfg, const char *name)
{
    for (int m = 0; m < cfg->nmasters; m++)
        if (strcmp(cfg->masters[m].name, name) == 0)
            return &cfg->masters[m];
    return NULL;
}

static mstate_t *mstate(spool_t *sp, const char *name)
{
    for (int i = 0; i < sp->nms; i++)
        if (strcmp(sp->ms[i].name, name) == 0)
            return &sp->ms[i];
    if (sp->nms == sp->maxms) {
        int n = sp->maxms ? sp->maxms * 2 : 8;
        sp->ms = mem_xrealloc(sp->ms, sizeof *sp->ms * (size_t)n);
        sp->maxms = n;
    }
    memset(&sp->ms[sp->nms], 0, sizeof sp->ms[0]);
    snprintf(sp->ms[sp->nms].name, sizeof sp->ms[0].name, "%s", name);
    return &sp->ms[sp->nms++];
}

/* Decided: acknowledged (held 0) or held (1). */
static void decided(walk_t *k, uint64_t off, size_t len, int held)
{
    apr_thread_mutex_lock(k->sp->lock);
    k->g->pos = off + len;
    k->g->frames -= k->g->frames ? 1 : 0;
    k->g->bytes -= k->g->bytes >= len ? len : k->g->bytes;
    k->g->held += (uint64_t)held;
    apr_thread_mutex_unlock(k->sp->lock);
}

/* A 409 for the frame at off (what: its ranges as text). One range: acknowledged when the
 * master's ranges cover it (a duplicate), else held (its lease is gone: it cannot be cut).
 * Several ranges: a master holding all of them answers duplicate, so a 409 means it holds
 * some from elsewhere (a gap repair's re-read, a retry of one range alone) and lacks the
 * others; the frame cannot be cut and no later answer can change that, so it is
 * acknowledged and the ranges the master lacks are left to gap repair, as those of a frame
 * held would be. */
static int conflict(walk_t *k, uint64_t off, size_t len, const frame_header_t *h, const char *what,
                    const partials_answer_t *ans)
{
    int several = h->nranges > 1;
    int cov = several || ranges_covers(ans->have, h->start, h->end);
    log_msg("spool %s @%" PRIu64 ": master %s answered 409 for %s with ranges %s: %s", k->g->path,
            off, h->master, what, ans->ranges,
            several ? "it holds some of the frame's ranges from elsewhere; the frame cannot be "
                      "cut: acknowledged, gap repair reads the ranges the master lacks"
            : cov   ? "they cover the frame (a duplicate): acknowledged"
                    : "it has part of the frame's ranges from elsewhere and the lease is gone; "
                      "the frame is held in the spool for abbey-replay / the operator (gap repair "
                      "reads what the master lacks)");
    decided(k, off, len, !cov);
    return 1;
}

/* What the master said of the frame at off (header h): acknowledged, held
 * (logged), or 0 when the walk stops with k->result WALK_FAILED. */
static int answered(walk_t *k, uint64_t off, const uint8_t *frame, size_t len,
                    const frame_header_t *h, const partials_answer_t *ans)
{
    const char *what = ans->result == PARTIALS_MERGED || ans->result == PARTIALS_DUPLICATE
                           ? ""
                           : partials_what(frame, len, h, k->sp->pass_pool);

    switch (ans->result) {
    case PARTIALS_MERGED:
    case PARTIALS_DUPLICATE:
        decided(k, off, len, 0);
        return 1;
    case PARTIALS_EXPIRED:
        log_msg("spool %s @%" PRIu64 ": master %s took %s as expired: its period is no longer "
                "kept, so it is counted in no report",
                k->g->path, off, h->master, what);
        decided(k, off, len, 0);
        return 1;
    case PARTIALS_CONFLICT:
        return conflict(k, off, len, h, what, ans);
    case PARTIALS_REFUSED:
        if (ans->status == 400 || ans->status == 409 || ans->status == 413) {
            log_msg("spool %s @%" PRIu64 ": master %s refuses %s: %s; the frame is held in the "
                    "spool for abbey-replay / the operator",
                    k->g->path, off, h->master, what, ans->reason);
            decided(k, off, len, 1);
            return 1;
        }
        break; /* 401, a 200 abbey does not know, ...: the master as it is takes nothing */
    default:
        break;
    }
    k->why = ans->reason;
    k->result = WALK_FAILED;
    return 0;
}

static int send_one(void *ctx, uint64_t off, const uint8_t *frame, size_t len,
                    const frame_header_t *h)
{
    walk_t *k = ctx;
    spool_t *sp = k->sp;
    const rules_master_t *m;
    partials_answer_t ans;

    if (off >= k->end)
        return 1;
    if (!(m = find_master(k->cfg, h->master))) {
        k->result = WALK_NOMASTER;
        return 1;
    }
    partials_post(k->hc, partials_url(m->url ? m->url : k->fallback_url, sp->pass_pool), frame, len,
                  NULL, &sp->resp, sp->pass_pool, &ans);
    if (!answered(k, off, frame, len, h, &ans))
        return 1;
    if (*k->budget > 0 && --*k->budget == 0) {
        k->result = WALK_BUDGET;
        return 1;
    }
    return 0;
}

static void damaged(void *ctx, uint64_t start, uint64_t end, const char *why)
{
    walk_t *k = ctx;
    if (start >= k->end) /* an append going on meanwhile */
        return;
    log_msg("spool %s: bytes [%" PRIu64 ", %" PRIu64 ") damaged (%s): skipped", k->g->path, start,
            end, why);
    apr_thread_mutex_lock(k->sp->lock);
    if (k->g->pos < end)
        k->g->pos = end < k->end ? end : k->end;
    apr_thread_mutex_unlock(k->sp->lock);
}

/* After a whole walk: delete the segment when every frame was acknowledged,
 * seal it when all were decided but some are held. Returns 1 when deleted. */
static int finish_segment(spool_t *sp, seg_t *g, uint64_t end)
{
    int gone = 0;
    apr_thread_mutex_lock(sp->lock);
    if (g->w && framelog_size(g->w) == end && g->pos >= end)
        seg_close_writer(g); /* the next append starts a new segment */
    if (!g->w && g->pos >= g->size) {
        if (!g->held) {
            seg_unlink(g);
            seg_remove(sp, g);
            gone = 1;
        } else {
            g->done = 1;
            g->frames = g->bytes = 0;
            log_msg("spool %s: %" PRIu64 " frame(s) held in it; it stays for abbey-replay / "
                    "the operator",
                    g->path, g->held);
        }
    }
    if (!gone)
        pos_save(g);
    apr_thread_mutex_unlock(sp->lock);
    return gone;
}

static void backoff(spool_t *sp, mstate_t *ms, const seg_t *g, const char *why, int64_t now_ms)
{
    ms->delay = ms->delay ? ms->delay * 2 : SPOOL_BACKOFF_MIN;
    if (ms->delay > SPOOL_BACKOFF_MAX)
        ms->delay = SPOOL_BACKOFF_MAX;
    ms->next_ms = now_ms + ms->delay;
    log_msg("spool: master %s does not take spooled frames yet (%s, at %s @%" PRIu64
            "); next try in %" PRId64 " ms",
            ms->name, why ? why : "?", g->path, g->pos, ms->delay);
}

static void log_backlog(spool_t *sp, int64_t now_ms)
{
    spool_backlog_t b;
    if (now_ms < sp->next_log_ms)
        return;
    sp->next_log_ms = now_ms + SPOOL_LOG_EVERY;
    spool_backlog(sp, now_ms, &b);
    if (b.frames || b.held)
        log_msg("spool %s: backlog %" PRIu64 " frame(s), %" PRIu64 " bytes, oldest %" PRId64
                " ms; %" PRIu64 " held",
                sp->dir, b.frames, b.bytes, b.oldest_ms, b.held);
}

/* Walk one segment from its pos; the masters' backoff follows the result. */
static walk_end_t walk_segment(spool_t *sp, seg_t *g, walk_t *k, mstate_t *ms, int64_t now_ms)
{
    abbey_err_t err;
    uint64_t pos0;

    apr_thread_mutex_lock(sp->lock);
    k->end = g->w ? framelog_size(g->w) : g->size;
    pos0 = g->pos;
    apr_thread_mutex_unlock(sp->lock);
    k->g = g;
    k->result = WALK_DONE;
    k->why = NULL;
    if (pos0 < k->end && framelog_walk(g->path, pos0, send_one, damaged, k, NULL, sp->pass_pool,
                                       &err) != APR_SUCCESS) {
        log_msg("spool: cannot read %s: %s", g->path, err.msg);
        return WALK_NOMASTER; /* leave it; try again next pass */
    }
    if (k->result == WALK_NOMASTER) {
        if (!ms->unknown_logged++)
            log_msg("spool %s @%" PRIu64 ": a frame names a master not in config; the "
                    "segment stays in the spool",
                    g->path, g->pos);
    } else if (k->result == WALK_FAILED) {
        backoff(sp, ms, g, k->why, now_ms);
    } else if (ms->delay) {
        log_msg("spool: master %s takes spooled frames again", ms->name);
        ms->delay = 0;
    }
    if (k->result == WALK_DONE)
        finish_segment(sp, g, k->end);
    else if (g->pos != pos0)
        pos_save(g);
    return k->result;
}

int64_t spool_redeliver_pass(spool_t *sp, hclient_t *hc, const rules_config_t *cfg,
                             const char *fallback_url, int max_frames, int64_t now_ms)
{
    seg_t **snap;
    int n, budget = max_frames > 0 ? max_frames : -1;
    int64_t wait = 1000;
    walk_t k;

    log_backlog(sp, now_ms);
    apr_thread_mutex_lock(sp->lock);
    n = sp->nsegs;
    snap = mem_xmalloc(sizeof *snap * (size_t)n);
    if (n)
        memcpy(snap, sp->segs, sizeof *snap * (size_t)n);
    apr_thread_mutex_unlock(sp->lock);
    memset(&k, 0, sizeof k);
    k.sp = sp;
    k.hc = hc;
    k.cfg = cfg;
    k.fallback_url = fallback_url;
    k.budget = &budget;
    for (int i = 0; i < n && budget != 0; i++) {
        seg_t *g = snap[i];
        mstate_t *ms = mstate(sp, g->master);
        if (g->done || (ms->delay && now_ms < ms->next_ms)) /* backed off: newer ones wait too */
            continue;
        if (!find_master(cfg, g->master)) {
            if (!ms->unknown_logged++)
                log_msg("spool: master %s is not in config; its spooled frames stay (%s ...)",
                        g->master, g->path);
            continue;
        }
        ms->unknown_logged = 0;
        walk_segment(sp, g, &k, ms, now_ms);
        apr_pool_clear(sp->pass_pool);
    }
    free(snap);
    if (budget == 0)
        return 0;
    for (int i = 0; i < sp->nms; i++)
        if (sp->ms[i].delay && sp->ms[i].next_ms - now_ms < wait)
            wait = sp->ms[i].next_ms - now_ms;
    return wait < 0 ? 0 : wait;
}
