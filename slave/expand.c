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
 * which the primary logs. */
#include <apr_strings.h>
#include <glob.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "instance.h"
#include "jsonio.h"
#include "log.h"
#include "slave.h"
#include "wirepath.h"

static int by_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The "files" item of the match at path. */
static json_t *file_json(worker_t *w, const char *path)
{
    instance_file_t f;
    abbey_err_t err;
    char id[INSTANCE_MAX], hash[17];
    json_t *o;

    if (instance_identify(path, w->task_pool, &f, &err) != APR_SUCCESS)
        return json_pack("{s:s}", "error", wirepath_encode(err.msg, w->task_pool));
    instance_file_format(f.dev, f.ino, id);
    o = json_pack("{s:s, s:I}", "id", id, "size", (json_int_t)f.size);
    if (f.has_head) { /* (an archive not readable that far yet: no head) */
        snprintf(hash, sizeof hash, "%016" PRIx64, f.head_hash);
        json_object_set_new(o, "head", json_integer((json_int_t)f.head_len));
        json_object_set_new(o, "hash", json_string(hash));
    }
    return o;
}

void slave_expand_run(worker_t *w, const slave_lease_t *l)
{
    json_t *paths = json_array(), *files = json_array();
    char cwd[4096] = "";
    const char **v;
    glob_t g;
    int rc = glob(wirepath_decode(l->source, w->task_pool), 0, NULL, &g);
    size_t n = rc == 0 ? g.gl_pathc : 0;

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
        json_t *p = json_string(wirepath_encode(v[i], w->task_pool));
        if (!p || json_array_append_new(paths, p) != 0) {
            log_msg("lease %" PRIu64 " (%s): %s: match %s left out: cannot encode it", l->id,
                    l->job, l->source, wirepath_encode(v[i], w->task_pool));
            continue;
        }
        json_array_append_new(files, file_json(w, v[i]));
    }
    worker_complete(w, l,
                    json_pack("{s:s, s:I, s:s, s:I, s:I, s:b, s:o, s:o}", "slave", w->s->opts.name,
                              "lease", (json_int_t)l->id, "instance", "", "start", (json_int_t)0,
                              "end", (json_int_t)0, "at_end", 1, "paths", paths, "files", files));
}
