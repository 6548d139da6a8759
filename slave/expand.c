/* expand.c - expand leases: a glob's pattern expanded where the data is (see slave.h).
 *
 * The slave globs the pattern on its own filesystem and reports every match
 * twice over: its path ("paths", sorted, in wire form: wirepath.h) and its
 * file ("files", in the same order): device and inode, size, and the
 * fingerprint of its first 4 KiB (decompressed for an archive), from one
 * open descriptor (instance_identify). The primary gives each file, not each
 * name, one reader, so a rotated file listed under its new name is not read
 * again, and an archive that compresses a file read before continues it
 * (docs/CLUSTER.md "Globs over a rotating series"). A match that is not a
 * regular file, or cannot be read, is reported with its reason ("error"),
 * which the primary logs. A listing whose body would pass EXPAND_PART_BYTES
 * goes in parts (docs/CLUSTER.md "A listing in parts"): completions with
 * "offset" and "more", each under the primary's 1 MiB limit for JSON
 * calls, built while the matches are read (a part's JSON is all that is
 * held), the last one completing the lease; a part the primary refuses ends
 * the expansion (logged; the lease expires). */
#include <apr_strings.h>
#include <apr_time.h>
#include <glob.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "instance.h"
#include "jsonio.h"
#include "log.h"
#include "mem.h"
#include "slave.h"
#include "wirepath.h"

#define EXPAND_PART_BYTES (512u << 10) /* a listing's part: half the primary's limit */

static int by_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The "files" item of the match at path; scratch (cleared by the caller
 * after each match) holds its descriptor, so a glob of many files never holds
 * more than one open. */
static json_t *file_json(apr_pool_t *scratch, const char *path)
{
    instance_file_t f;
    abbey_err_t err;
    char id[INSTANCE_MAX], hash[17];
    json_t *o;

    if (instance_identify(path, scratch, &f, &err) != APR_SUCCESS)
        return json_pack("{s:s}", "error", wirepath_encode(err.msg, scratch));
    instance_file_format(f.dev, f.ino, id);
    o = json_pack("{s:s, s:I}", "id", id, "size", (json_int_t)f.size);
    if (f.has_head) { /* (an archive not readable that far yet: no head) */
        snprintf(hash, sizeof hash, "%016" PRIx64, f.head_hash);
        json_object_set_new(o, "head", json_integer((json_int_t)f.head_len));
        json_object_set_new(o, "hash", json_string(hash));
    }
    return o;
}

/* The bytes v adds to a body (its compact JSON and a comma). */
static size_t json_bytes(const json_t *v)
{
    return json_dumpb(v, NULL, 0, JSON_COMPACT | JSON_ENCODE_ANY) + 1;
}

/* POST part [offset, offset + size) of l's listing ("more": true; paths and
 * files are released), retried once after no answer or a 5xx. 0 when the
 * primary kept it, else -1 (logged). */
static int post_part(worker_t *w, const slave_lease_t *l, json_t *paths, json_t *files,
                     int64_t offset)
{
    json_t *root = json_pack("{s:s, s:I, s:o, s:o, s:I, s:b}", "slave", w->s->opts.name, "lease",
                             (json_int_t)l->id, "paths", paths, "files", files, "offset",
                             (json_int_t)offset, "more", 1);
    abbey_err_t err;
    apr_status_t rv = APR_EGENERAL;
    buf_reset(&w->body);
    jsonio_dump_buf(root, &w->body);
    json_decref(root);
    for (int attempt = 0; attempt < 2; attempt++) {
        if (attempt)
            apr_sleep((apr_interval_time_t)w->s->opts.retry_ms * 1000);
        rv = hclient_request(w->hc, "POST", w->s->complete_url, "application/json", w->body.data,
                             w->body.len, NULL, &w->resp, &err);
        if (rv == APR_SUCCESS && w->resp.status < 500)
            break;
    }
    if (rv == APR_SUCCESS && w->resp.status == 200)
        return 0;
    if (rv != APR_SUCCESS)
        log_msg("lease %" PRIu64 " (%s %s): part of its listing at %" PRId64 " not sent: %s", l->id,
                l->job, l->source, offset, err.msg);
    else
        log_msg("lease %" PRIu64 " (%s %s): part of its listing at %" PRId64
                " refused: HTTP %ld: %.*s",
                l->id, l->job, l->source, offset, w->resp.status,
                (int)(w->resp.body.len > 300 ? 300 : w->resp.body.len),
                w->resp.body.data ? (const char *)w->resp.body.data : "");
    return -1;
}

void slave_expand_run(worker_t *w, const slave_lease_t *l)
{
    json_t *paths = json_array(), *files = json_array(), *root;
    char cwd[4096] = "";
    const char **v;
    glob_t g;
    int rc = glob(wirepath_decode(l->source, w->task_pool), 0, NULL, &g);
    size_t n = rc == 0 ? g.gl_pathc : 0, bytes = 0;
    int64_t offset = 0; /* of the part being built: the matches sent before it */
    int parted = 0;
    apr_pool_t *scratch = mem_xpool(w->task_pool);

    if (rc != 0 && rc != GLOB_NOMATCH) {
        log_msg("lease %" PRIu64 " (%s): cannot expand %s (%s)", l->id, l->job, l->source,
                rc == GLOB_NOSPACE ? "out of memory" : "read error");
        json_decref(paths);
        json_decref(files);
        slave_lease_untrack(w->s, l->id);
        return;
    }
    if (l->source[0] != '/' && !getcwd(cwd, sizeof cwd))
        cwd[0] = '\0';
    v = apr_palloc(w->task_pool, sizeof *v * (n + 1));
    for (size_t i = 0; i < n; i++)
        v[i] = g.gl_pathv[i][0] == '/' ? apr_pstrdup(w->task_pool, g.gl_pathv[i])
                                       : apr_pstrcat(w->task_pool, cwd, "/", g.gl_pathv[i], NULL);
    if (rc == 0)
        globfree(&g);
    qsort(v, n, sizeof *v, by_str);
    for (size_t i = 0; i < n; i++) {
        json_t *p = json_string(wirepath_encode(v[i], scratch)), *f;
        if (!p) {
            log_msg("lease %" PRIu64 " (%s): %s: match %s left out: cannot encode it", l->id,
                    l->job, l->source, wirepath_encode(v[i], w->task_pool));
            continue;
        }
        f = file_json(scratch, v[i]);
        apr_pool_clear(scratch);
        size_t more = json_bytes(p) + json_bytes(f);
        if (bytes + more > EXPAND_PART_BYTES && json_array_size(paths) > 0) {
            size_t sent = json_array_size(paths);
            if (post_part(w, l, paths, files, offset) != 0) {
                json_decref(p);
                json_decref(f);
                slave_lease_untrack(w->s, l->id);
                return;
            }
            offset += (int64_t)sent;
            parted = 1;
            paths = json_array();
            files = json_array();
            bytes = 0;
        }
        json_array_append_new(paths, p);
        json_array_append_new(files, f);
        bytes += more;
    }
    root = json_pack("{s:s, s:I, s:s, s:I, s:I, s:b, s:o, s:o}", "slave", w->s->opts.name, "lease",
                     (json_int_t)l->id, "instance", "", "start", (json_int_t)0, "end",
                     (json_int_t)0, "at_end", 1, "paths", paths, "files", files);
    if (parted) { /* the last part */
        json_object_set_new(root, "offset", json_integer((json_int_t)offset));
        json_object_set_new(root, "more", json_false());
    }
    worker_complete(w, l, root);
}
