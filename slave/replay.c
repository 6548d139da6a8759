/* replay.c - abbey-replay: deliver spool files to the masters by hand, idempotently.
 *
 * A spool file (common/framelog.h) is frames back to back, each naming the
 * master it was for. This program walks the files given (or the *.spool
 * files under the directories given, sorted by path), POSTs each frame's
 * exact bytes to its master's /v1/partials (slave/partials.h, as the slave
 * itself does), and reports what the masters said: merged, duplicate or
 * expired is delivered (replaying twice is harmless), a
 * conflict or a refusal is named with the reason, damaged byte ranges (torn
 * tails, corrupt frames) are named with their offsets. A file delivered in
 * full, with no damage, is renamed FILE.delivered. Masters are found through
 * the primary's config (--primary) or all frames go to one URL (--master).
 * The operator's guide is docs/REPLAY.md. */
#include <apr_file_info.h>
#include <apr_file_io.h>
#include <apr_general.h>
#include <apr_getopt.h>
#include <apr_strings.h>
#include <apr_tables.h>
#include <apr_time.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "framelog.h"
#include "hclient.h"
#include "log.h"
#include "mem.h"
#include "partials.h"
#include "rules.h"
#include "token.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "dev"
#endif

#define REPLAY_TRIES 3        /* per frame, on 5xx / no answer */
#define REPLAY_BACKOFF_MS 500 /* first pause between tries; doubles */
#define REPLAY_DOWN_AFTER 3   /* frames failed in a row before a master is skipped */
#define REPLAY_CONNECT_MS 3000
#define REPLAY_TIMEOUT_MS 120000
#define REPLAY_TICK_US 200000 /* progress line refresh */

typedef struct replay_opts_t {
    const char *primary, *master, *token_file;
    int dry_run, keep;
} replay_opts_t;

/* A master URL's run of failures (unreachable or 503 after every try). */
typedef struct replay_down_t {
    const char *url;
    int failed_in_row;
} replay_down_t;

typedef struct replay_t {
    replay_opts_t opts;
    apr_pool_t *pool;
    hclient_t *hc;
    rules_config_t *cfg;          /* --primary's config, or NULL */
    hclient_resp_t resp;          /* reused for every answer */
    apr_array_header_t *down;     /* replay_down_t */
    apr_array_header_t *problems; /* const char *: every frame not delivered, every damage */
    int tty, stop;                /* stop: the token was refused */
    /* totals */
    int files_total, files_done;
    uint64_t bytes_total, bytes_before; /* all files' sizes; sizes of files done */
    uint64_t frames, merged, duplicate, failed, damaged, frame_bytes;
    apr_time_t started, last_tick;
    /* the file in progress */
    const char *path;
    uint64_t f_frames, f_delivered, f_duplicate, f_failed, f_damaged, f_pos;
    uint64_t f_off;         /* the frame being sent */
    const uint8_t *f_frame; /* its bytes (f_len of them), while it is looked at */
    size_t f_len;
} replay_t;

static void usage(FILE *out)
{
    fputs("usage: abbey-replay [--primary URL | --master URL] [--token-file F] [--dry-run]\n"
          "                    [--keep] FILE|DIR...\n"
          "\n"
          "Deliver spool files (frames a slave could not deliver) to the masters.\n"
          "DIR arguments are searched recursively for *.spool files, sorted by path.\n"
          "\n"
          "  -p, --primary URL      fetch the config from the primary and send each frame\n"
          "                         to the master it names\n"
          "  -m, --master URL       send every frame to this master, whatever it names\n"
          "  -t, --token-file F     file whose first line is the cluster's bearer token\n"
          "  -n, --dry-run          list the frames and damaged ranges; send nothing\n"
          "  -k, --keep             do not rename delivered files to FILE.delivered\n"
          "  -h, --help             this help\n"
          "  -V, --version          print the version\n"
          "\n"
          "Merged, duplicate and expired answers count as delivered, so a file can be\n"
          "replayed again safely. A file whose frames were all delivered, with no damage,\n"
          "is renamed FILE.delivered (unless --keep); any other file is left in place.\n"
          "Exit status: 0 when every frame was delivered and no damage was found\n"
          "(--dry-run: no damage), 1 otherwise (each problem is named), 2 on bad usage.\n",
          out);
}

/* clang-format off */
static const apr_getopt_option_t options[] = {
    {"primary", 'p', 1, "primary URL"},
    {"master", 'm', 1, "master URL"},
    {"token-file", 't', 1, "token file"},
    {"dry-run", 'n', 0, "list only"},
    {"keep", 'k', 0, "keep files"},
    {"help", 'h', 0, "help"},
    {"version", 'V', 0, "version"},
    {NULL, 0, 0, NULL},
};
/* clang-format on */

/* printf into pool memory (the C library's formats: APR's formatter lacks %llu). */
static const char *pfmt(apr_pool_t *pool, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static const char *pfmt(apr_pool_t *pool, const char *fmt, ...)
{
    char *s = NULL;
    const char *out;
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&s, fmt, ap) < 0)
        s = NULL;
    va_end(ap);
    out = apr_pstrdup(pool, s ? s : "(out of memory)");
    free(s);
    return out;
}

/* url without trailing slashes; NULL (with a message) unless http(s). */
static const char *clean_url(const char *opt, const char *url, apr_pool_t *pool)
{
    const char *u = hclient_base_url(url, pool);
    if (!u)
        fprintf(stderr, "abbey-replay: --%s: '%s' is not an http:// or https:// URL\n", opt, url);
    return u;
}

/* Parse argv. Returns -1 to exit 0 (help, version), 0 to go on, 2 on bad usage;
 * *first gets the index of the first FILE|DIR. */
static int parse_args(int argc, const char *const *argv, apr_pool_t *pool, replay_opts_t *o,
                      int *first)
{
    apr_getopt_t *g;
    apr_status_t rv;
    const char *arg;
    int c;

    apr_getopt_init(&g, pool, argc, argv);
    g->errfn = NULL;
    while ((rv = apr_getopt_long(g, options, &c, &arg)) == APR_SUCCESS) {
        switch (c) {
        case 'p':
            if (!(o->primary = clean_url("primary", arg, pool)))
                return 2;
            break;
        case 'm':
            if (!(o->master = clean_url("master", arg, pool)))
                return 2;
            break;
        case 't':
            o->token_file = arg;
            break;
        case 'n':
            o->dry_run = 1;
            break;
        case 'k':
            o->keep = 1;
            break;
        case 'h':
            usage(stdout);
            return -1;
        case 'V':
            printf("abbey-replay %s\n", PACKAGE_VERSION);
            return -1;
        }
    }
    if (rv != APR_EOF) {
        fprintf(stderr, "abbey-replay: bad option near '%s' (see --help)\n",
                g->ind > 0 && g->ind <= argc ? argv[g->ind - 1] : "?");
        return 2;
    }
    if (g->ind >= argc) {
        fprintf(stderr, "abbey-replay: no FILE or DIR given (see --help)\n");
        return 2;
    }
    if (o->primary && o->master) {
        fprintf(stderr, "abbey-replay: --primary and --master exclude each other\n");
        return 2;
    }
    if (!o->dry_run && (!(o->primary || o->master) || !o->token_file)) {
        fprintf(stderr, "abbey-replay: --primary URL or --master URL, and --token-file F, are "
                        "required unless --dry-run (see --help)\n");
        return 2;
    }
    *first = g->ind;
    return 0;
}

/* --- the files ------------------------------------------------------------- */

static int path_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n > m && strcmp(s + n - m, suffix) == 0;
}

/* Add the *.spool files under dir (recursively) to out. */
static apr_status_t find_spools(const char *dir, apr_array_header_t *out, apr_pool_t *pool)
{
    apr_dir_t *d;
    apr_finfo_t fi;
    apr_status_t rv = apr_dir_open(&d, dir, pool);
    if (rv != APR_SUCCESS)
        return rv;
    while (apr_dir_read(&fi, APR_FINFO_NAME | APR_FINFO_TYPE, d) == APR_SUCCESS) {
        const char *p;
        if (!strcmp(fi.name, ".") || !strcmp(fi.name, ".."))
            continue;
        p = apr_pstrcat(pool, dir, "/", fi.name, NULL);
        if (fi.filetype == APR_DIR)
            rv = find_spools(p, out, pool);
        else if (fi.filetype == APR_REG && ends_with(fi.name, ".spool"))
            APR_ARRAY_PUSH(out, const char *) = p;
        if (rv != APR_SUCCESS)
            break;
    }
    apr_dir_close(d);
    return rv;
}

/* The files named by argv[first..]: files as given, directories expanded and
 * sorted. Returns -1 (with a message) when an argument cannot be read. */
static int collect(int argc, const char *const *argv, int first, apr_array_header_t *out,
                   apr_pool_t *pool)
{
    for (int i = first; i < argc; i++) {
        apr_finfo_t fi;
        apr_status_t rv = apr_stat(&fi, argv[i], APR_FINFO_TYPE, pool);
        char msg[256];
        if (rv == APR_SUCCESS && fi.filetype == APR_DIR) {
            int from = out->nelts;
            rv = find_spools(argv[i], out, pool);
            qsort(out->elts + (size_t)from * sizeof(const char *), (size_t)(out->nelts - from),
                  sizeof(const char *), path_cmp);
        } else if (rv == APR_SUCCESS) {
            APR_ARRAY_PUSH(out, const char *) = argv[i];
        }
        if (rv != APR_SUCCESS) {
            log_msg("%s: %s", argv[i], apr_strerror(rv, msg, sizeof msg));
            return -1;
        }
    }
    return 0;
}

/* --- progress and problems -------------------------------------------------- */

/* Erase the progress line (TTY) so a log line can follow. */
static void clear_line(replay_t *r)
{
    if (r->tty)
        fputs("\r\033[K", stderr);
}

static void progress(replay_t *r, int force)
{
    apr_time_t now = apr_time_now();
    double secs, rate, done, eta;
    if (!r->tty || r->opts.dry_run || (!force && now - r->last_tick < REPLAY_TICK_US))
        return;
    r->last_tick = now;
    secs = (double)(now - r->started) / 1e6;
    done = (double)(r->bytes_before + r->f_pos);
    rate = secs > 0 ? done / secs : 0;
    eta = rate > 0 ? ((double)r->bytes_total - done) / rate : 0;
    fprintf(stderr, "\r\033[Kfiles %d/%d, frames %llu, %.1f MB, %.1f MB/s, ETA %d:%02d",
            r->files_done, r->files_total, (unsigned long long)r->frames, done / 1e6, rate / 1e6,
            (int)eta / 60, (int)eta % 60);
    fflush(stderr);
}

static void problem(replay_t *r, const char *text)
{
    APR_ARRAY_PUSH(r->problems, const char *) = text;
}

/* The frame being looked at (header h) as "src [a, b)" or "N ranges: ..." (partials_what). */
static const char *what_of(replay_t *r, const frame_header_t *h)
{
    return partials_what(r->f_frame, r->f_len, h, r->pool);
}

/* Record a frame that was not delivered. */
static void not_delivered(replay_t *r, uint64_t off, const frame_header_t *h, const char *url,
                          const char *reason)
{
    r->failed++;
    r->f_failed++;
    const char *what = h->nranges > 1
                           ? what_of(r, h)
                           : pfmt(r->pool, "source %s, range [%llu, %llu)", h->source,
                                  (unsigned long long)h->start, (unsigned long long)h->end);
    problem(r, pfmt(r->pool, "not delivered: %s offset %llu: job %s, %s, master %s%s%s%s: %s",
                    r->path, (unsigned long long)off, h->job, what, h->master, url ? " (" : "",
                    url ? url : "", url ? ")" : "", reason));
}

/* --- delivery ------------------------------------------------------------------ */

/* The base URL for frames to master (NULL with *why when there is none). */
static const char *target(replay_t *r, const char *master, const char **why)
{
    const rules_master_t *m;
    if (r->opts.master)
        return r->opts.master;
    m = rules_find_master(r->cfg, master);
    if (!m)
        *why = pfmt(r->pool, "master '%s' is not among the primary's config's masters", master);
    return m ? (m->url ? m->url : r->opts.primary) : NULL;
}

static replay_down_t *down_of(replay_t *r, const char *url)
{
    replay_down_t *d;
    for (int i = 0; i < r->down->nelts; i++) {
        d = &APR_ARRAY_IDX(r->down, i, replay_down_t);
        if (!strcmp(d->url, url))
            return d;
    }
    d = &APR_ARRAY_PUSH(r->down, replay_down_t);
    d->url = url;
    d->failed_in_row = 0;
    return d;
}

/* The answer's body as a short NUL-terminated string (pool memory). */
static const char *body_text(replay_t *r)
{
    size_t n = r->resp.body.len < 300 ? r->resp.body.len : 300;
    char *s = apr_pstrmemdup(r->pool, (const char *)r->resp.body.data, n);
    for (char *p = s; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    return s;
}

static void delivered(replay_t *r, int dup)
{
    r->f_delivered++;
    r->f_duplicate += (uint64_t)dup;
    r->merged += (uint64_t)!dup;
    r->duplicate += (uint64_t)dup;
}

/* The ranges of set as "[a, b) [c, d)" (pool memory; "(none listed)"). */
static const char *ranges_text(replay_t *r, const ranges_t *set)
{
    const char *s = "";
    for (size_t i = 0; i < ranges_count(set); i++) {
        uint64_t a, b;
        ranges_get(set, i, &a, &b);
        s = pfmt(r->pool, "%s%s[%llu, %llu)", s, i ? " " : "", (unsigned long long)a,
                 (unsigned long long)b);
    }
    return *s ? s : "(none listed)";
}

/* Before each pause between tries (partials_post): the progress line out,
 * the retry in. */
static void on_retry(void *ctx, int next, int tries, int pause_ms, const char *reason)
{
    replay_t *r = ctx;
    clear_line(r);
    log_msg("%s offset %llu: %s; try %d of %d in %.1f s", r->path, (unsigned long long)r->f_off,
            reason, next, tries, pause_ms / 1000.0);
}

/* What the master at base said of the frame at off: counted, or named as
 * not delivered. Returns 1 to stop the walk (the token was refused). */
static int answered(replay_t *r, uint64_t off, size_t len, const frame_header_t *h,
                    const char *base, const partials_answer_t *ans)
{
    switch (ans->result) {
    case PARTIALS_MERGED:
    case PARTIALS_DUPLICATE:
        delivered(r, ans->result == PARTIALS_DUPLICATE);
        return 0;
    case PARTIALS_EXPIRED:
        clear_line(r);
        log_msg("%s @%" PRIu64 ": %s delivered, but %s says expired: its period is no longer "
                "kept, so it is counted in no report",
                r->path, off, what_of(r, h), base);
        delivered(r, 0);
        return 0;
    case PARTIALS_CONFLICT:
        if (h->nranges == 1 && ranges_covers(ans->have, h->start, h->end)) {
            delivered(r, 1); /* the master has it all: a duplicate, as the spool counts it */
            return 0;
        }
        if (h->nranges > 1) { /* (one it held wholly would be a duplicate) */
            not_delivered(r, off, h, base,
                          "conflict: the master holds part of these ranges from another "
                          "delivery; a spooled frame cannot be cut, so the ranges it lacks must "
                          "be re-read from the sources for this master (gap repair does)");
            return 0;
        }
        not_delivered(r, off, h, base,
                      pfmt(r->pool,
                           "conflict: the master holds %s of this source from another "
                           "delivery; a spooled frame cannot be cut, so this range must be "
                           "re-read from the source for this master",
                           ranges_text(r, ans->have)));
        return 0;
    case PARTIALS_UNAVAILABLE:
        not_delivered(r, off, h, base,
                      pfmt(r->pool, "%s (after %d tries)", ans->reason, ans->tries));
        return 0;
    default:
        break;
    }
    if (ans->status == 401) {
        not_delivered(r, off, h, base, "the token was refused (401)");
        r->stop = 1;
        return 1;
    }
    if (ans->status == 413)
        not_delivered(r, off, h, base,
                      pfmt(r->pool,
                           "the frame (%zu bytes) is over the master's body "
                           "limit (413; see the master's --max-body)",
                           len));
    else
        not_delivered(r, off, h, base, pfmt(r->pool, "refused: %s", ans->reason));
    return 0;
}

/* Deliver one frame (tried again while its master is unavailable). Returns 1
 * to stop the walk. */
static int deliver(replay_t *r, uint64_t off, const uint8_t *frame, size_t len,
                   const frame_header_t *h)
{
    const char *why = "", *base = target(r, h->master, &why);
    partials_retry_t retry = {REPLAY_TRIES, REPLAY_BACKOFF_MS, on_retry, r};
    partials_answer_t ans;
    replay_down_t *d;

    if (!base) {
        not_delivered(r, off, h, NULL, why);
        return 0;
    }
    d = down_of(r, base);
    if (d->failed_in_row >= REPLAY_DOWN_AFTER) {
        not_delivered(
            r, off, h, base,
            pfmt(r->pool, "skipped: the master failed %d frames in a row", d->failed_in_row));
        return 0;
    }
    r->f_off = off;
    partials_post(r->hc, partials_url(base, r->pool), frame, len, &retry, &r->resp, r->pool, &ans);
    d->failed_in_row = ans.result == PARTIALS_UNAVAILABLE ? d->failed_in_row + 1 : 0;
    return answered(r, off, len, h, base, &ans);
}

/* --- the walk ------------------------------------------------------------------- */

static int on_frame(void *ctx, uint64_t off, const uint8_t *frame, size_t len,
                    const frame_header_t *h)
{
    replay_t *r = ctx;
    int stop = 0;
    r->frames++;
    r->f_frames++;
    r->frame_bytes += len;
    if (h->flags & FRAME_FLAG_RECORD) { /* a master's state record (journal, checkpoint) */
        printf("%s offset %llu: a state record (job '%s', %zu bytes): not a partial, not sent\n",
               r->path, (unsigned long long)off, h->job, len);
        r->f_pos = off + len;
        return 0;
    }
    r->f_frame = frame;
    r->f_len = len;
    if (r->opts.dry_run && h->nranges > 1)
        printf("%s offset %llu: job %s, %s, round %llu, master %s, %zu bytes\n", r->path,
               (unsigned long long)off, h->job, what_of(r, h), (unsigned long long)h->round,
               h->master, len);
    else if (r->opts.dry_run)
        printf("%s offset %llu: job %s, source %s, range [%llu, %llu), round %llu, master %s, "
               "%zu bytes\n",
               r->path, (unsigned long long)off, h->job, h->source, (unsigned long long)h->start,
               (unsigned long long)h->end, (unsigned long long)h->round, h->master, len);
    else
        stop = deliver(r, off, frame, len, h);
    r->f_pos = off + len;
    progress(r, 0);
    return stop;
}

static void on_damage(void *ctx, uint64_t start, uint64_t end, const char *why)
{
    replay_t *r = ctx;
    const char *text = pfmt(r->pool, "damaged: %s [%llu, %llu): %s", r->path,
                            (unsigned long long)start, (unsigned long long)end, why);
    r->damaged++;
    r->f_damaged++;
    if (r->opts.dry_run)
        printf("%s\n", text);
    problem(r, text);
}

/* Rename a fully delivered file to FILE.delivered and drop the slave's
 * sidecar FILE.pos (spool.h), unless a running slave may still be writing it:
 * it is locked (flock), or it holds more than the walked bytes. Returns what
 * happened, for the file's line. */
static const char *retire(replay_t *r, const char *path, uint64_t walked)
{
    const char *to = apr_pstrcat(r->pool, path, ".delivered", NULL);
    struct stat sb;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    const char *fate = "; renamed to .delivered";

    if (fd < 0)
        return pfmt(r->pool, "; not renamed: %s", strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) != 0)
        fate = "; left in place: locked (a running slave is writing it)";
    else if (fstat(fd, &sb) != 0 || (uint64_t)sb.st_size != walked)
        fate = "; left in place: it grew during the replay (a running slave is writing it)";
    else if (rename(path, to) != 0)
        fate = pfmt(r->pool, "; not renamed: %s", strerror(errno));
    else
        unlink(apr_pstrcat(r->pool, path, ".pos", NULL));
    close(fd);
    return fate;
}

/* Walk one file; rename it when every frame was delivered and none was damaged. */
static void replay_file(replay_t *r, const char *path)
{
    framelog_stats_t st;
    apr_finfo_t fi;
    abbey_err_t err;
    uint64_t size = 0;
    const char *fate = "";
    apr_status_t rv;

    if (apr_stat(&fi, path, APR_FINFO_SIZE, r->pool) == APR_SUCCESS)
        size = (uint64_t)fi.size;
    r->path = path;
    r->f_frames = r->f_delivered = r->f_duplicate = r->f_failed = r->f_damaged = r->f_pos = 0;
    memset(&st, 0, sizeof st);
    rv = framelog_walk(path, 0, on_frame, on_damage, r, &st, r->pool, &err);
    if (rv != APR_SUCCESS) {
        r->failed++;
        problem(r, pfmt(r->pool, "not read: %s", err.msg));
    } else if (!r->opts.dry_run && !r->stop && !r->opts.keep && r->f_failed == 0 &&
               r->f_damaged == 0 && ends_with(path, ".spool")) {
        fate = retire(r, path, st.bytes); /* spool files only: never a master's journal */
    } else if (!r->opts.dry_run && (r->f_failed || r->f_damaged)) {
        fate = "; left in place";
    }
    r->f_pos = size;
    r->files_done++;
    clear_line(r);
    if (r->opts.dry_run)
        log_msg("%s: %llu frames, %llu damaged ranges", path, (unsigned long long)r->f_frames,
                (unsigned long long)r->f_damaged);
    else if (!r->tty)
        log_msg("%s: %llu frames delivered (%llu duplicate), %llu failed, %llu damaged ranges%s",
                path, (unsigned long long)r->f_delivered, (unsigned long long)r->f_duplicate,
                (unsigned long long)r->f_failed, (unsigned long long)r->f_damaged, fate);
    r->bytes_before += r->f_pos;
    r->f_pos = 0;
    progress(r, 1);
}

/* --- set-up ----------------------------------------------------------------------- */

/* Fetch and load the primary's config (the masters' names and URLs). */
static int load_config(replay_t *r)
{
    const char *url = apr_pstrcat(r->pool, r->opts.primary, "/v1/config", NULL);
    abbey_err_t err;
    if (hclient_request(r->hc, "GET", url, NULL, NULL, 0, NULL, &r->resp, &err) != APR_SUCCESS) {
        log_msg("cannot fetch the config: %s", err.msg);
        return -1;
    }
    if (r->resp.status == 401) {
        log_msg("GET %s: the token was refused (401): check --token-file", url);
        return -1;
    }
    if (r->resp.status != 200) {
        log_msg("GET %s: HTTP %ld: %s", url, r->resp.status, body_text(r));
        return -1;
    }
    if (rules_load_buffer((const char *)r->resp.body.data, r->resp.body.len, url, r->pool, &r->cfg,
                          &err) != APR_SUCCESS) {
        log_msg("the primary's config does not load: %s", err.msg);
        return -1;
    }
    return 0;
}

static void summary(replay_t *r)
{
    double secs = (double)(apr_time_now() - r->started) / 1e6;
    for (int i = 0; i < r->problems->nelts; i++)
        log_msg("%s", APR_ARRAY_IDX(r->problems, i, const char *));
    if (r->stop)
        log_msg("stopped: the token was refused (401); check --token-file (the frames not "
                "sent are still in their files)");
    if (r->opts.dry_run)
        log_msg("dry run: %d files, %llu frames (%llu bytes), %llu damaged ranges", r->files_done,
                (unsigned long long)r->frames, (unsigned long long)r->frame_bytes,
                (unsigned long long)r->damaged);
    else
        log_msg("done: %d of %d files, %llu frames delivered (%llu merged, %llu duplicate), %llu "
                "not delivered, %llu damaged ranges, %.1f MB in %.1f s",
                r->files_done, r->files_total, (unsigned long long)(r->merged + r->duplicate),
                (unsigned long long)r->merged, (unsigned long long)r->duplicate,
                (unsigned long long)r->failed, (unsigned long long)r->damaged,
                (double)r->frame_bytes / 1e6, secs);
}

int main(int argc, const char *const *argv)
{
    apr_array_header_t *files;
    const char *token = NULL;
    abbey_err_t err;
    replay_t r;
    int first = 0, rc;

    apr_app_initialize(&argc, &argv, NULL);
    atexit(apr_terminate);
    memset(&r, 0, sizeof r);
    r.pool = mem_xpool(NULL);
    rc = parse_args(argc, argv, r.pool, &r.opts, &first);
    if (rc)
        return rc < 0 ? 0 : rc;
    log_set_identity("replay", "replay", NULL);
    if (r.opts.token_file && token_read_file(r.opts.token_file, r.pool, &token, &err) != 0) {
        fprintf(stderr, "abbey-replay: %s\n", err.msg);
        return 2;
    }
    files = apr_array_make(r.pool, 16, sizeof(const char *));
    r.problems = apr_array_make(r.pool, 16, sizeof(const char *));
    r.down = apr_array_make(r.pool, 4, sizeof(replay_down_t));
    buf_init(&r.resp.body);
    if (collect(argc, argv, first, files, r.pool) != 0)
        return 1;
    hclient_global_init();
    r.hc = hclient_create(token, REPLAY_CONNECT_MS, REPLAY_TIMEOUT_MS, r.pool);
    if (r.opts.primary && !r.opts.dry_run && load_config(&r) != 0) {
        buf_free(&r.resp.body);
        return 1;
    }
    r.tty = isatty(2) && !r.opts.dry_run;
    r.files_total = files->nelts;
    for (int i = 0; i < files->nelts; i++) {
        apr_finfo_t fi;
        if (apr_stat(&fi, APR_ARRAY_IDX(files, i, const char *), APR_FINFO_SIZE, r.pool) == 0)
            r.bytes_total += (uint64_t)fi.size;
    }
    if (files->nelts == 0)
        log_msg("no spool files found: nothing to replay");
    r.started = r.last_tick = apr_time_now();
    for (int i = 0; i < files->nelts && !r.stop; i++)
        replay_file(&r, APR_ARRAY_IDX(files, i, const char *));
    clear_line(&r);
    summary(&r);
    buf_free(&r.resp.body);
    if (r.opts.dry_run)
        return r.damaged ? 1 : 0;
    return r.failed || r.damaged || r.stop ? 1 : 0;
}
