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
 * which the primary logs. A listing over SLAVE_LISTING_PART goes in parts
 * (slave_listing_send, docs/CLUSTER.md "A listing in parts"): completions
 * with "offset" and "more", each under the primary's 1 MiB limit for JSON
 * calls, the last one completing the lease; a part the primary refuses ends
 * the expansion (logged; the lease expires). The matches' heads are read one
 * descriptor at a time. */
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

size_t slave_listing_bytes(const json_t *paths, const json_t *files)
{
    size_t n = 0, i;
    const json_t *v;
    json_array_foreach(paths, i, v) n += json_bytes(v);
    json_array_foreach(files, i, v) n += json_bytes(v);
    return n;
}

/* POST part [from, to) of the listing ("more" unless to is its end) with hc: one
 * retry after no answer or a 5xx. The answer is in *resp. */
static apr_status_t post_part(slave_t *s, hclient_t *hc, uint64_t lease, int64_t round,
                              const json_t *paths, const json_t *files, size_t from, size_t to,
                              buf_t *body, hclient_resp_t *resp, abbey_err_t *err)
{
    json_t *p = json_array(), *f = json_array();
    apr_status_t rv = APR_EGENERAL;
    for (size_t i = from; i < to; i++) {
        json_array_append(p, json_array_get(paths, i));
        json_array_append(f, json_array_get(files, i));
    }
    json_t *root = json_pack("{s:s, s:I, s:o, s:o, s:I, s:b}", "slave", s->opts.name, "lease",
                             (json_int_t)lease, "paths", p, "files", f, "offset", (json_int_t)from,
                             "more", to < json_array_size(paths));
    if (round >= 0)
        json_object_set_new(root, "round", json_integer((json_int_t)round));
    buf_reset(body);
    jsonio_dump_buf(root, body);
    json_decref(root);
    for (int attempt = 0; attempt < 2; attempt++) {
        if (attempt)
            apr_sleep((apr_interval_time_t)s->opts.retry_ms * 1000);
        rv = hclient_request(hc, "POST", s->complete_url, "application/json", body->data, body->len,
                             NULL, resp, err);
        if (rv == APR_SUCCESS && resp->status < 500)
            break;
    }
    return rv;
}

long slave_listing_send(slave_t *s, hclient_t *hc, uint64_t lease, int64_t round,
                        const json_t *paths, const json_t *files, buf_t *body, hclient_resp_t *resp,
                        abbey_err_t *err)
{
    size_t n = json_array_size(paths), from = 0, bytes = 0;
    for (size_t i = 0; i <= n; i++) {
        size_t more =
            i < n ? json_bytes(json_array_get(paths, i)) + json_bytes(json_array_get(files, i)) : 0;
        if (i < n && (bytes + more <= SLAVE_LISTING_PART || i == from)) {
            bytes += more;
            continue;
        }
        if (post_part(s, hc, lease, round, paths, files, from, i, body, resp, err) != APR_SUCCESS)
            return 0;
        if (resp->status != 200) {
            abbey_err_set(err, "the part at %zu: HTTP %ld: %.*s", from, resp->status,
                          (int)(resp->body.len > 300 ? 300 : resp->body.len),
                          resp->body.data ? (const char *)resp->body.data : "");
            return resp->status;
        }
        from = i;
        bytes = more;
    }
    return 200;
}

void slave_expand_run(worker_t *w, const slave_lease_t *l)
{
    json_t *paths = json_array(), *files = json_array();
    char cwd[4096] = "";
    const char **v;
    glob_t g;
    int rc = glob(wirepath_decode(l->source, w->task_pool), 0, NULL, &g);
    size_t n = rc == 0 ? g.gl_pathc : 0;
    apr_pool_t *scratch = mem_xpool(w->task_pool);
    abbey_err_t err;

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
        json_t *p = json_string(wirepath_encode(v[i], scratch));
        if (!p) {
            log_msg("lease %" PRIu64 " (%s): %s: match %s left out: cannot encode it", l->id,
                    l->job, l->source, wirepath_encode(v[i], w->task_pool));
            continue;
        }
        json_array_append_new(paths, p);
        json_array_append_new(files, file_json(scratch, v[i]));
        apr_pool_clear(scratch);
    }
    if (l->sticky || slave_listing_bytes(paths, files) <= SLAVE_LISTING_PART) {
        /* (a sticky lease's listing goes to the holder, which sends a big one in parts) */
        worker_complete(w, l,
                        json_pack("{s:s, s:I, s:s, s:I, s:I, s:b, s:o, s:o}", "slave",
                                  w->s->opts.name, "lease", (json_int_t)l->id, "instance", "",
                                  "start", (json_int_t)0, "end", (json_int_t)0, "at_end", 1,
                                  "paths", paths, "files", files));
        return;
    }
    slave_lease_untrack(w->s, l->id); /* (in parts: the last one completes it) */
    if (slave_listing_send(w->s, w->hc, l->id, -1, paths, files, &w->body, &w->resp, &err) != 200)
        log_msg("lease %" PRIu64 " (%s %s): its listing of %zu matches in parts not taken: %s",
                l->id, l->job, l->source, json_array_size(paths), err.msg);
    json_decref(paths);
    json_decref(files);
}
